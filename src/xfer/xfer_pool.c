/* Parallel memcpy over a few worker threads, fan-out of blocking tasks, the shared pool; see xfer_pool.h. */
#include "xfer/xfer_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util_log.h"
#include "util/util_status.h"

typedef struct xfer_chunk {
    uint8_t *dst;
    const uint8_t *src;
    size_t len;
} xfer_chunk_t;

/* One xfer_pool_fanout call; lives on the caller's stack. Fields other than
 * next are guarded by the pool's fan_lock. */
typedef struct xfer_fan_job {
    struct xfer_fan_job *link; /* on the pool's active list while tasks may be left */
    void (*fn)(void *arg, uint32_t i);
    void *arg;
    uint32_t n;
    uint32_t next;             /* next task to take (atomic) */
    uint32_t helpers;          /* fan-out threads inside the job */
    uint32_t helpers_max;      /* max_par - 1 */
    pthread_cond_t done_cv;    /* the caller waits for helpers to leave */
} xfer_fan_job_t;

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

    /* Fan-out: separate threads and lock, so a blocking task never stalls a copy.
     * Lock order: fan_lock is a leaf (no task runs under it). */
    pthread_mutex_t fan_lock; /* guards the fields below and the jobs' fields but next */
    pthread_cond_t fan_cv;    /* idle fan-out threads wait for a job or stop */
    bool fan_stop;
    bool fan_spawn_warned;
    xfer_fan_job_t *fan_jobs; /* active jobs, oldest first */
    uint32_t fan_nthreads;
    uint32_t fan_busy;        /* fan-out threads inside a job; the others are free (waiting or about to look) */
    pthread_t fan_threads[XFER_FANOUT_THREADS_MAX];
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
    pthread_mutex_init(&p->fan_lock, NULL);
    pthread_cond_init(&p->fan_cv, NULL);
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
    pthread_cond_destroy(&p->fan_cv);
    pthread_mutex_destroy(&p->fan_lock);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->job_lock);
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
    pthread_mutex_lock(&p->fan_lock);
    p->fan_stop = true;
    pthread_cond_broadcast(&p->fan_cv);
    uint32_t nfan = p->fan_nthreads;
    pthread_mutex_unlock(&p->fan_lock);
    for (uint32_t i = 0; i < nfan; i++) pthread_join(p->fan_threads[i], NULL);
    pthread_cond_destroy(&p->fan_cv);
    pthread_mutex_destroy(&p->fan_lock);
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

/* ---------- fan-out ---------- */

static void xfer_fan_run(xfer_fan_job_t *j)
{
    for (;;) {
        uint32_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (i >= j->n) return;
        j->fn(j->arg, i);
    }
}

/* An active job with tasks left and room for a helper; fan_lock held. */
static xfer_fan_job_t *xfer_fan_pick(xfer_pool_t *p)
{
    for (xfer_fan_job_t *j = p->fan_jobs; j != NULL; j = j->link)
        if (j->helpers < j->helpers_max && __atomic_load_n(&j->next, __ATOMIC_RELAXED) < j->n) return j;
    return NULL;
}

static void *xfer_fan_worker(void *arg)
{
    xfer_pool_t *p = arg;
    pthread_mutex_lock(&p->fan_lock);
    for (;;) {
        xfer_fan_job_t *j = xfer_fan_pick(p);
        if (j != NULL) {
            j->helpers++;
            p->fan_busy++;
            pthread_mutex_unlock(&p->fan_lock);
            xfer_fan_run(j);
            pthread_mutex_lock(&p->fan_lock);
            p->fan_busy--;
            /* The caller may free j as soon as it sees 0 under the lock: j is not touched after. */
            if (--j->helpers == 0) pthread_cond_signal(&j->done_cv);
            continue;
        }
        if (p->fan_stop) break;
        /* pick and wait under one hold of fan_lock: a job posted before this wait is seen by pick */
        pthread_cond_wait(&p->fan_cv, &p->fan_lock);
    }
    pthread_mutex_unlock(&p->fan_lock);
    return NULL;
}

void xfer_pool_fanout(xfer_pool_t *p, void (*fn)(void *arg, uint32_t i), void *arg, uint32_t n, uint32_t max_par)
{
    if (n == 0) return;
    if (p == NULL || max_par <= 1 || n == 1) {
        for (uint32_t i = 0; i < n; i++) fn(arg, i);
        return;
    }
    uint32_t want = max_par - 1;
    if (want > n - 1) want = n - 1; /* the caller takes one task at least */
    if (want > XFER_FANOUT_THREADS_MAX) want = XFER_FANOUT_THREADS_MAX;
    xfer_fan_job_t j = {.fn = fn, .arg = arg, .n = n, .helpers_max = want};
    pthread_cond_init(&j.done_cv, NULL);

    pthread_mutex_lock(&p->fan_lock);
    xfer_fan_job_t **tail = &p->fan_jobs;
    while (*tail != NULL) tail = &(*tail)->link;
    *tail = &j;
    /* Free threads first; start more (for the pool's life) only when too few are free.
     * A thread started or woken here may still find the job's tasks all taken (or join
     * another job): the caller never waits for a helper to arrive, it runs what is left. */
    uint32_t free_n = p->fan_nthreads - p->fan_busy;
    uint32_t wake = want < free_n ? want : free_n;
    uint32_t spawn = want - wake;
    while (spawn > 0 && p->fan_nthreads < XFER_FANOUT_THREADS_MAX) {
        if (pthread_create(&p->fan_threads[p->fan_nthreads], NULL, xfer_fan_worker, p) != 0) {
            if (!p->fan_spawn_warned)
                LOG_WARN("xfer pool: could not start fan-out thread %u; callers run their tasks themselves",
                         p->fan_nthreads + 1);
            p->fan_spawn_warned = true;
            break;
        }
        p->fan_nthreads++;
        spawn--;
    }
    if (wake >= free_n)
        pthread_cond_broadcast(&p->fan_cv);
    else
        for (uint32_t i = 0; i < wake; i++) pthread_cond_signal(&p->fan_cv);
    pthread_mutex_unlock(&p->fan_lock);

    xfer_fan_run(&j);

    /* Every task is taken: no new helper may join; wait for those still running theirs. */
    pthread_mutex_lock(&p->fan_lock);
    for (xfer_fan_job_t **q = &p->fan_jobs; *q != NULL; q = &(*q)->link) {
        if (*q == &j) {
            *q = j.link;
            break;
        }
    }
    while (j.helpers > 0) pthread_cond_wait(&j.done_cv, &p->fan_lock);
    pthread_mutex_unlock(&p->fan_lock);
    pthread_cond_destroy(&j.done_cv);
}

/* ---------- the process's shared pool ---------- */

#define XFER_POOL_THREADS_MAX 4u
/* Below 2 MiB a copy is mostly cache-resident and a second core only adds
 * its wake-up and cache-line traffic (measured: 1 MiB ran at 0.6-0.8x
 * memcpy split in two, ~1x alone); 512 KiB chunks keep both busy to the end. */
#define XFER_POOL_CHUNK (512u << 10)
#define XFER_POOL_PARALLEL_MIN (2u << 20)

/* Lock order: xfer_pool_lock is a leaf. */
static pthread_mutex_t xfer_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static xfer_pool_t *xfer_pool_shared;
static uint32_t xfer_pool_refs;

int32_t xfer_pool_shared_get(xfer_pool_t **out)
{
    if (out == NULL) return util_err_set(SMEM_INVALID_PARAM, "xfer_pool_shared_get: NULL output");
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&xfer_pool_lock);
    if (xfer_pool_shared == NULL) {
        /* The caller copies too, so nproc - 1 workers fill the machine. */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        uint32_t n = ncpu > 1 ? (uint32_t)(ncpu - 1) : 0;
        if (n > XFER_POOL_THREADS_MAX) n = XFER_POOL_THREADS_MAX;
        rc = xfer_pool_create(n, XFER_POOL_CHUNK, XFER_POOL_PARALLEL_MIN, &xfer_pool_shared);
        if (rc == SMEM_OK) LOG_INFO("copy pool: %u worker threads (%ld CPUs)", n, ncpu);
    }
    if (rc == SMEM_OK) {
        xfer_pool_refs++;
        *out = xfer_pool_shared;
    }
    pthread_mutex_unlock(&xfer_pool_lock);
    return rc;
}

void xfer_pool_shared_put(void)
{
    xfer_pool_t *done = NULL;
    pthread_mutex_lock(&xfer_pool_lock);
    if (xfer_pool_refs > 0 && --xfer_pool_refs == 0) {
        done = xfer_pool_shared;
        xfer_pool_shared = NULL;
    }
    pthread_mutex_unlock(&xfer_pool_lock);
    xfer_pool_destroy(done);
}
