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
 * peer's backed size, a peer that left. Even children set hcomUrl to
 * "tcp://127.0.0.0/8:0" (interface chosen by subnet), odd ones leave it empty.
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

#include "gva/gva.h"
#include "smem/host/smem_bm.h"
#include "store/store.h"
#include "testutil.h"
#include "tu_data.h"
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

struct ctl {
    int passed[NRANKS];
    int failed[NRANKS];
};

static struct ctl *ctl;
static char g_url[64];
static char g_certs[300]; /* non-empty: run with TLS on the data channel */
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

typedef struct piece {
    uint64_t len, src_off, dst_off;
} piece_t;

static piece_t g_pieces[NPIECES];

static void make_pieces(void)
{
    uint64_t s = 0, d = 0, seed = 777;
    for (uint32_t i = 0; i < NPIECES; i++) {
        g_pieces[i].len = i % 2 ? 32 * KiB : 8 * KiB;
        g_pieces[i].src_off = s;
        s += g_pieces[i].len;
    }
    uint32_t order[NPIECES];
    for (uint32_t i = 0; i < NPIECES; i++) order[i] = i;
    for (uint32_t i = NPIECES - 1; i > 0; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t j = (uint32_t)((seed >> 33) % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (uint32_t k = 0; k < NPIECES; k++) {
        g_pieces[order[k]].dst_off = d;
        d += g_pieces[order[k]].len + KiB;
    }
}

static int32_t batch(void **src, void **dst, smem_bm_copy_type t, uint32_t flags)
{
    uint64_t lens[NPIECES];
    for (uint32_t i = 0; i < NPIECES; i++) lens[i] = g_pieces[i].len;
    smem_batch_copy_params p = {.sources = src, .destinations = dst, .dataSizes = lens, .batchSize = NPIECES};
    return smem_bm_copy_batch(g_h, &p, t, flags);
}

static void phase_read(uint8_t *buf)
{
    static const smem_bm_copy_type types[] = {SMEMB_COPY_G2H, SMEMB_COPY_GH2H, SMEMB_COPY_AUTO};
    static const uint64_t sizes[] = {8, 4 * KiB + 8, MiB};
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        gva_loc_t loc;
        TU_CHECK(gva_translate((uint64_t)(uintptr_t)slot(p), 8, &loc) == 0 && loc.state == GVA_RANK_REMOTE,
                 "rank %u: rank %u is not remote (state %d)", me, p, (int)loc.state);
        for (uint32_t k = 0; k < 3; k++)
            for (uint32_t z = 0; z < 3; z++) {
                uint64_t off = (p * 9 + k * 3 + z) * 128 * KiB;
                memset(buf, 0, sizes[z]);
                int32_t rc = copy1(slot(p) + off, buf, sizes[z], types[k], 0);
                TU_CHECK(rc == 0 && check(buf, p, off, sizes[z]), "rank %u: type %d, %llu B from rank %u: %d %s", me,
                         types[k], (unsigned long long)sizes[z], p, rc, smem_get_last_err_msg());
            }
        memset(buf, 0, PAT_LEN);
        int32_t rc = copy1(slot(p), buf, PAT_LEN, SMEMB_COPY_G2H, 0);
        TU_CHECK(rc == 0 && check(buf, p, 0, PAT_LEN), "rank %u: whole pattern of rank %u: %d %s", me, p, rc,
                 smem_get_last_err_msg());
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
        /* G2G local -> remote: from our pattern straight into the peer's slot. */
        int32_t rc = copy1(slot(me) + p * MAIL_PART, area + 3 * MAIL_PART, MAIL_PART, SMEMB_COPY_G2G, 0);
        TU_CHECK(rc == 0, "rank %u: G2G into rank %u: %d %s", me, p, rc, smem_get_last_err_msg());
        /* G2G remote -> local: the peer's pattern into our scratch area at 30 MiB. */
        rc = copy1(slot(p) + 3 * MiB, slot(me) + 30 * MiB, MAIL_PART, SMEMB_COPY_G2G, 0);
        TU_CHECK(rc == 0 && check(slot(me) + 30 * MiB, p, 3 * MiB, MAIL_PART), "rank %u: G2G from rank %u: %d %s",
                 me, p, rc, smem_get_last_err_msg());
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
    int32_t rcs[3 * NRANKS] = {0};
    uint32_t nrc = 0;
    uint8_t *in = buf + 12 * MiB;
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        /* to p: packed local source, scattered into p's inbox area for us */
        fill(buf + p * 3 * MiB, 200 + me * 8 + p, 0, 3 * MiB);
        for (uint32_t i = 0; i < NPIECES; i++) {
            src[i] = buf + p * 3 * MiB + g_pieces[i].src_off;
            dst[i] = slot(p) + BATCH_OFF + me * BATCH_AREA + g_pieces[i].dst_off;
        }
        rcs[nrc++] = batch(src, dst, SMEMB_COPY_H2G, flags);
        /* from p: its pattern, scattered into local memory */
        uint8_t *mine = in + p * BATCH_AREA;
        memset(mine, 0, BATCH_AREA);
        for (uint32_t i = 0; i < NPIECES; i++) {
            src[i] = slot(p) + g_pieces[i].src_off;
            dst[i] = mine + g_pieces[i].dst_off;
        }
        rcs[nrc++] = batch(src, dst, SMEMB_COPY_G2H, flags);
    }
    /* one batch over every peer: piece i from peer (me + 1 + i % 3) */
    uint8_t *mixed = buf + 26 * MiB;
    memset(mixed, 0, BATCH_AREA);
    uint32_t from[NPIECES];
    for (uint32_t i = 0; i < NPIECES; i++) {
        from[i] = (me + 1 + i % (NRANKS - 1)) % NRANKS;
        src[i] = slot(from[i]) + g_pieces[i].src_off;
        dst[i] = mixed + g_pieces[i].dst_off;
    }
    rcs[nrc++] = batch(src, dst, SMEMB_COPY_AUTO, flags);
    int32_t w = 0;
    if (flags & ASYNC_COPY_FLAG) w = smem_bm_wait(g_h);
    bool all = w == 0;
    for (uint32_t i = 0; i < nrc; i++) all = all && rcs[i] == 0;
    TU_CHECK(all, "rank %u: batches (flags %u): wait %d, %s", me, flags, w, smem_get_last_err_msg());
    for (uint32_t p = 0; p < NRANKS; p++) {
        if (p == me) continue;
        bool ok = true;
        for (uint32_t i = 0; i < NPIECES; i++)
            ok = ok && check(in + p * BATCH_AREA + g_pieces[i].dst_off, p, g_pieces[i].src_off, g_pieces[i].len);
        TU_CHECK(ok, "rank %u: 122 pieces from rank %u", me, p);
    }
    bool ok = true;
    for (uint32_t i = 0; i < NPIECES; i++)
        ok = ok && check(mixed + g_pieces[i].dst_off, from[i], g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok, "rank %u: 122 pieces from every peer", me);
}

static void phase_batch_check(void)
{
    for (uint32_t w = 0; w < NRANKS; w++) {
        if (w == me) continue;
        bool ok = true;
        for (uint32_t i = 0; i < NPIECES; i++)
            ok = ok && check(slot(me) + BATCH_OFF + w * BATCH_AREA + g_pieces[i].dst_off, 200 + w * 8 + me,
                             g_pieces[i].src_off, g_pieces[i].len);
        TU_CHECK(ok, "rank %u: batch inbox from rank %u", me, w);
    }
}

static void phase_errors(uint8_t *buf)
{
    uint32_t p = (me + 1) % NRANKS;
    int32_t rc = copy1(slot(p) + LOCAL - 4, buf, 8, SMEMB_COPY_G2H, 0); /* runs past its backed bytes */
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "rank %u: read past rank %u's backed size: %d", me, p, rc);
    rc = copy1(buf, slot(p) + LOCAL, 8, SMEMB_COPY_H2G, 0);
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "rank %u: write past rank %u's backed size: %d", me, p, rc);
    rc = copy1(buf, buf + MiB, 8, SMEMB_COPY_H2G, 0);
    TU_CHECK(rc == SMEM_ERR_INVALID_PARAM, "rank %u: H2G between local buffers: %d", me, rc);
}

static int child(int idx)
{
    smem_bm_config_t c;
    smem_bm_config_init(&c);
    c.initTimeout = c.createTimeout = 60;
    c.controlOperationTimeout = 30;
    /* half of the ranks name their data-plane interface by subnet, the others leave it to the store's route */
    if (idx % 2 == 0) snprintf(c.hcomUrl, sizeof(c.hcomUrl), "tcp://127.0.0.0/8:0");
    if (g_certs[0] != '\0') {
        /* Second round: the data channel on TLS 1.3, one certificate for both ends. */
        c.hcomTlsConfig.tlsEnable = true;
        snprintf(c.hcomTlsConfig.caPath, sizeof(c.hcomTlsConfig.caPath), "%s/ca.pem", g_certs);
        snprintf(c.hcomTlsConfig.certPath, sizeof(c.hcomTlsConfig.certPath), "%s/node.pem", g_certs);
        snprintf(c.hcomTlsConfig.keyPath, sizeof(c.hcomTlsConfig.keyPath), "%s/node.key", g_certs);
    }
    int32_t rc = smem_bm_init(g_url, NRANKS, 0, &c);
    TU_CHECK(rc == 0, "child %d: smem_bm_init: %d %s", idx, rc, smem_get_last_err_msg());
    if (rc != 0) return 1;
    me = smem_bm_get_rank_id();
    if (me >= NRANKS) return 1;
    store_client_opts_t so;
    store_client_opts_init(&so);
    rc = store_client_connect(g_url, &so, &g_sync);
    if (rc != 0) return 1;
    smem_bm_create_option_t o;
    memset(&o, 0, sizeof(o));
    o.maxDramSize = MAXSZ;
    o.localDRAMSize = LOCAL;
    o.dataOpType = SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_HOST_TCP;
    o.dramShmFd = -1;
    g_h = smem_bm_create2(0, &o);
    TU_CHECK(g_h != NULL, "rank %u: create: %s", me, smem_get_last_err_msg());
    if (g_h == NULL) return 1;
    rc = smem_bm_join(g_h, 0);
    TU_CHECK(rc == 0, "rank %u: join: %d %s", me, rc, smem_get_last_err_msg());
    if (rc != 0) return 1;
    make_pieces();
    uint8_t *buf = aligned_alloc(4096, 40 * MiB);
    if (buf == NULL) return 1;

    fill(slot(me), me, 0, PAT_LEN);
    if (!barrier("itt/written")) return 1;
    for (uint32_t p = 0; p < NRANKS; p++)
        if (p != me && !wait_visible(p)) tu_failed++;
    phase_read(buf);
    phase_mail_write(buf);
    if (!barrier("itt/mail")) return 1;
    phase_mail_check();
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
        rc = smem_bm_leave(g_h, 0);
        TU_CHECK(rc == 0, "rank 0: leave: %d %s", rc, smem_get_last_err_msg());
    }
    if (!barrier("itt/left")) return 1;
    if (me != 0) {
        uint64_t end = util_now_ms() + 10000;
        do rc = copy1(slot(0), buf, 8, SMEMB_COPY_G2H, 0);
        while (rc == 0 && util_now_ms() < end && usleep(5000) == 0);
        TU_CHECK(rc == SMEM_ERR_PEER_GONE, "rank %u: copy from departed rank 0: %d %s", me, rc, smem_get_last_err_msg());
        rc = smem_bm_leave(g_h, 0);
        TU_CHECK(rc == 0, "rank %u: leave: %d %s", me, rc, smem_get_last_err_msg());
    }
    barrier("itt/done");
    smem_bm_destroy(g_h);
    store_client_close(g_sync);
    free(buf);
    smem_bm_uninit(0);
    return 0;
}

/* One round of the whole test: NRANKS processes on a fresh store. */
static void run_round(void)
{
    memset(ctl, 0, sizeof(*ctl));
    uint16_t port = tu_free_port();
    if (port == 0) {
        TU_CHECK(0, "no free port");
        return;
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
}

int main(void)
{
    setenv("SMEM_FORCE_REMOTE", "1", 1);
    ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED) return 1;
    run_round();
    int plain = tu_passed;
    TU_CHECK(plain > NRANKS * 60, "plain round: only %d checks ran", plain);

    char dir[256], cmd[800];
    if (tu_mkdtemp(dir, sizeof(dir)) != 0) return 1;
    snprintf(g_certs, sizeof(g_certs), "%s/certs", dir);
    snprintf(cmd, sizeof(cmd), "sh '%s/scripts/gen-test-certs.sh' '%s' >/dev/null", tu_source_dir(), g_certs);
    TU_CHECK(system(cmd) == 0, "gen-test-certs.sh failed");
    run_round();
    TU_CHECK(tu_passed - plain > NRANKS * 60, "TLS round: only %d checks ran", tu_passed - plain);
    tu_rmdir_rf(dir);
    return tu_summary();
}
