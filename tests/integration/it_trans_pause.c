/*
 * it.trans_pause: a Trans receiver paused past the config store's keepalive
 * (SIGSTOP 6 s; the store declares it dead at 4 s and peers drop it) comes
 * back: it reclaims its rank and publishes its instance and region records
 * again, and the sender reaches it again with the right bytes. On the old
 * code the receiver's rank was lost for good and the sender never found it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smem/host/smem_trans.h"
#include "testutil.h"
#include "tu_bm.h"
#include "tu_data.h"
#include "util/util_time.h"

#define R_ID "127.0.0.1:7201"
#define S_ID "127.0.0.1:7202"
#define LEN (256u << 10)

struct ctl {
    volatile int ready, first_ok, resumed, done;
    volatile uint64_t raddr;
    volatile uint64_t back_ms;
};
static struct ctl *ctl;
static char g_url[128];

static smem_trans_t make(const char *id, smem_trans_role_t role) { return tu_trans_up(g_url, id, role, 10); }

static int receiver(void)
{
    smem_trans_t h = make(R_ID, SMEM_TRANS_RECEIVER);
    if (h == NULL) return 1;
    uint8_t *buf = smem_trans_malloc(h, LEN);
    TU_CHECK(buf != NULL, "malloc: %s", smem_get_last_err_msg());
    if (buf == NULL) return 1;
    tu_fill(buf, 77, 0, LEN);
    ctl->raddr = (uint64_t)(uintptr_t)buf;
    ctl->ready = 1;
    while (!ctl->done) usleep(10000); /* the parent stops and resumes us meanwhile */
    smem_trans_destroy(h, 0);
    smem_trans_uninit(0);
    return 0;
}

static int sender(void)
{
    smem_trans_t h = make(S_ID, SMEM_TRANS_SENDER);
    if (h == NULL) return 1;
    while (!ctl->ready) usleep(5000);
    uint8_t *out = malloc(LEN);
    int32_t rc = smem_trans_read(h, out, R_ID, (void *)(uintptr_t)ctl->raddr, LEN, 0);
    TU_CHECK(rc == 0 && tu_check(out, 77, 0, LEN, "before"), "read before the pause: %d %s", rc,
             smem_get_last_err_msg());
    ctl->first_ok = 1;
    while (!ctl->resumed) usleep(5000);
    uint64_t t0 = util_now_ms();
    rc = -1;
    while (util_now_ms() - t0 < 15000) {
        memset(out, 0, LEN);
        rc = smem_trans_read(h, out, R_ID, (void *)(uintptr_t)ctl->raddr, LEN, 0);
        if (rc == 0) break;
        usleep(50000);
    }
    ctl->back_ms = util_now_ms() - t0;
    TU_CHECK(rc == 0, "read after the resume within 15 s: %d %s", rc, smem_get_last_err_msg());
    TU_CHECK(rc != 0 || tu_check(out, 77, 0, LEN, "after"), "the receiver's bytes after the resume");
    ctl->done = 1;
    free(out);
    smem_trans_destroy(h, 0);
    smem_trans_uninit(0);
    return 0;
}

static int child(int idx, void *arg)
{
    (void)arg;
    return idx == 0 ? receiver() : sender();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    ctl = tu_shared(sizeof(*ctl));
    pid_t store;
    if (ctl == NULL || tu_store_start(NULL, &store, g_url, sizeof(g_url)) != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    tu_kids_t kids; /* the receiver (0) and the sender (1) */
    if (tu_kids_start(&kids, 2, child, NULL) != 0) ctl->done = 1;
    uint64_t end = util_now_ms() + 30000;
    while (!ctl->first_ok && util_now_ms() < end) usleep(10000);
    TU_CHECK(ctl->first_ok, "the sender read the receiver before the pause");
    if (kids.n > 0) {
        kill(kids.pid[0], SIGSTOP); /* past the store's 4 s keepalive */
        usleep(6000 * 1000);
        kill(kids.pid[0], SIGCONT);
    }
    ctl->resumed = 1;
    tu_kids_wait(&kids, 60000);
    printf("the sender reached the resumed receiver after %llu ms\n", (unsigned long long)ctl->back_ms);
    tu_stop_pid(store, 5000);
    return tu_summary();
}
