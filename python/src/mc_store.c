/*
 * _memcache: DistributedObjectStore over the mmcc_* client (mmc_client.h).
 * Single-key calls return the key's status (0 ok, MMC_* < 0); batch calls
 * return a list with each key's status, except where the seed returns one
 * status (put_batch, batch_remove_lease) or GVAs (batch_alloc). Buffers are read from / written to
 * in place (the buffer protocol or (address, size)); the GIL is released
 * around every library call (mc_store.h says how a method makes its call).
 *
 * This file: the object's lifetime (setup, init, close), the type with its
 * method table, and KeyInfo results (the class is the package's).
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

static PyObject *st_setup(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"config", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:setup", kwl, &arg)) return NULL;
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
/* The seed's DistributedObjectStore, in its argument order and keywords (pymmc.cpp); our earlier keyword
 * names (direction, replicate_config, buffer, buffers, gvas, results, ttl_ms, medium) are still accepted. */
static PyMethodDef st_methods[] = {
    {"setup", PY_METH(st_setup), KW, "setup(config: LocalConfig) -> int: the LocalService config for init"},
    {"init", PY_METH(st_init), KW,
     "init(device_id=0, init_bm=True) -> int: start the client (init_bm=False: client-only, no BM of its own)"},
    {"close", (PyCFunction)st_close, METH_NOARGS, "close() -> 0: stop them (a second close returns 0)"},
    {"put", PY_METH(mc_st_put), KW, "put(key, buf, replicateConfig=None) -> int"},
    {"put_batch", PY_METH(mc_st_put_batch), KW,
     "put_batch(keys, values, replicateConfig=None) -> int: 0, or the first key's failure"},
    {"put_from", PY_METH(mc_st_put_from), KW,
     "put_from(key, buffer_ptr, size=None, direct=COPY_H2G, replicateConfig=None) -> int"},
    {"batch_put_from", PY_METH(mc_st_batch_put_from), KW,
     "batch_put_from(keys, buffer_ptrs, sizes=None, direct=COPY_H2G, replicateConfig=None) -> [int]"},
    {"put_from_layers", PY_METH(mc_st_put_from_layers), KW,
     "put_from_layers(key, buffer_ptrs, sizes=None, direct=COPY_H2G, replicateConfig=None) -> int"},
    {"batch_put_from_layers", PY_METH(mc_st_batch_put_from_layers), KW,
     "batch_put_from_layers(keys, buffer_ptrs, sizes=None, direct=COPY_H2G, replicateConfig=None) -> [int]"},
    {"get", PY_METH(mc_st_get), KW, "get(key) -> bytes (b'' when absent or on error)"},
    {"get_batch", PY_METH(mc_st_get_batch), KW, "get_batch(keys) -> [bytes]"},
    {"get_into", PY_METH(mc_st_get_into), KW, "get_into(key, buffer_ptr, size=None, direct=COPY_G2H) -> int"},
    {"batch_get_into", PY_METH(mc_st_batch_get_into), KW,
     "batch_get_into(keys, buffer_ptrs, sizes=None, direct=COPY_G2H) -> [int]"},
    {"get_into_layers", PY_METH(mc_st_get_into_layers), KW,
     "get_into_layers(key, buffer_ptrs, sizes=None, direct=COPY_G2H) -> int"},
    {"batch_get_into_layers", PY_METH(mc_st_batch_get_into_layers), KW,
     "batch_get_into_layers(keys, buffer_ptrs, sizes=None, direct=COPY_G2H) -> [int]"},
    {"remove", PY_METH(mc_st_remove), KW, "remove(key) -> int"},
    {"remove_batch", PY_METH(mc_st_remove_batch), KW, "remove_batch(keys) -> [int]"},
    {"remove_all", (PyCFunction)mc_st_remove_all, METH_NOARGS, "remove_all() -> int"},
    {"is_exist", PY_METH(mc_st_is_exist), KW, "is_exist(key) -> 1 readable, 0 absent/not ready, < 0 error"},
    {"batch_is_exist", PY_METH(mc_st_batch_is_exist), KW, "batch_is_exist(keys) -> [1/0/error]"},
    {"get_key_info", PY_METH(mc_st_get_key_info), KW, "get_key_info(key, flag=0) -> KeyInfo"},
    {"batch_get_key_info", PY_METH(mc_st_batch_get_key_info), KW,
     "batch_get_key_info(keys, flag=0) -> [KeyInfo]"},
    {"register_buffer", PY_METH(mc_st_register_buffer), KW, "register_buffer(buffer_ptr, size=None) -> int"},
    {"unregister_buffer", PY_METH(mc_st_unregister_buffer), KW, "unregister_buffer(buffer_ptr, size=None) -> int"},
    {"get_local_service_id", (PyCFunction)st_get_local_service_id, METH_NOARGS,
     "get_local_service_id() -> int id (negative: error)"},
    {"batch_alloc", PY_METH(mc_st_batch_alloc), KW,
     "batch_alloc(keys, sizes, media=None) -> [gva]: space for a layer-wise put (<= 0: that key failed)"},
    {"batch_copy", PY_METH(mc_st_batch_copy), KW,
     "batch_copy(gva_ptrs, buffer_ptrs, sizes=None, direct=COPY_H2G) -> int"},
    {"batch_copy_layers", PY_METH(mc_st_batch_copy_layers), KW,
     "batch_copy_layers(gva_ptrs, buffer_ptrs, sizes=None, direct=COPY_H2G) -> int"},
    {"batch_write_finish", PY_METH(mc_st_batch_write_finish), KW,
     "batch_write_finish(keys, res) -> [int]: publish (res 0) or abort each key"},
    {"batch_add_lease", PY_METH(mc_st_batch_add_lease), KW,
     "batch_add_lease(keys, lease_ttl_ms=0) -> [int] (0: the MetaService's lease ttl)"},
    {"batch_remove_lease", PY_METH(mc_st_batch_remove_lease), KW,
     "batch_remove_lease(keys) -> int: 0, or the first key's failure"},
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

/* The package's KeyInfo class (memcache_hybrid/__init__.py registers it): called as
 * KeyInfo(size, loc_list, type_list, gva_list, valid, status). */
static PyObject *mc_key_info_cls;

static PyObject *mc_set_key_info_class(PyObject *self, PyObject *cls)
{
    (void)self;
    if (!PyCallable_Check(cls)) return PyErr_Format(PyExc_TypeError, "KeyInfo class must be callable");
    Py_INCREF(cls);
    Py_XSETREF(mc_key_info_cls, cls);
    Py_RETURN_NONE;
}

/* The seed's KeyInfo of a key that is absent or not readable yet is size 0 with no replicas (its readers
 * take size() > 0 as "readable"); valid and status say which. */
PyObject *mc_key_info_new(const mmc_key_info *ki, int32_t rc)
{
    if (mc_key_info_cls == NULL)
        return PyErr_Format(PyExc_RuntimeError, "memcache_hybrid._memcache used without the memcache_hybrid package");
    bool readable = rc == 0 && ki->valid;
    uint32_t n = readable ? ki->numBlobs : 0;
    if (n > MMC_REPLICA_MAX) n = MMC_REPLICA_MAX;
    PyObject *ret = NULL, *loc = PyList_New(n), *typ = PyList_New(n), *gva = PyList_New(n);
    if (loc == NULL || typ == NULL || gva == NULL) goto done;
    for (uint32_t i = 0; i < n; i++) {
        PyObject *a = PyLong_FromUnsignedLong(ki->ranks[i]), *b = PyLong_FromUnsignedLong(ki->types[i]),
                 *c = PyLong_FromUnsignedLongLong(ki->gvas[i]);
        if (a == NULL || b == NULL || c == NULL) {
            Py_XDECREF(a);
            Py_XDECREF(b);
            Py_XDECREF(c);
            goto done;
        }
        PyList_SET_ITEM(loc, i, a);
        PyList_SET_ITEM(typ, i, b);
        PyList_SET_ITEM(gva, i, c);
    }
    ret = PyObject_CallFunction(mc_key_info_cls, "KOOOOi", (unsigned long long)(readable ? ki->size : 0), loc, typ,
                                gva, rc == 0 && ki->valid ? Py_True : Py_False, (int)rc);
done:
    Py_XDECREF(loc);
    Py_XDECREF(typ);
    Py_XDECREF(gva);
    return ret;
}

static PyMethodDef mc_store_methods[] = {
    {"_set_key_info_class", mc_set_key_info_class, METH_O, "_set_key_info_class(cls): the KeyInfo results are cls(...)"},
    {NULL, NULL, 0, NULL},
};

int mc_store_add(PyObject *m)
{
    if (PyModule_AddFunctions(m, mc_store_methods) != 0) return -1;
    return py_type_add(m, &mc_store_type, "DistributedObjectStore");
}
