/*
 * Keys in byte order: a B+tree of object pointers beside the hash table, so
 * a LIST page ("keys after K with prefix P, at most N") is a seek and a walk,
 * O(log n + N), instead of a copy and sort of every key.
 *
 * Leaves hold up to META_LEAF_CAP object pointers in key order (an object
 * is its own key); inner nodes up to META_INNER_CAP children and one
 * separator fewer. A separator is its own copy of the shortest prefix of
 * the right child's first key that is greater than the left child's last
 * (so it never points at an object that may be freed): keys in child[i]
 * are >= sep[i - 1] and < sep[i]. Every leaf but an empty root holds a key.
 *
 * Splits: a full node splits in half, except when the new entry goes past
 * its end: then the node stays full and the new one starts the right
 * sibling, so keys put in ascending order fill leaves completely. Removes
 * merge a node into a sibling when both fit in 3/4 of a node (no
 * split/merge ping-pong at a boundary); a node may stay less than half full.
 *
 * Leaves compare without touching the objects: every key of a leaf shares
 * its first `skip` bytes (the common prefix of its first and last keys), and
 * hint[i] holds the next 4 bytes of key i, big-endian, zero-padded (keys
 * hold no NUL, so 0 is "ended", which sorts first). A search checks that
 * the key it looks for has the prefix (one object read), then compares
 * hints and reads an object only on a tie. A key without the prefix sorts
 * before or after every key of the leaf; inserting one shortens the prefix
 * and the leaf's hints are recomputed, as after a merge or a split that
 * lengthened a half's prefix.
 *
 * Memory: one 768-byte leaf per up to 62 keys (12.4..24.8 bytes per key;
 * ~18 for keys put in random order), inner nodes and separators ~1/40 of
 * that. Inserting allocates everything it needs first, so a failed insert
 * leaves the index as it was. Not thread-safe: the core's lock covers it.
 */
#include <stdlib.h>
#include <string.h>

#include "memcache/meta/meta_int.h"
#include "util/util_status.h"

#define META_LEAF_MERGE (META_LEAF_CAP * 3 / 4)
#define META_INNER_MERGE (META_INNER_CAP * 3 / 4)

typedef struct meta_sep {
    uint32_t len;
    char p[];
} meta_sep_t;

/* The fields a search reads come first: a search touches the first 4 cache lines, then one entry. */
typedef struct meta_leaf {
    uint32_t n;
    uint32_t skip; /* bytes every key here shares */
    uint32_t hint[META_LEAF_CAP]; /* key bytes [skip, skip + 4) of e[i], big-endian, zero-padded */
    meta_obj_t *e[META_LEAF_CAP];
} meta_leaf_t;

typedef struct meta_inner {
    uint32_t n;    /* children */
    uint32_t skip; /* bytes every separator here shares */
    uint32_t hint[META_INNER_CAP - 1]; /* separator bytes [skip, skip + 4), as for keys in leaves */
    void *child[META_INNER_CAP];
    meta_sep_t *sep[META_INNER_CAP - 1];
} meta_inner_t;

_Static_assert(sizeof(meta_leaf_t) == 752, "a leaf is one 768-byte malloc chunk");

int meta_key_cmp(const char *a, uint32_t al, const char *b, uint32_t bl)
{
    int d = memcmp(a, b, al < bl ? al : bl);
    if (d != 0) return d;
    return al < bl ? -1 : al > bl;
}

static int obj_cmp(const meta_obj_t *o, const char *k, uint32_t kl) { return meta_key_cmp(meta_obj_key(o), o->klen, k, kl); }

static uint32_t hint_of(const char *k, uint32_t kl, uint32_t skip)
{
    if (skip + 4 <= kl) { /* one big-endian load */
        const uint8_t *b = (const uint8_t *)k + skip;
        return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    uint32_t h = 0;
    for (uint32_t i = 0; i < 4; i++) h = h << 8 | (skip + i < kl ? (uint8_t)k[skip + i] : 0u);
    return h;
}

/* -1, 0, 1 as k against an entry with hint h (both share the first skip bytes), reading the entry
 * (p, len) only on a tie. */
static int hint_cmp(const char *k, uint32_t kl, uint32_t kh, uint32_t h, uint32_t skip, const char *p, uint32_t len)
{
    if (kh != h) return kh < h ? -1 : 1;
    if ((kh & 0xff) == 0) return 0; /* both end inside the hint: equal */
    return meta_key_cmp(k + skip + 4, kl - skip - 4, p + skip + 4, len - skip - 4);
}

/* Whether k lacks the prefix of `skip` bytes that p starts with; then *after says it sorts after. */
static bool lacks_prefix(const char *k, uint32_t kl, const char *p, uint32_t skip, bool *after)
{
    int d = memcmp(k, p, kl < skip ? kl : skip);
    *after = d > 0;
    return d != 0 || kl < skip; /* d == 0 with kl < skip: k is a proper prefix, so it sorts first */
}

/* The separators' shared prefix and every separator's hint. */
static void inner_rehint(meta_inner_t *in)
{
    uint32_t skip = 0;
    if (in->n > 1) {
        const meta_sep_t *a = in->sep[0], *b = in->sep[in->n - 2];
        uint32_t m = a->len < b->len ? a->len : b->len;
        while (skip < m && a->p[skip] == b->p[skip]) skip++;
    }
    in->skip = skip;
    for (uint32_t i = 0; i + 1 < in->n; i++) in->hint[i] = hint_of(in->sep[i]->p, in->sep[i]->len, skip);
}

/* Child index for key k: the number of separators <= k. known: bytes of the separators' prefix k is
 * known to share (it lies between the node's own bounds). */
static uint32_t inner_pos(const meta_inner_t *in, const char *k, uint32_t kl, uint32_t known)
{
    uint32_t ns = in->n - 1, lo = 0, hi = ns;
    bool after;
    if (ns == 0) return 0;
    if (in->skip > known && lacks_prefix(k, kl, in->sep[0]->p, in->skip, &after)) return after ? ns : 0;
    uint32_t kh = hint_of(k, kl, in->skip);
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2, h = in->hint[mid];
        if (h < kh || (h == kh && hint_cmp(k, kl, kh, h, in->skip, in->sep[mid]->p, in->sep[mid]->len) >= 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Bytes two neighbouring separators i - 1 and i of in share, at least: the node's prefix and the
 * leading bytes their hints agree on. */
static uint32_t inner_gap_lcp(const meta_inner_t *in, uint32_t i)
{
    uint32_t a = in->hint[i - 1], b = in->hint[i], l = in->skip;
    for (int sh = 24; sh >= 0 && ((a >> sh) & 0xff) != 0 && ((a >> sh) & 0xff) == ((b >> sh) & 0xff); sh -= 8) l++;
    return l;
}

/* The prefix the leaf's keys share: that of its first and last keys, at most cap (see index_path_t). */
static uint32_t leaf_skip(const meta_leaf_t *lf, uint32_t cap)
{
    if (lf->n == 0) return 0;
    const meta_obj_t *a = lf->e[0], *b = lf->e[lf->n - 1];
    const char *ka = meta_obj_key(a), *kb = meta_obj_key(b);
    uint32_t m = a->klen < b->klen ? a->klen : b->klen, skip = 0;
    if (m > cap) m = cap;
    while (skip < m && ka[skip] == kb[skip]) skip++;
    return skip;
}

static void leaf_rehint(meta_leaf_t *lf, uint32_t skip)
{
    lf->skip = skip;
    for (uint32_t i = 0; i < lf->n; i++) lf->hint[i] = hint_of(meta_obj_key(lf->e[i]), lf->e[i]->klen, skip);
}

/* A path (meta_index_pos_t): every key of its leaf and the key looked for
 * lie between the separators lo and hi, so they share those separators'
 * common prefix (`known` bytes, at least): a leaf prefix no longer than that
 * needs no check. Leaves that have both neighbours keep their prefix that
 * short (cap). */
typedef meta_index_pos_t index_path_t;

static uint32_t sep_lcp(const meta_sep_t *a, const meta_sep_t *b)
{
    if (a == NULL || b == NULL) return 0;
    uint32_t m = a->len < b->len ? a->len : b->len, l = 0;
    while (l < m && a->p[l] == b->p[l]) l++;
    return l;
}

/* known is computed from hints, never by reading separators: a child between two separators of its
 * node has their common prefix; one at an end keeps its parent's. */
static void index_descend(const meta_index_t *x, const char *k, uint32_t kl, index_path_t *ip)
{
    void *node = x->root;
    uint32_t known = 0;
    ip->lo = ip->hi = NULL;
    for (uint32_t h = x->height; h > 0; h--) {
        meta_inner_t *in = node;
        uint32_t i = inner_pos(in, k, kl, known);
        ip->node[h - 1] = in;
        ip->idx[h - 1] = i;
        if (i > 0) ip->lo = in->sep[i - 1]; /* deeper separators are tighter */
        if (i + 1 < in->n) ip->hi = in->sep[i];
        if (i > 0 && i + 1 < in->n) {
            uint32_t g = inner_gap_lcp(in, i);
            if (g > known) known = g;
        }
        node = in->child[i];
    }
    ip->leaf = node;
    ip->known = known;
    ip->cap = ip->lo && ip->hi ? known : UINT32_MAX;
    ip->gen = x->gen;
}

/* First entry of the leaf that is > k (strict) or >= k; known: bytes of the leaf's prefix k is known to
 * share. *outside: k lacks the prefix (then it is 0 or n). */
static uint32_t leaf_pos(const meta_leaf_t *lf, const char *k, uint32_t kl, uint32_t known, bool strict,
                         bool *outside)
{
    *outside = false;
    if (lf->n == 0) return 0;
    if (lf->skip > known) {
        int d = memcmp(k, meta_obj_key(lf->e[0]), kl < lf->skip ? kl : lf->skip);
        if (d != 0 || kl < lf->skip) {
            *outside = true;
            return d > 0 ? lf->n : 0; /* d == 0 here: k is a proper prefix of the prefix, so smaller */
        }
    }
    uint32_t kh = hint_of(k, kl, lf->skip), lo = 0, hi = lf->n, off = lf->skip + 4;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2, h = lf->hint[mid];
        int d;
        if (kh != h)
            d = kh < h ? -1 : 1;
        else if ((kh & 0xff) == 0) /* both end inside the hint: the same key */
            d = 0;
        else
            d = meta_key_cmp(k + off, kl - off, meta_obj_key(lf->e[mid]) + off, lf->e[mid]->klen - off);
        if (d > 0 || (strict && d == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Puts o at pos (room for it) with its hint. */
static void leaf_put(meta_leaf_t *lf, uint32_t pos, meta_obj_t *o)
{
    memmove(&lf->e[pos + 1], &lf->e[pos], (lf->n - pos) * sizeof(lf->e[0]));
    memmove(&lf->hint[pos + 1], &lf->hint[pos], (lf->n - pos) * sizeof(lf->hint[0]));
    lf->e[pos] = o;
    lf->hint[pos] = hint_of(meta_obj_key(o), o->klen, lf->skip);
    lf->n++;
}

int32_t meta_index_init(meta_index_t *x)
{
    memset(x, 0, sizeof(*x));
    x->root = calloc(1, sizeof(meta_leaf_t));
    if (x->root == NULL) return util_err_set(MMC_MALLOC_FAILED, "meta: out of memory for the key index");
    x->leaves = 1;
    return MMC_OK;
}

static void node_free(void *node, uint32_t height)
{
    if (height > 0) {
        meta_inner_t *in = node;
        for (uint32_t i = 0; i < in->n; i++) node_free(in->child[i], height - 1);
        for (uint32_t i = 0; i + 1 < in->n; i++) free(in->sep[i]);
    }
    free(node);
}

void meta_index_fini(meta_index_t *x)
{
    if (x->root != NULL) node_free(x->root, x->height);
    memset(x, 0, sizeof(*x));
}

/* ---------- insert ---------- */

/* The shortest key s with left < s <= right (left < right). */
static meta_sep_t *sep_new(const meta_obj_t *left, const meta_obj_t *right)
{
    const char *a = meta_obj_key(left), *b = meta_obj_key(right);
    uint32_t n = left->klen < right->klen ? left->klen : right->klen, l = 0;
    while (l < n && a[l] == b[l]) l++;
    uint32_t len = l + 1; /* b is not a prefix of a (a < b), so b has byte l */
    meta_sep_t *s = malloc(sizeof(*s) + len);
    if (s == NULL) return NULL;
    s->len = len;
    memcpy(s->p, b, len);
    return s;
}

int32_t meta_index_insert(meta_index_t *x, meta_obj_t *o, const meta_index_pos_t *at)
{
    index_path_t ip;
    if (at != NULL && at->gen == x->gen)
        ip = *at;
    else
        index_descend(x, meta_obj_key(o), o->klen, &ip);
    meta_inner_t **path = ip.node;
    uint32_t *idx = ip.idx;
    meta_leaf_t *lf = ip.leaf;
    bool outside;
    uint32_t pos = leaf_pos(lf, meta_obj_key(o), o->klen, ip.known, false, &outside);
    if (lf->n < META_LEAF_CAP) {
        leaf_put(lf, pos, o);
        if (outside) leaf_rehint(lf, leaf_skip(lf, ip.cap));
        x->n++;
        return MMC_OK;
    }

    /* The leaf splits: allocate the new leaf, its separator, and a node for every full ancestor (and a root). */
    uint32_t full = 0;
    while (full < x->height && path[full]->n == META_INNER_CAP) full++;
    if (full == x->height && x->height + 1 >= META_INDEX_DEPTH)
        return util_err_set(MMC_ERROR, "meta: key index at its depth limit (%u)", META_INDEX_DEPTH);
    uint32_t nnew = full + (full == x->height); /* inner nodes to create */
    meta_inner_t *fresh[META_INDEX_DEPTH + 1] = {0};
    /* Entries e[mid..] move to a new right leaf; o goes left when pos < mid, else right. So the left leaf
     * ends with the old e[mid - 1] and the right one starts with o (pos == mid) or the old e[mid]. */
    uint32_t mid = pos == META_LEAF_CAP ? META_LEAF_CAP : META_LEAF_CAP / 2;
    meta_leaf_t *rl = malloc(sizeof(*rl));
    meta_sep_t *sep = rl ? sep_new(lf->e[mid - 1], pos == mid ? o : lf->e[mid]) : NULL;
    bool ok = sep != NULL;
    for (uint32_t i = 0; i < nnew && ok; i++) ok = (fresh[i] = malloc(sizeof(meta_inner_t))) != NULL;
    if (!ok) {
        free(rl);
        free(sep);
        for (uint32_t i = 0; i < nnew; i++) free(fresh[i]);
        return util_err_set(MMC_MALLOC_FAILED, "meta: out of memory for the key index");
    }
    rl->skip = lf->skip;
    rl->n = META_LEAF_CAP - mid;
    memcpy(rl->e, &lf->e[mid], rl->n * sizeof(lf->e[0]));
    memcpy(rl->hint, &lf->hint[mid], rl->n * sizeof(lf->hint[0]));
    lf->n = mid;
    meta_leaf_t *tgt = pos < mid ? lf : rl;
    leaf_put(tgt, pos < mid ? pos : pos - mid, o);
    /* A half whose keys share more now (or that took a key without the prefix) gets sharper hints. */
    uint32_t skl = leaf_skip(lf, ip.lo ? sep_lcp(ip.lo, sep) : UINT32_MAX);
    uint32_t skr = leaf_skip(rl, ip.hi ? sep_lcp(sep, ip.hi) : UINT32_MAX);
    if ((outside && tgt == lf) || skl > lf->skip) leaf_rehint(lf, skl);
    if ((outside && tgt == rl) || skr > rl->skip) leaf_rehint(rl, skr);
    x->n++;
    x->leaves++;
    x->gen++;

    /* Insert (sep, right) into the ancestors, splitting the full ones. */
    void *right = rl;
    for (uint32_t h = 0;; h++) {
        if (h == x->height) { /* a new root */
            meta_inner_t *root = fresh[nnew - 1];
            root->n = 2;
            root->child[0] = x->root;
            root->child[1] = right;
            root->sep[0] = sep;
            inner_rehint(root);
            x->root = root;
            x->height++;
            x->inners++;
            return MMC_OK;
        }
        meta_inner_t *in = path[h];
        uint32_t at = idx[h] + 1; /* right goes at child[at], sep at sep[at - 1] */
        if (in->n < META_INNER_CAP) {
            memmove(&in->child[at + 1], &in->child[at], (in->n - at) * sizeof(in->child[0]));
            memmove(&in->sep[at], &in->sep[at - 1], (in->n - at) * sizeof(in->sep[0]));
            memmove(&in->hint[at], &in->hint[at - 1], (in->n - at) * sizeof(in->hint[0]));
            in->child[at] = right;
            in->sep[at - 1] = sep;
            in->hint[at - 1] = hint_of(sep->p, sep->len, in->skip);
            in->n++;
            bool after; /* a separator without the others' prefix shortens it */
            if (in->n == 2 ||
                (in->skip > 0 && lacks_prefix(sep->p, sep->len, in->sep[at - 1 > 0 ? 0 : 1]->p, in->skip, &after)))
                inner_rehint(in);
            return MMC_OK;
        }
        /* Split: META_INNER_CAP + 1 children, META_INNER_CAP separators; the one between the halves moves up. */
        void *ch[META_INNER_CAP + 1];
        meta_sep_t *sp[META_INNER_CAP];
        memcpy(ch, in->child, at * sizeof(ch[0]));
        ch[at] = right;
        memcpy(&ch[at + 1], &in->child[at], (META_INNER_CAP - at) * sizeof(ch[0]));
        memcpy(sp, in->sep, (at - 1) * sizeof(sp[0]));
        sp[at - 1] = sep;
        memcpy(&sp[at], &in->sep[at - 1], (META_INNER_CAP - at) * sizeof(sp[0]));
        uint32_t keep = at == META_INNER_CAP ? META_INNER_CAP : (META_INNER_CAP + 1) / 2; /* children left */
        meta_inner_t *rn = fresh[h];
        rn->n = META_INNER_CAP + 1 - keep;
        memcpy(rn->child, &ch[keep], rn->n * sizeof(ch[0]));
        memcpy(rn->sep, &sp[keep], (rn->n - 1) * sizeof(sp[0]));
        in->n = keep;
        memcpy(in->child, ch, keep * sizeof(ch[0]));
        memcpy(in->sep, sp, (keep - 1) * sizeof(sp[0]));
        inner_rehint(in);
        inner_rehint(rn);
        sep = sp[keep - 1];
        right = rn;
        x->inners++;
    }
}

/* ---------- remove ---------- */

/* Takes child i (already freed or merged away) and one separator out of in:
 * the one left of it (i > 0) or, for the first child, the one right of it.
 * The separator is freed unless keep_sep (it moved into a merged node). */
static void inner_cut(meta_inner_t *in, uint32_t i, bool keep_sep)
{
    uint32_t s = i > 0 ? i - 1 : 0;
    if (in->n > 1 && !keep_sep) free(in->sep[s]);
    memmove(&in->child[i], &in->child[i + 1], (in->n - i - 1) * sizeof(in->child[0]));
    if (in->n > 1) {
        memmove(&in->sep[s], &in->sep[s + 1], (in->n - 2 - s) * sizeof(in->sep[0]));
        memmove(&in->hint[s], &in->hint[s + 1], (in->n - 2 - s) * sizeof(in->hint[0])); /* the rest share the prefix */
    }
    in->n--;
}

/* Child i of parent p (p at height h above the leaves, h >= 1) lost an
 * entry or a child: merges it with a neighbour when both fit in 3/4 of a
 * node. Returns whether p lost a child (so p itself may merge next). */
static bool node_rebalance(meta_index_t *x, meta_inner_t *p, uint32_t i, uint32_t h)
{
    for (uint32_t j = i > 0 ? i - 1 : i; j + 1 < p->n && j <= i; j++) { /* pairs (i - 1, i), then (i, i + 1) */
        if (h == 1) {
            meta_leaf_t *a = p->child[j], *b = p->child[j + 1];
            if (a->n + b->n > META_LEAF_MERGE) continue;
            memcpy(&a->e[a->n], b->e, b->n * sizeof(b->e[0]));
            a->n += b->n;
            leaf_rehint(a, leaf_skip(a, UINT32_MAX)); /* a's and b's keys together may share less */
            free(b);
            x->leaves--;
            inner_cut(p, j + 1, false);
            return true;
        }
        meta_inner_t *a = p->child[j], *b = p->child[j + 1];
        if (a->n + b->n > META_INNER_MERGE) continue;
        /* The parent's separator between them comes down between their children. */
        a->sep[a->n - 1] = p->sep[j];
        memcpy(&a->child[a->n], b->child, b->n * sizeof(b->child[0]));
        memcpy(&a->sep[a->n], b->sep, (b->n - 1) * sizeof(b->sep[0]));
        a->n += b->n;
        inner_rehint(a);
        free(b);
        x->inners--;
        inner_cut(p, j + 1, true);
        return true;
    }
    return false;
}

void meta_index_remove(meta_index_t *x, const meta_obj_t *o)
{
    index_path_t ip;
    index_descend(x, meta_obj_key(o), o->klen, &ip);
    meta_inner_t **path = ip.node;
    uint32_t *idx = ip.idx;
    meta_leaf_t *lf = ip.leaf;
    bool outside;
    uint32_t pos = leaf_pos(lf, meta_obj_key(o), o->klen, ip.known, false, &outside);
    if (pos >= lf->n || lf->e[pos] != o) return; /* not indexed (the table never asks that) */
    x->gen++; /* nodes may merge or go below */
    memmove(&lf->e[pos], &lf->e[pos + 1], (lf->n - pos - 1) * sizeof(lf->e[0]));
    memmove(&lf->hint[pos], &lf->hint[pos + 1], (lf->n - pos - 1) * sizeof(lf->hint[0]));
    lf->n--;
    x->n--;
    uint32_t h = 0;
    if (lf->n == 0 && x->height > 0) {
        /* The leaf and the ancestors it was the only child of go; the first ancestor with two children
         * (the root has two) loses one. */
        while (h + 1 < x->height && path[h]->n == 1) h++;
        if (path[h]->n > 1) {
            free(lf);
            x->leaves--;
            for (uint32_t j = 0; j < h; j++) {
                free(path[j]);
                x->inners--;
            }
            inner_cut(path[h], idx[h], false);
            h++;
        }
    }
    while (h < x->height && node_rebalance(x, path[h], idx[h], h + 1)) h++;
    while (x->height > 0 && ((meta_inner_t *)x->root)->n == 1) { /* a root with one child hands over to it */
        meta_inner_t *r = x->root;
        x->root = r->child[0];
        free(r);
        x->inners--;
        x->height--;
    }
}

void meta_index_replace(meta_index_t *x, const meta_obj_t *old, meta_obj_t *o)
{
    index_path_t ip;
    bool outside;
    index_descend(x, meta_obj_key(old), old->klen, &ip);
    meta_leaf_t *lf = ip.leaf;
    uint32_t pos = leaf_pos(lf, meta_obj_key(old), old->klen, ip.known, false, &outside);
    if (pos < lf->n && lf->e[pos] == old) lf->e[pos] = o; /* same key: hints and separators stay right */
}

void meta_index_prefetch(const meta_index_t *x, const char *key, uint32_t len, meta_index_pos_t *pos)
{
    index_descend(x, key, len, pos);
    const char *lf = (const char *)pos->leaf;
    for (size_t off = 0; off < offsetof(meta_leaf_t, e); off += 64) __builtin_prefetch(lf + off, 1); /* what a search reads */
}

/* ---------- walk ---------- */

void meta_index_seek(const meta_index_t *x, const char *key, uint32_t len, bool strict, meta_index_iter_t *it)
{
    index_path_t ip;
    index_descend(x, key, len, &ip);
    it->height = x->height;
    for (uint32_t h = 0; h < x->height; h++) {
        it->path[h] = ip.node[h];
        it->idx[h] = ip.idx[h];
    }
    bool outside;
    it->leaf = ip.leaf;
    it->pos = leaf_pos(ip.leaf, key, len, ip.known, strict, &outside);
}

meta_obj_t *meta_index_next(meta_index_iter_t *it)
{
    meta_leaf_t *lf = it->leaf;
    while (lf != NULL && it->pos >= lf->n) {
        uint32_t h = 0;
        while (h < it->height && it->idx[h] + 1 >= ((meta_inner_t *)it->path[h])->n) h++;
        if (h == it->height) {
            it->leaf = NULL;
            return NULL;
        }
        it->idx[h]++;
        for (; h > 0; h--) {
            it->path[h - 1] = ((meta_inner_t *)it->path[h])->child[it->idx[h]];
            it->idx[h - 1] = 0;
        }
        lf = it->leaf = ((meta_inner_t *)it->path[0])->child[it->idx[0]];
        it->pos = 0;
    }
    return lf != NULL ? lf->e[it->pos++] : NULL;
}

/* ---------- invariants ---------- */

typedef struct index_check {
    size_t keys, leaves, inners;
    const meta_obj_t *prev;
} index_check_t;

/* Keys of node are within [lo, hi) (NULL: unbounded). */
static int32_t node_check(const void *node, uint32_t h, bool root, const meta_sep_t *lo, const meta_sep_t *hi,
                          index_check_t *ck)
{
    if (h == 0) {
        const meta_leaf_t *lf = node;
        ck->leaves++;
        if (lf->n > META_LEAF_CAP || (lf->n == 0 && !root))
            return util_err_set(MMC_ERROR, "meta check: index leaf with %u keys", lf->n);
        for (uint32_t i = 0; i < lf->n; i++) {
            const meta_obj_t *o = lf->e[i];
            if (o->klen < lf->skip || memcmp(meta_obj_key(o), meta_obj_key(lf->e[0]), lf->skip) != 0 ||
                lf->hint[i] != hint_of(meta_obj_key(o), o->klen, lf->skip))
                return util_err_set(MMC_ERROR, "meta check: index leaf prefix/hint of '%s'", meta_obj_key(o));
            if (ck->prev != NULL && obj_cmp(ck->prev, meta_obj_key(o), o->klen) >= 0)
                return util_err_set(MMC_ERROR, "meta check: index out of order at '%s'", meta_obj_key(o));
            if ((lo != NULL && obj_cmp(o, lo->p, lo->len) < 0) || (hi != NULL && obj_cmp(o, hi->p, hi->len) >= 0))
                return util_err_set(MMC_ERROR, "meta check: index key '%s' outside its separators", meta_obj_key(o));
            ck->prev = o;
        }
        ck->keys += lf->n;
        return MMC_OK;
    }
    const meta_inner_t *in = node;
    ck->inners++;
    if (in->n > META_INNER_CAP || in->n < (root ? 2u : 1u))
        return util_err_set(MMC_ERROR, "meta check: index inner node with %u children", in->n);
    for (uint32_t i = 0; i + 1 < in->n; i++) {
        const meta_sep_t *sp = in->sep[i];
        if (sp->len < in->skip || memcmp(sp->p, in->sep[0]->p, in->skip) != 0 ||
            in->hint[i] != hint_of(sp->p, sp->len, in->skip))
            return util_err_set(MMC_ERROR, "meta check: index separator %u prefix/hint", i);
    }
    for (uint32_t i = 0; i < in->n; i++) {
        const meta_sep_t *a = i > 0 ? in->sep[i - 1] : lo, *b = i + 1 < in->n ? in->sep[i] : hi;
        if (a != NULL && b != NULL && meta_key_cmp(a->p, a->len, b->p, b->len) >= 0)
            return util_err_set(MMC_ERROR, "meta check: index separators out of order");
        if (node_check(in->child[i], h - 1, false, a, b, ck) != MMC_OK) return MMC_ERROR;
    }
    return MMC_OK;
}

int32_t meta_index_check(const meta_index_t *x)
{
    index_check_t ck = {0};
    if (x->root == NULL) return util_err_set(MMC_ERROR, "meta check: no index root");
    if (node_check(x->root, x->height, true, NULL, NULL, &ck) != MMC_OK) return MMC_ERROR;
    if (ck.keys != x->n || ck.leaves != x->leaves || ck.inners != x->inners)
        return util_err_set(MMC_ERROR, "meta check: index counts %zu/%zu/%zu vs %zu/%zu/%zu", ck.keys, ck.leaves,
                            ck.inners, x->n, x->leaves, x->inners);
    return MMC_OK;
}
