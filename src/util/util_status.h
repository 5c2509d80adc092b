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
#include <stdint.h>

enum {
    SMEM_OK = 0,
    SMEM_ERROR = -1,
    SMEM_INVALID_PARAM = -2000,
    SMEM_MALLOC_FAILED = -2001,
    SMEM_NEW_OBJECT_FAILED = -2002,
    SMEM_NOT_STARTED = -2003,
    SMEM_TIMEOUT = -2004,
    SMEM_REPEAT_CALL = -2005,
    SMEM_DUPLICATED_OBJECT = -2006,
    SMEM_OBJECT_NOT_EXISTS = -2007,
    SMEM_NOT_INITIALIZED = -2008,
    SMEM_RESOURCE_IN_USE = -2009,
    SMEM_RECONNECT = -2010,
    /* ours */
    SMEM_ADDR_CONFLICT = -2101,  /* a virtual range could not be reserved */
    SMEM_PEER_GONE = -2102,      /* the peer left, died or closed the link */
    SMEM_OUT_OF_RANGE = -2103,   /* address/offset/length outside what is backed */
    SMEM_UNSUPPORTED = -2104,    /* operation or option not available here */
    SMEM_PROTOCOL = -2105,       /* malformed or unexpected bytes from a peer */
    SMEM_CONN_FAILED = -2106,    /* could not connect, or connection lost */
    SMEM_TLS = -2107,            /* TLS setup or handshake failure */
    SMEM_CAS_MISMATCH = -2108,   /* compare-and-swap found another value */
    SMEM_TOO_LARGE = -2109,      /* message or value over a configured limit */
    SMEM_FULL = -2110,           /* no free slot (ranks, ids) */
    SMEM_EXITING = -2111,        /* shutting down / global exit in progress */
    SMEM_CONFIG = -2112,         /* bad configuration file or value */
    SMEM_IO = -2113,             /* system call failed (errno in message) */
};

/* Name and short description of a status code; never NULL. */
const char *util_strerror(int32_t status);

/*
 * Set this thread's last-error message (printf format) and return status, so
 * callers can write `return util_err_set(SMEM_INVALID_PARAM, "...", ...)`.
 * The message is also logged at debug level.
 */
int32_t util_err_set(int32_t status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int32_t util_err_setv(int32_t status, const char *fmt, va_list ap);
/* This thread's last message ("" when none); valid until the next set/clear. */
const char *util_err_get(void);
/* Returns the message and clears it (the returned pointer stays valid until the next set). */
const char *util_err_get_and_clear(void);
void util_err_clear(void);

#endif
