/* Parallel memcpy over a few worker threads; see xfer_pool.h. */
#include "xfer/xfer_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_log.h"
#include "util/util_status.h"

typedef struct xfer_chunk {
    uint8_t *dst;
    const uint8_t *src;
    size_t len;
} xfer_chunk_t;

struct xfer_pool {
    pthread_t *threads;
    uint32_t nthreads;
    size_t chunk;
    size_t parallel_min;

    pthread_mutex_t job_lock; /* held by the one caller whose job is running */
    pthread_mutex_t lock;     /* guards the fields below */
    pthread_cond_t work_cv;   /* workers wait for a job or stop */
    pthread_cond_t done_cv;   /* the caller waits for workers to leave the job */
    bool stop;
    uint64_t job_seq;         /* bumped per job so a worker joins each job once */
    xfer_chunk_t *chunks;
    size_t nchunks;
    size_t next;              /* next chunk to take (atomic) */
    uint32_t active;          /* workers inside the current job */
};

static void xfer_pool_run_chunks(xfer_pool_t *p, xfer_chunk_t *chunks, size_t nchunks)
{
    for (;;) {
        size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
        if (i >= nchunks) return;
        memcpy(chunks[i].dst, chunks[i].src, chunks[i].len);
    }
}

static void *xfer_pool_worker(void *arg)
{
    xfer_pool_t *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && (p->chunks == NULL || p->job_seq == seen)) pthread_cond_wait(&p->work_cv, &p->lock);
        if (p->stop) break;
        seen = p->job_seq;
        xfer_chunk_t *chunks = p->chunks;
        size_t n = p->nchunks;
        p->active++;
        pthread_mutex_unlock(&p->lock);
        xfer_pool_run_chunks(p, chunks, n);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0) pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int32_t xfer_pool_create(uint32_t nthreads, size_t chunk, size_t parallel_min, xfer_pool_t **out)
{
    if (out == NULL || nthreads > 64) return util_err_set(SMEM_INVALID_PARAM, "xfer_pool_create: %u threads (max 64)", nthreads);
    xfer_pool_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return util_err_set(SMEM_MALLOC_FAILED, "xfer_pool_create: out of memory");
    p->chunk = chunk ? chunk : (1u << 20);
    p->parallel_min = parallel_min ? parallel_min : (2u << 20);
    pthread_mutex_init(&p->job_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (nthreads > 0) {
        p->threads = calloc(nthreads, sizeof(pthread_t));
        if (p->threads == NULL) goto err_free;
        for (uint32_t i = 0; i < nthreads; i++) {
            if (pthread_create(&p->threads[i], NULL, xfer_pool_worker, p) != 0) {
                LOG_WARN("xfer pool: started %u of %u copy threads", i, nthreads);
                break;
            }
            p->nthreads++;
        }
    }
    *out = p;
    return SMEM_OK;
err_free:
    free(p);
    return util_err_set(SMEM_MALLOC_FAILED, "xfer_pool_create: out of memory");
}

void xfer_pool_destroy(xfer_pool_t *p)
{
    if (p == NULL) return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->lock);
    for (uint32_t i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->job_lock);
    free(p);
}

uint32_t xfer_pool_threads(const xfer_pool_t *p) { return p ? p->nthreads : 0; }

static void xfer_copy_serial(const xfer_piece_t *pieces, size_t n)
{
    for (size_t i = 0; i < n; i++) memcpy(pieces[i].dst, pieces[i].src, pieces[i].len);
}

void xfer_pool_copy(xfer_pool_t *p, const xfer_piece_t *pieces, size_t n)
{
    size_t total = 0, nchunks = 0;
    for (size_t i = 0; i < n; i++) total += pieces[i].len;
    if (p == NULL || p->nthreads == 0 || total < p->parallel_min || pthread_mutex_trylock(&p->job_lock) != 0) {
        xfer_copy_serial(pieces, n);
        return;
    }
    for (size_t i = 0; i < n; i++) nchunks += (pieces[i].len + p->chunk - 1) / p->chunk;
    xfer_chunk_t *chunks = malloc(nchunks * sizeof(*chunks));
    if (chunks == NULL) {
        pthread_mutex_unlock(&p->job_lock);
        xfer_copy_serial(pieces, n);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t off = 0; off < pieces[i].len; off += p->chunk) {
            size_t len = pieces[i].len - off < p->chunk ? pieces[i].len - off : p->chunk;
            chunks[k++] = (xfer_chunk_t){(uint8_t *)pieces[i].dst + off, (const uint8_t *)pieces[i].src + off, len};
        }
    }
    pthread_mutex_lock(&p->lock);
    p->chunks = chunks;
    p->nchunks = nchunks;
    __atomic_store_n(&p->next, 0, __ATOMIC_RELAXED);
    p->job_seq++;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->lock);

    xfer_pool_run_chunks(p, chunks, nchunks);

    /* Every chunk is taken; wait for workers still copying theirs, then retire the job. */
    pthread_mutex_lock(&p->lock);
    p->chunks = NULL;
    while (p->active > 0) pthread_cond_wait(&p->done_cv, &p->lock);
    pthread_mutex_unlock(&p->lock);
    free(chunks);
    pthread_mutex_unlock(&p->job_lock);
}
