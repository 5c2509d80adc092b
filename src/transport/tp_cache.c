/* Endpoint cache keyed by rank (see tp_cache.h). */
#include "transport/tp_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util_log.h"
#include "util/util_status.h"

struct tp_cache {
    char name[64];
    pthread_mutex_t lock; /* leaf */
    pthread_cond_t cv;    /* inflight dropped */
    tp_iface_t *iface;    /* while attached */
    bool closing;
    uint32_t inflight;    /* references handed out plus connects in progress */
    uint32_t nkeys;
    tp_link_t **cur;      /* the current link per key */
};

int32_t tp_cache_create(const char *name, uint32_t nkeys, tp_cache_t **out)
{
    if (out == NULL || nkeys == 0) return util_err_set(SMEM_INVALID_PARAM, "tp_cache_create: no keys or no output");
    tp_cache_t *c = calloc(1, sizeof(*c));
    if (c != NULL) c->cur = calloc(nkeys, sizeof(*c->cur));
    if (c == NULL || c->cur == NULL) {
        free(c);
        return util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory for %u endpoints", name ? name : "tp", nkeys);
    }
    snprintf(c->name, sizeof(c->name), "%s", name ? name : "tp");
    c->nkeys = nkeys;
    c->closing = true; /* until attached */
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cv, NULL);
    *out = c;
    return SMEM_OK;
}

void tp_cache_destroy(tp_cache_t *c)
{
    if (c == NULL) return;
    (void)tp_cache_detach(c);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->lock);
    free(c->cur);
    free(c);
}

void tp_cache_attach(tp_cache_t *c, tp_iface_t *iface)
{
    pthread_mutex_lock(&c->lock);
    c->iface = iface;
    c->closing = iface == NULL;
    pthread_mutex_unlock(&c->lock);
}

static void tp_link_free(tp_link_t *l)
{
    if (l == NULL) return;
    tp_ep_close(l->ep);
    free(l);
}

tp_iface_t *tp_cache_detach(tp_cache_t *c)
{
    pthread_mutex_lock(&c->lock);
    c->closing = true;
    while (c->inflight > 0) pthread_cond_wait(&c->cv, &c->lock);
    tp_iface_t *iface = c->iface;
    c->iface = NULL;
    pthread_mutex_unlock(&c->lock);
    /* Nobody holds a reference now, so the superseded links are already closed; the current ones go here. */
    for (uint32_t k = 0; k < c->nkeys; k++) {
        tp_link_free(c->cur[k]);
        c->cur[k] = NULL;
    }
    return iface;
}

int32_t tp_cache_reach(tp_cache_t *c, uint32_t key)
{
    pthread_mutex_lock(&c->lock);
    bool up = !c->closing && key < c->nkeys;
    pthread_mutex_unlock(&c->lock);
    if (key >= c->nkeys) return util_err_set(SMEM_INVALID_PARAM, "%s: peer %u out of range (0..%u)", c->name, key, c->nkeys - 1);
    return up ? SMEM_OK : util_err_set(SMEM_NOT_STARTED, "%s: not joined (no data plane to reach rank %u)", c->name, key);
}

static bool tp_link_usable(const tp_link_t *l, const char *addr)
{
    return l != NULL && !l->stale && strcmp(l->ep->addr, addr) == 0;
}

int32_t tp_cache_get(tp_cache_t *c, uint32_t key, const char *addr, tp_link_t **out)
{
    if (key >= c->nkeys) return util_err_set(SMEM_INVALID_PARAM, "%s: peer %u out of range (0..%u)", c->name, key, c->nkeys - 1);
    pthread_mutex_lock(&c->lock);
    if (c->closing) {
        pthread_mutex_unlock(&c->lock);
        return util_err_set(SMEM_NOT_STARTED, "%s: not joined (no data plane to reach rank %u)", c->name, key);
    }
    c->inflight++; /* a reference, or the iface kept open while we connect */
    tp_link_t *l = c->cur[key];
    if (tp_link_usable(l, addr)) {
        l->refs++;
        pthread_mutex_unlock(&c->lock);
        *out = l;
        return SMEM_OK;
    }
    tp_iface_t *iface = c->iface;
    pthread_mutex_unlock(&c->lock);

    tp_link_t *mine = calloc(1, sizeof(*mine)), *drop = NULL;
    int32_t rc = mine == NULL ? util_err_set(SMEM_MALLOC_FAILED, "%s: out of memory", c->name)
                              : tp_ep_connect(iface, addr, &mine->ep);
    pthread_mutex_lock(&c->lock);
    if (rc != SMEM_OK) {
        c->inflight--;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->lock);
        free(mine);
        return rc;
    }
    mine->key = key;
    l = c->cur[key];
    if (tp_link_usable(l, addr)) { /* another thread connected meanwhile: use its link */
        drop = mine;
        mine = l;
    } else {
        if (l != NULL) { /* superseded: closed by its last user, or now */
            l->stale = true;
            if (l->refs == 0) drop = l;
        }
        c->cur[key] = mine;
        LOG_DEBUG("%s: connected to rank %u at %s", c->name, key, addr);
    }
    mine->refs++;
    pthread_mutex_unlock(&c->lock);
    tp_link_free(drop);
    *out = mine;
    return SMEM_OK;
}

void tp_cache_put(tp_cache_t *c, tp_link_t *l, int32_t rc)
{
    tp_link_t *drop = NULL;
    pthread_mutex_lock(&c->lock);
    if (tp_link_failed(rc)) l->stale = true;
    if (--l->refs == 0 && l->stale) {
        drop = l;
        if (c->cur[l->key] == l) c->cur[l->key] = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    tp_link_free(drop); /* outside the lock; inflight still keeps the iface open */
    pthread_mutex_lock(&c->lock);
    c->inflight--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->lock);
}

void tp_cache_invalidate(tp_cache_t *c, uint32_t key)
{
    if (key >= c->nkeys) return;
    /* Only marked: this runs from watch callbacks, which must not block on a close. The next get
     * (or detach) closes it, or its last user does. */
    pthread_mutex_lock(&c->lock);
    if (c->cur[key] != NULL) c->cur[key]->stale = true;
    pthread_mutex_unlock(&c->lock);
}
