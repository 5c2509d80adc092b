/*
 * Fuzz target for the bytes a peer controls: the frame header decoder and the
 * connection input state machine (net_frame_parser_t, the same code the loop
 * feeds from sockets). Input layout: byte 0 picks the read-chunk pattern (how
 * recv would split the stream), the rest is the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_int.h"
#include "util/util_status.h"

#define FUZZ_MAX_BODY (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    net_frame_hdr_t h;
    if (net_frame_hdr_decode(data, size, FUZZ_MAX_BODY, &h) == SMEM_OK) {
        uint8_t again[NET_FRAME_HDR_SIZE];
        net_frame_hdr_encode(&h, again);
        if (memcmp(again, data, NET_FRAME_HDR_SIZE) != 0 || h.body_len > FUZZ_MAX_BODY ||
            (h.flags & ~NET_FLAG_MASK) != 0) {
            abort(); /* a header that validates must round-trip exactly */
        }
    }
    if (size == 0) {
        return 0;
    }
    unsigned step = data[0];
    data++;
    size--;

    net_frame_parser_t p;
    net_frame_parser_init(&p, FUZZ_MAX_BODY);
    size_t off = 0;
    unsigned k = 0;
    volatile uint8_t sink = 0;
    while (off < size) {
        size_t chunk = 1 + (step * 13u + k * 31u) % 97u;
        k++;
        if (chunk > size - off) {
            chunk = size - off;
        }
        size_t pos = 0;
        while (pos < chunk) {
            size_t used = 0;
            if (net_frame_parser_feed(&p, data + off + pos, chunk - pos, &used) != SMEM_OK) {
                goto out; /* the connection would be closed here */
            }
            if (used == 0 && !net_frame_parser_ready(&p)) {
                abort(); /* no progress: the loop would spin */
            }
            pos += used;
            if (net_frame_parser_ready(&p)) {
                if (p.hdr.body_len > FUZZ_MAX_BODY || (p.hdr.body_len > 0 && p.body == NULL)) {
                    abort();
                }
                for (uint32_t i = 0; i < p.hdr.body_len; i++) {
                    sink ^= p.body[i]; /* every body byte is readable */
                }
                net_frame_parser_next(&p);
            }
        }
        off += chunk;
    }
    if (net_frame_parser_partial(&p) >= NET_FRAME_HDR_SIZE + (size_t)FUZZ_MAX_BODY) {
        abort();
    }
out:
    net_frame_parser_fini(&p);
    (void)sink;
    return 0;
}
