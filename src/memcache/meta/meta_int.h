/*
 * Private structures of the MetaService core (meta_core.h). Split by object:
 * meta_table.c (key hash table and, beside it, meta_index.c: the keys in
 * byte order for LIST), meta_seg.c (segments, membership),
 * meta_obj.c (objects, placement, leases, eviction), meta_core.c (peers,
 * dispatch, timers), meta_metrics.c (stats and Prometheus text).
 *
 * Object lifetime: an object is in the table while WRITING or READY. Leaving
 * the table (remove, eviction, unmount without survivors, revoked put) frees
 * its replicas at once unless it is leased; then it becomes REMOVING, sits
 * on core->zombies and is freed when its last lease ends.
 *
 * List membership of obj->link: WRITING → core->writing (deadline order),
 * READY → core->media[medium].lru (head = most recent), REMOVING →
 * core->zombies.
 *
 * Ownership (issue 16): a lease belongs to the owner token of its GET and a
 * WRITING object to the token of its PUT_START, never to a link, so a client
 * that reconnects keeps both, and a link drop ends neither early. A lease
 * keeps, per object, the object's replica-loss count at GET time; a release
 * whose objects lost a replica since (their LocalService left, so a new
 * mount may have handed the space to someone else) answers MMC_LEASE_LOST.
 */
#ifndef META_INT_H
#define META_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcache/meta/meta_core.h"
#include "memcache/meta/meta_heap.h"
#include "util/util_list.h"

struct meta_peer {
    util_link_t node; /* core->peers */
    void *link;
    uint64_t id;
    bool dead; /* send failed: no more answers */
    uint64_t challenge; /* random per link: rank proofs (MOUNT, REMOVE_ALL) are made over it */
    char name[64];
};

typedef struct meta_seg {
    util_link_t node; /* core->segs, mount order */
    meta_peer_t *owner;
    uint32_t rank;
    uint16_t medium;
    uint8_t host[MMC_HOST_ID_SIZE];
    uint64_t gva, size;
    meta_heap_t heap;
} meta_seg_t;

typedef struct meta_rep {
    meta_seg_t *seg;
    uint64_t off;
} meta_rep_t;

/* One allocation: the fields, rep[nslot] (the replicas asked for: their
 * number only shrinks), then the key (meta_obj_key). 80 bytes + 16 per
 * replica + the key: a 1-replica object with a 22-byte key is one 128-byte
 * malloc chunk. */
typedef struct meta_obj {
    struct meta_obj *hnext;
    uint64_t hash;
    util_link_t link;      /* see the header comment */
    uint64_t size;
    uint64_t deadline_ms;  /* WRITING: revoked after this; READY with META_OBJ_SOFT_PIN: the pin ends then */
    uint64_t writer_owner; /* WRITING: the token whose PUT_END finishes it (from any link) */
    meta_peer_t *writer;   /* WRITING: the link of its PUT_START; NULL once that link timed out */
    uint32_t losses;       /* replicas lost to segment detaches, ever (leases compare it) */
    uint32_t leases;       /* live leases naming this object */
    uint8_t state;         /* mmc_state_t */
    uint8_t nrep;          /* replicas held, <= nslot */
    uint8_t nslot;         /* rep[] slots */
    uint8_t flags;         /* META_OBJ_* */
    uint16_t medium;
    uint16_t klen;         /* 1..MMC_KEY_MAX */
    meta_rep_t rep[];      /* nslot slots, then klen key bytes + NUL */
} meta_obj_t;

_Static_assert(sizeof(meta_obj_t) == 80, "meta_obj_t fields");

/* obj->flags. A shadow is an upsert's new version of a READY key, WRITING
 * beside it: in the hash table (not the key index) under the shadow key
 * (the key, a NUL byte, the upsert's owner token as 8 LE bytes; no real key
 * holds a NUL), so it can be neither found nor listed as the key. Its
 * PUT_END drops the live object (leased: REMOVING, readers keep the old
 * bytes) and renames the shadow to the key, READY: one step under the core
 * lock. */
#define META_OBJ_SHADOW 0x01u
#define META_OBJ_SOFT_PIN 0x02u /* evicted only when nothing unpinned can be, or after soft_pin_ttl_ms */
#define META_OBJ_HARD_PIN 0x04u /* never evicted */
#define META_SHADOW_EXTRA 9u    /* NUL + token */

/* The key: klen bytes, NUL-terminated (for logs). */
static inline char *meta_obj_key(const meta_obj_t *o) { return (char *)(uintptr_t)(o->rep + o->nslot); }

typedef struct meta_lease_ref {
    meta_obj_t *obj;
    uint32_t losses; /* obj->losses when the lease was granted */
} meta_lease_ref_t;

typedef struct meta_lease {
    struct meta_lease *hnext; /* core->lease_tab chain */
    util_link_t node;         /* core->leases, expiry order */
    uint64_t owner;           /* the GET's owner token: only it may release */
    uint64_t id;              /* random, non-zero, unique among live leases */
    uint64_t expiry_ms;
    uint32_t n;
    meta_lease_ref_t objs[];
} meta_lease_t;

/* The keys in byte order (meta_index.c): a B+tree of object pointers. */
#define META_LEAF_CAP 62u   /* keys per leaf (a leaf is one 768-byte malloc chunk) */
#define META_INNER_CAP 64u  /* children per inner node */
#define META_INDEX_DEPTH 16u /* levels at most (62 x 32^15 keys) */

typedef struct meta_index {
    void *root; /* a leaf when height is 0 */
    uint32_t height; /* inner levels above the leaves */
    size_t n, leaves, inners;
    uint64_t gen; /* changes whenever a node is split, merged or freed (a meta_index_pos_t goes stale) */
} meta_index_t;

struct meta_inner;
struct meta_leaf;
struct meta_sep;
/* Where a key leads from the root (meta_index.c): the inner nodes and child
 * indexes, the leaf and the separators around it; valid while gen is the
 * index's (a batch finds its keys' places ahead, then inserts there). */
typedef struct meta_index_pos {
    struct meta_inner *node[META_INDEX_DEPTH];
    uint32_t idx[META_INDEX_DEPTH];
    struct meta_leaf *leaf;
    const struct meta_sep *lo, *hi; /* NULL: the leaf is the first / last */
    uint32_t known, cap;
    uint64_t gen;
} meta_index_pos_t;

/* A position in the index; valid while the index is not changed. */
typedef struct meta_index_iter {
    void *path[META_INDEX_DEPTH];
    uint32_t idx[META_INDEX_DEPTH];
    uint32_t height;
    void *leaf; /* NULL: past the end */
    uint32_t pos;
} meta_index_iter_t;

typedef struct meta_table {
    meta_obj_t **b;
    size_t nb; /* power of two */
    size_t n;
    meta_index_t idx; /* the same objects in key order */
} meta_table_t;

typedef struct meta_media {
    uint64_t total, used;
    uint64_t objects; /* READY objects of this medium */
    uint64_t evictions;
    util_link_t lru;
} meta_media_t;

#define META_LAT_BUCKETS 12
extern const double meta_lat_bounds_us[META_LAT_BUCKETS]; /* upper bounds; the last is +Inf */

typedef struct meta_op_stats {
    uint64_t calls, errors, keys;
    uint64_t lat_sum_ns;
    uint64_t lat_bucket[META_LAT_BUCKETS];
} meta_op_stats_t;

struct meta_core {
    meta_core_opts_t opts;
    meta_core_ops_t ops;
    uint64_t instance;
    uint64_t start_ms;
    meta_table_t table;
    util_link_t writing;
    util_link_t zombies;
    util_link_t peers;
    util_link_t segs;
    util_link_t leases;
    meta_lease_t **lease_tab;
    size_t lease_nb; /* power of two */
    uint64_t rnd[32]; /* getrandom batch for lease ids (opts.rand64 unset) */
    uint32_t nrnd;
    uint64_t next_peer_id;
    uint32_t rr;      /* round-robin start for placement */
    uint64_t nsegs, npeers, nwriting, nzombies, nleases;
    meta_media_t media[MMC_MEDIA_COUNT];
    /* counters */
    uint64_t puts, puts_revoked, gets, get_hits, get_misses, removes, evictions, bytes_put, bytes_got;
    uint64_t leases_lost, leases_refused; /* LEASE_RELEASE answered MMC_LEASE_LOST / MMC_LEASE_NOT_OWNER */
    uint64_t refused;                     /* MOUNT/UNMOUNT/REMOVE_ALL answered MMC_NOT_PERMITTED */
    uint64_t refused_log_ms;
    meta_op_stats_t ops_stats[MMC_MSG_COUNT];
    uint64_t bad_requests;
    /* meta_replica.c: copy/move tasks (deadline order) and dropped replicas whose space waits for readers */
    util_link_t copies, dead_reps;
    uint64_t ncopies;
};

static inline uint64_t meta_now(const meta_core_t *c) { return c->opts.clock(c->opts.clock_arg); }
/* 64 random bits (opts.rand64, else getrandom). */
uint64_t meta_core_rand(meta_core_t *c);

/* meta_table.c */
int32_t meta_table_init(meta_table_t *t);
void meta_table_fini(meta_table_t *t);
uint64_t meta_key_hash(const char *key, uint32_t len);
meta_obj_t *meta_table_find(const meta_table_t *t, const char *key, uint32_t len, uint64_t hash);
/* o->hash set. MMC_MALLOC_FAILED (nothing changed) when the index cannot grow; hash growth is best effort. */
int32_t meta_table_insert(meta_table_t *t, meta_obj_t *o, const meta_index_pos_t *pos); /* pos: o's, or NULL */
void meta_table_remove(meta_table_t *t, meta_obj_t *o);
/* o (a copy of old, same key and hash) takes old's place in the table and the index; nothing is allocated. */
void meta_table_replace(meta_table_t *t, const meta_obj_t *old, meta_obj_t *o);
/* A hint only: brings hash's bucket (chain: its first object) towards the cache. */
static inline void meta_table_prefetch(const meta_table_t *t, uint64_t hash, bool chain)
{
    meta_obj_t *const *slot = &t->b[hash & (t->nb - 1)];
    if (!chain)
        __builtin_prefetch(slot);
    else if (*slot != NULL)
        __builtin_prefetch(*slot);
}

/* meta_index.c */
int meta_key_cmp(const char *a, uint32_t al, const char *b, uint32_t bl); /* byte order, shorter first on ties */
int32_t meta_index_init(meta_index_t *x);
void meta_index_fini(meta_index_t *x); /* frees the nodes, not the objects */
/* o's key not indexed yet; pos: where meta_index_prefetch found it (used while current) or NULL.
 * MMC_MALLOC_FAILED: unchanged. */
int32_t meta_index_insert(meta_index_t *x, meta_obj_t *o, const meta_index_pos_t *pos);
void meta_index_remove(meta_index_t *x, const meta_obj_t *o);
/* o (same key as old, old indexed) takes old's place; nothing is allocated. */
void meta_index_replace(meta_index_t *x, const meta_obj_t *old, meta_obj_t *o);
/* Positions it before the first key > key (strict) or >= key; meta_index_next walks from there. */
void meta_index_seek(const meta_index_t *x, const char *key, uint32_t len, bool strict, meta_index_iter_t *it);
meta_obj_t *meta_index_next(meta_index_iter_t *it); /* NULL past the last key */
/* Finds key's place (*pos) and brings its leaf towards the cache. */
void meta_index_prefetch(const meta_index_t *x, const char *key, uint32_t len, meta_index_pos_t *pos);
int32_t meta_index_check(const meta_index_t *x);

/* meta_seg.c */
int32_t meta_seg_mount(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, uint64_t *usable);
int32_t meta_seg_unmount(meta_core_t *c, meta_peer_t *p, uint32_t rank, uint16_t medium, uint32_t *dropped,
                         uint32_t *shrunk);
/* Unmounts seg: replicas on it vanish; objects left without one are dropped. */
void meta_seg_detach(meta_core_t *c, meta_seg_t *seg, uint32_t *dropped, uint32_t *shrunk);
meta_seg_t *meta_seg_find(const meta_core_t *c, uint32_t rank, uint16_t medium);
uint32_t meta_seg_count_peer(const meta_core_t *c, const meta_peer_t *p);
/* Whether r (MOUNT, REMOVE_ALL) proves that p's process holds BM rank r->rank (opts.rank_verify over p's
 * challenge). MMC_OK, or MMC_NOT_PERMITTED with the message set and a WARN naming the link (what: the call). */
int32_t meta_peer_verify(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, const char *what);

/* meta_obj.c */
void meta_obj_put_start(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, util_wbuf_t *w);
void meta_obj_put_end(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, int32_t *st);
void meta_obj_get(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, util_wbuf_t *w);
/* EXIST per key; with MMC_PF_LEASE in r->flags the READY keys get one ownerless lease (expires only). */
void meta_obj_exist(meta_core_t *c, const mmc_req_t *r, int32_t *st);
/* QUERY; with MMC_PF_LEASE as EXIST. Writes the whole response. */
void meta_obj_query(meta_core_t *c, const mmc_req_t *r, util_wbuf_t *w);
/* force: leased objects go too (REMOVING); otherwise they answer MMC_LEASE_NOT_EXPIRED. */
int32_t meta_obj_remove(meta_core_t *c, const mmc_key_ref_t *k, bool force);
/* Without force leased objects stay and are counted in *deferred. */
void meta_obj_remove_all(meta_core_t *c, bool force, uint64_t *removed, uint64_t *deferred);
/* REMOVE_ALL with REGEX: one page (r->limit keys looked at, from past r->after) of the keys matching the
 * pattern r->prefix. *cursor (copied into cur, MMC_KEY_MAX + 1 bytes) is the last key looked at.
 * MMC_INVALID_PARAM (message set) when the pattern does not compile. */
int32_t meta_obj_remove_regex(meta_core_t *c, const mmc_req_t *r, uint64_t *removed, uint64_t *deferred, bool *more,
                              char *cur, uint32_t *curlen);
meta_lease_t *meta_lease_find(const meta_core_t *c, uint64_t id);
/* LEASE_RELEASE of one id by owner (from link p, for the log): see mmc_proto.h for the answers. */
int32_t meta_lease_release_id(meta_core_t *c, meta_peer_t *p, uint64_t owner, uint64_t id);
/* Takes o out of the table (or the writing list) and frees or parks it. */
void meta_obj_drop(meta_core_t *c, meta_obj_t *o);
/* Frees one replica's space (if its segment is still mounted). */
void meta_rep_release(meta_core_t *c, meta_obj_t *o, uint32_t i);
/* p's link closed. paused (silent past the heartbeat timeout: the writer may
 * be alive and come back): its puts stay until their deadline, finishable by
 * their token; otherwise (EOF, reset: the process is gone) they are revoked.
 * Returns how many puts were kept. */
uint32_t meta_obj_writer_gone(meta_core_t *c, meta_peer_t *p, bool paused);
void meta_obj_expire(meta_core_t *c, uint64_t now);
/* Evicts READY, unleased objects of medium m from the LRU tail until its used
 * bytes are at most target; returns bytes freed. With retire_leased, when that
 * is not enough, leased ones are retired too (from the LRU tail, until used
 * minus what retired objects hold reaches target): hidden at once, their
 * space is freed when their leases end (within lease_ttl), so readers that
 * keep every key leased cannot hold a full pool against writers forever. */
uint64_t meta_evict(meta_core_t *c, uint16_t m, uint64_t target, bool retire_leased);
void meta_obj_free_all(meta_core_t *c);
/* Drops a reference taken with o->leases++ outside a lease (a replica task); frees o if it was retired. */
void meta_obj_unref(meta_core_t *c, meta_obj_t *o);

/* meta_replica.c: replica copy / move tasks (REPLICA_START / REPLICA_END) and REPLICA_CLEAR. A task holds
 * its object like a lease (o->leases), so the source replica stays put while the client copies; its target
 * space is allocated in the heaps but not in the object until REPLICA_END publishes it. */
void meta_replica_start(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r, util_wbuf_t *w);
int32_t meta_replica_end(meta_core_t *c, meta_peer_t *p, const mmc_req_t *r);
int32_t meta_replica_clear(meta_core_t *c, uint32_t rank, const mmc_key_ref_t *k);
/* Aborts tasks past their deadline and frees dropped replicas whose readers' leases are over. */
void meta_replica_expire(meta_core_t *c, uint64_t now);
/* seg is being detached: forget the task targets and dropped replicas on it (its heap goes with it). */
void meta_replica_seg_gone(meta_core_t *c, const meta_seg_t *seg);
void meta_replica_free_all(meta_core_t *c);
/* For meta_core_check: heap bytes of medium m held by tasks and dropped replicas; object references held by tasks. */
uint64_t meta_replica_held(const meta_core_t *c, uint16_t m);
uint64_t meta_replica_refs(const meta_core_t *c);

#endif
