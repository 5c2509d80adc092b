/*
 * Init flags shared by smem_bm_init and smem_shm_init (the seed's
 * smem_common_def.h): set in smem_bm_config_t.flags (or
 * smem_shm_config_t.flags) when a BM or SHM object will use an RDMA data
 * path. Here host RDMA needs the ucx transport and device RDMA an Ascend
 * device; smem_bm_init refuses both with SMEM_ERR_UNSUPPORTED and says which.
 */
#ifndef SMEM_HOST_SMEM_COMMON_DEF_H
#define SMEM_HOST_SMEM_COMMON_DEF_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SMEM_INIT_FLAG_NEED_HOST_RDMA = 1U << 16,   /* smem_bm_init */
    SMEM_INIT_FLAG_NEED_DEVICE_RDMA = 1U << 17, /* smem_bm_init or smem_shm_init */
} smem_init_flags;

#ifdef __cplusplus
}
#endif
#endif
