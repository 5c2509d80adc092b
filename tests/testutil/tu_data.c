#include "tu_data.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

uint64_t tu_pat(uint32_t tag, uint64_t word_off)
{
    uint64_t x = ((uint64_t)(tag + 1) << 52) ^ (word_off * 0x9E3779B97F4A7C15ull);
    return x ^ (x >> 29);
}

static uint8_t tu_pat_byte(uint32_t tag, uint64_t off) { return (uint8_t)(tu_pat(tag, off & ~7ull) >> ((off & 7) * 8)); }

void tu_fill(void *buf, uint32_t tag, uint64_t off0, uint64_t len)
{
    uint8_t *b = buf;
    uint64_t i = 0;
    for (; i < len && ((off0 + i) & 7); i++) b[i] = tu_pat_byte(tag, off0 + i);
    for (; i + 8 <= len; i += 8) {
        uint64_t w = tu_pat(tag, off0 + i);
        memcpy(b + i, &w, 8);
    }
    for (; i < len; i++) b[i] = tu_pat_byte(tag, off0 + i);
}

bool tu_check(const void *buf, uint32_t tag, uint64_t off0, uint64_t len, const char *who)
{
    const uint8_t *b = buf;
    for (uint64_t i = 0; i < len; i++) {
        if (((off0 + i) & 7) == 0 && i + 8 <= len) {
            uint64_t w;
            memcpy(&w, b + i, 8);
            if (w == tu_pat(tag, off0 + i)) {
                i += 7;
                continue;
            }
        }
        if (b[i] != tu_pat_byte(tag, off0 + i)) {
            fprintf(stderr, "%s: mismatch at +%llu (tag %u, offset %llu): %02x, want %02x\n", who,
                    (unsigned long long)i, tag, (unsigned long long)(off0 + i), b[i], tu_pat_byte(tag, off0 + i));
            return false;
        }
    }
    return true;
}

void tu_kv_layout(tu_piece_t pieces[TU_KV_PIECES], uint64_t big, uint64_t small, uint64_t gap, bool interleave)
{
    uint32_t a[TU_KV_PIECES], b[TU_KV_PIECES];
    uint64_t seed = 12345;
    for (uint32_t i = 0; i < TU_KV_PIECES; i++) a[i] = b[i] = i;
    for (uint32_t i = TU_KV_PIECES - 1; i > 0; i--) { /* Fisher-Yates with a fixed LCG: every process gets the same */
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t j = (uint32_t)((seed >> 33) % (i + 1)), t = a[i];
        a[i] = a[j];
        a[j] = t;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        j = (uint32_t)((seed >> 33) % (i + 1));
        t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
    for (uint32_t i = 0; i < TU_KV_PIECES; i++)
        pieces[i].len = (interleave ? i % 2 == 0 : i < TU_KV_PIECES / 2) ? big : small;
    uint64_t off = 0;
    for (uint32_t k = 0; k < TU_KV_PIECES; k++) {
        pieces[a[k]].src_off = off;
        off += pieces[a[k]].len;
    }
    off = 0;
    for (uint32_t k = 0; k < TU_KV_PIECES; k++) {
        pieces[b[k]].dst_off = off;
        off += pieces[b[k]].len + gap;
    }
}

uint64_t tu_kv_src_len(const tu_piece_t pieces[TU_KV_PIECES])
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < TU_KV_PIECES; i++) n += pieces[i].len;
    return n;
}

uint16_t tu_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    uint16_t port = 0;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(s, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0) close(s);
    return port;
}

int tu_url_port(const char *url)
{
    const char *c = url != NULL ? strrchr(url, ':') : NULL;
    return c != NULL ? atoi(c + 1) : 0;
}

int tu_tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

uint32_t tu_key_tag(const char *key)
{
    uint32_t h = 2166136261u;
    for (const char *p = key; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    return h;
}
