/*
 * _memfabric: CPython bindings of libsmem (memfabric_hybrid). This file: the
 * common calls (init, logging, last error, config store) and the module.
 * bm, shm and the TransferEngine live in mf_bm.c, mf_shm.c, mf_trans.c.
 * Every library call that may block or take a library lock runs with the
 * GIL released.
 */
#include "mf_int.h"

#include <string.h>

#include "smem/host/smem.h"

int mf_attr_u64(PyObject *cfg, const char *name, uint64_t max, uint64_t *out)
{
    PyObject *v = PyObject_GetAttrString(cfg, name);
    if (v == NULL) return -1;
    char what[96];
    snprintf(what, sizeof(what), "%.40s.%.48s", Py_TYPE(cfg)->tp_name, name);
    int rc = py_to_u64(v, max, out, what);
    Py_DECREF(v);
    return rc;
}

int mf_attr_bool(PyObject *cfg, const char *name, bool *out)
{
    PyObject *v = PyObject_GetAttrString(cfg, name);
    if (v == NULL) return -1;
    if (!PyBool_Check(v) && !PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%.40s.%.48s must be a bool, not %.80s", Py_TYPE(cfg)->tp_name, name,
                     Py_TYPE(v)->tp_name);
        Py_DECREF(v);
        return -1;
    }
    *out = PyObject_IsTrue(v) == 1;
    Py_DECREF(v);
    return 0;
}

int mf_attr_str(PyObject *cfg, const char *name, char *dst, size_t cap)
{
    PyObject *v = PyObject_GetAttrString(cfg, name);
    if (v == NULL) return -1;
    char what[96];
    snprintf(what, sizeof(what), "%.40s.%.48s", Py_TYPE(cfg)->tp_name, name);
    int rc = py_copy_cstr(v, dst, cap, what);
    Py_DECREF(v);
    return rc;
}

static PyObject *mf_initialize(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"flags", NULL};
    unsigned int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|I:initialize", kwl, &flags)) return NULL;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_init(flags);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

static PyObject *mf_uninitialize(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_BEGIN_ALLOW_THREADS
    smem_uninit();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PY_LIB_CALLS(mf_, smem_set_log_level, smem_set_extern_logger, smem_get_last_err_msg, smem_strerror)

static PyObject *mf_get_and_clear_last_err_msg(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return py_str(smem_get_and_clear_last_err_msg());
}

static PyObject *mf_store_call(PyObject *arg, int32_t (*fn)(const char *))
{
    const char *url;
    if (py_to_cstr(arg, &url, NULL, "url") != 0) return NULL;
    Py_INCREF(arg); /* url points into it while the GIL is released */
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fn(url);
    Py_END_ALLOW_THREADS
    Py_DECREF(arg);
    return PyLong_FromLong(rc);
}

static PyObject *mf_create_config_store(PyObject *self, PyObject *arg)
{
    (void)self;
    return mf_store_call(arg, smem_create_config_store);
}

static PyObject *mf_destroy_config_store(PyObject *self, PyObject *arg)
{
    (void)self;
    return mf_store_call(arg, smem_destroy_config_store);
}

static PyObject *mf_set_conf_store_tls(PyObject *self, PyObject *args)
{
    (void)self;
    int enable;
    const char *info;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "ps#:set_conf_store_tls", &enable, &info, &len)) return NULL;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_set_conf_store_tls(enable != 0, info, (uint32_t)len);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

static PyMethodDef mf_methods[] = {
    {"initialize", PY_METH(mf_initialize), METH_VARARGS | METH_KEYWORDS,
     "initialize(flags=0) -> int: smem_init (idempotent)"},
    {"uninitialize", mf_uninitialize, METH_NOARGS, "uninitialize(): smem_uninit (stops embedded config stores)"},
    PY_LIB_METHODS(mf_),
    {"get_and_clear_last_err_msg", mf_get_and_clear_last_err_msg, METH_NOARGS,
     "get_and_clear_last_err_msg() -> str"},
    {"create_config_store", mf_create_config_store, METH_O,
     "create_config_store(url) -> int: start a config store server in this process"},
    {"destroy_config_store", mf_destroy_config_store, METH_O, "destroy_config_store(url) -> int"},
    {"set_conf_store_tls", mf_set_conf_store_tls, METH_VARARGS,
     "set_conf_store_tls(enable, tls_info) -> int (tls_info: 'tlsCaPath:...;tlsCert:...;tlsPk:...')"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef mf_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "memfabric_hybrid._memfabric",
    .m_doc = "CPython bindings of libsmem (BM, SHM, Trans). Use the memfabric_hybrid package.",
    .m_size = -1,
    .m_methods = mf_methods,
};

static int mf_add_funcs(PyObject *m, PyMethodDef *defs)
{
    PyObject *name = PyModule_GetNameObject(m);
    if (name == NULL) return -1;
    for (PyMethodDef *d = defs; d->ml_name != NULL; d++) {
        PyObject *f = PyCFunction_NewEx(d, NULL, name);
        if (f == NULL || PyModule_AddObject(m, d->ml_name, f) != 0) {
            Py_XDECREF(f);
            Py_DECREF(name);
            return -1;
        }
    }
    Py_DECREF(name);
    return 0;
}

PyMODINIT_FUNC PyInit__memfabric(void); /* the one symbol the extension exports */
PyMODINIT_FUNC PyInit__memfabric(void)
{
    PyObject *m = PyModule_Create(&mf_module);
    if (m == NULL) return NULL;
    /* Every code of include/smem/host/smem_status.h, generated from the one list. */
    if (PyModule_AddIntConstant(m, "SMEM_SUCCESS", SMEM_SUCCESS) != 0) goto fail;
#define MF_STATUS_CONST_(name, value, msg) \
    if (PyModule_AddIntConstant(m, "SMEM_ERR_" #name, SMEM_ERR_##name) != 0) goto fail;
    SMEM_STATUS_LIST(MF_STATUS_CONST_)
#undef MF_STATUS_CONST_
    if (mf_bm_add(m) != 0 || mf_shm_add(m) != 0 || mf_trans_add(m) != 0) goto fail;
    if (mf_add_funcs(m, mf_bm_methods) != 0 || mf_add_funcs(m, mf_shm_methods) != 0) goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
