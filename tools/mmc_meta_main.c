/*
 * mmc-meta: the memcache MetaService daemon.
 *
 *   mmc-meta [--config FILE] [--meta-url URL] [--store-url URL] [--metrics-url URL] [--log-level N] [--help]
 *
 * With no arguments it reads the file named by MMC_META_CONFIG_PATH when
 * that is set, else runs on loopback defaults. Flags override the file.
 * Prints one ready line with the bound URLs, serves until SIGTERM or SIGINT,
 * then closes every client and exits 0. Exit 2: bad arguments or config.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/mmc_def.h"
#include "memcache/mmc_service.h"
#include "util/util_log.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mmc-meta [options]\n"
            "  --config FILE       key = value file (default: $MMC_META_CONFIG_PATH if set, else built-in defaults)\n"
            "  --meta-url URL      RPC listener (ock.mmc.meta_service_url, default tcp://127.0.0.1:5000; port 0 = any)\n"
            "  --store-url URL     embedded config store (ock.mmc.meta_service.config_store_url,\n"
            "                      default tcp://127.0.0.1:6000; \"\" = none)\n"
            "  --metrics-url URL   HTTP endpoint (ock.mmc.meta_service.metrics_url, default http://127.0.0.1:8000;\n"
            "                      \"\" = none): /health /metrics /segments /capacity /keys?prefix=&limit=\n"
            "  --log-level L       debug|info|warn|error|off or 0..4 (ock.mmc.log_level, default info)\n"
            "  --help              this text\n"
            "See docs/CONFIG.md for every config key.\n");
}

static int copy_url(char *dst, size_t cap, const char *src, const char *flag)
{
    if (strlen(src) >= cap) {
        fprintf(stderr, "mmc-meta: %s longer than %zu bytes\n", flag, cap - 1);
        return -1;
    }
    snprintf(dst, cap, "%s", src);
    return 0;
}

/* The URL with the bound port in place of the configured one (port 0). */
static void bound_url(const char *url, uint16_t port, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    const char *colon = strrchr(url, ':');
    if (p == NULL || port == 0 || colon == NULL || colon < p + 3 || strncmp(url, "unix", 4) == 0) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s:%u", (int)(colon - url), url, port);
}

int main(int argc, char **argv)
{
    mmc_meta_service_config_t cfg;
    mmc_meta_service_config_init(&cfg);
    const char *config = NULL, *meta_url = NULL, *store_url = NULL, *metrics_url = NULL;
    int32_t level = -1;

    enum { O_CONFIG = 1, O_META, O_STORE, O_METRICS, O_LEVEL, O_HELP };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, O_CONFIG},       {"meta-url", required_argument, NULL, O_META},
        {"store-url", required_argument, NULL, O_STORE},     {"metrics-url", required_argument, NULL, O_METRICS},
        {"log-level", required_argument, NULL, O_LEVEL},     {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG: config = optarg; break;
        case O_META: meta_url = optarg; break;
        case O_STORE: store_url = optarg; break;
        case O_METRICS: metrics_url = optarg; break;
        case O_LEVEL:
            /* The same names and numbers as ock.mmc.log_level in a config file. */
            if (mmc_conf_parse_log_level(optarg, &level) != MMC_OK) {
                fprintf(stderr, "mmc-meta: --log-level must be debug, info, warn, error, off or 0..4, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_HELP: case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mmc-meta: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (config == NULL) {
        const char *env = getenv("MMC_META_CONFIG_PATH");
        if (env != NULL && env[0] != '\0') config = env;
    }
    if (config != NULL && mmc_meta_service_config_load(config, &cfg) != MMC_OK) {
        fprintf(stderr, "mmc-meta: %s\n", mmc_get_last_err_msg());
        return 2;
    }
    if ((meta_url && copy_url(cfg.discoveryURL, sizeof(cfg.discoveryURL), meta_url, "--meta-url")) ||
        (store_url && copy_url(cfg.configStoreURL, sizeof(cfg.configStoreURL), store_url, "--store-url")) ||
        (metrics_url && copy_url(cfg.httpURL, sizeof(cfg.httpURL), metrics_url, "--metrics-url")))
        return 2;
    if (level >= 0) cfg.logLevel = level;
    if (mmc_meta_service_config_check(&cfg) != MMC_OK) {
        fprintf(stderr, "mmc-meta: %s\n", mmc_get_last_err_msg());
        return 2;
    }

    /* Block the stop signals before any thread starts so only sigwait sees them. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mmc_meta_service_t svc = mmcs_meta_service_start(&cfg);
    if (svc == NULL) {
        fprintf(stderr, "mmc-meta: cannot start: %s\n", mmc_get_last_err_msg());
        return 1;
    }
    char rpc[300], store[300], http[300];
    bound_url(cfg.discoveryURL, mmcs_meta_service_port(svc, MMC_META_PORT_RPC), rpc, sizeof(rpc));
    bound_url(cfg.configStoreURL, mmcs_meta_service_port(svc, MMC_META_PORT_STORE), store, sizeof(store));
    bound_url(cfg.httpURL, mmcs_meta_service_port(svc, MMC_META_PORT_HTTP), http, sizeof(http));
    printf("mmc-meta ready: rpc %s store %s metrics %s%s\n", rpc, store[0] ? store : "-", http[0] ? http : "-",
           cfg.accTlsConfig.tlsEnable ? " (TLS)" : "");
    fflush(stdout);

    int sig = 0;
    sigwait(&stop_set, &sig);
    LOG_INFO("mmc-meta: signal %d, shutting down", sig);
    mmcs_meta_service_stop(svc);
    util_log_file_set(NULL);
    return 0;
}
