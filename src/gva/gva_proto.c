/* Encoders and bounds-checked decoders of the fd-passing messages (layout in gva_proto.h). */
#include "gva/gva_proto.h"

#include <string.h>

#include "util/util_buf.h"
#include "util/util_status.h"

void gva_proto_req_encode(const gva_proto_req_t *req, uint8_t out[GVA_PROTO_REQ_SIZE])
{
    util_put_le32(out, GVA_PROTO_REQ_MAGIC);
    util_put_le16(out + 4, GVA_PROTO_VERSION);
    util_put_le16(out + 6, req->kind);
    util_put_le32(out + 8, req->from_rank);
    util_put_le32(out + 12, req->to_rank);
}

void gva_proto_resp_encode(const gva_proto_resp_t *resp, uint8_t out[GVA_PROTO_RESP_SIZE])
{
    util_put_le32(out, GVA_PROTO_RESP_MAGIC);
    util_put_le16(out + 4, GVA_PROTO_VERSION);
    util_put_le16(out + 6, resp->kind);
    util_put_le32(out + 8, (uint32_t)resp->status);
    util_put_le32(out + 12, resp->rank);
    util_put_le64(out + 16, resp->size);
    util_put_le64(out + 24, resp->page_size);
    util_put_le32(out + 32, resp->flags);
    util_put_le32(out + 36, 0);
    gva_host_id_pack(&resp->host, out + 40);
}

/* Shared prologue check: exact length, magic, version. */
static int32_t gva_proto_head(util_rbuf_t *r, size_t want, uint32_t magic, const char *what)
{
    if (r->len != want)
        return util_err_set(SMEM_PROTOCOL, "%s of %zu bytes, expected %zu%s", what, r->len, want,
                            r->len < want ? " (truncated)" : "");
    uint32_t got = util_rbuf_u32(r);
    if (got != magic) return util_err_set(SMEM_PROTOCOL, "%s: bad magic 0x%08x (want 0x%08x)", what, got, magic);
    uint16_t ver = util_rbuf_u16(r);
    if (ver != GVA_PROTO_VERSION)
        return util_err_set(SMEM_PROTOCOL, "%s: unsupported version %u (we speak %u)", what, ver, GVA_PROTO_VERSION);
    return SMEM_OK;
}

int32_t gva_proto_req_decode(const uint8_t *p, size_t len, gva_proto_req_t *out)
{
    util_rbuf_t r;
    util_rbuf_init(&r, p, len);
    int32_t rc = gva_proto_head(&r, GVA_PROTO_REQ_SIZE, GVA_PROTO_REQ_MAGIC, "request");
    if (rc != SMEM_OK) return rc;
    gva_proto_req_t req;
    req.kind = util_rbuf_u16(&r);
    req.from_rank = util_rbuf_u32(&r);
    req.to_rank = util_rbuf_u32(&r);
    if (r.err || util_rbuf_left(&r) != 0) return util_err_set(SMEM_PROTOCOL, "request: malformed body");
    if (req.kind >= GVA_KIND_COUNT) return util_err_set(SMEM_PROTOCOL, "request: unknown window kind %u", req.kind);
    if (req.from_rank >= GVA_WORLD_MAX || req.to_rank >= GVA_WORLD_MAX)
        return util_err_set(SMEM_PROTOCOL, "request: rank %u -> %u outside 0..%u", req.from_rank, req.to_rank,
                            GVA_WORLD_MAX - 1);
    *out = req;
    return SMEM_OK;
}

int32_t gva_proto_resp_decode(const uint8_t *p, size_t len, gva_proto_resp_t *out)
{
    util_rbuf_t r;
    util_rbuf_init(&r, p, len);
    int32_t rc = gva_proto_head(&r, GVA_PROTO_RESP_SIZE, GVA_PROTO_RESP_MAGIC, "response");
    if (rc != SMEM_OK) return rc;
    gva_proto_resp_t resp;
    resp.kind = util_rbuf_u16(&r);
    resp.status = (int32_t)util_rbuf_u32(&r);
    resp.rank = util_rbuf_u32(&r);
    resp.size = util_rbuf_u64(&r);
    resp.page_size = util_rbuf_u64(&r);
    resp.flags = util_rbuf_u32(&r);
    uint32_t reserved = util_rbuf_u32(&r);
    const uint8_t *host = util_rbuf_bytes(&r, GVA_HOST_ID_WIRE_SIZE);
    if (r.err || host == NULL || util_rbuf_left(&r) != 0)
        return util_err_set(SMEM_PROTOCOL, "response: malformed body");
    gva_host_id_unpack(host, &resp.host);
    if (resp.kind >= GVA_KIND_COUNT) return util_err_set(SMEM_PROTOCOL, "response: unknown window kind %u", resp.kind);
    if (resp.rank >= GVA_WORLD_MAX) return util_err_set(SMEM_PROTOCOL, "response: rank %u", resp.rank);
    if (reserved != 0) return util_err_set(SMEM_PROTOCOL, "response: reserved field 0x%x", reserved);
    if (resp.status > 0) return util_err_set(SMEM_PROTOCOL, "response: positive status %d", resp.status);
    if (resp.status == SMEM_OK) {
        if (resp.flags & ~(uint32_t)GVA_SEG_F_HUGETLB)
            return util_err_set(SMEM_PROTOCOL, "response: unknown flags 0x%x", resp.flags);
        if (resp.page_size < GVA_PROTO_PAGE_MIN || resp.page_size > GVA_PROTO_PAGE_MAX ||
            (resp.page_size & (resp.page_size - 1)) != 0)
            return util_err_set(SMEM_PROTOCOL, "response: page size %llu", (unsigned long long)resp.page_size);
        if (resp.size == 0 || resp.size % resp.page_size != 0)
            return util_err_set(SMEM_PROTOCOL, "response: size %llu is not a positive multiple of page %llu",
                                (unsigned long long)resp.size, (unsigned long long)resp.page_size);
    }
    *out = resp;
    return SMEM_OK;
}
