/* Encoders and bounds-checked decoders of the data-channel format (tcp_proto.h). */
#include "transport/tcp/tcp_proto.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/util_buf.h"
#include "util/util_status.h"

void tcp_req_encode(const tcp_req_t *r, uint8_t out[TCP_REQ_HDR_SIZE])
{
    util_put_le32(out, TCP_MAGIC);
    util_put_le16(out + 4, TCP_PROTO_VERSION);
    out[6] = r->op;
    out[7] = 0;
    util_put_le32(out + 8, r->window);
    util_put_le32(out + 12, r->npieces);
    util_put_le64(out + 16, r->seq);
    util_put_le64(out + 24, r->offset);
    util_put_le64(out + 32, r->length);
    util_put_le64(out + 40, r->total);
}

/* Magic and version, the first 6 bytes of every message (at least 6 readable). */
static int32_t tcp_magic_check(const uint8_t *buf)
{
    uint32_t magic = util_get_le32(buf);
    uint16_t ver = util_get_le16(buf + 4);
    if (magic != TCP_MAGIC) return util_err_set(SMEM_PROTOCOL, "bad magic 0x%08x (want 0x%08x)", magic, TCP_MAGIC);
    if (ver != TCP_PROTO_VERSION)
        return util_err_set(SMEM_PROTOCOL, "protocol version %u (this side speaks %u)", ver, TCP_PROTO_VERSION);
    return SMEM_OK;
}

int32_t tcp_req_decode(const uint8_t *buf, size_t len, tcp_req_t *out)
{
    if (buf == NULL || len < TCP_REQ_HDR_SIZE)
        return util_err_set(SMEM_PROTOCOL, "request header of %zu bytes (want %u)", len, TCP_REQ_HDR_SIZE);
    int32_t rc = tcp_magic_check(buf);
    if (rc != SMEM_OK) return rc;
    tcp_req_t r = {
        .op = buf[6],
        .window = util_get_le32(buf + 8),
        .npieces = util_get_le32(buf + 12),
        .seq = util_get_le64(buf + 16),
        .offset = util_get_le64(buf + 24),
        .length = util_get_le64(buf + 32),
        .total = util_get_le64(buf + 40),
    };
    if (r.op != TCP_OP_READ && r.op != TCP_OP_WRITE) return util_err_set(SMEM_PROTOCOL, "unknown op %u", r.op);
    if (buf[7] != 0) return util_err_set(SMEM_PROTOCOL, "reserved flags 0x%02x set", buf[7]);
    if (r.npieces == 0 || r.npieces > TCP_PIECES_MAX)
        return util_err_set(SMEM_PROTOCOL, "%u pieces (1..%u)", r.npieces, TCP_PIECES_MAX);
    if (r.length == 0) return util_err_set(SMEM_PROTOCOL, "piece 0 has length 0");
    if (r.total < r.length || r.total > TCP_REQ_BYTES_MAX)
        return util_err_set(SMEM_PROTOCOL, "total %llu bytes (piece 0 has %llu, limit %llu)",
                            (unsigned long long)r.total, (unsigned long long)r.length,
                            (unsigned long long)TCP_REQ_BYTES_MAX);
    if (r.npieces == 1 && r.total != r.length)
        return util_err_set(SMEM_PROTOCOL, "one piece of %llu bytes but total %llu", (unsigned long long)r.length,
                            (unsigned long long)r.total);
    *out = r;
    return SMEM_OK;
}

void tcp_span_encode(const tcp_span_t *s, uint8_t out[TCP_PIECE_SIZE])
{
    util_put_le64(out, s->offset);
    util_put_le64(out + 8, s->length);
}

int32_t tcp_req_check(const tcp_req_t *r, const uint8_t *table, size_t table_len, tcp_span_t *spans)
{
    if (r->npieces == 0 || r->npieces > TCP_PIECES_MAX)
        return util_err_set(SMEM_PROTOCOL, "%u pieces (1..%u)", r->npieces, TCP_PIECES_MAX);
    size_t want = (size_t)(r->npieces - 1) * TCP_PIECE_SIZE;
    if (table_len != want || (want > 0 && table == NULL))
        return util_err_set(SMEM_PROTOCOL, "piece table of %zu bytes for %u pieces (want %zu)", table_len, r->npieces,
                            want);
    spans[0] = (tcp_span_t){.offset = r->offset, .length = r->length};
    uint64_t sum = 0;
    for (uint32_t i = 0; i < r->npieces; i++) {
        if (i > 0) {
            const uint8_t *p = table + (size_t)(i - 1) * TCP_PIECE_SIZE;
            spans[i] = (tcp_span_t){.offset = util_get_le64(p), .length = util_get_le64(p + 8)};
        }
        const tcp_span_t *s = &spans[i];
        if (s->length == 0) return util_err_set(SMEM_PROTOCOL, "piece %u has length 0", i);
        if (s->length - 1 > UINT64_MAX - s->offset)
            return util_err_set(SMEM_PROTOCOL, "piece %u: offset %llu + %llu bytes wraps", i,
                                (unsigned long long)s->offset, (unsigned long long)s->length);
        if (s->length > r->total - sum)
            return util_err_set(SMEM_PROTOCOL, "pieces 0..%u add up to more than the total %llu bytes", i,
                                (unsigned long long)r->total);
        sum += s->length;
    }
    if (sum != r->total)
        return util_err_set(SMEM_PROTOCOL, "pieces add up to %llu bytes, header says %llu", (unsigned long long)sum,
                            (unsigned long long)r->total);
    return SMEM_OK;
}

void tcp_resp_encode(const tcp_resp_t *r, uint8_t out[TCP_RESP_SIZE])
{
    util_put_le32(out, TCP_MAGIC);
    util_put_le16(out + 4, TCP_PROTO_VERSION);
    out[6] = r->op;
    out[7] = 0;
    util_put_le32(out + 8, (uint32_t)r->status);
    util_put_le32(out + 12, 0);
    util_put_le64(out + 16, r->seq);
    util_put_le64(out + 24, r->length);
}

int32_t tcp_resp_decode(const uint8_t *buf, size_t len, tcp_resp_t *out)
{
    if (buf == NULL || len < TCP_RESP_SIZE)
        return util_err_set(SMEM_PROTOCOL, "response of %zu bytes (want %u)", len, TCP_RESP_SIZE);
    uint32_t magic = util_get_le32(buf);
    uint16_t ver = util_get_le16(buf + 4);
    if (magic != TCP_MAGIC || ver != TCP_PROTO_VERSION)
        return util_err_set(SMEM_PROTOCOL, "response magic 0x%08x version %u (want 0x%08x version %u)", magic, ver,
                            TCP_MAGIC, TCP_PROTO_VERSION);
    tcp_resp_t r = {.op = buf[6], .status = (int32_t)util_get_le32(buf + 8), .seq = util_get_le64(buf + 16),
                    .length = util_get_le64(buf + 24)};
    if (buf[7] != 0 || util_get_le32(buf + 12) != 0)
        return util_err_set(SMEM_PROTOCOL, "response reserved fields set (0x%02x, 0x%08x)", buf[7],
                            util_get_le32(buf + 12));
    if (r.op != (TCP_OP_READ | TCP_OP_RESP) && r.op != (TCP_OP_WRITE | TCP_OP_RESP))
        return util_err_set(SMEM_PROTOCOL, "response op 0x%02x", r.op);
    if (r.status > 0) return util_err_set(SMEM_PROTOCOL, "response status %d is positive", r.status);
    if (!util_status_known(r.status))
        return util_err_set(SMEM_PROTOCOL, "response status %d is no SMEM_* code this side knows", r.status);
    if (r.status != 0 && r.length != 0)
        return util_err_set(SMEM_PROTOCOL, "error response (%d) announces %llu payload bytes", r.status,
                            (unsigned long long)r.length);
    if (r.length > TCP_REQ_BYTES_MAX)
        return util_err_set(SMEM_PROTOCOL, "response payload of %llu bytes", (unsigned long long)r.length);
    *out = r;
    return SMEM_OK;
}

int32_t tcp_resp_check(const uint8_t *buf, size_t len, const tcp_req_t *req, tcp_resp_t *out)
{
    tcp_resp_t r;
    int32_t rc = tcp_resp_decode(buf, len, &r);
    if (rc != SMEM_OK) return rc;
    uint8_t want_op = (uint8_t)(req->op | TCP_OP_RESP);
    uint64_t want_len = r.status == SMEM_OK && req->op == TCP_OP_READ ? req->total : 0;
    if (r.seq != req->seq || r.op != want_op || r.length != want_len)
        return util_err_set(SMEM_PROTOCOL,
                            "reply out of step: seq %llu op 0x%02x status %d length %llu (want seq %llu op 0x%02x "
                            "length %llu)",
                            (unsigned long long)r.seq, r.op, r.status, (unsigned long long)r.length,
                            (unsigned long long)req->seq, want_op, (unsigned long long)want_len);
    *out = r;
    return SMEM_OK;
}

/* ---------- greeting ---------- */

void tcp_hello_encode(const tcp_hello_t *h, uint8_t out[TCP_HELLO_SIZE])
{
    util_put_le32(out, TCP_MAGIC);
    util_put_le16(out + 4, TCP_PROTO_VERSION);
    out[6] = h->op;
    out[7] = h->flags;
    util_put_le64(out + 8, 0);
    memcpy(out + 16, h->a, sizeof(h->a));
    memcpy(out + 48, h->b, sizeof(h->b));
}

int32_t tcp_hello_decode(const uint8_t *buf, size_t len, uint8_t want_op, tcp_hello_t *out)
{
    if (buf == NULL || len != TCP_HELLO_SIZE)
        return util_err_set(SMEM_PROTOCOL, "greeting of %zu bytes (want %u)", len, TCP_HELLO_SIZE);
    int32_t rc = tcp_magic_check(buf);
    if (rc != SMEM_OK) return rc;
    if (buf[6] != want_op)
        return util_err_set(SMEM_PROTOCOL, "op %u where the greeting's %s (op %u) belongs", buf[6],
                            want_op == TCP_OP_HELLO ? "HELLO" : "PROOF", want_op);
    uint8_t known = want_op == TCP_OP_HELLO ? TCP_HELLO_F_PROOF : 0;
    if ((buf[7] & ~known) != 0) return util_err_set(SMEM_PROTOCOL, "greeting flags 0x%02x unknown", buf[7]);
    if (util_get_le64(buf + 8) != 0) return util_err_set(SMEM_PROTOCOL, "greeting: reserved bytes set");
    tcp_hello_t h = {.op = buf[6], .flags = buf[7]};
    memcpy(h.a, buf + 16, sizeof(h.a));
    memcpy(h.b, buf + 48, sizeof(h.b));
    *out = h;
    return SMEM_OK;
}

static bool tcp_mac(const uint8_t *key, size_t key_len, const char *label, const uint8_t *d1, const uint8_t *d2,
                    uint8_t mac[TCP_MAC_SIZE])
{
    uint8_t msg[24 + 2 * TCP_NONCE_SIZE];
    size_t n = strlen(label);
    memcpy(msg, label, n);
    memcpy(msg + n, d1, TCP_NONCE_SIZE);
    n += TCP_NONCE_SIZE;
    if (d2 != NULL) {
        memcpy(msg + n, d2, TCP_NONCE_SIZE);
        n += TCP_NONCE_SIZE;
    }
    unsigned int len = TCP_MAC_SIZE;
    return HMAC(EVP_sha256(), key, (int)key_len, msg, n, mac, &len) != NULL && len == TCP_MAC_SIZE;
}

bool tcp_mac_client(const uint8_t *key, size_t key_len, const uint8_t server_nonce[TCP_NONCE_SIZE],
                    uint8_t mac[TCP_MAC_SIZE])
{
    return tcp_mac(key, key_len, "smem tcp client v2", server_nonce, NULL, mac);
}

bool tcp_mac_server(const uint8_t *key, size_t key_len, const uint8_t client_nonce[TCP_NONCE_SIZE],
                    const uint8_t server_nonce[TCP_NONCE_SIZE], uint8_t mac[TCP_MAC_SIZE])
{
    return tcp_mac(key, key_len, "smem tcp server v2", client_nonce, server_nonce, mac);
}
