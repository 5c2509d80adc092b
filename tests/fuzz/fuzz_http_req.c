/*
 * Fuzz target for the MetaService's HTTP request reader: the header block
 * parser (meta_http_parse_request) and the query-string decoder
 * (meta_http_query_param) over what anyone who reaches the metrics port may
 * send. Invariants: a parsed target starts with '/' and holds only visible
 * ASCII; a decoded parameter fits its buffer and reports its length.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/meta/meta_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > META_HTTP_HDR_MAX) return 0;
    char *buf = malloc(size + 1); /* exact size + the NUL the parser may write: ASan sees any over-read */
    if (buf == NULL) return 0;
    memcpy(buf, data, size);
    bool head = false;
    char *target = NULL;
    const char *query = NULL;
    int code = meta_http_parse_request(buf, size, &head, &target, &query);
    if (code != 0 && code != 400 && code != 405) abort();
    if (code == 0) {
        if (target == NULL || target[0] != '/' || query == NULL) abort();
        for (const char *c = target; *c; c++)
            if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e) abort();
        static const char *names[] = {"prefix", "limit", "after", "", "a"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            char out[64];
            size_t len = 0;
            int r = meta_http_query_param(query, names[i], out, sizeof(out), &len);
            if (r < -1 || r > 1) abort();
            if (r == 1 && (len >= sizeof(out) || out[len] != '\0')) abort();
        }
    }
    free(buf);
    return 0;
}
