/*
 * The endpoint cache (src/transport/tp_cache.c) over real tcp ifaces on
 * loopback: one link per peer shared by callers, a new link when the peer's
 * address changes, a failed link replaced while the old one stays open for
 * its user, invalidation, racing connects kept once, and detach waiting for
 * references.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "transport/tp.h"
#include "transport/tp_cache.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"
#include "tu_cmocka.h"

#define WIN 1u
#define WIN_SIZE 4096u

typedef struct server {
    tp_iface_t *iface;
    char addr[TP_ADDR_MAX + 1];
    uint8_t mem[WIN_SIZE];
} server_t;

static int32_t srv_resolve(void *arg, uint32_t window, uint64_t off, uint64_t len, tp_access_t acc, tp_mem_t *out)
{
    server_t *s = arg;
    (void)acc;
    if (window != WIN || off > WIN_SIZE || len > WIN_SIZE - off)
        return util_err_set(SMEM_OUT_OF_RANGE, "window %u offset %llu + %llu", window, (unsigned long long)off,
                            (unsigned long long)len);
    out->ptr = s->mem + off;
    out->pin = 0;
    return SMEM_OK;
}

static void srv_release(void *arg, uint32_t window, const tp_mem_t *mem)
{
    (void)arg;
    (void)window;
    (void)mem;
}

static tp_iface_t *iface_open(const char *name, server_t *s)
{
    tp_iface_cfg_t c;
    tp_iface_cfg_init(&c);
    c.name = name;
    c.listen_url = "tcp://127.0.0.1:0";
    c.timeout_ms = 3000;
    c.resolver = (tp_resolver_t){.resolve = srv_resolve, .release = srv_release, .arg = s};
    tp_iface_t *i = NULL;
    assert_int_equal(tp_iface_open(tp_select(TP_CAP_REMOTE | TP_CAP_HOST_MEM, 0), &c, &i), SMEM_OK);
    return i;
}

static server_t *server_start(const char *name)
{
    server_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->iface = iface_open(name, s);
    assert_int_equal(tp_iface_addr(s->iface, s->addr, sizeof(s->addr)), SMEM_OK);
    return s;
}

static void server_stop(server_t *s)
{
    tp_iface_close(s->iface);
    free(s);
}

typedef struct fixture {
    server_t self; /* the client's own (unused) window */
    tp_iface_t *client;
    tp_cache_t *cache;
    server_t *a, *b;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->client = iface_open("client", &f->self);
    assert_int_equal(tp_cache_create("test", 4, &f->cache), SMEM_OK);
    tp_cache_attach(f->cache, f->client);
    f->a = server_start("a");
    f->b = server_start("b");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    tp_iface_close(tp_cache_detach(f->cache));
    tp_cache_destroy(f->cache);
    server_stop(f->a);
    server_stop(f->b);
    free(f);
    return 0;
}

static void roundtrip(tp_link_t *l, uint8_t tag)
{
    uint8_t out[64], in[64];
    memset(out, tag, sizeof(out));
    tp_piece_t p = {.local = out, .offset = 100, .len = sizeof(out)};
    assert_int_equal(tp_put(l->ep, WIN, &p, 1), SMEM_OK);
    p.local = in;
    assert_int_equal(tp_get(l->ep, WIN, &p, 1), SMEM_OK);
    assert_memory_equal(in, out, sizeof(in));
}

/* Two gets of one peer share a link; it carries data; put keeps it. */
static void test_shared_link(void **state)
{
    fixture_t *f = *state;
    tp_link_t *x = NULL, *y = NULL;
    assert_int_equal(tp_cache_reach(f->cache, 1), SMEM_OK);
    assert_int_equal(tp_cache_get(f->cache, 1, f->a->addr, &x), SMEM_OK);
    assert_int_equal(tp_cache_get(f->cache, 1, f->a->addr, &y), SMEM_OK);
    assert_ptr_equal(x, y);
    assert_int_equal(x->refs, 2);
    roundtrip(x, 7);
    assert_int_equal(f->a->mem[100], 7);
    tp_cache_put(f->cache, x, SMEM_OK);
    tp_cache_put(f->cache, y, SMEM_OUT_OF_RANGE); /* a request's error, not the link's */
    assert_int_equal(tp_cache_get(f->cache, 1, f->a->addr, &x), SMEM_OK);
    assert_ptr_equal(x, y);
    tp_cache_put(f->cache, x, SMEM_OK);
    assert_int_equal(tp_cache_get(f->cache, 9, f->a->addr, &x), SMEM_INVALID_PARAM);
}

/* A new address for the key (the peer came back elsewhere): a new link, the old one still usable by its holder. */
static void test_address_change(void **state)
{
    fixture_t *f = *state;
    tp_link_t *old = NULL, *cur = NULL;
    assert_int_equal(tp_cache_get(f->cache, 2, f->a->addr, &old), SMEM_OK);
    assert_int_equal(tp_cache_get(f->cache, 2, f->b->addr, &cur), SMEM_OK);
    assert_ptr_not_equal(old, cur);
    assert_true(old->stale);
    roundtrip(old, 3); /* superseded, still open for its user */
    roundtrip(cur, 4);
    assert_int_equal(f->a->mem[100], 3);
    assert_int_equal(f->b->mem[100], 4);
    tp_cache_put(f->cache, old, SMEM_OK); /* last user: closed here */
    tp_cache_put(f->cache, cur, SMEM_OK);
    tp_link_t *again = NULL;
    assert_int_equal(tp_cache_get(f->cache, 2, f->b->addr, &again), SMEM_OK);
    assert_ptr_equal(again, cur);
    tp_cache_put(f->cache, again, SMEM_OK);
}

/* A link failure or an invalidation: the next get connects afresh. */
static void test_failure_and_invalidate(void **state)
{
    fixture_t *f = *state;
    tp_link_t *x = NULL, *y = NULL;
    assert_int_equal(tp_cache_get(f->cache, 0, f->a->addr, &x), SMEM_OK);
    assert_true(tp_link_failed(SMEM_TIMEOUT) && tp_link_failed(SMEM_PEER_GONE) && !tp_link_failed(SMEM_OUT_OF_RANGE));
    tp_cache_put(f->cache, x, SMEM_IO);
    assert_int_equal(tp_cache_get(f->cache, 0, f->a->addr, &y), SMEM_OK);
    assert_false(y->stale);
    roundtrip(y, 5);
    tp_cache_invalidate(f->cache, 0); /* while in use: marked, closed by the last user */
    assert_true(y->stale);
    roundtrip(y, 6);
    tp_cache_put(f->cache, y, SMEM_OK);
    assert_int_equal(tp_cache_get(f->cache, 0, f->a->addr, &x), SMEM_OK);
    assert_false(x->stale);
    tp_cache_invalidate(f->cache, 0); /* the next get replaces it; x stays open until put */
    assert_int_equal(tp_cache_get(f->cache, 0, f->a->addr, &y), SMEM_OK);
    assert_ptr_not_equal(x, y);
    roundtrip(x, 8);
    tp_cache_put(f->cache, x, SMEM_OK);
    tp_cache_put(f->cache, y, SMEM_OK);
}

/* Nothing listens there: the error comes back, nothing is cached. */
static void test_connect_refused(void **state)
{
    fixture_t *f = *state;
    server_t *gone = server_start("gone");
    char addr[TP_ADDR_MAX + 1];
    snprintf(addr, sizeof(addr), "%s", gone->addr);
    server_stop(gone);
    tp_link_t *x = NULL;
    assert_int_not_equal(tp_cache_get(f->cache, 3, addr, &x), SMEM_OK);
    assert_null(x);
    assert_int_equal(tp_cache_get(f->cache, 3, f->a->addr, &x), SMEM_OK);
    tp_cache_put(f->cache, x, SMEM_OK);
}

typedef struct racer {
    fixture_t *f;
    tp_link_t *got;
    int32_t rc;
} racer_t;

static void *race_get(void *arg)
{
    racer_t *r = arg;
    r->rc = tp_cache_get(r->f->cache, 1, r->f->b->addr, &r->got);
    return NULL;
}

/* Eight threads connect to one new peer at once: all end with the same link. */
static void test_racing_connects(void **state)
{
    fixture_t *f = *state;
    tp_cache_invalidate(f->cache, 1);
    enum { N = 8 };
    racer_t r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer_t){.f = f};
        assert_int_equal(pthread_create(&t[i], NULL, race_get, &r[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].rc, SMEM_OK);
        assert_ptr_equal(r[i].got, r[0].got);
    }
    assert_int_equal(r[0].got->refs, N);
    for (int i = 0; i < N; i++) tp_cache_put(f->cache, r[i].got, SMEM_OK);
}

typedef struct holder {
    tp_cache_t *cache;
    tp_link_t *l;
    uint64_t put_at;
} holder_t;

static void *hold_then_put(void *arg)
{
    holder_t *h = arg;
    usleep(200 * 1000);
    h->put_at = util_now_ms();
    tp_cache_put(h->cache, h->l, SMEM_OK);
    return NULL;
}

/* Detach waits for a reference in flight; afterwards gets are refused until attached again. */
static void test_detach_waits(void **state)
{
    fixture_t *f = *state;
    holder_t h = {.cache = f->cache};
    assert_int_equal(tp_cache_get(f->cache, 2, f->a->addr, &h.l), SMEM_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_then_put, &h), 0);
    tp_iface_t *i = tp_cache_detach(f->cache);
    uint64_t done = util_now_ms();
    pthread_join(t, NULL);
    assert_ptr_equal(i, f->client);
    assert_true(done >= h.put_at);
    tp_link_t *x = NULL;
    assert_int_equal(tp_cache_get(f->cache, 2, f->a->addr, &x), SMEM_NOT_STARTED);
    assert_int_equal(tp_cache_reach(f->cache, 2), SMEM_NOT_STARTED);
    assert_non_null(strstr(util_err_get(), "rank 2"));
    tp_cache_attach(f->cache, i);
    assert_int_equal(tp_cache_get(f->cache, 2, f->a->addr, &x), SMEM_OK);
    roundtrip(x, 9);
    tp_cache_put(f->cache, x, SMEM_OK);
}

int main(int argc, char **argv)
{
    util_log_level_set(UTIL_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_and_invalidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_racing_connects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach_waits, setup, teardown),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
