/*
 * it.netns_trans: Trans between two simulated hosts. A SENDER instance in
 * namespace host 0 and a RECEIVER in host 1 (unique ids "<veth ip>:5000");
 * the config store (smem-store) runs in the bridge's namespace. Nothing
 * leaves the namespaces (tests/testutil/netns.h).
 *
 * Phases (driven by the parent through shared memory):
 *   1 receiver: A = smem_trans_malloc(16 MiB) with a pattern, B (12 MiB,
 *     user memory) registered; sender created
 *   2 sender: reads of A (1 B .. 7 MiB, odd sizes), a write into B, a
 *     122-piece batch write (61 x 128 KiB + 61 x 16 KiB, scattered) into B and
 *     a 122-piece batch read from A; the same through a stream (*_submit +
 *     smem_trans_stream_wait); bad requests fail cleanly (outside registered
 *     memory, an unknown peer, a RECEIVER exposing nothing)
 *   3 receiver checks B, then registers C (after the sender has connected and
 *     transferred) and batch-registers D0, D1
 *   4 sender reads and writes C and D0/D1 at once - no sleep, no retry
 *   5 receiver checks C, D0, D1; deregisters B
 *   6 sender: every transfer touching B fails (sync, batch, stream), A and C
 *     still work
 *   7 receiver: B was not written by the failed transfers; registers B again
 *   8 sender: B is reachable again (read and write)
 *   9 receiver checks that write; destroys its instance
 *  10 sender: transfers to the receiver fail within the timeout
 * Skips (exit 0) without root.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"
#include "smem/host/smem_trans.h"
#include "testutil.h"
#include "tu_bm.h"
#include "tu_data.h"
#include "util/util_time.h"
#include "util/util_tsan.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define A_LEN (16 * MiB)
#define B_LEN (12 * MiB)
#define C_LEN (4 * MiB)
#define D_LEN MiB
#define NPIECES 122
#define PACKED_LEN (61 * (128 + 16) * KiB)
#define BATCH_GAP (4 * KiB)
#define BATCH_DST_OFF MiB /* in B */
#define SUBMIT_OFF (11 * MiB) /* in B */
#define TIMEOUT_S 3
#define PHASE_MS 60000
#define STORE_PORT "7100"

enum { SENDER = 0, RECEIVER = 1, NPROC = 2 };

struct ctl {
    volatile int phase;
    volatile int mark[NPROC];
    volatile uint64_t a, b, c, d0, d1; /* the receiver's addresses */
    int passed[NPROC];
    int failed[NPROC];
};

static struct ctl *ctl;
static char g_url[64];
static char g_id[NPROC][64];
static tn_net_t *g_net;
static int me;

/* ---------- patterns (tu_fill / tu_check, byte-exact at any offset) and the block layout ---------- */

static bool check(const void *buf, uint32_t tag, uint64_t off0, uint64_t len)
{
    return tu_check(buf, tag, off0, len, me ? "receiver" : "sender");
}

/* 61 x 128 KiB + 61 x 16 KiB, interleaved: packed (src_off) at one end, gapped and shuffled (dst_off) at the other. */
_Static_assert(NPIECES == TU_KV_PIECES, "the block layout has 122 pieces");
static tu_piece_t g_pieces[NPIECES];

static void make_pieces(void) { tu_kv_layout(g_pieces, 128 * KiB, 16 * KiB, BATCH_GAP, true); }

/* ---------- coordination ---------- */

static void mark(int phase)
{
    ctl->passed[me] = tu_passed;
    ctl->failed[me] = tu_failed;
    __atomic_store_n(&ctl->mark[me], phase, __ATOMIC_RELEASE);
}

static bool await_phase(int phase)
{
    uint64_t end = util_now_ms() + PHASE_MS * 2;
    while (__atomic_load_n(&ctl->phase, __ATOMIC_ACQUIRE) < phase) {
        if (util_now_ms() > end) {
            TU_CHECK(0, "%d: phase %d never started", me, phase);
            return false;
        }
        usleep(1000);
    }
    util_tsan_remote_seen(); /* the phase says peers finished their writes into our memory */
    return true;
}

static smem_trans_t create(smem_trans_role_t role) { return tu_trans_up(g_url, g_id[me], role, TIMEOUT_S); }

/* ---------- receiver ---------- */

static int receiver(void)
{
    smem_trans_t h = create(SMEM_TRANS_RECEIVER);
    if (h == NULL) return 1;
    uint8_t *a = smem_trans_malloc(h, A_LEN);
    TU_CHECK(a != NULL, "receiver: smem_trans_malloc: %s", smem_get_last_err_msg());
    uint8_t *b = aligned_alloc(4096, B_LEN);
    if (a == NULL || b == NULL) return 1;
    tu_fill(a, 1, 0, A_LEN);
    memset(b, 0, B_LEN);
    int32_t rc = smem_trans_register_mem(h, b, B_LEN, 0);
    TU_CHECK(rc == 0, "receiver: register B: %d %s", rc, smem_get_last_err_msg());
    TU_CHECK(smem_trans_register_mem(h, b, B_LEN, 0) == 0, "receiver: registering B again is a no-op");
    TU_CHECK(smem_trans_register_mem(h, b + MiB, MiB, 0) == SMEM_ERR_ADDR_CONFLICT, "receiver: overlap with B");
    ctl->a = (uint64_t)(uintptr_t)a;
    ctl->b = (uint64_t)(uintptr_t)b;
    mark(1);

    if (!await_phase(3)) return 1;
    TU_CHECK(check(b, 2, 0, MiB), "receiver: single write into B");
    bool ok = true;
    for (uint32_t i = 0; i < NPIECES && ok; i++)
        ok = check(b + BATCH_DST_OFF + g_pieces[i].dst_off, 3, g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok, "receiver: 122-piece batch write into B");
    TU_CHECK(check(b + SUBMIT_OFF, 4, 0, 512 * KiB), "receiver: submitted write into B");
    TU_CHECK(check(b + SUBMIT_OFF + 512 * KiB, 8, 0, 256 * KiB), "receiver: submitted batch write into B");
    /* a RECEIVER initiates nothing */
    rc = smem_trans_write(h, a, g_id[SENDER], (void *)(uintptr_t)0x10000, 64, 0);
    TU_CHECK(rc != 0, "receiver: a RECEIVER's write succeeded");
    /* new memory after the peer connected and transferred */
    uint8_t *c = aligned_alloc(4096, C_LEN);
    uint8_t *d0 = aligned_alloc(4096, D_LEN), *d1 = aligned_alloc(4096, D_LEN);
    if (c == NULL || d0 == NULL || d1 == NULL) return 1;
    tu_fill(c, 5, 0, C_LEN);
    tu_fill(d0, 9, 0, D_LEN);
    tu_fill(d1, 10, 0, D_LEN);
    rc = smem_trans_register_mem(h, c, C_LEN, 0);
    TU_CHECK(rc == 0, "receiver: register C: %d %s", rc, smem_get_last_err_msg());
    void *dv[2] = {d0, d1};
    size_t ds[2] = {D_LEN, D_LEN};
    rc = smem_trans_batch_register_mem(h, dv, ds, 2, 0);
    TU_CHECK(rc == 0, "receiver: batch register D0, D1: %d %s", rc, smem_get_last_err_msg());
    ctl->c = (uint64_t)(uintptr_t)c;
    ctl->d0 = (uint64_t)(uintptr_t)d0;
    ctl->d1 = (uint64_t)(uintptr_t)d1;
    mark(3);

    if (!await_phase(5)) return 1;
    TU_CHECK(check(c + MiB, 6, 0, 512 * KiB) && check(c, 5, 0, MiB) && check(c + MiB + 512 * KiB, 5, MiB + 512 * KiB, 512 * KiB),
             "receiver: write into C");
    TU_CHECK(check(d0, 11, 0, 64 * KiB) && check(d1 + 64 * KiB, 11, 64 * KiB, 64 * KiB) &&
                 check(d0 + 64 * KiB, 9, 64 * KiB, 64 * KiB) && check(d1, 10, 0, 64 * KiB),
             "receiver: batch write into D0 and D1");
    rc = smem_trans_deregister_mem(h, b);
    TU_CHECK(rc == 0, "receiver: deregister B: %d %s", rc, smem_get_last_err_msg());
    TU_CHECK(smem_trans_deregister_mem(h, b) == SMEM_ERR_OBJECT_NOT_EXISTS, "receiver: deregister B twice");
    mark(5);

    if (!await_phase(7)) return 1;
    /* the failed writes of phase 6 (tag 7) left B as it was */
    TU_CHECK(check(b, 2, 0, MiB), "receiver: B changed after it was deregistered");
    TU_CHECK(check(b + SUBMIT_OFF, 4, 0, 512 * KiB), "receiver: B changed after it was deregistered (stream)");
    /* the same range again: reachable again */
    rc = smem_trans_register_mem(h, b, B_LEN, 0);
    TU_CHECK(rc == 0, "receiver: register B again: %d %s", rc, smem_get_last_err_msg());
    mark(7);

    if (!await_phase(9)) return 1;
    TU_CHECK(check(b + 2 * MiB, 12, 0, 64 * KiB), "receiver: write into re-registered B");
    smem_trans_destroy(h, 0);
    smem_trans_uninit(0);
    free(b);
    free(c);
    free(d0);
    free(d1);
    mark(9);
    return 0;
}

/* ---------- sender ---------- */

static int32_t wr(smem_trans_t h, const void *local, uint64_t remote, size_t n)
{
    return smem_trans_write(h, local, g_id[RECEIVER], (void *)(uintptr_t)remote, n, 0);
}

static int32_t rd(smem_trans_t h, void *local, uint64_t remote, size_t n)
{
    return smem_trans_read(h, local, g_id[RECEIVER], (const void *)(uintptr_t)remote, n, 0);
}

static void sender_phase2(smem_trans_t h, uint8_t *buf)
{
    static const uint64_t sizes[] = {1, 4095, MiB, 7 * MiB + 3};
    for (uint32_t z = 0; z < 4; z++) {
        uint64_t off = 777 + z * 2 * MiB;
        memset(buf, 0, sizes[z] + 8);
        int32_t rc = rd(h, buf, ctl->a + off, sizes[z]);
        TU_CHECK(rc == 0 && check(buf, 1, off, sizes[z]) && buf[sizes[z]] == 0, "sender: read %llu B of A: %d %s",
                 (unsigned long long)sizes[z], rc, smem_get_last_err_msg());
    }
    tu_fill(buf, 2, 0, MiB);
    int32_t rc = wr(h, buf, ctl->b, MiB);
    TU_CHECK(rc == 0, "sender: write into B: %d %s", rc, smem_get_last_err_msg());

    /* 122-piece batch write: packed here, scattered into B */
    const void *lsrc[NPIECES];
    void *ldst[NPIECES], *rdst[NPIECES];
    const void *rsrc[NPIECES];
    size_t lens[NPIECES];
    tu_fill(buf, 3, 0, PACKED_LEN);
    for (uint32_t i = 0; i < NPIECES; i++) {
        lsrc[i] = buf + g_pieces[i].src_off;
        rdst[i] = (void *)(uintptr_t)(ctl->b + BATCH_DST_OFF + g_pieces[i].dst_off);
        lens[i] = g_pieces[i].len;
    }
    rc = smem_trans_batch_write(h, lsrc, g_id[RECEIVER], rdst, lens, NPIECES, 0);
    TU_CHECK(rc == 0, "sender: batch write: %d %s", rc, smem_get_last_err_msg());
    /* 122-piece batch read: packed in A, scattered here */
    uint8_t *in = buf + 10 * MiB;
    memset(in, 0, 10 * MiB);
    for (uint32_t i = 0; i < NPIECES; i++) {
        rsrc[i] = (const void *)(uintptr_t)(ctl->a + 5 * MiB + g_pieces[i].src_off);
        ldst[i] = in + g_pieces[i].dst_off;
    }
    rc = smem_trans_batch_read(h, ldst, g_id[RECEIVER], rsrc, lens, NPIECES, 0);
    bool ok = rc == 0;
    for (uint32_t i = 0; i < NPIECES && ok; i++)
        ok = check(in + g_pieces[i].dst_off, 1, 5 * MiB + g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok, "sender: batch read: %d %s", rc, smem_get_last_err_msg());

    /* the same through a stream */
    void *stream = NULL;
    rc = smem_trans_stream_create(h, &stream);
    TU_CHECK(rc == 0 && stream != NULL, "sender: stream: %d %s", rc, smem_get_last_err_msg());
    if (stream == NULL) return;
    uint8_t *w1 = buf + 20 * MiB, *w2 = buf + 21 * MiB, *in2 = buf + 22 * MiB;
    tu_fill(w1, 4, 0, 512 * KiB);
    tu_fill(w2, 8, 0, 256 * KiB);
    memset(in2, 0, 10 * MiB);
    rc = smem_trans_write_submit(h, w1, g_id[RECEIVER], (void *)(uintptr_t)(ctl->b + SUBMIT_OFF), 512 * KiB, stream, 0);
    TU_CHECK(rc == 0, "sender: write_submit: %d %s", rc, smem_get_last_err_msg());
    const void *ws[4];
    void *wd[4];
    size_t wl[4];
    for (uint32_t i = 0; i < 4; i++) { /* four 64 KiB pieces, in reverse order */
        ws[i] = w2 + (3 - i) * 64 * KiB;
        wd[i] = (void *)(uintptr_t)(ctl->b + SUBMIT_OFF + 512 * KiB + (3 - i) * 64 * KiB);
        wl[i] = 64 * KiB;
    }
    rc = smem_trans_batch_write_submit(h, ws, g_id[RECEIVER], wd, wl, 4, stream, 0);
    TU_CHECK(rc == 0, "sender: batch_write_submit: %d %s", rc, smem_get_last_err_msg());
    for (uint32_t i = 0; i < NPIECES; i++) ldst[i] = in2 + g_pieces[i].dst_off;
    rc = smem_trans_batch_read_submit(h, ldst, g_id[RECEIVER], rsrc, lens, NPIECES, stream, 0);
    TU_CHECK(rc == 0, "sender: batch_read_submit: %d %s", rc, smem_get_last_err_msg());
    uint8_t *one = buf + 21 * MiB + 512 * KiB;
    rc = smem_trans_read_submit(h, one, g_id[RECEIVER], (const void *)(uintptr_t)(ctl->a + 3), 4096, stream, 0);
    TU_CHECK(rc == 0, "sender: read_submit: %d %s", rc, smem_get_last_err_msg());
    rc = smem_trans_stream_wait(stream, 20000);
    TU_CHECK(rc == 0, "sender: stream_wait: %d %s", rc, smem_get_last_err_msg());
    ok = true;
    for (uint32_t i = 0; i < NPIECES && ok; i++)
        ok = check(in2 + g_pieces[i].dst_off, 1, 5 * MiB + g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok && check(one, 1, 3, 4096), "sender: data read through the stream");

    /* bad requests: an error each, nothing crashes */
    rc = rd(h, buf, ctl->a + A_LEN - 100, 200); /* runs past A's end */
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "sender: read past A: %d %s", rc, smem_get_last_err_msg());
    rc = wr(h, buf, (uint64_t)(uintptr_t)ctl, 64); /* the shared control page: mapped there, never registered */
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "sender: write into unregistered memory: %d %s", rc, smem_get_last_err_msg());
    rc = smem_trans_read(h, buf, "10.201.99.99:1", (const void *)(uintptr_t)ctl->a, 64, 0);
    TU_CHECK(rc == SMEM_ERR_OBJECT_NOT_EXISTS, "sender: unknown peer: %d %s", rc, smem_get_last_err_msg());
    rc = smem_trans_write_submit(h, buf, g_id[RECEIVER], (void *)(uintptr_t)(ctl->a + A_LEN), 64, stream, 0);
    int32_t w = smem_trans_stream_wait(stream, 20000);
    TU_CHECK(rc != 0 || w != 0, "sender: submitted write past A: %d, wait %d", rc, w);
    TU_CHECK(smem_trans_stream_wait(stream, 20000) == 0, "sender: stream error was not reset by the wait");
    smem_trans_stream_destroy(stream);
}

static void sender_phase4(smem_trans_t h, uint8_t *buf)
{
    /* C was registered after we connected: usable at once */
    memset(buf, 0, C_LEN);
    uint64_t t0 = util_now_ns() / 1000;
    int32_t rc = rd(h, buf, ctl->c, C_LEN);
    uint64_t us = util_now_ns() / 1000 - t0;
    TU_CHECK(rc == 0 && check(buf, 5, 0, C_LEN), "sender: read of newly registered C: %d %s", rc,
             smem_get_last_err_msg());
    fprintf(stderr, "sender: first read of newly registered memory: %d after %llu us\n", rc, (unsigned long long)us);
    tu_fill(buf, 6, 0, 512 * KiB);
    rc = wr(h, buf, ctl->c + MiB, 512 * KiB);
    TU_CHECK(rc == 0, "sender: write into C: %d %s", rc, smem_get_last_err_msg());
    /* one batch over both batch-registered buffers */
    const void *src[2] = {buf + MiB, buf + MiB + 64 * KiB};
    void *dst[2] = {(void *)(uintptr_t)ctl->d0, (void *)(uintptr_t)(ctl->d1 + 64 * KiB)};
    size_t lens[2] = {64 * KiB, 64 * KiB};
    tu_fill(buf + MiB, 11, 0, 128 * KiB);
    rc = smem_trans_batch_write(h, src, g_id[RECEIVER], dst, lens, 2, 0);
    TU_CHECK(rc == 0, "sender: batch write into D0 + D1: %d %s", rc, smem_get_last_err_msg());
}

static void sender_phase6(smem_trans_t h, uint8_t *buf)
{
    /* B is gone: reads, writes, batches touching it and streamed writes fail */
    tu_fill(buf, 7, 0, MiB);
    int32_t rc = rd(h, buf + 2 * MiB, ctl->b, 4096);
    TU_CHECK(rc != 0, "sender: read of deregistered B succeeded");
    rc = wr(h, buf, ctl->b, MiB);
    TU_CHECK(rc != 0, "sender: write into deregistered B succeeded");
    const void *src[2] = {buf, buf + 4096};
    void *dst[2] = {(void *)(uintptr_t)(ctl->c + 3 * MiB), (void *)(uintptr_t)(ctl->b + 8192)};
    size_t lens[2] = {4096, 4096};
    rc = smem_trans_batch_write(h, src, g_id[RECEIVER], dst, lens, 2, 0);
    TU_CHECK(rc != 0, "sender: batch write with a piece in deregistered B succeeded");
    void *stream = NULL;
    if (smem_trans_stream_create(h, &stream) == 0) {
        rc = smem_trans_write_submit(h, buf, g_id[RECEIVER], (void *)(uintptr_t)(ctl->b + SUBMIT_OFF), 4096, stream, 0);
        int32_t w = smem_trans_stream_wait(stream, 20000);
        TU_CHECK(rc != 0 || w != 0, "sender: streamed write into deregistered B succeeded");
        smem_trans_stream_destroy(stream);
    }
    /* the rest is untouched */
    memset(buf, 0, MiB);
    rc = rd(h, buf, ctl->a + 9 * MiB, MiB);
    TU_CHECK(rc == 0 && check(buf, 1, 9 * MiB, MiB), "sender: A after B went: %d %s", rc, smem_get_last_err_msg());
    rc = rd(h, buf, ctl->c + MiB, 512 * KiB);
    TU_CHECK(rc == 0 && check(buf, 6, 0, 512 * KiB), "sender: C after B went: %d %s", rc, smem_get_last_err_msg());
}

static int sender(void)
{
    smem_trans_t h = create(SMEM_TRANS_SENDER);
    if (h == NULL) return 1;
    uint8_t *buf = aligned_alloc(4096, 32 * MiB);
    if (buf == NULL) return 1;
    mark(1);
    if (!await_phase(2)) return 1;
    sender_phase2(h, buf);
    mark(2);
    if (!await_phase(4)) return 1;
    sender_phase4(h, buf);
    mark(4);
    if (!await_phase(6)) return 1;
    sender_phase6(h, buf);
    mark(6);
    if (!await_phase(8)) return 1;
    /* B registered again: reachable again (a stale tombstone must not hide it) */
    memset(buf, 0, MiB);
    int32_t rc = rd(h, buf, ctl->b, MiB);
    TU_CHECK(rc == 0 && check(buf, 2, 0, MiB), "sender: read of re-registered B: %d %s", rc, smem_get_last_err_msg());
    tu_fill(buf, 12, 0, 64 * KiB);
    rc = wr(h, buf, ctl->b + 2 * MiB, 64 * KiB);
    TU_CHECK(rc == 0, "sender: write into re-registered B: %d %s", rc, smem_get_last_err_msg());
    mark(8);
    if (!await_phase(10)) return 1;
    /* the receiver is gone: an error, within the timeout */
    uint64_t t0 = util_now_ms();
    rc = rd(h, buf, ctl->a, MiB);
    uint64_t took = util_now_ms() - t0;
    TU_CHECK(rc != 0 && took <= TIMEOUT_S * 1000 + 2000, "sender: read from the destroyed receiver: %d after %llu ms",
             rc, (unsigned long long)took);
    fprintf(stderr, "sender: read from the destroyed receiver: %d after %llu ms (%s)\n", rc, (unsigned long long)took,
            smem_get_last_err_msg());
    smem_trans_destroy(h, 0);
    smem_trans_uninit(0);
    free(buf);
    mark(10);
    return 0;
}

/* ---------- parent ---------- */

static pid_t g_pid[NPROC];

static int run_child(void *arg)
{
    me = (int)(intptr_t)arg;
    /* The Trans secret comes from a plaintext store on a namespace address, so it is not private and Trans
     * has no TLS of its own on the data channel: beyond loopback only when allowed. */
    setenv("SMEM_ALLOW_INSECURE", "1", 1);
    make_pieces();
    int rc = me == SENDER ? sender() : receiver();
    ctl->passed[me] = tu_passed;
    ctl->failed[me] = tu_failed + (rc != 0);
    return rc;
}

static bool await_mark(int who, int phase)
{
    uint64_t end = util_now_ms() + PHASE_MS;
    while (__atomic_load_n(&ctl->mark[who], __ATOMIC_ACQUIRE) < phase) {
        int st;
        if (tn_wait(g_net, g_pid[who], 0, &st) == 0) {
            g_pid[who] = 0;
            TU_CHECK(0, "%s exited (0x%x) before finishing phase %d", who ? "receiver" : "sender", st, phase);
            return false;
        }
        if (util_now_ms() > end) {
            TU_CHECK(0, "%s hung in phase %d", who ? "receiver" : "sender", phase);
            return false;
        }
        usleep(1000);
    }
    return true;
}

int main(void)
{
    if (!tn_require("it.netns_trans")) return 0;
    ctl = tu_shared(sizeof(*ctl));
    if (ctl == NULL) return 1;
    tn_opts_t o = {.hosts = 2};
    char err[512];
    if (tn_net_create(&o, &g_net, err, sizeof(err)) != 0) {
        TU_CHECK(0, "network namespaces: %s", err);
        return tu_summary();
    }
    char bin[4096], listen[64];
    snprintf(bin, sizeof(bin), "%s/smem-store", tu_build_dir());
    snprintf(listen, sizeof(listen), "tcp://%s:%s", tn_addr(g_net, TN_HUB), STORE_PORT);
    char *argv[] = {bin, "--listen", listen, "--keepalive-ms", "2000", "--log-level", "2", "--allow-insecure", NULL};
    int fd = -1;
    char line[256] = "";
    pid_t store = tn_spawn(g_net, TN_HUB, argv, &fd);
    if (store < 0 || tu_read_line(fd, line, sizeof(line), 10000) < 0 || strstr(line, "listening on") == NULL) {
        TU_CHECK(0, "smem-store did not start in %s: %s", tn_ns_name(g_net, TN_HUB), line);
        tn_net_destroy(g_net);
        return tu_summary();
    }
    close(fd);
    snprintf(g_url, sizeof(g_url), "%s", listen);
    for (int i = 0; i < NPROC; i++) snprintf(g_id[i], sizeof(g_id[i]), "%s:5000", tn_addr(g_net, (uint32_t)i));

    uint64_t t0 = util_now_ms();
    for (int i = 0; i < NPROC; i++) g_pid[i] = tn_run(g_net, (uint32_t)i, run_child, (void *)(intptr_t)i);
    bool ok = await_mark(SENDER, 1) && await_mark(RECEIVER, 1);
    static const int who[] = {0, 0, SENDER, RECEIVER, SENDER, RECEIVER, SENDER, RECEIVER, SENDER, RECEIVER, SENDER};
    for (int ph = 2; ok && ph <= 10; ph++) {
        __atomic_store_n(&ctl->phase, ph, __ATOMIC_RELEASE);
        ok = await_mark(who[ph], ph);
    }
    __atomic_store_n(&ctl->phase, 11, __ATOMIC_RELEASE);
    for (int i = 0; i < NPROC; i++) {
        if (g_pid[i] == 0) continue;
        int st = 0;
        if (tn_wait(g_net, g_pid[i], ok ? 20000 : 0, &st) != 0) {
            tn_kill(g_net, g_pid[i]);
            TU_CHECK(!ok, "%s did not exit", i ? "receiver" : "sender");
            continue;
        }
        TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s exit status 0x%x", i ? "receiver" : "sender", st);
    }
    for (int i = 0; i < NPROC; i++) {
        tu_passed += ctl->passed[i];
        tu_failed += ctl->failed[i];
    }
    TU_CHECK(tu_passed >= 40, "only %d checks ran", tu_passed);
    fprintf(stderr, "total %.1f s\n", (util_now_ms() - t0) / 1000.0);
    tn_net_destroy(g_net);
    return tu_summary();
}
