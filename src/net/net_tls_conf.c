/*
 * The keys of a TLS block (net.h, the file block of net_tls_opts_t). Data
 * only: the Python bindings compile this file too, for their field tables.
 */
#include "net/net.h"

#define TLS_STR(k, m, p, h) {.key = k, .type = UTIL_CONF_STR, UTIL_CONF_AT(net_tls_opts_t, m), .py = p, .help = h}

const util_conf_spec_t net_tls_conf_rows[NET_TLS_CONF_NROWS] = {
    {.key = "enable", .type = UTIL_CONF_BOOL, UTIL_CONF_AT(net_tls_opts_t, enable), .def = "false", .py = "tls_enable",
     .help = "TLS 1.3 with mutual authentication"},
    TLS_STR("ca.path", ca_path, "ca_path", "CA bundle (PEM) that peers' certificates must chain to"),
    TLS_STR("ca.crl.path", crl_path, "crl_path", "certificate revocation list (PEM); revoked peers are refused"),
    TLS_STR("cert.path", cert_path, "cert_path", "this side's certificate (PEM)"),
    TLS_STR("key.path", key_path, "key_path", "this side's private key (PEM), maybe encrypted"),
    TLS_STR("key.pass.path", key_pass_path, "key_pass_path", "file holding the private key's password"),
    TLS_STR("package.path", package_path, NULL, "accepted for seed compatibility, unused"),
    TLS_STR("decrypter.path", decrypter_path, "decrypter_lib_path",
            "shared library exporting the seed's `int DecryptPassword(const char *cipher, size_t len, char *plain, "
            "size_t plain_cap)` (or ours, `decrypt`, docs/API.md), applied to the key password"),
};
