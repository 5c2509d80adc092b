/* _memfabric: BM (memfabric_hybrid.bm): init, create, and the BigMemory type. */
#include "mf_int.h"

#include <string.h>

#include "net/net.h"
#include "py_conf.h"
#include "smem/host/smem_bm.h"
#include "smem/smem_bm_conf.h"

typedef struct {
    PyObject_HEAD
    smem_bm_t h;
    mf_live_t live; /* on bm_live while h is held */
    py_guard_t g;
} mf_bm_obj;

static PyTypeObject mf_bm_type;
static mf_live_t *bm_live;

/* BmConfig (its attributes are the rows of src/smem/smem_bm_conf.c) into c. */
static int mf_bm_config_from(PyObject *o, smem_bm_config_t *c)
{
    return py_conf_from_obj(sm_bm_conf_table, sm_bm_conf_rows, o, c, "BmConfig");
}

static PyObject *mf_bm_config_defaults(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    smem_bm_config_t c;
    smem_bm_config_init(&c);
    return py_conf_to_dict(sm_bm_conf_table, sm_bm_conf_rows, &c);
}

static PyObject *mf_bm_config_fields(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return py_conf_names(sm_bm_conf_table, sm_bm_conf_rows);
}

/* config_table(name) -> [(python name, key, default text)] of "bm" or "tls", for tests. */
static PyObject *mf_config_table(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name;
    if (py_to_cstr(arg, &name, NULL, "name") != 0) return NULL;
    if (strcmp(name, "bm") == 0) return py_conf_rows(sm_bm_conf_table, sm_bm_conf_rows);
    if (strcmp(name, "tls") == 0) return py_conf_rows(net_tls_conf_rows, NET_TLS_CONF_NROWS);
    return PyErr_Format(PyExc_ValueError, "no config table %R", arg);
}

static PyObject *mf_bm_initialize(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"store_url", "world_size", "device_id", "config", NULL};
    PyObject *url_o, *ws_o, *dev_o = NULL, *cfg_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:initialize", kwl, &url_o, &ws_o, &dev_o, &cfg_o)) return NULL;
    const char *url;
    uint64_t ws, dev = 0;
    if (py_to_cstr(url_o, &url, NULL, "store_url") || py_to_u64(ws_o, UINT32_MAX, &ws, "world_size") ||
        (dev_o && py_to_u64(dev_o, UINT16_MAX, &dev, "device_id")))
        return NULL;
    smem_bm_config_t c;
    smem_bm_config_init(&c);
    if (cfg_o != Py_None && mf_bm_config_from(cfg_o, &c) != 0) return NULL;
    Py_INCREF(url_o);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_bm_init(url, (uint32_t)ws, (uint16_t)dev, &c);
    Py_END_ALLOW_THREADS
    Py_DECREF(url_o);
    return PyLong_FromLong(rc);
}

/* bm.uninitialize(flags=0): smem_bm_uninit destroys every BM, so their objects are closed first
 * (waiting for calls in flight) and give their handles up. */
static PyObject *mf_bm_uninitialize(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"flags", NULL};
    unsigned int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|I:uninitialize", kwl, &flags)) return NULL;
    while (bm_live != NULL) {
        mf_bm_obj *b = MF_LIVE_OBJ(bm_live, mf_bm_obj);
        mf_live_del(&bm_live, &b->live);
        if (py_guard_close(&b->g)) b->h = NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    smem_bm_uninit(flags);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *mf_bm_get_rank_id(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    uint32_t r;
    Py_BEGIN_ALLOW_THREADS
    r = smem_bm_get_rank_id();
    Py_END_ALLOW_THREADS
    return PyLong_FromUnsignedLong(r);
}

/* smem_bm_create2 with o, as a BigMemory; RuntimeError with the library's message on failure. */
static PyObject *mf_bm_new(uint32_t id, const smem_bm_create_option_t *o)
{
    smem_bm_t h;
    Py_BEGIN_ALLOW_THREADS
    h = smem_bm_create2(id, o);
    Py_END_ALLOW_THREADS
    if (h == NULL) return py_err_status("bm.create", -1, smem_get_last_err_msg());
    mf_bm_obj *b = PyObject_New(mf_bm_obj, &mf_bm_type);
    if (b == NULL) {
        Py_BEGIN_ALLOW_THREADS
        smem_bm_destroy(h);
        Py_END_ALLOW_THREADS
        return NULL;
    }
    b->h = h;
    memset(&b->g, 0, sizeof(b->g));
    mf_live_add(&bm_live, &b->live);
    return (PyObject *)b;
}

static void mf_bm_option_init(smem_bm_create_option_t *o)
{
    memset(o, 0, sizeof(*o));
    o->dramShmFd = -1;
    o->dataOpType = SMEMB_DATA_OP_SDMA; /* the seed's default */
}

/* create(id, local_dram_size, local_hbm_size=0, data_op_type=SDMA, flags=0, *, max_dram_size=0, max_hbm_size=0) */
static PyObject *mf_bm_create(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"id", "local_dram_size", "local_hbm_size", "data_op_type", "flags", "max_dram_size",
                          "max_hbm_size", NULL};
    PyObject *id_o, *dram_o, *hbm_o = NULL, *op_o = NULL, *fl_o = NULL, *mdram_o = NULL, *mhbm_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO$OO:create", kwl, &id_o, &dram_o, &hbm_o, &op_o, &fl_o,
                                     &mdram_o, &mhbm_o))
        return NULL;
    uint64_t id, op = SMEMB_DATA_OP_SDMA, fl = 0;
    smem_bm_create_option_t o;
    mf_bm_option_init(&o);
    if (py_to_u64(id_o, UINT32_MAX, &id, "id") || py_to_u64(dram_o, UINT64_MAX, &o.localDRAMSize, "local_dram_size") ||
        (hbm_o && py_to_u64(hbm_o, UINT64_MAX, &o.localHBMSize, "local_hbm_size")) ||
        (op_o && py_to_u64(op_o, UINT32_MAX, &op, "data_op_type")) || (fl_o && py_to_u64(fl_o, UINT32_MAX, &fl, "flags")) ||
        (mdram_o && py_to_u64(mdram_o, UINT64_MAX, &o.maxDramSize, "max_dram_size")) ||
        (mhbm_o && py_to_u64(mhbm_o, UINT64_MAX, &o.maxHbmSize, "max_hbm_size")))
        return NULL;
    o.dataOpType = (uint32_t)op;
    o.flags = (uint32_t)fl;
    return mf_bm_new((uint32_t)id, &o);
}

/* create2(id, local_dram_size, max_dram_size, local_hbm_size=0, max_hbm_size=0, data_op_type=SDMA,
 *         enable_56bits_gva=False, flags=0, shm_fd=-1, tag="", tag_op_info=""): the seed's order. */
static PyObject *mf_bm_create2(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwl[] = {"id",    "local_dram_size", "max_dram_size", "local_hbm_size", "max_hbm_size",
                          "data_op_type", "enable_56bits_gva", "flags", "shm_fd", "tag", "tag_op_info", NULL};
    PyObject *id_o, *dram_o, *mdram_o, *hbm_o = NULL, *mhbm_o = NULL, *op_o = NULL, *fl_o = NULL, *fd_o = NULL;
    PyObject *tag_o = NULL, *info_o = NULL;
    int gva56 = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|OOOpOOOO:create2", kwl, &id_o, &dram_o, &mdram_o, &hbm_o, &mhbm_o,
                                     &op_o, &gva56, &fl_o, &fd_o, &tag_o, &info_o))
        return NULL;
    uint64_t id, op = SMEMB_DATA_OP_SDMA, fl = 0;
    int64_t fd = -1;
    smem_bm_create_option_t o;
    mf_bm_option_init(&o);
    if (py_to_u64(id_o, UINT32_MAX, &id, "id") || py_to_u64(dram_o, UINT64_MAX, &o.localDRAMSize, "local_dram_size") ||
        py_to_u64(mdram_o, UINT64_MAX, &o.maxDramSize, "max_dram_size") ||
        (hbm_o && py_to_u64(hbm_o, UINT64_MAX, &o.localHBMSize, "local_hbm_size")) ||
        (mhbm_o && py_to_u64(mhbm_o, UINT64_MAX, &o.maxHbmSize, "max_hbm_size")) ||
        (op_o && py_to_u64(op_o, UINT32_MAX, &op, "data_op_type")) || (fl_o && py_to_u64(fl_o, UINT32_MAX, &fl, "flags")) ||
        (fd_o && py_to_i64(fd_o, -1, INT32_MAX, &fd, "shm_fd")) ||
        (tag_o && py_copy_cstr(tag_o, o.tag, sizeof(o.tag), "tag")) ||
        (info_o && py_copy_cstr(info_o, o.tagOpInfo, sizeof(o.tagOpInfo), "tag_op_info")))
        return NULL;
    /* enable_56bits_gva: the seed's switch for pools past a 48-bit device address window. Our windows are
     * reserved in this process's own address space, so there is nothing to switch; a reservation that
     * cannot be made fails in smem_bm_create2 with its own message. */
    (void)gva56;
    o.dataOpType = (uint32_t)op;
    o.flags = (uint32_t)fl;
    /* As the seed: a descriptor means "back local DRAM with it", none clears the flag. */
    if (fd >= 0) {
        o.flags |= SMEM_BM_CREATE_WITH_SHM;
        o.dramShmFd = (int)fd;
    } else {
        o.flags &= ~SMEM_BM_CREATE_WITH_SHM;
    }
    return mf_bm_new((uint32_t)id, &o);
}

/* ---------- BigMemory ---------- */

#define BM_ENTER(b)                                                                                                    \
    if (py_guard_enter(&(b)->g, "BigMemory") != 0) return NULL
#define BM_LEAVE(b) py_guard_leave(&(b)->g)

static PyObject *bm_join_leave(mf_bm_obj *b, PyObject *args, PyObject *kw, int join)
{
    static char *kwl[] = {"flags", NULL};
    unsigned int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, join ? "|I:join" : "|I:leave", kwl, &flags)) return NULL;
    BM_ENTER(b);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = join ? smem_bm_join(b->h, flags) : smem_bm_leave(b->h, flags);
    Py_END_ALLOW_THREADS
    BM_LEAVE(b);
    return PyLong_FromLong(rc);
}

static PyObject *bm_join(mf_bm_obj *b, PyObject *args, PyObject *kw) { return bm_join_leave(b, args, kw, 1); }
static PyObject *bm_leave(mf_bm_obj *b, PyObject *args, PyObject *kw) { return bm_join_leave(b, args, kw, 0); }

static int bm_mem_type(PyObject *o, smem_bm_mem_type *t)
{
    uint64_t v;
    if (py_to_u64(o, SMEM_MEM_TYPE_BUTT - 1, &v, "mem_type") != 0) return -1;
    *t = (smem_bm_mem_type)v;
    return 0;
}

/* local_mem_size(mem_type=DEVICE): the seed's default is the device pool. */
static PyObject *bm_local_mem_size(mf_bm_obj *b, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"mem_type", NULL};
    PyObject *t_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:local_mem_size", kwl, &t_o)) return NULL;
    smem_bm_mem_type t = SMEM_MEM_TYPE_DEVICE;
    if (t_o && bm_mem_type(t_o, &t) != 0) return NULL;
    BM_ENTER(b);
    uint64_t n;
    Py_BEGIN_ALLOW_THREADS
    n = smem_bm_get_local_mem_size_by_mem_type(b->h, t);
    Py_END_ALLOW_THREADS
    BM_LEAVE(b);
    return PyLong_FromUnsignedLongLong(n);
}

/* peer_rank_ptr(peer_rank, mem_type=DEVICE): the seed's order; 0 when the rank has no such window. */
static PyObject *bm_peer_rank_ptr(mf_bm_obj *b, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"peer_rank", "mem_type", NULL};
    PyObject *r_o, *t_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:peer_rank_ptr", kwl, &r_o, &t_o)) return NULL;
    smem_bm_mem_type t = SMEM_MEM_TYPE_DEVICE;
    uint64_t r;
    if (py_to_u64(r_o, UINT16_MAX, &r, "peer_rank") || (t_o && bm_mem_type(t_o, &t))) return NULL;
    BM_ENTER(b);
    void *p;
    Py_BEGIN_ALLOW_THREADS
    p = smem_bm_ptr_by_mem_type(b->h, t, (uint16_t)r);
    Py_END_ALLOW_THREADS
    BM_LEAVE(b);
    return PyLong_FromUnsignedLongLong((uint64_t)(uintptr_t)p);
}

/*
 * gva_to_va(gva, mem_type=LOCAL_HOST) -> int: the local address of a GVA in this rank's own
 * contribution (0 if it is not in it). This rank's slot is mapped at its GVA in this process, so the
 * address is the GVA itself; the device window needs CUDA (no LOCAL_DEVICE memory: 0).
 */
static PyObject *bm_gva_to_va(mf_bm_obj *b, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"gva", "mem_type", NULL};
    PyObject *g_o, *t_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:gva_to_va", kwl, &g_o, &t_o)) return NULL;
    uint64_t gva;
    smem_bm_mem_type t = SMEM_MEM_TYPE_LOCAL_HOST;
    if (py_to_u64(g_o, UINT64_MAX, &gva, "gva") != 0 || (t_o && bm_mem_type(t_o, &t) != 0)) return NULL;
    smem_bm_mem_type pool = t == SMEM_MEM_TYPE_LOCAL_DEVICE || t == SMEM_MEM_TYPE_DEVICE ? SMEM_MEM_TYPE_DEVICE
                                                                                         : SMEM_MEM_TYPE_HOST;
    BM_ENTER(b);
    uint64_t va = 0;
    Py_BEGIN_ALLOW_THREADS
    uint32_t me = smem_bm_get_rank_id();
    uint8_t *base = me <= UINT16_MAX ? smem_bm_ptr_by_mem_type(b->h, pool, (uint16_t)me) : NULL;
    uint64_t n = base != NULL ? smem_bm_get_local_mem_size_by_mem_type(b->h, pool) : 0;
    if (base != NULL && gva >= (uint64_t)(uintptr_t)base && gva - (uint64_t)(uintptr_t)base < n) va = gva;
    Py_END_ALLOW_THREADS
    BM_LEAVE(b);
    return PyLong_FromUnsignedLongLong(va);
}

static PyObject *bm_get_rank_id_by_gva(mf_bm_obj *b, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"gva", NULL};
    PyObject *g_o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:get_rank_id_by_gva", kwl, &g_o)) return NULL;
    uint64_t gva;
    if (py_to_u64(g_o, UINT64_MAX, &gva, "gva") != 0) return NULL;
    BM_ENTER(b);
    uint32_t r;
    Py_BEGIN_ALLOW_THREADS
    r = smem_bm_get_rank_id_by_gva(b->h, (void *)(uintptr_t)gva);
    Py_END_ALLOW_THREADS
    BM_LEAVE(b);
    return PyLong_FromUnsignedLong(r);
}

static PyObject *bm_register(mf_bm_obj *b, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"addr", "size", NULL};
    PyObject *a, *s = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:register", kwl, &a, &s)) return NULL;
    py_mem_t m;
    if (py_mem_get(a, s, false, &m, "addr") != 0) return NULL;
    if (py_guard_enter(&b->g, "BigMemory") != 0) {
        py_mem_release(&m);
        return NULL;
    }
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_bm_register_user_mem(b->h, (uint64_t)(uintptr_t)m.ptr, m.len);
    Py_END_ALLOW_THREADS
    BM_LEAVE(b);
    py_mem_release(&m);
    return PyLong_FromLong(rc);
}

static PyObject *bm_unregister(mf_bm_obj *b, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"addr", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:unregister", kwl, &arg)) return NULL;
    uint64_t addr;
    py_mem_t m;
    if (PyLong_Check(arg)) {
        if (py_to_u64(arg, UINT64_MAX, &addr, "addr") != 0) return NULL;
    } else {
        if (py_mem_get(arg, NULL, false, &m, "addr") != 0) return NULL;
        addr = (uint64_t)(uintptr_t)m.ptr;
        py_mem_release(&m);
    }
    BM_ENTER(b);
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smem_bm_unregister_user_mem(b->h, addr);
    Py_END_ALLOW_THREADS
    BM_LEAVE(b);
    return PyLong_FromLong(rc);
}

static int bm_copy_type(PyObject *o, smem_bm_copy_type *t)
{
    uint64_t v;
    if (py_to_u64(o, SMEMB_COPY_BUTT - 1, &v, "copy type") != 0) return -1;
    *t = (smem_bm_copy_type)v;
    return 0;
}

/* The seed's stream argument is an ACL stream the copy is ordered on (Ascend). 0: none, as the seed's
 * default; anything else is refused with a ValueError that says so (ASYNC_COPY_FLAG + wait() is the
 * asynchronous form here). */
static int bm_stream_check(PyObject *o)
{
    if (o == NULL || o == Py_None) return 0;
    uint64_t v;
    if (py_to_u64(o, UINT64_MAX, &v, "stream") != 0) return -1;
    if (v == 0) return 0;
    PyErr_SetString(PyExc_ValueError, "stream: an ACL stream needs Ascend; this build copies on the calling thread "
                                      "(or in the background with ASYNC_COPY_FLAG, completed by wait()), pass 0");
    return -1;
}

/* copy_data(src_ptr, dst_ptr, size, type, flags=0, stream=0) -> int; src/dst: int addresses or buffers. */
static PyObject *bm_copy_data(mf_bm_obj *b, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"src_ptr", "dst_ptr", "size", "type", "flags", "stream", NULL};
    PyObject *src_o, *dst_o, *size_o, *type_o, *st_o = NULL;
    unsigned int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|IO:copy_data", kwl, &src_o, &dst_o, &size_o, &type_o, &flags,
                                     &st_o))
        return NULL;
    smem_bm_copy_type t;
    if (bm_copy_type(type_o, &t) != 0 || bm_stream_check(st_o) != 0) return NULL;
    py_mem_t src, dst;
    if (py_mem_get(src_o, size_o, false, &src, "src_ptr") != 0) return NULL;
    if (py_mem_get(dst_o, size_o, true, &dst, "dst_ptr") != 0) {
        py_mem_release(&src);
        return NULL;
    }
    PyObject *ret = NULL;
    if (py_guard_enter(&b->g, "BigMemory") == 0) {
        smem_copy_params p = {.src = src.ptr, .dest = dst.ptr, .dataSize = (size_t)src.len};
        int32_t rc;
        Py_BEGIN_ALLOW_THREADS
        rc = smem_bm_copy(b->h, &p, t, flags);
        Py_END_ALLOW_THREADS
        BM_LEAVE(b);
        ret = PyLong_FromLong(rc);
    }
    py_mem_release(&src);
    py_mem_release(&dst);
    return ret;
}

/* Number of entries of a list argument, -1 with TypeError if it is not a sequence. */
static Py_ssize_t bm_seq_len(PyObject *o, const char *what)
{
    if (!PySequence_Check(o) || PyObject_CheckBuffer(o) || PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a list, not %.80s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    return PySequence_Size(o);
}

/*
 * copy_data_batch(src_addrs, dst_addrs, sizes, count, type, flags=0, stream=0) -> int, the seed's form:
 * count must be the length of the three lists (else SMEM_ERR_INVALID_PARAM, as the seed returns).
 * Ours, kept: copy_data_batch(srcs, dests, sizes, type) with four arguments (no count), where the
 * entries may also be buffers and sizes may be None.
 */
static PyObject *bm_copy_data_batch(mf_bm_obj *b, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"src_addrs", "dst_addrs", "sizes", "count", "type", "flags", "stream", NULL};
    PyObject *src_o, *dst_o, *size_o, *cnt_o = NULL, *type_o = NULL, *st_o = NULL;
    unsigned int flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|OOIO:copy_data_batch", kwl, &src_o, &dst_o, &size_o, &cnt_o,
                                     &type_o, &flags, &st_o))
        return NULL;
    if (type_o == NULL) { /* four arguments: ours, the fourth is the type */
        type_o = cnt_o;
        cnt_o = NULL;
    }
    if (type_o == NULL) {
        PyErr_SetString(PyExc_TypeError, "copy_data_batch() missing required argument 'type'");
        return NULL;
    }
    smem_bm_copy_type t;
    if (bm_copy_type(type_o, &t) != 0 || bm_stream_check(st_o) != 0) return NULL;
    if (cnt_o != NULL) {
        uint64_t count;
        if (py_to_u64(cnt_o, UINT32_MAX, &count, "count") != 0) return NULL;
        Py_ssize_t ns = bm_seq_len(src_o, "src_addrs"), nd = ns < 0 ? -1 : bm_seq_len(dst_o, "dst_addrs");
        Py_ssize_t nz = nd < 0 ? -1 : bm_seq_len(size_o, "sizes");
        if (nz < 0) return NULL;
        if (count == 0 || (uint64_t)ns != count || (uint64_t)nd != count || (uint64_t)nz != count)
            return PyLong_FromLong(SMEM_ERR_INVALID_PARAM);
    }
    py_mem_list_t src = {0}, dst = {0};
    PyObject *ret = NULL;
    void **sv = NULL, **dv = NULL;
    uint64_t *nv = NULL;
    if (py_mem_list_get(src_o, size_o, false, &src, "src_addrs") != 0) return NULL;
    if (py_mem_list_get(dst_o, size_o, true, &dst, "dst_addrs") != 0) goto out;
    if (src.n != dst.n) {
        PyErr_Format(PyExc_ValueError, "src_addrs has %zd entries but dst_addrs has %zd", src.n, dst.n);
        goto out;
    }
    if ((uint64_t)src.n > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many copies in one batch");
        goto out;
    }
    sv = PyMem_Malloc(sizeof(void *) * (size_t)(src.n + 1));
    dv = PyMem_Malloc(sizeof(void *) * (size_t)(src.n + 1));
    nv = PyMem_Malloc(sizeof(uint64_t) * (size_t)(src.n + 1));
    if (sv == NULL || dv == NULL || nv == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < src.n; i++) {
        sv[i] = src.v[i].ptr;
        dv[i] = dst.v[i].ptr;
        nv[i] = src.v[i].len < dst.v[i].len ? src.v[i].len : dst.v[i].len;
    }
    if (py_guard_enter(&b->g, "BigMemory") == 0) {
        smem_batch_copy_params p = {.sources = sv, .destinations = dv, .dataSizes = nv, .batchSize = (uint32_t)src.n};
        int32_t rc;
        Py_BEGIN_ALLOW_THREADS
        rc = smem_bm_copy_batch(b->h, &p, t, flags);
        Py_END_ALLOW_THREADS
        BM_LEAVE(b);
        ret = PyLong_FromLong(rc);
    }
out:
    PyMem_Free(sv);
    PyMem_Free(dv);
    PyMem_Free(nv);
    py_mem_list_release(&src);
    py_mem_list_release(&dst);
    return ret;
}

static PyObject *bm_wait(mf_bm_obj *b, PyObject *unused)
{
    (void)unused;
    return py_guard_call(&b->g, "BigMemory", smem_bm_wait, &b->h);
}

static void bm_close(mf_bm_obj *b)
{
    mf_live_del(&bm_live, &b->live);
    if (!py_guard_close(&b->g)) return;
    smem_bm_t h = b->h;
    b->h = NULL;
    Py_BEGIN_ALLOW_THREADS
    smem_bm_destroy(h);
    Py_END_ALLOW_THREADS
}

static PyObject *bm_destroy(mf_bm_obj *b, PyObject *unused)
{
    (void)unused;
    bm_close(b);
    Py_RETURN_NONE;
}

static PyObject *bm_destroyed(mf_bm_obj *b, void *unused)
{
    (void)unused;
    return PyBool_FromLong(b->g.closed);
}

/* The C handle for other extensions (the seed's _native_handle): a capsule named "memfabric.smem_bm_t". */
static PyObject *bm_native_handle(mf_bm_obj *b, void *unused)
{
    (void)unused;
    if (b->g.closed || b->h == NULL) return PyErr_Format(PyExc_RuntimeError, "BigMemory is closed");
    return PyCapsule_New(b->h, "memfabric.smem_bm_t", NULL);
}

/* The seed deprecated this and never calls the handler (group changes reach the library from the store);
 * it warns the same way here. */
static PyObject *bm_set_group_event_handler(mf_bm_obj *b, PyObject *cb)
{
    (void)b;
    if (cb != Py_None && !PyCallable_Check(cb))
        return PyErr_Format(PyExc_TypeError, "handler must be callable, not %.80s", Py_TYPE(cb)->tp_name);
    if (PyErr_WarnEx(PyExc_DeprecationWarning,
                     "BigMemory.set_group_event_handler is deprecated: membership changes are handled by the "
                     "library; the handler is never called",
                     1) != 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Dropped without destroy(): released as the seed's destructor does (no call can be in flight, every
 * call holds a reference). */
static void bm_dealloc(mf_bm_obj *b)
{
    bm_close(b);
    PyObject_Free(b);
}

static PyMethodDef bm_methods[] = {
    {"join", PY_METH(bm_join), METH_VARARGS | METH_KEYWORDS, "join(flags=0) -> int: enter the global space"},
    {"leave", PY_METH(bm_leave), METH_VARARGS | METH_KEYWORDS, "leave(flags=0) -> int"},
    {"local_mem_size", PY_METH(bm_local_mem_size), METH_VARARGS | METH_KEYWORDS,
     "local_mem_size(mem_type=BmMemType.DEVICE) -> int bytes this rank contributes"},
    {"peer_rank_ptr", PY_METH(bm_peer_rank_ptr), METH_VARARGS | METH_KEYWORDS,
     "peer_rank_ptr(peer_rank, mem_type=BmMemType.DEVICE) -> int: the GVA of peer_rank's memory (0 if none)"},
    {"gva_to_va", PY_METH(bm_gva_to_va), METH_VARARGS | METH_KEYWORDS,
     "gva_to_va(gva, mem_type=BmMemType.LOCAL_HOST) -> int: the local address of a GVA of this rank (0 if none)"},
    {"get_rank_id_by_gva", PY_METH(bm_get_rank_id_by_gva), METH_VARARGS | METH_KEYWORDS,
     "get_rank_id_by_gva(gva) -> int: owning rank (0xFFFFFFFF if none)"},
    {"register", PY_METH(bm_register), METH_VARARGS | METH_KEYWORDS,
     "register(addr, size) or register(buffer) -> int"},
    {"unregister", PY_METH(bm_unregister), METH_VARARGS | METH_KEYWORDS, "unregister(addr | buffer) -> int"},
    {"copy_data", PY_METH(bm_copy_data), METH_VARARGS | METH_KEYWORDS,
     "copy_data(src_ptr, dst_ptr, size, type, flags=0, stream=0) -> int; src/dst: int addresses or buffers"},
    {"copy_data_batch", PY_METH(bm_copy_data_batch), METH_VARARGS | METH_KEYWORDS,
     "copy_data_batch(src_addrs, dst_addrs, sizes, count, type, flags=0, stream=0) -> int; "
     "or copy_data_batch(srcs, dsts, sizes, type) (no count; buffers allowed)"},
    {"wait", (PyCFunction)bm_wait, METH_NOARGS, "wait() -> int: complete this thread's async copies"},
    {"destroy", (PyCFunction)bm_destroy, METH_NOARGS,
     "destroy(): smem_bm_destroy (a second call does nothing; del does it too)"},
    {"set_group_event_handler", (PyCFunction)bm_set_group_event_handler, METH_O,
     "deprecated as in the seed: warns, the handler is never called"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef bm_getset[] = {
    {"destroyed", (getter)bm_destroyed, NULL, "True after destroy()", NULL},
    {"_native_handle", (getter)bm_native_handle, NULL, "the smem_bm_t as a capsule 'memfabric.smem_bm_t'", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject mf_bm_type =
    PY_TYPE("memfabric_hybrid.bm.BigMemory", mf_bm_obj,
            "A BM object (bm.create). Methods return the library's status codes (0 ok).",
            0, bm_methods, bm_getset, NULL, bm_dealloc);

PyMethodDef mf_bm_methods[] = {
    {"bm_config_defaults", mf_bm_config_defaults, METH_NOARGS, "smem_bm_config_init values as a dict"},
    {"bm_config_fields", mf_bm_config_fields, METH_NOARGS, "BmConfig's fields (the rows of smem_bm_config_t)"},
    {"config_table", mf_config_table, METH_O, "[(python name, key, default)] of a config table"},
    {"bm_initialize", PY_METH(mf_bm_initialize), METH_VARARGS | METH_KEYWORDS,
     "bm_initialize(store_url, world_size, device_id=0, config=None) -> int"},
    {"bm_uninitialize", PY_METH(mf_bm_uninitialize), METH_VARARGS | METH_KEYWORDS, "bm_uninitialize(flags=0)"},
    {"bm_get_rank_id", mf_bm_get_rank_id, METH_NOARGS, "bm_get_rank_id() -> int (0xFFFFFFFF before init)"},
    {"bm_create", PY_METH(mf_bm_create), METH_VARARGS | METH_KEYWORDS,
     "bm_create(id, local_dram_size, local_hbm_size=0, data_op_type=SDMA, flags=0, *, max_dram_size=0, "
     "max_hbm_size=0) -> BigMemory (RuntimeError on failure)"},
    {"bm_create2", PY_METH(mf_bm_create2), METH_VARARGS | METH_KEYWORDS,
     "bm_create2(id, local_dram_size, max_dram_size, local_hbm_size=0, max_hbm_size=0, data_op_type=SDMA, "
     "enable_56bits_gva=False, flags=0, shm_fd=-1, tag='', tag_op_info='') -> BigMemory"},
    {NULL, NULL, 0, NULL},
};

int mf_bm_add(PyObject *m)
{
    return py_type_add(m, &mf_bm_type, "BigMemory");
}
