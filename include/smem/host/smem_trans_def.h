/* Trans (batch one-sided transfers between named peers): types and constants.
 * Names follow the seed's smem_trans_def.h; differences are in docs/API.md. */
#ifndef SMEM_HOST_SMEM_TRANS_DEF_H
#define SMEM_HOST_SMEM_TRANS_DEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smem_bm_def.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *smem_trans_t;

/* The seed's values. SMEM_TRANS_NONE is refused by smem_trans_create (an instance must do something). */
typedef enum {
    SMEM_TRANS_NONE = 0,   /* no role */
    SMEM_TRANS_SENDER,     /* initiates writes and reads; exposes no memory */
    SMEM_TRANS_RECEIVER,   /* exposes its registered memory; initiates nothing */
    SMEM_TRANS_BOTH,       /* both */
    SMEM_TRANS_BUTT
} smem_trans_role_t;

#define SMEM_TRANS_UNIQUE_ID_MAX 63u /* bytes of a unique id ("ip:port"), without NUL */
#define SMEM_TRANS_BATCH_MAX 65536u  /* pieces in one batch call */

typedef struct {
    smem_trans_role_t role;          /* default SMEM_TRANS_BOTH (the seed: SENDER) */
    uint32_t initTimeout;            /* seconds: store connection, and the limit on every blocking transfer step (default 120) */
    uint32_t deviceId;               /* accepted (default UINT32_MAX = none); device memory needs CUDA, which this build has not */
    uint32_t flags;                  /* reserved, 0 */
    smem_bm_data_op_type dataOpType; /* bits: SMEMB_DATA_OP_HOST_TCP (default), SDMA / HOST_SHM (same host) */
    bool startConfigServer; /* start the config store at store_url if it is this host's and nobody serves it (default false) */
} smem_trans_config_t;

/* Told the unique id of a peer instance that left or died (its store connection closed). */
typedef void (*smem_trans_peer_down_callback_t)(const char *peerUniqueId, void *userData);

#ifdef __cplusplus
}
#endif
#endif
