/* Chained hash map with power-of-two buckets, doubled at load factor 1. */
#include "store/store_map.h"

#include <stdlib.h>
#include <string.h>

#include "util/util_status.h"

#define STORE_MAP_MIN_BUCKETS 16u

/* FNV-1a, 64 bit: keys are short and come from trusted-enough clients; the
 * table only needs spread, not DoS resistance (the store is a cluster-internal
 * service behind optional mutual TLS). */
static uint64_t map_hash(const char *k, uint32_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < n; i++) {
        h ^= (uint8_t)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

int32_t store_map_init(store_map_t *m)
{
    m->b = calloc(STORE_MAP_MIN_BUCKETS, sizeof(*m->b));
    if (m->b == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store: out of memory for a hash map");
    m->nb = STORE_MAP_MIN_BUCKETS;
    m->n = 0;
    return SMEM_OK;
}

void store_map_fini(store_map_t *m, void (*free_val)(void *val))
{
    if (m->b == NULL) return;
    for (size_t i = 0; i < m->nb; i++) {
        store_map_ent_t *e = m->b[i];
        while (e != NULL) {
            store_map_ent_t *nx = e->next;
            if (free_val != NULL) free_val(e->val);
            free(e);
            e = nx;
        }
    }
    free(m->b);
    m->b = NULL;
    m->nb = m->n = 0;
}

store_map_ent_t *store_map_find(const store_map_t *m, const char *key, uint32_t klen)
{
    uint64_t h = map_hash(key, klen);
    for (store_map_ent_t *e = m->b[h & (m->nb - 1)]; e != NULL; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) return e;
    return NULL;
}

static void map_grow(store_map_t *m)
{
    size_t nb = m->nb * 2;
    store_map_ent_t **b = calloc(nb, sizeof(*b));
    if (b == NULL) return; /* keep the longer chains; still correct */
    for (size_t i = 0; i < m->nb; i++) {
        store_map_ent_t *e = m->b[i];
        while (e != NULL) {
            store_map_ent_t *nx = e->next;
            size_t j = e->hash & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = nx;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

int32_t store_map_insert(store_map_t *m, const char *key, uint32_t klen, void *val, store_map_ent_t **out)
{
    store_map_ent_t *e = malloc(sizeof(*e) + (size_t)klen + 1);
    if (e == NULL) return util_err_set(SMEM_MALLOC_FAILED, "store: out of memory for a key of %u bytes", klen);
    e->hash = map_hash(key, klen);
    e->val = val;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    if (m->n >= m->nb) map_grow(m);
    size_t j = e->hash & (m->nb - 1);
    e->next = m->b[j];
    m->b[j] = e;
    m->n++;
    if (out != NULL) *out = e;
    return SMEM_OK;
}

void *store_map_remove(store_map_t *m, const char *key, uint32_t klen)
{
    uint64_t h = map_hash(key, klen);
    for (store_map_ent_t **pp = &m->b[h & (m->nb - 1)]; *pp != NULL; pp = &(*pp)->next) {
        store_map_ent_t *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            void *v = e->val;
            *pp = e->next;
            free(e);
            m->n--;
            return v;
        }
    }
    return NULL;
}
