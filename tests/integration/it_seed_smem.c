/*
 * it.seed_smem: the memfabric C items of the seed-fidelity issue, called the
 * seed's way (seed includes "smem.h", seed types and values) against real
 * config stores: an smem-store daemon for Trans, the store smem_bm_init
 * starts inside this process for BM, and that store under TLS with an
 * encrypted key whose password a decrypter library undoes.
 *   trans: the seed's role values (SMEM_TRANS_NONE refused), smem_trans_free
 *          returning a status, the batch calls with plain size_t arrays,
 *          the peer-down callback;
 *   bm:    smem_bm_create ignoring memberSize, the performance-mode bit 7 and
 *          the other seed create flags, copies with the seed's params
 *          (stream field), smem_bm_gva_to_va, partial-success batches, and
 *          NOT_INITIALIZED before a bad handle once smem_bm_uninit ran;
 *   tls:   storeTlsConfig.decrypterLibPath loaded and DecryptPassword called
 *          the seed's way (libseed_smem_decrypter.so, built by the tests),
 *          a wrong password and a library without the symbol refused.
 * Each part runs in its own process (`--role <part>`): BM and TLS state are
 * process-wide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smem.h"
#include "smem_bm.h"
#include "smem_trans.h"
#include "testutil.h"

#define MiB (1ull << 20)

static char g_dir[256];

/* ---------- trans ---------- */

static struct {
    int calls;
    char id[64];
} g_down;

static void on_peer_down(const char *peer, void *arg)
{
    typeof(g_down) *d = arg;
    snprintf(d->id, sizeof(d->id), "%s", peer);
    __atomic_add_fetch(&d->calls, 1, __ATOMIC_RELEASE);
}

static int part_trans(const char *url)
{
    smem_trans_config_t c;
    TU_CHECK(smem_trans_config_init(&c) == 0, "config_init");
    TU_CHECK(c.deviceId == UINT32_MAX, "default deviceId %u, the seed's is UINT32_MAX", c.deviceId);
    c.initTimeout = 20;
    c.dataOpType = SMEMB_DATA_OP_HOST_TCP;

    /* Before smem_trans_init: the seed's INVALID_PARAM. */
    TU_CHECK(smem_trans_free((smem_trans_t)&c, &c) == SMEM_ERR_INVALID_PARAM, "free before init");
    TU_CHECK(smem_trans_init(&c) == 0, "smem_trans_init: %s", smem_get_last_err_msg());

    c.role = SMEM_TRANS_NONE;
    TU_CHECK(smem_trans_create(url, "127.0.0.1:7301", &c) == NULL, "role NONE accepted");
    TU_CHECK(strstr(smem_get_last_err_msg(), "SMEM_TRANS_NONE") != NULL, "message: %s", smem_get_last_err_msg());
    c.role = (smem_trans_role_t)SMEM_TRANS_BUTT;
    TU_CHECK(smem_trans_create(url, "127.0.0.1:7301", &c) == NULL, "role BUTT accepted");

    c.role = SMEM_TRANS_RECEIVER; /* 2 in the seed */
    smem_trans_t rx = smem_trans_create(url, "127.0.0.1:7301", &c);
    TU_CHECK(rx != NULL, "receiver: %s", smem_get_last_err_msg());
    c.role = SMEM_TRANS_SENDER; /* 1 */
    smem_trans_t tx = smem_trans_create(url, "127.0.0.1:7302", &c);
    TU_CHECK(tx != NULL, "sender: %s", smem_get_last_err_msg());
    if (rx == NULL || tx == NULL) return 1;


    enum { N = 4, PIECE = 4096 };
    uint8_t *rmem = smem_trans_malloc(rx, N * PIECE);
    TU_CHECK(rmem != NULL, "smem_trans_malloc: %s", smem_get_last_err_msg());
    if (rmem == NULL) return 1;
    memset(rmem, 0, N * PIECE);
    static uint8_t src[N * PIECE], back[N * PIECE];
    for (size_t i = 0; i < sizeof(src); i++) src[i] = (uint8_t)(i * 7 + 3);

    /* The seed's batch shapes: const void *[], void *[], plain size_t[] */
    const void *l[N];
    void *r[N], *lb[N];
    const void *rb[N];
    size_t sizes[N];
    for (int i = 0; i < N; i++) {
        l[i] = src + i * PIECE;
        r[i] = rmem + i * PIECE;
        lb[i] = back + i * PIECE;
        rb[i] = rmem + i * PIECE;
        sizes[i] = PIECE;
    }
    int32_t rc = -1;
    for (int t = 0; t < 100 && rc != 0; t++) { /* the receiver's registration reaches the sender by a watch */
        rc = smem_trans_batch_write(tx, l, "127.0.0.1:7301", r, sizes, N, 0);
        if (rc != 0) usleep(50 * 1000);
    }
    TU_CHECK(rc == 0, "batch_write: %d %s", rc, smem_get_last_err_msg());
    TU_CHECK(memcmp(rmem, src, sizeof(src)) == 0, "bytes at the receiver");
    /* A receiver initiates nothing: the role values reach the core as the seed's. */
    TU_CHECK(smem_trans_batch_write(rx, l, "127.0.0.1:7302", r, sizes, N, 0) == SMEM_ERR_UNSUPPORTED,
             "a RECEIVER initiated a write: %s", smem_get_last_err_msg());
    rc = smem_trans_batch_read(tx, lb, "127.0.0.1:7301", rb, sizes, N, 0);
    TU_CHECK(rc == 0 && memcmp(back, src, sizeof(src)) == 0, "batch_read: %d %s", rc, smem_get_last_err_msg());

    /* smem_trans_free returns a status */
    TU_CHECK(smem_trans_free(rx, NULL) == SMEM_ERR_INVALID_PARAM, "free(NULL)");
    TU_CHECK(smem_trans_free(rx, src) == SMEM_ERR_INVALID_PARAM, "free of memory not from smem_trans_malloc");
    TU_CHECK(smem_trans_free(NULL, rmem) == SMEM_ERR_INVALID_PARAM, "free on a NULL handle");
    TU_CHECK(smem_trans_free(rx, rmem) == 0, "free: %s", smem_get_last_err_msg());
    TU_CHECK(smem_trans_free(rx, rmem) == SMEM_ERR_INVALID_PARAM, "double free");
    rc = smem_trans_write(tx, src, "127.0.0.1:7301", rmem, PIECE, 0);
    TU_CHECK(rc != 0, "a write into freed memory succeeded");

    /* The seed's peer-down callback: the sender hears of the receiver's departure */
    TU_CHECK(smem_trans_set_peer_down_callback(NULL, on_peer_down, NULL) == SMEM_ERR_INVALID_PARAM, "NULL handle");
    TU_CHECK(smem_trans_set_peer_down_callback(tx, on_peer_down, &g_down) == 0, "set_peer_down_callback: %s",
             smem_get_last_err_msg());
    smem_trans_destroy(rx, 0);
    for (int t = 0; t < 200 && __atomic_load_n(&g_down.calls, __ATOMIC_ACQUIRE) == 0; t++) usleep(25 * 1000);
    TU_CHECK(__atomic_load_n(&g_down.calls, __ATOMIC_ACQUIRE) == 1, "peer-down calls: %d", g_down.calls);
    TU_CHECK(strcmp(g_down.id, "127.0.0.1:7301") == 0, "peer-down id '%s'", g_down.id);
    smem_trans_destroy(tx, 0);
    smem_trans_uninit(0);
    /* After uninit the seed checks "initialised" first: INVALID_PARAM, with the reason. */
    TU_CHECK(smem_trans_free(rx, rmem) == SMEM_ERR_INVALID_PARAM, "free after uninit");
    TU_CHECK(strstr(smem_get_last_err_msg(), "smem_trans_init") != NULL, "message: %s", smem_get_last_err_msg());
    return 0;
}

/* ---------- bm ---------- */

static int bm_init_embedded(char *url, size_t cap, const smem_bm_config_t *cfg)
{
    int32_t rc = SMEM_ERR_RESOURCE_IN_USE;
    for (int t = 0; t < 20 && rc == SMEM_ERR_RESOURCE_IN_USE; t++) { /* another test may hold the port */
        snprintf(url, cap, "tcp://127.0.0.1:%d", 20000 + (int)((getpid() * 13 + t * 977) % 30000));
        rc = smem_bm_init(url, 1, 0, cfg);
    }
    return rc;
}

static struct {
    int n;
    smem_bm_t h;
    smem_bm_group_event_t ev[8];
    uint32_t rank[8];
} g_ev;

static void on_group_event(smem_bm_t h, uint32_t rank, smem_bm_group_event_t ev, void *ctx)
{
    typeof(g_ev) *e = ctx;
    int i = __atomic_load_n(&e->n, __ATOMIC_ACQUIRE);
    if (i >= 8) return;
    e->h = h;
    e->ev[i] = ev;
    e->rank[i] = rank;
    __atomic_store_n(&e->n, i + 1, __ATOMIC_RELEASE);
}

static bool await_events(int n)
{
    for (int t = 0; t < 200 && __atomic_load_n(&g_ev.n, __ATOMIC_ACQUIRE) < n; t++) usleep(25 * 1000);
    return __atomic_load_n(&g_ev.n, __ATOMIC_ACQUIRE) == n;
}

static int part_bm(void)
{
    smem_bm_config_t cfg;
    TU_CHECK(smem_bm_config_init(&cfg) == 0, "config_init");
    cfg.initTimeout = cfg.createTimeout = cfg.controlOperationTimeout = 20;
    char url[64];
    /* The seed's init flags for RDMA data paths: refused here, saying why */
    cfg.flags = SMEM_INIT_FLAG_NEED_HOST_RDMA;
    TU_CHECK(smem_bm_init("tcp://127.0.0.1:1", 1, 0, &cfg) == SMEM_ERR_UNSUPPORTED, "NEED_HOST_RDMA accepted");
    TU_CHECK(strstr(smem_get_last_err_msg(), "ucx") != NULL, "message: %s", smem_get_last_err_msg());
    cfg.flags = SMEM_INIT_FLAG_NEED_DEVICE_RDMA;
    TU_CHECK(smem_bm_init("tcp://127.0.0.1:1", 1, 0, &cfg) == SMEM_ERR_UNSUPPORTED, "NEED_DEVICE_RDMA accepted");
    cfg.flags = 0;
    int32_t rc = bm_init_embedded(url, sizeof(url), &cfg);
    TU_CHECK(rc == 0, "smem_bm_init (embedded store): %d %s", rc, smem_get_last_err_msg());
    if (rc != 0) return 1;
    TU_CHECK(smem_bm_get_rank_id() == 0, "rank %u", smem_bm_get_rank_id());

    /* memberSize is ignored as in the seed (8 > the world of 1); bit 7 with 127 = the caller's NUMA node. */
    uint32_t flags = (1U << SMEM_BM_PERFORMANCE_MODE_FLAG_INDEX) |
                     (SMEM_BM_BIND_NUMA_AUTO_AFFINITY_FLAG << SMEM_BM_BIND_NUMA_FLAG_INDEX);
    smem_bm_t h = smem_bm_create(1, 8, SMEMB_DATA_OP_HOST_TCP, 8 * MiB, 0, flags);
    TU_CHECK(h != NULL, "create with memberSize 8, perf mode: %s", smem_get_last_err_msg());
    if (h == NULL) return 1;
    /* The seed's group events: this rank's own join and leave come through the store */
    TU_CHECK(smem_bm_set_group_event_handler(NULL, on_group_event, &g_ev) == SMEM_ERR_INVALID_PARAM, "NULL handle");
    TU_CHECK(smem_bm_set_group_event_handler(h, on_group_event, &g_ev) == 0, "set_group_event_handler: %s",
             smem_get_last_err_msg());
    TU_CHECK(smem_bm_join(h, 0) == 0, "join: %s", smem_get_last_err_msg());
    TU_CHECK(await_events(1) && g_ev.ev[0] == SMEM_GROUP_EVENT_JOIN && g_ev.rank[0] == 0 && g_ev.h == h,
             "JOIN event: %d events", g_ev.n);
    TU_CHECK(smem_bm_leave(h, 0) == 0, "leave: %s", smem_get_last_err_msg());
    TU_CHECK(await_events(2) && g_ev.ev[1] == SMEM_GROUP_EVENT_LEAVE && g_ev.rank[1] == 0, "LEAVE event: %d events",
             g_ev.n);
    TU_CHECK(smem_bm_join(h, 0) == 0, "join again: %s", smem_get_last_err_msg());
    TU_CHECK(await_events(3) && g_ev.ev[2] == SMEM_GROUP_EVENT_JOIN, "second JOIN event: %d events", g_ev.n);

    /* The other seed create flags */
    TU_CHECK(smem_bm_create(2, 0, SMEMB_DATA_OP_HOST_TCP, 4 * MiB, 0, SMEM_BM_FLAG_CREATE_WITH_SHM) == NULL,
             "CREATE_WITH_SHM without a memfd accepted");
    TU_CHECK(smem_bm_create(2, 1, SMEMB_DATA_OP_HOST_TCP, 4 * MiB, 0, SMEM_BM_FLAG_HOST_REGISTER_FOR_DEVICE) == NULL,
             "HOST_REGISTER_FOR_DEVICE accepted");
    TU_CHECK(strstr(smem_get_last_err_msg(), "Ascend") != NULL, "message: %s", smem_get_last_err_msg());
    TU_CHECK(smem_bm_create(2, 1, SMEMB_DATA_OP_MTE, 4 * MiB, 0, 0) == NULL, "MTE accepted");
    smem_bm_t h2 = smem_bm_create(2, 1, SMEMB_DATA_OP_HOST_TCP, 4 * MiB, 0, SMEM_BM_FLAG_DRAM_MAP_HOST_VA);
    TU_CHECK(h2 != NULL, "DRAM_MAP_HOST_VA: %s", smem_get_last_err_msg());
    if (h2 != NULL) smem_bm_destroy(h2);

    /* Copies with the seed's params; the stream field is only read with SMEM_BM_FLAG_USE_EXTERNAL_STREAM. */
    uint8_t *g = smem_bm_ptr_by_mem_type(h, SMEM_MEM_TYPE_HOST, 0);
    TU_CHECK(g != NULL, "ptr: %s", smem_get_last_err_msg());
    static uint8_t host[2 * MiB], back[2 * MiB];
    for (size_t i = 0; i < sizeof(host); i++) host[i] = (uint8_t)(i ^ (i >> 9));
    smem_copy_params_t p;
    p.src = host;
    p.dest = g;
    p.dataSize = sizeof(host);
    p.stream = (void *)(uintptr_t)0x1234; /* garbage, as an old seed program leaves it */
    rc = smem_bm_copy(h, &p, SMEMB_COPY_H2G, 0);
    TU_CHECK(rc == 0, "copy H2G: %d %s", rc, smem_get_last_err_msg());
    TU_CHECK(smem_bm_copy(h, &p, SMEMB_COPY_H2G, SMEM_BM_FLAG_USE_EXTERNAL_STREAM) == SMEM_ERR_UNSUPPORTED,
             "external stream accepted");
    p.src = g;
    p.dest = back;
    TU_CHECK(smem_bm_copy(h, &p, SMEMB_COPY_G2H, ASYNC_COPY_FLAG) == 0, "async G2H: %s", smem_get_last_err_msg());
    TU_CHECK(smem_bm_wait(h) == 0 && memcmp(back, host, sizeof(host)) == 0, "wait, bytes back");

    /* gva_to_va: this rank's memory is mapped at its GVA */
    void *va = NULL;
    TU_CHECK(smem_bm_gva_to_va(h, g + 100, SMEM_MEM_TYPE_LOCAL_HOST, &va) == 0 && va == g + 100, "gva_to_va: %s",
             smem_get_last_err_msg());
    TU_CHECK(smem_bm_gva_to_va(h, g + 8 * MiB, SMEM_MEM_TYPE_LOCAL_HOST, &va) == SMEM_ERR_INVALID_PARAM,
             "gva_to_va past the local memory");
    TU_CHECK(smem_bm_gva_to_va(h, g, SMEM_MEM_TYPE_LOCAL_DEVICE, &va) == SMEM_ERR_UNSUPPORTED, "device va");

    /* Partial success: piece 1 runs past the pool */
    void *srcs[3] = {host, host, host}, *dsts[3] = {g, g + 16 * MiB * 1024, g + MiB};
    uint64_t lens[3] = {4096, 4096, 4096};
    smem_batch_copy_params_t bp = {srcs, dsts, lens, 3, NULL};
    int32_t codes[3] = {1, 1, 1};
    smem_batch_copy_result_t res = {codes, 3};
    rc = smem_bm_copy_batch_partial_succeed(h, &bp, SMEMB_COPY_H2G, 0, &res);
    TU_CHECK(rc == SMEM_ERR_PARTIAL_FAILED, "partial: %d %s", rc, smem_get_last_err_msg());
    TU_CHECK(codes[0] == 0 && codes[1] != 0 && codes[2] == 0, "codes %d %d %d", codes[0], codes[1], codes[2]);
    dsts[1] = g + 2 * MiB;
    rc = smem_bm_copy_batch_partial_succeed(h, &bp, SMEMB_COPY_H2G, 0, &res);
    TU_CHECK(rc == 0 && codes[1] == 0, "all pieces: %d", rc);

    /* Error precedence as in the seed: NULL handle, then "not initialised", then an unknown handle. */
    TU_CHECK(smem_bm_join((smem_bm_t)&cfg, 0) == SMEM_ERR_INVALID_PARAM, "foreign handle while initialised");
    smem_bm_uninit(0);
    TU_CHECK(smem_bm_join(NULL, 0) == SMEM_ERR_INVALID_PARAM, "NULL handle after uninit");
    TU_CHECK(smem_bm_join(h, 0) == SMEM_ERR_NOT_INITIALIZED, "stale handle after uninit: %s",
             smem_get_last_err_msg());
    TU_CHECK(smem_bm_leave(h, 0) == SMEM_ERR_NOT_INITIALIZED, "leave after uninit");
    TU_CHECK(smem_bm_copy(h, &p, SMEMB_COPY_G2H, 0) == SMEM_ERR_NOT_INITIALIZED, "copy after uninit");
    smem_uninit();
    return 0;
}

/* ---------- tls with a decrypter library ---------- */

/* BM init over a TLS store whose key password file is handed to decrypter lib; 0 or the code. */
static int32_t bm_tls_init(const char *pass_file, const char *lib)
{
    smem_bm_config_t cfg;
    smem_bm_config_init(&cfg);
    cfg.initTimeout = cfg.createTimeout = cfg.controlOperationTimeout = 10;
    smem_tls_config_t *t = &cfg.storeTlsConfig;
    t->tlsEnable = true;
    snprintf(t->caPath, sizeof(t->caPath), "%s/certs/ca.pem", g_dir);
    snprintf(t->certPath, sizeof(t->certPath), "%s/certs/node.pem", g_dir);
    snprintf(t->keyPath, sizeof(t->keyPath), "%s/certs/node-enc.key", g_dir);
    snprintf(t->keyPassPath, sizeof(t->keyPassPath), "%s/certs/%s", g_dir, pass_file);
    snprintf(t->decrypterLibPath, sizeof(t->decrypterLibPath), "%s", lib);
    char url[64];
    return bm_init_embedded(url, sizeof(url), &cfg);
}

static int part_tls(void)
{
    char cmd[1200], lib[512], bad_lib[512];
    snprintf(lib, sizeof(lib), "%s/tests/libseed_smem_decrypter.so", tu_build_dir());
    snprintf(bad_lib, sizeof(bad_lib), "%s/libsmem.so", tu_build_dir()); /* exports no decrypter */
    TU_CHECK(access(lib, R_OK) == 0, "%s missing", lib);
    snprintf(cmd, sizeof(cmd),
             "bash '%s/scripts/gen-test-certs.sh' '%s/certs' >/dev/null && cd '%s/certs' && "
             "printf 'seed-secret-42' > plain.pass && "
             "openssl pkey -in node.key -aes256 -passout file:plain.pass -out node-enc.key && "
             /* the file holds what the decrypter undoes: ENC: and the password reversed */
             "printf 'ENC:24-terces-dees\\n' > enc.pass && printf 'ENC:wrong\\n' > wrong.pass",
             tu_source_dir(), g_dir, g_dir);
    TU_CHECK(system(cmd) == 0, "certificates: %s", cmd);

    int32_t rc = bm_tls_init("enc.pass", lib);
    TU_CHECK(rc == 0, "TLS store with the decrypter: %d %s", rc, smem_get_last_err_msg());
    if (rc == 0) {
        smem_bm_t h = smem_bm_create(1, 1, SMEMB_DATA_OP_HOST_TCP, 4 * MiB, 0, 0);
        TU_CHECK(h != NULL, "create over the TLS store: %s", smem_get_last_err_msg());
        if (h != NULL) TU_CHECK(smem_bm_join(h, 0) == 0, "join over the TLS store: %s", smem_get_last_err_msg());
        if (h != NULL) smem_bm_destroy(h);
        smem_bm_uninit(0);
    }
    smem_uninit();

    rc = bm_tls_init("wrong.pass", lib);
    TU_CHECK(rc != 0, "a password the decrypter turns into the wrong one was accepted");
    smem_bm_uninit(0);
    smem_uninit();

    rc = bm_tls_init("enc.pass", bad_lib);
    TU_CHECK(rc != 0, "a library without DecryptPassword was accepted");
    TU_CHECK(strstr(smem_get_last_err_msg(), "DecryptPassword") != NULL, "message: %s", smem_get_last_err_msg());
    smem_bm_uninit(0);
    smem_uninit();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--role") == 0) {
        int r = 1;
        if (strcmp(argv[2], "trans") == 0 && argc >= 4) r = part_trans(argv[3]);
        else if (strcmp(argv[2], "bm") == 0) r = part_bm();
        else if (strcmp(argv[2], "tls") == 0 && argc >= 4) {
            snprintf(g_dir, sizeof(g_dir), "%s", argv[3]);
            r = part_tls();
        }
        int s = tu_summary();
        return r != 0 ? 1 : s;
    }
    if (tu_mkdtemp(g_dir, sizeof(g_dir)) != 0) return 1;
    pid_t store = -1;
    char url[128];
    TU_CHECK(tu_store_start(NULL, &store, url, sizeof(url)) == 0, "smem-store");
    const char *trans[] = {"trans", url, NULL};
    TU_CHECK(tu_role_run(trans, 120000), "trans part");
    if (store > 0) tu_stop_pid(store, 5000);
    const char *bm[] = {"bm", NULL};
    TU_CHECK(tu_role_run(bm, 120000), "bm part");
    const char *tls[] = {"tls", g_dir, NULL};
    TU_CHECK(tu_role_run(tls, 120000), "tls part");
    tu_rmdir_rf(g_dir);
    return tu_summary();
}
