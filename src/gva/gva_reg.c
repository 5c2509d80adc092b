/*
 * Registry of user memory outside the pool (smem_bm_register_user_mem,
 * smem_trans_register_mem): non-overlapping (addr, size) regions kept sorted
 * by address, so a lookup is a binary search under a read lock. Registration
 * is rare and lookups happen on every copy, hence the rwlock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gva/gva.h"
#include "util/util_log.h"
#include "util/util_status.h"

struct gva_reg {
    pthread_rwlock_t lock;
    gva_reg_region_t *v; /* sorted by addr, no overlaps */
    uint32_t n;
    uint32_t cap;
};

int32_t gva_reg_create(gva_reg_t **out)
{
    if (out == NULL) return util_err_set(SMEM_INVALID_PARAM, "registry out is NULL");
    gva_reg_t *reg = calloc(1, sizeof(*reg));
    if (reg == NULL) return util_err_set(SMEM_MALLOC_FAILED, "registry object");
    pthread_rwlock_init(&reg->lock, NULL);
    *out = reg;
    return SMEM_OK;
}

void gva_reg_destroy(gva_reg_t *reg)
{
    if (reg == NULL) return;
    pthread_rwlock_destroy(&reg->lock);
    free(reg->v);
    free(reg);
}

/* Index of the first region with addr > a (so the candidate container is the one before it). */
static uint32_t gva_reg_upper_locked(const gva_reg_t *reg, uint64_t a)
{
    uint32_t lo = 0, hi = reg->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (reg->v[mid].addr <= a) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int32_t gva_reg_add(gva_reg_t *reg, uint64_t addr, uint64_t size)
{
    if (reg == NULL || addr == 0 || size == 0 || size - 1 > UINT64_MAX - addr)
        return util_err_set(SMEM_INVALID_PARAM, "register 0x%llx size %llu: empty, NULL or wrapping range",
                            (unsigned long long)addr, (unsigned long long)size);
    int32_t rc = SMEM_OK;
    pthread_rwlock_wrlock(&reg->lock);
    uint32_t i = gva_reg_upper_locked(reg, addr);
    const gva_reg_region_t *prev = i > 0 ? &reg->v[i - 1] : NULL;
    const gva_reg_region_t *next = i < reg->n ? &reg->v[i] : NULL;
    if (prev != NULL && prev->addr == addr && prev->size == size) goto unlock; /* idempotent */
    /* prev starts at or below addr: overlaps if it reaches addr. next starts above addr. */
    const gva_reg_region_t *hit = NULL;
    if (prev != NULL && addr - prev->addr < prev->size) hit = prev;
    else if (next != NULL && next->addr - addr < size) hit = next;
    if (hit != NULL) {
        rc = util_err_set(SMEM_ADDR_CONFLICT,
                          "register 0x%llx-0x%llx (%llu bytes): overlaps registered 0x%llx-0x%llx (%llu bytes)%s",
                          (unsigned long long)addr, (unsigned long long)(addr + size), (unsigned long long)size,
                          (unsigned long long)hit->addr, (unsigned long long)(hit->addr + hit->size),
                          (unsigned long long)hit->size,
                          hit->addr == addr ? "; same address with another size: unregister it first" : "");
        goto unlock;
    }
    if (reg->n == reg->cap) {
        uint32_t cap = reg->cap ? reg->cap * 2 : 16;
        gva_reg_region_t *v = realloc(reg->v, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            rc = util_err_set(SMEM_MALLOC_FAILED, "registry of %u regions", cap);
            goto unlock;
        }
        reg->v = v;
        reg->cap = cap;
    }
    memmove(&reg->v[i + 1], &reg->v[i], (size_t)(reg->n - i) * sizeof(reg->v[0]));
    reg->v[i] = (gva_reg_region_t){.addr = addr, .size = size};
    reg->n++;
unlock:
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}

int32_t gva_reg_remove(gva_reg_t *reg, uint64_t addr)
{
    if (reg == NULL) return util_err_set(SMEM_INVALID_PARAM, "registry is NULL");
    int32_t rc = SMEM_OK;
    pthread_rwlock_wrlock(&reg->lock);
    uint32_t i = gva_reg_upper_locked(reg, addr);
    if (i == 0 || reg->v[i - 1].addr != addr) {
        rc = util_err_set(SMEM_OBJECT_NOT_EXISTS, "no registered region starts at 0x%llx", (unsigned long long)addr);
        goto unlock;
    }
    memmove(&reg->v[i - 1], &reg->v[i], (size_t)(reg->n - i) * sizeof(reg->v[0]));
    reg->n--;
unlock:
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}

int32_t gva_reg_lookup(gva_reg_t *reg, uint64_t addr, uint64_t len, gva_reg_region_t *out)
{
    if (reg == NULL || out == NULL) return util_err_set(SMEM_INVALID_PARAM, "registry lookup: NULL argument");
    uint64_t need = len != 0 ? len : 1;
    int32_t rc = SMEM_OK;
    pthread_rwlock_rdlock(&reg->lock);
    uint32_t i = gva_reg_upper_locked(reg, addr);
    const gva_reg_region_t *r = i > 0 ? &reg->v[i - 1] : NULL;
    if (r == NULL || addr - r->addr >= r->size || need > r->size - (addr - r->addr)) {
        if (r != NULL && addr - r->addr < r->size)
            rc = util_err_set(SMEM_OUT_OF_RANGE,
                              "0x%llx length %llu runs past registered region 0x%llx-0x%llx (%llu bytes)",
                              (unsigned long long)addr, (unsigned long long)len, (unsigned long long)r->addr,
                              (unsigned long long)(r->addr + r->size), (unsigned long long)r->size);
        else
            rc = util_err_set(SMEM_OUT_OF_RANGE, "0x%llx length %llu is not in any registered region",
                              (unsigned long long)addr, (unsigned long long)len);
    } else {
        *out = *r;
    }
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}

uint32_t gva_reg_count(gva_reg_t *reg)
{
    pthread_rwlock_rdlock(&reg->lock);
    uint32_t n = reg->n;
    pthread_rwlock_unlock(&reg->lock);
    return n;
}
