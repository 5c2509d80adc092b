/*
 * Configuration tables and `key = value` files.
 *
 * A service declares its configuration once, as a table of rows (key, field,
 * type, default, range, enum names, flag, help); the functions below derive
 * from it the defaults (util_conf_defaults), the range checks on a struct
 * filled by code (util_conf_check), file loading (util_conf_load_*), the
 * daemons' flags and --help (util_conf_cli.c) and the markdown tables of
 * docs/CONFIG.md (util_conf_doc.c). Cross-field checks stay hand code next to
 * the table.
 *
 * Files: `key = value`, blank lines, and `#` comments (an empty value is
 * "", as the seed's files write `ock.mmc.tls.decrypter.path =`). A key not in the
 * schema, a key given twice, a value that does not parse or is outside
 * [min, max] is an error (SMEM_CONFIG) whose message names the file and line.
 * Values are written into the caller's struct at the row's offset in the
 * field's native type; fields not in the file keep whatever the caller set
 * (the defaults). Tables are plain data: no call here keeps state.
 */
#ifndef UTIL_CONF_H
#define UTIL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    UTIL_CONF_STR,   /* char[size]; the value is at most max bytes (0: size-1) */
    UTIL_CONF_INT,   /* signed integer of size bytes (4 or 8; 0 = 8), decimal, range [min, max] */
    UTIL_CONF_SIZE,  /* uint64_t, size string ("2048KB", "2.5GB"), range [min, max] */
    UTIL_CONF_BOOL,  /* bool: true/false/1/0/yes/no/on/off */
    UTIL_CONF_UINT,  /* unsigned integer of size bytes (1, 2, 4 or 8; 0 = 8), decimal, range [min, max] */
    UTIL_CONF_ENUM,  /* int32_t or uint32_t holding an index into names */
    UTIL_CONF_GROUP, /* a struct at offset described by sub; its keys are "<key>.<sub key>" */
} util_conf_type_t;

#define UTIL_CONF_F_NUM 1u      /* ENUM: the index ("0".."n-1") is accepted as well as the name */
#define UTIL_CONF_F_NONEMPTY 2u /* STR: "" is an error */
/* A key accepted for compatibility (the seed's) that this build does not use:
 * its value must parse as the row's type, it is stored nowhere (the row has no
 * field) and the loader logs it at INFO with the row's help. */
#define UTIL_CONF_F_IGNORED 4u
/* GROUP, Python: the block's fields are attributes of their own, "<py>_<sub key, '.' as '_'>"
 * (tls_ca_crl_path), as the seed's bindings flatten them; without it the block is one attribute. */
#define UTIL_CONF_F_FLAT 8u

typedef struct util_conf_spec {
    const char *key; /* file key; NULL: a field without one (flags and Python only) */
    util_conf_type_t type;
    size_t offset;
    size_t size; /* bytes of the field (STR: capacity of the char array) */
    int64_t min;
    int64_t max;
    const char *def;          /* default as text, parsed like a file value; NULL: 0 / "" / false */
    const char *const *names; /* ENUM: value names, NULL-terminated, the index is the value */
    unsigned flags;           /* UTIL_CONF_F_* */
    const struct util_conf_spec *sub; /* GROUP: its rows */
    size_t nsub;
    const char *flag; /* daemon flag without "--" (NULL: none) */
    const char *arg;  /* the flag's value in --help ("URL") */
    const char *py;   /* Python attribute (NULL: none) */
    const char *help; /* one sentence or more, markdown allowed (docs and --help) */
    const char *field; /* the C member's name (UTIL_CONF_AT sets it) */
    unsigned shift;    /* INT/UINT: the file and Python give value units of 2^shift (MB: 20); the field holds value << shift */
} util_conf_spec_t;

/* Offset and size of member m of struct type T, for a row. */
#define UTIL_CONF_AT(T, m) .offset = offsetof(T, m), .size = sizeof(((T *)0)->m), .field = #m
#define UTIL_CONF_NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define UTIL_CONF_KEYS_MAX 256 /* rows in a table, groups counted out */

/* Parse "134217728", "2048KB", "200MB", "2.5GB", "1TB" (binary multiples; K/KB/KiB,
 * case-insensitive). The result must be a whole number of bytes. */
/* true/false/1/0/yes/no/on/off (any case); SMEM_INVALID_PARAM otherwise (no message). */
int32_t util_conf_parse_bool(const char *v, bool *out);
int32_t util_conf_parse_size(const char *s, uint64_t *out);

/* Writes every row's default into out (fields without a row are left alone).
 * SMEM_CONFIG naming the row if a default does not parse (a bug in the table). */
int32_t util_conf_defaults(const util_conf_spec_t *specs, size_t nspecs, void *out);
/* The row checks on a struct filled by code: strings NUL-terminated within
 * their length, numbers in range, enum values known. The first failure is
 * returned as `err` with a message that starts with the key, e.g.
 * "ock.mmc.local_service.world_size 0 outside 1..1024". */
int32_t util_conf_check(const util_conf_spec_t *specs, size_t nspecs, const void *in, int32_t err);
/* One value into its field; origin starts the message ("file:7", "--world-size"). */
int32_t util_conf_set(const util_conf_spec_t *sp, const char *origin, const char *value, void *field);

/* What a row accepts, for docs and --help: "1..1024", "up to 63 bytes", "debug, info or warn (or 0..2)". */
const char *util_conf_values(const util_conf_spec_t *sp, char *buf, size_t cap);

/* The line each key was read from: lines[i] for the i-th row, groups
 * flattened in table order; 0 for a key not in the file. */
typedef struct util_conf_lines {
    unsigned line[UTIL_CONF_KEYS_MAX];
} util_conf_lines_t;

int32_t util_conf_load_file(const char *path, const util_conf_spec_t *specs, size_t nspecs, void *out);
/* Same on a buffer; `name` is used in messages in place of the path. */
int32_t util_conf_load_buf(const char *name, const char *text, size_t len, const util_conf_spec_t *specs,
                           size_t nspecs, void *out);
/* util_conf_load_file that also says where each key was (lines may be NULL). */
int32_t util_conf_load_file_lines(const char *path, const util_conf_spec_t *specs, size_t nspecs, void *out,
                                  util_conf_lines_t *lines);
/* The line of the key a message starts with (a check's message), 0 if none or not in the file. */
unsigned util_conf_line_of_msg(const util_conf_spec_t *specs, size_t nspecs, const util_conf_lines_t *lines,
                               const char *msg);
/* The row of a file key (groups searched), and the offset of its field in the struct. */
const util_conf_spec_t *util_conf_find(const util_conf_spec_t *specs, size_t nspecs, const char *key,
                                       size_t *offset, size_t *flat);

#endif
