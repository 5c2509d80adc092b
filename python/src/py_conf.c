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

/* The Python attribute of a flattened block's row: "tls" + "ca.crl.path" -> "tls_ca_crl_path". */
static const char *py_conf_flat_name(const char *group, const char *key, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s_%s", group, key);
    for (char *c = buf; *c != '\0'; c++)
        if (*c == '.') *c = '_';
    return buf;
}

/* Calls fn for each Python attribute of rows, flattened blocks opened: (name, file key, row, field). */
typedef int (*py_conf_visit_cb_t)(const char *name, const char *key, const util_conf_spec_t *sp, char *field,
                                  void *arg);

static int py_conf_visit(const util_conf_spec_t *rows, size_t n, char *base, py_conf_visit_cb_t fn, void *arg)
{
    for (size_t k = 0; k < n; k++) {
        const util_conf_spec_t *sp = &rows[k];
        if (sp->py == NULL || (sp->flags & UTIL_CONF_F_IGNORED)) continue;
        int rc;
        if (sp->type == UTIL_CONF_GROUP && (sp->flags & UTIL_CONF_F_FLAT)) {
            rc = 0;
            for (size_t j = 0; rc == 0 && j < sp->nsub; j++) {
                char name[128], key[256];
                py_conf_flat_name(sp->py, sp->sub[j].key, name, sizeof(name));
                snprintf(key, sizeof(key), "%s.%s", sp->key, sp->sub[j].key);
                rc = fn(name, key, &sp->sub[j], base == NULL ? NULL : base + sp->offset + sp->sub[j].offset, arg);
            }
        } else {
            rc = fn(sp->py, sp->key, sp, base == NULL ? NULL : base + sp->offset, arg);
        }
        if (rc != 0) return rc;
    }
    return 0;
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
        return PyLong_FromUnsignedLongLong(u >> sp->shift);
    case UTIL_CONF_INT:
        memcpy(&i, p, sizeof(i));
        return PyLong_FromLong(i >> sp->shift);
    case UTIL_CONF_ENUM: /* by name, as the seed's bindings give log_level and protocol */
        memcpy(&i, p, sizeof(i));
        if (i < 0 || (size_t)i >= py_conf_nnames(sp)) return PyLong_FromLong(i);
        return PyUnicode_FromString(sp->names[i]);
    case UTIL_CONF_GROUP:
        if (!*(const bool *)p) Py_RETURN_NONE; /* a TLS block starts with its enable flag */
        return py_conf_to_dict(sp->sub, sp->nsub, p);
    }
    Py_RETURN_NONE;
}

static int py_conf_put_item(const char *name, const char *key, const util_conf_spec_t *sp, char *field, void *arg)
{
    (void)key;
    PyObject *v = py_conf_get(sp, field);
    int rc = v == NULL ? -1 : PyDict_SetItemString((PyObject *)arg, name, v);
    Py_XDECREF(v);
    return rc;
}

PyObject *py_conf_to_dict(const util_conf_spec_t *rows, size_t n, const void *base)
{
    PyObject *d = PyDict_New();
    if (d != NULL && py_conf_visit(rows, n, (char *)base, py_conf_put_item, d) != 0) Py_CLEAR(d);
    return d;
}

static int py_conf_set_enum(const util_conf_spec_t *sp, PyObject *v, char *p, const char *what)
{
    int64_t i;
    if (PyUnicode_Check(v)) {
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
    case UTIL_CONF_SIZE:
    case UTIL_CONF_UINT:
        if (py_to_u64(v, py_conf_umax(sp->size) >> sp->shift, &u, what)) return -1;
        u <<= sp->shift;
        memcpy(p, &u, sp->size); /* little-endian: the low bytes */
        return 0;
    case UTIL_CONF_INT:
        if (py_to_i64(v, INT32_MIN >> sp->shift, INT32_MAX >> sp->shift, &i, what)) return -1;
        *(int32_t *)p = (int32_t)((uint32_t)i << sp->shift);
        return 0;
    case UTIL_CONF_ENUM: return py_conf_set_enum(sp, v, p, what);
    case UTIL_CONF_GROUP:
        memset(p, 0, sp->size);
        return v == Py_None ? 0 : py_conf_from_obj(sp->sub, sp->nsub, v, p, what);
    }
    return 0;
}

typedef struct {
    PyObject *o;
    const char *cls;
} py_conf_from_t;

static int py_conf_take_item(const char *name, const char *key, const util_conf_spec_t *sp, char *field, void *arg)
{
    (void)key;
    const py_conf_from_t *f = arg;
    PyObject *v = PyDict_Check(f->o) ? PyDict_GetItemString(f->o, name) : PyObject_GetAttrString(f->o, name);
    if (v == NULL) {
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s expected (a %s object or a dict), got %.80s without field %s", f->cls,
                         f->cls, Py_TYPE(f->o)->tp_name, name);
            return -1;
        }
        return 0; /* a dict without the key keeps the default */
    }
    if (PyDict_Check(f->o)) Py_INCREF(v);
    char what[160];
    snprintf(what, sizeof(what), "%s.%s", f->cls, name);
    int rc = py_conf_set(sp, v, field, what);
    Py_DECREF(v);
    return rc;
}

int py_conf_from_obj(const util_conf_spec_t *rows, size_t n, PyObject *o, void *base, const char *cls)
{
    py_conf_from_t f = {.o = o, .cls = cls};
    return py_conf_visit(rows, n, base, py_conf_take_item, &f);
}

static int py_conf_add_name(const char *name, const char *key, const util_conf_spec_t *sp, char *field, void *arg)
{
    (void)key;
    (void)sp;
    (void)field;
    PyObject *s = PyUnicode_FromString(name);
    int rc = s == NULL ? -1 : PyList_Append((PyObject *)arg, s);
    Py_XDECREF(s);
    return rc;
}

PyObject *py_conf_names(const util_conf_spec_t *rows, size_t n)
{
    PyObject *l = PyList_New(0);
    if (l != NULL && py_conf_visit(rows, n, NULL, py_conf_add_name, l) != 0) Py_CLEAR(l);
    if (l == NULL) return NULL;
    PyObject *t = PyList_AsTuple(l);
    Py_DECREF(l);
    return t;
}

static int py_conf_add_size(const char *name, const char *key, const util_conf_spec_t *sp, char *field, void *arg)
{
    (void)key;
    return sp->type == UTIL_CONF_SIZE ? py_conf_add_name(name, key, sp, field, arg) : 0;
}

PyObject *py_conf_size_names(const util_conf_spec_t *rows, size_t n)
{
    PyObject *l = PyList_New(0);
    if (l != NULL && py_conf_visit(rows, n, NULL, py_conf_add_size, l) != 0) Py_CLEAR(l);
    return l;
}

static int py_conf_add_row(const char *name, const char *key, const util_conf_spec_t *sp, char *field, void *arg)
{
    (void)key;
    (void)field;
    PyObject *t = Py_BuildValue("(szz)", name, key, sp->def);
    int rc = t == NULL ? -1 : PyList_Append((PyObject *)arg, t);
    Py_XDECREF(t);
    return rc;
}

PyObject *py_conf_rows(const util_conf_spec_t *rows, size_t n)
{
    PyObject *l = PyList_New(0);
    if (l != NULL && py_conf_visit(rows, n, NULL, py_conf_add_row, l) != 0) Py_CLEAR(l);
    return l;
}
