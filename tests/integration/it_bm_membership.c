/*
 * it.bm_membership: ranks join, leave and die while others copy.
 *
 * Children (forked before any thread; explicit ranks = child index):
 *   0, 1, 2  copiers: rank 0 serves the store; all three copy to every other
 *            rank in a loop for the whole test and check what they see
 *   3        leaver: leaves during phase 2 (its own copies then fail)
 *   4        late joiner: inits and joins only in phase 3
 *   5        victim: SIGKILLed by the parent in phase 4
 * Phases (shared memory, driven by the parent):
 *   1 ranks 0,1,2,3,5 join; copiers wait until all are visible
 *   2 rank 3 leaves: each copier must see SMEM_PEER_GONE (naming rank 3)
 *     within 5 s and from then on, while copies to the others keep working
 *   3 rank 4 joins: every copier must reach it (correct data) within 5 s,
 *     and rank 4 reads every member
 *   4 rank 5 is killed: every copier must see SMEM_PEER_GONE within 5 s,
 *     no crash, the others keep working
 *   5 everyone leaves and exits; rank 0 keeps the store until the last.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smem/host/smem_bm.h"
#include "testutil.h"
#include "tu_bm.h"
#include "tu_data.h"
#include "util/util_time.h"

#define NCHILD 6
#define WORLD 8
#define MiB (1ull << 20)
#define KiB (1ull << 10)
#define LOCAL (4 * MiB)
#define PIECE (64 * KiB)
#define GONE_MS 5000
#define PHASE_WAIT_MS 60000

enum { R_LEAVER = 3, R_LATE = 4, R_VICTIM = 5, NCOPIERS = 3 };

struct ctl {
    volatile int phase;
    volatile int joined[NCHILD];
    volatile int filled[NCHILD];
    volatile int ready[NCOPIERS];    /* phase 1 done: all initial ranks visible */
    volatile int left;               /* rank 3 has left */
    volatile int saw_left[NCOPIERS];
    volatile int saw_late[NCOPIERS];
    volatile int killed;             /* rank 5 is dead (parent reaped it) */
    volatile int saw_killed[NCOPIERS];
};

static struct ctl *ctl;
static char g_url[64];
static smem_bm_t g_h;
static uint32_t me;
static uint8_t g_buf[PIECE];

static bool wait_for(volatile int *flag, int want) { return tu_await(flag, want, PHASE_WAIT_MS); }

static int32_t read_from(uint32_t r, uint64_t off) { return tu_copy(tu_slot(r) + off, g_buf, PIECE, SMEMB_COPY_G2H, 0); }

/* The piece read_from got is rank r's pattern at off (tu_fill's, tag r). */
static bool data_ok(uint32_t r, uint64_t off) { return tu_rcheck(g_buf, r, off, PIECE); }

static int32_t join_and_fill(int idx)
{
    smem_bm_config_t c;
    tu_bm_config(&c, 60, 30);
    c.autoRanking = false;
    c.rankId = (uint16_t)idx;
    c.startConfigStoreServer = idx == 0;
    char who[32];
    snprintf(who, sizeof(who), "child %d", idx);
    tu_bm_rank_t r = {.url = g_url, .world = WORLD, .cfg = &c, .want_rank = idx, .id = 7, .local = LOCAL};
    g_h = tu_bm_up(&r, who, &me);
    if (g_h == NULL) return -1;
    tu_fill(tu_slot(me), me, 0, LOCAL);
    ctl->filled[idx] = 1;
    ctl->joined[idx] = 1;
    return 0;
}

/* One copier round over every rank but us; updates what we have seen. */
typedef struct seen {
    uint64_t left_at, late_at, killed_at; /* when the flag was first observed (ms) */
    bool saw_left, saw_late, saw_killed;
    int bad_stable, bad_other, bad_data;
    uint64_t round;
} seen_t;

static void copier_round(seen_t *s)
{
    uint64_t now = util_now_ms();
    if (ctl->left && !s->left_at) s->left_at = now;
    if (ctl->joined[R_LATE] && !s->late_at) s->late_at = now;
    if (ctl->killed && !s->killed_at) s->killed_at = now;
    for (uint32_t r = 0; r < NCHILD; r++) {
        if (r == me) continue;
        uint64_t off = ((s->round * 7 + r) % (LOCAL / PIECE)) * PIECE;
        bool filled = ctl->filled[r];
        int32_t rc = read_from(r, off);
        if (rc == 0 && filled && !data_ok(r, off)) s->bad_data++;
        if (r < NCOPIERS) {
            if (rc != 0) {
                s->bad_stable++;
                fprintf(stderr, "rank %u: copy from stable rank %u: %d %s\n", me, r, rc, smem_get_last_err_msg());
            }
            continue;
        }
        if (rc != 0 && rc != SMEM_ERR_PEER_GONE) {
            s->bad_other++;
            fprintf(stderr, "rank %u: copy from rank %u: unexpected %d %s\n", me, r, rc, smem_get_last_err_msg());
        }
        if (r == R_LEAVER && s->left_at) {
            if (rc == SMEM_ERR_PEER_GONE && strstr(smem_get_last_err_msg(), "rank 3") != NULL) s->saw_left = true;
            else if (s->saw_left) s->bad_other++; /* once gone, gone */
        }
        if (r == R_LATE && s->late_at && rc == 0 && filled) s->saw_late = true;
        if (r == R_VICTIM && s->killed_at) {
            if (rc == SMEM_ERR_PEER_GONE) s->saw_killed = true;
            else if (s->saw_killed) s->bad_other++;
        }
        if (r == R_VICTIM && !ctl->killed && ctl->phase < 4 && rc != 0) s->bad_other++;
    }
    s->round++;
}

static void copier(int idx)
{
    seen_t s;
    memset(&s, 0, sizeof(s));
    /* Phase 1: every initial member visible. */
    uint64_t end = util_now_ms() + PHASE_WAIT_MS;
    for (uint32_t r = 0; r < NCHILD; r++) {
        if (r == me || r == R_LATE) continue;
        int32_t rc;
        while ((rc = read_from(r, 0)) != 0 && util_now_ms() < end) usleep(5000);
        TU_CHECK(rc == 0, "rank %u: initial member %u not visible: %d %s", me, r, rc, smem_get_last_err_msg());
    }
    ctl->ready[idx] = 1;
    while (ctl->phase < 5) {
        copier_round(&s);
        uint64_t now = util_now_ms();
        if (s.saw_left && !ctl->saw_left[idx]) {
            TU_CHECK(now - s.left_at <= GONE_MS + 1000, "rank %u: rank 3's leave took %llu ms", me,
                     (unsigned long long)(now - s.left_at));
            ctl->saw_left[idx] = 1;
        }
        if (s.left_at && !s.saw_left && now - s.left_at > GONE_MS) {
            TU_CHECK(0, "rank %u: rank 3 still reachable %d ms after it left", me, GONE_MS);
            ctl->saw_left[idx] = 1;
            s.saw_left = true;
        }
        if (s.saw_late && !ctl->saw_late[idx]) ctl->saw_late[idx] = 1;
        if (s.late_at && !s.saw_late && now - s.late_at > GONE_MS) {
            TU_CHECK(0, "rank %u: late joiner 4 not reachable %d ms after its join", me, GONE_MS);
            ctl->saw_late[idx] = 1;
            s.saw_late = true;
        }
        if (s.saw_killed && !ctl->saw_killed[idx]) {
            TU_CHECK(now - s.killed_at <= GONE_MS + 1000, "rank %u: killed rank 5 removed after %llu ms", me,
                     (unsigned long long)(now - s.killed_at));
            ctl->saw_killed[idx] = 1;
        }
        if (s.killed_at && !s.saw_killed && now - s.killed_at > GONE_MS) {
            TU_CHECK(0, "rank %u: killed rank 5 still mapped %d ms later", me, GONE_MS);
            ctl->saw_killed[idx] = 1;
            s.saw_killed = true;
        }
        usleep(500);
    }
    TU_CHECK(s.bad_stable == 0, "rank %u: %d failed copies from stable ranks", me, s.bad_stable);
    TU_CHECK(s.bad_other == 0, "rank %u: %d unexpected results from changing ranks", me, s.bad_other);
    TU_CHECK(s.bad_data == 0, "rank %u: %d copies returned wrong data", me, s.bad_data);
    TU_CHECK(s.round > 50, "rank %u: only %llu copy rounds", me, (unsigned long long)s.round);
    TU_CHECK(s.saw_left && s.saw_late && s.saw_killed, "rank %u: saw left %d late %d killed %d", me, s.saw_left,
             s.saw_late, s.saw_killed);
}

static int child(int idx, void *arg)
{
    (void)arg;
    if (idx == R_LATE && !wait_for(&ctl->phase, 3)) return 1;
    if (join_and_fill(idx) != 0) return 1;
    if (idx < NCOPIERS) {
        copier(idx);
    } else if (idx == R_LEAVER) {
        if (!wait_for(&ctl->phase, 2)) return 1;
        usleep(200000); /* let the copiers run against us first */
        int32_t rc = smem_bm_leave(g_h, 0);
        TU_CHECK(rc == 0, "rank 3: leave: %d %s", rc, smem_get_last_err_msg());
        ctl->left = 1;
        rc = read_from(0, 0);
        TU_CHECK(rc == SMEM_ERR_PEER_GONE, "rank 3: copy after leave: %d", rc);
        TU_CHECK(strlen(smem_get_last_err_msg()) > 0, "rank 3: message after leave");
    } else if (idx == R_LATE) {
        /* It imported every current member at join. */
        for (uint32_t r = 0; r < NCHILD; r++) {
            if (r == me || r == R_LEAVER) continue;
            int32_t rc = read_from(r, PIECE);
            TU_CHECK(rc == 0 && data_ok(r, PIECE), "rank 4: read rank %u after join: %d %s", r, rc,
                     smem_get_last_err_msg());
        }
        TU_CHECK(read_from(R_LEAVER, 0) == SMEM_ERR_PEER_GONE, "rank 4: the departed rank 3 is not mapped");
    } else if (idx == R_VICTIM) {
        for (;;) pause(); /* until SIGKILL */
    }
    if (!wait_for(&ctl->phase, 5)) return 1;
    if (idx != R_LEAVER) {
        int32_t rc = smem_bm_leave(g_h, 0);
        TU_CHECK(rc == 0, "rank %u: final leave: %d %s", me, rc, smem_get_last_err_msg());
    }
    smem_bm_destroy(g_h);
    smem_bm_uninit(0);
    return 0;
}

static bool all_set(volatile int *flags, int n) { return tu_await_all(flags, n, PHASE_WAIT_MS); }

int main(void)
{
    ctl = tu_shared(sizeof(*ctl));
    uint16_t port = tu_free_port();
    if (ctl == NULL || port == 0) return 1;
    snprintf(g_url, sizeof(g_url), "tcp://127.0.0.1:%u", port);
    tu_kids_t kids;
    if (tu_kids_start(&kids, NCHILD, child, NULL) != 0) {
        ctl->phase = 5; /* the children started so far give up */
        tu_kids_wait(&kids, 120000);
        return tu_summary();
    }
    ctl->phase = 1;
    TU_CHECK(all_set(ctl->ready, NCOPIERS), "phase 1: copiers not ready");
    /* A copier is ready once it can read every initial rank, which may be
     * before those ranks' join-and-fill has returned: wait for that too. */
    TU_CHECK(wait_for(&ctl->joined[R_LEAVER], 1) && wait_for(&ctl->joined[R_VICTIM], 1),
             "phase 1: leaver/victim not joined");
    ctl->phase = 2;
    TU_CHECK(all_set(ctl->saw_left, NCOPIERS), "phase 2: leave not seen by every copier");
    ctl->phase = 3;
    TU_CHECK(all_set(ctl->saw_late, NCOPIERS), "phase 3: late joiner not reached by every copier");
    ctl->phase = 4;
    int st = tu_kids_kill(&kids, R_VICTIM);
    TU_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "victim status 0x%x", st);
    ctl->killed = 1;
    TU_CHECK(all_set(ctl->saw_killed, NCOPIERS), "phase 4: death not seen by every copier");
    ctl->phase = 5;
    tu_kids_wait(&kids, 120000);
    return tu_summary();
}
