/*
 * Trans peers: the view of the other instances kept in step with the store
 * (records, watch callbacks, snapshot, one-shot refresh on a miss) and the
 * endpoints transfers use. See smem_trans.c for the records and lock rules.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/host/smem_trans.h"
#include "smem/smem_trans_int.h"
#include "util/util_buf.h"
#include "util/util_log.h"
#include "store/store_roster.h"
#include "transport/tp_cache.h"
#include "util/util_status.h"

/* ---------- peers: records, roster, refresh ---------- */

bool sm_trans_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= SMEM_TRANS_UNIQUE_ID_MAX && strchr(id, '/') == NULL;
}

static sm_trans_peer_t *sm_trans_peer_find_locked(sm_trans_obj_t *o, const char *id, bool add)
{
    for (sm_trans_peer_t *p = o->peers; p != NULL; p = p->next)
        if (strcmp(p->id, id) == 0) return p;
    if (!add || !sm_trans_id_ok(id)) return NULL;
    sm_trans_peer_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    snprintf(p->id, sizeof(p->id), "%s", id);
    p->next = o->peers;
    o->peers = p;
    return p;
}

/* The peer's endpoint (keyed by its rank) must not be reused: it left, or its record changed. */
static void sm_trans_peer_unlink_locked(sm_trans_obj_t *o, const sm_trans_peer_t *p)
{
    if (p->present) tp_cache_invalidate(o->cache, p->rank);
}

static void sm_trans_peer_set_rec_locked(sm_trans_obj_t *o, sm_trans_peer_t *p, const uint8_t *v, uint32_t len)
{
    sm_trans_inst_rec_t r;
    if (sm_trans_inst_decode(v, len, &r) != SMEM_OK) {
        LOG_WARN("trans: ignoring the record of instance %s: %s", p->id, util_err_get());
        return;
    }
    if (strcmp(r.addr, p->addr) != 0 || r.rank != p->rank || !p->present) {
        sm_trans_peer_unlink_locked(o, p);
        tp_cache_invalidate(o->cache, r.rank); /* whatever link that rank had was another instance's */
    }
    snprintf(p->addr, sizeof(p->addr), "%s", r.addr);
    p->rank = r.rank;
    p->role = r.role;
    p->present = true;
}

static sm_trans_rregion_t *sm_trans_rreg_find_locked(sm_trans_peer_t *p, uint64_t addr, bool add)
{
    for (uint32_t i = 0; i < p->nregs; i++)
        if (p->regs[i].addr == addr) return &p->regs[i];
    if (!add) return NULL;
    if (p->nregs == p->capregs) {
        uint32_t cap = p->capregs ? p->capregs * 2 : 8;
        sm_trans_rregion_t *v = realloc(p->regs, cap * sizeof(*v));
        if (v == NULL) return NULL;
        p->regs = v;
        p->capregs = cap;
    }
    p->regs[p->nregs] = (sm_trans_rregion_t){.addr = addr, .gone = true};
    return &p->regs[p->nregs++];
}

/* Apply one record (an event, a listed item no event overtook, or a fresh read). gone (may be NULL) gets the
 * id of a present instance whose record was deleted (it left). */
static void sm_trans_apply_locked(sm_trans_obj_t *o, bool set, const char *key, const uint8_t *val, uint32_t len,
                                  char *gone)
{
    const char *k = key + strlen(SMEM_TRANS_PREFIX);
    if (strncmp(k, "inst/", 5) == 0) {
        const char *id = k + 5;
        if (strcmp(id, o->id) == 0) return;
        sm_trans_peer_t *p = sm_trans_peer_find_locked(o, id, set);
        if (p == NULL) return;
        if (set) sm_trans_peer_set_rec_locked(o, p, val, len);
        else {
            if (p->present && gone != NULL) snprintf(gone, SMEM_TRANS_UNIQUE_ID_MAX + 1, "%s", p->id);
            sm_trans_peer_unlink_locked(o, p);
            p->present = false;
        }
        return;
    }
    if (strncmp(k, "reg/", 4) != 0) return;
    const char *id = k + 4, *slash = strrchr(id, '/');
    if (slash == NULL || (size_t)(slash - id) > SMEM_TRANS_UNIQUE_ID_MAX) return;
    char pid[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    memcpy(pid, id, (size_t)(slash - id));
    pid[slash - id] = '\0';
    if (strcmp(pid, o->id) == 0) return;
    char *end = NULL;
    uint64_t addr = strtoull(slash + 1, &end, 16);
    if (end == slash + 1 || *end != '\0') return;
    sm_trans_peer_t *p = sm_trans_peer_find_locked(o, pid, true);
    if (p == NULL) return;
    sm_trans_rregion_t *r = sm_trans_rreg_find_locked(p, addr, true);
    if (r == NULL) return;
    if (!set) {
        r->gone = true;
        return;
    }
    uint64_t raddr = 0, rsize = 0;
    if (sm_trans_reg_decode(val, len, &raddr, &rsize) != SMEM_OK || raddr != addr) {
        LOG_WARN("trans: ignoring the region record '%s' (%u bytes): %s", key, len,
                 raddr != addr ? "its address is not its key's" : util_err_get());
        return;
    }
    r->size = rsize;
    r->gone = false;
}

/* The liveness key of rank in SMEM_TRANS_GROUP went: the instance holding that rank died or left.
 * Its id goes to gone_id ("" when no instance held the rank). */
static void sm_trans_rank_gone_locked(sm_trans_obj_t *o, uint32_t rank, char gone_id[SMEM_TRANS_UNIQUE_ID_MAX + 1])
{
    for (sm_trans_peer_t *p = o->peers; p != NULL; p = p->next)
        if (p->present && p->rank == rank) {
            LOG_INFO("trans %s: instance %s is gone (its store connection closed)", o->id, p->id);
            snprintf(gone_id, SMEM_TRANS_UNIQUE_ID_MAX + 1, "%s", p->id);
            sm_trans_peer_unlink_locked(o, p);
            p->present = false;
            for (uint32_t i = 0; i < p->nregs; i++) p->regs[i].gone = true;
        }
}

#define SMEM_TRANS_LIVE_PREFIX SMEM_TRANS_GROUP "/__live/"

static uint32_t sm_trans_live_rank(const char *key)
{
    const char *d = key + strlen(SMEM_TRANS_LIVE_PREFIX);
    char *end = NULL;
    unsigned long r = strtoul(d, &end, 10);
    return end != d && *end == '\0' && r < STORE_WORLD_MAX ? (uint32_t)r : STORE_WORLD_MAX;
}

/* Roster events (store_roster_cb_t): a record changed, or a liveness key went. */
static void sm_trans_on_event(void *arg, store_roster_kind_t kind, const char *key, const uint8_t *val, uint32_t len)
{
    sm_trans_obj_t *o = arg;
    bool live_key = strncmp(key, SMEM_TRANS_LIVE_PREFIX, strlen(SMEM_TRANS_LIVE_PREFIX)) == 0;
    if (live_key && kind != STORE_ROSTER_DELETE) return;
    uint32_t rank = live_key ? sm_trans_live_rank(key) : 0;
    if (live_key && rank == STORE_WORLD_MAX) return;
    char gone[SMEM_TRANS_UNIQUE_ID_MAX + 1] = "";
    pthread_mutex_lock(&o->peer_lock);
    if (live_key) sm_trans_rank_gone_locked(o, rank, gone);
    else sm_trans_apply_locked(o, kind == STORE_ROSTER_SET, key, val, len, gone);
    smem_trans_peer_down_callback_t cb = o->down_cb;
    void *cb_arg = o->down_arg;
    pthread_mutex_unlock(&o->peer_lock);
    if (gone[0] != '\0' && cb != NULL) cb(gone, cb_arg); /* the seed's peer-down notification */
}

int32_t sm_trans_peers_open(sm_trans_obj_t *o)
{
    const char *prefixes[2] = {SMEM_TRANS_PREFIX, SMEM_TRANS_LIVE_PREFIX};
    return store_roster_open(o->conn.client, prefixes, 2, sm_trans_on_event, o, &o->roster);
}

typedef struct sm_trans_listing {
    sm_trans_obj_t *o;
    bool *live; /* STORE_WORLD_MAX: ranks whose liveness key was listed */
} sm_trans_listing_t;

static void sm_trans_on_listed_live(void *arg, store_roster_kind_t kind, const char *key, const uint8_t *val,
                                      uint32_t len)
{
    sm_trans_listing_t *ls = arg;
    (void)kind; /* a liveness key an event overtook is listed all the same: a deletion was handled by the event */
    (void)val;
    (void)len;
    uint32_t r = sm_trans_live_rank(key);
    if (r < STORE_WORLD_MAX) ls->live[r] = true;
}

static void sm_trans_on_listed(void *arg, store_roster_kind_t kind, const char *key, const uint8_t *val,
                                 uint32_t len)
{
    sm_trans_listing_t *ls = arg;
    if (kind != STORE_ROSTER_LISTED) return; /* an event told us newer */
    const char *k = key + strlen(SMEM_TRANS_PREFIX);
    if (strncmp(k, "inst/", 5) == 0) { /* a record of an instance that died before our watch is a leftover */
        sm_trans_inst_rec_t r;
        if (sm_trans_inst_decode(val, len, &r) == SMEM_OK && (r.rank >= STORE_WORLD_MAX || !ls->live[r.rank]))
            return;
    }
    pthread_mutex_lock(&ls->o->peer_lock);
    sm_trans_apply_locked(ls->o, true, key, val, len, NULL);
    pthread_mutex_unlock(&ls->o->peer_lock);
}

/* The liveness keys first: a record listed after them whose rank has none belongs to a dead instance. */
int32_t sm_trans_peers_list(sm_trans_obj_t *o)
{
    sm_trans_listing_t ls = {.o = o, .live = calloc(STORE_WORLD_MAX, sizeof(bool))};
    if (ls.live == NULL) return util_err_set(SMEM_MALLOC_FAILED, "trans: out of memory listing the peers");
    int32_t rc = store_roster_list(o->roster, SMEM_TRANS_LIVE_PREFIX, sm_trans_on_listed_live, &ls);
    if (rc == SMEM_OK) rc = store_roster_list(o->roster, SMEM_TRANS_PREFIX, sm_trans_on_listed, &ls);
    free(ls.live);
    return rc;
}

/* Re-read one peer's record and regions now (a transfer found them missing). */
static void sm_trans_refresh(sm_trans_obj_t *o, const char *id)
{
    char key[SMEM_TRANS_KEY_MAX];
    snprintf(key, sizeof(key), SMEM_TRANS_PREFIX "inst/%s", id);
    uint8_t *v = NULL;
    uint32_t len = 0;
    int32_t rc = store_get(o->conn.client, key, 0, &v, &len);
    if (rc != SMEM_OK && rc != SMEM_OBJECT_NOT_EXISTS) return;
    char lkey[64];
    bool alive = false;
    sm_trans_inst_rec_t rec;
    if (rc == SMEM_OK && sm_trans_inst_decode(v, len, &rec) == SMEM_OK) {
        snprintf(lkey, sizeof(lkey), SMEM_TRANS_GROUP "/__live/%u", rec.rank);
        uint8_t *lv = NULL;
        uint32_t ll = 0;
        alive = store_get(o->conn.client, lkey, 0, &lv, &ll) == SMEM_OK;
        free(lv);
    }
    store_kvlist_t *l = NULL;
    snprintf(key, sizeof(key), SMEM_TRANS_PREFIX "reg/%s/", id);
    int32_t lrc = alive ? store_list(o->conn.client, key, NULL, 0, 0, &l) : SMEM_OK;
    pthread_mutex_lock(&o->peer_lock);
    sm_trans_peer_t *p = sm_trans_peer_find_locked(o, id, alive);
    if (p != NULL) {
        if (alive) {
            sm_trans_peer_set_rec_locked(o, p, v, len);
        } else {
            sm_trans_peer_unlink_locked(o, p);
            p->present = false;
        }
        for (uint32_t i = 0; i < p->nregs; i++) p->regs[i].gone = true;
        for (uint32_t i = 0; lrc == SMEM_OK && l != NULL && i < l->count; i++) {
            snprintf(key, sizeof(key), "%s", l->items[i].key);
            sm_trans_apply_locked(o, true, key, l->items[i].val, l->items[i].len, NULL);
        }
    }
    pthread_mutex_unlock(&o->peer_lock);
    store_kvlist_free(l);
    free(v);
}

/* ---------- peers: endpoints for transfers ---------- */

static bool sm_trans_covered_locked(const sm_trans_peer_t *p, const tp_piece_t *pieces, uint32_t n, uint32_t *bad)
{
    for (uint32_t i = 0; i < n; i++) {
        bool in = false;
        for (uint32_t k = 0; k < p->nregs && !in; k++) {
            const sm_trans_rregion_t *r = &p->regs[k];
            in = !r->gone && pieces[i].offset >= r->addr && pieces[i].offset - r->addr < r->size &&
                 pieces[i].len <= r->size - (pieces[i].offset - r->addr);
        }
        if (!in) {
            *bad = i;
            return false;
        }
    }
    return true;
}

int32_t sm_trans_peer_get(sm_trans_obj_t *o, const char *id, const tp_piece_t *pieces, uint32_t n,
                            tp_link_t **link)
{
    if (!sm_trans_id_ok(id))
        return util_err_set(SMEM_INVALID_PARAM, "remote unique id %s%s%s: 1..%u bytes without '/'", id ? "'" : "",
                            id ? id : "NULL", id ? "'" : "", SMEM_TRANS_UNIQUE_ID_MAX);
    if (strcmp(id, o->id) == 0)
        return util_err_set(SMEM_INVALID_PARAM, "remote unique id '%s' is this instance itself", id);
    uint32_t bad = 0;
    for (int attempt = 0;; attempt++) {
        pthread_mutex_lock(&o->peer_lock);
        sm_trans_peer_t *p = sm_trans_peer_find_locked(o, id, false);
        bool known = p != NULL && p->present;
        bool covered = known && sm_trans_covered_locked(p, pieces, n, &bad);
        if (known && covered && p->role == SMEM_TRANS_SENDER) {
            pthread_mutex_unlock(&o->peer_lock);
            return util_err_set(SMEM_UNSUPPORTED, "instance '%s' has role SENDER and exposes no memory", id);
        }
        if (known && covered) { /* the endpoint for the peer's current address, by its rank */
            uint32_t rank = p->rank;
            char addr[TP_ADDR_MAX + 1];
            snprintf(addr, sizeof(addr), "%s", p->addr);
            pthread_mutex_unlock(&o->peer_lock);
            return tp_cache_get(o->cache, rank, addr, link);
        }
        pthread_mutex_unlock(&o->peer_lock);
        if (attempt == 0) { /* the watch may not have told us yet: read the store once */
            sm_trans_refresh(o, id);
            continue;
        }
        if (!known)
            return util_err_set(SMEM_OBJECT_NOT_EXISTS, "no live Trans instance with unique id '%s' on the store", id);
        return util_err_set(SMEM_OUT_OF_RANGE, "remote range 0x%" PRIx64 " + %" PRIu64 " bytes (piece %u of %u) is "
                                               "not inside memory that '%s' registered",
                            pieces[bad].offset, pieces[bad].len, bad, n, id);
    }
}

void sm_trans_peers_free(sm_trans_peer_t *peers)
{
    while (peers != NULL) {
        sm_trans_peer_t *p = peers;
        peers = p->next;
        free(p->regs);
        free(p);
    }
}
