/* mmc_meta_service_config_t: defaults, `key = value` files, consistency checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/common/mmc_err.h"
#include "memcache/mmc_service.h"
#include "util/util_conf.h"
#include "util/util_status.h"

void mmc_meta_service_config_init(mmc_meta_service_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->discoveryURL, sizeof(cfg->discoveryURL), "tcp://127.0.0.1:5000");
    snprintf(cfg->configStoreURL, sizeof(cfg->configStoreURL), "tcp://127.0.0.1:6000");
    snprintf(cfg->httpURL, sizeof(cfg->httpURL), "http://127.0.0.1:8000");
    cfg->logLevel = 1;
    cfg->evictThresholdHigh = 90;
    cfg->evictThresholdLow = 80;
    cfg->leaseTtlMs = 10000;
    cfg->putTimeoutMs = 30000;
    cfg->heartbeatTimeoutMs = 5000;
}

/* util_conf writes int64_t/uint64_t/bool/char[]: a mirror of the public struct in those types. */
typedef struct meta_conf_file {
    char meta_url[MMC_URL_SIZE], store_url[MMC_URL_SIZE], metrics_url[MMC_URL_SIZE];
    bool ha;
    char log_level[16];
    char log_path[MMC_PATH_SIZE];
    int64_t high, low, lease_ms, put_ms, hb_ms;
    mmc_conf_tls_t tls, store_tls;
} meta_conf_file_t;

#define F(m) offsetof(meta_conf_file_t, m)
#define STR(k, m) {k, UTIL_CONF_STR, F(m), sizeof(((meta_conf_file_t *)0)->m), 0, 0}
#define TLS(prefix, m) MMC_CONF_TLS(meta_conf_file_t, prefix, m)

static const util_conf_spec_t meta_conf_specs[] = {
    STR("ock.mmc.meta_service_url", meta_url),
    STR("ock.mmc.meta_service.config_store_url", store_url),
    STR("ock.mmc.meta_service.metrics_url", metrics_url),
    {"ock.mmc.meta.ha.enable", UTIL_CONF_BOOL, F(ha), 0, 0, 0},
    STR("ock.mmc.log_level", log_level),
    STR("ock.mmc.log_path", log_path),
    {"ock.mmc.evict_threshold_high", UTIL_CONF_INT, F(high), 0, 1, 100},
    {"ock.mmc.evict_threshold_low", UTIL_CONF_INT, F(low), 0, 0, 99},
    {"ock.mmc.meta.lease_ttl_ms", UTIL_CONF_INT, F(lease_ms), 0, 1, 3600000},
    {"ock.mmc.meta.put_timeout_ms", UTIL_CONF_INT, F(put_ms), 0, 100, 3600000},
    {"ock.mmc.meta.heartbeat_timeout_ms", UTIL_CONF_INT, F(hb_ms), 0, 100, 3600000},
    TLS("ock.mmc.tls", tls),
    TLS("ock.mmc.config_store.tls", store_tls),
};

int32_t mmc_meta_service_config_check(const mmc_meta_service_config_t *cfg)
{
    if (cfg == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc meta config: NULL");
    if (cfg->haEnable)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.meta.ha.enable = true: MetaService HA (leader election and "
                                               "metadata replication) is not available in this build; set it to false");
    if (cfg->evictThresholdLow >= cfg->evictThresholdHigh || cfg->evictThresholdHigh > 100)
        return util_err_set(MMC_INVALID_PARAM,
                            "ock.mmc.evict_threshold_low (%u) must be below ock.mmc.evict_threshold_high (%u) <= 100",
                            cfg->evictThresholdLow, cfg->evictThresholdHigh);
    if (cfg->leaseTtlMs == 0 || cfg->putTimeoutMs == 0 || cfg->heartbeatTimeoutMs == 0)
        return util_err_set(MMC_INVALID_PARAM, "mmc meta config: lease ttl, put timeout and heartbeat timeout must be > 0");
    if (cfg->logLevel < 0 || cfg->logLevel > 4)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.log_level %d out of range 0..4", cfg->logLevel);
    if (cfg->discoveryURL[0] == '\0') return util_err_set(MMC_INVALID_PARAM, "ock.mmc.meta_service_url is empty");
    return MMC_OK;
}

int32_t mmc_meta_service_config_load(const char *path, mmc_meta_service_config_t *cfg)
{
    meta_conf_file_t f;
    if (path == NULL || cfg == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_service_config_load: NULL argument");
    memset(&f, 0, sizeof(f));
    memcpy(f.meta_url, cfg->discoveryURL, sizeof(f.meta_url));
    memcpy(f.store_url, cfg->configStoreURL, sizeof(f.store_url));
    memcpy(f.metrics_url, cfg->httpURL, sizeof(f.metrics_url));
    f.ha = cfg->haEnable;
    snprintf(f.log_level, sizeof(f.log_level), "%d", cfg->logLevel);
    memcpy(f.log_path, cfg->logPath, sizeof(f.log_path));
    f.high = cfg->evictThresholdHigh;
    f.low = cfg->evictThresholdLow;
    f.lease_ms = cfg->leaseTtlMs;
    f.put_ms = cfg->putTimeoutMs;
    f.hb_ms = cfg->heartbeatTimeoutMs;
    mmc_conf_tls_to_file(&cfg->accTlsConfig, &f.tls);
    mmc_conf_tls_to_file(&cfg->configStoreTlsConfig, &f.store_tls);

    int32_t rc = util_conf_load_file(path, meta_conf_specs, sizeof(meta_conf_specs) / sizeof(meta_conf_specs[0]), &f);
    char msg[512];
    if (rc != SMEM_OK) {
        snprintf(msg, sizeof(msg), "%s", util_err_get()); /* the message buffer cannot be its own source */
        return util_err_set(MMC_CONFIG, "%s", msg);
    }

    mmc_meta_service_config_t out = *cfg;
    memcpy(out.discoveryURL, f.meta_url, sizeof(out.discoveryURL));
    memcpy(out.configStoreURL, f.store_url, sizeof(out.configStoreURL));
    memcpy(out.httpURL, f.metrics_url, sizeof(out.httpURL));
    out.haEnable = f.ha;
    if (mmc_conf_parse_log_level(f.log_level, &out.logLevel) != MMC_OK)
        return util_err_set(MMC_CONFIG, "%s:%d: value '%s' of 'ock.mmc.log_level' is not debug, info, warn, error or 0..4",
                            path, mmc_conf_line_of(path, "ock.mmc.log_level"), f.log_level);
    memcpy(out.logPath, f.log_path, sizeof(out.logPath));
    out.evictThresholdHigh = (uint16_t)f.high;
    out.evictThresholdLow = (uint16_t)f.low;
    out.leaseTtlMs = (uint32_t)f.lease_ms;
    out.putTimeoutMs = (uint32_t)f.put_ms;
    out.heartbeatTimeoutMs = (uint32_t)f.hb_ms;
    mmc_conf_tls_from_file(&f.tls, &out.accTlsConfig);
    mmc_conf_tls_from_file(&f.store_tls, &out.configStoreTlsConfig);
    rc = mmc_meta_service_config_check(&out);
    if (rc != MMC_OK) {
        const char *key = out.haEnable ? "ock.mmc.meta.ha.enable" : "ock.mmc.evict_threshold_low";
        snprintf(msg, sizeof(msg), "%s", util_err_get());
        return util_err_set(MMC_CONFIG, "%s:%d: %s", path, mmc_conf_line_of(path, key), msg);
    }
    *cfg = out;
    return MMC_OK;
}
