/*
 * Store operations against an embedded server on tcp://127.0.0.1:0 with
 * clients in threads: every key-value call, blocking GET, watches, id pools,
 * exit broadcast, groups, barrier/all-gather (including the failure paths
 * and garbage collection of their state), and reconnect.
 */
#include <inttypes.h>
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

#include "net/net.h"
#include "store/store.h"
#include "store/store_proto.h"
#include "util/util_buf.h"
#include "util/util_status.h"
#include "util/util_time.h"
#include "tu_cmocka.h"

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

static store_server_stats_t stats(void)
{
    store_server_stats_t st;
    assert_int_equal(store_server_stats(g_srv, &st), 0);
    return st;
}

/* Stats settle as the server handles closes asynchronously. */
static bool wait_stats(bool (*ok)(const store_server_stats_t *, const void *), const void *arg, int ms)
{
    uint64_t end = util_now_ms() + (uint64_t)ms;
    do {
        store_server_stats_t st = stats();
        if (ok(&st, arg)) return true;
        usleep(5000);
    } while (util_now_ms() < end);
    return false;
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

/* ---------- key-value ---------- */

static void test_set_get_delete(void **state)
{
    (void)state;
    store_client_t *c = cli();
    uint8_t *v = NULL;
    uint32_t n = 0;

    assert_int_equal(store_get(c, "kv/a", 0, &v, &n), SMEM_OBJECT_NOT_EXISTS);
    assert_int_equal(store_set(c, "kv/a", "hello", 5), 0);
    assert_int_equal(store_get(c, "kv/a", 0, &v, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(v, "hello", 5);
    free(v);
    assert_int_equal(store_set(c, "kv/a", NULL, 0), 0); /* empty value */
    assert_int_equal(store_get(c, "kv/a", 0, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(store_delete(c, "kv/a"), 0);
    assert_int_equal(store_delete(c, "kv/a"), SMEM_OBJECT_NOT_EXISTS);
    assert_int_equal(store_get(c, "kv/a", 0, &v, &n), SMEM_OBJECT_NOT_EXISTS);

    /* Bad input is refused before it reaches the wire. */
    assert_int_equal(store_set(c, "", "x", 1), SMEM_INVALID_PARAM);
    assert_int_equal(store_set(c, NULL, "x", 1), SMEM_INVALID_PARAM);
    assert_int_equal(store_set(c, "k", NULL, 1), SMEM_INVALID_PARAM);
    char *big = malloc(STORE_KEY_MAX + 2);
    memset(big, 'a', STORE_KEY_MAX + 1);
    big[STORE_KEY_MAX + 1] = '\0';
    assert_int_equal(store_set(c, big, "x", 1), SMEM_INVALID_PARAM);
    big[STORE_KEY_MAX] = '\0';
    assert_int_equal(store_set(c, big, "x", 1), 0);
    assert_int_equal(store_delete(c, big), 0);
    free(big);

    /* A 1 MiB value round trip. */
    uint32_t len = 1u << 20;
    uint8_t *blob = malloc(len);
    for (uint32_t i = 0; i < len; i++) blob[i] = (uint8_t)(i * 7);
    assert_int_equal(store_set(c, "kv/big", blob, len), 0);
    assert_int_equal(store_get(c, "kv/big", 0, &v, &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(v, blob, len);
    free(v);
    free(blob);
    assert_int_equal(store_delete(c, "kv/big"), 0);
    store_client_close(c);
}

typedef struct later {
    const char *key;
    int delay_ms;
} later_t;

static void *set_later(void *arg)
{
    later_t *l = arg;
    store_client_t *c = cli();
    usleep((useconds_t)l->delay_ms * 1000);
    assert_int_equal(store_set(c, l->key, "late", 4), 0);
    store_client_close(c);
    return NULL;
}

static bool no_waiters(const store_server_stats_t *st, const void *a)
{
    (void)a;
    return st->get_waiters == 0;
}

static void test_blocking_get(void **state)
{
    (void)state;
    store_client_t *c = cli();
    uint8_t *v = NULL;
    uint32_t n = 0;
    pthread_t t;
    later_t l = {"bget/a", 150};

    uint64_t t0 = util_now_ms();
    assert_int_equal(pthread_create(&t, NULL, set_later, &l), 0);
    assert_int_equal(store_get(c, "bget/a", 5000, &v, &n), 0);
    uint64_t waited = util_now_ms() - t0;
    pthread_join(t, NULL);
    assert_int_equal(n, 4);
    assert_memory_equal(v, "late", 4);
    free(v);
    assert_true(waited >= 100 && waited < 3000);

    t0 = util_now_ms();
    assert_int_equal(store_get(c, "bget/never", 200, &v, &n), SMEM_TIMEOUT);
    waited = util_now_ms() - t0;
    assert_true(waited >= 190 && waited < 1500);
    assert_true(wait_stats(no_waiters, NULL, 1000));
    assert_int_equal(store_delete(c, "bget/a"), 0);
    store_client_close(c);
}

typedef struct adder {
    int n;
} adder_t;

static void *add_many(void *arg)
{
    adder_t *a = arg;
    store_client_t *c = cli();
    for (int i = 0; i < a->n; i++) assert_int_equal(store_add(c, "add/ctr", 1, NULL), 0);
    store_client_close(c);
    return NULL;
}

static void test_add(void **state)
{
    (void)state;
    pthread_t t[4];
    adder_t a = {1000};
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, add_many, &a), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);

    store_client_t *c = cli();
    int64_t r = 0;
    assert_int_equal(store_add(c, "add/ctr", 0, &r), 0);
    assert_int_equal(r, 4000);
    assert_int_equal(store_add(c, "add/ctr", -4010, &r), 0);
    assert_int_equal(r, -10);
    uint8_t *v;
    uint32_t n;
    assert_int_equal(store_get(c, "add/ctr", 0, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "-10", 3);
    free(v);
    assert_int_equal(store_set(c, "add/txt", "12a", 3), 0);
    assert_int_equal(store_add(c, "add/txt", 1, &r), SMEM_INVALID_PARAM);
    assert_int_equal(store_set(c, "add/max", "9223372036854775807", 19), 0);
    assert_int_equal(store_add(c, "add/max", 1, &r), SMEM_INVALID_PARAM);
    assert_int_equal(store_add(c, "add/new", 5, &r), 0); /* absent = 0 */
    assert_int_equal(r, 5);
    store_delete(c, "add/ctr");
    store_delete(c, "add/txt");
    store_delete(c, "add/max");
    store_delete(c, "add/new");
    store_client_close(c);
}

static void test_cas(void **state)
{
    (void)state;
    store_client_t *c = cli();
    uint8_t *cur = NULL, *v;
    uint32_t cur_len = 0, n;

    /* Absent-only: succeeds once, then mismatches and returns the value. */
    assert_int_equal(store_cas(c, "cas/a", NULL, 0, "v1", 2, &cur, &cur_len), 0);
    assert_int_equal(store_cas(c, "cas/a", NULL, 0, "v2", 2, &cur, &cur_len), SMEM_CAS_MISMATCH);
    assert_int_equal(cur_len, 2);
    assert_memory_equal(cur, "v1", 2);
    free(cur);
    /* Match. */
    assert_int_equal(store_cas(c, "cas/a", "v1", 2, "v3", 2, NULL, NULL), 0);
    assert_int_equal(store_get(c, "cas/a", 0, &v, &n), 0);
    assert_memory_equal(v, "v3", 2);
    free(v);
    /* Mismatch. */
    cur = NULL;
    assert_int_equal(store_cas(c, "cas/a", "v1", 2, "v4", 2, &cur, &cur_len), SMEM_CAS_MISMATCH);
    assert_int_equal(cur_len, 2);
    assert_memory_equal(cur, "v3", 2);
    free(cur);
    assert_int_equal(store_cas(c, "cas/a", "v1", 2, "v4", 2, NULL, NULL), SMEM_CAS_MISMATCH);
    /* Expecting a value on an absent key: mismatch, *cur NULL. */
    cur = (uint8_t *)1;
    assert_int_equal(store_cas(c, "cas/none", "x", 1, "y", 1, &cur, &cur_len), SMEM_CAS_MISMATCH);
    assert_null(cur);
    assert_int_equal(cur_len, 0);
    /* Expecting an empty (present) value. */
    assert_int_equal(store_set(c, "cas/e", NULL, 0), 0);
    assert_int_equal(store_cas(c, "cas/e", "", 0, "z", 1, NULL, NULL), 0);
    store_delete(c, "cas/a");
    store_delete(c, "cas/e");
    store_client_close(c);
}

static void test_append(void **state)
{
    (void)state;
    store_client_t *c = cli();
    uint32_t nl = 0, n;
    uint8_t *v;
    assert_int_equal(store_append(c, "app/a", "ab", 2, &nl), 0);
    assert_int_equal(nl, 2);
    for (int i = 0; i < 100; i++) assert_int_equal(store_append(c, "app/a", "cd", 2, &nl), 0);
    assert_int_equal(nl, 202);
    assert_int_equal(store_get(c, "app/a", 0, &v, &n), 0);
    assert_int_equal(n, 202);
    assert_memory_equal(v, "abcdcd", 6);
    assert_memory_equal(v + 200, "cd", 2);
    free(v);
    assert_int_equal(store_append(c, "app/a", NULL, 0, &nl), 0);
    assert_int_equal(nl, 202);
    store_delete(c, "app/a");

    /* Values stop at STORE_VALUE_MAX, on SET (client side) and on APPEND
     * (server side, where the sum is known). */
    uint8_t *full = calloc(1, STORE_VALUE_MAX);
    assert_int_equal(store_set(c, "app/full", full, STORE_VALUE_MAX + 1), SMEM_TOO_LARGE);
    assert_int_equal(store_set(c, "app/full", full, STORE_VALUE_MAX - 1), 0);
    assert_int_equal(store_append(c, "app/full", "ab", 2, &nl), SMEM_TOO_LARGE);
    assert_int_equal(store_append(c, "app/full", "a", 1, &nl), 0);
    assert_int_equal(nl, STORE_VALUE_MAX);
    free(full);
    store_delete(c, "app/full");
    store_client_close(c);
}

/* Enough keys and waiters to make every table grow and shrink back. */
static void test_many_keys(void **state)
{
    (void)state;
    store_client_t *c = cli();
    char key[32];
    uint64_t base = stats().keys;
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "many/%d", i);
        assert_int_equal(store_set(c, key, key, (uint32_t)strlen(key)), 0);
    }
    assert_int_equal(stats().keys, base + 3000);
    for (int i = 0; i < 3000; i += 7) {
        uint8_t *v;
        uint32_t n;
        snprintf(key, sizeof(key), "many/%d", i);
        assert_int_equal(store_get(c, key, 0, &v, &n), 0);
        assert_int_equal(n, strlen(key));
        assert_memory_equal(v, key, n);
        free(v);
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "many/%d", i);
        assert_int_equal(store_delete(c, key), 0);
    }
    assert_int_equal(stats().keys, base);
    store_client_close(c);
}

/* ---------- listing ---------- */

static void test_list(void **state)
{
    (void)state;
    store_client_t *c = cli();
    char key[64], val[64];
    store_kvlist_t *l = NULL;

    /* Keys under the prefix, neighbours that must not show up. */
    for (int i = 0; i < 1500; i++) {
        snprintf(key, sizeof(key), "lst/a/%04d", i);
        snprintf(val, sizeof(val), "v%d", i * 3);
        assert_int_equal(store_set(c, key, val, (uint32_t)strlen(val)), 0);
    }
    assert_int_equal(store_set(c, "lst/a", "x", 1), 0);   /* the prefix itself, shorter: sorts first */
    assert_int_equal(store_set(c, "lst/b/0", "y", 1), 0); /* outside the prefix */
    assert_int_equal(store_set(c, "lst/empty", NULL, 0), 0);

    assert_int_equal(store_list(c, "lst/a/", NULL, 0, 0, &l), 0);
    assert_int_equal(l->count, 1500);
    assert_false(l->more);
    for (uint32_t i = 0; i < l->count; i++) {
        snprintf(key, sizeof(key), "lst/a/%04u", i);
        snprintf(val, sizeof(val), "v%u", i * 3);
        assert_string_equal(l->items[i].key, key);
        assert_int_equal(l->items[i].len, strlen(val));
        assert_memory_equal(l->items[i].val, val, l->items[i].len);
    }
    store_kvlist_free(l);

    /* Paging by count: 1500 keys in pages of 400, continuing after the last key. */
    char after[64] = "";
    uint32_t seen = 0, pages = 0;
    bool more = true;
    while (more) {
        assert_int_equal(store_list(c, "lst/a/", after, 400, 0, &l), 0);
        for (uint32_t i = 0; i < l->count; i++) {
            snprintf(key, sizeof(key), "lst/a/%04u", seen + i);
            assert_string_equal(l->items[i].key, key);
        }
        seen += l->count;
        more = l->more;
        pages++;
        if (l->count) snprintf(after, sizeof(after), "%s", l->items[l->count - 1].key);
        store_kvlist_free(l);
    }
    assert_int_equal(seen, 1500);
    assert_int_equal(pages, 4);

    /* Paging by bytes: each item is 10 + ~4 + 8 bytes, 1 KiB holds at most ~48. */
    assert_int_equal(store_list(c, "lst/a/", NULL, 0, 1024, &l), 0);
    assert_true(l->more);
    assert_true(l->count > 10 && l->count < 60);
    store_kvlist_free(l);

    /* A value larger than max_bytes still comes, alone. */
    uint8_t *big = calloc(1, 100000);
    assert_non_null(big);
    big[99999] = 0x5a;
    assert_int_equal(store_set(c, "lst/big/1", big, 100000), 0);
    assert_int_equal(store_set(c, "lst/big/2", "z", 1), 0);
    assert_int_equal(store_list(c, "lst/big/", NULL, 0, 4096, &l), 0);
    assert_int_equal(l->count, 1);
    assert_true(l->more);
    assert_int_equal(l->items[0].len, 100000);
    assert_int_equal(l->items[0].val[99999], 0x5a);
    store_kvlist_free(l);
    free(big);

    /* The prefix key itself, an empty value, and nothing after the last key. */
    assert_int_equal(store_list(c, "lst/", NULL, 3, 0, &l), 0);
    assert_int_equal(l->count, 3);
    assert_string_equal(l->items[0].key, "lst/a");
    assert_string_equal(l->items[1].key, "lst/a/0000");
    store_kvlist_free(l);
    assert_int_equal(store_list(c, "lst/empty", NULL, 0, 0, &l), 0);
    assert_int_equal(l->count, 1);
    assert_int_equal(l->items[0].len, 0);
    assert_null(l->items[0].val);
    store_kvlist_free(l);
    assert_int_equal(store_list(c, "lst/a/", "lst/a/1499", 0, 0, &l), 0);
    assert_int_equal(l->count, 0);
    assert_false(l->more);
    store_kvlist_free(l);
    assert_int_equal(store_list(c, "nothing/here/", NULL, 0, 0, &l), 0);
    assert_int_equal(l->count, 0);
    store_kvlist_free(l);

    /* Liveness keys are listed like any other key. */
    uint32_t rank;
    assert_int_equal(store_group_join(c, "lstg", 4, 2, &rank), 0);
    assert_int_equal(store_list(c, "lstg/__live/", NULL, 0, 0, &l), 0);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->items[0].key, "lstg/__live/2");
    store_kvlist_free(l);
    assert_int_equal(store_group_leave(c, "lstg"), 0);

    /* Bad arguments: each a specific status and a message. */
    l = NULL;
    assert_int_equal(store_list(c, "lst/", NULL, STORE_LIST_KEYS_MAX + 1, 0, &l), SMEM_INVALID_PARAM);
    assert_true(strlen(util_err_get()) > 0);
    assert_int_equal(store_list(c, "lst/", NULL, 0, STORE_LIST_BYTES_MAX + 1, &l), SMEM_TOO_LARGE);
    assert_int_equal(store_list(NULL, "lst/", NULL, 0, 0, &l), SMEM_INVALID_PARAM);
    assert_int_equal(store_list(c, NULL, NULL, 0, 0, &l), SMEM_INVALID_PARAM);
    char *long_key = malloc(STORE_KEY_MAX + 2);
    assert_non_null(long_key);
    memset(long_key, 'k', STORE_KEY_MAX + 1);
    long_key[STORE_KEY_MAX + 1] = '\0';
    assert_int_equal(store_list(c, long_key, NULL, 0, 0, &l), SMEM_INVALID_PARAM);
    assert_int_equal(store_list(c, "lst/", long_key, 0, 0, &l), SMEM_INVALID_PARAM);
    free(long_key);
    assert_null(l);

    for (int i = 0; i < 1500; i++) {
        snprintf(key, sizeof(key), "lst/a/%04d", i);
        assert_int_equal(store_delete(c, key), 0);
    }
    const char *rest[] = {"lst/a", "lst/b/0", "lst/empty", "lst/big/1", "lst/big/2"};
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) assert_int_equal(store_delete(c, rest[i]), 0);
    store_client_close(c);
}

/* A LIST request that is malformed on the wire: the server answers, the connection stays. */
static void test_list_proto(void **state)
{
    (void)state;
    store_msg_t m = {.type = STORE_MSG_LIST, .key = "p/", .key_len = 2, .after = "p/x", .after_len = 3, .limit = 7,
                     .max_bytes = 99};
    util_wbuf_t w;
    util_wbuf_init(&w);
    assert_int_equal(store_msg_encode(&m, &w), 0);
    store_msg_t d;
    assert_int_equal(store_msg_decode(STORE_MSG_LIST, w.p, w.len, &d), 0);
    assert_int_equal(d.key_len, 2);
    assert_memory_equal(d.after, "p/x", 3);
    assert_int_equal(d.limit, 7);
    assert_int_equal(d.max_bytes, 99);
    /* Truncated anywhere: protocol error; a trailing byte: protocol error. */
    for (size_t cut = 0; cut < w.len; cut++)
        assert_int_equal(store_msg_decode(STORE_MSG_LIST, w.p, cut, &d), SMEM_PROTOCOL);
    util_wbuf_u8(&w, 0);
    assert_int_equal(store_msg_decode(STORE_MSG_LIST, w.p, w.len, &d), SMEM_PROTOCOL);
    util_wbuf_fini(&w);
    m.limit = 0;
    util_wbuf_init(&w);
    assert_int_equal(store_msg_encode(&m, &w), SMEM_INVALID_PARAM);
    util_wbuf_fini(&w);

    /* Answer decoder: a good answer, then a bad flag, a bad count, a key with a NUL, a short body. */
    uint8_t ans[64];
    size_t n = 0;
    util_put_le32(ans, 1);
    ans[4] = 0;
    n = 5;
    util_put_le32(ans + n, 3);
    memcpy(ans + n + 4, "k/1", 3);
    n += 7;
    util_put_le32(ans + n, 2);
    memcpy(ans + n + 4, "hi", 2);
    n += 6;
    uint32_t cnt;
    bool more;
    uint64_t total;
    assert_int_equal(store_resp_list_decode(ans, n, &cnt, &more, &total, NULL, NULL), 0);
    assert_int_equal(cnt, 1);
    assert_int_equal(total, 5);
    ans[4] = 2;
    assert_int_equal(store_resp_list_decode(ans, n, &cnt, &more, &total, NULL, NULL), SMEM_PROTOCOL);
    ans[4] = 1;
    util_put_le32(ans, 2);
    assert_int_equal(store_resp_list_decode(ans, n, &cnt, &more, &total, NULL, NULL), SMEM_PROTOCOL);
    util_put_le32(ans, STORE_LIST_KEYS_MAX + 1);
    assert_int_equal(store_resp_list_decode(ans, n, &cnt, &more, &total, NULL, NULL), SMEM_PROTOCOL);
    util_put_le32(ans, 1);
    ans[5 + 4 + 1] = '\0';
    assert_int_equal(store_resp_list_decode(ans, n, &cnt, &more, &total, NULL, NULL), SMEM_PROTOCOL);
    ans[5 + 4 + 1] = '/';
    assert_int_equal(store_resp_list_decode(ans, n - 1, &cnt, &more, &total, NULL, NULL), SMEM_PROTOCOL);
    assert_int_equal(store_resp_list_decode(ans, n, &cnt, &more, &total, NULL, NULL), 0);
    assert_true(more);
}

/* ---------- watches ---------- */

typedef struct ev {
    int type;
    char key[32];
    char val[32];
} ev_t;

typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ev_t ev[64];
    int n;
} rec_t;

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_cb(void *arg, store_event_t type, const char *key, const uint8_t *val, uint32_t len)
{
    rec_t *r = arg;
    pthread_mutex_lock(&r->mu);
    if (r->n < 64) {
        ev_t *e = &r->ev[r->n++];
        e->type = type;
        snprintf(e->key, sizeof(e->key), "%s", key);
        snprintf(e->val, sizeof(e->val), "%.*s", (int)(len < 31 ? len : 31), val ? (const char *)val : "");
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static bool rec_wait(rec_t *r, int n, int ms)
{
    uint64_t end = util_now_ms() + (uint64_t)ms;
    pthread_mutex_lock(&r->mu);
    while (r->n < n) {
        int64_t left = util_ms_left(end);
        if (left <= 0) break;
        struct timespec ts = util_abstime_after_ms(left);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    bool ok = r->n >= n;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static void test_watch(void **state)
{
    (void)state;
    store_client_t *w = cli(), *c = cli();
    rec_t rk, rp;
    uint64_t idk, idp;
    rec_init(&rk);
    rec_init(&rp);

    assert_int_equal(store_watch(w, "w/x", false, rec_cb, &rk, &idk), 0);
    assert_int_equal(store_watch(w, "w/", true, rec_cb, &rp, &idp), 0);
    assert_int_equal(store_set(c, "w/x", "1", 1), 0);
    assert_int_equal(store_set(c, "w/y", "2", 1), 0);
    assert_int_equal(store_append(c, "w/x", "3", 1, NULL), 0);
    assert_int_equal(store_delete(c, "w/x"), 0);
    assert_int_equal(store_add(c, "w/n", 4, NULL), 0);
    assert_int_equal(store_set(c, "other", "5", 1), 0); /* matches neither */
    assert_int_equal(store_delete(c, "w/y"), 0);

    assert_true(rec_wait(&rk, 3, 3000));
    assert_true(rec_wait(&rp, 6, 3000));
    assert_int_equal(rk.ev[0].type, STORE_EV_SET);
    assert_string_equal(rk.ev[0].val, "1");
    assert_int_equal(rk.ev[1].type, STORE_EV_SET);
    assert_string_equal(rk.ev[1].val, "13");
    assert_int_equal(rk.ev[2].type, STORE_EV_DELETE);
    assert_string_equal(rk.ev[2].key, "w/x");

    const char *pk[6] = {"w/x", "w/y", "w/x", "w/x", "w/n", "w/y"};
    const int pt[6] = {STORE_EV_SET, STORE_EV_SET, STORE_EV_SET, STORE_EV_DELETE, STORE_EV_SET, STORE_EV_DELETE};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(rp.ev[i].key, pk[i]);
        assert_int_equal(rp.ev[i].type, pt[i]);
    }
    assert_string_equal(rp.ev[4].val, "4");

    /* In-order delivery of many events. */
    for (int i = 0; i < 40; i++) {
        char v[8];
        snprintf(v, sizeof(v), "%d", i);
        assert_int_equal(store_set(c, "w/seq", v, (uint32_t)strlen(v)), 0);
    }
    assert_true(rec_wait(&rp, 46, 3000));
    for (int i = 0; i < 40; i++) {
        char v[8];
        snprintf(v, sizeof(v), "%d", i);
        assert_string_equal(rp.ev[6 + i].val, v);
    }

    /* After unwatch nothing more arrives. */
    assert_int_equal(store_unwatch(w, idk), 0);
    assert_int_equal(store_unwatch(w, idk), SMEM_OBJECT_NOT_EXISTS);
    assert_int_equal(store_set(c, "w/x", "9", 1), 0);
    assert_true(rec_wait(&rp, 47, 3000)); /* the prefix watch still sees it, so it was sent */
    usleep(50000);
    assert_int_equal(rk.n, 3);
    assert_int_equal(store_unwatch(w, idp), 0);
    store_delete(c, "w/x");
    store_delete(c, "w/n");
    store_delete(c, "w/seq");
    store_delete(c, "other");

    /* Watches die with their connection. */
    uint64_t id;
    store_server_stats_t st0 = stats();
    assert_int_equal(store_watch(w, "w/z", false, rec_cb, &rk, &id), 0);
    assert_int_equal(stats().watches, st0.watches + 1);
    store_client_close(w);
    store_client_close(c);
}

/* ---------- id pools ---------- */

static void test_ids(void **state)
{
    (void)state;
    store_client_t *c = cli();
    uint32_t id;
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(store_id_alloc(c, "ids/p", 4, &id), 0);
        assert_int_equal(id, i);
    }
    assert_int_equal(store_id_alloc(c, "ids/p", 4, &id), SMEM_FULL);
    assert_int_equal(store_id_release(c, "ids/p", 1), 0);
    assert_int_equal(store_id_release(c, "ids/p", 1), SMEM_OBJECT_NOT_EXISTS);
    assert_int_equal(store_id_alloc(c, "ids/p", 4, &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(store_id_alloc(c, "ids/p", 1025, &id), SMEM_INVALID_PARAM);
    assert_int_equal(store_id_release(c, "ids/none", 0), SMEM_OBJECT_NOT_EXISTS);
    /* The full range. */
    for (uint32_t i = 0; i < 1024; i++) {
        assert_int_equal(store_id_alloc(c, "ids/big", 1024, &id), 0);
        assert_int_equal(id, i);
    }
    assert_int_equal(store_id_alloc(c, "ids/big", 1024, &id), SMEM_FULL);
    assert_int_equal(store_id_release(c, "ids/big", 700), 0);
    assert_int_equal(store_id_alloc(c, "ids/big", 1024, &id), 0);
    assert_int_equal(id, 700);
    for (uint32_t i = 0; i < 1024; i++) assert_int_equal(store_id_release(c, "ids/big", i), 0);
    for (uint32_t i = 0; i < 4; i++) assert_int_equal(store_id_release(c, "ids/p", i), 0);
    assert_int_equal(stats().id_pools, 0); /* empty pools are freed */
    store_client_close(c);
}

/* ---------- exit broadcast ---------- */

typedef struct exitrec {
    pthread_mutex_t mu;
    int n;
    int32_t status;
} exitrec_t;

static void exit_cb(void *arg, int32_t status)
{
    exitrec_t *e = arg;
    pthread_mutex_lock(&e->mu);
    e->n++;
    e->status = status;
    pthread_mutex_unlock(&e->mu);
}

static int exit_count(exitrec_t *e)
{
    pthread_mutex_lock(&e->mu);
    int n = e->n;
    pthread_mutex_unlock(&e->mu);
    return n;
}

static void test_exit(void **state)
{
    (void)state;
    store_client_t *a = cli(), *b = cli(), *x = cli();
    exitrec_t ea = {.mu = PTHREAD_MUTEX_INITIALIZER}, eb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    exitrec_t eo = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(store_exit_watch(a, "job", exit_cb, &ea), 0);
    assert_int_equal(store_exit_watch(b, "job", exit_cb, &eb), 0);
    assert_int_equal(store_exit_watch(b, "other", exit_cb, &eo), 0);
    assert_int_equal(store_exit_broadcast(x, "job", -7), 0);
    uint64_t end = util_now_ms() + 3000;
    while ((exit_count(&ea) < 1 || exit_count(&eb) < 1) && util_now_ms() < end) usleep(2000);
    assert_int_equal(exit_count(&ea), 1);
    assert_int_equal(exit_count(&eb), 1);
    assert_int_equal(ea.status, -7);
    assert_int_equal(eb.status, -7);
    usleep(30000);
    assert_int_equal(exit_count(&eo), 0);
    assert_int_equal(store_exit_broadcast(x, "nobody", 1), 0); /* no watchers is fine */
    /* A client registering after the broadcast still hears it (the exit is remembered). */
    exitrec_t late = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(store_exit_watch(a, "nobody", exit_cb, &late), 0);
    end = util_now_ms() + 3000;
    while (exit_count(&late) < 1 && util_now_ms() < end) usleep(2000);
    assert_int_equal(exit_count(&late), 1);
    assert_int_equal(late.status, 1);
    store_client_close(a);
    store_client_close(b);
    store_client_close(x);
}

/* ---------- groups ---------- */

static bool keys_at_most(const store_server_stats_t *st, const void *a)
{
    return st->keys <= *(const uint64_t *)a;
}

static void test_groups(void **state)
{
    (void)state;
    store_client_t *c[6];
    uint32_t rank, seen = 0;
    for (int i = 0; i < 6; i++) c[i] = cli();
    for (int i = 0; i < 4; i++) {
        assert_int_equal(store_group_join(c[i], "grp", 4, UINT32_MAX, &rank), 0);
        assert_true(rank < 4);
        assert_false(seen & (1u << rank));
        seen |= 1u << rank;
    }
    assert_int_equal(seen, 0xF);
    assert_int_equal(store_group_join(c[4], "grp", 4, UINT32_MAX, &rank), SMEM_FULL);
    assert_int_equal(store_group_join(c[4], "grp", 4, 2, &rank), SMEM_DUPLICATED_OBJECT);
    assert_int_equal(store_group_join(c[4], "grp", 8, UINT32_MAX, &rank), SMEM_INVALID_PARAM);
    assert_int_equal(store_group_join(c[0], "grp", 4, UINT32_MAX, &rank), SMEM_REPEAT_CALL);
    assert_int_equal(store_group_join(c[4], "grp", 4, 4, &rank), SMEM_INVALID_PARAM);

    /* Liveness keys exist and belong to their connection. */
    uint8_t *v;
    uint32_t n;
    assert_int_equal(store_get(c[4], "grp/__live/0", 0, &v, &n), 0);
    assert_true(n > 0);
    free(v);
    assert_int_equal(store_set(c[4], "grp/__live/0", "x", 1), SMEM_NOT_PERMITTED);
    assert_int_equal(store_delete(c[4], "grp/__live/0"), SMEM_NOT_PERMITTED);

    /* Leave frees the rank; the next joiner gets the lowest free one. */
    rec_t r;
    rec_init(&r);
    assert_int_equal(store_watch(c[5], "grp/__live/", true, rec_cb, &r, NULL), 0);
    uint32_t r1 = 0;
    for (int i = 0; i < 4; i++) assert_int_equal(store_group_leave(c[i], "grp"), 0);
    assert_int_equal(store_group_leave(c[0], "grp"), SMEM_OBJECT_NOT_EXISTS);
    assert_true(rec_wait(&r, 4, 3000));
    for (int i = 0; i < 4; i++) assert_int_equal(r.ev[i].type, STORE_EV_DELETE);
    assert_int_equal(stats().groups, 0);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(store_group_join(c[i], "grp", 4, UINT32_MAX, &rank), 0);
        assert_int_equal(rank, i);
    }
    assert_true(rec_wait(&r, 8, 3000));
    assert_int_equal(r.ev[4].type, STORE_EV_SET);
    assert_string_equal(r.ev[4].key, "grp/__live/0");
    assert_int_equal(store_group_leave(c[1], "grp"), 0);
    assert_int_equal(store_group_join(c[4], "grp", 4, UINT32_MAX, &r1), 0);
    assert_int_equal(r1, 1);

    /* Closing a client deletes its liveness key and frees its rank. */
    store_client_close(c[2]);
    assert_true(rec_wait(&r, 11, 3000));
    assert_int_equal(r.ev[10].type, STORE_EV_DELETE);
    assert_string_equal(r.ev[10].key, "grp/__live/2");
    assert_int_equal(store_group_join(c[1], "grp", 4, 2, &rank), 0); /* wanted rank */
    assert_int_equal(rank, 2);
    assert_int_equal(store_get(c[5], "grp/__live/2", 0, &v, &n), 0);
    free(v);

    for (int i = 0; i < 6; i++)
        if (i != 2) store_client_close(c[i]);
    uint64_t zero = 0;
    assert_true(wait_stats(keys_at_most, &zero, 3000));
    assert_int_equal(stats().groups, 0);
}

/* ---------- collectives ---------- */

typedef struct member {
    store_client_t *c;
    const char *name;
    uint32_t count, rank;
    uint32_t len;      /* all-gather bytes; 0: barrier */
    uint32_t timeout_ms;
    int iters;
    int32_t rc;        /* first failure, or 0 */
} member_t;

static void fill(uint8_t *p, uint32_t len, uint32_t rank, int iter)
{
    for (uint32_t i = 0; i < len; i++) p[i] = (uint8_t)(rank * 31 + (uint32_t)iter * 7 + i);
}

static void *member_run(void *arg)
{
    member_t *m = arg;
    uint8_t *send = malloc(m->len ? m->len : 1), *recv = malloc((size_t)m->len * m->count + 1), *want = malloc(m->len + 1);
    m->rc = 0;
    for (int it = 0; it < m->iters && m->rc == 0; it++) {
        if (m->len == 0) {
            m->rc = store_barrier(m->c, m->name, m->count, m->rank, m->timeout_ms);
            continue;
        }
        fill(send, m->len, m->rank, it);
        m->rc = store_allgather(m->c, m->name, m->count, m->rank, send, m->len, recv, m->timeout_ms);
        for (uint32_t r = 0; r < m->count && m->rc == 0; r++) {
            fill(want, m->len, r, it);
            if (memcmp(recv + (size_t)r * m->len, want, m->len) != 0) m->rc = -1;
        }
    }
    free(send);
    free(recv);
    free(want);
    return NULL;
}

static void run_members(member_t *m, int n)
{
    pthread_t t[16];
    for (int i = 0; i < n; i++) assert_int_equal(pthread_create(&t[i], NULL, member_run, &m[i]), 0);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
}

static bool no_colls(const store_server_stats_t *st, const void *a)
{
    (void)a;
    return st->collectives == 0;
}

static void test_barrier_allgather(void **state)
{
    (void)state;
    member_t m[4];
    for (uint32_t i = 0; i < 4; i++)
        m[i] = (member_t){.c = cli(), .name = "ag", .count = 4, .rank = i, .len = 1000, .timeout_ms = 10000,
                          .iters = 20};
    run_members(m, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(m[i].rc, 0);
    for (uint32_t i = 0; i < 4; i++) m[i].len = 0, m[i].name = "bar", m[i].iters = 50;
    run_members(m, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(m[i].rc, 0);
    /* count 1 completes on arrival; zero-length all-gather works. */
    assert_int_equal(store_barrier(m[0].c, "solo", 1, 0, 1000), 0);
    uint8_t x = 5, y = 0;
    assert_int_equal(store_allgather(m[0].c, "solo-ag", 1, 0, &x, 1, &y, 1000), 0);
    assert_int_equal(y, 5);
    assert_int_equal(store_allgather(m[0].c, "zero-ag", 1, 0, NULL, 0, NULL, 1000), 0);

    /* A mismatched length is refused: whoever arrives second with another
     * length gets SMEM_INVALID_PARAM, the first times out. */
    for (uint32_t i = 0; i < 2; i++)
        m[i] = (member_t){.c = m[i].c, .name = "agbad", .count = 2, .rank = i, .len = i ? 16 : 8,
                          .timeout_ms = 300, .iters = 1};
    run_members(m, 2);
    assert_true((m[0].rc == SMEM_INVALID_PARAM && m[1].rc == SMEM_TIMEOUT) ||
                (m[1].rc == SMEM_INVALID_PARAM && m[0].rc == SMEM_TIMEOUT));

    /* Client-side checks. */
    uint8_t buf[8];
    assert_int_equal(store_barrier(m[0].c, "b", 0, 0, 100), SMEM_INVALID_PARAM);
    assert_int_equal(store_barrier(m[0].c, "b", 2, 2, 100), SMEM_INVALID_PARAM);
    assert_int_equal(store_barrier(m[0].c, "", 2, 0, 100), SMEM_INVALID_PARAM);
    assert_int_equal(store_allgather(m[0].c, "b", 2, 0, buf, STORE_GATHER_MAX + 1, buf, 100), SMEM_TOO_LARGE);
    assert_true(wait_stats(no_colls, NULL, 2000));
    for (int i = 0; i < 4; i++) store_client_close(m[i].c);
}

/* Raw protocol access for what the client API cannot express (two ranks of
 * one name on one sequence number, or a member that vanishes mid-barrier). */
typedef struct raw {
    net_loop_t *loop;
    net_conn_t *conn;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t status[8];
    int n;
} raw_t;

static void raw_on_frame(net_conn_t *c, const net_frame_hdr_t *hdr, const uint8_t *body, void *arg)
{
    (void)c;
    (void)body;
    raw_t *r = arg;
    pthread_mutex_lock(&r->mu);
    if (r->n < 8) r->status[r->n++] = hdr->status;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void raw_on_close(net_conn_t *c, int32_t reason, void *arg)
{
    (void)c;
    (void)reason;
    (void)arg;
}

static void raw_open(raw_t *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->loop = net_loop_create("raw");
    assert_non_null(r->loop);
    net_opts_t o;
    net_opts_init(&o);
    net_conn_cbs_t cbs = {.on_frame = raw_on_frame, .on_close = raw_on_close, .arg = r};
    assert_int_equal(net_connect(r->loop, g_url, &o, &cbs, 5000, &r->conn), 0);
}

static void raw_send(raw_t *r, const store_msg_t *m, uint64_t req_id)
{
    util_wbuf_t w;
    util_wbuf_init(&w);
    assert_int_equal(store_msg_encode(m, &w), 0);
    net_frame_hdr_t h = {.type = m->type, .req_id = req_id};
    assert_int_equal(net_conn_send(r->conn, &h, w.p, (uint32_t)w.len), 0);
    util_wbuf_fini(&w);
}

static int32_t raw_wait(raw_t *r, int n)
{
    uint64_t end = util_now_ms() + 5000;
    pthread_mutex_lock(&r->mu);
    while (r->n < n && util_ms_left(end) > 0) {
        struct timespec ts = util_abstime_after_ms(util_ms_left(end));
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    int32_t st = r->n >= n ? r->status[n - 1] : 1;
    pthread_mutex_unlock(&r->mu);
    return st;
}

static void raw_close(raw_t *r)
{
    net_conn_close(r->conn);
    net_conn_put(r->conn);
    net_loop_destroy(r->loop);
}

typedef struct peer_gone_arg {
    store_client_t *c;
    int32_t rc;
} peer_gone_arg_t;

static void *barrier_of_3(void *arg)
{
    peer_gone_arg_t *a = arg;
    a->rc = store_barrier(a->c, "pg", 3, 0, 5000);
    return NULL;
}

static void test_coll_errors(void **state)
{
    (void)state;
    raw_t r;
    raw_open(&r);

    /* Duplicate rank and count mismatch on one instance. */
    store_msg_t b = {.type = STORE_MSG_BARRIER, .key = "dup#0", .key_len = 5, .count = 3, .rank = 1,
                     .timeout_ms = 300};
    raw_send(&r, &b, 1);
    raw_send(&r, &b, 2);
    assert_int_equal(raw_wait(&r, 1), SMEM_DUPLICATED_OBJECT);
    b.count = 4;
    b.rank = 0;
    raw_send(&r, &b, 3);
    assert_int_equal(raw_wait(&r, 2), SMEM_INVALID_PARAM);
    store_msg_t ag = {.type = STORE_MSG_ALLGATHER, .key = "dup#0", .key_len = 5, .count = 3, .rank = 0,
                      .timeout_ms = 300};
    raw_send(&r, &ag, 4);
    assert_int_equal(raw_wait(&r, 3), SMEM_INVALID_PARAM); /* barrier key used as all-gather */
    assert_int_equal(raw_wait(&r, 4), SMEM_TIMEOUT);        /* rank 1 times out */
    assert_true(wait_stats(no_colls, NULL, 2000));

    /* All-gather lengths, in a fixed arrival order: 8, 8, then 16. */
    uint8_t d16[16] = {0};
    ag = (store_msg_t){.type = STORE_MSG_ALLGATHER, .key = "len#0", .key_len = 5, .count = 3, .timeout_ms = 300,
                       .val = d16, .val_len = 8};
    raw_send(&r, &ag, 5);
    ag.rank = 1;
    raw_send(&r, &ag, 6);
    ag.rank = 2;
    ag.val_len = 16;
    raw_send(&r, &ag, 7);
    assert_int_equal(raw_wait(&r, 5), SMEM_INVALID_PARAM); /* rank 2, at once */
    assert_int_equal(raw_wait(&r, 6), SMEM_TIMEOUT);
    assert_int_equal(raw_wait(&r, 7), SMEM_TIMEOUT);
    assert_true(wait_stats(no_colls, NULL, 2000));

    /* A member that arrived and disconnects fails the others. */
    peer_gone_arg_t a = {.c = cli()};
    pthread_t t;
    pthread_create(&t, NULL, barrier_of_3, &a);
    store_msg_t pg = {.type = STORE_MSG_BARRIER, .key = "pg#0", .key_len = 4, .count = 3, .rank = 1,
                      .timeout_ms = 5000};
    usleep(100000);
    raw_send(&r, &pg, 8);
    usleep(100000);
    uint64_t t0 = util_now_ms();
    raw_close(&r);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, SMEM_PEER_GONE);
    assert_true(util_now_ms() - t0 < 2000);
    /* A straggler of that instance is told at once, then it is reclaimed. */
    store_client_t *s = cli();
    assert_int_equal(store_barrier(s, "pg", 3, 2, 5000), SMEM_PEER_GONE);
    assert_true(wait_stats(no_colls, NULL, 2000));
    store_client_close(s);
    store_client_close(a.c);
}

/* Thousands of barriers leave nothing behind on the server. */
static void test_gc(void **state)
{
    (void)state;
    store_server_stats_t st0 = stats();
    member_t m[2];
    for (uint32_t i = 0; i < 2; i++)
        m[i] = (member_t){.c = cli(), .name = "gc", .count = 2, .rank = i, .len = 0, .timeout_ms = 10000,
                          .iters = 2000};
    uint64_t t0 = util_now_ms();
    run_members(m, 2);
    uint64_t ms = util_now_ms() - t0;
    for (int i = 0; i < 2; i++) assert_int_equal(m[i].rc, 0);
    for (uint32_t i = 0; i < 2; i++) m[i].len = 64, m[i].iters = 500, m[i].name = "gc-ag";
    run_members(m, 2);
    for (int i = 0; i < 2; i++) assert_int_equal(m[i].rc, 0);
    store_server_stats_t st = stats();
    print_message("2000 barriers of 2 in %" PRIu64 " ms; keys %" PRIu64 " -> %" PRIu64 ", collectives %" PRIu64
                  "\n", ms, st0.keys, st.keys, st.collectives);
    assert_int_equal(st.keys, st0.keys);
    assert_int_equal(st.collectives, 0);
    assert_int_equal(store_server_key_count(g_srv), st0.keys);
    for (int i = 0; i < 2; i++) store_client_close(m[i].c);
}

/* ---------- reconnect ---------- */

static void test_reconnect(void **state)
{
    (void)state;
    store_server_opts_t so;
    store_server_opts_init(&so);
    store_server_t *srv;
    assert_int_equal(store_server_start("tcp://127.0.0.1:0", &so, &srv), 0);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", store_server_port(srv));

    store_client_opts_t o;
    store_client_opts_init(&o);
    o.timeout_ms = 10000;
    o.rpc.backoff_init_ms = 20;
    o.rpc.backoff_max_ms = 100;
    store_client_t *w, *c;
    assert_int_equal(store_client_connect(url, &o, &w), 0);
    rec_t r;
    rec_init(&r);
    exitrec_t e = {.mu = PTHREAD_MUTEX_INITIALIZER};
    uint32_t rank;
    assert_int_equal(store_watch(w, "rc/", true, rec_cb, &r, NULL), 0);
    assert_int_equal(store_exit_watch(w, "rcjob", exit_cb, &e), 0);
    assert_int_equal(store_group_join(w, "rcg", 2, UINT32_MAX, &rank), 0);

    /* Same port, fresh server: the client comes back with its watches. */
    store_server_stop(srv);
    assert_int_equal(store_server_start(url, &so, &srv), 0);
    assert_int_equal(store_client_connect(url, &o, &c), 0);
    uint64_t end = util_now_ms() + 5000;
    store_server_stats_t st = {0};
    while (util_now_ms() < end) {
        assert_int_equal(store_server_stats(srv, &st), 0);
        if (st.watches == 1 && st.exit_groups == 1) break;
        usleep(10000);
    }
    assert_int_equal(st.watches, 1);
    assert_int_equal(store_set(c, "rc/k", "v", 1), 0);
    assert_true(rec_wait(&r, 1, 5000));
    assert_string_equal(r.ev[0].key, "rc/k");
    assert_int_equal(store_exit_broadcast(c, "rcjob", 3), 0);
    end = util_now_ms() + 3000;
    while (exit_count(&e) == 0 && util_now_ms() < end) usleep(2000);
    assert_int_equal(exit_count(&e), 1);

    /* The rank was reclaimed on the fresh server: it is held again, its
     * liveness key is back, and leave works. */
    uint8_t *v = NULL;
    uint32_t vlen = 0;
    assert_int_equal(store_get(c, "rcg/__live/0", 2000, &v, &vlen), 0);
    free(v);
    assert_int_equal(store_group_join(c, "rcg", 2, 0, &rank), SMEM_DUPLICATED_OBJECT);
    assert_int_equal(store_group_leave(w, "rcg"), 0);
    store_client_close(c);
    store_client_close(w);
    store_server_stop(srv);
}

/* ---------- the data bound ---------- */

/* One client filling the store gets SMEM_FULL at the bound, not the server's memory; deleting makes room;
 * members can still join (liveness keys are exempt). */
static void test_data_bound(void **state)
{
    (void)state;
    store_server_opts_t so;
    store_server_opts_init(&so);
    so.max_data_bytes = 1u << 20;
    store_server_t *srv;
    assert_int_equal(store_server_start("tcp://127.0.0.1:0", &so, &srv), 0);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", store_server_port(srv));
    store_client_t *c;
    assert_int_equal(store_client_connect(url, NULL, &c), 0);
    static uint8_t v[100 << 10];
    memset(v, 7, sizeof(v));
    int ok = 0, rc = 0;
    char key[32];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "fill/%d", i);
        rc = store_set(c, key, v, sizeof(v));
        if (rc != 0) break;
        ok++;
    }
    assert_int_equal(rc, SMEM_FULL);
    assert_true(ok >= 9 && ok <= 10);
    assert_non_null(strstr(util_err_get(), "limit of 1048576"));
    assert_int_equal(store_append(c, "fill/0", v, sizeof(v), NULL), SMEM_FULL);
    uint32_t rank;
    assert_int_equal(store_group_join(c, "dg", 4, UINT32_MAX, &rank), 0); /* a liveness key always fits */
    assert_int_equal(store_delete(c, "fill/0"), 0);
    assert_int_equal(store_delete(c, "fill/1"), 0);
    assert_int_equal(store_set(c, "again", v, sizeof(v)), 0);
    assert_int_equal(store_group_leave(c, "dg"), 0);
    store_client_close(c);
    store_server_stop(srv);
}

/* ---------- what a reconnect does to ranks: reclaim, reservation, recovery window ---------- */

typedef struct grp_rec {
    pthread_mutex_t mu;
    int n;
    store_group_event_t last;
} grp_rec_t;

static void grp_cb(void *arg, const store_group_event_t *ev)
{
    grp_rec_t *g = arg;
    pthread_mutex_lock(&g->mu);
    g->n++;
    g->last = *ev;
    g->last.group = NULL;
    pthread_mutex_unlock(&g->mu);
}

static bool grp_wait(grp_rec_t *g, int n, int ms)
{
    uint64_t end = util_now_ms() + (uint64_t)ms;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        int got = g->n;
        pthread_mutex_unlock(&g->mu);
        if (got >= n) return true;
        if (util_now_ms() >= end) return false;
        usleep(5000);
    }
}

typedef struct join_arg {
    store_client_t *c;
    uint32_t want, rank;
    int32_t rc;
    uint64_t ms;
} join_arg_t;

static void *join_thread(void *arg)
{
    join_arg_t *j = arg;
    uint64_t t0 = util_now_ms();
    j->rc = store_group_join(j->c, "rg", 4, j->want, &j->rank);
    j->ms = util_now_ms() - t0;
    return NULL;
}

/* A restarted store admits the survivors' reclaims before any new joiner: a
 * fresh client never gets a rank a live member holds. */
static void test_restart_recovery_window(void **state)
{
    (void)state;
    store_server_opts_t so;
    store_server_opts_init(&so);
    so.recovery_ms = 800;
    store_server_t *srv;
    assert_int_equal(store_server_start("tcp://127.0.0.1:0", &so, &srv), 0);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", store_server_port(srv));
    store_client_opts_t o;
    store_client_opts_init(&o);
    o.timeout_ms = 10000;
    o.rpc.backoff_init_ms = 20;
    o.rpc.backoff_max_ms = 200;
    store_client_t *a, *b, *fresh;
    uint32_t ra, rb;
    assert_int_equal(store_client_connect(url, &o, &a), 0);
    assert_int_equal(store_client_connect(url, &o, &b), 0);
    /* the first joins wait out the window of this first start too */
    join_arg_t ja = {.c = a, .want = UINT32_MAX}, jb = {.c = b, .want = UINT32_MAX};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, join_thread, &ja);
    pthread_join(t1, NULL);
    pthread_create(&t2, NULL, join_thread, &jb);
    pthread_join(t2, NULL);
    assert_int_equal(ja.rc, 0);
    assert_int_equal(jb.rc, 0);
    ra = ja.rank;
    rb = jb.rank;
    assert_int_equal(ra, 0);
    assert_int_equal(rb, 1);
    grp_rec_t ga = {.mu = PTHREAD_MUTEX_INITIALIZER}, gb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    uint64_t la, lb;
    assert_int_equal(store_group_listen(a, "rg", grp_cb, &ga, &la), 0);
    assert_int_equal(store_group_listen(b, "rg", grp_cb, &gb, &lb), 0);
    uint64_t inst0 = store_client_instance(a);
    assert_true(inst0 != 0);

    store_server_stop(srv);
    assert_int_equal(store_server_start(url, &so, &srv), 0);
    /* A new client right away: held by the window, then rank 2. */
    assert_int_equal(store_client_connect(url, &o, &fresh), 0);
    join_arg_t jf = {.c = fresh, .want = UINT32_MAX};
    pthread_t t3;
    pthread_create(&t3, NULL, join_thread, &jf);
    pthread_join(t3, NULL);
    assert_int_equal(jf.rc, 0);
    assert_int_equal(jf.rank, 2);
    assert_true(grp_wait(&ga, 1, 3000));
    assert_true(grp_wait(&gb, 1, 3000));
    assert_true(ga.last.regained && ga.last.restarted && ga.last.rank == 0);
    assert_true(gb.last.regained && gb.last.restarted && gb.last.rank == 1);
    assert_true(store_client_instance(a) != inst0);
    uint8_t *v = NULL;
    uint32_t vlen = 0;
    assert_int_equal(store_get(fresh, "rg/__live/0", 1000, &v, &vlen), 0);
    free(v);
    assert_int_equal(store_get(fresh, "rg/__live/1", 1000, &v, &vlen), 0);
    free(v);
    store_group_unlisten(a, la);
    store_group_unlisten(b, lb);
    assert_int_equal(store_group_leave(a, "rg"), 0);
    assert_int_equal(store_group_leave(b, "rg"), 0);
    assert_int_equal(store_group_leave(fresh, "rg"), 0);
    store_client_close(fresh);
    store_client_close(b);
    store_client_close(a);
    store_server_stop(srv);
}

/* A member whose connection timed out (a paused process) keeps its rank
 * reserved: a new joiner gets another one, the member reclaims its own when
 * it comes back. A rank taken by an explicit join is lost for good. */
static void test_timeout_reservation(void **state)
{
    (void)state;
    store_server_opts_t so;
    store_server_opts_init(&so);
    so.keepalive_ms = 300;
    store_server_t *srv;
    assert_int_equal(store_server_start("tcp://127.0.0.1:0", &so, &srv), 0);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", store_server_port(srv));
    store_client_opts_t o;
    store_client_opts_init(&o);
    o.timeout_ms = 5000;
    o.rpc.heartbeat_ms = 80;
    store_client_t *quiet, *live, *other;
    /* silent: no heartbeat, and slow to redial, so the server times it out and it stays away a while */
    store_client_opts_t oq = o;
    oq.rpc.heartbeat_ms = 0;
    oq.rpc.backoff_init_ms = 1500;
    oq.rpc.backoff_max_ms = 1500;
    assert_int_equal(store_client_connect(url, &oq, &quiet), 0);
    assert_int_equal(store_client_connect(url, &o, &live), 0);
    assert_int_equal(store_client_connect(url, &o, &other), 0);
    uint32_t r;
    assert_int_equal(store_group_join(quiet, "rg", 4, UINT32_MAX, &r), 0);
    assert_int_equal(r, 0);
    grp_rec_t gq = {.mu = PTHREAD_MUTEX_INITIALIZER};
    uint64_t lq;
    assert_int_equal(store_group_listen(quiet, "rg", grp_cb, &gq, &lq), 0);
    /* wait until the server dropped it (its liveness key goes) */
    uint8_t *v = NULL;
    uint32_t vlen = 0;
    uint64_t end = util_now_ms() + 3000;
    while (util_now_ms() < end && store_get(live, "rg/__live/0", 0, &v, &vlen) == 0) {
        free(v);
        v = NULL;
        usleep(20000);
    }
    assert_int_equal(store_get(live, "rg/__live/0", 0, &v, &vlen), SMEM_OBJECT_NOT_EXISTS);
    /* rank 0 is reserved: a new member gets 1 */
    assert_int_equal(store_group_join(live, "rg", 4, UINT32_MAX, &r), 0);
    assert_int_equal(r, 1);
    /* the quiet one comes back and reclaims 0 */
    assert_true(grp_wait(&gq, 1, 5000));
    assert_true(gq.last.regained && !gq.last.restarted && gq.last.rank == 0);
    assert_int_equal(store_get(live, "rg/__live/0", 2000, &v, &vlen), 0);
    free(v);

    /* Dropped again, and this time an explicit join takes rank 0: the reclaim fails, the rank is lost. */
    end = util_now_ms() + 3000;
    while (util_now_ms() < end && store_get(live, "rg/__live/0", 0, &v, &vlen) == 0) {
        free(v);
        v = NULL;
        usleep(20000);
    }
    assert_int_equal(store_group_join(other, "rg", 4, 0, &r), 0);
    assert_int_equal(r, 0);
    assert_true(grp_wait(&gq, 2, 5000));
    assert_false(gq.last.regained);
    store_group_unlisten(quiet, lq);
    assert_int_equal(store_group_leave(quiet, "rg"), SMEM_RECONNECT);
    assert_int_equal(store_group_leave(other, "rg"), 0);
    assert_int_equal(store_group_leave(live, "rg"), 0);
    store_client_close(other);
    store_client_close(live);
    store_client_close(quiet);
    store_server_stop(srv);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_delete), cmocka_unit_test(test_blocking_get),
        cmocka_unit_test(test_add),            cmocka_unit_test(test_cas),
        cmocka_unit_test(test_append),         cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_list),           cmocka_unit_test(test_list_proto),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_ids),            cmocka_unit_test(test_exit),
        cmocka_unit_test(test_groups),         cmocka_unit_test(test_barrier_allgather),
        cmocka_unit_test(test_coll_errors),    cmocka_unit_test(test_gc),
        cmocka_unit_test(test_reconnect), cmocka_unit_test(test_restart_recovery_window),
        cmocka_unit_test(test_timeout_reservation), cmocka_unit_test(test_data_bound),
    };
    return TU_RUN_TESTS(argc, argv, tests, setup, teardown);
}
