#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/util_log.h"
#include "util/util_time.h"

int tu_passed, tu_failed;

static char tu_src[PATH_MAX], tu_bld[PATH_MAX];

static void tu_dirs_init(void)
{
    if (tu_bld[0] != '\0') return;
    const char *b = getenv("SMEM_BUILD_DIR");
    const char *s = getenv("SMEM_SOURCE_DIR");
    if (b != NULL) snprintf(tu_bld, sizeof(tu_bld), "%s", b);
    else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        /* <build>/tests/<bin> */
        for (int i = 0; i < 2; i++) {
            char *slash = strrchr(exe, '/');
            if (slash) *slash = '\0';
        }
        snprintf(tu_bld, sizeof(tu_bld), "%s", exe);
    }
    if (s != NULL) snprintf(tu_src, sizeof(tu_src), "%s", s);
    else snprintf(tu_src, sizeof(tu_src), "%s/..", tu_bld);
}

const char *tu_source_dir(void)
{
    tu_dirs_init();
    return tu_src;
}

const char *tu_build_dir(void)
{
    tu_dirs_init();
    return tu_bld;
}

int tu_mkdtemp(char *out, size_t cap)
{
    const char *t = getenv("TMPDIR");
    if (snprintf(out, cap, "%s/smemtest.XXXXXX", t ? t : "/tmp") >= (int)cap) return -1;
    return mkdtemp(out) ? 0 : -1;
}

void tu_rmdir_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) tu_rmdir_rf(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(path);
}

int tu_spawn(char *const argv[], pid_t *pid, int *stdout_fd)
{
    int pfd[2] = {-1, -1};
    if (stdout_fd != NULL && pipe2(pfd, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0) return -1;
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        setpgid(0, 0);
        if (stdout_fd != NULL) dup2(pfd[1], STDOUT_FILENO);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (stdout_fd != NULL) {
        close(pfd[1]);
        *stdout_fd = pfd[0];
    }
    *pid = p;
    return 0;
}

int tu_wait_pid(pid_t pid, int timeout_ms, int *status)
{
    uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 0;
        if (r < 0 && errno != EINTR) return -1;
        if (util_now_ms() >= deadline) return -1;
        usleep(2000);
    }
}

int tu_stop_pid(pid_t pid, int timeout_ms)
{
    int st = 0;
    kill(pid, SIGTERM);
    if (tu_wait_pid(pid, timeout_ms, &st) == 0) return st;
    kill(pid, SIGKILL);
    tu_wait_pid(pid, 5000, &st);
    return st;
}

int tu_read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
    while (n + 1 < cap) {
        int64_t left = util_ms_left(deadline);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) return -1;
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0) return -1;
        if (c == '\n') break;
        buf[n++] = c;
    }
    buf[n] = '\0';
    return (int)n;
}

int tu_store_start(const char *const extra_args[], pid_t *pid, char *url, size_t url_cap)
{
    char bin[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/smem-store", tu_build_dir());
    char *argv[32];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--listen";
    argv[n++] = "tcp://127.0.0.1:0";
    for (int i = 0; extra_args != NULL && extra_args[i] != NULL && n < 30; i++) argv[n++] = (char *)extra_args[i];
    argv[n] = NULL;
    int fd = -1;
    if (tu_spawn(argv, pid, &fd) != 0) return -1;
    char line[512];
    int rc = tu_read_line(fd, line, sizeof(line), 10000);
    close(fd);
    const char *tag = "listening on ";
    char *at = rc >= 0 ? strstr(line, tag) : NULL;
    if (at == NULL) {
        tu_stop_pid(*pid, 1000);
        return -1;
    }
    at += strlen(tag);
    char *sp = strchr(at, ' ');
    if (sp) *sp = '\0';
    snprintf(url, url_cap, "%s", at);
    return 0;
}

/* ---- log capture ---- */
static pthread_mutex_t tu_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *tu_log_buf;
static size_t tu_log_len, tu_log_cap;
static int tu_log_min;

static void tu_log_sink(int level, const char *msg)
{
    if (level < tu_log_min) return;
    pthread_mutex_lock(&tu_log_lock);
    size_t n = strlen(msg);
    if (tu_log_len + n + 2 > tu_log_cap) {
        size_t cap = (tu_log_cap ? tu_log_cap * 2 : 65536) + n;
        char *p = realloc(tu_log_buf, cap);
        if (p == NULL) {
            pthread_mutex_unlock(&tu_log_lock);
            return;
        }
        tu_log_buf = p;
        tu_log_cap = cap;
    }
    memcpy(tu_log_buf + tu_log_len, msg, n);
    tu_log_len += n;
    tu_log_buf[tu_log_len++] = '\n';
    tu_log_buf[tu_log_len] = '\0';
    pthread_mutex_unlock(&tu_log_lock);
}

void tu_log_capture_start(int level)
{
    tu_log_min = level;
    if (util_log_level_get() > level) util_log_level_set(level);
    util_log_sink_set(tu_log_sink);
}

void tu_log_capture_stop(void) { util_log_sink_set(NULL); }

bool tu_log_contains(const char *needle)
{
    pthread_mutex_lock(&tu_log_lock);
    bool r = tu_log_buf != NULL && strstr(tu_log_buf, needle) != NULL;
    pthread_mutex_unlock(&tu_log_lock);
    return r;
}

void tu_log_clear(void)
{
    pthread_mutex_lock(&tu_log_lock);
    tu_log_len = 0;
    if (tu_log_buf) tu_log_buf[0] = '\0';
    pthread_mutex_unlock(&tu_log_lock);
}

int tu_summary(void)
{
    printf("%d passed, %d failed\n", tu_passed, tu_failed);
    fflush(stdout);
    return tu_failed == 0 && tu_passed > 0 ? 0 : 1;
}
