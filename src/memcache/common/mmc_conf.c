/* Reading a memcache config file over a table; see mmc_conf.h. */
#include "memcache/common/mmc_conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "memcache/common/mmc_err.h"
#include "util/util_log.h"
#include "util/util_status.h"

int32_t mmc_conf_read(const char *path, const util_conf_spec_t *table, size_t rows, void *cfg,
                      util_conf_lines_t *lines)
{
    if (util_conf_load_file_lines(path, table, rows, cfg, lines) == SMEM_OK) return MMC_OK;
    char msg[600];
    snprintf(msg, sizeof(msg), "%s", util_err_get()); /* the message buffer cannot be its own source */
    return util_err_set(MMC_CONFIG, "%s", msg);
}

int32_t mmc_conf_checked(const char *path, const util_conf_spec_t *table, size_t rows, const util_conf_lines_t *lines,
                         int32_t check_rc)
{
    if (check_rc == MMC_OK) return MMC_OK;
    char msg[600];
    snprintf(msg, sizeof(msg), "%s", util_err_get());
    unsigned line = util_conf_line_of_msg(table, rows, lines, msg);
    if (line == 0) return util_err_set(MMC_CONFIG, "%s: %s", path, msg);
    return util_err_set(MMC_CONFIG, "%s:%u: %s", path, line, msg);
}

void mmc_conf_http_url_fix(char *url, size_t cap)
{
    size_t n = strlen(url);
    if (n == 0 || strstr(url, "://") != NULL || n + 7 >= cap) return;
    memmove(url + 7, url, n + 1);
    memcpy(url, "http://", 7);
}

/* mkdir -p of dir (a copy is cut at each '/'). */
static int32_t mmc_conf_mkdirs(const char *dir)
{
    char p[PATH_MAX_SIZE + 8];
    int n = snprintf(p, sizeof(p), "%s", dir);
    if (n < 0 || (size_t)n >= sizeof(p)) return util_err_set(MMC_CONFIG, "ock.mmc.log_path '%s' is too long", dir);
    for (char *s = p + 1;; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end) continue;
        *s = '\0';
        if (mkdir(p, 0750) != 0 && errno != EEXIST)
            return util_err_set(MMC_CONFIG, "ock.mmc.log_path: cannot create directory %s: %s", p, strerror(errno));
        if (end) break;
        *s = '/';
    }
    return MMC_OK;
}

int32_t mmc_conf_log_open(const char *log_path, const char *file_name, int32_t rotate_bytes, int32_t rotate_count)
{
    if (log_path == NULL || log_path[0] == '\0') return MMC_OK;
    size_t n = strlen(log_path);
    char file[PATH_MAX_SIZE + 64];
    if (n >= 4 && strcmp(log_path + n - 4, ".log") == 0) {
        snprintf(file, sizeof(file), "%s", log_path);
    } else {
        char dir[PATH_MAX_SIZE + 8];
        snprintf(dir, sizeof(dir), "%s%slogs", log_path, log_path[n - 1] == '/' ? "" : "/");
        int32_t rc = mmc_conf_mkdirs(dir);
        if (rc != MMC_OK) return rc;
        snprintf(file, sizeof(file), "%s/%s", dir, file_name);
    }
    if (util_log_file_set(file) != SMEM_OK) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s", util_err_get());
        return util_err_set(MMC_CONFIG, "ock.mmc.log_path: %s", msg);
    }
    if (rotate_bytes > 0 || rotate_count > 0)
        LOG_INFO("logging to %s; ock.mmc.log_rotation_file_size (%d MB) and _count (%d) are kept but not applied: "
                 "this build does not rotate its log (rotate it with logrotate's copytruncate)",
                 file, rotate_bytes >> 20, rotate_count);
    return MMC_OK;
}
