/*
 * memfabric (libsmem): common calls. Names and values follow the seed
 * system's smem.h; differences are listed in docs/API.md.
 *
 * Thread rules: every call is safe from any thread. Error messages are per
 * thread (smem_get_last_err_msg).
 */
#ifndef SMEM_HOST_SMEM_H
#define SMEM_HOST_SMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Siblings by plain name, so seed programs compiled with -I<prefix>/include/smem/host
 * (and ours with -I<prefix>/include and "smem/host/smem.h") both find them. */
#include "smem_bm_def.h"
#include "smem_export.h"
#include "smem_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes (0 ok, negative errors): SMEM_SUCCESS and SMEM_ERR_<NAME>, listed in smem_status.h. */

/* Seed constants. SMEM_WORLD_SIZE_MAX: most ranks of a BM or SHM world (smem_bm_init,
 * smem_shm_init, smem_shm_create's rank_size). SMEM_INVALID_DEV_ID: "no device". The copy
 * flags ASYNC_COPY_FLAG and COPY_EXTEND_FLAG live in smem_bm_def.h, included above. */
#define SMEM_WORLD_SIZE_MAX 1024U
#define SMEM_INVALID_DEV_ID (-1)

/* Log levels for smem_set_log_level and the external logger. */
#define SMEM_LOG_DEBUG 0
#define SMEM_LOG_INFO 1
#define SMEM_LOG_WARN 2
#define SMEM_LOG_ERROR 3

/* Initialise the library (idempotent; flags reserved, must be 0). */
SMEM_API int32_t smem_init(uint32_t flags);
/* Stops config stores started by smem_create_config_store and releases global state. */
SMEM_API void smem_uninit(void);

/* Route the library's log lines to func(level, msg); NULL is rejected (seed behaviour). */
SMEM_API int32_t smem_set_extern_logger(void (*func)(int level, const char *msg));
/* 0 debug .. 3 error; 4 turns logging off. Default: 3 (or SMEM_LOG_LEVEL from the environment). */
SMEM_API int32_t smem_set_log_level(int level);

/* The calling thread's last error message ("" when none). */
SMEM_API const char *smem_get_last_err_msg(void);
SMEM_API const char *smem_get_and_clear_last_err_msg(void);
/* Short description of a status code. */
SMEM_API const char *smem_strerror(int32_t status);

/*
 * Start a config store server inside this process on "tcp://ip:port",
 * "tcp://[v6]:port" or "unix:///path". It serves until smem_uninit (or
 * smem_destroy_config_store). Uses the TLS settings given before the call.
 */
SMEM_API int32_t smem_create_config_store(const char *store_url);
/* Ours: stop a store started by smem_create_config_store (SMEM_ERR_OBJECT_NOT_EXISTS if none on that URL). */
SMEM_API int32_t smem_destroy_config_store(const char *store_url);

/*
 * TLS for the config store (servers started after the call and clients of
 * later smem_bm/shm/trans inits). tls_info: "key:value" pairs separated by
 * ';' or newlines: tlsCaPath (CA bundle), tlsCrlPath (optional CRL), tlsCert
 * (certificate), tlsPk (private key), tlsPkPwd (optional file holding the key
 * password). enable=false turns TLS off and ignores tls_info.
 */
SMEM_API int32_t smem_set_conf_store_tls(bool enable, const char *tls_info, const uint32_t tls_info_len);

/*
 * Decrypts an encrypted key password: writes the plain text and its length
 * (in: the capacity of plain_text). The seed declares the length as a C++
 * reference (size_t &), which C cannot spell; C++ gets the seed's form and C
 * a pointer. Both pass the same address, so one library serves either.
 */
#ifdef __cplusplus
typedef int (*smem_decrypt_handler)(const char *cipher_text, size_t cipher_text_len, char *plain_text,
                                    size_t &plain_text_len);
#else
typedef int (*smem_decrypt_handler)(const char *cipher_text, size_t cipher_text_len, char *plain_text,
                                    size_t *plain_text_len);
#endif

/*
 * Private key (PEM text) and its password for the config store's TLS, in
 * memory rather than in files. When h is not NULL the password is passed
 * through it before use. pk_pw may be NULL for an unencrypted key.
 */
SMEM_API int32_t smem_set_config_store_tls_key(const char *tls_pk, const uint32_t tls_pk_len, const char *tls_pk_pw,
                                               const uint32_t tls_pk_pw_len, const smem_decrypt_handler h);

/*
 * The decrypter library contract (smem_tls_config.decrypterLibPath, and the
 * memcache TLS blocks' decrypterLibPath): a shared library exporting, as the
 * seed's does,
 *     int DecryptPassword(const char *cipher, size_t cipher_len, char *plain, size_t plain_cap);
 * called with the key password file's text (NUL-terminated, cipher_len its
 * length without the NUL) and a zeroed buffer of plain_cap bytes; it returns 0
 * and leaves the plain text NUL-terminated in plain. Ours, kept as an
 * addition: a library without DecryptPassword may export `decrypt` with the
 * C smem_decrypt_handler signature (the length through a pointer).
 */
#define SMEM_DECRYPTER_SYMBOL "DecryptPassword"
typedef int (*smem_decrypt_password_fn)(const char *cipher, size_t cipher_len, char *plain, size_t plain_cap);

#ifdef __cplusplus
}
#endif
#endif
