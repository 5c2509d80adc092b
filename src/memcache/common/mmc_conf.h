/*
 * The memcache configuration tables (mmc_conf_table.c: one per service,
 * each row one config key of docs/CONFIG.md and one field of the public
 * struct) and the file reading both services share. Everything about a key
 * (default, range, names, flag, Python attribute, help) is in its row; the
 * cross-field checks are in meta_conf.c and local_conf.c next to their use.
 */
#ifndef MMC_CONF_H
#define MMC_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcache/mmc_def.h"
#include "util/util_conf.h"

#define MMC_CONF_POOL_MAX 64u         /* ock.mmc.client.*_thread_pool.size */
#define MMC_CONF_SIZE_MAX (1ll << 40) /* 1 TiB: the BM per-rank stride limit */
#define MMC_CONF_HCOM_URL_MAX 63u     /* smem_bm_config_t.hcomUrl[64] */

/* Data only (the Python bindings compile mmc_conf_table.c too). */
extern const util_conf_spec_t mmc_meta_conf_table[];
extern const size_t mmc_meta_conf_rows;
extern const util_conf_spec_t mmc_local_conf_table[];
extern const size_t mmc_local_conf_rows;
extern const util_conf_spec_t mmc_client_conf_table[];
extern const char *const mmc_conf_proto_names[]; /* mmc_protocol_t, NULL-terminated */
extern const size_t mmc_client_conf_rows;

/* Reads `path` over cfg (a struct of the table; fields not in the file keep
 * their value): MMC_CONFIG "path:line: ..." on a bad line. */
int32_t mmc_conf_read(const char *path, const util_conf_spec_t *table, size_t rows, void *cfg,
                      util_conf_lines_t *lines);
/* check_rc is the caller's check of the loaded struct: on failure, MMC_CONFIG
 * "path:line: <its message>" with the line of the key the message starts with. */
int32_t mmc_conf_checked(const char *path, const util_conf_spec_t *table, size_t rows, const util_conf_lines_t *lines,
                         int32_t check_rc);

/* The seed writes the metrics URL without a scheme ("127.0.0.1:8000"): such a
 * URL becomes "http://..." in place (cap: the field's size); others are left. */
void mmc_conf_http_url_fix(char *url, size_t cap);

/* Opens the log file of ock.mmc.log_path for util_log (nothing for ""): a path
 * ending in ".log" is the file itself (our earlier form); anything else is a
 * directory as in the seed, the file being <dir>/logs/<file_name> (directories
 * created, 0750). rotate_mb/rotate_count are the seed's rotation keys (0: none
 * given): this build does not rotate, which it says at INFO. MMC_CONFIG naming
 * the path when it cannot be opened. */
int32_t mmc_conf_log_open(const char *log_path, const char *file_name, int32_t rotate_bytes, int32_t rotate_count);

#endif
