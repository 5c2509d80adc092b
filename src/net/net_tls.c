/*
 * TLS 1.3 contexts (OpenSSL 3). A net_tls_t wraps one SSL_CTX, built once
 * and shared by every connection that uses it (SSL_CTX is thread-safe for
 * SSL_new); each connection's SSL object lives on its loop thread only.
 * Private keys may be encrypted; the password comes from a file or memory and
 * may itself be encrypted, in which case the application's decrypt callback
 * turns it into plain text just before use and we wipe it right after.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

#define NET_TLS_FILE_MAX (1u << 20) /* keys, passwords: anything larger is not what we expect */
#define NET_TLS_PASS_MAX 1024u

void net_tls_opts_init(net_tls_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->verify_peer = true;
}

void net_tls_opts_from_block(net_tls_opts_t *o, const void *block)
{
    net_tls_opts_init(o);
    memcpy(o, block, NET_TLS_BLOCK_SIZE);
}

/* The oldest error in this thread's OpenSSL queue, as text; clears the queue. */
static const char *net_tls_errstr(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(buf, cap, "unknown OpenSSL error");
    } else {
        ERR_error_string_n(e, buf, cap);
    }
    ERR_clear_error();
    return buf;
}

void net_tls_describe(SSL *ssl, int ret, int ssl_err, char *buf, size_t cap)
{
    char ebuf[160];
    unsigned long e = ERR_get_error();
    if (e != 0) {
        ERR_error_string_n(e, ebuf, sizeof(ebuf));
    } else if (ssl_err == SSL_ERROR_SYSCALL) {
        snprintf(ebuf, sizeof(ebuf), "%s", ret == 0 || errno == 0 ? "unexpected EOF" : strerror(errno));
    } else {
        snprintf(ebuf, sizeof(ebuf), "SSL error %d", ssl_err);
    }
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        snprintf(buf, cap, "%s (certificate: %s)", ebuf, X509_verify_cert_error_string(vr));
    } else {
        snprintf(buf, cap, "%s", ebuf);
    }
    ERR_clear_error();
}

/* Read a whole file; *out is malloc'd (NUL-terminated) and freed by the caller. */
static int32_t net_tls_read_file(const char *what, const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return util_err_set(SMEM_TLS, "cannot open %s '%s': %s", what, path, strerror(errno));
    }
    char *buf = malloc(NET_TLS_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return util_err_set(SMEM_MALLOC_FAILED, "cannot allocate a buffer for %s '%s'", what, path);
    }
    size_t n = fread(buf, 1, NET_TLS_FILE_MAX + 1, f);
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err || n > NET_TLS_FILE_MAX) {
        OPENSSL_cleanse(buf, NET_TLS_FILE_MAX + 1);
        free(buf);
        return util_err_set(SMEM_TLS, "cannot read %s '%s' (%s)", what, path,
                            rd_err ? "read error" : "larger than 1 MiB");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SMEM_OK;
}

int32_t net_tls_decrypter_load(const char *path, net_decrypt_pw_fn_t *pw_fn, net_decrypt_cb_t *cb)
{
    *pw_fn = NULL;
    *cb = NULL;
    /* Stays loaded: the functions may be called for every later handshake. dlopen of the same path again returns
     * the same handle, so repeated loads do not pile up. */
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) return util_err_set(SMEM_TLS, "key password decrypter %s: cannot load: %s", path, dlerror());
    void *fn = dlsym(lib, NET_DECRYPTER_SYMBOL);
    if (fn != NULL) {
        memcpy(pw_fn, &fn, sizeof(fn));
        return SMEM_OK;
    }
    fn = dlsym(lib, NET_DECRYPTER_SYMBOL_OURS);
    if (fn != NULL) {
        memcpy(cb, &fn, sizeof(fn));
        return SMEM_OK;
    }
    dlclose(lib);
    return util_err_set(SMEM_TLS, "key password decrypter %s exports neither %s nor %s", path, NET_DECRYPTER_SYMBOL,
                        NET_DECRYPTER_SYMBOL_OURS);
}

/* The key password in plain text into pw (cap bytes); *pw_len 0 when none. */
static int32_t net_tls_password(const net_tls_opts_t *o, char *pw, size_t cap, size_t *pw_len)
{
    char *file_buf = NULL;
    const char *raw = NULL;
    size_t raw_len = 0;
    int32_t rc = SMEM_OK;
    *pw_len = 0;
    if (o->key_pass != NULL) {
        raw = o->key_pass;
        raw_len = o->key_pass_len;
    } else if (o->key_pass_path[0] != '\0') {
        rc = net_tls_read_file("key password file", o->key_pass_path, &file_buf, &raw_len);
        if (rc != SMEM_OK) {
            return rc;
        }
        while (raw_len > 0 && (file_buf[raw_len - 1] == '\n' || file_buf[raw_len - 1] == '\r')) {
            raw_len--; /* a password file written by `echo` ends with a newline that is not part of it */
        }
        raw = file_buf;
    } else {
        return SMEM_OK;
    }
    net_decrypt_cb_t cb = o->decrypt;
    net_decrypt_pw_fn_t pw_fn = NULL;
    if (cb == NULL && o->decrypter_path[0] != '\0') {
        rc = net_tls_decrypter_load(o->decrypter_path, &pw_fn, &cb);
        if (rc != SMEM_OK) goto wipe;
    }
    if (pw_fn != NULL) {
        /* The seed's contract: the cipher text NUL-terminated, a zeroed buffer and its capacity; 0 and the plain
         * text NUL-terminated in the buffer on success. */
        char *cipher = malloc(raw_len + 1);
        if (cipher == NULL) {
            rc = util_err_set(SMEM_MALLOC_FAILED, "key password: out of memory");
            goto wipe;
        }
        memcpy(cipher, raw, raw_len);
        cipher[raw_len] = '\0';
        memset(pw, 0, cap);
        int drc = pw_fn(cipher, raw_len, pw, cap - 1);
        OPENSSL_cleanse(cipher, raw_len);
        free(cipher);
        if (drc != 0) {
            OPENSSL_cleanse(pw, cap);
            rc = util_err_set(SMEM_TLS, "key password: DecryptPassword of %s returned %d", o->decrypter_path, drc);
            goto wipe;
        }
        pw[cap - 1] = '\0';
        *pw_len = strlen(pw);
    } else if (cb != NULL) {
        size_t plen = cap - 1;
        int drc = cb(raw, raw_len, pw, &plen);
        if (drc != 0 || plen >= cap) {
            rc = util_err_set(SMEM_TLS, "key password decrypt callback failed (returned %d, %zu bytes)", drc, plen);
            goto wipe;
        }
        *pw_len = plen;
    } else {
        if (raw_len >= cap) {
            rc = util_err_set(SMEM_TLS, "key password is %zu bytes, max %zu", raw_len, cap - 1);
            goto wipe;
        }
        memcpy(pw, raw, raw_len);
        *pw_len = raw_len;
    }
wipe:
    if (file_buf != NULL) {
        OPENSSL_cleanse(file_buf, raw_len);
        free(file_buf);
    }
    return rc;
}

typedef struct net_tls_pw {
    const char *p;
    size_t len;
} net_tls_pw_t;

static int net_tls_pem_pw_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const net_tls_pw_t *pw = u;
    if (pw == NULL || pw->len == 0 || pw->len > (size_t)size) {
        return -1; /* encrypted key and no (usable) password */
    }
    memcpy(buf, pw->p, pw->len);
    return (int)pw->len;
}

/* This side's private key, decrypted with its password (maybe decrypted itself); the caller frees it. */
static int32_t net_tls_key_read(const net_tls_opts_t *o, EVP_PKEY **out)
{
    char *file_buf = NULL;
    size_t file_len = 0;
    const char *pem;
    size_t pem_len;
    const char *what = o->key_pem != NULL ? "in-memory key" : o->key_path;
    int32_t rc;
    if (o->key_pem != NULL) {
        pem = o->key_pem;
        pem_len = o->key_pem_len;
    } else {
        rc = net_tls_read_file("private key", o->key_path, &file_buf, &file_len);
        if (rc != SMEM_OK) {
            return rc;
        }
        pem = file_buf;
        pem_len = file_len;
    }
    char pass[NET_TLS_PASS_MAX];
    size_t pass_len = 0;
    rc = net_tls_password(o, pass, sizeof(pass), &pass_len);
    if (rc != SMEM_OK) {
        goto free_file;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
    if (bio == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "cannot allocate a BIO for %s", what);
        goto wipe_pass;
    }
    net_tls_pw_t pw = {.p = pass, .len = pass_len};
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, net_tls_pem_pw_cb, &pw);
    BIO_free(bio);
    char ebuf[160];
    if (key == NULL) {
        rc = util_err_set(SMEM_TLS, "cannot load private key '%s': %s%s", what, net_tls_errstr(ebuf, sizeof(ebuf)),
                          pass_len == 0 ? " (encrypted key without a password?)" : " (wrong password?)");
        goto wipe_pass;
    }
    *out = key;
    rc = SMEM_OK;
wipe_pass:
    OPENSSL_cleanse(pass, sizeof(pass));
free_file:
    if (file_buf != NULL) {
        OPENSSL_cleanse(file_buf, file_len);
        free(file_buf);
    }
    return rc;
}

static int32_t net_tls_load_key(SSL_CTX *ctx, const net_tls_opts_t *o)
{
    const char *what = o->key_pem != NULL ? "in-memory key" : o->key_path;
    EVP_PKEY *key = NULL;
    int32_t rc = net_tls_key_read(o, &key);
    if (rc != SMEM_OK) {
        return rc;
    }
    char ebuf[160];
    if (SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        rc = util_err_set(SMEM_TLS, "cannot use private key '%s': %s", what, net_tls_errstr(ebuf, sizeof(ebuf)));
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        rc = util_err_set(SMEM_TLS, "private key '%s' does not match certificate '%s': %s", what, o->cert_path,
                          net_tls_errstr(ebuf, sizeof(ebuf)));
    }
    EVP_PKEY_free(key);
    return rc;
}

int32_t net_tls_pem_load(const net_tls_opts_t *o, char **cert, char **key, char **ca)
{
    if (o == NULL || cert == NULL || key == NULL || ca == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "net_tls_pem_load: NULL argument");
    }
    size_t clen = 0, alen = 0;
    char *c = NULL, *a = NULL;
    int32_t rc = net_tls_read_file("certificate", o->cert_path, &c, &clen);
    if (rc == SMEM_OK && o->ca_path[0] != '\0') {
        rc = net_tls_read_file("CA file", o->ca_path, &a, &alen);
    }
    if (rc != SMEM_OK) {
        goto free_cert;
    }
    EVP_PKEY *pk = NULL;
    rc = net_tls_key_read(o, &pk);
    if (rc != SMEM_OK) {
        goto free_cert;
    }
    char ebuf[160];
    BIO *bio = BIO_new(BIO_s_secmem());
    char *data = NULL;
    long n = 0;
    if (bio == NULL || PEM_write_bio_PKCS8PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(bio, &data)) <= 0) {
        rc = util_err_set(SMEM_TLS, "cannot write private key '%s' as PEM: %s", o->key_path,
                          net_tls_errstr(ebuf, sizeof(ebuf)));
        goto free_bio;
    }
    char *k = malloc((size_t)n + 1);
    if (k == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "cannot allocate %ld bytes for a private key", n);
        goto free_bio;
    }
    memcpy(k, data, (size_t)n);
    k[n] = '\0';
    *cert = c;
    *key = k;
    *ca = a;
    c = a = NULL;
    rc = SMEM_OK;
free_bio:
    BIO_free(bio); /* secure memory: wiped */
    EVP_PKEY_free(pk);
free_cert:
    free(a);
    free(c);
    return rc;
}

void net_tls_pem_free(char *pem)
{
    if (pem != NULL) {
        OPENSSL_cleanse(pem, strlen(pem));
        free(pem);
    }
}

int32_t net_tls_verify_der(net_tls_t *tls, const unsigned char *const der[], const size_t len[], size_t n)
{
    if (tls == NULL || n == 0) {
        return util_err_set(SMEM_TLS, "no client certificate");
    }
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509_STORE_CTX *vc = X509_STORE_CTX_new();
    int32_t rc = SMEM_OK;
    if (chain == NULL || vc == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "cannot allocate a certificate check");
        goto free_all;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = der[i];
        X509 *x = d2i_X509(NULL, &p, (long)len[i]);
        if (x == NULL || p != der[i] + len[i]) {
            X509_free(x);
            rc = util_err_set(SMEM_TLS, "certificate %zu of the client's chain does not parse", i);
            goto free_all;
        }
        if (i == 0) {
            leaf = x;
        } else if (sk_X509_push(chain, x) <= 0) {
            X509_free(x);
            rc = util_err_set(SMEM_MALLOC_FAILED, "cannot allocate a certificate chain");
            goto free_all;
        }
    }
    /* The context's store: its CA bundle and CRL, with its flags (CRL_CHECK when a CRL is set). */
    if (X509_STORE_CTX_init(vc, SSL_CTX_get_cert_store(tls->ctx), leaf, chain) != 1 ||
        X509_STORE_CTX_set_purpose(vc, X509_PURPOSE_SSL_CLIENT) != 1) {
        char ebuf[160];
        rc = util_err_set(SMEM_TLS, "cannot set up a certificate check: %s", net_tls_errstr(ebuf, sizeof(ebuf)));
        goto free_all;
    }
    if (X509_verify_cert(vc) != 1) {
        rc = util_err_set(SMEM_TLS, "client certificate refused: %s",
                          X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc)));
    }
free_all:
    ERR_clear_error();
    X509_STORE_CTX_free(vc);
    sk_X509_pop_free(chain, X509_free);
    X509_free(leaf);
    return rc;
}

int32_t net_tls_create(const net_tls_opts_t *opts, bool server, net_tls_t **out)
{
    char ebuf[160];
    int32_t rc;
    if (opts == NULL || out == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "net_tls_create: NULL argument");
    }
    bool have_key = opts->key_pem != NULL || opts->key_path[0] != '\0';
    if (server && (opts->cert_path[0] == '\0' || !have_key)) {
        return util_err_set(SMEM_INVALID_PARAM, "TLS server needs cert_path and a private key");
    }
    if (opts->cert_path[0] != '\0' && !have_key) {
        return util_err_set(SMEM_INVALID_PARAM, "TLS cert_path '%s' given without a private key", opts->cert_path);
    }
    if (opts->verify_peer && opts->ca_path[0] == '\0') {
        return util_err_set(SMEM_INVALID_PARAM, "TLS verify_peer needs ca_path");
    }
    net_tls_t *tls = calloc(1, sizeof(*tls));
    if (tls == NULL) {
        return util_err_set(SMEM_MALLOC_FAILED, "net_tls_create: cannot allocate");
    }
    tls->server = server;
    tls->verify_peer = opts->verify_peer;
    ERR_clear_error();
    tls->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (tls->ctx == NULL) {
        rc = util_err_set(SMEM_TLS, "SSL_CTX_new: %s", net_tls_errstr(ebuf, sizeof(ebuf)));
        goto free_tls;
    }
    SSL_CTX *ctx = tls->ctx;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
        rc = util_err_set(SMEM_TLS, "cannot restrict the context to TLS 1.3: %s", net_tls_errstr(ebuf, sizeof(ebuf)));
        goto free_ctx;
    }
    /* Partial writes + moving buffer: our queue resumes a frame at any byte. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* A peer closing without close_notify is an EOF; the frame parser knows
     * whether that truncated a frame. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (server) {
        SSL_CTX_set_num_tickets(ctx, 0); /* long-lived links; resumption buys nothing */
    }
    if (opts->ca_path[0] != '\0' && SSL_CTX_load_verify_locations(ctx, opts->ca_path, NULL) != 1) {
        rc = util_err_set(SMEM_TLS, "cannot load CA file '%s': %s", opts->ca_path, net_tls_errstr(ebuf, sizeof(ebuf)));
        goto free_ctx;
    }
    if (opts->crl_path[0] != '\0') {
        X509_STORE *st = SSL_CTX_get_cert_store(ctx);
        X509_LOOKUP *lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());
        if (lu == NULL || X509_load_crl_file(lu, opts->crl_path, X509_FILETYPE_PEM) <= 0) {
            rc = util_err_set(SMEM_TLS, "cannot load CRL file '%s': %s", opts->crl_path,
                              net_tls_errstr(ebuf, sizeof(ebuf)));
            goto free_ctx;
        }
        X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
    }
    if (opts->cert_path[0] != '\0' && SSL_CTX_use_certificate_chain_file(ctx, opts->cert_path) != 1) {
        rc = util_err_set(SMEM_TLS, "cannot load certificate '%s': %s", opts->cert_path,
                          net_tls_errstr(ebuf, sizeof(ebuf)));
        goto free_ctx;
    }
    if (have_key) {
        rc = net_tls_load_key(ctx, opts);
        if (rc != SMEM_OK) {
            goto free_ctx;
        }
    }
    if (opts->verify_peer) {
        SSL_CTX_set_verify(ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    *out = tls;
    return SMEM_OK;

free_ctx:
    SSL_CTX_free(tls->ctx);
free_tls:
    free(tls);
    return rc;
}

void net_tls_destroy(net_tls_t *tls)
{
    if (tls == NULL) {
        return;
    }
    SSL_CTX_free(tls->ctx);
    free(tls);
}

SSL *net_tls_ssl_new(net_tls_t *tls, int fd, const char *verify_host)
{
    char ebuf[160];
    ERR_clear_error();
    SSL *ssl = SSL_new(tls->ctx);
    if (ssl == NULL) {
        util_err_set(SMEM_TLS, "SSL_new: %s", net_tls_errstr(ebuf, sizeof(ebuf)));
        return NULL;
    }
    if (SSL_set_fd(ssl, fd) != 1) {
        util_err_set(SMEM_TLS, "SSL_set_fd: %s", net_tls_errstr(ebuf, sizeof(ebuf)));
        SSL_free(ssl);
        return NULL;
    }
    if (tls->server) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    SSL_set_connect_state(ssl);
    if (tls->verify_peer && verify_host != NULL && verify_host[0] != '\0') {
        /* The server's certificate must name the address we dialled. */
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        unsigned char tmp[sizeof(struct in6_addr)];
        bool is_ip = inet_pton(AF_INET, verify_host, tmp) == 1 || inet_pton(AF_INET6, verify_host, tmp) == 1;
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, verify_host)
                       : X509_VERIFY_PARAM_set1_host(param, verify_host, 0);
        if (ok != 1) {
            util_err_set(SMEM_TLS, "cannot set the expected server name '%s': %s", verify_host,
                         net_tls_errstr(ebuf, sizeof(ebuf)));
            SSL_free(ssl);
            return NULL;
        }
    }
    return ssl;
}
