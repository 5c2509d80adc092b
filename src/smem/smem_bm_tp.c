/*
 * BM's data plane across hosts: one transport iface per joined BM object,
 * serving our slot of the host pool (tp window SMEM_BM_TP_WINDOW_HOST,
 * offsets from our slot start, bounded by the bytes we back) to peers on
 * other hosts, and endpoints to those peers, connected on the first copy
 * that needs them. The transport is chosen by capability (remote peers, host
 * memory), its address published in our member record (space), and a
 * peer's endpoint re-made when its record carries a new address (it left and
 * joined again) or after the endpoint failed.
 *
 * Endpoints live in a tp_cache keyed by rank (src/transport/tp_cache.h); the
 * route hands the copy engine a referenced one and the window, and xfer calls
 * the transport itself.
 *
 * Locks: only the cache's (a leaf). Copies pin the peer's rank for their
 * whole duration (xfer), so space_leave has waited for every copy to a
 * peer before sm_bm_tp_close runs; close still waits for endpoint
 * references (tp_cache_detach).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/smem_bm_int.h"
#include "transport/tp.h"
#include "transport/tp_cache.h"
#include "util/util_log.h"
#include "util/util_status.h"

struct sm_bm_tp {
    char hcom[64];
    char store_url[256];
    uint32_t timeout_ms;
    net_tls_t *tls_server, *tls_client;
    bool cred_private;   /* the store we read the space's secret from was reached over TLS or loopback */
    bool allow_insecure; /* SMEM_BM_FLAG_ALLOW_INSECURE or SMEM_ALLOW_INSECURE=1 */
    const tp_ops_t *ops;
    tp_cache_t *cache; /* endpoints to peers by rank; attached to our iface while joined */
};

/* ---------- server side: the resolver ---------- */

static int32_t sm_bm_tp_resolve(void *arg, uint32_t window, uint64_t off, uint64_t len, tp_access_t acc,
                                  tp_mem_t *out)
{
    sm_bm_obj_t *o = arg;
    (void)acc; /* the pool is readable and writable by every member */
    uint32_t me = space_rank(o->host);
    if (window != SMEM_BM_TP_WINDOW_HOST)
        return util_err_set(SMEM_OBJECT_NOT_EXISTS, "bm %u rank %u exposes its host pool (window %u) only, not window %u",
                            o->id, me, SMEM_BM_TP_WINDOW_HOST, window);
    if (off > o->local_dram || len > o->local_dram - off)
        return util_err_set(SMEM_OUT_OF_RANGE, "bm %u rank %u: offset %" PRIu64 " + %" PRIu64
                                               " bytes is beyond the %" PRIu64 " bytes this rank backs",
                            o->id, me, off, len, o->local_dram);
    gva_window_t *w = space_window(o->host);
    int32_t rc = gva_rank_acquire(w, me);
    if (rc != SMEM_OK) return util_err_set(rc, "bm %u rank %u is leaving the pool", o->id, me);
    out->ptr = (void *)(uintptr_t)(space_slot(o->host, me) + off);
    out->pin = me;
    return SMEM_OK;
}

static void sm_bm_tp_release(void *arg, uint32_t window, const tp_mem_t *mem)
{
    sm_bm_obj_t *o = arg;
    (void)window;
    gva_rank_release(space_window(o->host), (uint32_t)mem->pin);
}

/* ---------- setup / open / close ---------- */

static int32_t sm_bm_tp_tls(const smem_tls_config *t, struct sm_bm_tp *tp)
{
    if (t == NULL || !t->tlsEnable) return SMEM_OK;
    net_tls_opts_t o;
    net_tls_opts_from_block(&o, t);
    int32_t rc = net_tls_create(&o, true, &tp->tls_server);
    if (rc == SMEM_OK) rc = net_tls_create(&o, false, &tp->tls_client);
    if (rc != SMEM_OK) {
        char why[512];
        snprintf(why, sizeof(why), "%s", util_err_get());
        return util_err_set(rc, "hcomTlsConfig: %s", why);
    }
    return SMEM_OK;
}

void sm_bm_tp_teardown(sm_bm_obj_t *o)
{
    struct sm_bm_tp *tp = o->tp;
    if (tp == NULL) return;
    sm_bm_tp_close(o);
    tp_cache_destroy(tp->cache);
    net_tls_destroy(tp->tls_server);
    net_tls_destroy(tp->tls_client);
    free(tp);
    o->tp = NULL;
}

int32_t sm_bm_tp_setup(sm_bm_obj_t *o, const char *hcom_url, const char *store_url, const smem_tls_config *tls,
                         uint32_t timeout_ms, bool allow_insecure)
{
    struct sm_bm_tp *tp = calloc(1, sizeof(*tp));
    if (tp == NULL) return util_err_set(SMEM_MALLOC_FAILED, "bm %u: out of memory for the data plane", o->id);
    o->tp = tp;
    snprintf(tp->hcom, sizeof(tp->hcom), "%s", hcom_url ? hcom_url : "");
    snprintf(tp->store_url, sizeof(tp->store_url), "%s", store_url ? store_url : "");
    tp->timeout_ms = timeout_ms;
    tp->allow_insecure = allow_insecure;
    net_tls_opts_t store_tls;
    sm_store_tls_opts_get(&store_tls);
    net_addr_t sa;
    tp->cred_private = store_tls.enable || (net_addr_parse(tp->store_url, &sa) == SMEM_OK && net_addr_is_local(&sa.ss));
    char name[32];
    snprintf(name, sizeof(name), "bm %u", o->id);
    int32_t rc = tp_cache_create(name, space_world_max(o->host), &tp->cache);
    if (rc == SMEM_OK) {
        tp->ops = tp_select(TP_CAP_REMOTE | TP_CAP_HOST_MEM, 0);
        if (tp->ops == NULL) rc = SMEM_UNSUPPORTED;
    }
    if (rc == SMEM_OK) rc = sm_bm_tp_tls(tls, tp);
    if (rc != SMEM_OK) sm_bm_tp_teardown(o);
    return rc;
}

int32_t sm_bm_tp_open(sm_bm_obj_t *o)
{
    struct sm_bm_tp *tp = o->tp;
    char name[64], addr[TP_ADDR_MAX + 1];
    snprintf(name, sizeof(name), "bm %u rank %u", o->id, space_rank(o->host));
    tp_iface_cfg_t c;
    tp_iface_cfg_init(&c);
    c.name = name;
    c.listen_url = tp->hcom;
    c.reach_url = tp->store_url;
    c.resolver = (tp_resolver_t){.resolve = sm_bm_tp_resolve, .release = sm_bm_tp_release, .arg = o};
    c.timeout_ms = tp->timeout_ms;
    c.tls_server = tp->tls_server;
    c.tls_client = tp->tls_client;
    c.cred = space_secret(o->host); /* peers prove they hold the space's secret before any byte moves */
    c.cred_len = SPACE_SECRET_SIZE;
    c.cred_private = tp->cred_private;
    char what[160];
    snprintf(what, sizeof(what), "%s data server, whose cluster credential came from the config store %s without TLS",
             name, tp->store_url);
    c.expose = (net_expose_t){.allow_insecure = tp->allow_insecure, .what = what,
                              .tls_opt = "hcomTlsConfig, memcache ock.mmc.local_service.hcom.tls.*; or TLS on the "
                                         "config store link",
                              .switch_opt = "SMEM_ALLOW_INSECURE=1 or SMEM_BM_FLAG_ALLOW_INSECURE, memcache "
                                            "ock.mmc.allow_insecure = true"};
    tp_iface_t *iface = NULL;
    int32_t rc = tp_iface_open(tp->ops, &c, &iface);
    if (rc == SMEM_OK) rc = tp_iface_addr(iface, addr, sizeof(addr));
    if (rc == SMEM_OK) rc = space_set_tp_addr(o->host, addr);
    if (rc != SMEM_OK) {
        char why[512];
        snprintf(why, sizeof(why), "%s", util_err_get());
        tp_iface_close(iface);
        return util_err_set(rc, "bm %u: data plane on '%s': %s", o->id, tp->hcom[0] ? tp->hcom : "(auto)", why);
    }
    tp_cache_attach(tp->cache, iface);
    return SMEM_OK;
}

void sm_bm_tp_close(sm_bm_obj_t *o)
{
    struct sm_bm_tp *tp = o->tp;
    if (tp == NULL || tp->cache == NULL) return;
    tp_iface_close(tp_cache_detach(tp->cache)); /* endpoints first, then the iface */
}

/* ---------- the copy engine's route ---------- */

int32_t sm_bm_tp_route(void *arg, gva_window_t *w, uint32_t rank, bool connect, xfer_route_t *out)
{
    sm_bm_obj_t *o = arg;
    (void)w;
    if (o->tp == NULL) return util_err_set(SMEM_NOT_STARTED, "bm %u: no data plane to reach rank %u", o->id, rank);
    int32_t rc = tp_cache_reach(o->tp->cache, rank);
    char addr[TP_ADDR_MAX + 1];
    if (rc == SMEM_OK) rc = space_peer_tp_addr(o->host, rank, addr, sizeof(addr));
    if (rc != SMEM_OK || !connect) return rc;
    out->cache = o->tp->cache;
    out->window = SMEM_BM_TP_WINDOW_HOST;
    return tp_cache_get(o->tp->cache, rank, addr, &out->link);
}
