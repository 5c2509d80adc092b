/*
 * Pieces shared by the MetaService's and the LocalService's `key = value`
 * readers (src/memcache/meta/meta_conf.c, src/memcache/local/local_conf.c):
 * the TLS block of the seed's config keys, the log-level names, and the line
 * of a key for checks that util_conf cannot make itself.
 */
#ifndef MMC_CONF_H
#define MMC_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcache/mmc_def.h"
#include "util/util_conf.h"

/* util_conf writes bool/char[]: the file-side mirror of mmc_tls_config. */
typedef struct mmc_conf_tls {
    bool enable;
    char ca[MMC_PATH_SIZE], crl[MMC_PATH_SIZE], cert[MMC_PATH_SIZE], key[MMC_PATH_SIZE], pass[MMC_PATH_SIZE],
        pkg[MMC_PATH_SIZE], dec[MMC_PATH_SIZE];
} mmc_conf_tls_t;

#define MMC_CONF_STR(type, k, m) {k, UTIL_CONF_STR, offsetof(type, m), sizeof(((type *)0)->m), 0, 0}
/* The eight keys "<prefix>.enable", ".ca.path", ... of one TLS block, into member m (an mmc_conf_tls_t). */
#define MMC_CONF_TLS(type, prefix, m)                                                                        \
    {prefix ".enable", UTIL_CONF_BOOL, offsetof(type, m.enable), 0, 0, 0},                                   \
        MMC_CONF_STR(type, prefix ".ca.path", m.ca), MMC_CONF_STR(type, prefix ".ca.crl.path", m.crl),       \
        MMC_CONF_STR(type, prefix ".cert.path", m.cert), MMC_CONF_STR(type, prefix ".key.path", m.key),      \
        MMC_CONF_STR(type, prefix ".key.pass.path", m.pass), MMC_CONF_STR(type, prefix ".package.path", m.pkg), \
        MMC_CONF_STR(type, prefix ".decrypter.path", m.dec)

void mmc_conf_tls_to_file(const mmc_tls_config *t, mmc_conf_tls_t *f);
void mmc_conf_tls_from_file(const mmc_conf_tls_t *f, mmc_tls_config *t);
/* Line number of `key` in the file (0 if not found), for messages about values util_conf accepted. */
int mmc_conf_line_of(const char *path, const char *key);
/* "debug".."off" or "0".."4" -> 0..4; MMC_INVALID_PARAM otherwise. */
int32_t mmc_conf_parse_log_level(const char *s, int32_t *out);

#endif
