/* Argument conversion, buffers, the close guard and the logger hook (py_common.h). */
#include "py_common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---------- numbers ---------- */

int py_to_u64(PyObject *o, uint64_t max, uint64_t *out, const char *what)
{
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.80s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow < 0 || (overflow == 0 && v < 0)) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0, got %R", what, o);
        return -1;
    }
    unsigned long long u = (unsigned long long)v;
    if (overflow > 0) {
        u = PyLong_AsUnsignedLongLong(o);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s %R is out of range (max %llu)", what, o, (unsigned long long)max);
            return -1;
        }
    }
    if (u > max) {
        PyErr_Format(PyExc_ValueError, "%s %R is out of range (max %llu)", what, o, (unsigned long long)max);
        return -1;
    }
    *out = (uint64_t)u;
    return 0;
}

int py_to_i64(PyObject *o, int64_t min, int64_t max, int64_t *out, const char *what)
{
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.80s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow != 0 || v < min || v > max) {
        PyErr_Format(PyExc_ValueError, "%s %R is out of range %lld..%lld", what, o, (long long)min, (long long)max);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* ---------- strings ---------- */

int py_to_cstr(PyObject *o, const char **s, Py_ssize_t *len, const char *what)
{
    const char *p = NULL;
    Py_ssize_t n = 0;
    if (PyUnicode_Check(o)) {
        p = PyUnicode_AsUTF8AndSize(o, &n);
        if (p == NULL) return -1;
    } else if (PyBytes_Check(o)) {
        p = PyBytes_AS_STRING(o);
        n = PyBytes_GET_SIZE(o);
    } else {
        PyErr_Format(PyExc_TypeError, "%s must be str or bytes, not %.80s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    if ((Py_ssize_t)strlen(p) != n) {
        PyErr_Format(PyExc_ValueError, "%s must not contain NUL characters", what);
        return -1;
    }
    *s = p;
    if (len != NULL) *len = n;
    return 0;
}

int py_copy_cstr(PyObject *o, char *dst, size_t cap, const char *what)
{
    const char *s;
    Py_ssize_t n;
    if (py_to_cstr(o, &s, &n, what) != 0) return -1;
    if ((size_t)n >= cap) {
        PyErr_Format(PyExc_ValueError, "%s is %zd bytes, longer than the limit of %zu", what, n, cap - 1);
        return -1;
    }
    memcpy(dst, s, (size_t)n + 1);
    return 0;
}

int py_keys_get(PyObject *seq, uint32_t max, py_keys_t *out)
{
    memset(out, 0, sizeof(*out));
    if (PyUnicode_Check(seq) || PyBytes_Check(seq)) {
        PyErr_SetString(PyExc_TypeError, "keys must be a list of str, not a single str");
        return -1;
    }
    PyObject *fast = PySequence_Fast(seq, "keys must be a list or tuple of str");
    if (fast == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if ((uint64_t)n > max) {
        PyErr_Format(PyExc_ValueError, "%zd keys in one batch, more than the limit of %u", n, max);
        Py_DECREF(fast);
        return -1;
    }
    size_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *s;
        Py_ssize_t len;
        if (py_to_cstr(PySequence_Fast_GET_ITEM(fast, i), &s, &len, "key") != 0) {
            PyErr_Clear();
            char what[48];
            snprintf(what, sizeof(what), "keys[%zd]", i);
            (void)py_to_cstr(PySequence_Fast_GET_ITEM(fast, i), &s, &len, what);
            goto fail;
        }
        total += (size_t)len + 1;
    }
    out->v = PyMem_Malloc(sizeof(char *) * (size_t)(n ? n : 1));
    out->arena = PyMem_Malloc(total ? total : 1);
    if (out->v == NULL || out->arena == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    size_t off = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *s;
        Py_ssize_t len;
        (void)py_to_cstr(PySequence_Fast_GET_ITEM(fast, i), &s, &len, "key");
        memcpy(out->arena + off, s, (size_t)len + 1);
        out->v[i] = out->arena + off;
        off += (size_t)len + 1;
    }
    out->n = (uint32_t)n;
    Py_DECREF(fast);
    return 0;
fail:
    Py_DECREF(fast);
    py_keys_free(out);
    return -1;
}

void py_keys_free(py_keys_t *k)
{
    PyMem_Free(k->v);
    PyMem_Free(k->arena);
    memset(k, 0, sizeof(*k));
}

/* ---------- buffers ---------- */

int py_mem_get(PyObject *obj, PyObject *size, bool writable, py_mem_t *out, const char *what)
{
    memset(out, 0, sizeof(*out));
    if (size == Py_None) size = NULL;
    if (size != NULL && PyLong_CheckExact(obj) && PyLong_CheckExact(size)) {
        /* (address, size): the hot path of the layers calls; messages only on the slow path below. */
        unsigned long long a = PyLong_AsUnsignedLongLong(obj), n = PyLong_AsUnsignedLongLong(size);
        if (!PyErr_Occurred() && n <= INT64_MAX) {
            out->ptr = (void *)(uintptr_t)a;
            out->len = n;
            return 0;
        }
        PyErr_Clear();
    }
    uint64_t want = 0;
    if (size != NULL) {
        char w[64];
        snprintf(w, sizeof(w), "size of %s", what);
        if (py_to_u64(size, INT64_MAX, &want, w) != 0) return -1;
    }
    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        if (size == NULL) {
            PyErr_Format(PyExc_TypeError, "%s is an address (int): its size must be given", what);
            return -1;
        }
        uint64_t addr;
        char w[64];
        snprintf(w, sizeof(w), "%s (address)", what);
        if (py_to_u64(obj, UINT64_MAX, &addr, w) != 0) return -1;
        out->ptr = (void *)(uintptr_t)addr;
        out->len = want;
        return 0;
    }
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must support the buffer protocol (bytes, bytearray, memoryview, numpy "
                     "array) or be an int address, not %.80s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyObject_GetBuffer(obj, &out->view, writable ? PyBUF_CONTIG : PyBUF_CONTIG_RO) != 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_Format(writable ? PyExc_TypeError : PyExc_ValueError, "%s: %s buffer needed (%S)", what,
                     writable ? "a writable C-contiguous" : "a C-contiguous", value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return -1;
    }
    out->has_view = true;
    out->ptr = out->view.buf;
    out->len = (uint64_t)out->view.len;
    if (size != NULL) {
        if (want > out->len) {
            PyErr_Format(PyExc_ValueError, "size %llu of %s exceeds its buffer of %zd bytes", (unsigned long long)want,
                         what, out->view.len);
            py_mem_release(out);
            return -1;
        }
        out->len = want;
    }
    return 0;
}

void py_mem_release(py_mem_t *m)
{
    if (m->has_view) PyBuffer_Release(&m->view);
    m->has_view = false;
}

int py_mem_list_get(PyObject *objs, PyObject *sizes, bool writable, py_mem_list_t *out, const char *what)
{
    memset(out, 0, sizeof(*out));
    if (sizes == Py_None) sizes = NULL;
    if (PyObject_CheckBuffer(objs) || PyUnicode_Check(objs)) {
        PyErr_Format(PyExc_TypeError, "%s must be a list of buffers or addresses", what);
        return -1;
    }
    PyObject *fo = PySequence_Fast(objs, "expected a list of buffers or addresses");
    if (fo == NULL) return -1;
    PyObject *fs = NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fo);
    if (sizes != NULL) {
        fs = PySequence_Fast(sizes, "sizes must be a list of ints");
        if (fs == NULL) goto fail;
        if (PySequence_Fast_GET_SIZE(fs) != n) {
            PyErr_Format(PyExc_ValueError, "%s has %zd entries but sizes has %zd", what, n,
                         PySequence_Fast_GET_SIZE(fs));
            goto fail;
        }
    }
    out->v = PyMem_Calloc((size_t)(n ? n : 1), sizeof(py_mem_t));
    if (out->v == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(fo, i), *sz = fs ? PySequence_Fast_GET_ITEM(fs, i) : NULL;
        if (py_mem_get(o, sz, writable, &out->v[i], what) != 0) {
            PyErr_Clear();
            char w[64];
            snprintf(w, sizeof(w), "%s[%zd]", what, i);
            (void)py_mem_get(o, sz, writable, &out->v[i], w); /* again, for the message naming the index */
            if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "%s is not a valid buffer", w);
            py_mem_release(&out->v[i]);
            goto fail;
        }
        out->n = i + 1;
    }
    out->n = n;
    Py_DECREF(fo);
    Py_XDECREF(fs);
    return 0;
fail:
    Py_DECREF(fo);
    Py_XDECREF(fs);
    py_mem_list_release(out);
    return -1;
}

void py_mem_list_release(py_mem_list_t *l)
{
    for (Py_ssize_t i = 0; i < l->n; i++) py_mem_release(&l->v[i]);
    PyMem_Free(l->v);
    memset(l, 0, sizeof(*l));
}

int py_u64_list(PyObject *seq, uint64_t **out, Py_ssize_t *n, const char *what)
{
    PyObject *f = PySequence_Fast(seq, "expected a list of ints");
    if (f == NULL) return -1;
    Py_ssize_t k = PySequence_Fast_GET_SIZE(f);
    uint64_t *v = PyMem_Malloc(sizeof(uint64_t) * (size_t)(k ? k : 1));
    if (v == NULL) {
        Py_DECREF(f);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        char w[64];
        snprintf(w, sizeof(w), "%s[%zd]", what, i);
        if (py_to_u64(PySequence_Fast_GET_ITEM(f, i), UINT64_MAX, &v[i], w) != 0) {
            PyMem_Free(v);
            Py_DECREF(f);
            return -1;
        }
    }
    Py_DECREF(f);
    *out = v;
    *n = k;
    return 0;
}

/* ---------- guard ---------- */

int py_guard_enter(py_guard_t *g, const char *what)
{
    if (g->closed) {
        PyErr_Format(PyExc_RuntimeError, "%s is closed", what);
        return -1;
    }
    g->busy++;
    return 0;
}

void py_guard_leave(py_guard_t *g) { g->busy--; }

bool py_guard_close(py_guard_t *g)
{
    if (g->closed) return false;
    g->closed = true;
    while (g->busy > 0) {
        Py_BEGIN_ALLOW_THREADS
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        Py_END_ALLOW_THREADS
    }
    return true;
}

/* ---------- logger ---------- */

static PyObject *py_logger_cb; /* guarded by the GIL */
static int py_logger_alive = 1;
static int py_logger_inflight;
static bool py_logger_atexit_done;

static void py_logger_stderr(int level, const char *msg)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    fprintf(stderr, "%s %s\n", level >= 0 && level <= 3 ? names[level] : "?", msg);
}

/* Called by the library from any thread, with or without the GIL. */
static void py_logger_sink(int level, const char *msg)
{
    __atomic_add_fetch(&py_logger_inflight, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&py_logger_alive, __ATOMIC_SEQ_CST)) {
        __atomic_sub_fetch(&py_logger_inflight, 1, __ATOMIC_SEQ_CST);
        py_logger_stderr(level, msg);
        return;
    }
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *cb = py_logger_cb;
    if (cb != NULL) {
        Py_INCREF(cb);
        PyObject *r = PyObject_CallFunction(cb, "is", level, msg);
        if (r == NULL) PyErr_WriteUnraisable(cb);
        Py_XDECREF(r);
        Py_DECREF(cb);
    } else {
        py_logger_stderr(level, msg);
    }
    PyGILState_Release(st);
    __atomic_sub_fetch(&py_logger_inflight, 1, __ATOMIC_SEQ_CST);
}

/* atexit: runs before the interpreter starts finalising, with the GIL held. */
static PyObject *py_logger_atexit(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    __atomic_store_n(&py_logger_alive, 0, __ATOMIC_SEQ_CST);
    /* Callers that saw alive==1 wait for the GIL: let them finish (bounded, 5 s). */
    for (int i = 0; i < 5000 && __atomic_load_n(&py_logger_inflight, __ATOMIC_SEQ_CST) > 0; i++) {
        Py_BEGIN_ALLOW_THREADS
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        Py_END_ALLOW_THREADS
    }
    Py_CLEAR(py_logger_cb);
    Py_RETURN_NONE;
}

static PyMethodDef py_logger_atexit_def = {"_logger_atexit", py_logger_atexit, METH_NOARGS, NULL};

PyObject *py_logger_set(PyObject *callable, int32_t (*set_sink)(void (*)(int, const char *)))
{
    if (callable != Py_None && !PyCallable_Check(callable)) {
        PyErr_Format(PyExc_TypeError, "logger must be callable(level, msg) or None, not %.80s",
                     Py_TYPE(callable)->tp_name);
        return NULL;
    }
    if (!py_logger_atexit_done) {
        PyObject *mod = PyImport_ImportModule("atexit");
        if (mod == NULL) return NULL;
        PyObject *fn = PyCFunction_New(&py_logger_atexit_def, NULL);
        PyObject *r = fn ? PyObject_CallMethod(mod, "register", "O", fn) : NULL;
        Py_XDECREF(fn);
        Py_DECREF(mod);
        if (r == NULL) return NULL;
        Py_DECREF(r);
        py_logger_atexit_done = true;
    }
    PyObject *old = py_logger_cb;
    py_logger_cb = callable == Py_None ? NULL : callable;
    Py_XINCREF(py_logger_cb);
    Py_XDECREF(old);
    int32_t rc = set_sink(py_logger_sink);
    return PyLong_FromLong(rc);
}

PyObject *py_err_status(const char *call, int32_t rc, const char *msg)
{
    PyErr_Format(PyExc_RuntimeError, "%s failed (%d): %s", call, (int)rc, msg && msg[0] ? msg : "no message");
    return NULL;
}

int py_type_add(PyObject *m, PyTypeObject *t, const char *name)
{
    if (PyType_Ready(t) < 0) return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

PyObject *py_set_log_level(PyObject *arg, int32_t (*fn)(int))
{
    int64_t level;
    if (py_to_i64(arg, INT32_MIN, INT32_MAX, &level, "level") != 0) return NULL;
    return PyLong_FromLong(fn((int)level));
}

PyObject *py_strerror(PyObject *arg, const char *(*fn)(int32_t))
{
    int64_t rc;
    if (py_to_i64(arg, INT32_MIN, INT32_MAX, &rc, "status") != 0) return NULL;
    return PyUnicode_FromString(fn((int32_t)rc));
}

PyObject *py_str(const char *s) { return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace"); }

PyObject *py_uninit(PyObject *args, PyObject *kw, void (*fn)(uint32_t))
{
    static char *kwl[] = {"flags", NULL};
    unsigned int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|I:uninitialize", kwl, &flags)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    fn(flags);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyObject *py_guard_call(py_guard_t *g, const char *what, int32_t (*fn)(void *), void *const *handle)
{
    if (py_guard_enter(g, what) != 0) return NULL;
    void *h = *handle;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fn(h);
    Py_END_ALLOW_THREADS
    py_guard_leave(g);
    return PyLong_FromLong(rc);
}
