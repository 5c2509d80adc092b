/*
 * Frame header codec and the incremental frame parser. The parser is pure (no
 * sockets, no clocks) so that the fuzzer drives exactly the code that reads
 * bytes from peers. A header is validated in full, body_len against
 * max_body included, before the body buffer is allocated.
 */
#include <stdlib.h>
#include <string.h>

#include "net/net_int.h"
#include "util/util_buf.h"
#include "util/util_status.h"

void net_frame_hdr_encode(const net_frame_hdr_t *hdr, uint8_t out[NET_FRAME_HDR_SIZE])
{
    util_put_le32(out + 0, hdr->magic);
    out[4] = hdr->version;
    out[5] = hdr->flags;
    util_put_le16(out + 6, hdr->type);
    util_put_le32(out + 8, hdr->body_len);
    util_put_le32(out + 12, (uint32_t)hdr->status);
    util_put_le64(out + 16, hdr->req_id);
}

int32_t net_frame_hdr_decode(const uint8_t *buf, size_t len, uint32_t max_body, net_frame_hdr_t *out)
{
    if (buf == NULL || out == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "frame header: NULL argument");
    }
    if (len < NET_FRAME_HDR_SIZE) {
        return util_err_set(SMEM_INVALID_PARAM, "frame header: %zu bytes, need %u", len, NET_FRAME_HDR_SIZE);
    }
    util_rbuf_t r;
    util_rbuf_init(&r, buf, NET_FRAME_HDR_SIZE);
    net_frame_hdr_t h;
    h.magic = util_rbuf_u32(&r);
    h.version = util_rbuf_u8(&r);
    h.flags = util_rbuf_u8(&r);
    h.type = util_rbuf_u16(&r);
    h.body_len = util_rbuf_u32(&r);
    h.status = (int32_t)util_rbuf_u32(&r);
    h.req_id = util_rbuf_u64(&r);
    if (r.err) {
        return util_err_set(SMEM_INVALID_PARAM, "frame header: short read");
    }
    if (h.magic != NET_FRAME_MAGIC) {
        return util_err_set(SMEM_PROTOCOL, "bad magic 0x%08x (expected 0x%08x)", h.magic, NET_FRAME_MAGIC);
    }
    if (h.version != NET_FRAME_VERSION) {
        return util_err_set(SMEM_PROTOCOL, "unsupported frame version %u (expected %u)", h.version,
                            NET_FRAME_VERSION);
    }
    if ((h.flags & ~NET_FLAG_MASK) != 0) {
        return util_err_set(SMEM_PROTOCOL, "reserved flag bits set: flags 0x%02x (allowed mask 0x%02x)", h.flags,
                            NET_FLAG_MASK);
    }
    if (h.body_len > max_body) {
        return util_err_set(SMEM_TOO_LARGE, "frame body_len %u exceeds max_frame %u", h.body_len, max_body);
    }
    *out = h;
    return SMEM_OK;
}

void net_frame_parser_init(net_frame_parser_t *p, uint32_t max_body)
{
    memset(p, 0, sizeof(*p));
    p->max_body = max_body;
}

void net_frame_parser_fini(net_frame_parser_t *p)
{
    free(p->body);
    p->body = NULL;
    p->hdr_got = 0;
    p->have_hdr = false;
    p->ready = false;
    p->body_got = 0;
}

int32_t net_frame_parser_feed(net_frame_parser_t *p, const uint8_t *data, size_t len, size_t *used)
{
    size_t off = 0;
    *used = 0;
    if (p->ready) {
        return SMEM_OK; /* the caller has not taken the previous frame yet */
    }
    if (!p->have_hdr) {
        size_t want = NET_FRAME_HDR_SIZE - p->hdr_got;
        size_t n = len < want ? len : want;
        memcpy(p->hdr_buf + p->hdr_got, data, n);
        p->hdr_got += (uint32_t)n;
        off += n;
        if (p->hdr_got < NET_FRAME_HDR_SIZE) {
            *used = off;
            return SMEM_OK;
        }
        int32_t rc = net_frame_hdr_decode(p->hdr_buf, NET_FRAME_HDR_SIZE, p->max_body, &p->hdr);
        if (rc != SMEM_OK) {
            *used = off;
            return rc;
        }
        p->have_hdr = true;
        p->body_got = 0;
        if (p->hdr.body_len > 0) {
            p->body = malloc(p->hdr.body_len);
            if (p->body == NULL) {
                *used = off;
                return util_err_set(SMEM_MALLOC_FAILED, "frame body: cannot allocate %u bytes", p->hdr.body_len);
            }
        }
    }
    size_t want = p->hdr.body_len - p->body_got;
    size_t n = (len - off) < want ? (len - off) : want;
    if (n > 0) {
        memcpy(p->body + p->body_got, data + off, n);
        p->body_got += (uint32_t)n;
        off += n;
    }
    if (p->body_got == p->hdr.body_len) {
        p->ready = true;
    }
    *used = off;
    return SMEM_OK;
}

void net_frame_parser_next(net_frame_parser_t *p)
{
    uint32_t max_body = p->max_body;
    free(p->body);
    net_frame_parser_init(p, max_body);
}

size_t net_frame_parser_partial(const net_frame_parser_t *p)
{
    if (p->ready) {
        return 0;
    }
    return (size_t)p->hdr_got + p->body_got;
}

size_t net_frame_parser_expected(const net_frame_parser_t *p)
{
    return p->have_hdr ? (size_t)NET_FRAME_HDR_SIZE + p->hdr.body_len : 0;
}
