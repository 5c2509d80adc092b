/*
 * Replica copy / move tasks and replica clears (Mooncake's CopyStart/End,
 * MoveStart/End and BatchReplicaClear, done our way).
 *
 * A task (REPLICA_START) allocates the object's size on each target
 * LocalService's segment of the object's medium and takes a reference on the
 * object as a lease does (o->leases), so neither eviction nor remove can free
 * the source while the client copies it: a removed object becomes REMOVING
 * and the task's end then aborts. The target space sits in the heaps but not
 * in the object (readers never see it) until REPLICA_END publishes it; an
 * abort, the deadline (put_timeout_ms) or a target segment's detach frees it.
 * One task per object at a time (Mooncake: OBJECT_HAS_REPLICATION_TASK; here
 * MMC_UNMATCHED_STATE).
 *
 * A replica dropped from a live object (move's source, a clear) may be under
 * a reader's lease: its space waits on c->dead_reps for lease_ttl_ms (every
 * lease granted before the drop has ended by then) before it is freed, so a
 * reader that keeps to its lease reads intact bytes; leases are not voided
 * (o->losses is not bumped).
 */
#include <stdlib.h>
#include <string.h>

#include "memcache/meta/meta_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

typedef struct meta_copy {
    util_link_t node; /* c->copies, deadline order (every task gets the same timeout) */
    uint64_t id, owner, deadline_ms;
    meta_obj_t *obj;  /* referenced (obj->leases) while the task lives */
    uint32_t losses;  /* obj->losses at the start: a change means the source may be gone */
    uint8_t mode;
    uint8_t ntgt;
    uint32_t src;                    /* move: the rank whose replica goes at the end */
    meta_rep_t tgt[MMC_REPLICA_MAX]; /* seg NULL: its segment was detached */
} meta_copy_t;

typedef struct meta_dead_rep {
    util_link_t node; /* c->dead_reps, free order */
    meta_seg_t *seg;
    uint64_t off, size, free_ms;
} meta_dead_rep_t;

static meta_obj_t *repl_find(const meta_core_t *c, const mmc_key_ref_t *k)
{
    return meta_table_find(&c->table, k->p, k->len, meta_key_hash(k->p, k->len));
}

static int32_t repl_rep_index(const meta_obj_t *o, uint32_t rank)
{
    for (uint32_t i = 0; i < o->nrep; i++)
        if (o->rep[i].seg->rank == rank) return (int32_t)i;
    return -1;
}

static bool repl_has_task(const meta_core_t *c, const meta_obj_t *o)
{
    for (const util_link_t *l = c->copies.next; l != &c->copies; l = l->next)
        if (UTIL_CONTAINER_OF(l, meta_copy_t, node)->obj == o) return true;
    return false;
}

static void repl_space_free(meta_core_t *c, meta_seg_t *seg, uint64_t off, uint64_t size)
{
    if (meta_heap_free(&seg->heap, off, size) == MMC_OK)
        c->media[seg->medium].used -= meta_heap_round(size);
    else
        LOG_ERROR("meta: freeing %llu bytes at rank %u offset %llu failed: %s", (unsigned long long)size, seg->rank,
                  (unsigned long long)off, util_err_get());
}

/* Takes replica i out of o; its space is freed now, or after lease_ttl_ms when o is being read. */
static void repl_rep_drop(meta_core_t *c, meta_obj_t *o, uint32_t i)
{
    meta_rep_t r = o->rep[i];
    memmove(&o->rep[i], &o->rep[i + 1], (o->nrep - i - 1) * sizeof(o->rep[0]));
    o->nrep--;
    meta_dead_rep_t *d = o->leases > 0 ? malloc(sizeof(*d)) : NULL;
    if (d == NULL) {
        if (o->leases > 0)
            LOG_WARN("meta: out of memory parking a dropped replica of '%s'; freed at once", meta_obj_key(o));
        repl_space_free(c, r.seg, r.off, o->size);
        return;
    }
    d->seg = r.seg;
    d->off = r.off;
    d->size = o->size;
    d->free_ms = meta_now(c) + c->opts.lease_ttl_ms;
    util_list_add_tail(&c->dead_reps, &d->node);
}

static void repl_task_free(meta_core_t *c, meta_copy_t *t, bool release_targets)
{
    util_list_del(&t->node);
    c->ncopies--;
    for (uint32_t i = 0; release_targets && i < t->ntgt; i++)
        if (t->tgt[i].seg != NULL) repl_space_free(c, t->tgt[i].seg, t->tgt[i].off, t->obj->size);
    meta_obj_unref(c, t->obj);
    free(t);
}

/* o with room for want replicas: o itself, or a bigger copy that took its place everywhere (table, index,
 * LRU list, leases, tasks). NULL when out of memory (o unchanged). */
static meta_obj_t *repl_obj_grow(meta_core_t *c, meta_obj_t *o, uint32_t want)
{
    if (want <= o->nslot) return o;
    meta_obj_t *n = malloc(sizeof(*n) + want * sizeof(n->rep[0]) + o->klen + 1u);
    if (n == NULL) return NULL;
    memcpy(n, o, sizeof(*o) + o->nrep * sizeof(o->rep[0]));
    n->nslot = (uint8_t)want;
    memcpy(meta_obj_key(n), meta_obj_key(o), o->klen + 1u);
    meta_table_replace(&c->table, o, n);
    n->link.prev->next = &n->link;
    n->link.next->prev = &n->link;
    for (util_link_t *l = c->leases.next; l != &c->leases; l = l->next) {
        meta_lease_t *ls = UTIL_CONTAINER_OF(l, meta_lease_t, node);
        for (uint32_t i = 0; i < ls->n; i++)
            if (ls->objs[i].obj == o) ls->objs[i].obj = n;
    }
    for (util_link_t *l = c->copies.next; l != &c->copies; l = l->next) {
        meta_copy_t *t = UTIL_CONTAINER_OF(l, meta_copy_t, node);
        if (t->obj == o) t->obj = n;
    }
    free(o);
    return n;
}

static void repl_loc_error(mmc_loc_t *loc, int32_t st)
{
    memset(loc, 0, sizeof(*loc));
    loc->status = st;
}

/* Checks the request against o and allocates the targets into t (statuses in st[]). */
static int32_t repl_alloc(meta_core_t *c, const mmc_req_t *r, meta_obj_t *o, meta_copy_t *t, int32_t *st)
{
    uint32_t want = o->nrep;
    for (uint32_t i = 0; i < r->npref; i++) {
        uint32_t rank = (uint32_t)r->pref[i];
        st[i] = MMC_OK;
        t->tgt[i].seg = NULL;
        t->tgt[i].off = UINT64_MAX; /* skipped (a lost target gets off 0 with no segment) */
        bool dup = repl_rep_index(o, rank) >= 0;
        for (uint32_t j = 0; j < i && !dup; j++) dup = r->pref[j] == r->pref[i];
        if (dup) { /* Mooncake skips a target that holds a replica already */
            st[i] = MMC_DUPLICATED_OBJECT;
            continue;
        }
        meta_seg_t *s = meta_seg_find(c, rank, o->medium);
        if (s == NULL)
            return st[i] = util_err_set(MMC_LINK_NOT_FOUND, "REPLICA_START '%s': LocalService %u has no %s segment",
                                        meta_obj_key(o), rank, o->medium == MMC_MEDIA_DRAM ? "DRAM" : "HBM");
        if (++want > MMC_REPLICA_MAX)
            return st[i] = util_err_set(MMC_EXCEEDS_CAPACITY, "REPLICA_START '%s': more than %u replicas",
                                        meta_obj_key(o), MMC_REPLICA_MAX);
        if (meta_heap_total(&s->heap) < meta_heap_round(o->size))
            return st[i] = util_err_set(MMC_EXCEEDS_CAPACITY, "REPLICA_START '%s': %llu bytes exceed LocalService "
                                        "%u's segment", meta_obj_key(o), (unsigned long long)o->size, rank);
        if (meta_heap_alloc(&s->heap, o->size, &t->tgt[i].off) != MMC_OK)
            return st[i] = util_err_set(MMC_NOT_ENOUGH_MEMORY, "REPLICA_START '%s': no %llu free bytes on "
                                        "LocalService %u", meta_obj_key(o), (unsigned long long)o->size, rank);
        c->media[s->medium].used += meta_heap_round(o->size);
        t->tgt[i].seg = s;
    }
    return MMC_OK;
}

void meta_replica_start(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, util_wbuf_t *w)
{
    mmc_loc_t loc, src;
    int32_t st[MMC_REPLICA_MAX] = {0};
    int32_t rc = MMC_OK;
    meta_obj_t *o = repl_find(c, &r->keys[0]);
    meta_copy_t *t = calloc(1, sizeof(*t));
    uint32_t ntgt = r->npref, nnew = 0;

    if (t == NULL)
        rc = util_err_set(MMC_MALLOC_FAILED, "REPLICA_START: out of memory");
    else if (o == NULL)
        rc = MMC_KEY_NOT_FOUND;
    else if (o->state != MMC_STATE_READY)
        rc = MMC_OBJECT_NOT_READY;
    else if (repl_has_task(c, o))
        rc = util_err_set(MMC_UNMATCHED_STATE, "REPLICA_START '%s': a copy or move of it is in progress",
                          meta_obj_key(o));
    else if (r->rank != UINT32_MAX && repl_rep_index(o, r->rank) < 0)
        rc = util_err_set(MMC_LINK_NOT_FOUND, "REPLICA_START '%s': no replica on LocalService %u", meta_obj_key(o),
                          r->rank);
    else if (r->replicas == MMC_REPLICA_MODE_MOVE && (r->rank == UINT32_MAX || (uint32_t)r->pref[0] == r->rank))
        rc = util_err_set(MMC_INVALID_PARAM, "REPLICA_START '%s': a move needs a source other than its target",
                          meta_obj_key(o));
    else
        rc = repl_alloc(c, r, o, t, st);
    if (rc != MMC_OK && t != NULL) {
        for (uint32_t i = 0; i < ntgt; i++)
            if (t->tgt[i].seg != NULL) repl_space_free(c, t->tgt[i].seg, t->tgt[i].off, o->size);
        free(t);
        t = NULL;
    }
    /* loc[0]: the object and the replicas to read from (the source only, when one is named), as they are
     * before a move that has nothing to copy drops its source. */
    repl_loc_error(&src, rc);
    if (o != NULL) {
        src.state = o->state;
        src.size = o->size;
        src.leases = o->leases;
    }
    for (uint32_t i = 0; rc == MMC_OK && i < o->nrep; i++) {
        if (r->rank != UINT32_MAX && o->rep[i].seg->rank != r->rank) continue;
        src.rep[src.nrep].rank = o->rep[i].seg->rank;
        src.rep[src.nrep].medium = o->rep[i].seg->medium;
        src.rep[src.nrep].gva = o->rep[i].seg->gva + o->rep[i].off;
        src.nrep++;
    }
    for (uint32_t i = 0; t != NULL && i < ntgt; i++) nnew += t->tgt[i].seg != NULL;
    if (t != NULL && nnew == 0) { /* every target holds it already: nothing to copy */
        if (r->replicas == MMC_REPLICA_MODE_MOVE) repl_rep_drop(c, o, (uint32_t)repl_rep_index(o, r->rank));
        free(t);
        t = NULL;
    } else if (t != NULL) {
        t->obj = o;
        t->losses = o->losses;
        t->mode = r->replicas;
        t->ntgt = (uint8_t)ntgt;
        t->src = r->rank;
        t->owner = r->owner;
        t->deadline_ms = meta_now(c) + c->opts.put_timeout_ms;
        do {
            t->id = meta_core_rand(c);
        } while (t->id == 0);
        o->leases++;
        util_list_add_tail(&c->copies, &t->node);
        c->ncopies++;
        LOG_DEBUG("meta: %s of '%s' to %u LocalServices started by %s", t->mode == MMC_REPLICA_MODE_MOVE ? "move" : "copy",
                  meta_obj_key(o), nnew, p->name);
    }
    mmc_resp_locs_begin(w, t != NULL ? t->id : 0, c->opts.put_timeout_ms, 1 + ntgt);
    mmc_resp_loc_encode(w, &src);
    for (uint32_t i = 0; i < ntgt; i++) {
        repl_loc_error(&loc, rc == MMC_OK ? st[i] : (st[i] != MMC_OK ? st[i] : rc));
        if (t != NULL && t->tgt[i].seg != NULL) {
            loc.nrep = 1;
            loc.rep[0].rank = t->tgt[i].seg->rank;
            loc.rep[0].medium = t->tgt[i].seg->medium;
            loc.rep[0].gva = t->tgt[i].seg->gva + t->tgt[i].off;
        }
        mmc_resp_loc_encode(w, &loc);
    }
}

int32_t meta_replica_end(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r)
{
    meta_copy_t *t = NULL;
    for (util_link_t *l = c->copies.next; l != &c->copies && t == NULL; l = l->next) {
        meta_copy_t *x = UTIL_CONTAINER_OF(l, meta_copy_t, node);
        if (x->id == r->ids[0]) t = x;
    }
    if (t == NULL) return MMC_LINK_NOT_FOUND; /* past its deadline, or never started */
    if (t->owner != r->owner) {
        LOG_WARN("meta: %s tried to finish another client's replica task on '%s'; refused", p->name,
                 meta_obj_key(t->obj));
        return MMC_LEASE_NOT_OWNER;
    }
    meta_obj_t *o = t->obj;
    if (r->results[0] != 0) {
        repl_task_free(c, t, true);
        return MMC_OK;
    }
    if (o->state != MMC_STATE_READY) { /* removed or evicted meanwhile: it stays gone */
        repl_task_free(c, t, true);
        return MMC_KEY_NOT_FOUND;
    }
    uint32_t nnew = 0;
    bool lost = o->losses != t->losses;
    for (uint32_t i = 0; i < t->ntgt; i++) {
        if (t->tgt[i].seg != NULL) nnew++;
        else if (t->tgt[i].off != UINT64_MAX) lost = true;
    }
    if (lost) {
        LOG_INFO("meta: replica task on '%s': a source or target LocalService left during the copy; aborted",
                 meta_obj_key(o));
        repl_task_free(c, t, true);
        return MMC_LEASE_LOST;
    }
    meta_obj_t *n = repl_obj_grow(c, o, o->nrep + nnew);
    if (n == NULL) {
        repl_task_free(c, t, true);
        return util_err_set(MMC_MALLOC_FAILED, "REPLICA_END: out of memory");
    }
    o = n;
    for (uint32_t i = 0; i < t->ntgt; i++)
        if (t->tgt[i].seg != NULL) o->rep[o->nrep++] = t->tgt[i];
    uint8_t mode = t->mode;
    uint32_t src = t->src;
    repl_task_free(c, t, false);
    if (mode == MMC_REPLICA_MODE_MOVE) {
        int32_t i = repl_rep_index(o, src);
        if (i >= 0 && o->nrep > 1) repl_rep_drop(c, o, (uint32_t)i);
    }
    return MMC_OK;
}

int32_t meta_replica_clear(meta_core_t *c, uint32_t rank, const mmc_key_ref_t *k)
{
    meta_obj_t *o = repl_find(c, k);
    if (o == NULL) return MMC_KEY_NOT_FOUND;
    if (o->state != MMC_STATE_READY) return MMC_UNMATCHED_STATE; /* its writer decides */
    if (repl_has_task(c, o)) return MMC_UNMATCHED_STATE;
    if (rank != UINT32_MAX) {
        int32_t i = repl_rep_index(o, rank);
        if (i < 0) return MMC_LINK_NOT_FOUND;
        if (o->nrep > 1) {
            repl_rep_drop(c, o, (uint32_t)i);
            return MMC_OK;
        }
    }
    /* Every replica, or the last one: the object goes (Mooncake erases an object left without replicas). */
    meta_obj_drop(c, o);
    c->removes++;
    return MMC_OK;
}

void meta_replica_expire(meta_core_t *c, uint64_t now)
{
    while (!util_list_empty(&c->copies)) {
        meta_copy_t *t = UTIL_CONTAINER_OF(c->copies.next, meta_copy_t, node);
        if (t->deadline_ms > now) break;
        LOG_WARN("meta: replica task on '%s' revoked: not finished within %u ms", meta_obj_key(t->obj),
                 c->opts.put_timeout_ms);
        repl_task_free(c, t, true);
    }
    while (!util_list_empty(&c->dead_reps)) {
        meta_dead_rep_t *d = UTIL_CONTAINER_OF(c->dead_reps.next, meta_dead_rep_t, node);
        if (d->free_ms > now) break;
        util_list_del(&d->node);
        repl_space_free(c, d->seg, d->off, d->size);
        free(d);
    }
}

void meta_replica_seg_gone(meta_core_t *c, const meta_seg_t *seg)
{
    for (util_link_t *l = c->copies.next; l != &c->copies; l = l->next) {
        meta_copy_t *t = UTIL_CONTAINER_OF(l, meta_copy_t, node);
        for (uint32_t i = 0; i < t->ntgt; i++)
            if (t->tgt[i].seg == seg) {
                t->tgt[i].seg = NULL;
                t->tgt[i].off = 0; /* marks a lost target (a skipped one keeps UINT64_MAX) */
            }
    }
    for (util_link_t *l = c->dead_reps.next; l != &c->dead_reps;) {
        meta_dead_rep_t *d = UTIL_CONTAINER_OF(l, meta_dead_rep_t, node);
        l = l->next;
        if (d->seg != seg) continue;
        util_list_del(&d->node);
        free(d);
    }
}

void meta_replica_free_all(meta_core_t *c)
{
    while (!util_list_empty(&c->copies)) {
        meta_copy_t *t = UTIL_CONTAINER_OF(c->copies.next, meta_copy_t, node);
        util_list_del(&t->node);
        free(t);
    }
    c->ncopies = 0;
    while (!util_list_empty(&c->dead_reps)) {
        meta_dead_rep_t *d = UTIL_CONTAINER_OF(c->dead_reps.next, meta_dead_rep_t, node);
        util_list_del(&d->node);
        free(d);
    }
}

uint64_t meta_replica_held(const meta_core_t *c, uint16_t m)
{
    uint64_t b = 0;
    for (const util_link_t *l = c->copies.next; l != &c->copies; l = l->next) {
        const meta_copy_t *t = UTIL_CONTAINER_OF(l, meta_copy_t, node);
        for (uint32_t i = 0; i < t->ntgt; i++)
            if (t->tgt[i].seg != NULL && t->tgt[i].seg->medium == m) b += meta_heap_round(t->obj->size);
    }
    for (const util_link_t *l = c->dead_reps.next; l != &c->dead_reps; l = l->next) {
        const meta_dead_rep_t *d = UTIL_CONTAINER_OF(l, meta_dead_rep_t, node);
        if (d->seg->medium == m) b += meta_heap_round(d->size);
    }
    return b;
}

uint64_t meta_replica_refs(const meta_core_t *c) { return c->ncopies; }
