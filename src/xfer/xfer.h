/*
 * xfer: the copy engine (DESIGN.md §5). It takes (src, dst, len) triples and
 * a copy type, resolves each address to where it lives, checks the triples
 * against the type, and moves the bytes: memcpy (split over the process's
 * worker pool) when both ends are dereferenceable here (local memory, our own
 * slot, a same-host peer's mapped slot), a transport when one end is a rank on
 * another host.
 *
 * Addresses resolve to
 *   LOCAL_HOST     in no GVA window: this process's own memory
 *   LOCAL_DEVICE   this process's GPU memory (needs CUDA; not in this build)
 *   GLOBAL_HOST    a rank's slot in a host window
 *   GLOBAL_DEVICE  a rank's slot in a device window
 * A global end is translated with gva_translate_acquire: beyond the rank's
 * backed size or in a window gap is SMEM_OUT_OF_RANGE, a departed rank is
 * SMEM_PEER_GONE. The rank stays pinned until its copy is done, so a peer
 * leaving mid-copy waits for the copy (gva_window_unmap_rank) instead of
 * pulling the mapping from under it.
 *
 * Every triple of a call is validated before any byte moves; a batch either
 * fails as a whole on bad input or runs. Pieces are grouped: all same-host
 * pieces form one pool job, remote pieces form one transport request per
 * (peer, direction) carrying all of that peer's pieces.
 *
 * Threads: every call may be made from any thread; copies run concurrently.
 * XFER_F_ASYNC validates and pins at once, queues the copy to the engine's
 * async thread and returns; xfer_wait completes the async copies that the
 * calling thread issued on that engine (each thread has its own count and
 * first error) and returns the first error among them.
 *
 * Transports: a route callback (xfer_route_cb_t) gives the endpoint and
 * window for a rank on another host, and the engine calls tp_put / tp_get
 * itself; without a route, such copies fail with SMEM_UNSUPPORTED naming the
 * rank and its host. The remote pieces of one call go out as one request per
 * (peer, direction); requests to different peers run in parallel on the
 * shared pool's fan-out threads (xfer_pool_fanout). Lock order: engine lock
 * is a leaf; no lock is held while copying or calling a transport.
 */
#ifndef XFER_H
#define XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gva/gva.h"
#include "transport/tp.h"
#include "transport/tp_cache.h"

#define XFER_BATCH_MAX 65536u /* triples in one call */
#define XFER_F_ASYNC (1u << 0)

/* Same values as smem_bm_copy_type (the BM layer asserts it). */
typedef enum xfer_copy_type {
    XFER_COPY_L2G = 0,  /* local device -> global */
    XFER_COPY_G2L = 1,  /* global -> local device */
    XFER_COPY_G2H = 2,  /* global -> local host */
    XFER_COPY_H2G = 3,  /* local host -> global */
    XFER_COPY_L2GH = 4, /* local device -> global host pool */
    XFER_COPY_GH2L = 5, /* global host pool -> local device */
    XFER_COPY_GH2H = 6, /* global host pool -> local host */
    XFER_COPY_H2GH = 7, /* local host -> global host pool */
    XFER_COPY_G2G = 8,  /* global -> global */
    XFER_COPY_AUTO = 9, /* inferred from the addresses */
    XFER_COPY_COUNT
} xfer_copy_type_t;

typedef enum xfer_where {
    XFER_LOCAL_HOST = 0,
    XFER_LOCAL_DEVICE,
    XFER_GLOBAL_HOST,
    XFER_GLOBAL_DEVICE,
} xfer_where_t;

const char *xfer_copy_type_name(xfer_copy_type_t t); /* "SMEMB_COPY_G2H", ...; "?" when unknown */
const char *xfer_where_name(xfer_where_t w);

/* ---- transports, as the engine sees them ---- */

/*
 * The route to a rank on another host (state REMOTE). Runs on the copying
 * thread.
 *  connect false: while validating, before any byte moves: cheap and
 *         non-blocking, SMEM_OK if the rank can be reached now, else the
 *         status and a message naming the rank; out is not touched.
 *  connect true: when the rank's pieces go out: a referenced link (it may
 *         connect, blocking up to the transport's timeout) and the transport
 *         window the rank's slot is served as. The engine then calls
 *         tp_put / tp_get on out->link->ep itself and gives the link back
 *         with tp_cache_put(out->cache, out->link, rc).
 */
typedef struct xfer_route {
    tp_cache_t *cache;
    tp_link_t *link;
    uint32_t window;
} xfer_route_t;
typedef int32_t (*xfer_route_cb_t)(void *arg, gva_window_t *w, uint32_t rank, bool connect, xfer_route_t *out);

/* ---- the engine ---- */

typedef struct xfer_engine xfer_engine_t;

typedef struct xfer_engine_opts {
    const char *name;      /* for logs, e.g. "bm 3"; copied */
    xfer_route_cb_t route; /* NULL: other hosts are unreachable (SMEM_UNSUPPORTED) */
    void *route_arg;
} xfer_engine_opts_t;

/* The engine shares the process's copy pool (nproc - 1 workers, at most 4). */
int32_t xfer_engine_create(const xfer_engine_opts_t *opts, xfer_engine_t **out);
/* Completes every queued async copy, then frees. NULL is a no-op. */
void xfer_engine_destroy(xfer_engine_t *e);

/*
 * Copy n triples (src[i] -> dst[i], len[i] bytes), 1 <= n <= XFER_BATCH_MAX.
 * Errors (nothing copied): SMEM_INVALID_PARAM (NULL address, zero length,
 * a type that does not match the addresses: the message says which side and
 * which type would fit), SMEM_OUT_OF_RANGE, SMEM_PEER_GONE, SMEM_UNSUPPORTED
 * (device memory, a peer no transport reaches). Errors while copying (a
 * transport failing) are returned after the remaining pieces were tried.
 * flags: XFER_F_ASYNC (others: SMEM_INVALID_PARAM).
 */
int32_t xfer_copy(xfer_engine_t *e, const void *const *src, void *const *dst, const uint64_t *len, uint32_t n,
                  xfer_copy_type_t type, uint32_t flags);
/* Wait for the calling thread's async copies on e; their first error (and
 * its message), or SMEM_OK. Resets the thread's error. */
int32_t xfer_wait(xfer_engine_t *e);

#endif
