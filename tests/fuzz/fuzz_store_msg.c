/*
 * Fuzz target for every store decoder and for the server's request handling.
 *
 * Input, first byte b:
 *  - b < 0x80: decode mode. The rest is a body of type kTypes[b % N]: it goes
 *    through store_msg_decode (a success must re-encode to the same bytes)
 *    and through every response decoder.
 *  - b >= 0x80: server mode. The rest is a script run against a fresh
 *    socket-free server core with three peers:
 *      [u8 op][u8 type index][u8 flags][u16 len][len body bytes] ...
 *    op & 0x80: tick the core `len` ms into the future (no body);
 *    op & 0x40: close peer (op & 3) % 3 and open a fresh one in its place
 *               (op & 0x20: as a keepalive timeout would, which reserves its ranks);
 *    otherwise: peer (op & 3) % 3 sends a frame of type kTypes[index % N].
 *    The script's first byte, if odd, turns on a recovery window (held joins)
 *    and rank reservations of a few ms of fuzz time; if bit 1 is set, a 4 KiB bound on the data held.
 *    Every frame the server sends is checked: responses to known requests,
 *    and pushes that must decode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_core.h"
#include "store/store_proto.h"
#include "util/util_buf.h"
#include "util/util_status.h"
#include "util/util_time.h"

static const uint16_t kTypes[] = {
    STORE_MSG_SET,         STORE_MSG_GET,        STORE_MSG_ADD,        STORE_MSG_CAS,
    STORE_MSG_APPEND,      STORE_MSG_DELETE,     STORE_MSG_WATCH,      STORE_MSG_UNWATCH,
    STORE_MSG_GROUP_JOIN,  STORE_MSG_GROUP_LEAVE, STORE_MSG_BARRIER,   STORE_MSG_ALLGATHER,
    STORE_MSG_ID_ALLOC,    STORE_MSG_ID_RELEASE, STORE_MSG_EXIT_WATCH, STORE_MSG_EXIT_BROADCAST,
    STORE_MSG_EVENT,       STORE_MSG_EXIT,       0x01FF,               NET_TYPE_PING,
    STORE_MSG_LIST,        STORE_MSG_HELLO,      STORE_MSG_GROUP_OWN, /* appended: older seeds keep their types */
};
#define NTYPES (sizeof(kTypes) / sizeof(kTypes[0]))
#define NPEERS 3

static void list_item(void *arg, const char *key, uint32_t key_len, const uint8_t *val, uint32_t val_len)
{
    (void)key;
    (void)val;
    *(uint64_t *)arg += (uint64_t)key_len + val_len;
}

static void decode_all(uint16_t type, const uint8_t *body, size_t len)
{
    store_msg_t m;
    if (store_msg_decode(type, body, len, &m) == 0) {
        /* Strict decoding means one encoding per message. */
        util_wbuf_t w;
        util_wbuf_init(&w);
        if (store_msg_encode(&m, &w) != 0 || w.len != len || memcmp(w.p, body, len) != 0) {
            fprintf(stderr, "fuzz_store_msg: %s decoded but re-encodes differently\n", store_msg_name(type));
            abort();
        }
        util_wbuf_fini(&w);
    }
    const uint8_t *p;
    uint32_t n, v32;
    uint64_t v64;
    bool present;
    char msg[64];
    (void)store_resp_blob_decode(body, len, STORE_VALUE_MAX, &p, &n);
    (void)store_resp_u32_decode(body, len, &v32);
    (void)store_resp_u64_decode(body, len, &v64);
    (void)store_resp_cas_decode(body, len, &present, &p, &n);
    uint32_t left;
    (void)store_resp_hello_decode(body, len, &v64, &left);
    store_resp_errmsg_decode(body, len, msg, sizeof(msg));
    bool more;
    uint64_t total;
    uint64_t seen = 0;
    if (store_resp_list_decode(body, len, &n, &more, &total, list_item, &seen) == 0 && seen != total) {
        fprintf(stderr, "fuzz_store_msg: LIST answer items add up to %llu bytes, decoder said %llu\n",
                (unsigned long long)seen, (unsigned long long)total);
        abort();
    }
}

/* ---------- server mode ---------- */

typedef struct fake_link {
    int idx;
    bool closed;
} fake_link_t;

static int32_t fake_send(void *link, const net_frame_hdr_t *hdr, const void *body, uint32_t len)
{
    (void)link;
    store_msg_t m;
    if (hdr->flags == NET_FLAG_PUSH && store_msg_decode(hdr->type, body, len, &m) != 0) {
        fprintf(stderr, "fuzz_store_msg: the server pushed an undecodable %s\n", store_msg_name(hdr->type));
        abort();
    }
    if (hdr->flags != NET_FLAG_PUSH && hdr->flags != NET_FLAG_RESPONSE) abort();
    if (hdr->flags == NET_FLAG_RESPONSE && hdr->type == STORE_MSG_LIST && hdr->status == 0) {
        uint32_t n;
        bool more;
        uint64_t total;
        if (store_resp_list_decode(body, len, &n, &more, &total, NULL, NULL) != 0) {
            fprintf(stderr, "fuzz_store_msg: the server sent an undecodable LIST answer\n");
            abort();
        }
    }
    return 0;
}

static void fake_close(void *link) { ((fake_link_t *)link)->closed = true; }

static const store_core_ops_t fake_ops = {.send = fake_send, .close = fake_close};

static void run_server(const uint8_t *d, size_t n)
{
    store_core_t *core;
    fake_link_t links[NPEERS];
    store_peer_t *peers[NPEERS];
    uint64_t now = util_now_ms();

    if (store_core_create(&fake_ops, &core) != 0) return;
    if (n > 0 && (d[0] & 1)) store_core_set_recovery(core, 20, 50);
    if (n > 0 && (d[0] & 2)) store_core_set_data_max(core, 4096);
    for (int i = 0; i < NPEERS; i++) {
        links[i] = (fake_link_t){.idx = i};
        peers[i] = store_core_peer_open(core, &links[i], "fuzz");
        if (peers[i] == NULL) abort();
    }
    size_t pos = 0;
    while (pos + 5 <= n) {
        uint8_t op = d[pos], ti = d[pos + 1], flags = d[pos + 2];
        uint16_t len = util_get_le16(d + pos + 3);
        pos += 5;
        int pi = (op & 3) % NPEERS;
        if (op & 0x80) {
            now += len;
            store_core_tick(core, now);
            continue;
        }
        if (op & 0x40) {
            store_core_peer_close(core, peers[pi], (op & 0x20) ? SMEM_TIMEOUT : 0);
            links[pi].closed = false;
            peers[pi] = store_core_peer_open(core, &links[pi], "fuzz");
            if (peers[pi] == NULL) abort();
            continue;
        }
        if (len > n - pos) len = (uint16_t)(n - pos);
        /* A copy of exactly len bytes so ASan catches any over-read. */
        uint8_t *body = malloc(len ? len : 1);
        if (body == NULL) abort();
        memcpy(body, d + pos, len);
        pos += len;
        net_frame_hdr_t h = {.type = kTypes[ti % NTYPES], .flags = (uint8_t)(flags & NET_FLAG_MASK),
                             .body_len = len, .req_id = pos};
        store_core_dispatch(core, peers[pi], &h, body);
        free(body);
    }
    for (int i = 0; i < NPEERS; i++) store_core_peer_close(core, peers[i], 0);
    /* Past every possible deadline (timeouts are u32 ms): reclaims the
     * tombstones of collectives whose members were closed. */
    store_core_tick(core, util_now_ms() + (1ull << 33));
    store_server_stats_t st;
    store_core_stats(core, &st);
    /* With every peer gone and every deadline passed, only plain keys and
     * id pools may remain. */
    if (st.get_waiters || st.watches || st.groups || st.exit_groups || st.conns || st.collectives) {
        fprintf(stderr, "fuzz_store_msg: state left after all peers closed\n");
        abort();
    }
    store_core_destroy(core);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] < 0x80) {
        uint8_t *body = malloc(size); /* exact-size copy for ASan */
        if (body == NULL) return 0;
        memcpy(body, data + 1, size - 1);
        decode_all(kTypes[data[0] % NTYPES], size > 1 ? body : NULL, size - 1);
        free(body);
    } else {
        run_server(data + 1, size - 1);
    }
    return 0;
}
