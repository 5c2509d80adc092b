/*
 * Hostile and broken peers against a real echo server: random bytes, a
 * truncated frame, an oversized length field, a slow-loris header, and TLS
 * clients without a certificate, with an untrusted or a revoked one. Each is
 * closed with a WARN naming the reason, while a well-behaved client on the
 * same server keeps getting answers. Also encrypted keys (password file,
 * decrypt callback, key in memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "net/net.h"
#include "testutil.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"
#include "tu_cmocka.h"

enum { T_ECHO = 1 };

static char g_certs[256];

static void srv_on_frame(net_conn_t *c, const net_frame_hdr_t *hdr, const uint8_t *body, void *arg)
{
    (void)arg;
    net_frame_hdr_t r = {.type = hdr->type, .flags = NET_FLAG_RESPONSE, .req_id = hdr->req_id};
    (void)net_conn_send(c, &r, body, hdr->body_len);
}

typedef struct srv {
    net_loop_t *loop;
    net_listener_t *l;
    char url[64];
} srv_t;

static void srv_start(srv_t *s, net_opts_t *o)
{
    s->loop = net_loop_create("srv");
    assert_non_null(s->loop);
    net_conn_cbs_t cbs = {.on_frame = srv_on_frame};
    assert_int_equal(net_listen(s->loop, "tcp://127.0.0.1:0", o, &cbs, &s->l), SMEM_OK);
    snprintf(s->url, sizeof(s->url), "tcp://127.0.0.1:%u", net_listener_port(s->l));
}

static void srv_stop(srv_t *s)
{
    net_listener_close(s->l);
    net_loop_destroy(s->loop);
}

static int raw_connect(const char *url)
{
    net_addr_t a;
    assert_int_equal(net_addr_parse(url, &a), SMEM_OK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a.ss, a.len), 0);
    return fd;
}

/* True when the server closed fd (EOF or reset) within timeout_ms. */
static bool raw_wait_closed(int fd, int timeout_ms)
{
    uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int64_t left = util_ms_left(deadline);
        if (left == 0) {
            return false;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) {
            continue;
        }
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            return true;
        }
    }
}

static bool log_wait(const char *a, const char *b, int timeout_ms)
{
    uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
    do {
        if (tu_log_contains(a) && (b == NULL || tu_log_contains(b))) {
            return true;
        }
        usleep(5000);
    } while (util_ms_left(deadline) > 0);
    fprintf(stderr, "log did not show '%s' / '%s'\n", a, b ? b : "");
    return false;
}

static void good_call(net_rpc_t *rpc)
{
    int32_t status;
    uint8_t *resp = NULL;
    uint32_t len = 0;
    assert_int_equal(net_rpc_call(rpc, T_ECHO, "still here", 10, 3000, &status, &resp, &len), SMEM_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(resp, "still here", 10);
    free(resp);
}

static void hdr_bytes(uint8_t out[NET_FRAME_HDR_SIZE], uint32_t body_len)
{
    net_frame_hdr_t h = {.magic = NET_FRAME_MAGIC, .version = NET_FRAME_VERSION, .type = T_ECHO, .body_len = body_len};
    net_frame_hdr_encode(&h, out);
}

static void test_bad_plain_clients(void **state)
{
    (void)state;
    net_opts_t o;
    net_opts_init(&o);
    o.frame_timeout_ms = 300;
    o.max_frame = 1u << 20;
    srv_t s;
    srv_start(&s, &o);
    net_rpc_t *rpc = NULL;
    assert_int_equal(net_rpc_create(s.url, NULL, &rpc), SMEM_OK);
    good_call(rpc);
    tu_log_capture_start(UTIL_LOG_WARN);

    /* (a) random bytes */
    tu_log_clear();
    int fd = raw_connect(s.url);
    uint8_t junk[256];
    srand(12345);
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)rand();
    }
    junk[0] = 0x00; /* never the magic by chance */
    assert_int_equal(send(fd, junk, sizeof(junk), MSG_NOSIGNAL), (ssize_t)sizeof(junk));
    assert_true(raw_wait_closed(fd, 2000));
    assert_true(log_wait("bad magic", "rejecting connection from 127.0.0.1", 2000));
    close(fd);
    good_call(rpc);

    /* (b) a truncated frame, then the peer closes */
    tu_log_clear();
    fd = raw_connect(s.url);
    uint8_t frame[NET_FRAME_HDR_SIZE + 10];
    hdr_bytes(frame, 100);
    memset(frame + NET_FRAME_HDR_SIZE, 'x', 10);
    assert_int_equal(send(fd, frame, sizeof(frame), MSG_NOSIGNAL), (ssize_t)sizeof(frame));
    usleep(20000);
    close(fd);
    assert_true(log_wait("mid-frame", "34 of 124 bytes", 2000));
    good_call(rpc);

    /* (c) an oversized length field: refused at the header, nothing allocated */
    tu_log_clear();
    fd = raw_connect(s.url);
    hdr_bytes(frame, 0x7FFFFFFFu);
    assert_int_equal(send(fd, frame, NET_FRAME_HDR_SIZE, MSG_NOSIGNAL), NET_FRAME_HDR_SIZE);
    assert_true(raw_wait_closed(fd, 2000));
    assert_true(log_wait("body_len 2147483647 exceeds max_frame 1048576", NULL, 2000));
    close(fd);
    good_call(rpc);

    /* (d) slow loris: one header byte every 50 ms */
    tu_log_clear();
    fd = raw_connect(s.url);
    hdr_bytes(frame, 5);
    uint64_t t0 = util_now_ms();
    bool closed = false;
    for (int i = 0; i < NET_FRAME_HDR_SIZE && !closed; i++) {
        if (send(fd, frame + i, 1, MSG_NOSIGNAL) != 1) {
            closed = true;
            break;
        }
        closed = raw_wait_closed(fd, 50);
        good_call(rpc); /* served all along */
    }
    if (!closed) {
        closed = raw_wait_closed(fd, 2000);
    }
    assert_true(closed);
    uint64_t dt = util_now_ms() - t0;
    assert_true(dt >= 250 && dt < 2000);
    assert_true(log_wait("slow frame", "timeout", 2000));
    close(fd);

    /* a plain client on a clean close logs nothing at WARN */
    tu_log_clear();
    fd = raw_connect(s.url);
    close(fd);
    usleep(50000);
    good_call(rpc);
    assert_false(tu_log_contains("127.0.0.1"));

    tu_log_capture_stop();
    net_rpc_destroy(rpc);
    srv_stop(&s);
}

/* ---------- TLS ---------- */
static void certs_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_certs, name); }

static void tls_opts(net_tls_opts_t *t, const char *cert, const char *key)
{
    net_tls_opts_init(t);
    certs_path(t->ca_path, sizeof(t->ca_path), "ca.pem");
    if (cert != NULL) {
        certs_path(t->cert_path, sizeof(t->cert_path), cert);
        certs_path(t->key_path, sizeof(t->key_path), key);
    }
}

typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int frames, closes;
    int32_t reason;
} waiter_t;

static void w_frame(net_conn_t *c, const net_frame_hdr_t *h, const uint8_t *b, void *arg)
{
    (void)c;
    (void)h;
    (void)b;
    waiter_t *w = arg;
    pthread_mutex_lock(&w->lock);
    w->frames++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void w_close(net_conn_t *c, int32_t reason, void *arg)
{
    (void)c;
    waiter_t *w = arg;
    pthread_mutex_lock(&w->lock);
    w->closes++;
    w->reason = reason;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* 1: the echo came back; 0: the client was turned away (connect failed or the link closed). */
static int tls_echo(const char *url, net_tls_t *tls)
{
    net_loop_t *loop = net_loop_create("tlscli");
    waiter_t w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    net_conn_cbs_t cbs = {.on_frame = w_frame, .on_close = w_close, .arg = &w};
    net_opts_t o;
    net_opts_init(&o);
    o.tls = tls;
    net_conn_t *c = NULL;
    int result = 0;
    if (net_connect(loop, url, &o, &cbs, 3000, &c) == SMEM_OK) {
        net_frame_hdr_t h = {.type = T_ECHO, .req_id = 1};
        (void)net_conn_send(c, &h, "hello", 5);
        struct timespec ts = util_abstime_after_ms(3000);
        pthread_mutex_lock(&w.lock);
        while (w.frames == 0 && w.closes == 0) {
            if (pthread_cond_timedwait(&w.cond, &w.lock, &ts) != 0) {
                break;
            }
        }
        result = w.frames > 0 ? 1 : (w.closes > 0 ? 0 : -1);
        pthread_mutex_unlock(&w.lock);
        net_conn_close(c);
        net_conn_put(c);
    }
    net_loop_destroy(loop);
    return result;
}

static int tls_client_echo(const char *url, const char *cert, const char *key)
{
    net_tls_opts_t t;
    tls_opts(&t, cert, key);
    net_tls_t *tls;
    assert_int_equal(net_tls_create(&t, false, &tls), SMEM_OK);
    int r = tls_echo(url, tls);
    net_tls_destroy(tls);
    return r;
}

/* Toy "encryption" for the decrypt callback: the password reversed, after "ENC:". */
static int toy_decrypt(const char *cipher, size_t cipher_len, char *plain, size_t *plain_len)
{
    if (cipher_len < 4 || memcmp(cipher, "ENC:", 4) != 0 || cipher_len - 4 > *plain_len) {
        return -1;
    }
    size_t n = cipher_len - 4;
    for (size_t i = 0; i < n; i++) {
        plain[i] = cipher[4 + n - 1 - i];
    }
    *plain_len = n;
    return 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    *len = fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

static void test_tls(void **state)
{
    (void)state;
    net_tls_opts_t st;
    tls_opts(&st, "server.pem", "server.key");
    certs_path(st.crl_path, sizeof(st.crl_path), "crl.pem");
    net_tls_t *stls;
    assert_int_equal(net_tls_create(&st, true, &stls), SMEM_OK);
    net_opts_t so;
    net_opts_init(&so);
    so.tls = stls;
    so.handshake_timeout_ms = 300;
    srv_t s;
    srv_start(&s, &so);

    /* a good, mutually authenticated rpc client, used throughout */
    net_tls_opts_t ct;
    tls_opts(&ct, "client.pem", "client.key");
    net_tls_t *ctls;
    assert_int_equal(net_tls_create(&ct, false, &ctls), SMEM_OK);
    net_rpc_opts_t ro;
    net_rpc_opts_init(&ro);
    ro.net.tls = ctls;
    net_rpc_t *rpc = NULL;
    assert_int_equal(net_rpc_create(s.url, &ro, &rpc), SMEM_OK);
    good_call(rpc);
    assert_int_equal(tls_client_echo(s.url, "client.pem", "client.key"), 1);
    /* the server certificate names localhost too */
    char lurl[64];
    snprintf(lurl, sizeof(lurl), "tcp://localhost:%s", strrchr(s.url, ':') + 1);
    assert_int_equal(tls_client_echo(lurl, "client.pem", "client.key"), 1);

    tu_log_capture_start(UTIL_LOG_WARN);
    tu_log_clear();
    assert_int_equal(tls_client_echo(s.url, NULL, NULL), 0);
    assert_true(log_wait("TLS handshake with 127.0.0.1", "did not return a certificate", 2000));
    good_call(rpc);

    tu_log_clear();
    assert_int_equal(tls_client_echo(s.url, "untrusted-client.pem", "untrusted-client.key"), 0);
    assert_true(log_wait("TLS handshake with 127.0.0.1", "unable to get local issuer certificate", 2000));
    good_call(rpc);

    tu_log_clear();
    assert_int_equal(tls_client_echo(s.url, "revoked-client.pem", "revoked-client.key"), 0);
    assert_true(log_wait("TLS handshake with 127.0.0.1", "certificate revoked", 2000));
    good_call(rpc);

    /* plain text against a TLS server, and a client that never starts the handshake */
    tu_log_clear();
    int fd = raw_connect(s.url);
    uint8_t hdr[NET_FRAME_HDR_SIZE];
    hdr_bytes(hdr, 0);
    assert_int_equal(send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL), NET_FRAME_HDR_SIZE);
    assert_true(raw_wait_closed(fd, 2000));
    close(fd);
    assert_true(log_wait("TLS handshake with 127.0.0.1", "failed", 2000));
    tu_log_clear();
    fd = raw_connect(s.url);
    assert_true(raw_wait_closed(fd, 2000));
    close(fd);
    assert_true(log_wait("TLS handshake with 127.0.0.1", "timed out after 300 ms", 2000));
    good_call(rpc);
    tu_log_capture_stop();

    /* encrypted client key: password from a file */
    net_tls_opts_t et;
    tls_opts(&et, "client.pem", "client-enc.key");
    certs_path(et.key_pass_path, sizeof(et.key_pass_path), "client-enc.pass");
    net_tls_t *etls;
    assert_int_equal(net_tls_create(&et, false, &etls), SMEM_OK);
    assert_int_equal(tls_echo(s.url, etls), 1);
    net_tls_destroy(etls);

    /* ... through the decrypt callback, and with the key itself in memory */
    char pass_path[300];
    certs_path(pass_path, sizeof(pass_path), "client-enc.pass");
    size_t plen;
    char *pass = read_all(pass_path, &plen);
    while (plen > 0 && pass[plen - 1] == '\n') {
        plen--;
    }
    char enc[128] = "ENC:";
    for (size_t i = 0; i < plen; i++) {
        enc[4 + i] = pass[plen - 1 - i];
    }
    char key_path[300];
    certs_path(key_path, sizeof(key_path), "client-enc.key");
    size_t klen;
    char *key_pem = read_all(key_path, &klen);
    tls_opts(&et, "client.pem", "client-enc.key");
    et.key_path[0] = '\0';
    et.key_pem = key_pem;
    et.key_pem_len = klen;
    et.key_pass = enc;
    et.key_pass_len = 4 + plen;
    et.decrypt = toy_decrypt;
    assert_int_equal(net_tls_create(&et, false, &etls), SMEM_OK);
    assert_int_equal(tls_echo(s.url, etls), 1);
    net_tls_destroy(etls);

    /* wrong password, missing files: clear errors at create time */
    tls_opts(&et, "client.pem", "client-enc.key");
    et.key_pass = "nope";
    et.key_pass_len = 4;
    assert_int_equal(net_tls_create(&et, false, &etls), SMEM_TLS);
    assert_non_null(strstr(util_err_get(), "client-enc.key"));
    tls_opts(&et, "client.pem", "client-enc.key");
    et.key_pass = "garbage";
    et.key_pass_len = 7;
    et.decrypt = toy_decrypt;
    assert_int_equal(net_tls_create(&et, false, &etls), SMEM_TLS);
    assert_non_null(strstr(util_err_get(), "decrypt"));
    tls_opts(&et, "missing.pem", "client.key");
    assert_int_equal(net_tls_create(&et, false, &etls), SMEM_TLS);
    assert_non_null(strstr(util_err_get(), "missing.pem"));
    /* a client context cannot listen */
    net_opts_t bad;
    net_opts_init(&bad);
    bad.tls = ctls;
    net_listener_t *l;
    net_conn_cbs_t cbs = {0};
    assert_int_equal(net_listen(s.loop, "tcp://127.0.0.1:0", &bad, &cbs, &l), SMEM_INVALID_PARAM);
    free(pass);
    free(key_pem);

    good_call(rpc);
    net_rpc_destroy(rpc);
    srv_stop(&s);
    net_tls_destroy(ctls);
    net_tls_destroy(stls);
}

/* Out of file descriptors, the listener must not spin: a connection it cannot
 * take is accepted with the spare fd and closed at once, the loop stays idle
 * otherwise, and the log gets one line a second, not one per wake-up. */
static void test_fd_exhaustion(void **state)
{
    (void)state;
    srv_t s;
    net_opts_t o;
    net_opts_init(&o);
    srv_start(&s, &o);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int fill[4096], nfill = 0;
    /* leave room for the client sockets below, then use up the rest */
    struct rlimit lim = old;
    lim.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int clients[4];
    for (int i = 0; i < 4; i++) clients[i] = socket(AF_INET, SOCK_STREAM, 0);
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        fill[nfill++] = fd;
        if (nfill == 4096) break;
    }
    tu_log_capture_start(UTIL_LOG_WARN);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    uint64_t t0 = util_now_ms();
    net_addr_t a;
    assert_int_equal(net_addr_parse(s.url, &a), SMEM_OK);
    for (int i = 0; i < 4; i++) {
        assert_true(clients[i] >= 0);
        assert_int_equal(connect(clients[i], (struct sockaddr *)&a.ss, a.len), 0); /* the kernel's backlog takes it */
        assert_true(raw_wait_closed(clients[i], 2000));                           /* the server sheds it */
    }
    usleep(1000 * 1000);
    getrusage(RUSAGE_SELF, &r1);
    uint64_t cpu_us = (uint64_t)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1000000 +
                      (uint64_t)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
                      (uint64_t)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1000000 +
                      (uint64_t)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    uint64_t wall = util_now_ms() - t0;
    fprintf(stderr, "fd exhaustion: %llu us of CPU in %llu ms\n", (unsigned long long)cpu_us, (unsigned long long)wall);
    assert_true(cpu_us < 300000); /* a spinning loop burns ~wall ms of CPU */
    assert_true(tu_log_contains("dropped"));
    tu_log_capture_stop();
    for (int i = 0; i < nfill; i++) close(fill[i]);
    for (int i = 0; i < 4; i++) close(clients[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* descriptors are back: the listener serves again */
    int fd = raw_connect(s.url);
    uint8_t h[NET_FRAME_HDR_SIZE];
    hdr_bytes(h, 0);
    assert_int_equal(send(fd, h, sizeof(h), MSG_NOSIGNAL), (ssize_t)sizeof(h));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    char buf[64];
    assert_true(recv(fd, buf, sizeof(buf), 0) > 0); /* the echo answer */
    close(fd);
    srv_stop(&s);
}

/* Clients that send requests and never read: the server's queued answers stop
 * at its loop budget (sends fail naming the peer), not at memory; when the
 * hogs go the budget is free again and a good client is served. */
static void close_on_fail_frame(net_conn_t *c, const net_frame_hdr_t *hdr, const uint8_t *body, void *arg)
{
    (void)arg;
    net_frame_hdr_t r = {.type = hdr->type, .flags = NET_FLAG_RESPONSE, .req_id = hdr->req_id};
    if (net_conn_send(c, &r, body, hdr->body_len) != SMEM_OK) {
        LOG_WARN("test server: %s", util_err_get());
        net_conn_close(c);
    }
}

static void test_output_budget(void **state)
{
    (void)state;
    srv_t s;
    net_opts_t o;
    net_opts_init(&o);
    s.loop = net_loop_create("srv");
    assert_non_null(s.loop);
    net_loop_set_outq_budget(s.loop, 4u << 20);
    net_conn_cbs_t cbs = {.on_frame = close_on_fail_frame};
    assert_int_equal(net_listen(s.loop, "tcp://127.0.0.1:0", &o, &cbs, &s.l), SMEM_OK);
    snprintf(s.url, sizeof(s.url), "tcp://127.0.0.1:%u", net_listener_port(s.l));
    tu_log_capture_start(UTIL_LOG_WARN);
    enum { HOGS = 3, BODY = 256 << 10 };
    int hog[HOGS];
    uint8_t *req = calloc(1, NET_FRAME_HDR_SIZE + BODY);
    hdr_bytes(req, BODY);
    for (int i = 0; i < HOGS; i++) {
        hog[i] = raw_connect(s.url);
        int small = 4096; /* keep the kernel's share small so the queue is what fills */
        setsockopt(hog[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    }
    uint64_t peak = 0;
    for (int round = 0; round < 64; round++) {
        for (int i = 0; i < HOGS; i++)
            if (hog[i] >= 0) (void)send(hog[i], req, NET_FRAME_HDR_SIZE + BODY, MSG_NOSIGNAL | MSG_DONTWAIT);
        uint64_t t = net_loop_outq_total(s.loop);
        if (t > peak) peak = t;
        usleep(2000);
    }
    fprintf(stderr, "output budget: peak %llu bytes queued (budget %u)\n", (unsigned long long)peak, 4u << 20);
    assert_true(peak <= (4u << 20));
    assert_true(log_wait("budget is", NULL, 3000)); /* the refusal names the loop and the peer */
    for (int i = 0; i < HOGS; i++) close(hog[i]);
    uint64_t end = util_now_ms() + 3000;
    while (net_loop_outq_total(s.loop) != 0 && util_now_ms() < end) usleep(5000);
    assert_int_equal(net_loop_outq_total(s.loop), 0);
    tu_log_capture_stop();
    /* a good client is answered */
    int fd = raw_connect(s.url);
    uint8_t h[NET_FRAME_HDR_SIZE];
    hdr_bytes(h, 0);
    assert_int_equal(send(fd, h, sizeof(h), MSG_NOSIGNAL), (ssize_t)sizeof(h));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    close(fd);
    free(req);
    srv_stop(&s);
}

static int setup(void **state)
{
    (void)state;
    if (tu_mkdtemp(g_certs, sizeof(g_certs)) != 0) {
        return -1;
    }
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "sh '%s/scripts/gen-test-certs.sh' '%s'", tu_source_dir(), g_certs);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir_rf(g_certs);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_plain_clients),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_fd_exhaustion),
        cmocka_unit_test(test_output_budget),
    };
    return TU_RUN_TESTS(argc, argv, tests, setup, teardown);
}
