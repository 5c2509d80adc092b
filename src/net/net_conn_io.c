/*
 * Connection I/O on the loop thread: the input state machine (bytes from the
 * socket or TLS fed through net_frame_parser_t, frames delivered, PINGs
 * answered), the output queue written with sendmsg or SSL_write (partial
 * writes resumed on EPOLLOUT; SSL WANT_READ/WANT_WRITE tracked for both
 * directions), non-blocking connect completion and the TLS handshake.
 */
#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "net/net_int.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define NET_IOV_MAX 64
#define NET_READ_BUDGET (4u << 20) /* plain sockets: yield to other conns after this much per event */

/* Drop n written bytes from the head of the queue. Caller holds c->lock. */
static void net_conn_advance_locked(net_conn_t *c, size_t n)
{
    c->oq_bytes -= n;
    while (n > 0) {
        net_outbuf_t *ob = c->oq_head;
        size_t left = ob->len - ob->off;
        if (n < left) {
            ob->off += n;
            return;
        }
        n -= left;
        c->oq_head = ob->next;
        if (c->oq_head == NULL) {
            c->oq_tail = NULL;
        }
        atomic_fetch_sub(&c->loop->oq_total, net_outbuf_own(ob));
        net_outbuf_free(ob);
    }
}

/* One gathered sendmsg of the head of the queue (plain sockets); advances
 * past what was written. Returns sendmsg's result (errno set when < 0). */
static ssize_t net_conn_sendmsg_locked(net_conn_t *c, int flags)
{
    struct iovec iov[NET_IOV_MAX];
    int cnt = 0;
    for (net_outbuf_t *ob = c->oq_head; ob != NULL && cnt < NET_IOV_MAX; ob = ob->next) {
        iov[cnt].iov_base = net_outbuf_bytes(ob) + ob->off;
        iov[cnt].iov_len = ob->len - ob->off;
        cnt++;
    }
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)cnt;
    ssize_t n = sendmsg(c->ev.fd, &mh, MSG_NOSIGNAL | flags);
    if (n > 0) {
        net_conn_advance_locked(c, (size_t)n);
    }
    return n;
}

bool net_conn_try_write_locked(net_conn_t *c)
{
    (void)net_conn_sendmsg_locked(c, MSG_DONTWAIT);
    return c->oq_head == NULL;
}

void net_conn_flush(net_conn_t *c)
{
    int32_t fail = SMEM_OK;
    char why[200] = "";
    c->write_blocked = false;
    pthread_mutex_lock(&c->lock);
    while (c->oq_head != NULL) {
        if (c->ssl != NULL) {
            net_outbuf_t *ob = c->oq_head;
            size_t left = ob->len - ob->off;
            int chunk = left > (1u << 30) ? (1 << 30) : (int)left;
            ERR_clear_error();
            int r = SSL_write(c->ssl, net_outbuf_bytes(ob) + ob->off, chunk);
            if (r > 0) {
                net_conn_advance_locked(c, (size_t)r);
                continue;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_WRITE) {
                c->write_blocked = true;
            } else if (e != SSL_ERROR_WANT_READ) {
                /* WANT_READ (a key update in progress) resumes from the read path. */
                net_tls_describe(c->ssl, r, e, why, sizeof(why));
                fail = SMEM_TLS;
            }
            break;
        }
        ssize_t n = net_conn_sendmsg_locked(c, 0);
        if (n >= 0) {
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->write_blocked = true;
        } else {
            snprintf(why, sizeof(why), "%s", strerror(errno));
            fail = (errno == EPIPE || errno == ECONNRESET) ? SMEM_PEER_GONE : SMEM_IO;
        }
        break;
    }
    pthread_mutex_unlock(&c->lock);
    if (fail == SMEM_PEER_GONE) {
        net_conn_fail(c, fail, UTIL_LOG_INFO, "send to %s: %s", c->peer, why);
    } else if (fail != SMEM_OK) {
        net_conn_fail(c, fail, UTIL_LOG_WARN, "send to %s failed: %s", c->peer, why);
    }
}

/* ---------- input ---------- */
static void net_conn_deliver(net_conn_t *c)
{
    const net_frame_hdr_t *h = &c->parser.hdr;
    if (h->type >= NET_TYPE_RESERVED_BASE) {
        if (h->type == NET_TYPE_PING && (h->flags & NET_FLAG_RESPONSE) == 0) {
            /* Answer keepalives so a client can detect a hung server with idle_timeout_ms. */
            net_frame_hdr_t pong = {.type = NET_TYPE_PING, .flags = NET_FLAG_RESPONSE, .req_id = h->req_id};
            (void)net_conn_send(c, &pong, NULL, 0);
        } else if (h->type != NET_TYPE_PING) {
            LOG_DEBUG("net: %s sent reserved frame type 0x%04x; ignored", c->peer, h->type);
        }
        return;
    }
    if (c->cbs.on_frame != NULL) {
        c->cbs.on_frame(c, h, c->parser.body, c->cbs.arg);
    }
}

static bool net_conn_closing(net_conn_t *c)
{
    if (c->state != NET_CONN_OPEN) {
        return true;
    }
    pthread_mutex_lock(&c->lock);
    bool req = c->close_req;
    pthread_mutex_unlock(&c->lock);
    return req;
}

/* Feed n received bytes through the parser; false once the connection is closing. */
static bool net_conn_consume(net_conn_t *c, const uint8_t *data, size_t n)
{
    uint64_t now = util_now_ms();
    size_t off = 0;
    c->last_rx_ms = now;
    c->loop->need_sweep = true;
    while (off < n) {
        bool at_boundary = net_frame_parser_partial(&c->parser) == 0;
        size_t used = 0;
        int32_t rc = net_frame_parser_feed(&c->parser, data + off, n - off, &used);
        if (rc != SMEM_OK) {
            net_conn_fail(c, SMEM_PROTOCOL, UTIL_LOG_WARN, "rejecting connection from %s: %s", c->peer,
                          util_err_get());
            return false;
        }
        if (at_boundary && used > 0) {
            c->frame_start_ms = now;
        }
        off += used;
        if (net_frame_parser_ready(&c->parser)) {
            net_conn_deliver(c);
            net_frame_parser_next(&c->parser);
            c->frame_start_ms = 0;
            if (net_conn_closing(c)) {
                return false;
            }
        }
    }
    return true;
}

static void net_conn_on_eof(net_conn_t *c)
{
    size_t got = net_frame_parser_partial(&c->parser);
    if (got > 0) {
        size_t want = net_frame_parser_expected(&c->parser);
        if (want > 0) {
            net_conn_fail(c, SMEM_PROTOCOL, UTIL_LOG_WARN,
                          "%s closed the connection mid-frame: truncated frame, %zu of %zu bytes received", c->peer,
                          got, want);
        } else {
            net_conn_fail(c, SMEM_PROTOCOL, UTIL_LOG_WARN,
                          "%s closed the connection mid-frame: truncated header, %zu of %u bytes received", c->peer,
                          got, NET_FRAME_HDR_SIZE);
        }
        return;
    }
    net_conn_fail(c, SMEM_PEER_GONE, UTIL_LOG_DEBUG, "%s closed the connection", c->peer);
}

static void net_conn_read(net_conn_t *c)
{
    uint8_t *buf = c->loop->rbuf;
    size_t budget = NET_READ_BUDGET;
    c->read_wants_write = false;
    for (;;) {
        ssize_t n;
        if (c->ssl != NULL) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, buf, NET_READ_CHUNK);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ) {
                    return;
                }
                if (e == SSL_ERROR_WANT_WRITE) {
                    c->read_wants_write = true;
                    return;
                }
                if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && (r == 0 || errno == ECONNRESET))) {
                    net_conn_on_eof(c);
                    return;
                }
                char why[200];
                net_tls_describe(c->ssl, r, e, why, sizeof(why));
                net_conn_fail(c, SMEM_TLS, UTIL_LOG_WARN, "TLS error on connection with %s: %s", c->peer, why);
                return;
            }
            n = r;
        } else {
            n = recv(c->ev.fd, buf, NET_READ_CHUNK, 0);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    return;
                }
                if (errno == ECONNRESET) {
                    net_conn_on_eof(c);
                    return;
                }
                net_conn_fail(c, SMEM_IO, UTIL_LOG_WARN, "recv from %s: %s", c->peer, strerror(errno));
                return;
            }
        }
        if (n == 0) {
            net_conn_on_eof(c);
            return;
        }
        if (!net_conn_consume(c, buf, (size_t)n)) {
            return;
        }
        /* TLS keeps reading: decrypted bytes buffered inside OpenSSL would not
         * raise another level-triggered event. */
        if (c->ssl == NULL) {
            if ((size_t)n >= budget) {
                return;
            }
            budget -= (size_t)n;
        }
    }
}

/* ---------- state transitions ---------- */
void net_conn_update_events(net_conn_t *c)
{
    uint32_t want;
    switch (c->state) {
    case NET_CONN_CONNECTING:
        want = EPOLLOUT;
        break;
    case NET_CONN_HANDSHAKE:
        want = EPOLLIN | (c->hs_wants_write ? EPOLLOUT : 0);
        break;
    case NET_CONN_OPEN:
        want = EPOLLIN | ((c->write_blocked || c->read_wants_write) ? EPOLLOUT : 0);
        break;
    default:
        return;
    }
    if (want != c->ep_events) {
        if (net_loop_ep_ctl(c->loop, EPOLL_CTL_MOD, &c->ev, want) != 0) {
            net_conn_fail(c, SMEM_IO, UTIL_LOG_WARN, "epoll_ctl for %s: %s", c->peer, strerror(errno));
            return;
        }
        c->ep_events = want;
    }
}

static void net_conn_set_open(net_conn_t *c)
{
    c->state = NET_CONN_OPEN;
    c->deadline_ms = 0;
    c->last_rx_ms = util_now_ms();
    c->opened = true;
    pthread_mutex_lock(&c->lock);
    c->connect_done = true;
    c->connect_rc = SMEM_OK;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    LOG_DEBUG("net: connection %llu with %s open%s", (unsigned long long)c->id, c->peer, c->ssl ? " (TLS)" : "");
    if (c->cbs.on_open != NULL) {
        c->cbs.on_open(c, c->cbs.arg);
    }
    if (c->state == NET_CONN_OPEN) {
        net_conn_flush(c); /* frames queued before the connection was ready */
    }
}

static void net_conn_handshake(net_conn_t *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->hs_wants_write = false;
        net_conn_set_open(c);
        if (c->state == NET_CONN_OPEN) {
            /* Application data that came with the last handshake flight may sit
             * decrypted inside OpenSSL, where epoll cannot see it. */
            net_conn_read(c);
        }
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->hs_wants_write = (e == SSL_ERROR_WANT_WRITE);
        return;
    }
    char why[200];
    net_tls_describe(c->ssl, r, e, why, sizeof(why));
    /* A rejected client is the server's news (WARN); a client's own failure
     * goes back to its caller as the error message. */
    net_conn_fail(c, SMEM_TLS, c->is_client ? UTIL_LOG_DEBUG : UTIL_LOG_WARN, "TLS handshake with %s failed: %s",
                  c->peer, why);
}

static int32_t net_conn_begin_tls(net_conn_t *c)
{
    c->ssl = net_tls_ssl_new(c->opts.tls, c->ev.fd, c->verify_host);
    if (c->ssl == NULL) {
        net_conn_fail(c, SMEM_TLS, UTIL_LOG_WARN, "cannot create a TLS session for %s: %s", c->peer, util_err_get());
        return SMEM_TLS;
    }
    c->state = NET_CONN_HANDSHAKE;
    if (!c->is_client && c->opts.handshake_timeout_ms != 0) {
        c->deadline_ms = util_now_ms() + c->opts.handshake_timeout_ms;
    }
    net_conn_handshake(c);
    return SMEM_OK;
}

static void net_conn_connect_done(net_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->ev.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (err != 0) {
        net_conn_fail(c, SMEM_CONN_FAILED, UTIL_LOG_DEBUG, "connect to %s: %s", c->peer, strerror(err));
        return;
    }
    if (c->opts.tls != NULL) {
        net_conn_begin_tls(c);
    } else {
        net_conn_set_open(c);
    }
}

static void net_conn_on_event(net_ev_t *ev, uint32_t events)
{
    net_conn_t *c = (net_conn_t *)ev;
    switch (c->state) {
    case NET_CONN_CONNECTING:
        net_conn_connect_done(c);
        break;
    case NET_CONN_HANDSHAKE:
        net_conn_handshake(c);
        break;
    case NET_CONN_OPEN:
        if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0 || c->read_wants_write) {
            net_conn_read(c);
        }
        if (c->state == NET_CONN_OPEN) {
            net_conn_flush(c);
        }
        break;
    default:
        return;
    }
    if (c->state != NET_CONN_CLOSED) {
        net_conn_update_events(c);
    }
}

void net_conn_start(net_conn_t *c)
{
    net_loop_t *loop = c->loop;
    c->next = loop->conns;
    c->prev = NULL;
    if (loop->conns != NULL) {
        loop->conns->prev = c;
    }
    loop->conns = c;
    c->ev.on_event = net_conn_on_event;
    c->last_rx_ms = util_now_ms();
    loop->need_sweep = true;
    if (loop->stopping) {
        net_conn_fail(c, SMEM_CONN_FAILED, UTIL_LOG_DEBUG, "loop %s is stopping", loop->name);
        return;
    }
    c->ep_events = c->state == NET_CONN_CONNECTING ? EPOLLOUT : EPOLLIN;
    if (net_loop_ep_ctl(loop, EPOLL_CTL_ADD, &c->ev, c->ep_events) != 0) {
        net_conn_fail(c, SMEM_IO, UTIL_LOG_WARN, "epoll_ctl for %s: %s", c->peer, strerror(errno));
        return;
    }
    switch (c->state) {
    case NET_CONN_CONNECTING:
        if (c->connected_now) {
            net_conn_connect_done(c);
        }
        break;
    case NET_CONN_HANDSHAKE:
        c->state = NET_CONN_CONNECTING; /* accepted, TLS not yet begun */
        net_conn_begin_tls(c);
        break;
    case NET_CONN_OPEN:
        net_conn_set_open(c);
        break;
    default:
        break;
    }
    if (c->state != NET_CONN_CLOSED) {
        net_conn_update_events(c);
    }
}

