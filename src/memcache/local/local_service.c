/*
 * The LocalService: one BM rank per process contributing DRAM to the pool,
 * its segment mounted with the MetaService and kept alive by a heartbeat
 * thread (which also mounts it again when the MetaService lost it, e.g. a
 * restarted MetaService behind the same URL).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "gva/gva.h"
#include "memcache/common/mmc_err.h"
#include "memcache/common/mmc_conf.h"
#include "memcache/local/local_int.h"
#include "net/net.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

_Static_assert(MMC_HOST_ID_SIZE == GVA_HOST_ID_WIRE_SIZE, "host id wire sizes agree");

static struct {
    pthread_mutex_t lock;
    ls_svc_t *cur;
    bool starting;
    void (*stop_hook)(void);
} g_ls = {.lock = PTHREAD_MUTEX_INITIALIZER};

void ls_stop_hook_set(void (*fn)(void))
{
    pthread_mutex_lock(&g_ls.lock);
    g_ls.stop_hook = fn;
    pthread_mutex_unlock(&g_ls.lock);
}

int32_t ls_info_get(ls_info_t *out)
{
    int32_t rc = MMC_OK;
    pthread_mutex_lock(&g_ls.lock);
    ls_svc_t *ls = g_ls.cur;
    if (ls == NULL) {
        rc = util_err_set(MMC_NOT_INITIALIZED, "no LocalService runs in this process (mmcs_local_service_start or "
                                               "mmc_init first)");
    } else {
        out->cfg = ls->cfg;
        out->bm = ls->bm;
        out->rank = ls->rank;
        out->mounted = ls->mounted;
        memcpy(out->host, ls->host, MMC_HOST_ID_SIZE);
    }
    pthread_mutex_unlock(&g_ls.lock);
    return rc;
}

void ls_keepalive_set(mmc_meta_client_t *c)
{
    pthread_mutex_lock(&g_ls.lock);
    ls_svc_t *ls = g_ls.cur;
    if (ls != NULL) {
        pthread_mutex_lock(&ls->ka_mu); /* lock order: g_ls.lock, then ka_mu */
        ls->keepalive = c;
        pthread_mutex_unlock(&ls->ka_mu);
    }
    pthread_mutex_unlock(&g_ls.lock);
}

uint32_t mmcs_local_service_rank(mmc_local_service_t handle)
{
    const ls_svc_t *ls = handle;
    return ls ? ls->rank : UINT32_MAX;
}

/* Both public TLS blocks are net.h's one file block. */
NET_TLS_BLOCK_ASSERT(smem_tls_config);
NET_TLS_BLOCK_ASSERT(mmc_tls_config);

static uint32_t ls_data_op(uint32_t protocol)
{
    /* Same-host peers are always reached through the mapping (SDMA here);
     * the protocol names the path to other hosts. */
    switch (protocol) {
    case MMC_PROTO_HOST_SHM: return SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_HOST_SHM;
    case MMC_PROTO_HOST_UCX: return SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_HOST_RDMA;
    case MMC_PROTO_DEVICE_UCX: return SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_DEVICE_RDMA;
    default: return SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_HOST_TCP;
    }
}

/* Copies the calling thread's message so it can be a format argument of util_err_set. */
static int32_t ls_fail_msg(int32_t rc, const char *what, const char *why)
{
    char msg[600];
    snprintf(msg, sizeof(msg), "%s", why ? why : "");
    return util_err_set(mmc_status_from_smem(rc), "LocalService: %s: %s", what, msg[0] ? msg : mmc_strerror(rc));
}

/* A failure of our own (its message is in libmmc's last error). */
static int32_t ls_fail(int32_t rc, const char *what) { return ls_fail_msg(rc, what, util_err_get()); }

/* A failed smem_bm_* call: its message is libsmem's (a library of its own when libmmc.so is used). */
static int32_t ls_fail_smem(int32_t rc, const char *what) { return ls_fail_msg(rc, what, smem_get_last_err_msg()); }

int32_t ls_rank_prove(void *arg, const uint8_t *challenge, uint32_t len, uint32_t *rank, uint8_t *proof)
{
    (void)arg;
    int32_t rc = smem_bm_rank_proof(challenge, len, rank, proof);
    return rc == 0 ? MMC_OK : ls_fail_smem(rc, "proving the BM rank to the MetaService");
}

/* Mounted segment lost by the MetaService (restart, or a link timeout): mount it again. */
static void ls_remount(ls_svc_t *ls)
{
    uint32_t dropped = 0, shrunk = 0;
    uint64_t usable = 0;
    (void)mmc_meta_unmount(ls->meta, ls->rank, MMC_MEDIA_DRAM, &dropped, &shrunk); /* forget the old record */
    int32_t rc = mmc_meta_mount(ls->meta, ls->rank, MMC_MEDIA_DRAM, ls->seg_gva, ls->seg_size, ls->host, &usable);
    if (rc != MMC_OK)
        LOG_ERROR("LocalService rank %u: mounting its segment again failed: %s", ls->rank, mmc_get_last_err_msg());
    else
        LOG_WARN("LocalService rank %u: the MetaService had lost its segment; mounted again (%" PRIu64 " bytes)",
                 ls->rank, usable);
}

static void *ls_heartbeat_main(void *arg)
{
    ls_svc_t *ls = arg;
    pthread_mutex_lock(&ls->hb_mu);
    while (!ls->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += LS_HEARTBEAT_MS / 1000;
        ts.tv_nsec += (long)(LS_HEARTBEAT_MS % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ls->hb_cv, &ls->hb_mu, &ts);
        if (ls->stopping) break;
        pthread_mutex_unlock(&ls->hb_mu);
        if (ls->mounted && smem_bm_rank_lost(ls->bm)) {
            /* Our slot is another member's memory now: the MetaService must not
             * place anything on it in our name, nor we mount it again. */
            uint32_t dropped = 0, shrunk = 0;
            LOG_ERROR("LocalService rank %u: its BM rank was taken by another member while this process was cut off "
                      "(paused or partitioned past the config store keepalive); unmounting its segment, this process "
                      "no longer serves the pool (restart it to join as a new member)",
                      ls->rank);
            if (mmc_meta_unmount(ls->meta, ls->rank, MMC_MEDIA_DRAM, &dropped, &shrunk) != MMC_OK)
                LOG_WARN("LocalService rank %u: unmount: %s", ls->rank, mmc_get_last_err_msg());
            ls->mounted = false;
        }
        uint32_t nseg = 0;
        uint64_t instance = 0;
        int32_t rc = mmc_meta_heartbeat(ls->meta, ls->rank, &nseg, &instance);
        if (rc != MMC_OK) {
            LOG_WARN("LocalService rank %u: heartbeat: %s", ls->rank, mmc_get_last_err_msg());
        } else {
            if (ls->instance != 0 && instance != ls->instance)
                LOG_WARN("LocalService rank %u: MetaService instance changed (%" PRIx64 " -> %" PRIx64 ")", ls->rank,
                         ls->instance, instance);
            ls->instance = instance;
            if (ls->mounted && nseg == 0) ls_remount(ls);
        }
        pthread_mutex_lock(&ls->ka_mu);
        if (ls->keepalive != NULL && mmc_meta_heartbeat(ls->keepalive, ls->rank, &nseg, &instance) != MMC_OK)
            LOG_WARN("LocalService rank %u: client link heartbeat: %s", ls->rank, mmc_get_last_err_msg());
        pthread_mutex_unlock(&ls->ka_mu);
        pthread_mutex_lock(&ls->hb_mu);
    }
    pthread_mutex_unlock(&ls->hb_mu);
    return NULL;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Commits the contributed DRAM before it is mounted, so no put pays for page
 * allocation (first-touch faults cost far more than the copy, and under a
 * hypervisor many times more). Nobody can have written to the slot yet. */
static void ls_populate(ls_svc_t *ls)
{
    uint64_t t0 = util_now_ms();
    if (madvise((void *)(uintptr_t)ls->seg_gva, ls->seg_size, MADV_POPULATE_WRITE) != 0) {
        long pg = sysconf(_SC_PAGESIZE);
        volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)ls->seg_gva;
        for (uint64_t off = 0; off < ls->seg_size; off += (uint64_t)pg) p[off] = 0;
    }
    LOG_INFO("LocalService rank %u: %" PRIu64 " bytes committed in %" PRIu64 " ms", ls->rank, ls->seg_size,
             util_now_ms() - t0);
}

/* Keeps the first error message of a failed start across the cleanup calls. */
static void ls_err_save(ls_svc_t *ls)
{
    if (ls->err[0] == '\0') snprintf(ls->err, sizeof(ls->err), "%s", util_err_get());
}

static int32_t ls_bm_open(ls_svc_t *ls, bool init_bm, uint16_t device_id)
{
    const mmc_local_service_config_t *c = &ls->cfg;
    int32_t rc;
    if (init_bm) {
        smem_bm_config_t bc;
        smem_bm_config_init(&bc);
        bc.initTimeout = bc.createTimeout = bc.controlOperationTimeout = c->timeoutSeconds;
        bc.startConfigStoreServer = false; /* mmc-meta (or smem-store) serves it */
        if (c->allowInsecure) bc.flags |= SMEM_BM_FLAG_ALLOW_INSECURE;
        bc.flags |= c->flags; /* the seed's BM flags */
        snprintf(bc.hcomUrl, sizeof(bc.hcomUrl), "%s", c->bmHcomUrl);
        memcpy(&bc.hcomTlsConfig, &c->hcomTlsConfig, NET_TLS_BLOCK_SIZE);
        memcpy(&bc.storeTlsConfig, &c->configStoreTlsConfig, NET_TLS_BLOCK_SIZE);
        rc = smem_bm_init(c->bmIpPort, c->worldSize, device_id, &bc);
        if (rc != 0) return ls_fail_smem(rc, "joining memfabric (smem_bm_init on the config store)");
        ls->own_bm_init = true;
    } else if (smem_bm_get_rank_id() == UINT32_MAX) {
        /* The seed's client-only process (vLLM-Ascend's scheduler): no BM, no rank, no segment. Metadata
         * calls work; a call that must copy bytes fails with MMC_NOT_INITIALIZED (client_xfer.c). */
        LOG_INFO("LocalService: init_bm = false and no smem_bm_init in this process: client-only (no BM of its own)");
        return MMC_OK;
    }
    smem_bm_create_option_t o;
    memset(&o, 0, sizeof(o));
    o.maxDramSize = c->localMaxDRAMSize;
    o.localDRAMSize = c->localDRAMSize ? c->localDRAMSize : LS_CLIENT_BYTES;
    o.maxHbmSize = c->localMaxHBMSize;
    o.localHBMSize = c->localHBMSize;
    o.dataOpType = ls_data_op(ls_protocol_of(c));
    o.dramShmFd = -1;
    ls->bm = smem_bm_create2(LS_BM_ID + c->createId, &o); /* the seed's createId: 0 unless set */
    if (ls->bm == NULL) {
        rc = ls_fail_smem(SMEM_ERROR, "creating the BM pool");
        ls_err_save(ls); /* smem_bm_uninit below clears the thread's message */
        goto uninit;
    }
    rc = smem_bm_join(ls->bm, 0);
    if (rc != 0) {
        rc = ls_fail_smem(rc, "joining the BM pool");
        ls_err_save(ls);
        goto destroy;
    }
    ls->rank = smem_bm_get_rank_id();
    if (c->rankId != 0 && c->rankId != ls->rank)
        LOG_INFO("LocalService: rankId %u not used: the config store assigns ranks (this one is %u)", c->rankId,
                 ls->rank);
    ls->seg_gva = (uint64_t)(uintptr_t)smem_bm_ptr_by_mem_type(ls->bm, SMEM_MEM_TYPE_HOST, (uint16_t)ls->rank);
    ls->seg_size = c->localDRAMSize;
    if (ls->seg_size > 0) ls_populate(ls);
    return MMC_OK;

destroy:
    smem_bm_destroy(ls->bm);
    ls->bm = NULL;
uninit:
    if (ls->own_bm_init) smem_bm_uninit(0);
    ls->own_bm_init = false;
    return rc;
}

static void ls_bm_close(ls_svc_t *ls)
{
    if (ls->bm != NULL) {
        smem_bm_leave(ls->bm, 0);
        smem_bm_destroy(ls->bm);
    }
    if (ls->own_bm_init) smem_bm_uninit(0);
}

int32_t ls_start(const mmc_local_service_config_t *cfg, bool init_bm, uint16_t device_id, ls_svc_t **out)
{
    int32_t rc = mmc_local_service_config_check(cfg);
    if (rc == MMC_OK) rc = ls_conf_runnable(cfg);
    if (rc != MMC_OK) return rc;
    pthread_mutex_lock(&g_ls.lock);
    bool busy = g_ls.cur != NULL || g_ls.starting;
    if (!busy) g_ls.starting = true;
    pthread_mutex_unlock(&g_ls.lock);
    if (busy)
        return util_err_set(MMC_DUPLICATED_OBJECT, "mmcs_local_service_start: a LocalService already runs in this "
                                                   "process");
    ls_svc_t *ls = calloc(1, sizeof(*ls));
    if (ls == NULL) {
        rc = util_err_set(MMC_MALLOC_FAILED, "mmcs_local_service_start: out of memory");
        goto clear_starting;
    }
    ls->cfg = *cfg;
    ls->rank = UINT32_MAX;
    pthread_mutex_init(&ls->hb_mu, NULL);
    pthread_cond_init(&ls->hb_cv, NULL);
    pthread_mutex_init(&ls->ka_mu, NULL);
    rc = mmc_conf_log_open(cfg->logPath, "mmc-local.log", 0, 0);
    if (rc != MMC_OK) goto free_ls;
    util_log_level_set(cfg->logLevel);
    if (cfg->logFunc != NULL) util_log_sink_set(cfg->logFunc); /* the seed's logFunc: the application's sink */
    gva_host_id_t hid;
    if (gva_host_id_get(&hid) != 0) {
        rc = ls_fail(SMEM_ERROR, "reading the host id");
        goto free_ls;
    }
    gva_host_id_pack(&hid, ls->host);

    mmc_meta_client_opts_t mo;
    mmc_meta_client_opts_from_local(cfg, &mo);
    rc = mmc_meta_client_connect(&mo, &ls->meta);
    if (rc == MMC_OK) mmc_meta_client_set_prover(ls->meta, ls_rank_prove, NULL);
    if (rc != MMC_OK) goto free_ls;
    rc = ls_bm_open(ls, init_bm, device_id);
    if (rc != MMC_OK) goto close_meta;
    if (ls->seg_size > 0) {
        uint64_t usable = 0;
        rc = mmc_meta_mount(ls->meta, ls->rank, MMC_MEDIA_DRAM, ls->seg_gva, ls->seg_size, ls->host, &usable);
        if (rc != MMC_OK) {
            rc = ls_fail(rc, "mounting the DRAM segment with the MetaService");
            goto close_bm;
        }
        ls->mounted = true;
    }
    if (pthread_create(&ls->hb, NULL, ls_heartbeat_main, ls) != 0) {
        rc = util_err_set(MMC_ERROR, "mmcs_local_service_start: cannot start the heartbeat thread");
        goto unmount;
    }
    ls->hb_started = true;
    pthread_mutex_lock(&g_ls.lock);
    g_ls.cur = ls;
    g_ls.starting = false;
    pthread_mutex_unlock(&g_ls.lock);
    LOG_INFO("LocalService rank %u: %s%" PRIu64 " bytes at 0x%" PRIx64 ", MetaService %s, config store %s",
             ls->rank, ls->mounted ? "contributes " : "pure client (contributes 0 of ", ls->seg_size, ls->seg_gva,
             cfg->discoveryURL, cfg->bmIpPort);
    *out = ls;
    return MMC_OK;

unmount:
    ls_err_save(ls);
    if (ls->mounted) mmc_meta_unmount(ls->meta, ls->rank, MMC_MEDIA_DRAM, NULL, NULL);
close_bm:
    ls_err_save(ls);
    ls_bm_close(ls);
close_meta:
    ls_err_save(ls);
    mmc_meta_client_close(ls->meta);
    util_err_set(rc, "%s", ls->err); /* the cleanup (smem_bm_uninit) cleared the thread's message */
free_ls:
    pthread_mutex_destroy(&ls->ka_mu);
    pthread_cond_destroy(&ls->hb_cv);
    pthread_mutex_destroy(&ls->hb_mu);
    free(ls);
clear_starting:
    pthread_mutex_lock(&g_ls.lock);
    g_ls.starting = false;
    pthread_mutex_unlock(&g_ls.lock);
    return rc;
}

mmc_local_service_t mmcs_local_service_start(mmc_local_service_config_t *cfg)
{
    if (cfg == NULL) {
        util_err_set(MMC_INVALID_PARAM, "mmcs_local_service_start: config is NULL");
        return NULL;
    }
    ls_svc_t *ls = NULL;
    ls_start(cfg, true, (uint16_t)(cfg->deviceId > UINT16_MAX ? 0 : cfg->deviceId), &ls);
    return ls;
}

void mmcs_local_service_stop(mmc_local_service_t handle)
{
    ls_svc_t *ls = handle;
    if (ls == NULL) return;
    pthread_mutex_lock(&g_ls.lock);
    bool mine = g_ls.cur == ls;
    void (*hook)(void) = g_ls.stop_hook;
    pthread_mutex_unlock(&g_ls.lock);
    if (!mine) {
        LOG_ERROR("mmcs_local_service_stop: %p is not the running LocalService", (void *)ls);
        return;
    }
    if (hook != NULL) hook(); /* the client bound to us goes first */
    pthread_mutex_lock(&g_ls.lock);
    g_ls.cur = NULL;
    pthread_mutex_unlock(&g_ls.lock);

    pthread_mutex_lock(&ls->hb_mu);
    ls->stopping = true;
    pthread_cond_signal(&ls->hb_cv);
    pthread_mutex_unlock(&ls->hb_mu);
    if (ls->hb_started) pthread_join(ls->hb, NULL);
    if (ls->mounted) {
        uint32_t dropped = 0, shrunk = 0;
        if (mmc_meta_unmount(ls->meta, ls->rank, MMC_MEDIA_DRAM, &dropped, &shrunk) == MMC_OK)
            LOG_INFO("LocalService rank %u: unmounted (%u objects dropped, %u kept on other replicas)", ls->rank,
                     dropped, shrunk);
        else
            LOG_WARN("LocalService rank %u: unmount: %s (the MetaService drops the segment when the link closes)",
                     ls->rank, mmc_get_last_err_msg());
    }
    mmc_meta_client_close(ls->meta);
    ls_bm_close(ls);
    pthread_mutex_destroy(&ls->ka_mu);
    pthread_cond_destroy(&ls->hb_cv);
    pthread_mutex_destroy(&ls->hb_mu);
    free(ls);
}
