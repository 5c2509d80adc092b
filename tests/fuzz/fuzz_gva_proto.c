/*
 * Fuzz target for the fd-passing messages an exporter or importer receives
 * from another process (gva_proto.h). Both decoders see every input; whatever
 * decodes must satisfy the documented limits and re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gva/gva_proto.h"
#include "util/util_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gva_proto_req_t req;
    if (gva_proto_req_decode(data, size, &req) == SMEM_OK) {
        uint8_t again[GVA_PROTO_REQ_SIZE];
        gva_proto_req_encode(&req, again);
        if (size != GVA_PROTO_REQ_SIZE || memcmp(again, data, size) != 0 || req.kind >= GVA_KIND_COUNT ||
            req.from_rank >= GVA_WORLD_MAX || req.to_rank >= GVA_WORLD_MAX)
            abort();
    }
    gva_proto_resp_t resp;
    if (gva_proto_resp_decode(data, size, &resp) == SMEM_OK) {
        uint8_t again[GVA_PROTO_RESP_SIZE];
        gva_proto_resp_encode(&resp, again);
        if (size != GVA_PROTO_RESP_SIZE || memcmp(again, data, size) != 0 || resp.kind >= GVA_KIND_COUNT ||
            resp.status > 0)
            abort();
        /* A success reply describes something mappable: the importer relies on it. */
        if (resp.status == SMEM_OK && (resp.size == 0 || resp.page_size < GVA_PROTO_PAGE_MIN ||
                                       (resp.page_size & (resp.page_size - 1)) != 0 || resp.size % resp.page_size != 0))
            abort();
    }
    return 0;
}
