/*
 * Config-store wire format: the bodies of the net frames (net_proto.h) that
 * the store client and server exchange. The frame header carries the message
 * type (STORE_MSG_*), the request id and, in responses, the status.
 *
 * All integers are little-endian. A "blob" is `u32 len` followed by len
 * bytes. Every request body and every push body starts with a 4-byte
 * prologue:
 *
 *   off size field
 *   0   2    version   STORE_PROTO_VERSION
 *   2   2    reserved  must be 0
 *
 * Responses carry no prologue: they are in the version of their request.
 *
 * Request bodies (after the prologue):
 *
 *   type            fields                                         OK response body
 *   SET             blob key, blob value                           empty
 *   GET             blob key, u32 timeout_ms (0: do not wait)      blob value
 *   ADD             blob key, u64 delta (two's complement)         u64 new value
 *   CAS             blob key, u8 expect_present, blob expected,    empty
 *                   blob new_value   (expect_present 0: expected must be empty,
 *                                     "set only if absent")
 *   APPEND          blob key, blob value                           u32 new length
 *   DELETE          blob key                                       empty
 *   WATCH           u64 watch_id, u8 prefix, blob key              empty
 *   UNWATCH         u64 watch_id                                   empty
 *   GROUP_JOIN      blob group, u32 world_size, u32 want_rank,     u32 rank
 *                   u64 token (the client's, kept across reconnects),
 *                   u8 flags (STORE_JOIN_F_*; other bits 0)
 *   GROUP_LEAVE     blob group                                     empty
 *   BARRIER         blob key ("<name>#<seq>"), u32 count,          empty
 *                   u32 rank, u32 timeout_ms
 *   ALLGATHER       blob key, u32 count, u32 rank, u32 timeout_ms, blob (count * len bytes, by rank)
 *                   blob data (len bytes)
 *   ID_ALLOC        blob pool, u32 limit                           u32 id
 *   ID_RELEASE      blob pool, u32 id                              empty
 *   EXIT_WATCH      blob group                                     empty
 *   EXIT_BROADCAST  blob group, u32 status (int32)                 empty
 *   GROUP_OWN       blob group, blob prefix, u8 mode               empty
 *                   (STORE_OWN_RANK, _CLAIM, _GROUP or _ONCE; the caller
 *                   must hold a rank in group; see store_group_own)
 *   HELLO           (nothing)                                      u64 server instance (random per
 *                                                                  start), u32 ms of the recovery
 *                                                                  window left (0: over)
 *   LIST            blob prefix (0..STORE_KEY_MAX bytes),          u32 count, u8 more,
 *                   blob after (0..STORE_KEY_MAX; "" = start),     count × (blob key, blob value)
 *                   u32 max_keys (1..STORE_LIST_KEYS_MAX),         (keys ascending, byte-wise)
 *                   u32 max_bytes (0: STORE_LIST_BYTES_DEFAULT,
 *                   at most STORE_LIST_BYTES_MAX)
 *
 * LIST answers the keys that start with prefix and sort after `after`, in
 * ascending byte order, stopping at max_keys items or before the item that
 * would take the answer over max_bytes (keys + values + 8 bytes per item;
 * the first item is always sent, however large). more = 1 when keys were
 * left out: the caller continues with after = the last key it got.
 *
 * Error responses (status != 0) carry an optional blob with a message for
 * the caller's last-error text, except CAS with SMEM_CAS_MISMATCH whose body
 * is `u8 present, blob current_value`.
 *
 * Pushes (NET_FLAG_PUSH, after the prologue):
 *
 *   EVENT           u64 watch_id, u8 event (STORE_EV_*), blob key, blob value
 *                   (value empty for DELETE)
 *   EXIT            blob group, u32 status (int32)
 *
 * Limits checked by every decoder: keys 1..STORE_KEY_MAX bytes without NUL;
 * group names at most STORE_GROUP_MAX (room for "/__live/<rank>"); values
 * STORE_VALUE_MAX; all-gather contributions STORE_GATHER_MAX; world sizes
 * and counts 1..STORE_WORLD_MAX; ranks below the count; id limits
 * 1..STORE_ID_LIMIT_MAX. Trailing bytes are an error.
 */
#ifndef STORE_PROTO_H
#define STORE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/util_buf.h"

#define STORE_PROTO_VERSION 2u
#define STORE_PROLOGUE_SIZE 4u

/* Types 0x0100..0x01FF belong to the store. */
enum {
    STORE_MSG_SET = 0x0101,
    STORE_MSG_GET = 0x0102,
    STORE_MSG_ADD = 0x0103,
    STORE_MSG_CAS = 0x0104,
    STORE_MSG_APPEND = 0x0105,
    STORE_MSG_DELETE = 0x0106,
    STORE_MSG_WATCH = 0x0107,
    STORE_MSG_UNWATCH = 0x0108,
    STORE_MSG_GROUP_JOIN = 0x0110,
    STORE_MSG_GROUP_LEAVE = 0x0111,
    STORE_MSG_BARRIER = 0x0112,
    STORE_MSG_ALLGATHER = 0x0113,
    STORE_MSG_ID_ALLOC = 0x0114,
    STORE_MSG_ID_RELEASE = 0x0115,
    STORE_MSG_EXIT_WATCH = 0x0116,
    STORE_MSG_EXIT_BROADCAST = 0x0117,
    STORE_MSG_LIST = 0x0118,
    STORE_MSG_HELLO = 0x0119,
    STORE_MSG_GROUP_OWN = 0x011A,
    STORE_MSG_EVENT = 0x0120, /* push */
    STORE_MSG_EXIT = 0x0121,  /* push */
};

#define STORE_LIVE_INFIX "/__live/"
/* A group name leaves room for STORE_LIVE_INFIX and a decimal rank. */
#define STORE_GROUP_MAX (STORE_KEY_MAX - 32u)
/* A barrier name leaves room for "#<u64 seq>". */
#define STORE_NAME_MAX (STORE_KEY_MAX - 24u)
#define STORE_ID_LIMIT_MAX 1024u
#define STORE_ERRMSG_MAX 512u
#define STORE_LIST_KEYS_MAX 4096u            /* items in one LIST answer */
#define STORE_LIST_BYTES_DEFAULT (4u << 20)  /* answer size when the request says 0 */
#define STORE_LIST_BYTES_MAX (32u << 20)     /* largest max_bytes a request may ask for */
#define STORE_LIST_ITEM_HDR 8u               /* two blob headers per item */
/* Largest body either side sends: an all-gather answer of the biggest world,
 * or a CAS carrying two full values, plus room for the fixed fields. */
#define STORE_FRAME_MAX (STORE_WORLD_MAX * STORE_GATHER_MAX + 4096u)

/* Fixed (non-blob) bytes of each request after the prologue. */
#define STORE_GET_FIXED 4u          /* timeout_ms */
#define STORE_ADD_FIXED 8u          /* delta */
#define STORE_CAS_FIXED 1u          /* expect_present */
#define STORE_WATCH_FIXED 9u        /* watch_id, prefix */
#define STORE_UNWATCH_FIXED 8u      /* watch_id */
#define STORE_JOIN_FIXED 17u        /* world_size, want_rank, token, flags */
#define STORE_HELLO_RESP_SIZE 12u   /* instance, recovery ms left */
/* GROUP_JOIN flags. RECLAIM: the client held want_rank before a reconnect and
 * asks for it back (granted while the rank is free and not reserved for
 * another token); admitted during the recovery window, when other joins wait. */
#define STORE_JOIN_F_RECLAIM 0x01u
#define STORE_JOIN_F_ALL STORE_JOIN_F_RECLAIM
#define STORE_OWN_FIXED 1u          /* mode */
#define STORE_OWN_MAX 512u          /* prefixes one server holds registered (a space has 3, an SHM heap 4) */
#define STORE_BARRIER_FIXED 12u     /* count, rank, timeout_ms */
#define STORE_ID_FIXED 4u           /* limit or id */
#define STORE_EXIT_FIXED 4u         /* status */
#define STORE_EVENT_FIXED 9u        /* watch_id, event */
#define STORE_LIST_FIXED 8u         /* max_keys, max_bytes */
#define STORE_LIST_RESP_FIXED 5u    /* count, more */
#define STORE_BLOB_HDR 4u

_Static_assert(STORE_PROLOGUE_SIZE == 2 + 2, "prologue layout");
_Static_assert(STORE_WATCH_FIXED == 8 + 1, "watch layout");
_Static_assert(STORE_BARRIER_FIXED == 3 * 4, "barrier layout");
_Static_assert(STORE_JOIN_FIXED == 4 + 4 + 8 + 1 && STORE_HELLO_RESP_SIZE == 8 + 4, "join/hello layout");
_Static_assert(STORE_EVENT_FIXED == 8 + 1, "event layout");
_Static_assert(STORE_FRAME_MAX >= 2 * STORE_VALUE_MAX + 3 * STORE_BLOB_HDR + STORE_KEY_MAX + 64,
               "a CAS with two full values must fit a frame");
_Static_assert((uint64_t)STORE_WORLD_MAX * STORE_GATHER_MAX + STORE_BLOB_HDR <= STORE_FRAME_MAX,
               "an all-gather answer must fit a frame");
_Static_assert(STORE_ID_LIMIT_MAX % 64 == 0, "id pools are u64 bitmaps");
_Static_assert(STORE_LIST_FIXED == 4 + 4 && STORE_LIST_RESP_FIXED == 4 + 1, "list layout");
/* The first item may be a full value over max_bytes: the answer still fits a frame. */
_Static_assert((uint64_t)STORE_LIST_BYTES_MAX + STORE_KEY_MAX + STORE_VALUE_MAX + STORE_LIST_ITEM_HDR +
                       STORE_LIST_RESP_FIXED <= STORE_FRAME_MAX,
               "a LIST answer must fit a frame");

/*
 * One decoded request or push. Pointers point into the decoded buffer (valid
 * as long as it is); key is NOT NUL-terminated. Fields a type does not use
 * are zero. Field use by type:
 *   key:        every type except UNWATCH (group for GROUP_*, EXIT*; pool for ID_*)
 *   val:        SET, APPEND, CAS (new value), ALLGATHER (data), EVENT
 *   cmp:        CAS expected (cmp_present false: expected absent)
 *   i64:        ADD delta
 *   status:     EXIT_BROADCAST, EXIT
 *   watch_id:   WATCH, UNWATCH, EVENT
 *   timeout_ms: GET, BARRIER, ALLGATHER
 *   count/rank: BARRIER, ALLGATHER; world_size/rank/token/flags: GROUP_JOIN (rank = want_rank)
 *   GROUP_OWN: key = group, after = prefix, flags = mode
 *   limit: ID_ALLOC, LIST (max_keys); id: ID_RELEASE; prefix: WATCH; event: EVENT
 *   after, max_bytes: LIST (key is the prefix there, and may be empty)
 */
typedef struct store_msg {
    uint16_t type;
    const char *key;
    uint32_t key_len;
    const uint8_t *val;
    uint32_t val_len;
    const uint8_t *cmp;
    uint32_t cmp_len;
    bool cmp_present;
    bool prefix;
    uint8_t event;
    int64_t i64;
    int32_t status;
    uint64_t watch_id;
    uint32_t timeout_ms;
    uint32_t count;
    uint32_t rank;
    uint32_t world_size;
    uint32_t limit;
    uint32_t id;
    const char *after;
    uint32_t after_len;
    uint32_t max_bytes;
    uint64_t token;
    uint8_t flags;
} store_msg_t;

/* Name of a message type for logs ("SET", ..., "?"); never NULL. */
const char *store_msg_name(uint16_t type);

/*
 * Check m's fields against the limits above. Returns 0, SMEM_INVALID_PARAM
 * (bad key, count, rank, ...) or SMEM_TOO_LARGE (a value over its limit),
 * with the last-error message naming the field and the numbers.
 */
int32_t store_msg_check(const store_msg_t *m);

/* Append m's body (prologue included) to w after store_msg_check. On error w
 * may hold a partial body. */
int32_t store_msg_encode(const store_msg_t *m, util_wbuf_t *w);

/*
 * Decode a request or push body of the given type. Returns 0 and fills *out
 * (pointers into body), or SMEM_PROTOCOL (short, trailing bytes, bad version
 * or reserved bits, unknown type, a flag byte other than 0/1),
 * SMEM_INVALID_PARAM or SMEM_TOO_LARGE as store_msg_check.
 */
int32_t store_msg_decode(uint16_t type, const uint8_t *body, size_t len, store_msg_t *out);

/* ---- response bodies (OK responses; see the table above) ---- */
/* blob value (GET, ALLGATHER), at most max bytes. */
int32_t store_resp_blob_decode(const uint8_t *body, size_t len, uint32_t max, const uint8_t **val,
                               uint32_t *val_len);
/* u32 (APPEND new length, GROUP_JOIN rank, ID_ALLOC id). */
int32_t store_resp_u32_decode(const uint8_t *body, size_t len, uint32_t *v);
/* u64 (ADD new value). */
int32_t store_resp_u64_decode(const uint8_t *body, size_t len, uint64_t *v);
/* HELLO answer: server instance and the recovery window's ms left. */
int32_t store_resp_hello_decode(const uint8_t *body, size_t len, uint64_t *instance, uint32_t *recovery_left_ms);
/* CAS mismatch: u8 present, blob current. */
int32_t store_resp_cas_decode(const uint8_t *body, size_t len, bool *present, const uint8_t **cur,
                              uint32_t *cur_len);
/* LIST answer: validates the whole body (keys valid, values within
 * STORE_VALUE_MAX, count <= STORE_LIST_KEYS_MAX, no trailing bytes), then,
 * when fn is not NULL, calls it once per item in order (key not
 * NUL-terminated; pointers into body). *total_bytes (optional) is the sum of
 * key and value lengths. */
typedef void (*store_list_item_cb_t)(void *arg, const char *key, uint32_t key_len, const uint8_t *val,
                                     uint32_t val_len);
int32_t store_resp_list_decode(const uint8_t *body, size_t len, uint32_t *count, bool *more, uint64_t *total_bytes,
                               store_list_item_cb_t fn, void *arg);
/* Error message of an error response: copies at most cap-1 bytes into msg,
 * NUL-terminated, replacing non-printable bytes; "" when absent or malformed. */
void store_resp_errmsg_decode(const uint8_t *body, size_t len, char *msg, size_t cap);

/* The proof of store_group_proof: HMAC-SHA256(key = token, 8 bytes LE;
 * "smem store rank proof v1" || u32 group length || group || u32 rank ||
 * challenge), all little-endian. */
void store_rank_proof(uint64_t token, const char *group, uint32_t glen, uint32_t rank, const void *challenge,
                      uint32_t len, uint8_t out[STORE_PROOF_SIZE]);

/* Key validity (non-empty, <= max, no NUL) as used by check and decode. */
bool store_key_valid(const char *key, uint32_t len, uint32_t max);

#endif
