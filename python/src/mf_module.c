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

void mf_live_add(mf_live_t **head, mf_live_t *n)
{
    n->prev = NULL;
    n->next = *head;
    if (*head != NULL) (*head)->prev = n;
    *head = n;
}

void mf_live_del(mf_live_t **head, mf_live_t *n)
{
    if (n->prev != NULL) n->prev->next = n->next;
    else if (*head == n) *head = n->next;
    else return; /* not on the list */
    if (n->next != NULL) n->next->prev = n->prev;
    n->prev = n->next = NULL;
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

static PyObject *mf_store_call(PyObject *args, PyObject *kw, const char *fmt, int32_t (*fn)(const char *))
{
    static char *kwl[] = {"store_url", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwl, &arg)) return NULL;
    const char *url;
    if (py_to_cstr(arg, &url, NULL, "store_url") != 0) return NULL;
    Py_INCREF(arg); /* url points into it while the GIL is released */
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fn(url);
    Py_END_ALLOW_THREADS
    Py_DECREF(arg);
    return PyLong_FromLong(rc);
}

static PyObject *mf_create_config_store(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return mf_store_call(args, kw, "O:create_config_store", smem_create_config_store);
}

static PyObject *mf_destroy_config_store(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return mf_store_call(args, kw, "O:destroy_config_store", smem_destroy_config_store);
}

static PyObject *mf_set_conf_store_tls(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"enable", "tls_info", NULL};
    int enable;
    const char *info;
    Py_ssize_t len;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ps#:set_conf_store_tls", kwl, &enable, &info, &len)) return NULL;
    if ((uint64_t)len > UINT32_MAX) return PyErr_Format(PyExc_ValueError, "tls_info is too long");
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_set_conf_store_tls(enable != 0, info, (uint32_t)len);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

/* The Python decrypt function of set_conf_store_tls_key; the library calls mf_decrypt when it loads the
 * key (smem_create_config_store, store connections), from whichever thread that is. */
static PyObject *mf_decrypt_fn;

static int mf_decrypt(const char *cipher, size_t cipher_len, char *plain, size_t *plain_len)
{
    if (!Py_IsInitialized()) return -1;
    PyGILState_STATE st = PyGILState_Ensure();
    int rc = -1;
    PyObject *fn = mf_decrypt_fn, *r = NULL;
    if (fn == NULL || cipher_len > PY_SSIZE_T_MAX) goto out;
    Py_INCREF(fn);
    r = PyObject_CallFunction(fn, "s#", cipher, (Py_ssize_t)cipher_len);
    Py_DECREF(fn);
    if (r == NULL) {
        PyErr_WriteUnraisable(mf_decrypt_fn);
        goto out;
    }
    Py_ssize_t n;
    const char *text = PyUnicode_Check(r) ? PyUnicode_AsUTF8AndSize(r, &n) : NULL;
    if (text == NULL) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "the decrypt function returned %.80s, not str", Py_TYPE(r)->tp_name);
        PyErr_WriteUnraisable(mf_decrypt_fn);
        goto out;
    }
    if ((size_t)n >= *plain_len) goto out; /* no room for the text and its NUL */
    memcpy(plain, text, (size_t)n);
    plain[n] = '\0';
    *plain_len = (size_t)n;
    rc = 0;
out:
    Py_XDECREF(r);
    PyGILState_Release(st);
    return rc;
}

/* set_conf_store_tls_key(tls_pk, tls_pk_pw, py_decrypt_func) -> int: the key (PEM text) and its password
 * in memory; py_decrypt_func(str) -> str undoes an encrypted password (None: the password is plain). */
static PyObject *mf_set_conf_store_tls_key(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"tls_pk", "tls_pk_pw", "py_decrypt_func", NULL};
    const char *pk, *pw;
    Py_ssize_t pk_len, pw_len;
    PyObject *fn = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s#s#|O:set_conf_store_tls_key", kwl, &pk, &pk_len, &pw, &pw_len, &fn))
        return NULL;
    if (fn != Py_None && !PyCallable_Check(fn))
        return PyErr_Format(PyExc_TypeError, "py_decrypt_func must be callable or None, not %.80s",
                            Py_TYPE(fn)->tp_name);
    if ((uint64_t)pk_len > UINT32_MAX || (uint64_t)pw_len > UINT32_MAX)
        return PyErr_Format(PyExc_ValueError, "tls_pk or tls_pk_pw is too long");
    PyObject *old = mf_decrypt_fn;
    mf_decrypt_fn = fn == Py_None ? NULL : Py_NewRef(fn);
    Py_XDECREF(old);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_set_config_store_tls_key(pk, (uint32_t)pk_len, pw_len ? pw : NULL, (uint32_t)pw_len,
                                       fn == Py_None ? NULL : mf_decrypt);
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
    {"create_config_store", PY_METH(mf_create_config_store), METH_VARARGS | METH_KEYWORDS,
     "create_config_store(store_url) -> int: start a config store server in this process"},
    {"destroy_config_store", PY_METH(mf_destroy_config_store), METH_VARARGS | METH_KEYWORDS,
     "destroy_config_store(store_url) -> int"},
    {"set_conf_store_tls", PY_METH(mf_set_conf_store_tls), METH_VARARGS | METH_KEYWORDS,
     "set_conf_store_tls(enable, tls_info) -> int (tls_info: 'tlsCaPath:...;tlsCert:...;tlsPk:...')"},
    {"set_conf_store_tls_key", PY_METH(mf_set_conf_store_tls_key), METH_VARARGS | METH_KEYWORDS,
     "set_conf_store_tls_key(tls_pk, tls_pk_pw, py_decrypt_func) -> int: the config store's private key and its "
     "password in memory; py_decrypt_func(cipher: str) -> str, or None"},
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
