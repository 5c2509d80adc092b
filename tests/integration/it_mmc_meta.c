/*
 * The real mmc-meta daemon as a process: two clients over the RPC act as
 * LocalServices (mount, two-phase put with 2 replicas, get with a lease,
 * exist, query, list, remove), one of them leaves and its segment goes;
 * garbage on the RPC port (random bytes, well-framed junk bodies) is
 * refused while the daemon keeps serving; the HTTP endpoints answer (and
 * bad HTTP gets 400/404/405/431), also while 40 slow clients and one that
 * never reads its /keys page hold connections; mmcctl works against it; SIGTERM exits 0;
 * a dead MetaService gives MMC_NOT_CONNECTED/MMC_TIMEOUT within the client's
 * timeout; config files with an unknown key, a repeated key, an out-of-range
 * value or HA on are rejected naming the line; MMC_META_CONFIG_PATH is read;
 * with ock.mmc.tls.* the RPC listener takes only TLS clients with a good certificate, and the HTTP
 * endpoint is HTTPS (curl) that refuses plain HTTP and clients without a certificate the CA signed;
 * a listener beyond loopback without TLS is refused unless --allow-insecure, which logs a WARN.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/common/mmc_meta_client.h"
#include "memcache/meta/meta_http.h"
#include "net/net_proto.h"
#include "testutil.h"
#include "tu_data.h"
#include "tu_mmc.h"
#include "tu_scen.h"
#include "util/util_buf.h"
#include "util/util_log.h"
#include "util/util_time.h"

static char tmpdir[256];
static char rpc_url[128], http_url[128], store_url[128];
static int http_port;

/* Starts mmc-meta with args (NULL-terminated) and keeps the URLs of its ready line. */
static int meta_start(const char *const *args, pid_t *pid)
{
    tu_mmc_meta_t m = {.args = args};
    if (tu_mmc_meta_run(&m, pid) != 0) return -1;
    snprintf(rpc_url, sizeof(rpc_url), "%s", m.rpc);
    snprintf(store_url, sizeof(store_url), "%s", m.store);
    snprintf(http_url, sizeof(http_url), "%s", m.metrics);
    http_port = tu_url_port(http_url);
    return 0;
}

/* Reads until EOF or timeout; returns bytes read (buf NUL-terminated). */
static int read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    uint64_t end = util_now_ms() + (uint64_t)timeout_ms;
    while (n + 1 < cap) {
        int left = (int)util_ms_left(end);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0) break;
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    return (int)n;
}

/* One HTTP exchange on a fresh connection; returns the status code, body in buf. */
static int http_raw(const char *req, size_t len, char *buf, size_t cap)
{
    int fd = tu_tcp_connect(http_port);
    if (fd < 0) return -1;
    if (write(fd, req, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    int n = read_all(fd, buf, cap, 5000);
    close(fd);
    int code = 0;
    if (n < 12 || sscanf(buf, "HTTP/1.1 %d", &code) != 1) return -1;
    return code;
}

static int http_raw_str(const char *req, char *buf, size_t cap) { return http_raw(req, strlen(req), buf, cap); }

static int http_get(const char *path, char *buf, size_t cap)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    return http_raw(req, (size_t)n, buf, cap);
}

static mmc_meta_client_t *client(uint32_t timeout_ms)
{
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", rpc_url);
    o.timeout_ms = timeout_ms;
    o.retry_ms = 50;
    mmc_meta_client_t *c = NULL;
    int32_t rc = mmc_meta_client_connect(&o, &c);
    TU_CHECK(rc == 0, "connect to %s: %d %s", rpc_url, rc, mmc_get_last_err_msg());
    return c;
}

/* A TCP connection to the HTTP port from source address 127.0.0.src (all of 127/8 is loopback). */
static int tcp_connect_from(int port, int src, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src)};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)); /* before connect: small window */
    if (bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* /health while others hold connections: the time to its answer, or (no answer) to the client's 5 s timeout. */
static uint64_t http_health_ms(void)
{
    static char buf[4096];
    uint64_t t0 = util_now_ms();
    int code = http_get("/health", buf, sizeof(buf));
    uint64_t ms = util_now_ms() - t0;
    TU_CHECK(code == 200 && strstr(buf, "\r\n\r\nok") != NULL, "/health answered %d after %llu ms", code,
             (unsigned long long)ms);
    return ms;
}

/* Slow and non-reading clients never delay others (the old one-at-a-time server took ~2 s per slow client). */
static void test_http_concurrency(mmc_meta_client_t *a)
{
    enum { SLOW = 40 };
    int slow[SLOW];
    for (int i = 0; i < SLOW; i++) { /* each from its own address: the per-address limit is not what this checks */
        slow[i] = tcp_connect_from(http_port, 10 + i, 0);
        if (slow[i] >= 0 && i % 2 == 0 && write(slow[i], "GET /hea", 8) != 8) TU_CHECK(0, "half a request line");
    }
    uint64_t ms = http_health_ms();
    TU_CHECK(ms < 1000, "/health with %d slow clients: %llu ms", SLOW, (unsigned long long)ms);
    for (int i = 0; i < SLOW; i++)
        if (slow[i] >= 0) close(slow[i]);

    /* Per-address limit: the 33rd connection from one address is closed at once; others still served. */
    int same[META_HTTP_PER_IP_MAX + 1];
    for (unsigned i = 0; i <= META_HTTP_PER_IP_MAX; i++) same[i] = tcp_connect_from(http_port, 2, 0);
    char b[256];
    uint64_t t0 = util_now_ms();
    TU_CHECK(same[META_HTTP_PER_IP_MAX] >= 0 && read_all(same[META_HTTP_PER_IP_MAX], b, sizeof(b), 2000) == 0 &&
                 util_now_ms() - t0 < 1000,
             "connection over the per-address limit closed (%llu ms)", (unsigned long long)(util_now_ms() - t0));
    ms = http_health_ms();
    TU_CHECK(ms < 1000, "/health while one address is at its limit: %llu ms", (unsigned long long)ms);
    for (unsigned i = 0; i <= META_HTTP_PER_IP_MAX; i++)
        if (same[i] >= 0) close(same[i]);

    /* The biggest /keys page (~5 MB) to a client that never reads: more than the socket buffers hold
     * (tcp_wmem's 4 MB maximum), so a server that writes it inline stalls. */
    enum { NBIG = MMC_BATCH_MAX };
    char(*names)[MMC_KEY_MAX] = calloc(NBIG, sizeof(*names));
    const char **keys = calloc(NBIG, sizeof(*keys));
    uint64_t *sizes = calloc(NBIG, sizeof(*sizes));
    mmc_loc_t *locs = calloc(NBIG, sizeof(*locs));
    int32_t *res = calloc(NBIG, sizeof(*res)), *st = calloc(NBIG, sizeof(*st));
    for (int i = 0; i < NBIG; i++) {
        snprintf(names[i], sizeof(names[i]), "big/%05d/%0240d", i, 0);
        keys[i] = names[i];
        sizes[i] = 1;
    }
    mmc_put_options opt = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 1, .preferredLocalServiceIDs = {-1, -1, -1, -1, -1, -1, -1, -1}};
    int32_t rc = mmc_meta_put_start(a, 0, &opt, keys, sizes, NBIG, locs, NULL);
    TU_CHECK(rc == 0 && locs[0].status == 0 && locs[NBIG - 1].status == 0, "put %d big keys: %d %s", NBIG, rc,
             mmc_get_last_err_msg());
    TU_CHECK(mmc_meta_put_end(a, keys, res, NBIG, st) == 0, "put_end big keys");
    static const char req[] = "GET /keys?prefix=big%2F&limit=16384 HTTP/1.1\r\nHost: x\r\n\r\n";
    int nr = tcp_connect_from(http_port, 1, 4096);
    TU_CHECK(nr >= 0 && write(nr, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1, "non-reader's request");
    usleep(300 * 1000); /* let the server take it and fill the socket */
    ms = http_health_ms();
    TU_CHECK(ms < 1000, "/health while a client does not read its /keys page: %llu ms", (unsigned long long)ms);
    size_t cap = 8u << 20;
    char *page = malloc(cap);
    TU_CHECK(http_get("/keys?prefix=big%2F&limit=16384", page, cap) == 200 && strlen(page) > 4500000 &&
                 strstr(page, "\"more\":false") != NULL,
             "the big page to a reader: %zu bytes", strlen(page));
    free(page);
    if (nr >= 0) close(nr);
    /* They filled rank 0's segment: left in place, the pool would be full once b leaves and the
     * next tick's eviction could take the object the caller checks next. */
    TU_CHECK(mmc_meta_remove(a, keys, NBIG, st) == 0 && st[0] == 0 && st[NBIG - 1] == 0, "remove big keys");
    free(names);
    free(keys);
    free(sizes);
    free(locs);
    free(res);
    free(st);
}

static void test_clients(void)
{
    mmc_meta_client_t *a = client(5000), *b = client(5000);
    if (a == NULL || b == NULL) return;
    uint8_t host[MMC_HOST_ID_SIZE] = {1};
    uint64_t usable = 0;
    TU_CHECK(mmc_meta_mount(a, 0, MMC_MEDIA_DRAM, 1ull << 40, 64ull << 20, host, &usable) == 0, "mount a: %s",
             mmc_get_last_err_msg());
    TU_CHECK(usable == 64ull << 20, "usable %llu", (unsigned long long)usable);
    TU_CHECK(mmc_meta_mount(b, 1, MMC_MEDIA_DRAM, (1ull << 40) + (1ull << 34), 32ull << 20, host, NULL) == 0,
             "mount b: %s", mmc_get_last_err_msg());
    int32_t rc = mmc_meta_mount(b, 1, MMC_MEDIA_DRAM, (1ull << 40) + (1ull << 35), 1 << 20, host, NULL);
    TU_CHECK(rc == MMC_DUPLICATED_OBJECT, "second mount of rank 1: %d", rc);
    TU_CHECK(strstr(mmc_get_last_err_msg(), "rank 1") != NULL, "message: %s", mmc_get_last_err_msg());

    const char *keys[] = {"it/blk/0", "it/blk/1", "it/blk/2"};
    uint64_t sizes[] = {8784 * 1024, 4096, 100};
    mmc_put_options opt = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 2, .preferredLocalServiceIDs = {-1, -1, -1, -1, -1, -1, -1, -1}};
    mmc_loc_t locs[3];
    uint32_t put_to = 0;
    rc = mmc_meta_put_start(a, 0, &opt, keys, sizes, 3, locs, &put_to);
    TU_CHECK(rc == 0, "put_start: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(put_to == 30000, "put timeout %u", put_to);
    for (int i = 0; i < 3; i++) {
        TU_CHECK(locs[i].status == 0 && locs[i].nrep == 2 && locs[i].rep[0].rank == 0 && locs[i].rep[1].rank == 1,
                 "loc %d: status %d nrep %u", i, locs[i].status, locs[i].nrep);
    }
    int32_t res[3] = {0, 0, -1}, st[3];
    TU_CHECK(mmc_meta_put_end(a, keys, res, 3, st) == 0 && st[0] == 0 && st[1] == 0 && st[2] == 0, "put_end");
    rc = mmc_meta_put_start(b, 1, &opt, keys, sizes, 1, locs, NULL);
    TU_CHECK(rc == 0 && locs[0].status == MMC_DUPLICATED_OBJECT, "write-once: %d/%d", rc, locs[0].status);
    uint64_t lease = 0;
    uint32_t ttl = 0;
    TU_CHECK(mmc_meta_get(b, 1, NULL, keys, 3, locs, &lease, &ttl) == 0, "get");
    TU_CHECK(locs[0].status == 0 && locs[0].size == sizes[0] && locs[1].status == 0 &&
                 locs[2].status == MMC_KEY_NOT_FOUND && lease != 0 && ttl == 10000,
             "get results %d %d %d lease %llu ttl %u", locs[0].status, locs[1].status, locs[2].status,
             (unsigned long long)lease, ttl);
    TU_CHECK(mmc_meta_exist(b, keys, 3, st) == 0 && st[0] == 0 && st[2] == MMC_KEY_NOT_FOUND, "exist");
    TU_CHECK(mmc_meta_lease_release(b, &lease, 1, st) == 0 && st[0] == 0, "lease release");
    mmc_meta_list_t *l = NULL;
    TU_CHECK(mmc_meta_list(a, "it/", NULL, 10, &l) == 0 && l->n == 2 && !l->more, "list");
    mmc_meta_list_free(l);
    /* Batch limit through the client: 16,385 keys never leave the process. */
    const char **many = calloc(MMC_BATCH_MAX + 1, sizeof(*many));
    int32_t *mst = calloc(MMC_BATCH_MAX + 1, sizeof(*mst));
    for (uint32_t i = 0; i <= MMC_BATCH_MAX; i++) many[i] = "it/blk/1";
    TU_CHECK(mmc_meta_exist(a, many, MMC_BATCH_MAX + 1, mst) == MMC_INVALID_PARAM, "16385 keys refused");
    TU_CHECK(mmc_meta_exist(a, many, MMC_BATCH_MAX, mst) == 0 && mst[MMC_BATCH_MAX - 1] == 0, "16384 keys");
    free(many);
    free(mst);

    /* mmcctl against the daemon. */
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof(cmd), "%s/mmcctl --meta %s keys it/ 2>&1", tu_build_dir(), rpc_url);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "it/blk/0\t8994816\tREADY\t2") != NULL, "mmcctl keys: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/mmcctl --meta %s get it/blk/1 2>&1", tu_build_dir(), rpc_url);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "replicas 2") != NULL, "mmcctl get: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/mmcctl --meta %s status 2>&1", tu_build_dir(), rpc_url);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "segments   2") != NULL, "mmcctl status: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/mmcctl --meta %s segments 2>&1", tu_build_dir(), rpc_url);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "dram") != NULL, "mmcctl segments: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/mmcctl --meta %s remove it/blk/1 2>&1", tu_build_dir(), rpc_url);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0, "mmcctl remove: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/mmcctl --meta %s get it/blk/1 2>&1", tu_build_dir(), rpc_url);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 1 && strstr(out, "key not found") != NULL, "mmcctl get removed: %s", out);

    /* HTTP endpoints. */
    char buf[65536];
    TU_CHECK(http_get("/health", buf, sizeof(buf)) == 200 && strstr(buf, "\r\n\r\nok") != NULL, "health: %s", buf);
    TU_CHECK(http_get("/metrics", buf, sizeof(buf)) == 200 &&
                 strstr(buf, "mmc_meta_requests_total{op=\"put_start\"} 2") != NULL &&
                 strstr(buf, "mmc_meta_capacity_bytes{medium=\"dram\"} 100663296") != NULL &&
                 strstr(buf, "mmc_meta_segments 2") != NULL && strstr(buf, "mmc_meta_request_seconds_bucket") != NULL,
             "metrics");
    TU_CHECK(http_get("/segments", buf, sizeof(buf)) == 200 && strstr(buf, "\"rank\":1,\"medium\":\"dram\"") != NULL,
             "segments: %s", buf);
    TU_CHECK(http_get("/capacity", buf, sizeof(buf)) == 200 && strstr(buf, "\"total\":100663296") != NULL,
             "capacity: %s", buf);
    TU_CHECK(http_get("/keys?prefix=it%2Fblk&limit=5", buf, sizeof(buf)) == 200 &&
                 strstr(buf, "{\"key\":\"it/blk/0\",\"size\":8994816,\"state\":\"READY\",\"replicas\":2}") != NULL &&
                 strstr(buf, "\"more\":false") != NULL,
             "keys: %s", buf);
    TU_CHECK(http_get("/keys?limit=0", buf, sizeof(buf)) == 400, "keys limit 0");
    TU_CHECK(http_get("/keys?limit=abc", buf, sizeof(buf)) == 400, "keys limit abc");
    TU_CHECK(http_get("/keys?prefix=%zz", buf, sizeof(buf)) == 400, "keys bad escape");
    TU_CHECK(http_get("/nope", buf, sizeof(buf)) == 404, "404");
    TU_CHECK(http_raw_str("POST /health HTTP/1.1\r\n\r\n", buf, sizeof(buf)) == 405, "405");
    /* Malformed requests are libmicrohttpd's: a request line without spaces is dropped with no answer,
     * one without a version gets 400, a header block past its pool 431; all at once. */
    uint64_t tm = util_now_ms();
    int code = http_raw_str("BLAH\r\n\r\n", buf, sizeof(buf));
    TU_CHECK((code == 400 || code == -1) && util_now_ms() - tm < 1000, "garbage request line: %d", code);
    TU_CHECK(http_raw_str("GET /health\r\n\r\n", buf, sizeof(buf)) == 400, "400 without version");
    char *big = malloc(20000);
    memcpy(big, "GET /health HTTP/1.1\r\nX: ", 25);
    memset(big + 25, 'a', 20000 - 25);
    TU_CHECK(http_raw(big, 20000, buf, sizeof(buf)) == 431, "431");
    /* Our own limit on a complete header block: META_HTTP_HDR_MAX bytes. */
    int hl = snprintf(big, 20000, "GET /health HTTP/1.1\r\nHost: x\r\nX: %07800d\r\n\r\n", 0);
    TU_CHECK(http_raw(big, (size_t)hl, buf, sizeof(buf)) == 200, "7.8 KB header block served");
    hl = snprintf(big, 20000, "GET /health HTTP/1.1\r\nHost: x\r\nX: %012000d\r\n\r\n", 0);
    TU_CHECK(http_raw(big, (size_t)hl, buf, sizeof(buf)) == 431, "12 KB header block: 431");
    free(big);
    {   /* a NUL inside a header: libmicrohttpd 0.9.75 cuts the value there (we read no headers); answered at once */
        static const char nul_req[] = "GET /health HTTP/1.1\r\nX: a\0b\r\n\r\n";
        uint64_t tn = util_now_ms();
        code = http_raw(nul_req, sizeof(nul_req) - 1, buf, sizeof(buf));
        uint64_t took = util_now_ms() - tn;
        TU_CHECK((code == 200 || code == 400) && took < 1000, "NUL in a request: %d after %llu ms", code,
                 (unsigned long long)took);
    }
    uint64_t t0 = util_now_ms();
    int fd = tu_tcp_connect(http_port); /* silent client: dropped (no answer) after the inactivity timeout */
    TU_CHECK(fd >= 0 && read_all(fd, buf, sizeof(buf), 5000) == 0, "silent client closed without an answer: %s", buf);
    uint64_t held = util_now_ms() - t0;
    TU_CHECK(held >= META_HTTP_TIMEOUT_MS - 500 && held < 4000, "slow client held for %llu ms", (unsigned long long)held);
    if (fd >= 0) close(fd);
    test_http_concurrency(a);

    /* Garbage on the RPC port: random bytes get the socket closed; a framed junk body gets an error answer. */
    int port = tu_url_port(rpc_url);
    fd = tu_tcp_connect(port);
    uint8_t junk[256];
    for (size_t i = 0; i < sizeof(junk); i++) junk[i] = (uint8_t)(i * 131 + 7);
    TU_CHECK(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk), "send junk");
    TU_CHECK(read_all(fd, buf, sizeof(buf), 3000) == 0, "junk connection closed without an answer");
    close(fd);
    fd = tu_tcp_connect(port);
    net_frame_hdr_t h = {.magic = NET_FRAME_MAGIC, .version = NET_FRAME_VERSION, .type = MMC_MSG_GET, .body_len = 16, .req_id = 9};
    uint8_t frame[NET_FRAME_HDR_SIZE + 16];
    net_frame_hdr_encode(&h, frame);
    memcpy(frame + NET_FRAME_HDR_SIZE, junk, 16);
    TU_CHECK(write(fd, frame, sizeof(frame)) == (ssize_t)sizeof(frame), "send framed junk");
    int n = read_all(fd, buf, NET_FRAME_HDR_SIZE + 1, 1000);
    net_frame_hdr_t rh;
    TU_CHECK(n >= NET_FRAME_HDR_SIZE && net_frame_hdr_decode((uint8_t *)buf, (size_t)n, 1 << 20, &rh) == 0 &&
                 (rh.flags & NET_FLAG_RESPONSE) && rh.req_id == 9 && rh.status == MMC_PROTOCOL,
             "framed junk answered with MMC_PROTOCOL (n=%d status %d)", n, rh.status);
    close(fd);
    TU_CHECK(mmc_meta_exist(a, keys, 1, st) == 0 && st[0] == 0, "daemon still serves after garbage");

    /* b leaves (connection closed): its segment is unmounted, the objects keep a's replica. */
    mmc_meta_client_close(b);
    mmc_stats_t stats;
    mmc_seg_info_t *segs = NULL;
    uint32_t nseg = 9;
    uint64_t end = util_now_ms() + 5000;
    do {
        free(segs);
        segs = NULL;
        TU_CHECK(mmc_meta_stats(a, &stats, &segs, &nseg) == 0, "stats");
        if (nseg == 1) break;
        usleep(20000);
    } while (util_now_ms() < end);
    TU_CHECK(nseg == 1 && segs && segs[0].rank == 0, "b's segment unmounted (nseg %u)", nseg);
    free(segs);
    memset(locs, 0, sizeof(locs));
    rc = mmc_meta_query(a, keys, 1, locs);
    TU_CHECK(rc == 0 && locs[0].status == 0 && locs[0].nrep == 1 && locs[0].rep[0].rank == 0,
             "object kept with the surviving replica: rc %d (%s) status %d nrep %u rank %u", rc,
             rc ? mmc_get_last_err_msg() : "", locs[0].status, locs[0].nrep, locs[0].rep[0].rank);    uint32_t nseg_hb = 0;
    uint64_t inst = 0;
    TU_CHECK(mmc_meta_heartbeat(a, 0, &nseg_hb, &inst) == 0 && nseg_hb == 1 && inst != 0, "heartbeat");
    mmc_meta_client_close(a);
}

static int write_file(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    fputs(text, f);
    fclose(f);
    return 0;
}

static void test_bad_configs(void)
{
    static const struct {
        const char *name, *text, *expect;
    } cases[] = {
        {"unknown.conf", "ock.mmc.meta_service_url = tcp://127.0.0.1:0\nock.mmc.no_such_key = 1\n", "unknown.conf:2"},
        {"repeat.conf", "# c\nock.mmc.evict_threshold_high = 95\n\nock.mmc.evict_threshold_high = 96\n", "repeat.conf:4"},
        {"range.conf", "ock.mmc.meta.lease_ttl_ms = 0\n", "range.conf:1"},
        {"high.conf", "ock.mmc.evict_threshold_high = 101\n", "high.conf:1"},
        {"lowhigh.conf", "ock.mmc.evict_threshold_high = 70\nock.mmc.evict_threshold_low = 75\n", "lowhigh.conf:2"},
        {"ha.conf", "ock.mmc.meta.ha.enable = true\n", "ha.conf:1: ock.mmc.meta.ha.enable = true"},
        {"level.conf", "\nock.mmc.log_level = loud\n", "level.conf:2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[512], cmd[1024], out[4096];
        if (write_file(cases[i].name, cases[i].text, path, sizeof(path)) != 0) {
            TU_CHECK(0, "write %s", cases[i].name);
            continue;
        }
        snprintf(cmd, sizeof(cmd), "%s/mmc-meta --config %s 2>&1", tu_build_dir(), path);
        int rc = tu_run_cmd(cmd, out, sizeof(out));
        TU_CHECK(rc == 2 && strstr(out, cases[i].expect) != NULL, "%s: exit %d, output '%s'", cases[i].name, rc, out);
    }
    char out[4096], cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/mmc-meta --bogus 2>&1", tu_build_dir());
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 2, "unknown flag");
    snprintf(cmd, sizeof(cmd), "%s/mmc-meta --help 2>&1", tu_build_dir());
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "--metrics-url") != NULL, "help");
}

static void test_env_config_and_shutdown(void)
{
    char path[512];
    write_file("good.conf",
               "ock.mmc.meta_service_url = tcp://127.0.0.1:0\n"
               "ock.mmc.meta_service.config_store_url = \n"
               "ock.mmc.meta_service.metrics_url = http://127.0.0.1:0\n"
               "ock.mmc.meta.ha.enable = false\n"
               "ock.mmc.log_level = warn\n"
               "ock.mmc.evict_threshold_high = 85\n"
               "ock.mmc.evict_threshold_low = 80\n"
               "ock.mmc.meta.lease_ttl_ms = 2500\n"
               "ock.mmc.meta.heartbeat_timeout_ms = 1500\n",
               path, sizeof(path));
    setenv("MMC_META_CONFIG_PATH", path, 1);
    pid_t pid;
    int rc = meta_start(NULL, &pid);
    unsetenv("MMC_META_CONFIG_PATH");
    TU_CHECK(rc == 0, "start with MMC_META_CONFIG_PATH");
    if (rc != 0) return;
    TU_CHECK(strcmp(store_url, "-") == 0, "no config store when its URL is empty (%s)", store_url);
    mmc_meta_client_t *c = client(2000);
    if (c != NULL) {
        TU_CHECK(mmc_meta_mount(c, 0, MMC_MEDIA_DRAM, 1ull << 40, 1 << 20, NULL, NULL) == 0, "mount");
        const char *k = "e";
        uint64_t sz = 10;
        mmc_put_options opt = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 1, .preferredLocalServiceIDs = {-1, -1, -1, -1, -1, -1, -1, -1}};
        mmc_loc_t loc;
        int32_t st;
        int32_t zero = 0;
        TU_CHECK(mmc_meta_put_start(c, 0, &opt, &k, &sz, 1, &loc, NULL) == 0 && loc.status == 0, "put");
        TU_CHECK(mmc_meta_put_end(c, &k, &zero, 1, &st) == 0 && st == 0, "put_end");
        uint32_t ttl = 0;
        TU_CHECK(mmc_meta_get(c, 0, NULL, &k, 1, &loc, NULL, &ttl) == 0 && ttl == 2500, "lease ttl from file: %u", ttl);
    }
    /* A LocalService that mounts and then goes silent (no heartbeat) is unmounted after the timeout. */
    int fd = tu_tcp_connect(tu_url_port(rpc_url));
    mmc_req_t mr = {.type = MMC_MSG_MOUNT, .rank = 7, .medium = MMC_MEDIA_DRAM, .gva = 1ull << 41, .size = 1 << 20};
    util_wbuf_t w;
    util_wbuf_init(&w);
    TU_CHECK(fd >= 0 && mmc_req_encode(&mr, &w) == 0, "encode MOUNT");
    net_frame_hdr_t h = {.magic = NET_FRAME_MAGIC, .version = NET_FRAME_VERSION, .type = MMC_MSG_MOUNT,
                         .body_len = (uint32_t)w.len, .req_id = 1};
    uint8_t hdr[NET_FRAME_HDR_SIZE];
    net_frame_hdr_encode(&h, hdr);
    TU_CHECK(write(fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr) && write(fd, w.p, w.len) == (ssize_t)w.len, "send MOUNT");
    util_wbuf_fini(&w);
    uint64_t t_mount = util_now_ms();
    bool seen = false, gone = false;
    while (c != NULL && util_now_ms() - t_mount < 6000) {
        mmc_stats_t st;
        mmc_seg_info_t *segs = NULL;
        uint32_t nseg = 0;
        if (mmc_meta_stats(c, &st, &segs, &nseg) == 0) {
            free(segs);
            if (nseg == 2) seen = true;
            if (seen && nseg == 1) {
                gone = true;
                break;
            }
        }
        usleep(50000);
    }
    uint64_t t_gone = util_now_ms() - t_mount;
    TU_CHECK(seen && gone && t_gone >= 1000 && t_gone < 4000, "silent LocalService unmounted after %llu ms (seen %d gone %d)",
             (unsigned long long)t_gone, seen, gone);
    if (fd >= 0) close(fd);
    /* SIGTERM: clean exit 0, promptly. */
    uint64_t t0 = util_now_ms();
    int status = tu_stop_pid(pid, 5000);
    TU_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM exit status 0x%x", status);
    TU_CHECK(util_now_ms() - t0 < 3000, "shutdown took %llu ms", (unsigned long long)(util_now_ms() - t0));
    if (c != NULL) {
        /* The MetaService is gone: calls fail within the client's timeout (2 s), not hang. */
        const char *k = "e";
        int32_t st;
        t0 = util_now_ms();
        int32_t rc2 = mmc_meta_exist(c, &k, 1, &st);
        uint64_t took = util_now_ms() - t0;
        TU_CHECK(rc2 == MMC_NOT_CONNECTED || rc2 == MMC_TIMEOUT, "call to a dead MetaService: %d", rc2);
        TU_CHECK(took < 3500, "failed after %llu ms", (unsigned long long)took);
        mmc_meta_client_close(c);
    }
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", rpc_url);
    o.timeout_ms = 1000;
    mmc_meta_client_t *d = NULL;
    t0 = util_now_ms();
    int32_t crc = mmc_meta_client_connect(&o, &d);
    TU_CHECK(crc == MMC_NOT_CONNECTED && d == NULL, "connect to a dead MetaService: %d", crc);
    TU_CHECK(util_now_ms() - t0 < 2500, "connect failed after %llu ms", (unsigned long long)(util_now_ms() - t0));
}

static void test_tls(void)
{
    char certs[400], cmd[1024], out[4096], path[512], conf[4096];
    snprintf(certs, sizeof(certs), "%s/certs", tmpdir);
    snprintf(cmd, sizeof(cmd), "sh %s/scripts/gen-test-certs.sh %s 2>&1", tu_source_dir(), certs);
    if (tu_run_cmd(cmd, out, sizeof(out)) != 0) {
        TU_CHECK(0, "gen-test-certs.sh: %s", out);
        return;
    }
    snprintf(conf, sizeof(conf),
             "ock.mmc.meta_service_url = tcp://127.0.0.1:0\n"
             "ock.mmc.meta_service.config_store_url =\n"
             "ock.mmc.meta_service.metrics_url =\n"
             "ock.mmc.log_level = error\n"
             "ock.mmc.tls.enable = true\n"
             "ock.mmc.tls.ca.path = %s/ca.pem\n"
             "ock.mmc.tls.cert.path = %s/server.pem\n"
             "ock.mmc.tls.key.path = %s/server.key\n",
             certs, certs, certs);
    write_file("tls.conf", conf, path, sizeof(path));
    const char *args[] = {"--config", path, NULL};
    pid_t pid;
    if (meta_start(args, &pid) != 0) {
        TU_CHECK(0, "mmc-meta with TLS did not start");
        return;
    }
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", rpc_url);
    o.timeout_ms = 1500;
    mmc_meta_client_t *c = NULL;
    int32_t rc = mmc_meta_client_connect(&o, &c);
    if (rc == MMC_OK) {
        /* A plain client may get a socket, but no call succeeds. */
        uint32_t nseg;
        rc = mmc_meta_heartbeat(c, 0, &nseg, NULL);
        mmc_meta_client_close(c);
        c = NULL;
    }
    TU_CHECK(rc == MMC_NOT_CONNECTED || rc == MMC_TIMEOUT, "plain client against TLS: %d", rc);
    o.tls.tlsEnable = true;
    snprintf(o.tls.caPath, sizeof(o.tls.caPath), "%s/ca.pem", certs);
    snprintf(o.tls.certPath, sizeof(o.tls.certPath), "%s/client.pem", certs);
    snprintf(o.tls.keyPath, sizeof(o.tls.keyPath), "%s/client.key", certs);
    rc = mmc_meta_client_connect(&o, &c);
    TU_CHECK(rc == MMC_OK, "TLS client: %d %s", rc, mmc_get_last_err_msg());
    if (c != NULL) {
        uint32_t nseg = 9;
        TU_CHECK(mmc_meta_mount(c, 0, MMC_MEDIA_DRAM, 1ull << 40, 1 << 20, NULL, NULL) == 0, "mount over TLS");
        TU_CHECK(mmc_meta_heartbeat(c, 0, &nseg, NULL) == 0 && nseg == 1, "heartbeat over TLS");
        mmc_meta_client_close(c);
    }
    int status = tu_stop_pid(pid, 5000);
    TU_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "TLS daemon exit 0x%x", status);
}

/* ---------- listeners beyond loopback, HTTPS ---------- */

static int gen_certs(char *certs, size_t cap)
{
    char cmd[1024], out[4096];
    snprintf(certs, cap, "%s/certs", tmpdir);
    snprintf(cmd, sizeof(cmd), "sh %s/scripts/gen-test-certs.sh %s 2>&1", tu_source_dir(), certs);
    if (tu_run_cmd(cmd, out, sizeof(out)) == 0) return 0;
    TU_CHECK(0, "gen-test-certs.sh: %s", out);
    return -1;
}

/* GET url with curl, trusting the test CA, with the client certificate `client` (NULL: none). The HTTP status
 * (0: no HTTP answer, e.g. the TLS handshake failed), curl's output and the body in out. */
static int curl_get(const char *url, const char *certs, const char *client, char *out, size_t cap)
{
    char cmd[2048], cert[600] = "";
    if (client != NULL) snprintf(cert, sizeof(cert), "--cert %s/%s.pem --key %s/%s.key", certs, client, certs, client);
    snprintf(cmd, sizeof(cmd), "curl -sS --max-time 5 --cacert %s/ca.pem %s -w '\n%%{http_code}' '%s' 2>&1", certs,
             cert, url);
    if (tu_run_cmd(cmd, out, cap) < 0) return 0;
    char *nl = strrchr(out, '\n');
    if (nl == NULL) return 0;
    int code = atoi(nl + 1);
    *nl = '\0';
    return code;
}

/* "https://0.0.0.0:P/x" etc. as a loopback URL of the same port (what a client dials). */
static void loopback_url(const char *scheme, const char *url, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s://127.0.0.1:%d%s", scheme, tu_url_port(url), path);
}

static const char *tls_block(const char *prefix, const char *certs, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "%s.enable = true\n%s.ca.path = %s/ca.pem\n%s.ca.crl.path = %s/crl.pem\n%s.cert.path = %s/server.pem\n"
             "%s.key.path = %s/server.key\n",
             prefix, prefix, certs, prefix, certs, prefix, certs, prefix, certs);
    return buf;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) n++;
    return n;
}

/* With ock.mmc.tls on, the HTTP endpoint is HTTPS with the RPC's certificate and wants a client certificate. */
static void test_https(void)
{
    char certs[400], conf[4096], tls[1024], path[512], url[256], out[8192];
    if (gen_certs(certs, sizeof(certs)) != 0) return;
    snprintf(conf, sizeof(conf),
             "ock.mmc.meta_service_url = tcp://127.0.0.1:0\nock.mmc.meta_service.config_store_url =\n"
             "ock.mmc.meta_service.metrics_url = http://127.0.0.1:0\nock.mmc.log_level = error\n%s",
             tls_block("ock.mmc.tls", certs, tls, sizeof(tls)));
    write_file("https.conf", conf, path, sizeof(path));
    const char *args[] = {"--config", path, NULL};
    pid_t pid;
    if (meta_start(args, &pid) != 0) {
        TU_CHECK(0, "mmc-meta with TLS and HTTP did not start");
        return;
    }
    TU_CHECK(strncmp(http_url, "https://127.0.0.1:", 18) == 0, "the ready line says https: %s", http_url);
    char buf[4096];
    int code = http_get("/health", buf, sizeof(buf)); /* plain HTTP to the port */
    TU_CHECK(code != 200 && strstr(buf, "ok") == NULL, "plain HTTP to the HTTPS port: %d '%.80s'", code, buf);
    loopback_url("http", http_url, "/health", url, sizeof(url));
    TU_CHECK(curl_get(url, certs, "client", out, sizeof(out)) == 0, "curl http:// to the HTTPS port: %s", out);
    loopback_url("https", http_url, "/health", url, sizeof(url));
    code = curl_get(url, certs, "client", out, sizeof(out));
    TU_CHECK(code == 200 && strcmp(out, "ok\n") == 0, "HTTPS /health with the client certificate: %d '%s'", code, out);
    code = curl_get(url, certs, NULL, out, sizeof(out));
    TU_CHECK(code == 403, "HTTPS without a client certificate refused: %d '%s'", code, out);
    code = curl_get(url, certs, "untrusted-client", out, sizeof(out));
    TU_CHECK(code == 403, "HTTPS with a certificate of another CA refused: %d '%s'", code, out);
    code = curl_get(url, certs, "revoked-client", out, sizeof(out));
    TU_CHECK(code == 403, "HTTPS with a revoked certificate refused: %d '%s'", code, out);
    /* /keys lists what a TLS client of the RPC put */
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", rpc_url);
    o.timeout_ms = 3000;
    o.tls.tlsEnable = true;
    snprintf(o.tls.caPath, sizeof(o.tls.caPath), "%s/ca.pem", certs);
    snprintf(o.tls.certPath, sizeof(o.tls.certPath), "%s/client.pem", certs);
    snprintf(o.tls.keyPath, sizeof(o.tls.keyPath), "%s/client.key", certs);
    mmc_meta_client_t *c = NULL;
    TU_CHECK(mmc_meta_client_connect(&o, &c) == MMC_OK, "TLS RPC client: %s", mmc_get_last_err_msg());
    if (c != NULL) {
        const char *k = "tls/key";
        uint64_t sz = 4096;
        mmc_put_options po = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 1,
                              .preferredLocalServiceIDs = {-1, -1, -1, -1, -1, -1, -1, -1}};
        mmc_loc_t loc;
        int32_t st, zero = 0;
        TU_CHECK(mmc_meta_mount(c, 0, MMC_MEDIA_DRAM, 1ull << 40, 1 << 20, NULL, NULL) == 0 &&
                     mmc_meta_put_start(c, 0, &po, &k, &sz, 1, &loc, NULL) == 0 &&
                     mmc_meta_put_end(c, &k, &zero, 1, &st) == 0 && st == 0,
                 "put over TLS");
    }
    loopback_url("https", http_url, "/keys?prefix=tls%2F", url, sizeof(url));
    code = curl_get(url, certs, "client", out, sizeof(out));
    TU_CHECK(code == 200 && strstr(out, "\"tls/key\"") != NULL, "HTTPS /keys: %d '%.200s'", code, out);
    code = curl_get(url, certs, NULL, out, sizeof(out));
    TU_CHECK(code == 403 && strstr(out, "tls/key") == NULL, "/keys without a client certificate: %d", code);
    if (c != NULL) mmc_meta_client_close(c);
    int status = tu_stop_pid(pid, 5000);
    TU_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "HTTPS daemon exit 0x%x", status);

    /* https:// without TLS is a configuration error; an unreadable certificate fails the start naming it */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/mmc-meta --meta-url tcp://127.0.0.1:0 --store-url '' --metrics-url "
             "https://127.0.0.1:0 2>&1", tu_build_dir());
    int rc = tu_run_cmd(cmd, out, sizeof(out));
    TU_CHECK(rc == 1 && strstr(out, "is https but ock.mmc.tls is off") != NULL, "https without TLS: %d '%s'", rc, out);
    snprintf(conf, sizeof(conf),
             "ock.mmc.meta_service_url = tcp://127.0.0.1:0\nock.mmc.meta_service.config_store_url =\n"
             "ock.mmc.meta_service.metrics_url = http://127.0.0.1:0\n%sock.mmc.tls.cert.path = %s/nope.pem\n",
             tls_block("ock.mmc.tls", certs, tls, sizeof(tls)), certs);
    char *cp = strstr(conf, "ock.mmc.tls.cert.path"); /* drop the block's own cert line */
    char *eol = strchr(cp, '\n');
    memmove(cp, eol + 1, strlen(eol + 1) + 1);
    write_file("nocert.conf", conf, path, sizeof(path));
    snprintf(cmd, sizeof(cmd), "%s/mmc-meta --config %s 2>&1", tu_build_dir(), path);
    rc = tu_run_cmd(cmd, out, sizeof(out));
    TU_CHECK(rc != 0 && strstr(out, "nope.pem") != NULL, "unreadable certificate: %d '%s'", rc, out);
}

/* One rule for the three listeners: beyond loopback only with TLS, or with --allow-insecure and a WARN. */
static void test_listen_policy(void)
{
    static const struct {
        const char *meta, *store, *http, *names, *tls;
    } refused[] = {
        {"tcp://0.0.0.0:0", "", "", "mmc-meta RPC", "ock.mmc.tls.enable"},
        {"tcp://127.0.0.1:0", "tcp://0.0.0.0:0", "", "mmc-meta config store", "ock.mmc.config_store.tls.enable"},
        {"tcp://127.0.0.1:0", "", "http://0.0.0.0:0", "mmc-meta HTTP endpoint", "ock.mmc.tls.*"},
        {"tcp://[::]:0", "", "", "mmc-meta RPC", "ock.mmc.tls.enable"},
    };
    char cmd[1024], out[4096];
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(cmd, sizeof(cmd), "%s/mmc-meta --meta-url '%s' --store-url '%s' --metrics-url '%s' 2>&1",
                 tu_build_dir(), refused[i].meta, refused[i].store, refused[i].http);
        int rc = tu_run_cmd(cmd, out, sizeof(out));
        TU_CHECK(rc == 1 && strstr(out, "refusing to listen on") != NULL && strstr(out, refused[i].names) != NULL &&
                     strstr(out, refused[i].tls) != NULL && strstr(out, "--allow-insecure") != NULL,
                 "%s without TLS refused: exit %d '%s'", refused[i].names, rc, out);
    }
    /* the switch: all three start, each with its WARN */
    char conf[4096], path[512], log[512], logtext[16384];
    snprintf(log, sizeof(log), "%s/insecure.log", tmpdir);
    snprintf(conf, sizeof(conf),
             "ock.mmc.meta_service_url = tcp://0.0.0.0:0\nock.mmc.meta_service.config_store_url = tcp://0.0.0.0:0\n"
             "ock.mmc.meta_service.metrics_url = http://0.0.0.0:0\nock.mmc.log_level = warn\nock.mmc.log_path = %s\n",
             log);
    write_file("insecure.conf", conf, path, sizeof(path));
    const char *args[] = {"--config", path, "--allow-insecure", NULL};
    pid_t pid;
    if (meta_start(args, &pid) == 0) {
        char buf[4096];
        TU_CHECK(http_get("/health", buf, sizeof(buf)) == 200, "insecure HTTP serves");
        snprintf(rpc_url, sizeof(rpc_url), "tcp://127.0.0.1:%d", tu_url_port(rpc_url));
        mmc_meta_client_t *c = client(2000);
        TU_CHECK(c != NULL, "insecure RPC serves on the wildcard");
        if (c != NULL) mmc_meta_client_close(c);
        int status = tu_stop_pid(pid, 5000);
        TU_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "insecure daemon exit 0x%x", status);
        FILE *f = fopen(log, "r");
        size_t n = f ? fread(logtext, 1, sizeof(logtext) - 1, f) : 0;
        if (f) fclose(f);
        logtext[n] = '\0';
        TU_CHECK(count_of(logtext, "WARN") >= 3 &&
                     count_of(logtext, "without TLS (allowed by --allow-insecure") == 3 &&
                     count_of(logtext, "anyone who reaches the port can read and write") == 3 &&
                     strstr(logtext, "mmc-meta RPC listens on tcp://0.0.0.0:0") != NULL &&
                     strstr(logtext, "mmc-meta config store listens on tcp://0.0.0.0:0") != NULL &&
                     strstr(logtext, "HTTP endpoint (key names, segment addresses) listens on http://0.0.0.0:0"),
                 "one WARN per insecure listener: '%s'", logtext);
    } else {
        TU_CHECK(0, "mmc-meta --allow-insecure on 0.0.0.0 did not start");
    }
    /* TLS on all three: beyond loopback without the switch, and no WARN */
    char certs[400], t1[1024], t2[1024];
    if (gen_certs(certs, sizeof(certs)) != 0) return;
    snprintf(log, sizeof(log), "%s/tls.log", tmpdir);
    snprintf(conf, sizeof(conf),
             "ock.mmc.meta_service_url = tcp://0.0.0.0:0\nock.mmc.meta_service.config_store_url = tcp://0.0.0.0:0\n"
             "ock.mmc.meta_service.metrics_url = http://0.0.0.0:0\nock.mmc.log_level = warn\nock.mmc.log_path = %s\n"
             "%s%s",
             log, tls_block("ock.mmc.tls", certs, t1, sizeof(t1)),
             tls_block("ock.mmc.config_store.tls", certs, t2, sizeof(t2)));
    write_file("tls-any.conf", conf, path, sizeof(path));
    const char *targs[] = {"--config", path, NULL};
    if (meta_start(targs, &pid) != 0) {
        TU_CHECK(0, "mmc-meta with TLS on 0.0.0.0 did not start");
        return;
    }
    char url[256];
    loopback_url("https", http_url, "/health", url, sizeof(url));
    int code = curl_get(url, certs, "client", out, sizeof(out));
    TU_CHECK(code == 200, "HTTPS on the wildcard: %d '%s'", code, out);
    int status = tu_stop_pid(pid, 5000);
    TU_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "TLS daemon on 0.0.0.0: exit 0x%x", status);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(logtext, 1, sizeof(logtext) - 1, f) : 0;
    if (f) fclose(f);
    logtext[n] = '\0';
    TU_CHECK(strstr(logtext, "INSECURE") == NULL, "no WARN with TLS: '%s'", logtext);
}

/* The daemon on ephemeral ports with an HTTP endpoint, and its clients (RPC and HTTP). */
static void scen_clients(void)
{
    /* The clients play LocalServices without BM ranks: membership is not checked here (it.mmc_security does). */
    static const char *const args[] = {"--meta-url", "tcp://127.0.0.1:0", "--store-url", "tcp://127.0.0.1:0",
                                       "--metrics-url", "http://127.0.0.1:0", "--log-level", "warn",
                                       "--member-check", "false", NULL};
    pid_t pid;
    if (meta_start(args, &pid) == 0) {
        TU_CHECK(1, "started");
        test_clients();
        int status = tu_stop_pid(pid, 5000);
        TU_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", status);
    } else {
        TU_CHECK(0, "mmc-meta did not start");
    }
}

static const tu_scen_t scenarios[] = {
    {.name = "clients", .run = scen_clients, .what = "RPC and HTTP clients of one daemon, concurrency, limits"},
    {.name = "bad_configs", .run = test_bad_configs, .what = "bad flags and config files are refused with a message"},
    {.name = "env_config", .run = test_env_config_and_shutdown, .what = "MMC_META_CONFIG_PATH, clean shutdown"},
    {.name = "tls", .run = test_tls, .what = "the RPC port on TLS"},
    {.name = "https", .run = test_https, .what = "with TLS on the HTTP endpoint is HTTPS with client certificates"},
    {.name = "listen_policy", .run = test_listen_policy,
     .what = "beyond loopback only with TLS, or --allow-insecure and a WARN per listener"},
};

int main(int argc, char **argv)
{
    int rc = tu_scen_args(argc, argv, scenarios, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    if (rc >= 0) return rc;
    signal(SIGPIPE, SIG_IGN);
    util_log_level_set(UTIL_LOG_OFF);
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    tu_scen_run();
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
