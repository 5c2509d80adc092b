/*
 * space: base agreement, membership records and the worker that keeps
 * the window's rank table in step with the store (see space.h).
 *
 * Desired vs actual state. For each rank the space keeps what the store says
 * (a member record, and whether its liveness key exists) and what the window
 * has (imported or set remote, and which record generation). Watch callbacks
 * only queue events; the worker applies them in order to the desired state
 * and then reconciles the ranks that changed, retrying failed imports with
 * backoff until timeout_ms. The roster (store_roster: watches, then a listing)
 * gives the join snapshot, which fills in ranks that no event has mentioned
 * yet: an event is always newer than the snapshot's view of its rank or equal
 * to it.
 */
#include "space/space.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "store/store_roster.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define SPACE_KEY_MAX (SPACE_NS_MAX + 32u)
#define SPACE_ATTEMPT_MS 2000u /* one import or unmap attempt; the worker then looks at new events */
#define SPACE_RESYNC_MARGIN_MS 500u /* after a restarted store's window: survivors republish within it */
#define SPACE_RETRY_MIN_MS 20u
#define SPACE_RETRY_MAX_MS 1000u


enum { EV_MEMBER_SET = 1, EV_MEMBER_DEL, EV_LIVE_SET, EV_LIVE_DEL };

typedef struct space_ev {
    struct space_ev *next;
    uint8_t type;
    uint32_t rank;
    uint32_t len;
    uint8_t val[];
} space_ev_t;

typedef struct space_peer {
    /* Desired: from events and the join snapshot (under s->lock). */
    space_rec_t *rec; /* published record, NULL when none */
    space_rec_t *stale; /* record of a rank that died: the worker tombstones it in the store */
    bool live;
    bool dirty;
    uint64_t want_since_ms;
    uint64_t retry_at_ms;
    uint32_t tries;
    bool failed;  /* gave up until the next event */
    bool present; /* in the window (read by waiters) */
    /* Actual: the worker's alone. */
    bool have;
    uint64_t have_gen;
} space_peer_t;

struct space {
    store_client_t *store;
    char ns[SPACE_NS_MAX + 1];
    char live_group[STORE_KEY_MAX + 1];
    char member_prefix[SPACE_KEY_MAX];
    char live_prefix[STORE_KEY_MAX + 16];
    char gva_ns[GVA_NS_MAX + 1];
    uint8_t secret[SPACE_SECRET_SIZE]; /* the base record's (set with the window, then constant) */
    gva_kind_t kind;
    uint32_t world_max;
    uint32_t rank;
    uint64_t stride;
    uint64_t local_size;
    uint32_t seg_flags;
    int user_fd;
    uint32_t timeout_ms;
    char tp_addr[SPACE_TP_ADDR_MAX + 1];
    bool force_remote;
    gva_window_t *win;
    gva_host_id_t host;

    bool joined;
    store_roster_t *roster; /* the member and liveness prefixes (joined) */
    uint64_t listen_id;   /* store_group_listen on live_group (0: none) */
    pthread_mutex_t rejoin_mu; /* the reconnect callback vs leave; never held across a store call by leave */
    bool leaving;         /* under rejoin_mu */
    space_rec_t me;  /* our published record (joined) */
    bool lost;            /* our rank went to another member while we were cut off (under lock) */
    uint64_t resync_at_ms; /* after a store restart: re-read the members then (0: none; under lock) */

    pthread_mutex_t lock; /* a leaf: guards the queue, the desired state, present flags */
    pthread_cond_t cv;    /* worker: events or due retries; waiters: presence changes */
    space_ev_t *qhead, *qtail;
    bool stop;
    pthread_t worker;
    bool worker_running;
    uint32_t present_count;
    space_peer_t *peers; /* world_max entries */
};

/* The published space must be the one we were asked to create or join. */
static int32_t space_base_match(const space_t *s, const char *key, const space_base_rec_t *b)
{
    if (b->kind != (uint16_t)s->kind || b->world_max != s->world_max || b->stride != s->stride)
        return util_err_set(SMEM_INVALID_PARAM,
                            "space '%s' exists as %s window of %u x %llu bytes; this rank asks for %s %u x %llu bytes "
                            "(every rank must use the same world size and max size)",
                            key, gva_kind_name((gva_kind_t)b->kind), b->world_max, (unsigned long long)b->stride,
                            gva_kind_name(s->kind), s->world_max, (unsigned long long)s->stride);
    return SMEM_OK;
}

static uint64_t space_random(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
        v = util_now_ns() ^ ((uint64_t)getpid() << 32);
    return v ? v : 1;
}

/* ---------- watch callbacks (store loop thread: queue only) ---------- */

static bool space_parse_rank(const char *key, const char *prefix, uint32_t world_max, uint32_t *rank)
{
    size_t pl = strlen(prefix);
    if (strncmp(key, prefix, pl) != 0) return false;
    const char *d = key + pl;
    if (*d == '\0' || strlen(d) > 4) return false;
    uint32_t v = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9') return false;
        v = v * 10 + (uint32_t)(*d - '0');
    }
    if (v >= world_max) return false;
    *rank = v;
    return true;
}

static void space_on_event(void *arg, store_roster_kind_t kind, const char *key, const uint8_t *val,
                                uint32_t len)
{
    space_t *s = arg;
    uint32_t rank;
    uint8_t type;
    bool set = kind == STORE_ROSTER_SET;
    if (space_parse_rank(key, s->member_prefix, s->world_max, &rank))
        type = set ? EV_MEMBER_SET : EV_MEMBER_DEL;
    else if (s->live_prefix[0] && space_parse_rank(key, s->live_prefix, s->world_max, &rank))
        type = set ? EV_LIVE_SET : EV_LIVE_DEL;
    else
        return; /* a key under the prefix that is not ours (e.g. a rank beyond world_max) */
    uint32_t keep = type == EV_MEMBER_SET ? len : 0;
    if (keep > SPACE_REC_FIXED + SPACE_TP_ADDR_MAX) keep = SPACE_REC_FIXED + SPACE_TP_ADDR_MAX + 1;
    space_ev_t *e = malloc(sizeof(*e) + keep);
    if (e == NULL) {
        LOG_ERROR("space %s: out of memory queueing the event of '%s'; rank %u may stay stale", s->ns, key, rank);
        return;
    }
    e->next = NULL;
    e->type = type;
    e->rank = rank;
    e->len = keep;
    if (keep) memcpy(e->val, val, keep);
    pthread_mutex_lock(&s->lock);
    if (s->qtail) s->qtail->next = e;
    else s->qhead = e;
    s->qtail = e;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->lock);
}

/* ---------- desired state (under s->lock) ---------- */

static void space_mark_locked(space_t *s, uint32_t rank)
{
    space_peer_t *p = &s->peers[rank];
    p->dirty = true;
    p->failed = false;
    p->tries = 0;
    p->retry_at_ms = 0;
    p->want_since_ms = util_now_ms();
}

static void space_set_rec_locked(space_t *s, uint32_t rank, space_rec_t *rec)
{
    free(s->peers[rank].rec);
    s->peers[rank].rec = rec;
    space_mark_locked(s, rank);
}

/* A member record from the store: decoded, checked against its key; NULL (and a log line) if unusable. */
static space_rec_t *space_rec_from(const space_t *s, uint32_t rank, const uint8_t *val, uint32_t len)
{
    space_rec_t *r = malloc(sizeof(*r));
    if (r == NULL) {
        LOG_ERROR("space %s: out of memory for rank %u's record", s->ns, rank);
        return NULL;
    }
    int32_t rc = space_rec_decode(val, len, r);
    if (rc == SMEM_OK && (r->rank != rank || r->size == 0 || r->size > s->stride))
        rc = util_err_set(SMEM_PROTOCOL, "record says rank %u, %llu bytes (stride %llu)", r->rank,
                          (unsigned long long)r->size, (unsigned long long)s->stride);
    if (rc != SMEM_OK) {
        LOG_WARN("space %s: ignoring rank %u's member record: %s", s->ns, rank, util_err_get());
        free(r);
        return NULL;
    }
    return r;
}

static void space_apply_locked(space_t *s, space_ev_t *e)
{
    space_peer_t *p = &s->peers[e->rank];
    if (e->rank == s->rank) {
        if (e->type == EV_LIVE_DEL)
            LOG_WARN("space %s: the store dropped our own liveness key (rank %u): the connection was lost, peers "
                     "will unmap us",
                     s->ns, s->rank);
        return;
    }
    switch (e->type) {
    case EV_MEMBER_SET: /* an empty value is a tombstone left for a rank that died */
        space_set_rec_locked(s, e->rank, e->len ? space_rec_from(s, e->rank, e->val, e->len) : NULL);
        break;
    case EV_MEMBER_DEL:
        if (p->rec != NULL) LOG_INFO("space %s: rank %u left", s->ns, e->rank);
        space_set_rec_locked(s, e->rank, NULL);
        break;
    case EV_LIVE_SET:
        p->live = true;
        space_mark_locked(s, e->rank);
        break;
    case EV_LIVE_DEL:
        /* Its record is stale now: a successor taking the rank publishes its own. */
        if (p->rec != NULL) {
            LOG_INFO("space %s: rank %u died (its store connection closed)", s->ns, e->rank);
            free(p->stale);
            p->stale = p->rec;
            p->rec = NULL;
        }
        p->live = false;
        space_mark_locked(s, e->rank);
        break;
    default: break;
    }
}

static void space_set_present_locked(space_t *s, uint32_t rank, bool present)
{
    if (s->peers[rank].present == present) return;
    s->peers[rank].present = present;
    if (present) s->present_count++;
    else s->present_count--;
    pthread_cond_broadcast(&s->cv);
}

/* ---------- worker ---------- */

/* Bring rank's window state to what the store says. Runs without the lock. */
static void space_reconcile(space_t *s, uint32_t rank)
{
    space_peer_t *p = &s->peers[rank];
    space_rec_t want;
    bool wanted;
    uint64_t since;
    uint32_t tries;

    pthread_mutex_lock(&s->lock);
    wanted = p->rec != NULL && p->live;
    if (wanted) want = *p->rec;
    since = p->want_since_ms;
    tries = p->tries;
    p->dirty = false;
    pthread_mutex_unlock(&s->lock);

    int32_t rc = SMEM_OK;
    if (p->have && (!wanted || p->have_gen != want.gen)) {
        rc = gva_window_unmap_rank(s->win, rank, SPACE_ATTEMPT_MS);
        if (rc == SMEM_OK || rc == SMEM_PEER_GONE) {
            p->have = false;
            rc = SMEM_OK;
            pthread_mutex_lock(&s->lock);
            space_set_present_locked(s, rank, false);
            pthread_mutex_unlock(&s->lock);
        }
    }
    if (rc == SMEM_OK && wanted && !p->have) {
        bool same_host = !s->force_remote && gva_host_id_equal(&want.host, &s->host);
        if (same_host)
            rc = gva_window_import_peer(s->win, rank, want.gen, SPACE_ATTEMPT_MS);
        else
            rc = gva_window_set_remote(s->win, rank, want.size, &want.host);
        if (rc == SMEM_OK) {
            p->have = true;
            p->have_gen = want.gen;
            LOG_DEBUG("space %s: rank %u %s (%llu bytes)", s->ns, rank,
                      same_host ? "imported" : s->force_remote ? "is treated as remote" : "is on another host",
                      (unsigned long long)want.size);
        }
    }
    pthread_mutex_lock(&s->lock);
    if (rc == SMEM_OK) {
        space_set_present_locked(s, rank, p->have);
        p->failed = false;
    } else if (!p->dirty) { /* no newer event: retry this one later, or give up */
        uint64_t now = util_now_ms();
        if (now - since >= s->timeout_ms) {
            LOG_WARN("space %s: giving up on rank %u after %u attempts in %llu ms: %s", s->ns, rank, tries + 1,
                     (unsigned long long)(now - since), util_err_get());
            p->failed = true;
            pthread_cond_broadcast(&s->cv);
        } else {
            uint32_t backoff = SPACE_RETRY_MIN_MS << (tries < 6 ? tries : 6);
            p->tries = tries + 1;
            p->retry_at_ms = now + (backoff < SPACE_RETRY_MAX_MS ? backoff : SPACE_RETRY_MAX_MS);
            p->dirty = true;
            LOG_DEBUG("space %s: rank %u: %s; retrying", s->ns, rank, util_err_get());
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static void space_key(const space_t *s, uint32_t rank, char *key, size_t cap)
{
    snprintf(key, cap, "%s%u", s->member_prefix, rank);
}

/* A dead rank's record would make later joiners wait for it: replace it by an
 * empty value, unless its successor has already published a new one (CAS). */
static void space_tombstone(space_t *s, uint32_t rank, space_rec_t *stale)
{
    uint8_t old[SPACE_REC_FIXED + SPACE_TP_ADDR_MAX];
    char key[SPACE_KEY_MAX];
    uint32_t n = space_rec_encode(stale, old, sizeof(old));
    space_key(s, rank, key, sizeof(key));
    uint8_t *cur = NULL;
    uint32_t cur_len = 0;
    int32_t rc = store_cas(s->store, key, old, n, "", 0, &cur, &cur_len);
    free(cur);
    if (rc != SMEM_OK && rc != SMEM_CAS_MISMATCH)
        LOG_DEBUG("space %s: tombstone of rank %u's record: %s", s->ns, rank, util_err_get());
    free(stale);
}

static int32_t space_snapshot(space_t *s, const char *prefix, bool member, bool *seen);

/* After a restart of the store its watches say nothing of the keys it lost:
 * once the survivors had their recovery window to come back, read the
 * members and liveness keys again and forget the ranks that did not return. */
static void space_resync(space_t *s)
{
    bool *rec_seen = calloc(s->world_max, sizeof(bool)), *live_seen = calloc(s->world_max, sizeof(bool));
    int32_t rc = rec_seen && live_seen ? SMEM_OK : SMEM_MALLOC_FAILED;
    if (rc == SMEM_OK && s->live_prefix[0]) rc = space_snapshot(s, s->live_prefix, false, live_seen);
    if (rc == SMEM_OK) rc = space_snapshot(s, s->member_prefix, true, rec_seen);
    if (rc != SMEM_OK) {
        LOG_WARN("space %s: re-reading the members after the store restarted: %s; retrying", s->ns, util_err_get());
        pthread_mutex_lock(&s->lock);
        s->resync_at_ms = util_now_ms() + SPACE_RETRY_MAX_MS;
        pthread_mutex_unlock(&s->lock);
    } else {
        pthread_mutex_lock(&s->lock);
        for (uint32_t r = 0; r < s->world_max; r++) {
            space_peer_t *p = &s->peers[r];
            if (r == s->rank) continue;
            bool gone_live = s->live_prefix[0] && !live_seen[r] && p->live;
            bool gone_rec = !rec_seen[r] && p->rec != NULL;
            if (!gone_live && !gone_rec) continue;
            LOG_INFO("space %s: rank %u did not come back after the store restarted", s->ns, r);
            if (gone_live) p->live = false;
            if (gone_rec) space_set_rec_locked(s, r, NULL);
            space_mark_locked(s, r);
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->lock);
    }
    free(rec_seen);
    free(live_seen);
}

static void *space_worker(void *arg)
{
    space_t *s = arg;
    uint32_t *due = malloc(s->world_max * sizeof(*due));
    if (due == NULL) {
        LOG_ERROR("space %s: out of memory starting the membership worker", s->ns);
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        while (s->qhead != NULL) {
            space_ev_t *e = s->qhead;
            s->qhead = e->next;
            if (s->qhead == NULL) s->qtail = NULL;
            space_apply_locked(s, e);
            free(e);
        }
        for (uint32_t r = 0; r < s->world_max; r++) {
            space_rec_t *stale = s->peers[r].stale;
            if (stale == NULL) continue;
            s->peers[r].stale = NULL;
            pthread_mutex_unlock(&s->lock);
            space_tombstone(s, r, stale);
            pthread_mutex_lock(&s->lock);
        }
        uint64_t now = util_now_ms(), next = UINT64_MAX;
        if (s->resync_at_ms != 0 && s->resync_at_ms <= now) {
            s->resync_at_ms = 0;
            pthread_mutex_unlock(&s->lock);
            space_resync(s);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        if (s->resync_at_ms != 0) next = s->resync_at_ms;
        uint32_t n = 0;
        for (uint32_t r = 0; r < s->world_max; r++) {
            space_peer_t *p = &s->peers[r];
            if (!p->dirty || r == s->rank) continue;
            if (p->retry_at_ms <= now) due[n++] = r;
            else if (p->retry_at_ms < next) next = p->retry_at_ms;
        }
        if (n == 0) {
            if (next == UINT64_MAX) {
                pthread_cond_wait(&s->cv, &s->lock);
            } else {
                struct timespec ts = util_abstime_after_ms((int64_t)(next - now));
                pthread_cond_timedwait(&s->cv, &s->lock, &ts);
            }
            continue;
        }
        pthread_mutex_unlock(&s->lock);
        for (uint32_t i = 0; i < n; i++) space_reconcile(s, due[i]);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    free(due);
    return NULL;
}

/* ---------- create / destroy ---------- */

static int32_t space_cfg_check(const space_cfg_t *c)
{
    if (c == NULL || c->store == NULL || c->ns == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "space: NULL config, store or namespace");
    size_t nl = strlen(c->ns);
    if (nl == 0 || nl > SPACE_NS_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "space namespace of %zu bytes not in 1..%u", nl, SPACE_NS_MAX);
    if (c->live_group != NULL && (c->live_group[0] == '\0' || strlen(c->live_group) > STORE_KEY_MAX - 32))
        return util_err_set(SMEM_INVALID_PARAM, "space liveness group is empty or too long");
    if (c->world_max == 0 || c->world_max > GVA_WORLD_MAX || c->rank >= c->world_max)
        return util_err_set(SMEM_INVALID_PARAM, "space %s: rank %u of world %u (world 1..%u)", c->ns, c->rank,
                            c->world_max, GVA_WORLD_MAX);
    if (c->stride == 0 || c->stride % GVA_ALIGN != 0 || c->local_size == 0 || c->local_size > c->stride)
        return util_err_set(SMEM_INVALID_PARAM,
                            "space %s: local size %llu, stride %llu (need 0 < local <= stride, stride a multiple of "
                            "%llu)",
                            c->ns, (unsigned long long)c->local_size, (unsigned long long)c->stride,
                            (unsigned long long)GVA_ALIGN);
    if (c->kind != GVA_KIND_HOST)
        return util_err_set(SMEM_UNSUPPORTED, "space %s: %s windows need CUDA; this build has none", c->ns,
                            gva_kind_name(c->kind));
    if (c->tp_addr != NULL && strlen(c->tp_addr) > SPACE_TP_ADDR_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "space %s: transport address longer than %u bytes", c->ns,
                            SPACE_TP_ADDR_MAX);
    return SMEM_OK;
}

/* Reserve the published base, or publish ours (first store_cas wins). The
 * exporter namespace comes from the record's token, so it is set before the
 * window is proposed or reserved. */
static int32_t space_agree_base(space_t *s)
{
    char key[SPACE_KEY_MAX];
    snprintf(key, sizeof(key), "%s/base", s->ns);
    gva_window_cfg_t wc = {.kind = s->kind, .world_max = s->world_max, .local_rank = s->rank, .stride = s->stride,
                           .ns = s->gva_ns};
    uint8_t *cur = NULL;
    uint32_t cur_len = 0;
    space_base_rec_t b;
    int32_t rc = store_get(s->store, key, 0, &cur, &cur_len);
    if (rc == SMEM_OBJECT_NOT_EXISTS) {
        gva_window_t *mine = NULL;
        uint64_t token = space_random();
        snprintf(s->gva_ns, sizeof(s->gva_ns), "s%016" PRIx64, token);
        b = (space_base_rec_t){.kind = (uint16_t)s->kind, .world_max = s->world_max, .stride = s->stride,
                               .token = token};
        if (getrandom(b.secret, sizeof(b.secret), 0) != (ssize_t)sizeof(b.secret))
            return util_err_set(SMEM_ERROR, "space %s: no random bytes for the cluster secret: %s", s->ns,
                                strerror(errno));
        rc = gva_window_propose(&wc, &mine);
        if (rc != SMEM_OK) return rc;
        b.base = gva_window_base(mine);
        uint8_t rec[SPACE_BASE_SIZE];
        space_base_encode(&b, rec);
        rc = store_cas(s->store, key, NULL, 0, rec, sizeof(rec), &cur, &cur_len);
        if (rc == SMEM_OK) {
            s->win = mine;
            memcpy(s->secret, b.secret, sizeof(s->secret));
            LOG_INFO("space %s: published base 0x%llx (%u x %llu bytes)", s->ns, (unsigned long long)b.base,
                     s->world_max, (unsigned long long)s->stride);
            return SMEM_OK;
        }
        gva_window_destroy(mine); /* lost the race (or the store failed) */
        if (rc != SMEM_CAS_MISMATCH) return rc;
        if (cur == NULL) return util_err_set(SMEM_PROTOCOL, "space %s: base CAS lost to an absent value", s->ns);
    } else if (rc != SMEM_OK) {
        return rc;
    }
    rc = space_base_decode(key, cur, cur_len, &b);
    free(cur);
    if (rc != SMEM_OK) return rc;
    rc = space_base_match(s, key, &b);
    if (rc != SMEM_OK) return rc;
    snprintf(s->gva_ns, sizeof(s->gva_ns), "s%016" PRIx64, b.token);
    memcpy(s->secret, b.secret, sizeof(s->secret));
    rc = gva_window_reserve(&wc, b.base, &s->win);
    if (rc != SMEM_OK) {
        char why[512];
        snprintf(why, sizeof(why), "%s", util_err_get());
        return util_err_set(rc, "space %s: cannot reserve the published base: %s", s->ns, why);
    }
    return SMEM_OK;
}

static int32_t space_verify_base(space_t *s);

/* Our record again, under a new incarnation: peers tombstone the old one
 * (CAS on its bytes), and a new generation means a new exporter name. */
static void space_republish(space_t *s)
{
    space_rec_t me;
    pthread_mutex_lock(&s->lock);
    me = s->me;
    pthread_mutex_unlock(&s->lock);
    me.gen = space_random();
    gva_export_stop(s->win);
    int32_t rc = gva_export_start(s->win, me.gen);
    if (rc != SMEM_OK) {
        LOG_ERROR("space %s: rank %u: restarting the exporter after the reconnect: %s", s->ns, s->rank, util_err_get());
        return;
    }
    uint8_t rec[SPACE_REC_FIXED + SPACE_TP_ADDR_MAX];
    uint32_t rec_len = space_rec_encode(&me, rec, sizeof(rec));
    char key[SPACE_KEY_MAX];
    space_key(s, s->rank, key, sizeof(key));
    rc = store_set(s->store, key, rec, rec_len);
    if (rc != SMEM_OK) {
        LOG_ERROR("space %s: rank %u: publishing our record again: %s", s->ns, s->rank, util_err_get());
        return;
    }
    pthread_mutex_lock(&s->lock);
    s->me = me;
    pthread_mutex_unlock(&s->lock);
    LOG_WARN("space %s: rank %u published again after the reconnect (peers import it anew)", s->ns, s->rank);
}

static void space_on_rank_event_joined(space_t *s, const store_group_event_t *ev);

/* Reconnect thread (store_group_cb_t): our rank came back or is lost. */
static void space_on_rank_event(void *arg, const store_group_event_t *ev)
{
    space_t *s = arg;
    if (ev->rank != s->rank) return;
    if (ev->restarted) {
        /* The restarted store lost our reference and maybe the base record. */
        char key[SPACE_KEY_MAX];
        snprintf(key, sizeof(key), "%s/refs", s->ns);
        if (store_add(s->store, key, 1, NULL) != SMEM_OK)
            LOG_WARN("space %s: counting our reference again: %s", s->ns, util_err_get());
        if (ev->regained && space_verify_base(s) != SMEM_OK)
            LOG_ERROR("space %s: the base record after the store restarted: %s", s->ns, util_err_get());
    }
    pthread_mutex_lock(&s->rejoin_mu);
    if (!s->joined || s->leaving) {
        pthread_mutex_unlock(&s->rejoin_mu);
        return;
    }
    space_on_rank_event_joined(s, ev);
    pthread_mutex_unlock(&s->rejoin_mu);
}

static void space_on_rank_event_joined(space_t *s, const store_group_event_t *ev)
{
    if (!ev->regained) {
        pthread_mutex_lock(&s->lock);
        s->lost = true;
        pthread_mutex_unlock(&s->lock);
        LOG_ERROR("space %s: rank %u now belongs to another member (this process was cut off from the store past "
                  "the keepalive and its rank was taken); copies fail until the process takes a new rank",
                  s->ns, s->rank);
        return;
    }
    space_republish(s);
    if (ev->restarted) {
        pthread_mutex_lock(&s->lock);
        s->resync_at_ms = util_now_ms() + ev->recovery_left_ms + SPACE_RESYNC_MARGIN_MS;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->lock);
    }
}

bool space_lost(space_t *s)
{
    if (s == NULL) return false;
    pthread_mutex_lock(&s->lock);
    bool v = s->lost;
    pthread_mutex_unlock(&s->lock);
    return v;
}

/* The space's keys belong to its members (registered before the first write, so none is ever open): each
 * rank's record to its holder (others may only tombstone it), the base record is written once (a survivor
 * re-publishes the same bytes after a store restart; the last one out deletes it), the reference count is
 * every member's. */
static int32_t space_own(space_t *s)
{
    char key[SPACE_KEY_MAX];
    int32_t rc = store_group_own(s->store, s->live_group, s->member_prefix, STORE_OWN_RANK);
    snprintf(key, sizeof(key), "%s/base", s->ns);
    if (rc == SMEM_OK) rc = store_group_own(s->store, s->live_group, key, STORE_OWN_ONCE);
    snprintf(key, sizeof(key), "%s/refs", s->ns);
    if (rc == SMEM_OK) rc = store_group_own(s->store, s->live_group, key, STORE_OWN_GROUP);
    return rc;
}

int32_t space_create(const space_cfg_t *cfg, space_t **out)
{
    int32_t rc = space_cfg_check(cfg);
    if (rc != SMEM_OK) return rc;
    if (out == NULL) return util_err_set(SMEM_INVALID_PARAM, "space: out is NULL");
    space_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return util_err_set(SMEM_MALLOC_FAILED, "space: out of memory");
    s->peers = calloc(cfg->world_max, sizeof(*s->peers));
    if (s->peers == NULL) {
        free(s);
        return util_err_set(SMEM_MALLOC_FAILED, "space: out of memory for %u ranks", cfg->world_max);
    }
    s->store = cfg->store;
    snprintf(s->ns, sizeof(s->ns), "%s", cfg->ns);
    snprintf(s->member_prefix, sizeof(s->member_prefix), "%s/member/", cfg->ns);
    if (cfg->live_group != NULL) {
        snprintf(s->live_group, sizeof(s->live_group), "%s", cfg->live_group);
        snprintf(s->live_prefix, sizeof(s->live_prefix), "%s/__live/", cfg->live_group);
    }
    s->kind = cfg->kind;
    s->world_max = cfg->world_max;
    s->rank = cfg->rank;
    s->stride = cfg->stride;
    s->local_size = cfg->local_size;
    s->seg_flags = cfg->seg_flags;
    s->user_fd = cfg->user_fd;
    s->force_remote = cfg->force_remote;
    s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 120000u;
    if (cfg->tp_addr != NULL) snprintf(s->tp_addr, sizeof(s->tp_addr), "%s", cfg->tp_addr);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->rejoin_mu, NULL);
    pthread_cond_init(&s->cv, NULL);

    rc = gva_host_id_get(&s->host);
    if (rc == SMEM_OK && s->live_group[0] != '\0') rc = space_own(s);
    if (rc != SMEM_OK) goto free_space;
    char key[SPACE_KEY_MAX];
    snprintf(key, sizeof(key), "%s/refs", s->ns);
    rc = store_add(s->store, key, 1, NULL);
    if (rc != SMEM_OK) goto free_space;
    rc = space_agree_base(s);
    if (rc != SMEM_OK) goto drop_ref;
    if (s->live_group[0] != '\0') {
        rc = store_group_listen(s->store, s->live_group, space_on_rank_event, s, &s->listen_id);
        if (rc != SMEM_OK) {
            gva_window_destroy(s->win);
            goto drop_ref;
        }
    }
    *out = s;
    return SMEM_OK;

drop_ref:
    {
        char why[512];
        snprintf(why, sizeof(why), "%s", util_err_get());
        store_add(s->store, key, -1, NULL);
        util_err_set(rc, "%s", why);
    }
free_space:
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->rejoin_mu);
    pthread_mutex_destroy(&s->lock);
    free(s->peers);
    free(s);
    return rc;
}

void space_destroy(space_t *s)
{
    if (s == NULL) return;
    if (s->listen_id != 0) store_group_unlisten(s->store, s->listen_id);
    if (s->joined && space_leave(s) != SMEM_OK)
        LOG_WARN("space %s: leave during destroy: %s", s->ns, util_err_get());
    char key[SPACE_KEY_MAX];
    int64_t left = -1;
    snprintf(key, sizeof(key), "%s/refs", s->ns);
    /* The last one out deletes the base so a later create may choose another layout. */
    if (store_add(s->store, key, -1, &left) == SMEM_OK && left <= 0) {
        snprintf(key, sizeof(key), "%s/base", s->ns);
        store_delete(s->store, key);
    }
    gva_window_destroy(s->win);
    for (uint32_t r = 0; r < s->world_max; r++) {
        free(s->peers[r].rec);
        free(s->peers[r].stale);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->rejoin_mu);
    pthread_mutex_destroy(&s->lock);
    free(s->peers);
    free(s);
}

/* ---------- join / leave ---------- */

typedef struct space_listing {
    space_t *s;
    const char *prefix;
    bool member;
    bool *seen;
} space_listing_t;

/* One listed key (store_roster_cb_t): applied under s->lock when no event has
 * mentioned it; seen (optional) marks each rank listed. */
static void space_on_listed(void *arg, store_roster_kind_t kind, const char *key, const uint8_t *val,
                                 uint32_t len)
{
    space_listing_t *ls = arg;
    space_t *s = ls->s;
    uint32_t rank;
    if (!space_parse_rank(key, ls->prefix, s->world_max, &rank) || rank == s->rank) return;
    if (ls->seen != NULL && (!ls->member || len > 0)) ls->seen[rank] = true;
    if (kind != STORE_ROSTER_LISTED || (ls->member && len == 0)) return;
    pthread_mutex_lock(&s->lock);
    if (ls->member) {
        space_set_rec_locked(s, rank, space_rec_from(s, rank, val, len));
    } else {
        s->peers[rank].live = true;
        space_mark_locked(s, rank);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->lock);
}

/* Every key under prefix (the member or the liveness prefix) through the roster. */
static int32_t space_snapshot(space_t *s, const char *prefix, bool member, bool *seen)
{
    space_listing_t ls = {.s = s, .prefix = prefix, .member = member, .seen = seen};
    return store_roster_list(s->roster, prefix, space_on_listed, &ls);
}

/* The base record must still describe our window (a full teardown and a
 * re-create elsewhere in between would leave us on a stale layout). */
static int32_t space_verify_base(space_t *s)
{
    char key[SPACE_KEY_MAX];
    snprintf(key, sizeof(key), "%s/base", s->ns);
    uint8_t *cur = NULL;
    uint32_t cur_len = 0;
    space_base_rec_t b;
    int32_t rc = store_get(s->store, key, 0, &cur, &cur_len);
    if (rc == SMEM_OBJECT_NOT_EXISTS) { /* everyone else destroyed theirs: publish ours again */
        uint64_t token = 0;
        if (sscanf(s->gva_ns, "s%" SCNx64, &token) != 1) token = space_random();
        b = (space_base_rec_t){.kind = (uint16_t)s->kind, .world_max = s->world_max, .stride = s->stride,
                               .base = gva_window_base(s->win), .token = token};
        memcpy(b.secret, s->secret, sizeof(b.secret)); /* the members still hold it */
        uint8_t rec[SPACE_BASE_SIZE];
        space_base_encode(&b, rec);
        rc = store_cas(s->store, key, NULL, 0, rec, sizeof(rec), &cur, &cur_len);
        if (rc != SMEM_CAS_MISMATCH) return rc;
    } else if (rc != SMEM_OK) {
        return rc;
    }
    rc = space_base_decode(key, cur, cur_len, &b);
    free(cur);
    if (rc != SMEM_OK) return rc;
    rc = space_base_match(s, key, &b);
    if (rc != SMEM_OK) return rc;
    char tok[GVA_NS_MAX + 1];
    snprintf(tok, sizeof(tok), "s%016" PRIx64, b.token);
    if (b.base != gva_window_base(s->win) || strcmp(tok, s->gva_ns) != 0 ||
        memcmp(b.secret, s->secret, sizeof(b.secret)) != 0)
        return util_err_set(SMEM_ADDR_CONFLICT,
                            "space %s was re-created at base 0x%llx while this object holds 0x%llx-0x%llx; destroy "
                            "and create it again",
                            s->ns, (unsigned long long)b.base, (unsigned long long)gva_window_base(s->win),
                            (unsigned long long)(gva_window_base(s->win) + gva_window_size(s->win)));
    return SMEM_OK;
}

/* Until every rank the snapshot named (live, with a record) is in the window. */
static int32_t space_wait_initial(space_t *s, const bool *initial)
{
    uint64_t deadline = util_now_ms() + s->timeout_ms;
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        uint32_t missing = UINT32_MAX;
        for (uint32_t r = 0; r < s->world_max && missing == UINT32_MAX; r++) {
            const space_peer_t *p = &s->peers[r];
            if (initial[r] && p->rec != NULL && p->live && !p->present) missing = r;
        }
        if (missing == UINT32_MAX) break;
        const space_peer_t *p = &s->peers[missing];
        int64_t left = util_ms_left(deadline);
        if (p->failed || left <= 0) {
            rc = util_err_set(SMEM_TIMEOUT, "space %s: rank %u (a current member) could not be imported within %u ms",
                              s->ns, missing, s->timeout_ms);
            break;
        }
        struct timespec ts = util_abstime_after_ms(left);
        pthread_cond_timedwait(&s->cv, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void space_unwatch(space_t *s)
{
    store_roster_close(s->roster);
    s->roster = NULL;
}

static void space_worker_stop(space_t *s)
{
    if (!s->worker_running) return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->worker, NULL);
    s->worker_running = false;
}

/* After the worker stopped: unmap every peer, forget the desired state. */
static void space_reset_peers(space_t *s)
{
    while (s->qhead != NULL) {
        space_ev_t *e = s->qhead;
        s->qhead = e->next;
        free(e);
    }
    s->qtail = NULL;
    for (uint32_t r = 0; r < s->world_max; r++) {
        space_peer_t *p = &s->peers[r];
        if (p->have && r != s->rank) {
            int32_t rc = gva_window_unmap_rank(s->win, r, s->timeout_ms);
            if (rc != SMEM_OK && rc != SMEM_PEER_GONE)
                LOG_WARN("space %s: unmapping rank %u: %s", s->ns, r, util_err_get());
        }
        free(p->rec);
        free(p->stale);
        memset(p, 0, sizeof(*p));
    }
    s->present_count = 0;
}

int32_t space_join(space_t *s)
{
    if (s == NULL) return util_err_set(SMEM_INVALID_PARAM, "space join: NULL space");
    if (s->joined) return util_err_set(SMEM_REPEAT_CALL, "space %s: rank %u already joined", s->ns, s->rank);
    gva_seg_t *seg = NULL;
    bool *initial = NULL;
    char key[SPACE_KEY_MAX];
    int32_t rc = s->user_fd >= 0 ? gva_seg_import(&gva_seg_host_ops, s->user_fd, s->local_size, &seg)
                                 : gva_seg_create(&gva_seg_host_ops, s->local_size, s->seg_flags, &seg);
    if (rc != SMEM_OK) return rc;
    rc = gva_window_attach_local(s->win, seg);
    if (rc != SMEM_OK) {
        gva_seg_destroy(seg);
        return rc;
    }
    space_rec_t me = {.rank = s->rank, .gen = space_random(), .size = s->local_size, .host = s->host,
                           .tp_addr_len = (uint16_t)strlen(s->tp_addr)};
    memcpy(me.tp_addr, s->tp_addr, me.tp_addr_len);
    rc = gva_export_start(s->win, me.gen);
    if (rc != SMEM_OK) goto unmap_self;
    rc = space_verify_base(s);
    if (rc != SMEM_OK) goto stop_export;
    initial = calloc(s->world_max, sizeof(*initial));
    if (initial == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "space %s: out of memory", s->ns);
        goto stop_export;
    }

    pthread_mutex_lock(&s->lock);
    s->stop = false;
    s->peers[s->rank].present = true;
    s->present_count = 1;
    pthread_mutex_unlock(&s->lock);
    if (pthread_create(&s->worker, NULL, space_worker, s) != 0) {
        rc = util_err_set(SMEM_NEW_OBJECT_FAILED, "space %s: cannot start the membership worker", s->ns);
        goto reset;
    }
    s->worker_running = true;

    /* Watches first, then our record, then the snapshot: nothing slips between. */
    const char *prefixes[2] = {s->member_prefix, s->live_prefix};
    rc = store_roster_open(s->store, prefixes, s->live_prefix[0] ? 2 : 1, space_on_event, s, &s->roster);
    if (rc != SMEM_OK) goto stop_worker;
    pthread_mutex_lock(&s->lock);
    s->me = me;
    s->lost = false;
    pthread_mutex_unlock(&s->lock);
    uint8_t rec[SPACE_REC_FIXED + SPACE_TP_ADDR_MAX];
    uint32_t rec_len = space_rec_encode(&me, rec, sizeof(rec));
    space_key(s, s->rank, key, sizeof(key));
    rc = store_set(s->store, key, rec, rec_len);
    if (rc != SMEM_OK) goto stop_worker;
    if (s->live_prefix[0]) {
        rc = space_snapshot(s, s->live_prefix, false, NULL);
        if (rc != SMEM_OK) goto delete_record;
    } else {
        pthread_mutex_lock(&s->lock); /* no liveness group: records alone decide */
        for (uint32_t r = 0; r < s->world_max; r++) s->peers[r].live = true;
        pthread_mutex_unlock(&s->lock);
    }
    rc = space_snapshot(s, s->member_prefix, true, NULL);
    if (rc != SMEM_OK) goto delete_record;
    pthread_mutex_lock(&s->lock);
    for (uint32_t r = 0; r < s->world_max; r++) initial[r] = r != s->rank && s->peers[r].rec && s->peers[r].live;
    pthread_mutex_unlock(&s->lock);
    rc = space_wait_initial(s, initial);
    if (rc != SMEM_OK) goto delete_record;
    free(initial);
    s->joined = true;
    LOG_INFO("space %s: rank %u joined (%llu bytes at 0x%llx, %u ranks present)", s->ns, s->rank,
             (unsigned long long)s->local_size, (unsigned long long)space_slot(s, s->rank),
             space_present_count(s));
    return SMEM_OK;

delete_record:
    {
        char why[512];
        snprintf(why, sizeof(why), "%s", util_err_get());
        store_delete(s->store, key);
        util_err_set(rc, "%s", why);
    }
stop_worker:
    space_worker_stop(s); /* first: its resync lists through the roster */
    space_unwatch(s);
reset:
    space_reset_peers(s);
    free(initial);
stop_export:
    gva_export_stop(s->win);
unmap_self:
    {
        char why[512];
        snprintf(why, sizeof(why), "%s", util_err_get());
        gva_window_unmap_rank(s->win, s->rank, s->timeout_ms);
        util_err_set(rc, "%s", why);
    }
    return rc;
}

int32_t space_leave(space_t *s)
{
    if (s == NULL) return util_err_set(SMEM_INVALID_PARAM, "space leave: NULL space");
    if (!s->joined) return util_err_set(SMEM_NOT_STARTED, "space %s: rank %u has not joined", s->ns, s->rank);
    pthread_mutex_lock(&s->rejoin_mu); /* waits for a reconnect callback in flight */
    s->leaving = true;
    pthread_mutex_unlock(&s->rejoin_mu);
    char key[SPACE_KEY_MAX];
    space_key(s, s->rank, key, sizeof(key));
    int32_t rc = store_delete(s->store, key); /* peers start unmapping us */
    if (rc != SMEM_OK && rc != SMEM_OBJECT_NOT_EXISTS)
        LOG_WARN("space %s: deleting our record: %s (peers notice when our liveness key goes)", s->ns, util_err_get());
    space_worker_stop(s); /* first: its resync lists through the roster */
    space_unwatch(s);
    space_reset_peers(s);
    gva_export_stop(s->win);
    s->joined = false;
    pthread_mutex_lock(&s->rejoin_mu);
    s->leaving = false;
    pthread_mutex_unlock(&s->rejoin_mu);
    /* Waits for our own copies in flight, then puts PROT_NONE back over our slot. */
    rc = gva_window_unmap_rank(s->win, s->rank, s->timeout_ms);
    if (rc != SMEM_OK && rc != SMEM_PEER_GONE) return rc;
    LOG_INFO("space %s: rank %u left", s->ns, s->rank);
    return SMEM_OK;
}

/* ---------- transport addresses ---------- */

int32_t space_set_tp_addr(space_t *s, const char *addr)
{
    if (s == NULL || addr == NULL || strlen(addr) > SPACE_TP_ADDR_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "space: transport address NULL or longer than %u bytes",
                            SPACE_TP_ADDR_MAX);
    if (s->joined)
        return util_err_set(SMEM_REPEAT_CALL, "space %s: the transport address is published at join; leave first",
                            s->ns);
    snprintf(s->tp_addr, sizeof(s->tp_addr), "%s", addr);
    return SMEM_OK;
}

int32_t space_peer_tp_addr(space_t *s, uint32_t rank, char *buf, size_t cap)
{
    if (s == NULL || buf == NULL || cap == 0 || rank >= s->world_max)
        return util_err_set(SMEM_INVALID_PARAM, "space: peer address query for rank %u", rank);
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&s->lock);
    const space_rec_t *r = s->peers[rank].rec;
    if (r == NULL || !s->peers[rank].live)
        rc = util_err_set(SMEM_PEER_GONE, "space %s: rank %u has no member record (left or died)", s->ns, rank);
    else if (r->tp_addr_len == 0)
        rc = util_err_set(SMEM_UNSUPPORTED, "space %s: rank %u published no transport address", s->ns, rank);
    else if (r->tp_addr_len >= cap)
        rc = util_err_set(SMEM_INVALID_PARAM, "space %s: rank %u's address needs %u bytes", s->ns, rank,
                          r->tp_addr_len + 1u);
    else
        memcpy(buf, r->tp_addr, (size_t)r->tp_addr_len + 1);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---------- queries ---------- */

gva_window_t *space_window(const space_t *s) { return s->win; }
uint64_t space_base(const space_t *s) { return gva_window_base(s->win); }
const uint8_t *space_secret(const space_t *s) { return s->secret; }
uint64_t space_stride(const space_t *s) { return s->stride; }
uint32_t space_world_max(const space_t *s) { return s->world_max; }
uint32_t space_rank(const space_t *s) { return s->rank; }
uint64_t space_local_size(const space_t *s) { return s->local_size; }
bool space_joined(const space_t *s) { return s->joined; }
uint64_t space_slot(const space_t *s, uint32_t rank) { return gva_window_slot(s->win, rank); }

uint32_t space_present_count(const space_t *s)
{
    space_t *m = (space_t *)s; /* the lock only */
    pthread_mutex_lock(&m->lock);
    uint32_t n = s->present_count;
    pthread_mutex_unlock(&m->lock);
    return n;
}

static int32_t space_wait(space_t *s, const uint32_t *ranks, uint32_t n, bool want, uint32_t timeout_ms)
{
    for (uint32_t i = 0; i < n; i++)
        if (ranks[i] >= s->world_max)
            return util_err_set(SMEM_INVALID_PARAM, "space %s: rank %u >= world %u", s->ns, ranks[i], s->world_max);
    uint64_t deadline = util_now_ms() + timeout_ms;
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        uint32_t bad = UINT32_MAX;
        for (uint32_t i = 0; i < n && bad == UINT32_MAX; i++)
            if (s->peers[ranks[i]].present != want) bad = ranks[i];
        if (bad == UINT32_MAX) break;
        int64_t left = util_ms_left(deadline);
        if (left <= 0) {
            rc = util_err_set(SMEM_TIMEOUT, "space %s: rank %u still %s after %u ms", s->ns, bad,
                              want ? "absent" : "present", timeout_ms);
            break;
        }
        struct timespec ts = util_abstime_after_ms(left);
        pthread_cond_timedwait(&s->cv, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int32_t space_wait_ranks(space_t *s, const uint32_t *ranks, uint32_t n, uint32_t timeout_ms)
{
    if (s == NULL || (ranks == NULL && n > 0)) return util_err_set(SMEM_INVALID_PARAM, "space wait: NULL argument");
    return space_wait(s, ranks, n, true, timeout_ms);
}

int32_t space_wait_gone(space_t *s, uint32_t rank, uint32_t timeout_ms)
{
    if (s == NULL) return util_err_set(SMEM_INVALID_PARAM, "space wait: NULL space");
    return space_wait(s, &rank, 1, false, timeout_ms);
}
