/*
 * Wire format of same-host fd passing (gva_export_start / gva_window_import_peer).
 *
 * One connection carries one exchange on an abstract AF_UNIX SOCK_SEQPACKET
 * socket, so every message arrives whole or not at all and its length is
 * exact. All integers little-endian.
 *
 * Request (importer → exporter), GVA_PROTO_REQ_SIZE bytes:
 *   off size field
 *   0   4    magic      GVA_PROTO_REQ_MAGIC ("GVAQ")
 *   4   2    version    GVA_PROTO_VERSION
 *   6   2    kind       gva_kind_t of the window asked for
 *   8   4    from_rank  requester's rank (for the exporter's logs)
 *   12  4    to_rank    rank the requester believes it is talking to
 *
 * Response (exporter → importer), GVA_PROTO_RESP_SIZE bytes, with the
 * segment's fd attached as SCM_RIGHTS when status is 0 (no fd otherwise):
 *   off size field
 *   0   4    magic      GVA_PROTO_RESP_MAGIC ("GVAR")
 *   4   2    version    GVA_PROTO_VERSION
 *   6   2    kind       echo of the request
 *   8   4    status     int32 SMEM_* (0: fd attached)
 *   12  4    rank       exporter's rank
 *   16  8    size       backed bytes of the segment
 *   24  8    page_size  mapping granularity (power of two, 4 KiB..1 GiB)
 *   32  4    flags      GVA_SEG_F_* in effect
 *   36  4    reserved   must be 0
 *   40  24   host       exporter's gva_host_id (boot_id[16], netns_ino u64)
 *
 * The decoders are pure (no I/O), check every field and reject trailing or
 * missing bytes with SMEM_PROTOCOL and a message; tests/fuzz/fuzz_gva_proto.c
 * runs them on arbitrary input.
 */
#ifndef GVA_PROTO_H
#define GVA_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "gva/gva.h"

#define GVA_PROTO_VERSION 1u
#define GVA_PROTO_REQ_MAGIC 0x51415647u  /* "GVAQ" as LE bytes */
#define GVA_PROTO_RESP_MAGIC 0x52415647u /* "GVAR" as LE bytes */
#define GVA_PROTO_REQ_SIZE 16u
#define GVA_PROTO_RESP_SIZE 64u
#define GVA_PROTO_PAGE_MIN 4096ull
#define GVA_PROTO_PAGE_MAX (1ull << 30)

_Static_assert(GVA_PROTO_REQ_SIZE == 4 + 2 + 2 + 4 + 4, "request layout");
_Static_assert(GVA_PROTO_RESP_SIZE == 4 + 2 + 2 + 4 + 4 + 8 + 8 + 4 + 4 + GVA_HOST_ID_WIRE_SIZE, "response layout");

typedef struct gva_proto_req {
    uint16_t kind;
    uint32_t from_rank;
    uint32_t to_rank;
} gva_proto_req_t;

typedef struct gva_proto_resp {
    uint16_t kind;
    int32_t status;
    uint32_t rank;
    uint64_t size;
    uint64_t page_size;
    uint32_t flags;
    gva_host_id_t host;
} gva_proto_resp_t;

void gva_proto_req_encode(const gva_proto_req_t *req, uint8_t out[GVA_PROTO_REQ_SIZE]);
void gva_proto_resp_encode(const gva_proto_resp_t *resp, uint8_t out[GVA_PROTO_RESP_SIZE]);

/* SMEM_OK and *out filled, or SMEM_PROTOCOL (out untouched) naming the bad field. */
int32_t gva_proto_req_decode(const uint8_t *p, size_t len, gva_proto_req_t *out);
int32_t gva_proto_resp_decode(const uint8_t *p, size_t len, gva_proto_resp_t *out);

#endif
