/* mmc_strerror, the last-error accessor and the smem → MMC status mapping. */
#include "memcache/common/mmc_err.h"
#include "util/util_status.h"

const char *mmc_strerror(int32_t status)
{
    switch (status) {
    case MMC_OK: return "success";
    case MMC_ERROR: return "error";
    case MMC_INVALID_PARAM: return "invalid parameter";
    case MMC_MALLOC_FAILED: return "memory allocation failed";
    case MMC_TIMEOUT: return "timed out";
    case MMC_DUPLICATED_OBJECT: return "object already exists";
    case MMC_OBJECT_NOT_READY: return "object exists but is not readable yet";
    case MMC_NOT_INITIALIZED: return "not initialized";
    case MMC_EXCEEDS_CAPACITY: return "exceeds capacity";
    case MMC_LINK_NOT_FOUND: return "link (LocalService, segment or lease) not found";
    case MMC_NOT_ENOUGH_MEMORY: return "not enough memory in the pool";
    case MMC_NOT_CONNECTED: return "not connected to the MetaService";
    case MMC_UNMATCHED_STATE: return "object state does not allow this";
    case MMC_KEY_NOT_FOUND: return "key not found";
    case MMC_LEASE_NOT_EXPIRED: return "lease not expired";
    case MMC_PROTOCOL: return "protocol error";
    case MMC_CONFIG: return "configuration error";
    case MMC_UNSUPPORTED: return "unsupported";
    case MMC_BUFFER_TOO_SMALL: return "buffer smaller than the object";
    case MMC_LEASE_LOST: return "read lease lost before the copy was proven; the bytes may be another key's";
    case MMC_LEASE_NOT_OWNER: return "lease belongs to another client";
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
    case SMEM_CONFIG: return MMC_CONFIG;
    case SMEM_UNSUPPORTED: return MMC_UNSUPPORTED;
    default: return MMC_ERROR;
    }
}
