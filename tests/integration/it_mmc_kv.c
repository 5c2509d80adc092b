/*
 * memcache end to end with real processes: mmc-meta, two mmc-local
 * LocalServices (DRAM contributors) and client processes (this binary run
 * with --role, each a pure-client LocalService through mmc_init):
 *  - put/get/exist/remove/query, batch forms, key info, remove_all;
 *  - the DeepSeek-R1 block (122 pieces via the layers API), single and
 *    batch, scattered into other buffers and checked byte for byte;
 *  - the GVA-level calls (alloc, copy, write_finish, leases);
 *  - values written by one process read by another;
 *  - concurrent writers of the same keys (one value wins, every put
 *    succeeds, readers never see a torn value);
 *  - gets racing removes and space reuse (full value or not-found);
 *  - eviction under pressure (4x the pool: recent keys readable, old ones
 *    not found, no other errors);
 *  - 2 replicas on distinct LocalServices, one SIGKILLed: gets still
 *    succeed from the other, capacity goes from mmc-meta's STATS;
 *  - a clean LocalService stop: its keys go, its capacity too.
 * Each of these is a scenario (`it_mmc_kv --list`, `it_mmc_kv NAME...`);
 * one run alone first brings the cluster to the state it needs (two
 * LocalServices, or one).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/common/mmc_meta_client.h"
#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "testutil.h"
#include "tu_mmc.h"
#include "tu_scen.h"
#include "util/util_time.h"

#define LS_DRAM (128u << 20)
#define LS_STRIDE "256MB"
#define LAYERS 61u
#define LAT (128u << 10)
#define ROPE (16u << 10)
#define BLOCK ((uint64_t)LAYERS * (LAT + ROPE))

static char tmpdir[256], cfg_path[512];
static char rpc_url[128], store_url[128];

/* ---------- data patterns ---------- */

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t key_seed(const char *key, uint64_t salt)
{
    uint64_t h = 1469598103934665603ull ^ salt;
    for (; *key; key++) h = (h ^ (uint8_t)*key) * 1099511628211ull;
    return h;
}

/* Byte i of the value with seed s (position-dependent, so shifted or mixed data shows). */
static void fill(uint8_t *p, uint64_t len, uint64_t s, uint64_t start)
{
    for (uint64_t i = 0; i < len; i++) {
        uint64_t w = (start + i) / 8;
        p[i] = (uint8_t)(mix(s + w) >> (((start + i) % 8) * 8));
    }
}

static bool check(const uint8_t *p, uint64_t len, uint64_t s, uint64_t start)
{
    for (uint64_t i = 0; i < len; i++) {
        uint64_t w = (start + i) / 8;
        if (p[i] != (uint8_t)(mix(s + w) >> (((start + i) % 8) * 8))) return false;
    }
    return true;
}

static mmc_buffer hbuf(void *p, uint64_t len) { return (mmc_buffer){.addr = (uint64_t)(uintptr_t)p, .type = 1, .len = len}; }

/* ---------- the DeepSeek-R1 block: 61 x (128 KiB latent + 16 KiB rope) at 122 addresses ---------- */

typedef struct blk {
    uint8_t *lat, *rope; /* LAYERS pieces each, with a gap between pieces so they are discrete */
    mmc_buffer layers[2 * LAYERS];
} blk_t;

static void blk_init(blk_t *b, uint64_t gap)
{
    b->lat = malloc(LAYERS * (LAT + gap));
    b->rope = malloc(LAYERS * (ROPE + gap));
    for (uint32_t l = 0; l < LAYERS; l++) {
        b->layers[2 * l] = hbuf(b->lat + l * (LAT + gap), LAT);
        b->layers[2 * l + 1] = hbuf(b->rope + l * (ROPE + gap), ROPE);
    }
}

static void blk_fini(blk_t *b)
{
    free(b->lat);
    free(b->rope);
}

static void blk_fill(blk_t *b, uint64_t s)
{
    uint64_t off = 0;
    for (uint32_t i = 0; i < 2 * LAYERS; i++) {
        fill((uint8_t *)(uintptr_t)b->layers[i].addr, b->layers[i].len, s, off);
        off += b->layers[i].len;
    }
}

static bool blk_check(const blk_t *b, uint64_t s)
{
    uint64_t off = 0;
    for (uint32_t i = 0; i < 2 * LAYERS; i++) {
        if (!check((const uint8_t *)(uintptr_t)b->layers[i].addr, b->layers[i].len, s, off)) return false;
        off += b->layers[i].len;
    }
    return true;
}

/* ---------- processes ---------- */

static int meta_start(pid_t *pid)
{
    char conf[600];
    snprintf(conf, sizeof(conf), "%s/meta.conf", tmpdir);
    if (tu_mmc_meta_conf(conf, 0, 0, "error") != 0) return -1;
    const char *args[] = {"--config", conf, NULL};
    return tu_mmc_meta_start(args, pid, rpc_url, sizeof(rpc_url), store_url, sizeof(store_url));
}

/* Starts mmc-local contributing LS_DRAM; returns its rank or -1. */
static int local_start(pid_t *pid)
{
    char dram[32];
    snprintf(dram, sizeof(dram), "%u", LS_DRAM);
    return tu_mmc_local_start(rpc_url, store_url, dram, LS_STRIDE, "64", pid);
}

/* Runs this binary with --role ROLE A1 A2 ("-" for NULL); returns the pid. */
static pid_t role_spawn(const char *role, const char *a1, const char *a2)
{
    const char *args[] = {role, a1 ? a1 : "-", a2 ? a2 : "-", NULL};
    return tu_role_spawn(args);
}

static bool role_run(const char *role, const char *a1, const char *a2, int timeout_ms)
{
    return tu_role_wait(role_spawn(role, a1, a2), timeout_ms, role);
}

static mmc_meta_client_t *meta_client(void)
{
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", rpc_url);
    o.timeout_ms = 5000;
    mmc_meta_client_t *c = NULL;
    return mmc_meta_client_connect(&o, &c) == MMC_OK ? c : NULL;
}

static int stats(mmc_meta_client_t *c, mmc_stats_t *st)
{
    mmc_seg_info_t *segs = NULL;
    uint32_t nseg = 0;
    int rc = mmc_meta_stats(c, st, &segs, &nseg);
    free(segs);
    return rc;
}

/* Waits until STATS shows nseg segments (a dead LocalService's link drop is noticed asynchronously). */
static bool wait_segments(mmc_meta_client_t *c, uint64_t nseg, mmc_stats_t *st)
{
    uint64_t end = util_now_ms() + 10000;
    do {
        if (stats(c, st) == 0 && st->segments == nseg) return true;
        usleep(20000);
    } while (util_now_ms() < end);
    return false;
}

/* ---------- roles (client processes) ---------- */

static int client_up(void)
{
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    int32_t rc = mmc_init(&ic);
    TU_CHECK(rc == 0, "mmc_init: %d %s", rc, mmc_get_last_err_msg());
    return rc;
}

static void role_basic(void)
{
    const uint64_t n = 100000;
    uint8_t *a = malloc(n), *b = malloc(n + 100);
    fill(a, n, 1, 0);
    mmc_buffer ba = hbuf(a, n), bb = hbuf(b, n + 100);
    int32_t rc = mmcc_put_opt("kv/one", &ba, NULL, 0);
    TU_CHECK(rc == 0, "put: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(mmcc_exist("kv/one", 0) == 0, "exist");
    TU_CHECK(mmcc_exist("kv/none", 0) == MMC_KEY_NOT_FOUND, "not exist");
    memset(b, 0xEE, n + 100);
    rc = mmcc_get("kv/one", &bb, 0);
    TU_CHECK(rc == 0 && check(b, n, 1, 0) && b[n] == 0xEE, "get into a bigger buffer: %d %s", rc, mmc_get_last_err_msg());
    fill(a, n, 2, 0);
    TU_CHECK(mmcc_put_opt("kv/one", &ba, NULL, 0) == 0, "second put of a key succeeds");
    TU_CHECK(mmcc_get("kv/one", &bb, 0) == 0 && check(b, n, 1, 0), "... without changing it");
    mmc_data_info di;
    TU_CHECK(mmcc_query("kv/one", &di, 0) == 0 && di.size == n && di.valid && di.numBlobs == 1, "query");
    TU_CHECK(mmcc_query("kv/none", &di, 0) == MMC_KEY_NOT_FOUND, "query missing");
    mmc_key_info ki;
    TU_CHECK(mmcc_get_key_info("kv/one", &ki) == 0 && ki.size == n && ki.gvas[0] != 0, "key info");
    TU_CHECK(mmcc_remove("kv/one", 0) == 0, "remove");
    TU_CHECK(mmcc_get("kv/one", &bb, 0) == MMC_KEY_NOT_FOUND, "get removed");
    TU_CHECK(mmcc_remove("kv/one", 0) == MMC_KEY_NOT_FOUND, "remove twice");

    /* batch forms: 64 keys of different sizes */
    enum { NB = 64 };
    const char *keys[NB];
    char names[NB][32];
    mmc_buffer bufs[NB], outs[NB];
    uint8_t *src[NB], *dst[NB];
    int32_t res[NB];
    for (int i = 0; i < NB; i++) {
        snprintf(names[i], sizeof(names[i]), "kv/batch/%d", i);
        keys[i] = names[i];
        uint64_t len = 4096u * (uint64_t)(i + 1) + (uint64_t)i;
        src[i] = malloc(len);
        dst[i] = malloc(len);
        fill(src[i], len, key_seed(keys[i], 0), 0);
        bufs[i] = hbuf(src[i], len);
        outs[i] = hbuf(dst[i], len);
    }
    rc = mmcc_batch_put(keys, NB, bufs, NULL, 0, res);
    int bad = 0;
    for (int i = 0; i < NB; i++) bad += res[i] != 0;
    TU_CHECK(rc == 0 && bad == 0, "batch put: %d, %d bad", rc, bad);
    rc = mmcc_batch_exist(keys, NB, res, 0);
    bad = 0;
    for (int i = 0; i < NB; i++) bad += res[i] != 0;
    TU_CHECK(rc == 0 && bad == 0, "batch exist");
    rc = mmcc_batch_get(keys, NB, outs, 0, res);
    bad = 0;
    for (int i = 0; i < NB; i++) bad += res[i] != 0 || !check(dst[i], outs[i].len, key_seed(keys[i], 0), 0);
    TU_CHECK(rc == 0 && bad == 0, "batch get: %d bad", bad);
    mmc_data_info infos[NB];
    TU_CHECK(mmcc_batch_query(keys, NB, infos, 0) == 0 && infos[5].size == bufs[5].len && infos[63].valid, "batch query");
    const char *half[NB / 2];
    for (int i = 0; i < NB / 2; i++) half[i] = keys[2 * i];
    rc = mmcc_batch_remove(half, NB / 2, res, 0);
    TU_CHECK(rc == 0 && res[0] == 0 && res[NB / 2 - 1] == 0, "batch remove");
    rc = mmcc_batch_exist(keys, NB, res, 0);
    bad = 0;
    for (int i = 0; i < NB; i++) bad += res[i] != (i % 2 == 0 ? MMC_KEY_NOT_FOUND : 0);
    TU_CHECK(rc == 0 && bad == 0, "exist after batch remove: %d wrong", bad);
    rc = mmcc_batch_get(keys, NB, outs, 0, res);
    bad = 0;
    for (int i = 0; i < NB; i++)
        bad += i % 2 == 0 ? res[i] != MMC_KEY_NOT_FOUND : (res[i] != 0 || !check(dst[i], outs[i].len, key_seed(keys[i], 0), 0));
    TU_CHECK(rc == 0 && bad == 0, "batch get after remove: %d wrong", bad);
    for (int i = 0; i < NB; i++) {
        free(src[i]);
        free(dst[i]);
    }

    /* the DeepSeek block: 122 pieces gathered, scattered into other buffers */
    blk_t in, out;
    blk_init(&in, 4096);
    blk_init(&out, 12288);
    blk_fill(&in, 77);
    memset(out.lat, 0, LAYERS * (LAT + 12288));
    memset(out.rope, 0, LAYERS * (ROPE + 12288));
    rc = mmcc_put_layers("kv/blk/0", in.layers, 2 * LAYERS, NULL, 0);
    TU_CHECK(rc == 0, "put_layers: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(mmcc_query("kv/blk/0", &di, 0) == 0 && di.size == BLOCK, "block size %" PRIu64, di.size);
    rc = mmcc_get_layers("kv/blk/0", out.layers, 2 * LAYERS, 0);
    TU_CHECK(rc == 0 && blk_check(&out, 77), "get_layers byte for byte: %d %s", rc, mmc_get_last_err_msg());
    /* and as one flat buffer */
    uint8_t *flat = malloc(BLOCK);
    mmc_buffer fb = hbuf(flat, BLOCK);
    TU_CHECK(mmcc_get("kv/blk/0", &fb, 0) == 0 && check(flat, BLOCK, 77, 0), "block read flat");
    /* batch layers: 4 blocks */
    enum { NBLK = 4 };
    blk_t bi[NBLK], bo[NBLK];
    const char *bkeys[NBLK] = {"kv/blk/b0", "kv/blk/b1", "kv/blk/b2", "kv/blk/b3"};
    const mmc_buffer *bl_in[NBLK], *bl_out[NBLK];
    uint32_t nl[NBLK];
    for (int i = 0; i < NBLK; i++) {
        blk_init(&bi[i], 8192);
        blk_init(&bo[i], 0);
        blk_fill(&bi[i], 100 + (uint64_t)i);
        bl_in[i] = bi[i].layers;
        bl_out[i] = bo[i].layers;
        nl[i] = 2 * LAYERS;
    }
    int32_t bres[NBLK];
    rc = mmcc_batch_put_layers(bkeys, NBLK, bl_in, nl, NULL, 0, bres);
    TU_CHECK(rc == 0 && bres[0] == 0 && bres[3] == 0, "batch_put_layers: %d %d %s", rc, bres[0], mmc_get_last_err_msg());
    rc = mmcc_batch_get_layers(bkeys, NBLK, bl_out, nl, 0, bres);
    bad = 0;
    for (int i = 0; i < NBLK; i++) bad += bres[i] != 0 || !blk_check(&bo[i], 100 + (uint64_t)i);
    TU_CHECK(rc == 0 && bad == 0, "batch_get_layers byte for byte: %d bad", bad);
    /* size rules: layers must add up exactly; a plain buffer must hold the object */
    TU_CHECK(mmcc_get_layers("kv/blk/0", out.layers, 2 * LAYERS - 1, 0) == MMC_BUFFER_TOO_SMALL, "fewer layers");
    mmc_buffer extra[2 * LAYERS + 1];
    memcpy(extra, out.layers, sizeof(out.layers));
    extra[2 * LAYERS] = hbuf(flat, 16);
    TU_CHECK(mmcc_get_layers("kv/blk/0", extra, 2 * LAYERS + 1, 0) == MMC_INVALID_PARAM, "more layers");
    fb.len = BLOCK - 1;
    TU_CHECK(mmcc_get("kv/blk/0", &fb, 0) == MMC_BUFFER_TOO_SMALL, "short flat buffer");
    free(flat);
    for (int i = 0; i < NBLK; i++) {
        blk_fini(&bi[i]);
        blk_fini(&bo[i]);
    }

    /* GVA level: alloc, copy the layers in, finish; lease, copy out, release */
    const char *gk[2] = {"kv/gva/0", "kv/gva/1"};
    uint64_t sizes[2] = {BLOCK, BLOCK}, gvas[2];
    int32_t gr[2], gs[2];
    rc = mmcc_batch_alloc(gk, sizes, 2, MMC_MEDIA_DRAM, gvas, gr);
    TU_CHECK(rc == 0 && gr[0] == 0 && gr[1] == 0 && gvas[0] && gvas[1], "batch_alloc");
    TU_CHECK(mmcc_exist("kv/gva/0", 0) == MMC_OBJECT_NOT_READY, "allocated key not readable yet");
    const mmc_buffer *gl[2] = {in.layers, in.layers};
    uint32_t gn[2] = {2 * LAYERS, 2 * LAYERS};
    rc = mmcc_batch_copy_layers(gvas, gl, gn, 2, MMC_COPY_H2G);
    TU_CHECK(rc == 0, "batch_copy_layers: %d %s", rc, mmc_get_last_err_msg());
    int32_t fin[2] = {0, MMC_ERROR};
    rc = mmcc_batch_write_finish(gk, fin, 2, gs);
    TU_CHECK(rc == 0 && gs[0] == 0 && gs[1] == 0, "write_finish: %d %d %d", rc, gs[0], gs[1]);
    TU_CHECK(mmcc_exist("kv/gva/0", 0) == 0 && mmcc_exist("kv/gva/1", 0) == MMC_KEY_NOT_FOUND, "published / aborted");
    uint32_t granted = 0;
    rc = mmcc_batch_add_lease(gk, 2, 60000, gr, &granted);
    TU_CHECK(rc == 0 && gr[0] == 0 && gr[1] == MMC_KEY_NOT_FOUND && granted > 0, "add_lease: %d %d %u", gr[0], gr[1], granted);
    TU_CHECK(mmcc_get_key_info("kv/gva/0", &ki) == 0 && ki.gvas[0] == gvas[0], "key info GVA");
    memset(out.lat, 0, LAYERS * (LAT + 12288));
    const mmc_buffer *ol[1] = {out.layers};
    rc = mmcc_batch_copy_layers(gvas, ol, gn, 1, MMC_COPY_G2H);
    TU_CHECK(rc == 0 && blk_check(&out, 77), "batch_copy_layers out");
    uint8_t small[64];
    mmc_buffer sb = hbuf(small, sizeof(small));
    uint64_t ssz = 64;
    TU_CHECK(mmcc_batch_copy(gvas, &sb, &ssz, 1, MMC_COPY_G2H) == 0 && check(small, 64, 77, 0), "batch_copy");
    ssz = 65;
    TU_CHECK(mmcc_batch_copy(gvas, &sb, &ssz, 1, MMC_COPY_G2H) == MMC_BUFFER_TOO_SMALL, "batch_copy size > buffer");
    TU_CHECK(mmcc_remove("kv/gva/0", 0) == MMC_LEASE_NOT_EXPIRED, "remove of a leased key refused without force");
    TU_CHECK(mmcc_remove("kv/gva/0", MMC_REMOVE_FORCE) == 0, "forced remove of a leased key");
    ssz = 64;
    TU_CHECK(mmcc_batch_copy(gvas, &sb, &ssz, 1, MMC_COPY_G2H) == 0 && check(small, 64, 77, 0),
             "a removed key's space stays while this process leases it");
    rc = mmcc_batch_remove_lease(gk, 2, gr);
    TU_CHECK(rc == 0 && gr[0] == 0 && gr[1] == MMC_LINK_NOT_FOUND, "remove_lease: %d %d", gr[0], gr[1]);
    blk_fini(&in);
    blk_fini(&out);

    uint32_t id = 0;
    TU_CHECK(mmcc_local_service_id(&id) == 0 && id != UINT32_MAX, "local service id");
    TU_CHECK(mmcc_register_buffer((uint64_t)(uintptr_t)a, n) == 0, "register_buffer");
    TU_CHECK(mmcc_unregister_buffer((uint64_t)(uintptr_t)a, n) == 0, "unregister_buffer");
    free(a);
    free(b);
}

/* Writes keys PREFIX/0..count-1 (1 MiB + i bytes, seed from the key) with `replicas` replicas. */
static void role_write(const char *prefix, int count, int replicas)
{
    uint64_t max = (1u << 20) + (uint64_t)count;
    uint8_t *p = malloc(max);
    mmc_put_options opt = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = (uint16_t)replicas};
    for (int r = 0; r < 8; r++) opt.preferredLocalServiceIDs[r] = -1;
    int bad = 0;
    for (int i = 0; i < count; i++) {
        char key[64];
        snprintf(key, sizeof(key), "%s/%d", prefix, i);
        uint64_t len = (1u << 20) + (uint64_t)i;
        fill(p, len, key_seed(key, 0), 0);
        mmc_buffer b = hbuf(p, len);
        int32_t rc = mmcc_put_opt(key, &b, &opt, 0);
        if (rc != 0 && bad++ < 3) fprintf(stderr, "put %s: %d %s\n", key, rc, mmc_get_last_err_msg());
    }
    TU_CHECK(bad == 0, "%d of %d puts failed", bad, count);
    free(p);
}

/* Reads PREFIX/0..count-1 and checks them; want_replicas > 0: query shows that many on distinct ranks. */
static void role_read(const char *prefix, int count, int want_replicas)
{
    uint64_t max = (1u << 20) + (uint64_t)count;
    uint8_t *p = malloc(max);
    int bad = 0, rep_bad = 0;
    for (int i = 0; i < count; i++) {
        char key[64];
        snprintf(key, sizeof(key), "%s/%d", prefix, i);
        uint64_t len = (1u << 20) + (uint64_t)i;
        mmc_buffer b = hbuf(p, max);
        int32_t rc = mmcc_get(key, &b, 0);
        if (rc != 0 || !check(p, len, key_seed(key, 0), 0)) {
            if (bad++ < 3) fprintf(stderr, "get %s: %d %s\n", key, rc, mmc_get_last_err_msg());
        }
        if (want_replicas > 0) {
            mmc_data_info di;
            if (mmcc_query(key, &di, 0) != 0 || di.numBlobs != want_replicas ||
                (want_replicas == 2 && di.ranks[0] == di.ranks[1]))
                rep_bad++;
        }
    }
    TU_CHECK(bad == 0, "%d of %d gets failed or wrong", bad, count);
    TU_CHECK(rep_bad == 0, "%d keys without %d replicas on distinct LocalServices", rep_bad, want_replicas);
    free(p);
}

/* Same keys, a different value per writer; every put succeeds; the stored value is one writer's, whole. */
#define RACE_KEYS 40
#define RACE_LEN (256u << 10)
static void role_race_write(int writer)
{
    uint8_t *p = malloc(RACE_LEN);
    int bad = 0;
    for (int i = 0; i < RACE_KEYS; i++) {
        char key[64];
        snprintf(key, sizeof(key), "race/%d", i);
        fill(p, RACE_LEN, key_seed(key, (uint64_t)writer + 1), 0);
        mmc_buffer b = hbuf(p, RACE_LEN);
        int32_t rc = mmcc_put_opt(key, &b, NULL, 0);
        if (rc != 0 && bad++ < 3) fprintf(stderr, "writer %d put %s: %d %s\n", writer, key, rc, mmc_get_last_err_msg());
    }
    TU_CHECK(bad == 0, "writer %d: %d puts failed", writer, bad);
    free(p);
}

/* Which writer's value p holds (1..4), 0 when none (torn or garbage). */
static int race_owner(const char *key, const uint8_t *p)
{
    for (int w = 0; w < 4; w++)
        if (check(p, RACE_LEN, key_seed(key, (uint64_t)w + 1), 0)) return w + 1;
    return 0;
}

static void role_race_read(int final)
{
    uint8_t *p = malloc(RACE_LEN);
    int torn = 0, errs = 0, seen = 0;
    uint64_t end = util_now_ms() + (final ? 0 : 1500);
    do {
        for (int i = 0; i < RACE_KEYS; i++) {
            char key[64];
            snprintf(key, sizeof(key), "race/%d", i);
            mmc_buffer b = hbuf(p, RACE_LEN);
            int32_t rc = mmcc_get(key, &b, 0);
            if (rc == 0) {
                seen++;
                if (race_owner(key, p) == 0) torn++;
            } else if (final || (rc != MMC_KEY_NOT_FOUND && rc != MMC_OBJECT_NOT_READY)) {
                if (errs++ < 3) fprintf(stderr, "race get %s: %d %s\n", key, rc, mmc_get_last_err_msg());
            }
        }
    } while (util_now_ms() < end);
    TU_CHECK(torn == 0, "%d torn values among %d reads", torn, seen);
    TU_CHECK(errs == 0, "%d unexpected get errors", errs);
    if (final) TU_CHECK(seen == RACE_KEYS, "final read saw %d of %d keys", seen, RACE_KEYS);
    free(p);
}

/* Gets racing removes: the remover removes rr/i and reuses the space with other values;
 * the reader sees either rr/i's full value or not-found. */
#define RR_KEYS 120
#define RR_LEN (512u << 10)
static void role_rr_write(void)
{
    uint8_t *p = malloc(RR_LEN);
    int bad = 0;
    for (int i = 0; i < RR_KEYS; i++) {
        char key[64];
        snprintf(key, sizeof(key), "rr/%d", i);
        fill(p, RR_LEN, key_seed(key, 0), 0);
        mmc_buffer b = hbuf(p, RR_LEN);
        if (mmcc_put_opt(key, &b, NULL, 0) != 0) bad++;
    }
    TU_CHECK(bad == 0, "rr_write: %d puts failed", bad);
    free(p);
}

static void role_rr_remove(void)
{
    uint8_t *p = malloc(RR_LEN);
    int bad = 0;
    for (int i = 0; i < RR_KEYS; i++) {
        char key[64], other[64];
        snprintf(key, sizeof(key), "rr/%d", i);
        int32_t rc = mmcc_remove(key, MMC_REMOVE_FORCE); /* readers hold leases on it: the race is the point */
        if (rc != 0 && bad++ < 3) fprintf(stderr, "remove %s: %d %s\n", key, rc, mmc_get_last_err_msg());
        snprintf(other, sizeof(other), "rr-other/%d", i);
        fill(p, RR_LEN, key_seed(other, 0), 0);
        mmc_buffer b = hbuf(p, RR_LEN);
        rc = mmcc_put_opt(other, &b, NULL, 0);
        if (rc != 0 && bad++ < 3) fprintf(stderr, "put %s: %d %s\n", other, rc, mmc_get_last_err_msg());
        usleep(2000);
    }
    TU_CHECK(bad == 0, "remover: %d errors", bad);
    free(p);
}

static void role_rr_read(void)
{
    uint8_t *p = malloc(RR_LEN);
    int garbage = 0, errs = 0, full = 0, gone = 0;
    uint64_t end = util_now_ms() + 3000;
    while (util_now_ms() < end && gone < RR_KEYS) {
        gone = 0;
        for (int i = 0; i < RR_KEYS; i++) {
            char key[64];
            snprintf(key, sizeof(key), "rr/%d", i);
            mmc_buffer b = hbuf(p, RR_LEN);
            int32_t rc = mmcc_get(key, &b, 0);
            if (rc == 0) {
                full++;
                if (!check(p, RR_LEN, key_seed(key, 0), 0)) garbage++;
            } else if (rc == MMC_KEY_NOT_FOUND) {
                gone++;
            } else if (errs++ < 3) {
                fprintf(stderr, "rr get %s: %d %s\n", key, rc, mmc_get_last_err_msg());
            }
        }
    }
    TU_CHECK(garbage == 0, "%d garbage values among %d full reads", garbage, full);
    TU_CHECK(errs == 0, "%d errors other than not-found", errs);
    free(p);
}

/* Fill the pool several times over: every put succeeds (eviction makes room),
 * gets give the value or not-found, the newest keys are there, the oldest gone. */
static void role_evict(int count)
{
    const uint64_t len = 1u << 20;
    uint8_t *p = malloc(len);
    int put_bad = 0, get_bad = 0, found = 0, missing = 0;
    for (int i = 0; i < count; i++) {
        char key[64];
        snprintf(key, sizeof(key), "ev/%d", i);
        fill(p, len, key_seed(key, 0), 0);
        mmc_buffer b = hbuf(p, len);
        int32_t rc = mmcc_put_opt(key, &b, NULL, 0);
        if (rc != 0 && put_bad++ < 3) fprintf(stderr, "evict put %s: %d %s\n", key, rc, mmc_get_last_err_msg());
    }
    int newest_ok = 0;
    for (int i = 0; i < count; i++) {
        char key[64];
        snprintf(key, sizeof(key), "ev/%d", i);
        mmc_buffer b = hbuf(p, len);
        int32_t rc = mmcc_get(key, &b, 0);
        if (rc == 0) {
            found++;
            if (!check(p, len, key_seed(key, 0), 0)) get_bad++;
            if (i >= count - 32) newest_ok++;
        } else if (rc == MMC_KEY_NOT_FOUND) {
            missing++;
        } else if (get_bad++ < 3) {
            fprintf(stderr, "evict get %s: %d %s\n", key, rc, mmc_get_last_err_msg());
        }
    }
    char first[64];
    snprintf(first, sizeof(first), "ev/0");
    TU_CHECK(put_bad == 0, "%d of %d puts failed under eviction", put_bad, count);
    TU_CHECK(get_bad == 0, "%d gets wrong or with errors other than not-found", get_bad);
    TU_CHECK(newest_ok == 32, "only %d of the 32 newest keys readable", newest_ok);
    TU_CHECK(missing > count / 2 && mmcc_exist(first, 0) == MMC_KEY_NOT_FOUND, "%d of %d evicted, ev/0 gone", missing,
             count);
    free(p);
}

static int role_main(const char *role, const char *a1, const char *a2)
{
    if (client_up() != 0) return tu_summary();
    if (strcmp(role, "basic") == 0) role_basic();
    else if (strcmp(role, "write") == 0) role_write(a1, atoi(a2), 1);
    else if (strcmp(role, "write2") == 0) role_write(a1, atoi(a2), 2);
    else if (strcmp(role, "read") == 0) role_read(a1, atoi(a2), 0);
    else if (strcmp(role, "read2") == 0) role_read(a1, atoi(a2), 2);
    else if (strcmp(role, "race_write") == 0) role_race_write(atoi(a1));
    else if (strcmp(role, "race_read") == 0) role_race_read(atoi(a1));
    else if (strcmp(role, "rr_write") == 0) role_rr_write();
    else if (strcmp(role, "rr_remove") == 0) role_rr_remove();
    else if (strcmp(role, "rr_read") == 0) role_rr_read();
    else if (strcmp(role, "evict") == 0) role_evict(atoi(a1));
    else if (strcmp(role, "remove_all") == 0) TU_CHECK(mmcc_remove_all(MMC_REMOVE_FORCE) == 0, "mmcc_remove_all: %s", mmc_get_last_err_msg());
    else TU_CHECK(0, "unknown role %s", role);
    mmc_uninit();
    return tu_summary();
}

/* ---------- driver ---------- */

/* mmcctl put/get with a pure-client LocalService (config from MMC_LOCAL_CONFIG_PATH). */
static void test_mmcctl(void)
{
    char in[600], outp[600], cmd[2048], out[4096];
    snprintf(in, sizeof(in), "%s/value.in", tmpdir);
    snprintf(outp, sizeof(outp), "%s/value.out", tmpdir);
    uint64_t len = (3u << 20) + 17;
    uint8_t *v = malloc(len);
    fill(v, len, 4242, 0);
    FILE *f = fopen(in, "wb");
    fwrite(v, 1, len, f);
    fclose(f);
    const char *ctl = "mmcctl";
    snprintf(cmd, sizeof(cmd), "%s/%s --meta %s put ctl/file %s 2>&1", tu_build_dir(), ctl, rpc_url, in);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0, "mmcctl put: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/%s --meta %s get ctl/file %s 2>&1 && cmp %s %s", tu_build_dir(), ctl, rpc_url, outp,
             in, outp);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0, "mmcctl get FILE gives the same bytes: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/%s --meta %s get ctl/file - 2>/dev/null | cmp - %s", tu_build_dir(), ctl, rpc_url, in);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0, "mmcctl get - to stdout: %s", out);
    snprintf(cmd, sizeof(cmd), "printf hello | %s/%s --meta %s put ctl/stdin - 2>&1 && %s/%s --meta %s get ctl/stdin - 2>&1",
             tu_build_dir(), ctl, rpc_url, tu_build_dir(), ctl, rpc_url);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "hello") != NULL, "mmcctl put - / get -: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/%s --meta %s get ctl/missing %s 2>&1", tu_build_dir(), ctl, rpc_url, outp);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 1 && strstr(out, "key not found") != NULL, "mmcctl get missing: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/%s --meta %s info ctl/file 2>&1", tu_build_dir(), ctl, rpc_url);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "size     3145745") != NULL, "mmcctl info: %s", out);
    snprintf(cmd, sizeof(cmd), "%s/%s --meta %s put ctl/x /nonexistent/file 2>&1", tu_build_dir(), ctl, rpc_url);
    TU_CHECK(tu_run_cmd(cmd, out, sizeof(out)) == 1 && strstr(out, "cannot open") != NULL, "mmcctl put bad file: %s", out);
    free(v);
}

/* ---------- scenarios ---------- */

static pid_t meta = -1, ls[2] = {-1, -1}; /* ls[0] stays; ls[1] is the one killed, replaced and stopped */
static mmc_meta_client_t *mc;

static bool role_run(const char *role, const char *a1, const char *a2, int timeout_ms);

/* REMOVE_ALL is for members of the cluster: the driver's own link (no BM rank) is refused, a client does it. */
static bool remove_all(void)
{
    int32_t rc = mmc_meta_remove_all(mc, &(uint64_t){0}, &(uint64_t){0});
    TU_CHECK(rc == MMC_NOT_PERMITTED, "REMOVE_ALL from a link of no member is refused: %d %s", rc,
             mmc_get_last_err_msg());
    return role_run("remove_all", NULL, NULL, 60000);
}

/* Brings the cluster to n (1 or 2) LocalServices, for a scenario run on its own; in the full run each
 * scenario finds the cluster as it needs it and nothing happens here. */
static void locals(int n)
{
    mmc_stats_t st;
    if (n == 2 && ls[1] <= 0) {
        int r = local_start(&ls[1]);
        TU_CHECK(r >= 0 && wait_segments(mc, 2, &st), "a second LocalService for this scenario (rank %d)", r);
    } else if (n == 1 && ls[1] > 0) {
        int s = tu_stop_pid(ls[1], 10000);
        ls[1] = -1;
        TU_CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0 && wait_segments(mc, 1, &st),
                 "one LocalService for this scenario (status 0x%x)", s);
    }
}

static void scen_basic(void)
{
    locals(2);
    TU_CHECK(role_run("basic", NULL, NULL, 60000), "basic role");
}

static void scen_mmcctl(void)
{
    test_mmcctl();
    TU_CHECK(remove_all(), "remove_all");
}

/* one process writes, another reads */
static void scen_xp(void)
{
    TU_CHECK(role_run("write", "xp", "40", 60000), "cross-process write");
    TU_CHECK(role_run("read", "xp", "40", 60000), "cross-process read");
}

/* concurrent writers of the same keys, readers alongside */
static void scen_race(void)
{
    pid_t w[4], rd[2];
    char ids[4][8];
    for (int i = 0; i < 4; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%d", i);
        w[i] = role_spawn("race_write", ids[i], NULL);
    }
    rd[0] = role_spawn("race_read", "0", NULL);
    rd[1] = role_spawn("race_read", "0", NULL);
    for (int i = 0; i < 4; i++) TU_CHECK(tu_role_wait(w[i], 60000, "race_write"), "race writer %d", i);
    for (int i = 0; i < 2; i++) TU_CHECK(tu_role_wait(rd[i], 60000, "race_read"), "race reader %d", i);
    TU_CHECK(role_run("race_read", "1", NULL, 60000), "race: final values whole");
}

/* gets racing removes */
static void scen_rr(void)
{
    TU_CHECK(role_run("rr_write", NULL, NULL, 60000), "gets vs removes: write");
    pid_t rrr = role_spawn("rr_read", NULL, NULL), rrm = role_spawn("rr_remove", NULL, NULL);
    TU_CHECK(tu_role_wait(rrm, 60000, "rr_remove"), "remover");
    TU_CHECK(tu_role_wait(rrr, 60000, "rr_read"), "reader racing the remover: full value or not-found");
    TU_CHECK(remove_all(), "remove_all");
}

/* replicas on distinct LocalServices; SIGKILL one */
static void scen_replicas(void)
{
    locals(2);
    mmc_stats_t st;
    TU_CHECK(role_run("write2", "rep", "30", 60000), "write with 2 replicas");
    TU_CHECK(role_run("read2", "rep", "30", 60000), "read with 2 replicas on distinct ranks");
    kill(ls[1], SIGKILL);
    int s2;
    tu_wait_pid(ls[1], 5000, &s2);
    ls[1] = -1;
    TU_CHECK(wait_segments(mc, 1, &st) && st.media[MMC_MEDIA_DRAM].total == LS_DRAM,
             "SIGKILLed LocalService's capacity returned: %" PRIu64 " segments, %" PRIu64 " bytes", st.segments,
             st.media[MMC_MEDIA_DRAM].total);
    TU_CHECK(role_run("read", "rep", "30", 60000), "gets succeed from the surviving replica");
    TU_CHECK(st.objects >= 30, "objects with a surviving replica kept (%" PRIu64 ")", st.objects);
}

/* a new LocalService, then a clean stop: its single-replica keys go, so does its capacity */
static void scen_leave(void)
{
    locals(1);
    mmc_stats_t st;
    int r2 = local_start(&ls[1]);
    TU_CHECK(r2 >= 0 && wait_segments(mc, 2, &st), "LocalService restarted (rank %d)", r2);
    TU_CHECK(remove_all(), "remove_all");
    TU_CHECK(role_run("write", "leave", "100", 60000), "write before leave");
    int st2 = tu_stop_pid(ls[1], 10000);
    ls[1] = -1;
    TU_CHECK(WIFEXITED(st2) && WEXITSTATUS(st2) == 0, "clean stop exits 0 (status 0x%x)", st2);
    TU_CHECK(wait_segments(mc, 1, &st) && st.media[MMC_MEDIA_DRAM].total == LS_DRAM &&
                 st.media[MMC_MEDIA_DRAM].used <= LS_DRAM,
             "left LocalService's capacity returned");
    TU_CHECK(st.objects < 100 && st.objects > 0, "its keys dropped, the others kept (%" PRIu64 " left)", st.objects);
}

/* eviction: 4x the pool that is left (one LocalService) */
static void scen_evict(void)
{
    locals(1);
    mmc_stats_t st;
    TU_CHECK(remove_all(), "remove_all");
    char cnt[16];
    snprintf(cnt, sizeof(cnt), "%u", 4 * (LS_DRAM >> 20));
    TU_CHECK(role_run("evict", cnt, NULL, 120000), "eviction under pressure");
    TU_CHECK(stats(mc, &st) == 0 && st.media[MMC_MEDIA_DRAM].evictions > 0, "evictions counted");
}

static const tu_scen_t scenarios[] = {
    {.name = "basic", .run = scen_basic, .what = "put/get/exist/remove/query, batches, 122-piece layers, GVA calls"},
    {.name = "mmcctl", .run = scen_mmcctl, .what = "mmcctl put/get/info with files and stdin/stdout"},
    {.name = "xp", .run = scen_xp, .what = "one process writes, another reads"},
    {.name = "race", .run = scen_race, .what = "4 writers of the same keys, readers never see a torn value"},
    {.name = "rr", .run = scen_rr, .what = "gets racing removes and space reuse: full value or not found"},
    {.name = "replicas", .run = scen_replicas, .what = "2 replicas on 2 LocalServices, one SIGKILLed"},
    {.name = "leave", .run = scen_leave, .what = "a LocalService's clean stop takes its keys and capacity"},
    {.name = "evict", .run = scen_evict, .what = "4x the pool of one LocalService: eviction"},
};

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--role") == 0) return role_main(argv[2], argv[3], argv[4]);
    int rc = tu_scen_args(argc, argv, scenarios, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    if (rc >= 0) return rc;
    signal(SIGPIPE, SIG_IGN);
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    if (meta_start(&meta) != 0) {
        TU_CHECK(0, "mmc-meta start");
        goto out;
    }
    snprintf(cfg_path, sizeof(cfg_path), "%s/client.conf", tmpdir);
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = LS_STRIDE, .world = "64", .timeout_s = 5};
    TU_CHECK(tu_mmc_client_conf(cfg_path, &cc) == 0, "client config %s", cfg_path);
    int r1 = local_start(&ls[0]), r2 = local_start(&ls[1]);
    TU_CHECK(r1 >= 0 && r2 >= 0 && r1 != r2, "two LocalServices: ranks %d %d", r1, r2);
    if (r1 < 0 || r2 < 0) goto out;
    mc = meta_client();
    TU_CHECK(mc != NULL, "meta client");
    if (mc == NULL) goto out;
    mmc_stats_t st;
    TU_CHECK(stats(mc, &st) == 0 && st.segments == 2 && st.media[MMC_MEDIA_DRAM].total == 2ull * LS_DRAM,
             "2 segments, %u bytes each", LS_DRAM);
    tu_scen_run();
    mmc_meta_client_close(mc);
out:
    if (ls[1] > 0) tu_stop_pid(ls[1], 5000);
    if (ls[0] > 0) tu_stop_pid(ls[0], 5000);
    if (meta > 0) tu_stop_pid(meta, 5000);
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
