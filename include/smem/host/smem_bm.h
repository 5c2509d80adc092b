/*
 * BM: the pooled global address space and copies between local and global
 * memory. Every process of a BM object sees rank r's memory of type t at
 * smem_bm_ptr_by_mem_type(h, t, r) = base_t + r * stride_t, the same address
 * everywhere. Same-host peers' memory is mapped (a pointer dereference works);
 * other hosts are reached through smem_bm_copy.
 *
 * Threads: every call may be made from any thread; copies run concurrently.
 * smem_bm_wait completes the async copies issued by the calling thread.
 * Errors: negative status (smem.h) and a per-thread message (smem_get_last_err_msg).
 */
#ifndef SMEM_HOST_SMEM_BM_H
#define SMEM_HOST_SMEM_BM_H

#include "smem.h"
#include "smem_bm_def.h"

#ifdef __cplusplus
extern "C" {
#endif

SMEM_API int32_t smem_bm_config_init(smem_bm_config_t *config);
/* Connect to (or start) the config store at store_url and take a rank (auto or
 * config->rankId) among world_size. Idempotent per process: a second call with
 * the same arguments returns 0 (SMEM_ERR_REPEAT_CALL if they differ). */
SMEM_API int32_t smem_bm_init(const char *store_url, uint32_t world_size, uint16_t device_id,
                              const smem_bm_config_t *config);
SMEM_API void smem_bm_uninit(uint32_t flags);
SMEM_API uint32_t smem_bm_get_rank_id(void); /* UINT32_MAX before init */

SMEM_API smem_bm_t smem_bm_create(uint32_t id, uint32_t member_size, smem_bm_data_op_type data_op_type,
                                  uint64_t local_dram_size, uint64_t local_hbm_size, uint32_t flags);
SMEM_API smem_bm_t smem_bm_create2(uint32_t id, const smem_bm_create_option_t *option);
SMEM_API void smem_bm_destroy(smem_bm_t handle);

/* Enter the global space: peers import this rank and this rank imports them. */
SMEM_API int32_t smem_bm_join(smem_bm_t handle, uint32_t flags);
/* Leave it: peers unmap this rank; copies to it then fail with SMEM_ERR_PEER_GONE. */
SMEM_API int32_t smem_bm_leave(smem_bm_t handle, uint32_t flags);
/* Ours: true when this process's rank went to another member while it was cut
 * off from the config store past the keepalive (copies then fail with
 * SMEM_ERR_RECONNECT); the owner must take a new rank (destroy, smem_bm_uninit,
 * smem_bm_init). false for a live rank or an unknown handle. */
SMEM_API bool smem_bm_rank_lost(smem_bm_t handle);
/* Ours: proof, for a service that serves BM's config store (the memcache
 * MetaService), that this process holds its BM rank now: 32 bytes
 * (SMEM_BM_PROOF_SIZE) over the service's challenge (at most 64 bytes),
 * keyed by the secret this process joined with; *rank gets the rank proven.
 * SMEM_ERR_NOT_INITIALIZED before smem_bm_init (or with
 * startConfigStoreOnly), SMEM_ERR_OBJECT_NOT_EXISTS while the rank is lost
 * (cut off from the store), SMEM_ERR_INVALID_PARAM for NULL or a longer
 * challenge. */
#define SMEM_BM_PROOF_SIZE 32
SMEM_API int32_t smem_bm_rank_proof(const void *challenge, uint32_t len, uint32_t *rank, uint8_t *proof);

SMEM_API uint64_t smem_bm_get_local_mem_size_by_mem_type(smem_bm_t handle, smem_bm_mem_type mem_type);
SMEM_API void *smem_bm_ptr_by_mem_type(smem_bm_t handle, smem_bm_mem_type mem_type, uint16_t peer_rank_id);
/* Rank owning gva (by stride); UINT32_MAX if gva is in no window of handle. */
SMEM_API uint32_t smem_bm_get_rank_id_by_gva(smem_bm_t handle, void *gva);

SMEM_API int32_t smem_bm_copy(smem_bm_t handle, smem_copy_params *params, smem_bm_copy_type t, uint32_t flags);
SMEM_API int32_t smem_bm_copy_batch(smem_bm_t handle, smem_batch_copy_params *params, smem_bm_copy_type t,
                                    uint32_t flags);
/* Each piece on its own, synchronously (ASYNC_COPY_FLAG is ignored); result->results[i] gets piece i's code.
 * 0 when all succeeded, SMEM_ERR_PARTIAL_FAILED when some did not. */
SMEM_API int32_t smem_bm_copy_batch_partial_succeed(smem_bm_t handle, smem_batch_copy_params *params,
                                                    smem_bm_copy_type t, uint32_t flags, smem_batch_copy_result *result);
/* This rank's own GVA as a local address (SMEM_MEM_TYPE_LOCAL_HOST: the same address, as local memory is
 * mapped at its GVA); SMEM_MEM_TYPE_LOCAL_DEVICE is SMEM_ERR_UNSUPPORTED (no device memory here). */
SMEM_API int32_t smem_bm_gva_to_va(smem_bm_t handle, void *gva, smem_bm_mem_type vaMemType, void **va);
/* The seed's membership events: cb(handle, rank, SMEM_GROUP_EVENT_JOIN / _LEAVE, context) when a rank joins
 * this object (smem_bm_join) or leaves it (smem_bm_leave, destroy, or death). Ranks present when it is set
 * are not reported. One per object; a new call replaces it (NULL: none). cb runs on a library thread: it must
 * not block on the store nor destroy handle. */
SMEM_API int32_t smem_bm_set_group_event_handler(smem_bm_t handle, smem_bm_group_event_cb cb, void *context);
/* Waits for this thread's async copies on handle; returns the first error among them. */
SMEM_API int32_t smem_bm_wait(smem_bm_t handle);

SMEM_API int32_t smem_bm_register_user_mem(smem_bm_t handle, uint64_t addr, uint64_t size);
SMEM_API int32_t smem_bm_unregister_user_mem(smem_bm_t handle, uint64_t addr);

#ifdef __cplusplus
}
#endif
#endif
