/*
 * BM membership events (the seed's smem_bm_set_group_event_handler): a
 * roster over one BM object's member records ("smem/bm/<id>/host/member/<r>")
 * and the BM group's liveness keys ("smem/__live/<r>"). A member record
 * written for a rank not known yet is a JOIN; the record deleted (leave) or
 * the rank's liveness key gone (death) is a LEAVE of a known rank. The
 * members present when the handler is set are listed as known, silently.
 *
 * Threads: the user's callback runs on the store client's callback thread,
 * inside the roster's lock (store_roster.h): it must not block on the store
 * nor destroy the object. ev->lock is a leaf guarding the callback and the
 * known set; the callback is called without it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/host/smem_bm.h"
#include "smem/smem_bm_int.h"
#include "store/store_roster.h"
#include "util/util_log.h"
#include "util/util_status.h"

#define SM_BM_LIVE_PREFIX SMEM_BM_GROUP "/__live/"

struct sm_bm_ev {
    store_roster_t *roster;
    pthread_mutex_t lock;
    smem_bm_group_event_cb cb;
    void *ctx;
    smem_bm_t handle;
    char member_prefix[80];
    uint8_t known[(STORE_WORLD_MAX + 7) / 8];
};

static uint32_t sm_bm_ev_rank(const char *key, const char *prefix)
{
    const char *d = key + strlen(prefix);
    char *end = NULL;
    unsigned long r = strtoul(d, &end, 10);
    return end != d && *end == '\0' && r < STORE_WORLD_MAX ? (uint32_t)r : STORE_WORLD_MAX;
}

/* Marks rank known (join) or unknown (leave); true when that changed it. */
static bool sm_bm_ev_flip_locked(struct sm_bm_ev *ev, uint32_t rank, bool join)
{
    uint8_t bit = (uint8_t)(1u << (rank % 8));
    bool was = (ev->known[rank / 8] & bit) != 0;
    if (was == join) return false;
    if (join) ev->known[rank / 8] |= bit;
    else ev->known[rank / 8] &= (uint8_t)~bit;
    return true;
}

static void sm_bm_ev_on_event(void *arg, store_roster_kind_t kind, const char *key, const uint8_t *val, uint32_t len)
{
    (void)val;
    (void)len;
    struct sm_bm_ev *ev = arg;
    bool member = strncmp(key, ev->member_prefix, strlen(ev->member_prefix)) == 0;
    uint32_t rank = sm_bm_ev_rank(key, member ? ev->member_prefix : SM_BM_LIVE_PREFIX);
    if (rank == STORE_WORLD_MAX || (!member && kind != STORE_ROSTER_DELETE)) return;
    bool join = member && kind != STORE_ROSTER_DELETE;
    pthread_mutex_lock(&ev->lock);
    bool changed = sm_bm_ev_flip_locked(ev, rank, join);
    smem_bm_group_event_cb cb = ev->cb;
    void *ctx = ev->ctx;
    pthread_mutex_unlock(&ev->lock);
    bool listed = kind == STORE_ROSTER_LISTED || kind == STORE_ROSTER_OVERTAKEN;
    if (!changed || listed || cb == NULL) return;
    LOG_DEBUG("bm: group event %s of rank %u", join ? "JOIN" : "LEAVE", rank);
    cb(ev->handle, rank, join ? SMEM_GROUP_EVENT_JOIN : SMEM_GROUP_EVENT_LEAVE, ctx);
}

int32_t smem_bm_set_group_event_handler(smem_bm_t handle, smem_bm_group_event_cb cb, void *context)
{
    sm_bm_obj_t *o = sm_bm_obj_get(handle, "smem_bm_set_group_event_handler");
    if (o == NULL) return sm_handle_status();
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&o->op_lock);
    if (o->ev == NULL) {
        store_client_t *store = sm_bm_store();
        struct sm_bm_ev *ev = calloc(1, sizeof(*ev));
        if (store == NULL) rc = util_err_set(SMEM_NOT_INITIALIZED, "smem_bm_set_group_event_handler: no store");
        else if (ev == NULL) rc = util_err_set(SMEM_MALLOC_FAILED, "smem_bm_set_group_event_handler: out of memory");
        if (rc == SMEM_OK) {
            pthread_mutex_init(&ev->lock, NULL);
            ev->handle = handle;
            ev->cb = cb;
            ev->ctx = context;
            snprintf(ev->member_prefix, sizeof(ev->member_prefix), SMEM_BM_GROUP "/bm/%u/host/member/", o->id);
            const char *prefixes[2] = {ev->member_prefix, SM_BM_LIVE_PREFIX};
            rc = store_roster_open(store, prefixes, 2, sm_bm_ev_on_event, ev, &ev->roster);
            if (rc == SMEM_OK) rc = store_roster_list(ev->roster, ev->member_prefix, sm_bm_ev_on_event, ev);
            if (rc != SMEM_OK) {
                rc = util_err_wrap(rc, "smem_bm_set_group_event_handler: watching BM %u's members", o->id);
                store_roster_close(ev->roster);
                pthread_mutex_destroy(&ev->lock);
            }
        }
        if (rc == SMEM_OK) o->ev = ev;
        else free(ev);
    } else {
        pthread_mutex_lock(&o->ev->lock);
        o->ev->cb = cb;
        o->ev->ctx = context;
        pthread_mutex_unlock(&o->ev->lock);
    }
    pthread_mutex_unlock(&o->op_lock);
    sm_bm_obj_put(o);
    return rc;
}

void sm_bm_ev_close(sm_bm_obj_t *o)
{
    struct sm_bm_ev *ev = o->ev;
    if (ev == NULL) return;
    store_roster_close(ev->roster); /* no callback runs after this */
    pthread_mutex_destroy(&ev->lock);
    free(ev);
    o->ev = NULL;
}
