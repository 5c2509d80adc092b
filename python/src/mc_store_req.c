/* How a DistributedObjectStore method calls the library: argument converters, the guarded call
 * with the GIL released, the shared result builders (mc_store.h). */
#include "mc_store.h"

#include <dlfcn.h>
#include <string.h>

/* ---------- arguments ---------- */

/* cuPointerGetAttribute(&memtype, CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2, ptr): CU_MEMORYTYPE_DEVICE = 2, from the
 * CUDA driver the process has loaded. A process that has not loaded it holds no device memory, so the driver is
 * never loaded here (RTLD_NOLOAD), only looked for again until it is there. Runs with the GIL held. */
typedef int (*mc_cu_attr_fn)(void *data, int attribute, unsigned long long ptr);

bool mc_addr_is_device(uint64_t addr)
{
    static mc_cu_attr_fn attr;
    if (attr == NULL) {
        void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        if (h != NULL) attr = (mc_cu_attr_fn)(uintptr_t)dlsym(h, "cuPointerGetAttribute");
    }
    unsigned int memtype = 0;
    return attr != NULL && addr != 0 && attr(&memtype, 2, (unsigned long long)addr) == 0 && memtype == 2;
}

static mmc_buffer mc_buf(const py_mem_t *m, uint32_t type)
{
    if (type == MC_TYPE_AUTO) /* a buffer object is host memory; an address: what CUDA says */
        type = !m->has_view && mc_addr_is_device((uint64_t)(uintptr_t)m->ptr) ? MC_TYPE_DEVICE : MC_TYPE_HOST;
    return (mmc_buffer){.addr = (uint64_t)(uintptr_t)m->ptr, .type = type, .offset = 0, .len = m->len};
}

int mc_kw_alias(PyObject **kw, const char *const *pairs)
{
    PyObject *d = *kw ? PyDict_Copy(*kw) : PyDict_New();
    *kw = d;
    if (d == NULL) return -1;
    for (; pairs[0] != NULL; pairs += 2) {
        PyObject *v = PyDict_GetItemString(d, pairs[0]); /* borrowed */
        if (v == NULL) continue;
        if (PyDict_GetItemString(d, pairs[1]) != NULL) {
            PyErr_Format(PyExc_TypeError, "both %s= and %s= given (the same argument)", pairs[0], pairs[1]);
            return -1;
        }
        Py_INCREF(v);
        int rc = PyDict_SetItemString(d, pairs[1], v) || PyDict_DelItemString(d, pairs[0]);
        Py_DECREF(v);
        if (rc != 0) return -1;
    }
    return 0;
}

int mc_req_key(mc_req_t *q, PyObject *key)
{
    if (py_to_cstr(key, &q->key, NULL, "key") != 0) return -1;
    Py_INCREF(key);
    q->key_obj = key;
    return 0;
}

int mc_req_keys(mc_req_t *q, PyObject *keys)
{
    if (py_keys_get(keys, MMC_BATCH_MAX, &q->keys) != 0) return -1;
    q->res = PyMem_Calloc(q->keys.n ? q->keys.n : 1, sizeof(int32_t));
    if (q->res == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (q->pre_rc != 0)
        for (uint32_t i = 0; i < q->keys.n; i++) q->res[i] = q->pre_rc;
    q->no_call = q->no_call || q->keys.n == 0;
    return 0;
}

/* write: L2G (device) / H2G (host); read: G2L / G2H; AUTO either. NULL/None: host. */
int mc_req_dir(mc_req_t *q, PyObject *dir, bool write, int32_t bad_rc)
{
    q->type = MC_TYPE_HOST;
    if (dir == NULL || dir == Py_None) return 0;
    int64_t v;
    if (py_to_i64(dir, INT64_MIN, INT64_MAX, &v, "direct") != 0) return -1; /* not an int: TypeError, as the seed */
    if (v == MC_COPY_AUTO) q->type = MC_TYPE_AUTO;
    else if (write && (v == MC_COPY_L2G || v == MC_COPY_H2G)) q->type = v == MC_COPY_L2G ? MC_TYPE_DEVICE : MC_TYPE_HOST;
    else if (!write && (v == MC_COPY_G2L || v == MC_COPY_G2H)) q->type = v == MC_COPY_G2L ? MC_TYPE_DEVICE : MC_TYPE_HOST;
    else { /* not raised: the seed returns its code for a direction of the wrong kind */
        q->pre_rc = bad_rc;
        q->no_call = true;
    }
    return 0;
}

int mc_req_opts(mc_req_t *q, PyObject *o)
{
    mmc_put_options *opt = &q->opt_store;
    q->opt = NULL;
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
    q->opt = opt;
    return 0;
}

int mc_req_buf(mc_req_t *q, PyObject *buf, PyObject *size, bool writable)
{
    if (py_mem_get(buf, size, writable, &q->mem, "buffer") != 0) return -1;
    q->buf = mc_buf(&q->mem, q->type);
    return 0;
}

int mc_req_bufs(mc_req_t *q, PyObject *bufs, PyObject *sizes, bool writable, Py_ssize_t n, const char *of)
{
    if (py_mem_list_get(bufs, sizes, writable, &q->mems, "buffers") != 0) return -1;
    if (q->mems.n != n) {
        PyErr_Format(PyExc_ValueError, "%zd %s but %zd buffers", n, of, q->mems.n);
        return -1;
    }
    q->bufs = PyMem_Malloc(sizeof(mmc_buffer) * (size_t)(n + 1));
    if (q->bufs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) q->bufs[i] = mc_buf(&q->mems.v[i], q->type);
    return 0;
}

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

int mc_req_layers(mc_req_t *q, PyObject *bufs, PyObject *sizes, uint32_t n, bool writable)
{
    return mc_layers_get(bufs, sizes, n, writable, q->type, &q->layers);
}

int mc_req_layers_one(mc_req_t *q, PyObject *bufs, PyObject *sizes, bool writable)
{
    PyObject *one_b = PyTuple_Pack(1, bufs), *one_s = sizes && sizes != Py_None ? PyTuple_Pack(1, sizes) : NULL;
    int rc = one_b ? mc_req_layers(q, one_b, one_s, 1, writable) : -1;
    Py_XDECREF(one_b);
    Py_XDECREF(one_s);
    return rc;
}

int mc_req_scratch(mc_req_t *q, size_t n, size_t size)
{
    q->scratch = PyMem_Calloc(n ? n : 1, size);
    if (q->scratch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* ---------- the call ---------- */

int mc_store_enter(mc_store_obj *s) { return py_guard_enter(&s->g, "DistributedObjectStore"); }

void mc_store_leave(mc_store_obj *s) { py_guard_leave(&s->g); }

int32_t mc_nogil(mc_call_fn call, mc_req_t *q)
{
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = call(q);
    Py_END_ALLOW_THREADS
    return rc;
}

PyObject *mc_req_run(mc_store_obj *s, mc_req_t *q, int bad, mc_call_fn call, mc_result_fn result)
{
    PyObject *ret = NULL;
    int32_t rc = 0;
    if (bad) goto free;
    if (!q->no_call) {
        if (mc_store_enter(s) != 0) goto free;
        rc = mc_nogil(call, q);
        mc_store_leave(s);
    }
    ret = result(q, q->no_call ? q->pre_rc : rc);
free:
    mc_req_free(q);
    return ret;
}

void mc_req_free(mc_req_t *q)
{
    Py_CLEAR(q->key_obj);
    py_keys_free(&q->keys);
    PyMem_Free(q->res);
    py_mem_release(&q->mem);
    py_mem_list_release(&q->mems);
    PyMem_Free(q->bufs);
    mc_layers_free(&q->layers);
    PyMem_Free(q->gvas);
    PyMem_Free(q->sizes);
    PyMem_Free(q->scratch);
    memset(q, 0, sizeof(*q));
}

/* ---------- results ---------- */

PyObject *mc_list_i32(const int32_t *v, uint32_t n)
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

PyObject *mc_ret_status(mc_req_t *q, int32_t rc)
{
    (void)q;
    return PyLong_FromLong(rc);
}

PyObject *mc_ret_res(mc_req_t *q, int32_t rc)
{
    (void)rc; /* the per-key statuses say it all */
    return mc_list_i32(q->res, q->keys.n);
}

PyObject *mc_ret_first_fail(mc_req_t *q, int32_t rc)
{
    for (uint32_t i = 0; rc == 0 && i < q->keys.n; i++) rc = q->res[i];
    return PyLong_FromLong(rc);
}

int32_t mc_exist_value(int32_t rc)
{
    return rc == MMC_OK ? 1 : (rc == MMC_KEY_NOT_FOUND || rc == MMC_OBJECT_NOT_READY) ? 0 : rc;
}
