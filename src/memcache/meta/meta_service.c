/*
 * mmcs_meta_service_start/stop: the core (meta_core.c) on a net loop, a
 * 100 ms timer, the embedded config store and the HTTP endpoint.
 *
 * Threads: the RPC loop thread (frames, closes, timer), the HTTP thread, the
 * config store's own loop. `lock` guards the core and is the only lock here;
 * it is taken by the loop callbacks and by the HTTP handler and is never
 * held across a call into net other than net_conn_send/close (which only queue).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/common/mmc_err.h"
#include "memcache/meta/meta_core.h"
#include "memcache/meta/meta_http.h"
#include "memcache/mmc_service.h"
#include "net/net.h"
#include "store/store.h"
#include "util/util_log.h"
#include "util/util_status.h"

#define META_TICK_MS 100u
#define META_OUTQ_BUDGET (256ull << 20) /* bytes queued to all links together */

struct mmc_meta_service {
    mmc_meta_service_config_t cfg;
    pthread_mutex_t lock;
    meta_core_t *core;
    net_loop_t *loop;
    net_listener_t *lis;
    net_timer_t *timer;
    net_tls_t *tls;
    net_tls_t *store_tls;
    store_server_t *store;
    meta_http_t *http;
    uint16_t rpc_port;
};

/* ---------- net glue ---------- */

static int32_t svc_send(void *link, const net_frame_hdr_t *hdr, const void *body, uint32_t len)
{
    return net_conn_send(link, hdr, body, len);
}

static void svc_close(void *link) { net_conn_close(link); }

static const meta_core_ops_t svc_core_ops = {.send = svc_send, .close = svc_close};

/* meta_core_opts_t.rank_verify: asks the embedded config store (started after the listener: until then, no rank
 * can be proven). */
static int32_t svc_rank_verify(void *arg, uint32_t rank, const uint8_t *challenge, uint32_t len, const uint8_t *proof)
{
    struct mmc_meta_service *s = arg;
    store_server_t *st = __atomic_load_n(&s->store, __ATOMIC_ACQUIRE);
    if (st == NULL) return util_err_set(MMC_NOT_PERMITTED, "the config store is not started yet");
    int32_t rc = store_server_rank_verify(st, MMC_BM_GROUP, rank, challenge, len, proof);
    return rc == SMEM_OK ? MMC_OK : rc == SMEM_NOT_PERMITTED ? MMC_NOT_PERMITTED : mmc_status_from_smem(rc);
}

static meta_peer_t *svc_peer_locked(struct mmc_meta_service *s, net_conn_t *conn)
{
    meta_peer_t *p = net_conn_get_ctx(conn);
    if (p != NULL) return p;
    p = meta_core_peer_open(s->core, conn, net_conn_peer(conn));
    if (p == NULL) {
        LOG_ERROR("meta: out of memory for the connection from %s; closing it", net_conn_peer(conn));
        net_conn_close(conn);
        return NULL;
    }
    net_conn_set_ctx(conn, p);
    return p;
}

static void svc_on_open(net_conn_t *conn, void *arg)
{
    struct mmc_meta_service *s = arg;
    pthread_mutex_lock(&s->lock);
    (void)svc_peer_locked(s, conn);
    pthread_mutex_unlock(&s->lock);
}

static void svc_on_frame(net_conn_t *conn, const net_frame_hdr_t *hdr, const uint8_t *body, void *arg)
{
    struct mmc_meta_service *s = arg;
    pthread_mutex_lock(&s->lock);
    meta_peer_t *p = svc_peer_locked(s, conn);
    if (p != NULL) meta_core_dispatch(s->core, p, hdr, body);
    pthread_mutex_unlock(&s->lock);
}

static void svc_on_close(net_conn_t *conn, int32_t reason, void *arg)
{
    struct mmc_meta_service *s = arg;
    pthread_mutex_lock(&s->lock);
    meta_peer_t *p = net_conn_get_ctx(conn);
    if (p != NULL) {
        net_conn_set_ctx(conn, NULL);
        meta_core_peer_close(s->core, p, reason);
    }
    pthread_mutex_unlock(&s->lock);
}

static void svc_tick(void *arg)
{
    struct mmc_meta_service *s = arg;
    pthread_mutex_lock(&s->lock);
    meta_core_tick(s->core);
    pthread_mutex_unlock(&s->lock);
}

/* ---------- TLS ---------- */

/* A TLS block as net's options. */
static int32_t svc_tls_opts(const mmc_tls_config *t, const char *what, net_tls_opts_t *out)
{
    net_tls_opts_t o;
    net_tls_opts_from_block(&o, t);
    o.enable = true;
    if (o.ca_path[0] == '\0' || o.cert_path[0] == '\0' || o.key_path[0] == '\0')
        return util_err_set(MMC_INVALID_PARAM, "%s TLS needs ca.path, cert.path and key.path", what);
    /* decrypterLibPath travels in the file block: net_tls_create loads it (the seed's DecryptPassword). */
    *out = o;
    return MMC_OK;
}

static int32_t svc_tls_create(const mmc_tls_config *t, const char *what, net_tls_t **out)
{
    net_tls_opts_t o;
    int32_t rc = svc_tls_opts(t, what, &o);
    if (rc != MMC_OK) return rc;
    rc = net_tls_create(&o, true, out);
    return rc == 0 ? MMC_OK : mmc_status_from_smem(rc);
}


/* ---------- HTTP handler ---------- */

static void json_str(util_wbuf_t *w, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    util_wbuf_u8(w, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c == '"' || c == '\\') {
            util_wbuf_u8(w, '\\');
            util_wbuf_u8(w, c);
        } else if (c < 0x20 || c >= 0x7f) { /* keys are bytes: non-ASCII shows as U+0080..U+00FF */
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            util_wbuf_bytes(w, e, 6);
        } else {
            util_wbuf_u8(w, c);
        }
    }
    util_wbuf_u8(w, '"');
}

static void wstr(util_wbuf_t *w, const char *s) { util_wbuf_bytes(w, s, strlen(s)); }

static void wfmt(util_wbuf_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wfmt(util_wbuf_t *w, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0) util_wbuf_bytes(w, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static const char *const svc_media[MMC_MEDIA_COUNT] = {"hbm", "dram"};
static const char *const svc_states[] = {"?", "WRITING", "READY", "REMOVING"};

static int svc_http_segments(struct mmc_meta_service *s, util_wbuf_t *w)
{
    uint32_t n = meta_core_segments(s->core, NULL, 0);
    mmc_seg_info_t *seg = n ? calloc(n, sizeof(*seg)) : NULL;
    if (n && seg == NULL) return 500;
    n = meta_core_segments(s->core, seg, n);
    wstr(w, "{\"segments\":[");
    for (uint32_t i = 0; i < n; i++) {
        char host[2 * MMC_HOST_ID_SIZE + 1];
        for (uint32_t k = 0; k < MMC_HOST_ID_SIZE; k++) snprintf(host + 2 * k, 3, "%02x", seg[i].host[k]);
        wfmt(w,
             "%s{\"rank\":%u,\"medium\":\"%s\",\"host\":\"%s\",\"gva\":\"0x%" PRIx64 "\",\"size\":%" PRIu64
             ",\"used\":%" PRIu64 ",\"free_extents\":%" PRIu64 ",\"largest_free\":%" PRIu64 "}",
             i ? "," : "", seg[i].rank, svc_media[seg[i].medium], host, seg[i].gva, seg[i].size, seg[i].used,
             seg[i].free_extents, seg[i].largest_free);
    }
    wstr(w, "]}\n");
    free(seg);
    return 200;
}

static int svc_http_capacity(struct mmc_meta_service *s, util_wbuf_t *w)
{
    mmc_stats_t st;
    meta_core_stats(s->core, &st);
    wstr(w, "{");
    for (uint32_t m = 0; m < MMC_MEDIA_COUNT; m++) {
        const mmc_stats_media_t *md = &st.media[m];
        wfmt(w,
             "%s\"%s\":{\"total\":%" PRIu64 ",\"used\":%" PRIu64 ",\"used_pct\":%.2f,\"objects\":%" PRIu64
             ",\"evictions\":%" PRIu64 "}",
             m ? "," : "", svc_media[m], md->total, md->used, md->total ? 100.0 * (double)md->used / (double)md->total : 0.0,
             md->objects, md->evictions);
    }
    wfmt(w, ",\"objects\":%" PRIu64 ",\"writing\":%" PRIu64 ",\"removing\":%" PRIu64 ",\"segments\":%" PRIu64 "}\n",
         st.objects, st.writing, st.removing, st.segments);
    return 200;
}

/* /keys?prefix=P&limit=N&cursor=C: one page; the core is locked for the page's keys only (they are
 * copied), the JSON is written after. The reply's "cursor" (when "more") asks for the next page. */
static int svc_http_keys(struct mmc_meta_service *s, const char *query, util_wbuf_t *w)
{
    char prefix[MMC_KEY_MAX + 1], limit_s[16], cur_s[2 * MMC_KEY_MAX + 1], after[MMC_KEY_MAX];
    size_t plen = 0, alen = 0;
    uint32_t limit = 100;
    int r = meta_http_query_param(query, "prefix", prefix, sizeof(prefix), &plen);
    if (r < 0) {
        wstr(w, "bad prefix: at most 256 bytes, %XX escapes\n");
        return 400;
    }
    if (r == 0) plen = 0;
    r = meta_http_query_param(query, "limit", limit_s, sizeof(limit_s), NULL);
    if (r < 0 || (r == 1 && (limit_s[0] == '\0' || strspn(limit_s, "0123456789") != strlen(limit_s) ||
                             strtoul(limit_s, NULL, 10) < 1 || strtoul(limit_s, NULL, 10) > MMC_BATCH_MAX))) {
        wfmt(w, "bad limit: 1..%u\n", MMC_BATCH_MAX);
        return 400;
    }
    if (r == 1) limit = (uint32_t)strtoul(limit_s, NULL, 10);
    if (memchr(prefix, '\0', plen) != NULL) {
        wstr(w, "bad prefix: NUL byte\n");
        return 400;
    }
    r = meta_http_query_param(query, "cursor", cur_s, sizeof(cur_s), NULL);
    if (r < 0 || (r == 1 && cur_s[0] != '\0' && meta_http_cursor_decode(cur_s, after, sizeof(after), &alen) != 0)) {
        wstr(w, "bad cursor: pass back the \"cursor\" of the previous page\n");
        return 400;
    }
    mmc_key_ref_t pk = {.p = prefix, .len = (uint32_t)plen}, ak = {.p = after, .len = (uint32_t)alen};
    mmc_list_item_t *items = NULL;
    uint32_t n = 0;
    bool more = false;
    pthread_mutex_lock(&s->lock);
    int32_t rc = meta_core_list(s->core, &pk, &ak, limit, &items, &n, &more);
    pthread_mutex_unlock(&s->lock);
    if (rc != MMC_OK) return 500;
    wstr(w, "{\"keys\":[");
    for (uint32_t i = 0; i < n; i++) {
        wstr(w, i ? ",{\"key\":" : "{\"key\":");
        json_str(w, items[i].key.p, items[i].key.len);
        wfmt(w, ",\"size\":%" PRIu64 ",\"state\":\"%s\",\"replicas\":%u}", items[i].size,
             svc_states[items[i].state <= 3 ? items[i].state : 0], items[i].nrep);
    }
    wfmt(w, "],\"more\":%s", more ? "true" : "false");
    if (more && n > 0) {
        wstr(w, ",\"cursor\":\"");
        meta_http_cursor_encode(w, items[n - 1].key.p, items[n - 1].key.len);
        wstr(w, "\"");
    }
    wstr(w, "}\n");
    free(items);
    return 200;
}

static int svc_http(void *arg, const char *path, const char *query, util_wbuf_t *w, const char **ctype)
{
    struct mmc_meta_service *s = arg;
    int code = 404;
    if (strcmp(path, "/health") == 0) {
        wstr(w, "ok\n");
        return 200;
    }
    if (strcmp(path, "/keys") == 0) { /* locks for its page only */
        code = svc_http_keys(s, query, w);
        *ctype = code == 200 ? "application/json" : "text/plain";
        return code;
    }
    pthread_mutex_lock(&s->lock);
    if (strcmp(path, "/metrics") == 0) {
        *ctype = "text/plain; version=0.0.4";
        meta_core_metrics(s->core, w);
        code = 200;
    } else if (strcmp(path, "/segments") == 0) {
        *ctype = "application/json";
        code = svc_http_segments(s, w);
    } else if (strcmp(path, "/capacity") == 0) {
        *ctype = "application/json";
        code = svc_http_capacity(s, w);
    } else {
        wstr(w, "not found; try /health /metrics /segments /capacity /keys?prefix=&limit=&cursor=\n");
    }
    pthread_mutex_unlock(&s->lock);
    return code;
}

/* The HTTP endpoint: HTTPS with the RPC listener's certificate and key when ock.mmc.tls is on, requiring a client
 * certificate its CA (and CRL) accepts; the files are read here, at start. */
static int32_t svc_http_start(struct mmc_meta_service *s, const net_expose_t *x)
{
    const mmc_meta_service_config_t *cfg = &s->cfg;
    if (s->tls == NULL) return meta_http_start(cfg->httpURL, NULL, x, svc_http, s, &s->http);
    net_tls_opts_t o;
    char *cert = NULL, *key = NULL, *ca = NULL;
    int32_t rc = svc_tls_opts(&cfg->accTlsConfig, "ock.mmc.tls", &o);
    if (rc == MMC_OK && net_tls_pem_load(&o, &cert, &key, &ca) != SMEM_OK)
        rc = util_err_wrap(MMC_INVALID_PARAM, "HTTPS endpoint %s (ock.mmc.tls)", cfg->httpURL);
    if (rc == MMC_OK) {
        meta_http_tls_t ht = {.cert_pem = cert, .key_pem = key, .ca_pem = ca, .verify = s->tls};
        rc = meta_http_start(cfg->httpURL, &ht, x, svc_http, s, &s->http);
    }
    net_tls_pem_free(ca);
    net_tls_pem_free(key);
    net_tls_pem_free(cert);
    return rc;
}

/* ---------- lifetime ---------- */

mmc_meta_service_t mmcs_meta_service_start(mmc_meta_service_config_t *cfg)
{
    int32_t rc = mmc_meta_service_config_check(cfg);
    if (rc != MMC_OK) return NULL;
    struct mmc_meta_service *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        util_err_set(MMC_MALLOC_FAILED, "mmcs_meta_service_start: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    mmc_conf_http_url_fix(s->cfg.httpURL, sizeof(s->cfg.httpURL));
    pthread_mutex_init(&s->lock, NULL);
    util_log_level_set(cfg->logLevel);
    if (mmc_conf_log_open(cfg->logPath, "mmc-meta.log", cfg->logRotationFileSize, cfg->logRotationFileCount) != MMC_OK)
        goto free_service;

    meta_core_opts_t co;
    meta_core_opts_init(&co);
    co.lease_ttl_ms = cfg->leaseTtlMs;
    co.put_timeout_ms = cfg->putTimeoutMs;
    co.soft_pin_ttl_ms = cfg->softPinTtlMs;
    co.evict_high = cfg->evictThresholdHigh;
    co.evict_low = cfg->evictThresholdLow;
    if (cfg->memberCheck && cfg->configStoreURL[0] != '\0') {
        co.rank_verify = svc_rank_verify;
        co.verify_arg = s;
    } else if (cfg->memberCheck) {
        LOG_WARN("meta: no embedded config store (ock.mmc.meta_service.config_store_url is empty): BM membership "
                 "cannot be checked, so any client that reaches the RPC port may MOUNT for any rank and REMOVE_ALL; "
                 "protect the port (ock.mmc.tls with client certificates) or serve the config store from mmc-meta");
    }
    if (meta_core_create(&co, &svc_core_ops, &s->core) != MMC_OK) goto free_service;
    if (cfg->accTlsConfig.tlsEnable && svc_tls_create(&cfg->accTlsConfig, "ock.mmc.tls", &s->tls) != MMC_OK)
        goto destroy_core;
    if (cfg->configStoreTlsConfig.tlsEnable &&
        svc_tls_create(&cfg->configStoreTlsConfig, "ock.mmc.config_store.tls", &s->store_tls) != MMC_OK)
        goto destroy_tls;
    s->loop = net_loop_create("mmc-meta");
    if (s->loop == NULL) goto destroy_tls;

    net_opts_t no;
    net_opts_init(&no);
    no.max_frame = MMC_PROTO_FRAME_MAX;
    no.idle_timeout_ms = cfg->heartbeatTimeoutMs; /* clients heartbeat: silence means a dead LocalService */
    /* Memory bounds against clients that stop reading: four of the largest answers per link, 256 MiB in all. */
    no.max_outq_bytes = 4ull * MMC_PROTO_FRAME_MAX;
    net_loop_set_outq_budget(s->loop, META_OUTQ_BUDGET);
    no.tls = s->tls;
    no.expose = (net_expose_t){.allow_insecure = cfg->allowInsecure, .what = "mmc-meta RPC",
                               .tls_opt = "ock.mmc.tls.enable with ca.path, cert.path, key.path",
                               .switch_opt = "--allow-insecure / ock.mmc.allow_insecure = true"};
    net_conn_cbs_t cbs = {.on_open = svc_on_open, .on_frame = svc_on_frame, .on_close = svc_on_close, .arg = s};
    if (net_listen(s->loop, cfg->discoveryURL, &no, &cbs, &s->lis) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", util_err_get());
        util_err_set(MMC_ERROR, "MetaService cannot listen on %s: %s", cfg->discoveryURL, msg);
        goto destroy_loop;
    }
    s->rpc_port = net_listener_port(s->lis);
    if (net_timer_add(s->loop, META_TICK_MS, svc_tick, s, &s->timer) != 0) goto close_listener;

    if (cfg->configStoreURL[0] != '\0') {
        store_server_opts_t so;
        store_server_opts_init(&so);
        so.net.tls = s->store_tls;
        so.net.expose = no.expose;
        so.net.expose.what = "mmc-meta config store";
        so.net.expose.tls_opt = "ock.mmc.config_store.tls.enable with ca.path, cert.path, key.path";
        /* A restarted MetaService must not hand a survivor's rank to a newcomer. */
        so.recovery_ms = STORE_RECOVERY_DEFAULT_MS;
        store_server_t *st = NULL;
        int32_t src = store_server_start(cfg->configStoreURL, &so, &st);
        __atomic_store_n(&s->store, st, __ATOMIC_RELEASE);
        if (src != 0) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", util_err_get());
            util_err_set(MMC_ERROR, "MetaService cannot start the config store on %s: %s", cfg->configStoreURL, msg);
            goto cancel_timer;
        }
    }
    net_expose_t hx = no.expose;
    hx.what = "mmc-meta HTTP endpoint (key names, segment addresses)";
    hx.tls_opt = "ock.mmc.tls.*: HTTP then serves HTTPS with the same certificate and key";
    if (cfg->httpURL[0] != '\0' && svc_http_start(s, &hx) != MMC_OK) goto stop_store;
    LOG_INFO("meta: MetaService listening on %s (port %u)%s", cfg->discoveryURL, s->rpc_port, s->tls ? " with TLS" : "");
    return s;

stop_store:
    store_server_stop(s->store);
cancel_timer:
    net_timer_cancel(s->timer);
close_listener:
    net_listener_close(s->lis);
destroy_loop:
    net_loop_destroy(s->loop);
destroy_tls:
    net_tls_destroy(s->store_tls);
    net_tls_destroy(s->tls);
destroy_core:
    meta_core_destroy(s->core);
free_service:
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

void mmcs_meta_service_stop(mmc_meta_service_t handle)
{
    struct mmc_meta_service *s = handle;
    if (s == NULL) return;
    meta_http_stop(s->http);
    net_listener_close(s->lis);
    net_timer_cancel(s->timer);
    net_loop_destroy(s->loop); /* on_close runs for every connection: puts revoked, segments unmounted */
    store_server_stop(s->store);
    meta_core_destroy(s->core);
    net_tls_destroy(s->store_tls);
    net_tls_destroy(s->tls);
    pthread_mutex_destroy(&s->lock);
    LOG_INFO("meta: MetaService on port %u stopped", s->rpc_port);
    free(s);
}

uint16_t mmcs_meta_service_port(mmc_meta_service_t handle, mmc_meta_port_t which)
{
    const struct mmc_meta_service *s = handle;
    if (s == NULL) return 0;
    switch (which) {
    case MMC_META_PORT_RPC: return s->rpc_port;
    case MMC_META_PORT_STORE: return s->store ? store_server_port(s->store) : 0;
    case MMC_META_PORT_HTTP: return meta_http_port(s->http);
    default: return 0;
    }
}
