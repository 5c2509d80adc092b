/*
 * memcache public types: status codes, buffers, put options, object info and
 * the service configurations (the config keys of docs/CONFIG.md, one field
 * each). Field names follow the seed system so callers can keep their
 * designated initialisers; where the seed used C++ or Ascend-only types the
 * C equivalent is used.
 *
 * Thread rules: plain data; mmc_strerror and mmc_get_last_err_msg are safe
 * from any thread (the message is per thread).
 */
#ifndef MMC_DEF_H
#define MMC_DEF_H

#include <stdbool.h>
#include <stdint.h>

#include "mmc_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------- status codes (one space for every mmc_* / mmcs_* / mmcc_* call) ---------- */
/*
 * Listed once: X(NAME, value, description). The list generates the enum
 * (MMC_<NAME>), mmc_strerror's messages and the Python constants of
 * memcache_hybrid; add a code here and every one of them has it. The seed's
 * values are kept; ours live below -3200.
 */
#define MMC_STATUS_LIST(X)                                                                                        \
    X(OK, 0, "success")                                                                                           \
    X(ERROR, -1, "error")                                                                                         \
    X(INVALID_PARAM, -3000, "invalid parameter")                                                                  \
    X(MALLOC_FAILED, -3001, "memory allocation failed")                                                           \
    X(TIMEOUT, -3004, "timed out")                                                                                \
    /* put: the key is READY or being written; mmcc_put returns 0 for it */                                       \
    X(DUPLICATED_OBJECT, -3006, "object already exists")                                                          \
    /* the key exists but its put has not finished (not readable yet) */                                          \
    X(OBJECT_NOT_READY, -3007, "object exists but is not readable yet")                                           \
    X(NOT_INITIALIZED, -3008, "not initialized")                                                                  \
    /* larger than any mounted segment of the medium could ever hold */                                           \
    X(EXCEEDS_CAPACITY, -3013, "exceeds capacity")                                                                \
    /* no such LocalService / segment / lease */                                                                  \
    X(LINK_NOT_FOUND, -3014, "link (LocalService, segment or lease) not found")                                   \
    /* no room even after eviction (or eviction is off), or too few LocalServices for the replicas */              \
    X(NOT_ENOUGH_MEMORY, -3016, "not enough memory in the pool")                                                  \
    /* the MetaService cannot be reached (or the link was lost) */                                                \
    X(NOT_CONNECTED, -3017, "not connected to the MetaService")                                                   \
    /* the object is in a state that does not allow the operation */                                              \
    X(UNMATCHED_STATE, -3101, "object state does not allow this")                                                 \
    X(KEY_NOT_FOUND, -3102, "key not found")                                                                      \
    X(LEASE_NOT_EXPIRED, -3104, "lease not expired")                                                              \
    /* ours, below the seed's */                                                                                  \
    X(PROTOCOL, -3200, "protocol error")                    /* malformed or unexpected bytes from a peer */       \
    X(CONFIG, -3201, "configuration error")                 /* bad configuration file or value (names the line) */ \
    X(UNSUPPORTED, -3202, "unsupported")                    /* option or operation not available in this build */ \
    /* get: the buffer (or the sum of the layers) is smaller than the object */                                   \
    X(BUFFER_TOO_SMALL, -3203, "buffer smaller than the object")                                                  \
    /* get: the read lease ended before the copy was proven (expired, MetaService restarted, a replica's           \
     * LocalService left, release unanswered): the bytes in the buffer may be another key's; read again */        \
    X(LEASE_LOST, -3204, "read lease lost before the copy was proven; the bytes may be another key's")            \
    /* lease release: the lease belongs to another client (it stays) */                                           \
    X(LEASE_NOT_OWNER, -3205, "lease belongs to another client")                                                  \
    /* MOUNT for a BM rank the caller does not hold, UNMOUNT of another link's segment, REMOVE_ALL by a non-member */ \
    X(NOT_PERMITTED, -3206, "not permitted: the caller does not hold that BM rank or segment")

#define MMC_STATUS_ENUM_(name, value, msg) MMC_##name = (value),
enum mmc_status_code { MMC_STATUS_LIST(MMC_STATUS_ENUM_) };
#undef MMC_STATUS_ENUM_

/* Name and short description of a status (MMC_* or the smem codes it wraps); never NULL. */
MMC_API const char *mmc_strerror(int32_t status);
/* This thread's last error message ("" when none). */
MMC_API const char *mmc_get_last_err_msg(void);

/* ---------- limits ---------- */
#define MMC_KEY_MAX 256u          /* bytes in a key (1..MMC_KEY_MAX) */
#define MMC_BATCH_MAX 16384u      /* keys in one batch call / one request */
#define MMC_REPLICA_MAX 8u        /* replicas of one object */
#define MMC_HOST_ID_SIZE 24u      /* opaque host identity (boot id + netns inode) */
#define MMC_URL_SIZE 256u
#define MMC_PATH_SIZE 256u

/* The seed's names and sizes (its mmc_def.h). The seed's own structs use the
 * 1024-byte sizes for URLs and paths; ours keep MMC_URL_SIZE / MMC_PATH_SIZE
 * where a field is ours (a longer value is refused with a message naming it). */
#define DISCOVERY_URL_SIZE 1024                   /* mmc_client_config_t.discoveryURL, local_config URLs */
#define PATH_MAX_SIZE 1024                        /* local_config.config_path */
#define PROTOCOL_SIZE 64                          /* local_config.protocol */
#define MAX_BATCH_OP_COUNT MMC_BATCH_MAX          /* 16384 */
#define TLS_PATH_SIZE MMC_PATH_SIZE               /* 256: the path fields of a TLS block */
#define TLS_PATH_MAX_LEN (TLS_PATH_SIZE - 1)
#define MEM_POOL_MODE_SIZE 64                     /* local_config.memory_pool_mode */
#define MAX_BLOB_COPIES MMC_REPLICA_MAX           /* 8 */

/* Service and client handles, opaque as in the seed (mmc_service.h). */
typedef void *mmc_meta_service_t;
typedef void *mmc_local_service_t;
typedef void *mmc_client_t;

/* The seed's logger type (mmc_set_extern_logger's argument); a program that
 * defines its own ExternalLog sets MMC_OUT_LOGGER first, as with the seed. */
#ifndef MMC_OUT_LOGGER
typedef void (*ExternalLog)(int level, const char *msg);
#endif

/* ---------- media ---------- */
/* Numbered like mmc_buffer.type (0 device, 1 host). */
typedef enum {
    MMC_MEDIA_HBM = 0,  /* GPU memory pool */
    MMC_MEDIA_DRAM = 1, /* host memory pool */
    MMC_MEDIA_COUNT = 2,
    MMC_MEDIA_NONE = 0xFFFF, /* put option: any medium, DRAM first */
} mmc_media_t;

typedef struct mmc_buffer {
    uint64_t addr;
    uint32_t type; /* 0 device, 1 host */
    uint64_t offset;
    uint64_t len;
} mmc_buffer;

/* Placement policy of a put (the seed's only value; int-sized in C and C++). */
#ifdef __cplusplus
enum affinity_policy : int { NATIVE_AFFINITY = 0 };
#else
enum affinity_policy { NATIVE_AFFINITY = 0 };
typedef enum affinity_policy affinity_policy;
#endif

typedef struct mmc_put_options {
    uint16_t mediaType;                                 /* mmc_media_t */
    affinity_policy policy;                             /* NATIVE_AFFINITY */
    uint16_t replicaNum;                                /* 1..MAX_BLOB_COPIES */
    int32_t preferredLocalServiceIDs[MAX_BLOB_COPIES];  /* -1 unused; else placed there first, in order */
} mmc_put_options;

typedef struct mmc_data_info {
    uint64_t size;
    uint16_t prot;
    uint8_t numBlobs;               /* replicas */
    bool valid;                     /* READY (readable) */
    uint32_t ranks[MAX_BLOB_COPIES]; /* LocalService id of each replica */
    uint16_t types[MAX_BLOB_COPIES]; /* mmc_media_t of each replica */
} mmc_data_info;

/* ---------- service configurations ----------
 * The seed's field names and sizes, so seed code that fills these structs
 * (designated initialisers, SafeCopy(..., sizeof(...)) or the size macros)
 * compiles unchanged; our own fields follow the seed's in each struct. Every
 * field with a config key is one row of src/memcache/common/mmc_conf_table.c
 * (default, range, file key, flag, Python attribute, docs/CONFIG.md). */
#ifndef DISCOVERY_URL_SIZE
#define DISCOVERY_URL_SIZE 1024 /* every URL field */
#endif
#ifndef PATH_MAX_SIZE
#define PATH_MAX_SIZE 1024 /* logPath */
#endif
#ifndef PROTOCOL_SIZE
#define PROTOCOL_SIZE 64 /* dataOpType */
#endif
#ifndef TLS_PATH_SIZE
#define TLS_PATH_SIZE 256 /* each path of a TLS block */
#endif
#ifndef MEM_POOL_MODE_SIZE
#define MEM_POOL_MODE_SIZE 32 /* memoryPoolMode ("standard") */
#endif

#ifndef MMC_OUT_LOGGER
/* The application's log sink (mmc_local_service_config_t.logFunc, mmc_set_extern_logger). */
typedef void (*ExternalLog)(int level, const char *msg);
#endif

/* TLS block (ock.mmc.tls.*, ock.mmc.config_store.tls.*, ock.mmc.local_service.hcom.tls.*). */
typedef struct mmc_tls_config {
    bool tlsEnable;
    char caPath[TLS_PATH_SIZE];
    char crlPath[TLS_PATH_SIZE];
    char certPath[TLS_PATH_SIZE];
    char keyPath[TLS_PATH_SIZE];
    char keyPassPath[TLS_PATH_SIZE];
    char packagePath[TLS_PATH_SIZE];      /* seed field (its OpenSSL libraries); unused here */
    char decrypterLibPath[TLS_PATH_SIZE]; /* shared library with a decrypt function for the key password */
} mmc_tls_config;

/* MetaService (mmc-meta). */
typedef struct mmc_meta_service_config {
    char discoveryURL[DISCOVERY_URL_SIZE];   /* ock.mmc.meta_service_url: the RPC listener */
    char configStoreURL[DISCOVERY_URL_SIZE]; /* ock.mmc.meta_service.config_store_url: embedded config store ("" = none) */
    char httpURL[DISCOVERY_URL_SIZE];        /* ock.mmc.meta_service.metrics_url: HTTP endpoint ("" = none) */
    bool haEnable;                           /* ock.mmc.meta.ha.enable: must be false (HA is not built yet) */
    int32_t logLevel;                        /* ock.mmc.log_level: 0 debug .. 3 error */
    char logPath[PATH_MAX_SIZE];             /* ock.mmc.log_path: a directory (log in <dir>/logs/mmc-meta.log); "" = stderr */
    int32_t logRotationFileSize;             /* ock.mmc.log_rotation_file_size: bytes here, MB in the file and Python */
    int32_t logRotationFileCount;            /* ock.mmc.log_rotation_file_count */
    uint16_t evictThresholdHigh;             /* ock.mmc.evict_threshold_high (%) */
    uint16_t evictThresholdLow;              /* ock.mmc.evict_threshold_low (%) */
    mmc_tls_config accTlsConfig;             /* ock.mmc.tls.*: RPC listener */
    mmc_tls_config configStoreTlsConfig;     /* ock.mmc.config_store.tls.*: embedded config store */
    bool ubsIoEnable;                        /* ock.mmc.ubs_io.enable: must be false (no UBS-IO SSD tier here) */
    /* ours */
    uint32_t leaseTtlMs;         /* ock.mmc.meta.lease_ttl_ms */
    uint32_t putTimeoutMs;       /* ock.mmc.meta.put_timeout_ms: PUT_START..PUT_END limit */
    uint32_t softPinTtlMs;       /* ock.mmc.meta.soft_pin_ttl_ms: how long a soft pin holds off eviction */
    uint32_t heartbeatTimeoutMs; /* ock.mmc.meta.heartbeat_timeout_ms: a silent LocalService is dead */
    bool memberCheck;            /* ock.mmc.meta.member_check: MOUNT/REMOVE_ALL need a BM rank proof */
    bool allowInsecure;          /* ock.mmc.allow_insecure: listeners beyond loopback without TLS (WARN) */
} mmc_meta_service_config_t;

/* LocalService path to other hosts (ock.mmc.local_service.protocol, or the name in dataOpType).
 * Same-host peers are always mapped (memcpy) whatever the protocol. */
typedef enum {
    MMC_PROTO_HOST_SHM = 0,
    MMC_PROTO_HOST_TCP = 1,
    MMC_PROTO_HOST_UCX = 2,    /* RDMA through the ucx transport */
    MMC_PROTO_DEVICE_UCX = 3,  /* GPU memory through the ucx transport */
    MMC_PROTO_HOST_RDMA = 4,   /* seed name: the ucx transport's RDMA, as host_ucx */
    MMC_PROTO_HOST_URMA = 5,   /* seed name: UB memory (Huawei UB hardware) */
    MMC_PROTO_DEVICE_RDMA = 6, /* seed name: device memory over RDMA, as device_ucx */
    MMC_PROTO_DEVICE_SDMA = 7, /* seed name: Ascend SDMA (Ascend hardware) */
} mmc_protocol_t;

/* LocalService (linked into applications). */
typedef struct mmc_local_service_config {
    char discoveryURL[DISCOVERY_URL_SIZE]; /* ock.mmc.meta_service_url */
    uint32_t deviceId;                     /* GPU of this process (no config key) */
    uint32_t rankId;                       /* seed: the BM rank; here the config store assigns it (ignored) */
    uint32_t worldSize;                    /* ock.mmc.local_service.world_size */
    char bmIpPort[DISCOVERY_URL_SIZE];     /* ock.mmc.local_service.config_store_url */
    char bmHcomUrl[DISCOVERY_URL_SIZE];    /* ock.mmc.local_service.hcom_url (at most 63 bytes: smem_bm_config_t) */
    uint32_t createId;                     /* BM id given to smem_bm_create (the same on every LocalService) */
    char dataOpType[PROTOCOL_SIZE];        /* seed: the protocol by name; "" = protocol below, else it wins */
    uint64_t localDRAMSize;                /* ock.mmc.local_service.dram.size */
    uint64_t localMaxDRAMSize;             /* ock.mmc.local_service.max.dram.size */
    uint64_t localHBMSize;                 /* ock.mmc.local_service.hbm.size */
    uint64_t localMaxHBMSize;              /* ock.mmc.local_service.max.hbm.size */
    char memoryPoolMode[MEM_POOL_MODE_SIZE]; /* ock.mmc.local_service.memory_pool_mode: "standard" */
    uint32_t flags;                        /* SMEM_BM_FLAG_* added to the BM's own */
    mmc_tls_config accTlsConfig;           /* ock.mmc.tls.* */
    int32_t logLevel;                      /* ock.mmc.log_level */
    ExternalLog logFunc;                   /* NULL: stderr (and logPath); else every log line goes to it */
    mmc_tls_config hcomTlsConfig;          /* ock.mmc.local_service.hcom.tls.* */
    mmc_tls_config configStoreTlsConfig;   /* ock.mmc.config_store.tls.* */
    /* ours */
    uint32_t protocol;            /* ock.mmc.local_service.protocol: mmc_protocol_t */
    char logPath[PATH_MAX_SIZE];  /* ock.mmc.log_path: a directory (<dir>/logs/mmc-local.log), or a *.log file */
    uint32_t retryMilliseconds;   /* ock.mmc.client.retry_milliseconds: how long a call waits for a lost link (0: none) */
    uint32_t timeoutSeconds;      /* ock.mmc.client.timeout.seconds: every MetaService call and connect */
    uint32_t readThreadPoolSize;  /* ock.mmc.client.read_thread_pool.size */
    uint32_t writeThreadPoolSize; /* ock.mmc.client.write_thread_pool.size */
    bool aggregateIO;             /* ock.mmc.client.aggregate.io */
    uint32_t aggregateNum;        /* ock.mmc.client.aggregate.num */
    bool ubsIoEnable;             /* ock.mmc.ubs_io.enable: must be false */
    bool allowInsecure;           /* ock.mmc.allow_insecure: data plane beyond loopback on an exposed credential */
} mmc_local_service_config_t;

/* ---------- client (mmcc_init) ---------- */
/*
 * The seed's fields, in its order. The client always runs over this
 * process's LocalService (mmcs_local_service_start or mmc_init), so a field
 * left 0 / "" / NULL keeps the LocalService's value; mmcc_init(NULL) takes
 * all of them. Our earlier names stay as aliases of the same storage.
 */
typedef struct mmc_client_config {
    char discoveryURL[DISCOVERY_URL_SIZE]; /* MetaService to use ("" = the LocalService's; at most MMC_URL_SIZE-1) */
    uint32_t rankId;                       /* 0 or this process's LocalService rank (anything else is refused) */
    union {
        uint32_t rpcRetryTimeOut;          /* ock.mmc.client.retry_milliseconds */
        uint32_t retryMilliseconds;
    };
    union {
        uint32_t timeOut;                  /* ock.mmc.client.timeout.seconds */
        uint32_t timeoutSeconds;
    };
    union {
        uint32_t readThreadPoolNum;        /* ock.mmc.client.read_thread_pool.size */
        uint32_t readThreadPoolSize;
    };
    union {
        uint32_t writeThreadPoolNum;       /* ock.mmc.client.write_thread_pool.size */
        uint32_t writeThreadPoolSize;
    };
    bool aggregateIO;                      /* ock.mmc.client.aggregate.io; applied with aggregateNum != 0 */
    int32_t aggregateNum;                  /* ock.mmc.client.aggregate.num (0: keep both aggregate values) */
    int32_t logLevel;                      /* 0 debug .. 3 error: the process's level (with logFunc only) */
    ExternalLog logFunc;                   /* non-NULL: mmc_set_extern_logger(logFunc), then logLevel */
    mmc_tls_config tlsConfig;              /* TLS of the MetaService link (tlsEnable false: the LocalService's) */
} mmc_client_config_t;

#ifdef __cplusplus
}
#endif

#endif
