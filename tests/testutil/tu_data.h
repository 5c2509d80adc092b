/*
 * Data helpers shared by the copy tests: a position-dependent pattern that
 * any process can regenerate (so a reader checks bytes another process
 * wrote), the DeepSeek-R1 block layout of 122 discrete pieces scattered in a
 * shuffled order, and a free loopback port.
 */
#ifndef TU_DATA_H
#define TU_DATA_H

#include <stdbool.h>
#include <stdint.h>

/* 8 pattern bytes for (tag, 8-aligned offset). */
uint64_t tu_pat(uint32_t tag, uint64_t word_off);
/* Fill / check len bytes that sit at logical offset off0 of pattern `tag`; any
 * alignment and length. tu_check prints the first mismatch prefixed by `who`. */
void tu_fill(void *buf, uint32_t tag, uint64_t off0, uint64_t len);
bool tu_check(const void *buf, uint32_t tag, uint64_t off0, uint64_t len, const char *who);

/* The pattern tag of a KV key (FNV-1a), so any process regenerates a key's value from its name. */
uint32_t tu_key_tag(const char *key);

#define TU_KV_PIECES 122 /* 61 layers x (latent, RoPE) */

/* Piece j of a block: its length, its offset in a packed source layout (one
 * shuffled order) and in a gapped destination layout (another order). */
typedef struct tu_piece {
    uint64_t len, src_off, dst_off;
} tu_piece_t;

/* The same layout in every process (fixed seed). interleave: big and small
 * pieces alternate (latent, RoPE, latent, ...), else the first half is big. */
void tu_kv_layout(tu_piece_t pieces[TU_KV_PIECES], uint64_t big, uint64_t small, uint64_t gap, bool interleave);
/* Bytes a layout spans: packed source, gapped destination. */
uint64_t tu_kv_src_len(const tu_piece_t pieces[TU_KV_PIECES]);

/* A currently free TCP port on 127.0.0.1 (0 on failure). */
uint16_t tu_free_port(void);
/* The port of a URL ("tcp://127.0.0.1:5000", "http://h:80/x" gives 80 only without a path): what follows its last ':'. */
int tu_url_port(const char *url);
/* A blocking TCP connection to 127.0.0.1:port (close-on-exec); the fd or -1. */
int tu_tcp_connect(int port);

#endif
