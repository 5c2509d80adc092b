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
#include "smem/smem_int.h"
#include "util/util_buf.h"
#include "util/util_log.h"
#include "transport/tp_cache.h"
#include "util/util_status.h"

/* ---------- peers: records, watch, snapshot ---------- */

bool smem_trans_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= SMEM_TRANS_UNIQUE_ID_MAX && strchr(id, '/') == NULL;
}

static smem_trans_peer_t *smem_trans_peer_find_locked(smem_trans_obj_t *o, const char *id, bool add)
{
    for (smem_trans_peer_t *p = o->peers; p != NULL; p = p->next)
        if (strcmp(p->id, id) == 0) return p;
    if (!add || !smem_trans_id_ok(id)) return NULL;
    smem_trans_peer_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    snprintf(p->id, sizeof(p->id), "%s", id);
    p->next = o->peers;
    o->peers = p;
    return p;
}

/* The peer's endpoint (keyed by its rank) must not be reused: it left, or its record changed. */
static void smem_trans_peer_unlink_locked(smem_trans_obj_t *o, const smem_trans_peer_t *p)
{
    if (p->present) tp_cache_invalidate(o->cache, p->rank);
}

static void smem_trans_peer_set_rec_locked(smem_trans_obj_t *o, smem_trans_peer_t *p, const uint8_t *v, uint32_t len)
{
    smem_trans_inst_rec_t r;
    if (smem_trans_inst_decode(v, len, &r) != SMEM_OK) {
        LOG_WARN("trans: ignoring the record of instance %s: %s", p->id, util_err_get());
        return;
    }
    if (strcmp(r.addr, p->addr) != 0 || r.rank != p->rank || !p->present) {
        smem_trans_peer_unlink_locked(o, p);
        tp_cache_invalidate(o->cache, r.rank); /* whatever link that rank had was another instance's */
    }
    snprintf(p->addr, sizeof(p->addr), "%s", r.addr);
    p->rank = r.rank;
    p->role = r.role;
    p->present = true;
}

static smem_trans_rregion_t *smem_trans_rreg_find_locked(smem_trans_peer_t *p, uint64_t addr, bool add)
{
    for (uint32_t i = 0; i < p->nregs; i++)
        if (p->regs[i].addr == addr) return &p->regs[i];
    if (!add) return NULL;
    if (p->nregs == p->capregs) {
        uint32_t cap = p->capregs ? p->capregs * 2 : 8;
        smem_trans_rregion_t *v = realloc(p->regs, cap * sizeof(*v));
        if (v == NULL) return NULL;
        p->regs = v;
        p->capregs = cap;
    }
    p->regs[p->nregs] = (smem_trans_rregion_t){.addr = addr, .gone = true};
    return &p->regs[p->nregs++];
}

/* Apply one record; from_snapshot: only where no event has been seen (events are newer). */
static void smem_trans_apply_locked(smem_trans_obj_t *o, bool set, const char *key, const uint8_t *val, uint32_t len,
                                    bool from_snapshot)
{
    const char *k = key + strlen(SMEM_TRANS_PREFIX);
    if (strncmp(k, "inst/", 5) == 0) {
        const char *id = k + 5;
        if (strcmp(id, o->id) == 0) return;
        smem_trans_peer_t *p = smem_trans_peer_find_locked(o, id, true);
        if (p == NULL || (from_snapshot && p->seen)) return;
        if (!from_snapshot) p->seen = true;
        if (set) smem_trans_peer_set_rec_locked(o, p, val, len);
        else {
            smem_trans_peer_unlink_locked(o, p);
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
    smem_trans_peer_t *p = smem_trans_peer_find_locked(o, pid, true);
    if (p == NULL) return;
    smem_trans_rregion_t *r = smem_trans_rreg_find_locked(p, addr, true);
    if (r == NULL) return;
    if (from_snapshot && !r->gone) return; /* an event put it there already */
    if (!set) {
        r->gone = true;
        return;
    }
    uint64_t raddr = 0, rsize = 0;
    if (smem_trans_reg_decode(val, len, &raddr, &rsize) != SMEM_OK || raddr != addr) {
        LOG_WARN("trans: ignoring the region record '%s' (%u bytes): %s", key, len,
                 raddr != addr ? "its address is not its key's" : util_err_get());
        return;
    }
    r->size = rsize;
    r->gone = false;
}

void smem_trans_on_event(void *arg, store_event_t ev, const char *key, const uint8_t *val, uint32_t len)
{
    smem_trans_obj_t *o = arg;
    pthread_mutex_lock(&o->peer_lock);
    smem_trans_apply_locked(o, ev == STORE_EV_SET, key, val, len, false);
    pthread_mutex_unlock(&o->peer_lock);
}

/* A liveness key of group smem_trans went: the instance holding that rank died or left. */
void smem_trans_on_live(void *arg, store_event_t ev, const char *key, const uint8_t *val, uint32_t len)
{
    smem_trans_obj_t *o = arg;
    (void)val;
    (void)len;
    if (ev != STORE_EV_DELETE) return;
    const char *d = strrchr(key, '/');
    if (d == NULL) return;
    uint32_t rank = (uint32_t)strtoul(d + 1, NULL, 10);
    pthread_mutex_lock(&o->peer_lock);
    for (smem_trans_peer_t *p = o->peers; p != NULL; p = p->next)
        if (p->present && p->rank == rank) {
            LOG_INFO("trans %s: instance %s is gone (its store connection closed)", o->id, p->id);
            smem_trans_peer_unlink_locked(o, p);
            p->present = false;
            for (uint32_t i = 0; i < p->nregs; i++) p->regs[i].gone = true;
        }
    pthread_mutex_unlock(&o->peer_lock);
}

/* List every key under prefix and apply it (snapshot rules); live: ranks whose liveness key exists. */
int32_t smem_trans_snapshot(smem_trans_obj_t *o, const char *prefix, bool *live)
{
    char after[STORE_KEY_MAX + 1] = "";
    for (;;) {
        store_kvlist_t *l = NULL;
        int32_t rc = store_list(o->conn.client, prefix, after, 0, 0, &l);
        if (rc != SMEM_OK) return rc;
        pthread_mutex_lock(&o->peer_lock);
        for (uint32_t i = 0; i < l->count; i++) {
            if (live != NULL) {
                const char *d = strrchr(l->items[i].key, '/');
                uint32_t r = d ? (uint32_t)strtoul(d + 1, NULL, 10) : STORE_WORLD_MAX;
                if (r < STORE_WORLD_MAX) live[r] = true;
            } else {
                smem_trans_apply_locked(o, true, l->items[i].key, l->items[i].val, l->items[i].len, true);
            }
        }
        pthread_mutex_unlock(&o->peer_lock);
        bool more = l->more && l->count > 0;
        if (more) snprintf(after, sizeof(after), "%s", l->items[l->count - 1].key);
        store_kvlist_free(l);
        if (!more) return SMEM_OK;
    }
}

/* Re-read one peer's record and regions now (a transfer found them missing). */
static void smem_trans_refresh(smem_trans_obj_t *o, const char *id)
{
    char key[SMEM_TRANS_KEY_MAX];
    snprintf(key, sizeof(key), SMEM_TRANS_PREFIX "inst/%s", id);
    uint8_t *v = NULL;
    uint32_t len = 0;
    int32_t rc = store_get(o->conn.client, key, 0, &v, &len);
    if (rc != SMEM_OK && rc != SMEM_OBJECT_NOT_EXISTS) return;
    char lkey[64];
    bool alive = false;
    smem_trans_inst_rec_t rec;
    if (rc == SMEM_OK && smem_trans_inst_decode(v, len, &rec) == SMEM_OK) {
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
    smem_trans_peer_t *p = smem_trans_peer_find_locked(o, id, alive);
    if (p != NULL) {
        if (alive) {
            smem_trans_peer_set_rec_locked(o, p, v, len);
        } else {
            smem_trans_peer_unlink_locked(o, p);
            p->present = false;
        }
        for (uint32_t i = 0; i < p->nregs; i++) p->regs[i].gone = true;
        for (uint32_t i = 0; lrc == SMEM_OK && l != NULL && i < l->count; i++) {
            snprintf(key, sizeof(key), "%s", l->items[i].key);
            smem_trans_apply_locked(o, true, key, l->items[i].val, l->items[i].len, false);
        }
    }
    pthread_mutex_unlock(&o->peer_lock);
    store_kvlist_free(l);
    free(v);
}

/* ---------- peers: endpoints for transfers ---------- */

static bool smem_trans_covered_locked(const smem_trans_peer_t *p, const tp_piece_t *pieces, uint32_t n, uint32_t *bad)
{
    for (uint32_t i = 0; i < n; i++) {
        bool in = false;
        for (uint32_t k = 0; k < p->nregs && !in; k++) {
            const smem_trans_rregion_t *r = &p->regs[k];
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

int32_t smem_trans_peer_get(smem_trans_obj_t *o, const char *id, const tp_piece_t *pieces, uint32_t n,
                            tp_link_t **link)
{
    if (!smem_trans_id_ok(id))
        return util_err_set(SMEM_INVALID_PARAM, "remote unique id %s%s%s: 1..%u bytes without '/'", id ? "'" : "",
                            id ? id : "NULL", id ? "'" : "", SMEM_TRANS_UNIQUE_ID_MAX);
    if (strcmp(id, o->id) == 0)
        return util_err_set(SMEM_INVALID_PARAM, "remote unique id '%s' is this instance itself", id);
    uint32_t bad = 0;
    for (int attempt = 0;; attempt++) {
        pthread_mutex_lock(&o->peer_lock);
        smem_trans_peer_t *p = smem_trans_peer_find_locked(o, id, false);
        bool known = p != NULL && p->present;
        bool covered = known && smem_trans_covered_locked(p, pieces, n, &bad);
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
            smem_trans_refresh(o, id);
            continue;
        }
        if (!known)
            return util_err_set(SMEM_OBJECT_NOT_EXISTS, "no live Trans instance with unique id '%s' on the store", id);
        return util_err_set(SMEM_OUT_OF_RANGE, "remote range 0x%" PRIx64 " + %" PRIu64 " bytes (piece %u of %u) is "
                                               "not inside memory that '%s' registered",
                            pieces[bad].offset, pieces[bad].len, bad, n, id);
    }
}

void smem_trans_peers_free(smem_trans_peer_t *peers)
{
    while (peers != NULL) {
        smem_trans_peer_t *p = peers;
        peers = p->next;
        free(p->regs);
        free(p);
    }
}
