/*
 * BM's data plane across hosts: one transport iface per joined BM object,
 * serving our slot of the host pool (tp window SMEM_BM_TP_WINDOW_HOST,
 * offsets from our slot start, bounded by the bytes we back) to peers on
 * other hosts, and endpoints to those peers, connected on the first copy
 * that needs them. The transport is chosen by capability (remote peers, host
 * memory), its address published in our member record (smem_space), and a
 * peer's endpoint re-made when its record carries a new address (it left and
 * joined again) or after the endpoint failed.
 *
 * Locks: tp->lock is a leaf (endpoint table and reference counts); no
 * transport call is made under it. Copies pin the peer's rank for their whole
 * duration (xfer), so smem_space_leave has waited for every copy to a peer
 * before smem_bm_tp_close runs; close still waits for endpoint references.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/smem_int.h"
#include "transport/tp.h"
#include "util/util_log.h"
#include "util/util_status.h"

typedef struct smem_bm_ep {
    tp_ep_t *ep;
    uint32_t rank;
    uint32_t refs;
    bool stale; /* failed or superseded: the next copy makes a new one */
} smem_bm_ep_t;

struct smem_bm_tp {
    char hcom[64];
    char store_url[256];
    uint32_t timeout_ms;
    net_tls_t *tls_server, *tls_client;
    const tp_ops_t *ops;
    pthread_mutex_t lock; /* leaf */
    pthread_cond_t cv;    /* refs dropped */
    tp_iface_t *iface;    /* while joined */
    bool closing;
    uint32_t inflight;    /* endpoint references handed out */
    uint32_t world;
    smem_bm_ep_t **eps;
};

/* ---------- server side: the resolver ---------- */

static int32_t smem_bm_tp_resolve(void *arg, uint32_t window, uint64_t off, uint64_t len, tp_access_t acc,
                                  tp_mem_t *out)
{
    smem_bm_obj_t *o = arg;
    (void)acc; /* the pool is readable and writable by every member */
    uint32_t me = smem_space_rank(o->host);
    if (window != SMEM_BM_TP_WINDOW_HOST)
        return util_err_set(SMEM_OBJECT_NOT_EXISTS, "bm %u rank %u exposes its host pool (window %u) only, not window %u",
                            o->id, me, SMEM_BM_TP_WINDOW_HOST, window);
    if (off > o->local_dram || len > o->local_dram - off)
        return util_err_set(SMEM_OUT_OF_RANGE, "bm %u rank %u: offset %" PRIu64 " + %" PRIu64
                                               " bytes is beyond the %" PRIu64 " bytes this rank backs",
                            o->id, me, off, len, o->local_dram);
    gva_window_t *w = smem_space_window(o->host);
    int32_t rc = gva_rank_acquire(w, me);
    if (rc != SMEM_OK) return util_err_set(rc, "bm %u rank %u is leaving the pool", o->id, me);
    out->ptr = (void *)(uintptr_t)(smem_space_slot(o->host, me) + off);
    out->pin = me;
    return SMEM_OK;
}

static void smem_bm_tp_release(void *arg, uint32_t window, const tp_mem_t *mem)
{
    smem_bm_obj_t *o = arg;
    (void)window;
    gva_rank_release(smem_space_window(o->host), (uint32_t)mem->pin);
}

/* ---------- setup / open / close ---------- */

static int32_t smem_bm_tp_tls(const smem_tls_config *t, struct smem_bm_tp *tp)
{
    if (t == NULL || !t->tlsEnable) return SMEM_OK;
    if (t->decrypterLibPath[0] != '\0')
        return util_err_set(SMEM_UNSUPPORTED, "hcomTlsConfig.decrypterLibPath is not supported; use an unencrypted "
                                              "key or a key password file");
    net_tls_opts_t o;
    net_tls_opts_init(&o);
    snprintf(o.ca_path, sizeof(o.ca_path), "%s", t->caPath);
    snprintf(o.crl_path, sizeof(o.crl_path), "%s", t->crlPath);
    snprintf(o.cert_path, sizeof(o.cert_path), "%s", t->certPath);
    snprintf(o.key_path, sizeof(o.key_path), "%s", t->keyPath);
    snprintf(o.key_pass_path, sizeof(o.key_pass_path), "%s", t->keyPassPath);
    int32_t rc = net_tls_create(&o, true, &tp->tls_server);
    if (rc == SMEM_OK) rc = net_tls_create(&o, false, &tp->tls_client);
    if (rc != SMEM_OK) {
        char why[512];
        snprintf(why, sizeof(why), "%s", util_err_get());
        return util_err_set(rc, "hcomTlsConfig: %s", why);
    }
    return SMEM_OK;
}

void smem_bm_tp_teardown(smem_bm_obj_t *o)
{
    struct smem_bm_tp *tp = o->tp;
    if (tp == NULL) return;
    smem_bm_tp_close(o);
    net_tls_destroy(tp->tls_server);
    net_tls_destroy(tp->tls_client);
    pthread_cond_destroy(&tp->cv);
    pthread_mutex_destroy(&tp->lock);
    free(tp->eps);
    free(tp);
    o->tp = NULL;
}

int32_t smem_bm_tp_setup(smem_bm_obj_t *o, const char *hcom_url, const char *store_url, const smem_tls_config *tls,
                         uint32_t timeout_ms)
{
    struct smem_bm_tp *tp = calloc(1, sizeof(*tp));
    if (tp == NULL) return util_err_set(SMEM_MALLOC_FAILED, "bm %u: out of memory for the data plane", o->id);
    pthread_mutex_init(&tp->lock, NULL);
    pthread_cond_init(&tp->cv, NULL);
    o->tp = tp;
    snprintf(tp->hcom, sizeof(tp->hcom), "%s", hcom_url ? hcom_url : "");
    snprintf(tp->store_url, sizeof(tp->store_url), "%s", store_url ? store_url : "");
    tp->timeout_ms = timeout_ms;
    tp->world = smem_space_world_max(o->host);
    tp->eps = calloc(tp->world, sizeof(*tp->eps));
    int32_t rc = tp->eps == NULL ? util_err_set(SMEM_MALLOC_FAILED, "bm %u: out of memory", o->id) : SMEM_OK;
    if (rc == SMEM_OK) {
        tp->ops = tp_select(TP_CAP_REMOTE | TP_CAP_HOST_MEM, 0);
        if (tp->ops == NULL) rc = SMEM_UNSUPPORTED;
    }
    if (rc == SMEM_OK) rc = smem_bm_tp_tls(tls, tp);
    if (rc != SMEM_OK) smem_bm_tp_teardown(o);
    return rc;
}

int32_t smem_bm_tp_open(smem_bm_obj_t *o)
{
    struct smem_bm_tp *tp = o->tp;
    char name[64], addr[TP_ADDR_MAX + 1];
    snprintf(name, sizeof(name), "bm %u rank %u", o->id, smem_space_rank(o->host));
    tp_iface_cfg_t c;
    tp_iface_cfg_init(&c);
    c.name = name;
    c.listen_url = tp->hcom;
    c.reach_url = tp->store_url;
    c.resolver = (tp_resolver_t){.resolve = smem_bm_tp_resolve, .release = smem_bm_tp_release, .arg = o};
    c.timeout_ms = tp->timeout_ms;
    c.tls_server = tp->tls_server;
    c.tls_client = tp->tls_client;
    tp_iface_t *iface = NULL;
    int32_t rc = tp_iface_open(tp->ops, &c, &iface);
    if (rc == SMEM_OK) rc = tp_iface_addr(iface, addr, sizeof(addr));
    if (rc == SMEM_OK) rc = smem_space_set_tp_addr(o->host, addr);
    if (rc != SMEM_OK) {
        char why[512];
        snprintf(why, sizeof(why), "%s", util_err_get());
        tp_iface_close(iface);
        return util_err_set(rc, "bm %u: data plane on '%s': %s", o->id, tp->hcom[0] ? tp->hcom : "(auto)", why);
    }
    pthread_mutex_lock(&tp->lock);
    tp->iface = iface;
    tp->closing = false;
    pthread_mutex_unlock(&tp->lock);
    return SMEM_OK;
}

void smem_bm_tp_close(smem_bm_obj_t *o)
{
    struct smem_bm_tp *tp = o->tp;
    if (tp == NULL) return;
    pthread_mutex_lock(&tp->lock);
    tp->closing = true;
    while (tp->inflight > 0) pthread_cond_wait(&tp->cv, &tp->lock);
    tp_iface_t *iface = tp->iface;
    tp->iface = NULL;
    pthread_mutex_unlock(&tp->lock);
    for (uint32_t r = 0; r < tp->world; r++) {
        if (tp->eps[r] == NULL) continue;
        tp_ep_close(tp->eps[r]->ep);
        free(tp->eps[r]);
        tp->eps[r] = NULL;
    }
    tp_iface_close(iface);
}

/* ---------- client side: endpoints ---------- */

static void smem_bm_ep_free(smem_bm_ep_t *e)
{
    if (e == NULL) return;
    tp_ep_close(e->ep);
    free(e);
}

/* A referenced endpoint to rank, connecting when there is none for its current address. */
static int32_t smem_bm_ep_get(smem_bm_obj_t *o, uint32_t rank, smem_bm_ep_t **out)
{
    struct smem_bm_tp *tp = o->tp;
    char addr[TP_ADDR_MAX + 1];
    int32_t rc = smem_space_peer_tp_addr(o->host, rank, addr, sizeof(addr));
    if (rc != SMEM_OK) return rc;
    pthread_mutex_lock(&tp->lock);
    if (tp->iface == NULL || tp->closing) {
        pthread_mutex_unlock(&tp->lock);
        return util_err_set(SMEM_NOT_STARTED, "bm %u: not joined (no data plane)", o->id);
    }
    smem_bm_ep_t *e = tp->eps[rank];
    if (e != NULL && !e->stale && strcmp(e->ep->addr, addr) == 0) {
        e->refs++;
        tp->inflight++;
        pthread_mutex_unlock(&tp->lock);
        *out = e;
        return SMEM_OK;
    }
    tp_iface_t *iface = tp->iface;
    tp->inflight++; /* keeps the iface open while we connect */
    pthread_mutex_unlock(&tp->lock);

    smem_bm_ep_t *mine = calloc(1, sizeof(*mine)), *drop = NULL;
    if (mine == NULL) rc = util_err_set(SMEM_MALLOC_FAILED, "bm %u: out of memory", o->id);
    else rc = tp_ep_connect(iface, addr, &mine->ep);
    pthread_mutex_lock(&tp->lock);
    if (rc != SMEM_OK) {
        tp->inflight--;
        pthread_cond_broadcast(&tp->cv);
        pthread_mutex_unlock(&tp->lock);
        free(mine);
        return rc;
    }
    mine->rank = rank;
    e = tp->eps[rank];
    if (e != NULL && !e->stale && strcmp(e->ep->addr, addr) == 0) { /* another thread won the race */
        drop = mine;
        mine = e;
    } else {
        if (e != NULL) {
            e->stale = true;
            if (e->refs == 0) drop = e;
        }
        tp->eps[rank] = mine;
        LOG_DEBUG("bm %u: connected to rank %u at %s", o->id, rank, addr);
    }
    mine->refs++;
    pthread_mutex_unlock(&tp->lock);
    smem_bm_ep_free(drop);
    *out = mine;
    return SMEM_OK;
}

static void smem_bm_ep_put(smem_bm_obj_t *o, smem_bm_ep_t *e, int32_t rc)
{
    struct smem_bm_tp *tp = o->tp;
    smem_bm_ep_t *drop = NULL;
    pthread_mutex_lock(&tp->lock);
    /* A failed link, or a peer that no longer takes our requests: start afresh next time. */
    if (rc == SMEM_PEER_GONE || rc == SMEM_CONN_FAILED || rc == SMEM_TIMEOUT || rc == SMEM_IO || rc == SMEM_TLS ||
        rc == SMEM_PROTOCOL)
        e->stale = true;
    if (--e->refs == 0 && e->stale && tp->eps[e->rank] != e) drop = e;
    pthread_mutex_unlock(&tp->lock);
    smem_bm_ep_free(drop);
    pthread_mutex_lock(&tp->lock);
    tp->inflight--;
    pthread_cond_broadcast(&tp->cv);
    pthread_mutex_unlock(&tp->lock);
}

/* ---------- the copy engine's view ---------- */

static int32_t smem_bm_xfer_reach(void *arg, gva_window_t *w, uint32_t rank)
{
    smem_bm_obj_t *o = arg;
    (void)w;
    char addr[TP_ADDR_MAX + 1];
    pthread_mutex_lock(&o->tp->lock);
    bool up = o->tp->iface != NULL && !o->tp->closing;
    pthread_mutex_unlock(&o->tp->lock);
    if (!up) return util_err_set(SMEM_NOT_STARTED, "bm %u: not joined (no data plane to reach rank %u)", o->id, rank);
    return smem_space_peer_tp_addr(o->host, rank, addr, sizeof(addr));
}

static int32_t smem_bm_xfer_move(smem_bm_obj_t *o, bool put, uint32_t rank, const xfer_rpiece_t *pieces, size_t n)
{
    smem_bm_ep_t *e = NULL;
    int32_t rc = smem_bm_ep_get(o, rank, &e);
    if (rc != SMEM_OK) return rc;
    rc = put ? tp_put(e->ep, SMEM_BM_TP_WINDOW_HOST, pieces, n) : tp_get(e->ep, SMEM_BM_TP_WINDOW_HOST, pieces, n);
    smem_bm_ep_put(o, e, rc);
    return rc;
}

static int32_t smem_bm_xfer_put(void *arg, gva_window_t *w, uint32_t rank, const xfer_rpiece_t *pieces, size_t n)
{
    (void)w;
    return smem_bm_xfer_move(arg, true, rank, pieces, n);
}

static int32_t smem_bm_xfer_get(void *arg, gva_window_t *w, uint32_t rank, const xfer_rpiece_t *pieces, size_t n)
{
    (void)w;
    return smem_bm_xfer_move(arg, false, rank, pieces, n);
}

static const xfer_tp_ops_t smem_bm_xfer_tp_ops = {
    .name = "the transport", /* logs only */
    .reach = smem_bm_xfer_reach,
    .put = smem_bm_xfer_put,
    .get = smem_bm_xfer_get,
};

int32_t smem_bm_tp_route(void *arg, gva_window_t *w, uint32_t rank, const xfer_tp_ops_t **ops, void **tp)
{
    smem_bm_obj_t *o = arg;
    (void)w;
    if (o->tp == NULL)
        return util_err_set(SMEM_NOT_STARTED, "bm %u: no data plane to reach rank %u", o->id, rank);
    *ops = &smem_bm_xfer_tp_ops;
    *tp = o;
    return SMEM_OK;
}
