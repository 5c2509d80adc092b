/* Starting the memcache daemons for integration drivers (see tu_mmc.h). */
#include "tu_mmc.h"

#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

int tu_mmc_meta_start(const char *const extra[], pid_t *pid, char *rpc, size_t rpc_cap, char *store,
                      size_t store_cap)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/mmc-meta", tu_build_dir());
    char *argv[32];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    int fd = -1;
    if (tu_spawn(argv, pid, &fd) != 0) return -1;
    char line[512], r[128], s[128], http[128];
    int rc = tu_read_line(fd, line, sizeof(line), 10000);
    close(fd);
    if (rc < 0 || sscanf(line, "mmc-meta ready: rpc %127s store %127s metrics %127s", r, s, http) != 3) {
        fprintf(stderr, "no ready line from mmc-meta (got '%s')\n", rc >= 0 ? line : "");
        tu_stop_pid(*pid, 2000);
        return -1;
    }
    if (rpc != NULL) snprintf(rpc, rpc_cap, "%s", r);
    if (store != NULL) snprintf(store, store_cap, "%s", s);
    return 0;
}

int tu_mmc_local_start(const char *rpc, const char *store, const char *dram, const char *max_dram, const char *world,
                       pid_t *pid)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/mmc-local", tu_build_dir());
    char *argv[] = {bin, "--meta-url", (char *)rpc, "--store-url", (char *)store, "--dram-size", (char *)dram,
                    "--max-dram-size", (char *)max_dram, "--world-size", (char *)world, NULL};
    int fd = -1;
    if (tu_spawn(argv, pid, &fd) != 0) return -1;
    char line[512];
    int rc = tu_read_line(fd, line, sizeof(line), 30000);
    close(fd);
    unsigned rank = 0;
    if (rc < 0 || sscanf(line, "mmc-local ready: rank %u", &rank) != 1) {
        fprintf(stderr, "no ready line from mmc-local (got '%s')\n", rc >= 0 ? line : "");
        tu_stop_pid(*pid, 2000);
        *pid = -1;
        return -1;
    }
    return (int)rank;
}
