/* Encoders and bounds-checked decoders of the fd-passing messages (layout in gva_proto.h). */
#include "gva/gva_proto.h"

#include <stdbool.h>
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
    if (!util_status_known(resp.status))
        return util_err_set(SMEM_PROTOCOL, "response: status %d is no SMEM_* code this side knows", resp.status);
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

int32_t gva_proto_cmsg_fds(const void *control, size_t controllen, int msg_flags, int *fds, size_t *nfds)
{
    const uint8_t *base = control;
    const size_t hdr = CMSG_LEN(0); /* where a cmsg's data starts */
    size_t n = 0, off = 0;
    int32_t rc = SMEM_OK;
    /* Headers are copied out, so the buffer needs no alignment. Every fd
     * takes sizeof(int) bytes of the buffer, so fds[] (controllen / sizeof(int)
     * entries) always has room. */
    while (base != NULL && off < controllen && controllen - off >= sizeof(struct cmsghdr)) {
        struct cmsghdr cm;
        memcpy(&cm, base + off, sizeof(cm));
        if (cm.cmsg_len < hdr || cm.cmsg_len > controllen - off) {
            rc = util_err_set(SMEM_PROTOCOL, "control message at byte %zu of %zu has length %zu", off, controllen,
                              (size_t)cm.cmsg_len);
            break;
        }
        if (cm.cmsg_level == SOL_SOCKET && cm.cmsg_type == SCM_RIGHTS) {
            size_t data = cm.cmsg_len - hdr;
            for (size_t i = 0; i < data / sizeof(int); i++)
                memcpy(&fds[n++], base + off + hdr + i * sizeof(int), sizeof(int));
            if (data % sizeof(int) != 0) {
                rc = util_err_set(SMEM_PROTOCOL, "SCM_RIGHTS message of %zu data bytes: not a whole number of fds",
                                  data);
                break;
            }
        }
        off += CMSG_ALIGN(cm.cmsg_len);
    }
    *nfds = n;
    if (rc == SMEM_OK && (msg_flags & MSG_CTRUNC))
        rc = util_err_set(SMEM_PROTOCOL, "ancillary data truncated (flags 0x%x): more attached than fits, %zu fds kept",
                          (unsigned)msg_flags, n);
    return rc;
}

int32_t gva_proto_reply_decode(const gva_proto_expect_t *exp, const uint8_t *body, size_t n, int msg_flags,
                               const void *control, size_t controllen, int *fds, size_t *nfds,
                               gva_proto_resp_t *out)
{
    uint32_t rank = exp->rank;
    /* The fds first, whatever else is wrong: the caller must close every one. */
    int32_t rc = gva_proto_cmsg_fds(control, controllen, msg_flags, fds, nfds);
    if (n == 0) return util_err_set(SMEM_PEER_GONE, "import of rank %u: exporter closed without answering", rank);
    if (msg_flags & MSG_TRUNC)
        return util_err_set(SMEM_PROTOCOL, "import of rank %u: reply truncated (flags 0x%x)", rank,
                            (unsigned)msg_flags);
    if (rc != SMEM_OK) return util_err_wrap(rc, "import of rank %u: reply", rank);
    gva_proto_resp_t resp;
    rc = gva_proto_resp_decode(body, n, &resp);
    if (rc != SMEM_OK) return util_err_wrap(rc, "import of rank %u", rank);
    if (resp.status != SMEM_OK)
        return util_err_set(resp.status, "import of rank %u: exporter refused: %s", rank, util_strerror(resp.status));
    if (resp.kind != (uint16_t)exp->kind || resp.rank != rank)
        return util_err_set(SMEM_PROTOCOL, "import of %s rank %u: exporter is %s rank %u", gva_kind_name(exp->kind),
                            rank, gva_kind_name((gva_kind_t)resp.kind), resp.rank);
    if (resp.size > exp->max_size)
        return util_err_set(SMEM_OUT_OF_RANGE, "import of rank %u: segment of %llu bytes exceeds the %llu-byte stride",
                            rank, (unsigned long long)resp.size, (unsigned long long)exp->max_size);
    if (!gva_host_id_equal(&resp.host, &exp->host)) {
        char theirs[GVA_HOST_ID_STR_MAX], ours[GVA_HOST_ID_STR_MAX];
        return util_err_set(SMEM_PROTOCOL, "import of rank %u: exporter reports host %s, we are %s", rank,
                            gva_host_id_format(&resp.host, theirs, sizeof(theirs)),
                            gva_host_id_format(&exp->host, ours, sizeof(ours)));
    }
    if (*nfds != 1)
        return util_err_set(SMEM_PROTOCOL, "import of rank %u: reply carries %zu fds, expected 1", rank, *nfds);
    *out = resp;
    return SMEM_OK;
}
