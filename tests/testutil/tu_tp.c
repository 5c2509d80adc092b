/* An outsider at a data server (tu_tp.h). */
#include "tu_tp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/tcp/tcp_proto.h"
#include "transport/tp.h"
#include "util/util_status.h"

static int32_t tu_outsider_resolve(void *arg, uint32_t window, uint64_t off, uint64_t len, tp_access_t acc,
                                   tp_mem_t *out)
{
    (void)arg, (void)window, (void)off, (void)len, (void)acc, (void)out;
    return SMEM_OUT_OF_RANGE; /* it serves nothing */
}

static void tu_outsider_release(void *arg, uint32_t window, const tp_mem_t *mem) { (void)arg, (void)window, (void)mem; }

int32_t tu_outsider_connect(const char *addr, const char *cred, uint32_t window, uint64_t off)
{
    tp_iface_cfg_t c;
    tp_iface_cfg_init(&c);
    c.name = "outsider";
    c.listen_url = "tcp://127.0.0.1:0";
    c.resolver = (tp_resolver_t){.resolve = tu_outsider_resolve, .release = tu_outsider_release};
    c.timeout_ms = 3000;
    c.cred = (const uint8_t *)cred;
    c.cred_len = cred ? (uint32_t)strlen(cred) : 0;
    tp_iface_t *i = NULL;
    int32_t rc = tp_iface_open(&tp_tcp_ops, &c, &i);
    if (rc != SMEM_OK) return rc;
    tp_ep_t *ep = NULL;
    rc = tp_ep_connect(i, addr, &ep);
    if (rc == SMEM_OK) { /* the door was open: do what an attacker would */
        static uint8_t junk[4096];
        memset(junk, 0xEE, sizeof(junk));
        tp_piece_t p = {.local = junk, .offset = off, .len = sizeof(junk)};
        (void)tp_put(ep, window, &p, 1);
        tp_ep_close(ep);
    }
    tp_iface_close(i);
    return rc;
}

bool tu_outsider_raw_write(const char *addr, uint32_t window, uint64_t off)
{
    char host[64];
    unsigned port = 0;
    if (sscanf(addr, "tcp://%63[^:]:%u", host, &port) != 2) return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return false;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return false;
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(s);
        return false;
    }
    static uint8_t msg[TCP_REQ_HDR_SIZE + 4096];
    tcp_req_encode(&(tcp_req_t){.op = TCP_OP_WRITE, .window = window, .npieces = 1, .seq = 1, .offset = off,
                                .length = 4096, .total = 4096},
                   msg);
    memset(msg + TCP_REQ_HDR_SIZE, 0xEE, 4096);
    (void)!send(s, msg, sizeof(msg), MSG_NOSIGNAL);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint8_t in[TCP_HELLO_SIZE + TCP_RESP_SIZE];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(in) && (n = recv(s, in + got, sizeof(in) - got, 0)) > 0) got += (size_t)n;
    close(s);
    return got <= TCP_HELLO_SIZE;
}
