/* Status code names and the thread-local last-error message. */
#include "util/util_status.h"
#include "util/util_tsan.h"

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
#define UTIL_STATUS_CASE_(name, value, msg) \
    case SMEM_##name: return msg;
        SMEM_STATUS_LIST(UTIL_STATUS_CASE_)
#undef UTIL_STATUS_CASE_
    default: return "unknown status";
    }
}

bool util_status_known(int32_t status)
{
    switch (status) {
    case SMEM_OK:
#define UTIL_STATUS_KNOWN_(name, value, msg) case SMEM_##name:
        SMEM_STATUS_LIST(UTIL_STATUS_KNOWN_)
#undef UTIL_STATUS_KNOWN_
        return true;
    default: return false;
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

int32_t util_err_wrap(int32_t status, const char *fmt, ...)
{
    char cause[UTIL_ERR_MSG_MAX], ctx[UTIL_ERR_MSG_MAX];
    snprintf(cause, sizeof(cause), "%s", util_err_msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    if (cause[0] == '\0') return util_err_set(status, "%s", ctx);
    return util_err_set(status, "%s: %s", ctx, cause);
}

const char *util_err_get(void) { return util_err_msg; }

const char *util_err_get_and_clear(void)
{
    memcpy(util_err_taken, util_err_msg, sizeof(util_err_taken));
    util_err_msg[0] = '\0';
    return util_err_taken;
}

void util_err_clear(void) { util_err_msg[0] = '\0'; }

#ifdef UTIL_TSAN
char util_tsan_remote_sync; /* util_tsan.h */
#endif
