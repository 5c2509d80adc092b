/*
 * One data-channel connection: a non-blocking TCP socket, optionally wrapped
 * in TLS 1.3 (an SSL object from the net layer's context). Plain sockets move
 * data with sendmsg/recvmsg straight between the socket and the caller's
 * iovecs (no staging buffer); TLS moves one iovec entry per SSL call.
 * Every wait is a poll() with a limit, so nothing here blocks unboundedly
 * except tcp_conn_wait_readable, which a stop eventfd interrupts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "net/net_int.h"
#include "transport/tcp/tcp.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define TCP_TLS_IO_MAX (1 << 30)

void tcp_conn_init(tcp_conn_t *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

void tcp_conn_close(tcp_conn_t *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/*
 * A connection given up on mid-request (no progress in time, an error, a
 * reply out of step) must never deliver its queued bytes later. A plain
 * close() would leave the kernel retransmitting them, an orphan socket, for
 * minutes: once a cut link comes back, an old write that already failed to
 * its caller would land in the peer's memory after newer ones. SO_LINGER
 * {1, 0} makes close() drop the send queue and answer with RST instead.
 * No TLS close_notify either: the stream is not in step.
 */
void tcp_conn_abort(tcp_conn_t *c)
{
    if (c->fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    tcp_conn_close(c);
}

static void tcp_sock_tune(int fd)
{
    int one = 1, idle = 60, intvl = 10, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* headers and acks must not wait for Nagle */
    /* An idle connection whose host vanished (no FIN, no RST) is found and
     * closed in ~90 s instead of holding a server thread forever. */
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static int tcp_poll_ms(int64_t ms) { return ms > INT_MAX ? INT_MAX : (int)ms; }

/* Drive the TLS handshake to its end within deadline_ms. */
static int32_t tcp_conn_handshake(tcp_conn_t *c, net_tls_t *tls, const char *verify_host, uint64_t deadline_ms)
{
    c->ssl = net_tls_ssl_new(tls, c->fd, verify_host);
    if (c->ssl == NULL) return SMEM_TLS; /* message set */
    for (;;) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r == 1) return SMEM_OK;
        int e = SSL_get_error(c->ssl, r);
        short ev;
        if (e == SSL_ERROR_WANT_READ) ev = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE) ev = POLLOUT;
        else {
            char why[256];
            net_tls_describe(c->ssl, r, e, why, sizeof(why));
            return util_err_set(SMEM_TLS, "TLS handshake with %s failed: %s", c->peer, why);
        }
        int64_t left = util_ms_left(deadline_ms);
        struct pollfd p = {.fd = c->fd, .events = ev};
        if (left <= 0 || poll(&p, 1, tcp_poll_ms(left)) == 0)
            return util_err_set(SMEM_TIMEOUT, "TLS handshake with %s did not finish in time", c->peer);
    }
}

/* ---------- the greeting (tcp_proto.h) ---------- */

static int32_t tcp_greet_io(tcp_conn_t *c, bool out, uint8_t *buf, uint64_t deadline_ms)
{
    struct iovec iov = {.iov_base = buf, .iov_len = TCP_HELLO_SIZE};
    int64_t left = util_ms_left(deadline_ms);
    if (left <= 0) return util_err_set(SMEM_TIMEOUT, "greeting with %s did not finish in time", c->peer);
    return tcp_conn_io_all(c, out, &iov, 1, (uint32_t)(left > UINT32_MAX ? UINT32_MAX : left), deadline_ms);
}

static int32_t tcp_random(uint8_t *buf, size_t n, const char *peer)
{
    if (getrandom(buf, n, 0) != (ssize_t)n)
        return util_err_set(SMEM_IO, "random nonce for %s: %s", peer, strerror(errno));
    return SMEM_OK;
}

static int32_t tcp_greet_client(tcp_conn_t *c, const tcp_cred_t *cred, uint64_t deadline_ms)
{
    uint8_t buf[TCP_HELLO_SIZE];
    tcp_hello_t hello, proof = {.op = TCP_OP_PROOF}, back;
    int32_t rc = tcp_greet_io(c, false, buf, deadline_ms);
    if (rc == SMEM_OK) rc = tcp_hello_decode(buf, sizeof(buf), TCP_OP_HELLO, &hello);
    if (rc != SMEM_OK) return rc;
    bool asked = (hello.flags & TCP_HELLO_F_PROOF) != 0;
    if (!asked && cred->len == 0) return SMEM_OK;
    if (!asked)
        return util_err_set(SMEM_AUTH, "data server %s does not ask for the cluster credential: not a member of this "
                                       "cluster (or a build without it)", c->peer);
    if (cred->len == 0)
        return util_err_set(SMEM_AUTH, "data server %s serves only members holding the cluster credential; this "
                                       "process has none", c->peer);
    rc = tcp_random(proof.b, sizeof(proof.b), c->peer);
    if (rc != SMEM_OK) return rc;
    if (!tcp_mac_client(cred->key, cred->len, hello.a, proof.a))
        return util_err_set(SMEM_AUTH, "computing the proof for %s failed", c->peer);
    tcp_hello_encode(&proof, buf);
    rc = tcp_greet_io(c, true, buf, deadline_ms);
    if (rc == SMEM_OK) rc = tcp_greet_io(c, false, buf, deadline_ms);
    if (rc == SMEM_PEER_GONE)
        return util_err_set(SMEM_AUTH, "data server %s closed the connection after our proof: it holds another "
                                       "cluster credential", c->peer);
    if (rc == SMEM_OK) rc = tcp_hello_decode(buf, sizeof(buf), TCP_OP_PROOF, &back);
    if (rc != SMEM_OK) return rc;
    uint8_t want[TCP_MAC_SIZE];
    if (!tcp_mac_server(cred->key, cred->len, proof.b, hello.a, want) || CRYPTO_memcmp(want, back.a, TCP_MAC_SIZE) != 0)
        return util_err_set(SMEM_AUTH, "data server %s did not prove the cluster credential", c->peer);
    return SMEM_OK;
}

static int32_t tcp_greet_server(tcp_conn_t *c, const tcp_cred_t *cred, uint64_t deadline_ms)
{
    uint8_t buf[TCP_HELLO_SIZE];
    tcp_hello_t hello = {.op = TCP_OP_HELLO, .flags = cred->len ? TCP_HELLO_F_PROOF : 0}, proof;
    int32_t rc = cred->len ? tcp_random(hello.a, sizeof(hello.a), c->peer) : SMEM_OK;
    if (rc != SMEM_OK) return rc;
    tcp_hello_encode(&hello, buf);
    rc = tcp_greet_io(c, true, buf, deadline_ms);
    if (rc != SMEM_OK || cred->len == 0) return rc;
    rc = tcp_greet_io(c, false, buf, deadline_ms);
    if (rc == SMEM_OK) rc = tcp_hello_decode(buf, sizeof(buf), TCP_OP_PROOF, &proof);
    if (rc != SMEM_OK) return util_err_wrap(SMEM_AUTH, "no proof of the cluster credential");
    uint8_t want[TCP_MAC_SIZE];
    if (!tcp_mac_client(cred->key, cred->len, hello.a, want) || CRYPTO_memcmp(want, proof.a, TCP_MAC_SIZE) != 0)
        return util_err_set(SMEM_AUTH, "its proof does not match the cluster credential");
    tcp_hello_t back = {.op = TCP_OP_PROOF};
    if (!tcp_mac_server(cred->key, cred->len, proof.b, hello.a, back.a))
        return util_err_set(SMEM_AUTH, "computing our proof failed");
    tcp_hello_encode(&back, buf);
    return tcp_greet_io(c, true, buf, deadline_ms);
}

int32_t tcp_conn_dial(tcp_conn_t *c, const struct sockaddr_storage *ss, socklen_t len, const char *verify_host,
                      net_tls_t *tls, const tcp_cred_t *cred, uint32_t timeout_ms)
{
    uint64_t deadline = util_now_ms() + timeout_ms;
    tcp_conn_init(c);
    net_addr_peer_str(ss, c->peer, sizeof(c->peer));
    c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return util_err_set(SMEM_IO, "socket for %s: %s", c->peer, strerror(errno));
    tcp_sock_tune(c->fd);
    int32_t rc = SMEM_OK;
    if (connect(c->fd, (const struct sockaddr *)ss, len) != 0) {
        if (errno != EINPROGRESS) {
            rc = util_err_set(SMEM_CONN_FAILED, "connect to %s: %s", c->peer, strerror(errno));
            goto fail;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        int n;
        do n = poll(&p, 1, tcp_poll_ms(util_ms_left(deadline)));
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            rc = util_err_set(SMEM_TIMEOUT, "connect to %s: no answer within %u ms", c->peer, timeout_ms);
            goto fail;
        }
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
            rc = util_err_set(SMEM_CONN_FAILED, "connect to %s: %s", c->peer, strerror(err));
            goto fail;
        }
    }
    if (tls != NULL) {
        rc = tcp_conn_handshake(c, tls, verify_host, deadline);
        if (rc != SMEM_OK) goto fail;
    }
    rc = tcp_greet_client(c, cred, deadline);
    if (rc != SMEM_OK) goto fail;
    return SMEM_OK;
fail:
    tcp_conn_close(c);
    return rc;
}

int32_t tcp_conn_accepted(tcp_conn_t *c, int fd, net_tls_t *tls, const tcp_cred_t *cred, uint32_t timeout_ms)
{
    tcp_conn_init(c);
    c->fd = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) net_addr_peer_str(&ss, c->peer, sizeof(c->peer));
    else snprintf(c->peer, sizeof(c->peer), "?");
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return util_err_set(SMEM_IO, "non-blocking mode for %s: %s", c->peer, strerror(errno));
    tcp_sock_tune(fd);
    uint64_t deadline = util_now_ms() + timeout_ms;
    int32_t rc = tls != NULL ? tcp_conn_handshake(c, tls, NULL, deadline) : SMEM_OK;
    return rc == SMEM_OK ? tcp_greet_server(c, cred, deadline) : rc;
}

void tcp_iov_advance(struct iovec **iov, int *cnt, uint64_t n)
{
    while (*cnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt > 0 && n > 0) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

static int64_t tcp_conn_io_tls(tcp_conn_t *c, bool out, struct iovec *iov, int cnt)
{
    int i = 0;
    while (i < cnt && iov[i].iov_len == 0) i++;
    if (i == cnt) return 0;
    int len = iov[i].iov_len > (size_t)TCP_TLS_IO_MAX ? TCP_TLS_IO_MAX : (int)iov[i].iov_len;
    ERR_clear_error();
    int r = out ? SSL_write(c->ssl, iov[i].iov_base, len) : SSL_read(c->ssl, iov[i].iov_base, len);
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->want_out = e == SSL_ERROR_WANT_WRITE;
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && (r == 0 || errno == ECONNRESET || errno == EPIPE))) {
        ERR_clear_error();
        return util_err_set(SMEM_PEER_GONE, "%s closed the connection", c->peer);
    }
    char why[256];
    net_tls_describe(c->ssl, r, e, why, sizeof(why));
    if (strstr(why, "unexpected eof") != NULL || strstr(why, "unexpected EOF") != NULL)
        return util_err_set(SMEM_PEER_GONE, "%s closed the connection (%s)", c->peer, why);
    return util_err_set(SMEM_TLS, "TLS %s %s: %s", out ? "write to" : "read from", c->peer, why);
}

int64_t tcp_conn_io(tcp_conn_t *c, bool out, struct iovec *iov, int cnt)
{
    if (c->fd < 0) return util_err_set(SMEM_PEER_GONE, "connection to %s is closed", c->peer);
    if (c->ssl != NULL) return tcp_conn_io_tls(c, out, iov, cnt);
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)(cnt > IOV_MAX ? IOV_MAX : cnt)};
    for (;;) {
        ssize_t n = out ? sendmsg(c->fd, &m, MSG_NOSIGNAL) : recvmsg(c->fd, &m, 0);
        if (n > 0) return n;
        if (n == 0) return util_err_set(SMEM_PEER_GONE, "%s closed the connection", c->peer);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN)
            return util_err_set(SMEM_PEER_GONE, "%s reset the connection (%s)", c->peer, strerror(errno));
        return util_err_set(SMEM_IO, "%s %s: %s", out ? "send to" : "receive from", c->peer, strerror(errno));
    }
}

short tcp_conn_events(const tcp_conn_t *c, bool out)
{
    if (c->ssl != NULL) return c->want_out ? POLLOUT : POLLIN;
    return out ? POLLOUT : POLLIN;
}

int32_t tcp_conn_io_all(tcp_conn_t *c, bool out, struct iovec *iov, int cnt, uint32_t stall_ms, uint64_t deadline_ms)
{
    uint64_t last = util_now_ms();
    while (cnt > 0 && iov->iov_len == 0) {
        iov++;
        cnt--;
    }
    while (cnt > 0) {
        int64_t n = tcp_conn_io(c, out, iov, cnt);
        if (n < 0) return (int32_t)n;
        if (n > 0) {
            tcp_iov_advance(&iov, &cnt, (uint64_t)n);
            while (cnt > 0 && iov->iov_len == 0) {
                iov++;
                cnt--;
            }
            last = util_now_ms();
            continue;
        }
        uint64_t now = util_now_ms();
        int64_t wait = (int64_t)(last + stall_ms) - (int64_t)now;
        if (deadline_ms != 0 && (int64_t)(deadline_ms - now) < wait) wait = (int64_t)deadline_ms - (int64_t)now;
        if (wait <= 0)
            return util_err_set(SMEM_TIMEOUT, "%s %s: no progress in time (%u ms without a byte%s)",
                                out ? "sending to" : "receiving from", c->peer, stall_ms,
                                deadline_ms ? ", or past the request's deadline" : "");
        struct pollfd p = {.fd = c->fd, .events = tcp_conn_events(c, out)};
        if (poll(&p, 1, tcp_poll_ms(wait)) < 0 && errno != EINTR)
            return util_err_set(SMEM_IO, "poll on %s: %s", c->peer, strerror(errno));
    }
    return SMEM_OK;
}

bool tcp_conn_wait_readable(const tcp_conn_t *c, int stop_fd, uint32_t timeout_ms, bool *timed_out)
{
    *timed_out = false;
    if (c->ssl != NULL && SSL_pending(c->ssl) > 0) return true;
    uint64_t deadline = util_now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        int64_t left = util_ms_left(deadline);
        if (left <= 0) {
            *timed_out = true;
            return false;
        }
        int n = poll(p, 2, (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || (p[1].revents & POLLIN)) return false;
        if (n > 0 && p[0].revents) return true;
    }
}

bool tcp_conn_idle_broken(const tcp_conn_t *c)
{
    if (c->fd < 0) return false;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && p.revents != 0; /* idle: no answer is owed, so anything readable is EOF or junk */
}
