/*
 * Trans transfers: write/read (single and batch) to another instance's
 * registered memory over the transport, and streams (opaque completion
 * queues) for the *_submit forms: one thread per stream runs its transfers
 * in submission order; smem_trans_stream_wait waits for them and returns
 * their first error.
 *
 * Locks: g_streams.lock (the stream table) and each stream's lock are
 * leaves; no transfer runs under either.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/host/smem_trans.h"
#include "smem/smem_trans_int.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

/* ---------- synchronous transfers ---------- */

/* Check the caller's arrays and build the piece list (*out malloc'd when n > 1, else &one). */
static int32_t sm_trans_pieces(const char *what, void *const *locals, const void *const *remotes,
                                 const size_t *sizes, uint32_t n, tp_piece_t *one, tp_piece_t **out)
{
    if (locals == NULL || remotes == NULL || sizes == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "%s: an address or size array is NULL", what);
    if (n == 0 || n > SMEM_TRANS_BATCH_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "%s: batch of %u (1..%u)", what, n, SMEM_TRANS_BATCH_MAX);
    tp_piece_t *p = n == 1 ? one : malloc(n * sizeof(*p));
    if (p == NULL) return util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory for %u pieces", what, n);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t r = (uint64_t)(uintptr_t)remotes[i];
        if (locals[i] == NULL || remotes[i] == NULL || sizes[i] == 0 || sizes[i] - 1 > UINT64_MAX - r) {
            if (p != one) free(p);
            return util_err_set(SMEM_INVALID_PARAM, "%s: piece %u of %u: local %p, remote %p, size %zu (addresses "
                                                    "non-NULL, size >= 1)",
                                what, i, n, locals[i], remotes[i], sizes[i]);
        }
        p[i] = (tp_piece_t){.local = locals[i], .offset = r, .len = sizes[i]};
    }
    *out = p;
    return SMEM_OK;
}

static int32_t sm_trans_run(sm_trans_obj_t *o, const char *what, bool write, const char *id,
                              const tp_piece_t *p, uint32_t n)
{
    tp_link_t *l = NULL;
    int32_t rc = sm_trans_peer_get(o, id, p, n, &l);
    if (rc == SMEM_OK) {
        rc = write ? tp_put(l->ep, TP_WINDOW_REG, p, n) : tp_get(l->ep, TP_WINDOW_REG, p, n);
        tp_cache_put(o->cache, l, rc);
    }
    if (rc != SMEM_OK) {
        char why[SMEM_TRANS_MSG_MAX];
        snprintf(why, sizeof(why), "%s", util_err_get());
        rc = util_err_set(rc, "%s to '%s' (%u piece%s): %s", what, id ? id : "NULL", n, n == 1 ? "" : "s", why);
    }
    return rc;
}

static int32_t sm_trans_xfer(smem_trans_t handle, const char *what, bool write, void *const *locals,
                               const char *id, const void *const *remotes, const size_t *sizes, uint32_t n,
                               uint32_t flags)
{
    sm_trans_obj_t *o = sm_trans_obj_get(handle, what);
    if (o == NULL) return sm_handle_status();
    tp_piece_t one, *p = NULL;
    int32_t rc = flags != 0 ? util_err_set(SMEM_INVALID_PARAM, "%s: flags 0x%x unknown (reserved, 0)", what, flags)
                            : sm_trans_may_initiate(o, what);
    if (rc == SMEM_OK) rc = sm_trans_pieces(what, locals, remotes, sizes, n, &one, &p);
    if (rc == SMEM_OK) rc = sm_trans_run(o, what, write, id, p, n);
    if (p != &one) free(p);
    sm_trans_obj_put(o);
    return rc;
}

int32_t smem_trans_write(smem_trans_t handle, const void *local_address, const char *remote_unique_id,
                         void *remote_address, size_t size, uint32_t flags)
{
    void *l = (void *)(uintptr_t)local_address;
    const void *r = remote_address;
    return sm_trans_xfer(handle, "smem_trans_write", true, &l, remote_unique_id, &r, &size, 1, flags);
}

int32_t smem_trans_batch_write(smem_trans_t handle, const void *local_addresses[], const char *remote_unique_id,
                               void *remote_addresses[], size_t sizes[], uint32_t batch_size, uint32_t flags)
{
    return sm_trans_xfer(handle, "smem_trans_batch_write", true, (void *const *)(uintptr_t)local_addresses,
                           remote_unique_id, (const void *const *)remote_addresses, sizes, batch_size, flags);
}

int32_t smem_trans_read(smem_trans_t handle, void *local_address, const char *remote_unique_id,
                        const void *remote_address, size_t size, uint32_t flags)
{
    return sm_trans_xfer(handle, "smem_trans_read", false, &local_address, remote_unique_id, &remote_address, &size,
                           1, flags);
}

int32_t smem_trans_batch_read(smem_trans_t handle, void *local_addresses[], const char *remote_unique_id,
                              const void *remote_addresses[], size_t sizes[], uint32_t batch_size,
                              uint32_t flags)
{
    return sm_trans_xfer(handle, "smem_trans_batch_read", false, local_addresses, remote_unique_id,
                           remote_addresses, sizes, batch_size, flags);
}

/* ---------- streams ---------- */

typedef struct sm_trans_job {
    struct sm_trans_job *next;
    sm_trans_obj_t *o; /* referenced until the job has run */
    bool write;
    const char *what;
    char id[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    uint32_t n;
    tp_piece_t pieces[];
} sm_trans_job_t;

typedef struct sm_trans_stream {
    pthread_mutex_t lock; /* leaf */
    pthread_cond_t cv;    /* jobs queued / done */
    sm_trans_job_t *head, *tail;
    uint32_t pending; /* queued + running */
    int32_t err;
    char msg[SMEM_TRANS_MSG_MAX];
    bool stop;
    pthread_t thread;
} sm_trans_stream_t;

#define SMEM_TRANS_STREAMS_MAX 1024u

static struct {
    pthread_mutex_t lock;
    sm_trans_stream_t *v[SMEM_TRANS_STREAMS_MAX];
} g_streams = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *sm_trans_stream_main(void *arg)
{
    sm_trans_stream_t *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->head == NULL && !s->stop) pthread_cond_wait(&s->cv, &s->lock);
        if (s->head == NULL) break;
        sm_trans_job_t *j = s->head;
        s->head = j->next;
        if (s->head == NULL) s->tail = NULL;
        pthread_mutex_unlock(&s->lock);
        int32_t rc = sm_trans_run(j->o, j->what, j->write, j->id, j->pieces, j->n);
        sm_trans_obj_put(j->o);
        pthread_mutex_lock(&s->lock);
        if (rc != SMEM_OK && s->err == SMEM_OK) {
            s->err = rc;
            snprintf(s->msg, sizeof(s->msg), "%s", util_err_get());
        }
        free(j);
        s->pending--;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Whether p is a live stream (the table lock must be held). */
static bool sm_trans_stream_live_locked(const void *p)
{
    for (uint32_t i = 0; i < SMEM_TRANS_STREAMS_MAX; i++)
        if (p != NULL && g_streams.v[i] == p) return true;
    return false;
}

int32_t smem_trans_stream_create(smem_trans_t handle, void **stream)
{
    sm_trans_obj_t *o = sm_trans_obj_get(handle, "smem_trans_stream_create");
    if (o == NULL) return sm_handle_status();
    sm_trans_obj_put(o); /* a stream holds the instance only while a job of it is queued */
    if (stream == NULL) return util_err_set(SMEM_INVALID_PARAM, "smem_trans_stream_create: stream is NULL");
    sm_trans_stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return util_err_set(SMEM_MALLOC_FAILED, "smem_trans_stream_create: out of memory");
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cv, NULL);
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&g_streams.lock);
    uint32_t slot = SMEM_TRANS_STREAMS_MAX;
    for (uint32_t i = 0; i < SMEM_TRANS_STREAMS_MAX && slot == SMEM_TRANS_STREAMS_MAX; i++)
        if (g_streams.v[i] == NULL) slot = i;
    if (slot == SMEM_TRANS_STREAMS_MAX)
        rc = util_err_set(SMEM_FULL, "smem_trans_stream_create: %u streams exist", SMEM_TRANS_STREAMS_MAX);
    else if (pthread_create(&s->thread, NULL, sm_trans_stream_main, s) != 0)
        rc = util_err_set(SMEM_NEW_OBJECT_FAILED, "smem_trans_stream_create: cannot start its thread");
    else
        g_streams.v[slot] = s;
    pthread_mutex_unlock(&g_streams.lock);
    if (rc != SMEM_OK) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return rc;
    }
    *stream = s;
    return SMEM_OK;
}

void smem_trans_stream_destroy(void *stream)
{
    pthread_mutex_lock(&g_streams.lock);
    bool live = sm_trans_stream_live_locked(stream);
    for (uint32_t i = 0; live && i < SMEM_TRANS_STREAMS_MAX; i++)
        if (g_streams.v[i] == stream) g_streams.v[i] = NULL;
    pthread_mutex_unlock(&g_streams.lock);
    if (!live) {
        util_err_set(SMEM_INVALID_PARAM, "smem_trans_stream_destroy: %p is not a live stream", stream);
        return;
    }
    sm_trans_stream_t *s = stream;
    pthread_mutex_lock(&s->lock);
    s->stop = true; /* the thread drains the queue first */
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int32_t smem_trans_stream_wait(void *stream, uint32_t timeout_ms)
{
    pthread_mutex_lock(&g_streams.lock);
    bool live = sm_trans_stream_live_locked(stream);
    pthread_mutex_unlock(&g_streams.lock);
    if (!live) return util_err_set(SMEM_INVALID_PARAM, "smem_trans_stream_wait: %p is not a live stream", stream);
    sm_trans_stream_t *s = stream;
    uint64_t deadline = util_now_ms() + timeout_ms;
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&s->lock);
    while (s->pending > 0) {
        if (timeout_ms == 0) {
            pthread_cond_wait(&s->cv, &s->lock);
            continue;
        }
        int64_t left = util_ms_left(deadline);
        if (left <= 0) {
            rc = util_err_set(SMEM_TIMEOUT, "smem_trans_stream_wait: %u transfers still running after %u ms",
                              s->pending, timeout_ms);
            break;
        }
        struct timespec ts = util_abstime_after_ms(left);
        pthread_cond_timedwait(&s->cv, &s->lock, &ts);
    }
    if (rc == SMEM_OK && s->err != SMEM_OK) {
        rc = util_err_set(s->err, "%s", s->msg);
        s->err = SMEM_OK;
        s->msg[0] = '\0';
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int32_t sm_trans_submit(smem_trans_t handle, const char *what, bool write, void *const *locals,
                                 const char *id, const void *const *remotes, const size_t *sizes, uint32_t n,
                                 void *stream, uint32_t flags)
{
    sm_trans_obj_t *o = sm_trans_obj_get(handle, what);
    if (o == NULL) return sm_handle_status();
    tp_piece_t one, *p = NULL;
    sm_trans_job_t *j = NULL;
    int32_t rc = flags != 0 ? util_err_set(SMEM_INVALID_PARAM, "%s: flags 0x%x unknown (reserved, 0)", what, flags)
                            : sm_trans_may_initiate(o, what);
    if (rc == SMEM_OK && (id == NULL || strlen(id) == 0 || strlen(id) > SMEM_TRANS_UNIQUE_ID_MAX))
        rc = util_err_set(SMEM_INVALID_PARAM, "%s: remote unique id is NULL, empty or longer than %u bytes", what,
                          SMEM_TRANS_UNIQUE_ID_MAX);
    if (rc == SMEM_OK) rc = sm_trans_pieces(what, locals, remotes, sizes, n, &one, &p);
    if (rc == SMEM_OK && (j = malloc(sizeof(*j) + n * sizeof(tp_piece_t))) == NULL)
        rc = util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory", what);
    if (rc == SMEM_OK) {
        j->next = NULL;
        j->o = o; /* our reference passes to the job */
        j->write = write;
        j->what = what;
        snprintf(j->id, sizeof(j->id), "%s", id);
        j->n = n;
        memcpy(j->pieces, p, n * sizeof(tp_piece_t));
        pthread_mutex_lock(&g_streams.lock);
        bool live = sm_trans_stream_live_locked(stream);
        if (live) { /* queue under the table lock: destroy cannot free the stream meanwhile */
            sm_trans_stream_t *s = stream;
            pthread_mutex_lock(&s->lock);
            if (s->tail) s->tail->next = j;
            else s->head = j;
            s->tail = j;
            s->pending++;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->lock);
        }
        pthread_mutex_unlock(&g_streams.lock);
        if (!live) rc = util_err_set(SMEM_INVALID_PARAM, "%s: stream %p is not a live stream", what, stream);
    }
    if (p != &one) free(p);
    if (rc != SMEM_OK) {
        free(j);
        sm_trans_obj_put(o);
    }
    return rc;
}

int32_t smem_trans_write_submit(smem_trans_t handle, const void *local_address, const char *remote_unique_id,
                                void *remote_address, size_t size, void *stream, uint32_t flags)
{
    void *l = (void *)(uintptr_t)local_address;
    const void *r = remote_address;
    return sm_trans_submit(handle, "smem_trans_write_submit", true, &l, remote_unique_id, &r, &size, 1, stream,
                             flags);
}

int32_t smem_trans_batch_write_submit(smem_trans_t handle, const void *local_addresses[], const char *remote_unique_id,
                                      void *remote_addresses[], size_t sizes[], uint32_t batch_size,
                                      void *stream, uint32_t flags)
{
    return sm_trans_submit(handle, "smem_trans_batch_write_submit", true, (void *const *)(uintptr_t)local_addresses,
                             remote_unique_id, (const void *const *)remote_addresses, sizes, batch_size, stream, flags);
}

int32_t smem_trans_read_submit(smem_trans_t handle, void *local_address, const char *remote_unique_id,
                               const void *remote_address, size_t size, void *stream, uint32_t flags)
{
    return sm_trans_submit(handle, "smem_trans_read_submit", false, &local_address, remote_unique_id,
                             &remote_address, &size, 1, stream, flags);
}

int32_t smem_trans_batch_read_submit(smem_trans_t handle, void *local_addresses[], const char *remote_unique_id,
                                     const void *remote_addresses[], size_t sizes[], uint32_t batch_size,
                                     void *stream, uint32_t flags)
{
    return sm_trans_submit(handle, "smem_trans_batch_read_submit", false, local_addresses, remote_unique_id,
                             remote_addresses, sizes, batch_size, stream, flags);
}
