/* gva: host identity, windows, translation bounds, leave/re-reserve, segments, registry. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <pthread.h>

#include "gva/gva.h"
#include "testutil.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "tu_cmocka.h"

#define MiB (1ull << 20)
#define STRIDE (8 * MiB)
#define LOCAL (4 * MiB)

#define assert_err_contains(s)                                                                 \
    do {                                                                                       \
        if (strstr(util_err_get(), (s)) == NULL) fail_msg("'%s' not in '%s'", (s), util_err_get()); \
    } while (0)

static char ns_name[64];

static gva_window_cfg_t cfg_make(uint32_t world, uint32_t rank)
{
    snprintf(ns_name, sizeof(ns_name), "test_gva.%d", (int)getpid());
    return (gva_window_cfg_t){.kind = GVA_KIND_HOST, .world_max = world, .local_rank = rank, .stride = STRIDE,
                              .ns = ns_name};
}

/* MAP_FIXED_NOREPLACE probe: EEXIST means the range is still reserved (or mapped). */
static int probe_errno(uint64_t addr, uint64_t len)
{
    void *p = mmap((void *)(uintptr_t)addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) return errno;
    munmap(p, len);
    return 0;
}

static void test_host_id(void **state)
{
    (void)state;
    gva_host_id_t a, b, c;
    assert_int_equal(gva_host_id_get(&a), SMEM_OK);
    assert_int_equal(gva_host_id_get(&b), SMEM_OK);
    assert_true(gva_host_id_equal(&a, &b));
    assert_true(a.netns_ino != 0);
    char s[GVA_HOST_ID_STR_MAX];
    gva_host_id_format(&a, s, sizeof(s));
    assert_non_null(strstr(s, "/net:"));
    assert_int_equal(strlen(s) > 40, 1);
    uint8_t wire[GVA_HOST_ID_WIRE_SIZE];
    gva_host_id_pack(&a, wire);
    gva_host_id_unpack(wire, &c);
    assert_true(gva_host_id_equal(&a, &c));

    if (geteuid() != 0) {
        printf("SKIP netns host id check: needs root for unshare(CLONE_NEWNET), euid %d\n", (int)geteuid());
        return;
    }
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gva_host_id_t n;
        uint8_t out[1 + GVA_HOST_ID_WIRE_SIZE] = {0};
        if (unshare(CLONE_NEWNET) == 0 && gva_host_id_get(&n) == SMEM_OK) {
            out[0] = 1;
            gva_host_id_pack(&n, out + 1);
        } else {
            out[0] = (uint8_t)errno;
        }
        ssize_t w = write(pfd[1], out, sizeof(out));
        _exit(w == (ssize_t)sizeof(out) ? 0 : 1);
    }
    close(pfd[1]);
    uint8_t in[1 + GVA_HOST_ID_WIRE_SIZE];
    ssize_t r = read(pfd[0], in, sizeof(in));
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    assert_int_equal(r, (ssize_t)sizeof(in));
    if (in[0] != 1) {
        printf("SKIP netns host id check: unshare(CLONE_NEWNET) failed: %s\n", strerror(in[0]));
        return;
    }
    gva_host_id_unpack(in + 1, &c);
    assert_false(gva_host_id_equal(&a, &c));
    assert_memory_equal(a.boot_id, c.boot_id, sizeof(a.boot_id)); /* same machine, other "host" */
}

static void test_window_propose(void **state)
{
    (void)state;
    gva_window_cfg_t cfg = cfg_make(4, 0);
    gva_window_t *a = NULL, *b = NULL;
    assert_int_equal(gva_window_propose(&cfg, &a), SMEM_OK);
    assert_int_equal(gva_window_propose(&cfg, &b), SMEM_OK);
    uint64_t ba = gva_window_base(a), bb = gva_window_base(b);
    assert_int_equal(ba % GVA_ALIGN, 0);
    assert_int_equal(gva_window_size(a), 4 * STRIDE);
    assert_int_equal(gva_window_slot(a, 3), ba + 3 * STRIDE);
    assert_int_equal(gva_window_slot(a, 4), 0);
    assert_true(ba + 4 * STRIDE <= bb || bb + 4 * STRIDE <= ba); /* disjoint */
    assert_int_equal(probe_errno(ba, 4 * STRIDE), EEXIST);
    gva_window_destroy(a);
    gva_window_destroy(b);
    assert_int_equal(probe_errno(ba, 4 * STRIDE), 0); /* destroy gives the range back */
    gva_window_destroy(NULL);
}

static void test_window_conflict(void **state)
{
    (void)state;
    gva_window_cfg_t cfg = cfg_make(4, 1);
    gva_window_t *w = NULL;
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_OK);
    uint64_t base = gva_window_base(w);
    gva_window_destroy(w);

    /* Something else got there first in this "joiner". */
    void *blocker = mmap((void *)(uintptr_t)(base + STRIDE), 2 * MiB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
                         MAP_FIXED_NOREPLACE, -1, 0);
    assert_true(blocker != MAP_FAILED);
    assert_int_equal(gva_window_reserve(&cfg, base, &w), SMEM_ADDR_CONFLICT);
    char range[64];
    snprintf(range, sizeof(range), "0x%llx-0x%llx", (unsigned long long)base, (unsigned long long)(base + 4 * STRIDE));
    assert_err_contains(range);
    assert_err_contains("EEXIST");
    assert_err_contains("already mapped");
    munmap(blocker, 2 * MiB);

    assert_int_equal(gva_window_reserve(&cfg, base, &w), SMEM_OK);
    assert_int_equal(gva_window_base(w), base);
    assert_int_equal(gva_window_local_rank(w), 1);
    gva_window_t *again = NULL;
    assert_int_equal(gva_window_reserve(&cfg, base, &again), SMEM_ADDR_CONFLICT); /* our own window is in the way */
    gva_window_destroy(w);
}

static void test_window_params(void **state)
{
    (void)state;
    gva_window_t *w = NULL;
    gva_window_cfg_t cfg = cfg_make(4, 0);
    cfg.stride = 3 * MiB;
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_INVALID_PARAM);
    assert_err_contains("stride 3145728");
    cfg = cfg_make(0, 0);
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_INVALID_PARAM);
    cfg = cfg_make(GVA_WORLD_MAX + 1, 0);
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_INVALID_PARAM);
    cfg = cfg_make(4, 4);
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_INVALID_PARAM);
    cfg = cfg_make(4, 0);
    cfg.ns = "";
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_INVALID_PARAM);
    cfg = cfg_make(4, 0);
    cfg.kind = (gva_kind_t)7;
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_INVALID_PARAM);
    cfg = cfg_make(GVA_WORLD_MAX, 0);
    cfg.stride = 1ull << 62; /* 1024 x 2^62 overflows */
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_INVALID_PARAM);
    cfg = cfg_make(4, 0);
    assert_int_equal(gva_window_reserve(&cfg, (1ull << 44) + 4096, &w), SMEM_INVALID_PARAM);
    assert_int_equal(gva_window_reserve(&cfg, UINT64_MAX - GVA_ALIGN + 1, &w), SMEM_INVALID_PARAM);
    assert_int_equal(gva_window_reserve(&cfg, 0, &w), SMEM_INVALID_PARAM);
    assert_null(w);
}

static void test_translate_bounds(void **state)
{
    (void)state;
    gva_window_cfg_t cfg = cfg_make(4, 1);
    gva_window_t *w = NULL;
    gva_seg_t *seg = NULL;
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_OK);
    assert_int_equal(gva_seg_create(&gva_seg_host_ops, LOCAL, 0, &seg), SMEM_OK);
    assert_int_equal(gva_window_attach_local(w, seg), SMEM_OK);
    uint64_t s1 = gva_window_slot(w, 1);
    gva_loc_t loc;

    assert_int_equal(gva_translate(s1 + 100, 100, &loc), SMEM_OK);
    assert_ptr_equal(loc.win, w);
    assert_int_equal(loc.rank, 1);
    assert_int_equal(loc.offset, 100);
    assert_int_equal(loc.state, GVA_RANK_LOCAL);
    assert_int_equal(loc.size, LOCAL);
    assert_ptr_equal(loc.ptr, (void *)(uintptr_t)(s1 + 100));
    memset(loc.ptr, 0x5a, 100); /* the GVA is a plain pointer */
    assert_int_equal(((uint8_t *)(uintptr_t)s1)[150], 0x5a);

    assert_int_equal(gva_translate(s1 + LOCAL - 8, 8, &loc), SMEM_OK); /* exact fit at the end */
    assert_int_equal(gva_translate(s1 + LOCAL - 10, 20, &loc), SMEM_OUT_OF_RANGE);
    assert_err_contains("rank 1 offset 4194294 + length 20 exceeds its backed size 4194304");
    assert_int_equal(gva_translate(s1 + 5 * MiB, 1, &loc), SMEM_OUT_OF_RANGE);
    assert_int_equal(gva_translate(s1 + LOCAL, 0, &loc), SMEM_OUT_OF_RANGE); /* len 0 still checks the address */
    assert_int_equal(gva_translate(s1 + STRIDE - 1, 2, &loc), SMEM_OUT_OF_RANGE); /* into rank 2's slot */
    assert_int_equal(gva_translate(s1, UINT64_MAX, &loc), SMEM_OUT_OF_RANGE);
    assert_err_contains("wraps");
    assert_int_equal(gva_translate(UINT64_MAX - 10, 100, &loc), SMEM_OUT_OF_RANGE);
    assert_err_contains("wraps");
    assert_int_equal(gva_translate(UINT64_MAX, 1, &loc), SMEM_OUT_OF_RANGE); /* last byte: no wrap, no window */
    assert_err_contains("not in any GVA window");
    assert_int_equal(gva_translate(0x1000, 1, &loc), SMEM_OUT_OF_RANGE);
    assert_err_contains("0x1000");
    assert_int_equal(gva_window_translate(w, gva_window_base(w) + gva_window_size(w), 1, &loc), SMEM_OUT_OF_RANGE);
    assert_int_equal(gva_translate(gva_window_slot(w, 0), 1, &loc), SMEM_PEER_GONE);
    assert_err_contains("rank 0 of the host window has not joined");

    gva_host_id_t other = {.boot_id = {1, 2, 3}, .netns_ino = 42};
    assert_int_equal(gva_window_set_remote(w, 2, 2 * MiB, &other), SMEM_OK);
    assert_int_equal(gva_window_translate(w, gva_window_slot(w, 2) + MiB, MiB, &loc), SMEM_OK);
    assert_int_equal(loc.state, GVA_RANK_REMOTE);
    assert_null(loc.ptr);
    assert_int_equal(gva_window_translate(w, gva_window_slot(w, 2) + MiB, MiB + 1, &loc), SMEM_OUT_OF_RANGE);
    assert_int_equal(gva_window_set_remote(w, 2, 2 * MiB, &other), SMEM_DUPLICATED_OBJECT);
    assert_int_equal(gva_window_set_remote(w, 3, STRIDE + 1, &other), SMEM_OUT_OF_RANGE);

    /* A pinned rank cannot be unmapped; the unmap reports the accessors and changes nothing. */
    assert_int_equal(gva_translate_acquire(gva_window_slot(w, 2), 64, &loc), SMEM_OK);
    assert_int_equal(gva_window_unmap_rank(w, 2, 30), SMEM_RESOURCE_IN_USE);
    assert_err_contains("1 accesses still in flight after 30 ms");
    assert_int_equal(gva_translate(gva_window_slot(w, 2), 64, &loc), SMEM_OK);
    gva_rank_release(loc.win, loc.rank);
    assert_int_equal(gva_window_unmap_rank(w, 2, 1000), SMEM_OK);
    assert_int_equal(gva_translate(gva_window_slot(w, 2), 64, &loc), SMEM_PEER_GONE);
    assert_err_contains("has left");
    assert_int_equal(gva_rank_acquire(w, 4), SMEM_INVALID_PARAM);
    gva_window_destroy(w);
    assert_int_equal(gva_translate(s1, 1, &loc), SMEM_OUT_OF_RANGE); /* window gone from the list */
}

/* Rank 2 plays a same-host peer: its segment is a second memfd imported through its fd. */
static gva_seg_t *peer_segment(gva_seg_t **owner_out)
{
    gva_seg_t *owner = NULL, *imp = NULL;
    int fd = -1;
    assert_int_equal(gva_seg_create(&gva_seg_host_ops, LOCAL, 0, &owner), SMEM_OK);
    assert_int_equal(gva_seg_export_fd(owner, &fd), SMEM_OK);
    assert_int_equal(gva_seg_import(&gva_seg_host_ops, fd, 0, &imp), SMEM_OK);
    close(fd);
    assert_int_equal(imp->size, LOCAL);
    *owner_out = owner;
    return imp;
}

static void test_leave_rereserves(void **state)
{
    (void)state;
    gva_window_cfg_t cfg = cfg_make(4, 0);
    gva_window_t *w = NULL;
    gva_host_id_t me;
    assert_int_equal(gva_host_id_get(&me), SMEM_OK);
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_OK);
    gva_seg_t *owner = NULL, *peer = peer_segment(&owner);
    gva_host_id_t other = me;
    other.netns_ino++;
    assert_int_equal(gva_window_map_peer(w, 2, peer, &other), SMEM_INVALID_PARAM);
    assert_err_contains("not this host");
    assert_int_equal(gva_window_map_peer(w, 0, peer, &me), SMEM_INVALID_PARAM); /* our own rank */
    assert_int_equal(gva_window_map_peer(w, 2, peer, &me), SMEM_OK);

    uint64_t s2 = gva_window_slot(w, 2);
    gva_loc_t loc;
    assert_int_equal(gva_translate(s2 + 4096, 4096, &loc), SMEM_OK);
    assert_int_equal(loc.state, GVA_RANK_MAPPED);
    memset(loc.ptr, 0xa7, 4096);
    /* The owner's own mapping of the memfd sees the bytes: one memory, two addresses. */
    int fd = -1;
    assert_int_equal(gva_seg_export_fd(owner, &fd), SMEM_OK);
    uint8_t *view = mmap(NULL, LOCAL, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(view != MAP_FAILED);
    assert_int_equal(view[4096 + 17], 0xa7);

    gva_rank_info_t info;
    assert_int_equal(gva_window_rank_info(w, 2, &info), SMEM_OK);
    assert_int_equal(info.state, GVA_RANK_MAPPED);
    assert_int_equal(info.size, LOCAL);
    uint64_t gen = info.gen;

    assert_int_equal(gva_window_unmap_rank(w, 2, 1000), SMEM_OK);
    assert_int_equal(gva_translate(s2 + 4096, 1, &loc), SMEM_PEER_GONE);
    assert_err_contains("rank 2");
    assert_int_equal(probe_errno(s2, STRIDE), EEXIST); /* the slot is reserved again, never left open */
    assert_int_equal(gva_window_rank_info(w, 2, &info), SMEM_OK);
    assert_int_equal(info.state, GVA_RANK_ABSENT);
    assert_int_equal(info.size, 0);
    assert_true(info.gen > gen);
    assert_int_equal(gva_window_unmap_rank(w, 2, 1000), SMEM_PEER_GONE);
    assert_int_equal(view[4096], 0xa7); /* the owner's memory is untouched by our unmap */

    /* The rank may come back (rejoin). */
    gva_seg_t *owner2 = NULL;
    peer = peer_segment(&owner2);
    assert_int_equal(gva_window_map_peer(w, 2, peer, &me), SMEM_OK);
    assert_int_equal(gva_translate(s2, 1, &loc), SMEM_OK);
    munmap(view, LOCAL);
    gva_window_destroy(w);
    gva_seg_destroy(owner);
    gva_seg_destroy(owner2);
}

struct hammer {
    gva_window_t *w;
    uint64_t gva;
    int stop;
    long ok, gone; /* atomics: two hammer threads */
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
        gva_loc_t loc;
        int32_t rc = gva_translate_acquire(h->gva, 65536, &loc);
        if (rc == SMEM_OK) {
            const volatile uint8_t *p = loc.ptr;
            uint64_t sum = 0;
            for (size_t i = 0; i < 65536; i += 512) sum += p[i]; /* would fault if unmapped under us */
            (void)sum;
            gva_rank_release(loc.win, loc.rank);
            __atomic_add_fetch(&h->ok, 1, __ATOMIC_RELAXED);
        } else {
            assert_int_equal(rc, SMEM_PEER_GONE);
            __atomic_add_fetch(&h->gone, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static void test_leave_under_load(void **state)
{
    (void)state;
    gva_window_cfg_t cfg = cfg_make(4, 0);
    gva_window_t *w = NULL;
    gva_host_id_t me;
    assert_int_equal(gva_host_id_get(&me), SMEM_OK);
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_OK);
    gva_seg_t *owner = NULL, *peer = peer_segment(&owner);
    assert_int_equal(gva_window_map_peer(w, 3, peer, &me), SMEM_OK);
    struct hammer h = {.w = w, .gva = gva_window_slot(w, 3)};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, hammer_main, &h);
    while (__atomic_load_n(&h.ok, __ATOMIC_RELAXED) < 100) usleep(100);
    assert_int_equal(gva_window_unmap_rank(w, 3, 5000), SMEM_OK);
    long ok_at_unmap = __atomic_load_n(&h.ok, __ATOMIC_RELAXED);
    while (__atomic_load_n(&h.gone, __ATOMIC_RELAXED) < 100) usleep(100);
    __atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    assert_true(ok_at_unmap >= 100);
    assert_int_equal(probe_errno(gva_window_slot(w, 3), STRIDE), EEXIST);
    gva_window_destroy(w);
    gva_seg_destroy(owner);
}

static void stub_destroy(gva_seg_t *seg) { (void)seg; }

/* A backend that supports nothing: every slot is a shared stub, none is NULL. */
static const gva_seg_ops_t stub_ops = {
    .name = "stub",
    .kind = GVA_KIND_DEVICE,
    .caps = 0,
    .obj_size = sizeof(gva_seg_t),
    .create = gva_seg_no_create,
    .export_fd = gva_seg_no_export_fd,
    .import_fd = gva_seg_no_import_fd,
    .map = gva_seg_no_map,
    .unmap = gva_seg_no_unmap,
    .destroy = stub_destroy,
};

static void test_seg_ops_stubs(void **state)
{
    (void)state;
    gva_seg_ops_t ops = stub_ops;
    gva_seg_t *seg = NULL;
    assert_int_equal(gva_seg_create(&ops, MiB, 0, &seg), SMEM_UNSUPPORTED);
    assert_err_contains("backend stub does not support create");
    assert_int_equal(gva_seg_import(&ops, 0, MiB, &seg), SMEM_UNSUPPORTED);
    gva_seg_t fake = {.ops = &ops};
    int fd;
    assert_int_equal(gva_seg_export_fd(&fake, &fd), SMEM_UNSUPPORTED);
    assert_int_equal(gva_seg_map(&fake, NULL), SMEM_UNSUPPORTED);
    assert_int_equal(gva_seg_unmap(&fake), SMEM_UNSUPPORTED);
    ops.obj_size = 4;
    assert_int_equal(gva_seg_create(&ops, MiB, 0, &seg), SMEM_INVALID_PARAM);
    assert_null(seg);
}

/* Counts log lines containing a needle (the fallback must be announced exactly once). */
static pthread_mutex_t cnt_lock = PTHREAD_MUTEX_INITIALIZER;
static int cnt_info_huge;
static void count_sink(int level, const char *msg)
{
    pthread_mutex_lock(&cnt_lock);
    if (level == UTIL_LOG_INFO && strstr(msg, "huge pages unavailable") != NULL) cnt_info_huge++;
    pthread_mutex_unlock(&cnt_lock);
}

static void test_seg_host_hugetlb(void **state)
{
    (void)state;
    int old = util_log_level_get();
    util_log_level_set(UTIL_LOG_INFO);
    util_log_sink_set(count_sink);
    cnt_info_huge = 0;
    gva_seg_t *seg = NULL;
    int32_t rc = gva_seg_create(&gva_seg_host_ops, LOCAL, GVA_SEG_F_HUGETLB, &seg);
    util_log_sink_set(NULL);
    util_log_level_set(old);
    assert_int_equal(rc, SMEM_OK);
    assert_int_equal(seg->size, LOCAL);
    if (seg->flags & GVA_SEG_F_HUGETLB) {
        printf("huge pages available: %llu-byte pages, no fallback\n", (unsigned long long)seg->page_size);
        assert_int_equal(seg->page_size, 2 * MiB);
        assert_int_equal(cnt_info_huge, 0);
    } else {
        printf("huge pages unavailable here: fell back to %llu-byte pages\n", (unsigned long long)seg->page_size);
        assert_int_equal(seg->page_size, (uint64_t)sysconf(_SC_PAGESIZE));
        assert_int_equal(cnt_info_huge, 1);
    }
    /* Either way the segment maps and holds data. */
    gva_window_cfg_t cfg = cfg_make(2, 0);
    gva_window_t *w = NULL;
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_OK);
    assert_int_equal(gva_window_attach_local(w, seg), SMEM_OK);
    uint8_t *p = (uint8_t *)(uintptr_t)gva_window_slot(w, 0);
    p[0] = 1;
    p[LOCAL - 1] = 2;
    assert_int_equal(p[0] + p[LOCAL - 1], 3);
    gva_seg_t *dup = NULL;
    assert_int_equal(gva_seg_create(&gva_seg_host_ops, LOCAL, 0, &dup), SMEM_OK);
    assert_int_equal(gva_window_attach_local(w, dup), SMEM_DUPLICATED_OBJECT); /* caller keeps dup */
    gva_seg_destroy(dup);
    gva_window_destroy(w);

    /* A size that huge pages cannot back falls back with the reason; odd sizes round up to a page. */
    util_log_level_set(UTIL_LOG_INFO);
    tu_log_capture_start(UTIL_LOG_INFO);
    assert_int_equal(gva_seg_create(&gva_seg_host_ops, 3 * MiB, GVA_SEG_F_HUGETLB, &seg), SMEM_OK);
    tu_log_capture_stop();
    util_log_level_set(old);
    assert_int_equal(seg->flags, 0);
    assert_true(tu_log_contains("huge pages unavailable"));
    gva_seg_destroy(seg);
    assert_int_equal(gva_seg_create(&gva_seg_host_ops, 5000, 0, &seg), SMEM_OK);
    assert_int_equal(seg->size, 8192);
    gva_seg_destroy(seg);
    assert_int_equal(gva_seg_create(&gva_seg_host_ops, 0, 0, &seg), SMEM_INVALID_PARAM);
    assert_int_equal(gva_seg_create(&gva_seg_host_ops, MiB, 0x80, &seg), SMEM_INVALID_PARAM);
}

/* CREATE_WITH_SHM: the user hands in a memfd; its size is checked with fstat. */
static void test_seg_user_memfd(void **state)
{
    (void)state;
    int ufd = memfd_create("user", MFD_CLOEXEC);
    assert_true(ufd >= 0);
    assert_int_equal(ftruncate(ufd, 2 * MiB), 0);
    gva_seg_t *seg = NULL;
    assert_int_equal(gva_seg_import(&gva_seg_host_ops, ufd, 4 * MiB, &seg), SMEM_OUT_OF_RANGE);
    assert_err_contains("backs 2097152 bytes, 4194304 requested");
    assert_int_equal(gva_seg_import(&gva_seg_host_ops, ufd, 1000, &seg), SMEM_INVALID_PARAM);
    assert_err_contains("not a multiple");
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(gva_seg_import(&gva_seg_host_ops, pfd[0], 0, &seg), SMEM_INVALID_PARAM);
    close(pfd[0]);
    close(pfd[1]);
    assert_int_equal(gva_seg_import(&gva_seg_host_ops, -1, 0, &seg), SMEM_INVALID_PARAM);
    assert_null(seg);

    assert_int_equal(gva_seg_import(&gva_seg_host_ops, ufd, 2 * MiB, &seg), SMEM_OK);
    assert_int_equal(seg->size, 2 * MiB);
    gva_window_cfg_t cfg = cfg_make(2, 1);
    gva_window_t *w = NULL;
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_OK);
    assert_int_equal(gva_window_attach_local(w, seg), SMEM_OK);
    uint8_t *user = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, ufd, 0);
    assert_true(user != MAP_FAILED);
    close(ufd); /* the segment holds its own reference */
    user[12345] = 0x42;
    assert_int_equal(((uint8_t *)(uintptr_t)gva_window_slot(w, 1))[12345], 0x42);
    munmap(user, 2 * MiB);
    gva_window_destroy(w);
}

static void test_registry(void **state)
{
    (void)state;
    gva_reg_t *reg = NULL;
    gva_reg_region_t r;
    assert_int_equal(gva_reg_create(&reg), SMEM_OK);
    assert_int_equal(gva_reg_add(reg, 0x10000, 0x1000), SMEM_OK);
    assert_int_equal(gva_reg_add(reg, 0x30000, 0x1000), SMEM_OK);
    assert_int_equal(gva_reg_add(reg, 0x20000, 0x1000), SMEM_OK);
    assert_int_equal(gva_reg_add(reg, 0x20000, 0x1000), SMEM_OK); /* idempotent */
    assert_int_equal(gva_reg_count(reg), 3);
    assert_int_equal(gva_reg_add(reg, 0x20000, 0x2000), SMEM_ADDR_CONFLICT);
    assert_err_contains("same address with another size");
    assert_int_equal(gva_reg_add(reg, 0x1f000, 0x1001), SMEM_ADDR_CONFLICT); /* reaches into 0x20000 */
    assert_err_contains("overlaps registered 0x20000-0x21000");
    assert_int_equal(gva_reg_add(reg, 0x20fff, 0x10), SMEM_ADDR_CONFLICT); /* starts inside */
    assert_int_equal(gva_reg_add(reg, 0x1f000, 0x1000), SMEM_OK);       /* adjacent is fine */
    assert_int_equal(gva_reg_add(reg, 0, 16), SMEM_INVALID_PARAM);
    assert_int_equal(gva_reg_add(reg, 0x40000, 0), SMEM_INVALID_PARAM);
    assert_int_equal(gva_reg_add(reg, UINT64_MAX - 4, 16), SMEM_INVALID_PARAM);

    assert_int_equal(gva_reg_lookup(reg, 0x20010, 0x10, &r), SMEM_OK);
    assert_int_equal(r.addr, 0x20000);
    assert_int_equal(r.size, 0x1000);
    assert_int_equal(gva_reg_lookup(reg, 0x20000, 0x1000, &r), SMEM_OK);
    assert_int_equal(gva_reg_lookup(reg, 0x20ff0, 0x20, &r), SMEM_OUT_OF_RANGE); /* crosses the end */
    assert_err_contains("runs past registered region 0x20000-0x21000");
    assert_int_equal(gva_reg_lookup(reg, 0x1f800, 0x1000, &r), SMEM_OUT_OF_RANGE); /* spans two regions */
    assert_int_equal(gva_reg_lookup(reg, 0x20800, UINT64_MAX, &r), SMEM_OUT_OF_RANGE);
    assert_int_equal(gva_reg_lookup(reg, 0x5000, 1, &r), SMEM_OUT_OF_RANGE);
    assert_err_contains("not in any registered region");
    assert_int_equal(gva_reg_lookup(reg, 0x31000, 0, &r), SMEM_OUT_OF_RANGE);

    assert_int_equal(gva_reg_remove(reg, 0x20010), SMEM_OBJECT_NOT_EXISTS);
    assert_err_contains("0x20010");
    assert_int_equal(gva_reg_remove(reg, 0x20000), SMEM_OK);
    assert_int_equal(gva_reg_remove(reg, 0x20000), SMEM_OBJECT_NOT_EXISTS);
    assert_int_equal(gva_reg_lookup(reg, 0x20010, 1, &r), SMEM_OUT_OF_RANGE);
    assert_int_equal(gva_reg_add(reg, 0x20000, 0x2000), SMEM_OK); /* now free for another size */
    assert_int_equal(gva_reg_count(reg), 4);
    for (uint64_t i = 0; i < 100; i++) assert_int_equal(gva_reg_add(reg, 0x100000 + i * 0x1000, 0x800), SMEM_OK);
    assert_int_equal(gva_reg_lookup(reg, 0x100000 + 57 * 0x1000 + 0x7ff, 1, &r), SMEM_OK);
    assert_int_equal(r.addr, 0x100000 + 57 * 0x1000);
    assert_int_equal(gva_reg_lookup(reg, 0x100000 + 57 * 0x1000 + 0x800, 1, &r), SMEM_OUT_OF_RANGE);
    gva_reg_destroy(reg);
}

struct reg_thr {
    gva_reg_t *reg;
    uint64_t base;
    int bad;
};

static void *reg_thr_main(void *arg)
{
    struct reg_thr *t = arg;
    gva_reg_region_t r;
    for (int round = 0; round < 200; round++) {
        for (uint64_t i = 0; i < 16; i++) t->bad |= gva_reg_add(t->reg, t->base + i * 0x1000, 0x1000) != SMEM_OK;
        for (uint64_t i = 0; i < 16; i++) t->bad |= gva_reg_lookup(t->reg, t->base + i * 0x1000 + 8, 8, &r) != SMEM_OK;
        for (uint64_t i = 0; i < 16; i++) t->bad |= gva_reg_remove(t->reg, t->base + i * 0x1000) != SMEM_OK;
    }
    return NULL;
}

static void test_registry_threads(void **state)
{
    (void)state;
    gva_reg_t *reg = NULL;
    assert_int_equal(gva_reg_create(&reg), SMEM_OK);
    struct reg_thr t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct reg_thr){.reg = reg, .base = 0x1000000ull * (uint64_t)(i + 1)};
        pthread_create(&th[i], NULL, reg_thr_main, &t[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].bad, 0);
    }
    assert_int_equal(gva_reg_count(reg), 0);
    gva_reg_destroy(reg);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_id),
        cmocka_unit_test(test_window_propose),
        cmocka_unit_test(test_window_conflict),
        cmocka_unit_test(test_window_params),
        cmocka_unit_test(test_translate_bounds),
        cmocka_unit_test(test_leave_rereserves),
        cmocka_unit_test(test_leave_under_load),
        cmocka_unit_test(test_seg_ops_stubs),
        cmocka_unit_test(test_seg_host_hugetlb),
        cmocka_unit_test(test_seg_user_memfd),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_registry_threads),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
