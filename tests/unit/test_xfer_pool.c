/* xfer_pool: parallel copies land every byte, small copies stay serial, concurrent callers are safe;
 * fan-out runs every task once, in parallel, on persistent threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/util_status.h"
#include "xfer/xfer_pool.h"
#include "tu_cmocka.h"

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)((i * 131u) ^ seed ^ (i >> 11));
}

static void test_big_and_odd_sizes(void **state)
{
    (void)state;
    xfer_pool_t *pool = NULL;
    assert_int_equal(xfer_pool_create(2, 64 * 1024, 256 * 1024, &pool), SMEM_OK);
    assert_int_equal(xfer_pool_threads(pool), 2);
    size_t sizes[] = {1, 4095, 65536, 65537, 3u << 20, (8u << 20) + 13};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint8_t *src = malloc(sizes[s]), *dst = calloc(1, sizes[s] + 64);
        fill(src, sizes[s], (uint32_t)s);
        memset(dst + sizes[s], 0xEE, 64); /* guard: nothing past the end is written */
        xfer_piece_t piece = {dst, src, sizes[s]};
        xfer_pool_copy(pool, &piece, 1);
        assert_memory_equal(dst, src, sizes[s]);
        for (int i = 0; i < 64; i++) assert_int_equal(dst[sizes[s] + i], 0xEE);
        free(src);
        free(dst);
    }
    xfer_pool_destroy(pool);
}

static void test_many_pieces(void **state)
{
    (void)state;
    /* The DeepSeek-R1 block: 61 x 128 KiB + 61 x 16 KiB discrete pieces. */
    xfer_pool_t *pool = NULL;
    assert_int_equal(xfer_pool_create(1, 0, 0, &pool), SMEM_OK);
    enum { N = 122 };
    xfer_piece_t pieces[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) total += (i % 2 == 0) ? 128 * 1024 : 16 * 1024;
    uint8_t *src = malloc(total), *dst = calloc(1, total);
    fill(src, total, 7);
    size_t off = 0;
    for (int i = 0; i < N; i++) {
        size_t len = (i % 2 == 0) ? 128 * 1024 : 16 * 1024;
        /* scatter in reverse order so pieces are truly discrete */
        pieces[i] = (xfer_piece_t){dst + (total - off - len), src + off, len};
        off += len;
    }
    xfer_pool_copy(pool, pieces, N);
    off = 0;
    for (int i = 0; i < N; i++) {
        assert_memory_equal(pieces[i].dst, pieces[i].src, pieces[i].len);
        off += pieces[i].len;
    }
    free(src);
    free(dst);
    xfer_pool_destroy(pool);
}

static xfer_pool_t *shared_pool;
static void *copier(void *arg)
{
    uint32_t seed = (uint32_t)(uintptr_t)arg;
    size_t n = 5u << 20;
    uint8_t *src = malloc(n), *dst = malloc(n);
    int ok = 1;
    for (int round = 0; round < 8 && ok; round++) {
        fill(src, n, seed + (uint32_t)round);
        xfer_piece_t piece = {dst, src, n};
        xfer_pool_copy(shared_pool, &piece, 1);
        ok = memcmp(dst, src, n) == 0;
    }
    free(src);
    free(dst);
    return (void *)(uintptr_t)ok;
}

static void test_concurrent_callers(void **state)
{
    (void)state;
    assert_int_equal(xfer_pool_create(2, 512 * 1024, 1u << 20, &shared_pool), SMEM_OK);
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++) pthread_create(&t[i], NULL, copier, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        assert_int_equal((uintptr_t)ok, 1);
    }
    xfer_pool_destroy(shared_pool);
}

static void test_bad_args(void **state)
{
    (void)state;
    xfer_pool_t *pool = NULL;
    assert_int_equal(xfer_pool_create(65, 0, 0, &pool), SMEM_INVALID_PARAM);
    assert_int_equal(xfer_pool_create(1, 0, 0, NULL), SMEM_INVALID_PARAM);
    assert_int_equal(xfer_pool_create(0, 0, 0, &pool), SMEM_OK);
    uint8_t a[16] = {1, 2, 3}, b[16] = {0};
    xfer_piece_t piece = {b, a, sizeof(a)};
    xfer_pool_copy(pool, &piece, 1); /* no workers: the caller copies */
    assert_memory_equal(a, b, sizeof(a));
    xfer_pool_copy(pool, NULL, 0);
    xfer_pool_destroy(pool);
    xfer_pool_destroy(NULL);
}

/* ---------- fan-out ---------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

typedef struct fan_count {
    uint32_t *hits;       /* hits[i]: times task i ran (plain: one task per index) */
    uint32_t sleep_us;
    uint32_t running;     /* tasks running now (atomic) */
    uint32_t peak;        /* most tasks running at once (atomic) */
    pthread_t caller;
    uint32_t off_caller;  /* tasks run on another thread (atomic) */
} fan_count_t;

static void fan_task(void *arg, uint32_t i)
{
    fan_count_t *c = arg;
    uint32_t now = __atomic_add_fetch(&c->running, 1, __ATOMIC_RELAXED);
    uint32_t peak = __atomic_load_n(&c->peak, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&c->peak, &peak, now, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    if (!pthread_equal(pthread_self(), c->caller)) __atomic_add_fetch(&c->off_caller, 1, __ATOMIC_RELAXED);
    if (c->sleep_us) usleep(c->sleep_us);
    c->hits[i]++; /* plain: each index runs once, and the caller reads after the call returns */
    __atomic_sub_fetch(&c->running, 1, __ATOMIC_RELAXED);
}

/* Runs n tasks and checks each ran exactly once; returns the tasks run off the caller's thread. */
static uint32_t fan_once(xfer_pool_t *pool, uint32_t n, uint32_t max_par, uint32_t sleep_us, uint32_t *peak)
{
    fan_count_t c = {.hits = calloc(n ? n : 1, sizeof(uint32_t)), .sleep_us = sleep_us, .caller = pthread_self()};
    assert_non_null(c.hits);
    xfer_pool_fanout(pool, fan_task, &c, n, max_par);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(c.hits[i], 1);
    assert_int_equal(c.running, 0);
    free(c.hits);
    if (peak) *peak = c.peak;
    return c.off_caller;
}

static void test_fanout_each_once(void **state)
{
    (void)state;
    xfer_pool_t *pool = NULL;
    assert_int_equal(xfer_pool_create(2, 0, 0, &pool), SMEM_OK);
    uint32_t sizes[] = {0, 1, 2, 3, 17, 1000};
    uint32_t pars[] = {0, 1, 2, 4, 16, 17, 100};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        for (size_t m = 0; m < sizeof(pars) / sizeof(pars[0]); m++) {
            uint32_t peak = 0;
            fan_once(pool, sizes[s], pars[m], 0, &peak);
            uint32_t lim = pars[m] <= 1 ? 1 : pars[m];
            if (lim > XFER_FANOUT_THREADS_MAX + 1) lim = XFER_FANOUT_THREADS_MAX + 1;
            assert_true(peak <= lim); /* never more than max_par at once */
        }
    /* A pool without copy workers still fans out: the two sets of threads are separate. */
    xfer_pool_t *bare = NULL;
    assert_int_equal(xfer_pool_create(0, 0, 0, &bare), SMEM_OK);
    uint32_t peak = 0;
    fan_once(bare, 8, 8, 20000, &peak);
    assert_true(peak > 1);
    xfer_pool_destroy(bare);
    xfer_pool_destroy(pool);
}

static void test_fanout_blocking_parallel(void **state)
{
    (void)state;
    xfer_pool_t *pool = NULL;
    assert_int_equal(xfer_pool_create(1, 0, 0, &pool), SMEM_OK);
    for (int round = 0; round < 3; round++) { /* the first round starts the threads, the others reuse them */
        uint32_t peak = 0;
        uint64_t t0 = now_ns();
        fan_once(pool, 16, 16, 20000, &peak);
        uint64_t ms = (now_ns() - t0) / 1000000u;
        print_message("fan-out 16 x 20 ms, max_par 16, round %d: %llu ms, peak %u at once\n", round,
                      (unsigned long long)ms, peak);
        assert_true(ms < 200); /* serial would be 320 ms */
        assert_true(peak > 1);
    }
    xfer_pool_destroy(pool);
}

static void test_fanout_caller_alone(void **state)
{
    (void)state;
    xfer_pool_t *pool = NULL;
    assert_int_equal(xfer_pool_create(2, 0, 0, &pool), SMEM_OK);
    fan_once(pool, 8, 8, 1000, NULL); /* fan-out threads exist now */
    uint32_t peak = 0;
    assert_int_equal(fan_once(pool, 64, 1, 100, &peak), 0);
    assert_int_equal(peak, 1);
    assert_int_equal(fan_once(pool, 64, 0, 100, &peak), 0);
    assert_int_equal(peak, 1);
    assert_int_equal(fan_once(NULL, 64, 16, 100, &peak), 0); /* pool NULL: the caller runs all */
    assert_int_equal(peak, 1);
    fan_once(NULL, 0, 16, 0, NULL);
    xfer_pool_destroy(pool);
}

static void test_fanout_no_thread_per_call(void **state)
{
    (void)state;
    xfer_pool_t *pool = NULL;
    assert_int_equal(xfer_pool_create(2, 0, 0, &pool), SMEM_OK);
    int t0 = thread_count();
    assert_true(t0 > 0);
    fan_once(pool, 8, 8, 2000, NULL); /* warm-up: starts up to 7 fan-out threads */
    int t1 = thread_count();
    assert_true(t1 > t0);
    assert_true(t1 <= t0 + 7);
    for (int i = 0; i < 100; i++) {
        fan_once(pool, 8, 8, 200, NULL);
        assert_int_equal(thread_count(), t1);
    }
    xfer_pool_destroy(pool);
    assert_int_equal(thread_count(), t0 - 2); /* destroy joined the copy workers and every fan-out thread */
}

static void *fan_caller(void *arg)
{
    xfer_pool_t *pool = arg;
    for (int round = 0; round < 50; round++) fan_once(pool, 1 + (uint32_t)round * 7, 6, round % 5 ? 0 : 500, NULL);
    return NULL;
}

static void test_fanout_concurrent_callers(void **state)
{
    (void)state;
    xfer_pool_t *pool = NULL;
    assert_int_equal(xfer_pool_create(2, 0, 0, &pool), SMEM_OK);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, fan_caller, pool), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    xfer_pool_destroy(pool);
}

typedef struct copy_loop {
    xfer_pool_t *pool;
    uint32_t stop; /* atomic */
    uint32_t rounds, ok;
} copy_loop_t;

static void *copy_looper(void *arg)
{
    copy_loop_t *c = arg;
    size_t n = 6u << 20;
    uint8_t *src = malloc(n), *dst = malloc(n);
    c->ok = 1;
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED) || c->rounds < 2) {
        fill(src, n, c->rounds);
        xfer_piece_t piece = {dst, src, n};
        xfer_pool_copy(c->pool, &piece, 1);
        if (memcmp(dst, src, n) != 0) c->ok = 0;
        c->rounds++;
    }
    free(src);
    free(dst);
    return NULL;
}

static void test_fanout_with_copy_job(void **state)
{
    (void)state;
    xfer_pool_t *pool = NULL;
    assert_int_equal(xfer_pool_create(2, 256 * 1024, 1u << 20, &pool), SMEM_OK);
    copy_loop_t c = {.pool = pool};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, copy_looper, &c), 0);
    for (int round = 0; round < 10; round++) {
        uint32_t peak = 0;
        fan_once(pool, 12, 12, 5000, &peak); /* blocking tasks beside the copies */
        assert_true(peak > 1);
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    assert_int_equal(c.ok, 1);
    assert_true(c.rounds >= 2);
    xfer_pool_destroy(pool);
}

static xfer_pool_t *nest_pool;
static void nest_task(void *arg, uint32_t i)
{
    (void)i;
    uint32_t *total = arg;
    fan_once(nest_pool, 4, 4, 1000, NULL); /* outside the contract, but must not deadlock */
    __atomic_add_fetch(total, 1, __ATOMIC_RELAXED);
}

static void test_fanout_nested(void **state)
{
    (void)state;
    assert_int_equal(xfer_pool_create(0, 0, 0, &nest_pool), SMEM_OK);
    for (int round = 0; round < 5; round++) {
        uint32_t total = 0;
        xfer_pool_fanout(nest_pool, nest_task, &total, 24, 24);
        assert_int_equal(total, 24);
    }
    xfer_pool_destroy(nest_pool);
}

static void test_shared_pool(void **state)
{
    (void)state;
    xfer_pool_t *a = NULL, *b = NULL;
    assert_int_equal(xfer_pool_shared_get(&a), SMEM_OK);
    assert_int_equal(xfer_pool_shared_get(&b), SMEM_OK);
    assert_ptr_equal(a, b);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t want = ncpu > 1 ? (uint32_t)(ncpu - 1) : 0;
    if (want > 4) want = 4;
    assert_int_equal(xfer_pool_threads(a), want);
    fan_once(a, 10, 4, 0, NULL);
    xfer_pool_shared_put();
    xfer_pool_shared_put();
    assert_int_equal(xfer_pool_shared_get(NULL), SMEM_INVALID_PARAM);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_and_odd_sizes),
        cmocka_unit_test(test_many_pieces),
        cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_fanout_each_once),
        cmocka_unit_test(test_fanout_blocking_parallel),
        cmocka_unit_test(test_fanout_caller_alone),
        cmocka_unit_test(test_fanout_no_thread_per_call),
        cmocka_unit_test(test_fanout_concurrent_callers),
        cmocka_unit_test(test_fanout_with_copy_job),
        cmocka_unit_test(test_fanout_nested),
        cmocka_unit_test(test_shared_pool),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
