/* Internal state of BM (smem_bm.c: init, create, destroy; smem_bm_ops.c: the per-object calls; smem_bm_tp.c: the
 * data plane to other hosts). */
#ifndef SMEM_BM_INT_H
#define SMEM_BM_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gva/gva.h"
#include "smem/host/smem_bm_def.h"
#include "smem/smem_int.h"
#include "space/space.h"
#include "xfer/xfer.h"

#define SMEM_BM_ID_MAX 63u
#define SMEM_BM_GROUP "smem"                 /* store group of every BM rank (liveness, rank ids) */
#define SMEM_BM_STRIDE_MAX (1ull << 40)      /* per-rank stride (max size) limit: 1 TiB */
#define SMEM_BM_WINDOW_MAX (32ull << 40)     /* world × stride limit: 32 TiB of address space */

/*
 * One BM object. Handles are checked against the process table (a destroyed
 * or foreign pointer is SMEM_ERR_INVALID_PARAM, never dereferenced). Every
 * call holds a reference (sm_bm_obj_get/put) so destroy waits for calls in
 * flight; async copies are drained by xfer_engine_destroy.
 * Locks: the process-wide BM lock (smem_bm.c) is a leaf, never held across
 * another lock or a store/gva call. op_lock serialises join/leave/destroy of
 * one object and is held across space calls (which take only the
 * space's own leaf lock).
 */
typedef struct sm_bm_obj {
    uint32_t id;
    uint32_t refs; /* atomic: the table's reference + calls in flight */
    uint32_t member_size;
    uint32_t data_op;
    uint32_t flags;
    int numa_node; /* -1: no binding */
    uint64_t local_dram;
    uint64_t local_hbm;
    uint64_t stride;
    space_t *host;
    xfer_engine_t *xfer;
    gva_reg_t *reg;
    pthread_mutex_t op_lock;
    /* Data plane (smem_bm_tp.c): a transport iface serving our slot to peers on
     * other hosts while joined, and lazily connected endpoints to them. */
    struct sm_bm_tp *tp;
    struct sm_bm_ev *ev; /* membership events (smem_bm_event.c); NULL until a handler is set; under op_lock */
} sm_bm_obj_t;

/* smem_bm_event.c: stop the membership events of o (before destroying it). */
void sm_bm_ev_close(sm_bm_obj_t *o);
/* The BM store client (NULL before smem_bm_init); valid while BM objects exist. */
store_client_t *sm_bm_store(void);

/* smem_bm_tp.c. Setup keeps the settings; open (at join, under op_lock) starts
 * the iface and sets the address our member record publishes; close (after
 * leave, and at destroy) stops it. The route is the copy engine's. */
#define SMEM_BM_TP_WINDOW_HOST 1u /* tp window id of the host pool: offset from our slot start */
int32_t sm_bm_tp_setup(sm_bm_obj_t *o, const char *hcom_url, const char *store_url,
                         const smem_tls_config *tls, uint32_t timeout_ms, bool allow_insecure);
int32_t sm_bm_tp_open(sm_bm_obj_t *o);
void sm_bm_tp_close(sm_bm_obj_t *o);
void sm_bm_tp_teardown(sm_bm_obj_t *o); /* close + free the settings; NULL-safe */
int32_t sm_bm_tp_route(void *arg, gva_window_t *w, uint32_t rank, bool connect, xfer_route_t *out);

/* The live object behind handle h with a reference taken, or NULL (error set). */
sm_bm_obj_t *sm_bm_obj_get(const void *h, const char *what);
void sm_bm_obj_put(sm_bm_obj_t *o);

#endif /* SMEM_BM_INT_H */
