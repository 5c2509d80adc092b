/* Objects: two-phase put with placement, get with leases, remove, eviction. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/meta/meta_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

#define META_LEASE_TAB_MIN 256u

static meta_obj_t *obj_find(const meta_core_t *c, const mmc_key_ref_t *k)
{
    return meta_table_find(&c->table, k->p, k->len, meta_key_hash(k->p, k->len));
}

/* A batch's key hashes, each computed once; NULL when out of memory (then no prefetching). Caller frees. */
static uint64_t *obj_hashes(const mmc_req_t *r)
{
    uint64_t *hs = malloc((size_t)r->n * sizeof(*hs));
    for (uint32_t k = 0; hs != NULL && k < r->n; k++) hs[k] = meta_key_hash(r->keys[k].p, r->keys[k].len);
    return hs;
}

static uint64_t obj_hash(const uint64_t *hs, const mmc_req_t *r, uint32_t k)
{
    return hs != NULL ? hs[k] : meta_key_hash(r->keys[k].p, r->keys[k].len);
}

/* Batches look keys up in table order, which is random memory. While key k is handled, key k + 8's
 * bucket and key k + 4's first object are asked for, and for puts key k + 4's place in the key index
 * is found (its leaf comes towards the cache): the insert of that key starts there unless the index
 * changed shape meanwhile. Those misses overlap instead of following one another. */
#define META_PF_FAR 8u
#define META_PF_NEAR 4u

typedef struct obj_ahead {
    meta_index_pos_t pos[META_PF_NEAR + 1]; /* pos[k % 5]: key k's place */
    uint32_t key[META_PF_NEAR + 1];         /* which key each pos is for; UINT32_MAX: none */
} obj_ahead_t;

static void obj_ahead_init(obj_ahead_t *ah)
{
    for (uint32_t i = 0; i <= META_PF_NEAR; i++) ah->key[i] = UINT32_MAX;
}

/* Looks ahead from key k (ah NULL: no index places); returns key k's place, or NULL. It writes *ah,
 * which also keeps the compiler from taking it for a function without effects (prefetches have none). */
static const meta_index_pos_t *obj_ahead(const meta_core_t *c, const mmc_req_t *r, const uint64_t *hs,
                                         obj_ahead_t *ah, uint32_t k)
{
    uint32_t a = k + META_PF_NEAR, slot = a % (META_PF_NEAR + 1);
    if (hs != NULL && k + META_PF_FAR < r->n) meta_table_prefetch(&c->table, hs[k + META_PF_FAR], false);
    if (hs != NULL && a < r->n) meta_table_prefetch(&c->table, hs[a], true);
    if (ah == NULL) return NULL;
    if (a < r->n) {
        meta_index_prefetch(&c->table.idx, r->keys[a].p, r->keys[a].len, &ah->pos[slot]);
        ah->key[slot] = a;
    }
    slot = k % (META_PF_NEAR + 1);
    return ah->key[slot] == k ? &ah->pos[slot] : NULL;
}

void meta_rep_release(meta_core_t *c, meta_obj_t *o, uint32_t i)
{
    meta_rep_t *r = &o->rep[i];
    if (r->seg == NULL) return;
    if (meta_heap_free(&r->seg->heap, r->off, o->size) == MMC_OK)
        c->media[r->seg->medium].used -= meta_heap_round(o->size);
    else
        LOG_ERROR("meta: freeing replica of '%s' at rank %u offset %llu failed: %s", meta_obj_key(o), r->seg->rank,
                  (unsigned long long)r->off, util_err_get());
    r->seg = NULL;
}

static void obj_release_all(meta_core_t *c, meta_obj_t *o)
{
    for (uint32_t i = 0; i < o->nrep; i++) meta_rep_release(c, o, i);
    o->nrep = 0;
}

void meta_obj_drop(meta_core_t *c, meta_obj_t *o)
{
    meta_table_remove(&c->table, o);
    util_list_del(&o->link);
    if (o->state == MMC_STATE_READY) c->media[o->medium].objects--;
    if (o->state == MMC_STATE_WRITING) c->nwriting--;
    if (o->leases > 0) {
        /* Readers may be copying out of it: keep the space until the last lease ends. */
        o->state = MMC_STATE_REMOVING;
        util_list_add_tail(&c->zombies, &o->link);
        c->nzombies++;
        return;
    }
    obj_release_all(c, o);
    free(o);
}

static void zombie_free(meta_core_t *c, meta_obj_t *o)
{
    util_list_del(&o->link);
    c->nzombies--;
    obj_release_all(c, o);
    free(o);
}

void meta_obj_unref(meta_core_t *c, meta_obj_t *o)
{
    if (--o->leases == 0 && o->state == MMC_STATE_REMOVING) zombie_free(c, o);
}

static void loc_fill(const meta_obj_t *o, int32_t status, mmc_loc_t *loc)
{
    memset(loc, 0, sizeof(*loc));
    loc->status = status;
    loc->state = o->state;
    loc->leases = o->leases;
    loc->size = o->size;
    loc->nrep = o->nrep;
    for (uint32_t i = 0; i < o->nrep; i++) {
        loc->rep[i].rank = o->rep[i].seg->rank;
        loc->rep[i].medium = o->rep[i].seg->medium;
        loc->rep[i].gva = o->rep[i].seg->gva + o->rep[i].off;
    }
}

static void loc_error(int32_t status, mmc_loc_t *loc)
{
    memset(loc, 0, sizeof(*loc));
    loc->status = status;
}

/* ---------- placement ---------- */

typedef struct meta_order {
    meta_seg_t **seg;
    uint32_t nhead; /* preferred (or the writer's own) segments, tried in this order */
    uint32_t n;     /* then seg[nhead..n) from a rotating start */
} meta_order_t;

static bool order_has(const meta_order_t *o, const meta_seg_t *s)
{
    for (uint32_t i = 0; i < o->n; i++)
        if (o->seg[i] == s) return true;
    return false;
}

static int32_t order_build(meta_core_t *c, const mmc_req_t *r, uint16_t m, meta_order_t *o)
{
    o->seg = calloc(c->nsegs ? c->nsegs : 1, sizeof(*o->seg));
    if (o->seg == NULL) return util_err_set(MMC_MALLOC_FAILED, "PUT_START: out of memory");
    o->n = 0;
    if (r->npref > 0) {
        for (uint32_t i = 0; i < r->npref; i++) {
            meta_seg_t *s = meta_seg_find(c, (uint32_t)r->pref[i], m);
            if (s != NULL && !order_has(o, s)) o->seg[o->n++] = s;
        }
    } else if (r->rank != UINT32_MAX) {
        meta_seg_t *s = meta_seg_find(c, r->rank, m);
        if (s != NULL) o->seg[o->n++] = s;
    }
    o->nhead = o->n;
    for (util_link_t *l = c->segs.next; l != &c->segs; l = l->next) {
        meta_seg_t *s = UTIL_CONTAINER_OF(l, meta_seg_t, node);
        if (s->medium == m && !order_has(o, s)) o->seg[o->n++] = s;
    }
    return MMC_OK;
}

/* One attempt to place `want` replicas on distinct LocalServices (a segment
 * is one (rank, medium), so distinct segments of one medium are distinct
 * ranks). All or nothing. */
static bool place_try(meta_core_t *c, const meta_order_t *ord, uint64_t size, uint8_t want, meta_obj_t *o)
{
    uint32_t nrest = ord->n - ord->nhead;
    uint32_t start = nrest ? c->rr++ % nrest : 0;
    o->nrep = 0;
    for (uint32_t k = 0; k < ord->n && o->nrep < want; k++) {
        uint32_t i = k < ord->nhead ? k : ord->nhead + (start + (k - ord->nhead)) % nrest;
        meta_seg_t *s = ord->seg[i];
        uint64_t off;
        if (meta_heap_alloc(&s->heap, size, &off) != MMC_OK) continue;
        c->media[s->medium].used += meta_heap_round(size);
        o->rep[o->nrep].seg = s;
        o->rep[o->nrep].off = off;
        o->nrep++;
    }
    if (o->nrep == want) return true;
    obj_release_all(c, o);
    return false;
}

static int32_t place(meta_core_t *c, const meta_order_t *ord, uint16_t m, uint64_t size, uint8_t want,
                     meta_obj_t *o)
{
    uint64_t need = meta_heap_round(size);
    uint32_t fit = 0;
    for (uint32_t i = 0; i < ord->n; i++)
        if (meta_heap_total(&ord->seg[i]->heap) >= need) fit++;
    if (fit < want) return MMC_EXCEEDS_CAPACITY;
    for (;;) {
        if (place_try(c, ord, size, want, o)) {
            o->medium = m;
            return MMC_OK;
        }
        /* evict_high 100: eviction is off, a full pool is the writer's answer. */
        if (c->opts.evict_high >= 100) return MMC_NOT_ENOUGH_MEMORY;
        /* Synchronous eviction: free at least what this object needs, then retry. */
        meta_media_t *md = &c->media[m];
        uint64_t target = md->used > need * want ? md->used - need * want : 0;
        if (meta_evict(c, m, target, true) == 0) return MMC_NOT_ENOUGH_MEMORY;
    }
}

/* Room for the shadow key (META_SHADOW_EXTRA more bytes) in every object: an upsert renames in place. */
static meta_obj_t *obj_new(const mmc_key_ref_t *k, uint64_t hash, uint8_t nslot)
{
    meta_obj_t *o = calloc(1, sizeof(*o) + nslot * sizeof(o->rep[0]) + k->len + META_SHADOW_EXTRA + 1);
    if (o == NULL) return NULL;
    o->nslot = nslot;
    memcpy(meta_obj_key(o), k->p, k->len);
    o->klen = (uint16_t)k->len;
    o->hash = hash;
    util_list_init(&o->link);
    return o;
}

/* The shadow key of (key, owner) into buf (MMC_KEY_MAX + META_SHADOW_EXTRA bytes). */
static mmc_key_ref_t shadow_key(const mmc_key_ref_t *k, uint64_t owner, char *buf)
{
    memcpy(buf, k->p, k->len);
    buf[k->len] = '\0';
    for (uint32_t i = 0; i < 8; i++) buf[k->len + 1 + i] = (char)(uint8_t)(owner >> (8 * i));
    return (mmc_key_ref_t){buf, k->len + META_SHADOW_EXTRA};
}

void meta_obj_put_start(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, util_wbuf_t *w)
{
    static const uint16_t any_order[] = {MMC_MEDIA_DRAM, MMC_MEDIA_HBM};
    meta_order_t ord[MMC_MEDIA_COUNT] = {{0}};
    const uint16_t *media = r->medium == MMC_MEDIA_NONE ? any_order : &r->medium;
    uint32_t nmedia = r->medium == MMC_MEDIA_NONE ? 2 : 1;
    uint64_t now = meta_now(c);
    uint64_t *hs = NULL;
    obj_ahead_t ahead;
    mmc_loc_t loc;

    mmc_resp_locs_begin(w, 0, c->opts.put_timeout_ms, r->n);
    for (uint32_t i = 0; i < nmedia; i++) {
        if (order_build(c, r, media[i], &ord[media[i]]) != MMC_OK) {
            for (uint32_t k = 0; k < r->n; k++) {
                loc_error(MMC_MALLOC_FAILED, &loc);
                mmc_resp_loc_encode(w, &loc);
            }
            goto free_orders;
        }
    }
    hs = obj_hashes(r);
    obj_ahead_init(&ahead);
    for (uint32_t k = 0; k < r->n; k++) {
        const mmc_key_ref_t *key = &r->keys[k];
        uint64_t h = obj_hash(hs, r, k);
        const meta_index_pos_t *place_k = obj_ahead(c, r, hs, &ahead, k);
        meta_obj_t *o = meta_table_find(&c->table, key->p, key->len, h);
        bool shadow = false;
        char sbuf[MMC_KEY_MAX + META_SHADOW_EXTRA];
        mmc_key_ref_t skey = *key;
        if (o != NULL && (r->flags & MMC_PF_UPSERT)) { /* READY, or WRITING: both get a value of their own */
            skey = shadow_key(key, r->owner, sbuf);
            h = meta_key_hash(skey.p, skey.len);
            shadow = true;
            place_k = NULL;
            o = meta_table_find(&c->table, skey.p, skey.len, h); /* this upsert's token is already writing it */
        }
        if (o != NULL) {
            /* A put of a key being written (or a repeated upsert token): nothing to write. An upsert must not
             * look done when it is not: it answers not ready. */
            loc_error((r->flags & MMC_PF_UPSERT) ? MMC_OBJECT_NOT_READY : MMC_DUPLICATED_OBJECT, &loc);
            loc.state = o->state;
            mmc_resp_loc_encode(w, &loc);
            continue;
        }
        o = obj_new(&skey, h, r->replicas);
        if (o == NULL) {
            loc_error(MMC_MALLOC_FAILED, &loc);
            mmc_resp_loc_encode(w, &loc);
            continue;
        }
        o->size = r->sizes[k];
        int32_t rc = MMC_EXCEEDS_CAPACITY;
        for (uint32_t i = 0; i < nmedia && rc != MMC_OK; i++)
            rc = place(c, &ord[media[i]], media[i], o->size, r->replicas, o);
        if (rc != MMC_OK) {
            free(o);
            loc_error(rc, &loc);
            mmc_resp_loc_encode(w, &loc);
            continue;
        }
        if (meta_table_insert(&c->table, o, place_k) != MMC_OK) {
            LOG_ERROR("meta: PUT_START of '%s' from %s: %s", meta_obj_key(o), p->name, util_err_get());
            obj_release_all(c, o);
            free(o);
            loc_error(MMC_MALLOC_FAILED, &loc);
            mmc_resp_loc_encode(w, &loc);
            continue;
        }
        o->state = MMC_STATE_WRITING;
        o->flags = (uint8_t)((shadow ? META_OBJ_SHADOW : 0) | ((r->flags & MMC_PF_SOFT_PIN) ? META_OBJ_SOFT_PIN : 0) |
                             ((r->flags & MMC_PF_HARD_PIN) ? META_OBJ_HARD_PIN : 0));
        o->writer = p;
        o->writer_owner = r->owner;
        o->deadline_ms = now + c->opts.put_timeout_ms;
        util_list_add_tail(&c->writing, &o->link);
        c->nwriting++;
        loc_fill(o, MMC_OK, &loc);
        mmc_resp_loc_encode(w, &loc);
    }
free_orders:
    free(hs);
    for (uint32_t i = 0; i < MMC_MEDIA_COUNT; i++) free(ord[i].seg);
}

/* Renames o (in the table under key) to key's shadow of o's writer token; on failure o is revoked. */
static void shadow_demote(meta_core_t *c, meta_obj_t *o, const mmc_key_ref_t *key)
{
    char sbuf[MMC_KEY_MAX + META_SHADOW_EXTRA];
    mmc_key_ref_t sk = shadow_key(key, o->writer_owner, sbuf);
    meta_table_remove(&c->table, o);
    memcpy(meta_obj_key(o), sk.p, sk.len);
    meta_obj_key(o)[sk.len] = '\0';
    o->klen = (uint16_t)sk.len;
    o->hash = meta_key_hash(sk.p, sk.len);
    o->flags |= META_OBJ_SHADOW;
    if (meta_table_find(&c->table, sk.p, sk.len, o->hash) == NULL && meta_table_insert(&c->table, o, NULL) == MMC_OK)
        return;
    LOG_WARN("meta: put of '%s' in flight was revoked: an upsert finished first and the put could not be kept "
             "aside", meta_obj_key(o));
    util_list_del(&o->link); /* not in the table any more: meta_obj_drop's removal finds nothing */
    c->nwriting--;
    obj_release_all(c, o);
    free(o);
    c->puts_revoked++;
}

/* PUT_END of an upsert's shadow s: the live object (if any) leaves (its readers keep its space until their
 * leases end) and s becomes the key, still WRITING (the caller publishes it). A live object still being
 * written (its put or upsert started first, finishes later) is set aside as its own writer's shadow, so its
 * PUT_END swaps it in then: the last to finish wins. MMC_OK, or MMC_MALLOC_FAILED when the key index cannot
 * take s (then s is dropped and the key is gone: the old value had left first, since the index holds one
 * object per key). */
static int32_t shadow_swap(meta_core_t *c, meta_obj_t *s, const mmc_key_ref_t *key, uint64_t h)
{
    meta_obj_t *old = meta_table_find(&c->table, key->p, key->len, h);
    if (old != NULL && old->state == MMC_STATE_WRITING) {
        shadow_demote(c, old, key);
        old = NULL;
    }
    if (old != NULL) {
        meta_obj_drop(c, old); /* leased: REMOVING, freed by its last lease */
        c->removes++;
    }
    meta_table_remove(&c->table, s);
    s->klen = (uint16_t)key->len;
    s->hash = h;
    s->flags &= (uint8_t)~META_OBJ_SHADOW;
    if (meta_table_insert(&c->table, s, NULL) != MMC_OK) {
        LOG_ERROR("meta: upsert of '%s': %s; the new value is dropped", meta_obj_key(s), util_err_get());
        util_list_del(&s->link);
        c->nwriting--;
        obj_release_all(c, s);
        free(s);
        c->puts_revoked++;
        return MMC_MALLOC_FAILED;
    }
    return MMC_OK;
}

void meta_obj_put_end(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, int32_t *st)
{
    (void)p; /* the token decides, not the link: a writer that reconnected finishes on its new one */
    uint64_t *hs = obj_hashes(r);
    for (uint32_t k = 0; k < r->n; k++) {
        (void)obj_ahead(c, r, hs, NULL, k);
        char sbuf[MMC_KEY_MAX + META_SHADOW_EXTRA];
        mmc_key_ref_t skey = shadow_key(&r->keys[k], r->owner, sbuf);
        meta_obj_t *o = meta_table_find(&c->table, skey.p, skey.len, meta_key_hash(skey.p, skey.len));
        if (o != NULL && o->writer_owner == r->owner) {
            if (r->results[k] != 0) {
                st[k] = MMC_OK;
                meta_obj_drop(c, o);
                c->puts_revoked++;
                continue;
            }
            st[k] = shadow_swap(c, o, &r->keys[k], obj_hash(hs, r, k));
            if (st[k] != MMC_OK) continue;
        } else {
            o = meta_table_find(&c->table, r->keys[k].p, r->keys[k].len, obj_hash(hs, r, k));
        }
        if (o == NULL) {
            st[k] = MMC_KEY_NOT_FOUND; /* revoked (timeout, lost segment) or never started */
            continue;
        }
        if (o->state != MMC_STATE_WRITING || o->writer_owner != r->owner) { /* READY, or another client's put */
            st[k] = MMC_UNMATCHED_STATE;
            continue;
        }
        st[k] = MMC_OK;
        if (r->results[k] != 0) {
            meta_obj_drop(c, o);
            c->puts_revoked++;
            continue;
        }
        util_list_del(&o->link);
        c->nwriting--;
        o->state = MMC_STATE_READY;
        o->writer = NULL;
        o->writer_owner = 0;
        o->deadline_ms = (o->flags & META_OBJ_SOFT_PIN) ? meta_now(c) + c->opts.soft_pin_ttl_ms : 0;
        util_list_add_head(&c->media[o->medium].lru, &o->link);
        c->media[o->medium].objects++;
        c->puts++;
        c->bytes_put += o->size;
    }
    free(hs);
}

/* ---------- leases ---------- */

static size_t lease_bucket(const meta_core_t *c, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (c->lease_nb - 1);
}

static meta_lease_t **lease_slot(meta_core_t *c, uint64_t id)
{
    meta_lease_t **pp = &c->lease_tab[lease_bucket(c, id)];
    while (*pp != NULL && (*pp)->id != id) pp = &(*pp)->hnext;
    return pp;
}

meta_lease_t *meta_lease_find(const meta_core_t *c, uint64_t id)
{
    if (c->lease_nb == 0) return NULL;
    meta_lease_t *l = c->lease_tab[lease_bucket(c, id)];
    while (l != NULL && l->id != id) l = l->hnext;
    return l;
}

static void lease_tab_grow(meta_core_t *c)
{
    size_t nb = c->lease_nb ? c->lease_nb * 2 : META_LEASE_TAB_MIN;
    meta_lease_t **tab = calloc(nb, sizeof(*tab));
    if (tab == NULL) return;
    meta_lease_t **old = c->lease_tab;
    size_t onb = c->lease_nb;
    c->lease_tab = tab;
    c->lease_nb = nb;
    for (size_t i = 0; i < onb; i++) {
        meta_lease_t *l = old[i];
        while (l != NULL) {
            meta_lease_t *next = l->hnext;
            meta_lease_t **pp = lease_slot(c, l->id);
            l->hnext = NULL;
            *pp = l;
            l = next;
        }
    }
    free(old);
}

static void lease_end(meta_core_t *c, meta_lease_t *l)
{
    meta_lease_t **pp = lease_slot(c, l->id);
    if (*pp == l) *pp = l->hnext;
    util_list_del(&l->node);
    c->nleases--;
    for (uint32_t i = 0; i < l->n; i++) {
        meta_obj_t *o = l->objs[i].obj;
        if (--o->leases == 0 && o->state == MMC_STATE_REMOVING) zombie_free(c, o);
    }
    free(l);
}

int32_t meta_lease_release_id(meta_core_t *c, meta_peer_t *p, uint64_t owner, uint64_t id)
{
    meta_lease_t *l = meta_lease_find(c, id);
    if (l == NULL) { /* expired, released already, or granted by another MetaService instance */
        c->leases_lost++;
        return MMC_LEASE_LOST;
    }
    if (l->owner != owner) {
        LOG_WARN("meta: %s tried to release lease %llx of another client; refused, the lease stays", p->name,
                 (unsigned long long)id);
        c->leases_refused++;
        return MMC_LEASE_NOT_OWNER;
    }
    int32_t st = MMC_OK;
    uint64_t now = meta_now(c);
    if (l->expiry_ms <= now) { /* the timer has not run yet; the space may be reused any moment */
        LOG_DEBUG("meta: lease %llx of %s released %llu ms after its expiry", (unsigned long long)id, p->name,
                  (unsigned long long)(now - l->expiry_ms));
        st = MMC_LEASE_LOST;
    }
    for (uint32_t i = 0; i < l->n && st == MMC_OK; i++) {
        if (l->objs[i].obj->losses != l->objs[i].losses) {
            LOG_INFO("meta: lease %llx of %s: '%s' lost a replica while leased; the read is not proven",
                     (unsigned long long)id, p->name, meta_obj_key(l->objs[i].obj));
            st = MMC_LEASE_LOST;
        }
    }
    if (st != MMC_OK) c->leases_lost++;
    lease_end(c, l);
    return st;
}

/* ---------- get / exist / query / remove ---------- */

static const uint8_t *requester_host(const meta_core_t *c, const mmc_req_t *r)
{
    static const uint8_t zero[MMC_HOST_ID_SIZE];
    if (memcmp(r->host, zero, MMC_HOST_ID_SIZE) != 0) return r->host;
    for (util_link_t *l = c->segs.next; l != &c->segs; l = l->next) {
        const meta_seg_t *s = UTIL_CONTAINER_OF(l, meta_seg_t, node);
        if (s->rank == r->rank && memcmp(s->host, zero, MMC_HOST_ID_SIZE) != 0) return s->host;
    }
    return NULL;
}

static void lease_grant(meta_core_t *c, meta_lease_t *lease, uint64_t owner, uint64_t now);
static void lease_add(meta_lease_t *lease, meta_obj_t *o);

void meta_obj_get(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, util_wbuf_t *w)
{
    (void)p;
    size_t start = w->len;
    uint64_t now = meta_now(c);
    const uint8_t *host = requester_host(c, r);
    mmc_loc_t loc;
    meta_lease_t *lease = malloc(sizeof(*lease) + (size_t)r->n * sizeof(lease->objs[0]));
    if (lease != NULL) lease->n = 0;

    mmc_resp_locs_begin(w, 0, c->opts.lease_ttl_ms, r->n);
    for (uint32_t k = 0; k < r->n; k++) {
        meta_obj_t *o = obj_find(c, &r->keys[k]);
        c->gets++;
        if (o == NULL || o->state != MMC_STATE_READY || lease == NULL) {
            c->get_misses++;
            /* A key whose put has not finished: the seed's state-mismatch code, which its GVA readers
             * (batch_add_lease) test for; the data get path of the client reports it as not ready. */
            loc_error(lease == NULL ? MMC_MALLOC_FAILED : o == NULL ? MMC_KEY_NOT_FOUND : MMC_UNMATCHED_STATE,
                      &loc);
            mmc_resp_loc_encode(w, &loc);
            continue;
        }
        c->get_hits++;
        c->bytes_got += o->size;
        util_list_del(&o->link);
        util_list_add_head(&c->media[o->medium].lru, &o->link);
        loc_fill(o, MMC_OK, &loc);
        if (host != NULL) { /* same-host replicas first, otherwise placement order */
            mmc_replica_t near[MMC_REPLICA_MAX], far[MMC_REPLICA_MAX];
            uint32_t nn = 0, nf = 0;
            for (uint32_t i = 0; i < o->nrep; i++) {
                if (memcmp(o->rep[i].seg->host, host, MMC_HOST_ID_SIZE) == 0)
                    near[nn++] = loc.rep[i];
                else
                    far[nf++] = loc.rep[i];
            }
            memcpy(loc.rep, near, nn * sizeof(near[0]));
            memcpy(loc.rep + nn, far, nf * sizeof(far[0]));
        }
        lease_add(lease, o);
        loc.leases = o->leases;
        mmc_resp_loc_encode(w, &loc);
    }
    if (lease == NULL) return;
    if (lease->n == 0) {
        free(lease);
        return;
    }
    lease_grant(c, lease, r->owner, now); /* owner, not the link p: the reader may come back on another one */
    if (!w->err) util_put_le64(w->p + start + MMC_PROTO_PROLOGUE, lease->id);
}

/* Makes lease (its objs filled, their counts raised) live until now + lease ttl, or frees it when it names
 * nothing. owner 0: no client can release it, it only expires (EXIST / QUERY with MMC_PF_LEASE). */
static void lease_grant(meta_core_t *c, meta_lease_t *lease, uint64_t owner, uint64_t now)
{
    if (lease->n == 0) {
        free(lease);
        return;
    }
    if (c->nleases >= c->lease_nb) lease_tab_grow(c);
    /* Unguessable and never handed out twice while live; a new instance draws fresh ones. */
    do {
        lease->id = meta_core_rand(c);
    } while (lease->id == 0 || *lease_slot(c, lease->id) != NULL);
    lease->owner = owner;
    lease->expiry_ms = now + c->opts.lease_ttl_ms;
    lease->hnext = NULL;
    *lease_slot(c, lease->id) = lease;
    util_list_add_tail(&c->leases, &lease->node);
    c->nleases++;
}

static void lease_add(meta_lease_t *lease, meta_obj_t *o)
{
    o->leases++;
    lease->objs[lease->n].obj = o;
    lease->objs[lease->n].losses = o->losses;
    lease->n++;
}

/* A lease for up to n objects when r asks for one (MMC_PF_LEASE), else NULL. */
static meta_lease_t *lease_new_for(const mmc_req_t *r, bool *oom)
{
    *oom = false;
    if (!(r->flags & MMC_PF_LEASE)) return NULL;
    meta_lease_t *l = malloc(sizeof(*l) + (size_t)r->n * sizeof(l->objs[0]));
    if (l == NULL) {
        *oom = true;
        return NULL;
    }
    l->n = 0;
    return l;
}

void meta_obj_exist(meta_core_t *c, const mmc_req_t *r, int32_t *st)
{
    bool oom;
    meta_lease_t *lease = lease_new_for(r, &oom);
    for (uint32_t k = 0; k < r->n; k++) {
        meta_obj_t *o = obj_find(c, &r->keys[k]);
        if (o == NULL) {
            st[k] = MMC_KEY_NOT_FOUND;
        } else if (o->state != MMC_STATE_READY) {
            st[k] = MMC_OBJECT_NOT_READY;
        } else if (oom) {
            st[k] = MMC_MALLOC_FAILED;
        } else {
            st[k] = MMC_OK;
            if (lease != NULL) lease_add(lease, o);
        }
    }
    if (lease != NULL) lease_grant(c, lease, 0, meta_now(c));
}

void meta_obj_query(meta_core_t *c, const mmc_req_t *r, util_wbuf_t *w)
{
    bool oom;
    size_t start = w->len;
    mmc_loc_t loc;
    meta_lease_t *lease = lease_new_for(r, &oom);
    mmc_resp_locs_begin(w, 0, lease != NULL ? c->opts.lease_ttl_ms : 0, r->n);
    for (uint32_t k = 0; k < r->n; k++) {
        meta_obj_t *o = obj_find(c, &r->keys[k]);
        if (o == NULL) {
            loc_error(MMC_KEY_NOT_FOUND, &loc);
        } else if (oom && o->state == MMC_STATE_READY) {
            loc_error(MMC_MALLOC_FAILED, &loc);
        } else {
            if (lease != NULL && o->state == MMC_STATE_READY) lease_add(lease, o);
            loc_fill(o, MMC_OK, &loc);
        }
        mmc_resp_loc_encode(w, &loc);
    }
    if (lease == NULL) return;
    bool any = lease->n > 0;
    lease_grant(c, lease, 0, meta_now(c));
    if (any && !w->err) util_put_le64(w->p + start + MMC_PROTO_PROLOGUE, lease->id);
}

int32_t meta_obj_remove(meta_core_t *c, const mmc_key_ref_t *k, bool force)
{
    meta_obj_t *o = obj_find(c, k);
    if (o == NULL) return MMC_KEY_NOT_FOUND;
    if (o->state != MMC_STATE_READY) return MMC_UNMATCHED_STATE; /* a put is in flight: its writer decides */
    if (o->leases > 0 && !force) return MMC_LEASE_NOT_EXPIRED;
    meta_obj_drop(c, o);
    c->removes++;
    return MMC_OK;
}

void meta_obj_remove_all(meta_core_t *c, bool force, uint64_t *removed, uint64_t *deferred)
{
    uint64_t nr = 0, nd = 0;
    for (uint32_t m = 0; m < MMC_MEDIA_COUNT; m++) {
        util_link_t *h = &c->media[m].lru;
        for (util_link_t *n = h->next; n != h;) {
            meta_obj_t *o = UTIL_CONTAINER_OF(n, meta_obj_t, link);
            n = n->next;
            if (o->leases > 0) {
                nd++;
                if (!force) continue; /* kept: counted as deferred */
            } else {
                nr++;
            }
            meta_obj_drop(c, o);
            c->removes++;
        }
    }
    *removed = nr;
    *deferred = nd;
}

int32_t meta_obj_remove_regex(meta_core_t *c, const mmc_req_t *r, uint64_t *removed, uint64_t *deferred, bool *more,
                              char *cur, uint32_t *curlen)
{
    char pat[MMC_KEY_MAX + 1], key[MMC_KEY_MAX + META_SHADOW_EXTRA + 1];
    regex_t re;
    memcpy(pat, r->prefix.p, r->prefix.len);
    pat[r->prefix.len] = '\0';
    int e = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB);
    if (e != 0) {
        char msg[128];
        regerror(e, &re, msg, sizeof(msg));
        return util_err_set(MMC_INVALID_PARAM, "REMOVE_ALL: regex '%s' does not compile: %s", pat, msg);
    }
    /* Matching happens on a copy of each key first: the walk must not be left on an object it freed. Keys looked
     * at are collected, then removed (the iterator is not valid across removes). */
    meta_obj_t **hit = malloc((size_t)r->limit * sizeof(*hit));
    if (hit == NULL) {
        regfree(&re);
        return util_err_set(MMC_MALLOC_FAILED, "REMOVE_ALL: out of memory for %u keys", r->limit);
    }
    meta_index_iter_t it;
    meta_index_seek(&c->table.idx, r->after.p, r->after.len, r->after.len > 0, &it);
    uint32_t seen = 0, nhit = 0;
    meta_obj_t *o = NULL;
    *curlen = 0;
    while (seen < r->limit && (o = meta_index_next(&it)) != NULL) {
        if (o->flags & META_OBJ_SHADOW) continue; /* its key holds a NUL: never a cursor, not counted */
        seen++;
        memcpy(cur, meta_obj_key(o), o->klen);
        *curlen = o->klen;
        if (o->state != MMC_STATE_READY) continue;
        memcpy(key, meta_obj_key(o), o->klen);
        key[o->klen] = '\0';
        if (regexec(&re, key, 0, NULL, 0) == 0) hit[nhit++] = o;
    }
    *more = seen == r->limit && meta_index_next(&it) != NULL;
    uint64_t nr = 0, nd = 0;
    for (uint32_t i = 0; i < nhit; i++) {
        o = hit[i];
        if (o->leases > 0) {
            nd++;
            if (!(r->flags & MMC_PF_FORCE)) continue;
        } else {
            nr++;
        }
        meta_obj_drop(c, o);
        c->removes++;
    }
    free(hit);
    regfree(&re);
    *removed = nr;
    *deferred = nd;
    return MMC_OK;
}

/* ---------- expiry, revocation, eviction ---------- */

uint32_t meta_obj_writer_gone(meta_core_t *c, meta_peer_t *p, bool paused)
{
    uint32_t kept = 0;
    for (util_link_t *n = c->writing.next; n != &c->writing;) {
        meta_obj_t *o = UTIL_CONTAINER_OF(n, meta_obj_t, link);
        n = n->next;
        if (o->writer != p) continue;
        if (paused) { /* it may still be copying into the space: keep it until the deadline */
            o->writer = NULL;
            kept++;
            continue;
        }
        LOG_INFO("meta: put of '%s' revoked: writer %s disconnected", meta_obj_key(o), p->name);
        meta_obj_drop(c, o);
        c->puts_revoked++;
    }
    return kept;
}

void meta_obj_expire(meta_core_t *c, uint64_t now)
{
    /* Both lists are in deadline order: every put and lease gets the same timeout. */
    while (!util_list_empty(&c->writing)) {
        meta_obj_t *o = UTIL_CONTAINER_OF(c->writing.next, meta_obj_t, link);
        if (o->deadline_ms > now) break;
        LOG_WARN("meta: put of '%s' (%llu bytes) revoked: no PUT_END from %s within %u ms", meta_obj_key(o),
                 (unsigned long long)o->size, o->writer ? o->writer->name : "-", c->opts.put_timeout_ms);
        meta_obj_drop(c, o);
        c->puts_revoked++;
    }
    while (!util_list_empty(&c->leases)) {
        meta_lease_t *l = UTIL_CONTAINER_OF(c->leases.next, meta_lease_t, node);
        if (l->expiry_ms > now) break;
        lease_end(c, l);
    }
}

/* Bytes of medium m that retired (REMOVING) objects still hold for their readers. */
static uint64_t zombie_bytes(const meta_core_t *c, uint16_t m)
{
    uint64_t b = 0;
    for (const util_link_t *n = c->zombies.next; n != &c->zombies; n = n->next) {
        const meta_obj_t *o = UTIL_CONTAINER_OF(n, meta_obj_t, link);
        for (uint32_t i = 0; i < o->nrep; i++)
            if (o->rep[i].seg != NULL && o->rep[i].seg->medium == m) b += meta_heap_round(o->size);
    }
    return b;
}

/* Whether eviction pass `pass` may take o: 0 unpinned (or a soft pin past its ttl), 1 soft-pinned too. Hard
 * pins never. */
static bool evictable(const meta_obj_t *o, int pass, uint64_t now)
{
    if (o->flags & META_OBJ_HARD_PIN) return false;
    if (!(o->flags & META_OBJ_SOFT_PIN) || o->deadline_ms <= now) return true;
    return pass > 0;
}

uint64_t meta_evict(meta_core_t *c, uint16_t m, uint64_t target, bool retire_leased)
{
    meta_media_t *md = &c->media[m];
    uint64_t before = md->used, now = meta_now(c);
    util_link_t *n;
    /* Soft pins (pass 1) only when no unpinned object could go: a put that still does not fit calls again. */
    for (int pass = 0; pass < 2 && md->used > target && (pass == 0 || md->used == before); pass++) {
        n = md->lru.prev;
        while (md->used > target && n != &md->lru) {
            meta_obj_t *o = UTIL_CONTAINER_OF(n, meta_obj_t, link);
            n = n->prev;
            if (o->leases > 0 || !evictable(o, pass, now)) continue; /* being read, or pinned */
            meta_obj_drop(c, o);
            md->evictions++;
            c->evictions++;
        }
    }
    /* Retiring leased objects is the last resort: not while this call freed anything (the caller retries). */
    if (!retire_leased || md->used <= target || md->used != before) return before - md->used;
    /* Only leased objects are left to take: retire them; their space comes back as their leases end. */
    uint64_t pending = zombie_bytes(c, m);
    uint32_t retired = 0;
    for (n = md->lru.prev; n != &md->lru && md->used > target + pending;) {
        meta_obj_t *o = UTIL_CONTAINER_OF(n, meta_obj_t, link);
        n = n->prev;
        if ((o->flags & META_OBJ_HARD_PIN) || o->leases == 0) continue; /* never / pinned and left by the passes */
        uint64_t held = 0;
        for (uint32_t i = 0; i < o->nrep; i++)
            if (o->rep[i].seg != NULL && o->rep[i].seg->medium == m) held += meta_heap_round(o->size);
        meta_obj_drop(c, o); /* leased: becomes REMOVING, freed by its last lease */
        pending += held;
        md->evictions++;
        c->evictions++;
        retired++;
    }
    if (retired > 0)
        LOG_INFO("meta: medium %u is full of leased objects: retired %u of them (%llu bytes come free as their leases "
                 "end, within %u ms)",
                 m, retired, (unsigned long long)pending, c->opts.lease_ttl_ms);
    return before - md->used;
}

void meta_obj_free_all(meta_core_t *c)
{
    while (!util_list_empty(&c->leases)) {
        meta_lease_t *l = UTIL_CONTAINER_OF(c->leases.next, meta_lease_t, node);
        util_list_del(&l->node);
        free(l);
    }
    free(c->lease_tab);
    c->lease_tab = NULL;
    c->lease_nb = 0;
    c->nleases = 0;
    for (size_t b = 0; b < c->table.nb; b++) {
        meta_obj_t *o = c->table.b[b];
        while (o != NULL) {
            meta_obj_t *next = o->hnext;
            free(o);
            o = next;
        }
        c->table.b[b] = NULL;
    }
    c->table.n = 0;
    meta_index_fini(&c->table.idx); /* it named the objects just freed */
    while (!util_list_empty(&c->zombies)) {
        meta_obj_t *o = UTIL_CONTAINER_OF(c->zombies.next, meta_obj_t, link);
        util_list_del(&o->link);
        free(o);
    }
}
