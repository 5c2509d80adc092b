/* Internal state of Trans (smem_trans.c: instances, registration; smem_trans_peer.c: the peers' view;
 * smem_trans_io.c: transfers, streams; smem_trans_rec.c: store records). */
#ifndef SMEM_TRANS_INT_H
#define SMEM_TRANS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "smem/host/smem_trans_def.h"
#include "smem/smem_int.h"
#include "store/store.h"
#include "transport/tp.h"
#include "transport/tp_cache.h"

#define SMEM_TRANS_GROUP "smem_trans"       /* store group: a rank (liveness) per instance */
#define SMEM_TRANS_PREFIX "smem/trans/"     /* inst/<id> and reg/<id>/<addr> records */
#define SMEM_TRANS_MSG_MAX 512u
/* The cluster secret of every Trans instance on one store (32 random bytes, written once by the first
 * instance; survivors write it back after a store restart): the data channel's credential. Under
 * SMEM_TRANS_PREFIX, so the store keeps it its creator's (STORE_OWN_CLAIM); the peers' view ignores it. */
#define SMEM_TRANS_SECRET_KEY SMEM_TRANS_PREFIX "secret"
#define SMEM_TRANS_SECRET_SIZE 32u

typedef struct sm_trans_obj sm_trans_obj_t;
typedef struct sm_trans_peer sm_trans_peer_t;

/* smem_trans_peer.c: the peers' view, kept by a roster (store_roster) on SMEM_TRANS_PREFIX and the liveness
 * prefix of SMEM_TRANS_GROUP; its callbacks take peer_lock only. */
bool sm_trans_id_ok(const char *id); /* 1..63 bytes, no '/' */
/* Watch the records and the liveness keys (o->roster); later, after our own record is out, list them. */
int32_t sm_trans_peers_open(sm_trans_obj_t *o);
int32_t sm_trans_peers_list(sm_trans_obj_t *o);
void sm_trans_peers_free(sm_trans_peer_t *peers); /* endpoints closed; no reference may be held */

/* The live instance behind handle h with a reference taken, or NULL (error set). */
sm_trans_obj_t *sm_trans_obj_get(const void *h, const char *what);
void sm_trans_obj_put(sm_trans_obj_t *o);
/* Whether this instance may initiate transfers (role SENDER or BOTH); error set when not. */
int32_t sm_trans_may_initiate(const sm_trans_obj_t *o, const char *what);
/*
 * An endpoint to the instance named id that may carry these pieces (offsets
 * = the peer's virtual addresses): the peer must be known (one store lookup
 * when it is not yet) and every piece inside a range it registered (one
 * refresh from the store when not). Returns a referenced link of o->cache
 * (give it back with tp_cache_put).
 */
int32_t sm_trans_peer_get(sm_trans_obj_t *o, const char *id, const tp_piece_t *pieces, uint32_t n,
                            tp_link_t **link);

/* ---------- records and objects ---------- */

/* 2: role carries the seed's smem_trans_role_t values (SENDER 1, RECEIVER 2, BOTH 3; 0 is NONE) */
#define SMEM_TRANS_REC_VERSION 2u
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
typedef struct sm_trans_inst_rec {
    uint16_t role;
    uint32_t rank;
    char addr[TP_ADDR_MAX + 1];
} sm_trans_inst_rec_t;
/* Returns the length written, 0 when cap is too small. */
uint32_t sm_trans_inst_encode(const sm_trans_inst_rec_t *r, uint8_t *buf, uint32_t cap);
int32_t sm_trans_inst_decode(const uint8_t *v, uint32_t len, sm_trans_inst_rec_t *out);
void sm_trans_reg_encode(uint64_t addr, uint64_t size, uint8_t out[SMEM_TRANS_REG_SIZE]);
int32_t sm_trans_reg_decode(const uint8_t *v, uint32_t len, uint64_t *addr, uint64_t *size);

/* A range registered here; pinned by the data server while a peer's request touches it. */
typedef struct sm_trans_region {
    uint64_t addr, size;
    uint32_t pins;
    bool dead;     /* deregistered: no new pins; freed when pins reach 0 */
    bool malloced; /* from smem_trans_malloc: munmap on free */
} sm_trans_region_t;

typedef struct sm_trans_rregion {
    uint64_t addr, size;
    bool gone; /* deleted, or not yet known */
} sm_trans_rregion_t;

struct sm_trans_peer {
    sm_trans_peer_t *next;
    char id[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    char addr[TP_ADDR_MAX + 1];
    uint32_t rank;
    uint16_t role;
    bool present; /* a record and a live rank */
    sm_trans_rregion_t *regs;
    uint32_t nregs, capregs;
};

struct sm_trans_obj {
    uint32_t refs; /* atomic: the table's + calls in flight */
    char id[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    char url[256];
    smem_trans_config_t cfg;
    sm_store_conn_t conn;
    uint32_t rank;
    tp_iface_t *iface;
    tp_cache_t *cache; /* endpoints to peers, by their rank in SMEM_TRANS_GROUP */
    char tp_addr[TP_ADDR_MAX + 1];
    uint8_t secret[SMEM_TRANS_SECRET_SIZE]; /* SMEM_TRANS_SECRET_KEY's value */

    pthread_mutex_t reg_lock;
    pthread_cond_t reg_cv; /* pins dropped */
    sm_trans_region_t **regs; /* sorted by addr, no overlaps (dead ones removed from the array) */
    uint32_t nregs, capregs;

    pthread_mutex_t peer_lock;
    sm_trans_peer_t *peers;
    smem_trans_peer_down_callback_t down_cb; /* under peer_lock; called without it */
    void *down_arg;
    struct store_roster *roster; /* records and liveness keys of every instance (NULL: not yet watching) */
    uint64_t listen_id; /* store_group_listen on SMEM_TRANS_GROUP (0: none) */
};

#endif /* SMEM_TRANS_INT_H */
