/* Status code names and the thread-local last-error message. */
#include "util/util_status.h"

#include <stdio.h>
#include <string.h>

#include "util/util_log.h"

#define UTIL_ERR_MSG_MAX 1024

static __thread char util_err_msg[UTIL_ERR_MSG_MAX];
static __thread char util_err_taken[UTIL_ERR_MSG_MAX];

const char *util_strerror(int32_t status)
{
    switch (status) {
    case SMEM_OK: return "success";
    case SMEM_ERROR: return "error";
    case SMEM_INVALID_PARAM: return "invalid parameter";
    case SMEM_MALLOC_FAILED: return "memory allocation failed";
    case SMEM_NEW_OBJECT_FAILED: return "object creation failed";
    case SMEM_NOT_STARTED: return "not started";
    case SMEM_TIMEOUT: return "timed out";
    case SMEM_REPEAT_CALL: return "repeated call";
    case SMEM_DUPLICATED_OBJECT: return "duplicated object";
    case SMEM_OBJECT_NOT_EXISTS: return "object does not exist";
    case SMEM_NOT_INITIALIZED: return "not initialized";
    case SMEM_RESOURCE_IN_USE: return "resource in use";
    case SMEM_RECONNECT: return "connection re-established, state lost";
    case SMEM_ADDR_CONFLICT: return "address range conflict";
    case SMEM_PEER_GONE: return "peer gone";
    case SMEM_OUT_OF_RANGE: return "out of range";
    case SMEM_UNSUPPORTED: return "unsupported";
    case SMEM_PROTOCOL: return "protocol error";
    case SMEM_CONN_FAILED: return "connection failed";
    case SMEM_TLS: return "TLS error";
    case SMEM_CAS_MISMATCH: return "compare-and-swap mismatch";
    case SMEM_TOO_LARGE: return "too large";
    case SMEM_FULL: return "no free slot";
    case SMEM_EXITING: return "exiting";
    case SMEM_CONFIG: return "configuration error";
    case SMEM_IO: return "I/O error";
    default: return "unknown status";
    }
}

int32_t util_err_setv(int32_t status, const char *fmt, va_list ap)
{
    vsnprintf(util_err_msg, sizeof(util_err_msg), fmt, ap);
    LOG_DEBUG("status %d (%s): %s", status, util_strerror(status), util_err_msg);
    return status;
}

int32_t util_err_set(int32_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_err_setv(status, fmt, ap);
    va_end(ap);
    return status;
}

const char *util_err_get(void) { return util_err_msg; }

const char *util_err_get_and_clear(void)
{
    memcpy(util_err_taken, util_err_msg, sizeof(util_err_taken));
    util_err_msg[0] = '\0';
    return util_err_taken;
}

void util_err_clear(void) { util_err_msg[0] = '\0'; }
