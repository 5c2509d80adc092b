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

/* The seed's code for a direction of the wrong kind: -1 from the one-buffer calls, MMC_INVALID_PARAM from
 * the layer calls (its code; for a batch, every key's). */
static int32_t bad_dir_rc(bool layers) { return layers ? MMC_INVALID_PARAM : MMC_ERROR; }

/* key: the key, or the list of keys of a batch. The arguments are checked in the order the
 * methods always checked them: one key first, a batch's keys after the direction and config. */
static PyObject *st_io(mc_store_obj *s, PyObject *key, PyObject *buf, PyObject *size, PyObject *dir, PyObject *cfg,
                       bool put, bool batch, bool layers, mc_result_fn ret)
{
    static const mc_call_fn calls[2][2][2] = { /* [batch][put][layers] */
        {{call_get, call_get_layers}, {call_put, call_put_layers}},
        {{call_batch_get, call_batch_get_layers}, {call_batch_put, call_batch_put_layers}},
    };
    mc_req_t q = {0};
    int bad = (!batch && mc_req_key(&q, key)) || mc_req_dir(&q, dir, put, bad_dir_rc(layers)) ||
              (put && mc_req_opts(&q, cfg)) || (batch && mc_req_keys(&q, key)) ||
              mc_req_io_mem(&q, buf, size, put, batch, layers);
    if (ret == NULL) ret = batch ? mc_ret_res : mc_ret_status;
    return mc_req_run(s, &q, bad, calls[batch][put][layers], ret);
}

/* Our earlier keyword names, kept: (ours, the seed's). */
static const char *const io_alias[] = {"direction", "direct", "replicate_config", "replicateConfig",
                                       "buffer", "buf", "buffers", "values", NULL};

/* put(key, buf, replicateConfig=None) -> int and put_batch(keys, values, replicateConfig=None) -> int (the
 * seed's one status): buffer objects only. */
static PyObject *st_put_objs(mc_store_obj *s, PyObject *args, PyObject *kw, bool batch)
{
    static char *kw_one[] = {"key", "buf", "replicateConfig", NULL};
    static char *kw_batch[] = {"keys", "values", "replicateConfig", NULL};
    PyObject *k, *b, *r = NULL, *ret = NULL;
    const char *fmt = batch ? "OO|O:put_batch" : "OO|O:put";
    if (mc_kw_alias(&kw, io_alias) != 0) goto out;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, batch ? kw_batch : kw_one, &k, &b, &r)) goto out;
    if (!batch && PyLong_Check(b)) {
        PyErr_Format(PyExc_TypeError, "put: buf must be bytes-like (use put_from for addresses)");
        goto out;
    }
    ret = st_io(s, k, b, NULL, NULL, r, true, batch, false, batch ? mc_ret_first_fail : NULL);
out:
    Py_XDECREF(kw);
    return ret;
}

/* The others, in the seed's order and keywords: (key | keys, buffer_ptr | buffer_ptrs, size | sizes = None,
 * direct = H2G / G2H [, replicateConfig = None]); fmt names the method. */
static PyObject *st_io_args(mc_store_obj *s, PyObject *args, PyObject *kw, const char *fmt, bool put, bool batch,
                            bool layers)
{
    bool many = batch || layers;
    char *kwl[] = {batch ? "keys" : "key", many ? "buffer_ptrs" : "buffer_ptr", many ? "sizes" : "size", "direct",
                   put ? "replicateConfig" : NULL, NULL};
    PyObject *k, *b, *sz = NULL, *d = NULL, *r = NULL, *ret = NULL;
    if (mc_kw_alias(&kw, io_alias) == 0 && PyArg_ParseTupleAndKeywords(args, kw, fmt, kwl, &k, &b, &sz, &d, &r))
        ret = st_io(s, k, b, sz, d, r, put, batch, layers, NULL);
    Py_XDECREF(kw);
    return ret;
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
