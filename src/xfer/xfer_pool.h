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
 *
 * Fan-out (xfer_pool_fanout) is the pool's second, separate set of threads:
 * for tasks that block (a transport round trip per peer, a BM batch per key
 * chunk), so they never hold up a memcpy job's workers. Each call is its own
 * job on a list of active jobs; idle fan-out threads help any active job
 * (at most its max_par - 1 at a time), and a caller waits only for its own.
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
/* Copy workers (fan-out threads are not counted). */
uint32_t xfer_pool_threads(const xfer_pool_t *pool);

/* Runs fn(arg, i) for every i in [0, n): the calling thread takes tasks too, and up to
 * max_par - 1 of the pool's fan-out threads help (max_par 0 or 1: the caller alone).
 * Tasks may block (a network round trip); they run concurrently, in any order, each once.
 * Returns when every task has returned. Fan-out threads are persistent: started on demand
 * up to XFER_FANOUT_THREADS_MAX (16) for the pool's life, never per call; when they cannot
 * be started, or all are busy with other callers' tasks, the caller runs the rest itself
 * (still correct, less parallel). pool NULL: the caller runs all. Never called from a task.
 * (Should a task fan out anyway, it does not deadlock: a waiting caller never takes other
 * jobs' tasks, and a helper only joins a job from idle, so waits form a tree; but nested
 * jobs share the same 16 threads.) */
#define XFER_FANOUT_THREADS_MAX 16u
void xfer_pool_fanout(xfer_pool_t *pool, void (*fn)(void *arg, uint32_t i), void *arg, uint32_t n, uint32_t max_par);

/* The process's shared pool (created on first use: nproc - 1 copy workers, at most 4); refcounted. */
int32_t xfer_pool_shared_get(xfer_pool_t **out);
void xfer_pool_shared_put(void);

#endif
