/*
 * memcache SDK entry points (the seed's mmc.h): configure, then start the
 * LocalService and the client of this process in one call.
 *
 *   mmc_setup(&cfg);            optional: the LocalService config to use
 *   mmc_init(&(mmc_init_config){.device_id = 0, .init_bm = true});
 *   ... mmcc_* calls (mmc_client.h) ...
 *   mmc_uninit();
 *
 * Config discovery: mmc_init without a prior mmc_setup reads the file named
 * by MMC_LOCAL_CONFIG_PATH when it is set (an error in it fails mmc_init),
 * else uses the loopback defaults of mmc_local_service_config_init.
 *
 * Thread rules: setup/init/uninit are process-wide and serialised with each
 * other; the logger calls are safe from any thread.
 */
#ifndef MMC_H
#define MMC_H

#include <stdbool.h>
#include <stdint.h>

#include "memcache/mmc_def.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef mmc_local_service_config_t mmc_local_config;

typedef struct mmc_init_config {
    uint32_t device_id; /* GPU ordinal for HBM (unused without CUDA) */
    bool init_bm;       /* true: the LocalService calls smem_bm_init itself; false: the application already
                           did (same config store URL and world size), and keeps the BM init/uninit */
} mmc_init_config;

/* Copies config for the next mmc_init (checked: MMC_INVALID_PARAM naming the key). */
MMC_API int32_t mmc_setup(const mmc_local_config *config);
/* Starts this process's LocalService and binds the client to it.
 * MMC_OK also when already initialised (nothing changes). */
MMC_API int32_t mmc_init(const mmc_init_config *config);
/* Client uninit, then LocalService stop. Safe to call when not initialised. */
MMC_API void mmc_uninit(void);

/* Route memcache and memfabric log lines to fn(level 0..3, msg); NULL is MMC_INVALID_PARAM. */
MMC_API int32_t mmc_set_extern_logger(void (*fn)(int level, const char *msg));
/* 0 debug .. 3 error, 4 off. */
MMC_API int32_t mmc_set_log_level(int level);

#ifdef __cplusplus
}
#endif

#endif
