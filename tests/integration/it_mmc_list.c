/*
 * Listing at scale (issue 16, item 7) against the real mmc-meta: with
 * 402,000 keys, one client pages through all of them over the LIST RPC
 * (largest pages) while another puts new keys and removes some, and a third
 * asks EXIST of one key in a loop: no EXIST may wait 50 ms or more (the old
 * MetaService copied and sorted every key for each page under its lock:
 * 0.1-0.2 s per page here, 0.3-0.7 s at 1 M keys). The listing is in byte order,
 * holds every key present for its whole duration exactly once, and keys put
 * or removed meanwhile at most once. Prefix paging over the RPC (from the
 * start and from a cursor), HTTP /keys with its cursor (all pages, the old
 * request without a cursor, bad cursors refused), the same EXIST bound
 * while HTTP pages are served, and `mmcctl keys PREFIX`.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/common/mmc_meta_client.h"
#include "testutil.h"
#include "tu_data.h"
#include "tu_mmc.h"
#include "util/util_time.h"
#include "util/util_tsan.h"

#define NA 300000u /* "it/a/..." stay */
#define NB 100000u /* "it/b/..." stay */
#define ND 2000u   /* "it/d/..." removed during the listing */
#define NC 20000u  /* "it/c/..." put during the listing */
#define KEYLEN 21  /* "it/x/" + 16 hex digits */
#define WAIT_MAX_MS 50.0
/* Under a sanitizer every access is instrumented (ASan 2-3x, TSan 5-15x slower, and CI runs two tests at
 * once on 2 cores): the waits are printed there, not held to the bound. */
#if defined(__SANITIZE_ADDRESS__)
#define IT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IT_SANITIZED 1
#endif
#endif
#if defined(UTIL_TSAN) || defined(IT_SANITIZED)
#define WAIT_BOUND_HOLDS(ms) ((void)(ms), true)
#else
#define WAIT_BOUND_HOLDS(ms) ((ms) < WAIT_MAX_MS)
#endif

static char rpc_url[128], http_url[128];
static int http_port;

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void key_of(char set, uint64_t i, char *out)
{
    snprintf(out, KEYLEN + 1, "it/%c/%016" PRIx64, set, mix(i * 8 + (uint64_t)(set - 'a')));
}

/* mmc-meta on ephemeral ports, its ready line parsed for the RPC and HTTP URLs. */
static int meta_start(pid_t *pid)
{
    static const char *const args[] = {"--meta-url",    "tcp://127.0.0.1:0", "--store-url", "",   "--metrics-url",
                                       "http://127.0.0.1:0", "--log-level", "error", NULL};
    tu_mmc_meta_t m = {.args = args};
    if (tu_mmc_meta_run(&m, pid) != 0) return -1;
    snprintf(rpc_url, sizeof(rpc_url), "%s", m.rpc);
    snprintf(http_url, sizeof(http_url), "%s", m.metrics);
    http_port = tu_url_port(http_url);
    return 0;
}

static mmc_meta_client_t *client(void)
{
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    snprintf(o.url, sizeof(o.url), "%s", rpc_url);
    o.timeout_ms = 20000;
    mmc_meta_client_t *c = NULL;
    int32_t rc = mmc_meta_client_connect(&o, &c);
    TU_CHECK(rc == 0, "connect to %s: %d %s", rpc_url, rc, mmc_get_last_err_msg());
    return c;
}

static const mmc_put_options opt1 = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 1,
                                     .preferredLocalServiceIDs = {-1, -1, -1, -1, -1, -1, -1, -1}};

/* Puts keys [from, to) of set in batches of batch; 0 or -1. */
static int put_set(mmc_meta_client_t *c, char set, uint32_t from, uint32_t to, uint32_t batch)
{
    char(*names)[KEYLEN + 1] = calloc(batch, sizeof(*names));
    const char **keys = calloc(batch, sizeof(*keys));
    uint64_t *sizes = calloc(batch, sizeof(*sizes));
    mmc_loc_t *locs = calloc(batch, sizeof(*locs));
    int32_t *res = calloc(batch, sizeof(*res)), *st = calloc(batch, sizeof(*st));
    int rc = names && keys && sizes && locs && res && st ? 0 : -1;
    for (uint32_t done = from; done < to && rc == 0;) {
        uint32_t n = to - done < batch ? to - done : batch;
        for (uint32_t i = 0; i < n; i++) {
            key_of(set, done + i, names[i]);
            keys[i] = names[i];
            sizes[i] = 4096;
        }
        if (mmc_meta_put_start(c, 0, &opt1, keys, sizes, n, locs, NULL) != 0 ||
            mmc_meta_put_end(c, keys, res, n, st) != 0)
            rc = -1;
        for (uint32_t i = 0; i < n && rc == 0; i++)
            if (locs[i].status != 0 || st[i] != 0) rc = -1;
        done += n;
    }
    TU_CHECK(rc == 0, "put %c [%u, %u): %s", set, from, to, mmc_get_last_err_msg());
    free(names);
    free(keys);
    free(sizes);
    free(locs);
    free(res);
    free(st);
    return rc;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted keys of set (count n): pointers into *blk (free both). */
static char **sorted_set(char set, uint32_t n, char **blk)
{
    char **v = malloc(n * sizeof(*v));
    *blk = malloc((size_t)n * (KEYLEN + 1));
    for (uint32_t i = 0; i < n; i++) {
        v[i] = *blk + (size_t)i * (KEYLEN + 1);
        key_of(set, i, v[i]);
    }
    qsort(v, n, sizeof(*v), str_cmp);
    return v;
}

/* ---------- the EXIST prober ---------- */

typedef struct prober {
    mmc_meta_client_t *c;
    atomic_int stop;
    uint64_t calls, errors;
    uint64_t max_ns;
} prober_t;

static void *probe_main(void *arg)
{
    prober_t *p = arg;
    char key[KEYLEN + 1];
    key_of('a', 7, key);
    const char *k = key;
    while (!atomic_load(&p->stop)) {
        int32_t st = -1;
        uint64_t t0 = util_now_ns();
        if (mmc_meta_exist(p->c, &k, 1, &st) != 0 || st != 0) p->errors++;
        uint64_t d = util_now_ns() - t0;
        if (d > p->max_ns) p->max_ns = d;
        p->calls++;
    }
    return NULL;
}

/* ---------- the mutator: puts set c and removes set d while the listing runs ---------- */

typedef struct mutator {
    mmc_meta_client_t *c;
    int rc;
} mutator_t;

static void *mutate_main(void *arg)
{
    mutator_t *m = arg;
    char name[KEYLEN + 1];
    const char *k = name;
    for (uint32_t i = 0; i < NC / 250 && m->rc == 0; i++) {
        m->rc = put_set(m->c, 'c', i * 250, (i + 1) * 250, 250);
        for (uint32_t j = i * ND / (NC / 250); j < (i + 1) * ND / (NC / 250); j++) {
            int32_t st;
            key_of('d', j, name);
            if (mmc_meta_remove(m->c, &k, 1, &st) != 0 || st != 0) m->rc = -1;
        }
    }
    return NULL;
}

/* ---------- RPC listing ---------- */

/* Pages through keys with prefix (after `from`), checking byte order; calls see(key) per key. */
typedef struct seen {
    char **a, **b; /* sorted sets a and b */
    uint32_t ia, ib; /* next expected index */
    uint32_t c, d, other;
    int bad;
} seen_t;

static void see(seen_t *s, const char *k, uint32_t len)
{
    char key[MMC_KEY_MAX + 1];
    snprintf(key, sizeof(key), "%.*s", (int)len, k);
    if (strncmp(key, "it/a/", 5) == 0) {
        if (s->ia < NA && strcmp(key, s->a[s->ia]) == 0) s->ia++;
        else if (s->bad++ < 3) fprintf(stderr, "unexpected a key %s (expected %s)\n", key, s->ia < NA ? s->a[s->ia] : "-");
    } else if (strncmp(key, "it/b/", 5) == 0) {
        if (s->ib < NB && strcmp(key, s->b[s->ib]) == 0) s->ib++;
        else if (s->bad++ < 3) fprintf(stderr, "unexpected b key %s (expected %s)\n", key, s->ib < NB ? s->b[s->ib] : "-");
    } else if (strncmp(key, "it/c/", 5) == 0) {
        s->c++;
    } else if (strncmp(key, "it/d/", 5) == 0) {
        s->d++;
    } else {
        s->other++;
    }
}

static int list_rpc(mmc_meta_client_t *c, const char *prefix, const char *from, uint32_t limit, seen_t *s,
                    uint32_t *pages)
{
    char after[MMC_KEY_MAX + 1], last[MMC_KEY_MAX + 1] = "";
    snprintf(after, sizeof(after), "%s", from ? from : "");
    *pages = 0;
    for (;;) {
        mmc_meta_list_t *l = NULL;
        int32_t rc = mmc_meta_list(c, prefix, after, limit, &l);
        if (rc != 0) {
            TU_CHECK(0, "LIST page %u: %d %s", *pages, rc, mmc_get_last_err_msg());
            return -1;
        }
        (*pages)++;
        for (uint32_t i = 0; i < l->n; i++) {
            char key[MMC_KEY_MAX + 1];
            snprintf(key, sizeof(key), "%.*s", (int)l->items[i].key.len, l->items[i].key.p);
            if (strcmp(key, last) <= 0 && s->bad++ < 3) fprintf(stderr, "out of order: %s after %s\n", key, last);
            if (prefix && strncmp(key, prefix, strlen(prefix)) != 0 && s->bad++ < 3)
                fprintf(stderr, "%s lacks the prefix %s\n", key, prefix);
            memcpy(last, key, sizeof(last));
            see(s, l->items[i].key.p, l->items[i].key.len);
        }
        bool more = l->more && l->n > 0;
        TU_CHECK(l->n > 0 || !l->more, "an empty page says more");
        if (more) memcpy(after, last, sizeof(after));
        mmc_meta_list_free(l);
        if (!more) return 0;
    }
}

/* ---------- HTTP ---------- */

/* One GET on a fresh connection: status code, the body (NUL-terminated) in *body (malloc'd). */
static int http_get(const char *path, char **body)
{
    *body = NULL;
    int fd = tu_tcp_connect(http_port);
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (fd < 0 || write(fd, req, (size_t)n) != n) {
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0) break;
        ssize_t k = read(fd, buf + len, cap - 1 - len);
        if (k <= 0) break;
        len += (size_t)k;
    }
    close(fd);
    buf[len] = '\0';
    int code = -1;
    char *b = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.1 %d", &code) != 1 || b == NULL) {
        free(buf);
        return -1;
    }
    memmove(buf, b + 4, strlen(b + 4) + 1);
    *body = buf;
    return code;
}

/* Pages /keys?prefix=it%2Fb%2F through its cursor; every key seen goes to s. */
static void list_http(uint32_t limit, seen_t *s, uint32_t *pages)
{
    char cursor[2 * MMC_KEY_MAX + 1] = "";
    *pages = 0;
    for (;;) {
        char path[1024], *body;
        snprintf(path, sizeof(path), "/keys?prefix=it%%2Fb%%2F&limit=%u%s%s", limit, cursor[0] ? "&cursor=" : "", cursor);
        int code = http_get(path, &body);
        if (code != 200) {
            TU_CHECK(0, "GET %s: %d %.200s", path, code, body ? body : "");
            free(body);
            return;
        }
        (*pages)++;
        for (char *p = strstr(body, "{\"key\":\""); p != NULL; p = strstr(p, "{\"key\":\"")) {
            p += 8;
            char *q = strchr(p, '"');
            if (q == NULL) break;
            see(s, p, (uint32_t)(q - p));
            p = q;
        }
        char *m = strstr(body, "\"more\":true,\"cursor\":\"");
        bool last = strstr(body, "\"more\":false}") != NULL && strstr(body, "cursor") == NULL;
        TU_CHECK(m != NULL || last, "page %u ends with more/cursor or more:false: %.200s", *pages, body);
        if (m != NULL) snprintf(cursor, sizeof(cursor), "%.*s", (int)strcspn(m + 22, "\""), m + 22);
        free(body);
        if (m == NULL) return;
    }
}

static void test_http_cursor_errors(void)
{
    static const char *const bad[] = {"zz", "6", "00", "6100", "%36%31%3", NULL};
    for (int i = 0; bad[i]; i++) {
        char path[256], *body;
        snprintf(path, sizeof(path), "/keys?cursor=%s", bad[i]);
        int code = http_get(path, &body);
        TU_CHECK(code == 400 && body && strstr(body, "cursor"), "cursor '%s': %d %.200s", bad[i], code, body ? body : "");
        free(body);
    }
    /* 257 bytes is no key. */
    char path[1024], *body;
    int n = snprintf(path, sizeof(path), "/keys?cursor=");
    for (int i = 0; i < 257; i++) n += snprintf(path + n, sizeof(path) - (size_t)n, "61");
    TU_CHECK(http_get(path, &body) == 400, "a 257-byte cursor");
    free(body);
    /* The old request shape: the first page. */
    TU_CHECK(http_get("/keys?prefix=it%2Fb%2F&limit=3", &body) == 200 && strstr(body, "\"more\":true,\"cursor\":\"") &&
                 strstr(body, "{\"key\":\"it/b/"),
             "no cursor: the first page: %.200s", body ? body : "");
    free(body);
    /* An empty cursor is the first page too; one past every key gives an empty last page. */
    TU_CHECK(http_get("/keys?limit=1&cursor=", &body) == 200 && strstr(body, "\"more\":true"), "empty cursor");
    free(body);
    TU_CHECK(http_get("/keys?cursor=7a7a", &body) == 200 && strcmp(body, "{\"keys\":[],\"more\":false}\n") == 0,
             "cursor past the end: %.200s", body ? body : "");
    free(body);
}

int main(void)
{
    uint64_t t_start = util_now_ms();
    pid_t meta = -1;
    if (meta_start(&meta) != 0) {
        TU_CHECK(0, "mmc-meta start");
        return tu_summary();
    }
    mmc_meta_client_t *w = client(), *lister = client(), *pc = client(), *mc = client();
    if (w == NULL || lister == NULL || pc == NULL || mc == NULL) goto out;
    TU_CHECK(mmc_meta_mount(w, 0, MMC_MEDIA_DRAM, 1ull << 44, 64ull << 30, NULL, NULL) == 0, "mount: %s",
             mmc_get_last_err_msg());
    if (put_set(w, 'a', 0, NA, MMC_BATCH_MAX) || put_set(w, 'b', 0, NB, MMC_BATCH_MAX) ||
        put_set(w, 'd', 0, ND, MMC_BATCH_MAX))
        goto out;
    printf("put %u keys in %llu ms\n", NA + NB + ND, (unsigned long long)(util_now_ms() - t_start));

    char *blk_a, *blk_b;
    seen_t s = {.a = sorted_set('a', NA, &blk_a), .b = sorted_set('b', NB, &blk_b)};
    prober_t p = {.c = pc};
    mutator_t m = {.c = mc};
    pthread_t pt, mt;
    pthread_create(&pt, NULL, probe_main, &p);
    pthread_create(&mt, NULL, mutate_main, &m);
    uint64_t t0 = util_now_ms();
    uint32_t pages = 0;
    list_rpc(lister, NULL, NULL, MMC_PROTO_LIST_MAX, &s, &pages);
    uint64_t list_ms = util_now_ms() - t0;
    pthread_join(mt, NULL);
    atomic_store(&p.stop, 1);
    pthread_join(pt, NULL);
    printf("listed all keys in %u pages in %llu ms (a %u, b %u, c %u of %u put meanwhile, d %u of %u removed meanwhile"
           "); EXIST: %llu calls, max %.2f ms\n",
           pages, (unsigned long long)list_ms, s.ia, s.ib, s.c, NC, s.d, ND, (unsigned long long)p.calls,
           (double)p.max_ns / 1e6);
    TU_CHECK(m.rc == 0, "puts and removes during the listing");
    TU_CHECK(s.ia == NA && s.ib == NB && s.bad == 0 && s.other == 0, "every key present throughout, once, in order: "
             "a %u/%u b %u/%u, %d bad", s.ia, NA, s.ib, NB, s.bad);
    TU_CHECK(s.c <= NC && s.d <= ND, "keys put/removed meanwhile at most once: c %u d %u", s.c, s.d);
    TU_CHECK(p.errors == 0 && p.calls > 0, "EXIST answered during the listing (%llu errors)",
             (unsigned long long)p.errors);
    /* The bound is on a design property (a listing never holds the MetaService for long), measured in wall time;
     * on a loaded 2-core machine one descheduling can exceed it, so a miss is measured again (two more listings,
     * EXIST probed alongside): a listing that does block misses every time. */
    uint64_t best_ns = p.max_ns;
    for (int again = 0; again < 2 && !WAIT_BOUND_HOLDS((double)best_ns / 1e6); again++) {
        prober_t q = {.c = pc};
        seen_t scratch = {.a = s.a, .b = s.b};
        uint32_t qpages;
        pthread_create(&pt, NULL, probe_main, &q);
        list_rpc(lister, NULL, NULL, MMC_PROTO_LIST_MAX, &scratch, &qpages);
        atomic_store(&q.stop, 1);
        pthread_join(pt, NULL);
        printf("EXIST during listing %d more: %llu calls, max %.2f ms\n", again + 1, (unsigned long long)q.calls,
               (double)q.max_ns / 1e6);
        if (q.max_ns < best_ns) best_ns = q.max_ns;
    }
    TU_CHECK(WAIT_BOUND_HOLDS((double)best_ns / 1e6),
             "EXIST waited %.1f ms while another client listed, in each of 3 listings (bound %.0f ms)",
             (double)best_ns / 1e6, WAIT_MAX_MS);

    /* Prefix paging over the RPC: small pages, then from a cursor in the middle of the range. */
    seen_t sb = {.a = s.a, .b = s.b};
    list_rpc(lister, "it/b/", NULL, 1000, &sb, &pages);
    TU_CHECK(sb.ib == NB && sb.ia == 0 && sb.bad == 0 && pages == (NB + 999) / 1000,
             "prefix it/b/ in pages of 1000: %u keys, %u pages, %d bad", sb.ib, pages, sb.bad);
    seen_t sm = {.a = s.a, .b = s.b, .ib = NB / 2};
    list_rpc(lister, "it/b/", s.b[NB / 2 - 1], 777, &sm, &pages);
    TU_CHECK(sm.ib == NB && sm.bad == 0, "prefix it/b/ after a cursor: up to %u, %d bad", sm.ib, sm.bad);
    seen_t sx = {.a = s.a, .b = s.b};
    list_rpc(lister, "it/b/", "it/a/zzz", 5000, &sx, &pages); /* a cursor before the prefix: from its start */
    TU_CHECK(sx.ib == NB && sx.bad == 0, "cursor before the prefix: %u", sx.ib);

    /* HTTP: the prefix through the cursor, while EXIST keeps its bound. */
    {
        uint64_t http_best_ns = UINT64_MAX;
        /* once, then again while the bound is missed (as above) */
        for (int round = 0; round == 0 || (round < 3 && !WAIT_BOUND_HOLDS((double)http_best_ns / 1e6)); round++) {
            seen_t sh = {.a = s.a, .b = s.b};
            prober_t p2 = {.c = pc};
            pthread_create(&pt, NULL, probe_main, &p2);
            list_http(4000, &sh, &pages);
            atomic_store(&p2.stop, 1);
            pthread_join(pt, NULL);
            TU_CHECK(sh.ib == NB && sh.ia == 0 && sh.bad == 0 && pages == (NB + 3999) / 4000,
                     "/keys prefix it/b/ via cursor: %u keys in %u pages, %d bad", sh.ib, pages, sh.bad);
            if (p2.max_ns < http_best_ns) http_best_ns = p2.max_ns;
        }
        printf("EXIST during HTTP pages: max %.2f ms\n", (double)http_best_ns / 1e6);
        TU_CHECK(WAIT_BOUND_HOLDS((double)http_best_ns / 1e6), "EXIST waited %.1f ms during HTTP pages, in each of 3",
                 (double)http_best_ns / 1e6);
        test_http_cursor_errors();
    }

    /* mmcctl keys PREFIX: every key of the prefix, once, in order (stdout), and the count (stderr). */
    {
        char cmd[1024], out[256], want[64];
        snprintf(cmd, sizeof(cmd),
                 "%s/mmcctl --meta %s keys it/b/ 2>/dev/null | LC_ALL=C awk -F'\\t' "
                 "'$1 !~ /^it\\/b\\// || $1 <= prev {bad++} {prev = $1; n++} END {print n, bad + 0}'",
                 tu_build_dir(), rpc_url);
        FILE *f = popen(cmd, "r");
        size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
        out[n] = '\0';
        if (f) pclose(f);
        snprintf(want, sizeof(want), "%u 0\n", NB);
        TU_CHECK(strcmp(out, want) == 0, "mmcctl keys it/b/: %s (keys, out of order or repeated)", out);
        snprintf(cmd, sizeof(cmd), "%s/mmcctl --meta %s keys it/b/ 2>&1 >/dev/null", tu_build_dir(), rpc_url);
        f = popen(cmd, "r");
        n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
        out[n] = '\0';
        if (f) pclose(f);
        snprintf(want, sizeof(want), "%u keys\n", NB);
        TU_CHECK(strcmp(out, want) == 0, "mmcctl keys it/b/ counts: %s", out);
    }
    free(s.a);
    free(s.b);
    free(blk_a);
    free(blk_b);
out:
    mmc_meta_client_close(mc);
    mmc_meta_client_close(pc);
    mmc_meta_client_close(lister);
    mmc_meta_client_close(w);
    if (meta > 0) TU_CHECK(WEXITSTATUS(tu_stop_pid(meta, 5000)) == 0, "mmc-meta exits 0");
    printf("it.mmc_list: %llu ms\n", (unsigned long long)(util_now_ms() - t_start));
    return tu_summary();
}
