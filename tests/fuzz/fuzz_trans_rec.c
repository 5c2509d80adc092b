/*
 * Fuzz target for the Trans records peers read from the config store
 * (instance and region records; any store client could have written them).
 * First byte: 0 instance record, 1 region record; the rest is the value.
 * What decodes must respect the limits and re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smem/smem_trans_int.h"
#include "util/util_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) return 0;
    uint32_t len = (uint32_t)(size - 1);
    uint8_t *v = malloc(len ? len : 1); /* exact size for ASan */
    if (v == NULL) return 0;
    memcpy(v, data + 1, len);
    if (data[0] % 2 == 0) {
        sm_trans_inst_rec_t r;
        if (sm_trans_inst_decode(v, len, &r) == SMEM_OK) {
            if (r.rank >= STORE_WORLD_MAX || r.role > SMEM_TRANS_BOTH || strlen(r.addr) > TP_ADDR_MAX) abort();
            uint8_t again[SMEM_TRANS_INST_FIXED + TP_ADDR_MAX];
            uint32_t n = sm_trans_inst_encode(&r, again, sizeof(again));
            if (n != len || memcmp(again, v, len) != 0) abort();
        }
    } else {
        uint64_t addr = 0, sz = 0;
        if (sm_trans_reg_decode(v, len, &addr, &sz) == SMEM_OK) {
            if (sz == 0 || addr + sz < addr) abort();
            uint8_t again[SMEM_TRANS_REG_SIZE];
            sm_trans_reg_encode(addr, sz, again);
            if (len != SMEM_TRANS_REG_SIZE || memcmp(again, v, len) != 0) abort();
        }
    }
    free(v);
    return 0;
}
