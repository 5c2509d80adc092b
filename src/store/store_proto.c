/* Encoding and decoding of store message bodies (layouts in store_proto.h). */
#include "store/store_proto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string.h>

#include "util/util_status.h"

const char *store_msg_name(uint16_t type)
{
    switch (type) {
    case STORE_MSG_SET: return "SET";
    case STORE_MSG_GET: return "GET";
    case STORE_MSG_ADD: return "ADD";
    case STORE_MSG_CAS: return "CAS";
    case STORE_MSG_APPEND: return "APPEND";
    case STORE_MSG_DELETE: return "DELETE";
    case STORE_MSG_WATCH: return "WATCH";
    case STORE_MSG_UNWATCH: return "UNWATCH";
    case STORE_MSG_GROUP_JOIN: return "GROUP_JOIN";
    case STORE_MSG_GROUP_LEAVE: return "GROUP_LEAVE";
    case STORE_MSG_BARRIER: return "BARRIER";
    case STORE_MSG_ALLGATHER: return "ALLGATHER";
    case STORE_MSG_ID_ALLOC: return "ID_ALLOC";
    case STORE_MSG_ID_RELEASE: return "ID_RELEASE";
    case STORE_MSG_EXIT_WATCH: return "EXIT_WATCH";
    case STORE_MSG_EXIT_BROADCAST: return "EXIT_BROADCAST";
    case STORE_MSG_LIST: return "LIST";
    case STORE_MSG_HELLO: return "HELLO";
    case STORE_MSG_GROUP_OWN: return "GROUP_OWN";
    case STORE_MSG_EVENT: return "EVENT";
    case STORE_MSG_EXIT: return "EXIT";
    default: return "?";
    }
}

bool store_key_valid(const char *key, uint32_t len, uint32_t max)
{
    return key != NULL && len > 0 && len <= max && memchr(key, '\0', len) == NULL;
}

static int32_t check_key(const store_msg_t *m, uint32_t max, const char *what)
{
    if (!store_key_valid(m->key, m->key_len, max))
        return util_err_set(SMEM_INVALID_PARAM, "store %s: %s of %u bytes is empty, over %u bytes or holds a NUL",
                            store_msg_name(m->type), what, m->key_len, max);
    return SMEM_OK;
}

static int32_t check_len(const store_msg_t *m, uint32_t len, uint32_t max, const char *what)
{
    if (len > max)
        return util_err_set(SMEM_TOO_LARGE, "store %s: %s of %u bytes over the limit of %u",
                            store_msg_name(m->type), what, len, max);
    return SMEM_OK;
}

static int32_t check_count_rank(const store_msg_t *m)
{
    if (m->count == 0 || m->count > STORE_WORLD_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "store %s: count %u outside 1..%u", store_msg_name(m->type),
                            m->count, STORE_WORLD_MAX);
    if (m->rank >= m->count)
        return util_err_set(SMEM_INVALID_PARAM, "store %s: rank %u not below count %u", store_msg_name(m->type),
                            m->rank, m->count);
    return SMEM_OK;
}

int32_t store_msg_check(const store_msg_t *m)
{
    int32_t rc;

    switch (m->type) {
    case STORE_MSG_SET:
    case STORE_MSG_APPEND:
        if ((rc = check_key(m, STORE_KEY_MAX, "key")) != 0) return rc;
        return check_len(m, m->val_len, STORE_VALUE_MAX, "value");
    case STORE_MSG_GET:
    case STORE_MSG_ADD:
    case STORE_MSG_DELETE:
        return check_key(m, STORE_KEY_MAX, "key");
    case STORE_MSG_CAS:
        if ((rc = check_key(m, STORE_KEY_MAX, "key")) != 0) return rc;
        if (!m->cmp_present && m->cmp_len != 0)
            return util_err_set(SMEM_INVALID_PARAM, "store CAS: 'absent' expectation with %u expected bytes",
                                m->cmp_len);
        if ((rc = check_len(m, m->cmp_len, STORE_VALUE_MAX, "expected value")) != 0) return rc;
        return check_len(m, m->val_len, STORE_VALUE_MAX, "new value");
    case STORE_MSG_WATCH:
        return check_key(m, STORE_KEY_MAX, "key");
    case STORE_MSG_UNWATCH:
    case STORE_MSG_HELLO:
        return SMEM_OK;
    case STORE_MSG_GROUP_JOIN:
        if ((rc = check_key(m, STORE_GROUP_MAX, "group")) != 0) return rc;
        if (m->world_size == 0 || m->world_size > STORE_WORLD_MAX)
            return util_err_set(SMEM_INVALID_PARAM, "store GROUP_JOIN: world size %u outside 1..%u",
                                m->world_size, STORE_WORLD_MAX);
        if (m->rank != UINT32_MAX && m->rank >= m->world_size)
            return util_err_set(SMEM_INVALID_PARAM, "store GROUP_JOIN: wanted rank %u not below world size %u",
                                m->rank, m->world_size);
        if ((m->flags & ~STORE_JOIN_F_ALL) != 0)
            return util_err_set(SMEM_INVALID_PARAM, "store GROUP_JOIN: unknown flags 0x%02x", m->flags);
        if ((m->flags & STORE_JOIN_F_RECLAIM) && m->rank == UINT32_MAX)
            return util_err_set(SMEM_INVALID_PARAM, "store GROUP_JOIN: a reclaim names the rank it held");
        return SMEM_OK;
    case STORE_MSG_GROUP_LEAVE:
    case STORE_MSG_EXIT_WATCH:
    case STORE_MSG_EXIT_BROADCAST:
    case STORE_MSG_EXIT:
        return check_key(m, STORE_GROUP_MAX, "group");
    case STORE_MSG_GROUP_OWN:
        if ((rc = check_key(m, STORE_GROUP_MAX, "group")) != 0) return rc;
        if (!store_key_valid(m->after, m->after_len, STORE_KEY_MAX - 16u))
            return util_err_set(SMEM_INVALID_PARAM, "store GROUP_OWN: prefix of %u bytes is empty, over %u bytes or "
                                "holds a NUL", m->after_len, STORE_KEY_MAX - 16u);
        if (m->flags < STORE_OWN_RANK || m->flags > STORE_OWN_ONCE)
            return util_err_set(SMEM_INVALID_PARAM, "store GROUP_OWN: unknown mode %u", m->flags);
        return SMEM_OK;
    case STORE_MSG_BARRIER:
        if ((rc = check_key(m, STORE_KEY_MAX, "key")) != 0) return rc;
        return check_count_rank(m);
    case STORE_MSG_ALLGATHER:
        if ((rc = check_key(m, STORE_KEY_MAX, "key")) != 0) return rc;
        if ((rc = check_count_rank(m)) != 0) return rc;
        return check_len(m, m->val_len, STORE_GATHER_MAX, "contribution");
    case STORE_MSG_ID_ALLOC:
        if ((rc = check_key(m, STORE_KEY_MAX, "pool")) != 0) return rc;
        if (m->limit == 0 || m->limit > STORE_ID_LIMIT_MAX)
            return util_err_set(SMEM_INVALID_PARAM, "store ID_ALLOC: limit %u outside 1..%u", m->limit,
                                STORE_ID_LIMIT_MAX);
        return SMEM_OK;
    case STORE_MSG_ID_RELEASE:
        if ((rc = check_key(m, STORE_KEY_MAX, "pool")) != 0) return rc;
        if (m->id >= STORE_ID_LIMIT_MAX)
            return util_err_set(SMEM_INVALID_PARAM, "store ID_RELEASE: id %u not below %u", m->id,
                                STORE_ID_LIMIT_MAX);
        return SMEM_OK;
    case STORE_MSG_LIST:
        /* An empty prefix lists every key; an empty `after` starts at the first. */
        if (m->key_len > STORE_KEY_MAX || (m->key_len && !store_key_valid(m->key, m->key_len, STORE_KEY_MAX)))
            return util_err_set(SMEM_INVALID_PARAM, "store LIST: prefix of %u bytes is over %u bytes or holds a NUL",
                                m->key_len, STORE_KEY_MAX);
        if (m->after_len > STORE_KEY_MAX ||
            (m->after_len && !store_key_valid(m->after, m->after_len, STORE_KEY_MAX)))
            return util_err_set(SMEM_INVALID_PARAM,
                                "store LIST: continuation key of %u bytes is over %u bytes or holds a NUL",
                                m->after_len, STORE_KEY_MAX);
        if (m->limit == 0 || m->limit > STORE_LIST_KEYS_MAX)
            return util_err_set(SMEM_INVALID_PARAM, "store LIST: max_keys %u outside 1..%u", m->limit,
                                STORE_LIST_KEYS_MAX);
        return check_len(m, m->max_bytes, STORE_LIST_BYTES_MAX, "max_bytes");
    case STORE_MSG_EVENT:
        if (m->event != STORE_EV_SET && m->event != STORE_EV_DELETE)
            return util_err_set(SMEM_INVALID_PARAM, "store EVENT: unknown event %u", m->event);
        if ((rc = check_key(m, STORE_KEY_MAX, "key")) != 0) return rc;
        return check_len(m, m->val_len, STORE_VALUE_MAX, "value");
    default:
        return util_err_set(SMEM_PROTOCOL, "store: unknown message type 0x%04x", m->type);
    }
}

int32_t store_msg_encode(const store_msg_t *m, util_wbuf_t *w)
{
    int32_t rc = store_msg_check(m);
    if (rc != 0) return rc;

    util_wbuf_u16(w, STORE_PROTO_VERSION);
    util_wbuf_u16(w, 0);
    switch (m->type) {
    case STORE_MSG_SET:
    case STORE_MSG_APPEND:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_blob(w, m->val, m->val_len);
        break;
    case STORE_MSG_GET:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_u32(w, m->timeout_ms);
        break;
    case STORE_MSG_ADD:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_u64(w, (uint64_t)m->i64);
        break;
    case STORE_MSG_CAS:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_u8(w, m->cmp_present ? 1 : 0);
        util_wbuf_blob(w, m->cmp, m->cmp_len);
        util_wbuf_blob(w, m->val, m->val_len);
        break;
    case STORE_MSG_DELETE:
    case STORE_MSG_GROUP_LEAVE:
    case STORE_MSG_EXIT_WATCH:
        util_wbuf_blob(w, m->key, m->key_len);
        break;
    case STORE_MSG_WATCH:
        util_wbuf_u64(w, m->watch_id);
        util_wbuf_u8(w, m->prefix ? 1 : 0);
        util_wbuf_blob(w, m->key, m->key_len);
        break;
    case STORE_MSG_UNWATCH:
        util_wbuf_u64(w, m->watch_id);
        break;
    case STORE_MSG_HELLO:
        break;
    case STORE_MSG_GROUP_JOIN:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_u32(w, m->world_size);
        util_wbuf_u32(w, m->rank);
        util_wbuf_u64(w, m->token);
        util_wbuf_u8(w, m->flags);
        break;
    case STORE_MSG_BARRIER:
    case STORE_MSG_ALLGATHER:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_u32(w, m->count);
        util_wbuf_u32(w, m->rank);
        util_wbuf_u32(w, m->timeout_ms);
        if (m->type == STORE_MSG_ALLGATHER) util_wbuf_blob(w, m->val, m->val_len);
        break;
    case STORE_MSG_ID_ALLOC:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_u32(w, m->limit);
        break;
    case STORE_MSG_ID_RELEASE:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_u32(w, m->id);
        break;
    case STORE_MSG_EXIT_BROADCAST:
    case STORE_MSG_EXIT:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_u32(w, (uint32_t)m->status);
        break;
    case STORE_MSG_EVENT:
        util_wbuf_u64(w, m->watch_id);
        util_wbuf_u8(w, m->event);
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_blob(w, m->val, m->val_len);
        break;
    case STORE_MSG_LIST:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_blob(w, m->after, m->after_len);
        util_wbuf_u32(w, m->limit);
        util_wbuf_u32(w, m->max_bytes);
        break;
    case STORE_MSG_GROUP_OWN:
        util_wbuf_blob(w, m->key, m->key_len);
        util_wbuf_blob(w, m->after, m->after_len);
        util_wbuf_u8(w, m->flags);
        break;
    default: /* store_msg_check rejected it */
        break;
    }
    if (w->err) return util_err_set(SMEM_MALLOC_FAILED, "store %s: out of memory encoding", store_msg_name(m->type));
    return SMEM_OK;
}

/* Reads a blob; distinguishes "short" (protocol) from "over max" (too large)
 * so the server can answer the right status. *bad is set on error. */
static const uint8_t *rd_blob(util_rbuf_t *r, uint32_t max, uint32_t *len, int32_t *bad)
{
    uint32_t n = util_rbuf_u32(r);
    if (r->err) {
        *bad = SMEM_PROTOCOL;
        return NULL;
    }
    if (n > max) {
        *bad = SMEM_TOO_LARGE;
        *len = n;
        return NULL;
    }
    *len = n;
    const uint8_t *p = util_rbuf_bytes(r, n);
    if (p == NULL) {
        *bad = SMEM_PROTOCOL;
        return NULL;
    }
    return p;
}

/* A flag byte other than 0 or 1 is malformed (room kept for future bits is
 * spent on explicit fields instead). */
static void rd_flag(util_rbuf_t *r, bool *out)
{
    uint8_t v = util_rbuf_u8(r);
    if (v > 1) r->err = 1;
    *out = v == 1;
}

int32_t store_msg_decode(uint16_t type, const uint8_t *body, size_t len, store_msg_t *out)
{
    util_rbuf_t r;
    store_msg_t m;
    int32_t bad = 0;

    memset(&m, 0, sizeof(m));
    m.type = type;
    util_rbuf_init(&r, body, len);
    uint16_t ver = util_rbuf_u16(&r);
    uint16_t rsv = util_rbuf_u16(&r);
    if (r.err) return util_err_set(SMEM_PROTOCOL, "store %s: body of %zu bytes shorter than its prologue",
                                   store_msg_name(type), len);
    if (ver != STORE_PROTO_VERSION || rsv != 0)
        return util_err_set(SMEM_PROTOCOL, "store %s: version %u (want %u), reserved 0x%04x", store_msg_name(type),
                            ver, STORE_PROTO_VERSION, rsv);

    /* Oversized keys are reported as invalid keys, the other blobs as too large. */
    const uint32_t kmax = UINT32_MAX;
    switch (type) {
    case STORE_MSG_SET:
    case STORE_MSG_APPEND:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        if (!bad) m.val = rd_blob(&r, STORE_VALUE_MAX, &m.val_len, &bad);
        break;
    case STORE_MSG_GET:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        m.timeout_ms = util_rbuf_u32(&r);
        break;
    case STORE_MSG_ADD:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        m.i64 = (int64_t)util_rbuf_u64(&r);
        break;
    case STORE_MSG_CAS:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        rd_flag(&r, &m.cmp_present);
        if (!bad) m.cmp = rd_blob(&r, STORE_VALUE_MAX, &m.cmp_len, &bad);
        if (!bad) m.val = rd_blob(&r, STORE_VALUE_MAX, &m.val_len, &bad);
        break;
    case STORE_MSG_DELETE:
    case STORE_MSG_GROUP_LEAVE:
    case STORE_MSG_EXIT_WATCH:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        break;
    case STORE_MSG_WATCH:
        m.watch_id = util_rbuf_u64(&r);
        rd_flag(&r, &m.prefix);
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        break;
    case STORE_MSG_UNWATCH:
        m.watch_id = util_rbuf_u64(&r);
        break;
    case STORE_MSG_HELLO:
        break;
    case STORE_MSG_GROUP_JOIN:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        m.world_size = util_rbuf_u32(&r);
        m.rank = util_rbuf_u32(&r);
        m.token = util_rbuf_u64(&r);
        m.flags = util_rbuf_u8(&r);
        break;
    case STORE_MSG_BARRIER:
    case STORE_MSG_ALLGATHER:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        m.count = util_rbuf_u32(&r);
        m.rank = util_rbuf_u32(&r);
        m.timeout_ms = util_rbuf_u32(&r);
        if (type == STORE_MSG_ALLGATHER && !bad) m.val = rd_blob(&r, STORE_GATHER_MAX, &m.val_len, &bad);
        break;
    case STORE_MSG_ID_ALLOC:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        m.limit = util_rbuf_u32(&r);
        break;
    case STORE_MSG_ID_RELEASE:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        m.id = util_rbuf_u32(&r);
        break;
    case STORE_MSG_EXIT_BROADCAST:
    case STORE_MSG_EXIT:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        m.status = (int32_t)util_rbuf_u32(&r);
        break;
    case STORE_MSG_EVENT:
        m.watch_id = util_rbuf_u64(&r);
        m.event = util_rbuf_u8(&r);
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        if (!bad) m.val = rd_blob(&r, STORE_VALUE_MAX, &m.val_len, &bad);
        break;
    case STORE_MSG_LIST:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        if (!bad) m.after = (const char *)rd_blob(&r, kmax, &m.after_len, &bad);
        m.limit = util_rbuf_u32(&r);
        m.max_bytes = util_rbuf_u32(&r);
        break;
    case STORE_MSG_GROUP_OWN:
        m.key = (const char *)rd_blob(&r, kmax, &m.key_len, &bad);
        if (!bad) m.after = (const char *)rd_blob(&r, kmax, &m.after_len, &bad);
        m.flags = util_rbuf_u8(&r);
        break;
    default:
        return util_err_set(SMEM_PROTOCOL, "store: unknown message type 0x%04x", type);
    }
    if (bad == SMEM_TOO_LARGE)
        return util_err_set(SMEM_TOO_LARGE, "store %s: a value in a body of %zu bytes is over its limit",
                            store_msg_name(type), len);
    if (bad || r.err)
        return util_err_set(SMEM_PROTOCOL, "store %s: malformed body of %zu bytes (short or bad flag byte)",
                            store_msg_name(type), len);
    if (util_rbuf_left(&r) != 0)
        return util_err_set(SMEM_PROTOCOL, "store %s: %zu trailing bytes after the body", store_msg_name(type),
                            util_rbuf_left(&r));
    int32_t rc = store_msg_check(&m);
    if (rc != 0) return rc;
    *out = m;
    return SMEM_OK;
}

int32_t store_resp_blob_decode(const uint8_t *body, size_t len, uint32_t max, const uint8_t **val,
                               uint32_t *val_len)
{
    util_rbuf_t r;
    int32_t bad = 0;
    uint32_t n = 0;

    util_rbuf_init(&r, body, len);
    const uint8_t *p = rd_blob(&r, max, &n, &bad);
    if (bad || util_rbuf_left(&r) != 0)
        return util_err_set(bad == SMEM_TOO_LARGE ? SMEM_TOO_LARGE : SMEM_PROTOCOL,
                            "store: malformed value response of %zu bytes (value %u, limit %u)", len, n, max);
    *val = p;
    *val_len = n;
    return SMEM_OK;
}

int32_t store_resp_u32_decode(const uint8_t *body, size_t len, uint32_t *v)
{
    util_rbuf_t r;
    util_rbuf_init(&r, body, len);
    uint32_t x = util_rbuf_u32(&r);
    if (r.err || util_rbuf_left(&r) != 0)
        return util_err_set(SMEM_PROTOCOL, "store: response of %zu bytes, want 4", len);
    *v = x;
    return SMEM_OK;
}

int32_t store_resp_u64_decode(const uint8_t *body, size_t len, uint64_t *v)
{
    util_rbuf_t r;
    util_rbuf_init(&r, body, len);
    uint64_t x = util_rbuf_u64(&r);
    if (r.err || util_rbuf_left(&r) != 0)
        return util_err_set(SMEM_PROTOCOL, "store: response of %zu bytes, want 8", len);
    *v = x;
    return SMEM_OK;
}

int32_t store_resp_hello_decode(const uint8_t *body, size_t len, uint64_t *instance, uint32_t *recovery_left_ms)
{
    util_rbuf_t r;
    util_rbuf_init(&r, body, len);
    uint64_t inst = util_rbuf_u64(&r);
    uint32_t left = util_rbuf_u32(&r);
    if (r.err || util_rbuf_left(&r) != 0)
        return util_err_set(SMEM_PROTOCOL, "store: HELLO response of %zu bytes, want %u", len, STORE_HELLO_RESP_SIZE);
    *instance = inst;
    *recovery_left_ms = left;
    return SMEM_OK;
}

int32_t store_resp_cas_decode(const uint8_t *body, size_t len, bool *present, const uint8_t **cur,
                              uint32_t *cur_len)
{
    util_rbuf_t r;
    int32_t bad = 0;
    bool pr = false;
    uint32_t n = 0;

    util_rbuf_init(&r, body, len);
    rd_flag(&r, &pr);
    const uint8_t *p = r.err ? NULL : rd_blob(&r, STORE_VALUE_MAX, &n, &bad);
    if (r.err || bad || util_rbuf_left(&r) != 0 || (!pr && n != 0))
        return util_err_set(SMEM_PROTOCOL, "store CAS: malformed mismatch response of %zu bytes", len);
    *present = pr;
    *cur = p;
    *cur_len = n;
    return SMEM_OK;
}

int32_t store_resp_list_decode(const uint8_t *body, size_t len, uint32_t *count, bool *more, uint64_t *total_bytes,
                               store_list_item_cb_t fn, void *arg)
{
    util_rbuf_t r;
    int32_t bad = 0;
    bool mo = false;
    uint64_t total = 0;

    util_rbuf_init(&r, body, len);
    uint32_t n = util_rbuf_u32(&r);
    rd_flag(&r, &mo);
    if (r.err || n > STORE_LIST_KEYS_MAX)
        return util_err_set(SMEM_PROTOCOL, "store LIST: answer of %zu bytes has a bad header (count %u, max %u)", len,
                            n, STORE_LIST_KEYS_MAX);
    /* Pass 0 validates everything; pass 1 hands out the items, so a caller
     * never sees part of a malformed answer. */
    for (int pass = 0; pass < (fn != NULL ? 2 : 1); pass++) {
        util_rbuf_init(&r, body, len);
        r.pos = STORE_LIST_RESP_FIXED;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t klen = 0, vlen = 0;
            const char *k = (const char *)rd_blob(&r, STORE_KEY_MAX, &klen, &bad);
            const uint8_t *v = bad ? NULL : rd_blob(&r, STORE_VALUE_MAX, &vlen, &bad);
            if (bad || !store_key_valid(k, klen, STORE_KEY_MAX))
                return util_err_set(SMEM_PROTOCOL, "store LIST: item %u of %u in an answer of %zu bytes is malformed",
                                    i, n, len);
            if (pass == 0) total += (uint64_t)klen + vlen;
            else fn(arg, k, klen, v, vlen);
        }
        if (util_rbuf_left(&r) != 0)
            return util_err_set(SMEM_PROTOCOL, "store LIST: %zu trailing bytes after %u items", util_rbuf_left(&r), n);
    }
    *count = n;
    *more = mo;
    if (total_bytes != NULL) *total_bytes = total;
    return SMEM_OK;
}

void store_resp_errmsg_decode(const uint8_t *body, size_t len, char *msg, size_t cap)
{
    util_rbuf_t r;
    int32_t bad = 0;
    uint32_t n = 0;

    if (cap == 0) return;
    msg[0] = '\0';
    if (body == NULL || len == 0) return;
    util_rbuf_init(&r, body, len);
    const uint8_t *p = rd_blob(&r, STORE_ERRMSG_MAX, &n, &bad);
    if (bad || util_rbuf_left(&r) != 0) return;
    size_t k = n < cap - 1 ? n : cap - 1;
    for (size_t i = 0; i < k; i++) msg[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    msg[k] = '\0';
}

void store_rank_proof(uint64_t token, const char *group, uint32_t glen, uint32_t rank, const void *challenge,
                      uint32_t len, uint8_t out[STORE_PROOF_SIZE])
{
    static const char tag[] = "smem store rank proof v1";
    uint8_t key[8], msg[sizeof(tag) - 1 + 4 + STORE_GROUP_MAX + 4 + STORE_CHALLENGE_MAX];
    size_t n = 0;
    if (glen > STORE_GROUP_MAX) glen = STORE_GROUP_MAX;
    if (len > STORE_CHALLENGE_MAX) len = STORE_CHALLENGE_MAX;
    util_put_le64(key, token);
    memcpy(msg, tag, sizeof(tag) - 1);
    n = sizeof(tag) - 1;
    util_put_le32(msg + n, glen);
    memcpy(msg + n + 4, group, glen);
    n += 4 + glen;
    util_put_le32(msg + n, rank);
    n += 4;
    if (len) memcpy(msg + n, challenge, len);
    n += len;
    unsigned int olen = 0;
    if (HMAC(EVP_sha256(), key, sizeof(key), msg, n, out, &olen) == NULL || olen != STORE_PROOF_SIZE)
        memset(out, 0, STORE_PROOF_SIZE); /* verifies against nothing: a real proof is never all zero bytes */
}
