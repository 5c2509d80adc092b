/*
 * Store server: groups (ranks and liveness keys), server-side barrier and
 * all-gather, id pools and global exit. On the server loop thread.
 *
 * Collectives are keyed by the client's "<name>#<seq>". An instance holds one
 * slot per rank (allocated once, so an arrival and the completion check are
 * O(1)); it is freed when it completes, when its last waiting member timed
 * out, or — after a member died — when every rank has shown up or the longest
 * timeout seen has passed (the "tombstone" answers stragglers with
 * SMEM_PEER_GONE instead of letting them wait out their timeout). So no
 * barrier or all-gather state outlives its use.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_core_int.h"
#include "util/util_buf.h"
#include "util/util_log.h"
#include "util/util_status.h"

struct store_slot {
    util_link_t peer_node; /* in peer->slots while arrived */
    store_coll_t *coll;
    store_peer_t *peer;     /* NULL: not (or no longer) waiting */
    store_rq_t rq;
    uint64_t deadline_ms;
    uint8_t *data;          /* all-gather contribution */
    bool seen;              /* this rank arrived at some point */
};

struct store_coll {
    util_link_t node; /* core->coll_all */
    store_map_ent_t *ent;
    uint16_t type;
    bool len_set;
    uint32_t count;
    uint32_t arrived; /* slots with a waiting member */
    uint32_t seen;    /* ranks that arrived at some point */
    uint32_t len;     /* all-gather contribution length */
    int32_t failed;   /* non-zero: tombstone, stragglers get this status */
    uint64_t expire_ms;
    uint64_t max_timeout_ms;
    uint64_t next_deadline_ms;
    store_slot_t slots[];
};

typedef struct store_group store_group_t;

typedef struct store_member {
    util_link_t peer_node;
    store_group_t *grp;
    store_peer_t *peer;
    uint32_t rank;
    uint64_t token;
} store_member_t;

/* A rank whose holder timed out: kept for its token until until_ms. */
typedef struct store_resv {
    uint64_t token;
    uint64_t until_ms; /* 0: none */
} store_resv_t;

struct store_group {
    store_map_ent_t *ent;
    uint32_t world_size;
    uint32_t n;
    store_resv_t *resv;      /* world_size entries, after ranks[] */
    store_member_t *ranks[];
};

typedef struct store_pool {
    uint64_t bits[STORE_ID_LIMIT_MAX / 64];
    uint32_t used;
} store_pool_t;

typedef struct store_exitgrp {
    store_map_ent_t *ent;
    util_link_t regs;
    bool exited;    /* a broadcast happened: remembered so later watchers hear it too */
    int32_t status; /* of the latest broadcast */
} store_exitgrp_t;

typedef struct store_exitreg {
    util_link_t peer_node;
    util_link_t grp_node;
    store_peer_t *peer;
    store_exitgrp_t *g;
} store_exitreg_t;

#define KEYFMT(m) (int)((m)->key_len > 200 ? 200 : (m)->key_len), (m)->key

int32_t store_coll_init(store_core_t *c)
{
    if (store_map_init(&c->colls) != 0 || store_map_init(&c->groups) != 0 || store_map_init(&c->pools) != 0 ||
        store_map_init(&c->exits) != 0)
        return SMEM_MALLOC_FAILED;
    return SMEM_OK;
}

/* ---------- collectives ---------- */

static void slot_clear(store_coll_t *co, store_slot_t *s)
{
    util_list_del(&s->peer_node);
    free(s->data);
    s->data = NULL;
    s->peer = NULL;
    co->arrived--;
}

static void coll_free(store_core_t *c, store_coll_t *co)
{
    for (uint32_t r = 0; r < co->count && co->arrived > 0; r++)
        if (co->slots[r].peer != NULL) slot_clear(co, &co->slots[r]);
    util_list_del(&co->node);
    store_map_remove(&c->colls, co->ent->key, co->ent->klen);
    free(co);
}

static void coll_complete(store_core_t *c, store_coll_t *co)
{
    /* One answer shared by every member's connection: count x len bytes once,
     * not once per member. */
    net_shbuf_t *sh = NULL;
    uint8_t *b = NULL;
    uint32_t blen = 0;
    int32_t st = SMEM_OK;

    if (co->type == STORE_MSG_ALLGATHER) {
        uint64_t total = (uint64_t)co->count * co->len;
        sh = net_shbuf_alloc(STORE_BLOB_HDR + total);
        if (sh == NULL) {
            st = SMEM_MALLOC_FAILED;
        } else {
            b = net_shbuf_data(sh);
            util_put_le32(b, (uint32_t)total);
            for (uint32_t r = 0; r < co->count; r++)
                if (co->len) memcpy(b + STORE_BLOB_HDR + (size_t)r * co->len, co->slots[r].data, co->len);
            blen = (uint32_t)(STORE_BLOB_HDR + total);
        }
    }
    for (uint32_t r = 0; r < co->count; r++) {
        store_slot_t *s = &co->slots[r];
        if (st != 0)
            store_core_reply_err(c, s->peer, &s->rq, st, "out of memory for the %u x %u byte all-gather '%s'",
                                 co->count, co->len, co->ent->key);
        else if (sh != NULL)
            store_core_reply_shared(c, s->peer, &s->rq, sh, blen);
        else
            store_core_reply(c, s->peer, &s->rq, SMEM_OK, NULL, 0);
    }
    net_shbuf_put(sh);
    coll_free(c, co);
}

/* A member that had arrived is gone: nobody waiting can complete. */
static void coll_fail(store_core_t *c, store_coll_t *co, store_slot_t *dead, int32_t reason)
{
    uint32_t dead_rank = (uint32_t)(dead - co->slots);
    const char *dead_name = dead->peer->name;
    for (uint32_t r = 0; r < co->count; r++) {
        store_slot_t *s = &co->slots[r];
        if (s->peer == NULL || s == dead) continue;
        store_core_reply_err(c, s->peer, &s->rq, SMEM_PEER_GONE,
                             "rank %u (%s) of '%s' disconnected (%s) before it completed", dead_rank, dead_name,
                             co->ent->key, util_strerror(reason));
        slot_clear(co, s);
    }
    slot_clear(co, dead);
    co->failed = SMEM_PEER_GONE;
    co->expire_ms = c->now_ms + co->max_timeout_ms;
    if (co->seen == co->count) coll_free(c, co);
}

void store_coll_arrive(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_coll_t *co = store_map_get(&c->colls, m->key, m->key_len);
    const char *what = m->type == STORE_MSG_BARRIER ? "barrier" : "all-gather";

    if (co == NULL) {
        co = calloc(1, sizeof(*co) + (size_t)m->count * sizeof(store_slot_t));
        if (co == NULL || store_map_insert(&c->colls, m->key, m->key_len, co, &co->ent) != 0) {
            free(co);
            store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for %s '%.*s' of %u", what, KEYFMT(m),
                                 m->count);
            return;
        }
        co->type = m->type;
        co->count = m->count;
        co->next_deadline_ms = UINT64_MAX;
        for (uint32_t r = 0; r < co->count; r++) {
            co->slots[r].coll = co;
            util_list_init(&co->slots[r].peer_node);
        }
        util_list_add_tail(&c->coll_all, &co->node);
    }
    if (co->type != m->type || co->count != m->count) {
        store_core_reply_err(c, p, rq, SMEM_INVALID_PARAM, "%s '%.*s' with count %u: others use it as a %s of %u",
                             what, KEYFMT(m), m->count, co->type == STORE_MSG_BARRIER ? "barrier" : "all-gather",
                             co->count);
        return;
    }
    store_slot_t *s = &co->slots[m->rank];
    if (co->failed != 0) {
        store_core_reply_err(c, p, rq, co->failed, "%s '%.*s' failed: a member disconnected before it completed",
                             what, KEYFMT(m));
        if (!s->seen) {
            s->seen = true;
            if (++co->seen == co->count) coll_free(c, co);
        }
        return;
    }
    if (s->peer != NULL) {
        store_core_reply_err(c, p, rq, SMEM_DUPLICATED_OBJECT, "rank %u already arrived at %s '%.*s' (from %s)",
                             m->rank, what, KEYFMT(m), s->peer->name);
        return;
    }
    if (m->type == STORE_MSG_ALLGATHER) {
        if (co->len_set && co->len != m->val_len) {
            store_core_reply_err(c, p, rq, SMEM_INVALID_PARAM,
                                 "rank %u brings %u bytes to all-gather '%.*s', the others %u", m->rank, m->val_len,
                                 KEYFMT(m), co->len);
            return;
        }
        if (m->val_len) {
            s->data = malloc(m->val_len);
            if (s->data == NULL) {
                store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for %u bytes", m->val_len);
                return;
            }
            memcpy(s->data, m->val, m->val_len);
        }
        co->len = m->val_len;
        co->len_set = true;
    }
    s->peer = p;
    s->rq = *rq;
    s->deadline_ms = c->now_ms + m->timeout_ms;
    if (s->deadline_ms < co->next_deadline_ms) co->next_deadline_ms = s->deadline_ms;
    if (m->timeout_ms > co->max_timeout_ms) co->max_timeout_ms = m->timeout_ms;
    util_list_add_tail(&p->slots, &s->peer_node);
    co->arrived++;
    if (!s->seen) {
        s->seen = true;
        co->seen++;
    }
    if (co->arrived == co->count) coll_complete(c, co);
}

static void coll_tick(store_core_t *c)
{
    for (util_link_t *n = c->coll_all.next; n != &c->coll_all;) {
        store_coll_t *co = UTIL_CONTAINER_OF(n, store_coll_t, node);
        n = n->next;
        if (co->failed != 0) {
            if (c->now_ms >= co->expire_ms) coll_free(c, co);
            continue;
        }
        if (c->now_ms < co->next_deadline_ms) continue;
        co->next_deadline_ms = UINT64_MAX;
        for (uint32_t r = 0; r < co->count; r++) {
            store_slot_t *s = &co->slots[r];
            if (s->peer == NULL) continue;
            if (s->deadline_ms <= c->now_ms) {
                store_core_reply_err(c, s->peer, &s->rq, SMEM_TIMEOUT,
                                     "%s '%s': %u of %u ranks arrived before rank %u timed out",
                                     co->type == STORE_MSG_BARRIER ? "barrier" : "all-gather", co->ent->key,
                                     co->arrived, co->count, r);
                slot_clear(co, s);
            } else if (s->deadline_ms < co->next_deadline_ms) {
                co->next_deadline_ms = s->deadline_ms;
            }
        }
        if (co->arrived == 0) coll_free(c, co);
    }
}

/* ---------- groups ---------- */

static int live_key(char *buf, size_t cap, const store_group_t *g, uint32_t rank)
{
    return snprintf(buf, cap, "%s" STORE_LIVE_INFIX "%u", g->ent->key, rank);
}

static bool group_reserved(const store_core_t *c, const store_group_t *g)
{
    for (uint32_t r = 0; r < g->world_size; r++)
        if (g->resv[r].until_ms > c->now_ms) return true;
    return false;
}

static void group_free_if_unused(store_core_t *c, store_group_t *g)
{
    if (g->n != 0 || group_reserved(c, g)) return;
    store_map_remove(&c->groups, g->ent->key, g->ent->klen);
    free(g);
}

/* reserve: keep the rank for the member's token for c->reserve_ms (its connection timed out). */
static void member_drop(store_core_t *c, store_member_t *mb, const char *why, bool reserve)
{
    store_group_t *g = mb->grp;
    char key[STORE_KEY_MAX + 1];
    int n = live_key(key, sizeof(key), g, mb->rank);
    store_kv_t *kv = store_map_get(&c->kv, key, (uint32_t)n);
    if (kv != NULL && kv->owner == mb->peer) store_core_kv_del(c, key, (uint32_t)n);
    if (c->quiet)
        LOG_DEBUG("store: group %s rank %u (%s) %s", g->ent->key, mb->rank, mb->peer->name, why);
    else
        LOG_INFO("store: group %s rank %u (%s) %s; %u of %u ranks left", g->ent->key, mb->rank, mb->peer->name,
                 why, g->n - 1, g->world_size);
    g->ranks[mb->rank] = NULL;
    g->n--;
    if (reserve && c->reserve_ms != 0 && mb->token != 0) {
        g->resv[mb->rank].token = mb->token;
        g->resv[mb->rank].until_ms = c->now_ms + c->reserve_ms;
        LOG_INFO("store: group %s rank %u reserved for %u ms for its holder to reclaim", g->ent->key, mb->rank,
                 c->reserve_ms);
    }
    util_list_del(&mb->peer_node);
    free(mb);
    group_free_if_unused(c, g);
}

static bool resv_held(const store_core_t *c, const store_group_t *g, uint32_t rank, uint64_t token)
{
    const store_resv_t *v = &g->resv[rank];
    return v->until_ms > c->now_ms && v->token != token;
}

/* Lowest free rank not reserved for someone else; failing that, the free
 * rank whose reservation ends first (reservations yield to a full group). */
static uint32_t rank_pick(const store_core_t *c, const store_group_t *g, uint64_t token)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t r = 0; r < g->world_size; r++) {
        if (g->ranks[r] != NULL) continue;
        if (!resv_held(c, g, r, token)) return r;
        if (best == UINT32_MAX || g->resv[r].until_ms < g->resv[best].until_ms) best = r;
    }
    return best;
}

/* Holds a join until the recovery window ends. */
static void pjoin_hold(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_pjoin_t *pj = calloc(1, sizeof(*pj) + m->key_len + 1);
    if (pj == NULL) {
        store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory holding a join of '%.*s'", KEYFMT(m));
        return;
    }
    memcpy(pj->name, m->key, m->key_len);
    pj->peer = p;
    pj->rq = *rq;
    pj->m = *m;
    pj->m.key = pj->name;
    util_list_add_tail(&c->pjoins, &pj->node);
    util_list_add_tail(&p->pjoins, &pj->peer_node);
    LOG_INFO("store: join of group '%s' from %s waits %llu ms for the recovery window (members that survived a "
             "restart re-register first)",
             pj->name, p->name, (unsigned long long)(c->recover_until_ms - c->now_ms));
}

static void pjoin_free(store_pjoin_t *pj)
{
    util_list_del(&pj->node);
    util_list_del(&pj->peer_node);
    free(pj);
}

void store_coll_release_pjoins(store_core_t *c, int32_t status)
{
    while (!util_list_empty(&c->pjoins)) {
        store_pjoin_t *pj = UTIL_CONTAINER_OF(c->pjoins.next, store_pjoin_t, node);
        util_list_del(&pj->node);
        util_list_init(&pj->node);
        if (status == SMEM_OK)
            store_coll_group_join(c, pj->peer, &pj->rq, &pj->m);
        else
            store_core_reply_err(c, pj->peer, &pj->rq, status, "the store is shutting down");
        pjoin_free(pj);
    }
}

static store_member_t *member_find(store_peer_t *p, const store_group_t *g)
{
    for (util_link_t *n = p->members.next; n != &p->members; n = n->next) {
        store_member_t *mb = UTIL_CONTAINER_OF(n, store_member_t, peer_node);
        if (mb->grp == g) return mb;
    }
    return NULL;
}

void store_coll_group_join(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_group_t *g = store_map_get(&c->groups, m->key, m->key_len);
    uint32_t rank = m->rank;
    bool reclaim = (m->flags & STORE_JOIN_F_RECLAIM) != 0;

    if (!reclaim && c->recover_until_ms > c->now_ms) {
        pjoin_hold(c, p, rq, m);
        return;
    }
    if (g == NULL) {
        g = calloc(1, sizeof(*g) + (size_t)m->world_size * (sizeof(store_member_t *) + sizeof(store_resv_t)));
        if (g == NULL || store_map_insert(&c->groups, m->key, m->key_len, g, &g->ent) != 0) {
            free(g);
            store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for group '%.*s'", KEYFMT(m));
            return;
        }
        g->world_size = m->world_size;
        g->resv = (store_resv_t *)(void *)&g->ranks[m->world_size];
    } else if (g->world_size != m->world_size) {
        store_core_reply_err(c, p, rq, SMEM_INVALID_PARAM, "group '%s' has world size %u, the join asked for %u",
                             g->ent->key, g->world_size, m->world_size);
        return;
    } else if (member_find(p, g) != NULL) {
        store_core_reply_err(c, p, rq, SMEM_REPEAT_CALL, "this connection already holds rank %u of group '%s'",
                             member_find(p, g)->rank, g->ent->key);
        return;
    }
    if (rank == UINT32_MAX) {
        rank = rank_pick(c, g, m->token);
        if (rank == UINT32_MAX) {
            store_core_reply_err(c, p, rq, SMEM_FULL, "all %u ranks of group '%s' are taken", g->world_size,
                                 g->ent->key);
            group_free_if_unused(c, g);
            return;
        }
    } else if (g->ranks[rank] != NULL) {
        store_core_reply_err(c, p, rq, SMEM_DUPLICATED_OBJECT, "rank %u of group '%s' is held by %s", rank,
                             g->ent->key, g->ranks[rank]->peer->name);
        return;
    } else if (reclaim && resv_held(c, g, rank, m->token)) {
        /* Only a reclaim yields to a reservation: a join naming its rank is an
         * operator's choice (a restarted process taking its old rank back). */
        store_core_reply_err(c, p, rq, SMEM_DUPLICATED_OBJECT, "rank %u of group '%s' is reserved for its previous "
                             "holder", rank, g->ent->key);
        return;
    }
    g->resv[rank].until_ms = 0;
    store_member_t *mb = calloc(1, sizeof(*mb));
    if (mb == NULL) goto fail_nomem;
    mb->grp = g;
    mb->peer = p;
    mb->rank = rank;
    mb->token = m->token;
    g->ranks[rank] = mb;
    g->n++;
    util_list_add_tail(&p->members, &mb->peer_node);
    LOG_INFO("store: group %s rank %u of %u %s from %s (%u ranks held)", g->ent->key, rank, g->world_size,
             reclaim ? "reclaimed" : "joined", p->name, g->n);

    char key[STORE_KEY_MAX + 1];
    int n = live_key(key, sizeof(key), g, rank);
    int32_t rc = store_core_kv_put(c, key, (uint32_t)n, p->name, (uint32_t)strlen(p->name), p);
    if (rc != 0) {
        member_drop(c, mb, "dropped: no memory for its liveness key", false);
        store_core_reply_err(c, p, rq, rc, "cannot store the liveness key %s", key);
        return;
    }
    uint8_t out[4];
    util_put_le32(out, rank);
    store_core_reply(c, p, rq, SMEM_OK, out, sizeof(out));
    return;

fail_nomem:
    group_free_if_unused(c, g);
    store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory joining group '%.*s'", KEYFMT(m));
}

uint32_t store_coll_peer_rank(store_core_t *c, const char *group, uint32_t glen, const store_peer_t *p,
                              uint64_t *token)
{
    store_group_t *g = store_map_get(&c->groups, group, glen);
    store_member_t *mb = g != NULL ? member_find((store_peer_t *)p, g) : NULL;
    if (mb == NULL) return UINT32_MAX;
    *token = mb->token;
    return mb->rank;
}

uint64_t store_coll_holder_token(store_core_t *c, const char *group, uint32_t glen, uint32_t rank)
{
    store_group_t *g = store_map_get(&c->groups, group, glen);
    if (g == NULL || rank >= g->world_size || g->ranks[rank] == NULL) return 0;
    return g->ranks[rank]->token;
}

void store_coll_group_leave(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_group_t *g = store_map_get(&c->groups, m->key, m->key_len);
    store_member_t *mb = g ? member_find(p, g) : NULL;
    if (mb == NULL) {
        store_core_reply_err(c, p, rq, SMEM_OBJECT_NOT_EXISTS, "this connection holds no rank in group '%.*s'",
                             KEYFMT(m));
        return;
    }
    member_drop(c, mb, "left", false);
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
}

/* ---------- id pools ---------- */

void store_coll_id_alloc(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_pool_t *pool = store_map_get(&c->pools, m->key, m->key_len);
    if (pool == NULL) {
        pool = calloc(1, sizeof(*pool));
        if (pool == NULL || store_map_insert(&c->pools, m->key, m->key_len, pool, NULL) != 0) {
            free(pool);
            store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for id pool '%.*s'", KEYFMT(m));
            return;
        }
    }
    for (uint32_t w = 0; w * 64 < m->limit; w++) {
        uint64_t freebits = ~pool->bits[w];
        if (freebits == 0) continue;
        uint32_t id = w * 64 + (uint32_t)__builtin_ctzll(freebits);
        if (id >= m->limit) break;
        pool->bits[w] |= 1ull << (id % 64);
        pool->used++;
        uint8_t out[4];
        util_put_le32(out, id);
        store_core_reply(c, p, rq, SMEM_OK, out, sizeof(out));
        return;
    }
    if (pool->used == 0) free(store_map_remove(&c->pools, m->key, m->key_len));
    store_core_reply_err(c, p, rq, SMEM_FULL, "all %u ids of pool '%.*s' are taken", m->limit, KEYFMT(m));
}

void store_coll_id_release(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_pool_t *pool = store_map_get(&c->pools, m->key, m->key_len);
    uint64_t bit = 1ull << (m->id % 64);
    if (pool == NULL || !(pool->bits[m->id / 64] & bit)) {
        store_core_reply_err(c, p, rq, SMEM_OBJECT_NOT_EXISTS, "id %u of pool '%.*s' is not allocated", m->id,
                             KEYFMT(m));
        return;
    }
    pool->bits[m->id / 64] &= ~bit;
    if (--pool->used == 0) free(store_map_remove(&c->pools, m->key, m->key_len));
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
}

/* ---------- global exit ---------- */

static void exitreg_free(store_core_t *c, store_exitreg_t *r)
{
    store_exitgrp_t *g = r->g;
    util_list_del(&r->peer_node);
    util_list_del(&r->grp_node);
    free(r);
    if (util_list_empty(&g->regs) && !g->exited) {
        store_map_remove(&c->exits, g->ent->key, g->ent->klen);
        free(g);
    }
}

static store_exitgrp_t *exitgrp_get(store_core_t *c, const store_msg_t *m)
{
    store_exitgrp_t *g = store_map_get(&c->exits, m->key, m->key_len);
    if (g != NULL) return g;
    g = calloc(1, sizeof(*g));
    if (g == NULL || store_map_insert(&c->exits, m->key, m->key_len, g, &g->ent) != 0) {
        free(g);
        return NULL;
    }
    util_list_init(&g->regs);
    return g;
}

/* Push the group's exit status to one peer. */
static int32_t exit_push(store_core_t *c, store_peer_t *p, const store_msg_t *m, int32_t status)
{
    util_wbuf_t wb;
    util_wbuf_init(&wb);
    store_msg_t ev = {.type = STORE_MSG_EXIT, .key = m->key, .key_len = m->key_len, .status = status};
    if (store_msg_encode(&ev, &wb) != 0) {
        util_wbuf_fini(&wb);
        return SMEM_MALLOC_FAILED;
    }
    store_core_push(c, p, STORE_MSG_EXIT, wb.p, (uint32_t)wb.len);
    util_wbuf_fini(&wb);
    return SMEM_OK;
}

void store_coll_exit_watch(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_exitgrp_t *g = exitgrp_get(c, m);
    if (g == NULL) goto fail_nomem;
    for (util_link_t *n = p->exits.next; n != &p->exits; n = n->next)
        if (UTIL_CONTAINER_OF(n, store_exitreg_t, peer_node)->g == g) {
            /* Several local callbacks share one registration. */
            store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
            return;
        }
    store_exitreg_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        if (util_list_empty(&g->regs) && !g->exited) {
            store_map_remove(&c->exits, g->ent->key, g->ent->klen);
            free(g);
        }
        goto fail_nomem;
    }
    r->peer = p;
    r->g = g;
    util_list_add_tail(&g->regs, &r->grp_node);
    util_list_add_tail(&p->exits, &r->peer_node);
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
    /* Registered after the broadcast: hear it now (after the reply, so the
     * client has its registration in place when the push arrives). */
    if (g->exited && exit_push(c, p, m, g->status) != SMEM_OK)
        LOG_WARN("store: out of memory telling %s of the exit of '%.*s'", p->name, KEYFMT(m));
    return;

fail_nomem:
    store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for an exit watch of '%.*s'", KEYFMT(m));
}

void store_coll_exit_broadcast(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_exitgrp_t *g = exitgrp_get(c, m);
    if (g == NULL) {
        store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for an exit broadcast");
        return;
    }
    g->exited = true;
    g->status = m->status;
    uint32_t sent = 0;
    for (util_link_t *n = g->regs.next; n != &g->regs; n = n->next) {
        if (exit_push(c, UTIL_CONTAINER_OF(n, store_exitreg_t, grp_node)->peer, m, m->status) != SMEM_OK) {
            store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for an exit broadcast");
            return;
        }
        sent++;
    }
    LOG_INFO("store: global exit of group %.*s with status %d from %s, told %u clients", KEYFMT(m), m->status,
             p->name, sent);
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
}

/* ---------- peer close, tick, stats, fini ---------- */

void store_coll_peer_gone(store_core_t *c, store_peer_t *p, int32_t reason)
{
    while (!util_list_empty(&p->slots)) {
        store_slot_t *s = UTIL_CONTAINER_OF(p->slots.next, store_slot_t, peer_node);
        coll_fail(c, s->coll, s, reason);
    }
    while (!util_list_empty(&p->pjoins)) pjoin_free(UTIL_CONTAINER_OF(p->pjoins.next, store_pjoin_t, peer_node));
    char why[96];
    snprintf(why, sizeof(why), "gone: connection closed (%s)", util_strerror(reason));
    /* A timeout may be a paused process that comes back: keep its rank for it.
     * A closed socket is a process that exited or closed its client. */
    while (!util_list_empty(&p->members))
        member_drop(c, UTIL_CONTAINER_OF(p->members.next, store_member_t, peer_node), why, reason == SMEM_TIMEOUT);
    while (!util_list_empty(&p->exits))
        exitreg_free(c, UTIL_CONTAINER_OF(p->exits.next, store_exitreg_t, peer_node));
}

/* Groups kept only for reservations go once those end. */
static void groups_reap(store_core_t *c)
{
    for (size_t i = 0; i < c->groups.nb; i++) {
        store_map_ent_t *e = c->groups.b[i];
        while (e != NULL) {
            store_map_ent_t *next = e->next;
            store_group_t *g = e->val;
            if (g->n == 0) group_free_if_unused(c, g);
            e = next;
        }
    }
}

void store_coll_tick(store_core_t *c)
{
    coll_tick(c);
    if (c->reserve_ms != 0 && c->now_ms >= c->next_reap_ms) {
        c->next_reap_ms = c->now_ms + 1000;
        groups_reap(c);
    }
}

void store_coll_stats(const store_core_t *c, store_server_stats_t *out)
{
    out->collectives = store_map_count(&c->colls);
    out->groups = store_map_count(&c->groups);
    out->id_pools = store_map_count(&c->pools);
    /* Groups whose exit is only remembered (no watcher left) are not counted. */
    out->exit_groups = 0;
    for (size_t i = 0; i < c->exits.nb; i++)
        for (const store_map_ent_t *e = c->exits.b[i]; e != NULL; e = e->next)
            if (!util_list_empty(&((const store_exitgrp_t *)e->val)->regs)) out->exit_groups++;
}

void store_coll_fini(store_core_t *c)
{
    /* Peers are closed before this, so only tombstones and pools remain. */
    while (!util_list_empty(&c->coll_all)) coll_free(c, UTIL_CONTAINER_OF(c->coll_all.next, store_coll_t, node));
    store_map_fini(&c->colls, NULL);
    store_map_fini(&c->groups, free);
    store_map_fini(&c->pools, free);
    store_map_fini(&c->exits, free);
}
