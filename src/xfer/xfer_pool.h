/*
 * A small pool of copy threads for large same-host copies.
 *
 * xfer_pool_copy moves a list of (dst, src, len) pieces. Small work is done
 * by the calling thread alone (waking a worker costs more than it saves);
 * larger work is cut into chunks of at least `chunk` bytes that the caller
 * and the workers take from a shared counter until none are left, so the
 * copy ends when the last chunk lands. One job runs at a time; a caller that
 * finds the pool busy copies by itself instead of waiting.
 *
 * Thread rules: xfer_pool_copy may be called from any thread. The pool
 * never touches memory outside the given pieces; making the pieces valid
 * (mapped, in bounds, held against unmapping) is the caller's business.
 */
#ifndef XFER_POOL_H
#define XFER_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct xfer_piece {
    void *dst;
    const void *src;
    size_t len;
} xfer_piece_t;

typedef struct xfer_pool xfer_pool_t;

/* nthreads extra workers (0: the caller always copies alone); chunk: split unit
 * (0: 1 MiB); parallel_min: total bytes below which the caller copies alone (0: 2 MiB). */
int32_t xfer_pool_create(uint32_t nthreads, size_t chunk, size_t parallel_min, xfer_pool_t **out);
void xfer_pool_destroy(xfer_pool_t *pool);
/* Copies every piece; returns when all bytes are in place. */
void xfer_pool_copy(xfer_pool_t *pool, const xfer_piece_t *pieces, size_t n);
uint32_t xfer_pool_threads(const xfer_pool_t *pool);

#endif
