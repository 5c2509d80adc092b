/*
 * The memcache daemons for integration drivers: start mmc-meta and mmc-local
 * from the build tree and wait for their ready lines (one copy of what every
 * memcache driver needs).
 */
#ifndef TU_MMC_H
#define TU_MMC_H

#include <stddef.h>
#include <sys/types.h>

/* <build>/mmc-meta with extra arguments (NULL-terminated list, may be NULL);
 * waits up to 10 s for "mmc-meta ready: rpc URL store URL ..." and copies the
 * two URLs. 0, or -1 with the reason on stderr (the child is stopped). */
int tu_mmc_meta_start(const char *const extra[], pid_t *pid, char *rpc, size_t rpc_cap, char *store,
                      size_t store_cap);
/* <build>/mmc-local contributing `dram` (a size string) of a `max_dram` slot in
 * a world of `world` ranks; waits up to 30 s for its ready line. Its rank, or
 * -1 with the reason on stderr (the child is stopped, *pid = -1). */
int tu_mmc_local_start(const char *rpc, const char *store, const char *dram, const char *max_dram, const char *world,
                       pid_t *pid);

#endif
