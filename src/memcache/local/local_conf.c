/* mmc_local_service_config_t: defaults, checks and files from its table (mmc_conf_table.c). */
#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/local/local_int.h"
#include "memcache/mmc_service.h"
#include "util/util_status.h"

void mmc_local_service_config_init(mmc_local_service_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    int32_t rc = util_conf_defaults(mmc_local_conf_table, mmc_local_conf_rows, cfg);
    assert(rc == SMEM_OK); /* the table's defaults parse (unit.conf_table) */
    (void)rc;
}

const char *ls_protocol_name(uint32_t p)
{
    return p <= MMC_PROTO_DEVICE_UCX ? mmc_conf_proto_names[p] : "?";
}

int32_t mmc_local_service_config_check(const mmc_local_service_config_t *c)
{
    if (c == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc local config: NULL");
    int32_t rc = util_conf_check(mmc_local_conf_table, mmc_local_conf_rows, c, MMC_INVALID_PARAM);
    if (rc != MMC_OK) return rc;
    /* Cross-field checks; each message starts with the key whose line a file load names. */
    if (c->localDRAMSize > c->localMaxDRAMSize)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.dram.size %" PRIu64
                                               " exceeds ock.mmc.local_service.max.dram.size %" PRIu64,
                            c->localDRAMSize, c->localMaxDRAMSize);
    if (c->localHBMSize > c->localMaxHBMSize)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.hbm.size %" PRIu64
                                               " exceeds ock.mmc.local_service.max.hbm.size %" PRIu64,
                            c->localHBMSize, c->localMaxHBMSize);
    return MMC_OK;
}

int32_t mmc_local_service_config_load(const char *path, mmc_local_service_config_t *cfg)
{
    if (path == NULL || cfg == NULL)
        return util_err_set(MMC_INVALID_PARAM, "mmc_local_service_config_load: NULL argument");
    mmc_local_service_config_t out = *cfg;
    util_conf_lines_t lines;
    int32_t rc = mmc_conf_read(path, mmc_local_conf_table, mmc_local_conf_rows, &out, &lines);
    if (rc == MMC_OK)
        rc = mmc_conf_checked(path, mmc_local_conf_table, mmc_local_conf_rows, &lines,
                              mmc_local_service_config_check(&out));
    if (rc == MMC_OK) *cfg = out;
    return rc;
}
