/* The seed smem conformance unit as C11 (seed_smem_decls.inc says what it checks). */
#include "seed_smem_decls.inc"
