/* Python <-> C config structs through their tables; see py_conf.h. */
#include "py_conf.h"

#include <string.h>
#include <strings.h>

static size_t py_conf_nnames(const util_conf_spec_t *sp)
{
    size_t n = 0;
    while (sp->names[n] != NULL) n++;
    return n;
}

static uint64_t py_conf_umax(size_t size)
{
    return size == 1 ? UINT8_MAX : size == 2 ? UINT16_MAX : size == 4 ? UINT32_MAX : UINT64_MAX;
}

static PyObject *py_conf_get(const util_conf_spec_t *sp, const char *p)
{
    uint64_t u = 0;
    int32_t i = 0;
    switch (sp->type) {
    case UTIL_CONF_STR: return PyUnicode_DecodeUTF8(p, (Py_ssize_t)strnlen(p, sp->size), "replace");
    case UTIL_CONF_BOOL: return PyBool_FromLong(*(const bool *)p);
    case UTIL_CONF_UINT:
    case UTIL_CONF_SIZE:
        memcpy(&u, p, sp->size); /* little-endian: the low bytes */
        return PyLong_FromUnsignedLongLong(u);
    case UTIL_CONF_INT:
    case UTIL_CONF_ENUM:
        memcpy(&i, p, sizeof(i));
        if ((sp->flags & UTIL_CONF_F_NUM) || sp->type == UTIL_CONF_INT || i < 0 || (size_t)i >= py_conf_nnames(sp))
            return PyLong_FromLong(i);
        return PyUnicode_FromString(sp->names[i]);
    case UTIL_CONF_GROUP:
        if (!*(const bool *)p) Py_RETURN_NONE; /* a TLS block starts with its enable flag */
        return py_conf_to_dict(sp->sub, sp->nsub, p);
    }
    Py_RETURN_NONE;
}

PyObject *py_conf_to_dict(const util_conf_spec_t *rows, size_t n, const void *base)
{
    PyObject *d = PyDict_New();
    for (size_t k = 0; d != NULL && k < n; k++) {
        if (rows[k].py == NULL) continue;
        PyObject *v = py_conf_get(&rows[k], (const char *)base + rows[k].offset);
        if (v == NULL || PyDict_SetItemString(d, rows[k].py, v) != 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static int py_conf_set_enum(const util_conf_spec_t *sp, PyObject *v, char *p, const char *what)
{
    int64_t i;
    if (PyUnicode_Check(v) && !(sp->flags & UTIL_CONF_F_NUM)) {
        const char *s = PyUnicode_AsUTF8(v);
        if (s == NULL) return -1;
        for (size_t k = 0; sp->names[k] != NULL; k++) {
            if (strcasecmp(s, sp->names[k]) == 0) {
                *(int32_t *)p = (int32_t)k;
                return 0;
            }
        }
        PyErr_Format(PyExc_ValueError, "%s must be one of the names of docs/CONFIG.md, got %R", what, v);
        return -1;
    }
    int64_t hi = (sp->flags & UTIL_CONF_F_NUM) ? INT32_MAX : (int64_t)py_conf_nnames(sp) - 1;
    if (py_to_i64(v, (sp->flags & UTIL_CONF_F_NUM) ? INT32_MIN : 0, hi, &i, what)) return -1;
    *(int32_t *)p = (int32_t)i;
    return 0;
}

static int py_conf_set(const util_conf_spec_t *sp, PyObject *v, char *p, const char *what)
{
    uint64_t u;
    int64_t i;
    switch (sp->type) {
    case UTIL_CONF_STR: return py_copy_cstr(v, p, sp->size, what);
    case UTIL_CONF_BOOL:
        if (!PyBool_Check(v) && !PyLong_Check(v)) {
            PyErr_Format(PyExc_TypeError, "%s must be a bool, not %.80s", what, Py_TYPE(v)->tp_name);
            return -1;
        }
        *(bool *)p = PyObject_IsTrue(v) == 1;
        return 0;
    case UTIL_CONF_UINT:
    case UTIL_CONF_SIZE:
        if (py_to_u64(v, py_conf_umax(sp->size), &u, what)) return -1;
        memcpy(p, &u, sp->size); /* little-endian: the low bytes */
        return 0;
    case UTIL_CONF_INT:
        if (py_to_i64(v, INT32_MIN, INT32_MAX, &i, what)) return -1;
        *(int32_t *)p = (int32_t)i;
        return 0;
    case UTIL_CONF_ENUM: return py_conf_set_enum(sp, v, p, what);
    case UTIL_CONF_GROUP:
        memset(p, 0, sp->size);
        return v == Py_None ? 0 : py_conf_from_obj(sp->sub, sp->nsub, v, p, what);
    }
    return 0;
}

int py_conf_from_obj(const util_conf_spec_t *rows, size_t n, PyObject *o, void *base, const char *cls)
{
    for (size_t k = 0; k < n; k++) {
        const util_conf_spec_t *sp = &rows[k];
        if (sp->py == NULL) continue;
        PyObject *v = PyDict_Check(o) ? PyDict_GetItemString(o, sp->py) : PyObject_GetAttrString(o, sp->py);
        if (v == NULL) {
            if (PyErr_Occurred()) {
                if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "%s expected (a %s object or a dict), got %.80s without field %s", cls,
                             cls, Py_TYPE(o)->tp_name, sp->py);
                return -1;
            }
            continue; /* a dict without the key keeps the default */
        }
        if (PyDict_Check(o)) Py_INCREF(v);
        char what[96];
        snprintf(what, sizeof(what), "%s.%s", cls, sp->py);
        int rc = py_conf_set(sp, v, (char *)base + sp->offset, what);
        Py_DECREF(v);
        if (rc != 0) return -1;
    }
    return 0;
}

PyObject *py_conf_names(const util_conf_spec_t *rows, size_t n)
{
    PyObject *l = PyList_New(0);
    for (size_t k = 0; l != NULL && k < n; k++) {
        if (rows[k].py == NULL) continue;
        PyObject *s = PyUnicode_FromString(rows[k].py);
        if (s == NULL || PyList_Append(l, s) != 0) Py_CLEAR(l);
        Py_XDECREF(s);
    }
    if (l == NULL) return NULL;
    PyObject *t = PyList_AsTuple(l);
    Py_DECREF(l);
    return t;
}

PyObject *py_conf_rows(const util_conf_spec_t *rows, size_t n)
{
    PyObject *l = PyList_New(0);
    for (size_t k = 0; l != NULL && k < n; k++) {
        if (rows[k].py == NULL) continue;
        PyObject *t = Py_BuildValue("(szz)", rows[k].py, rows[k].key, rows[k].def);
        if (t == NULL || PyList_Append(l, t) != 0) Py_CLEAR(l);
        Py_XDECREF(t);
    }
    return l;
}
