/*
 * it.netns_bm: BM across simulated hosts. Three network namespaces ("hosts",
 * tests/testutil/netns.h) x 2 ranks = 6 processes; rank r lives on host r/2.
 * Ranks on one host map each other's memory; ranks on different hosts reach
 * each other through the tcp transport (data plane bound by hcomUrl
 * "tcp://<subnet>/24:0"). The config store (smem-store) runs in the bridge's
 * namespace, reached over the veth addresses; nothing leaves the namespaces.
 *
 * Each rank's 96 MiB slot (stride 128 MiB):
 *   [0, 10 MiB)    pattern, written by its owner
 *   [10, 16 MiB)   mailbox: 1 MiB per writer (H2G, H2GH odd-sized, AUTO, G2G parts)
 *   [16, 76 MiB)   batch inbox: 10 MiB per writer, 122 scattered pieces
 *   [76, 96 MiB)   scratch: G2G fetches (76..), checks (78..), fault-phase targets (76.., 80..)
 * Phases (driven by the parent through shared memory):
 *   1 init, create, join; every rank sees every other (mapped on its own
 *     host, remote elsewhere: checked with gva_translate)
 *   2 between every pair: G2H, GH2H, AUTO reads (1 B .. 8 MiB, odd sizes and
 *     offsets), H2G, H2GH, AUTO, G2G (both directions) writes, 122-piece
 *     batches (61 x 128 KiB + 61 x 16 KiB) both ways, sync and async, one
 *     batch spread over every peer; out-of-range copies fail cleanly
 *   3 every mailbox and inbox holds what its writers sent
 *   4 rank 5 is SIGKILLed while ranks 0-4 run 16 MiB copies with it: each of
 *     them gets an error within KILL_BOUND_MS (every later copy to it too),
 *     and copies among ranks 0-4 keep working
 *   5 host 1's link goes down (its bridge port) while ranks 0-4 run 16 MiB
 *     copies across it: the copies in flight, and every later copy between
 *     host 1 (ranks 2, 3) and the others, fail within LINK_BOUND_MS -
 *     timeouts, no hang - while hosts 0 and 2 keep copying to each other and
 *     ranks 2 and 3 to each other (same host)
 *   6 the link comes back: copies across it work again within RECOVER_MS
 *     (the store's keepalive, 60 s, outlasts the cut, so nobody was declared
 *     dead), and everyone leaves cleanly
 * Short timeouts (controlOperationTimeout = DATA_TIMEOUT_S, which bounds every
 * blocking transport step) keep the whole run well under a minute.
 * Skips (exit 0) without root.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gva/gva.h"
#include "netns.h"
#include "smem/host/smem_bm.h"
#include "testutil.h"
#include "tu_bm.h"
#include "tu_data.h"
#include "util/util_time.h"
#include "util/util_tsan.h"

#define NHOSTS 3
#define PER_HOST 2
#define NRANKS (NHOSTS * PER_HOST)
#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define LOCAL (96 * MiB)
#define STRIDE (128 * MiB)
#define PAT_LEN (10 * MiB)
#define MAIL_OFF (10 * MiB)
#define MAIL_AREA MiB
#define MAIL_PART (256 * KiB)
#define BATCH_OFF (16 * MiB)
#define BATCH_AREA (10 * MiB)
#define SCRATCH_OFF (76 * MiB)
#define NPIECES 122
#define PACKED_LEN (61 * (128 + 16) * KiB) /* the 122 pieces back to back */
#define BIG_PIECE (128 * KiB)
#define SMALL_PIECE (16 * KiB)
#define BATCH_GAP (4 * KiB)
#define BUF_LEN (32 * MiB)
#define FAULT_LEN (16 * MiB)
#define FAULT_PART (3 * MiB) /* phase 4: each of ranks 0-4 writes its own part of the victim's scratch */
#define DATA_TIMEOUT_S 2
#define KILL_BOUND_MS (DATA_TIMEOUT_S * 1000 + 4000)
#define LINK_BOUND_MS (2 * DATA_TIMEOUT_S * 1000 + 1500)
#define PHASE_MS 60000
#define RECOVER_MS 10000
#define STORE_PORT "7000"

enum { PH_READY = 1, PH_UP, PH_PAIRS, PH_CHECK, PH_KILL, PH_LINK, PH_RELINK, PH_END };
static const char *const ph_name[] = {"", "ready", "1 (up)", "2 (pairs)", "3 (check)", "4 (kill)", "5 (link down)",
                                      "6 (link back)", "end"};
enum { VICTIM = 5, CUT_HOST = 1 };

struct ctl {
    volatile int phase;      /* set by the parent: ranks may start this phase */
    volatile int mark[NRANKS]; /* the last phase each rank finished */
    volatile int progress[NRANKS]; /* phase 4: large copies with the victim that succeeded */
    volatile int progress_link[NRANKS]; /* phase 5: large copies across the link-to-be-cut that succeeded */
    volatile int64_t kill_ms;  /* phase 4: when the victim was reaped */
    volatile int64_t down_ms;  /* phase 5: when the link went down */
    volatile int worst_ms[NRANKS]; /* slowest error seen in phases 4/5, for the report */
    int passed[NRANKS];
    int failed[NRANKS];
};

static struct ctl *ctl;
static char g_url[64];
static char g_subnet[32]; /* "10.201.S.0/24": the ranks' data plane binds there */
static uint32_t me;
static uint8_t *g_buf; /* BUF_LEN of local memory */

static uint32_t host_of(uint32_t r) { return r / PER_HOST; }

/* Data patterns (tu_fill / tu_rcheck) and the BM helpers (tu_slot, tu_copy, tu_batch) are tests/testutil's. */

_Static_assert(NPIECES == TU_KV_PIECES, "the block layout has 122 pieces");
static tu_piece_t g_pieces[NPIECES];

static void make_pieces(void) { tu_kv_layout(g_pieces, BIG_PIECE, SMALL_PIECE, BATCH_GAP, true); }

/* ---------- coordination ---------- */

static void report(void)
{
    ctl->passed[me] = tu_passed;
    ctl->failed[me] = tu_failed;
}

static void mark(int phase)
{
    report();
    __atomic_store_n(&ctl->mark[me], phase, __ATOMIC_RELEASE);
}

static bool await_phase(int phase)
{
    uint64_t end = util_now_ms() + PHASE_MS * 2;
    while (__atomic_load_n(&ctl->phase, __ATOMIC_ACQUIRE) < phase) {
        if (util_now_ms() > end) {
            TU_CHECK(0, "rank %u: phase %d never started", me, phase);
            return false;
        }
        usleep(2000);
    }
    util_tsan_remote_seen(); /* the phase says peers finished their writes into our memory */
    return true;
}

/* ---------- phases ---------- */

static void phase_up(void)
{
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        TU_CHECK(tu_wait_visible(p), "rank %u: rank %u visible", me, p);
        gva_loc_t loc;
        int32_t rc = gva_translate((uint64_t)(uintptr_t)tu_slot(p), 8, &loc);
        gva_rank_state_t want = host_of(p) == host_of(me) ? GVA_RANK_MAPPED : GVA_RANK_REMOTE;
        TU_CHECK(rc == 0 && loc.state == want, "rank %u: rank %u (host %u, we are on host %u) is in state %d, want %d",
                 me, p, host_of(p), host_of(me), (int)loc.state, (int)want);
        if (rc == 0 && want == GVA_RANK_MAPPED && loc.state == GVA_RANK_MAPPED) /* same host: a plain dereference works */
            TU_CHECK(tu_rcheck(tu_slot(p), p, 0, 4096), "rank %u: dereferencing same-host rank %u", me, p);
    }
}

static void pair_reads(uint32_t p)
{
    static const smem_bm_copy_type types[] = {SMEMB_COPY_G2H, SMEMB_COPY_GH2H, SMEMB_COPY_AUTO};
    static const uint64_t sizes[] = {1, 4 * KiB - 3, MiB, 3 * MiB + 5};
    for (uint32_t k = 0; k < 3; k++)
        for (uint32_t z = 0; z < 4; z++) {
            uint64_t off = 12345 + (k * 4 + z) * 333 * KiB % (PAT_LEN - 4 * MiB);
            memset(g_buf, 0, sizes[z] + 16);
            int32_t rc = tu_copy(tu_slot(p) + off, g_buf, sizes[z], types[k], 0);
            TU_CHECK(rc == 0 && tu_rcheck(g_buf, p, off, sizes[z]) && g_buf[sizes[z]] == 0,
                     "rank %u: %s-type %d, %llu B at %llu from rank %u: %d %s", me,
                     host_of(p) == host_of(me) ? "same-host" : "remote", types[k], (unsigned long long)sizes[z],
                     (unsigned long long)off, p, rc, smem_get_last_err_msg());
        }
    memset(g_buf, 0, 8 * MiB);
    int32_t rc = tu_copy(tu_slot(p) + MiB, g_buf, 8 * MiB, SMEMB_COPY_G2H, 0);
    TU_CHECK(rc == 0 && tu_rcheck(g_buf, p, MiB, 8 * MiB), "rank %u: 8 MiB from rank %u: %d %s", me, p, rc,
             smem_get_last_err_msg());
}

static void pair_writes(uint32_t p)
{
    static const smem_bm_copy_type types[] = {SMEMB_COPY_H2G, SMEMB_COPY_H2GH, SMEMB_COPY_AUTO};
    static const uint64_t lens[] = {MAIL_PART, MAIL_PART - 3, MAIL_PART};
    uint8_t *area = tu_slot(p) + MAIL_OFF + me * MAIL_AREA;
    for (uint32_t k = 0; k < 3; k++) {
        tu_fill(g_buf, 100 + me * 16 + p, k * MAIL_PART, lens[k]);
        int32_t rc = tu_copy(g_buf, area + k * MAIL_PART, lens[k], types[k], 0);
        TU_CHECK(rc == 0, "rank %u: type %d into rank %u: %d %s", me, types[k], p, rc, smem_get_last_err_msg());
    }
    /* G2G, our slot -> the peer's */
    int32_t rc = tu_copy(tu_slot(me) + p * MAIL_PART, area + 3 * MAIL_PART, MAIL_PART, SMEMB_COPY_G2G, 0);
    TU_CHECK(rc == 0, "rank %u: G2G into rank %u: %d %s", me, p, rc, smem_get_last_err_msg());
    /* G2G, the peer's slot -> ours */
    uint8_t *dst = tu_slot(me) + SCRATCH_OFF + p * MAIL_PART;
    memset(dst, 0, MAIL_PART);
    rc = tu_copy(tu_slot(p) + 2 * MiB + 8, dst, MAIL_PART, SMEMB_COPY_G2G, 0);
    TU_CHECK(rc == 0 && tu_rcheck(dst, p, 2 * MiB + 8, MAIL_PART), "rank %u: G2G from rank %u: %d %s", me, p, rc,
             smem_get_last_err_msg());
}

static void pair_batches(uint32_t p, uint32_t flags)
{
    void *src[NPIECES], *dst[NPIECES];
    /* to p: local packed source, scattered into our area of its inbox */
    uint32_t tag = 200 + me * 16 + p + (flags ? 8 : 0);
    tu_fill(g_buf, tag, 0, PACKED_LEN);
    for (uint32_t i = 0; i < NPIECES; i++) {
        src[i] = g_buf + g_pieces[i].src_off;
        dst[i] = tu_slot(p) + BATCH_OFF + me * BATCH_AREA + g_pieces[i].dst_off;
    }
    int32_t rc = tu_batch(g_pieces, src, dst, SMEMB_COPY_H2G, flags);
    if (flags) {
        int32_t w = smem_bm_wait(tu_bm_handle());
        if (rc == 0) rc = w;
    }
    TU_CHECK(rc == 0, "rank %u: batch H2G to rank %u (flags %u): %d %s", me, p, flags, rc, smem_get_last_err_msg());
    /* read back what landed there: proves the scatter, through a second batch */
    uint8_t *in = g_buf + 10 * MiB;
    memset(in, 0, 10 * MiB);
    for (uint32_t i = 0; i < NPIECES; i++) {
        src[i] = tu_slot(p) + BATCH_OFF + me * BATCH_AREA + g_pieces[i].dst_off;
        dst[i] = in + g_pieces[i].src_off;
    }
    rc = tu_batch(g_pieces, src, dst, SMEMB_COPY_G2H, flags);
    if (flags) {
        int32_t w = smem_bm_wait(tu_bm_handle());
        if (rc == 0) rc = w;
    }
    TU_CHECK(rc == 0 && tu_rcheck(in, tag, 0, PACKED_LEN), "rank %u: batch round trip with rank %u (flags %u): %d %s",
             me, p, flags, rc, smem_get_last_err_msg());
    /* from p's pattern region (packed), gapped into local memory */
    memset(in, 0, 10 * MiB);
    for (uint32_t i = 0; i < NPIECES; i++) {
        src[i] = tu_slot(p) + g_pieces[i].src_off;
        dst[i] = in + g_pieces[i].dst_off;
    }
    rc = tu_batch(g_pieces, src, dst, SMEMB_COPY_G2H, flags);
    if (flags) {
        int32_t w = smem_bm_wait(tu_bm_handle());
        if (rc == 0) rc = w;
    }
    bool ok = rc == 0;
    for (uint32_t i = 0; i < NPIECES && ok; i++) ok = tu_rcheck(in + g_pieces[i].dst_off, p, g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok, "rank %u: batch G2H from rank %u (flags %u): %d %s", me, p, flags, rc, smem_get_last_err_msg());
}

/* One batch whose piece i comes from peer (me + 1 + i % 5) % 6: same-host and remote pieces mixed. */
static void mixed_batch(void)
{
    void *src[NPIECES], *dst[NPIECES];
    uint32_t from[NPIECES];
    uint8_t *in = g_buf + 10 * MiB;
    memset(in, 0, 10 * MiB);
    for (uint32_t i = 0; i < NPIECES; i++) {
        from[i] = (me + 1 + i % (NRANKS - 1)) % NRANKS;
        src[i] = tu_slot(from[i]) + g_pieces[i].src_off;
        dst[i] = in + g_pieces[i].dst_off;
    }
    int32_t rc = tu_batch(g_pieces, src, dst, SMEMB_COPY_AUTO, 0);
    bool ok = rc == 0;
    for (uint32_t i = 0; i < NPIECES && ok; i++)
        ok = tu_rcheck(in + g_pieces[i].dst_off, from[i], g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok, "rank %u: batch from every peer: %d %s", me, rc, smem_get_last_err_msg());
}

static void bad_input(uint32_t p)
{
    /* past the peer's backed size (inside its stride): an error, nothing moves */
    int32_t rc = tu_copy(tu_slot(p) + LOCAL - 4096, g_buf, 8192, SMEMB_COPY_G2H, 0);
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "rank %u: G2H past rank %u's backed size: %d %s", me, p, rc,
             smem_get_last_err_msg());
    rc = tu_copy(g_buf, tu_slot(p) + LOCAL, 64, SMEMB_COPY_H2G, 0);
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "rank %u: H2G past rank %u's backed size: %d %s", me, p, rc,
             smem_get_last_err_msg());
}

/* G2G between two ranks on two other hosts: the right bytes, or a clear "unsupported" - nothing else. */
static void remote_to_remote(void)
{
    uint32_t p = (me + PER_HOST) % NRANKS, q = (me + 2 * PER_HOST) % NRANKS; /* the two other hosts */
    uint8_t *dst = tu_slot(q) + SCRATCH_OFF + MiB + me * 4096;
    int32_t rc = tu_copy(tu_slot(p) + 8192, dst, 4096, SMEMB_COPY_G2G, 0);
    bool ok = rc == SMEM_ERR_UNSUPPORTED;
    if (rc == 0) {
        memset(g_buf, 0, 4096);
        ok = tu_copy(dst, g_buf, 4096, SMEMB_COPY_G2H, 0) == 0 && tu_rcheck(g_buf, p, 8192, 4096);
    }
    TU_CHECK(ok, "rank %u: G2G from rank %u to rank %u (both remote): %d %s", me, p, q, rc, smem_get_last_err_msg());
}

static void phase_pairs(void)
{
    for (uint32_t k = 1; k < NRANKS; k++) { /* a different order per rank spreads the load */
        uint32_t p = (me + k) % NRANKS;
        pair_reads(p);
        pair_writes(p);
        pair_batches(p, 0);
        bad_input(p);
    }
    mixed_batch();
    remote_to_remote();
    for (uint32_t k = 1; k < NRANKS; k++) pair_batches((me + k) % NRANKS, ASYNC_COPY_FLAG);
    /* async singles to every peer at once, one wait */
    tu_async_from_all(g_buf, NRANKS);
}

static void phase_check(void)
{
    for (uint32_t w = 0; w < NRANKS; w++) {
        if (w == me) continue;
        const uint8_t *area = tu_slot(me) + MAIL_OFF + w * MAIL_AREA;
        bool ok = tu_rcheck(area, 100 + w * 16 + me, 0, MAIL_PART) &&
                  tu_rcheck(area + MAIL_PART, 100 + w * 16 + me, MAIL_PART, MAIL_PART - 3) &&
                  tu_rcheck(area + 2 * MAIL_PART, 100 + w * 16 + me, 2 * MAIL_PART, MAIL_PART);
        TU_CHECK(ok, "rank %u: mailbox from rank %u (H2G/H2GH/AUTO)", me, w);
        TU_CHECK(tu_rcheck(area + 3 * MAIL_PART, w, me * MAIL_PART, MAIL_PART), "rank %u: mailbox from rank %u (G2G)", me, w);
        /* the async batch (tag +8) overwrote the sync one */
        uint32_t tag = 200 + w * 16 + me + 8;
        ok = true;
        for (uint32_t i = 0; i < NPIECES && ok; i++)
            ok = tu_rcheck(tu_slot(me) + BATCH_OFF + w * BATCH_AREA + g_pieces[i].dst_off, tag, g_pieces[i].src_off,
                       g_pieces[i].len);
        TU_CHECK(ok, "rank %u: batch inbox from rank %u", me, w);
    }
}

static void note_worst(int64_t ms)
{
    if (ms > ctl->worst_ms[me]) ctl->worst_ms[me] = (int)ms;
}

/* Copies among `live` (bitmask of ranks) still work, with data checks. */
static void still_working(uint32_t live, const char *when)
{
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me || !(live & (1u << p))) continue;
        uint64_t off = 3 * MiB + me * 4096;
        memset(g_buf, 0, MiB);
        int32_t rc = tu_copy(tu_slot(p) + off, g_buf, MiB, SMEMB_COPY_G2H, 0);
        TU_CHECK(rc == 0 && tu_rcheck(g_buf, p, off, MiB), "rank %u: %s: G2H from rank %u: %d %s", me, when, p, rc,
                 smem_get_last_err_msg());
        uint8_t *dst = tu_slot(p) + SCRATCH_OFF + 2 * MiB + me * 256 * KiB; /* [78, 79.5 MiB) */
        tu_fill(g_buf, 300 + me, 0, 256 * KiB);
        rc = tu_copy(g_buf, dst, 256 * KiB, SMEMB_COPY_H2G, 0);
        memset(g_buf + MiB, 0, 256 * KiB);
        int32_t rc2 = rc == 0 ? tu_copy(dst, g_buf + MiB, 256 * KiB, SMEMB_COPY_G2H, 0) : rc;
        TU_CHECK(rc == 0 && rc2 == 0 && tu_rcheck(g_buf + MiB, 300 + me, 0, 256 * KiB),
                 "rank %u: %s: H2G + G2H with rank %u: %d %d %s", me, when, p, rc, rc2, smem_get_last_err_msg());
    }
}

/* Phase 4, on ranks 0-4: large copies with the victim until they fail. */
static void phase_kill(void)
{
    uint8_t *v = tu_slot(VICTIM);
    uint64_t first_fail = 0;
    int32_t fail_rc = 0;
    uint64_t end = util_now_ms() + PHASE_MS;
    for (uint32_t i = 0; util_now_ms() < end; i++) {
        int32_t rc;
        if (i % 2 == 0) {
            /* each writer its own part of the scratch area: concurrent writes to the same bytes would race */
            tu_fill(g_buf, 400 + me, 0, FAULT_PART);
            rc = tu_copy(g_buf, v + SCRATCH_OFF + me * FAULT_PART, FAULT_PART, SMEMB_COPY_H2G, 0);
        } else {
            memset(g_buf, 0, PAT_LEN);
            rc = tu_copy(v, g_buf, FAULT_LEN, SMEMB_COPY_G2H, 0);
            /* a copy that succeeds has its data in place, even with the peer dying */
            if (rc == 0) TU_CHECK(tu_rcheck(g_buf, VICTIM, 0, PAT_LEN), "rank %u: G2H from the victim: bad data", me);
        }
        if (rc != 0) {
            first_fail = util_now_ms();
            fail_rc = rc;
            break;
        }
        __atomic_add_fetch(&ctl->progress[me], 1, __ATOMIC_RELEASE);
    }
    int64_t killed = __atomic_load_n(&ctl->kill_ms, __ATOMIC_ACQUIRE);
    TU_CHECK(first_fail != 0, "rank %u: copies to the killed rank %u never failed", me, VICTIM);
    if (first_fail == 0) return;
    while (killed == 0 && util_now_ms() < first_fail + 10000) { /* the parent stamps the kill after reaping */
        usleep(1000);
        killed = __atomic_load_n(&ctl->kill_ms, __ATOMIC_ACQUIRE);
    }
    TU_CHECK(killed != 0, "rank %u: copy failed (%d) but the victim was never killed: %s", me, fail_rc,
             smem_get_last_err_msg());
    int64_t lat = (int64_t)first_fail - killed;
    note_worst(lat);
    TU_CHECK(lat <= KILL_BOUND_MS, "rank %u: first error %lld ms after the kill (bound %d)", me, (long long)lat,
             KILL_BOUND_MS);
    fprintf(stderr, "rank %u (%s): copy to killed rank %u failed %lld ms after the kill: %d\n", me,
            host_of(me) == host_of(VICTIM) ? "same host" : "remote", VICTIM, (long long)lat, fail_rc);
    /* from now on every copy to it fails, each within the bound */
    for (int k = 0; k < 4; k++) {
        uint64_t t0 = util_now_ms();
        int32_t rc = k % 2 ? tu_copy(v, g_buf, FAULT_LEN, SMEMB_COPY_G2H, 0)
                           : tu_copy(g_buf, v + SCRATCH_OFF, 64 * KiB, SMEMB_COPY_H2G, 0);
        int64_t took = (int64_t)(util_now_ms() - t0);
        note_worst(took);
        TU_CHECK(rc != 0 && took <= KILL_BOUND_MS, "rank %u: copy %d to the dead rank: %d in %lld ms", me, k, rc,
                 (long long)took);
    }
    still_working(0x1Fu & ~(1u << me), "after the kill");
}

/* Phase 5, on ranks 0-4: 16 MiB reads and 8 MiB writes across the link until it is cut (host 1 =
 * ranks 2, 3 unplugged) mid-transfer; the one in flight fails within the bound. */
static void phase_link_cut(uint32_t far_rank)
{
    uint8_t *v = tu_slot(far_rank);
    /* ranks 0 and 4 both stream to rank 2: each writes its own half of [80, 96 MiB) (same bytes would race) */
    uint8_t *dst = v + SCRATCH_OFF + 4 * MiB + (me == 4 ? FAULT_LEN / 2 : 0);
    uint64_t first_fail = 0;
    int32_t fail_rc = 0;
    uint64_t end = util_now_ms() + PHASE_MS;
    for (uint32_t i = 0; util_now_ms() < end; i++) {
        int32_t rc = i % 2 ? tu_copy(v, g_buf, FAULT_LEN, SMEMB_COPY_G2H, 0)
                           : tu_copy(g_buf, dst, FAULT_LEN / 2, SMEMB_COPY_H2G, 0);
        if (rc != 0) {
            first_fail = util_now_ms();
            fail_rc = rc;
            break;
        }
        __atomic_add_fetch(&ctl->progress_link[me], 1, __ATOMIC_RELEASE);
    }
    TU_CHECK(first_fail != 0, "rank %u: copies with rank %u never failed after the link went down", me, far_rank);
    if (first_fail == 0) return;
    int64_t down = __atomic_load_n(&ctl->down_ms, __ATOMIC_ACQUIRE);
    while (down == 0 && util_now_ms() < first_fail + 10000) {
        usleep(1000);
        down = __atomic_load_n(&ctl->down_ms, __ATOMIC_ACQUIRE);
    }
    TU_CHECK(down != 0, "rank %u: copy with rank %u failed (%d) while the link was up: %s", me, far_rank, fail_rc,
             smem_get_last_err_msg());
    int64_t lat = (int64_t)first_fail - down;
    note_worst(lat);
    TU_CHECK(lat <= LINK_BOUND_MS, "rank %u: in-flight copy with rank %u failed %lld ms after the cut (bound %d)", me,
             far_rank, (long long)lat, LINK_BOUND_MS);
    fprintf(stderr, "rank %u: in-flight copy with rank %u failed %lld ms after the link went down: %d\n", me, far_rank,
            (long long)lat, fail_rc);
}

static void phase_link(void)
{
    bool cut = host_of(me) == CUT_HOST;
    uint32_t live = 0x1F; /* ranks 0-4 */
    uint32_t cut_ranks = 0, far = 0;
    for (uint32_t p = 0; p < VICTIM; p++) {
        if (host_of(p) == CUT_HOST) cut_ranks |= 1u << p;
        if (p != me && host_of(p) != host_of(me)) {
            if (cut || host_of(p) == CUT_HOST) far |= 1u << p;
        }
    }
    /* one far peer each: 0 -> 2, 1 -> 3, 4 -> 2; 2 -> 4, 3 -> 0 */
    static const uint32_t stream_peer[VICTIM] = {2, 3, 4, 0, 2};
    phase_link_cut(stream_peer[me]);
    /* then every copy across the cut fails within the bound: a timeout (or a gone peer), never a hang */
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (!(far & (1u << p))) continue;
        for (int k = 0; k < 2; k++) {
            uint64_t t0 = util_now_ms();
            int32_t rc = k == 0 ? tu_copy(g_buf, tu_slot(p) + SCRATCH_OFF, 4 * MiB, SMEMB_COPY_H2G, 0)
                                : tu_copy(tu_slot(p), g_buf, 4 * MiB, SMEMB_COPY_G2H, 0);
            int64_t took = (int64_t)(util_now_ms() - t0);
            note_worst(took);
            TU_CHECK(rc != 0 && took <= LINK_BOUND_MS, "rank %u: %s across the cut link with rank %u: %d in %lld "
                     "ms (bound %d) %s", me, k ? "G2H" : "H2G", p, rc, (long long)took, LINK_BOUND_MS,
                     smem_get_last_err_msg());
            fprintf(stderr, "rank %u: %s with rank %u across the cut link: %d after %lld ms\n", me, k ? "G2H" : "H2G",
                    p, rc, (long long)took);
        }
    }
    /* what the cut does not separate keeps working */
    uint32_t reach = cut ? (cut_ranks & live) : (live & ~cut_ranks);
    still_working(reach & ~(1u << me), "with host 1 cut off");
}

/* Phase 6, on ranks 0-4: the link is back; copies across it work again (the
 * store never declared the cut ranks dead: its keepalive outlasts the cut). */
static void phase_relink(void)
{
    for (uint32_t p = 0; p < VICTIM; p++) {
        if (p == me || host_of(p) == host_of(me) || (host_of(me) != CUT_HOST && host_of(p) != CUT_HOST)) continue;
        uint64_t t0 = util_now_ms(), off = 5 * MiB + me * 4096;
        int32_t rc;
        int tries = 0;
        do {
            memset(g_buf, 0, MiB);
            rc = tu_copy(tu_slot(p) + off, g_buf, MiB, SMEMB_COPY_G2H, 0);
            tries++;
        } while (rc != 0 && util_now_ms() - t0 < RECOVER_MS && usleep(50000) == 0);
        TU_CHECK(rc == 0 && tu_rcheck(g_buf, p, off, MiB), "rank %u: G2H from rank %u after the link came back: %d after "
                 "%llu ms, %d tries: %s", me, p, rc, (unsigned long long)(util_now_ms() - t0), tries,
                 smem_get_last_err_msg());
        tu_fill(g_buf, 500 + me, 0, 256 * KiB);
        uint8_t *dst = tu_slot(p) + SCRATCH_OFF + 2 * MiB + me * 256 * KiB;
        rc = tu_copy(g_buf, dst, 256 * KiB, SMEMB_COPY_H2G, 0);
        memset(g_buf + MiB, 0, 256 * KiB);
        int32_t rc2 = rc == 0 ? tu_copy(dst, g_buf + MiB, 256 * KiB, SMEMB_COPY_G2H, 0) : rc;
        TU_CHECK(rc == 0 && rc2 == 0 && tu_rcheck(g_buf + MiB, 500 + me, 0, 256 * KiB),
                 "rank %u: H2G + G2H with rank %u after the link came back: %d %d %s", me, p, rc, rc2,
                 smem_get_last_err_msg());
    }
}

static int child(int idx)
{
    me = (uint32_t)idx;
    smem_bm_config_t c;
    tu_bm_config(&c, 30, DATA_TIMEOUT_S);
    c.startConfigStoreServer = false;
    c.autoRanking = false;
    c.rankId = (uint16_t)idx;
    /* the data plane on this host's address in the test subnet */
    snprintf(c.hcomUrl, sizeof(c.hcomUrl), "tcp://%s:0", g_subnet);
    c.flags |= SMEM_BM_FLAG_ALLOW_INSECURE; /* the store is reached without TLS across hosts: say so */
    char who[32];
    snprintf(who, sizeof(who), "rank %d", idx);
    tu_bm_rank_t r = {.url = g_url, .world = NRANKS, .cfg = &c, .want_rank = idx, .id = 0, .local = LOCAL,
                      .stride = STRIDE};
    smem_bm_t h = tu_bm_up(&r, who, NULL);
    if (h == NULL) return 1;
    make_pieces();
    g_buf = aligned_alloc(4096, BUF_LEN);
    if (g_buf == NULL) return 1;
    tu_fill(tu_slot(me), me, 0, PAT_LEN);

    mark(PH_READY);
    if (!await_phase(PH_UP)) return 1;
    phase_up();
    mark(PH_UP);
    if (!await_phase(PH_PAIRS)) return 1;
    phase_pairs();
    mark(PH_PAIRS);
    if (!await_phase(PH_CHECK)) return 1;
    phase_check();
    mark(PH_CHECK);
    if (!await_phase(PH_KILL)) return 1;
    if (me == VICTIM) {
        mark(PH_KILL);
        for (;;) pause(); /* serving until SIGKILL */
    }
    phase_kill();
    mark(PH_KILL);
    if (!await_phase(PH_LINK)) return 1;
    phase_link();
    mark(PH_LINK);
    if (!await_phase(PH_RELINK)) return 1;
    phase_relink();
    mark(PH_RELINK);
    if (!await_phase(PH_END)) return 1;
    uint64_t t0 = util_now_ms();
    smem_bm_destroy(h);
    smem_bm_uninit(0);
    TU_CHECK(util_now_ms() - t0 < 20000, "rank %u: destroy + uninit took %llu ms", me,
             (unsigned long long)(util_now_ms() - t0));
    free(g_buf);
    mark(PH_END);
    return 0;
}

/* ---------- parent ---------- */

static tn_net_t *g_net;
static pid_t g_pid[NRANKS];
static bool g_gone[NRANKS];

/* Wait until every rank in `who` marked `phase`; a rank that exits early fails the run. */
static bool await_marks(uint32_t who, int phase)
{
    uint64_t end = util_now_ms() + PHASE_MS;
    for (;;) {
        bool all = true;
        for (uint32_t r = 0; r < NRANKS; r++) {
            if (!(who & (1u << r))) continue;
            if (__atomic_load_n(&ctl->mark[r], __ATOMIC_ACQUIRE) >= phase) continue;
            all = false;
            int st;
            if (!g_gone[r] && tn_wait(g_net, g_pid[r], 0, &st) == 0) {
                g_gone[r] = true;
                TU_CHECK(0, "rank %u exited (status 0x%x) before finishing phase %d", r, st, phase);
                return false;
            }
        }
        if (all) return true;
        if (util_now_ms() > end) {
            for (uint32_t r = 0; r < NRANKS; r++)
                if ((who & (1u << r)) && ctl->mark[r] < phase) TU_CHECK(0, "rank %u hung in phase %d", r, phase);
            return false;
        }
        usleep(2000);
    }
}

static int run_child(void *arg)
{
    int idx = (int)(intptr_t)arg;
    int rc = child(idx);
    report();
    ctl->failed[idx] += rc != 0;
    return rc;
}

static int start_store(void)
{
    char bin[4096], listen[64];
    snprintf(bin, sizeof(bin), "%s/smem-store", tu_build_dir());
    snprintf(listen, sizeof(listen), "tcp://%s:%s", tn_addr(g_net, TN_HUB), STORE_PORT);
    char *argv[] = {bin, "--listen", listen, "--keepalive-ms", "60000", "--log-level", "2", "--allow-insecure", NULL};
    int fd = -1;
    pid_t p = tn_spawn(g_net, TN_HUB, argv, &fd);
    if (p < 0) return -1;
    char line[256];
    int rc = tu_read_line(fd, line, sizeof(line), 10000);
    close(fd);
    if (rc < 0 || strstr(line, "listening on") == NULL) return -1;
    snprintf(g_url, sizeof(g_url), "%s", listen);
    return 0;
}

int main(void)
{
    if (!tn_require("it.netns_bm")) return 0;
    ctl = tu_shared(sizeof(*ctl));
    if (ctl == NULL) return 1;
    tn_opts_t o = {.hosts = NHOSTS};
    char err[512];
    if (tn_net_create(&o, &g_net, err, sizeof(err)) != 0) {
        TU_CHECK(0, "network namespaces: %s", err);
        return tu_summary();
    }
    snprintf(g_subnet, sizeof(g_subnet), "%s", tn_subnet(g_net));
    if (start_store() != 0) {
        TU_CHECK(0, "smem-store in %s did not start", tn_ns_name(g_net, TN_HUB));
        tn_net_destroy(g_net);
        return tu_summary();
    }
    uint64_t t_start = util_now_ms();
    for (uint32_t r = 0; r < NRANKS; r++) {
        g_pid[r] = tn_run(g_net, host_of(r), run_child, (void *)(intptr_t)r);
        if (g_pid[r] < 0) TU_CHECK(0, "starting rank %u: %s", r, strerror(errno));
    }
    uint32_t all = (1u << NRANKS) - 1, alive = all & ~(1u << VICTIM);
    bool ok = await_marks(all, PH_READY);
    for (int ph = PH_UP; ok && ph <= PH_CHECK; ph++) {
        __atomic_store_n(&ctl->phase, ph, __ATOMIC_RELEASE);
        ok = await_marks(all, ph);
        fprintf(stderr, "[%5.1fs] phase %s done\n", (util_now_ms() - t_start) / 1000.0, ph_name[ph]);
    }
    if (ok) {
        __atomic_store_n(&ctl->phase, PH_KILL, __ATOMIC_RELEASE);
        ok = await_marks(1u << VICTIM, PH_KILL);
        /* kill once every copier is in the middle of its stream of 16 MiB copies */
        uint64_t end = util_now_ms() + PHASE_MS;
        for (uint32_t r = 0; ok && r < VICTIM; r++)
            while (ok && __atomic_load_n(&ctl->progress[r], __ATOMIC_ACQUIRE) < 3)
                if (util_now_ms() > end || ctl->mark[r] >= PH_KILL) {
                    TU_CHECK(0, "rank %u made no progress copying with the victim", r);
                    ok = false;
                } else {
                    usleep(1000);
                }
        usleep(20000);
        int st = tn_kill(g_net, g_pid[VICTIM]);
        __atomic_store_n(&ctl->kill_ms, (int64_t)util_now_ms(), __ATOMIC_RELEASE);
        g_gone[VICTIM] = true;
        TU_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "victim status 0x%x", st);
        if (ok) ok = await_marks(alive, PH_KILL);
        fprintf(stderr, "[%5.1fs] phase %s done\n", (util_now_ms() - t_start) / 1000.0, ph_name[PH_KILL]);
    }
    if (ok) {
        /* cut host 1 off while every rank is in the middle of 16 MiB copies across the cut */
        __atomic_store_n(&ctl->phase, PH_LINK, __ATOMIC_RELEASE);
        uint64_t end = util_now_ms() + PHASE_MS;
        for (uint32_t r = 0; ok && r < VICTIM; r++)
            while (ok && __atomic_load_n(&ctl->progress_link[r], __ATOMIC_ACQUIRE) < 3)
                if (util_now_ms() > end || ctl->mark[r] >= PH_LINK) {
                    TU_CHECK(0, "rank %u made no progress copying across the link", r);
                    ok = false;
                } else {
                    usleep(1000);
                }
        usleep(20000);
        TU_CHECK(tn_link_set(g_net, CUT_HOST, false) == 0, "link down");
        __atomic_store_n(&ctl->down_ms, (int64_t)util_now_ms(), __ATOMIC_RELEASE);
        if (ok) ok = await_marks(alive, PH_LINK);
        fprintf(stderr, "[%5.1fs] phase %s done\n", (util_now_ms() - t_start) / 1000.0, ph_name[PH_LINK]);
    }
    if (ok) {
        TU_CHECK(tn_link_set(g_net, CUT_HOST, true) == 0, "link up");
        __atomic_store_n(&ctl->phase, PH_RELINK, __ATOMIC_RELEASE);
        ok = await_marks(alive, PH_RELINK);
        fprintf(stderr, "[%5.1fs] phase %s done\n", (util_now_ms() - t_start) / 1000.0, ph_name[PH_RELINK]);
    }
    __atomic_store_n(&ctl->phase, PH_END, __ATOMIC_RELEASE);
    if (ok) ok = await_marks(alive, PH_END);
    for (uint32_t r = 0; r < NRANKS; r++) {
        if (g_gone[r]) continue;
        int st = 0;
        if (tn_wait(g_net, g_pid[r], ok ? 30000 : 0, &st) != 0) {
            tn_kill(g_net, g_pid[r]);
            if (ok) TU_CHECK(0, "rank %u did not exit", r);
            continue;
        }
        TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "rank %u exit status 0x%x", r, st);
    }
    int worst = 0;
    for (uint32_t r = 0; r < NRANKS; r++) {
        tu_passed += ctl->passed[r];
        tu_failed += ctl->failed[r];
        if (ctl->worst_ms[r] > worst) worst = ctl->worst_ms[r];
    }
    fprintf(stderr, "slowest failing copy in the fault phases: %d ms (data timeout %d s)\n", worst, DATA_TIMEOUT_S);
    TU_CHECK(tu_passed > NRANKS * 150, "only %d checks ran", tu_passed);
    fprintf(stderr, "[%5.1fs] total\n", (util_now_ms() - t_start) / 1000.0);
    tn_net_destroy(g_net);
    return tu_summary();
}
