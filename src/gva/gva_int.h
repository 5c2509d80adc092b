/*
 * gva internals shared by the window, rank, translate and export files.
 * Nothing outside src/gva includes this.
 *
 * Rank slots are read without locks: an accessor increments `refs`, then
 * reads `state` (both sequentially consistent); a writer that retires a rank
 * stores GVA_RANK_BUSY in `state`, then waits for `refs` to reach zero.
 * Whichever runs second sees the other (Dekker), so no accessor can hold a
 * rank whose mapping is being replaced. Fields other than refs/state are
 * written only while state is ABSENT or BUSY (no accessor can hold the rank)
 * and published by the release store of the new state.
 */
#ifndef GVA_INT_H
#define GVA_INT_H

#include <pthread.h>
#include <stdint.h>

#include "gva/gva.h"

/* Internal state: a transition is in progress; accessors see "gone". */
#define GVA_RANK_BUSY 0x7fu

typedef struct gva_exporter gva_exporter_t;

typedef struct gva_rank {
    uint32_t refs;  /* accessors holding the rank (atomic) */
    uint32_t state; /* gva_rank_state_t or GVA_RANK_BUSY (atomic) */
    uint64_t gen;   /* atomic: bumped on every transition */
    uint64_t size;
    gva_host_id_t host;
    gva_seg_t *seg; /* LOCAL / MAPPED only */
} __attribute__((aligned(64))) gva_rank_t; /* own cache line: accessors of different ranks do not share one */

struct gva_window {
    gva_kind_t kind;
    uint32_t world_max;
    uint32_t local_rank;
    uint64_t base;
    uint64_t stride;
    uint64_t size;
    char ns[GVA_NS_MAX + 1];
    gva_host_id_t host; /* ours, read at creation */
    pthread_mutex_t lock; /* serialises rank transitions and exporter start/stop */
    gva_exporter_t *exporter;
    gva_rank_t *ranks; /* world_max entries */
};

static inline uint32_t gva_rank_state_load(const gva_rank_t *r)
{
    return __atomic_load_n(&r->state, __ATOMIC_SEQ_CST);
}

/* Replace [addr, addr + len) by a fresh PROT_NONE reservation in one mmap
 * call (MAP_FIXED), so the range is never unreserved. */
int32_t gva_vm_rereserve(void *addr, uint64_t len);

/* The built-in backend of `kind` that imports fds (NULL: none yet, e.g. device). */
const gva_seg_ops_t *gva_seg_ops_fd_for_kind(gva_kind_t kind);

/* Process-wide list of live windows, for gva_translate. */
int32_t gva_window_list_add(gva_window_t *w);
void gva_window_list_del(gva_window_t *w);
/* The live window containing gva, or NULL. */
gva_window_t *gva_window_find(uint64_t gva);

/* Abstract socket address of (ns, kind, rank); returns the sockaddr length. */
int32_t gva_export_addr(const char *ns, gva_kind_t kind, uint32_t rank, uint64_t incarnation, void *sun,
                        uint32_t *len_out);

#endif
