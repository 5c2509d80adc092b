/*
 * Listening sockets (accept on the loop thread) and outgoing connections
 * (non-blocking connect handed to the loop; the caller waits on the
 * connection's condition variable until it is open, failed or timed out).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/net_int.h"
#include "util/util_accept.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define NET_LISTEN_BACKLOG 512
#define NET_CONNECT_SLACK_MS 1000 /* the loop enforces the deadline; this only guards against a stuck loop */

static void net_sock_nodelay(int fd, int family)
{
    if (family == AF_INET || family == AF_INET6) {
        int one = 1;
        /* Control messages are small and latency-bound. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

static void net_listener_on_event(net_ev_t *ev, uint32_t events)
{
    (void)events;
    net_listener_t *l = (net_listener_t *)ev;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        int fd = util_acceptor_accept(&l->acc, l->ev.fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC,
                                      l->addr.text);
        if (fd == UTIL_ACCEPT_SHED) {
            continue;
        }
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                LOG_WARN("net: accept on %s: %s", l->addr.text, strerror(errno));
            }
            return;
        }
        if (l->addr.family == AF_UNIX) {
            ss.ss_family = AF_UNIX;
        }
        net_sock_nodelay(fd, l->addr.family);
        net_conn_t *c = net_conn_new(l->loop, fd, &l->opts, &l->cbs, false, &ss);
        if (c == NULL) {
            LOG_WARN("net: dropping a connection on %s: %s", l->addr.text, util_err_get());
            close(fd);
            continue;
        }
        LOG_DEBUG("net: accepted %s on %s (conn %llu)", c->peer, l->addr.text, (unsigned long long)c->id);
        net_conn_start(c);
    }
}

static void net_listener_begin(void *arg)
{
    net_listener_t *l = arg;
    if (net_loop_ep_ctl(l->loop, EPOLL_CTL_ADD, &l->ev, EPOLLIN) != 0) {
        LOG_ERROR("net: epoll_ctl for listener %s: %s", l->addr.text, strerror(errno));
    }
    l->next = l->loop->listeners;
    l->loop->listeners = l;
    l->linked = true;
}

void net_listener_stop(void *arg)
{
    net_listener_t *l = arg;
    net_loop_t *loop = l->loop;
    if (l->linked) {
        net_listener_t **pp = &loop->listeners;
        while (*pp != NULL && *pp != l) {
            pp = &(*pp)->next;
        }
        if (*pp == l) {
            *pp = l->next;
        }
        l->linked = false;
    }
    if (l->ev.fd >= 0) {
        net_loop_ep_ctl(loop, EPOLL_CTL_DEL, &l->ev, 0);
        close(l->ev.fd);
        l->ev.fd = -1;
    }
    util_acceptor_fini(&l->acc);
    if (l->unlink_on_close) {
        unlink(((struct sockaddr_un *)&l->addr.ss)->sun_path);
    }
    l->next = loop->dead_listeners;
    loop->dead_listeners = l;
}

int32_t net_listen(net_loop_t *loop, const char *url, const net_opts_t *opts, const net_conn_cbs_t *cbs,
                   net_listener_t **out)
{
    if (loop == NULL || url == NULL || cbs == NULL || out == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "net_listen: NULL argument");
    }
    net_opts_t o;
    if (opts != NULL) {
        o = *opts;
    } else {
        net_opts_init(&o);
    }
    if (o.tls != NULL && !o.tls->server) {
        return util_err_set(SMEM_INVALID_PARAM, "net_listen %s: TLS context was created for a client", url);
    }
    net_addr_t a;
    int32_t rc = net_addr_parse(url, &a);
    if (rc == SMEM_OK) {
        rc = net_listen_check(&a.ss, a.text, o.tls != NULL, &o.expose);
    }
    if (rc != SMEM_OK) {
        return rc;
    }
    int fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return util_err_set(SMEM_IO, "socket for %s: %s", a.text, strerror(errno));
    }
    const struct sockaddr_un *su = (const struct sockaddr_un *)&a.ss;
    bool path_socket = a.family == AF_UNIX && su->sun_path[0] != '\0';
    if (a.family != AF_UNIX) {
        int one = 1;
        /* Restarting a server on its port must not wait for TIME_WAIT. */
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    } else if (path_socket) {
        struct stat st;
        if (lstat(su->sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            unlink(su->sun_path); /* a stale socket from a previous run */
        }
    }
    if (bind(fd, (const struct sockaddr *)&a.ss, a.len) != 0) {
        rc = util_err_set(errno == EADDRINUSE ? SMEM_RESOURCE_IN_USE : SMEM_IO, "bind %s: %s", a.text,
                          strerror(errno));
        goto close_fd;
    }
    if (listen(fd, NET_LISTEN_BACKLOG) != 0) {
        rc = util_err_set(SMEM_IO, "listen %s: %s", a.text, strerror(errno));
        goto unlink_path;
    }
    uint16_t port = 0;
    if (a.family != AF_UNIX) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                 : ((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    net_listener_t *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "net_listen: cannot allocate");
        goto unlink_path;
    }
    l->ev.fd = fd;
    util_acceptor_init(&l->acc);
    l->ev.on_event = net_listener_on_event;
    l->loop = loop;
    l->opts = o;
    l->cbs = *cbs;
    l->addr = a;
    l->port = port;
    l->unlink_on_close = path_socket;
    if (net_loop_is_stopping(loop)) {
        util_acceptor_fini(&l->acc);
        free(l);
        rc = util_err_set(SMEM_NOT_STARTED, "net_listen %s: loop %s is stopping", a.text, loop->name);
        goto unlink_path;
    }
    net_loop_run_sync(loop, net_listener_begin, l);
    LOG_INFO("net: listening on %s%s", a.text, o.tls != NULL ? " (TLS)" : "");
    *out = l;
    return SMEM_OK;

unlink_path:
    if (path_socket) {
        unlink(su->sun_path);
    }
close_fd:
    close(fd);
    return rc;
}

uint16_t net_listener_port(const net_listener_t *l) { return l != NULL ? l->port : 0; }

void net_listener_close(net_listener_t *l)
{
    if (l == NULL) {
        return;
    }
    /* Synchronous: when this returns the port is free to bind again. */
    net_loop_run_sync(l->loop, net_listener_stop, l);
}

/* ---------- outgoing ---------- */
static void net_connect_start_task(void *arg) { net_conn_start(arg); }

int32_t net_connect_begin(net_loop_t *loop, const char *url, const net_opts_t *opts, const net_conn_cbs_t *cbs,
                          uint32_t timeout_ms, net_conn_t **out)
{
    if (loop == NULL || url == NULL || out == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "net_connect: NULL argument");
    }
    net_opts_t o;
    if (opts != NULL) {
        o = *opts;
    } else {
        net_opts_init(&o);
    }
    if (o.tls != NULL && o.tls->server) {
        return util_err_set(SMEM_INVALID_PARAM, "net_connect %s: TLS context was created for a server", url);
    }
    net_addr_t a;
    int32_t rc = net_addr_parse(url, &a);
    if (rc != SMEM_OK) {
        return rc;
    }
    int fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return util_err_set(SMEM_IO, "socket for %s: %s", a.text, strerror(errno));
    }
    net_sock_nodelay(fd, a.family);
    int r;
    do {
        r = connect(fd, (const struct sockaddr *)&a.ss, a.len);
    } while (r != 0 && errno == EINTR);
    if (r != 0 && errno != EINPROGRESS) {
        rc = util_err_set(SMEM_CONN_FAILED, "connect to %s: %s", a.text, strerror(errno));
        close(fd);
        return rc;
    }
    net_conn_t *c = net_conn_new(loop, fd, &o, cbs, true, &a.ss);
    if (c == NULL) {
        close(fd);
        return SMEM_MALLOC_FAILED;
    }
    if (a.family != AF_UNIX) {
        /* peer is "ip:port" or "[ip]:port"; the certificate must name the ip. */
        const char *p = c->peer[0] == '[' ? c->peer + 1 : c->peer;
        size_t n = strcspn(p, c->peer[0] == '[' ? "]" : ":");
        if (n < sizeof(c->verify_host)) {
            memcpy(c->verify_host, p, n);
            c->verify_host[n] = '\0';
        }
    }
    c->connected_now = (r == 0);
    c->deadline_ms = util_now_ms() + timeout_ms;
    atomic_fetch_add(&c->refs, 1); /* the caller's */
    if (net_loop_post(loop, net_connect_start_task, c) != SMEM_OK) {
        rc = util_err_set(SMEM_NOT_STARTED, "net_connect %s: loop %s is stopped", a.text, loop->name);
        net_conn_free(c);
        return rc;
    }
    *out = c;
    return SMEM_OK;
}

int32_t net_connect_wait(net_conn_t *c, uint32_t timeout_ms)
{
    struct timespec ts = util_abstime_after_ms((int64_t)timeout_ms + NET_CONNECT_SLACK_MS);
    bool asked = false;
    pthread_mutex_lock(&c->lock);
    while (!c->connect_done) {
        if (asked) {
            pthread_cond_wait(&c->cond, &c->lock);
        } else if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT) {
            asked = true;
            pthread_mutex_unlock(&c->lock);
            net_conn_close_reason(c, SMEM_TIMEOUT);
            pthread_mutex_lock(&c->lock);
        }
    }
    int32_t rc = c->connect_rc;
    char err[sizeof(c->err)];
    memcpy(err, c->err, sizeof(err));
    pthread_mutex_unlock(&c->lock);
    if (rc != SMEM_OK) {
        net_conn_put(c);
        return util_err_set(rc, "%s", err);
    }
    return SMEM_OK;
}

int32_t net_connect(net_loop_t *loop, const char *url, const net_opts_t *opts, const net_conn_cbs_t *cbs,
                    uint32_t timeout_ms, net_conn_t **out)
{
    if (out == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "net_connect: NULL argument");
    }
    net_conn_t *c;
    int32_t rc = net_connect_begin(loop, url, opts, cbs, timeout_ms, &c);
    if (rc != SMEM_OK) {
        return rc;
    }
    rc = net_connect_wait(c, timeout_ms);
    if (rc != SMEM_OK) {
        return rc;
    }
    *out = c;
    return SMEM_OK;
}
