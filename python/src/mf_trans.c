/* _memfabric: the TransferEngine type over smem_trans (one instance per object). */
#include "mf_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smem/host/smem_trans.h"

#define TE_STREAMS_MAX 16 /* streams of create_stream per engine, besides its own */

typedef struct mf_te_obj {
    PyObject_HEAD
    smem_trans_t h;
    void *stream;                   /* the engine's own, for *_submit without a stream; made at initialize */
    void *streams[TE_STREAMS_MAX];  /* create_stream's */
    int rpc_fd;                     /* the socket holding get_rpc_port's port, -1 if none */
    mf_live_t live;                 /* on te_live while h is held */
    char id[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    py_guard_t g;
} mf_te_obj;

static PyTypeObject mf_te_type;

/* Every initialised engine: unInitialize closes them all before smem_trans_uninit frees their handles. */
static mf_live_t *te_live;

static PyObject *te_new(PyTypeObject *t, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    mf_te_obj *e = (mf_te_obj *)t->tp_alloc(t, 0);
    if (e == NULL) return NULL;
    e->h = NULL;
    e->stream = NULL;
    memset(e->streams, 0, sizeof(e->streams));
    e->rpc_fd = -1;
    e->live.prev = e->live.next = NULL;
    e->id[0] = '\0';
    memset(&e->g, 0, sizeof(e->g));
    return (PyObject *)e;
}

static int te_role(PyObject *o, smem_trans_role_t *r)
{
    if (PyUnicode_Check(o)) {
        const char *s = PyUnicode_AsUTF8(o);
        if (s == NULL) return -1;
        /* The seed's "Prefill" (sender) and "Decode" (receiver), any case; ours: sender/receiver/both. */
        if (strcasecmp(s, "sender") == 0 || strcasecmp(s, "prefill") == 0) *r = SMEM_TRANS_SENDER;
        else if (strcasecmp(s, "receiver") == 0 || strcasecmp(s, "decode") == 0) *r = SMEM_TRANS_RECEIVER;
        else if (strcasecmp(s, "both") == 0) *r = SMEM_TRANS_BOTH;
        else {
            PyErr_Format(PyExc_ValueError, "role must be 'Prefill', 'Decode', 'sender', 'receiver' or 'both', got %R",
                         o);
            return -1;
        }
        return 0;
    }
    uint64_t v;
    if (py_to_u64(o, SMEM_TRANS_BUTT - 1, &v, "role") != 0) return -1;
    *r = (smem_trans_role_t)v;
    return 0;
}

static PyObject *te_initialize(mf_te_obj *e, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"store_url", "session_id", "role", "device_id", "data_op_type", "start_config_server",
                          "init_timeout", NULL};
    PyObject *url_o, *id_o, *role_o = NULL, *dev_o = NULL, *to_o = NULL, *op_o = NULL;
    int start = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO$pO:initialize", kwl, &url_o, &id_o, &role_o, &dev_o, &op_o,
                                     &start, &to_o))
        return NULL;
    if (op_o == Py_None) op_o = NULL;
    if (e->g.closed) return PyErr_Format(PyExc_RuntimeError, "TransferEngine is closed");
    if (e->h != NULL) return PyErr_Format(PyExc_RuntimeError, "TransferEngine %s is already initialised", e->id);
    smem_trans_config_t c;
    smem_trans_config_init(&c);
    const char *url;
    uint64_t dev = 0, to = 0, op = 0;
    if (py_to_cstr(url_o, &url, NULL, "store_url") || py_copy_cstr(id_o, e->id, sizeof(e->id), "session_id") ||
        (role_o && te_role(role_o, &c.role)) || (dev_o && py_to_u64(dev_o, INT32_MAX, &dev, "device_id")) ||
        (to_o && py_to_u64(to_o, UINT32_MAX, &to, "init_timeout")) ||
        (op_o && py_to_u64(op_o, UINT32_MAX, &op, "data_op_type")))
        return NULL;
    c.deviceId = (int32_t)dev;
    c.startConfigServer = start != 0;
    if (to_o) c.initTimeout = (uint32_t)to;
    if (op_o) c.dataOpType = (uint32_t)op;
    Py_INCREF(url_o);
    int32_t rc;
    smem_trans_t h = NULL;
    void *stream = NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_init(&c);
    if (rc == 0) {
        h = smem_trans_create(url, e->id, &c);
        if (h == NULL) rc = -1;
    }
    if (rc == 0) {
        rc = smem_trans_stream_create(h, &stream);
        if (rc != 0) {
            smem_trans_destroy(h, 0);
            h = NULL;
        }
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(url_o);
    e->h = h;
    e->stream = stream;
    if (h != NULL) mf_live_add(&te_live, &e->live);
    return PyLong_FromLong(rc);
}

#define TE_ENTER(e)                                                                                                    \
    do {                                                                                                               \
        if (py_guard_enter(&(e)->g, "TransferEngine") != 0) goto out;                                                 \
        if ((e)->h == NULL) {                                                                                          \
            py_guard_leave(&(e)->g);                                                                                   \
            PyErr_SetString(PyExc_RuntimeError, "TransferEngine is not initialised (call initialize first)");         \
            goto out;                                                                                                  \
        }                                                                                                              \
    } while (0)
#define TE_LEAVE(e) py_guard_leave(&(e)->g)

/* register_memory(buffer_addr, capacity) or register_memory(buffer) -> int */
static PyObject *te_register_memory(mf_te_obj *e, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"buffer_addr", "capacity", NULL};
    PyObject *a, *s = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:register_memory", kwl, &a, &s)) return NULL;
    py_mem_t m;
    if (py_mem_get(a, s, true, &m, "buffer_addr") != 0) return NULL;
    TE_ENTER(e);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_register_mem(e->h, m.ptr, (size_t)m.len, 0);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    py_mem_release(&m);
    return ret;
}

/* batch_register_memory(buffer_addrs, capacities) -> int (all or nothing) */
static PyObject *te_batch_register_memory(mf_te_obj *e, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"buffer_addrs", "capacities", NULL};
    PyObject *a, *s = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:batch_register_memory", kwl, &a, &s)) return NULL;
    py_mem_list_t l;
    if (py_mem_list_get(a, s, true, &l, "buffer_addrs") != 0) return NULL;
    void **av = PyMem_Malloc(sizeof(void *) * (size_t)(l.n + 1));
    size_t *sv = PyMem_Malloc(sizeof(size_t) * (size_t)(l.n + 1));
    if (av == NULL || sv == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < l.n; i++) {
        av[i] = l.v[i].ptr;
        sv[i] = (size_t)l.v[i].len;
    }
    TE_ENTER(e);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_batch_register_mem(e->h, av, sv, (uint32_t)l.n, 0);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    PyMem_Free(av);
    PyMem_Free(sv);
    py_mem_list_release(&l);
    return ret;
}

/* unregister_memory(buffer_addr) -> int; an int address or the buffer registered */
static PyObject *te_unregister_memory(mf_te_obj *e, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"buffer_addr", NULL};
    PyObject *arg, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:unregister_memory", kwl, &arg)) return NULL;
    py_mem_t m;
    if (PyLong_Check(arg)) {
        PyObject *one = PyLong_FromLong(0);
        int r = py_mem_get(arg, one, false, &m, "buffer_addr");
        Py_DECREF(one);
        if (r != 0) return NULL;
    } else if (py_mem_get(arg, NULL, false, &m, "buffer_addr") != 0) {
        return NULL;
    }
    py_mem_release(&m);
    TE_ENTER(e);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_deregister_mem(e->h, m.ptr);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    return ret;
}

/*
 * The stream of a *_submit call: 0 or None is the engine's own; otherwise one of create_stream's. The
 * seed passes an ACL stream here (Ascend): an address this engine did not make is a ValueError that
 * says so, never dereferenced. NULL with the error set.
 */
static void *te_stream_of(mf_te_obj *e, PyObject *o)
{
    if (o == NULL || o == Py_None) return e->stream;
    uint64_t v;
    if (py_to_u64(o, UINT64_MAX, &v, "stream") != 0) return NULL;
    if (v == 0 || v == (uint64_t)(uintptr_t)e->stream) return e->stream;
    for (int i = 0; i < TE_STREAMS_MAX; i++)
        if (e->streams[i] != NULL && v == (uint64_t)(uintptr_t)e->streams[i]) return e->streams[i];
    PyErr_Format(PyExc_ValueError,
                 "stream 0x%llx is not a stream of this engine (create_stream() makes them; an ACL stream needs "
                 "Ascend); 0 is the engine's own",
                 (unsigned long long)v);
    return NULL;
}

/* One transfer: (dest_session, buffer, peer_buffer, length[, stream]); write: buffer is read; read: written. */
static PyObject *te_one(mf_te_obj *e, PyObject *args, PyObject *kw, bool write, bool submit)
{
    static char *kwl[] = {"dest_session", "buffer", "peer_buffer", "length", "stream", NULL};
    static char *kwl_sync[] = {"dest_session", "buffer", "peer_buffer", "length", NULL};
    PyObject *tgt_o, *loc_o, *rem_o, *size_o, *st_o = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, submit ? "OOOO|O" : "OOOO", submit ? kwl : kwl_sync, &tgt_o, &loc_o,
                                     &rem_o, &size_o, &st_o))
        return NULL;
    char tgt[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    uint64_t remote;
    if (py_copy_cstr(tgt_o, tgt, sizeof(tgt), "dest_session") || py_to_u64(rem_o, UINT64_MAX, &remote, "peer_buffer"))
        return NULL;
    py_mem_t m;
    if (py_mem_get(loc_o, size_o, !write, &m, "buffer") != 0) return NULL;
    TE_ENTER(e);
    void *stream = submit ? te_stream_of(e, st_o) : NULL;
    if (submit && stream == NULL) {
        TE_LEAVE(e);
        goto out;
    }
    int32_t rc;
    void *rp = (void *)(uintptr_t)remote;
    Py_BEGIN_ALLOW_THREADS
    if (write)
        rc = submit ? smem_trans_write_submit(e->h, m.ptr, tgt, rp, (size_t)m.len, stream, 0)
                    : smem_trans_write(e->h, m.ptr, tgt, rp, (size_t)m.len, 0);
    else
        rc = submit ? smem_trans_read_submit(e->h, m.ptr, tgt, rp, (size_t)m.len, stream, 0)
                    : smem_trans_read(e->h, m.ptr, tgt, rp, (size_t)m.len, 0);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    py_mem_release(&m);
    return ret;
}

/* (dest_session, buffers, peer_buffers, lengths[, stream]) */
static PyObject *te_batch(mf_te_obj *e, PyObject *args, PyObject *kw, bool write, bool submit)
{
    static char *kwl[] = {"dest_session", "buffers", "peer_buffers", "lengths", "stream", NULL};
    static char *kwl_sync[] = {"dest_session", "buffers", "peer_buffers", "lengths", NULL};
    PyObject *tgt_o, *loc_o, *rem_o, *size_o, *st_o = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, submit ? "OOOO|O" : "OOOO", submit ? kwl : kwl_sync, &tgt_o, &loc_o,
                                     &rem_o, &size_o, &st_o))
        return NULL;
    char tgt[SMEM_TRANS_UNIQUE_ID_MAX + 1];
    if (py_copy_cstr(tgt_o, tgt, sizeof(tgt), "dest_session")) return NULL;
    uint64_t *rem = NULL;
    Py_ssize_t nrem = 0;
    const void **lv = NULL;
    size_t *sv = NULL;
    py_mem_list_t l = {0};
    if (py_u64_list(rem_o, &rem, &nrem, "peer_buffers") != 0) return NULL;
    if (py_mem_list_get(loc_o, size_o, !write, &l, "buffers") != 0) goto out;
    if (l.n != nrem) {
        PyErr_Format(PyExc_ValueError, "%zd buffers but %zd peer_buffers", l.n, nrem);
        goto out;
    }
    lv = PyMem_Malloc(sizeof(void *) * (size_t)(l.n + 1));
    sv = PyMem_Malloc(sizeof(size_t) * (size_t)(l.n + 1));
    if (lv == NULL || sv == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < l.n; i++) {
        lv[i] = l.v[i].ptr;
        sv[i] = (size_t)l.v[i].len;
    }
    TE_ENTER(e);
    void *stream = submit ? te_stream_of(e, st_o) : NULL;
    if (submit && stream == NULL) {
        TE_LEAVE(e);
        goto out;
    }
    int32_t rc;
    uint32_t n = (uint32_t)l.n;
    Py_BEGIN_ALLOW_THREADS
    if (write)
        rc = submit ? smem_trans_batch_write_submit(e->h, lv, tgt, (void **)rem, sv, n, stream, 0)
                    : smem_trans_batch_write(e->h, lv, tgt, (void **)rem, sv, n, 0);
    else
        rc = submit ? smem_trans_batch_read_submit(e->h, (void **)lv, tgt, (const void **)rem, sv, n, stream, 0)
                    : smem_trans_batch_read(e->h, (void **)lv, tgt, (const void **)rem, sv, n, 0);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    PyMem_Free(rem);
    PyMem_Free(lv);
    PyMem_Free(sv);
    py_mem_list_release(&l);
    return ret;
}

#define TE_FORM(name, fn, write, submit)                                                                               \
    static PyObject *name(mf_te_obj *e, PyObject *a, PyObject *kw) { return fn(e, a, kw, write, submit); }
TE_FORM(te_sync_write, te_one, true, false)
TE_FORM(te_sync_read, te_one, false, false)
TE_FORM(te_async_write, te_one, true, true)
TE_FORM(te_async_read, te_one, false, true)
TE_FORM(te_batch_sync_write, te_batch, true, false)
TE_FORM(te_batch_sync_read, te_batch, false, false)
TE_FORM(te_batch_async_write, te_batch, true, true)
TE_FORM(te_batch_async_read, te_batch, false, true)
#undef TE_FORM

/* transfer_wait(timeout_ms=0, stream=0) -> int: the first error of the stream's submitted transfers */
static PyObject *te_wait(mf_te_obj *e, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout_ms", "stream", NULL};
    unsigned int ms = 0;
    PyObject *st_o = NULL, *ret = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|IO:transfer_wait", kwl, &ms, &st_o)) return NULL;
    TE_ENTER(e);
    void *stream = te_stream_of(e, st_o);
    if (stream == NULL) {
        TE_LEAVE(e);
        goto out;
    }
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_stream_wait(stream, ms);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    ret = PyLong_FromLong(rc);
out:
    return ret;
}

/* create_stream() -> int: a stream for the *_submit calls (ours; the seed's are ACL streams) */
static PyObject *te_create_stream(mf_te_obj *e, PyObject *unused)
{
    (void)unused;
    PyObject *ret = NULL;
    TE_ENTER(e);
    int slot = -1;
    for (int i = 0; i < TE_STREAMS_MAX && slot < 0; i++)
        if (e->streams[i] == NULL) slot = i;
    if (slot < 0) {
        TE_LEAVE(e);
        PyErr_Format(PyExc_ValueError, "an engine has at most %d streams of its own", TE_STREAMS_MAX);
        goto out;
    }
    void *st = NULL;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_trans_stream_create(e->h, &st);
    Py_END_ALLOW_THREADS
    TE_LEAVE(e);
    if (rc != 0) {
        py_err_status("create_stream", rc, smem_get_last_err_msg());
        goto out;
    }
    e->streams[slot] = st;
    ret = PyLong_FromUnsignedLongLong((uint64_t)(uintptr_t)st);
out:
    return ret;
}

/* destroy_stream(stream): waits for its transfers, then frees it */
static PyObject *te_destroy_stream(mf_te_obj *e, PyObject *arg)
{
    uint64_t v;
    if (py_to_u64(arg, UINT64_MAX, &v, "stream") != 0) return NULL;
    for (int i = 0; i < TE_STREAMS_MAX; i++) {
        if (e->streams[i] != NULL && v == (uint64_t)(uintptr_t)e->streams[i]) {
            void *st = e->streams[i];
            e->streams[i] = NULL;
            Py_BEGIN_ALLOW_THREADS
            smem_trans_stream_destroy(st);
            Py_END_ALLOW_THREADS
            Py_RETURN_NONE;
        }
    }
    return PyErr_Format(PyExc_ValueError, "stream 0x%llx is not one of create_stream()'s", (unsigned long long)v);
}

/*
 * get_rpc_port() -> int: a free TCP port, held by a bound socket until the engine goes (as the seed,
 * which picks from 15000..25000 so that callers can name their session "ip:port"); 0 if none.
 */
static PyObject *te_get_rpc_port(mf_te_obj *e, PyObject *unused)
{
    (void)unused;
    if (e->rpc_fd >= 0) {
        close(e->rpc_fd);
        e->rpc_fd = -1;
    }
    int fd = -1, port = 0;
    Py_BEGIN_ALLOW_THREADS
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)(uintptr_t)e;
    for (int attempt = 0; attempt < 1000 && port == 0; attempt++) {
        seed = seed * 1103515245u + 12345u;
        int p = 15000 + (int)((seed >> 8) % 10001u);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) break;
        struct sockaddr_in a;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)p);
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            port = p;
        } else {
            close(fd);
            fd = -1;
        }
    }
    Py_END_ALLOW_THREADS
    e->rpc_fd = port != 0 ? fd : -1;
    return PyLong_FromLong(port);
}

static void te_close(mf_te_obj *e)
{
    mf_live_del(&te_live, &e->live); /* first: unInitialize's loop always shrinks the list */
    if (!py_guard_close(&e->g)) return;
    smem_trans_t h = e->h;
    void *s = e->stream;
    void *extra[TE_STREAMS_MAX];
    memcpy(extra, e->streams, sizeof(extra));
    memset(e->streams, 0, sizeof(e->streams));
    e->h = NULL;
    e->stream = NULL;
    if (h == NULL) return;
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < TE_STREAMS_MAX; i++)
        if (extra[i] != NULL) smem_trans_stream_destroy(extra[i]);
    smem_trans_stream_destroy(s);
    smem_trans_destroy(h, 0);
    Py_END_ALLOW_THREADS
}

static PyObject *te_destroy(mf_te_obj *e, PyObject *u)
{
    (void)u;
    te_close(e);
    Py_RETURN_NONE;
}

/* unInitialize(): smem_trans_uninit, after closing every engine of this process (it frees their handles). */
static PyObject *te_uninitialize(mf_te_obj *e, PyObject *u)
{
    (void)e;
    (void)u;
    while (te_live != NULL) te_close(MF_LIVE_OBJ(te_live, mf_te_obj));
    Py_BEGIN_ALLOW_THREADS
    smem_trans_uninit(0);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static void te_dealloc(mf_te_obj *e)
{
    te_close(e);
    if (e->rpc_fd >= 0) close(e->rpc_fd);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyObject *te_session_id(mf_te_obj *e, void *u)
{
    (void)u;
    return PyUnicode_FromString(e->id);
}

#define TE_KW METH_VARARGS | METH_KEYWORDS
static PyMethodDef te_methods[] = {
    {"initialize", PY_METH(te_initialize), TE_KW,
     "initialize(store_url, session_id, role='both', device_id=0, data_op_type=None, *, start_config_server=False, "
     "init_timeout=None) -> int; role 'Prefill'/'Decode' (the seed's) or 'sender'/'receiver'/'both'"},
    {"get_rpc_port", (PyCFunction)te_get_rpc_port, METH_NOARGS,
     "get_rpc_port() -> int: a free TCP port (15000..25000) held until the engine goes; 0 if none"},
    {"register_memory", PY_METH(te_register_memory), TE_KW,
     "register_memory(buffer_addr, capacity) or register_memory(buffer) -> int"},
    {"batch_register_memory", PY_METH(te_batch_register_memory), TE_KW,
     "batch_register_memory(buffer_addrs, capacities) -> int (all or nothing)"},
    {"unregister_memory", PY_METH(te_unregister_memory), TE_KW, "unregister_memory(buffer_addr) -> int"},
    {"transfer_sync_write", PY_METH(te_sync_write), TE_KW,
     "transfer_sync_write(dest_session, buffer, peer_buffer, length) -> int"},
    {"transfer_sync_read", PY_METH(te_sync_read), TE_KW,
     "transfer_sync_read(dest_session, buffer, peer_buffer, length) -> int"},
    {"batch_transfer_sync_write", PY_METH(te_batch_sync_write), TE_KW,
     "batch_transfer_sync_write(dest_session, buffers, peer_buffers, lengths) -> int"},
    {"batch_transfer_sync_read", PY_METH(te_batch_sync_read), TE_KW,
     "batch_transfer_sync_read(dest_session, buffers, peer_buffers, lengths) -> int"},
    {"transfer_async_write_submit", PY_METH(te_async_write), TE_KW,
     "transfer_async_write_submit(dest_session, buffer, peer_buffer, length, stream=0) -> int; "
     "complete with transfer_wait(stream=stream)"},
    {"transfer_async_read_submit", PY_METH(te_async_read), TE_KW,
     "transfer_async_read_submit(dest_session, buffer, peer_buffer, length, stream=0) -> int"},
    {"batch_transfer_async_write_submit", PY_METH(te_batch_async_write), TE_KW,
     "batch_transfer_async_write_submit(dest_session, buffers, peer_buffers, lengths, stream=0) -> int"},
    {"batch_transfer_async_read_submit", PY_METH(te_batch_async_read), TE_KW,
     "batch_transfer_async_read_submit(dest_session, buffers, peer_buffers, lengths, stream=0) -> int"},
    {"transfer_wait", PY_METH(te_wait), TE_KW,
     "transfer_wait(timeout_ms=0, stream=0) -> int: first error of the stream's transfers (0 ms = no limit)"},
    {"create_stream", (PyCFunction)te_create_stream, METH_NOARGS, "create_stream() -> int: a stream for *_submit"},
    {"destroy_stream", (PyCFunction)te_destroy_stream, METH_O, "destroy_stream(stream): wait for it, free it"},
    {"destroy", (PyCFunction)te_destroy, METH_NOARGS, "destroy(): deregister everything and leave (idempotent)"},
    {"unInitialize", (PyCFunction)te_uninitialize, METH_NOARGS,
     "unInitialize(): smem_trans_uninit (closes every engine of this process first)"},
    {NULL, NULL, 0, NULL},
};
#undef TE_KW

static PyGetSetDef te_getset[] = {
    {"session_id", (getter)te_session_id, NULL, "this engine's unique id", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* BASETYPE: memfabric_hybrid.TransferEngine subclasses it to carry the seed's enums as class attributes. */
static PyTypeObject mf_te_type =
    PY_TYPE("memfabric_hybrid._memfabric.TransferEngine", mf_te_obj,
            "One-sided writes/reads into memory other engines registered (smem_trans).",
            Py_TPFLAGS_BASETYPE, te_methods, te_getset, te_new, te_dealloc);

int mf_trans_add(PyObject *m)
{
    if (PyModule_AddIntConstant(m, "SMEM_TRANS_SENDER", SMEM_TRANS_SENDER) != 0 ||
        PyModule_AddIntConstant(m, "SMEM_TRANS_RECEIVER", SMEM_TRANS_RECEIVER) != 0 ||
        PyModule_AddIntConstant(m, "SMEM_TRANS_BOTH", SMEM_TRANS_BOTH) != 0)
        return -1;
    return py_type_add(m, &mf_te_type, "TransferEngine");
}
