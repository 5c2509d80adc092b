/* Best-fit extent allocator over two treaps (see meta_heap.h). */
#include <stdbool.h>
#include <stdlib.h>

#include "memcache/meta/meta_heap.h"
#include "memcache/mmc_def.h"
#include "util/util_status.h"

enum { T_OFF = 0, T_LEN = 1 };

struct meta_ext {
    struct {
        meta_ext_t *l, *r;
    } t[2];
    uint64_t off, len; /* pages */
    uint32_t prio;
};

/* Orders nodes in tree i: by offset, or by (length, offset). */
static int ext_cmp(int i, const meta_ext_t *a, const meta_ext_t *b)
{
    if (i == T_LEN && a->len != b->len) return a->len < b->len ? -1 : 1;
    if (a->off != b->off) return a->off < b->off ? -1 : 1;
    return 0;
}

static meta_ext_t *ext_merge(int i, meta_ext_t *a, meta_ext_t *b)
{
    if (a == NULL) return b;
    if (b == NULL) return a;
    if (a->prio > b->prio) {
        a->t[i].r = ext_merge(i, a->t[i].r, b);
        return a;
    }
    b->t[i].l = ext_merge(i, a, b->t[i].l);
    return b;
}

/* Splits t into nodes ordered before k (*l) and the rest (*r). */
static void ext_split(int i, meta_ext_t *t, const meta_ext_t *k, meta_ext_t **l, meta_ext_t **r)
{
    if (t == NULL) {
        *l = *r = NULL;
    } else if (ext_cmp(i, t, k) < 0) {
        ext_split(i, t->t[i].r, k, &t->t[i].r, r);
        *l = t;
    } else {
        ext_split(i, t->t[i].l, k, l, &t->t[i].l);
        *r = t;
    }
}

static void ext_insert(int i, meta_ext_t **root, meta_ext_t *n)
{
    meta_ext_t *l, *r;
    n->t[i].l = n->t[i].r = NULL;
    ext_split(i, *root, n, &l, &r);
    *root = ext_merge(i, ext_merge(i, l, n), r);
}

static void ext_remove(int i, meta_ext_t **root, meta_ext_t *n)
{
    meta_ext_t **pp = root;
    while (*pp != n) pp = ext_cmp(i, n, *pp) < 0 ? &(*pp)->t[i].l : &(*pp)->t[i].r;
    *pp = ext_merge(i, n->t[i].l, n->t[i].r);
}

static uint32_t heap_prio(meta_heap_t *h)
{
    h->rng ^= h->rng << 13;
    h->rng ^= h->rng >> 7;
    h->rng ^= h->rng << 17;
    return (uint32_t)(h->rng >> 16);
}

static meta_ext_t *ext_new(meta_heap_t *h, uint64_t off, uint64_t len)
{
    meta_ext_t *e = calloc(1, sizeof(*e));
    if (e == NULL) return NULL;
    e->off = off;
    e->len = len;
    e->prio = heap_prio(h);
    ext_insert(T_OFF, &h->by_off, e);
    ext_insert(T_LEN, &h->by_len, e);
    h->extents++;
    return e;
}

static void ext_delete(meta_heap_t *h, meta_ext_t *e)
{
    ext_remove(T_OFF, &h->by_off, e);
    ext_remove(T_LEN, &h->by_len, e);
    h->extents--;
    free(e);
}

/* A length change keeps the offset order, so only the length tree moves. */
static void ext_resize(meta_heap_t *h, meta_ext_t *e, uint64_t off, uint64_t len)
{
    ext_remove(T_LEN, &h->by_len, e);
    e->off = off;
    e->len = len;
    ext_insert(T_LEN, &h->by_len, e);
}

int32_t meta_heap_init(meta_heap_t *h, uint64_t bytes)
{
    meta_heap_t z = {.pages = bytes / META_PAGE, .rng = 0x9E3779B97F4A7C15ull ^ bytes};
    if (z.pages == 0)
        return util_err_set(MMC_INVALID_PARAM, "meta heap: %llu bytes is less than one %u-byte page",
                            (unsigned long long)bytes, META_PAGE);
    z.free_pages = z.pages;
    if (ext_new(&z, 0, z.pages) == NULL) return util_err_set(MMC_MALLOC_FAILED, "meta heap: out of memory");
    *h = z;
    return MMC_OK;
}

static void ext_free_tree(meta_ext_t *t)
{
    while (t != NULL) {
        ext_free_tree(t->t[T_OFF].l);
        meta_ext_t *r = t->t[T_OFF].r;
        free(t);
        t = r;
    }
}

void meta_heap_fini(meta_heap_t *h)
{
    ext_free_tree(h->by_off);
    h->by_off = h->by_len = NULL;
    h->extents = h->free_pages = 0;
}

int32_t meta_heap_alloc(meta_heap_t *h, uint64_t size, uint64_t *off)
{
    if (size == 0) return util_err_set(MMC_INVALID_PARAM, "meta heap: allocation of 0 bytes");
    uint64_t need = size / META_PAGE + (size % META_PAGE != 0);
    meta_ext_t *best = NULL;
    for (meta_ext_t *t = h->by_len; t != NULL;) {
        if (t->len >= need) {
            best = t;
            t = t->t[T_LEN].l;
        } else {
            t = t->t[T_LEN].r;
        }
    }
    if (best == NULL) return MMC_NOT_ENOUGH_MEMORY; /* a normal outcome: the caller evicts or tries elsewhere */
    *off = best->off * META_PAGE;
    if (best->len == need)
        ext_delete(h, best);
    else
        ext_resize(h, best, best->off + need, best->len - need);
    h->free_pages -= need;
    return MMC_OK;
}

int32_t meta_heap_free(meta_heap_t *h, uint64_t off, uint64_t size)
{
    if (size == 0 || off % META_PAGE != 0)
        return util_err_set(MMC_INVALID_PARAM, "meta heap: free of %llu bytes at %llu (unaligned or empty)",
                            (unsigned long long)size, (unsigned long long)off);
    uint64_t p = off / META_PAGE, n = size / META_PAGE + (size % META_PAGE != 0);
    if (p >= h->pages || n > h->pages - p)
        return util_err_set(MMC_INVALID_PARAM, "meta heap: free of [%llu, +%llu) outside the %llu-page heap",
                            (unsigned long long)p, (unsigned long long)n, (unsigned long long)h->pages);
    meta_ext_t *pred = NULL, *succ = NULL;
    for (meta_ext_t *t = h->by_off; t != NULL;) {
        if (t->off <= p) {
            pred = t;
            t = t->t[T_OFF].r;
        } else {
            succ = t;
            t = t->t[T_OFF].l;
        }
    }
    if ((pred && pred->off + pred->len > p) || (succ && p + n > succ->off))
        return util_err_set(MMC_INVALID_PARAM, "meta heap: free of pages [%llu, +%llu) overlaps free space",
                            (unsigned long long)p, (unsigned long long)n);
    bool join_l = pred && pred->off + pred->len == p;
    bool join_r = succ && p + n == succ->off;
    if (join_l && join_r) {
        uint64_t len = pred->len + n + succ->len;
        ext_delete(h, succ);
        ext_resize(h, pred, pred->off, len);
    } else if (join_l) {
        ext_resize(h, pred, pred->off, pred->len + n);
    } else if (join_r) {
        ext_resize(h, succ, p, succ->len + n); /* still between pred and its old successor */
    } else if (ext_new(h, p, n) == NULL) {
        return util_err_set(MMC_MALLOC_FAILED, "meta heap: out of memory for a free extent");
    }
    h->free_pages += n;
    return MMC_OK;
}

uint64_t meta_heap_largest(const meta_heap_t *h)
{
    const meta_ext_t *t = h->by_len;
    if (t == NULL) return 0;
    while (t->t[T_LEN].r != NULL) t = t->t[T_LEN].r;
    return t->len * META_PAGE;
}

static void ext_walk(const meta_ext_t *t, void (*fn)(void *, uint64_t, uint64_t), void *arg)
{
    while (t != NULL) {
        ext_walk(t->t[T_OFF].l, fn, arg);
        fn(arg, t->off * META_PAGE, t->len * META_PAGE);
        t = t->t[T_OFF].r;
    }
}

void meta_heap_walk(const meta_heap_t *h, void (*fn)(void *arg, uint64_t off, uint64_t len), void *arg)
{
    ext_walk(h->by_off, fn, arg);
}

typedef struct heap_chk {
    const meta_ext_t *prev;
    uint64_t count, pages;
    const char *bad;
} heap_chk_t;

static void chk_tree(int i, const meta_ext_t *t, heap_chk_t *c)
{
    if (t == NULL || c->bad) return;
    const meta_ext_t *l = t->t[i].l, *r = t->t[i].r;
    if ((l && l->prio > t->prio) || (r && r->prio > t->prio)) c->bad = "treap priority order";
    chk_tree(i, l, c);
    if (c->prev && ext_cmp(i, c->prev, t) >= 0) c->bad = i == T_OFF ? "offset order" : "length order";
    if (i == T_OFF && c->prev && c->prev->off + c->prev->len >= t->off) c->bad = "uncoalesced or overlapping extents";
    if (t->len == 0) c->bad = "empty extent";
    c->prev = t;
    c->count++;
    c->pages += t->len;
    chk_tree(i, r, c);
}

int32_t meta_heap_check(const meta_heap_t *h)
{
    for (int i = 0; i < 2; i++) {
        heap_chk_t c = {0};
        chk_tree(i, i == T_OFF ? h->by_off : h->by_len, &c);
        if (c.bad == NULL && (c.count != h->extents || c.pages != h->free_pages)) c.bad = "counters";
        if (c.bad == NULL && i == T_OFF && c.prev && c.prev->off + c.prev->len > h->pages) c.bad = "extent past end";
        if (c.bad) return util_err_set(MMC_ERROR, "meta heap: %s broken (tree %d)", c.bad, i);
    }
    return MMC_OK;
}
