/*
 * The MetaService's segment allocator (meta_heap) against a page-bitmap
 * reference model: best fit (smallest extent that fits, lowest offset among
 * equals) on every allocation, exact coalescing after every free, rejected
 * double/partial/out-of-range frees, 100k random operations, full
 * utilisation, and a 1 TiB heap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memcache/meta/meta_heap.h"
#include "memcache/mmc_def.h"
#include "util/util_time.h"
#include "tu_cmocka.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---------- reference model ---------- */

typedef struct ref {
    uint8_t *used; /* one byte per page */
    uint64_t pages;
} ref_t;

/* Best fit in the model: smallest maximal free run >= need, lowest offset. UINT64_MAX if none. */
static uint64_t ref_best_fit(const ref_t *r, uint64_t need)
{
    uint64_t best = UINT64_MAX, best_len = UINT64_MAX;
    for (uint64_t p = 0; p < r->pages;) {
        if (r->used[p]) {
            p++;
            continue;
        }
        uint64_t s = p;
        while (p < r->pages && !r->used[p]) p++;
        uint64_t len = p - s;
        if (len >= need && len < best_len) {
            best = s;
            best_len = len;
        }
    }
    return best;
}

typedef struct walk_cmp {
    const ref_t *r;
    uint64_t next_page; /* where the model's next free run must start */
    uint64_t runs;
    int bad;
} walk_cmp_t;

static void walk_fn(void *arg, uint64_t off, uint64_t len)
{
    walk_cmp_t *w = arg;
    uint64_t p = off / META_PAGE, n = len / META_PAGE;
    /* Model: pages [next, p) used, [p, p+n) free, and p+n used or the end. */
    for (uint64_t i = w->next_page; i < p; i++)
        if (!w->r->used[i]) w->bad = 1;
    for (uint64_t i = p; i < p + n; i++)
        if (w->r->used[i]) w->bad = 1;
    if (p + n < w->r->pages && !w->r->used[p + n]) w->bad = 1; /* not coalesced */
    w->next_page = p + n;
    w->runs++;
}

static void compare_with_model(const meta_heap_t *h, const ref_t *r)
{
    assert_int_equal(meta_heap_check(h), 0);
    walk_cmp_t w = {.r = r};
    meta_heap_walk(h, walk_fn, &w);
    for (uint64_t i = w.next_page; i < r->pages; i++) assert_true(r->used[i]);
    assert_int_equal(w.bad, 0);
    assert_int_equal(w.runs, h->extents);
    uint64_t free_pages = 0;
    for (uint64_t i = 0; i < r->pages; i++) free_pages += !r->used[i];
    assert_int_equal(free_pages, h->free_pages);
}

/* ---------- tests ---------- */

static void test_basics(void **state)
{
    (void)state;
    meta_heap_t h;
    assert_int_equal(meta_heap_init(&h, 4095), MMC_INVALID_PARAM);
    assert_int_equal(meta_heap_init(&h, 10 * META_PAGE + 100), 0); /* rounded down */
    assert_int_equal(meta_heap_total(&h), 10 * META_PAGE);
    uint64_t a, b, c;
    assert_int_equal(meta_heap_alloc(&h, 0, &a), MMC_INVALID_PARAM);
    assert_int_equal(meta_heap_alloc(&h, 1, &a), 0); /* 1 byte takes a page */
    assert_int_equal(a, 0);
    assert_int_equal(meta_heap_used(&h), META_PAGE);
    assert_int_equal(meta_heap_alloc(&h, META_PAGE + 1, &b), 0);
    assert_int_equal(b, META_PAGE);
    assert_int_equal(meta_heap_alloc(&h, 7 * META_PAGE, &c), 0);
    assert_int_equal(c, 3 * META_PAGE);
    assert_int_equal(h.free_pages, 0);
    assert_int_equal(meta_heap_largest(&h), 0);
    uint64_t d;
    assert_int_equal(meta_heap_alloc(&h, 1, &d), MMC_NOT_ENOUGH_MEMORY);
    /* bad frees change nothing */
    assert_int_equal(meta_heap_free(&h, 100, 1), MMC_INVALID_PARAM);               /* unaligned */
    assert_int_equal(meta_heap_free(&h, 10 * META_PAGE, 1), MMC_INVALID_PARAM);    /* outside */
    assert_int_equal(meta_heap_free(&h, 9 * META_PAGE, 2 * META_PAGE), MMC_INVALID_PARAM); /* runs past the end */
    assert_int_equal(meta_heap_free(&h, 0, 0), MMC_INVALID_PARAM);
    assert_int_equal(meta_heap_free(&h, b, META_PAGE + 1), 0);
    assert_int_equal(meta_heap_free(&h, b, 1), MMC_INVALID_PARAM); /* double free */
    assert_int_equal(meta_heap_free(&h, 0, 2 * META_PAGE), MMC_INVALID_PARAM); /* overlaps the freed range */
    assert_int_equal(h.extents, 1);
    assert_int_equal(meta_heap_free(&h, a, 1), 0); /* coalesces with b's hole */
    assert_int_equal(h.extents, 1);
    assert_int_equal(meta_heap_largest(&h), 3 * META_PAGE);
    assert_int_equal(meta_heap_free(&h, c, 7 * META_PAGE), 0);
    assert_int_equal(h.extents, 1);
    assert_int_equal(h.free_pages, 10);
    assert_int_equal(meta_heap_check(&h), 0);
    meta_heap_fini(&h);
}

static void test_best_fit(void **state)
{
    (void)state;
    meta_heap_t h;
    assert_int_equal(meta_heap_init(&h, 64 * META_PAGE), 0);
    /* Carve holes of 5, 3, 8, 3 pages separated by 1-page fences. */
    static const uint64_t sizes[] = {5, 1, 3, 1, 8, 1, 3, 1};
    uint64_t offs[8];
    for (int i = 0; i < 8; i++) assert_int_equal(meta_heap_alloc(&h, sizes[i] * META_PAGE, &offs[i]), 0);
    for (int i = 0; i < 8; i += 2) assert_int_equal(meta_heap_free(&h, offs[i], sizes[i] * META_PAGE), 0);
    /* Free now: [0,5) [6,9) [10,18) [19,22) [23,64). */
    uint64_t o;
    assert_int_equal(meta_heap_alloc(&h, 3 * META_PAGE, &o), 0);
    assert_int_equal(o, 6 * META_PAGE); /* the first of two exact 3-page holes */
    assert_int_equal(meta_heap_alloc(&h, 2 * META_PAGE, &o), 0);
    assert_int_equal(o, 19 * META_PAGE); /* the other 3-page hole beats the 5 */
    assert_int_equal(meta_heap_alloc(&h, 4 * META_PAGE, &o), 0);
    assert_int_equal(o, 0); /* 5 beats 8 and 41 */
    assert_int_equal(meta_heap_alloc(&h, 9 * META_PAGE, &o), 0);
    assert_int_equal(o, 23 * META_PAGE); /* only the tail fits */
    assert_int_equal(meta_heap_check(&h), 0);
    meta_heap_fini(&h);
}

typedef struct live {
    uint64_t off, size;
} live_t;

static void random_run(uint64_t pages, uint32_t ops, uint32_t max_pages, uint32_t check_every)
{
    meta_heap_t h;
    ref_t r = {.pages = pages};
    r.used = calloc(pages, 1);
    live_t *lv = calloc(ops, sizeof(*lv));
    uint32_t nlive = 0;
    assert_non_null(r.used);
    assert_non_null(lv);
    assert_int_equal(meta_heap_init(&h, pages * META_PAGE), 0);
    uint64_t fails = 0, bad_frees = 0;
    for (uint32_t i = 0; i < ops; i++) {
        uint64_t x = rnd();
        bool do_alloc = nlive == 0 || (x % 100) < 52;
        if (do_alloc) {
            /* Mostly small, sometimes large; sizes not page multiples half of the time. */
            uint64_t np = (x >> 8) % 8 == 0 ? 1 + (x >> 16) % max_pages : 1 + (x >> 16) % 8;
            uint64_t size = np * META_PAGE - ((x >> 40) & 1 ? (x >> 41) % META_PAGE : 0);
            uint64_t need = (size + META_PAGE - 1) / META_PAGE;
            uint64_t expect = ref_best_fit(&r, need);
            uint64_t off = 0;
            int32_t rc = meta_heap_alloc(&h, size, &off);
            if (expect == UINT64_MAX) {
                assert_int_equal(rc, MMC_NOT_ENOUGH_MEMORY);
                fails++;
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal(off, expect * META_PAGE);
                for (uint64_t p = expect; p < expect + need; p++) {
                    assert_false(r.used[p]);
                    r.used[p] = 1;
                }
                lv[nlive++] = (live_t){off, size};
            }
        } else {
            uint32_t k = (uint32_t)((x >> 8) % nlive);
            live_t a = lv[k];
            assert_int_equal(meta_heap_free(&h, a.off, a.size), 0);
            uint64_t p0 = a.off / META_PAGE, need = (a.size + META_PAGE - 1) / META_PAGE;
            for (uint64_t p = p0; p < p0 + need; p++) r.used[p] = 0;
            lv[k] = lv[--nlive];
            if ((x >> 50) % 4 == 0) {
                /* A double free must be refused and change nothing. */
                uint64_t before = h.free_pages, ext = h.extents;
                assert_int_equal(meta_heap_free(&h, a.off, a.size), MMC_INVALID_PARAM);
                assert_int_equal(h.free_pages, before);
                assert_int_equal(h.extents, ext);
                bad_frees++;
            }
        }
        if (check_every && i % check_every == 0) compare_with_model(&h, &r);
    }
    compare_with_model(&h, &r);
    print_message("%u ops on %llu pages: %llu allocations refused (full), %llu double frees refused, %u live, "
                  "%llu%% used, %llu free extents\n",
                  ops, (unsigned long long)pages, (unsigned long long)fails, (unsigned long long)bad_frees, nlive,
                  (unsigned long long)((pages - h.free_pages) * 100 / pages), (unsigned long long)h.extents);
    assert_true(fails > 0 || max_pages < 64); /* the run must have hit a full heap */
    assert_true(bad_frees > 0);
    /* Free everything: one extent again. */
    while (nlive > 0) {
        nlive--;
        assert_int_equal(meta_heap_free(&h, lv[nlive].off, lv[nlive].size), 0);
    }
    assert_int_equal(h.extents, 1);
    assert_int_equal(h.free_pages, pages);
    assert_int_equal(meta_heap_check(&h), 0);
    meta_heap_fini(&h);
    free(lv);
    free(r.used);
}

static void test_random_vs_model(void **state)
{
    (void)state;
    /* 100k operations on a 2048-page (8 MiB) heap; the model is checked on every allocation,
     * the full structure every 500 operations. */
    random_run(2048, 100000, 256, 500);
}

static void test_random_small_heap_exhaustive(void **state)
{
    (void)state;
    random_run(97, 20000, 97, 1); /* odd size, full comparison after every operation */
}

static void test_full_utilisation(void **state)
{
    (void)state;
    meta_heap_t h;
    const uint64_t pages = 4096;
    assert_int_equal(meta_heap_init(&h, pages * META_PAGE), 0);
    uint64_t *offs = calloc(pages, sizeof(*offs)), *sz = calloc(pages, sizeof(*sz));
    uint32_t n = 0;
    uint64_t off;
    /* Random sizes until one does not fit, then pages until full: nothing is lost to the allocator. */
    for (;;) {
        uint64_t s = (1 + rnd() % 32) * META_PAGE;
        if (meta_heap_alloc(&h, s, &off) != 0) break;
        offs[n] = off;
        sz[n++] = s;
    }
    /* Free every third allocation to fragment, then refill with single pages. */
    for (uint32_t i = 0; i < n; i += 3) {
        assert_int_equal(meta_heap_free(&h, offs[i], sz[i]), 0);
        sz[i] = 0;
    }
    while (meta_heap_alloc(&h, META_PAGE, &off) == 0) {
        assert_true(n < pages);
        offs[n] = off;
        sz[n++] = META_PAGE;
    }
    assert_int_equal(h.free_pages, 0);
    assert_int_equal(meta_heap_used(&h), meta_heap_total(&h));
    for (uint32_t i = 0; i < n; i++)
        if (sz[i]) assert_int_equal(meta_heap_free(&h, offs[i], sz[i]), 0);
    assert_int_equal(h.extents, 1);
    assert_int_equal(meta_heap_check(&h), 0);
    meta_heap_fini(&h);
    free(offs);
    free(sz);
}

static void test_large_heap(void **state)
{
    (void)state;
    /* 1 TiB segment: metadata is per free extent, so this is as cheap as a small one. */
    meta_heap_t h;
    assert_int_equal(meta_heap_init(&h, 1ull << 40), 0);
    uint64_t t0 = util_now_ms();
    enum { N = 50000 };
    live_t *lv = calloc(N, sizeof(*lv));
    uint32_t n = 0;
    for (uint32_t i = 0; i < 200000; i++) {
        uint64_t x = rnd();
        if (n == 0 || (n < N && x % 2)) {
            uint64_t s = 1 + (x >> 8) % (64ull << 20);
            assert_int_equal(meta_heap_alloc(&h, s, &lv[n].off), 0);
            lv[n++].size = s;
        } else {
            uint32_t k = (uint32_t)((x >> 8) % n);
            assert_int_equal(meta_heap_free(&h, lv[k].off, lv[k].size), 0);
            lv[k] = lv[--n];
        }
    }
    assert_int_equal(meta_heap_check(&h), 0);
    uint64_t used = 0;
    for (uint32_t i = 0; i < n; i++) used += meta_heap_round(lv[i].size);
    assert_int_equal(used, meta_heap_used(&h));
    print_message("1 TiB heap: 200k ops in %llu ms, %llu free extents\n", (unsigned long long)(util_now_ms() - t0),
                  (unsigned long long)h.extents);
    meta_heap_fini(&h);
    free(lv);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),          cmocka_unit_test(test_best_fit),
        cmocka_unit_test(test_random_vs_model), cmocka_unit_test(test_random_small_heap_exhaustive),
        cmocka_unit_test(test_full_utilisation), cmocka_unit_test(test_large_heap),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
