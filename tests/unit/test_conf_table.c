/*
 * Configuration tables (util_conf rows): the walker's defaults, range and
 * enum errors with file:line, unknown keys, group keys, struct checks naming
 * the key, flags from the rows; and the services' real tables (defaults
 * parse and pass their own checks, keys and flags unique, the values the
 * public headers promise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/mmc_service.h"
#include "net/net.h"
#include "smem/host/smem_bm.h"
#include "smem/smem_bm_conf.h"
#include "tu_cmocka.h"
#include "util/util_conf.h"
#include "util/util_conf_cli.h"
#include "util/util_status.h"

typedef struct tc_inner {
    bool on;
    char path[16];
} tc_inner_t;

typedef struct tc_conf {
    char url[32];
    uint16_t pct;
    uint32_t count;
    uint64_t bytes;
    int32_t level;
    int32_t proto;
    tc_inner_t in;
} tc_conf_t;

static const char *const tc_levels[] = {"debug", "info", "warn", NULL};
static const char *const tc_protos[] = {"tcp", "shm", NULL};
static const util_conf_spec_t tc_inner_rows[] = {
    {.key = "enable", .type = UTIL_CONF_BOOL, UTIL_CONF_AT(tc_inner_t, on), .def = "true"},
    {.key = "path", .type = UTIL_CONF_STR, UTIL_CONF_AT(tc_inner_t, path), .def = "/x"},
};
static const util_conf_spec_t tc_rows[] = {
    {.key = "t.url", .type = UTIL_CONF_STR, UTIL_CONF_AT(tc_conf_t, url), .def = "tcp://h:1", .max = 20,
     .flags = UTIL_CONF_F_NONEMPTY, .flag = "url", .arg = "URL", .help = "where"},
    {.key = "t.pct", .type = UTIL_CONF_UINT, UTIL_CONF_AT(tc_conf_t, pct), .min = 1, .max = 100, .def = "90"},
    {.key = "t.count", .type = UTIL_CONF_UINT, UTIL_CONF_AT(tc_conf_t, count), .min = 1, .max = 1024, .def = "256",
     .flag = "count", .arg = "N"},
    {.key = "t.bytes", .type = UTIL_CONF_SIZE, UTIL_CONF_AT(tc_conf_t, bytes), .max = 1ll << 40, .def = "64MB"},
    {.key = "t.level", .type = UTIL_CONF_ENUM, UTIL_CONF_AT(tc_conf_t, level), .def = "info", .names = tc_levels,
     .flags = UTIL_CONF_F_NUM, .flag = "level", .arg = "L"},
    {.key = "t.proto", .type = UTIL_CONF_ENUM, UTIL_CONF_AT(tc_conf_t, proto), .def = "shm", .names = tc_protos},
    {.key = "t.in", .type = UTIL_CONF_GROUP, UTIL_CONF_AT(tc_conf_t, in), .sub = tc_inner_rows, .nsub = 2},
};
#define TC_ROWS tc_rows, UTIL_CONF_NROWS(tc_rows)

static int32_t tc_load(const char *text, tc_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(util_conf_defaults(TC_ROWS, c), SMEM_OK);
    return util_conf_load_buf("t.conf", text, strlen(text), TC_ROWS, c);
}

static void test_defaults(void **state)
{
    (void)state;
    tc_conf_t c;
    memset(&c, 0x5A, sizeof(c));
    assert_int_equal(util_conf_defaults(TC_ROWS, &c), SMEM_OK);
    assert_string_equal(c.url, "tcp://h:1");
    assert_int_equal(c.pct, 90);
    assert_int_equal(c.count, 256);
    assert_int_equal(c.bytes, 64ull << 20);
    assert_int_equal(c.level, 1);
    assert_int_equal(c.proto, 1);
    assert_true(c.in.on);
    assert_string_equal(c.in.path, "/x");
    assert_int_equal(util_conf_check(TC_ROWS, &c, -7), SMEM_OK);
}

static void test_range_line(void **state)
{
    (void)state;
    tc_conf_t c;
    assert_int_equal(tc_load("# c\nt.pct = 50\n\nt.count = 2000\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "t.conf:4: value 2000 of 't.count' is out of range [1, 1024]"));
    assert_int_equal(c.pct, 50);
    assert_int_equal(tc_load("t.pct = 101\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "t.conf:1"));
    assert_int_equal(tc_load("t.pct = 100\nt.bytes = 2TB\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "t.conf:2"));
    assert_int_equal(tc_load("t.url = 123456789012345678901\n", &c), SMEM_CONFIG); /* 21 > max 20 */
    assert_int_equal(tc_load("t.url =\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "must not be empty"));
    assert_int_equal(tc_load("t.pct = 7\nt.count = 3\nt.bytes = 2.5GB\n", &c), SMEM_OK);
    assert_int_equal(c.pct, 7);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.bytes, 5ull << 29);
}

static void test_enum_names(void **state)
{
    (void)state;
    tc_conf_t c;
    assert_int_equal(tc_load("t.level = WARN\nt.proto = tcp\n", &c), SMEM_OK);
    assert_int_equal(c.level, 2);
    assert_int_equal(c.proto, 0);
    assert_int_equal(tc_load("t.level = 0\n", &c), SMEM_OK); /* UTIL_CONF_F_NUM */
    assert_int_equal(c.level, 0);
    assert_int_equal(tc_load("t.proto = 1\n", &c), SMEM_CONFIG); /* names only */
    assert_non_null(strstr(util_err_get(), "t.conf:1: value '1' of 't.proto' is not tcp or shm"));
    assert_int_equal(tc_load("\nt.level = loud\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "t.conf:2: value 'loud' of 't.level' is not debug, info or warn (or 0..2)"));
    char buf[128];
    assert_string_equal(util_conf_values(&tc_rows[4], buf, sizeof(buf)), "debug, info or warn (or 0..2)");
    assert_string_equal(util_conf_values(&tc_rows[3], buf, sizeof(buf)), "0..1TB");
}

static void test_unknown_and_group(void **state)
{
    (void)state;
    tc_conf_t c;
    assert_int_equal(tc_load("t.pct = 5\nt.nope = 1\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "t.conf:2: unknown key 't.nope'"));
    assert_int_equal(tc_load("t.in = 1\n", &c), SMEM_CONFIG); /* a group is not a key */
    assert_int_equal(tc_load("t.in.pathx = 1\n", &c), SMEM_CONFIG);
    assert_int_equal(tc_load("t.in.enable = off\nt.in.path = /y\n", &c), SMEM_OK);
    assert_false(c.in.on);
    assert_string_equal(c.in.path, "/y");
    assert_int_equal(tc_load("t.in.path = /y\nt.in.path = /z\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "t.conf:2: key 't.in.path' repeated (first set on line 1)"));
}

static void test_check_names_key(void **state)
{
    (void)state;
    tc_conf_t c;
    util_conf_defaults(TC_ROWS, &c);
    c.count = 0;
    assert_int_equal(util_conf_check(TC_ROWS, &c, -7), -7);
    assert_string_equal(util_err_get(), "t.count 0 outside 1..1024");
    util_conf_defaults(TC_ROWS, &c);
    c.proto = 9;
    assert_int_equal(util_conf_check(TC_ROWS, &c, -7), -7);
    assert_string_equal(util_err_get(), "t.proto 9 unknown (tcp or shm)");
    util_conf_defaults(TC_ROWS, &c);
    memset(c.in.path, 'a', sizeof(c.in.path));
    assert_int_equal(util_conf_check(TC_ROWS, &c, -7), -7);
    assert_string_equal(util_err_get(), "t.in.path is not NUL-terminated");
    util_conf_lines_t lines = {{0}};
    lines.line[7] = 12; /* flat index of t.in.path: six rows, then the group's second */
    assert_int_equal(util_conf_line_of_msg(TC_ROWS, &lines, "t.in.path is bad"), 12);
    assert_int_equal(util_conf_line_of_msg(TC_ROWS, &lines, "no key here"), 0);
}

static void test_cli(void **state)
{
    (void)state;
    char *argv[] = {"prog", "--count", "7", "--config", "f.conf", "--level", "warn", NULL};
    util_conf_cli_t cli;
    tc_conf_t c;
    util_conf_defaults(TC_ROWS, &c);
    assert_int_equal(util_conf_cli_parse(7, argv, TC_ROWS, &cli), SMEM_OK);
    assert_string_equal(cli.config, "f.conf");
    assert_int_equal(util_conf_cli_apply(&cli, &c), SMEM_OK);
    assert_int_equal(c.count, 7);
    assert_int_equal(c.level, 2);
    char *bad[] = {"prog", "--count", "0", NULL};
    assert_int_equal(util_conf_cli_parse(3, bad, TC_ROWS, &cli), SMEM_OK);
    assert_int_equal(util_conf_cli_apply(&cli, &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "--count: value 0 of 't.count' is out of range [1, 1024]"));
    char *extra[] = {"prog", "stray", NULL};
    assert_int_equal(util_conf_cli_parse(2, extra, TC_ROWS, &cli), SMEM_INVALID_PARAM);
}

/* Keys and flags are unique, every default parses, and the defaults pass the table's own checks. */
static void tc_table_sound(const util_conf_spec_t *rows, size_t n, void *buf, size_t size)
{
    memset(buf, 0, size);
    assert_int_equal(util_conf_defaults(rows, n, buf), SMEM_OK);
    assert_int_equal(util_conf_check(rows, n, buf, -7), SMEM_OK);
    for (size_t i = 0; i < n; i++) {
        assert_true(rows[i].offset + rows[i].size <= size);
        for (size_t j = i + 1; j < n; j++) {
            if (rows[i].key && rows[j].key) assert_string_not_equal(rows[i].key, rows[j].key);
            if (rows[i].flag && rows[j].flag) assert_string_not_equal(rows[i].flag, rows[j].flag);
            if (rows[i].py && rows[j].py) assert_string_not_equal(rows[i].py, rows[j].py);
        }
    }
}

static void test_service_tables(void **state)
{
    (void)state;
    mmc_meta_service_config_t m;
    mmc_local_service_config_t l;
    smem_bm_config_t b;
    net_tls_opts_t t;
    tc_table_sound(mmc_meta_conf_table, mmc_meta_conf_rows, &m, sizeof(m));
    tc_table_sound(mmc_local_conf_table, mmc_local_conf_rows, &l, sizeof(l));
    tc_table_sound(sm_bm_conf_table, sm_bm_conf_rows, &b, sizeof(b));
    tc_table_sound(net_tls_conf_rows, NET_TLS_CONF_NROWS, &t, sizeof(t));
    /* What mmc_service.h and smem_bm.h promise. */
    mmc_meta_service_config_init(&m);
    assert_string_equal(m.discoveryURL, "tcp://127.0.0.1:5000");
    assert_string_equal(m.httpURL, "http://127.0.0.1:8000");
    assert_true(m.evictThresholdHigh == 90 && m.evictThresholdLow == 80 && m.logLevel == 1);
    assert_true(m.leaseTtlMs == 10000 && m.putTimeoutMs == 30000 && m.heartbeatTimeoutMs == 5000);
    assert_false(m.accTlsConfig.tlsEnable);
    mmc_local_service_config_init(&l);
    assert_string_equal(l.bmIpPort, "tcp://127.0.0.1:6000");
    assert_true(l.worldSize == 256 && l.protocol == MMC_PROTO_HOST_TCP && l.logLevel == 3);
    /* The seed's defaults (its mmc_config_const.h): 128 MB contributed, a 64 GB stride, no retry, 60 s. */
    assert_true(l.localDRAMSize == 128ull << 20 && l.localMaxDRAMSize == 64ull << 30 && l.localHBMSize == 0);
    assert_true(l.retryMilliseconds == 0 && l.timeoutSeconds == 60 && l.aggregateIO && l.aggregateNum == 122);
    assert_true(l.readThreadPoolSize == 32 && l.writeThreadPoolSize == 4 && strcmp(l.memoryPoolMode, "standard") == 0);
    assert_true(m.logRotationFileSize == 20 << 20 && m.logRotationFileCount == 50 && !m.ubsIoEnable);
    assert_int_equal(mmc_local_service_config_check(&l), MMC_OK);
    assert_int_equal(smem_bm_config_init(&b), 0);
    assert_true(b.initTimeout == 120 && b.rankId == 65535 && b.autoRanking && b.startConfigStoreServer);
    /* The client's rows name LocalService keys of the same width. */
    for (size_t i = 0; i < mmc_client_conf_rows; i++) {
        size_t off, flat;
        const util_conf_spec_t *r = util_conf_find(mmc_local_conf_table, mmc_local_conf_rows,
                                                   mmc_client_conf_table[i].key, &off, &flat);
        assert_non_null(r);
        assert_int_equal(r->size, mmc_client_conf_table[i].size);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_range_line),
        cmocka_unit_test(test_enum_names),      cmocka_unit_test(test_unknown_and_group),
        cmocka_unit_test(test_check_names_key), cmocka_unit_test(test_cli),
        cmocka_unit_test(test_service_tables),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
