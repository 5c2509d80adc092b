/*
 * Fuzz target for the tcp data client's reading of one connection's
 * response stream (tcp_ep.c): what a possibly malicious data server sends
 * back to the requests the client sent on it, one at a time.
 *
 * Input: a plan, then the stream.
 *   [u8 nreq][u64 seq of the first request]
 *   nreq x ([u8 b: bit 0 WRITE, bits 1-2 pieces - 1][one u8 per piece: length - 1])
 *   [u8 read size seed] then the server's bytes.
 * For each request, as tcp_flight_next and tcp_flight_pump do: 32 bytes of
 * stream through tcp_resp_check; a failure ends the connection; an error
 * answer fails the request and the stream goes on; a successful READ's
 * payload is received into the request's pieces (each allocated with its
 * exact length, so ASan sees any overrun) in short reads that advance the
 * iovec with tcp_iov_advance, as recvmsg would return them. What is
 * accepted must be the answer to that very request and re-encode to the
 * same bytes; a READ's pieces must then hold exactly the payload bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "transport/tcp/tcp.h"
#include "transport/tcp/tcp_proto.h"
#include "util/util_buf.h"
#include "util/util_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NREQ_MAX 6u
#define NPIECES_MAX 4u

typedef struct plan_req {
    tcp_req_t req;
    uint32_t n;
    uint32_t len[NPIECES_MAX];
} plan_req_t;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_tcp_resp: %s\n", what);
    abort();
}

/* Receive want bytes of stream into the pieces in short reads; false when the stream ends first. */
static bool recv_payload(const plan_req_t *pr, const uint8_t *s, size_t left, uint64_t want, uint8_t seed)
{
    uint8_t *mem[NPIECES_MAX];
    struct iovec iov_mem[NPIECES_MAX];
    for (uint32_t i = 0; i < pr->n; i++) {
        mem[i] = malloc(pr->len[i]);
        if (mem[i] == NULL) abort();
        iov_mem[i] = (struct iovec){.iov_base = mem[i], .iov_len = pr->len[i]};
    }
    struct iovec *iov = iov_mem;
    int cnt = (int)pr->n;
    uint64_t got = 0;
    uint32_t lcg = seed;
    bool whole = true;
    while (cnt > 0) {
        if (got == left) {
            whole = false; /* EOF mid-payload: the connection is killed */
            break;
        }
        lcg = lcg * 1103515245u + 12345u;
        uint64_t n = 1 + (lcg >> 16) % 40;
        if (n > left - got) n = left - got;
        /* recvmsg: fill the iovecs in order, at most n bytes */
        uint64_t put = 0;
        for (int i = 0; i < cnt && put < n; i++) {
            size_t k = iov[i].iov_len < n - put ? iov[i].iov_len : (size_t)(n - put);
            memcpy(iov[i].iov_base, s + got + put, k);
            put += k;
        }
        got += put;
        tcp_iov_advance(&iov, &cnt, put);
        while (cnt > 0 && iov->iov_len == 0) {
            iov++;
            cnt--;
        }
    }
    if (whole) {
        if (got != want) fail("payload received differs from what the response announced");
        uint64_t at = 0;
        for (uint32_t i = 0; i < pr->n; i++) {
            if (memcmp(mem[i], s + at, pr->len[i]) != 0) fail("payload bytes landed in the wrong place");
            at += pr->len[i];
        }
    }
    for (uint32_t i = 0; i < pr->n; i++) free(mem[i]);
    return whole;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9) return 0;
    size_t pos = 0;
    uint32_t nreq = 1 + data[pos++] % NREQ_MAX;
    uint64_t seq = util_get_le64(data + pos);
    pos += 8;
    plan_req_t plan[NREQ_MAX];
    for (uint32_t r = 0; r < nreq; r++) {
        if (pos >= size) return 0;
        uint8_t b = data[pos++];
        plan_req_t *pr = &plan[r];
        pr->n = 1 + ((b >> 1) & 3);
        uint64_t total = 0;
        for (uint32_t i = 0; i < pr->n; i++) {
            if (pos >= size) return 0;
            pr->len[i] = 1u + data[pos++];
            total += pr->len[i];
        }
        /* the request as tcp_flight_start sends it; seq is the endpoint's counter, so it may wrap */
        pr->req = (tcp_req_t){.op = (b & 1) ? TCP_OP_WRITE : TCP_OP_READ, .npieces = pr->n, .seq = seq + r,
                              .length = pr->len[0], .total = total};
    }
    if (pos >= size) return 0;
    uint8_t seed = data[pos++];
    const uint8_t *s = data + pos;
    size_t left = size - pos;

    for (uint32_t r = 0; r < nreq; r++) {
        const plan_req_t *pr = &plan[r];
        if (left < TCP_RESP_SIZE) return 0; /* EOF before the response: the connection is killed */
        uint8_t hdr[TCP_RESP_SIZE];          /* the flight's own buffer, exactly one header */
        memcpy(hdr, s, sizeof(hdr));
        s += sizeof(hdr);
        left -= sizeof(hdr);
        util_err_clear();
        tcp_resp_t resp;
        int32_t rc = tcp_resp_check(hdr, sizeof(hdr), &pr->req, &resp);
        if (rc != SMEM_OK) {
            if (rc != SMEM_PROTOCOL) fail("a bad response is not SMEM_PROTOCOL");
            if (util_err_get()[0] == '\0') fail("a bad response gave no message");
            return 0; /* the connection is killed */
        }
        uint8_t again[TCP_RESP_SIZE];
        tcp_resp_encode(&resp, again);
        if (memcmp(again, hdr, sizeof(hdr)) != 0) fail("an accepted response re-encodes differently");
        if (resp.seq != pr->req.seq || resp.op != (pr->req.op | TCP_OP_RESP))
            fail("accepted the answer to another request");
        if (resp.status > 0 || strcmp(util_strerror(resp.status), "unknown status") == 0)
            fail("accepted a status that is no SMEM_* code");
        bool ok_read = resp.status == SMEM_OK && pr->req.op == TCP_OP_READ;
        if (resp.length != (ok_read ? pr->req.total : 0)) fail("accepted a payload length out of step");
        if (!ok_read) continue; /* an error answer or a WRITE's: the next request follows on this connection */
        if (!recv_payload(pr, s, left, resp.length, seed)) return 0;
        s += resp.length;
        left -= resp.length;
    }
    /* Bytes beyond the last answer: tcp_conn_idle_broken closes the connection before its next use. */
    return 0;
}
