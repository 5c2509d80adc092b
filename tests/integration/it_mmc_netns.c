/*
 * memcache across simulated hosts (network namespaces, tests/testutil/netns.h):
 * mmc-meta (with its config store) in the bridge's namespace, one mmc-local
 * LocalService on each of hosts 0 and 1, and pure-client processes (this
 * binary with --role) on both hosts. Same-host peers are mapped; the other
 * host is reached through BM's tcp transport (data plane bound in the test
 * subnet through ock.mmc.local_service.hcom_url). Checked:
 *  - a client on host 1 writes values and 122-piece blocks into host 0's
 *    LocalService (preferredLocalServiceIDs) and into host 1's, and reads
 *    them back byte for byte (remote and local copies);
 *  - a client on host 0 reads all of them (the host-1 ones over tcp);
 *  - 2 replicas land on both hosts; after host 0's LocalService is
 *    SIGKILLed the host-1 client still reads every 2-replica key, and the
 *    keys whose only replica was on host 0 are not found (never wrong data).
 * Skips (exit 0, "SKIP") without root.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "netns.h"
#include "testutil.h"
#include "tu_mmc.h"

#define LAYERS 61u
#define LAT (128u << 10)
#define ROPE (16u << 10)
#define NKEYS 8

static tn_net_t *g_net;
static char rpc_url[128], store_url[128], tmpdir[256];

static uint8_t pat(uint64_t seed, uint64_t i) { return (uint8_t)((seed * 131u) ^ (i * 7u) ^ (i >> 9)); }

static mmc_buffer hbuf(void *p, uint64_t len) { return (mmc_buffer){.addr = (uint64_t)(uintptr_t)p, .type = 1, .len = len}; }

/* ---------- roles (client processes) ---------- */

/* A 122-piece block whose bytes follow pat(seed, offset in the object). */
typedef struct blk {
    uint8_t *mem;
    mmc_buffer l[2 * LAYERS];
} blk_t;

static void blk_make(blk_t *b, uint64_t gap)
{
    b->mem = calloc(1, (size_t)LAYERS * (LAT + ROPE + 2 * gap));
    uint64_t off = 0;
    for (uint32_t i = 0; i < LAYERS; i++) {
        b->l[2 * i] = hbuf(b->mem + off, LAT);
        off += LAT + gap;
        b->l[2 * i + 1] = hbuf(b->mem + off, ROPE);
        off += ROPE + gap;
    }
}

static void blk_fill(blk_t *b, uint64_t seed)
{
    uint64_t o = 0;
    for (uint32_t p = 0; p < 2 * LAYERS; p++)
        for (uint64_t i = 0; i < b->l[p].len; i++, o++) ((uint8_t *)(uintptr_t)b->l[p].addr)[i] = pat(seed, o);
}

static bool blk_ok(const blk_t *b, uint64_t seed)
{
    uint64_t o = 0;
    for (uint32_t p = 0; p < 2 * LAYERS; p++)
        for (uint64_t i = 0; i < b->l[p].len; i++, o++)
            if (((const uint8_t *)(uintptr_t)b->l[p].addr)[i] != pat(seed, o)) return false;
    return true;
}

static mmc_put_options opts_for(int rank, int replicas)
{
    mmc_put_options o = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = (uint16_t)replicas};
    for (int i = 0; i < 8; i++) o.preferredLocalServiceIDs[i] = -1;
    if (rank >= 0) o.preferredLocalServiceIDs[0] = rank;
    return o;
}

/* Keys "nn/<host>/<i>" (1 MiB + i), blocks "nnb/<host>", 2-replica keys "nn2/<i>". */
static void role_write(int on_rank, int tag)
{
    uint8_t *v = malloc((1u << 20) + NKEYS);
    int bad = 0;
    for (int i = 0; i < NKEYS; i++) {
        char key[64];
        snprintf(key, sizeof(key), "nn/%d/%d", tag, i);
        uint64_t len = (1u << 20) + (uint64_t)i;
        for (uint64_t k = 0; k < len; k++) v[k] = pat((uint64_t)(tag * 100 + i), k);
        mmc_buffer b = hbuf(v, len);
        mmc_put_options o = opts_for(on_rank, 1);
        int32_t rc = mmcc_put_opt(key, &b, &o, 0);
        mmc_data_info di;
        if (rc != 0 || mmcc_query(key, &di, 0) != 0 || di.ranks[0] != (uint32_t)on_rank) {
            if (bad++ < 3) fprintf(stderr, "put %s on rank %d: %d %s\n", key, on_rank, rc, mmc_get_last_err_msg());
        }
    }
    TU_CHECK(bad == 0, "%d puts onto rank %d failed or misplaced", bad, on_rank);
    blk_t b;
    blk_make(&b, 4096);
    blk_fill(&b, (uint64_t)tag + 7);
    char bk[32];
    snprintf(bk, sizeof(bk), "nnb/%d", tag);
    mmc_put_options o = opts_for(on_rank, 1);
    int32_t rc = mmcc_put_layers(bk, b.l, 2 * LAYERS, &o, 0);
    TU_CHECK(rc == 0, "block onto rank %d: %d %s", on_rank, rc, mmc_get_last_err_msg());
    free(b.mem);
    free(v);
}

static void role_write2(void)
{
    uint8_t *v = malloc(1u << 20);
    int bad = 0;
    for (int i = 0; i < NKEYS; i++) {
        char key[64];
        snprintf(key, sizeof(key), "nn2/%d", i);
        for (uint64_t k = 0; k < (1u << 20); k++) v[k] = pat((uint64_t)(500 + i), k);
        mmc_buffer b = hbuf(v, 1u << 20);
        mmc_put_options o = opts_for(-1, 2);
        mmc_data_info di;
        if (mmcc_put_opt(key, &b, &o, 0) != 0 || mmcc_query(key, &di, 0) != 0 || di.numBlobs != 2 ||
            di.ranks[0] == di.ranks[1])
            bad++;
    }
    TU_CHECK(bad == 0, "%d 2-replica puts failed", bad);
    free(v);
}

/* Reads what role_write(tag) wrote; missing_ok: not-found allowed (never wrong bytes). */
static void role_read(int tag, int missing_ok)
{
    uint8_t *v = malloc((1u << 20) + NKEYS);
    int bad = 0, missing = 0;
    for (int i = 0; i < NKEYS; i++) {
        char key[64];
        snprintf(key, sizeof(key), "nn/%d/%d", tag, i);
        uint64_t len = (1u << 20) + (uint64_t)i;
        memset(v, 0, len);
        mmc_buffer b = hbuf(v, len);
        int32_t rc = mmcc_get(key, &b, 0);
        if (rc == MMC_KEY_NOT_FOUND && missing_ok) {
            missing++;
            continue;
        }
        bool ok = rc == 0;
        for (uint64_t k = 0; ok && k < len; k++) ok = v[k] == pat((uint64_t)(tag * 100 + i), k);
        if (!ok && bad++ < 3) fprintf(stderr, "get %s: %d %s\n", key, rc, mmc_get_last_err_msg());
    }
    TU_CHECK(bad == 0, "%d gets of tag %d failed or wrong", bad, tag);
    blk_t b;
    blk_make(&b, 12288);
    char bk[32];
    snprintf(bk, sizeof(bk), "nnb/%d", tag);
    int32_t rc = mmcc_get_layers(bk, b.l, 2 * LAYERS, 0);
    TU_CHECK((rc == 0 && blk_ok(&b, (uint64_t)tag + 7)) || (missing_ok && rc == MMC_KEY_NOT_FOUND),
             "block %s: %d %s", bk, rc, mmc_get_last_err_msg());
    if (missing_ok) TU_CHECK(missing == NKEYS, "keys on the dead LocalService: %d of %d not found", missing, NKEYS);
    free(b.mem);
    free(v);
}

static void role_read2(void)
{
    uint8_t *v = malloc(1u << 20);
    int bad = 0;
    for (int i = 0; i < NKEYS; i++) {
        char key[64];
        snprintf(key, sizeof(key), "nn2/%d", i);
        mmc_buffer b = hbuf(v, 1u << 20);
        int32_t rc = mmcc_get(key, &b, 0);
        bool ok = rc == 0;
        for (uint64_t k = 0; ok && k < (1u << 20); k++) ok = v[k] == pat((uint64_t)(500 + i), k);
        if (!ok && bad++ < 3) fprintf(stderr, "get %s: %d %s\n", key, rc, mmc_get_last_err_msg());
    }
    TU_CHECK(bad == 0, "%d 2-replica gets failed or wrong", bad);
    free(v);
}

static int role_main(const char *role, int a, int b)
{
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    int32_t rc = mmc_init(&ic);
    TU_CHECK(rc == 0, "mmc_init: %d %s", rc, mmc_get_last_err_msg());
    if (rc != 0) return tu_summary();
    if (strcmp(role, "write") == 0) role_write(a, b);
    else if (strcmp(role, "write2") == 0) role_write2();
    else if (strcmp(role, "read") == 0) role_read(a, b);
    else if (strcmp(role, "read2") == 0) role_read2();
    mmc_uninit();
    return tu_summary();
}

/* ---------- driver ---------- */

static bool run_role(uint32_t host, const char *role, int a, int b)
{
    char sa[16], sb[16];
    snprintf(sa, sizeof(sa), "%d", a);
    snprintf(sb, sizeof(sb), "%d", b);
    char *argv[] = {(char *)tu_self_exe(), "--role", (char *)role, sa, sb, NULL};
    pid_t p = tn_spawn(g_net, host, argv, NULL);
    int st = 0;
    if (p < 0 || tn_wait(g_net, p, 120000, &st) != 0) {
        if (p > 0) tn_kill(g_net, p);
        return false;
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* mmc-local inside `host`, its data plane bound in the test subnet; its rank or -1. */
static int local_start(uint32_t host, pid_t *pid)
{
    char hcom[64];
    snprintf(hcom, sizeof(hcom), "tcp://%s:0", tn_subnet(g_net));
    /* No TLS anywhere in this test: the config store is reached in the clear over the veth links, so every
     * process's data plane is as open as the store and must be allowed explicitly. */
    tu_mmc_local_t l = {.rpc = rpc_url, .store = store_url, .dram = "64MB", .max_dram = "128MB", .world = "16",
                        .hcom = hcom, .insecure = true, .net = g_net, .host = host};
    return tu_mmc_local_run(&l, pid);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--role") == 0) return role_main(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (!tn_require("it.mmc_netns")) return 0;
    signal(SIGPIPE, SIG_IGN);
    char err[256];
    tn_opts_t no = {.hosts = 2, .subnet = 207};
    if (tn_net_create(&no, &g_net, err, sizeof(err)) != 0) {
        TU_CHECK(0, "netns: %s", err);
        return tu_summary();
    }
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    /* mmc-meta and its config store in the hub namespace */
    char murl[128];
    snprintf(murl, sizeof(murl), "tcp://%s:0", tn_addr(g_net, TN_HUB));
    const char *margs[] = {"--meta-url", murl, "--store-url", murl, "--metrics-url", "", "--log-level", "error",
                           "--allow-insecure", NULL};
    tu_mmc_meta_t m = {.args = margs, .net = g_net, .host = TN_HUB};
    pid_t meta = -1;
    if (tu_mmc_meta_run(&m, &meta) != 0) {
        TU_CHECK(0, "mmc-meta in the hub namespace");
        goto out;
    }
    snprintf(rpc_url, sizeof(rpc_url), "%s", m.rpc);
    snprintf(store_url, sizeof(store_url), "%s", m.store);
    pid_t ls0, ls1;
    int r0 = local_start(0, &ls0), r1 = local_start(1, &ls1);
    TU_CHECK(r0 >= 0 && r1 >= 0, "LocalServices on host 0 (rank %d) and host 1 (rank %d)", r0, r1);
    if (r0 < 0 || r1 < 0) goto out;
    char cfg[600], hcom[64];
    snprintf(cfg, sizeof(cfg), "%s/client.conf", tmpdir);
    snprintf(hcom, sizeof(hcom), "tcp://%s:0", tn_subnet(g_net));
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = "128MB", .world = "16", .timeout_s = 10,
                          .hcom = hcom, .extra = "ock.mmc.allow_insecure = true\n"};
    TU_CHECK(tu_mmc_client_conf(cfg, &cc) == 0, "client config");

    TU_CHECK(run_role(1, "write", r0, 0), "host 1 writes into host 0's LocalService (tcp)");
    TU_CHECK(run_role(1, "write", r1, 1), "host 1 writes into its own LocalService (mapped)");
    TU_CHECK(run_role(1, "read", 0, 0), "host 1 reads from host 0 (tcp) byte for byte");
    TU_CHECK(run_role(1, "read", 1, 0), "host 1 reads its own host's values");
    TU_CHECK(run_role(0, "read", 0, 0), "host 0 reads its own host's values");
    TU_CHECK(run_role(0, "read", 1, 0), "host 0 reads from host 1 (tcp) byte for byte");
    TU_CHECK(run_role(1, "write2", 0, 0), "2 replicas, one per host");
    TU_CHECK(run_role(0, "read2", 0, 0), "host 0 reads the 2-replica keys");
    tn_kill(g_net, ls0);
    usleep(500000);
    TU_CHECK(run_role(1, "read2", 0, 0), "after host 0's LocalService died: every 2-replica key still reads");
    TU_CHECK(run_role(1, "read", 0, 1), "keys only on the dead LocalService: not found, never wrong bytes");
    TU_CHECK(run_role(1, "read", 1, 0), "keys on host 1 unaffected");
out:
    tn_net_destroy(g_net);
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
