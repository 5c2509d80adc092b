/*
 * mmc-meta: the memcache MetaService daemon.
 *
 *   mmc-meta [--config FILE] [--meta-url URL] [--store-url URL] [--metrics-url URL] [--log-level L]
 *            [--allow-insecure] [--help]
 *
 * The flags and --help come from the MetaService's config table
 * (mmc_conf_table.c); --print-config-table prints it as markdown.
 *
 * With no arguments it reads the file named by MMC_META_CONFIG_PATH when
 * that is set, else runs on loopback defaults. Flags override the file.
 * Prints one ready line with the bound URLs, serves until SIGTERM or SIGINT,
 * then closes every client and exits 0. Exit 2: bad arguments or config.
 */
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
    util_conf_cli_usage(out, "mmc-meta",
                        "key = value file (default: $MMC_META_CONFIG_PATH if set, else built-in defaults)",
                        mmc_meta_conf_table, mmc_meta_conf_rows);
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

/* Defaults, then the file (--config, else $MMC_META_CONFIG_PATH), then the flags: 0, or the exit status. */
static int meta_config(int argc, char **argv, mmc_meta_service_config_t *cfg)
{
    util_conf_cli_t cli;
    mmc_meta_service_config_init(cfg);
    if (util_conf_cli_parse(argc, argv, mmc_meta_conf_table, mmc_meta_conf_rows, &cli) != 0) {
        fprintf(stderr, "mmc-meta: %s\n", util_err_get());
        usage(stderr);
        return 2;
    }
    if (cli.help) usage(stdout);
    if (cli.print_table) util_conf_doc_table(stdout, mmc_meta_conf_table, mmc_meta_conf_rows);
    if (cli.help || cli.print_table) return -1;
    const char *config = cli.config;
    if (config == NULL) {
        const char *env = getenv("MMC_META_CONFIG_PATH");
        if (env != NULL && env[0] != '\0') config = env;
    }
    if ((config != NULL && mmc_meta_service_config_load(config, cfg) != MMC_OK) ||
        util_conf_cli_apply(&cli, cfg) != 0 || mmc_meta_service_config_check(cfg) != MMC_OK) {
        fprintf(stderr, "mmc-meta: %s\n", mmc_get_last_err_msg());
        return 2;
    }
    mmc_conf_http_url_fix(cfg->httpURL, sizeof(cfg->httpURL)); /* the ready line shows what is served */
    return 0;
}

int main(int argc, char **argv)
{
    mmc_meta_service_config_t cfg;
    int rc = meta_config(argc, argv, &cfg);
    if (rc != 0) return rc < 0 ? 0 : rc;

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
    /* With ock.mmc.tls on, the HTTP endpoint serves HTTPS whichever scheme the URL was given with. */
    const char *hurl = cfg.httpURL;
    char https[sizeof(cfg.httpURL) + 1];
    if (cfg.accTlsConfig.tlsEnable && strncmp(hurl, "http://", 7) == 0) {
        snprintf(https, sizeof(https), "https://%s", hurl + 7);
        hurl = https;
    }
    bound_url(hurl, mmcs_meta_service_port(svc, MMC_META_PORT_HTTP), http, sizeof(http));
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
