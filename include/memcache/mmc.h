/*
 * memcache SDK entry points (the seed's mmc.h): configure, then start the
 * LocalService and the client of this process in one call.
 *
 *   mmc_setup(&cfg);            optional: a local_config (the seed's, values as
 *                               text: "10GB", "info", "host_tcp") or, ours,
 *                               mmc_setup_local_service(&service_config)
 *   mmc_init(&(mmc_init_config){.deviceId = 0, .initBm = true});
 *   ... mmcc_* calls (mmc_client.h) ...
 *   mmc_uninit();
 *
 * Config discovery: mmc_init without a prior setup reads the file named by
 * MMC_LOCAL_CONFIG_PATH when it is set (an error in it fails mmc_init), else
 * uses the loopback defaults of mmc_local_service_config_init.
 *
 * Thread rules: setup/init/uninit are process-wide and serialised with each
 * other; the logger calls are safe from any thread.
 */
#ifndef MMC_H
#define MMC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmc_def.h"
#include "mmc_service.h" /* mmc_meta_service_config_init (create_default_meta_config) */

#ifdef __cplusplus
#include <string>
extern "C" {
#endif

/* Our earlier name of the LocalService config, kept. */
typedef mmc_local_service_config_t mmc_local_config;

/* The seed's fields; device_id / init_bm are our earlier names of the same storage. */
typedef struct mmc_init_config {
    union {
        uint32_t deviceId; /* GPU ordinal for HBM (unused without CUDA) */
        uint32_t device_id;
    };
    union {
        bool initBm; /* true: start this process's LocalService and its BM (smem_bm_init). false: use the BM
                        the application set up with smem_bm_init; without one, a client-only process
                        (no BM, no rank: metadata calls only, copies answer MMC_NOT_INITIALIZED) */
        bool init_bm;
    };
} mmc_init_config;

/*
 * The seed's local configuration: one field per LocalService config key
 * (docs/CONFIG.md), the values written as in a config file. mmc_setup turns
 * it into `key = value` lines read by the same code as mmc-local.conf, so
 * the accepted values and the messages are the file's. A field left "" or 0
 * keeps the key's default (0 is also the seed's default where it has one);
 * the bool fields are always applied. config_path non-empty: that file is
 * read instead and the other fields are not looked at.
 * mmc_local_config_init fills the defaults (C++: create_default_local_config).
 */
typedef struct local_config {
    char config_path[PATH_MAX_SIZE];
    char meta_service_url[DISCOVERY_URL_SIZE]; /* ock.mmc.meta_service_url */
    char config_store_url[DISCOVERY_URL_SIZE]; /* ock.mmc.local_service.config_store_url */
    char log_level[10];                        /* ock.mmc.log_level: debug, info, warn, error */
    uint32_t world_size;                       /* ock.mmc.local_service.world_size */
    char protocol[PROTOCOL_SIZE];              /* ock.mmc.local_service.protocol */
    char hcom_url[DISCOVERY_URL_SIZE];         /* ock.mmc.local_service.hcom_url */
    char dram_size[64];                        /* ock.mmc.local_service.dram.size ("1GB", "134217728") */
    char hbm_size[64];                         /* ock.mmc.local_service.hbm.size */
    char max_dram_size[64];                    /* ock.mmc.local_service.max.dram.size */
    char max_hbm_size[64];                     /* ock.mmc.local_service.max.hbm.size */
    uint32_t client_retry_milliseconds;        /* ock.mmc.client.retry_milliseconds */
    uint32_t client_timeout_seconds;           /* ock.mmc.client.timeout.seconds */
    uint32_t read_thread_pool_size;            /* ock.mmc.client.read_thread_pool.size */
    uint32_t write_thread_pool_size;           /* ock.mmc.client.write_thread_pool.size */
    bool aggregate_io;                         /* ock.mmc.client.aggregate.io */
    uint32_t aggregate_num;                    /* ock.mmc.client.aggregate.num */
    bool ubs_io_enable;                        /* ock.mmc.ubs_io.enable (SSD tier: true needs the key) */
    char memory_pool_mode[MEM_POOL_MODE_SIZE]; /* ock.mmc.local_service.memory_pool_mode: standard / expanded */

    bool tls_enable; /* ock.mmc.tls.*: the MetaService link */
    char tls_ca_path[TLS_PATH_SIZE];
    char tls_ca_crl_path[TLS_PATH_SIZE];
    char tls_cert_path[TLS_PATH_SIZE];
    char tls_key_path[TLS_PATH_SIZE];
    char tls_key_pass_path[TLS_PATH_SIZE];
    char tls_package_path[TLS_PATH_SIZE];
    char tls_decrypter_path[TLS_PATH_SIZE];

    bool config_store_tls_enable; /* ock.mmc.config_store.tls.* */
    char config_store_tls_ca_path[TLS_PATH_SIZE];
    char config_store_tls_ca_crl_path[TLS_PATH_SIZE];
    char config_store_tls_cert_path[TLS_PATH_SIZE];
    char config_store_tls_key_path[TLS_PATH_SIZE];
    char config_store_tls_key_pass_path[TLS_PATH_SIZE];
    char config_store_tls_package_path[TLS_PATH_SIZE];
    char config_store_tls_decrypter_path[TLS_PATH_SIZE];

    bool hcom_tls_enable; /* ock.mmc.local_service.hcom.tls.*: the data plane */
    char hcom_tls_ca_path[TLS_PATH_SIZE];
    char hcom_tls_ca_crl_path[TLS_PATH_SIZE];
    char hcom_tls_cert_path[TLS_PATH_SIZE];
    char hcom_tls_key_path[TLS_PATH_SIZE];
    char hcom_tls_key_pass_path[TLS_PATH_SIZE];
    char hcom_tls_decrypter_path[TLS_PATH_SIZE];
} local_config;

/* Checks config and keeps it for the next mmc_init: MMC_CONFIG or
 * MMC_INVALID_PARAM with a message naming the key, MMC_UNSUPPORTED for a
 * value this build cannot do (the message says which). A later setup before
 * mmc_init replaces an earlier one. */
MMC_API int32_t mmc_setup(const local_config *config);
/* Ours: the same with a filled LocalService struct (checked:
 * MMC_INVALID_PARAM naming the key). */
MMC_API int32_t mmc_setup_local_service(const mmc_local_service_config_t *config);
/* Writes the defaults into cfg, as text where the field is text. */
MMC_API void mmc_local_config_init(local_config *cfg);
/* "key = value" lines of cfg, one per config key, into buf (NUL-terminated,
 * cut at cap); returns the length of the whole text, as snprintf. */
MMC_API size_t mmc_local_config_format(const local_config *cfg, char *buf, size_t cap);
MMC_API size_t mmc_meta_service_config_format(const mmc_meta_service_config_t *cfg, char *buf, size_t cap);

/* Starts this process's LocalService (initBm true) and binds the client to it.
 * MMC_OK also when already initialised (nothing changes). */
MMC_API int32_t mmc_init(const mmc_init_config *config);
/* Client uninit, then LocalService stop. Safe to call when not initialised. */
MMC_API void mmc_uninit(void);

/* Route memcache and memfabric log lines to func(level 0..3, msg); NULL is MMC_INVALID_PARAM. */
MMC_API int32_t mmc_set_extern_logger(void (*func)(int level, const char *msg));
/* 0 debug .. 3 error, 4 off. */
MMC_API int32_t mmc_set_log_level(int level);

#ifdef __cplusplus
}

/* The seed's C++ helpers, header-only over the calls above (static inline: no
 * library symbol; a redeclaration as in the seed's mmc.h keeps this one). */
static inline mmc_meta_service_config_t create_default_meta_config()
{
    mmc_meta_service_config_t c;
    mmc_meta_service_config_init(&c);
    return c;
}

static inline std::string meta_config_to_string(const mmc_meta_service_config_t &config)
{
    std::string s(mmc_meta_service_config_format(&config, nullptr, 0), '\0');
    mmc_meta_service_config_format(&config, &s[0], s.size() + 1);
    return s;
}

static inline local_config create_default_local_config()
{
    local_config c;
    mmc_local_config_init(&c);
    return c;
}

static inline std::string local_config_to_string(const local_config &config)
{
    std::string s(mmc_local_config_format(&config, nullptr, 0), '\0');
    mmc_local_config_format(&config, &s[0], s.size() + 1);
    return s;
}
#endif

#endif
