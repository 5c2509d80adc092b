/*
 * it.bm_8proc: 8 processes share one BM host pool on one host.
 *
 * The parent picks a free loopback port and forks the ranks before any thread
 * exists; each child calls smem_bm_init itself with startConfigStoreServer,
 * so exactly one of them wins the race and serves the store (the others just
 * connect). Ranks are assigned by the store. Each rank's 32 MiB slot:
 *   [0, 10 MiB)   pattern region: written by its owner, read by everyone
 *   [10, 14 MiB)  mailbox: 8 areas of 512 KiB, area w written by rank w with
 *                 H2G, H2GH, AUTO and G2G (128 KiB each)
 *   [16, 28 MiB)  batch inbox: written by the left neighbour with one batch
 *                 of 122 scattered pieces (61 x 128 KiB + 61 x 16 KiB)
 * Every rank checks every other rank's pattern by dereferencing the GVA and
 * with G2H, GH2H and AUTO copies; batches of 122 pieces go to and come from
 * peers (one from a single peer, one spread over all peers); async copies
 * (single and batch) complete with smem_bm_wait. Phases are separated by store
 * barriers on a second store connection.
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
#include "store/store.h"
#include "testutil.h"
#include "tu_data.h"
#include "util/util_time.h"

#define NRANKS 8
#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define LOCAL (32 * MiB)
#define PAT_OFF 0
#define PAT_LEN (10 * MiB)
#define MAIL_OFF (10 * MiB)
#define MAIL_AREA (512 * KiB)
#define MAIL_PART (128 * KiB)
#define BATCH_OFF (16 * MiB)
#define NPIECES 122
#define BIG_PIECE (128 * KiB)
#define SMALL_PIECE (16 * KiB)
#define BATCH_GAP (4 * KiB)
#define PHASE_MS 60000

struct ctl {
    int passed[NRANKS];
    int failed[NRANKS];
};

static struct ctl *ctl;
static char g_url[64];
static smem_bm_t g_h;
static uint32_t me;
static store_client_t *g_sync;

#define fill tu_fill

static bool check(const void *buf, uint32_t tag, uint64_t off0, uint64_t len)
{
    char who[32];
    snprintf(who, sizeof(who), "rank %u", me);
    return tu_check(buf, tag, off0, len, who);
}

static uint8_t *slot(uint32_t r) { return smem_bm_ptr_by_mem_type(g_h, SMEM_MEM_TYPE_HOST, (uint16_t)r); }

static int32_t copy1(const void *src, void *dst, size_t n, smem_bm_copy_type t, uint32_t flags)
{
    smem_copy_params p = {.src = src, .dest = dst, .dataSize = n};
    return smem_bm_copy(g_h, &p, t, flags);
}

static bool barrier(const char *name)
{
    int32_t rc = store_barrier(g_sync, name, NRANKS, me, PHASE_MS);
    TU_CHECK(rc == 0, "rank %u: barrier %s: %d", me, name, rc);
    return rc == 0;
}

/* A peer joining after our snapshot is imported in the background: poll until it is. */
static bool wait_visible(uint32_t r)
{
    uint64_t word, end = util_now_ms() + 20000;
    int32_t rc;
    do {
        rc = copy1(slot(r), &word, sizeof(word), SMEMB_COPY_G2H, 0);
        if (rc == 0) return true;
        usleep(5000);
    } while (util_now_ms() < end);
    fprintf(stderr, "rank %u: rank %u never became visible: %d %s\n", me, r, rc, smem_get_last_err_msg());
    return false;
}

/* Piece j: size, offset in a packed source layout (order A) and in a gapped destination layout (order B). */
_Static_assert(NPIECES == TU_KV_PIECES, "the block layout has 122 pieces");
static tu_piece_t g_pieces[NPIECES];

static void make_pieces(void) { tu_kv_layout(g_pieces, BIG_PIECE, SMALL_PIECE, BATCH_GAP, false); }

static int32_t batch(void **src, void **dst, smem_bm_copy_type t, uint32_t flags)
{
    uint64_t lens[NPIECES];
    for (uint32_t i = 0; i < NPIECES; i++) lens[i] = g_pieces[i].len;
    smem_batch_copy_params p = {.sources = src, .destinations = dst, .dataSizes = lens, .batchSize = NPIECES};
    return smem_bm_copy_batch(g_h, &p, t, flags);
}

static void phase_read(uint8_t *buf)
{
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        TU_CHECK(check(slot(p) + PAT_OFF, p, 0, PAT_LEN), "rank %u: deref of rank %u's pattern", me, p);
        static const smem_bm_copy_type types[] = {SMEMB_COPY_G2H, SMEMB_COPY_GH2H, SMEMB_COPY_AUTO};
        for (uint32_t k = 0; k < 3; k++) {
            uint64_t off = (p * 3 + k) * 256 * KiB;
            memset(buf, 0, 2 * MiB);
            int32_t rc = copy1(slot(p) + off, buf, 2 * MiB, types[k], 0);
            TU_CHECK(rc == 0 && check(buf, p, off, 2 * MiB), "rank %u: type %d from rank %u: %d %s", me, types[k], p,
                     rc, smem_get_last_err_msg());
        }
    }
}

static void phase_mail_write(uint8_t *buf)
{
    static const smem_bm_copy_type types[] = {SMEMB_COPY_H2G, SMEMB_COPY_H2GH, SMEMB_COPY_AUTO};
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        uint8_t *area = slot(p) + MAIL_OFF + me * MAIL_AREA;
        for (uint32_t k = 0; k < 3; k++) {
            fill(buf, 100 + me * 16 + p, k * MAIL_PART, MAIL_PART);
            int32_t rc = copy1(buf, area + k * MAIL_PART, MAIL_PART, types[k], 0);
            TU_CHECK(rc == 0, "rank %u: type %d into rank %u: %d %s", me, types[k], p, rc, smem_get_last_err_msg());
        }
        /* G2G: from our own pattern region straight into the peer's slot. */
        int32_t rc = copy1(slot(me) + p * MAIL_PART, area + 3 * MAIL_PART, MAIL_PART, SMEMB_COPY_G2G, 0);
        TU_CHECK(rc == 0, "rank %u: G2G into rank %u: %d %s", me, p, rc, smem_get_last_err_msg());
    }
}

static void phase_mail_check(void)
{
    for (uint32_t w = 0; w < NRANKS; w++) {
        if (w == me) continue;
        const uint8_t *area = slot(me) + MAIL_OFF + w * MAIL_AREA;
        bool ok = true;
        for (uint32_t k = 0; k < 3; k++) ok = ok && check(area + k * MAIL_PART, 100 + w * 16 + me, k * MAIL_PART, MAIL_PART);
        TU_CHECK(ok, "rank %u: mailbox from rank %u (H2G/H2GH/AUTO)", me, w);
        TU_CHECK(check(area + 3 * MAIL_PART, w, me * MAIL_PART, MAIL_PART), "rank %u: mailbox from rank %u (G2G)", me, w);
    }
}

static void phase_batch(uint8_t *buf, uint32_t flags)
{
    void *src[NPIECES], *dst[NPIECES];
    uint32_t right = (me + 1) % NRANKS;
    /* To the right neighbour: local packed source, scattered into its inbox. */
    fill(buf, 200 + me, 0, 9 * MiB);
    for (uint32_t i = 0; i < NPIECES; i++) {
        src[i] = buf + g_pieces[i].src_off;
        dst[i] = slot(right) + BATCH_OFF + g_pieces[i].dst_off;
    }
    int32_t rc = batch(src, dst, SMEMB_COPY_H2G, flags);
    TU_CHECK(rc == 0, "rank %u: batch H2G to rank %u: %d %s", me, right, rc, smem_get_last_err_msg());
    /* From the left neighbour's pattern region, scattered into local memory. */
    uint32_t left = (me + NRANKS - 1) % NRANKS;
    uint8_t *in = buf + 10 * MiB;
    memset(in, 0, 10 * MiB);
    for (uint32_t i = 0; i < NPIECES; i++) {
        src[i] = slot(left) + g_pieces[i].src_off;
        dst[i] = in + g_pieces[i].dst_off;
    }
    rc = batch(src, dst, SMEMB_COPY_G2H, flags);
    /* From every peer at once: piece i comes from peer i % 7 (skipping us). */
    uint8_t *mixed = buf + 20 * MiB;
    memset(mixed, 0, 10 * MiB);
    void *msrc[NPIECES], *mdst[NPIECES];
    uint32_t from[NPIECES];
    for (uint32_t i = 0; i < NPIECES; i++) {
        from[i] = (me + 1 + i % (NRANKS - 1)) % NRANKS;
        msrc[i] = slot(from[i]) + g_pieces[i].src_off;
        mdst[i] = mixed + g_pieces[i].dst_off;
    }
    int32_t rc2 = batch(msrc, mdst, SMEMB_COPY_AUTO, flags);
    if (flags & ASYNC_COPY_FLAG) {
        int32_t w = smem_bm_wait(g_h);
        TU_CHECK(rc == 0 && rc2 == 0 && w == 0, "rank %u: async batches: %d %d wait %d %s", me, rc, rc2, w,
                 smem_get_last_err_msg());
    }
    TU_CHECK(rc == 0 && rc2 == 0, "rank %u: batch G2H: %d, mixed: %d %s", me, rc, rc2, smem_get_last_err_msg());
    bool ok = true, ok2 = true;
    for (uint32_t i = 0; i < NPIECES; i++) {
        ok = ok && check(in + g_pieces[i].dst_off, left, g_pieces[i].src_off, g_pieces[i].len);
        ok2 = ok2 && check(mixed + g_pieces[i].dst_off, from[i], g_pieces[i].src_off, g_pieces[i].len);
    }
    TU_CHECK(ok, "rank %u: batch pieces from rank %u", me, left);
    TU_CHECK(ok2, "rank %u: batch pieces from every peer", me);
}

static void phase_batch_check(void)
{
    uint32_t left = (me + NRANKS - 1) % NRANKS;
    bool ok = true;
    for (uint32_t i = 0; i < NPIECES; i++)
        ok = ok && check(slot(me) + BATCH_OFF + g_pieces[i].dst_off, 200 + left, g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok, "rank %u: batch inbox from rank %u", me, left);
}

static void phase_async(uint8_t *buf)
{
    int32_t rc = 0;
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        int32_t r = copy1(slot(p) + p * 64 * KiB, buf + p * MiB, MiB, SMEMB_COPY_G2H, ASYNC_COPY_FLAG);
        if (r != 0 && rc == 0) rc = r;
    }
    int32_t w = smem_bm_wait(g_h);
    TU_CHECK(rc == 0 && w == 0, "rank %u: async G2H: %d wait %d %s", me, rc, w, smem_get_last_err_msg());
    for (uint32_t p = 0; p < NRANKS; p++)
        if (p != me) TU_CHECK(check(buf + p * MiB, p, p * 64 * KiB, MiB), "rank %u: async data from rank %u", me, p);
}

static int child(int idx)
{
    smem_bm_config_t c;
    smem_bm_config_init(&c);
    c.initTimeout = c.createTimeout = 60;
    c.controlOperationTimeout = 60;
    int32_t rc = smem_bm_init(g_url, NRANKS, 0, &c);
    TU_CHECK(rc == 0, "child %d: smem_bm_init: %d %s", idx, rc, smem_get_last_err_msg());
    if (rc != 0) return 1;
    me = smem_bm_get_rank_id();
    TU_CHECK(me < NRANKS, "child %d: rank %u", idx, me);
    if (me >= NRANKS) return 1;
    store_client_opts_t so;
    store_client_opts_init(&so);
    rc = store_client_connect(g_url, &so, &g_sync);
    TU_CHECK(rc == 0, "rank %u: sync client: %d", me, rc);
    if (rc != 0) return 1;

    g_h = smem_bm_create(0, NRANKS, SMEMB_DATA_OP_SDMA, LOCAL, 0, 0);
    TU_CHECK(g_h != NULL, "rank %u: create: %s", me, smem_get_last_err_msg());
    if (g_h == NULL) return 1;
    rc = smem_bm_join(g_h, 0);
    TU_CHECK(rc == 0, "rank %u: join: %d %s", me, rc, smem_get_last_err_msg());
    if (rc != 0) return 1;
    make_pieces();
    uint8_t *buf = aligned_alloc(4096, 32 * MiB);
    if (buf == NULL) return 1;

    fill(slot(me) + PAT_OFF, me, 0, PAT_LEN);
    if (!barrier("it8/written")) return 1;
    for (uint32_t p = 0; p < NRANKS; p++)
        if (p != me && !wait_visible(p)) tu_failed++;
    phase_read(buf);
    phase_mail_write(buf);
    if (!barrier("it8/mail")) return 1;
    phase_mail_check();
    phase_batch(buf, 0);
    if (!barrier("it8/batch")) return 1;
    phase_batch_check();
    if (!barrier("it8/batch-checked")) return 1;
    phase_batch(buf, ASYNC_COPY_FLAG);
    if (!barrier("it8/abatch")) return 1;
    phase_batch_check();
    phase_async(buf);
    barrier("it8/done");

    rc = smem_bm_leave(g_h, 0);
    TU_CHECK(rc == 0, "rank %u: leave: %d %s", me, rc, smem_get_last_err_msg());
    smem_bm_destroy(g_h);
    store_client_close(g_sync);
    free(buf);
    smem_bm_uninit(0);
    return 0;
}

int main(void)
{
    ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    uint16_t port = tu_free_port();
    if (ctl == MAP_FAILED || port == 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    snprintf(g_url, sizeof(g_url), "tcp://127.0.0.1:%u", port);
    pid_t pids[NRANKS];
    for (int i = 0; i < NRANKS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            int rc = child(i);
            ctl->passed[i] = tu_passed;
            ctl->failed[i] = tu_failed + (rc != 0);
            fflush(stderr);
            _exit(rc);
        }
    }
    for (int i = 0; i < NRANKS; i++) {
        int st = 0;
        if (tu_wait_pid(pids[i], 240000, &st) != 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &st, 0);
            TU_CHECK(0, "child %d timed out", i);
            continue;
        }
        TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d exit status 0x%x", i, st);
        tu_passed += ctl->passed[i];
        tu_failed += ctl->failed[i];
    }
    TU_CHECK(tu_passed > NRANKS * 100, "only %d checks ran", tu_passed);
    return tu_summary();
}
