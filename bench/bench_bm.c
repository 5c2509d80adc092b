/*
 * BM copy bandwidth between two processes on one host, against plain memcpy.
 *
 *   bench_bm [--smoke] [--max-size BYTES] [--trials N]
 *
 * Two processes (forked before any thread) init BM on a free loopback port
 * (one wins the store race), create one pool and join. The child fills its
 * slot and waits; the parent measures, for each size from 4 KiB up to 1 GiB
 * (smoke: 4 KiB, 64 KiB, 1 MiB, 16 MiB):
 *   G2H  peer slot -> local buffer        H2G  local buffer -> peer slot
 *   G2G  peer slot -> own slot
 * and two batches of 122 discrete pieces (122 x 128 KiB and 122 x 16 KiB,
 * scattered), G2H and H2G. The physical limit, measured in the same run, is a
 * single-threaded memcpy between two local buffers of the same sizes (for
 * batches: memcpy of the same pieces in a loop), and single-threaded memcpy
 * between exactly the BM copy's own buffers (the peer's slot is mapped here). Every buffer is touched
 * before timing, so first-touch page faults are not counted. Each cell is the
 * median of --trials trials (default 5), a trial repeating the copy until it
 * has moved at least 256 MiB (smoke: 32 MiB). Output: a markdown table with
 * GB/s (10^9 bytes/s) and the ratio to memcpy. Exit status: non-zero only if
 * a copy fails or delivers wrong bytes.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smem/host/smem_bm.h"
#include "util/util_time.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define NPIECES 122
#define TRIALS_MAX 21

struct ctl {
    volatile int child_ready;
    volatile int parent_done;
    volatile int child_rc;
};

static struct ctl *ctl;
static smem_bm_t g_h;
static uint32_t me, peer;
static int g_errors;

typedef int32_t (*op_fn_t)(void *arg);

typedef struct single_arg {
    const void *src;
    void *dst;
    uint64_t len;
    smem_bm_copy_type type; /* SMEMB_COPY_BUTT: plain memcpy */
} single_arg_t;

static int32_t op_single(void *a)
{
    single_arg_t *s = a;
    if (s->type == SMEMB_COPY_BUTT) {
        memcpy(s->dst, s->src, s->len);
        return 0;
    }
    smem_copy_params p = {.src = s->src, .dest = s->dst, .dataSize = s->len};
    return smem_bm_copy(g_h, &p, s->type, 0);
}

typedef struct batch_arg {
    void *src[NPIECES];
    void *dst[NPIECES];
    uint64_t len[NPIECES];
    smem_bm_copy_type type;
} batch_arg_t;

static int32_t op_batch(void *a)
{
    batch_arg_t *b = a;
    if (b->type == SMEMB_COPY_BUTT) {
        for (int i = 0; i < NPIECES; i++) memcpy(b->dst[i], b->src[i], b->len[i]);
        return 0;
    }
    smem_batch_copy_params p = {.sources = b->src, .destinations = b->dst, .dataSizes = b->len, .batchSize = NPIECES};
    return smem_bm_copy_batch(g_h, &p, b->type, 0);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Median GB/s over `trials`, each repeating op until `target` bytes moved. */
static double measure(op_fn_t op, void *arg, uint64_t bytes_per_op, uint64_t target, int trials)
{
    double gbs[TRIALS_MAX];
    uint64_t reps = target / bytes_per_op;
    if (reps < 2) reps = 2;
    if (op(arg) != 0) { /* warm-up; also the error check */
        fprintf(stderr, "bench_bm: copy failed: %s\n", smem_get_last_err_msg());
        g_errors++;
        return 0;
    }
    for (int t = 0; t < trials; t++) {
        uint64_t t0 = util_now_ns();
        for (uint64_t r = 0; r < reps; r++) op(arg);
        uint64_t ns = util_now_ns() - t0;
        gbs[t] = (double)(bytes_per_op * reps) / (double)(ns ? ns : 1);
    }
    qsort(gbs, (size_t)trials, sizeof(gbs[0]), cmp_double);
    return gbs[trials / 2];
}

/* mc: memcpy between two local heap buffers (the goal's reference); same: memcpy between
 * exactly the BM copy's buffers (a same-host slot is a plain pointer), so what is left is
 * the copy engine's own cost, not the memory's. */
static void row(const char *op, const char *size, double bm, double mc, double same, bool *below)
{
    double ratio = mc > 0 ? bm / mc : 0;
    printf("| %-5s | %-16s | %8.2f | %8.2f | %5.2f | %8.2f | %5.2f |\n", op, size, bm, mc, ratio, same,
           same > 0 ? bm / same : 0);
    if (below != NULL && ratio < 0.9) *below = true;
}

/* memcpy over the same buffers as a BM op (pointers dereferenced directly). */
static double measure_same_single(const single_arg_t *op, uint64_t target, int trials)
{
    single_arg_t m = *op;
    m.type = SMEMB_COPY_BUTT;
    return measure(op_single, &m, m.len, target, trials);
}

static void size_name(uint64_t n, char *buf, size_t cap)
{
    if (n >= GiB) snprintf(buf, cap, "%llu GiB", (unsigned long long)(n / GiB));
    else if (n >= MiB) snprintf(buf, cap, "%llu MiB", (unsigned long long)(n / MiB));
    else snprintf(buf, cap, "%llu KiB", (unsigned long long)(n / KiB));
}

static void make_batch(batch_arg_t *b, uint8_t *src_base, uint8_t *dst_base, uint64_t piece, smem_bm_copy_type t)
{
    /* Scattered: pieces in a fixed shuffled order with a 4 KiB gap on the destination side. */
    uint32_t order[NPIECES];
    for (uint32_t i = 0; i < NPIECES; i++) order[i] = i;
    uint64_t seed = 99;
    for (uint32_t i = NPIECES - 1; i > 0; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t j = (uint32_t)((seed >> 33) % (i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (uint32_t i = 0; i < NPIECES; i++) {
        b->src[i] = src_base + (uint64_t)order[i] * piece;
        b->dst[i] = dst_base + (uint64_t)i * (piece + 4 * KiB);
        b->len[i] = piece;
    }
    b->type = t;
}

static int parent_bench(bool smoke, uint64_t max_size, int trials)
{
    uint64_t target = smoke ? 32 * MiB : 256 * MiB;
    uint8_t *peer_slot = smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)peer);
    uint8_t *own_slot = smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)me);
    uint64_t buf_len = max_size > 20 * MiB ? max_size : 20 * MiB;
    uint8_t *a = aligned_alloc(2 * MiB, buf_len), *b = aligned_alloc(2 * MiB, buf_len);
    if (a == NULL || b == NULL) return 1;
    memset(a, 0x5a, buf_len); /* first touch, outside the timing */
    memset(b, 0xa5, buf_len);
    memset(own_slot, 0x11, max_size > 20 * MiB ? max_size : 20 * MiB);

    /* Correctness once: what G2H brings is what the child wrote. */
    single_arg_t chk = {peer_slot, b, 1 * MiB, SMEMB_COPY_G2H};
    if (op_single(&chk) != 0 || b[0] != (uint8_t)(0x30 + peer) || b[MiB - 1] != (uint8_t)(0x30 + peer)) {
        fprintf(stderr, "bench_bm: G2H delivered wrong bytes: %s\n", smem_get_last_err_msg());
        g_errors++;
    }

    printf("\nBM copy bandwidth, 2 processes on one host (%ld CPUs), median of %d trials; memcpy = single-threaded "
           "memcpy of the same bytes in this run\n\n",
           sysconf(_SC_NPROCESSORS_ONLN), trials);
    printf("| op    | size             | BM GB/s  | memcpy GB/s | ratio | memcpy same buffers GB/s | ratio |\n");
    printf("|-------|------------------|----------|-------------|-------|--------------------------|-------|\n");
    bool below = false;
    static const uint64_t smoke_sizes[] = {4 * KiB, 64 * KiB, 1 * MiB, 16 * MiB};
    uint64_t sizes[16];
    int n = 0;
    if (smoke) {
        for (size_t i = 0; i < sizeof(smoke_sizes) / sizeof(smoke_sizes[0]); i++) sizes[n++] = smoke_sizes[i];
    } else {
        for (uint64_t s = 4 * KiB; s <= max_size && n < 16; s *= 4) sizes[n++] = s;
    }
    for (int i = 0; i < n; i++) {
        uint64_t s = sizes[i];
        char name[32];
        size_name(s, name, sizeof(name));
        single_arg_t mc = {a, b, s, SMEMB_COPY_BUTT};
        double m = measure(op_single, &mc, s, target, trials);
        single_arg_t g2h = {peer_slot, b, s, SMEMB_COPY_G2H};
        single_arg_t h2g = {a, peer_slot, s, SMEMB_COPY_H2G};
        single_arg_t g2g = {peer_slot, own_slot, s, SMEMB_COPY_G2G};
        row("G2H", name, measure(op_single, &g2h, s, target, trials), m, measure_same_single(&g2h, target, trials),
            s >= MiB ? &below : NULL);
        row("H2G", name, measure(op_single, &h2g, s, target, trials), m, measure_same_single(&h2g, target, trials),
            s >= MiB ? &below : NULL);
        row("G2G", name, measure(op_single, &g2g, s, target, trials), m, measure_same_single(&g2g, target, trials),
            s >= MiB ? &below : NULL);
    }
    static const uint64_t pieces[] = {128 * KiB, 16 * KiB};
    static batch_arg_t ba, bm;
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof(name), "122 x %llu KiB", (unsigned long long)(pieces[i] / KiB));
        uint64_t total = NPIECES * pieces[i];
        make_batch(&bm, a, b, pieces[i], SMEMB_COPY_BUTT);
        double m = measure(op_batch, &bm, total, target, trials);
        make_batch(&bm, peer_slot, b, pieces[i], SMEMB_COPY_BUTT);
        double same = measure(op_batch, &bm, total, target, trials);
        make_batch(&ba, peer_slot, b, pieces[i], SMEMB_COPY_G2H);
        row("G2H", name, measure(op_batch, &ba, total, target, trials), m, same, total >= MiB ? &below : NULL);
        make_batch(&bm, a, peer_slot, pieces[i], SMEMB_COPY_BUTT);
        same = measure(op_batch, &bm, total, target, trials);
        make_batch(&ba, a, peer_slot, pieces[i], SMEMB_COPY_H2G);
        row("H2G", name, measure(op_batch, &ba, total, target, trials), m, same, total >= MiB ? &below : NULL);
    }
    printf("\n%s\n", below ? "note: some copies >= 1 MiB ran below 0.9x memcpy" : "all copies >= 1 MiB at >= 0.9x memcpy");
    free(a);
    free(b);
    return g_errors ? 1 : 0;
}

static int run(const char *url, bool is_child, bool smoke, uint64_t max_size, int trials)
{
    smem_bm_config_t c;
    smem_bm_config_init(&c);
    c.initTimeout = c.createTimeout = c.controlOperationTimeout = 60;
    if (smem_bm_init(url, 2, 0, &c) != 0) {
        fprintf(stderr, "bench_bm: init: %s\n", smem_get_last_err_msg());
        return 1;
    }
    me = smem_bm_get_rank_id();
    peer = 1 - me;
    uint64_t local = max_size > 20 * MiB ? max_size : 20 * MiB;
    local = (local + 4 * MiB + 2 * MiB - 1) / (2 * MiB) * (2 * MiB); /* room for the gapped batch layout */
    g_h = smem_bm_create(0, 2, SMEMB_DATA_OP_SDMA, local, 0, 0);
    if (g_h == NULL || smem_bm_join(g_h, 0) != 0) {
        fprintf(stderr, "bench_bm: create/join: %s\n", smem_get_last_err_msg());
        return 1;
    }
    int rc = 0;
    if (is_child) {
        memset(smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)me), 0x30 + (int)me, local);
        ctl->child_ready = 1;
        while (!ctl->parent_done) usleep(10000);
    } else {
        while (!ctl->child_ready) usleep(1000);
        /* The child may have joined after our snapshot: wait until it is mapped here. */
        uint8_t probe;
        smem_copy_params p = {.src = smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)peer), .dest = &probe,
                              .dataSize = 1};
        uint64_t end = util_now_ms() + 20000;
        while (smem_bm_copy(g_h, &p, SMEMB_COPY_G2H, 0) != 0 && util_now_ms() < end) usleep(1000);
        rc = parent_bench(smoke, max_size, trials);
        ctl->parent_done = 1;
    }
    smem_bm_leave(g_h, 0);
    smem_bm_destroy(g_h);
    smem_bm_uninit(0);
    return rc;
}

int main(int argc, char **argv)
{
    bool smoke = false;
    uint64_t max_size = 1 * GiB;
    int trials = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0) smoke = true;
        else if (strcmp(argv[i], "--max-size") == 0 && i + 1 < argc) max_size = strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc) trials = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--smoke] [--max-size BYTES] [--trials N]\n", argv[0]);
            return 2;
        }
    }
    if (trials < 1 || trials > TRIALS_MAX || max_size < 4 * KiB) {
        fprintf(stderr, "bench_bm: --trials 1..%d, --max-size >= 4096\n", TRIALS_MAX);
        return 2;
    }
    if (smoke) {
        max_size = 16 * MiB;
        if (trials > 3) trials = 3;
    }
    ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (ctl == MAP_FAILED || s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) != 0)
        return 1;
    close(s);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(a.sin_port));
    pid_t pid = fork();
    if (pid == 0) _exit(run(url, true, smoke, max_size, trials));
    int rc = run(url, false, smoke, max_size, trials);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = 1;
    return rc;
}
