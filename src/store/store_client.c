/*
 * Store client: the net_rpc connection, key-value calls and watches. Groups,
 * collectives, ids and exit are in store_group.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "store/store_client_int.h"
#include "util/util_buf.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define STORE_CLIENT_TIMEOUT_DEFAULT_MS 120000u

typedef struct store_cwatch {
    util_link_t node;
    uint64_t id;
    store_watch_cb_t cb;
    void *arg;
    bool prefix;
    uint32_t klen;
    char key[];
} store_cwatch_t;

void store_client_opts_init(store_client_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    net_rpc_opts_init(&o->rpc);
    o->rpc.net.max_frame = STORE_FRAME_MAX;
    o->timeout_ms = STORE_CLIENT_TIMEOUT_DEFAULT_MS;
    /* A restarted store admits reclaims first for STORE_RECOVERY_DEFAULT_MS:
     * survivors must be back within it, so redial at least this often. */
    o->rpc.backoff_max_ms = STORE_RECONNECT_BACKOFF_MAX_MS;
}

int32_t store_client_name(const char *what, const char *name, uint32_t max, uint32_t *len)
{
    if (name == NULL) return util_err_set(SMEM_INVALID_PARAM, "store: %s is NULL", what);
    size_t n = strnlen(name, (size_t)max + 1);
    if (n == 0 || n > max)
        return util_err_set(SMEM_INVALID_PARAM, "store: %s is empty or longer than %u bytes", what, max);
    *len = (uint32_t)n;
    return SMEM_OK;
}

int32_t store_client_call_rpc(net_rpc_t *rpc, const store_msg_t *m, uint32_t timeout_ms, uint8_t **resp,
                              uint32_t *resp_len)
{
    util_wbuf_t wb;
    int32_t st = 0;
    uint8_t *body = NULL;
    uint32_t blen = 0;

    *resp = NULL;
    *resp_len = 0;
    util_wbuf_init(&wb);
    int32_t rc = store_msg_encode(m, &wb);
    if (rc != 0) goto free_buf;
    util_err_clear(); /* so a transport error without a message does not show a stale one */
    rc = net_rpc_call(rpc, m->type, wb.p, (uint32_t)wb.len, timeout_ms, &st, &body, &blen);
    if (rc != 0) {
        char why[STORE_ERRMSG_MAX];
        snprintf(why, sizeof(why), "%s", util_err_get()[0] ? util_err_get() : util_strerror(rc));
        util_err_set(rc, "store %s '%.*s': %s", store_msg_name(m->type), (int)(m->key_len > 200 ? 200 : m->key_len),
                     m->key ? m->key : "", why);
        goto free_buf;
    }
    rc = st;
    if (st != 0) {
        char msg[STORE_ERRMSG_MAX];
        if (st == SMEM_CAS_MISMATCH)
            msg[0] = '\0';
        else
            store_resp_errmsg_decode(body, blen, msg, sizeof(msg));
        util_err_set(st, "store %s '%.*s': %s", store_msg_name(m->type),
                     (int)(m->key_len > 200 ? 200 : m->key_len), m->key ? m->key : "",
                     msg[0] ? msg : util_strerror(st));
    }
    *resp = body;
    *resp_len = blen;
free_buf:
    util_wbuf_fini(&wb);
    return rc;
}

int32_t store_client_call(store_client_t *c, const store_msg_t *m, uint32_t timeout_ms, uint8_t **resp,
                          uint32_t *resp_len)
{
    return store_client_call_rpc(c->rpc, m, timeout_ms, resp, resp_len);
}

/* Calls whose OK answer has no body. */
static int32_t call_simple(store_client_t *c, const store_msg_t *m)
{
    uint8_t *resp;
    uint32_t rlen;
    int32_t rc = store_client_call(c, m, c->timeout_ms, &resp, &rlen);
    free(resp);
    return rc;
}

/* ---------- push dispatch and reconnect (net threads) ---------- */

static void on_event(store_client_t *c, const store_msg_t *m)
{
    char key[STORE_KEY_MAX + 1];
    store_watch_cb_t cb = NULL;
    void *arg = NULL;

    pthread_mutex_lock(&c->cb_mu);
    pthread_mutex_lock(&c->mu);
    for (util_link_t *n = c->watches.next; n != &c->watches; n = n->next) {
        store_cwatch_t *w = UTIL_CONTAINER_OF(n, store_cwatch_t, node);
        if (w->id == m->watch_id) {
            cb = w->cb;
            arg = w->arg;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (cb != NULL) {
        memcpy(key, m->key, m->key_len);
        key[m->key_len] = '\0';
        cb(arg, (store_event_t)m->event, key, m->val_len ? m->val : NULL, m->val_len);
    }
    /* No callback: an event of a watch just removed, or re-registered twice
     * across a reconnect; dropping it is what unwatch promised. */
    pthread_mutex_unlock(&c->cb_mu);
}

static void client_on_push(void *arg, uint16_t type, const uint8_t *body, uint32_t len)
{
    store_client_t *c = arg;
    store_msg_t m;
    if (type != STORE_MSG_EVENT && type != STORE_MSG_EXIT) {
        LOG_WARN("store client: ignoring a push of type 0x%04x (%u bytes)", type, len);
        return;
    }
    if (store_msg_decode(type, body, len, &m) != 0) {
        LOG_WARN("store client: dropping a malformed %s push: %s", store_msg_name(type), util_err_get());
        return;
    }
    if (type == STORE_MSG_EVENT)
        on_event(c, &m);
    else
        store_group_on_exit(c, &m);
}

static void client_on_disconnect(void *arg, int32_t reason)
{
    store_client_t *c = arg;
    LOG_WARN("store client: connection to the store lost (%s); reconnecting", util_strerror(reason));
    store_group_on_disconnect(c);
}

static int32_t hello(store_client_t *c, net_rpc_t *rpc, uint64_t *inst, uint32_t *left)
{
    store_msg_t m = {.type = STORE_MSG_HELLO};
    uint8_t *resp = NULL;
    uint32_t rlen = 0;
    int32_t rc = store_client_call_rpc(rpc, &m, c->timeout_ms, &resp, &rlen);
    if (rc == SMEM_OK) rc = store_resp_hello_decode(resp, rlen, inst, left);
    free(resp);
    return rc;
}

uint64_t store_client_instance(store_client_t *c)
{
    if (c == NULL) return 0;
    pthread_mutex_lock(&c->mu);
    uint64_t v = c->instance;
    pthread_mutex_unlock(&c->mu);
    return v;
}

typedef struct rewatch {
    uint64_t id;
    bool prefix;
    uint32_t klen;
    char *key;
} rewatch_t;

/* The new connection starts with no server state: put the watches and exit
 * registrations back before anything else is sent on it. */
static int32_t client_on_reconnect(net_rpc_t *rpc, void *arg)
{
    store_client_t *c = arg;
    rewatch_t *list = NULL;
    size_t n = 0, cap = 0;
    int32_t rc = SMEM_OK;

    pthread_mutex_lock(&c->mu);
    for (util_link_t *l = c->watches.next; l != &c->watches; l = l->next) {
        store_cwatch_t *w = UTIL_CONTAINER_OF(l, store_cwatch_t, node);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            rewatch_t *nl = realloc(list, cap * sizeof(*nl));
            if (nl == NULL) {
                rc = SMEM_MALLOC_FAILED;
                break;
            }
            list = nl;
        }
        list[n].id = w->id;
        list[n].prefix = w->prefix;
        list[n].klen = w->klen;
        list[n].key = strndup(w->key, w->klen);
        if (list[n].key == NULL) {
            rc = SMEM_MALLOC_FAILED;
            break;
        }
        n++;
    }
    pthread_mutex_unlock(&c->mu);

    for (size_t i = 0; i < n && rc == 0; i++) {
        store_msg_t m = {.type = STORE_MSG_WATCH, .watch_id = list[i].id, .prefix = list[i].prefix,
                         .key = list[i].key, .key_len = list[i].klen};
        uint8_t *resp;
        uint32_t rlen;
        int32_t st = store_client_call_rpc(rpc, &m, c->timeout_ms, &resp, &rlen);
        free(resp);
        if (st != 0 && st != SMEM_DUPLICATED_OBJECT) rc = st;
    }
    for (size_t i = 0; i < n; i++) free(list[i].key);
    free(list);
    if (rc == 0) rc = store_group_reregister(c, rpc);
    if (rc != 0) {
        LOG_WARN("store client: restoring watches after reconnect failed: %s", util_strerror(rc));
        return rc;
    }
    LOG_INFO("store client: reconnected; %zu watches restored", n);
    /* Ranks last: their liveness keys come back after the watches that see them. */
    uint64_t inst = 0;
    uint32_t left = 0;
    rc = hello(c, rpc, &inst, &left);
    if (rc == SMEM_UNSUPPORTED) { /* a server without HELLO: it cannot say whether it restarted */
        inst = 0;
        left = 0;
    } else if (rc != SMEM_OK) {
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    bool restarted = c->instance != 0 && inst != 0 && inst != c->instance;
    c->instance = inst;
    pthread_mutex_unlock(&c->mu);
    if (restarted)
        LOG_WARN("store client: the store restarted (instance %016" PRIx64 "); re-registering what this client held",
                 inst);
    store_group_reclaim(c, rpc, restarted, left);
    return SMEM_OK;
}

/* ---------- connect / close ---------- */

int32_t store_client_connect(const char *url, const store_client_opts_t *opts, store_client_t **out)
{
    store_client_opts_t o;
    int32_t rc;

    if (url == NULL || out == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_client_connect: NULL argument");
    if (opts != NULL)
        o = *opts;
    else
        store_client_opts_init(&o);
    store_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store_client_connect: out of memory");
    c->timeout_ms = o.timeout_ms ? o.timeout_ms : STORE_CLIENT_TIMEOUT_DEFAULT_MS;
    util_list_init(&c->watches);
    util_list_init(&c->exits);
    util_list_init(&c->groups);
    util_list_init(&c->listeners);
    util_list_init(&c->owns);
    if (getrandom(&c->token, sizeof(c->token), 0) != (ssize_t)sizeof(c->token) || c->token == 0)
        c->token = (util_now_ms() << 22) ^ ((uint64_t)getpid() << 1) ^ (uint64_t)(uintptr_t)c;
    rc = store_map_init(&c->seqs);
    if (rc != 0) goto free_client;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->cb_mu, NULL);
    pthread_mutex_init(&c->listen_mu, NULL);

    o.rpc.on_push = client_on_push;
    o.rpc.on_reconnect = client_on_reconnect;
    o.rpc.on_disconnect = client_on_disconnect;
    o.rpc.arg = c;
    rc = net_rpc_create(url, &o.rpc, &c->rpc);
    if (rc != 0) goto destroy_locks;
    uint32_t left = 0;
    if (hello(c, c->rpc, &c->instance, &left) != SMEM_OK) /* a reconnect learns it then */
        LOG_DEBUG("store client: HELLO to %s: %s", url, util_err_get());
    *out = c;
    return SMEM_OK;

destroy_locks:
    pthread_mutex_destroy(&c->listen_mu);
    pthread_mutex_destroy(&c->cb_mu);
    pthread_mutex_destroy(&c->mu);
    store_map_fini(&c->seqs, free);
free_client:
    free(c);
    return rc;
}

void store_client_close(store_client_t *c)
{
    if (c == NULL) return;
    net_rpc_destroy(c->rpc); /* no callback runs after this */
    while (!util_list_empty(&c->watches)) {
        util_link_t *n = c->watches.next;
        util_list_del(n);
        free(UTIL_CONTAINER_OF(n, store_cwatch_t, node));
    }
    store_group_fini(c);
    store_map_fini(&c->seqs, free);
    pthread_mutex_destroy(&c->listen_mu);
    pthread_mutex_destroy(&c->cb_mu);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---------- key-value calls ---------- */

int32_t store_set(store_client_t *c, const char *key, const void *val, uint32_t len)
{
    store_msg_t m = {.type = STORE_MSG_SET, .val = val, .val_len = len, .key = key};
    if (c == NULL || (val == NULL && len != 0)) return util_err_set(SMEM_INVALID_PARAM, "store_set: NULL argument");
    int32_t rc = store_client_name("key", key, STORE_KEY_MAX, &m.key_len);
    return rc ? rc : call_simple(c, &m);
}

int32_t store_get(store_client_t *c, const char *key, uint32_t timeout_ms, uint8_t **val, uint32_t *len)
{
    store_msg_t m = {.type = STORE_MSG_GET, .timeout_ms = timeout_ms, .key = key};
    uint8_t *resp;
    uint32_t rlen;
    const uint8_t *v;
    uint32_t vlen;

    if (c == NULL || val == NULL || len == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_get: NULL argument");
    int32_t rc = store_client_name("key", key, STORE_KEY_MAX, &m.key_len);
    if (rc != 0) return rc;
    rc = store_client_call(c, &m, timeout_ms ? store_rpc_timeout(timeout_ms) : c->timeout_ms, &resp, &rlen);
    if (rc != 0) goto free_resp;
    rc = store_resp_blob_decode(resp, rlen, STORE_VALUE_MAX, &v, &vlen);
    if (rc != 0) goto free_resp;
    uint8_t *copy = malloc(vlen ? vlen : 1);
    if (copy == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "store_get: out of memory for %u bytes", vlen);
        goto free_resp;
    }
    if (vlen) memcpy(copy, v, vlen);
    *val = copy;
    *len = vlen;
free_resp:
    free(resp);
    return rc;
}

int32_t store_add(store_client_t *c, const char *key, int64_t delta, int64_t *result)
{
    store_msg_t m = {.type = STORE_MSG_ADD, .i64 = delta, .key = key};
    uint8_t *resp;
    uint32_t rlen;
    uint64_t v;

    if (c == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_add: NULL client");
    int32_t rc = store_client_name("key", key, STORE_KEY_MAX, &m.key_len);
    if (rc != 0) return rc;
    rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    if (rc == 0) rc = store_resp_u64_decode(resp, rlen, &v);
    if (rc == 0 && result != NULL) *result = (int64_t)v;
    free(resp);
    return rc;
}

int32_t store_cas(store_client_t *c, const char *key, const void *expected, uint32_t expected_len,
                  const void *new_val, uint32_t new_len, uint8_t **cur, uint32_t *cur_len)
{
    store_msg_t m = {.type = STORE_MSG_CAS, .key = key, .cmp = expected, .cmp_len = expected_len,
                     .cmp_present = expected != NULL, .val = new_val, .val_len = new_len};
    uint8_t *resp;
    uint32_t rlen;

    if (c == NULL || (expected == NULL && expected_len != 0) || (new_val == NULL && new_len != 0) ||
        (cur != NULL && cur_len == NULL))
        return util_err_set(SMEM_INVALID_PARAM, "store_cas: NULL argument");
    int32_t rc = store_client_name("key", key, STORE_KEY_MAX, &m.key_len);
    if (rc != 0) return rc;
    rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    if (rc == SMEM_CAS_MISMATCH && cur != NULL) {
        bool present;
        const uint8_t *p;
        uint32_t n;
        int32_t drc = store_resp_cas_decode(resp, rlen, &present, &p, &n);
        if (drc != 0) {
            rc = drc;
        } else {
            uint8_t *copy = present ? malloc(n ? n : 1) : NULL;
            if (present && copy == NULL) {
                rc = util_err_set(SMEM_MALLOC_FAILED, "store_cas: out of memory for %u bytes", n);
            } else {
                if (n) memcpy(copy, p, n);
                *cur = copy; /* NULL: the key is absent */
                *cur_len = n;
                util_err_set(SMEM_CAS_MISMATCH, "store CAS '%s': the value (%s, %u bytes) differs", key,
                             present ? "present" : "absent", n);
            }
        }
    }
    free(resp);
    return rc;
}

int32_t store_append(store_client_t *c, const char *key, const void *val, uint32_t len, uint32_t *new_len)
{
    store_msg_t m = {.type = STORE_MSG_APPEND, .val = val, .val_len = len, .key = key};
    uint8_t *resp;
    uint32_t rlen, v;

    if (c == NULL || (val == NULL && len != 0)) return util_err_set(SMEM_INVALID_PARAM, "store_append: NULL argument");
    int32_t rc = store_client_name("key", key, STORE_KEY_MAX, &m.key_len);
    if (rc != 0) return rc;
    rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    if (rc == 0) rc = store_resp_u32_decode(resp, rlen, &v);
    if (rc == 0 && new_len != NULL) *new_len = v;
    free(resp);
    return rc;
}

int32_t store_delete(store_client_t *c, const char *key)
{
    store_msg_t m = {.type = STORE_MSG_DELETE, .key = key};
    if (c == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_delete: NULL client");
    int32_t rc = store_client_name("key", key, STORE_KEY_MAX, &m.key_len);
    return rc ? rc : call_simple(c, &m);
}

/* ---------- listing ---------- */

typedef struct list_fill {
    store_kvlist_t *l;
    char *next; /* where the next key/value bytes go */
} list_fill_t;

static void list_fill_item(void *arg, const char *key, uint32_t klen, const uint8_t *val, uint32_t vlen)
{
    list_fill_t *f = arg;
    store_kvitem_t *it = &f->l->items[f->l->count++];
    memcpy(f->next, key, klen);
    f->next[klen] = '\0';
    it->key = f->next;
    f->next += klen + 1;
    it->val = vlen ? (const uint8_t *)f->next : NULL;
    it->len = vlen;
    if (vlen) memcpy(f->next, val, vlen);
    f->next += vlen;
}

int32_t store_list(store_client_t *c, const char *prefix, const char *after, uint32_t max_keys, uint32_t max_bytes,
                   store_kvlist_t **out)
{
    store_msg_t m = {.type = STORE_MSG_LIST, .key = prefix, .after = after,
                     .limit = max_keys ? max_keys : STORE_LIST_KEYS_MAX, .max_bytes = max_bytes};
    uint8_t *resp;
    uint32_t rlen, n;
    bool more;
    uint64_t total;

    if (c == NULL || prefix == NULL || out == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "store_list: NULL argument");
    m.key_len = (uint32_t)strnlen(prefix, STORE_KEY_MAX + 1);
    m.after_len = after ? (uint32_t)strnlen(after, STORE_KEY_MAX + 1) : 0;
    if (m.key_len > STORE_KEY_MAX || m.after_len > STORE_KEY_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "store_list: prefix or continuation key longer than %u bytes",
                            STORE_KEY_MAX);
    int32_t rc = store_client_call(c, &m, c->timeout_ms, &resp, &rlen);
    if (rc != 0) goto free_resp;
    rc = store_resp_list_decode(resp, rlen, &n, &more, &total, NULL, NULL);
    if (rc != 0) goto free_resp;
    /* One block: the list, the item array, then each key (with its NUL) and value. */
    size_t hdr = sizeof(store_kvlist_t) + (size_t)n * sizeof(store_kvitem_t);
    store_kvlist_t *l = malloc(hdr + (size_t)total + n + 1);
    if (l == NULL) {
        rc = util_err_set(SMEM_MALLOC_FAILED, "store_list: out of memory for %u keys (%llu bytes)", n,
                          (unsigned long long)total);
        goto free_resp;
    }
    l->count = 0;
    l->more = more;
    l->items = (store_kvitem_t *)(void *)(l + 1);
    list_fill_t fill = {.l = l, .next = (char *)l + hdr};
    rc = store_resp_list_decode(resp, rlen, &n, &more, &total, list_fill_item, &fill);
    /* The server promises ascending keys under the prefix and after `after`;
     * a caller paging with the last key would loop forever otherwise. */
    for (uint32_t i = 0; rc == 0 && i < l->count; i++) {
        const char *k = l->items[i].key;
        bool ok = strncmp(k, prefix, m.key_len) == 0 && (i == 0 || strcmp(l->items[i - 1].key, k) < 0) &&
                  (m.after_len == 0 || strcmp(k, after) > 0);
        if (!ok) rc = util_err_set(SMEM_PROTOCOL, "store LIST '%s': key '%.200s' out of order or outside the prefix",
                                   prefix, k);
    }
    if (rc != 0) {
        free(l);
        goto free_resp;
    }
    *out = l;
free_resp:
    free(resp);
    return rc;
}

void store_kvlist_free(store_kvlist_t *l) { free(l); }

/* ---------- watches ---------- */

static store_cwatch_t *cwatch_unlink_locked(store_client_t *c, uint64_t id)
{
    for (util_link_t *n = c->watches.next; n != &c->watches; n = n->next) {
        store_cwatch_t *w = UTIL_CONTAINER_OF(n, store_cwatch_t, node);
        if (w->id == id) {
            util_list_del(n);
            return w;
        }
    }
    return NULL;
}

int32_t store_watch(store_client_t *c, const char *key, bool prefix, store_watch_cb_t cb, void *arg,
                    uint64_t *watch_id)
{
    store_msg_t m = {.type = STORE_MSG_WATCH, .prefix = prefix, .key = key};
    if (c == NULL || cb == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_watch: NULL argument");
    int32_t rc = store_client_name("key", key, STORE_KEY_MAX, &m.key_len);
    if (rc != 0) return rc;
    store_cwatch_t *w = calloc(1, sizeof(*w) + m.key_len + 1);
    if (w == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store_watch: out of memory");
    w->cb = cb;
    w->arg = arg;
    w->prefix = prefix;
    w->klen = m.key_len;
    memcpy(w->key, key, m.key_len);
    /* Listed before the server knows it, so events racing the answer are
     * delivered; the id is ours so a reconnect can register it again. */
    pthread_mutex_lock(&c->mu);
    w->id = m.watch_id = ++c->next_watch_id;
    util_list_add_tail(&c->watches, &w->node);
    pthread_mutex_unlock(&c->mu);

    rc = call_simple(c, &m);
    if (rc == SMEM_DUPLICATED_OBJECT) rc = SMEM_OK; /* a reconnect registered it first */
    if (rc != 0) {
        pthread_mutex_lock(&c->mu);
        w = cwatch_unlink_locked(c, m.watch_id);
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_lock(&c->cb_mu); /* no callback of it still running */
        pthread_mutex_unlock(&c->cb_mu);
        free(w);
        return rc;
    }
    if (watch_id != NULL) *watch_id = m.watch_id;
    return SMEM_OK;
}

int32_t store_unwatch(store_client_t *c, uint64_t watch_id)
{
    if (c == NULL) return util_err_set(SMEM_INVALID_PARAM, "store_unwatch: NULL client");
    pthread_mutex_lock(&c->mu);
    store_cwatch_t *w = cwatch_unlink_locked(c, watch_id);
    pthread_mutex_unlock(&c->mu);
    if (w == NULL) return util_err_set(SMEM_OBJECT_NOT_EXISTS, "store_unwatch: no watch %" PRIu64, watch_id);
    /* Wait out a callback in flight: none starts or runs after we return. */
    pthread_mutex_lock(&c->cb_mu);
    pthread_mutex_unlock(&c->cb_mu);
    free(w);

    store_msg_t m = {.type = STORE_MSG_UNWATCH, .watch_id = watch_id};
    int32_t rc = call_simple(c, &m);
    /* After a reconnect the server may not have it; locally it is gone. */
    return rc == SMEM_OBJECT_NOT_EXISTS ? SMEM_OK : rc;
}
