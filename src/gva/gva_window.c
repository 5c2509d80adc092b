/*
 * Windows: reserving world_max × stride bytes at one base in every process.
 *
 * The creator probes candidate bases with MAP_FIXED_NOREPLACE in a high part
 * of the address space that the kernel's own placement (top-down from below
 * the stack) and the heap (bottom-up) rarely reach: between 1/8 and 3/4 of
 * the user address-space size, which adapts to 39-, 47- and 48-bit layouts.
 * The first candidate is random so that two groups on one host rarely pick
 * the same base (a process in both would fail to join the second). Joiners
 * reserve exactly the published base and report what is in the way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "gva/gva.h"
#include "gva/gva_int.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"
#include "util/util_tsan.h"

#define GVA_PROBE_ALIGN (1ull << 30) /* candidates on 1 GiB boundaries: room for 1 GiB pages later */
#define GVA_PROBE_MAX 256u

/* ThreadSanitizer keeps its shadow where we would probe and rejects mappings
 * there, so TSan builds probe its low application range instead. */
#if defined(UTIL_TSAN) && defined(__x86_64__)
#define GVA_PROBE_FIXED_LO (64ull << 30)
#define GVA_PROBE_FIXED_HI (512ull << 30)
#endif

static pthread_rwlock_t gva_list_lock = PTHREAD_RWLOCK_INITIALIZER;
static gva_window_t *gva_list[GVA_WINDOW_MAX];

int32_t gva_window_list_add(gva_window_t *w)
{
    int32_t rc = util_err_set(SMEM_FULL, "more than %u GVA windows in one process", GVA_WINDOW_MAX);
    pthread_rwlock_wrlock(&gva_list_lock);
    for (uint32_t i = 0; i < GVA_WINDOW_MAX; i++) {
        if (gva_list[i] == NULL) {
            gva_list[i] = w;
            rc = SMEM_OK;
            break;
        }
    }
    pthread_rwlock_unlock(&gva_list_lock);
    return rc;
}

void gva_window_list_del(gva_window_t *w)
{
    pthread_rwlock_wrlock(&gva_list_lock);
    for (uint32_t i = 0; i < GVA_WINDOW_MAX; i++) {
        if (gva_list[i] == w) gva_list[i] = NULL;
    }
    pthread_rwlock_unlock(&gva_list_lock);
}

/* The live window containing gva, or NULL. Windows never overlap. */
gva_window_t *gva_window_find(uint64_t gva)
{
    gva_window_t *found = NULL;
    pthread_rwlock_rdlock(&gva_list_lock);
    for (uint32_t i = 0; i < GVA_WINDOW_MAX && found == NULL; i++) {
        gva_window_t *w = gva_list[i];
        if (w != NULL && gva >= w->base && gva - w->base < w->size) found = w;
    }
    pthread_rwlock_unlock(&gva_list_lock);
    return found;
}

bool gva_range_in_window(uint64_t addr, uint64_t len)
{
    uint64_t last = len == 0 ? addr : (len - 1 > UINT64_MAX - addr ? UINT64_MAX : addr + len - 1);
    bool hit = false;
    pthread_rwlock_rdlock(&gva_list_lock);
    for (uint32_t i = 0; i < GVA_WINDOW_MAX && !hit; i++) {
        const gva_window_t *w = gva_list[i];
        if (w != NULL && addr < w->base + w->size && last >= w->base) hit = true;
    }
    pthread_rwlock_unlock(&gva_list_lock);
    return hit;
}

/* "0x7f..-0x7f.. rw-p /usr/lib/..." for the first mapping overlapping [start, end), or "". */
static void gva_vm_describe(uint64_t start, uint64_t end, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL) return;
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long lo = 0, hi = 0;
        char perms[8] = "";
        int name_at = 0;
        if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &lo, &hi, perms, &name_at) < 3) continue;
        if (hi <= start || lo >= end) continue;
        line[strcspn(line, "\n")] = '\0';
        const char *name = name_at > 0 && (size_t)name_at < strlen(line) ? line + name_at : "[anonymous]";
        snprintf(buf, cap, "0x%llx-0x%llx %s %s", lo, hi, perms, name);
        break;
    }
    fclose(f);
}

/* Reserve exactly [base, base + len) or return the errno (EEXIST: occupied). */
static int gva_vm_reserve_exact(uint64_t base, uint64_t len)
{
    void *want = (void *)(uintptr_t)base;
    void *p = mmap(want, (size_t)len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p == MAP_FAILED) return errno;
    if (p != want) {
        /* Kernels before 4.17 treat the flag as a hint and place the range elsewhere. */
        munmap(p, (size_t)len);
        return EEXIST;
    }
    return 0;
}

static int32_t gva_cfg_check(const gva_window_cfg_t *cfg, uint64_t *size_out)
{
    if (cfg == NULL) return util_err_set(SMEM_INVALID_PARAM, "window config is NULL");
    if ((unsigned)cfg->kind >= GVA_KIND_COUNT) return util_err_set(SMEM_INVALID_PARAM, "window kind %d", cfg->kind);
    if (cfg->world_max == 0 || cfg->world_max > GVA_WORLD_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "world_max %u not in 1..%u", cfg->world_max, GVA_WORLD_MAX);
    if (cfg->local_rank >= cfg->world_max)
        return util_err_set(SMEM_INVALID_PARAM, "local rank %u >= world_max %u", cfg->local_rank, cfg->world_max);
    if (cfg->stride == 0 || cfg->stride % GVA_ALIGN != 0)
        return util_err_set(SMEM_INVALID_PARAM, "stride %llu is not a non-zero multiple of %llu",
                            (unsigned long long)cfg->stride, (unsigned long long)GVA_ALIGN);
    if (cfg->stride > UINT64_MAX / cfg->world_max)
        return util_err_set(SMEM_INVALID_PARAM, "window %u x %llu bytes overflows", cfg->world_max,
                            (unsigned long long)cfg->stride);
    size_t ns_len = cfg->ns != NULL ? strlen(cfg->ns) : 0;
    if (ns_len == 0 || ns_len > GVA_NS_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "window namespace of %zu bytes not in 1..%u", ns_len, GVA_NS_MAX);
    *size_out = cfg->stride * cfg->world_max;
    return SMEM_OK;
}

/* Build the window object around an already reserved range. */
static int32_t gva_window_new(const gva_window_cfg_t *cfg, uint64_t base, uint64_t size, gva_window_t **out)
{
    gva_window_t *w = calloc(1, sizeof(*w));
    if (w == NULL) return util_err_set(SMEM_MALLOC_FAILED, "window object");
    int32_t rc = gva_host_id_get(&w->host);
    if (rc != SMEM_OK) goto free_w;
    size_t ranks_bytes = (size_t)cfg->world_max * sizeof(gva_rank_t);
    w->ranks = aligned_alloc(64, ranks_bytes);
    if (w->ranks == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "rank table of %u entries", cfg->world_max);
        goto free_w;
    }
    memset(w->ranks, 0, ranks_bytes);
    w->kind = cfg->kind;
    w->world_max = cfg->world_max;
    w->local_rank = cfg->local_rank;
    w->base = base;
    w->stride = cfg->stride;
    w->size = size;
    snprintf(w->ns, sizeof(w->ns), "%s", cfg->ns);
    pthread_mutex_init(&w->lock, NULL);
    rc = gva_window_list_add(w);
    if (rc != SMEM_OK) goto destroy_lock;
    *out = w;
    return SMEM_OK;

destroy_lock:
    pthread_mutex_destroy(&w->lock);
    free(w->ranks);
free_w:
    free(w);
    return rc;
}

static uint64_t gva_random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) v = util_now_ns() ^ ((uint64_t)getpid() << 32);
    return v;
}

int32_t gva_window_propose(const gva_window_cfg_t *cfg, gva_window_t **out)
{
    uint64_t size = 0;
    int32_t rc = gva_cfg_check(cfg, &size);
    if (rc != SMEM_OK) return rc;
    if (out == NULL) return util_err_set(SMEM_INVALID_PARAM, "window out is NULL");

    /* The stack sits just below the top of user space; its power-of-two ceiling is the VA size. The probe
     * range ends below two thirds of it, where Linux loads PIE executables (ELF_ET_DYN_BASE on x86-64 and
     * arm64), their heap above them and shared libraries further up: a base free here is then free in
     * every process of the cluster too, whatever its binary (a 256 x 64 GiB window is 16 TiB). */
    uint64_t sp = (uint64_t)(uintptr_t)&rc;
    uint64_t top = 1ull << (64 - __builtin_clzll(sp));
    uint64_t lo = top / 8, hi = (top / 3 * 2) & ~(GVA_PROBE_ALIGN - 1);
#ifdef GVA_PROBE_FIXED_LO
    lo = GVA_PROBE_FIXED_LO;
    hi = GVA_PROBE_FIXED_HI;
#endif
    if (size > hi - lo)
        return util_err_set(SMEM_ADDR_CONFLICT, "window of %llu bytes does not fit in the probe range 0x%llx-0x%llx",
                            (unsigned long long)size, (unsigned long long)lo, (unsigned long long)hi);
    uint64_t ncand = (hi - lo - size) / GVA_PROBE_ALIGN + 1;
    uint64_t probes = ncand < GVA_PROBE_MAX ? ncand : GVA_PROBE_MAX;
    uint64_t step = ncand / probes;
    uint64_t first = gva_random_u64() % ncand;
    int last_err = 0;
    for (uint64_t i = 0; i < probes; i++) {
        uint64_t base = lo + ((first + i * step) % ncand) * GVA_PROBE_ALIGN;
        int err = gva_vm_reserve_exact(base, size);
        if (err == 0) {
            rc = gva_window_new(cfg, base, size, out);
            if (rc != SMEM_OK) munmap((void *)(uintptr_t)base, (size_t)size);
            else
                LOG_INFO("%s window proposed at 0x%llx-0x%llx (%u x %llu bytes, probe %llu)",
                         gva_kind_name(cfg->kind), (unsigned long long)base, (unsigned long long)(base + size),
                         cfg->world_max, (unsigned long long)cfg->stride, (unsigned long long)i + 1);
            return rc;
        }
        last_err = err;
        if (err != EEXIST && err != ENOMEM) break; /* EINVAL etc. will not get better at another address */
    }
    return util_err_set(SMEM_ADDR_CONFLICT, "no free range of %llu bytes in 0x%llx-0x%llx after %llu probes (last: %s)",
                        (unsigned long long)size, (unsigned long long)lo, (unsigned long long)hi,
                        (unsigned long long)probes, strerror(last_err));
}

int32_t gva_window_reserve(const gva_window_cfg_t *cfg, uint64_t base, gva_window_t **out)
{
    uint64_t size = 0;
    int32_t rc = gva_cfg_check(cfg, &size);
    if (rc != SMEM_OK) return rc;
    if (out == NULL) return util_err_set(SMEM_INVALID_PARAM, "window out is NULL");
    if (base == 0 || base % GVA_ALIGN != 0 || base > UINTPTR_MAX - size)
        return util_err_set(SMEM_INVALID_PARAM, "window base 0x%llx (size %llu) is not a valid %llu-aligned range",
                            (unsigned long long)base, (unsigned long long)size, (unsigned long long)GVA_ALIGN);
    int err = gva_vm_reserve_exact(base, size);
    if (err != 0) {
        char what[384];
        gva_vm_describe(base, base + size, what, sizeof(what));
        const char *reason = err == EEXIST   ? "something is already mapped there"
                             : err == ENOMEM ? "outside the address space or over the map count limit"
                                             : "rejected by the kernel";
        return util_err_set(SMEM_ADDR_CONFLICT, "cannot reserve %s window 0x%llx-0x%llx: %s (%s)%s%s",
                            gva_kind_name(cfg->kind), (unsigned long long)base, (unsigned long long)(base + size),
                            reason, err == EEXIST ? "EEXIST" : strerror(err), what[0] ? "; first overlap: " : "",
                            what);
    }
    rc = gva_window_new(cfg, base, size, out);
    if (rc != SMEM_OK) {
        munmap((void *)(uintptr_t)base, (size_t)size);
        return rc;
    }
    LOG_DEBUG("%s window reserved at 0x%llx-0x%llx", gva_kind_name(cfg->kind), (unsigned long long)base,
              (unsigned long long)(base + size));
    return SMEM_OK;
}

void gva_window_destroy(gva_window_t *w)
{
    if (w == NULL) return;
    gva_window_list_del(w);
    gva_export_stop(w);
    for (uint32_t i = 0; i < w->world_max; i++) {
        gva_rank_t *r = &w->ranks[i];
        /* Unmap through the backend (a device backend has its own teardown), then drop it. */
        gva_seg_destroy(r->seg);
        r->seg = NULL;
    }
    if (munmap((void *)(uintptr_t)w->base, (size_t)w->size) != 0)
        LOG_WARN("munmap of window 0x%llx-0x%llx: %s", (unsigned long long)w->base,
                 (unsigned long long)(w->base + w->size), strerror(errno));
    pthread_mutex_destroy(&w->lock);
    free(w->ranks);
    free(w);
}

uint64_t gva_window_base(const gva_window_t *w) { return w->base; }
uint64_t gva_window_size(const gva_window_t *w) { return w->size; }
uint64_t gva_window_stride(const gva_window_t *w) { return w->stride; }
uint32_t gva_window_world_max(const gva_window_t *w) { return w->world_max; }
uint32_t gva_window_local_rank(const gva_window_t *w) { return w->local_rank; }
gva_kind_t gva_window_kind(const gva_window_t *w) { return w->kind; }

uint64_t gva_window_slot(const gva_window_t *w, uint32_t rank)
{
    return rank < w->world_max ? w->base + (uint64_t)rank * w->stride : 0;
}
