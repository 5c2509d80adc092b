/*
 * MetaService metadata at scale: batched two-phase puts (keys/s), the
 * daemon's memory per key, LIST and HTTP /keys page times, a full paged
 * listing, and how long small RPCs (EXIST of one key) wait while another
 * client pages through every key.
 *
 *   bench_meta [--smoke] [--keys N] [--batch B] [--page P] [--puts-only] [--bin-dir DIR]
 *
 * It starts <bin-dir>/mmc-meta (default: the build directory this binary
 * lives under) as a child process and talks to it over the RPC only: one
 * client mounts a fake 256 GiB DRAM segment (metadata only, no memory
 * behind it) and puts N keys of 4 KiB in PUT_START/PUT_END batches of B
 * keys (keys/s, and the daemon's CPU time per key, steadier on a shared
 * machine). Keys are "bench/" + 16 hex digits of a mixed counter (22 bytes, in
 * random order). Memory per key = the daemon's VmRSS after the puts minus
 * before, over N. Then it times LIST pages of P keys at the start, from the
 * middle (a cursor) and under a prefix holding ~1/256 of the keys, the same
 * through HTTP /keys, one full listing, and, during a second full listing
 * by one client, EXIST of one key in a loop on another (max and p99 wait).
 * The physical reference in the same run: EXIST round trips on the idle
 * daemon. Output: markdown tables. --smoke: 20,000 keys (ctest); --puts-only:
 * the first table only.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/common/mmc_meta_client.h"
#include "memcache/mmc_def.h"
#include "util/util_time.h"

#define KEY_LEN 22

typedef struct opts {
    bool smoke, puts_only;
    uint32_t keys, batch, page;
    char bin_dir[PATH_MAX];
} opts_t;

static char g_rpc[128], g_http[128];
static int g_http_port;

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void key_of(uint64_t i, char *out) { snprintf(out, KEY_LEN + 1, "bench/%016" PRIx64, mix(i)); }

static pid_t meta_start(const opts_t *o)
{
    char bin[PATH_MAX + 16];
    snprintf(bin, sizeof(bin), "%s/mmc-meta", o->bin_dir);
    int pfd[2];
    if (pipe(pfd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        char *argv[] = {bin, "--meta-url", "tcp://127.0.0.1:0", "--store-url", "", "--metrics-url",
                        "http://127.0.0.1:0", "--log-level", "error", NULL};
        execv(bin, argv);
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[512], store[128];
    if (pid < 0 || f == NULL || fgets(line, sizeof(line), f) == NULL ||
        sscanf(line, "mmc-meta ready: rpc %127s store %127s metrics %127s", g_rpc, store, g_http) != 3) {
        fprintf(stderr, "bench_meta: %s did not start\n", bin);
        if (pid > 0) kill(pid, SIGKILL);
        return -1;
    }
    fclose(f);
    const char *c = strrchr(g_http, ':');
    g_http_port = c ? atoi(c + 1) : 0;
    return pid;
}

static uint64_t rss_bytes(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    uint64_t kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1) break;
    if (f) fclose(f);
    return kb * 1024;
}

/* CPU seconds (user + system) the process has used. */
static double cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static mmc_meta_client_t *client(void)
{
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", g_rpc);
    o.timeout_ms = 120000; /* the old LIST took seconds per page at 1 M keys */
    mmc_meta_client_t *c = NULL;
    if (mmc_meta_client_connect(&o, &c) != MMC_OK) {
        fprintf(stderr, "bench_meta: connect %s: %s\n", g_rpc, mmc_get_last_err_msg());
        return NULL;
    }
    return c;
}

static int put_all(mmc_meta_client_t *c, const opts_t *o)
{
    char(*names)[KEY_LEN + 1] = calloc(o->batch, sizeof(*names));
    const char **keys = calloc(o->batch, sizeof(*keys));
    uint64_t *sizes = calloc(o->batch, sizeof(*sizes));
    mmc_loc_t *locs = calloc(o->batch, sizeof(*locs));
    int32_t *res = calloc(o->batch, sizeof(*res)), *st = calloc(o->batch, sizeof(*st));
    mmc_put_options opt = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 1,
                           .preferredLocalServiceIDs = {-1, -1, -1, -1, -1, -1, -1, -1}};
    int rc = names && keys && sizes && locs && res && st ? 0 : -1;
    for (uint32_t i = 0; i < o->batch && rc == 0; i++) {
        keys[i] = names[i];
        sizes[i] = 4096;
    }
    for (uint32_t done = 0; done < o->keys && rc == 0;) {
        uint32_t n = o->keys - done < o->batch ? o->keys - done : o->batch;
        for (uint32_t i = 0; i < n; i++) key_of(done + i, names[i]);
        if (mmc_meta_put_start(c, 0, &opt, keys, sizes, n, locs, NULL) != MMC_OK ||
            mmc_meta_put_end(c, keys, res, n, st) != MMC_OK) {
            fprintf(stderr, "bench_meta: put at key %u: %s\n", done, mmc_get_last_err_msg());
            rc = -1;
        }
        for (uint32_t i = 0; i < n && rc == 0; i++)
            if (locs[i].status != MMC_OK || st[i] != MMC_OK) {
                fprintf(stderr, "bench_meta: key %u: status %d / %d\n", done + i, locs[i].status, st[i]);
                rc = -1;
            }
        done += n;
    }
    free(names);
    free(keys);
    free(sizes);
    free(locs);
    free(res);
    free(st);
    return rc;
}

/* Mean ms of LIST(prefix, after, limit) over at least 3 calls or 2 s; *n_out the page's keys. */
static double list_ms(mmc_meta_client_t *c, const char *prefix, const char *after, uint32_t limit, uint32_t *n_out)
{
    uint64_t t0 = util_now_ns(), calls = 0;
    do {
        mmc_meta_list_t *l = NULL;
        if (mmc_meta_list(c, prefix, after, limit, &l) != MMC_OK) {
            fprintf(stderr, "bench_meta: LIST: %s\n", mmc_get_last_err_msg());
            return -1;
        }
        *n_out = l->n;
        mmc_meta_list_free(l);
        calls++;
    } while (calls < 3 || util_now_ns() - t0 < 2000000000ull);
    return (double)(util_now_ns() - t0) / 1e6 / (double)calls;
}

#define LIST_ALL_MAX_S 60 /* a full listing stops here (the old LIST needed ~26 min for 1 M keys in pages of 1000) */

/* Pages through every key, for at most LIST_ALL_MAX_S; returns keys seen (-1 on error), *pages and *ms. */
static int64_t list_all(mmc_meta_client_t *c, uint32_t limit, uint32_t *pages, double *ms)
{
    char after[MMC_KEY_MAX + 1] = "";
    int64_t total = 0;
    uint64_t t0 = util_now_ns();
    *pages = 0;
    for (;;) {
        mmc_meta_list_t *l = NULL;
        if (mmc_meta_list(c, NULL, after, limit, &l) != MMC_OK) {
            fprintf(stderr, "bench_meta: LIST: %s\n", mmc_get_last_err_msg());
            return -1;
        }
        (*pages)++;
        total += l->n;
        bool more = l->more && l->n > 0;
        if (more) snprintf(after, sizeof(after), "%.*s", (int)l->items[l->n - 1].key.len, l->items[l->n - 1].key.p);
        mmc_meta_list_free(l);
        if (!more || util_now_ns() - t0 > LIST_ALL_MAX_S * 1000000000ull) break;
    }
    *ms = (double)(util_now_ns() - t0) / 1e6;
    return total;
}

/* One HTTP GET; returns ms to the whole answer, -1 on error; *bytes its size. */
static double http_ms(const char *path, size_t *bytes)
{
    uint64_t t0 = util_now_ns();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_http_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[512], buf[1 << 16];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || write(fd, req, (size_t)n) != n) {
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t total = 0;
    bool ok = false;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 120000) <= 0) break;
        ssize_t k = read(fd, buf, sizeof(buf));
        if (k <= 0) {
            ok = k == 0;
            break;
        }
        if (total == 0 && strncmp(buf, "HTTP/1.1 200", 12) != 0) break;
        total += (size_t)k;
    }
    close(fd);
    *bytes = total;
    return ok && total > 0 ? (double)(util_now_ns() - t0) / 1e6 : -1;
}

typedef struct prober {
    mmc_meta_client_t *c;
    volatile bool stop;
    uint64_t *lat_ns;
    uint32_t n, cap;
    int rc;
} prober_t;

static void *probe_main(void *arg)
{
    prober_t *p = arg;
    char key[KEY_LEN + 1];
    key_of(7, key);
    const char *k = key;
    while (!p->stop && p->n < p->cap) {
        int32_t st;
        uint64_t t0 = util_now_ns();
        if (mmc_meta_exist(p->c, &k, 1, &st) != MMC_OK || st != MMC_OK) {
            p->rc = -1;
            break;
        }
        p->lat_ns[p->n++] = util_now_ns() - t0;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* EXIST round trips on c for ms milliseconds (or during a full listing on lister when lister != NULL). */
static int probe(mmc_meta_client_t *c, mmc_meta_client_t *lister, uint32_t page, uint32_t ms, double *p50,
                 double *p99, double *max, uint32_t *calls, double *list_ms_out)
{
    prober_t p = {.c = c, .cap = 1u << 22};
    p.lat_ns = malloc(p.cap * sizeof(*p.lat_ns));
    if (p.lat_ns == NULL) return -1;
    pthread_t t;
    pthread_create(&t, NULL, probe_main, &p);
    if (lister != NULL) {
        uint32_t pages;
        if (list_all(lister, page, &pages, list_ms_out) < 0) p.rc = -1;
    } else {
        usleep(ms * 1000);
    }
    p.stop = true;
    pthread_join(t, NULL);
    qsort(p.lat_ns, p.n, sizeof(*p.lat_ns), cmp_u64);
    *calls = p.n;
    *p50 = p.n ? (double)p.lat_ns[p.n / 2] / 1e6 : 0;
    *p99 = p.n ? (double)p.lat_ns[p.n * 99 / 100] / 1e6 : 0;
    *max = p.n ? (double)p.lat_ns[p.n - 1] / 1e6 : 0;
    free(p.lat_ns);
    return p.rc;
}

static int parse(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->keys = 1000000;
    o->batch = 1024;
    o->page = 1000;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(o->bin_dir, sizeof(o->bin_dir), "%s/..", self); /* <build>/bench/bench_meta */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--smoke") == 0) {
            o->smoke = true;
            o->keys = 20000;
        } else if (strcmp(a, "--puts-only") == 0) {
            o->puts_only = true;
        } else if (strcmp(a, "--keys") == 0 && v) {
            o->keys = (uint32_t)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--batch") == 0 && v) {
            o->batch = (uint32_t)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--page") == 0 && v) {
            o->page = (uint32_t)strtoul(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--bin-dir") == 0 && v && strlen(v) < sizeof(o->bin_dir)) {
            snprintf(o->bin_dir, sizeof(o->bin_dir), "%s", v);
            i++;
        } else {
            fprintf(stderr, "usage: bench_meta [--smoke] [--keys N] [--batch 1..16384] [--page 1..16384] "
                            "[--puts-only] [--bin-dir DIR]\n");
            return -1;
        }
    }
    if (o->keys < 1000 || o->batch < 1 || o->batch > MMC_BATCH_MAX || o->page < 1 || o->page > MMC_BATCH_MAX) {
        fprintf(stderr, "bench_meta: --keys >= 1000, --batch and --page 1..%u\n", MMC_BATCH_MAX);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    if (parse(argc, argv, &o) != 0) return 2;
    signal(SIGPIPE, SIG_IGN);
    pid_t pid = meta_start(&o);
    if (pid < 0) return 1;
    int failures = 0;
    mmc_meta_client_t *c = client(), *lister = client(), *prober = client();
    if (c == NULL || lister == NULL || prober == NULL) {
        failures++;
        goto out;
    }
    if (mmc_meta_mount(c, 0, MMC_MEDIA_DRAM, 1ull << 44, 256ull << 30, NULL, NULL) != MMC_OK) {
        fprintf(stderr, "bench_meta: mount: %s\n", mmc_get_last_err_msg());
        failures++;
        goto out;
    }
    uint64_t rss0 = rss_bytes(pid), t0 = util_now_ns();
    double cpu0 = cpu_s(pid);
    if (put_all(c, &o) != 0) {
        failures++;
        goto out;
    }
    double put_s = (double)(util_now_ns() - t0) / 1e9, put_cpu = cpu_s(pid) - cpu0;
    uint64_t rss1 = rss_bytes(pid);
    printf("| keys | batch | puts keys/s | MetaService CPU per key | MetaService RSS growth | bytes per key |\n"
           "|---|---|---|---|---|---|\n");
    printf("| %u | %u | %.0f | %.2f us | %.1f MiB | %.1f |\n\n", o.keys, o.batch, o.keys / put_s, put_cpu * 1e6 / o.keys,
           (double)(rss1 - rss0) / 1048576.0, (double)(rss1 - rss0) / o.keys);
    if (o.puts_only) goto out;

    uint32_t n = 0;
    char mid[KEY_LEN + 1] = "bench/8";
    printf("| page of %u keys | ms per page | keys in it |\n|---|---|---|\n", o.page);
    double ms = list_ms(lister, NULL, NULL, o.page, &n);
    printf("| LIST, first page | %.3f | %u |\n", ms, n);
    failures += ms < 0 || n != o.page;
    ms = list_ms(lister, NULL, mid, o.page, &n);
    printf("| LIST, from the middle (cursor) | %.3f | %u |\n", ms, n);
    failures += ms < 0 || n != o.page;
    ms = list_ms(lister, "bench/ab", NULL, o.page, &n);
    printf("| LIST, prefix of ~1/256 of the keys | %.3f | %u |\n", ms, n);
    failures += ms < 0 || n == 0;
    ms = list_ms(lister, NULL, NULL, MMC_BATCH_MAX, &n);
    printf("| LIST, first page of %u (the largest) | %.3f | %u |\n", MMC_BATCH_MAX, ms, n);
    failures += ms < 0;
    char path[256];
    size_t bytes = 0;
    snprintf(path, sizeof(path), "/keys?limit=%u", o.page);
    ms = http_ms(path, &bytes);
    printf("| HTTP /keys?limit=%u | %.3f | %zu bytes |\n", o.page, ms, bytes);
    failures += ms < 0;
    snprintf(path, sizeof(path), "/keys?prefix=bench%%2Fab&limit=%u", o.page);
    ms = http_ms(path, &bytes);
    printf("| HTTP /keys?prefix=bench/ab&limit=%u | %.3f | %zu bytes |\n\n", o.page, ms, bytes);
    failures += ms < 0;

    uint32_t pages = 0;
    double all_ms = 0;
    int64_t total = list_all(lister, o.page, &pages, &all_ms);
    printf("| full listing | pages | keys | seconds (all keys: projected when stopped at %d s) |\n|---|---|---|---|\n",
           LIST_ALL_MAX_S);
    for (uint32_t lim = o.page;; lim = MMC_BATCH_MAX) {
        total = list_all(lister, lim, &pages, &all_ms);
        printf("| pages of %u | %u | %" PRId64 " | %.2f |\n", lim, pages, total,
               total > 0 ? all_ms / 1e3 * (double)o.keys / (double)total : 0.0);
        failures += total <= 0 || (total != (int64_t)o.keys && all_ms < LIST_ALL_MAX_S * 1e3);
        if (lim == MMC_BATCH_MAX) break;
    }
    printf("\n");

    double p50, p99, max, lms = 0;
    uint32_t calls;
    printf("| EXIST of one key | calls | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n");
    if (probe(prober, NULL, 0, 1000, &p50, &p99, &max, &calls, NULL) != 0) failures++;
    printf("| idle daemon, 1 s | %u | %.3f | %.3f | %.3f |\n", calls, p50, p99, max);
    if (probe(prober, lister, o.page, 0, &p50, &p99, &max, &calls, &lms) != 0) failures++;
    printf("| while another client lists all keys in pages of %u (%.2f s) | %u | %.3f | %.3f | %.3f |\n", o.page,
           lms / 1e3, calls, p50, p99, max);
    if (probe(prober, lister, MMC_BATCH_MAX, 0, &p50, &p99, &max, &calls, &lms) != 0) failures++;
    printf("| while another client lists all keys in pages of %u (%.2f s) | %u | %.3f | %.3f | %.3f |\n",
           MMC_BATCH_MAX, lms / 1e3, calls, p50, p99, max);
out:
    mmc_meta_client_close(prober);
    mmc_meta_client_close(lister);
    mmc_meta_client_close(c);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (failures) fprintf(stderr, "bench_meta: %d failures\n", failures);
    return failures ? 1 : 0;
}
