/*
 * space: one GVA window shared by a dynamic set of ranks, kept in step
 * through the config store. BM builds its host pool on it; SHM builds its
 * symmetric heap on it. It owns the rendezvous that gva leaves to its caller:
 *
 *  - the base: every creator proposes a free range; the first store_cas on
 *    "<ns>/base" (absent -> proposal) wins, the losers drop their proposal
 *    and reserve the winner's range (SMEM_ADDR_CONFLICT naming the range
 *    when they cannot). World size and stride are checked against the
 *    record, never assumed.
 *  - membership: join backs the local slot, starts the fd exporter and
 *    publishes "<ns>/member/<rank>"; it watches the member prefix and the
 *    liveness prefix "<live_group>/__live/" FIRST, then lists the current
 *    members, so no change is missed. Same-host members are imported (their
 *    memfd mapped at their slot), members on other hosts are recorded as
 *    remote. A member that deletes its record (leave) or whose liveness key
 *    goes (death, SIGKILL) is unmapped; later translations of its slot give
 *    SMEM_PEER_GONE. Joins and leaves may happen at any time while others
 *    copy: copies pin ranks (gva_rank_acquire), unmapping waits for them.
 *
 * Store records (little-endian, versioned; codecs in space_rec.c):
 *   <ns>/base          {version, kind, world_max, stride, base, token, secret}
 *   <ns>/member/<r>    {version, rank, generation, size, host id, transport address}
 *   <ns>/refs          decimal count of live space objects (the last destroy deletes base)
 * space_create registers them with the store for live_group before writing
 * any (store_group_own): member records rank-owned, base written once (its
 * bytes never change; members may delete it), refs every member's.
 * The gva exporter namespace is derived from the base record's random token,
 * so two spaces never share socket names even with equal store prefixes.
 *
 * Threads: create/destroy/join/leave are not concurrent with each other on
 * one space (the owner serialises them); everything else may be called from
 * any thread. Each joined space runs one worker thread that applies
 * membership changes; the store's watch callbacks only queue events for it.
 * Lock order: the space lock is taken before no other lock (a leaf); gva and
 * store calls are made without it.
 */
#ifndef SPACE_H
#define SPACE_H

#include <stdbool.h>
#include <stdint.h>

#include "gva/gva.h"
#include "space/space_rec.h"
#include "store/store.h"

#define SPACE_NS_MAX 256u /* bytes of a store prefix */

typedef struct space space_t;

typedef struct space_cfg {
    store_client_t *store;  /* borrowed; outlives the space */
    const char *ns;         /* store prefix, e.g. "smem/bm/3/host"; 1..SPACE_NS_MAX bytes, no '\0' */
    const char *live_group; /* store group whose liveness keys mark ranks alive ("smem") */
    gva_kind_t kind;
    uint32_t world_max;     /* slots, 1..GVA_WORLD_MAX */
    uint32_t rank;          /* ours, < world_max; our rank in live_group */
    uint64_t stride;        /* non-zero multiple of GVA_ALIGN */
    uint64_t local_size;    /* bytes we back, 1..stride */
    uint32_t seg_flags;     /* GVA_SEG_F_HUGETLB */
    int user_fd;            /* >= 0: back our slot with this memfd (not consumed, must hold local_size); -1: fresh */
    uint32_t timeout_ms;    /* create and join: store calls, imports of the initial members */
    const char *tp_addr;    /* transport address published in our member record (NULL: none yet) */
    bool force_remote;      /* treat same-host members as remote (reached by a transport; SMEM_FORCE_REMOTE) */
} space_cfg_t;

/* Agree on the base and reserve the window (nothing backed yet). */
int32_t space_create(const space_cfg_t *cfg, space_t **out);
/* Leaves if joined, releases the window. NULL is a no-op. */
void space_destroy(space_t *s);

/*
 * Back our slot, export it, publish our record and import every current
 * member (waiting up to timeout_ms for the same-host ones to answer). After
 * SMEM_OK, members that join later are imported in the background (see
 * space_wait_ranks). SMEM_REPEAT_CALL when already joined.
 */
int32_t space_join(space_t *s);
/* Delete our record (peers unmap us), stop exporting, unmap every peer and
 * our own slot (waiting for copies in flight). SMEM_NOT_STARTED if not joined. */
int32_t space_leave(space_t *s);

/*
 * Store reconnects (store_group_listen on live_group): when our rank is
 * reclaimed we publish our record again under a new generation (and
 * exporter name); after a store restart we also count our reference and
 * re-publish the base if it is gone, and re-read the members once the
 * restarted store's recovery window is over. When the rank could not be
 * reclaimed (another member holds it now) the space is lost: true here, and
 * the owner must give the rank up (destroy, uninit) and join with a new one.
 */
bool space_lost(space_t *s);

/* Replace the transport address our record will carry (before join). */
int32_t space_set_tp_addr(space_t *s, const char *addr);
/* The transport address in rank's current member record, NUL-terminated into
 * buf. SMEM_PEER_GONE when it has no record or is not live, SMEM_UNSUPPORTED
 * when it published none. Any thread; takes the space lock briefly. */
int32_t space_peer_tp_addr(space_t *s, uint32_t rank, char *buf, size_t cap);

gva_window_t *space_window(const space_t *s);
uint64_t space_base(const space_t *s);
/* The cluster secret of the base record (SPACE_SECRET_SIZE bytes, constant
 * for the object's life): the data channel's credential. */
const uint8_t *space_secret(const space_t *s);
uint64_t space_stride(const space_t *s);
uint32_t space_world_max(const space_t *s);
uint32_t space_rank(const space_t *s);
uint64_t space_local_size(const space_t *s);
bool space_joined(const space_t *s);
/* base + rank × stride, the same in every process (0 when rank >= world_max). */
uint64_t space_slot(const space_t *s, uint32_t rank);

/* Ranks currently present in our window (us included, once joined). */
uint32_t space_present_count(const space_t *s);
/*
 * Wait until each of the n ranks listed is present (mapped, remote or
 * ourselves), or until timeout_ms. SMEM_TIMEOUT names the first missing
 * rank. Useful for collective creates (SHM) and tests.
 */
int32_t space_wait_ranks(space_t *s, const uint32_t *ranks, uint32_t n, uint32_t timeout_ms);
/* Wait until rank is absent (left, died, or never joined), or timeout_ms. */
int32_t space_wait_gone(space_t *s, uint32_t rank, uint32_t timeout_ms);

#endif
