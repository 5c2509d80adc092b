/*
 * it.bm_tcp: 4 processes share one BM host pool with SMEM_FORCE_REMOTE=1, so
 * every peer is reached through the tcp transport (the slots of peers stay
 * PROT_NONE here, as for ranks on other hosts). Each rank's 32 MiB slot
 * (stride 64 MiB):
 *   [0, 8 MiB)     pattern: written by its owner, read by everyone
 *   [8, 12 MiB)    mailbox: 1 MiB area per writer: H2G, H2GH, AUTO, G2G parts
 *   [16, 28 MiB)   batch inbox: 3 MiB area per writer, 122 scattered pieces
 * Every rank reads every peer with G2H, GH2H, AUTO (1 B .. 8 MiB), writes
 * every peer with H2G, H2GH, AUTO and G2G (both directions), sends and
 * fetches 122-piece batches to/from every peer (sync and async), one batch
 * spread over all peers, and checks the bytes; then the error paths: past a
 * peer's backed size, a peer that left. An outsider (rank 1, with its own
 * iface and no or a wrong cluster credential, and a raw socket that skips
 * the greeting) is refused by rank 0's data server before a byte moves; the
 * pattern it tried to overwrite is then read intact. Even children set hcomUrl to
 * "tcp://127.0.0.0/8:0" (interface chosen by subnet), odd ones leave it empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gva/gva.h"
#include "smem/host/smem_bm.h"
#include "smem/smem_bm_int.h"
#include "space/space_rec.h"
#include "store/store.h"
#include "testutil.h"
#include "tu_bm.h"
#include "tu_data.h"
#include "tu_scen.h"
#include "tu_tp.h"
#include "util/util_time.h"

#define NRANKS 4
#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define LOCAL (32 * MiB)
#define MAXSZ (64 * MiB)
#define PAT_LEN (8 * MiB)
#define MAIL_OFF (8 * MiB)
#define MAIL_AREA MiB
#define MAIL_PART (256 * KiB)
#define BATCH_OFF (16 * MiB)
#define BATCH_AREA (3 * MiB)
#define NPIECES 122
#define PHASE_MS 60000

static char g_url[64];
static char g_certs[300]; /* non-empty: run with TLS on the data channel */
static uint32_t me;
static store_client_t *g_sync;

static bool barrier(const char *name) { return tu_barrier(g_sync, name, NRANKS, me, PHASE_MS); }

/* 61 x 32 KiB + 61 x 8 KiB, packed at one end and scattered (1 KiB gaps) at the other. */
_Static_assert(NPIECES == TU_KV_PIECES, "the block layout has 122 pieces");
static tu_piece_t g_pieces[NPIECES];

static void make_pieces(void) { tu_kv_layout(g_pieces, 32 * KiB, 8 * KiB, KiB, true); }

static void phase_read(uint8_t *buf)
{
    static const smem_bm_copy_type types[] = {SMEMB_COPY_G2H, SMEMB_COPY_GH2H, SMEMB_COPY_AUTO};
    static const uint64_t sizes[] = {8, 4 * KiB + 8, MiB};
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        gva_loc_t loc;
        TU_CHECK(gva_translate((uint64_t)(uintptr_t)tu_slot(p), 8, &loc) == 0 && loc.state == GVA_RANK_REMOTE,
                 "rank %u: rank %u is not remote (state %d)", me, p, (int)loc.state);
        for (uint32_t k = 0; k < 3; k++)
            for (uint32_t z = 0; z < 3; z++) {
                uint64_t off = (p * 9 + k * 3 + z) * 128 * KiB;
                memset(buf, 0, sizes[z]);
                int32_t rc = tu_copy(tu_slot(p) + off, buf, sizes[z], types[k], 0);
                TU_CHECK(rc == 0 && tu_rcheck(buf, p, off, sizes[z]), "rank %u: type %d, %llu B from rank %u: %d %s", me,
                         types[k], (unsigned long long)sizes[z], p, rc, smem_get_last_err_msg());
            }
        memset(buf, 0, PAT_LEN);
        int32_t rc = tu_copy(tu_slot(p), buf, PAT_LEN, SMEMB_COPY_G2H, 0);
        TU_CHECK(rc == 0 && tu_rcheck(buf, p, 0, PAT_LEN), "rank %u: whole pattern of rank %u: %d %s", me, p, rc,
                 smem_get_last_err_msg());
    }
}

static const tu_mailbox_t g_mail = {.off = MAIL_OFF, .area = MAIL_AREA, .part = MAIL_PART, .nranks = NRANKS};

/* The mailbox writes (local -> remote G2G among them), then G2G remote -> local: each peer's pattern into our
 * scratch area at 30 MiB. */
static void phase_mail_write(uint8_t *buf)
{
    tu_mail_write(&g_mail, buf);
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        int32_t rc = tu_copy(tu_slot(p) + 3 * MiB, tu_slot(me) + 30 * MiB, MAIL_PART, SMEMB_COPY_G2G, 0);
        TU_CHECK(rc == 0 && tu_rcheck(tu_slot(me) + 30 * MiB, p, 3 * MiB, MAIL_PART), "rank %u: G2G from rank %u: %d %s",
                 me, p, rc, smem_get_last_err_msg());
    }
}

static void phase_batch(uint8_t *buf, uint32_t flags)
{
    void *src[NPIECES], *dst[NPIECES];
    int32_t rcs[3 * NRANKS] = {0};
    uint32_t nrc = 0;
    uint8_t *in = buf + 12 * MiB;
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        /* to p: packed local source, scattered into p's inbox area for us */
        tu_fill(buf + p * 3 * MiB, 200 + me * 8 + p, 0, 3 * MiB);
        for (uint32_t i = 0; i < NPIECES; i++) {
            src[i] = buf + p * 3 * MiB + g_pieces[i].src_off;
            dst[i] = tu_slot(p) + BATCH_OFF + me * BATCH_AREA + g_pieces[i].dst_off;
        }
        rcs[nrc++] = tu_batch(g_pieces, src, dst, SMEMB_COPY_H2G, flags);
        /* from p: its pattern, scattered into local memory */
        uint8_t *mine = in + p * BATCH_AREA;
        memset(mine, 0, BATCH_AREA);
        for (uint32_t i = 0; i < NPIECES; i++) {
            src[i] = tu_slot(p) + g_pieces[i].src_off;
            dst[i] = mine + g_pieces[i].dst_off;
        }
        rcs[nrc++] = tu_batch(g_pieces, src, dst, SMEMB_COPY_G2H, flags);
    }
    /* one batch over every peer: piece i from peer (me + 1 + i % 3) */
    uint8_t *mixed = buf + 26 * MiB;
    memset(mixed, 0, BATCH_AREA);
    uint32_t from[NPIECES];
    for (uint32_t i = 0; i < NPIECES; i++) {
        from[i] = (me + 1 + i % (NRANKS - 1)) % NRANKS;
        src[i] = tu_slot(from[i]) + g_pieces[i].src_off;
        dst[i] = mixed + g_pieces[i].dst_off;
    }
    rcs[nrc++] = tu_batch(g_pieces, src, dst, SMEMB_COPY_AUTO, flags);
    int32_t w = 0;
    if (flags & ASYNC_COPY_FLAG) w = smem_bm_wait(tu_bm_handle());
    bool all = w == 0;
    for (uint32_t i = 0; i < nrc; i++) all = all && rcs[i] == 0;
    TU_CHECK(all, "rank %u: batches (flags %u): wait %d, %s", me, flags, w, smem_get_last_err_msg());
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        bool ok = true;
        for (uint32_t i = 0; i < NPIECES; i++)
            ok = ok && tu_rcheck(in + p * BATCH_AREA + g_pieces[i].dst_off, p, g_pieces[i].src_off, g_pieces[i].len);
        TU_CHECK(ok, "rank %u: 122 pieces from rank %u", me, p);
    }
    bool ok = true;
    for (uint32_t i = 0; i < NPIECES; i++)
        ok = ok && tu_rcheck(mixed + g_pieces[i].dst_off, from[i], g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok, "rank %u: 122 pieces from every peer", me);
}

static void phase_batch_check(void)
{
    for (uint32_t w = 0; w < NRANKS; w++) {
        if (w == me) continue;
        bool ok = true;
        for (uint32_t i = 0; i < NPIECES; i++)
            ok = ok && tu_rcheck(tu_slot(me) + BATCH_OFF + w * BATCH_AREA + g_pieces[i].dst_off, 200 + w * 8 + me,
                             g_pieces[i].src_off, g_pieces[i].len);
        TU_CHECK(ok, "rank %u: batch inbox from rank %u", me, w);
    }
}

static void phase_errors(uint8_t *buf)
{
    uint32_t p = (me + 1) % NRANKS;
    int32_t rc = tu_copy(tu_slot(p) + LOCAL - 4, buf, 8, SMEMB_COPY_G2H, 0); /* runs past its backed bytes */
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "rank %u: read past rank %u's backed size: %d", me, p, rc);
    rc = tu_copy(buf, tu_slot(p) + LOCAL, 8, SMEMB_COPY_H2G, 0);
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "rank %u: write past rank %u's backed size: %d", me, p, rc);
    rc = tu_copy(buf, buf + MiB, 8, SMEMB_COPY_H2G, 0);
    TU_CHECK(rc == SMEM_ERR_INVALID_PARAM, "rank %u: H2G between local buffers: %d", me, rc);
}

/* ---------- an outsider at rank 0's data port ---------- */

static void outsider_try(const char *addr, const char *cred)
{
    int32_t rc = tu_outsider_connect(addr, cred, SMEM_BM_TP_WINDOW_HOST, 0);
    /* With TLS on the data channel the outsider (plain, no certificate) does not get as far as the greeting. */
    bool refused = g_certs[0] != '\0' ? rc != SMEM_OK : rc == SMEM_AUTH;
    TU_CHECK(refused, "outsider (%s) connects to rank 0's data port: %d %s", cred ? "wrong credential" : "none", rc,
             util_err_get());
}

static void phase_outsider(void)
{
    char key[128];
    snprintf(key, sizeof(key), SMEM_BM_GROUP "/bm/0/host/member/0");
    uint8_t *v = NULL;
    uint32_t vlen = 0;
    space_rec_t r;
    int32_t rc = store_get(g_sync, key, 0, &v, &vlen);
    if (rc == SMEM_OK) rc = space_rec_decode(v, vlen, &r);
    free(v);
    TU_CHECK(rc == SMEM_OK && r.tp_addr_len > 0, "rank 0's member record %s: %d", key, rc);
    if (rc != SMEM_OK) return;
    outsider_try(r.tp_addr, NULL);
    outsider_try(r.tp_addr, "a guess at the cluster secret...");
    TU_CHECK(tu_outsider_raw_write(r.tp_addr, SMEM_BM_TP_WINDOW_HOST, 0),
             "a raw WRITE without the greeting got a response from rank 0");
}

static int child(int idx, void *arg)
{
    (void)arg;
    smem_bm_config_t c;
    tu_bm_config(&c, 60, 30);
    /* half of the ranks name their data-plane interface by subnet, the others leave it to the store's route */
    if (idx % 2 == 0) snprintf(c.hcomUrl, sizeof(c.hcomUrl), "tcp://127.0.0.0/8:0");
    if (g_certs[0] != '\0') {
        /* Second round: the data channel on TLS 1.3, one certificate for both ends. */
        c.hcomTlsConfig.tlsEnable = true;
        snprintf(c.hcomTlsConfig.caPath, sizeof(c.hcomTlsConfig.caPath), "%s/ca.pem", g_certs);
        snprintf(c.hcomTlsConfig.certPath, sizeof(c.hcomTlsConfig.certPath), "%s/node.pem", g_certs);
        snprintf(c.hcomTlsConfig.keyPath, sizeof(c.hcomTlsConfig.keyPath), "%s/node.key", g_certs);
    }
    char who[32];
    snprintf(who, sizeof(who), "child %d", idx);
    tu_bm_rank_t r = {.url = g_url, .world = NRANKS, .cfg = &c, .want_rank = -1, .id = 0, .local = LOCAL,
                      .stride = MAXSZ};
    smem_bm_t h = tu_bm_up(&r, who, &me);
    if (h == NULL) return 1;
    g_sync = tu_store_connect(g_url);
    TU_CHECK(g_sync != NULL, "rank %u: sync client", me);
    if (g_sync == NULL) return 1;
    make_pieces();
    int32_t rc;
    uint8_t *buf = aligned_alloc(4096, 40 * MiB);
    if (buf == NULL) return 1;

    tu_fill(tu_slot(me), me, 0, PAT_LEN);
    if (!barrier("itt/written")) return 1;
    if (me == 1) phase_outsider(); /* the reads below check that rank 0's pattern is intact */
    if (!barrier("itt/outsider")) return 1;
    for (uint32_t p = 0; p < NRANKS; p++)
        if (p != me && !tu_wait_visible(p)) tu_failed++;
    phase_read(buf);
    phase_mail_write(buf);
    if (!barrier("itt/mail")) return 1;
    tu_mail_check(&g_mail);
    phase_batch(buf, 0);
    if (!barrier("itt/batch")) return 1;
    phase_batch_check();
    if (!barrier("itt/batch-checked")) return 1;
    phase_batch(buf, ASYNC_COPY_FLAG);
    if (!barrier("itt/abatch")) return 1;
    phase_batch_check();
    phase_errors(buf);
    if (!barrier("itt/errors")) return 1;
    /* rank 0 leaves; the others' copies to it fail cleanly once they saw it go */
    if (me == 0) {
        rc = smem_bm_leave(h, 0);
        TU_CHECK(rc == 0, "rank 0: leave: %d %s", rc, smem_get_last_err_msg());
    }
    if (!barrier("itt/left")) return 1;
    if (me != 0) {
        uint64_t end = util_now_ms() + 10000;
        do rc = tu_copy(tu_slot(0), buf, 8, SMEMB_COPY_G2H, 0);
        while (rc == 0 && util_now_ms() < end && usleep(5000) == 0);
        TU_CHECK(rc == SMEM_ERR_PEER_GONE, "rank %u: copy from departed rank 0: %d %s", me, rc, smem_get_last_err_msg());
        rc = smem_bm_leave(h, 0);
        TU_CHECK(rc == 0, "rank %u: leave: %d %s", me, rc, smem_get_last_err_msg());
    }
    barrier("itt/done");
    smem_bm_destroy(h);
    store_client_close(g_sync);
    free(buf);
    smem_bm_uninit(0);
    return 0;
}

/* One round of the whole test: NRANKS processes on a fresh store. */
static void run_round(void)
{
    uint16_t port = tu_free_port();
    if (port == 0) {
        TU_CHECK(0, "no free port");
        return;
    }
    snprintf(g_url, sizeof(g_url), "tcp://127.0.0.1:%u", port);
    tu_kids_t kids;
    tu_kids_start(&kids, NRANKS, child, NULL);
    tu_kids_wait(&kids, 240000);
}

static void scen_plain(void)
{
    int before = tu_passed;
    g_certs[0] = '\0';
    run_round();
    TU_CHECK(tu_passed - before > NRANKS * 60, "plain round: only %d checks ran", tu_passed - before);
}

/* The same round with the data channel on TLS 1.3 (certificates from scripts/gen-test-certs.sh). */
static void scen_tls(void)
{
    char dir[256], cmd[800];
    if (tu_mkdtemp(dir, sizeof(dir)) != 0) {
        TU_CHECK(0, "temp dir");
        return;
    }
    snprintf(g_certs, sizeof(g_certs), "%s/certs", dir);
    snprintf(cmd, sizeof(cmd), "sh '%s/scripts/gen-test-certs.sh' '%s' >/dev/null", tu_source_dir(), g_certs);
    TU_CHECK(system(cmd) == 0, "gen-test-certs.sh failed");
    int before = tu_passed;
    run_round();
    TU_CHECK(tu_passed - before > NRANKS * 60, "TLS round: only %d checks ran", tu_passed - before);
    g_certs[0] = '\0';
    tu_rmdir_rf(dir);
}

static const tu_scen_t scenarios[] = {
    {.name = "plain", .run = scen_plain, .what = "4 ranks over the tcp transport, plain data channel"},
    {.name = "tls", .run = scen_tls, .what = "the same with TLS 1.3 on the data channel"},
};

int main(int argc, char **argv)
{
    int rc = tu_scen_args(argc, argv, scenarios, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    if (rc >= 0) return rc;
    setenv("SMEM_FORCE_REMOTE", "1", 1);
    tu_scen_run();
    return tu_summary();
}
