/*
 * Per-key piece lists → BM batch copies. With aggregate.io the keys of a
 * call go in batches of up to aggregate.num keys (and at most
 * XFER_BATCH_MAX pieces) per smem_bm_copy_batch; without it, one batch per
 * key. Batches run on up to the read/write pool size threads (the caller
 * plus the shared xfer pool's persistent fan-out threads). When an aggregated batch fails, its
 * keys are copied again one by one so each key gets its own status (a put
 * re-copies the same bytes; a get re-reads them), and one bad replica does
 * not fail its neighbours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/client/client_int.h"
#include "memcache/common/mmc_err.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "xfer/xfer.h"
#include "xfer/xfer_pool.h"

int32_t cl_xfer_init(cl_xfer_t *x, uint32_t nkeys)
{
    memset(x, 0, sizeof(*x));
    x->nkeys = nkeys;
    x->first = calloc(nkeys ? nkeys : 1, sizeof(*x->first));
    x->count = calloc(nkeys ? nkeys : 1, sizeof(*x->count));
    x->dev = calloc(nkeys ? nkeys : 1, sizeof(*x->dev));
    x->st = calloc(nkeys ? nkeys : 1, sizeof(*x->st));
    if (x->first == NULL || x->count == NULL || x->dev == NULL || x->st == NULL) {
        cl_xfer_fini(x);
        return util_err_set(MMC_MALLOC_FAILED, "mmc client: out of memory for %u keys", nkeys);
    }
    return MMC_OK;
}

void cl_xfer_fini(cl_xfer_t *x)
{
    free(x->first);
    free(x->count);
    free(x->dev);
    free(x->st);
    free(x->src);
    free(x->dst);
    free(x->len);
    memset(x, 0, sizeof(*x));
}

void cl_xfer_key(cl_xfer_t *x, uint32_t k, bool dev)
{
    x->first[k] = x->n;
    x->count[k] = 0;
    x->dev[k] = dev;
}

void cl_xfer_add(cl_xfer_t *x, uint32_t k, const void *src, void *dst, uint64_t len)
{
    if (x->oom || len == 0) return;
    if (x->n == x->cap) {
        uint32_t cap = x->cap ? x->cap * 2 : 256;
        void **s = realloc(x->src, cap * sizeof(*s));
        if (s != NULL) x->src = s;
        void **d = realloc(x->dst, cap * sizeof(*d));
        if (d != NULL) x->dst = d;
        uint64_t *l = realloc(x->len, cap * sizeof(*l));
        if (l != NULL) x->len = l;
        if (s == NULL || d == NULL || l == NULL || cap < x->cap) {
            x->oom = true;
            return;
        }
        x->cap = cap;
    }
    x->src[x->n] = (void *)(uintptr_t)src;
    x->dst[x->n] = dst;
    x->len[x->n] = len;
    x->n++;
    x->count[k]++;
}

void cl_xfer_add_bufs(cl_xfer_t *x, uint32_t k, const mmc_buffer *bufs, uint32_t nbufs, uint64_t gva, uint64_t limit,
                      bool to_pool)
{
    uint64_t off = 0;
    for (uint32_t i = 0; i < nbufs && off < limit; i++) {
        uint64_t len = bufs[i].len;
        if (len > limit - off) len = limit - off;
        void *local = (void *)(uintptr_t)(bufs[i].addr + bufs[i].offset);
        void *global = (void *)(uintptr_t)(gva + off);
        if (to_pool)
            cl_xfer_add(x, k, local, global, len);
        else
            cl_xfer_add(x, k, global, local, len);
        off += len;
    }
}

/* One batch: keys [k0, k1) whose triples are contiguous. */
typedef struct cl_chunk {
    uint32_t k0, k1;
} cl_chunk_t;

typedef struct cl_run {
    cl_xfer_t *x;
    bool to_pool;
    cl_chunk_t *chunks;
    pthread_mutex_t mu;
    char msg[512]; /* first failure's message */
    int32_t msg_rc;
} cl_run_t;

static int32_t cl_copy(cl_run_t *r, uint32_t first, uint32_t count, bool dev)
{
    cl_xfer_t *x = r->x;
    smem_batch_copy_params p = {.sources = x->src + first, .destinations = x->dst + first,
                                .dataSizes = x->len + first, .batchSize = count};
    smem_bm_copy_type t = dev ? (r->to_pool ? SMEMB_COPY_L2G : SMEMB_COPY_G2L) : SMEMB_COPY_AUTO;
    int32_t rc = smem_bm_copy_batch(g_cl.ls.bm, &p, t, 0);
    if (rc != 0) {
        pthread_mutex_lock(&r->mu);
        if (r->msg_rc == 0) {
            r->msg_rc = rc;
            snprintf(r->msg, sizeof(r->msg), "%s", smem_get_last_err_msg()); /* libsmem's, not ours */
        }
        pthread_mutex_unlock(&r->mu);
    }
    return rc;
}

static void cl_chunk_run(cl_run_t *r, const cl_chunk_t *c)
{
    cl_xfer_t *x = r->x;
    uint32_t first = UINT32_MAX, total = 0, keys = 0;
    for (uint32_t k = c->k0; k < c->k1; k++) {
        if (x->count[k] == 0) continue;
        if (first == UINT32_MAX) first = x->first[k];
        total += x->count[k];
        keys++;
    }
    if (keys == 0) return;
    int32_t rc = cl_copy(r, first, total, x->dev[c->k0]);
    for (uint32_t k = c->k0; k < c->k1; k++)
        if (x->count[k] != 0) x->st[k] = mmc_status_from_smem(rc);
    if (rc == 0 || keys == 1) return;
    for (uint32_t k = c->k0; k < c->k1; k++) /* tell the keys apart */
        if (x->count[k] != 0) x->st[k] = mmc_status_from_smem(cl_copy(r, x->first[k], x->count[k], x->dev[k]));
}

static void cl_chunk_task(void *arg, uint32_t i)
{
    cl_run_t *r = arg;
    cl_chunk_run(r, &r->chunks[i]);
}

int32_t cl_xfer_run(cl_xfer_t *x, bool to_pool, uint32_t threads)
{
    if (x->oom) return util_err_set(MMC_MALLOC_FAILED, "mmc client: out of memory for %u copy pieces", x->n);
    if (g_cl.ls.bm == NULL)
        return util_err_set(MMC_NOT_INITIALIZED, "mmc client: this process is client-only (mmc_init with init_bm = "
                                                 "false and no smem_bm_init): it has no BM to copy bytes with; "
                                                 "metadata calls work, data calls need init_bm = true");
    for (uint32_t k = 0; k < x->nkeys; k++) x->st[k] = MMC_OK;
    cl_chunk_t *chunks = calloc(x->nkeys ? x->nkeys : 1, sizeof(*chunks));
    if (chunks == NULL) return util_err_set(MMC_MALLOC_FAILED, "mmc client: out of memory for %u keys", x->nkeys);
    /* Keys with triples were added in key order, so a run of keys is a contiguous triple range. */
    uint32_t nchunks = 0, per = g_cl.aggregate ? g_cl.aggregate_num : 1;
    for (uint32_t k = 0; k < x->nkeys;) {
        uint32_t k1 = k, keys = 0, pieces = 0;
        while (k1 < x->nkeys && keys < per && (keys == 0 || x->dev[k1] == x->dev[k]) &&
               (keys == 0 || pieces + x->count[k1] <= XFER_BATCH_MAX)) {
            pieces += x->count[k1];
            if (x->count[k1] != 0) keys++;
            k1++;
        }
        chunks[nchunks++] = (cl_chunk_t){k, k1};
        k = k1;
    }
    cl_run_t r = {.x = x, .to_pool = to_pool, .chunks = chunks};
    pthread_mutex_init(&r.mu, NULL);
    xfer_pool_fanout(g_cl.pool, cl_chunk_task, &r, nchunks, threads);
    if (r.msg_rc != 0) util_err_set(mmc_status_from_smem(r.msg_rc), "copy: %s", r.msg);
    pthread_mutex_destroy(&r.mu);
    free(chunks);
    return MMC_OK;
}
