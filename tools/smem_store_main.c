/*
 * smem-store: the standalone config store server.
 *
 *   smem-store [--listen URL] [--tls-ca F --tls-cert F --tls-key F [--tls-key-pass F] [--tls-crl F]] [--allow-insecure]
 *              [--keepalive-ms N] [--recovery-ms N] [--frame-timeout-ms N] [--max-frame BYTES] [--max-data SIZE]
 *              [--log-level 0..3] [--log-file F]
 *
 * Prints "smem-store listening on URL" (with the bound port when the URL's
 * port is 0) and serves until SIGTERM or SIGINT, then closes every client and
 * exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/util_conf.h"
#include "util/util_log.h"
#include "util/util_status.h"

static void usage(FILE *out)
{
    store_server_opts_t d; /* the defaults, from the code that applies them */
    store_server_opts_init(&d);
    fprintf(out,
            "usage: smem-store [options]\n"
            "  --listen URL          tcp://IP:PORT, tcp://[IPv6]:PORT or unix:///PATH (default tcp://127.0.0.1:6000;\n"
            "                        port 0 picks a free port)\n"
            "  --tls-ca FILE         enable TLS 1.3 with mutual authentication: CA bundle for client certs\n"
            "  --tls-cert FILE       server certificate (PEM)\n"
            "  --tls-key FILE        server private key (PEM)\n"
            "  --tls-key-pass FILE   file holding the key's password (if encrypted)\n"
            "  --tls-crl FILE        certificate revocation list (PEM)\n"
            "  --allow-insecure      listen beyond loopback without TLS (refused otherwise): anyone who reaches\n"
            "                        the port can read and write every key\n"
            "  --keepalive-ms N      a client silent this long is declared dead (default %u)\n"
            "  --recovery-ms N       after start, new joins wait this long so members that survived a restart\n"
            "                        get their ranks back first (default %u; 0 off)\n"
            "  --frame-timeout-ms N  a message once started must arrive within this (default %u)\n"
            "  --max-frame SIZE      largest accepted message, e.g. 16MB (default %u bytes)\n"
            "  --max-data SIZE       keys and values held in all; writes past it are refused (default %llu bytes)\n"
            "  --log-level N         0 debug, 1 info (default), 2 warn, 3 error\n"
            "  --log-file FILE       append logs to FILE instead of stderr\n"
            "  --help                this text\n",
            d.keepalive_ms, STORE_RECOVERY_DEFAULT_MS, d.net.frame_timeout_ms, d.net.max_frame,
            (unsigned long long)d.max_data_bytes);
}

static int copy_path(char *dst, size_t cap, const char *src, const char *what)
{
    if (strlen(src) >= cap) {
        fprintf(stderr, "smem-store: %s path longer than %zu bytes\n", what, cap - 1);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = "tcp://127.0.0.1:6000";
    store_server_opts_t opts;
    store_server_opts_init(&opts);
    opts.recovery_ms = STORE_RECOVERY_DEFAULT_MS;
    opts.net.expose = (net_expose_t){.what = "smem-store", .tls_opt = "--tls-ca, --tls-cert, --tls-key",
                                     .switch_opt = "--allow-insecure"};
    net_tls_opts_t tls;
    net_tls_opts_init(&tls);
    int log_level = UTIL_LOG_INFO;
    const char *log_file = NULL;

    enum { O_LISTEN = 1, O_CA, O_CERT, O_KEY, O_PASS, O_CRL, O_KEEPALIVE, O_RECOVERY, O_FRAMETO, O_MAXFRAME, O_MAXDATA, O_LEVEL, O_LOGFILE, O_INSECURE, O_HELP };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, O_LISTEN},     {"tls-ca", required_argument, NULL, O_CA},
        {"tls-cert", required_argument, NULL, O_CERT},     {"tls-key", required_argument, NULL, O_KEY},
        {"tls-key-pass", required_argument, NULL, O_PASS}, {"tls-crl", required_argument, NULL, O_CRL},
        {"keepalive-ms", required_argument, NULL, O_KEEPALIVE}, {"recovery-ms", required_argument, NULL, O_RECOVERY},
        {"frame-timeout-ms", required_argument, NULL, O_FRAMETO}, {"max-frame", required_argument, NULL, O_MAXFRAME},
        {"max-data", required_argument, NULL, O_MAXDATA},
        {"log-level", required_argument, NULL, O_LEVEL},   {"log-file", required_argument, NULL, O_LOGFILE},
        {"allow-insecure", no_argument, NULL, O_INSECURE},
        {"help", no_argument, NULL, O_HELP},               {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case O_LISTEN: url = optarg; break;
        case O_CA: if (copy_path(tls.ca_path, sizeof(tls.ca_path), optarg, "--tls-ca")) return 2; tls.enable = true; break;
        case O_CERT: if (copy_path(tls.cert_path, sizeof(tls.cert_path), optarg, "--tls-cert")) return 2; break;
        case O_KEY: if (copy_path(tls.key_path, sizeof(tls.key_path), optarg, "--tls-key")) return 2; break;
        case O_PASS: if (copy_path(tls.key_pass_path, sizeof(tls.key_pass_path), optarg, "--tls-key-pass")) return 2; break;
        case O_CRL: if (copy_path(tls.crl_path, sizeof(tls.crl_path), optarg, "--tls-crl")) return 2; break;
        case O_KEEPALIVE: {
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || v < 100 || v > 3600000) {
                fprintf(stderr, "smem-store: --keepalive-ms must be 100..3600000, got '%s'\n", optarg);
                return 2;
            }
            opts.keepalive_ms = (uint32_t)v;
            break;
        }
        case O_RECOVERY: {
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || v > 600000) {
                fprintf(stderr, "smem-store: --recovery-ms must be 0..600000, got '%s'\n", optarg);
                return 2;
            }
            opts.recovery_ms = (uint32_t)v;
            break;
        }
        case O_FRAMETO: {
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || v < 50 || v > 3600000) {
                fprintf(stderr, "smem-store: --frame-timeout-ms must be 50..3600000, got '%s'\n", optarg);
                return 2;
            }
            opts.net.frame_timeout_ms = (uint32_t)v;
            break;
        }
        case O_MAXDATA: {
            uint64_t v = 0;
            if (util_conf_parse_size(optarg, &v) != SMEM_OK || v < (1ull << 20)) {
                fprintf(stderr, "smem-store: --max-data must be a size of at least 1MB, got '%s'\n", optarg);
                return 2;
            }
            opts.max_data_bytes = v;
            break;
        }
        case O_MAXFRAME: {
            uint64_t v = 0;
            if (util_conf_parse_size(optarg, &v) != SMEM_OK || v < 4096 || v > (1ull << 30)) {
                fprintf(stderr, "smem-store: --max-frame must be a size in 4KB..1GB, got '%s'\n", optarg);
                return 2;
            }
            opts.net.max_frame = (uint32_t)v;
            break;
        }
        case O_LEVEL:
            log_level = (int)strtol(optarg, &end, 10);
            if (*end || log_level < 0 || log_level > 4) {
                fprintf(stderr, "smem-store: --log-level must be 0..4, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_LOGFILE: log_file = optarg; break;
        case O_INSECURE: opts.net.expose.allow_insecure = true; break;
        case O_HELP: case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "smem-store: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (tls.enable && (tls.cert_path[0] == '\0' || tls.key_path[0] == '\0')) {
        fprintf(stderr, "smem-store: TLS needs --tls-ca, --tls-cert and --tls-key\n");
        return 2;
    }
    util_log_level_set(log_level);
    if (log_file != NULL && util_log_file_set(log_file) != SMEM_OK) {
        fprintf(stderr, "smem-store: %s\n", util_err_get());
        return 1;
    }

    /* Block the stop signals before any thread starts so only sigwait sees them. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    net_tls_t *ctx = NULL;
    if (tls.enable) {
        if (net_tls_create(&tls, true, &ctx) != SMEM_OK) {
            fprintf(stderr, "smem-store: TLS setup failed: %s\n", util_err_get());
            return 1;
        }
        opts.net.tls = ctx;
    }
    store_server_t *srv = NULL;
    if (store_server_start(url, &opts, &srv) != SMEM_OK) {
        fprintf(stderr, "smem-store: cannot start on %s: %s\n", url, util_err_get());
        if (ctx) net_tls_destroy(ctx);
        return 1;
    }
    net_addr_t addr;
    net_addr_parse(url, &addr);
    if (addr.family == AF_UNIX) printf("smem-store listening on %s%s\n", url, ctx ? " (TLS)" : "");
    else {
        /* Rebuild the URL with the bound port (matters for port 0). */
        char host[128];
        const char *p = strstr(url, "://");
        p = p ? p + 3 : url;
        const char *colon = strrchr(p, ':');
        size_t hl = colon ? (size_t)(colon - p) : strlen(p);
        if (hl >= sizeof(host)) hl = sizeof(host) - 1;
        memcpy(host, p, hl);
        host[hl] = '\0';
        printf("smem-store listening on tcp://%s:%u%s\n", host, store_server_port(srv), ctx ? " (TLS)" : "");
    }
    fflush(stdout);

    int sig = 0;
    sigwait(&stop_set, &sig);
    LOG_INFO("smem-store: signal %d, shutting down", sig);
    store_server_stop(srv);
    if (ctx) net_tls_destroy(ctx);
    util_log_file_set(NULL);
    return 0;
}
