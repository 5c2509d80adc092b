/*
 * SHM: a symmetric heap (smem_shm_create) on an space, plus the control
 * plane collectives of the config store.
 *
 * One process-wide SHM instance (smem_shm_init): a store connection and a
 * rank in the store group "smem_shm". Each heap id (0..63) has a slot in a
 * static table; handles are pointers into it, validated by membership, so a
 * stale or garbage handle is an error, never a dereference. Store names of
 * heap `id`: "smem/shm/<id>" (space records, barrier, all-gather, exit
 * group), "smem/shm/<id>/sub/<key>" (sub-groups), "smem/shm/<id>/ids"
 * (atomic values), "smem/shm/<id>/ctx/<rank>" (extra context, rank-owned in
 * the store: only the rank's holder writes it).
 *
 * Threads: calls may come from any thread; `sm_shm_lock` guards the table
 * and the instance and is never held across a store or space call that can
 * block for long (create/destroy take the heap's slot out of circulation
 * first). Exit callbacks run on a thread of their own, never on the store's
 * loop thread, so they may call back into the library.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/host/smem_shm.h"
#include "smem/smem_int.h"
#include "smem/smem_shm_rec.h"
#include "space/space.h"
#include "util/util_log.h"
#include "util/util_status.h"

#define SHM_ID_MAX 63u
#define SHM_GROUP "smem_shm"

typedef enum { SHM_SLOT_FREE = 0, SHM_SLOT_BUSY, SHM_SLOT_READY } shm_slot_state_t;

typedef struct sm_shm_obj {
    shm_slot_state_t state;
    uint32_t id;
    uint32_t rank_size;
    uint32_t rank;
    uint64_t symmetric_size;
    uint64_t gen;             /* bumped per create: tells exit callbacks of an old heap apart */
    space_t *space;
    void (*exit_fn)(int);
    bool exit_watched;
    char ns[32];
} sm_shm_obj_t;

static pthread_mutex_t sm_shm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool inited;
    char url[256];
    uint32_t world_size;
    uint32_t rank;
    smem_shm_config_t cfg;
    sm_store_conn_t conn;
    uint64_t next_gen;
} shm_g;
static sm_shm_obj_t shm_objs[SHM_ID_MAX + 1];

int32_t smem_shm_config_init(smem_shm_config_t *config)
{
    if (config == NULL) return util_err_set(SMEM_INVALID_PARAM, "smem_shm_config_init: config is NULL");
    memset(config, 0, sizeof(*config));
    config->shmInitTimeout = 120;
    config->shmCreateTimeout = 120;
    config->controlOperationTimeout = 120;
    config->startConfigStoreServer = true;
    return SMEM_OK;
}

static uint32_t shm_ctrl_ms_of(const smem_shm_config_t *c) { return sm_timeout_ms(c->controlOperationTimeout); }

static int32_t shm_cfg_check(const smem_shm_config_t *c)
{
    if (c->shmInitTimeout == 0 || c->shmCreateTimeout == 0 || c->controlOperationTimeout == 0)
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm config: timeouts must be at least 1 second (init %u, create %u, "
                            "control %u)", c->shmInitTimeout, c->shmCreateTimeout, c->controlOperationTimeout);
    return SMEM_OK;
}

int32_t smem_shm_init(const char *store_url, uint32_t world_size, uint32_t rank_id, uint16_t device_id,
                      smem_shm_config_t *config)
{
    (void)device_id; /* host heaps; the device heap comes with the CUDA backend */
    if (store_url == NULL || store_url[0] == '\0') return util_err_set(SMEM_INVALID_PARAM, "smem_shm_init: store url is empty");
    if (strlen(store_url) >= sizeof(shm_g.url))
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm_init: store url longer than %zu bytes", sizeof(shm_g.url) - 1);
    if (world_size == 0 || world_size > STORE_WORLD_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm_init: world size %u out of range 1..%u", world_size, STORE_WORLD_MAX);
    if (rank_id >= world_size)
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm_init: rank %u out of range for world size %u", rank_id, world_size);
    smem_shm_config_t cfg;
    if (config != NULL) cfg = *config;
    else smem_shm_config_init(&cfg);
    int32_t rc = shm_cfg_check(&cfg);
    if (rc != SMEM_OK) return rc;

    pthread_mutex_lock(&sm_shm_lock);
    if (shm_g.inited) {
        bool same = strcmp(shm_g.url, store_url) == 0 && shm_g.world_size == world_size && shm_g.rank == rank_id;
        pthread_mutex_unlock(&sm_shm_lock);
        if (same) return SMEM_OK;
        return util_err_set(SMEM_REPEAT_CALL, "smem_shm_init: already initialised with %s, world %u, rank %u",
                            shm_g.url, shm_g.world_size, shm_g.rank);
    }
    uint32_t init_ms = sm_timeout_ms(cfg.shmInitTimeout);
    sm_store_conn_t conn;
    rc = sm_store_conn_open(store_url, cfg.startConfigStoreServer && rank_id == 0, net_insecure_env(), init_ms, shm_ctrl_ms_of(&cfg), &conn);
    if (rc != SMEM_OK) goto out_unlock;
    uint32_t got = 0;
    rc = store_group_join(conn.client, SHM_GROUP, world_size, rank_id, &got);
    if (rc != SMEM_OK) {
        rc = util_err_wrap(rc, "smem_shm_init: rank %u of %u not available in the store at %s", rank_id, world_size,
                           store_url);
        goto out_close;
    }
    /* The seed's contract: init returns once every process has connected. */
    rc = store_barrier(conn.client, SHM_GROUP "/init", world_size, rank_id, init_ms);
    if (rc != SMEM_OK) {
        rc = util_err_wrap(rc, "smem_shm_init: not all %u ranks arrived within %u s", world_size, cfg.shmInitTimeout);
        goto out_close;
    }
    snprintf(shm_g.url, sizeof(shm_g.url), "%s", store_url);
    shm_g.world_size = world_size;
    shm_g.rank = rank_id;
    shm_g.cfg = cfg;
    shm_g.conn = conn;
    shm_g.inited = true;
    pthread_mutex_unlock(&sm_shm_lock);
    LOG_INFO("smem_shm: rank %u of %u on store %s", rank_id, world_size, store_url);
    return SMEM_OK;

out_close:
    sm_store_conn_close(&conn, store_url);
out_unlock:
    pthread_mutex_unlock(&sm_shm_lock);
    return rc;
}

uint32_t smem_shm_query_support_data_operation(void)
{
    /* Same-host heaps: CPU load/store and the copy engine. */
    return SMEMS_DATA_OP_MTE | SMEMS_DATA_OP_SDMA;
}

/* The live heap behind a handle; an error (message set) for NULL, foreign or
 * destroyed handles. The handle is checked against the table, never dereferenced first. */
static int32_t shm_obj(smem_shm_t handle, const char *fn, sm_shm_obj_t **out)
{
    uintptr_t h = (uintptr_t)handle, lo = (uintptr_t)&shm_objs[0], hi = (uintptr_t)&shm_objs[SHM_ID_MAX];
    if (handle == NULL) return util_err_set(SMEM_INVALID_PARAM, "%s: handle is NULL", fn);
    if (h < lo || h > hi || (h - lo) % sizeof(sm_shm_obj_t) != 0)
        return util_err_set(SMEM_INVALID_PARAM, "%s: %p is not an smem_shm handle", fn, handle);
    sm_shm_obj_t *o = handle;
    pthread_mutex_lock(&sm_shm_lock);
    bool ready = o->state == SHM_SLOT_READY;
    pthread_mutex_unlock(&sm_shm_lock);
    if (!ready)
        return util_err_set(SMEM_NOT_INITIALIZED, "%s: heap %u is destroyed or not created", fn, (uint32_t)(o - shm_objs));
    *out = o;
    return SMEM_OK;
}

static uint32_t shm_ctrl_ms(void) { return sm_timeout_ms(shm_g.cfg.controlOperationTimeout); }

smem_shm_t smem_shm_create(uint32_t id, uint32_t rank_size, uint32_t rank_id, uint64_t symmetric_size,
                           smem_shm_data_op_type data_op_type, uint32_t flags, void **gva)
{
    (void)flags;
    if (gva == NULL) {
        util_err_set(SMEM_INVALID_PARAM, "smem_shm_create: gva output is NULL");
        return NULL;
    }
    if (id > SHM_ID_MAX) {
        util_err_set(SMEM_INVALID_PARAM, "smem_shm_create: id %u out of range 0..%u", id, SHM_ID_MAX);
        return NULL;
    }
    if ((data_op_type & ~(uint32_t)(SMEMS_DATA_OP_MTE | SMEMS_DATA_OP_SDMA | SMEMS_DATA_OP_RDMA)) != 0 || data_op_type == 0) {
        util_err_set(SMEM_INVALID_PARAM, "smem_shm_create: data op type 0x%x is not a set of MTE/SDMA/RDMA", data_op_type);
        return NULL;
    }
    if (symmetric_size == 0 || symmetric_size % GVA_ALIGN != 0 || symmetric_size > (1ull << 40)) {
        util_err_set(SMEM_INVALID_PARAM, "smem_shm_create: symmetric size %llu must be a non-zero multiple of %llu "
                     "bytes (2 MiB), at most 1 TiB", (unsigned long long)symmetric_size, (unsigned long long)GVA_ALIGN);
        return NULL;
    }
    pthread_mutex_lock(&sm_shm_lock);
    if (!shm_g.inited) {
        pthread_mutex_unlock(&sm_shm_lock);
        util_err_set(SMEM_NOT_INITIALIZED, "smem_shm_create: call smem_shm_init first");
        return NULL;
    }
    if (rank_size == 0 || rank_size > shm_g.world_size || rank_id >= rank_size || rank_id != shm_g.rank) {
        uint32_t ws = shm_g.world_size, me = shm_g.rank;
        pthread_mutex_unlock(&sm_shm_lock);
        util_err_set(SMEM_INVALID_PARAM, "smem_shm_create: rank %u of %u does not fit this process (rank %u of world %u)",
                     rank_id, rank_size, me, ws);
        return NULL;
    }
    sm_shm_obj_t *o = &shm_objs[id];
    if (o->state != SHM_SLOT_FREE) {
        pthread_mutex_unlock(&sm_shm_lock);
        util_err_set(SMEM_DUPLICATED_OBJECT, "smem_shm_create: heap %u already exists in this process", id);
        return NULL;
    }
    memset(o, 0, sizeof(*o));
    o->state = SHM_SLOT_BUSY;
    o->id = id;
    o->rank_size = rank_size;
    o->rank = rank_id;
    o->symmetric_size = symmetric_size;
    o->gen = ++shm_g.next_gen;
    snprintf(o->ns, sizeof(o->ns), "smem/shm/%u", id);
    store_client_t *store = shm_g.conn.client;
    uint32_t create_ms = sm_timeout_ms(shm_g.cfg.shmCreateTimeout);
    pthread_mutex_unlock(&sm_shm_lock);

    space_cfg_t sc = {
        .store = store,
        .ns = o->ns,
        .live_group = SHM_GROUP,
        .kind = GVA_KIND_HOST,
        .world_max = rank_size,
        .rank = rank_id,
        .stride = symmetric_size,
        .local_size = symmetric_size,
        .user_fd = -1,
        .timeout_ms = create_ms,
    };
    uint32_t *all = NULL;
    char ctx_prefix[64];
    snprintf(ctx_prefix, sizeof(ctx_prefix), "%s/ctx/", o->ns);
    /* Each rank's extra context is its own: the store refuses anyone else's write of it. */
    int32_t rc = store_group_own(store, SHM_GROUP, ctx_prefix, STORE_OWN_RANK);
    if (rc == SMEM_OK) rc = space_create(&sc, &o->space);
    if (rc == SMEM_OK) rc = space_join(o->space);
    if (rc == SMEM_OK) {
        all = malloc(rank_size * sizeof(uint32_t));
        if (all == NULL) rc = util_err_set(SMEM_MALLOC_FAILED, "smem_shm_create: out of memory");
    }
    if (rc == SMEM_OK) {
        for (uint32_t r = 0; r < rank_size; r++) all[r] = r;
        rc = space_wait_ranks(o->space, all, rank_size, create_ms);
    }
    free(all);
    /* Everyone has mapped everyone: the heap is usable when create returns anywhere. */
    if (rc == SMEM_OK) rc = store_barrier(store, o->ns, rank_size, rank_id, create_ms);
    if (rc != SMEM_OK) {
        const char *why = util_err_get();
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", why);
        space_destroy(o->space);
        pthread_mutex_lock(&sm_shm_lock);
        memset(o, 0, sizeof(*o));
        pthread_mutex_unlock(&sm_shm_lock);
        util_err_set(rc, "smem_shm_create: heap %u (%u ranks x %llu bytes): %s", id, rank_size,
                     (unsigned long long)symmetric_size, msg);
        return NULL;
    }
    *gva = (void *)(uintptr_t)space_base(o->space);
    pthread_mutex_lock(&sm_shm_lock);
    o->state = SHM_SLOT_READY;
    pthread_mutex_unlock(&sm_shm_lock);
    LOG_INFO("smem_shm: heap %u created, %u ranks x %llu bytes at %p", id, rank_size,
             (unsigned long long)symmetric_size, *gva);
    return o;
}

int32_t smem_shm_destroy(smem_shm_t handle, uint32_t flags)
{
    (void)flags;
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_destroy", &o);
    if (rc0 != SMEM_OK) return rc0;
    pthread_mutex_lock(&sm_shm_lock);
    if (o->state != SHM_SLOT_READY) {
        pthread_mutex_unlock(&sm_shm_lock);
        return util_err_set(SMEM_NOT_INITIALIZED, "smem_shm_destroy: heap already being destroyed");
    }
    o->state = SHM_SLOT_BUSY;
    o->exit_fn = NULL;
    space_t *space = o->space;
    pthread_mutex_unlock(&sm_shm_lock);
    space_destroy(space);
    pthread_mutex_lock(&sm_shm_lock);
    memset(o, 0, sizeof(*o));
    pthread_mutex_unlock(&sm_shm_lock);
    return SMEM_OK;
}

void smem_shm_uninit(uint32_t flags)
{
    (void)flags;
    for (uint32_t i = 0; i <= SHM_ID_MAX; i++) {
        pthread_mutex_lock(&sm_shm_lock);
        bool ready = shm_objs[i].state == SHM_SLOT_READY;
        pthread_mutex_unlock(&sm_shm_lock);
        if (ready) smem_shm_destroy(&shm_objs[i], 0);
    }
    pthread_mutex_lock(&sm_shm_lock);
    bool inited = shm_g.inited;
    sm_store_conn_t conn = shm_g.conn;
    char url[sizeof(shm_g.url)];
    snprintf(url, sizeof(url), "%s", shm_g.url);
    uint32_t rank = shm_g.rank, ctl_ms = shm_ctrl_ms_of(&shm_g.cfg);
    memset(&shm_g.conn, 0, sizeof(shm_g.conn));
    shm_g.inited = false;
    pthread_mutex_unlock(&sm_shm_lock);
    if (!inited) return;
    /* Rank 0 serves the store: it stays until the other ranks have gone. */
    if (conn.owner) sm_store_owner_wait(conn.client, SHM_GROUP, rank, ctl_ms);
    store_group_leave(conn.client, SHM_GROUP);
    sm_store_conn_close(&conn, url);
}

uint32_t smem_shm_get_global_rank(smem_shm_t handle)
{
    sm_shm_obj_t *o = NULL;
    return shm_obj(handle, "smem_shm_get_global_rank", &o) == SMEM_OK ? o->rank : UINT32_MAX;
}

uint32_t smem_shm_get_global_rank_size(smem_shm_t handle)
{
    sm_shm_obj_t *o = NULL;
    return shm_obj(handle, "smem_shm_get_global_rank_size", &o) == SMEM_OK ? o->rank_size : UINT32_MAX;
}

/* ---------- extra context ---------- */

int32_t smem_shm_set_extra_context(smem_shm_t handle, const void *context, uint32_t size)
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_set_extra_context", &o);
    if (rc0 != SMEM_OK) return rc0;
    if (context == NULL || size == 0 || size > SMEM_SHM_CONTEXT_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm_set_extra_context: %u bytes at %p (1..%u bytes required)", size,
                            context, SMEM_SHM_CONTEXT_MAX);
    char key[64];
    snprintf(key, sizeof(key), "%s/ctx/%u", o->ns, o->rank);
    return store_set(shm_g.conn.client, key, context, size);
}

int32_t smem_shm_get_extra_context(smem_shm_t handle, uint32_t rank, void *buf, uint32_t cap, uint32_t *size)
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_get_extra_context", &o);
    if (rc0 != SMEM_OK) return rc0;
    if (rank >= o->rank_size)
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm_get_extra_context: rank %u out of range (%u ranks)", rank,
                            o->rank_size);
    if (buf == NULL || size == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm_get_extra_context: buffer or size is NULL");
    char key[64];
    snprintf(key, sizeof(key), "%s/ctx/%u", o->ns, rank);
    uint8_t *val = NULL;
    uint32_t len = 0;
    int32_t rc = store_get(shm_g.conn.client, key, 0, &val, &len);
    if (rc == SMEM_OBJECT_NOT_EXISTS)
        return util_err_set(rc, "smem_shm_get_extra_context: rank %u of heap %u has set no context", rank, o->id);
    if (rc != SMEM_OK) return rc;
    rc = sm_shm_ctx_decode(o->id, rank, val, len, buf, cap, size);
    free(val);
    return rc;
}

int32_t sm_shm_ctx_decode(uint32_t id, uint32_t rank, const uint8_t *val, uint32_t len, void *buf, uint32_t cap,
                            uint32_t *size)
{
    if (len == 0 || len > SMEM_SHM_CONTEXT_MAX || val == NULL)
        return util_err_set(SMEM_PROTOCOL, "smem_shm_get_extra_context: rank %u of heap %u has a context record of %u "
                            "bytes (a context is 1..%u)", rank, id, len, SMEM_SHM_CONTEXT_MAX);
    if (len > cap)
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm_get_extra_context: rank %u's context is %u bytes, buffer %u",
                            rank, len, cap);
    memcpy(buf, val, len);
    *size = len;
    return SMEM_OK;
}

/* ---------- collectives ---------- */

int32_t smem_shm_control_barrier(smem_shm_t handle)
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_control_barrier", &o);
    if (rc0 != SMEM_OK) return rc0;
    return store_barrier(shm_g.conn.client, o->ns, o->rank_size, o->rank, shm_ctrl_ms());
}

static int32_t shm_allgather_check(const char *fn, const char *send, uint32_t send_size, const char *recv,
                                   uint32_t recv_size, uint32_t n)
{
    if (send == NULL || recv == NULL || send_size == 0)
        return util_err_set(SMEM_INVALID_PARAM, "%s: NULL buffer or zero size", fn);
    if (send_size > STORE_GATHER_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "%s: %u bytes per rank, at most %u", fn, send_size, STORE_GATHER_MAX);
    if ((uint64_t)send_size * n != recv_size)
        return util_err_set(SMEM_INVALID_PARAM, "%s: receive size %u must be send size %u x %u ranks", fn, recv_size,
                            send_size, n);
    return SMEM_OK;
}

int32_t smem_shm_control_allgather(smem_shm_t handle, const char *send_buf, uint32_t send_size, char *recv_buf,
                                   uint32_t recv_size)
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_control_allgather", &o);
    if (rc0 != SMEM_OK) return rc0;
    int32_t rc = shm_allgather_check("smem_shm_control_allgather", send_buf, send_size, recv_buf, recv_size, o->rank_size);
    if (rc != SMEM_OK) return rc;
    return store_allgather(shm_g.conn.client, o->ns, o->rank_size, o->rank, send_buf, send_size, recv_buf, shm_ctrl_ms());
}

static int32_t shm_subgroup_name(const sm_shm_obj_t *o, const char *fn, const char *key, uint32_t rank_size,
                                 uint32_t rank_id, char *name, size_t cap)
{
    if (key == NULL || key[0] == '\0' || strlen(key) > 200)
        return util_err_set(SMEM_INVALID_PARAM, "%s: key must be 1..200 bytes", fn);
    if (rank_size == 0 || rank_size > o->rank_size || rank_id >= rank_size)
        return util_err_set(SMEM_INVALID_PARAM, "%s: rank %u of %u does not fit the heap's %u ranks", fn, rank_id,
                            rank_size, o->rank_size);
    snprintf(name, cap, "%s/sub/%s", o->ns, key);
    return SMEM_OK;
}

int32_t smem_shm_subgroup_barrier(smem_shm_t handle, const char *key, uint32_t rank_size, uint32_t rank_id)
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_subgroup_barrier", &o);
    if (rc0 != SMEM_OK) return rc0;
    char name[256];
    int32_t rc = shm_subgroup_name(o, "smem_shm_subgroup_barrier", key, rank_size, rank_id, name, sizeof(name));
    if (rc != SMEM_OK) return rc;
    return store_barrier(shm_g.conn.client, name, rank_size, rank_id, shm_ctrl_ms());
}

int32_t smem_shm_subgroup_allgather(smem_shm_t handle, const char *key, uint32_t rank_size, uint32_t rank_id,
                                    const char *send_buf, uint32_t send_size, char *recv_buf, uint32_t recv_size)
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_subgroup_allgather", &o);
    if (rc0 != SMEM_OK) return rc0;
    char name[256];
    int32_t rc = shm_subgroup_name(o, "smem_shm_subgroup_allgather", key, rank_size, rank_id, name, sizeof(name));
    if (rc == SMEM_OK)
        rc = shm_allgather_check("smem_shm_subgroup_allgather", send_buf, send_size, recv_buf, recv_size, rank_size);
    if (rc != SMEM_OK) return rc;
    return store_allgather(shm_g.conn.client, name, rank_size, rank_id, send_buf, send_size, recv_buf, shm_ctrl_ms());
}

/* ---------- topology, ids ---------- */

int32_t smem_shm_topology_can_reach(smem_shm_t handle, uint32_t remote_rank, uint32_t *reach_info)
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_topology_can_reach", &o);
    if (rc0 != SMEM_OK) return rc0;
    if (reach_info == NULL) return util_err_set(SMEM_INVALID_PARAM, "smem_shm_topology_can_reach: reach_info is NULL");
    if (remote_rank >= o->rank_size)
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm_topology_can_reach: rank %u out of range (%u ranks)",
                            remote_rank, o->rank_size);
    gva_rank_info_t info;
    int32_t rc = gva_window_rank_info(space_window(o->space), remote_rank, &info);
    if (rc != SMEM_OK) return rc;
    switch (info.state) {
    case GVA_RANK_LOCAL:
    case GVA_RANK_MAPPED: *reach_info = SMEMS_DATA_OP_MTE | SMEMS_DATA_OP_SDMA; return SMEM_OK;
    case GVA_RANK_REMOTE: *reach_info = 0; return SMEM_OK; /* no network transport for heaps yet */
    case GVA_RANK_ABSENT: break;
    }
    return util_err_set(SMEM_PEER_GONE, "smem_shm_topology_can_reach: rank %u has left heap %u", remote_rank, o->id);
}

int32_t smem_shm_atomic_alloc_value(smem_shm_t handle, uint32_t limit, uint32_t *value)
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_atomic_alloc_value", &o);
    if (rc0 != SMEM_OK) return rc0;
    if (value == NULL || limit == 0 || limit > 1024)
        return util_err_set(SMEM_INVALID_PARAM, "smem_shm_atomic_alloc_value: limit %u out of range 1..1024 (or NULL output)",
                            limit);
    char name[64];
    snprintf(name, sizeof(name), "%s/ids", o->ns);
    uint32_t v = 0;
    int32_t rc = store_id_alloc(shm_g.conn.client, name, limit, &v);
    if (rc == SMEM_OK) rc = sm_shm_id_check(o->id, v, limit);
    if (rc == SMEM_OK) *value = v;
    return rc;
}

int32_t sm_shm_id_check(uint32_t id, uint32_t value, uint32_t limit)
{
    if (value >= limit)
        return util_err_set(SMEM_PROTOCOL, "smem_shm_atomic_alloc_value: the store's id pool of heap %u answered %u, "
                            "not below the limit %u", id, value, limit);
    return SMEM_OK;
}

int32_t smem_shm_atomic_release_value(smem_shm_t handle, uint32_t value)
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_atomic_release_value", &o);
    if (rc0 != SMEM_OK) return rc0;
    char name[64];
    snprintf(name, sizeof(name), "%s/ids", o->ns);
    return store_id_release(shm_g.conn.client, name, value);
}

/* ---------- global exit ---------- */

typedef struct shm_exit_call {
    void (*fn)(int);
    int status;
} shm_exit_call_t;

static void *shm_exit_thread(void *arg)
{
    shm_exit_call_t *c = arg;
    c->fn(c->status);
    free(c);
    return NULL;
}

/* On the store's loop thread: hand the user's function to a thread of its own. */
static void shm_exit_cb(void *arg, int32_t status)
{
    uintptr_t tag = (uintptr_t)arg;
    uint32_t id = (uint32_t)(tag & 0xFF);
    uint64_t gen = (uint64_t)(tag >> 8);
    pthread_mutex_lock(&sm_shm_lock);
    sm_shm_obj_t *o = id <= SHM_ID_MAX ? &shm_objs[id] : NULL;
    void (*fn)(int) = (o != NULL && o->state == SHM_SLOT_READY && o->gen == gen) ? o->exit_fn : NULL;
    pthread_mutex_unlock(&sm_shm_lock);
    if (fn == NULL) return;
    shm_exit_call_t *c = malloc(sizeof(*c));
    pthread_t t;
    pthread_attr_t attr;
    if (c == NULL) {
        LOG_ERROR("smem_shm: out of memory running the exit function of heap %u (status %d)", id, status);
        return;
    }
    c->fn = fn;
    c->status = status;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, shm_exit_thread, c) != 0) {
        LOG_ERROR("smem_shm: cannot start a thread for the exit function of heap %u (status %d)", id, status);
        free(c);
    }
    pthread_attr_destroy(&attr);
}

int32_t smem_shm_register_exit(smem_shm_t handle, void (*exit_fn)(int))
{
    sm_shm_obj_t *o = NULL;
    int32_t rc0 = shm_obj(handle, "smem_shm_register_exit", &o);
    if (rc0 != SMEM_OK) return rc0;
    if (exit_fn == NULL) return util_err_set(SMEM_INVALID_PARAM, "smem_shm_register_exit: function is NULL");
    pthread_mutex_lock(&sm_shm_lock);
    o->exit_fn = exit_fn;
    bool watched = o->exit_watched;
    o->exit_watched = true;
    uintptr_t tag = (uintptr_t)o->id | (uintptr_t)(o->gen << 8);
    pthread_mutex_unlock(&sm_shm_lock);
    if (watched) return SMEM_OK; /* replacing the function; the store watch is in place */
    int32_t rc = store_exit_watch(shm_g.conn.client, o->ns, shm_exit_cb, (void *)tag);
    if (rc != SMEM_OK) {
        pthread_mutex_lock(&sm_shm_lock);
        o->exit_watched = false;
        pthread_mutex_unlock(&sm_shm_lock);
    }
    return rc;
}

void smem_shm_global_exit(smem_shm_t handle, int status)
{
    sm_shm_obj_t *o = NULL;
    if (shm_obj(handle, "smem_shm_global_exit", &o) != SMEM_OK) return;
    int32_t rc = store_exit_broadcast(shm_g.conn.client, o->ns, status);
    if (rc != SMEM_OK) LOG_ERROR("smem_shm_global_exit: heap %u status %d: %s", o->id, status, util_err_get());
}
