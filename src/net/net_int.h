/*
 * Private to src/net: the structs shared by the loop, connections, listeners,
 * TLS and the rpc client, and the pure frame parser (also used by the fuzzer).
 *
 * Thread rules: fields marked [loop] are touched only on the owning loop's
 * thread; [lock] fields under the named mutex; the rest are set once before
 * the object is published.
 *
 * Lock order (outer first): rpc->lock -> conn->lock -> loop->lock. No net
 * lock is held while a user callback runs, so callbacks may call back in.
 */
#ifndef NET_INT_H
#define NET_INT_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/net.h"
#include "util/util_accept.h"

#define NET_READ_CHUNK (64u * 1024u)  /* loop scratch buffer for reads */
#define NET_SWEEP_MS 25u              /* granularity of connection deadlines */

/* ---------- frame parser (pure: bytes in, frames out) ---------- */
typedef struct net_frame_parser {
    uint32_t max_body;
    uint8_t hdr_buf[NET_FRAME_HDR_SIZE];
    uint32_t hdr_got;
    bool have_hdr;
    bool ready;
    net_frame_hdr_t hdr;
    uint8_t *body; /* malloc'd only after the header validated */
    uint32_t body_got;
} net_frame_parser_t;

void net_frame_parser_init(net_frame_parser_t *p, uint32_t max_body);
void net_frame_parser_fini(net_frame_parser_t *p);
/*
 * Consume bytes up to the end of at most one frame; *used says how many were
 * taken. Returns 0, or the header decode error (message set) after which the
 * parser must not be fed again. When net_frame_parser_ready() is true the
 * frame is in hdr/body until net_frame_parser_next().
 */
int32_t net_frame_parser_feed(net_frame_parser_t *p, const uint8_t *data, size_t len, size_t *used);
static inline bool net_frame_parser_ready(const net_frame_parser_t *p) { return p->ready; }
void net_frame_parser_next(net_frame_parser_t *p); /* frees the delivered body */
/* Bytes of the current, incomplete frame (0 at a frame boundary). */
size_t net_frame_parser_partial(const net_frame_parser_t *p);
/* Total bytes of the current frame once its header is known, else 0. */
size_t net_frame_parser_expected(const net_frame_parser_t *p);

/* ---------- event loop ---------- */
typedef struct net_ev {
    int fd;
    void (*on_event)(struct net_ev *ev, uint32_t events);
} net_ev_t;

typedef struct net_task {
    void (*fn)(void *arg);
    void *arg;
    struct net_task *next;
    bool heap; /* freed by the loop after running */
} net_task_t;

struct net_timer {
    net_loop_t *loop;
    uint32_t period_ms;
    uint64_t due_ms;
    void (*fn)(void *arg);
    void *arg;
    bool running;   /* [loop] fn is executing */
    bool cancelled; /* [loop] free once fn returns */
    struct net_timer *next;
};

struct net_loop {
    char name[32];
    pthread_t thread;
    int epfd;
    int wakefd;
    net_ev_t wake_ev;

    pthread_mutex_t lock;      /* tasks, dirty list, stopping/stopped, sync_cond */
    pthread_cond_t sync_cond;  /* net_loop_run_sync completions */
    net_task_t *task_head, *task_tail;
    net_conn_t *dirty_head, *dirty_tail;
    bool stopping;             /* destroy asked the thread to exit */
    bool stopped;              /* the thread no longer takes tasks */

    net_timer_t *timers;       /* [loop] */
    net_conn_t *conns;         /* [loop] every live connection */
    net_listener_t *listeners; /* [loop] */
    net_conn_t *graveyard;     /* [loop] closed conns whose loop reference is dropped after the batch */
    net_listener_t *dead_listeners; /* [loop] freed after the batch */
    bool need_sweep;           /* [loop] some connection has a deadline */
    uint64_t last_sweep_ms;    /* [loop] */
    uint8_t *rbuf;             /* [loop] NET_READ_CHUNK bytes */
    _Atomic uint64_t oq_total;  /* bytes queued to all its connections (shared bodies not counted) */
    _Atomic uint64_t oq_budget; /* limit on oq_total; 0 = none (net_loop_set_outq_budget) */
};

/* Run fn(arg) on the loop thread and wait for it (directly when already on
 * it, or when the loop thread has stopped and nothing else runs there). */
void net_loop_run_sync(net_loop_t *loop, void (*fn)(void *arg), void *arg);
/* Queue c for a flush/close pass on the loop thread (takes a reference). */
void net_loop_mark_dirty(net_loop_t *loop, net_conn_t *c);
int net_loop_ep_ctl(net_loop_t *loop, int op, net_ev_t *ev, uint32_t events);
bool net_loop_is_stopping(net_loop_t *loop);

/* ---------- connections ---------- */
typedef enum {
    NET_CONN_CONNECTING = 0,
    NET_CONN_HANDSHAKE,
    NET_CONN_OPEN,
    NET_CONN_CLOSED,
} net_conn_state_t;

struct net_shbuf {
    atomic_uint refs;
    size_t len;
    uint8_t data[];
};

/* One queued piece of output: inline bytes (a header, or header + body), or
 * a shared body (sh != NULL) that is referenced, not copied. */
typedef struct net_outbuf {
    struct net_outbuf *next;
    size_t len;
    size_t off;
    net_shbuf_t *sh;
    uint8_t data[];
} net_outbuf_t;

static inline uint8_t *net_outbuf_bytes(net_outbuf_t *ob) { return ob->sh != NULL ? ob->sh->data : ob->data; }
void net_outbuf_free(net_outbuf_t *ob);

struct net_conn {
    net_ev_t ev;
    net_loop_t *loop;
    atomic_uint refs;
    uint64_t id;
    net_opts_t opts;
    net_conn_cbs_t cbs;
    void *_Atomic ctx;
    char peer[64];
    char verify_host[64]; /* client TLS: the IP the server certificate must name */
    bool is_client;

    /* [loop] */
    net_conn_state_t state;
    SSL *ssl;
    bool opened;           /* on_open ran, so on_close is owed */
    bool connected_now;    /* connect() finished synchronously */
    bool hs_wants_write;
    bool read_wants_write;
    bool write_blocked;
    uint32_t ep_events;
    net_frame_parser_t parser;
    uint64_t deadline_ms;  /* connect / handshake limit */
    uint64_t last_rx_ms;
    uint64_t frame_start_ms;
    net_conn_t *prev, *next; /* loop->conns */
    net_conn_t *grave_next;

    pthread_mutex_t lock;  /* the fields below */
    pthread_cond_t cond;   /* connect_done */
    net_outbuf_t *oq_head, *oq_tail;
    uint64_t oq_bytes;
    bool closed;           /* sends now fail with SMEM_PEER_GONE */
    bool close_req;
    int32_t close_req_reason;
    bool connect_done;
    int32_t connect_rc;
    char err[256];

    /* under loop->lock */
    bool dirty;
    net_conn_t *dirty_next;
};
/* Bytes of ob that count against the loop's output budget (a shared body is
 * one buffer for many connections, so it does not). */
static inline uint64_t net_outbuf_own(const net_outbuf_t *ob) { return ob->sh != NULL ? 0 : ob->len; }


net_conn_t *net_conn_new(net_loop_t *loop, int fd, const net_opts_t *opts, const net_conn_cbs_t *cbs,
                         bool client, const struct sockaddr_storage *peer);
void net_conn_free(net_conn_t *c); /* only for a conn never started on a loop */
void net_conn_start(net_conn_t *c); /* [loop] register and begin connect/handshake/open */
void net_conn_process(net_conn_t *c); /* [loop] dirty pass: flush, requested close */
/* Plain sockets only, c->lock held: one non-blocking sendmsg of the queue;
 * true when the queue is now empty. Errors are left for the loop's flush. */
bool net_conn_try_write_locked(net_conn_t *c);
void net_conn_shutdown(net_conn_t *c, int32_t reason); /* [loop] close now; on_close if it was open */
void net_conn_close_reason(net_conn_t *c, int32_t reason); /* net_conn_close with a reason */
/* [loop] Record why the connection failed (for a net_connect waiter), log it
 * at level (UTIL_LOG_OFF: not at all) and close it. */
void net_conn_fail(net_conn_t *c, int32_t reason, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void net_conn_flush(net_conn_t *c);         /* [loop] write what the socket takes now */
void net_conn_update_events(net_conn_t *c); /* [loop] epoll interest from the state */
bool net_conn_sweep(net_loop_t *loop, uint64_t now_ms); /* [loop] deadlines; true if any remain */
bool net_conn_is_closed(net_conn_t *c);

/* Asynchronous half of net_connect: the conn (one reference for the caller)
 * is returned at once; net_connect_wait blocks until it is open or failed and
 * drops the caller's reference on failure. */
int32_t net_connect_begin(net_loop_t *loop, const char *url, const net_opts_t *opts, const net_conn_cbs_t *cbs,
                          uint32_t timeout_ms, net_conn_t **out);
int32_t net_connect_wait(net_conn_t *c, uint32_t timeout_ms);

/* ---------- listeners ---------- */
struct net_listener {
    net_ev_t ev;
    net_loop_t *loop;
    net_opts_t opts;
    net_conn_cbs_t cbs;
    net_addr_t addr;
    uint16_t port;
    bool unlink_on_close; /* a pathname UNIX socket we created */
    bool linked;          /* [loop] on loop->listeners */
    util_acceptor_t acc;  /* [loop] accept that sheds connections at the descriptor limit */
    net_listener_t *next;
};

void net_listener_stop(void *arg); /* [loop] stop accepting, free after the batch */

/* ---------- TLS ---------- */
struct net_tls {
    SSL_CTX *ctx;
    bool server;
    bool verify_peer;
};

SSL *net_tls_ssl_new(net_tls_t *tls, int fd, const char *verify_host);
/* Describe why an SSL call failed: OpenSSL's reason plus the certificate
 * verification result; clears the thread's OpenSSL error queue. */
void net_tls_describe(SSL *ssl, int ret, int ssl_err, char *buf, size_t cap);


#endif
