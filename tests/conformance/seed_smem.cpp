// The seed smem conformance unit as C++ (seed_smem_decls.inc says what it checks); here also the
// seed's C++-only smem_decrypt_handler (size_t &) and smem_set_config_store_tls_key.
#include "seed_smem_decls.inc"
