/*
 * _memcache: LocalConfig and MetaConfig. Each Python attribute is one row of
 * the service's config table (src/memcache/common/mmc_conf_table.c, compiled
 * into this module too): one field of mmc_local_service_config_t /
 * mmc_meta_service_config_t and one config key of docs/CONFIG.md.
 */
#include "mc_int.h"

#include <string.h>

#include "memcache/common/mmc_conf.h"
#include "memcache/mmc_service.h"
#include "net/net.h"
#include "py_conf.h"

#define LOCAL mmc_local_conf_table, mmc_local_conf_rows
#define META mmc_meta_conf_table, mmc_meta_conf_rows

int mc_local_config_from(PyObject *o, mmc_local_service_config_t *c)
{
    mmc_local_service_config_init(c);
    return py_conf_from_obj(LOCAL, o, c, "LocalConfig");
}

int mc_meta_config_from(PyObject *o, mmc_meta_service_config_t *c)
{
    mmc_meta_service_config_init(c);
    return py_conf_from_obj(META, o, c, "MetaConfig");
}

static PyObject *mc_local_config_fields(PyObject *s, PyObject *u)
{
    (void)s;
    (void)u;
    return py_conf_names(LOCAL);
}

static PyObject *mc_meta_config_fields(PyObject *s, PyObject *u)
{
    (void)s;
    (void)u;
    return py_conf_names(META);
}

static PyObject *mc_local_config_defaults(PyObject *s, PyObject *u)
{
    (void)s;
    (void)u;
    mmc_local_service_config_t c;
    mmc_local_service_config_init(&c);
    return py_conf_to_dict(LOCAL, &c);
}

static PyObject *mc_meta_config_defaults(PyObject *s, PyObject *u)
{
    (void)s;
    (void)u;
    mmc_meta_service_config_t c;
    mmc_meta_service_config_init(&c);
    return py_conf_to_dict(META, &c);
}

/* load(path) -> dict; ValueError with the library's "path:line: ..." message. */
static PyObject *mc_local_config_load(PyObject *s, PyObject *arg)
{
    (void)s;
    const char *path;
    if (py_to_cstr(arg, &path, NULL, "path") != 0) return NULL;
    mmc_local_service_config_t c;
    mmc_local_service_config_init(&c);
    int32_t rc = mmc_local_service_config_load(path, &c);
    if (rc != 0) return PyErr_Format(PyExc_ValueError, "%s (%d)", mmc_get_last_err_msg(), (int)rc);
    return py_conf_to_dict(LOCAL, &c);
}

static PyObject *mc_meta_config_load(PyObject *s, PyObject *arg)
{
    (void)s;
    const char *path;
    if (py_to_cstr(arg, &path, NULL, "path") != 0) return NULL;
    mmc_meta_service_config_t c;
    mmc_meta_service_config_init(&c);
    int32_t rc = mmc_meta_service_config_load(path, &c);
    if (rc != 0) return PyErr_Format(PyExc_ValueError, "%s (%d)", mmc_get_last_err_msg(), (int)rc);
    return py_conf_to_dict(META, &c);
}

/* check(config) -> int status (MMC_INVALID_PARAM naming the key; message via get_last_err_msg). */
static PyObject *mc_local_config_check(PyObject *s, PyObject *arg)
{
    (void)s;
    mmc_local_service_config_t c;
    if (mc_local_config_from(arg, &c) != 0) return NULL;
    return PyLong_FromLong(mmc_local_service_config_check(&c));
}

static PyObject *mc_meta_config_check(PyObject *s, PyObject *arg)
{
    (void)s;
    mmc_meta_service_config_t c;
    if (mc_meta_config_from(arg, &c) != 0) return NULL;
    return PyLong_FromLong(mmc_meta_service_config_check(&c));
}

/* value(name, v) -> v as the struct holds it (an enum's name, ...): the field's own checks, at assignment. */
static PyObject *mc_config_value(const util_conf_spec_t *rows, size_t n, void *c, PyObject *args, const char *cls)
{
    PyObject *name, *v;
    if (!PyArg_ParseTuple(args, "UO", &name, &v)) return NULL;
    PyObject *d = Py_BuildValue("{OO}", name, v);
    if (d == NULL) return NULL;
    int bad = py_conf_from_obj(rows, n, d, c, cls);
    Py_DECREF(d);
    if (bad) return NULL;
    PyObject *all = py_conf_to_dict(rows, n, c);
    if (all == NULL) return NULL;
    PyObject *out = PyDict_GetItemWithError(all, name);
    if (out == NULL && !PyErr_Occurred()) PyErr_Format(PyExc_AttributeError, "%s has no field %R", cls, name);
    Py_XINCREF(out);
    Py_DECREF(all);
    return out;
}

static PyObject *mc_local_config_value(PyObject *s, PyObject *args)
{
    (void)s;
    mmc_local_service_config_t c;
    mmc_local_service_config_init(&c);
    return mc_config_value(LOCAL, &c, args, "LocalConfig");
}

static PyObject *mc_meta_config_value(PyObject *s, PyObject *args)
{
    (void)s;
    mmc_meta_service_config_t c;
    mmc_meta_service_config_init(&c);
    return mc_config_value(META, &c, args, "MetaConfig");
}

/* config_sizes(name) -> the Python names of the size fields of "local" or "meta". */
static PyObject *mc_config_sizes(PyObject *s, PyObject *arg)
{
    (void)s;
    const char *name;
    if (py_to_cstr(arg, &name, NULL, "name") != 0) return NULL;
    if (strcmp(name, "local") == 0) return py_conf_size_names(LOCAL);
    if (strcmp(name, "meta") == 0) return py_conf_size_names(META);
    return PyErr_Format(PyExc_ValueError, "no config table %R", arg);
}

/* config_table(name) -> [(python name, key, default text)] of "local", "meta" or "tls", for tests. */
static PyObject *mc_config_table(PyObject *s, PyObject *arg)
{
    (void)s;
    const char *name;
    if (py_to_cstr(arg, &name, NULL, "name") != 0) return NULL;
    if (strcmp(name, "local") == 0) return py_conf_rows(LOCAL);
    if (strcmp(name, "meta") == 0) return py_conf_rows(META);
    if (strcmp(name, "tls") == 0) return py_conf_rows(net_tls_conf_rows, NET_TLS_CONF_NROWS);
    return PyErr_Format(PyExc_ValueError, "no config table %R", arg);
}

PyMethodDef mc_config_methods[] = {
    {"config_table", mc_config_table, METH_O, NULL},
    {"config_sizes", mc_config_sizes, METH_O, NULL},
    {"local_config_fields", mc_local_config_fields, METH_NOARGS, NULL},
    {"local_config_defaults", mc_local_config_defaults, METH_NOARGS, NULL},
    {"local_config_load", mc_local_config_load, METH_O, NULL},
    {"local_config_check", mc_local_config_check, METH_O, NULL},
    {"local_config_value", mc_local_config_value, METH_VARARGS, NULL},
    {"meta_config_fields", mc_meta_config_fields, METH_NOARGS, NULL},
    {"meta_config_defaults", mc_meta_config_defaults, METH_NOARGS, NULL},
    {"meta_config_load", mc_meta_config_load, METH_O, NULL},
    {"meta_config_check", mc_meta_config_check, METH_O, NULL},
    {"meta_config_value", mc_meta_config_value, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
