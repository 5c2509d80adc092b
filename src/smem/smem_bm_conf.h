/*
 * smem_bm_config_t, declared once (smem_bm_conf.c): smem_bm_config_init's
 * defaults, smem_bm_init's range checks, the Python BmConfig fields and the
 * table in docs/CONFIG.md come from these rows. Data only: the Python
 * bindings compile smem_bm_conf.c too.
 */
#ifndef SMEM_BM_CONF_H
#define SMEM_BM_CONF_H

#include <stddef.h>

#include "util/util_conf.h"

extern const util_conf_spec_t sm_bm_conf_table[];
extern const size_t sm_bm_conf_rows;

#endif
