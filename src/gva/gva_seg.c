/*
 * Segment framework: allocation of backend objects (base struct first, size
 * declared by the ops table), the shared "unsupported" stubs, and the
 * PROT_NONE re-reservation every backend's unmap uses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gva/gva.h"
#include "gva/gva_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

static int32_t gva_seg_unsupported(const gva_seg_t *seg, const char *op)
{
    return util_err_set(SMEM_UNSUPPORTED, "segment backend %s does not support %s", seg->ops->name, op);
}

int32_t gva_seg_no_create(gva_seg_t *seg, uint64_t size, uint32_t flags)
{
    (void)size;
    (void)flags;
    return gva_seg_unsupported(seg, "create");
}

int32_t gva_seg_no_export_fd(gva_seg_t *seg, int *fd_out)
{
    (void)fd_out;
    return gva_seg_unsupported(seg, "export_fd");
}

int32_t gva_seg_no_import_fd(gva_seg_t *seg, int fd, uint64_t size)
{
    (void)fd;
    (void)size;
    return gva_seg_unsupported(seg, "import_fd");
}

int32_t gva_seg_no_map(gva_seg_t *seg, void *addr)
{
    (void)addr;
    return gva_seg_unsupported(seg, "map");
}

int32_t gva_seg_no_unmap(gva_seg_t *seg) { return gva_seg_unsupported(seg, "unmap"); }

static int32_t gva_seg_alloc(const gva_seg_ops_t *ops, gva_seg_t **out)
{
    if (ops == NULL || out == NULL) return util_err_set(SMEM_INVALID_PARAM, "gva_seg: ops or out is NULL");
    if (ops->obj_size < sizeof(gva_seg_t))
        return util_err_set(SMEM_INVALID_PARAM, "segment backend %s declares object size %zu < base %zu",
                            ops->name, ops->obj_size, sizeof(gva_seg_t));
    gva_seg_t *seg = calloc(1, ops->obj_size);
    if (seg == NULL) return util_err_set(SMEM_MALLOC_FAILED, "segment object of %zu bytes", ops->obj_size);
    seg->ops = ops;
    *out = seg;
    return SMEM_OK;
}

int32_t gva_seg_create(const gva_seg_ops_t *ops, uint64_t size, uint32_t flags, gva_seg_t **out)
{
    gva_seg_t *seg = NULL;
    int32_t rc = gva_seg_alloc(ops, &seg);
    if (rc != SMEM_OK) return rc;
    if (size == 0) {
        rc = util_err_set(SMEM_INVALID_PARAM, "segment size 0");
        goto free_seg;
    }
    rc = ops->create(seg, size, flags);
    if (rc != SMEM_OK) goto destroy_seg;
    *out = seg;
    return SMEM_OK;

destroy_seg:
    ops->destroy(seg); /* contract: safe after a failed create */
free_seg:
    free(seg);
    return rc;
}

int32_t gva_seg_import(const gva_seg_ops_t *ops, int fd, uint64_t size, gva_seg_t **out)
{
    if (fd < 0) return util_err_set(SMEM_INVALID_PARAM, "segment import: bad fd %d", fd);
    gva_seg_t *seg = NULL;
    int32_t rc = gva_seg_alloc(ops, &seg);
    if (rc != SMEM_OK) return rc;
    rc = ops->import_fd(seg, fd, size);
    if (rc != SMEM_OK) goto destroy_seg;
    *out = seg;
    return SMEM_OK;

destroy_seg:
    ops->destroy(seg);
    free(seg);
    return rc;
}

void gva_seg_destroy(gva_seg_t *seg)
{
    if (seg == NULL) return;
    if (seg->addr != NULL && seg->ops->unmap(seg) != SMEM_OK) {
        /* The mapping holds its own reference to the memory, so it stays valid; only the
         * PROT_NONE re-reservation of that range is lost. */
        LOG_WARN("segment %s at %p (%llu bytes): unmap failed on destroy: %s", seg->ops->name, seg->addr,
                 (unsigned long long)seg->size, util_err_get());
    }
    seg->ops->destroy(seg);
    free(seg);
}

const gva_seg_ops_t *gva_seg_ops_fd_for_kind(gva_kind_t kind)
{
    /* Chosen by capability: the backend of that kind that can import an fd. */
    static const gva_seg_ops_t *const all[] = {&gva_seg_host_ops};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (all[i]->kind == kind && (all[i]->caps & GVA_SEG_CAP_EXPORT_FD)) return all[i];
    }
    return NULL;
}

int32_t gva_vm_rereserve(void *addr, uint64_t len)
{
    void *p = mmap(addr, (size_t)len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED)
        return util_err_set(SMEM_IO, "re-reserving 0x%llx-0x%llx PROT_NONE: %s", (unsigned long long)(uintptr_t)addr,
                            (unsigned long long)((uintptr_t)addr + len), strerror(errno));
    return SMEM_OK;
}
