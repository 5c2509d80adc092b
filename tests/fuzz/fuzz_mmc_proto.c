/*
 * Fuzz target for the MetaService RPC decoders (mmc_proto.c) and for the
 * request dispatcher (meta_core.c) without sockets.
 *
 * Input, first byte b:
 *  - b < 0x80: decode mode. The rest is a body of message type
 *    MMC_MSG_FIRST + b % (MMC_MSG_COUNT + 1) (the last one is unknown): it
 *    goes through mmc_req_decode (a success must re-encode to the same
 *    bytes) and through every response decoder.
 *  - b >= 0x80: server mode against a fresh core with 3 links and a test
 *    clock. The rest is a script of steps [u8 op] ...:
 *      op & 0x80: advance the clock by (next byte × 50) ms and tick;
 *      op & 0x40: close link (op & 3) % 3 (op & 4: as a heartbeat timeout,
 *                 else as EOF) and open a fresh one;
 *      op & 0x20: link (op & 3) % 3 sends a raw frame: [u8 type idx][u8 len][len bytes];
 *      otherwise: link (op & 3) % 3 sends a well-formed request built from
 *      the next bytes (type, ranks, media, keys from a small set, sizes, one
 *      of three owner tokens, lease ids from recent GET answers), so the
 *      fuzzer reaches puts, leases, foreign releases, eviction and unmounts
 *      quickly. Lease ids come from a predictable generator (every value
 *      twice, 0 included) so the core's retry for zero and taken ids runs.
 *    LIST requests carry a prefix and a cursor (after) from the key set.
 *    Requests that take flags (PUT_START, EXIST, QUERY, REMOVE, REMOVE_ALL)
 *    take one more byte for them: upserts, pins, forced removes, leasing
 *    exists and queries, and regex removes (patterns from a small set, some
 *    that do not compile) with a cursor.
 *    After every step the core's invariants must hold (meta_core_check,
 *    the key index included), every answer must decode with its type's
 *    response decoder, and a LIST answer holds keys in strictly ascending
 *    order, each with the request's prefix and after its cursor.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_proto.h"
#include "memcache/meta/meta_core.h"
#include "memcache/meta/meta_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

#define NLINKS 3

static void fz_fail(const char *what)
{
    fprintf(stderr, "fuzz_mmc_proto: %s\n", what);
    abort();
}

static void decode_all(uint16_t type, const uint8_t *body, size_t len)
{
    mmc_req_t r;
    if (mmc_req_decode(type, body, len, &r) == MMC_OK) {
        util_wbuf_t w;
        util_wbuf_init(&w);
        if (mmc_req_encode(&r, &w) != MMC_OK || w.len != len || memcmp(w.p, body, len) != 0)
            fz_fail("a decoded request re-encodes differently");
        util_wbuf_fini(&w);
        mmc_req_fini(&r);
    }
    static mmc_loc_t locs[64];
    static int32_t st[64];
    uint32_t n32 = len >= 8 ? util_get_le32(body + 4) : 0;
    uint32_t expect = n32 <= 64 ? n32 : 64;
    uint64_t a, b;
    uint32_t c, d;
    bool more;
    char msg[64];
    mmc_list_item_t *items = NULL;
    mmc_stats_t stats;
    mmc_seg_info_t *segs = NULL;
    (void)mmc_resp_status_decode(body, len, expect, st);
    if (len >= 20) (void)mmc_resp_locs_decode(body, len, util_get_le32(body + 16) <= 64 ? util_get_le32(body + 16) : 64, &a, &c, locs);
    (void)mmc_resp_mount_decode(body, len, &a);
    (void)mmc_resp_unmount_decode(body, len, &c, &d);
    (void)mmc_resp_heartbeat_decode(body, len, &c, &a, NULL);
    (void)mmc_resp_remove_all_decode(body, len, &a, &b, &(bool){0}, &(mmc_key_ref_t){0});
    if (mmc_resp_list_decode(body, len, &more, &c, &items) == MMC_OK) free(items);
    if (mmc_resp_stats_decode(body, len, &stats, &c, &segs) == MMC_OK) free(segs);
    mmc_resp_error_decode(body, len, msg, sizeof(msg));
}

/* ---------- server mode ---------- */

typedef struct fz_link {
    meta_peer_t *peer;
    uint16_t last_type;
    int32_t last_status;
    uint8_t *last;
    uint32_t last_len;
    int answers;
    uint32_t expect_n;
    mmc_key_ref_t list_prefix, list_after; /* of the LIST just sent */
} fz_link_t;

static uint64_t fz_now;
static uint64_t fz_clock(void *arg)
{
    (void)arg;
    return fz_now;
}

static uint64_t fz_rand_ctr;
static uint64_t fz_rand(void *arg)
{
    (void)arg;
    return fz_rand_ctr++ / 2;
}

/* Lease ids of the last GET answers, so releases can name live leases. */
static uint64_t fz_recent[8];
static uint32_t fz_nrecent;

static int32_t fz_send(void *link, const net_frame_hdr_t *hdr, const void *body, uint32_t len)
{
    fz_link_t *l = link;
    if (!(hdr->flags & NET_FLAG_RESPONSE)) fz_fail("the core sent a frame that is not a response");
    free(l->last);
    l->last = malloc(len ? len : 1);
    if (l->last == NULL) fz_fail("out of memory");
    memcpy(l->last, body, len);
    l->last_len = len;
    l->last_type = hdr->type;
    l->last_status = hdr->status;
    if ((hdr->type == MMC_MSG_GET || hdr->type == MMC_MSG_REPLICA_START) && hdr->status == 0 && len >= MMC_PROTO_PROLOGUE + 8)
        fz_recent[fz_nrecent++ % 8] = util_get_le64(l->last + MMC_PROTO_PROLOGUE);
    l->answers++;
    return 0;
}

static void fz_close(void *link) { (void)link; }

static const meta_core_ops_t fz_ops = {.send = fz_send, .close = fz_close};

static void verify_answer(const fz_link_t *l)
{
    const uint8_t *b = l->last;
    size_t len = l->last_len;
    int32_t rc = MMC_OK;
    uint64_t a, c;
    uint32_t u, v;
    if (l->last_status != 0) {
        char msg[MMC_PROTO_ERRMSG_MAX + 1];
        mmc_resp_error_decode(b, len, msg, sizeof(msg));
        return;
    }
    mmc_loc_t *locs = NULL;
    int32_t *st = NULL;
    switch (l->last_type) {
    case MMC_MSG_MOUNT: rc = mmc_resp_mount_decode(b, len, &a); break;
    case MMC_MSG_UNMOUNT: rc = mmc_resp_unmount_decode(b, len, &u, &v); break;
    case MMC_MSG_HEARTBEAT: rc = mmc_resp_heartbeat_decode(b, len, &u, &a, NULL); break;
    case MMC_MSG_PUT_START:
    case MMC_MSG_GET:
    case MMC_MSG_QUERY:
    case MMC_MSG_REPLICA_START:
        locs = calloc(l->expect_n, sizeof(*locs));
        rc = mmc_resp_locs_decode(b, len, l->expect_n, &a, &u, locs);
        for (uint32_t i = 0; rc == MMC_OK && i < l->expect_n; i++)
            if (locs[i].status == MMC_OK && locs[i].nrep == 0 && l->last_type != MMC_MSG_QUERY) fz_fail("a located key has no replica");
        break;
    case MMC_MSG_REMOVE_ALL: rc = mmc_resp_remove_all_decode(b, len, &a, &c, &(bool){0}, &(mmc_key_ref_t){0}); break;
    case MMC_MSG_LIST: {
        mmc_list_item_t *items = NULL;
        bool more;
        rc = mmc_resp_list_decode(b, len, &more, &u, &items);
        for (uint32_t i = 0; rc == MMC_OK && i < u; i++) {
            const mmc_key_ref_t *k = &items[i].key, *pre = &l->list_prefix, *aft = &l->list_after;
            if (k->len < pre->len || (pre->len && memcmp(k->p, pre->p, pre->len) != 0))
                fz_fail("a listed key lacks the prefix");
            const mmc_key_ref_t *prev = i > 0 ? &items[i - 1].key : aft;
            size_t m = prev->len < k->len ? prev->len : k->len;
            int d = m ? memcmp(prev->p, k->p, m) : 0;
            if ((i > 0 || aft->len > 0) && (d > 0 || (d == 0 && prev->len >= k->len)))
                fz_fail("listed keys are not ascending past the cursor");
        }
        if (rc == MMC_OK && more && u == 0) fz_fail("an empty LIST page says more");
        free(items);
        break;
    }
    case MMC_MSG_STATS: {
        mmc_stats_t s;
        mmc_seg_info_t *segs = NULL;
        rc = mmc_resp_stats_decode(b, len, &s, &u, &segs);
        free(segs);
        break;
    }
    default:
        st = calloc(l->expect_n ? l->expect_n : 1, sizeof(*st));
        rc = mmc_resp_status_decode(b, len, l->expect_n, st);
        break;
    }
    free(locs);
    free(st);
    if (rc != MMC_OK) fz_fail("an answer does not decode with its type's decoder");
}

typedef struct fz_in {
    const uint8_t *p;
    size_t len, pos;
} fz_in_t;

static uint8_t fz_byte(fz_in_t *in) { return in->pos < in->len ? in->p[in->pos++] : 0; }

static const char *const fz_keys[] = {"k0", "k1", "k2", "k3", "key/4", "key/5", "a", "bb"};

static void fz_build(fz_in_t *in, mmc_req_t *r, mmc_key_ref_t *keys, uint64_t *sizes, int32_t *res, uint64_t *ids)
{
    memset(r, 0, sizeof(*r));
    r->type = (uint16_t)(MMC_MSG_FIRST + fz_byte(in) % MMC_MSG_COUNT);
    uint8_t x = fz_byte(in);
    r->rank = x % 5 == 4 ? UINT32_MAX : x % 5;
    r->medium = (uint16_t)((x >> 3) & 1);
    r->n = 1 + fz_byte(in) % 4;
    r->owner = 1 + (x >> 6) % 3; /* one of three clients, whichever link it comes from */
    r->keys = keys;
    r->sizes = sizes;
    r->results = res;
    r->ids = ids;
    for (uint32_t i = 0; i < r->n; i++) {
        uint8_t k = fz_byte(in);
        keys[i].p = fz_keys[k % 8];
        keys[i].len = (uint32_t)strlen(keys[i].p);
        sizes[i] = 1 + (uint64_t)fz_byte(in) * 1500;
        res[i] = (k & 0x80) ? MMC_TIMEOUT : 0;
        ids[i] = (k & 0x40) ? fz_recent[k % 8] : k % 16;
    }
    switch (r->type) {
    case MMC_MSG_MOUNT:
        if (r->rank == UINT32_MAX) r->rank = 3;
        r->size = (uint64_t)(1 + (x >> 4)) * 16384;
        r->gva = ((uint64_t)r->rank << 32) | ((uint64_t)r->medium << 31);
        r->host[0] = (uint8_t)(r->rank & 1);
        break;
    case MMC_MSG_UNMOUNT:
        if (r->rank == UINT32_MAX) r->rank = 0;
        break;
    case MMC_MSG_PUT_START:
        r->replicas = (uint8_t)(1 + (x >> 4) % 3);
        if ((x >> 6) == 3) r->medium = MMC_MEDIA_NONE;
        r->npref = (uint8_t)(fz_byte(in) % 3);
        for (uint32_t i = 0; i < r->npref; i++) r->pref[i] = fz_byte(in) % 5;
        break;
    case MMC_MSG_LIST: {
        static const char *const prefixes[] = {"", "k", "key/", "zz"};
        uint8_t y = fz_byte(in);
        r->limit = 1 + x % 8;
        r->prefix.p = prefixes[((x >> 6) & 2) | (y >> 7)];
        r->prefix.len = (uint32_t)strlen(r->prefix.p);
        /* A cursor: none, a key of the set (listed or not), or a prefix of one. */
        r->after.p = (y & 0x40) ? fz_keys[y % 8] : "";
        r->after.len = (uint32_t)strlen(r->after.p);
        if ((y & 0x20) && r->after.len > 1) r->after.len--;
        break;
    }
    case MMC_MSG_REPLICA_START: /* a copy (1..3 targets) or a move (1), from one rank or any (UINT32_MAX) */
        r->n = 1;
        r->replicas = (uint8_t)(1 + (x >> 4) % 2);
        r->npref = (uint8_t)(r->replicas == MMC_REPLICA_MODE_MOVE ? 1 : 1 + fz_byte(in) % 3);
        for (uint32_t i = 0; i < r->npref; i++) r->pref[i] = fz_byte(in) % 5;
        break;
    case MMC_MSG_REPLICA_END: r->n = 1; break; /* ids[0]: a recent task id (or a small number) */
    default: break;
    }
    if (r->type == MMC_MSG_PUT_START || r->type == MMC_MSG_EXIST || r->type == MMC_MSG_QUERY ||
        r->type == MMC_MSG_REMOVE || r->type == MMC_MSG_REMOVE_ALL) {
        static const char *const pats[] = {"^k[0-9]$", "key", "^(a|bb)$", "[", ".*"};
        uint8_t f = fz_byte(in);
        if (r->type == MMC_MSG_PUT_START) r->flags = f & MMC_PF_PUT_MASK;
        if (r->type == MMC_MSG_EXIST || r->type == MMC_MSG_QUERY) r->flags = f & MMC_PF_LEASE;
        if (r->type == MMC_MSG_REMOVE) r->flags = f & MMC_PF_FORCE;
        if (r->type == MMC_MSG_REMOVE_ALL) {
            r->flags = f & (MMC_PF_FORCE | MMC_PF_REGEX);
            r->prefix.p = pats[(f >> 6) % 5];
            r->prefix.len = (uint32_t)strlen(r->prefix.p);
            r->after.p = (f & 1) ? fz_keys[f % 8] : "";
            r->after.len = (uint32_t)strlen(r->after.p);
            r->limit = 1 + (f >> 1) % 4;
        }
    }
}

/* Entries in the answer to a request: REPLICA_START answers the source and each target. */
static uint32_t fz_answer_n(const mmc_req_t *r) { return r->type == MMC_MSG_REPLICA_START ? 1u + r->npref : r->n; }

static void fz_dispatch(meta_core_t *core, fz_link_t *l, uint16_t type, const uint8_t *body, uint32_t len,
                        uint32_t expect_n)
{
    net_frame_hdr_t h = {.magic = NET_FRAME_MAGIC, .version = NET_FRAME_VERSION, .type = type, .body_len = len, .req_id = 7};
    int before = l->answers;
    l->expect_n = expect_n;
    meta_core_dispatch(core, l->peer, &h, body);
    if (l->answers != before + 1) fz_fail("a request was not answered exactly once");
    if (l->last_type != type) fz_fail("answer type differs from the request's");
    verify_answer(l);
}

static void server_mode(const uint8_t *data, size_t size)
{
    meta_core_opts_t o;
    meta_core_t *core;
    fz_link_t links[NLINKS];
    fz_in_t in = {.p = data, .len = size};

    meta_core_opts_init(&o);
    o.lease_ttl_ms = 1000;
    o.put_timeout_ms = 3000;
    o.clock = fz_clock;
    o.rand64 = fz_rand;
    fz_now = 1000;
    fz_rand_ctr = 0;
    fz_nrecent = 0;
    memset(fz_recent, 0, sizeof(fz_recent));
    if (meta_core_create(&o, &fz_ops, &core) != MMC_OK) return;
    memset(links, 0, sizeof(links));
    for (int i = 0; i < NLINKS; i++) links[i].peer = meta_core_peer_open(core, &links[i], "fz");
    for (int steps = 0; in.pos < in.len && steps < 512; steps++) {
        uint8_t op = fz_byte(&in);
        fz_link_t *l = &links[(op & 3) % NLINKS];
        if (op & 0x80) {
            fz_now += (uint64_t)fz_byte(&in) * 50;
            meta_core_tick(core);
        } else if (op & 0x40) {
            meta_core_peer_close(core, l->peer, (op & 4) ? SMEM_TIMEOUT : SMEM_PEER_GONE);
            l->peer = meta_core_peer_open(core, l, "fz");
        } else if (op & 0x20) {
            uint16_t type = (uint16_t)(MMC_MSG_FIRST + fz_byte(&in) % (MMC_MSG_COUNT + 1));
            uint32_t len = fz_byte(&in);
            if (len > in.len - in.pos) len = (uint32_t)(in.len - in.pos);
            uint8_t *body = malloc(len ? len : 1);
            memcpy(body, in.p + in.pos, len);
            in.pos += len;
            uint32_t n = len >= 8 ? util_get_le32(body + 4) : 0;
            mmc_req_t tmp;
            l->list_prefix = l->list_after = (mmc_key_ref_t){.p = "", .len = 0};
            if (mmc_req_decode(type, body, len, &tmp) == MMC_OK) {
                n = fz_answer_n(&tmp);
                if (type == MMC_MSG_LIST) { /* they point into body, which outlives the answer's check */
                    l->list_prefix = tmp.prefix;
                    l->list_after = tmp.after;
                }
                mmc_req_fini(&tmp);
            }
            fz_dispatch(core, l, type, body, len, n);
            free(body);
        } else {
            mmc_req_t r;
            mmc_key_ref_t keys[4];
            uint64_t sizes[4], ids[4];
            int32_t res[4];
            fz_build(&in, &r, keys, sizes, res, ids);
            l->list_prefix = r.prefix;
            l->list_after = r.after;
            util_wbuf_t w;
            util_wbuf_init(&w);
            if (mmc_req_encode(&r, &w) != MMC_OK) fz_fail("a well-formed request does not encode");
            fz_dispatch(core, l, r.type, w.p, (uint32_t)w.len, fz_answer_n(&r));
            util_wbuf_fini(&w);
        }
        if (meta_core_check(core) != MMC_OK) {
            fprintf(stderr, "fuzz_mmc_proto: %s\n", util_err_get());
            abort();
        }
    }
    util_wbuf_t m;
    util_wbuf_init(&m);
    meta_core_metrics(core, &m);
    util_wbuf_fini(&m);
    for (int i = 0; i < NLINKS; i++) {
        meta_core_peer_close(core, links[i].peer, 0);
        free(links[i].last);
    }
    if (meta_core_check(core) != MMC_OK) fz_fail("invariants broken after every link closed");
    mmc_stats_t st;
    meta_core_stats(core, &st);
    if (st.segments != 0 || st.objects != 0 || st.media[0].used != 0 || st.media[1].used != 0)
        fz_fail("state left behind after every link closed");
    meta_core_destroy(core);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        util_log_level_set(UTIL_LOG_OFF);
        quiet = 1;
    }
    if (size == 0) return 0;
    if (data[0] < 0x80)
        decode_all((uint16_t)(MMC_MSG_FIRST + data[0] % (MMC_MSG_COUNT + 1)), data + 1, size - 1);
    else
        server_mode(data + 1, size - 1);
    return 0;
}
