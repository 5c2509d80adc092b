/* DistributedObjectStore: get (a new bytes object), remove, exist and key info, for one key or a
 * batch. One key: its status (is_exist: 1/0/error; get: b'' when absent or on error; KeyInfo);
 * a batch: a list of them ([] without a call when empty). */
#include "mc_store.h"

#include <string.h>

/* One key (name "key") or one list of keys ("keys"), positional or by keyword, and an optional uint32 flag
 * (get_key_info's; NULL: the method has none). 0, or -1 with TypeError. */
static int st_one_arg(PyObject *args, PyObject *kw, const char *fmt, char *name, PyObject **out, uint32_t *flag)
{
    char *kwl[] = {name, flag ? "flag" : NULL, NULL};
    PyObject *f = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwl, out, &f)) return -1;
    uint64_t v = 0;
    if (f != NULL && f != Py_None && py_to_u64(f, UINT32_MAX, &v, "flag") != 0) return -1;
    if (flag) *flag = (uint32_t)v;
    return 0;
}

/* ---------- get ---------- */

static int32_t call_query(mc_req_t *q) { return mmcc_query(q->key, q->ctx, 0); }
/* The bytes read go to info.size: an upsert between the query and the get may have made the value shorter. */
static int32_t call_get(mc_req_t *q) { return mmcc_get_nread(q->key, &q->buf, 0, &((mmc_data_info *)q->ctx)->size); }

/* The size first, then the bytes object (with the GIL), then the read into it, trimmed to the bytes read;
 * again when the key was removed and put again (or upserted) larger in between, then with twice the room
 * asked for, so a key whose size keeps changing is still read. One guard span over all of it. */
PyObject *mc_st_get(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    PyObject *key;
    if (st_one_arg(args, kw, "O:get", "key", &key, NULL) != 0) return NULL;
    mmc_data_info info;
    mc_req_t q = {.ctx = &info};
    PyObject *ret = NULL;
    if (mc_req_key(&q, key) != 0 || mc_store_enter(s) != 0) goto free;
    for (int attempt = 0; attempt < 3 && ret == NULL; attempt++) {
        memset(&info, 0, sizeof(info));
        int32_t rc = mc_nogil(call_query, &q);
        if (rc != 0 || !info.valid || info.size == 0 || info.size > (uint64_t)PY_SSIZE_T_MAX / 2) break;
        uint64_t room = attempt == 0 ? info.size : info.size * 2;
        PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)room);
        if (b == NULL) goto leave; /* MemoryError */
        q.buf = (mmc_buffer){.addr = (uint64_t)(uintptr_t)PyBytes_AS_STRING(b), .type = 1, .len = room};
        rc = mc_nogil(call_get, &q);
        if (rc == 0 && info.size < (uint64_t)PyBytes_GET_SIZE(b) && _PyBytes_Resize(&b, (Py_ssize_t)info.size) != 0)
            goto leave; /* MemoryError; b is gone */
        if (rc == 0) ret = b;
        else Py_DECREF(b);
        if (rc != MMC_BUFFER_TOO_SMALL) break; /* removed and put again larger between the calls: retry */
    }
    if (ret == NULL) ret = PyBytes_FromStringAndSize("", 0);
leave:
    mc_store_leave(s);
free:
    mc_req_free(&q);
    return ret;
}

/* The sizes of all keys (scratch: mmc_data_info each), then one read of the keys found. */
typedef struct {
    const char **found; /* keys with a readable value, read into q->bufs */
    uint32_t n_found;
    uint64_t *nread;    /* bytes read per found key (an upsert meanwhile may have shortened a value) */
} mc_found_t;

static int32_t call_batch_query(mc_req_t *q) { return mmcc_batch_query(q->keys.v, q->keys.n, q->scratch, 0); }

static int32_t call_batch_get_found(mc_req_t *q)
{
    const mc_found_t *f = q->ctx;
    return mmcc_batch_get_nread(f->found, f->n_found, q->bufs, 0, q->res, f->nread);
}

/* Like get: the bytes objects are allocated with the GIL between the two calls, in one guard span. */
PyObject *mc_st_get_batch(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    PyObject *keys;
    if (st_one_arg(args, kw, "O:get_batch", "keys", &keys, NULL) != 0) return NULL;
    mc_found_t f = {0};
    mc_req_t q = {.ctx = &f};
    PyObject *ret = NULL, **objs = NULL;
    uint32_t *idx = NULL;
    if (mc_req_keys(&q, keys) != 0) goto free;
    uint32_t n = q.keys.n;
    if (n == 0) {
        ret = PyList_New(0);
        goto free;
    }
    objs = PyMem_Calloc(n, sizeof(PyObject *));
    q.bufs = PyMem_Calloc(n, sizeof(mmc_buffer));
    f.found = PyMem_Calloc(n, sizeof(char *));
    idx = PyMem_Calloc(n, sizeof(uint32_t));
    f.nread = PyMem_Calloc(n, sizeof(uint64_t));
    if (!objs || !q.bufs || !f.found || !idx || !f.nread) {
        PyErr_NoMemory();
        goto free;
    }
    if (mc_req_scratch(&q, n, sizeof(mmc_data_info)) != 0 || mc_store_enter(s) != 0) goto free;
    const mmc_data_info *infos = q.scratch;
    int32_t rc = mc_nogil(call_batch_query, &q);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (!infos[i].valid || infos[i].size == 0 || infos[i].size > (uint64_t)PY_SSIZE_T_MAX) continue;
        objs[i] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)infos[i].size);
        if (objs[i] == NULL) {
            mc_store_leave(s);
            goto free;
        }
        q.bufs[f.n_found] = (mmc_buffer){.addr = (uint64_t)(uintptr_t)PyBytes_AS_STRING(objs[i]), .type = 1,
                                         .len = infos[i].size};
        f.found[f.n_found] = q.keys.v[i];
        idx[f.n_found++] = i;
    }
    if (f.n_found > 0) (void)mc_nogil(call_batch_get_found, &q);
    mc_store_leave(s);
    for (uint32_t j = 0; j < f.n_found; j++) {
        if (q.res[j] != 0) Py_CLEAR(objs[idx[j]]);
        else if (f.nread[j] < (uint64_t)PyBytes_GET_SIZE(objs[idx[j]]) &&
                 _PyBytes_Resize(&objs[idx[j]], (Py_ssize_t)f.nread[j]) != 0)
            goto free; /* MemoryError; the object is gone */
    }
    ret = PyList_New(n);
    if (ret == NULL) goto free;
    for (uint32_t i = 0; i < n; i++) {
        PyObject *o = objs[i] ? objs[i] : PyBytes_FromStringAndSize("", 0);
        objs[i] = NULL;
        if (o == NULL) {
            Py_CLEAR(ret);
            goto free;
        }
        PyList_SET_ITEM(ret, i, o);
    }
free:
    for (uint32_t i = 0; objs && i < q.keys.n; i++) Py_XDECREF(objs[i]);
    PyMem_Free(objs);
    PyMem_Free(f.found);
    PyMem_Free(idx);
    PyMem_Free(f.nread);
    mc_req_free(&q);
    return ret;
}

/* ---------- remove ---------- */

static int32_t call_remove(mc_req_t *q) { return mmcc_remove(q->key, 0); }

PyObject *mc_st_remove(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    PyObject *key;
    if (st_one_arg(args, kw, "O:remove", "key", &key, NULL) != 0) return NULL;
    mc_req_t q = {0};
    int bad = mc_req_key(&q, key);
    return mc_req_run(s, &q, bad, call_remove, mc_ret_status);
}

static int32_t call_remove_all(mc_req_t *q)
{
    (void)q;
    return mmcc_remove_all(0);
}

PyObject *mc_st_remove_all(mc_store_obj *s, PyObject *u)
{
    (void)u;
    mc_req_t q = {0};
    return mc_req_run(s, &q, 0, call_remove_all, mc_ret_status);
}

static int32_t call_batch_remove(mc_req_t *q) { return mmcc_batch_remove(q->keys.v, q->keys.n, q->res, 0); }

PyObject *mc_st_remove_batch(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    PyObject *keys;
    if (st_one_arg(args, kw, "O:remove_batch", "keys", &keys, NULL) != 0) return NULL;
    mc_req_t q = {0};
    int bad = mc_req_keys(&q, keys);
    return mc_req_run(s, &q, bad, call_batch_remove, mc_ret_res);
}

/* ---------- exist ---------- */

static int32_t call_exist(mc_req_t *q) { return mmcc_exist(q->key, 0); }

static PyObject *ret_exist(mc_req_t *q, int32_t rc)
{
    (void)q;
    return PyLong_FromLong(mc_exist_value(rc));
}

PyObject *mc_st_is_exist(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    PyObject *key;
    if (st_one_arg(args, kw, "O:is_exist", "key", &key, NULL) != 0) return NULL;
    mc_req_t q = {0};
    int bad = mc_req_key(&q, key);
    return mc_req_run(s, &q, bad, call_exist, ret_exist);
}

static int32_t call_batch_exist(mc_req_t *q) { return mmcc_batch_exist(q->keys.v, q->keys.n, q->res, 0); }

static PyObject *ret_batch_exist(mc_req_t *q, int32_t rc)
{
    (void)rc;
    for (uint32_t i = 0; i < q->keys.n; i++) q->res[i] = mc_exist_value(q->res[i]);
    return mc_ret_res(q, rc);
}

PyObject *mc_st_batch_is_exist(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    PyObject *keys;
    if (st_one_arg(args, kw, "O:batch_is_exist", "keys", &keys, NULL) != 0) return NULL;
    mc_req_t q = {0};
    int bad = mc_req_keys(&q, keys);
    return mc_req_run(s, &q, bad, call_batch_exist, ret_batch_exist);
}

/* ---------- key info ---------- */

static int32_t call_key_info(mc_req_t *q) { return mmcc_get_key_info(q->key, q->ctx); }
static PyObject *ret_key_info(mc_req_t *q, int32_t rc) { return mc_key_info_new(q->ctx, rc); }

PyObject *mc_st_get_key_info(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    PyObject *key;
    uint32_t flag = 0; /* the seed's query flag; every query here already answers only readable keys */
    if (st_one_arg(args, kw, "O|O:get_key_info", "key", &key, &flag) != 0) return NULL;
    (void)flag;
    mmc_key_info ki;
    memset(&ki, 0, sizeof(ki));
    mc_req_t q = {.ctx = &ki};
    int bad = mc_req_key(&q, key);
    return mc_req_run(s, &q, bad, call_key_info, ret_key_info);
}

/* scratch: mmc_key_info each */
static int32_t call_batch_key_info(mc_req_t *q)
{
    return mmcc_batch_get_key_info(q->keys.v, q->keys.n, q->scratch, q->res);
}

static PyObject *ret_batch_key_info(mc_req_t *q, int32_t rc)
{
    (void)rc;
    const mmc_key_info *ki = q->scratch;
    PyObject *ret = PyList_New(q->keys.n);
    for (uint32_t i = 0; ret != NULL && i < q->keys.n; i++) {
        PyObject *o = mc_key_info_new(&ki[i], q->res[i]);
        if (o == NULL) Py_CLEAR(ret);
        else PyList_SET_ITEM(ret, i, o);
    }
    return ret;
}

PyObject *mc_st_batch_get_key_info(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    PyObject *keys;
    uint32_t flag = 0; /* the seed's query flag; every query here already answers only readable keys */
    if (st_one_arg(args, kw, "O|O:batch_get_key_info", "keys", &keys, &flag) != 0) return NULL;
    (void)flag;
    mc_req_t q = {0};
    int bad = mc_req_keys(&q, keys) || mc_req_scratch(&q, q.keys.n, sizeof(mmc_key_info));
    return mc_req_run(s, &q, bad, call_batch_key_info, ret_batch_key_info);
}
