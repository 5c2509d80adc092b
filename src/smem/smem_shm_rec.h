/*
 * What the SHM API (smem_shm.c) reads back from the config store that other
 * processes put there, as pure functions (fuzz target fuzz_shm_rec):
 *   "smem/shm/<id>/ctx/<rank>"  a rank's extra context: the raw bytes its
 *                               smem_shm_set_extra_context wrote, 1..SMEM_SHM_CONTEXT_MAX;
 *   "smem/shm/<id>/ids"         the id pool's answer to an allocation.
 * The heap's member and base records are space's (space.h).
 * No state, no locks: callable from any thread.
 */
#ifndef SMEM_SHM_REC_H
#define SMEM_SHM_REC_H

#include <stdint.h>

/*
 * Rank `rank`'s context record of heap `id` (val, len as the store returned
 * it) into buf (cap bytes); *size gets its length. Outputs written only on
 * success. SMEM_PROTOCOL: a record no smem_shm_set_extra_context writes
 * (empty, or over SMEM_SHM_CONTEXT_MAX bytes); SMEM_INVALID_PARAM: buf
 * is too small for it.
 */
int32_t sm_shm_ctx_decode(uint32_t id, uint32_t rank, const uint8_t *val, uint32_t len, void *buf, uint32_t cap,
                            uint32_t *size);

/* The pool's answer to an allocation below `limit`: SMEM_PROTOCOL unless value < limit. */
int32_t sm_shm_id_check(uint32_t id, uint32_t value, uint32_t limit);

#endif
