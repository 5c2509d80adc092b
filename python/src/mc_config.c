/*
 * _memcache: LocalConfig and MetaConfig. Each Python attribute maps to one
 * field of mmc_local_service_config_t / mmc_meta_service_config_t (one
 * config key of docs/CONFIG.md); the tables below are the whole mapping.
 */
#include "mc_int.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "memcache/mmc_service.h"

typedef enum { F_STR, F_BOOL, F_U16, F_U32, F_I32, F_U64, F_PROTO, F_TLS } mc_kind_t;

typedef struct {
    const char *name;
    mc_kind_t kind;
    size_t off;
    size_t cap; /* F_STR: bytes */
} mc_field_t;

#define L(n, k, f) {n, k, offsetof(mmc_local_service_config_t, f), sizeof(((mmc_local_service_config_t *)0)->f)}
static const mc_field_t mc_local_fields[] = {
    L("meta_service_url", F_STR, discoveryURL),
    L("config_store_url", F_STR, configStoreURL),
    L("hcom_url", F_STR, hcomUrl),
    L("world_size", F_U32, worldSize),
    L("protocol", F_PROTO, protocol),
    L("dram_size", F_U64, localDRAMSize),
    L("hbm_size", F_U64, localHBMSize),
    L("max_dram_size", F_U64, localMaxDRAMSize),
    L("max_hbm_size", F_U64, localMaxHBMSize),
    L("device_id", F_I32, deviceId),
    L("log_level", F_I32, logLevel),
    L("log_path", F_STR, logPath),
    L("retry_milliseconds", F_U32, retryMilliseconds),
    L("timeout_seconds", F_U32, timeoutSeconds),
    L("read_thread_pool_size", F_U32, readThreadPoolSize),
    L("write_thread_pool_size", F_U32, writeThreadPoolSize),
    L("aggregate_io", F_BOOL, aggregateIO),
    L("aggregate_num", F_U32, aggregateNum),
    L("tls", F_TLS, accTlsConfig),
    L("config_store_tls", F_TLS, configStoreTlsConfig),
    L("hcom_tls", F_TLS, hcomTlsConfig),
    {NULL, F_STR, 0, 0},
};
#undef L

#define M(n, k, f) {n, k, offsetof(mmc_meta_service_config_t, f), sizeof(((mmc_meta_service_config_t *)0)->f)}
static const mc_field_t mc_meta_fields[] = {
    M("meta_service_url", F_STR, discoveryURL),
    M("config_store_url", F_STR, configStoreURL),
    M("metrics_url", F_STR, httpURL),
    M("ha_enable", F_BOOL, haEnable),
    M("log_level", F_I32, logLevel),
    M("log_path", F_STR, logPath),
    M("evict_threshold_high", F_U16, evictThresholdHigh),
    M("evict_threshold_low", F_U16, evictThresholdLow),
    M("lease_ttl_ms", F_U32, leaseTtlMs),
    M("put_timeout_ms", F_U32, putTimeoutMs),
    M("heartbeat_timeout_ms", F_U32, heartbeatTimeoutMs),
    M("tls", F_TLS, accTlsConfig),
    M("config_store_tls", F_TLS, configStoreTlsConfig),
    {NULL, F_STR, 0, 0},
};
#undef M

static const char *const mc_proto_names[] = {"host_shm", "host_tcp", "host_ucx", "device_ucx"};

#define T(n, f) {n, F_STR, offsetof(mmc_tls_config, f), MMC_PATH_SIZE}
static const mc_field_t mc_tls_fields[] = {
    {"tls_enable", F_BOOL, offsetof(mmc_tls_config, tlsEnable), 1},
    T("ca_path", caPath),
    T("crl_path", crlPath),
    T("cert_path", certPath),
    T("key_path", keyPath),
    T("key_pass_path", keyPassPath),
    T("decrypter_lib_path", decrypterLibPath),
    {NULL, F_STR, 0, 0},
};
#undef T

static PyObject *mc_to_dict(const mc_field_t *f, const void *base);

static PyObject *mc_field_get(const mc_field_t *f, const void *base)
{
    const char *p = (const char *)base + f->off;
    switch (f->kind) {
    case F_STR: return PyUnicode_DecodeUTF8(p, (Py_ssize_t)strnlen(p, f->cap), "replace");
    case F_BOOL: return PyBool_FromLong(*(const bool *)p);
    case F_U16: return PyLong_FromUnsignedLong(*(const uint16_t *)p);
    case F_U32: return PyLong_FromUnsignedLong(*(const uint32_t *)p);
    case F_I32: return PyLong_FromLong(*(const int32_t *)p);
    case F_U64: return PyLong_FromUnsignedLongLong(*(const uint64_t *)p);
    case F_PROTO: {
        uint32_t v = *(const uint32_t *)p;
        return v < 4 ? PyUnicode_FromString(mc_proto_names[v]) : PyLong_FromUnsignedLong(v);
    }
    case F_TLS: {
        const mmc_tls_config *t = (const mmc_tls_config *)p;
        if (!t->tlsEnable) Py_RETURN_NONE;
        return mc_to_dict(mc_tls_fields, t);
    }
    }
    Py_RETURN_NONE;
}

static PyObject *mc_to_dict(const mc_field_t *f, const void *base)
{
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    for (; f->name != NULL; f++) {
        PyObject *v = mc_field_get(f, base);
        if (v == NULL || PyDict_SetItemString(d, f->name, v) != 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static int mc_from_obj(const mc_field_t *f, PyObject *o, void *base, const char *cls);

static int mc_field_set(const mc_field_t *f, PyObject *v, void *base, const char *cls)
{
    char what[96];
    snprintf(what, sizeof(what), "%s.%s", cls, f->name);
    char *p = (char *)base + f->off;
    uint64_t u;
    int64_t i;
    switch (f->kind) {
    case F_STR: return py_copy_cstr(v, p, f->cap, what);
    case F_BOOL:
        if (!PyBool_Check(v) && !PyLong_Check(v)) {
            PyErr_Format(PyExc_TypeError, "%s must be a bool, not %.80s", what, Py_TYPE(v)->tp_name);
            return -1;
        }
        *(bool *)p = PyObject_IsTrue(v) == 1;
        return 0;
    case F_U16:
        if (py_to_u64(v, UINT16_MAX, &u, what)) return -1;
        *(uint16_t *)p = (uint16_t)u;
        return 0;
    case F_U32:
        if (py_to_u64(v, UINT32_MAX, &u, what)) return -1;
        *(uint32_t *)p = (uint32_t)u;
        return 0;
    case F_I32:
        if (py_to_i64(v, INT32_MIN, INT32_MAX, &i, what)) return -1;
        *(int32_t *)p = (int32_t)i;
        return 0;
    case F_U64:
        if (py_to_u64(v, UINT64_MAX, &u, what)) return -1;
        *(uint64_t *)p = u;
        return 0;
    case F_PROTO:
        if (PyUnicode_Check(v)) {
            const char *s = PyUnicode_AsUTF8(v);
            if (s == NULL) return -1;
            for (uint32_t k = 0; k < 4; k++) {
                if (strcasecmp(s, mc_proto_names[k]) == 0) {
                    *(uint32_t *)p = k;
                    return 0;
                }
            }
            PyErr_Format(PyExc_ValueError, "%s must be host_shm, host_tcp, host_ucx or device_ucx, got %R", what, v);
            return -1;
        }
        if (py_to_u64(v, 3, &u, what)) return -1;
        *(uint32_t *)p = (uint32_t)u;
        return 0;
    case F_TLS:
        memset(p, 0, sizeof(mmc_tls_config));
        if (v == Py_None) return 0;
        return mc_from_obj(mc_tls_fields, v, p, what);
    }
    return 0;
}

static int mc_from_obj(const mc_field_t *f, PyObject *o, void *base, const char *cls)
{
    for (; f->name != NULL; f++) {
        PyObject *v = PyDict_Check(o) ? PyDict_GetItemString(o, f->name) : PyObject_GetAttrString(o, f->name);
        if (v == NULL) {
            if (PyErr_Occurred()) {
                if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "%s expected (a %s object or a dict), got %.80s without field %s", cls,
                             cls, Py_TYPE(o)->tp_name, f->name);
                return -1;
            }
            continue; /* a dict without the key keeps the default */
        }
        if (PyDict_Check(o)) Py_INCREF(v);
        int rc = mc_field_set(f, v, base, cls);
        Py_DECREF(v);
        if (rc != 0) return -1;
    }
    return 0;
}

int mc_local_config_from(PyObject *o, mmc_local_service_config_t *c)
{
    mmc_local_service_config_init(c);
    return mc_from_obj(mc_local_fields, o, c, "LocalConfig");
}

int mc_meta_config_from(PyObject *o, mmc_meta_service_config_t *c)
{
    mmc_meta_service_config_init(c);
    return mc_from_obj(mc_meta_fields, o, c, "MetaConfig");
}

static PyObject *mc_names(const mc_field_t *f)
{
    Py_ssize_t n = 0;
    while (f[n].name != NULL) n++;
    PyObject *t = PyTuple_New(n);
    if (t == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(f[i].name);
        if (s == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

static PyObject *mc_local_config_fields(PyObject *s, PyObject *u)
{
    (void)s;
    (void)u;
    return mc_names(mc_local_fields);
}

static PyObject *mc_meta_config_fields(PyObject *s, PyObject *u)
{
    (void)s;
    (void)u;
    return mc_names(mc_meta_fields);
}

static PyObject *mc_local_config_defaults(PyObject *s, PyObject *u)
{
    (void)s;
    (void)u;
    mmc_local_service_config_t c;
    mmc_local_service_config_init(&c);
    return mc_to_dict(mc_local_fields, &c);
}

static PyObject *mc_meta_config_defaults(PyObject *s, PyObject *u)
{
    (void)s;
    (void)u;
    mmc_meta_service_config_t c;
    mmc_meta_service_config_init(&c);
    return mc_to_dict(mc_meta_fields, &c);
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
    return mc_to_dict(mc_local_fields, &c);
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
    return mc_to_dict(mc_meta_fields, &c);
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

PyMethodDef mc_config_methods[] = {
    {"local_config_fields", mc_local_config_fields, METH_NOARGS, NULL},
    {"local_config_defaults", mc_local_config_defaults, METH_NOARGS, NULL},
    {"local_config_load", mc_local_config_load, METH_O, NULL},
    {"local_config_check", mc_local_config_check, METH_O, NULL},
    {"meta_config_fields", mc_meta_config_fields, METH_NOARGS, NULL},
    {"meta_config_defaults", mc_meta_config_defaults, METH_NOARGS, NULL},
    {"meta_config_load", mc_meta_config_load, METH_O, NULL},
    {"meta_config_check", mc_meta_config_check, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};
