/*
 * Host identity: boot id + network-namespace inode (DESIGN.md §2). The boot
 * id tells machines (and reboots) apart; the namespace inode tells apart the
 * "hosts" that tests simulate with network namespaces on one machine. Both are
 * read on every call because a process may unshare or setns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gva/gva.h"
#include "util/util_buf.h"
#include "util/util_status.h"

#define GVA_BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define GVA_NETNS_PATH "/proc/self/ns/net"
#define GVA_UUID_LEN 36u

static int gva_hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" → 16 bytes; -1 if malformed. */
static int gva_uuid_parse(const char *s, uint8_t out[16])
{
    size_t n = 0;
    for (size_t i = 0; i < GVA_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return -1;
            continue;
        }
        int hi = gva_hex_val(s[i]);
        int lo = gva_hex_val(s[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[n++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    return n == 16 ? 0 : -1;
}

int32_t gva_host_id_get(gva_host_id_t *out)
{
    if (out == NULL) return util_err_set(SMEM_INVALID_PARAM, "gva_host_id_get: out is NULL");
    char text[64];
    int fd = open(GVA_BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return util_err_set(SMEM_IO, "open %s: %s", GVA_BOOT_ID_PATH, strerror(errno));
    ssize_t n = read(fd, text, sizeof(text) - 1);
    int err = errno;
    close(fd);
    if (n < 0) return util_err_set(SMEM_IO, "read %s: %s", GVA_BOOT_ID_PATH, strerror(err));
    text[n] = '\0';

    gva_host_id_t id;
    memset(&id, 0, sizeof(id));
    if ((size_t)n < GVA_UUID_LEN || gva_uuid_parse(text, id.boot_id) != 0)
        return util_err_set(SMEM_IO, "%s holds %zd bytes that are not a UUID", GVA_BOOT_ID_PATH, n);

    struct stat st;
    if (stat(GVA_NETNS_PATH, &st) != 0)
        return util_err_set(SMEM_IO, "stat %s: %s", GVA_NETNS_PATH, strerror(errno));
    id.netns_ino = (uint64_t)st.st_ino;
    *out = id;
    return SMEM_OK;
}

bool gva_host_id_equal(const gva_host_id_t *a, const gva_host_id_t *b)
{
    return memcmp(a->boot_id, b->boot_id, sizeof(a->boot_id)) == 0 && a->netns_ino == b->netns_ino;
}

const char *gva_host_id_format(const gva_host_id_t *id, char *buf, size_t cap)
{
    const uint8_t *b = id->boot_id;
    snprintf(buf, cap,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x/net:%llu",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15], (unsigned long long)id->netns_ino);
    return buf;
}

void gva_host_id_pack(const gva_host_id_t *id, uint8_t out[GVA_HOST_ID_WIRE_SIZE])
{
    memcpy(out, id->boot_id, 16);
    util_put_le64(out + 16, id->netns_ino);
}

void gva_host_id_unpack(const uint8_t in[GVA_HOST_ID_WIRE_SIZE], gva_host_id_t *out)
{
    memcpy(out->boot_id, in, 16);
    out->netns_ino = util_get_le64(in + 16);
}

const char *gva_kind_name(gva_kind_t kind)
{
    switch (kind) {
    case GVA_KIND_HOST: return "host";
    case GVA_KIND_DEVICE: return "device";
    default: return "?";
    }
}
