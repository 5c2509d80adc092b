/*
 * iperf3 on a link between two simulated hosts (tests/testutil/netns.h), the
 * physical limit the cross-host benches compare against; shared by
 * bench_tcp.c and bench_kv.c --netns (header only: static functions).
 *
 *   pid = bench_iperf_server(net, server_host, port);      iperf3 -s bound to the host's address
 *   bps = bench_iperf_run(net, client_host, server_host, port, streams, seconds, "bench_x");
 *   tn_kill(net, pid);
 *
 * The client sends (data flows client -> server); --json is parsed for
 * "sum_received"."bits_per_second". 0 on failure (a message on stderr).
 */
#ifndef BENCH_IPERF_H
#define BENCH_IPERF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"

/* bits_per_second of "sum_received" in iperf3's --json output; 0 if absent. */
static inline double bench_iperf_bps(const char *json)
{
    const char *s = strstr(json, "\"sum_received\"");
    if (s == NULL) return 0;
    const char *b = strstr(s, "\"bits_per_second\"");
    if (b == NULL) return 0;
    b = strchr(b, ':');
    return b ? strtod(b + 1, NULL) : 0;
}

/* iperf3 -s in `host`, bound to its address; the pid, or -1 (iperf3 missing: exec fails later, then runs give 0). */
static inline pid_t bench_iperf_server(tn_net_t *net, uint32_t host, const char *port)
{
    char *srv[] = {"iperf3", "-s", "-B", (char *)tn_addr(net, host), "-p", (char *)port, "--logfile", "/dev/null",
                   NULL};
    return tn_spawn(net, host, srv, NULL);
}

/* One client run from `client` to the server in `server`; bits/s, 0 on failure. */
static inline double bench_iperf_run(tn_net_t *net, uint32_t client, uint32_t server, const char *port, int streams,
                                     int seconds, const char *who)
{
    static char out[1 << 20];
    char t[16], p[16];
    snprintf(t, sizeof(t), "%d", seconds);
    snprintf(p, sizeof(p), "%d", streams);
    char *argv[] = {"iperf3", "-c", (char *)tn_addr(net, server), "-p", (char *)port, "-t", t, "-P", p, "-J", NULL};
    for (int attempt = 0; attempt < 50; attempt++) { /* the server may still be starting */
        out[0] = '\0';
        int rc = tn_exec(net, client, argv, (seconds + 20) * 1000, out, sizeof(out));
        double bps = rc == 0 ? bench_iperf_bps(out) : 0;
        if (bps > 0) return bps;
        if (strstr(out, "unable to connect") == NULL && strstr(out, "Connection refused") == NULL) {
            fprintf(stderr, "%s: iperf3 -P %d failed (exit %d): %.300s\n", who, streams, rc, out);
            return 0;
        }
        usleep(100000);
    }
    return 0;
}

#endif
