/*
 * memcache client (the seed's mmcc_* calls plus the layers and GVA-level
 * forms). The client is bound to this process's LocalService
 * (mmcs_local_service_start or mmc_init) and moves data one-sided through
 * its BM rank: a put asks the MetaService for space (PUT_START), copies into
 * every replica with BM batch copies, then publishes (PUT_END); a get takes a
 * read lease (GET), copies from the first replica (same-host first, the next
 * one on a copy error) and releases the lease. Bytes never pass through the
 * MetaService.
 *
 * Buffers: an mmc_buffer names len bytes at addr + offset; type 1 is host
 * memory, type 0 device memory (needs CUDA; this build answers
 * MMC_UNSUPPORTED from the copy). Layers: one key gathered from (put) or
 * scattered to (get) 1..MMC_LAYERS_MAX buffers in order; all layers of a key
 * have the same type.
 *
 * Gets: a single-buffer get needs len >= the object's size (else
 * MMC_BUFFER_TOO_SMALL) and writes bytes [0, size), leaving the rest of the
 * buffer untouched; a layers get needs the layers to add up to exactly the
 * object's size (smaller: MMC_BUFFER_TOO_SMALL, larger: MMC_INVALID_PARAM),
 * since the layout is the one the put gathered. mmcc_query tells the size.
 *
 * Statuses: single-key calls return the key's status. Batch calls (n keys,
 * 1..MMC_BATCH_MAX) return MMC_OK when the request ran, with each key's
 * status in results[i]; when the whole call fails (bad arguments, not
 * initialised, MetaService unreachable or timed out) they return that error
 * and set every results[i] to it. Per-key statuses: MMC_OK,
 * MMC_KEY_NOT_FOUND, MMC_OBJECT_NOT_READY (a put of it has not finished),
 * MMC_NOT_ENOUGH_MEMORY / MMC_EXCEEDS_CAPACITY (put: no room even after
 * eviction / larger than any segment), MMC_BUFFER_TOO_SMALL,
 * MMC_INVALID_PARAM (the key or its buffers), MMC_LEASE_LOST (get: the read
 * lease did not provably cover the copy, e.g. it expired, the MetaService
 * restarted or a replica's LocalService left meanwhile; the buffer may hold
 * another key's bytes, read again), MMC_TIMEOUT (put: the copy ended past the
 * put deadline; not published), or the copy's error. A get never returns
 * MMC_OK with bytes that are not the key's. A put of
 * an existing key (written once, or being written by another client)
 * succeeds without changing it.
 *
 * Timeouts: each MetaService round trip is bounded by
 * ock.mmc.client.timeout.seconds (put: 2 round trips, get: 2); an
 * unreachable MetaService gives MMC_NOT_CONNECTED or MMC_TIMEOUT within it.
 *
 * Threads: every call may be made from any thread, concurrently, between
 * mmcc_init and mmcc_uninit; mmcc_uninit waits for calls in flight.
 */
#ifndef MMC_CLIENT_H
#define MMC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmc_def.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MMC_LAYERS_MAX 255u /* buffers of one key in the layers form */

/* Replica locations of a key (mmc_data_info plus the GVAs). */
typedef struct mmc_key_info {
    uint64_t size;
    uint8_t numBlobs;           /* replicas */
    bool valid;                 /* readable (READY) */
    uint32_t ranks[8];          /* LocalService id of each replica */
    uint16_t types[8];          /* mmc_media_t of each replica */
    uint64_t gvas[8];           /* global address of each replica */
} mmc_key_info;

typedef enum mmc_copy_direction {
    MMC_COPY_H2G = 0, /* buffers -> pool (write) */
    MMC_COPY_G2H = 1, /* pool -> buffers (read) */
} mmc_copy_direction;

/* config NULL: everything from the LocalService (mmc_client_config_t, mmc_def.h,
 * says which fields override it; config is only read). MMC_NOT_INITIALIZED
 * when no LocalService runs in this process; MMC_OK when already initialised. */
MMC_API int32_t mmcc_init(mmc_client_config_t *config);
MMC_API void mmcc_uninit(void);
/* The LocalService id (BM rank) of this process. */
MMC_API int32_t mmcc_local_service_id(uint32_t *id);

/* Registers memory outside the pool with the data plane (zero-copy paths
 * over transports); idempotent for the same range. Unregister takes the
 * same address (size is checked to be non-zero, as the seed's signature has it). */
MMC_API int32_t mmcc_register_buffer(uint64_t addr, uint64_t size);
MMC_API int32_t mmcc_unregister_buffer(uint64_t addr, uint64_t size);

/*
 * Option passing as in the seed: mmcc_put takes the options by value;
 * mmcc_batch_put takes them by reference in C++ and by const pointer in C
 * (one ABI: the address of the caller's struct, only read; in C, NULL means
 * the defaults).
 * mmcc_put_opt is our pointer form of mmcc_put, kept as an addition: opt NULL
 * is 1 replica, DRAM, no preference.
 */
#ifdef __cplusplus
#define MMC_PUT_OPTIONS_REF mmc_put_options &
#else
#define MMC_PUT_OPTIONS_REF const mmc_put_options *
#endif
MMC_API int32_t mmcc_put(const char *key, mmc_buffer *buf, mmc_put_options options, uint32_t flags);
MMC_API int32_t mmcc_put_opt(const char *key, const mmc_buffer *buf, const mmc_put_options *opt, uint32_t flags);
MMC_API int32_t mmcc_get(const char *key, mmc_buffer *buf, uint32_t flags);
MMC_API int32_t mmcc_query(const char *key, mmc_data_info *info, uint32_t flags);
/* n is size_t as in the seed; more than MMC_BATCH_MAX is MMC_INVALID_PARAM. */
MMC_API int32_t mmcc_batch_query(const char **keys, size_t n, mmc_data_info *infos, uint32_t flags);
MMC_API int32_t mmcc_remove(const char *key, uint32_t flags);
MMC_API int32_t mmcc_batch_remove(const char **keys, uint32_t n, int32_t *results, uint32_t flags);
/* Removes every object; leased ones only with MMC_REMOVE_FORCE (their space when their leases end). */
MMC_API int32_t mmcc_remove_all(uint32_t flags);
/* MMC_OK exists (readable), MMC_KEY_NOT_FOUND, MMC_OBJECT_NOT_READY. */
MMC_API int32_t mmcc_exist(const char *key, uint32_t flags);
MMC_API int32_t mmcc_batch_exist(const char **keys, uint32_t n, int32_t *results, uint32_t flags);
MMC_API int32_t mmcc_batch_put(const char **keys, uint32_t n, const mmc_buffer *bufs, MMC_PUT_OPTIONS_REF options,
                               uint32_t flags, int32_t *results);
MMC_API int32_t mmcc_batch_get(const char **keys, uint32_t n, mmc_buffer *bufs, uint32_t flags, int32_t *results);

/* Layers: layers[0..nlayers) of one key, gathered in order. */
MMC_API int32_t mmcc_put_layers(const char *key, const mmc_buffer *layers, uint32_t nlayers, const mmc_put_options *opt,
                                uint32_t flags);
MMC_API int32_t mmcc_get_layers(const char *key, const mmc_buffer *layers, uint32_t nlayers, uint32_t flags);
/* layers[i] points at key i's nlayers[i] buffers. */
MMC_API int32_t mmcc_batch_put_layers(const char **keys, uint32_t n, const mmc_buffer *const *layers,
                                      const uint32_t *nlayers, const mmc_put_options *opt, uint32_t flags,
                                      int32_t *results);
MMC_API int32_t mmcc_batch_get_layers(const char **keys, uint32_t n, const mmc_buffer *const *layers,
                                      const uint32_t *nlayers, uint32_t flags, int32_t *results);

/* Key info with the replica GVAs (QUERY). Batch: per-key status in results. */
MMC_API int32_t mmcc_get_key_info(const char *key, mmc_key_info *info);
MMC_API int32_t mmcc_batch_get_key_info(const char **keys, uint32_t n, mmc_key_info *infos, int32_t *results);

/*
 * Mooncake compatibility: core semantics (docs/API.md has the table).
 *
 * Flag bits of the flags arguments above (other bits are ignored, as the
 * seed's flags were):
 *  - MMC_PUT_SOFT_PIN (mmcc_put, mmcc_put_opt, mmcc_batch_put, the layers
 *    puts, the upserts): eviction passes the object over while unpinned ones
 *    can go, for ock.mmc.meta.soft_pin_ttl_ms (default 30 min, Mooncake's);
 *  - MMC_PUT_HARD_PIN: never evicted; a pool full of hard-pinned objects
 *    answers MMC_NOT_ENOUGH_MEMORY to puts;
 *  - MMC_REMOVE_FORCE (mmcc_remove, mmcc_batch_remove, mmcc_remove_all,
 *    mmcc_remove_all_count, mmcc_remove_regex): a key under a read lease
 *    goes at once (hidden; its space is freed when the leases end). Without
 *    it such a key is refused with MMC_LEASE_NOT_EXPIRED (remove) or kept
 *    (remove_all, remove_regex: not counted);
 *  - MMC_QUERY_LEASE (mmcc_exist, mmcc_batch_exist, mmcc_query,
 *    mmcc_batch_query, mmcc_get_key_info_ex, mmcc_batch_get_key_info_ex):
 *    every READY key found gets a read lease of ock.mmc.meta.lease_ttl_ms,
 *    so a get that follows within it finds the object (no eviction, no
 *    non-force remove in between). The lease is no client's: it expires.
 *
 * Upsert: a key that does not exist is put. For a READY key the new bytes
 * go into new space; the MetaService swaps the key to them when the write
 * ends (PUT_END), in one step. A get sees the old or the new value, never a
 * mix: readers leased on the old space keep it until their leases end, then
 * it is freed. Concurrent upserts of one key (or an upsert while the key's
 * first put is still being written) each write their own space: the last to
 * finish is the value. opt NULL: the defaults of mmcc_put_opt.
 *
 * mmcc_remove_regex: removes the READY keys matching a POSIX extended regex
 * (regcomp REG_EXTENDED, unanchored: use ^...$ for whole keys); the
 * MetaService walks its key order a page at a time, so a large store is
 * never held for long. *removed: how many went. MMC_INVALID_PARAM when the
 * pattern does not compile. mmcc_remove_all_count: mmcc_remove_all with the
 * count.
 */
#define MMC_PUT_SOFT_PIN 0x100u
#define MMC_PUT_HARD_PIN 0x200u
#define MMC_REMOVE_FORCE 0x400u
#define MMC_QUERY_LEASE 0x800u

MMC_API int32_t mmcc_upsert(const char *key, const mmc_buffer *buf, const mmc_put_options *opt, uint32_t flags);
MMC_API int32_t mmcc_batch_upsert(const char **keys, uint32_t n, const mmc_buffer *bufs, const mmc_put_options *opt,
                                  uint32_t flags, int32_t *results);
/* Upserts of keys gathered from layers (as mmcc_put_layers / mmcc_batch_put_layers). */
MMC_API int32_t mmcc_upsert_layers(const char *key, const mmc_buffer *layers, uint32_t nlayers,
                                   const mmc_put_options *opt, uint32_t flags);
MMC_API int32_t mmcc_batch_upsert_layers(const char **keys, uint32_t n, const mmc_buffer *const *layers,
                                         const uint32_t *nlayers, const mmc_put_options *opt, uint32_t flags,
                                         int32_t *results);
MMC_API int32_t mmcc_remove_regex(const char *pattern, uint32_t flags, uint64_t *removed);
MMC_API int32_t mmcc_remove_all_count(uint32_t flags, uint64_t *removed);
/* mmcc_get / mmcc_batch_get that also tell the bytes read (the value's size, set only for keys that
 * succeed): an upsert may change a key's size between a query and the get, so a caller that sized its
 * buffer from a query learns here which value it got. */
MMC_API int32_t mmcc_get_nread(const char *key, mmc_buffer *buf, uint32_t flags, uint64_t *nread);
MMC_API int32_t mmcc_batch_get_nread(const char **keys, uint32_t n, mmc_buffer *bufs, uint32_t flags, int32_t *results,
                                     uint64_t *nread);
MMC_API int32_t mmcc_get_key_info_ex(const char *key, mmc_key_info *info, uint32_t flags);
MMC_API int32_t mmcc_batch_get_key_info_ex(const char **keys, uint32_t n, mmc_key_info *infos, int32_t *results,
                                           uint32_t flags);

/*
 * GVA level (layer-wise KV transfer: allocate, write the layers as they are
 * produced, then publish).
 *  - batch_alloc: PUT_START for n keys of sizes[i] bytes on medium (mmc_media_t,
 *    MMC_MEDIA_NONE = DRAM first) with one replica; gvas[i] is where key i's
 *    bytes go. results[i] MMC_DUPLICATED_OBJECT: the key exists or is being
 *    written by someone else; write nothing and do not finish it. A key not
 *    finished within the MetaService's put timeout is revoked.
 *  - batch_copy: one BM batch copy of sizes[i] bytes between gvas[i] and
 *    bufs[i] (sizes[i] <= bufs[i].len) in direction; returns the copy's status.
 *  - batch_copy_layers: key i's nlayers[i] buffers packed in order from gvas[i].
 *  - batch_write_finish: PUT_END; results[i] 0 publishes key i, anything else
 *    aborts it (space freed); st[i] the MetaService's status per key.
 *  - batch_add_lease: read leases on n READY keys (GET), so their replicas
 *    stay put while read with batch_copy; results[i] per key. The MetaService
 *    grants ock.mmc.meta.lease_ttl_ms; ttl_ms above it is capped and
 *    *granted_ttl_ms (may be NULL) says what was granted. One lease covers
 *    the keys of one call; it is released when all of them were passed to
 *    batch_remove_lease (or at its expiry).
 *  - batch_remove_lease: drops this process's lease on each key
 *    (MMC_LINK_NOT_FOUND in results[i] when it holds none). MMC_LEASE_LOST
 *    when the lease ran out by this client's clock, or when this call ended
 *    the lease and the MetaService did not confirm it held it intact: copies
 *    made under it may hold another key's bytes.
 */
MMC_API int32_t mmcc_batch_alloc(const char **keys, const uint64_t *sizes, uint32_t n, uint16_t medium, uint64_t *gvas,
                                 int32_t *results);
MMC_API int32_t mmcc_batch_copy(const uint64_t *gvas, const mmc_buffer *bufs, const uint64_t *sizes, uint32_t n,
                                mmc_copy_direction direction);
MMC_API int32_t mmcc_batch_copy_layers(const uint64_t *gvas, const mmc_buffer *const *layers, const uint32_t *nlayers,
                                       uint32_t n, mmc_copy_direction direction);
MMC_API int32_t mmcc_batch_write_finish(const char **keys, const int32_t *results, uint32_t n, int32_t *st);
MMC_API int32_t mmcc_batch_add_lease(const char **keys, uint32_t n, uint32_t ttl_ms, int32_t *results,
                                     uint32_t *granted_ttl_ms);
MMC_API int32_t mmcc_batch_remove_lease(const char **keys, uint32_t n, int32_t *results);

/*
 * Replicas (Mooncake's copy / move tasks and batch_replica_clear, done by the
 * store itself; ids are LocalService ids = BM ranks). Each call is synchronous:
 * when it returns MMC_OK the new replicas are published.
 *  - replica_copy: new replicas of a READY key on targets[0..n) (1..8). The
 *    MetaService allocates the space on each target and holds the object (as
 *    a lease does) while this client copies the bytes from an existing
 *    replica; then the replicas are published. A target that holds a replica
 *    already is skipped (as Mooncake does). Any failure frees what was
 *    allocated and leaves the key as it was: MMC_KEY_NOT_FOUND,
 *    MMC_OBJECT_NOT_READY, MMC_LINK_NOT_FOUND (a target has no segment of the
 *    key's medium), MMC_NOT_ENOUGH_MEMORY (a target is full; no eviction for
 *    copies), MMC_EXCEEDS_CAPACITY (more than 8 replicas, or larger than a
 *    target's segment), MMC_UNMATCHED_STATE (a copy or move of the key is in
 *    progress), MMC_LEASE_LOST (a source or target LocalService left during
 *    the copy), MMC_KEY_NOT_FOUND also when the key was removed meanwhile, or
 *    the copy's error.
 *  - replica_move: copy to dst, then drop the replica on src (MMC_LINK_NOT_FOUND
 *    when src holds none; dst holding one already: only the drop).
 *  - replica_clear: drops the key's replica on LocalService local_service_id
 *    (MMC_LINK_NOT_FOUND when it holds none), or with -1 the whole key. A key
 *    left without a replica is removed. Readers under a lease keep reading:
 *    the space is freed when their leases have ended. MMC_KEY_NOT_FOUND;
 *    MMC_UNMATCHED_STATE while it is written or copied.
 * flags: reserved (0).
 */
MMC_API int32_t mmcc_replica_copy(const char *key, const uint32_t *targets, uint32_t n, uint32_t flags);
MMC_API int32_t mmcc_replica_move(const char *key, uint32_t src, uint32_t dst, uint32_t flags);
MMC_API int32_t mmcc_replica_clear(const char *key, int64_t local_service_id, uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif
