/*
 * Client internals. client_api.c: init/uninit, the metadata calls and the
 * process-wide state; client_data.c: put/get (plain, batch, layers);
 * client_xfer.c: turning per-key piece lists into BM batch copies run on
 * the read/write threads; client_gva.c: the GVA-level calls and leases.
 *
 * Locking: g_cl.lock (rwlock) is held for reading by every call for its
 * whole duration and for writing by init/uninit, so uninit waits for calls
 * in flight. g_cl.lease_mu (the add_lease table) is a leaf.
 */
#ifndef CLIENT_INT_H
#define CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "memcache/common/mmc_meta_client.h"
#include "memcache/local/local_int.h"
#include "memcache/mmc_client.h"

typedef struct cl_lease_ent cl_lease_ent_t;

typedef struct cl_state {
    pthread_rwlock_t lock;
    bool inited;
    ls_info_t ls;
    mmc_meta_client_t *meta;    /* the client's own link; its owner token holds the leases and puts */
    uint32_t read_threads, write_threads;
    struct xfer_pool *pool;     /* the process's shared pool, a ref held while inited (NULL: the caller copies alone) */
    bool aggregate;
    uint32_t aggregate_num;
    pthread_mutex_t lease_mu;
    cl_lease_ent_t **lease_tab; /* key -> lease (mmcc_batch_add_lease) */
    uint32_t lease_nb;
    /* Test hook, read once by mmcc_init, 0 / "" when unset (one branch per get):
     * MMC_TEST_GET_STALL_MS stalls every get between the GET answer and the
     * copy; MMC_TEST_GET_LEASE_FILE names a file that then gets the lease id. */
    uint32_t test_get_stall_ms;
    char test_lease_file[256];
} cl_state_t;

extern cl_state_t g_cl;

/* Takes the read lock; MMC_NOT_INITIALIZED (message names what) when the client is not initialised. */
int32_t cl_enter(const char *what);
void cl_leave(void);

/* Batch size 1..MMC_BATCH_MAX and non-NULL arrays. */
int32_t cl_batch_check(const char *what, const void *keys, uint32_t n, const void *out);
/* One key: non-NULL, 1..256 bytes; per-key status with a message. */
int32_t cl_key_check(const char *what, const char *key);
/* A key's buffers: 1..MMC_LAYERS_MAX, one type (0 or 1), no NULL address
 * with bytes, no wrap; *total gets the byte count, *dev whether device memory. */
int32_t cl_bufs_check(const char *what, const char *key, const mmc_buffer *bufs, uint32_t nbufs, uint64_t *total,
                      bool *dev);
/* Sets every results[i] to rc and returns rc. */
int32_t cl_fail_all(int32_t rc, int32_t *results, uint32_t n);

/* Releases the add_lease table's leases and frees it (client_gva.c). */
void cl_lease_table_free(void);

/* How long before a MetaService deadline (lease ttl, put timeout) the client
 * already treats it as over: covers clock-rate differences and the trip of
 * the answer. A tenth, at most 1 s. */
static inline uint32_t cl_lease_margin_ms(uint32_t ttl_ms) { return ttl_ms / 10 > 1000 ? 1000 : ttl_ms / 10; }

/* ---------- copies (client_xfer.c) ---------- */

/* Triples of a call, grouped by key (the unit of a status). */
typedef struct cl_xfer {
    uint32_t nkeys;
    uint32_t *first, *count; /* key k's triples: [first, first + count); count 0: nothing to copy */
    uint8_t *dev;            /* key k's local end is device memory */
    int32_t *st;             /* key k's copy status after cl_xfer_run */
    void **src, **dst;
    uint64_t *len;
    uint32_t n, cap;
    bool oom;
} cl_xfer_t;

int32_t cl_xfer_init(cl_xfer_t *x, uint32_t nkeys);
void cl_xfer_fini(cl_xfer_t *x);
void cl_xfer_key(cl_xfer_t *x, uint32_t k, bool dev);
void cl_xfer_add(cl_xfer_t *x, uint32_t k, const void *src, void *dst, uint64_t len);
/* Gathers bufs into [gva, gva + total) (to_pool) or scatters from it, as key k's triples. */
void cl_xfer_add_bufs(cl_xfer_t *x, uint32_t k, const mmc_buffer *bufs, uint32_t nbufs, uint64_t gva, uint64_t limit,
                      bool to_pool);
/* Runs every key's triples as BM batch copies (aggregated or per key, on up
 * to `threads` threads: the caller and g_cl.pool's fan-out threads); st[k]
 * per key. MMC_MALLOC_FAILED when building failed. */
int32_t cl_xfer_run(cl_xfer_t *x, bool to_pool, uint32_t threads);

#endif
