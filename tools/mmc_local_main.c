/*
 * mmc-local: a standalone memcache LocalService process (contributes DRAM
 * to the pool; holds no data of its own).
 *
 *   mmc-local [--config FILE] [--meta-url URL] [--store-url URL] [--dram-size SIZE]
 *             [--max-dram-size SIZE] [--world-size N] [--hcom-url URL] [--log-level L] [--help]
 *
 * With no --config it reads the file named by MMC_LOCAL_CONFIG_PATH when that
 * is set, else uses the loopback defaults. Flags override the file. Prints
 * one ready line ("mmc-local ready: rank R dram BYTES at 0xGVA"), serves until
 * SIGTERM or SIGINT, then unmounts its segment, leaves the pool and exits 0.
 * Exit 2: bad arguments or config; 1: cannot start.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/mmc_def.h"
#include "memcache/mmc_service.h"
#include "util/util_conf.h"
#include "util/util_log.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mmc-local [options]\n"
            "  --config FILE         key = value file (default: $MMC_LOCAL_CONFIG_PATH if set, else built-in defaults)\n"
            "  --meta-url URL        MetaService (ock.mmc.meta_service_url, default tcp://127.0.0.1:5000)\n"
            "  --store-url URL       config store (ock.mmc.local_service.config_store_url, default tcp://127.0.0.1:6000)\n"
            "  --dram-size SIZE      DRAM contributed (ock.mmc.local_service.dram.size, e.g. 256MB; 0 = none)\n"
            "  --max-dram-size SIZE  per-rank stride (ock.mmc.local_service.max.dram.size, default 1GB; the same on\n"
            "                        every LocalService of the cluster)\n"
            "  --world-size N        ranks in the pool (ock.mmc.local_service.world_size, default 256)\n"
            "  --hcom-url URL        data-plane address (ock.mmc.local_service.hcom_url)\n"
            "  --log-level L         debug|info|warn|error|off or 0..4 (default error)\n"
            "  --help                this text\n"
            "See docs/CONFIG.md for every config key.\n");
}

static int copy_str(char *dst, size_t cap, const char *src, const char *flag)
{
    if (strlen(src) >= cap) {
        fprintf(stderr, "mmc-local: %s longer than %zu bytes\n", flag, cap - 1);
        return -1;
    }
    snprintf(dst, cap, "%s", src);
    return 0;
}

static int parse_size(const char *s, uint64_t *out, const char *flag)
{
    if (util_conf_parse_size(s, out) != 0) {
        fprintf(stderr, "mmc-local: %s '%s' is not a size (e.g. 268435456, 256MB, 2.5GB)\n", flag, s);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    mmc_local_service_config_t cfg;
    mmc_local_service_config_init(&cfg);
    const char *config = NULL, *meta_url = NULL, *store_url = NULL, *hcom_url = NULL;
    const char *dram = NULL, *max_dram = NULL;
    long world = -1;
    int32_t level = -1;

    enum { O_CONFIG = 1, O_META, O_STORE, O_DRAM, O_MAX_DRAM, O_WORLD, O_HCOM, O_LEVEL, O_HELP };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, O_CONFIG},     {"meta-url", required_argument, NULL, O_META},
        {"store-url", required_argument, NULL, O_STORE},   {"dram-size", required_argument, NULL, O_DRAM},
        {"max-dram-size", required_argument, NULL, O_MAX_DRAM}, {"world-size", required_argument, NULL, O_WORLD},
        {"hcom-url", required_argument, NULL, O_HCOM},     {"log-level", required_argument, NULL, O_LEVEL},
        {"help", no_argument, NULL, O_HELP},               {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG: config = optarg; break;
        case O_META: meta_url = optarg; break;
        case O_STORE: store_url = optarg; break;
        case O_DRAM: dram = optarg; break;
        case O_MAX_DRAM: max_dram = optarg; break;
        case O_HCOM: hcom_url = optarg; break;
        case O_WORLD: {
            char *end = NULL;
            world = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || world < 1 || world > 1024) {
                fprintf(stderr, "mmc-local: --world-size must be 1..1024, got '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case O_LEVEL:
            /* The same names and numbers as ock.mmc.log_level in a config file. */
            if (mmc_conf_parse_log_level(optarg, &level) != MMC_OK) {
                fprintf(stderr, "mmc-local: --log-level must be debug, info, warn, error, off or 0..4, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_HELP: case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mmc-local: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (config == NULL) {
        const char *env = getenv("MMC_LOCAL_CONFIG_PATH");
        if (env != NULL && env[0] != '\0') config = env;
    }
    if (config != NULL && mmc_local_service_config_load(config, &cfg) != MMC_OK) {
        fprintf(stderr, "mmc-local: %s\n", mmc_get_last_err_msg());
        return 2;
    }
    if ((meta_url && copy_str(cfg.discoveryURL, sizeof(cfg.discoveryURL), meta_url, "--meta-url")) ||
        (store_url && copy_str(cfg.configStoreURL, sizeof(cfg.configStoreURL), store_url, "--store-url")) ||
        (hcom_url && copy_str(cfg.hcomUrl, sizeof(cfg.hcomUrl), hcom_url, "--hcom-url")) ||
        (dram && parse_size(dram, &cfg.localDRAMSize, "--dram-size")) ||
        (max_dram && parse_size(max_dram, &cfg.localMaxDRAMSize, "--max-dram-size")))
        return 2;
    if (world > 0) cfg.worldSize = (uint32_t)world;
    if (level >= 0) cfg.logLevel = level;
    if (mmc_local_service_config_check(&cfg) != MMC_OK) {
        fprintf(stderr, "mmc-local: %s\n", mmc_get_last_err_msg());
        return 2;
    }

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
           cfg.localDRAMSize, cfg.discoveryURL, cfg.configStoreURL);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop_set, &sig);
    LOG_INFO("mmc-local: signal %d, shutting down", sig);
    mmcs_local_service_stop(ls);
    util_log_file_set(NULL);
    return 0;
}
