/*
 * SHM: a symmetric heap over the global address space. smem_shm_create is
 * collective; rank r's region is gva + r * symmetric_size in every process.
 * Control-plane collectives (barrier, all-gather, sub-groups), per-rank
 * extra context readable by every rank, reachability, atomic ids and a
 * global exit broadcast sit beside it.
 *
 * Threads: calls may come from any thread, but collectives on one handle
 * must be issued in the same order by every rank.
 */
#ifndef SMEM_HOST_SMEM_SHM_H
#define SMEM_HOST_SMEM_SHM_H

#include "smem.h"
#include "smem_shm_def.h"

#ifdef __cplusplus
extern "C" {
#endif

SMEM_API int32_t smem_shm_config_init(smem_shm_config_t *config);
SMEM_API int32_t smem_shm_init(const char *store_url, uint32_t world_size, uint32_t rank_id, uint16_t device_id,
                               smem_shm_config_t *config);
SMEM_API void smem_shm_uninit(uint32_t flags);
SMEM_API uint32_t smem_shm_query_support_data_operation(void);

SMEM_API smem_shm_t smem_shm_create(uint32_t id, uint32_t rank_size, uint32_t rank_id, uint64_t symmetric_size,
                                    smem_shm_data_op_type data_op_type, uint32_t flags, void **gva);
SMEM_API int32_t smem_shm_destroy(smem_shm_t handle, uint32_t flags);

SMEM_API int32_t smem_shm_set_extra_context(smem_shm_t handle, const void *context, uint32_t size);
/* Ours (the seed reads it on the device): copy rank's extra context into buf
 * (at most cap bytes); *size gets its length. SMEM_ERR_OBJECT_NOT_EXISTS if unset. */
SMEM_API int32_t smem_shm_get_extra_context(smem_shm_t handle, uint32_t rank, void *buf, uint32_t cap, uint32_t *size);

SMEM_API uint32_t smem_shm_get_global_rank(smem_shm_t handle);      /* UINT32_MAX on error */
SMEM_API uint32_t smem_shm_get_global_rank_size(smem_shm_t handle); /* UINT32_MAX on error */

SMEM_API int32_t smem_shm_control_barrier(smem_shm_t handle);
SMEM_API int32_t smem_shm_control_allgather(smem_shm_t handle, const char *send_buf, uint32_t send_size, char *recv_buf,
                                            uint32_t recv_size);
SMEM_API int32_t smem_shm_subgroup_barrier(smem_shm_t handle, const char *key, uint32_t rank_size, uint32_t rank_id);
SMEM_API int32_t smem_shm_subgroup_allgather(smem_shm_t handle, const char *key, uint32_t rank_size, uint32_t rank_id,
                                             const char *send_buf, uint32_t send_size, char *recv_buf,
                                             uint32_t recv_size);

SMEM_API int32_t smem_shm_topology_can_reach(smem_shm_t handle, uint32_t remote_rank, uint32_t *reach_info);

SMEM_API int32_t smem_shm_atomic_alloc_value(smem_shm_t handle, uint32_t limit, uint32_t *value);
SMEM_API int32_t smem_shm_atomic_release_value(smem_shm_t handle, uint32_t value);

SMEM_API int32_t smem_shm_register_exit(smem_shm_t handle, void (*exit_fn)(int));
SMEM_API void smem_shm_global_exit(smem_shm_t handle, int status);

#ifdef __cplusplus
}
#endif
#endif
