/*
 * The public config-store calls: smem_create_config_store / destroy, and the
 * store TLS settings (smem_set_conf_store_tls, smem_set_config_store_tls_key
 * with an encrypted in-memory key and a decrypt handler) used end to end by a
 * real TLS client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "smem/host/smem.h"
#include "store/store.h"
#include "testutil.h"
#include "util/util_status.h"
#include "tu_cmocka.h"

static char dir[256];

static int read_file(const char *name, char *buf, size_t cap, size_t *len)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/certs/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (f == NULL) return -1;
    *len = fread(buf, 1, cap, f);
    fclose(f);
    return 0;
}

/* The "cipher" is the password reversed; the handler undoes it. */
static int decrypt_calls;
static int reverse_decrypt(const char *cipher, size_t cipher_len, char *plain, size_t *plain_len)
{
    decrypt_calls++;
    if (cipher_len >= *plain_len) return -1;
    for (size_t i = 0; i < cipher_len; i++) plain[i] = cipher[cipher_len - 1 - i];
    plain[cipher_len] = '\0';
    *plain_len = cipher_len;
    return 0;
}

static int client_connect(const char *url, bool tls, store_client_t **c, net_tls_t **ctx)
{
    store_client_opts_t o;
    store_client_opts_init(&o);
    o.timeout_ms = 3000;
    o.rpc.connect_timeout_ms = 1500;
    *ctx = NULL;
    if (tls) {
        net_tls_opts_t t;
        net_tls_opts_init(&t);
        t.enable = true;
        snprintf(t.ca_path, sizeof(t.ca_path), "%s/certs/ca.pem", dir);
        snprintf(t.cert_path, sizeof(t.cert_path), "%s/certs/client.pem", dir);
        snprintf(t.key_path, sizeof(t.key_path), "%s/certs/client.key", dir);
        int32_t rc = net_tls_create(&t, false, ctx);
        if (rc != SMEM_OK) return rc;
        o.rpc.net.tls = *ctx;
    }
    int32_t rc = store_client_connect(url, &o, c);
    if (rc == SMEM_OK) rc = store_set(*c, "k", "v", 1);
    return rc;
}

static void test_embedded_plain(void **state)
{
    (void)state;
    assert_int_equal(smem_init(0), 0);
    assert_int_equal(smem_create_config_store(NULL), SMEM_ERR_INVALID_PARAM);
    assert_int_equal(smem_create_config_store("http://x"), SMEM_ERR_INVALID_PARAM);
    assert_true(strlen(smem_get_last_err_msg()) > 0);
    assert_int_equal(smem_create_config_store("tcp://127.0.0.1:0"), 0);
    assert_int_equal(smem_create_config_store("tcp://127.0.0.1:0"), SMEM_ERR_DUPLICATED_OBJECT);
    assert_int_equal(smem_destroy_config_store("tcp://127.0.0.1:1"), SMEM_ERR_OBJECT_NOT_EXISTS);
    assert_int_equal(smem_destroy_config_store("tcp://127.0.0.1:0"), 0);

    /* A fixed port so a client can reach it. */
    char url[64];
    int port = 30000 + (int)(getpid() % 20000);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    assert_int_equal(smem_create_config_store(url), 0);
    store_client_t *c = NULL;
    net_tls_t *ctx = NULL;
    assert_int_equal(client_connect(url, false, &c, &ctx), 0);
    store_client_close(c);
    smem_uninit(); /* stops the store */
    assert_int_not_equal(client_connect(url, false, &c, &ctx), 0);
}

static void test_embedded_tls_key_in_memory(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "bash '%s/scripts/gen-test-certs.sh' '%s/certs' >/dev/null", tu_source_dir(), dir);
    assert_int_equal(system(cmd), 0);

    /* Paths for CA and certificate; the server key comes from memory, encrypted,
     * with its password "encrypted" (reversed) and undone by the handler. */
    char info[1024];
    snprintf(info, sizeof(info), "tlsCaPath:%s/certs/ca.pem;tlsCert:%s/certs/server.pem;tlsCrlPath:%s/certs/crl.pem", dir,
             dir, dir);
    char key[8192], pw[256], rev[256];
    size_t klen = 0, plen = 0;
    /* Encrypt the server key with a known password using the openssl CLI. */
    snprintf(cmd, sizeof(cmd),
             "printf 'server-secret' > '%s/certs/server-enc.pass' && openssl pkey -in '%s/certs/server.key' -aes256 "
             "-passout file:'%s/certs/server-enc.pass' -out '%s/certs/server-enc.key'",
             dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(read_file("server-enc.key", key, sizeof(key), &klen), 0);
    assert_int_equal(read_file("server-enc.pass", pw, sizeof(pw), &plen), 0);
    for (size_t i = 0; i < plen; i++) rev[i] = pw[plen - 1 - i];

    assert_int_equal(smem_set_conf_store_tls(true, info, (uint32_t)strlen(info)), 0);
    assert_int_equal(smem_set_config_store_tls_key(key, (uint32_t)klen, rev, (uint32_t)plen, reverse_decrypt), 0);
    char url[64];
    int port = 30000 + (int)((getpid() + 7) % 20000);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    decrypt_calls = 0;
    assert_int_equal(smem_create_config_store(url), 0);
    assert_true(decrypt_calls >= 1);

    store_client_t *c = NULL;
    net_tls_t *ctx = NULL;
    assert_int_equal(client_connect(url, true, &c, &ctx), 0); /* mutual TLS works */
    store_client_close(c);
    net_tls_destroy(ctx);
    c = NULL;
    assert_int_not_equal(client_connect(url, false, &c, &ctx), 0); /* plain client refused */
    if (c) store_client_close(c);
    smem_uninit();

    /* A wrong password (the handler is not told how to undo it) fails at creation. */
    assert_int_equal(smem_set_conf_store_tls(true, info, (uint32_t)strlen(info)), 0);
    assert_int_equal(smem_set_config_store_tls_key(key, (uint32_t)klen, "nope", 4, NULL), 0);
    assert_int_not_equal(smem_create_config_store(url), 0);
    assert_true(strlen(smem_get_last_err_msg()) > 0);
    smem_uninit();
}

int main(int argc, char **argv)
{
    if (tu_mkdtemp(dir, sizeof(dir)) != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_plain),
        cmocka_unit_test(test_embedded_tls_key_in_memory),
    };
    int rc = TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
    tu_rmdir_rf(dir);
    return rc;
}
