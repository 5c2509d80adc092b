/*
 * Helpers shared by unit and integration tests: temp dirs, spawning real
 * processes (our daemons and tools), waiting with timeouts, capturing the
 * library's log lines, and a tiny pass/fail counter for integration drivers
 * that prints the "N passed, N failed" line ctest output is judged by.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Source and build dirs (env SMEM_SOURCE_DIR / SMEM_BUILD_DIR set by ctest,
 * else derived from /proc/self/exe: <build>/tests/<bin>). */
const char *tu_source_dir(void);
const char *tu_build_dir(void);

/* Fresh directory under $TMPDIR or /tmp; removed by tu_rmdir_rf. */
int tu_mkdtemp(char *out, size_t cap);
void tu_rmdir_rf(const char *path);

/* Start argv[0] (a path) with argv; if stdout_fd is not NULL, the child's stdout is
 * a pipe whose read end is returned. The child is in its own process group and
 * gets SIGKILL when the test process dies (PR_SET_PDEATHSIG). */
int tu_spawn(char *const argv[], pid_t *pid, int *stdout_fd);
/* Wait up to timeout_ms for pid; *status as waitpid. Returns 0, or -1 on timeout. */
int tu_wait_pid(pid_t pid, int timeout_ms, int *status);
/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status (waitpid form). */
int tu_stop_pid(pid_t pid, int timeout_ms);
/* Read one line (without '\n') within timeout_ms. Returns length or -1. */
int tu_read_line(int fd, char *buf, size_t cap, int timeout_ms);

/* This program's own path (/proc/self/exe), for drivers that run themselves again with --role. */
const char *tu_self_exe(void);

/* Drivers whose client processes are the driver itself: `self --role ARGS...`
 * (the driver's main dispatches on "--role" before anything else). */
/* Starts tu_self_exe() with "--role" and args (NULL-terminated). Its pid, or -1. */
pid_t tu_role_spawn(const char *const args[]);
/* Waits up to timeout_ms for a role process; past it says so naming `what`,
 * SIGCONTs and SIGKILLs it. True when it exited 0. */
bool tu_role_wait(pid_t pid, int timeout_ms, const char *what);
/* tu_role_spawn + tu_role_wait (args[0], the role, names it). */
bool tu_role_run(const char *const args[], int timeout_ms);

/* Zeroed memory shared with children forked after the call (MAP_SHARED); NULL on failure. */
void *tu_shared(size_t len);
/* Wait up to timeout_ms for *flag >= want (a flag another process sets in tu_shared memory). */
bool tu_await(volatile int *flag, int want, int timeout_ms);
/* Wait up to timeout_ms until flags[0..n) are all non-zero. */
bool tu_await_all(volatile int *flags, int n, int timeout_ms);

/* Forked children that run a function and report their TU_CHECK counts back:
 * child i runs fn(i, arg) and exits with its return value; its tu_passed and
 * tu_failed (+1 when fn returned non-zero) are added to the parent's by
 * tu_kids_wait. Fork them before the parent starts any thread. */
#define TU_KIDS_MAX 16
typedef struct tu_kids {
    int n;
    pid_t pid[TU_KIDS_MAX];
    bool reaped[TU_KIDS_MAX];
    struct tu_kid_counts *counts; /* shared with the children */
} tu_kids_t;
/* 0, or -1 (no shared memory, or a fork failed: counted as a failure; the children started so far run on). */
int tu_kids_start(tu_kids_t *k, int n, int (*fn)(int idx, void *arg), void *arg);
/* Each child not yet reaped, in order: wait up to timeout_ms (then SIGKILL: "child i timed out"),
 * check it exited 0, add its counts. Frees the shared memory. */
void tu_kids_wait(tu_kids_t *k, int timeout_ms);
/* SIGKILL child i now and reap it; its counts are not added. Returns its waitpid status. */
int tu_kids_kill(tu_kids_t *k, int i);

/* Runs a shell command (popen); its stdout, NUL-terminated, at most cap-1 bytes, in out.
 * The exit code, or -1 (could not start, or killed). */
int tu_run_cmd(const char *cmd, char *out, size_t cap);

/* Start <build>/smem-store with extra args on tcp://127.0.0.1:0; writes its URL. */
int tu_store_start(const char *const extra_args[], pid_t *pid, char *url, size_t url_cap);

/* Log capture through util_log_sink_set: lines at >= level are kept in memory. */
void tu_log_capture_start(int level);
void tu_log_capture_stop(void);
bool tu_log_contains(const char *needle);
size_t tu_log_count(const char *needle); /* occurrences so far */
void tu_log_clear(void);

/* Integration-driver counters. */
extern _Atomic int tu_passed, tu_failed; /* TU_CHECK runs on any thread */
#define TU_CHECK(cond, ...)                                              \
    do {                                                                 \
        if (cond) {                                                      \
            tu_passed++;                                                 \
        } else {                                                         \
            tu_failed++;                                                 \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                \
            fprintf(stderr, "\n");                                       \
        }                                                                \
    } while (0)
/* Prints "N passed, N failed" and returns the process exit code. */
int tu_summary(void);

#endif
