/*
 * BM: process-wide init (config store, rank), and BM object create/destroy.
 * The per-object calls (join, leave, queries, copies, registration) are in
 * smem_bm_ops.c. One BM object is one host-pool space (space) plus a
 * copy engine (xfer) and a registry of user memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "smem/host/smem_bm.h"
#include "smem/smem_bm_conf.h"
#include "smem/smem_bm_int.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

_Static_assert((int)SMEMB_COPY_L2G == (int)XFER_COPY_L2G && (int)SMEMB_COPY_G2G == (int)XFER_COPY_G2G &&
                   (int)SMEMB_COPY_AUTO == (int)XFER_COPY_AUTO && (int)SMEMB_COPY_BUTT == (int)XFER_COPY_COUNT,
               "BM copy types are the engine's");

#define SMEM_BM_DATA_OP_KNOWN                                                                                    \
    (SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_HOST_RDMA | SMEMB_DATA_OP_HOST_TCP | SMEMB_DATA_OP_DEVICE_RDMA |       \
     SMEMB_DATA_OP_HOST_URMA | SMEMB_DATA_OP_HOST_SHM | SMEMB_DATA_OP_MTE)
#define SMEM_BM_CREATE_FLAGS_KNOWN                                                                              \
    (SMEM_BM_NUMA_MASK | SMEM_BM_PERFORMANCE_MODE | SMEM_BM_FLAG_CREATE_WITH_SHM | SMEM_BM_FLAG_DRAM_MAP_HOST_VA | \
     SMEM_BM_FLAG_HOST_REGISTER_FOR_DEVICE | SMEM_BM_CREATE_HUGETLB)

/* Process-wide BM state. `lock` is a leaf: no store or gva call is made under it (smem_bm_init
 * claims `initing` under it and talks to the store without it). */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cv; /* object references drained, or an init finished */
    bool initing;      /* an smem_bm_init is talking to the store: others wait for its outcome */
    bool inited;
    bool store_only;
    char url[256];
    uint32_t world_size;
    uint16_t device_id;
    smem_bm_config_t cfg;
    sm_store_conn_t conn; /* conn.client is the BM store client */
    uint32_t rank;
    sm_bm_obj_t *objs[SMEM_BM_ID_MAX + 1];
    bool creating[SMEM_BM_ID_MAX + 1];
} g_bm = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .rank = UINT32_MAX};

/* ---------- handles ---------- */

static const sm_handles_t sm_bm_handles = {
    .lock = &g_bm.lock, .cv = &g_bm.cv, .objs = (void *const *)g_bm.objs, .n = SMEM_BM_ID_MAX + 1,
    .refs_off = offsetof(sm_bm_obj_t, refs), .kind = "BM object (destroyed or never created)",
    .inited = &g_bm.inited, .uninit_code = SMEM_NOT_INITIALIZED, .init_call = "smem_bm_init"};

sm_bm_obj_t *sm_bm_obj_get(const void *h, const char *what) { return sm_handle_get(&sm_bm_handles, h, what); }
void sm_bm_obj_put(sm_bm_obj_t *o) { sm_handle_put(&sm_bm_handles, o); }

/* ---------- config ---------- */

int32_t smem_bm_config_init(smem_bm_config_t *config)
{
    if (config == NULL) return util_err_set(SMEM_INVALID_PARAM, "smem_bm_config_init: config is NULL");
    memset(config, 0, sizeof(*config));
    return util_conf_defaults(sm_bm_conf_table, sm_bm_conf_rows, config);
}

static uint32_t sm_bm_ms(uint32_t seconds)
{
    return seconds >= UINT32_MAX / 1000u ? UINT32_MAX : seconds * 1000u;
}

static int32_t sm_bm_config_check(uint32_t world_size, const smem_bm_config_t *c)
{
    if (world_size == 0 || world_size > STORE_WORLD_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_init: world size %u outside 1..%u", world_size,
                            STORE_WORLD_MAX);
    if (!c->unifiedAddressSpace)
        return util_err_set(SMEM_UNSUPPORTED, "smem_bm_init: unifiedAddressSpace=false is not supported: every "
                                              "process maps the pool at the same addresses");
    if (c->flags & SMEM_INIT_FLAG_NEED_HOST_RDMA)
        return util_err_set(SMEM_UNSUPPORTED, "smem_bm_init: SMEM_INIT_FLAG_NEED_HOST_RDMA: host RDMA needs the ucx "
                                              "transport, which this build does not have; use SMEMB_DATA_OP_HOST_TCP");
    if (c->flags & SMEM_INIT_FLAG_NEED_DEVICE_RDMA)
        return util_err_set(SMEM_UNSUPPORTED, "smem_bm_init: SMEM_INIT_FLAG_NEED_DEVICE_RDMA needs an Ascend device, "
                                              "which this platform has not");
    int32_t rc = util_conf_check(sm_bm_conf_table, sm_bm_conf_rows, c, SMEM_INVALID_PARAM);
    if (rc != SMEM_OK) return util_err_wrap(rc, "smem_bm_init");
    if (!c->autoRanking && c->rankId >= world_size)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_init: rankId %u is not below world size %u (autoRanking off)",
                            c->rankId, world_size);
    return SMEM_OK;
}

/* storeTlsConfig with tlsEnable sets the process's config-store TLS (as
 * smem_set_conf_store_tls would), so the embedded server and our client agree. */
static int32_t sm_bm_tls_apply(const smem_tls_config *t)
{
    if (!t->tlsEnable) return SMEM_OK;
    if (t->caPath[0] == '\0' || t->certPath[0] == '\0')
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_init: storeTlsConfig needs caPath and certPath");
    net_tls_opts_t o;
    net_tls_opts_from_block(&o, t);
    sm_store_tls_opts_set(&o);
    return SMEM_OK;
}

static bool sm_bm_same_init(const char *url, uint32_t world_size, uint16_t device_id, const smem_bm_config_t *c)
{
    return strcmp(url, g_bm.url) == 0 && world_size == g_bm.world_size && device_id == g_bm.device_id &&
           c->autoRanking == g_bm.cfg.autoRanking && (c->autoRanking || c->rankId == g_bm.cfg.rankId) &&
           c->startConfigStoreOnly == g_bm.cfg.startConfigStoreOnly;
}

/* ---------- init / uninit ---------- */

int32_t smem_bm_init(const char *store_url, uint32_t world_size, uint16_t device_id, const smem_bm_config_t *config)
{
    smem_bm_config_t defaults;
    if (config == NULL) {
        smem_bm_config_init(&defaults);
        config = &defaults;
    }
    if (store_url == NULL || store_url[0] == '\0' || strlen(store_url) >= sizeof(g_bm.url))
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_init: store url is NULL, empty or longer than %zu bytes",
                            sizeof(g_bm.url) - 1);
    int32_t rc = sm_bm_config_check(world_size, config);
    if (rc != SMEM_OK) return rc;

    pthread_mutex_lock(&g_bm.lock);
    while (g_bm.initing) pthread_cond_wait(&g_bm.cv, &g_bm.lock);
    if (g_bm.inited) {
        bool same = sm_bm_same_init(store_url, world_size, device_id, config);
        pthread_mutex_unlock(&g_bm.lock);
        if (same) return SMEM_OK;
        return util_err_set(SMEM_REPEAT_CALL, "smem_bm_init: already initialised with %s, world %u (rank %u); "
                                              "call smem_bm_uninit first to change",
                            g_bm.url, g_bm.world_size, g_bm.rank);
    }
    g_bm.initing = true;
    pthread_mutex_unlock(&g_bm.lock);

    sm_store_conn_t conn = {0};
    uint32_t rank = UINT32_MAX;
    bool store_only = false;
    bool insecure = (config->flags & SMEM_BM_FLAG_ALLOW_INSECURE) != 0 || net_insecure_env();
    rc = sm_bm_tls_apply(&config->storeTlsConfig);
    if (rc == SMEM_OK && config->startConfigStoreOnly) {
        rc = sm_config_store_start(store_url, insecure);
        conn.owner = true; /* no client: sm_store_conn_close only stops the store */
        store_only = true;
    } else if (rc == SMEM_OK) {
        rc = sm_store_conn_open(store_url, config->startConfigStoreServer, insecure, sm_bm_ms(config->initTimeout),
                                  sm_bm_ms(config->controlOperationTimeout), &conn);
        uint32_t want = config->autoRanking ? UINT32_MAX : config->rankId;
        if (rc == SMEM_OK) rc = store_group_join(conn.client, SMEM_BM_GROUP, world_size, want, &rank);
        if (rc != SMEM_OK && conn.client != NULL) {
            rc = util_err_wrap(rc, "smem_bm_init: taking %s rank in world %u",
                               config->autoRanking ? "a" : "the configured", world_size);
            sm_store_conn_close(&conn, store_url);
        }
    }

    pthread_mutex_lock(&g_bm.lock);
    if (rc == SMEM_OK) {
        snprintf(g_bm.url, sizeof(g_bm.url), "%s", store_url);
        g_bm.world_size = world_size;
        g_bm.device_id = device_id;
        g_bm.cfg = *config;
        g_bm.conn = conn;
        g_bm.rank = rank;
        g_bm.store_only = store_only;
        g_bm.inited = true;
    }
    g_bm.initing = false;
    pthread_cond_broadcast(&g_bm.cv);
    pthread_mutex_unlock(&g_bm.lock);
    if (rc == SMEM_OK && !store_only)
        LOG_INFO("bm: rank %u of %u on %s%s", rank, world_size, store_url, conn.owner ? " (serving the store)" : "");
    return rc;
}

store_client_t *sm_bm_store(void)
{
    pthread_mutex_lock(&g_bm.lock);
    store_client_t *c = g_bm.inited ? g_bm.conn.client : NULL;
    pthread_mutex_unlock(&g_bm.lock);
    return c;
}

static void sm_bm_obj_destroy(sm_bm_obj_t *o)
{
    sm_bm_obj_put(o); /* the table's reference */
    pthread_mutex_lock(&g_bm.lock);
    while (__atomic_load_n(&o->refs, __ATOMIC_ACQUIRE) != 0) pthread_cond_wait(&g_bm.cv, &g_bm.lock);
    pthread_mutex_unlock(&g_bm.lock);
    sm_bm_ev_close(o); /* no group event after destroy */
    xfer_engine_destroy(o->xfer); /* completes queued async copies, which hold ranks */
    pthread_mutex_lock(&o->op_lock);
    space_destroy(o->host);
    sm_bm_tp_teardown(o);
    pthread_mutex_unlock(&o->op_lock);
    gva_reg_destroy(o->reg);
    pthread_mutex_destroy(&o->op_lock);
    LOG_INFO("bm: object %u destroyed", o->id);
    free(o);
}

void smem_bm_uninit(uint32_t flags)
{
    (void)flags; /* reserved by the seed */
    sm_bm_obj_t *objs[SMEM_BM_ID_MAX + 1];
    uint32_t n = 0;
    pthread_mutex_lock(&g_bm.lock);
    if (!g_bm.inited) {
        pthread_mutex_unlock(&g_bm.lock);
        return;
    }
    for (uint32_t i = 0; i <= SMEM_BM_ID_MAX; i++) {
        if (g_bm.objs[i] != NULL) objs[n++] = g_bm.objs[i];
        g_bm.objs[i] = NULL;
    }
    sm_store_conn_t conn = g_bm.conn;
    uint32_t rank = g_bm.rank;
    uint32_t ctl_ms = sm_bm_ms(g_bm.cfg.controlOperationTimeout);
    char url[sizeof(g_bm.url)];
    snprintf(url, sizeof(url), "%s", g_bm.url);
    g_bm.inited = false;
    g_bm.rank = UINT32_MAX;
    memset(&g_bm.conn, 0, sizeof(g_bm.conn));
    g_bm.store_only = false;
    pthread_mutex_unlock(&g_bm.lock);

    for (uint32_t i = 0; i < n; i++) {
        LOG_WARN("bm: object %u still exists at uninit; destroying it", objs[i]->id);
        sm_bm_obj_destroy(objs[i]);
    }
    if (conn.client != NULL) {
        /* The store serves every rank: its owner stays until the others have gone. */
        if (conn.owner) sm_store_owner_wait(conn.client, SMEM_BM_GROUP, rank, ctl_ms);
        store_group_leave(conn.client, SMEM_BM_GROUP);
    }
    sm_store_conn_close(&conn, url);
    util_err_clear();
}

uint32_t smem_bm_get_rank_id(void)
{
    pthread_mutex_lock(&g_bm.lock);
    uint32_t r = g_bm.inited && !g_bm.store_only ? g_bm.rank : UINT32_MAX;
    pthread_mutex_unlock(&g_bm.lock);
    return r;
}

int32_t smem_bm_rank_proof(const void *challenge, uint32_t len, uint32_t *rank, uint8_t *proof)
{
    if (rank == NULL || proof == NULL) return util_err_set(SMEM_INVALID_PARAM, "smem_bm_rank_proof: NULL argument");
    /* store_group_proof makes no RPC (it hashes under the client's own lock), so it may run under ours. */
    pthread_mutex_lock(&g_bm.lock);
    int32_t rc = g_bm.inited && !g_bm.store_only
                     ? store_group_proof(g_bm.conn.client, SMEM_BM_GROUP, challenge, len, rank, proof)
                     : util_err_set(SMEM_NOT_INITIALIZED, "smem_bm_rank_proof: smem_bm_init has not joined a rank");
    pthread_mutex_unlock(&g_bm.lock);
    return rc;
}

/* ---------- create ---------- */

static uint64_t sm_bm_round_up(uint64_t v, uint64_t a) { return v > UINT64_MAX - (a - 1) ? 0 : (v + a - 1) / a * a; }

/* The NUMA node the create flags ask for (-1: none, or none on a machine without NUMA info). As the seed,
 * bits 0-6 name it in performance mode (bit 7); ours, kept: a non-zero node binds without bit 7 too. */
static int32_t sm_bm_numa_node(uint32_t flags, int *node_out)
{
    uint32_t node = (flags >> SMEM_BM_BIND_NUMA_FLAG_INDEX) & SMEM_BM_NUMA_MASK;
    if (node == 0 && (flags & SMEM_BM_PERFORMANCE_MODE) == 0) {
        *node_out = -1;
        return SMEM_OK;
    }
    if (access("/sys/devices/system/node", F_OK) != 0) {
        if (node != 0 && node != SMEM_BM_NUMA_NODE_CALLER)
            return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: NUMA node %u requested, this machine reports no "
                                                    "NUMA nodes",
                                node);
        *node_out = -1;
        return SMEM_OK;
    }
    if (node == SMEM_BM_NUMA_NODE_CALLER) {
        unsigned cpu = 0, n = 0;
        if (getcpu(&cpu, &n) != 0) {
            *node_out = -1;
            return SMEM_OK;
        }
        node = n;
    }
    char path[64];
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%u", node);
    if (access(path, F_OK) != 0)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: NUMA node %u (create flags 0x%x) does not exist here",
                            node, flags);
    *node_out = (int)node;
    return SMEM_OK;
}

static int32_t sm_bm_data_op_check(uint32_t op)
{
    if (op == 0) return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: dataOpType is 0 (no data path chosen)");
    if (op & ~(uint32_t)SMEM_BM_DATA_OP_KNOWN)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: dataOpType bits 0x%x unknown (known 0x%x)",
                            op & ~(uint32_t)SMEM_BM_DATA_OP_KNOWN, (unsigned)SMEM_BM_DATA_OP_KNOWN);
    if (op & SMEMB_DATA_OP_MTE)
        return util_err_set(SMEM_UNSUPPORTED, "smem_bm_create: SMEMB_DATA_OP_MTE needs an Ascend device; use "
                                              "SMEMB_DATA_OP_HOST_TCP or SMEMB_DATA_OP_SDMA");
    if (op & SMEMB_DATA_OP_HOST_URMA)
        return util_err_set(SMEM_UNSUPPORTED, "smem_bm_create: SMEMB_DATA_OP_HOST_URMA (UB memory) is not available on "
                                              "this platform; use SMEMB_DATA_OP_HOST_TCP or SMEMB_DATA_OP_SDMA");
    if (op & (SMEMB_DATA_OP_HOST_RDMA | SMEMB_DATA_OP_DEVICE_RDMA))
        return util_err_set(SMEM_UNSUPPORTED, "smem_bm_create: %s needs the ucx transport, which this build does not "
                                              "have; use SMEMB_DATA_OP_HOST_TCP or SMEMB_DATA_OP_SDMA",
                            op & SMEMB_DATA_OP_HOST_RDMA ? "SMEMB_DATA_OP_HOST_RDMA" : "SMEMB_DATA_OP_DEVICE_RDMA");
    return SMEM_OK;
}

/* Everything checkable before touching the store; fills stride and the NUMA node. */
static int32_t sm_bm_create_check(uint32_t id, uint32_t member_size, const smem_bm_create_option_t *o,
                                    uint32_t world, uint64_t *stride_out, int *node_out)
{
    if (id > SMEM_BM_ID_MAX) return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: id %u > %u", id, SMEM_BM_ID_MAX);
    if (member_size == 0 || member_size > world)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: member size %u outside 1..%u (the world size)",
                            member_size, world);
    int32_t rc = sm_bm_data_op_check(o->dataOpType);
    if (rc != SMEM_OK) return rc;
    if (o->flags & ~(uint32_t)SMEM_BM_CREATE_FLAGS_KNOWN)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: flags 0x%x unknown",
                            o->flags & ~(uint32_t)SMEM_BM_CREATE_FLAGS_KNOWN);
    if (o->flags & SMEM_BM_FLAG_HOST_REGISTER_FOR_DEVICE)
        return util_err_set(SMEM_UNSUPPORTED, "smem_bm_create: SMEM_BM_FLAG_HOST_REGISTER_FOR_DEVICE registers host "
                                              "DRAM for an Ascend device, which this platform has not");
    if (o->localHBMSize != 0 || o->maxHbmSize != 0)
        return util_err_set(SMEM_UNSUPPORTED, "smem_bm_create: device (HBM) memory (local %" PRIu64 ", max %" PRIu64
                                              " bytes) needs CUDA; this build has none (set both to 0)",
                            o->localHBMSize, o->maxHbmSize);
    if (o->localDRAMSize == 0)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: local DRAM size is 0 (nothing to contribute)");
    if (o->maxDramSize != 0 && o->localDRAMSize > o->maxDramSize)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: local DRAM size %" PRIu64 " exceeds maxDramSize %" PRIu64,
                            o->localDRAMSize, o->maxDramSize);
    uint64_t stride = sm_bm_round_up(o->maxDramSize ? o->maxDramSize : o->localDRAMSize, GVA_ALIGN);
    if (stride == 0 || stride > SMEM_BM_STRIDE_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: per-rank size %" PRIu64 " over the limit of %llu bytes",
                            o->maxDramSize ? o->maxDramSize : o->localDRAMSize, (unsigned long long)SMEM_BM_STRIDE_MAX);
    if (stride > SMEM_BM_WINDOW_MAX / world)
        return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: %u ranks x %" PRIu64 " bytes exceed the %llu-byte "
                                                "address-space limit of a pool",
                            world, stride, (unsigned long long)SMEM_BM_WINDOW_MAX);
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
        uint64_t mem = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
        if (o->localDRAMSize > mem)
            return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: local DRAM size %" PRIu64 " exceeds this host's "
                                                    "memory (%" PRIu64 " bytes RAM + swap)",
                                o->localDRAMSize, mem);
    }
    if (o->flags & SMEM_BM_CREATE_WITH_SHM) {
        if (o->dramShmFd < 0)
            return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: SMEM_BM_CREATE_WITH_SHM needs dramShmFd >= 0 "
                                                    "(smem_bm_create2), got %d",
                                o->dramShmFd);
        off_t end = lseek(o->dramShmFd, 0, SEEK_END);
        if (end < 0 || (uint64_t)end < o->localDRAMSize)
            return util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: dramShmFd %d backs %lld bytes, less than the "
                                                    "local DRAM size %" PRIu64 " (%s)",
                                o->dramShmFd, (long long)end, o->localDRAMSize, end < 0 ? strerror(errno) : "short");
    }
    rc = sm_bm_numa_node(o->flags, node_out);
    if (rc != SMEM_OK) return rc;
    *stride_out = stride;
    return SMEM_OK;
}

/* SMEM_FORCE_REMOTE=1 (tests, docs/CONFIG.md): same-host members are reached
 * through the transport as if they were on other hosts. */
static bool sm_bm_force_remote(void)
{
    const char *v = getenv("SMEM_FORCE_REMOTE");
    bool on = v != NULL && strcmp(v, "1") == 0;
    if (on) LOG_INFO("bm: SMEM_FORCE_REMOTE=1: same-host peers are reached through the transport");
    return on;
}

static smem_bm_t sm_bm_create_common(uint32_t id, uint32_t member_size, const smem_bm_create_option_t *opt)
{
    pthread_mutex_lock(&g_bm.lock);
    int32_t rc = SMEM_OK;
    if (!g_bm.inited) rc = util_err_set(SMEM_NOT_INITIALIZED, "smem_bm_create: call smem_bm_init first");
    else if (g_bm.store_only)
        rc = util_err_set(SMEM_UNSUPPORTED, "smem_bm_create: this process was initialised with startConfigStoreOnly");
    uint32_t world = g_bm.world_size, rank = g_bm.rank;
    store_client_t *store = g_bm.conn.client;
    uint32_t create_ms = sm_bm_ms(g_bm.cfg.createTimeout);
    char hcom[sizeof(g_bm.cfg.hcomUrl)], store_url[sizeof(g_bm.url)];
    snprintf(hcom, sizeof(hcom), "%s", g_bm.cfg.hcomUrl);
    snprintf(store_url, sizeof(store_url), "%s", g_bm.url);
    smem_tls_config hcom_tls = g_bm.cfg.hcomTlsConfig;
    uint32_t ctl_ms = sm_bm_ms(g_bm.cfg.controlOperationTimeout);
    bool insecure = (g_bm.cfg.flags & SMEM_BM_FLAG_ALLOW_INSECURE) != 0 || net_insecure_env();
    pthread_mutex_unlock(&g_bm.lock);
    if (rc != SMEM_OK) return NULL;

    uint64_t stride = 0;
    int node = -1;
    rc = sm_bm_create_check(id, member_size, opt, world, &stride, &node);
    if (rc != SMEM_OK) return NULL;

    pthread_mutex_lock(&g_bm.lock);
    if (g_bm.objs[id] != NULL || g_bm.creating[id]) rc = util_err_set(SMEM_DUPLICATED_OBJECT, "smem_bm_create: BM "
                                                                                              "object %u already "
                                                                                              "exists in this process",
                                                                                     id);
    else g_bm.creating[id] = true;
    pthread_mutex_unlock(&g_bm.lock);
    if (rc != SMEM_OK) return NULL;

    sm_bm_obj_t *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        util_err_set(SMEM_MALLOC_FAILED, "smem_bm_create: out of memory");
        goto clear_creating;
    }
    o->id = id;
    o->refs = 1;
    o->member_size = member_size;
    o->data_op = opt->dataOpType;
    o->flags = opt->flags;
    o->numa_node = node;
    o->local_dram = opt->localDRAMSize;
    o->stride = stride;
    pthread_mutex_init(&o->op_lock, NULL);
    char ns[64], name[32];
    snprintf(ns, sizeof(ns), SMEM_BM_GROUP "/bm/%u/host", id);
    snprintf(name, sizeof(name), "bm %u", id);
    space_cfg_t sc = {
        .store = store, .ns = ns, .live_group = SMEM_BM_GROUP, .kind = GVA_KIND_HOST, .world_max = world,
        .rank = rank, .stride = stride, .local_size = opt->localDRAMSize,
        .seg_flags = (opt->flags & SMEM_BM_CREATE_HUGETLB) ? GVA_SEG_F_HUGETLB : 0,
        .user_fd = (opt->flags & SMEM_BM_CREATE_WITH_SHM) ? opt->dramShmFd : -1, .timeout_ms = create_ms,
        .force_remote = sm_bm_force_remote(),
    };
    rc = gva_reg_create(&o->reg);
    if (rc != SMEM_OK) goto free_obj;
    xfer_engine_opts_t xo = {.name = name, .route = sm_bm_tp_route, .route_arg = o};
    rc = xfer_engine_create(&xo, &o->xfer);
    if (rc != SMEM_OK) goto free_reg;
    rc = space_create(&sc, &o->host);
    if (rc != SMEM_OK) goto free_xfer;
    rc = sm_bm_tp_setup(o, hcom, store_url, &hcom_tls, ctl_ms, insecure);
    if (rc != SMEM_OK) goto free_space;

    pthread_mutex_lock(&g_bm.lock);
    g_bm.creating[id] = false;
    g_bm.objs[id] = o;
    pthread_mutex_unlock(&g_bm.lock);
    LOG_INFO("bm: object %u created: %" PRIu64 " bytes of a %" PRIu64 "-byte stride at 0x%llx, rank %u of %u", id,
             opt->localDRAMSize, stride, (unsigned long long)space_base(o->host), rank, world);
    return o;

free_space:
    space_destroy(o->host);
free_xfer:
    xfer_engine_destroy(o->xfer);
free_reg:
    gva_reg_destroy(o->reg);
free_obj:
    pthread_mutex_destroy(&o->op_lock);
    free(o);
clear_creating:
    pthread_mutex_lock(&g_bm.lock);
    g_bm.creating[id] = false;
    pthread_mutex_unlock(&g_bm.lock);
    return NULL;
}

/* member_size is ignored, as the seed ignores it: every BM object spans the world of smem_bm_init. */
smem_bm_t smem_bm_create(uint32_t id, uint32_t member_size, smem_bm_data_op_type data_op_type,
                         uint64_t local_dram_size, uint64_t local_hbm_size, uint32_t flags)
{
    (void)member_size;
    if (flags & SMEM_BM_CREATE_WITH_SHM) {
        util_err_set(SMEM_INVALID_PARAM, "smem_bm_create: SMEM_BM_CREATE_WITH_SHM needs a memfd: use smem_bm_create2 "
                                         "with dramShmFd");
        return NULL;
    }
    smem_bm_create_option_t o;
    memset(&o, 0, sizeof(o));
    o.localDRAMSize = local_dram_size;
    o.localHBMSize = local_hbm_size;
    o.dataOpType = data_op_type;
    o.flags = flags;
    o.dramShmFd = -1;
    return smem_bm_create2(id, &o);
}

smem_bm_t smem_bm_create2(uint32_t id, const smem_bm_create_option_t *option)
{
    if (option == NULL) {
        util_err_set(SMEM_INVALID_PARAM, "smem_bm_create2: option is NULL");
        return NULL;
    }
    pthread_mutex_lock(&g_bm.lock);
    uint32_t world = g_bm.inited ? g_bm.world_size : 1;
    pthread_mutex_unlock(&g_bm.lock);
    return sm_bm_create_common(id, world, option);
}

void smem_bm_destroy(smem_bm_t handle)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_destroy");
    if (o == NULL) return;
    bool mine = false;
    pthread_mutex_lock(&g_bm.lock);
    if (g_bm.objs[o->id] == o) {
        g_bm.objs[o->id] = NULL; /* new calls now fail; a second destroy finds nothing */
        mine = true;
    }
    pthread_mutex_unlock(&g_bm.lock);
    sm_bm_obj_put(o);
    if (mine) sm_bm_obj_destroy(o);
}
