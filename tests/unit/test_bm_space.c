/*
 * The space's member record, the one decoder of store bytes that space
 * owns: round trip, every truncation, trailing bytes, bad version/reserved
 * bits, an over-long or NUL-holding transport address; the base record's
 * cluster secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "space/space.h"
#include "util/util_status.h"
#include "tu_cmocka.h"

static void test_rec_roundtrip(void **state)
{
    (void)state;
    space_rec_t r;
    memset(&r, 0, sizeof(r));
    r.rank = 1023;
    r.gen = 0x0123456789abcdefull;
    r.size = 4ull << 30;
    assert_int_equal(gva_host_id_get(&r.host), 0);
    strcpy(r.tp_addr, "tcp://10.0.0.1:18888");
    r.tp_addr_len = (uint16_t)strlen(r.tp_addr);
    uint8_t buf[SPACE_REC_FIXED + SPACE_TP_ADDR_MAX + 1];
    uint32_t n = space_rec_encode(&r, buf, sizeof(buf));
    assert_int_equal(n, SPACE_REC_FIXED + r.tp_addr_len);
    space_rec_t d;
    assert_int_equal(space_rec_decode(buf, n, &d), 0);
    assert_int_equal(d.rank, r.rank);
    assert_true(d.gen == r.gen && d.size == r.size);
    assert_true(gva_host_id_equal(&d.host, &r.host));
    assert_string_equal(d.tp_addr, r.tp_addr);
    for (uint32_t cut = 0; cut < n; cut++) assert_int_equal(space_rec_decode(buf, cut, &d), SMEM_PROTOCOL);
    buf[n] = 'x';
    assert_int_equal(space_rec_decode(buf, n + 1, &d), SMEM_PROTOCOL); /* trailing byte */
    buf[0] = 2;
    assert_int_equal(space_rec_decode(buf, n, &d), SMEM_PROTOCOL); /* version */
    buf[0] = 1;
    buf[2] = 1;
    assert_int_equal(space_rec_decode(buf, n, &d), SMEM_PROTOCOL); /* reserved */
    buf[2] = 0;
    buf[SPACE_REC_FIXED + 3] = '\0';
    assert_int_equal(space_rec_decode(buf, n, &d), SMEM_PROTOCOL); /* NUL in the address */
    r.tp_addr_len = SPACE_TP_ADDR_MAX + 1;
    assert_int_equal(space_rec_encode(&r, buf, sizeof(buf)), 0);
    assert_int_equal(space_rec_encode(&r, buf, 10), 0);
    /* No transport address: the fixed part alone. */
    r.tp_addr_len = 0;
    n = space_rec_encode(&r, buf, sizeof(buf));
    assert_int_equal(n, SPACE_REC_FIXED);
    assert_int_equal(space_rec_decode(buf, n, &d), 0);
    assert_string_equal(d.tp_addr, "");
}

/* The base record carries the cluster secret; one without it (version 1, or all zero) does not decode. */
static void test_base_secret(void **state)
{
    (void)state;
    space_base_rec_t b = {.kind = GVA_KIND_HOST, .world_max = 4, .stride = GVA_ALIGN, .base = 64 * GVA_ALIGN,
                          .token = 7};
    for (uint32_t i = 0; i < SPACE_SECRET_SIZE; i++) b.secret[i] = (uint8_t)(0xa0 + i);
    uint8_t buf[SPACE_BASE_SIZE];
    space_base_encode(&b, buf);
    space_base_rec_t d;
    assert_int_equal(space_base_decode("t/base", buf, sizeof(buf), &d), 0);
    assert_memory_equal(d.secret, b.secret, SPACE_SECRET_SIZE);
    assert_true(d.base == b.base && d.token == b.token);
    assert_int_equal(space_base_decode("t/base", buf, 32, &d), SMEM_PROTOCOL); /* a version-1 length */
    buf[0] = 1;
    assert_int_equal(space_base_decode("t/base", buf, sizeof(buf), &d), SMEM_PROTOCOL);
    buf[0] = SPACE_BASE_VERSION;
    memset(buf + SPACE_BASE_SIZE - SPACE_SECRET_SIZE, 0, SPACE_SECRET_SIZE);
    assert_int_equal(space_base_decode("t/base", buf, sizeof(buf), &d), SMEM_PROTOCOL);
    assert_non_null(strstr(util_err_get(), "secret"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rec_roundtrip), cmocka_unit_test(test_base_secret)};
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
