/*
 * Importer side of same-host fd passing: fetch a peer's segment fd from its
 * exporter (gva_export.c), check everything it claims against what we know
 * and what the fd itself says, and map it at the peer's slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gva/gva.h"
#include "gva/gva_int.h"
#include "gva/gva_proto.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define GVA_IMPORT_RETRY_MS 20

/* Connect to rank's exporter, retrying while nobody listens yet. */
static int32_t gva_import_connect(const gva_window_t *w, uint32_t rank, uint64_t incarnation, uint64_t deadline,
                                  uint32_t timeout_ms, int *s_out)
{
    struct sockaddr_un addr;
    uint32_t alen = 0;
    int32_t rc = gva_export_addr(w->ns, w->kind, rank, incarnation, &addr, &alen);
    if (rc != SMEM_OK) return rc;
    int last = 0;
    for (;;) {
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s < 0) return util_err_set(SMEM_IO, "import of rank %u: socket: %s", rank, strerror(errno));
        if (connect(s, (struct sockaddr *)&addr, alen) == 0) {
            *s_out = s;
            return SMEM_OK;
        }
        last = errno;
        close(s);
        /* Refused: not listening (yet). EAGAIN: backlog full. Both may clear up before the deadline. */
        if (last != ECONNREFUSED && last != ENOENT && last != EAGAIN) break;
        if (util_ms_left(deadline) <= 0) break;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = GVA_IMPORT_RETRY_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return util_err_set(SMEM_CONN_FAILED, "import of %s window rank %u: no exporter at @%.*s within %u ms (%s)",
                        gva_kind_name(w->kind), rank, (int)(alen - offsetof(struct sockaddr_un, sun_path) - 1),
                        addr.sun_path + 1, timeout_ms, strerror(last));
}

/* Send the request and receive the reply: *n_out body bytes into buf, its
 * msg_flags and ancillary data (ctl, *ctl_len) for gva_proto_reply_decode. */
static int32_t gva_import_exchange(const gva_window_t *w, int s, uint32_t rank, uint64_t deadline, uint8_t *buf,
                                   size_t cap, size_t *n_out, int *flags_out, void *ctl, size_t *ctl_len)
{
    uint8_t req_buf[GVA_PROTO_REQ_SIZE];
    gva_proto_req_t req = {.kind = (uint16_t)w->kind, .from_rank = w->local_rank, .to_rank = rank};
    gva_proto_req_encode(&req, req_buf);
    if (send(s, req_buf, sizeof(req_buf), MSG_NOSIGNAL) != (ssize_t)sizeof(req_buf))
        return util_err_set(SMEM_CONN_FAILED, "import of rank %u: send request: %s", rank, strerror(errno));
    struct pollfd p = {.fd = s, .events = POLLIN};
    int r;
    do {
        int64_t left = util_ms_left(deadline);
        r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) return util_err_set(SMEM_TIMEOUT, "import of rank %u: exporter did not answer in time", rank);
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = *ctl_len};
    ssize_t n = recvmsg(s, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    /* Failed: nothing was received, so no fd was installed. */
    if (n < 0) return util_err_set(SMEM_CONN_FAILED, "import of rank %u: recvmsg: %s", rank, strerror(errno));
    *n_out = (size_t)n;
    *flags_out = m.msg_flags;
    *ctl_len = m.msg_controllen;
    return SMEM_OK;
}

int32_t gva_window_import_peer(gva_window_t *w, uint32_t rank, uint64_t incarnation, uint32_t timeout_ms)
{
    if (w == NULL || rank >= w->world_max || rank == w->local_rank)
        return util_err_set(SMEM_INVALID_PARAM, "import of rank %u: not a peer rank of this window", rank);
    const gva_seg_ops_t *ops = gva_seg_ops_fd_for_kind(w->kind);
    if (ops == NULL)
        return util_err_set(SMEM_UNSUPPORTED, "no %s segment backend can import fds", gva_kind_name(w->kind));
    uint64_t deadline = util_now_ms() + timeout_ms;
    union {
        struct cmsghdr h;
        char space[GVA_PROTO_CMSG_SPACE];
    } ctl;
    int fds[GVA_PROTO_CMSG_FDS_CAP(sizeof(ctl.space))];
    size_t nfds = 0;
    gva_seg_t *seg = NULL;
    int32_t rc;

    int s = -1;
    rc = gva_import_connect(w, rank, incarnation, deadline, timeout_ms, &s);
    if (rc != SMEM_OK) return rc;
    uint8_t buf[GVA_PROTO_RESP_SIZE + 1]; /* one spare byte so an oversized reply is seen as such */
    size_t n = 0, ctl_len = sizeof(ctl.space);
    int msg_flags = 0;
    rc = gva_import_exchange(w, s, rank, deadline, buf, sizeof(buf), &n, &msg_flags, ctl.space, &ctl_len);
    close(s);
    if (rc != SMEM_OK) return rc;
    /* Everything the exporter claims, checked against us; the fd itself is checked by the import. */
    const gva_proto_expect_t exp = {.kind = w->kind, .rank = rank, .max_size = w->stride, .host = w->host};
    gva_proto_resp_t resp;
    rc = gva_proto_reply_decode(&exp, buf, n, msg_flags, ctl.space, ctl_len, fds, &nfds, &resp);
    if (rc != SMEM_OK) goto close_fds;
    rc = gva_seg_import(ops, fds[0], resp.size, &seg); /* checks the fd really backs resp.size bytes */
    if (rc != SMEM_OK) goto close_fds;
    if (seg->page_size != resp.page_size) {
        rc = util_err_set(SMEM_PROTOCOL, "import of rank %u: exporter says %llu-byte pages, the fd has %llu", rank,
                          (unsigned long long)resp.page_size, (unsigned long long)seg->page_size);
        goto destroy_seg;
    }
    rc = gva_window_map_peer(w, rank, seg, &resp.host);
    if (rc != SMEM_OK) goto destroy_seg;
    LOG_DEBUG("%s window: imported rank %u, %llu bytes at 0x%llx", gva_kind_name(w->kind), rank,
              (unsigned long long)resp.size, (unsigned long long)gva_window_slot(w, rank));
    goto close_fds;

destroy_seg:
    gva_seg_destroy(seg);
close_fds:
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    return rc;
}
