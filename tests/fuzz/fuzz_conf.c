/*
 * Fuzz target for the `key = value` config reader (util_conf_load_buf) and
 * the size-string parser, with a spec of every value type and range. The
 * files come from operators, but also from wherever an operator copied them:
 * the reader must answer any bytes with OK or SMEM_CONFIG (with a message),
 * never crash, and never write outside the fields. Invariants: a string
 * field stays NUL-terminated inside its size; numbers land inside their
 * ranges when the load succeeds.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_conf.h"
#include "util/util_status.h"

typedef struct fz_conf {
    char name[16];
    int64_t count;
    uint64_t size;
    bool flag;
    char url[64];
    uint8_t guard[8];
} fz_conf_t;

static const util_conf_spec_t kSpecs[] = {
    {.key = "a.name", .type = UTIL_CONF_STR, .offset = offsetof(fz_conf_t, name), .size = sizeof(((fz_conf_t *)0)->name)},
    {.key = "a.count", .type = UTIL_CONF_INT, .offset = offsetof(fz_conf_t, count), .min = -5, .max = 1000},
    {.key = "a.size", .type = UTIL_CONF_SIZE, .offset = offsetof(fz_conf_t, size), .min = 4096, .max = (int64_t)1 << 40},
    {.key = "a.flag", .type = UTIL_CONF_BOOL, .offset = offsetof(fz_conf_t, flag)},
    {.key = "ock.mmc.url", .type = UTIL_CONF_STR, .offset = offsetof(fz_conf_t, url), .size = sizeof(((fz_conf_t *)0)->url)},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
    if (text == NULL) return 0;
    memcpy(text, data, size);
    fz_conf_t c;
    memset(&c, 0, sizeof(c));
    memset(c.guard, 0xA5, sizeof(c.guard));
    int32_t rc = util_conf_load_buf("fuzz.conf", text, size, kSpecs, sizeof(kSpecs) / sizeof(kSpecs[0]), &c);
    if (rc != SMEM_OK && rc != SMEM_CONFIG) abort();
    if (rc != SMEM_OK && util_err_get()[0] == '\0') abort(); /* a refusal says why */
    for (size_t i = 0; i < sizeof(c.guard); i++)
        if (c.guard[i] != 0xA5) abort();
    if (memchr(c.name, '\0', sizeof(c.name)) == NULL || memchr(c.url, '\0', sizeof(c.url)) == NULL) abort();
    if (rc == SMEM_OK && (c.count < -5 || c.count > 1000)) abort();
    if (rc == SMEM_OK && c.size != 0 && (c.size < 4096 || c.size > ((uint64_t)1 << 40))) abort();
    /* the size parser alone, on the input as one string */
    char *s = malloc(size + 1);
    if (s != NULL) {
        memcpy(s, data, size);
        s[size] = '\0';
        uint64_t v = 0;
        (void)util_conf_parse_size(s, &v);
        free(s);
    }
    free(text);
    return 0;
}
