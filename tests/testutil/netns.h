/*
 * Simulated hosts for multi-host tests and benchmarks: each "host" is a
 * network namespace (DESIGN.md §2: a host is a network identity).
 *
 * Topologies (all links are veth pairs; nothing is added to the root
 * namespace, so no traffic can leave the namespaces created here):
 *   bridge (default)  hosts 0..n-1 each get eth0 = 10.201.S.(i+1)/24, whose peer
 *                     is port p<i> of bridge br0 in a "hub" namespace of its own;
 *                     the hub itself has 10.201.S.254 on br0 (a place for a
 *                     config store that no host owns).
 *   direct            exactly two hosts joined by one veth pair (eth0 <-> eth0),
 *                     10.201.S.1 and 10.201.S.2; no hub.
 * S is tn_opts_t.subnet (default 201 - nothing else uses it inside these
 * namespaces). Loopback is up everywhere.
 *
 * Names are "smtn<pid>-<seq>-h<i>" / "-hub" (under /run/netns), so parallel
 * runs never collide. Teardown always runs: tn_net_destroy, an atexit
 * handler and handlers for SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGABRT kill the
 * processes started here and delete the namespaces; namespaces whose creator
 * died without cleaning up (SIGKILL) are removed by tn_net_create of the next
 * run (tn_cleanup_stale). Every child started here gets PR_SET_PDEATHSIG
 * SIGKILL, so a killed test leaves no process behind.
 *
 * Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN) and iproute2's `ip`; tc netem is
 * optional. tn_require() is the skip check for test mains.
 *
 * Threads: create/destroy and the process helpers from one thread; tn_socket
 * and the queries may be called from any thread.
 */
#ifndef TESTUTIL_NETNS_H
#define TESTUTIL_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TN_HOSTS_MAX 16u
#define TN_HUB UINT32_MAX /* pass as `host` to act in the hub namespace (bridge topology) */
#define TN_PREFIX "smtn"

typedef struct tn_net tn_net_t;

typedef struct tn_opts {
    uint32_t hosts; /* 1..TN_HOSTS_MAX (direct: exactly 2) */
    bool direct;    /* two hosts on one veth pair, no bridge */
    uint8_t subnet; /* third octet of 10.201.S.0/24; 0 = 201 */
    uint32_t mtu;   /* 0 = the veth default (1500) */
} tn_opts_t;

/* Usable here? false with a reason (not root, no `ip`, no CAP_SYS_ADMIN). */
bool tn_available(char *why, size_t cap);
/* For test mains: when tn_available() is false, prints
 *   "SKIP: <test>: needs root for network namespaces (<reason>)" and "0 passed, 0 failed (skipped)"
 * and returns false (the caller then exits 0). */
bool tn_require(const char *test);

/* Build the topology. Returns 0, or -1 with a message in *err (cap bytes). */
int tn_net_create(const tn_opts_t *opts, tn_net_t **out, char *err, size_t cap);
/* Kill every process started through this net (SIGKILL, reaped) and delete its namespaces. */
void tn_net_destroy(tn_net_t *net);
/* Delete namespaces with our prefix whose creating process is gone (and kill what runs in them). */
void tn_cleanup_stale(void);

uint32_t tn_hosts(const tn_net_t *net);
const char *tn_ns_name(const tn_net_t *net, uint32_t host);  /* host or TN_HUB; NULL if none */
const char *tn_addr(const tn_net_t *net, uint32_t host);     /* "10.201.S.x"; TN_HUB: the bridge address */
const char *tn_ifname(const tn_net_t *net, uint32_t host);   /* the host's interface: "eth0" */
const char *tn_subnet(const tn_net_t *net);                  /* "10.201.S.0/24" */

/* Move the calling thread into the host's namespace (for a freshly forked child). */
int tn_enter(const tn_net_t *net, uint32_t host);
/* Socket created in the host's namespace by the calling process (the thread's
 * own namespace is restored before returning). -1 with errno on failure. */
int tn_socket(const tn_net_t *net, uint32_t host, int domain, int type, int protocol);

/* fork() into the host's namespace: returns the pid in the parent, 0 in the
 * child (already inside, PR_SET_PDEATHSIG SIGKILL set, own process group),
 * -1 on error. The parent tracks the child until tn_wait or teardown. */
pid_t tn_fork(tn_net_t *net, uint32_t host);
/* Run fn(arg) in a child inside the host's namespace; its return value is the exit status. */
pid_t tn_run(tn_net_t *net, uint32_t host, int (*fn)(void *arg), void *arg);
/* exec argv (argv[0] looked up in PATH) inside the host's namespace; stdout to
 * a pipe when stdout_fd is not NULL (the read end), stderr inherited. */
pid_t tn_spawn(tn_net_t *net, uint32_t host, char *const argv[], int *stdout_fd);
/* Wait up to timeout_ms (-1: forever) for a child started here; *status as
 * waitpid. 0, or -1 on timeout (the child keeps running). */
int tn_wait(tn_net_t *net, pid_t pid, int timeout_ms, int *status);
/* SIGKILL a child started here and reap it (returns its waitpid status). */
int tn_kill(tn_net_t *net, pid_t pid);
/* Run argv in the namespace and collect its stdout and stderr (NUL-terminated,
 * at most cap-1 bytes kept). Returns the exit code (0..255), or -1 (could not start,
 * killed, or timed out after timeout_ms). */
int tn_exec(tn_net_t *net, uint32_t host, char *const argv[], int timeout_ms, char *out, size_t cap);

/* Unplug / replug a host: sets the hub-side (bridge) or, for the direct
 * topology, the peer-side end of its veth down or up. The host keeps its
 * address and routes, so its traffic is silently dropped (timeouts, not
 * "network unreachable"), as with a pulled cable. */
int tn_link_set(tn_net_t *net, uint32_t host, bool up);
/* tc netem on the host's eth0 (egress): delay_us and loss_pct (0 = none); both
 * 0 removes it. -1 with a message when tc or the netem qdisc is missing. */
int tn_netem_set(tn_net_t *net, uint32_t host, uint32_t delay_us, double loss_pct, char *err, size_t cap);

/* TCP connect from inside `host` to addr:port within timeout_ms (done in a
 * socket made by tn_socket). 0 connected; -ETIMEDOUT; or -errno. */
int tn_tcp_connect(const tn_net_t *net, uint32_t host, const char *addr, uint16_t port, int timeout_ms);

#endif
