/*
 * Leveled logging. Quiet by default (errors only, to stderr), the level is set
 * by smem_set_log_level or the SMEM_LOG_LEVEL environment variable, and the
 * application may install its own sink (smem_set_extern_logger). The level is
 * checked before any formatting. Safe from any thread.
 */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

enum { UTIL_LOG_DEBUG = 0, UTIL_LOG_INFO = 1, UTIL_LOG_WARN = 2, UTIL_LOG_ERROR = 3, UTIL_LOG_OFF = 4 };

typedef void (*util_log_sink_cb_t)(int level, const char *msg);

extern int util_log_level_g;

int util_log_level_set(int level);           /* SMEM_INVALID_PARAM if out of 0..4 */
int util_log_level_get(void);
void util_log_sink_set(util_log_sink_cb_t cb); /* NULL restores stderr */
/* Route stderr output to a file as well (daemons); NULL closes it. */
int util_log_file_set(const char *path);
void util_log_write(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define UTIL_LOG(level, ...)                                                     \
    do {                                                                         \
        if ((level) >= __atomic_load_n(&util_log_level_g, __ATOMIC_RELAXED)) util_log_write((level), __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
#define LOG_DEBUG(...) UTIL_LOG(UTIL_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) UTIL_LOG(UTIL_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) UTIL_LOG(UTIL_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) UTIL_LOG(UTIL_LOG_ERROR, __VA_ARGS__)

#endif
