/* Key → object hash table (chained, power-of-two buckets, grows at load 1),
 * and beside it the same objects in key order (meta_index.c): both change
 * together, here. */
#include <stdlib.h>
#include <string.h>

#include "memcache/meta/meta_int.h"
#include "util/util_status.h"

#define META_TABLE_MIN 1024u

uint64_t meta_key_hash(const char *key, uint32_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final avalanche for the bucket bits */
    for (uint32_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int32_t meta_table_init(meta_table_t *t)
{
    t->b = calloc(META_TABLE_MIN, sizeof(*t->b));
    if (t->b == NULL) return util_err_set(MMC_MALLOC_FAILED, "meta: out of memory for the object table");
    if (meta_index_init(&t->idx) != MMC_OK) {
        free(t->b);
        t->b = NULL;
        return MMC_MALLOC_FAILED;
    }
    t->nb = META_TABLE_MIN;
    t->n = 0;
    return MMC_OK;
}

void meta_table_fini(meta_table_t *t)
{
    meta_index_fini(&t->idx);
    free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}

meta_obj_t *meta_table_find(const meta_table_t *t, const char *key, uint32_t len, uint64_t hash)
{
    for (meta_obj_t *o = t->b[hash & (t->nb - 1)]; o != NULL; o = o->hnext)
        if (o->hash == hash && o->klen == len && memcmp(meta_obj_key(o), key, len) == 0) return o;
    return NULL;
}

static void meta_table_grow(meta_table_t *t)
{
    size_t nb = t->nb * 2;
    meta_obj_t **b = calloc(nb, sizeof(*b));
    if (b == NULL) return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nb; i++) {
        meta_obj_t *o = t->b[i];
        while (o != NULL) {
            meta_obj_t *next = o->hnext;
            o->hnext = b[o->hash & (nb - 1)];
            b[o->hash & (nb - 1)] = o;
            o = next;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

int32_t meta_table_insert(meta_table_t *t, meta_obj_t *o, const meta_index_pos_t *pos)
{
    int32_t rc = meta_index_insert(&t->idx, o, pos);
    if (rc != MMC_OK) return rc;
    if (t->n >= t->nb) meta_table_grow(t);
    meta_obj_t **head = &t->b[o->hash & (t->nb - 1)];
    o->hnext = *head;
    *head = o;
    t->n++;
    return MMC_OK;
}

void meta_table_replace(meta_table_t *t, const meta_obj_t *old, meta_obj_t *o)
{
    meta_obj_t **pp = &t->b[old->hash & (t->nb - 1)];
    while (*pp != NULL && *pp != old) pp = &(*pp)->hnext;
    if (*pp != old) return;
    o->hnext = old->hnext;
    *pp = o;
    meta_index_replace(&t->idx, old, o);
}

void meta_table_remove(meta_table_t *t, meta_obj_t *o)
{
    meta_obj_t **pp = &t->b[o->hash & (t->nb - 1)];
    while (*pp != NULL && *pp != o) pp = &(*pp)->hnext;
    if (*pp == o) {
        *pp = o->hnext;
        o->hnext = NULL;
        t->n--;
        meta_index_remove(&t->idx, o);
    }
}
