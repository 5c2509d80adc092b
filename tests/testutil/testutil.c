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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/util_log.h"
#include "util/util_time.h"

_Atomic int tu_passed, tu_failed;

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

const char *tu_self_exe(void)
{
    static char exe[PATH_MAX];
    if (exe[0] == '\0') {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
    }
    return exe;
}

pid_t tu_role_spawn(const char *const args[])
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)tu_self_exe();
    argv[n++] = "--role";
    for (int i = 0; args[i] != NULL && n < 31; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
    pid_t pid = -1;
    return tu_spawn(argv, &pid, NULL) == 0 ? pid : -1;
}

bool tu_role_wait(pid_t pid, int timeout_ms, const char *what)
{
    int st = 0;
    if (pid <= 0) return false;
    if (tu_wait_pid(pid, timeout_ms, &st) != 0) {
        fprintf(stderr, "%s: role process %d did not finish in %d ms\n", what, (int)pid, timeout_ms);
        kill(pid, SIGCONT);
        kill(pid, SIGKILL);
        tu_wait_pid(pid, 2000, &st);
        return false;
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool tu_role_run(const char *const args[], int timeout_ms)
{
    return tu_role_wait(tu_role_spawn(args), timeout_ms, args[0] ? args[0] : "role");
}

void *tu_shared(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p; /* anonymous mappings start zeroed */
}

bool tu_await(volatile int *flag, int want, int timeout_ms)
{
    uint64_t end = util_now_ms() + (uint64_t)timeout_ms;
    while (*flag < want) {
        if (util_now_ms() > end) return false;
        usleep(2000);
    }
    return true;
}

bool tu_await_all(volatile int *flags, int n, int timeout_ms)
{
    uint64_t end = util_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int k = 0;
        for (int i = 0; i < n; i++) k += flags[i] != 0;
        if (k == n) return true;
        if (util_now_ms() > end) return false;
        usleep(5000);
    }
}

struct tu_kid_counts {
    int passed, failed;
};

int tu_kids_start(tu_kids_t *k, int n, int (*fn)(int idx, void *arg), void *arg)
{
    memset(k, 0, sizeof(*k));
    if (n < 0 || n > TU_KIDS_MAX || (k->counts = tu_shared(TU_KIDS_MAX * sizeof(*k->counts))) == NULL) {
        TU_CHECK(0, "%d children: no shared memory", n);
        return -1;
    }
    fflush(stdout); /* so the children do not print the parent's buffered output again */
    fflush(stderr);
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            int rc = fn(i, arg);
            k->counts[i].passed = tu_passed;
            k->counts[i].failed = tu_failed + (rc != 0);
            fflush(stdout);
            fflush(stderr);
            _exit(rc);
        }
        if (p < 0) {
            TU_CHECK(0, "fork child %d: %s", i, strerror(errno));
            return -1;
        }
        k->pid[i] = p;
        k->n = i + 1;
    }
    return 0;
}

void tu_kids_wait(tu_kids_t *k, int timeout_ms)
{
    for (int i = 0; i < k->n; i++) {
        if (k->reaped[i]) continue;
        int st = 0;
        k->reaped[i] = true;
        if (tu_wait_pid(k->pid[i], timeout_ms, &st) != 0) {
            kill(k->pid[i], SIGKILL);
            waitpid(k->pid[i], &st, 0);
            TU_CHECK(0, "child %d timed out", i);
            continue;
        }
        TU_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d exit status 0x%x", i, st);
        tu_passed += k->counts[i].passed;
        tu_failed += k->counts[i].failed;
    }
    if (k->counts != NULL) munmap(k->counts, TU_KIDS_MAX * sizeof(*k->counts));
    k->counts = NULL;
}

int tu_kids_kill(tu_kids_t *k, int i)
{
    int st = 0;
    kill(k->pid[i], SIGKILL);
    waitpid(k->pid[i], &st, 0);
    k->reaped[i] = true;
    return st;
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

int tu_run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    if (f == NULL) return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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

size_t tu_log_count(const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    pthread_mutex_lock(&tu_log_lock);
    for (const char *p = tu_log_buf; p != NULL && nl > 0 && (p = strstr(p, needle)) != NULL; p += nl) n++;
    pthread_mutex_unlock(&tu_log_lock);
    return n;
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
