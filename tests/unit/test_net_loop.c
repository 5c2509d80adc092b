/*
 * The event loop, connections and the rpc client end to end over real
 * sockets: echo over TCP v4/v6 and UNIX, many concurrent rpc calls, timeouts,
 * large frames, pushes, timers, backpressure, idle close and reconnect; the
 * listen policy (loopback only without TLS, unless switched).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "net/net.h"
#include "testutil.h"
#include "util/util_status.h"
#include "util/util_time.h"
#include "tu_cmocka.h"

enum { T_ECHO = 1, T_SILENT = 2, T_PUSH = 3 };

/* ---------- echo server ---------- */
typedef struct srv {
    net_loop_t *loop;
    net_listener_t *l;
    uint16_t port;
    atomic_int opens;
    atomic_int closes;
} srv_t;

static void srv_on_open(net_conn_t *c, void *arg)
{
    (void)c;
    atomic_fetch_add(&((srv_t *)arg)->opens, 1);
}

static void srv_on_close(net_conn_t *c, int32_t reason, void *arg)
{
    (void)c;
    (void)reason;
    atomic_fetch_add(&((srv_t *)arg)->closes, 1);
}

static void srv_on_frame(net_conn_t *c, const net_frame_hdr_t *hdr, const uint8_t *body, void *arg)
{
    (void)arg;
    net_frame_hdr_t r = {.type = hdr->type, .flags = NET_FLAG_RESPONSE, .req_id = hdr->req_id,
                         .status = (int32_t)hdr->body_len};
    switch (hdr->type) {
    case T_SILENT:
        return;
    case T_PUSH:
        for (int i = 0; i < 3; i++) {
            char msg[16];
            int n = snprintf(msg, sizeof(msg), "push-%d", i);
            net_frame_hdr_t p = {.type = (uint16_t)(100 + i), .flags = NET_FLAG_PUSH};
            assert_int_equal(net_conn_send(c, &p, msg, (uint32_t)n), SMEM_OK);
        }
        __attribute__((fallthrough)); /* and answer */
    default:
        assert_int_equal(net_conn_send(c, &r, body, hdr->body_len), SMEM_OK);
    }
}

static int srv_start(srv_t *s, const char *url, const net_opts_t *opts)
{
    memset(s, 0, sizeof(*s));
    s->loop = net_loop_create("srv");
    assert_non_null(s->loop);
    net_conn_cbs_t cbs = {.on_open = srv_on_open, .on_frame = srv_on_frame, .on_close = srv_on_close, .arg = s};
    int32_t rc = net_listen(s->loop, url, opts, &cbs, &s->l);
    if (rc != SMEM_OK) {
        net_loop_destroy(s->loop);
        s->loop = NULL;
        return rc;
    }
    s->port = net_listener_port(s->l);
    return SMEM_OK;
}

static void srv_stop(srv_t *s)
{
    net_listener_close(s->l);
    net_loop_destroy(s->loop);
    s->loop = NULL;
}

/* ---------- a raw client that collects frames ---------- */
typedef struct cli {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int frames;
    int closes;
    int32_t close_reason;
    size_t bytes;
    uint64_t last_req_id;
    bool bad;
} cli_t;

static void cli_init(cli_t *k)
{
    memset(k, 0, sizeof(*k));
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
}

static void cli_on_frame(net_conn_t *c, const net_frame_hdr_t *hdr, const uint8_t *body, void *arg)
{
    (void)c;
    cli_t *k = arg;
    pthread_mutex_lock(&k->lock);
    /* the echo answers carry the request's id and our pattern */
    for (uint32_t i = 0; i < hdr->body_len; i++) {
        if (body[i] != (uint8_t)(hdr->req_id + i)) {
            k->bad = true;
        }
    }
    if (!(hdr->flags & NET_FLAG_RESPONSE) || hdr->status != (int32_t)hdr->body_len) {
        k->bad = true;
    }
    k->frames++;
    k->bytes += hdr->body_len;
    k->last_req_id = hdr->req_id;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

static void cli_on_close(net_conn_t *c, int32_t reason, void *arg)
{
    (void)c;
    cli_t *k = arg;
    pthread_mutex_lock(&k->lock);
    k->closes++;
    k->close_reason = reason;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

static bool cli_wait(cli_t *k, int frames, int closes, int timeout_ms)
{
    uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
    pthread_mutex_lock(&k->lock);
    while (k->frames < frames || k->closes < closes) {
        int64_t left = util_ms_left(deadline);
        if (left == 0) {
            break;
        }
        struct timespec ts = util_abstime_after_ms(left);
        pthread_cond_timedwait(&k->cond, &k->lock, &ts);
    }
    bool ok = k->frames >= frames && k->closes >= closes;
    pthread_mutex_unlock(&k->lock);
    return ok;
}

static bool wait_atomic(atomic_int *v, int want, int timeout_ms)
{
    uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
    while (atomic_load(v) < want && util_ms_left(deadline) > 0) {
        usleep(2000);
    }
    return atomic_load(v) >= want;
}

static void echo_roundtrips(const char *url, srv_t *s)
{
    net_loop_t *loop = net_loop_create("cli");
    assert_non_null(loop);
    cli_t k;
    cli_init(&k);
    net_conn_cbs_t cbs = {.on_frame = cli_on_frame, .on_close = cli_on_close, .arg = &k};
    net_conn_t *c;
    assert_int_equal(net_connect(loop, url, NULL, &cbs, 3000, &c), SMEM_OK);
    assert_true(net_conn_id(c) > 0);
    assert_true(strlen(net_conn_peer(c)) > 0);
    net_conn_set_ctx(c, &k);
    assert_ptr_equal(net_conn_get_ctx(c), &k);
    for (int i = 1; i <= 50; i++) {
        uint8_t body[300];
        uint32_t n = (uint32_t)(i * 5);
        for (uint32_t j = 0; j < n; j++) {
            body[j] = (uint8_t)(i + j);
        }
        net_frame_hdr_t h = {.type = T_ECHO, .req_id = (uint64_t)i};
        assert_int_equal(net_conn_send(c, &h, body, n), SMEM_OK);
    }
    /* a ping is consumed by the server's net layer, never echoed */
    net_frame_hdr_t ping = {.type = NET_TYPE_PING};
    assert_int_equal(net_conn_send(c, &ping, NULL, 0), SMEM_OK);
    struct iovec iov[3];
    uint8_t a[3] = {51, 52, 53}, b[2] = {54, 55};
    iov[0] = (struct iovec){a, 3};
    iov[1] = (struct iovec){NULL, 0};
    iov[2] = (struct iovec){b, 2};
    net_frame_hdr_t h = {.type = T_ECHO, .req_id = 51};
    assert_int_equal(net_conn_sendv(c, &h, iov, 3), SMEM_OK);
    assert_true(cli_wait(&k, 51, 0, 5000));
    assert_false(k.bad);
    assert_int_equal(k.last_req_id, 51);
    assert_true(wait_atomic(&s->opens, 1, 2000));

    net_conn_close(c);
    assert_true(cli_wait(&k, 51, 1, 2000));
    assert_int_equal(k.close_reason, SMEM_OK);
    assert_int_equal(net_conn_send(c, &h, a, 3), SMEM_PEER_GONE);
    assert_true(wait_atomic(&s->closes, 1, 2000)); /* the server saw the peer go */
    net_conn_put(c);
    net_loop_destroy(loop);
    assert_int_equal(k.closes, 1); /* exactly once, even after destroy */
    assert_int_equal(k.frames, 51);
}

static void test_echo_tcp4(void **state)
{
    (void)state;
    srv_t s;
    assert_int_equal(srv_start(&s, "tcp://127.0.0.1:0", NULL), SMEM_OK);
    assert_true(s.port > 0);
    char url[64];
    snprintf(url, sizeof(url), "tcp://localhost:%u", s.port);
    echo_roundtrips(url, &s);
    srv_stop(&s);
}

static void test_echo_tcp6(void **state)
{
    (void)state;
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    if (!have_v6) {
        skip(); /* no IPv6 loopback in this environment */
    }
    srv_t s;
    assert_int_equal(srv_start(&s, "tcp://[::1]:0", NULL), SMEM_OK);
    char url[64];
    snprintf(url, sizeof(url), "tcp://[::1]:%u", s.port);
    echo_roundtrips(url, &s);
    srv_stop(&s);
}

static void test_echo_unix(void **state)
{
    (void)state;
    char dir[256], url[320];
    assert_int_equal(tu_mkdtemp(dir, sizeof(dir)), 0);
    snprintf(url, sizeof(url), "unix://%s/echo.sock", dir);
    srv_t s;
    assert_int_equal(srv_start(&s, url, NULL), SMEM_OK);
    assert_int_equal(net_listener_port(s.l), 0);
    echo_roundtrips(url, &s);
    srv_stop(&s);
    char path[300];
    snprintf(path, sizeof(path), "%s/echo.sock", dir);
    assert_int_equal(access(path, F_OK), -1); /* the listener removed its socket file */
    tu_rmdir_rf(dir);

    snprintf(url, sizeof(url), "unix://@smem-test-%d", (int)getpid());
    assert_int_equal(srv_start(&s, url, NULL), SMEM_OK);
    echo_roundtrips(url, &s);
    srv_stop(&s);
}

/* ---------- rpc ---------- */
typedef struct rpc_worker {
    net_rpc_t *rpc;
    int idx;
    int ok;
} rpc_worker_t;

static void *rpc_worker_main(void *arg)
{
    rpc_worker_t *w = arg;
    for (int i = 0; i < 300; i++) {
        char body[64];
        int n = snprintf(body, sizeof(body), "worker %d call %d", w->idx, i);
        int32_t status = 0;
        uint8_t *resp = NULL;
        uint32_t len = 0;
        int32_t rc = net_rpc_call(w->rpc, T_ECHO, body, (uint32_t)n, 5000, &status, &resp, &len);
        if (rc == SMEM_OK && status == n && len == (uint32_t)n && memcmp(resp, body, (size_t)n) == 0) {
            w->ok++;
        }
        free(resp);
    }
    return NULL;
}

static net_rpc_t *rpc_connect(uint16_t port, net_rpc_opts_t *o)
{
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
    net_rpc_t *rpc = NULL;
    assert_int_equal(net_rpc_create(url, o, &rpc), SMEM_OK);
    assert_true(net_rpc_connected(rpc));
    return rpc;
}

static void test_rpc_concurrent(void **state)
{
    (void)state;
    srv_t s;
    assert_int_equal(srv_start(&s, "tcp://127.0.0.1:0", NULL), SMEM_OK);
    net_rpc_t *rpc = rpc_connect(s.port, NULL);
    pthread_t th[4];
    rpc_worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (rpc_worker_t){.rpc = rpc, .idx = i};
        assert_int_equal(pthread_create(&th[i], NULL, rpc_worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 300);
    }
    /* an empty request and a NULL resp are fine */
    int32_t status = -1;
    assert_int_equal(net_rpc_call(rpc, T_ECHO, NULL, 0, 2000, &status, NULL, NULL), SMEM_OK);
    assert_int_equal(status, 0);
    assert_int_equal(net_rpc_call(rpc, NET_TYPE_PING, NULL, 0, 2000, &status, NULL, NULL), SMEM_INVALID_PARAM);
    net_rpc_destroy(rpc);
    srv_stop(&s);
}

static void test_rpc_timeout(void **state)
{
    (void)state;
    srv_t s;
    assert_int_equal(srv_start(&s, "tcp://127.0.0.1:0", NULL), SMEM_OK);
    net_rpc_t *rpc = rpc_connect(s.port, NULL);
    int32_t status;
    uint8_t *resp = NULL;
    uint32_t len;
    uint64_t t0 = util_now_ms();
    assert_int_equal(net_rpc_call(rpc, T_SILENT, "x", 1, 200, &status, &resp, &len), SMEM_TIMEOUT);
    uint64_t dt = util_now_ms() - t0;
    assert_true(dt >= 190 && dt < 1000);
    assert_non_null(strstr(util_err_get(), "no response within 200 ms"));
    assert_null(resp);
    /* the link is still good */
    assert_int_equal(net_rpc_call(rpc, T_ECHO, "abc", 3, 2000, &status, &resp, &len), SMEM_OK);
    assert_int_equal(len, 3);
    free(resp);
    net_rpc_destroy(rpc);
    srv_stop(&s);
}

static void test_large_frames(void **state)
{
    (void)state;
    srv_t s;
    assert_int_equal(srv_start(&s, "tcp://127.0.0.1:0", NULL), SMEM_OK);
    net_rpc_opts_t o;
    net_rpc_opts_init(&o);
    o.net.max_frame = 8u << 20;
    net_rpc_t *rpc = rpc_connect(s.port, &o);
    size_t n = 6u << 20;
    uint8_t *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++) {
        big[i] = (uint8_t)(i * 131 + (i >> 16));
    }
    for (int round = 0; round < 3; round++) {
        int32_t status;
        uint8_t *resp = NULL;
        uint32_t len = 0;
        assert_int_equal(net_rpc_call(rpc, T_ECHO, big, (uint32_t)n, 20000, &status, &resp, &len), SMEM_OK);
        assert_int_equal(len, n);
        assert_int_equal(status, (int32_t)n);
        assert_memory_equal(resp, big, n);
        free(resp);
    }
    /* over our own max_frame: refused before anything is sent */
    uint8_t *huge = calloc(1, (8u << 20) + 1);
    assert_non_null(huge);
    int32_t status;
    assert_int_equal(net_rpc_call(rpc, T_ECHO, huge, (8u << 20) + 1, 2000, &status, NULL, NULL), SMEM_TOO_LARGE);
    assert_non_null(strstr(util_err_get(), "max_frame"));
    free(huge);
    free(big);
    net_rpc_destroy(rpc);
    srv_stop(&s);
}

typedef struct push_rec {
    atomic_int n;
    atomic_int bad;
    atomic_int reentry_refused;
    net_rpc_t *_Atomic rpc;
} push_rec_t;

static void on_push(void *arg, uint16_t type, const uint8_t *body, uint32_t len)
{
    push_rec_t *p = arg;
    char want[16];
    int i = atomic_load(&p->n) % 3;
    int n = snprintf(want, sizeof(want), "push-%d", i);
    if (type != 100 + i || len != (uint32_t)n || memcmp(body, want, len) != 0) {
        atomic_fetch_add(&p->bad, 1);
    }
    atomic_fetch_add(&p->n, 1);
    net_rpc_t *rpc = atomic_load(&p->rpc);
    int32_t status;
    /* a blocking call from the client's own loop thread would deadlock: refused */
    if (rpc != NULL && net_rpc_call(rpc, T_ECHO, "x", 1, 100, &status, NULL, NULL) == SMEM_INVALID_PARAM) {
        atomic_fetch_add(&p->reentry_refused, 1);
    }
}

static void test_push(void **state)
{
    (void)state;
    srv_t s;
    assert_int_equal(srv_start(&s, "tcp://127.0.0.1:0", NULL), SMEM_OK);
    push_rec_t rec = {0};
    net_rpc_opts_t o;
    net_rpc_opts_init(&o);
    o.on_push = on_push;
    o.arg = &rec;
    net_rpc_t *rpc = rpc_connect(s.port, &o);
    atomic_store(&rec.rpc, rpc);
    int32_t status;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(net_rpc_call(rpc, T_PUSH, "p", 1, 2000, &status, NULL, NULL), SMEM_OK);
        /* pushes sent before the response are delivered before the call returns */
        assert_int_equal(atomic_load(&rec.n), 3 * (i + 1));
    }
    assert_int_equal(atomic_load(&rec.bad), 0);
    assert_int_equal(atomic_load(&rec.reentry_refused), 15);
    net_rpc_destroy(rpc);
    srv_stop(&s);
}

/* ---------- reconnect ---------- */
typedef struct reconn {
    atomic_int hooks;
    atomic_int hook_call_ok;
    atomic_int disconnects;
} reconn_t;

static int32_t on_reconnect(net_rpc_t *rpc, void *arg)
{
    reconn_t *r = arg;
    atomic_fetch_add(&r->hooks, 1);
    int32_t status;
    /* the hook may itself make calls before waiting callers proceed */
    if (net_rpc_call(rpc, T_ECHO, "hook", 4, 2000, &status, NULL, NULL) == SMEM_OK && status == 4) {
        atomic_fetch_add(&r->hook_call_ok, 1);
    }
    return SMEM_OK;
}

static void on_disconnect(void *arg, int32_t reason)
{
    (void)reason;
    atomic_fetch_add(&((reconn_t *)arg)->disconnects, 1);
}

typedef struct bg_call {
    net_rpc_t *rpc;
    int32_t rc;
    uint64_t ms;
} bg_call_t;

static void *bg_silent_call(void *arg)
{
    bg_call_t *b = arg;
    int32_t status;
    uint64_t t0 = util_now_ms();
    b->rc = net_rpc_call(b->rpc, T_SILENT, "s", 1, 10000, &status, NULL, NULL);
    b->ms = util_now_ms() - t0;
    return NULL;
}

static void test_reconnect(void **state)
{
    (void)state;
    srv_t s;
    assert_int_equal(srv_start(&s, "tcp://127.0.0.1:0", NULL), SMEM_OK);
    uint16_t port = s.port;
    reconn_t r = {0};
    net_rpc_opts_t o;
    net_rpc_opts_init(&o);
    o.backoff_init_ms = 20;
    o.backoff_max_ms = 200;
    o.heartbeat_ms = 50;
    o.on_reconnect = on_reconnect;
    o.on_disconnect = on_disconnect;
    o.arg = &r;
    net_rpc_t *rpc = rpc_connect(port, &o);
    int32_t status;
    assert_int_equal(net_rpc_call(rpc, T_ECHO, "a", 1, 2000, &status, NULL, NULL), SMEM_OK);

    /* an outstanding call fails as soon as the link drops; it is not resent */
    bg_call_t b = {.rpc = rpc};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_silent_call, &b), 0);
    usleep(100000);
    srv_stop(&s);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, SMEM_CONN_FAILED);
    assert_true(b.ms < 3000);
    assert_true(wait_atomic(&r.disconnects, 1, 2000));

    /* while the server is down calls fail with a clear error within their timeout */
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = util_now_ms();
        int32_t rc = net_rpc_call(rpc, T_ECHO, "b", 1, 300, &status, NULL, NULL);
        uint64_t dt = util_now_ms() - t0;
        assert_int_equal(rc, SMEM_CONN_FAILED);
        assert_non_null(strstr(util_err_get(), "no connection"));
        assert_true(dt < 800);
    }
    assert_false(net_rpc_connected(rpc));
    assert_int_equal(atomic_load(&r.hooks), 0);

    /* same port again: the next call waits for the reconnection and succeeds */
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
    assert_int_equal(srv_start(&s, url, NULL), SMEM_OK);
    uint8_t *resp = NULL;
    uint32_t len = 0;
    assert_int_equal(net_rpc_call(rpc, T_ECHO, "back", 4, 5000, &status, &resp, &len), SMEM_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(resp, "back", 4);
    free(resp);
    assert_int_equal(atomic_load(&r.hooks), 1);
    assert_int_equal(atomic_load(&r.hook_call_ok), 1);
    assert_true(net_rpc_connected(rpc));

    /* destroy with a call outstanding: it fails, destroy joins cleanly */
    b = (bg_call_t){.rpc = rpc};
    assert_int_equal(pthread_create(&th, NULL, bg_silent_call, &b), 0);
    usleep(100000);
    net_rpc_destroy(rpc);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, SMEM_NOT_STARTED);
    srv_stop(&s);
}

static void test_rpc_connect_fails(void **state)
{
    (void)state;
    /* nothing listens on this port (bound, never listening) */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(sa.sin_port));
    net_rpc_opts_t o;
    net_rpc_opts_init(&o);
    o.connect_timeout_ms = 300;
    o.backoff_init_ms = 10;
    net_rpc_t *rpc = NULL;
    uint64_t t0 = util_now_ms();
    assert_int_equal(net_rpc_create(url, &o, &rpc), SMEM_CONN_FAILED);
    assert_true(util_now_ms() - t0 < 2000);
    assert_non_null(strstr(util_err_get(), "within 300 ms"));
    assert_null(rpc);
    net_conn_t *c = NULL;
    net_loop_t *loop = net_loop_create("x");
    net_conn_cbs_t cbs = {0};
    assert_int_equal(net_connect(loop, url, NULL, &cbs, 1000, &c), SMEM_CONN_FAILED);
    assert_non_null(strstr(util_err_get(), "refused"));
    assert_int_equal(net_connect(loop, "tcp://nonsense", NULL, &cbs, 1000, &c), SMEM_INVALID_PARAM);
    net_loop_destroy(loop);
    close(fd);
}

/* ---------- loop services ---------- */
static void count_fn(void *arg) { atomic_fetch_add((atomic_int *)arg, 1); }

static void test_timers_and_post(void **state)
{
    (void)state;
    net_loop_t *loop = net_loop_create("t");
    assert_false(net_loop_in_thread(loop));
    atomic_int ticks = 0, posts = 0;
    net_timer_t *t;
    assert_int_equal(net_timer_add(loop, 20, count_fn, &ticks, &t), SMEM_OK);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(net_loop_post(loop, count_fn, &posts), SMEM_OK);
    }
    assert_true(wait_atomic(&ticks, 5, 2000));
    assert_true(wait_atomic(&posts, 100, 2000));
    net_timer_cancel(t);
    int after = atomic_load(&ticks);
    usleep(100000);
    assert_int_equal(atomic_load(&ticks), after); /* never runs after cancel returns */
    net_loop_destroy(loop);
}

static void test_backpressure_and_idle(void **state)
{
    (void)state;
    /* A server that never accepts or reads: our queue must fill and refuse. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    socklen_t sl = sizeof(sa);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(sa.sin_port));
    net_loop_t *loop = net_loop_create("bp");
    net_opts_t o;
    net_opts_init(&o);
    o.max_outq_bytes = 256u << 10;
    cli_t k;
    cli_init(&k);
    net_conn_cbs_t cbs = {.on_frame = cli_on_frame, .on_close = cli_on_close, .arg = &k};
    net_conn_t *c;
    assert_int_equal(net_connect(loop, url, &o, &cbs, 2000, &c), SMEM_OK);
    static uint8_t chunk[64u << 10];
    int32_t rc = SMEM_OK;
    for (int i = 0; i < 20000 && rc == SMEM_OK; i++) {
        net_frame_hdr_t h = {.type = T_ECHO};
        rc = net_conn_send(c, &h, chunk, sizeof(chunk));
        if (rc == SMEM_OK && i % 16 == 0) {
            usleep(1000); /* let the loop move the queue into the kernel */
        }
    }
    assert_int_equal(rc, SMEM_TOO_LARGE);
    assert_non_null(strstr(util_err_get(), "max_outq_bytes"));
    net_conn_close(c);
    net_conn_put(c);
    net_loop_destroy(loop);
    close(lfd);

    /* idle_timeout on the server closes a silent client; heartbeats keep an rpc client alive */
    net_opts_t so;
    net_opts_init(&so);
    so.idle_timeout_ms = 200;
    srv_t s;
    assert_int_equal(srv_start(&s, "tcp://127.0.0.1:0", &so), SMEM_OK);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", s.port);
    loop = net_loop_create("idle");
    cli_init(&k);
    assert_int_equal(net_connect(loop, url, NULL, &cbs, 2000, &c), SMEM_OK);
    net_rpc_opts_t ro;
    net_rpc_opts_init(&ro);
    ro.heartbeat_ms = 40;
    net_rpc_t *rpc = rpc_connect(s.port, &ro);
    assert_true(cli_wait(&k, 0, 1, 3000));
    assert_int_equal(k.close_reason, SMEM_PEER_GONE);
    usleep(300000);
    int32_t status;
    assert_true(net_rpc_connected(rpc));
    assert_int_equal(net_rpc_call(rpc, T_ECHO, "z", 1, 1000, &status, NULL, NULL), SMEM_OK);
    net_rpc_destroy(rpc);
    net_conn_put(c);
    net_loop_destroy(loop);
    srv_stop(&s);
}

static bool is_local(const char *url)
{
    net_addr_t a;
    assert_int_equal(net_addr_parse(url, &a), SMEM_OK);
    return net_addr_is_local(&a.ss);
}

/* The listen policy: loopback and unix always; anything else (wildcards too) only with TLS or the switch. */
static void test_listen_policy(void **state)
{
    (void)state;
    assert_true(is_local("tcp://127.0.0.1:1"));
    assert_true(is_local("tcp://127.200.3.4:1"));
    assert_true(is_local("tcp://localhost:1"));
    assert_true(is_local("tcp://[::1]:1"));
    assert_true(is_local("tcp://[::ffff:127.0.0.1]:1"));
    assert_true(is_local("unix://@policy"));
    assert_false(is_local("tcp://0.0.0.0:1"));
    assert_false(is_local("tcp://[::]:1"));
    assert_false(is_local("tcp://10.1.2.3:1"));
    assert_false(is_local("tcp://128.0.0.1:1"));
    assert_false(is_local("tcp://[::ffff:10.0.0.1]:1"));
    assert_false(is_local("tcp://[fe80::1]:1"));

    srv_t s;
    assert_int_equal(srv_start(&s, "tcp://0.0.0.0:0", NULL), SMEM_INSECURE);
    const char *e = util_err_get();
    assert_non_null(strstr(e, "refusing to listen on tcp://0.0.0.0:0"));
    assert_non_null(strstr(e, "SMEM_ALLOW_INSECURE=1")); /* the default switch's name */
    net_opts_t o;
    net_opts_init(&o);
    o.expose = (net_expose_t){.what = "the test", .tls_opt = "--tls-x", .switch_opt = "--open-up"};
    assert_int_equal(srv_start(&s, "tcp://[::]:0", &o), SMEM_INSECURE);
    e = util_err_get();
    assert_non_null(strstr(e, "tcp://[::]:0 (the test)"));
    assert_non_null(strstr(e, "TLS (--tls-x)"));
    assert_non_null(strstr(e, "--open-up"));
    o.expose.allow_insecure = true; /* the switch: listens (after a WARN) */
    assert_int_equal(srv_start(&s, "tcp://0.0.0.0:0", &o), SMEM_OK);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", s.port);
    echo_roundtrips(url, &s);
    srv_stop(&s);
    struct sockaddr_in any = {.sin_family = AF_INET};
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &any, sizeof(any));
    assert_int_equal(net_listen_check(&ss, "tcp://0.0.0.0:0", true, NULL), SMEM_OK); /* with TLS */
    assert_int_equal(net_listen_check(&ss, "tcp://0.0.0.0:0", false, NULL), SMEM_INSECURE);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_tcp4),       cmocka_unit_test(test_echo_tcp6),
        cmocka_unit_test(test_echo_unix),       cmocka_unit_test(test_rpc_concurrent),
        cmocka_unit_test(test_rpc_timeout),     cmocka_unit_test(test_large_frames),
        cmocka_unit_test(test_push),            cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_rpc_connect_fails), cmocka_unit_test(test_timers_and_post),
        cmocka_unit_test(test_backpressure_and_idle), cmocka_unit_test(test_listen_policy),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
