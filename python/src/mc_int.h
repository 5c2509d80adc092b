/* _memcache internals: config conversion and the parts of the module. */
#ifndef MC_INT_H
#define MC_INT_H

#include "py_common.h"

#include "memcache/mmc_def.h"

/* LocalConfig / MetaConfig objects (memcache_hybrid) <-> the C structs, by attribute name. */
int mc_local_config_from(PyObject *o, mmc_local_service_config_t *c);
int mc_meta_config_from(PyObject *o, mmc_meta_service_config_t *c);
extern PyMethodDef mc_config_methods[];
extern PyMethodDef mc_replica_methods[]; /* mc_replica.c */

/* Mooncake-compatible module functions on the process's client (mc_ext.c): upsert, pins, force, counts, leases. */
extern PyMethodDef mc_ext_methods[];

/* DistributedObjectStore and the module's store functions (_set_key_info_class). */
int mc_store_add(PyObject *m);

#endif
