/* _memfabric internals: each part adds its functions and types to the module. */
#ifndef MF_INT_H
#define MF_INT_H

#include <stddef.h>

#include "py_common.h"

/* Config objects are read by attribute (memfabric_hybrid.bm.BmConfig, ...). */
int mf_attr_u64(PyObject *cfg, const char *name, uint64_t max, uint64_t *out);
int mf_attr_bool(PyObject *cfg, const char *name, bool *out);
int mf_attr_str(PyObject *cfg, const char *name, char *dst, size_t cap);

/*
 * The objects of one kind that still hold a library handle, so that a module-level uninitialize,
 * whose C call frees every handle of its kind, can first close them (their methods then raise
 * "closed" instead of passing a freed handle on). Changed only with the GIL held.
 */
typedef struct mf_live {
    struct mf_live *prev, *next;
} mf_live_t;
void mf_live_add(mf_live_t **head, mf_live_t *n);
void mf_live_del(mf_live_t **head, mf_live_t *n); /* no-op if n is not on the list */
#define MF_LIVE_OBJ(ptr, type) ((type *)(void *)((char *)(ptr) - offsetof(type, live)))

int mf_bm_add(PyObject *m);
int mf_shm_add(PyObject *m);
int mf_trans_add(PyObject *m);

extern PyMethodDef mf_bm_methods[];
extern PyMethodDef mf_shm_methods[];

#endif
