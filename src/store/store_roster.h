/*
 * store_roster: a view of every key under a few prefixes that misses no
 * change. The roster watches the prefixes first; a listing taken after that
 * (store_roster_list, page by page) then fills in what no event has told
 * yet. An event is always at least as new as the listing's value of its key,
 * so a listed key that an event has already mentioned comes marked
 * OVERTAKEN: the caller must not apply it (it may still count it).
 *
 * Callbacks: events run on the store client's callback thread, listed items
 * on the caller of store_roster_list; both under the roster's lock, so they
 * never run at the same time. A callback may take the caller's own lock but
 * must not call the roster or block on the store. The roster remembers each
 * key an event mentioned (as many as there are keys under the prefixes)
 * until it is closed.
 */
#ifndef STORE_ROSTER_H
#define STORE_ROSTER_H

#include <stdint.h>

#include "store/store.h"

typedef enum {
    STORE_ROSTER_SET = 1,   /* event: key now holds val */
    STORE_ROSTER_DELETE,    /* event: key is gone */
    STORE_ROSTER_LISTED,    /* listing: key holds val and no event has mentioned it */
    STORE_ROSTER_OVERTAKEN, /* listing: key holds val, but an event came for it since the watch: do not apply */
} store_roster_kind_t;

typedef void (*store_roster_cb_t)(void *arg, store_roster_kind_t kind, const char *key, const uint8_t *val,
                                  uint32_t len);

typedef struct store_roster store_roster_t;

#define STORE_ROSTER_PREFIX_MAX 4u

/* Watch the n (1..STORE_ROSTER_PREFIX_MAX) prefixes; events go to cb(arg).
 * On failure nothing stays watched. */
int32_t store_roster_open(store_client_t *c, const char *const *prefixes, uint32_t n, store_roster_cb_t cb, void *arg,
                          store_roster_t **out);
/* Every key under prefix (one of the watched ones, or a longer prefix under
 * one) as it is now, delivered to cb(arg) as LISTED or OVERTAKEN. Safe to call
 * again later (e.g. after the store restarted). */
int32_t store_roster_list(store_roster_t *r, const char *prefix, store_roster_cb_t cb, void *arg);
/* Stop watching; when it returns no callback runs or will run. NULL is a no-op. */
void store_roster_close(store_roster_t *r);

#endif
