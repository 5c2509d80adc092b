/* Client state, init/uninit, argument checks and the metadata-only calls
 * (exist, query, key info, remove, register). */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/client/client_int.h"
#include "memcache/common/mmc_conf.h"
#include "memcache/common/mmc_err.h"
#include "memcache/mmc.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "xfer/xfer_pool.h"

cl_state_t g_cl = {.lock = PTHREAD_RWLOCK_INITIALIZER, .lease_mu = PTHREAD_MUTEX_INITIALIZER};

/* ---------- checks ---------- */

int32_t cl_enter(const char *what)
{
    pthread_rwlock_rdlock(&g_cl.lock);
    if (g_cl.inited) return MMC_OK;
    pthread_rwlock_unlock(&g_cl.lock);
    return util_err_set(MMC_NOT_INITIALIZED, "%s: the client is not initialised (mmcc_init or mmc_init first)", what);
}

void cl_leave(void) { pthread_rwlock_unlock(&g_cl.lock); }

int32_t cl_fail_all(int32_t rc, int32_t *results, uint32_t n)
{
    if (results != NULL && n <= MMC_BATCH_MAX)
        for (uint32_t i = 0; i < n; i++) results[i] = rc;
    return rc;
}

int32_t cl_batch_check(const char *what, const void *keys, uint32_t n, const void *out)
{
    if (keys == NULL || out == NULL) return util_err_set(MMC_INVALID_PARAM, "%s: NULL key or result array", what);
    if (n == 0 || n > MMC_BATCH_MAX)
        return util_err_set(MMC_INVALID_PARAM, "%s: batch of %u keys, must be 1..%u", what, n, MMC_BATCH_MAX);
    return MMC_OK;
}

int32_t cl_key_check(const char *what, const char *key)
{
    if (key == NULL) return util_err_set(MMC_INVALID_PARAM, "%s: key is NULL", what);
    size_t len = strnlen(key, MMC_KEY_MAX + 1);
    if (len == 0 || len > MMC_KEY_MAX)
        return util_err_set(MMC_INVALID_PARAM, "%s: key of %s bytes, must be 1..%u", what,
                            len == 0 ? "0" : "more than 256", MMC_KEY_MAX);
    return MMC_OK;
}

int32_t cl_bufs_check(const char *what, const char *key, const mmc_buffer *bufs, uint32_t nbufs, uint64_t *total,
                      bool *dev)
{
    if (bufs == NULL) return util_err_set(MMC_INVALID_PARAM, "%s: key '%s': buffer is NULL", what, key);
    if (nbufs == 0 || nbufs > MMC_LAYERS_MAX)
        return util_err_set(MMC_INVALID_PARAM, "%s: key '%s': %u buffers, must be 1..%u", what, key, nbufs,
                            MMC_LAYERS_MAX);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < nbufs; i++) {
        const mmc_buffer *b = &bufs[i];
        if (b->type > 1)
            return util_err_set(MMC_INVALID_PARAM, "%s: key '%s': buffer %u has type %u (0 device, 1 host)", what, key,
                                i, b->type);
        if (b->type != bufs[0].type)
            return util_err_set(MMC_INVALID_PARAM, "%s: key '%s': buffers mix device and host memory", what, key);
        if (b->len == 0) continue;
        if (b->addr == 0 || b->addr > UINT64_MAX - b->offset || b->addr + b->offset > UINT64_MAX - b->len)
            return util_err_set(MMC_INVALID_PARAM, "%s: key '%s': buffer %u (addr 0x%" PRIx64 " + offset %" PRIu64
                                                   ", %" PRIu64 " bytes) is NULL or wraps",
                                what, key, i, b->addr, b->offset, b->len);
        if (sum > UINT64_MAX - b->len)
            return util_err_set(MMC_INVALID_PARAM, "%s: key '%s': buffer lengths overflow", what, key);
        sum += b->len;
    }
    *total = sum;
    *dev = bufs[0].type == 0;
    return MMC_OK;
}

/* ---------- init / uninit ---------- */

/* Test-only knobs (tests/integration/it_mmc_lease.c): never set in production. */
static void cl_test_hooks_read(void)
{
    const char *ms = getenv("MMC_TEST_GET_STALL_MS"), *file = getenv("MMC_TEST_GET_LEASE_FILE");
    g_cl.test_get_stall_ms = ms != NULL ? (uint32_t)strtoul(ms, NULL, 10) : 0;
    snprintf(g_cl.test_lease_file, sizeof(g_cl.test_lease_file), "%s", file != NULL ? file : "");
    if (g_cl.test_get_stall_ms > 0)
        LOG_WARN("mmc client: test hook MMC_TEST_GET_STALL_MS=%u: every get stalls before its copy",
                 g_cl.test_get_stall_ms);
}

static void cl_stop_hook(void) { mmcc_uninit(); }

/* The LocalService field of a config key, found through its table row so
 * the client follows the table (rename-proof); NULL when the key is unknown. */
static void *cl_local_field(mmc_local_service_config_t *lc, const char *key, size_t *size)
{
    size_t off, flat;
    const util_conf_spec_t *l = util_conf_find(mmc_local_conf_table, mmc_local_conf_rows, key, &off, &flat);
    assert(l != NULL && (*size == 0 || l->size == *size)); /* unit.conf_table */
    if (l == NULL || (*size != 0 && l->size != *size)) return NULL;
    *size = l->size;
    return (char *)lc + off;
}

/* Applies the fields of a seed client config over the LocalService's values
 * (mmc_def.h says which field overrides what); MMC_INVALID_PARAM naming the field. */
static int32_t cl_config_over(const mmc_client_config_t *cfg, const ls_info_t *ls, mmc_local_service_config_t *lc)
{
    /* the four tunables: each non-zero field replaces the key of the same name (mmc_client_conf_table) */
    for (size_t i = 0; i < mmc_client_conf_rows; i++) {
        const util_conf_spec_t *r = &mmc_client_conf_table[i];
        uint32_t v;
        memcpy(&v, (const char *)cfg + r->offset, sizeof(v));
        size_t sz = sizeof(v);
        void *f = cl_local_field(lc, r->key, &sz);
        if (v != 0 && f != NULL) memcpy(f, &v, sizeof(v));
    }
    size_t url_len = strnlen(cfg->discoveryURL, sizeof(cfg->discoveryURL));
    if (url_len == sizeof(cfg->discoveryURL))
        return util_err_set(MMC_INVALID_PARAM, "mmcc_init: discoveryURL is not NUL-terminated");
    if (url_len > 0) {
        size_t cap = 0;
        char *url = cl_local_field(lc, "ock.mmc.meta_service_url", &cap);
        if (url != NULL && url_len >= cap)
            return util_err_set(MMC_INVALID_PARAM, "mmcc_init: discoveryURL is %zu bytes, at most %zu here", url_len,
                                cap - 1);
        if (url != NULL) memcpy(url, cfg->discoveryURL, url_len + 1);
    }
    if (cfg->rankId != 0 && cfg->rankId != ls->rank)
        return util_err_set(MMC_INVALID_PARAM, "mmcc_init: rankId %u is not this process's LocalService rank %u "
                                               "(the client always runs over it; 0 takes it)",
                            cfg->rankId, ls->rank);
    if (cfg->aggregateNum < 0)
        return util_err_set(MMC_INVALID_PARAM, "mmcc_init: aggregateNum %d is negative", cfg->aggregateNum);
    if (cfg->aggregateNum != 0) {
        size_t bsz = sizeof(bool), usz = sizeof(uint32_t);
        bool *io = cl_local_field(lc, "ock.mmc.client.aggregate.io", &bsz);
        uint32_t *num = cl_local_field(lc, "ock.mmc.client.aggregate.num", &usz);
        if (io != NULL) *io = cfg->aggregateIO;
        if (num != NULL) *num = (uint32_t)cfg->aggregateNum;
    }
    if (cfg->tlsConfig.tlsEnable) {
        size_t tsz = sizeof(cfg->tlsConfig);
        void *tls = cl_local_field(lc, "ock.mmc.tls", &tsz);
        if (tls != NULL) memcpy(tls, &cfg->tlsConfig, sizeof(cfg->tlsConfig));
    }
    if (cfg->logFunc != NULL && (cfg->logLevel < 0 || cfg->logLevel > 4)) /* applied once the client is up */
        return util_err_set(MMC_INVALID_PARAM, "mmcc_init: logLevel %d outside 0..4", cfg->logLevel);
    return MMC_OK;
}

int32_t mmcc_init(mmc_client_config_t *cfg)
{
    pthread_rwlock_wrlock(&g_cl.lock);
    int32_t rc = MMC_OK;
    if (g_cl.inited) goto unlock;
    ls_info_t ls;
    rc = ls_info_get(&ls);
    if (rc != MMC_OK) goto unlock;
    mmc_local_service_config_t lc = ls.cfg;
    if (cfg != NULL) {
        rc = cl_config_over(cfg, &ls, &lc);
        if (rc == MMC_OK) rc = mmc_local_service_config_check(&lc);
        if (rc != MMC_OK) goto unlock;
    }
    mmc_meta_client_opts_t mo;
    mmc_meta_client_opts_from_local(&lc, &mo);
    rc = mmc_meta_client_connect(&mo, &g_cl.meta);
    if (rc == MMC_OK) mmc_meta_client_set_prover(g_cl.meta, ls_rank_prove, NULL);
    if (rc != MMC_OK) goto unlock;
    ls_keepalive_set(g_cl.meta);
    g_cl.ls = ls;
    g_cl.ls.cfg = lc;
    g_cl.read_threads = lc.readThreadPoolSize;
    g_cl.write_threads = lc.writeThreadPoolSize;
    g_cl.aggregate = lc.aggregateIO;
    g_cl.aggregate_num = lc.aggregateNum;
    g_cl.lease_nb = 0;
    g_cl.lease_tab = NULL;
    cl_test_hooks_read();
    if (xfer_pool_shared_get(&g_cl.pool) != SMEM_OK) { /* only out of memory: copies then run on the caller alone */
        LOG_WARN("mmc client: no copy pool (%s); batches run on the calling thread", util_err_get());
        g_cl.pool = NULL;
    }
    g_cl.inited = true;
    ls_stop_hook_set(cl_stop_hook);
    if (cfg != NULL && cfg->logFunc != NULL) { /* the seed's client logger: the process's, from here on */
        mmc_set_extern_logger(cfg->logFunc);
        mmc_set_log_level(cfg->logLevel);
    }
    LOG_INFO("mmc client: bound to LocalService rank %u (%s), timeout %u s", ls.rank,
             ls.mounted ? "with a segment" : "pure client", lc.timeoutSeconds);
unlock:
    pthread_rwlock_unlock(&g_cl.lock);
    return rc;
}

static void cl_uninit_locked(void)
{
    if (!g_cl.inited) return;
    cl_lease_table_free();
    ls_keepalive_set(NULL);
    mmc_meta_client_close(g_cl.meta); /* leases left (none after the table free) end at their ttl */
    g_cl.meta = NULL;
    if (g_cl.pool != NULL) xfer_pool_shared_put();
    g_cl.pool = NULL;
    g_cl.inited = false;
}

void mmcc_uninit(void)
{
    pthread_rwlock_wrlock(&g_cl.lock);
    cl_uninit_locked();
    pthread_rwlock_unlock(&g_cl.lock);
    ls_stop_hook_set(NULL);
}

int32_t mmcc_local_service_id(uint32_t *id)
{
    if (id == NULL) return util_err_set(MMC_INVALID_PARAM, "mmcc_local_service_id: NULL output");
    int32_t rc = cl_enter("mmcc_local_service_id");
    if (rc != MMC_OK) return rc;
    if (g_cl.ls.bm == NULL) rc = util_err_set(MMC_NOT_INITIALIZED, "mmcc_local_service_id: client-only process "
                                                                   "(init_bm = false): no LocalService rank");
    else *id = g_cl.ls.rank;
    cl_leave();
    return rc;
}

/* ---------- registration ---------- */

/* Registers (reg) or unregisters addr + size with this process's BM; fn names the public call. */
static int32_t cl_user_mem(const char *fn, uint64_t addr, uint64_t size, bool reg)
{
    if (addr == 0 || size == 0)
        return util_err_set(MMC_INVALID_PARAM, "%s: address 0x%" PRIx64 ", size %" PRIu64 " (both must be non-zero)",
                            fn, addr, size);
    int32_t rc = cl_enter(fn);
    if (rc != MMC_OK) return rc;
    if (g_cl.ls.bm == NULL) {
        cl_leave();
        return util_err_set(MMC_NOT_INITIALIZED, "%s: client-only process (init_bm = false): no BM to register "
                                                 "memory with",
                            fn);
    }
    int32_t src =
        reg ? smem_bm_register_user_mem(g_cl.ls.bm, addr, size) : smem_bm_unregister_user_mem(g_cl.ls.bm, addr);
    cl_leave();
    if (src != 0) { /* libsmem's message into ours (copied first: in one static build they are one buffer) */
        char why[512];
        snprintf(why, sizeof(why), "%s", smem_get_last_err_msg());
        return util_err_set(mmc_status_from_smem(src), "%s: %s", fn, why);
    }
    return MMC_OK;
}

int32_t mmcc_register_buffer(uint64_t addr, uint64_t size)
{
    return cl_user_mem("mmcc_register_buffer", addr, size, true);
}

int32_t mmcc_unregister_buffer(uint64_t addr, uint64_t size)
{
    return cl_user_mem("mmcc_unregister_buffer", addr, size, false);
}

/* ---------- metadata calls ---------- */

/* Keys valid for a request: idx[] maps the sub-batch to the caller's
 * positions; invalid keys get their status in results. Returns the count. */
static uint32_t cl_keys_filter(const char *what, const char **keys, uint32_t n, uint32_t *idx, const char **sub,
                               int32_t *results)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        int32_t rc = cl_key_check(what, keys[i]);
        if (results) results[i] = rc;
        if (rc != MMC_OK) continue;
        idx[m] = i;
        sub[m++] = keys[i];
    }
    return m;
}

typedef int32_t (*cl_status_call_t)(mmc_meta_client_t *c, uint32_t flags, const char *const *keys, uint32_t n,
                                    int32_t *st);

/* pflags: the request's MMC_PF_* bits. */
static int32_t cl_status_batch(const char *what, cl_status_call_t call, uint32_t pflags, const char **keys, uint32_t n,
                               int32_t *results)
{
    int32_t rc = cl_batch_check(what, keys, n, results);
    if (rc != MMC_OK) return cl_fail_all(rc, results, keys && results ? n : 0);
    rc = cl_enter(what);
    if (rc != MMC_OK) return cl_fail_all(rc, results, n);
    uint32_t *idx = malloc(n * sizeof(*idx));
    const char **sub = malloc(n * sizeof(*sub));
    int32_t *st = malloc(n * sizeof(*st));
    if (idx == NULL || sub == NULL || st == NULL) {
        rc = cl_fail_all(util_err_set(MMC_MALLOC_FAILED, "%s: out of memory", what), results, n);
        goto out;
    }
    uint32_t m = cl_keys_filter(what, keys, n, idx, sub, results);
    if (m > 0) {
        rc = call(g_cl.meta, pflags, sub, m, st);
        if (rc != MMC_OK) {
            cl_fail_all(rc, results, n);
            goto out;
        }
        for (uint32_t j = 0; j < m; j++) results[idx[j]] = st[j];
    }
out:
    free(idx);
    free(sub);
    free(st);
    cl_leave();
    return rc;
}

int32_t mmcc_batch_exist(const char **keys, uint32_t n, int32_t *results, uint32_t flags)
{
    return cl_status_batch("mmcc_batch_exist", mmc_meta_exist_ex, (flags & MMC_QUERY_LEASE) ? MMC_PF_LEASE : 0, keys,
                           n, results);
}

int32_t mmcc_exist(const char *key, uint32_t flags)
{
    int32_t st;
    int32_t rc = mmcc_batch_exist(&key, 1, &st, flags);
    return rc != MMC_OK ? rc : st;
}

int32_t mmcc_batch_remove(const char **keys, uint32_t n, int32_t *results, uint32_t flags)
{
    return cl_status_batch("mmcc_batch_remove", mmc_meta_remove_ex, (flags & MMC_REMOVE_FORCE) ? MMC_PF_FORCE : 0,
                           keys, n, results);
}

int32_t mmcc_remove(const char *key, uint32_t flags)
{
    int32_t st;
    int32_t rc = mmcc_batch_remove(&key, 1, &st, flags);
    return rc != MMC_OK ? rc : st;
}

int32_t mmcc_remove_all(uint32_t flags)
{
    uint64_t removed;
    return mmcc_remove_all_count(flags, &removed);
}

/* Without MMC_REMOVE_FORCE the leased objects stay (the MetaService counts them as deferred); with it they
 * are removed too (their space comes free as their leases end) and count as removed. */
int32_t mmcc_remove_all_count(uint32_t flags, uint64_t *removed)
{
    if (removed == NULL) return util_err_set(MMC_INVALID_PARAM, "mmcc_remove_all_count: NULL count");
    int32_t rc = cl_enter("mmcc_remove_all");
    if (rc != MMC_OK) return rc;
    bool force = (flags & MMC_REMOVE_FORCE) != 0;
    uint64_t nr = 0, nd = 0;
    rc = mmc_meta_remove_all_ex(g_cl.meta, force ? MMC_PF_FORCE : 0, &nr, &nd);
    cl_leave();
    if (rc == MMC_OK) *removed = nr + (force ? nd : 0);
    return rc;
}

/* Keys looked at per REMOVE_ALL page of a regex remove: one page holds the MetaService's core for about as
 * long as a LIST page of this size. */
#define CL_REGEX_PAGE 4096u

int32_t mmcc_remove_regex(const char *pattern, uint32_t flags, uint64_t *removed)
{
    if (pattern == NULL || removed == NULL) return util_err_set(MMC_INVALID_PARAM, "mmcc_remove_regex: NULL argument");
    size_t plen = strnlen(pattern, MMC_KEY_MAX + 1);
    if (plen == 0 || plen > MMC_KEY_MAX)
        return util_err_set(MMC_INVALID_PARAM, "mmcc_remove_regex: pattern of %zu bytes, must be 1..%u", plen,
                            MMC_KEY_MAX);
    int32_t rc = cl_enter("mmcc_remove_regex");
    if (rc != MMC_OK) return rc;
    bool force = (flags & MMC_REMOVE_FORCE) != 0, more = true;
    char cursor[MMC_KEY_MAX + 1] = "";
    uint64_t total = 0;
    while (rc == MMC_OK && more) {
        uint64_t nr = 0, nd = 0;
        rc = mmc_meta_remove_regex(g_cl.meta, force ? MMC_PF_FORCE : 0, pattern, cursor, CL_REGEX_PAGE, &nr, &nd,
                                   &more);
        total += nr + (force ? nd : 0);
    }
    cl_leave();
    if (rc == MMC_OK) *removed = total;
    return rc;
}

/* QUERY for n keys: locs[i] per key (status set for invalid keys too). pflags: MMC_PF_LEASE or 0. */
static int32_t cl_query(const char *what, const char **keys, uint32_t n, uint32_t pflags, mmc_loc_t *locs)
{
    int32_t rc = cl_enter(what);
    if (rc != MMC_OK) return rc;
    uint32_t *idx = malloc(n * sizeof(*idx));
    const char **sub = malloc(n * sizeof(*sub));
    int32_t *kst = malloc(n * sizeof(*kst));
    mmc_loc_t *sl = malloc(n * sizeof(*sl));
    if (idx == NULL || sub == NULL || kst == NULL || sl == NULL) {
        rc = util_err_set(MMC_MALLOC_FAILED, "%s: out of memory", what);
        goto out;
    }
    uint32_t m = cl_keys_filter(what, keys, n, idx, sub, kst);
    for (uint32_t i = 0; i < n; i++) {
        memset(&locs[i], 0, sizeof(locs[i]));
        locs[i].status = kst[i];
    }
    if (m > 0) {
        rc = mmc_meta_query_ex(g_cl.meta, pflags, sub, m, sl);
        if (rc == MMC_OK)
            for (uint32_t j = 0; j < m; j++) locs[idx[j]] = sl[j];
    }
out:
    free(idx);
    free(sub);
    free(kst);
    free(sl);
    cl_leave();
    return rc;
}

/* The fields mmc_data_info and mmc_key_info share, from a location (left zeroed when the key failed). */
static void cl_loc_fields(const mmc_loc_t *l, uint64_t *size, uint8_t *nblobs, bool *valid, uint32_t *ranks,
                          uint16_t *types, uint64_t *gvas)
{
    if (l->status != MMC_OK) return;
    *size = l->size;
    *nblobs = l->nrep;
    *valid = l->state == MMC_STATE_READY;
    for (uint32_t r = 0; r < l->nrep && r < MMC_REPLICA_MAX; r++) {
        ranks[r] = l->rep[r].rank;
        types[r] = l->rep[r].medium;
        if (gvas != NULL) gvas[r] = l->rep[r].gva;
    }
}

static void cl_info_from_loc(const mmc_loc_t *l, mmc_data_info *d)
{
    memset(d, 0, sizeof(*d));
    cl_loc_fields(l, &d->size, &d->numBlobs, &d->valid, d->ranks, d->types, NULL);
}

int32_t mmcc_batch_query(const char **keys, size_t count, mmc_data_info *infos, uint32_t flags)
{
    if (count > MMC_BATCH_MAX)
        return util_err_set(MMC_INVALID_PARAM, "mmcc_batch_query: %zu keys, at most %u", count, MMC_BATCH_MAX);
    uint32_t n = (uint32_t)count;
    (void)flags;
    int32_t rc = cl_batch_check("mmcc_batch_query", keys, n, infos);
    if (rc != MMC_OK) return rc;
    mmc_loc_t *locs = malloc(n * sizeof(*locs));
    if (locs == NULL) return util_err_set(MMC_MALLOC_FAILED, "mmcc_batch_query: out of memory");
    rc = cl_query("mmcc_batch_query", keys, n, (flags & MMC_QUERY_LEASE) ? MMC_PF_LEASE : 0, locs);
    for (uint32_t i = 0; i < n; i++) {
        if (rc == MMC_OK)
            cl_info_from_loc(&locs[i], &infos[i]);
        else
            memset(&infos[i], 0, sizeof(infos[i]));
    }
    free(locs);
    return rc;
}

int32_t mmcc_query(const char *key, mmc_data_info *info, uint32_t flags)
{
    if (info == NULL) return util_err_set(MMC_INVALID_PARAM, "mmcc_query: NULL info");
    mmc_loc_t loc;
    int32_t rc = cl_query("mmcc_query", &key, 1, (flags & MMC_QUERY_LEASE) ? MMC_PF_LEASE : 0, &loc);
    if (rc != MMC_OK) return rc;
    if (loc.status != MMC_OK) return loc.status;
    cl_info_from_loc(&loc, info);
    return MMC_OK;
}

static void cl_key_info_from_loc(const mmc_loc_t *l, mmc_key_info *k)
{
    memset(k, 0, sizeof(*k));
    cl_loc_fields(l, &k->size, &k->numBlobs, &k->valid, k->ranks, k->types, k->gvas);
}

int32_t mmcc_batch_get_key_info(const char **keys, uint32_t n, mmc_key_info *infos, int32_t *results)
{
    return mmcc_batch_get_key_info_ex(keys, n, infos, results, 0);
}

int32_t mmcc_batch_get_key_info_ex(const char **keys, uint32_t n, mmc_key_info *infos, int32_t *results,
                                   uint32_t flags)
{
    int32_t rc = cl_batch_check("mmcc_batch_get_key_info", keys, n, infos);
    if (rc == MMC_OK && results == NULL)
        rc = util_err_set(MMC_INVALID_PARAM, "mmcc_batch_get_key_info: NULL results");
    if (rc != MMC_OK) return cl_fail_all(rc, results, keys ? n : 0);
    mmc_loc_t *locs = malloc(n * sizeof(*locs));
    if (locs == NULL)
        return cl_fail_all(util_err_set(MMC_MALLOC_FAILED, "mmcc_batch_get_key_info: out of memory"), results, n);
    rc = cl_query("mmcc_batch_get_key_info", keys, n, (flags & MMC_QUERY_LEASE) ? MMC_PF_LEASE : 0, locs);
    for (uint32_t i = 0; i < n; i++) {
        if (rc == MMC_OK) {
            cl_key_info_from_loc(&locs[i], &infos[i]);
            results[i] = locs[i].status;
        } else {
            memset(&infos[i], 0, sizeof(infos[i]));
            results[i] = rc;
        }
    }
    free(locs);
    return rc;
}

int32_t mmcc_get_key_info(const char *key, mmc_key_info *info) { return mmcc_get_key_info_ex(key, info, 0); }

int32_t mmcc_get_key_info_ex(const char *key, mmc_key_info *info, uint32_t flags)
{
    int32_t st;
    int32_t rc = mmcc_batch_get_key_info_ex(&key, 1, info, &st, flags);
    return rc != MMC_OK ? rc : st;
}
