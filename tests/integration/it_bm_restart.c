/*
 * it.bm_restart: the config store (smem-store) restarts under a BM pool.
 *
 * Children (forked before any thread, automatic ranks):
 *   0, 1  survivors: join, then copy from every member in a loop and check
 *         the bytes;
 *   2     a member that dies (SIGKILL) while the store is down, so nobody
 *         is told: the survivors must find out by themselves once the
 *         restarted store's recovery window is over;
 *   3     a newcomer that inits only after the restart: it must get a rank
 *         no survivor holds, and everyone must reach it.
 * The store is SIGKILLed and started again on the same port with a short
 * recovery window. Zero wrong bytes throughout; the times are printed.
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

#define NCHILD 4
#define WORLD 8
#define LOCAL (4u << 20)
#define PIECE (64u << 10)

struct ctl {
    volatile int phase;            /* 1 join, 2 store restarted, 3 newcomer in, 4 leave */
    volatile int ready[NCHILD];    /* phase 1 done: reads every member right */
    volatile int rank[NCHILD];
    volatile int gone_seen[NCHILD];   /* survivors: child 2's rank is reported gone */
    volatile uint64_t gone_ms[NCHILD];
    volatile int new_seen[NCHILD];    /* survivors: the newcomer read right */
    volatile uint64_t new_ms[NCHILD];
    volatile int wrong[NCHILD];
    volatile int filled[NCHILD];   /* wrote its slot's pattern (read only after that) */
    volatile int done[NCHILD];
    volatile uint64_t restart_at, newcomer_at;
};

static struct ctl *ctl;
static char g_url[64];
static smem_bm_t g_h;
static uint8_t g_buf[PIECE];

/* Copies PIECE bytes from rank r's slot at off; 0 and the bytes are right (rank r's tu_fill pattern), else the
 * copy's status (or 1: wrong bytes). */
static int32_t read_rank(uint32_t r, uint64_t off, int idx)
{
    int32_t rc = tu_copy(tu_slot(r) + off, g_buf, PIECE, SMEMB_COPY_G2H, 0);
    if (rc != 0) return rc;
    char who[48];
    snprintf(who, sizeof(who), "child %d: rank %u", idx, r);
    if (!tu_check(g_buf, r, off, PIECE, who)) {
        ctl->wrong[idx]++;
        return 1;
    }
    return 0;
}

static int child(int idx, void *arg)
{
    (void)arg;
    if (idx == 3)
        while (ctl->phase < 3) usleep(10000);
    smem_bm_config_t c;
    tu_bm_config(&c, 30, 10);
    c.startConfigStoreServer = false;
    char who[32];
    snprintf(who, sizeof(who), "child %d", idx);
    tu_bm_rank_t r = {.url = g_url, .world = WORLD, .cfg = &c, .want_rank = -1, .id = 3, .local = LOCAL};
    uint32_t me = 0;
    g_h = tu_bm_up(&r, who, &me);
    if (g_h == NULL) return tu_summary();
    ctl->rank[idx] = (int)me;
    tu_fill(tu_slot(me), me, 0, LOCAL);
    ctl->filled[idx] = 1;

    if (idx < 3) { /* phase 1: every first member readable */
        uint64_t end = util_now_ms() + 20000;
        bool all = false;
        while (!all && util_now_ms() < end) {
            all = true;
            for (int j = 0; j < 3; j++) {
                while (!ctl->filled[j] && util_now_ms() < end) usleep(5000);
                if (!ctl->filled[j] || read_rank((uint32_t)ctl->rank[j], 0, idx) != 0) all = false;
            }
            if (!all) usleep(20000);
        }
        TU_CHECK(all, "child %d: reads all three first members", idx);
        ctl->ready[idx] = 1;
    }
    if (idx == 2) pause(); /* killed while the store is down */

    uint64_t round = 0;
    while (ctl->phase < 4) {
        uint64_t off = (round++ % (LOCAL / PIECE)) * PIECE;
        int32_t st;
        if (idx < 2 && ctl->phase == 2) { /* from phase 3 on the newcomer may hold that rank */
            /* the dead member must be found out: its copies fail with SMEM_ERR_PEER_GONE-like errors */
            st = read_rank((uint32_t)ctl->rank[2], off, idx);
            if (st != 0 && st != 1 && !ctl->gone_seen[idx]) {
                ctl->gone_seen[idx] = 1;
                ctl->gone_ms[idx] = util_now_ms() - ctl->restart_at;
            }
            if (st == 0) ctl->gone_seen[idx] = 0; /* still reachable (its mapping): not yet */
        }
        for (int j = 0; j < 2; j++) (void)read_rank((uint32_t)ctl->rank[j], off, idx);
        if (idx < 2 && ctl->phase >= 3 && ctl->filled[3] && !ctl->new_seen[idx] &&
            read_rank((uint32_t)ctl->rank[3], off, idx) == 0) {
            ctl->new_seen[idx] = 1;
            ctl->new_ms[idx] = util_now_ms() - ctl->newcomer_at;
        }
        if (idx == 3 && !ctl->new_seen[3]) {
            bool ok = read_rank((uint32_t)ctl->rank[0], off, idx) == 0 && read_rank((uint32_t)ctl->rank[1], off, idx) == 0;
            if (ok) {
                ctl->new_seen[3] = 1;
                ctl->new_ms[3] = util_now_ms() - ctl->newcomer_at;
            }
        }
        usleep(2000);
    }
    ctl->done[idx] = 1;
    smem_bm_leave(g_h, 0);
    smem_bm_destroy(g_h);
    smem_bm_uninit(0);
    return tu_summary();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    ctl = tu_shared(sizeof(*ctl));
    if (ctl == NULL) return 1;
    for (int i = 0; i < NCHILD; i++) ctl->rank[i] = -1;
    ctl->phase = 1;
    uint16_t port = tu_free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%u", port);
    const char *args[] = {"--listen", listen, "--recovery-ms", "500", "--log-level", "2", NULL};
    pid_t store = -1;
    if (tu_store_start(args, &store, g_url, sizeof(g_url)) != 0) {
        TU_CHECK(0, "smem-store start");
        return tu_summary();
    }
    tu_kids_t kids;
    if (tu_kids_start(&kids, NCHILD, child, NULL) != 0) {
        ctl->phase = 4; /* the children started so far give up */
        tu_kids_wait(&kids, 30000);
        tu_stop_pid(store, 5000);
        return tu_summary();
    }
    TU_CHECK(tu_await_all(ctl->ready, 3, 40000), "three members up and reading each other");
    TU_CHECK(ctl->rank[0] != ctl->rank[1] && ctl->rank[1] != ctl->rank[2] && ctl->rank[0] != ctl->rank[2],
             "distinct ranks %d %d %d", ctl->rank[0], ctl->rank[1], ctl->rank[2]);

    /* The store dies; a member dies while nobody can hear it; the store comes back. */
    kill(store, SIGKILL);
    tu_wait_pid(store, 5000, NULL);
    tu_kids_kill(&kids, 2);
    usleep(300000);
    ctl->restart_at = util_now_ms();
    char url2[64];
    TU_CHECK(tu_store_start(args, &store, url2, sizeof(url2)) == 0 && strcmp(url2, g_url) == 0,
             "smem-store back on %s", g_url);
    ctl->phase = 2;
    uint64_t end = util_now_ms() + 15000;
    while (util_now_ms() < end && !(ctl->gone_seen[0] && ctl->gone_seen[1])) usleep(20000);
    TU_CHECK(ctl->gone_seen[0] && ctl->gone_seen[1], "both survivors found out the member that died unheard");
    printf("dead member found out %llu / %llu ms after the store came back\n", (unsigned long long)ctl->gone_ms[0],
           (unsigned long long)ctl->gone_ms[1]);

    ctl->newcomer_at = util_now_ms();
    ctl->phase = 3;
    end = util_now_ms() + 20000;
    while (util_now_ms() < end && !(ctl->new_seen[0] && ctl->new_seen[1] && ctl->new_seen[3])) usleep(20000);
    TU_CHECK(ctl->rank[3] >= 0 && ctl->rank[3] != ctl->rank[0] && ctl->rank[3] != ctl->rank[1],
             "the newcomer's rank %d is nobody's (survivors %d %d)", ctl->rank[3], ctl->rank[0], ctl->rank[1]);
    TU_CHECK(ctl->new_seen[0] && ctl->new_seen[1] && ctl->new_seen[3], "survivors and newcomer read each other");
    printf("newcomer (rank %d) reached in %llu / %llu ms, it reached the survivors in %llu ms\n", ctl->rank[3],
           (unsigned long long)ctl->new_ms[0], (unsigned long long)ctl->new_ms[1],
           (unsigned long long)ctl->new_ms[3]);
    ctl->phase = 4;
    tu_kids_wait(&kids, 30000); /* each exits 0; their checks count here too */
    int wrong = 0;
    for (int i = 0; i < NCHILD; i++) wrong += ctl->wrong[i];
    TU_CHECK(wrong == 0, "no wrong bytes (%d)", wrong);
    tu_stop_pid(store, 5000);
    return tu_summary();
}
