/*
 * The standalone store daemon (smem-store) under bad input, TLS and SIGTERM.
 *
 * One daemon, one well-behaved client connected throughout. Each kind of bad
 * input comes from a raw socket: random bytes, a truncated frame, an
 * oversized length field, a slow-loris client. For each we check that the
 * daemon closed that socket, wrote a WARN line naming the offender's port
 * to its log, and still answers the good client. With TLS on: clients with
 * no certificate, a certificate from an untrusted CA, or a revoked
 * certificate are refused (and logged) while a good TLS client works.
 * Finally SIGTERM stops the daemon cleanly (exit 0) and the client's calls
 * fail with an error, not a hang.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "testutil.h"
#include "tu_data.h"
#include "util/util_status.h"
#include "util/util_time.h"

static char tmpdir[256];
static char logpath[320];

/* Port of the URL "tcp://127.0.0.1:PORT". */
static int raw_connect(int port, int *local_port)
{
    int fd = tu_tcp_connect(port);
    if (fd < 0) return -1;
    struct sockaddr_in me;
    socklen_t ml = sizeof(me);
    getsockname(fd, (struct sockaddr *)&me, &ml);
    *local_port = ntohs(me.sin_port);
    return fd;
}

/* True when the peer closed the socket within timeout_ms. */
static bool closed_by_peer(int fd, int timeout_ms)
{
    uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
    char buf[256];
    for (;;) {
        int64_t left = util_ms_left(deadline);
        if (left <= 0) return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) return false;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
}

/* True when the daemon's log has a WARN line mentioning ":port" within timeout_ms. */
static bool log_warns_about(int port, int timeout_ms)
{
    char needle[32];
    snprintf(needle, sizeof(needle), ":%d", port);
    uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
    do {
        FILE *f = fopen(logpath, "r");
        if (f != NULL) {
            char line[4096];
            while (fgets(line, sizeof(line), f)) {
                if (strstr(line, "WARN") && strstr(line, needle)) {
                    fclose(f);
                    return true;
                }
            }
            fclose(f);
        }
        usleep(20000);
    } while (util_ms_left(deadline) > 0);
    return false;
}

static bool good_client_works(store_client_t *c, int round)
{
    char key[32], val[32];
    snprintf(key, sizeof(key), "good/%d", round);
    snprintf(val, sizeof(val), "value-%d", round);
    if (store_set(c, key, val, (uint32_t)strlen(val)) != SMEM_OK) return false;
    uint8_t *got = NULL;
    uint32_t len = 0;
    bool ok = store_get(c, key, 0, &got, &len) == SMEM_OK && len == strlen(val) && memcmp(got, val, len) == 0;
    free(got);
    return ok;
}

static void bad_input(void)
{
    snprintf(logpath, sizeof(logpath), "%s/store.log", tmpdir);
    const char *args[] = {"--log-file", logpath, "--log-level", "1", "--frame-timeout-ms", "800", NULL};
    pid_t pid;
    char url[128];
    TU_CHECK(tu_store_start(args, &pid, url, sizeof(url)) == 0, "smem-store did not start");
    int port = tu_url_port(url);

    store_client_opts_t co;
    store_client_opts_init(&co);
    co.timeout_ms = 5000;
    store_client_t *good = NULL;
    TU_CHECK(store_client_connect(url, &co, &good) == SMEM_OK, "connect: %s", util_err_get());
    TU_CHECK(good_client_works(good, 0), "good client before bad input");

    int lp, fd;
    /* (a) random bytes */
    fd = raw_connect(port, &lp);
    uint8_t junk[256];
    srand(42);
    for (size_t i = 0; i < sizeof(junk); i++) junk[i] = (uint8_t)rand();
    TU_CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk), "write junk");
    TU_CHECK(closed_by_peer(fd, 3000), "random bytes: connection not closed");
    TU_CHECK(log_warns_about(lp, 3000), "random bytes: no WARN naming port %d", lp);
    close(fd);
    TU_CHECK(good_client_works(good, 1), "good client after random bytes");

    /* (b) a truncated frame: a valid header announcing 100 bytes, 10 sent, then close */
    net_frame_hdr_t h = {.magic = NET_FRAME_MAGIC, .version = NET_FRAME_VERSION, .type = 1, .body_len = 100, .req_id = 7};
    uint8_t hb[NET_FRAME_HDR_SIZE + 10] = {0};
    net_frame_hdr_encode(&h, hb);
    fd = raw_connect(port, &lp);
    TU_CHECK(write(fd, hb, sizeof(hb)) == (ssize_t)sizeof(hb), "write truncated");
    shutdown(fd, SHUT_WR);
    TU_CHECK(log_warns_about(lp, 3000), "truncated frame: no WARN naming port %d", lp);
    close(fd);
    TU_CHECK(good_client_works(good, 2), "good client after truncated frame");

    /* (c) an oversized length field: rejected from the header alone */
    h.body_len = 0xFFFFFFF0u;
    net_frame_hdr_encode(&h, hb);
    fd = raw_connect(port, &lp);
    TU_CHECK(write(fd, hb, NET_FRAME_HDR_SIZE) == NET_FRAME_HDR_SIZE, "write oversized");
    TU_CHECK(closed_by_peer(fd, 3000), "oversized length: connection not closed");
    TU_CHECK(log_warns_about(lp, 3000), "oversized length: no WARN naming port %d", lp);
    close(fd);
    TU_CHECK(good_client_works(good, 3), "good client after oversized length");

    /* (d) slow loris: one header byte every 150 ms; the 800 ms frame timeout closes it */
    h.body_len = 16;
    net_frame_hdr_encode(&h, hb);
    fd = raw_connect(port, &lp);
    uint64_t t0 = util_now_ms();
    bool closed = false;
    for (int i = 0; i < NET_FRAME_HDR_SIZE && !closed; i++) {
        if (write(fd, &hb[i], 1) != 1) closed = true;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 150) > 0) {
            char b;
            if (read(fd, &b, 1) <= 0) closed = true;
        }
    }
    if (!closed) closed = closed_by_peer(fd, 3000);
    uint64_t took = util_now_ms() - t0;
    TU_CHECK(closed, "slow loris: connection not closed");
    TU_CHECK(took < 3000, "slow loris closed after %llu ms", (unsigned long long)took);
    TU_CHECK(log_warns_about(lp, 3000), "slow loris: no WARN naming port %d", lp);
    close(fd);
    TU_CHECK(good_client_works(good, 4), "good client after slow loris");

    /* SIGTERM: clean exit 0, and the client then fails fast instead of hanging. */
    int st = tu_stop_pid(pid, 5000);
    TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "smem-store exit status 0x%x after SIGTERM", st);
    uint64_t t1 = util_now_ms();
    int32_t rc = store_set(good, "after", "x", 1);
    TU_CHECK(rc != SMEM_OK, "set after the daemon stopped succeeded");
    TU_CHECK(util_now_ms() - t1 <= 5000 + 1000, "set after stop took %llu ms", (unsigned long long)(util_now_ms() - t1));
    store_client_close(good);
}

/* Connect with a client certificate (NULL: none). On success *out and *ctx are set;
 * the TLS context must outlive the client (net_opts.tls is not owned). */
static int tls_client(const char *url, const char *cert, const char *key, store_client_t **out, net_tls_t **ctx)
{
    net_tls_opts_t to;
    net_tls_opts_init(&to);
    to.enable = true;
    snprintf(to.ca_path, sizeof(to.ca_path), "%s/certs/ca.pem", tmpdir);
    if (cert) snprintf(to.cert_path, sizeof(to.cert_path), "%s/certs/%s", tmpdir, cert);
    if (key) snprintf(to.key_path, sizeof(to.key_path), "%s/certs/%s", tmpdir, key);
    *ctx = NULL;
    *out = NULL;
    int32_t rc = net_tls_create(&to, false, ctx);
    if (rc != SMEM_OK) return rc;
    store_client_opts_t co;
    store_client_opts_init(&co);
    co.timeout_ms = 3000;
    co.rpc.connect_timeout_ms = 1500;
    co.rpc.net.tls = *ctx;
    rc = store_client_connect(url, &co, out);
    if (rc == SMEM_OK) rc = store_set(*out, "tls/probe", "1", 1);
    if (rc != SMEM_OK) {
        if (*out != NULL) store_client_close(*out);
        *out = NULL;
        net_tls_destroy(*ctx);
        *ctx = NULL;
    }
    return rc;
}

static void tls_checks(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "bash '%s/scripts/gen-test-certs.sh' '%s/certs' >/dev/null", tu_source_dir(), tmpdir);
    if (system(cmd) != 0) {
        TU_CHECK(0, "gen-test-certs.sh failed");
        return;
    }
    snprintf(logpath, sizeof(logpath), "%s/store-tls.log", tmpdir);
    char ca[320], cert[320], key[320], crl[320];
    snprintf(ca, sizeof(ca), "%s/certs/ca.pem", tmpdir);
    snprintf(cert, sizeof(cert), "%s/certs/server.pem", tmpdir);
    snprintf(key, sizeof(key), "%s/certs/server.key", tmpdir);
    snprintf(crl, sizeof(crl), "%s/certs/crl.pem", tmpdir);
    const char *args[] = {"--log-file", logpath, "--log-level", "1", "--tls-ca", ca, "--tls-cert", cert,
                          "--tls-key", key, "--tls-crl", crl, NULL};
    pid_t pid;
    char url[128];
    TU_CHECK(tu_store_start(args, &pid, url, sizeof(url)) == 0, "smem-store with TLS did not start");

    store_client_t *good = NULL, *bad = NULL;
    net_tls_t *good_ctx = NULL, *bad_ctx = NULL;
    TU_CHECK(tls_client(url, "client.pem", "client.key", &good, &good_ctx) == SMEM_OK, "good TLS client: %s",
             util_err_get());
    TU_CHECK(tls_client(url, NULL, NULL, &bad, &bad_ctx) != SMEM_OK, "client without certificate accepted");
    TU_CHECK(tls_client(url, "untrusted-client.pem", "untrusted-client.key", &bad, &bad_ctx) != SMEM_OK,
             "untrusted-CA client accepted");
    TU_CHECK(tls_client(url, "revoked-client.pem", "revoked-client.key", &bad, &bad_ctx) != SMEM_OK, "revoked client accepted");
    FILE *f = fopen(logpath, "r");
    int warn_tls = 0;
    if (f) {
        char line[4096];
        while (fgets(line, sizeof(line), f))
            if (strstr(line, "WARN") && (strstr(line, "TLS") || strstr(line, "tls") || strstr(line, "certificate")))
                warn_tls++;
        fclose(f);
    }
    TU_CHECK(warn_tls >= 3, "expected >= 3 logged TLS rejections, found %d", warn_tls);
    TU_CHECK(good != NULL && good_client_works(good, 10), "good TLS client after rejections");
    if (good != NULL) {
        /* A collective's answer is a shared (not copied) body on the server: check it over TLS. */
        uint32_t rank = 0;
        uint64_t mine = 0x1122334455667788ull, all = 0;
        TU_CHECK(store_group_join(good, "tlsgroup", 1, UINT32_MAX, &rank) == SMEM_OK && rank == 0, "join over TLS");
        TU_CHECK(store_allgather(good, "ag", 1, rank, &mine, sizeof(mine), &all, 3000) == SMEM_OK && all == mine,
                 "all-gather over TLS: %s", util_err_get());
    }
    if (good) store_client_close(good);
    if (good_ctx) net_tls_destroy(good_ctx);
    int st = tu_stop_pid(pid, 5000);
    TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "TLS smem-store exit status 0x%x", st);
}

/* Beyond loopback without TLS: refused, naming the flags; with --allow-insecure it listens and warns. */
static void listen_policy(void)
{
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof(cmd), "%s/smem-store --listen tcp://0.0.0.0:0 2>&1", tu_build_dir());
    int rc = tu_run_cmd(cmd, out, sizeof(out));
    TU_CHECK(rc == 1 && strstr(out, "refusing to listen on tcp://0.0.0.0:0") && strstr(out, "--tls-ca") &&
                 strstr(out, "--allow-insecure"),
             "smem-store on 0.0.0.0 without TLS: exit %d '%s'", rc, out);
    snprintf(cmd, sizeof(cmd), "timeout -s TERM 1 %s/smem-store --listen tcp://0.0.0.0:0 --allow-insecure --log-level 2 2>&1",
             tu_build_dir());
    rc = tu_run_cmd(cmd, out, sizeof(out));
    TU_CHECK(rc == 124 /* stopped by timeout */ && strstr(out, "smem-store listening on tcp://0.0.0.0:") &&
                 strstr(out, "INSECURE: smem-store listens on tcp://0.0.0.0:0 without TLS (allowed by --allow-insecure)") &&
                 strstr(out, "anyone who reaches the port can read and write"),
             "smem-store --allow-insecure: exit %d '%s'", rc, out);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    bad_input();
    tls_checks();
    listen_policy();
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
