/* SHM (symmetric heap) types. Names follow the seed's smem_shm_def.h. */
#ifndef SMEM_HOST_SMEM_SHM_DEF_H
#define SMEM_HOST_SMEM_SHM_DEF_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *smem_shm_t;
#define SMEM_SHM_TIMEOUT_MAX UINT32_MAX
#define SMEM_SHM_CONTEXT_MAX (64u << 10)

typedef enum {
    SMEMS_DATA_OP_MTE = 1u << 0,  /* here: CPU load/store on the mapped heap */
    SMEMS_DATA_OP_SDMA = 1u << 1, /* here: the copy engine */
    SMEMS_DATA_OP_RDMA = 1u << 2, /* here: a network transport (tcp, later ucx) */
} smem_shm_data_op_type;

typedef struct {
    uint32_t shmInitTimeout;          /* seconds (default 120) */
    uint32_t shmCreateTimeout;        /* seconds (default 120) */
    uint32_t controlOperationTimeout; /* seconds: barrier, all-gather, ... (default 120) */
    bool startConfigStoreServer;      /* rank 0 starts the store at the URL (default true) */
    uint32_t flags;
} smem_shm_config_t;

#ifdef __cplusplus
}
#endif
#endif
