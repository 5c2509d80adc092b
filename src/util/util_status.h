/*
 * Status codes of libsmem and the thread-local "last error" message.
 *
 * One status space: 0 is success, negative values are errors. The seed's
 * values (-1, -2000..-2010) are kept; ours live below -2100. Every public
 * call that fails sets the calling thread's last-error message with the cause
 * and the numbers involved (util_err_set); smem_get_last_err_msg reads it.
 * Thread rules: all functions are safe from any thread; the message buffer is
 * per thread.
 */
#ifndef UTIL_STATUS_H
#define UTIL_STATUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "smem/host/smem_status.h"

/* The library's names for the codes of include/smem/host/smem_status.h
 * (SMEM_<NAME> here, SMEM_ERR_<NAME> in the public API; same values). */
#define UTIL_STATUS_ENUM_(name, value, msg) SMEM_##name = (value),
enum { SMEM_OK = 0, SMEM_STATUS_LIST(UTIL_STATUS_ENUM_) };
#undef UTIL_STATUS_ENUM_

/* Name and short description of a status code; never NULL. */
const char *util_strerror(int32_t status);
/* SMEM_OK or a code of the list: what a peer's status field may carry. */
bool util_status_known(int32_t status);

/*
 * Set this thread's last-error message (printf format) and return status, so
 * callers can write `return util_err_set(SMEM_INVALID_PARAM, "...", ...)`.
 * The message is also logged at debug level.
 */
int32_t util_err_set(int32_t status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int32_t util_err_setv(int32_t status, const char *fmt, va_list ap);
/* Put context in front of this thread's current message ("<context>: <cause>")
 * and return status: the one way to add context, since passing util_err_get()
 * to util_err_set would format the buffer into itself. */
int32_t util_err_wrap(int32_t status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* This thread's last message ("" when none); valid until the next set/clear. */
const char *util_err_get(void);
/* Returns the message and clears it (the returned pointer stays valid until the next set). */
const char *util_err_get_and_clear(void);
void util_err_clear(void);

#endif
