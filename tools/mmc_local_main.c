/*
 * mmc-local: a standalone memcache LocalService process (contributes DRAM
 * to the pool; holds no data of its own).
 *
 *   mmc-local [--config FILE] [--meta-url URL] [--store-url URL] [--dram-size SIZE]
 *             [--max-dram-size SIZE] [--world-size N] [--hcom-url URL] [--log-level L] [--help]
 *
 * The flags and --help come from the LocalService's config table
 * (mmc_conf_table.c); --print-config-table prints it as markdown.
 *
 * With no --config it reads the file named by MMC_LOCAL_CONFIG_PATH when that
 * is set, else uses the loopback defaults. Flags override the file. Prints
 * one ready line ("mmc-local ready: rank R dram BYTES at 0xGVA"), serves until
 * SIGTERM or SIGINT, then unmounts its segment, leaves the pool and exits 0.
 * Exit 2: bad arguments or config; 1: cannot start.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/mmc_def.h"
#include "memcache/mmc_service.h"
#include "util/util_conf_cli.h"
#include "util/util_log.h"
#include "util/util_status.h"

static void usage(FILE *out)
{
    util_conf_cli_usage(out, "mmc-local",
                        "key = value file (default: $MMC_LOCAL_CONFIG_PATH if set, else built-in defaults)",
                        mmc_local_conf_table, mmc_local_conf_rows);
}

/* Defaults, then the file (--config, else $MMC_LOCAL_CONFIG_PATH), then the flags: 0, or the exit status. */
static int local_config(int argc, char **argv, mmc_local_service_config_t *cfg)
{
    util_conf_cli_t cli;
    mmc_local_service_config_init(cfg);
    if (util_conf_cli_parse(argc, argv, mmc_local_conf_table, mmc_local_conf_rows, &cli) != 0) {
        fprintf(stderr, "mmc-local: %s\n", util_err_get());
        usage(stderr);
        return 2;
    }
    if (cli.help) usage(stdout);
    if (cli.print_table) util_conf_doc_table(stdout, mmc_local_conf_table, mmc_local_conf_rows);
    if (cli.help || cli.print_table) return -1;
    const char *config = cli.config;
    if (config == NULL) {
        const char *env = getenv("MMC_LOCAL_CONFIG_PATH");
        if (env != NULL && env[0] != '\0') config = env;
    }
    if ((config != NULL && mmc_local_service_config_load(config, cfg) != MMC_OK) ||
        util_conf_cli_apply(&cli, cfg) != 0 || mmc_local_service_config_check(cfg) != MMC_OK) {
        fprintf(stderr, "mmc-local: %s\n", mmc_get_last_err_msg());
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    mmc_local_service_config_t cfg;
    int rc = local_config(argc, argv, &cfg);
    if (rc != 0) return rc < 0 ? 0 : rc;

    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mmc_local_service_t ls = mmcs_local_service_start(&cfg);
    if (ls == NULL) {
        fprintf(stderr, "mmc-local: cannot start: %s\n", mmc_get_last_err_msg());
        return 1;
    }
    printf("mmc-local ready: rank %u dram %" PRIu64 " meta %s store %s\n", mmcs_local_service_rank(ls),
           cfg.localDRAMSize, cfg.discoveryURL, cfg.bmIpPort);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop_set, &sig);
    LOG_INFO("mmc-local: signal %d, shutting down", sig);
    mmcs_local_service_stop(ls);
    util_log_file_set(NULL);
    return 0;
}
