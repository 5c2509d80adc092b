/*
 * The store server's state machine, independent of sockets: the server
 * (store_server.c) feeds it frames from net connections, the fuzz target
 * feeds it bytes directly. Everything runs on one thread (the server's loop
 * thread); nothing here locks.
 *
 * Transport contract (store_core_ops_t): `send` queues one frame to a link
 * and may fail (the core then asks `close` and stops sending to that link);
 * `close` must not call back into the core synchronously — the transport
 * reports the closed link later with store_core_peer_close.
 */
#ifndef STORE_CORE_H
#define STORE_CORE_H

#include <stdint.h>

#include "net/net.h"
#include "store/store.h"

typedef struct store_core store_core_t;
typedef struct store_peer store_peer_t;

typedef struct store_core_ops {
    int32_t (*send)(void *link, const net_frame_hdr_t *hdr, const void *body, uint32_t len);
    /* Optional: queue a shared body without copying it (NULL: `send` is used). */
    int32_t (*send_shared)(void *link, const net_frame_hdr_t *hdr, net_shbuf_t *body, uint32_t len);
    void (*close)(void *link);
} store_core_ops_t;

int32_t store_core_create(const store_core_ops_t *ops, store_core_t **out);
/*
 * Restart safety (both 0 after create):
 *  - recovery_ms: for this long after the call, GROUP_JOINs that do not
 *    reclaim a rank wait (and are answered when the window ends), so members
 *    that survived a restart of the server re-register their ranks before
 *    anyone new is admitted;
 *  - reserve_ms: a rank whose holder's connection timed out (a paused or cut
 *    off process, which may come back) is not handed to new joiners for this
 *    long unless no other rank is free; its holder may reclaim it.
 */
void store_core_set_recovery(store_core_t *core, uint32_t recovery_ms, uint32_t reserve_ms);
/* Bound the keys and values held (with a small per-key overhead): writes that
 * would pass it answer SMEM_FULL, logged once a second naming the client.
 * 0 (after create): none. */
void store_core_set_data_max(store_core_t *core, uint64_t bytes);
uint64_t store_core_data_bytes(const store_core_t *core);
/* Random per core: HELLO answers it. */
uint64_t store_core_instance(const store_core_t *core);
/* store_server_rank_verify's check (store.h), on the core's thread. */
int32_t store_core_rank_verify(store_core_t *core, const char *group, uint32_t rank, const void *challenge,
                               uint32_t len, const uint8_t *proof);
/* Frees all state without sending anything; open peers are dropped. */
void store_core_destroy(store_core_t *core);
/* Stop sending (server shutdown): later peer closes only free state. */
void store_core_quiesce(store_core_t *core);

/* A new link; name (peer address, copied) is used in logs and as the value of
 * liveness keys. NULL when out of memory. */
store_peer_t *store_core_peer_open(store_core_t *core, void *link, const char *name);
/* The link is gone: its watches, waiters, ranks and exit registrations go;
 * collectives it had arrived at fail for the others with SMEM_PEER_GONE.
 * reason is the net close reason (for logs). p is freed. */
void store_core_peer_close(store_core_t *core, store_peer_t *p, int32_t reason);
/* One request frame from p (body of hdr->body_len bytes). */
void store_core_dispatch(store_core_t *core, store_peer_t *p, const net_frame_hdr_t *hdr, const uint8_t *body);
/* Expire blocking GETs and collective members whose deadline passed. */
void store_core_tick(store_core_t *core, uint64_t now_ms);
void store_core_stats(const store_core_t *core, store_server_stats_t *out);

#endif
