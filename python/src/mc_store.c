/*
 * _memcache: DistributedObjectStore over the mmcc_* client (mmc_client.h).
 * Single-key calls return the key's status (0 ok, MMC_* < 0); batch calls
 * return a list with each key's status. Buffers are read from / written to
 * in place (the buffer protocol or (address, size)); the GIL is released
 * around every library call (mc_store.h says how a method makes its call).
 *
 * This file: the object's lifetime (setup, init, close), the type with its
 * method table, and the KeyInfo type.
 */
#include "mc_store.h"

#include <string.h>

/* ---------- lifetime ---------- */

static PyObject *st_new(PyTypeObject *t, PyObject *a, PyObject *k)
{
    (void)a;
    (void)k;
    mc_store_obj *s = (mc_store_obj *)t->tp_alloc(t, 0);
    if (s != NULL) memset(&s->g, 0, sizeof(s->g));
    return (PyObject *)s;
}

static void st_dealloc(mc_store_obj *s) { Py_TYPE(s)->tp_free((PyObject *)s); }

static int32_t call_setup(mc_req_t *q) { return mmc_setup_local_service(q->ctx); }

static PyObject *st_setup(mc_store_obj *s, PyObject *arg)
{
    mmc_local_service_config_t c;
    mc_req_t q = {.ctx = &c};
    int bad = mc_local_config_from(arg, &c);
    return mc_req_run(s, &q, bad, call_setup, mc_ret_status);
}

static int32_t call_init(mc_req_t *q) { return mmc_init(q->ctx); }

static PyObject *st_init(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"device_id", "init_bm", NULL};
    PyObject *dev_o = NULL;
    int init_bm = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Op:init", kwl, &dev_o, &init_bm)) return NULL;
    uint64_t dev = 0;
    int bad = dev_o && py_to_u64(dev_o, UINT32_MAX, &dev, "device_id") != 0;
    mmc_init_config ic = {.device_id = (uint32_t)dev, .init_bm = init_bm != 0};
    mc_req_t q = {.ctx = &ic};
    return mc_req_run(s, &q, bad, call_init, mc_ret_status);
}

static int32_t call_uninit(mc_req_t *q)
{
    (void)q;
    mmc_uninit();
    return 0;
}

static PyObject *st_close(mc_store_obj *s, PyObject *u)
{
    (void)u;
    if (py_guard_close(&s->g)) (void)mc_nogil(call_uninit, NULL); /* else closed before: nothing to do */
    return PyLong_FromLong(0);
}

static PyObject *st_closed(mc_store_obj *s, void *u)
{
    (void)u;
    return PyBool_FromLong(s->g.closed);
}

static int32_t call_local_id(mc_req_t *q) { return mmcc_local_service_id(q->ctx); }

static PyObject *ret_local_id(mc_req_t *q, int32_t rc)
{
    return rc == 0 ? PyLong_FromUnsignedLong(*(const uint32_t *)q->ctx) : PyLong_FromLong(rc);
}

static PyObject *st_get_local_service_id(mc_store_obj *s, PyObject *u)
{
    (void)u;
    uint32_t id = 0;
    mc_req_t q = {.ctx = &id};
    return mc_req_run(s, &q, 0, call_local_id, ret_local_id);
}

/* ---------- type ---------- */

#define KW METH_VARARGS | METH_KEYWORDS
static PyMethodDef st_methods[] = {
    {"setup", (PyCFunction)st_setup, METH_O, "setup(LocalConfig) -> int: the LocalService config for init"},
    {"init", PY_METH(st_init), KW, "init(device_id=0, init_bm=True) -> int: start the LocalService and the client"},
    {"close", (PyCFunction)st_close, METH_NOARGS, "close() -> 0: stop them (a second close returns 0)"},
    {"put", PY_METH(mc_st_put), KW, "put(key, buffer, replicate_config=None) -> int"},
    {"put_batch", PY_METH(mc_st_put_batch), KW, "put_batch(keys, buffers, replicate_config=None) -> [int]"},
    {"put_from", PY_METH(mc_st_put_from), KW,
     "put_from(key, buffer_ptr, size=None, direction=COPY_H2G, replicate_config=None) -> int"},
    {"batch_put_from", PY_METH(mc_st_batch_put_from), KW,
     "batch_put_from(keys, buffer_ptrs, sizes=None, direction=COPY_H2G, replicate_config=None) -> [int]"},
    {"put_from_layers", PY_METH(mc_st_put_from_layers), KW,
     "put_from_layers(key, buffer_ptrs, sizes=None, direction=COPY_H2G, replicate_config=None) -> int"},
    {"batch_put_from_layers", PY_METH(mc_st_batch_put_from_layers), KW,
     "batch_put_from_layers(keys, buffer_ptrs, sizes=None, direction=COPY_H2G, replicate_config=None) -> [int]"},
    {"get", (PyCFunction)mc_st_get, METH_O, "get(key) -> bytes (b'' when absent or on error)"},
    {"get_batch", (PyCFunction)mc_st_get_batch, METH_O, "get_batch(keys) -> [bytes]"},
    {"get_into", PY_METH(mc_st_get_into), KW, "get_into(key, buffer_ptr, size=None, direction=COPY_G2H) -> int"},
    {"batch_get_into", PY_METH(mc_st_batch_get_into), KW,
     "batch_get_into(keys, buffer_ptrs, sizes=None, direction=COPY_G2H) -> [int]"},
    {"get_into_layers", PY_METH(mc_st_get_into_layers), KW,
     "get_into_layers(key, buffer_ptrs, sizes=None, direction=COPY_G2H) -> int"},
    {"batch_get_into_layers", PY_METH(mc_st_batch_get_into_layers), KW,
     "batch_get_into_layers(keys, buffer_ptrs, sizes=None, direction=COPY_G2H) -> [int]"},
    {"remove", (PyCFunction)mc_st_remove, METH_O, "remove(key) -> int"},
    {"remove_batch", (PyCFunction)mc_st_remove_batch, METH_O, "remove_batch(keys) -> [int]"},
    {"remove_all", (PyCFunction)mc_st_remove_all, METH_NOARGS, "remove_all() -> int"},
    {"is_exist", (PyCFunction)mc_st_is_exist, METH_O, "is_exist(key) -> 1 readable, 0 absent/not ready, < 0 error"},
    {"batch_is_exist", (PyCFunction)mc_st_batch_is_exist, METH_O, "batch_is_exist(keys) -> [1/0/error]"},
    {"get_key_info", (PyCFunction)mc_st_get_key_info, METH_O, "get_key_info(key) -> KeyInfo"},
    {"batch_get_key_info", (PyCFunction)mc_st_batch_get_key_info, METH_O, "batch_get_key_info(keys) -> [KeyInfo]"},
    {"register_buffer", PY_METH(mc_st_register_buffer), KW, "register_buffer(buffer_ptr, size=None) -> int"},
    {"unregister_buffer", PY_METH(mc_st_unregister_buffer), KW, "unregister_buffer(buffer_ptr, size=None) -> int"},
    {"get_local_service_id", (PyCFunction)st_get_local_service_id, METH_NOARGS,
     "get_local_service_id() -> int id (negative: error)"},
    {"batch_alloc", PY_METH(mc_st_batch_alloc), KW,
     "batch_alloc(keys, sizes, medium=None) -> (results, gvas): space for a layer-wise put"},
    {"batch_copy", PY_METH(mc_st_batch_copy), KW,
     "batch_copy(gvas, buffer_ptrs, sizes=None, direction=COPY_H2G) -> int"},
    {"batch_copy_layers", PY_METH(mc_st_batch_copy_layers), KW,
     "batch_copy_layers(gvas, buffer_ptrs, sizes=None, direction=COPY_H2G) -> int"},
    {"batch_write_finish", PY_METH(mc_st_batch_write_finish), KW,
     "batch_write_finish(keys, results) -> [int]: publish (result 0) or abort each key"},
    {"batch_add_lease", PY_METH(mc_st_batch_add_lease), KW,
     "batch_add_lease(keys, ttl_ms) -> (results, granted_ttl_ms)"},
    {"batch_remove_lease", (PyCFunction)mc_st_batch_remove_lease, METH_O, "batch_remove_lease(keys) -> [int]"},
    {NULL, NULL, 0, NULL},
};
#undef KW

static PyGetSetDef st_getset[] = {
    {"closed", (getter)st_closed, NULL, "True after close()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject mc_store_type =
    PY_TYPE("memcache_hybrid.DistributedObjectStore", mc_store_obj,
            "The memcache client of this process (one LocalService per process).",
            Py_TPFLAGS_BASETYPE, st_methods, st_getset, st_new, st_dealloc);

/* ---------- KeyInfo ---------- */

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

PyObject *mc_key_info_new(const mmc_key_info *ki, int32_t rc)
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

int mc_store_add(PyObject *m)
{
    if (mc_key_info_type.tp_name == NULL && PyStructSequence_InitType2(&mc_key_info_type, &mc_key_info_desc) < 0)
        return -1;
    if (py_type_add(m, &mc_store_type, "DistributedObjectStore") != 0) return -1;
    return py_type_add(m, &mc_key_info_type, "KeyInfo");
}
