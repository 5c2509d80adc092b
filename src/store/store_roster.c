/* store_roster: watch, then list, then apply newer events (see store_roster.h). */
#include "store/store_roster.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_map.h"
#include "util/util_log.h"
#include "util/util_status.h"

struct store_roster {
    store_client_t *client;
    store_roster_cb_t cb;
    void *arg;
    uint32_t nwatch;
    uint64_t watch[STORE_ROSTER_PREFIX_MAX];
    char prefix[STORE_ROSTER_PREFIX_MAX][STORE_KEY_MAX + 1];
    pthread_mutex_t mu; /* serializes callbacks; guards seen */
    store_map_t seen;   /* keys an event mentioned since the watch (values unused) */
    bool seen_lossy;    /* a key could not be remembered: every listed item counts as overtaken */
};

static void store_roster_on_event(void *arg, store_event_t ev, const char *key, const uint8_t *val, uint32_t len)
{
    store_roster_t *r = arg;
    uint32_t klen = (uint32_t)strlen(key);
    pthread_mutex_lock(&r->mu);
    if (store_map_find(&r->seen, key, klen) == NULL && store_map_insert(&r->seen, key, klen, NULL, NULL) != SMEM_OK) {
        /* Without the mark a later listing could undo this event: take no listed item from now on. */
        LOG_WARN("roster: out of memory remembering '%s'; later listings will not override any event", key);
        r->seen_lossy = true;
    }
    r->cb(r->arg, ev == STORE_EV_SET ? STORE_ROSTER_SET : STORE_ROSTER_DELETE, key, val, len);
    pthread_mutex_unlock(&r->mu);
}

static void store_roster_unwatch(store_roster_t *r)
{
    for (uint32_t i = 0; i < r->nwatch; i++)
        if (store_unwatch(r->client, r->watch[i]) != SMEM_OK)
            LOG_DEBUG("roster: unwatching '%s': %s", r->prefix[i], util_err_get());
    r->nwatch = 0;
}

int32_t store_roster_open(store_client_t *c, const char *const *prefixes, uint32_t n, store_roster_cb_t cb, void *arg,
                          store_roster_t **out)
{
    if (c == NULL || prefixes == NULL || cb == NULL || out == NULL || n == 0 || n > STORE_ROSTER_PREFIX_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "roster: NULL argument or %u prefixes (1..%u)", n,
                            STORE_ROSTER_PREFIX_MAX);
    for (uint32_t i = 0; i < n; i++)
        if (prefixes[i] == NULL || prefixes[i][0] == '\0' || strlen(prefixes[i]) > STORE_KEY_MAX)
            return util_err_set(SMEM_INVALID_PARAM, "roster: prefix %u is NULL, empty or longer than %u bytes", i,
                                STORE_KEY_MAX);
    store_roster_t *r = calloc(1, sizeof(*r));
    if (r == NULL || store_map_init(&r->seen) != SMEM_OK) {
        free(r);
        return util_err_set(SMEM_MALLOC_FAILED, "roster: out of memory");
    }
    r->client = c;
    r->cb = cb;
    r->arg = arg;
    pthread_mutex_init(&r->mu, NULL);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(r->prefix[i], sizeof(r->prefix[i]), "%s", prefixes[i]);
        int32_t rc = store_watch(c, prefixes[i], true, store_roster_on_event, r, &r->watch[i]);
        if (rc != SMEM_OK) {
            store_roster_close(r);
            return rc;
        }
        r->nwatch = i + 1;
    }
    *out = r;
    return SMEM_OK;
}

int32_t store_roster_list(store_roster_t *r, const char *prefix, store_roster_cb_t cb, void *arg)
{
    if (r == NULL || prefix == NULL || cb == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "roster list: NULL argument");
    bool watched = false;
    for (uint32_t i = 0; i < r->nwatch && !watched; i++)
        watched = strncmp(prefix, r->prefix[i], strlen(r->prefix[i])) == 0;
    if (!watched) return util_err_set(SMEM_INVALID_PARAM, "roster list: '%s' is under no watched prefix", prefix);
    char after[STORE_KEY_MAX + 1] = "";
    for (;;) {
        store_kvlist_t *l = NULL;
        int32_t rc = store_list(r->client, prefix, after, 0, 0, &l);
        if (rc != SMEM_OK) return rc;
        pthread_mutex_lock(&r->mu);
        for (uint32_t i = 0; i < l->count; i++) {
            const store_kvitem_t *it = &l->items[i];
            bool old = r->seen_lossy || store_map_find(&r->seen, it->key, (uint32_t)strlen(it->key)) != NULL;
            cb(arg, old ? STORE_ROSTER_OVERTAKEN : STORE_ROSTER_LISTED, it->key, it->val, it->len);
        }
        pthread_mutex_unlock(&r->mu);
        bool more = l->more && l->count > 0;
        if (more) snprintf(after, sizeof(after), "%s", l->items[l->count - 1].key);
        store_kvlist_free(l);
        if (!more) return SMEM_OK;
    }
}

void store_roster_close(store_roster_t *r)
{
    if (r == NULL) return;
    store_roster_unwatch(r); /* waits out a callback in flight */
    store_map_fini(&r->seen, NULL);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
