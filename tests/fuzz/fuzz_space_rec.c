/*
 * Fuzz target for the space member record, which every rank decodes
 * from the config store (bytes another process wrote). Whatever decodes must
 * respect the documented limits and re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "space/space.h"
#include "util/util_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > UINT32_MAX) return 0;
    space_rec_t rec;
    if (space_rec_decode(data, (uint32_t)size, &rec) != SMEM_OK) return 0;
    if (rec.rank >= GVA_WORLD_MAX || rec.tp_addr_len > SPACE_TP_ADDR_MAX || rec.tp_addr[rec.tp_addr_len] != '\0')
        abort();
    uint8_t again[SPACE_REC_FIXED + SPACE_TP_ADDR_MAX];
    uint32_t n = space_rec_encode(&rec, again, sizeof(again));
    if (n != size || memcmp(again, data, size) != 0) abort();
    return 0;
}
