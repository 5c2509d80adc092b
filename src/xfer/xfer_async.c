/*
 * Async copies: one thread per engine, started by the first async copy, runs
 * queued jobs in order. Each issuing thread has a tracker (pending count and
 * first error) on each engine it used; xfer_wait drains the caller's own.
 * Threads are told apart by a process-unique id, never reused, so a thread
 * that reuses an exited thread's pthread_t does not inherit its errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_log.h"
#include "util/util_status.h"
#include "xfer/xfer_int.h"

static __thread uint64_t xfer_tid;
static uint64_t xfer_tid_next;

static uint64_t xfer_self_tid(void)
{
    if (xfer_tid == 0) xfer_tid = __atomic_add_fetch(&xfer_tid_next, 1, __ATOMIC_RELAXED);
    return xfer_tid;
}

static xfer_trk_t *xfer_trk_find_locked(xfer_engine_t *e, uint64_t tid)
{
    for (xfer_trk_t *t = e->trks; t != NULL; t = t->next)
        if (t->tid == tid) return t;
    return NULL;
}

static void *xfer_async_main(void *arg)
{
    xfer_engine_t *e = arg;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (e->head == NULL && !e->stop) pthread_cond_wait(&e->queue_cv, &e->lock);
        xfer_job_t *job = e->head;
        if (job == NULL) break; /* stopping, and everything queued has run */
        e->head = job->next;
        if (e->head == NULL) e->tail = NULL;
        pthread_mutex_unlock(&e->lock);

        int32_t rc = xfer_job_run(e, job);

        pthread_mutex_lock(&e->lock);
        xfer_trk_t *t = job->trk;
        if (rc != SMEM_OK && t->err == SMEM_OK) {
            t->err = rc;
            snprintf(t->msg, sizeof(t->msg), "%s", util_err_get());
        }
        if (--t->pending == 0) pthread_cond_broadcast(&e->done_cv);
        free(job);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

int32_t xfer_async_submit(xfer_engine_t *e, xfer_job_t *job)
{
    uint64_t tid = xfer_self_tid();
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&e->lock);
    if (e->stop) {
        rc = util_err_set(SMEM_EXITING, "%s: engine is shutting down; async copy refused", e->name);
        goto unlock;
    }
    if (!e->thread_started) {
        if (pthread_create(&e->thread, NULL, xfer_async_main, e) != 0) {
            rc = util_err_set(SMEM_NEW_OBJECT_FAILED, "%s: cannot start the async copy thread", e->name);
            goto unlock;
        }
        e->thread_started = true;
    }
    xfer_trk_t *t = xfer_trk_find_locked(e, tid);
    if (t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL) {
            rc = util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory for an async tracker", e->name);
            goto unlock;
        }
        t->tid = tid;
        t->next = e->trks;
        e->trks = t;
    }
    t->pending++;
    job->trk = t;
    job->next = NULL;
    if (e->tail != NULL) e->tail->next = job;
    else e->head = job;
    e->tail = job;
    pthread_cond_signal(&e->queue_cv);
unlock:
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int32_t xfer_wait(xfer_engine_t *e)
{
    if (e == NULL) return util_err_set(SMEM_INVALID_PARAM, "xfer_wait: engine is NULL");
    uint64_t tid = xfer_self_tid();
    char msg[XFER_MSG_MAX];
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&e->lock);
    xfer_trk_t *t = xfer_trk_find_locked(e, tid);
    if (t != NULL) {
        while (t->pending > 0) pthread_cond_wait(&e->done_cv, &e->lock);
        rc = t->err;
        snprintf(msg, sizeof(msg), "%s", t->msg);
        t->err = SMEM_OK;
        t->msg[0] = '\0';
    }
    pthread_mutex_unlock(&e->lock);
    if (rc != SMEM_OK) return util_err_set(rc, "%s", msg);
    return SMEM_OK;
}

void xfer_async_fini(xfer_engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    e->stop = true;
    pthread_cond_broadcast(&e->queue_cv);
    bool started = e->thread_started;
    pthread_mutex_unlock(&e->lock);
    if (started) pthread_join(e->thread, NULL);
    while (e->trks != NULL) {
        xfer_trk_t *t = e->trks;
        e->trks = t->next;
        if (t->err != SMEM_OK)
            LOG_WARN("%s: an async copy failed and nobody waited for it: %s", e->name, t->msg);
        free(t);
    }
}
