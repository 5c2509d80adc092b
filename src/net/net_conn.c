/*
 * Connections: creation, reference counting, sending (frames queued by any
 * thread under conn->lock, written by the loop thread, see net_conn_io.c),
 * close requests, deadlines (connect, handshake, frame, idle) and the single
 * on_close.
 */
#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_int.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

static atomic_uint_fast64_t net_conn_next_id = 1;

net_conn_t *net_conn_new(net_loop_t *loop, int fd, const net_opts_t *opts, const net_conn_cbs_t *cbs,
                         bool client, const struct sockaddr_storage *peer)
{
    net_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        util_err_set(SMEM_MALLOC_FAILED, "cannot allocate a connection");
        return NULL;
    }
    c->ev.fd = fd;
    c->loop = loop;
    atomic_init(&c->refs, 1); /* the loop's */
    c->id = atomic_fetch_add(&net_conn_next_id, 1);
    c->opts = *opts;
    if (cbs != NULL) {
        c->cbs = *cbs;
    }
    atomic_init(&c->ctx, NULL);
    net_addr_peer_str(peer, c->peer, sizeof(c->peer));
    c->is_client = client;
    c->state = client ? NET_CONN_CONNECTING : (opts->tls != NULL ? NET_CONN_HANDSHAKE : NET_CONN_OPEN);
    net_frame_parser_init(&c->parser, opts->max_frame);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    return c;
}

void net_conn_free(net_conn_t *c)
{
    while (c->oq_head != NULL) {
        net_outbuf_t *ob = c->oq_head;
        c->oq_head = ob->next;
        net_outbuf_free(ob);
    }
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
    }
    if (c->ev.fd >= 0) {
        close(c->ev.fd);
    }
    net_frame_parser_fini(&c->parser);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void net_conn_get(net_conn_t *c)
{
    if (c != NULL) {
        atomic_fetch_add(&c->refs, 1);
    }
}

void net_conn_put(net_conn_t *c)
{
    if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1) {
        net_conn_free(c);
    }
}

void net_conn_set_ctx(net_conn_t *c, void *ctx) { atomic_store(&c->ctx, ctx); }
void *net_conn_get_ctx(const net_conn_t *c) { return atomic_load(&((net_conn_t *)c)->ctx); }
const char *net_conn_peer(const net_conn_t *c) { return c->peer; }
uint64_t net_conn_id(const net_conn_t *c) { return c->id; }

bool net_conn_is_closed(net_conn_t *c)
{
    pthread_mutex_lock(&c->lock);
    bool closed = c->closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}

/* ---------- closing ---------- */
void net_conn_shutdown(net_conn_t *c, int32_t reason)
{
    if (c->state == NET_CONN_CLOSED) {
        return;
    }
    net_loop_t *loop = c->loop;
    c->state = NET_CONN_CLOSED;
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    while (c->oq_head != NULL) {
        net_outbuf_t *ob = c->oq_head;
        c->oq_head = ob->next;
        atomic_fetch_sub(&loop->oq_total, net_outbuf_own(ob));
        net_outbuf_free(ob);
    }
    c->oq_tail = NULL;
    c->oq_bytes = 0;
    if (!c->connect_done) {
        c->connect_done = true;
        c->connect_rc = reason != SMEM_OK ? reason : SMEM_CONN_FAILED;
        if (c->err[0] == '\0') {
            snprintf(c->err, sizeof(c->err), "connection to %s closed before it was ready", c->peer);
        }
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);

    if (c->ev.fd >= 0) {
        net_loop_ep_ctl(loop, EPOLL_CTL_DEL, &c->ev, 0);
    }
    if (c->ssl != NULL) {
        if (reason == SMEM_OK && c->opened) {
            ERR_clear_error();
            SSL_shutdown(c->ssl); /* best effort close_notify; we do not wait for the peer's */
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
        ERR_clear_error();
    }
    if (c->ev.fd >= 0) {
        close(c->ev.fd);
        c->ev.fd = -1;
    }
    net_frame_parser_fini(&c->parser);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else if (loop->conns == c) {
        loop->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
    if (c->opened && c->cbs.on_close != NULL) {
        c->cbs.on_close(c, reason, c->cbs.arg);
    }
    c->grave_next = loop->graveyard;
    loop->graveyard = c;
}

void net_conn_fail(net_conn_t *c, int32_t reason, int level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (level < UTIL_LOG_OFF) {
        UTIL_LOG(level, "net: %s", msg);
    }
    pthread_mutex_lock(&c->lock);
    if (!c->connect_done) {
        snprintf(c->err, sizeof(c->err), "%s", msg);
    }
    pthread_mutex_unlock(&c->lock);
    net_conn_shutdown(c, reason);
}

void net_conn_close_reason(net_conn_t *c, int32_t reason)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    if (!c->close_req && !c->closed) {
        c->close_req = true;
        c->close_req_reason = reason;
        if (reason != SMEM_OK && !c->connect_done) {
            snprintf(c->err, sizeof(c->err), "connect to %s: %s", c->peer, util_strerror(reason));
        }
    }
    pthread_mutex_unlock(&c->lock);
    net_loop_mark_dirty(c->loop, c);
}

void net_conn_close(net_conn_t *c) { net_conn_close_reason(c, SMEM_OK); }

/* ---------- output ---------- */
void net_outbuf_free(net_outbuf_t *ob)
{
    if (ob->sh != NULL) net_shbuf_put(ob->sh);
    free(ob);
}

net_shbuf_t *net_shbuf_alloc(size_t len)
{
    net_shbuf_t *b = malloc(sizeof(*b) + len);
    if (b == NULL) return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    return b;
}

uint8_t *net_shbuf_data(net_shbuf_t *b) { return b->data; }

void net_shbuf_put(net_shbuf_t *b)
{
    if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1) free(b);
}

/* Queue ob (and, when body is not NULL, the body piece right after it, so a
 * frame's pieces are adjacent). Frees both on failure. */
/* Loop-wide output accounting: take n bytes of the budget, or refuse. */
static bool net_loop_outq_take(net_loop_t *loop, uint64_t n)
{
    uint64_t budget = atomic_load(&loop->oq_budget);
    uint64_t now = atomic_fetch_add(&loop->oq_total, n) + n;
    if (budget == 0 || now <= budget || n == 0) return true;
    atomic_fetch_sub(&loop->oq_total, n);
    return false;
}

void net_loop_set_outq_budget(net_loop_t *loop, uint64_t bytes)
{
    if (loop != NULL) atomic_store(&loop->oq_budget, bytes);
}

uint64_t net_loop_outq_total(net_loop_t *loop) { return loop != NULL ? atomic_load(&loop->oq_total) : 0; }

static int32_t net_conn_enqueue(net_conn_t *c, net_outbuf_t *ob, net_outbuf_t *body)
{
    size_t len = ob->len + (body != NULL ? body->len : 0);
    uint64_t own = net_outbuf_own(ob) + (body != NULL ? net_outbuf_own(body) : 0);
    pthread_mutex_lock(&c->lock);
    int32_t rc = SMEM_OK;
    if (c->closed || c->close_req) {
        rc = util_err_set(SMEM_PEER_GONE, "connection %llu to %s is closed", (unsigned long long)c->id, c->peer);
    } else if (c->oq_bytes + len > c->opts.max_outq_bytes) {
        rc = util_err_set(SMEM_TOO_LARGE, "output queue to %s full: %llu bytes queued + %zu > max_outq_bytes %llu",
                          c->peer, (unsigned long long)c->oq_bytes, len, (unsigned long long)c->opts.max_outq_bytes);
    } else if (!net_loop_outq_take(c->loop, own)) {
        rc = util_err_set(SMEM_TOO_LARGE, "output to %s refused: the %s loop has %llu bytes queued to its peers, its "
                          "budget is %llu (peers that do not read)", c->peer, c->loop->name,
                          (unsigned long long)atomic_load(&c->loop->oq_total),
                          (unsigned long long)atomic_load(&c->loop->oq_budget));
    }
    if (rc != SMEM_OK) {
        pthread_mutex_unlock(&c->lock);
        net_outbuf_free(ob);
        if (body != NULL) net_outbuf_free(body);
        return rc;
    }
    ob->next = body;
    net_outbuf_t *last = body != NULL ? body : ob;
    last->next = NULL;
    bool was_empty = c->oq_head == NULL;
    if (c->oq_tail != NULL) {
        c->oq_tail->next = ob;
    } else {
        c->oq_head = ob;
    }
    c->oq_tail = last;
    c->oq_bytes += len;
    /* Fast path for plain sockets: with nothing queued before us, write from
     * the caller's thread and spare the loop a wake-up (one thread hop less
     * per request). The fd stays open while we hold the lock and see !closed;
     * TLS writes stay on the loop thread (an SSL object is single-threaded). */
    if (was_empty && c->opts.tls == NULL && !net_loop_in_thread(c->loop) &&
        net_conn_try_write_locked(c)) {
        pthread_mutex_unlock(&c->lock);
        return SMEM_OK;
    }
    pthread_mutex_unlock(&c->lock);
    net_loop_mark_dirty(c->loop, c);
    return SMEM_OK;
}

int32_t net_conn_send_shared(net_conn_t *c, const net_frame_hdr_t *hdr, net_shbuf_t *body, uint32_t len)
{
    if (c == NULL || hdr == NULL || (body == NULL && len > 0) || (body != NULL && len > body->len))
        return util_err_set(SMEM_INVALID_PARAM, "net_conn_send_shared: bad arguments");
    if ((hdr->flags & ~NET_FLAG_MASK) != 0)
        return util_err_set(SMEM_INVALID_PARAM, "net_conn_send_shared: reserved flag bits 0x%02x", hdr->flags);
    if (len > c->opts.max_frame)
        return util_err_set(SMEM_TOO_LARGE, "frame body of %u bytes to %s exceeds max_frame %u", len, c->peer,
                            c->opts.max_frame);
    net_outbuf_t *ob = malloc(sizeof(*ob) + NET_FRAME_HDR_SIZE);
    net_outbuf_t *bo = len > 0 ? malloc(sizeof(*bo)) : NULL;
    if (ob == NULL || (len > 0 && bo == NULL)) {
        free(ob);
        free(bo);
        return util_err_set(SMEM_MALLOC_FAILED, "cannot queue a %u-byte shared frame", len);
    }
    net_frame_hdr_t h = *hdr;
    h.magic = NET_FRAME_MAGIC;
    h.version = NET_FRAME_VERSION;
    h.body_len = len;
    net_frame_hdr_encode(&h, ob->data);
    ob->len = NET_FRAME_HDR_SIZE;
    ob->off = 0;
    ob->sh = NULL;
    if (bo != NULL) {
        atomic_fetch_add(&body->refs, 1);
        bo->sh = body;
        bo->len = len;
        bo->off = 0;
    }
    return net_conn_enqueue(c, ob, bo);
}

int32_t net_conn_sendv(net_conn_t *c, const net_frame_hdr_t *hdr, const struct iovec *iov, int iovcnt)
{
    if (c == NULL || hdr == NULL || iovcnt < 0 || (iovcnt > 0 && iov == NULL)) {
        return util_err_set(SMEM_INVALID_PARAM, "net_conn_send: bad arguments");
    }
    if ((hdr->flags & ~NET_FLAG_MASK) != 0) {
        return util_err_set(SMEM_INVALID_PARAM, "net_conn_send: reserved flag bits 0x%02x", hdr->flags);
    }
    uint64_t body = 0;
    for (int i = 0; i < iovcnt; i++) {
        body += iov[i].iov_len;
    }
    if (body > c->opts.max_frame) {
        return util_err_set(SMEM_TOO_LARGE, "frame body of %llu bytes to %s exceeds max_frame %u",
                            (unsigned long long)body, c->peer, c->opts.max_frame);
    }
    size_t len = NET_FRAME_HDR_SIZE + (size_t)body;
    net_outbuf_t *ob = malloc(sizeof(*ob) + len);
    if (ob == NULL) {
        return util_err_set(SMEM_MALLOC_FAILED, "cannot allocate a %zu-byte frame", len);
    }
    net_frame_hdr_t h = *hdr;
    h.magic = NET_FRAME_MAGIC;
    h.version = NET_FRAME_VERSION;
    h.body_len = (uint32_t)body;
    net_frame_hdr_encode(&h, ob->data);
    size_t off = NET_FRAME_HDR_SIZE;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > 0) {
            memcpy(ob->data + off, iov[i].iov_base, iov[i].iov_len);
            off += iov[i].iov_len;
        }
    }
    ob->next = NULL;
    ob->len = len;
    ob->off = 0;
    ob->sh = NULL;
    return net_conn_enqueue(c, ob, NULL);
}

int32_t net_conn_send(net_conn_t *c, const net_frame_hdr_t *hdr, const void *body, uint32_t len)
{
    struct iovec iov = {.iov_base = (void *)body, .iov_len = len};
    return net_conn_sendv(c, hdr, &iov, len > 0 ? 1 : 0);
}

void net_conn_process(net_conn_t *c)
{
    if (c->state == NET_CONN_CLOSED) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    bool close_req = c->close_req;
    int32_t reason = c->close_req_reason;
    pthread_mutex_unlock(&c->lock);
    if (c->state == NET_CONN_OPEN) {
        net_conn_flush(c); /* on a local close, frames already queued go out if the socket takes them now */
    }
    if (c->state == NET_CONN_CLOSED) {
        return;
    }
    if (close_req) {
        net_conn_shutdown(c, reason);
        return;
    }
    net_conn_update_events(c);
}

bool net_conn_sweep(net_loop_t *loop, uint64_t now)
{
    bool need = false;
    net_conn_t *next;
    for (net_conn_t *c = loop->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == NET_CONN_CONNECTING || c->state == NET_CONN_HANDSHAKE) {
            if (c->deadline_ms != 0 && now >= c->deadline_ms) {
                if (c->is_client) {
                    net_conn_fail(c, SMEM_TIMEOUT, UTIL_LOG_DEBUG, "connect to %s timed out", c->peer);
                } else {
                    net_conn_fail(c, SMEM_TIMEOUT, UTIL_LOG_WARN, "TLS handshake with %s timed out after %u ms",
                                  c->peer, c->opts.handshake_timeout_ms);
                }
                continue;
            }
            need = true;
        } else if (c->state == NET_CONN_OPEN) {
            if (c->frame_start_ms != 0 && c->opts.frame_timeout_ms != 0 &&
                now - c->frame_start_ms >= c->opts.frame_timeout_ms) {
                size_t got = net_frame_parser_partial(&c->parser);
                size_t want = net_frame_parser_expected(&c->parser);
                net_conn_fail(c, SMEM_TIMEOUT, UTIL_LOG_WARN,
                              "closing %s: slow frame, timeout after %llu ms with %zu of %zu bytes received "
                              "(frame_timeout_ms %u)",
                              c->peer, (unsigned long long)(now - c->frame_start_ms), got,
                              want > 0 ? want : (size_t)NET_FRAME_HDR_SIZE, c->opts.frame_timeout_ms);
                continue;
            }
            if (c->opts.idle_timeout_ms != 0 && now - c->last_rx_ms >= c->opts.idle_timeout_ms) {
                net_conn_fail(c, SMEM_TIMEOUT, UTIL_LOG_INFO, "closing %s: idle for %llu ms (idle_timeout_ms %u)",
                              c->peer, (unsigned long long)(now - c->last_rx_ms), c->opts.idle_timeout_ms);
                continue;
            }
            need = need || (c->frame_start_ms != 0 && c->opts.frame_timeout_ms != 0) || c->opts.idle_timeout_ms != 0;
        }
    }
    return need;
}
