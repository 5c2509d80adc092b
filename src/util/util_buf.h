/*
 * Bounds-checked little-endian encoding and decoding. Every decoder of bytes
 * that come from outside the process reads through util_rbuf_t: a read past
 * the end sets `err` and returns zeros, so a decoder checks once at the end.
 * util_wbuf_t grows on demand; an allocation failure sets `err`.
 */
#ifndef UTIL_BUF_H
#define UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct util_rbuf {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err;
} util_rbuf_t;

typedef struct util_wbuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    int err;
} util_wbuf_t;

static inline void util_rbuf_init(util_rbuf_t *r, const void *p, size_t len)
{
    r->p = (const uint8_t *)p;
    r->len = len;
    r->pos = 0;
    r->err = 0;
}
static inline size_t util_rbuf_left(const util_rbuf_t *r) { return r->err ? 0 : r->len - r->pos; }

uint8_t util_rbuf_u8(util_rbuf_t *r);
uint16_t util_rbuf_u16(util_rbuf_t *r);
uint32_t util_rbuf_u32(util_rbuf_t *r);
uint64_t util_rbuf_u64(util_rbuf_t *r);
/* Returns a pointer into the buffer for n bytes, or NULL (and err) if short. */
const void *util_rbuf_bytes(util_rbuf_t *r, size_t n);
/* u32 length + bytes; *len_out set; NULL with err if short or over max. */
const void *util_rbuf_blob(util_rbuf_t *r, uint32_t max, uint32_t *len_out);

void util_wbuf_init(util_wbuf_t *w);
void util_wbuf_fini(util_wbuf_t *w);
/* Hands the buffer to the caller (who frees it with free()); w is reset. */
uint8_t *util_wbuf_take(util_wbuf_t *w, size_t *len_out);
int util_wbuf_reserve(util_wbuf_t *w, size_t extra);
void util_wbuf_u8(util_wbuf_t *w, uint8_t v);
void util_wbuf_u16(util_wbuf_t *w, uint16_t v);
void util_wbuf_u32(util_wbuf_t *w, uint32_t v);
void util_wbuf_u64(util_wbuf_t *w, uint64_t v);
void util_wbuf_bytes(util_wbuf_t *w, const void *p, size_t n);
void util_wbuf_blob(util_wbuf_t *w, const void *p, uint32_t n); /* u32 length + bytes */

static inline void util_put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void util_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void util_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t util_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t util_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t util_get_le64(const uint8_t *p)
{
    return (uint64_t)util_get_le32(p) | ((uint64_t)util_get_le32(p + 4) << 32);
}

#endif
