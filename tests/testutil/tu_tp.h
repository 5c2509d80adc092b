/*
 * An outsider at a data server: a process that is not a member of the
 * cluster (no cluster credential, or a wrong one) and a raw client that
 * skips the greeting. Used by the drivers that check a data port is closed
 * to those who did not read the secret from the store.
 */
#ifndef TU_TP_H
#define TU_TP_H

#include <stdbool.h>
#include <stdint.h>

/* Connect to the tcp data server at addr ("tcp://IP:PORT") from an iface of
 * our own holding cred (NULL: none) and, if that succeeded, try to write 4 KiB
 * of 0xEE at window/off. Returns the connect status (SMEM_AUTH when refused). */
int32_t tu_outsider_connect(const char *addr, const char *cred, uint32_t window, uint64_t off);
/* A raw TCP client sends a WRITE header and 4 KiB of 0xEE at window/off
 * without the greeting; true if the server sent nothing but its HELLO before
 * closing (or timing out after 5 s). */
bool tu_outsider_raw_write(const char *addr, uint32_t window, uint64_t off);

#endif
