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
 * their own bytes.
 *
 * Scenario tls runs the same cluster with TLS on every listener and link
 * (mmc-meta's RPC, embedded config store and HTTPS endpoint; the
 * LocalServices' and member clients' links to them and their tcp data plane;
 * certificates of scripts/gen-test-certs.sh). A client with no TLS, or with
 * TLS but no certificate, is refused at the handshake (store, RPC, HTTPS) and
 * mmc-meta logs it. The attacker then holds a valid client certificate of the
 * cluster's CA, so TLS lets it in, but it is not a member: the same attacks,
 * the same refusals and WARNs. And a plain outsider at a LocalService's
 * data port (its address read from the member record) is refused by TLS
 * before the cluster credential is asked for; a raw WRITE gets no answer.
 *
 * Scenarios: store, meta (on a plain cluster), tls (its own cluster).
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
#include "net/net.h"
#include "smem/smem_bm_int.h"
#include "space/space_rec.h"
#include "store/store.h"
#include "testutil.h"
#include "tu_data.h"
#include "tu_mmc.h"
#include "tu_scen.h"
#include "tu_tp.h"
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
static char rpc_url[128], store_url[128], metrics_url[128];
static char certs[400]; /* the certificates of gen-test-certs.sh (scenario tls) */
static pid_t meta = -1, ls[2] = {-1, -1};
static int rank[2] = {-1, -1};
static bool cluster_tls; /* the running cluster has TLS on */

static void cluster_down(void);

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
            rc = mmcc_put_opt(key, &b, &o, 0);
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

/* Lines of mmc-meta's log with both a and b. */
static int log_count(const char *a, const char *b)
{
    char cmd[1400], out[4096];
    snprintf(cmd, sizeof(cmd), "grep -F -- '%s' '%s' | grep -F -c -- '%s'", a, meta_log, b);
    return tu_run_cmd(cmd, out, sizeof(out)) < 0 ? 0 : atoi(out);
}

static bool log_has(const char *a, const char *b) { return log_count(a, b) > 0; }

/* Waits up to 2 s for more than n lines with a and b. */
static bool log_grows(const char *a, const char *b, int n)
{
    for (int i = 0; i < 20 && log_count(a, b) <= n; i++) usleep(100 * 1000);
    return log_count(a, b) > n;
}

/* "P.enable = true" ... for prefix P with the test CA and `who`.pem/.key of certs/. */
static const char *tls_block(const char *prefix, const char *who, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.enable = true\n%s.ca.path = %s/ca.pem\n%s.cert.path = %s/%s.pem\n%s.key.path = %s/%s.key\n",
             prefix, prefix, certs, prefix, certs, who, prefix, certs, who);
    return buf;
}

/* mmc-meta and two mmc-local, plain or (tls) with TLS on every listener and link: mmc-meta's RPC, embedded
 * config store and HTTPS endpoint (server.pem); the LocalServices' and member clients' links to both and
 * their data plane (node.pem, both ends). Each cluster logs to its own file. */
static bool cluster_up(bool tls)
{
    if (meta > 0 && cluster_tls == tls) return true;
    cluster_down();
    cluster_tls = tls;
    snprintf(meta_log, sizeof(meta_log), "%s/meta%s.log", tmpdir, tls ? "-tls" : "");
    FILE *f = fopen(meta_conf, "w");
    if (f == NULL) return false;
    fprintf(f,
            "ock.mmc.meta_service_url = tcp://127.0.0.1:0\nock.mmc.meta_service.config_store_url = "
            "tcp://127.0.0.1:0\nock.mmc.meta_service.metrics_url = %s\nock.mmc.log_level = warn\n"
            "ock.mmc.log_path = %s\n",
            tls ? "http://127.0.0.1:0" : "", meta_log);
    char extra[2048] = "", b[3][600];
    if (tls) {
        fprintf(f, "%s%s", tls_block("ock.mmc.tls", "server", b[0], sizeof(b[0])),
                tls_block("ock.mmc.config_store.tls", "server", b[1], sizeof(b[1])));
        snprintf(extra, sizeof(extra), "%s%s%s", tls_block("ock.mmc.tls", "node", b[0], sizeof(b[0])),
                 tls_block("ock.mmc.config_store.tls", "node", b[1], sizeof(b[1])),
                 tls_block("ock.mmc.local_service.hcom.tls", "node", b[2], sizeof(b[2])));
    }
    fclose(f);
    const char *args[] = {"--config", meta_conf, NULL};
    tu_mmc_meta_t m = {.args = args};
    if (tu_mmc_meta_run(&m, &meta) != 0) {
        TU_CHECK(0, "mmc-meta did not start");
        meta = -1;
        return false;
    }
    snprintf(rpc_url, sizeof(rpc_url), "%s", m.rpc);
    snprintf(store_url, sizeof(store_url), "%s", m.store);
    snprintf(metrics_url, sizeof(metrics_url), "%s", m.metrics);
    if (tls) TU_CHECK(strncmp(metrics_url, "https://", 8) == 0, "the metrics endpoint is HTTPS: %s", metrics_url);
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = LS_STRIDE, .world = WORLD, .timeout_s = 5,
                          .log_level = "warn", .extra = extra};
    if (tu_mmc_client_conf(cli_conf, &cc) != 0) return false; /* the mmc-local read it too (MMC_LOCAL_CONFIG_PATH) */
    char dram[32];
    snprintf(dram, sizeof(dram), "%u", LS_DRAM);
    for (int i = 0; i < 2; i++) rank[i] = tu_mmc_local_start(rpc_url, store_url, dram, LS_STRIDE, WORLD, &ls[i]);
    TU_CHECK(rank[0] >= 0 && rank[1] >= 0, "two LocalServices%s: ranks %d %d", tls ? " on TLS" : "", rank[0], rank[1]);
    if (rank[0] < 0 || rank[1] < 0) return false;
    TU_CHECK(role_run("put"), "a member client puts %d keys with a replica on each LocalService", NKEYS);
    return true;
}

static void cluster_down(void)
{
    for (int i = 0; i < 2; i++) {
        if (ls[i] > 0) tu_stop_pid(ls[i], 10000);
        ls[i] = -1;
    }
    if (meta > 0) TU_CHECK(WEXITSTATUS(tu_stop_pid(meta, 10000)) == 0, "mmc-meta exits 0");
    meta = -1;
}

/* ---------- the attacker's clients ---------- */

/* A client TLS block of this cluster's CA holding `who`.pem (NULL: no certificate of its own). */
static mmc_tls_config client_tls(const char *who)
{
    mmc_tls_config t;
    memset(&t, 0, sizeof(t));
    t.tlsEnable = true;
    snprintf(t.caPath, sizeof(t.caPath), "%s/ca.pem", certs);
    if (who != NULL) {
        snprintf(t.certPath, sizeof(t.certPath), "%s/%s.pem", certs, who);
        snprintf(t.keyPath, sizeof(t.keyPath), "%s/%s.key", certs, who);
    }
    return t;
}

static const mmc_tls_config no_tls; /* tlsEnable false: plain */

/* A raw store client with tls (its context in *ctx: it must outlive the client). 0 or the status. */
static int32_t store_open(const mmc_tls_config *tls, uint32_t timeout_ms, store_client_t **c, net_tls_t **ctx)
{
    *c = NULL;
    *ctx = NULL;
    store_client_opts_t o;
    store_client_opts_init(&o);
    o.timeout_ms = timeout_ms;
    o.rpc.connect_timeout_ms = timeout_ms;
    if (tls->tlsEnable) {
        net_tls_opts_t to;
        net_tls_opts_from_block(&to, tls);
        int32_t rc = net_tls_create(&to, false, ctx);
        if (rc != SMEM_OK) return rc;
        o.rpc.net.tls = *ctx;
    }
    return store_client_connect(store_url, &o, c);
}

static void store_close(store_client_t *c, net_tls_t *ctx)
{
    if (c != NULL) store_client_close(c);
    if (ctx != NULL) net_tls_destroy(ctx);
}

static mmc_meta_client_t *meta_open(const mmc_tls_config *tls, uint32_t timeout_ms, int32_t *rc)
{
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", rpc_url);
    o.timeout_ms = timeout_ms;
    o.tls = *tls;
    mmc_meta_client_t *mc = NULL;
    *rc = mmc_meta_client_connect(&o, &mc);
    return mc;
}

/* ---------- the attacks (a client that owns nothing, with the TLS block tls) ---------- */

static void attack_store(const mmc_tls_config *tls)
{
    store_client_t *c = NULL;
    net_tls_t *ctx = NULL;
    int32_t orc = store_open(tls, 5000, &c, &ctx);
    TU_CHECK(orc == 0, "raw store client%s: %d %s", tls->tlsEnable ? " (TLS)" : "", orc, util_err_get());
    if (orc != 0) {
        store_close(c, ctx);
        return;
    }
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
    store_close(c, ctx);
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

static void attack_meta(const mmc_tls_config *tls)
{
    int32_t rc;
    mmc_meta_client_t *mc = meta_open(tls, 5000, &rc);
    TU_CHECK(rc == 0, "raw MetaService client%s: %d %s", tls->tlsEnable ? " (TLS)" : "", rc, mmc_get_last_err_msg());
    if (mc == NULL) return;
    mmc_stats_t st;
    mmc_seg_info_t *segs = NULL;
    uint32_t nseg = 0;
    TU_CHECK(mmc_meta_stats(mc, &st, &segs, &nseg) == 0 && nseg == 2, "two segments before: %u", nseg);
    uint64_t gva0 = nseg ? segs[0].gva : 0;
    free(segs);

    /* A fake segment for a free rank (the MetaService would hand out whatever memory it names). */
    rc = mmc_meta_mount(mc, 7, MMC_MEDIA_DRAM, 1ull << 46, 16u << 20, NULL, NULL);
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

/* ---------- scenarios ---------- */

static void scen_store(void)
{
    if (cluster_up(false)) attack_store(&no_tls);
}

static void scen_meta(void)
{
    if (cluster_up(false)) attack_meta(&no_tls);
}

/* A client with tls (plain, or TLS without a certificate) gets nothing from the store or the RPC. */
static void refused_at_tls(const mmc_tls_config *tls, const char *what)
{
    store_client_t *c = NULL;
    net_tls_t *ctx = NULL;
    char key[128];
    snprintf(key, sizeof(key), MEMBER_PREFIX "%d", rank[0]);
    const char *hs = "TLS handshake with";
    int n = log_count(hs, "failed");
    int32_t rc = store_open(tls, 1500, &c, &ctx);
    if (rc == SMEM_OK) {
        uint8_t *v = NULL;
        uint32_t vlen = 0;
        rc = store_get(c, key, 0, &v, &vlen);
        free(v);
    }
    store_close(c, ctx);
    TU_CHECK(rc == SMEM_CONN_FAILED, "%s at the config store: refused (%d)", what, rc);
    TU_CHECK(log_grows(hs, "failed", n), "mmc-meta logs the failed handshake");
    usleep(300 * 1000); /* a redial the closed client left in flight logs too: count it before the RPC's */
    n = log_count(hs, "failed");
    mmc_meta_client_t *mc = meta_open(tls, 1500, &rc);
    if (mc != NULL) { /* a plain client may get a socket, but no call succeeds */
        mmc_stats_t st;
        mmc_seg_info_t *segs = NULL;
        uint32_t nseg = 0;
        rc = mmc_meta_stats(mc, &st, &segs, &nseg);
        free(segs);
        mmc_meta_client_close(mc);
    }
    TU_CHECK(rc == MMC_NOT_CONNECTED || rc == MMC_TIMEOUT, "%s at the MetaService RPC: refused (%d)", what, rc);
    TU_CHECK(log_grows(hs, "failed", n), "mmc-meta logs the failed handshake");
}

/* curl the HTTPS endpoint's /health with the client certificate `who` (NULL: none): the HTTP status or 0. */
static int https_health(const char *who)
{
    char cmd[2048], cert[800] = "", out[4096];
    if (who != NULL) snprintf(cert, sizeof(cert), "--cert %s/%s.pem --key %s/%s.key", certs, who, certs, who);
    snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null --max-time 5 --cacert %s/ca.pem %s -w '%%{http_code}' '%s/health'",
             certs, cert, metrics_url);
    if (tu_run_cmd(cmd, out, sizeof(out)) < 0) return 0;
    return atoi(out);
}

/* A plain outsider at LocalService rank r's data port (its address read from the member record over a store client with tls). */
static void attack_data_plane(const mmc_tls_config *tls, int r)
{
    store_client_t *c = NULL;
    net_tls_t *ctx = NULL;
    char key[128];
    snprintf(key, sizeof(key), MEMBER_PREFIX "%d", r);
    uint8_t *v = NULL;
    uint32_t vlen = 0;
    space_rec_t rec;
    int32_t rc = store_open(tls, 5000, &c, &ctx);
    if (rc == SMEM_OK) rc = store_get(c, key, 0, &v, &vlen);
    if (rc == SMEM_OK) rc = space_rec_decode(v, vlen, &rec);
    free(v);
    store_close(c, ctx);
    TU_CHECK(rc == SMEM_OK && rec.tp_addr_len > 0, "rank %d's member record names its data port: %d", r, rc);
    if (rc != SMEM_OK) return;
    rc = tu_outsider_connect(rec.tp_addr, NULL, SMEM_BM_TP_WINDOW_HOST, 0);
    /* refused by TLS, before the cluster credential is asked for (that refusal would be SMEM_AUTH) */
    TU_CHECK(rc != SMEM_OK && rc != SMEM_AUTH, "a plain outsider connects to rank %d's data port %s: %d %s", r,
             rec.tp_addr, rc, util_err_get());
    TU_CHECK(tu_outsider_raw_write(rec.tp_addr, SMEM_BM_TP_WINDOW_HOST, 0),
             "a raw WRITE to rank %d's data port gets no response", r);
}

static void scen_tls(void)
{
    char cmd[1024], out[4096];
    snprintf(certs, sizeof(certs), "%s/certs", tmpdir);
    snprintf(cmd, sizeof(cmd), "sh %s/scripts/gen-test-certs.sh %s 2>&1", tu_source_dir(), certs);
    if (tu_run_cmd(cmd, out, sizeof(out)) != 0) {
        TU_CHECK(0, "gen-test-certs.sh: %s", out);
        return;
    }
    if (!cluster_up(true)) return;
    mmc_tls_config none = client_tls(NULL), attacker = client_tls("client");
    refused_at_tls(&no_tls, "a plain client");
    refused_at_tls(&none, "a TLS client without a certificate");
    int code = https_health(NULL);
    TU_CHECK(code == 403, "HTTPS without a client certificate: %d", code);
    code = https_health("client");
    TU_CHECK(code == 200, "HTTPS with a certificate of the CA: %d", code);
    /* A process with a valid certificate of the cluster's CA is let in by TLS, but it is not a member. */
    attack_store(&attacker);
    attack_meta(&attacker);
    attack_data_plane(&attacker, rank[0]); /* the other's data port is the same code: 3 s saved */
    TU_CHECK(role_run("get"), "after the data-plane attacks the keys read back with their bytes");
}

static const tu_scen_t scenarios[] = {
    {.name = "store", .run = scen_store, .what = "forged and foreign writes to member records, liveness keys, the base record and reference count"},
    {.name = "meta", .run = scen_meta, .what = "MOUNT for a rank not held, foreign UNMOUNT, REMOVE_ALL by a non-member"},
    {.name = "tls", .run = scen_tls,
     .what = "TLS everywhere: no certificate, no way in; a valid certificate of the CA but no membership: the same "
             "attacks (and a plain one at a data port) refused"},
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
    tu_scen_run();
    cluster_down();
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
