/*
 * gva: the Global Virtual Address space mechanism (DESIGN.md §4).
 *
 * A *window* is one contiguous virtual range of world_max × stride bytes,
 * reserved PROT_NONE at the same base in every process of a group; rank r's
 * *slot* starts at base + r × stride and only its first `size` bytes are
 * backed. A *segment* is one piece of backing memory (a host memfd today, a
 * CUDA VMM allocation later) behind a gva_seg_ops_t table. Same-host peers
 * pass their segment's fd over an abstract UNIX socket (gva_export_*,
 * gva_window_import_peer) and map it at the peer's slot, so a GVA is a valid
 * pointer for them. Translation turns a GVA into (window, rank, offset) by
 * arithmetic and bounds-checks it against the rank's backed size.
 *
 * This layer knows nothing of the store: rendezvous (publishing the base,
 * host ids and sizes) is the caller's job; bases are verified by reserving
 * them, never assumed.
 *
 * Thread rules
 *  - gva_window_propose/reserve/destroy are not concurrent with any other
 *    call on the same window; destroy only after every user of the window
 *    has stopped (it stops the exporter itself).
 *  - Rank state changes (attach_local, map_peer, set_remote, unmap_rank,
 *    import_peer) may run from any thread; they are serialised by the
 *    window's mutex. unmap_rank is the only call that waits for accessors.
 *  - gva_rank_acquire/release and the translate calls never block and take no
 *    lock on the window: a per-rank atomic reference count plus state word.
 *    They may nest and may be taken in any order (no lock-order rule), but a
 *    thread must not call unmap_rank on a rank it holds (it would wait for
 *    itself until the timeout).
 *  - Locks: each window's mutex, the process-wide window list lock and each
 *    registry's lock are leaves; none is held while taking another.
 *
 * Ownership
 *  - Segments handed to attach_local/map_peer belong to the window from the
 *    moment the call succeeds (destroyed by unmap_rank or window destroy); on
 *    failure the caller still owns them.
 *  - gva_seg_export_fd returns a new fd the caller closes.
 *  - Strings written into caller buffers; nothing returned needs free()
 *    except objects with a paired destroy.
 *
 * Errors: SMEM_* status codes (util/util_status.h); every failure sets the
 * thread's last-error text with the range/rank/offset/sizes involved.
 */
#ifndef GVA_H
#define GVA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GVA_ALIGN (2ull << 20)   /* base and stride granularity: one 2 MiB huge page */
#define GVA_WORLD_MAX 1024u      /* API.md limit on the world size */
#define GVA_NS_MAX 64u           /* bytes of a window namespace string, without NUL */
#define GVA_WINDOW_MAX 32u       /* windows alive at once in one process */

typedef enum gva_kind {
    GVA_KIND_HOST = 0,   /* host DRAM pool */
    GVA_KIND_DEVICE = 1, /* GPU memory pool */
    GVA_KIND_COUNT
} gva_kind_t;

const char *gva_kind_name(gva_kind_t kind); /* "host", "device", "?" */

/* ---- host identity (DESIGN.md §2) ---- */

/* Boot id plus network-namespace inode: processes in different network
 * namespaces are different hosts even on one machine. */
typedef struct gva_host_id {
    uint8_t boot_id[16];
    uint64_t netns_ino;
} gva_host_id_t;

#define GVA_HOST_ID_WIRE_SIZE 24u /* boot_id[16] + netns_ino as u64 LE */
#define GVA_HOST_ID_STR_MAX 64u   /* "<36-char uuid>/net:<ino>" + NUL fits */

/* Reads the current ids (not cached: a process may change namespace). */
int32_t gva_host_id_get(gva_host_id_t *out);
bool gva_host_id_equal(const gva_host_id_t *a, const gva_host_id_t *b);
/* Writes "6dfb408f-...-8b62018389/net:4026531833"; returns buf. */
const char *gva_host_id_format(const gva_host_id_t *id, char *buf, size_t cap);
/* Fixed 24-byte little-endian form for the store and the fd-passing protocol. */
void gva_host_id_pack(const gva_host_id_t *id, uint8_t out[GVA_HOST_ID_WIRE_SIZE]);
void gva_host_id_unpack(const uint8_t in[GVA_HOST_ID_WIRE_SIZE], gva_host_id_t *out);

/* ---- segments: pluggable backing memory ---- */

enum {
    GVA_SEG_F_HUGETLB = 1u << 0, /* create: ask for huge pages; result flag: got them */
};

enum {
    GVA_SEG_CAP_EXPORT_FD = 1u << 0,  /* export/import through a file descriptor */
    GVA_SEG_CAP_CPU_ACCESS = 1u << 1, /* mapped memory is load/store-able by the CPU */
    GVA_SEG_CAP_HUGETLB = 1u << 2,    /* can honour GVA_SEG_F_HUGETLB */
};

typedef struct gva_seg_ops gva_seg_ops_t;

/* Base of every backend's private object (first member, nng/UCX style). */
typedef struct gva_seg {
    const gva_seg_ops_t *ops;
    uint64_t size;      /* backed bytes, a multiple of page_size */
    uint64_t page_size; /* mapping granularity */
    uint32_t flags;     /* GVA_SEG_F_* actually in effect */
    void *addr;         /* where it is mapped, NULL when not */
} gva_seg_t;

/*
 * Backend contract. Every slot is set; unsupported operations point at the
 * gva_seg_no_* stubs. All calls may block briefly in system calls, none
 * waits on peers. Called only through the gva_seg_* wrappers below, which
 * allocate obj_size bytes (zeroed, base filled with ops) and serialise calls
 * on one segment through the window's rules.
 *  create     back `size` bytes (rounded up to the page size); flags GVA_SEG_F_*.
 *  export_fd  a new fd for the backing that a same-host peer can import.
 *  import_fd  adopt the backing of `fd` (the backend dups it; the caller keeps
 *             fd); `size` must not exceed what fd backs.
 *  map        map the whole segment at addr, replacing the window's PROT_NONE
 *             reservation in one step (never leaving the range unreserved).
 *  unmap      replace the mapping by a PROT_NONE reservation in one step.
 *  destroy    release the backing; safe after a failed create/import and on
 *             a segment that is not mapped.
 */
struct gva_seg_ops {
    const char *name;
    gva_kind_t kind;
    uint32_t caps;   /* GVA_SEG_CAP_* */
    size_t obj_size; /* >= sizeof(gva_seg_t) */
    int32_t (*create)(gva_seg_t *seg, uint64_t size, uint32_t flags);
    int32_t (*export_fd)(gva_seg_t *seg, int *fd_out);
    int32_t (*import_fd)(gva_seg_t *seg, int fd, uint64_t size);
    int32_t (*map)(gva_seg_t *seg, void *addr);
    int32_t (*unmap)(gva_seg_t *seg);
    void (*destroy)(gva_seg_t *seg);
};

/* Shared "unsupported" stubs for backends (libfabric fi_no_* style). */
int32_t gva_seg_no_create(gva_seg_t *seg, uint64_t size, uint32_t flags);
int32_t gva_seg_no_export_fd(gva_seg_t *seg, int *fd_out);
int32_t gva_seg_no_import_fd(gva_seg_t *seg, int fd, uint64_t size);
int32_t gva_seg_no_map(gva_seg_t *seg, void *addr);
int32_t gva_seg_no_unmap(gva_seg_t *seg);

/* Host DRAM backend: memfd (MFD_CLOEXEC, MFD_HUGETLB when asked and possible). */
extern const gva_seg_ops_t gva_seg_host_ops;

/* New segment backed by fresh memory. *out is freed with gva_seg_destroy. */
int32_t gva_seg_create(const gva_seg_ops_t *ops, uint64_t size, uint32_t flags, gva_seg_t **out);
/* New segment on existing backing: a peer's fd, or a user memfd (CREATE_WITH_SHM).
 * fd is not consumed. size 0 means "all of it" (the fd's size). */
int32_t gva_seg_import(const gva_seg_ops_t *ops, int fd, uint64_t size, gva_seg_t **out);
/* Unmaps (if mapped) and releases; NULL is a no-op. */
void gva_seg_destroy(gva_seg_t *seg);

static inline int32_t gva_seg_export_fd(gva_seg_t *seg, int *fd_out) { return seg->ops->export_fd(seg, fd_out); }
static inline int32_t gva_seg_map(gva_seg_t *seg, void *addr) { return seg->ops->map(seg, addr); }
static inline int32_t gva_seg_unmap(gva_seg_t *seg) { return seg->ops->unmap(seg); }

/* ---- windows ---- */

typedef struct gva_window gva_window_t;

typedef struct gva_window_cfg {
    gva_kind_t kind;
    uint32_t world_max;  /* 1..GVA_WORLD_MAX slots */
    uint32_t local_rank; /* < world_max */
    uint64_t stride;     /* bytes per slot, a non-zero multiple of GVA_ALIGN */
    /* Names this group's exporter sockets: the same string in every rank,
     * unique per group on a host (e.g. store URL + BM id). 1..GVA_NS_MAX bytes. */
    const char *ns;
} gva_window_cfg_t;

/* Creator: find a free, GVA_ALIGN-aligned range in the high, rarely used part
 * of the address space and keep it reserved. */
int32_t gva_window_propose(const gva_window_cfg_t *cfg, gva_window_t **out);
/* Joiner: reserve exactly [base, base + world_max × stride); SMEM_ADDR_CONFLICT
 * naming the range and the reason when anything is in the way. */
int32_t gva_window_reserve(const gva_window_cfg_t *cfg, uint64_t base, gva_window_t **out);
/* Stops the exporter, unmaps the whole range, destroys the segments. NULL ok. */
void gva_window_destroy(gva_window_t *w);

uint64_t gva_window_base(const gva_window_t *w);
uint64_t gva_window_size(const gva_window_t *w);
uint64_t gva_window_stride(const gva_window_t *w);
uint32_t gva_window_world_max(const gva_window_t *w);
uint32_t gva_window_local_rank(const gva_window_t *w);
gva_kind_t gva_window_kind(const gva_window_t *w);
/* base + rank × stride (0 when rank >= world_max). */
uint64_t gva_window_slot(const gva_window_t *w, uint32_t rank);

/* ---- per-rank table ---- */

typedef enum gva_rank_state {
    GVA_RANK_ABSENT = 0, /* never joined, or left: slot reserved PROT_NONE */
    GVA_RANK_LOCAL,      /* this process's own segment */
    GVA_RANK_MAPPED,     /* a same-host peer's segment mapped at its slot */
    GVA_RANK_REMOTE,     /* another host: slot PROT_NONE, reached by a transport */
} gva_rank_state_t;

const char *gva_rank_state_name(gva_rank_state_t s);

typedef struct gva_rank_info {
    gva_rank_state_t state;
    uint64_t size;      /* backed bytes (<= stride), 0 when absent */
    uint64_t gen;       /* bumped on every state change of this rank */
    gva_host_id_t host; /* zero when absent */
} gva_rank_info_t;

/* Map the caller's own segment at its slot (state LOCAL). seg->size <= stride. */
int32_t gva_window_attach_local(gva_window_t *w, gva_seg_t *seg);
/* Map a same-host peer's segment at its slot (state MAPPED). */
int32_t gva_window_map_peer(gva_window_t *w, uint32_t rank, gva_seg_t *seg, const gva_host_id_t *host);
/* Record a peer on another host (state REMOTE) so translation knows its size. */
int32_t gva_window_set_remote(gva_window_t *w, uint32_t rank, uint64_t size, const gva_host_id_t *host);
/*
 * The peer left or died: wait (up to timeout_ms) until no accessor holds the
 * rank, then put the PROT_NONE reservation back over the slot in one mmap
 * call and release the segment. Later translations give SMEM_PEER_GONE.
 * SMEM_RESOURCE_IN_USE (and the rank unchanged) if accessors stay longer;
 * SMEM_PEER_GONE if the rank is already absent.
 */
int32_t gva_window_unmap_rank(gva_window_t *w, uint32_t rank, uint32_t timeout_ms);
int32_t gva_window_rank_info(const gva_window_t *w, uint32_t rank, gva_rank_info_t *out);
/* The local segment (NULL before attach_local); borrowed, valid while the
 * caller holds gva_rank_acquire on the local rank. */
gva_seg_t *gva_window_local_seg(const gva_window_t *w);

/*
 * Pin a rank while touching its slot (or sending to it): SMEM_PEER_GONE when
 * absent or leaving, else the rank cannot be unmapped until released. Two
 * atomic operations; for every successful acquire exactly one release.
 */
int32_t gva_rank_acquire(gva_window_t *w, uint32_t rank);
void gva_rank_release(gva_window_t *w, uint32_t rank);

/* ---- translation ---- */

typedef struct gva_loc {
    gva_window_t *win;
    uint32_t rank;
    uint64_t offset;        /* from the rank's slot start */
    gva_rank_state_t state; /* LOCAL, MAPPED or REMOTE */
    uint64_t size;          /* rank's backed bytes */
    uint64_t gen;           /* rank generation seen */
    void *ptr;              /* dereferenceable address for LOCAL/MAPPED, else NULL */
} gva_loc_t;

/*
 * [gva, gva + len) → (window, rank, offset), checked against the rank's
 * backed size (len 0 checks the single address). SMEM_OUT_OF_RANGE when the
 * address is in no window, when the range wraps, or when it leaves the
 * rank's backed bytes; SMEM_PEER_GONE when the rank is absent or leaving.
 * gva_translate searches every live window of the process; the result is a
 * snapshot. gva_translate_acquire also pins the rank on success (release with
 * gva_rank_release(out->win, out->rank)); that is what copies use.
 */
int32_t gva_translate(uint64_t gva, uint64_t len, gva_loc_t *out);
int32_t gva_translate_acquire(uint64_t gva, uint64_t len, gva_loc_t *out);
int32_t gva_window_translate(gva_window_t *w, uint64_t gva, uint64_t len, gva_loc_t *out);
/* Whether any byte of [addr, addr + len) (len 0: addr alone) lies in a live
 * window of this process: tells "local memory" apart from "a GVA that does
 * not translate" when gva_translate says SMEM_OUT_OF_RANGE. A snapshot. */
bool gva_range_in_window(uint64_t addr, uint64_t len);

/* ---- same-host fd passing ---- */

/*
 * Serve the local segment to same-host peers on the abstract UNIX socket
 * "\0smem-gva/<ns>/<kind>/<rank>.<incarnation>" (abstract names are per
 * network namespace, which is "same host"). The incarnation (the member
 * record's generation) tells one holder of a rank from the next, so a new
 * member never collides with a paused predecessor that still holds its name. One thread; it answers one request per connection,
 * drops garbage, truncated requests and silent clients (receive timeout) with
 * a WARN, and serves only peers with our uid (or root). Needs attach_local
 * first (else SMEM_NOT_STARTED); SMEM_REPEAT_CALL when already running;
 * SMEM_RESOURCE_IN_USE if another process holds the name.
 */
int32_t gva_export_start(gva_window_t *w, uint64_t incarnation);
/* Joins the thread and closes the socket; no-op when not running. */
void gva_export_stop(gva_window_t *w);

/*
 * Fetch rank's segment from its exporter (that incarnation) and map it at its slot (state
 * MAPPED), retrying the connection until timeout_ms (the peer may still be
 * starting). Validates the reply: kind, rank, size <= stride, page size,
 * host id equal to ours, exactly one fd that backs at least size bytes.
 * Errors: SMEM_CONN_FAILED nobody listening by the deadline (peer gone or not
 * started); SMEM_TIMEOUT no answer; SMEM_PEER_GONE closed without answering;
 * SMEM_PROTOCOL a reply that fails validation; SMEM_DUPLICATED_OBJECT rank
 * already present; otherwise the status the exporter answered.
 */
int32_t gva_window_import_peer(gva_window_t *w, uint32_t rank, uint64_t incarnation, uint32_t timeout_ms);

/* ---- registered user memory outside the pool ---- */

typedef struct gva_reg gva_reg_t;

typedef struct gva_reg_region {
    uint64_t addr;
    uint64_t size;
} gva_reg_region_t;

int32_t gva_reg_create(gva_reg_t **out);
void gva_reg_destroy(gva_reg_t *reg);
/* Same (addr, size) again: SMEM_OK, no change. Any other overlap: SMEM_ADDR_CONFLICT. */
int32_t gva_reg_add(gva_reg_t *reg, uint64_t addr, uint64_t size);
/* SMEM_OBJECT_NOT_EXISTS when no region starts at addr. */
int32_t gva_reg_remove(gva_reg_t *reg, uint64_t addr);
/* The region containing all of [addr, addr + len); SMEM_OUT_OF_RANGE if none. */
int32_t gva_reg_lookup(gva_reg_t *reg, uint64_t addr, uint64_t len, gva_reg_region_t *out);
uint32_t gva_reg_count(gva_reg_t *reg);

#endif
