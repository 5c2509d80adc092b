/*
 * Private to the store server core (store_core.c: peers, dispatch, keys,
 * waiters, watches; store_coll.c: groups, collectives, id pools, exit).
 * All of it lives on the server loop thread.
 */
#ifndef STORE_CORE_INT_H
#define STORE_CORE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store_core.h"
#include "store/store_map.h"
#include "store/store_proto.h"

/* What a reply needs from its request. */
typedef struct store_rq {
    uint16_t type;
    uint64_t req_id;
    bool oneway;
} store_rq_t;

typedef struct store_kv {
    uint8_t *val;
    uint32_t len;
    uint32_t cap;
    store_peer_t *owner; /* liveness key: the member's connection; else NULL */
    /* A key under a registered prefix (store_own.c): the member that wrote it last (token 0: nobody's, a
     * tombstone or a key written before the registration). */
    uint64_t claim_token;
    uint32_t claim_rank;
} store_kv_t;

struct store_peer {
    void *link;
    uint64_t id;
    bool broken;          /* a send failed; close requested, nothing more is sent */
    char name[64];
    util_link_t node;    /* core->peers */
    util_link_t watches; /* store_watch_t.peer_node */
    util_link_t getws;   /* store_getw_t.peer_node */
    util_link_t slots;   /* store_slot_t.peer_node: collectives arrived at */
    util_link_t members; /* store_member_t.peer_node: group ranks held */
    util_link_t exits;   /* store_exitreg_t.peer_node */
    util_link_t pjoins;  /* store_pjoin_t.peer_node: joins held by the recovery window */
    util_link_t pwrites; /* store_pwrite_t.peer_node: writes held by the recovery window */
};

/* A write the recovery window holds (store_own.c): the frame as it came, handled again when the window ends. */
typedef struct store_pwrite {
    util_link_t node;      /* core->pwrites, arrival order */
    util_link_t peer_node; /* peer->pwrites */
    store_peer_t *peer;
    net_frame_hdr_t hdr;
    uint8_t body[];
} store_pwrite_t;

/* A GROUP_JOIN held until the recovery window ends (its own copy of the group name). */
typedef struct store_pjoin {
    util_link_t node;      /* core->pjoins, arrival order */
    util_link_t peer_node; /* peer->pjoins */
    store_peer_t *peer;
    store_rq_t rq;
    store_msg_t m;          /* m.key points at name */
    char name[];
} store_pjoin_t;

typedef struct store_slot store_slot_t;
typedef struct store_coll store_coll_t;

struct store_core {
    store_core_ops_t ops;
    bool quiet;
    uint64_t next_peer_id;
    util_link_t peers;
    store_map_t kv;        /* key -> store_kv_t */
    store_map_t getq;      /* key -> util_link_t head of store_getw_t (blocking GETs) */
    util_link_t getw_all; /* every store_getw_t, for expiry */
    store_map_t wexact;    /* key -> util_link_t head of exact store_watch_t */
    util_link_t wprefix;  /* prefix store_watch_t */
    store_map_t colls;     /* "<name>#<seq>" -> store_coll_t */
    util_link_t coll_all;
    store_map_t groups;    /* group -> store_group_t */
    store_map_t pools;     /* pool -> store_pool_t */
    store_map_t exits;     /* group -> store_exitgrp_t */
    uint64_t nwatches;
    uint64_t ngetw;
    uint64_t now_ms;       /* time of the frame or tick being handled */
    uint64_t instance;     /* random per start: clients tell a restarted server from a dropped connection */
    uint64_t recover_until_ms; /* joins that reclaim nothing wait until then (0: no window) */
    uint64_t next_reap_ms;
    uint32_t reserve_ms;   /* a rank whose holder timed out stays reserved for its token this long */
    util_link_t pjoins;   /* store_pjoin_t held by the recovery window */
    uint64_t data_bytes;   /* keys and values held, with a per-key overhead */
    uint64_t data_max;     /* refuse writes past it (SMEM_FULL); 0 = none */
    uint64_t full_refused, full_log_ms;
    util_link_t owns;      /* store_own_t: prefixes whose keys belong to group members (store_own.c) */
    uint32_t nowns;
    uint64_t own_refused, own_log_ms;
    util_link_t pwrites;   /* store_pwrite_t held by the recovery window */
    uint64_t held_bytes;   /* their bodies */
    uint32_t nheld;
};

/* ---- store_core.c, used by store_coll.c ---- */
/* Reply with a shared body (see net_conn_send_shared); status is SMEM_OK. */
void store_core_reply_shared(store_core_t *c, store_peer_t *p, const store_rq_t *rq, net_shbuf_t *body, uint32_t len);
void store_core_reply(store_core_t *c, store_peer_t *p, const store_rq_t *rq, int32_t status, const void *body,
                      uint32_t len);
void store_core_reply_err(store_core_t *c, store_peer_t *p, const store_rq_t *rq, int32_t status, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));
void store_core_push(store_core_t *c, store_peer_t *p, uint16_t type, const void *body, uint32_t len);
/* Create or replace a key (owner: liveness key holder or NULL), telling
 * watchers and waking blocking GETs. */
int32_t store_core_kv_put(store_core_t *c, const char *key, uint32_t klen, const void *val, uint32_t len,
                          store_peer_t *owner);
/* Delete a key, telling watchers; SMEM_OBJECT_NOT_EXISTS when absent. */
int32_t store_core_kv_del(store_core_t *c, const char *key, uint32_t klen);
/* One request frame from p, at c->now_ms (store_core_dispatch without reading the clock). */
void store_core_handle(store_core_t *c, store_peer_t *p, const net_frame_hdr_t *hdr, const uint8_t *body);

/* ---- store_own.c: keys that belong to members ---- */
void store_own_fini(store_core_t *c);
void store_own_register(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m);
/* Whether p may make the write m (SET, ADD, CAS, APPEND, DELETE) to the key, whose entry is kv (NULL: absent).
 * SMEM_OK, with *claimed set when the key is under a registered prefix (call store_own_claimed after the
 * write), or SMEM_NOT_PERMITTED with the message set and the refusal logged. */
int32_t store_own_check(store_core_t *c, store_peer_t *p, const store_msg_t *m, const store_kv_t *kv, bool *claimed);
/* After a checked write: the key now belongs to p's member (a tombstone to nobody). */
void store_own_claimed(store_core_t *c, store_peer_t *p, const store_msg_t *m);
/* While the recovery window is open: hold the write m (the frame hdr, body) of a key under no registered
 * prefix until it ends, and every later request of the same connection behind it (answers stay in order).
 * true when held (or answered: no room to hold it); false: handle it now. */
bool store_own_hold(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m,
                    const net_frame_hdr_t *hdr, const uint8_t *body);
/* The window is over: handle the held writes in arrival order. */
void store_own_release(store_core_t *c);
/* p is closing: drop the writes held for it, unanswered. */
void store_own_peer_gone(store_core_t *c, store_peer_t *p);
int32_t store_own_rank_verify(store_core_t *c, const char *group, uint32_t rank, const void *challenge,
                              uint32_t len, const uint8_t *proof);

/* ---- store_coll.c ---- */
/* The rank p holds in group (glen bytes), UINT32_MAX when none; *token: its join token. */
uint32_t store_coll_peer_rank(store_core_t *c, const char *group, uint32_t glen, const store_peer_t *p,
                              uint64_t *token);
/* The join token of rank's holder in group; 0 when the rank is free (or no such group or rank). */
uint64_t store_coll_holder_token(store_core_t *c, const char *group, uint32_t glen, uint32_t rank);
int32_t store_coll_init(store_core_t *c);
void store_coll_fini(store_core_t *c); /* frees all collective/group/pool/exit state, no sends */
void store_coll_group_join(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m);
/* Admit the joins the recovery window held (its end, or shutdown: status != 0 fails them). */
void store_coll_release_pjoins(store_core_t *c, int32_t status);
void store_coll_group_leave(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m);
void store_coll_arrive(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m);
void store_coll_id_alloc(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m);
void store_coll_id_release(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m);
void store_coll_exit_watch(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m);
void store_coll_exit_broadcast(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m);
/* p is closing: drop its ranks, exit registrations and collective arrivals. */
void store_coll_peer_gone(store_core_t *c, store_peer_t *p, int32_t reason);
void store_coll_tick(store_core_t *c);
void store_coll_stats(const store_core_t *c, store_server_stats_t *out);

#endif
