/*
 * The MetaService's state machine, independent of sockets: segments (one
 * allocator per mounted LocalService segment), the object table, two-phase
 * puts, read leases, eviction and membership. meta_service.c feeds it frames
 * from net connections; the unit tests and the fuzz target feed it bytes.
 *
 * Threads: not thread-safe. The service calls everything under its core
 * lock (the RPC loop thread for frames and the timer, the HTTP thread for
 * snapshots); tests call it from one thread.
 *
 * Transport contract (meta_core_ops_t): `send` queues one frame to a link
 * and may fail (the core then stops answering that link and asks `close`);
 * `close` must not call back into the core synchronously: the transport
 * reports the closed link later with meta_core_peer_close.
 *
 * Semantics worth knowing (docs/ARCHITECTURE.md has the full list):
 *  - keys are write-once for plain puts: PUT_START of a key that is READY or
 *    WRITING answers MMC_DUPLICATED_OBJECT for that key and changes nothing;
 *    with MMC_PF_UPSERT it writes a shadow beside it that PUT_END swaps in
 *    (meta_int.h: META_OBJ_SHADOW);
 *  - REMOVE of a leased object answers MMC_LEASE_NOT_EXPIRED unless
 *    MMC_PF_FORCE; forced, it answers 0, hides the key at once (it can be
 *    put again) and frees the space when the last lease ends (state REMOVING);
 *    EXIST / QUERY with MMC_PF_LEASE grant ownerless leases that only expire;
 *  - eviction (meta_evict): unpinned LRU first, soft pins next (or once their
 *    ttl passed), leased objects retired last, hard pins never;
 *    REMOVE and GET (a lease) of a WRITING object answer MMC_UNMATCHED_STATE, EXIST answers
 *    MMC_OBJECT_NOT_READY;
 *  - a put is revoked (space freed) when its writer's link closes by EOF or
 *    reset, or PUT_END (carrying the writer's token, from any link) does not
 *    come within put_timeout_ms;
 *  - leases belong to the GET's owner token: another token's LEASE_RELEASE
 *    is refused (MMC_LEASE_NOT_OWNER); a link drop does not end them; the
 *    owner's release answers MMC_OK only for a lease held until then whose
 *    objects lost no replica (else MMC_LEASE_LOST).
 */
#ifndef META_CORE_H
#define META_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "memcache/common/mmc_proto.h"
#include "net/net.h"
#include "util/util_buf.h"

typedef struct meta_core meta_core_t;
typedef struct meta_peer meta_peer_t;

typedef struct meta_core_ops {
    int32_t (*send)(void *link, const net_frame_hdr_t *hdr, const void *body, uint32_t len);
    void (*close)(void *link);
} meta_core_ops_t;

typedef struct meta_core_opts {
    uint32_t lease_ttl_ms;   /* default 10000 */
    uint32_t put_timeout_ms; /* default 30000 */
    uint64_t soft_pin_ttl_ms; /* default 1800000 (Mooncake's): a soft pin protects from eviction this long */
    uint16_t evict_high;     /* percent, default 90; 100 turns eviction off (a full pool answers MMC_NOT_ENOUGH_MEMORY) */
    uint16_t evict_low;      /* percent, default 80 */
    /* Monotonic milliseconds; NULL = util_now_ms (tests drive time with their own). */
    uint64_t (*clock)(void *arg);
    void *clock_arg;
    /* 64 random bits for lease ids and the instance id; NULL = getrandom (the
     * fuzz target uses a predictable one so its requests can name live ids). */
    uint64_t (*rand64)(void *arg);
    void *rand_arg;
    /* Whether proof shows that the sender holds BM rank `rank` now, for the link challenge (8 bytes LE):
     * MMC_OK or MMC_NOT_PERMITTED with a message. NULL: membership is not checked (no config store to ask, or
     * member_check off): MOUNT takes any rank and REMOVE_ALL any link. */
    int32_t (*rank_verify)(void *arg, uint32_t rank, const uint8_t *challenge, uint32_t len, const uint8_t *proof);
    void *verify_arg;
} meta_core_opts_t;

void meta_core_opts_init(meta_core_opts_t *o);
int32_t meta_core_create(const meta_core_opts_t *opts, const meta_core_ops_t *ops, meta_core_t **out);
/* Frees everything without sending; open peers are dropped. */
void meta_core_destroy(meta_core_t *core);

/* A new link; name (copied) is used in logs. NULL when out of memory. */
meta_peer_t *meta_core_peer_open(meta_core_t *core, void *link, const char *name);
/* The link is gone, for reason (net's on_close status): its segments are
 * unmounted (objects with a surviving replica stay); its puts are revoked,
 * unless reason is SMEM_TIMEOUT (silent past the heartbeat timeout: the
 * writer may be paused, so they stay until their deadline). Leases are not
 * touched: they belong to the client's token, not the link, and end by its
 * LEASE_RELEASE or at their ttl. p is freed. */
void meta_core_peer_close(meta_core_t *core, meta_peer_t *p, int32_t reason);
/* One frame from p (hdr->body_len bytes of body). Requests are answered
 * through ops->send; responses and pushes from a client are ignored. */
void meta_core_dispatch(meta_core_t *core, meta_peer_t *p, const net_frame_hdr_t *hdr, const uint8_t *body);
/* Expires leases and overdue puts, and evicts media above the high watermark. */
void meta_core_tick(meta_core_t *core);

/* ---------- snapshots (HTTP, tests) ---------- */
void meta_core_stats(const meta_core_t *core, mmc_stats_t *out);
/* Fills up to cap segments; returns how many there are. */
uint32_t meta_core_segments(const meta_core_t *core, mmc_seg_info_t *out, uint32_t cap);
/* One page of the listing: keys starting with prefix and greater than after
 * (the cursor: the last key of the previous page; empty = the first page), in
 * byte order, at most limit (1..MMC_PROTO_LIST_MAX). *more: keys with the
 * prefix follow. A seek in the key index and a walk: O(log n + limit), so a
 * page holds the core (its lock) for its own keys only and a listing pages
 * through n keys in O(n). A key present for the whole listing is returned
 * exactly once; one put or removed meanwhile may or may not be. *items is
 * one malloc'd block (caller frees) holding copies of the keys, usable after
 * the lock is dropped. */
int32_t meta_core_list(const meta_core_t *core, const mmc_key_ref_t *prefix, const mmc_key_ref_t *after,
                       uint32_t limit, mmc_list_item_t **items, uint32_t *n, bool *more);
/* Prometheus text exposition of the counters, latencies and capacities. */
void meta_core_metrics(const meta_core_t *core, util_wbuf_t *w);
/* Verifies the cross-structure invariants (capacity counters vs heaps, list
 * memberships, lease counts). 0 or MMC_ERROR with a message. Tests and fuzzing. */
int32_t meta_core_check(const meta_core_t *core);

#endif
