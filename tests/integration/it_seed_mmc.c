/*
 * The memcache C API called the seed's way, against real processes: mmc-meta
 * (MetaService + config store) and one mmc-local contributing DRAM; the
 * client processes are this binary with --role (one LocalService each):
 *  - sdk: local_config with text values + mmc_setup, mmc_init with the
 *    seed's field names, mmcc_put with options by value, mmcc_batch_put with
 *    an options pointer, mmcc_batch_query with a size_t count, exist,
 *    remove, local service id, buffer registration; local_config values we
 *    cannot do are refused naming the field;
 *  - svc: mmcs_local_service_start with a non-const config and a void*
 *    handle, mmcc_init with the seed's mmc_client_config_t (discoveryURL,
 *    rankId, logFunc/logLevel, the tunables), the client over it;
 *  - meta: mmcs_meta_service_start/stop in this process from the seed's
 *    default config;
 *  - cpp: the C++ ObjectStore (cpp/mmcache.h) in the seed_mmc_cpp program
 *    (built when a C++ compiler is found).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "memcache/mmc_service.h"
#include "testutil.h"
#include "tu_mmc.h"

#define STRIDE "256MB"
#define WORLD "64"

static char tmpdir[256], cfg_path[512];
static char rpc_url[128], store_url[128];

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

static bool same(const uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(seed * 131u + i * 7u + (i >> 8))) return false;
    return true;
}

static mmc_buffer hbuf(void *p, uint64_t len)
{
    mmc_buffer b = {.addr = (uint64_t)(uintptr_t)p, .type = 1, .offset = 0, .len = len};
    return b;
}

/* The seed's options: DRAM, native affinity, replicas, no preference. */
static mmc_put_options seed_opts(uint16_t replicas)
{
    mmc_put_options o = {.mediaType = MMC_MEDIA_DRAM, .policy = NATIVE_AFFINITY, .replicaNum = replicas};
    for (unsigned i = 0; i < MAX_BLOB_COPIES; i++) o.preferredLocalServiceIDs[i] = -1;
    return o;
}

/* ---------- role sdk: mmc_setup(local_config) + mmc_init ---------- */

static void local_cfg(local_config *lc, const char *rpc, const char *store)
{
    mmc_local_config_init(lc);
    snprintf(lc->meta_service_url, sizeof(lc->meta_service_url), "%s", rpc);
    snprintf(lc->config_store_url, sizeof(lc->config_store_url), "%s", store);
    snprintf(lc->log_level, sizeof(lc->log_level), "error");
    snprintf(lc->protocol, sizeof(lc->protocol), "host_tcp");
    snprintf(lc->dram_size, sizeof(lc->dram_size), "0"); /* pure client: the data lives in mmc-local */
    snprintf(lc->max_dram_size, sizeof(lc->max_dram_size), STRIDE);
    lc->world_size = (uint32_t)atoi(WORLD);
    lc->client_timeout_seconds = 5;
}

static void role_sdk(const char *rpc, const char *store)
{
    local_config lc;
    /* refusals first: each names the field */
    local_cfg(&lc, rpc, store);
    lc.ubs_io_enable = true;
    int32_t rc = mmc_setup(&lc);
    TU_CHECK(rc == MMC_CONFIG && strstr(mmc_get_last_err_msg(), "ubs_io_enable") != NULL,
             "ubs_io_enable = true is refused: %d %s", rc, mmc_get_last_err_msg());
    local_cfg(&lc, rpc, store);
    snprintf(lc.memory_pool_mode, sizeof(lc.memory_pool_mode), "expanded");
    rc = mmc_setup(&lc);
    TU_CHECK(rc == MMC_CONFIG && strstr(mmc_get_last_err_msg(), "memory_pool_mode") != NULL,
             "memory_pool_mode = expanded is refused: %d %s", rc, mmc_get_last_err_msg());
    local_cfg(&lc, rpc, store);
    snprintf(lc.log_level, sizeof(lc.log_level), "loud");
    rc = mmc_setup(&lc);
    TU_CHECK(rc != MMC_OK && strstr(mmc_get_last_err_msg(), "local_config.log_level") != NULL,
             "a bad log level names the field: %d %s", rc, mmc_get_last_err_msg());
    local_cfg(&lc, rpc, store);
    snprintf(lc.dram_size, sizeof(lc.dram_size), "1GB"); /* more than max.dram.size */
    rc = mmc_setup(&lc);
    TU_CHECK(rc != MMC_OK && strstr(mmc_get_last_err_msg(), "dram") != NULL, "dram.size > max.dram.size: %d %s", rc,
             mmc_get_last_err_msg());
    local_cfg(&lc, rpc, store);
    snprintf(lc.meta_service_url, sizeof(lc.meta_service_url), "tcp://127.0.0.1:5000\nock.mmc.x = 1");
    TU_CHECK(mmc_setup(&lc) == MMC_INVALID_PARAM, "a newline in a value is refused");

    /* the good one, then init with the seed's field names */
    local_cfg(&lc, rpc, store);
    snprintf(lc.memory_pool_mode, sizeof(lc.memory_pool_mode), "standard");
    rc = mmc_setup(&lc);
    TU_CHECK(rc == MMC_OK, "mmc_setup: %d %s", rc, mmc_get_last_err_msg());
    mmc_init_config ic = {.deviceId = 0, .initBm = true};
    rc = mmc_init(&ic);
    TU_CHECK(rc == MMC_OK, "mmc_init: %d %s", rc, mmc_get_last_err_msg());
    if (rc != MMC_OK) return;

    uint32_t id = UINT32_MAX;
    TU_CHECK(mmcc_local_service_id(&id) == MMC_OK && id != UINT32_MAX, "mmcc_local_service_id: %u", id);

    enum { N = 300000 };
    uint8_t *src = malloc(N), *dst = malloc(N);
    fill(src, N, 1);
    mmc_buffer in = hbuf(src, N), out = hbuf(dst, N);
    TU_CHECK(mmcc_register_buffer((uint64_t)(uintptr_t)dst, N) == MMC_OK, "mmcc_register_buffer");
    rc = mmcc_put("seed/one", &in, seed_opts(1), 0);
    TU_CHECK(rc == MMC_OK, "mmcc_put with options by value: %d %s", rc, mmc_get_last_err_msg());
    memset(dst, 0, N);
    rc = mmcc_get("seed/one", &out, 0);
    TU_CHECK(rc == MMC_OK && same(dst, N, 1), "mmcc_get: %d", rc);
    TU_CHECK(mmcc_put("seed/bad", &in, seed_opts(9), 0) == MMC_INVALID_PARAM, "9 replicas by value: refused");
    /* a seed program's zeroed options (preferredLocalServiceIDs all 0) */
    mmc_put_options zeroed = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 1};
    rc = mmcc_put("seed/zeroed", &in, zeroed, 0);
    memset(dst, 0, N);
    TU_CHECK(rc == MMC_OK && mmcc_get("seed/zeroed", &out, 0) == MMC_OK && same(dst, N, 1),
             "put with zeroed options: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(mmcc_remove("seed/zeroed", 0) == MMC_OK, "remove it");
    TU_CHECK(mmcc_exist("seed/one", 0) == MMC_OK && mmcc_exist("seed/none", 0) == MMC_KEY_NOT_FOUND, "mmcc_exist");
    mmc_data_info di;
    TU_CHECK(mmcc_query("seed/one", &di, 0) == MMC_OK && di.size == N && di.valid && di.numBlobs == 1 &&
                 di.ranks[0] != id,
             "mmcc_query: on mmc-local's segment");

    enum { NB = 8 };
    const char *keys[NB];
    char names[NB][32];
    mmc_buffer bufs[NB], outs[NB];
    uint8_t *bsrc[NB], *bdst[NB];
    int res[NB];
    for (int i = 0; i < NB; i++) {
        snprintf(names[i], sizeof(names[i]), "seed/batch/%d", i);
        keys[i] = names[i];
        size_t len = 1000u * (size_t)(i + 1) + (size_t)i;
        bsrc[i] = malloc(len);
        bdst[i] = calloc(1, len);
        fill(bsrc[i], len, 10u + (unsigned)i);
        bufs[i] = hbuf(bsrc[i], len);
        outs[i] = hbuf(bdst[i], len);
    }
    mmc_put_options bo = seed_opts(1);
    rc = mmcc_batch_put(keys, NB, bufs, &bo, 0, res);
    int bad = 0;
    for (int i = 0; i < NB; i++) bad += res[i] != MMC_OK;
    TU_CHECK(rc == MMC_OK && bad == 0, "mmcc_batch_put with an options pointer: %d, %d bad", rc, bad);
    rc = mmcc_batch_get(keys, NB, outs, 0, res);
    bad = 0;
    for (int i = 0; i < NB; i++) bad += res[i] != MMC_OK || !same(bdst[i], outs[i].len, 10u + (unsigned)i);
    TU_CHECK(rc == MMC_OK && bad == 0, "mmcc_batch_get: %d bad", bad);
    mmc_data_info infos[NB];
    size_t count = NB;
    rc = mmcc_batch_query(keys, count, infos, 0);
    TU_CHECK(rc == MMC_OK && infos[3].size == bufs[3].len && infos[7].valid, "mmcc_batch_query (size_t count)");
    int32_t ex[NB];
    TU_CHECK(mmcc_batch_exist(keys, NB, ex, 0) == MMC_OK && ex[0] == MMC_OK && ex[NB - 1] == MMC_OK,
             "mmcc_batch_exist");
    int32_t rm[NB];
    TU_CHECK(mmcc_batch_remove(keys, NB, rm, 0) == MMC_OK && rm[0] == MMC_OK && rm[NB - 1] == MMC_OK,
             "mmcc_batch_remove");
    TU_CHECK(mmcc_batch_exist(keys, NB, ex, 0) == MMC_OK && ex[2] == MMC_KEY_NOT_FOUND, "removed keys are gone");
    TU_CHECK(mmcc_remove("seed/one", 0) == MMC_OK && mmcc_get("seed/one", &out, 0) == MMC_KEY_NOT_FOUND,
             "mmcc_remove");
    TU_CHECK(mmcc_unregister_buffer((uint64_t)(uintptr_t)dst, N) == MMC_OK, "mmcc_unregister_buffer");
    for (int i = 0; i < NB; i++) {
        free(bsrc[i]);
        free(bdst[i]);
    }
    free(src);
    free(dst);
    mmc_uninit();
}

/* ---------- role svc: the service calls and mmcc_init with the seed's client config ---------- */

static _Atomic int logged_bind;

static void capture(int level, const char *msg)
{
    (void)level;
    if (strstr(msg, "bound to LocalService") != NULL) logged_bind = 1;
}

static void role_svc(const char *conf)
{
    mmc_local_service_config_t cfg;
    mmc_local_service_config_init(&cfg);
    int32_t rc = mmc_local_service_config_load(conf, &cfg);
    TU_CHECK(rc == MMC_OK, "config %s: %s", conf, mmc_get_last_err_msg());
    mmc_local_service_t h = mmcs_local_service_start(&cfg);
    TU_CHECK(h != NULL, "mmcs_local_service_start: %s", mmc_get_last_err_msg());
    if (h == NULL) return;
    uint32_t rank = mmcs_local_service_rank(h);

    mmc_client_config_t cc;
    memset(&cc, 0, sizeof(cc));
    cc.rankId = rank + 1;
    rc = mmcc_init(&cc);
    TU_CHECK(rc == MMC_INVALID_PARAM && strstr(mmc_get_last_err_msg(), "rankId") != NULL,
             "another rank's rankId is refused: %d %s", rc, mmc_get_last_err_msg());
    memset(&cc, 0, sizeof(cc));
    snprintf(cc.discoveryURL, sizeof(cc.discoveryURL), "tcp://127.0.0.1:1");
    cc.timeOut = 1;
    rc = mmcc_init(&cc);
    TU_CHECK(rc != MMC_OK, "discoveryURL is the MetaService the client dials (nobody at port 1): %d", rc);

    memset(&cc, 0, sizeof(cc));
    cc.rankId = rank;
    cc.rpcRetryTimeOut = 100;
    cc.timeOut = 5;
    cc.readThreadPoolNum = 2;
    cc.writeThreadPoolNum = 2;
    cc.aggregateIO = true;
    cc.aggregateNum = 16;
    cc.logLevel = 1;
    cc.logFunc = capture;
    rc = mmcc_init(&cc);
    TU_CHECK(rc == MMC_OK, "mmcc_init with the seed's fields: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(logged_bind == 1, "logFunc receives the client's lines");
    mmc_set_log_level(3);
    uint32_t id = UINT32_MAX;
    TU_CHECK(mmcc_local_service_id(&id) == MMC_OK && id == rank, "local service id %u = rank %u", id, rank);
    uint8_t src[4096], dst[4096];
    fill(src, sizeof(src), 7);
    mmc_buffer in = hbuf(src, sizeof(src)), out = hbuf(dst, sizeof(dst));
    TU_CHECK(mmcc_put("seed/svc", &in, seed_opts(1), 0) == MMC_OK, "put over mmcs_local_service_start");
    TU_CHECK(mmcc_get("seed/svc", &out, 0) == MMC_OK && same(dst, sizeof(dst), 7), "get");
    TU_CHECK(mmcc_remove("seed/svc", 0) == MMC_OK, "remove");
    mmcc_uninit();
    mmcs_local_service_stop(h);
}

/* ---------- role meta: a MetaService in this process ---------- */

static void role_meta(void)
{
    mmc_meta_service_config_t m;
    mmc_meta_service_config_init(&m);
    snprintf(m.discoveryURL, sizeof(m.discoveryURL), "tcp://127.0.0.1:0");
    snprintf(m.configStoreURL, sizeof(m.configStoreURL), "tcp://127.0.0.1:0");
    snprintf(m.httpURL, sizeof(m.httpURL), "%s", "");
    m.logLevel = 3;
    mmc_meta_service_t h = mmcs_meta_service_start(&m);
    TU_CHECK(h != NULL, "mmcs_meta_service_start: %s", mmc_get_last_err_msg());
    TU_CHECK(mmcs_meta_service_port(h, MMC_META_PORT_RPC) != 0, "it listens");
    char text[8192];
    size_t n = mmc_meta_service_config_format(&m, text, sizeof(text));
    TU_CHECK(n > 0 && n < sizeof(text) && strstr(text, "ock.mmc.meta_service_url = tcp://127.0.0.1:0\n") != NULL,
             "mmc_meta_service_config_format");
    mmcs_meta_service_stop(h);
}

/* ---------- driver ---------- */

static int role_main(int argc, char **argv)
{
    const char *role = argv[2];
    if (strcmp(role, "sdk") == 0 && argc == 5) role_sdk(argv[3], argv[4]);
    else if (strcmp(role, "svc") == 0 && argc == 4) role_svc(argv[3]);
    else if (strcmp(role, "meta") == 0) role_meta();
    else TU_CHECK(0, "unknown role %s", role);
    return tu_summary();
}

/* The C++ program next to this one, if it was built. */
static void run_cpp(void)
{
    char exe[600];
    snprintf(exe, sizeof(exe), "%s/tests/seed_mmc_cpp", tu_build_dir());
    if (access(exe, X_OK) != 0) {
        printf("SKIP cpp: %s not built (no C++ compiler)\n", exe);
        return;
    }
    char *argv[] = {exe, rpc_url, store_url, NULL};
    pid_t pid;
    TU_CHECK(tu_spawn(argv, &pid, NULL) == 0, "spawn %s", exe);
    int status = -1;
    TU_CHECK(tu_wait_pid(pid, 120000, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
             "the C++ ObjectStore program passes (status %d)", status);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--role") == 0) return role_main(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    pid_t meta = -1, ls = -1;
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    char conf[600];
    snprintf(conf, sizeof(conf), "%s/meta.conf", tmpdir);
    const char *margs[] = {"--config", conf, NULL};
    if (tu_mmc_meta_conf(conf, 0, 0, "error") != 0 ||
        tu_mmc_meta_start(margs, &meta, rpc_url, sizeof(rpc_url), store_url, sizeof(store_url)) != 0) {
        TU_CHECK(0, "mmc-meta start");
        goto out;
    }
    int rank = tu_mmc_local_start(rpc_url, store_url, "64MB", STRIDE, WORLD, &ls);
    TU_CHECK(rank >= 0, "mmc-local start");
    if (rank < 0) goto out;
    snprintf(cfg_path, sizeof(cfg_path), "%s/client.conf", tmpdir);
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = STRIDE, .world = WORLD, .timeout_s = 5};
    TU_CHECK(tu_mmc_client_conf(cfg_path, &cc) == 0, "client config");

    const char *sdk[] = {"sdk", rpc_url, store_url, NULL};
    TU_CHECK(tu_role_run(sdk, 60000), "role sdk");
    const char *svc[] = {"svc", cfg_path, NULL};
    TU_CHECK(tu_role_run(svc, 60000), "role svc");
    const char *mt[] = {"meta", NULL};
    TU_CHECK(tu_role_run(mt, 30000), "role meta");
    run_cpp();
out:
    if (ls > 0) tu_stop_pid(ls, 5000);
    if (meta > 0) tu_stop_pid(meta, 5000);
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
