/*
 * src/net: the control plane. Framed messages (net_proto.h) over TCP (IPv4,
 * IPv6) and UNIX sockets, driven by an epoll event loop, with optional TLS 1.3
 * (OpenSSL, mutual authentication), and a request/response client (net_rpc)
 * with ids, per-request timeouts, keepalive and reconnect with backoff.
 *
 * Threads: a net_loop_t owns one thread; every socket, every TLS object and
 * every callback of the connections it owns run on that thread (TLS objects
 * are never touched from two threads). net_conn_send, net_conn_close,
 * net_loop_post and the net_rpc_* calls are safe from any thread; they hand
 * work to the loop thread. Callbacks must not block (no net_rpc_call from a
 * callback of the same loop).
 *
 * URLs: "tcp://1.2.3.4:5000", "tcp://[::1]:5000", "tcp://localhost:5000",
 * "unix:///path/to/sock", "unix://@name" (abstract). Port 0 binds an
 * ephemeral port (see net_listener_port).
 */
#ifndef NET_H
#define NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "net/net_proto.h"
#include "util/util_conf.h"

/* ---------- addresses ---------- */
typedef struct net_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    int family;      /* AF_INET, AF_INET6, AF_UNIX */
    char text[160];  /* canonical URL form, for logs */
} net_addr_t;

int32_t net_addr_parse(const char *url, net_addr_t *out);
/* "1.2.3.4:5678", "[::1]:5", "unix": a peer for logs. */
void net_addr_peer_str(const struct sockaddr_storage *ss, char *buf, size_t cap);

/* ---------- listen policy ---------- */
/*
 * One rule for every listener of ours. unix:// and loopback (127.0.0.0/8,
 * ::1, ::ffff:127.0.0.0/104) are always fine. Any other address, the
 * wildcards 0.0.0.0 and [::] included, needs TLS: without it the listener is
 * refused (SMEM_INSECURE, the message names the address, the TLS option to
 * set and the insecure switch) unless the operator's explicit switch allows
 * it, and then it goes ahead after a WARN that anyone who reaches the port
 * can read and write. net_listen applies it with net_opts_t.expose; the
 * listeners that bind their own sockets (the tcp data server, the
 * MetaService's HTTP endpoint) call net_listen_check before they bind.
 */
typedef struct net_expose {
    bool allow_insecure;    /* the operator's switch (default false) */
    const char *what;       /* the listener, for messages ("mmc-meta RPC"); NULL: "listener" */
    const char *tls_opt;    /* what turns its TLS on ("ock.mmc.tls.*"); NULL: "TLS" */
    const char *switch_opt; /* the switch ("--allow-insecure"); NULL: NET_INSECURE_ENV "=1" */
} net_expose_t;

/* The library users' switch (listeners that libsmem opens in an application:
 * the config store of smem_bm_init / smem_create_config_store, Trans's data
 * server): the environment variable SMEM_ALLOW_INSECURE=1. */
#define NET_INSECURE_ENV "SMEM_ALLOW_INSECURE"
bool net_insecure_env(void);
bool net_addr_is_local(const struct sockaddr_storage *ss); /* unix or loopback */
/* SMEM_OK (maybe after the WARN), or SMEM_INSECURE. text names the address ("tcp://0.0.0.0:5000"). */
int32_t net_listen_check(const struct sockaddr_storage *ss, const char *text, bool tls, const net_expose_t *x);

/* ---------- TLS ---------- */
typedef int (*net_decrypt_cb_t)(const char *cipher, size_t cipher_len, char *plain, size_t *plain_len);
/* The seed's decrypter library contract (smem.h SMEM_DECRYPTER_SYMBOL): plain_cap is the capacity of the zeroed
 * plain buffer; 0 and a NUL-terminated plain text on success. */
typedef int (*net_decrypt_pw_fn_t)(const char *cipher, size_t cipher_len, char *plain, size_t plain_cap);
#define NET_DECRYPTER_SYMBOL "DecryptPassword"
#define NET_DECRYPTER_SYMBOL_OURS "decrypt" /* net_decrypt_cb_t, our earlier contract, kept */
/* Loads the decrypter library at path (it stays loaded): DecryptPassword into *pw_fn, else `decrypt` into *cb.
 * SMEM_TLS with the path and the reason when neither. net_tls_create does this itself for decrypter_path. */
int32_t net_tls_decrypter_load(const char *path, net_decrypt_pw_fn_t *pw_fn, net_decrypt_cb_t *cb);

/*
 * The one TLS shape. Its first part (enable .. decrypter_path, "the file
 * block") is laid out exactly like the public TLS blocks (mmc_tls_config,
 * smem_tls_config; NET_TLS_BLOCK_ASSERT checks it where they are used), so a
 * configuration reader writes a public block through net_tls_conf_rows and
 * net_tls_opts_from_block hands it to net_tls_create without a conversion.
 */
typedef struct net_tls_opts {
    bool enable;
    char ca_path[256];        /* CA bundle that peers' certificates must chain to */
    char crl_path[256];       /* optional CRL (PEM); revoked peers are refused */
    char cert_path[256];      /* this side's certificate (PEM) */
    char key_path[256];       /* this side's private key (PEM), maybe encrypted */
    char key_pass_path[256];  /* optional file with the key password (maybe encrypted) */
    char package_path[256];   /* the seed's field; unused */
    char decrypter_path[256]; /* library for the key password (net_tls_decrypter_load), unless decrypt is set */
    const char *key_pem;     /* alternative to key_path: key in memory (not copied past create) */
    size_t key_pem_len;
    const char *key_pass;    /* alternative to key_pass_path: password bytes (maybe encrypted) */
    size_t key_pass_len;
    net_decrypt_cb_t decrypt; /* when set, the password is decrypted by it before use */
    bool verify_peer;         /* mutual auth: require and verify the peer's certificate (default true) */
} net_tls_opts_t;

typedef struct net_tls net_tls_t;

void net_tls_opts_init(net_tls_opts_t *o); /* zeroes, verify_peer = true */

#define NET_TLS_BLOCK_SIZE (offsetof(net_tls_opts_t, decrypter_path) + sizeof(((net_tls_opts_t *)0)->decrypter_path))
/* A public TLS block T has the file block's layout (fields seed-named). */
#define NET_TLS_BLOCK_ASSERT(T)                                                                                      \
    _Static_assert(offsetof(T, tlsEnable) == offsetof(net_tls_opts_t, enable) &&                                     \
                       offsetof(T, caPath) == offsetof(net_tls_opts_t, ca_path) &&                                   \
                       offsetof(T, crlPath) == offsetof(net_tls_opts_t, crl_path) &&                                 \
                       offsetof(T, certPath) == offsetof(net_tls_opts_t, cert_path) &&                               \
                       offsetof(T, keyPath) == offsetof(net_tls_opts_t, key_path) &&                                 \
                       offsetof(T, keyPassPath) == offsetof(net_tls_opts_t, key_pass_path) &&                        \
                       offsetof(T, packagePath) == offsetof(net_tls_opts_t, package_path) &&                         \
                       offsetof(T, decrypterLibPath) == offsetof(net_tls_opts_t, decrypter_path) &&                  \
                       sizeof(T) == NET_TLS_BLOCK_SIZE,                                                              \
                   #T " is not laid out as net_tls_opts_t's file block")
/* net_tls_opts_init, then the file block from a public TLS block (checked by NET_TLS_BLOCK_ASSERT). */
void net_tls_opts_from_block(net_tls_opts_t *o, const void *block);
/* The keys of one TLS block ("enable", "ca.path", ...) over the file block, for config tables. */
#define NET_TLS_CONF_NROWS 8
extern const util_conf_spec_t net_tls_conf_rows[NET_TLS_CONF_NROWS];
/* Builds an SSL_CTX (TLS 1.3 only). Errors name the file that failed. */
int32_t net_tls_create(const net_tls_opts_t *opts, bool server, net_tls_t **out);
void net_tls_destroy(net_tls_t *tls);
/*
 * For components that run their own sockets (the tcp transport's data
 * channel): a new SSL object on fd from the context, in accept state for a
 * server context, connect state for a client one (which then checks that the
 * server's certificate names verify_host, an IP or a DNS name, when
 * verify_peer is on). The caller drives the handshake and SSL_free()s it; an
 * SSL object is used by one thread at a time. NULL with the error set.
 */
struct ssl_st;
struct ssl_st *net_tls_ssl_new(net_tls_t *tls, int fd, const char *verify_host);
/* Why an SSL call failed (OpenSSL's reason + the certificate verification
 * result), into buf; clears the thread's OpenSSL error queue. */
void net_tls_describe(struct ssl_st *ssl, int ret, int ssl_err, char *buf, size_t cap);
/*
 * For a TLS server on another stack (the MetaService's HTTPS endpoint on
 * libmicrohttpd/GnuTLS), so it serves the same identity and trusts the same
 * peers. pem_load: this side's certificate file, its private key as
 * unencrypted PKCS#8 PEM (password and decrypter applied) and the CA file
 * (NULL without ca_path), NUL-terminated and malloc'd, freed with
 * net_tls_pem_free (which wipes them); errors name the file. verify_der: the peer's chain (DER, leaf first)
 * against the context's CA bundle and CRL for a TLS client certificate:
 * SMEM_OK, or SMEM_TLS with the reason. Any thread.
 */
int32_t net_tls_pem_load(const net_tls_opts_t *o, char **cert, char **key, char **ca);
void net_tls_pem_free(char *pem);
int32_t net_tls_verify_der(net_tls_t *tls, const unsigned char *const der[], const size_t len[], size_t n);

/* ---------- loop, listeners, connections ---------- */
typedef struct net_loop net_loop_t;
typedef struct net_conn net_conn_t;
typedef struct net_listener net_listener_t;

typedef struct net_conn_cbs {
    /* Connection is ready (accepted and, with TLS, handshake done). Optional. */
    void (*on_open)(net_conn_t *c, void *arg);
    /* One complete frame; body is valid only during the call. */
    void (*on_frame)(net_conn_t *c, const net_frame_hdr_t *hdr, const uint8_t *body, void *arg);
    /* Called exactly once when the connection is gone; reason is a status code
     * (SMEM_PEER_GONE for an orderly close by the peer, SMEM_PROTOCOL, SMEM_TIMEOUT,
     * SMEM_TLS, SMEM_IO, or SMEM_OK for a local net_conn_close).
     * Added note: only for connections that reached on_open; a failed
     * net_connect reports through its return value, a rejected accepted
     * connection (bad TLS peer) through a WARN log. */
    void (*on_close)(net_conn_t *c, int32_t reason, void *arg);
    void *arg;
} net_conn_cbs_t;

typedef struct net_opts {
    uint32_t max_frame;            /* max body bytes accepted (default 16 MiB) */
    uint32_t frame_timeout_ms;     /* a frame once started must complete within this (default 10000; 0 = no limit) */
    uint32_t handshake_timeout_ms; /* TLS handshake limit (default 5000; 0 = no limit) */
    uint32_t idle_timeout_ms;      /* close a connection silent for this long; 0 = never */
    uint64_t max_outq_bytes;       /* queued-but-unsent limit per connection; over it send fails (default 256 MiB) */
    net_tls_t *tls;                /* NULL: plain sockets. Not owned. */
    net_expose_t expose;           /* listen policy of net_listen (default: refuse beyond loopback without tls) */
} net_opts_t;

void net_opts_init(net_opts_t *o); /* defaults above */

net_loop_t *net_loop_create(const char *name); /* starts the loop thread; NULL on failure (err set) */
void net_loop_destroy(net_loop_t *loop);        /* closes everything (on_close fires), joins the thread */
/* Added note: destroy also frees the loop's listeners, so call
 * net_listener_close before it, never after. Not callable from the loop thread. */
bool net_loop_in_thread(const net_loop_t *loop);
/* Bound the bytes queued to all of the loop's connections together (0: none,
 * the default): a send that would pass it fails with SMEM_TOO_LARGE naming
 * the peer, like one over its connection's max_outq_bytes, so a server whose
 * clients stop reading holds at most this much. Bodies shared by several
 * connections (net_conn_send_shared) are not counted. Any thread. */
void net_loop_set_outq_budget(net_loop_t *loop, uint64_t bytes);
uint64_t net_loop_outq_total(net_loop_t *loop);
/* Run fn(arg) on the loop thread soon. */
int32_t net_loop_post(net_loop_t *loop, void (*fn)(void *arg), void *arg);

typedef struct net_timer net_timer_t;
/* Periodic timer on the loop thread, first fire after period_ms. */
int32_t net_timer_add(net_loop_t *loop, uint32_t period_ms, void (*fn)(void *arg), void *arg, net_timer_t **out);
void net_timer_cancel(net_timer_t *t); /* safe from any thread; fn will not run after it returns */

int32_t net_listen(net_loop_t *loop, const char *url, const net_opts_t *opts, const net_conn_cbs_t *cbs,
                   net_listener_t **out);
uint16_t net_listener_port(const net_listener_t *l); /* bound TCP port (useful with port 0) */
void net_listener_close(net_listener_t *l);           /* stops accepting; existing conns stay */

/* Blocking connect (and TLS handshake) within timeout_ms. The returned
 * connection holds one reference for the caller (release with net_conn_put). */
int32_t net_connect(net_loop_t *loop, const char *url, const net_opts_t *opts, const net_conn_cbs_t *cbs,
                    uint32_t timeout_ms, net_conn_t **out);

/* Queue one frame (header fields magic/version/body_len are filled in). Copies body. */
int32_t net_conn_send(net_conn_t *c, const net_frame_hdr_t *hdr, const void *body, uint32_t len);
/* Same, body gathered from several pieces. */
int32_t net_conn_sendv(net_conn_t *c, const net_frame_hdr_t *hdr, const struct iovec *iov, int iovcnt);
/*
 * Shared frame bodies: one immutable, reference-counted buffer queued to many
 * connections without a copy per connection (a collective's answer to all
 * its members). Fill net_shbuf_data() before the first send; after that the
 * bytes must not change. net_conn_send_shared takes its own reference.
 */
typedef struct net_shbuf net_shbuf_t;
net_shbuf_t *net_shbuf_alloc(size_t len); /* one reference for the caller; NULL when out of memory */
uint8_t *net_shbuf_data(net_shbuf_t *b);
void net_shbuf_put(net_shbuf_t *b);
int32_t net_conn_send_shared(net_conn_t *c, const net_frame_hdr_t *hdr, net_shbuf_t *body, uint32_t len);
void net_conn_close(net_conn_t *c); /* asynchronous; on_close follows on the loop thread */
void net_conn_get(net_conn_t *c);
void net_conn_put(net_conn_t *c);
void net_conn_set_ctx(net_conn_t *c, void *ctx);
void *net_conn_get_ctx(const net_conn_t *c);
const char *net_conn_peer(const net_conn_t *c); /* "1.2.3.4:5678", "[::1]:5", "unix" */
uint64_t net_conn_id(const net_conn_t *c);      /* unique per process */

/* ---------- request/response client ---------- */
typedef struct net_rpc net_rpc_t;

typedef struct net_rpc_opts {
    net_opts_t net;
    uint32_t connect_timeout_ms; /* first connect: retry with backoff until this (default 10000) */
    uint32_t backoff_init_ms;    /* default 50 */
    uint32_t backoff_max_ms;     /* default 2000 */
    uint32_t reconnect_timeout_ms; /* after a loss, keep retrying this long, then fail calls (default 30000) */
    uint32_t heartbeat_ms;       /* PING interval; 0 = off (default 1000) */
    /* Server push (NET_FLAG_PUSH frames), on the loop thread. */
    void (*on_push)(void *arg, uint16_t type, const uint8_t *body, uint32_t len);
    /* After a successful reconnect, on a helper thread (may call net_rpc_call);
     * a non-zero return drops the connection and retries. */
    int32_t (*on_reconnect)(net_rpc_t *rpc, void *arg);
    /* The connection was lost (on the loop thread). */
    void (*on_disconnect)(void *arg, int32_t reason);
    void *arg;
} net_rpc_opts_t;

void net_rpc_opts_init(net_rpc_opts_t *o);
int32_t net_rpc_create(const char *url, const net_rpc_opts_t *opts, net_rpc_t **out);
void net_rpc_destroy(net_rpc_t *rpc); /* fails pending calls with SMEM_NOT_STARTED */

/*
 * Send a request and wait for its response up to timeout_ms. On return 0 the
 * server's status is in *status and its body in *resp (malloc'd, caller frees;
 * NULL when empty). Errors: SMEM_TIMEOUT, SMEM_CONN_FAILED/SMEM_RECONNECT when
 * the link was lost with the request outstanding (it is not resent), SMEM_TOO_LARGE.
 * Added note: SMEM_CONN_FAILED also when no link came back within timeout_ms
 * (or at once after reconnect_timeout_ms of failed redials); SMEM_INVALID_PARAM
 * from the client's own callbacks (on_push, on_disconnect), which would deadlock.
 */
int32_t net_rpc_call(net_rpc_t *rpc, uint16_t type, const void *body, uint32_t len, uint32_t timeout_ms,
                     int32_t *status, uint8_t **resp, uint32_t *resp_len);
int32_t net_rpc_callv(net_rpc_t *rpc, uint16_t type, const struct iovec *iov, int iovcnt, uint32_t timeout_ms,
                      int32_t *status, uint8_t **resp, uint32_t *resp_len);
bool net_rpc_connected(const net_rpc_t *rpc);

#endif
