/* Leveled logging with an optional application sink. */
#include "util/util_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/util_status.h"

int util_log_level_g = UTIL_LOG_ERROR;

static util_log_sink_cb_t util_log_sink;
static FILE *util_log_file;
static pthread_mutex_t util_log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const util_log_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

__attribute__((constructor)) static void util_log_env_init(void)
{
    const char *env = getenv("SMEM_LOG_LEVEL");
    if (env == NULL || *env == '\0') return;
    char *end = NULL;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= UTIL_LOG_DEBUG && v <= UTIL_LOG_OFF) {
        util_log_level_g = (int)v;
        return;
    }
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(env, util_log_names[i]) == 0) util_log_level_g = i;
    }
}

int util_log_level_set(int level)
{
    if (level < UTIL_LOG_DEBUG || level > UTIL_LOG_OFF)
        return util_err_set(SMEM_INVALID_PARAM, "log level %d out of range 0..4", level);
    __atomic_store_n(&util_log_level_g, level, __ATOMIC_RELAXED);
    return SMEM_OK;
}

int util_log_level_get(void) { return __atomic_load_n(&util_log_level_g, __ATOMIC_RELAXED); }

void util_log_sink_set(util_log_sink_cb_t cb)
{
    pthread_mutex_lock(&util_log_lock);
    util_log_sink = cb;
    pthread_mutex_unlock(&util_log_lock);
}

int util_log_file_set(const char *path)
{
    FILE *f = NULL;
    if (path != NULL) {
        f = fopen(path, "a");
        if (f == NULL) return util_err_set(SMEM_IO, "cannot open log file %s: %s", path, strerror(errno));
        setvbuf(f, NULL, _IOLBF, 0);
    }
    pthread_mutex_lock(&util_log_lock);
    if (util_log_file != NULL) fclose(util_log_file);
    util_log_file = f;
    pthread_mutex_unlock(&util_log_lock);
    return SMEM_OK;
}

void util_log_write(int level, const char *file, int line, const char *fmt, ...)
{
    if (level < UTIL_LOG_DEBUG || level > UTIL_LOG_ERROR) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;

    pthread_mutex_lock(&util_log_lock);
    util_log_sink_cb_t sink = util_log_sink;
    if (sink != NULL) {
        /* The sink is the application's: call it outside our lock so it may log itself. */
        pthread_mutex_unlock(&util_log_lock);
        char line_msg[2200];
        snprintf(line_msg, sizeof(line_msg), "%s:%d %s", base, line, msg);
        sink(level, line_msg);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    FILE *out = util_log_file != NULL ? util_log_file : stderr;
    fprintf(out, "%s.%06ld %-5s %d:%ld %s:%d %s\n", stamp, ts.tv_nsec / 1000, util_log_names[level], (int)getpid(),
            (long)syscall(SYS_gettid), base, line, msg);
    pthread_mutex_unlock(&util_log_lock);
}
