/*
 * Private to the tcp transport (src/transport/tcp): one object per file.
 *   tcp_conn.c    a connection: non-blocking socket (+ TLS), I/O with deadlines
 *   tcp_iface.c   the iface: address choice, listen, publish (tp_tcp_ops)
 *   tcp_server.c  the data server: acceptor thread, one thread per connection
 *   tcp_ep.c      the endpoint: N connections to one peer, chunked parallel put/get
 *   tcp_proto.c   the wire format (tcp_proto.h)
 *
 * Locks: tcp_iface_t.lock (the server's connection list) and tcp_ep_t.lock
 * (the endpoint's slot table) are leaves; neither is held during I/O.
 */
#ifndef TCP_H
#define TCP_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "util/util_accept.h"
#include "transport/tcp/tcp_proto.h"
#include "transport/tp.h"

#define TCP_TIMEOUT_DEFAULT_MS 30000u
#define TCP_CONNS_DEFAULT 4u
#define TCP_CONNS_MAX 64u
#define TCP_CHUNK_DEFAULT (1ull << 20)
#define TCP_CHUNK_MIN (4ull << 10)
#define TCP_PORT_WALK 64u /* a listen port in use: the next ones tried (ranks of one host sharing a config) */
#define TCP_SERVER_CONNS_MAX 1024u /* server threads at once; at the cap the longest-idle connection makes room */
#define TCP_SERVER_IDLE_MS 60000u  /* a data connection with no request for this long is closed (clients redial) */

/* ---- tcp_conn.c ---- */

typedef struct tcp_conn {
    int fd; /* -1 when closed */
    SSL *ssl;
    bool want_out; /* TLS: the last attempt needs the socket writable (else readable) */
    char peer[80]; /* "1.2.3.4:5678" for logs */
} tcp_conn_t;

/* The cluster credential of an iface (len 0: none). */
typedef struct tcp_cred {
    uint8_t key[TCP_CRED_MAX];
    uint32_t len;
} tcp_cred_t;

void tcp_conn_init(tcp_conn_t *c); /* fd -1, no TLS */
/* Connect (non-blocking socket, TCP_NODELAY), with tls handshake, then the
 * greeting (tcp_proto.h), all within timeout_ms. A server asking for the
 * credential when cred has none, a server that does not prove the same one,
 * or, with a credential, a server that does not ask for it: SMEM_AUTH. */
int32_t tcp_conn_dial(tcp_conn_t *c, const struct sockaddr_storage *ss, socklen_t len, const char *verify_host,
                      net_tls_t *tls, const tcp_cred_t *cred, uint32_t timeout_ms);
/* Adopt an accepted fd (made non-blocking), with tls handshake, then greet
 * (and with a credential demand the client's proof), within timeout_ms.
 * A client that does not prove the credential: SMEM_AUTH. */
int32_t tcp_conn_accepted(tcp_conn_t *c, int fd, net_tls_t *tls, const tcp_cred_t *cred, uint32_t timeout_ms);
void tcp_conn_close(tcp_conn_t *c);
void tcp_conn_abort(tcp_conn_t *c); /* close dropping unsent bytes (RST): for a connection given up mid-request */

/* One attempt: > 0 bytes moved, 0 would block (poll for tcp_conn_events),
 * < 0 a status (SMEM_PEER_GONE on EOF or reset, SMEM_IO, SMEM_TLS), message set. */
int64_t tcp_conn_io(tcp_conn_t *c, bool out, struct iovec *iov, int cnt);
short tcp_conn_events(const tcp_conn_t *c, bool out);
/* Drop n bytes from the front of an iovec array (advances *iov, *cnt). */
void tcp_iov_advance(struct iovec **iov, int *cnt, uint64_t n);
/*
 * Move every byte of iov. Fails with SMEM_TIMEOUT when no byte moves for
 * stall_ms or deadline_ms (monotonic, 0 = none) passes; the iov array is
 * consumed (modified).
 */
int32_t tcp_conn_io_all(tcp_conn_t *c, bool out, struct iovec *iov, int cnt, uint32_t stall_ms, uint64_t deadline_ms);
/* Wait until fd is readable (or hung up); false when stop_fd fired first. */
/* Until c is readable (true), stop_fd fires or timeout_ms passes (false; *timed_out tells which). */
bool tcp_conn_wait_readable(const tcp_conn_t *c, int stop_fd, uint32_t timeout_ms, bool *timed_out);
/* An idle pooled connection the peer closed (or sent something unasked on): readable right now. */
bool tcp_conn_idle_broken(const tcp_conn_t *c);

/* ---- tcp_iface.c ---- */

typedef struct tcp_sconn tcp_sconn_t; /* tcp_server.c */

typedef struct tcp_iface {
    tp_iface_t base;
    tp_resolver_t resolver;
    uint32_t timeout_ms;
    uint32_t conns;
    uint64_t chunk;
    net_tls_t *tls_server, *tls_client;
    tcp_cred_t cred; /* both roles: serve only peers that prove it, prove it to servers */
    uint64_t reject_log_ms;  /* atomic: last WARN about a rejected connection */
    uint32_t reject_quiet;   /* atomic: rejections not logged since */
    char addr[TP_ADDR_MAX + 1]; /* published: tcp://IP:PORT */
    /* server */
    int lfd;
    util_acceptor_t acc; /* acceptor thread: sheds connections at the descriptor limit */
    int stop_fd; /* eventfd: wakes the acceptor and idle connection threads */
    bool acceptor_running;
    pthread_t acceptor;
    pthread_mutex_t lock; /* leaf: sconns */
    bool lock_inited;
    tcp_sconn_t *sconns;
    uint32_t nsconns;
} tcp_iface_t;

/* "tcp://IP:PORT", "tcp://[v6]:PORT" or "tcp://NET/PREFIX:PORT" → a socket address. */
int32_t tcp_addr_resolve(const char *url, struct sockaddr_storage *ss, socklen_t *len, char *host, size_t host_cap);

/* ---- tcp_server.c ---- */

int32_t tcp_server_start(tcp_iface_t *ifc); /* ifc->lfd listening; starts the acceptor */
void tcp_server_stop(tcp_iface_t *ifc);      /* safe when not started */

/* ---- tcp_ep.c ---- */

typedef struct tcp_slot {
    tcp_conn_t conn;
    bool busy; /* taken by a caller */
} tcp_slot_t;

typedef struct tcp_ep {
    tp_ep_t base;
    struct sockaddr_storage ss;
    socklen_t sslen;
    char host[64]; /* for TLS verification and logs */
    pthread_mutex_t lock; /* leaf: busy flags */
    pthread_cond_t cv;
    bool lock_inited;
    uint32_t nslots;
    tcp_slot_t *slots;
    uint64_t seq; /* atomic */
} tcp_ep_t;

int32_t tcp_ep_connect(tp_ep_t *ep, const char *addr);
void tcp_ep_close(tp_ep_t *ep);
int32_t tcp_ep_put(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n);
int32_t tcp_ep_get(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n);

#endif
