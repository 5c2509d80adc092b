/*
 * The tcp data plane between two hosts, against iperf3 on the same link in the same run.
 *
 *   bench_tcp [--smoke] [--max-size BYTES] [--trials N] [--mtu N] [--iperf-seconds N]
 *
 * Two network namespaces joined by one veth pair (tests/testutil/netns.h,
 * 10.201.S.1 <-> 10.201.S.2; nothing leaves them) are the two hosts. On that
 * link, first iperf3 (server in host 1, client in host 0, --json): one stream
 * and -P 4 (and one stream again after the BM runs; the better single-stream
 * result is the reference, so background load cannot flatter the ratio). Then a BM rank in each namespace (rank 0 in host 0 serves the
 * config store on its veth address; each rank's data plane binds there too)
 * and rank 0 measures copies with rank 1, all through the tcp transport:
 *   G2H  rank 1's slot -> local buffer     H2G  local buffer -> rank 1's slot
 *   G2G  rank 1's slot -> rank 0's own slot
 * for single copies of 64 KiB .. 1 GiB (smoke: 64 KiB, 1 MiB, 4 MiB), 122-piece
 * batches (122 x 128 KiB, 122 x 16 KiB, scattered at the remote end), and the
 * latency of 64 B and 4 KiB copies (p50/p99 of --lat-iters single copies).
 * Each bandwidth cell is the median of --trials trials (default 3; smoke 1),
 * a trial repeating the copy until >= 512 MiB moved (smoke 16 MiB); buffers are
 * touched before timing. What H2G writes equals the pattern rank 1 filled its
 * slot with, so a final full read-back checks every write too.
 * Output: markdown tables, GB/s = 10^9 bytes/s, ratio to iperf3 one stream.
 * Exit status: 0, or non-zero if a copy failed or delivered wrong bytes;
 * without root (no network namespaces) it prints SKIP and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_iperf.h"
#include "netns.h"
#include "smem/host/smem_bm.h"
#include "util/util_time.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define NPIECES 122
#define TRIALS_MAX 15
#define ROWS_MAX 64
#define LAT_MAX 100000
#define STORE_PORT 7300
#define IPERF_PORT "5201"

typedef struct result_row {
    char op[8];
    char size[24];
    double gbs;
    uint64_t bytes; /* per operation, for the goal check */
} result_row_t;

typedef struct lat_row {
    char op[8];
    char size[16];
    double p50_us, p99_us;
} lat_row_t;

struct ctl {
    volatile int store_ready; /* rank 0 serves the store */
    volatile int peer_ready;  /* rank 1 filled its slot */
    volatile int done;        /* rank 0 finished measuring */
    int nrows, nlat, errors;
    result_row_t rows[ROWS_MAX];
    lat_row_t lat[8];
};

static struct ctl *ctl;
static smem_bm_t g_h;
static char g_url[64];
static bool g_smoke;
static uint64_t g_max;
static int g_trials = 3, g_lat_iters = 2000;

/* ---------- the pattern rank 1 fills its slot with ---------- */

static uint64_t pat(uint64_t off) { return (off * 0x9E3779B97F4A7C15ull) ^ 0x5bd1e995ull; }

static void fill(uint8_t *p, uint64_t off0, uint64_t len)
{
    uint64_t *w = (uint64_t *)p;
    for (uint64_t i = 0; i < len / 8; i++) w[i] = pat(off0 + i * 8);
}

static bool check(const uint8_t *p, uint64_t off0, uint64_t len)
{
    const uint64_t *w = (const uint64_t *)p;
    for (uint64_t i = 0; i < len / 8; i++)
        if (w[i] != pat(off0 + i * 8)) {
            fprintf(stderr, "bench_tcp: wrong bytes at remote offset %llu\n", (unsigned long long)(off0 + i * 8));
            return false;
        }
    return true;
}

/* ---------- measuring ---------- */

typedef struct op {
    bool batch;
    smem_bm_copy_type type;
    const void *src;
    void *dst;
    uint64_t len;
    void *bsrc[NPIECES], *bdst[NPIECES];
    uint64_t blen[NPIECES];
} op_t;

static int32_t op_run(op_t *o)
{
    if (!o->batch) {
        smem_copy_params p = {.src = o->src, .dest = o->dst, .dataSize = o->len};
        return smem_bm_copy(g_h, &p, o->type, 0);
    }
    smem_batch_copy_params p = {.sources = o->bsrc, .destinations = o->bdst, .dataSizes = o->blen,
                                .batchSize = NPIECES};
    return smem_bm_copy_batch(g_h, &p, o->type, 0);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double measure(op_t *o, uint64_t bytes_per_op)
{
    uint64_t target = g_smoke ? 16 * MiB : 512 * MiB;
    uint64_t reps = target / bytes_per_op;
    if (reps < 2) reps = 2;
    if (op_run(o) != 0) { /* warm-up: connections, and the error check */
        fprintf(stderr, "bench_tcp: copy failed: %s\n", smem_get_last_err_msg());
        ctl->errors++;
        return 0;
    }
    double gbs[TRIALS_MAX];
    for (int t = 0; t < g_trials; t++) {
        uint64_t t0 = util_now_ns();
        for (uint64_t r = 0; r < reps; r++)
            if (op_run(o) != 0) {
                fprintf(stderr, "bench_tcp: copy failed: %s\n", smem_get_last_err_msg());
                ctl->errors++;
                return 0;
            }
        uint64_t ns = util_now_ns() - t0;
        gbs[t] = (double)(bytes_per_op * reps) / (double)(ns ? ns : 1);
    }
    qsort(gbs, (size_t)g_trials, sizeof(gbs[0]), cmp_double);
    return gbs[g_trials / 2];
}

static void add_row(const char *op, const char *size, double gbs, uint64_t bytes)
{
    if (ctl->nrows >= ROWS_MAX) return;
    result_row_t *r = &ctl->rows[ctl->nrows++];
    snprintf(r->op, sizeof(r->op), "%s", op);
    snprintf(r->size, sizeof(r->size), "%s", size);
    r->gbs = gbs;
    r->bytes = bytes;
}

static void size_name(uint64_t n, char *buf, size_t cap)
{
    if (n >= GiB) snprintf(buf, cap, "%llu GiB", (unsigned long long)(n / GiB));
    else if (n >= MiB) snprintf(buf, cap, "%llu MiB", (unsigned long long)(n / MiB));
    else if (n >= KiB) snprintf(buf, cap, "%llu KiB", (unsigned long long)(n / KiB));
    else snprintf(buf, cap, "%llu B", (unsigned long long)n);
}

static void latency(const char *name, smem_bm_copy_type t, const void *src, void *dst, uint64_t len)
{
    static double us[LAT_MAX];
    op_t o = {.type = t, .src = src, .dst = dst, .len = len};
    for (int i = 0; i < 50; i++) op_run(&o);
    int n = g_lat_iters;
    for (int i = 0; i < n; i++) {
        uint64_t t0 = util_now_ns();
        if (op_run(&o) != 0) {
            fprintf(stderr, "bench_tcp: %s latency copy failed: %s\n", name, smem_get_last_err_msg());
            ctl->errors++;
            return;
        }
        us[i] = (double)(util_now_ns() - t0) / 1000.0;
    }
    qsort(us, (size_t)n, sizeof(us[0]), cmp_double);
    lat_row_t *r = &ctl->lat[ctl->nlat++];
    snprintf(r->op, sizeof(r->op), "%s", name);
    size_name(len, r->size, sizeof(r->size));
    r->p50_us = us[n / 2];
    r->p99_us = us[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
}

static void make_batch(op_t *o, uint8_t *local, uint8_t *remote, uint64_t piece, smem_bm_copy_type t)
{
    uint32_t order[NPIECES];
    for (uint32_t i = 0; i < NPIECES; i++) order[i] = i;
    uint64_t seed = 99;
    for (uint32_t i = NPIECES - 1; i > 0; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t j = (uint32_t)((seed >> 33) % (i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    memset(o, 0, sizeof(*o));
    o->batch = true;
    o->type = t;
    for (uint32_t i = 0; i < NPIECES; i++) {
        uint8_t *l = local + (uint64_t)i * piece;                        /* packed here */
        uint8_t *r = remote + (uint64_t)order[i] * (piece + 4 * KiB);  /* scattered there */
        o->bsrc[i] = t == SMEMB_COPY_G2H ? (void *)r : (void *)l;
        o->bdst[i] = t == SMEMB_COPY_G2H ? (void *)l : (void *)r;
        o->blen[i] = piece;
    }
}

static int measure_all(uint32_t peer, uint64_t local)
{
    uint8_t *peer_slot = smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)peer);
    uint8_t *own_slot = smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)(1 - peer));
    uint8_t *src = aligned_alloc(2 * MiB, local), *dst = aligned_alloc(2 * MiB, local);
    if (src == NULL || dst == NULL) return 1;
    fill(src, 0, local); /* H2G writes what is already there: the read-back at the end checks it */
    memset(dst, 0, local);
    memset(own_slot, 0, local);

    uint64_t sizes[16];
    int n = 0;
    if (g_smoke) {
        sizes[n++] = 64 * KiB;
        sizes[n++] = MiB;
        sizes[n++] = 4 * MiB;
    } else {
        for (uint64_t s = 64 * KiB; s <= g_max && n < 16; s *= 4) sizes[n++] = s;
    }
    for (int i = 0; i < n; i++) {
        uint64_t s = sizes[i];
        char name[24];
        size_name(s, name, sizeof(name));
        op_t g2h = {.type = SMEMB_COPY_G2H, .src = peer_slot, .dst = dst, .len = s};
        op_t h2g = {.type = SMEMB_COPY_H2G, .src = src, .dst = peer_slot, .len = s};
        op_t g2g = {.type = SMEMB_COPY_G2G, .src = peer_slot, .dst = own_slot, .len = s};
        add_row("G2H", name, measure(&g2h, s), s);
        if (!check(dst, 0, s)) ctl->errors++;
        add_row("H2G", name, measure(&h2g, s), s);
        add_row("G2G", name, measure(&g2g, s), s);
        if (!check(own_slot, 0, s)) ctl->errors++;
        fprintf(stderr, "bench_tcp: %s done\n", name);
    }
    static const uint64_t pieces[] = {128 * KiB, 16 * KiB};
    static op_t bo;
    for (int i = 0; i < 2; i++) {
        char name[24];
        snprintf(name, sizeof(name), "122 x %llu KiB", (unsigned long long)(pieces[i] / KiB));
        uint64_t total = NPIECES * pieces[i];
        memset(dst, 0, total);
        make_batch(&bo, dst, peer_slot, pieces[i], SMEMB_COPY_G2H);
        add_row("G2H", name, measure(&bo, total), total);
        for (uint32_t k = 0; k < NPIECES; k++)
            if (!check(bo.bdst[k], (uint64_t)((uint8_t *)bo.bsrc[k] - peer_slot), pieces[i])) {
                ctl->errors++;
                break;
            }
        make_batch(&bo, src, peer_slot, pieces[i], SMEMB_COPY_H2G);
        /* local piece k goes to remote piece order[k]: give it those bytes so the pattern stays */
        for (uint32_t k = 0; k < NPIECES; k++) fill(bo.bsrc[k], (uint64_t)((uint8_t *)bo.bdst[k] - peer_slot), pieces[i]);
        add_row("H2G", name, measure(&bo, total), total);
        fill(src, 0, NPIECES * 128 * KiB); /* back to the identity layout */
    }
    latency("G2H", SMEMB_COPY_G2H, peer_slot + 4096, dst, 64);
    latency("H2G", SMEMB_COPY_H2G, src + 4096, peer_slot + 4096, 64);
    latency("G2H", SMEMB_COPY_G2H, peer_slot + 8192, dst, 4096);
    latency("H2G", SMEMB_COPY_H2G, src + 8192, peer_slot + 8192, 4096);
    /* every write went where it should and carried the right bytes: read all back */
    memset(dst, 0, local);
    op_t back = {.type = SMEMB_COPY_G2H, .src = peer_slot, .dst = dst, .len = local};
    if (op_run(&back) != 0 || !check(dst, 0, local)) {
        fprintf(stderr, "bench_tcp: read-back of rank 1's slot failed: %s\n", smem_get_last_err_msg());
        ctl->errors++;
    }
    free(src);
    free(dst);
    return 0;
}

/* ---------- the two ranks ---------- */

static int rank_main(uint32_t rank, uint64_t local)
{
    smem_bm_config_t c;
    smem_bm_config_init(&c);
    c.initTimeout = c.createTimeout = 60;
    c.controlOperationTimeout = 30;
    c.autoRanking = false;
    c.rankId = (uint16_t)rank;
    c.startConfigStoreServer = rank == 0;
    /* Plain TCP on purpose (the numbers are the transport's): the store and data plane beyond loopback, allowed. */
    c.flags |= SMEM_BM_FLAG_ALLOW_INSECURE;
    if (rank == 1)
        while (!ctl->store_ready) usleep(1000);
    if (smem_bm_init(g_url, 2, 0, &c) != 0) {
        fprintf(stderr, "bench_tcp: rank %u: init %s: %s\n", rank, g_url, smem_get_last_err_msg());
        return 1;
    }
    ctl->store_ready = 1;
    g_h = smem_bm_create(0, 2, SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_HOST_TCP, local, 0, 0);
    if (g_h == NULL || smem_bm_join(g_h, 0) != 0) {
        fprintf(stderr, "bench_tcp: rank %u: create/join: %s\n", rank, smem_get_last_err_msg());
        return 1;
    }
    int rc = 0;
    uint8_t *mine = smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)rank);
    if (rank == 1) {
        fill(mine, 0, local);
        ctl->peer_ready = 1;
        while (!ctl->done) usleep(10000);
    } else {
        while (!ctl->peer_ready) usleep(1000);
        uint8_t probe;
        smem_copy_params p = {.src = smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, 1), .dest = &probe,
                              .dataSize = 1};
        uint64_t end = util_now_ms() + 20000;
        while (smem_bm_copy(g_h, &p, SMEMB_COPY_G2H, 0) != 0 && util_now_ms() < end) usleep(1000);
        rc = measure_all(1, local);
        ctl->done = 1;
    }
    smem_bm_leave(g_h, 0);
    smem_bm_destroy(g_h);
    smem_bm_uninit(0);
    return rc;
}

typedef struct rank_arg {
    uint32_t rank;
    uint64_t local;
} rank_arg_t;

static int rank_entry(void *arg)
{
    rank_arg_t *a = arg;
    return rank_main(a->rank, a->local);
}

/* ---------- iperf3 (bench_iperf.h) ---------- */

static double run_iperf(tn_net_t *net, int streams, int seconds)
{
    return bench_iperf_run(net, 0, 1, IPERF_PORT, streams, seconds, "bench_tcp");
}

int main(int argc, char **argv)
{
    uint32_t mtu = 0;
    int iperf_s = 5;
    g_max = GiB;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0) g_smoke = true;
        else if (strcmp(argv[i], "--max-size") == 0 && i + 1 < argc) g_max = strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc) g_trials = atoi(argv[++i]);
        else if (strcmp(argv[i], "--mtu") == 0 && i + 1 < argc) mtu = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--iperf-seconds") == 0 && i + 1 < argc) iperf_s = atoi(argv[++i]);
        else if (strcmp(argv[i], "--lat-iters") == 0 && i + 1 < argc) g_lat_iters = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--smoke] [--max-size BYTES] [--trials N] [--mtu N] [--iperf-seconds N] "
                            "[--lat-iters N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (g_trials < 1 || g_trials > TRIALS_MAX || g_max < 64 * KiB || iperf_s < 1 || g_lat_iters < 10 ||
        g_lat_iters > LAT_MAX) {
        fprintf(stderr, "bench_tcp: --trials 1..%d, --max-size >= 65536, --iperf-seconds >= 1, --lat-iters 10..%d\n",
                TRIALS_MAX, LAT_MAX);
        return 2;
    }
    if (g_smoke) {
        g_max = 4 * MiB;
        g_trials = 1;
        iperf_s = 1;
        if (g_lat_iters > 200) g_lat_iters = 200;
    }
    if (!tn_require("bench.tcp")) return 0;

    ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED) return 1;
    tn_opts_t o = {.hosts = 2, .direct = true, .mtu = mtu};
    tn_net_t *net = NULL;
    char err[512];
    if (tn_net_create(&o, &net, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_tcp: %s\n", err);
        return 1;
    }
    int rc = 0;
    /* 1. iperf3 on the link */
    pid_t iperf_srv = bench_iperf_server(net, 1, IPERF_PORT);
    double bps1 = 0, bps4 = 0, bps1_after = 0;
    if (iperf_srv < 0) {
        fprintf(stderr, "bench_tcp: cannot start iperf3 (is it installed? scripts/setup.sh)\n");
    } else {
        bps1 = run_iperf(net, 1, iperf_s);
        bps4 = run_iperf(net, 4, iperf_s);
    }
    if (bps1 <= 0) rc = 1;

    /* 2. BM over tcp between the namespaces */
    uint64_t local = g_max < 32 * MiB ? 32 * MiB : g_max;
    local = (local + 2 * MiB - 1) / (2 * MiB) * (2 * MiB);
    snprintf(g_url, sizeof(g_url), "tcp://%s:%d", tn_addr(net, 0), STORE_PORT);
    rank_arg_t a0 = {0, local}, a1 = {1, local};
    pid_t p0 = tn_run(net, 0, rank_entry, &a0);
    pid_t p1 = tn_run(net, 1, rank_entry, &a1);
    int st0 = 0, st1 = 0;
    int limit_ms = g_smoke ? 90000 : 900000;
    if (p0 < 0 || p1 < 0 || tn_wait(net, p0, limit_ms, &st0) != 0 || tn_wait(net, p1, 30000, &st1) != 0) {
        fprintf(stderr, "bench_tcp: the ranks did not finish\n");
        rc = 1;
    } else if (!WIFEXITED(st0) || WEXITSTATUS(st0) != 0 || !WIFEXITED(st1) || WEXITSTATUS(st1) != 0) {
        fprintf(stderr, "bench_tcp: rank exit status 0x%x 0x%x\n", st0, st1);
        rc = 1;
    }
    if (ctl->errors) rc = 1;
    /* one stream again: the link (and the machine's load) after the BM runs */
    if (iperf_srv > 0) {
        bps1_after = run_iperf(net, 1, iperf_s);
        tn_kill(net, iperf_srv);
    }

    /* 3. the tables */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("\nBM over the tcp transport between two network namespaces on one veth link (MTU %u, %ld CPUs), "
           "median of %d trial%s; iperf3 %d s on the same link in this run, ratios against the better one-stream run\n\n",
           mtu ? mtu : 1500, ncpu, g_trials, g_trials > 1 ? "s" : "", iperf_s);
    printf("| op       | size            |   GB/s |  Gbit/s | x iperf3 1 stream |\n");
    printf("|----------|-----------------|--------|---------|-------------------|\n");
    /* the reference: the better of the two single-stream runs (the stricter comparison) */
    double ref_bps = bps1 > bps1_after ? bps1 : bps1_after;
    double ref = ref_bps / 8e9; /* GB/s */
    printf("| iperf3   | 1 stream        | %6.2f | %7.2f | %17.2f |\n", bps1 / 8e9, bps1 / 1e9, ref > 0 ? bps1 / 8e9 / ref : 0);
    printf("| iperf3   | -P 4            | %6.2f | %7.2f | %17.2f |\n", bps4 / 8e9, bps4 / 1e9,
           ref > 0 ? bps4 / 8e9 / ref : 0);
    printf("| iperf3   | 1 stream, after | %6.2f | %7.2f | %17.2f |\n", bps1_after / 8e9, bps1_after / 1e9,
           ref > 0 ? bps1_after / 8e9 / ref : 0);
    bool goal = true;
    double best = 0;
    for (int i = 0; i < ctl->nrows; i++) {
        result_row_t *r = &ctl->rows[i];
        double ratio = ref > 0 ? r->gbs / ref : 0;
        printf("| BM %-5s | %-15s | %6.2f | %7.2f | %17.2f |\n", r->op, r->size, r->gbs, r->gbs * 8, ratio);
        if (r->bytes >= 4 * MiB && ratio < 0.8) goal = false;
        if (ratio > best) best = ratio;
    }
    printf("\n| latency  | size  | p50 us | p99 us |\n");
    printf("|----------|-------|--------|--------|\n");
    for (int i = 0; i < ctl->nlat; i++)
        printf("| BM %-5s | %-5s | %6.1f | %6.1f |\n", ctl->lat[i].op, ctl->lat[i].size, ctl->lat[i].p50_us,
               ctl->lat[i].p99_us);
    printf("\ngoal >= 0.8x iperf3 one stream for copies >= 4 MiB: %s; best ratio %.2fx%s\n", goal ? "met" : "NOT met",
           best, best > 1.0 ? " (above one stream: parallel connections help)" : "");
    fflush(stdout);
    tn_net_destroy(net);
    return rc;
}
