/*
 * Private to the copy engine: xfer.c (resolution, validation, running a
 * job) and xfer_async.c (the async thread and per-thread completion
 * tracking). Nothing outside src/xfer includes this.
 */
#ifndef XFER_INT_H
#define XFER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "xfer/xfer.h"
#include "xfer/xfer_pool.h"

#define XFER_MSG_MAX 512u

/* One resolved address. A global end holds its rank (gva_rank_acquire)
 * from resolution until the job that owns it has run. */
typedef struct xfer_end {
    xfer_where_t where;
    bool held;
    gva_window_t *win;       /* global ends */
    uint32_t rank;
    uint64_t offset;
    void *ptr;               /* dereferenceable here; NULL for a rank on another host */
} xfer_end_t;

/* n validated triples; one allocation with the arrays after the header. */
typedef struct xfer_job {
    struct xfer_job *next;   /* async queue */
    struct xfer_trk *trk;    /* async: the issuing thread's tracker */
    uint32_t n;
    xfer_end_t *src;
    xfer_end_t *dst;
    uint64_t *len;
} xfer_job_t;

/* Async copies of one thread on one engine. */
typedef struct xfer_trk {
    struct xfer_trk *next;
    uint64_t tid;
    uint32_t pending;
    int32_t err;
    char msg[XFER_MSG_MAX];
} xfer_trk_t;

struct xfer_engine {
    char name[64];
    xfer_route_cb_t route;
    void *route_arg;
    xfer_pool_t *pool; /* the process's shared pool */

    /* Async state; `lock` is a leaf and never held while copying. */
    pthread_mutex_t lock;
    pthread_cond_t queue_cv; /* the async thread waits for jobs */
    pthread_cond_t done_cv;  /* xfer_wait waits for its tracker to drain */
    xfer_job_t *head, *tail;
    xfer_trk_t *trks;
    pthread_t thread;
    bool thread_started;
    bool stop;
};

/* Run a validated job: copy, call transports, release every held end.
 * Returns the first error (message set on the calling thread). */
int32_t xfer_job_run(xfer_engine_t *e, xfer_job_t *job);
/* Release the ends of a job that will not run. */
void xfer_job_release(xfer_job_t *job);

/* xfer_async.c */
int32_t xfer_async_submit(xfer_engine_t *e, xfer_job_t *job);
void xfer_async_fini(xfer_engine_t *e); /* drains the queue, joins the thread, frees trackers */

#endif
