/*
 * Control-plane benchmark: barrier latency and config-store GET/SET ops/s
 * with N client processes on loopback, with and without TLS.
 *
 *   bench_ctrl [--smoke] [--procs 2,8,32] [--barriers N] [--ops N] [--no-tls] [--no-redis]
 *              [--certs-script scripts/gen-test-certs.sh] [--store-bin build/smem-store]
 *
 * The store server runs in its own process (forked before any thread, or the
 * standalone smem-store binary with --store-bin), every client is a separate
 * process. Per configuration it prints one row of a
 * markdown table: barrier p50/p99/mean in microseconds (measured by rank 0),
 * and aggregate SET and GET ops/s (every process issues --ops synchronous
 * calls on its own keys; ops/s = all calls / wall time of the slowest).
 *
 * In the same run, two reference points: the physical floor, a raw 24-byte
 * TCP ping-pong between two processes on loopback (one synchronous round
 * trip, what any request/response store pays at least), and, when
 * redis-server and redis-benchmark are installed, Redis SET/GET with the
 * same number of clients and value size (the store a user would otherwise
 * pick for rendezvous).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

typedef struct bench_cfg {
    int procs[8];
    int nprocs;
    int barriers;
    int ops;
    bool tls;
    bool redis;
    const char *certs_script;
    const char *store_bin; /* run this smem-store binary instead of an in-process server */
    char certs_dir[PATH_MAX];
} bench_cfg_t;

typedef struct bench_result {
    int32_t rc;
    double bar_p50_us, bar_p99_us, bar_mean_us;
    double set_s, get_s; /* seconds this process spent on its SETs / GETs */
} bench_result_t;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int bench_tls_opts(const bench_cfg_t *cfg, bool server, net_tls_opts_t *o)
{
    net_tls_opts_init(o);
    o->enable = true;
    snprintf(o->ca_path, sizeof(o->ca_path), "%s/ca.pem", cfg->certs_dir);
    snprintf(o->cert_path, sizeof(o->cert_path), "%s/%s.pem", cfg->certs_dir, server ? "server" : "client");
    snprintf(o->key_path, sizeof(o->key_path), "%s/%s.key", cfg->certs_dir, server ? "server" : "client");
    return 0;
}

/* Child: one client process. Writes a bench_result_t to wfd. */
static void bench_client(const bench_cfg_t *cfg, const char *url, int nprocs, bool tls, int wfd)
{
    bench_result_t res = {0};
    store_client_opts_t co;
    store_client_opts_init(&co);
    net_tls_t *ctx = NULL;
    if (tls) {
        net_tls_opts_t to;
        bench_tls_opts(cfg, false, &to);
        res.rc = net_tls_create(&to, false, &ctx);
        if (res.rc != SMEM_OK) goto out;
        co.rpc.net.tls = ctx;
    }
    store_client_t *c = NULL;
    res.rc = store_client_connect(url, &co, &c);
    if (res.rc != SMEM_OK) goto out;
    uint32_t rank = 0;
    char group[64];
    snprintf(group, sizeof(group), "bench%d%s", nprocs, tls ? "t" : "");
    res.rc = store_group_join(c, group, (uint32_t)nprocs, UINT32_MAX, &rank);
    if (res.rc != SMEM_OK) goto close;

    uint64_t *lat = calloc((size_t)cfg->barriers, sizeof(uint64_t));
    if (lat == NULL) {
        res.rc = SMEM_MALLOC_FAILED;
        goto close;
    }
    /* Warm up, then time each barrier. */
    for (int i = 0; i < 10 && res.rc == SMEM_OK; i++) res.rc = store_barrier(c, "warm", (uint32_t)nprocs, rank, 60000);
    for (int i = 0; i < cfg->barriers && res.rc == SMEM_OK; i++) {
        uint64_t t0 = util_now_ns();
        res.rc = store_barrier(c, "lat", (uint32_t)nprocs, rank, 60000);
        lat[i] = util_now_ns() - t0;
    }
    if (res.rc == SMEM_OK) {
        double sum = 0;
        for (int i = 0; i < cfg->barriers; i++) sum += (double)lat[i];
        qsort(lat, (size_t)cfg->barriers, sizeof(uint64_t), cmp_u64);
        res.bar_mean_us = sum / cfg->barriers / 1e3;
        res.bar_p50_us = (double)lat[cfg->barriers / 2] / 1e3;
        res.bar_p99_us = (double)lat[(size_t)((cfg->barriers - 1) * 0.99)] / 1e3;
    }
    free(lat);

    char key[64], val[64];
    memset(val, 'v', sizeof(val));
    if (res.rc == SMEM_OK) res.rc = store_barrier(c, "set", (uint32_t)nprocs, rank, 60000);
    uint64_t t0 = util_now_ns();
    for (int i = 0; i < cfg->ops && res.rc == SMEM_OK; i++) {
        snprintf(key, sizeof(key), "k/%u/%d", rank, i % 1024);
        res.rc = store_set(c, key, val, sizeof(val));
    }
    res.set_s = (double)(util_now_ns() - t0) / 1e9;
    if (res.rc == SMEM_OK) res.rc = store_barrier(c, "get", (uint32_t)nprocs, rank, 60000);
    t0 = util_now_ns();
    for (int i = 0; i < cfg->ops && res.rc == SMEM_OK; i++) {
        snprintf(key, sizeof(key), "k/%u/%d", rank, i % 1024);
        uint8_t *v = NULL;
        uint32_t len = 0;
        res.rc = store_get(c, key, 0, &v, &len);
        if (res.rc == SMEM_OK && len != sizeof(val)) res.rc = SMEM_ERROR;
        free(v);
    }
    res.get_s = (double)(util_now_ns() - t0) / 1e9;
    if (res.rc == SMEM_OK) res.rc = store_barrier(c, "end", (uint32_t)nprocs, rank, 60000);
    if (rank != 0) res.bar_p50_us = -1; /* only rank 0 reports latency */
close:
    if (res.rc != SMEM_OK) fprintf(stderr, "bench client: %s (%d)\n", util_err_get(), res.rc);
    store_client_close(c);
out:
    if (ctx) net_tls_destroy(ctx);
    if (write(wfd, &res, sizeof(res)) != (ssize_t)sizeof(res)) _exit(3);
    _exit(res.rc == SMEM_OK ? 0 : 1);
}

static pid_t bench_server_fork(const bench_cfg_t *cfg, bool tls, char *url, size_t cap)
{
    int pfd[2];
    if (pipe(pfd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0 && cfg->store_bin != NULL) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(pfd[0]);
        dup2(pfd[1], STDOUT_FILENO);
        net_tls_opts_t to;
        bench_tls_opts(cfg, true, &to);
        char *args[] = {(char *)cfg->store_bin, "--listen", "tcp://127.0.0.1:0", "--log-level", "3",
                        tls ? "--tls-ca" : NULL, to.ca_path, "--tls-cert", to.cert_path, "--tls-key", to.key_path, NULL};
        execv(cfg->store_bin, args);
        fprintf(stderr, "exec %s: %s\n", cfg->store_bin, strerror(errno));
        _exit(127);
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(pfd[0]);
        store_server_opts_t so;
        store_server_opts_init(&so);
        net_tls_t *ctx = NULL;
        if (tls) {
            net_tls_opts_t to;
            bench_tls_opts(cfg, true, &to);
            if (net_tls_create(&to, true, &ctx) != SMEM_OK) {
                fprintf(stderr, "server TLS: %s\n", util_err_get());
                _exit(1);
            }
            so.net.tls = ctx;
        }
        store_server_t *s = NULL;
        if (store_server_start("tcp://127.0.0.1:0", &so, &s) != SMEM_OK) {
            fprintf(stderr, "server: %s\n", util_err_get());
            _exit(1);
        }
        uint16_t port = store_server_port(s);
        if (write(pfd[1], &port, sizeof(port)) != sizeof(port)) _exit(1);
        pause(); /* until SIGTERM/SIGKILL from the parent */
        _exit(0);
    }
    close(pfd[1]);
    if (cfg->store_bin != NULL) {
        /* smem-store prints "smem-store listening on URL[ (TLS)]". */
        char line[256];
        size_t n = 0;
        while (n + 1 < sizeof(line) && read(pfd[0], &line[n], 1) == 1 && line[n] != '\n') n++;
        line[n] = '\0';
        close(pfd[0]);
        char *at = strstr(line, "listening on ");
        if (at == NULL) return -1;
        at += strlen("listening on ");
        at[strcspn(at, " ")] = '\0';
        snprintf(url, cap, "%s", at);
        return pid;
    }
    uint16_t port = 0;
    ssize_t n = read(pfd[0], &port, sizeof(port));
    close(pfd[0]);
    if (n != sizeof(port)) return -1;
    snprintf(url, cap, "tcp://127.0.0.1:%u", port);
    return pid;
}

static int bench_run(const bench_cfg_t *cfg, int nprocs, bool tls)
{
    char url[128];
    pid_t srv = bench_server_fork(cfg, tls, url, sizeof(url));
    if (srv < 0) {
        fprintf(stderr, "cannot start store server\n");
        return 1;
    }
    int pfd[2];
    if (pipe(pfd) != 0) return 1;
    uint64_t t0 = util_now_ns();
    for (int i = 0; i < nprocs; i++) {
        pid_t p = fork();
        if (p == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            close(pfd[0]);
            bench_client(cfg, url, nprocs, tls, pfd[1]);
        }
    }
    close(pfd[1]);
    int failed = 0;
    bench_result_t r0 = {0};
    double set_max = 0, get_max = 0;
    for (int i = 0; i < nprocs; i++) {
        bench_result_t r;
        if (read(pfd[0], &r, sizeof(r)) != (ssize_t)sizeof(r)) {
            failed++;
            continue;
        }
        if (r.rc != SMEM_OK) failed++;
        if (r.bar_p50_us >= 0) r0 = r;
        if (r.set_s > set_max) set_max = r.set_s;
        if (r.get_s > get_max) get_max = r.get_s;
    }
    close(pfd[0]);
    for (int i = 0; i < nprocs; i++) {
        int st;
        if (wait(&st) > 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0) && failed == 0) failed++;
    }
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    double wall = (double)(util_now_ns() - t0) / 1e9;
    if (failed) {
        printf("| %d | %s | FAILED (%d processes) | | | | | |\n", nprocs, tls ? "TLS 1.3" : "plain", failed);
        return 1;
    }
    double total = (double)nprocs * cfg->ops;
    printf("| %d | %s | %.1f | %.1f | %.1f | %.0f | %.0f | %.1f |\n", nprocs, tls ? "TLS 1.3" : "plain", r0.bar_p50_us,
           r0.bar_p99_us, r0.bar_mean_us, total / set_max, total / get_max, wall);
    fflush(stdout);
    return 0;
}

/* Raw loopback TCP ping-pong: median round trip in microseconds. */
static double bench_tcp_rtt_us(int rounds)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = accept(ls, NULL, NULL);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char buf[24];
        for (;;) {
            size_t got = 0;
            while (got < sizeof(buf)) {
                ssize_t n = read(fd, buf + got, sizeof(buf) - got);
                if (n <= 0) _exit(0);
                got += (size_t)n;
            }
            if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) _exit(0);
        }
    }
    close(ls);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) return -1;
    uint64_t *lat = calloc((size_t)rounds, sizeof(uint64_t));
    char buf[24] = {0};
    for (int i = 0; i < rounds; i++) {
        uint64_t t0 = util_now_ns();
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) break;
        size_t got = 0;
        while (got < sizeof(buf)) {
            ssize_t n = read(fd, buf + got, sizeof(buf) - got);
            if (n <= 0) break;
            got += (size_t)n;
        }
        lat[i] = util_now_ns() - t0;
    }
    close(fd);
    waitpid(pid, NULL, 0);
    qsort(lat, (size_t)rounds, sizeof(uint64_t), cmp_u64);
    double us = (double)lat[rounds / 2] / 1e3;
    free(lat);
    return us;
}

/* Redis SET/GET ops/s with n client processes, as our store is measured: n
 * concurrent `redis-benchmark -c 1` processes (64-byte values, no pipelining),
 * ops/s summed. Returns 0 and prints a row, or -1 when Redis is not installed. */
static int bench_redis(int nclients, int ops_per_client)
{
    static int calls;
    if (system("command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1") != 0)
        return -1;
    int port = 20000 + (int)((getpid() * 7 + calls++) % 20000);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no --daemonize yes "
             "--pidfile /tmp/bench_ctrl_redis.%d.pid --logfile /dev/null",
             port, port);
    if (system(cmd) != 0) return -1;
    snprintf(cmd, sizeof(cmd), "for i in $(seq 100); do redis-cli -p %d ping >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1",
             port);
    int rc = system(cmd);
    double set_ops = 0, get_ops = 0;
    for (int t = 0; t < 2 && rc == 0; t++) {
        snprintf(cmd, sizeof(cmd),
                 "for i in $(seq %d); do redis-benchmark -p %d -c 1 -n %d -d 64 -t %s -q 2>/dev/null & done; wait", nclients,
                 port, ops_per_client, t == 0 ? "set" : "get");
        FILE *f = popen(cmd, "r");
        char line[512];
        while (f != NULL && fgets(line, sizeof(line), f)) {
            /* "SET: 123456.79 requests per second, p50=0.111 msec" (after \r progress output) */
            char *p = strrchr(line, '\r');
            p = p ? p + 1 : line;
            if (strncmp(p, "SET:", 4) == 0) set_ops += atof(p + 4);
            if (strncmp(p, "GET:", 4) == 0) get_ops += atof(p + 4);
        }
        if (f) pclose(f);
    }
    snprintf(cmd, sizeof(cmd), "kill $(cat /tmp/bench_ctrl_redis.%d.pid 2>/dev/null) 2>/dev/null; rm -f /tmp/bench_ctrl_redis.%d.pid",
             port, port);
    if (system(cmd) != 0) fprintf(stderr, "could not stop redis-server on port %d\n", port);
    if (rc != 0 || set_ops <= 0) return -1;
    printf("| %d | Redis 7 (%d redis-benchmark -c 1 processes) | | | | %.0f | %.0f | |\n", nclients, nclients, set_ops,
           get_ops);
    return 0;
}

static int bench_parse_procs(const char *s, bench_cfg_t *cfg)
{
    cfg->nprocs = 0;
    char *dup = strdup(s), *save = NULL;
    for (char *t = strtok_r(dup, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        int v = atoi(t);
        if (v < 1 || v > 256 || cfg->nprocs == 8) {
            free(dup);
            return -1;
        }
        cfg->procs[cfg->nprocs++] = v;
    }
    free(dup);
    return cfg->nprocs > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    bench_cfg_t cfg = {.procs = {2, 8, 32}, .nprocs = 3, .barriers = 2000, .ops = 20000, .tls = true, .redis = true};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0) {
            cfg.barriers = 50;
            cfg.ops = 200;
            cfg.procs[0] = 2;
            cfg.procs[1] = 4;
            cfg.nprocs = 2;
        } else if (strcmp(argv[i], "--procs") == 0 && i + 1 < argc) {
            if (bench_parse_procs(argv[++i], &cfg) != 0) {
                fprintf(stderr, "--procs: comma-separated counts 1..256 (at most 8)\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--barriers") == 0 && i + 1 < argc) {
            cfg.barriers = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            cfg.ops = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-tls") == 0) {
            cfg.tls = false;
        } else if (strcmp(argv[i], "--no-redis") == 0) {
            cfg.redis = false;
        } else if (strcmp(argv[i], "--store-bin") == 0 && i + 1 < argc) {
            cfg.store_bin = argv[++i];
        } else if (strcmp(argv[i], "--certs-script") == 0 && i + 1 < argc) {
            cfg.certs_script = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_ctrl [--smoke] [--procs 2,8,32] [--barriers N] [--ops N] [--no-tls] "
                            "[--no-redis] [--certs-script PATH] [--store-bin PATH]\n");
            return 2;
        }
    }
    if (cfg.barriers < 1 || cfg.ops < 1) {
        fprintf(stderr, "--barriers and --ops must be positive\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (cfg.tls) {
        if (cfg.certs_script == NULL) cfg.certs_script = "scripts/gen-test-certs.sh";
        snprintf(cfg.certs_dir, sizeof(cfg.certs_dir), "/tmp/bench_ctrl_certs.%d", (int)getpid());
        char cmd[PATH_MAX * 2 + 32];
        snprintf(cmd, sizeof(cmd), "bash '%s' '%s' >/dev/null", cfg.certs_script, cfg.certs_dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "certificate generation failed (%s)\n", cmd);
            return 1;
        }
    }
    printf("| processes | transport | barrier p50 (us) | barrier p99 (us) | barrier mean (us) | SET ops/s | GET ops/s | "
           "wall (s) |\n|---|---|---|---|---|---|---|---|\n");
    int rc = 0;
    for (int i = 0; i < cfg.nprocs; i++) {
        rc |= bench_run(&cfg, cfg.procs[i], false);
        if (cfg.tls) rc |= bench_run(&cfg, cfg.procs[i], true);
        if (cfg.redis && bench_redis(cfg.procs[i], cfg.ops) != 0 && i == 0)
            printf("| | Redis: not installed or failed to start, skipped | | | | | | |\n");
    }
    double rtt = bench_tcp_rtt_us(cfg.barriers > 1000 ? 20000 : 2000);
    printf("\nloopback TCP round trip (24 bytes, 2 processes, p50): %.1f us = %.0f synchronous ops/s per client\n", rtt,
           rtt > 0 ? 1e6 / rtt : 0);
    if (cfg.tls) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cfg.certs_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", cfg.certs_dir);
    }
    return rc;
}
