/* _memfabric internals: each part adds its functions and types to the module. */
#ifndef MF_INT_H
#define MF_INT_H

#include "py_common.h"

/* Config objects are read by attribute (memfabric_hybrid.bm.BmConfig, ...). */
int mf_attr_u64(PyObject *cfg, const char *name, uint64_t max, uint64_t *out);
int mf_attr_bool(PyObject *cfg, const char *name, bool *out);
int mf_attr_str(PyObject *cfg, const char *name, char *dst, size_t cap);

int mf_bm_add(PyObject *m);
int mf_shm_add(PyObject *m);
int mf_trans_add(PyObject *m);

extern PyMethodDef mf_bm_methods[];
extern PyMethodDef mf_shm_methods[];

#endif
