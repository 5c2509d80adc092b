/*
 * src/transport: the transport implementer's interface (DESIGN.md §6), the
 * analogue of UCX's uct/api/tl.h. A transport moves bytes between memory in
 * this process and memory that a peer process exposes, one-sided: the peer's
 * CPU resolves and checks each request on its own data-server side, its
 * application code is not involved.
 *
 * Objects
 *  - tp_iface_t: this process's end of one transport: it listens on an
 *    address, serves peers' requests against the memory that its resolver
 *    (tp_resolver_t) allows, and publishes an address string
 *    (tp_iface_addr) that peers pass to tp_ep_connect.
 *  - tp_ep_t: a connection to one peer's iface. put/get move a list of
 *    pieces (local pointer, offset in a peer window, length).
 *
 * Windows and the resolver. A request names a window id and an offset in it;
 * what the ids mean is the upper layer's business (BM: 1 = its host pool,
 * offset from our slot start; Trans: TP_WINDOW_REG = registered memory by
 * absolute virtual address). The server side never touches memory the
 * resolver did not hand out: for every piece it calls resolve(), which checks
 * bounds and returns a pointer plus a pin token, and release() when the piece
 * has been read or written. An unresolvable piece fails the whole request
 * with the resolver's status (SMEM_OUT_OF_RANGE, SMEM_OBJECT_NOT_EXISTS...).
 *
 * Choosing a transport: by capability (tp_select), never by name.
 *
 * Thread rules
 *  - tp_iface_open/close are not concurrent with any other call on the iface;
 *    close only after every endpoint of the iface is closed.
 *  - tp_ep_connect/close are not concurrent with calls on the same endpoint.
 *  - tp_put/tp_get may be called from any thread, concurrently on one
 *    endpoint; they block until every piece is in place (a put returns only
 *    after the peer acknowledged that the bytes are in its memory) or an
 *    error, never longer than the iface's timeout without progress.
 *  - The resolver runs on the transport's server threads, concurrently; it
 *    must not block and must not call back into the transport.
 * Errors: SMEM_* codes; each failure sets the thread's last-error message
 * naming the peer and the numbers (window, offset, length).
 */
#ifndef TP_H
#define TP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

#define TP_ADDR_MAX 255u       /* bytes of a published iface address, without NUL */
#define TP_CRED_MAX 64u        /* bytes of a cluster credential */
#define TP_WINDOW_REG 0u        /* window id: registered memory by absolute virtual address */

/* ---- capabilities ---- */

enum {
    TP_CAP_SAME_HOST = 1u << 0,  /* reaches peers on this host */
    TP_CAP_REMOTE = 1u << 1,     /* reaches peers on other hosts */
    TP_CAP_HOST_MEM = 1u << 2,   /* moves host (CPU) memory */
    TP_CAP_DEVICE_MEM = 1u << 3, /* moves GPU memory */
};

typedef struct tp_caps {
    uint32_t flags;      /* TP_CAP_* */
    uint64_t max_msg;    /* largest single put/get in bytes (the sum of its pieces) */
    uint32_t max_pieces; /* most pieces in one put/get */
} tp_caps_t;

/* ---- the server-side memory resolver ---- */

typedef enum tp_access {
    TP_ACCESS_READ = 1,  /* a peer reads from us (its get) */
    TP_ACCESS_WRITE = 2, /* a peer writes into us (its put) */
} tp_access_t;

typedef struct tp_mem {
    void *ptr;    /* len bytes here may be read/written until release */
    uint64_t pin; /* the resolver's token for release */
} tp_mem_t;

typedef struct tp_resolver {
    /* [offset, offset + len) of window → pointer, pinned. SMEM_OK or an error
     * status with the message set (the transport logs it with the peer). */
    int32_t (*resolve)(void *arg, uint32_t window, uint64_t offset, uint64_t len, tp_access_t access, tp_mem_t *out);
    /* Unpin what resolve handed out. */
    void (*release)(void *arg, uint32_t window, const tp_mem_t *mem);
    void *arg;
} tp_resolver_t;

/* ---- iface ---- */

typedef struct tp_iface_cfg {
    const char *name;       /* for logs ("bm 0", "trans 10.0.0.1:5000"); copied */
    /* Where to listen: "tcp://IP:PORT", "tcp://[v6]:PORT", "tcp://NET/PREFIX:PORT"
     * (the local interface address inside that subnet); port 0 = ephemeral.
     * NULL or "": an ephemeral port on the local address that routes to
     * reach_url's host (loopback when reach_url is NULL or a unix:// URL). */
    const char *listen_url;
    const char *reach_url;
    tp_resolver_t resolver; /* resolve and release must be set */
    uint32_t timeout_ms;    /* limit on every blocking step (no progress); 0: 30000 */
    uint32_t conns_per_peer; /* parallel connections per endpoint; 0: 4 */
    uint64_t chunk_size;    /* large transfers are cut into requests of this size; 0: 1 MiB */
    net_tls_t *tls_server;  /* TLS 1.3 on the data channel: both or neither; not owned, outlive the iface */
    net_tls_t *tls_client;
    /* The cluster credential (1..TP_CRED_MAX bytes, copied; NULL: none): the
     * server serves only peers that prove they hold it, and proves it back;
     * endpoints prove it and refuse servers that do not (SMEM_AUTH). */
    const uint8_t *cred;
    uint32_t cred_len;
    /* Listen policy (net_listen_check): beyond loopback the server needs TLS,
     * or a credential that is private (cred_private: its holders got it over
     * a protected path, so reaching the port is not enough), or the switch in
     * expose (a WARN then). Upper layers say which: BM's credential is
     * private when the config store it came from was reached over TLS or
     * loopback; Trans's likewise (its secret is a store key). */
    bool cred_private;
    net_expose_t expose;
} tp_iface_cfg_t;

void tp_iface_cfg_init(tp_iface_cfg_t *c); /* zeroes: every default */

typedef struct tp_ops tp_ops_t;

/* Base of every transport's iface object (first member). */
typedef struct tp_iface {
    const tp_ops_t *ops;
    char name[64];
} tp_iface_t;

/* Base of every transport's endpoint object (first member). */
typedef struct tp_ep {
    const tp_ops_t *ops;
    tp_iface_t *iface;
    char addr[TP_ADDR_MAX + 1]; /* the peer's iface address */
} tp_ep_t;

/* One piece of a put/get: len bytes at local <-> offset in the peer's window. */
typedef struct tp_piece {
    void *local;
    uint64_t offset;
    uint64_t len;
} tp_piece_t;

/*
 * A transport. Every slot is set (unsupported operations point at the tp_no_*
 * stubs). The framework (tp_iface_open, tp_ep_connect) allocates iface_size /
 * ep_size zeroed bytes with the base filled in and calls the slot.
 *  iface_open   listen and start serving; blocks only in system calls. On
 *               failure the framework calls iface_close on the same object,
 *               so iface_close must be safe after a failed (partial) open.
 *  iface_close  stop serving (in-flight requests end, their pins released),
 *               free everything; does not free the object itself.
 *  iface_addr   the string peers pass to ep_connect; non-blocking.
 *  ep_connect   validate addr and connect (blocking up to the timeout);
 *               ep_close is safe after a failed connect.
 *  put / get    see the thread rules; n >= 1, each len >= 1, the sum <= max_msg.
 */
struct tp_ops {
    const char *name; /* logs only; never compared */
    tp_caps_t caps;
    size_t iface_size; /* >= sizeof(tp_iface_t) */
    size_t ep_size;    /* >= sizeof(tp_ep_t) */
    int32_t (*iface_open)(tp_iface_t *iface, const tp_iface_cfg_t *cfg);
    void (*iface_close)(tp_iface_t *iface);
    int32_t (*iface_addr)(tp_iface_t *iface, char *buf, size_t cap);
    int32_t (*ep_connect)(tp_ep_t *ep, const char *addr);
    void (*ep_close)(tp_ep_t *ep);
    int32_t (*put)(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n);
    int32_t (*get)(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n);
};

/* Shared "unsupported" stubs (libfabric fi_no_* style). */
int32_t tp_no_iface_addr(tp_iface_t *iface, char *buf, size_t cap);
int32_t tp_no_ep_connect(tp_ep_t *ep, const char *addr);
int32_t tp_no_put(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n);
int32_t tp_no_get(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n);

/* The built-in transports. */
extern const tp_ops_t tp_tcp_ops;

/*
 * The first built-in transport whose capabilities include every bit of
 * `need` and whose max_msg >= min_msg; NULL (error set) when none does.
 */
const tp_ops_t *tp_select(uint32_t need, uint64_t min_msg);

/* Allocate, open. *out is closed with tp_iface_close. */
int32_t tp_iface_open(const tp_ops_t *ops, const tp_iface_cfg_t *cfg, tp_iface_t **out);
void tp_iface_close(tp_iface_t *iface); /* NULL is a no-op */
static inline int32_t tp_iface_addr(tp_iface_t *iface, char *buf, size_t cap)
{
    return iface->ops->iface_addr(iface, buf, cap);
}

int32_t tp_ep_connect(tp_iface_t *iface, const char *addr, tp_ep_t **out);
void tp_ep_close(tp_ep_t *ep); /* NULL is a no-op */
static inline int32_t tp_put(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n)
{
    return ep->ops->put(ep, window, pieces, n);
}
static inline int32_t tp_get(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n)
{
    return ep->ops->get(ep, window, pieces, n);
}

#endif
