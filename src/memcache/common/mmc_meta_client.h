/*
 * Client of the MetaService RPC (mmc_proto.h), used by the LocalService and
 * by mmcctl. One connection (net_rpc: reconnect with backoff, keepalive),
 * one round trip per call, every batch call carries up to MMC_BATCH_MAX
 * keys. After a reconnect the client mounts again every segment it had
 * mounted (the MetaService unmounted them when the link dropped).
 *
 * Each client draws a random owner token (getrandom) when it is created and
 * sends it with PUT_START, PUT_END, GET and LEASE_RELEASE: its leases and
 * unfinished puts are its own, across reconnects, and no other client can
 * release them.
 *
 * Statuses: a call returns 0 when the MetaService answered; per-key results
 * are then in the caller's arrays. Otherwise MMC_INVALID_PARAM (checked
 * before sending: key length 1..256, batch 1..16384, replicas 1..8),
 * MMC_TIMEOUT (no answer within timeout_ms), MMC_NOT_CONNECTED (no link
 * within timeout_ms, or lost with the request outstanding), or the
 * MetaService's own status for the request with its message in
 * mmc_get_last_err_msg().
 *
 * Threads: every call may be made from any thread, concurrently; calls block
 * up to timeout_ms. Not from net callbacks.
 */
#ifndef MMC_META_CLIENT_H
#define MMC_META_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "memcache/common/mmc_proto.h"
#include "memcache/mmc_def.h"

typedef struct mmc_meta_client mmc_meta_client_t;

typedef struct mmc_meta_client_opts {
    char url[DISCOVERY_URL_SIZE]; /* ock.mmc.meta_service_url */
    uint32_t timeout_ms;     /* ock.mmc.client.timeout.seconds × 1000: connect and every call (default 10000) */
    uint32_t retry_ms;       /* first redial delay after a lost link, doubling to 2 s (default 100) */
    uint32_t call_retry_ms;  /* ock.mmc.client.retry_milliseconds: how long calls wait for a lost link (0: fail at
                              * once; UINT32_MAX, the default: timeout_ms) */
    uint32_t heartbeat_ms;   /* keepalive interval, below the MetaService's heartbeat timeout (default 1000) */
    mmc_tls_config tls;      /* ock.mmc.tls.* (tlsEnable false: plain) */
} mmc_meta_client_opts_t;

void mmc_meta_client_opts_init(mmc_meta_client_opts_t *o);
/* Fills client options from a LocalService config (URL, timeout, retry, TLS). */
void mmc_meta_client_opts_from_local(const mmc_local_service_config_t *cfg, mmc_meta_client_opts_t *o);
/* Connects within opts->timeout_ms (retrying every retry_ms doubling). */
int32_t mmc_meta_client_connect(const mmc_meta_client_opts_t *opts, mmc_meta_client_t **out);
void mmc_meta_client_close(mmc_meta_client_t *c);
bool mmc_meta_client_connected(const mmc_meta_client_t *c);
/* Proof that this process holds a BM rank (MMC_PROOF_SIZE bytes for the link's challenge; see mmc_proto.h):
 * MOUNT and REMOVE_ALL carry it, fetched for the link they go on (a HEARTBEAT first, also after a reconnect).
 * Without a prover (the default) they carry none: a MetaService that checks membership then refuses them
 * (MMC_NOT_PERMITTED), except REMOVE_ALL from a link that holds a segment. Called on the caller's thread or
 * the reconnect thread; it must not call this client. */
typedef int32_t (*mmc_meta_prove_fn_t)(void *arg, const uint8_t *challenge, uint32_t len, uint32_t *rank,
                                       uint8_t *proof);
void mmc_meta_client_set_prover(mmc_meta_client_t *c, mmc_meta_prove_fn_t fn, void *arg);

/* Membership. host: MMC_HOST_ID_SIZE bytes (NULL = unknown). */
int32_t mmc_meta_mount(mmc_meta_client_t *c, uint32_t rank, uint16_t medium, uint64_t gva, uint64_t size,
                       const uint8_t *host, uint64_t *usable);
int32_t mmc_meta_unmount(mmc_meta_client_t *c, uint32_t rank, uint16_t medium, uint32_t *dropped, uint32_t *shrunk);
int32_t mmc_meta_heartbeat(mmc_meta_client_t *c, uint32_t rank, uint32_t *nseg, uint64_t *instance);

/* Two-phase put. rank: the writer's LocalService id (UINT32_MAX: none). opt:
 * medium, replicaNum, preferredLocalServiceIDs (-1 = unused). locs[n] get
 * each key's status (0, MMC_DUPLICATED_OBJECT = exists, nothing to write,
 * MMC_NOT_ENOUGH_MEMORY, MMC_EXCEEDS_CAPACITY) and its replica GVAs. */
int32_t mmc_meta_put_start(mmc_meta_client_t *c, uint32_t rank, const mmc_put_options *opt, const char *const *keys,
                           const uint64_t *sizes, uint32_t n, mmc_loc_t *locs, uint32_t *put_timeout_ms);
/* The same with MMC_PF_* flags (UPSERT, SOFT_PIN, HARD_PIN) and an owner token for this put (0: the
 * client's). An upsert passes a token of its own (mmc_meta_token_new) to PUT_START and PUT_END: the
 * MetaService tells concurrent upserts of one key apart by it. */
int32_t mmc_meta_put_start_ex(mmc_meta_client_t *c, uint32_t rank, const mmc_put_options *opt, uint32_t flags,
                              uint64_t owner, const char *const *keys, const uint64_t *sizes, uint32_t n,
                              mmc_loc_t *locs, uint32_t *put_timeout_ms);
/* A random non-zero token. */
uint64_t mmc_meta_token_new(void);
/* results[i] 0 publishes key i, anything else aborts it. st[n]: per key. */
int32_t mmc_meta_put_end(mmc_meta_client_t *c, const char *const *keys, const int32_t *results, uint32_t n,
                         int32_t *st);
/* Locations with a same-host replica first; one lease for the keys found
 * (*lease_id 0 when none), released with mmc_meta_lease_release or after *ttl_ms
 * (counted by the MetaService from when it answered). */
int32_t mmc_meta_get(mmc_meta_client_t *c, uint32_t rank, const uint8_t *host, const char *const *keys, uint32_t n,
                     mmc_loc_t *locs, uint64_t *lease_id, uint32_t *ttl_ms);
/* st[i]: MMC_OK when lease i was held until now with no replica of its objects
 * lost (what was read under it is the keys' bytes), MMC_LEASE_LOST (ended:
 * expired, unknown to this MetaService instance, a replica lost),
 * MMC_LEASE_NOT_OWNER (another client's). Resent once on a new link when the
 * link was lost with it outstanding. */
int32_t mmc_meta_lease_release(mmc_meta_client_t *c, const uint64_t *ids, uint32_t n, int32_t *st);
int32_t mmc_meta_put_end_ex(mmc_meta_client_t *c, uint64_t owner, const char *const *keys, const int32_t *results,
                            uint32_t n, int32_t *st);
int32_t mmc_meta_exist(mmc_meta_client_t *c, const char *const *keys, uint32_t n, int32_t *st);
int32_t mmc_meta_query(mmc_meta_client_t *c, const char *const *keys, uint32_t n, mmc_loc_t *locs);
int32_t mmc_meta_remove(mmc_meta_client_t *c, const char *const *keys, uint32_t n, int32_t *st);
int32_t mmc_meta_remove_all(mmc_meta_client_t *c, uint64_t *removed, uint64_t *deferred);
/* The same with MMC_PF_* flags: EXIST/QUERY take MMC_PF_LEASE (a read lease of the lease ttl that only
 * expires), REMOVE/REMOVE_ALL MMC_PF_FORCE (without it leased keys are refused / kept). */
int32_t mmc_meta_exist_ex(mmc_meta_client_t *c, uint32_t flags, const char *const *keys, uint32_t n, int32_t *st);
int32_t mmc_meta_query_ex(mmc_meta_client_t *c, uint32_t flags, const char *const *keys, uint32_t n, mmc_loc_t *locs);
int32_t mmc_meta_remove_ex(mmc_meta_client_t *c, uint32_t flags, const char *const *keys, uint32_t n, int32_t *st);
int32_t mmc_meta_remove_all_ex(mmc_meta_client_t *c, uint32_t flags, uint64_t *removed, uint64_t *deferred);
/* One page of a regex remove: keys past cursor ("" first; MMC_KEY_MAX + 1 bytes, updated to where the
 * page ended), up to limit looked at; call again while *more. */
int32_t mmc_meta_remove_regex(mmc_meta_client_t *c, uint32_t flags, const char *pattern, char *cursor, uint32_t limit,
                              uint64_t *removed, uint64_t *deferred, bool *more);

/* Introspection (mmcctl). The list owns its memory: mmc_meta_list_free. */
typedef struct mmc_meta_list {
    uint32_t n;
    bool more;
    mmc_list_item_t *items; /* keys point into `body`, not NUL-terminated */
    uint8_t *body;
} mmc_meta_list_t;
int32_t mmc_meta_list(mmc_meta_client_t *c, const char *prefix, const char *after, uint32_t limit,
                      mmc_meta_list_t **out);
void mmc_meta_list_free(mmc_meta_list_t *l);
/* *segs malloc'd (caller frees; NULL when none). */
int32_t mmc_meta_stats(mmc_meta_client_t *c, mmc_stats_t *st, mmc_seg_info_t **segs, uint32_t *nseg);

/* Replica tasks (client_replica.c drives them). start: mode MMC_REPLICA_MODE_COPY / _MOVE of key from the
 * replica on src (UINT32_MAX: any) to targets[ntgt]; locs[1 + ntgt]: locs[0].status the call's status and the
 * replicas to read, locs[1 + i] target i (status, and its GVA when space was allocated). *task_id 0: nothing
 * to copy. end: result 0 publishes, else aborts; *st the MetaService's answer. clear: rank UINT32_MAX drops
 * the whole object, else its replica there (the object when it is the last); st[n] per key. */
int32_t mmc_meta_replica_start(mmc_meta_client_t *c, const char *key, uint32_t src, uint8_t mode,
                               const uint32_t *targets, uint32_t ntgt, mmc_loc_t *locs, uint64_t *task_id);
int32_t mmc_meta_replica_end(mmc_meta_client_t *c, uint64_t task_id, int32_t result, int32_t *st);
int32_t mmc_meta_replica_clear(mmc_meta_client_t *c, uint32_t rank, const char *const *keys, uint32_t n, int32_t *st);

#endif
