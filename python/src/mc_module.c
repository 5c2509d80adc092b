/*
 * _memcache: CPython bindings of libmmc (memcache_hybrid). This file: the
 * module, logging, the last error, and in-process MetaServices
 * (mmcs_meta_service_start/stop); the client is in mc_store.c, the config
 * objects in mc_config.c.
 */
#include "mc_int.h"

#include <stdlib.h>
#include <string.h>

#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "memcache/mmc_service.h"

/* ---------- MetaService handle ---------- */

typedef struct {
    PyObject_HEAD
    mmc_meta_service_t h;
} mc_meta_obj;

static PyTypeObject mc_meta_type;

/* meta_start(config=None) -> MetaServiceHandle. None: MMC_META_CONFIG_PATH if set, else loopback defaults. */
static PyObject *mc_meta_start(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cfg_o = Py_None;
    if (!PyArg_ParseTuple(args, "|O:meta_start", &cfg_o)) return NULL;
    mmc_meta_service_config_t c;
    if (cfg_o != Py_None) {
        if (mc_meta_config_from(cfg_o, &c) != 0) return NULL;
    } else {
        mmc_meta_service_config_init(&c);
        const char *path = getenv("MMC_META_CONFIG_PATH");
        if (path != NULL && path[0] != '\0' && mmc_meta_service_config_load(path, &c) != 0)
            return PyErr_Format(PyExc_ValueError, "MMC_META_CONFIG_PATH=%s: %s", path, mmc_get_last_err_msg());
    }
    mmc_meta_service_t h;
    Py_BEGIN_ALLOW_THREADS
    h = mmcs_meta_service_start(&c);
    Py_END_ALLOW_THREADS
    if (h == NULL) return py_err_status("MetaService start", -1, mmc_get_last_err_msg());
    mc_meta_obj *o = PyObject_New(mc_meta_obj, &mc_meta_type);
    if (o == NULL) {
        Py_BEGIN_ALLOW_THREADS
        mmcs_meta_service_stop(h);
        Py_END_ALLOW_THREADS
        return NULL;
    }
    o->h = h;
    return (PyObject *)o;
}

static void meta_close(mc_meta_obj *o)
{
    mmc_meta_service_t h = o->h;
    o->h = NULL;
    if (h == NULL) return;
    Py_BEGIN_ALLOW_THREADS
    mmcs_meta_service_stop(h);
    Py_END_ALLOW_THREADS
}

static PyObject *meta_stop(mc_meta_obj *o, PyObject *u)
{
    (void)u;
    meta_close(o);
    Py_RETURN_NONE;
}

static PyObject *meta_port(mc_meta_obj *o, PyObject *arg)
{
    uint64_t which;
    if (py_to_u64(arg, MMC_META_PORT_HTTP, &which, "which") != 0) return NULL;
    return PyLong_FromUnsignedLong(o->h ? mmcs_meta_service_port(o->h, (mmc_meta_port_t)which) : 0);
}

static PyObject *meta_running(mc_meta_obj *o, void *u)
{
    (void)u;
    return PyBool_FromLong(o->h != NULL);
}

static void meta_dealloc(mc_meta_obj *o)
{
    meta_close(o);
    PyObject_Free(o);
}

static PyMethodDef meta_methods[] = {
    {"stop", (PyCFunction)meta_stop, METH_NOARGS, "stop(): close every connection and stop (idempotent)"},
    {"port", (PyCFunction)meta_port, METH_O, "port(0 rpc | 1 store | 2 http) -> bound TCP port (0: none)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef meta_getset[] = {
    {"running", (getter)meta_running, NULL, "False after stop()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject mc_meta_type =
    PY_TYPE("memcache_hybrid.MetaServiceHandle", mc_meta_obj,
            "A MetaService running in this process (MetaService.start); stopped by stop() or when collected.",
            0, meta_methods, meta_getset, NULL, meta_dealloc);

/* ---------- logging, errors ---------- */

PY_LIB_CALLS(mc_, mmc_set_log_level, mmc_set_extern_logger, mmc_get_last_err_msg, mmc_strerror)

static PyMethodDef mc_methods[] = {
    {"meta_start", mc_meta_start, METH_VARARGS, "meta_start(config=None) -> MetaServiceHandle"},
    PY_LIB_METHODS(mc_),
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef mc_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "memcache_hybrid._memcache",
    .m_doc = "CPython bindings of libmmc. Use the memcache_hybrid package.",
    .m_size = -1,
    .m_methods = mc_methods,
};

PyMODINIT_FUNC PyInit__memcache(void); /* the one symbol the extension exports */
PyMODINIT_FUNC PyInit__memcache(void)
{
    PyObject *m = PyModule_Create(&mc_module);
    if (m == NULL) return NULL;
    if (PyModule_AddFunctions(m, mc_config_methods) != 0 || PyModule_AddFunctions(m, mc_ext_methods) != 0 ||
        PyModule_AddFunctions(m, mc_replica_methods) != 0 || mc_store_add(m) != 0)
        goto fail;
    if (py_type_add(m, &mc_meta_type, "MetaServiceHandle") != 0) goto fail;
    static const struct {
        const char *n;
        long v;
    } consts[] = {
#define MC_STATUS_CONST_(name, value, msg) {"MMC_" #name, MMC_##name},
        MMC_STATUS_LIST(MC_STATUS_CONST_)
#undef MC_STATUS_CONST_
        {"MMC_BATCH_MAX", MMC_BATCH_MAX},
        {"MMC_KEY_MAX", MMC_KEY_MAX},
        {"MMC_LAYERS_MAX", MMC_LAYERS_MAX},
        {"MMC_MEDIA_HBM", MMC_MEDIA_HBM},
        {"MMC_MEDIA_DRAM", MMC_MEDIA_DRAM},
        {"MMC_MEDIA_NONE", MMC_MEDIA_NONE},
    };
    for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
        if (PyModule_AddIntConstant(m, consts[i].n, consts[i].v) != 0) goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
