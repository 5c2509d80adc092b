/* Reading a memcache config file over a table; see mmc_conf.h. */
#include "memcache/common/mmc_conf.h"

#include <stdio.h>

#include "memcache/common/mmc_err.h"
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
