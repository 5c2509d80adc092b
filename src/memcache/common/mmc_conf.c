/* Shared pieces of the memcache config readers; see mmc_conf.h. */
#include "memcache/common/mmc_conf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void mmc_conf_tls_to_file(const mmc_tls_config *t, mmc_conf_tls_t *f)
{
    f->enable = t->tlsEnable;
    memcpy(f->ca, t->caPath, MMC_PATH_SIZE);
    memcpy(f->crl, t->crlPath, MMC_PATH_SIZE);
    memcpy(f->cert, t->certPath, MMC_PATH_SIZE);
    memcpy(f->key, t->keyPath, MMC_PATH_SIZE);
    memcpy(f->pass, t->keyPassPath, MMC_PATH_SIZE);
    memcpy(f->pkg, t->packagePath, MMC_PATH_SIZE);
    memcpy(f->dec, t->decrypterLibPath, MMC_PATH_SIZE);
}

void mmc_conf_tls_from_file(const mmc_conf_tls_t *f, mmc_tls_config *t)
{
    t->tlsEnable = f->enable;
    memcpy(t->caPath, f->ca, MMC_PATH_SIZE);
    memcpy(t->crlPath, f->crl, MMC_PATH_SIZE);
    memcpy(t->certPath, f->cert, MMC_PATH_SIZE);
    memcpy(t->keyPath, f->key, MMC_PATH_SIZE);
    memcpy(t->keyPassPath, f->pass, MMC_PATH_SIZE);
    memcpy(t->packagePath, f->pkg, MMC_PATH_SIZE);
    memcpy(t->decrypterLibPath, f->dec, MMC_PATH_SIZE);
}

int mmc_conf_line_of(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0, found = 0;
    size_t kl = strlen(key);
    if (f == NULL) return 0;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        const char *p = line;
        n++;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, key, kl) == 0 && (p[kl] == ' ' || p[kl] == '\t' || p[kl] == '=')) found = n;
    }
    fclose(f);
    return found;
}

int32_t mmc_conf_parse_log_level(const char *s, int32_t *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int32_t i = 0; i < 5; i++) {
        if (strcasecmp(s, names[i]) == 0 || (s[0] == (char)('0' + i) && s[1] == '\0')) {
            *out = i;
            return MMC_OK;
        }
    }
    return MMC_INVALID_PARAM;
}
