/*
 * The MetaService's key index (meta_index.c), against a sorted array as the
 * reference: random inserts and removes, keys put in ascending and
 * descending order, keys that are prefixes of one another, long keys that
 * share 250 bytes (hint ties), bytes above 0x7f; every few steps the tree's
 * invariants (meta_index_check), a full walk and seeks (strict and not) at
 * keys present and absent. Also the places found ahead (meta_index_prefetch)
 * and their going stale when the tree changes shape, and the fill of leaves
 * for ascending keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memcache/meta/meta_int.h"
#include "util/util_status.h"
#include "tu_cmocka.h"

typedef struct ref {
    meta_obj_t **v; /* sorted by key */
    size_t n, cap;
} ref_t;

static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static meta_obj_t *obj(const char *k, uint32_t len)
{
    meta_obj_t *o = calloc(1, sizeof(*o) + sizeof(o->rep[0]) + len + 1);
    assert_non_null(o);
    o->nslot = 1;
    o->klen = (uint16_t)len;
    memcpy(meta_obj_key(o), k, len);
    return o;
}

static int cmp_obj(const meta_obj_t *a, const char *k, uint32_t kl) { return meta_key_cmp(meta_obj_key(a), a->klen, k, kl); }

/* First index of r whose key is > k (strict) or >= k. */
static size_t ref_bound(const ref_t *r, const char *k, uint32_t kl, bool strict)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = cmp_obj(r->v[mid], k, kl);
        if (d < 0 || (strict && d == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool ref_has(const ref_t *r, const char *k, uint32_t kl)
{
    size_t i = ref_bound(r, k, kl, false);
    return i < r->n && cmp_obj(r->v[i], k, kl) == 0;
}

static void ref_insert(ref_t *r, meta_obj_t *o)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->v = realloc(r->v, r->cap * sizeof(*r->v));
        assert_non_null(r->v);
    }
    size_t i = ref_bound(r, meta_obj_key(o), o->klen, false);
    memmove(&r->v[i + 1], &r->v[i], (r->n - i) * sizeof(*r->v));
    r->v[i] = o;
    r->n++;
}

static meta_obj_t *ref_take(ref_t *r, size_t i)
{
    meta_obj_t *o = r->v[i];
    memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(*r->v));
    r->n--;
    return o;
}

static void seek_check(const meta_index_t *x, const ref_t *r, const char *k, uint32_t kl)
{
    for (int strict = 0; strict < 2; strict++) {
        meta_index_iter_t it;
        meta_index_seek(x, k, kl, strict, &it);
        size_t i = ref_bound(r, k, kl, strict);
        for (int j = 0; j < 70; j++, i++) { /* across a leaf boundary */
            meta_obj_t *o = meta_index_next(&it);
            if (i >= r->n) {
                assert_null(o);
                break;
            }
            assert_ptr_equal(o, r->v[i]);
        }
    }
}

/* Invariants, the whole walk, and seeks at keys present, absent and off the ends. */
static void full_check(const meta_index_t *x, const ref_t *r)
{
    if (meta_index_check(x) != MMC_OK) fail_msg("%s", util_err_get());
    assert_int_equal(x->n, r->n);
    meta_index_iter_t it;
    meta_index_seek(x, "", 0, false, &it);
    for (size_t i = 0; i < r->n; i++) assert_ptr_equal(meta_index_next(&it), r->v[i]);
    assert_null(meta_index_next(&it));
    assert_null(meta_index_next(&it));
    for (int s = 0; s < 20 && r->n > 0; s++) {
        const meta_obj_t *o = r->v[rnd() % r->n];
        seek_check(x, r, meta_obj_key(o), o->klen);
        char k[MMC_KEY_MAX + 1];
        uint32_t kl = o->klen > 1 ? (uint32_t)(1 + rnd() % (o->klen - 1)) : 1; /* a prefix of a key */
        memcpy(k, meta_obj_key(o), kl);
        seek_check(x, r, k, kl);
        if (o->klen < MMC_KEY_MAX) { /* just past a key */
            memcpy(k, meta_obj_key(o), o->klen);
            k[o->klen] = '\x01';
            seek_check(x, r, k, o->klen + 1);
        }
    }
    seek_check(x, r, "\xff\xff", 2);
    seek_check(x, r, "\x01", 1);
}

static void ref_free_all(meta_index_t *x, ref_t *r)
{
    while (r->n > 0) {
        meta_obj_t *o = ref_take(r, r->n - 1);
        meta_index_remove(x, o);
        free(o);
    }
    free(r->v);
    r->v = NULL;
    r->cap = 0;
}

typedef uint32_t (*keygen_t)(uint64_t i, char *out);

static uint32_t key_hex(uint64_t i, char *out) { return (uint32_t)snprintf(out, 64, "blk/%016llx", (unsigned long long)(i * 0x9E3779B97F4A7C15ull)); }
static uint32_t key_asc(uint64_t i, char *out) { return (uint32_t)snprintf(out, 64, "seq/%010llu", (unsigned long long)i); }
static uint32_t key_desc(uint64_t i, char *out) { return (uint32_t)snprintf(out, 64, "seq/%010llu", 9999999999ull - i); }
/* 1..256 bytes of a few letters: many keys are prefixes of others. */
static uint32_t key_prefixy(uint64_t i, char *out)
{
    uint64_t h = i * 0xD6E8FEB86659FD93ull;
    uint32_t len = 1 + (uint32_t)(h % 7 == 0 ? (h >> 8) % MMC_KEY_MAX : (h >> 8) % 5);
    for (uint32_t j = 0; j < len; j++) out[j] = "ab\x7f\x80\xff"[((h >> (j % 56)) ^ j) % 5];
    return len;
}
/* 250 shared bytes, then a few that differ: hints tie, the objects decide. */
static uint32_t key_long(uint64_t i, char *out)
{
    memset(out, 'L', 250);
    return 250 + (uint32_t)snprintf(out + 250, 7, "%06llx", (unsigned long long)((i * 0x9E3779B97F4A7C15ull) >> 40));
}

/* n operations, inserts with probability ins/100, the rest removes of a random present key. */
static void run_mix(keygen_t gen, uint64_t n, unsigned ins)
{
    meta_index_t x;
    ref_t r = {0};
    assert_int_equal(meta_index_init(&x), MMC_OK);
    uint64_t next = 0;
    for (uint64_t step = 0; step < n; step++) {
        if (r.n == 0 || rnd() % 100 < ins) {
            char k[MMC_KEY_MAX + 1];
            uint32_t kl = gen(next++, k);
            if (ref_has(&r, k, kl)) continue; /* the table never indexes a key twice */
            meta_obj_t *o = obj(k, kl);
            assert_int_equal(meta_index_insert(&x, o, NULL), MMC_OK);
            ref_insert(&r, o);
        } else {
            meta_obj_t *o = ref_take(&r, rnd() % r.n);
            meta_index_remove(&x, o);
            free(o);
        }
        if (step % 4999 == 0) full_check(&x, &r);
    }
    full_check(&x, &r);
    ref_free_all(&x, &r);
    assert_int_equal(x.n, 0);
    assert_int_equal(x.height, 0);
    assert_int_equal(x.leaves, 1);
    assert_int_equal(x.inners, 0);
    if (meta_index_check(&x) != MMC_OK) fail_msg("%s", util_err_get());
    meta_index_fini(&x);
}

static void test_random_hex(void **state)
{
    (void)state;
    run_mix(key_hex, 60000, 100); /* grow only */
    run_mix(key_hex, 80000, 60);  /* grow and shrink */
    run_mix(key_hex, 40000, 50);
}

static void test_ordered(void **state)
{
    (void)state;
    run_mix(key_asc, 40000, 100);
    run_mix(key_desc, 40000, 100);
    run_mix(key_asc, 60000, 70);
}

static void test_prefixes_and_high_bytes(void **state)
{
    (void)state;
    run_mix(key_prefixy, 60000, 65);
}

static void test_long_shared_prefix(void **state)
{
    (void)state;
    run_mix(key_long, 30000, 70);
}

/* Ascending keys fill leaves (a full leaf stays full and the next key starts its sibling). */
static void test_ascending_fill(void **state)
{
    (void)state;
    meta_index_t x;
    ref_t r = {0};
    assert_int_equal(meta_index_init(&x), MMC_OK);
    for (uint64_t i = 0; i < 62000; i++) {
        char k[64];
        uint32_t kl = key_asc(i, k);
        meta_obj_t *o = obj(k, kl);
        assert_int_equal(meta_index_insert(&x, o, NULL), MMC_OK);
        ref_insert(&r, o);
    }
    assert_true(x.leaves <= 62000 / META_LEAF_CAP + 1);
    full_check(&x, &r);
    /* Removing 3 keys of 4 keeps the tree valid; neighbours that fit in 3/4 of a leaf merge. */
    size_t before = x.leaves;
    for (size_t i = r.n; i-- > 0;)
        if (i % 4) {
            meta_obj_t *o = ref_take(&r, i);
            meta_index_remove(&x, o);
            free(o);
        }
    full_check(&x, &r);
    assert_true(x.leaves < before);
    ref_free_all(&x, &r);
    meta_index_fini(&x);
}

/* A place found ahead is used while the tree keeps its shape, and ignored once it does not. */
static void test_places_ahead(void **state)
{
    (void)state;
    meta_index_t x;
    ref_t r = {0};
    assert_int_equal(meta_index_init(&x), MMC_OK);
    enum { AHEAD = 4 };
    meta_index_pos_t pos[AHEAD + 1];
    char keys[AHEAD + 1][64];
    uint32_t lens[AHEAD + 1];
    for (uint64_t i = 0; i < 50000 + AHEAD; i++) {
        uint32_t s = (uint32_t)(i % (AHEAD + 1));
        if (i < 50000) {
            lens[s] = key_hex(i, keys[s]);
            meta_index_prefetch(&x, keys[s], lens[s], &pos[s]);
        }
        if (i >= AHEAD) {
            uint32_t t = (uint32_t)((i - AHEAD) % (AHEAD + 1));
            meta_obj_t *o = obj(keys[t], lens[t]);
            assert_int_equal(meta_index_insert(&x, o, &pos[t]), MMC_OK);
            ref_insert(&r, o);
            if (i % 3 == 0 && r.n > 10) { /* removes change the shape too */
                meta_obj_t *v = ref_take(&r, rnd() % r.n);
                meta_index_remove(&x, v);
                free(v);
            }
        }
        if (i % 9973 == 0) full_check(&x, &r);
    }
    full_check(&x, &r);
    ref_free_all(&x, &r);
    meta_index_fini(&x);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_hex),
        cmocka_unit_test(test_ordered),
        cmocka_unit_test(test_prefixes_and_high_bytes),
        cmocka_unit_test(test_long_shared_prefix),
        cmocka_unit_test(test_ascending_fill),
        cmocka_unit_test(test_places_ahead),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
