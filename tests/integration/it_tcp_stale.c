/*
 * it.tcp_stale: a write that failed never lands after a newer one.
 *
 * Two simulated hosts on a bridge (tests/testutil/netns.h). Host 1 serves a
 * tcp transport window that lives in memory shared with this driver, so the
 * driver sees every byte the server writes. The client on host 0:
 *   1 writes pattern A and checks it arrived (the connections are warm);
 *   2 the link is cut; a 4 MiB write of pattern OLD fails within the bound;
 *   3 the link comes back (after 2.5 s: TCP's retransmission backoff has grown);
 *     a write of pattern NEW to the same range succeeds;
 *   4 for 9 s the range must stay NEW.
 * Before the fix the failed write's connection was closed with close(): the
 * kernel kept its queued bytes as an orphan socket and retransmitted them once
 * the link was back, so OLD overwrote NEW seconds after NEW had succeeded (seen
 * in it.netns_bm as a wrong byte read back after the link came back). A
 * connection given up mid-request is now aborted (RST, send queue dropped).
 * Skips (exit 0) without root.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "netns.h"
#include "testutil.h"
#include "transport/tp.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define MiB (1ull << 20)
#define WIN 1u
#define WIN_LEN (8 * MiB)
#define WRITE_LEN (4 * MiB)
#define TIMEOUT_MS 1000u
#define WATCH_MS 9000
#define TAG_A 1u
#define TAG_OLD 2u
#define TAG_NEW 3u

struct ctl {
    char addr[TP_ADDR_MAX + 1]; /* the server's iface address, "" until it listens */
    volatile int ready;
};

static struct ctl *ctl;
static uint8_t *g_win; /* the server's window, MAP_SHARED: the driver reads it directly */
static tn_net_t *g_net;

static uint8_t pat(uint32_t tag, uint64_t off)
{
    uint64_t x = ((uint64_t)tag << 56) ^ ((off >> 3) * 0x9E3779B97F4A7C15ull);
    return (uint8_t)((x ^ (x >> 29)) >> ((off & 7) * 8));
}

static void fill(uint8_t *p, uint32_t tag, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++) p[i] = pat(tag, i);
}

/* Offset of the first byte that is not tag's pattern, or -1. */
static int64_t first_diff(const uint8_t *p, uint32_t tag, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++)
        if (p[i] != pat(tag, i)) return (int64_t)i;
    return -1;
}

static int32_t win_resolve(void *arg, uint32_t window, uint64_t off, uint64_t len, tp_access_t acc, tp_mem_t *out)
{
    (void)arg;
    (void)acc;
    if (window != WIN) return util_err_set(SMEM_OBJECT_NOT_EXISTS, "window %u is not exposed", window);
    if (off > WIN_LEN || len > WIN_LEN - off) return util_err_set(SMEM_OUT_OF_RANGE, "beyond the window");
    out->ptr = g_win + off;
    out->pin = 0;
    return SMEM_OK;
}

static void win_release(void *arg, uint32_t window, const tp_mem_t *mem)
{
    (void)arg;
    (void)window;
    (void)mem;
}

static tp_iface_t *open_iface(const char *name, const char *listen, const char *reach)
{
    tp_iface_cfg_t c;
    tp_iface_cfg_init(&c);
    c.name = name;
    c.listen_url = listen;
    c.reach_url = reach;
    c.resolver = (tp_resolver_t){.resolve = win_resolve, .release = win_release};
    c.timeout_ms = TIMEOUT_MS;
    /* plain TCP between the simulated hosts, no credential: the stale-write race is the subject, allowed */
    c.expose = (net_expose_t){.allow_insecure = true, .what = name};
    tp_iface_t *i = NULL;
    if (tp_iface_open(tp_select(TP_CAP_REMOTE | TP_CAP_HOST_MEM, 0), &c, &i) != SMEM_OK) {
        fprintf(stderr, "%s: iface open: %s\n", name, util_err_get());
        return NULL;
    }
    return i;
}

static int server_main(void *arg)
{
    (void)arg;
    char listen[64];
    snprintf(listen, sizeof(listen), "tcp://%s:0", tn_addr(g_net, 1));
    tp_iface_t *i = open_iface("server", listen, NULL);
    if (i == NULL) return 1;
    tp_iface_addr(i, ctl->addr, sizeof(ctl->addr));
    __atomic_store_n(&ctl->ready, 1, __ATOMIC_RELEASE);
    for (;;) pause(); /* until the driver kills us */
}

static int32_t put(tp_ep_t *ep, uint8_t *buf, uint64_t len)
{
    tp_piece_t p = {.local = buf, .offset = 0, .len = len};
    return tp_put(ep, WIN, &p, 1);
}

int main(void)
{
    if (!tn_require("it.tcp_stale")) return 0;
    signal(SIGPIPE, SIG_IGN);
    ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    g_win = mmap(NULL, WIN_LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED || g_win == MAP_FAILED) return 1;
    memset(ctl, 0, sizeof(*ctl));
    char err[512];
    tn_opts_t o = {.hosts = 2, .subnet = 207};
    if (tn_net_create(&o, &g_net, err, sizeof(err)) != 0) {
        fprintf(stderr, "netns: %s\n", err);
        return 1;
    }
    pid_t srv = tn_run(g_net, 1, server_main, NULL);
    uint64_t t0 = util_now_ms();
    while (!__atomic_load_n(&ctl->ready, __ATOMIC_ACQUIRE) && util_now_ms() - t0 < 10000) usleep(1000);
    TU_CHECK(ctl->ready, "the server did not start");
    if (!ctl->ready) goto out;

    /* The client runs in this process, its thread inside host 0; the
     * iface's threads are created here and inherit the namespace. */
    if (tn_enter(g_net, 0) != 0) {
        TU_CHECK(false, "cannot enter host 0");
        goto out;
    }
    char listen[64];
    snprintf(listen, sizeof(listen), "tcp://%s:0", tn_addr(g_net, 0));
    tp_iface_t *cli = open_iface("client", listen, ctl->addr);
    tp_ep_t *ep = NULL;
    TU_CHECK(cli != NULL && tp_ep_connect(cli, ctl->addr, &ep) == SMEM_OK, "connect to %s: %s", ctl->addr,
             util_err_get());
    if (ep == NULL) goto out;
    uint8_t *buf = malloc(WRITE_LEN);

    /* 1: warm connections */
    fill(buf, TAG_A, WRITE_LEN);
    int32_t rc = put(ep, buf, WRITE_LEN);
    TU_CHECK(rc == SMEM_OK && first_diff(g_win, TAG_A, WRITE_LEN) < 0, "write A: %d %s", rc, util_err_get());

    /* 2: cut; the write fails within the bound */
    TU_CHECK(tn_link_set(g_net, 1, false) == 0, "link down");
    fill(buf, TAG_OLD, WRITE_LEN);
    uint64_t t = util_now_ms();
    rc = put(ep, buf, WRITE_LEN);
    uint64_t took = util_now_ms() - t;
    TU_CHECK(rc != SMEM_OK && took < 3 * TIMEOUT_MS, "write across the cut link: %d after %llu ms", rc,
             (unsigned long long)took);
    fprintf(stderr, "write across the cut link failed after %llu ms: %d (%s)\n", (unsigned long long)took, rc,
            util_err_get());
    usleep(2500 * 1000);

    /* 3: link back; a newer write succeeds (retrying while neighbour discovery recovers) */
    TU_CHECK(tn_link_set(g_net, 1, true) == 0, "link up");
    fill(buf, TAG_NEW, WRITE_LEN);
    t = util_now_ms();
    int tries = 0;
    do {
        rc = put(ep, buf, WRITE_LEN);
        tries++;
    } while (rc != SMEM_OK && util_now_ms() - t < 15000 && usleep(50000) == 0);
    int64_t d = first_diff(g_win, TAG_NEW, WRITE_LEN);
    TU_CHECK(rc == SMEM_OK && d < 0, "write NEW after the link came back: %d after %d tries, first wrong byte %lld: %s",
             rc, tries, (long long)d, util_err_get());
    fprintf(stderr, "write after the link came back: %d after %llu ms, %d tries\n", rc,
            (unsigned long long)(util_now_ms() - t), tries);

    /* 4: nothing older lands later */
    t = util_now_ms();
    int64_t bad = -1;
    uint64_t bad_at = 0;
    while (util_now_ms() - t < WATCH_MS && bad < 0) {
        bad = first_diff(g_win, TAG_NEW, WRITE_LEN);
        if (bad >= 0) bad_at = util_now_ms() - t;
        usleep(10000);
    }
    TU_CHECK(bad < 0, "the range changed %llu ms after the newer write succeeded: byte %lld is %s's",
             (unsigned long long)bad_at, (long long)bad,
             g_win[bad < 0 ? 0 : bad] == pat(TAG_OLD, (uint64_t)(bad < 0 ? 0 : bad)) ? "the failed write" : "nobody");
    tp_ep_close(ep);
    tp_iface_close(cli);
    free(buf);
out:
    tn_kill(g_net, srv);
    tn_net_destroy(g_net);
    return tu_summary();
}
