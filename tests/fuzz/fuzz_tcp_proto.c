/*
 * Fuzz target for what the tcp data server and client read from a peer
 * (tcp_proto.h): the request header decoder, the request validation over the
 * piece table that follows it, the response decoder, and the greeting (HELLO
 * and PROOF) both sides read before any request. Whatever passes must satisfy
 * the documented limits and re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/tcp/tcp_proto.h"
#include "util/util_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tcp_span_t spans[TCP_PIECES_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tcp_req_t r;
    if (tcp_req_decode(data, size, &r) == SMEM_OK) {
        uint8_t again[TCP_REQ_HDR_SIZE];
        tcp_req_encode(&r, again);
        if (memcmp(again, data, TCP_REQ_HDR_SIZE) != 0 || r.npieces == 0 || r.npieces > TCP_PIECES_MAX ||
            r.length == 0 || r.total < r.length || r.total > TCP_REQ_BYTES_MAX)
            abort();
        /* The table is what follows the header, as the server would read it (exactly its size, or short). */
        size_t want = (size_t)(r.npieces - 1) * TCP_PIECE_SIZE, have = size - TCP_REQ_HDR_SIZE;
        size_t tlen = have < want ? have : want;
        if (tcp_req_check(&r, data + TCP_REQ_HDR_SIZE, tlen, spans) == SMEM_OK) {
            if (tlen != want) abort();
            uint64_t sum = 0;
            for (uint32_t i = 0; i < r.npieces; i++) {
                if (spans[i].length == 0 || spans[i].length - 1 > UINT64_MAX - spans[i].offset) abort();
                sum += spans[i].length;
                /* the bounds check a resolver does against a 1 GiB window must not overflow either */
                const uint64_t win = 1ull << 30;
                volatile int inside = spans[i].offset <= win && spans[i].length <= win - spans[i].offset;
                (void)inside;
            }
            if (sum != r.total) abort();
        }
    }
    tcp_resp_t resp;
    if (tcp_resp_decode(data, size, &resp) == SMEM_OK) {
        uint8_t again[TCP_RESP_SIZE];
        tcp_resp_encode(&resp, again);
        if (memcmp(again, data, TCP_RESP_SIZE) != 0 || resp.status > 0 || (resp.status != 0 && resp.length != 0) ||
            resp.length > TCP_REQ_BYTES_MAX)
            abort();
    }
    for (uint8_t op = TCP_OP_HELLO; op <= TCP_OP_PROOF; op++) {
        tcp_hello_t h;
        if (tcp_hello_decode(data, size, op, &h) != SMEM_OK) continue;
        uint8_t again[TCP_HELLO_SIZE];
        tcp_hello_encode(&h, again);
        if (size != TCP_HELLO_SIZE || memcmp(again, data, TCP_HELLO_SIZE) != 0 || h.op != op ||
            (op == TCP_OP_PROOF && h.flags != 0) || (h.flags & ~TCP_HELLO_F_PROOF) != 0)
            abort();
        /* what a server does with a PROOF: a MAC over the peer's bytes, compared in constant time */
        uint8_t mac[TCP_MAC_SIZE];
        if (!tcp_mac_server(data, size < TCP_CRED_MAX ? size : TCP_CRED_MAX, h.b, h.a, mac)) abort();
    }
    return 0;
}
