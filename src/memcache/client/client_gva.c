/*
 * GVA-level calls (layer-wise KV transfer): allocate space for keys, copy
 * between buffers and GVAs, publish; read leases held across copies.
 *
 * Lease table: key -> the lease (GET) that covers it. One GET makes one
 * lease for all the keys of a call; the lease is released when every key it
 * covers was passed to mmcc_batch_remove_lease (or taken again by a later
 * add_lease), so a subset keeps the whole lease (and its other keys) until
 * then or until its ttl. Guarded by g_cl.lease_mu (a leaf).
 *
 * Lost leases: mmcc_batch_remove_lease answers MMC_LEASE_LOST for a key
 * whose lease is over by this client's clock (its ttl from before the GET,
 * less the margin) or, for the keys of the call that end their lease, when
 * the release is not confirmed (the MetaService no longer held it, or lost a
 * replica of one of its objects meanwhile, or did not answer): copies made
 * under it may hold another key's bytes. A key removed while its lease still
 * covered other keys is checked by the clock only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/client/client_int.h"
#include "memcache/common/mmc_err.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

typedef struct cl_lease {
    uint64_t id;
    uint32_t keys;   /* entries still naming it */
    uint64_t t0_ms;  /* taken before its GET was sent */
    uint32_t ttl_ms; /* granted by the MetaService */
} cl_lease_t;

static bool cl_lease_over(const cl_lease_t *l)
{
    return util_now_ms() - l->t0_ms + cl_lease_margin_ms(l->ttl_ms) >= l->ttl_ms;
}

struct cl_lease_ent {
    cl_lease_ent_t *next;
    cl_lease_t *lease;
    char key[];
};

#define CL_LEASE_BUCKETS 4096u

static uint32_t cl_key_hash(const char *k)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *k; k++) h = (h ^ (uint8_t)*k) * 16777619u;
    return h & (CL_LEASE_BUCKETS - 1);
}

/* Unlinks key's entry; *owner gets the lease it named (NULL: none). Returns
 * that lease when it lost its last key (the caller releases it). */
static cl_lease_t *cl_lease_drop_locked(const char *key, cl_lease_t **owner)
{
    *owner = NULL;
    if (g_cl.lease_tab == NULL) return NULL;
    cl_lease_ent_t **pp = &g_cl.lease_tab[cl_key_hash(key)];
    for (; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) != 0) continue;
        cl_lease_ent_t *e = *pp;
        *pp = e->next;
        cl_lease_t *l = e->lease;
        free(e);
        *owner = l;
        return --l->keys == 0 ? l : NULL;
    }
    return NULL;
}

/* Releases ls[0..n) and frees them; st (may be NULL) gets MMC_OK for a lease
 * the MetaService confirms was held intact until now, else MMC_LEASE_LOST
 * (message in why[i] when why is not NULL). */
static void cl_leases_release(cl_lease_t **ls, uint32_t n, int32_t *st, char (*why)[320])
{
    for (uint32_t i = 0; i < n; i++) {
        int32_t rst = MMC_OK, s = MMC_OK;
        char msg[320] = "";
        int32_t rc = mmc_meta_lease_release(g_cl.meta, &ls[i]->id, 1, &rst);
        if (rc != MMC_OK) {
            snprintf(msg, sizeof(msg), "lease %" PRIx64 ": releasing it failed (%s), so nothing confirms it was held",
                     ls[i]->id, mmc_get_last_err_msg());
            s = MMC_LEASE_LOST;
        } else if (rst != MMC_OK) {
            snprintf(msg, sizeof(msg), "lease %" PRIx64 ": %s", ls[i]->id,
                     rst == MMC_LEASE_LOST ? "the MetaService no longer held it (expired, the MetaService restarted, "
                                             "or a replica's LocalService left meanwhile)"
                                           : mmc_strerror(rst));
            s = MMC_LEASE_LOST;
        }
        if (s != MMC_OK) LOG_DEBUG("mmc client: %s", msg);
        if (st != NULL) st[i] = s;
        if (why != NULL) snprintf(why[i], sizeof(why[i]), "%s", msg);
        free(ls[i]);
    }
}

void cl_lease_table_free(void)
{
    pthread_mutex_lock(&g_cl.lease_mu);
    cl_lease_ent_t **tab = g_cl.lease_tab;
    g_cl.lease_tab = NULL;
    pthread_mutex_unlock(&g_cl.lease_mu);
    if (tab == NULL) return;
    /* Leases outlive the link (they end at their ttl): hand them back so their objects can be freed now. */
    uint64_t ids[256];
    int32_t st[256];
    uint32_t n = 0;
    bool connected = mmc_meta_client_connected(g_cl.meta); /* else they expire; do not wait for a link */
    for (uint32_t b = 0; b < CL_LEASE_BUCKETS; b++) {
        while (tab[b] != NULL) {
            cl_lease_ent_t *e = tab[b];
            tab[b] = e->next;
            if (--e->lease->keys == 0) {
                ids[n++] = e->lease->id;
                free(e->lease);
            }
            free(e);
            if (n == 256) {
                if (connected && mmc_meta_lease_release(g_cl.meta, ids, n, st) != MMC_OK) connected = false;
                n = 0;
            }
        }
    }
    if (n > 0 && connected) (void)mmc_meta_lease_release(g_cl.meta, ids, n, st);
    free(tab);
}

/* ---------- alloc / copy / finish ---------- */

int32_t mmcc_batch_alloc(const char **keys, const uint64_t *sizes, uint32_t n, uint16_t medium, uint64_t *gvas,
                         int32_t *results)
{
    const char *what = "mmcc_batch_alloc";
    int32_t rc = cl_batch_check(what, keys, n, results);
    if (rc == MMC_OK && (sizes == NULL || gvas == NULL))
        rc = util_err_set(MMC_INVALID_PARAM, "%s: NULL sizes or gvas", what);
    if (rc == MMC_OK && medium != MMC_MEDIA_DRAM && medium != MMC_MEDIA_HBM && medium != MMC_MEDIA_NONE)
        rc = util_err_set(MMC_INVALID_PARAM, "%s: medium %u unknown (0 HBM, 1 DRAM, 0xFFFF any)", what, medium);
    if (rc != MMC_OK) return cl_fail_all(rc, results, keys && results ? n : 0);
    for (uint32_t i = 0; i < n; i++) {
        rc = cl_key_check(what, keys[i]);
        if (rc == MMC_OK && sizes[i] == 0) rc = util_err_set(MMC_INVALID_PARAM, "%s: key '%s': size 0", what, keys[i]);
        if (rc != MMC_OK) return cl_fail_all(rc, results, n);
    }
    rc = cl_enter(what);
    if (rc != MMC_OK) return cl_fail_all(rc, results, n);
    mmc_loc_t *locs = malloc(n * sizeof(*locs));
    if (locs == NULL) {
        rc = cl_fail_all(util_err_set(MMC_MALLOC_FAILED, "%s: out of memory", what), results, n);
        goto leave;
    }
    mmc_put_options opt = {.mediaType = medium, .replicaNum = 1};
    for (uint32_t i = 0; i < MMC_REPLICA_MAX; i++) opt.preferredLocalServiceIDs[i] = -1;
    uint32_t put_ms = 0;
    rc = mmc_meta_put_start(g_cl.meta, g_cl.ls.mounted ? g_cl.ls.rank : UINT32_MAX, &opt, keys, sizes, n, locs,
                            &put_ms);
    if (rc != MMC_OK) {
        cl_fail_all(rc, results, n);
    } else {
        for (uint32_t i = 0; i < n; i++) {
            results[i] = locs[i].status;
            gvas[i] = locs[i].status == MMC_OK ? locs[i].rep[0].gva : 0;
        }
    }
    free(locs);
leave:
    cl_leave();
    return rc;
}

static int32_t cl_batch_copy(const char *what, const uint64_t *gvas, const mmc_buffer *bufs, const uint64_t *sizes,
                             const mmc_buffer *const *layers, const uint32_t *nlayers, uint32_t n,
                             mmc_copy_direction dir)
{
    if (gvas == NULL || (bufs == NULL && layers == NULL) || (bufs != NULL && sizes == NULL) ||
        (layers != NULL && nlayers == NULL))
        return util_err_set(MMC_INVALID_PARAM, "%s: NULL array", what);
    if (n == 0 || n > MMC_BATCH_MAX)
        return util_err_set(MMC_INVALID_PARAM, "%s: %u entries, must be 1..%u", what, n, MMC_BATCH_MAX);
    if (dir != MMC_COPY_H2G && dir != MMC_COPY_G2H)
        return util_err_set(MMC_INVALID_PARAM, "%s: direction %d unknown", what, (int)dir);
    int32_t rc = cl_enter(what);
    if (rc != MMC_OK) return rc;
    cl_xfer_t x;
    rc = cl_xfer_init(&x, n);
    if (rc != MMC_OK) goto leave;
    bool to_pool = dir == MMC_COPY_H2G;
    for (uint32_t i = 0; i < n && rc == MMC_OK; i++) {
        uint64_t total = 0;
        bool dev = false;
        char name[32];
        snprintf(name, sizeof(name), "#%u", i);
        const mmc_buffer *b = bufs ? &bufs[i] : layers[i];
        uint32_t nb = bufs ? 1 : nlayers[i];
        rc = cl_bufs_check(what, name, b, nb, &total, &dev);
        if (rc != MMC_OK) break;
        if (gvas[i] == 0) {
            rc = util_err_set(MMC_INVALID_PARAM, "%s: entry %u: GVA is 0", what, i);
            break;
        }
        uint64_t len = total;
        if (bufs != NULL) {
            if (sizes[i] > total) {
                rc = util_err_set(MMC_BUFFER_TOO_SMALL, "%s: entry %u: %" PRIu64 " bytes to copy, the buffer holds %" PRIu64,
                                  what, i, sizes[i], total);
                break;
            }
            len = sizes[i];
        }
        cl_xfer_key(&x, i, dev);
        cl_xfer_add_bufs(&x, i, b, nb, gvas[i], len, to_pool);
    }
    if (rc == MMC_OK) rc = cl_xfer_run(&x, to_pool, to_pool ? g_cl.write_threads : g_cl.read_threads);
    for (uint32_t i = 0; i < n && rc == MMC_OK; i++)
        if (x.st[i] != MMC_OK) rc = x.st[i]; /* message set by the run */
    cl_xfer_fini(&x);
leave:
    cl_leave();
    return rc;
}

int32_t mmcc_batch_copy(const uint64_t *gvas, const mmc_buffer *bufs, const uint64_t *sizes, uint32_t n,
                        mmc_copy_direction direction)
{
    if (bufs == NULL) return util_err_set(MMC_INVALID_PARAM, "mmcc_batch_copy: NULL buffers");
    return cl_batch_copy("mmcc_batch_copy", gvas, bufs, sizes, NULL, NULL, n, direction);
}

int32_t mmcc_batch_copy_layers(const uint64_t *gvas, const mmc_buffer *const *layers, const uint32_t *nlayers,
                               uint32_t n, mmc_copy_direction direction)
{
    if (layers == NULL) return util_err_set(MMC_INVALID_PARAM, "mmcc_batch_copy_layers: NULL layers");
    return cl_batch_copy("mmcc_batch_copy_layers", gvas, NULL, NULL, layers, nlayers, n, direction);
}

int32_t mmcc_batch_write_finish(const char **keys, const int32_t *results, uint32_t n, int32_t *st)
{
    const char *what = "mmcc_batch_write_finish";
    int32_t rc = cl_batch_check(what, keys, n, st);
    if (rc == MMC_OK && results == NULL) rc = util_err_set(MMC_INVALID_PARAM, "%s: NULL results", what);
    if (rc != MMC_OK) return cl_fail_all(rc, st, keys && st ? n : 0);
    rc = cl_enter(what);
    if (rc != MMC_OK) return cl_fail_all(rc, st, n);
    rc = mmc_meta_put_end(g_cl.meta, keys, results, n, st);
    if (rc != MMC_OK) cl_fail_all(rc, st, n);
    cl_leave();
    return rc;
}

/* ---------- leases ---------- */

int32_t mmcc_batch_add_lease(const char **keys, uint32_t n, uint32_t ttl_ms, int32_t *results,
                             uint32_t *granted_ttl_ms)
{
    const char *what = "mmcc_batch_add_lease";
    int32_t rc = cl_batch_check(what, keys, n, results);
    if (rc == MMC_OK && ttl_ms == 0) rc = util_err_set(MMC_INVALID_PARAM, "%s: ttl_ms is 0", what);
    for (uint32_t i = 0; i < n && rc == MMC_OK; i++) rc = cl_key_check(what, keys[i]);
    if (rc != MMC_OK) return cl_fail_all(rc, results, keys && results ? n : 0);
    rc = cl_enter(what);
    if (rc != MMC_OK) return cl_fail_all(rc, results, n);
    mmc_loc_t *locs = malloc(n * sizeof(*locs));
    cl_lease_t *lease = calloc(1, sizeof(*lease));
    cl_lease_t **gone = malloc(n * sizeof(*gone));
    uint32_t ngone = 0;
    if (locs == NULL || lease == NULL || gone == NULL) {
        rc = cl_fail_all(util_err_set(MMC_MALLOC_FAILED, "%s: out of memory", what), results, n);
        goto out;
    }
    uint32_t ttl = 0;
    lease->t0_ms = util_now_ms(); /* before the GET: inside the MetaService's ttl */
    rc = mmc_meta_get(g_cl.meta, g_cl.ls.rank, g_cl.ls.host, keys, n, locs, &lease->id, &ttl);
    if (rc != MMC_OK) {
        cl_fail_all(rc, results, n);
        goto out;
    }
    lease->ttl_ms = ttl;
    pthread_mutex_lock(&g_cl.lease_mu);
    if (g_cl.lease_tab == NULL) g_cl.lease_tab = calloc(CL_LEASE_BUCKETS, sizeof(*g_cl.lease_tab));
    for (uint32_t i = 0; i < n; i++) {
        results[i] = locs[i].status;
        if (locs[i].status != MMC_OK) continue;
        size_t kl = strlen(keys[i]);
        cl_lease_ent_t *e = g_cl.lease_tab ? malloc(sizeof(*e) + kl + 1) : NULL;
        if (e == NULL) {
            results[i] = MMC_MALLOC_FAILED; /* still covered by the lease until its ttl */
            continue;
        }
        cl_lease_t *was;
        cl_lease_t *old = cl_lease_drop_locked(keys[i], &was);
        if (old != NULL) gone[ngone++] = old;
        memcpy(e->key, keys[i], kl + 1);
        e->lease = lease;
        lease->keys++;
        uint32_t b = cl_key_hash(keys[i]);
        e->next = g_cl.lease_tab[b];
        g_cl.lease_tab[b] = e;
    }
    bool unused = lease->keys == 0;
    pthread_mutex_unlock(&g_cl.lease_mu);
    if (unused) {
        if (lease->id != 0) gone[ngone++] = lease;
        else free(lease);
    }
    lease = NULL;
    if (granted_ttl_ms != NULL) *granted_ttl_ms = ttl < ttl_ms ? ttl : ttl_ms;
out:
    cl_leases_release(gone, ngone, NULL, NULL); /* leases these keys were moved off: no result slot is theirs */
    free(gone);
    free(lease);
    free(locs);
    cl_leave();
    return rc;
}

int32_t mmcc_batch_remove_lease(const char **keys, uint32_t n, int32_t *results)
{
    const char *what = "mmcc_batch_remove_lease";
    int32_t rc = cl_batch_check(what, keys, n, results);
    if (rc != MMC_OK) return cl_fail_all(rc, results, keys && results ? n : 0);
    rc = cl_enter(what);
    if (rc != MMC_OK) return cl_fail_all(rc, results, n);
    cl_lease_t **gone = malloc(n * sizeof(*gone)), **owner = malloc(n * sizeof(*owner));
    int32_t *gidx = malloc(n * sizeof(*gidx)), *gst = malloc(n * sizeof(*gst));
    char(*why)[320] = malloc(n * sizeof(*why));
    uint32_t ngone = 0;
    if (gone == NULL || owner == NULL || gidx == NULL || gst == NULL || why == NULL) {
        rc = cl_fail_all(util_err_set(MMC_MALLOC_FAILED, "%s: out of memory", what), results, n);
        goto free_all;
    }
    pthread_mutex_lock(&g_cl.lease_mu);
    for (uint32_t i = 0; i < n; i++) {
        owner[i] = NULL;
        results[i] = cl_key_check(what, keys[i]);
        if (results[i] != MMC_OK) continue;
        cl_lease_t *l = cl_lease_drop_locked(keys[i], &owner[i]);
        if (l != NULL) gone[ngone++] = l;
        if (owner[i] == NULL)
            results[i] = util_err_set(MMC_LINK_NOT_FOUND, "%s: this process holds no lease on '%s'", what, keys[i]);
        else if (cl_lease_over(owner[i]))
            results[i] = util_err_set(MMC_LEASE_LOST, "%s: key '%s': lease %" PRIx64 " ran past its %u ms (less the "
                                                      "margin): copies made under it may hold another key's bytes",
                                      what, keys[i], owner[i]->id, owner[i]->ttl_ms);
    }
    /* Which of this call's keys end their lease here (pointers compared while every lease is alive). */
    for (uint32_t i = 0; i < n; i++) {
        gidx[i] = -1;
        for (uint32_t k = 0; owner[i] != NULL && k < ngone; k++)
            if (owner[i] == gone[k]) gidx[i] = (int32_t)k;
    }
    pthread_mutex_unlock(&g_cl.lease_mu);
    cl_leases_release(gone, ngone, gst, why);
    for (uint32_t i = 0; i < n; i++) {
        if (results[i] != MMC_OK || gidx[i] < 0 || gst[gidx[i]] == MMC_OK) continue;
        results[i] = util_err_set(MMC_LEASE_LOST, "%s: key '%s': %s: copies made under it may hold another key's bytes",
                                  what, keys[i], why[gidx[i]]);
    }
free_all:
    free(gone);
    free(owner);
    free(gidx);
    free(gst);
    free(why);
    cl_leave();
    return rc;
}
