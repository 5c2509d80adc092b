/* xfer_pool: parallel copies land every byte, small copies stay serial, concurrent callers are safe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/util_status.h"
#include "xfer/xfer_pool.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_and_odd_sizes),
        cmocka_unit_test(test_many_pieces),
        cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
