/*
 * Fuzz target for the space base record, which every creator and joiner
 * decodes from the config store (bytes another process, or anyone who can
 * write to the store, put there) and then reserves at that address. What
 * decodes must be a mappable window and re-encode to the same bytes.
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
    uint8_t *copy = malloc(size ? size : 1); /* exact size for ASan */
    if (copy == NULL) return 0;
    memcpy(copy, data, size);
    space_base_rec_t b;
    if (space_base_decode("fuzz/base", copy, (uint32_t)size, &b) == SMEM_OK) {
        if (b.kind >= GVA_KIND_COUNT || b.world_max == 0 || b.world_max > GVA_WORLD_MAX || b.stride % GVA_ALIGN ||
            b.base % GVA_ALIGN || b.base + b.stride * b.world_max > SPACE_USER_TOP ||
            b.base + b.stride * b.world_max < b.base)
            abort();
        uint8_t again[SPACE_BASE_SIZE];
        space_base_encode(&b, again);
        if (size != SPACE_BASE_SIZE || memcmp(again, data, size) != 0) abort();
    }
    free(copy);
    return 0;
}
