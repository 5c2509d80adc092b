/* Codec of the MetaService RPC bodies (layout table in mmc_proto.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_proto.h"
#include "util/util_status.h"

static const char *const mmc_msg_names[MMC_MSG_COUNT] = {
    "MOUNT", "UNMOUNT", "HEARTBEAT", "PUT_START", "PUT_END", "GET", "LEASE_RELEASE",
    "EXIST", "QUERY",   "REMOVE",    "REMOVE_ALL", "LIST",   "STATS",
    "REPLICA_START", "REPLICA_END", "REPLICA_CLEAR",
};

const char *mmc_msg_name(uint16_t type)
{
    if (type < MMC_MSG_FIRST || type > MMC_MSG_LAST) return "?";
    return mmc_msg_names[type - MMC_MSG_FIRST];
}

bool mmc_key_valid(const char *p, size_t len)
{
    return p != NULL && len >= 1 && len <= MMC_KEY_MAX && memchr(p, '\0', len) == NULL;
}

/* ---------- request encode ---------- */

static bool mmc_req_has_keys(uint16_t t)
{
    return t == MMC_MSG_PUT_START || t == MMC_MSG_PUT_END || t == MMC_MSG_GET || t == MMC_MSG_EXIST ||
           t == MMC_MSG_QUERY || t == MMC_MSG_REMOVE || t == MMC_MSG_REPLICA_START || t == MMC_MSG_REPLICA_CLEAR;
}

static bool mmc_req_is_batch(uint16_t t)
{
    return mmc_req_has_keys(t) || t == MMC_MSG_LEASE_RELEASE || t == MMC_MSG_REPLICA_END;
}

static bool mmc_req_has_owner(uint16_t t)
{
    return t == MMC_MSG_PUT_START || t == MMC_MSG_PUT_END || t == MMC_MSG_GET || t == MMC_MSG_LEASE_RELEASE ||
           t == MMC_MSG_REPLICA_START || t == MMC_MSG_REPLICA_END;
}

/* The MMC_PF_* bits a request type takes. */
static uint32_t mmc_req_flags_allowed(uint16_t t)
{
    switch (t) {
    case MMC_MSG_PUT_START: return MMC_PF_PUT_MASK;
    case MMC_MSG_EXIST:
    case MMC_MSG_QUERY: return MMC_PF_LEASE;
    case MMC_MSG_REMOVE: return MMC_PF_FORCE;
    case MMC_MSG_REMOVE_ALL: return MMC_PF_FORCE | MMC_PF_REGEX;
    default: return 0;
    }
}

static int32_t mmc_req_check(const mmc_req_t *r)
{
    const char *name = mmc_msg_name(r->type);
    if (r->type < MMC_MSG_FIRST || r->type > MMC_MSG_LAST)
        return util_err_set(MMC_INVALID_PARAM, "mmc: unknown request type 0x%04x", r->type);
    if (r->flags & ~mmc_req_flags_allowed(r->type))
        return util_err_set(MMC_INVALID_PARAM, "mmc %s: flags 0x%x not taken by this request", name, r->flags);
    if (mmc_req_is_batch(r->type)) {
        if (r->n == 0 || r->n > MMC_BATCH_MAX)
            return util_err_set(MMC_INVALID_PARAM, "mmc %s: batch of %u keys, must be 1..%u", name, r->n,
                                MMC_BATCH_MAX);
    }
    if (mmc_req_has_owner(r->type) && r->owner == 0)
        return util_err_set(MMC_INVALID_PARAM, "mmc %s: owner token is 0 (must be the client's non-zero token)", name);
    if (mmc_req_has_keys(r->type)) {
        for (uint32_t i = 0; i < r->n; i++)
            if (!mmc_key_valid(r->keys[i].p, r->keys[i].len))
                return util_err_set(MMC_INVALID_PARAM,
                                    "mmc %s: key #%u is %u bytes (must be 1..%u, no NUL byte)", name, i,
                                    r->keys[i].len, MMC_KEY_MAX);
    }
    switch (r->type) {
    case MMC_MSG_MOUNT:
    case MMC_MSG_UNMOUNT:
        if (r->medium >= MMC_MEDIA_COUNT)
            return util_err_set(MMC_INVALID_PARAM, "mmc %s: medium %u is not DRAM (1) or HBM (0)", name,
                                r->medium);
        if (r->type == MMC_MSG_MOUNT && r->size == 0)
            return util_err_set(MMC_INVALID_PARAM, "mmc MOUNT: segment of rank %u has size 0", r->rank);
        if (r->type == MMC_MSG_MOUNT && r->gva + r->size < r->gva)
            return util_err_set(MMC_INVALID_PARAM, "mmc MOUNT: segment 0x%llx + %llu wraps around",
                                (unsigned long long)r->gva, (unsigned long long)r->size);
        break;
    case MMC_MSG_PUT_START:
        if (r->medium >= MMC_MEDIA_COUNT && r->medium != MMC_MEDIA_NONE)
            return util_err_set(MMC_INVALID_PARAM, "mmc PUT_START: medium %u unknown", r->medium);
        if (r->replicas < 1 || r->replicas > MMC_REPLICA_MAX)
            return util_err_set(MMC_INVALID_PARAM, "mmc PUT_START: %u replicas, must be 1..%u", r->replicas,
                                MMC_REPLICA_MAX);
        if (r->npref > MMC_REPLICA_MAX)
            return util_err_set(MMC_INVALID_PARAM, "mmc PUT_START: %u preferred ids, at most %u", r->npref,
                                MMC_REPLICA_MAX);
        for (uint32_t i = 0; i < r->npref; i++)
            if (r->pref[i] < 0)
                return util_err_set(MMC_INVALID_PARAM, "mmc PUT_START: preferred id #%u is %d", i, r->pref[i]);
        for (uint32_t i = 0; i < r->n; i++)
            if (r->sizes[i] == 0)
                return util_err_set(MMC_INVALID_PARAM, "mmc PUT_START: key #%u has size 0", i);
        break;
    case MMC_MSG_REPLICA_START:
        if (r->replicas != MMC_REPLICA_MODE_COPY && r->replicas != MMC_REPLICA_MODE_MOVE)
            return util_err_set(MMC_INVALID_PARAM, "mmc REPLICA_START: mode %u is not copy (1) or move (2)",
                                r->replicas);
        if (r->npref < 1 || r->npref > MMC_REPLICA_MAX || (r->replicas == MMC_REPLICA_MODE_MOVE && r->npref != 1))
            return util_err_set(MMC_INVALID_PARAM, "mmc REPLICA_START: %u targets (copy: 1..%u, move: 1)", r->npref,
                                MMC_REPLICA_MAX);
        for (uint32_t i = 0; i < r->npref; i++)
            if (r->pref[i] < 0 || (uint32_t)r->pref[i] >= MMC_RANK_MAX)
                return util_err_set(MMC_INVALID_PARAM, "mmc REPLICA_START: target #%u is %d", i, r->pref[i]);
        /* fall through */
    case MMC_MSG_REPLICA_END:
        if (r->n != 1) return util_err_set(MMC_INVALID_PARAM, "mmc %s: %u keys, must be 1", name, r->n);
        break;
    case MMC_MSG_REMOVE_ALL:
        if (!(r->flags & MMC_PF_REGEX)) break;
        if (r->limit == 0 || r->limit > MMC_PROTO_LIST_MAX)
            return util_err_set(MMC_INVALID_PARAM, "mmc REMOVE_ALL: limit %u, must be 1..%u", r->limit,
                                MMC_PROTO_LIST_MAX);
        if (r->prefix.len == 0 || r->prefix.len > MMC_KEY_MAX || memchr(r->prefix.p, '\0', r->prefix.len) ||
            r->after.len > MMC_KEY_MAX || (r->after.len && memchr(r->after.p, '\0', r->after.len)))
            return util_err_set(MMC_INVALID_PARAM, "mmc REMOVE_ALL: pattern must be 1..%u bytes, cursor 0..%u, "
                                "without NUL", MMC_KEY_MAX, MMC_KEY_MAX);
        break;
    case MMC_MSG_LIST:
        if (r->limit == 0 || r->limit > MMC_PROTO_LIST_MAX)
            return util_err_set(MMC_INVALID_PARAM, "mmc LIST: limit %u, must be 1..%u", r->limit,
                                MMC_PROTO_LIST_MAX);
        if (r->prefix.len > MMC_KEY_MAX || r->after.len > MMC_KEY_MAX ||
            (r->prefix.len && memchr(r->prefix.p, '\0', r->prefix.len)) ||
            (r->after.len && memchr(r->after.p, '\0', r->after.len)))
            return util_err_set(MMC_INVALID_PARAM, "mmc LIST: prefix/after must be 0..%u bytes without NUL",
                                MMC_KEY_MAX);
        break;
    default:
        break;
    }
    return MMC_OK;
}

static void mmc_wkey(util_wbuf_t *w, const mmc_key_ref_t *k)
{
    util_wbuf_u16(w, (uint16_t)k->len);
    util_wbuf_bytes(w, k->p, k->len);
}

int32_t mmc_req_encode(const mmc_req_t *r, util_wbuf_t *w)
{
    int32_t rc = mmc_req_check(r);
    if (rc != MMC_OK) return rc;
    util_wbuf_u16(w, MMC_PROTO_VERSION);
    util_wbuf_u16(w, 0);
    switch (r->type) {
    case MMC_MSG_MOUNT:
        util_wbuf_u32(w, r->rank);
        util_wbuf_u16(w, r->medium);
        util_wbuf_u16(w, 0);
        util_wbuf_u64(w, r->gva);
        util_wbuf_u64(w, r->size);
        util_wbuf_bytes(w, r->host, MMC_HOST_ID_SIZE);
        util_wbuf_bytes(w, r->proof, MMC_PROOF_SIZE);
        break;
    case MMC_MSG_UNMOUNT:
        util_wbuf_u32(w, r->rank);
        util_wbuf_u16(w, r->medium);
        util_wbuf_u16(w, 0);
        break;
    case MMC_MSG_HEARTBEAT: util_wbuf_u32(w, r->rank); break;
    case MMC_MSG_PUT_START:
        util_wbuf_u32(w, r->rank);
        util_wbuf_u16(w, r->medium);
        util_wbuf_u8(w, r->replicas);
        util_wbuf_u8(w, r->npref);
        util_wbuf_u64(w, r->owner);
        util_wbuf_u32(w, r->flags);
        for (uint32_t i = 0; i < r->npref; i++) util_wbuf_u32(w, (uint32_t)r->pref[i]);
        util_wbuf_u32(w, r->n);
        for (uint32_t i = 0; i < r->n; i++) {
            mmc_wkey(w, &r->keys[i]);
            util_wbuf_u64(w, r->sizes[i]);
        }
        break;
    case MMC_MSG_PUT_END:
        util_wbuf_u64(w, r->owner);
        util_wbuf_u32(w, r->n);
        for (uint32_t i = 0; i < r->n; i++) {
            mmc_wkey(w, &r->keys[i]);
            util_wbuf_u32(w, (uint32_t)r->results[i]);
        }
        break;
    case MMC_MSG_GET:
        util_wbuf_u32(w, r->rank);
        util_wbuf_bytes(w, r->host, MMC_HOST_ID_SIZE);
        util_wbuf_u64(w, r->owner);
        util_wbuf_u32(w, r->n);
        for (uint32_t i = 0; i < r->n; i++) mmc_wkey(w, &r->keys[i]);
        break;
    case MMC_MSG_EXIST:
    case MMC_MSG_QUERY:
    case MMC_MSG_REMOVE:
        util_wbuf_u32(w, r->flags);
        util_wbuf_u32(w, r->n);
        for (uint32_t i = 0; i < r->n; i++) mmc_wkey(w, &r->keys[i]);
        break;
    case MMC_MSG_LEASE_RELEASE:
        util_wbuf_u64(w, r->owner);
        util_wbuf_u32(w, r->n);
        for (uint32_t i = 0; i < r->n; i++) util_wbuf_u64(w, r->ids[i]);
        break;
    case MMC_MSG_LIST:
        util_wbuf_u32(w, r->limit);
        util_wbuf_u16(w, (uint16_t)r->prefix.len);
        util_wbuf_bytes(w, r->prefix.p, r->prefix.len);
        util_wbuf_u16(w, (uint16_t)r->after.len);
        util_wbuf_bytes(w, r->after.p, r->after.len);
        break;
    case MMC_MSG_REMOVE_ALL:
        util_wbuf_u32(w, r->rank);
        util_wbuf_bytes(w, r->proof, MMC_PROOF_SIZE);
        util_wbuf_u32(w, r->flags);
        if (r->flags & MMC_PF_REGEX) {
            mmc_wkey(w, &r->prefix);
            mmc_wkey(w, &r->after);
            util_wbuf_u32(w, r->limit);
        }
        break;
    case MMC_MSG_REPLICA_START:
        util_wbuf_u64(w, r->owner);
        util_wbuf_u32(w, r->rank);
        util_wbuf_u8(w, r->replicas);
        util_wbuf_u8(w, r->npref);
        util_wbuf_u16(w, 0);
        for (uint32_t i = 0; i < r->npref; i++) util_wbuf_u32(w, (uint32_t)r->pref[i]);
        mmc_wkey(w, &r->keys[0]);
        break;
    case MMC_MSG_REPLICA_END:
        util_wbuf_u64(w, r->owner);
        util_wbuf_u64(w, r->ids[0]);
        util_wbuf_u32(w, (uint32_t)r->results[0]);
        break;
    case MMC_MSG_REPLICA_CLEAR:
        util_wbuf_u32(w, r->rank);
        util_wbuf_u32(w, r->n);
        for (uint32_t i = 0; i < r->n; i++) mmc_wkey(w, &r->keys[i]);
        break;
    default: /* STATS: prologue only */
        break;
    }
    return w->err ? util_err_set(MMC_MALLOC_FAILED, "mmc %s: out of memory encoding", mmc_msg_name(r->type))
                  : MMC_OK;
}

/* ---------- request decode ---------- */

static int32_t mmc_prologue(util_rbuf_t *rb, const char *what)
{
    uint16_t ver = util_rbuf_u16(rb);
    uint16_t rsv = util_rbuf_u16(rb);
    if (rb->err) return util_err_set(MMC_PROTOCOL, "mmc %s: body shorter than its %u-byte prologue", what,
                                     MMC_PROTO_PROLOGUE);
    if (ver != MMC_PROTO_VERSION)
        return util_err_set(MMC_PROTOCOL, "mmc %s: protocol version %u, this side speaks %u", what, ver,
                            MMC_PROTO_VERSION);
    if (rsv != 0) return util_err_set(MMC_PROTOCOL, "mmc %s: reserved prologue field is 0x%04x", what, rsv);
    return MMC_OK;
}

/* Reads a key (or, with allow_empty, a prefix); sets rb->err when short. */
static void mmc_rkey(util_rbuf_t *rb, mmc_key_ref_t *k)
{
    k->len = util_rbuf_u16(rb);
    k->p = k->len ? util_rbuf_bytes(rb, k->len) : "";
    if (k->p == NULL) k->len = 0;
}

static int32_t mmc_req_alloc(mmc_req_t *r)
{
    size_t per = sizeof(mmc_key_ref_t) + sizeof(uint64_t) + sizeof(int32_t);
    r->mem = calloc(r->n, per);
    if (r->mem == NULL)
        return util_err_set(MMC_MALLOC_FAILED, "mmc %s: out of memory for %u keys", mmc_msg_name(r->type), r->n);
    r->keys = r->mem;
    r->sizes = (uint64_t *)(void *)(r->keys + r->n);
    r->ids = r->sizes;
    r->results = (int32_t *)(void *)(r->sizes + r->n);
    return MMC_OK;
}

int32_t mmc_req_decode(uint16_t type, const uint8_t *body, size_t len, mmc_req_t *out)
{
    mmc_req_t r;
    util_rbuf_t rb;
    int32_t rc;
    const char *name = mmc_msg_name(type);

    memset(&r, 0, sizeof(r));
    r.type = type;
    if (type < MMC_MSG_FIRST || type > MMC_MSG_LAST)
        return util_err_set(MMC_PROTOCOL, "mmc: unknown request type 0x%04x", type);
    util_rbuf_init(&rb, body, len);
    rc = mmc_prologue(&rb, name);
    if (rc != MMC_OK) return rc;

    switch (type) {
    case MMC_MSG_MOUNT: {
        r.rank = util_rbuf_u32(&rb);
        r.medium = util_rbuf_u16(&rb);
        uint16_t rsv = util_rbuf_u16(&rb);
        r.gva = util_rbuf_u64(&rb);
        r.size = util_rbuf_u64(&rb);
        const void *h = util_rbuf_bytes(&rb, MMC_HOST_ID_SIZE);
        if (h) memcpy(r.host, h, MMC_HOST_ID_SIZE);
        const void *pf = util_rbuf_bytes(&rb, MMC_PROOF_SIZE);
        if (pf) memcpy(r.proof, pf, MMC_PROOF_SIZE);
        if (!rb.err && rsv) return util_err_set(MMC_PROTOCOL, "mmc MOUNT: reserved field 0x%04x", rsv);
        break;
    }
    case MMC_MSG_UNMOUNT: {
        r.rank = util_rbuf_u32(&rb);
        r.medium = util_rbuf_u16(&rb);
        uint16_t rsv = util_rbuf_u16(&rb);
        if (!rb.err && rsv) return util_err_set(MMC_PROTOCOL, "mmc UNMOUNT: reserved field 0x%04x", rsv);
        break;
    }
    case MMC_MSG_HEARTBEAT: r.rank = util_rbuf_u32(&rb); break;
    case MMC_MSG_PUT_START:
    case MMC_MSG_PUT_END:
    case MMC_MSG_GET:
    case MMC_MSG_EXIST:
    case MMC_MSG_QUERY:
    case MMC_MSG_REMOVE:
    case MMC_MSG_LEASE_RELEASE:
    case MMC_MSG_REPLICA_CLEAR:
        if (type == MMC_MSG_PUT_START) {
            r.rank = util_rbuf_u32(&rb);
            r.medium = util_rbuf_u16(&rb);
            r.replicas = util_rbuf_u8(&rb);
            r.npref = util_rbuf_u8(&rb);
            if (r.npref > MMC_REPLICA_MAX)
                return util_err_set(MMC_INVALID_PARAM, "mmc PUT_START: %u preferred ids, at most %u", r.npref,
                                    MMC_REPLICA_MAX);
            r.owner = util_rbuf_u64(&rb);
            r.flags = util_rbuf_u32(&rb);
            for (uint32_t i = 0; i < r.npref; i++) r.pref[i] = (int32_t)util_rbuf_u32(&rb);
        } else if (type == MMC_MSG_GET) {
            r.rank = util_rbuf_u32(&rb);
            const void *h = util_rbuf_bytes(&rb, MMC_HOST_ID_SIZE);
            if (h) memcpy(r.host, h, MMC_HOST_ID_SIZE);
            r.owner = util_rbuf_u64(&rb);
        } else if (type == MMC_MSG_PUT_END || type == MMC_MSG_LEASE_RELEASE) {
            r.owner = util_rbuf_u64(&rb);
        } else if (type == MMC_MSG_REPLICA_CLEAR) {
            r.rank = util_rbuf_u32(&rb);
        } else {
            r.flags = util_rbuf_u32(&rb); /* EXIST QUERY REMOVE */
        }
        r.n = util_rbuf_u32(&rb);
        if (rb.err) break;
        if (r.n == 0 || r.n > MMC_BATCH_MAX)
            return util_err_set(MMC_INVALID_PARAM, "mmc %s: batch of %u keys, must be 1..%u", name, r.n,
                                MMC_BATCH_MAX);
        /* Each entry takes at least 2 bytes (key length) or 8 (lease id): refuse a count the body cannot hold
         * before allocating for it. */
        if ((uint64_t)r.n * (type == MMC_MSG_LEASE_RELEASE ? 8u : 2u) > util_rbuf_left(&rb))
            return util_err_set(MMC_PROTOCOL, "mmc %s: %u entries do not fit in %zu bytes", name, r.n,
                                util_rbuf_left(&rb));
        rc = mmc_req_alloc(&r);
        if (rc != MMC_OK) return rc;
        for (uint32_t i = 0; i < r.n && !rb.err; i++) {
            if (type == MMC_MSG_LEASE_RELEASE) {
                r.ids[i] = util_rbuf_u64(&rb);
                continue;
            }
            mmc_rkey(&rb, &r.keys[i]);
            if (type == MMC_MSG_PUT_START) r.sizes[i] = util_rbuf_u64(&rb);
            if (type == MMC_MSG_PUT_END) r.results[i] = (int32_t)util_rbuf_u32(&rb);
        }
        break;
    case MMC_MSG_LIST:
        r.limit = util_rbuf_u32(&rb);
        mmc_rkey(&rb, &r.prefix);
        mmc_rkey(&rb, &r.after);
        break;
    case MMC_MSG_REMOVE_ALL: {
        r.rank = util_rbuf_u32(&rb);
        const void *pf = util_rbuf_bytes(&rb, MMC_PROOF_SIZE);
        if (pf) memcpy(r.proof, pf, MMC_PROOF_SIZE);
        r.flags = util_rbuf_u32(&rb);
        if (!rb.err && (r.flags & MMC_PF_REGEX)) {
            mmc_rkey(&rb, &r.prefix);
            mmc_rkey(&rb, &r.after);
            r.limit = util_rbuf_u32(&rb);
        }
        break;
    }
    case MMC_MSG_REPLICA_START:
    case MMC_MSG_REPLICA_END: {
        r.owner = util_rbuf_u64(&rb);
        if (type == MMC_MSG_REPLICA_START) {
            r.rank = util_rbuf_u32(&rb);
            r.replicas = util_rbuf_u8(&rb);
            r.npref = util_rbuf_u8(&rb);
            uint16_t rsv = util_rbuf_u16(&rb);
            if (!rb.err && rsv) return util_err_set(MMC_PROTOCOL, "mmc REPLICA_START: reserved field 0x%04x", rsv);
            if (r.npref > MMC_REPLICA_MAX)
                return util_err_set(MMC_INVALID_PARAM, "mmc REPLICA_START: %u targets, at most %u", r.npref,
                                    MMC_REPLICA_MAX);
            for (uint32_t i = 0; i < r.npref; i++) r.pref[i] = (int32_t)util_rbuf_u32(&rb);
        }
        if (rb.err) break;
        r.n = 1;
        rc = mmc_req_alloc(&r);
        if (rc != MMC_OK) return rc;
        if (type == MMC_MSG_REPLICA_START) {
            mmc_rkey(&rb, &r.keys[0]);
        } else {
            r.ids[0] = util_rbuf_u64(&rb);
            r.results[0] = (int32_t)util_rbuf_u32(&rb);
        }
        break;
    }
    default: /* STATS */
        break;
    }
    if (rb.err) {
        rc = util_err_set(MMC_PROTOCOL, "mmc %s: body of %zu bytes is truncated", name, len);
        goto fail;
    }
    if (util_rbuf_left(&rb) != 0) {
        rc = util_err_set(MMC_PROTOCOL, "mmc %s: %zu trailing bytes after the message", name, util_rbuf_left(&rb));
        goto fail;
    }
    rc = mmc_req_check(&r);
    if (rc != MMC_OK) goto fail;
    *out = r;
    return MMC_OK;
fail:
    free(r.mem);
    return rc;
}

void mmc_req_fini(mmc_req_t *r)
{
    if (r == NULL) return;
    free(r->mem);
    r->mem = NULL;
    r->keys = NULL;
    r->sizes = NULL;
    r->ids = NULL;
    r->results = NULL;
}

/* ---------- responses ---------- */

void mmc_resp_prologue(util_wbuf_t *w)
{
    util_wbuf_u16(w, MMC_PROTO_VERSION);
    util_wbuf_u16(w, 0);
}

void mmc_resp_error_encode(util_wbuf_t *w, const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;
    if (n > MMC_PROTO_ERRMSG_MAX) n = MMC_PROTO_ERRMSG_MAX;
    mmc_resp_prologue(w);
    util_wbuf_blob(w, msg ? msg : "", (uint32_t)n);
}

void mmc_resp_error_decode(const uint8_t *body, size_t len, char *buf, size_t cap)
{
    util_rbuf_t rb;
    uint32_t n = 0;
    if (cap == 0) return;
    buf[0] = '\0';
    util_rbuf_init(&rb, body, len);
    if (mmc_prologue(&rb, "error response") != MMC_OK) {
        util_err_clear();
        return;
    }
    const char *p = util_rbuf_blob(&rb, MMC_PROTO_ERRMSG_MAX, &n);
    if (p == NULL || util_rbuf_left(&rb) != 0) return;
    if (n >= cap) n = (uint32_t)cap - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

static int32_t mmc_resp_end(util_rbuf_t *rb, const char *what)
{
    if (rb->err) return util_err_set(MMC_PROTOCOL, "mmc %s response: truncated (%zu bytes)", what, rb->len);
    if (util_rbuf_left(rb) != 0)
        return util_err_set(MMC_PROTOCOL, "mmc %s response: %zu trailing bytes", what, util_rbuf_left(rb));
    return MMC_OK;
}

void mmc_resp_status_encode(util_wbuf_t *w, uint32_t n, const int32_t *st)
{
    mmc_resp_prologue(w);
    util_wbuf_u32(w, n);
    for (uint32_t i = 0; i < n; i++) util_wbuf_u32(w, (uint32_t)st[i]);
}

int32_t mmc_resp_status_decode(const uint8_t *body, size_t len, uint32_t expect_n, int32_t *st)
{
    util_rbuf_t rb;
    util_rbuf_init(&rb, body, len);
    int32_t rc = mmc_prologue(&rb, "status response");
    if (rc != MMC_OK) return rc;
    uint32_t n = util_rbuf_u32(&rb);
    if (!rb.err && n != expect_n)
        return util_err_set(MMC_PROTOCOL, "mmc status response: %u entries for %u keys", n, expect_n);
    for (uint32_t i = 0; i < n && !rb.err; i++) st[i] = (int32_t)util_rbuf_u32(&rb);
    return mmc_resp_end(&rb, "status");
}

void mmc_resp_locs_begin(util_wbuf_t *w, uint64_t lease_id, uint32_t ttl_ms, uint32_t n)
{
    mmc_resp_prologue(w);
    util_wbuf_u64(w, lease_id);
    util_wbuf_u32(w, ttl_ms);
    util_wbuf_u32(w, n);
}

void mmc_resp_loc_encode(util_wbuf_t *w, const mmc_loc_t *loc)
{
    util_wbuf_u32(w, (uint32_t)loc->status);
    util_wbuf_u8(w, loc->state);
    util_wbuf_u8(w, loc->nrep);
    util_wbuf_u16(w, 0);
    util_wbuf_u32(w, loc->leases);
    util_wbuf_u32(w, 0);
    util_wbuf_u64(w, loc->size);
    for (uint32_t i = 0; i < loc->nrep && i < MMC_REPLICA_MAX; i++) {
        util_wbuf_u32(w, loc->rep[i].rank);
        util_wbuf_u16(w, loc->rep[i].medium);
        util_wbuf_u16(w, 0);
        util_wbuf_u64(w, loc->rep[i].gva);
    }
}

int32_t mmc_resp_locs_decode(const uint8_t *body, size_t len, uint32_t expect_n, uint64_t *lease_id,
                             uint32_t *ttl_ms, mmc_loc_t *locs)
{
    util_rbuf_t rb;
    util_rbuf_init(&rb, body, len);
    int32_t rc = mmc_prologue(&rb, "location response");
    if (rc != MMC_OK) return rc;
    uint64_t lid = util_rbuf_u64(&rb);
    uint32_t ttl = util_rbuf_u32(&rb);
    uint32_t n = util_rbuf_u32(&rb);
    if (!rb.err && n != expect_n)
        return util_err_set(MMC_PROTOCOL, "mmc location response: %u entries for %u keys", n, expect_n);
    for (uint32_t i = 0; i < n && !rb.err; i++) {
        mmc_loc_t *l = &locs[i];
        memset(l, 0, sizeof(*l));
        l->status = (int32_t)util_rbuf_u32(&rb);
        l->state = util_rbuf_u8(&rb);
        l->nrep = util_rbuf_u8(&rb);
        uint16_t rsv1 = util_rbuf_u16(&rb);
        l->leases = util_rbuf_u32(&rb);
        uint32_t rsv2 = util_rbuf_u32(&rb);
        l->size = util_rbuf_u64(&rb);
        if (rb.err) break;
        if (rsv1 || rsv2 || l->nrep > MMC_REPLICA_MAX || l->state > MMC_STATE_REMOVING)
            return util_err_set(MMC_PROTOCOL, "mmc location response: entry %u malformed (nrep %u, state %u)", i,
                                l->nrep, l->state);
        for (uint32_t j = 0; j < l->nrep; j++) {
            l->rep[j].rank = util_rbuf_u32(&rb);
            l->rep[j].medium = util_rbuf_u16(&rb);
            uint16_t rsv3 = util_rbuf_u16(&rb);
            l->rep[j].gva = util_rbuf_u64(&rb);
            if (!rb.err && rsv3)
                return util_err_set(MMC_PROTOCOL, "mmc location response: replica reserved field set");
        }
    }
    rc = mmc_resp_end(&rb, "location");
    if (rc != MMC_OK) return rc;
    if (lease_id) *lease_id = lid;
    if (ttl_ms) *ttl_ms = ttl;
    return MMC_OK;
}

/* Responses made of a few numbers: widths names each field's size, '4' or '8' bytes (e.g. "48"). */
static void mmc_resp_nums_encode(util_wbuf_t *w, const char *widths, const uint64_t *v)
{
    mmc_resp_prologue(w);
    for (size_t i = 0; widths[i] != '\0'; i++) {
        if (widths[i] == '8') util_wbuf_u64(w, v[i]);
        else util_wbuf_u32(w, (uint32_t)v[i]);
    }
}

static int32_t mmc_resp_nums_decode(const uint8_t *body, size_t len, const char *what, const char *widths, uint64_t *v)
{
    util_rbuf_t rb;
    util_rbuf_init(&rb, body, len);
    char full[48];
    snprintf(full, sizeof(full), "%s response", what);
    int32_t rc = mmc_prologue(&rb, full);
    if (rc != MMC_OK) return rc;
    for (size_t i = 0; widths[i] != '\0'; i++) v[i] = widths[i] == '8' ? util_rbuf_u64(&rb) : util_rbuf_u32(&rb);
    return mmc_resp_end(&rb, what);
}

void mmc_resp_mount_encode(util_wbuf_t *w, uint64_t usable) { mmc_resp_nums_encode(w, "8", &usable); }

int32_t mmc_resp_mount_decode(const uint8_t *body, size_t len, uint64_t *usable)
{
    uint64_t v[1];
    int32_t rc = mmc_resp_nums_decode(body, len, "MOUNT", "8", v);
    if (rc == MMC_OK && usable) *usable = v[0];
    return rc;
}

void mmc_resp_unmount_encode(util_wbuf_t *w, uint32_t dropped, uint32_t shrunk)
{
    mmc_resp_nums_encode(w, "44", (const uint64_t[]){dropped, shrunk});
}

int32_t mmc_resp_unmount_decode(const uint8_t *body, size_t len, uint32_t *dropped, uint32_t *shrunk)
{
    uint64_t v[2];
    int32_t rc = mmc_resp_nums_decode(body, len, "UNMOUNT", "44", v);
    if (rc != MMC_OK) return rc;
    if (dropped) *dropped = (uint32_t)v[0];
    if (shrunk) *shrunk = (uint32_t)v[1];
    return MMC_OK;
}

void mmc_resp_heartbeat_encode(util_wbuf_t *w, uint32_t nseg, uint64_t instance, uint64_t challenge)
{
    mmc_resp_nums_encode(w, "488", (const uint64_t[]){nseg, instance, challenge});
}

int32_t mmc_resp_heartbeat_decode(const uint8_t *body, size_t len, uint32_t *nseg, uint64_t *instance,
                                  uint64_t *challenge)
{
    uint64_t v[3];
    int32_t rc = mmc_resp_nums_decode(body, len, "HEARTBEAT", "488", v);
    if (rc != MMC_OK) return rc;
    if (nseg) *nseg = (uint32_t)v[0];
    if (instance) *instance = v[1];
    if (challenge) *challenge = v[2];
    return MMC_OK;
}

void mmc_resp_remove_all_encode(util_wbuf_t *w, uint64_t removed, uint64_t deferred, bool more,
                                const mmc_key_ref_t *cursor)
{
    mmc_resp_prologue(w);
    util_wbuf_u64(w, removed);
    util_wbuf_u64(w, deferred);
    util_wbuf_u8(w, more ? 1 : 0);
    mmc_wkey(w, cursor != NULL ? cursor : &(mmc_key_ref_t){"", 0});
}

int32_t mmc_resp_remove_all_decode(const uint8_t *body, size_t len, uint64_t *removed, uint64_t *deferred, bool *more,
                                   mmc_key_ref_t *cursor)
{
    util_rbuf_t rb;
    mmc_key_ref_t cur;
    util_rbuf_init(&rb, body, len);
    int32_t rc = mmc_prologue(&rb, "REMOVE_ALL response");
    if (rc != MMC_OK) return rc;
    uint64_t r = util_rbuf_u64(&rb), d = util_rbuf_u64(&rb);
    uint8_t m = util_rbuf_u8(&rb);
    mmc_rkey(&rb, &cur);
    rc = mmc_resp_end(&rb, "REMOVE_ALL");
    if (rc != MMC_OK) return rc;
    if (m > 1 || cur.len > MMC_KEY_MAX || (m && cur.len == 0))
        return util_err_set(MMC_PROTOCOL, "mmc REMOVE_ALL response: more %u with a %u-byte cursor", m, cur.len);
    if (removed) *removed = r;
    if (deferred) *deferred = d;
    if (more) *more = m != 0;
    if (cursor) *cursor = cur;
    return MMC_OK;
}

void mmc_resp_list_encode(util_wbuf_t *w, bool more, uint32_t n, const mmc_list_item_t *items)
{
    mmc_resp_prologue(w);
    util_wbuf_u8(w, more ? 1 : 0);
    util_wbuf_u32(w, n);
    for (uint32_t i = 0; i < n; i++) {
        mmc_wkey(w, &items[i].key);
        util_wbuf_u64(w, items[i].size);
        util_wbuf_u8(w, items[i].state);
        util_wbuf_u8(w, items[i].nrep);
    }
}

int32_t mmc_resp_list_decode(const uint8_t *body, size_t len, bool *more, uint32_t *n, mmc_list_item_t **items)
{
    util_rbuf_t rb;
    util_rbuf_init(&rb, body, len);
    int32_t rc = mmc_prologue(&rb, "LIST response");
    if (rc != MMC_OK) return rc;
    uint8_t m = util_rbuf_u8(&rb);
    uint32_t cnt = util_rbuf_u32(&rb);
    if (rb.err) return mmc_resp_end(&rb, "LIST");
    if (m > 1 || cnt > MMC_PROTO_LIST_MAX || (uint64_t)cnt * 13u > util_rbuf_left(&rb))
        return util_err_set(MMC_PROTOCOL, "mmc LIST response: more=%u, %u items in %zu bytes", m, cnt,
                            util_rbuf_left(&rb));
    mmc_list_item_t *it = cnt ? calloc(cnt, sizeof(*it)) : NULL;
    if (cnt && it == NULL) return util_err_set(MMC_MALLOC_FAILED, "mmc LIST response: out of memory");
    for (uint32_t i = 0; i < cnt && !rb.err; i++) {
        mmc_rkey(&rb, &it[i].key);
        it[i].size = util_rbuf_u64(&rb);
        it[i].state = util_rbuf_u8(&rb);
        it[i].nrep = util_rbuf_u8(&rb);
        if (!rb.err && (!mmc_key_valid(it[i].key.p, it[i].key.len) || it[i].nrep > MMC_REPLICA_MAX ||
                        it[i].state < MMC_STATE_WRITING || it[i].state > MMC_STATE_REMOVING)) {
            free(it);
            return util_err_set(MMC_PROTOCOL, "mmc LIST response: item %u malformed", i);
        }
    }
    rc = mmc_resp_end(&rb, "LIST");
    if (rc != MMC_OK) {
        free(it);
        return rc;
    }
    *more = m != 0;
    *n = cnt;
    *items = it;
    return MMC_OK;
}

void mmc_resp_stats_encode(util_wbuf_t *w, const mmc_stats_t *st, uint32_t nseg, const mmc_seg_info_t *segs)
{
    const uint64_t *v = (const uint64_t *)(const void *)st;
    mmc_resp_prologue(w);
    for (uint32_t i = 0; i < MMC_STATS_U64S; i++) util_wbuf_u64(w, v[i]);
    util_wbuf_u32(w, nseg);
    for (uint32_t i = 0; i < nseg; i++) {
        util_wbuf_u32(w, segs[i].rank);
        util_wbuf_u16(w, segs[i].medium);
        util_wbuf_u16(w, 0);
        util_wbuf_bytes(w, segs[i].host, MMC_HOST_ID_SIZE);
        util_wbuf_u64(w, segs[i].gva);
        util_wbuf_u64(w, segs[i].size);
        util_wbuf_u64(w, segs[i].used);
        util_wbuf_u64(w, segs[i].free_extents);
        util_wbuf_u64(w, segs[i].largest_free);
    }
}

int32_t mmc_resp_stats_decode(const uint8_t *body, size_t len, mmc_stats_t *st, uint32_t *nseg,
                              mmc_seg_info_t **segs)
{
    util_rbuf_t rb;
    mmc_stats_t s;
    uint64_t *v = (uint64_t *)(void *)&s;
    util_rbuf_init(&rb, body, len);
    int32_t rc = mmc_prologue(&rb, "STATS response");
    if (rc != MMC_OK) return rc;
    for (uint32_t i = 0; i < MMC_STATS_U64S; i++) v[i] = util_rbuf_u64(&rb);
    uint32_t n = util_rbuf_u32(&rb);
    if (rb.err) return mmc_resp_end(&rb, "STATS");
    if ((uint64_t)n * MMC_PROTO_SEG_SIZE != util_rbuf_left(&rb))
        return util_err_set(MMC_PROTOCOL, "mmc STATS response: %u segments in %zu bytes", n, util_rbuf_left(&rb));
    mmc_seg_info_t *sg = n ? calloc(n, sizeof(*sg)) : NULL;
    if (n && sg == NULL) return util_err_set(MMC_MALLOC_FAILED, "mmc STATS response: out of memory");
    for (uint32_t i = 0; i < n && !rb.err; i++) {
        sg[i].rank = util_rbuf_u32(&rb);
        sg[i].medium = util_rbuf_u16(&rb);
        uint16_t rsv = util_rbuf_u16(&rb);
        const void *h = util_rbuf_bytes(&rb, MMC_HOST_ID_SIZE);
        if (h) memcpy(sg[i].host, h, MMC_HOST_ID_SIZE);
        sg[i].gva = util_rbuf_u64(&rb);
        sg[i].size = util_rbuf_u64(&rb);
        sg[i].used = util_rbuf_u64(&rb);
        sg[i].free_extents = util_rbuf_u64(&rb);
        sg[i].largest_free = util_rbuf_u64(&rb);
        if (!rb.err && (rsv || sg[i].medium >= MMC_MEDIA_COUNT)) {
            free(sg);
            return util_err_set(MMC_PROTOCOL, "mmc STATS response: segment %u malformed", i);
        }
    }
    rc = mmc_resp_end(&rb, "STATS");
    if (rc != MMC_OK) {
        free(sg);
        return rc;
    }
    *st = s;
    *nseg = n;
    *segs = sg;
    return MMC_OK;
}
