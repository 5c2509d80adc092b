/*
 * The tcp transport's iface: choose the listen address, bind, publish
 * "tcp://IP:PORT", start the data server; and the ops table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "transport/tcp/tcp.h"
#include "util/util_log.h"
#include "util/util_status.h"

static void tcp_ip_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
    else inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof(ip));
    snprintf(buf, cap, "%s", ip);
}

static uint16_t tcp_ss_port(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                          : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void tcp_ss_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Whether the first `prefix` bits of a and b agree. */
static bool tcp_prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

/* "NET/PREFIX" (v4, or v6 without brackets) → the address of a local interface in that subnet. */
static int32_t tcp_subnet_pick(const char *url, const char *net, struct sockaddr_storage *ss, socklen_t *len)
{
    char ip[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(net, '/');
    size_t il = (size_t)(slash - net);
    if (il == 0 || il >= sizeof(ip))
        return util_err_set(SMEM_INVALID_PARAM, "'%s': bad network address before '/'", url);
    memcpy(ip, net, il);
    ip[il] = '\0';
    char *end = NULL;
    unsigned long prefix = strtoul(slash + 1, &end, 10);
    uint8_t want[16];
    int fam = inet_pton(AF_INET, ip, want) == 1 ? AF_INET : inet_pton(AF_INET6, ip, want) == 1 ? AF_INET6 : 0;
    unsigned max = fam == AF_INET ? 32 : 128;
    if (fam == 0 || end == slash + 1 || *end != '\0' || prefix > max)
        return util_err_set(SMEM_INVALID_PARAM, "'%s': expected NET/PREFIX with a numeric network and a prefix 0..%u",
                            url, fam == AF_INET6 ? 128u : 32u);
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) return util_err_set(SMEM_IO, "getifaddrs: %s", strerror(errno));
    int32_t rc = util_err_set(SMEM_INVALID_PARAM, "'%s': no local interface has an address in %s/%lu", url, ip, prefix);
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != fam || !(i->ifa_flags & IFF_UP)) continue;
        const uint8_t *have = fam == AF_INET ? (const uint8_t *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                                             : (const uint8_t *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        if (!tcp_prefix_match(have, want, (unsigned)prefix)) continue;
        memset(ss, 0, sizeof(*ss));
        *len = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        memcpy(ss, i->ifa_addr, *len);
        LOG_DEBUG("tcp: %s picks interface %s", url, i->ifa_name);
        rc = SMEM_OK;
        break;
    }
    freeifaddrs(ifs);
    return rc;
}

int32_t tcp_addr_resolve(const char *url, struct sockaddr_storage *ss, socklen_t *len, char *host, size_t host_cap)
{
    if (url == NULL || strncmp(url, "tcp://", 6) != 0)
        return util_err_set(SMEM_INVALID_PARAM, "'%s' is not a tcp address (tcp://IP:PORT or tcp://NET/PREFIX:PORT)",
                            url ? url : "(null)");
    const char *rest = url + 6;
    const char *colon = strrchr(rest, ':');
    if (strchr(rest, '/') != NULL && colon != NULL && colon > strchr(rest, '/')) {
        char net[INET6_ADDRSTRLEN + 8];
        const char *b = rest, *e = colon;
        if (*b == '[' && e > b && e[-1] == ']') { /* [v6/prefix]:port */
            b++;
            e--;
        }
        if ((size_t)(e - b) >= sizeof(net)) return util_err_set(SMEM_INVALID_PARAM, "'%s': network too long", url);
        memcpy(net, b, (size_t)(e - b));
        net[e - b] = '\0';
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "tcp://127.0.0.1%s", colon); /* reuse the port parser */
        net_addr_t pa;
        int32_t rc = net_addr_parse(tmp, &pa);
        if (rc != SMEM_OK) return rc;
        rc = tcp_subnet_pick(url, net, ss, len);
        if (rc != SMEM_OK) return rc;
        tcp_ss_set_port(ss, ntohs(((struct sockaddr_in *)&pa.ss)->sin_port));
    } else {
        net_addr_t a;
        int32_t rc = net_addr_parse(url, &a);
        if (rc != SMEM_OK) return rc;
        if (a.family != AF_INET && a.family != AF_INET6)
            return util_err_set(SMEM_INVALID_PARAM, "'%s' is not an IP address", url);
        memcpy(ss, &a.ss, sizeof(*ss));
        *len = a.len;
    }
    if (host != NULL) tcp_ip_str(ss, host, host_cap);
    return SMEM_OK;
}

/* The local address that routes to reach_url's host (loopback for none or unix://). */
static int32_t tcp_addr_auto(const char *reach_url, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *lo = (struct sockaddr_in *)ss;
    lo->sin_family = AF_INET;
    lo->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *len = sizeof(*lo);
    net_addr_t a;
    if (reach_url == NULL || reach_url[0] == '\0' || net_addr_parse(reach_url, &a) != SMEM_OK ||
        (a.family != AF_INET && a.family != AF_INET6))
        return SMEM_OK;
    int fd = socket(a.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return util_err_set(SMEM_IO, "socket: %s", strerror(errno));
    struct sockaddr_storage me;
    socklen_t ml = sizeof(me);
    int32_t rc = SMEM_OK;
    /* A UDP connect sends nothing: it only asks the kernel which source address it would use. */
    if (connect(fd, (struct sockaddr *)&a.ss, a.len) != 0 || getsockname(fd, (struct sockaddr *)&me, &ml) != 0)
        rc = util_err_set(SMEM_CONN_FAILED, "no route to %s to choose a data-plane address: %s", reach_url,
                          strerror(errno));
    close(fd);
    if (rc != SMEM_OK) return rc;
    memcpy(ss, &me, ml);
    *len = ml;
    tcp_ss_set_port(ss, 0);
    return SMEM_OK;
}

static bool tcp_ss_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, &in6addr_any, sizeof(struct in6_addr)) == 0;
}

static int32_t tcp_iface_open(tp_iface_t *base, const tp_iface_cfg_t *cfg)
{
    tcp_iface_t *ifc = (tcp_iface_t *)base;
    ifc->lfd = -1;
    ifc->stop_fd = -1;
    if ((cfg->tls_server == NULL) != (cfg->tls_client == NULL))
        return util_err_set(SMEM_INVALID_PARAM, "%s: TLS on the data channel needs both a server and a client context",
                            base->name);
    if (cfg->conns_per_peer > TCP_CONNS_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "%s: %u connections per peer (1..%u)", base->name,
                            cfg->conns_per_peer, TCP_CONNS_MAX);
    if (cfg->chunk_size != 0 && (cfg->chunk_size < TCP_CHUNK_MIN || cfg->chunk_size > TCP_REQ_BYTES_MAX))
        return util_err_set(SMEM_INVALID_PARAM, "%s: chunk size %llu outside %llu..%llu", base->name,
                            (unsigned long long)cfg->chunk_size, (unsigned long long)TCP_CHUNK_MIN,
                            (unsigned long long)TCP_REQ_BYTES_MAX);
    if ((cfg->cred == NULL) != (cfg->cred_len == 0) || cfg->cred_len > TCP_CRED_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "%s: cluster credential of %u bytes (1..%u, or none)", base->name,
                            cfg->cred_len, TCP_CRED_MAX);
    if (cfg->cred_len) memcpy(ifc->cred.key, cfg->cred, cfg->cred_len);
    ifc->cred.len = cfg->cred_len;
    ifc->resolver = cfg->resolver;
    ifc->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : TCP_TIMEOUT_DEFAULT_MS;
    ifc->conns = cfg->conns_per_peer ? cfg->conns_per_peer : TCP_CONNS_DEFAULT;
    ifc->chunk = cfg->chunk_size ? cfg->chunk_size : TCP_CHUNK_DEFAULT;
    ifc->tls_server = cfg->tls_server;
    ifc->tls_client = cfg->tls_client;
    pthread_mutex_init(&ifc->lock, NULL);
    ifc->lock_inited = true;

    struct sockaddr_storage ss;
    socklen_t sl = 0;
    bool auto_addr = cfg->listen_url == NULL || cfg->listen_url[0] == '\0';
    int32_t rc = auto_addr ? tcp_addr_auto(cfg->reach_url, &ss, &sl) : tcp_addr_resolve(cfg->listen_url, &ss, &sl, NULL, 0);
    if (rc != SMEM_OK) return rc;
    ifc->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ifc->lfd < 0) return util_err_set(SMEM_IO, "%s: socket: %s", base->name, strerror(errno));
    int one = 1;
    setsockopt(ifc->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    char ip[INET6_ADDRSTRLEN], where[INET6_ADDRSTRLEN + 16];
    tcp_ip_str(&ss, ip, sizeof(ip));
    snprintf(where, sizeof(where), ss.ss_family == AF_INET6 ? "tcp://[%s]:%u" : "tcp://%s:%u", ip, tcp_ss_port(&ss));
    bool guarded = ifc->cred.len != 0 && cfg->cred_private; /* reaching the port is not enough */
    rc = net_listen_check(&ss, where, cfg->tls_server != NULL || guarded, &cfg->expose);
    if (rc != SMEM_OK) return rc;
    /* A given port is the first of a range: ranks of one host that share a config (the seed's examples give
     * every rank the same hcomUrl) each take the next free one; the port bound is the one published. */
    uint16_t want = tcp_ss_port(&ss);
    int err = 0;
    for (uint32_t k = 0; k <= (want ? TCP_PORT_WALK : 0); k++) {
        if (want && (uint32_t)want + k > UINT16_MAX) break;
        if (want) tcp_ss_set_port(&ss, (uint16_t)(want + k));
        err = bind(ifc->lfd, (struct sockaddr *)&ss, sl) == 0 ? 0 : errno;
        if (err != EADDRINUSE) break;
    }
    if (err != 0)
        return util_err_set(err == EADDRINUSE ? SMEM_RESOURCE_IN_USE : SMEM_IO,
                            "%s: bind to %s port %u (and the %u after it): %s", base->name, ip, want,
                            want ? TCP_PORT_WALK : 0u, strerror(err));
    if (want && tcp_ss_port(&ss) != want)
        LOG_INFO("%s: port %u is in use, the data server takes %u (the next free one)", base->name, want,
                 tcp_ss_port(&ss));
    if (listen(ifc->lfd, 256) != 0) return util_err_set(SMEM_IO, "%s: listen: %s", base->name, strerror(errno));
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    getsockname(ifc->lfd, (struct sockaddr *)&bound, &bl);
    uint16_t port = tcp_ss_port(&bound);
    if (tcp_ss_wildcard(&ss)) { /* peers need a concrete address: the one that reaches reach_url */
        rc = tcp_addr_auto(cfg->reach_url, &ss, &sl);
        if (rc != SMEM_OK) return rc;
        tcp_ip_str(&ss, ip, sizeof(ip));
    }
    snprintf(ifc->addr, sizeof(ifc->addr), ss.ss_family == AF_INET6 ? "tcp://[%s]:%u" : "tcp://%s:%u", ip, port);
    ifc->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ifc->stop_fd < 0) return util_err_set(SMEM_IO, "%s: eventfd: %s", base->name, strerror(errno));
    rc = tcp_server_start(ifc);
    if (rc != SMEM_OK) return rc;
    LOG_INFO("%s: tcp data server on %s (%u connections per peer, %llu-byte chunks%s%s)", base->name, ifc->addr,
             ifc->conns, (unsigned long long)ifc->chunk, ifc->tls_server ? ", TLS" : "",
             ifc->cred.len ? ", members only (cluster credential)" : "");
    return SMEM_OK;
}

static void tcp_iface_close(tp_iface_t *base)
{
    tcp_iface_t *ifc = (tcp_iface_t *)base;
    tcp_server_stop(ifc);
    if (ifc->lfd >= 0) close(ifc->lfd);
    if (ifc->stop_fd >= 0) close(ifc->stop_fd);
    ifc->lfd = ifc->stop_fd = -1;
    if (ifc->lock_inited) pthread_mutex_destroy(&ifc->lock);
    ifc->lock_inited = false;
    OPENSSL_cleanse(ifc->cred.key, sizeof(ifc->cred.key));
}

static int32_t tcp_iface_addr(tp_iface_t *base, char *buf, size_t cap)
{
    tcp_iface_t *ifc = (tcp_iface_t *)base;
    if (buf == NULL || strlen(ifc->addr) >= cap)
        return util_err_set(SMEM_INVALID_PARAM, "%s: address buffer of %zu bytes is too small", base->name, cap);
    memcpy(buf, ifc->addr, strlen(ifc->addr) + 1);
    return SMEM_OK;
}

const tp_ops_t tp_tcp_ops = {
    .name = "tcp",
    .caps = {.flags = TP_CAP_SAME_HOST | TP_CAP_REMOTE | TP_CAP_HOST_MEM, .max_msg = UINT64_MAX, .max_pieces = UINT32_MAX},
    .iface_size = sizeof(tcp_iface_t),
    .ep_size = sizeof(tcp_ep_t),
    .iface_open = tcp_iface_open,
    .iface_close = tcp_iface_close,
    .iface_addr = tcp_iface_addr,
    .ep_connect = tcp_ep_connect,
    .ep_close = tcp_ep_close,
    .put = tcp_ep_put,
    .get = tcp_ep_get,
};
