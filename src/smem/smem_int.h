/* Internal state shared by the smem API files (common, bm, shm, trans). */
#ifndef SMEM_INT_H
#define SMEM_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gva/gva.h"
#include "net/net.h"
#include "smem/host/smem_bm_def.h"
#include "smem/host/smem_trans_def.h"
#include "space/space.h"
#include "store/store.h"
#include "transport/tp.h"
#include "transport/tp_cache.h"
#include "xfer/xfer.h"

/*
 * Copy the process-wide config-store TLS settings into *out. Pointers in
 * *out (key_pem, key_pass) refer to library-owned copies that stay valid
 * until the next smem_set_config_store_tls_key or smem_uninit.
 */
void smem_store_tls_opts_get(net_tls_opts_t *out);

/* Parse a smem_set_conf_store_tls info string into opts (paths only). */
int32_t smem_tls_info_parse(const char *info, uint32_t len, net_tls_opts_t *opts);

/* ---------- BM (smem_bm.c: init, create, destroy; smem_bm_ops.c: the per-object calls) ---------- */

#define SMEM_BM_ID_MAX 63u
#define SMEM_BM_GROUP "smem"                 /* store group of every BM rank (liveness, rank ids) */
#define SMEM_BM_STRIDE_MAX (1ull << 40)      /* per-rank stride (max size) limit: 1 TiB */
#define SMEM_BM_WINDOW_MAX (32ull << 40)     /* world × stride limit: 32 TiB of address space */

/*
 * A process table of live API objects (BM objects, Trans instances): a handle
 * is the object's address, checked against the table before use (a destroyed
 * or foreign pointer is SMEM_INVALID_PARAM, never dereferenced). get takes a
 * reference (the uint32_t at refs_off in the object, atomic) under the API's
 * lock; put drops it and wakes destroy (cv) at zero.
 */
typedef struct smem_handles {
    pthread_mutex_t *lock;
    pthread_cond_t *cv;
    void *const *objs; /* n slots, NULL when free */
    uint32_t n;
    size_t refs_off;
    const char *kind; /* for the message: "is not a live <kind>" */
} smem_handles_t;
void *smem_handle_get(const smem_handles_t *t, const void *h, const char *what);
void smem_handle_put(const smem_handles_t *t, void *obj);

/*
 * One BM object. Handles are checked against the process table (a destroyed
 * or foreign pointer is SMEM_ERR_INVALID_PARAM, never dereferenced). Every
 * call holds a reference (smem_bm_obj_get/put) so destroy waits for calls in
 * flight; async copies are drained by xfer_engine_destroy.
 * Locks: the process-wide BM lock (smem_bm.c) is a leaf, never held across
 * another lock or a store/gva call. op_lock serialises join/leave/destroy of
 * one object and is held across space calls (which take only the
 * space's own leaf lock).
 */
typedef struct smem_bm_obj {
    uint32_t id;
    uint32_t refs; /* atomic: the table's reference + calls in flight */
    uint32_t member_size;
    uint32_t data_op;
    uint32_t flags;
    int numa_node; /* -1: no binding */
    uint64_t local_dram;
    uint64_t local_hbm;
    uint64_t stride;
    space_t *host;
    xfer_engine_t *xfer;
    gva_reg_t *reg;
    pthread_mutex_t op_lock;
    /* Data plane (smem_bm_tp.c): a transport iface serving our slot to peers on
     * other hosts while joined, and lazily connected endpoints to them. */
    struct smem_bm_tp *tp;
} smem_bm_obj_t;

/* smem_bm_tp.c. Setup keeps the settings; open (at join, under op_lock) starts
 * the iface and sets the address our member record publishes; close (after
 * leave, and at destroy) stops it. The route is the copy engine's. */
#define SMEM_BM_TP_WINDOW_HOST 1u /* tp window id of the host pool: offset from our slot start */
int32_t smem_bm_tp_setup(smem_bm_obj_t *o, const char *hcom_url, const char *store_url,
                         const smem_tls_config *tls, uint32_t timeout_ms);
int32_t smem_bm_tp_open(smem_bm_obj_t *o);
void smem_bm_tp_close(smem_bm_obj_t *o);
void smem_bm_tp_teardown(smem_bm_obj_t *o); /* close + free the settings; NULL-safe */
int32_t smem_bm_tp_route(void *arg, gva_window_t *w, uint32_t rank, bool connect, xfer_route_t *out);

/* The live object behind handle h with a reference taken, or NULL (error set). */
smem_bm_obj_t *smem_bm_obj_get(const void *h, const char *what);
/* The BM object's host rank went to another member while this process was
 * cut off from the store (copies fail with SMEM_RECONNECT); the owner must
 * take a new rank (destroy, smem_bm_uninit, smem_bm_init). For upper layers (memcache's LocalService). */
bool smem_bm_rank_lost(smem_bm_t h);
void smem_bm_obj_put(smem_bm_obj_t *o);

/* ---------- Trans (smem_trans.c: instances, registration, peers; smem_trans_io.c: transfers, streams) ---------- */

#define SMEM_TRANS_GROUP "smem_trans"       /* store group: a rank (liveness) per instance */
#define SMEM_TRANS_PREFIX "smem/trans/"     /* inst/<id> and reg/<id>/<addr> records */
#define SMEM_TRANS_MSG_MAX 512u

typedef struct smem_trans_obj smem_trans_obj_t;
typedef struct smem_trans_peer smem_trans_peer_t;

/* smem_trans_peer.c: the peers' view, kept by a roster (store_roster) on SMEM_TRANS_PREFIX and the liveness
 * prefix of SMEM_TRANS_GROUP; its callbacks take peer_lock only. */
bool smem_trans_id_ok(const char *id); /* 1..63 bytes, no '/' */
/* Watch the records and the liveness keys (o->roster); later, after our own record is out, list them. */
int32_t smem_trans_peers_open(smem_trans_obj_t *o);
int32_t smem_trans_peers_list(smem_trans_obj_t *o);
void smem_trans_peers_free(smem_trans_peer_t *peers); /* endpoints closed; no reference may be held */

/* The live instance behind handle h with a reference taken, or NULL (error set). */
smem_trans_obj_t *smem_trans_obj_get(const void *h, const char *what);
void smem_trans_obj_put(smem_trans_obj_t *o);
/* Whether this instance may initiate transfers (role SENDER or BOTH); error set when not. */
int32_t smem_trans_may_initiate(const smem_trans_obj_t *o, const char *what);
/*
 * An endpoint to the instance named id that may carry these pieces (offsets
 * = the peer's virtual addresses): the peer must be known (one store lookup
 * when it is not yet) and every piece inside a range it registered (one
 * refresh from the store when not). Returns a referenced link of o->cache
 * (give it back with tp_cache_put).
 */
int32_t smem_trans_peer_get(smem_trans_obj_t *o, const char *id, const tp_piece_t *pieces, uint32_t n,
                            tp_link_t **link);

#include <stdbool.h>

#include "smem/host/smem_bm_def.h"
#include "store/store.h"

/* A config-store connection of one API (BM, SHM, Trans) with its TLS context. */
typedef struct smem_store_conn {
    store_client_t *client;
    net_tls_t *tls; /* owned; outlives client */
    bool owner;     /* this call started the embedded store on the URL */
} smem_store_conn_t;

/* Whether url names this host: loopback, a unix socket, or an address of one of our interfaces. */
bool smem_url_is_local(const char *url);

/*
 * Connect to the store at url (retrying for connect_ms; calls then time out
 * after call_ms). With start_server and a URL of this host, first race to
 * start an embedded store there (out->owner tells the winner; a loser just
 * connects). TLS: the process-wide settings (smem_set_conf_store_tls).
 * On failure a store this call started is stopped again.
 */
int32_t smem_store_conn_open(const char *url, bool start_server, uint32_t connect_ms, uint32_t call_ms,
                             smem_store_conn_t *out);
/* Closes the client (and stops the embedded store when we own it). */
void smem_store_conn_close(smem_store_conn_t *c, const char *url);

/*
 * The store's owner stays until the other members of `group` have gone
 * (their liveness keys deleted) or timeout_ms: it serves them. Event-driven
 * (a watch on the liveness prefix), no polling.
 */
void smem_store_owner_wait(store_client_t *c, const char *group, uint32_t me, uint32_t timeout_ms);

/* Seconds from a config (0 = the default 120 s) to milliseconds, capped. */
uint32_t smem_timeout_ms(uint32_t seconds);

/* ---------- Trans objects (after smem_store_conn_t, which they embed) ---------- */

#define SMEM_TRANS_REC_VERSION 1u
#define SMEM_TRANS_INST_FIXED 10u
#define SMEM_TRANS_REG_SIZE 24u
#define SMEM_TRANS_KEY_MAX 160u

_Static_assert(SMEM_TRANS_INST_FIXED == 2 + 2 + 4 + 2, "instance record layout");
_Static_assert(SMEM_TRANS_REG_SIZE == 2 + 2 + 4 + 8 + 8, "region record layout");

/*
 * Store records of Trans (smem_trans_rec.c), little-endian:
 *   trans/inst/<id>        u16 version, u16 role, u32 rank (in SMEM_TRANS_GROUP), u16 len, len bytes of tp address
 *   trans/reg/<id>/<addr>  u16 version, u16 0, u32 0, u64 addr, u64 size (> 0, no wrap)
 * Decoders are strict (SMEM_PROTOCOL with a message) and fuzzed (fuzz_trans_rec).
 */
typedef struct smem_trans_inst_rec {
    uint16_t role;
    uint32_t rank;
    char addr[TP_ADDR_MAX + 1];
} smem_trans_inst_rec_t;
/* Returns the length written, 0 when cap is too small. */
uint32_t smem_trans_inst_encode(const smem_trans_inst_rec_t *r, uint8_t *buf, uint32_t cap);
int32_t smem_trans_inst_decode(const uint8_t *v, uint32_t len, smem_trans_inst_rec_t *out);
void smem_trans_reg_encode(uint64_t addr, uint64_t size, uint8_t out[SMEM_TRANS_REG_SIZE]);
int32_t smem_trans_reg_decode(const uint8_t *v, uint32_t len, uint64_t *addr, uint64_t *size);

/* A range registered here; pinned by the data server while a peer's request touches it. */
typedef struct smem_trans_region {
    uint64_t addr, size;
    uint32_t pins;
    bool dead;     /* deregistered: no new pins; freed when pins reach 0 */
    bool malloced; /* from smem_trans_malloc: munmap on free */
} smem_trans_region_t;

typedef struct smem_trans_rregion {
    uint64_t addr, size;
    bool gone; /* deleted, or not yet known */
} smem_trans_rregion_t;

struct smem_trans_peer {
    smem_trans_peer_t *next;
    char id[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    char addr[TP_ADDR_MAX + 1];
    uint32_t rank;
    uint16_t role;
    bool present; /* a record and a live rank */
    smem_trans_rregion_t *regs;
    uint32_t nregs, capregs;
};

struct smem_trans_obj {
    uint32_t refs; /* atomic: the table's + calls in flight */
    char id[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    char url[256];
    smem_trans_config_t cfg;
    smem_store_conn_t conn;
    uint32_t rank;
    tp_iface_t *iface;
    tp_cache_t *cache; /* endpoints to peers, by their rank in SMEM_TRANS_GROUP */
    char tp_addr[TP_ADDR_MAX + 1];

    pthread_mutex_t reg_lock;
    pthread_cond_t reg_cv; /* pins dropped */
    smem_trans_region_t **regs; /* sorted by addr, no overlaps (dead ones removed from the array) */
    uint32_t nregs, capregs;

    pthread_mutex_t peer_lock;
    smem_trans_peer_t *peers;
    struct store_roster *roster; /* records and liveness keys of every instance (NULL: not yet watching) */
    uint64_t listen_id; /* store_group_listen on SMEM_TRANS_GROUP (0: none) */
};

#endif /* SMEM_INT_H */
