/*
 * Same-host fd passing. Each rank's exporter thread listens on an abstract
 * AF_UNIX SOCK_SEQPACKET socket (abstract names live in the network
 * namespace, i.e. exactly on "this host"); an importer connects, sends one
 * request (gva_proto.h), and receives the segment header plus its fd as
 * SCM_RIGHTS. Abstract sockets have no file permissions, so the exporter only
 * serves peers with our uid (or root), checked with SO_PEERCRED.
 *
 * The exporter serves one connection at a time: an exchange is two small
 * messages, and a client that sends nothing is dropped after
 * GVA_EXPORT_RECV_TIMEOUT_MS, so the worst a bad client costs others is that
 * delay (importers wait with their own, longer timeout).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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

#define GVA_EXPORT_RECV_TIMEOUT_MS 1000
#define GVA_EXPORT_BACKLOG 128

struct gva_exporter {
    gva_window_t *w;
    int listen_fd;
    int wake_fd; /* eventfd: stop request */
    pthread_t thread;
    char name[108];
};

int32_t gva_export_addr(const char *ns, gva_kind_t kind, uint32_t rank, uint64_t incarnation, void *sun,
                        uint32_t *len_out)
{
    struct sockaddr_un *a = sun;
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    /* sun_path[0] = '\0' selects the abstract namespace; the name is not NUL-terminated. */
    int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "smem-gva/%s/%s/%u.%016llx", ns, gva_kind_name(kind),
                     rank, (unsigned long long)incarnation);
    if (n < 0 || (size_t)n >= sizeof(a->sun_path) - 1)
        return util_err_set(SMEM_INVALID_PARAM, "exporter name for namespace '%s' rank %u is too long", ns, rank);
    *len_out = (uint32_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    return SMEM_OK;
}

/* Wait for fd to become readable (or the stop eventfd, if given); 1 ready, 0 timeout/stop. */
static int gva_wait_readable(int fd, int wake_fd, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int64_t left = util_ms_left(deadline);
        int r = poll(p, wake_fd >= 0 ? 2 : 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        if (wake_fd >= 0 && p[1].revents) return 0;
        return 1;
    }
}

static void gva_export_reply(gva_exporter_t *e, int c, const gva_proto_req_t *req, pid_t pid)
{
    gva_window_t *w = e->w;
    gva_proto_resp_t resp = {.kind = (uint16_t)w->kind, .rank = w->local_rank, .host = w->host};
    int fd = -1;
    if (req->kind != (uint16_t)w->kind || req->to_rank != w->local_rank) {
        resp.status = SMEM_INVALID_PARAM;
        LOG_WARN("exporter %s: pid %d (rank %u) asked for the %s window of rank %u; we are %s rank %u", e->name,
                 (int)pid, req->from_rank, gva_kind_name((gva_kind_t)req->kind), req->to_rank, gva_kind_name(w->kind),
                 w->local_rank);
    } else if (gva_rank_acquire(w, w->local_rank) != SMEM_OK) {
        resp.status = SMEM_NOT_STARTED;
        LOG_WARN("exporter %s: no local segment to give rank %u (pid %d)", e->name, req->from_rank, (int)pid);
    } else {
        gva_seg_t *seg = gva_window_local_seg(w);
        resp.status = gva_seg_export_fd(seg, &fd);
        resp.size = seg->size;
        resp.page_size = seg->page_size;
        resp.flags = seg->flags;
        gva_rank_release(w, w->local_rank);
        if (resp.status != SMEM_OK)
            LOG_WARN("exporter %s: export for rank %u: %s", e->name, req->from_rank, util_err_get());
    }

    uint8_t buf[GVA_PROTO_RESP_SIZE];
    gva_proto_resp_encode(&resp, buf);
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        m.msg_control = ctl.space;
        m.msg_controllen = sizeof(ctl.space);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    if (sendmsg(c, &m, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(buf))
        LOG_WARN("exporter %s: reply to rank %u (pid %d) failed: %s", e->name, req->from_rank, (int)pid,
                 strerror(errno));
    else
        LOG_DEBUG("exporter %s: gave %llu bytes to rank %u (pid %d)", e->name, (unsigned long long)resp.size,
                  req->from_rank, (int)pid);
    if (fd >= 0) close(fd);
}

/* One connection: never trusts the client; every way out is logged with the reason. */
static void gva_export_serve(gva_exporter_t *e, int c)
{
    struct ucred cred = {.pid = 0, .uid = (uid_t)-1};
    socklen_t cl = sizeof(cred);
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
        LOG_WARN("exporter %s: SO_PEERCRED: %s; dropping connection", e->name, strerror(errno));
        return;
    }
    if (cred.uid != geteuid() && cred.uid != 0) {
        LOG_WARN("exporter %s: pid %d runs as uid %u, not ours (%u); dropping", e->name, (int)cred.pid,
                 (unsigned)cred.uid, (unsigned)geteuid());
        return;
    }
    if (!gva_wait_readable(c, e->wake_fd, GVA_EXPORT_RECV_TIMEOUT_MS)) {
        LOG_WARN("exporter %s: pid %d sent no request within %d ms; dropping", e->name, (int)cred.pid,
                 GVA_EXPORT_RECV_TIMEOUT_MS);
        return;
    }
    uint8_t buf[256];
    /* MSG_TRUNC: the packet's real length, so an oversized one is reported as such.
     * No control buffer: any fds a client attaches are closed by the kernel, never installed here. */
    ssize_t n = recv(c, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
        LOG_WARN("exporter %s: recv from pid %d: %s", e->name, (int)cred.pid, strerror(errno));
        return;
    }
    if (n == 0) {
        LOG_WARN("exporter %s: pid %d closed without a request", e->name, (int)cred.pid);
        return;
    }
    gva_proto_req_t req;
    /* Any length but GVA_PROTO_REQ_SIZE fails to decode, so the clamp loses nothing. */
    if (gva_proto_req_decode(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf), &req) != SMEM_OK) {
        LOG_WARN("exporter %s: dropped %zd bytes from pid %d: %s", e->name, n, (int)cred.pid, util_err_get());
        return;
    }
    gva_export_reply(e, c, &req, cred.pid);
}

static void *gva_export_main(void *arg)
{
    gva_exporter_t *e = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = e->listen_fd, .events = POLLIN}, {.fd = e->wake_fd, .events = POLLIN}};
        int r = poll(p, 2, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            LOG_ERROR("exporter %s: poll: %s; exporter stopped", e->name, strerror(errno));
            break;
        }
        if (p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        int c = accept4(e->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                LOG_WARN("exporter %s: accept: %s", e->name, strerror(errno));
                /* EMFILE and friends: back off instead of spinning on a readable listener. */
                struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        gva_export_serve(e, c);
        close(c);
    }
    return NULL;
}

static void gva_exporter_free(gva_exporter_t *e)
{
    if (e->listen_fd >= 0) close(e->listen_fd);
    if (e->wake_fd >= 0) close(e->wake_fd);
    free(e);
}

int32_t gva_export_start(gva_window_t *w, uint64_t incarnation)
{
    if (w == NULL) return util_err_set(SMEM_INVALID_PARAM, "window is NULL");
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&w->lock);
    if (w->exporter != NULL) {
        rc = util_err_set(SMEM_REPEAT_CALL, "exporter %s already running", w->exporter->name + 1);
        goto unlock;
    }
    if (gva_window_local_seg(w) == NULL) {
        rc = util_err_set(SMEM_NOT_STARTED, "%s window rank %u: attach a local segment before exporting",
                          gva_kind_name(w->kind), w->local_rank);
        goto unlock;
    }
    gva_exporter_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "exporter object");
        goto unlock;
    }
    e->w = w;
    e->listen_fd = -1;
    e->wake_fd = -1;
    struct sockaddr_un addr;
    uint32_t alen = 0;
    rc = gva_export_addr(w->ns, w->kind, w->local_rank, incarnation, &addr, &alen);
    if (rc != SMEM_OK) goto free_e;
    snprintf(e->name, sizeof(e->name), "@%.*s", (int)(alen - offsetof(struct sockaddr_un, sun_path) - 1),
             addr.sun_path + 1);
    e->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    e->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (e->listen_fd < 0 || e->wake_fd < 0) {
        rc = util_err_set(SMEM_IO, "exporter %s: socket/eventfd: %s", e->name, strerror(errno));
        goto free_e;
    }
    if (bind(e->listen_fd, (struct sockaddr *)&addr, alen) != 0) {
        int err = errno;
        rc = util_err_set(err == EADDRINUSE ? SMEM_RESOURCE_IN_USE : SMEM_IO,
                          "exporter %s: bind: %s%s", e->name, strerror(err),
                          err == EADDRINUSE ? " (another group on this host uses the same namespace and rank?)" : "");
        goto free_e;
    }
    if (listen(e->listen_fd, GVA_EXPORT_BACKLOG) != 0) {
        rc = util_err_set(SMEM_IO, "exporter %s: listen: %s", e->name, strerror(errno));
        goto free_e;
    }
    int err = pthread_create(&e->thread, NULL, gva_export_main, e);
    if (err != 0) {
        rc = util_err_set(SMEM_IO, "exporter %s: thread: %s", e->name, strerror(err));
        goto free_e;
    }
    w->exporter = e;
    LOG_DEBUG("exporter %s started", e->name);
    goto unlock;

free_e:
    gva_exporter_free(e);
unlock:
    pthread_mutex_unlock(&w->lock);
    return rc;
}

void gva_export_stop(gva_window_t *w)
{
    if (w == NULL) return;
    pthread_mutex_lock(&w->lock);
    gva_exporter_t *e = w->exporter;
    w->exporter = NULL;
    pthread_mutex_unlock(&w->lock);
    if (e == NULL) return;
    uint64_t one = 1;
    if (write(e->wake_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        LOG_ERROR("exporter %s: wake: %s", e->name, strerror(errno));
    pthread_join(e->thread, NULL);
    LOG_DEBUG("exporter %s stopped", e->name);
    gva_exporter_free(e);
}
