/*
 * Fuzz target for the importer's reading of an exporter's reply as recvmsg
 * left it (gva_proto_reply_decode, which gva_import.c calls): the body, the
 * message flags and the ancillary data with its fds. The reply is checked
 * against a fixed expectation (host window of rank 1, a 1 GiB stride, host
 * id EXP_HOST below). First byte, bit 0:
 *  - 0, raw: [u8 flags: bit 0 MSG_TRUNC, bit 1 MSG_CTRUNC][u8 controllen]
 *    [controllen bytes of control data, any content][the body: at most
 *    GVA_PROTO_RESP_SIZE + 1 bytes are "received", MSG_TRUNC set beyond].
 *    The fds are made-up numbers, never closed; each returned one must be
 *    a whole int inside an SCM_RIGHTS message of the buffer.
 *  - 1, real: [u8 b: bits 0-2 fds to attach, bit 3 in two SCM_RIGHTS
 *    messages, bit 4 SO_PASSCRED on the receiver (an SCM_CREDENTIALS
 *    message comes first)][the body]. One message over a SOCK_SEQPACKET
 *    socketpair carrying dups of /dev/null, received exactly as
 *    gva_import.c does (same buffers and flags). Every fd the decoder hands
 *    back is closed, as the importer does; afterwards the process must hold
 *    exactly the fds it held before: none may leak.
 * Both modes: a success is a reply that matches the expectation with
 * exactly one fd; an error is a known SMEM_* status with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gva/gva_proto.h"
#include "util/util_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_CAP (GVA_PROTO_RESP_SIZE + 1) /* gva_window_import_peer's buffer */
#define FD_SCAN 256                          /* fd numbers checked for leaks */
#define SEND_MAX 7

static const gva_proto_expect_t kExp = {
    .kind = GVA_KIND_HOST,
    .rank = 1,
    .max_size = 1ull << 30,
    .host = {.boot_id = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01},
             .netns_ino = 4026531840ull},
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_gva_cmsg: %s\n", what);
    abort();
}

static void check_result(int32_t rc, const gva_proto_resp_t *resp, size_t n, int flags, size_t nfds, size_t cap)
{
    if (nfds > cap) fail("more fds than the buffer can hold");
    if (rc == SMEM_OK) {
        if (nfds != 1 || n != GVA_PROTO_RESP_SIZE || (flags & (MSG_TRUNC | MSG_CTRUNC)) != 0)
            fail("accepted a reply with the wrong fd count, length or flags");
        if (resp->status != SMEM_OK || resp->kind != (uint16_t)kExp.kind || resp->rank != kExp.rank ||
            resp->size == 0 || resp->size > kExp.max_size || !gva_host_id_equal(&resp->host, &kExp.host))
            fail("accepted a reply that does not match the expectation");
        return;
    }
    if (rc > 0 || strcmp(util_strerror(rc), "unknown status") == 0) fail("an error that is no SMEM_* code");
    if (util_err_get()[0] == '\0') fail("an error without a message");
}

/* ---------- raw: any control bytes ---------- */

static void run_raw(const uint8_t *d, size_t size)
{
    if (size < 2) return;
    int flags = ((d[0] & 1) ? MSG_TRUNC : 0) | ((d[0] & 2) ? MSG_CTRUNC : 0);
    size_t clen = d[1];
    d += 2;
    size -= 2;
    if (clen > size) clen = size;
    size_t n = size - clen;
    if (n > BODY_CAP) {
        n = BODY_CAP;
        flags |= MSG_TRUNC;
    }
    /* exact-size copies, so ASan sees any read past either buffer */
    uint8_t *ctl = malloc(clen ? clen : 1), *body = malloc(n ? n : 1);
    if (ctl == NULL || body == NULL) abort();
    memcpy(ctl, d, clen);
    memcpy(body, d + clen, n);
    int fds[GVA_PROTO_CMSG_FDS_CAP(255) + 1];
    size_t nfds = SIZE_MAX;
    gva_proto_resp_t resp;
    util_err_clear();
    int32_t rc = gva_proto_reply_decode(&kExp, body, n, flags, clen ? ctl : NULL, clen, fds, &nfds, &resp);
    check_result(rc, &resp, n, flags, nfds, GVA_PROTO_CMSG_FDS_CAP(clen));
    /* each fd must be a whole int inside an SCM_RIGHTS message of the buffer, in order */
    size_t at = CMSG_LEN(0);
    for (size_t i = 0; i < nfds; i++) {
        bool found = false;
        while (!found && at + sizeof(int) <= clen) {
            int v;
            memcpy(&v, ctl + at, sizeof(v));
            found = v == fds[i];
            at += found ? sizeof(int) : 1;
        }
        if (!found) fail("returned an fd that is not in the control data");
    }
    free(ctl);
    free(body);
}

/* ---------- real: fds over a socketpair ---------- */

static int g_null = -1;

static void fd_snapshot(bool open_fds[FD_SCAN])
{
    for (int i = 0; i < FD_SCAN; i++) open_fds[i] = fcntl(i, F_GETFD) >= 0;
}

static void run_real(const uint8_t *d, size_t size)
{
    if (size < 1) return;
    if (g_null < 0) g_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (g_null < 0) abort();
    uint8_t b = d[0];
    size_t nsend = b & 7u;
    bool split = (b & 8u) != 0 && nsend >= 2, passcred = (b & 16u) != 0;
    const uint8_t *body = d + 1;
    size_t blen = size - 1;

    bool before[FD_SCAN], after[FD_SCAN];
    fd_snapshot(before);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
    int one = 1;
    if (passcred && setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) fail("SO_PASSCRED");

    /* the exporter's side: one message, the body with nsend fds attached */
    int sent[SEND_MAX];
    for (size_t i = 0; i < nsend; i++) {
        sent[i] = fcntl(g_null, F_DUPFD_CLOEXEC, 0);
        if (sent[i] < 0) fail("dup");
    }
    size_t first = split ? nsend / 2 : nsend;
    union {
        struct cmsghdr h;
        char space[2 * CMSG_SPACE(sizeof(int) * SEND_MAX)];
    } out;
    memset(&out, 0, sizeof(out));
    struct iovec oiov = {.iov_base = (void *)body, .iov_len = blen};
    struct msghdr om = {.msg_iov = &oiov, .msg_iovlen = 1};
    if (nsend > 0) {
        om.msg_control = out.space;
        om.msg_controllen = CMSG_SPACE(sizeof(int) * first) + (split ? CMSG_SPACE(sizeof(int) * (nsend - first)) : 0);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&om);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * first);
        memcpy(CMSG_DATA(cm), sent, sizeof(int) * first);
        if (split) {
            cm = CMSG_NXTHDR(&om, cm);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int) * (nsend - first));
            memcpy(CMSG_DATA(cm), sent + first, sizeof(int) * (nsend - first));
        }
    }
    ssize_t w = sendmsg(sv[0], &om, MSG_NOSIGNAL | MSG_DONTWAIT);
    for (size_t i = 0; i < nsend; i++) close(sent[i]); /* the message holds its own references */
    if (w < 0) {
        if (errno != EMSGSIZE) fail("sendmsg");
        close(sv[0]);
        close(sv[1]);
        return;
    }

    /* the importer's side, as gva_window_import_peer receives and reads it */
    uint8_t buf[BODY_CAP];
    union {
        struct cmsghdr h;
        char space[GVA_PROTO_CMSG_SPACE];
    } ctl;
    int fds[GVA_PROTO_CMSG_FDS_CAP(sizeof(ctl.space))];
    size_t nfds = SIZE_MAX;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.space, .msg_controllen = sizeof(ctl.space)};
    ssize_t n = recvmsg(sv[1], &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) fail("recvmsg");
    gva_proto_resp_t resp;
    util_err_clear();
    int32_t rc = gva_proto_reply_decode(&kExp, buf, (size_t)n, m.msg_flags, ctl.space, m.msg_controllen, fds, &nfds,
                                        &resp);
    check_result(rc, &resp, (size_t)n, m.msg_flags, nfds, GVA_PROTO_CMSG_FDS_CAP(sizeof(ctl.space)));
    if (!passcred && nsend <= GVA_PROTO_FDS_MAX && nfds != nsend) fail("fds attached and fds found differ");
    if ((nsend > GVA_PROTO_FDS_MAX || (passcred && nsend > 0)) && rc == SMEM_OK) fail("accepted a truncated reply");
    for (size_t i = 0; i < nfds; i++) {
        int fl = fcntl(fds[i], F_GETFD);
        if (fl < 0 || !(fl & FD_CLOEXEC)) fail("a returned fd is not an open close-on-exec fd");
        close(fds[i]);
    }
    close(sv[0]);
    close(sv[1]);

    fd_snapshot(after);
    for (int i = 0; i < FD_SCAN; i++)
        if (after[i] != before[i]) {
            fprintf(stderr, "fuzz_gva_cmsg: fd %d %s (%zu sent, %zu returned)\n", i,
                    after[i] ? "leaked" : "closed that was not ours", nsend, nfds);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1)
        run_real(data + 1, size - 1);
    else
        run_raw(data + 1, size - 1);
    return 0;
}
