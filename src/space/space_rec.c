/* space_rec: member and base record codecs (see space_rec.h). */
#include "space/space_rec.h"

#include <string.h>

#include "util/util_buf.h"
#include "util/util_status.h"

_Static_assert(SPACE_REC_FIXED == 2 + 2 + 4 + 8 + 8 + GVA_HOST_ID_WIRE_SIZE + 2, "member record layout");
_Static_assert(SPACE_BASE_SIZE == 2 + 2 + 4 + 8 + 8 + 8 + SPACE_SECRET_SIZE, "base record layout");

uint32_t space_rec_encode(const space_rec_t *r, uint8_t *buf, uint32_t cap)
{
    uint32_t need = SPACE_REC_FIXED + r->tp_addr_len;
    if (cap < need || r->tp_addr_len > SPACE_TP_ADDR_MAX) return 0;
    util_put_le16(buf, SPACE_REC_VERSION);
    util_put_le16(buf + 2, 0);
    util_put_le32(buf + 4, r->rank);
    util_put_le64(buf + 8, r->gen);
    util_put_le64(buf + 16, r->size);
    gva_host_id_pack(&r->host, buf + 24);
    util_put_le16(buf + 48, r->tp_addr_len);
    memcpy(buf + 50, r->tp_addr, r->tp_addr_len);
    return need;
}

int32_t space_rec_decode(const uint8_t *buf, uint32_t len, space_rec_t *out)
{
    util_rbuf_t rb;
    util_rbuf_init(&rb, buf, len);
    uint16_t ver = util_rbuf_u16(&rb), rsv = util_rbuf_u16(&rb);
    space_rec_t r;
    memset(&r, 0, sizeof(r));
    r.rank = util_rbuf_u32(&rb);
    r.gen = util_rbuf_u64(&rb);
    r.size = util_rbuf_u64(&rb);
    const uint8_t *host = util_rbuf_bytes(&rb, GVA_HOST_ID_WIRE_SIZE);
    r.tp_addr_len = util_rbuf_u16(&rb);
    if (rb.err)
        return util_err_set(SMEM_PROTOCOL, "member record of %u bytes is shorter than %u", len, SPACE_REC_FIXED);
    if (ver != SPACE_REC_VERSION || rsv != 0)
        return util_err_set(SMEM_PROTOCOL, "member record version %u (want %u), reserved 0x%x", ver, SPACE_REC_VERSION,
                            rsv);
    if (r.rank >= GVA_WORLD_MAX)
        return util_err_set(SMEM_PROTOCOL, "member record: rank %u out of range (< %u)", r.rank, GVA_WORLD_MAX);
    if (r.tp_addr_len > SPACE_TP_ADDR_MAX || util_rbuf_left(&rb) != r.tp_addr_len)
        return util_err_set(SMEM_PROTOCOL, "member record: transport address of %u bytes, %zu bytes left (max %u)",
                            r.tp_addr_len, util_rbuf_left(&rb), SPACE_TP_ADDR_MAX);
    const uint8_t *addr = util_rbuf_bytes(&rb, r.tp_addr_len);
    if (r.tp_addr_len && memchr(addr, '\0', r.tp_addr_len) != NULL)
        return util_err_set(SMEM_PROTOCOL, "member record: transport address holds a NUL");
    gva_host_id_unpack(host, &r.host);
    memcpy(r.tp_addr, addr, r.tp_addr_len);
    r.tp_addr[r.tp_addr_len] = '\0';
    *out = r;
    return SMEM_OK;
}

void space_base_encode(const space_base_rec_t *b, uint8_t out[SPACE_BASE_SIZE])
{
    util_put_le16(out, SPACE_BASE_VERSION);
    util_put_le16(out + 2, b->kind);
    util_put_le32(out + 4, b->world_max);
    util_put_le64(out + 8, b->stride);
    util_put_le64(out + 16, b->base);
    util_put_le64(out + 24, b->token);
    memcpy(out + 32, b->secret, SPACE_SECRET_SIZE);
}

int32_t space_base_decode(const char *key, const uint8_t *p, uint32_t len, space_base_rec_t *out)
{
    if (len != SPACE_BASE_SIZE || util_get_le16(p) != SPACE_BASE_VERSION)
        return util_err_set(SMEM_PROTOCOL, "base record '%s': %u bytes, version %u (want %u bytes, version %u)", key,
                            len, len >= 2 ? util_get_le16(p) : 0, SPACE_BASE_SIZE, SPACE_BASE_VERSION);
    space_base_rec_t b = {.kind = util_get_le16(p + 2),
                          .world_max = util_get_le32(p + 4),
                          .stride = util_get_le64(p + 8),
                          .base = util_get_le64(p + 16),
                          .token = util_get_le64(p + 24)};
    memcpy(b.secret, p + 32, SPACE_SECRET_SIZE);
    uint8_t any = 0;
    for (uint32_t i = 0; i < SPACE_SECRET_SIZE; i++) any |= b.secret[i];
    if (any == 0) return util_err_set(SMEM_PROTOCOL, "base record '%s': no cluster secret (all zero)", key);
    /* Whoever wrote it, a window must be one this process could map: known kind, sane world, aligned and
     * inside the user half of the address space without wrapping. */
    if (b.kind >= GVA_KIND_COUNT || b.world_max == 0 || b.world_max > GVA_WORLD_MAX || b.stride == 0 ||
        b.stride % GVA_ALIGN != 0 || b.base == 0 || b.base % GVA_ALIGN != 0 ||
        b.stride > SPACE_USER_TOP / b.world_max || b.base > SPACE_USER_TOP - b.stride * b.world_max)
        return util_err_set(SMEM_PROTOCOL,
                            "base record '%s': kind %u, %u x 0x%llx bytes at 0x%llx is not a window (kind < %u, "
                            "world 1..%u, %llu-aligned, below 0x%llx)",
                            key, b.kind, b.world_max, (unsigned long long)b.stride, (unsigned long long)b.base,
                            GVA_KIND_COUNT, GVA_WORLD_MAX, (unsigned long long)GVA_ALIGN,
                            (unsigned long long)SPACE_USER_TOP);
    *out = b;
    return SMEM_OK;
}
