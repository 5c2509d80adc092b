/* smem.h: init, logging, last error, embedded config stores, store TLS. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/host/smem.h"
#include "smem/smem_int.h"
#include "store/store.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

/* Public (SMEM_ERR_*) and internal (SMEM_*) codes come from one list: smem_status.h. */

#define SMEM_STORES_MAX 16

typedef struct sm_embedded_store {
    char url[256];
    store_server_t *server;
    net_tls_t *tls; /* the server's TLS context, freed after the server stops */
} sm_embedded_store_t;

/* Lock order: sm_global_lock is a leaf; nothing is called under it that takes another lock,
 * except store_server_start/stop (which take only their own loop's locks). */
static pthread_mutex_t sm_global_lock = PTHREAD_MUTEX_INITIALIZER;
static sm_embedded_store_t sm_stores[SMEM_STORES_MAX];
static net_tls_opts_t sm_tls;          /* guarded by sm_global_lock */
static char *sm_tls_key_pem;           /* owned copies behind sm_tls.key_pem/key_pass */
static char *sm_tls_key_pass;

int32_t smem_init(uint32_t flags)
{
    if (flags != 0) return util_err_set(SMEM_INVALID_PARAM, "smem_init: flags must be 0, got 0x%x", flags);
    return SMEM_OK;
}

static void sm_tls_key_clear_locked(void)
{
    if (sm_tls_key_pem != NULL) {
        explicit_bzero(sm_tls_key_pem, sm_tls.key_pem_len);
        free(sm_tls_key_pem);
    }
    if (sm_tls_key_pass != NULL) {
        explicit_bzero(sm_tls_key_pass, sm_tls.key_pass_len);
        free(sm_tls_key_pass);
    }
    sm_tls_key_pem = sm_tls_key_pass = NULL;
    sm_tls.key_pem = sm_tls.key_pass = NULL;
    sm_tls.key_pem_len = sm_tls.key_pass_len = 0;
    sm_tls.decrypt = NULL;
}

void smem_uninit(void)
{
    sm_embedded_store_t stop[SMEM_STORES_MAX];
    int n = 0;
    pthread_mutex_lock(&sm_global_lock);
    for (int i = 0; i < SMEM_STORES_MAX; i++) {
        if (sm_stores[i].server != NULL) stop[n++] = sm_stores[i];
        memset(&sm_stores[i], 0, sizeof(sm_stores[i]));
    }
    sm_tls_key_clear_locked();
    memset(&sm_tls, 0, sizeof(sm_tls));
    pthread_mutex_unlock(&sm_global_lock);
    for (int i = 0; i < n; i++) {
        store_server_stop(stop[i].server);
        if (stop[i].tls != NULL) net_tls_destroy(stop[i].tls);
    }
}

int32_t smem_set_extern_logger(void (*func)(int level, const char *msg))
{
    if (func == NULL) return util_err_set(SMEM_INVALID_PARAM, "smem_set_extern_logger: func is NULL");
    util_log_sink_set(func);
    return SMEM_OK;
}

int32_t smem_set_log_level(int level) { return util_log_level_set(level); }

const char *smem_get_last_err_msg(void) { return util_err_get(); }
const char *smem_get_and_clear_last_err_msg(void) { return util_err_get_and_clear(); }
const char *smem_strerror(int32_t status) { return util_strerror(status); }

int32_t smem_create_config_store(const char *store_url) { return sm_config_store_start(store_url, net_insecure_env()); }

int32_t sm_config_store_start(const char *store_url, bool allow_insecure)
{
    if (store_url == NULL || store_url[0] == '\0')
        return util_err_set(SMEM_INVALID_PARAM, "smem_create_config_store: url is NULL or empty");
    if (strlen(store_url) >= sizeof(sm_stores[0].url))
        return util_err_set(SMEM_INVALID_PARAM, "smem_create_config_store: url longer than %zu bytes",
                            sizeof(sm_stores[0].url) - 1);
    net_addr_t addr;
    int32_t rc = net_addr_parse(store_url, &addr);
    if (rc != SMEM_OK) return rc;

    store_server_opts_t opts;
    store_server_opts_init(&opts);
    /* The store holds the space's secret, the credential of every data server: it follows the listen rule. */
    opts.net.expose = (net_expose_t){.allow_insecure = allow_insecure, .what = "config store",
                                     .tls_opt = "smem_set_conf_store_tls, or BM storeTlsConfig",
                                     .switch_opt = NET_INSECURE_ENV "=1"};
    net_tls_opts_t tls;
    sm_store_tls_opts_get(&tls);
    net_tls_t *ctx = NULL;
    if (tls.enable) {
        rc = net_tls_create(&tls, true, &ctx);
        if (rc != SMEM_OK) return rc;
        opts.net.tls = ctx;
    }

    pthread_mutex_lock(&sm_global_lock);
    int slot = -1;
    for (int i = 0; i < SMEM_STORES_MAX; i++) {
        if (sm_stores[i].server != NULL && strcmp(sm_stores[i].url, store_url) == 0) {
            pthread_mutex_unlock(&sm_global_lock);
            if (ctx) net_tls_destroy(ctx);
            return util_err_set(SMEM_DUPLICATED_OBJECT, "config store on %s already started in this process", store_url);
        }
        if (sm_stores[i].server == NULL && slot < 0) slot = i;
    }
    if (slot < 0) {
        pthread_mutex_unlock(&sm_global_lock);
        if (ctx) net_tls_destroy(ctx);
        return util_err_set(SMEM_FULL, "at most %d config stores per process", SMEM_STORES_MAX);
    }
    store_server_t *srv = NULL;
    rc = store_server_start(store_url, &opts, &srv);
    if (rc == SMEM_OK) {
        snprintf(sm_stores[slot].url, sizeof(sm_stores[slot].url), "%s", store_url);
        sm_stores[slot].server = srv;
        sm_stores[slot].tls = ctx;
    }
    pthread_mutex_unlock(&sm_global_lock);
    if (rc != SMEM_OK && ctx != NULL) net_tls_destroy(ctx);
    if (rc == SMEM_OK) LOG_INFO("config store started on %s%s", store_url, tls.enable ? " (TLS)" : "");
    return rc;
}

int32_t smem_destroy_config_store(const char *store_url)
{
    if (store_url == NULL) return util_err_set(SMEM_INVALID_PARAM, "smem_destroy_config_store: url is NULL");
    store_server_t *srv = NULL;
    net_tls_t *tls = NULL;
    pthread_mutex_lock(&sm_global_lock);
    for (int i = 0; i < SMEM_STORES_MAX; i++) {
        if (sm_stores[i].server != NULL && strcmp(sm_stores[i].url, store_url) == 0) {
            srv = sm_stores[i].server;
            tls = sm_stores[i].tls;
            memset(&sm_stores[i], 0, sizeof(sm_stores[i]));
            break;
        }
    }
    pthread_mutex_unlock(&sm_global_lock);
    if (srv == NULL) return util_err_set(SMEM_OBJECT_NOT_EXISTS, "no config store on %s in this process", store_url);
    store_server_stop(srv);
    if (tls != NULL) net_tls_destroy(tls);
    return SMEM_OK;
}

static int32_t sm_tls_set_field(net_tls_opts_t *o, const char *key, size_t klen, const char *val, size_t vlen)
{
    static const struct { const char *name; size_t off; } fields[] = {
        {"tlsCaPath", offsetof(net_tls_opts_t, ca_path)},   {"tlsCrlPath", offsetof(net_tls_opts_t, crl_path)},
        {"tlsCert", offsetof(net_tls_opts_t, cert_path)},   {"tlsPk", offsetof(net_tls_opts_t, key_path)},
        {"tlsPkPwd", offsetof(net_tls_opts_t, key_pass_path)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strlen(fields[i].name) != klen || strncmp(fields[i].name, key, klen) != 0) continue;
        if (vlen >= sizeof(o->ca_path))
            return util_err_set(SMEM_INVALID_PARAM, "tls_info: value of %s longer than %zu bytes", fields[i].name,
                                sizeof(o->ca_path) - 1);
        char *dst = (char *)o + fields[i].off;
        memcpy(dst, val, vlen);
        dst[vlen] = '\0';
        return SMEM_OK;
    }
    return util_err_set(SMEM_INVALID_PARAM, "tls_info: unknown key '%.*s' (known: tlsCaPath, tlsCrlPath, tlsCert, tlsPk, tlsPkPwd)",
                        (int)klen, key);
}

static const char *sm_trim(const char *b, const char *e, const char **end_out)
{
    while (b < e && (*b == ' ' || *b == '\t' || *b == '\r')) b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
    *end_out = e;
    return b;
}

int32_t sm_tls_info_parse(const char *info, uint32_t len, net_tls_opts_t *opts)
{
    if (info == NULL || len == 0) return util_err_set(SMEM_INVALID_PARAM, "tls_info is empty but TLS is enabled");
    const char *p = info, *end = info + len;
    while (p < end) {
        const char *sep = p;
        while (sep < end && *sep != ';' && *sep != '\n' && *sep != '\0') sep++;
        const char *ie;
        const char *item = sm_trim(p, sep, &ie);
        if (item < ie) {
            const char *colon = item;
            while (colon < ie && *colon != ':' && *colon != '=') colon++;
            if (colon == ie) return util_err_set(SMEM_INVALID_PARAM, "tls_info: '%.*s' is not key:value", (int)(ie - item), item);
            const char *ke, *ve;
            const char *k = sm_trim(item, colon, &ke);
            const char *v = sm_trim(colon + 1, ie, &ve);
            int32_t rc = sm_tls_set_field(opts, k, (size_t)(ke - k), v, (size_t)(ve - v));
            if (rc != SMEM_OK) return rc;
        }
        if (sep < end && *sep == '\0') break;
        p = sep + 1;
    }
    if (opts->ca_path[0] == '\0' || opts->cert_path[0] == '\0')
        return util_err_set(SMEM_INVALID_PARAM, "tls_info: tlsCaPath and tlsCert are required");
    return SMEM_OK;
}

int32_t smem_set_conf_store_tls(bool enable, const char *tls_info, uint32_t tls_info_len)
{
    net_tls_opts_t o;
    net_tls_opts_init(&o);
    if (enable) {
        int32_t rc = sm_tls_info_parse(tls_info, tls_info_len, &o);
        if (rc != SMEM_OK) return rc;
    }
    o.enable = enable;
    sm_store_tls_opts_set(&o);
    return SMEM_OK;
}

void sm_store_tls_opts_set(const net_tls_opts_t *files)
{
    net_tls_opts_t o = *files;
    pthread_mutex_lock(&sm_global_lock);
    /* Keep an in-memory key set by smem_set_config_store_tls_key. */
    o.key_pem = sm_tls.key_pem;
    o.key_pem_len = sm_tls.key_pem_len;
    o.key_pass = sm_tls.key_pass;
    o.key_pass_len = sm_tls.key_pass_len;
    o.decrypt = sm_tls.decrypt;
    sm_tls = o;
    pthread_mutex_unlock(&sm_global_lock);
}

int32_t smem_set_config_store_tls_key(const char *tls_pk, uint32_t tls_pk_len, const char *tls_pk_pw,
                                      uint32_t tls_pk_pw_len, smem_decrypt_handler h)
{
    if (tls_pk == NULL || tls_pk_len == 0)
        return util_err_set(SMEM_INVALID_PARAM, "smem_set_config_store_tls_key: private key is empty");
    if (tls_pk_pw == NULL && tls_pk_pw_len != 0)
        return util_err_set(SMEM_INVALID_PARAM, "smem_set_config_store_tls_key: password NULL with length %u", tls_pk_pw_len);
    char *pem = malloc(tls_pk_len + 1u);
    char *pw = tls_pk_pw_len ? malloc(tls_pk_pw_len + 1u) : NULL;
    if (pem == NULL || (tls_pk_pw_len && pw == NULL)) {
        free(pem);
        free(pw);
        return util_err_set(SMEM_MALLOC_FAILED, "smem_set_config_store_tls_key: out of memory");
    }
    memcpy(pem, tls_pk, tls_pk_len);
    pem[tls_pk_len] = '\0';
    if (pw) {
        memcpy(pw, tls_pk_pw, tls_pk_pw_len);
        pw[tls_pk_pw_len] = '\0';
    }
    pthread_mutex_lock(&sm_global_lock);
    sm_tls_key_clear_locked();
    sm_tls_key_pem = pem;
    sm_tls_key_pass = pw;
    sm_tls.key_pem = pem;
    sm_tls.key_pem_len = tls_pk_len;
    sm_tls.key_pass = pw;
    sm_tls.key_pass_len = tls_pk_pw_len;
    sm_tls.decrypt = (net_decrypt_cb_t)h;
    pthread_mutex_unlock(&sm_global_lock);
    return SMEM_OK;
}

void sm_store_tls_opts_get(net_tls_opts_t *out)
{
    pthread_mutex_lock(&sm_global_lock);
    *out = sm_tls;
    pthread_mutex_unlock(&sm_global_lock);
}

uint32_t sm_timeout_ms(uint32_t seconds)
{
    if (seconds == 0) seconds = 120;
    return seconds > UINT32_MAX / 1000u ? UINT32_MAX : seconds * 1000u;
}

bool sm_url_is_local(const char *url)
{
    net_addr_t a;
    if (net_addr_parse(url, &a) != SMEM_OK) return false;
    if (a.family == AF_UNIX) return true;
    if (a.family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a.ss;
        uint32_t ip = ntohl(in->sin_addr.s_addr);
        if ((ip >> 24) == 127 || ip == 0) return true;
    } else if (a.family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a.ss;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) return true;
    }
    struct ifaddrs *ifs = NULL;
    bool local = false;
    if (getifaddrs(&ifs) != 0) return false;
    for (struct ifaddrs *i = ifs; i != NULL && !local; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != a.family) continue;
        if (a.family == AF_INET)
            local = ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
                    ((const struct sockaddr_in *)&a.ss)->sin_addr.s_addr;
        else
            local = memcmp(&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
                           &((const struct sockaddr_in6 *)&a.ss)->sin6_addr, sizeof(struct in6_addr)) == 0;
    }
    freeifaddrs(ifs);
    return local;
}

int32_t sm_store_conn_open(const char *url, bool start_server, bool allow_insecure, uint32_t connect_ms,
                             uint32_t call_ms, sm_store_conn_t *out)
{
    if (url == NULL || out == NULL) return util_err_set(SMEM_INVALID_PARAM, "store url is NULL");
    memset(out, 0, sizeof(*out));
    if (start_server && sm_url_is_local(url)) {
        int32_t rc = sm_config_store_start(url, allow_insecure);
        if (rc == SMEM_OK) {
            out->owner = true;
            LOG_INFO("this process serves the config store on %s", url);
        } else if (rc == SMEM_INSECURE) {
            return rc; /* not a lost race: nobody may serve this address as asked */
        } else if (rc != SMEM_DUPLICATED_OBJECT) {
            /* Another process won the race (address in use): just connect. */
            LOG_DEBUG("not starting the config store on %s: %s", url, util_err_get());
            util_err_clear();
        }
    }
    net_tls_opts_t to;
    sm_store_tls_opts_get(&to);
    store_client_opts_t co;
    store_client_opts_init(&co);
    co.timeout_ms = call_ms;
    co.rpc.connect_timeout_ms = connect_ms;
    int32_t rc = SMEM_OK;
    if (to.enable) {
        rc = net_tls_create(&to, false, &out->tls);
        if (rc != SMEM_OK) goto fail;
        co.rpc.net.tls = out->tls;
    }
    rc = store_client_connect(url, &co, &out->client);
    if (rc == SMEM_OK) return SMEM_OK;
fail:
    sm_store_conn_close(out, url);
    return rc;
}

void sm_store_conn_close(sm_store_conn_t *c, const char *url)
{
    if (c == NULL) return;
    if (c->client != NULL) store_client_close(c->client);
    if (c->tls != NULL) net_tls_destroy(c->tls);
    if (c->owner && url != NULL) {
        /* Keep the caller's error message: stopping the store is cleanup. */
        char why[512];
        snprintf(why, sizeof(why), "%s", util_err_get());
        int32_t rc = smem_destroy_config_store(url);
        if (rc != SMEM_OK) LOG_WARN("stopping the config store on %s: %s", url, util_err_get());
        util_err_set(SMEM_ERROR, "%s", why);
    }
    memset(c, 0, sizeof(*c));
}

typedef struct sm_owner_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t changes;
} sm_owner_wait_t;

static void sm_owner_wait_cb(void *arg, store_event_t ev, const char *key, const uint8_t *val, uint32_t len)
{
    (void)ev;
    (void)key;
    (void)val;
    (void)len;
    sm_owner_wait_t *w = arg;
    pthread_mutex_lock(&w->mu);
    w->changes++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void sm_store_owner_wait(store_client_t *c, const char *group, uint32_t me, uint32_t timeout_ms)
{
    char prefix[300], mine[320];
    snprintf(prefix, sizeof(prefix), "%s/__live/", group);
    snprintf(mine, sizeof(mine), "%s%u", prefix, me);
    sm_owner_wait_t w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    uint64_t watch = 0;
    /* Watch first, then list: a departure between the two is not missed. */
    if (store_watch(c, prefix, true, sm_owner_wait_cb, &w, &watch) != SMEM_OK) return;
    uint64_t deadline = util_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&w.mu);
        uint64_t seen = w.changes;
        pthread_mutex_unlock(&w.mu);
        store_kvlist_t *l = NULL;
        if (store_list(c, prefix, NULL, 0, 0, &l) != SMEM_OK) break;
        uint32_t others = 0;
        for (uint32_t i = 0; i < l->count; i++) others += strcmp(l->items[i].key, mine) != 0;
        store_kvlist_free(l);
        if (others == 0) break;
        int64_t left = util_ms_left(deadline);
        if (left <= 0) {
            LOG_WARN("config store owner leaving with %u %s members still connected", others, group);
            break;
        }
        pthread_mutex_lock(&w.mu);
        struct timespec ts = util_abstime_after_ms(left);
        while (w.changes == seen && pthread_cond_timedwait(&w.cv, &w.mu, &ts) == 0) {
        }
        pthread_mutex_unlock(&w.mu);
    }
    store_unwatch(c, watch);
}

/* ---------- handle tables ---------- */

static uint32_t *sm_handle_refs(const sm_handles_t *t, void *obj)
{
    return (uint32_t *)(void *)((char *)obj + t->refs_off);
}

static __thread int32_t sm_handle_rc;

int32_t sm_handle_status(void) { return sm_handle_rc; }

void *sm_handle_get(const sm_handles_t *t, const void *h, const char *what)
{
    if (h == NULL) {
        sm_handle_rc = util_err_set(SMEM_INVALID_PARAM, "%s: handle is NULL", what);
        return NULL;
    }
    void *found = NULL;
    pthread_mutex_lock(t->lock);
    bool inited = t->inited == NULL || *t->inited;
    for (uint32_t i = 0; inited && i < t->n && found == NULL; i++)
        if (t->objs[i] == h) found = t->objs[i];
    if (found != NULL) __atomic_add_fetch(sm_handle_refs(t, found), 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(t->lock);
    if (!inited)
        sm_handle_rc = util_err_set(t->uninit_code, "%s: %s has not been called (or was undone)", what, t->init_call);
    else if (found == NULL)
        sm_handle_rc = util_err_set(SMEM_INVALID_PARAM, "%s: %p is not a live %s", what, h, t->kind);
    return found;
}

void sm_handle_put(const sm_handles_t *t, void *obj)
{
    if (__atomic_sub_fetch(sm_handle_refs(t, obj), 1, __ATOMIC_ACQ_REL) == 0) {
        pthread_mutex_lock(t->lock);
        pthread_cond_broadcast(t->cv);
        pthread_mutex_unlock(t->lock);
    }
}
