/*
 * _memcache: DistributedObjectStore over the mmcc_* client (mmc_client.h).
 * Single-key calls return the key's status (0 ok, MMC_* < 0); batch calls
 * return a list with each key's status. Buffers are read from / written to
 * in place (the buffer protocol or (address, size)); the GIL is released
 * around every library call.
 */
#include "mc_int.h"

#include <string.h>

#include "memcache/mmc.h"
#include "memcache/mmc_client.h"

typedef struct {
    PyObject_HEAD
    py_guard_t g;
} mc_store_obj;

static PyTypeObject mc_store_type;

/* MmcDirect values (the seed's copy directions): they pick the buffers' memory type. */
enum { MC_COPY_L2G = 0, MC_COPY_G2L = 1, MC_COPY_G2H = 2, MC_COPY_H2G = 3 };

#define ENTER(s)                                                                                                       \
    do {                                                                                                               \
        if (py_guard_enter(&(s)->g, "DistributedObjectStore") != 0) goto out;                                         \
    } while (0)
#define LEAVE(s) py_guard_leave(&(s)->g)

/* ---------- argument helpers ---------- */

/* write: L2G (device) / H2G (host); read: G2L / G2H. NULL: host. */
static int mc_dir(PyObject *o, bool write, uint32_t *type)
{
    *type = 1;
    if (o == NULL || o == Py_None) return 0;
    uint64_t v;
    if (py_to_u64(o, 3, &v, "direction") != 0) return -1;
    if (write && (v == MC_COPY_L2G || v == MC_COPY_H2G)) *type = v == MC_COPY_L2G ? 0 : 1;
    else if (!write && (v == MC_COPY_G2L || v == MC_COPY_G2H)) *type = v == MC_COPY_G2L ? 0 : 1;
    else {
        PyErr_Format(PyExc_ValueError, "direction %llu is a %s; use %s", (unsigned long long)v,
                     write ? "read" : "write", write ? "MmcDirect.COPY_H2G or COPY_L2G" : "MmcDirect.COPY_G2H or COPY_G2L");
        return -1;
    }
    return 0;
}

static int mc_key(PyObject *o, const char **k) { return py_to_cstr(o, k, NULL, "key"); }

/* ReplicateConfig (replicaNum, preferredLocalServiceIDs[, mediaType]) or None (*out = NULL). */
static int mc_opts(PyObject *o, mmc_put_options *opt, const mmc_put_options **out)
{
    *out = NULL;
    if (o == NULL || o == Py_None) return 0;
    memset(opt, 0, sizeof(*opt));
    opt->mediaType = MMC_MEDIA_NONE;
    for (int i = 0; i < 8; i++) opt->preferredLocalServiceIDs[i] = -1;
    uint64_t v;
    PyObject *a = PyObject_GetAttrString(o, "replicaNum");
    if (a == NULL) return -1;
    int rc = py_to_u64(a, MMC_REPLICA_MAX, &v, "ReplicateConfig.replicaNum");
    Py_DECREF(a);
    if (rc != 0) return -1;
    if (v == 0) {
        PyErr_SetString(PyExc_ValueError, "ReplicateConfig.replicaNum must be 1..8");
        return -1;
    }
    opt->replicaNum = (uint16_t)v;
    a = PyObject_GetAttrString(o, "preferredLocalServiceIDs");
    if (a == NULL) return -1;
    PyObject *f = PySequence_Fast(a, "ReplicateConfig.preferredLocalServiceIDs must be a list of ints");
    Py_DECREF(a);
    if (f == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(f);
    if (n > 8) {
        Py_DECREF(f);
        PyErr_Format(PyExc_ValueError, "ReplicateConfig.preferredLocalServiceIDs has %zd entries, at most 8", n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t id;
        if (py_to_i64(PySequence_Fast_GET_ITEM(f, i), -1, INT32_MAX, &id, "preferredLocalServiceIDs item") != 0) {
            Py_DECREF(f);
            return -1;
        }
        opt->preferredLocalServiceIDs[i] = (int32_t)id;
    }
    Py_DECREF(f);
    if (PyObject_HasAttrString(o, "mediaType")) {
        a = PyObject_GetAttrString(o, "mediaType");
        if (a == NULL) return -1;
        if (a != Py_None) {
            rc = py_to_u64(a, UINT16_MAX, &v, "ReplicateConfig.mediaType");
            opt->mediaType = (uint16_t)v;
        }
        Py_DECREF(a);
        if (rc != 0) return -1;
    }
    *out = opt;
    return 0;
}

static PyObject *mc_list_i32(const int32_t *v, uint32_t n)
{
    PyObject *l = PyList_New(n);
    if (l == NULL) return NULL;
    for (uint32_t i = 0; i < n; i++) {
        PyObject *x = PyLong_FromLong(v[i]);
        if (x == NULL) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, i, x);
    }
    return l;
}

static mmc_buffer mc_buf(const py_mem_t *m, uint32_t type)
{
    return (mmc_buffer){.addr = (uint64_t)(uintptr_t)m->ptr, .type = type, .offset = 0, .len = m->len};
}

/* Per-key buffer lists of a batch layers call, as the C arrays. */
typedef struct {
    uint32_t n;
    py_mem_list_t *lists;
    mmc_buffer *bufs;
    const mmc_buffer **ptrs;
    uint32_t *nl;
} mc_layers_t;

static void mc_layers_free(mc_layers_t *l)
{
    for (uint32_t i = 0; l->lists != NULL && i < l->n; i++) py_mem_list_release(&l->lists[i]);
    PyMem_Free(l->lists);
    PyMem_Free(l->bufs);
    PyMem_Free(l->ptrs);
    PyMem_Free(l->nl);
    memset(l, 0, sizeof(*l));
}

static int mc_layers_get(PyObject *bufs, PyObject *sizes, uint32_t n, bool writable, uint32_t type, mc_layers_t *out)
{
    memset(out, 0, sizeof(*out));
    if (sizes == Py_None) sizes = NULL;
    PyObject *fb = PySequence_Fast(bufs, "layer buffers must be a list (one list of buffers per key)");
    if (fb == NULL) return -1;
    PyObject *fs = sizes ? PySequence_Fast(sizes, "layer sizes must be a list (one list of sizes per key)") : NULL;
    int ret = -1;
    if (sizes != NULL && fs == NULL) goto done;
    if (PySequence_Fast_GET_SIZE(fb) != (Py_ssize_t)n || (fs && PySequence_Fast_GET_SIZE(fs) != (Py_ssize_t)n)) {
        PyErr_Format(PyExc_ValueError, "%u keys but %zd lists of layer buffers%s", n, PySequence_Fast_GET_SIZE(fb),
                     fs ? " (or a different number of size lists)" : "");
        goto done;
    }
    out->lists = PyMem_Calloc(n ? n : 1, sizeof(py_mem_list_t));
    out->ptrs = PyMem_Calloc(n ? n : 1, sizeof(mmc_buffer *));
    out->nl = PyMem_Calloc(n ? n : 1, sizeof(uint32_t));
    if (out->lists == NULL || out->ptrs == NULL || out->nl == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    out->n = n;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (py_mem_list_get(PySequence_Fast_GET_ITEM(fb, i), fs ? PySequence_Fast_GET_ITEM(fs, i) : NULL, writable,
                            &out->lists[i], "layers") != 0)
            goto done;
        if (out->lists[i].n > (Py_ssize_t)UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "too many layers");
            goto done;
        }
        total += (size_t)out->lists[i].n;
    }
    out->bufs = PyMem_Malloc(sizeof(mmc_buffer) * (total ? total : 1));
    if (out->bufs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        out->ptrs[i] = out->bufs + k;
        out->nl[i] = (uint32_t)out->lists[i].n;
        for (Py_ssize_t j = 0; j < out->lists[i].n; j++) out->bufs[k++] = mc_buf(&out->lists[i].v[j], type);
    }
    ret = 0;
done:
    Py_DECREF(fb);
    Py_XDECREF(fs);
    if (ret != 0) mc_layers_free(out);
    return ret;
}

/* ---------- lifecycle ---------- */

static PyObject *st_new(PyTypeObject *t, PyObject *a, PyObject *k)
{
    (void)a;
    (void)k;
    mc_store_obj *s = (mc_store_obj *)t->tp_alloc(t, 0);
    if (s != NULL) memset(&s->g, 0, sizeof(s->g));
    return (PyObject *)s;
}

static PyObject *st_setup(mc_store_obj *s, PyObject *arg)
{
    PyObject *ret = NULL;
    mmc_local_service_config_t c;
    if (mc_local_config_from(arg, &c) != 0) return NULL;
    ENTER(s);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmc_setup(&c);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
out:
    return ret;
}

static PyObject *st_init(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"device_id", "init_bm", NULL};
    PyObject *dev_o = NULL, *ret = NULL;
    int init_bm = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Op:init", kwl, &dev_o, &init_bm)) return NULL;
    uint64_t dev = 0;
    if (dev_o && py_to_u64(dev_o, UINT32_MAX, &dev, "device_id") != 0) return NULL;
    ENTER(s);
    mmc_init_config ic = {.device_id = (uint32_t)dev, .init_bm = init_bm != 0};
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmc_init(&ic);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
out:
    return ret;
}

static PyObject *st_close(mc_store_obj *s, PyObject *u)
{
    (void)u;
    if (!py_guard_close(&s->g)) return PyLong_FromLong(0); /* closed before: nothing to do */
    Py_BEGIN_ALLOW_THREADS
    mmc_uninit();
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(0);
}

static PyObject *st_closed(mc_store_obj *s, void *u)
{
    (void)u;
    return PyBool_FromLong(s->g.closed);
}

/* ---------- put ---------- */

/* put(key, buffer, replicate_config=None) and put_from(key, buffer|addr, size=None, direction, replicate_config) */
static PyObject *st_put_one(mc_store_obj *s, PyObject *key_o, PyObject *buf_o, PyObject *size_o, PyObject *dir_o,
                            PyObject *rc_o)
{
    const char *key;
    uint32_t type;
    mmc_put_options opt;
    const mmc_put_options *op;
    py_mem_t m;
    PyObject *ret = NULL;
    if (mc_key(key_o, &key) || mc_dir(dir_o, true, &type) || mc_opts(rc_o, &opt, &op)) return NULL;
    if (py_mem_get(buf_o, size_o, false, &m, "buffer") != 0) return NULL;
    Py_INCREF(key_o);
    ENTER(s);
    mmc_buffer b = mc_buf(&m, type);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_put(key, &b, op, 0);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
out:
    Py_DECREF(key_o);
    py_mem_release(&m);
    return ret;
}

static PyObject *st_put(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"key", "buffer", "replicate_config", NULL};
    PyObject *k, *b, *r = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:put", kwl, &k, &b, &r)) return NULL;
    if (PyLong_Check(b)) return PyErr_Format(PyExc_TypeError, "put: buffer must be bytes-like (use put_from for addresses)");
    return st_put_one(s, k, b, NULL, NULL, r);
}

static PyObject *st_put_from(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"key", "buffer_ptr", "size", "direction", "replicate_config", NULL};
    PyObject *k, *b, *sz = NULL, *d = NULL, *r = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO:put_from", kwl, &k, &b, &sz, &d, &r)) return NULL;
    return st_put_one(s, k, b, sz, d, r);
}

/* Batch put (from) or get (into) of one buffer per key: the shared argument
 * preparation; one library call with the GIL released; per-key statuses. */
static PyObject *st_batch_bufs(mc_store_obj *s, PyObject *keys_o, PyObject *bufs_o, PyObject *sizes_o,
                               PyObject *dir_o, bool put, PyObject *rc_o)
{
    uint32_t type;
    mmc_put_options opt;
    const mmc_put_options *op = NULL;
    if (mc_dir(dir_o, put, &type) != 0) return NULL;
    if (put && mc_opts(rc_o, &opt, &op) != 0) return NULL;
    py_keys_t k;
    if (py_keys_get(keys_o, MMC_BATCH_MAX, &k) != 0) return NULL;
    py_mem_list_t l = {0};
    mmc_buffer *bv = NULL;
    int32_t *res = NULL;
    PyObject *ret = NULL;
    if (py_mem_list_get(bufs_o, sizes_o, !put, &l, "buffers") != 0) goto free;
    if (l.n != (Py_ssize_t)k.n) {
        PyErr_Format(PyExc_ValueError, "%u keys but %zd buffers", k.n, l.n);
        goto free;
    }
    if (k.n == 0) {
        ret = PyList_New(0);
        goto free;
    }
    bv = PyMem_Malloc(sizeof(mmc_buffer) * k.n);
    res = PyMem_Malloc(sizeof(int32_t) * k.n);
    if (bv == NULL || res == NULL) {
        PyErr_NoMemory();
        goto free;
    }
    for (uint32_t i = 0; i < k.n; i++) bv[i] = mc_buf(&l.v[i], type);
    if (py_guard_enter(&s->g, "DistributedObjectStore") != 0) goto free;
    Py_BEGIN_ALLOW_THREADS
    if (put)
        (void)mmcc_batch_put(k.v, k.n, bv, op, 0, res);
    else
        (void)mmcc_batch_get(k.v, k.n, bv, 0, res);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = mc_list_i32(res, k.n);
free:
    PyMem_Free(bv);
    PyMem_Free(res);
    py_mem_list_release(&l);
    py_keys_free(&k);
    return ret;
}

static PyObject *st_put_batch(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "buffers", "replicate_config", NULL};
    PyObject *k, *b, *r = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:put_batch", kwl, &k, &b, &r)) return NULL;
    return st_batch_bufs(s, k, b, NULL, NULL, true, r);
}

static PyObject *st_batch_put_from(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "buffer_ptrs", "sizes", "direction", "replicate_config", NULL};
    PyObject *k, *b, *sz = NULL, *d = NULL, *r = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO:batch_put_from", kwl, &k, &b, &sz, &d, &r)) return NULL;
    return st_batch_bufs(s, k, b, sz, d, true, r);
}

static PyObject *st_put_from_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"key", "buffer_ptrs", "sizes", "direction", "replicate_config", NULL};
    PyObject *key_o, *b, *sz = NULL, *d = NULL, *r = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO:put_from_layers", kwl, &key_o, &b, &sz, &d, &r)) return NULL;
    const char *key;
    uint32_t type;
    mmc_put_options opt;
    const mmc_put_options *op;
    if (mc_key(key_o, &key) || mc_dir(d, true, &type) || mc_opts(r, &opt, &op)) return NULL;
    mc_layers_t l;
    PyObject *one_b = PyTuple_Pack(1, b), *one_s = sz && sz != Py_None ? PyTuple_Pack(1, sz) : NULL;
    int prc = one_b ? mc_layers_get(one_b, one_s, 1, false, type, &l) : -1;
    Py_XDECREF(one_b);
    Py_XDECREF(one_s);
    if (prc != 0) return NULL;
    Py_INCREF(key_o);
    ENTER(s);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_put_layers(key, l.ptrs[0], l.nl[0], op, 0);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
out:
    Py_DECREF(key_o);
    mc_layers_free(&l);
    return ret;
}

/* batch_put_from_layers / batch_get_into_layers */
static PyObject *st_batch_layers(mc_store_obj *s, PyObject *keys_o, PyObject *b, PyObject *sz, PyObject *d,
                                 PyObject *r, bool put)
{
    uint32_t type;
    mmc_put_options opt;
    const mmc_put_options *op = NULL;
    if (mc_dir(d, put, &type) || (put && mc_opts(r, &opt, &op))) return NULL;
    py_keys_t k;
    if (py_keys_get(keys_o, MMC_BATCH_MAX, &k) != 0) return NULL;
    mc_layers_t l;
    PyObject *ret = NULL;
    int32_t *res = NULL;
    if (mc_layers_get(b, sz, k.n, !put, type, &l) != 0) {
        py_keys_free(&k);
        return NULL;
    }
    if (k.n == 0) {
        ret = PyList_New(0);
        goto free;
    }
    res = PyMem_Malloc(sizeof(int32_t) * k.n);
    if (res == NULL) {
        PyErr_NoMemory();
        goto free;
    }
    if (py_guard_enter(&s->g, "DistributedObjectStore") != 0) goto free;
    Py_BEGIN_ALLOW_THREADS
    if (put) (void)mmcc_batch_put_layers(k.v, k.n, l.ptrs, l.nl, op, 0, res);
    else (void)mmcc_batch_get_layers(k.v, k.n, l.ptrs, l.nl, 0, res);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = mc_list_i32(res, k.n);
free:
    PyMem_Free(res);
    mc_layers_free(&l);
    py_keys_free(&k);
    return ret;
}

static PyObject *st_batch_put_from_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "buffer_ptrs", "sizes", "direction", "replicate_config", NULL};
    PyObject *k, *b, *sz = NULL, *d = NULL, *r = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO:batch_put_from_layers", kwl, &k, &b, &sz, &d, &r)) return NULL;
    return st_batch_layers(s, k, b, sz, d, r, true);
}

static PyObject *st_batch_get_into_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "buffer_ptrs", "sizes", "direction", NULL};
    PyObject *k, *b, *sz = NULL, *d = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:batch_get_into_layers", kwl, &k, &b, &sz, &d)) return NULL;
    return st_batch_layers(s, k, b, sz, d, NULL, false);
}

/* ---------- get ---------- */

static PyObject *st_get(mc_store_obj *s, PyObject *key_o)
{
    const char *key;
    PyObject *ret = NULL;
    if (mc_key(key_o, &key) != 0) return NULL;
    Py_INCREF(key_o);
    ENTER(s);
    for (int attempt = 0; attempt < 3 && ret == NULL; attempt++) {
        mmc_data_info info;
        memset(&info, 0, sizeof(info));
        int32_t rc;
        Py_BEGIN_ALLOW_THREADS
        rc = mmcc_query(key, &info, 0);
        Py_END_ALLOW_THREADS
        if (rc != 0 || !info.valid || info.size == 0 || info.size > (uint64_t)PY_SSIZE_T_MAX) break;
        PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)info.size);
        if (b == NULL) goto leave; /* MemoryError */
        mmc_buffer mb = {.addr = (uint64_t)(uintptr_t)PyBytes_AS_STRING(b), .type = 1, .len = info.size};
        Py_BEGIN_ALLOW_THREADS
        rc = mmcc_get(key, &mb, 0);
        Py_END_ALLOW_THREADS
        if (rc == 0) ret = b;
        else Py_DECREF(b);
        if (rc != MMC_BUFFER_TOO_SMALL) break; /* removed and put again larger between the calls: retry */
    }
    if (ret == NULL) ret = PyBytes_FromStringAndSize("", 0);
leave:
    LEAVE(s);
out:
    Py_DECREF(key_o);
    return ret;
}

static PyObject *st_get_batch(mc_store_obj *s, PyObject *keys_o)
{
    py_keys_t k;
    if (py_keys_get(keys_o, MMC_BATCH_MAX, &k) != 0) return NULL;
    PyObject *ret = NULL, **objs = NULL;
    mmc_data_info *infos = NULL;
    mmc_buffer *bufs = NULL;
    const char **gk = NULL;
    int32_t *res = NULL;
    uint32_t *idx = NULL;
    if (k.n == 0) {
        ret = PyList_New(0);
        goto free;
    }
    objs = PyMem_Calloc(k.n, sizeof(PyObject *));
    infos = PyMem_Calloc(k.n, sizeof(mmc_data_info));
    bufs = PyMem_Calloc(k.n, sizeof(mmc_buffer));
    gk = PyMem_Calloc(k.n, sizeof(char *));
    res = PyMem_Calloc(k.n, sizeof(int32_t));
    idx = PyMem_Calloc(k.n, sizeof(uint32_t));
    if (!objs || !infos || !bufs || !gk || !res || !idx) {
        PyErr_NoMemory();
        goto free;
    }
    if (py_guard_enter(&s->g, "DistributedObjectStore") != 0) goto free;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_batch_query(k.v, k.n, infos, 0);
    Py_END_ALLOW_THREADS
    uint32_t m = 0;
    for (uint32_t i = 0; rc == 0 && i < k.n; i++) {
        if (!infos[i].valid || infos[i].size == 0 || infos[i].size > (uint64_t)PY_SSIZE_T_MAX) continue;
        objs[i] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)infos[i].size);
        if (objs[i] == NULL) {
            LEAVE(s);
            goto free;
        }
        bufs[m] = (mmc_buffer){.addr = (uint64_t)(uintptr_t)PyBytes_AS_STRING(objs[i]), .type = 1,
                               .len = infos[i].size};
        gk[m] = k.v[i];
        idx[m++] = i;
    }
    if (m > 0) {
        Py_BEGIN_ALLOW_THREADS
        (void)mmcc_batch_get(gk, m, bufs, 0, res);
        Py_END_ALLOW_THREADS
    }
    LEAVE(s);
    for (uint32_t j = 0; j < m; j++) {
        if (res[j] != 0) Py_CLEAR(objs[idx[j]]);
    }
    ret = PyList_New(k.n);
    if (ret == NULL) goto free;
    for (uint32_t i = 0; i < k.n; i++) {
        PyObject *o = objs[i] ? objs[i] : PyBytes_FromStringAndSize("", 0);
        objs[i] = NULL;
        if (o == NULL) {
            Py_CLEAR(ret);
            goto free;
        }
        PyList_SET_ITEM(ret, i, o);
    }
free:
    for (uint32_t i = 0; objs && i < k.n; i++) Py_XDECREF(objs[i]);
    PyMem_Free(objs);
    PyMem_Free(infos);
    PyMem_Free(bufs);
    PyMem_Free(gk);
    PyMem_Free(res);
    PyMem_Free(idx);
    py_keys_free(&k);
    return ret;
}

static PyObject *st_get_into(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"key", "buffer_ptr", "size", "direction", NULL};
    PyObject *key_o, *b, *sz = NULL, *d = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:get_into", kwl, &key_o, &b, &sz, &d)) return NULL;
    const char *key;
    uint32_t type;
    py_mem_t m;
    if (mc_key(key_o, &key) || mc_dir(d, false, &type)) return NULL;
    if (py_mem_get(b, sz, true, &m, "buffer") != 0) return NULL;
    Py_INCREF(key_o);
    ENTER(s);
    mmc_buffer mb = mc_buf(&m, type);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_get(key, &mb, 0);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
out:
    Py_DECREF(key_o);
    py_mem_release(&m);
    return ret;
}

static PyObject *st_batch_get_into(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "buffer_ptrs", "sizes", "direction", NULL};
    PyObject *keys_o, *b, *sz = NULL, *d = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:batch_get_into", kwl, &keys_o, &b, &sz, &d)) return NULL;
    return st_batch_bufs(s, keys_o, b, sz, d, false, NULL);
}

static PyObject *st_get_into_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"key", "buffer_ptrs", "sizes", "direction", NULL};
    PyObject *key_o, *b, *sz = NULL, *d = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:get_into_layers", kwl, &key_o, &b, &sz, &d)) return NULL;
    const char *key;
    uint32_t type;
    if (mc_key(key_o, &key) || mc_dir(d, false, &type)) return NULL;
    mc_layers_t l;
    PyObject *one_b = PyTuple_Pack(1, b), *one_s = sz && sz != Py_None ? PyTuple_Pack(1, sz) : NULL;
    int prc = one_b ? mc_layers_get(one_b, one_s, 1, true, type, &l) : -1;
    Py_XDECREF(one_b);
    Py_XDECREF(one_s);
    if (prc != 0) return NULL;
    Py_INCREF(key_o);
    ENTER(s);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_get_layers(key, l.ptrs[0], l.nl[0], 0);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
out:
    Py_DECREF(key_o);
    mc_layers_free(&l);
    return ret;
}

/* ---------- remove, exist, info ---------- */

static PyObject *st_remove(mc_store_obj *s, PyObject *key_o)
{
    const char *key;
    PyObject *ret = NULL;
    if (mc_key(key_o, &key) != 0) return NULL;
    Py_INCREF(key_o);
    ENTER(s);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_remove(key, 0);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
out:
    Py_DECREF(key_o);
    return ret;
}

/* remove_batch / batch_is_exist / batch_remove_lease: keys -> per-key int32 */
typedef int32_t (*mc_keys_fn)(const char **keys, uint32_t n, int32_t *res);
static int32_t mc_fn_remove(const char **k, uint32_t n, int32_t *r) { return mmcc_batch_remove(k, n, r, 0); }
static int32_t mc_fn_exist(const char **k, uint32_t n, int32_t *r) { return mmcc_batch_exist(k, n, r, 0); }
static int32_t mc_fn_rm_lease(const char **k, uint32_t n, int32_t *r) { return mmcc_batch_remove_lease(k, n, r); }

static int32_t mc_exist_value(int32_t rc)
{
    return rc == MMC_OK ? 1 : (rc == MMC_KEY_NOT_FOUND || rc == MMC_OBJECT_NOT_READY) ? 0 : rc;
}

static PyObject *st_keys_call(mc_store_obj *s, PyObject *keys_o, mc_keys_fn fn, bool exist)
{
    py_keys_t k;
    if (py_keys_get(keys_o, MMC_BATCH_MAX, &k) != 0) return NULL;
    PyObject *ret = NULL;
    int32_t *res = NULL;
    if (k.n == 0) {
        ret = PyList_New(0);
        goto free;
    }
    res = PyMem_Malloc(sizeof(int32_t) * k.n);
    if (res == NULL) {
        PyErr_NoMemory();
        goto free;
    }
    if (py_guard_enter(&s->g, "DistributedObjectStore") != 0) goto free;
    Py_BEGIN_ALLOW_THREADS
    (void)fn(k.v, k.n, res);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    if (exist)
        for (uint32_t i = 0; i < k.n; i++) res[i] = mc_exist_value(res[i]);
    ret = mc_list_i32(res, k.n);
free:
    PyMem_Free(res);
    py_keys_free(&k);
    return ret;
}

static PyObject *st_remove_batch(mc_store_obj *s, PyObject *k) { return st_keys_call(s, k, mc_fn_remove, false); }
static PyObject *st_batch_is_exist(mc_store_obj *s, PyObject *k) { return st_keys_call(s, k, mc_fn_exist, true); }
static PyObject *st_batch_remove_lease(mc_store_obj *s, PyObject *k)
{
    return st_keys_call(s, k, mc_fn_rm_lease, false);
}

static PyObject *st_remove_all(mc_store_obj *s, PyObject *u)
{
    (void)u;
    PyObject *ret = NULL;
    ENTER(s);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_remove_all(0);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
out:
    return ret;
}

static PyObject *st_is_exist(mc_store_obj *s, PyObject *key_o)
{
    const char *key;
    PyObject *ret = NULL;
    if (mc_key(key_o, &key) != 0) return NULL;
    Py_INCREF(key_o);
    ENTER(s);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_exist(key, 0);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(mc_exist_value(rc));
out:
    Py_DECREF(key_o);
    return ret;
}

/* KeyInfo(size, loc_list, type_list, gva_list, valid); an absent key: size 0, empty lists. */
static PyObject *mc_key_info(const mmc_key_info *ki, int32_t rc)
{
    PyObject *o = PyStructSequence_New(&mc_key_info_type);
    if (o == NULL) return NULL;
    uint32_t n = rc == 0 ? ki->numBlobs : 0;
    if (n > 8) n = 8;
    PyObject *loc = PyList_New(n), *typ = PyList_New(n), *gva = PyList_New(n);
    if (loc == NULL || typ == NULL || gva == NULL) goto fail;
    for (uint32_t i = 0; i < n; i++) {
        PyObject *a = PyLong_FromUnsignedLong(ki->ranks[i]), *b = PyLong_FromUnsignedLong(ki->types[i]),
                 *c = PyLong_FromUnsignedLongLong(ki->gvas[i]);
        if (a == NULL || b == NULL || c == NULL) {
            Py_XDECREF(a);
            Py_XDECREF(b);
            Py_XDECREF(c);
            goto fail;
        }
        PyList_SET_ITEM(loc, i, a);
        PyList_SET_ITEM(typ, i, b);
        PyList_SET_ITEM(gva, i, c);
    }
    PyObject *size = PyLong_FromUnsignedLongLong(rc == 0 ? ki->size : 0);
    if (size == NULL) goto fail;
    PyStructSequence_SET_ITEM(o, 0, size);
    PyStructSequence_SET_ITEM(o, 1, loc);
    PyStructSequence_SET_ITEM(o, 2, typ);
    PyStructSequence_SET_ITEM(o, 3, gva);
    PyStructSequence_SET_ITEM(o, 4, PyBool_FromLong(rc == 0 && ki->valid));
    PyStructSequence_SET_ITEM(o, 5, PyLong_FromLong(rc));
    return o;
fail:
    Py_XDECREF(loc);
    Py_XDECREF(typ);
    Py_XDECREF(gva);
    Py_DECREF(o);
    return NULL;
}

static PyObject *st_get_key_info(mc_store_obj *s, PyObject *key_o)
{
    const char *key;
    PyObject *ret = NULL;
    if (mc_key(key_o, &key) != 0) return NULL;
    Py_INCREF(key_o);
    ENTER(s);
    mmc_key_info ki;
    memset(&ki, 0, sizeof(ki));
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_get_key_info(key, &ki);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = mc_key_info(&ki, rc);
out:
    Py_DECREF(key_o);
    return ret;
}

static PyObject *st_batch_get_key_info(mc_store_obj *s, PyObject *keys_o)
{
    py_keys_t k;
    if (py_keys_get(keys_o, MMC_BATCH_MAX, &k) != 0) return NULL;
    PyObject *ret = NULL;
    mmc_key_info *ki = PyMem_Calloc(k.n ? k.n : 1, sizeof(mmc_key_info));
    int32_t *res = PyMem_Calloc(k.n ? k.n : 1, sizeof(int32_t));
    if (ki == NULL || res == NULL) {
        PyErr_NoMemory();
        goto free;
    }
    if (k.n > 0) {
        if (py_guard_enter(&s->g, "DistributedObjectStore") != 0) goto free;
        Py_BEGIN_ALLOW_THREADS
        (void)mmcc_batch_get_key_info(k.v, k.n, ki, res);
        Py_END_ALLOW_THREADS
        LEAVE(s);
    }
    ret = PyList_New(k.n);
    for (uint32_t i = 0; ret != NULL && i < k.n; i++) {
        PyObject *o = mc_key_info(&ki[i], res[i]);
        if (o == NULL) Py_CLEAR(ret);
        else PyList_SET_ITEM(ret, i, o);
    }
free:
    PyMem_Free(ki);
    PyMem_Free(res);
    py_keys_free(&k);
    return ret;
}

/* ---------- registration, id ---------- */

static PyObject *st_reg(mc_store_obj *s, PyObject *args, PyObject *kw, bool reg)
{
    static char *kwl[] = {"buffer_ptr", "size", NULL};
    PyObject *b, *sz = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, reg ? "O|O:register_buffer" : "O|O:unregister_buffer", kwl, &b, &sz))
        return NULL;
    py_mem_t m;
    if (py_mem_get(b, sz, false, &m, "buffer") != 0) return NULL;
    ENTER(s);
    int32_t rc;
    uint64_t a = (uint64_t)(uintptr_t)m.ptr, n = m.len;
    Py_BEGIN_ALLOW_THREADS
    rc = reg ? mmcc_register_buffer(a, n) : mmcc_unregister_buffer(a, n);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
out:
    py_mem_release(&m);
    return ret;
}

static PyObject *st_register_buffer(mc_store_obj *s, PyObject *a, PyObject *k) { return st_reg(s, a, k, true); }
static PyObject *st_unregister_buffer(mc_store_obj *s, PyObject *a, PyObject *k) { return st_reg(s, a, k, false); }

static PyObject *st_get_local_service_id(mc_store_obj *s, PyObject *u)
{
    (void)u;
    PyObject *ret = NULL;
    ENTER(s);
    uint32_t id = 0;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_local_service_id(&id);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = rc == 0 ? PyLong_FromUnsignedLong(id) : PyLong_FromLong(rc);
out:
    return ret;
}

/* ---------- GVA level ---------- */

static PyObject *st_batch_alloc(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "sizes", "medium", NULL};
    PyObject *keys_o, *sizes_o, *med_o = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:batch_alloc", kwl, &keys_o, &sizes_o, &med_o)) return NULL;
    uint64_t med = MMC_MEDIA_NONE;
    if (med_o && med_o != Py_None && py_to_u64(med_o, UINT16_MAX, &med, "medium")) return NULL;
    py_keys_t k;
    if (py_keys_get(keys_o, MMC_BATCH_MAX, &k) != 0) return NULL;
    uint64_t *sizes = NULL, *gvas = NULL;
    int32_t *res = NULL;
    Py_ssize_t ns = 0;
    if (py_u64_list(sizes_o, &sizes, &ns, "sizes") != 0) goto free;
    if (ns != (Py_ssize_t)k.n) {
        PyErr_Format(PyExc_ValueError, "%u keys but %zd sizes", k.n, ns);
        goto free;
    }
    gvas = PyMem_Calloc(k.n ? k.n : 1, sizeof(uint64_t));
    res = PyMem_Calloc(k.n ? k.n : 1, sizeof(int32_t));
    if (gvas == NULL || res == NULL) {
        PyErr_NoMemory();
        goto free;
    }
    if (k.n > 0) {
        if (py_guard_enter(&s->g, "DistributedObjectStore") != 0) goto free;
        Py_BEGIN_ALLOW_THREADS
        (void)mmcc_batch_alloc(k.v, sizes, k.n, (uint16_t)med, gvas, res);
        Py_END_ALLOW_THREADS
        LEAVE(s);
    }
    PyObject *rl = mc_list_i32(res, k.n), *gl = PyList_New(k.n);
    for (uint32_t i = 0; gl != NULL && i < k.n; i++) {
        PyObject *g = PyLong_FromUnsignedLongLong(res[i] == 0 ? gvas[i] : 0);
        if (g == NULL) Py_CLEAR(gl);
        else PyList_SET_ITEM(gl, i, g);
    }
    if (rl != NULL && gl != NULL) ret = PyTuple_Pack(2, rl, gl);
    Py_XDECREF(rl);
    Py_XDECREF(gl);
free:
    PyMem_Free(sizes);
    PyMem_Free(gvas);
    PyMem_Free(res);
    py_keys_free(&k);
    return ret;
}

static int mc_copy_dir(PyObject *d, mmc_copy_direction *dir, uint32_t *type)
{
    uint64_t v = MC_COPY_H2G;
    if (d != NULL && d != Py_None && py_to_u64(d, 3, &v, "direction") != 0) return -1;
    *dir = (v == MC_COPY_L2G || v == MC_COPY_H2G) ? MMC_COPY_H2G : MMC_COPY_G2H;
    *type = (v == MC_COPY_L2G || v == MC_COPY_G2L) ? 0 : 1;
    return 0;
}

static PyObject *st_batch_copy(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"gvas", "buffer_ptrs", "sizes", "direction", NULL};
    PyObject *g_o, *b_o, *sz_o = NULL, *d_o = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:batch_copy", kwl, &g_o, &b_o, &sz_o, &d_o)) return NULL;
    mmc_copy_direction dir;
    uint32_t type;
    if (mc_copy_dir(d_o, &dir, &type) != 0) return NULL;
    uint64_t *gvas = NULL, *sizes = NULL;
    Py_ssize_t ng = 0;
    py_mem_list_t l = {0};
    mmc_buffer *bv = NULL;
    if (py_u64_list(g_o, &gvas, &ng, "gvas") != 0) return NULL;
    if (py_mem_list_get(b_o, sz_o, dir == MMC_COPY_G2H, &l, "buffers") != 0) goto free;
    if (l.n != ng) {
        PyErr_Format(PyExc_ValueError, "%zd gvas but %zd buffers", ng, l.n);
        goto free;
    }
    bv = PyMem_Malloc(sizeof(mmc_buffer) * (size_t)(ng + 1));
    sizes = PyMem_Malloc(sizeof(uint64_t) * (size_t)(ng + 1));
    if (bv == NULL || sizes == NULL) {
        PyErr_NoMemory();
        goto free;
    }
    for (Py_ssize_t i = 0; i < ng; i++) {
        bv[i] = mc_buf(&l.v[i], type);
        sizes[i] = l.v[i].len;
    }
    if (py_guard_enter(&s->g, "DistributedObjectStore") != 0) goto free;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_batch_copy(gvas, bv, sizes, (uint32_t)ng, dir);
    Py_END_ALLOW_THREADS
    LEAVE(s);
    ret = PyLong_FromLong(rc);
free:
    PyMem_Free(gvas);
    PyMem_Free(sizes);
    PyMem_Free(bv);
    py_mem_list_release(&l);
    return ret;
}

static PyObject *st_batch_copy_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"gvas", "buffer_ptrs", "sizes", "direction", NULL};
    PyObject *g_o, *b_o, *sz_o = NULL, *d_o = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:batch_copy_layers", kwl, &g_o, &b_o, &sz_o, &d_o)) return NULL;
    mmc_copy_direction dir;
    uint32_t type;
    if (mc_copy_dir(d_o, &dir, &type) != 0) return NULL;
    uint64_t *gvas = NULL;
    Py_ssize_t ng = 0;
    if (py_u64_list(g_o, &gvas, &ng, "gvas") != 0) return NULL;
    mc_layers_t l;
    if (ng > (Py_ssize_t)MMC_BATCH_MAX) {
        PyMem_Free(gvas);
        return PyErr_Format(PyExc_ValueError, "%zd gvas, more than the limit of %u", ng, MMC_BATCH_MAX);
    }
    if (mc_layers_get(b_o, sz_o, (uint32_t)ng, dir == MMC_COPY_G2H, type, &l) != 0) {
        PyMem_Free(gvas);
        return NULL;
    }
    if (py_guard_enter(&s->g, "DistributedObjectStore") == 0) {
        int32_t rc;
        Py_BEGIN_ALLOW_THREADS
        rc = mmcc_batch_copy_layers(gvas, l.ptrs, l.nl, (uint32_t)ng, dir);
        Py_END_ALLOW_THREADS
        LEAVE(s);
        ret = PyLong_FromLong(rc);
    }
    PyMem_Free(gvas);
    mc_layers_free(&l);
    return ret;
}

static PyObject *st_batch_write_finish(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "results", NULL};
    PyObject *keys_o, *res_o, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:batch_write_finish", kwl, &keys_o, &res_o)) return NULL;
    py_keys_t k;
    if (py_keys_get(keys_o, MMC_BATCH_MAX, &k) != 0) return NULL;
    int32_t *in = NULL, *st = NULL;
    PyObject *f = PySequence_Fast(res_o, "results must be a list of ints");
    if (f == NULL) goto free;
    if (PySequence_Fast_GET_SIZE(f) != (Py_ssize_t)k.n) {
        PyErr_Format(PyExc_ValueError, "%u keys but %zd results", k.n, PySequence_Fast_GET_SIZE(f));
        goto free;
    }
    in = PyMem_Calloc(k.n ? k.n : 1, sizeof(int32_t));
    st = PyMem_Calloc(k.n ? k.n : 1, sizeof(int32_t));
    if (in == NULL || st == NULL) {
        PyErr_NoMemory();
        goto free;
    }
    for (uint32_t i = 0; i < k.n; i++) {
        int64_t v;
        if (py_to_i64(PySequence_Fast_GET_ITEM(f, i), INT32_MIN, INT32_MAX, &v, "results item") != 0) goto free;
        in[i] = (int32_t)v;
    }
    if (k.n > 0) {
        if (py_guard_enter(&s->g, "DistributedObjectStore") != 0) goto free;
        Py_BEGIN_ALLOW_THREADS
        (void)mmcc_batch_write_finish(k.v, in, k.n, st);
        Py_END_ALLOW_THREADS
        LEAVE(s);
    }
    ret = mc_list_i32(st, k.n);
free:
    Py_XDECREF(f);
    PyMem_Free(in);
    PyMem_Free(st);
    py_keys_free(&k);
    return ret;
}

static PyObject *st_batch_add_lease(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "ttl_ms", NULL};
    PyObject *keys_o, *ttl_o, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:batch_add_lease", kwl, &keys_o, &ttl_o)) return NULL;
    uint64_t ttl;
    if (py_to_u64(ttl_o, UINT32_MAX, &ttl, "ttl_ms") != 0) return NULL;
    py_keys_t k;
    if (py_keys_get(keys_o, MMC_BATCH_MAX, &k) != 0) return NULL;
    int32_t *res = PyMem_Calloc(k.n ? k.n : 1, sizeof(int32_t));
    uint32_t granted = 0;
    if (res == NULL) {
        PyErr_NoMemory();
        goto free;
    }
    if (k.n > 0) {
        if (py_guard_enter(&s->g, "DistributedObjectStore") != 0) goto free;
        Py_BEGIN_ALLOW_THREADS
        (void)mmcc_batch_add_lease(k.v, k.n, (uint32_t)ttl, res, &granted);
        Py_END_ALLOW_THREADS
        LEAVE(s);
    }
    PyObject *rl = mc_list_i32(res, k.n);
    if (rl != NULL) ret = Py_BuildValue("(NI)", rl, granted);
free:
    PyMem_Free(res);
    py_keys_free(&k);
    return ret;
}

/* ---------- type ---------- */

static void st_dealloc(mc_store_obj *s) { Py_TYPE(s)->tp_free((PyObject *)s); }

#define KW METH_VARARGS | METH_KEYWORDS
static PyMethodDef st_methods[] = {
    {"setup", (PyCFunction)st_setup, METH_O, "setup(LocalConfig) -> int: the LocalService config for init"},
    {"init", PY_METH(st_init), KW, "init(device_id=0, init_bm=True) -> int: start the LocalService and the client"},
    {"close", (PyCFunction)st_close, METH_NOARGS, "close() -> 0: stop them (a second close returns 0)"},
    {"put", PY_METH(st_put), KW, "put(key, buffer, replicate_config=None) -> int"},
    {"put_batch", PY_METH(st_put_batch), KW, "put_batch(keys, buffers, replicate_config=None) -> [int]"},
    {"put_from", PY_METH(st_put_from), KW,
     "put_from(key, buffer_ptr, size=None, direction=COPY_H2G, replicate_config=None) -> int"},
    {"batch_put_from", PY_METH(st_batch_put_from), KW,
     "batch_put_from(keys, buffer_ptrs, sizes=None, direction=COPY_H2G, replicate_config=None) -> [int]"},
    {"put_from_layers", PY_METH(st_put_from_layers), KW,
     "put_from_layers(key, buffer_ptrs, sizes=None, direction=COPY_H2G, replicate_config=None) -> int"},
    {"batch_put_from_layers", PY_METH(st_batch_put_from_layers), KW,
     "batch_put_from_layers(keys, buffer_ptrs, sizes=None, direction=COPY_H2G, replicate_config=None) -> [int]"},
    {"get", (PyCFunction)st_get, METH_O, "get(key) -> bytes (b'' when absent or on error)"},
    {"get_batch", (PyCFunction)st_get_batch, METH_O, "get_batch(keys) -> [bytes]"},
    {"get_into", PY_METH(st_get_into), KW, "get_into(key, buffer_ptr, size=None, direction=COPY_G2H) -> int"},
    {"batch_get_into", PY_METH(st_batch_get_into), KW,
     "batch_get_into(keys, buffer_ptrs, sizes=None, direction=COPY_G2H) -> [int]"},
    {"get_into_layers", PY_METH(st_get_into_layers), KW,
     "get_into_layers(key, buffer_ptrs, sizes=None, direction=COPY_G2H) -> int"},
    {"batch_get_into_layers", PY_METH(st_batch_get_into_layers), KW,
     "batch_get_into_layers(keys, buffer_ptrs, sizes=None, direction=COPY_G2H) -> [int]"},
    {"remove", (PyCFunction)st_remove, METH_O, "remove(key) -> int"},
    {"remove_batch", (PyCFunction)st_remove_batch, METH_O, "remove_batch(keys) -> [int]"},
    {"remove_all", (PyCFunction)st_remove_all, METH_NOARGS, "remove_all() -> int"},
    {"is_exist", (PyCFunction)st_is_exist, METH_O, "is_exist(key) -> 1 readable, 0 absent/not ready, < 0 error"},
    {"batch_is_exist", (PyCFunction)st_batch_is_exist, METH_O, "batch_is_exist(keys) -> [1/0/error]"},
    {"get_key_info", (PyCFunction)st_get_key_info, METH_O, "get_key_info(key) -> KeyInfo"},
    {"batch_get_key_info", (PyCFunction)st_batch_get_key_info, METH_O, "batch_get_key_info(keys) -> [KeyInfo]"},
    {"register_buffer", PY_METH(st_register_buffer), KW, "register_buffer(buffer_ptr, size=None) -> int"},
    {"unregister_buffer", PY_METH(st_unregister_buffer), KW, "unregister_buffer(buffer_ptr, size=None) -> int"},
    {"get_local_service_id", (PyCFunction)st_get_local_service_id, METH_NOARGS,
     "get_local_service_id() -> int id (negative: error)"},
    {"batch_alloc", PY_METH(st_batch_alloc), KW,
     "batch_alloc(keys, sizes, medium=None) -> (results, gvas): space for a layer-wise put"},
    {"batch_copy", PY_METH(st_batch_copy), KW,
     "batch_copy(gvas, buffer_ptrs, sizes=None, direction=COPY_H2G) -> int"},
    {"batch_copy_layers", PY_METH(st_batch_copy_layers), KW,
     "batch_copy_layers(gvas, buffer_ptrs, sizes=None, direction=COPY_H2G) -> int"},
    {"batch_write_finish", PY_METH(st_batch_write_finish), KW,
     "batch_write_finish(keys, results) -> [int]: publish (result 0) or abort each key"},
    {"batch_add_lease", PY_METH(st_batch_add_lease), KW,
     "batch_add_lease(keys, ttl_ms) -> (results, granted_ttl_ms)"},
    {"batch_remove_lease", (PyCFunction)st_batch_remove_lease, METH_O, "batch_remove_lease(keys) -> [int]"},
    {NULL, NULL, 0, NULL},
};
#undef KW

static PyGetSetDef st_getset[] = {
    {"closed", (getter)st_closed, NULL, "True after close()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject mc_store_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "memcache_hybrid.DistributedObjectStore",
    .tp_basicsize = sizeof(mc_store_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The memcache client of this process (one LocalService per process).",
    .tp_methods = st_methods,
    .tp_getset = st_getset,
    .tp_new = st_new,
    .tp_dealloc = (destructor)st_dealloc,
};

static PyStructSequence_Field mc_key_info_fields[] = {
    {"size", "object size in bytes (0 when absent)"},
    {"loc_list", "LocalService id of each replica"},
    {"type_list", "medium of each replica (0 HBM, 1 DRAM)"},
    {"gva_list", "global address of each replica"},
    {"valid", "readable (its put has finished)"},
    {"status", "the query's status (0, or MMC_KEY_NOT_FOUND, ...)"},
    {NULL, NULL},
};
static PyStructSequence_Desc mc_key_info_desc = {"memcache_hybrid.KeyInfo", "Where a key's replicas are.",
                                                 mc_key_info_fields, 6};
PyTypeObject mc_key_info_type;

int mc_store_add(PyObject *m)
{
    if (PyType_Ready(&mc_store_type) < 0) return -1;
    if (mc_key_info_type.tp_name == NULL && PyStructSequence_InitType2(&mc_key_info_type, &mc_key_info_desc) < 0)
        return -1;
    Py_INCREF(&mc_store_type);
    if (PyModule_AddObject(m, "DistributedObjectStore", (PyObject *)&mc_store_type) < 0) {
        Py_DECREF(&mc_store_type);
        return -1;
    }
    Py_INCREF(&mc_key_info_type);
    if (PyModule_AddObject(m, "KeyInfo", (PyObject *)&mc_key_info_type) < 0) {
        Py_DECREF(&mc_key_info_type);
        return -1;
    }
    return 0;
}
