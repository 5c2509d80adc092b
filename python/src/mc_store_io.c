/* DistributedObjectStore: put from / get into the caller's memory, for one key (its status) or a
 * batch (a list of statuses; [] without a call when empty), from one buffer or a list of layers
 * per key. One core (st_io) serves all ten methods. */
#include "mc_store.h"

static int32_t call_put(mc_req_t *q) { return mmcc_put_opt(q->key, &q->buf, q->opt, 0); }
static int32_t call_get(mc_req_t *q) { return mmcc_get(q->key, &q->buf, 0); }

static int32_t call_put_layers(mc_req_t *q)
{
    return mmcc_put_layers(q->key, q->layers.ptrs[0], q->layers.nl[0], q->opt, 0);
}

static int32_t call_get_layers(mc_req_t *q) { return mmcc_get_layers(q->key, q->layers.ptrs[0], q->layers.nl[0], 0); }

static int32_t call_batch_put(mc_req_t *q) { return mmcc_batch_put(q->keys.v, q->keys.n, q->bufs, q->opt, 0, q->res); }
static int32_t call_batch_get(mc_req_t *q) { return mmcc_batch_get(q->keys.v, q->keys.n, q->bufs, 0, q->res); }

static int32_t call_batch_put_layers(mc_req_t *q)
{
    return mmcc_batch_put_layers(q->keys.v, q->keys.n, q->layers.ptrs, q->layers.nl, q->opt, 0, q->res);
}

static int32_t call_batch_get_layers(mc_req_t *q)
{
    return mmcc_batch_get_layers(q->keys.v, q->keys.n, q->layers.ptrs, q->layers.nl, 0, q->res);
}

/* The memory: a get writes it. */
static int mc_req_io_mem(mc_req_t *q, PyObject *buf, PyObject *size, bool put, bool batch, bool layers)
{
    if (batch && layers) return mc_req_layers(q, buf, size, q->keys.n, !put);
    if (batch) return mc_req_bufs(q, buf, size, !put, q->keys.n, "keys");
    if (layers) return mc_req_layers_one(q, buf, size, !put);
    return mc_req_buf(q, buf, size, !put);
}

/* key: the key, or the list of keys of a batch. The arguments are checked in the order the
 * methods always checked them: one key first, a batch's keys after the direction and config. */
static PyObject *st_io(mc_store_obj *s, PyObject *key, PyObject *buf, PyObject *size, PyObject *dir, PyObject *cfg,
                       bool put, bool batch, bool layers)
{
    static const mc_call_fn calls[2][2][2] = { /* [batch][put][layers] */
        {{call_get, call_get_layers}, {call_put, call_put_layers}},
        {{call_batch_get, call_batch_get_layers}, {call_batch_put, call_batch_put_layers}},
    };
    mc_req_t q = {0};
    int bad = (!batch && mc_req_key(&q, key)) || mc_req_dir(&q, dir, put) || (put && mc_req_opts(&q, cfg)) ||
              (batch && mc_req_keys(&q, key)) || mc_req_io_mem(&q, buf, size, put, batch, layers);
    return mc_req_run(s, &q, bad, calls[batch][put][layers], batch ? mc_ret_res : mc_ret_status);
}

/* put(key, buffer, replicate_config=None) and put_batch(keys, buffers, replicate_config=None):
 * buffer objects only. */
static PyObject *st_put_objs(mc_store_obj *s, PyObject *args, PyObject *kw, bool batch)
{
    static char *kw_one[] = {"key", "buffer", "replicate_config", NULL};
    static char *kw_batch[] = {"keys", "buffers", "replicate_config", NULL};
    PyObject *k, *b, *r = NULL;
    const char *fmt = batch ? "OO|O:put_batch" : "OO|O:put";
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, batch ? kw_batch : kw_one, &k, &b, &r)) return NULL;
    if (!batch && PyLong_Check(b))
        return PyErr_Format(PyExc_TypeError, "put: buffer must be bytes-like (use put_from for addresses)");
    return st_io(s, k, b, NULL, NULL, r, true, batch, false);
}

/* The others: (key | keys, buffer_ptr | buffer_ptrs, size | sizes = None, direction = None
 * [, replicate_config = None]); fmt names the method. */
static PyObject *st_io_args(mc_store_obj *s, PyObject *args, PyObject *kw, const char *fmt, bool put, bool batch,
                            bool layers)
{
    bool many = batch || layers;
    char *kwl[] = {batch ? "keys" : "key", many ? "buffer_ptrs" : "buffer_ptr", many ? "sizes" : "size",
                   "direction", put ? "replicate_config" : NULL, NULL};
    PyObject *k, *b, *sz = NULL, *d = NULL, *r = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwl, &k, &b, &sz, &d, &r)) return NULL;
    return st_io(s, k, b, sz, d, r, put, batch, layers);
}

/* ---------- put ---------- */

PyObject *mc_st_put(mc_store_obj *s, PyObject *args, PyObject *kw) { return st_put_objs(s, args, kw, false); }
PyObject *mc_st_put_batch(mc_store_obj *s, PyObject *args, PyObject *kw) { return st_put_objs(s, args, kw, true); }

PyObject *mc_st_put_from(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    return st_io_args(s, args, kw, "OO|OOO:put_from", true, false, false);
}

PyObject *mc_st_batch_put_from(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    return st_io_args(s, args, kw, "OO|OOO:batch_put_from", true, true, false);
}

PyObject *mc_st_put_from_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    return st_io_args(s, args, kw, "OO|OOO:put_from_layers", true, false, true);
}

PyObject *mc_st_batch_put_from_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    return st_io_args(s, args, kw, "OO|OOO:batch_put_from_layers", true, true, true);
}

/* ---------- get into ---------- */

PyObject *mc_st_get_into(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    return st_io_args(s, args, kw, "OO|OO:get_into", false, false, false);
}

PyObject *mc_st_batch_get_into(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    return st_io_args(s, args, kw, "OO|OO:batch_get_into", false, true, false);
}

PyObject *mc_st_get_into_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    return st_io_args(s, args, kw, "OO|OO:get_into_layers", false, false, true);
}

PyObject *mc_st_batch_get_into_layers(mc_store_obj *s, PyObject *args, PyObject *kw)
{
    return st_io_args(s, args, kw, "OO|OO:batch_get_into_layers", false, true, true);
}
