/*
 * BM (and Trans) processes for integration drivers: bring the calling process's
 * rank up (init, create, join, each a check), then copy and check through
 * that one instance - the slot of a rank, single and 122-piece batch copies,
 * waiting until a peer is visible - and synchronise over a second store
 * connection. One BM instance per process (as smem_bm_init allows), so the
 * helpers act on the instance tu_bm_up made.
 */
#ifndef TU_BM_H
#define TU_BM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smem/host/smem_bm.h"
#include "smem/host/smem_trans.h"
#include "store/store.h"
#include "tu_data.h"

/* smem_bm_config_init, then initTimeout = createTimeout = init_s and controlOperationTimeout = ctrl_s. */
void tu_bm_config(smem_bm_config_t *c, uint32_t init_s, uint32_t ctrl_s);

typedef struct tu_bm_rank {
    const char *url;             /* the config store */
    uint32_t world;              /* smem_bm_init's world size; also the member size of smem_bm_create */
    const smem_bm_config_t *cfg; /* from tu_bm_config, adjusted by the driver */
    int want_rank;               /* >= 0: the rank it must get; < 0: any rank below world */
    uint32_t id;                 /* the BM id */
    uint64_t local;              /* bytes this rank contributes */
    uint64_t stride;             /* 0: smem_bm_create(id, world, SDMA, local); else smem_bm_create2 with
                                  * maxDramSize = stride and SDMA | HOST_TCP copies */
} tu_bm_rank_t;

/* smem_bm_init, smem_bm_get_rank_id, create, join - each a TU_CHECK naming `who`
 * (e.g. "child 3"). The handle (also kept for the helpers below), NULL on
 * failure (counted); *rank gets the rank when not NULL. */
smem_bm_t tu_bm_up(const tu_bm_rank_t *r, const char *who, uint32_t *rank);
smem_bm_t tu_bm_handle(void);

/* Rank r's host slot in the instance. */
uint8_t *tu_slot(uint32_t r);
/* One smem_bm_copy. */
int32_t tu_copy(const void *src, void *dst, size_t n, smem_bm_copy_type t, uint32_t flags);
/* One smem_bm_copy_batch of the TU_KV_PIECES pieces' lengths. */
int32_t tu_batch(const tu_piece_t pieces[TU_KV_PIECES], void **src, void **dst, smem_bm_copy_type t, uint32_t flags);
/* Polls an 8-byte G2H copy from rank r's slot for up to 20 s (a peer that
 * joined after our snapshot is imported in the background); false with a
 * message on stderr. */
bool tu_wait_visible(uint32_t r);
/* tu_check naming this process's rank ("rank N") in the mismatch message. */
bool tu_rcheck(const void *buf, uint32_t tag, uint64_t off0, uint64_t len);

/* The mailbox exchange of the BM drivers. Each rank's slot has, at `off`, an
 * area of `area` bytes per writer rank w, made of 4 parts of `part` bytes:
 * parts 0-2 written by w with H2G, H2GH and AUTO (pattern tag 100 + w*16 +
 * owner, at offset k*part), part 3 by G2G from w's own slot at owner*part
 * (so w's slot holds its rank pattern there, tag w). */
typedef struct tu_mailbox {
    uint64_t off, area, part;
    uint32_t nranks;
} tu_mailbox_t;
/* Writes our area in every other rank's mailbox (buf: part bytes of scratch). */
void tu_mail_write(const tu_mailbox_t *m, uint8_t *buf);
/* Checks every writer's area in our mailbox. */
void tu_mail_check(const tu_mailbox_t *m);

/* Async G2H of 1 MiB from every other rank p (at p * 64 KiB of its slot, its
 * rank pattern) into buf + p MiB, one smem_bm_wait, the bytes checked. */
void tu_async_from_all(uint8_t *buf, uint32_t nranks);

/* smem_trans_init + smem_trans_create(url, id) as `role` with initTimeout
 * init_s, each a TU_CHECK. The handle or NULL. */
smem_trans_t tu_trans_up(const char *url, const char *id, smem_trans_role_t role, uint32_t init_s);

/* A second store connection for barriers (NULL on failure, with a message). */
store_client_t *tu_store_connect(const char *url);
/* store_barrier of n members as `me`, a TU_CHECK ("rank me: barrier NAME"). */
bool tu_barrier(store_client_t *c, const char *name, uint32_t n, uint32_t me, int timeout_ms);

#endif
