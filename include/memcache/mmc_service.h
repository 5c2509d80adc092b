/*
 * memcache services. The MetaService owns pool-space allocation and object
 * metadata (DESIGN.md §8); it runs inside any process (mmc-meta is a thin
 * main around it) with its own threads: one net loop (RPC, timers) and one
 * HTTP thread, plus the embedded config store's loop when configured.
 *
 * The LocalService (one per process) joins memfabric as one BM rank,
 * contributes ock.mmc.local_service.dram.size bytes of DRAM to the pool,
 * mounts that segment with the MetaService and keeps it alive with a
 * heartbeat thread; the client (mmc_client.h) moves data through its BM
 * rank. dram.size 0 makes a pure client: a BM rank and window (so it can
 * copy to and from every peer) but no mounted segment.
 *
 * Thread rules: start/stop from any thread, but not concurrently on the same
 * handle; stop must not run on a service thread.
 */
#ifndef MMC_SERVICE_H
#define MMC_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "mmc_def.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults: loopback URLs (RPC tcp://127.0.0.1:5000, config store
 * tcp://127.0.0.1:6000, metrics http://127.0.0.1:8000), watermarks 90/80,
 * lease 10 s, put timeout 30 s, heartbeat timeout 5 s, log level 1, TLS off. */
MMC_API void mmc_meta_service_config_init(mmc_meta_service_config_t *cfg);
/* Reads a `key = value` file over cfg (keys not in the file keep their
 * value). MMC_CONFIG with a message "path:line: ..." on an unknown, repeated
 * or out-of-range key, or an inconsistent result (low watermark >= high, HA
 * enabled: the line of the key the message names). */
MMC_API int32_t mmc_meta_service_config_load(const char *path, mmc_meta_service_config_t *cfg);
/* Same checks on a config without a file (callers that fill the struct). */
MMC_API int32_t mmc_meta_service_config_check(const mmc_meta_service_config_t *cfg);

/* Starts the MetaService; NULL on failure (mmc_get_last_err_msg says why).
 * config is only read (the pointer is not const because the seed's is not).
 * Handles are the seed's opaque void pointers (mmc_def.h). */
MMC_API mmc_meta_service_t mmcs_meta_service_start(mmc_meta_service_config_t *config);
/* Closes every connection, stops the threads and frees everything. NULL is a no-op. */
MMC_API void mmcs_meta_service_stop(mmc_meta_service_t handle);

typedef enum { MMC_META_PORT_RPC = 0, MMC_META_PORT_STORE = 1, MMC_META_PORT_HTTP = 2 } mmc_meta_port_t;
/* The bound TCP port of a listener (useful with port 0 in the URL); 0 when not running. */
MMC_API uint16_t mmcs_meta_service_port(mmc_meta_service_t h, mmc_meta_port_t which);

/* ---------- LocalService ---------- */

/* Defaults: MetaService tcp://127.0.0.1:5000, config store tcp://127.0.0.1:6000
 * (mmc-meta's embedded one), world size 256, protocol host_tcp (same-host
 * peers are always reached through the mapping), hcom_url "" (data plane on
 * an ephemeral port of the address that reaches the config store), DRAM 64 MiB
 * of a 1 GiB stride, HBM 0, client timeout 10 s, retry 100 ms, thread pools 1,
 * aggregate.io on with 122 keys per copy batch, log level 3 (error), TLS off. */
MMC_API void mmc_local_service_config_init(mmc_local_service_config_t *cfg);
/* Reads a `key = value` file over cfg (docs/CONFIG.md, LocalService keys).
 * MMC_CONFIG with "path:line: ..." on an unknown, repeated or out-of-range
 * key, or an inconsistent result (dram.size > max.dram.size, ...). */
MMC_API int32_t mmc_local_service_config_load(const char *path, mmc_local_service_config_t *cfg);
/* Same checks on a filled struct: MMC_INVALID_PARAM naming the field's config key. */
MMC_API int32_t mmc_local_service_config_check(const mmc_local_service_config_t *cfg);

/* Joins memfabric (smem_bm_init on configStoreURL with worldSize, create,
 * join), mounts the DRAM segment with the MetaService and starts the
 * heartbeat thread. One LocalService per process: a second start while one
 * runs fails with MMC_DUPLICATED_OBJECT. NULL on failure (mmc_get_last_err_msg
 * says why); every step is bounded by ock.mmc.client.timeout.seconds. */
MMC_API mmc_local_service_t mmcs_local_service_start(mmc_local_service_config_t *config);
/* Uninitialises the client bound to it (mmcc_uninit), unmounts the segment
 * (the MetaService drops objects without another replica and returns the
 * space), leaves and destroys the BM object. NULL is a no-op. */
MMC_API void mmcs_local_service_stop(mmc_local_service_t handle);
/* The LocalService id (its BM rank) used in mmc_data_info.ranks and
 * preferredLocalServiceIDs; UINT32_MAX for NULL. */
MMC_API uint32_t mmcs_local_service_rank(mmc_local_service_t h);

#ifdef __cplusplus
}
#endif

#endif
