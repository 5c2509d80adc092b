/*
 * Fuzz target for what remains ours of the MetaService's HTTP request
 * handling: the query-string decoder (meta_http_query_param) over any query
 * a client may send (libmicrohttpd parses the request itself). Input: the
 * parameter name up to the first '\n', then the raw query string. The name
 * is tried along with the names the MetaService asks for, and at several
 * output sizes. Invariants: the result is -1, 0 or 1; a decoded value fits
 * its buffer, is NUL-terminated at its reported length, and does not depend
 * on the buffer size once it fits.
 *
 * The same input, whole, is also a /keys cursor (meta_http_cursor_decode):
 * a cursor that decodes is 1..256 bytes without NUL and encodes back to the
 * input in lowercase; and the input's own bytes, when they form a key,
 * survive encode + decode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/meta/meta_http.h"
#include "memcache/mmc_def.h"

#define QUERY_MAX 4096

static void fz_cursor(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), key[MMC_KEY_MAX];
    if (s == NULL) return;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = 0;
    int r = meta_http_cursor_decode(s, key, sizeof(key), &len);
    if (r != 0 && r != -1) abort();
    if (r == 0) {
        if (len == 0 || len > MMC_KEY_MAX || memchr(key, '\0', len) != NULL) abort();
        util_wbuf_t w;
        util_wbuf_init(&w);
        meta_http_cursor_encode(&w, key, len);
        if (w.err || w.len != strlen(s)) abort();
        for (size_t i = 0; i < w.len; i++) {
            char c = s[i] >= 'A' && s[i] <= 'F' ? (char)(s[i] - 'A' + 'a') : s[i];
            if (w.p[i] != (uint8_t)c) abort();
        }
        util_wbuf_fini(&w);
    }
    if (size >= 1 && size <= MMC_KEY_MAX && memchr(data, '\0', size) == NULL) { /* the bytes as a key */
        util_wbuf_t w;
        util_wbuf_init(&w);
        meta_http_cursor_encode(&w, (const char *)data, size);
        util_wbuf_u8(&w, 0);
        if (w.err || meta_http_cursor_decode((const char *)w.p, key, sizeof(key), &len) != 0 || len != size ||
            memcmp(key, data, size) != 0)
            abort();
        util_wbuf_fini(&w);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > QUERY_MAX) return 0;
    fz_cursor(data, size);
    const uint8_t *nl = memchr(data, '\n', size);
    size_t name_len = nl ? (size_t)(nl - data) : 0;
    size_t q_off = nl ? name_len + 1 : 0;
    /* Exact-size copies: ASan sees any read past the NUL. */
    char *name = malloc(name_len + 1);
    char *query = malloc(size - q_off + 1);
    if (name == NULL || query == NULL) goto free_bufs;
    memcpy(name, data, name_len);
    name[name_len] = '\0';
    memcpy(query, data + q_off, size - q_off);
    query[size - q_off] = '\0';

    const char *names[] = {name, "prefix", "limit", "cursor", "after", "", "a"};
    static const size_t caps[] = {1, 2, 8, 64, QUERY_MAX + 1};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char ref[QUERY_MAX + 1];
        size_t ref_len = 0;
        int ref_r = meta_http_query_param(query, names[i], ref, sizeof(ref), &ref_len);
        if (ref_r < -1 || ref_r > 1) abort();
        if (ref_r == 1 && (ref_len >= sizeof(ref) || ref[ref_len] != '\0')) abort();
        for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
            char *out = malloc(caps[c]);
            if (out == NULL) break;
            size_t len = 0;
            int r = meta_http_query_param(query, names[i], out, caps[c], &len);
            /* A smaller buffer may turn found into -1 (too long), nothing else. */
            if (r != ref_r && !(ref_r == 1 && r == -1 && ref_len + 1 > caps[c])) abort();
            if (r == 1 && (len != ref_len || memcmp(out, ref, len + 1) != 0)) abort();
            free(out);
        }
    }
free_bufs:
    free(name);
    free(query);
    return 0;
}
