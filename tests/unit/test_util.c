/* util: status strings, last-error message, logging, LE buffers, config files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <pthread.h>

#include "smem/host/smem.h"
#include "testutil.h"
#include "util/util_accept.h"
#include "util/util_buf.h"
#include "util/util_conf.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "tu_cmocka.h"

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(util_strerror(SMEM_TIMEOUT), "timed out");
    assert_string_equal(util_strerror(-123456), "unknown status");
    assert_string_equal(smem_strerror(SMEM_ERR_PEER_GONE), "peer gone");
}

static void *other_thread(void *arg)
{
    (void)arg;
    /* The message is per thread: this thread sees none, and its own set does not leak out. */
    int empty = smem_get_last_err_msg()[0] == '\0';
    util_err_set(SMEM_ERROR, "thread message");
    return (void *)(intptr_t)empty;
}

static void test_last_error(void **state)
{
    (void)state;
    assert_int_equal(util_err_set(SMEM_INVALID_PARAM, "bad size %d", 7), SMEM_INVALID_PARAM);
    assert_string_equal(smem_get_last_err_msg(), "bad size 7");
    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, &ret);
    assert_int_equal((intptr_t)ret, 1);
    assert_string_equal(smem_get_and_clear_last_err_msg(), "bad size 7");
    assert_string_equal(smem_get_last_err_msg(), "");
}

static int sink_calls;
static int sink_level;
static char sink_msg[512];
static void sink(int level, const char *msg)
{
    sink_calls++;
    sink_level = level;
    snprintf(sink_msg, sizeof(sink_msg), "%s", msg);
}

static void test_logging(void **state)
{
    (void)state;
    assert_int_equal(smem_set_extern_logger(NULL), SMEM_ERR_INVALID_PARAM);
    assert_int_equal(smem_set_log_level(7), SMEM_ERR_INVALID_PARAM);
    assert_int_equal(smem_set_log_level(-1), SMEM_ERR_INVALID_PARAM);
    assert_int_equal(smem_set_extern_logger(sink), 0);
    assert_int_equal(smem_set_log_level(SMEM_LOG_WARN), 0);
    sink_calls = 0;
    LOG_INFO("filtered %d", 1);
    assert_int_equal(sink_calls, 0);
    LOG_WARN("visible %d", 2);
    assert_int_equal(sink_calls, 1);
    assert_int_equal(sink_level, SMEM_LOG_WARN);
    assert_non_null(strstr(sink_msg, "visible 2"));
    util_log_sink_set(NULL);
    smem_set_log_level(SMEM_LOG_ERROR);
}

static void test_buf(void **state)
{
    (void)state;
    util_wbuf_t w;
    util_wbuf_init(&w);
    util_wbuf_u8(&w, 0xab);
    util_wbuf_u16(&w, 0x1234);
    util_wbuf_u32(&w, 0xdeadbeef);
    util_wbuf_u64(&w, 0x0102030405060708ull);
    util_wbuf_blob(&w, "hello", 5);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.len, 1 + 2 + 4 + 8 + 4 + 5);
    assert_int_equal(w.p[1], 0x34); /* little-endian */

    util_rbuf_t r;
    util_rbuf_init(&r, w.p, w.len);
    assert_int_equal(util_rbuf_u8(&r), 0xab);
    assert_int_equal(util_rbuf_u16(&r), 0x1234);
    assert_int_equal(util_rbuf_u32(&r), 0xdeadbeef);
    assert_true(util_rbuf_u64(&r) == 0x0102030405060708ull);
    uint32_t n;
    const char *s = util_rbuf_blob(&r, 16, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(s, "hello", 5);
    assert_int_equal(r.err, 0);
    assert_int_equal(util_rbuf_left(&r), 0);
    /* Reading past the end sets err and yields zeros. */
    assert_int_equal(util_rbuf_u32(&r), 0);
    assert_int_equal(r.err, 1);

    /* A blob longer than the max, or than the data, is rejected. */
    util_rbuf_init(&r, w.p + 15, w.len - 15);
    assert_null(util_rbuf_blob(&r, 4, &n));
    assert_int_equal(r.err, 1);
    uint8_t bad[6] = {0xff, 0xff, 0, 0, 'a', 'b'};
    util_rbuf_init(&r, bad, sizeof(bad));
    assert_null(util_rbuf_blob(&r, 1u << 20, &n));
    assert_int_equal(r.err, 1);

    size_t len;
    uint8_t *taken = util_wbuf_take(&w, &len);
    assert_int_equal(len, 24);
    free(taken);
    util_wbuf_fini(&w);
}

static void test_size_strings(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(util_conf_parse_size("134217728", &v), 0);
    assert_true(v == 134217728ull);
    assert_int_equal(util_conf_parse_size("2048KB", &v), 0);
    assert_true(v == 2048ull * 1024);
    assert_int_equal(util_conf_parse_size("200MB", &v), 0);
    assert_true(v == 200ull << 20);
    assert_int_equal(util_conf_parse_size("2.5GB", &v), 0);
    assert_true(v == 5ull << 29);
    assert_int_equal(util_conf_parse_size("1TB", &v), 0);
    assert_true(v == 1ull << 40);
    assert_int_equal(util_conf_parse_size("64 mb", &v), 0);
    assert_true(v == 64ull << 20);
    assert_int_equal(util_conf_parse_size("4KiB", &v), 0);
    assert_true(v == 4096);
    assert_int_equal(util_conf_parse_size("", &v), SMEM_INVALID_PARAM);
    assert_int_equal(util_conf_parse_size("-1MB", &v), SMEM_INVALID_PARAM);
    assert_int_equal(util_conf_parse_size("12XB", &v), SMEM_INVALID_PARAM);
    assert_int_equal(util_conf_parse_size("1.5", &v), SMEM_INVALID_PARAM); /* half a byte */
    assert_int_equal(util_conf_parse_size("1.MB", &v), SMEM_INVALID_PARAM);
    assert_int_equal(util_conf_parse_size("99999999999TB", &v), SMEM_OUT_OF_RANGE);
    assert_int_equal(util_conf_parse_size("18446744073709551616", &v), SMEM_OUT_OF_RANGE);
    assert_int_equal(util_conf_parse_size("5 MB x", &v), SMEM_INVALID_PARAM);
}

typedef struct conf {
    char url[64];
    int64_t world;
    uint64_t dram;
    bool tls;
} conf_t;

static const util_conf_spec_t specs[] = {
    {.key = "ock.mmc.meta_service_url", .type = UTIL_CONF_STR, .offset = offsetof(conf_t, url), .size = sizeof(((conf_t *)0)->url)},
    {.key = "ock.mmc.local_service.world_size", .type = UTIL_CONF_INT, .offset = offsetof(conf_t, world), .min = 1, .max = 1024},
    {.key = "ock.mmc.local_service.dram.size", .type = UTIL_CONF_SIZE, .offset = offsetof(conf_t, dram), .min = 4096, .max = 1ll << 42},
    {.key = "ock.mmc.tls.enable", .type = UTIL_CONF_BOOL, .offset = offsetof(conf_t, tls), .max = 1},
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

static int32_t load(const char *text, conf_t *c)
{
    memset(c, 0, sizeof(*c));
    c->world = 256; /* default kept when absent */
    return util_conf_load_buf("test.conf", text, strlen(text), specs, NSPECS, c);
}

static void test_conf_good(void **state)
{
    (void)state;
    conf_t c;
    assert_int_equal(load("# comment\n\n  ock.mmc.meta_service_url = tcp://127.0.0.1:5000  \n"
                          "ock.mmc.local_service.dram.size=2.5GB\nock.mmc.tls.enable = true\n", &c), 0);
    assert_string_equal(c.url, "tcp://127.0.0.1:5000");
    assert_true(c.dram == 5ull << 29);
    assert_true(c.tls);
    assert_int_equal(c.world, 256);
}

static void test_conf_bad(void **state)
{
    (void)state;
    conf_t c;
    assert_int_equal(load("ock.mmc.tls.enable = true\nock.mmc.unknown = 3\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "test.conf:2"));
    assert_non_null(strstr(util_err_get(), "unknown key 'ock.mmc.unknown'"));

    assert_int_equal(load("ock.mmc.tls.enable = true\n\nock.mmc.tls.enable = false\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "test.conf:3"));
    assert_non_null(strstr(util_err_get(), "repeated (first set on line 1)"));

    assert_int_equal(load("ock.mmc.local_service.world_size = 2000\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "test.conf:1"));
    assert_non_null(strstr(util_err_get(), "out of range [1, 1024]"));

    assert_int_equal(load("ock.mmc.local_service.world_size = 12abc\n", &c), SMEM_CONFIG);
    assert_int_equal(load("ock.mmc.local_service.dram.size = 1KB\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "out of range"));
    assert_int_equal(load("ock.mmc.local_service.dram.size = lots\n", &c), SMEM_CONFIG);
    /* The size parser's reason follows the line's context once (it was formatted into its own buffer). */
    assert_int_equal(load("ock.mmc.local_service.dram.size = 12XB\n", &c), SMEM_CONFIG);
    {
        const char *m = util_err_get(), *first = strstr(m, "is not a size");
        assert_non_null(first);
        assert_null(strstr(first + 1, "is not a size"));
        assert_non_null(strstr(m, "test.conf:1"));
        assert_null(strstr(strstr(m, "test.conf:1") + 1, "test.conf:1"));
    }
    assert_int_equal(load("ock.mmc.tls.enable = maybe\n", &c), SMEM_CONFIG);
    assert_int_equal(load("just some words\n", &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "expected 'key = value'"));
    assert_int_equal(load(" = 5\n", &c), SMEM_CONFIG);
    char longval[200];
    memset(longval, 'x', sizeof(longval));
    longval[sizeof(longval) - 1] = '\0';
    char text[300];
    snprintf(text, sizeof(text), "ock.mmc.meta_service_url = %s\n", longval);
    assert_int_equal(load(text, &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "at most 63"));
}

static void test_conf_file(void **state)
{
    (void)state;
    char dir[256], path[300];
    assert_int_equal(tu_mkdtemp(dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/x.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("ock.mmc.local_service.world_size = 8\nock.mmc.local_service.world_size = 9\n", f);
    fclose(f);
    conf_t c = {0};
    assert_int_equal(util_conf_load_file(path, specs, NSPECS, &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), path));
    assert_non_null(strstr(util_err_get(), ":2:"));
    assert_int_equal(util_conf_load_file("/nonexistent/x.conf", specs, NSPECS, &c), SMEM_CONFIG);
    assert_non_null(strstr(util_err_get(), "cannot open"));
    tu_rmdir_rf(dir);
}

static void test_tls_info(void **state)
{
    (void)state;
    assert_int_equal(smem_set_conf_store_tls(true, NULL, 0), SMEM_ERR_INVALID_PARAM);
    const char *bad = "tlsCaPath:/a;tlsBogus:/b";
    assert_int_equal(smem_set_conf_store_tls(true, bad, (uint32_t)strlen(bad)), SMEM_ERR_INVALID_PARAM);
    assert_non_null(strstr(smem_get_last_err_msg(), "tlsBogus"));
    const char *missing = "tlsCaPath:/a";
    assert_int_equal(smem_set_conf_store_tls(true, missing, (uint32_t)strlen(missing)), SMEM_ERR_INVALID_PARAM);
    const char *good = "tlsCaPath: /etc/ca.pem; tlsCert:/c.pem\ntlsPk=/k.pem;tlsPkPwd:/pw;tlsCrlPath:/crl.pem";
    assert_int_equal(smem_set_conf_store_tls(true, good, (uint32_t)strlen(good)), 0);
    assert_int_equal(smem_set_conf_store_tls(false, NULL, 0), 0);
    assert_int_equal(smem_set_config_store_tls_key(NULL, 0, NULL, 0, NULL), SMEM_ERR_INVALID_PARAM);
    assert_int_equal(smem_set_config_store_tls_key("pem", 3, NULL, 4, NULL), SMEM_ERR_INVALID_PARAM);
    assert_int_equal(smem_set_config_store_tls_key("pem", 3, "pw", 2, NULL), 0);
    assert_int_equal(smem_init(1), SMEM_ERR_INVALID_PARAM);
    assert_int_equal(smem_init(0), 0);
    smem_uninit();
}

/* util_err_wrap: context in front of the cause, the cause intact (and alone when there is no cause). */
static void test_err_wrap(void **state)
{
    (void)state;
    util_err_set(SMEM_TIMEOUT, "inner cause %d", 7);
    assert_int_equal(util_err_wrap(SMEM_CONN_FAILED, "outer %s", "context"), SMEM_CONN_FAILED);
    assert_string_equal(util_err_get(), "outer context: inner cause 7");
    util_err_clear();
    assert_int_equal(util_err_wrap(SMEM_IO, "only context"), SMEM_IO);
    assert_string_equal(util_err_get(), "only context");
    /* every code of the one list has its own message */
    assert_string_equal(smem_strerror(SMEM_ERR_IO), "I/O error");
    assert_string_equal(smem_strerror(SMEM_ERR_RECONNECT), "connection re-established, state lost");
    assert_string_equal(smem_strerror(-12345), "unknown status");
}

/* At the descriptor limit the pending connection is accepted with the spare
 * and closed (UTIL_ACCEPT_SHED), once per call, and logged once. */
static void test_acceptor_sheds(void **state)
{
    (void)state;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 16), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
    util_acceptor_t acc;
    util_acceptor_init(&acc);
    assert_true(acc.spare_fd >= 0);
    int c1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c1, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(connect(c2, (struct sockaddr *)&a, sizeof(a)), 0);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    lim = old;
    lim.rlim_cur = 128;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int fill[256], n = 0;
    while (n < 256 && (fill[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) n++;
    tu_log_capture_start(UTIL_LOG_WARN);
    assert_int_equal(util_acceptor_accept(&acc, l, NULL, NULL, SOCK_CLOEXEC, "test"), UTIL_ACCEPT_SHED);
    assert_int_equal(util_acceptor_accept(&acc, l, NULL, NULL, SOCK_CLOEXEC, "test"), UTIL_ACCEPT_SHED);
    assert_int_equal(util_acceptor_accept(&acc, l, NULL, NULL, SOCK_CLOEXEC, "test"), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_int_equal(acc.shed, 2);
    assert_true(tu_log_contains("dropped 1 connection(s)"));
    tu_log_capture_stop();
    assert_true(acc.spare_fd >= 0); /* taken back */
    char b;
    struct pollfd p = {.fd = c1, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 1000), 1);
    assert_int_equal(recv(c1, &b, 1, 0), 0); /* closed by the server side */
    for (int i = 0; i < n; i++) close(fill[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    int c3 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c3, (struct sockaddr *)&a, sizeof(a)), 0);
    p.fd = l;
    assert_int_equal(poll(&p, 1, 1000), 1);
    int fd = util_acceptor_accept(&acc, l, NULL, NULL, SOCK_CLOEXEC, "test");
    assert_true(fd >= 0); /* descriptors back: accepted as usual */
    close(fd);
    close(c1);
    close(c2);
    close(c3);
    util_acceptor_fini(&acc);
    close(l);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acceptor_sheds), cmocka_unit_test(test_err_wrap), cmocka_unit_test(test_strerror),   cmocka_unit_test(test_last_error), cmocka_unit_test(test_logging),
        cmocka_unit_test(test_buf),        cmocka_unit_test(test_size_strings), cmocka_unit_test(test_conf_good),
        cmocka_unit_test(test_conf_bad),   cmocka_unit_test(test_conf_file),  cmocka_unit_test(test_tls_info),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
