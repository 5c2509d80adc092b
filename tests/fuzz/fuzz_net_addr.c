/*
 * Fuzz target for transport and control-plane addresses as peers publish
 * them in the config store (a member record's tcp://IP:PORT, Trans instance
 * addresses, URLs from configs): net_addr_parse. What parses is a socket
 * address of its family and length, and its canonical text parses again to
 * the same address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "net/net.h"
#include "util/util_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 512) return 0;
    char *url = malloc(size + 1);
    if (url == NULL) return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    net_addr_t a;
    if (net_addr_parse(url, &a) == SMEM_OK) {
        if (a.family != AF_INET && a.family != AF_INET6 && a.family != AF_UNIX) abort();
        if (a.len == 0 || a.len > sizeof(a.ss) || memchr(a.text, '\0', sizeof(a.text)) == NULL) abort();
        if (a.family != AF_UNIX) { /* the canonical form names the same address */
            net_addr_t b;
            if (net_addr_parse(a.text, &b) != SMEM_OK || b.family != a.family || b.len != a.len ||
                memcmp(&b.ss, &a.ss, a.len) != 0)
                abort();
        }
    }
    free(url);
    return 0;
}
