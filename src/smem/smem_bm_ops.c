/*
 * BM per-object calls: join/leave, address queries, copies and user-memory
 * registration. Each call holds a reference on the object for its duration
 * (sm_bm_obj_get/put), so a concurrent destroy waits for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "smem/host/smem_bm.h"
#include "smem/smem_bm_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

#define SMEM_MPOL_PREFERRED 1 /* linux/mempolicy.h, without depending on libnuma */
#define SMEM_NUMA_BITS 128u

/* Prefer (not force) the chosen node for our slot's pages: a full node then
 * spills over instead of failing. Called before anyone touches the pages. */
static void sm_bm_numa_bind(const sm_bm_obj_t *o)
{
    if (o->numa_node < 0 || (uint32_t)o->numa_node >= SMEM_NUMA_BITS) return;
    unsigned long mask[SMEM_NUMA_BITS / (8 * sizeof(unsigned long))] = {0};
    mask[(uint32_t)o->numa_node / (8 * sizeof(unsigned long))] |= 1ul << ((uint32_t)o->numa_node % (8 * sizeof(unsigned long)));
    uint64_t slot = space_slot(o->host, space_rank(o->host));
    long r = syscall(SYS_mbind, (void *)(uintptr_t)slot, (unsigned long)o->local_dram, SMEM_MPOL_PREFERRED, mask,
                     (unsigned long)SMEM_NUMA_BITS + 1, 0u);
    if (r != 0)
        LOG_WARN("bm %u: preferring NUMA node %d for 0x%llx + %llu bytes failed: %s (pages go where the kernel puts "
                 "them)",
                 o->id, o->numa_node, (unsigned long long)slot, (unsigned long long)o->local_dram, strerror(errno));
    else
        LOG_DEBUG("bm %u: local memory prefers NUMA node %d", o->id, o->numa_node);
}

int32_t smem_bm_join(smem_bm_t handle, uint32_t flags)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_join");
    if (o == NULL) return sm_handle_status();
    int32_t rc;
    if (flags != 0) {
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_join: flags 0x%x unknown (reserved, pass 0)", flags);
        goto put;
    }
    pthread_mutex_lock(&o->op_lock);
    if (space_joined(o->host)) {
        rc = util_err_set(SMEM_REPEAT_CALL, "smem_bm_join: BM %u already joined", o->id);
    } else {
        rc = sm_bm_tp_open(o); /* our data-plane address goes into the member record */
        if (rc == SMEM_OK) rc = space_join(o->host);
        if (rc == SMEM_OK) sm_bm_numa_bind(o);
        else sm_bm_tp_close(o);
    }
    pthread_mutex_unlock(&o->op_lock);
put:
    sm_bm_obj_put(o);
    return rc;
}

int32_t smem_bm_leave(smem_bm_t handle, uint32_t flags)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_leave");
    if (o == NULL) return sm_handle_status();
    int32_t rc;
    if (flags != 0) {
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_leave: flags 0x%x unknown (reserved, pass 0)", flags);
        goto put;
    }
    pthread_mutex_lock(&o->op_lock);
    rc = space_leave(o->host);
    if (rc == SMEM_OK) sm_bm_tp_close(o);
    pthread_mutex_unlock(&o->op_lock);
put:
    sm_bm_obj_put(o);
    return rc;
}

uint64_t smem_bm_get_local_mem_size_by_mem_type(smem_bm_t handle, smem_bm_mem_type mem_type)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_get_local_mem_size_by_mem_type");
    if (o == NULL) return 0;
    uint64_t v = 0;
    switch (mem_type) {
    case SMEM_MEM_TYPE_HOST:
    case SMEM_MEM_TYPE_LOCAL_HOST: v = o->local_dram; break;
    case SMEM_MEM_TYPE_DEVICE:
    case SMEM_MEM_TYPE_LOCAL_DEVICE: v = o->local_hbm; break; /* 0 without CUDA */
    default:
        util_err_set(SMEM_INVALID_PARAM, "smem_bm_get_local_mem_size_by_mem_type: memory type %d unknown", (int)mem_type);
        break;
    }
    sm_bm_obj_put(o);
    return v;
}

void *smem_bm_ptr_by_mem_type(smem_bm_t handle, smem_bm_mem_type mem_type, uint16_t peer_rank_id)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_ptr_by_mem_type");
    if (o == NULL) return NULL;
    void *p = NULL;
    uint32_t world = space_world_max(o->host);
    if (mem_type == SMEM_MEM_TYPE_DEVICE || mem_type == SMEM_MEM_TYPE_LOCAL_DEVICE)
        util_err_set(SMEM_UNSUPPORTED, "smem_bm_ptr_by_mem_type: BM %u has no device pool (needs CUDA)", o->id);
    else if (mem_type != SMEM_MEM_TYPE_HOST && mem_type != SMEM_MEM_TYPE_LOCAL_HOST)
        util_err_set(SMEM_INVALID_PARAM, "smem_bm_ptr_by_mem_type: memory type %d unknown", (int)mem_type);
    else if (peer_rank_id >= world)
        util_err_set(SMEM_INVALID_PARAM, "smem_bm_ptr_by_mem_type: rank %u >= world size %u", peer_rank_id, world);
    else
        p = (void *)(uintptr_t)space_slot(o->host, peer_rank_id);
    sm_bm_obj_put(o);
    return p;
}

uint32_t smem_bm_get_rank_id_by_gva(smem_bm_t handle, void *gva)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_get_rank_id_by_gva");
    if (o == NULL) return UINT32_MAX;
    uint64_t a = (uint64_t)(uintptr_t)gva, base = space_base(o->host);
    uint64_t size = (uint64_t)space_world_max(o->host) * o->stride;
    uint32_t r = UINT32_MAX;
    if (a >= base && a - base < size)
        r = (uint32_t)((a - base) / o->stride);
    else
        util_err_set(SMEM_OUT_OF_RANGE, "smem_bm_get_rank_id_by_gva: %p is outside BM %u's pool 0x%llx-0x%llx", gva,
                     o->id, (unsigned long long)base, (unsigned long long)(base + size));
    sm_bm_obj_put(o);
    return r;
}

int32_t smem_bm_gva_to_va(smem_bm_t handle, void *gva, smem_bm_mem_type vaMemType, void **va)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_gva_to_va");
    if (o == NULL) return sm_handle_status();
    int32_t rc = SMEM_OK;
    uint64_t a = (uint64_t)(uintptr_t)gva;
    uint64_t lo = space_base(o->host) + (uint64_t)space_rank(o->host) * o->stride;
    if (va == NULL || gva == NULL) {
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_gva_to_va: gva or va is NULL");
    } else if (vaMemType == SMEM_MEM_TYPE_LOCAL_DEVICE) {
        rc = util_err_set(SMEM_UNSUPPORTED, "smem_bm_gva_to_va: SMEM_MEM_TYPE_LOCAL_DEVICE needs device memory, "
                                            "which this platform has not");
    } else if (vaMemType != SMEM_MEM_TYPE_LOCAL_HOST) {
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_gva_to_va: memory type %d (want SMEM_MEM_TYPE_LOCAL_HOST)",
                          (int)vaMemType);
    } else if (a < lo || a - lo >= o->local_dram) {
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_gva_to_va: %p is not in this rank's memory of BM %u "
                                              "(0x%llx, %llu bytes)",
                          gva, o->id, (unsigned long long)lo, (unsigned long long)o->local_dram);
    } else {
        *va = gva; /* this rank's memory is mapped at its global address */
    }
    sm_bm_obj_put(o);
    return rc;
}

#define SM_BM_COPY_FLAGS_KNOWN (ASYNC_COPY_FLAG | COPY_EXTEND_FLAG | SMEM_BM_FLAG_USE_EXTERNAL_STREAM)

static int32_t sm_bm_copy_flags(uint32_t flags, uint32_t *xflags)
{
    if (flags & ~(uint32_t)SM_BM_COPY_FLAGS_KNOWN)
        return util_err_set(SMEM_INVALID_PARAM, "copy flags 0x%x unknown (ASYNC_COPY_FLAG, COPY_EXTEND_FLAG)",
                            flags & ~(uint32_t)SM_BM_COPY_FLAGS_KNOWN);
    if (flags & SMEM_BM_FLAG_USE_EXTERNAL_STREAM)
        return util_err_set(SMEM_UNSUPPORTED, "copy flag SMEM_BM_FLAG_USE_EXTERNAL_STREAM needs an Ascend stream, "
                                              "which this platform has not");
    *xflags = (flags & ASYNC_COPY_FLAG) ? XFER_F_ASYNC : 0;
    return SMEM_OK;
}

/* A space whose rank went to another member must not move a byte: its own
 * slot now means someone else's memory to every other process. */
static int32_t sm_bm_check_lost(sm_bm_obj_t *o, const char *what)
{
    if (!space_lost(o->host)) return SMEM_OK;
    return util_err_set(SMEM_RECONNECT, "%s: rank %u was lost (this process was cut off from the config store past "
                        "the keepalive and another member took the rank); destroy it and smem_bm_uninit, then smem_bm_init "
                        "again for a new rank",
                        what, space_rank(o->host));
}

bool smem_bm_rank_lost(smem_bm_t h)
{
    sm_bm_obj_t *o = sm_bm_obj_get(h, "smem_bm_rank_lost");
    if (o == NULL) return false;
    bool lost = space_lost(o->host);
    sm_bm_obj_put(o);
    return lost;
}

int32_t smem_bm_copy(smem_bm_t handle, smem_copy_params *params, smem_bm_copy_type t, uint32_t flags)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_copy");
    if (o == NULL) return sm_handle_status();
    uint32_t xf = 0;
    int32_t rc;
    if (params == NULL) rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_copy: params is NULL");
    else rc = sm_bm_copy_flags(flags, &xf);
    if (rc == SMEM_OK) rc = sm_bm_check_lost(o, "smem_bm_copy");
    if (rc == SMEM_OK) {
        const void *src = params->src;
        void *dst = params->dest;
        uint64_t len = params->dataSize;
        rc = xfer_copy(o->xfer, &src, &dst, &len, 1, (xfer_copy_type_t)t, xf);
    }
    sm_bm_obj_put(o);
    return rc;
}

int32_t smem_bm_copy_batch(smem_bm_t handle, smem_batch_copy_params *params, smem_bm_copy_type t, uint32_t flags)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_copy_batch");
    if (o == NULL) return sm_handle_status();
    uint32_t xf = 0;
    int32_t rc;
    if (params == NULL || params->sources == NULL || params->destinations == NULL || params->dataSizes == NULL)
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_copy_batch: params or one of its arrays is NULL");
    else rc = sm_bm_copy_flags(flags, &xf);
    if (rc == SMEM_OK) rc = sm_bm_check_lost(o, "smem_bm_copy_batch");
    if (rc == SMEM_OK)
        rc = xfer_copy(o->xfer, (const void *const *)params->sources, params->destinations, params->dataSizes,
                       params->batchSize, (xfer_copy_type_t)t, xf);
    sm_bm_obj_put(o);
    return rc;
}

int32_t smem_bm_copy_batch_partial_succeed(smem_bm_t handle, smem_batch_copy_params *params, smem_bm_copy_type t,
                                           uint32_t flags, smem_batch_copy_result *result)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_copy_batch_partial_succeed");
    if (o == NULL) return sm_handle_status();
    uint32_t xf = 0, failed = 0;
    int32_t rc;
    if (params == NULL || params->sources == NULL || params->destinations == NULL || params->dataSizes == NULL ||
        result == NULL || result->results == NULL)
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_copy_batch_partial_succeed: params, result or an array is NULL");
    else if (result->batchSize < params->batchSize)
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_copy_batch_partial_succeed: result holds %u codes for %u pieces",
                          result->batchSize, params->batchSize);
    else rc = sm_bm_copy_flags(flags, &xf);
    if (rc == SMEM_OK) rc = sm_bm_check_lost(o, "smem_bm_copy_batch_partial_succeed");
    /* Piece by piece and synchronously, so each code is that piece's own. */
    for (uint32_t i = 0; rc == SMEM_OK && i < params->batchSize; i++) {
        const void *src = params->sources[i];
        void *dst = params->destinations[i];
        uint64_t len = params->dataSizes[i];
        result->results[i] = xfer_copy(o->xfer, &src, &dst, &len, 1, (xfer_copy_type_t)t, 0);
        if (result->results[i] != SMEM_OK) failed++;
    }
    if (rc == SMEM_OK && failed != 0)
        rc = util_err_set(SMEM_PARTIAL_FAILED, "smem_bm_copy_batch_partial_succeed: %u of %u pieces failed (codes in "
                                               "result->results)",
                          failed, params->batchSize);
    sm_bm_obj_put(o);
    return rc;
}

int32_t smem_bm_wait(smem_bm_t handle)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_wait");
    if (o == NULL) return sm_handle_status();
    int32_t rc = xfer_wait(o->xfer);
    sm_bm_obj_put(o);
    return rc;
}

int32_t smem_bm_register_user_mem(smem_bm_t handle, uint64_t addr, uint64_t size)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_register_user_mem");
    if (o == NULL) return sm_handle_status();
    int32_t rc;
    if (addr == 0 || size == 0)
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_register_user_mem: address 0x%" PRIx64 " size %" PRIu64
                                              " (both must be non-zero)",
                          addr, size);
    else if (gva_range_in_window(addr, size))
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_bm_register_user_mem: 0x%" PRIx64 " + %" PRIu64
                                              " bytes lies in a GVA pool, which needs no registration",
                          addr, size);
    else
        rc = gva_reg_add(o->reg, addr, size);
    sm_bm_obj_put(o);
    return rc;
}

int32_t smem_bm_unregister_user_mem(smem_bm_t handle, uint64_t addr)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_unregister_user_mem");
    if (o == NULL) return sm_handle_status();
    int32_t rc = gva_reg_remove(o->reg, addr);
    sm_bm_obj_put(o);
    return rc;
}
