/*
 * Trans: one-sided batch write/read between named peers (KV-cache transfer
 * between inference instances). Each instance has a unique id ("ip:port",
 * any string up to 63 bytes), registers memory, and writes into or reads
 * from memory that another instance registered, addressed by that
 * instance's own virtual addresses. Instances find each other and learn of
 * registered and deregistered memory through the config store (watches:
 * milliseconds, no polling); data goes over the built-in tcp transport.
 *
 * Threads: every call may be made from any thread; transfers run
 * concurrently. A write/read returns when the bytes are in place at the
 * destination (a write: in the peer's memory). *_submit variants queue the
 * transfer on a stream (smem_trans_stream_create): transfers of one stream
 * run in submission order, streams run concurrently, smem_trans_stream_wait
 * completes them. Errors: negative status (smem.h) and a per-thread message.
 */
#ifndef SMEM_HOST_SMEM_TRANS_H
#define SMEM_HOST_SMEM_TRANS_H

#include "smem.h"
#include "smem_trans_def.h"

#ifdef __cplusplus
extern "C" {
#endif

SMEM_API int32_t smem_trans_config_init(smem_trans_config_t *config);
/* Process-wide init (idempotent). Required before smem_trans_create. */
SMEM_API int32_t smem_trans_init(const smem_trans_config_t *config);
/* Destroys the instances still alive. */
SMEM_API void smem_trans_uninit(uint32_t flags);

/*
 * A new instance named unique_id on the config store at store_url. It
 * listens for peers' transfers on an ephemeral port of unique_id's IP
 * address when unique_id is "IPv4:port" or "[IPv6]:port" (the port is a
 * name, not bound), otherwise of the address that reaches the store.
 * SMEM_ERR_DUPLICATED_OBJECT when a live instance already has the id.
 * NULL on failure (smem_get_last_err_msg says why).
 */
SMEM_API smem_trans_t smem_trans_create(const char *store_url, const char *unique_id,
                                        const smem_trans_config_t *config);
/* Deregisters everything, unpublishes the instance, waits for transfers in flight. */
SMEM_API void smem_trans_destroy(smem_trans_t handle, uint32_t flags);

/* size bytes of page-aligned host memory, registered. Free with smem_trans_free. */
SMEM_API void *smem_trans_malloc(smem_trans_t handle, size_t size);
/* 0, or SMEM_ERR_INVALID_PARAM (NULL, or not from smem_trans_malloc of handle). */
SMEM_API int32_t smem_trans_free(smem_trans_t handle, void *address);

/*
 * Make [address, address + size) reachable by peers (they may read and write
 * it). The same range again: 0. An overlap with another registered range:
 * SMEM_ERR_ADDR_CONFLICT. flags: reserved, 0. Peers see it as soon as this
 * returns.
 */
SMEM_API int32_t smem_trans_register_mem(smem_trans_t handle, void *address, size_t size, uint32_t flags);
/* All or nothing: on an error, the ranges registered by this call are deregistered again. */
SMEM_API int32_t smem_trans_batch_register_mem(smem_trans_t handle, void *addresses[], size_t sizes[], uint32_t count,
                                               uint32_t flags);
/* Deregister the range starting at address: waits for transfers touching it,
 * then later transfers to or from it fail. SMEM_ERR_OBJECT_NOT_EXISTS if none. */
SMEM_API int32_t smem_trans_deregister_mem(smem_trans_t handle, void *address);

/* size bytes from local memory to remote_address (the peer's own virtual
 * address, inside memory it registered). flags: reserved, 0. */
SMEM_API int32_t smem_trans_write(smem_trans_t handle, const void *local_address, const char *remote_unique_id,
                                  void *remote_address, size_t size, uint32_t flags);
SMEM_API int32_t smem_trans_batch_write(smem_trans_t handle, const void *local_addresses[],
                                        const char *remote_unique_id, void *remote_addresses[], size_t sizes[],
                                        uint32_t batch_size, uint32_t flags);
SMEM_API int32_t smem_trans_read(smem_trans_t handle, void *local_address, const char *remote_unique_id,
                                 const void *remote_address, size_t size, uint32_t flags);
SMEM_API int32_t smem_trans_batch_read(smem_trans_t handle, void *local_addresses[], const char *remote_unique_id,
                                       const void *remote_addresses[], size_t sizes[], uint32_t batch_size,
                                       uint32_t flags);

/*
 * The seed's peer-down notification: callback(peer id, userData) when another
 * instance on the store leaves (smem_trans_destroy) or dies (within the
 * store's keepalive). One per handle; a new one replaces it, NULL removes it.
 * It runs on the library's watch thread: it must not block for long nor
 * destroy handle.
 */
SMEM_API int32_t smem_trans_set_peer_down_callback(smem_trans_t handle, smem_trans_peer_down_callback_t callback,
                                                   void *userData);

/* ---- asynchronous forms on a stream (ours: an opaque completion queue) ---- */

/* A stream of handle: transfers submitted to it run in order on its own thread. */
SMEM_API int32_t smem_trans_stream_create(smem_trans_t handle, void **stream);
/* Waits for the stream's transfers, then frees it. */
SMEM_API void smem_trans_stream_destroy(void *stream);
/* Until every transfer submitted so far has finished (or timeout_ms, 0 = no
 * limit: SMEM_ERR_TIMEOUT); returns their first error and resets it. */
SMEM_API int32_t smem_trans_stream_wait(void *stream, uint32_t timeout_ms);

/* Validate and queue; the arrays are copied, the memory must stay valid until
 * smem_trans_stream_wait returns. */
SMEM_API int32_t smem_trans_write_submit(smem_trans_t handle, const void *local_address, const char *remote_unique_id,
                                         void *remote_address, size_t size, void *stream, uint32_t flags);
SMEM_API int32_t smem_trans_batch_write_submit(smem_trans_t handle, const void *local_addresses[],
                                               const char *remote_unique_id, void *remote_addresses[],
                                               size_t sizes[], uint32_t batch_size, void *stream, uint32_t flags);
SMEM_API int32_t smem_trans_read_submit(smem_trans_t handle, void *local_address, const char *remote_unique_id,
                                        const void *remote_address, size_t size, void *stream, uint32_t flags);
SMEM_API int32_t smem_trans_batch_read_submit(smem_trans_t handle, void *local_addresses[],
                                              const char *remote_unique_id, const void *remote_addresses[],
                                              size_t sizes[], uint32_t batch_size, void *stream, uint32_t flags);

#ifdef __cplusplus
}
#endif
#endif
