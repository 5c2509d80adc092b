/* _memfabric: the TransferEngine type over smem_trans (one instance per object). */
#include "mf_int.h"

#include <string.h>

#include "smem/host/smem_trans.h"

typedef struct {
    PyObject_HEAD
    smem_trans_t h;
    void *stream; /* for the *_submit forms, made at initialize */
    char id[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    py_guard_t g;
} mf_te_obj;

static PyTypeObject mf_te_type;

static PyObject *te_new(PyTypeObject *t, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    mf_te_obj *e = (mf_te_obj *)t->tp_alloc(t, 0);
    if (e == NULL) return NULL;
    e->h = NULL;
    e->stream = NULL;
    e->id[0] = '\0';
    memset(&e->g, 0, sizeof(e->g));
    return (PyObject *)e;
}

static int te_role(PyObject *o, smem_trans_role_t *r)
{
    if (PyUnicode_Check(o)) {
        const char *s = PyUnicode_AsUTF8(o);
        if (s == NULL) return -1;
        if (strcasecmp(s, "sender") == 0 || strcasecmp(s, "prefill") == 0) *r = SMEM_TRANS_SENDER;
        else if (strcasecmp(s, "receiver") == 0 || strcasecmp(s, "decode") == 0) *r = SMEM_TRANS_RECEIVER;
        else if (strcasecmp(s, "both") == 0) *r = SMEM_TRANS_BOTH;
        else {
            PyErr_Format(PyExc_ValueError, "role must be 'sender', 'receiver' or 'both', got %R", o);
            return -1;
        }
        return 0;
    }
    uint64_t v;
    if (py_to_u64(o, SMEM_TRANS_BUTT - 1, &v, "role") != 0) return -1;
    *r = (smem_trans_role_t)v;
    return 0;
}

static PyObject *te_initialize(mf_te_obj *e, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"store_url", "session_id", "role", "device_id", "start_config_server", "init_timeout",
                          "data_op_type", NULL};
    PyObject *url_o, *id_o, *role_o = NULL, *dev_o = NULL, *to_o = NULL, *op_o = NULL;
    int start = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO$pOO:initialize", kwl, &url_o, &id_o, &role_o, &dev_o, &start,
                                     &to_o, &op_o))
        return NULL;
    if (e->g.closed) return PyErr_Format(PyExc_RuntimeError, "TransferEngine is closed");
    if (e->h != NULL) return PyErr_Format(PyExc_RuntimeError, "TransferEngine %s is already initialised", e->id);
    smem_trans_config_t c;
    smem_trans_config_init(&c);
    const char *url;
    uint64_t dev = 0, to = 0, op = 0;
    if (py_to_cstr(url_o, &url, NULL, "store_url") || py_copy_cstr(id_o, e->id, sizeof(e->id), "session_id") ||
        (role_o && te_role(role_o, &c.role)) || (dev_o && py_to_u64(dev_o, INT32_MAX, &dev, "device_id")) ||
        (to_o && py_to_u64(to_o, UINT32_MAX, &to, "init_timeout")) ||
        (op_o && py_to_u64(op_o, UINT32_MAX, &op, "data_op_type")))
        return NULL;
    c.deviceId = (int32_t)dev;
    c.startConfigServer = start != 0;
    if (to_o) c.initTimeout = (uint32_t)to;
    if (op_o) c.dataOpType = (uint32_t)op;
    Py_INCREF(url_o);
    int32_t rc;
    smem_trans_t h = NULL;
    void *stream = NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_init(&c);
    if (rc == 0) {
        h = smem_trans_create(url, e->id, &c);
        if (h == NULL) rc = -1;
    }
    if (rc == 0) {
        rc = smem_trans_stream_create(h, &stream);
        if (rc != 0) {
            smem_trans_destroy(h, 0);
            h = NULL;
        }
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(url_o);
    e->h = h;
    e->stream = stream;
    return PyLong_FromLong(rc);
}

#define TE_ENTER(e)                                                                                                    \
    do {                                                                                                               \
        if (py_guard_enter(&(e)->g, "TransferEngine") != 0) goto out;                                                 \
        if ((e)->h == NULL) {                                                                                          \
            py_guard_leave(&(e)->g);                                                                                   \
            PyErr_SetString(PyExc_RuntimeError, "TransferEngine is not initialised (call initialize first)");         \
            goto out;                                                                                                  \
        }                                                                                                              \
    } while (0)
#define TE_LEAVE(e) py_guard_leave(&(e)->g)

static PyObject *te_register_memory(mf_te_obj *e, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"addr", "size", NULL};
    PyObject *a, *s = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:register_memory", kwl, &a, &s)) return NULL;
    py_mem_t m;
    if (py_mem_get(a, s, true, &m, "addr") != 0) return NULL;
    TE_ENTER(e);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_register_mem(e->h, m.ptr, (size_t)m.len, 0);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    py_mem_release(&m);
    return ret;
}

static PyObject *te_batch_register_memory(mf_te_obj *e, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"addrs", "sizes", NULL};
    PyObject *a, *s = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:batch_register_memory", kwl, &a, &s)) return NULL;
    py_mem_list_t l;
    if (py_mem_list_get(a, s, true, &l, "addrs") != 0) return NULL;
    void **av = PyMem_Malloc(sizeof(void *) * (size_t)(l.n + 1));
    size_t *sv = PyMem_Malloc(sizeof(size_t) * (size_t)(l.n + 1));
    if (av == NULL || sv == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < l.n; i++) {
        av[i] = l.v[i].ptr;
        sv[i] = (size_t)l.v[i].len;
    }
    TE_ENTER(e);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_batch_register_mem(e->h, av, sv, (uint32_t)l.n, 0);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    PyMem_Free(av);
    PyMem_Free(sv);
    py_mem_list_release(&l);
    return ret;
}

static PyObject *te_unregister_memory(mf_te_obj *e, PyObject *arg)
{
    PyObject *ret = NULL;
    py_mem_t m;
    if (PyLong_Check(arg)) {
        PyObject *one = PyLong_FromLong(0);
        int r = py_mem_get(arg, one, false, &m, "addr");
        Py_DECREF(one);
        if (r != 0) return NULL;
    } else if (py_mem_get(arg, NULL, false, &m, "addr") != 0) {
        return NULL;
    }
    py_mem_release(&m);
    TE_ENTER(e);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_deregister_mem(e->h, m.ptr);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    return ret;
}

/* One transfer: (target, local, remote, size); write: local is read; read: local is written. */
static PyObject *te_one(mf_te_obj *e, PyObject *args, bool write, bool submit)
{
    PyObject *tgt_o, *loc_o, *rem_o, *size_o, *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOOO", &tgt_o, &loc_o, &rem_o, &size_o)) return NULL;
    char tgt[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    uint64_t remote;
    if (py_copy_cstr(tgt_o, tgt, sizeof(tgt), "target session_id") ||
        py_to_u64(rem_o, UINT64_MAX, &remote, "remote address"))
        return NULL;
    py_mem_t m;
    if (py_mem_get(loc_o, size_o, !write, &m, "local buffer") != 0) return NULL;
    TE_ENTER(e);
    int32_t rc;
    void *rp = (void *)(uintptr_t)remote;
    Py_BEGIN_ALLOW_THREADS
    if (write)
        rc = submit ? smem_trans_write_submit(e->h, m.ptr, tgt, rp, (size_t)m.len, e->stream, 0)
                    : smem_trans_write(e->h, m.ptr, tgt, rp, (size_t)m.len, 0);
    else
        rc = submit ? smem_trans_read_submit(e->h, m.ptr, tgt, rp, (size_t)m.len, e->stream, 0)
                    : smem_trans_read(e->h, m.ptr, tgt, rp, (size_t)m.len, 0);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    py_mem_release(&m);
    return ret;
}

static PyObject *te_batch(mf_te_obj *e, PyObject *args, bool write, bool submit)
{
    PyObject *tgt_o, *loc_o, *rem_o, *size_o, *ret = NULL;
    if (!PyArg_ParseTuple(args, "OOOO", &tgt_o, &loc_o, &rem_o, &size_o)) return NULL;
    char tgt[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    if (py_copy_cstr(tgt_o, tgt, sizeof(tgt), "target session_id")) return NULL;
    uint64_t *rem = NULL;
    Py_ssize_t nrem = 0;
    const void **lv = NULL;
    size_t *sv = NULL;
    py_mem_list_t l = {0};
    if (py_u64_list(rem_o, &rem, &nrem, "remote addresses") != 0) return NULL;
    if (py_mem_list_get(loc_o, size_o, !write, &l, "local buffers") != 0) goto out;
    if (l.n != nrem) {
        PyErr_Format(PyExc_ValueError, "%zd local buffers but %zd remote addresses", l.n, nrem);
        goto out;
    }
    lv = PyMem_Malloc(sizeof(void *) * (size_t)(l.n + 1));
    sv = PyMem_Malloc(sizeof(size_t) * (size_t)(l.n + 1));
    if (lv == NULL || sv == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < l.n; i++) {
        lv[i] = l.v[i].ptr;
        sv[i] = (size_t)l.v[i].len;
    }
    TE_ENTER(e);
    int32_t rc;
    uint32_t n = (uint32_t)l.n;
    Py_BEGIN_ALLOW_THREADS
    if (write)
        rc = submit ? smem_trans_batch_write_submit(e->h, lv, tgt, (void **)rem, sv, n, e->stream, 0)
                    : smem_trans_batch_write(e->h, lv, tgt, (void **)rem, sv, n, 0);
    else
        rc = submit ? smem_trans_batch_read_submit(e->h, (void **)lv, tgt, (const void **)rem, sv, n, e->stream, 0)
                    : smem_trans_batch_read(e->h, (void **)lv, tgt, (const void **)rem, sv, n, 0);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    PyMem_Free(rem);
    PyMem_Free(lv);
    PyMem_Free(sv);
    py_mem_list_release(&l);
    return ret;
}

static PyObject *te_sync_write(mf_te_obj *e, PyObject *a) { return te_one(e, a, true, false); }
static PyObject *te_sync_read(mf_te_obj *e, PyObject *a) { return te_one(e, a, false, false); }
static PyObject *te_async_write(mf_te_obj *e, PyObject *a) { return te_one(e, a, true, true); }
static PyObject *te_async_read(mf_te_obj *e, PyObject *a) { return te_one(e, a, false, true); }
static PyObject *te_batch_sync_write(mf_te_obj *e, PyObject *a) { return te_batch(e, a, true, false); }
static PyObject *te_batch_sync_read(mf_te_obj *e, PyObject *a) { return te_batch(e, a, false, false); }
static PyObject *te_batch_async_write(mf_te_obj *e, PyObject *a) { return te_batch(e, a, true, true); }
static PyObject *te_batch_async_read(mf_te_obj *e, PyObject *a) { return te_batch(e, a, false, true); }

static PyObject *te_wait(mf_te_obj *e, PyObject *args)
{
    unsigned int ms = 0;
    PyObject *ret = NULL;
    if (!PyArg_ParseTuple(args, "|I:transfer_wait", &ms)) return NULL;
    TE_ENTER(e);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_stream_wait(e->stream, ms);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    return ret;
}

static void te_close(mf_te_obj *e)
{
    if (!py_guard_close(&e->g)) return;
    smem_trans_t h = e->h;
    void *s = e->stream;
    e->h = NULL;
    e->stream = NULL;
    if (h == NULL) return;
    Py_BEGIN_ALLOW_THREADS
    smem_trans_stream_destroy(s);
    smem_trans_destroy(h, 0);
    Py_END_ALLOW_THREADS
}

static PyObject *te_destroy(mf_te_obj *e, PyObject *u)
{
    (void)u;
    te_close(e);
    Py_RETURN_NONE;
}

static void te_dealloc(mf_te_obj *e)
{
    te_close(e);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyObject *te_session_id(mf_te_obj *e, void *u)
{
    (void)u;
    return PyUnicode_FromString(e->id);
}

static PyMethodDef te_methods[] = {
    {"initialize", PY_METH(te_initialize), METH_VARARGS | METH_KEYWORDS,
     "initialize(store_url, session_id, role='both', device_id=0, *, start_config_server=False, init_timeout=None, "
     "data_op_type=None) -> int"},
    {"register_memory", PY_METH(te_register_memory), METH_VARARGS | METH_KEYWORDS,
     "register_memory(addr, size) or register_memory(buffer) -> int"},
    {"batch_register_memory", PY_METH(te_batch_register_memory), METH_VARARGS | METH_KEYWORDS,
     "batch_register_memory(addrs, sizes) -> int (all or nothing)"},
    {"unregister_memory", (PyCFunction)te_unregister_memory, METH_O, "unregister_memory(addr | buffer) -> int"},
    {"transfer_sync_write", (PyCFunction)te_sync_write, METH_VARARGS,
     "transfer_sync_write(target_session_id, local, remote_addr, size) -> int"},
    {"transfer_sync_read", (PyCFunction)te_sync_read, METH_VARARGS,
     "transfer_sync_read(target_session_id, local, remote_addr, size) -> int"},
    {"batch_transfer_sync_write", (PyCFunction)te_batch_sync_write, METH_VARARGS,
     "batch_transfer_sync_write(target_session_id, locals, remote_addrs, sizes) -> int"},
    {"batch_transfer_sync_read", (PyCFunction)te_batch_sync_read, METH_VARARGS,
     "batch_transfer_sync_read(target_session_id, locals, remote_addrs, sizes) -> int"},
    {"transfer_async_write_submit", (PyCFunction)te_async_write, METH_VARARGS,
     "transfer_async_write_submit(target, local, remote_addr, size) -> int; complete with transfer_wait()"},
    {"transfer_async_read_submit", (PyCFunction)te_async_read, METH_VARARGS,
     "transfer_async_read_submit(target, local, remote_addr, size) -> int"},
    {"batch_transfer_async_write_submit", (PyCFunction)te_batch_async_write, METH_VARARGS,
     "batch_transfer_async_write_submit(target, locals, remote_addrs, sizes) -> int"},
    {"batch_transfer_async_read_submit", (PyCFunction)te_batch_async_read, METH_VARARGS,
     "batch_transfer_async_read_submit(target, locals, remote_addrs, sizes) -> int"},
    {"transfer_wait", (PyCFunction)te_wait, METH_VARARGS,
     "transfer_wait(timeout_ms=0) -> int: first error of the submitted transfers (0 = no limit)"},
    {"destroy", (PyCFunction)te_destroy, METH_NOARGS, "destroy(): deregister everything and leave (idempotent)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef te_getset[] = {
    {"session_id", (getter)te_session_id, NULL, "this engine's unique id", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject mf_te_type =
    PY_TYPE("memfabric_hybrid.TransferEngine", mf_te_obj,
            "One-sided writes/reads into memory other engines registered (smem_trans).",
            0, te_methods, te_getset, te_new, te_dealloc);

int mf_trans_add(PyObject *m)
{
    return py_type_add(m, &mf_te_type, "TransferEngine");
}
