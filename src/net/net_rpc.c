/*
 * Request/response client over one connection with its own loop thread.
 *
 * Callers register a pending entry (id -> waiter) under rpc->lock, send, and
 * wait on the entry's condition variable until the response, the connection's
 * loss, destroy, or their own deadline. A background thread redials with
 * exponential backoff after a loss and runs on_reconnect before waiting
 * callers are let through; calls made from on_reconnect itself (same thread)
 * pass while the link is in that "hook" state.
 *
 * Lock order: rpc->lock before any net lock; rpc->lock is never held while a
 * user callback runs or while net_connect blocks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/net_int.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define NET_RPC_BUCKETS 64u
#define NET_RPC_ATTEMPT_MAX_MS 5000u /* one dial attempt; the overall limits are the opts' */

typedef enum { NET_RPC_DOWN = 0, NET_RPC_HOOK, NET_RPC_UP, NET_RPC_FAILED } net_rpc_state_t;

typedef struct net_rpc_pend {
    uint64_t id;
    uint64_t gen; /* the connection it was sent on */
    struct net_rpc_pend *next;
    pthread_cond_t cond;
    bool done;
    int32_t rc;
    int32_t status;
    uint8_t *resp;
    uint32_t resp_len;
} net_rpc_pend_t;

struct net_rpc {
    net_rpc_opts_t opts;
    char url[256];
    net_loop_t *loop;
    net_conn_cbs_t cbs;
    net_timer_t *hb;

    pthread_mutex_t lock;
    pthread_cond_t state_cond; /* state changes, stop, calls_active reaching 0 */
    _Atomic int state;         /* net_rpc_state_t; atomic for net_rpc_connected */
    net_conn_t *conn;          /* a reference, while UP or HOOK */
    net_conn_t *dialing;       /* a reference, while the background thread dials */
    uint64_t gen;
    uint64_t next_id;
    net_rpc_pend_t *pend[NET_RPC_BUCKETS];
    uint32_t calls_active;
    bool stopping;
    uint64_t down_since_ms;
    uint64_t up_since_ms;
    char last_err[256];
    pthread_t bg;
    bool bg_started;
};

void net_rpc_opts_init(net_rpc_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    net_opts_init(&o->net);
    o->connect_timeout_ms = 10000;
    o->backoff_init_ms = 50;
    o->backoff_max_ms = 2000;
    o->reconnect_timeout_ms = 30000;
    o->heartbeat_ms = 1000;
}

bool net_rpc_connected(const net_rpc_t *rpc) { return rpc != NULL && atomic_load(&rpc->state) == NET_RPC_UP; }

/* ---------- pending table (rpc->lock held) ---------- */
static void net_rpc_pend_insert_locked(net_rpc_t *rpc, net_rpc_pend_t *p)
{
    net_rpc_pend_t **b = &rpc->pend[p->id % NET_RPC_BUCKETS];
    p->next = *b;
    *b = p;
}

static net_rpc_pend_t *net_rpc_pend_take_locked(net_rpc_t *rpc, uint64_t id)
{
    for (net_rpc_pend_t **pp = &rpc->pend[id % NET_RPC_BUCKETS]; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            net_rpc_pend_t *p = *pp;
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

/* Fail every pending call sent on gen (all of them when all is true). */
static void net_rpc_fail_pending_locked(net_rpc_t *rpc, uint64_t gen, bool all, int32_t rc)
{
    for (uint32_t i = 0; i < NET_RPC_BUCKETS; i++) {
        net_rpc_pend_t **pp = &rpc->pend[i];
        while (*pp != NULL) {
            net_rpc_pend_t *p = *pp;
            if (all || p->gen == gen) {
                *pp = p->next;
                p->done = true;
                p->rc = rc;
                pthread_cond_signal(&p->cond);
            } else {
                pp = &p->next;
            }
        }
    }
}

/* ---------- connection callbacks (loop thread) ---------- */
static void net_rpc_on_frame(net_conn_t *c, const net_frame_hdr_t *hdr, const uint8_t *body, void *arg)
{
    net_rpc_t *rpc = arg;
    if ((hdr->flags & NET_FLAG_PUSH) != 0) {
        if (rpc->opts.on_push != NULL) {
            rpc->opts.on_push(rpc->opts.arg, hdr->type, body, hdr->body_len);
        }
        return;
    }
    if ((hdr->flags & NET_FLAG_RESPONSE) == 0) {
        LOG_DEBUG("net: rpc %s: unexpected request type %u from the server; ignored", rpc->url, hdr->type);
        return;
    }
    uint8_t *copy = NULL;
    if (hdr->body_len > 0) {
        copy = malloc(hdr->body_len);
        if (copy == NULL) {
            LOG_ERROR("net: rpc %s: cannot allocate %u bytes for response %llu; closing", rpc->url, hdr->body_len,
                      (unsigned long long)hdr->req_id);
            net_conn_close(c);
            return;
        }
        memcpy(copy, body, hdr->body_len);
    }
    pthread_mutex_lock(&rpc->lock);
    net_rpc_pend_t *p = net_rpc_pend_take_locked(rpc, hdr->req_id);
    if (p != NULL) {
        p->done = true;
        p->rc = SMEM_OK;
        p->status = hdr->status;
        p->resp = copy;
        p->resp_len = hdr->body_len;
        copy = NULL;
        pthread_cond_signal(&p->cond);
    }
    pthread_mutex_unlock(&rpc->lock);
    if (copy != NULL || (p == NULL && hdr->body_len == 0)) {
        LOG_DEBUG("net: rpc %s: response %llu arrived after its caller gave up", rpc->url,
                  (unsigned long long)hdr->req_id);
    }
    free(copy);
}

static void net_rpc_on_close(net_conn_t *c, int32_t reason, void *arg)
{
    net_rpc_t *rpc = arg;
    bool was_current = false;
    pthread_mutex_lock(&rpc->lock);
    if (rpc->conn == c) {
        was_current = true;
        rpc->conn = NULL;
        atomic_store(&rpc->state, NET_RPC_DOWN);
        rpc->down_since_ms = util_now_ms();
        snprintf(rpc->last_err, sizeof(rpc->last_err), "connection to %s lost: %s", net_conn_peer(c),
                 util_strerror(reason));
        net_rpc_fail_pending_locked(rpc, rpc->gen, false, SMEM_CONN_FAILED);
        pthread_cond_broadcast(&rpc->state_cond);
        net_conn_put(c); /* rpc->conn's reference; the loop still holds its own */
    }
    bool stopping = rpc->stopping;
    pthread_mutex_unlock(&rpc->lock);
    if (was_current && !stopping) {
        LOG_WARN("net: rpc %s: connection lost (%s); reconnecting", rpc->url, util_strerror(reason));
        if (rpc->opts.on_disconnect != NULL) {
            rpc->opts.on_disconnect(rpc->opts.arg, reason);
        }
    }
}

static void net_rpc_heartbeat(void *arg)
{
    net_rpc_t *rpc = arg;
    pthread_mutex_lock(&rpc->lock);
    net_conn_t *c = rpc->conn;
    net_conn_get(c);
    pthread_mutex_unlock(&rpc->lock);
    if (c != NULL) {
        net_frame_hdr_t h = {.type = NET_TYPE_PING};
        (void)net_conn_send(c, &h, NULL, 0);
        net_conn_put(c);
    }
}

/* ---------- dialing ---------- */
/* One attempt; on success the connection is installed and the state is UP
 * (or HOOK when on_reconnect must run first). */
static int32_t net_rpc_dial(net_rpc_t *rpc, uint32_t timeout_ms, bool reconnect)
{
    net_conn_t *c;
    int32_t rc = net_connect_begin(rpc->loop, rpc->url, &rpc->opts.net, &rpc->cbs, timeout_ms, &c);
    if (rc != SMEM_OK) {
        return rc;
    }
    pthread_mutex_lock(&rpc->lock);
    rpc->dialing = c;
    net_conn_get(c);
    bool stopping = rpc->stopping;
    pthread_mutex_unlock(&rpc->lock);
    if (stopping) {
        net_conn_close(c); /* destroy raced with us; it may not have seen rpc->dialing */
    }
    rc = net_connect_wait(c, timeout_ms); /* drops the caller reference on failure */
    pthread_mutex_lock(&rpc->lock);
    rpc->dialing = NULL;
    net_conn_put(c); /* the dialing reference */
    if (rc != SMEM_OK) {
        pthread_mutex_unlock(&rpc->lock);
        return rc;
    }
    /* on_close takes rpc->lock after marking the conn closed, so checking here
     * either sees the close or guarantees on_close will see rpc->conn == c. */
    if (rpc->stopping || net_conn_is_closed(c)) {
        rc = rpc->stopping ? util_err_set(SMEM_NOT_STARTED, "rpc client for %s is being destroyed", rpc->url)
                           : util_err_set(SMEM_CONN_FAILED, "connection to %s closed right after connecting", rpc->url);
        pthread_mutex_unlock(&rpc->lock);
        net_conn_close(c);
        net_conn_put(c);
        return rc;
    }
    rpc->conn = c;
    rpc->gen++;
    rpc->up_since_ms = util_now_ms();
    atomic_store(&rpc->state, (reconnect && rpc->opts.on_reconnect != NULL) ? NET_RPC_HOOK : NET_RPC_UP);
    pthread_cond_broadcast(&rpc->state_cond);
    pthread_mutex_unlock(&rpc->lock);
    return SMEM_OK;
}

static uint32_t net_rpc_attempt_ms(uint64_t deadline_ms)
{
    int64_t left = util_ms_left(deadline_ms);
    return left > NET_RPC_ATTEMPT_MAX_MS ? NET_RPC_ATTEMPT_MAX_MS : (uint32_t)(left > 0 ? left : 1);
}

/* After a reconnect: run on_reconnect on this (background) thread. */
static void net_rpc_run_hook_locked(net_rpc_t *rpc)
{
    net_conn_t *c = rpc->conn;
    uint64_t gen = rpc->gen;
    pthread_mutex_unlock(&rpc->lock);
    int32_t hr = rpc->opts.on_reconnect(rpc, rpc->opts.arg);
    pthread_mutex_lock(&rpc->lock);
    if (rpc->conn != c || rpc->gen != gen) {
        return; /* lost again while the hook ran; on_close already reset the state */
    }
    if (hr == SMEM_OK) {
        atomic_store(&rpc->state, NET_RPC_UP);
        pthread_cond_broadcast(&rpc->state_cond);
        return;
    }
    LOG_WARN("net: rpc %s: on_reconnect failed (%d); dropping the connection and retrying", rpc->url, hr);
    rpc->conn = NULL;
    atomic_store(&rpc->state, NET_RPC_DOWN);
    rpc->down_since_ms = util_now_ms();
    snprintf(rpc->last_err, sizeof(rpc->last_err), "on_reconnect returned %d", hr);
    net_rpc_fail_pending_locked(rpc, gen, false, SMEM_CONN_FAILED);
    pthread_mutex_unlock(&rpc->lock);
    net_conn_close(c);
    net_conn_put(c);
    pthread_mutex_lock(&rpc->lock);
}

static void *net_rpc_bg_main(void *arg)
{
    net_rpc_t *rpc = arg;
    uint32_t backoff = rpc->opts.backoff_init_ms;
    pthread_mutex_lock(&rpc->lock);
    for (;;) {
        bool was_up = false;
        while (!rpc->stopping && atomic_load(&rpc->state) == NET_RPC_UP) {
            was_up = true;
            pthread_cond_wait(&rpc->state_cond, &rpc->lock);
        }
        if (rpc->stopping) {
            break;
        }
        if (!was_up) {
            /* still failing: the backoff below already grew */
        } else if (util_now_ms() - rpc->up_since_ms >= rpc->opts.backoff_max_ms) {
            backoff = rpc->opts.backoff_init_ms; /* the last link was healthy: retry quickly */
        } else {
            /* A server that accepts and then drops us at once (overload, TLS
             * rejection) must not be hammered: keep backing off. */
            struct timespec ts = util_abstime_after_ms(backoff);
            while (!rpc->stopping && pthread_cond_timedwait(&rpc->state_cond, &rpc->lock, &ts) != ETIMEDOUT) {
            }
            backoff = backoff * 2 > rpc->opts.backoff_max_ms ? rpc->opts.backoff_max_ms : backoff * 2;
            if (rpc->stopping) {
                break;
            }
        }
        uint64_t give_up = rpc->down_since_ms + rpc->opts.reconnect_timeout_ms;
        uint64_t now = util_now_ms();
        bool down = atomic_load(&rpc->state) == NET_RPC_DOWN;
        uint32_t attempt = net_rpc_attempt_ms(down && give_up > now ? give_up : now + NET_RPC_ATTEMPT_MAX_MS);
        pthread_mutex_unlock(&rpc->lock);
        int32_t rc = net_rpc_dial(rpc, attempt, true);
        const char *why = rc != SMEM_OK ? util_err_get() : "";
        pthread_mutex_lock(&rpc->lock);
        if (rc == SMEM_OK) {
            if (atomic_load(&rpc->state) == NET_RPC_HOOK) {
                net_rpc_run_hook_locked(rpc);
            }
            if (atomic_load(&rpc->state) == NET_RPC_UP) {
                LOG_INFO("net: rpc %s: reconnected", rpc->url);
                continue;
            }
        } else {
            snprintf(rpc->last_err, sizeof(rpc->last_err), "%s", why);
        }
        if (rpc->stopping) {
            break;
        }
        if (atomic_load(&rpc->state) == NET_RPC_DOWN && util_now_ms() >= give_up) {
            /* Waiting callers now fail at once; we keep trying at the slowest pace. */
            LOG_WARN("net: rpc %s: no connection for %u ms (%s); failing calls until it is back", rpc->url,
                     rpc->opts.reconnect_timeout_ms, rpc->last_err);
            atomic_store(&rpc->state, NET_RPC_FAILED);
            pthread_cond_broadcast(&rpc->state_cond);
        }
        struct timespec ts = util_abstime_after_ms(backoff);
        while (!rpc->stopping && pthread_cond_timedwait(&rpc->state_cond, &rpc->lock, &ts) != ETIMEDOUT) {
        }
        backoff = backoff * 2 > rpc->opts.backoff_max_ms ? rpc->opts.backoff_max_ms : backoff * 2;
    }
    pthread_mutex_unlock(&rpc->lock);
    return NULL;
}

/* ---------- public ---------- */
int32_t net_rpc_create(const char *url, const net_rpc_opts_t *opts, net_rpc_t **out)
{
    if (url == NULL || out == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "net_rpc_create: NULL argument");
    }
    net_addr_t a;
    int32_t rc = net_addr_parse(url, &a);
    if (rc != SMEM_OK) {
        return rc;
    }
    net_rpc_t *rpc = calloc(1, sizeof(*rpc));
    if (rpc == NULL) {
        return util_err_set(SMEM_MALLOC_FAILED, "net_rpc_create: cannot allocate");
    }
    if (opts != NULL) {
        rpc->opts = *opts;
    } else {
        net_rpc_opts_init(&rpc->opts);
    }
    if (rpc->opts.backoff_init_ms == 0) {
        rpc->opts.backoff_init_ms = 1;
    }
    if (rpc->opts.backoff_max_ms < rpc->opts.backoff_init_ms) {
        rpc->opts.backoff_max_ms = rpc->opts.backoff_init_ms;
    }
    snprintf(rpc->url, sizeof(rpc->url), "%s", url);
    rpc->cbs.on_frame = net_rpc_on_frame;
    rpc->cbs.on_close = net_rpc_on_close;
    rpc->cbs.arg = rpc;
    pthread_mutex_init(&rpc->lock, NULL);
    pthread_cond_init(&rpc->state_cond, NULL);
    atomic_init(&rpc->state, NET_RPC_DOWN);
    rpc->loop = net_loop_create("rpc");
    if (rpc->loop == NULL) {
        rc = SMEM_NEW_OBJECT_FAILED;
        goto free_rpc;
    }

    uint64_t deadline = util_now_ms() + rpc->opts.connect_timeout_ms;
    uint32_t backoff = rpc->opts.backoff_init_ms;
    for (;;) {
        rc = net_rpc_dial(rpc, net_rpc_attempt_ms(deadline), false);
        if (rc == SMEM_OK) {
            break;
        }
        int64_t left = util_ms_left(deadline);
        if (left == 0) {
            rc = util_err_wrap(SMEM_CONN_FAILED, "cannot connect to %s within %u ms", url, rpc->opts.connect_timeout_ms);
            goto destroy_loop;
        }
        usleep((useconds_t)(left < backoff ? left : backoff) * 1000u);
        backoff = backoff * 2 > rpc->opts.backoff_max_ms ? rpc->opts.backoff_max_ms : backoff * 2;
    }
    int prc = pthread_create(&rpc->bg, NULL, net_rpc_bg_main, rpc);
    if (prc != 0) {
        rc = util_err_set(SMEM_IO, "net_rpc_create: pthread_create: %s", strerror(prc));
        goto close_conn;
    }
    rpc->bg_started = true;
    if (rpc->opts.heartbeat_ms > 0) {
        rc = net_timer_add(rpc->loop, rpc->opts.heartbeat_ms, net_rpc_heartbeat, rpc, &rpc->hb);
        if (rc != SMEM_OK) {
            goto stop_bg;
        }
    }
    *out = rpc;
    return SMEM_OK;

stop_bg:
    pthread_mutex_lock(&rpc->lock);
    rpc->stopping = true;
    pthread_cond_broadcast(&rpc->state_cond);
    pthread_mutex_unlock(&rpc->lock);
    pthread_join(rpc->bg, NULL);
close_conn:
    pthread_mutex_lock(&rpc->lock);
    rpc->stopping = true;
    net_conn_t *c = rpc->conn;
    rpc->conn = NULL;
    pthread_mutex_unlock(&rpc->lock);
    net_conn_close(c);
    net_conn_put(c);
destroy_loop:
    net_loop_destroy(rpc->loop);
free_rpc:
    pthread_cond_destroy(&rpc->state_cond);
    pthread_mutex_destroy(&rpc->lock);
    free(rpc);
    return rc;
}

void net_rpc_destroy(net_rpc_t *rpc)
{
    if (rpc == NULL) {
        return;
    }
    pthread_mutex_lock(&rpc->lock);
    rpc->stopping = true;
    net_rpc_fail_pending_locked(rpc, 0, true, SMEM_NOT_STARTED);
    pthread_cond_broadcast(&rpc->state_cond);
    if (rpc->dialing != NULL) {
        net_conn_close(rpc->dialing); /* cut the background thread's connect short */
    }
    while (rpc->calls_active > 0) {
        pthread_cond_wait(&rpc->state_cond, &rpc->lock);
    }
    pthread_mutex_unlock(&rpc->lock);
    if (rpc->bg_started) {
        pthread_join(rpc->bg, NULL);
    }
    net_timer_cancel(rpc->hb);
    pthread_mutex_lock(&rpc->lock);
    net_conn_t *c = rpc->conn;
    rpc->conn = NULL;
    atomic_store(&rpc->state, NET_RPC_DOWN);
    pthread_mutex_unlock(&rpc->lock);
    net_conn_close(c);
    net_conn_put(c);
    net_loop_destroy(rpc->loop);
    pthread_cond_destroy(&rpc->state_cond);
    pthread_mutex_destroy(&rpc->lock);
    free(rpc);
}

/* Wait until the link may carry a request from this thread; rpc->lock held. */
static int32_t net_rpc_wait_ready_locked(net_rpc_t *rpc, uint64_t deadline, uint32_t timeout_ms)
{
    for (;;) {
        if (rpc->stopping) {
            return util_err_set(SMEM_NOT_STARTED, "rpc client for %s is being destroyed", rpc->url);
        }
        int st = atomic_load(&rpc->state);
        if (st == NET_RPC_UP || (st == NET_RPC_HOOK && pthread_equal(pthread_self(), rpc->bg))) {
            return SMEM_OK;
        }
        if (st == NET_RPC_FAILED) {
            return util_err_set(SMEM_CONN_FAILED, "no connection to %s (%s)", rpc->url, rpc->last_err);
        }
        int64_t left = util_ms_left(deadline);
        if (left == 0) {
            return util_err_set(SMEM_CONN_FAILED, "no connection to %s within %u ms, still reconnecting (%s)",
                                rpc->url, timeout_ms, rpc->last_err);
        }
        struct timespec ts = util_abstime_after_ms(left);
        pthread_cond_timedwait(&rpc->state_cond, &rpc->lock, &ts);
    }
}

int32_t net_rpc_callv(net_rpc_t *rpc, uint16_t type, const struct iovec *iov, int iovcnt, uint32_t timeout_ms,
                      int32_t *status, uint8_t **resp, uint32_t *resp_len)
{
    if (rpc == NULL || status == NULL || (resp != NULL && resp_len == NULL)) {
        return util_err_set(SMEM_INVALID_PARAM, "net_rpc_call: NULL argument");
    }
    if (type >= NET_TYPE_RESERVED_BASE) {
        return util_err_set(SMEM_INVALID_PARAM, "net_rpc_call: type 0x%04x is reserved for net", type);
    }
    if (net_loop_in_thread(rpc->loop)) {
        /* The response could only be read by this very thread: it would deadlock. */
        return util_err_set(SMEM_INVALID_PARAM, "net_rpc_call from the rpc client's own callback (on_push/"
                                                "on_disconnect) would deadlock");
    }
    uint64_t deadline = util_now_ms() + timeout_ms;
    net_rpc_pend_t p;
    memset(&p, 0, sizeof(p));
    pthread_cond_init(&p.cond, NULL);
    int32_t rc;

    pthread_mutex_lock(&rpc->lock);
    rpc->calls_active++;
    rc = net_rpc_wait_ready_locked(rpc, deadline, timeout_ms);
    if (rc != SMEM_OK) {
        goto out;
    }
    p.id = ++rpc->next_id;
    p.gen = rpc->gen;
    net_rpc_pend_insert_locked(rpc, &p);
    net_conn_t *c = rpc->conn;
    net_conn_get(c);
    pthread_mutex_unlock(&rpc->lock);

    net_frame_hdr_t h = {.type = type, .req_id = p.id};
    int32_t src = net_conn_sendv(c, &h, iov, iovcnt);
    net_conn_put(c);

    pthread_mutex_lock(&rpc->lock);
    if (src != SMEM_OK && !p.done) {
        (void)net_rpc_pend_take_locked(rpc, p.id);
        rc = src == SMEM_PEER_GONE ? util_err_set(SMEM_CONN_FAILED, "connection to %s lost before request type %u "
                                                                    "was sent", rpc->url, type)
                                   : src; /* too large, queue full: the message is already set */
        goto out;
    }
    while (!p.done) {
        int64_t left = util_ms_left(deadline);
        if (left == 0) {
            break;
        }
        struct timespec ts = util_abstime_after_ms(left);
        pthread_cond_timedwait(&p.cond, &rpc->lock, &ts);
    }
    if (!p.done) {
        (void)net_rpc_pend_take_locked(rpc, p.id);
        rc = util_err_set(SMEM_TIMEOUT, "request type %u (id %llu) to %s: no response within %u ms", type,
                          (unsigned long long)p.id, rpc->url, timeout_ms);
        goto out;
    }
    if (p.rc == SMEM_CONN_FAILED) {
        rc = util_err_set(SMEM_CONN_FAILED, "connection to %s lost with request type %u (id %llu) outstanding "
                          "(not resent)", rpc->url, type, (unsigned long long)p.id);
        goto out;
    }
    if (p.rc != SMEM_OK) {
        rc = util_err_set(p.rc, "request type %u to %s abandoned: the rpc client is being destroyed", type, rpc->url);
        goto out;
    }
    *status = p.status;
    if (resp != NULL) {
        *resp = p.resp;
        *resp_len = p.resp_len;
        p.resp = NULL;
    }
    rc = SMEM_OK;
out:
    rpc->calls_active--;
    if (rpc->calls_active == 0 && rpc->stopping) {
        pthread_cond_broadcast(&rpc->state_cond);
    }
    pthread_mutex_unlock(&rpc->lock);
    free(p.resp);
    pthread_cond_destroy(&p.cond);
    return rc;
}

int32_t net_rpc_call(net_rpc_t *rpc, uint16_t type, const void *body, uint32_t len, uint32_t timeout_ms,
                     int32_t *status, uint8_t **resp, uint32_t *resp_len)
{
    struct iovec iov = {.iov_base = (void *)body, .iov_len = len};
    return net_rpc_callv(rpc, type, &iov, len > 0 ? 1 : 0, timeout_ms, status, resp, resp_len);
}
