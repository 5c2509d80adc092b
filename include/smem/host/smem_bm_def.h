/* BM (big memory) types and constants. Names follow the seed's smem_bm_def.h. */
#ifndef SMEM_HOST_SMEM_BM_DEF_H
#define SMEM_HOST_SMEM_BM_DEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smem_common_def.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *smem_bm_t;

#define SMEM_BM_TIMEOUT_MAX UINT32_MAX
#define SMEM_TLS_PATH_SIZE 256

/* smem_bm_copy / smem_bm_copy_batch flags (the seed also defines the first two in smem.h) */
#define ASYNC_COPY_FLAG (1UL << (0))  /* return at once; smem_bm_wait completes it */
#define COPY_EXTEND_FLAG (1UL << (1)) /* reserved by the seed; accepted and ignored */
#define SMEM_BM_FLAG_USE_EXTERNAL_STREAM (1UL << (2)) /* copy on params->stream: needs Ascend, SMEM_ERR_UNSUPPORTED */

/*
 * smem_bm_create flags. Bits 0-6: a NUMA node, used (as in the seed) when the
 * performance-mode bit 7 is set; SMEM_BM_BIND_NUMA_AUTO_AFFINITY_FLAG (127)
 * there means the caller's node. Ours, kept: a non-zero node in bits 0-6
 * without bit 7 binds too (bit 7 is only needed to ask for node 0).
 */
#define SMEM_BM_BIND_NUMA_FLAG_INDEX 0
#define SMEM_BM_BIND_NUMA_FLAG_LEN 7
#define SMEM_BM_PERFORMANCE_MODE_FLAG_INDEX 7
#define SMEM_BM_PERFORMANCE_MODE_FLAG_LEN 1
#define SMEM_BM_BIND_NUMA_AUTO_AFFINITY_FLAG ((1U << SMEM_BM_BIND_NUMA_FLAG_LEN) - 1)
#define SMEM_BM_FLAG_CREATE_WITH_SHM (1U << 8)  /* back local DRAM with the user's memfd (dramShmFd) */
#define SMEM_BM_FLAG_DRAM_MAP_HOST_VA (1U << 9) /* accepted: local DRAM is always mapped at a host VA here */
#define SMEM_BM_FLAG_HOST_REGISTER_FOR_DEVICE (1U << 10) /* needs an Ascend device: SMEM_ERR_UNSUPPORTED */
/* Our earlier names, kept */
#define SMEM_BM_NUMA_NODE_CALLER SMEM_BM_BIND_NUMA_AUTO_AFFINITY_FLAG
#define SMEM_BM_NUMA_MASK 0x7Fu
#define SMEM_BM_PERFORMANCE_MODE (1U << SMEM_BM_PERFORMANCE_MODE_FLAG_INDEX)
#define SMEM_BM_CREATE_WITH_SHM SMEM_BM_FLAG_CREATE_WITH_SHM
#define SMEM_BM_CREATE_HUGETLB (1u << 15) /* ours: ask for huge pages (falls back with a log line) */

/* smem_bm_config_t.flags (smem_bm_init) */
/* Let this rank's data server listen beyond loopback without TLS while its cluster credential is exposed (the
 * config store was reached without TLS over the network), and the config store it starts listen there without
 * TLS; as SMEM_ALLOW_INSECURE=1 does for the whole process. Logged as a WARN. docs/CONFIG.md. */
#define SMEM_BM_FLAG_ALLOW_INSECURE (1u << 0)
/* The seed's SMEM_INIT_FLAG_NEED_HOST_RDMA / _DEVICE_RDMA (smem_common_def.h) are bits 16 and 17 of the same field. */

typedef enum {
    SMEM_MEM_TYPE_LOCAL_DEVICE = 0, /* this process's device memory */
    SMEM_MEM_TYPE_LOCAL_HOST,       /* this process's host memory */
    SMEM_MEM_TYPE_DEVICE,           /* the global device (HBM) pool */
    SMEM_MEM_TYPE_HOST,             /* the global host (DRAM) pool */
    SMEM_MEM_TYPE_BUTT
} smem_bm_mem_type;
typedef smem_bm_mem_type smem_bm_mem_type_t; /* the seed's later name */

typedef enum {
    SMEMB_DATA_OP_SDMA = 1u << 0,        /* here: the same-host copy engine */
    SMEMB_DATA_OP_HOST_RDMA = 1u << 1,   /* here: ucx (later) */
    SMEMB_DATA_OP_HOST_TCP = 1u << 2,    /* the built-in tcp transport */
    SMEMB_DATA_OP_DEVICE_RDMA = 1u << 3, /* here: ucx on GPU memory (later) */
    SMEMB_DATA_OP_HOST_URMA = 1u << 4,   /* not available here: a clear error */
    SMEMB_DATA_OP_HOST_SHM = 1u << 5,    /* same-host mapping (load/store, memcpy) */
    SMEMB_DATA_OP_MTE = 1u << 6,         /* device MTE: not available here, a clear error */
    SMEMB_DATA_OP_BUTT
} smem_bm_data_op_type;
typedef smem_bm_data_op_type smem_bm_data_op_type_t;

typedef enum {
    SMEMB_COPY_L2G = 0,  /* local device -> global */
    SMEMB_COPY_G2L = 1,  /* global -> local device */
    SMEMB_COPY_G2H = 2,  /* global -> local host DRAM */
    SMEMB_COPY_H2G = 3,  /* local host DRAM -> global */
    SMEMB_COPY_L2GH = 4, /* local device -> global host pool */
    SMEMB_COPY_GH2L = 5, /* global host pool -> local device */
    SMEMB_COPY_GH2H = 6, /* global host pool -> local host */
    SMEMB_COPY_H2GH = 7, /* local host -> global host pool */
    SMEMB_COPY_G2G = 8,  /* global -> global */
    SMEMB_COPY_AUTO = 9, /* infer from the addresses */
    SMEMB_COPY_BUTT
} smem_bm_copy_type;
typedef smem_bm_copy_type smem_bm_copy_type_t;

typedef struct {
    bool tlsEnable;
    char caPath[SMEM_TLS_PATH_SIZE];
    char crlPath[SMEM_TLS_PATH_SIZE];
    char certPath[SMEM_TLS_PATH_SIZE];
    char keyPath[SMEM_TLS_PATH_SIZE];
    char keyPassPath[SMEM_TLS_PATH_SIZE];
    char packagePath[SMEM_TLS_PATH_SIZE];     /* seed field; unused here */
    char decrypterLibPath[SMEM_TLS_PATH_SIZE]; /* library exporting DecryptPassword (smem.h) for keyPassPath */
} smem_tls_config;
typedef smem_tls_config smem_tls_config_t;

typedef struct {
    uint32_t initTimeout;             /* seconds, smem_bm_init (default 120) */
    uint32_t createTimeout;           /* seconds, smem_bm_create/join (default 120) */
    uint32_t controlOperationTimeout; /* seconds, control-plane calls (default 120) */
    bool startConfigStoreServer;      /* rank 0 (or the race winner) starts the store at store_url (default true) */
    bool startConfigStoreOnly;        /* only start the store, join nothing */
    bool dynamicWorldSize;            /* ranks may join and leave after startup (default true here) */
    bool unifiedAddressSpace;         /* same GVA in every process (default true; false is unsupported) */
    bool autoRanking;                 /* ranks assigned by the store (default true) */
    uint16_t rankId;                  /* used when autoRanking is false (default 65535 = unset) */
    uint32_t flags;                   /* SMEM_BM_FLAG_*; default 0 */
    char hcomUrl[64];                 /* data-plane address, e.g. tcp://10.0.0.1:18888 or tcp://10.0.0.0/24:18888 */
    smem_tls_config hcomTlsConfig;
    smem_tls_config storeTlsConfig;
} smem_bm_config_t;

typedef struct {
    uint64_t maxDramSize;   /* per-rank stride of the host window (0: = localDRAMSize rounded up) */
    uint64_t maxHbmSize;    /* per-rank stride of the device window */
    uint64_t localDRAMSize; /* bytes this rank contributes (<= maxDramSize) */
    uint64_t localHBMSize;
    smem_bm_data_op_type dataOpType; /* smem_bm_data_op_type bits */
    bool enable56BitsGva;            /* seed: 56-bit GVA past 32 TB; accepted, our windows need no switch */
    uint32_t flags;                  /* SMEM_BM_* create flags */
    char tag[32];
    char tagOpInfo[256];
    int dramShmFd; /* user memfd backing local DRAM with SMEM_BM_FLAG_CREATE_WITH_SHM (-1: none) */
} smem_bm_create_option_t;

typedef struct {
    const void *src;
    void *dest;
    size_t dataSize;
    void *stream; /* a device stream in the seed: read only with SMEM_BM_FLAG_USE_EXTERNAL_STREAM */
} smem_copy_params;
typedef smem_copy_params smem_copy_params_t;

typedef struct {
    void **sources;
    void **destinations;
    const uint64_t *dataSizes;
    uint32_t batchSize;
    void *stream; /* as smem_copy_params.stream */
} smem_batch_copy_params;
typedef smem_batch_copy_params smem_batch_copy_params_t;

/* Per-piece outcome of smem_bm_copy_batch_partial_succeed (results: batchSize codes, filled by it). */
typedef struct {
    int32_t *results;
    uint32_t batchSize;
} smem_batch_copy_result;
typedef smem_batch_copy_result smem_batch_copy_result_t;

/* Membership events of a BM object (the seed's smem_bm_set_group_event_handler; see docs/API.md). */
typedef enum {
    SMEM_GROUP_EVENT_JOIN,
    SMEM_GROUP_EVENT_LEAVE,
    SMEM_MEMBER_EVENT_BUTT
} smem_bm_group_event_t;
typedef void (*smem_bm_group_event_cb)(smem_bm_t handle, uint32_t rankId, smem_bm_group_event_t event,
                                       void *context);

#ifdef __cplusplus
}
#endif
#endif
