/*
 * Internal containers of the store: a chained hash map from byte-string keys
 * to pointers (the intrusive list is util_list.h). Not thread-safe: the
 * server uses them on its loop thread only, the client under its mutex.
 */
#ifndef STORE_MAP_H
#define STORE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util_list.h"

/* ---------- hash map ---------- */
typedef struct store_map_ent {
    struct store_map_ent *next;
    uint64_t hash;
    void *val;
    uint32_t klen;
    char key[]; /* klen bytes and a NUL, so keys print as C strings */
} store_map_ent_t;

typedef struct store_map {
    store_map_ent_t **b;
    size_t nb; /* power of two */
    size_t n;
} store_map_t;

int32_t store_map_init(store_map_t *m);
/* Frees the entries; free_val (optional) is called on each value. */
void store_map_fini(store_map_t *m, void (*free_val)(void *val));
store_map_ent_t *store_map_find(const store_map_t *m, const char *key, uint32_t klen);
static inline void *store_map_get(const store_map_t *m, const char *key, uint32_t klen)
{
    store_map_ent_t *e = store_map_find(m, key, klen);
    return e ? e->val : NULL;
}
/* Insert a key that is not present; *out (optional) is the new entry, whose
 * key copy stays valid until it is removed. SMEM_MALLOC_FAILED on failure. */
int32_t store_map_insert(store_map_t *m, const char *key, uint32_t klen, void *val, store_map_ent_t **out);
/* Remove the key; returns its value (NULL when absent). */
void *store_map_remove(store_map_t *m, const char *key, uint32_t klen);
static inline size_t store_map_count(const store_map_t *m) { return m->n; }

#endif
