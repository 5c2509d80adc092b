/* The MetaService's HTTP endpoint on libmicrohttpd (see meta_http.h). */
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "memcache/meta/meta_http.h"
#include "memcache/common/mmc_err.h"
#include "memcache/mmc_def.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

/* Per-connection pool: the header block, the parsed header list and the
 * reply's header lines; the reply body is copied outside it. */
#define META_HTTP_POOL_BYTES (2 * META_HTTP_HDR_MAX)
#define META_HTTP_CHAIN_MAX 16 /* certificates of a client's chain we look at */

struct meta_http {
    struct MHD_Daemon *d;
    uint16_t port;
    meta_http_handler_cb_t cb;
    void *arg;
    net_tls_t *verify;             /* client certificates must pass it (NULL: none asked) */
    _Atomic uint64_t refused_log_ms; /* last WARN about a refused client (at most one a second) */
    pthread_mutex_t err_lock; /* start_err: libmicrohttpd may log from its thread while starting */
    bool starting;
    char start_err[160]; /* the last message libmicrohttpd logged while starting */
};

static int32_t http_parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : strncmp(url, "https://", 8) == 0 ? url + 8 : NULL;
    if (p == NULL)
        return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s' must be http://HOST:PORT or https://HOST:PORT", url);
    const char *colon;
    size_t hl;
    if (*p == '[') {
        const char *rb = strchr(p, ']');
        if (rb == NULL || rb[1] != ':') return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s': bad [IPv6]:PORT", url);
        hl = (size_t)(rb - p - 1);
        p++;
        colon = rb + 1;
    } else {
        colon = strrchr(p, ':');
        if (colon == NULL) return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s' has no port", url);
        hl = (size_t)(colon - p);
    }
    size_t pl = strlen(colon + 1);
    if (hl == 0 || hl >= hcap || pl == 0 || pl >= pcap || strspn(colon + 1, "0123456789") != pl || atoi(colon + 1) > 65535)
        return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s': bad host or port", url);
    memcpy(host, p, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return MMC_OK;
}

/* Resolves the URL's host:port to the one address the daemon binds (the first getaddrinfo gives, as before). */
static int32_t http_resolve(const char *url, struct sockaddr_storage *sa)
{
    char host[128], port[8];
    int32_t rc = http_parse_url(url, host, sizeof(host), port, sizeof(port));
    if (rc != MMC_OK) return rc;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s': %s", url, gai_strerror(gai));
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof(*sa)) {
        freeaddrinfo(ai);
        return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s': not an IPv4 or IPv6 address", url);
    }
    memset(sa, 0, sizeof(*sa));
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return MMC_OK;
}

/* libmicrohttpd's messages are about clients that misbehave: debug level, never the console by default. */
static void http_log(void *cls, const char *fmt, va_list ap)
{
    meta_http_t *h = cls;
    char msg[160];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    pthread_mutex_lock(&h->err_lock);
    if (h->starting) snprintf(h->start_err, sizeof(h->start_err), "%s", msg);
    pthread_mutex_unlock(&h->err_lock);
    LOG_DEBUG("meta: HTTP: %s", msg);
}

/* Called once per request with the URI as the client sent it (path and raw
 * query, before any decoding); what it returns is the request's context. */
static void *http_uri_keep(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    return strdup(uri); /* NULL: the handler answers 500 */
}

static void http_done(void *cls, struct MHD_Connection *conn, void **ctx, enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    free(*ctx);
    *ctx = NULL;
}

static const char *http_reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static enum MHD_Result http_reply(struct MHD_Connection *conn, int code, const char *ctype, const void *body,
                                  size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return MHD_NO; /* out of memory: libmicrohttpd drops the connection */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (code == 405) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned int)code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result http_error(struct MHD_Connection *conn, int code)
{
    char body[64];
    int n = snprintf(body, sizeof(body), "%d %s\n", code, http_reason(code));
    return http_reply(conn, code, "text/plain", body, (size_t)n);
}

/* The client's certificate chain through the verifier: 0, or -1 (logged at most once a second). */
static int http_client_cert_check(meta_http_t *h, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    unsigned int n = 0;
    const gnutls_datum_t *peers = ci != NULL ? gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n) : NULL;
    const unsigned char *der[META_HTTP_CHAIN_MAX];
    size_t len[META_HTTP_CHAIN_MAX];
    if (peers == NULL) n = 0;
    if (n > META_HTTP_CHAIN_MAX) n = META_HTTP_CHAIN_MAX;
    for (unsigned int i = 0; i < n; i++) {
        der[i] = peers[i].data;
        len[i] = peers[i].size;
    }
    int32_t rc = n == 0 ? util_err_set(MMC_ERROR, "no client certificate") : net_tls_verify_der(h->verify, der, len, n);
    if (rc == SMEM_OK) return 0;
    uint64_t now = util_now_ms(), last = atomic_load(&h->refused_log_ms);
    if (now - last >= 1000 && atomic_compare_exchange_strong(&h->refused_log_ms, &last, now)) {
        const union MHD_ConnectionInfo *ai = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char peer[64] = "?";
        if (ai != NULL && ai->client_addr != NULL) net_addr_peer_str((const struct sockaddr_storage *)ai->client_addr,
                                                                     peer, sizeof(peer));
        LOG_WARN("meta: HTTPS request from %s refused (403): %s", peer, util_err_get());
    }
    return -1;
}

static enum MHD_Result http_hdr_sum(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + 4 + (value ? strlen(value) : 0); /* "K: V\r\n" */
    return MHD_YES;
}

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size,
                                   void **ctx)
{
    (void)url; /* decoded by libmicrohttpd; the handler gets the raw path from the URI */
    (void)upload_data;
    (void)upload_data_size;
    meta_http_t *h = cls;
    if (h->verify != NULL && http_client_cert_check(h, conn) != 0) return http_error(conn, 403);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return http_error(conn, 405);
    char *uri = *ctx;
    if (uri == NULL) return http_error(conn, 500);
    /* The pool bounds the header block only roughly; the documented limit is this. */
    size_t hdr = strlen(method) + strlen(uri) + strlen(version) + 4;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, http_hdr_sum, &hdr);
    if (hdr > META_HTTP_HDR_MAX) return http_error(conn, 431);
    char *q = strchr(uri, '?');
    const char *query = "";
    if (q != NULL) {
        *q = '\0';
        query = q + 1;
    }
    util_wbuf_t body;
    util_wbuf_init(&body);
    const char *ctype = "text/plain";
    int code = h->cb(h->arg, uri, query, &body, &ctype);
    enum MHD_Result ret =
        body.err ? http_error(conn, 500) : http_reply(conn, code, ctype, body.p, body.len); /* HEAD: no body sent */
    util_wbuf_fini(&body);
    return ret;
}

int32_t meta_http_start(const char *url, const meta_http_tls_t *tls, const net_expose_t *expose,
                        meta_http_handler_cb_t cb, void *arg, meta_http_t **out)
{
    bool https = tls != NULL && tls->cert_pem != NULL;
    if (!https && strncmp(url, "https://", 8) == 0)
        return util_err_set(MMC_INVALID_PARAM, "metrics URL '%s' is https but ock.mmc.tls is off (HTTPS uses its "
                            "certificate and key)", url);
    struct sockaddr_storage sa;
    int32_t rc = http_resolve(url, &sa);
    if (rc != MMC_OK) return rc;
    const char *hostport = strstr(url, "://") + 3;
    char shown[300];
    snprintf(shown, sizeof(shown), "%s://%s", https ? "https" : "http", hostport);
    rc = net_listen_check(&sa, shown, https, expose);
    if (rc != SMEM_OK) return mmc_status_from_smem(rc);
    meta_http_t *h = calloc(1, sizeof(*h));
    if (h == NULL) return util_err_set(MMC_MALLOC_FAILED, "metrics: out of memory");
    h->cb = cb;
    h->arg = arg;
    h->verify = https ? tls->verify : NULL;
    pthread_mutex_init(&h->err_lock, NULL);
    h->starting = true;
    /* One internal thread polls every connection with epoll: no client waits for another. */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6) flags |= MHD_USE_DUAL_STACK; /* "[::]" takes IPv4 too, as a plain v6 socket did */
    if (https) flags |= MHD_USE_TLS;
    /* The TLS options go last; without HTTPS the list ends before them. */
    enum MHD_OPTION tls_opt = https ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END;
    enum MHD_OPTION trust_opt = https && tls->ca_pem != NULL ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END;
    uint16_t want = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                   : ((struct sockaddr_in *)&sa)->sin_port); /* for its messages */
    h->d = MHD_start_daemon(flags, want, NULL, NULL, http_handle, h,
                            MHD_OPTION_EXTERNAL_LOGGER, http_log, h, /* first, so start-up messages go there too */
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)(META_HTTP_TIMEOUT_MS / 1000),
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)META_HTTP_CONN_MAX,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)META_HTTP_PER_IP_MAX,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)META_HTTP_POOL_BYTES,
                            MHD_OPTION_URI_LOG_CALLBACK, http_uri_keep, (void *)NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, http_done, (void *)NULL,
                            /* TLS 1.3 only, as every other listener of ours */
                            tls_opt, https ? tls->cert_pem : NULL,
                            MHD_OPTION_HTTPS_MEM_KEY, https ? tls->key_pem : NULL,
                            MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3",
                            trust_opt, https ? tls->ca_pem : NULL,
                            MHD_OPTION_END);
    pthread_mutex_lock(&h->err_lock);
    h->starting = false;
    pthread_mutex_unlock(&h->err_lock);
    const union MHD_DaemonInfo *di = h->d ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (di == NULL || di->port == 0) {
        rc = util_err_set(MMC_ERROR, "metrics: cannot listen on %s: %s", shown,
                          h->start_err[0] ? h->start_err : "libmicrohttpd did not start");
        goto stop_daemon;
    }
    h->port = di->port;
    LOG_INFO("meta: HTTP endpoint on %s (port %u%s)", shown, h->port,
             h->verify != NULL ? ", client certificate required" : "");
    *out = h;
    return MMC_OK;

stop_daemon:
    if (h->d != NULL) MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->err_lock);
    free(h);
    return rc;
}

uint16_t meta_http_port(const meta_http_t *h) { return h ? h->port : 0; }

void meta_http_stop(meta_http_t *h)
{
    if (h == NULL) return;
    MHD_stop_daemon(h->d); /* joins its thread, closes its connections and its socket */
    pthread_mutex_destroy(&h->err_lock);
    free(h);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int meta_http_query_param(const char *query, const char *name, char *out, size_t cap, size_t *len)
{
    size_t nl = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg >= nl && strncmp(p, name, nl) == 0 && (seg == nl || p[nl] == '=')) {
            size_t o = 0;
            for (size_t i = nl + (seg > nl); i < seg; i++) {
                char c = p[i];
                if (c == '%') {
                    if (i + 2 >= seg) return -1; /* needs two hex digits inside this parameter */
                    int hi = hexval(p[i + 1]), lo = hexval(p[i + 2]);
                    if (hi < 0 || lo < 0) return -1;
                    c = (char)(hi * 16 + lo);
                    i += 2;
                } else if (c == '+') {
                    c = ' ';
                }
                if (o + 1 >= cap) return -1;
                out[o++] = c;
            }
            out[o] = '\0';
            if (len) *len = o;
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

void meta_http_cursor_encode(util_wbuf_t *w, const char *key, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        char e[2] = {hex[(uint8_t)key[i] >> 4], hex[(uint8_t)key[i] & 15]};
        util_wbuf_bytes(w, e, 2);
    }
}

int meta_http_cursor_decode(const char *s, char *out, size_t cap, size_t *len)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2 != 0 || n / 2 > MMC_KEY_MAX || n / 2 > cap) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi | lo) == 0) return -1; /* not hex, or a NUL byte (no key holds one) */
        out[i] = (char)(hi * 16 + lo);
    }
    *len = n / 2;
    return 0;
}
