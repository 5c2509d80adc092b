/*
 * The tcp transport (src/transport/tcp) on loopback: the wire decoders, round
 * trips of 1 B..64 MiB, 122-piece scatter/gather, concurrent callers, pieces
 * the resolver refuses, garbage / truncated / slow clients on the data port,
 * TLS 1.3, and a second process (this binary re-executed as "serve") that
 * is read, written, stopped (timeout) and killed mid-transfer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"
#include "transport/tcp/tcp.h"
#include "transport/tcp/tcp_proto.h"
#include "transport/tp.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"
#include "tu_cmocka.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define WIN 1u
#define WIN_SIZE (80 * MiB)

#define assert_err_contains(s)                                                                      \
    do {                                                                                            \
        if (strstr(util_err_get(), (s)) == NULL) fail_msg("'%s' not in '%s'", (s), util_err_get()); \
    } while (0)

/* ---------- a window the resolver exposes ---------- */

typedef struct mem_win {
    uint8_t *base;
    uint64_t size;
    int pins; /* atomic: pinned pieces right now */
    uint64_t resolves;
} mem_win_t;

static int32_t win_resolve(void *arg, uint32_t window, uint64_t off, uint64_t len, tp_access_t acc, tp_mem_t *out)
{
    mem_win_t *m = arg;
    (void)acc;
    if (window != WIN) return util_err_set(SMEM_OBJECT_NOT_EXISTS, "window %u is not exposed", window);
    if (off > m->size || len > m->size - off)
        return util_err_set(SMEM_OUT_OF_RANGE, "offset %llu + %llu bytes is beyond the %llu-byte window",
                            (unsigned long long)off, (unsigned long long)len, (unsigned long long)m->size);
    __atomic_add_fetch(&m->pins, 1, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&m->resolves, 1, __ATOMIC_RELAXED);
    out->ptr = m->base + off;
    out->pin = 42;
    return SMEM_OK;
}

static void win_release(void *arg, uint32_t window, const tp_mem_t *mem)
{
    mem_win_t *m = arg;
    assert_int_equal(window, WIN);
    assert_int_equal(mem->pin, 42);
    __atomic_sub_fetch(&m->pins, 1, __ATOMIC_ACQ_REL);
}

static uint64_t pat(uint32_t tag, uint64_t off)
{
    uint64_t x = ((uint64_t)(tag + 1) << 50) ^ (off * 0x9E3779B97F4A7C15ull);
    return x ^ (x >> 31);
}

static void fill(uint8_t *p, uint32_t tag, uint64_t off0, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++) p[i] = (uint8_t)pat(tag, (off0 + i) / 8) ^ (uint8_t)(off0 + i);
}

static bool check(const uint8_t *p, uint32_t tag, uint64_t off0, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++)
        if (p[i] != ((uint8_t)pat(tag, (off0 + i) / 8) ^ (uint8_t)(off0 + i))) {
            fprintf(stderr, "mismatch at +%llu of %llu (tag %u, offset %llu)\n", (unsigned long long)i,
                    (unsigned long long)len, tag, (unsigned long long)off0);
            return false;
        }
    return true;
}

static tp_iface_t *open_iface(mem_win_t *m, const char *name, uint32_t timeout_ms, net_tls_t *srv, net_tls_t *cli)
{
    tp_iface_cfg_t c;
    tp_iface_cfg_init(&c);
    c.name = name;
    c.listen_url = "tcp://127.0.0.1:0";
    c.resolver = (tp_resolver_t){.resolve = win_resolve, .release = win_release, .arg = m};
    c.timeout_ms = timeout_ms;
    c.tls_server = srv;
    c.tls_client = cli;
    tp_iface_t *i = NULL;
    int32_t rc = tp_iface_open(tp_select(TP_CAP_REMOTE | TP_CAP_HOST_MEM, 0), &c, &i);
    if (rc != SMEM_OK) fail_msg("iface open: %s", util_err_get());
    return i;
}

/* ---------- fixture: server A (window of WIN_SIZE), client iface B ---------- */

typedef struct fx {
    mem_win_t mw, cw;
    tp_iface_t *a, *b;
    tp_ep_t *ep;
    char addr[TP_ADDR_MAX + 1];
    uint8_t *src, *dst;
} fx_t;

static int fx_setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    f->mw.size = WIN_SIZE;
    f->mw.base = aligned_alloc(4096, WIN_SIZE);
    f->cw.size = 4096;
    f->cw.base = aligned_alloc(4096, 4096);
    f->src = aligned_alloc(4096, 66 * MiB);
    f->dst = aligned_alloc(4096, 66 * MiB);
    memset(f->mw.base, 0, WIN_SIZE);
    f->a = open_iface(&f->mw, "A", 1500, NULL, NULL);
    f->b = open_iface(&f->cw, "B", 1500, NULL, NULL);
    assert_int_equal(tp_iface_addr(f->a, f->addr, sizeof(f->addr)), SMEM_OK);
    assert_int_equal(strncmp(f->addr, "tcp://127.0.0.1:", 16), 0);
    assert_int_equal(tp_ep_connect(f->b, f->addr, &f->ep), SMEM_OK);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *f = *state;
    tp_ep_close(f->ep);
    tp_iface_close(f->b);
    tp_iface_close(f->a);
    assert_int_equal(f->mw.pins, 0); /* every resolve was released */
    free(f->mw.base);
    free(f->cw.base);
    free(f->src);
    free(f->dst);
    free(f);
    return 0;
}

/* ---------- wire format ---------- */

static void test_proto(void **state)
{
    (void)state;
    uint8_t h[TCP_REQ_HDR_SIZE];
    tcp_req_t r = {.op = TCP_OP_WRITE, .window = 3, .npieces = 2, .seq = 99, .offset = 10, .length = 5, .total = 12}, o;
    tcp_req_encode(&r, h);
    assert_int_equal(tcp_req_decode(h, sizeof(h), &o), SMEM_OK);
    assert_int_equal(o.window, 3);
    assert_int_equal(o.seq, 99);
    assert_int_equal(o.total, 12);
    assert_int_equal(tcp_req_decode(h, sizeof(h) - 1, &o), SMEM_PROTOCOL);
    uint8_t t[TCP_PIECE_SIZE];
    tcp_span_t sp[2];
    tcp_span_encode(&(tcp_span_t){.offset = 100, .length = 7}, t);
    assert_int_equal(tcp_req_check(&o, t, sizeof(t), sp), SMEM_OK);
    assert_int_equal(sp[1].offset, 100);
    tcp_span_encode(&(tcp_span_t){.offset = 100, .length = 6}, t);
    assert_int_equal(tcp_req_check(&o, t, sizeof(t), sp), SMEM_PROTOCOL);
    assert_err_contains("add up");
    tcp_span_encode(&(tcp_span_t){.offset = UINT64_MAX - 2, .length = 7}, t);
    assert_int_equal(tcp_req_check(&o, t, sizeof(t), sp), SMEM_PROTOCOL);
    assert_err_contains("wraps");
    assert_int_equal(tcp_req_check(&o, t, sizeof(t) - 1, sp), SMEM_PROTOCOL);
    h[0] ^= 1;
    assert_int_equal(tcp_req_decode(h, sizeof(h), &o), SMEM_PROTOCOL);
    assert_err_contains("magic");
    h[0] ^= 1;
    h[4] = 9;
    assert_int_equal(tcp_req_decode(h, sizeof(h), &o), SMEM_PROTOCOL);
    assert_err_contains("version");
    h[4] = 1;
    h[6] = 7;
    assert_int_equal(tcp_req_decode(h, sizeof(h), &o), SMEM_PROTOCOL);
    h[6] = TCP_OP_READ;
    h[12] = 0; /* npieces 0 */
    assert_int_equal(tcp_req_decode(h, sizeof(h), &o), SMEM_PROTOCOL);

    uint8_t rb[TCP_RESP_SIZE];
    tcp_resp_t rs = {.op = TCP_OP_READ | TCP_OP_RESP, .status = SMEM_OUT_OF_RANGE, .seq = 5}, ro;
    tcp_resp_encode(&rs, rb);
    assert_int_equal(tcp_resp_decode(rb, sizeof(rb), &ro), SMEM_OK);
    assert_int_equal(ro.status, SMEM_OUT_OF_RANGE);
    rs.length = 4; /* an error with payload */
    tcp_resp_encode(&rs, rb);
    assert_int_equal(tcp_resp_decode(rb, sizeof(rb), &ro), SMEM_PROTOCOL);
}

/* ---------- loopback, one process ---------- */

static void roundtrip(fx_t *f, uint64_t off, uint64_t len, uint32_t tag)
{
    fill(f->src, tag, 0, len);
    memset(f->dst, 0xee, len);
    tp_piece_t p = {.local = f->src, .offset = off, .len = len};
    assert_int_equal(tp_put(f->ep, WIN, &p, 1), SMEM_OK);
    assert_true(check(f->mw.base + off, tag, 0, len)); /* the put returned: the bytes are there */
    p.local = f->dst;
    assert_int_equal(tp_get(f->ep, WIN, &p, 1), SMEM_OK);
    assert_true(check(f->dst, tag, 0, len));
}

static void test_roundtrip_sizes(void **state)
{
    fx_t *f = *state;
    static const uint64_t sizes[] = {1, 2, 7, 48, 4095, 4096, 65537, MiB - 1, MiB, MiB + 1, 3 * MiB + 17, 64 * MiB};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) roundtrip(f, 4096 * i + i, sizes[i], (uint32_t)i);
    roundtrip(f, WIN_SIZE - 5, 5, 99); /* the last bytes of the window */
}

static void test_scatter_gather_122(void **state)
{
    fx_t *f = *state;
    tp_piece_t p[122];
    uint64_t loff = 0;
    for (uint32_t i = 0; i < 122; i++) {
        uint64_t len = i % 3 == 0 ? 128 * KiB : i % 3 == 1 ? 16 * KiB + i : 1 + i;
        p[i] = (tp_piece_t){.local = f->src + loff, .offset = (uint64_t)(121 - i) * 200 * KiB + 3, .len = len};
        loff += len;
    }
    fill(f->src, 7, 0, loff);
    assert_int_equal(tp_put(f->ep, WIN, p, 122), SMEM_OK);
    loff = 0;
    for (uint32_t i = 0; i < 122; i++) {
        assert_true(check(f->mw.base + p[i].offset, 7, loff, p[i].len));
        loff += p[i].len;
    }
    memset(f->dst, 0, loff);
    for (uint32_t i = 0, o = 0; i < 122; o += (uint32_t)p[i].len, i++) p[i].local = f->dst + o;
    uint64_t before = f->mw.resolves;
    assert_int_equal(tp_get(f->ep, WIN, p, 122), SMEM_OK);
    assert_true(check(f->dst, 7, 0, loff));
    assert_true(f->mw.resolves - before >= 122);
}

typedef struct worker {
    fx_t *f;
    uint32_t id;
    int failures;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    uint64_t region = 8 * MiB, off = w->id * region;
    uint8_t *s = malloc(region), *d = malloc(region);
    for (int it = 0; it < 6; it++) {
        uint64_t len = it % 2 ? region : 3 * KiB + (uint64_t)it;
        fill(s, 20 + w->id, (uint64_t)it, len);
        tp_piece_t p = {.local = s, .offset = off, .len = len};
        if (tp_put(w->f->ep, WIN, &p, 1) != SMEM_OK) w->failures++;
        p.local = d;
        if (tp_get(w->f->ep, WIN, &p, 1) != SMEM_OK || !check(d, 20 + w->id, (uint64_t)it, len)) w->failures++;
    }
    free(s);
    free(d);
    return NULL;
}

static void test_concurrent_callers(void **state)
{
    fx_t *f = *state;
    pthread_t th[6];
    worker_t w[6];
    for (uint32_t i = 0; i < 6; i++) {
        w[i] = (worker_t){.f = f, .id = i};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (uint32_t i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
}

static void test_out_of_range(void **state)
{
    fx_t *f = *state;
    tu_log_capture_start(UTIL_LOG_WARN);
    memset(f->mw.base + WIN_SIZE - 4096, 0x5a, 4096);
    fill(f->src, 3, 0, 8192);
    tp_piece_t p = {.local = f->src, .offset = WIN_SIZE - 4096, .len = 4097};
    assert_int_equal(tp_put(f->ep, WIN, &p, 1), SMEM_OUT_OF_RANGE);
    assert_err_contains("offset");
    for (int i = 0; i < 4096; i++) assert_int_equal(f->mw.base[WIN_SIZE - 4096 + i], 0x5a); /* nothing written */
    assert_true(tu_log_contains("window 1"));
    assert_true(tu_log_contains("offset 83881984"));
    assert_true(tu_log_contains("length 4097"));
    assert_true(tu_log_contains("127.0.0.1:")); /* names the peer */
    p.offset = WIN_SIZE + 1;
    p.len = 1;
    assert_int_equal(tp_get(f->ep, WIN, &p, 1), SMEM_OUT_OF_RANGE);
    p.offset = UINT64_MAX - 10;
    p.len = 10;
    assert_int_equal(tp_get(f->ep, WIN, &p, 1), SMEM_OUT_OF_RANGE);
    p.offset = 0;
    assert_int_equal(tp_get(f->ep, 5, &p, 1), SMEM_OBJECT_NOT_EXISTS); /* a window nobody exposes */
    /* One bad piece among good ones fails the request; nothing of it is written. */
    tp_piece_t two[2] = {{.local = f->src, .offset = 0, .len = 100}, {.local = f->src, .offset = WIN_SIZE, .len = 1}};
    memset(f->mw.base, 0x11, 100);
    assert_int_equal(tp_put(f->ep, WIN, two, 2), SMEM_OUT_OF_RANGE);
    assert_int_equal(f->mw.base[0], 0x11);
    /* bad input on our side */
    p = (tp_piece_t){.local = NULL, .offset = 0, .len = 1};
    assert_int_equal(tp_put(f->ep, WIN, &p, 1), SMEM_INVALID_PARAM);
    p = (tp_piece_t){.local = f->src, .offset = 0, .len = 0};
    assert_int_equal(tp_put(f->ep, WIN, &p, 1), SMEM_INVALID_PARAM);
    assert_int_equal(tp_put(f->ep, WIN, &p, 0), SMEM_INVALID_PARAM);
    tu_log_capture_stop();
    roundtrip(f, 0, 1000, 4); /* the connections still serve */
}

static int raw_dial(const char *addr)
{
    unsigned port = 0;
    sscanf(addr, "tcp://127.0.0.1:%u", &port);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    return s;
}

static void raw_read(int s, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(s, buf + got, n - got, 0);
        if (r <= 0) fail_msg("reading %zu bytes from the server: %zd (%s)", n, r, strerror(errno));
        got += (size_t)r;
    }
}

/* A raw client of the protocol: connect and take the server's HELLO (flags out, optional). */
static int raw_connect_hello(const char *addr, tcp_hello_t *hello)
{
    int s = raw_dial(addr);
    uint8_t b[TCP_HELLO_SIZE];
    tcp_hello_t h;
    raw_read(s, b, sizeof(b));
    assert_int_equal(tcp_hello_decode(b, sizeof(b), TCP_OP_HELLO, &h), SMEM_OK);
    if (hello) *hello = h;
    return s;
}

static int raw_connect(const char *addr) { return raw_connect_hello(addr, NULL); }

/* Whether the server closed s within ms (read returns 0 or an error). */
static bool closed_within(int s, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char b[64];
    ssize_t n = recv(s, b, sizeof(b), 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void test_bad_clients(void **state)
{
    fx_t *f = *state;
    tu_log_capture_start(UTIL_LOG_WARN);
    /* garbage */
    int s = raw_connect(f->addr);
    char junk[64];
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(send(s, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
    assert_true(closed_within(s, 3000));
    close(s);
    assert_true(tu_log_contains("bad request header"));
    assert_true(tu_log_contains("bad magic"));
    /* a valid header announcing a table that never comes, then a close: truncated */
    uint8_t h[TCP_REQ_HDR_SIZE];
    tcp_req_encode(&(tcp_req_t){.op = TCP_OP_READ, .window = WIN, .npieces = 3, .seq = 1, .offset = 0, .length = 8,
                                .total = 24},
                   h);
    s = raw_connect(f->addr);
    assert_int_equal(send(s, h, sizeof(h), 0), (ssize_t)sizeof(h));
    close(s);
    /* a header cut in half */
    s = raw_connect(f->addr);
    assert_int_equal(send(s, h, 20, 0), 20);
    close(s);
    /* a slow client: half a header, then silence past the server's 1.5 s limit */
    int slow = raw_connect(f->addr);
    assert_int_equal(send(slow, h, 10, 0), 10);
    uint64_t t0 = util_now_ms();
    roundtrip(f, 0, 2 * MiB, 5); /* meanwhile the server keeps serving */
    assert_true(closed_within(slow, 5000));
    uint64_t took = util_now_ms() - t0;
    assert_true(took >= 1000 && took < 4500);
    close(slow);
    /* a table whose lengths do not add up */
    s = raw_connect(f->addr);
    uint8_t tb[2 * TCP_PIECE_SIZE];
    tcp_span_encode(&(tcp_span_t){.offset = 0, .length = 8}, tb);
    tcp_span_encode(&(tcp_span_t){.offset = 8, .length = 100}, tb + TCP_PIECE_SIZE);
    assert_int_equal(send(s, h, sizeof(h), 0), (ssize_t)sizeof(h));
    assert_int_equal(send(s, tb, sizeof(tb), 0), (ssize_t)sizeof(tb));
    assert_true(closed_within(s, 3000));
    close(s);
    usleep(100000);
    assert_true(tu_log_contains("cut short"));
    assert_true(tu_log_contains("no progress in time"));
    assert_true(tu_log_contains("add up"));
    tu_log_capture_stop();
    roundtrip(f, 4 * MiB, 3 * MiB, 6);
}

static tp_iface_t *open_iface_cred(mem_win_t *m, const char *name, const char *cred)
{
    tp_iface_cfg_t c;
    tp_iface_cfg_init(&c);
    c.name = name;
    c.listen_url = "tcp://127.0.0.1:0";
    c.resolver = (tp_resolver_t){.resolve = win_resolve, .release = win_release, .arg = m};
    c.timeout_ms = 1500;
    c.cred = (const uint8_t *)cred;
    c.cred_len = cred ? (uint32_t)strlen(cred) : 0;
    tp_iface_t *i = NULL;
    int32_t rc = tp_iface_open(&tp_tcp_ops, &c, &i);
    if (rc != SMEM_OK) fail_msg("iface open: %s", util_err_get());
    return i;
}

/* The cluster credential: a server holding one serves only peers that prove
 * it (and proves it back); everyone else is refused before a byte of memory
 * moves, and the refusals are logged (at most one line a second). */
static void test_credential(void **state)
{
    (void)state;
    mem_win_t m = {.size = 1 * MiB, .base = calloc(1, 1 * MiB)}, m2 = {.size = 4096, .base = malloc(4096)};
    memset(m.base, 0x77, 1 * MiB);
    tp_iface_t *srv = open_iface_cred(&m, "cred-A", "the cluster secret, 32 bytes ok!");
    tp_iface_t *good = open_iface_cred(&m2, "cred-B", "the cluster secret, 32 bytes ok!");
    tp_iface_t *wrong = open_iface_cred(&m2, "cred-C", "another cluster's secret........");
    tp_iface_t *none = open_iface_cred(&m2, "cred-D", NULL);
    char addr[TP_ADDR_MAX + 1], open_addr[TP_ADDR_MAX + 1];
    assert_int_equal(tp_iface_addr(srv, addr, sizeof(addr)), SMEM_OK);
    assert_int_equal(tp_iface_addr(none, open_addr, sizeof(open_addr)), SMEM_OK);
    uint8_t buf[4096];
    tp_piece_t p = {.local = buf, .offset = 4096, .len = sizeof(buf)};

    /* a member: reads and writes */
    tp_ep_t *ep = NULL;
    assert_int_equal(tp_ep_connect(good, addr, &ep), SMEM_OK);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(tp_get(ep, WIN, &p, 1), SMEM_OK);
    assert_int_equal(buf[0], 0x77);
    memset(buf, 0x42, sizeof(buf));
    assert_int_equal(tp_put(ep, WIN, &p, 1), SMEM_OK);
    assert_int_equal(m.base[4096], 0x42);
    tp_ep_close(ep);

    tu_log_capture_start(UTIL_LOG_WARN);
    /* no credential, a wrong one: refused at connect, nothing read */
    ep = NULL;
    assert_int_equal(tp_ep_connect(none, addr, &ep), SMEM_AUTH);
    assert_err_contains("cluster credential");
    assert_int_equal(tp_ep_connect(wrong, addr, &ep), SMEM_AUTH);
    assert_err_contains("another cluster credential");
    /* a member does not talk to a server that is not one (it could be anyone's) */
    assert_int_equal(tp_ep_connect(good, open_addr, &ep), SMEM_AUTH);
    assert_err_contains("does not ask");

    /* a raw client that ignores the HELLO and asks for memory */
    tcp_hello_t h;
    int s = raw_connect_hello(addr, &h);
    assert_int_equal(h.flags, TCP_HELLO_F_PROOF);
    uint8_t hdr[TCP_REQ_HDR_SIZE];
    tcp_req_encode(&(tcp_req_t){.op = TCP_OP_READ, .window = WIN, .npieces = 1, .seq = 1, .offset = 0, .length = 64,
                                .total = 64},
                   hdr);
    uint8_t junk[TCP_HELLO_SIZE] = {0};
    memcpy(junk, hdr, sizeof(hdr));
    assert_int_equal(send(s, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
    assert_true(closed_within(s, 3000)); /* closed, no response, no byte of the window */
    close(s);
    /* a replayed proof: the nonce is new each time, an old MAC fails */
    uint8_t pb[TCP_HELLO_SIZE];
    tcp_hello_t pr = {.op = TCP_OP_PROOF};
    const char *key = "the cluster secret, 32 bytes ok!";
    s = raw_connect_hello(addr, &h);
    assert_true(tcp_mac_client((const uint8_t *)key, strlen(key), h.a, pr.a));
    tcp_hello_encode(&pr, pb);
    assert_int_equal(send(s, pb, sizeof(pb), 0), (ssize_t)sizeof(pb));
    uint8_t back[TCP_HELLO_SIZE];
    raw_read(s, back, sizeof(back)); /* the server's proof: a right one opens the door */
    tcp_hello_t bk;
    assert_int_equal(tcp_hello_decode(back, sizeof(back), TCP_OP_PROOF, &bk), SMEM_OK);
    uint8_t want[TCP_MAC_SIZE];
    assert_true(tcp_mac_server((const uint8_t *)key, strlen(key), pr.b, h.a, want));
    assert_memory_equal(want, bk.a, TCP_MAC_SIZE);
    close(s);
    usleep(1100000); /* past the one-line-a-second limit of the rejection log */
    s = raw_connect_hello(addr, NULL); /* same proof, new nonce */
    assert_int_equal(send(s, pb, sizeof(pb), 0), (ssize_t)sizeof(pb));
    assert_true(closed_within(s, 3000));
    close(s);
    usleep(100000);
    assert_true(tu_log_contains("rejected"));
    assert_true(tu_log_contains("does not match the cluster credential"));
    /* many knocks, few lines */
    size_t before = tu_log_count("rejected");
    for (int i = 0; i < 30; i++) {
        s = raw_connect(addr);
        assert_int_equal(send(s, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
        assert_true(closed_within(s, 3000));
        close(s);
    }
    usleep(100000);
    assert_true(tu_log_count("rejected") - before <= 3);
    tu_log_capture_stop();

    /* bad credential settings */
    tp_iface_cfg_t c;
    tp_iface_cfg_init(&c);
    c.name = "bad";
    c.resolver = (tp_resolver_t){.resolve = win_resolve, .release = win_release, .arg = &m2};
    uint8_t big[TP_CRED_MAX + 1] = {0};
    c.cred = big;
    c.cred_len = sizeof(big);
    tp_iface_t *i = NULL;
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_INVALID_PARAM);
    c.cred_len = 0;
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_INVALID_PARAM);
    c.cred = NULL;
    c.cred_len = 8;
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_INVALID_PARAM);

    tp_iface_close(none);
    tp_iface_close(wrong);
    tp_iface_close(good);
    tp_iface_close(srv);
    assert_int_equal(m.pins, 0);
    free(m.base);
    free(m2.base);
}

/* Idle sockets never lock peers out: with the server at its connection cap,
 * a new peer gets in (the longest-idle connection is closed to make room),
 * and a client whose pooled connection the server closed while it was idle
 * redials it instead of failing the copy. */
static void test_idle_cap(void **state)
{
    fx_t *f = *state;
    roundtrip(f, 0, 4096, 7); /* B's pooled connection to A is now idle */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    lim = old;
    if (lim.rlim_cur < 4096) lim.rlim_cur = lim.rlim_max < 4096 ? lim.rlim_max : 4096;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_cur < 2 * TCP_SERVER_CONNS_MAX + 64) {
        setrlimit(RLIMIT_NOFILE, &old);
        skip(); /* cannot hold the sockets for both ends */
    }
    enum { N = TCP_SERVER_CONNS_MAX + 8 };
    static int idle[N];
    tu_log_capture_start(UTIL_LOG_WARN);
    for (int i = 0; i < N; i++) idle[i] = raw_connect(f->addr);
    /* the server has reached the cap and made room by closing idle ones, oldest first: B's among them */
    uint64_t end = util_now_ms() + 10000;
    while (!tu_log_contains("closed the one idle longest") && util_now_ms() < end) usleep(10000);
    assert_true(tu_log_contains("closed the one idle longest"));
    /* a new client gets in and is served */
    tp_ep_t *ep2 = NULL;
    assert_int_equal(tp_ep_connect(f->b, f->addr, &ep2), SMEM_OK);
    fill(f->src, 9, 0, 4096);
    tp_piece_t p = {.local = f->src, .offset = 16384, .len = 4096};
    assert_int_equal(tp_put(ep2, WIN, &p, 1), SMEM_OK); /* the old server refused it: 1,024 idle sockets held the cap */
    assert_true(check(f->mw.base + 16384, 9, 0, 4096));
    /* B's old endpoint finds its pooled connection closed and redials: no failed copy */
    roundtrip(f, 8192, 4096, 8);
    tu_log_capture_stop();
    for (int i = 0; i < N; i++) close(idle[i]);
    tp_ep_close(ep2);
    setrlimit(RLIMIT_NOFILE, &old);
}

static void test_many_pieces(void **state)
{
    fx_t *f = *state;
    /* 10000 pieces of 1..64 bytes: more than one request's piece limit */
    uint32_t n = 10000;
    tp_piece_t *p = calloc(n, sizeof(*p));
    uint64_t lo = 0;
    for (uint32_t i = 0; i < n; i++) {
        p[i] = (tp_piece_t){.local = f->src + lo, .offset = (uint64_t)i * 128, .len = 1 + i % 64};
        lo += p[i].len;
    }
    fill(f->src, 8, 0, lo);
    assert_int_equal(tp_put(f->ep, WIN, p, n), SMEM_OK);
    lo = 0;
    for (uint32_t i = 0; i < n; i++) {
        p[i].local = f->dst + lo;
        lo += p[i].len;
    }
    memset(f->dst, 0, lo);
    assert_int_equal(tp_get(f->ep, WIN, p, n), SMEM_OK);
    assert_true(check(f->dst, 8, 0, lo));
    free(p);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    mem_win_t m = {.size = 4096, .base = malloc(4096)};
    tp_iface_t *i = open_iface(&m, "C", 1000, NULL, NULL);
    tp_ep_t *ep = NULL;
    assert_int_equal(tp_ep_connect(i, "udp://1.2.3.4:5", &ep), SMEM_INVALID_PARAM);
    assert_int_equal(tp_ep_connect(i, "tcp://127.0.0.1", &ep), SMEM_INVALID_PARAM);
    assert_int_equal(tp_ep_connect(i, "", &ep), SMEM_INVALID_PARAM);
    /* nobody listens there */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    bind(s, (struct sockaddr *)&a, sizeof(a));
    getsockname(s, (struct sockaddr *)&a, &l);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(a.sin_port));
    close(s);
    assert_int_equal(tp_ep_connect(i, url, &ep), SMEM_CONN_FAILED);
    assert_err_contains(url + 6);
    tp_iface_close(i);
    /* listen addresses: subnet form picks the loopback interface; a bad one is refused */
    tp_iface_cfg_t c;
    tp_iface_cfg_init(&c);
    c.resolver = (tp_resolver_t){.resolve = win_resolve, .release = win_release, .arg = &m};
    c.listen_url = "tcp://127.0.0.0/8:0";
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_OK);
    char addr[TP_ADDR_MAX + 1];
    assert_int_equal(tp_iface_addr(i, addr, sizeof(addr)), SMEM_OK);
    assert_int_equal(strncmp(addr, "tcp://127.", 10), 0);
    tp_iface_close(i);
    c.listen_url = "tcp://203.0.113.0/24:0";
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_INVALID_PARAM);
    assert_err_contains("no local interface");
    c.listen_url = "tcp://10.0.0.0/40:0";
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_INVALID_PARAM);
    c.listen_url = NULL; /* auto: the address that reaches the store */
    c.reach_url = "tcp://127.0.0.1:9";
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_OK);
    assert_int_equal(tp_iface_addr(i, addr, sizeof(addr)), SMEM_OK);
    assert_int_equal(strncmp(addr, "tcp://127.0.0.1:", 16), 0);
    tp_iface_close(i);
    c.listen_url = "tcp://0.0.0.0:0"; /* wildcard: neither TLS nor a credential, so refused by the listen policy */
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_INSECURE);
    assert_err_contains("refusing to listen on tcp://0.0.0.0:0");
    static const uint8_t key[16] = {1, 2, 3};
    c.cred = key; /* a credential that is not private does not count */
    c.cred_len = sizeof(key);
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_INSECURE);
    c.cred_private = true; /* a private one guards the port */
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_OK);
    tp_iface_close(i);
    c.cred = NULL;
    c.cred_len = 0;
    c.cred_private = false;
    c.expose.allow_insecure = true; /* the switch; the wildcard publishes a concrete address */
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_OK);
    assert_int_equal(tp_iface_addr(i, addr, sizeof(addr)), SMEM_OK);
    assert_int_equal(strncmp(addr, "tcp://127.0.0.1:", 16), 0);
    tp_iface_close(i);
    c.expose.allow_insecure = false;
    c.resolver.resolve = NULL;
    assert_int_equal(tp_iface_open(&tp_tcp_ops, &c, &i), SMEM_INVALID_PARAM);
    assert_non_null(tp_select(TP_CAP_REMOTE | TP_CAP_HOST_MEM, 64 * MiB));
    assert_null(tp_select(TP_CAP_DEVICE_MEM, 0));
    free(m.base);
}

static void test_tls(void **state)
{
    (void)state;
    char dir[256], cmd[700];
    assert_int_equal(tu_mkdtemp(dir, sizeof(dir)), 0);
    snprintf(cmd, sizeof(cmd), "bash '%s/scripts/gen-test-certs.sh' '%s' >/dev/null 2>&1", tu_source_dir(), dir);
    assert_int_equal(system(cmd), 0);
    net_tls_opts_t so, co;
    net_tls_opts_init(&so);
    snprintf(so.ca_path, sizeof(so.ca_path), "%s/ca.pem", dir);
    snprintf(so.cert_path, sizeof(so.cert_path), "%s/server.pem", dir);
    snprintf(so.key_path, sizeof(so.key_path), "%s/server.key", dir);
    co = so;
    snprintf(co.cert_path, sizeof(co.cert_path), "%s/client.pem", dir);
    snprintf(co.key_path, sizeof(co.key_path), "%s/client.key", dir);
    net_tls_t *ts = NULL, *tc = NULL;
    assert_int_equal(net_tls_create(&so, true, &ts), SMEM_OK);
    assert_int_equal(net_tls_create(&co, false, &tc), SMEM_OK);
    mem_win_t m = {.size = 16 * MiB, .base = malloc(16 * MiB)}, m2 = {.size = 4096, .base = malloc(4096)};
    tp_iface_t *a = open_iface(&m, "tls-A", 3000, ts, tc), *b = open_iface(&m2, "tls-B", 3000, ts, tc);
    char addr[TP_ADDR_MAX + 1];
    assert_int_equal(tp_iface_addr(a, addr, sizeof(addr)), SMEM_OK);
    tp_ep_t *ep = NULL;
    assert_int_equal(tp_ep_connect(b, addr, &ep), SMEM_OK);
    uint8_t *s = malloc(16 * MiB), *d = malloc(16 * MiB);
    fill(s, 9, 0, 16 * MiB);
    tp_piece_t p[3] = {{.local = s, .offset = 0, .len = 12 * MiB},
                       {.local = s + 12 * MiB, .offset = 13 * MiB, .len = 1},
                       {.local = s + 12 * MiB + 1, .offset = 14 * MiB, .len = 2 * MiB}};
    assert_int_equal(tp_put(ep, WIN, p, 3), SMEM_OK);
    assert_true(check(m.base + 14 * MiB, 9, 12 * MiB + 1, 2 * MiB));
    for (int i = 0; i < 3; i++) p[i].local = d + ((uint8_t *)p[i].local - s);
    assert_int_equal(tp_get(ep, WIN, p, 3), SMEM_OK);
    assert_true(check(d, 9, 0, 12 * MiB + 1 + 2 * MiB));
    /* a plain client cannot talk to the TLS server */
    tu_log_capture_start(UTIL_LOG_WARN);
    mem_win_t m3 = {.size = 4096, .base = malloc(4096)};
    tp_iface_t *plain = open_iface(&m3, "plain", 1500, NULL, NULL);
    tp_ep_t *pep = NULL;
    int32_t rc = tp_ep_connect(plain, addr, &pep);
    if (rc == SMEM_OK) {
        tp_piece_t q = {.local = d, .offset = 0, .len = 10};
        assert_int_not_equal(tp_get(pep, WIN, &q, 1), SMEM_OK);
        tp_ep_close(pep);
    }
    tp_iface_close(plain);
    usleep(100000);
    assert_true(tu_log_contains("rejected"));
    tu_log_capture_stop();
    tp_ep_close(ep);
    tp_iface_close(b);
    tp_iface_close(a);
    net_tls_destroy(ts);
    net_tls_destroy(tc);
    free(s);
    free(d);
    free(m.base);
    free(m2.base);
    free(m3.base);
    tu_rmdir_rf(dir);
}

/* ---------- two processes ---------- */

static int serve_main(void)
{
    mem_win_t m = {.size = 64 * MiB, .base = aligned_alloc(4096, 64 * MiB)};
    fill(m.base, 77, 0, 64 * MiB);
    tp_iface_t *i = open_iface(&m, "child", 2000, NULL, NULL);
    char addr[TP_ADDR_MAX + 1];
    tp_iface_addr(i, addr, sizeof(addr));
    printf("%s\n", addr);
    fflush(stdout);
    for (;;) pause(); /* until the test kills us (or dies: PR_SET_PDEATHSIG) */
    tp_iface_close(i);
    return 0;
}

typedef struct bg {
    tp_ep_t *ep;
    uint8_t *buf;
    int32_t rc;
    uint64_t end_ms;
    bool stop;
} bg_t;

static void *bg_main(void *arg)
{
    bg_t *b = arg;
    tp_piece_t p = {.local = b->buf, .offset = 0, .len = 64 * MiB};
    for (int i = 0; i < 1000 && !__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE); i++) {
        b->rc = (i % 2) ? tp_put(b->ep, WIN, &p, 1) : tp_get(b->ep, WIN, &p, 1);
        if (b->rc != SMEM_OK) break;
    }
    b->end_ms = util_now_ms();
    return NULL;
}

static void test_two_processes(void **state)
{
    (void)state;
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    char *argv[] = {self, "serve", NULL};
    pid_t pid;
    int out = -1;
    assert_int_equal(tu_spawn(argv, &pid, &out), 0);
    char addr[TP_ADDR_MAX + 1];
    assert_true(tu_read_line(out, addr, sizeof(addr), 10000) > 0);
    close(out);

    mem_win_t m = {.size = 4096, .base = malloc(4096)};
    tp_iface_t *me = open_iface(&m, "parent", 1500, NULL, NULL);
    tp_ep_t *ep = NULL;
    assert_int_equal(tp_ep_connect(me, addr, &ep), SMEM_OK);
    uint8_t *buf = aligned_alloc(4096, 64 * MiB), *back = aligned_alloc(4096, 64 * MiB);
    tp_piece_t p = {.local = buf, .offset = 0, .len = 64 * MiB};
    assert_int_equal(tp_get(ep, WIN, &p, 1), SMEM_OK);
    assert_true(check(buf, 77, 0, 64 * MiB));
    fill(buf, 78, 0, 64 * MiB);
    assert_int_equal(tp_put(ep, WIN, &p, 1), SMEM_OK);
    p.local = back;
    assert_int_equal(tp_get(ep, WIN, &p, 1), SMEM_OK);
    assert_true(check(back, 78, 0, 64 * MiB));

    /* Stopped peer (a host that hangs): the call fails with SMEM_TIMEOUT within the 1.5 s limit. */
    kill(pid, SIGSTOP);
    usleep(50000);
    uint64_t t0 = util_now_ms();
    p.len = 32 * MiB;
    int32_t rc = tp_get(ep, WIN, &p, 1);
    uint64_t took = util_now_ms() - t0;
    assert_int_equal(rc, SMEM_TIMEOUT);
    assert_true(took >= 1400 && took < 4000);
    kill(pid, SIGCONT);
    usleep(100000);
    p.len = 4096;
    assert_int_equal(tp_get(ep, WIN, &p, 1), SMEM_OK); /* killed connections are re-dialled */

    /* Killed mid-transfer: the caller's error comes at once, not after the timeout. */
    bg_t b = {.ep = ep, .buf = buf};
    pthread_t th;
    pthread_create(&th, NULL, bg_main, &b);
    usleep(150000);
    uint64_t killed = util_now_ms();
    kill(pid, SIGKILL);
    pthread_join(th, NULL);
    assert_true(b.rc == SMEM_PEER_GONE || b.rc == SMEM_CONN_FAILED || b.rc == SMEM_TIMEOUT);
    assert_true(b.end_ms - killed < 1500);
    int st;
    waitpid(pid, &st, 0);
    /* later calls fail fast: nobody listens any more */
    t0 = util_now_ms();
    assert_int_not_equal(tp_get(ep, WIN, &p, 1), SMEM_OK);
    assert_true(util_now_ms() - t0 < 1500);
    tp_ep_close(ep);
    tp_iface_close(me);
    free(buf);
    free(back);
    free(m.base);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "serve") == 0) return serve_main();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto),
        cmocka_unit_test_setup_teardown(test_roundtrip_sizes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_scatter_gather_122, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_callers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_clients, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_many_pieces, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_idle_cap, fx_setup, fx_teardown),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_credential),
        cmocka_unit_test(test_two_processes),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
