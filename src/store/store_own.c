/*
 * Store server: keys that belong to group members (store.h, store_group_own)
 * and proofs of holding a rank. On the server loop thread.
 *
 * A registration binds a key prefix to a group and a mode; it lasts as long
 * as the server (a restarted server has none: the members' clients send
 * theirs again when they reclaim their ranks). The check runs before every
 * client write and needs no knowledge of what the keys mean: the owner is
 * the rank named by the key (STORE_OWN_RANK) or the member that created it
 * (STORE_OWN_CLAIM, remembered in the key's entry with the member's token,
 * so a member that reconnects and reclaims its rank still owns its keys and
 * a newcomer that takes a freed rank does not inherit them), any member of
 * the group (STORE_OWN_GROUP), or nobody once it exists (STORE_OWN_ONCE:
 * its bytes stay; members may delete it).
 *
 * A restarted server knows no registrations until the survivors send theirs
 * again, which they do right after reclaiming their ranks, inside the
 * recovery window. So while the window is open, a write of a key under no
 * registered prefix is held (its frame copied) and handled when the window
 * ends, against the registrations made by then: a write that reaches a
 * member's key before its member re-registered it is refused like any other.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "store/store_core_int.h"
#include "util/util_log.h"
#include "util/util_status.h"

typedef struct store_own {
    util_link_t node; /* core->owns */
    uint8_t mode;     /* STORE_OWN_RANK or STORE_OWN_CLAIM */
    uint32_t glen, plen;
    char *group;      /* glen bytes, NUL-terminated */
    char prefix[];    /* plen bytes, NUL-terminated */
} store_own_t;

#define KEYFMT(m) (int)((m)->key_len > 200 ? 200 : (m)->key_len), (m)->key

void store_own_fini(store_core_t *c)
{
    while (!util_list_empty(&c->owns)) {
        store_own_t *o = UTIL_CONTAINER_OF(c->owns.next, store_own_t, node);
        util_list_del(&o->node);
        free(o);
    }
    c->nowns = 0;
}

static store_own_t *own_find(store_core_t *c, const char *key, uint32_t klen)
{
    for (util_link_t *n = c->owns.next; n != &c->owns; n = n->next) {
        store_own_t *o = UTIL_CONTAINER_OF(n, store_own_t, node);
        if (o->plen <= klen && memcmp(o->prefix, key, o->plen) == 0) return o;
    }
    return NULL;
}

void store_own_register(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    uint64_t token = 0;
    if (store_coll_peer_rank(c, m->key, m->key_len, p, &token) == UINT32_MAX) {
        store_core_reply_err(c, p, rq, SMEM_NOT_PERMITTED, "GROUP_OWN: this connection holds no rank of group '%.*s'",
                             KEYFMT(m));
        return;
    }
    for (util_link_t *n = c->owns.next; n != &c->owns; n = n->next) {
        store_own_t *o = UTIL_CONTAINER_OF(n, store_own_t, node);
        bool overlap = memcmp(o->prefix, m->after, o->plen < m->after_len ? o->plen : m->after_len) == 0;
        if (!overlap) continue;
        bool same = o->plen == m->after_len && o->mode == m->flags && o->glen == m->key_len &&
                    memcmp(o->group, m->key, m->key_len) == 0;
        if (same) {
            store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
            return;
        }
        store_core_reply_err(c, p, rq, SMEM_DUPLICATED_OBJECT,
                             "GROUP_OWN: prefix '%.*s' overlaps '%s', registered for group '%s' (mode %u)",
                             (int)(m->after_len > 200 ? 200 : m->after_len), m->after, o->prefix, o->group, o->mode);
        return;
    }
    if (c->nowns >= STORE_OWN_MAX) {
        store_core_reply_err(c, p, rq, SMEM_FULL, "GROUP_OWN: %u prefixes are registered already", c->nowns);
        return;
    }
    store_own_t *o = calloc(1, sizeof(*o) + m->after_len + 1 + m->key_len + 1);
    if (o == NULL) {
        store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "GROUP_OWN: out of memory");
        return;
    }
    o->mode = m->flags;
    o->plen = m->after_len;
    o->glen = m->key_len;
    memcpy(o->prefix, m->after, m->after_len);
    o->group = o->prefix + m->after_len + 1;
    memcpy(o->group, m->key, m->key_len);
    util_list_add_tail(&c->owns, &o->node);
    c->nowns++;
    static const char *const whose[] = {
        [STORE_OWN_RANK] = "the rank they name",
        [STORE_OWN_CLAIM] = "the member that created them",
        [STORE_OWN_GROUP] = "every member",
        [STORE_OWN_ONCE] = "nobody once written (members create and delete them)",
    };
    LOG_INFO("store: keys under '%s' belong to %s of group '%s' (registered by %s)", o->prefix, whose[o->mode],
             o->group, p->name);
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
}

/* "<prefix><decimal rank>" → rank; UINT32_MAX when the rest is not a canonical decimal. */
static uint32_t own_key_rank(const store_own_t *o, const store_msg_t *m)
{
    uint32_t n = m->key_len - o->plen;
    const char *d = m->key + o->plen;
    if (n == 0 || n > 4 || (n > 1 && d[0] == '0')) return UINT32_MAX;
    uint32_t r = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') return UINT32_MAX;
        r = r * 10 + (uint32_t)(d[i] - '0');
    }
    return r < STORE_WORLD_MAX ? r : UINT32_MAX;
}

static bool own_is_live_key(const store_msg_t *m)
{
    return m->key_len >= sizeof(STORE_LIVE_INFIX) - 1 &&
           memmem(m->key, m->key_len, STORE_LIVE_INFIX, sizeof(STORE_LIVE_INFIX) - 1) != NULL;
}

/* A tombstone: CAS from the key's exact current bytes to an empty value. */
static bool own_is_tombstone(const store_msg_t *m, const store_kv_t *kv)
{
    return m->type == STORE_MSG_CAS && kv != NULL && m->cmp_present && m->val_len == 0 && kv->len > 0 &&
           m->cmp_len == kv->len && memcmp(m->cmp, kv->val, kv->len) == 0;
}

/* A SET or CAS (already matched) that writes exactly the bytes the key holds. */
static bool own_same_bytes(const store_msg_t *m, const store_kv_t *kv)
{
    return (m->type == STORE_MSG_SET || m->type == STORE_MSG_CAS) && m->val_len == kv->len &&
           (kv->len == 0 || memcmp(m->val, kv->val, kv->len) == 0);
}

static int32_t own_refuse(store_core_t *c, const store_peer_t *p, const store_msg_t *m, const char *why)
{
    c->own_refused++;
    int32_t rc = util_err_set(SMEM_NOT_PERMITTED, "%s of key '%.*s' refused: %s", store_msg_name(m->type), KEYFMT(m),
                              why);
    if (c->own_log_ms == 0 || c->now_ms - c->own_log_ms >= 1000) {
        LOG_WARN("store: refused a write from %s: %s (%llu refused so far)", p->name, util_err_get(),
                 (unsigned long long)c->own_refused);
        c->own_log_ms = c->now_ms;
    }
    return rc;
}

int32_t store_own_check(store_core_t *c, store_peer_t *p, const store_msg_t *m, const store_kv_t *kv, bool *claimed)
{
    *claimed = false;
    if (own_is_live_key(m))
        return own_refuse(c, p, m, kv != NULL && kv->owner != NULL ? "a liveness key, kept by the server for its member"
                                                                   : "liveness keys are the server's to write");
    store_own_t *o = own_find(c, m->key, m->key_len);
    if (o == NULL) return SMEM_OK;
    uint64_t token = 0;
    uint32_t mine = store_coll_peer_rank(c, o->group, o->glen, p, &token);
    if (mine == UINT32_MAX) return own_refuse(c, p, m, "the key belongs to a member and this connection holds no rank of its group");
    char why[160];
    if (o->mode == STORE_OWN_RANK) {
        uint32_t r = own_key_rank(o, m);
        if (r == UINT32_MAX) return own_refuse(c, p, m, "under a rank-owned prefix, a key must end in a rank");
        if (r == mine) {
            *claimed = true;
            return SMEM_OK;
        }
        bool writer_gone = kv == NULL || kv->claim_token == 0 ||
                           store_coll_holder_token(c, o->group, o->glen, r) != kv->claim_token;
        if (own_is_tombstone(m, kv) && writer_gone) {
            *claimed = true;
            return SMEM_OK;
        }
        snprintf(why, sizeof(why), "it belongs to rank %u of group '%s' and this connection holds rank %u", r,
                 o->group, mine);
        return own_refuse(c, p, m, why);
    }
    if (o->mode == STORE_OWN_GROUP) return SMEM_OK;
    if (o->mode == STORE_OWN_ONCE) {
        if (kv == NULL || m->type == STORE_MSG_DELETE || own_same_bytes(m, kv)) return SMEM_OK;
        snprintf(why, sizeof(why), "written once by a member of group '%s': a write must leave its %u bytes as "
                 "they are", o->group, kv->len);
        return own_refuse(c, p, m, why);
    }
    /* STORE_OWN_CLAIM */
    if (kv == NULL || kv->claim_token == 0 || (kv->claim_rank == mine && kv->claim_token == token) ||
        store_coll_holder_token(c, o->group, o->glen, kv->claim_rank) != kv->claim_token) {
        *claimed = true;
        return SMEM_OK;
    }
    snprintf(why, sizeof(why), "it belongs to rank %u of group '%s', which still holds it (this connection holds %u)",
             kv->claim_rank, o->group, mine);
    return own_refuse(c, p, m, why);
}

void store_own_claimed(store_core_t *c, store_peer_t *p, const store_msg_t *m)
{
    store_kv_t *kv = store_map_get(&c->kv, m->key, m->key_len);
    store_own_t *o = own_find(c, m->key, m->key_len);
    if (kv == NULL || o == NULL) return;
    uint64_t token = 0;
    uint32_t mine = store_coll_peer_rank(c, o->group, o->glen, p, &token);
    bool tombstone = m->type == STORE_MSG_CAS && m->val_len == 0 && o->mode == STORE_OWN_RANK &&
                     own_key_rank(o, m) != mine;
    kv->claim_token = tombstone || mine == UINT32_MAX ? 0 : token;
    kv->claim_rank = tombstone || mine == UINT32_MAX ? 0 : mine;
}

/* ---------- writes held by the recovery window ---------- */

#define OWN_HELD_MAX_BYTES (64u << 20)

static bool own_msg_is_write(uint16_t type)
{
    return type == STORE_MSG_SET || type == STORE_MSG_ADD || type == STORE_MSG_CAS || type == STORE_MSG_APPEND ||
           type == STORE_MSG_DELETE;
}

bool store_own_hold(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m,
                    const net_frame_hdr_t *hdr, const uint8_t *body)
{
    if (c->recover_until_ms <= c->now_ms) return false;
    /* Once one of a connection's requests waits, every later one waits behind it: a connection's requests
     * are answered in order (a GET after a held SET reads what the SET wrote, a write to a registered key
     * does not overtake an earlier held one). */
    bool queued = !util_list_empty(&p->pwrites);
    if (!queued && (!own_msg_is_write(m->type) || own_is_live_key(m) || own_find(c, m->key, m->key_len) != NULL))
        return false;
    if (c->held_bytes + hdr->body_len > OWN_HELD_MAX_BYTES) {
        store_core_reply_err(c, p, rq, SMEM_FULL,
                             "%s of '%.*s': the recovery window holds %llu bytes of writes already (at most %u); "
                             "try again in %llu ms",
                             store_msg_name(m->type), KEYFMT(m), (unsigned long long)c->held_bytes,
                             OWN_HELD_MAX_BYTES, (unsigned long long)(c->recover_until_ms - c->now_ms));
        return true;
    }
    store_pwrite_t *pw = malloc(sizeof(*pw) + hdr->body_len);
    if (pw == NULL) {
        store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory holding a %s of '%.*s'",
                             store_msg_name(m->type), KEYFMT(m));
        return true;
    }
    pw->peer = p;
    pw->hdr = *hdr;
    if (hdr->body_len) memcpy(pw->body, body, hdr->body_len);
    util_list_add_tail(&c->pwrites, &pw->node);
    util_list_add_tail(&p->pwrites, &pw->peer_node);
    c->held_bytes += hdr->body_len;
    if (c->nheld++ == 0)
        LOG_INFO("store: writes of keys under no registered prefix wait %llu ms for the recovery window (members "
                 "that survived a restart register the keys they own first; the first: %s of '%.*s' from %s)",
                 (unsigned long long)(c->recover_until_ms - c->now_ms), store_msg_name(m->type), KEYFMT(m), p->name);
    return true;
}

static void own_pwrite_free(store_core_t *c, store_pwrite_t *pw)
{
    util_list_del(&pw->node);
    util_list_del(&pw->peer_node);
    c->held_bytes -= pw->hdr.body_len;
    c->nheld--;
    free(pw);
}

void store_own_release(store_core_t *c)
{
    if (c->nheld > 0) LOG_INFO("store: the recovery window is over; handling the %u writes it held", c->nheld);
    while (!util_list_empty(&c->pwrites)) {
        store_pwrite_t *pw = UTIL_CONTAINER_OF(c->pwrites.next, store_pwrite_t, node);
        store_core_handle(c, pw->peer, &pw->hdr, pw->body);
        own_pwrite_free(c, pw);
    }
}

void store_own_peer_gone(store_core_t *c, store_peer_t *p)
{
    while (!util_list_empty(&p->pwrites))
        own_pwrite_free(c, UTIL_CONTAINER_OF(p->pwrites.next, store_pwrite_t, peer_node));
}

int32_t store_own_rank_verify(store_core_t *c, const char *group, uint32_t rank, const void *challenge,
                              uint32_t len, const uint8_t *proof)
{
    uint32_t glen = (uint32_t)strnlen(group, STORE_GROUP_MAX + 1);
    if (glen == 0 || glen > STORE_GROUP_MAX || len > STORE_CHALLENGE_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "rank proof: group of %u bytes, challenge of %u (limits %u, %u)", glen,
                            len, STORE_GROUP_MAX, STORE_CHALLENGE_MAX);
    uint64_t token = store_coll_holder_token(c, group, glen, rank);
    if (token == 0)
        return util_err_set(SMEM_NOT_PERMITTED, "rank %u of group '%s' is not held by any live member", rank, group);
    uint8_t want[STORE_PROOF_SIZE];
    store_rank_proof(token, group, glen, rank, challenge, len, want);
    if (CRYPTO_memcmp(want, proof, STORE_PROOF_SIZE) != 0)
        return util_err_set(SMEM_NOT_PERMITTED, "the proof does not come from the holder of rank %u of group '%s'",
                            rank, group);
    return SMEM_OK;
}
