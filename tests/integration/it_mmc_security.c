/*
 * "Open by default" closed, with real processes: mmc-meta (embedded config
 * store, membership checked) and two mmc-local. A process that owns nothing
 * (this driver, with raw store and MetaService clients) tries each attack:
 *  - store: overwrite and delete a LocalService's member record, tombstone it
 *    while its writer is alive, forge liveness keys (of a live and of a free
 *    rank), and, having joined the BM group itself, overwrite another rank's
 *    record;
 *  - MetaService: MOUNT a fake segment for a rank it does not hold (with no
 *    proof and with a forged one), UNMOUNT a LocalService's segment,
 *    REMOVE_ALL.
 * Each is refused (SMEM_ERR_NOT_PERMITTED / MMC_NOT_PERMITTED), the server
 * logs a WARN naming the peer and the key or call, the record bytes and the
 * segments are unchanged, and the keys put before the attacks read back with
 * their own bytes. Scenarios: store, meta (each sets up the cluster).
 */
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
#include "store/store.h"
#include "testutil.h"
#include "tu_data.h"
#include "tu_mmc.h"
#include "tu_scen.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define LS_DRAM (32u << 20)
#define LS_STRIDE "64MB"
#define WORLD "16"
#define VAL (64u << 10)
#define NKEYS 16
#define MEMBER_PREFIX "smem/bm/0/host/member/"
#define BASE_KEY "smem/bm/0/host/base"
#define REFS_KEY "smem/bm/0/host/refs"

static char tmpdir[256], meta_conf[600], meta_log[600], cli_conf[600];
static char rpc_url[128], store_url[128];
static pid_t meta = -1, ls[2] = {-1, -1};
static int rank[2] = {-1, -1};

/* ---------- roles: a member client (this binary with --role) ---------- */

static int role_main(const char *role)
{
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    if (mmc_init(&ic) != 0) {
        fprintf(stderr, "mmc_init: %s\n", mmc_get_last_err_msg());
        return 1;
    }
    uint8_t *buf = malloc(VAL);
    int bad = 0;
    char key[64];
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof(key), "sec/%d", i);
        mmc_buffer b = {.addr = (uint64_t)(uintptr_t)buf, .type = 1, .len = VAL};
        int32_t rc;
        if (strcmp(role, "put") == 0) {
            mmc_put_options o = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 2};
            for (uint32_t k = 0; k < MMC_REPLICA_MAX; k++) o.preferredLocalServiceIDs[k] = -1;
            tu_fill(buf, tu_key_tag(key), 0, VAL);
            rc = mmcc_put(key, &b, &o, 0);
        } else {
            memset(buf, 0, VAL);
            rc = mmcc_get(key, &b, 0);
            if (rc == 0 && !tu_check(buf, tu_key_tag(key), 0, VAL, key)) rc = -1;
        }
        if (rc != 0 && bad++ < 3) fprintf(stderr, "%s %s: %d %s\n", role, key, rc, mmc_get_last_err_msg());
    }
    free(buf);
    mmc_uninit();
    printf("role %s: %d of %d keys failed\n", role, bad, NKEYS);
    return bad == 0 ? 0 : 1;
}

static bool role_run(const char *role)
{
    const char *args[] = {role, NULL};
    return tu_role_run(args, 60000);
}

/* ---------- the cluster ---------- */

static bool log_has(const char *a, const char *b)
{
    char cmd[1400], out[4096];
    snprintf(cmd, sizeof(cmd), "grep -F -- '%s' '%s' | grep -F -c -- '%s'", a, meta_log, b);
    return tu_run_cmd(cmd, out, sizeof(out)) == 0 && atoi(out) > 0;
}

static bool cluster_up(void)
{
    if (meta > 0) return true;
    FILE *f = fopen(meta_conf, "a");
    if (f == NULL) return false;
    fprintf(f, "ock.mmc.log_path = %s\n", meta_log);
    fclose(f);
    const char *args[] = {"--config", meta_conf, NULL};
    if (tu_mmc_meta_start(args, &meta, rpc_url, sizeof(rpc_url), store_url, sizeof(store_url)) != 0) return false;
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = LS_STRIDE, .world = WORLD, .timeout_s = 5,
                          .log_level = "warn"};
    if (tu_mmc_client_conf(cli_conf, &cc) != 0) return false;
    char dram[32];
    snprintf(dram, sizeof(dram), "%u", LS_DRAM);
    for (int i = 0; i < 2; i++) rank[i] = tu_mmc_local_start(rpc_url, store_url, dram, LS_STRIDE, WORLD, &ls[i]);
    TU_CHECK(rank[0] >= 0 && rank[1] >= 0, "two LocalServices: ranks %d %d", rank[0], rank[1]);
    if (rank[0] < 0 || rank[1] < 0) return false;
    TU_CHECK(role_run("put"), "a member client puts %d keys with a replica on each LocalService", NKEYS);
    return true;
}

static void cluster_down(void)
{
    for (int i = 0; i < 2; i++)
        if (ls[i] > 0) tu_stop_pid(ls[i], 10000);
    if (meta > 0) TU_CHECK(WEXITSTATUS(tu_stop_pid(meta, 10000)) == 0, "mmc-meta exits 0");
}

static store_client_t *store_client(void)
{
    store_client_opts_t o;
    store_client_opts_init(&o);
    o.timeout_ms = 5000;
    store_client_t *c = NULL;
    TU_CHECK(store_client_connect(store_url, &o, &c) == 0, "raw store client: %s", util_err_get());
    return c;
}

/* ---------- scenarios ---------- */

static void scen_store(void)
{
    if (!cluster_up()) return;
    store_client_t *c = store_client();
    if (c == NULL) return;
    char key[128], live[64];
    snprintf(key, sizeof(key), MEMBER_PREFIX "%d", rank[0]);
    uint8_t *orig = NULL, *now = NULL;
    uint32_t olen = 0, nlen = 0;
    TU_CHECK(store_get(c, key, 2000, &orig, &olen) == 0 && olen > 0, "LocalService rank %d's record %s", rank[0], key);

    int32_t rc = store_set(c, key, "fake", 4);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "overwrite another member's record: %d %s", rc, util_err_get());
    TU_CHECK(strstr(util_err_get(), key) != NULL, "the refusal names the key: %s", util_err_get());
    rc = store_delete(c, key);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "delete another member's record: %d", rc);
    rc = store_cas(c, key, orig, olen, "", 0, NULL, NULL);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "tombstone a live member's record (no rank held): %d", rc);
    rc = store_append(c, key, "x", 1, NULL);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "append to another member's record: %d", rc);
    snprintf(live, sizeof(live), "smem/__live/%d", rank[0]);
    rc = store_set(c, live, "me", 2);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "overwrite a live member's liveness key: %d", rc);
    rc = store_delete(c, live);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "delete a live member's liveness key: %d", rc);
    rc = store_set(c, "smem/__live/9", "ghost", 5);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "forge the liveness key of a free rank: %d", rc);
    TU_CHECK(store_get(c, "smem/__live/9", 0, &now, &nlen) == SMEM_OBJECT_NOT_EXISTS, "no forged liveness key");
    free(now);
    now = NULL;

    /* The space's base record (layout and cluster secret) and reference count. The WARN is once a second:
     * wait for this one's own line. */
    uint8_t *base = NULL;
    uint32_t blen = 0;
    TU_CHECK(store_get(c, BASE_KEY, 0, &base, &blen) == 0 && blen > 0, "the space's base record %s", BASE_KEY);
    usleep(1100 * 1000);
    rc = store_set(c, BASE_KEY, "fake", 4);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "a non-member overwrites the base record: %d %s", rc, util_err_get());
    rc = store_delete(c, BASE_KEY);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "a non-member deletes the base record: %d", rc);
    rc = base != NULL ? store_set(c, BASE_KEY, base, blen) : SMEM_ERROR;
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "a non-member writes the base record's own bytes: %d", rc);
    rc = store_add(c, REFS_KEY, -1, NULL);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "a non-member drops the space's reference count: %d", rc);
    rc = store_delete(c, REFS_KEY);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "a non-member deletes the reference count: %d", rc);

    /* A member of the group is still not the owner of another rank's record. */
    uint32_t mine = UINT32_MAX;
    TU_CHECK(store_group_join(c, "smem", 16, UINT32_MAX, &mine) == 0, "join the BM group: %s", util_err_get());
    rc = store_set(c, key, "fake", 4);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "a member (rank %u) overwrites rank %d's record: %d", mine, rank[0], rc);
    rc = store_cas(c, key, orig, olen, "", 0, NULL, NULL);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "a member tombstones a record whose writer holds its rank: %d", rc);
    char other[128];
    snprintf(other, sizeof(other), MEMBER_PREFIX "%u", mine);
    TU_CHECK(store_set(c, other, "", 0) == 0, "a member writes its own rank's key: %s", util_err_get());
    TU_CHECK(store_delete(c, other) == 0, "and deletes it");
    /* ... nor may it change the base record's bytes (re-publishing the same ones is what survivors do) */
    rc = store_set(c, BASE_KEY, "fake", 4);
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "a member changes the base record's bytes: %d", rc);
    rc = base != NULL ? store_cas(c, BASE_KEY, base, blen, "fake", 4, NULL, NULL) : SMEM_ERROR;
    TU_CHECK(rc == SMEM_NOT_PERMITTED, "a member swaps the base record by CAS: %d", rc);
    rc = base != NULL ? store_cas(c, BASE_KEY, base, blen, base, blen, NULL, NULL) : SMEM_ERROR;
    TU_CHECK(rc == 0, "a member re-publishes the base record's own bytes: %d %s", rc, util_err_get());
    TU_CHECK(store_group_leave(c, "smem") == 0, "leave the BM group");
    TU_CHECK(store_get(c, BASE_KEY, 0, &now, &nlen) == 0 && nlen == blen && memcmp(now, base, blen) == 0,
             "the base record is unchanged");
    free(now);
    now = NULL;
    free(base);

    TU_CHECK(store_get(c, key, 0, &now, &nlen) == 0 && nlen == olen && memcmp(now, orig, olen) == 0,
             "rank %d's record is unchanged", rank[0]);
    free(now);
    free(orig);
    store_client_close(c);
    TU_CHECK(log_has("store: refused a write from", MEMBER_PREFIX), "the store's WARN names the peer and the key");
    TU_CHECK(log_has("store: refused a write from", BASE_KEY), "and the base record's refusal");
    TU_CHECK(role_run("get"), "the keys put before read back with their bytes");
}

/* A prover that claims rank r with a proof it cannot make. */
static int32_t forged_prove(void *arg, const uint8_t *challenge, uint32_t len, uint32_t *r, uint8_t *proof)
{
    (void)challenge;
    (void)len;
    *r = (uint32_t)(uintptr_t)arg;
    memset(proof, 0x5A, MMC_PROOF_SIZE);
    return MMC_OK;
}

static void scen_meta(void)
{
    if (!cluster_up()) return;
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", rpc_url);
    o.timeout_ms = 5000;
    mmc_meta_client_t *mc = NULL;
    TU_CHECK(mmc_meta_client_connect(&o, &mc) == 0, "raw MetaService client");
    if (mc == NULL) return;
    mmc_stats_t st;
    mmc_seg_info_t *segs = NULL;
    uint32_t nseg = 0;
    TU_CHECK(mmc_meta_stats(mc, &st, &segs, &nseg) == 0 && nseg == 2, "two segments before: %u", nseg);
    uint64_t gva0 = nseg ? segs[0].gva : 0;
    free(segs);

    /* A fake segment for a free rank (the MetaService would hand out whatever memory it names). */
    int32_t rc = mmc_meta_mount(mc, 7, MMC_MEDIA_DRAM, 1ull << 46, 16u << 20, NULL, NULL);
    TU_CHECK(rc == MMC_NOT_PERMITTED, "MOUNT for a rank nobody holds: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(log_has("meta: refused MOUNT from", "rank 7"), "the MetaService's WARN names the link and the rank");
    usleep(1100 * 1000); /* the WARNs are rate-limited to one a second */
    mmc_meta_client_set_prover(mc, forged_prove, (void *)(uintptr_t)rank[0]);
    rc = mmc_meta_mount(mc, (uint32_t)rank[0], MMC_MEDIA_HBM, 1ull << 46, 16u << 20, NULL, NULL);
    TU_CHECK(rc == MMC_NOT_PERMITTED, "MOUNT for a live LocalService's rank with a forged proof: %d %s", rc,
             mmc_get_last_err_msg());
    usleep(1100 * 1000);
    uint32_t dropped = 0, shrunk = 0;
    rc = mmc_meta_unmount(mc, (uint32_t)rank[0], MMC_MEDIA_DRAM, &dropped, &shrunk);
    TU_CHECK(rc == MMC_NOT_PERMITTED, "UNMOUNT of a LocalService's segment: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(log_has("meta: refused UNMOUNT from", "belongs to the link"), "WARN for the UNMOUNT");
    usleep(1100 * 1000);
    rc = mmc_meta_remove_all(mc, &(uint64_t){0}, &(uint64_t){0});
    TU_CHECK(rc == MMC_NOT_PERMITTED, "REMOVE_ALL with a forged proof: %d %s", rc, mmc_get_last_err_msg());
    mmc_meta_client_set_prover(mc, NULL, NULL);
    usleep(1100 * 1000);
    rc = mmc_meta_remove_all(mc, &(uint64_t){0}, &(uint64_t){0});
    TU_CHECK(rc == MMC_NOT_PERMITTED, "REMOVE_ALL from a link of no member: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(log_has("meta: refused REMOVE_ALL from", "proves no BM rank"), "WARN for the REMOVE_ALL");

    segs = NULL;
    TU_CHECK(mmc_meta_stats(mc, &st, &segs, &nseg) == 0 && nseg == 2 && st.objects == NKEYS,
             "after the attacks: %u segments, %" PRIu64 " objects", nseg, st.objects);
    TU_CHECK(nseg == 0 || segs[0].gva == gva0, "the segments are the LocalServices' own");
    free(segs);
    mmc_meta_client_close(mc);
    TU_CHECK(role_run("get"), "the keys put before read back with their bytes");
}

static const tu_scen_t scenarios[] = {
    {.name = "store", .run = scen_store, .what = "forged and foreign writes to member records, liveness keys, the base record and reference count"},
    {.name = "meta", .run = scen_meta, .what = "MOUNT for a rank not held, foreign UNMOUNT, REMOVE_ALL by a non-member"},
};

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--role") == 0) return role_main(argv[2]);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = tu_scen_args(argc, argv, scenarios, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    if (rc >= 0) return rc;
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    snprintf(meta_conf, sizeof(meta_conf), "%s/meta.conf", tmpdir);
    snprintf(meta_log, sizeof(meta_log), "%s/meta.log", tmpdir);
    snprintf(cli_conf, sizeof(cli_conf), "%s/client.conf", tmpdir);
    TU_CHECK(tu_mmc_meta_conf(meta_conf, 0, 0, "warn") == 0, "mmc-meta config");
    tu_scen_run();
    cluster_down();
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
