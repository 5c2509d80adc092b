/*
 * LocalService internals shared with the client (src/memcache/client): the
 * process's single LocalService, its BM rank and mounted segment.
 *
 * Lock order: ls_lock (the process singleton) is taken before nothing else
 * in this layer; the heartbeat thread takes only ls->hb_mu. The client's own
 * lock (client_int.h) is taken before ls_lock when both are needed.
 */
#ifndef LOCAL_INT_H
#define LOCAL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "memcache/common/mmc_meta_client.h"
#include "memcache/mmc_service.h"
#include "smem/host/smem_bm.h"

#define LS_BM_ID 0u              /* the BM object every LocalService of a cluster shares */
#define LS_CLIENT_BYTES 4096u    /* a pure client backs one page of its slot (BM needs > 0); never mounted */
#define LS_HEARTBEAT_MS 1000u   /* below the MetaService's ock.mmc.meta.heartbeat_timeout_ms (default 5000) */

/* The object behind the public handle (mmc_local_service_t is the seed's void *). */
typedef struct mmc_local_service ls_svc_t;

struct mmc_local_service {
    mmc_local_service_config_t cfg;
    bool own_bm_init;            /* we called smem_bm_init (and so call smem_bm_uninit) */
    smem_bm_t bm;
    uint32_t rank;
    uint64_t seg_gva, seg_size;  /* our DRAM slot; seg_size 0: pure client */
    bool mounted;
    uint8_t host[MMC_HOST_ID_SIZE];
    mmc_meta_client_t *meta;     /* mount, unmount, heartbeat */
    pthread_t hb;
    bool hb_started;
    pthread_mutex_t hb_mu;
    pthread_cond_t hb_cv;
    bool stopping;               /* under hb_mu */
    uint64_t instance;           /* MetaService instance seen by the last heartbeat */
    pthread_mutex_t ka_mu;       /* keepalive: held across the heartbeat on it */
    mmc_meta_client_t *keepalive; /* the client's own link, kept alive by the same thread */
    char err[600];               /* start: the first failure's message, kept across cleanup */
};

/* What the client needs of the LocalService, copied at mmcc_init. */
typedef struct ls_info {
    mmc_local_service_config_t cfg;
    smem_bm_t bm;                /* NULL: client-only (init_bm = false without smem_bm_init) */
    uint32_t rank;
    bool mounted;                /* has a segment: PUT_START names us as the writer */
    uint8_t host[MMC_HOST_ID_SIZE];
} ls_info_t;

/* The running LocalService's info; MMC_NOT_INITIALIZED when none runs. */
int32_t ls_info_get(ls_info_t *out);
/* The heartbeat thread also keeps link c alive (NULL: stop; waits for a heartbeat in flight on the
 * old one, so the caller may close it afterwards). No-op when no LocalService runs. */
void ls_keepalive_set(mmc_meta_client_t *c);
/* Called by mmcs_local_service_stop before anything is torn down (the client's uninit). */
void ls_stop_hook_set(void (*fn)(void));
/* mmc_meta_prove_fn_t: this process's BM rank proof (smem_bm_rank_proof) for MOUNT and REMOVE_ALL. */
int32_t ls_rank_prove(void *arg, const uint8_t *challenge, uint32_t len, uint32_t *rank, uint8_t *proof);
/* Starts the LocalService into *out. init_bm false: when the application already called smem_bm_init, its
 * BM is used; otherwise the process is client-only (bm NULL, rank UINT32_MAX, nothing mounted). */
int32_t ls_start(const mmc_local_service_config_t *cfg, bool init_bm, uint16_t device_id, ls_svc_t **out);
const char *ls_protocol_name(uint32_t p);
/* The protocol in effect: dataOpType (the seed's name) when set, else protocol; UINT32_MAX: unknown name. */
uint32_t ls_protocol_of(const mmc_local_service_config_t *c);
/* What a valid config may still ask for that this build cannot do (RDMA, UB, SDMA):
 * MMC_UNSUPPORTED naming the key and host_tcp. Checked at start, not at load, so the
 * seed's shipped files load. */
int32_t ls_conf_runnable(const mmc_local_service_config_t *c);

#endif
