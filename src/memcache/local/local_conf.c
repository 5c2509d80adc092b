/* mmc_local_service_config_t: defaults, checks and files from its table (mmc_conf_table.c). */
#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

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
    return p <= MMC_PROTO_DEVICE_SDMA ? mmc_conf_proto_names[p] : "?";
}

/* The seed's string (dataOpType) wins over our enum when set; UINT32_MAX if it names nothing. */
uint32_t ls_protocol_of(const mmc_local_service_config_t *c)
{
    if (c->dataOpType[0] == '\0') return c->protocol;
    for (uint32_t i = 0; mmc_conf_proto_names[i] != NULL; i++)
        if (strcasecmp(c->dataOpType, mmc_conf_proto_names[i]) == 0) return i;
    return UINT32_MAX;
}

int32_t ls_conf_runnable(const mmc_local_service_config_t *c)
{
    uint32_t p = ls_protocol_of(c);
    const char *name = ls_protocol_name(p);
    switch (p) {
    case MMC_PROTO_HOST_SHM:
    case MMC_PROTO_HOST_TCP: break;
    case MMC_PROTO_HOST_UCX:
    case MMC_PROTO_HOST_RDMA:
        return util_err_set(MMC_UNSUPPORTED, "ock.mmc.local_service.protocol = %s: RDMA between hosts runs over the "
                                             "ucx transport, which this build does not have; use host_tcp", name);
    case MMC_PROTO_DEVICE_UCX:
    case MMC_PROTO_DEVICE_RDMA:
        return util_err_set(MMC_UNSUPPORTED, "ock.mmc.local_service.protocol = %s: device memory over RDMA needs the "
                                             "ucx transport and a GPU/NPU, which this build does not have; use "
                                             "host_tcp", name);
    case MMC_PROTO_HOST_URMA:
        return util_err_set(MMC_UNSUPPORTED, "ock.mmc.local_service.protocol = host_urma: UB memory (URMA) needs "
                                             "Huawei UB hardware; use host_tcp");
    case MMC_PROTO_DEVICE_SDMA:
        return util_err_set(MMC_UNSUPPORTED, "ock.mmc.local_service.protocol = device_sdma: SDMA is an Ascend NPU "
                                             "engine; use host_tcp (same-host copies are memcpy here)");
    default: return util_err_set(MMC_INVALID_PARAM, "protocol %u unknown", p);
    }
    return MMC_OK;
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
    if (memchr(c->dataOpType, '\0', sizeof(c->dataOpType)) == NULL || ls_protocol_of(c) == UINT32_MAX)
        return util_err_set(MMC_INVALID_PARAM, "dataOpType '%.*s' is none of %s", (int)sizeof(c->dataOpType) - 1,
                            c->dataOpType, "host_shm, host_tcp, host_ucx, device_ucx, host_rdma, host_urma, "
                                           "device_rdma, device_sdma");
    if (strcmp(c->memoryPoolMode, "standard") != 0)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.local_service.memory_pool_mode = %s: only 'standard' (one "
                                               "segment per LocalService) exists in this build", c->memoryPoolMode);
    if (c->ubsIoEnable)
        return util_err_set(MMC_INVALID_PARAM, "ock.mmc.ubs_io.enable = true: the UBS-IO SSD tier (Huawei's UBS IO "
                                               "library) is not available in this build; set it to false");
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
