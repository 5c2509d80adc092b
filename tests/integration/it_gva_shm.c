/*
 * it.gva_shm: 8 real processes share one host window through fd passing.
 *
 * The parent forks the ranks before any thread exists; a shared anonymous page
 * carries the proposed base (the store is a layer above gva), phase counters
 * and each rank's pass/fail counts. Phases:
 *   1 every rank reserves the same base, backs 4 MiB of its 8 MiB slot
 *     (huge pages asked for: on a machine without them the fallback is logged
 *     once), writes a pattern and starts its exporter;
 *   2 rank 0 throws garbage, silence and a truncated request at rank 1's
 *     exporter while everyone imports all 7 peers and checks every byte of
 *     every peer slot by dereferencing the GVA;
 *   3 each rank writes into its right neighbour's slot and checks the write
 *     it received from its left neighbour;
 *   4 rank 7 leaves cleanly: the others unmap it (with a reader thread
 *     hammering the slot), see SMEM_PEER_GONE and a still-reserved range;
 *   5 rank 6 is SIGKILLed by the parent: its memory stays valid in the others
 *     until they unmap it, then translation says SMEM_PEER_GONE.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gva/gva.h"
#include "gva/gva_proto.h"
#include "testutil.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define NRANKS 8
#define MiB (1ull << 20)
#define STRIDE (8 * MiB)
#define LOCAL (4 * MiB)
#define PHASE_MS 60000
#define IMPORT_MS 15000
#define RANK_LEAVES 7
#define RANK_KILLED 6

struct ctl {
    uint64_t base;
    uint32_t arrive[8];
    uint32_t killed;
    int passed[NRANKS];
    int failed[NRANKS];
};

static struct ctl *ctl;
static char ns[64];
static uint32_t me;

static uint64_t pattern(uint32_t rank, uint64_t word)
{
    return ((uint64_t)rank << 56) ^ (word * 0x9E3779B97F4A7C15ull);
}

static void report(void)
{
    ctl->passed[me] = tu_passed;
    ctl->failed[me] = tu_failed; /* the parent reads it after waitpid, which orders it */
}

/* Arrive at a phase and wait until `count` ranks have; false on timeout. */
static bool phase(uint32_t p, uint32_t count)
{
    __atomic_add_fetch(&ctl->arrive[p], 1, __ATOMIC_SEQ_CST);
    uint64_t deadline = util_now_ms() + PHASE_MS;
    while (__atomic_load_n(&ctl->arrive[p], __ATOMIC_SEQ_CST) < count) {
        if (util_now_ms() > deadline) {
            TU_CHECK(false, "rank %u: phase %u: only %u of %u ranks arrived", me, p, ctl->arrive[p], count);
            return false;
        }
        usleep(1000);
    }
    return true;
}

static int probe_errno(uint64_t addr, uint64_t len)
{
    void *p = mmap((void *)(uintptr_t)addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) return errno;
    munmap(p, len);
    return 0;
}

/* Compare every byte of a peer's slot (as words) with its pattern. */
static uint64_t slot_mismatches(const gva_window_t *w, uint32_t rank, uint64_t skip_last_words)
{
    const volatile uint64_t *p = (const uint64_t *)(uintptr_t)gva_window_slot(w, rank);
    uint64_t bad = 0;
    for (uint64_t j = 0; j < LOCAL / 8 - skip_last_words; j++) bad += p[j] != pattern(rank, j);
    return bad;
}

static int huge_info_lines;
static void huge_sink(int level, const char *msg)
{
    if (level == UTIL_LOG_INFO && strstr(msg, "huge pages unavailable") != NULL) huge_info_lines++;
}

/* A client that connects to a rank's exporter and sends raw bytes (n < 0: nothing, held for hold_ms). */
static void raw_client(uint32_t rank, const void *bytes, ssize_t n, int hold_ms)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int len = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "smem-gva/%s/host/%u.%016x", ns, rank, 0u);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    int rc = connect(s, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len));
    TU_CHECK(rc == 0, "garbage client connect to rank %u: %s", rank, strerror(errno));
    if (rc == 0 && n >= 0) TU_CHECK(send(s, bytes, (size_t)n, MSG_NOSIGNAL) == n, "send garbage: %s", strerror(errno));
    if (hold_ms > 0) usleep((useconds_t)hold_ms * 1000);
    close(s);
}

static void garbage_to_rank1(void)
{
    uint8_t junk[100];
    srand(12345);
    for (size_t i = 0; i < sizeof(junk); i++) junk[i] = (uint8_t)rand();
    raw_client(1, junk, sizeof(junk), 0);
    raw_client(1, NULL, -1, 1500); /* silent: the exporter gives up after its receive timeout */
    uint8_t req[GVA_PROTO_REQ_SIZE];
    gva_proto_req_encode(&(gva_proto_req_t){.kind = GVA_KIND_HOST, .from_rank = 0, .to_rank = 1}, req);
    raw_client(1, req, 10, 0); /* truncated */
    req[0] ^= 0xff;
    raw_client(1, req, sizeof(req), 0); /* bad magic */
}

struct hammer {
    gva_window_t *w;
    uint32_t rank;
    int stop;
    long ok, gone; /* atomics */
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
        gva_loc_t loc;
        if (gva_translate_acquire(gva_window_slot(h->w, h->rank), LOCAL, &loc) == SMEM_OK) {
            const volatile uint64_t *p = loc.ptr;
            uint64_t sum = 0;
            for (uint64_t j = 0; j < LOCAL / 8; j += 512) sum += p[j];
            (void)sum;
            gva_rank_release(loc.win, loc.rank);
            __atomic_add_fetch(&h->ok, 1, __ATOMIC_RELAXED);
        } else {
            __atomic_add_fetch(&h->gone, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

/* Peer `gone` left or died: unmap it, then every access path says so. */
static void check_departed(gva_window_t *w, uint32_t gone)
{
    uint64_t slot = gva_window_slot(w, gone);
    int32_t rc = gva_window_unmap_rank(w, gone, 10000);
    TU_CHECK(rc == SMEM_OK, "rank %u: unmap of rank %u: %d %s", me, gone, rc, util_err_get());
    gva_loc_t loc;
    rc = gva_translate(slot + 64, 8, &loc);
    TU_CHECK(rc == SMEM_PEER_GONE, "rank %u: translate in departed rank %u: %d", me, gone, rc);
    TU_CHECK(strstr(util_err_get(), "has left") != NULL, "message: %s", util_err_get());
    TU_CHECK(probe_errno(slot, STRIDE) == EEXIST, "rank %u: slot of %u not reserved after unmap", me, gone);
    rc = gva_window_import_peer(w, gone, 0, 300);
    TU_CHECK(rc == SMEM_CONN_FAILED, "rank %u: import of departed %u: %d %s", me, gone, rc, util_err_get());
}

static int rank_main(void)
{
    snprintf(ns, sizeof(ns), "it_gva_shm.%d", (int)getppid());
    gva_window_cfg_t cfg = {.kind = GVA_KIND_HOST, .world_max = NRANKS, .local_rank = me, .stride = STRIDE, .ns = ns};
    gva_window_t *w = NULL;
    int32_t rc;
    if (me == 0) {
        rc = gva_window_propose(&cfg, &w);
        TU_CHECK(rc == SMEM_OK, "propose: %s", util_err_get());
        if (rc != SMEM_OK) return 1;
        __atomic_store_n(&ctl->base, gva_window_base(w), __ATOMIC_SEQ_CST);
    } else {
        uint64_t deadline = util_now_ms() + PHASE_MS, base;
        while ((base = __atomic_load_n(&ctl->base, __ATOMIC_SEQ_CST)) == 0 && util_now_ms() < deadline) usleep(1000);
        rc = gva_window_reserve(&cfg, base, &w);
        TU_CHECK(rc == SMEM_OK, "rank %u: reserve 0x%llx: %s", me, (unsigned long long)base, util_err_get());
        if (rc != SMEM_OK) return 1;
    }

    if (me == 0) {
        util_log_level_set(UTIL_LOG_INFO);
        util_log_sink_set(huge_sink);
    }
    gva_seg_t *seg = NULL;
    rc = gva_seg_create(&gva_seg_host_ops, LOCAL, GVA_SEG_F_HUGETLB, &seg);
    if (me == 0) {
        util_log_sink_set(NULL);
        util_log_level_set(UTIL_LOG_ERROR);
        TU_CHECK(rc == SMEM_OK && ((seg->flags & GVA_SEG_F_HUGETLB) ? huge_info_lines == 0 : huge_info_lines == 1),
                 "huge page fallback: rc %d flags %u, %d INFO lines", rc, rc == SMEM_OK ? seg->flags : 0,
                 huge_info_lines);
    }
    TU_CHECK(rc == SMEM_OK, "rank %u: segment: %s", me, util_err_get());
    rc = gva_window_attach_local(w, seg);
    TU_CHECK(rc == SMEM_OK, "rank %u: attach: %s", me, util_err_get());
    uint64_t *mine = (uint64_t *)(uintptr_t)gva_window_slot(w, me);
    for (uint64_t j = 0; j < LOCAL / 8; j++) mine[j] = pattern(me, j);
    if (me == 1) tu_log_capture_start(UTIL_LOG_WARN);
    TU_CHECK(gva_export_start(w, 0) == SMEM_OK, "rank %u: exporter: %s", me, util_err_get());
    if (!phase(1, NRANKS)) return 1;

    if (me == 0) garbage_to_rank1();
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        rc = gva_window_import_peer(w, p, 0, IMPORT_MS);
        TU_CHECK(rc == SMEM_OK, "rank %u: import of %u: %d %s", me, p, rc, util_err_get());
    }
    for (uint32_t p = 0; p < NRANKS; p++) {
        gva_loc_t loc;
        rc = gva_translate(gva_window_slot(w, p) + LOCAL - 8, 8, &loc);
        TU_CHECK(rc == SMEM_OK && loc.rank == p && loc.state == (p == me ? GVA_RANK_LOCAL : GVA_RANK_MAPPED) &&
                     loc.ptr == (void *)(uintptr_t)(gva_window_slot(w, p) + LOCAL - 8),
                 "rank %u: translate into %u: %d", me, p, rc);
        TU_CHECK(gva_translate(gva_window_slot(w, p) + LOCAL, 1, &loc) == SMEM_OUT_OF_RANGE,
                 "rank %u: past the backed size of %u", me, p);
        if (p != me) TU_CHECK(slot_mismatches(w, p, 0) == 0, "rank %u: bytes of peer %u differ", me, p);
    }
    if (!phase(2, NRANKS)) return 1;

    uint32_t right = (me + 1) % NRANKS, left = (me + NRANKS - 1) % NRANKS;
    ((volatile uint64_t *)(uintptr_t)gva_window_slot(w, right))[LOCAL / 8 - 1] = 0xC0FFEE00ull | me;
    if (!phase(3, NRANKS)) return 1;
    TU_CHECK(mine[LOCAL / 8 - 1] == (0xC0FFEE00ull | left), "rank %u: write from left neighbour: 0x%llx", me,
             (unsigned long long)mine[LOCAL / 8 - 1]);
    if (me == 1) {
        tu_log_capture_stop();
        TU_CHECK(tu_log_contains("dropped 100 bytes"), "exporter WARN for random bytes");
        TU_CHECK(tu_log_contains("sent no request within 1000 ms"), "exporter WARN for a silent client");
        TU_CHECK(tu_log_contains("(truncated)"), "exporter WARN for a truncated request");
        TU_CHECK(tu_log_contains("bad magic"), "exporter WARN for a bad magic");
    }

    if (me == RANK_LEAVES) {
        gva_window_destroy(w); /* stops the exporter, unmaps everything */
        report();
        phase(4, NRANKS);
        return 0;
    }
    if (!phase(4, NRANKS)) return 1;
    /* Rank 7 is gone, but its memfd lives on through our mapping until we unmap it. */
    TU_CHECK(slot_mismatches(w, RANK_LEAVES, 1) == 0, "rank %u: departed rank's bytes", me);
    struct hammer h = {.w = w, .rank = RANK_LEAVES};
    pthread_t t;
    bool hammering = me == 0 && pthread_create(&t, NULL, hammer_main, &h) == 0;
    while (hammering && __atomic_load_n(&h.ok, __ATOMIC_RELAXED) < 50) usleep(100);
    check_departed(w, RANK_LEAVES);
    if (hammering) {
        while (__atomic_load_n(&h.gone, __ATOMIC_RELAXED) < 50) usleep(100);
        __atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
        pthread_join(t, NULL);
        TU_CHECK(h.ok >= 50 && h.gone >= 50, "hammer: %ld ok, %ld gone", h.ok, h.gone); /* joined: plain reads ok */
    }

    if (me == RANK_KILLED) {
        report();
        phase(5, NRANKS - 1);
        for (;;) pause(); /* the parent SIGKILLs us here */
    }
    if (!phase(5, NRANKS - 1)) return 1;
    uint64_t deadline = util_now_ms() + PHASE_MS;
    while (!__atomic_load_n(&ctl->killed, __ATOMIC_SEQ_CST) && util_now_ms() < deadline) usleep(1000);
    TU_CHECK(ctl->killed, "rank %u: parent never killed rank %u", me, RANK_KILLED);
    TU_CHECK(slot_mismatches(w, RANK_KILLED, 1) == 0, "rank %u: killed rank's bytes after its death", me);
    check_departed(w, RANK_KILLED);
    if (!phase(6, NRANKS - 2)) return 1;
    gva_window_destroy(w);
    return 0;
}

int main(void)
{
    ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED) return 1;
    memset(ctl, 0, sizeof(*ctl));
    pid_t pids[NRANKS];
    pid_t parent = getpid();
    for (uint32_t r = 0; r < NRANKS; r++) {
        pids[r] = fork();
        if (pids[r] < 0) return 1;
        if (pids[r] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(127);
            me = r;
            int bad = rank_main();
            report();
            _exit(bad || tu_failed ? 1 : 0);
        }
    }

    /* Kill rank 6 once ranks 0..6 are in phase 5. */
    uint64_t deadline = util_now_ms() + 2 * PHASE_MS;
    while (__atomic_load_n(&ctl->arrive[5], __ATOMIC_SEQ_CST) < NRANKS - 1 && util_now_ms() < deadline) usleep(1000);
    TU_CHECK(ctl->arrive[5] == NRANKS - 1, "ranks in phase 5: %u", ctl->arrive[5]);
    kill(pids[RANK_KILLED], SIGKILL);
    int st = 0;
    TU_CHECK(tu_wait_pid(pids[RANK_KILLED], 10000, &st) == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
             "rank %d did not die of SIGKILL (status 0x%x)", RANK_KILLED, st);
    __atomic_store_n(&ctl->killed, 1, __ATOMIC_SEQ_CST);

    for (uint32_t r = 0; r < NRANKS; r++) {
        if (r == RANK_KILLED) continue;
        int rc = tu_wait_pid(pids[r], 2 * PHASE_MS, &st);
        if (rc != 0) {
            kill(pids[r], SIGKILL);
            tu_wait_pid(pids[r], 5000, &st);
        }
        TU_CHECK(rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "rank %u: exit status 0x%x%s", r, st,
                 rc != 0 ? " (timed out)" : "");
    }
    for (uint32_t r = 0; r < NRANKS; r++) {
        tu_passed += ctl->passed[r];
        tu_failed += ctl->failed[r];
        printf("rank %u: %d passed, %d failed\n", r, ctl->passed[r], ctl->failed[r]);
    }
    return tu_summary();
}
