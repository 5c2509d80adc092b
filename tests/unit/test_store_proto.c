/* Store wire format: round trips of every message and every rejection path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store_proto.h"
#include "util/util_status.h"
#include "tu_cmocka.h"

static const uint8_t val3[] = {1, 2, 3};
static const uint8_t cmp2[] = {9, 8};

/* One valid sample of every message type. */
static size_t samples(store_msg_t *out)
{
    size_t n = 0;
#define K .key = "k/a", .key_len = 3
#define ADD(...)                          \
    do {                                  \
        store_msg_t t = {__VA_ARGS__};    \
        out[n++] = t;                     \
    } while (0)
    ADD(K, .type = STORE_MSG_SET, .val = val3, .val_len = 3);
    ADD(K, .type = STORE_MSG_SET); /* empty value */
    ADD(K, .type = STORE_MSG_GET, .timeout_ms = 1234);
    ADD(K, .type = STORE_MSG_ADD, .i64 = -42);
    ADD(K, .type = STORE_MSG_CAS, .cmp = cmp2, .cmp_len = 2, .cmp_present = true, .val = val3, .val_len = 3);
    ADD(K, .type = STORE_MSG_CAS, .cmp_present = false, .val = val3, .val_len = 3);
    ADD(K, .type = STORE_MSG_APPEND, .val = val3, .val_len = 3);
    ADD(K, .type = STORE_MSG_DELETE);
    ADD(K, .type = STORE_MSG_WATCH, .watch_id = 0x1122334455667788ull, .prefix = true);
    ADD(.type = STORE_MSG_UNWATCH, .watch_id = 7);
    ADD(K, .type = STORE_MSG_GROUP_JOIN, .world_size = 64, .rank = UINT32_MAX);
    ADD(K, .type = STORE_MSG_GROUP_JOIN, .world_size = 64, .rank = 63);
    ADD(K, .type = STORE_MSG_GROUP_LEAVE);
    ADD(K, .type = STORE_MSG_BARRIER, .count = 4, .rank = 3, .timeout_ms = 5);
    ADD(K, .type = STORE_MSG_ALLGATHER, .count = 2, .rank = 0, .timeout_ms = 9, .val = val3, .val_len = 3);
    ADD(K, .type = STORE_MSG_ID_ALLOC, .limit = 1024);
    ADD(K, .type = STORE_MSG_ID_RELEASE, .id = 1023);
    ADD(K, .type = STORE_MSG_EXIT_WATCH);
    ADD(K, .type = STORE_MSG_EXIT_BROADCAST, .status = -2111);
    ADD(K, .type = STORE_MSG_EXIT, .status = 5);
    ADD(K, .type = STORE_MSG_EVENT, .watch_id = 3, .event = STORE_EV_SET, .val = val3, .val_len = 3);
    ADD(K, .type = STORE_MSG_EVENT, .watch_id = 3, .event = STORE_EV_DELETE);
#undef ADD
#undef K
    return n;
}

static void assert_same(const store_msg_t *a, const store_msg_t *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->key_len, b->key_len);
    if (a->key_len) assert_memory_equal(a->key, b->key, a->key_len);
    assert_int_equal(a->val_len, b->val_len);
    if (a->val_len) assert_memory_equal(a->val, b->val, a->val_len);
    assert_int_equal(a->cmp_len, b->cmp_len);
    if (a->cmp_len) assert_memory_equal(a->cmp, b->cmp, a->cmp_len);
    assert_int_equal(a->cmp_present, b->cmp_present);
    assert_int_equal(a->prefix, b->prefix);
    assert_int_equal(a->event, b->event);
    assert_true(a->i64 == b->i64);
    assert_int_equal(a->status, b->status);
    assert_true(a->watch_id == b->watch_id);
    assert_int_equal(a->timeout_ms, b->timeout_ms);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->rank, b->rank);
    assert_int_equal(a->world_size, b->world_size);
    assert_int_equal(a->limit, b->limit);
    assert_int_equal(a->id, b->id);
}

static void encode(const store_msg_t *m, util_wbuf_t *w)
{
    util_wbuf_init(w);
    assert_int_equal(store_msg_encode(m, w), 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    store_msg_t s[32], d;
    size_t n = samples(s);
    for (size_t i = 0; i < n; i++) {
        util_wbuf_t w;
        encode(&s[i], &w);
        assert_int_equal(store_msg_decode(s[i].type, w.p, w.len, &d), 0);
        assert_same(&s[i], &d);
        util_wbuf_fini(&w);
    }
}

/* Every strict prefix of a valid body is short; one more byte is trailing. */
static void test_truncated_and_trailing(void **state)
{
    (void)state;
    store_msg_t s[32], d;
    size_t n = samples(s);
    for (size_t i = 0; i < n; i++) {
        util_wbuf_t w;
        encode(&s[i], &w);
        for (size_t len = 0; len < w.len; len++) {
            /* A copy of exactly len bytes so ASan sees any over-read. */
            uint8_t *cut = malloc(len ? len : 1);
            memcpy(cut, w.p, len);
            assert_int_equal(store_msg_decode(s[i].type, len ? cut : NULL, len, &d), SMEM_PROTOCOL);
            free(cut);
        }
        util_wbuf_u8(&w, 0);
        assert_int_equal(store_msg_decode(s[i].type, w.p, w.len, &d), SMEM_PROTOCOL);
        util_wbuf_fini(&w);
    }
}

static void test_version_and_type(void **state)
{
    (void)state;
    store_msg_t m = {.type = STORE_MSG_DELETE, .key = "a", .key_len = 1}, d;
    util_wbuf_t w;
    encode(&m, &w);
    w.p[0] = STORE_PROTO_VERSION + 1; /* version */
    assert_int_equal(store_msg_decode(m.type, w.p, w.len, &d), SMEM_PROTOCOL);
    w.p[0] = STORE_PROTO_VERSION;
    w.p[3] = 0x80; /* reserved */
    assert_int_equal(store_msg_decode(m.type, w.p, w.len, &d), SMEM_PROTOCOL);
    w.p[3] = 0;
    assert_int_equal(store_msg_decode(m.type, w.p, w.len, &d), 0);
    assert_int_equal(store_msg_decode(0x0199, w.p, w.len, &d), SMEM_PROTOCOL);
    assert_int_equal(store_msg_decode(0, w.p, w.len, &d), SMEM_PROTOCOL);
    assert_string_equal(store_msg_name(0x0199), "?");
    assert_string_equal(store_msg_name(STORE_MSG_ALLGATHER), "ALLGATHER");
    util_wbuf_fini(&w);

    m.type = 0x0199; /* encode refuses unknown types too */
    util_wbuf_init(&w);
    assert_int_equal(store_msg_encode(&m, &w), SMEM_PROTOCOL);
    util_wbuf_fini(&w);
}

/* Build a body by hand so the decoder sees what encode would refuse. */
static size_t body_key(uint8_t *b, const char *key, uint32_t klen)
{
    util_put_le16(b, STORE_PROTO_VERSION);
    util_put_le16(b + 2, 0);
    util_put_le32(b + 4, klen);
    memcpy(b + 8, key, klen);
    return 8 + klen;
}

static void expect_both(const store_msg_t *m, int32_t rc)
{
    util_wbuf_t w;
    util_wbuf_init(&w);
    assert_int_equal(store_msg_check(m), rc);
    assert_int_equal(store_msg_encode(m, &w), rc);
    util_wbuf_fini(&w);
}

static void test_keys(void **state)
{
    (void)state;
    static char big[STORE_KEY_MAX + 2];
    memset(big, 'k', sizeof(big));
    store_msg_t m = {.type = STORE_MSG_GET, .key = big, .key_len = STORE_KEY_MAX};
    expect_both(&m, 0);
    m.key_len = STORE_KEY_MAX + 1;
    expect_both(&m, SMEM_INVALID_PARAM);
    m.key_len = 0;
    expect_both(&m, SMEM_INVALID_PARAM);
    m.key = NULL;
    expect_both(&m, SMEM_INVALID_PARAM);
    m.key = "a\0b";
    m.key_len = 3;
    expect_both(&m, SMEM_INVALID_PARAM);

    /* Same through the decoder. */
    uint8_t *b = malloc(STORE_KEY_MAX + 64);
    store_msg_t d;
    size_t n = body_key(b, "a\0b", 3);
    assert_int_equal(store_msg_decode(STORE_MSG_DELETE, b, n, &d), SMEM_INVALID_PARAM);
    n = body_key(b, "", 0);
    assert_int_equal(store_msg_decode(STORE_MSG_DELETE, b, n, &d), SMEM_INVALID_PARAM);
    n = body_key(b, big, STORE_KEY_MAX + 1);
    assert_int_equal(store_msg_decode(STORE_MSG_DELETE, b, n, &d), SMEM_INVALID_PARAM);
    n = body_key(b, big, STORE_KEY_MAX);
    assert_int_equal(store_msg_decode(STORE_MSG_DELETE, b, n, &d), 0);
    /* A key length pointing past the end. */
    util_put_le32(b + 4, 0xFFFFFFFFu);
    assert_int_equal(store_msg_decode(STORE_MSG_DELETE, b, n, &d), SMEM_PROTOCOL);

    /* Group names keep room for the liveness suffix. */
    m = (store_msg_t){.type = STORE_MSG_GROUP_LEAVE, .key = big, .key_len = STORE_GROUP_MAX};
    expect_both(&m, 0);
    m.key_len = STORE_GROUP_MAX + 1;
    expect_both(&m, SMEM_INVALID_PARAM);
    n = body_key(b, big, STORE_GROUP_MAX + 1);
    assert_int_equal(store_msg_decode(STORE_MSG_EXIT_WATCH, b, n, &d), SMEM_INVALID_PARAM);
    free(b);
}

static void test_value_limits(void **state)
{
    (void)state;
    store_msg_t m = {.type = STORE_MSG_SET, .key = "k", .key_len = 1, .val = val3, .val_len = STORE_VALUE_MAX + 1};
    expect_both(&m, SMEM_TOO_LARGE);
    m.type = STORE_MSG_APPEND;
    expect_both(&m, SMEM_TOO_LARGE);
    m.type = STORE_MSG_CAS;
    expect_both(&m, SMEM_TOO_LARGE);
    m.val_len = 1;
    m.cmp = val3;
    m.cmp_present = true;
    m.cmp_len = STORE_VALUE_MAX + 1;
    expect_both(&m, SMEM_TOO_LARGE);
    m.cmp_len = 1;
    m.cmp_present = false; /* "absent" with expected bytes */
    expect_both(&m, SMEM_INVALID_PARAM);
    m = (store_msg_t){.type = STORE_MSG_ALLGATHER, .key = "k", .key_len = 1, .count = 1, .val = val3,
                      .val_len = STORE_GATHER_MAX + 1};
    expect_both(&m, SMEM_TOO_LARGE);
    static uint8_t gather[STORE_GATHER_MAX];
    m.val = gather;
    m.val_len = STORE_GATHER_MAX;
    expect_both(&m, 0);
    m = (store_msg_t){.type = STORE_MSG_EVENT, .key = "k", .key_len = 1, .event = STORE_EV_SET,
                      .val_len = STORE_VALUE_MAX + 1, .val = val3};
    expect_both(&m, SMEM_TOO_LARGE);

    /* The decoder sees a length field over the limit without the bytes. */
    uint8_t b[64];
    store_msg_t d;
    size_t n = body_key(b, "k", 1);
    util_put_le32(b + n, STORE_VALUE_MAX + 1);
    assert_int_equal(store_msg_decode(STORE_MSG_SET, b, n + 4, &d), SMEM_TOO_LARGE);
    assert_int_equal(store_msg_decode(STORE_MSG_APPEND, b, n + 4, &d), SMEM_TOO_LARGE);
    /* CAS: flag byte, then expected over the limit. */
    b[n] = 1;
    util_put_le32(b + n + 1, STORE_VALUE_MAX + 1);
    assert_int_equal(store_msg_decode(STORE_MSG_CAS, b, n + 5, &d), SMEM_TOO_LARGE);
    /* All-gather: count, rank, timeout, then data over the limit. */
    util_put_le32(b + n, 2);
    util_put_le32(b + n + 4, 1);
    util_put_le32(b + n + 8, 10);
    util_put_le32(b + n + 12, STORE_GATHER_MAX + 1);
    assert_int_equal(store_msg_decode(STORE_MSG_ALLGATHER, b, n + 16, &d), SMEM_TOO_LARGE);
}

static void test_flags(void **state)
{
    (void)state;
    store_msg_t s = {.type = STORE_MSG_CAS, .key = "k", .key_len = 1, .cmp_present = true}, d;
    util_wbuf_t w;
    encode(&s, &w);
    w.p[STORE_PROLOGUE_SIZE + 4 + 1] = 2; /* expect_present */
    assert_int_equal(store_msg_decode(s.type, w.p, w.len, &d), SMEM_PROTOCOL);
    util_wbuf_fini(&w);

    s = (store_msg_t){.type = STORE_MSG_WATCH, .key = "k", .key_len = 1, .watch_id = 1};
    encode(&s, &w);
    w.p[STORE_PROLOGUE_SIZE + 8] = 7; /* prefix */
    assert_int_equal(store_msg_decode(s.type, w.p, w.len, &d), SMEM_PROTOCOL);
    util_wbuf_fini(&w);

    /* CAS "absent" with expected bytes on the wire. */
    s = (store_msg_t){.type = STORE_MSG_CAS, .key = "k", .key_len = 1, .cmp_present = true, .cmp = cmp2, .cmp_len = 2};
    encode(&s, &w);
    w.p[STORE_PROLOGUE_SIZE + 4 + 1] = 0;
    assert_int_equal(store_msg_decode(s.type, w.p, w.len, &d), SMEM_INVALID_PARAM);
    util_wbuf_fini(&w);

    s = (store_msg_t){.type = STORE_MSG_EVENT, .key = "k", .key_len = 1, .event = 3};
    expect_both(&s, SMEM_INVALID_PARAM);
    s.event = 0;
    expect_both(&s, SMEM_INVALID_PARAM);
}

static void test_ranges(void **state)
{
    (void)state;
    store_msg_t m = {.type = STORE_MSG_GROUP_JOIN, .key = "g", .key_len = 1, .world_size = 0, .rank = UINT32_MAX};
    expect_both(&m, SMEM_INVALID_PARAM);
    m.world_size = STORE_WORLD_MAX + 1;
    expect_both(&m, SMEM_INVALID_PARAM);
    m.world_size = STORE_WORLD_MAX;
    expect_both(&m, 0);
    m.rank = STORE_WORLD_MAX;
    expect_both(&m, SMEM_INVALID_PARAM);
    m.rank = STORE_WORLD_MAX - 1;
    expect_both(&m, 0);

    for (int t = 0; t < 2; t++) {
        m = (store_msg_t){.type = t ? STORE_MSG_ALLGATHER : STORE_MSG_BARRIER, .key = "b#0", .key_len = 3};
        m.count = 0;
        expect_both(&m, SMEM_INVALID_PARAM);
        m.count = STORE_WORLD_MAX + 1;
        expect_both(&m, SMEM_INVALID_PARAM);
        m.count = 4;
        m.rank = 4;
        expect_both(&m, SMEM_INVALID_PARAM);
        m.rank = 3;
        expect_both(&m, 0);
    }

    m = (store_msg_t){.type = STORE_MSG_ID_ALLOC, .key = "p", .key_len = 1, .limit = 0};
    expect_both(&m, SMEM_INVALID_PARAM);
    m.limit = STORE_ID_LIMIT_MAX + 1;
    expect_both(&m, SMEM_INVALID_PARAM);
    m = (store_msg_t){.type = STORE_MSG_ID_RELEASE, .key = "p", .key_len = 1, .id = STORE_ID_LIMIT_MAX};
    expect_both(&m, SMEM_INVALID_PARAM);

    /* The decoder applies the same checks: a join with world size 0. */
    uint8_t b[48];
    store_msg_t d;
    size_t n = body_key(b, "g", 1);
    memset(b + n, 0, 17);
    util_put_le32(b + n, 0);
    util_put_le32(b + n + 4, UINT32_MAX);
    assert_int_equal(store_msg_decode(STORE_MSG_GROUP_JOIN, b, n + 17, &d), SMEM_INVALID_PARAM);
    util_put_le32(b + n, 8);
    util_put_le32(b + n + 4, 8);
    assert_int_equal(store_msg_decode(STORE_MSG_GROUP_JOIN, b, n + 17, &d), SMEM_INVALID_PARAM);
    util_put_le32(b + n + 4, 7);
    util_put_le64(b + n + 8, 0x1234);
    assert_int_equal(store_msg_decode(STORE_MSG_GROUP_JOIN, b, n + 17, &d), 0);
    assert_int_equal(d.rank, 7);
    assert_int_equal(d.token, 0x1234);
    /* flags: RECLAIM needs a rank; unknown bits are refused */
    b[n + 16] = STORE_JOIN_F_RECLAIM;
    assert_int_equal(store_msg_decode(STORE_MSG_GROUP_JOIN, b, n + 17, &d), 0);
    assert_int_equal(d.flags, STORE_JOIN_F_RECLAIM);
    b[n + 16] = 0x80;
    assert_int_equal(store_msg_decode(STORE_MSG_GROUP_JOIN, b, n + 17, &d), SMEM_INVALID_PARAM);
    b[n + 16] = STORE_JOIN_F_RECLAIM;
    util_put_le32(b + n + 4, UINT32_MAX);
    assert_int_equal(store_msg_decode(STORE_MSG_GROUP_JOIN, b, n + 17, &d), SMEM_INVALID_PARAM);
    /* the old 8-byte join is short now */
    assert_int_equal(store_msg_decode(STORE_MSG_GROUP_JOIN, b, n + 8, &d), SMEM_PROTOCOL);
}

static void test_responses(void **state)
{
    (void)state;
    uint8_t b[32];
    const uint8_t *p;
    uint32_t n, v32;
    uint64_t v64;
    bool present;

    util_put_le32(b, 3);
    memcpy(b + 4, "abc", 3);
    assert_int_equal(store_resp_blob_decode(b, 7, 16, &p, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "abc", 3);
    assert_int_equal(store_resp_blob_decode(b, 6, 16, &p, &n), SMEM_PROTOCOL);
    assert_int_equal(store_resp_blob_decode(b, 8, 16, &p, &n), SMEM_PROTOCOL);
    assert_int_equal(store_resp_blob_decode(b, 7, 2, &p, &n), SMEM_TOO_LARGE);
    assert_int_equal(store_resp_blob_decode(NULL, 0, 16, &p, &n), SMEM_PROTOCOL);

    util_put_le32(b, 77);
    assert_int_equal(store_resp_u32_decode(b, 4, &v32), 0);
    assert_int_equal(v32, 77);
    assert_int_equal(store_resp_u32_decode(b, 3, &v32), SMEM_PROTOCOL);
    assert_int_equal(store_resp_u32_decode(b, 5, &v32), SMEM_PROTOCOL);
    util_put_le64(b, (uint64_t)-5);
    assert_int_equal(store_resp_u64_decode(b, 8, &v64), 0);
    assert_true((int64_t)v64 == -5);
    assert_int_equal(store_resp_u64_decode(b, 7, &v64), SMEM_PROTOCOL);
    assert_int_equal(store_resp_u64_decode(NULL, 0, &v64), SMEM_PROTOCOL);

    b[0] = 1;
    util_put_le32(b + 1, 2);
    b[5] = 'x';
    b[6] = 'y';
    assert_int_equal(store_resp_cas_decode(b, 7, &present, &p, &n), 0);
    assert_true(present);
    assert_int_equal(n, 2);
    b[0] = 0; /* absent but with bytes */
    assert_int_equal(store_resp_cas_decode(b, 7, &present, &p, &n), SMEM_PROTOCOL);
    util_put_le32(b + 1, 0);
    assert_int_equal(store_resp_cas_decode(b, 5, &present, &p, &n), 0);
    assert_false(present);
    b[0] = 2;
    assert_int_equal(store_resp_cas_decode(b, 5, &present, &p, &n), SMEM_PROTOCOL);
    assert_int_equal(store_resp_cas_decode(b, 4, &present, &p, &n), SMEM_PROTOCOL);

    char msg[8];
    util_put_le32(b, 5);
    memcpy(b + 4, "ab\ncd", 5);
    store_resp_errmsg_decode(b, 9, msg, sizeof(msg));
    assert_string_equal(msg, "ab?cd");
    store_resp_errmsg_decode(b, 8, msg, sizeof(msg)); /* short: no message */
    assert_string_equal(msg, "");
    util_put_le32(b, 12);
    memcpy(b + 4, "0123456789ab", 12);
    store_resp_errmsg_decode(b, 16, msg, sizeof(msg)); /* truncated to the buffer */
    assert_string_equal(msg, "0123456");
    store_resp_errmsg_decode(NULL, 0, msg, sizeof(msg));
    assert_string_equal(msg, "");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_version_and_type), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_value_limits), cmocka_unit_test(test_flags),
        cmocka_unit_test(test_ranges),       cmocka_unit_test(test_responses),
    };
    return TU_RUN_TESTS(argc, argv, tests, 0, NULL);
}
