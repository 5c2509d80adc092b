/*
 * MetaService RPC wire format: message bodies carried in src/net frames
 * (net_proto.h), request types 0x0300..0x030F; a response is a frame with
 * NET_FLAG_RESPONSE, the same type and req_id, and a status. All fields are
 * fixed-width little-endian. Every body (request and response) opens with a
 * 4-byte prologue: u16 version (MMC_PROTO_VERSION), u16 reserved (0). Decoders
 * are strict: a short body, trailing bytes, a wrong version, a non-zero
 * reserved field or an out-of-range count is an error, so one message has
 * exactly one encoding.
 *
 * Building blocks:
 *   key      u16 len (1..256) + len bytes (no NUL byte inside)
 *   replica  16 bytes: u32 rank, u16 medium, u16 reserved, u64 gva
 *   loc      24 bytes + nrep replicas: i32 status, u8 state, u8 nrep (0..8),
 *            u16 reserved, u32 leases, u32 reserved, u64 size, replica[nrep]
 *
 * | type   | name          | request body (after the prologue)                         | response body (after the prologue)            |
 * |--------|---------------|-----------------------------------------------------------|-----------------------------------------------|
 * | 0x0300 | MOUNT         | u32 rank, u16 medium, u16 rsv, u64 gva, u64 size, host[24], | u64 usable bytes (size rounded down to 4 KiB) |
 * |        |               | proof[32]                                                  |                                               |
 * | 0x0301 | UNMOUNT       | u32 rank, u16 medium, u16 rsv                              | u32 objects dropped, u32 objects shrunk       |
 * | 0x0302 | HEARTBEAT     | u32 rank                                                   | u32 segments held by this link, u64 instance, |
 * |        |               |                                                            | u64 challenge (this link's)                   |
 * | 0x0303 | PUT_START     | u32 rank, u16 medium, u8 replicas (1..8), u8 npref (0..8), | u64 0, u32 put timeout ms, u32 n, loc[n]      |
 * |        |               | u64 owner, u32 flags, i32 pref[npref], u32 n,              |                                               |
 * |        |               | n × (key, u64 size > 0)                                    |                                               |
 * | 0x0304 | PUT_END       | u64 owner, u32 n, n × (key, i32 result: 0 publish, else abort) | u32 n, i32 status[n]                      |
 * | 0x0305 | GET           | u32 rank, host[24], u64 owner, u32 n, key[n]               | u64 lease id (0 none), u32 ttl ms, u32 n, loc[n] |
 * | 0x0306 | LEASE_RELEASE | u64 owner, u32 n, u64 lease id[n]                          | u32 n, i32 status[n] (see below)              |
 * | 0x0307 | EXIST         | u32 flags, u32 n, key[n]                                   | u32 n, i32 status[n]                          |
 * | 0x0308 | QUERY         | u32 flags, u32 n, key[n]                                   | u64 lease id, u32 ttl ms, u32 n, loc[n]       |
 * | 0x0309 | REMOVE        | u32 flags, u32 n, key[n]                                   | u32 n, i32 status[n]                          |
 * | 0x030A | REMOVE_ALL    | u32 rank (UINT32_MAX: none), proof[32], u32 flags;         | u64 removed, u64 deferred (leased), u8 more,  |
 * |        |               | with REGEX: u16 plen (1..256), pattern, u16 alen, after,   | u16 clen, cursor (the last key looked at)     |
 * |        |               | u32 limit (1..16384 keys looked at)                        |                                               |
 * | 0x030B | LIST          | u32 limit (1..16384), u16 plen, prefix, u16 alen, after    | u8 more, u32 n, n × (key, u64 size, u8 state, u8 nrep) |
 * | 0x030C | STATS         | (nothing)                                                  | mmc_stats_t fields (u64 each), u32 nseg, nseg × segment (72 bytes) |
 * | 0x030D | REPLICA_START | u64 owner, u32 src (UINT32_MAX: any), u8 mode (1 copy,     | u64 task id, u32 timeout ms, u32 1 + ntgt,    |
 * |        |               | 2 move), u8 ntgt (1..8), u16 rsv, i32 tgt[ntgt], key       | loc[0] the source, loc[1 + i] target i        |
 * | 0x030E | REPLICA_END   | u64 owner, u64 task id, i32 result (0 publish, else abort) | u32 1, i32 status                             |
 * | 0x030F | REPLICA_CLEAR | u32 rank (UINT32_MAX: every replica), u32 n, key[n]        | u32 n, i32 status[n]                          |
 *
 * owner (version 2) is the client's random non-zero 64-bit token
 * (mmc_meta_client: one per client, kept across reconnects). A lease belongs
 * to the owner of its GET and a WRITING object to the owner of its
 * PUT_START, not to a link: the owner may release / finish them from any
 * link. Lease ids are random, non-zero and unique among live leases.
 * LEASE_RELEASE answers per id: MMC_OK when the lease was held until now and
 * none of its objects lost a replica meanwhile (the bytes read under it are
 * the key's), MMC_LEASE_LOST when it is unknown (expired, released, granted
 * by another MetaService instance), expired or lost a replica (the lease is
 * ended), MMC_LEASE_NOT_OWNER when another owner holds it (it stays).
 *
 * proof (version 3) shows that the sender holds BM rank `rank` now: the
 * store's rank proof (store.h store_group_proof, HMAC-SHA256 under the
 * rank's join token) over group MMC_BM_GROUP, the rank and the link's
 * challenge as 8 little-endian bytes (random per link, answered by
 * HEARTBEAT), so a proof from one link does not serve on another. The
 * MetaService checks it against the config store it serves: MOUNT needs it
 * for the rank mounted; REMOVE_ALL for any rank (unless the link holds a
 * segment or the operator opened REMOVE_ALL to every link).
 *
 * flags (version 4) are MMC_PF_* bits; a bit a message does not take is a
 * protocol error. PUT_START: UPSERT (a READY key gets a new object written
 * beside it, swapped in by PUT_END; readers leased on the old one keep its
 * space until their leases end), SOFT_PIN, HARD_PIN (eviction, meta_obj.c).
 * REMOVE, REMOVE_ALL: FORCE (leased objects go too; without it REMOVE of a
 * leased key answers MMC_LEASE_NOT_EXPIRED and REMOVE_ALL keeps them, counted
 * in deferred). EXIST, QUERY: LEASE (every READY key found gets a read lease
 * of the lease ttl, owned by no client: it only expires; QUERY answers its
 * id). REMOVE_ALL: REGEX (remove the keys matching a POSIX extended regex,
 * one page of the key order per request, from after on: the client repeats
 * with cursor while more is set).
 *
 * n is 1..MMC_BATCH_MAX (16384) in every batch request. A response with a
 * non-zero frame status (the request as a whole failed) carries the prologue
 * and a u32-length error message (at most 1024 bytes) instead of the above.
 * Per-key statuses are MMC_* codes (mmc_def.h).
 */
#ifndef MMC_PROTO_H
#define MMC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcache/mmc_def.h"
#include "util/util_buf.h"

#define MMC_PROTO_VERSION 4u /* 2: owner tokens in PUT_START PUT_END GET LEASE_RELEASE; 3: rank proofs; 4: flags */

/* Request flags (version 4). */
#define MMC_PF_UPSERT 0x01u   /* PUT_START */
#define MMC_PF_SOFT_PIN 0x02u /* PUT_START */
#define MMC_PF_HARD_PIN 0x04u /* PUT_START */
#define MMC_PF_FORCE 0x08u    /* REMOVE REMOVE_ALL */
#define MMC_PF_LEASE 0x10u    /* EXIST QUERY */
#define MMC_PF_REGEX 0x20u    /* REMOVE_ALL */
#define MMC_PF_PUT_MASK (MMC_PF_UPSERT | MMC_PF_SOFT_PIN | MMC_PF_HARD_PIN)
#define MMC_PROOF_SIZE 32u     /* STORE_PROOF_SIZE */
#define MMC_BM_GROUP "smem"    /* the config-store group of BM ranks (smem's SMEM_BM_GROUP) */
#define MMC_PROTO_PROLOGUE 4u
#define MMC_PROTO_REPLICA_SIZE 16u
#define MMC_PROTO_LOC_SIZE 24u
#define MMC_PROTO_SEG_SIZE 72u
#define MMC_PROTO_ERRMSG_MAX 1024u
#define MMC_PROTO_LIST_MAX MMC_BATCH_MAX
/* Largest body either side sends: 16384 keys of 256 bytes with sizes, or 16384 locs of 8 replicas. */
#define MMC_PROTO_FRAME_MAX (8u << 20)
/* Ranks a segment may name: BM ranks (the world of a BM pool is at most 1024). */
#define MMC_RANK_MAX 1024u

enum {
    MMC_MSG_MOUNT = 0x0300,
    MMC_MSG_UNMOUNT = 0x0301,
    MMC_MSG_HEARTBEAT = 0x0302,
    MMC_MSG_PUT_START = 0x0303,
    MMC_MSG_PUT_END = 0x0304,
    MMC_MSG_GET = 0x0305,
    MMC_MSG_LEASE_RELEASE = 0x0306,
    MMC_MSG_EXIST = 0x0307,
    MMC_MSG_QUERY = 0x0308,
    MMC_MSG_REMOVE = 0x0309,
    MMC_MSG_REMOVE_ALL = 0x030A,
    MMC_MSG_LIST = 0x030B,
    MMC_MSG_STATS = 0x030C,
    MMC_MSG_REPLICA_START = 0x030D,
    MMC_MSG_REPLICA_END = 0x030E,
    MMC_MSG_REPLICA_CLEAR = 0x030F,
    MMC_MSG_FIRST = MMC_MSG_MOUNT,
    MMC_MSG_LAST = MMC_MSG_REPLICA_CLEAR,
    MMC_MSG_COUNT = MMC_MSG_LAST - MMC_MSG_FIRST + 1,
};

/* Object states as they appear on the wire (loc.state, LIST). */
typedef enum { MMC_STATE_WRITING = 1, MMC_STATE_READY = 2, MMC_STATE_REMOVING = 3 } mmc_state_t;

_Static_assert(MMC_PROTO_REPLICA_SIZE == 4 + 2 + 2 + 8, "replica layout");
_Static_assert(MMC_PROTO_LOC_SIZE == 4 + 1 + 1 + 2 + 4 + 4 + 8, "loc layout");
_Static_assert(MMC_PROTO_SEG_SIZE == 4 + 2 + 2 + MMC_HOST_ID_SIZE + 8 * 5, "segment layout");

const char *mmc_msg_name(uint16_t type); /* "PUT_START", or "?" */

typedef struct mmc_key_ref {
    const char *p; /* not NUL-terminated when it points into a body */
    uint32_t len;
} mmc_key_ref_t;

typedef struct mmc_replica {
    uint32_t rank;
    uint16_t medium;
    uint64_t gva;
} mmc_replica_t;

/* A decoded (or to-be-encoded) request. Arrays are valid for n entries of the
 * fields its type uses. After mmc_req_decode the key pointers point into the
 * body (valid while it is) and the arrays live in `mem` (mmc_req_fini). */
typedef struct mmc_req {
    uint16_t type;
    uint32_t rank;                   /* MOUNT UNMOUNT HEARTBEAT PUT_START GET; UINT32_MAX: none */
    uint16_t medium;                 /* MOUNT UNMOUNT PUT_START */
    uint8_t replicas;                /* PUT_START */
    uint8_t npref;                   /* PUT_START */
    int32_t pref[MMC_REPLICA_MAX];   /* PUT_START */
    uint64_t gva;                    /* MOUNT */
    uint64_t size;                   /* MOUNT */
    uint8_t host[MMC_HOST_ID_SIZE];  /* MOUNT GET; all zero: unknown */
    uint8_t proof[MMC_PROOF_SIZE];   /* MOUNT REMOVE_ALL (rank: the rank it proves, UINT32_MAX none) */
    uint64_t owner;                  /* PUT_START PUT_END GET LEASE_RELEASE: the client's token, non-zero */
    uint32_t flags;                  /* PUT_START EXIST QUERY REMOVE REMOVE_ALL: MMC_PF_* */
    uint32_t limit;                  /* LIST, REMOVE_ALL with REGEX */
    mmc_key_ref_t prefix, after;     /* LIST (len 0 allowed); REMOVE_ALL with REGEX: pattern, cursor */
    uint32_t n;
    mmc_key_ref_t *keys;             /* PUT_START PUT_END GET EXIST QUERY REMOVE */
    uint64_t *sizes;                 /* PUT_START */
    int32_t *results;                /* PUT_END */
    uint64_t *ids;                   /* LEASE_RELEASE */
    void *mem;
} mmc_req_t;
/* REPLICA_START reuses fields: rank = the source (UINT32_MAX: any), replicas = the mode, npref / pref = the
 * targets, n = 1 key. REPLICA_END: owner, n = 1, ids[0] the task, results[0]. REPLICA_CLEAR: rank, keys. */
#define MMC_REPLICA_MODE_COPY 1u
#define MMC_REPLICA_MODE_MOVE 2u

/* Checks the fields (ranges, key lengths, n) and appends the body to w.
 * MMC_INVALID_PARAM (message set) when a field is out of range. */
int32_t mmc_req_encode(const mmc_req_t *r, util_wbuf_t *w);
/* Strict decode. MMC_PROTOCOL for malformed bytes, MMC_INVALID_PARAM for
 * well-formed fields out of range, MMC_MALLOC_FAILED; message set. On
 * success call mmc_req_fini. */
int32_t mmc_req_decode(uint16_t type, const uint8_t *body, size_t len, mmc_req_t *out);
void mmc_req_fini(mmc_req_t *r);
/* Checks a key's length (1..256) and that it holds no NUL byte. */
bool mmc_key_valid(const char *p, size_t len);

/* ---------- responses ---------- */

typedef struct mmc_loc {
    int32_t status;
    uint8_t state;
    uint8_t nrep;
    uint32_t leases;
    uint64_t size;
    mmc_replica_t rep[MMC_REPLICA_MAX];
} mmc_loc_t;

typedef struct mmc_stats_media {
    uint64_t total, used, objects, evictions;
} mmc_stats_media_t;

typedef struct mmc_stats {
    uint64_t instance, uptime_ms;
    uint64_t objects, writing, removing, leases, segments, links;
    uint64_t puts, puts_revoked, gets, get_hits, get_misses, removes, evictions;
    uint64_t bytes_put, bytes_got;
    mmc_stats_media_t media[MMC_MEDIA_COUNT];
} mmc_stats_t;
#define MMC_STATS_U64S 25u
_Static_assert(sizeof(mmc_stats_t) == MMC_STATS_U64S * 8, "mmc_stats_t is a flat list of u64 counters");

typedef struct mmc_seg_info {
    uint32_t rank;
    uint16_t medium;
    uint8_t host[MMC_HOST_ID_SIZE];
    uint64_t gva, size, used, free_extents, largest_free;
} mmc_seg_info_t;

typedef struct mmc_list_item {
    mmc_key_ref_t key;
    uint64_t size;
    uint8_t state;
    uint8_t nrep;
} mmc_list_item_t;

void mmc_resp_prologue(util_wbuf_t *w);
void mmc_resp_error_encode(util_wbuf_t *w, const char *msg);
/* Copies the error message of a failed response into buf ("" if none or malformed). */
void mmc_resp_error_decode(const uint8_t *body, size_t len, char *buf, size_t cap);

void mmc_resp_status_encode(util_wbuf_t *w, uint32_t n, const int32_t *st);
int32_t mmc_resp_status_decode(const uint8_t *body, size_t len, uint32_t expect_n, int32_t *st);

/* PUT_START / GET / QUERY: begin, then n × loc. */
void mmc_resp_locs_begin(util_wbuf_t *w, uint64_t lease_id, uint32_t ttl_ms, uint32_t n);
void mmc_resp_loc_encode(util_wbuf_t *w, const mmc_loc_t *loc);
int32_t mmc_resp_locs_decode(const uint8_t *body, size_t len, uint32_t expect_n, uint64_t *lease_id,
                             uint32_t *ttl_ms, mmc_loc_t *locs);

/* MOUNT (1 value), HEARTBEAT (u32 + 2 × u64), UNMOUNT (2 × u32), REMOVE_ALL (2 × u64). */
void mmc_resp_mount_encode(util_wbuf_t *w, uint64_t usable);
int32_t mmc_resp_mount_decode(const uint8_t *body, size_t len, uint64_t *usable);
void mmc_resp_unmount_encode(util_wbuf_t *w, uint32_t dropped, uint32_t shrunk);
int32_t mmc_resp_unmount_decode(const uint8_t *body, size_t len, uint32_t *dropped, uint32_t *shrunk);
void mmc_resp_heartbeat_encode(util_wbuf_t *w, uint32_t nseg, uint64_t instance, uint64_t challenge);
int32_t mmc_resp_heartbeat_decode(const uint8_t *body, size_t len, uint32_t *nseg, uint64_t *instance,
                                  uint64_t *challenge);
/* REMOVE_ALL: removed, deferred, more and the cursor (cursor may be NULL / *cursor points into body). */
void mmc_resp_remove_all_encode(util_wbuf_t *w, uint64_t removed, uint64_t deferred, bool more,
                                const mmc_key_ref_t *cursor);
int32_t mmc_resp_remove_all_decode(const uint8_t *body, size_t len, uint64_t *removed, uint64_t *deferred, bool *more,
                                   mmc_key_ref_t *cursor);

/* LIST: begin with a placeholder count, add items, then finish. */
void mmc_resp_list_encode(util_wbuf_t *w, bool more, uint32_t n, const mmc_list_item_t *items);
/* items: malloc'd array whose keys point into body; caller frees the array. */
int32_t mmc_resp_list_decode(const uint8_t *body, size_t len, bool *more, uint32_t *n, mmc_list_item_t **items);

void mmc_resp_stats_encode(util_wbuf_t *w, const mmc_stats_t *st, uint32_t nseg, const mmc_seg_info_t *segs);
/* segs: malloc'd (caller frees), NULL when nseg is 0. */
int32_t mmc_resp_stats_decode(const uint8_t *body, size_t len, mmc_stats_t *st, uint32_t *nseg,
                              mmc_seg_info_t **segs);

#endif
