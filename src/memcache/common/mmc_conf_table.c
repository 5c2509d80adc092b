/*
 * The memcache configuration, declared once: one row per config key (and
 * field of the public struct). From these rows come the *_config_init
 * defaults, the range checks, the file keys, mmc-meta's and mmc-local's
 * flags and --help, the Python LocalConfig/MetaConfig fields and the tables
 * of docs/CONFIG.md (mmc-config-doc; ctest lint.config_doc). Data only: the
 * Python bindings compile this file too.
 */
#include <stdint.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/mmc_client.h"
#include "memcache/mmc_service.h"
#include "net/net.h"

NET_TLS_BLOCK_ASSERT(mmc_tls_config);

static const char *const mmc_level_names[] = {"debug", "info", "warn", "error", "off", NULL};
const char *const mmc_conf_proto_names[] = {"host_shm",  "host_tcp",  "host_ucx",    "device_ucx", "host_rdma",
                                            "host_urma", "device_rdma", "device_sdma", NULL};

#define TLS_GROUP(T, k, m, p, h)                                                                                    \
    {.key = k, .type = UTIL_CONF_GROUP, UTIL_CONF_AT(T, m), .sub = net_tls_conf_rows, .nsub = NET_TLS_CONF_NROWS,  \
     .flags = UTIL_CONF_F_FLAT, .py = p, .help = h}
#define LEVEL(T, d)                                                                                                 \
    {.key = "ock.mmc.log_level", .type = UTIL_CONF_ENUM, UTIL_CONF_AT(T, logLevel), .def = d,                       \
     .names = mmc_level_names, .flags = UTIL_CONF_F_NUM, .flag = "log-level", .arg = "L", .py = "log_level",        \
     .help = "log level of the process, as flag and in the file"}
#define INSECURE(T, h)                                                                                              \
    {.key = "ock.mmc.allow_insecure", .type = UTIL_CONF_BOOL, UTIL_CONF_AT(T, allowInsecure), .def = "false",      \
     .flag = "allow-insecure", .py = "allow_insecure", .help = h}
#define LOG_PATH(T, file)                                                                                           \
    {.key = "ock.mmc.log_path", .type = UTIL_CONF_STR, UTIL_CONF_AT(T, logPath), .flag = "log-path", .arg = "DIR",  \
     .py = "log_path",                                                                                              \
     .help = "also append log lines to a file: a directory as in the seed (the file is `<dir>/logs/" file "`, "   \
             "both created when missing; a relative one is taken from the working directory), or a path ending "   \
             "in `.log`, the file itself; `\"\"`: stderr only"}
#define UBS_IO(T)                                                                                                   \
    {.key = "ock.mmc.ubs_io.enable", .type = UTIL_CONF_BOOL, UTIL_CONF_AT(T, ubsIoEnable), .def = "false",         \
     .py = "ubs_io_enable",                                                                                         \
     .help = "must be `false`: the seed's SSD tier (UBS-IO, Huawei's UBS IO library) does not exist here; `true` "  \
             "is rejected naming the line"}
/* Seed keys this build has no use for: accepted (the value must parse), logged at INFO, stored nowhere. */
#define IGNORED(k, t, h) {.key = k, .type = t, .flags = UTIL_CONF_F_IGNORED, .help = h}
#define IGNORED_COMMON                                                                                              \
    IGNORED("ock.mmc.ubs_io.prefetch.enable", UTIL_CONF_BOOL, "the seed's UBS-IO prefetch; there is no UBS-IO here"), \
    IGNORED("ock.mmc.tls.top.path", UTIL_CONF_STR,                                                                  \
            "older seed files' directory for relative TLS paths; give the `ock.mmc.tls.*` paths whole")

/* ---------- MetaService: mmc_meta_service_config_t ---------- */

#define M(m) UTIL_CONF_AT(mmc_meta_service_config_t, m)
#define M_MS(k, m, lo, d, p, h) {.key = k, .type = UTIL_CONF_UINT, M(m), .min = lo, .max = 3600000, .def = d, .py = p, .help = h}

const util_conf_spec_t mmc_meta_conf_table[] = {
    {.key = "ock.mmc.meta_service_url", .type = UTIL_CONF_STR, M(discoveryURL), .def = "tcp://127.0.0.1:5000",
     .flags = UTIL_CONF_F_NONEMPTY, .flag = "meta-url", .arg = "URL", .py = "meta_service_url",
     .help = "RPC listener for LocalServices and clients (`tcp://IP:PORT`, `tcp://[v6]:PORT`, `unix:///path`; "
             "port 0 picks a free one)"},
    {.key = "ock.mmc.meta_service.config_store_url", .type = UTIL_CONF_STR, M(configStoreURL),
     .def = "tcp://127.0.0.1:6000", .flag = "store-url", .arg = "URL", .py = "config_store_url",
     .help = "embedded config store (`src/store`) for memfabric rendezvous; empty = none. It runs with a 1.5 s "
             "recovery window after each start (as `smem-store --recovery-ms`): after a restart of mmc-meta the "
             "LocalServices and clients that survived reclaim their ranks and publish their records again before any "
             "newcomer gets a rank"},
    {.key = "ock.mmc.meta_service.metrics_url", .type = UTIL_CONF_STR, M(httpURL), .def = "http://127.0.0.1:8000",
     .flag = "metrics-url", .arg = "URL", .py = "metrics_url",
     .help = "HTTP endpoint: `/health`, `/metrics` (Prometheus), `/segments`, `/capacity`, "
             "`/keys?prefix=&limit=&cursor=` (JSON, one page: pass the reply's `cursor` back for the next; "
             "docs/API.md \"Listing keys\"); GET/HEAD, served concurrently by libmicrohttpd (2 s inactivity timeout, "
             "256 connections, 32 per client address, 8 KiB header block); empty = none"},
    {.key = "ock.mmc.meta.ha.enable", .type = UTIL_CONF_BOOL, M(haEnable), .def = "false", .py = "ha_enable",
     .help = "must be `false`: HA (leader election, metadata replication) is a later issue; `true` is rejected "
             "naming the line"},
    LEVEL(mmc_meta_service_config_t, "info"),
    LOG_PATH(mmc_meta_service_config_t, "mmc-meta.log"),
    {.key = "ock.mmc.log_rotation_file_size", .type = UTIL_CONF_INT, M(logRotationFileSize), .min = 1, .max = 500,
     .shift = 20, .def = "20", .py = "log_rotation_file_size",
     .help = "MB a log file may reach (the struct holds bytes, as the seed's). Kept, not applied: this build does "
             "not rotate its log file (INFO at start); rotate it with logrotate's copytruncate"},
    {.key = "ock.mmc.log_rotation_file_count", .type = UTIL_CONF_INT, M(logRotationFileCount), .min = 1, .max = 50,
     .def = "50", .py = "log_rotation_file_count", .help = "rotated files kept; kept, not applied (see above)"},
    {.key = "ock.mmc.evict_threshold_high", .type = UTIL_CONF_UINT, M(evictThresholdHigh), .min = 1, .max = 100,
     .def = "90", .py = "evict_threshold_high",
     .help = "percent of a medium's mounted bytes above which the background evictor runs; a put that does not fit "
             "also evicts from the LRU tail. `100` turns eviction off: nothing is ever evicted and a put into a full "
             "pool fails with `MMC_NOT_ENOUGH_MEMORY` (-3016)"},
    {.key = "ock.mmc.evict_threshold_low", .type = UTIL_CONF_UINT, M(evictThresholdLow), .min = 0, .max = 99,
     .def = "80", .py = "evict_threshold_low", .help = "percent it evicts down to; must be below the high one"},
    M_MS("ock.mmc.meta.lease_ttl_ms", leaseTtlMs, 1, "10000", "lease_ttl_ms",
         "read lease of a GET; REMOVE and eviction wait for it (a put into a pool full of leased objects retires the "
         "least recently used, which come free within this time); a copy that outlasts it (the client counts from "
         "before the GET, less min(ttl/10, 1 s)) fails with `MMC_LEASE_LOST`"),
    {.key = "ock.mmc.meta.soft_pin_ttl_ms", .type = UTIL_CONF_UINT, M(softPinTtlMs), .min = 1, .max = 86400000,
     .def = "1800000", .py = "soft_pin_ttl_ms",
     .help = "how long an object put with a soft pin (`MMC_PUT_SOFT_PIN`) is passed over by eviction while unpinned "
             "objects can go (Mooncake's default_kv_soft_pin_ttl, 30 min); after it, or when only pinned objects "
             "are left, it is evicted like any other. Hard-pinned objects (`MMC_PUT_HARD_PIN`) are never evicted"},
    M_MS("ock.mmc.meta.put_timeout_ms", putTimeoutMs, 100, "30000", "put_timeout_ms",
         "PUT_START → PUT_END limit; an overdue put is revoked and its space freed"),
    M_MS("ock.mmc.meta.heartbeat_timeout_ms", heartbeatTimeoutMs, 100, "5000", "heartbeat_timeout_ms",
         "a client link silent this long (no request, no keepalive) is closed and its segments unmounted; its puts "
         "stay until `put_timeout_ms` and its leases until their ttl (the process may only be paused; it finishes "
         "them on a new link)"),
    {.key = "ock.mmc.meta.member_check", .type = UTIL_CONF_BOOL, M(memberCheck), .def = "true",
     .flag = "member-check", .arg = "BOOL", .py = "member_check",
     .help = "membership is proven, not claimed: a MOUNT must carry a proof that the link's process holds the BM "
             "rank it mounts (checked against the embedded config store), UNMOUNT takes only the link's own "
             "segments (`MMC_NOT_PERMITTED` otherwise) and REMOVE_ALL comes only from a link that holds a segment or "
             "proves a live BM rank. `false`: any client that reaches the port may mount for any rank and remove "
             "everything (tests that play LocalServices). Without an embedded config store there is nothing to "
             "check against: mmc-meta warns at start and runs open"},
    TLS_GROUP(mmc_meta_service_config_t, "ock.mmc.tls", accTlsConfig, "tls",
              "TLS of the RPC listener (the keys of a TLS block, below)"),
    TLS_GROUP(mmc_meta_service_config_t, "ock.mmc.config_store.tls", configStoreTlsConfig, "config_store_tls",
              "TLS of the embedded config store's listener"),
    UBS_IO(mmc_meta_service_config_t),
    IGNORED_COMMON,
    IGNORED("ock.mmc.meta.ha.meta_rebuild", UTIL_CONF_BOOL, "the seed's HA metadata rebuild; there is no HA here"),
    INSECURE(mmc_meta_service_config_t,
             "let the RPC listener, the embedded config store and the HTTP endpoint listen on an address other than "
             "loopback (`0.0.0.0` and `[::]` included) without their TLS (`ock.mmc.tls.*`, "
             "`ock.mmc.config_store.tls.*`; HTTP follows `ock.mmc.tls.*`); `false` refuses to start naming the "
             "address (`SMEM_ERR_INSECURE`), `true` starts and logs a WARN per listener that anyone who reaches the "
             "port can read and write"),
};
const size_t mmc_meta_conf_rows = UTIL_CONF_NROWS(mmc_meta_conf_table);

/* ---------- LocalService: mmc_local_service_config_t ---------- */

#define L(m) UTIL_CONF_AT(mmc_local_service_config_t, m)
#define L_SIZE(k, m, lo, d, fl, p, h)                                                                               \
    {.key = k, .type = UTIL_CONF_SIZE, L(m), .min = lo, .max = MMC_CONF_SIZE_MAX, .def = d, .flag = fl,             \
     .arg = "SIZE", .py = p, .help = h}
#define L_UINT(k, m, lo, hi, d, p, h) {.key = k, .type = UTIL_CONF_UINT, L(m), .min = lo, .max = hi, .def = d, .py = p, .help = h}

const util_conf_spec_t mmc_local_conf_table[] = {
    {.key = "ock.mmc.meta_service_url", .type = UTIL_CONF_STR, L(discoveryURL), .def = "tcp://127.0.0.1:5000",
     .flags = UTIL_CONF_F_NONEMPTY, .flag = "meta-url", .arg = "URL", .py = "meta_service_url",
     .help = "the MetaService RPC"},
    {.key = "ock.mmc.local_service.config_store_url", .type = UTIL_CONF_STR, L(bmIpPort),
     .def = "tcp://127.0.0.1:6000", .flags = UTIL_CONF_F_NONEMPTY, .flag = "store-url", .arg = "URL",
     .py = "config_store_url",
     .help = "the config store BM ranks meet in (mmc-meta's embedded one, or `smem-store`); the LocalService never "
             "starts one"},
    {.key = "ock.mmc.local_service.hcom_url", .type = UTIL_CONF_STR, L(bmHcomUrl), .max = MMC_CONF_HCOM_URL_MAX,
     .flag = "hcom-url", .arg = "URL", .py = "hcom_url",
     .help = "data-plane listen address for peers on other hosts: `tcp://IP:PORT` or `tcp://SUBNET/BITS:PORT` "
             "(choose the NIC by subnet); a PORT in use: the next free one of the 64 after it; `\"\"` = the "
             "interface that reaches the config store, an ephemeral port"},
    {.key = "ock.mmc.local_service.world_size", .type = UTIL_CONF_UINT, L(worldSize), .min = 1, .max = 1024,
     .def = "256", .flag = "world-size", .arg = "N", .py = "world_size",
     .help = "BM world size; the same in every process of the cluster"},
    {.key = "ock.mmc.local_service.protocol", .type = UTIL_CONF_ENUM, L(protocol), .def = "host_tcp",
     .names = mmc_conf_proto_names, .py = "protocol",
     .help = "path to LocalServices on other hosts: `host_tcp` (the tcp transport), `host_shm` (same-host only), "
             "`host_ucx` / `host_rdma` (RDMA: the ucx transport), `device_ucx` / `device_rdma` (device memory over "
             "the ucx transport), `host_urma` (UB memory), `device_sdma` (Ascend SDMA). Every name loads; at start "
             "this build runs `host_tcp` and `host_shm` and refuses the others with `MMC_UNSUPPORTED` (-3202) naming "
             "what is missing and `host_tcp`. Same-host peers are always mapped (memcpy). The seed's default is "
             "`host_rdma`; ours is the one that runs without RDMA hardware"},
    L_SIZE("ock.mmc.local_service.dram.size", localDRAMSize, 0, "128MB", "dram-size", "dram_size",
           "DRAM contributed to the pool; 0 = pure client: a BM rank and window (it can read and write every peer) "
           "but no segment mounted. It is committed (pre-faulted) at start, so puts never pay for page allocation"),
    L_SIZE("ock.mmc.local_service.hbm.size", localHBMSize, 0, NULL, NULL, "hbm_size",
           "GPU memory: needs CUDA, which this build lacks (non-zero: `MMC_UNSUPPORTED` at start)"),
    L_SIZE("ock.mmc.local_service.max.dram.size", localMaxDRAMSize, 1, "64GB", "max-dram-size", "max_dram_size",
           "per-rank GVA stride (address space reserved, not memory); must be the same on every LocalService and "
           "client of the cluster (BM checks it at join) and ≥ `dram.size`"),
    L_SIZE("ock.mmc.local_service.max.hbm.size", localMaxHBMSize, 0, NULL, NULL, "max_hbm_size",
           "per-rank stride of the GPU window; ≥ `hbm.size`"),
    {.key = "ock.mmc.local_service.memory_pool_mode", .type = UTIL_CONF_STR, L(memoryPoolMode), .def = "standard",
     .py = "memory_pool_mode",
     .help = "the seed's pool layout: `standard` (one segment per LocalService, the only one here); `expanded` is "
             "refused at check"},
    {.key = NULL, .type = UTIL_CONF_UINT, L(deviceId), .max = UINT32_MAX, .py = "device_id",
     .help = "GPU of this process (no config key)"},
    LEVEL(mmc_local_service_config_t, "error"),
    LOG_PATH(mmc_local_service_config_t, "mmc-local.log"),
    L_UINT("ock.mmc.client.retry_milliseconds", retryMilliseconds, 0, 600000, "0", "client_retry_milliseconds",
           "how long a MetaService call waits for a lost link to come back before it fails with "
           "`MMC_NOT_CONNECTED` (as the seed: the total retry time; `0` = no retry, fail at once). The link itself "
           "is redialled in the background either way (every 100 ms doubling to 2 s)"),
    L_UINT("ock.mmc.client.timeout.seconds", timeoutSeconds, 1, 3600, "60", "client_timeout_seconds",
           "every MetaService round trip (a put or get makes two) and the connect; also the BM init/create/join "
           "timeouts of the LocalService. A dead MetaService gives `MMC_NOT_CONNECTED` or `MMC_TIMEOUT` within it"),
    L_UINT("ock.mmc.client.read_thread_pool.size", readThreadPoolSize, 1, MMC_CONF_POOL_MAX, "32",
           "read_thread_pool_size",
           "threads one get call spreads its BM copy batches over (the caller plus helpers); each batch's memcpy is "
           "itself split over the copy engine's pool"),
    L_UINT("ock.mmc.client.write_thread_pool.size", writeThreadPoolSize, 1, MMC_CONF_POOL_MAX, "4",
           "write_thread_pool_size", "the same for puts"),
    {.key = "ock.mmc.client.aggregate.io", .type = UTIL_CONF_BOOL, L(aggregateIO), .def = "true", .py = "aggregate_io",
     .help = "true: the keys of one call go in shared BM copy batches (up to `aggregate.num` keys each); false: one "
             "BM copy batch per key"},
    L_UINT("ock.mmc.client.aggregate.num", aggregateNum, 1, MMC_BATCH_MAX, "122", "aggregate_num",
           "keys per BM copy batch when `aggregate.io` is on (a batch is also capped at 65,536 pieces)"),
    TLS_GROUP(mmc_local_service_config_t, "ock.mmc.tls", accTlsConfig, "tls",
              "TLS of the MetaService link (the keys of a TLS block, below)"),
    TLS_GROUP(mmc_local_service_config_t, "ock.mmc.config_store.tls", configStoreTlsConfig, "config_store_tls",
              "TLS of the config-store link"),
    TLS_GROUP(mmc_local_service_config_t, "ock.mmc.local_service.hcom.tls", hcomTlsConfig, "hcom_tls",
              "TLS of the tcp data plane"),
    UBS_IO(mmc_local_service_config_t),
    IGNORED_COMMON,
    INSECURE(mmc_local_service_config_t,
             "let the data plane listen beyond loopback without `hcom.tls` while its cluster credential is exposed "
             "(the config store is reached over the network without `config_store.tls`): `false` fails the start "
             "naming the address, `true` starts with a WARN (BM's `SMEM_BM_FLAG_ALLOW_INSECURE`). With store TLS, "
             "or a store on loopback, the credential guards the port and this is not needed"),
};
const size_t mmc_local_conf_rows = UTIL_CONF_NROWS(mmc_local_conf_table);

/* ---------- client: mmc_client_config_t (0: the LocalService's value) ---------- */

#define C(k, m, hi, h) {.key = k, .type = UTIL_CONF_UINT, UTIL_CONF_AT(mmc_client_config_t, m), .max = hi, .help = h}

const util_conf_spec_t mmc_client_conf_table[] = {
    C("ock.mmc.client.timeout.seconds", timeoutSeconds, 3600, "overrides the LocalService's value for this client"),
    C("ock.mmc.client.retry_milliseconds", retryMilliseconds, 600000, "the same (0 here: the LocalService's value)"),
    C("ock.mmc.client.read_thread_pool.size", readThreadPoolSize, MMC_CONF_POOL_MAX, "the same"),
    C("ock.mmc.client.write_thread_pool.size", writeThreadPoolSize, MMC_CONF_POOL_MAX, "the same"),
};
const size_t mmc_client_conf_rows = UTIL_CONF_NROWS(mmc_client_conf_table);
