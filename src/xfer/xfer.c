/*
 * The copy engine: address resolution, validation against the copy type,
 * and running a validated job (see xfer.h). Async queueing is in
 * xfer_async.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util_log.h"
#include "util/util_status.h"
#include "xfer/xfer_int.h"

#define XFER_STACK_TRIPLES 4u /* single and small copies need no allocation */

/* ---------- names ---------- */

const char *xfer_copy_type_name(xfer_copy_type_t t)
{
    static const char *const names[XFER_COPY_COUNT] = {
        "SMEMB_COPY_L2G",  "SMEMB_COPY_G2L",  "SMEMB_COPY_G2H",  "SMEMB_COPY_H2G", "SMEMB_COPY_L2GH",
        "SMEMB_COPY_GH2L", "SMEMB_COPY_GH2H", "SMEMB_COPY_H2GH", "SMEMB_COPY_G2G", "SMEMB_COPY_AUTO",
    };
    return (unsigned)t < XFER_COPY_COUNT ? names[t] : "?";
}

const char *xfer_where_name(xfer_where_t w)
{
    switch (w) {
    case XFER_LOCAL_HOST: return "local host memory";
    case XFER_LOCAL_DEVICE: return "local device memory";
    case XFER_GLOBAL_HOST: return "global host memory";
    case XFER_GLOBAL_DEVICE: return "global device memory";
    default: return "?";
    }
}

/* ---------- transports ---------- */

static int32_t xfer_unreachable(gva_window_t *w, uint32_t rank)
{
    gva_rank_info_t info;
    char host[GVA_HOST_ID_STR_MAX] = "?";
    if (gva_window_rank_info(w, rank, &info) == SMEM_OK) gva_host_id_format(&info.host, host, sizeof(host));
    return util_err_set(SMEM_UNSUPPORTED, "rank %u is on host %s and no transport reaches it", rank, host);
}

/* ---------- engine ---------- */

int32_t xfer_engine_create(const xfer_engine_opts_t *opts, xfer_engine_t **out)
{
    if (opts == NULL || out == NULL) return util_err_set(SMEM_INVALID_PARAM, "xfer_engine_create: NULL argument");
    xfer_engine_t *e = calloc(1, sizeof(*e));
    if (e == NULL) return util_err_set(SMEM_MALLOC_FAILED, "xfer_engine_create: out of memory");
    snprintf(e->name, sizeof(e->name), "%s", opts->name ? opts->name : "xfer");
    e->route = opts->route;
    e->route_arg = opts->route_arg;
    int32_t rc = xfer_pool_shared_get(&e->pool);
    if (rc != SMEM_OK) {
        free(e);
        return rc;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->queue_cv, NULL);
    pthread_cond_init(&e->done_cv, NULL);
    *out = e;
    return SMEM_OK;
}

void xfer_engine_destroy(xfer_engine_t *e)
{
    if (e == NULL) return;
    xfer_async_fini(e);
    pthread_cond_destroy(&e->done_cv);
    pthread_cond_destroy(&e->queue_cv);
    pthread_mutex_destroy(&e->lock);
    xfer_pool_shared_put();
    free(e);
}

/* ---------- resolution ---------- */

static void xfer_end_release(xfer_end_t *end)
{
    if (end->held) gva_rank_release(end->win, end->rank);
    end->held = false;
}

void xfer_job_release(xfer_job_t *job)
{
    for (uint32_t i = 0; i < job->n; i++) {
        xfer_end_release(&job->src[i]);
        xfer_end_release(&job->dst[i]);
    }
}

/* Where [addr, addr + len) lives; a global end comes back held. */
static int32_t xfer_end_resolve(xfer_engine_t *e, const void *addr, uint64_t len, xfer_end_t *out)
{
    uint64_t a = (uint64_t)(uintptr_t)addr;
    memset(out, 0, sizeof(*out));
    if (len - 1 > UINT64_MAX - a)
        return util_err_set(SMEM_OUT_OF_RANGE, "0x%llx + %llu bytes wraps the address space", (unsigned long long)a,
                            (unsigned long long)len);
    /* Local memory is the common end: tell it apart without a failed
     * translation (whose error message costs more than the check). */
    if (!gva_range_in_window(a, len)) {
        out->where = XFER_LOCAL_HOST;
        out->ptr = (void *)(uintptr_t)a;
        return SMEM_OK;
    }
    gva_loc_t loc;
    int32_t rc = gva_translate_acquire(a, len, &loc);
    if (rc == SMEM_OUT_OF_RANGE && !gva_range_in_window(a, 0))
        return util_err_set(SMEM_OUT_OF_RANGE, "local range 0x%llx + %llu bytes runs into a GVA window",
                            (unsigned long long)a, (unsigned long long)len);
    if (rc != SMEM_OK) return rc; /* gva's message names the rank, offset and sizes */
    out->where = gva_window_kind(loc.win) == GVA_KIND_DEVICE ? XFER_GLOBAL_DEVICE : XFER_GLOBAL_HOST;
    out->held = true;
    out->win = loc.win;
    out->rank = loc.rank;
    out->offset = loc.offset;
    out->ptr = loc.ptr;
    if (loc.state != GVA_RANK_REMOTE) return SMEM_OK;
    rc = e->route != NULL ? e->route(e->route_arg, loc.win, loc.rank, false, NULL) : xfer_unreachable(loc.win, loc.rank);
    if (rc == SMEM_OK) return SMEM_OK;
    xfer_end_release(out);
    return rc;
}

/* ---------- validation ---------- */

enum { NEED_LHOST = 1, NEED_LDEV, NEED_G, NEED_GH };

static const struct {
    uint8_t src, dst;
} xfer_need[XFER_COPY_AUTO] = {
    [XFER_COPY_L2G] = {NEED_LDEV, NEED_G},   [XFER_COPY_G2L] = {NEED_G, NEED_LDEV},
    [XFER_COPY_G2H] = {NEED_G, NEED_LHOST},  [XFER_COPY_H2G] = {NEED_LHOST, NEED_G},
    [XFER_COPY_L2GH] = {NEED_LDEV, NEED_GH}, [XFER_COPY_GH2L] = {NEED_GH, NEED_LDEV},
    [XFER_COPY_GH2H] = {NEED_GH, NEED_LHOST}, [XFER_COPY_H2GH] = {NEED_LHOST, NEED_GH},
    [XFER_COPY_G2G] = {NEED_G, NEED_G},
};

static bool xfer_need_met(uint8_t need, xfer_where_t w)
{
    switch (need) {
    case NEED_LHOST: return w == XFER_LOCAL_HOST;
    case NEED_LDEV: return w == XFER_LOCAL_DEVICE;
    case NEED_G: return w == XFER_GLOBAL_HOST || w == XFER_GLOBAL_DEVICE;
    case NEED_GH: return w == XFER_GLOBAL_HOST;
    default: return false;
    }
}

static const char *xfer_need_name(uint8_t need)
{
    switch (need) {
    case NEED_LHOST: return "local host memory";
    case NEED_LDEV: return "local device memory";
    case NEED_G: return "global memory";
    case NEED_GH: return "global host memory";
    default: return "?";
    }
}

/* The most specific type for these two ends; XFER_COPY_COUNT when none fits. */
static xfer_copy_type_t xfer_infer(xfer_where_t s, xfer_where_t d)
{
    bool sg = s == XFER_GLOBAL_HOST || s == XFER_GLOBAL_DEVICE, dg = d == XFER_GLOBAL_HOST || d == XFER_GLOBAL_DEVICE;
    if (sg && dg) return XFER_COPY_G2G;
    if (s == XFER_LOCAL_HOST && dg) return d == XFER_GLOBAL_HOST ? XFER_COPY_H2GH : XFER_COPY_H2G;
    if (sg && d == XFER_LOCAL_HOST) return s == XFER_GLOBAL_HOST ? XFER_COPY_GH2H : XFER_COPY_G2H;
    return XFER_COPY_COUNT;
}

static void xfer_where_describe(const xfer_end_t *end, char *buf, size_t cap)
{
    if (end->where == XFER_LOCAL_HOST)
        snprintf(buf, cap, "local host memory (in no GVA window)");
    else
        snprintf(buf, cap, "rank %u's slot in the %s pool", end->rank,
                 end->where == XFER_GLOBAL_HOST ? "global host" : "global device");
}

static int32_t xfer_type_check(xfer_copy_type_t type, const void *sa, const xfer_end_t *s, const void *da,
                               const xfer_end_t *d)
{
    xfer_copy_type_t fit = xfer_infer(s->where, d->where);
    bool src_bad = false, dst_bad = false;
    if (type == XFER_COPY_AUTO) {
        if (fit != XFER_COPY_COUNT) return SMEM_OK;
    } else {
        src_bad = !xfer_need_met(xfer_need[type].src, s->where);
        dst_bad = !xfer_need_met(xfer_need[type].dst, d->where);
        if (!src_bad && !dst_bad) return SMEM_OK;
    }
    /* Only a failing triple pays for the descriptions (this runs per piece). */
    char sw[96], dw[96];
    xfer_where_describe(s, sw, sizeof(sw));
    xfer_where_describe(d, dw, sizeof(dw));
    if (type == XFER_COPY_AUTO) {
        return util_err_set(SMEM_INVALID_PARAM,
                            "%s: neither src %p nor dst %p is in the global space (both are %s); not a BM copy",
                            xfer_copy_type_name(type), sa, da, sw);
    }
    const char *side = src_bad ? "source" : "destination";
    uint8_t need = src_bad ? xfer_need[type].src : xfer_need[type].dst;
    return util_err_set(SMEM_INVALID_PARAM, "%s needs %s as the %s, but %s %p is %s%s; %s%s", xfer_copy_type_name(type),
                        xfer_need_name(need), side, src_bad ? "src" : "dst", src_bad ? sa : (const void *)da,
                        src_bad ? sw : dw, src_bad && dst_bad ? " (and the destination does not fit either)" : "",
                        fit == XFER_COPY_COUNT ? "no copy type fits these addresses (neither is global)"
                                               : xfer_copy_type_name(fit),
                        fit == XFER_COPY_COUNT ? "" : " fits these addresses");
}

/* Resolve and check triple i into job slot i. On failure nothing of slot i is held. */
static int32_t xfer_triple_check(xfer_engine_t *e, const void *sa, void *da, uint64_t len, xfer_copy_type_t type,
                                 xfer_job_t *job, uint32_t i)
{
    xfer_end_t *s = &job->src[i], *d = &job->dst[i];
    memset(s, 0, sizeof(*s));
    memset(d, 0, sizeof(*d));
    if (sa == NULL || da == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "%s is NULL", sa == NULL ? "src" : "dst");
    if (len == 0) return util_err_set(SMEM_INVALID_PARAM, "length is 0 (src %p, dst %p)", sa, da);
    int32_t rc = xfer_end_resolve(e, sa, len, s);
    if (rc != SMEM_OK) return rc;
    rc = xfer_end_resolve(e, da, len, d);
    if (rc == SMEM_OK) rc = xfer_type_check(type, sa, s, da, d);
    if (rc == SMEM_OK && s->ptr == NULL && d->ptr == NULL)
        rc = util_err_set(SMEM_UNSUPPORTED,
                          "src (rank %u) and dst (rank %u) are both on other hosts: a copy between two remote ranks "
                          "needs a staging buffer, not supported yet",
                          s->rank, d->rank);
    if (rc == SMEM_OK) {
        job->len[i] = len;
        return SMEM_OK;
    }
    xfer_end_release(s);
    xfer_end_release(d);
    return rc;
}

/* ---------- running ---------- */

typedef struct xfer_remote_ref {
    uint32_t i;
    bool put; /* dst is remote */
    const xfer_end_t *end;
} xfer_remote_ref_t;

/* Same (window, rank, direction): one request. */
static int xfer_remote_cmp_peer(const xfer_remote_ref_t *a, const xfer_remote_ref_t *b)
{
    if (a->end->win != b->end->win) return (uintptr_t)a->end->win < (uintptr_t)b->end->win ? -1 : 1;
    if (a->end->rank != b->end->rank) return a->end->rank < b->end->rank ? -1 : 1;
    if (a->put != b->put) return a->put ? 1 : -1;
    return 0;
}

static int xfer_remote_cmp(const void *x, const void *y)
{
    const xfer_remote_ref_t *a = x, *b = y;
    int c = xfer_remote_cmp_peer(a, b);
    if (c != 0) return c;
    return a->i < b->i ? -1 : a->i > b->i ? 1 : 0; /* the caller's order within a request */
}

/* One (peer, direction) group of a job's remote pieces. */
typedef struct xfer_group {
    const xfer_end_t *peer;
    bool put;
    const tp_piece_t *pieces;
    uint32_t n;
    const char *tp; /* the transport's name, for the message */
    int32_t rc;
    char msg[XFER_MSG_MAX];
} xfer_group_t;

typedef struct xfer_groups {
    xfer_engine_t *e;
    xfer_group_t *g;
} xfer_groups_t;

/* A fan-out task: one request to one peer, on an endpoint the route hands out. */
static void xfer_group_run(void *arg, uint32_t i)
{
    xfer_groups_t *gs = arg;
    xfer_group_t *g = &gs->g[i];
    const xfer_end_t *peer = g->peer;
    xfer_route_t r = {0};
    g->tp = "the transport";
    g->rc = gs->e->route(gs->e->route_arg, peer->win, peer->rank, true, &r);
    if (g->rc == SMEM_OK) {
        g->tp = r.link->ep->ops->name;
        g->rc = g->put ? tp_put(r.link->ep, r.window, g->pieces, g->n) : tp_get(r.link->ep, r.window, g->pieces, g->n);
        tp_cache_put(r.cache, r.link, g->rc);
    }
    if (g->rc != SMEM_OK) snprintf(g->msg, sizeof(g->msg), "%s", util_err_get());
}

/*
 * Pieces to other hosts: one request per (rank, direction) with all its
 * pieces. Several groups (a batch spread over peers) run in parallel on the
 * shared pool's fan-out threads (at most XFER_REMOTE_PAR at once, the caller
 * included), so a batch to N peers takes about as long as its slowest peer,
 * not the sum.
 */
#define XFER_REMOTE_PAR 16u
static int32_t xfer_run_remote(xfer_engine_t *e, xfer_job_t *job, uint32_t nremote)
{
    xfer_remote_ref_t *refs = malloc(nremote * sizeof(*refs));
    tp_piece_t *rp = malloc(nremote * sizeof(*rp));
    xfer_group_t *groups = NULL;
    int32_t first = SMEM_OK;
    if (refs == NULL || rp == NULL) {
        first = util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory grouping %u remote pieces", e->name, nremote);
        goto out;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < job->n; i++) {
        if (job->src[i].ptr == NULL) refs[k++] = (xfer_remote_ref_t){i, false, &job->src[i]};
        else if (job->dst[i].ptr == NULL) refs[k++] = (xfer_remote_ref_t){i, true, &job->dst[i]};
    }
    qsort(refs, k, sizeof(*refs), xfer_remote_cmp);
    /* refs is sorted by (window, rank, direction): a group is a run of equal ones; one pass fills
     * the pieces in that order and counts the groups, a second cuts them. */
    uint32_t ng = 0;
    for (uint32_t b = 0; b < k; b++) {
        uint32_t i = refs[b].i;
        rp[b] = (tp_piece_t){.local = refs[b].put ? job->src[i].ptr : job->dst[i].ptr, .offset = refs[b].end->offset,
                             .len = job->len[i]};
        if (b == 0 || xfer_remote_cmp_peer(&refs[b - 1], &refs[b]) != 0) ng++;
    }
    groups = calloc(ng, sizeof(*groups));
    if (groups == NULL) {
        first = util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory for %u peer groups", e->name, ng);
        goto out;
    }
    ng = 0;
    for (uint32_t a = 0, b = 1; a < k; b++) {
        if (b < k && xfer_remote_cmp_peer(&refs[a], &refs[b]) == 0) continue;
        groups[ng++] = (xfer_group_t){.peer = refs[a].end, .put = refs[a].put, .pieces = rp + a, .n = b - a};
        a = b;
    }
    xfer_groups_t gs = {.e = e, .g = groups};
    xfer_pool_fanout(e->pool, xfer_group_run, &gs, ng, XFER_REMOTE_PAR);
    for (uint32_t g = 0; g < ng && first == SMEM_OK; g++)
        if (groups[g].rc != SMEM_OK)
            first = util_err_set(groups[g].rc, "%s: %s of %u pieces %s rank %u over %s failed: %s", e->name,
                                 groups[g].put ? "put" : "get", groups[g].n, groups[g].put ? "to" : "from",
                                 groups[g].peer->rank, groups[g].tp, groups[g].msg);
out:
    free(groups);
    free(refs);
    free(rp);
    return first;
}

int32_t xfer_job_run(xfer_engine_t *e, xfer_job_t *job)
{
    xfer_piece_t stack[XFER_STACK_TRIPLES];
    xfer_piece_t *pieces = job->n <= XFER_STACK_TRIPLES ? stack : malloc(job->n * sizeof(*pieces));
    int32_t rc = SMEM_OK;
    uint32_t nlocal = 0, nremote = 0;
    if (pieces == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory for %u pieces", e->name, job->n);
        goto release;
    }
    for (uint32_t i = 0; i < job->n; i++) {
        if (job->src[i].ptr != NULL && job->dst[i].ptr != NULL)
            pieces[nlocal++] = (xfer_piece_t){.dst = job->dst[i].ptr, .src = job->src[i].ptr, .len = job->len[i]};
        else
            nremote++;
    }
    if (nlocal > 0) xfer_pool_copy(e->pool, pieces, nlocal);
    if (nremote > 0) rc = xfer_run_remote(e, job, nremote);
    if (pieces != stack) free(pieces);
release:
    xfer_job_release(job);
    return rc;
}

/* ---------- entry point ---------- */

static xfer_job_t *xfer_job_alloc(uint32_t n, void *stack, size_t stack_cap)
{
    size_t bytes = sizeof(xfer_job_t) + (size_t)n * (2 * sizeof(xfer_end_t) + sizeof(uint64_t));
    xfer_job_t *job = bytes <= stack_cap ? stack : malloc(bytes);
    if (job == NULL) return NULL;
    memset(job, 0, sizeof(*job));
    job->n = n;
    job->src = (xfer_end_t *)(void *)(job + 1);
    job->dst = job->src + n;
    job->len = (uint64_t *)(void *)(job->dst + n);
    return job;
}

int32_t xfer_copy(xfer_engine_t *e, const void *const *src, void *const *dst, const uint64_t *len, uint32_t n,
                  xfer_copy_type_t type, uint32_t flags)
{
    if (e == NULL || src == NULL || dst == NULL || len == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "copy: NULL engine or triple array");
    if (n == 0 || n > XFER_BATCH_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "%s: batch of %u copies (1..%u)", e->name, n, XFER_BATCH_MAX);
    if ((unsigned)type >= XFER_COPY_COUNT)
        return util_err_set(SMEM_INVALID_PARAM, "%s: copy type %d unknown (0..%d)", e->name, (int)type,
                            XFER_COPY_COUNT - 1);
    if (flags & ~XFER_F_ASYNC)
        return util_err_set(SMEM_INVALID_PARAM, "%s: copy flags 0x%x unknown", e->name, flags & ~XFER_F_ASYNC);
    if (type != XFER_COPY_AUTO &&
        (xfer_need[type].src == NEED_LDEV || xfer_need[type].dst == NEED_LDEV))
        return util_err_set(SMEM_UNSUPPORTED,
                            "%s: %s moves local device memory, which needs CUDA; this build has none (for host "
                            "memory use %s)",
                            e->name, xfer_copy_type_name(type),
                            xfer_need[type].src == NEED_LDEV ? "SMEMB_COPY_H2G" : "SMEMB_COPY_G2H");

    _Alignas(16) uint8_t stack[sizeof(xfer_job_t) + XFER_STACK_TRIPLES * (2 * sizeof(xfer_end_t) + sizeof(uint64_t))];
    bool async = (flags & XFER_F_ASYNC) != 0;
    xfer_job_t *job = xfer_job_alloc(n, stack, async ? 0 : sizeof(stack));
    if (job == NULL) return util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory for %u copies", e->name, n);

    int32_t rc = SMEM_OK;
    uint32_t i;
    for (i = 0; i < n; i++) {
        rc = xfer_triple_check(e, src[i], dst[i], len[i], type, job, i);
        if (rc != SMEM_OK) break;
    }
    if (rc != SMEM_OK) {
        char why[XFER_MSG_MAX];
        snprintf(why, sizeof(why), "%s", util_err_get());
        job->n = i; /* release only what was taken */
        xfer_job_release(job);
        if (n == 1)
            rc = util_err_set(rc, "%s: %s", e->name, why);
        else
            rc = util_err_set(rc, "%s: copy %u of %u: %s (nothing copied)", e->name, i, n, why);
        goto free_job;
    }
    if (async) {
        rc = xfer_async_submit(e, job);
        if (rc == SMEM_OK) return SMEM_OK; /* the async thread owns the job */
        xfer_job_release(job);
        goto free_job;
    }
    rc = xfer_job_run(e, job);
free_job:
    if ((void *)job != (void *)stack) free(job);
    return rc;
}
