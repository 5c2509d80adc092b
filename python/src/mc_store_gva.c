/* DistributedObjectStore: buffer registration and the GVA level (zero-copy, layer-wise KV
 * transfer: allocate, copy the layers in, publish or abort; read through leases). */
#include "mc_store.h"

/* The GVA-level calls' own arguments and outputs (mc_req_t.ctx). */
typedef struct {
    mmc_copy_direction dir;
    uint16_t medium;
    uint32_t ttl_ms;
    uint32_t granted; /* batch_add_lease's granted TTL */
} mc_gva_args_t;

/* ---------- registration ---------- */

static int32_t call_reg(mc_req_t *q) { return mmcc_register_buffer((uint64_t)(uintptr_t)q->mem.ptr, q->mem.len); }
static int32_t call_unreg(mc_req_t *q) { return mmcc_unregister_buffer((uint64_t)(uintptr_t)q->mem.ptr, q->mem.len); }

static PyObject *st_reg(mc_store_obj *s, PyObject *args, PyObject *kw, bool reg)
{
    static char *kwl[] = {"buffer_ptr", "size", NULL};
    PyObject *b, *sz = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, reg ? "O|O:register_buffer" : "O|O:unregister_buffer", kwl, &b, &sz))
        return NULL;
    mc_req_t q = {0};
    int bad = mc_req_buf(&q, b, sz, false);
    return mc_req_run(s, &q, bad, reg ? call_reg : call_unreg, mc_ret_status);
}

PyObject *mc_st_register_buffer(mc_store_obj *s, PyObject *a, PyObject *k) { return st_reg(s, a, k, true); }
PyObject *mc_st_unregister_buffer(mc_store_obj *s, PyObject *a, PyObject *k) { return st_reg(s, a, k, false); }

/* ---------- arguments ---------- */

/* The MmcDirect of a copy (None: H2G): the copy's direction and the buffers' memory type. Not a copy
 * direction (AUTO included: it cannot say which way): MMC_INVALID_PARAM without a call, not raised. */
static int mc_req_copy_dir(mc_req_t *q, PyObject *d, mc_gva_args_t *g)
{
    int64_t v = MC_COPY_H2G;
    if (d != NULL && d != Py_None && py_to_i64(d, INT64_MIN, INT64_MAX, &v, "direct") != 0) return -1;
    if (v < MC_COPY_L2G || v > MC_COPY_H2G) {
        q->pre_rc = MMC_INVALID_PARAM;
        q->no_call = true;
        v = MC_COPY_H2G;
    }
    g->dir = (v == MC_COPY_L2G || v == MC_COPY_H2G) ? MMC_COPY_H2G : MMC_COPY_G2H;
    q->type = (v == MC_COPY_L2G || v == MC_COPY_G2L) ? MC_TYPE_DEVICE : MC_TYPE_HOST;
    return 0;
}

/* Our earlier keyword names, kept: (ours, the seed's). */
static const char *const gva_alias[] = {"gvas", "gva_ptrs", "direction", "direct", "results", "res",
                                        "ttl_ms", "lease_ttl_ms", "medium", "media", NULL};

static int mc_req_gvas(mc_req_t *q, PyObject *gvas) { return py_u64_list(gvas, &q->gvas, &q->n_gvas, "gvas"); }

/* One size per key. */
static int mc_req_sizes(mc_req_t *q, PyObject *sizes)
{
    Py_ssize_t n = 0;
    if (py_u64_list(sizes, &q->sizes, &n, "sizes") != 0) return -1;
    if (n != (Py_ssize_t)q->keys.n) {
        PyErr_Format(PyExc_ValueError, "%u keys but %zd sizes", q->keys.n, n);
        return -1;
    }
    return 0;
}

/* One int32 result per key, into scratch. */
static int mc_req_results_in(mc_req_t *q, PyObject *results)
{
    PyObject *f = PySequence_Fast(results, "results must be a list of ints");
    if (f == NULL) return -1;
    int ret = -1;
    if (PySequence_Fast_GET_SIZE(f) != (Py_ssize_t)q->keys.n) {
        PyErr_Format(PyExc_ValueError, "%u keys but %zd results", q->keys.n, PySequence_Fast_GET_SIZE(f));
        goto done;
    }
    if (mc_req_scratch(q, q->keys.n, sizeof(int32_t)) != 0) goto done;
    int32_t *in = q->scratch;
    for (uint32_t i = 0; i < q->keys.n; i++) {
        int64_t v;
        if (py_to_i64(PySequence_Fast_GET_ITEM(f, i), INT32_MIN, INT32_MAX, &v, "results item") != 0) goto done;
        in[i] = (int32_t)v;
    }
    ret = 0;
done:
    Py_DECREF(f);
    return ret;
}

/* ---------- alloc, copy, finish ---------- */

/* scratch: the GVA of each key */
static int32_t call_batch_alloc(mc_req_t *q)
{
    const mc_gva_args_t *g = q->ctx;
    return mmcc_batch_alloc(q->keys.v, q->sizes, q->keys.n, g->medium, q->scratch, q->res);
}

/* The seed's shape: one GVA per key; a key that failed has its (negative) status instead (<= 0: failed). */
static PyObject *ret_batch_alloc(mc_req_t *q, int32_t rc)
{
    (void)rc;
    const uint64_t *gvas = q->scratch;
    PyObject *gl = PyList_New(q->keys.n);
    for (uint32_t i = 0; gl != NULL && i < q->keys.n; i++) {
        PyObject *g = q->res[i] == 0 ? PyLong_FromUnsignedLongLong(gvas[i]) : PyLong_FromLong(q->res[i]);
        if (g == NULL) Py_CLEAR(gl);
        else PyList_SET_ITEM(gl, i, g);
    }
    return gl;
}

PyObject *mc_st_batch_alloc(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "sizes", "media", NULL};
    PyObject *k, *sz, *med_o = NULL, *ret = NULL;
    if (mc_kw_alias(&kw, gva_alias) != 0 || !PyArg_ParseTupleAndKeywords(args, kw, "OO|O:batch_alloc", kwl, &k, &sz,
                                                                         &med_o))
        goto out;
    uint64_t med = MMC_MEDIA_NONE;
    mc_gva_args_t g = {0};
    mc_req_t q = {.ctx = &g};
    int bad = (med_o && med_o != Py_None && py_to_u64(med_o, UINT16_MAX, &med, "media")) || mc_req_keys(&q, k) ||
              mc_req_sizes(&q, sz) || mc_req_scratch(&q, q.keys.n, sizeof(uint64_t));
    g.medium = (uint16_t)med;
    ret = mc_req_run(s, &q, bad, call_batch_alloc, ret_batch_alloc);
out:
    Py_XDECREF(kw);
    return ret;
}

/* The buffers' lengths as the copy's sizes. */
static int mc_req_buf_sizes(mc_req_t *q)
{
    q->sizes = PyMem_Malloc(sizeof(uint64_t) * (size_t)(q->n_gvas + 1));
    if (q->sizes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < q->n_gvas; i++) q->sizes[i] = q->bufs[i].len;
    return 0;
}

static int32_t call_batch_copy(mc_req_t *q)
{
    const mc_gva_args_t *g = q->ctx;
    return mmcc_batch_copy(q->gvas, q->bufs, q->sizes, (uint32_t)q->n_gvas, g->dir);
}

PyObject *mc_st_batch_copy(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"gva_ptrs", "buffer_ptrs", "sizes", "direct", NULL};
    PyObject *g_o, *b, *sz = NULL, *d = NULL, *ret = NULL;
    if (mc_kw_alias(&kw, gva_alias) == 0 &&
        PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:batch_copy", kwl, &g_o, &b, &sz, &d)) {
        mc_gva_args_t g = {0};
        mc_req_t q = {.ctx = &g};
        int bad = mc_req_copy_dir(&q, d, &g) || mc_req_gvas(&q, g_o) ||
                  mc_req_bufs(&q, b, sz, g.dir == MMC_COPY_G2H, q.n_gvas, "gvas") || mc_req_buf_sizes(&q);
        ret = mc_req_run(s, &q, bad, call_batch_copy, mc_ret_status);
    }
    Py_XDECREF(kw);
    return ret;
}

static int32_t call_batch_copy_layers(mc_req_t *q)
{
    const mc_gva_args_t *g = q->ctx;
    return mmcc_batch_copy_layers(q->gvas, q->layers.ptrs, q->layers.nl, (uint32_t)q->n_gvas, g->dir);
}

/* At most MMC_BATCH_MAX GVAs (a batch of keys' layers). */
static int mc_req_gvas_max(mc_req_t *q)
{
    if (q->n_gvas <= (Py_ssize_t)MMC_BATCH_MAX) return 0;
    PyErr_Format(PyExc_ValueError, "%zd gvas, more than the limit of %u", q->n_gvas, MMC_BATCH_MAX);
    return -1;
}

PyObject *mc_st_batch_copy_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"gva_ptrs", "buffer_ptrs", "sizes", "direct", NULL};
    PyObject *g_o, *b, *sz = NULL, *d = NULL, *ret = NULL;
    if (mc_kw_alias(&kw, gva_alias) == 0 &&
        PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:batch_copy_layers", kwl, &g_o, &b, &sz, &d)) {
        mc_gva_args_t g = {0};
        mc_req_t q = {.ctx = &g};
        int bad = mc_req_copy_dir(&q, d, &g) || mc_req_gvas(&q, g_o) || mc_req_gvas_max(&q) ||
                  mc_req_layers(&q, b, sz, (uint32_t)q.n_gvas, g.dir == MMC_COPY_G2H);
        ret = mc_req_run(s, &q, bad, call_batch_copy_layers, mc_ret_status);
    }
    Py_XDECREF(kw);
    return ret;
}

/* scratch: each key's result in */
static int32_t call_batch_write_finish(mc_req_t *q)
{
    return mmcc_batch_write_finish(q->keys.v, q->scratch, q->keys.n, q->res);
}

PyObject *mc_st_batch_write_finish(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "res", NULL};
    PyObject *k, *r, *ret = NULL;
    if (mc_kw_alias(&kw, gva_alias) == 0 && PyArg_ParseTupleAndKeywords(args, kw, "OO:batch_write_finish", kwl, &k, &r)) {
        mc_req_t q = {0};
        int bad = mc_req_keys(&q, k) || mc_req_results_in(&q, r);
        ret = mc_req_run(s, &q, bad, call_batch_write_finish, mc_ret_res);
    }
    Py_XDECREF(kw);
    return ret;
}

/* ---------- leases ---------- */

static int32_t call_batch_add_lease(mc_req_t *q)
{
    mc_gva_args_t *g = q->ctx;
    return mmcc_batch_add_lease(q->keys.v, q->keys.n, g->ttl_ms, q->res, &g->granted);
}

/* lease_ttl_ms 0 (the seed's default): the MetaService's lease ttl, which caps any request. */
PyObject *mc_st_batch_add_lease(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", "lease_ttl_ms", NULL};
    PyObject *k, *ttl_o = NULL, *ret = NULL;
    if (mc_kw_alias(&kw, gva_alias) == 0 &&
        PyArg_ParseTupleAndKeywords(args, kw, "O|O:batch_add_lease", kwl, &k, &ttl_o)) {
        uint64_t ttl = 0;
        mc_gva_args_t g = {0};
        mc_req_t q = {.ctx = &g};
        int bad = (ttl_o != NULL && py_to_u64(ttl_o, UINT32_MAX, &ttl, "lease_ttl_ms") != 0) || mc_req_keys(&q, k);
        g.ttl_ms = ttl == 0 ? UINT32_MAX : (uint32_t)ttl;
        ret = mc_req_run(s, &q, bad, call_batch_add_lease, mc_ret_res);
    }
    Py_XDECREF(kw);
    return ret;
}

static int32_t call_batch_remove_lease(mc_req_t *q) { return mmcc_batch_remove_lease(q->keys.v, q->keys.n, q->res); }

PyObject *mc_st_batch_remove_lease(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"keys", NULL};
    PyObject *k;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:batch_remove_lease", kwl, &k)) return NULL;
    mc_req_t q = {0};
    int bad = mc_req_keys(&q, k);
    return mc_req_run(s, &q, bad, call_batch_remove_lease, mc_ret_first_fail);
}
