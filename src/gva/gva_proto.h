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
 * runs them on arbitrary input. The importer's whole reading of a reply as
 * recvmsg left it, ancillary data and fds included, is gva_proto_reply_decode
 * (tests/fuzz/fuzz_gva_cmsg.c, over real fd passing too).
 */
#ifndef GVA_PROTO_H
#define GVA_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

/* SMEM_OK and *out filled, or SMEM_PROTOCOL (out untouched) naming the bad field.
 * A response's status is SMEM_OK or an SMEM_* error this side knows. */
int32_t gva_proto_req_decode(const uint8_t *p, size_t len, gva_proto_req_t *out);
int32_t gva_proto_resp_decode(const uint8_t *p, size_t len, gva_proto_resp_t *out);

/* ---- the importer's reading of a reply, as recvmsg delivered it ---- */

/* fds an importer's control buffer has room for: the one expected, and more
 * so that extras are noticed (and closed) rather than cut off. */
#define GVA_PROTO_FDS_MAX 4u
/* Bytes of an importer's recvmsg control buffer. */
#define GVA_PROTO_CMSG_SPACE CMSG_SPACE(sizeof(int) * GVA_PROTO_FDS_MAX)
/* Entries fds[] needs for every fd a control buffer of len bytes can carry. */
#define GVA_PROTO_CMSG_FDS_CAP(len) ((len) / sizeof(int))

/*
 * The fds in a received message's ancillary data: control and controllen
 * as recvmsg left msg_control and msg_controllen (any alignment), msg_flags
 * its flags. Every fd of every SOL_SOCKET /
 * SCM_RIGHTS cmsg goes into fds, which has room for
 * GVA_PROTO_CMSG_FDS_CAP(controllen) entries, so none is ever dropped;
 * *nfds is set on every return and the caller closes them all. Other cmsgs
 * carry no fds and are skipped. SMEM_PROTOCOL when the control data was
 * truncated (MSG_CTRUNC: the sender attached more than fits; the kernel
 * closed the rest) or a cmsg length runs outside the buffer or is not a
 * whole number of fds (never written by the kernel); the fds found up to
 * there are still returned.
 */
int32_t gva_proto_cmsg_fds(const void *control, size_t controllen, int msg_flags, int *fds, size_t *nfds);

/* What an importer expects of a reply: from its window. */
typedef struct gva_proto_expect {
    gva_kind_t kind;
    uint32_t rank;     /* the rank asked for */
    uint64_t max_size; /* the window's stride */
    gva_host_id_t host;
} gva_proto_expect_t;

/*
 * The importer's reading of the exporter's reply: body (n bytes, as
 * recvmsg returned them into a buffer of more than GVA_PROTO_RESP_SIZE
 * bytes, so an oversized reply shows), msg_flags and the ancillary data,
 * whose fds gva_proto_cmsg_fds collects into fds / *nfds on every return
 * (the caller closes them all). SMEM_OK: a success reply of the asked rank
 * and kind on our host, a segment no larger than the stride, exactly one
 * fd (fds[0]); *out filled. Otherwise, with the rank in the message:
 * SMEM_PEER_GONE (an empty message: the exporter closed), the exporter's
 * refusal status, SMEM_OUT_OF_RANGE (segment larger than the stride) or
 * SMEM_PROTOCOL (truncated, malformed, another peer or host, fd count).
 */
int32_t gva_proto_reply_decode(const gva_proto_expect_t *exp, const uint8_t *body, size_t n, int msg_flags,
                               const void *control, size_t controllen, int *fds, size_t *nfds,
                               gva_proto_resp_t *out);

#endif
