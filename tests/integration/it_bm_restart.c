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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smem/host/smem_bm.h"
#include "testutil.h"
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

static uint64_t pat(uint32_t r, uint64_t off) { return ((uint64_t)(r + 1) << 56) ^ (off * 0x9E3779B97F4A7C15ull); }

/* Copies PIECE bytes from rank r's slot at off; 0 and the bytes are right, else the copy's status (or 1: wrong bytes). */
static int32_t read_rank(uint32_t r, uint64_t off, int idx)
{
    smem_copy_params p = {.src = (uint8_t *)smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)r) + off,
                          .dest = g_buf, .dataSize = PIECE};
    int32_t rc = smem_bm_copy(g_h, &p, SMEMB_COPY_G2H, 0);
    if (rc != 0) return rc;
    const uint64_t *w = (const uint64_t *)g_buf;
    for (uint64_t i = 0; i < PIECE / 8; i++)
        if (w[i] != pat(r, off + i * 8)) {
            ctl->wrong[idx]++;
            fprintf(stderr, "child %d: rank %u offset %llu: wrong bytes\n", idx, r, (unsigned long long)(off + i * 8));
            return 1;
        }
    return 0;
}

static int child(int idx)
{
    if (idx == 3)
        while (ctl->phase < 3) usleep(10000);
    smem_bm_config_t c;
    smem_bm_config_init(&c);
    c.initTimeout = c.createTimeout = 30;
    c.controlOperationTimeout = 10;
    c.startConfigStoreServer = false;
    int32_t rc = smem_bm_init(g_url, WORLD, 0, &c);
    TU_CHECK(rc == 0, "child %d: init: %d %s", idx, rc, smem_get_last_err_msg());
    if (rc != 0) return tu_summary();
    uint32_t me = smem_bm_get_rank_id();
    ctl->rank[idx] = (int)me;
    g_h = smem_bm_create(3, WORLD, SMEMB_DATA_OP_SDMA, LOCAL, 0, 0);
    TU_CHECK(g_h != NULL, "child %d: create: %s", idx, smem_get_last_err_msg());
    if (g_h == NULL) return tu_summary();
    rc = smem_bm_join(g_h, 0);
    TU_CHECK(rc == 0, "child %d: join: %d %s", idx, rc, smem_get_last_err_msg());
    if (rc != 0) return tu_summary();
    uint64_t *w = (uint64_t *)smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)me);
    for (uint64_t i = 0; i < LOCAL / 8; i++) w[i] = pat(me, i * 8);
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

static bool wait_all(volatile int *flags, const int *which, int n, int ms)
{
    uint64_t end = util_now_ms() + (uint64_t)ms;
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++) all = all && flags[which[i]];
        if (all) return true;
        if (util_now_ms() >= end) return false;
        usleep(10000);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED) return 1;
    memset((void *)ctl, 0, sizeof(*ctl));
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
    pid_t kids[NCHILD];
    for (int i = 0; i < NCHILD; i++) {
        kids[i] = fork();
        if (kids[i] == 0) _exit(child(i));
    }
    const int first[] = {0, 1, 2};
    TU_CHECK(wait_all(ctl->ready, first, 3, 40000), "three members up and reading each other");
    TU_CHECK(ctl->rank[0] != ctl->rank[1] && ctl->rank[1] != ctl->rank[2] && ctl->rank[0] != ctl->rank[2],
             "distinct ranks %d %d %d", ctl->rank[0], ctl->rank[1], ctl->rank[2]);

    /* The store dies; a member dies while nobody can hear it; the store comes back. */
    kill(store, SIGKILL);
    tu_wait_pid(store, 5000, NULL);
    kill(kids[2], SIGKILL);
    tu_wait_pid(kids[2], 5000, NULL);
    kids[2] = -1;
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
    for (int i = 0; i < NCHILD; i++) {
        if (kids[i] < 0) continue;
        int st = 0;
        bool ok = tu_wait_pid(kids[i], 30000, &st) == 0;
        if (!ok) kill(kids[i], SIGKILL);
        TU_CHECK(ok && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d exits cleanly (status %d)", i, st);
    }
    int wrong = 0;
    for (int i = 0; i < NCHILD; i++) wrong += ctl->wrong[i];
    TU_CHECK(wrong == 0, "no wrong bytes (%d)", wrong);
    tu_stop_pid(store, 5000);
    return tu_summary();
}
