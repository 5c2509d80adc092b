/*
 * Replica copy, move and clear (mmc_client.h, last section). The MetaService
 * allocates the target space and holds the object while this client copies
 * (REPLICA_START), the bytes go one-sided from a source replica through a
 * local bounce buffer (a BM copy G2H, then H2G: BM refuses G2G between two
 * ranks that are both remote), and REPLICA_END publishes the new replicas or,
 * on any failure, frees them; the object stays as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "memcache/client/client_int.h"
#include "memcache/common/mmc_err.h"
#include "smem/host/smem_bm.h"
#include "util/util_log.h"
#include "util/util_status.h"

#define CL_BOUNCE_MAX (4u << 20) /* bounce buffer: at most this much of an object at a time */

static int32_t cl_bm_copy(const void *src, void *dst, uint64_t len, smem_bm_copy_type t)
{
    smem_copy_params p = {.src = src, .dest = dst, .dataSize = len};
    int32_t rc = smem_bm_copy(g_cl.ls.bm, &p, t, 0);
    return rc == 0 ? MMC_OK : util_err_wrap(mmc_status_from_smem(rc), "replica copy of %llu bytes", (unsigned long long)len);
}

/* Copies size bytes from one of the source replicas (in src->rep order; the next on a copy error) to every
 * target that has space (tgt[i].nrep 1). */
static int32_t cl_replica_bytes(const mmc_loc_t *src, const mmc_loc_t *tgt, uint32_t ntgt)
{
    uint64_t size = src->size, chunk = size < CL_BOUNCE_MAX ? size : CL_BOUNCE_MAX;
    uint8_t *bounce = malloc(chunk ? chunk : 1);
    if (bounce == NULL) return util_err_set(MMC_MALLOC_FAILED, "replica copy: out of memory for %llu bytes", (unsigned long long)chunk);
    int32_t rc = MMC_OK;
    for (uint64_t off = 0; off < size && rc == MMC_OK; off += chunk) {
        uint64_t n = size - off < chunk ? size - off : chunk;
        rc = MMC_ERROR;
        for (uint32_t r = 0; r < src->nrep && rc != MMC_OK; r++)
            rc = cl_bm_copy((const void *)(uintptr_t)(src->rep[r].gva + off), bounce, n, SMEMB_COPY_G2H);
        if (src->nrep == 0) rc = util_err_set(MMC_LINK_NOT_FOUND, "replica copy: no source replica");
        for (uint32_t i = 0; i < ntgt && rc == MMC_OK; i++)
            if (tgt[i].nrep == 1) rc = cl_bm_copy(bounce, (void *)(uintptr_t)(tgt[i].rep[0].gva + off), n, SMEMB_COPY_H2G);
    }
    free(bounce);
    return rc;
}

/* One task: start, copy, end. */
static int32_t cl_replica_task(const char *what, const char *key, uint32_t src, uint8_t mode, const uint32_t *targets,
                               uint32_t n)
{
    mmc_loc_t locs[1 + MMC_REPLICA_MAX];
    uint64_t task = 0;
    int32_t rc = cl_key_check(what, key);
    if (rc != MMC_OK) return rc;
    if (targets == NULL || n == 0 || n > MMC_REPLICA_MAX)
        return util_err_set(MMC_INVALID_PARAM, "%s '%s': %u targets, must be 1..%u", what, key, n, MMC_REPLICA_MAX);
    for (uint32_t i = 0; i < n; i++)
        if (targets[i] >= MMC_RANK_MAX)
            return util_err_set(MMC_INVALID_PARAM, "%s '%s': target %u is not a LocalService id (0..%u)", what, key,
                                targets[i], MMC_RANK_MAX - 1);
    rc = cl_enter(what);
    if (rc != MMC_OK) return rc;
    rc = mmc_meta_replica_start(g_cl.meta, key, src, mode, targets, n, locs, &task);
    if (rc == MMC_OK && locs[0].status != MMC_OK) {
        rc = locs[0].status;
        for (uint32_t i = 0; i < n; i++) /* the target that failed names the cause */
            if (locs[1 + i].status != MMC_OK && locs[1 + i].status != MMC_DUPLICATED_OBJECT) rc = locs[1 + i].status;
        if (rc == MMC_KEY_NOT_FOUND) util_err_set(rc, "%s '%s': key not found", what, key);
    }
    if (rc == MMC_OK && task != 0) {
        int32_t copy = cl_replica_bytes(&locs[0], &locs[1], n), st = MMC_OK;
        int32_t end = mmc_meta_replica_end(g_cl.meta, task, copy, &st);
        if (copy != MMC_OK)
            rc = copy; /* aborted (an unreachable MetaService frees the space at the task's deadline) */
        else if (end != MMC_OK)
            rc = end;
        else if (st != MMC_OK)
            rc = util_err_set(st, "%s '%s': the MetaService did not publish the copy (%d)", what, key, st);
    }
    cl_leave();
    return rc;
}

int32_t mmcc_replica_copy(const char *key, const uint32_t *targets, uint32_t n, uint32_t flags)
{
    (void)flags;
    return cl_replica_task("mmcc_replica_copy", key, UINT32_MAX, MMC_REPLICA_MODE_COPY, targets, n);
}

int32_t mmcc_replica_move(const char *key, uint32_t src, uint32_t dst, uint32_t flags)
{
    (void)flags;
    if (src == dst || src >= MMC_RANK_MAX)
        return util_err_set(MMC_INVALID_PARAM, "mmcc_replica_move: source %u and target %u (must differ)", src, dst);
    return cl_replica_task("mmcc_replica_move", key, src, MMC_REPLICA_MODE_MOVE, &dst, 1);
}

int32_t mmcc_replica_clear(const char *key, int64_t local_service_id, uint32_t flags)
{
    (void)flags;
    int32_t st = MMC_OK;
    int32_t rc = cl_key_check("mmcc_replica_clear", key);
    if (rc != MMC_OK) return rc;
    if (local_service_id < -1 || local_service_id >= (int64_t)MMC_RANK_MAX)
        return util_err_set(MMC_INVALID_PARAM, "mmcc_replica_clear: LocalService id %lld (-1 or 0..%u)",
                            (long long)local_service_id, MMC_RANK_MAX - 1);
    rc = cl_enter("mmcc_replica_clear");
    if (rc != MMC_OK) return rc;
    uint32_t rank = local_service_id < 0 ? UINT32_MAX : (uint32_t)local_service_id;
    rc = mmc_meta_replica_clear(g_cl.meta, rank, &key, 1, &st);
    cl_leave();
    return rc != MMC_OK ? rc : st;
}
