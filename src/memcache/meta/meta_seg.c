/* Segments: MOUNT/UNMOUNT and what a LocalService leaving does to objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/meta/meta_int.h"
#include "util/util_buf.h"
#include "util/util_log.h"
#include "util/util_status.h"

static const char *const meta_media_names[MMC_MEDIA_COUNT] = {"hbm", "dram"};

meta_seg_t *meta_seg_find(const meta_core_t *c, uint32_t rank, uint16_t medium)
{
    for (util_link_t *l = c->segs.next; l != &c->segs; l = l->next) {
        meta_seg_t *s = UTIL_CONTAINER_OF(l, meta_seg_t, node);
        if (s->rank == rank && s->medium == medium) return s;
    }
    return NULL;
}

uint32_t meta_seg_count_peer(const meta_core_t *c, const meta_peer_t *p)
{
    uint32_t n = 0;
    for (util_link_t *l = c->segs.next; l != &c->segs; l = l->next)
        if (UTIL_CONTAINER_OF(l, meta_seg_t, node)->owner == p) n++;
    return n;
}

/* A refusal of another member's rank or segment: the answer says why, the log who (one a second). */
static int32_t meta_refuse(meta_core_t *c, const meta_peer_t *p, const char *what)
{
    c->refused++;
    uint64_t now = meta_now(c);
    if (c->refused_log_ms == 0 || now - c->refused_log_ms >= 1000) {
        LOG_WARN("meta: refused %s from %s: %s (%llu refused so far)", what, p->name, util_err_get(),
                 (unsigned long long)c->refused);
        c->refused_log_ms = now;
    }
    return MMC_NOT_PERMITTED;
}

int32_t meta_peer_verify(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, const char *what)
{
    if (c->opts.rank_verify == NULL) return MMC_OK;
    uint8_t chal[8];
    util_put_le64(chal, p->challenge);
    if (r->rank == UINT32_MAX) {
        util_err_set(MMC_NOT_PERMITTED, "%s: the request proves no BM rank (only a member of the cluster may)", what);
        return meta_refuse(c, p, what);
    }
    int32_t rc = c->opts.rank_verify(c->opts.verify_arg, r->rank, chal, sizeof(chal), r->proof);
    if (rc == MMC_OK) return MMC_OK;
    char why[512];
    snprintf(why, sizeof(why), "%s", util_err_get());
    util_err_set(MMC_NOT_PERMITTED, "%s for rank %u: %s", what, r->rank, why);
    return meta_refuse(c, p, what);
}

int32_t meta_seg_mount(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, uint64_t *usable)
{
    uint64_t bytes = r->size / META_PAGE * META_PAGE;
    if (bytes == 0)
        return util_err_set(MMC_INVALID_PARAM, "MOUNT rank %u %s: %llu bytes is less than one %u-byte page",
                            r->rank, meta_media_names[r->medium], (unsigned long long)r->size, META_PAGE);
    if (r->rank >= MMC_RANK_MAX)
        return util_err_set(MMC_INVALID_PARAM, "MOUNT: rank %u is not a BM rank (below %u)", r->rank, MMC_RANK_MAX);
    /* A link is one LocalService: one rank, one segment per medium. So segments stay few (placement walks them)
     * however many MOUNTs a client sends. */
    for (util_link_t *l = c->segs.next; l != &c->segs; l = l->next) {
        const meta_seg_t *o = UTIL_CONTAINER_OF(l, meta_seg_t, node);
        if (o->owner == p && o->rank != r->rank) {
            LOG_WARN("meta: %s tried to MOUNT rank %u while it holds rank %u's segment: refused", p->name, r->rank,
                     o->rank);
            return util_err_set(MMC_INVALID_PARAM, "MOUNT: this link holds rank %u's segment; one LocalService (link) "
                                "mounts for one rank only", o->rank);
        }
    }
    /* Only the process that holds the BM rank hands out its memory. */
    int32_t vrc = meta_peer_verify(c, p, r, "MOUNT");
    if (vrc != MMC_OK) return vrc;
    if (meta_seg_find(c, r->rank, r->medium) != NULL)
        return util_err_set(MMC_DUPLICATED_OBJECT, "MOUNT: rank %u already has a %s segment", r->rank,
                            meta_media_names[r->medium]);
    for (util_link_t *l = c->segs.next; l != &c->segs; l = l->next) {
        meta_seg_t *s = UTIL_CONTAINER_OF(l, meta_seg_t, node);
        if (r->gva < s->gva + s->size && s->gva < r->gva + bytes)
            return util_err_set(MMC_INVALID_PARAM,
                                "MOUNT rank %u: GVA [0x%llx, +%llu) overlaps rank %u's %s segment [0x%llx, +%llu)",
                                r->rank, (unsigned long long)r->gva, (unsigned long long)bytes, s->rank,
                                meta_media_names[s->medium], (unsigned long long)s->gva,
                                (unsigned long long)s->size);
    }
    meta_seg_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return util_err_set(MMC_MALLOC_FAILED, "MOUNT: out of memory");
    int32_t rc = meta_heap_init(&s->heap, bytes);
    if (rc != MMC_OK) {
        free(s);
        return rc;
    }
    s->owner = p;
    s->rank = r->rank;
    s->medium = r->medium;
    memcpy(s->host, r->host, MMC_HOST_ID_SIZE);
    s->gva = r->gva;
    s->size = bytes;
    util_list_add_tail(&c->segs, &s->node);
    c->nsegs++;
    c->media[s->medium].total += bytes;
    LOG_INFO("meta: mounted rank %u %s segment [0x%llx, +%llu) from %s", s->rank, meta_media_names[s->medium],
             (unsigned long long)s->gva, (unsigned long long)bytes, p->name);
    *usable = bytes;
    return MMC_OK;
}

/* Removes replica i of o without touching the heap (it is going away). */
static void meta_rep_forget(meta_obj_t *o, uint32_t i)
{
    memmove(&o->rep[i], &o->rep[i + 1], (o->nrep - i - 1) * sizeof(o->rep[0]));
    o->nrep--;
}

/* Forgets o's replicas on seg; counts the loss, which voids leases on o (a new mount may reuse the space). */
static bool meta_obj_unhook(meta_obj_t *o, const meta_seg_t *seg)
{
    bool hit = false;
    for (uint32_t i = 0; i < o->nrep;) {
        if (o->rep[i].seg == seg) {
            meta_rep_forget(o, i);
            o->losses++;
            hit = true;
        } else {
            i++;
        }
    }
    return hit;
}

void meta_seg_detach(meta_core_t *c, meta_seg_t *seg, uint32_t *dropped, uint32_t *shrunk)
{
    uint32_t nd = 0, ns = 0;
    for (size_t b = 0; b < c->table.nb; b++) {
        meta_obj_t *o = c->table.b[b];
        while (o != NULL) {
            meta_obj_t *next = o->hnext;
            if (meta_obj_unhook(o, seg)) {
                if (o->nrep == 0) {
                    meta_obj_drop(c, o);
                    nd++;
                } else {
                    ns++;
                }
            }
            o = next;
        }
    }
    for (util_link_t *l = c->zombies.next; l != &c->zombies; l = l->next)
        (void)meta_obj_unhook(UTIL_CONTAINER_OF(l, meta_obj_t, link), seg);
    meta_replica_seg_gone(c, seg);
    meta_media_t *m = &c->media[seg->medium];
    m->used -= meta_heap_used(&seg->heap);
    m->total -= meta_heap_total(&seg->heap);
    util_list_del(&seg->node);
    c->nsegs--;
    LOG_INFO("meta: unmounted rank %u %s segment (%s): %u objects dropped, %u lost a replica", seg->rank,
             meta_media_names[seg->medium], seg->owner ? seg->owner->name : "-", nd, ns);
    meta_heap_fini(&seg->heap);
    free(seg);
    if (dropped) *dropped = nd;
    if (shrunk) *shrunk = ns;
}

int32_t meta_seg_unmount(meta_core_t *c, meta_peer_t *p, uint32_t rank, uint16_t medium, uint32_t *dropped,
                         uint32_t *shrunk)
{
    meta_seg_t *s = meta_seg_find(c, rank, medium);
    if (s == NULL)
        return util_err_set(MMC_LINK_NOT_FOUND, "UNMOUNT: no %s segment of rank %u is mounted",
                            meta_media_names[medium], rank);
    if (s->owner != p) {
        util_err_set(MMC_NOT_PERMITTED, "UNMOUNT: rank %u's %s segment belongs to the link that mounted it (%s)",
                     rank, meta_media_names[medium], s->owner ? s->owner->name : "-");
        return meta_refuse(c, p, "UNMOUNT");
    }
    meta_seg_detach(c, s, dropped, shrunk);
    return MMC_OK;
}
