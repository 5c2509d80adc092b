/*
 * The tcp data server: one acceptor thread and one thread per connection.
 *
 * Why threads per connection and not one epoll loop: the work of a data
 * server is copying payload between the socket and memory (recvmsg straight
 * into the destination, sendmsg straight from the source). On a 2-core
 * machine one event-loop thread would do all those copies on one core,
 * while with a thread per connection the kernel copies of a peer's 4
 * parallel connections spread over every core, and a connection blocked on a
 * slow peer (or a slow resolver pin) never delays another. The per-thread
 * cost is a stack and a wake-up per request; requests are large (chunks up to
 * 1 MiB) and connections few (peers × 4), so that cost is small. A cap
 * (TCP_SERVER_CONNS_MAX) bounds the threads; above it connections are refused
 * with a WARN.
 *
 * Each request: the header and piece table must arrive within timeout_ms of
 * their first byte (a slow or silent client is cut off); the payload may take
 * longer as long as bytes keep moving (no stall of timeout_ms). Every piece is
 * resolved (bounds-checked and pinned) before any byte of it is touched; a
 * bad piece fails the whole request with the resolver's status and a WARN
 * naming the peer, window, offset and length. Protocol errors (bad magic,
 * version, lengths that do not add up) close the connection with a WARN:
 * after them the stream cannot be trusted to be in step.
 *
 * Shutdown: tcp_server_stop signals the stop eventfd (idle connection
 * threads and the acceptor poll it), shuts down every connection's socket
 * (threads inside a transfer fail at once), joins them all, and only then
 * closes the fds, so an fd number is never reused under a running thread.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/tcp/tcp.h"
#include "util/util_accept.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"
#include "util/util_tsan.h"

#define TCP_DRAIN_BUF (64u << 10)

struct tcp_sconn {
    tcp_sconn_t *next;
    tcp_iface_t *ifc;
    int fd;
    tcp_conn_t conn; /* its fd is closed by the reaper after join, never by the thread */
    pthread_t th;
    bool done; /* atomic: the thread has finished */
    uint64_t idle_since_ms; /* atomic: waiting for a request since then; 0 while serving one */
    bool evicted;           /* under ifc->lock: shut down to make room */
    /* per-connection scratch, allocated by the thread */
    uint8_t *table;
    tcp_span_t *spans;
    tp_mem_t *mems;
    struct iovec *iov;
};

/* Read and drop n payload bytes of a rejected WRITE so the stream stays in step. */
static int32_t tcp_server_drain(tcp_iface_t *ifc, tcp_conn_t *c, uint64_t n)
{
    uint8_t *buf = malloc(TCP_DRAIN_BUF);
    if (buf == NULL) return util_err_set(SMEM_MALLOC_FAILED, "out of memory draining a rejected write");
    int32_t rc = SMEM_OK;
    while (n > 0 && rc == SMEM_OK) {
        struct iovec v = {.iov_base = buf, .iov_len = n < TCP_DRAIN_BUF ? n : TCP_DRAIN_BUF};
        n -= v.iov_len;
        rc = tcp_conn_io_all(c, false, &v, 1, ifc->timeout_ms, 0);
    }
    free(buf);
    return rc;
}

static int32_t tcp_server_reply(tcp_iface_t *ifc, tcp_conn_t *c, const tcp_req_t *r, int32_t status)
{
    uint8_t hdr[TCP_RESP_SIZE];
    tcp_resp_encode(&(tcp_resp_t){.op = (uint8_t)(r->op | TCP_OP_RESP), .status = status, .seq = r->seq}, hdr);
    struct iovec v = {.iov_base = hdr, .iov_len = sizeof(hdr)};
    return tcp_conn_io_all(c, true, &v, 1, ifc->timeout_ms, 0);
}

/* Serve one request. Non-OK: close the connection (the reason is logged here). */
static int32_t tcp_server_one(tcp_sconn_t *sc)
{
    tcp_iface_t *ifc = sc->ifc;
    tcp_conn_t *c = &sc->conn;
    const char *who = ifc->base.name;
    __atomic_store_n(&sc->idle_since_ms, util_now_ms(), __ATOMIC_RELAXED);
    bool idle_out = false;
    if (!tcp_conn_wait_readable(c, ifc->stop_fd, TCP_SERVER_IDLE_MS, &idle_out)) {
        if (idle_out) LOG_DEBUG("%s: data connection from %s idle for %u ms; closing", who, c->peer, TCP_SERVER_IDLE_MS);
        return SMEM_EXITING;
    }
    __atomic_store_n(&sc->idle_since_ms, 0, __ATOMIC_RELAXED);
    uint8_t hdr[TCP_REQ_HDR_SIZE];
    struct iovec v = {.iov_base = hdr, .iov_len = sizeof(hdr)};
    int64_t got = tcp_conn_io(c, false, &v, 1);
    if (got < 0) {
        LOG_DEBUG("%s: data connection from %s closed: %s", who, c->peer, util_err_get());
        return (int32_t)got;
    }
    uint64_t deadline = util_now_ms() + ifc->timeout_ms;
    v.iov_base = hdr + got;
    v.iov_len = sizeof(hdr) - (size_t)got;
    int32_t rc = tcp_conn_io_all(c, false, &v, 1, ifc->timeout_ms, deadline);
    if (rc != SMEM_OK) {
        LOG_WARN("%s: data connection from %s: request header cut short (%lld of %u bytes): %s; closing", who,
                 c->peer, (long long)got, TCP_REQ_HDR_SIZE, util_err_get());
        return rc;
    }
    tcp_req_t r;
    rc = tcp_req_decode(hdr, sizeof(hdr), &r);
    if (rc != SMEM_OK) {
        LOG_WARN("%s: data connection from %s: bad request header: %s; closing", who, c->peer, util_err_get());
        return rc;
    }
    size_t tlen = (size_t)(r.npieces - 1) * TCP_PIECE_SIZE;
    v = (struct iovec){.iov_base = sc->table, .iov_len = tlen};
    rc = tcp_conn_io_all(c, false, &v, 1, ifc->timeout_ms, deadline);
    if (rc == SMEM_OK) rc = tcp_req_check(&r, sc->table, tlen, sc->spans);
    if (rc != SMEM_OK) {
        LOG_WARN("%s: data connection from %s: request %llu (%u pieces): %s; closing", who, c->peer,
                 (unsigned long long)r.seq, r.npieces, util_err_get());
        return rc;
    }

    bool write = r.op == TCP_OP_WRITE;
    tp_access_t acc = write ? TP_ACCESS_WRITE : TP_ACCESS_READ;
    int32_t status = SMEM_OK;
    uint32_t pinned = 0;
    for (; pinned < r.npieces; pinned++) {
        const tcp_span_t *s = &sc->spans[pinned];
        status = ifc->resolver.resolve(ifc->resolver.arg, r.window, s->offset, s->length, acc, &sc->mems[pinned]);
        if (status != SMEM_OK) {
            LOG_WARN("%s: %s from %s rejected: window %u, piece %u of %u, offset %llu, length %llu: %s", who,
                     write ? "write" : "read", c->peer, r.window, pinned, r.npieces, (unsigned long long)s->offset,
                     (unsigned long long)s->length, util_err_get());
            break;
        }
        sc->iov[pinned + 1] = (struct iovec){.iov_base = sc->mems[pinned].ptr, .iov_len = s->length};
    }
    if (status == SMEM_OK && write) {
        rc = tcp_conn_io_all(c, false, sc->iov + 1, (int)r.npieces, ifc->timeout_ms, 0);
    } else if (status == SMEM_OK) {
        uint8_t rh[TCP_RESP_SIZE];
        tcp_resp_encode(&(tcp_resp_t){.op = TCP_OP_READ | TCP_OP_RESP, .status = SMEM_OK, .seq = r.seq,
                                      .length = r.total},
                        rh);
        sc->iov[0] = (struct iovec){.iov_base = rh, .iov_len = sizeof(rh)};
        rc = tcp_conn_io_all(c, true, sc->iov, (int)r.npieces + 1, ifc->timeout_ms, 0);
    }
    for (uint32_t i = 0; i < pinned; i++) ifc->resolver.release(ifc->resolver.arg, r.window, &sc->mems[i]);
    if (status == SMEM_OK && rc == SMEM_OK) util_tsan_remote_done(); /* before the writer hears it landed */
    if (rc != SMEM_OK) {
        LOG_WARN("%s: %s of %llu bytes (request %llu) with %s failed: %s; closing", who, write ? "write" : "read",
                 (unsigned long long)r.total, (unsigned long long)r.seq, c->peer, util_err_get());
        return rc;
    }
    if (status != SMEM_OK && write) {
        rc = tcp_server_drain(ifc, c, r.total);
        if (rc != SMEM_OK) {
            LOG_WARN("%s: draining a rejected write from %s: %s; closing", who, c->peer, util_err_get());
            return rc;
        }
    }
    if (write || status != SMEM_OK) {
        rc = tcp_server_reply(ifc, c, &r, status);
        if (rc != SMEM_OK) LOG_WARN("%s: answering %s: %s; closing", who, c->peer, util_err_get());
    }
    return rc;
}

/* A WARN per rejected connection (no credential, failed TLS), at most one a
 * second: whoever keeps knocking must not fill the log. */
static void tcp_server_log_reject(tcp_iface_t *ifc, const char *peer)
{
    uint64_t now = util_now_ms(), last = __atomic_load_n(&ifc->reject_log_ms, __ATOMIC_RELAXED);
    if (last != 0 && now - last < 1000) {
        __atomic_add_fetch(&ifc->reject_quiet, 1, __ATOMIC_RELAXED);
        return;
    }
    if (!__atomic_compare_exchange_n(&ifc->reject_log_ms, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        __atomic_add_fetch(&ifc->reject_quiet, 1, __ATOMIC_RELAXED);
        return;
    }
    uint32_t quiet = __atomic_exchange_n(&ifc->reject_quiet, 0, __ATOMIC_RELAXED);
    if (quiet > 0)
        LOG_WARN("%s: data connection from %s rejected: %s (and %u more rejected since the last report)",
                 ifc->base.name, peer, util_err_get(), quiet);
    else
        LOG_WARN("%s: data connection from %s rejected: %s", ifc->base.name, peer, util_err_get());
}

static void *tcp_sconn_main(void *arg)
{
    tcp_sconn_t *sc = arg;
    tcp_iface_t *ifc = sc->ifc;
    sc->table = malloc((size_t)TCP_PIECES_MAX * TCP_PIECE_SIZE);
    sc->spans = malloc((size_t)TCP_PIECES_MAX * sizeof(*sc->spans));
    sc->mems = malloc((size_t)TCP_PIECES_MAX * sizeof(*sc->mems));
    sc->iov = malloc((size_t)(TCP_PIECES_MAX + 1) * sizeof(*sc->iov));
    int32_t rc;
    if (sc->table == NULL || sc->spans == NULL || sc->mems == NULL || sc->iov == NULL)
        LOG_ERROR("%s: out of memory serving %s", ifc->base.name, sc->conn.peer);
    else if ((rc = tcp_conn_accepted(&sc->conn, sc->fd, ifc->tls_server, &ifc->cred, ifc->timeout_ms)) != SMEM_OK)
        tcp_server_log_reject(ifc, sc->conn.peer);
    else
        while (tcp_server_one(sc) == SMEM_OK) {}
    free(sc->table);
    free(sc->spans);
    free(sc->mems);
    free(sc->iov);
    sc->table = NULL;
    sc->spans = NULL;
    sc->mems = NULL;
    sc->iov = NULL;
    if (sc->conn.fd >= 0) shutdown(sc->conn.fd, SHUT_RDWR); /* the peer sees the close now, not at the reap */
    __atomic_store_n(&sc->done, true, __ATOMIC_RELEASE);
    return NULL;
}

static void tcp_sconn_free(tcp_sconn_t *sc)
{
    pthread_join(sc->th, NULL);
    if (sc->conn.fd < 0 && sc->fd >= 0) close(sc->fd); /* never adopted */
    tcp_conn_close(&sc->conn);
    free(sc);
}

/* Join and free finished connection threads (acceptor thread). */
static void tcp_server_reap(tcp_iface_t *ifc)
{
    tcp_sconn_t *dead = NULL;
    pthread_mutex_lock(&ifc->lock);
    for (tcp_sconn_t **pp = &ifc->sconns; *pp != NULL;) {
        tcp_sconn_t *sc = *pp;
        if (__atomic_load_n(&sc->done, __ATOMIC_ACQUIRE)) {
            *pp = sc->next;
            ifc->nsconns--;
            sc->next = dead;
            dead = sc;
        } else {
            pp = &sc->next;
        }
    }
    pthread_mutex_unlock(&ifc->lock);
    while (dead != NULL) {
        tcp_sconn_t *sc = dead;
        dead = sc->next;
        tcp_sconn_free(sc);
    }
}

/* At the cap: close the connection idle the longest (a client redials an idle
 * pooled connection it finds closed), so idle sockets never lock out new
 * peers. false when none is idle. */
static bool tcp_server_evict_idle(tcp_iface_t *ifc, uint32_t n)
{
    pthread_mutex_lock(&ifc->lock);
    tcp_sconn_t *victim = NULL;
    uint64_t oldest = UINT64_MAX;
    for (tcp_sconn_t *sc = ifc->sconns; sc != NULL; sc = sc->next) {
        uint64_t since = __atomic_load_n(&sc->idle_since_ms, __ATOMIC_RELAXED);
        if (since == 0 || __atomic_load_n(&sc->done, __ATOMIC_ACQUIRE) || sc->evicted) continue;
        if (since < oldest) {
            oldest = since;
            victim = sc;
        }
    }
    if (victim != NULL) {
        victim->evicted = true;
        shutdown(victim->fd, SHUT_RDWR); /* its thread sees EOF and ends; the reaper frees it */
        LOG_WARN("%s: %u data connections open (limit %u): closed the one idle longest (%s, %llu ms) to make room",
                 ifc->base.name, n, TCP_SERVER_CONNS_MAX, victim->conn.peer,
                 (unsigned long long)(util_now_ms() - oldest));
    }
    pthread_mutex_unlock(&ifc->lock);
    return victim != NULL;
}

static void tcp_server_accept_one(tcp_iface_t *ifc)
{
    int fd = util_acceptor_accept(&ifc->acc, ifc->lfd, NULL, NULL, SOCK_CLOEXEC, ifc->base.name);
    if (fd == UTIL_ACCEPT_SHED) return; /* out of descriptors: one connection dropped, poll again */
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            LOG_WARN("%s: accept: %s", ifc->base.name, strerror(errno));
        if (errno == EMFILE || errno == ENFILE) usleep(10000); /* not even a spare descriptor: let some free up */
        return;
    }
    tcp_server_reap(ifc);
    pthread_mutex_lock(&ifc->lock);
    uint32_t n = ifc->nsconns;
    pthread_mutex_unlock(&ifc->lock);
    if (n >= TCP_SERVER_CONNS_MAX && !tcp_server_evict_idle(ifc, n)) {
        LOG_WARN("%s: refusing a data connection: %u connections open (limit %u), none of them idle",
                 ifc->base.name, n, TCP_SERVER_CONNS_MAX);
        close(fd);
        return;
    }
    tcp_sconn_t *sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        LOG_ERROR("%s: out of memory accepting a data connection", ifc->base.name);
        close(fd);
        return;
    }
    sc->ifc = ifc;
    sc->fd = fd;
    tcp_conn_init(&sc->conn);
    snprintf(sc->conn.peer, sizeof(sc->conn.peer), "?");
    pthread_mutex_lock(&ifc->lock);
    if (pthread_create(&sc->th, NULL, tcp_sconn_main, sc) != 0) {
        pthread_mutex_unlock(&ifc->lock);
        LOG_ERROR("%s: cannot start a thread for a data connection", ifc->base.name);
        close(fd);
        free(sc);
        return;
    }
    sc->next = ifc->sconns;
    ifc->sconns = sc;
    ifc->nsconns++;
    pthread_mutex_unlock(&ifc->lock);
}

static void *tcp_acceptor_main(void *arg)
{
    tcp_iface_t *ifc = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = ifc->lfd, .events = POLLIN}, {.fd = ifc->stop_fd, .events = POLLIN}};
        int n = poll(p, 2, 1000);
        if (n < 0 && errno != EINTR) {
            LOG_ERROR("%s: poll on the data listener: %s", ifc->base.name, strerror(errno));
            break;
        }
        if (n > 0 && (p[1].revents & POLLIN)) break;
        if (n > 0 && (p[0].revents & POLLIN)) tcp_server_accept_one(ifc);
        else tcp_server_reap(ifc);
    }
    return NULL;
}

int32_t tcp_server_start(tcp_iface_t *ifc)
{
    util_acceptor_init(&ifc->acc);
    if (pthread_create(&ifc->acceptor, NULL, tcp_acceptor_main, ifc) != 0) {
        util_acceptor_fini(&ifc->acc);
        return util_err_set(SMEM_NEW_OBJECT_FAILED, "%s: cannot start the data server thread", ifc->base.name);
    }
    ifc->acceptor_running = true;
    return SMEM_OK;
}

void tcp_server_stop(tcp_iface_t *ifc)
{
    if (!ifc->acceptor_running) return;
    uint64_t one = 1;
    if (write(ifc->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        LOG_ERROR("%s: cannot signal the data server to stop: %s", ifc->base.name, strerror(errno));
    pthread_join(ifc->acceptor, NULL);
    ifc->acceptor_running = false;
    util_acceptor_fini(&ifc->acc);
    pthread_mutex_lock(&ifc->lock);
    tcp_sconn_t *all = ifc->sconns;
    ifc->sconns = NULL;
    ifc->nsconns = 0;
    for (tcp_sconn_t *sc = all; sc != NULL; sc = sc->next) shutdown(sc->fd, SHUT_RDWR);
    pthread_mutex_unlock(&ifc->lock);
    while (all != NULL) {
        tcp_sconn_t *sc = all;
        all = sc->next;
        tcp_sconn_free(sc);
    }
}
