/* Configuration tables: defaults, checks and `key = value` files; see util_conf.h. */
#include "util/util_conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util_log.h"
#include "util/util_status.h"

#define UTIL_CONF_LINE_MAX 4096
#define UTIL_CONF_FILE_MAX (1u << 20)

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

int32_t util_conf_parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = true; return SMEM_OK; }
        if (strcasecmp(v, no[i]) == 0) { *out = false; return SMEM_OK; }
    }
    return SMEM_INVALID_PARAM;
}

/* ---------- fields in their native width ---------- */

static size_t util_conf_width(const util_conf_spec_t *sp)
{
    if (sp->type == UTIL_CONF_BOOL) return sizeof(bool);
    if (sp->type == UTIL_CONF_ENUM) return sizeof(int32_t);
    return sp->size == 0 ? 8 : sp->size;
}

static void util_conf_put(const util_conf_spec_t *sp, void *field, uint64_t v)
{
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;
    switch (util_conf_width(sp)) {
    case 1: memcpy(field, &u8, 1); break;
    case 2: memcpy(field, &u16, 2); break;
    case 4: memcpy(field, &u32, 4); break;
    default: memcpy(field, &v, 8); break;
    }
}

/* The field as a signed value (INT, ENUM) or as unsigned bits (UINT, SIZE). */
static uint64_t util_conf_get(const util_conf_spec_t *sp, const void *field)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    bool is_signed = sp->type == UTIL_CONF_INT || sp->type == UTIL_CONF_ENUM;
    switch (util_conf_width(sp)) {
    case 1: memcpy(&u8, field, 1); return u8;
    case 2: memcpy(&u16, field, 2); return u16;
    case 4: memcpy(&u32, field, 4); return is_signed ? (uint64_t)(int64_t)(int32_t)u32 : u32;
    default: memcpy(&u64, field, 8); return u64;
    }
}

static size_t util_conf_str_max(const util_conf_spec_t *sp)
{
    return sp->max > 0 && (size_t)sp->max < sp->size ? (size_t)sp->max : sp->size - 1;
}

static size_t util_conf_nnames(const util_conf_spec_t *sp)
{
    size_t n = 0;
    while (sp->names != NULL && sp->names[n] != NULL) n++;
    return n;
}

/* "a, b or c" (plus " or 0..N-1" when the index is accepted), for messages. */
static const char *util_conf_names_text(const util_conf_spec_t *sp, char *buf, size_t cap)
{
    size_t n = util_conf_nnames(sp), len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", sp->names[i]);
    if ((sp->flags & UTIL_CONF_F_NUM) && len < cap) snprintf(buf + len, cap - len, " (or 0..%zu)", n - 1);
    return buf;
}

/* ---------- one value ---------- */

static int32_t util_conf_set_int(const util_conf_spec_t *sp, const char *origin, const char *v, void *field)
{
    errno = 0;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0)
        return util_err_set(SMEM_CONFIG, "%s: value '%s' of '%s' is not an integer", origin, v, sp->key);
    if (x < sp->min || x > sp->max)
        return util_err_set(SMEM_CONFIG, "%s: value %lld of '%s' is out of range [%" PRId64 ", %" PRId64 "]", origin, x,
                            sp->key, sp->min, sp->max);
    util_conf_put(sp, field, (uint64_t)x << sp->shift);
    return SMEM_OK;
}

static int32_t util_conf_set_size(const util_conf_spec_t *sp, const char *origin, const char *v, void *field)
{
    uint64_t x = 0;
    if (util_conf_parse_size(v, &x) != SMEM_OK)
        return util_err_wrap(SMEM_CONFIG, "%s: value '%s' of '%s' is not a size", origin, v, sp->key);
    if (x < (uint64_t)sp->min || x > (uint64_t)sp->max)
        return util_err_set(SMEM_CONFIG, "%s: value %s (%" PRIu64 " bytes) of '%s' is out of range [%" PRId64 ", %" PRId64
                            "]", origin, v, x, sp->key, sp->min, sp->max);
    memcpy(field, &x, sizeof(x));
    return SMEM_OK;
}

static int32_t util_conf_set_enum(const util_conf_spec_t *sp, const char *origin, const char *v, void *field)
{
    size_t n = util_conf_nnames(sp);
    for (size_t i = 0; i < n; i++) {
        bool num = (sp->flags & UTIL_CONF_F_NUM) && v[0] == (char)('0' + i) && v[1] == '\0';
        if (strcasecmp(v, sp->names[i]) == 0 || num) {
            int32_t x = (int32_t)i;
            memcpy(field, &x, sizeof(x));
            return SMEM_OK;
        }
    }
    char names[256];
    return util_err_set(SMEM_CONFIG, "%s: value '%s' of '%s' is not %s", origin, v, sp->key,
                        util_conf_names_text(sp, names, sizeof(names)));
}

static int32_t util_conf_set_str(const util_conf_spec_t *sp, const char *origin, const char *v, void *field)
{
    size_t n = strlen(v);
    if (n > util_conf_str_max(sp))
        return util_err_set(SMEM_CONFIG, "%s: value of '%s' is %zu bytes, at most %zu allowed", origin, sp->key, n,
                            util_conf_str_max(sp));
    if (n == 0 && (sp->flags & UTIL_CONF_F_NONEMPTY))
        return util_err_set(SMEM_CONFIG, "%s: value of '%s' must not be empty", origin, sp->key);
    memcpy(field, v, n + 1);
    return SMEM_OK;
}

int32_t util_conf_set(const util_conf_spec_t *sp, const char *origin, const char *v, void *field)
{
    switch (sp->type) {
    case UTIL_CONF_STR: return util_conf_set_str(sp, origin, v, field);
    case UTIL_CONF_INT:
    case UTIL_CONF_UINT: return util_conf_set_int(sp, origin, v, field);
    case UTIL_CONF_SIZE: return util_conf_set_size(sp, origin, v, field);
    case UTIL_CONF_ENUM: return util_conf_set_enum(sp, origin, v, field);
    case UTIL_CONF_BOOL: {
        bool b = false;
        if (util_conf_parse_bool(v, &b) != SMEM_OK)
            return util_err_set(SMEM_CONFIG, "%s: value '%s' of '%s' is not a boolean (true/false)", origin, v, sp->key);
        memcpy(field, &b, sizeof(b));
        return SMEM_OK;
    }
    case UTIL_CONF_GROUP: break;
    }
    return util_err_set(SMEM_CONFIG, "%s: '%s' is not a single value", origin, sp->key);
}

/* ---------- defaults and checks ---------- */

int32_t util_conf_defaults(const util_conf_spec_t *specs, size_t nspecs, void *out)
{
    for (size_t i = 0; i < nspecs; i++) {
        const util_conf_spec_t *sp = &specs[i];
        char *field = (char *)out + sp->offset;
        int32_t rc = SMEM_OK;
        if (sp->flags & UTIL_CONF_F_IGNORED) continue; /* no field */
        if (sp->type == UTIL_CONF_GROUP) rc = util_conf_defaults(sp->sub, sp->nsub, field);
        else if (sp->def != NULL) rc = util_conf_set(sp, "default", sp->def, field);
        if (rc != SMEM_OK) return rc;
    }
    return SMEM_OK;
}

static int32_t util_conf_check_row(const util_conf_spec_t *sp, const char *name, const char *field, int32_t err)
{
    uint64_t v = 0;
    switch (sp->type) {
    case UTIL_CONF_STR:
        if (memchr(field, '\0', sp->size) == NULL) return util_err_set(err, "%s is not NUL-terminated", name);
        if (strlen(field) > util_conf_str_max(sp))
            return util_err_set(err, "%s is longer than %zu bytes", name, util_conf_str_max(sp));
        if (field[0] == '\0' && (sp->flags & UTIL_CONF_F_NONEMPTY)) return util_err_set(err, "%s is empty", name);
        return SMEM_OK;
    case UTIL_CONF_INT:
        v = (uint64_t)((int64_t)util_conf_get(sp, field) >> sp->shift);
        if ((int64_t)v < sp->min || (int64_t)v > sp->max)
            return util_err_set(err, "%s %" PRId64 " outside %" PRId64 "..%" PRId64, name, (int64_t)v, sp->min, sp->max);
        return SMEM_OK;
    case UTIL_CONF_UINT:
    case UTIL_CONF_SIZE:
        v = util_conf_get(sp, field) >> sp->shift;
        if (v < (uint64_t)sp->min || v > (uint64_t)sp->max)
            return util_err_set(err, "%s %" PRIu64 " outside %" PRId64 "..%" PRId64, name, v, sp->min, sp->max);
        return SMEM_OK;
    case UTIL_CONF_ENUM: {
        int64_t x = (int64_t)util_conf_get(sp, field);
        char names[256];
        if (x < 0 || (uint64_t)x >= util_conf_nnames(sp))
            return util_err_set(err, "%s %" PRId64 " unknown (%s)", name, x, util_conf_names_text(sp, names, sizeof(names)));
        return SMEM_OK;
    }
    case UTIL_CONF_BOOL:
    case UTIL_CONF_GROUP: return SMEM_OK;
    }
    return SMEM_OK;
}

static int32_t util_conf_check_in(const util_conf_spec_t *specs, size_t nspecs, const char *prefix, const char *in,
                                  int32_t err)
{
    for (size_t i = 0; i < nspecs; i++) {
        const util_conf_spec_t *sp = &specs[i];
        if (sp->flags & UTIL_CONF_F_IGNORED) continue;
        char name[256];
        snprintf(name, sizeof(name), "%s%s", prefix, sp->key ? sp->key : sp->field);
        int32_t rc;
        if (sp->type == UTIL_CONF_GROUP) {
            strncat(name, ".", sizeof(name) - strlen(name) - 1);
            rc = util_conf_check_in(sp->sub, sp->nsub, name, in + sp->offset, err);
        } else {
            rc = util_conf_check_row(sp, name, in + sp->offset, err);
        }
        if (rc != SMEM_OK) return rc;
    }
    return SMEM_OK;
}

int32_t util_conf_check(const util_conf_spec_t *specs, size_t nspecs, const void *in, int32_t err)
{
    return util_conf_check_in(specs, nspecs, "", in, err);
}

/* ---------- files ---------- */

static size_t util_conf_count(const util_conf_spec_t *specs, size_t nspecs)
{
    size_t n = 0;
    for (size_t i = 0; i < nspecs; i++) n += specs[i].type == UTIL_CONF_GROUP ? util_conf_count(specs[i].sub, specs[i].nsub) : 1;
    return n;
}

const util_conf_spec_t *util_conf_find(const util_conf_spec_t *specs, size_t nspecs, const char *key, size_t *offset,
                                       size_t *flat)
{
    size_t idx = 0;
    for (size_t i = 0; i < nspecs; i++) {
        const util_conf_spec_t *sp = &specs[i];
        size_t kl = sp->key ? strlen(sp->key) : 0;
        if (sp->type == UTIL_CONF_GROUP && kl > 0 && strncmp(key, sp->key, kl) == 0 && key[kl] == '.') {
            size_t sub_off = 0, sub_flat = 0;
            const util_conf_spec_t *r = util_conf_find(sp->sub, sp->nsub, key + kl + 1, &sub_off, &sub_flat);
            if (r != NULL) {
                *offset = sp->offset + sub_off;
                *flat = idx + sub_flat;
                return r;
            }
        } else if (sp->type != UTIL_CONF_GROUP && kl > 0 && strcmp(key, sp->key) == 0) {
            *offset = sp->offset;
            *flat = idx;
            return sp;
        }
        idx += sp->type == UTIL_CONF_GROUP ? util_conf_count(sp->sub, sp->nsub) : 1;
    }
    return NULL;
}

/* A compatibility key: its value must still be one of its type; then it is dropped, said at INFO. */
static int32_t util_conf_ignored(const util_conf_spec_t *sp, const char *origin, const char *v)
{
    uint64_t scratch[4] = {0};
    int32_t rc = SMEM_OK;
    if (sp->type != UTIL_CONF_STR && sp->type != UTIL_CONF_GROUP) {
        util_conf_spec_t row = *sp;
        row.size = row.type == UTIL_CONF_SIZE ? 8 : row.size; /* the scratch holds any number */
        rc = util_conf_set(&row, origin, v, scratch);
    }
    if (rc == SMEM_OK)
        LOG_INFO("%s: '%s = %s' accepted for compatibility with the seed and ignored: %s", origin, sp->key, v,
                 sp->help ? sp->help : "not used by this build");
    return rc;
}

/* One `key = value` line (trimmed, not a comment) into out. */
static int32_t util_conf_line(const char *name, unsigned line, char *s, const util_conf_spec_t *specs, size_t nspecs,
                              void *out, unsigned *seen)
{
    char *eq = strchr(s, '=');
    if (eq == NULL) return util_err_set(SMEM_CONFIG, "%s:%u: expected 'key = value'", name, line);
    *eq = '\0';
    char *key = util_conf_trim(s);
    char *val = util_conf_trim(eq + 1);
    if (*key == '\0') return util_err_set(SMEM_CONFIG, "%s:%u: empty key", name, line);
    size_t off = 0, flat = 0;
    const util_conf_spec_t *sp = util_conf_find(specs, nspecs, key, &off, &flat);
    if (sp == NULL) return util_err_set(SMEM_CONFIG, "%s:%u: unknown key '%s'", name, line, key);
    if (seen[flat] != 0)
        return util_err_set(SMEM_CONFIG, "%s:%u: key '%s' repeated (first set on line %u)", name, line, key, seen[flat]);
    seen[flat] = line;
    char origin[300];
    snprintf(origin, sizeof(origin), "%s:%u", name, line);
    util_conf_spec_t row = *sp;
    row.key = key; /* a group's rows are named by their whole key */
    if (sp->flags & UTIL_CONF_F_IGNORED) return util_conf_ignored(&row, origin, val);
    return util_conf_set(&row, origin, val, (char *)out + off);
}

static int32_t util_conf_load_lines(const char *name, const char *text, size_t len, const util_conf_spec_t *specs,
                                    size_t nspecs, void *out, util_conf_lines_t *lines)
{
    if (name == NULL || (text == NULL && len > 0) || specs == NULL || out == NULL ||
        util_conf_count(specs, nspecs) > UTIL_CONF_KEYS_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "util_conf_load_buf: bad arguments");
    util_conf_lines_t seen;
    memset(&seen, 0, sizeof(seen));
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
        int32_t rc = util_conf_line(name, line, s, specs, nspecs, out, seen.line);
        if (rc != SMEM_OK) return rc;
    }
    if (lines != NULL) *lines = seen;
    return SMEM_OK;
}

int32_t util_conf_load_buf(const char *name, const char *text, size_t len, const util_conf_spec_t *specs,
                           size_t nspecs, void *out)
{
    return util_conf_load_lines(name, text, len, specs, nspecs, out, NULL);
}

unsigned util_conf_line_of_msg(const util_conf_spec_t *specs, size_t nspecs, const util_conf_lines_t *lines,
                               const char *msg)
{
    char key[256];
    size_t n = strcspn(msg, " =:(");
    if (n == 0 || n >= sizeof(key)) return 0;
    memcpy(key, msg, n);
    key[n] = '\0';
    size_t off = 0, flat = 0;
    return util_conf_find(specs, nspecs, key, &off, &flat) != NULL ? lines->line[flat] : 0;
}

int32_t util_conf_load_file_lines(const char *path, const util_conf_spec_t *specs, size_t nspecs, void *out,
                                  util_conf_lines_t *lines)
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
    else rc = util_conf_load_lines(path, text, len, specs, nspecs, out, lines);
    free(text);
    return rc;
}

int32_t util_conf_load_file(const char *path, const util_conf_spec_t *specs, size_t nspecs, void *out)
{
    return util_conf_load_file_lines(path, specs, nspecs, out, NULL);
}

/* ---------- descriptions (docs, --help) ---------- */

static void util_conf_size_text(uint64_t v, char *buf, size_t cap)
{
    static const char *const units[] = {"TB", "GB", "MB", "KB"};
    for (int i = 0; i < 4; i++) {
        uint64_t unit = 1ull << (40 - 10 * i);
        if (v != 0 && v % unit == 0) {
            snprintf(buf, cap, "%" PRIu64 "%s", v / unit, units[i]);
            return;
        }
    }
    snprintf(buf, cap, "%" PRIu64, v);
}

const char *util_conf_values(const util_conf_spec_t *sp, char *buf, size_t cap)
{
    char lo[32], hi[32];
    if (sp->flags & UTIL_CONF_F_IGNORED) {
        snprintf(buf, cap, "accepted, ignored (%s)", sp->type == UTIL_CONF_BOOL ? "true, false" : "any text");
        return buf;
    }
    switch (sp->type) {
    case UTIL_CONF_STR:
        snprintf(buf, cap, "up to %zu bytes%s", util_conf_str_max(sp),
                 (sp->flags & UTIL_CONF_F_NONEMPTY) ? ", not empty" : "");
        break;
    case UTIL_CONF_INT:
    case UTIL_CONF_UINT:
        snprintf(buf, cap, "%" PRId64 "..%" PRId64 "%s", sp->min, sp->max, sp->shift == 20 ? " (MB)" : "");
        break;
    case UTIL_CONF_SIZE:
        util_conf_size_text((uint64_t)sp->min, lo, sizeof(lo));
        util_conf_size_text((uint64_t)sp->max, hi, sizeof(hi));
        snprintf(buf, cap, "%s..%s", lo, hi);
        break;
    case UTIL_CONF_BOOL: snprintf(buf, cap, "true, false"); break;
    case UTIL_CONF_ENUM: util_conf_names_text(sp, buf, cap); break;
    case UTIL_CONF_GROUP: snprintf(buf, cap, "TLS block"); break;
    }
    return buf;
}
