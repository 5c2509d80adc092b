/*
 * URL parsing for the control plane ("tcp://host:port", "unix:///path",
 * "unix://@abstract"), peer names for logs, and option defaults. Hosts are
 * numeric (or "localhost") on purpose: resolving names could block a caller
 * for seconds inside the library.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "net/net_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

#define NET_DEFAULT_MAX_FRAME (16u << 20)
#define NET_DEFAULT_MAX_OUTQ (256ull << 20)

void net_opts_init(net_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->max_frame = NET_DEFAULT_MAX_FRAME;
    o->frame_timeout_ms = 10000;
    o->handshake_timeout_ms = 5000;
    o->idle_timeout_ms = 0;
    o->max_outq_bytes = NET_DEFAULT_MAX_OUTQ;
    o->tls = NULL;
}

static int32_t net_addr_parse_port(const char *url, const char *s, uint16_t *port)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5) {
        return util_err_set(SMEM_INVALID_PARAM, "bad port in '%.160s' (expected 0..65535)", url);
    }
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return util_err_set(SMEM_INVALID_PARAM, "bad port '%.8s' in '%.160s' (expected 0..65535)", s, url);
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535) {
        return util_err_set(SMEM_INVALID_PARAM, "port %lu out of range in '%.160s'", v, url);
    }
    *port = (uint16_t)v;
    return SMEM_OK;
}

static int32_t net_addr_parse_tcp(const char *url, const char *rest, net_addr_t *a)
{
    char host[64];
    const char *port_s;
    bool bracketed = false;
    if (rest[0] == '[') {
        const char *end = strchr(rest, ']');
        if (end == NULL || end[1] != ':') {
            return util_err_set(SMEM_INVALID_PARAM, "bad IPv6 address in '%.160s' (expected tcp://[addr]:port)", url);
        }
        size_t hl = (size_t)(end - rest - 1);
        if (hl == 0 || hl >= sizeof(host)) {
            return util_err_set(SMEM_INVALID_PARAM, "bad IPv6 address in '%.160s'", url);
        }
        memcpy(host, rest + 1, hl);
        host[hl] = '\0';
        port_s = end + 2;
        bracketed = true;
    } else {
        const char *colon = strrchr(rest, ':');
        if (colon == NULL) {
            return util_err_set(SMEM_INVALID_PARAM, "missing port in '%.160s' (expected tcp://host:port)", url);
        }
        size_t hl = (size_t)(colon - rest);
        if (hl == 0 || hl >= sizeof(host)) {
            return util_err_set(SMEM_INVALID_PARAM, "missing or overlong host in '%.160s'", url);
        }
        memcpy(host, rest, hl);
        host[hl] = '\0';
        if (strchr(host, ':') != NULL) {
            return util_err_set(SMEM_INVALID_PARAM, "IPv6 address needs brackets in '%.160s' (tcp://[::1]:port)",
                                url);
        }
        port_s = colon + 1;
    }
    uint16_t port;
    int32_t rc = net_addr_parse_port(url, port_s, &port);
    if (rc != SMEM_OK) {
        return rc;
    }
    char canon[INET6_ADDRSTRLEN];
    if (bracketed) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
            return util_err_set(SMEM_INVALID_PARAM, "'%s' is not a numeric IPv6 address (in '%.160s')", host, url);
        }
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        a->family = AF_INET6;
        a->len = sizeof(*s6);
        inet_ntop(AF_INET6, &s6->sin6_addr, canon, sizeof(canon));
        snprintf(a->text, sizeof(a->text), "tcp://[%s]:%u", canon, port);
        return SMEM_OK;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
    if (strcasecmp(host, "localhost") == 0) {
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
        return util_err_set(SMEM_INVALID_PARAM,
                            "'%s' is not a numeric IPv4 address or localhost (in '%.160s'; names are not resolved)",
                            host, url);
    }
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    a->family = AF_INET;
    a->len = sizeof(*s4);
    inet_ntop(AF_INET, &s4->sin_addr, canon, sizeof(canon));
    snprintf(a->text, sizeof(a->text), "tcp://%s:%u", canon, port);
    return SMEM_OK;
}

static int32_t net_addr_parse_unix(const char *url, const char *rest, net_addr_t *a)
{
    struct sockaddr_un *su = (struct sockaddr_un *)&a->ss;
    size_t n = strlen(rest);
    su->sun_family = AF_UNIX;
    a->family = AF_UNIX;
    if (rest[0] == '@') {
        /* Abstract namespace: sun_path[0] is NUL and the length, not a
         * terminator, delimits the name. */
        if (n < 2 || n > sizeof(su->sun_path) - 1) {
            return util_err_set(SMEM_INVALID_PARAM, "abstract socket name in '%.160s' must be 1..%zu bytes", url,
                                sizeof(su->sun_path) - 2);
        }
        memcpy(su->sun_path + 1, rest + 1, n - 1);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else if (rest[0] == '/') {
        if (n >= sizeof(su->sun_path)) {
            return util_err_set(SMEM_INVALID_PARAM, "unix socket path in '%.160s' is %zu bytes, max %zu", url, n,
                                sizeof(su->sun_path) - 1);
        }
        memcpy(su->sun_path, rest, n + 1);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    } else {
        return util_err_set(SMEM_INVALID_PARAM,
                            "bad unix address '%.160s' (expected unix:///absolute/path or unix://@name)", url);
    }
    snprintf(a->text, sizeof(a->text), "unix://%s", rest);
    return SMEM_OK;
}

int32_t net_addr_parse(const char *url, net_addr_t *out)
{
    if (url == NULL || out == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "net_addr_parse: NULL argument");
    }
    net_addr_t a;
    memset(&a, 0, sizeof(a));
    int32_t rc;
    if (strncmp(url, "tcp://", 6) == 0) {
        rc = net_addr_parse_tcp(url, url + 6, &a);
    } else if (strncmp(url, "unix://", 7) == 0) {
        rc = net_addr_parse_unix(url, url + 7, &a);
    } else {
        rc = util_err_set(SMEM_INVALID_PARAM, "unknown address '%.160s' (expected tcp://host:port or unix://path)",
                          url);
    }
    if (rc == SMEM_OK) {
        *out = a;
    }
    return rc;
}

void net_addr_peer_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(buf, cap, "%s:%u", ip, ntohs(s4->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        snprintf(buf, cap, "unix");
    }
}

/* ---------- listen policy ---------- */

bool net_insecure_env(void)
{
    const char *v = getenv(NET_INSECURE_ENV);
    return v != NULL && strcmp(v, "1") == 0;
}

bool net_addr_is_local(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_UNIX) return true;
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family != AF_INET6) return false;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
}

int32_t net_listen_check(const struct sockaddr_storage *ss, const char *text, bool tls, const net_expose_t *x)
{
    static const net_expose_t none = {0};
    if (x == NULL) x = &none;
    if (tls || net_addr_is_local(ss)) return SMEM_OK;
    const char *what = x->what ? x->what : "listener";
    const char *sw = x->switch_opt ? x->switch_opt : NET_INSECURE_ENV "=1";
    if (!x->allow_insecure)
        return util_err_set(SMEM_INSECURE,
                            "refusing to listen on %s (%s) without TLS: anyone who can reach that address could read "
                            "and write. To fix: TLS (%s); or listen on loopback; or, to accept an open port, %s",
                            text, what, x->tls_opt ? x->tls_opt : "its TLS options", sw);
    LOG_WARN("INSECURE: %s listens on %s without TLS (allowed by %s): anyone who reaches the port can read and write",
             what, text, sw);
    return SMEM_OK;
}
