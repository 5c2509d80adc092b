/*
 * The seed's text-valued local configuration (mmc.h local_config) and the
 * config formatters behind its C++ helpers. A thin translation: mmc_setup
 * writes the struct as the `key = value` lines of an mmc-local.conf and
 * reads them with mmc_local_service_config_load, so values, ranges and
 * messages are the file's; nothing here knows what a key means.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/mmc.h"
#include "memcache/mmc_service.h"
#include "util/util_status.h"

typedef enum { CS_STR, CS_U32, CS_BOOL } cs_kind_t;

/* One local_config field and the config key it stands for. */
typedef struct cs_row {
    const char *field; /* local_config member, for messages */
    const char *key;
    cs_kind_t kind;
    size_t offset, size;
    const char *idle; /* a value that needs no key when ours lacks it (NULL: "", 0 or false) */
} cs_row_t;

#define CS(k, f, kind) {#f, k, kind, offsetof(local_config, f), sizeof(((local_config *)0)->f), NULL}
#define CS_IDLE(k, f, kind, idle) {#f, k, kind, offsetof(local_config, f), sizeof(((local_config *)0)->f), idle}
#define CS_TLS(p, f)                                                                                                \
    CS(p ".enable", f##_enable, CS_BOOL), CS(p ".ca.path", f##_ca_path, CS_STR),                                    \
        CS(p ".ca.crl.path", f##_ca_crl_path, CS_STR), CS(p ".cert.path", f##_cert_path, CS_STR),                   \
        CS(p ".key.path", f##_key_path, CS_STR), CS(p ".key.pass.path", f##_key_pass_path, CS_STR)

static const cs_row_t cs_rows[] = {
    CS("ock.mmc.meta_service_url", meta_service_url, CS_STR),
    CS("ock.mmc.local_service.config_store_url", config_store_url, CS_STR),
    CS("ock.mmc.log_level", log_level, CS_STR),
    CS("ock.mmc.local_service.world_size", world_size, CS_U32),
    CS("ock.mmc.local_service.protocol", protocol, CS_STR),
    CS("ock.mmc.local_service.hcom_url", hcom_url, CS_STR),
    CS("ock.mmc.local_service.dram.size", dram_size, CS_STR),
    CS("ock.mmc.local_service.hbm.size", hbm_size, CS_STR),
    CS("ock.mmc.local_service.max.dram.size", max_dram_size, CS_STR),
    CS("ock.mmc.local_service.max.hbm.size", max_hbm_size, CS_STR),
    CS("ock.mmc.client.retry_milliseconds", client_retry_milliseconds, CS_U32),
    CS("ock.mmc.client.timeout.seconds", client_timeout_seconds, CS_U32),
    CS("ock.mmc.client.read_thread_pool.size", read_thread_pool_size, CS_U32),
    CS("ock.mmc.client.write_thread_pool.size", write_thread_pool_size, CS_U32),
    CS("ock.mmc.client.aggregate.io", aggregate_io, CS_BOOL),
    CS("ock.mmc.client.aggregate.num", aggregate_num, CS_U32),
    CS("ock.mmc.ubs_io.enable", ubs_io_enable, CS_BOOL),
    CS_IDLE("ock.mmc.local_service.memory_pool_mode", memory_pool_mode, CS_STR, "standard"),
    CS_TLS("ock.mmc.tls", tls),
    CS("ock.mmc.tls.package.path", tls_package_path, CS_STR),
    CS("ock.mmc.tls.decrypter.path", tls_decrypter_path, CS_STR),
    CS_TLS("ock.mmc.config_store.tls", config_store_tls),
    CS("ock.mmc.config_store.tls.package.path", config_store_tls_package_path, CS_STR),
    CS("ock.mmc.config_store.tls.decrypter.path", config_store_tls_decrypter_path, CS_STR),
    CS_TLS("ock.mmc.local_service.hcom.tls", hcom_tls),
    CS("ock.mmc.local_service.hcom.tls.decrypter.path", hcom_tls_decrypter_path, CS_STR),
};
#define CS_NROWS (sizeof(cs_rows) / sizeof(cs_rows[0]))

/* ---------- bounded text output (snprintf's contract: returns the full length) ---------- */

typedef struct cs_out {
    char *buf;
    size_t cap, len;
} cs_out_t;

static void cs_printf(cs_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cs_printf(cs_out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *at = o->buf != NULL && o->len < o->cap ? o->buf + o->len : NULL;
    int n = vsnprintf(at, at != NULL ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static const void *cs_at(const local_config *c, const cs_row_t *r) { return (const char *)c + r->offset; }

/* The value of a row as config-file text into o; false when the field is idle ("" or 0) for a text/number row. */
static bool cs_value(const local_config *c, const cs_row_t *r, cs_out_t *o)
{
    const void *p = cs_at(c, r);
    switch (r->kind) {
    case CS_STR:
        cs_printf(o, "%.*s", (int)strnlen(p, r->size), (const char *)p);
        return ((const char *)p)[0] != '\0';
    case CS_U32: {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        cs_printf(o, "%" PRIu32, v);
        return v != 0;
    }
    case CS_BOOL:
    default: cs_printf(o, "%s", *(const bool *)p ? "true" : "false"); return true;
    }
}

size_t mmc_local_config_format(const local_config *cfg, char *buf, size_t cap)
{
    cs_out_t o = {buf, cap, 0};
    if (buf != NULL && cap > 0) buf[0] = '\0';
    if (cfg == NULL) return 0;
    if (cfg->config_path[0] != '\0') cs_printf(&o, "# config_path = %.*s\n", PATH_MAX_SIZE, cfg->config_path);
    for (size_t i = 0; i < CS_NROWS; i++) {
        cs_printf(&o, "%s = ", cs_rows[i].key);
        cs_value(cfg, &cs_rows[i], &o);
        cs_printf(&o, "\n");
    }
    return o.len;
}

void mmc_local_config_init(local_config *cfg)
{
    if (cfg == NULL) return;
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CS_NROWS; i++) {
        const cs_row_t *r = &cs_rows[i];
        size_t off, flat;
        const util_conf_spec_t *sp = util_conf_find(mmc_local_conf_table, mmc_local_conf_rows, r->key, &off, &flat);
        const char *def = sp != NULL ? sp->def : r->idle;
        if (def == NULL) continue;
        void *p = (char *)cfg + r->offset;
        if (r->kind == CS_STR) {
            snprintf(p, r->size, "%s", def);
        } else if (r->kind == CS_U32) {
            uint32_t v = (uint32_t)strtoul(def, NULL, 10);
            memcpy(p, &v, sizeof(v));
        } else {
            bool b = false;
            if (util_conf_parse_bool(def, &b) == SMEM_OK) *(bool *)p = b;
        }
    }
}

/* The lines mmc_setup feeds to the file reader; *line_of[i] is the row of line i + 1. */
static int32_t cs_lines(const local_config *c, cs_out_t *o, size_t *line_row, size_t *nlines)
{
    *nlines = 0;
    for (size_t i = 0; i < CS_NROWS; i++) {
        const cs_row_t *r = &cs_rows[i];
        const char *p = cs_at(c, r);
        if (r->kind == CS_STR) {
            size_t n = strnlen(p, r->size);
            if (n == r->size)
                return util_err_set(MMC_INVALID_PARAM, "mmc_setup: local_config.%s is not NUL-terminated", r->field);
            if (strpbrk(p, "\r\n#") != NULL)
                return util_err_set(MMC_INVALID_PARAM, "mmc_setup: local_config.%s holds a newline or '#'", r->field);
        }
        char val[DISCOVERY_URL_SIZE + 1];
        cs_out_t v = {val, sizeof(val), 0};
        bool set = cs_value(c, r, &v);
        size_t off, flat;
        if (util_conf_find(mmc_local_conf_table, mmc_local_conf_rows, r->key, &off, &flat) == NULL) {
            bool idle = r->kind == CS_BOOL ? strcmp(val, "false") == 0 : !set || (r->idle && !strcmp(val, r->idle));
            if (idle) continue;
            return util_err_set(MMC_UNSUPPORTED, "mmc_setup: local_config.%s = %s (%s) is not supported by this build",
                                r->field, val, r->key);
        }
        if (!set) continue; /* "" or 0: the key's default */
        cs_printf(o, "%s = %s\n", r->key, val);
        line_row[(*nlines)++] = i;
    }
    return MMC_OK;
}

/* Reads the lines through the file loader (an anonymous memory file), so a
 * value means here exactly what it means in mmc-local.conf; the message's
 * "path:line:" becomes the field's name. */
static int32_t cs_load(const char *text, size_t len, const size_t *line_row, mmc_local_service_config_t *lc)
{
    int fd = memfd_create("mmc_local_config", MFD_CLOEXEC);
    if (fd < 0) return util_err_set(MMC_ERROR, "mmc_setup: memfd_create: %s", strerror(errno));
    int32_t rc = MMC_OK;
    if (write(fd, text, len) != (ssize_t)len) {
        rc = util_err_set(MMC_ERROR, "mmc_setup: writing the config lines: %s", strerror(errno));
        goto close_fd;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    rc = mmc_local_service_config_load(path, lc);
    if (rc != MMC_OK) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s", mmc_get_last_err_msg());
        size_t pl = strlen(path);
        unsigned line = 0;
        int used = 0;
        if (strncmp(msg, path, pl) == 0 && sscanf(msg + pl, ":%u:%n", &line, &used) == 1 && line >= 1 && used > 0)
            util_err_set(rc, "mmc_setup: local_config.%s:%s", cs_rows[line_row[line - 1]].field, msg + pl + used);
        else if (strncmp(msg, path, pl) == 0)
            util_err_set(rc, "mmc_setup: local_config%s", msg + pl);
        else
            util_err_set(rc, "mmc_setup: %s", msg);
    }
close_fd:
    close(fd);
    return rc;
}

int32_t mmc_setup(const local_config *config)
{
    if (config == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_setup: config is NULL");
    mmc_local_service_config_t lc;
    mmc_local_service_config_init(&lc);
    int32_t rc;
    if (strnlen(config->config_path, PATH_MAX_SIZE) == PATH_MAX_SIZE)
        return util_err_set(MMC_INVALID_PARAM, "mmc_setup: local_config.config_path is not NUL-terminated");
    if (config->config_path[0] != '\0') {
        rc = mmc_local_service_config_load(config->config_path, &lc);
        if (rc != MMC_OK) return rc;
        return mmc_setup_local_service(&lc);
    }
    size_t line_row[CS_NROWS];
    size_t nlines;
    cs_out_t o = {NULL, 0, 0};
    rc = cs_lines(config, &o, line_row, &nlines); /* first pass: the length */
    if (rc != MMC_OK) return rc;
    char *text = malloc(o.len + 1);
    if (text == NULL) return util_err_set(MMC_MALLOC_FAILED, "mmc_setup: out of memory");
    o = (cs_out_t){text, o.len + 1, 0};
    text[0] = '\0';
    rc = cs_lines(config, &o, line_row, &nlines);
    if (rc == MMC_OK) rc = cs_load(text, o.len, line_row, &lc);
    free(text);
    if (rc != MMC_OK) return rc;
    return mmc_setup_local_service(&lc);
}

/* ---------- a service config as `key = value` text (the seed's *_config_to_string) ---------- */

static void cs_fmt_rows(const util_conf_spec_t *rows, size_t n, const char *base, const char *prefix, cs_out_t *o)
{
    for (size_t i = 0; i < n; i++) {
        const util_conf_spec_t *r = &rows[i];
        if (r->key == NULL || (r->flags & UTIL_CONF_F_IGNORED)) continue; /* an ignored seed key has no field */
        const char *p = base + r->offset;
        if (r->type == UTIL_CONF_GROUP) {
            char sub[128];
            snprintf(sub, sizeof(sub), "%s%s.", prefix, r->key);
            cs_fmt_rows(r->sub, r->nsub, p, sub, o);
            continue;
        }
        cs_printf(o, "%s%s = ", prefix, r->key);
        switch (r->type) {
        case UTIL_CONF_STR: cs_printf(o, "%.*s", (int)strnlen(p, r->size), p); break;
        case UTIL_CONF_BOOL: cs_printf(o, "%s", *(const bool *)p ? "true" : "false"); break;
        case UTIL_CONF_INT: {
            int64_t v = 0;
            if (r->size == 4) {
                int32_t w;
                memcpy(&w, p, 4);
                v = w;
            } else {
                memcpy(&v, p, 8);
            }
            cs_printf(o, "%" PRId64, v);
            break;
        }
        case UTIL_CONF_ENUM: {
            uint32_t v;
            memcpy(&v, p, sizeof(v));
            size_t k = 0;
            while (r->names != NULL && r->names[k] != NULL && k < v) k++;
            if (r->names != NULL && r->names[k] != NULL)
                cs_printf(o, "%s", r->names[k]);
            else
                cs_printf(o, "%" PRIu32, v);
            break;
        }
        default: { /* UINT and SIZE: unsigned of r->size bytes */
            uint64_t v = 0;
            if (r->size == 1) v = *(const uint8_t *)p;
            else if (r->size == 2) { uint16_t w; memcpy(&w, p, 2); v = w; }
            else if (r->size == 4) { uint32_t w; memcpy(&w, p, 4); v = w; }
            else memcpy(&v, p, 8);
            cs_printf(o, "%" PRIu64, v);
            break;
        }
        }
        cs_printf(o, "\n");
    }
}

size_t mmc_meta_service_config_format(const mmc_meta_service_config_t *cfg, char *buf, size_t cap)
{
    cs_out_t o = {buf, cap, 0};
    if (buf != NULL && cap > 0) buf[0] = '\0';
    if (cfg == NULL) return 0;
    cs_fmt_rows(mmc_meta_conf_table, mmc_meta_conf_rows, (const char *)cfg, "", &o);
    return o.len;
}
