/* MetaService core: peers, request dispatch, timers, snapshots. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "memcache/meta/meta_int.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

static uint64_t meta_clock_default(void *arg)
{
    (void)arg;
    return util_now_ms();
}

uint64_t meta_core_rand(meta_core_t *c)
{
    if (c->opts.rand64 != NULL) return c->opts.rand64(c->opts.rand_arg);
    if (c->nrnd == 0) {
        ssize_t n;
        do {
            n = getrandom(c->rnd, sizeof(c->rnd), 0);
        } while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof(c->rnd)) {
            /* No kernel entropy (pre-3.17): ids stay unique but become guessable; the owner check still holds. */
            LOG_ERROR("meta: getrandom failed (%s); lease ids fall back to the clock", n < 0 ? strerror(errno) : "short");
            for (uint32_t i = 0; i < 32; i++) {
                uint64_t x = util_now_ns() + i * 0x9E3779B97F4A7C15ull;
                x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
                c->rnd[i] = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
            }
        }
        c->nrnd = 32;
    }
    return c->rnd[--c->nrnd];
}

void meta_core_opts_init(meta_core_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->lease_ttl_ms = 10000;
    o->put_timeout_ms = 30000;
    o->soft_pin_ttl_ms = 1800000;
    o->evict_high = 90;
    o->evict_low = 80;
}

int32_t meta_core_create(const meta_core_opts_t *opts, const meta_core_ops_t *ops, meta_core_t **out)
{
    if (opts == NULL || ops == NULL || ops->send == NULL || ops->close == NULL || out == NULL)
        return util_err_set(MMC_INVALID_PARAM, "meta_core_create: NULL argument");
    if (opts->evict_low >= opts->evict_high || opts->evict_high > 100 || opts->lease_ttl_ms == 0 ||
        opts->put_timeout_ms == 0)
        return util_err_set(MMC_INVALID_PARAM,
                            "meta_core_create: watermarks %u/%u (need low < high <= 100), lease %u ms, put "
                            "timeout %u ms (need > 0)",
                            opts->evict_low, opts->evict_high, opts->lease_ttl_ms, opts->put_timeout_ms);
    meta_core_t *c = calloc(1, sizeof(*c));
    if (c == NULL) return util_err_set(MMC_MALLOC_FAILED, "meta_core_create: out of memory");
    c->opts = *opts;
    if (c->opts.clock == NULL) c->opts.clock = meta_clock_default;
    c->ops = *ops;
    c->lease_nb = 256;
    c->lease_tab = calloc(c->lease_nb, sizeof(*c->lease_tab));
    if (c->lease_tab == NULL || meta_table_init(&c->table) != MMC_OK) {
        free(c->lease_tab);
        free(c);
        return util_err_set(MMC_MALLOC_FAILED, "meta_core_create: out of memory");
    }
    util_list_init(&c->writing);
    util_list_init(&c->zombies);
    util_list_init(&c->peers);
    util_list_init(&c->segs);
    util_list_init(&c->leases);
    util_list_init(&c->copies);
    util_list_init(&c->dead_reps);
    for (uint32_t m = 0; m < MMC_MEDIA_COUNT; m++) util_list_init(&c->media[m].lru);
    c->next_peer_id = 1;
    c->start_ms = meta_now(c);
    /* Distinguishes restarts for LocalServices (HEARTBEAT): a new instance has none of their mounts. */
    do {
        c->instance = meta_core_rand(c);
    } while (c->instance == 0);
    *out = c;
    return MMC_OK;
}

void meta_core_destroy(meta_core_t *c)
{
    if (c == NULL) return;
    meta_replica_free_all(c);
    meta_obj_free_all(c);
    while (!util_list_empty(&c->segs)) {
        meta_seg_t *s = UTIL_CONTAINER_OF(c->segs.next, meta_seg_t, node);
        util_list_del(&s->node);
        meta_heap_fini(&s->heap);
        free(s);
    }
    while (!util_list_empty(&c->peers)) {
        meta_peer_t *p = UTIL_CONTAINER_OF(c->peers.next, meta_peer_t, node);
        util_list_del(&p->node);
        free(p);
    }
    meta_table_fini(&c->table);
    free(c);
}

meta_peer_t *meta_core_peer_open(meta_core_t *c, void *link, const char *name)
{
    meta_peer_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    p->link = link;
    p->id = c->next_peer_id++;
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "?");
    do {
        p->challenge = meta_core_rand(c);
    } while (p->challenge == 0);
    util_list_add_tail(&c->peers, &p->node);
    c->npeers++;
    return p;
}

void meta_core_peer_close(meta_core_t *c, meta_peer_t *p, int32_t reason)
{
    /* Leases are left alone: a reader paused past the heartbeat timeout may still be copying. */
    uint32_t kept = meta_obj_writer_gone(c, p, reason == SMEM_TIMEOUT);
    if (kept > 0)
        LOG_INFO("meta: link %s closed (%s): its %u puts stay until their deadline (the writer may come back)",
                 p->name, util_strerror(reason), kept);
    uint32_t nseg = 0;
    for (util_link_t *l = c->segs.next; l != &c->segs;) {
        meta_seg_t *s = UTIL_CONTAINER_OF(l, meta_seg_t, node);
        l = l->next;
        if (s->owner == p) {
            meta_seg_detach(c, s, NULL, NULL);
            nseg++;
        }
    }
    if (nseg > 0)
        LOG_WARN("meta: link %s closed (%s): its %u segments were unmounted", p->name, util_strerror(reason), nseg);
    util_list_del(&p->node);
    c->npeers--;
    free(p);
}

void meta_core_tick(meta_core_t *c)
{
    meta_obj_expire(c, meta_now(c));
    meta_replica_expire(c, meta_now(c));
    for (uint16_t m = 0; m < MMC_MEDIA_COUNT; m++) {
        meta_media_t *md = &c->media[m];
        if (md->total == 0 || md->used * 100 <= md->total * c->opts.evict_high) continue;
        uint64_t freed = meta_evict(c, m, md->total / 100 * c->opts.evict_low, false);
        LOG_DEBUG("meta: background eviction on medium %u freed %llu bytes (now %llu of %llu used)", m,
                  (unsigned long long)freed, (unsigned long long)md->used, (unsigned long long)md->total);
    }
}

/* ---------- dispatch ---------- */

static int32_t meta_handle_status_list(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, util_wbuf_t *w)
{
    int32_t *st = malloc((size_t)r->n * sizeof(*st));
    if (st == NULL) return util_err_set(MMC_MALLOC_FAILED, "%s: out of memory for %u statuses", mmc_msg_name(r->type), r->n);
    switch (r->type) {
    case MMC_MSG_PUT_END: meta_obj_put_end(c, p, r, st); break;
    case MMC_MSG_LEASE_RELEASE:
        for (uint32_t i = 0; i < r->n; i++) st[i] = meta_lease_release_id(c, p, r->owner, r->ids[i]);
        break;
    case MMC_MSG_EXIST: meta_obj_exist(c, r, st); break;
    case MMC_MSG_REPLICA_END: st[0] = meta_replica_end(c, p, r); break;
    case MMC_MSG_REPLICA_CLEAR:
        for (uint32_t i = 0; i < r->n; i++) st[i] = meta_replica_clear(c, r->rank, &r->keys[i]);
        break;
    default: /* REMOVE */
        for (uint32_t i = 0; i < r->n; i++) st[i] = meta_obj_remove(c, &r->keys[i], (r->flags & MMC_PF_FORCE) != 0);
        break;
    }
    mmc_resp_status_encode(w, r->n, st);
    free(st);
    return MMC_OK;
}

static int32_t meta_handle(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, util_wbuf_t *w)
{
    int32_t rc;
    switch (r->type) {
    case MMC_MSG_MOUNT: {
        uint64_t usable;
        rc = meta_seg_mount(c, p, r, &usable);
        if (rc == MMC_OK) mmc_resp_mount_encode(w, usable);
        return rc;
    }
    case MMC_MSG_UNMOUNT: {
        uint32_t dropped, shrunk;
        rc = meta_seg_unmount(c, p, r->rank, r->medium, &dropped, &shrunk);
        if (rc == MMC_OK) mmc_resp_unmount_encode(w, dropped, shrunk);
        return rc;
    }
    case MMC_MSG_HEARTBEAT:
        mmc_resp_heartbeat_encode(w, meta_seg_count_peer(c, p), c->instance, p->challenge);
        return MMC_OK;
    case MMC_MSG_PUT_START: meta_obj_put_start(c, p, r, w); return MMC_OK;
    case MMC_MSG_GET: meta_obj_get(c, p, r, w); return MMC_OK;
    case MMC_MSG_REPLICA_START: meta_replica_start(c, p, r, w); return MMC_OK;
    case MMC_MSG_QUERY: meta_obj_query(c, r, w); return MMC_OK;
    case MMC_MSG_REMOVE_ALL: {
        uint64_t removed, deferred;
        /* Members only: a LocalService (it proved its rank when it mounted) or a process proving a live rank. */
        if (c->opts.rank_verify != NULL && meta_seg_count_peer(c, p) == 0) {
            rc = meta_peer_verify(c, p, r, "REMOVE_ALL");
            if (rc != MMC_OK) return rc;
        }
        if (r->flags & MMC_PF_REGEX) { /* one page of the key order: the client repeats from the cursor */
            char cur[MMC_KEY_MAX + 1];
            uint32_t curlen = 0;
            bool more = false;
            rc = meta_obj_remove_regex(c, r, &removed, &deferred, &more, cur, &curlen);
            if (rc == MMC_OK) mmc_resp_remove_all_encode(w, removed, deferred, more, &(mmc_key_ref_t){cur, curlen});
            return rc;
        }
        meta_obj_remove_all(c, (r->flags & MMC_PF_FORCE) != 0, &removed, &deferred);
        mmc_resp_remove_all_encode(w, removed, deferred, false, NULL);
        return MMC_OK;
    }
    case MMC_MSG_LIST: {
        mmc_list_item_t *items = NULL;
        uint32_t n = 0;
        bool more = false;
        rc = meta_core_list(c, &r->prefix, &r->after, r->limit, &items, &n, &more);
        if (rc == MMC_OK) mmc_resp_list_encode(w, more, n, items);
        free(items);
        return rc;
    }
    case MMC_MSG_STATS: {
        mmc_stats_t st;
        meta_core_stats(c, &st);
        uint32_t n = (uint32_t)c->nsegs;
        mmc_seg_info_t *segs = n ? calloc(n, sizeof(*segs)) : NULL;
        if (n && segs == NULL) return util_err_set(MMC_MALLOC_FAILED, "STATS: out of memory");
        (void)meta_core_segments(c, segs, n);
        mmc_resp_stats_encode(w, &st, n, segs);
        free(segs);
        return MMC_OK;
    }
    default: return meta_handle_status_list(c, p, r, w);
    }
}

const double meta_lat_bounds_us[META_LAT_BUCKETS] = {10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 0};

static void meta_account(meta_core_t *c, uint16_t type, int32_t status, uint32_t keys, uint64_t ns)
{
    if (type < MMC_MSG_FIRST || type > MMC_MSG_LAST) return;
    meta_op_stats_t *s = &c->ops_stats[type - MMC_MSG_FIRST];
    s->calls++;
    s->keys += keys;
    if (status != MMC_OK) s->errors++;
    s->lat_sum_ns += ns;
    uint32_t b = 0;
    while (b < META_LAT_BUCKETS - 1 && (double)ns / 1000.0 > meta_lat_bounds_us[b]) b++;
    s->lat_bucket[b]++;
}

void meta_core_dispatch(meta_core_t *c, meta_peer_t *p, const net_frame_hdr_t *hdr, const uint8_t *body)
{
    if (hdr->flags & (NET_FLAG_RESPONSE | NET_FLAG_PUSH)) {
        LOG_DEBUG("meta: ignoring a response/push frame (type 0x%04x) from client %s", hdr->type, p->name);
        return;
    }
    uint64_t t0 = util_now_ns();
    util_wbuf_t w;
    mmc_req_t r;
    uint32_t keys = 0;
    util_wbuf_init(&w);
    int32_t status = mmc_req_decode(hdr->type, body, hdr->body_len, &r);
    if (status != MMC_OK) {
        c->bad_requests++;
        LOG_WARN("meta: bad request from %s: %s", p->name, util_err_get());
    } else {
        keys = r.n;
        status = meta_handle(c, p, &r, &w);
        mmc_req_fini(&r);
    }
    if (status == MMC_OK && w.err) status = util_err_set(MMC_MALLOC_FAILED, "meta: out of memory for the response");
    if (status != MMC_OK) {
        w.len = 0;
        w.err = 0;
        mmc_resp_error_encode(&w, util_err_get());
    }
    meta_account(c, hdr->type, status, keys, util_now_ns() - t0);
    if (!(hdr->flags & NET_FLAG_ONEWAY) && !p->dead && !w.err) {
        net_frame_hdr_t rh = {.flags = NET_FLAG_RESPONSE, .type = hdr->type, .status = status, .req_id = hdr->req_id};
        if (c->ops.send(p->link, &rh, w.p, (uint32_t)w.len) != 0) {
            LOG_WARN("meta: cannot answer %s on %s: %s; closing it", mmc_msg_name(hdr->type), p->name, util_err_get());
            p->dead = true;
            c->ops.close(p->link);
        }
    }
    util_wbuf_fini(&w);
}

/* ---------- snapshots ---------- */

void meta_core_stats(const meta_core_t *c, mmc_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->instance = c->instance;
    st->uptime_ms = meta_now(c) - c->start_ms;
    st->objects = c->table.n;
    st->writing = c->nwriting;
    st->removing = c->nzombies;
    st->leases = c->nleases;
    st->segments = c->nsegs;
    st->links = c->npeers;
    st->puts = c->puts;
    st->puts_revoked = c->puts_revoked;
    st->gets = c->gets;
    st->get_hits = c->get_hits;
    st->get_misses = c->get_misses;
    st->removes = c->removes;
    st->evictions = c->evictions;
    st->bytes_put = c->bytes_put;
    st->bytes_got = c->bytes_got;
    for (uint32_t m = 0; m < MMC_MEDIA_COUNT; m++) {
        st->media[m].total = c->media[m].total;
        st->media[m].used = c->media[m].used;
        st->media[m].objects = c->media[m].objects;
        st->media[m].evictions = c->media[m].evictions;
    }
}

uint32_t meta_core_segments(const meta_core_t *c, mmc_seg_info_t *out, uint32_t cap)
{
    uint32_t n = 0;
    for (util_link_t *l = c->segs.next; l != &c->segs; l = l->next, n++) {
        if (n >= cap) continue;
        const meta_seg_t *s = UTIL_CONTAINER_OF(l, meta_seg_t, node);
        mmc_seg_info_t *o = &out[n];
        o->rank = s->rank;
        o->medium = s->medium;
        memcpy(o->host, s->host, MMC_HOST_ID_SIZE);
        o->gva = s->gva;
        o->size = s->size;
        o->used = meta_heap_used(&s->heap);
        o->free_extents = s->heap.extents;
        o->largest_free = meta_heap_largest(&s->heap);
    }
    return n;
}

static bool has_prefix(const meta_obj_t *o, const mmc_key_ref_t *prefix)
{
    return o->klen >= prefix->len && memcmp(meta_obj_key(o), prefix->p, prefix->len) == 0;
}

int32_t meta_core_list(const meta_core_t *c, const mmc_key_ref_t *prefix, const mmc_key_ref_t *after,
                       uint32_t limit, mmc_list_item_t **items, uint32_t *n, bool *more)
{
    if (limit == 0 || limit > MMC_PROTO_LIST_MAX)
        return util_err_set(MMC_INVALID_PARAM, "LIST: limit %u, must be 1..%u", limit, MMC_PROTO_LIST_MAX);
    const meta_obj_t **objs = malloc((size_t)limit * sizeof(*objs));
    if (objs == NULL) return util_err_set(MMC_MALLOC_FAILED, "LIST: out of memory for %u keys", limit);
    /* Keys with the prefix form one range: start at the prefix, or past the cursor when that is further. */
    meta_index_iter_t it;
    if (after->len > 0 && meta_key_cmp(after->p, after->len, prefix->p, prefix->len) >= 0)
        meta_index_seek(&c->table.idx, after->p, after->len, true, &it);
    else
        meta_index_seek(&c->table.idx, prefix->p, prefix->len, false, &it);
    uint32_t cnt = 0;
    size_t bytes = 0;
    const meta_obj_t *o;
    while ((o = meta_index_next(&it)) != NULL && has_prefix(o, prefix)) {
        if (o->flags & META_OBJ_SHADOW) continue; /* an upsert's new value: not a key of its own */
        if (cnt == limit) break;
        objs[cnt++] = o;
        bytes += o->klen;
    }
    bool next = o != NULL && has_prefix(o, prefix);
    /* One block: the items, then copies of their keys (the caller may use them after the core changes). */
    mmc_list_item_t *out = malloc(cnt * sizeof(*out) + bytes + 1);
    if (out == NULL) {
        free(objs);
        return util_err_set(MMC_MALLOC_FAILED, "LIST: out of memory for %u keys (%zu bytes)", cnt, bytes);
    }
    char *kp = (char *)(out + cnt);
    for (uint32_t i = 0; i < cnt; i++) {
        o = objs[i];
        memcpy(kp, meta_obj_key(o), o->klen);
        out[i].key.p = kp;
        out[i].key.len = o->klen;
        out[i].size = o->size;
        out[i].state = o->state;
        out[i].nrep = o->nrep;
        kp += o->klen;
    }
    free(objs);
    *items = out;
    *n = cnt;
    *more = next;
    return MMC_OK;
}

/* ---------- invariants ---------- */

static int32_t check_fail(const char *what, unsigned long long a, unsigned long long b)
{
    return util_err_set(MMC_ERROR, "meta check: %s (%llu vs %llu)", what, a, b);
}

static bool check_peer_open(const meta_core_t *c, const meta_peer_t *p)
{
    for (const util_link_t *l = c->peers.next; l != &c->peers; l = l->next)
        if (UTIL_CONTAINER_OF(l, meta_peer_t, node) == p) return true;
    return false;
}

int32_t meta_core_check(const meta_core_t *c)
{
    uint64_t used[MMC_MEDIA_COUNT] = {0}, total[MMC_MEDIA_COUNT] = {0}, ready[MMC_MEDIA_COUNT] = {0};
    uint64_t nseg = 0, nw = 0, nz = 0, nl = 0;
    for (util_link_t *l = c->segs.next; l != &c->segs; l = l->next, nseg++) {
        const meta_seg_t *s = UTIL_CONTAINER_OF(l, meta_seg_t, node);
        if (meta_heap_check(&s->heap) != MMC_OK) return MMC_ERROR;
        used[s->medium] += meta_heap_used(&s->heap);
        total[s->medium] += meta_heap_total(&s->heap);
    }
    if (nseg != c->nsegs) return check_fail("segment count", nseg, c->nsegs);
    /* The key index holds exactly the table's objects. */
    if (meta_index_check(&c->table.idx) != MMC_OK) return MMC_ERROR;
    if (c->table.idx.n != c->table.n) return check_fail("indexed keys vs table", c->table.idx.n, c->table.n);
    meta_index_iter_t it;
    meta_index_seek(&c->table.idx, "", 0, false, &it);
    for (const meta_obj_t *o; (o = meta_index_next(&it)) != NULL;)
        if (meta_table_find(&c->table, meta_obj_key(o), o->klen, o->hash) != o)
            return check_fail("indexed object not in the table", o->klen, o->hash);
    /* Every allocated byte of every heap belongs to exactly one replica. */
    uint64_t rep_bytes[MMC_MEDIA_COUNT] = {0};
    for (size_t b = 0; b < c->table.nb; b++) {
        for (const meta_obj_t *o = c->table.b[b]; o != NULL; o = o->hnext) {
            if (o->state != MMC_STATE_READY && o->state != MMC_STATE_WRITING)
                return check_fail("object in table with bad state", o->state, 0);
            if (o->nrep == 0 || o->nrep > o->nslot || o->nslot > MMC_REPLICA_MAX)
                return check_fail("object replica count", o->nrep, o->nslot);
            for (uint32_t i = 0; i < o->nrep; i++) {
                if (o->rep[i].seg->medium != o->medium) return check_fail("replica medium", o->rep[i].seg->medium, o->medium);
                for (uint32_t j = 0; j < i; j++)
                    if (o->rep[j].seg->rank == o->rep[i].seg->rank)
                        return check_fail("two replicas on one LocalService", o->rep[i].seg->rank, 0);
                rep_bytes[o->medium] += meta_heap_round(o->size);
            }
            if (o->state == MMC_STATE_READY) ready[o->medium]++;
        }
    }
    for (util_link_t *l = c->writing.next; l != &c->writing; l = l->next, nw++) {
        const meta_obj_t *o = UTIL_CONTAINER_OF(l, meta_obj_t, link);
        if (o->state != MMC_STATE_WRITING) return check_fail("non-WRITING object on the writing list", 0, 0);
        if (o->writer_owner == 0) return check_fail("WRITING object without an owner token", 0, 0);
        if (o->writer != NULL && !check_peer_open(c, o->writer))
            return check_fail("WRITING object names a closed link", o->deadline_ms, 0);
    }
    uint64_t obj_leases = 0;
    for (size_t b = 0; b < c->table.nb; b++)
        for (const meta_obj_t *o = c->table.b[b]; o != NULL; o = o->hnext) obj_leases += o->leases;
    for (util_link_t *l = c->zombies.next; l != &c->zombies; l = l->next, nz++) {
        const meta_obj_t *o = UTIL_CONTAINER_OF(l, meta_obj_t, link);
        if (o->state != MMC_STATE_REMOVING || o->leases == 0) return check_fail("zombie state/leases", o->state, o->leases);
        for (uint32_t i = 0; i < o->nrep; i++) rep_bytes[o->medium] += meta_heap_round(o->size);
        obj_leases += o->leases;
    }
    /* Leases: findable by their id, expiry order, and the objects' lease counts add up. Owner 0: an EXIST /
     * QUERY lease (MMC_PF_LEASE), which only expires. */
    uint64_t refs = 0, prev_expiry = 0;
    for (util_link_t *l = c->leases.next; l != &c->leases; l = l->next, nl++) {
        const meta_lease_t *ls = UTIL_CONTAINER_OF(l, meta_lease_t, node);
        if (ls->id == 0 || ls->n == 0) return check_fail("lease id/size", ls->id, ls->n);
        if (meta_lease_find(c, ls->id) != ls) return check_fail("lease not found by its id (or two share it)", ls->id, 0);
        if (ls->expiry_ms < prev_expiry) return check_fail("lease list out of expiry order", ls->expiry_ms, prev_expiry);
        prev_expiry = ls->expiry_ms;
        for (uint32_t i = 0; i < ls->n; i++) {
            const meta_obj_t *o = ls->objs[i].obj;
            if (o->leases == 0) return check_fail("leased object with lease count 0", ls->id, 0);
            if (o->state == MMC_STATE_WRITING) return check_fail("lease on a WRITING object", ls->id, 0);
            if (ls->objs[i].losses > o->losses) return check_fail("lease saw more replica losses than its object", ls->objs[i].losses, o->losses);
        }
        refs += ls->n;
    }
    refs += meta_replica_refs(c); /* replica tasks hold their objects as leases do */
    for (uint32_t m = 0; m < MMC_MEDIA_COUNT; m++) rep_bytes[m] += meta_replica_held(c, (uint16_t)m);
    if (refs != obj_leases) return check_fail("lease references vs object lease counts", refs, obj_leases);
    uint64_t in_tab = 0;
    for (size_t b = 0; b < c->lease_nb; b++)
        for (const meta_lease_t *l = c->lease_tab[b]; l != NULL; l = l->hnext) in_tab++;
    if (in_tab != nl) return check_fail("leases in the id table vs the expiry list", in_tab, nl);
    if (nw != c->nwriting) return check_fail("writing count", nw, c->nwriting);
    if (nz != c->nzombies) return check_fail("zombie count", nz, c->nzombies);
    if (nl != c->nleases) return check_fail("lease count", nl, c->nleases);
    for (uint32_t m = 0; m < MMC_MEDIA_COUNT; m++) {
        if (used[m] != c->media[m].used) return check_fail("medium used bytes vs heaps", used[m], c->media[m].used);
        if (total[m] != c->media[m].total) return check_fail("medium total bytes", total[m], c->media[m].total);
        if (rep_bytes[m] != used[m]) return check_fail("replica bytes vs heap used bytes", rep_bytes[m], used[m]);
        if (ready[m] != c->media[m].objects) return check_fail("READY objects", ready[m], c->media[m].objects);
        uint64_t lru = 0;
        for (util_link_t *l = c->media[m].lru.next; l != &c->media[m].lru; l = l->next) lru++;
        if (lru != ready[m]) return check_fail("LRU length", lru, ready[m]);
    }
    return MMC_OK;
}
