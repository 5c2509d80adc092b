/* Bounds-checked little-endian reader and growable writer. */
#include "util/util_buf.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t *util_rbuf_take(util_rbuf_t *r, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint8_t util_rbuf_u8(util_rbuf_t *r)
{
    const uint8_t *p = util_rbuf_take(r, 1);
    return p ? p[0] : 0;
}

uint16_t util_rbuf_u16(util_rbuf_t *r)
{
    const uint8_t *p = util_rbuf_take(r, 2);
    return p ? util_get_le16(p) : 0;
}

uint32_t util_rbuf_u32(util_rbuf_t *r)
{
    const uint8_t *p = util_rbuf_take(r, 4);
    return p ? util_get_le32(p) : 0;
}

uint64_t util_rbuf_u64(util_rbuf_t *r)
{
    const uint8_t *p = util_rbuf_take(r, 8);
    return p ? util_get_le64(p) : 0;
}

const void *util_rbuf_bytes(util_rbuf_t *r, size_t n) { return util_rbuf_take(r, n); }

const void *util_rbuf_blob(util_rbuf_t *r, uint32_t max, uint32_t *len_out)
{
    uint32_t n = util_rbuf_u32(r);
    if (r->err || n > max) {
        r->err = 1;
        *len_out = 0;
        return NULL;
    }
    const void *p = util_rbuf_take(r, n);
    *len_out = p ? n : 0;
    return p;
}

void util_wbuf_init(util_wbuf_t *w)
{
    w->p = NULL;
    w->len = 0;
    w->cap = 0;
    w->err = 0;
}

void util_wbuf_fini(util_wbuf_t *w)
{
    free(w->p);
    util_wbuf_init(w);
}

uint8_t *util_wbuf_take(util_wbuf_t *w, size_t *len_out)
{
    uint8_t *p = w->p;
    *len_out = w->len;
    util_wbuf_init(w);
    return p;
}

int util_wbuf_reserve(util_wbuf_t *w, size_t extra)
{
    if (w->err) return -1;
    if (w->cap - w->len >= extra) return 0;
    size_t need = w->len + extra;
    if (need < w->len) {
        w->err = 1;
        return -1;
    }
    size_t cap = w->cap ? w->cap : 64;
    while (cap < need) cap *= 2;
    uint8_t *p = realloc(w->p, cap);
    if (p == NULL) {
        w->err = 1;
        return -1;
    }
    w->p = p;
    w->cap = cap;
    return 0;
}

void util_wbuf_bytes(util_wbuf_t *w, const void *p, size_t n)
{
    if (n == 0 || util_wbuf_reserve(w, n) != 0) return;
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

void util_wbuf_u8(util_wbuf_t *w, uint8_t v) { util_wbuf_bytes(w, &v, 1); }

void util_wbuf_u16(util_wbuf_t *w, uint16_t v)
{
    uint8_t b[2];
    util_put_le16(b, v);
    util_wbuf_bytes(w, b, 2);
}

void util_wbuf_u32(util_wbuf_t *w, uint32_t v)
{
    uint8_t b[4];
    util_put_le32(b, v);
    util_wbuf_bytes(w, b, 4);
}

void util_wbuf_u64(util_wbuf_t *w, uint64_t v)
{
    uint8_t b[8];
    util_put_le64(b, v);
    util_wbuf_bytes(w, b, 8);
}

void util_wbuf_blob(util_wbuf_t *w, const void *p, uint32_t n)
{
    util_wbuf_u32(w, n);
    util_wbuf_bytes(w, p, n);
}
