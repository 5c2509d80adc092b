/*
 * Intrusive doubly linked list (circular, with a head node), shared by the
 * store and the MetaService. Not thread-safe: the owner's lock or loop thread.
 */
#ifndef UTIL_LIST_H
#define UTIL_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct util_link {
    struct util_link *prev, *next;
} util_link_t;

#define UTIL_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void util_list_init(util_link_t *h) { h->prev = h->next = h; }
static inline bool util_list_empty(const util_link_t *h) { return h->next == h; }
static inline void util_list_add_head(util_link_t *h, util_link_t *n)
{
    n->next = h->next;
    n->prev = h;
    h->next->prev = n;
    h->next = n;
}
static inline void util_list_add_tail(util_link_t *h, util_link_t *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
/* Unlinks n and leaves it self-linked, so a second del is harmless. */
static inline void util_list_del(util_link_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#endif
