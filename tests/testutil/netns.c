/*
 * Network-namespace hosts for tests (see netns.h). Configuration goes through
 * iproute2's `ip` (and `tc`), run as child processes; teardown uses only
 * syscalls (kill, waitpid, umount2, unlink, getdents64), so the signal
 * handlers can run it too. Self-contained (libc only) so that benchmarks can
 * compile it without the rest of the test helpers.
 */
#include "netns.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TN_RUN_DIR "/run/netns"
#define TN_NAME_MAX 48
#define TN_CHILDREN_MAX 512
#define TN_LIVE_MAX 8
#define TN_IP_TIMEOUT_MS 10000

typedef struct tn_ns {
    char name[TN_NAME_MAX];
    char path[TN_NAME_MAX + sizeof(TN_RUN_DIR) + 1];
    char addr[16];
    int fd;        /* open /run/netns/<name>: setns target */
    ino_t ino;     /* the namespace's nsfs inode (to find its processes) */
    bool created;
} tn_ns_t;

struct tn_net {
    uint32_t seq;
    uint32_t nhosts;
    bool direct;
    uint8_t subnet;
    uint32_t mtu;
    char subnet_str[24];
    tn_ns_t host[TN_HOSTS_MAX];
    tn_ns_t hub; /* bridge topology only (created == false otherwise) */
    volatile pid_t child[TN_CHILDREN_MAX];
    volatile sig_atomic_t nchild;
    volatile sig_atomic_t dead; /* torn down */
    pid_t creator;              /* only this process tears it down (forked children inherit the registry) */
};

/* Registry for the atexit and signal teardown. */
static tn_net_t *volatile tn_live[TN_LIVE_MAX];
static uint32_t tn_seq;
static bool tn_hooks_installed;
static const int tn_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
static struct sigaction tn_old_act[sizeof(tn_signals) / sizeof(tn_signals[0])];

static int64_t tn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tn_errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void tn_errf(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---------- async-signal-safe teardown pieces ---------- */

/* Kill (SIGKILL) every process whose network namespace is `ino`, except us. */
static void tn_kill_ns_procs(ino_t ino)
{
    if (ino == 0) return;
    int dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    char buf[8192];
    pid_t self = getpid();
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
        if (n <= 0) break;
        for (long off = 0; off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            off += d->reclen;
            pid_t pid = 0;
            const char *c = d->name;
            if (*c < '0' || *c > '9') continue;
            for (; *c >= '0' && *c <= '9'; c++) pid = pid * 10 + (*c - '0');
            if (*c != '\0' || pid == self) continue;
            char p[64] = "/proc/";
            size_t k = 6;
            for (const char *s = d->name; *s && k < 40; s++) p[k++] = *s;
            memcpy(p + k, "/ns/net", 8);
            struct stat st;
            if (stat(p, &st) == 0 && st.st_ino == ino) kill(pid, SIGKILL);
        }
    }
    close(dfd);
}

static void tn_ns_remove_raw(tn_ns_t *ns)
{
    if (!ns->created) return;
    if (ns->fd >= 0) close(ns->fd);
    ns->fd = -1;
    tn_kill_ns_procs(ns->ino);
    umount2(ns->path, MNT_DETACH);
    unlink(ns->path);
    ns->created = false;
}

static void tn_teardown_raw(tn_net_t *net)
{
    if (net == NULL || net->dead || net->creator != getpid()) return;
    net->dead = 1;
    for (sig_atomic_t i = 0; i < net->nchild; i++) {
        pid_t pid = net->child[i];
        if (pid <= 0) continue;
        int st;
        if (waitpid(pid, &st, WNOHANG) == 0) { /* still ours and alive: never signal a reaped (reusable) pid */
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
            }
        }
        net->child[i] = 0;
    }
    net->nchild = 0;
    for (uint32_t i = 0; i < net->nhosts; i++) tn_ns_remove_raw(&net->host[i]);
    tn_ns_remove_raw(&net->hub);
}

static void tn_teardown_all(void)
{
    for (int i = 0; i < TN_LIVE_MAX; i++)
        if (tn_live[i] != NULL) tn_teardown_raw(tn_live[i]);
}

static void tn_on_signal(int sig)
{
    int saved = errno;
    tn_teardown_all();
    for (size_t i = 0; i < sizeof(tn_signals) / sizeof(tn_signals[0]); i++)
        if (tn_signals[i] == sig) sigaction(sig, &tn_old_act[i], NULL);
    errno = saved;
    raise(sig);
}

static void tn_hooks_install(void)
{
    if (tn_hooks_installed) return;
    tn_hooks_installed = true;
    atexit(tn_teardown_all);
    for (size_t i = 0; i < sizeof(tn_signals) / sizeof(tn_signals[0]); i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = tn_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(tn_signals[i], &sa, &tn_old_act[i]);
    }
}

/* ---------- running commands ---------- */

static bool tn_in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    const char *dirs = path != NULL ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    while (*dirs) {
        size_t n = strcspn(dirs, ":");
        if (n > 0 && n + strlen(prog) + 2 < sizeof(buf)) {
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, dirs, prog);
            if (access(buf, X_OK) == 0) return true;
        }
        dirs += n;
        if (*dirs == ':') dirs++;
    }
    /* root's tools live in sbin, which a non-login PATH may lack */
    for (const char *const *d = (const char *const[]){"/usr/sbin", "/sbin", NULL}; *d; d++) {
        snprintf(buf, sizeof(buf), "%s/%s", *d, prog);
        if (access(buf, X_OK) == 0) return true;
    }
    return false;
}

static void tn_path_fixup(void)
{
    const char *p = getenv("PATH");
    if (p != NULL && strstr(p, "/sbin") != NULL) return;
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s%s/usr/sbin:/sbin", p ? p : "/usr/bin:/bin", p && *p ? ":" : "");
    setenv("PATH", buf, 1);
}

/* Run argv (PATH lookup) in the calling namespace; stdout+stderr captured into out. Exit code or -1. */
static int tn_cmd(char *const argv[], int timeout_ms, char *out, size_t cap)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, STDIN_FILENO);
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "exec %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0;
    int64_t end = tn_now_ms() + timeout_ms;
    bool timed_out = false;
    for (;;) {
        int64_t left = end - tn_now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        char tmp[1024];
        ssize_t k = read(pfd[0], tmp, sizeof(tmp));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        if (out != NULL && cap > 1) {
            size_t keep = (size_t)k < cap - 1 - len ? (size_t)k : cap - 1 - len;
            memcpy(out + len, tmp, keep);
            len += keep;
        }
    }
    if (out != NULL && cap > 0) out[len < cap ? len : cap - 1] = '\0';
    close(pfd[0]);
    int st = 0;
    if (timed_out) kill(p, SIGKILL);
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
    }
    if (timed_out || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

/* `ip` with the given words (NULL-terminated); on failure the command and its output go to err. */
static int tn_ip(char *err, size_t cap, ...)
{
    char *argv[24];
    int n = 0;
    argv[n++] = "ip";
    va_list ap;
    va_start(ap, cap);
    for (char *a; n < 23 && (a = va_arg(ap, char *)) != NULL;) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char out[512];
    int rc = tn_cmd(argv, TN_IP_TIMEOUT_MS, out, sizeof(out));
    if (rc == 0) return 0;
    char cmd[256];
    size_t k = 0;
    for (int i = 0; i < n && k < sizeof(cmd) - 1; i++)
        k += (size_t)snprintf(cmd + k, sizeof(cmd) - k, "%s%s", i ? " " : "", argv[i]);
    size_t ol = strlen(out);
    while (ol > 0 && (out[ol - 1] == '\n' || out[ol - 1] == ' ')) out[--ol] = '\0';
    tn_errf(err, cap, "`%s` failed (exit %d): %s", cmd, rc, out);
    return -1;
}

/* ---------- availability ---------- */

bool tn_available(char *why, size_t cap)
{
    if (geteuid() != 0) {
        tn_errf(why, cap, "running as uid %u, not root", (unsigned)geteuid());
        return false;
    }
    if (!tn_in_path("ip")) {
        tn_errf(why, cap, "iproute2's `ip` is not installed");
        return false;
    }
    /* root without CAP_SYS_ADMIN (an unprivileged container) cannot make namespaces */
    pid_t p = fork();
    if (p < 0) {
        tn_errf(why, cap, "fork: %s", strerror(errno));
        return false;
    }
    if (p == 0) _exit(unshare(CLONE_NEWNET) == 0 ? 0 : (errno & 0x7f));
    int st = 0;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        tn_errf(why, cap, "unshare(CLONE_NEWNET): %s", WIFEXITED(st) ? strerror(WEXITSTATUS(st)) : "crashed");
        return false;
    }
    return true;
}

bool tn_require(const char *test)
{
    char why[256];
    if (tn_available(why, sizeof(why))) return true;
    printf("SKIP: %s: needs root for network namespaces (%s)\n", test, why);
    printf("0 passed, 0 failed (skipped)\n");
    fflush(stdout);
    return false;
}

/* ---------- stale cleanup ---------- */

void tn_cleanup_stale(void)
{
    DIR *d = opendir(TN_RUN_DIR);
    if (d == NULL) return;
    struct dirent *e;
    size_t plen = strlen(TN_PREFIX);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, TN_PREFIX, plen) != 0) continue;
        char *end = NULL;
        long pid = strtol(e->d_name + plen, &end, 10);
        if (end == e->d_name + plen || *end != '-' || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its creator still runs */
        tn_ns_t ns = {.fd = -1, .created = true};
        snprintf(ns.name, sizeof(ns.name), "%s", e->d_name);
        snprintf(ns.path, sizeof(ns.path), TN_RUN_DIR "/%s", e->d_name);
        struct stat st;
        if (stat(ns.path, &st) == 0) ns.ino = st.st_ino;
        fprintf(stderr, "netns: removing stale namespace %s (creator pid %ld is gone)\n", ns.name, pid);
        tn_ns_remove_raw(&ns);
    }
    closedir(d);
}

/* ---------- create / destroy ---------- */

static int tn_ns_add(tn_ns_t *ns, char *err, size_t cap)
{
    if (tn_ip(err, cap, "netns", "add", ns->name, (char *)NULL) != 0) return -1;
    ns->created = true;
    ns->fd = open(ns->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (ns->fd < 0 || fstat(ns->fd, &st) != 0) {
        tn_errf(err, cap, "open %s: %s", ns->path, strerror(errno));
        return -1;
    }
    ns->ino = st.st_ino;
    return tn_ip(err, cap, "-n", ns->name, "link", "set", "lo", "up", (char *)NULL);
}

static int tn_link_cfg(tn_net_t *net, tn_ns_t *ns, const char *ifname, bool with_addr, char *err, size_t cap)
{
    char cidr[24], mtu[16];
    snprintf(cidr, sizeof(cidr), "%s/24", ns->addr);
    snprintf(mtu, sizeof(mtu), "%u", net->mtu);
    if (net->mtu != 0 && tn_ip(err, cap, "-n", ns->name, "link", "set", ifname, "mtu", mtu, (char *)NULL) != 0)
        return -1;
    if (with_addr && tn_ip(err, cap, "-n", ns->name, "addr", "add", cidr, "dev", ifname, (char *)NULL) != 0) return -1;
    return tn_ip(err, cap, "-n", ns->name, "link", "set", ifname, "up", (char *)NULL);
}

static int tn_build(tn_net_t *net, char *err, size_t cap)
{
    if (net->direct) {
        for (uint32_t i = 0; i < 2; i++)
            if (tn_ns_add(&net->host[i], err, cap) != 0) return -1;
        if (tn_ip(err, cap, "-n", net->host[0].name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
                  "netns", net->host[1].name, (char *)NULL) != 0)
            return -1;
        for (uint32_t i = 0; i < 2; i++)
            if (tn_link_cfg(net, &net->host[i], "eth0", true, err, cap) != 0) return -1;
        return 0;
    }
    tn_ns_t *hub = &net->hub;
    if (tn_ns_add(hub, err, cap) != 0) return -1;
    if (tn_ip(err, cap, "-n", hub->name, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0",
              (char *)NULL) != 0)
        return -1;
    for (uint32_t i = 0; i < net->nhosts; i++) {
        tn_ns_t *h = &net->host[i];
        char port[16];
        snprintf(port, sizeof(port), "p%u", i);
        if (tn_ns_add(h, err, cap) != 0) return -1;
        if (tn_ip(err, cap, "-n", hub->name, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
                  h->name, (char *)NULL) != 0)
            return -1;
        if (tn_ip(err, cap, "-n", hub->name, "link", "set", port, "master", "br0", (char *)NULL) != 0) return -1;
        if (tn_link_cfg(net, hub, port, false, err, cap) != 0) return -1;
        if (tn_link_cfg(net, h, "eth0", true, err, cap) != 0) return -1;
    }
    return tn_link_cfg(net, hub, "br0", true, err, cap);
}

static void tn_ns_init(tn_ns_t *ns, const char *name, uint8_t subnet, unsigned last_octet)
{
    snprintf(ns->name, sizeof(ns->name), "%s", name);
    snprintf(ns->path, sizeof(ns->path), TN_RUN_DIR "/%s", name);
    snprintf(ns->addr, sizeof(ns->addr), "10.201.%u.%u", subnet, last_octet);
    ns->fd = -1;
}

int tn_net_create(const tn_opts_t *opts, tn_net_t **out, char *err, size_t cap)
{
    if (opts == NULL || out == NULL || opts->hosts == 0 || opts->hosts > TN_HOSTS_MAX ||
        (opts->direct && opts->hosts != 2)) {
        tn_errf(err, cap, "tn_net_create: need 1..%u hosts (direct: exactly 2)", TN_HOSTS_MAX);
        return -1;
    }
    tn_path_fixup();
    tn_hooks_install();
    tn_cleanup_stale();
    int slot = -1;
    for (int i = 0; i < TN_LIVE_MAX && slot < 0; i++)
        if (tn_live[i] == NULL) slot = i;
    if (slot < 0) {
        tn_errf(err, cap, "tn_net_create: more than %d nets at once", TN_LIVE_MAX);
        return -1;
    }
    tn_net_t *net = calloc(1, sizeof(*net));
    if (net == NULL) {
        tn_errf(err, cap, "tn_net_create: out of memory");
        return -1;
    }
    net->seq = tn_seq++;
    net->creator = getpid();
    net->nhosts = opts->hosts;
    net->direct = opts->direct;
    net->subnet = opts->subnet ? opts->subnet : 201;
    net->mtu = opts->mtu;
    snprintf(net->subnet_str, sizeof(net->subnet_str), "10.201.%u.0/24", net->subnet);
    char name[TN_NAME_MAX];
    for (uint32_t i = 0; i < net->nhosts; i++) {
        snprintf(name, sizeof(name), TN_PREFIX "%d-%u-h%u", (int)getpid(), net->seq, i);
        tn_ns_init(&net->host[i], name, net->subnet, i + 1);
    }
    snprintf(name, sizeof(name), TN_PREFIX "%d-%u-hub", (int)getpid(), net->seq);
    tn_ns_init(&net->hub, name, net->subnet, 254);
    tn_live[slot] = net; /* registered before the first namespace exists: a signal now cleans up */
    if (tn_build(net, err, cap) != 0) {
        tn_net_destroy(net);
        return -1;
    }
    *out = net;
    return 0;
}

void tn_net_destroy(tn_net_t *net)
{
    if (net == NULL) return;
    tn_teardown_raw(net); /* a no-op in a forked child: the namespaces are its creator's */
    for (int i = 0; i < TN_LIVE_MAX; i++)
        if (tn_live[i] == net) tn_live[i] = NULL;
    free(net);
}

/* ---------- queries ---------- */

static const tn_ns_t *tn_ns_get(const tn_net_t *net, uint32_t host)
{
    if (net == NULL) return NULL;
    if (host == TN_HUB) return net->direct ? NULL : &net->hub;
    return host < net->nhosts ? &net->host[host] : NULL;
}

uint32_t tn_hosts(const tn_net_t *net) { return net ? net->nhosts : 0; }

const char *tn_ns_name(const tn_net_t *net, uint32_t host)
{
    const tn_ns_t *ns = tn_ns_get(net, host);
    return ns ? ns->name : NULL;
}

const char *tn_addr(const tn_net_t *net, uint32_t host)
{
    const tn_ns_t *ns = tn_ns_get(net, host);
    return ns ? ns->addr : NULL;
}

const char *tn_ifname(const tn_net_t *net, uint32_t host)
{
    if (host == TN_HUB) return net && !net->direct ? "br0" : NULL;
    return tn_ns_get(net, host) ? "eth0" : NULL;
}

const char *tn_subnet(const tn_net_t *net) { return net ? net->subnet_str : NULL; }

/* ---------- entering ---------- */

int tn_enter(const tn_net_t *net, uint32_t host)
{
    const tn_ns_t *ns = tn_ns_get(net, host);
    if (ns == NULL || ns->fd < 0) {
        errno = EINVAL;
        return -1;
    }
    return setns(ns->fd, CLONE_NEWNET);
}

int tn_socket(const tn_net_t *net, uint32_t host, int domain, int type, int protocol)
{
    const tn_ns_t *ns = tn_ns_get(net, host);
    if (ns == NULL || ns->fd < 0) {
        errno = EINVAL;
        return -1;
    }
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return -1;
    int s = -1, saved = 0;
    if (setns(ns->fd, CLONE_NEWNET) == 0) {
        s = socket(domain, type, protocol);
        saved = errno;
        if (setns(self, CLONE_NEWNET) != 0) {
            /* A thread left in the wrong namespace would silently test the wrong thing. */
            fprintf(stderr, "netns: cannot return to the original namespace: %s\n", strerror(errno));
            abort();
        }
    } else {
        saved = errno;
    }
    close(self);
    errno = saved;
    return s;
}

/* ---------- processes ---------- */

static void tn_track(tn_net_t *net, pid_t pid)
{
    for (sig_atomic_t i = 0; i < net->nchild; i++)
        if (net->child[i] == 0) {
            net->child[i] = pid;
            return;
        }
    if (net->nchild < TN_CHILDREN_MAX) {
        net->child[net->nchild] = pid;
        net->nchild = net->nchild + 1;
    } else {
        fprintf(stderr, "netns: more than %d children; pid %d is not tracked (killed only by PDEATHSIG)\n",
                TN_CHILDREN_MAX, (int)pid);
    }
}

static void tn_untrack(tn_net_t *net, pid_t pid)
{
    for (sig_atomic_t i = 0; i < net->nchild; i++)
        if (net->child[i] == pid) net->child[i] = 0;
}

pid_t tn_fork(tn_net_t *net, uint32_t host)
{
    const tn_ns_t *ns = tn_ns_get(net, host);
    if (ns == NULL || ns->fd < 0 || net->dead) {
        errno = EINVAL;
        return -1;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0) return -1;
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        setpgid(0, 0);
        if (setns(ns->fd, CLONE_NEWNET) != 0) {
            fprintf(stderr, "netns: setns into %s: %s\n", ns->name, strerror(errno));
            _exit(126);
        }
        return 0;
    }
    setpgid(p, p); /* also here, so a kill(-p) right away cannot miss */
    tn_track(net, p);
    return p;
}

pid_t tn_run(tn_net_t *net, uint32_t host, int (*fn)(void *arg), void *arg)
{
    pid_t p = tn_fork(net, host);
    if (p != 0) return p;
    int rc = fn(arg);
    fflush(NULL);
    _exit(rc & 0xff);
}

static pid_t tn_spawn_io(tn_net_t *net, uint32_t host, char *const argv[], int *stdout_fd, bool with_stderr)
{
    int pfd[2] = {-1, -1};
    if (stdout_fd != NULL && pipe2(pfd, O_CLOEXEC) != 0) return -1;
    pid_t p = tn_fork(net, host);
    if (p == 0) {
        if (stdout_fd != NULL) dup2(pfd[1], STDOUT_FILENO);
        if (stdout_fd != NULL && with_stderr) dup2(pfd[1], STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, STDIN_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "netns: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (stdout_fd != NULL) {
        close(pfd[1]);
        if (p > 0) *stdout_fd = pfd[0];
        else close(pfd[0]);
    }
    return p;
}

pid_t tn_spawn(tn_net_t *net, uint32_t host, char *const argv[], int *stdout_fd)
{
    return tn_spawn_io(net, host, argv, stdout_fd, false);
}

int tn_wait(tn_net_t *net, pid_t pid, int timeout_ms, int *status)
{
    int64_t end = timeout_ms < 0 ? INT64_MAX : tn_now_ms() + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return -1;
        if (tn_now_ms() >= end) return -1;
        usleep(2000);
    }
    if (net != NULL) tn_untrack(net, pid);
    if (status != NULL) *status = st;
    return 0;
}

int tn_kill(tn_net_t *net, pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
    if (net != NULL) tn_untrack(net, pid);
    return st;
}

int tn_exec(tn_net_t *net, uint32_t host, char *const argv[], int timeout_ms, char *out, size_t cap)
{
    int fd = -1;
    pid_t p = tn_spawn_io(net, host, argv, &fd, true);
    if (p < 0) return -1;
    size_t len = 0;
    int64_t end = tn_now_ms() + timeout_ms;
    bool timed_out = false;
    for (;;) {
        int64_t left = end - tn_now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        char tmp[4096];
        ssize_t k = read(fd, tmp, sizeof(tmp));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        if (out != NULL && cap > 1 && len < cap - 1) {
            size_t keep = (size_t)k < cap - 1 - len ? (size_t)k : cap - 1 - len;
            memcpy(out + len, tmp, keep);
            len += keep;
        }
    }
    if (out != NULL && cap > 0) out[len] = '\0';
    close(fd);
    if (timed_out) {
        tn_kill(net, p);
        return -1;
    }
    int st = 0;
    if (tn_wait(net, p, timeout_ms, &st) != 0) {
        tn_kill(net, p);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---------- faults ---------- */

int tn_link_set(tn_net_t *net, uint32_t host, bool up)
{
    if (net == NULL || host >= net->nhosts) return -1;
    char port[16];
    const char *ns;
    if (net->direct) {
        ns = net->host[1 - host].name;
        snprintf(port, sizeof(port), "eth0");
    } else {
        ns = net->hub.name;
        snprintf(port, sizeof(port), "p%u", host);
    }
    char err[512];
    if (tn_ip(err, sizeof(err), "-n", (char *)ns, "link", "set", port, up ? "up" : "down", (char *)NULL) != 0) {
        fprintf(stderr, "netns: %s\n", err);
        return -1;
    }
    return 0;
}

int tn_netem_set(tn_net_t *net, uint32_t host, uint32_t delay_us, double loss_pct, char *err, size_t cap)
{
    const tn_ns_t *ns = tn_ns_get(net, host);
    if (ns == NULL || host == TN_HUB) {
        tn_errf(err, cap, "tn_netem_set: no host %u", host);
        return -1;
    }
    if (!tn_in_path("tc")) {
        tn_errf(err, cap, "tc (iproute2) is not installed");
        return -1;
    }
    char out[512];
    int rc;
    if (delay_us == 0 && loss_pct <= 0) {
        char *argv[] = {"tc", "qdisc", "del", "dev", "eth0", "root", NULL};
        rc = tn_exec(net, host, argv, TN_IP_TIMEOUT_MS, out, sizeof(out));
    } else {
        char d[32], l[32];
        snprintf(d, sizeof(d), "%uus", delay_us);
        snprintf(l, sizeof(l), "%.3f%%", loss_pct);
        char *argv[] = {"tc", "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", d, "loss", l, NULL};
        rc = tn_exec(net, host, argv, TN_IP_TIMEOUT_MS, out, sizeof(out));
    }
    if (rc != 0) {
        size_t ol = strlen(out);
        while (ol > 0 && (out[ol - 1] == '\n' || out[ol - 1] == ' ')) out[--ol] = '\0';
        tn_errf(err, cap, "tc netem on %s: exit %d: %s (is the sch_netem module available?)", ns->name, rc, out);
        return -1;
    }
    return 0;
}

int tn_tcp_connect(const tn_net_t *net, uint32_t host, const char *addr, uint16_t port, int timeout_ms)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) return -EINVAL;
    int s = tn_socket(net, host, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    int rc = 0;
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
        } else {
            struct pollfd pf = {.fd = s, .events = POLLOUT};
            int r;
            int64_t end = tn_now_ms() + timeout_ms;
            do {
                int64_t left = end - tn_now_ms();
                r = left > 0 ? poll(&pf, 1, (int)left) : 0;
            } while (r < 0 && errno == EINTR);
            if (r == 0) {
                rc = -ETIMEDOUT;
            } else {
                int e = 0;
                socklen_t l = sizeof(e);
                getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
                rc = -e;
            }
        }
    }
    close(s);
    return rc;
}
