/*
 * memcache KV latency test (docs: /work/shared/workloads/README.md §1) on one
 * host: batches of DeepSeek-R1 KV blocks (61 x 128 KiB + 61 x 16 KiB = 122
 * discrete pieces, 8,784 KiB per key) put by a writer process and got by a
 * reader process through the layers API, against the physical limit and the
 * store a user would pick instead, measured in the same run.
 *
 *   bench_kv [--smoke] [--batches 8,16,32] [--iters N] [--redis-iters N] [--pool-mb MB]
 *            [--exist-keys N] [--no-redis] [--bin-dir DIR]
 *            [--external [--meta URL] [--store URL] [--max-dram-size SIZE]]
 *            [--netns [--iperf-seconds N]]
 *
 * Processes: mmc-meta (loopback, ephemeral ports), two mmc-local
 * LocalServices contributing --pool-mb / 2 MiB each, and two pure-client
 * processes (this binary with --worker): the writer and the reader. With
 * --external the running cluster at --meta (default tcp://127.0.0.1:5000,
 * config store --store, default tcp://127.0.0.1:6000, per-rank stride
 * --max-dram-size, default 1GB as mmc-local's) is used instead, its pool
 * size read from the MetaService's STATS (scripts/demo.sh). For each
 * batch size B the driver runs rounds: the writer puts as many batches of B
 * new keys as fit in 75% of the pool (mmcc_batch_put_layers, one call per
 * batch, timed per call), then the reader gets them (mmcc_batch_get_layers,
 * checking a stamp and sample bytes of every block outside the timed call),
 * then removes them; until --iters batches were timed each way. One untimed
 * warm-up round per batch size first maps the pool pages in both clients
 * (the LocalServices commit their DRAM at start).
 *
 * Baselines, same blocks, same batches:
 *  - memcpy: the driver gathers the B blocks' 122 pieces into one contiguous
 *    pre-faulted region (put) and scatters them back (get), one thread;
 *  - Redis 7 (redis-server on a free loopback port, hiredis): put = gather
 *    each block into a buffer and SET it, B SETs pipelined; get = B GETs
 *    pipelined, each reply scattered into the 122 pieces; DEL afterwards.
 *    Skipped with a printed reason without hiredis or redis-server.
 *  - metadata: batch exist of --exist-keys keys (mmcc_batch_exist, one round
 *    trip) vs Redis EXISTS for the same number of keys, pipelined.
 *
 * --netns (root): the same test across two simulated hosts (network
 * namespaces on a bridge, tests/testutil/netns.h; nothing leaves them):
 * mmc-meta in the hub namespace, one mmc-local LocalService (--pool-mb / 2
 * MiB) on each of hosts 0 and 1 (data plane bound in the namespaces'
 * subnet), the writer on host 0 and the reader on host 1. The writer puts
 * with 1 replica on its own host's LocalService (preferredLocalServiceIDs),
 * so every get crosses the veth link through BM's tcp transport; where the
 * blocks landed is queried after every put round and printed. Rounds fill
 * 75% of that one LocalService. In the same run: iperf3 one stream from host
 * 0 to host 1 (the direction the gets move data) on the same link, before
 * and after the KV runs; the better one is the limit the GB/s are compared
 * with. No Redis rows. Without root it prints "skipped: needs root for
 * network namespaces" and exits 0.
 *
 * Output: markdown tables (p50/p99 ms per batch, GB/s = 10^9 bytes/s, ratio
 * to memcpy time and to Redis throughput). Exit status non-zero if any put or
 * get fails or returns wrong bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/common/mmc_meta_client.h"
#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "util/util_time.h"

#include "bench_iperf.h" /* netns.h: the simulated hosts of --netns */

#ifdef BENCH_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#define LAYERS 61u
#define LAT (128u << 10)
#define ROPE (16u << 10)
#define NPIECE (2u * LAYERS)
#define BLOCK ((uint64_t)LAYERS * (LAT + ROPE))
#define BATCH_MAXB 64u
#define ITERS_MAX 4096u

/* ---------- blocks ---------- */

typedef struct blk {
    uint8_t *mem;
    mmc_buffer layers[NPIECE];
} blk_t;

/* The 122 pieces of one block at discrete addresses (a gap between pieces). */
static int blk_init(blk_t *b, uint64_t gap)
{
    uint64_t span = (uint64_t)LAYERS * (LAT + ROPE + 2 * gap);
    b->mem = aligned_alloc(4096, (span + 4095) / 4096 * 4096);
    if (b->mem == NULL) return -1;
    memset(b->mem, 0, span); /* fault the pages in before timing */
    uint64_t off = 0;
    for (uint32_t l = 0; l < LAYERS; l++) {
        b->layers[2 * l] = (mmc_buffer){.addr = (uint64_t)(uintptr_t)(b->mem + off), .type = 1, .len = LAT};
        off += LAT + gap;
        b->layers[2 * l + 1] = (mmc_buffer){.addr = (uint64_t)(uintptr_t)(b->mem + off), .type = 1, .len = ROPE};
        off += ROPE + gap;
    }
    return 0;
}

static uint8_t pat(uint32_t blk, uint32_t piece, uint64_t i) { return (uint8_t)(blk * 31u + piece * 7u + i * 13u); }

static void blk_fill(blk_t *b, uint32_t idx)
{
    for (uint32_t p = 0; p < NPIECE; p++) {
        uint8_t *q = (uint8_t *)(uintptr_t)b->layers[p].addr;
        for (uint64_t i = 0; i < b->layers[p].len; i++) q[i] = pat(idx, p, i);
    }
}

/* The first 8 bytes of piece 0 carry the iteration; samples elsewhere carry the pattern. */
static void blk_stamp(blk_t *b, uint32_t idx, uint64_t it)
{
    uint8_t *q = (uint8_t *)(uintptr_t)b->layers[0].addr;
    for (int i = 0; i < 8; i++) q[i] = (uint8_t)((it >> (8 * i)) ^ pat(idx, 0, (uint64_t)i));
}

static bool blk_check(const blk_t *b, uint32_t idx, uint64_t it)
{
    const uint8_t *q = (const uint8_t *)(uintptr_t)b->layers[0].addr;
    for (int i = 0; i < 8; i++)
        if (q[i] != (uint8_t)((it >> (8 * i)) ^ pat(idx, 0, (uint64_t)i))) return false;
    for (uint32_t p = 1; p < NPIECE; p++) {
        const uint8_t *r = (const uint8_t *)(uintptr_t)b->layers[p].addr;
        uint64_t len = b->layers[p].len;
        uint64_t at[4] = {0, len / 3, len / 2, len - 1};
        for (int k = 0; k < 4; k++)
            if (r[at[k]] != pat(idx, p, at[k])) return false;
    }
    return true;
}

/* ---------- worker (writer / reader process) ---------- */

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void kv_key(char *out, size_t cap, uint32_t b, uint64_t it, uint32_t j)
{
    snprintf(out, cap, "kv/b%u/i%" PRIu64 "/k%u", b, it, j);
}

static int worker_main(void)
{
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    if (mmc_init(&ic) != 0) {
        reply("err mmc_init: %s\n", mmc_get_last_err_msg());
        return 1;
    }
    static blk_t blks[BATCH_MAXB];
    const mmc_buffer *layers[BATCH_MAXB];
    uint32_t nl[BATCH_MAXB];
    static char names[BATCH_MAXB][64];
    const char *keys[BATCH_MAXB];
    int32_t res[BATCH_MAXB];
    uint32_t have = 0;
    char line[256];
    /* --netns: put on this LocalService first (the writer's own host's) */
    mmc_put_options popt = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 1}, *pref = NULL;
    for (int i = 0; i < 8; i++) popt.preferredLocalServiceIDs[i] = -1;
    if (getenv("BENCH_KV_PREFER") != NULL) {
        popt.preferredLocalServiceIDs[0] = atoi(getenv("BENCH_KV_PREFER"));
        pref = &popt;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char op[16];
        uint32_t b = 0;
        uint64_t it0 = 0, n = 0;
        if (strncmp(line, "quit", 4) == 0) break;
        if (sscanf(line, "%15s %u %" SCNu64 " %" SCNu64, op, &b, &it0, &n) != 4 || b == 0 || b > BATCH_MAXB) {
            reply("err bad command '%s'\n", line);
            continue;
        }
        if (strcmp(op, "exist") == 0) { /* b unused; it0 = keys, n = repetitions */
            uint32_t nk = (uint32_t)it0;
            const char **ek = malloc(nk * sizeof(*ek));
            char (*en)[32] = malloc(nk * sizeof(*en));
            int32_t *er = malloc(nk * sizeof(*er));
            for (uint32_t i = 0; i < nk; i++) {
                snprintf(en[i], sizeof(en[i]), "exist/%u", i);
                ek[i] = en[i];
            }
            uint64_t t0 = util_now_ns();
            int bad = 0;
            for (uint64_t r = 0; r < n; r++) bad += mmcc_batch_exist(ek, nk, er, 0) != 0;
            uint64_t t = util_now_ns() - t0;
            free(ek);
            free(en);
            free(er);
            if (bad) reply("err batch exist failed %d times: %s\n", bad, mmc_get_last_err_msg());
            else reply("ok %" PRIu64 "\n", t);
            continue;
        }
        for (; have < b; have++) { /* buffers for up to b blocks, made once */
            if (blk_init(&blks[have], 4096u * (have + 1)) != 0) {
                reply("err out of memory\n");
                return 1;
            }
            blk_fill(&blks[have], have);
            layers[have] = blks[have].layers;
            nl[have] = NPIECE;
        }
        for (uint32_t j = 0; j < b; j++) keys[j] = names[j];
        if (strcmp(op, "where") == 0) { /* replicas per LocalService id 0..15 of the n batches' keys */
            uint64_t cnt[17] = {0};
            mmc_data_info di[BATCH_MAXB];
            int qbad = 0;
            for (uint64_t it = it0; it < it0 + n; it++) {
                for (uint32_t j = 0; j < b; j++) kv_key(names[j], sizeof(names[j]), b, it, j);
                if (mmcc_batch_query(keys, b, di, 0) != 0) {
                    qbad++;
                    continue;
                }
                for (uint32_t j = 0; j < b; j++)
                    for (uint32_t r = 0; r < di[j].numBlobs && r < 8; r++)
                        cnt[di[j].ranks[r] < 16 ? di[j].ranks[r] : 16]++; /* 16: any id above 15 */
            }
            if (qbad) {
                reply("err batch query failed %d times: %s\n", qbad, mmc_get_last_err_msg());
                continue;
            }
            char w[17 * 24] = "ok";
            size_t wo = 2;
            for (int r = 0; r < 17; r++) wo += (size_t)snprintf(w + wo, sizeof(w) - wo, " %" PRIu64, cnt[r]);
            reply("%s\n", w);
            continue;
        }
        bool put = strcmp(op, "put") == 0, get = strcmp(op, "get") == 0, rm = strcmp(op, "rm") == 0;
        if (!put && !get && !rm) {
            reply("err unknown op %s\n", op);
            continue;
        }
        char *out = malloc(32 * n + 16);
        size_t off = (size_t)sprintf(out, "ok");
        int bad = 0;
        char why[300] = "";
        for (uint64_t it = it0; it < it0 + n; it++) {
            for (uint32_t j = 0; j < b; j++) {
                kv_key(names[j], sizeof(names[j]), b, it, j);
                if (put) blk_stamp(&blks[j], j, it);
            }
            uint64_t t0 = util_now_ns();
            int32_t rc = put ? mmcc_batch_put_layers(keys, b, layers, nl, pref, 0, res)
                       : get ? mmcc_batch_get_layers(keys, b, layers, nl, 0, res)
                             : mmcc_batch_remove(keys, b, res, 0);
            uint64_t t = util_now_ns() - t0;
            off += (size_t)sprintf(out + off, " %" PRIu64, t);
            for (uint32_t j = 0; j < b; j++) {
                bool wrong = get && res[j] == 0 && !blk_check(&blks[j], j, it);
                if (rc != 0 || res[j] != 0 || wrong) {
                    if (bad++ == 0)
                        snprintf(why, sizeof(why), "%s %s: rc %d key %d%s %s", op, keys[j], rc, res[j],
                                 wrong ? " wrong bytes" : "", mmc_get_last_err_msg());
                }
            }
        }
        if (bad) reply("err %d failures, first: %s\n", bad, why);
        else reply("%s\n", out);
        free(out);
    }
    mmc_uninit();
    return 0;
}

/* ---------- processes ---------- */

typedef struct proc {
    pid_t pid;
    FILE *in, *out; /* its stdin (we write), its stdout (we read) */
    tn_net_t *net;  /* --netns: started inside a simulated host (tn_fork) */
} proc_t;

/* argv in the host's namespace (tn_fork), stdout to a pipe, stdin from one when want_stdin. */
static int proc_start_ns(tn_net_t *net, uint32_t host, char *const argv[], proc_t *p, bool want_stdin)
{
    int ip[2] = {-1, -1}, op[2];
    if (pipe(op) != 0 || (want_stdin && pipe(ip) != 0)) return -1;
    pid_t pid = tn_fork(net, host);
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(op[1], STDOUT_FILENO);
        if (want_stdin) dup2(ip[0], STDIN_FILENO);
        for (int fd = 3; fd < 64; fd++) close(fd);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(op[1]);
    p->pid = pid;
    p->net = net;
    p->out = fdopen(op[0], "r");
    p->in = NULL;
    if (want_stdin) {
        close(ip[0]);
        p->in = fdopen(ip[1], "w");
    }
    return 0;
}

/* A line of p's stdout within timeout_ms (the '\n' stripped); -1 on EOF or timeout. */
static int proc_line(proc_t *p, char *line, size_t cap, int timeout_ms)
{
    int fd = fileno(p->out);
    size_t n = 0;
    uint64_t end = util_now_ms() + (uint64_t)timeout_ms;
    while (n + 1 < cap) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        uint64_t now = util_now_ms();
        if (now >= end || poll(&pf, 1, (int)(end - now)) <= 0) return -1;
        char c;
        if (read(fd, &c, 1) != 1) return -1;
        if (c == '\n') break;
        line[n++] = c;
    }
    line[n] = '\0';
    return 0;
}

static int proc_start(char *const argv[], proc_t *p, bool want_stdin)
{
    int ip[2] = {-1, -1}, op[2];
    if (pipe(op) != 0 || (want_stdin && pipe(ip) != 0)) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        dup2(op[1], STDOUT_FILENO);
        if (want_stdin) dup2(ip[0], STDIN_FILENO);
        for (int fd = 3; fd < 64; fd++) close(fd);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(op[1]);
    p->pid = pid;
    p->out = fdopen(op[0], "r");
    p->in = NULL;
    if (want_stdin) {
        close(ip[0]);
        p->in = fdopen(ip[1], "w");
    }
    return 0;
}

static void proc_stop(proc_t *p)
{
    if (p->pid <= 0) return;
    if (p->in) {
        fprintf(p->in, "quit\n");
        fclose(p->in);
        p->in = NULL;
    } else {
        kill(p->pid, SIGTERM);
    }
    int st;
    if (p->net != NULL) {
        if (tn_wait(p->net, p->pid, 5000, &st) != 0) tn_kill(p->net, p->pid);
    } else {
        for (int i = 0; i < 500 && waitpid(p->pid, &st, WNOHANG) == 0; i++) usleep(10000);
        if (waitpid(p->pid, &st, WNOHANG) == 0) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
        }
    }
    if (p->out) fclose(p->out);
    p->pid = -1;
}

/* Sends a command, parses "ok t1 t2 ..." into lat[] (ns); returns the count or -1. */
static int proc_cmd(proc_t *p, uint64_t *lat, uint32_t cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int proc_cmd(proc_t *p, uint64_t *lat, uint32_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->in, fmt, ap);
    va_end(ap);
    fflush(p->in);
    size_t sz = 64 + 24 * (size_t)cap;
    char *line = malloc(sz);
    if (fgets(line, (int)sz, p->out) == NULL || strncmp(line, "ok", 2) != 0) {
        fprintf(stderr, "bench_kv: worker: %s", line[0] ? line : "(no answer)\n");
        free(line);
        return -1;
    }
    int n = 0;
    char *s = line + 2, *end;
    while (n < (int)cap) {
        uint64_t v = strtoull(s, &end, 10);
        if (end == s) break;
        lat[n++] = v;
        s = end;
    }
    free(line);
    return n;
}

/* ---------- stats ---------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct series {
    uint64_t ns[ITERS_MAX];
    uint32_t n;
} series_t;

static double pct_ms(series_t *s, double q)
{
    if (s->n == 0) return 0;
    qsort(s->ns, s->n, sizeof(s->ns[0]), cmp_u64);
    uint32_t i = (uint32_t)(q * (s->n - 1) + 0.5);
    return (double)s->ns[i] / 1e6;
}

static double gbps(const series_t *s, uint64_t bytes_each)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < s->n; i++) sum += s->ns[i];
    return sum ? (double)bytes_each * s->n / (double)sum : 0; /* bytes/ns = GB/s */
}

static double mean_ns(const series_t *s)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < s->n; i++) sum += s->ns[i];
    return s->n ? (double)sum / s->n : 0;
}

/* ---------- baselines ---------- */

static void memcpy_series(uint32_t b, blk_t *blks, uint8_t *flat, uint32_t iters, series_t *put, series_t *get)
{
    for (uint32_t it = 0; it < iters; it++) {
        uint64_t t0 = util_now_ns(), off = 0;
        for (uint32_t j = 0; j < b; j++)
            for (uint32_t p = 0; p < NPIECE; p++) {
                memcpy(flat + off, (void *)(uintptr_t)blks[j].layers[p].addr, blks[j].layers[p].len);
                off += blks[j].layers[p].len;
            }
        put->ns[put->n++] = util_now_ns() - t0;
        t0 = util_now_ns();
        off = 0;
        for (uint32_t j = 0; j < b; j++)
            for (uint32_t p = 0; p < NPIECE; p++) {
                memcpy((void *)(uintptr_t)blks[j].layers[p].addr, flat + off, blks[j].layers[p].len);
                off += blks[j].layers[p].len;
            }
        get->ns[get->n++] = util_now_ns() - t0;
    }
}

#ifdef BENCH_HAVE_HIREDIS
static int redis_port;
static pid_t redis_pid = -1;

static int redis_start(char *why, size_t cap)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        snprintf(why, cap, "redis-server is not installed (scripts/setup.sh installs it)");
        return -1;
    }
    redis_port = 20000 + (int)(getpid() % 20000);
    char port[16];
    snprintf(port, sizeof(port), "%d", redis_port);
    char *argv[] = {"/usr/bin/env", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--protected-mode", "no", "--logfile", "/dev/null", NULL};
    proc_t p;
    if (proc_start(argv, &p, false) != 0) {
        snprintf(why, cap, "cannot start redis-server");
        return -1;
    }
    redis_pid = p.pid;
    fclose(p.out);
    for (int i = 0; i < 200; i++) {
        redisContext *c = redisConnect("127.0.0.1", redis_port);
        if (c != NULL && c->err == 0) {
            redisReply *r = redisCommand(c, "PING");
            bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ok) return 0;
        } else if (c != NULL) {
            redisFree(c);
        }
        usleep(25000);
    }
    snprintf(why, cap, "redis-server on port %d did not answer", redis_port);
    return -1;
}

static void redis_stop(void)
{
    if (redis_pid <= 0) return;
    kill(redis_pid, SIGTERM);
    waitpid(redis_pid, NULL, 0);
    redis_pid = -1;
}

/* Put: gather + pipelined SETs; get: pipelined GETs + scatter. Returns failures. */
static int redis_series(redisContext *c, uint32_t b, blk_t *blks, uint8_t *stage, uint32_t iters, series_t *put,
                        series_t *get)
{
    int bad = 0;
    char key[64];
    for (uint32_t it = 0; it < iters; it++) {
        uint64_t t0 = util_now_ns();
        for (uint32_t j = 0; j < b; j++) {
            uint8_t *dst = stage + (uint64_t)j * BLOCK;
            uint64_t off = 0;
            for (uint32_t p = 0; p < NPIECE; p++) {
                memcpy(dst + off, (void *)(uintptr_t)blks[j].layers[p].addr, blks[j].layers[p].len);
                off += blks[j].layers[p].len;
            }
            snprintf(key, sizeof(key), "kv/b%u/i%u/k%u", b, it, j);
            const char *argv[3] = {"SET", key, (const char *)dst};
            size_t argl[3] = {3, strlen(key), BLOCK};
            redisAppendCommandArgv(c, 3, argv, argl);
        }
        for (uint32_t j = 0; j < b; j++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL || r->type != REDIS_REPLY_STATUS) bad++;
            if (r) freeReplyObject(r);
        }
        put->ns[put->n++] = util_now_ns() - t0;
    }
    for (uint32_t it = 0; it < iters; it++) {
        uint64_t t0 = util_now_ns();
        for (uint32_t j = 0; j < b; j++) {
            snprintf(key, sizeof(key), "kv/b%u/i%u/k%u", b, it, j);
            const char *argv[2] = {"GET", key};
            size_t argl[2] = {3, strlen(key)};
            redisAppendCommandArgv(c, 2, argv, argl);
        }
        for (uint32_t j = 0; j < b; j++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL || r->type != REDIS_REPLY_STRING ||
                r->len != BLOCK) {
                bad++;
            } else {
                uint64_t off = 0;
                for (uint32_t p = 0; p < NPIECE; p++) {
                    memcpy((void *)(uintptr_t)blks[j].layers[p].addr, r->str + off, blks[j].layers[p].len);
                    off += blks[j].layers[p].len;
                }
            }
            if (r) freeReplyObject(r);
        }
        get->ns[get->n++] = util_now_ns() - t0;
    }
    redisReply *r = redisCommand(c, "FLUSHALL");
    if (r) freeReplyObject(r);
    return bad;
}

/* ops/s of EXISTS for nk keys, pipelined, reps times. */
static double redis_exist(redisContext *c, uint32_t nk, uint32_t reps)
{
    char key[32];
    uint64_t t0 = util_now_ns();
    for (uint32_t r = 0; r < reps; r++) {
        for (uint32_t i = 0; i < nk; i++) {
            snprintf(key, sizeof(key), "exist/%u", i);
            redisAppendCommand(c, "EXISTS %s", key);
        }
        for (uint32_t i = 0; i < nk; i++) {
            redisReply *rep = NULL;
            if (redisGetReply(c, (void **)&rep) != REDIS_OK) return 0;
            freeReplyObject(rep);
        }
    }
    uint64_t t = util_now_ns() - t0;
    return (double)nk * reps / ((double)t / 1e9);
}
#endif

/* ---------- driver ---------- */

typedef struct opts {
    bool smoke, redis, external, netns;
    int iperf_s;
    char meta_url[MMC_URL_SIZE], store_url[MMC_URL_SIZE], stride[32];
    uint32_t batches[8], nbatches;
    uint32_t iters, redis_iters, pool_mb, exist_keys;
    char bin_dir[512];
} opts_t;

static void client_config(const char *rpc, const char *store, const char *stride, uint32_t world, const char *hcom,
                          char *cfg_path, size_t cap)
{
    snprintf(cfg_path, cap, "/tmp/bench_kv.%d.conf", (int)getpid());
    FILE *f = fopen(cfg_path, "w");
    fprintf(f, "ock.mmc.meta_service_url = %s\nock.mmc.local_service.config_store_url = %s\n"
               "ock.mmc.local_service.dram.size = 0\nock.mmc.local_service.max.dram.size = %s\n"
               "ock.mmc.local_service.world_size = %u\nock.mmc.client.timeout.seconds = 30\n",
            rpc, store, stride, world);
    /* --netns: a plain config store across hosts exposes the credential, so the data plane is allowed explicitly */
    if (hcom != NULL) fprintf(f, "ock.mmc.local_service.hcom_url = %s\nock.mmc.allow_insecure = true\n", hcom);
    fclose(f);
    setenv("MMC_LOCAL_CONFIG_PATH", cfg_path, 1);
}

/* The running cluster's DRAM pool size (MetaService STATS). */
static int external_pool(opts_t *o)
{
    mmc_meta_client_opts_t mo;
    mmc_meta_client_opts_init(&mo);
    snprintf(mo.url, sizeof(mo.url), "%s", o->meta_url);
    mo.timeout_ms = 5000;
    mmc_meta_client_t *c = NULL;
    mmc_stats_t st;
    mmc_seg_info_t *segs = NULL;
    uint32_t nseg = 0;
    if (mmc_meta_client_connect(&mo, &c) != MMC_OK || mmc_meta_stats(c, &st, &segs, &nseg) != MMC_OK) {
        fprintf(stderr, "bench_kv: no MetaService at %s: %s\n", o->meta_url, mmc_get_last_err_msg());
        mmc_meta_client_close(c);
        return -1;
    }
    free(segs);
    mmc_meta_client_close(c);
    o->pool_mb = (uint32_t)(st.media[MMC_MEDIA_DRAM].total >> 20);
    if (o->pool_mb < 128) {
        fprintf(stderr, "bench_kv: the cluster at %s has %u MiB of DRAM (%" PRIu64 " LocalServices); 128 MiB or more "
                        "needed\n", o->meta_url, o->pool_mb, st.segments);
        return -1;
    }
    return 0;
}

static int start_cluster(const opts_t *o, proc_t *meta, proc_t ls[2], char *cfg_path, size_t cap)
{
    char bin[600], rpc[128], store[128], http[128], line[512];
    char tmpl[] = "/tmp/bench_kv.XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) return -1;
    close(fd);
    FILE *f = fopen(tmpl, "w");
    fprintf(f, "ock.mmc.meta_service_url = tcp://127.0.0.1:0\nock.mmc.meta_service.config_store_url = "
               "tcp://127.0.0.1:0\nock.mmc.meta_service.metrics_url =\nock.mmc.log_level = error\n");
    fclose(f);
    snprintf(bin, sizeof(bin), "%s/mmc-meta", o->bin_dir);
    char *margv[] = {bin, "--config", tmpl, NULL};
    if (proc_start(margv, meta, false) != 0 || fgets(line, sizeof(line), meta->out) == NULL ||
        sscanf(line, "mmc-meta ready: rpc %127s store %127s metrics %127s", rpc, store, http) != 3) {
        fprintf(stderr, "bench_kv: mmc-meta did not start (%s)\n", bin);
        unlink(tmpl);
        return -1;
    }
    unlink(tmpl);
    char dram[32], stride[32];
    uint64_t each = (uint64_t)o->pool_mb / 2 << 20;
    snprintf(dram, sizeof(dram), "%" PRIu64, each);
    snprintf(stride, sizeof(stride), "%" PRIu64, (each + (2u << 20) - 1) / (2u << 20) * (2u << 20));
    snprintf(bin, sizeof(bin), "%s/mmc-local", o->bin_dir);
    for (int i = 0; i < 2; i++) {
        char *largv[] = {bin, "--meta-url", rpc, "--store-url", store, "--dram-size", dram, "--max-dram-size", stride,
                         "--world-size", "16", NULL};
        if (proc_start(largv, &ls[i], false) != 0 || fgets(line, sizeof(line), ls[i].out) == NULL ||
            strncmp(line, "mmc-local ready", 15) != 0) {
            fprintf(stderr, "bench_kv: mmc-local did not start\n");
            return -1;
        }
    }
    client_config(rpc, store, stride, 16, NULL, cfg_path, cap);
    return 0;
}

/* --netns: mmc-meta (and its config store) in the hub, a LocalService of --pool-mb / 2 MiB on
 * hosts 0 and 1, data planes bound in the subnet; rank[h] = host h's LocalService id. */
static int start_cluster_ns(const opts_t *o, tn_net_t *net, proc_t *meta, proc_t ls[2], uint32_t rank[2],
                            char *cfg_path, size_t cap)
{
    char bin[600], murl[128], rpc[128], store[128], http[128], hcom[64], line[512];
    snprintf(bin, sizeof(bin), "%s/mmc-meta", o->bin_dir);
    snprintf(murl, sizeof(murl), "tcp://%s:0", tn_addr(net, TN_HUB));
    /* Plain TCP across the namespaces on purpose (the numbers are the plain data plane's): allowed explicitly. */
    char *margv[] = {bin, "--meta-url", murl, "--store-url", murl, "--metrics-url", "", "--log-level", "error",
                     "--allow-insecure", NULL};
    if (proc_start_ns(net, TN_HUB, margv, meta, false) != 0 || proc_line(meta, line, sizeof(line), 20000) != 0 ||
        sscanf(line, "mmc-meta ready: rpc %127s store %127s metrics %127s", rpc, store, http) != 3) {
        fprintf(stderr, "bench_kv: mmc-meta did not start in the hub namespace (%s)\n", bin);
        return -1;
    }
    char dram[32], stride[32];
    uint64_t each = (uint64_t)o->pool_mb / 2 << 20;
    snprintf(dram, sizeof(dram), "%" PRIu64, each);
    snprintf(stride, sizeof(stride), "%" PRIu64, (each + (2u << 20) - 1) / (2u << 20) * (2u << 20));
    snprintf(hcom, sizeof(hcom), "tcp://%s:0", tn_subnet(net));
    snprintf(bin, sizeof(bin), "%s/mmc-local", o->bin_dir);
    for (uint32_t h = 0; h < 2; h++) {
        char *largv[] = {bin, "--meta-url", rpc, "--store-url", store, "--dram-size", dram, "--max-dram-size", stride,
                         "--world-size", "16", "--hcom-url", hcom, "--allow-insecure", NULL};
        if (proc_start_ns(net, h, largv, &ls[h], false) != 0 || proc_line(&ls[h], line, sizeof(line), 60000) != 0 ||
            sscanf(line, "mmc-local ready: rank %u", &rank[h]) != 1) {
            fprintf(stderr, "bench_kv: mmc-local did not start on host %u\n", h);
            return -1;
        }
    }
    client_config(rpc, store, stride, 16, hcom, cfg_path, cap);
    return 0;
}

static int parse_list(const char *s, uint32_t *out, uint32_t cap, uint32_t *n)
{
    *n = 0;
    while (*s && *n < cap) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v == 0 || v > BATCH_MAXB) return -1;
        out[(*n)++] = (uint32_t)v;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0') return -1;
    }
    return *n ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--worker") == 0) return worker_main();
    signal(SIGPIPE, SIG_IGN);
    opts_t o = {.redis = true, .meta_url = "tcp://127.0.0.1:5000", .store_url = "tcp://127.0.0.1:6000",
                .stride = "1GB", .batches = {8, 16, 32}, .nbatches = 3, .iters = 64, .redis_iters = 16, .pool_mb = 2048,
                .exist_keys = 1000, .iperf_s = 5};
    char self[512];
    ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[k > 0 ? k : 0] = '\0';
    snprintf(o.bin_dir, sizeof(o.bin_dir), "%.*s", (int)(strrchr(self, '/') ? strrchr(self, '/') - self : 1), self);
    if (strrchr(o.bin_dir, '/') && strcmp(strrchr(o.bin_dir, '/'), "/bench") == 0) *strrchr(o.bin_dir, '/') = '\0';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--smoke") == 0) {
            o.smoke = true;
            o.redis = false;
            o.batches[0] = 8;
            o.nbatches = 1;
            o.iters = 4;
            o.pool_mb = 512;
        } else if (strcmp(a, "--no-redis") == 0) {
            o.redis = false;
        } else if (strcmp(a, "--batches") == 0 && v && parse_list(v, o.batches, 8, &o.nbatches) == 0) {
            i++;
        } else if (strcmp(a, "--iters") == 0 && v && atoi(v) > 0 && atoi(v) <= (int)ITERS_MAX) {
            o.iters = (uint32_t)atoi(argv[++i]);
        } else if (strcmp(a, "--redis-iters") == 0 && v && atoi(v) > 0 && atoi(v) <= (int)ITERS_MAX) {
            o.redis_iters = (uint32_t)atoi(argv[++i]);
        } else if (strcmp(a, "--pool-mb") == 0 && v && atoi(v) >= 128) {
            o.pool_mb = (uint32_t)atoi(argv[++i]);
        } else if (strcmp(a, "--exist-keys") == 0 && v && atoi(v) > 0 && atoi(v) <= 16384) {
            o.exist_keys = (uint32_t)atoi(argv[++i]);
        } else if (strcmp(a, "--netns") == 0) {
            o.netns = true;
        } else if (strcmp(a, "--iperf-seconds") == 0 && v && atoi(v) > 0 && atoi(v) <= 60) {
            o.iperf_s = atoi(argv[++i]);
        } else if (strcmp(a, "--external") == 0) {
            o.external = true;
        } else if (strcmp(a, "--meta") == 0 && v && strlen(v) < sizeof(o.meta_url)) {
            snprintf(o.meta_url, sizeof(o.meta_url), "%s", argv[++i]);
        } else if (strcmp(a, "--store") == 0 && v && strlen(v) < sizeof(o.store_url)) {
            snprintf(o.store_url, sizeof(o.store_url), "%s", argv[++i]);
        } else if (strcmp(a, "--max-dram-size") == 0 && v && strlen(v) < sizeof(o.stride)) {
            snprintf(o.stride, sizeof(o.stride), "%s", argv[++i]);
        } else if (strcmp(a, "--bin-dir") == 0 && v) {
            snprintf(o.bin_dir, sizeof(o.bin_dir), "%s", argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_kv [--smoke] [--batches 8,16,32] [--iters N] [--redis-iters N] "
                            "[--pool-mb MB] [--exist-keys N] [--no-redis] [--bin-dir DIR]\n"
                            "                [--external [--meta URL] [--store URL] [--max-dram-size SIZE]]\n"
                            "                [--netns [--iperf-seconds N]]\n");
            return 2;
        }
    }
    if (o.netns) {
        char why[256] = "";
        if (o.external) {
            fprintf(stderr, "bench_kv: --netns starts its own cluster; it does not go with --external\n");
            return 2;
        }
        if (geteuid() != 0 || !tn_available(why, sizeof(why))) {
            printf("bench_kv --netns: skipped: needs root for network namespaces (%s)\n",
                   geteuid() != 0 ? "not root" : why);
            return 0;
        }
        o.redis = false; /* Redis over loopback says nothing about the link */
        if (o.smoke) o.iperf_s = 1;
    }
    if (o.external) {
        if (external_pool(&o) != 0) return 1;
    }
    uint32_t maxb = 0;
    for (uint32_t i = 0; i < o.nbatches; i++) maxb = o.batches[i] > maxb ? o.batches[i] : maxb;
    /* the space the rounds fill: the pool, or with --netns the writer host's LocalService (half of it) */
    uint64_t pool = (uint64_t)o.pool_mb << 20;
    if (o.netns) pool = (uint64_t)o.pool_mb / 2 << 20;
    if ((uint64_t)maxb * BLOCK > pool * 3 / 4) {
        fprintf(stderr, "bench_kv: a batch of %u blocks (%" PRIu64 " MiB) does not fit 75%% of a %" PRIu64
                        " MiB %s\n", maxb, (uint64_t)maxb * BLOCK >> 20, pool >> 20,
                o.netns ? "LocalService (--pool-mb / 2)" : "pool");
        return 2;
    }

    proc_t meta = {.pid = -1}, ls[2] = {{.pid = -1}, {.pid = -1}}, wr = {.pid = -1}, rd = {.pid = -1};
    char cfg_path[256] = "";
    int rc = 1;
    static series_t put, get, mput, mget, rput, rget;
    uint64_t *lat = malloc(ITERS_MAX * sizeof(*lat));
    tn_net_t *net = NULL;
    uint32_t lsrank[2] = {0, 0};
    pid_t iperf_srv = -1;
    double bps_before = 0, bps_after = 0, ref = 0; /* iperf3 one stream, host 0 -> host 1; ref: the better, GB/s */
    FILE *tbl = stdout; /* --netns: the table is kept until the iperf3 run after it */
    char *tbl_text = NULL;
    size_t tbl_len = 0;
    char place[8][160];
    if (o.netns) {
        char err[512];
        tn_opts_t no = {.hosts = 2, .subnet = 211};
        if (tn_net_create(&no, &net, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_kv: network namespaces: %s\n", err);
            goto out;
        }
        if (start_cluster_ns(&o, net, &meta, ls, lsrank, cfg_path, sizeof(cfg_path)) != 0) goto out;
        iperf_srv = bench_iperf_server(net, 1, "5201");
        if (iperf_srv > 0) bps_before = bench_iperf_run(net, 0, 1, "5201", 1, o.iperf_s, "bench_kv");
        if (bps_before <= 0) fprintf(stderr, "bench_kv: no iperf3 figure (is iperf3 installed? scripts/setup.sh)\n");
        tbl = open_memstream(&tbl_text, &tbl_len);
        if (tbl == NULL) goto out;
    } else if (o.external)
        client_config(o.meta_url, o.store_url, o.stride, 256, NULL, cfg_path, sizeof(cfg_path));
    else if (start_cluster(&o, &meta, ls, cfg_path, sizeof(cfg_path)) != 0)
        goto out;
    char *wargv[] = {self, "--worker", NULL};
    if (o.netns) {
        char pr[16];
        snprintf(pr, sizeof(pr), "%u", lsrank[0]);
        setenv("BENCH_KV_PREFER", pr, 1); /* the writer puts on its own host's LocalService */
        int w = proc_start_ns(net, 0, wargv, &wr, true);
        unsetenv("BENCH_KV_PREFER");
        if (w != 0 || proc_start_ns(net, 1, wargv, &rd, true) != 0) goto out;
    } else if (proc_start(wargv, &wr, true) != 0 || proc_start(wargv, &rd, true) != 0) {
        goto out;
    }

    printf("memcache KV latency test: DeepSeek-R1 blocks (61 x 128 KiB + 61 x 16 KiB = 122 pieces, %" PRIu64
           " bytes per key)\n",
           BLOCK);
    if (o.netns)
        printf("2 simulated hosts (network namespaces %s on a bridge; %ld CPUs): mmc-meta in the hub, a LocalService "
               "of %u MiB on host 0 (%s, id %u) and on host 1 (%s, id %u), the writer on host 0 putting on host 0's "
               "LocalService, the reader on host 1 getting over the tcp transport; %u batches timed per size%s\n\n",
               tn_subnet(net), sysconf(_SC_NPROCESSORS_ONLN), o.pool_mb / 2, tn_addr(net, 0), lsrank[0],
               tn_addr(net, 1), lsrank[1], o.iters, o.smoke ? " (smoke)" : "");
    else if (o.external)
        printf("the cluster at %s (%u MiB pool) + writer and reader processes on this host; %u batches timed per "
               "size\n\n",
               o.meta_url, o.pool_mb, o.iters);
    else
        printf("mmc-meta + 2 mmc-local (%u MiB pool) + writer and reader processes on this host; %u batches timed per "
               "size%s\n\n",
               o.pool_mb, o.iters, o.smoke ? " (smoke)" : "");

    blk_t base[BATCH_MAXB];
    uint8_t *flat = NULL;
    for (uint32_t j = 0; j < maxb; j++) {
        if (blk_init(&base[j], 8192) != 0) goto out;
        blk_fill(&base[j], j);
    }
    flat = aligned_alloc(4096, (uint64_t)maxb * BLOCK);
    if (flat == NULL) goto out;
    memset(flat, 1, (uint64_t)maxb * BLOCK);
#ifdef BENCH_HAVE_HIREDIS
    redisContext *rcx = NULL;
    char why[256] = "";
    if (o.redis && redis_start(why, sizeof(why)) == 0) {
        rcx = redisConnect("127.0.0.1", redis_port);
        if (rcx == NULL || rcx->err) {
            snprintf(why, sizeof(why), "cannot connect to redis-server on port %d", redis_port);
            if (rcx) redisFree(rcx);
            rcx = NULL;
        }
    }
    if (o.redis && rcx == NULL) printf("Redis comparison skipped: %s\n\n", why);
#else
    if (o.redis)
        printf("Redis comparison skipped: built without hiredis (install libhiredis-dev, scripts/setup.sh, and "
               "re-run cmake)\n\n");
#endif

    fprintf(tbl, "| batch | op | store | p50 ms | p99 ms | GB/s | time vs memcpy | %s |\n",
            o.netns ? "GB/s vs iperf3 1 stream" : "throughput vs Redis");
    fprintf(tbl, "|---|---|---|---|---|---|---|---|\n");
    int failures = 0;
    for (uint32_t bi = 0; bi < o.nbatches; bi++) {
        uint32_t b = o.batches[bi];
        uint64_t bytes = (uint64_t)b * BLOCK;
        uint32_t fit = (uint32_t)(pool * 3 / 4 / bytes);
        put.n = get.n = mput.n = mget.n = rput.n = rget.n = 0;
        uint64_t where[17] = {0};
        /* Warm-up (untimed): one round over the pool space the timed rounds reuse, so the
         * writer's and reader's first access to each pool page (a page-table fault) is not timed. */
        uint32_t warm = fit < o.iters ? fit : o.iters;
        if (proc_cmd(&wr, lat, warm, "put %u %u %u\n", b, ITERS_MAX, warm) != (int)warm ||
            proc_cmd(&rd, lat, warm, "get %u %u %u\n", b, ITERS_MAX, warm) != (int)warm ||
            proc_cmd(&rd, lat, warm, "rm %u %u %u\n", b, ITERS_MAX, warm) != (int)warm) {
            failures++;
            continue;
        }
        for (uint32_t done = 0; done < o.iters;) {
            uint32_t n = o.iters - done < fit ? o.iters - done : fit;
            int got = proc_cmd(&wr, lat, n, "put %u %u %u\n", b, done, n);
            if (got != (int)n) {
                failures++;
                break;
            }
            for (int i = 0; i < got; i++) put.ns[put.n++] = lat[i];
            if (o.netns) { /* where the blocks landed (untimed) */
                uint64_t w[17];
                if (proc_cmd(&wr, w, 17, "where %u %u %u\n", b, done, n) != 17) {
                    failures++;
                    break;
                }
                for (int r = 0; r < 17; r++) where[r] += w[r];
            }

            got = proc_cmd(&rd, lat, n, "get %u %u %u\n", b, done, n);
            if (got != (int)n) {
                failures++;
                break;
            }
            for (int i = 0; i < got; i++) get.ns[get.n++] = lat[i];
            if (proc_cmd(&rd, lat, n, "rm %u %u %u\n", b, done, n) != (int)n) {
                failures++;
                break;
            }
            done += n;
        }
        memcpy_series(b, base, flat, o.iters, &mput, &mget);
#ifdef BENCH_HAVE_HIREDIS
        if (rcx != NULL) failures += redis_series(rcx, b, base, flat, o.redis_iters, &rput, &rget);
#endif
        struct {
            const char *op;
            series_t *s, *m, *r;
        } rows[2] = {{"put", &put, &mput, &rput}, {"get", &get, &mget, &rget}};
        if (o.netns) {
            uint64_t all = 0;
            for (int r = 0; r < 17; r++) all += where[r];
            snprintf(place[bi], sizeof(place[bi]),
                     "%u-block batches: %" PRIu64 " of %" PRIu64 " blocks on host 0's LocalService (id %u), %" PRIu64
                     " on host 1's (id %u)", b, where[lsrank[0]], all, lsrank[0], where[lsrank[1]], lsrank[1]);
            fprintf(stderr, "bench_kv: %u-block batches done\n", b);
        }
        for (int r = 0; r < 2; r++) {
            double g = gbps(rows[r].s, bytes);
            double vs_mem = mean_ns(rows[r].m) > 0 ? mean_ns(rows[r].s) / mean_ns(rows[r].m) : 0;
            char vs_redis[32] = "-";
            if (rows[r].r->n) snprintf(vs_redis, sizeof(vs_redis), "%.1fx", g / gbps(rows[r].r, bytes));
            /* --netns: the ratio is filled in once iperf3 ran again after the KV runs: a marker for now */
            if (o.netns && r == 0 && where[lsrank[1]] == 0) snprintf(vs_redis, sizeof(vs_redis), "(same host)");
            else if (o.netns) snprintf(vs_redis, sizeof(vs_redis), "@%.6f@", g);
            fprintf(tbl, "| %u x %.1f MiB | %s | memcache (layers, 122 pieces/key) | %.2f | %.2f | %.2f | %.2fx | %s |\n",
                    b, (double)BLOCK / (1 << 20), rows[r].op, pct_ms(rows[r].s, 0.5), pct_ms(rows[r].s, 0.99), g, vs_mem,
                   vs_redis);
            fprintf(tbl, "| | %s | memcpy, 1 thread (limit) | %.2f | %.2f | %.2f | 1.00x | |\n", rows[r].op,
                   pct_ms(rows[r].m, 0.5), pct_ms(rows[r].m, 0.99), gbps(rows[r].m, bytes));
            if (rows[r].r->n)
                fprintf(tbl, "| | %s | Redis 7, pipelined (%u batches) | %.2f | %.2f | %.2f | %.2fx | 1.0x |\n",
                        rows[r].op, rows[r].r->n, pct_ms(rows[r].r, 0.5), pct_ms(rows[r].r, 0.99), gbps(rows[r].r, bytes),
                       mean_ns(rows[r].r) / mean_ns(rows[r].m));
        }
        fflush(tbl);
    }
    if (o.netns) {
        if (iperf_srv > 0) bps_after = bench_iperf_run(net, 0, 1, "5201", 1, o.iperf_s, "bench_kv");
        ref = (bps_before > bps_after ? bps_before : bps_after) / 8e9;
        fclose(tbl);
        tbl = stdout;
        /* print the table with the get rows' marker replaced by GB/s / ref */
        for (char *q = tbl_text; *q;) {
            char *m = strchr(q, '@');
            if (m == NULL) {
                fputs(q, stdout);
                break;
            }
            fwrite(q, 1, (size_t)(m - q), stdout);
            double g = strtod(m + 1, &q);
            if (*q == '@') q++;
            if (ref > 0) printf("%.2fx", g / ref);
            else printf("- (no iperf3)");
        }
        free(tbl_text);
        tbl_text = NULL;
        printf("\n| link, host 0 -> host 1 | GB/s | Gbit/s |\n|---|---|---|\n");
        printf("| iperf3 1 stream, before the KV runs | %.2f | %.2f |\n", bps_before / 8e9, bps_before / 1e9);
        printf("| iperf3 1 stream, after them | %.2f | %.2f |\n", bps_after / 8e9, bps_after / 1e9);
        printf("\nplacement (1 replica, queried after each put round): ");
        for (uint32_t bi = 0; bi < o.nbatches; bi++) printf("%s%s", bi ? "; " : "", place[bi]);
        printf("\nGB/s vs iperf3: GB/s / the better one-stream iperf3 figure (%.2f GB/s); \"same host\": puts "
               "whose blocks all stayed on host 0 (mapped memory, no link)\n",
               ref);
        if (bps_before <= 0 && bps_after <= 0) failures++;
    }
    fflush(stdout);

    /* metadata: batch exist */
    uint32_t reps = o.smoke ? 20 : 200;
    int got = proc_cmd(&rd, lat, 1, "exist 1 %u %u\n", o.exist_keys, reps);
    if (got != 1) {
        failures++;
    } else {
        double ops = (double)o.exist_keys * reps / ((double)lat[0] / 1e9);
        printf("\n| metadata | store | calls/s | keys/s |\n|---|---|---|---|\n");
        printf("| batch exist of %u keys | memcache (one round trip per batch) | %.0f | %.0f |\n", o.exist_keys,
               ops / o.exist_keys, ops);
#ifdef BENCH_HAVE_HIREDIS
        if (rcx != NULL) {
            double rops = redis_exist(rcx, o.exist_keys, reps / 4 ? reps / 4 : 1);
            printf("| %u EXISTS, pipelined | Redis 7 | %.0f | %.0f |\n", o.exist_keys, rops / o.exist_keys, rops);
        }
#endif
    }
    rc = failures ? 1 : 0;
    if (failures) fprintf(stderr, "bench_kv: %d failures\n", failures);
#ifdef BENCH_HAVE_HIREDIS
    if (rcx) redisFree(rcx);
    redis_stop();
#endif
    for (uint32_t j = 0; j < maxb; j++) free(base[j].mem);
    free(flat);
out:
    if (tbl != stdout && tbl != NULL) fclose(tbl);
    free(tbl_text);
    proc_stop(&wr);
    proc_stop(&rd);
    proc_stop(&ls[0]);
    proc_stop(&ls[1]);
    proc_stop(&meta);
    if (iperf_srv > 0) tn_kill(net, iperf_srv);
    if (net != NULL) tn_net_destroy(net);
    if (cfg_path[0]) unlink(cfg_path);
    free(lat);
    return rc;
}
