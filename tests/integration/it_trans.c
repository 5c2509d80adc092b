/*
 * it.trans: a receiver and a sender process on one smem-store (Trans always
 * goes through the transport, same host or not).
 *   1. both create their instances; the sender is watching before the
 *      receiver registers anything (a read then fails: nothing registered);
 *   2. the receiver registers memory (smem_trans_malloc, register_mem, a
 *      batch of 3) and publishes the addresses on a test key;
 *   3. an outsider (no or a wrong cluster credential, a raw WRITE without the
 *      greeting) is refused by the receiver's data server; the sender reads the receiver's pattern, writes single pieces and
 *      122-piece batches, reads them back (sync and on a stream with
 *      submit + wait), and checks every bad input it can give;
 *   4. the receiver checks what arrived, then deregisters a range: the
 *      sender's later write to it fails and the bytes stay unchanged;
 *   5. the receiver destroys its instance: the sender's transfers to it fail.
 * Phases are separated by store barriers on separate store clients.
 * Scenarios (tests/testutil/tu_scen.h; `it_trans --list`): rw = 1-3,
 * dereg = 4, destroy = 5; each continues the state of the one before, so
 * choosing one runs those before it too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/host/smem_trans.h"
#include "smem/smem_trans_int.h"
#include "store/store.h"
#include "testutil.h"
#include "tu_bm.h"
#include "tu_data.h"
#include "tu_scen.h"
#include "tu_tp.h"
#include "util/util_buf.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define R_ID "127.0.0.1:7101"
#define S_ID "127.0.0.1:7102"
#define BIG (16 * MiB)
#define SMALL (4 * MiB)
#define NB 3
#define NPIECES 122
#define PHASE_MS 60000

static char g_url[128];
static store_client_t *g_sync;
static uint32_t me; /* 0 receiver, 1 sender */

/* The receiver's addresses, as the sender learns them. */
typedef struct addrs {
    uint64_t big, small, b[NB];
} addrs_t;

#define fill tu_fill

static bool check(const void *buf, uint32_t tag, uint64_t off0, uint64_t len)
{
    return tu_check(buf, tag, off0, len, me ? "sender" : "receiver");
}

static bool barrier(const char *name) { return tu_barrier(g_sync, name, 2, me, PHASE_MS); }

static smem_trans_t make(const char *id, smem_trans_role_t role) { return tu_trans_up(g_url, id, role, 20); }

/* A process that did not read the Trans secret from the store is refused by the receiver's data server. */
static void outsider(uint64_t target)
{
    uint8_t *v = NULL;
    uint32_t vl = 0;
    sm_trans_inst_rec_t r;
    int32_t rc = store_get(g_sync, SMEM_TRANS_PREFIX "inst/" R_ID, 0, &v, &vl);
    if (rc == SMEM_OK) rc = sm_trans_inst_decode(v, vl, &r);
    free(v);
    TU_CHECK(rc == SMEM_OK, "the receiver's instance record: %d", rc);
    if (rc != SMEM_OK) return;
    rc = tu_outsider_connect(r.addr, NULL, TP_WINDOW_REG, target);
    TU_CHECK(rc == SMEM_AUTH, "outsider without a credential at the receiver: %d %s", rc, util_err_get());
    rc = tu_outsider_connect(r.addr, "not the secret of this store.....", TP_WINDOW_REG, target);
    TU_CHECK(rc == SMEM_AUTH, "outsider with a wrong credential at the receiver: %d %s", rc, util_err_get());
    TU_CHECK(tu_outsider_raw_write(r.addr, TP_WINDOW_REG, target), "a raw WRITE without the greeting got a response");
}

/* 61 x 32 KiB + 61 x 8 KiB, packed at src_off locally, scattered (shuffled, 1 KiB gaps) at dst_off remotely. */
_Static_assert(NPIECES == TU_KV_PIECES, "the block layout has 122 pieces");
static tu_piece_t g_pieces[NPIECES];

static void make_pieces(void) { tu_kv_layout(g_pieces, 32 * KiB, 8 * KiB, KiB, true); }

static int receiver(void)
{
    smem_trans_t h = make(R_ID, SMEM_TRANS_RECEIVER);
    if (h == NULL) return 1;
    make_pieces();
    /* a second live instance with the same id is refused */
    smem_trans_config_t c;
    smem_trans_config_init(&c);
    TU_CHECK(smem_trans_create(g_url, R_ID, &c) == NULL, "duplicate id accepted");
    if (!barrier("trans/created")) return 1;
    if (!barrier("trans/probed")) return 1; /* the sender saw nothing registered */

    uint8_t *big = smem_trans_malloc(h, BIG);
    TU_CHECK(big != NULL && ((uintptr_t)big & 4095) == 0, "malloc: %s", smem_get_last_err_msg());
    if (big == NULL) return 1;
    fill(big, 1, 0, BIG);
    uint8_t *small = aligned_alloc(4096, SMALL);
    memset(small, 0, SMALL);
    TU_CHECK(smem_trans_register_mem(h, small, SMALL, 0) == 0, "register: %s", smem_get_last_err_msg());
    TU_CHECK(smem_trans_register_mem(h, small, SMALL, 0) == 0, "register again (same range)");
    TU_CHECK(smem_trans_register_mem(h, small + 4096, 4096, 0) == SMEM_ERR_ADDR_CONFLICT, "overlap accepted");
    TU_CHECK(smem_trans_register_mem(h, NULL, 4096, 0) == SMEM_ERR_INVALID_PARAM, "NULL accepted");
    TU_CHECK(smem_trans_register_mem(h, small, 0, 0) == SMEM_ERR_INVALID_PARAM, "size 0 accepted");
    uint8_t *b = aligned_alloc(4096, NB * 8 * MiB);
    memset(b, 0, NB * 8 * MiB);
    void *ba[NB];
    size_t bs[NB];
    for (int i = 0; i < NB; i++) {
        ba[i] = b + i * 8 * MiB;
        bs[i] = 6 * MiB;
    }
    /* all or nothing: a batch with an overlapping range registers none */
    void *bad[2] = {ba[0], small + 8192};
    size_t bads[2] = {MiB, 4096};
    TU_CHECK(smem_trans_batch_register_mem(h, bad, bads, 2, 0) == SMEM_ERR_ADDR_CONFLICT, "bad batch accepted");
    TU_CHECK(smem_trans_batch_register_mem(h, ba, bs, NB, 0) == 0, "batch register: %s", smem_get_last_err_msg());
    /* a receiver initiates nothing */
    TU_CHECK(smem_trans_write(h, small, S_ID, small, 8, 0) == SMEM_ERR_UNSUPPORTED, "receiver wrote");
    addrs_t a = {.big = (uintptr_t)big, .small = (uintptr_t)small};
    for (int i = 0; i < NB; i++) a.b[i] = (uintptr_t)ba[i];
    TU_CHECK(store_set(g_sync, "it/trans/addrs", &a, sizeof(a)) == 0, "publish addresses");
    if (!barrier("trans/registered")) return 1;
    if (!barrier("trans/written")) return 1;

    /* what the sender wrote */
    TU_CHECK(check(small, 2, 0, SMALL), "receiver: the sender's 4 MiB write");
    bool ok = true;
    for (uint32_t i = 0; i < NPIECES; i++)
        ok = ok && check(big + 8 * MiB + g_pieces[i].dst_off, 3, g_pieces[i].src_off, g_pieces[i].len);
    TU_CHECK(ok, "receiver: the sender's 122-piece batch");
    for (int i = 0; i < NB; i++) TU_CHECK(check(ba[i], 10 + i, 0, 6 * MiB), "receiver: batch-registered range %d", i);
    TU_CHECK(check(big + 12 * MiB, 5, 0, 2 * MiB), "receiver: submitted writes");

    if (tu_scen_on("dereg")) {
        TU_CHECK(smem_trans_deregister_mem(h, small) == 0, "deregister: %s", smem_get_last_err_msg());
        TU_CHECK(smem_trans_deregister_mem(h, small) == SMEM_ERR_OBJECT_NOT_EXISTS, "deregister twice");
        if (!barrier("trans/dereg")) return 1;
        if (!barrier("trans/dereg-tried")) return 1;
        TU_CHECK(check(small, 2, 0, SMALL), "receiver: deregistered memory unchanged");
    }
    bool destroyed = tu_scen_on("destroy");
    if (destroyed) {
        smem_trans_free(h, big);
        smem_trans_destroy(h, 0);
        TU_CHECK(smem_trans_register_mem(h, small, 4096, 0) == SMEM_ERR_INVALID_PARAM, "destroyed handle accepted");
        if (!barrier("trans/destroyed")) return 1;
    }
    barrier("trans/done");
    if (!destroyed) {
        smem_trans_free(h, big);
        smem_trans_destroy(h, 0);
    }
    smem_trans_uninit(0);
    free(small);
    free(b);
    return 0;
}

static int sender(void)
{
    smem_trans_t h = make(S_ID, SMEM_TRANS_SENDER);
    if (h == NULL) return 1;
    make_pieces();
    if (!barrier("trans/created")) return 1;
    uint8_t *buf = aligned_alloc(4096, 40 * MiB);
    /* nothing registered yet */
    int32_t rc = smem_trans_read(h, buf, R_ID, (void *)(uintptr_t)0x10000, 8, 0);
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "read before any registration: %d %s", rc, smem_get_last_err_msg());
    if (!barrier("trans/probed")) return 1;
    if (!barrier("trans/registered")) return 1;
    uint8_t *v = NULL;
    uint32_t vl = 0;
    addrs_t a;
    TU_CHECK(store_get(g_sync, "it/trans/addrs", 0, &v, &vl) == 0 && vl == sizeof(a), "addresses");
    if (v == NULL) return 1;
    memcpy(&a, v, sizeof(a));
    free(v);
    uint8_t *big = (uint8_t *)(uintptr_t)a.big, *small = (uint8_t *)(uintptr_t)a.small;
    outsider(a.big); /* the read below checks the pattern it tried to overwrite */

    /* read the pattern: whole, and small pieces */
    memset(buf, 0, BIG);
    rc = smem_trans_read(h, buf, R_ID, big, BIG, 0);
    TU_CHECK(rc == 0 && check(buf, 1, 0, BIG), "read 16 MiB: %d %s", rc, smem_get_last_err_msg());
    rc = smem_trans_read(h, buf, R_ID, big + 4096, 1, 0);
    TU_CHECK(rc == 0 && buf[0] == (uint8_t)tu_pat(1, 4096), "read 1 byte: %d", rc);
    /* write 4 MiB */
    fill(buf, 2, 0, SMALL);
    rc = smem_trans_write(h, buf, R_ID, small, SMALL, 0);
    TU_CHECK(rc == 0, "write 4 MiB: %d %s", rc, smem_get_last_err_msg());
    /* 122-piece batch write into big + 8 MiB, then batch read back */
    const void *lsrc[NPIECES];
    void *ldst[NPIECES], *rdst[NPIECES];
    const void *rsrc[NPIECES];
    size_t sz[NPIECES];
    fill(buf, 3, 0, 4 * MiB);
    for (uint32_t i = 0; i < NPIECES; i++) {
        lsrc[i] = buf + g_pieces[i].src_off;
        rdst[i] = big + 8 * MiB + g_pieces[i].dst_off;
        rsrc[i] = rdst[i];
        ldst[i] = buf + 8 * MiB + g_pieces[i].src_off;
        sz[i] = g_pieces[i].len;
    }
    rc = smem_trans_batch_write(h, lsrc, R_ID, rdst, sz, NPIECES, 0);
    TU_CHECK(rc == 0, "batch write: %d %s", rc, smem_get_last_err_msg());
    memset(buf + 8 * MiB, 0, 4 * MiB);
    rc = smem_trans_batch_read(h, ldst, R_ID, rsrc, sz, NPIECES, 0);
    TU_CHECK(rc == 0 && check(buf + 8 * MiB, 3, 0, tu_kv_src_len(g_pieces)), "batch read: %d %s", rc, smem_get_last_err_msg());
    /* one batch over the 3 batch-registered ranges */
    const void *bl[NB];
    void *br[NB];
    size_t bsz[NB];
    for (int i = 0; i < NB; i++) {
        fill(buf + 16 * MiB + i * 6 * MiB, 10 + i, 0, 6 * MiB);
        bl[i] = buf + 16 * MiB + i * 6 * MiB;
        br[i] = (void *)(uintptr_t)a.b[i];
        bsz[i] = 6 * MiB;
    }
    rc = smem_trans_batch_write(h, bl, R_ID, br, bsz, NB, 0);
    TU_CHECK(rc == 0, "batch write to 3 ranges: %d %s", rc, smem_get_last_err_msg());

    /* a stream: 8 writes of 256 KiB and a batch read, in order, then wait */
    void *st = NULL;
    TU_CHECK(smem_trans_stream_create(h, &st) == 0, "stream: %s", smem_get_last_err_msg());
    uint8_t *sb = aligned_alloc(4096, 4 * MiB);
    fill(sb, 5, 0, 2 * MiB);
    int32_t src = 0;
    for (int i = 0; i < 8; i++) {
        int32_t r = smem_trans_write_submit(h, sb + i * 256 * KiB, R_ID, big + 12 * MiB + i * 256 * KiB, 256 * KiB, st, 0);
        if (r != 0 && src == 0) src = r;
    }
    void *back[1] = {sb + 2 * MiB};
    const void *from[1] = {big + 12 * MiB};
    size_t bl1[1] = {2 * MiB};
    int32_t r2 = smem_trans_batch_read_submit(h, back, R_ID, from, bl1, 1, st, 0);
    rc = smem_trans_stream_wait(st, 30000);
    TU_CHECK(src == 0 && r2 == 0 && rc == 0 && check(sb + 2 * MiB, 5, 0, 2 * MiB), "stream: %d %d wait %d %s", src, r2,
             rc, smem_get_last_err_msg());
    /* an error in a submitted transfer surfaces at wait, once */
    TU_CHECK(smem_trans_read_submit(h, sb, R_ID, big + BIG, 8, st, 0) == 0, "submit accepted");
    rc = smem_trans_stream_wait(st, 30000);
    TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "stream error: %d", rc);
    TU_CHECK(smem_trans_stream_wait(st, 30000) == 0, "stream error reset");
    TU_CHECK(smem_trans_write_submit(h, sb, R_ID, big, 8, (void *)sb, 0) == SMEM_ERR_INVALID_PARAM, "bogus stream");
    TU_CHECK(smem_trans_stream_wait((void *)sb, 10) == SMEM_ERR_INVALID_PARAM, "bogus stream wait");
    smem_trans_stream_destroy(st);

    /* bad input */
    TU_CHECK(smem_trans_write(h, buf, "nobody:1", big, 8, 0) == SMEM_ERR_OBJECT_NOT_EXISTS, "unknown id");
    TU_CHECK(strstr(smem_get_last_err_msg(), "nobody:1") != NULL, "message names the id: %s", smem_get_last_err_msg());
    TU_CHECK(smem_trans_write(h, buf, R_ID, big + BIG - 4, 8, 0) == SMEM_ERR_OUT_OF_RANGE, "past the end");
    TU_CHECK(smem_trans_read(h, buf, R_ID, (void *)(uintptr_t)0x1000, 8, 0) == SMEM_ERR_OUT_OF_RANGE,
             "unregistered remote range");
    TU_CHECK(smem_trans_write(h, buf, R_ID, big, 0, 0) == SMEM_ERR_INVALID_PARAM, "size 0");
    TU_CHECK(smem_trans_write(h, NULL, R_ID, big, 8, 0) == SMEM_ERR_INVALID_PARAM, "NULL local");
    TU_CHECK(smem_trans_write(h, buf, R_ID, NULL, 8, 0) == SMEM_ERR_INVALID_PARAM, "NULL remote");
    TU_CHECK(smem_trans_write(h, buf, NULL, big, 8, 0) == SMEM_ERR_INVALID_PARAM, "NULL id");
    TU_CHECK(smem_trans_write(h, buf, S_ID, big, 8, 0) == SMEM_ERR_INVALID_PARAM, "ourselves");
    TU_CHECK(smem_trans_write(h, buf, R_ID, big, 8, 1) == SMEM_ERR_INVALID_PARAM, "flags");
    TU_CHECK(smem_trans_batch_write(h, lsrc, R_ID, rdst, sz, 0, 0) == SMEM_ERR_INVALID_PARAM, "batch of 0");
    TU_CHECK(smem_trans_batch_write(h, NULL, R_ID, rdst, sz, 2, 0) == SMEM_ERR_INVALID_PARAM, "NULL array");
    TU_CHECK(smem_trans_write(NULL, buf, R_ID, big, 8, 0) == SMEM_ERR_INVALID_PARAM, "NULL handle");
    TU_CHECK(smem_trans_write((void *)buf, buf, R_ID, big, 8, 0) == SMEM_ERR_INVALID_PARAM, "bogus handle");
    if (!barrier("trans/written")) return 1;
    if (tu_scen_on("dereg")) {
        if (!barrier("trans/dereg")) return 1;
        fill(buf, 9, 0, 8);
        rc = smem_trans_write(h, buf, R_ID, small, 8, 0);
        TU_CHECK(rc == SMEM_ERR_OUT_OF_RANGE, "write to deregistered memory: %d %s", rc, smem_get_last_err_msg());
        rc = smem_trans_read(h, buf, R_ID, big, 8, 0);
        TU_CHECK(rc == 0, "the rest still works: %d %s", rc, smem_get_last_err_msg());
        if (!barrier("trans/dereg-tried")) return 1;
    }
    if (tu_scen_on("destroy")) {
        if (!barrier("trans/destroyed")) return 1;
        rc = smem_trans_read(h, buf, R_ID, big, 8, 0);
        TU_CHECK(rc == SMEM_ERR_OBJECT_NOT_EXISTS || rc == SMEM_ERR_PEER_GONE || rc == SMEM_ERR_CONN_FAILED,
                 "read from a destroyed instance: %d %s", rc, smem_get_last_err_msg());
    }
    barrier("trans/done");
    smem_trans_destroy(h, 0);
    smem_trans_uninit(0);
    free(buf);
    free(sb);
    return 0;
}

static int child(int role, void *arg)
{
    (void)arg;
    me = (uint32_t)role;
    if ((g_sync = tu_store_connect(g_url)) == NULL) return 1;
    int rc = role == 0 ? receiver() : sender();
    store_client_close(g_sync);
    return rc;
}

static const tu_scen_t scenarios[] = {
    {.name = "rw", .what = "create, register, reads, writes, 122-piece batches, streams, bad input (phases 1-3)"},
    {.name = "dereg", .what = "a deregistered range refuses writes, its bytes stay (phase 4)", .needs = "rw"},
    {.name = "destroy", .what = "transfers to a destroyed receiver fail (phase 5)", .needs = "dereg"},
};

int main(int argc, char **argv)
{
    int rc = tu_scen_args(argc, argv, scenarios, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    if (rc >= 0) return rc;
    pid_t store;
    if (tu_store_start(NULL, &store, g_url, sizeof(g_url)) != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    tu_kids_t kids; /* the receiver (0) and the sender (1) */
    tu_kids_start(&kids, 2, child, NULL);
    tu_kids_wait(&kids, 120000);
    tu_stop_pid(store, 5000);
    TU_CHECK(tu_passed > 40, "only %d checks ran", tu_passed);
    return tu_summary();
}
