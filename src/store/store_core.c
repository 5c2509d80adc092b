/*
 * Store server core: peers, request dispatch, the key table, blocking GETs
 * and watches. Group/collective/id/exit handling is in store_coll.c.
 */
#include "store/store_core_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/util_buf.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

typedef struct store_watch {
    util_link_t peer_node;
    util_link_t key_node; /* in its wexact list or in core->wprefix */
    store_peer_t *peer;
    store_map_ent_t *ent;  /* exact watch: its wexact entry (for removal) */
    uint64_t id;
    bool prefix;
    uint32_t klen;
    char key[];
} store_watch_t;

typedef struct store_getw {
    util_link_t peer_node;
    util_link_t key_node;
    util_link_t all_node;
    store_peer_t *peer;
    store_map_ent_t *ent; /* its getq entry */
    store_rq_t rq;
    uint64_t deadline_ms;
} store_getw_t;

/* ---------- sending ---------- */

/* Sends body, or the shared buffer sh when it is not NULL (len bytes of it). */
static void core_send_any(store_core_t *c, store_peer_t *p, uint8_t flags, uint16_t type, uint64_t req_id,
                          int32_t status, const void *body, net_shbuf_t *sh, uint32_t len)
{
    if (c->quiet || p->broken) return;
    net_frame_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.flags = flags;
    h.type = type;
    h.req_id = req_id;
    h.status = status;
    int32_t rc;
    if (sh != NULL && c->ops.send_shared != NULL) rc = c->ops.send_shared(p->link, &h, sh, len);
    else rc = c->ops.send(p->link, &h, sh != NULL ? net_shbuf_data(sh) : body, len);
    if (rc != 0) {
        /* A lost push would break the in-order event contract, so the
         * connection goes rather than silently skipping a frame. */
        LOG_WARN("store: cannot send %s (%u bytes) to %s: %s; closing the connection", store_msg_name(type), len,
                 p->name, util_strerror(rc));
        p->broken = true;
        c->ops.close(p->link);
    }
}

static void core_send(store_core_t *c, store_peer_t *p, uint8_t flags, uint16_t type, uint64_t req_id,
                      int32_t status, const void *body, uint32_t len)
{
    core_send_any(c, p, flags, type, req_id, status, body, NULL, len);
}

void store_core_reply(store_core_t *c, store_peer_t *p, const store_rq_t *rq, int32_t status, const void *body,
                      uint32_t len)
{
    if (rq->oneway) return;
    core_send(c, p, NET_FLAG_RESPONSE, rq->type, rq->req_id, status, body, len);
}

void store_core_reply_shared(store_core_t *c, store_peer_t *p, const store_rq_t *rq, net_shbuf_t *body, uint32_t len)
{
    if (rq->oneway) return;
    core_send_any(c, p, NET_FLAG_RESPONSE, rq->type, rq->req_id, SMEM_OK, NULL, body, len);
}

static void reply_msg(store_core_t *c, store_peer_t *p, const store_rq_t *rq, int32_t status, const char *msg)
{
    uint8_t buf[STORE_BLOB_HDR + STORE_ERRMSG_MAX];
    size_t n = strnlen(msg, STORE_ERRMSG_MAX);
    util_put_le32(buf, (uint32_t)n);
    memcpy(buf + STORE_BLOB_HDR, msg, n);
    LOG_DEBUG("store: %s from %s failed: %s", store_msg_name(rq->type), p->name, msg);
    store_core_reply(c, p, rq, status, buf, (uint32_t)(STORE_BLOB_HDR + n));
}

void store_core_reply_err(store_core_t *c, store_peer_t *p, const store_rq_t *rq, int32_t status, const char *fmt,
                          ...)
{
    char msg[STORE_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_msg(c, p, rq, status, msg);
}

void store_core_push(store_core_t *c, store_peer_t *p, uint16_t type, const void *body, uint32_t len)
{
    core_send(c, p, NET_FLAG_PUSH, type, 0, 0, body, len);
}

/* ---------- watches ---------- */

/* One event body shared by every watcher: only the watch id differs, patched
 * in place, so a 16 MiB value is encoded once however many watch it. */
static void notify(store_core_t *c, uint8_t ev, const char *key, uint32_t klen, const uint8_t *val, uint32_t len)
{
    util_link_t *exact = store_map_get(&c->wexact, key, klen);
    bool any = exact != NULL;
    for (util_link_t *n = c->wprefix.next; !any && n != &c->wprefix; n = n->next) {
        store_watch_t *w = UTIL_CONTAINER_OF(n, store_watch_t, key_node);
        any = w->klen <= klen && memcmp(w->key, key, w->klen) == 0;
    }
    if (!any || c->quiet) return;

    util_wbuf_t wb;
    util_wbuf_init(&wb);
    store_msg_t m = {.type = STORE_MSG_EVENT, .event = ev, .key = key, .key_len = klen, .val = val, .val_len = len};
    if (store_msg_encode(&m, &wb) != 0) {
        LOG_ERROR("store: cannot encode the %s event of '%s' (%u bytes): %s", ev == STORE_EV_SET ? "SET" : "DELETE",
                  key, len, util_err_get());
        goto free_buf;
    }
    if (exact != NULL) {
        for (util_link_t *n = exact->next; n != exact; n = n->next) {
            store_watch_t *w = UTIL_CONTAINER_OF(n, store_watch_t, key_node);
            util_put_le64(wb.p + STORE_PROLOGUE_SIZE, w->id);
            store_core_push(c, w->peer, STORE_MSG_EVENT, wb.p, (uint32_t)wb.len);
        }
    }
    for (util_link_t *n = c->wprefix.next; n != &c->wprefix; n = n->next) {
        store_watch_t *w = UTIL_CONTAINER_OF(n, store_watch_t, key_node);
        if (w->klen > klen || memcmp(w->key, key, w->klen) != 0) continue;
        util_put_le64(wb.p + STORE_PROLOGUE_SIZE, w->id);
        store_core_push(c, w->peer, STORE_MSG_EVENT, wb.p, (uint32_t)wb.len);
    }
free_buf:
    util_wbuf_fini(&wb);
}

static void watch_free(store_core_t *c, store_watch_t *w)
{
    util_list_del(&w->peer_node);
    util_list_del(&w->key_node);
    if (!w->prefix && util_list_empty((util_link_t *)w->ent->val)) {
        free(w->ent->val);
        store_map_remove(&c->wexact, w->key, w->klen);
    }
    c->nwatches--;
    free(w);
}

static store_watch_t *watch_find(store_peer_t *p, uint64_t id)
{
    for (util_link_t *n = p->watches.next; n != &p->watches; n = n->next) {
        store_watch_t *w = UTIL_CONTAINER_OF(n, store_watch_t, peer_node);
        if (w->id == id) return w;
    }
    return NULL;
}

static void h_watch(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    if (watch_find(p, m->watch_id) != NULL) {
        store_core_reply_err(c, p, rq, SMEM_DUPLICATED_OBJECT, "watch id %" PRIu64 " already registered",
                             m->watch_id);
        return;
    }
    store_watch_t *w = calloc(1, sizeof(*w) + m->key_len + 1);
    if (w == NULL) goto fail_nomem;
    w->peer = p;
    w->id = m->watch_id;
    w->prefix = m->prefix;
    w->klen = m->key_len;
    memcpy(w->key, m->key, m->key_len);
    if (m->prefix) {
        util_list_add_tail(&c->wprefix, &w->key_node);
    } else {
        store_map_ent_t *e = store_map_find(&c->wexact, m->key, m->key_len);
        if (e == NULL) {
            util_link_t *head = malloc(sizeof(*head));
            if (head == NULL) goto free_watch;
            util_list_init(head);
            if (store_map_insert(&c->wexact, m->key, m->key_len, head, &e) != 0) {
                free(head);
                goto free_watch;
            }
        }
        w->ent = e;
        util_list_add_tail((util_link_t *)e->val, &w->key_node);
    }
    util_list_add_tail(&p->watches, &w->peer_node);
    c->nwatches++;
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
    return;

free_watch:
    free(w);
fail_nomem:
    store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for a watch");
}

static void h_unwatch(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_watch_t *w = watch_find(p, m->watch_id);
    if (w == NULL) {
        store_core_reply_err(c, p, rq, SMEM_OBJECT_NOT_EXISTS, "no watch with id %" PRIu64, m->watch_id);
        return;
    }
    watch_free(c, w);
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
}

/* ---------- blocking GET waiters ---------- */

static void getw_free(store_core_t *c, store_getw_t *g)
{
    util_list_del(&g->peer_node);
    util_list_del(&g->key_node);
    util_list_del(&g->all_node);
    if (util_list_empty((util_link_t *)g->ent->val)) {
        free(g->ent->val);
        store_map_remove(&c->getq, g->ent->key, g->ent->klen);
    }
    c->ngetw--;
    free(g);
}

static uint8_t *blob_encode(const void *val, uint32_t len, uint32_t *out_len)
{
    uint8_t *b = malloc((size_t)len + STORE_BLOB_HDR);
    if (b == NULL) return NULL;
    util_put_le32(b, len);
    if (len) memcpy(b + STORE_BLOB_HDR, val, len);
    *out_len = len + STORE_BLOB_HDR;
    return b;
}

static void wake_getters(store_core_t *c, const char *key, uint32_t klen, const store_kv_t *kv)
{
    util_link_t *head = store_map_get(&c->getq, key, klen);
    if (head == NULL) return;
    uint32_t blen = 0;
    uint8_t *b = blob_encode(kv->val, kv->len, &blen);
    while (!util_list_empty(head)) {
        store_getw_t *g = UTIL_CONTAINER_OF(head->next, store_getw_t, key_node);
        bool last = g->key_node.next == head;
        if (b != NULL)
            store_core_reply(c, g->peer, &g->rq, SMEM_OK, b, blen);
        else
            store_core_reply_err(c, g->peer, &g->rq, SMEM_MALLOC_FAILED, "out of memory for a %u byte answer",
                                 kv->len);
        getw_free(c, g); /* frees head with the last waiter */
        if (last) break;
    }
    free(b);
}

/* ---------- keys ---------- */

static void kv_free(void *v)
{
    store_kv_t *kv = v;
    if (kv == NULL) return;
    free(kv->val);
    free(kv);
}

static void kv_changed(store_core_t *c, const char *key, uint32_t klen, const store_kv_t *kv)
{
    notify(c, STORE_EV_SET, key, klen, kv->val, kv->len);
    wake_getters(c, key, klen, kv);
}

#define STORE_KV_OVERHEAD 64u /* per key: the map entry and store_kv_t, roughly */

/* Whether the data may grow by delta bytes; SMEM_FULL with the numbers otherwise (liveness keys, owner != NULL,
 * always fit: they are tiny and one per member). */
static int32_t kv_room(store_core_t *c, int64_t delta, const store_peer_t *owner)
{
    if (delta <= 0 || c->data_max == 0 || owner != NULL || c->data_bytes + (uint64_t)delta <= c->data_max)
        return SMEM_OK;
    return util_err_set(SMEM_FULL, "the store holds %llu bytes of keys and values; %lld more would pass its limit of "
                        "%llu", (unsigned long long)c->data_bytes, (long long)delta, (unsigned long long)c->data_max);
}

int32_t store_core_kv_put(store_core_t *c, const char *key, uint32_t klen, const void *val, uint32_t len,
                          store_peer_t *owner)
{
    store_kv_t *kv = store_map_get(&c->kv, key, klen);
    int64_t delta = (int64_t)len - (kv != NULL ? (int64_t)kv->cap : -(int64_t)(klen + STORE_KV_OVERHEAD));
    int32_t rc = kv_room(c, delta, owner);
    if (rc != SMEM_OK) return rc;
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) return util_err_set(SMEM_MALLOC_FAILED, "out of memory for a %u byte value", len);
    if (len) memcpy(copy, val, len);
    if (kv == NULL) {
        kv = calloc(1, sizeof(*kv));
        if (kv == NULL || store_map_insert(&c->kv, key, klen, kv, NULL) != 0) {
            free(kv);
            free(copy);
            return util_err_set(SMEM_MALLOC_FAILED, "out of memory for key of %u bytes", klen);
        }
    }
    free(kv->val);
    kv->val = copy;
    kv->len = kv->cap = len;
    kv->owner = owner;
    if (delta < 0 && (uint64_t)-delta > c->data_bytes) c->data_bytes = 0;
    else c->data_bytes += (uint64_t)delta;
    kv_changed(c, key, klen, kv);
    return SMEM_OK;
}

int32_t store_core_kv_del(store_core_t *c, const char *key, uint32_t klen)
{
    store_kv_t *kv = store_map_remove(&c->kv, key, klen);
    if (kv == NULL) return SMEM_OBJECT_NOT_EXISTS;
    uint64_t cost = (uint64_t)kv->cap + klen + STORE_KV_OVERHEAD;
    c->data_bytes -= cost < c->data_bytes ? cost : c->data_bytes;
    kv_free(kv);
    notify(c, STORE_EV_DELETE, key, klen, NULL, 0);
    return SMEM_OK;
}

/* A write refused for room: the caller's answer carries the message; the log says who, once a second. */
static void kv_full_log(store_core_t *c, const store_peer_t *p)
{
    c->full_refused++;
    if (c->now_ms - c->full_log_ms < 1000) return;
    LOG_WARN("store: refused a write from %s: %s (%llu refused so far)", p->name, util_err_get(),
             (unsigned long long)c->full_refused);
    c->full_log_ms = c->now_ms;
}

/* Whether p may make the write m: liveness keys are the server's, keys under a registered prefix their
 * member's (store_own.c). Refused: answered here. *claimed: call store_own_claimed after the write. */
static bool kv_refused(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m,
                       store_kv_t **out, bool *claimed)
{
    store_kv_t *kv = store_map_get(&c->kv, m->key, m->key_len);
    *out = kv;
    if (store_own_check(c, p, m, kv, claimed) == SMEM_OK) return false;
    store_core_reply_err(c, p, rq, SMEM_NOT_PERMITTED, "%s", util_err_get());
    return true;
}

static void h_set(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_kv_t *kv;
    bool claimed;
    if (kv_refused(c, p, rq, m, &kv, &claimed)) return;
    int32_t rc = store_core_kv_put(c, m->key, m->key_len, m->val, m->val_len, NULL);
    if (rc != 0) {
        if (rc == SMEM_FULL) kv_full_log(c, p);
        store_core_reply_err(c, p, rq, rc, "%s", util_err_get());
        return;
    }
    if (claimed) store_own_claimed(c, p, m);
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
}

static void h_get(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_kv_t *kv = store_map_get(&c->kv, m->key, m->key_len);
    if (kv != NULL) {
        uint32_t blen = 0;
        uint8_t *b = blob_encode(kv->val, kv->len, &blen);
        if (b == NULL) {
            store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for a %u byte answer", kv->len);
            return;
        }
        store_core_reply(c, p, rq, SMEM_OK, b, blen);
        free(b);
        return;
    }
    if (m->timeout_ms == 0) {
        store_core_reply(c, p, rq, SMEM_OBJECT_NOT_EXISTS, NULL, 0);
        return;
    }
    store_getw_t *g = calloc(1, sizeof(*g));
    if (g == NULL) goto fail_nomem;
    store_map_ent_t *e = store_map_find(&c->getq, m->key, m->key_len);
    if (e == NULL) {
        util_link_t *head = malloc(sizeof(*head));
        if (head == NULL) goto free_getw;
        util_list_init(head);
        if (store_map_insert(&c->getq, m->key, m->key_len, head, &e) != 0) {
            free(head);
            goto free_getw;
        }
    }
    g->peer = p;
    g->ent = e;
    g->rq = *rq;
    g->deadline_ms = c->now_ms + m->timeout_ms;
    util_list_add_tail((util_link_t *)e->val, &g->key_node);
    util_list_add_tail(&p->getws, &g->peer_node);
    util_list_add_tail(&c->getw_all, &g->all_node);
    c->ngetw++;
    return;

free_getw:
    free(g);
fail_nomem:
    store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for a blocking GET");
}

/* Decimal int64 with an optional sign, nothing else; an empty value is 0 only
 * when absent (handled by the caller). */
static bool parse_i64(const uint8_t *v, uint32_t len, int64_t *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof(buf)) return false;
    memcpy(buf, v, len);
    buf[len] = '\0';
    uint32_t i = (buf[0] == '-' || buf[0] == '+') ? 1 : 0;
    if (i == len) return false;
    for (uint32_t k = i; k < len; k++)
        if (buf[k] < '0' || buf[k] > '9') return false;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno != 0 || end != buf + len) return false;
    *out = (int64_t)x;
    return true;
}

static void h_add(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_kv_t *kv;
    int64_t cur = 0, res;
    bool claimed;
    if (kv_refused(c, p, rq, m, &kv, &claimed)) return;
    if (kv != NULL && !parse_i64(kv->val, kv->len, &cur)) {
        store_core_reply_err(c, p, rq, SMEM_INVALID_PARAM, "ADD: value of '%.*s' (%u bytes) is not a decimal int64",
                             (int)(m->key_len > 200 ? 200 : m->key_len), m->key, kv->len);
        return;
    }
    if (__builtin_add_overflow(cur, m->i64, &res)) {
        store_core_reply_err(c, p, rq, SMEM_INVALID_PARAM, "ADD: %" PRId64 " + %" PRId64 " overflows int64", cur,
                             m->i64);
        return;
    }
    char txt[24];
    int n = snprintf(txt, sizeof(txt), "%" PRId64, res);
    int32_t rc = store_core_kv_put(c, m->key, m->key_len, txt, (uint32_t)n, NULL);
    if (rc != 0) {
        if (rc == SMEM_FULL) kv_full_log(c, p);
        store_core_reply_err(c, p, rq, rc, "%s", util_err_get());
        return;
    }
    if (claimed) store_own_claimed(c, p, m);
    uint8_t out[8];
    util_put_le64(out, (uint64_t)res);
    store_core_reply(c, p, rq, SMEM_OK, out, sizeof(out));
}

static void h_cas(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    /* A CAS that does not match writes nothing: it answers the mismatch (the current value, readable by
     * GET anyway) before the permission check, so "create if absent" over a key someone else owns reads
     * as the lost race it is. */
    store_kv_t *kv = store_map_get(&c->kv, m->key, m->key_len);
    bool claimed;
    bool match = m->cmp_present ? (kv != NULL && kv->len == m->cmp_len &&
                                   (m->cmp_len == 0 || memcmp(kv->val, m->cmp, m->cmp_len) == 0))
                                : kv == NULL;
    if (!match) {
        uint32_t cur_len = kv ? kv->len : 0;
        uint8_t *b = malloc((size_t)cur_len + 1 + STORE_BLOB_HDR);
        if (b == NULL) {
            store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for a %u byte answer", cur_len);
            return;
        }
        b[0] = kv ? 1 : 0;
        util_put_le32(b + 1, cur_len);
        if (cur_len) memcpy(b + 1 + STORE_BLOB_HDR, kv->val, cur_len);
        store_core_reply(c, p, rq, SMEM_CAS_MISMATCH, b, cur_len + 1 + STORE_BLOB_HDR);
        free(b);
        return;
    }
    if (kv_refused(c, p, rq, m, &kv, &claimed)) return;
    int32_t rc = store_core_kv_put(c, m->key, m->key_len, m->val, m->val_len, NULL);
    if (rc != 0) {
        if (rc == SMEM_FULL) kv_full_log(c, p);
        store_core_reply_err(c, p, rq, rc, "%s", util_err_get());
        return;
    }
    if (claimed) store_own_claimed(c, p, m);
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
}

static void h_append(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_kv_t *kv;
    bool claimed;
    if (kv_refused(c, p, rq, m, &kv, &claimed)) return;
    if (kv == NULL) {
        int32_t rc = store_core_kv_put(c, m->key, m->key_len, m->val, m->val_len, NULL);
        if (rc != 0) {
            if (rc == SMEM_FULL) kv_full_log(c, p);
            store_core_reply_err(c, p, rq, rc, "%s", util_err_get());
            return;
        }
        kv = store_map_get(&c->kv, m->key, m->key_len);
    } else {
        uint64_t want = (uint64_t)kv->len + m->val_len;
        if (want > STORE_VALUE_MAX) {
            store_core_reply_err(c, p, rq, SMEM_TOO_LARGE, "APPEND: %u + %u bytes over the value limit of %u",
                                 kv->len, m->val_len, STORE_VALUE_MAX);
            return;
        }
        if (want > kv->cap) {
            /* Doubling keeps repeated appends linear overall. */
            uint64_t cap = kv->cap ? kv->cap : 64;
            while (cap < want) cap *= 2;
            if (cap > STORE_VALUE_MAX) cap = STORE_VALUE_MAX;
            if (kv_room(c, (int64_t)(cap - kv->cap), NULL) != SMEM_OK) {
                kv_full_log(c, p);
                store_core_reply_err(c, p, rq, SMEM_FULL, "%s", util_err_get());
                return;
            }
            c->data_bytes += cap - kv->cap;
            uint8_t *nv = realloc(kv->val, cap);
            if (nv == NULL) {
                store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory growing a value to %" PRIu64,
                                     cap);
                return;
            }
            kv->val = nv;
            kv->cap = (uint32_t)cap;
        }
        if (m->val_len) memcpy(kv->val + kv->len, m->val, m->val_len);
        kv->len = (uint32_t)want;
        kv_changed(c, m->key, m->key_len, kv);
    }
    if (claimed) store_own_claimed(c, p, m);
    uint8_t out[4];
    util_put_le32(out, kv->len);
    store_core_reply(c, p, rq, SMEM_OK, out, sizeof(out));
}

static void h_delete(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    store_kv_t *kv;
    bool claimed;
    if (kv_refused(c, p, rq, m, &kv, &claimed)) return;
    if (kv == NULL) {
        store_core_reply(c, p, rq, SMEM_OBJECT_NOT_EXISTS, NULL, 0);
        return;
    }
    store_core_kv_del(c, m->key, m->key_len);
    store_core_reply(c, p, rq, SMEM_OK, NULL, 0);
}

/* ---------- listing ---------- */

/* Byte-wise order, a proper prefix first: the order LIST pages through. */
static int key_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int ent_cmp(const void *x, const void *y)
{
    const store_map_ent_t *a = *(const store_map_ent_t *const *)x, *b = *(const store_map_ent_t *const *)y;
    return key_cmp(a->key, a->klen, b->key, b->klen);
}

/* A full scan and sort per page: the store holds rendezvous records (a few
 * thousand keys), and LIST is a join-time call, not a data path. */
static void h_list(store_core_t *c, store_peer_t *p, const store_rq_t *rq, const store_msg_t *m)
{
    size_t n = 0, cap = 0;
    store_map_ent_t **v = NULL;
    for (size_t i = 0; i < c->kv.nb; i++) {
        for (store_map_ent_t *e = c->kv.b[i]; e != NULL; e = e->next) {
            if (e->klen < m->key_len || memcmp(e->key, m->key, m->key_len) != 0) continue;
            if (m->after_len && key_cmp(e->key, e->klen, m->after, m->after_len) <= 0) continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                store_map_ent_t **nv = realloc(v, ncap * sizeof(*nv));
                if (nv == NULL) goto fail_nomem;
                v = nv;
                cap = ncap;
            }
            v[n++] = e;
        }
    }
    if (n > 1) qsort(v, n, sizeof(*v), ent_cmp);

    uint64_t budget = m->max_bytes ? m->max_bytes : STORE_LIST_BYTES_DEFAULT;
    uint64_t used = 0;
    uint32_t count = 0;
    util_wbuf_t wb;
    util_wbuf_init(&wb);
    util_wbuf_u32(&wb, 0); /* count, patched below */
    util_wbuf_u8(&wb, 0);  /* more */
    for (size_t i = 0; i < n && count < m->limit; i++) {
        const store_kv_t *kv = v[i]->val;
        uint64_t item = (uint64_t)v[i]->klen + kv->len + STORE_LIST_ITEM_HDR;
        if (count > 0 && used + item > budget) break;
        util_wbuf_blob(&wb, v[i]->key, v[i]->klen);
        util_wbuf_blob(&wb, kv->val, kv->len);
        used += item;
        count++;
    }
    free(v);
    if (wb.err) {
        util_wbuf_fini(&wb);
        store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory for a LIST answer of %u keys", count);
        return;
    }
    util_put_le32(wb.p, count);
    wb.p[4] = count < n ? 1 : 0;
    store_core_reply(c, p, rq, SMEM_OK, wb.p, (uint32_t)wb.len);
    util_wbuf_fini(&wb);
    return;

fail_nomem:
    free(v);
    store_core_reply_err(c, p, rq, SMEM_MALLOC_FAILED, "out of memory listing %zu keys", n);
}

static void h_hello(store_core_t *c, store_peer_t *p, const store_rq_t *rq)
{
    uint8_t out[STORE_HELLO_RESP_SIZE];
    uint64_t left = c->recover_until_ms > c->now_ms ? c->recover_until_ms - c->now_ms : 0;
    util_put_le64(out, c->instance);
    util_put_le32(out + 8, (uint32_t)left);
    store_core_reply(c, p, rq, SMEM_OK, out, sizeof(out));
}

/* ---------- peers and dispatch ---------- */

store_peer_t *store_core_peer_open(store_core_t *c, void *link, const char *name)
{
    store_peer_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    p->link = link;
    p->id = ++c->next_peer_id;
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "?");
    util_list_init(&p->watches);
    util_list_init(&p->getws);
    util_list_init(&p->slots);
    util_list_init(&p->members);
    util_list_init(&p->exits);
    util_list_init(&p->pjoins);
    util_list_init(&p->pwrites);
    util_list_add_tail(&c->peers, &p->node);
    LOG_DEBUG("store: connection %" PRIu64 " from %s", p->id, p->name);
    return p;
}

void store_core_peer_close(store_core_t *c, store_peer_t *p, int32_t reason)
{
    c->now_ms = util_now_ms();
    LOG_DEBUG("store: connection %" PRIu64 " from %s closed: %s", p->id, p->name, util_strerror(reason));
    p->broken = true; /* its link is gone: nothing more goes to it */
    while (!util_list_empty(&p->watches))
        watch_free(c, UTIL_CONTAINER_OF(p->watches.next, store_watch_t, peer_node));
    while (!util_list_empty(&p->getws))
        getw_free(c, UTIL_CONTAINER_OF(p->getws.next, store_getw_t, peer_node));
    store_coll_peer_gone(c, p, reason);
    store_own_peer_gone(c, p);
    util_list_del(&p->node);
    free(p);
}

void store_core_dispatch(store_core_t *c, store_peer_t *p, const net_frame_hdr_t *hdr, const uint8_t *body)
{
    c->now_ms = util_now_ms();
    store_core_handle(c, p, hdr, body);
}

void store_core_handle(store_core_t *c, store_peer_t *p, const net_frame_hdr_t *hdr, const uint8_t *body)
{
    store_rq_t rq = {.type = hdr->type, .req_id = hdr->req_id, .oneway = (hdr->flags & NET_FLAG_ONEWAY) != 0};
    store_msg_t m;

    if (p->broken) return;
    if (hdr->flags & (NET_FLAG_RESPONSE | NET_FLAG_PUSH)) {
        LOG_DEBUG("store: ignoring a %s frame with flags 0x%x from %s", store_msg_name(hdr->type), hdr->flags,
                  p->name);
        return;
    }
    if (hdr->type == STORE_MSG_EVENT || hdr->type == STORE_MSG_EXIT) {
        store_core_reply_err(c, p, &rq, SMEM_PROTOCOL, "%s is a server push, not a request", store_msg_name(hdr->type));
        return;
    }
    if (strcmp(store_msg_name(hdr->type), "?") == 0) {
        /* A newer client's request: say so rather than "malformed". */
        store_core_reply_err(c, p, &rq, SMEM_UNSUPPORTED, "unknown request type 0x%04x", hdr->type);
        return;
    }
    int32_t rc = store_msg_decode(hdr->type, body, hdr->body_len, &m);
    if (rc != 0) {
        reply_msg(c, p, &rq, rc, util_err_get());
        return;
    }
    if (store_own_hold(c, p, &rq, &m, hdr, body)) return;
    switch (hdr->type) {
    case STORE_MSG_SET: h_set(c, p, &rq, &m); break;
    case STORE_MSG_GET: h_get(c, p, &rq, &m); break;
    case STORE_MSG_ADD: h_add(c, p, &rq, &m); break;
    case STORE_MSG_CAS: h_cas(c, p, &rq, &m); break;
    case STORE_MSG_APPEND: h_append(c, p, &rq, &m); break;
    case STORE_MSG_DELETE: h_delete(c, p, &rq, &m); break;
    case STORE_MSG_WATCH: h_watch(c, p, &rq, &m); break;
    case STORE_MSG_UNWATCH: h_unwatch(c, p, &rq, &m); break;
    case STORE_MSG_GROUP_JOIN: store_coll_group_join(c, p, &rq, &m); break;
    case STORE_MSG_GROUP_LEAVE: store_coll_group_leave(c, p, &rq, &m); break;
    case STORE_MSG_BARRIER:
    case STORE_MSG_ALLGATHER: store_coll_arrive(c, p, &rq, &m); break;
    case STORE_MSG_ID_ALLOC: store_coll_id_alloc(c, p, &rq, &m); break;
    case STORE_MSG_ID_RELEASE: store_coll_id_release(c, p, &rq, &m); break;
    case STORE_MSG_EXIT_WATCH: store_coll_exit_watch(c, p, &rq, &m); break;
    case STORE_MSG_EXIT_BROADCAST: store_coll_exit_broadcast(c, p, &rq, &m); break;
    case STORE_MSG_LIST: h_list(c, p, &rq, &m); break;
    case STORE_MSG_HELLO: h_hello(c, p, &rq); break;
    case STORE_MSG_GROUP_OWN: store_own_register(c, p, &rq, &m); break;
    default: break; /* decode rejected it */
    }
}

void store_core_tick(store_core_t *c, uint64_t now_ms)
{
    c->now_ms = now_ms;
    for (util_link_t *n = c->getw_all.next; n != &c->getw_all;) {
        store_getw_t *g = UTIL_CONTAINER_OF(n, store_getw_t, all_node);
        n = n->next;
        if (g->deadline_ms > now_ms) continue;
        /* Plain status, no message: a timed-out GET is an expected outcome. */
        store_core_reply(c, g->peer, &g->rq, SMEM_TIMEOUT, NULL, 0);
        getw_free(c, g);
    }
    if (c->recover_until_ms != 0 && now_ms >= c->recover_until_ms) {
        c->recover_until_ms = 0;
        store_coll_release_pjoins(c, SMEM_OK);
        store_own_release(c);
    }
    store_coll_tick(c);
}

void store_core_set_data_max(store_core_t *c, uint64_t bytes) { c->data_max = bytes; }

uint64_t store_core_data_bytes(const store_core_t *c) { return c->data_bytes; }

void store_core_set_recovery(store_core_t *c, uint32_t recovery_ms, uint32_t reserve_ms)
{
    c->recover_until_ms = recovery_ms ? util_now_ms() + recovery_ms : 0;
    c->reserve_ms = reserve_ms;
    if (recovery_ms == 0) {
        store_coll_release_pjoins(c, SMEM_OK);
        store_own_release(c);
    }
}

uint64_t store_core_instance(const store_core_t *c) { return c->instance; }

int32_t store_core_rank_verify(store_core_t *c, const char *group, uint32_t rank, const void *challenge, uint32_t len,
                               const uint8_t *proof)
{
    return store_own_rank_verify(c, group, rank, challenge, len, proof);
}

void store_core_stats(const store_core_t *c, store_server_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->keys = store_map_count(&c->kv);
    out->get_waiters = c->ngetw;
    out->watches = c->nwatches;
    for (const util_link_t *n = c->peers.next; n != &c->peers; n = n->next) out->conns++;
    store_coll_stats(c, out);
}

/* ---------- lifetime ---------- */

int32_t store_core_create(const store_core_ops_t *ops, store_core_t **out)
{
    store_core_t *c = calloc(1, sizeof(*c));
    if (c == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store: out of memory for the server state");
    c->ops = *ops;
    util_list_init(&c->peers);
    util_list_init(&c->getw_all);
    util_list_init(&c->wprefix);
    util_list_init(&c->coll_all);
    util_list_init(&c->pjoins);
    util_list_init(&c->pwrites);
    util_list_init(&c->owns);
    if (getrandom(&c->instance, sizeof(c->instance), 0) != (ssize_t)sizeof(c->instance) || c->instance == 0)
        c->instance = (util_now_ms() << 20) ^ (uint64_t)getpid() ^ 0x5EEDull;
    if (store_map_init(&c->kv) != 0 || store_map_init(&c->getq) != 0 || store_map_init(&c->wexact) != 0 ||
        store_coll_init(c) != 0) {
        store_core_destroy(c);
        return util_err_set(SMEM_MALLOC_FAILED, "store: out of memory for the server tables");
    }
    c->now_ms = util_now_ms();
    *out = c;
    return SMEM_OK;
}

void store_core_quiesce(store_core_t *c) { c->quiet = true; }

void store_core_destroy(store_core_t *c)
{
    if (c == NULL) return;
    c->quiet = true;
    while (!util_list_empty(&c->peers))
        store_core_peer_close(c, UTIL_CONTAINER_OF(c->peers.next, store_peer_t, node), SMEM_OK);
    store_coll_fini(c);
    store_own_fini(c);
    store_map_fini(&c->kv, kv_free);
    store_map_fini(&c->getq, free);
    store_map_fini(&c->wexact, free);
    free(c);
}
