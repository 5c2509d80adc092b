/*
 * put and get, in every form (one buffer, layers; single key, batch). All of
 * them reduce to cl_put / cl_get over n keys, each with its own buffer list.
 *
 * put:  PUT_START (one round trip for the batch) → BM copies of every key
 *       into every replica → PUT_END with each key's copy status (a failed
 *       copy aborts that key and frees its space).
 * get:  GET (one round trip, same-host replicas first, one read lease for
 *       the keys found) → BM copies from each key's first replica; keys
 *       whose copy failed try their next replica → LEASE_RELEASE. A key
 *       is returned as read only if the lease covered the whole copy: it
 *       ended inside the lease (counted from before the GET, less a margin)
 *       and LEASE_RELEASE answered MMC_OK (held, same MetaService instance,
 *       no replica lost); otherwise MMC_LEASE_LOST, since the space may have
 *       been reused under the copy.
 * A put whose copies end past its put deadline (counted from before
 * PUT_START, less the margin) is aborted (MMC_TIMEOUT), never published.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memcache/client/client_int.h"
#include "memcache/common/mmc_err.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

/* A key's buffers as the caller gave them. */
typedef struct cl_vec {
    const mmc_buffer *bufs;
    uint32_t n;
} cl_vec_t;

/* The keys of a call that passed the checks: pos[j] is the caller's index. */
typedef struct cl_sub {
    uint32_t m;
    uint32_t *pos;
    const char **keys;
    uint64_t *sizes;
    uint8_t *dev;
} cl_sub_t;

static void cl_sub_free(cl_sub_t *s)
{
    free(s->pos);
    free(s->keys);
    free(s->sizes);
    free(s->dev);
}

/* Checks keys and buffers; invalid ones get their status in results. */
static int32_t cl_sub_build(const char *what, const char **keys, uint32_t n, const cl_vec_t *vecs, int32_t *results,
                            bool put, cl_sub_t *s)
{
    memset(s, 0, sizeof(*s));
    s->pos = malloc(n * sizeof(*s->pos));
    s->keys = malloc(n * sizeof(*s->keys));
    s->sizes = malloc(n * sizeof(*s->sizes));
    s->dev = malloc(n * sizeof(*s->dev));
    if (s->pos == NULL || s->keys == NULL || s->sizes == NULL || s->dev == NULL) {
        cl_sub_free(s);
        return util_err_set(MMC_MALLOC_FAILED, "%s: out of memory for %u keys", what, n);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t total = 0;
        bool dev = false;
        int32_t rc = cl_key_check(what, keys[i]);
        if (rc == MMC_OK) rc = cl_bufs_check(what, keys[i], vecs[i].bufs, vecs[i].n, &total, &dev);
        if (rc == MMC_OK && put && total == 0)
            rc = util_err_set(MMC_INVALID_PARAM, "%s: key '%s': the value is empty (0 bytes)", what, keys[i]);
        results[i] = rc;
        if (rc != MMC_OK) continue;
        s->pos[s->m] = i;
        s->keys[s->m] = keys[i];
        s->sizes[s->m] = total;
        s->dev[s->m] = dev;
        s->m++;
    }
    return MMC_OK;
}

/* The first key a put refused (PUT_START: no room, too large; PUT_END: revoked) gets the message, so
 * get_last_err_msg() says which key and why, not nothing (or an older call's text). */
static void cl_put_fail_msg(const char *what, const char **keys, uint32_t n, const int32_t *results)
{
    uint32_t failed = 0, first = 0;
    for (uint32_t i = 0; i < n; i++)
        if (results[i] != MMC_OK && failed++ == 0) first = i;
    if (failed == 0) return;
    const char *hint = results[first] == MMC_NOT_ENOUGH_MEMORY   ? " (the pool is full and nothing can be evicted)"
                       : results[first] == MMC_EXCEEDS_CAPACITY ? " (larger than any segment, or more replicas than "
                                                                  "LocalServices that can hold it)"
                       : results[first] == MMC_KEY_NOT_FOUND     ? " (the MetaService revoked the put)"
                                                                 : "";
    util_err_set(results[first], "%s: key '%s': %s%s%s", what, keys[first], mmc_strerror(results[first]), hint,
                 failed > 1 ? " (and other keys of the batch)" : "");
}

/* The wire flags of a put's public flags (MMC_PUT_*), plus upsert. */
static uint32_t cl_put_pflags(uint32_t flags, bool upsert)
{
    return (upsert ? MMC_PF_UPSERT : 0) | ((flags & MMC_PUT_SOFT_PIN) ? MMC_PF_SOFT_PIN : 0) |
           ((flags & MMC_PUT_HARD_PIN) ? MMC_PF_HARD_PIN : 0);
}

/* pflags: MMC_PF_* of PUT_START. An upsert (MMC_PF_UPSERT) runs under a token of its own, so that the
 * MetaService tells it from other upserts of the same keys (even from this client). */
static int32_t cl_put(const char *what, const char **keys, uint32_t n, const cl_vec_t *vecs,
                      const mmc_put_options *opt, uint32_t pflags, int32_t *results)
{
    mmc_put_options def = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 1};
    for (uint32_t i = 0; i < MMC_REPLICA_MAX; i++) def.preferredLocalServiceIDs[i] = -1;
    if (opt == NULL) opt = &def;
    int32_t rc = cl_enter(what);
    if (rc != MMC_OK) return cl_fail_all(rc, results, n);
    cl_sub_t s;
    mmc_loc_t *locs = NULL;
    int32_t *fin = NULL, *st = NULL;
    cl_xfer_t x = {0};
    rc = cl_sub_build(what, keys, n, vecs, results, true, &s);
    if (rc != MMC_OK) {
        cl_fail_all(rc, results, n);
        goto leave;
    }
    if (s.m == 0) goto free_sub;
    locs = malloc(s.m * sizeof(*locs));
    fin = malloc(s.m * sizeof(*fin));
    st = malloc(s.m * sizeof(*st));
    if (locs == NULL || fin == NULL || st == NULL || cl_xfer_init(&x, s.m) != MMC_OK) {
        rc = cl_fail_all(util_err_set(MMC_MALLOC_FAILED, "%s: out of memory", what), results, n);
        goto free_all;
    }
    uint32_t put_ms = 0;
    bool msg_set = false; /* a copy failure set the message already */
    uint64_t t0 = util_now_ms(); /* before PUT_START: the MetaService's put deadline starts after it */
    uint64_t token = (pflags & MMC_PF_UPSERT) ? mmc_meta_token_new() : 0;
    rc = mmc_meta_put_start_ex(g_cl.meta, g_cl.ls.mounted ? g_cl.ls.rank : UINT32_MAX, opt, pflags, token, s.keys,
                               s.sizes, s.m, locs, &put_ms);
    if (rc != MMC_OK) {
        cl_fail_all(rc, results, n);
        goto free_all;
    }
    uint32_t writes = 0;
    for (uint32_t j = 0; j < s.m; j++) {
        uint32_t i = s.pos[j];
        cl_xfer_key(&x, j, s.dev[j]);
        if (locs[j].status == MMC_DUPLICATED_OBJECT) { /* write-once: someone else's value stands */
            results[i] = MMC_OK;
            continue;
        }
        results[i] = locs[j].status;
        if (locs[j].status != MMC_OK) continue;
        for (uint32_t r = 0; r < locs[j].nrep; r++)
            cl_xfer_add_bufs(&x, j, vecs[i].bufs, vecs[i].n, locs[j].rep[r].gva, s.sizes[j], true);
        writes++;
    }
    if (writes == 0) goto free_all;
    int32_t xrc = cl_xfer_run(&x, true, g_cl.write_threads);
    /* A copy that ended past the put deadline may have written into space the MetaService revoked and gave to
     * another put: never publish it. */
    uint64_t took = util_now_ms() - t0;
    bool late = took + cl_lease_margin_ms(put_ms) >= put_ms;
    uint32_t m2 = 0;
    for (uint32_t j = 0; j < s.m; j++) {
        if (locs[j].status != MMC_OK) continue;
        s.keys[m2] = s.keys[j];
        s.pos[m2] = s.pos[j];
        fin[m2] = xrc != MMC_OK ? xrc : x.st[j];
        if (fin[m2] == MMC_OK && late)
            fin[m2] = util_err_set(MMC_TIMEOUT, "%s: key '%s': the copy ended %" PRIu64 " ms after PUT_START, past "
                                                "the %u ms put deadline less its margin; not published",
                                   what, s.keys[j], took, put_ms);
        m2++;
    }
    char copy_msg[512];
    snprintf(copy_msg, sizeof(copy_msg), "%s", util_err_get());
    rc = mmc_meta_put_end_ex(g_cl.meta, token, s.keys, fin, m2, st); /* a non-zero fin aborts the key */
    for (uint32_t j = 0; j < m2; j++) {
        int32_t r = fin[j] != MMC_OK ? fin[j] : rc != MMC_OK ? rc : st[j];
        results[s.pos[j]] = r;
    }
    if (rc != MMC_OK) {
        LOG_WARN("%s: PUT_END failed (%s); the MetaService revokes the unfinished keys after %u ms", what,
                 mmc_get_last_err_msg(), put_ms);
        rc = MMC_OK; /* per-key results carry it; the message is PUT_END's */
        msg_set = true;
    } else {
        for (uint32_t j = 0; j < m2; j++)
            if (fin[j] != MMC_OK) {
                util_err_set(fin[j], "%s: key '%s': %s", what, s.keys[j], copy_msg);
                msg_set = true;
                break;
            }
    }
free_all:
    if (rc == MMC_OK && !msg_set) cl_put_fail_msg(what, keys, n, results);
    cl_xfer_fini(&x);
    free(locs);
    free(fin);
    free(st);
free_sub:
    cl_sub_free(&s);
leave:
    cl_leave();
    return rc;
}

/* The test hook (client_int.h): publish the lease id, then stall. */
static void cl_test_get_stall(uint64_t lease)
{
    if (g_cl.test_lease_file[0] != '\0' && lease != 0) {
        char tmp[300];
        snprintf(tmp, sizeof(tmp), "%s.tmp", g_cl.test_lease_file);
        FILE *f = fopen(tmp, "w");
        if (f != NULL) {
            fprintf(f, "%" PRIu64 "\n", lease);
            if (fclose(f) == 0) (void)rename(tmp, g_cl.test_lease_file); /* appears whole */
        }
    }
    usleep(g_cl.test_get_stall_ms * 1000u);
}

/* Checks the buffer against the object and adds the copy from replica r. */
static int32_t cl_get_plan(const char *what, cl_xfer_t *x, uint32_t j, const char *key, const cl_vec_t *v,
                           uint64_t have, bool exact, const mmc_loc_t *loc, uint32_t r, bool dev)
{
    if (have < loc->size)
        return util_err_set(MMC_BUFFER_TOO_SMALL, "%s: key '%s' holds %" PRIu64 " bytes, the buffer%s %" PRIu64, what,
                            key, loc->size, exact ? "s add up to" : " holds", have);
    if (exact && have != loc->size)
        return util_err_set(MMC_INVALID_PARAM, "%s: key '%s' holds %" PRIu64 " bytes, the layers add up to %" PRIu64
                                               " (a layers get scatters the object exactly)",
                            what, key, loc->size, have);
    cl_xfer_key(x, j, dev);
    cl_xfer_add_bufs(x, j, v->bufs, v->n, loc->rep[r].gva, loc->size, false);
    return MMC_OK;
}

/* Ends the read lease of a get whose copies are done, and says whether they
 * provably read the keys' bytes: the copy ended inside the lease as this
 * client counts it (from t0, taken before the GET was sent, so inside the
 * MetaService's ttl, less a margin for clock rates), and the MetaService
 * confirms the lease was still held with no replica lost (else a new put, or
 * a restarted MetaService or LocalService, may have reused the space under
 * the copy). MMC_OK, or MMC_LEASE_LOST with the reason in why. lease 0: no
 * lease (nothing was read). */
static int32_t cl_get_lease_end(uint64_t lease, uint64_t t0, uint32_t ttl_ms, char *why, size_t cap)
{
    if (lease == 0) return MMC_OK;
    uint64_t took = util_now_ms() - t0;
    uint32_t margin = cl_lease_margin_ms(ttl_ms);
    int32_t st = MMC_OK, rst = MMC_OK;
    if (took + margin >= ttl_ms) {
        snprintf(why, cap, "lease %" PRIx64 ": the copy ended %" PRIu64 " ms after the GET, past the %u ms lease less "
                           "its %u ms margin", lease, took, ttl_ms, margin);
        st = MMC_LEASE_LOST;
    }
    int32_t rc = mmc_meta_lease_release(g_cl.meta, &lease, 1, &rst); /* always: it frees the MetaService's state */
    if (st != MMC_OK) return st;
    if (rc != MMC_OK) {
        snprintf(why, cap, "lease %" PRIx64 ": releasing it failed (%s), so nothing confirms it was held", lease,
                 mmc_get_last_err_msg());
        return MMC_LEASE_LOST;
    }
    if (rst != MMC_OK) {
        snprintf(why, cap, "lease %" PRIx64 ": %s", lease,
                 rst == MMC_LEASE_LOST ? "the MetaService no longer held it at the release (expired, the MetaService "
                                         "restarted, or a replica's LocalService left meanwhile)"
                                       : mmc_strerror(rst));
        return MMC_LEASE_LOST;
    }
    return MMC_OK;
}

/* nread (NULL: not wanted): key i's size as read, for the keys that succeed (an upsert may change the size
 * between a caller's query and its get: this is the value's, not the query's). */
static int32_t cl_get(const char *what, const char **keys, uint32_t n, const cl_vec_t *vecs, bool exact,
                      int32_t *results, uint64_t *nread)
{
    int32_t rc = cl_enter(what);
    if (rc != MMC_OK) return cl_fail_all(rc, results, n);
    cl_sub_t s;
    mmc_loc_t *locs = NULL;
    uint64_t lease = 0;
    uint32_t ttl_ms = 0;
    rc = cl_sub_build(what, keys, n, vecs, results, false, &s);
    if (rc != MMC_OK) {
        cl_fail_all(rc, results, n);
        goto leave;
    }
    if (s.m == 0) goto free_sub;
    locs = malloc(s.m * sizeof(*locs));
    if (locs == NULL) {
        rc = cl_fail_all(util_err_set(MMC_MALLOC_FAILED, "%s: out of memory", what), results, n);
        goto free_sub;
    }
    uint64_t t0 = util_now_ms();
    rc = mmc_meta_get(g_cl.meta, g_cl.ls.rank, g_cl.ls.host, s.keys, s.m, locs, &lease, &ttl_ms);
    if (rc != MMC_OK) {
        cl_fail_all(rc, results, n);
        goto free_locs;
    }
    if (g_cl.test_get_stall_ms > 0) cl_test_get_stall(lease);
    /* Pass r copies from replica r the keys still without data. */
    int32_t *kst = malloc(s.m * sizeof(*kst));
    if (kst == NULL) {
        rc = cl_fail_all(util_err_set(MMC_MALLOC_FAILED, "%s: out of memory", what), results, n);
        goto release;
    }
    char first_msg[600] = "";
    /* GET answers MMC_UNMATCHED_STATE for a put in flight (the lease code); a data get keeps its documented
     * MMC_OBJECT_NOT_READY. */
    for (uint32_t j = 0; j < s.m; j++)
        kst[j] = locs[j].status == MMC_UNMATCHED_STATE ? MMC_OBJECT_NOT_READY : locs[j].status;
    for (uint32_t r = 0; r < MMC_REPLICA_MAX; r++) {
        cl_xfer_t x;
        uint32_t todo = 0;
        if (cl_xfer_init(&x, s.m) != MMC_OK) {
            for (uint32_t j = 0; j < s.m; j++)
                if (kst[j] == MMC_OK && r == 0) kst[j] = MMC_MALLOC_FAILED;
            break;
        }
        for (uint32_t j = 0; j < s.m; j++) {
            uint32_t i = s.pos[j];
            if (r == 0 && kst[j] == MMC_OK) {
                kst[j] = cl_get_plan(what, &x, j, s.keys[j], &vecs[i], s.sizes[j], exact, &locs[j], 0,
                                     s.dev[j]);
                if (kst[j] != MMC_OK && first_msg[0] == '\0') snprintf(first_msg, sizeof(first_msg), "%s", util_err_get());
                if (kst[j] == MMC_OK) {
                    kst[j] = 1; /* planned */
                    todo++;
                }
            } else if (r > 0 && kst[j] < 0 && locs[j].status == MMC_OK && r < locs[j].nrep &&
                       kst[j] != MMC_BUFFER_TOO_SMALL && kst[j] != MMC_INVALID_PARAM) {
                LOG_WARN("%s: key '%s': copy from replica %u (rank %u) failed (%s); trying rank %u", what, s.keys[j],
                         r - 1, locs[j].rep[r - 1].rank, mmc_strerror(kst[j]), locs[j].rep[r].rank);
                cl_xfer_key(&x, j, s.dev[j]);
                cl_xfer_add_bufs(&x, j, vecs[i].bufs, vecs[i].n, locs[j].rep[r].gva, locs[j].size, false);
                kst[j] = 1;
                todo++;
            }
        }
        if (todo > 0) {
            int32_t xrc = cl_xfer_run(&x, false, g_cl.read_threads);
            for (uint32_t j = 0; j < s.m; j++) {
                if (kst[j] != 1) continue;
                kst[j] = xrc != MMC_OK ? xrc : x.st[j];
                if (kst[j] != MMC_OK && first_msg[0] == '\0')
                    snprintf(first_msg, sizeof(first_msg), "key '%s': %s", s.keys[j], util_err_get());
            }
        }
        cl_xfer_fini(&x);
        if (todo == 0 && r > 0) break;
    }
    char why[400];
    int32_t lst = cl_get_lease_end(lease, t0, ttl_ms, why, sizeof(why));
    if (lst != MMC_OK) LOG_WARN("%s: %s: the keys it covers fail with MMC_LEASE_LOST", what, why);
    lease = 0; /* released */
    for (uint32_t j = 0; j < s.m; j++) {
        int32_t r = kst[j];
        if (r == MMC_OK && lst != MMC_OK) {
            r = MMC_LEASE_LOST;
            if (first_msg[0] == '\0')
                snprintf(first_msg, sizeof(first_msg), "key '%s': %s; the bytes read may be another key's, so the "
                                                       "key fails (read it again)", s.keys[j], why);
        }
        results[s.pos[j]] = r;
        if (nread != NULL && r == MMC_OK) nread[s.pos[j]] = locs[j].size;
    }
    if (first_msg[0] != '\0') util_err_set(MMC_ERROR, "%s: %s", what, first_msg);
    free(kst);
release:
    if (lease != 0) { /* nothing was read */
        int32_t rst = 0;
        if (mmc_meta_lease_release(g_cl.meta, &lease, 1, &rst) != MMC_OK)
            LOG_DEBUG("%s: releasing lease %" PRIu64 ": %s (it expires after %u ms)", what, lease,
                      mmc_get_last_err_msg(), ttl_ms);
    }
free_locs:
    free(locs);
free_sub:
    cl_sub_free(&s);
leave:
    cl_leave();
    return rc;
}

/* ---------- public forms ---------- */

int32_t mmcc_put_opt(const char *key, const mmc_buffer *buf, const mmc_put_options *opt, uint32_t flags)
{
    int32_t st;
    cl_vec_t v = {buf, 1};
    int32_t rc = cl_put("mmcc_put", &key, 1, &v, opt, cl_put_pflags(flags, false), &st);
    return rc != MMC_OK ? rc : st;
}

int32_t mmcc_upsert(const char *key, const mmc_buffer *buf, const mmc_put_options *opt, uint32_t flags)
{
    int32_t st;
    cl_vec_t v = {buf, 1};
    int32_t rc = cl_put("mmcc_upsert", &key, 1, &v, opt, cl_put_pflags(flags, true), &st);
    return rc != MMC_OK ? rc : st;
}

/* The seed's form: options by value. */
int32_t mmcc_put(const char *key, mmc_buffer *buf, mmc_put_options options, uint32_t flags)
{
    return mmcc_put_opt(key, buf, &options, flags);
}

int32_t mmcc_get(const char *key, mmc_buffer *buf, uint32_t flags)
{
    (void)flags;
    int32_t st;
    cl_vec_t v = {buf, 1};
    int32_t rc = cl_get("mmcc_get", &key, 1, &v, false, &st, NULL);
    return rc != MMC_OK ? rc : st;
}

int32_t mmcc_get_nread(const char *key, mmc_buffer *buf, uint32_t flags, uint64_t *nread)
{
    (void)flags;
    if (nread == NULL) return util_err_set(MMC_INVALID_PARAM, "mmcc_get_nread: NULL nread");
    int32_t st;
    uint64_t got = 0;
    cl_vec_t v = {buf, 1};
    int32_t rc = cl_get("mmcc_get", &key, 1, &v, false, &st, &got);
    if (rc == MMC_OK && st == MMC_OK) *nread = got;
    return rc != MMC_OK ? rc : st;
}

int32_t mmcc_put_layers(const char *key, const mmc_buffer *layers, uint32_t nlayers, const mmc_put_options *opt,
                        uint32_t flags)
{
    int32_t st;
    cl_vec_t v = {layers, nlayers};
    int32_t rc = cl_put("mmcc_put_layers", &key, 1, &v, opt, cl_put_pflags(flags, false), &st);
    return rc != MMC_OK ? rc : st;
}

int32_t mmcc_upsert_layers(const char *key, const mmc_buffer *layers, uint32_t nlayers, const mmc_put_options *opt,
                           uint32_t flags)
{
    int32_t st;
    cl_vec_t v = {layers, nlayers};
    int32_t rc = cl_put("mmcc_upsert_layers", &key, 1, &v, opt, cl_put_pflags(flags, true), &st);
    return rc != MMC_OK ? rc : st;
}

int32_t mmcc_get_layers(const char *key, const mmc_buffer *layers, uint32_t nlayers, uint32_t flags)
{
    (void)flags;
    int32_t st;
    cl_vec_t v = {layers, nlayers};
    int32_t rc = cl_get("mmcc_get_layers", &key, 1, &v, true, &st, NULL);
    return rc != MMC_OK ? rc : st;
}

/* Builds the per-key vectors of a batch (bufs: one each; layers: lists). */
static int32_t cl_vecs(const char *what, uint32_t n, const mmc_buffer *bufs, const mmc_buffer *const *layers,
                       const uint32_t *nlayers, cl_vec_t **out)
{
    if (bufs == NULL && (layers == NULL || nlayers == NULL))
        return util_err_set(MMC_INVALID_PARAM, "%s: NULL buffer array", what);
    cl_vec_t *v = malloc(n * sizeof(*v));
    if (v == NULL) return util_err_set(MMC_MALLOC_FAILED, "%s: out of memory", what);
    for (uint32_t i = 0; i < n; i++)
        v[i] = bufs ? (cl_vec_t){&bufs[i], 1} : (cl_vec_t){layers[i], nlayers[i]};
    *out = v;
    return MMC_OK;
}

typedef enum { CL_PUT, CL_GET } cl_dir_t;

static int32_t cl_batch(const char *what, cl_dir_t dir, const char **keys, uint32_t n, const mmc_buffer *bufs,
                        const mmc_buffer *const *layers, const uint32_t *nlayers, const mmc_put_options *opt,
                        uint32_t pflags, int32_t *results, uint64_t *nread)
{
    int32_t rc = cl_batch_check(what, keys, n, results);
    if (rc != MMC_OK) return cl_fail_all(rc, results, keys && results ? n : 0);
    cl_vec_t *v = NULL;
    rc = cl_vecs(what, n, bufs, layers, nlayers, &v);
    if (rc != MMC_OK) return cl_fail_all(rc, results, n);
    rc = dir == CL_PUT ? cl_put(what, keys, n, v, opt, pflags, results)
                       : cl_get(what, keys, n, v, layers != NULL, results, nread);
    free(v);
    return rc;
}

/* C++ callers pass a reference: the same address (mmc_client.h). */
int32_t mmcc_batch_put(const char **keys, uint32_t n, const mmc_buffer *bufs, const mmc_put_options *options,
                       uint32_t flags, int32_t *results)
{
    return cl_batch("mmcc_batch_put", CL_PUT, keys, n, bufs, NULL, NULL, options, cl_put_pflags(flags, false),
                    results, NULL);
}

int32_t mmcc_batch_upsert(const char **keys, uint32_t n, const mmc_buffer *bufs, const mmc_put_options *opt,
                          uint32_t flags, int32_t *results)
{
    return cl_batch("mmcc_batch_upsert", CL_PUT, keys, n, bufs, NULL, NULL, opt, cl_put_pflags(flags, true), results,
                    NULL);
}

int32_t mmcc_batch_get(const char **keys, uint32_t n, mmc_buffer *bufs, uint32_t flags, int32_t *results)
{
    (void)flags;
    return cl_batch("mmcc_batch_get", CL_GET, keys, n, bufs, NULL, NULL, NULL, 0, results, NULL);
}

int32_t mmcc_batch_get_nread(const char **keys, uint32_t n, mmc_buffer *bufs, uint32_t flags, int32_t *results,
                             uint64_t *nread)
{
    (void)flags;
    if (nread == NULL)
        return cl_fail_all(util_err_set(MMC_INVALID_PARAM, "mmcc_batch_get_nread: NULL nread"), results,
                           keys && results && n <= MMC_BATCH_MAX ? n : 0);
    return cl_batch("mmcc_batch_get", CL_GET, keys, n, bufs, NULL, NULL, NULL, 0, results, nread);
}

int32_t mmcc_batch_put_layers(const char **keys, uint32_t n, const mmc_buffer *const *layers,
                              const uint32_t *nlayers, const mmc_put_options *opt, uint32_t flags, int32_t *results)
{
    if (layers == NULL || nlayers == NULL)
        return cl_fail_all(util_err_set(MMC_INVALID_PARAM, "mmcc_batch_put_layers: NULL layers"), results,
                           keys && results && n <= MMC_BATCH_MAX ? n : 0);
    return cl_batch("mmcc_batch_put_layers", CL_PUT, keys, n, NULL, layers, nlayers, opt, cl_put_pflags(flags, false),
                    results, NULL);
}

int32_t mmcc_batch_upsert_layers(const char **keys, uint32_t n, const mmc_buffer *const *layers,
                                 const uint32_t *nlayers, const mmc_put_options *opt, uint32_t flags, int32_t *results)
{
    if (layers == NULL || nlayers == NULL)
        return cl_fail_all(util_err_set(MMC_INVALID_PARAM, "mmcc_batch_upsert_layers: NULL layers"), results,
                           keys && results && n <= MMC_BATCH_MAX ? n : 0);
    return cl_batch("mmcc_batch_upsert_layers", CL_PUT, keys, n, NULL, layers, nlayers, opt, cl_put_pflags(flags, true),
                    results, NULL);
}

int32_t mmcc_batch_get_layers(const char **keys, uint32_t n, const mmc_buffer *const *layers,
                              const uint32_t *nlayers, uint32_t flags, int32_t *results)
{
    (void)flags;
    if (layers == NULL || nlayers == NULL)
        return cl_fail_all(util_err_set(MMC_INVALID_PARAM, "mmcc_batch_get_layers: NULL layers"), results,
                           keys && results && n <= MMC_BATCH_MAX ? n : 0);
    return cl_batch("mmcc_batch_get_layers", CL_GET, keys, n, NULL, layers, nlayers, NULL, 0, results, NULL);
}
