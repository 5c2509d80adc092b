/* `key = value` configuration files checked against a schema. */
#include "util/util_conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util_status.h"

#define UTIL_CONF_LINE_MAX 4096
#define UTIL_CONF_FILE_MAX (1u << 20)
#define UTIL_CONF_KEYS_MAX 256

int32_t util_conf_parse_size(const char *s, uint64_t *out)
{
    if (s == NULL || out == NULL) return util_err_set(SMEM_INVALID_PARAM, "size string is NULL");
    const char *p = s;
    while (isspace((unsigned char)*p)) p++;
    if (!isdigit((unsigned char)*p)) return util_err_set(SMEM_INVALID_PARAM, "size '%s' does not start with a digit", s);

    /* Integer and fraction parts kept exact: value = whole + frac_num / frac_den. */
    uint64_t whole = 0, frac_num = 0, frac_den = 1;
    for (; isdigit((unsigned char)*p); p++) {
        if (whole > (UINT64_MAX - 9) / 10) return util_err_set(SMEM_OUT_OF_RANGE, "size '%s' overflows", s);
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return util_err_set(SMEM_INVALID_PARAM, "size '%s': digit expected after '.'", s);
        for (; isdigit((unsigned char)*p); p++) {
            if (frac_den >= 1000000000000ull) return util_err_set(SMEM_INVALID_PARAM, "size '%s': too many decimals", s);
            frac_num = frac_num * 10 + (uint64_t)(*p - '0');
            frac_den *= 10;
        }
    }
    while (isspace((unsigned char)*p)) p++;

    static const struct { const char *suffix; unsigned shift; } units[] = {
        {"", 0}, {"B", 0}, {"K", 10}, {"KB", 10}, {"KIB", 10}, {"M", 20}, {"MB", 20}, {"MIB", 20},
        {"G", 30}, {"GB", 30}, {"GIB", 30}, {"T", 40}, {"TB", 40}, {"TIB", 40},
    };
    char unit[8] = {0};
    size_t ul = 0;
    while (*p != '\0' && !isspace((unsigned char)*p)) {
        if (ul + 1 >= sizeof(unit)) return util_err_set(SMEM_INVALID_PARAM, "size '%s': unknown unit", s);
        unit[ul++] = (char)toupper((unsigned char)*p++);
    }
    while (isspace((unsigned char)*p)) p++;
    if (*p != '\0') return util_err_set(SMEM_INVALID_PARAM, "size '%s': trailing characters", s);
    int shift = -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(unit, units[i].suffix) == 0) shift = (int)units[i].shift;
    }
    if (shift < 0) return util_err_set(SMEM_INVALID_PARAM, "size '%s': unknown unit '%s' (use B, KB, MB, GB, TB)", s, unit);

    uint64_t mult = 1ull << shift;
    if (whole != 0 && whole > UINT64_MAX / mult) return util_err_set(SMEM_OUT_OF_RANGE, "size '%s' overflows", s);
    uint64_t bytes = whole * mult;
    if (frac_num != 0) {
        /* frac_num/frac_den * 2^shift must be a whole number of bytes. */
        unsigned __int128 f = (unsigned __int128)frac_num * mult;
        if (f % frac_den != 0) return util_err_set(SMEM_INVALID_PARAM, "size '%s' is not a whole number of bytes", s);
        uint64_t add = (uint64_t)(f / frac_den);
        if (bytes > UINT64_MAX - add) return util_err_set(SMEM_OUT_OF_RANGE, "size '%s' overflows", s);
        bytes += add;
    }
    *out = bytes;
    return SMEM_OK;
}

static char *util_conf_trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int32_t util_conf_parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = true; return SMEM_OK; }
        if (strcasecmp(v, no[i]) == 0) { *out = false; return SMEM_OK; }
    }
    return SMEM_INVALID_PARAM;
}

static int32_t util_conf_apply(const char *name, unsigned line, const util_conf_spec_t *sp, const char *v, void *out)
{
    char *field = (char *)out + sp->offset;
    switch (sp->type) {
    case UTIL_CONF_STR: {
        size_t n = strlen(v);
        if (n + 1 > sp->size)
            return util_err_set(SMEM_CONFIG, "%s:%u: value of '%s' is %zu bytes, at most %zu allowed", name, line, sp->key,
                                n, sp->size - 1);
        memcpy(field, v, n + 1);
        return SMEM_OK;
    }
    case UTIL_CONF_INT: {
        errno = 0;
        char *end = NULL;
        long long x = strtoll(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno != 0)
            return util_err_set(SMEM_CONFIG, "%s:%u: value '%s' of '%s' is not an integer", name, line, v, sp->key);
        if (x < sp->min || x > sp->max)
            return util_err_set(SMEM_CONFIG, "%s:%u: value %lld of '%s' is out of range [%" PRId64 ", %" PRId64 "]", name,
                                line, x, sp->key, sp->min, sp->max);
        int64_t y = x;
        memcpy(field, &y, sizeof(y));
        return SMEM_OK;
    }
    case UTIL_CONF_SIZE: {
        uint64_t x = 0;
        if (util_conf_parse_size(v, &x) != SMEM_OK)
            return util_err_wrap(SMEM_CONFIG, "%s:%u: value '%s' of '%s' is not a size", name, line, v, sp->key);
        if (x < (uint64_t)sp->min || x > (uint64_t)sp->max)
            return util_err_set(SMEM_CONFIG, "%s:%u: value %s (%" PRIu64 " bytes) of '%s' is out of range [%" PRId64
                                ", %" PRId64 "]", name, line, v, x, sp->key, sp->min, sp->max);
        memcpy(field, &x, sizeof(x));
        return SMEM_OK;
    }
    case UTIL_CONF_BOOL: {
        bool b = false;
        if (util_conf_parse_bool(v, &b) != SMEM_OK)
            return util_err_set(SMEM_CONFIG, "%s:%u: value '%s' of '%s' is not a boolean (true/false)", name, line, v,
                                sp->key);
        memcpy(field, &b, sizeof(b));
        return SMEM_OK;
    }
    }
    return util_err_set(SMEM_CONFIG, "%s:%u: bad schema type for '%s'", name, line, sp->key);
}

int32_t util_conf_load_buf(const char *name, const char *text, size_t len, const util_conf_spec_t *specs,
                           size_t nspecs, void *out)
{
    if (name == NULL || (text == NULL && len > 0) || specs == NULL || out == NULL || nspecs > UTIL_CONF_KEYS_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "util_conf_load_buf: bad arguments");
    unsigned seen_line[UTIL_CONF_KEYS_MAX] = {0};
    char buf[UTIL_CONF_LINE_MAX];
    size_t pos = 0;
    unsigned line = 0;
    while (pos < len) {
        line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (n >= sizeof(buf)) return util_err_set(SMEM_CONFIG, "%s:%u: line longer than %d bytes", name, line, UTIL_CONF_LINE_MAX - 1);
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        pos += n + (nl ? 1 : 0);
        if (memchr(buf, '\0', n) != NULL) return util_err_set(SMEM_CONFIG, "%s:%u: NUL byte in line", name, line);

        char *s = util_conf_trim(buf);
        if (*s == '\0' || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) return util_err_set(SMEM_CONFIG, "%s:%u: expected 'key = value'", name, line);
        *eq = '\0';
        char *key = util_conf_trim(s);
        char *val = util_conf_trim(eq + 1);
        if (*key == '\0') return util_err_set(SMEM_CONFIG, "%s:%u: empty key", name, line);
        size_t i = 0;
        while (i < nspecs && strcmp(specs[i].key, key) != 0) i++;
        if (i == nspecs) return util_err_set(SMEM_CONFIG, "%s:%u: unknown key '%s'", name, line, key);
        if (seen_line[i] != 0)
            return util_err_set(SMEM_CONFIG, "%s:%u: key '%s' repeated (first set on line %u)", name, line, key, seen_line[i]);
        seen_line[i] = line;
        int32_t rc = util_conf_apply(name, line, &specs[i], val, out);
        if (rc != SMEM_OK) return rc;
    }
    return SMEM_OK;
}

int32_t util_conf_load_file(const char *path, const util_conf_spec_t *specs, size_t nspecs, void *out)
{
    if (path == NULL) return util_err_set(SMEM_INVALID_PARAM, "config path is NULL");
    FILE *f = fopen(path, "r");
    if (f == NULL) return util_err_set(SMEM_CONFIG, "cannot open config file %s: %s", path, strerror(errno));
    char *text = malloc(UTIL_CONF_FILE_MAX + 1);
    if (text == NULL) {
        fclose(f);
        return util_err_set(SMEM_MALLOC_FAILED, "no memory for config file %s", path);
    }
    size_t len = fread(text, 1, UTIL_CONF_FILE_MAX + 1, f);
    int rd_err = ferror(f);
    fclose(f);
    int32_t rc;
    if (rd_err) rc = util_err_set(SMEM_CONFIG, "cannot read config file %s", path);
    else if (len > UTIL_CONF_FILE_MAX) rc = util_err_set(SMEM_CONFIG, "config file %s is larger than %u bytes", path, UTIL_CONF_FILE_MAX);
    else rc = util_conf_load_buf(path, text, len, specs, nspecs, out);
    free(text);
    return rc;
}
