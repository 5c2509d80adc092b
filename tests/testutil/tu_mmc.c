/* Starting the memcache daemons for integration drivers (see tu_mmc.h). */
#include "tu_mmc.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

/* Starts argv on this host or in net's host; stdout to a pipe. 0 or -1. */
static int tu_mmc_spawn(tn_net_t *net, uint32_t host, char *const argv[], pid_t *pid, int *fd)
{
    if (net == NULL) return tu_spawn(argv, pid, fd);
    *pid = tn_spawn(net, host, argv, fd);
    return *pid > 0 ? 0 : -1;
}

static void tu_mmc_stop(tn_net_t *net, pid_t pid)
{
    if (net != NULL) tn_kill(net, pid);
    else tu_stop_pid(pid, 2000);
}

int tu_mmc_meta_run(tu_mmc_meta_t *m, pid_t *pid)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/mmc-meta", m->bin_dir ? m->bin_dir : tu_build_dir());
    char *argv[32];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; m->args != NULL && m->args[i] != NULL && n < 31; i++) argv[n++] = (char *)m->args[i];
    argv[n] = NULL;
    int fd = -1;
    if (tu_mmc_spawn(m->net, m->host, argv, pid, &fd) != 0) {
        fprintf(stderr, "cannot start %s\n", bin);
        return -1;
    }
    char line[512];
    int rc = tu_read_line(fd, line, sizeof(line), m->timeout_ms > 0 ? m->timeout_ms : 10000);
    close(fd);
    if (rc < 0 ||
        sscanf(line, "mmc-meta ready: rpc %127s store %127s metrics %127s", m->rpc, m->store, m->metrics) != 3) {
        fprintf(stderr, "no ready line from mmc-meta (got '%s')\n", rc >= 0 ? line : "");
        tu_mmc_stop(m->net, *pid);
        return -1;
    }
    return 0;
}

int tu_mmc_meta_start(const char *const extra[], pid_t *pid, char *rpc, size_t rpc_cap, char *store,
                      size_t store_cap)
{
    tu_mmc_meta_t m = {.args = extra};
    if (tu_mmc_meta_run(&m, pid) != 0) return -1;
    if (rpc != NULL) snprintf(rpc, rpc_cap, "%s", m.rpc);
    if (store != NULL) snprintf(store, store_cap, "%s", m.store);
    return 0;
}

int tu_mmc_meta_conf(const char *path, uint16_t rpc_port, uint16_t store_port, const char *log_level)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    fprintf(f, "ock.mmc.meta_service_url = tcp://127.0.0.1:%u\nock.mmc.meta_service.config_store_url = "
               "tcp://127.0.0.1:%u\nock.mmc.meta_service.metrics_url =\nock.mmc.log_level = %s\n",
            rpc_port, store_port, log_level);
    return fclose(f) == 0 ? 0 : -1;
}

int tu_mmc_local_run(const tu_mmc_local_t *l, pid_t *pid)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/mmc-local", l->bin_dir ? l->bin_dir : tu_build_dir());
    char *argv[] = {bin, "--meta-url", (char *)l->rpc, "--store-url", (char *)l->store, "--dram-size", (char *)l->dram,
                    "--max-dram-size", (char *)l->max_dram, "--world-size", (char *)l->world,
                    NULL, NULL, NULL, NULL};
    int n = 11;
    if (l->insecure) argv[n++] = "--allow-insecure";
    if (l->hcom != NULL) {
        argv[n++] = "--hcom-url";
        argv[n++] = (char *)l->hcom;
    }
    int fd = -1;
    if (tu_mmc_spawn(l->net, l->host, argv, pid, &fd) != 0) {
        fprintf(stderr, "cannot start %s\n", bin);
        *pid = -1;
        return -1;
    }
    char line[512];
    int rc = tu_read_line(fd, line, sizeof(line), l->timeout_ms > 0 ? l->timeout_ms : 30000);
    close(fd);
    unsigned rank = 0;
    if (rc < 0 || sscanf(line, "mmc-local ready: rank %u", &rank) != 1) {
        fprintf(stderr, "no ready line from mmc-local%s (got '%s')\n", l->net ? " in its namespace" : "",
                rc >= 0 ? line : "");
        tu_mmc_stop(l->net, *pid);
        *pid = -1;
        return -1;
    }
    return (int)rank;
}

int tu_mmc_local_start(const char *rpc, const char *store, const char *dram, const char *max_dram, const char *world,
                       pid_t *pid)
{
    tu_mmc_local_t l = {.rpc = rpc, .store = store, .dram = dram, .max_dram = max_dram, .world = world};
    return tu_mmc_local_run(&l, pid);
}

int tu_mmc_client_conf(const char *path, const tu_mmc_client_t *c)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    fprintf(f, "ock.mmc.meta_service_url = %s\nock.mmc.local_service.config_store_url = %s\n"
               "ock.mmc.local_service.dram.size = 0\nock.mmc.local_service.max.dram.size = %s\n"
               "ock.mmc.local_service.world_size = %s\nock.mmc.client.timeout.seconds = %d\n",
            c->rpc, c->store, c->max_dram, c->world, c->timeout_s);
    if (c->hcom != NULL) fprintf(f, "ock.mmc.local_service.hcom_url = %s\n", c->hcom);
    if (c->log_level != NULL) fprintf(f, "ock.mmc.log_level = %s\n", c->log_level);
    if (c->extra != NULL) fputs(c->extra, f);
    if (fclose(f) != 0) return -1;
    return setenv("MMC_LOCAL_CONFIG_PATH", path, 1);
}
