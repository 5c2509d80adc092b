/*
 * Space allocator of one mounted segment (one LocalService × medium). It
 * never touches the memory it manages: it hands out offsets.
 *
 * Granularity META_PAGE (4 KiB). Free space is a set of maximal extents
 * (neighbours are always coalesced) held in two treaps: by offset (to find
 * the neighbours of a freed range) and by (length, offset) (best fit: the
 * smallest extent that fits, lowest offset among equals). Allocation and
 * free are O(log extents) expected; metadata is one node per free extent,
 * none per allocation, so the caller passes the size back to free.
 *
 * Not thread-safe: the MetaService uses it under its core lock.
 */
#ifndef META_HEAP_H
#define META_HEAP_H

#include <stdint.h>

#define META_PAGE 4096u

typedef struct meta_ext meta_ext_t;

typedef struct meta_heap {
    uint64_t pages;      /* managed pages */
    uint64_t free_pages;
    uint64_t extents;    /* free extents */
    meta_ext_t *by_off;
    meta_ext_t *by_len;
    uint64_t rng;        /* treap priorities */
} meta_heap_t;

/* Manages bytes rounded down to META_PAGE; MMC_INVALID_PARAM below one page. */
int32_t meta_heap_init(meta_heap_t *h, uint64_t bytes);
void meta_heap_fini(meta_heap_t *h);

/* Rounds size up to META_PAGE and takes the best-fitting extent's head.
 * MMC_NOT_ENOUGH_MEMORY when no free extent is large enough (the heap is
 * unchanged); MMC_INVALID_PARAM for size 0; MMC_MALLOC_FAILED. */
int32_t meta_heap_alloc(meta_heap_t *h, uint64_t size, uint64_t *off);
/* Returns [off, off + round_up(size)) to the free set. MMC_INVALID_PARAM
 * (nothing changed) when it is unaligned, outside the heap or overlaps free
 * space (a double free). */
int32_t meta_heap_free(meta_heap_t *h, uint64_t off, uint64_t size);

static inline uint64_t meta_heap_round(uint64_t size) { return (size + META_PAGE - 1) / META_PAGE * META_PAGE; }
static inline uint64_t meta_heap_total(const meta_heap_t *h) { return h->pages * META_PAGE; }
static inline uint64_t meta_heap_used(const meta_heap_t *h) { return (h->pages - h->free_pages) * META_PAGE; }
/* Bytes of the largest free extent (0 when full). */
uint64_t meta_heap_largest(const meta_heap_t *h);

/* Calls fn for each free extent in offset order (bytes). */
void meta_heap_walk(const meta_heap_t *h, void (*fn)(void *arg, uint64_t off, uint64_t len), void *arg);
/* Verifies every invariant (tree orders, heap priorities, coalescing,
 * counters). 0 or MMC_ERROR with the broken one in the message. Tests only. */
int32_t meta_heap_check(const meta_heap_t *h);

#endif
