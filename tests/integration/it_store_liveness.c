/*
 * Liveness of group members, with real processes:
 *  - a watcher process watches the group's liveness prefix;
 *  - two joiners get ranks 0 and 1; rank 1 is SIGKILLed and the watcher must
 *    see the DELETE of its liveness key within 3 s (latency printed);
 *  - a new joiner gets rank 1 again (lowest free);
 *  - that joiner is SIGSTOPped: it stops heartbeating and the server must
 *    declare it dead after the keepalive (short here), while rank 0, which
 *    keeps heartbeating, stays alive.
 *
 * The parent creates no threads: the server, the watcher and the joiners are
 * forked processes that report to the parent with lines on pipes.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "testutil.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define KEEPALIVE_MS 1000u
#define HEARTBEAT_MS 100u
#define GROUP "live"
#define PREFIX GROUP "/__live/"

typedef struct proc {
    pid_t pid;
    int out; /* the child's report lines */
    int ctl; /* closing it tells the child to finish */
} proc_t;

static int g_port;
/* Parent-side pipe ends; a new child closes them so that one child's EOF
 * does not depend on another child exiting. */
static int g_fds[32];
static int g_nfds;

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One write per line (< PIPE_BUF) so lines never interleave. */
    if (write(fd, line, (size_t)n) != n) _exit(90);
}

/* ---------- children ---------- */

static int server_main(int out, int ctl)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before the loop thread exists */
    store_server_opts_t o;
    store_server_opts_init(&o);
    o.keepalive_ms = KEEPALIVE_MS;
    store_server_t *s;
    if (store_server_start("tcp://127.0.0.1:0", &o, &s) != 0) {
        say(out, "error %s\n", util_err_get());
        return 1;
    }
    say(out, "port %u\n", store_server_port(s));
    char b;
    while (read(ctl, &b, 1) > 0) {}
    store_server_stop(s);
    return 0;
}

static store_client_t *connect_short_hb(void)
{
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", g_port);
    store_client_opts_t o;
    store_client_opts_init(&o);
    o.rpc.heartbeat_ms = HEARTBEAT_MS;
    o.timeout_ms = 10000;
    store_client_t *c = NULL;
    if (store_client_connect(url, &o, &c) != 0) return NULL;
    return c;
}

static void watch_cb(void *arg, store_event_t ev, const char *key, const uint8_t *val, uint32_t len)
{
    (void)val;
    (void)len;
    say(*(int *)arg, "%s %s %" PRIu64 "\n", ev == STORE_EV_SET ? "SET" : "DEL", key, util_now_ns());
}

static int watcher_main(int out, int ctl)
{
    store_client_t *c = connect_short_hb();
    if (c == NULL || store_watch(c, PREFIX, true, watch_cb, &out, NULL) != 0) {
        say(out, "error %s\n", util_err_get());
        return 1;
    }
    say(out, "ready\n");
    char b;
    while (read(ctl, &b, 1) > 0) {}
    store_client_close(c);
    return 0;
}

static int joiner_main(int out, int ctl)
{
    store_client_t *c = connect_short_hb();
    uint32_t rank;
    if (c == NULL || store_group_join(c, GROUP, 8, UINT32_MAX, &rank) != 0) {
        say(out, "error %s\n", util_err_get());
        return 1;
    }
    say(out, "rank %u\n", rank);
    char b;
    while (read(ctl, &b, 1) > 0) {}
    store_client_close(c);
    return 0;
}

static proc_t spawn(int (*fn)(int out, int ctl))
{
    int o[2], k[2];
    proc_t p = {.pid = -1, .out = -1, .ctl = -1};
    if (pipe(o) != 0 || pipe(k) != 0) return p;
    fflush(NULL);
    p.pid = fork();
    if (p.pid == 0) {
        for (int i = 0; i < g_nfds; i++) close(g_fds[i]);
        close(o[0]);
        close(k[1]);
        _exit(fn(o[1], k[0]));
    }
    close(o[1]);
    close(k[0]);
    p.out = o[0];
    p.ctl = k[1];
    if (g_nfds + 2 <= 32) {
        g_fds[g_nfds++] = p.out;
        g_fds[g_nfds++] = p.ctl;
    }
    return p;
}

static void finish(proc_t *p, bool kill_it)
{
    if (p->pid <= 0) return;
    if (kill_it) kill(p->pid, SIGKILL);
    close(p->ctl);
    int st;
    if (tu_wait_pid(p->pid, 5000, &st) != 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &st, 0);
    }
    close(p->out);
    for (int i = 0; i < g_nfds; i++)
        if (g_fds[i] == p->out || g_fds[i] == p->ctl) g_fds[i--] = g_fds[--g_nfds];
    p->pid = -1;
}

/* Next watcher line for key with the given verb; other lines are kept in
 * mind only for the "rank 0 stayed alive" check. */
static bool g_rank0_deleted;

static bool wait_event(proc_t *w, const char *verb, const char *key, int timeout_ms, uint64_t *t_ns)
{
    char line[256], v[8], k[128];
    uint64_t end = util_now_ms() + (uint64_t)timeout_ms;
    while (util_ms_left(end) > 0) {
        if (tu_read_line(w->out, line, sizeof(line), (int)util_ms_left(end)) < 0) return false;
        uint64_t t = 0;
        if (sscanf(line, "%7s %127s %" SCNu64, v, k, &t) != 3) continue;
        if (strcmp(v, "DEL") == 0 && strcmp(k, PREFIX "0") == 0) g_rank0_deleted = true;
        if (strcmp(v, verb) == 0 && strcmp(k, key) == 0) {
            *t_ns = t;
            return true;
        }
    }
    return false;
}

static int read_rank(proc_t *p)
{
    char line[256];
    unsigned r;
    if (tu_read_line(p->out, line, sizeof(line), 10000) < 0) return -1;
    if (sscanf(line, "rank %u", &r) != 1) {
        fprintf(stderr, "joiner said: %s\n", line);
        return -1;
    }
    return (int)r;
}

int main(void)
{
    char line[256];
    uint64_t t;

    proc_t srv = spawn(server_main);
    TU_CHECK(srv.pid > 0 && tu_read_line(srv.out, line, sizeof(line), 10000) > 0 &&
                 sscanf(line, "port %d", &g_port) == 1,
             "server did not start");
    if (g_port == 0) goto out_srv;

    proc_t w = spawn(watcher_main);
    TU_CHECK(tu_read_line(w.out, line, sizeof(line), 10000) > 0 && strcmp(line, "ready") == 0,
             "watcher not ready: %s", line);

    proc_t j0 = spawn(joiner_main);
    TU_CHECK(read_rank(&j0) == 0, "first joiner is not rank 0");
    TU_CHECK(wait_event(&w, "SET", PREFIX "0", 3000, &t), "no SET of rank 0's liveness key");
    proc_t j1 = spawn(joiner_main);
    TU_CHECK(read_rank(&j1) == 1, "second joiner is not rank 1");
    TU_CHECK(wait_event(&w, "SET", PREFIX "1", 3000, &t), "no SET of rank 1's liveness key");

    /* SIGKILL: the kernel closes the socket; the server must announce it. */
    uint64_t t_kill = util_now_ns();
    kill(j1.pid, SIGKILL);
    bool seen = wait_event(&w, "DEL", PREFIX "1", 3000, &t);
    double ms = seen ? (double)(t - t_kill) / 1e6 : -1;
    TU_CHECK(seen && ms < 3000, "DELETE of rank 1 after SIGKILL not seen within 3 s");
    printf("SIGKILL -> DELETE of %s1 seen by the watcher after %.2f ms\n", PREFIX, ms);
    finish(&j1, true);

    /* The freed rank goes to the next joiner. */
    proc_t j2 = spawn(joiner_main);
    TU_CHECK(read_rank(&j2) == 1, "the joiner after the kill did not get rank 1 again");
    TU_CHECK(wait_event(&w, "SET", PREFIX "1", 3000, &t), "no SET of the new rank 1");

    /* SIGSTOP: no FIN, only silence; the keepalive must catch it. */
    uint64_t t_stop = util_now_ns();
    kill(j2.pid, SIGSTOP);
    seen = wait_event(&w, "DEL", PREFIX "1", (int)KEEPALIVE_MS + 3000, &t);
    ms = seen ? (double)(t - t_stop) / 1e6 : -1;
    TU_CHECK(seen, "stopped rank 1 was not declared dead within keepalive + 3 s");
    TU_CHECK(!seen || ms >= KEEPALIVE_MS - 2 * HEARTBEAT_MS, "stopped rank declared dead after %.1f ms, before the "
             "%u ms keepalive", ms, KEEPALIVE_MS);
    printf("SIGSTOP -> DELETE of %s1 after %.2f ms (keepalive %u ms)\n", PREFIX, ms, KEEPALIVE_MS);
    kill(j2.pid, SIGCONT);
    finish(&j2, true);
    TU_CHECK(!g_rank0_deleted, "rank 0 (heartbeating) was declared dead");

    /* An orderly exit is announced too. */
    finish(&j0, false);
    TU_CHECK(wait_event(&w, "DEL", PREFIX "0", 3000, &t), "no DELETE after rank 0 closed its client");

    finish(&w, false);
out_srv:
    finish(&srv, false);
    return tu_summary();
}
