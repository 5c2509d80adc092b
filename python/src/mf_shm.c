/* _memfabric: SHM (memfabric_hybrid.shm): init, create, and the ShareMemory type. */
#include "mf_int.h"

#include <string.h>

#include "smem/host/smem_shm.h"

typedef struct {
    PyObject_HEAD
    smem_shm_t h;
    void *gva;
    uint32_t rank, rank_size;
    uint64_t symmetric_size;
    mf_live_t live; /* on shm_live while h is held */
    py_guard_t g;
} mf_shm_obj;

static PyTypeObject mf_shm_type;
static mf_live_t *shm_live;

static PyObject *mf_shm_config_defaults(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    smem_shm_config_t c;
    smem_shm_config_init(&c);
    return Py_BuildValue("{sIsIsIsOsI}", "init_timeout", c.shmInitTimeout, "create_timeout", c.shmCreateTimeout,
                         "operation_timeout", c.controlOperationTimeout, "start_store",
                         c.startConfigStoreServer ? Py_True : Py_False, "flags", c.flags);
}

static PyObject *mf_shm_initialize(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"store_url", "world_size", "rank_id", "device_id", "config", NULL};
    PyObject *url_o, *ws_o, *rk_o, *dev_o = NULL, *cfg_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|OO:initialize", kwl, &url_o, &ws_o, &rk_o, &dev_o, &cfg_o))
        return NULL;
    const char *url;
    uint64_t ws, rk, dev = 0, v;
    if (py_to_cstr(url_o, &url, NULL, "store_url") || py_to_u64(ws_o, UINT32_MAX, &ws, "world_size") ||
        py_to_u64(rk_o, UINT32_MAX, &rk, "rank_id") || (dev_o && py_to_u64(dev_o, UINT16_MAX, &dev, "device_id")))
        return NULL;
    smem_shm_config_t c;
    smem_shm_config_init(&c);
    if (cfg_o != Py_None) {
        if (mf_attr_u64(cfg_o, "init_timeout", UINT32_MAX, &v)) return NULL;
        c.shmInitTimeout = (uint32_t)v;
        if (mf_attr_u64(cfg_o, "create_timeout", UINT32_MAX, &v)) return NULL;
        c.shmCreateTimeout = (uint32_t)v;
        if (mf_attr_u64(cfg_o, "operation_timeout", UINT32_MAX, &v)) return NULL;
        c.controlOperationTimeout = (uint32_t)v;
        if (mf_attr_u64(cfg_o, "flags", UINT32_MAX, &v)) return NULL;
        c.flags = (uint32_t)v;
        if (mf_attr_bool(cfg_o, "start_store", &c.startConfigStoreServer)) return NULL;
    }
    Py_INCREF(url_o);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_shm_init(url, (uint32_t)ws, (uint32_t)rk, (uint16_t)dev, &c);
    Py_END_ALLOW_THREADS
    Py_DECREF(url_o);
    return PyLong_FromLong(rc);
}

/* shm.uninitialize(flags=0): smem_shm_uninit destroys every heap; their objects are closed first. */
static PyObject *mf_shm_uninitialize(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"flags", NULL};
    unsigned int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|I:uninitialize", kwl, &flags)) return NULL;
    while (shm_live != NULL) {
        mf_shm_obj *o = MF_LIVE_OBJ(shm_live, mf_shm_obj);
        mf_live_del(&shm_live, &o->live);
        if (py_guard_close(&o->g)) o->h = NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    smem_shm_uninit(flags);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *mf_shm_query(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromUnsignedLong(smem_shm_query_support_data_operation());
}

static PyObject *mf_shm_create(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"id", "rank_size", "rank_id", "local_mem_size", "data_op_type", "flags", NULL};
    PyObject *id_o, *rs_o, *rk_o, *sz_o, *op_o = NULL, *fl_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|OO:create", kwl, &id_o, &rs_o, &rk_o, &sz_o, &op_o, &fl_o))
        return NULL;
    uint64_t id, rs, rk, sz, op = SMEMS_DATA_OP_MTE, fl = 0;
    if (py_to_u64(id_o, UINT32_MAX, &id, "id") || py_to_u64(rs_o, UINT32_MAX, &rs, "rank_size") ||
        py_to_u64(rk_o, UINT32_MAX, &rk, "rank_id") || py_to_u64(sz_o, UINT64_MAX, &sz, "local_mem_size") ||
        (op_o && py_to_u64(op_o, UINT32_MAX, &op, "data_op_type")) || (fl_o && py_to_u64(fl_o, UINT32_MAX, &fl, "flags")))
        return NULL;
    void *gva = NULL;
    smem_shm_t h;
    Py_BEGIN_ALLOW_THREADS
    h = smem_shm_create((uint32_t)id, (uint32_t)rs, (uint32_t)rk, sz, (smem_shm_data_op_type)op, (uint32_t)fl, &gva);
    Py_END_ALLOW_THREADS
    if (h == NULL) return py_err_status("shm.create", -1, smem_get_last_err_msg());
    mf_shm_obj *s = PyObject_New(mf_shm_obj, &mf_shm_type);
    if (s == NULL) {
        Py_BEGIN_ALLOW_THREADS
        smem_shm_destroy(h, 0);
        Py_END_ALLOW_THREADS
        return NULL;
    }
    s->h = h;
    s->gva = gva;
    s->rank = (uint32_t)rk;
    s->rank_size = (uint32_t)rs;
    s->symmetric_size = sz;
    memset(&s->g, 0, sizeof(s->g));
    mf_live_add(&shm_live, &s->live);
    return (PyObject *)s;
}

/* ---------- ShareMemory ---------- */

#define SHM_ENTER(s)                                                                                                   \
    if (py_guard_enter(&(s)->g, "ShareMemory") != 0) return NULL
#define SHM_LEAVE(s) py_guard_leave(&(s)->g)

static PyObject *shm_set_context(mf_shm_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"context", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:set_context", kwl, &arg)) return NULL;
    py_mem_t m;
    if (py_mem_get(arg, NULL, false, &m, "context") != 0) return NULL;
    if (m.len > SMEM_SHM_CONTEXT_MAX) {
        PyErr_Format(PyExc_ValueError, "context of %llu bytes exceeds the limit of %u", (unsigned long long)m.len,
                     SMEM_SHM_CONTEXT_MAX);
        py_mem_release(&m);
        return NULL;
    }
    if (py_guard_enter(&s->g, "ShareMemory") != 0) {
        py_mem_release(&m);
        return NULL;
    }
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_shm_set_extra_context(s->h, m.ptr, (uint32_t)m.len);
    Py_END_ALLOW_THREADS
    SHM_LEAVE(s);
    py_mem_release(&m);
    return PyLong_FromLong(rc);
}

static PyObject *shm_get_context(mf_shm_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"rank", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:get_context", kwl, &arg)) return NULL;
    uint64_t rank;
    if (py_to_u64(arg, UINT32_MAX, &rank, "rank") != 0) return NULL;
    char *buf = PyMem_Malloc(SMEM_SHM_CONTEXT_MAX);
    if (buf == NULL) return PyErr_NoMemory();
    if (py_guard_enter(&s->g, "ShareMemory") != 0) {
        PyMem_Free(buf);
        return NULL;
    }
    uint32_t n = 0;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_shm_get_extra_context(s->h, (uint32_t)rank, buf, SMEM_SHM_CONTEXT_MAX, &n);
    Py_END_ALLOW_THREADS
    SHM_LEAVE(s);
    PyObject *r = rc == 0 ? PyBytes_FromStringAndSize(buf, n) : py_err_status("get_context", rc, smem_get_last_err_msg());
    PyMem_Free(buf);
    return r;
}

static PyObject *shm_barrier(mf_shm_obj *s, PyObject *unused)
{
    (void)unused;
    return py_guard_call(&s->g, "ShareMemory", smem_shm_control_barrier, &s->h);
}

static PyObject *shm_all_gather(mf_shm_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"local_data", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:all_gather", kwl, &arg)) return NULL;
    py_mem_t m;
    if (py_mem_get(arg, NULL, false, &m, "data") != 0) return NULL;
    if (m.len == 0 || m.len > SMEM_SHM_CONTEXT_MAX) {
        PyErr_Format(PyExc_ValueError, "all_gather data must be 1..%u bytes, got %llu", SMEM_SHM_CONTEXT_MAX,
                     (unsigned long long)m.len);
        py_mem_release(&m);
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(m.len * s->rank_size));
    if (out == NULL || py_guard_enter(&s->g, "ShareMemory") != 0) {
        Py_XDECREF(out);
        py_mem_release(&m);
        return NULL;
    }
    int32_t rc;
    char *recv = PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    rc = smem_shm_control_allgather(s->h, m.ptr, (uint32_t)m.len, recv, (uint32_t)(m.len * s->rank_size));
    Py_END_ALLOW_THREADS
    SHM_LEAVE(s);
    py_mem_release(&m);
    if (rc != 0) {
        Py_DECREF(out);
        return py_err_status("all_gather", rc, smem_get_last_err_msg());
    }
    return out;
}

/* fn(handle, one u32 argument, &u32 result) with the GIL released: the
 * result, or RuntimeError naming `call` (raise); or the status as an int. */
typedef int32_t (*shm_u32_fn)(smem_shm_t h, uint32_t in, uint32_t *out);

static PyObject *shm_call_u32(mf_shm_obj *s, PyObject *arg, const char *what, const char *call, shm_u32_fn fn,
                              bool raise)
{
    uint64_t in;
    if (py_to_u64(arg, UINT32_MAX, &in, what) != 0) return NULL;
    SHM_ENTER(s);
    uint32_t out = 0;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fn(s->h, (uint32_t)in, &out);
    Py_END_ALLOW_THREADS
    SHM_LEAVE(s);
    if (!raise) return PyLong_FromLong(rc);
    if (rc != 0) return py_err_status(call, rc, smem_get_last_err_msg());
    return PyLong_FromUnsignedLong(out);
}

static int32_t shm_release_value(smem_shm_t h, uint32_t v, uint32_t *unused)
{
    (void)unused;
    return smem_shm_atomic_release_value(h, v);
}

/*
 * topology_can_reach(remote_rank, reach_info) -> int status: the seed's shape, where reach_info is an
 * input the seed's binding passes by value and never returns (the mask is lost there too).
 * topology_can_reach(remote_rank) -> the reach mask (ours; RuntimeError on failure).
 */
static PyObject *shm_topology_can_reach(mf_shm_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"remote_rank", "reach_info", NULL};
    PyObject *r_o, *info_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:topology_can_reach", kwl, &r_o, &info_o)) return NULL;
    uint64_t info;
    if (info_o != NULL && py_to_u64(info_o, UINT32_MAX, &info, "reach_info") != 0) return NULL;
    return shm_call_u32(s, r_o, "remote_rank", "topology_can_reach", smem_shm_topology_can_reach, info_o == NULL);
}

static PyObject *shm_atomic_alloc_value(mf_shm_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"limit", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:atomic_alloc_value", kwl, &arg)) return NULL;
    return shm_call_u32(s, arg, "limit", "atomic_alloc_value", smem_shm_atomic_alloc_value, true);
}

static PyObject *shm_atomic_release_value(mf_shm_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"value", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:atomic_release_value", kwl, &arg)) return NULL;
    return shm_call_u32(s, arg, "value", "atomic_release_value", shm_release_value, false);
}

static PyObject *shm_query(mf_shm_obj *s, PyObject *unused)
{
    (void)s;
    return mf_shm_query(NULL, unused);
}

/* Closes the object and destroys the heap; 0 if it was closed already (destroy, shm.uninitialize). */
static int32_t shm_close(mf_shm_obj *s, uint32_t flags)
{
    mf_live_del(&shm_live, &s->live);
    if (!py_guard_close(&s->g)) return 0;
    smem_shm_t h = s->h;
    s->h = NULL;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_shm_destroy(h, flags);
    Py_END_ALLOW_THREADS
    return rc;
}

static PyObject *shm_destroy(mf_shm_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"flags", NULL};
    unsigned int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|I:destroy", kwl, &flags)) return NULL;
    return PyLong_FromLong(shm_close(s, flags));
}

static PyObject *shm_local_rank(mf_shm_obj *s, void *u)
{
    (void)u;
    return PyLong_FromUnsignedLong(s->rank);
}
static PyObject *shm_rank_size(mf_shm_obj *s, void *u)
{
    (void)u;
    return PyLong_FromUnsignedLong(s->rank_size);
}
static PyObject *shm_gva(mf_shm_obj *s, void *u)
{
    (void)u;
    return PyLong_FromUnsignedLongLong((uint64_t)(uintptr_t)s->gva);
}
static PyObject *shm_symmetric_size(mf_shm_obj *s, void *u)
{
    (void)u;
    return PyLong_FromUnsignedLongLong(s->symmetric_size);
}

/* Dropped without destroy(): the heap is destroyed, as the seed's destructor does. */
static void shm_dealloc(mf_shm_obj *s)
{
    (void)shm_close(s, 0);
    PyObject_Free(s);
}

static PyMethodDef shm_methods[] = {
    {"set_context", PY_METH(shm_set_context), METH_VARARGS | METH_KEYWORDS, "set_context(context) -> int (<= 64 KiB)"},
    {"get_context", PY_METH(shm_get_context), METH_VARARGS | METH_KEYWORDS,
     "get_context(rank) -> bytes (RuntimeError if unset)"},
    {"barrier", (PyCFunction)shm_barrier, METH_NOARGS, "barrier() -> int"},
    {"all_gather", PY_METH(shm_all_gather), METH_VARARGS | METH_KEYWORDS,
     "all_gather(local_data) -> bytes: every rank's data in rank order (RuntimeError on failure)"},
    {"topology_can_reach", PY_METH(shm_topology_can_reach), METH_VARARGS | METH_KEYWORDS,
     "topology_can_reach(remote_rank, reach_info) -> int status (the seed's); "
     "topology_can_reach(remote_rank) -> int reach mask (RuntimeError on failure)"},
    {"query_support_data_operation", (PyCFunction)shm_query, METH_NOARGS, "-> int mask of ShmDataOpType"},
    {"atomic_alloc_value", PY_METH(shm_atomic_alloc_value), METH_VARARGS | METH_KEYWORDS,
     "atomic_alloc_value(limit) -> int"},
    {"atomic_release_value", PY_METH(shm_atomic_release_value), METH_VARARGS | METH_KEYWORDS,
     "atomic_release_value(value) -> int"},
    {"destroy", PY_METH(shm_destroy), METH_VARARGS | METH_KEYWORDS,
     "destroy(flags=0) -> int (a second call returns 0; del does it too)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef shm_getset[] = {
    {"local_rank", (getter)shm_local_rank, NULL, "this process's rank in the heap", NULL},
    {"rank_size", (getter)shm_rank_size, NULL, "ranks in the heap", NULL},
    {"gva", (getter)shm_gva, NULL, "base address: rank r's region is gva + r * symmetric_size", NULL},
    {"symmetric_size", (getter)shm_symmetric_size, NULL, "bytes per rank", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject mf_shm_type =
    PY_TYPE("memfabric_hybrid.shm.ShareMemory", mf_shm_obj,
            "A symmetric heap (shm.create).",
            0, shm_methods, shm_getset, NULL, shm_dealloc);

PyMethodDef mf_shm_methods[] = {
    {"shm_config_defaults", mf_shm_config_defaults, METH_NOARGS, "smem_shm_config_init values as a dict"},
    {"shm_initialize", PY_METH(mf_shm_initialize), METH_VARARGS | METH_KEYWORDS,
     "shm_initialize(store_url, world_size, rank_id, device_id=0, config=None) -> int"},
    {"shm_uninitialize", PY_METH(mf_shm_uninitialize), METH_VARARGS | METH_KEYWORDS, "shm_uninitialize(flags=0)"},
    {"shm_query_support_data_operation", mf_shm_query, METH_NOARGS, "-> int mask of SMEMS_DATA_OP_*"},
    {"shm_create", PY_METH(mf_shm_create), METH_VARARGS | METH_KEYWORDS,
     "shm_create(id, rank_size, rank_id, local_mem_size, data_op_type=MTE, flags=0) -> ShareMemory"},
    {NULL, NULL, 0, NULL},
};

int mf_shm_add(PyObject *m)
{
    return py_type_add(m, &mf_shm_type, "ShareMemory");
}
