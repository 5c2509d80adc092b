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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/host/smem_bm.h"
#include "store/store.h"
#include "testutil.h"
#include "tu_bm.h"
#include "tu_data.h"

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

static char g_url[64];
static uint32_t me;
static store_client_t *g_sync;

static bool barrier(const char *name) { return tu_barrier(g_sync, name, NRANKS, me, PHASE_MS); }

/* Piece j: size, offset in a packed source layout (order A) and in a gapped destination layout (order B). */
_Static_assert(NPIECES == TU_KV_PIECES, "the block layout has 122 pieces");
static tu_piece_t g_pieces[NPIECES];

static void make_pieces(void) { tu_kv_layout(g_pieces, BIG_PIECE, SMALL_PIECE, BATCH_GAP, false); }

static void phase_read(uint8_t *buf)
{
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        TU_CHECK(tu_rcheck(tu_slot(p) + PAT_OFF, p, 0, PAT_LEN), "rank %u: deref of rank %u's pattern", me, p);
        static const smem_bm_copy_type types[] = {SMEMB_COPY_G2H, SMEMB_COPY_GH2H, SMEMB_COPY_AUTO};
        for (uint32_t k = 0; k < 3; k++) {
            uint64_t off = (p * 3 + k) * 256 * KiB;
            memset(buf, 0, 2 * MiB);
            int32_t rc = tu_copy(tu_slot(p) + off, buf, 2 * MiB, types[k], 0);
            TU_CHECK(rc == 0 && tu_rcheck(buf, p, off, 2 * MiB), "rank %u: type %d from rank %u: %d %s", me, types[k], p,
                     rc, smem_get_last_err_msg());
        }
    }
}

static const tu_mailbox_t g_mail = {.off = MAIL_OFF, .area = MAIL_AREA, .part = MAIL_PART, .nranks = NRANKS};

static void phase_batch(uint8_t *buf, uint32_t flags)
{
    void *src[NPIECES], *dst[NPIECES];
    uint32_t right = (me + 1) % NRANKS;
    /* To the right neighbour: local packed source, scattered into its inbox. */
    tu_fill(buf, 200 + me, 0, 9 * MiB);
    for (uint32_t i = 0; i < NPIECES; i++) {
        src[i] = buf + g_pieces[i].src_off;
        dst[i] = tu_slot(right) + BATCH_OFF + g_pieces[i].dst_off;
    }
    int32_t rc = tu_batch(g_pieces, src, dst, SMEMB_COPY_H2G, flags);
    TU_CHECK(rc == 0, "rank %u: batch H2G to rank %u: %d %s", me, right, rc, smem_get_last_err_msg());
    /* From the left neighbour's pattern region, scattered into local memory. */
    uint32_t left = (me + NRANKS - 1) % NRANKS;
    uint8_t *in = buf + 10 * MiB;
    memset(in, 0, 10 * MiB);
    for (uint32_t i = 0; i < NPIECES; i++) {
        src[i] = tu_slot(left) + g_pieces[i].src_off;
        dst[i] = in + g_pieces[i].dst_off;
    }
    rc = tu_batch(g_pieces, src, dst, SMEMB_COPY_G2H, flags);
    /* From every peer at once: piece i comes from peer i % 7 (skipping us). */
    uint8_t *mixed = buf + 20 * MiB;
    memset(mixed, 0, 10 * MiB);
    void *msrc[NPIECES], *mdst[NPIECES];
    uint32_t from[NPIECES];
    for (uint32_t i = 0; i < NPIECES; i++) {
        from[i] = (me + 1 + i % (NRANKS - 1)) % NRANKS;
        msrc[i] = tu_slot(from[i]) + g_pieces[i].src_off;
        mdst[i] = mixed + g_pieces[i].dst_off;
    }
    int32_t rc2 = tu_batch(g_pieces, msrc, mdst, SMEMB_COPY_AUTO, flags);
    if (flags & ASYNC_COPY_FLAG) {
        int32_t w = smem_bm_wait(tu_bm_handle());
        TU_CHECK(rc == 0 && rc2 == 0 && w == 0, "rank %u: async batches: %d %d wait %d %s", me, rc, rc2, w,
                 smem_get_last_err_msg());
    }
    TU_CHECK(rc == 0 && rc2 == 0, "rank %u: batch G2H: %d, mixed: %d %s", me, rc, rc2, smem_get_last_err_msg());
    bool ok = true, ok2 = true;
    for (uint32_t i = 0; i < NPIECES; i++) {
        ok = ok && tu_rcheck(in + g_pieces[i].dst_off, left, g_pieces[i].src_off, g_pieces[i].len);
        ok2 = ok2 && tu_rcheck(mixed + g_pieces[i].dst_off, from[i], g_pieces[i].src_off, g_pieces[i].len);
    }
    TU_CHECK(ok, "rank %u: batch pieces from rank %u", me, left);
    TU_CHECK(ok2, "rank %u: batch pieces from every peer", me);
}

static void phase_batch_check(void)
{
    uint32_t left = (me + NRANKS - 1) % NRANKS;
    bool ok = true;
    for (uint32_t i = 0; i < NPIECES; i++)
        ok = ok && tu_rcheck(tu_slot(me) + BATCH_OFF + g_pieces[i].dst_off, 200 + left, g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok, "rank %u: batch inbox from rank %u", me, left);
}

static int child(int idx, void *arg)
{
    (void)arg;
    char who[32];
    snprintf(who, sizeof(who), "child %d", idx);
    smem_bm_config_t c;
    tu_bm_config(&c, 60, 60);
    /* a rank per process: the first to start serves the store, the store assigns the ranks */
    tu_bm_rank_t r = {.url = g_url, .world = NRANKS, .cfg = &c, .want_rank = -1, .id = 0, .local = LOCAL};
    smem_bm_t h = tu_bm_up(&r, who, &me);
    if (h == NULL) return 1;
    g_sync = tu_store_connect(g_url);
    TU_CHECK(g_sync != NULL, "rank %u: sync client", me);
    if (g_sync == NULL) return 1;
    make_pieces();
    uint8_t *buf = aligned_alloc(4096, 32 * MiB);
    if (buf == NULL) return 1;

    tu_fill(tu_slot(me) + PAT_OFF, me, 0, PAT_LEN);
    if (!barrier("it8/written")) return 1;
    for (uint32_t p = 0; p < NRANKS; p++)
        if (p != me && !tu_wait_visible(p)) tu_failed++;
    phase_read(buf);
    tu_mail_write(&g_mail, buf);
    if (!barrier("it8/mail")) return 1;
    tu_mail_check(&g_mail);
    phase_batch(buf, 0);
    if (!barrier("it8/batch")) return 1;
    phase_batch_check();
    if (!barrier("it8/batch-checked")) return 1;
    phase_batch(buf, ASYNC_COPY_FLAG);
    if (!barrier("it8/abatch")) return 1;
    phase_batch_check();
    tu_async_from_all(buf, NRANKS);
    barrier("it8/done");

    int32_t rc = smem_bm_leave(h, 0);
    TU_CHECK(rc == 0, "rank %u: leave: %d %s", me, rc, smem_get_last_err_msg());
    smem_bm_destroy(h);
    store_client_close(g_sync);
    free(buf);
    smem_bm_uninit(0);
    return 0;
}

int main(void)
{
    uint16_t port = tu_free_port();
    if (port == 0) {
        fprintf(stderr, "setup failed: no free port\n");
        return 1;
    }
    snprintf(g_url, sizeof(g_url), "tcp://127.0.0.1:%u", port);
    tu_kids_t kids;
    tu_kids_start(&kids, NRANKS, child, NULL);
    tu_kids_wait(&kids, 240000);
    TU_CHECK(tu_passed > NRANKS * 100, "only %d checks ran", tu_passed);
    return tu_summary();
}
