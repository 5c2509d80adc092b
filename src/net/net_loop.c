/*
 * The event loop: one thread per net_loop_t running epoll (level-triggered),
 * an eventfd that other threads write to wake it, a FIFO of posted tasks, a
 * "dirty" list of connections with queued output or a close request, and
 * periodic timers. Timers and the connection/listener lists are only touched
 * on the loop thread; other threads reach them through net_loop_run_sync.
 *
 * Closed connections and listeners are freed only after the current batch of
 * epoll events, so an event later in the same batch never sees freed memory.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net/net_int.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define NET_LOOP_MAX_EVENTS 64

static __thread net_loop_t *net_cur_loop; /* the loop this thread runs, if any */

bool net_loop_in_thread(const net_loop_t *loop) { return loop != NULL && net_cur_loop == loop; }

static void net_loop_wake(net_loop_t *loop)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the loop will wake anyway. */
    ssize_t n = write(loop->wakefd, &one, sizeof(one));
    (void)n;
}

static void net_loop_on_wake(net_ev_t *ev, uint32_t events)
{
    (void)events;
    uint64_t v;
    ssize_t n = read(ev->fd, &v, sizeof(v));
    (void)n;
}

int net_loop_ep_ctl(net_loop_t *loop, int op, net_ev_t *ev, uint32_t events)
{
    struct epoll_event e;
    memset(&e, 0, sizeof(e));
    e.events = events;
    e.data.ptr = ev;
    return epoll_ctl(loop->epfd, op, ev->fd, &e);
}

bool net_loop_is_stopping(net_loop_t *loop)
{
    pthread_mutex_lock(&loop->lock);
    bool s = loop->stopping;
    pthread_mutex_unlock(&loop->lock);
    return s;
}

/* Returns false when the loop no longer runs tasks. */
static bool net_loop_post_task(net_loop_t *loop, net_task_t *t)
{
    t->next = NULL;
    pthread_mutex_lock(&loop->lock);
    if (loop->stopped) {
        pthread_mutex_unlock(&loop->lock);
        return false;
    }
    if (loop->task_tail != NULL) {
        loop->task_tail->next = t;
    } else {
        loop->task_head = t;
    }
    loop->task_tail = t;
    pthread_mutex_unlock(&loop->lock);
    if (!net_loop_in_thread(loop)) {
        net_loop_wake(loop);
    }
    return true;
}

int32_t net_loop_post(net_loop_t *loop, void (*fn)(void *arg), void *arg)
{
    if (loop == NULL || fn == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "net_loop_post: NULL argument");
    }
    net_task_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return util_err_set(SMEM_MALLOC_FAILED, "net_loop_post: cannot allocate a task");
    }
    t->fn = fn;
    t->arg = arg;
    t->heap = true;
    if (!net_loop_post_task(loop, t)) {
        free(t);
        return util_err_set(SMEM_NOT_STARTED, "loop %s is stopped", loop->name);
    }
    return SMEM_OK;
}

typedef struct net_sync {
    net_task_t task;
    net_loop_t *loop;
    void (*fn)(void *arg);
    void *arg;
    bool done;
} net_sync_t;

static void net_sync_run(void *arg)
{
    net_sync_t *s = arg;
    s->fn(s->arg);
    pthread_mutex_lock(&s->loop->lock);
    s->done = true;
    pthread_cond_broadcast(&s->loop->sync_cond);
    pthread_mutex_unlock(&s->loop->lock);
}

void net_loop_run_sync(net_loop_t *loop, void (*fn)(void *arg), void *arg)
{
    if (net_loop_in_thread(loop)) {
        fn(arg);
        return;
    }
    net_sync_t s = {.loop = loop, .fn = fn, .arg = arg, .done = false};
    s.task.fn = net_sync_run;
    s.task.arg = &s;
    s.task.heap = false;
    if (!net_loop_post_task(loop, &s.task)) {
        /* The thread has drained its last tasks: nothing else touches the
         * loop's lists any more, so running here is race-free. */
        fn(arg);
        return;
    }
    pthread_mutex_lock(&loop->lock);
    while (!s.done) {
        pthread_cond_wait(&loop->sync_cond, &loop->lock);
    }
    pthread_mutex_unlock(&loop->lock);
}

void net_loop_mark_dirty(net_loop_t *loop, net_conn_t *c)
{
    bool wake = false;
    pthread_mutex_lock(&loop->lock);
    if (!c->dirty && !loop->stopped) {
        c->dirty = true;
        net_conn_get(c);
        c->dirty_next = NULL;
        if (loop->dirty_tail != NULL) {
            loop->dirty_tail->dirty_next = c;
        } else {
            loop->dirty_head = c;
        }
        loop->dirty_tail = c;
        wake = true;
    }
    pthread_mutex_unlock(&loop->lock);
    if (wake && !net_loop_in_thread(loop)) {
        net_loop_wake(loop);
    }
}

static void net_loop_run_tasks(net_loop_t *loop)
{
    pthread_mutex_lock(&loop->lock);
    net_task_t *t = loop->task_head;
    loop->task_head = loop->task_tail = NULL;
    pthread_mutex_unlock(&loop->lock);
    while (t != NULL) {
        net_task_t *next = t->next;
        bool heap = t->heap; /* a sync task's memory belongs to its waiter once fn returns */
        t->fn(t->arg);
        if (heap) {
            free(t);
        }
        t = next;
    }
}

static void net_loop_run_dirty(net_loop_t *loop)
{
    pthread_mutex_lock(&loop->lock);
    net_conn_t *c = loop->dirty_head;
    loop->dirty_head = loop->dirty_tail = NULL;
    pthread_mutex_unlock(&loop->lock);
    while (c != NULL) {
        net_conn_t *next = c->dirty_next;
        pthread_mutex_lock(&loop->lock);
        c->dirty = false; /* cleared first so a send racing with this pass queues another */
        c->dirty_next = NULL;
        pthread_mutex_unlock(&loop->lock);
        net_conn_process(c);
        net_conn_put(c);
        c = next;
    }
}

/* ---------- timers ---------- */
static void net_timer_link(void *arg)
{
    net_timer_t *t = arg;
    t->due_ms = util_now_ms() + t->period_ms;
    t->next = t->loop->timers;
    t->loop->timers = t;
}

static void net_timer_unlink_free(net_timer_t *t)
{
    net_timer_t **pp = &t->loop->timers;
    while (*pp != NULL && *pp != t) {
        pp = &(*pp)->next;
    }
    if (*pp == t) {
        *pp = t->next;
    }
    free(t);
}

static void net_timer_do_cancel(void *arg)
{
    net_timer_t *t = arg;
    if (t->running) {
        t->cancelled = true; /* cancelled from inside a timer callback: freed when it returns */
        return;
    }
    net_timer_unlink_free(t);
}

int32_t net_timer_add(net_loop_t *loop, uint32_t period_ms, void (*fn)(void *arg), void *arg, net_timer_t **out)
{
    if (loop == NULL || fn == NULL || out == NULL) {
        return util_err_set(SMEM_INVALID_PARAM, "net_timer_add: NULL argument");
    }
    net_timer_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return util_err_set(SMEM_MALLOC_FAILED, "net_timer_add: cannot allocate a timer");
    }
    t->loop = loop;
    t->period_ms = period_ms > 0 ? period_ms : 1;
    t->fn = fn;
    t->arg = arg;
    net_loop_run_sync(loop, net_timer_link, t);
    *out = t;
    return SMEM_OK;
}

void net_timer_cancel(net_timer_t *t)
{
    if (t == NULL) {
        return;
    }
    /* Off the loop thread this waits for the loop, so a running fn has returned. */
    net_loop_run_sync(t->loop, net_timer_do_cancel, t);
}

static void net_loop_run_timers(net_loop_t *loop)
{
    uint64_t now = util_now_ms();
    for (;;) {
        net_timer_t *t = loop->timers;
        while (t != NULL && (t->cancelled || t->due_ms > now)) {
            t = t->next;
        }
        if (t == NULL) {
            return;
        }
        t->running = true;
        t->fn(t->arg);
        t->running = false;
        if (t->cancelled) {
            net_timer_unlink_free(t);
            continue;
        }
        t->due_ms += t->period_ms;
        if (t->due_ms <= now) {
            t->due_ms = now + t->period_ms; /* fell behind: skip missed periods rather than burst */
        }
    }
}

static int net_loop_timeout(net_loop_t *loop)
{
    /* Work queued from this thread (a timer's or a callback's send) does not
     * wake the loop: never sleep on it. */
    pthread_mutex_lock(&loop->lock);
    bool pending = loop->dirty_head != NULL || loop->task_head != NULL;
    pthread_mutex_unlock(&loop->lock);
    if (pending) {
        return 0;
    }
    uint64_t now = util_now_ms();
    int64_t wait = -1;
    for (net_timer_t *t = loop->timers; t != NULL; t = t->next) {
        int64_t d = t->due_ms > now ? (int64_t)(t->due_ms - now) : 0;
        if (wait < 0 || d < wait) {
            wait = d;
        }
    }
    if (loop->need_sweep && (wait < 0 || wait > NET_SWEEP_MS)) {
        wait = NET_SWEEP_MS;
    }
    return (int)wait;
}

/* ---------- deferred frees ---------- */
static void net_loop_bury(net_loop_t *loop)
{
    while (loop->graveyard != NULL) {
        net_conn_t *c = loop->graveyard;
        loop->graveyard = c->grave_next;
        net_conn_put(c); /* the loop's reference */
    }
    while (loop->dead_listeners != NULL) {
        net_listener_t *l = loop->dead_listeners;
        loop->dead_listeners = l->next;
        free(l);
    }
}

static void net_loop_close_all(net_loop_t *loop)
{
    while (loop->listeners != NULL) {
        net_listener_stop(loop->listeners);
    }
    while (loop->conns != NULL) {
        net_conn_shutdown(loop->conns, SMEM_OK);
    }
}

static void *net_loop_main(void *arg)
{
    net_loop_t *loop = arg;
    /* Writes to a dead peer (including OpenSSL's) must fail with EPIPE, not
     * kill the process: SIGPIPE from a write is delivered to the writing
     * thread, and blocking it here leaves the application's handler alone. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    net_cur_loop = loop;

    struct epoll_event evs[NET_LOOP_MAX_EVENTS];
    for (;;) {
        if (net_loop_is_stopping(loop)) {
            break;
        }
        int n = epoll_wait(loop->epfd, evs, NET_LOOP_MAX_EVENTS, net_loop_timeout(loop));
        if (n < 0) {
            if (errno != EINTR) {
                LOG_ERROR("net: loop %s: epoll_wait: %s", loop->name, strerror(errno));
                usleep(10000);
            }
            n = 0;
        }
        for (int i = 0; i < n; i++) {
            net_ev_t *ev = evs[i].data.ptr;
            ev->on_event(ev, evs[i].events);
        }
        net_loop_run_tasks(loop);
        /* Timers before the dirty pass: what a timer sends (a keepalive PING)
         * goes out now, not after the next epoll_wait; a request queued
         * behind it would otherwise wait for the next tick. */
        net_loop_run_timers(loop);
        net_loop_run_dirty(loop);
        uint64_t now = util_now_ms();
        if (loop->need_sweep && now - loop->last_sweep_ms >= NET_SWEEP_MS) {
            loop->last_sweep_ms = now;
            loop->need_sweep = net_conn_sweep(loop, now);
        }
        net_loop_bury(loop);
    }

    net_loop_close_all(loop);
    net_loop_run_dirty(loop);
    pthread_mutex_lock(&loop->lock);
    loop->stopped = true; /* from here on posts fail and run_sync runs in the caller */
    pthread_mutex_unlock(&loop->lock);
    net_loop_run_tasks(loop);
    net_loop_close_all(loop); /* anything a final task started */
    net_loop_run_dirty(loop);
    net_loop_bury(loop);
    net_cur_loop = NULL;
    return NULL;
}

net_loop_t *net_loop_create(const char *name)
{
    net_loop_t *loop = calloc(1, sizeof(*loop));
    if (loop == NULL) {
        util_err_set(SMEM_MALLOC_FAILED, "net_loop_create: cannot allocate the loop");
        return NULL;
    }
    snprintf(loop->name, sizeof(loop->name), "%s", name != NULL ? name : "net");
    loop->epfd = -1;
    loop->wakefd = -1;
    pthread_mutex_init(&loop->lock, NULL);
    pthread_cond_init(&loop->sync_cond, NULL);
    loop->rbuf = malloc(NET_READ_CHUNK);
    if (loop->rbuf == NULL) {
        util_err_set(SMEM_MALLOC_FAILED, "net_loop_create: cannot allocate %u read bytes", NET_READ_CHUNK);
        goto free_loop;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        util_err_set(SMEM_IO, "net_loop_create: epoll_create1: %s", strerror(errno));
        goto free_loop;
    }
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0) {
        util_err_set(SMEM_IO, "net_loop_create: eventfd: %s", strerror(errno));
        goto close_epfd;
    }
    loop->wake_ev.fd = loop->wakefd;
    loop->wake_ev.on_event = net_loop_on_wake;
    if (net_loop_ep_ctl(loop, EPOLL_CTL_ADD, &loop->wake_ev, EPOLLIN) != 0) {
        util_err_set(SMEM_IO, "net_loop_create: epoll_ctl: %s", strerror(errno));
        goto close_wakefd;
    }
    int rc = pthread_create(&loop->thread, NULL, net_loop_main, loop);
    if (rc != 0) {
        util_err_set(SMEM_IO, "net_loop_create: pthread_create: %s", strerror(rc));
        goto close_wakefd;
    }
    return loop;

close_wakefd:
    close(loop->wakefd);
close_epfd:
    close(loop->epfd);
free_loop:
    free(loop->rbuf);
    pthread_cond_destroy(&loop->sync_cond);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
    return NULL;
}

void net_loop_destroy(net_loop_t *loop)
{
    if (loop == NULL) {
        return;
    }
    if (net_loop_in_thread(loop)) {
        LOG_ERROR("net: net_loop_destroy(%s) called on its own thread; ignored (it cannot join itself)",
                  loop->name);
        return;
    }
    pthread_mutex_lock(&loop->lock);
    loop->stopping = true;
    pthread_mutex_unlock(&loop->lock);
    net_loop_wake(loop);
    pthread_join(loop->thread, NULL);

    /* Timers added or left after the thread exited. */
    while (loop->timers != NULL) {
        net_timer_t *t = loop->timers;
        loop->timers = t->next;
        free(t);
    }
    net_loop_bury(loop);
    close(loop->wakefd);
    close(loop->epfd);
    free(loop->rbuf);
    pthread_cond_destroy(&loop->sync_cond);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}
