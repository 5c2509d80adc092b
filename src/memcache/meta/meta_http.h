/*
 * HTTP/1.1 server for the MetaService's health, metrics and introspection
 * endpoints, on libmicrohttpd: one internal polling thread (epoll) serves
 * all connections without blocking, so a slow or non-reading client never
 * delays another. GET and HEAD only (405 otherwise); one request per
 * connection (Connection: close). Limits: META_HTTP_CONN_MAX connections,
 * META_HTTP_PER_IP_MAX per client address, META_HTTP_TIMEOUT_MS of
 * inactivity before a connection is dropped, and a header block of
 * META_HTTP_HDR_MAX bytes (431 beyond it). Malformed requests get 400 from
 * libmicrohttpd. A response is copied into the connection's buffer, so a
 * client that never reads costs its buffer and nothing else.
 *
 * HTTPS (meta_http_tls_t): TLS 1.3 with the given certificate and key;
 * with a verifier, every request must come with a client certificate it
 * accepts (CA bundle and CRL of the MetaService's RPC TLS), else 403. The
 * listen policy (net_listen_check) applies to the address.
 *
 * The handler runs on the HTTP thread, one call at a time; it must be
 * thread-safe with respect to whatever it reads (the MetaService takes its
 * core lock).
 */
#ifndef META_HTTP_H
#define META_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "net/net.h"
#include "util/util_buf.h"

#define META_HTTP_HDR_MAX 8192u
#define META_HTTP_TIMEOUT_MS 2000u
#define META_HTTP_CONN_MAX 256u
#define META_HTTP_PER_IP_MAX 32u

typedef struct meta_http meta_http_t;

/* path: the raw path, not decoded ("/keys"); query: raw query string after '?' ("" if none).
 * Writes the body into body and sets *ctype; returns the HTTP status code. */
typedef int (*meta_http_handler_cb_t)(void *arg, const char *path, const char *query, util_wbuf_t *body,
                                      const char **ctype);

/* HTTPS material, PEM text, copied by libmicrohttpd at start (the caller wipes and frees its own). */
typedef struct meta_http_tls {
    const char *cert_pem; /* NULL: plain HTTP */
    const char *key_pem;  /* unencrypted */
    const char *ca_pem;   /* asks clients for a certificate (with verify) */
    net_tls_t *verify;    /* non-NULL: requests need a client certificate it accepts; not owned, outlives the server */
} meta_http_tls_t;

/* url: http://HOST:PORT or https://HOST:PORT (IPv4, [IPv6] or a name; port 0 = ephemeral); https needs tls.
 * tls NULL or without cert_pem: plain HTTP. expose: the listen policy's switch and names for its messages. */
int32_t meta_http_start(const char *url, const meta_http_tls_t *tls, const net_expose_t *expose,
                        meta_http_handler_cb_t cb, void *arg, meta_http_t **out);
uint16_t meta_http_port(const meta_http_t *h);
void meta_http_stop(meta_http_t *h);

/* Value of `name` in a query string, %XX and '+' decoded, into out (NUL-terminated).
 * 1 found, 0 absent, -1 malformed or longer than cap - 1. The query comes
 * from anyone who reaches the port: fuzz_http_req drives this. */
int meta_http_query_param(const char *query, const char *name, char *out, size_t cap, size_t *len);

/* The /keys cursor: where the next page starts, opaque to clients (today the
 * last key of the page in lowercase hex, so it is URL- and JSON-safe).
 * encode appends the 2 × len characters to w; decode turns a cursor back
 * into the key, 1..MMC_KEY_MAX bytes without NUL, into out (cap >= 256):
 * 0, or -1 when it is no cursor. The cursor comes from anyone who reaches
 * the port: fuzz_http_req drives decode. */
void meta_http_cursor_encode(util_wbuf_t *w, const char *key, size_t len);
int meta_http_cursor_decode(const char *s, char *out, size_t cap, size_t *len);

#endif
