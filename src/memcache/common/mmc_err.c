/* mmc_strerror, the last-error accessor and the smem → MMC status mapping. */
#include "memcache/common/mmc_err.h"
#include "util/util_status.h"

const char *mmc_strerror(int32_t status)
{
    switch (status) {
#define MMC_STATUS_CASE_(name, value, msg) \
    case MMC_##name: return msg;
        MMC_STATUS_LIST(MMC_STATUS_CASE_)
#undef MMC_STATUS_CASE_
    default: return util_strerror(status);
    }
}

const char *mmc_get_last_err_msg(void) { return util_err_get(); }

int32_t mmc_status_from_smem(int32_t status)
{
    if (status == 0 || status == SMEM_ERROR || status <= -3000) return status;
    switch (status) {
    case SMEM_INVALID_PARAM:
    case SMEM_TOO_LARGE:
    case SMEM_OUT_OF_RANGE: return MMC_INVALID_PARAM;
    case SMEM_MALLOC_FAILED:
    case SMEM_NEW_OBJECT_FAILED: return MMC_MALLOC_FAILED;
    case SMEM_TIMEOUT: return MMC_TIMEOUT;
    case SMEM_NOT_STARTED:
    case SMEM_CONN_FAILED:
    case SMEM_RECONNECT:
    case SMEM_PEER_GONE:
    case SMEM_TLS: return MMC_NOT_CONNECTED;
    case SMEM_NOT_INITIALIZED: return MMC_NOT_INITIALIZED;
    case SMEM_DUPLICATED_OBJECT: return MMC_DUPLICATED_OBJECT;
    case SMEM_OBJECT_NOT_EXISTS: return MMC_KEY_NOT_FOUND;
    case SMEM_PROTOCOL: return MMC_PROTOCOL;
    case SMEM_CONFIG:
    case SMEM_INSECURE: return MMC_CONFIG;
    case SMEM_UNSUPPORTED: return MMC_UNSUPPORTED;
    case SMEM_NOT_PERMITTED: return MMC_NOT_PERMITTED;
    default: return MMC_ERROR;
    }
}
