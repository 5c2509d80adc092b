/*
 * Minimal HTTP/1.1 server for the MetaService's health, metrics and
 * introspection endpoints: one thread, one request per connection
 * (Connection: close), GET only. Requests are read with limits: the header
 * block must fit in META_HTTP_HDR_MAX bytes and arrive within
 * META_HTTP_TIMEOUT_MS, else the client gets 431/408 and is dropped. A
 * request line that does not parse gets 400. Connections are served one at
 * a time, so a slow client delays others by at most the timeout.
 *
 * The handler runs on the HTTP thread; it must be thread-safe with respect
 * to whatever it reads (the MetaService takes its core lock).
 */
#ifndef META_HTTP_H
#define META_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util_buf.h"

#define META_HTTP_HDR_MAX 8192u
#define META_HTTP_TIMEOUT_MS 2000u

typedef struct meta_http meta_http_t;

/* path: decoded-free path ("/keys"); query: raw query string after '?' ("" if none).
 * Writes the body into body and sets *ctype; returns the HTTP status code. */
typedef int (*meta_http_handler_cb_t)(void *arg, const char *path, const char *query, util_wbuf_t *body,
                                      const char **ctype);

/* url: http://HOST:PORT (IPv4, [IPv6] or a name; port 0 = ephemeral). */
int32_t meta_http_start(const char *url, meta_http_handler_cb_t cb, void *arg, meta_http_t **out);
uint16_t meta_http_port(const meta_http_t *h);
void meta_http_stop(meta_http_t *h);

/* Parses a request's header block of len bytes in buf (buf has room for
 * len + 1; it is cut up in place): 0 with *target the path ("/keys"), *query
 * the raw query ("" if none) and *head for HEAD; else the HTTP status to
 * answer (400 malformed, 405 not GET/HEAD). The bytes come from anyone who
 * reaches the port: fuzz_http_req drives this. */
int meta_http_parse_request(char *buf, size_t len, bool *head, char **target, const char **query);

/* Value of `name` in a query string, %XX and '+' decoded, into out (NUL-terminated).
 * 1 found, 0 absent, -1 malformed or longer than cap - 1. */
int meta_http_query_param(const char *query, const char *name, char *out, size_t cap, size_t *len);

#endif
