/*
 * Control-plane frame format (all fields little-endian, 24-byte header):
 *
 *   off size field
 *   0   4    magic     NET_FRAME_MAGIC ("MFNT")
 *   4   1    version   NET_FRAME_VERSION
 *   5   1    flags     NET_FLAG_* (other bits reserved, must be 0)
 *   6   2    type      message type, owned by the layer above (store, meta);
 *                      types >= NET_TYPE_RESERVED_BASE belong to net itself
 *   8   4    body_len  bytes of body that follow; checked against the
 *                      receiver's max_frame before anything is allocated
 *   12  4    status    int32 status in responses (0 in requests)
 *   16  8    req_id    request id; a response carries its request's id
 *
 * The body's layout is defined by the message type.
 */
#ifndef NET_PROTO_H
#define NET_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define NET_FRAME_MAGIC 0x544E464Du /* "MFNT" read as little-endian u32 */
#define NET_FRAME_VERSION 1
#define NET_FRAME_HDR_SIZE 24

#define NET_FLAG_RESPONSE 0x01u /* answer to a request with the same req_id */
#define NET_FLAG_PUSH 0x02u     /* unsolicited message from the server (events) */
#define NET_FLAG_ONEWAY 0x04u   /* request that expects no response */
#define NET_FLAG_MASK 0x07u

#define NET_TYPE_RESERVED_BASE 0xFF00u
#define NET_TYPE_PING 0xFF01u /* keepalive, consumed by net, never delivered */
/* Added note: a PING without NET_FLAG_RESPONSE is answered with a PING that has
 * it (same req_id), so a client's idle_timeout_ms also detects a silent server. */

typedef struct net_frame_hdr {
    uint32_t magic;
    uint8_t version;
    uint8_t flags;
    uint16_t type;
    uint32_t body_len;
    int32_t status;
    uint64_t req_id;
} net_frame_hdr_t;

_Static_assert(NET_FRAME_HDR_SIZE == 4 + 1 + 1 + 2 + 4 + 4 + 8, "frame header layout");

/* Encode hdr into exactly NET_FRAME_HDR_SIZE bytes at out. */
void net_frame_hdr_encode(const net_frame_hdr_t *hdr, uint8_t out[NET_FRAME_HDR_SIZE]);

/*
 * Decode and validate a header from len bytes at buf. Returns 0, or
 * SMEM_PROTOCOL for a bad magic/version/flags, SMEM_TOO_LARGE when body_len
 * exceeds max_body (the message says which and the numbers), SMEM_INVALID_PARAM
 * when len < NET_FRAME_HDR_SIZE.
 */
int32_t net_frame_hdr_decode(const uint8_t *buf, size_t len, uint32_t max_body, net_frame_hdr_t *out);

#endif
