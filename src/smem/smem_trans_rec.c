/*
 * The two Trans records in the config store, encoded and decoded in one place
 * (layouts in smem_int.h). Peers decode records any store client could have
 * written: the decoders are strict (version, reserved bits, lengths, no
 * trailing bytes) and fuzzed (fuzz_trans_rec).
 */
#include <string.h>

#include "smem/smem_trans_int.h"
#include "util/util_buf.h"
#include "util/util_status.h"

uint32_t sm_trans_inst_encode(const sm_trans_inst_rec_t *r, uint8_t *buf, uint32_t cap)
{
    uint16_t alen = (uint16_t)strnlen(r->addr, TP_ADDR_MAX);
    if (cap < SMEM_TRANS_INST_FIXED + alen) return 0;
    util_put_le16(buf, SMEM_TRANS_REC_VERSION);
    util_put_le16(buf + 2, r->role);
    util_put_le32(buf + 4, r->rank);
    util_put_le16(buf + 8, alen);
    memcpy(buf + SMEM_TRANS_INST_FIXED, r->addr, alen);
    return SMEM_TRANS_INST_FIXED + alen;
}

int32_t sm_trans_inst_decode(const uint8_t *v, uint32_t len, sm_trans_inst_rec_t *out)
{
    if (len < SMEM_TRANS_INST_FIXED)
        return util_err_set(SMEM_PROTOCOL, "Trans instance record of %u bytes, at least %u", len, SMEM_TRANS_INST_FIXED);
    uint16_t ver = util_get_le16(v), role = util_get_le16(v + 2), alen = util_get_le16(v + 8);
    uint32_t rank = util_get_le32(v + 4);
    if (ver != SMEM_TRANS_REC_VERSION || role == SMEM_TRANS_NONE || role > SMEM_TRANS_BOTH || rank >= STORE_WORLD_MAX || alen > TP_ADDR_MAX ||
        len != SMEM_TRANS_INST_FIXED + (uint32_t)alen || memchr(v + SMEM_TRANS_INST_FIXED, '\0', alen) != NULL)
        return util_err_set(SMEM_PROTOCOL,
                            "Trans instance record: version %u, role %u, rank %u, address of %u bytes in %u (want "
                            "version %u, role 1..%u, rank < %u, address <= %u bytes without NUL, nothing after)",
                            ver, role, rank, alen, len, SMEM_TRANS_REC_VERSION, SMEM_TRANS_BOTH, STORE_WORLD_MAX,
                            TP_ADDR_MAX);
    out->role = role;
    out->rank = rank;
    memcpy(out->addr, v + SMEM_TRANS_INST_FIXED, alen);
    out->addr[alen] = '\0';
    return SMEM_OK;
}

void sm_trans_reg_encode(uint64_t addr, uint64_t size, uint8_t out[SMEM_TRANS_REG_SIZE])
{
    util_put_le16(out, SMEM_TRANS_REC_VERSION);
    util_put_le16(out + 2, 0);
    util_put_le32(out + 4, 0);
    util_put_le64(out + 8, addr);
    util_put_le64(out + 16, size);
}

int32_t sm_trans_reg_decode(const uint8_t *v, uint32_t len, uint64_t *addr, uint64_t *size)
{
    if (len != SMEM_TRANS_REG_SIZE || util_get_le16(v) != SMEM_TRANS_REC_VERSION || util_get_le16(v + 2) != 0 ||
        util_get_le32(v + 4) != 0)
        return util_err_set(SMEM_PROTOCOL, "Trans region record of %u bytes (want %u, version %u, reserved 0)", len,
                            SMEM_TRANS_REG_SIZE, SMEM_TRANS_REC_VERSION);
    uint64_t a = util_get_le64(v + 8), s = util_get_le64(v + 16);
    if (s == 0 || a + s < a)
        return util_err_set(SMEM_PROTOCOL, "Trans region record: %llu bytes at 0x%llx (empty or wrapping)",
                            (unsigned long long)s, (unsigned long long)a);
    *addr = a;
    *size = s;
    return SMEM_OK;
}
