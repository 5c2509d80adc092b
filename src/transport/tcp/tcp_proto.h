/*
 * The tcp transport's wire format (data channel). Little-endian, fixed
 * width, one request in flight per connection.
 *
 * Request header, 48 bytes:
 *    0 u32 magic     TCP_MAGIC ("SMDT")
 *    4 u16 version   TCP_PROTO_VERSION
 *    6 u8  op        TCP_OP_READ (peer -> us) | TCP_OP_WRITE (us -> peer)
 *    7 u8  flags     reserved, 0
 *    8 u32 window    window id (tp.h: 0 = registered memory by address)
 *   12 u32 npieces   1..TCP_PIECES_MAX
 *   16 u64 seq       echoed in the response
 *   24 u64 offset    piece 0: offset in the window
 *   32 u64 length    piece 0: bytes (>= 1)
 *   40 u64 total     bytes of all pieces (the payload of a WRITE, of a READ's answer)
 * then (npieces - 1) × {u64 offset, u64 length} for pieces 1.., then, for a
 * WRITE, `total` payload bytes: the pieces in order, back to back.
 *
 * Response header, 32 bytes:
 *    0 u32 magic, 4 u16 version, 6 u8 op (the request's op | TCP_OP_RESP),
 *    7 u8 flags (0), 8 i32 status (SMEM_*), 12 u32 reserved (0),
 *   16 u64 seq, 24 u64 length (payload bytes that follow: a successful
 *   READ's `total`, otherwise 0).
 * A WRITE is answered after its payload is in place; a rejected WRITE's
 * payload is still read (and dropped) so the connection stays in step.
 *
 * Greeting, before any request: the server opens every connection (after
 * TLS, when on) with a HELLO; when its flags ask for the cluster credential
 * (TCP_HELLO_F_PROOF), the client answers with a PROOF and the server proves
 * itself back with one, so each side knows the other holds the same secret
 * before a byte of memory moves; a server without a credential is done after
 * its HELLO. All three messages are 80 bytes:
 *    0 u32 magic, 4 u16 version, 6 u8 op (TCP_OP_HELLO | TCP_OP_PROOF),
 *    7 u8 flags (HELLO: TCP_HELLO_F_PROOF or 0; PROOF: 0), 8 u64 reserved 0,
 *   16 32 bytes  HELLO: the server's random nonce; PROOF: a MAC (below)
 *   48 32 bytes  client's PROOF: its random nonce; otherwise 0
 * client MAC = HMAC-SHA256(key, "smem tcp client v2" || server nonce),
 * server MAC = HMAC-SHA256(key, "smem tcp server v2" || client nonce || server nonce).
 *
 * Decoders are pure functions over bytes (fuzz targets fuzz_tcp_proto, and
 * fuzz_tcp_resp for the client's reading of a response stream).
 */
#ifndef TCP_PROTO_H
#define TCP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_MAGIC 0x54444d53u /* "SMDT" on the wire */
#define TCP_PROTO_VERSION 2u /* 2: the greeting */
#define TCP_REQ_HDR_SIZE 48u
#define TCP_PIECE_SIZE 16u
#define TCP_RESP_SIZE 32u
#define TCP_PIECES_MAX 4096u              /* pieces in one request: a table of at most 64 KiB */
#define TCP_REQ_BYTES_MAX (1ull << 30)     /* payload of one request */

enum {
    TCP_OP_READ = 1,
    TCP_OP_WRITE = 2,
    TCP_OP_HELLO = 3,
    TCP_OP_PROOF = 4,
    TCP_OP_RESP = 0x80,
};

_Static_assert(TCP_REQ_HDR_SIZE == 4 + 2 + 1 + 1 + 4 + 4 + 8 + 8 + 8 + 8, "request header layout");
_Static_assert(TCP_PIECE_SIZE == 8 + 8, "piece layout");
_Static_assert(TCP_RESP_SIZE == 4 + 2 + 1 + 1 + 4 + 4 + 8 + 8, "response header layout");
_Static_assert((uint64_t)TCP_PIECES_MAX * TCP_PIECE_SIZE <= (64u << 10), "piece table bound");

typedef struct tcp_req {
    uint8_t op;
    uint32_t window;
    uint32_t npieces;
    uint64_t seq;
    uint64_t offset; /* piece 0 */
    uint64_t length;
    uint64_t total;
} tcp_req_t;

typedef struct tcp_span {
    uint64_t offset;
    uint64_t length;
} tcp_span_t;

typedef struct tcp_resp {
    uint8_t op;
    int32_t status;
    uint64_t seq;
    uint64_t length;
} tcp_resp_t;

void tcp_req_encode(const tcp_req_t *r, uint8_t out[TCP_REQ_HDR_SIZE]);
/* Header only: magic, version, op, flags, npieces range, piece 0 non-empty,
 * total within TCP_REQ_BYTES_MAX. SMEM_PROTOCOL with the reason otherwise. */
int32_t tcp_req_decode(const uint8_t *buf, size_t len, tcp_req_t *out);

void tcp_span_encode(const tcp_span_t *s, uint8_t out[TCP_PIECE_SIZE]);
/*
 * Request validation before any memory is touched: the (npieces - 1)-entry
 * table in buf (exactly that many bytes) is decoded into spans[1..] (spans[0]
 * is the header's piece), every length >= 1, no offset + length wraps, and
 * the lengths add up to the header's total. SMEM_PROTOCOL otherwise.
 * spans holds r->npieces entries.
 */
int32_t tcp_req_check(const tcp_req_t *r, const uint8_t *table, size_t table_len, tcp_span_t *spans);

void tcp_resp_encode(const tcp_resp_t *r, uint8_t out[TCP_RESP_SIZE]);
/* Magic, version, flags and reserved fields; a response op; a status that
 * is SMEM_OK or an SMEM_* error this side knows; an error carries no
 * payload. SMEM_PROTOCOL otherwise. */
int32_t tcp_resp_decode(const uint8_t *buf, size_t len, tcp_resp_t *out);
/*
 * The client's reading of the response to `req`, the request it sent last
 * on this connection (its op, seq and total): tcp_resp_decode, then the
 * request's seq and op, and exactly req->total payload bytes announced by a
 * successful READ, none by anything else. SMEM_PROTOCOL otherwise: the
 * stream is out of step and the connection must go. On SMEM_OK,
 * out->status is the peer's verdict on the request.
 */
int32_t tcp_resp_check(const uint8_t *buf, size_t len, const tcp_req_t *req, tcp_resp_t *out);

/* ---- greeting ---- */

#define TCP_HELLO_SIZE 80u
#define TCP_NONCE_SIZE 32u
#define TCP_MAC_SIZE 32u
#define TCP_HELLO_F_PROOF 0x01u
#define TCP_CRED_MAX 64u /* bytes of a cluster credential (TP_CRED_MAX) */

_Static_assert(TCP_HELLO_SIZE == 4 + 2 + 1 + 1 + 8 + 32 + 32, "greeting layout");

typedef struct tcp_hello {
    uint8_t op; /* TCP_OP_HELLO or TCP_OP_PROOF */
    uint8_t flags;
    uint8_t a[32]; /* HELLO: server nonce; PROOF: MAC */
    uint8_t b[32]; /* client PROOF: client nonce; otherwise zero */
} tcp_hello_t;

void tcp_hello_encode(const tcp_hello_t *h, uint8_t out[TCP_HELLO_SIZE]);
/* Exactly TCP_HELLO_SIZE bytes: magic, version, op == want_op, flags known
 * for that op, reserved 0. SMEM_PROTOCOL otherwise. */
int32_t tcp_hello_decode(const uint8_t *buf, size_t len, uint8_t want_op, tcp_hello_t *out);
/* The MACs of the greeting (see above); false if the digest failed (refuse the peer then). */
bool tcp_mac_client(const uint8_t *key, size_t key_len, const uint8_t server_nonce[TCP_NONCE_SIZE],
                    uint8_t mac[TCP_MAC_SIZE]);
bool tcp_mac_server(const uint8_t *key, size_t key_len, const uint8_t client_nonce[TCP_NONCE_SIZE],
                    const uint8_t server_nonce[TCP_NONCE_SIZE], uint8_t mac[TCP_MAC_SIZE]);

#endif
