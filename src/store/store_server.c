/*
 * Store server: binds the socket-free core (store_core.c) to a net loop. The
 * loop thread owns the core; other threads reach it only through
 * net_loop_post (stats, shutdown).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_core.h"
#include "store/store_proto.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

/* Expiry granularity of blocking GETs and collective members. */
#define STORE_TICK_MS 20u
#define STORE_OUTQ_BUDGET (512ull << 20) /* bytes queued to all clients together */
#define STORE_KEEPALIVE_DEFAULT_MS 4000u /* 3000 + the default 1000 ms client heartbeat */

struct store_server {
    net_loop_t *loop;
    net_listener_t *lis;
    net_timer_t *timer;
    store_core_t *core;
    uint16_t port;
};

void store_server_opts_init(store_server_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    net_opts_init(&o->net);
    o->net.max_frame = STORE_FRAME_MAX;
    o->keepalive_ms = STORE_KEEPALIVE_DEFAULT_MS;
    o->reserve_ms = STORE_RESERVE_DEFAULT_MS;
    o->max_data_bytes = STORE_DATA_MAX_DEFAULT;
}

static int32_t srv_send(void *link, const net_frame_hdr_t *hdr, const void *body, uint32_t len)
{
    return net_conn_send(link, hdr, body, len);
}

static int32_t srv_send_shared(void *link, const net_frame_hdr_t *hdr, net_shbuf_t *body, uint32_t len)
{
    return net_conn_send_shared(link, hdr, body, len);
}

static void srv_close(void *link) { net_conn_close(link); }

static const store_core_ops_t srv_core_ops = {.send = srv_send, .send_shared = srv_send_shared, .close = srv_close};

static store_peer_t *srv_peer(store_server_t *s, net_conn_t *conn)
{
    store_peer_t *p = net_conn_get_ctx(conn);
    if (p != NULL) return p;
    p = store_core_peer_open(s->core, conn, net_conn_peer(conn));
    if (p == NULL) {
        LOG_ERROR("store: out of memory for connection from %s; closing it", net_conn_peer(conn));
        net_conn_close(conn);
        return NULL;
    }
    net_conn_set_ctx(conn, p);
    return p;
}

static void srv_on_open(net_conn_t *conn, void *arg) { (void)srv_peer(arg, conn); }

static void srv_on_frame(net_conn_t *conn, const net_frame_hdr_t *hdr, const uint8_t *body, void *arg)
{
    store_server_t *s = arg;
    store_peer_t *p = srv_peer(s, conn);
    if (p != NULL) store_core_dispatch(s->core, p, hdr, body);
}

static void srv_on_close(net_conn_t *conn, int32_t reason, void *arg)
{
    store_server_t *s = arg;
    store_peer_t *p = net_conn_get_ctx(conn);
    if (p == NULL) return;
    net_conn_set_ctx(conn, NULL);
    store_core_peer_close(s->core, p, reason);
}

static void srv_tick(void *arg)
{
    store_server_t *s = arg;
    store_core_tick(s->core, util_now_ms());
}

/* ---------- running a function on the loop thread and waiting ---------- */

typedef struct srv_sync {
    store_server_t *s;
    void (*fn)(store_server_t *s, void *arg);
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} srv_sync_t;

static void srv_sync_run(void *arg)
{
    srv_sync_t *y = arg;
    y->fn(y->s, y->arg);
    pthread_mutex_lock(&y->mu);
    y->done = true;
    pthread_cond_signal(&y->cv);
    pthread_mutex_unlock(&y->mu);
}

static int32_t srv_sync(store_server_t *s, void (*fn)(store_server_t *s, void *arg), void *arg)
{
    if (net_loop_in_thread(s->loop)) {
        fn(s, arg);
        return SMEM_OK;
    }
    srv_sync_t y = {.s = s, .fn = fn, .arg = arg, .done = false};
    pthread_mutex_init(&y.mu, NULL);
    pthread_cond_init(&y.cv, NULL);
    int32_t rc = net_loop_post(s->loop, srv_sync_run, &y);
    if (rc == 0) {
        pthread_mutex_lock(&y.mu);
        while (!y.done) pthread_cond_wait(&y.cv, &y.mu);
        pthread_mutex_unlock(&y.mu);
    }
    pthread_cond_destroy(&y.cv);
    pthread_mutex_destroy(&y.mu);
    return rc;
}

static void srv_stats_fn(store_server_t *s, void *arg) { store_core_stats(s->core, arg); }
static void srv_quiesce_fn(store_server_t *s, void *arg)
{
    (void)arg;
    store_core_quiesce(s->core);
}

int32_t store_server_stats(store_server_t *s, store_server_stats_t *out)
{
    if (s == NULL || out == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_server_stats: NULL argument");
    store_server_stats_t st;
    int32_t rc = srv_sync(s, srv_stats_fn, &st);
    if (rc != 0) return rc;
    *out = st;
    return SMEM_OK;
}

typedef struct srv_verify {
    const char *group;
    uint32_t rank, len;
    const void *challenge;
    const uint8_t *proof;
    int32_t rc;
    char msg[256];
} srv_verify_t;

static void srv_verify_fn(store_server_t *s, void *arg)
{
    srv_verify_t *v = arg;
    v->rc = store_core_rank_verify(s->core, v->group, v->rank, v->challenge, v->len, v->proof);
    /* The message is the loop thread's; the caller's thread gets a copy. */
    if (v->rc != SMEM_OK) snprintf(v->msg, sizeof(v->msg), "%s", util_err_get());
}

int32_t store_server_rank_verify(store_server_t *s, const char *group, uint32_t rank, const void *challenge,
                                 uint32_t len, const uint8_t proof[STORE_PROOF_SIZE])
{
    if (s == NULL || group == NULL || proof == NULL || (challenge == NULL && len != 0))
        return util_err_set(SMEM_INVALID_PARAM, "store_server_rank_verify: NULL argument");
    srv_verify_t v = {.group = group, .rank = rank, .len = len, .challenge = challenge, .proof = proof};
    int32_t rc = srv_sync(s, srv_verify_fn, &v);
    if (rc != SMEM_OK) return rc;
    if (v.rc != SMEM_OK) return util_err_set(v.rc, "%s", v.msg);
    return SMEM_OK;
}

uint64_t store_server_key_count(store_server_t *s)
{
    store_server_stats_t st = {0};
    return store_server_stats(s, &st) == 0 ? st.keys : UINT64_MAX;
}

/* ---------- lifetime ---------- */

int32_t store_server_start(const char *url, const store_server_opts_t *opts, store_server_t **out)
{
    store_server_opts_t o;
    int32_t rc;

    if (url == NULL || out == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_server_start: NULL argument");
    if (opts != NULL)
        o = *opts;
    else
        store_server_opts_init(&o);
    /* The keepalive is net's idle timeout: clients heartbeat, so silence
     * means a dead or stopped process. */
    if (o.net.idle_timeout_ms == 0) o.net.idle_timeout_ms = o.keepalive_ms;

    store_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store_server_start: out of memory");
    rc = store_core_create(&srv_core_ops, &s->core);
    if (rc == 0) {
        store_core_set_recovery(s->core, o.recovery_ms, o.reserve_ms);
        store_core_set_data_max(s->core, o.max_data_bytes);
    }
    if (rc != 0) goto free_server;
    s->loop = net_loop_create("smem-store");
    if (s->loop == NULL) {
        rc = SMEM_ERROR;
        goto destroy_core;
    }
    /* Memory bounds against clients that stop reading: one connection may queue two of the largest answers,
     * all together at most STORE_OUTQ_BUDGET (an all-gather answer shared by many counts once: not at all). */
    if (o.net.max_outq_bytes > 2ull * STORE_FRAME_MAX) o.net.max_outq_bytes = 2ull * STORE_FRAME_MAX;
    net_loop_set_outq_budget(s->loop, STORE_OUTQ_BUDGET);
    net_conn_cbs_t cbs = {.on_open = srv_on_open, .on_frame = srv_on_frame, .on_close = srv_on_close, .arg = s};
    rc = net_listen(s->loop, url, &o.net, &cbs, &s->lis);
    if (rc != 0) goto destroy_loop;
    rc = net_timer_add(s->loop, STORE_TICK_MS, srv_tick, s, &s->timer);
    if (rc != 0) goto close_listener;
    s->port = net_listener_port(s->lis);
    LOG_INFO("store: server listening on %s (port %u, keepalive %u ms, recovery window %u ms, rank reservation %u ms)",
             url, s->port, o.net.idle_timeout_ms, o.recovery_ms, o.reserve_ms);
    *out = s;
    return SMEM_OK;

close_listener:
    net_listener_close(s->lis);
destroy_loop:
    net_loop_destroy(s->loop);
destroy_core:
    store_core_destroy(s->core);
free_server:
    free(s);
    return rc;
}

uint16_t store_server_port(const store_server_t *s) { return s ? s->port : 0; }

void store_server_stop(store_server_t *s)
{
    if (s == NULL) return;
    net_listener_close(s->lis);
    net_timer_cancel(s->timer);
    /* Connections closing during shutdown must not fail each other's
     * collectives with messages nobody will read. */
    (void)srv_sync(s, srv_quiesce_fn, NULL);
    net_loop_destroy(s->loop); /* on_close runs for every connection */
    store_core_destroy(s->core);
    LOG_INFO("store: server on port %u stopped", s->port);
    free(s);
}
