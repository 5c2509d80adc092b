/*
 * memcache client and LocalService against bad input, with a real mmc-meta
 * and one mmc-local (32 MiB); this process is the client:
 *  - calls before init (MMC_NOT_INITIALIZED), a second LocalService in one
 *    process, config files with an unknown / repeated / out-of-range key or
 *    an inconsistent size (MMC_CONFIG naming the line), a bad
 *    MMC_LOCAL_CONFIG_PATH file failing mmc_init;
 *  - keys of 0 and 257 bytes, NULL and malformed buffers, 0 and 256 layers,
 *    batches of 0 and 16,385 keys (and 16,384 accepted), one bad key in a
 *    batch failing only itself;
 *  - gets into buffers smaller than the object, layers that do not add up;
 *  - unknown keys (get, remove, query, key info, lease removal);
 *  - a value larger than any segment (MMC_EXCEEDS_CAPACITY) and a pool full
 *    of leased objects (MMC_NOT_ENOUGH_MEMORY: eviction skips them);
 *  - a dead MetaService: clear errors within the configured timeout, and
 *    nothing hangs at uninit.
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
#include "memcache/mmc_service.h"
#include "testutil.h"
#include "tu_mmc.h"
#include "tu_scen.h"
#include "util/util_time.h"

#define LS_DRAM (32u << 20)

static char tmpdir[256], rpc_url[128], store_url[128];

static mmc_buffer hbuf(void *p, uint64_t len) { return (mmc_buffer){.addr = (uint64_t)(uintptr_t)p, .type = 1, .len = len}; }

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int meta_start(pid_t *pid)
{
    static const char *const args[] = {"--meta-url",    "tcp://127.0.0.1:0", "--store-url", "tcp://127.0.0.1:0",
                                       "--metrics-url", "",                  "--log-level", "error", NULL};
    return tu_mmc_meta_start(args, pid, rpc_url, sizeof(rpc_url), store_url, sizeof(store_url));
}

static int local_start(pid_t *pid)
{
    char dram[32];
    snprintf(dram, sizeof(dram), "%u", LS_DRAM);
    tu_mmc_local_t l = {.rpc = rpc_url, .store = store_url, .dram = dram, .max_dram = "64MB", .world = "8",
                        .timeout_ms = 20000};
    return tu_mmc_local_run(&l, pid) < 0 ? -1 : 0;
}

static void test_before_init(void)
{
    uint8_t b[16];
    mmc_buffer buf = hbuf(b, sizeof(b));
    const char *k = "x";
    int32_t r;
    uint32_t id;
    mmc_data_info di;
    TU_CHECK(mmcc_put_opt("x", &buf, NULL, 0) == MMC_NOT_INITIALIZED, "put before init");
    TU_CHECK(mmcc_get("x", &buf, 0) == MMC_NOT_INITIALIZED, "get before init");
    TU_CHECK(mmcc_exist("x", 0) == MMC_NOT_INITIALIZED, "exist before init");
    TU_CHECK(mmcc_query("x", &di, 0) == MMC_NOT_INITIALIZED, "query before init");
    TU_CHECK(mmcc_batch_remove(&k, 1, &r, 0) == MMC_NOT_INITIALIZED && r == MMC_NOT_INITIALIZED, "batch before init");
    TU_CHECK(mmcc_local_service_id(&id) == MMC_NOT_INITIALIZED, "id before init");
    TU_CHECK(mmcc_init(NULL) == MMC_NOT_INITIALIZED && strstr(mmc_get_last_err_msg(), "LocalService") != NULL,
             "mmcc_init without a LocalService: %s", mmc_get_last_err_msg());
    mmcc_uninit(); /* harmless */
    mmc_uninit();
    TU_CHECK(mmc_init(NULL) == MMC_INVALID_PARAM, "mmc_init(NULL)");
}

static void test_config(void)
{
    char path[512];
    mmc_local_service_config_t c;
    snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
    struct {
        const char *text;
        const char *needle;
    } cases[] = {
        {"ock.mmc.meta_service_url = tcp://127.0.0.1:1\nock.mmc.no_such_key = 1\n", ":2:"},
        {"ock.mmc.local_service.dram.size = 1MB\n\nock.mmc.local_service.dram.size = 2MB\n", ":3:"},
        {"ock.mmc.local_service.world_size = 5000\n", ":1:"},
        {"ock.mmc.local_service.dram.size = lots\n", ":1:"},
        {"# sizes\nock.mmc.local_service.max.dram.size = 64MB\nock.mmc.local_service.dram.size = 128MB\n", ":3:"},
        {"ock.mmc.local_service.protocol = carrier_pigeon\n", ":1:"},
        {"ock.mmc.client.timeout.seconds = 0\n", ":1:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file(path, cases[i].text);
        mmc_local_service_config_init(&c);
        int32_t rc = mmc_local_service_config_load(path, &c);
        TU_CHECK(rc == MMC_CONFIG && strstr(mmc_get_last_err_msg(), cases[i].needle) != NULL,
                 "config case %zu: %d '%s'", i, rc, mmc_get_last_err_msg());
    }
    write_file(path, "ock.mmc.local_service.dram.size = 2.5GB\nock.mmc.local_service.max.dram.size = 4GB\n"
                     "ock.mmc.local_service.protocol = host_shm\nock.mmc.client.aggregate.io = off\n");
    mmc_local_service_config_init(&c);
    TU_CHECK(mmc_local_service_config_load(path, &c) == 0 && c.localDRAMSize == 5ull * (1ull << 29) &&
                 c.protocol == MMC_PROTO_HOST_SHM && !c.aggregateIO,
             "good config: %s", mmc_get_last_err_msg());
    mmc_local_service_config_init(&c);
    c.localDRAMSize = c.localMaxDRAMSize + 1;
    TU_CHECK(mmc_local_service_config_check(&c) == MMC_INVALID_PARAM &&
                 strstr(mmc_get_last_err_msg(), "ock.mmc.local_service.dram.size") != NULL,
             "struct check names the key");
    TU_CHECK(mmcs_local_service_start(&c) == NULL, "start with a bad struct");
    TU_CHECK(mmc_setup_local_service(&c) == MMC_INVALID_PARAM, "setup with a bad struct");
    /* MMC_LOCAL_CONFIG_PATH with a broken file fails mmc_init naming it */
    write_file(path, "ock.mmc.bogus = 1\n");
    setenv("MMC_LOCAL_CONFIG_PATH", path, 1);
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    int32_t rc = mmc_init(&ic);
    TU_CHECK(rc == MMC_CONFIG && strstr(mmc_get_last_err_msg(), "bad.conf:1") != NULL, "bad env config: %d %s", rc,
             mmc_get_last_err_msg());
    unsetenv("MMC_LOCAL_CONFIG_PATH");
}

static void test_keys_and_buffers(void)
{
    char k257[300];
    memset(k257, 'k', 257);
    k257[257] = '\0';
    uint8_t data[4096];
    memset(data, 7, sizeof(data));
    mmc_buffer b = hbuf(data, sizeof(data));
    mmc_data_info di;
    TU_CHECK(mmcc_put_opt("", &b, NULL, 0) == MMC_INVALID_PARAM, "put key of 0 bytes");
    TU_CHECK(mmcc_put_opt(k257, &b, NULL, 0) == MMC_INVALID_PARAM && strstr(mmc_get_last_err_msg(), "1..256") != NULL,
             "put key of 257 bytes: %s", mmc_get_last_err_msg());
    TU_CHECK(mmcc_get("", &b, 0) == MMC_INVALID_PARAM && mmcc_get(k257, &b, 0) == MMC_INVALID_PARAM, "get bad keys");
    TU_CHECK(mmcc_exist("", 0) == MMC_INVALID_PARAM && mmcc_remove(k257, 0) == MMC_INVALID_PARAM, "exist/remove bad keys");
    TU_CHECK(mmcc_query(k257, &di, 0) == MMC_INVALID_PARAM && mmcc_put_opt(NULL, &b, NULL, 0) == MMC_INVALID_PARAM,
             "query bad key, NULL key");
    k257[256] = '\0';
    TU_CHECK(mmcc_put_opt(k257, &b, NULL, 0) == 0 && mmcc_exist(k257, 0) == 0, "a 256-byte key works");

    TU_CHECK(mmcc_put_opt("bad/null", NULL, NULL, 0) == MMC_INVALID_PARAM, "NULL buffer");
    mmc_buffer z = {.addr = 0, .type = 1, .len = 10};
    TU_CHECK(mmcc_put_opt("bad/zero", &z, NULL, 0) == MMC_INVALID_PARAM, "address 0");
    mmc_buffer t = hbuf(data, 16);
    t.type = 2;
    TU_CHECK(mmcc_put_opt("bad/type", &t, NULL, 0) == MMC_INVALID_PARAM, "type 2");
    mmc_buffer e = hbuf(data, 0);
    TU_CHECK(mmcc_put_opt("bad/empty", &e, NULL, 0) == MMC_INVALID_PARAM, "empty value");
    mmc_buffer wrap = {.addr = UINT64_MAX - 8, .type = 1, .offset = 4, .len = 100};
    TU_CHECK(mmcc_put_opt("bad/wrap", &wrap, NULL, 0) == MMC_INVALID_PARAM, "wrapping buffer");
    mmc_buffer dev = hbuf(data, 64);
    dev.type = 0;
    int32_t rc = mmcc_put_opt("bad/device", &dev, NULL, 0);
    TU_CHECK(rc != 0 && mmcc_exist("bad/device", 0) == MMC_KEY_NOT_FOUND, "device buffer without CUDA: %d, aborted",
             rc);
    mmc_buffer layers[256];
    for (int i = 0; i < 256; i++) layers[i] = hbuf(data + i, 1);
    TU_CHECK(mmcc_put_layers("bad/l0", layers, 0, NULL, 0) == MMC_INVALID_PARAM, "0 layers");
    TU_CHECK(mmcc_put_layers("bad/l256", layers, 256, NULL, 0) == MMC_INVALID_PARAM, "256 layers");
    TU_CHECK(mmcc_put_layers("ok/l255", layers, 255, NULL, 0) == 0, "255 layers");
    mmc_put_options opt = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 9};
    for (int i = 0; i < 8; i++) opt.preferredLocalServiceIDs[i] = -1;
    TU_CHECK(mmcc_put_opt("bad/rep", &b, &opt, 0) == MMC_INVALID_PARAM, "9 replicas");
    opt.replicaNum = 2;
    rc = mmcc_put_opt("bad/rep2", &b, &opt, 0);
    TU_CHECK(rc == MMC_EXCEEDS_CAPACITY, "2 replicas with one LocalService: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(strstr(mmc_get_last_err_msg(), "bad/rep2") != NULL, "the message names the key: '%s'",
             mmc_get_last_err_msg());
    /* a per-key failure inside a batch names its key too */
    {
        const char *bk[2] = {"ok/batch-a", "bad/batch-rep2"};
        mmc_buffer bb[2] = {b, b};
        int32_t br[2] = {1, 1};
        TU_CHECK(mmcc_batch_put(bk, 1, bb, NULL, 0, br) == 0 && br[0] == 0, "batch put of one key");
        TU_CHECK(mmcc_batch_put(&bk[1], 1, &bb[1], &opt, 0, br) == 0 && br[0] == MMC_EXCEEDS_CAPACITY,
                 "batch put with 2 replicas: per-key %d", br[0]);
        TU_CHECK(strstr(mmc_get_last_err_msg(), "bad/batch-rep2") != NULL, "batch: the message names the key: '%s'",
                 mmc_get_last_err_msg());
    }

    /* sizes on get */
    TU_CHECK(mmcc_put_opt("sz/4096", &b, NULL, 0) == 0, "put 4096");
    uint8_t small[4095];
    mmc_buffer sb = hbuf(small, sizeof(small));
    rc = mmcc_get("sz/4096", &sb, 0);
    TU_CHECK(rc == MMC_BUFFER_TOO_SMALL && strstr(mmc_get_last_err_msg(), "4096") != NULL, "buffer too small: %d %s",
             rc, mmc_get_last_err_msg());
    mmc_buffer halves[3] = {hbuf(small, 2048), hbuf(small + 2048, 2047), hbuf(small, 2)};
    TU_CHECK(mmcc_get_layers("sz/4096", halves, 2, 0) == MMC_BUFFER_TOO_SMALL, "layers short");
    halves[1].len = 2048;
    TU_CHECK(mmcc_get_layers("sz/4096", halves, 3, 0) == MMC_INVALID_PARAM, "layers too long");
    uint8_t two[2][2048];
    mmc_buffer exact[2] = {hbuf(two[0], 2048), hbuf(two[1], 2048)};
    TU_CHECK(mmcc_get_layers("sz/4096", exact, 2, 0) == 0 && two[1][2047] == 7, "layers exact");

    /* unknown keys */
    TU_CHECK(mmcc_get("no/such", &b, 0) == MMC_KEY_NOT_FOUND, "get unknown");
    TU_CHECK(mmcc_remove("no/such", 0) == MMC_KEY_NOT_FOUND, "remove unknown");
    TU_CHECK(mmcc_query("no/such", &di, 0) == MMC_KEY_NOT_FOUND, "query unknown");
    mmc_key_info ki;
    TU_CHECK(mmcc_get_key_info("no/such", &ki) == MMC_KEY_NOT_FOUND, "key info unknown");
    const char *nk = "no/such";
    int32_t r1;
    TU_CHECK(mmcc_batch_remove_lease(&nk, 1, &r1) == 0 && r1 == MMC_LINK_NOT_FOUND, "remove_lease not held");
    TU_CHECK(mmcc_batch_get_layers(&nk, 1, NULL, NULL, 0, &r1) == MMC_INVALID_PARAM && r1 == MMC_INVALID_PARAM,
             "NULL layers");

    /* batch sizes */
    const char **many = malloc((MMC_BATCH_MAX + 1) * sizeof(*many));
    int32_t *res = malloc((MMC_BATCH_MAX + 1) * sizeof(*res));
    mmc_buffer *bufs = malloc((MMC_BATCH_MAX + 1) * sizeof(*bufs));
    mmc_data_info *infos = malloc((MMC_BATCH_MAX + 1) * sizeof(*infos));
    for (uint32_t i = 0; i <= MMC_BATCH_MAX; i++) {
        many[i] = "sz/4096";
        bufs[i] = b;
    }
    TU_CHECK(mmcc_batch_exist(many, MMC_BATCH_MAX + 1, res, 0) == MMC_INVALID_PARAM, "exist 16385");
    res[0] = 12345;
    TU_CHECK(mmcc_batch_put(many, MMC_BATCH_MAX + 1, bufs, NULL, 0, res) == MMC_INVALID_PARAM && res[0] == 12345,
             "put 16385 (results untouched: n is out of range)");
    TU_CHECK(mmcc_batch_get(many, MMC_BATCH_MAX + 1, bufs, 0, res) == MMC_INVALID_PARAM, "get 16385");
    TU_CHECK(mmcc_batch_remove(many, MMC_BATCH_MAX + 1, res, 0) == MMC_INVALID_PARAM, "remove 16385");
    TU_CHECK(mmcc_batch_query(many, MMC_BATCH_MAX + 1, infos, 0) == MMC_INVALID_PARAM, "query 16385");
    TU_CHECK(mmcc_batch_exist(many, 0, res, 0) == MMC_INVALID_PARAM, "exist 0");
    TU_CHECK(mmcc_batch_exist(many, MMC_BATCH_MAX, res, 0) == 0 && res[MMC_BATCH_MAX - 1] == 0, "exist 16384");
    TU_CHECK(mmcc_batch_exist(NULL, 1, res, 0) == MMC_INVALID_PARAM, "NULL keys");
    many[1] = "";
    many[2] = "no/such";
    TU_CHECK(mmcc_batch_get(many, 3, bufs, 0, res) == 0 && res[0] == 0 && res[1] == MMC_INVALID_PARAM &&
                 res[2] == MMC_KEY_NOT_FOUND,
             "one bad key fails only itself: %d %d %d", res[0], res[1], res[2]);
    free(many);
    free(res);
    free(bufs);
    free(infos);
}

static void test_full_pool(void)
{
    uint64_t big = 48u << 20;
    uint8_t *p = malloc(big);
    memset(p, 1, big);
    mmc_buffer b = hbuf(p, big);
    uint64_t t0 = util_now_ms();
    int32_t rc = mmcc_put_opt("full/huge", &b, NULL, 0);
    TU_CHECK(rc == MMC_EXCEEDS_CAPACITY, "larger than any segment: %d %s", rc, mmc_get_last_err_msg());
    mmcc_remove_all(0);
    /* fill with 1 MiB values and lease them all: nothing can be evicted */
    enum { N = 40 };
    char names[N][32];
    const char *keys[N];
    int32_t res[N];
    int ok = 0;
    b.len = 1u << 20;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "full/%d", i);
        keys[i] = names[i];
        if (mmcc_put_opt(keys[i], &b, NULL, 0) == 0) ok++;
    }
    TU_CHECK(ok == N, "40 MiB of puts into a 32 MiB pool succeed by eviction (%d)", ok);
    uint32_t granted = 0;
    TU_CHECK(mmcc_batch_add_lease(keys, N, 60000, res, &granted) == 0, "lease every key");
    int leased = 0;
    for (int i = 0; i < N; i++) leased += res[i] == 0;
    b.len = 16u << 20;
    rc = mmcc_put_opt("full/more", &b, NULL, 0);
    TU_CHECK(rc == MMC_NOT_ENOUGH_MEMORY, "pool full of leased objects (%d leased): %d %s", leased, rc,
             mmc_get_last_err_msg());
    TU_CHECK(strstr(mmc_get_last_err_msg(), "full/more") != NULL, "the full-pool message names the key: '%s'",
             mmc_get_last_err_msg());
    TU_CHECK(mmcc_batch_remove_lease(keys, N, res) == 0 && res[N - 1] == 0, "remove leases");
    rc = mmcc_put_opt("full/more", &b, NULL, 0);
    TU_CHECK(rc == 0, "room again after the leases went: %d %s", rc, mmc_get_last_err_msg());
    free(p);
    fprintf(stderr, "full pool: %" PRIu64 " ms\n", util_now_ms() - t0);
}

static void test_dead_meta(pid_t meta)
{
    kill(meta, SIGKILL);
    int st;
    tu_wait_pid(meta, 5000, &st);
    uint8_t d[64] = {0};
    mmc_buffer b = hbuf(d, sizeof(d));
    const char *k = "dead/x";
    int32_t r;
    struct {
        const char *name;
        int32_t rc;
        uint64_t ms;
    } calls[4];
    uint64_t t0 = util_now_ms();
    calls[0].rc = mmcc_put_opt("dead/x", &b, NULL, 0);
    calls[0].ms = util_now_ms() - t0;
    calls[0].name = "put";
    t0 = util_now_ms();
    calls[1].rc = mmcc_get("dead/x", &b, 0);
    calls[1].ms = util_now_ms() - t0;
    calls[1].name = "get";
    t0 = util_now_ms();
    calls[2].rc = mmcc_batch_exist(&k, 1, &r, 0);
    calls[2].ms = util_now_ms() - t0;
    calls[2].name = "exist";
    t0 = util_now_ms();
    calls[3].rc = mmcc_remove("dead/x", 0);
    calls[3].ms = util_now_ms() - t0;
    calls[3].name = "remove";
    for (int i = 0; i < 4; i++)
        fprintf(stderr, "dead MetaService: %s -> %d after %" PRIu64 " ms\n", calls[i].name, calls[i].rc, calls[i].ms);
    for (int i = 0; i < 4; i++)
        TU_CHECK((calls[i].rc == MMC_NOT_CONNECTED || calls[i].rc == MMC_TIMEOUT) && calls[i].ms <= 2000 + 1000,
                 "%s with a dead MetaService: %d after %" PRIu64 " ms (%s)", calls[i].name, calls[i].rc, calls[i].ms,
                 mmc_get_last_err_msg());
    TU_CHECK(strstr(mmc_get_last_err_msg(), "MetaService") != NULL || strstr(mmc_get_last_err_msg(), "127.0.0.1") != NULL,
             "the message names the MetaService: %s", mmc_get_last_err_msg());
    t0 = util_now_ms();
    mmc_uninit();
    fprintf(stderr, "uninit: %" PRIu64 " ms\n", util_now_ms() - t0);
    TU_CHECK(util_now_ms() - t0 < 15000, "uninit with a dead MetaService took %" PRIu64 " ms", util_now_ms() - t0);
}

/* ---------- scenarios ---------- */

static pid_t meta = -1, ls = -1;
static int cluster_state; /* 0 not started yet, 1 up and mmc_init done, -1 failed */

/* mmc-meta, one mmc-local and mmc_init in this process, once, for the scenarios that need them. */
static bool cluster(void)
{
    if (cluster_state != 0) return cluster_state > 0;
    cluster_state = -1;
    if (meta_start(&meta) != 0 || local_start(&ls) != 0) {
        TU_CHECK(0, "cluster start");
        return false;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/client.conf", tmpdir);
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = "64MB", .world = "8", .timeout_s = 2,
                          .extra = "ock.mmc.client.retry_milliseconds = 50\n"};
    TU_CHECK(tu_mmc_client_conf(path, &cc) == 0, "client config");
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    int32_t rc = mmc_init(&ic);
    TU_CHECK(rc == 0, "mmc_init: %d %s", rc, mmc_get_last_err_msg());
    if (rc != 0) return false;
    TU_CHECK(mmc_init(&ic) == 0, "mmc_init twice is a no-op");
    mmc_local_service_config_t c2;
    mmc_local_service_config_init(&c2);
    TU_CHECK(mmcs_local_service_start(&c2) == NULL && strstr(mmc_get_last_err_msg(), "already") != NULL,
             "a second LocalService in one process: %s", mmc_get_last_err_msg());
    cluster_state = 1;
    return true;
}

static void scen_keys(void)
{
    if (cluster()) test_keys_and_buffers();
}

static void scen_full_pool(void)
{
    if (cluster()) test_full_pool();
}

static void scen_dead_meta(void)
{
    if (!cluster()) return;
    test_dead_meta(meta);
    meta = -1;
}

static const tu_scen_t scenarios[] = {
    {.name = "before_init", .run = test_before_init, .what = "every call before mmc_init fails cleanly"},
    {.name = "config", .run = test_config, .what = "bad LocalService configs and MMC_LOCAL_CONFIG_PATH"},
    {.name = "keys", .run = scen_keys, .what = "bad keys, buffers and batch arguments against a live cluster"},
    {.name = "full_pool", .run = scen_full_pool, .what = "a pool full of leased objects refuses a put, naming the key"},
    {.name = "dead_meta", .run = scen_dead_meta, .what = "calls with a dead MetaService fail within their bound"},
};

int main(int argc, char **argv)
{
    int rc = tu_scen_args(argc, argv, scenarios, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    if (rc >= 0) return rc;
    signal(SIGPIPE, SIG_IGN);
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    tu_scen_run();
    if (ls > 0) tu_stop_pid(ls, 5000);
    if (meta > 0) tu_stop_pid(meta, 5000);
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
