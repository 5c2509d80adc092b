/* mmc_local_service_config_t: defaults, `key = value` files, consistency checks. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/local/local_int.h"
#include "memcache/mmc_service.h"
#include "util/util_conf.h"
#include "util/util_status.h"

#define LS_SIZE_MAX (1ll << 40) /* 1 TiB: the BM per-rank stride limit */
#define LS_HCOM_URL_MAX 63u     /* smem_bm_config_t.hcomUrl[64] */

void mmc_local_service_config_init(mmc_local_service_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->discoveryURL, sizeof(cfg->discoveryURL), "tcp://127.0.0.1:5000");
    snprintf(cfg->configStoreURL, sizeof(cfg->configStoreURL), "tcp://127.0.0.1:6000");
    cfg->worldSize = 256;
    cfg->protocol = MMC_PROTO_HOST_TCP;
    cfg->localDRAMSize = 64ull << 20;
    cfg->localMaxDRAMSize = 1ull << 30;
    cfg->logLevel = 3;
    cfg->retryMilliseconds = 100;
    cfg->timeoutSeconds = 10;
    cfg->readThreadPoolSize = 1;
    cfg->writeThreadPoolSize = 1;
    cfg->aggregateIO = true;
    cfg->aggregateNum = 122;
}

static const char *const ls_proto_names[] = {"host_shm", "host_tcp", "host_ucx", "device_ucx"};

const char *ls_protocol_name(uint32_t p) { return p < 4 ? ls_proto_names[p] : "?"; }

int32_t mmc_local_service_config_check(const mmc_local_service_config_t *c)
{
    if (c == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc local config: NULL");
    if (memchr(c->discoveryURL, '\0', sizeof(c->discoveryURL)) == NULL || c->discoveryURL[0] == '\0')
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.meta_service_url is empty or not NUL-terminated");
    if (memchr(c->configStoreURL, '\0', sizeof(c->configStoreURL)) == NULL || c->configStoreURL[0] == '\0')
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.config_store_url is empty or not NUL-terminated "
                                               "(the config store mmc-meta serves, e.g. tcp://127.0.0.1:6000)");
    if (strnlen(c->hcomUrl, sizeof(c->hcomUrl)) > LS_HCOM_URL_MAX)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.hcom_url is longer than %u bytes",
                            LS_HCOM_URL_MAX);
    if (c->worldSize == 0 || c->worldSize > 1024)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.world_size %u outside 1..1024", c->worldSize);
    if (c->protocol > MMC_PROTO_DEVICE_UCX)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.protocol %u unknown (host_shm, host_tcp, "
                                               "host_ucx, device_ucx)",
                            c->protocol);
    if (c->localMaxDRAMSize == 0 || c->localMaxDRAMSize > (uint64_t)LS_SIZE_MAX)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.max.dram.size %" PRIu64 " outside 1..%lld bytes",
                            c->localMaxDRAMSize, LS_SIZE_MAX);
    if (c->localDRAMSize > c->localMaxDRAMSize)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.dram.size %" PRIu64
                                               " exceeds ock.mmc.local_service.max.dram.size %" PRIu64,
                            c->localDRAMSize, c->localMaxDRAMSize);
    if (c->localHBMSize > c->localMaxHBMSize)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.hbm.size %" PRIu64
                                               " exceeds ock.mmc.local_service.max.hbm.size %" PRIu64,
                            c->localHBMSize, c->localMaxHBMSize);
    if (c->timeoutSeconds == 0 || c->timeoutSeconds > 3600)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.client.timeout.seconds %u outside 1..3600", c->timeoutSeconds);
    if (c->retryMilliseconds == 0 || c->retryMilliseconds > 60000)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.client.retry_milliseconds %u outside 1..60000",
                            c->retryMilliseconds);
    if (c->readThreadPoolSize == 0 || c->readThreadPoolSize > LS_POOL_MAX || c->writeThreadPoolSize == 0 ||
        c->writeThreadPoolSize > LS_POOL_MAX)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.client.read_thread_pool.size %u / write_thread_pool.size %u "
                                               "outside 1..%u",
                            c->readThreadPoolSize, c->writeThreadPoolSize, LS_POOL_MAX);
    if (c->aggregateNum == 0 || c->aggregateNum > MMC_BATCH_MAX)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.client.aggregate.num %u outside 1..%u", c->aggregateNum,
                            MMC_BATCH_MAX);
    if (c->logLevel < 0 || c->logLevel > 4)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.log_level %d outside 0..4", c->logLevel);
    return MMC_OK;
}

/* util_conf writes int64_t/uint64_t/bool/char[]: a mirror of the public struct in those types. */
typedef struct ls_conf_file {
    char meta_url[MMC_URL_SIZE], store_url[MMC_URL_SIZE], hcom_url[MMC_URL_SIZE];
    int64_t world;
    char protocol[16];
    uint64_t dram, hbm, max_dram, max_hbm;
    int64_t retry_ms, timeout_s, read_pool, write_pool, agg_num;
    bool agg_io;
    char log_level[16];
    char log_path[MMC_PATH_SIZE];
    mmc_conf_tls_t tls, store_tls, hcom_tls;
} ls_conf_file_t;

#define F(m) offsetof(ls_conf_file_t, m)
#define STR(k, m) {k, UTIL_CONF_STR, F(m), sizeof(((ls_conf_file_t *)0)->m), 0, 0}
#define SIZE(k, m) {k, UTIL_CONF_SIZE, F(m), 0, 0, LS_SIZE_MAX}
#define TLS(prefix, m) MMC_CONF_TLS(ls_conf_file_t, prefix, m)

static const util_conf_spec_t ls_conf_specs[] = {
    STR("ock.mmc.meta_service_url", meta_url),
    STR("ock.mmc.local_service.config_store_url", store_url),
    {"ock.mmc.local_service.hcom_url", UTIL_CONF_STR, F(hcom_url), LS_HCOM_URL_MAX + 1, 0, 0},
    {"ock.mmc.local_service.world_size", UTIL_CONF_INT, F(world), 0, 1, 1024},
    STR("ock.mmc.local_service.protocol", protocol),
    SIZE("ock.mmc.local_service.dram.size", dram),
    SIZE("ock.mmc.local_service.hbm.size", hbm),
    SIZE("ock.mmc.local_service.max.dram.size", max_dram),
    SIZE("ock.mmc.local_service.max.hbm.size", max_hbm),
    {"ock.mmc.client.retry_milliseconds", UTIL_CONF_INT, F(retry_ms), 0, 1, 60000},
    {"ock.mmc.client.timeout.seconds", UTIL_CONF_INT, F(timeout_s), 0, 1, 3600},
    {"ock.mmc.client.read_thread_pool.size", UTIL_CONF_INT, F(read_pool), 0, 1, LS_POOL_MAX},
    {"ock.mmc.client.write_thread_pool.size", UTIL_CONF_INT, F(write_pool), 0, 1, LS_POOL_MAX},
    {"ock.mmc.client.aggregate.io", UTIL_CONF_BOOL, F(agg_io), 0, 0, 0},
    {"ock.mmc.client.aggregate.num", UTIL_CONF_INT, F(agg_num), 0, 1, MMC_BATCH_MAX},
    STR("ock.mmc.log_level", log_level),
    STR("ock.mmc.log_path", log_path),
    TLS("ock.mmc.tls", tls),
    TLS("ock.mmc.config_store.tls", store_tls),
    TLS("ock.mmc.local_service.hcom.tls", hcom_tls),
};

/* The config key a check message starts with, to name its line. */
static const char *check_key_of(const char *msg)
{
    static const char *const keys[] = {
        "ock.mmc.local_service.max.dram.size", "ock.mmc.local_service.dram.size", "ock.mmc.local_service.hbm.size",
        "ock.mmc.local_service.hcom_url",      "ock.mmc.meta_service_url",        "ock.mmc.local_service.config_store_url",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strncmp(msg, keys[i], strlen(keys[i])) == 0) return keys[i];
    return NULL;
}

int32_t mmc_local_service_config_load(const char *path, mmc_local_service_config_t *cfg)
{
    ls_conf_file_t f;
    char msg[600];
    if (path == NULL || cfg == NULL)
        return util_err_set(MMC_INVALID_PARAM, "mmc_local_service_config_load: NULL argument");
    memset(&f, 0, sizeof(f));
    memcpy(f.meta_url, cfg->discoveryURL, sizeof(f.meta_url));
    memcpy(f.store_url, cfg->configStoreURL, sizeof(f.store_url));
    memcpy(f.hcom_url, cfg->hcomUrl, sizeof(f.hcom_url));
    f.world = cfg->worldSize;
    snprintf(f.protocol, sizeof(f.protocol), "%s", ls_protocol_name(cfg->protocol));
    f.dram = cfg->localDRAMSize;
    f.hbm = cfg->localHBMSize;
    f.max_dram = cfg->localMaxDRAMSize;
    f.max_hbm = cfg->localMaxHBMSize;
    f.retry_ms = cfg->retryMilliseconds;
    f.timeout_s = cfg->timeoutSeconds;
    f.read_pool = cfg->readThreadPoolSize;
    f.write_pool = cfg->writeThreadPoolSize;
    f.agg_io = cfg->aggregateIO;
    f.agg_num = cfg->aggregateNum;
    snprintf(f.log_level, sizeof(f.log_level), "%d", cfg->logLevel);
    memcpy(f.log_path, cfg->logPath, sizeof(f.log_path));
    mmc_conf_tls_to_file(&cfg->accTlsConfig, &f.tls);
    mmc_conf_tls_to_file(&cfg->configStoreTlsConfig, &f.store_tls);
    mmc_conf_tls_to_file(&cfg->hcomTlsConfig, &f.hcom_tls);

    int32_t rc = util_conf_load_file(path, ls_conf_specs, sizeof(ls_conf_specs) / sizeof(ls_conf_specs[0]), &f);
    if (rc != SMEM_OK) {
        snprintf(msg, sizeof(msg), "%s", util_err_get()); /* the message buffer cannot be its own source */
        return util_err_set(MMC_CONFIG, "%s", msg);
    }
    mmc_local_service_config_t out = *cfg;
    memcpy(out.discoveryURL, f.meta_url, sizeof(out.discoveryURL));
    memcpy(out.configStoreURL, f.store_url, sizeof(out.configStoreURL));
    memcpy(out.hcomUrl, f.hcom_url, sizeof(out.hcomUrl));
    out.worldSize = (uint32_t)f.world;
    uint32_t p;
    for (p = 0; p < 4; p++)
        if (strcasecmp(f.protocol, ls_proto_names[p]) == 0) break;
    if (p == 4)
        return util_err_set(MMC_CONFIG, "%s:%d: value '%s' of 'ock.mmc.local_service.protocol' is not host_shm, "
                                        "host_tcp, host_ucx or device_ucx",
                            path, mmc_conf_line_of(path, "ock.mmc.local_service.protocol"), f.protocol);
    out.protocol = p;
    out.localDRAMSize = f.dram;
    out.localHBMSize = f.hbm;
    out.localMaxDRAMSize = f.max_dram;
    out.localMaxHBMSize = f.max_hbm;
    out.retryMilliseconds = (uint32_t)f.retry_ms;
    out.timeoutSeconds = (uint32_t)f.timeout_s;
    out.readThreadPoolSize = (uint32_t)f.read_pool;
    out.writeThreadPoolSize = (uint32_t)f.write_pool;
    out.aggregateIO = f.agg_io;
    out.aggregateNum = (uint32_t)f.agg_num;
    if (mmc_conf_parse_log_level(f.log_level, &out.logLevel) != MMC_OK)
        return util_err_set(MMC_CONFIG, "%s:%d: value '%s' of 'ock.mmc.log_level' is not debug, info, warn, error, "
                                        "off or 0..4",
                            path, mmc_conf_line_of(path, "ock.mmc.log_level"), f.log_level);
    memcpy(out.logPath, f.log_path, sizeof(out.logPath));
    mmc_conf_tls_from_file(&f.tls, &out.accTlsConfig);
    mmc_conf_tls_from_file(&f.store_tls, &out.configStoreTlsConfig);
    mmc_conf_tls_from_file(&f.hcom_tls, &out.hcomTlsConfig);
    rc = mmc_local_service_config_check(&out);
    if (rc != MMC_OK) {
        snprintf(msg, sizeof(msg), "%s", util_err_get());
        const char *key = check_key_of(msg);
        return util_err_set(MMC_CONFIG, "%s:%d: %s", path, key ? mmc_conf_line_of(path, key) : 0, msg);
    }
    *cfg = out;
    return MMC_OK;
}
