/*
 * store_roster against an embedded store server: a listing fills in what no
 * event told, items an event overtook come marked, listings page, bad
 * arguments are refused, nothing is called after close, and a consumer that
 * applies events and listed items ends with the store's view while a writer
 * races the watch and the listing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "store/store_roster.h"
#include "tu_cmocka.h"
#include "util/util_status.h"
#include "util/util_time.h"

static store_server_t *g_srv;
static char g_url[64];

static store_client_t *cli(void)
{
    store_client_t *c = NULL;
    store_client_opts_t o;
    store_client_opts_init(&o);
    o.timeout_ms = 10000;
    assert_int_equal(store_client_connect(g_url, &o, &c), 0);
    return c;
}

static int setup(void **state)
{
    (void)state;
    store_server_opts_t o;
    store_server_opts_init(&o);
    if (store_server_start("tcp://127.0.0.1:0", &o, &g_srv) != 0) return -1;
    snprintf(g_url, sizeof(g_url), "tcp://127.0.0.1:%u", store_server_port(g_srv));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_server_stop(g_srv);
    return 0;
}

/* A consumer's view of keys "<prefix>k<i>" (i < NKEYS): the value, or -1 when absent. */
#define NKEYS 64
typedef struct view {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *prefix;
    int val[NKEYS];
    uint32_t events, listed, overtaken;
    char last_key[STORE_KEY_MAX + 1];
} view_t;

static void view_init(view_t *v, const char *prefix)
{
    memset(v, 0, sizeof(*v));
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    v->prefix = prefix;
    for (int i = 0; i < NKEYS; i++) v->val[i] = -1;
}

static void view_fini(view_t *v)
{
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
}

static int key_index(const view_t *v, const char *key)
{
    size_t pl = strlen(v->prefix);
    if (strncmp(key, v->prefix, pl) != 0 || key[pl] != 'k') return -1;
    int i = atoi(key + pl + 1);
    return i >= 0 && i < NKEYS ? i : -1;
}

static int parse_val(const uint8_t *val, uint32_t len)
{
    char buf[16] = "";
    if (len == 0 || len >= sizeof(buf)) return -2;
    memcpy(buf, val, len);
    return atoi(buf);
}

static void view_cb(void *arg, store_roster_kind_t kind, const char *key, const uint8_t *val, uint32_t len)
{
    view_t *v = arg;
    int i = key_index(v, key);
    pthread_mutex_lock(&v->mu);
    snprintf(v->last_key, sizeof(v->last_key), "%s", key);
    if (kind == STORE_ROSTER_SET || kind == STORE_ROSTER_DELETE)
        v->events++;
    else if (kind == STORE_ROSTER_LISTED)
        v->listed++;
    else
        v->overtaken++;
    if (i >= 0) {
        if (kind == STORE_ROSTER_SET || kind == STORE_ROSTER_LISTED)
            v->val[i] = parse_val(val, len);
        else if (kind == STORE_ROSTER_DELETE)
            v->val[i] = -1;
    }
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
}

static bool view_wait_events(view_t *v, uint32_t n, int ms)
{
    uint64_t end = util_now_ms() + (uint64_t)ms;
    pthread_mutex_lock(&v->mu);
    while (v->events < n && util_now_ms() < end) {
        struct timespec ts = util_abstime_after_ms(10);
        pthread_cond_timedwait(&v->cv, &v->mu, &ts);
    }
    bool ok = v->events >= n;
    pthread_mutex_unlock(&v->mu);
    return ok;
}

static void put(store_client_t *c, const char *prefix, int i, int val)
{
    char key[64], s[16];
    snprintf(key, sizeof(key), "%sk%d", prefix, i);
    snprintf(s, sizeof(s), "%d", val);
    assert_int_equal(store_set(c, key, s, (uint32_t)strlen(s)), 0);
}

static void del(store_client_t *c, const char *prefix, int i)
{
    char key[64];
    snprintf(key, sizeof(key), "%sk%d", prefix, i);
    assert_int_equal(store_delete(c, key), 0);
}

static void test_listing_and_overtaken(void **state)
{
    (void)state;
    store_client_t *w = cli(), *c = cli();
    const char *pfx = "ro/a/";
    put(w, pfx, 0, 10);
    put(w, pfx, 1, 11);
    put(w, pfx, 2, 12);
    view_t v;
    view_init(&v, pfx);
    store_roster_t *r = NULL;
    const char *prefixes[] = {pfx};
    assert_int_equal(store_roster_open(c, prefixes, 1, view_cb, &v, &r), 0);
    put(w, pfx, 1, 21); /* overtakes k1 */
    del(w, pfx, 2);     /* k2 is gone before the listing */
    put(w, pfx, 3, 13); /* new after the watch */
    assert_true(view_wait_events(&v, 3, 5000));
    assert_int_equal(store_roster_list(r, pfx, view_cb, &v), 0);
    pthread_mutex_lock(&v.mu);
    assert_int_equal(v.listed, 1);    /* k0 only */
    assert_int_equal(v.overtaken, 2); /* k1 (with 21) and k3 */
    assert_int_equal(v.val[0], 10);
    assert_int_equal(v.val[1], 21);
    assert_int_equal(v.val[2], -1);
    assert_int_equal(v.val[3], 13);
    pthread_mutex_unlock(&v.mu);
    /* Listing again later: every key an event mentioned stays marked. */
    assert_int_equal(store_roster_list(r, pfx, view_cb, &v), 0);
    pthread_mutex_lock(&v.mu);
    assert_int_equal(v.listed, 2);
    assert_int_equal(v.overtaken, 4);
    pthread_mutex_unlock(&v.mu);
    store_roster_close(r);
    view_fini(&v);
    store_client_close(c);
    store_client_close(w);
}

typedef struct counter {
    uint32_t listed, events;
} counter_t;

static void count_cb(void *arg, store_roster_kind_t kind, const char *key, const uint8_t *val, uint32_t len)
{
    counter_t *n = arg;
    (void)key;
    (void)val;
    (void)len;
    if (kind == STORE_ROSTER_LISTED || kind == STORE_ROSTER_OVERTAKEN)
        n->listed++;
    else
        __atomic_add_fetch(&n->events, 1, __ATOMIC_SEQ_CST);
}

static void test_listing_pages(void **state)
{
    (void)state;
    store_client_t *c = cli();
    const uint32_t n = 4096 + 904; /* more than one page of store_list */
    char key[64];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "ro/p/%05u", i);
        assert_int_equal(store_set(c, key, "x", 1), 0);
    }
    counter_t cnt = {0, 0};
    store_roster_t *r = NULL;
    const char *prefixes[] = {"ro/p/", "ro/q/"};
    assert_int_equal(store_roster_open(c, prefixes, 2, count_cb, &cnt, &r), 0);
    assert_int_equal(store_roster_list(r, "ro/p/", count_cb, &cnt), 0);
    assert_int_equal(cnt.listed, n);
    cnt.listed = 0;
    assert_int_equal(store_roster_list(r, "ro/p/0000", count_cb, &cnt), 0); /* a longer prefix under a watched one */
    assert_int_equal(cnt.listed, 10);
    store_roster_close(r);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "ro/p/%05u", i);
        assert_int_equal(store_delete(c, key), 0);
    }
    store_client_close(c);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    store_client_t *c = cli();
    counter_t cnt = {0, 0};
    store_roster_t *r = NULL;
    const char *one[] = {"ro/b/"}, *empty[] = {""}, *null[] = {NULL};
    const char *five[] = {"a/", "b/", "c/", "d/", "e/"};
    assert_int_equal(store_roster_open(NULL, one, 1, count_cb, &cnt, &r), SMEM_INVALID_PARAM);
    assert_int_equal(store_roster_open(c, NULL, 1, count_cb, &cnt, &r), SMEM_INVALID_PARAM);
    assert_int_equal(store_roster_open(c, one, 0, count_cb, &cnt, &r), SMEM_INVALID_PARAM);
    assert_int_equal(store_roster_open(c, five, 5, count_cb, &cnt, &r), SMEM_INVALID_PARAM);
    assert_int_equal(store_roster_open(c, one, 1, NULL, &cnt, &r), SMEM_INVALID_PARAM);
    assert_int_equal(store_roster_open(c, one, 1, count_cb, &cnt, NULL), SMEM_INVALID_PARAM);
    assert_int_equal(store_roster_open(c, empty, 1, count_cb, &cnt, &r), SMEM_INVALID_PARAM);
    assert_int_equal(store_roster_open(c, null, 1, count_cb, &cnt, &r), SMEM_INVALID_PARAM);
    assert_null(r);
    assert_int_equal(store_roster_open(c, one, 1, count_cb, &cnt, &r), 0);
    assert_int_equal(store_roster_list(r, "ro/c/", count_cb, &cnt), SMEM_INVALID_PARAM); /* not watched */
    assert_int_equal(store_roster_list(r, "ro/", count_cb, &cnt), SMEM_INVALID_PARAM);   /* wider than watched */
    assert_int_equal(store_roster_list(r, "ro/b/", NULL, &cnt), SMEM_INVALID_PARAM);
    assert_int_equal(store_roster_list(NULL, "ro/b/", count_cb, &cnt), SMEM_INVALID_PARAM);
    store_roster_close(r);
    store_roster_close(NULL);
    store_client_close(c);
}

static void test_nothing_after_close(void **state)
{
    (void)state;
    store_client_t *w = cli(), *c = cli();
    counter_t cnt = {0, 0};
    store_roster_t *r = NULL;
    const char *prefixes[] = {"ro/z/"};
    assert_int_equal(store_roster_open(c, prefixes, 1, count_cb, &cnt, &r), 0);
    assert_int_equal(store_set(w, "ro/z/1", "a", 1), 0);
    uint64_t end = util_now_ms() + 5000;
    while (__atomic_load_n(&cnt.events, __ATOMIC_SEQ_CST) < 1 && util_now_ms() < end) usleep(2000);
    assert_int_equal(__atomic_load_n(&cnt.events, __ATOMIC_SEQ_CST), 1);
    store_roster_close(r);
    assert_int_equal(store_set(w, "ro/z/1", "b", 1), 0);
    assert_int_equal(store_set(w, "ro/z/2", "c", 1), 0);
    /* A marker on another watch of the same client shows the server has sent past those changes. */
    counter_t mark = {0, 0};
    store_roster_t *m = NULL;
    const char *mp[] = {"ro/zm/"};
    assert_int_equal(store_roster_open(c, mp, 1, count_cb, &mark, &m), 0);
    assert_int_equal(store_set(w, "ro/zm/x", "m", 1), 0);
    end = util_now_ms() + 5000;
    while (__atomic_load_n(&mark.events, __ATOMIC_SEQ_CST) < 1 && util_now_ms() < end) usleep(2000);
    assert_int_equal(__atomic_load_n(&mark.events, __ATOMIC_SEQ_CST), 1);
    assert_int_equal(__atomic_load_n(&cnt.events, __ATOMIC_SEQ_CST), 1);
    store_roster_close(m);
    store_client_close(c);
    store_client_close(w);
}

typedef struct writer {
    const char *prefix;
    int ops;
    volatile int stop;
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *wr = arg;
    store_client_t *w = cli();
    unsigned seed = 12345;
    for (int op = 0; op < wr->ops && !wr->stop; op++) {
        int i = (int)(rand_r(&seed) % NKEYS);
        char key[64];
        snprintf(key, sizeof(key), "%sk%d", wr->prefix, i);
        if (rand_r(&seed) % 4 == 0) {
            int rc = store_delete(w, key);
            assert_true(rc == SMEM_OK || rc == SMEM_OBJECT_NOT_EXISTS);
        } else {
            put(w, wr->prefix, i, op);
        }
    }
    store_client_close(w);
    return NULL;
}

/* Whatever interleaving of writes, watch and listing: events + listed items = the store. */
static void test_races_converge(void **state)
{
    (void)state;
    for (int round = 0; round < 8; round++) {
        char pfx[32];
        snprintf(pfx, sizeof(pfx), "ro/r%d/", round);
        store_client_t *c = cli();
        writer_t wr = {.prefix = pfx, .ops = 3000};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, writer_main, &wr), 0);
        usleep((useconds_t)(round * 3000)); /* open at different points of the write stream */
        view_t v;
        view_init(&v, pfx);
        store_roster_t *r = NULL;
        const char *prefixes[] = {pfx};
        assert_int_equal(store_roster_open(c, prefixes, 1, view_cb, &v, &r), 0);
        assert_int_equal(store_roster_list(r, pfx, view_cb, &v), 0);
        pthread_join(t, NULL);
        /* A sentinel written after the writer finished: its event comes after all of the writer's. */
        store_client_t *w = cli();
        char skey[64];
        snprintf(skey, sizeof(skey), "%ssentinel", pfx);
        assert_int_equal(store_set(w, skey, "1", 1), 0);
        uint64_t end = util_now_ms() + 10000;
        pthread_mutex_lock(&v.mu);
        while (strcmp(v.last_key, skey) != 0 && util_now_ms() < end) {
            struct timespec ts = util_abstime_after_ms(10);
            pthread_cond_timedwait(&v.cv, &v.mu, &ts);
        }
        pthread_mutex_unlock(&v.mu);
        assert_string_equal(v.last_key, skey);
        int truth[NKEYS];
        for (int i = 0; i < NKEYS; i++) truth[i] = -1;
        store_kvlist_t *l = NULL;
        assert_int_equal(store_list(w, pfx, NULL, 0, 0, &l), 0);
        for (uint32_t i = 0; i < l->count; i++) {
            int k = key_index(&v, l->items[i].key);
            if (k >= 0) truth[k] = parse_val(l->items[i].val, l->items[i].len);
        }
        store_kvlist_free(l);
        pthread_mutex_lock(&v.mu);
        for (int i = 0; i < NKEYS; i++) {
            if (v.val[i] != truth[i]) fprintf(stderr, "round %d: k%d view %d store %d\n", round, i, v.val[i], truth[i]);
            assert_int_equal(v.val[i], truth[i]);
        }
        pthread_mutex_unlock(&v.mu);
        store_roster_close(r);
        view_fini(&v);
        store_client_close(w);
        store_client_close(c);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listing_and_overtaken), cmocka_unit_test(test_listing_pages),
        cmocka_unit_test(test_bad_arguments),         cmocka_unit_test(test_nothing_after_close),
        cmocka_unit_test(test_races_converge),
    };
    return TU_RUN_TESTS(argc, argv, tests, setup, teardown);
}
