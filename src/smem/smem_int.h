/* Internal state shared by the smem API files (common, bm, shm, trans). */
#ifndef SMEM_INT_H
#define SMEM_INT_H

#include "net/net.h"

/*
 * Copy the process-wide config-store TLS settings into *out. Pointers in
 * *out (key_pem, key_pass) refer to library-owned copies that stay valid
 * until the next smem_set_config_store_tls_key or smem_uninit.
 */
void smem_store_tls_opts_get(net_tls_opts_t *out);

/* Parse a smem_set_conf_store_tls info string into opts (paths only). */
int32_t smem_tls_info_parse(const char *info, uint32_t len, net_tls_opts_t *opts);

#endif
