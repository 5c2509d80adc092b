/* Frame header codec, the incremental frame parser, and URL parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "net/net_int.h"
#include "util/util_status.h"
#include "tu_cmocka.h"

static net_frame_hdr_t sample_hdr(void)
{
    net_frame_hdr_t h = {.magic = NET_FRAME_MAGIC,
                         .version = NET_FRAME_VERSION,
                         .flags = NET_FLAG_RESPONSE,
                         .type = 0x1234,
                         .body_len = 77,
                         .status = -2105,
                         .req_id = 0x0102030405060708ull};
    return h;
}

static void test_hdr_round_trip(void **state)
{
    (void)state;
    net_frame_hdr_t h = sample_hdr(), d;
    uint8_t buf[NET_FRAME_HDR_SIZE];
    net_frame_hdr_encode(&h, buf);
    /* little-endian on the wire, whatever the host */
    assert_int_equal(buf[0], 'M');
    assert_int_equal(buf[1], 'F');
    assert_int_equal(buf[2], 'N');
    assert_int_equal(buf[3], 'T');
    assert_int_equal(buf[16], 0x08);
    assert_int_equal(buf[23], 0x01);
    assert_int_equal(net_frame_hdr_decode(buf, sizeof(buf), 1000, &d), SMEM_OK);
    assert_int_equal(d.magic, h.magic);
    assert_int_equal(d.version, h.version);
    assert_int_equal(d.flags, h.flags);
    assert_int_equal(d.type, h.type);
    assert_int_equal(d.body_len, h.body_len);
    assert_int_equal(d.status, h.status);
    assert_true(d.req_id == h.req_id);
    /* body_len == max_body is accepted */
    assert_int_equal(net_frame_hdr_decode(buf, sizeof(buf), 77, &d), SMEM_OK);
}

static void test_hdr_validation(void **state)
{
    (void)state;
    net_frame_hdr_t h = sample_hdr(), d;
    memset(&d, 0xAB, sizeof(d));
    net_frame_hdr_t untouched = d;
    uint8_t buf[NET_FRAME_HDR_SIZE];

    net_frame_hdr_encode(&h, buf);
    assert_int_equal(net_frame_hdr_decode(buf, NET_FRAME_HDR_SIZE - 1, 1000, &d), SMEM_INVALID_PARAM);
    assert_int_equal(net_frame_hdr_decode(NULL, NET_FRAME_HDR_SIZE, 1000, &d), SMEM_INVALID_PARAM);

    buf[0] ^= 0xFF;
    assert_int_equal(net_frame_hdr_decode(buf, sizeof(buf), 1000, &d), SMEM_PROTOCOL);
    assert_non_null(strstr(util_err_get(), "bad magic"));

    h = sample_hdr();
    h.version = 2;
    net_frame_hdr_encode(&h, buf);
    assert_int_equal(net_frame_hdr_decode(buf, sizeof(buf), 1000, &d), SMEM_PROTOCOL);
    assert_non_null(strstr(util_err_get(), "version"));

    h = sample_hdr();
    h.flags = 0x08;
    net_frame_hdr_encode(&h, buf);
    assert_int_equal(net_frame_hdr_decode(buf, sizeof(buf), 1000, &d), SMEM_PROTOCOL);
    assert_non_null(strstr(util_err_get(), "flag"));
    h.flags = 0x80 | NET_FLAG_PUSH;
    net_frame_hdr_encode(&h, buf);
    assert_int_equal(net_frame_hdr_decode(buf, sizeof(buf), 1000, &d), SMEM_PROTOCOL);

    h = sample_hdr();
    h.body_len = 0xFFFFFFFFu;
    net_frame_hdr_encode(&h, buf);
    assert_int_equal(net_frame_hdr_decode(buf, sizeof(buf), 1u << 20, &d), SMEM_TOO_LARGE);
    assert_non_null(strstr(util_err_get(), "4294967295"));
    assert_non_null(strstr(util_err_get(), "1048576"));

    /* failures leave the output alone */
    assert_memory_equal(&d, &untouched, sizeof(d));
}

/* Feed a byte stream in chunks of `chunk` bytes; count frames and bytes of bodies. */
static int32_t parse_stream(const uint8_t *data, size_t len, size_t chunk, uint32_t max_body, int *frames,
                            size_t *body_bytes, size_t *partial)
{
    net_frame_parser_t p;
    net_frame_parser_init(&p, max_body);
    *frames = 0;
    *body_bytes = 0;
    int32_t rc = SMEM_OK;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        size_t pos = 0;
        while (pos < n) {
            size_t used;
            rc = net_frame_parser_feed(&p, data + off + pos, n - pos, &used);
            if (rc != SMEM_OK) {
                goto out;
            }
            pos += used;
            if (net_frame_parser_ready(&p)) {
                (*frames)++;
                *body_bytes += p.hdr.body_len;
                for (uint32_t i = 0; i < p.hdr.body_len; i++) {
                    assert_int_equal(p.body[i], (uint8_t)(i * 7 + p.hdr.type));
                }
                net_frame_parser_next(&p);
            }
        }
        off += n;
    }
out:
    *partial = net_frame_parser_partial(&p);
    net_frame_parser_fini(&p);
    return rc;
}

static size_t put_frame(uint8_t *out, uint16_t type, uint32_t body_len)
{
    net_frame_hdr_t h = {.magic = NET_FRAME_MAGIC, .version = NET_FRAME_VERSION, .type = type, .body_len = body_len};
    net_frame_hdr_encode(&h, out);
    for (uint32_t i = 0; i < body_len; i++) {
        out[NET_FRAME_HDR_SIZE + i] = (uint8_t)(i * 7 + type);
    }
    return NET_FRAME_HDR_SIZE + body_len;
}

static void test_parser(void **state)
{
    (void)state;
    uint8_t stream[4096];
    size_t len = 0;
    len += put_frame(stream + len, 1, 0);
    len += put_frame(stream + len, 2, 100);
    len += put_frame(stream + len, 3, 1000);
    len += put_frame(stream + len, 4, 1);
    static const size_t chunks[] = {1, 2, 3, 23, 24, 25, 64, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        int frames;
        size_t body, partial;
        assert_int_equal(parse_stream(stream, len, chunks[i], 1000, &frames, &body, &partial), SMEM_OK);
        assert_int_equal(frames, 4);
        assert_int_equal(body, 1101);
        assert_int_equal(partial, 0);
        /* truncated: the last frame is incomplete and reported as partial */
        assert_int_equal(parse_stream(stream, len - 1, chunks[i], 1000, &frames, &body, &partial), SMEM_OK);
        assert_int_equal(frames, 3);
        assert_int_equal(partial, NET_FRAME_HDR_SIZE);
    }
    /* a frame over max_body is refused at its header: nothing is allocated */
    int frames;
    size_t body, partial;
    assert_int_equal(parse_stream(stream, len, 7, 999, &frames, &body, &partial), SMEM_TOO_LARGE);
    assert_int_equal(frames, 2);

    net_frame_parser_t p;
    net_frame_parser_init(&p, 100);
    uint8_t hdr[NET_FRAME_HDR_SIZE];
    put_frame(stream, 9, 50);
    memcpy(hdr, stream, sizeof(hdr));
    size_t used;
    assert_int_equal(net_frame_parser_feed(&p, hdr, 10, &used), SMEM_OK);
    assert_int_equal(used, 10);
    assert_int_equal(net_frame_parser_expected(&p), 0);
    assert_int_equal(net_frame_parser_feed(&p, hdr + 10, 14, &used), SMEM_OK);
    assert_int_equal(net_frame_parser_expected(&p), NET_FRAME_HDR_SIZE + 50);
    assert_int_equal(net_frame_parser_partial(&p), NET_FRAME_HDR_SIZE);
    assert_false(net_frame_parser_ready(&p));
    net_frame_parser_fini(&p);

    /* random garbage is refused with a protocol error */
    net_frame_parser_init(&p, 100);
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)(i * 37 + 11);
    }
    assert_int_equal(net_frame_parser_feed(&p, junk, sizeof(junk), &used), SMEM_PROTOCOL);
    net_frame_parser_fini(&p);
}

static void test_addr_parse(void **state)
{
    (void)state;
    net_addr_t a;
    assert_int_equal(net_addr_parse("tcp://1.2.3.4:5000", &a), SMEM_OK);
    assert_int_equal(a.family, AF_INET);
    assert_int_equal(a.len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), 5000);
    assert_string_equal(a.text, "tcp://1.2.3.4:5000");

    assert_int_equal(net_addr_parse("tcp://localhost:0", &a), SMEM_OK);
    assert_int_equal(a.family, AF_INET);
    assert_string_equal(a.text, "tcp://127.0.0.1:0");

    assert_int_equal(net_addr_parse("tcp://[::1]:65535", &a), SMEM_OK);
    assert_int_equal(a.family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port), 65535);
    assert_string_equal(a.text, "tcp://[::1]:65535");
    assert_int_equal(net_addr_parse("tcp://[0:0::0:1]:7", &a), SMEM_OK);
    assert_string_equal(a.text, "tcp://[::1]:7");

    assert_int_equal(net_addr_parse("unix:///tmp/x.sock", &a), SMEM_OK);
    assert_int_equal(a.family, AF_UNIX);
    assert_string_equal(((struct sockaddr_un *)&a.ss)->sun_path, "/tmp/x.sock");
    assert_string_equal(a.text, "unix:///tmp/x.sock");

    assert_int_equal(net_addr_parse("unix://@abc", &a), SMEM_OK);
    assert_int_equal(((struct sockaddr_un *)&a.ss)->sun_path[0], '\0');
    assert_memory_equal(((struct sockaddr_un *)&a.ss)->sun_path + 1, "abc", 3);
    assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) + 4);

    static const char *bad[] = {
        "",
        "tcp://",
        "tcp://1.2.3.4",
        "tcp://1.2.3.4:",
        "tcp://1.2.3.4:65536",
        "tcp://1.2.3.4:123456",
        "tcp://1.2.3.4:12a",
        "tcp://1.2.3.4:-1",
        "tcp://1.2.3:80",
        "tcp://999.1.1.1:80",
        "tcp://example.com:80",
        "tcp://::1:80",
        "tcp://[::1]80",
        "tcp://[::1:80",
        "tcp://[]:80",
        "tcp://[1.2.3.4]:80",
        "tcp://:80",
        "udp://1.2.3.4:80",
        "1.2.3.4:80",
        "unix://",
        "unix://relative/path",
        "unix://@",
        "garbage\xff\x01",
    };
    memset(&a, 0x5A, sizeof(a));
    net_addr_t untouched = a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        util_err_clear();
        int32_t rc = net_addr_parse(bad[i], &a);
        if (rc != SMEM_INVALID_PARAM) {
            fail_msg("'%s' parsed (rc %d)", bad[i], rc);
        }
        assert_true(strlen(util_err_get()) > 0);
    }
    char longpath[300] = "unix:///";
    memset(longpath + 8, 'a', 200);
    longpath[208] = '\0';
    assert_int_equal(net_addr_parse(longpath, &a), SMEM_INVALID_PARAM);
    assert_int_equal(net_addr_parse(NULL, &a), SMEM_INVALID_PARAM);
    assert_memory_equal(&a, &untouched, sizeof(a));
}

static void test_opts_defaults(void **state)
{
    (void)state;
    net_opts_t o;
    net_opts_init(&o);
    assert_int_equal(o.max_frame, 16u << 20);
    assert_int_equal(o.frame_timeout_ms, 10000);
    assert_int_equal(o.handshake_timeout_ms, 5000);
    assert_int_equal(o.idle_timeout_ms, 0);
    assert_true(o.max_outq_bytes == 256ull << 20);
    assert_null(o.tls);
    net_tls_opts_t t;
    net_tls_opts_init(&t);
    assert_true(t.verify_peer);
    net_rpc_opts_t r;
    net_rpc_opts_init(&r);
    assert_int_equal(r.backoff_init_ms, 50);
    assert_int_equal(r.backoff_max_ms, 2000);
    assert_int_equal(r.heartbeat_ms, 1000);
    assert_int_equal(r.connect_timeout_ms, 10000);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdr_round_trip), cmocka_unit_test(test_hdr_validation), cmocka_unit_test(test_parser),
        cmocka_unit_test(test_addr_parse),     cmocka_unit_test(test_opts_defaults),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
