/*
 * space_rec: the codecs of the two store records a space publishes (see
 * space.h): "<ns>/member/<rank>" and "<ns>/base". Pure functions over bytes;
 * the decoders are strict and are fuzzed (tests/fuzz/fuzz_space_*.c).
 */
#ifndef SPACE_REC_H
#define SPACE_REC_H

#include <stdint.h>

#include "gva/gva.h"

#define SPACE_TP_ADDR_MAX 256u /* bytes of a published transport address */

/* ---- the member record  ---- */

#define SPACE_REC_VERSION 1u
#define SPACE_REC_FIXED 50u /* version .. transport address length */

typedef struct space_rec {
    uint32_t rank;
    uint64_t gen;  /* random per join: tells one incarnation of a rank from the next */
    uint64_t size; /* backed bytes */
    gva_host_id_t host;
    uint16_t tp_addr_len;
    char tp_addr[SPACE_TP_ADDR_MAX + 1]; /* NUL-terminated */
} space_rec_t;

/* Encode into buf (cap >= SPACE_REC_FIXED + tp_addr_len); returns the length. */
uint32_t space_rec_encode(const space_rec_t *r, uint8_t *buf, uint32_t cap);
/* Strict: version, reserved bits, lengths, no trailing bytes. SMEM_PROTOCOL otherwise. */
int32_t space_rec_decode(const uint8_t *buf, uint32_t len, space_rec_t *out);

/* ---- the base record  ---- */

#define SPACE_BASE_VERSION 2u /* 2: the cluster secret */
#define SPACE_BASE_SIZE 64u
#define SPACE_SECRET_SIZE 32u
#define SPACE_USER_TOP (1ull << 57) /* the largest user address space (x86-64 5-level tables) */

typedef struct space_base_rec {
    uint16_t kind;
    uint32_t world_max;
    uint64_t stride;
    uint64_t base;
    uint64_t token;
    /* Random, written once by the first member: the data channel's cluster
     * credential (a peer proves it holds it before memory moves). Members
     * learn it from the store, so whoever can read the store can join. */
    uint8_t secret[SPACE_SECRET_SIZE];
} space_base_rec_t;

void space_base_encode(const space_base_rec_t *b, uint8_t out[SPACE_BASE_SIZE]);
/* Strict: size, version, a kind we know, world 1..GVA_WORLD_MAX, stride and base GVA_ALIGN-aligned and the
 * whole window below SPACE_USER_TOP. SMEM_PROTOCOL (naming key) otherwise. */
int32_t space_base_decode(const char *key, const uint8_t *p, uint32_t len, space_base_rec_t *out);

#endif
