/*
 * _memcache module functions for the Mooncake-compatible surface
 * (memcache_hybrid.mooncake): upserts, puts with pins, forced and regex
 * removes with counts, and exist / key info that grant a read lease. They
 * act on this process's client (after DistributedObjectStore.init); before
 * it, or after close, they return MMC_NOT_INITIALIZED like the C calls.
 * Statuses are returned, not raised (TypeError / ValueError only for
 * arguments of the wrong kind). Every library call runs with the GIL
 * released; mmcc_uninit waits for calls in flight, so no store guard is
 * needed here.
 *
 * Buffers as in the store's calls: an int address with a size, or a buffer
 * object (its length when size is None). replicate_config: the package's
 * ReplicateConfig or None.
 */
#include "mc_store.h"

#include <string.h>

/* Pins of a put, as the client's flag bits. */
static uint32_t ext_pin_flags(int soft, int hard)
{
    return (soft ? MMC_PUT_SOFT_PIN : 0) | (hard ? MMC_PUT_HARD_PIN : 0);
}

typedef struct ext_ctx {
    uint32_t flags;
    bool upsert;
    const char *pattern;
    uint64_t count;
} ext_ctx_t;

/* ---------- put / upsert ---------- */

static int32_t call_put1(mc_req_t *q)
{
    const ext_ctx_t *c = q->ctx;
    return c->upsert ? mmcc_upsert(q->key, &q->buf, q->opt, c->flags) : mmcc_put_opt(q->key, &q->buf, q->opt, c->flags);
}

static int32_t call_put_n(mc_req_t *q)
{
    const ext_ctx_t *c = q->ctx;
    return c->upsert ? mmcc_batch_upsert(q->keys.v, q->keys.n, q->bufs, q->opt, c->flags, q->res)
                     : mmcc_batch_put(q->keys.v, q->keys.n, q->bufs, q->opt, c->flags, q->res);
}

static PyObject *ext_put_one(PyObject *args, PyObject *kw, bool upsert, const char *fmt)
{
    static char *kwl[] = {"key", "addr", "size", "replicate_config", "soft_pin", "hard_pin", NULL};
    PyObject *key, *addr, *size = Py_None, *cfg = Py_None;
    int soft = 0, hard = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwl, &key, &addr, &size, &cfg, &soft, &hard)) return NULL;
    ext_ctx_t c = {.flags = ext_pin_flags(soft, hard), .upsert = upsert};
    mc_req_t q = {.type = MC_TYPE_AUTO, .ctx = &c};
    PyObject *ret = NULL;
    if (mc_req_key(&q, key) == 0 && mc_req_opts(&q, cfg) == 0 && mc_req_buf(&q, addr, size, false) == 0)
        ret = PyLong_FromLong(mc_nogil(call_put1, &q));
    mc_req_free(&q);
    return ret;
}

static PyObject *ext_put_batch(PyObject *args, PyObject *kw, bool upsert, const char *fmt)
{
    static char *kwl[] = {"keys", "addrs", "sizes", "replicate_config", "soft_pin", "hard_pin", NULL};
    PyObject *keys, *addrs, *sizes = Py_None, *cfg = Py_None;
    int soft = 0, hard = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwl, &keys, &addrs, &sizes, &cfg, &soft, &hard)) return NULL;
    ext_ctx_t c = {.flags = ext_pin_flags(soft, hard), .upsert = upsert};
    mc_req_t q = {.type = MC_TYPE_AUTO, .ctx = &c};
    PyObject *ret = NULL;
    if (mc_req_keys(&q, keys) != 0 || mc_req_opts(&q, cfg) != 0) goto free;
    if (q.no_call) {
        ret = PyList_New(0);
        goto free;
    }
    if (mc_req_bufs(&q, addrs, sizes, false, q.keys.n, "keys") != 0) goto free;
    (void)mc_nogil(call_put_n, &q);
    ret = mc_list_i32(q.res, q.keys.n);
free:
    mc_req_free(&q);
    return ret;
}

static int32_t call_put_layers(mc_req_t *q)
{
    const ext_ctx_t *c = q->ctx;
    return c->upsert ? mmcc_upsert_layers(q->key, q->layers.ptrs[0], q->layers.nl[0], q->opt, c->flags)
                     : mmcc_put_layers(q->key, q->layers.ptrs[0], q->layers.nl[0], q->opt, c->flags);
}

/* One key gathered from a list of buffers (addresses with sizes, or buffer objects), in order. */
static PyObject *ext_put_layers(PyObject *args, PyObject *kw, bool upsert, const char *fmt)
{
    static char *kwl[] = {"key", "bufs", "sizes", "replicate_config", "soft_pin", "hard_pin", NULL};
    PyObject *key, *bufs, *sizes = Py_None, *cfg = Py_None;
    int soft = 0, hard = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwl, &key, &bufs, &sizes, &cfg, &soft, &hard)) return NULL;
    ext_ctx_t c = {.flags = ext_pin_flags(soft, hard), .upsert = upsert};
    mc_req_t q = {.type = MC_TYPE_AUTO, .ctx = &c};
    PyObject *ret = NULL;
    if (mc_req_key(&q, key) == 0 && mc_req_opts(&q, cfg) == 0 && mc_req_layers_one(&q, bufs, sizes, false) == 0)
        ret = PyLong_FromLong(mc_nogil(call_put_layers, &q));
    mc_req_free(&q);
    return ret;
}

static PyObject *ext_upsert_layers(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return ext_put_layers(args, kw, true, "OO|OOpp:upsert_layers");
}

static PyObject *ext_put_layers_ex(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return ext_put_layers(args, kw, false, "OO|OOpp:put_layers_ex");
}

static PyObject *ext_upsert(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return ext_put_one(args, kw, true, "OO|OOpp:upsert");
}

static PyObject *ext_batch_upsert(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return ext_put_batch(args, kw, true, "OO|OOpp:batch_upsert");
}

static PyObject *ext_put_ex(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return ext_put_one(args, kw, false, "OO|OOpp:put_ex");
}

static PyObject *ext_batch_put_ex(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return ext_put_batch(args, kw, false, "OO|OOpp:batch_put_ex");
}

/* ---------- get into a buffer, with the bytes read ---------- */

static int32_t call_get_n1(mc_req_t *q) { return mmcc_get_nread(q->key, &q->buf, 0, q->scratch); }
static int32_t call_get_nn(mc_req_t *q)
{
    return mmcc_batch_get_nread(q->keys.v, q->keys.n, q->bufs, 0, q->res, q->scratch);
}

/* Bytes read (>= 0) or the negative status: Mooncake's get_into convention. */
static PyObject *ext_get_into_n(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"key", "addr", "size", NULL};
    PyObject *key, *addr, *size = Py_None, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:get_into_n", kwl, &key, &addr, &size)) return NULL;
    mc_req_t q = {.type = MC_TYPE_AUTO};
    if (mc_req_key(&q, key) == 0 && mc_req_buf(&q, addr, size, true) == 0 && mc_req_scratch(&q, 1, sizeof(uint64_t)) == 0) {
        int32_t rc = mc_nogil(call_get_n1, &q);
        ret = rc != MMC_OK ? PyLong_FromLong(rc) : PyLong_FromUnsignedLongLong(*(uint64_t *)q.scratch);
    }
    mc_req_free(&q);
    return ret;
}

static PyObject *ext_batch_get_into_n(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"keys", "addrs", "sizes", NULL};
    PyObject *keys, *addrs, *sizes = Py_None, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:batch_get_into_n", kwl, &keys, &addrs, &sizes)) return NULL;
    mc_req_t q = {.type = MC_TYPE_AUTO};
    if (mc_req_keys(&q, keys) != 0) goto free;
    if (q.no_call) {
        ret = PyList_New(0);
        goto free;
    }
    if (mc_req_bufs(&q, addrs, sizes, true, q.keys.n, "keys") != 0 || mc_req_scratch(&q, q.keys.n, sizeof(uint64_t)) != 0)
        goto free;
    (void)mc_nogil(call_get_nn, &q);
    ret = PyList_New(q.keys.n);
    for (uint32_t i = 0; ret != NULL && i < q.keys.n; i++) {
        PyObject *o = q.res[i] != MMC_OK ? PyLong_FromLong(q.res[i])
                                         : PyLong_FromUnsignedLongLong(((const uint64_t *)q.scratch)[i]);
        if (o == NULL) Py_CLEAR(ret);
        else PyList_SET_ITEM(ret, i, o);
    }
free:
    mc_req_free(&q);
    return ret;
}

/* ---------- remove ---------- */

static int32_t call_remove1(mc_req_t *q) { return mmcc_remove(q->key, ((ext_ctx_t *)q->ctx)->flags); }
static int32_t call_remove_n(mc_req_t *q)
{
    return mmcc_batch_remove(q->keys.v, q->keys.n, q->res, ((ext_ctx_t *)q->ctx)->flags);
}
static int32_t call_remove_regex(mc_req_t *q)
{
    ext_ctx_t *c = q->ctx;
    return mmcc_remove_regex(c->pattern, c->flags, &c->count);
}
static int32_t call_remove_all(mc_req_t *q)
{
    ext_ctx_t *c = q->ctx;
    return mmcc_remove_all_count(c->flags, &c->count);
}

static PyObject *ext_remove_ex(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"key", "force", NULL};
    PyObject *key;
    int force = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:remove_ex", kwl, &key, &force)) return NULL;
    ext_ctx_t c = {.flags = force ? MMC_REMOVE_FORCE : 0};
    mc_req_t q = {.ctx = &c};
    PyObject *ret = NULL;
    if (mc_req_key(&q, key) == 0) ret = PyLong_FromLong(mc_nogil(call_remove1, &q));
    mc_req_free(&q);
    return ret;
}

static PyObject *ext_batch_remove_ex(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"keys", "force", NULL};
    PyObject *keys;
    int force = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:batch_remove_ex", kwl, &keys, &force)) return NULL;
    ext_ctx_t c = {.flags = force ? MMC_REMOVE_FORCE : 0};
    mc_req_t q = {.ctx = &c};
    PyObject *ret = NULL;
    if (mc_req_keys(&q, keys) == 0) {
        if (!q.no_call) (void)mc_nogil(call_remove_n, &q);
        ret = mc_list_i32(q.res, q.keys.n);
    }
    mc_req_free(&q);
    return ret;
}

/* A count (>= 0) or the negative status. */
static PyObject *ext_count(int32_t rc, const ext_ctx_t *c)
{
    return rc != MMC_OK ? PyLong_FromLong(rc) : PyLong_FromUnsignedLongLong(c->count);
}

static PyObject *ext_remove_by_regex(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"pattern", "force", NULL};
    const char *pattern;
    Py_ssize_t plen;
    int force = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s#|p:remove_by_regex", kwl, &pattern, &plen, &force)) return NULL;
    if ((size_t)plen != strlen(pattern)) {
        PyErr_SetString(PyExc_ValueError, "pattern must not hold a NUL character");
        return NULL;
    }
    ext_ctx_t c = {.flags = force ? MMC_REMOVE_FORCE : 0, .pattern = pattern};
    mc_req_t q = {.ctx = &c};
    return ext_count(mc_nogil(call_remove_regex, &q), &c);
}

static PyObject *ext_remove_all_ex(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"force", NULL};
    int force = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:remove_all_ex", kwl, &force)) return NULL;
    ext_ctx_t c = {.flags = force ? MMC_REMOVE_FORCE : 0};
    mc_req_t q = {.ctx = &c};
    return ext_count(mc_nogil(call_remove_all, &q), &c);
}

/* ---------- exist / key info with a read lease ---------- */

static int32_t call_exist1(mc_req_t *q) { return mmcc_exist(q->key, MMC_QUERY_LEASE); }
static int32_t call_exist_n(mc_req_t *q) { return mmcc_batch_exist(q->keys.v, q->keys.n, q->res, MMC_QUERY_LEASE); }
static int32_t call_info1(mc_req_t *q) { return mmcc_get_key_info_ex(q->key, q->scratch, MMC_QUERY_LEASE); }
static int32_t call_info_n(mc_req_t *q)
{
    return mmcc_batch_get_key_info_ex(q->keys.v, q->keys.n, q->scratch, q->res, MMC_QUERY_LEASE);
}

static int ext_key_arg(PyObject *args, PyObject *kw, const char *fmt, char *name, PyObject **out)
{
    char *kwl[] = {name, NULL};
    return PyArg_ParseTupleAndKeywords(args, kw, fmt, kwl, out) ? 0 : -1;
}

static PyObject *ext_exist_lease(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    PyObject *key, *ret = NULL;
    if (ext_key_arg(args, kw, "O:exist_lease", "key", &key) != 0) return NULL;
    mc_req_t q = {0};
    if (mc_req_key(&q, key) == 0) ret = PyLong_FromLong(mc_exist_value(mc_nogil(call_exist1, &q)));
    mc_req_free(&q);
    return ret;
}

static PyObject *ext_batch_exist_lease(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    PyObject *keys, *ret = NULL;
    if (ext_key_arg(args, kw, "O:batch_exist_lease", "keys", &keys) != 0) return NULL;
    mc_req_t q = {0};
    if (mc_req_keys(&q, keys) == 0) {
        if (!q.no_call) (void)mc_nogil(call_exist_n, &q);
        for (uint32_t i = 0; i < q.keys.n; i++) q.res[i] = mc_exist_value(q.res[i]);
        ret = mc_list_i32(q.res, q.keys.n);
    }
    mc_req_free(&q);
    return ret;
}

static PyObject *ext_key_info_lease(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    PyObject *key, *ret = NULL;
    if (ext_key_arg(args, kw, "O:key_info_lease", "key", &key) != 0) return NULL;
    mc_req_t q = {0};
    if (mc_req_key(&q, key) == 0 && mc_req_scratch(&q, 1, sizeof(mmc_key_info)) == 0) {
        int32_t rc = mc_nogil(call_info1, &q);
        ret = mc_key_info_new(q.scratch, rc);
    }
    mc_req_free(&q);
    return ret;
}

static PyObject *ext_batch_key_info_lease(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    PyObject *keys, *ret = NULL;
    if (ext_key_arg(args, kw, "O:batch_key_info_lease", "keys", &keys) != 0) return NULL;
    mc_req_t q = {0};
    if (mc_req_keys(&q, keys) != 0) goto free;
    if (q.no_call) {
        ret = PyList_New(0);
        goto free;
    }
    if (mc_req_scratch(&q, q.keys.n, sizeof(mmc_key_info)) != 0) goto free;
    (void)mc_nogil(call_info_n, &q);
    ret = PyList_New(q.keys.n);
    for (uint32_t i = 0; ret != NULL && i < q.keys.n; i++) {
        PyObject *o = mc_key_info_new((const mmc_key_info *)q.scratch + i, q.res[i]);
        if (o == NULL) Py_CLEAR(ret);
        else PyList_SET_ITEM(ret, i, o);
    }
free:
    mc_req_free(&q);
    return ret;
}

#define EXT_M(name, fn, doc) {name, (PyCFunction)(void (*)(void))fn, METH_VARARGS | METH_KEYWORDS, doc}

PyMethodDef mc_ext_methods[] = {
    EXT_M("upsert", ext_upsert,
          "upsert(key, addr, size, replicate_config=None, soft_pin=False, hard_pin=False) -> int: put, or replace "
          "the value in place (readers see the old or the new one, never a mix)"),
    EXT_M("batch_upsert", ext_batch_upsert,
          "batch_upsert(keys, addrs, sizes, replicate_config=None, soft_pin=False, hard_pin=False) -> [int]"),
    EXT_M("upsert_layers", ext_upsert_layers,
          "upsert_layers(key, bufs, sizes=None, replicate_config=None, soft_pin=False, hard_pin=False) -> int: "
          "upsert of the buffers' bytes concatenated in order (Mooncake's upsert_parts)"),
    EXT_M("put_layers_ex", ext_put_layers_ex,
          "put_layers_ex(key, bufs, sizes=None, replicate_config=None, soft_pin=False, hard_pin=False) -> int"),
    EXT_M("put_ex", ext_put_ex,
          "put_ex(key, addr, size, replicate_config=None, soft_pin=False, hard_pin=False) -> int: put with pins"),
    EXT_M("batch_put_ex", ext_batch_put_ex,
          "batch_put_ex(keys, addrs, sizes, replicate_config=None, soft_pin=False, hard_pin=False) -> [int]"),
    EXT_M("get_into_n", ext_get_into_n,
          "get_into_n(key, addr, size=None) -> int: bytes read into the buffer, or a negative error"),
    EXT_M("batch_get_into_n", ext_batch_get_into_n, "batch_get_into_n(keys, addrs, sizes=None) -> [int]"),
    EXT_M("remove_ex", ext_remove_ex,
          "remove_ex(key, force=False) -> int: a leased key is refused (MMC_LEASE_NOT_EXPIRED) unless force"),
    EXT_M("batch_remove_ex", ext_batch_remove_ex, "batch_remove_ex(keys, force=False) -> [int]"),
    EXT_M("remove_by_regex", ext_remove_by_regex,
          "remove_by_regex(pattern, force=False) -> int: keys removed (POSIX extended regex), or a negative error"),
    EXT_M("remove_all_ex", ext_remove_all_ex, "remove_all_ex(force=False) -> int: objects removed, or a negative error"),
    EXT_M("exist_lease", ext_exist_lease, "exist_lease(key) -> int: 1 (and a read lease), 0, or a negative error"),
    EXT_M("batch_exist_lease", ext_batch_exist_lease, "batch_exist_lease(keys) -> [int]"),
    EXT_M("key_info_lease", ext_key_info_lease, "key_info_lease(key) -> KeyInfo (and a read lease)"),
    EXT_M("batch_key_info_lease", ext_batch_key_info_lease, "batch_key_info_lease(keys) -> [KeyInfo]"),
    {NULL, NULL, 0, NULL},
};
