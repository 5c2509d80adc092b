/*
 * Per-window rank table and translation. Accessors (copies) pin a rank with
 * an atomic reference and never block; transitions are serialised by the
 * window mutex and retire a rank only after its references drain (protocol
 * in gva_int.h). Translation is arithmetic on the window base and stride.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gva/gva.h"
#include "gva/gva_int.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

const char *gva_rank_state_name(gva_rank_state_t s)
{
    switch (s) {
    case GVA_RANK_ABSENT: return "absent";
    case GVA_RANK_LOCAL: return "local";
    case GVA_RANK_MAPPED: return "mapped";
    case GVA_RANK_REMOTE: return "remote";
    default: return "?";
    }
}

static bool gva_state_live(uint32_t st)
{
    return st == GVA_RANK_LOCAL || st == GVA_RANK_MAPPED || st == GVA_RANK_REMOTE;
}

static int32_t gva_rank_gone(const gva_window_t *w, uint32_t rank, uint32_t st)
{
    const char *why = "has not joined";
    if (st == GVA_RANK_BUSY) why = "is leaving";
    else if (__atomic_load_n(&w->ranks[rank].gen, __ATOMIC_RELAXED) != 0) why = "has left";
    return util_err_set(SMEM_PEER_GONE, "rank %u of the %s window %s", rank, gva_kind_name(w->kind), why);
}

static int32_t gva_rank_arg_check(const gva_window_t *w, uint32_t rank)
{
    if (w == NULL) return util_err_set(SMEM_INVALID_PARAM, "window is NULL");
    if (rank >= w->world_max)
        return util_err_set(SMEM_INVALID_PARAM, "rank %u >= world_max %u", rank, w->world_max);
    return SMEM_OK;
}

int32_t gva_rank_acquire(gva_window_t *w, uint32_t rank)
{
    int32_t rc = gva_rank_arg_check(w, rank);
    if (rc != SMEM_OK) return rc;
    gva_rank_t *r = &w->ranks[rank];
    __atomic_add_fetch(&r->refs, 1, __ATOMIC_SEQ_CST);
    uint32_t st = gva_rank_state_load(r);
    if (gva_state_live(st)) return SMEM_OK;
    __atomic_sub_fetch(&r->refs, 1, __ATOMIC_RELEASE);
    return gva_rank_gone(w, rank, st);
}

void gva_rank_release(gva_window_t *w, uint32_t rank)
{
    /* Release order: our accesses to the slot happen before the retiring writer sees zero. */
    __atomic_sub_fetch(&w->ranks[rank].refs, 1, __ATOMIC_RELEASE);
}

/* Publish a new live state for an ABSENT rank; caller holds w->lock. */
static void gva_rank_publish_locked(gva_rank_t *r, gva_rank_state_t st, uint64_t size, const gva_host_id_t *host,
                                    gva_seg_t *seg)
{
    r->size = size;
    r->host = *host;
    r->seg = seg;
    __atomic_add_fetch(&r->gen, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&r->state, (uint32_t)st, __ATOMIC_SEQ_CST);
}

/* Shared body of attach_local and map_peer. */
static int32_t gva_rank_map(gva_window_t *w, uint32_t rank, gva_seg_t *seg, const gva_host_id_t *host,
                            gva_rank_state_t st)
{
    if (seg == NULL) return util_err_set(SMEM_INVALID_PARAM, "segment is NULL");
    if (seg->ops->kind != w->kind)
        return util_err_set(SMEM_INVALID_PARAM, "%s segment cannot back a %s window", gva_kind_name(seg->ops->kind),
                            gva_kind_name(w->kind));
    if (seg->size == 0 || seg->size > w->stride)
        return util_err_set(SMEM_OUT_OF_RANGE, "rank %u: segment of %llu bytes does not fit the %llu-byte stride",
                            rank, (unsigned long long)seg->size, (unsigned long long)w->stride);
    gva_rank_t *r = &w->ranks[rank];
    pthread_mutex_lock(&w->lock);
    uint32_t cur = gva_rank_state_load(r);
    int32_t rc;
    if (cur != GVA_RANK_ABSENT) {
        rc = util_err_set(SMEM_DUPLICATED_OBJECT, "rank %u of the %s window is already %s", rank,
                          gva_kind_name(w->kind), gva_rank_state_name((gva_rank_state_t)cur));
        goto unlock;
    }
    rc = gva_seg_map(seg, (void *)(uintptr_t)gva_window_slot(w, rank));
    if (rc != SMEM_OK) goto unlock;
    gva_rank_publish_locked(r, st, seg->size, host, seg);
    LOG_DEBUG("%s window rank %u %s: %llu bytes at 0x%llx", gva_kind_name(w->kind), rank, gva_rank_state_name(st),
              (unsigned long long)seg->size, (unsigned long long)gva_window_slot(w, rank));
unlock:
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int32_t gva_window_attach_local(gva_window_t *w, gva_seg_t *seg)
{
    if (w == NULL) return util_err_set(SMEM_INVALID_PARAM, "window is NULL");
    return gva_rank_map(w, w->local_rank, seg, &w->host, GVA_RANK_LOCAL);
}

int32_t gva_window_map_peer(gva_window_t *w, uint32_t rank, gva_seg_t *seg, const gva_host_id_t *host)
{
    int32_t rc = gva_rank_arg_check(w, rank);
    if (rc != SMEM_OK) return rc;
    if (rank == w->local_rank) return util_err_set(SMEM_INVALID_PARAM, "rank %u is the local rank", rank);
    if (host == NULL || !gva_host_id_equal(host, &w->host)) {
        char theirs[GVA_HOST_ID_STR_MAX] = "(none)", ours[GVA_HOST_ID_STR_MAX];
        if (host != NULL) gva_host_id_format(host, theirs, sizeof(theirs));
        return util_err_set(SMEM_INVALID_PARAM, "rank %u is on host %s, not this host %s: it cannot be mapped", rank,
                            theirs, gva_host_id_format(&w->host, ours, sizeof(ours)));
    }
    return gva_rank_map(w, rank, seg, host, GVA_RANK_MAPPED);
}

int32_t gva_window_set_remote(gva_window_t *w, uint32_t rank, uint64_t size, const gva_host_id_t *host)
{
    int32_t rc = gva_rank_arg_check(w, rank);
    if (rc != SMEM_OK) return rc;
    if (rank == w->local_rank || host == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "rank %u: remote needs a peer rank and a host id", rank);
    if (size > w->stride)
        return util_err_set(SMEM_OUT_OF_RANGE, "rank %u: %llu backed bytes exceed the %llu-byte stride", rank,
                            (unsigned long long)size, (unsigned long long)w->stride);
    gva_rank_t *r = &w->ranks[rank];
    pthread_mutex_lock(&w->lock);
    uint32_t cur = gva_rank_state_load(r);
    if (cur != GVA_RANK_ABSENT) {
        rc = util_err_set(SMEM_DUPLICATED_OBJECT, "rank %u of the %s window is already %s", rank,
                          gva_kind_name(w->kind), gva_rank_state_name((gva_rank_state_t)cur));
    } else {
        gva_rank_publish_locked(r, GVA_RANK_REMOTE, size, host, NULL);
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int32_t gva_window_unmap_rank(gva_window_t *w, uint32_t rank, uint32_t timeout_ms)
{
    int32_t rc = gva_rank_arg_check(w, rank);
    if (rc != SMEM_OK) return rc;
    gva_rank_t *r = &w->ranks[rank];
    pthread_mutex_lock(&w->lock);
    uint32_t prev = gva_rank_state_load(r);
    if (!gva_state_live(prev)) {
        rc = gva_rank_gone(w, rank, prev);
        goto unlock;
    }
    /* From here new accessors fail; wait for the ones already inside. */
    __atomic_store_n(&r->state, GVA_RANK_BUSY, __ATOMIC_SEQ_CST);
    uint64_t deadline = util_now_ms() + timeout_ms;
    long nap_ns = 50000;
    uint32_t refs;
    while ((refs = __atomic_load_n(&r->refs, __ATOMIC_SEQ_CST)) != 0) {
        if (util_now_ms() >= deadline) {
            rc = util_err_set(SMEM_RESOURCE_IN_USE, "rank %u of the %s window: %u accesses still in flight after %u ms",
                              rank, gva_kind_name(w->kind), refs, timeout_ms);
            goto restore_state;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = nap_ns};
        nanosleep(&ts, NULL);
        if (nap_ns < 1000000) nap_ns *= 2;
    }
    if (r->seg != NULL) {
        rc = gva_seg_unmap(r->seg); /* re-reserves the slot PROT_NONE in one mmap */
        if (rc != SMEM_OK) goto restore_state;
        gva_seg_destroy(r->seg);
    }
    LOG_INFO("%s window rank %u unmapped (was %s, %llu bytes); slot 0x%llx re-reserved", gva_kind_name(w->kind), rank,
             gva_rank_state_name((gva_rank_state_t)prev), (unsigned long long)r->size,
             (unsigned long long)gva_window_slot(w, rank));
    r->seg = NULL;
    r->size = 0;
    memset(&r->host, 0, sizeof(r->host));
    __atomic_add_fetch(&r->gen, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&r->state, GVA_RANK_ABSENT, __ATOMIC_SEQ_CST);
    goto unlock;

restore_state:
    __atomic_store_n(&r->state, prev, __ATOMIC_SEQ_CST);
unlock:
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int32_t gva_window_rank_info(const gva_window_t *w, uint32_t rank, gva_rank_info_t *out)
{
    int32_t rc = gva_rank_arg_check(w, rank);
    if (rc != SMEM_OK) return rc;
    if (out == NULL) return util_err_set(SMEM_INVALID_PARAM, "rank info out is NULL");
    gva_rank_info_t info;
    memset(&info, 0, sizeof(info));
    gva_window_t *mw = (gva_window_t *)w; /* acquire only touches the atomic counter */
    if (gva_rank_acquire(mw, rank) == SMEM_OK) {
        const gva_rank_t *r = &w->ranks[rank];
        info.state = (gva_rank_state_t)gva_rank_state_load(r);
        info.size = r->size;
        info.host = r->host;
        gva_rank_release(mw, rank);
    } else {
        util_err_clear(); /* absent is a valid answer here, not an error */
    }
    info.gen = __atomic_load_n(&w->ranks[rank].gen, __ATOMIC_RELAXED);
    *out = info;
    return SMEM_OK;
}

gva_seg_t *gva_window_local_seg(const gva_window_t *w)
{
    return gva_rank_state_load(&w->ranks[w->local_rank]) == GVA_RANK_LOCAL ? w->ranks[w->local_rank].seg : NULL;
}

/* ---- translation ---- */

static int32_t gva_locate(gva_window_t *w, uint64_t gva, uint64_t len, bool keep, gva_loc_t *out)
{
    uint64_t rel = gva - w->base;
    uint32_t rank = (uint32_t)(rel / w->stride);
    uint64_t off = rel % w->stride;
    uint64_t need = len != 0 ? len : 1;
    int32_t rc = gva_rank_acquire(w, rank);
    if (rc != SMEM_OK) {
        char why[256]; /* the message buffer is the destination too: copy it out first */
        snprintf(why, sizeof(why), "%s", util_err_get());
        return util_err_set(SMEM_PEER_GONE, "gva 0x%llx: %s", (unsigned long long)gva, why);
    }
    const gva_rank_t *r = &w->ranks[rank];
    uint64_t size = r->size;
    if (off >= size || need > size - off) {
        gva_rank_release(w, rank);
        return util_err_set(SMEM_OUT_OF_RANGE,
                            "gva 0x%llx length %llu: rank %u offset %llu + length %llu exceeds its backed size %llu "
                            "(stride %llu)",
                            (unsigned long long)gva, (unsigned long long)len, rank, (unsigned long long)off,
                            (unsigned long long)len, (unsigned long long)size, (unsigned long long)w->stride);
    }
    gva_loc_t loc = {
        .win = w,
        .rank = rank,
        .offset = off,
        .state = (gva_rank_state_t)gva_rank_state_load(r),
        .size = size,
        .gen = __atomic_load_n(&r->gen, __ATOMIC_RELAXED),
    };
    loc.ptr = loc.state == GVA_RANK_REMOTE ? NULL : (void *)(uintptr_t)gva;
    if (!keep) gva_rank_release(w, rank);
    *out = loc;
    return SMEM_OK;
}

static int32_t gva_range_check(uint64_t gva, uint64_t len, gva_loc_t *out)
{
    if (out == NULL) return util_err_set(SMEM_INVALID_PARAM, "translate: out is NULL");
    if (len != 0 && len - 1 > UINT64_MAX - gva)
        return util_err_set(SMEM_OUT_OF_RANGE, "gva 0x%llx length %llu wraps the address space",
                            (unsigned long long)gva, (unsigned long long)len);
    return SMEM_OK;
}

static int32_t gva_translate_any(uint64_t gva, uint64_t len, bool keep, gva_loc_t *out)
{
    int32_t rc = gva_range_check(gva, len, out);
    if (rc != SMEM_OK) return rc;
    gva_window_t *w = gva_window_find(gva);
    if (w == NULL)
        return util_err_set(SMEM_OUT_OF_RANGE, "address 0x%llx is not in any GVA window", (unsigned long long)gva);
    return gva_locate(w, gva, len, keep, out);
}

int32_t gva_translate(uint64_t gva, uint64_t len, gva_loc_t *out) { return gva_translate_any(gva, len, false, out); }

int32_t gva_translate_acquire(uint64_t gva, uint64_t len, gva_loc_t *out)
{
    return gva_translate_any(gva, len, true, out);
}

int32_t gva_window_translate(gva_window_t *w, uint64_t gva, uint64_t len, gva_loc_t *out)
{
    int32_t rc = gva_range_check(gva, len, out);
    if (rc != SMEM_OK) return rc;
    if (w == NULL) return util_err_set(SMEM_INVALID_PARAM, "window is NULL");
    if (gva < w->base || gva - w->base >= w->size)
        return util_err_set(SMEM_OUT_OF_RANGE, "address 0x%llx is outside the %s window 0x%llx-0x%llx",
                            (unsigned long long)gva, gva_kind_name(w->kind), (unsigned long long)w->base,
                            (unsigned long long)(w->base + w->size));
    return gva_locate(w, gva, len, false, out);
}
