/* The SDK entry points (mmc.h): config discovery, LocalService + client in one call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/client/client_int.h"
#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "memcache/mmc_service.h"
#include "util/util_log.h"
#include "util/util_status.h"

static struct {
    pthread_mutex_t lock; /* serialises setup/init/uninit; taken before the client's and the LocalService's */
    bool have_setup;
    mmc_local_service_config_t setup;
    ls_svc_t *ls;
} g_sdk = {.lock = PTHREAD_MUTEX_INITIALIZER};

int32_t mmc_setup_local_service(const mmc_local_service_config_t *config)
{
    if (config == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_setup: config is NULL");
    int32_t rc = mmc_local_service_config_check(config);
    if (rc != MMC_OK) return rc;
    pthread_mutex_lock(&g_sdk.lock);
    g_sdk.setup = *config;
    g_sdk.have_setup = true;
    pthread_mutex_unlock(&g_sdk.lock);
    return MMC_OK;
}

int32_t mmc_init(const mmc_init_config *config)
{
    if (config == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_init: config is NULL");
    pthread_mutex_lock(&g_sdk.lock);
    int32_t rc = MMC_OK;
    if (g_sdk.ls != NULL) goto unlock;
    mmc_local_service_config_t cfg;
    if (g_sdk.have_setup) {
        cfg = g_sdk.setup;
    } else {
        mmc_local_service_config_init(&cfg);
        const char *path = getenv("MMC_LOCAL_CONFIG_PATH");
        if (path != NULL && path[0] != '\0') {
            rc = mmc_local_service_config_load(path, &cfg);
            if (rc != MMC_OK) goto unlock;
        }
    }
    cfg.deviceId = (int32_t)config->device_id;
    rc = ls_start(&cfg, config->init_bm, (uint16_t)config->device_id, &g_sdk.ls);
    if (rc != MMC_OK) goto unlock;
    rc = mmcc_init(NULL);
    if (rc != MMC_OK) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s", util_err_get());
        mmcs_local_service_stop(g_sdk.ls);
        g_sdk.ls = NULL;
        util_err_set(rc, "mmc_init: %s", msg);
    }
unlock:
    pthread_mutex_unlock(&g_sdk.lock);
    return rc;
}

void mmc_uninit(void)
{
    pthread_mutex_lock(&g_sdk.lock);
    mmcc_uninit();
    mmcs_local_service_stop(g_sdk.ls);
    g_sdk.ls = NULL;
    pthread_mutex_unlock(&g_sdk.lock);
}

int32_t mmc_set_extern_logger(void (*fn)(int level, const char *msg))
{
    if (fn == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_set_extern_logger: fn is NULL");
    util_log_sink_set(fn);
    smem_set_extern_logger(fn); /* memfabric's lines too (libsmem.so keeps its own logger) */
    return MMC_OK;
}

int32_t mmc_set_log_level(int level)
{
    if (level < 0 || level > 4) return util_err_set(MMC_INVALID_PARAM, "mmc_set_log_level: level %d outside 0..4", level);
    util_log_level_set(level);
    smem_set_log_level(level);
    return MMC_OK;
}
