/*
 * The tcp endpoint: up to `conns` connections to one peer's data server.
 *
 * A put/get is cut into requests of at most `chunk` bytes and TCP_PIECES_MAX
 * pieces (a piece crossing a chunk boundary is split). The calling thread
 * takes as many idle connections as there are requests (up to `conns`;
 * missing ones are dialled now, so connections open lazily) and drives them
 * itself with non-blocking I/O and poll() (a large WRITE splits over two
 * threads, see tcp_ep_run_split): each connection carries one
 * request at a time and takes the next unsent one when it finishes, so large
 * transfers run on all connections in parallel and a slow connection simply
 * carries fewer chunks. No staging copies: a WRITE's
 * payload is sent from the caller's pieces (sendmsg with the header and piece
 * table in front), a READ's answer is received into them.
 *
 * Concurrent callers on one endpoint share its connections: each takes
 * the idle ones (waiting up to the timeout when all are busy).
 *
 * Failures: a connection that fails (reset, EOF, TLS error, no byte moved for
 * timeout_ms, a reply out of step) is closed and re-dialled by a later call;
 * its request fails, the remaining requests go on over the other
 * connections. An error answer from the peer (a piece out of range) fails
 * that request only. The call returns the first error, with a message naming
 * the peer, window, offset and length.
 */
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport/tcp/tcp.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define TCP_ERR_MAX 512u

int32_t tcp_ep_connect(tp_ep_t *base, const char *addr)
{
    tcp_ep_t *ep = (tcp_ep_t *)base;
    tcp_iface_t *ifc = (tcp_iface_t *)base->iface;
    int32_t rc = tcp_addr_resolve(addr, &ep->ss, &ep->sslen, ep->host, sizeof(ep->host));
    if (rc != SMEM_OK) return rc;
    ep->slots = calloc(ifc->conns, sizeof(*ep->slots));
    if (ep->slots == NULL) return util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory for an endpoint", ifc->base.name);
    ep->nslots = ifc->conns;
    for (uint32_t i = 0; i < ep->nslots; i++) tcp_conn_init(&ep->slots[i].conn);
    pthread_mutex_init(&ep->lock, NULL);
    pthread_cond_init(&ep->cv, NULL);
    ep->lock_inited = true;
    /* One connection now, so a wrong or dead address fails here; the rest when parallelism needs them. */
    rc = tcp_conn_dial(&ep->slots[0].conn, &ep->ss, ep->sslen, ep->host, ifc->tls_client, &ifc->cred, ifc->timeout_ms);
    if (rc != SMEM_OK) {
        char why[TCP_ERR_MAX];
        snprintf(why, sizeof(why), "%s", util_err_get());
        return util_err_set(rc, "%s: connecting to %s: %s", ifc->base.name, addr, why);
    }
    return SMEM_OK;
}

void tcp_ep_close(tp_ep_t *base)
{
    tcp_ep_t *ep = (tcp_ep_t *)base;
    for (uint32_t i = 0; i < ep->nslots; i++) tcp_conn_abort(&ep->slots[i].conn);
    free(ep->slots);
    ep->slots = NULL;
    if (ep->lock_inited) {
        pthread_cond_destroy(&ep->cv);
        pthread_mutex_destroy(&ep->lock);
    }
    ep->lock_inited = false;
}

/* ---------- planning ---------- */

typedef struct tcp_plan_req {
    uint32_t first; /* index into the split pieces */
    uint32_t n;
    uint64_t total;
} tcp_plan_req_t;

typedef struct tcp_plan {
    tp_piece_t *sub;
    uint32_t nsub;
    tcp_plan_req_t *req;
    uint32_t nreq;
    uint32_t max_n; /* most pieces in one request */
} tcp_plan_t;

/* Cut the pieces into requests; with fill false only counts. */
static void tcp_plan_walk(const tp_piece_t *p, size_t n, uint64_t chunk, tcp_plan_t *pl, bool fill)
{
    uint32_t nsub = 0, nreq = 0, cur_n = 0;
    uint64_t cur_b = 0;
    pl->max_n = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t done = 0;
        while (done < p[i].len) {
            uint64_t take = p[i].len - done;
            if (take > chunk - cur_b) take = chunk - cur_b;
            if (fill) {
                if (cur_n == 0) pl->req[nreq] = (tcp_plan_req_t){.first = nsub};
                pl->sub[nsub] = (tp_piece_t){.local = (uint8_t *)p[i].local + done, .offset = p[i].offset + done,
                                             .len = take};
                pl->req[nreq].n++;
                pl->req[nreq].total += take;
            }
            nsub++;
            cur_n++;
            cur_b += take;
            done += take;
            if (cur_b == chunk || cur_n == TCP_PIECES_MAX) {
                if (cur_n > pl->max_n) pl->max_n = cur_n;
                nreq++;
                cur_b = 0;
                cur_n = 0;
            }
        }
    }
    if (cur_n > 0) {
        if (cur_n > pl->max_n) pl->max_n = cur_n;
        nreq++;
    }
    pl->nsub = nsub;
    pl->nreq = nreq;
}

static int32_t tcp_plan_make(const tp_piece_t *p, size_t n, uint64_t chunk, tcp_plan_t *pl)
{
    memset(pl, 0, sizeof(*pl));
    tcp_plan_walk(p, n, chunk, pl, false);
    pl->sub = malloc((size_t)pl->nsub * sizeof(*pl->sub));
    pl->req = calloc(pl->nreq, sizeof(*pl->req));
    if (pl->sub == NULL || pl->req == NULL) {
        free(pl->sub);
        free(pl->req);
        return util_err_set(SMEM_MALLOC_FAILED, "out of memory planning %u requests", pl->nreq);
    }
    tcp_plan_walk(p, n, chunk, pl, true);
    return SMEM_OK;
}

/* ---------- connections of one call ---------- */

enum { F_IDLE = 0, F_SEND, F_RESP, F_DATA };

typedef struct tcp_flight {
    tcp_slot_t *slot;
    int phase;
    uint32_t req;
    uint64_t seq;
    struct iovec *iov_mem; /* max_n + 2 entries */
    struct iovec *iov;     /* cursor */
    int iovcnt;
    uint8_t *table;        /* (max_n - 1) pieces */
    uint8_t hdr[TCP_REQ_HDR_SIZE];
    uint8_t resp[TCP_RESP_SIZE];
    uint64_t last_ms;
} tcp_flight_t;

typedef struct tcp_call {
    tcp_ep_t *ep;
    tcp_iface_t *ifc;
    bool write;
    uint32_t window;
    tcp_plan_t plan;
    int32_t first;
    char msg[TCP_ERR_MAX];
    uint32_t failed_reqs;
} tcp_call_t;

static void tcp_call_fail(tcp_call_t *call, int32_t rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void tcp_call_fail(tcp_call_t *call, int32_t rc, const char *fmt, ...)
{
    call->failed_reqs++;
    if (call->first != SMEM_OK) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->msg, sizeof(call->msg), fmt, ap);
    va_end(ap);
    call->first = rc;
}

/* Take up to want idle slots (at least one, waiting up to the timeout); dial the unconnected ones. */
static int32_t tcp_ep_take(tcp_ep_t *ep, tcp_iface_t *ifc, uint32_t want, tcp_slot_t **out, uint32_t *nout)
{
    uint32_t n = 0;
    int32_t rc = SMEM_OK;
    uint64_t deadline = util_now_ms() + ifc->timeout_ms;
    pthread_mutex_lock(&ep->lock);
    for (;;) {
        for (int pass = 0; pass < 2 && n < want; pass++)
            for (uint32_t i = 0; i < ep->nslots && n < want; i++) {
                tcp_slot_t *s = &ep->slots[i];
                if (s->busy || (pass == 0) != (s->conn.fd >= 0)) continue;
                s->busy = true;
                out[n++] = s;
            }
        if (n > 0) break;
        int64_t left = util_ms_left(deadline);
        if (left <= 0) {
            rc = util_err_set(SMEM_TIMEOUT, "%s: all %u connections to %s stayed busy for %u ms", ifc->base.name,
                              ep->nslots, ep->base.addr, ifc->timeout_ms);
            break;
        }
        struct timespec ts = util_abstime_after_ms(left);
        pthread_cond_timedwait(&ep->cv, &ep->lock, &ts);
    }
    pthread_mutex_unlock(&ep->lock);
    if (rc != SMEM_OK) return rc;
    uint32_t k = 0;
    int32_t dial_rc = SMEM_OK;
    char why[TCP_ERR_MAX] = "";
    for (uint32_t i = 0; i < n; i++) {
        tcp_slot_t *s = out[i];
        if (tcp_conn_idle_broken(&s->conn)) /* the server closed it while idle (idle timeout, or room for others) */
            tcp_conn_close(&s->conn);
        if (s->conn.fd < 0) {
            int32_t r = tcp_conn_dial(&s->conn, &ep->ss, ep->sslen, ep->host, ifc->tls_client, &ifc->cred,
                                      ifc->timeout_ms);
            if (r != SMEM_OK) {
                if (dial_rc == SMEM_OK) snprintf(why, sizeof(why), "%s", util_err_get());
                dial_rc = r;
                pthread_mutex_lock(&ep->lock);
                s->busy = false;
                pthread_cond_broadcast(&ep->cv);
                pthread_mutex_unlock(&ep->lock);
                continue;
            }
        }
        out[k++] = s;
    }
    if (k == 0) return util_err_set(dial_rc, "%s: connecting to %s: %s", ifc->base.name, ep->base.addr, why);
    *nout = k;
    return SMEM_OK;
}

static void tcp_ep_give(tcp_ep_t *ep, tcp_slot_t **slots, uint32_t n)
{
    pthread_mutex_lock(&ep->lock);
    for (uint32_t i = 0; i < n; i++) slots[i]->busy = false;
    pthread_cond_broadcast(&ep->cv);
    pthread_mutex_unlock(&ep->lock);
}

static void tcp_flight_start(tcp_call_t *call, tcp_flight_t *f, uint32_t r)
{
    const tcp_plan_req_t *rq = &call->plan.req[r];
    const tp_piece_t *sub = call->plan.sub + rq->first;
    f->req = r;
    f->seq = __atomic_add_fetch(&call->ep->seq, 1, __ATOMIC_RELAXED);
    tcp_req_encode(&(tcp_req_t){.op = call->write ? TCP_OP_WRITE : TCP_OP_READ, .window = call->window,
                                .npieces = rq->n, .seq = f->seq, .offset = sub[0].offset, .length = sub[0].len,
                                .total = rq->total},
                   f->hdr);
    int k = 0;
    f->iov_mem[k++] = (struct iovec){.iov_base = f->hdr, .iov_len = sizeof(f->hdr)};
    if (rq->n > 1) {
        for (uint32_t i = 1; i < rq->n; i++)
            tcp_span_encode(&(tcp_span_t){.offset = sub[i].offset, .length = sub[i].len},
                            f->table + (size_t)(i - 1) * TCP_PIECE_SIZE);
        f->iov_mem[k++] = (struct iovec){.iov_base = f->table, .iov_len = (size_t)(rq->n - 1) * TCP_PIECE_SIZE};
    }
    if (call->write)
        for (uint32_t i = 0; i < rq->n; i++) f->iov_mem[k++] = (struct iovec){.iov_base = sub[i].local, .iov_len = sub[i].len};
    f->iov = f->iov_mem;
    f->iovcnt = k;
    f->phase = F_SEND;
    f->last_ms = util_now_ms();
}

static void tcp_flight_describe(const tcp_call_t *call, const tcp_flight_t *f, char *buf, size_t cap)
{
    const tcp_plan_req_t *rq = &call->plan.req[f->req];
    const tp_piece_t *s0 = call->plan.sub + rq->first;
    snprintf(buf, cap, "%s of %llu bytes in %u piece%s to window %u of %s (first: offset %llu, length %llu)",
             call->write ? "write" : "read", (unsigned long long)rq->total, rq->n, rq->n == 1 ? "" : "s", call->window,
             call->ep->base.addr, (unsigned long long)s0->offset, (unsigned long long)s0->len);
}

/* The connection is unusable: close it (a later call re-dials) and fail its request. */
static void tcp_flight_kill(tcp_call_t *call, tcp_flight_t *f, int32_t rc, const char *why)
{
    char what[256];
    tcp_flight_describe(call, f, what, sizeof(what));
    tcp_call_fail(call, rc, "%s: %s failed: %s", call->ifc->base.name, what, why);
    LOG_DEBUG("%s: %s failed: %s", call->ifc->base.name, what, why);
    tcp_conn_abort(&f->slot->conn); /* its queued bytes must never land after the caller saw the failure */
    f->phase = F_IDLE;
    f->slot = NULL;
}

/* A phase's bytes have all moved: go to the next phase. Returns false when the request is done. */
static bool tcp_flight_next(tcp_call_t *call, tcp_flight_t *f)
{
    if (f->phase == F_SEND) {
        f->iov_mem[0] = (struct iovec){.iov_base = f->resp, .iov_len = sizeof(f->resp)};
        f->iov = f->iov_mem;
        f->iovcnt = 1;
        f->phase = F_RESP;
        return true;
    }
    if (f->phase == F_DATA) return false;
    const tcp_plan_req_t *rq = &call->plan.req[f->req];
    const tcp_req_t sent = {.op = call->write ? TCP_OP_WRITE : TCP_OP_READ, .seq = f->seq, .total = rq->total};
    tcp_resp_t r;
    int32_t rc = tcp_resp_check(f->resp, sizeof(f->resp), &sent, &r);
    if (rc != SMEM_OK) {
        char why[TCP_ERR_MAX];
        snprintf(why, sizeof(why), "%s", util_err_get());
        tcp_flight_kill(call, f, rc, why);
        return false;
    }
    if (r.status != SMEM_OK) {
        char what[256];
        tcp_flight_describe(call, f, what, sizeof(what));
        tcp_call_fail(call, r.status, "%s: %s refused by the peer: %s (%s)", call->ifc->base.name, what,
                      util_strerror(r.status),
                      r.status == SMEM_OUT_OF_RANGE || r.status == SMEM_OBJECT_NOT_EXISTS
                          ? "not in memory the peer exposes"
                          : "see the peer's log");
        return false;
    }
    if (call->write) return false;
    const tp_piece_t *sub = call->plan.sub + rq->first;
    for (uint32_t i = 0; i < rq->n; i++) f->iov_mem[i] = (struct iovec){.iov_base = sub[i].local, .iov_len = sub[i].len};
    f->iov = f->iov_mem;
    f->iovcnt = (int)rq->n;
    f->phase = F_DATA;
    return true;
}

/* Move bytes on f until it would block; start the next request when one finishes. */
static void tcp_flight_pump(tcp_call_t *call, tcp_flight_t *f, uint32_t *next_req)
{
    while (f->phase != F_IDLE) {
        bool out = f->phase == F_SEND;
        int64_t n = tcp_conn_io(&f->slot->conn, out, f->iov, f->iovcnt);
        if (n < 0) {
            char why[TCP_ERR_MAX];
            snprintf(why, sizeof(why), "%s", util_err_get());
            tcp_flight_kill(call, f, (int32_t)n, why);
            return;
        }
        if (n == 0) return;
        f->last_ms = util_now_ms();
        tcp_iov_advance(&f->iov, &f->iovcnt, (uint64_t)n);
        while (f->iovcnt > 0 && f->iov->iov_len == 0) {
            f->iov++;
            f->iovcnt--;
        }
        if (f->iovcnt > 0) continue;
        if (tcp_flight_next(call, f)) continue;
        if (f->slot == NULL) return; /* killed */
        f->phase = F_IDLE;
        if (*next_req < call->plan.nreq) tcp_flight_start(call, f, (*next_req)++);
    }
}

static int32_t tcp_ep_run(tcp_call_t *call, tcp_slot_t **slots, uint32_t nslots)
{
    uint32_t maxn = call->plan.max_n;
    size_t per = sizeof(tcp_flight_t) + (size_t)(maxn + 2) * sizeof(struct iovec) + (size_t)(maxn - 1) * TCP_PIECE_SIZE;
    uint8_t *mem = malloc(per * nslots + nslots * sizeof(struct pollfd) + nslots * sizeof(uint32_t));
    if (mem == NULL) return util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory for %u connections", call->ifc->base.name, nslots);
    tcp_flight_t *fl = (tcp_flight_t *)(void *)mem;
    uint8_t *extra = mem + sizeof(tcp_flight_t) * nslots;
    struct pollfd *pfd = (struct pollfd *)(void *)(mem + per * nslots);
    uint32_t *pidx = (uint32_t *)(void *)(pfd + nslots);
    uint32_t next = 0;
    for (uint32_t i = 0; i < nslots; i++) {
        tcp_flight_t *f = &fl[i];
        memset(f, 0, sizeof(*f));
        f->slot = slots[i];
        f->iov_mem = (struct iovec *)(void *)extra;
        extra += (size_t)(maxn + 2) * sizeof(struct iovec);
        f->table = extra;
        extra += (size_t)(maxn - 1) * TCP_PIECE_SIZE;
        if (next < call->plan.nreq) tcp_flight_start(call, f, next++);
    }
    for (;;) {
        uint32_t np = 0;
        for (uint32_t i = 0; i < nslots; i++) {
            tcp_flight_pump(call, &fl[i], &next);
            if (fl[i].phase == F_IDLE) continue;
            pfd[np] = (struct pollfd){.fd = fl[i].slot->conn.fd, .events = tcp_conn_events(&fl[i].slot->conn, fl[i].phase == F_SEND)};
            pidx[np++] = i;
        }
        if (np == 0) break;
        uint64_t now = util_now_ms();
        int64_t wait = INT32_MAX;
        for (uint32_t k = 0; k < np; k++) {
            tcp_flight_t *f = &fl[pidx[k]];
            int64_t left = (int64_t)(f->last_ms + call->ifc->timeout_ms) - (int64_t)now;
            if (left <= 0) {
                char why[128];
                snprintf(why, sizeof(why), "no byte moved for %u ms", call->ifc->timeout_ms);
                tcp_flight_kill(call, f, SMEM_TIMEOUT, why);
                wait = 0;
            } else if (left < wait) {
                wait = left;
            }
        }
        if (wait == 0) continue;
        if (poll(pfd, np, (int)wait) < 0 && errno != EINTR) {
            int e = errno;
            for (uint32_t k = 0; k < np; k++) tcp_flight_kill(call, &fl[pidx[k]], SMEM_IO, strerror(e));
        }
    }
    /* Connections all failed before every request went out. */
    if (next < call->plan.nreq)
        tcp_call_fail(call, call->first != SMEM_OK ? call->first : SMEM_CONN_FAILED,
                      "%s: %u of %u requests to %s not sent: every connection failed", call->ifc->base.name,
                      call->plan.nreq - next, call->plan.nreq, call->ep->base.addr);
    free(mem);
    return call->first;
}

/* One half of a split WRITE, on a helper thread. */
typedef struct tcp_half {
    tcp_call_t *call;
    tcp_slot_t **slots;
    uint32_t nslots;
} tcp_half_t;

static void *tcp_half_main(void *arg)
{
    tcp_half_t *h = arg;
    (void)tcp_ep_run(h->call, h->slots, h->nslots);
    return NULL;
}

/*
 * Run the call's requests over the slots. A large WRITE is the exception to
 * "no helper threads": sendmsg copies the payload into the kernel (and on a
 * veth or loopback link runs the whole TCP stack) on the sending thread, so
 * one thread caps a put at about one stream's rate while a READ already
 * spreads over the server's per-connection threads. So when there are at
 * least two cores, two connections and four requests, the second half of the
 * requests goes out on a helper thread over half of the connections.
 */
static int32_t tcp_ep_run_split(tcp_call_t *call, tcp_slot_t **slots, uint32_t nslots)
{
    static long cpus;
    if (cpus == 0) cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!call->write || cpus < 2 || nslots < 2 || call->plan.nreq < 4) return tcp_ep_run(call, slots, nslots);
    tcp_call_t second = *call;
    uint32_t r1 = call->plan.nreq / 2, s1 = nslots / 2;
    second.plan.req += r1;
    second.plan.nreq -= r1;
    second.first = SMEM_OK;
    second.msg[0] = '\0';
    second.failed_reqs = 0;
    tcp_call_t first = *call;
    first.plan.nreq = r1;
    tcp_half_t h = {.call = &second, .slots = slots + s1, .nslots = nslots - s1};
    pthread_t t;
    if (pthread_create(&t, NULL, tcp_half_main, &h) != 0) return tcp_ep_run(call, slots, nslots);
    (void)tcp_ep_run(&first, slots, s1);
    pthread_join(t, NULL);
    /* The first failure of either half is the call's. */
    const tcp_call_t *bad = first.first != SMEM_OK ? &first : &second;
    call->first = bad->first;
    call->failed_reqs = first.failed_reqs + second.failed_reqs;
    memcpy(call->msg, bad->msg, sizeof(call->msg));
    return call->first;
}

static int32_t tcp_ep_xfer(tp_ep_t *base, bool write, uint32_t window, const tp_piece_t *pieces, size_t n)
{
    tcp_ep_t *ep = (tcp_ep_t *)base;
    tcp_iface_t *ifc = (tcp_iface_t *)base->iface;
    if (pieces == NULL || n == 0)
        return util_err_set(SMEM_INVALID_PARAM, "%s: %s to %s with no pieces", ifc->base.name, write ? "put" : "get",
                            base->addr);
    for (size_t i = 0; i < n; i++)
        if (pieces[i].local == NULL || pieces[i].len == 0 || pieces[i].len - 1 > UINT64_MAX - pieces[i].offset)
            return util_err_set(SMEM_INVALID_PARAM, "%s: piece %zu of %zu: local %p, offset %llu, length %llu",
                                ifc->base.name, i, n, pieces[i].local, (unsigned long long)pieces[i].offset,
                                (unsigned long long)pieces[i].len);
    tcp_call_t call = {.ep = ep, .ifc = ifc, .write = write, .window = window, .first = SMEM_OK};
    int32_t rc = tcp_plan_make(pieces, n, ifc->chunk, &call.plan);
    if (rc != SMEM_OK) return rc;
    tcp_slot_t *slots[TCP_CONNS_MAX];
    uint32_t nslots = 0;
    uint32_t want = call.plan.nreq < ep->nslots ? call.plan.nreq : ep->nslots;
    rc = tcp_ep_take(ep, ifc, want, slots, &nslots);
    if (rc == SMEM_OK) {
        rc = tcp_ep_run_split(&call, slots, nslots);
        tcp_ep_give(ep, slots, nslots);
        if (rc != SMEM_OK) rc = util_err_set(rc, "%s", call.msg);
    }
    free(call.plan.sub);
    free(call.plan.req);
    return rc;
}

int32_t tcp_ep_put(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n)
{
    return tcp_ep_xfer(ep, true, window, pieces, n);
}

int32_t tcp_ep_get(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n)
{
    return tcp_ep_xfer(ep, false, window, pieces, n);
}
