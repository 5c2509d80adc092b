/* mmc_meta_service_config_t: defaults, checks and files from its table (mmc_conf_table.c). */
#include <assert.h>
#include <string.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/common/mmc_err.h"
#include "memcache/mmc_service.h"
#include "util/util_status.h"

void mmc_meta_service_config_init(mmc_meta_service_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    int32_t rc = util_conf_defaults(mmc_meta_conf_table, mmc_meta_conf_rows, cfg);
    assert(rc == SMEM_OK); /* the table's defaults parse (unit.conf_table) */
    (void)rc;
}

int32_t mmc_meta_service_config_check(const mmc_meta_service_config_t *cfg)
{
    if (cfg == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc meta config: NULL");
    int32_t rc = util_conf_check(mmc_meta_conf_table, mmc_meta_conf_rows, cfg, MMC_INVALID_PARAM);
    if (rc != MMC_OK) return rc;
    /* Cross-field checks; each message starts with the key whose line a file load names. */
    if (cfg->haEnable)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.meta.ha.enable = true: MetaService HA (leader election and "
                                               "metadata replication) is not available in this build; set it to false");
    if (cfg->ubsIoEnable)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.ubs_io.enable = true: the UBS-IO SSD tier (Huawei's UBS IO "
                                               "library) is not available in this build; set it to false");
    if (cfg->evictThresholdLow >= cfg->evictThresholdHigh)
        return util_err_set(MMC_INVALID_PARAM,
                            "ock.mmc.evict_threshold_low (%u) must be below ock.mmc.evict_threshold_high (%u) <= 100",
                            cfg->evictThresholdLow, cfg->evictThresholdHigh);
    return MMC_OK;
}

int32_t mmc_meta_service_config_load(const char *path, mmc_meta_service_config_t *cfg)
{
    if (path == NULL || cfg == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_service_config_load: NULL argument");
    mmc_meta_service_config_t out = *cfg;
    util_conf_lines_t lines;
    int32_t rc = mmc_conf_read(path, mmc_meta_conf_table, mmc_meta_conf_rows, &out, &lines);
    if (rc == MMC_OK)
        rc = mmc_conf_checked(path, mmc_meta_conf_table, mmc_meta_conf_rows, &lines, mmc_meta_service_config_check(&out));
    if (rc == MMC_OK) *cfg = out;
    return rc;
}
