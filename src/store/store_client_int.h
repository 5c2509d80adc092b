/*
 * Private to the store client (store_client.c: connection, key-value calls,
 * watches; store_group.c: groups, collectives, ids, exit).
 *
 * Locks: `mu` guards the lists and counters below; `cb_mu` is held while a
 * watch or exit callback runs (on the loop thread) so that store_unwatch can
 * wait out a callback in flight. Order: cb_mu before mu. Neither is held
 * across an RPC.
 */
#ifndef STORE_CLIENT_INT_H
#define STORE_CLIENT_INT_H

#include <pthread.h>

#include "store/store.h"
#include "store/store_map.h"
#include "store/store_proto.h"

/* Added to a server-side wait (blocking GET, collectives) for the RPC's own
 * timeout, so the server's SMEM_TIMEOUT answer normally arrives first. */
#define STORE_RPC_MARGIN_MS 2000u

struct store_client {
    net_rpc_t *rpc;
    uint32_t timeout_ms;
    pthread_mutex_t mu;
    pthread_mutex_t cb_mu;
    util_link_t watches; /* store_cwatch_t */
    uint64_t next_watch_id;
    util_link_t exits;   /* store_cexit_t */
    util_link_t groups;  /* store_cgroup_t */
    store_map_t seqs;     /* barrier/all-gather name -> uint64_t * next sequence number */
    uint64_t gen;         /* bumped on every connection loss */
    uint64_t token;       /* random, ours for the client's life: a reclaim proves we held the rank */
    uint64_t instance;    /* the server's (HELLO); changes when the store restarted */
    pthread_mutex_t listen_mu; /* held while a group listener runs (reconnect thread); before mu */
    util_link_t listeners;    /* store_clisten_t */
    uint64_t next_listen_id;
    util_link_t owns;         /* store_cown_t: store_group_own registrations, sent again after a reclaim */
};

typedef struct store_cown {
    util_link_t node;
    uint8_t mode;
    char *prefix; /* after group[] */
    char group[];
} store_cown_t;

typedef struct store_clisten {
    util_link_t node;
    uint64_t id;
    store_group_cb_t cb;
    void *arg;
    char group[];
} store_clisten_t;

typedef struct store_cexit {
    util_link_t node;
    store_exit_cb_t cb;
    void *arg;
    uint32_t glen;
    char group[];
} store_cexit_t;

typedef struct store_cgroup {
    util_link_t node;
    uint32_t rank;
    uint32_t world_size;
    bool lost; /* the connection was lost since the join: the server freed the rank */
    char name[];
} store_cgroup_t;

/* RPC timeout for a server-side wait of wait_ms, saturating. */
static inline uint32_t store_rpc_timeout(uint32_t wait_ms)
{
    return wait_ms > UINT32_MAX - STORE_RPC_MARGIN_MS ? UINT32_MAX : wait_ms + STORE_RPC_MARGIN_MS;
}

/*
 * Encode m, call the server, and return its status (or the transport's
 * error). The response body (maybe NULL) is handed to the caller in *resp
 * (caller frees) whatever the status; the last-error message is set for
 * every non-zero return, from the server's text when it sent one.
 */
int32_t store_client_call(store_client_t *c, const store_msg_t *m, uint32_t timeout_ms, uint8_t **resp,
                          uint32_t *resp_len);
/* Same, on a given rpc (on_reconnect runs before c->rpc may be used). */
int32_t store_client_call_rpc(net_rpc_t *rpc, const store_msg_t *m, uint32_t timeout_ms, uint8_t **resp,
                              uint32_t *resp_len);
/* Check a caller's NUL-terminated name: 1..max bytes. Sets the error. */
int32_t store_client_name(const char *what, const char *name, uint32_t max, uint32_t *len);

/* store_group.c */
void store_group_on_exit(store_client_t *c, const store_msg_t *m);
void store_group_on_disconnect(store_client_t *c);
int32_t store_group_reregister(store_client_t *c, net_rpc_t *rpc);
/* After the watches are back: reclaim every rank held before the loss and tell the listeners. */
void store_group_reclaim(store_client_t *c, net_rpc_t *rpc, bool restarted, uint32_t recovery_left_ms);
void store_group_fini(store_client_t *c);

#endif
