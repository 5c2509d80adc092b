/*
 * Helpers shared by the two CPython extensions (_memfabric, _memcache):
 * argument conversion with clear TypeError/ValueError messages, buffers
 * (the buffer protocol or an (address, size) pair), a guard that lets
 * close/destroy wait for calls in flight on other threads, and the Python
 * logger hook.
 *
 * Threads: every function here is called with the GIL held. Blocking
 * library calls are made between Py_BEGIN/END_ALLOW_THREADS by the callers;
 * the guard (py_guard_*) keeps an object's C handle alive meanwhile.
 */
#ifndef PY_COMMON_H
#define PY_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

/* Cast for PyMethodDef entries taking keywords (avoids -Wcast-function-type). */
#define PY_METH(fn) ((PyCFunction)(void (*)(void))(fn))

/* ---------- numbers ---------- */
/* A Python int in [0, max]; TypeError for a non-int, ValueError outside the range (what names it). */
int py_to_u64(PyObject *o, uint64_t max, uint64_t *out, const char *what);
int py_to_i64(PyObject *o, int64_t min, int64_t max, int64_t *out, const char *what);

/* ---------- strings ---------- */
/* str (UTF-8) or bytes without NUL; *s valid while o lives. */
int py_to_cstr(PyObject *o, const char **s, Py_ssize_t *len, const char *what);
/* Copy into dst[cap] (ValueError if it does not fit). */
int py_copy_cstr(PyObject *o, char *dst, size_t cap, const char *what);

/* Keys of a batch call copied into one arena (the caller's list may change
 * while the GIL is released). */
typedef struct py_keys {
    uint32_t n;
    const char **v;
    char *arena;
} py_keys_t;
int py_keys_get(PyObject *seq, uint32_t max, py_keys_t *out); /* TypeError/ValueError */
void py_keys_free(py_keys_t *k);

/* ---------- buffers ---------- */
typedef struct py_mem {
    void *ptr;
    uint64_t len;
    bool has_view; /* view holds the exporter (and pins a bytearray's size) */
    Py_buffer view;
} py_mem_t;

/*
 * obj is either an object with the buffer protocol (C-contiguous; writable
 * when asked) or an int address. size: NULL/None = the whole buffer (an int
 * address then is a TypeError); an int <= the buffer's length otherwise
 * (ValueError if larger or negative).
 */
int py_mem_get(PyObject *obj, PyObject *size, bool writable, py_mem_t *out, const char *what);
void py_mem_release(py_mem_t *m);

/* A list of n buffers (sizes: None or a list of n sizes). */
typedef struct py_mem_list {
    Py_ssize_t n;
    py_mem_t *v;
} py_mem_list_t;
int py_mem_list_get(PyObject *objs, PyObject *sizes, bool writable, py_mem_list_t *out, const char *what);
void py_mem_list_release(py_mem_list_t *l);

/* A list of n uint64 (addresses, sizes). */
int py_u64_list(PyObject *seq, uint64_t **out, Py_ssize_t *n, const char *what);

/* ---------- guard: closes wait for calls in flight ---------- */
typedef struct py_guard {
    int busy;    /* calls in flight with the GIL released (changed only with the GIL) */
    bool closed; /* after close/destroy: new calls raise */
} py_guard_t;
/* 0, or -1 with RuntimeError("<what> is closed"). */
int py_guard_enter(py_guard_t *g, const char *what);
void py_guard_leave(py_guard_t *g);
/* Marks closed and waits (GIL released) until no call is in flight. false if already closed. */
bool py_guard_close(py_guard_t *g);
/* fn(*handle) with the GIL released, inside the guard (RuntimeError if closed): its status as an int. */
PyObject *py_guard_call(py_guard_t *g, const char *what, int32_t (*fn)(void *), void *const *handle);

/* ---------- logger ---------- */
/*
 * set_extern_logger(callable | None): the library's log lines go to
 * callable(level, msg), called from whichever thread logs (the GIL is taken
 * with PyGILState_Ensure); None sends them back to stderr. At interpreter
 * exit (atexit) the hook is switched off and calls in flight are waited
 * for, so library threads never touch a finalising interpreter.
 * set_sink installs the C trampoline with the library.
 */
PyObject *py_logger_set(PyObject *callable, int32_t (*set_sink)(void (*)(int, const char *)));

/* ---------- types ---------- */
/* The shape of every class of the two extensions: a static type with
 * methods, getters and a dealloc (extra flags and tp_new optional). */
#define PY_TYPE(pyname, obj_t, doc, extra_flags, methods, getset, newfn, dealloc)                                    \
    {                                                                                                                \
        PyVarObject_HEAD_INIT(NULL, 0).tp_name = (pyname), .tp_basicsize = sizeof(obj_t),                            \
        .tp_flags = Py_TPFLAGS_DEFAULT | (extra_flags), .tp_doc = (doc), .tp_methods = (methods),                    \
        .tp_getset = (getset), .tp_new = (newfn), .tp_dealloc = (destructor)(dealloc),                               \
    }
/* PyType_Ready and the module attribute `name`; 0 or -1 with the Python error set. */
int py_type_add(PyObject *m, PyTypeObject *t, const char *name);

/* ---------- the module-level calls both extensions export ---------- */
PyObject *py_set_log_level(PyObject *arg, int32_t (*fn)(int));  /* set_log_level(level) -> int */
PyObject *py_strerror(PyObject *arg, const char *(*fn)(int32_t)); /* strerror(status) -> str */
PyObject *py_str(const char *s);                                 /* a library message as str (bad UTF-8 replaced) */
/* The log and error calls every extension module has, over its library's
 * functions: PY_LIB_CALLS(pfx, ...) defines pfx##set_log_level,
 * pfx##set_extern_logger, pfx##get_last_err_msg and pfx##strerror;
 * PY_LIB_METHODS(pfx) is their method-table rows. */
#define PY_LIB_CALLS(pfx, lib_set_log_level, lib_set_sink, lib_last_err, lib_strerror)                               \
    static PyObject *pfx##set_log_level(PyObject *self, PyObject *arg)                                               \
    {                                                                                                                \
        (void)self;                                                                                                  \
        return py_set_log_level(arg, lib_set_log_level);                                                             \
    }                                                                                                                \
    static PyObject *pfx##set_extern_logger(PyObject *self, PyObject *arg)                                           \
    {                                                                                                                \
        (void)self;                                                                                                  \
        return py_logger_set(arg, lib_set_sink);                                                                     \
    }                                                                                                                \
    static PyObject *pfx##get_last_err_msg(PyObject *self, PyObject *unused)                                         \
    {                                                                                                                \
        (void)self, (void)unused;                                                                                    \
        return py_str(lib_last_err());                                                                               \
    }                                                                                                                \
    static PyObject *pfx##strerror(PyObject *self, PyObject *arg)                                                    \
    {                                                                                                                \
        (void)self;                                                                                                  \
        return py_strerror(arg, lib_strerror);                                                                       \
    }
#define PY_LIB_METHODS(pfx)                                                                                          \
    {"set_log_level", pfx##set_log_level, METH_O, "set_log_level(level) -> int: 0 debug .. 3 error, 4 off"},         \
        {"set_extern_logger", pfx##set_extern_logger, METH_O,                                                        \
         "set_extern_logger(callable(level, msg) | None) -> int: route the library's log lines to Python"},          \
        {"get_last_err_msg", pfx##get_last_err_msg, METH_NOARGS,                                                     \
         "get_last_err_msg() -> str: this thread's last error"},                                                     \
        {"strerror", pfx##strerror, METH_O, "strerror(status) -> str"}

/* uninitialize(flags=0): fn(flags) with the GIL released. */
PyObject *py_uninit(PyObject *args, PyObject *kw, void (*fn)(uint32_t));

/* PyErr for a Python-level RuntimeError carrying a status and the library's message. */
PyObject *py_err_status(const char *call, int32_t rc, const char *msg);

#endif
