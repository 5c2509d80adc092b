/*
 * Store client: groups (join/leave and what a reconnect does to them),
 * barrier and all-gather with per-name sequence numbers, id pools, global
 * exit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_client_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

/* ---------- groups ---------- */

static store_cgroup_t *cgroup_find_locked(store_client_t *c, const char *name)
{
    for (util_link_t *n = c->groups.next; n != &c->groups; n = n->next) {
        store_cgroup_t *g = UTIL_CONTAINER_OF(n, store_cgroup_t, node);
        if (strcmp(g->name, name) == 0) return g;
    }
    return NULL;
}

int32_t store_group_join(store_client_t *c, const char *group, uint32_t world_size, uint32_t want_rank,
                         uint32_t *rank)
{
    store_msg_t m = {.type = STORE_MSG_GROUP_JOIN, .key = group, .world_size = world_size, .rank = want_rank,
                     .token = c ? c->token : 0};
    uint8_t *resp = NULL;
    uint32_t rlen, r = 0;

    if (c == NULL || rank == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_group_join: NULL argument");
    int32_t rc = store_client_name("group", group, STORE_GROUP_MAX, &m.key_len);
    if (rc != 0) return rc;
    store_cgroup_t *g = calloc(1, sizeof(*g) + m.key_len + 1);
    if (g == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store_group_join: out of memory");
    memcpy(g->name, group, m.key_len);

    pthread_mutex_lock(&c->mu);
    store_cgroup_t *old = cgroup_find_locked(c, group);
    bool held = old != NULL && !old->lost;
    uint32_t held_rank = held ? old->rank : 0;
    uint64_t gen = c->gen;
    pthread_mutex_unlock(&c->mu);
    if (held) {
        rc = util_err_set(SMEM_REPEAT_CALL, "store_group_join: this client already holds rank %u of '%s'", held_rank,
                          group);
        goto free_group;
    }
    rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    if (rc == 0) rc = store_resp_u32_decode(resp, rlen, &r);
    if (rc != 0) goto free_group;

    g->rank = r;
    g->world_size = world_size;
    pthread_mutex_lock(&c->mu);
    old = cgroup_find_locked(c, group);
    if (old != NULL) {
        util_list_del(&old->node);
        free(old);
    }
    /* A loss between our request and now freed the rank on the server. */
    g->lost = c->gen != gen;
    util_list_add_tail(&c->groups, &g->node);
    pthread_mutex_unlock(&c->mu);
    free(resp);
    *rank = r;
    return SMEM_OK;

free_group:
    free(resp);
    free(g);
    return rc;
}

int32_t store_group_leave(store_client_t *c, const char *group)
{
    store_msg_t m = {.type = STORE_MSG_GROUP_LEAVE, .key = group};
    if (c == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_group_leave: NULL client");
    int32_t rc = store_client_name("group", group, STORE_GROUP_MAX, &m.key_len);
    if (rc != 0) return rc;

    pthread_mutex_lock(&c->mu);
    store_cgroup_t *g = cgroup_find_locked(c, group);
    if (g != NULL && g->lost) {
        uint32_t r = g->rank;
        util_list_del(&g->node);
        free(g);
        pthread_mutex_unlock(&c->mu);
        return util_err_set(SMEM_RECONNECT, "store_group_leave: rank %u of '%s' was lost when the connection to the "
                            "store was re-established", r, group);
    }
    pthread_mutex_unlock(&c->mu);

    uint8_t *resp;
    uint32_t rlen;
    rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    free(resp);
    if (rc == 0 || rc == SMEM_OBJECT_NOT_EXISTS) {
        pthread_mutex_lock(&c->mu);
        g = cgroup_find_locked(c, group);
        if (g != NULL) {
            util_list_del(&g->node);
            free(g);
        }
        pthread_mutex_unlock(&c->mu);
    }
    return rc;
}

void store_group_on_disconnect(store_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->gen++;
    for (util_link_t *n = c->groups.next; n != &c->groups; n = n->next) {
        store_cgroup_t *g = UTIL_CONTAINER_OF(n, store_cgroup_t, node);
        if (!g->lost) LOG_WARN("store client: rank %u of group '%s' is lost with the connection", g->rank, g->name);
        g->lost = true;
    }
    pthread_mutex_unlock(&c->mu);
}

/* ---------- owned keys and rank proofs ---------- */

static int32_t own_send(store_client_t *c, net_rpc_t *rpc, const char *group, const char *prefix, uint8_t mode)
{
    store_msg_t m = {.type = STORE_MSG_GROUP_OWN, .key = group, .key_len = (uint32_t)strlen(group), .after = prefix,
                     .after_len = (uint32_t)strlen(prefix), .flags = mode};
    uint8_t *resp = NULL;
    uint32_t rlen = 0;
    int32_t rc = rpc != NULL ? store_client_call_rpc(rpc, &m, c->timeout_ms, &resp, &rlen)
                             : store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    free(resp);
    return rc;
}

int32_t store_group_own(store_client_t *c, const char *group, const char *prefix, uint8_t mode)
{
    uint32_t glen, plen;
    if (c == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_group_own: NULL client");
    int32_t rc = store_client_name("group", group, STORE_GROUP_MAX, &glen);
    if (rc == SMEM_OK) rc = store_client_name("prefix", prefix, STORE_KEY_MAX - 16u, &plen);
    if (rc != SMEM_OK) return rc;
    store_cown_t *o = calloc(1, sizeof(*o) + glen + 1 + plen + 1);
    if (o == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store_group_own: out of memory");
    o->mode = mode;
    memcpy(o->group, group, glen);
    o->prefix = o->group + glen + 1;
    memcpy(o->prefix, prefix, plen);
    rc = own_send(c, NULL, group, prefix, mode);
    if (rc != SMEM_OK) {
        free(o);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    bool dup = false;
    for (util_link_t *l = c->owns.next; !dup && l != &c->owns; l = l->next) {
        store_cown_t *x = UTIL_CONTAINER_OF(l, store_cown_t, node);
        dup = strcmp(x->group, group) == 0 && strcmp(x->prefix, prefix) == 0;
    }
    if (!dup) util_list_add_tail(&c->owns, &o->node);
    pthread_mutex_unlock(&c->mu);
    if (dup) free(o);
    return SMEM_OK;
}

/* After group's rank came back: the registrations made for it, again (a restarted server knows none). */
static int32_t own_resend(store_client_t *c, net_rpc_t *rpc, const char *group)
{
    pthread_mutex_lock(&c->mu);
    uint32_t n = 0;
    for (util_link_t *l = c->owns.next; l != &c->owns; l = l->next) n++;
    char **v = n ? calloc(n, sizeof(*v)) : NULL;
    uint8_t *modes = n ? calloc(n, 1) : NULL;
    uint32_t k = 0;
    for (util_link_t *l = c->owns.next; v != NULL && modes != NULL && l != &c->owns; l = l->next) {
        store_cown_t *x = UTIL_CONTAINER_OF(l, store_cown_t, node);
        if (strcmp(x->group, group) != 0 || (v[k] = strdup(x->prefix)) == NULL) continue;
        modes[k++] = x->mode;
    }
    pthread_mutex_unlock(&c->mu);
    int32_t rc = n && (v == NULL || modes == NULL) ? util_err_set(SMEM_MALLOC_FAILED, "out of memory") : SMEM_OK;
    for (uint32_t i = 0; i < k; i++) {
        if (rc == SMEM_OK) rc = own_send(c, rpc, group, v[i], modes[i]);
        free(v[i]);
    }
    free(v);
    free(modes);
    return rc;
}

int32_t store_group_proof(store_client_t *c, const char *group, const void *challenge, uint32_t len, uint32_t *rank,
                          uint8_t proof[STORE_PROOF_SIZE])
{
    uint32_t glen;
    if (c == NULL || rank == NULL || proof == NULL || (challenge == NULL && len != 0))
        return util_err_set(SMEM_INVALID_PARAM, "store_group_proof: NULL argument");
    if (len > STORE_CHALLENGE_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "store_group_proof: challenge of %u bytes, at most %u", len,
                            STORE_CHALLENGE_MAX);
    int32_t rc = store_client_name("group", group, STORE_GROUP_MAX, &glen);
    if (rc != SMEM_OK) return rc;
    pthread_mutex_lock(&c->mu);
    store_cgroup_t *g = cgroup_find_locked(c, group);
    bool held = g != NULL && !g->lost;
    uint32_t r = held ? g->rank : UINT32_MAX;
    pthread_mutex_unlock(&c->mu);
    if (!held)
        return util_err_set(SMEM_OBJECT_NOT_EXISTS, "store_group_proof: this client holds no live rank of '%s'", group);
    store_rank_proof(c->token, group, glen, r, challenge, len, proof);
    *rank = r;
    return SMEM_OK;
}

typedef struct reclaim_item {
    char *group;
    uint32_t rank, world_size;
    int32_t rc;
} reclaim_item_t;

/* Listeners of group, called with listen_mu held (and mu not). */
static void listeners_tell(store_client_t *c, const store_group_event_t *ev)
{
    pthread_mutex_lock(&c->mu);
    uint32_t n = 0;
    for (util_link_t *l = c->listeners.next; l != &c->listeners; l = l->next) n++;
    store_clisten_t **v = n ? malloc(n * sizeof(*v)) : NULL;
    uint32_t k = 0;
    for (util_link_t *l = c->listeners.next; v != NULL && l != &c->listeners; l = l->next) {
        store_clisten_t *L = UTIL_CONTAINER_OF(l, store_clisten_t, node);
        if (strcmp(L->group, ev->group) == 0) v[k++] = L;
    }
    pthread_mutex_unlock(&c->mu);
    /* Unlisten takes listen_mu (held by us), so the entries stay valid. */
    for (uint32_t i = 0; i < k; i++) v[i]->cb(v[i]->arg, ev);
    free(v);
}

void store_group_reclaim(store_client_t *c, net_rpc_t *rpc, bool restarted, uint32_t recovery_left_ms)
{
    pthread_mutex_lock(&c->listen_mu);
    pthread_mutex_lock(&c->mu);
    uint32_t n = 0;
    for (util_link_t *l = c->groups.next; l != &c->groups; l = l->next) n++;
    reclaim_item_t *items = n ? calloc(n, sizeof(*items)) : NULL;
    uint32_t k = 0;
    for (util_link_t *l = c->groups.next; items != NULL && l != &c->groups; l = l->next) {
        store_cgroup_t *g = UTIL_CONTAINER_OF(l, store_cgroup_t, node);
        if (!g->lost || g->world_size == 0) continue;
        items[k] = (reclaim_item_t){.group = strdup(g->name), .rank = g->rank, .world_size = g->world_size};
        if (items[k].group != NULL) k++;
    }
    uint64_t gen = c->gen;
    pthread_mutex_unlock(&c->mu);
    for (uint32_t i = 0; i < k; i++) {
        store_msg_t m = {.type = STORE_MSG_GROUP_JOIN, .key = items[i].group,
                         .key_len = (uint32_t)strlen(items[i].group), .world_size = items[i].world_size,
                         .rank = items[i].rank, .token = c->token, .flags = STORE_JOIN_F_RECLAIM};
        uint8_t *resp = NULL;
        uint32_t rlen = 0, got = UINT32_MAX;
        int32_t rc = store_client_call_rpc(rpc, &m, c->timeout_ms, &resp, &rlen);
        if (rc == SMEM_OK) rc = store_resp_u32_decode(resp, rlen, &got);
        if (rc == SMEM_OK && got != items[i].rank) rc = util_err_set(SMEM_PROTOCOL, "reclaim answered rank %u", got);
        free(resp);
        /* Before anyone may write on the new connection: our records are ours again. */
        if (rc == SMEM_OK && own_resend(c, rpc, items[i].group) != SMEM_OK)
            LOG_ERROR("store client: registering the keys of group '%s' again: %s (the store does not guard them "
                      "until a member registers them again)", items[i].group, util_err_get());
        items[i].rc = rc;
        pthread_mutex_lock(&c->mu);
        for (util_link_t *l = c->groups.next; l != &c->groups; l = l->next) {
            store_cgroup_t *g = UTIL_CONTAINER_OF(l, store_cgroup_t, node);
            if (strcmp(g->name, items[i].group) != 0 || g->rank != items[i].rank) continue;
            if (rc == SMEM_OK && c->gen == gen) g->lost = false;
        }
        pthread_mutex_unlock(&c->mu);
        if (rc == SMEM_OK)
            LOG_WARN("store client: rank %u of group '%s' reclaimed after the reconnect%s", items[i].rank,
                     items[i].group, restarted ? " (the store had restarted)" : "");
        else
            LOG_ERROR("store client: rank %u of group '%s' is lost: %s; this member must join again", items[i].rank,
                      items[i].group, util_err_get());
        store_group_event_t ev = {.group = items[i].group, .rank = items[i].rank, .regained = rc == SMEM_OK,
                                  .restarted = restarted, .recovery_left_ms = recovery_left_ms};
        listeners_tell(c, &ev);
        free(items[i].group);
    }
    free(items);
    pthread_mutex_unlock(&c->listen_mu);
}

int32_t store_group_listen(store_client_t *c, const char *group, store_group_cb_t cb, void *arg, uint64_t *id)
{
    uint32_t glen;
    if (c == NULL || cb == NULL || id == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_group_listen: NULL argument");
    int32_t rc = store_client_name("group", group, STORE_GROUP_MAX, &glen);
    if (rc != 0) return rc;
    store_clisten_t *L = calloc(1, sizeof(*L) + glen + 1);
    if (L == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store_group_listen: out of memory");
    memcpy(L->group, group, glen);
    L->cb = cb;
    L->arg = arg;
    pthread_mutex_lock(&c->mu);
    L->id = ++c->next_listen_id;
    util_list_add_tail(&c->listeners, &L->node);
    pthread_mutex_unlock(&c->mu);
    *id = L->id;
    return SMEM_OK;
}

void store_group_unlisten(store_client_t *c, uint64_t id)
{
    if (c == NULL) return;
    pthread_mutex_lock(&c->listen_mu);
    pthread_mutex_lock(&c->mu);
    for (util_link_t *l = c->listeners.next; l != &c->listeners; l = l->next) {
        store_clisten_t *L = UTIL_CONTAINER_OF(l, store_clisten_t, node);
        if (L->id != id) continue;
        util_list_del(&L->node);
        free(L);
        break;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&c->listen_mu);
}

/* ---------- barrier and all-gather ---------- */

/* "<name>#<seq>" with this client's next sequence number for name. */
static int32_t coll_key(store_client_t *c, const char *name, char *key, uint32_t *key_len)
{
    uint32_t nlen;
    int32_t rc = store_client_name("barrier/all-gather name", name, STORE_NAME_MAX, &nlen);
    if (rc != 0) return rc;
    pthread_mutex_lock(&c->mu);
    uint64_t *seq = store_map_get(&c->seqs, name, nlen);
    if (seq == NULL) {
        seq = calloc(1, sizeof(*seq));
        if (seq == NULL || store_map_insert(&c->seqs, name, nlen, seq, NULL) != 0) {
            pthread_mutex_unlock(&c->mu);
            free(seq);
            return util_err_set(SMEM_MALLOC_FAILED, "store: out of memory for a sequence counter");
        }
    }
    uint64_t s = (*seq)++;
    pthread_mutex_unlock(&c->mu);
    *key_len = (uint32_t)snprintf(key, STORE_KEY_MAX + 1, "%s#%" PRIu64, name, s);
    return SMEM_OK;
}

int32_t store_barrier(store_client_t *c, const char *name, uint32_t count, uint32_t rank, uint32_t timeout_ms)
{
    char key[STORE_KEY_MAX + 1];
    if (c == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_barrier: NULL client");
    if (count == 0 || count > STORE_WORLD_MAX || rank >= count)
        return util_err_set(SMEM_INVALID_PARAM, "store_barrier: rank %u, count %u (count 1..%u, rank below it)", rank,
                            count, STORE_WORLD_MAX);
    if (timeout_ms == 0) timeout_ms = c->timeout_ms;
    store_msg_t m = {.type = STORE_MSG_BARRIER, .key = key, .count = count, .rank = rank, .timeout_ms = timeout_ms};
    int32_t rc = coll_key(c, name, key, &m.key_len);
    if (rc != 0) return rc;
    uint8_t *resp;
    uint32_t rlen;
    rc = store_client_call(c, &m, store_rpc_timeout(timeout_ms), &resp, &rlen);
    free(resp);
    return rc;
}

int32_t store_allgather(store_client_t *c, const char *name, uint32_t count, uint32_t rank, const void *send,
                        uint32_t len, void *recv, uint32_t timeout_ms)
{
    char key[STORE_KEY_MAX + 1];
    if (c == NULL || (send == NULL && len != 0) || (recv == NULL && len != 0))
        return util_err_set(SMEM_INVALID_PARAM, "store_allgather: NULL argument");
    if (count == 0 || count > STORE_WORLD_MAX || rank >= count)
        return util_err_set(SMEM_INVALID_PARAM, "store_allgather: rank %u, count %u (count 1..%u, rank below it)",
                            rank, count, STORE_WORLD_MAX);
    if (len > STORE_GATHER_MAX)
        return util_err_set(SMEM_TOO_LARGE, "store_allgather: %u bytes over the limit of %u", len, STORE_GATHER_MAX);
    if (timeout_ms == 0) timeout_ms = c->timeout_ms;
    store_msg_t m = {.type = STORE_MSG_ALLGATHER, .key = key, .count = count, .rank = rank, .timeout_ms = timeout_ms,
                     .val = send, .val_len = len};
    int32_t rc = coll_key(c, name, key, &m.key_len);
    if (rc != 0) return rc;
    uint8_t *resp;
    uint32_t rlen;
    const uint8_t *all;
    uint32_t all_len;
    rc = store_client_call(c, &m, store_rpc_timeout(timeout_ms), &resp, &rlen);
    if (rc == 0) rc = store_resp_blob_decode(resp, rlen, STORE_FRAME_MAX, &all, &all_len);
    if (rc == 0 && all_len != (uint64_t)count * len)
        rc = util_err_set(SMEM_PROTOCOL, "store_allgather '%s': %u bytes back, want %u x %u", key, all_len, count,
                          len);
    if (rc == 0 && all_len) memcpy(recv, all, all_len);
    free(resp);
    return rc;
}

/* ---------- id pools ---------- */

int32_t store_id_alloc(store_client_t *c, const char *name, uint32_t limit, uint32_t *id)
{
    store_msg_t m = {.type = STORE_MSG_ID_ALLOC, .key = name, .limit = limit};
    uint8_t *resp;
    uint32_t rlen, v = 0;
    if (c == NULL || id == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_id_alloc: NULL argument");
    int32_t rc = store_client_name("pool", name, STORE_KEY_MAX, &m.key_len);
    if (rc != 0) return rc;
    rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    if (rc == 0) rc = store_resp_u32_decode(resp, rlen, &v);
    if (rc == 0) *id = v;
    free(resp);
    return rc;
}

int32_t store_id_release(store_client_t *c, const char *name, uint32_t id)
{
    store_msg_t m = {.type = STORE_MSG_ID_RELEASE, .key = name, .id = id};
    uint8_t *resp;
    uint32_t rlen;
    if (c == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_id_release: NULL client");
    int32_t rc = store_client_name("pool", name, STORE_KEY_MAX, &m.key_len);
    if (rc != 0) return rc;
    rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    free(resp);
    return rc;
}

/* ---------- global exit ---------- */

int32_t store_exit_watch(store_client_t *c, const char *group, store_exit_cb_t cb, void *arg)
{
    store_msg_t m = {.type = STORE_MSG_EXIT_WATCH, .key = group};
    if (c == NULL || cb == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_exit_watch: NULL argument");
    int32_t rc = store_client_name("group", group, STORE_GROUP_MAX, &m.key_len);
    if (rc != 0) return rc;
    store_cexit_t *e = calloc(1, sizeof(*e) + m.key_len + 1);
    if (e == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store_exit_watch: out of memory");
    e->cb = cb;
    e->arg = arg;
    e->glen = m.key_len;
    memcpy(e->group, group, m.key_len);
    pthread_mutex_lock(&c->mu);
    util_list_add_tail(&c->exits, &e->node);
    pthread_mutex_unlock(&c->mu);

    uint8_t *resp;
    uint32_t rlen;
    rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    free(resp);
    if (rc != 0) {
        pthread_mutex_lock(&c->cb_mu);
        pthread_mutex_lock(&c->mu);
        util_list_del(&e->node);
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_unlock(&c->cb_mu);
        free(e);
    }
    return rc;
}

int32_t store_exit_broadcast(store_client_t *c, const char *group, int32_t status)
{
    store_msg_t m = {.type = STORE_MSG_EXIT_BROADCAST, .key = group, .status = status};
    if (c == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_exit_broadcast: NULL client");
    int32_t rc = store_client_name("group", group, STORE_GROUP_MAX, &m.key_len);
    if (rc != 0) return rc;
    uint8_t *resp;
    uint32_t rlen;
    rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    free(resp);
    return rc;
}

/* On the loop thread. cb_mu keeps a failing store_exit_watch from freeing a
 * registration under us; mu is dropped around each callback. */
void store_group_on_exit(store_client_t *c, const store_msg_t *m)
{
    pthread_mutex_lock(&c->cb_mu);
    pthread_mutex_lock(&c->mu);
    for (util_link_t *n = c->exits.next; n != &c->exits; n = n->next) {
        store_cexit_t *e = UTIL_CONTAINER_OF(n, store_cexit_t, node);
        if (e->glen != m->key_len || memcmp(e->group, m->key, m->key_len) != 0) continue;
        store_exit_cb_t cb = e->cb;
        void *arg = e->arg;
        pthread_mutex_unlock(&c->mu);
        cb(arg, m->status);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&c->cb_mu);
}

/* After a reconnect (helper thread): one EXIT_WATCH per distinct group. */
int32_t store_group_reregister(store_client_t *c, net_rpc_t *rpc)
{
    char *groups[64];
    size_t n = 0;
    int32_t rc = SMEM_OK;
    bool more = true;

    /* In rounds of 64 distinct groups so no allocation is needed for the
     * usual handful; registering a group twice is harmless (idempotent). */
    for (size_t skip = 0; more && rc == 0; skip += n) {
        n = 0;
        more = false;
        size_t idx = 0;
        pthread_mutex_lock(&c->mu);
        for (util_link_t *l = c->exits.next; l != &c->exits; l = l->next, idx++) {
            if (idx < skip) continue;
            if (n == 64) {
                more = true;
                break;
            }
            store_cexit_t *e = UTIL_CONTAINER_OF(l, store_cexit_t, node);
            groups[n] = strndup(e->group, e->glen);
            if (groups[n] == NULL) {
                rc = SMEM_MALLOC_FAILED;
                break;
            }
            n++;
        }
        pthread_mutex_unlock(&c->mu);
        for (size_t i = 0; i < n; i++) {
            if (rc == 0) {
                store_msg_t m = {.type = STORE_MSG_EXIT_WATCH, .key = groups[i], .key_len = (uint32_t)strlen(groups[i])};
                uint8_t *resp;
                uint32_t rlen;
                rc = store_client_call_rpc(rpc, &m, c->timeout_ms, &resp, &rlen);
                free(resp);
            }
            free(groups[i]);
        }
    }
    return rc;
}

void store_group_fini(store_client_t *c)
{
    while (!util_list_empty(&c->exits)) {
        util_link_t *n = c->exits.next;
        util_list_del(n);
        free(UTIL_CONTAINER_OF(n, store_cexit_t, node));
    }
    while (!util_list_empty(&c->groups)) {
        util_link_t *n = c->groups.next;
        util_list_del(n);
        free(UTIL_CONTAINER_OF(n, store_cgroup_t, node));
    }
    while (!util_list_empty(&c->listeners)) {
        util_link_t *n = c->listeners.next;
        util_list_del(n);
        free(UTIL_CONTAINER_OF(n, store_clisten_t, node));
    }
    while (!util_list_empty(&c->owns)) {
        util_link_t *n = c->owns.next;
        util_list_del(n);
        free(UTIL_CONTAINER_OF(n, store_cown_t, node));
    }
}
