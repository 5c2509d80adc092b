/*
 * _memcache module functions for replica copy, move and clear (mmc_client.h,
 * replicas): thin translations for the MooncakeDistributedStore class
 * (create_copy_task / create_move_task / batch_replica_clear). They act on
 * this process's client (after DistributedObjectStore.init) and return
 * MMC_* statuses; arguments of the wrong type raise. Each call releases the
 * GIL while it runs.
 */
#include "mc_int.h"

#include "memcache/mmc_client.h"

/* replica_copy(key, targets) -> int */
static PyObject *mc_replica_copy(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"key", "targets", NULL};
    const char *key;
    PyObject *seq;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sO:replica_copy", kwl, &key, &seq)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "replica_copy: targets must be a sequence of LocalService ids");
    if (fast == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    uint32_t tgt[MMC_REPLICA_MAX];
    if (n < 1 || n > MMC_REPLICA_MAX) {
        Py_DECREF(fast);
        return PyErr_Format(PyExc_ValueError, "replica_copy: %zd targets, must be 1..%u", n, MMC_REPLICA_MAX);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t v;
        if (py_to_u64(PySequence_Fast_GET_ITEM(fast, i), UINT32_MAX, &v, "target") != 0) {
            Py_DECREF(fast);
            return NULL;
        }
        tgt[i] = (uint32_t)v;
    }
    Py_DECREF(fast);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_replica_copy(key, tgt, (uint32_t)n, 0);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

/* replica_move(key, src, dst) -> int */
static PyObject *mc_replica_move(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"key", "src", "dst", NULL};
    const char *key;
    PyObject *so, *dso;
    uint64_t src, dst;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sOO:replica_move", kwl, &key, &so, &dso)) return NULL;
    if (py_to_u64(so, UINT32_MAX, &src, "src") != 0 || py_to_u64(dso, UINT32_MAX, &dst, "dst") != 0) return NULL;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmcc_replica_move(key, (uint32_t)src, (uint32_t)dst, 0);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

/* batch_replica_clear(keys, local_service_id=-1) -> [int] */
static PyObject *mc_batch_replica_clear(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"keys", "local_service_id", NULL};
    PyObject *seq;
    long long id = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|L:batch_replica_clear", kwl, &seq, &id)) return NULL;
    py_keys_t k;
    if (py_keys_get(seq, MMC_BATCH_MAX, &k) != 0) return NULL;
    int32_t *st = PyMem_RawMalloc((k.n ? k.n : 1) * sizeof(*st));
    if (st == NULL) {
        py_keys_free(&k);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    for (uint32_t i = 0; i < k.n; i++) st[i] = mmcc_replica_clear(k.v[i], (int64_t)id, 0);
    Py_END_ALLOW_THREADS
    PyObject *out = PyList_New(k.n);
    for (uint32_t i = 0; out != NULL && i < k.n; i++) {
        PyObject *v = PyLong_FromLong(st[i]);
        if (v == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, v);
    }
    PyMem_RawFree(st);
    py_keys_free(&k);
    return out;
}

#define KW (METH_VARARGS | METH_KEYWORDS)
PyMethodDef mc_replica_methods[] = {
    {"replica_copy", PY_METH(mc_replica_copy), KW,
     "replica_copy(key, targets) -> int: new replicas of key on the LocalServices targets (0 = published)"},
    {"replica_move", PY_METH(mc_replica_move), KW,
     "replica_move(key, src, dst) -> int: copy key's replica on src to dst, then drop the one on src"},
    {"batch_replica_clear", PY_METH(mc_batch_replica_clear), KW,
     "batch_replica_clear(keys, local_service_id=-1) -> [int]: drop each key's replica there (-1: the key)"},
    {NULL, NULL, 0, NULL},
};
