/*
 * The memcache daemons for integration drivers (and their config files):
 * start mmc-meta and mmc-local from the build tree, on this host or inside a
 * simulated host (netns.h), and wait for their ready lines; write the
 * mmc-meta config and the pure-client LocalService config the client
 * processes read (one copy of what every memcache driver needs).
 */
#ifndef TU_MMC_H
#define TU_MMC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "netns.h"

/* ---------- mmc-meta ---------- */

typedef struct tu_mmc_meta {
    const char *const *args;                 /* after the binary: NULL-terminated, may be NULL */
    tn_net_t *net;                           /* not NULL: start it inside `host` of this net (tn_spawn) */
    uint32_t host;                           /* a host index or TN_HUB */
    const char *bin_dir;                     /* where mmc-meta is; NULL: tu_build_dir() */
    int timeout_ms;                          /* for the ready line; 0: 10 s */
    char rpc[128], store[128], metrics[128]; /* out: "mmc-meta ready: rpc URL store URL metrics URL" */
} tu_mmc_meta_t;

/* Starts mmc-meta and waits for its ready line. 0, or -1 with the reason on
 * stderr (the child is stopped, or killed through the net). */
int tu_mmc_meta_run(tu_mmc_meta_t *m, pid_t *pid);

/* The common case: <build>/mmc-meta with extra arguments (NULL-terminated list,
 * may be NULL) on this host; copies the RPC and config store URLs (either may be NULL). */
int tu_mmc_meta_start(const char *const extra[], pid_t *pid, char *rpc, size_t rpc_cap, char *store,
                      size_t store_cap);

/* An mmc-meta config file: RPC and config store on 127.0.0.1 at those ports
 * (0: any free one, read back from the ready line), no metrics endpoint, the
 * log level given ("error", "warn", ...). 0 or -1. */
int tu_mmc_meta_conf(const char *path, uint16_t rpc_port, uint16_t store_port, const char *log_level);

/* ---------- mmc-local ---------- */

typedef struct tu_mmc_local {
    const char *rpc, *store;             /* the MetaService's RPC and config store URLs */
    const char *dram, *max_dram, *world; /* --dram-size, --max-dram-size (the slot), --world-size */
    const char *hcom;                    /* --hcom-url; NULL: none */
    bool insecure;                       /* --allow-insecure (a plain data plane beyond loopback) */
    tn_net_t *net;                       /* not NULL: start it inside `host` of this net */
    uint32_t host;
    const char *bin_dir;                 /* NULL: tu_build_dir() */
    int timeout_ms;                      /* for the ready line; 0: 30 s */
} tu_mmc_local_t;

/* Starts mmc-local and waits for "mmc-local ready: rank N". Its rank, or -1
 * with the reason on stderr (the child is stopped, *pid = -1). */
int tu_mmc_local_run(const tu_mmc_local_t *l, pid_t *pid);

/* The common case: on this host, contributing `dram` (a size string) of a
 * `max_dram` slot in a world of `world` ranks. */
int tu_mmc_local_start(const char *rpc, const char *store, const char *dram, const char *max_dram, const char *world,
                       pid_t *pid);

/* ---------- client processes ---------- */

typedef struct tu_mmc_client {
    const char *rpc, *store;       /* the MetaService's RPC and config store URLs */
    const char *max_dram, *world;  /* the slot and world size the LocalServices use */
    int timeout_s;                 /* ock.mmc.client.timeout.seconds */
    const char *hcom;              /* ock.mmc.local_service.hcom_url; NULL: none */
    const char *log_level;         /* ock.mmc.log_level; NULL: the default */
    const char *extra;             /* more "key = value\n" lines, verbatim; NULL: none */
} tu_mmc_client_t;

/* Writes the config of a pure-client LocalService (no DRAM of its own) that
 * mmc_init reads, and points MMC_LOCAL_CONFIG_PATH at it. 0 or -1. */
int tu_mmc_client_conf(const char *path, const tu_mmc_client_t *c);

#endif
