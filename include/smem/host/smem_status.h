/*
 * libsmem's status codes, listed once: X(NAME, value, description). 0 is
 * success, negative values are errors; the seed's values (-1,
 * -2000..-2010, -2012) are kept, ours live below -2100. The list generates the
 * public constants (SMEM_SUCCESS, SMEM_ERR_<NAME>), the library's own
 * names, smem_strerror's messages and the Python constants of
 * memfabric_hybrid; add a code here and every one of them has it.
 */
#ifndef SMEM_HOST_SMEM_STATUS_H
#define SMEM_HOST_SMEM_STATUS_H

#define SMEM_STATUS_LIST(X)                                                          \
    X(ERROR, -1, "error")                                                            \
    X(INVALID_PARAM, -2000, "invalid parameter")                                     \
    X(MALLOC_FAILED, -2001, "memory allocation failed")                              \
    X(NEW_OBJECT_FAILED, -2002, "object creation failed")                            \
    X(NOT_STARTED, -2003, "not started")                                             \
    X(TIMEOUT, -2004, "timed out")                                                   \
    X(REPEAT_CALL, -2005, "repeated call")                                           \
    X(DUPLICATED_OBJECT, -2006, "duplicated object")                                 \
    X(OBJECT_NOT_EXISTS, -2007, "object does not exist")                             \
    X(NOT_INITIALIZED, -2008, "not initialized")                                     \
    X(RESOURCE_IN_USE, -2009, "resource in use")                                     \
    X(RECONNECT, -2010, "connection re-established, state lost")                     \
    X(PARTIAL_FAILED, -2012, "some pieces of a batch failed")                        \
    /* ours */                                                                       \
    X(ADDR_CONFLICT, -2101, "address range conflict")     /* a range not reservable */ \
    X(PEER_GONE, -2102, "peer gone")                      /* left, died, closed */   \
    X(OUT_OF_RANGE, -2103, "out of range")                /* outside what is backed */ \
    X(UNSUPPORTED, -2104, "unsupported")                  /* not available here */   \
    X(PROTOCOL, -2105, "protocol error")                  /* malformed peer bytes */ \
    X(CONN_FAILED, -2106, "connection failed")            /* or connection lost */   \
    X(TLS, -2107, "TLS error")                            /* setup or handshake */   \
    X(CAS_MISMATCH, -2108, "compare-and-swap mismatch")                              \
    X(TOO_LARGE, -2109, "too large")                      /* over a limit */         \
    X(FULL, -2110, "no free slot")                        /* ranks, ids */           \
    X(EXITING, -2111, "exiting")                          /* global exit */          \
    X(CONFIG, -2112, "configuration error")               /* file or value */        \
    X(IO, -2113, "I/O error")                             /* errno in the message */ \
    X(AUTH, -2114, "authentication failed")               /* no cluster credential */ \
    X(INSECURE, -2115, "refused to listen without TLS")   /* beyond loopback, no switch */ \
    X(NOT_PERMITTED, -2116, "not permitted")              /* another member's key or rank */

#define SMEM_SUCCESS 0
#define SMEM_STATUS_ENUM_PUBLIC_(name, value, msg) SMEM_ERR_##name = (value),
enum smem_status_code { SMEM_STATUS_LIST(SMEM_STATUS_ENUM_PUBLIC_) };
#undef SMEM_STATUS_ENUM_PUBLIC_

#endif
