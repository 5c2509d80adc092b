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

/* Start <build>/smem-store with extra args on tcp://127.0.0.1:0; writes its URL. */
int tu_store_start(const char *const extra_args[], pid_t *pid, char *url, size_t url_cap);

/* Log capture through util_log_sink_set: lines at >= level are kept in memory. */
void tu_log_capture_start(int level);
void tu_log_capture_stop(void);
bool tu_log_contains(const char *needle);
void tu_log_clear(void);

/* Integration-driver counters. */
extern int tu_passed, tu_failed;
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
