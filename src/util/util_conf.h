/*
 * `key = value` configuration files, checked against a schema.
 *
 * Lines: `key = value`, blank lines, and `#` comments. A key not in the
 * schema, a key given twice, a value that does not parse or is outside
 * [min, max] is an error (SMEM_CONFIG) whose message names the file and line.
 * Values are written into a caller struct at the spec's offset; fields not in
 * the file keep whatever the caller set (the defaults).
 */
#ifndef UTIL_CONF_H
#define UTIL_CONF_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    UTIL_CONF_STR,  /* char[size] at offset; value longer than size-1 is an error */
    UTIL_CONF_INT,  /* int64_t at offset, decimal, range [min, max] */
    UTIL_CONF_SIZE, /* uint64_t at offset, size string ("2048KB", "2.5GB"), range [min, max] */
    UTIL_CONF_BOOL, /* bool at offset: true/false/1/0/yes/no/on/off */
} util_conf_type_t;

typedef struct util_conf_spec {
    const char *key;
    util_conf_type_t type;
    size_t offset;
    size_t size; /* UTIL_CONF_STR: capacity of the char array */
    int64_t min;
    int64_t max;
} util_conf_spec_t;

/* Parse "134217728", "2048KB", "200MB", "2.5GB", "1TB" (binary multiples; K/KB/KiB,
 * case-insensitive). The result must be a whole number of bytes. */
int32_t util_conf_parse_size(const char *s, uint64_t *out);

int32_t util_conf_load_file(const char *path, const util_conf_spec_t *specs, size_t nspecs, void *out);
/* Same on a buffer; `name` is used in messages in place of the path. */
int32_t util_conf_load_buf(const char *name, const char *text, size_t len, const util_conf_spec_t *specs,
                           size_t nspecs, void *out);

#endif
