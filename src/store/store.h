/*
 * src/store: the config store, a small key-value server used for rendezvous,
 * plus its client and the group operations the upper layers build on.
 *
 * Server: one net loop thread; all state lives on it (no locks). Runs
 * embedded (store_server_start from any process) or standalone (smem-store).
 *
 * Client: thread-safe; every call may be made from any thread and blocks up
 * to its timeout. Watch callbacks run on the client's loop thread and must
 * not block or call back into the client synchronously.
 *
 * Liveness: a client that joins a group (store_group_join) owns a rank in it.
 * The server holds an ephemeral key "<group>/__live/<rank>" for as long as
 * the client's connection lives; when it closes (exit, SIGKILL, keepalive
 * timeout) the key is deleted and every watcher of the group's liveness
 * prefix is told. A freed rank is reused by the next joiner (lowest free).
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

#define STORE_KEY_MAX 1024u               /* bytes in a key */
#define STORE_VALUE_MAX (16u << 20)       /* bytes in a value */
#define STORE_GATHER_MAX (64u << 10)      /* bytes one rank contributes to an all-gather */
#define STORE_WORLD_MAX 1024u
/* Restart safety (see store_server_opts_t): the daemons' recovery window must
 * cover a surviving client's slowest redial, and a timed-out holder's rank
 * stays reserved for it long enough to come back from a pause. */
#define STORE_RECONNECT_BACKOFF_MAX_MS 1000u
#define STORE_RECOVERY_DEFAULT_MS 1500u
#define STORE_RESERVE_DEFAULT_MS 30000u
#define STORE_DATA_MAX_DEFAULT (256ull << 20)

/* ---------- server ---------- */
typedef struct store_server store_server_t;

typedef struct store_server_opts {
    net_opts_t net;          /* max_frame, timeouts, tls */
    uint32_t keepalive_ms;   /* a client silent this long is dead (default 3000 + heartbeat) */
    /* After start, joins that reclaim no rank wait this long, so members that
     * survived a restart of this server get their ranks back first (default
     * 0; the daemons mmc-meta and smem-store use STORE_RECOVERY_DEFAULT_MS). */
    uint32_t recovery_ms;
    /* A rank whose holder timed out stays reserved for it (default STORE_RESERVE_DEFAULT_MS). */
    uint32_t reserve_ms;
    /* Keys and values held in all (default STORE_DATA_MAX_DEFAULT): writes past it answer SMEM_FULL, so one
     * client cannot fill the server's memory. */
    uint64_t max_data_bytes;
} store_server_opts_t;

void store_server_opts_init(store_server_opts_t *o);
/* url: tcp://ip:port (port 0: ephemeral, see store_server_port), or unix://... */
int32_t store_server_start(const char *url, const store_server_opts_t *opts, store_server_t **out);
uint16_t store_server_port(const store_server_t *s);
void store_server_stop(store_server_t *s); /* closes all clients, frees everything */

/* Introspection (tests, metrics): a snapshot of the server's tables, taken on
 * its loop thread (the call posts there and waits; safe from any thread). */
typedef struct store_server_stats {
    uint64_t keys;        /* keys in the table, liveness keys included */
    uint64_t get_waiters; /* blocking GETs waiting for their key */
    uint64_t watches;     /* key and prefix watches of all connections */
    uint64_t collectives; /* barrier/all-gather instances not yet completed or reclaimed */
    uint64_t groups;      /* groups with at least one rank held */
    uint64_t id_pools;    /* id pools with at least one id allocated */
    uint64_t exit_groups; /* groups with at least one exit watcher */
    uint64_t conns;       /* open client connections */
} store_server_stats_t;
int32_t store_server_stats(store_server_t *s, store_server_stats_t *out);
/* Number of keys (store_server_stats().keys); UINT64_MAX if the snapshot failed. */
uint64_t store_server_key_count(store_server_t *s);

/* ---------- client ---------- */
typedef struct store_client store_client_t;

typedef struct store_client_opts {
    net_rpc_opts_t rpc;     /* connect/reconnect/heartbeat, tls */
    uint32_t timeout_ms;    /* default per-call timeout (default 120000) */
} store_client_opts_t;

void store_client_opts_init(store_client_opts_t *o);
int32_t store_client_connect(const char *url, const store_client_opts_t *opts, store_client_t **out);
void store_client_close(store_client_t *c);

int32_t store_set(store_client_t *c, const char *key, const void *val, uint32_t len);
/* timeout_ms 0: immediate (SMEM_OBJECT_NOT_EXISTS if absent); otherwise wait
 * until the key exists or the timeout (SMEM_TIMEOUT). *val is malloc'd. */
int32_t store_get(store_client_t *c, const char *key, uint32_t timeout_ms, uint8_t **val, uint32_t *len);
/* Atomically add delta to the decimal integer value (absent = 0); *result = new value. */
int32_t store_add(store_client_t *c, const char *key, int64_t delta, int64_t *result);
/* Set to new_val if the current value equals expected (expected_len 0 with
 * expected NULL: only if absent). SMEM_CAS_MISMATCH otherwise, with the
 * current value returned in *cur (malloc'd) when cur is not NULL. */
int32_t store_cas(store_client_t *c, const char *key, const void *expected, uint32_t expected_len,
                  const void *new_val, uint32_t new_len, uint8_t **cur, uint32_t *cur_len);
/* Append to the value (absent = empty); *new_len = resulting length. */
int32_t store_append(store_client_t *c, const char *key, const void *val, uint32_t len, uint32_t *new_len);
int32_t store_delete(store_client_t *c, const char *key); /* SMEM_OBJECT_NOT_EXISTS if absent */

/*
 * Every key starting with prefix ("" = all keys) and its value, in ascending
 * byte order, in one round trip. after: continue behind this key (NULL or ""
 * = from the first). max_keys: 1..4096 (0 = 4096); max_bytes: answer size
 * limit, keys + values + 8 per item (0 = 4 MiB, at most 32 MiB; the first
 * item always comes, however large). When (*out)->more is true, keys were
 * left out: call again with after = the last item's key. *out is one
 * allocation the caller frees with store_kvlist_free. A snapshot: pair it
 * with a watch registered BEFORE the call to miss no change.
 */
typedef struct store_kvitem {
    const char *key;    /* NUL-terminated */
    const uint8_t *val; /* len bytes (not NUL-terminated; NULL when len is 0) */
    uint32_t len;
} store_kvitem_t;

typedef struct store_kvlist {
    uint32_t count;
    bool more;
    store_kvitem_t *items;
} store_kvlist_t;

int32_t store_list(store_client_t *c, const char *prefix, const char *after, uint32_t max_keys, uint32_t max_bytes,
                   store_kvlist_t **out);
void store_kvlist_free(store_kvlist_t *l);

typedef enum { STORE_EV_SET = 1, STORE_EV_DELETE = 2 } store_event_t;
typedef void (*store_watch_cb_t)(void *arg, store_event_t ev, const char *key, const uint8_t *val, uint32_t len);
/* Watch one key, or every key starting with key when prefix is true. Events
 * for changes after the call returns are delivered in order. */
int32_t store_watch(store_client_t *c, const char *key, bool prefix, store_watch_cb_t cb, void *arg,
                    uint64_t *watch_id);
int32_t store_unwatch(store_client_t *c, uint64_t watch_id);

/* ---------- groups (rank assignment, liveness, collectives) ---------- */
/* Ranks belong to the connection: when it is lost the server frees them (and
 * tells the liveness watchers). After the client reconnects it reclaims each
 * rank it held (GROUP_JOIN with the RECLAIM flag and its token): the server
 * kept a rank whose holder timed out reserved for that token, and a
 * restarted server admits reclaims before any new joiner (the recovery
 * window). A reclaimed rank gets its liveness key back; group listeners
 * (store_group_listen) are told, so upper layers publish their records
 * again. A rank that could not be reclaimed (another member took it) stays
 * lost: store_group_leave answers SMEM_RECONNECT (and forgets it), the
 * listeners are told, and the group may be joined again as a new member.
 * Barriers and all-gathers in flight during the loss fail
 * (SMEM_RECONNECT/SMEM_CONN_FAILED locally, SMEM_PEER_GONE for the others). */
/* Join group `group` of at most world_size ranks. want_rank = UINT32_MAX:
 * lowest free rank; otherwise that rank (SMEM_DUPLICATED_OBJECT if taken).
 * SMEM_FULL when all world_size ranks are taken. One join per client per group. */
int32_t store_group_join(store_client_t *c, const char *group, uint32_t world_size, uint32_t want_rank,
                         uint32_t *rank);
int32_t store_group_leave(store_client_t *c, const char *group);

/* What a reconnect did to a rank this client held. */
typedef struct store_group_event {
    const char *group;
    uint32_t rank;
    bool regained;             /* false: lost for good (another member holds it now) */
    bool restarted;            /* the server is a new instance: its keys are gone, publish them again */
    uint32_t recovery_left_ms; /* of the restarted server's recovery window: survivors are still coming back */
} store_group_event_t;
/* Runs on the client's reconnect thread before other callers may use the new
 * connection; it may make store calls on this client, must not block
 * otherwise, and must not call store_group_unlisten. */
typedef void (*store_group_cb_t)(void *arg, const store_group_event_t *ev);
int32_t store_group_listen(store_client_t *c, const char *group, store_group_cb_t cb, void *arg, uint64_t *id);
/* Waits for a listener call in flight; afterwards cb is never called. */
void store_group_unlisten(store_client_t *c, uint64_t id);
/*
 * Records that belong to a member. store_group_own registers prefix with the
 * server for group (the caller must hold a rank in it; registering the same
 * prefix again with the same group and mode is a no-op, another group or
 * mode SMEM_DUPLICATED_OBJECT; at most STORE_OWN_MAX prefixes per server).
 * Afterwards every write (SET, ADD, CAS, APPEND, DELETE) of a key under it
 * is checked against the writer's connection:
 *   STORE_OWN_RANK  keys "<prefix><decimal rank>" (other keys under the
 *                   prefix are refused) are written by the connection that
 *                   holds that rank now. Anyone else who holds a rank in the
 *                   group may only tombstone it (CAS from its exact current
 *                   bytes to an empty value) once its writer no longer holds
 *                   the rank: the space layer's cleanup of a departed
 *                   member's record.
 *   STORE_OWN_CLAIM any key under the prefix is claimed by the member (rank
 *                   and token) that created it; only that member writes it
 *                   while it holds its rank; once it does not (it left or
 *                   died, or another token holds the rank), any member of
 *                   the group may delete it or write it (and claims it).
 *   STORE_OWN_GROUP any connection that holds a rank in the group writes any
 *                   key under the prefix (a count all members keep).
 *   STORE_OWN_ONCE  keys written once: a member of the group creates one;
 *                   afterwards a write must leave its bytes as they are (a
 *                   SET or CAS of the same bytes: a survivor re-publishing
 *                   it) and any member may delete it (the last one out).
 * Everything else is refused with SMEM_NOT_PERMITTED, and the server logs a
 * WARN naming the connection and the key (at most one a second). Keys that
 * hold "/__live/" are the server's liveness keys: no client writes them.
 * The client remembers its registrations and sends them again after a
 * reconnect, once the rank came back and before the group's listeners run
 * (a restarted server knows none), so a member's records stay its own.
 * While a restarted server's recovery window is open (store_server_opts_t
 * recovery_ms) it holds every write of a key under no registered prefix
 * and answers it when the window ends, so the survivors re-register their
 * prefixes before anyone else's write reaches them.
 */
#define STORE_OWN_RANK 1u
#define STORE_OWN_CLAIM 2u
#define STORE_OWN_GROUP 3u
#define STORE_OWN_ONCE 4u
int32_t store_group_own(store_client_t *c, const char *group, const char *prefix, uint8_t mode);

/*
 * Proof of holding a rank, for a service that shares the server (the
 * MetaService): HMAC-SHA256 under the token this client joined group with
 * (never sent anywhere but in GROUP_JOIN) of the group, the rank and the
 * service's challenge (up to STORE_CHALLENGE_MAX bytes, fresh per
 * connection of that service, so a proof seen on one does not serve on
 * another). store_group_proof: SMEM_OBJECT_NOT_EXISTS when this client holds
 * no live rank of group. store_server_rank_verify (any thread; posts to the
 * server's loop and waits): SMEM_OK when rank is held now by the token that
 * produced proof, SMEM_NOT_PERMITTED otherwise (message says which).
 */
#define STORE_PROOF_SIZE 32u
#define STORE_CHALLENGE_MAX 64u
int32_t store_group_proof(store_client_t *c, const char *group, const void *challenge, uint32_t len, uint32_t *rank,
                          uint8_t proof[STORE_PROOF_SIZE]);
int32_t store_server_rank_verify(store_server_t *s, const char *group, uint32_t rank, const void *challenge,
                                 uint32_t len, const uint8_t proof[STORE_PROOF_SIZE]);

/* The server instance seen at connect or the last reconnect (0: unknown). */
uint64_t store_client_instance(store_client_t *c);

/* Barrier of `count` members under key `name` (each call of a member advances
 * its own sequence number, so the same name is reused safely). Fails with
 * SMEM_PEER_GONE if a member that arrived dies before the barrier completes.
 * timeout_ms 0: the client's default timeout. name: at most STORE_KEY_MAX - 24
 * bytes. A member that timed out has used up its sequence number; the
 * others then wait out their own timeouts. */
int32_t store_barrier(store_client_t *c, const char *name, uint32_t count, uint32_t rank, uint32_t timeout_ms);
/* All-gather: each of `count` members contributes len bytes (equal len); recv
 * gets count*len bytes ordered by rank. */
int32_t store_allgather(store_client_t *c, const char *name, uint32_t count, uint32_t rank, const void *send,
                        uint32_t len, void *recv, uint32_t timeout_ms);

/* Smallest free integer in [0, limit) in pool `name`; SMEM_FULL when none. */
int32_t store_id_alloc(store_client_t *c, const char *name, uint32_t limit, uint32_t *id);
int32_t store_id_release(store_client_t *c, const char *name, uint32_t id);

/* Global exit: every client that registered for `group` gets cb(status). */
typedef void (*store_exit_cb_t)(void *arg, int32_t status);
int32_t store_exit_watch(store_client_t *c, const char *group, store_exit_cb_t cb, void *arg);
int32_t store_exit_broadcast(store_client_t *c, const char *group, int32_t status);

#endif
