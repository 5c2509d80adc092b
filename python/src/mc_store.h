/*
 * DistributedObjectStore (_memcache) internals: the object, and the one way
 * its methods call the mmcc_* client (mc_req_*, mc_store_req.c).
 *
 * A method parses its Python arguments into an mc_req_t with the mc_req_*
 * converters (each sets TypeError/ValueError and returns -1; they run in
 * the order the arguments are checked), then hands the request to
 * mc_req_run with its library call and its result builder. mc_req_run
 * returns NULL with the converters' exception, or with RuntimeError when
 * the store is closed; otherwise it runs the call with the GIL released
 * while the store's guard is held, builds the return value from the status
 * (statuses are returned, not raised), and frees the request. A batch with
 * no keys, and a call given a direction of the wrong kind (the seed returns
 * its code: pre_rc), build their result without a library call and without
 * the closed check.
 *
 * The surface is the seed's pymmc.cpp binding (names, argument order,
 * keywords, return shapes); mc_kw_alias keeps our earlier keyword names.
 *
 * get and get_batch take the GIL back between their two library calls (to
 * allocate the bytes objects), so they make the same three steps
 * (mc_store_enter, mc_nogil, mc_store_leave) themselves.
 *
 * Threads: everything here runs with the GIL held except the mc_call_fn
 * functions, which run without it and touch no Python object.
 *
 * Files: mc_store.c the object's lifetime, the type and its method table;
 * mc_store_req.c this mechanism; mc_store_io.c put from / get into the
 * caller's memory (one key or a batch, buffers or layers); mc_store_key.c
 * get as bytes, remove, exist and key info (one key or a batch);
 * mc_store_gva.c buffer registration and the GVA-level (zero-copy) calls.
 */
#ifndef MC_STORE_H
#define MC_STORE_H

#include "mc_int.h"

#include "memcache/mmc.h"
#include "memcache/mmc_client.h"

/* MmcDirect values (the seed's copy directions, smem_bm_copy_type's numbers): they pick the buffers'
 * memory type; AUTO infers it from each buffer (a buffer object or an address CUDA does not know: host). */
enum { MC_COPY_L2G = 0, MC_COPY_G2L = 1, MC_COPY_G2H = 2, MC_COPY_H2G = 3, MC_COPY_AUTO = 9 };
/* mc_req_t.type: the library's buffer types, and AUTO (resolved per buffer by mc_req_buf*). */
enum { MC_TYPE_DEVICE = 0, MC_TYPE_HOST = 1, MC_TYPE_AUTO = 2 };

typedef struct mc_store_obj {
    PyObject_HEAD
    py_guard_t g;
} mc_store_obj;

/* The per-key buffer lists of a layers call, as the library's arrays. */
typedef struct mc_layers {
    uint32_t n;
    py_mem_list_t *lists;
    mmc_buffer *bufs;
    const mmc_buffer **ptrs; /* ptrs[i]: key i's nl[i] buffers, inside bufs */
    uint32_t *nl;
} mc_layers_t;

/* One method call: its converted arguments and its outputs. Start from {0};
 * mc_req_run (or mc_req_free) releases everything it holds. */
typedef struct mc_req {
    PyObject *key_obj;          /* a reference to the key's str/bytes, which key points into */
    const char *key;
    py_keys_t keys;             /* a batch's keys */
    int32_t *res;               /* a batch's per-key statuses (keys.n of them) */
    bool no_call;               /* an empty batch or a bad direction: no library call */
    int32_t pre_rc;             /* with no_call: the status to return (a batch: for every key) */
    uint32_t type;              /* MC_TYPE_*, from the direction */
    mmc_put_options opt_store;
    const mmc_put_options *opt; /* NULL: the library's defaults */
    py_mem_t mem;               /* one buffer, also as buf */
    mmc_buffer buf;
    py_mem_list_t mems;         /* one buffer per key or GVA, also as bufs */
    mmc_buffer *bufs;
    mc_layers_t layers;
    uint64_t *gvas;
    Py_ssize_t n_gvas;
    uint64_t *sizes;
    void *scratch; /* zeroed space for a method's own per-key arrays (mc_req_scratch) */
    void *ctx;     /* a method's own inputs and outputs (on its stack) */
} mc_req_t;

/* The library call, run without the GIL; its status goes to the result builder. */
typedef int32_t (*mc_call_fn)(mc_req_t *q);
/* The return value (or NULL with an exception), built with the GIL. */
typedef PyObject *(*mc_result_fn)(mc_req_t *q, int32_t rc);

/* ---------- argument converters: 0, or -1 with an exception set ---------- */
int mc_req_key(mc_req_t *q, PyObject *key);
/* At most MMC_BATCH_MAX keys; allocates res; no_call when there are none. */
int mc_req_keys(mc_req_t *q, PyObject *keys);
/* The direction (MmcDirect, None: host) of a put (write) or a get. A direction that is not one of this
 * call's (or not one at all) is not raised: the call returns bad_rc (the seed's code) without a library call. */
int mc_req_dir(mc_req_t *q, PyObject *dir, bool write, int32_t bad_rc);
/* Renames the caller's keywords: pairs of (our earlier name, the seed's name), NULL-terminated. *kw becomes a
 * new dict the caller releases (Py_XDECREF); TypeError when both names are given. */
int mc_kw_alias(PyObject **kw, const char *const *pairs);
/* ReplicateConfig(replicaNum, preferredLocalServiceIDs[, mediaType]) or None. */
int mc_req_opts(mc_req_t *q, PyObject *cfg);
int mc_req_buf(mc_req_t *q, PyObject *buf, PyObject *size, bool writable);
/* n buffers, one per key or GVA (of names them in the count mismatch message). */
int mc_req_bufs(mc_req_t *q, PyObject *bufs, PyObject *sizes, bool writable, Py_ssize_t n, const char *of);
/* n lists of layer buffers (sizes: None or n lists of sizes). */
int mc_req_layers(mc_req_t *q, PyObject *bufs, PyObject *sizes, uint32_t n, bool writable);
/* The layers of one key. */
int mc_req_layers_one(mc_req_t *q, PyObject *bufs, PyObject *sizes, bool writable);
/* Zeroed room in scratch for n elements (at least one) of size bytes. */
int mc_req_scratch(mc_req_t *q, size_t n, size_t size);

/* ---------- the call ---------- */
/* bad: the converters' result (non-zero: their exception is raised). */
PyObject *mc_req_run(mc_store_obj *s, mc_req_t *q, int bad, mc_call_fn call, mc_result_fn result);
void mc_req_free(mc_req_t *q);
/* The steps of mc_req_run: the closed check (0, or -1 with RuntimeError), the guard's end, and
 * call(q) with the GIL released. */
int mc_store_enter(mc_store_obj *s);
void mc_store_leave(mc_store_obj *s);
int32_t mc_nogil(mc_call_fn call, mc_req_t *q);

/* ---------- results ---------- */
PyObject *mc_ret_status(mc_req_t *q, int32_t rc); /* int(rc) */
PyObject *mc_ret_res(mc_req_t *q, int32_t rc);    /* [int] of res */
/* The seed's one status of a batch (put_batch, batch_remove_lease): rc, else the first key's failure, else 0. */
PyObject *mc_ret_first_fail(mc_req_t *q, int32_t rc);
PyObject *mc_list_i32(const int32_t *v, uint32_t n);
/* is_exist's convention: 1 readable, 0 absent or not ready, else the error. */
int32_t mc_exist_value(int32_t rc);
/* KeyInfo(size, loc_list, type_list, gva_list, valid, status); an absent key: size 0, empty lists. */
PyObject *mc_key_info_new(const mmc_key_info *ki, int32_t rc);
/* Whether CUDA reports addr as device memory (false without a CUDA driver). */
bool mc_addr_is_device(uint64_t addr);

/* ---------- methods (the table is in mc_store.c) ---------- */
/* mc_store_io.c */
PyObject *mc_st_put(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_put_batch(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_put_from(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_put_from(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_put_from_layers(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_put_from_layers(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_get_into(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_get_into(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_get_into_layers(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_get_into_layers(mc_store_obj *s, PyObject *args, PyObject *kw);
/* mc_store_key.c */
PyObject *mc_st_get(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_get_batch(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_remove(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_remove_batch(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_remove_all(mc_store_obj *s, PyObject *unused);
PyObject *mc_st_is_exist(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_is_exist(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_get_key_info(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_get_key_info(mc_store_obj *s, PyObject *args, PyObject *kw);
/* mc_store_gva.c */
PyObject *mc_st_register_buffer(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_unregister_buffer(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_alloc(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_copy(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_copy_layers(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_write_finish(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_add_lease(mc_store_obj *s, PyObject *args, PyObject *kw);
PyObject *mc_st_batch_remove_lease(mc_store_obj *s, PyObject *args, PyObject *kw);

#endif
