/*
 * Replica copy, move and clear with real processes: mmc-meta, three mmc-local
 * LocalServices (DRAM contributors) and client processes (this binary run
 * with --role, pure clients through mmc_init):
 *  - copy: a key on LocalService A gets a copy on B (a second copy to B is
 *    skipped, a copy to an id with no segment fails and changes nothing);
 *    A is SIGKILLed and the key is read from B, bytes checked;
 *  - move: B -> C, the key then lives on C only, bytes checked; a move from
 *    a LocalService without a replica fails;
 *  - clear: a 2-replica key loses its replica on one LocalService, then the
 *    last one (the key goes); clear with -1 drops a key; missing keys;
 *  - full: a copy to a LocalService with no room answers
 *    MMC_NOT_ENOUGH_MEMORY and leaves the key readable with one replica.
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
#include "testutil.h"
#include "tu_mmc.h"
#include "util/util_time.h"

#define LS_DRAM (16u << 20)
#define LS_STRIDE "64MB"
#define OBJ (1u << 20)

static char tmpdir[256], cfg_path[512];
static char rpc_url[128], store_url[128];
static uint32_t rank[3];

static void fill(uint8_t *p, uint64_t len, uint32_t seed)
{
    for (uint64_t i = 0; i < len; i++) p[i] = (uint8_t)((i * 131u + seed * 7u + (i >> 9)) & 0xff);
}

static bool same(const uint8_t *p, uint64_t len, uint32_t seed)
{
    for (uint64_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)((i * 131u + seed * 7u + (i >> 9)) & 0xff)) return false;
    return true;
}

static mmc_buffer hbuf(void *p, uint64_t len) { return (mmc_buffer){.addr = (uint64_t)(uintptr_t)p, .type = 1, .len = len}; }

/* ---------- roles ---------- */

static int32_t put_on(const char *key, uint64_t len, uint32_t seed, const uint32_t *on, uint32_t n)
{
    uint8_t *p = malloc(len);
    fill(p, len, seed);
    mmc_put_options o = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = (uint16_t)n};
    for (uint32_t i = 0; i < MAX_BLOB_COPIES; i++) o.preferredLocalServiceIDs[i] = i < n ? (int32_t)on[i] : -1;
    mmc_buffer b = hbuf(p, len);
    int32_t rc = mmcc_put(key, &b, o, 0);
    free(p);
    return rc;
}

/* The key's bytes, checked; MMC_OK or the get's status (MMC_ERROR for wrong bytes). */
static int32_t read_check(const char *key, uint64_t len, uint32_t seed)
{
    uint8_t *p = calloc(1, len);
    mmc_buffer b = hbuf(p, len);
    int32_t rc = mmcc_get(key, &b, 0);
    if (rc == MMC_OK && !same(p, len, seed)) rc = MMC_ERROR;
    free(p);
    return rc;
}

/* The ranks holding key (sorted bit set over rank[]): bit i for rank[i]; -1 when the query fails. */
static int holders(const char *key)
{
    mmc_key_info ki;
    if (mmcc_get_key_info(key, &ki) != MMC_OK) return -1;
    int bits = 0;
    for (uint32_t r = 0; r < ki.numBlobs; r++)
        for (int i = 0; i < 3; i++)
            if (ki.ranks[r] == rank[i]) bits |= 1 << i;
    return bits;
}

static void role_copy(void)
{
    TU_CHECK(put_on("rc/copy", OBJ, 1, &rank[0], 1) == MMC_OK, "put on A: %s", mmc_get_last_err_msg());
    TU_CHECK(holders("rc/copy") == 1, "on A only (%d)", holders("rc/copy"));
    int32_t rc = mmcc_replica_copy("rc/copy", &rank[1], 1, 0);
    TU_CHECK(rc == MMC_OK, "copy A -> B: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(holders("rc/copy") == 3, "on A and B (%d)", holders("rc/copy"));
    rc = mmcc_replica_copy("rc/copy", &rank[1], 1, 0);
    TU_CHECK(rc == MMC_OK && holders("rc/copy") == 3, "a second copy to B is skipped: %d", rc);
    uint32_t nowhere = 1000;
    rc = mmcc_replica_copy("rc/copy", &nowhere, 1, 0);
    TU_CHECK(rc == MMC_LINK_NOT_FOUND && holders("rc/copy") == 3, "copy to an id without a segment: %d", rc);
    rc = mmcc_replica_copy("rc/missing", &rank[1], 1, 0);
    TU_CHECK(rc == MMC_KEY_NOT_FOUND, "copy of a missing key: %d", rc);
    TU_CHECK(read_check("rc/copy", OBJ, 1) == MMC_OK, "read after the copy");
}

static void role_after_kill(void)
{
    TU_CHECK(holders("rc/copy") == 2, "only the copy on B is left (%d)", holders("rc/copy"));
    int32_t rc = read_check("rc/copy", OBJ, 1);
    TU_CHECK(rc == MMC_OK, "the copy on B has the key's bytes: %d %s", rc, mmc_get_last_err_msg());
}

static void role_move(void)
{
    TU_CHECK(put_on("rc/move", OBJ + 12345, 2, &rank[1], 1) == MMC_OK, "put on B: %s", mmc_get_last_err_msg());
    int32_t rc = mmcc_replica_move("rc/move", rank[2], rank[1], 0);
    TU_CHECK(rc == MMC_LINK_NOT_FOUND && holders("rc/move") == 2, "move from C, which holds none: %d", rc);
    rc = mmcc_replica_move("rc/move", rank[1], rank[2], 0);
    TU_CHECK(rc == MMC_OK, "move B -> C: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(holders("rc/move") == 4, "on C only (%d)", holders("rc/move"));
    TU_CHECK(read_check("rc/move", OBJ + 12345, 2) == MMC_OK, "bytes after the move");
    rc = mmcc_replica_move("rc/move", rank[1], rank[1], 0);
    TU_CHECK(rc == MMC_INVALID_PARAM, "move to itself: %d", rc);
}

static void role_clear(void)
{
    uint32_t bc[2] = {rank[1], rank[2]};
    TU_CHECK(put_on("rc/clear", OBJ, 3, bc, 2) == MMC_OK, "put on B and C: %s", mmc_get_last_err_msg());
    TU_CHECK(holders("rc/clear") == 6, "on B and C (%d)", holders("rc/clear"));
    int32_t rc = mmcc_replica_clear("rc/clear", rank[1], 0);
    TU_CHECK(rc == MMC_OK && holders("rc/clear") == 4, "clear on B: %d, holders %d", rc, holders("rc/clear"));
    TU_CHECK(read_check("rc/clear", OBJ, 3) == MMC_OK, "read from C after the clear");
    rc = mmcc_replica_clear("rc/clear", rank[1], 0);
    TU_CHECK(rc == MMC_LINK_NOT_FOUND, "clear on B again: %d", rc);
    rc = mmcc_replica_clear("rc/clear", rank[2], 0);
    TU_CHECK(rc == MMC_OK && mmcc_exist("rc/clear", 0) == MMC_KEY_NOT_FOUND, "clear of the last replica: %d", rc);
    TU_CHECK(put_on("rc/clear2", 4096, 4, bc, 2) == MMC_OK, "put on B and C");
    rc = mmcc_replica_clear("rc/clear2", -1, 0);
    TU_CHECK(rc == MMC_OK && mmcc_exist("rc/clear2", 0) == MMC_KEY_NOT_FOUND, "clear -1 drops the key: %d", rc);
    TU_CHECK(mmcc_replica_clear("rc/clear2", -1, 0) == MMC_KEY_NOT_FOUND, "clear of a missing key");
    TU_CHECK(mmcc_replica_clear("rc/clear2", -7, 0) == MMC_INVALID_PARAM, "clear with id -7");
}

static void role_full(void)
{
    /* C gets 12 MiB of the 16 it has; a 6 MiB key from B does not fit there. */
    TU_CHECK(put_on("rc/fill", 12u << 20, 5, &rank[2], 1) == MMC_OK, "fill C: %s", mmc_get_last_err_msg());
    TU_CHECK(put_on("rc/big", 6u << 20, 6, &rank[1], 1) == MMC_OK, "put on B: %s", mmc_get_last_err_msg());
    int32_t rc = mmcc_replica_copy("rc/big", &rank[2], 1, 0);
    TU_CHECK(rc == MMC_NOT_ENOUGH_MEMORY, "copy to a full LocalService: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(holders("rc/big") == 2 && read_check("rc/big", 6u << 20, 6) == MMC_OK, "the key is as it was");
    TU_CHECK(holders("rc/fill") == 4, "the other key too");
    rc = mmcc_replica_move("rc/big", rank[1], rank[2], 0);
    TU_CHECK(rc == MMC_NOT_ENOUGH_MEMORY && holders("rc/big") == 2, "move to a full LocalService: %d", rc);
}

static int role_main(const char *role, const char *ranks)
{
    if (sscanf(ranks, "%u,%u,%u", &rank[0], &rank[1], &rank[2]) != 3) return 2;
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    int32_t rc = mmc_init(&ic);
    TU_CHECK(rc == 0, "mmc_init: %d %s", rc, mmc_get_last_err_msg());
    if (rc != 0) return tu_summary();
    if (strcmp(role, "copy") == 0) role_copy();
    else if (strcmp(role, "after_kill") == 0) role_after_kill();
    else if (strcmp(role, "move") == 0) role_move();
    else if (strcmp(role, "clear") == 0) role_clear();
    else if (strcmp(role, "full") == 0) role_full();
    else TU_CHECK(0, "unknown role %s", role);
    mmc_uninit();
    return tu_summary();
}

/* ---------- driver ---------- */

static int meta_start(pid_t *pid)
{
    char conf[600];
    snprintf(conf, sizeof(conf), "%s/meta.conf", tmpdir);
    if (tu_mmc_meta_conf(conf, 0, 0, "error") != 0) return -1;
    const char *args[] = {"--config", conf, NULL};
    return tu_mmc_meta_start(args, pid, rpc_url, sizeof(rpc_url), store_url, sizeof(store_url));
}

static int local_start(pid_t *pid)
{
    char dram[32];
    snprintf(dram, sizeof(dram), "%u", LS_DRAM);
    return tu_mmc_local_start(rpc_url, store_url, dram, LS_STRIDE, "64", pid);
}

static bool role_run(const char *role, const char *ranks)
{
    const char *args[] = {role, ranks, NULL};
    return tu_role_run(args, 60000);
}

static bool wait_segments(uint64_t nseg)
{
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", rpc_url);
    o.timeout_ms = 5000;
    mmc_meta_client_t *c = NULL;
    if (mmc_meta_client_connect(&o, &c) != MMC_OK) return false;
    bool ok = false;
    uint64_t end = util_now_ms() + 10000;
    do {
        mmc_stats_t st;
        mmc_seg_info_t *segs = NULL;
        uint32_t n = 0;
        if (mmc_meta_stats(c, &st, &segs, &n) == 0 && st.segments == nseg) ok = true;
        free(segs);
        if (!ok) usleep(20000);
    } while (!ok && util_now_ms() < end);
    mmc_meta_client_close(c);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--role") == 0) return role_main(argv[2], argv[3]);
    signal(SIGPIPE, SIG_IGN);
    pid_t meta = -1, ls[3] = {-1, -1, -1};
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    if (meta_start(&meta) != 0) {
        TU_CHECK(0, "mmc-meta start");
        goto out;
    }
    snprintf(cfg_path, sizeof(cfg_path), "%s/client.conf", tmpdir);
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = LS_STRIDE, .world = "64", .timeout_s = 5};
    TU_CHECK(tu_mmc_client_conf(cfg_path, &cc) == 0, "client config %s", cfg_path);
    int r[3];
    for (int i = 0; i < 3; i++) r[i] = local_start(&ls[i]);
    TU_CHECK(r[0] >= 0 && r[1] >= 0 && r[2] >= 0, "three LocalServices: ranks %d %d %d", r[0], r[1], r[2]);
    if (r[0] < 0 || r[1] < 0 || r[2] < 0 || !wait_segments(3)) goto out;
    char ranks[64];
    snprintf(ranks, sizeof(ranks), "%d,%d,%d", r[0], r[1], r[2]);
    TU_CHECK(role_run("copy", ranks), "copy");
    kill(ls[0], SIGKILL);
    int s;
    tu_wait_pid(ls[0], 5000, &s);
    ls[0] = -1;
    TU_CHECK(wait_segments(2), "A is gone");
    TU_CHECK(role_run("after_kill", ranks), "read from the copy after its source was killed");
    TU_CHECK(role_run("move", ranks), "move");
    TU_CHECK(role_run("clear", ranks), "clear");
    TU_CHECK(role_run("full", ranks), "copy to a full LocalService");
out:
    for (int i = 0; i < 3; i++)
        if (ls[i] > 0) tu_stop_pid(ls[i], 5000);
    if (meta > 0) tu_stop_pid(meta, 5000);
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
