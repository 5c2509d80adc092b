/*
 * Host DRAM segment backend: one memfd per rank. Huge pages (MFD_HUGETLB)
 * when asked and when the machine has them reserved, else normal pages with
 * one INFO line saying why. Memfds we create are sealed against shrinking or
 * growing, so a peer that maps one can never be hit by SIGBUS from a later
 * truncation.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "gva/gva.h"
#include "gva/gva_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

typedef struct gva_seg_host {
    gva_seg_t super;
    int fd;
    bool fd_valid; /* the object starts zeroed: fd 0 is not "ours" until set */
} gva_seg_host_t;

#define GVA_HOST_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
/* Slots are only GVA_ALIGN (2 MiB) aligned, so ask for 2 MiB pages even where
 * the default huge page is 1 GiB. <linux/memfd.h> clashes with <sys/mman.h>. */
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21u << 26)
#endif

static uint64_t gva_page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (uint64_t)p : 4096u;
}

static uint64_t gva_round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* Size and seal a fresh memfd. */
static int32_t gva_host_memfd_size(int fd, uint64_t size, char *why, size_t why_cap)
{
    if (ftruncate(fd, (off_t)size) != 0) {
        snprintf(why, why_cap, "ftruncate to %llu bytes: %s", (unsigned long long)size, strerror(errno));
        return SMEM_IO;
    }
    if (fcntl(fd, F_ADD_SEALS, GVA_HOST_SEALS) != 0) {
        snprintf(why, why_cap, "sealing the memfd: %s", strerror(errno));
        return SMEM_IO;
    }
    return SMEM_OK;
}

/*
 * A hugetlb memfd of `size` bytes, or a reason why not. Creating and sizing
 * one succeeds even with no huge pages reserved; only mapping it fails, so we
 * map once to find out now rather than at attach time (for a shared mapping
 * the kernel keeps the reservation with the file after the unmap).
 */
static int gva_host_try_huge(uint64_t size, uint64_t *page_out, char *why, size_t why_cap)
{
    int fd = memfd_create("smem-gva-host-huge", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB | MFD_ALLOW_SEALING);
    if (fd < 0) {
        snprintf(why, why_cap, "memfd_create(MFD_HUGETLB): %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_blksize <= 0) {
        snprintf(why, why_cap, "fstat of the hugetlb memfd: %s", strerror(errno));
        goto close_fd;
    }
    uint64_t hpage = (uint64_t)st.st_blksize;
    if (size % hpage != 0) {
        snprintf(why, why_cap, "size %llu is not a multiple of the %llu-byte huge page", (unsigned long long)size,
                 (unsigned long long)hpage);
        goto close_fd;
    }
    if (gva_host_memfd_size(fd, size, why, why_cap) != SMEM_OK) goto close_fd;
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        snprintf(why, why_cap, "reserving %llu huge pages of %llu bytes: %s", (unsigned long long)(size / hpage),
                 (unsigned long long)hpage, strerror(errno));
        goto close_fd;
    }
    munmap(p, (size_t)size);
    *page_out = hpage;
    return fd;

close_fd:
    close(fd);
    return -1;
}

static int32_t gva_host_create(gva_seg_t *seg, uint64_t size, uint32_t flags)
{
    gva_seg_host_t *h = (gva_seg_host_t *)seg;
    if (flags & ~(uint32_t)GVA_SEG_F_HUGETLB)
        return util_err_set(SMEM_INVALID_PARAM, "host segment: unknown flags 0x%x", flags);
    if (flags & GVA_SEG_F_HUGETLB) {
        char why[192] = "";
        uint64_t hpage = 0;
        int fd = gva_host_try_huge(size, &hpage, why, sizeof(why));
        if (fd >= 0) {
            h->fd = fd;
            h->fd_valid = true;
            seg->size = size;
            seg->page_size = hpage;
            seg->flags = GVA_SEG_F_HUGETLB;
            LOG_DEBUG("host segment: %llu bytes on %llu-byte huge pages", (unsigned long long)size,
                      (unsigned long long)hpage);
            return SMEM_OK;
        }
        LOG_INFO("host segment of %llu bytes: huge pages unavailable (%s); using %llu-byte pages",
                 (unsigned long long)size, why, (unsigned long long)gva_page_size());
    }

    uint64_t page = gva_page_size();
    uint64_t rounded = gva_round_up(size, page);
    int fd = memfd_create("smem-gva-host", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return util_err_set(SMEM_IO, "memfd_create for %llu bytes: %s", (unsigned long long)size, strerror(errno));
    h->fd = fd;
    h->fd_valid = true;
    char why[192] = "";
    if (gva_host_memfd_size(fd, rounded, why, sizeof(why)) != SMEM_OK)
        return util_err_set(SMEM_IO, "host segment: %s", why); /* destroy closes fd */
    seg->size = rounded;
    seg->page_size = page;
    seg->flags = 0;
    return SMEM_OK;
}

static int32_t gva_host_export_fd(gva_seg_t *seg, int *fd_out)
{
    gva_seg_host_t *h = (gva_seg_host_t *)seg;
    int fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return util_err_set(SMEM_IO, "dup of segment fd %d: %s", h->fd, strerror(errno));
    *fd_out = fd;
    return SMEM_OK;
}

static int32_t gva_host_import_fd(gva_seg_t *seg, int fd, uint64_t size)
{
    gva_seg_host_t *h = (gva_seg_host_t *)seg;
    struct stat st;
    if (fstat(fd, &st) != 0) return util_err_set(SMEM_INVALID_PARAM, "fstat of fd %d: %s", fd, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return util_err_set(SMEM_INVALID_PARAM, "fd %d is not a memfd or regular file (mode 0%o)", fd,
                            (unsigned)st.st_mode);
    uint64_t have = (uint64_t)st.st_size;
    if (size == 0) size = have;
    if (size == 0) return util_err_set(SMEM_INVALID_PARAM, "fd %d backs 0 bytes", fd);
    if (size > have)
        return util_err_set(SMEM_OUT_OF_RANGE, "fd %d backs %llu bytes, %llu requested", fd, (unsigned long long)have,
                            (unsigned long long)size);

    uint64_t page = gva_page_size();
    uint32_t flags = 0;
    struct statfs sfs;
    if (fstatfs(fd, &sfs) == 0 && (unsigned long)sfs.f_type == (unsigned long)HUGETLBFS_MAGIC) {
        page = (uint64_t)st.st_blksize;
        flags = GVA_SEG_F_HUGETLB;
    }
    if (size % page != 0)
        return util_err_set(SMEM_INVALID_PARAM, "segment size %llu is not a multiple of the %llu-byte page of fd %d",
                            (unsigned long long)size, (unsigned long long)page, fd);
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) return util_err_set(SMEM_IO, "dup of fd %d: %s", fd, strerror(errno));
    h->fd = own;
    h->fd_valid = true;
    seg->size = size;
    seg->page_size = page;
    seg->flags = flags;
    return SMEM_OK;
}

static int32_t gva_host_map(gva_seg_t *seg, void *addr)
{
    gva_seg_host_t *h = (gva_seg_host_t *)seg;
    if (seg->addr != NULL)
        return util_err_set(SMEM_DUPLICATED_OBJECT, "host segment already mapped at %p", seg->addr);
    if ((uintptr_t)addr % seg->page_size != 0)
        return util_err_set(SMEM_INVALID_PARAM, "map address %p not aligned to the %llu-byte page", addr,
                            (unsigned long long)seg->page_size);
    /* MAP_FIXED replaces the PROT_NONE reservation in the same call. */
    void *p = mmap(addr, (size_t)seg->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->fd, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        /* A failed MAP_FIXED may already have dropped the old mapping: put the reservation back. */
        (void)gva_vm_rereserve(addr, seg->size);
        return util_err_set(SMEM_IO, "mapping %llu bytes of fd %d at %p: %s", (unsigned long long)seg->size, h->fd,
                            addr, strerror(err));
    }
    seg->addr = addr;
    return SMEM_OK;
}

static int32_t gva_host_unmap(gva_seg_t *seg)
{
    if (seg->addr == NULL) return SMEM_OK;
    int32_t rc = gva_vm_rereserve(seg->addr, seg->size);
    if (rc != SMEM_OK) return rc;
    seg->addr = NULL;
    return SMEM_OK;
}

static void gva_host_destroy(gva_seg_t *seg)
{
    gva_seg_host_t *h = (gva_seg_host_t *)seg;
    if (h->fd_valid) close(h->fd);
    h->fd_valid = false;
}

const gva_seg_ops_t gva_seg_host_ops = {
    .name = "host-memfd",
    .kind = GVA_KIND_HOST,
    .caps = GVA_SEG_CAP_EXPORT_FD | GVA_SEG_CAP_CPU_ACCESS | GVA_SEG_CAP_HUGETLB,
    .obj_size = sizeof(gva_seg_host_t),
    .create = gva_host_create,
    .export_fd = gva_host_export_fd,
    .import_fd = gva_host_import_fd,
    .map = gva_host_map,
    .unmap = gva_host_unmap,
    .destroy = gva_host_destroy,
};
