/* The rows of smem_bm_config_t; see smem_bm_conf.h. */
#include "smem/smem_bm_conf.h"

#include <stdint.h>

#include "net/net.h"
#include "smem/host/smem_bm_def.h"

NET_TLS_BLOCK_ASSERT(smem_tls_config);

#define B(m) UTIL_CONF_AT(smem_bm_config_t, m)
#define B_SECONDS(m, p, h) {.type = UTIL_CONF_UINT, B(m), .min = 1, .max = UINT32_MAX, .def = "120", .py = p, .help = h}
#define B_BOOL(m, d, p, h) {.type = UTIL_CONF_BOOL, B(m), .def = d, .py = p, .help = h}
#define B_TLS(m, p, h) {.type = UTIL_CONF_GROUP, B(m), .sub = net_tls_conf_rows, .nsub = NET_TLS_CONF_NROWS, .py = p, .help = h}

const util_conf_spec_t sm_bm_conf_table[] = {
    B_SECONDS(initTimeout, "init_timeout", "seconds `smem_bm_init` may take"),
    B_SECONDS(createTimeout, "create_timeout", "seconds `smem_bm_create` and `smem_bm_join` may take"),
    B_SECONDS(controlOperationTimeout, "control_operation_timeout", "seconds of each control-plane call"),
    B_BOOL(startConfigStoreServer, "true", "start_config_store_server",
           "rank 0 (or the race winner) starts the config store at the store URL"),
    B_BOOL(startConfigStoreOnly, "false", "start_config_store_only", "only start the store, join nothing"),
    B_BOOL(dynamicWorldSize, "true", "dynamic_world_size", "ranks may join and leave after startup"),
    B_BOOL(unifiedAddressSpace, "true", "unified_address_space",
           "same GVA in every process; `false` is `SMEM_ERR_UNSUPPORTED`"),
    B_BOOL(autoRanking, "true", "auto_ranking", "ranks are assigned by the store; false: `rankId` is taken"),
    {.type = UTIL_CONF_UINT, B(rankId), .max = UINT16_MAX, .def = "65535", .py = "rank_id",
     .help = "the rank to take when `autoRanking` is false (below the world size); 65535 = unset"},
    {.type = UTIL_CONF_UINT, B(flags), .max = SMEM_BM_FLAG_ALLOW_INSECURE, .def = "0", .py = "flags",
     .help = "`SMEM_BM_FLAG_ALLOW_INSECURE` (1): as `SMEM_ALLOW_INSECURE=1` for this BM (docs/CONFIG.md \"Listening "
             "beyond loopback\"); other bits reserved, 0"},
    {.type = UTIL_CONF_STR, B(hcomUrl), .py = "hcom_url",
     .help = "data-plane address, e.g. `tcp://10.0.0.1:18888` or `tcp://10.0.0.0/24:18888`; a PORT in use "
             "(ranks of one host sharing the URL): the next free one of the 64 after it; `\"\"`: the interface "
             "that reaches the config store, an ephemeral port"},
    B_TLS(hcomTlsConfig, "hcom_tls", "TLS of the tcp data plane (a TLS block)"),
    B_TLS(storeTlsConfig, "store_tls",
          "TLS of the config store, as `smem_set_conf_store_tls` sets it; needs `caPath` and `certPath`"),
};
const size_t sm_bm_conf_rows = UTIL_CONF_NROWS(sm_bm_conf_table);
