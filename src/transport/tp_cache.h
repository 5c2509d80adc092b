/*
 * tp_cache: the endpoints of one iface to its peers, one current endpoint per
 * key (a rank), shared by every thread that copies to that peer. Both users
 * of the transport layer (BM's data plane, Trans) keep their endpoints here.
 *
 *  - tp_cache_get hands out a referenced link to the peer at `addr`: the
 *    current one when it is usable and still for that address, otherwise it
 *    connects (outside the lock; a racing connect to the same peer is kept
 *    once, the loser's endpoint closed) and makes the new one current.
 *  - tp_cache_put drops the reference; a transport failure (tp_link_failed)
 *    marks the link stale, so the next get connects afresh.
 *  - A stale or superseded link still in use stays open until its last
 *    reference is dropped: a copy in flight is never cut off under it.
 *  - tp_cache_invalidate marks a key's link stale (the peer left, its record
 *    changed); it never blocks (watch callbacks call it), the next get or the
 *    link's last user closes it.
 *  - attach makes the cache hand out links over an open iface; detach refuses
 *    new gets, waits for every reference, closes every endpoint, and returns
 *    the iface for the caller to close (tp_iface_close after its endpoints).
 *
 * Locks: the cache lock is a leaf; no transport call is made under it.
 */
#ifndef TP_CACHE_H
#define TP_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "transport/tp.h"
#include "util/util_status.h"

typedef struct tp_link {
    tp_ep_t *ep;   /* connected; tp_put / tp_get on it while referenced */
    uint32_t key;
    uint32_t refs; /* under the cache lock */
    bool stale;    /* failed, superseded or invalidated: no new references */
} tp_link_t;

typedef struct tp_cache tp_cache_t;

/* name: for logs and messages ("bm 3 rank 1"); keys are 0..nkeys-1. */
int32_t tp_cache_create(const char *name, uint32_t nkeys, tp_cache_t **out);
/* Detaches (closing every endpoint) and frees; the iface, if any, is not closed. NULL is a no-op. */
void tp_cache_destroy(tp_cache_t *c);

void tp_cache_attach(tp_cache_t *c, tp_iface_t *iface);
/* NULL when none was attached. After it, gets fail with SMEM_NOT_STARTED until the next attach. */
tp_iface_t *tp_cache_detach(tp_cache_t *c);

/* Cheap, non-blocking: SMEM_OK while attached, else SMEM_NOT_STARTED naming key. */
int32_t tp_cache_reach(tp_cache_t *c, uint32_t key);
/* A referenced link to key's peer at addr (connecting when needed); give it back with tp_cache_put. */
int32_t tp_cache_get(tp_cache_t *c, uint32_t key, const char *addr, tp_link_t **out);
/* rc: the status of what was done on the link (a failure of the link marks it stale). */
void tp_cache_put(tp_cache_t *c, tp_link_t *l, int32_t rc);
void tp_cache_invalidate(tp_cache_t *c, uint32_t key);

/* A status that says the connection, not the request, failed: the link must not be reused. */
static inline bool tp_link_failed(int32_t rc)
{
    return rc == SMEM_PEER_GONE || rc == SMEM_CONN_FAILED || rc == SMEM_TIMEOUT || rc == SMEM_IO || rc == SMEM_TLS ||
           rc == SMEM_PROTOCOL;
}

#endif
