/*
 * Mooncake compatibility, core semantics, against the real mmc-meta over its
 * RPC (several clients, as LocalServices and readers are to it):
 *  - upsert: a reader's lease on the old value stays valid across the swap
 *    (its release answers MMC_OK: the bytes it read were the key's), new
 *    readers get the new space at once after PUT_END and the old one until
 *    then; concurrent upserts from 4 threads of 2 clients on one key never
 *    share space and the last PUT_END wins; the pool's used bytes return to
 *    exactly the live values once every lease ended;
 *  - EXIST with MMC_PF_LEASE: a plain REMOVE is refused with
 *    MMC_LEASE_NOT_EXPIRED until the lease ttl, a forced one goes at once;
 *    REMOVE_ALL without force keeps it;
 *  - hard and soft pins against a pool refilled many times over;
 *  - regex remove over 120,000 keys, page by page, while another client asks
 *    EXIST in a loop: the count is exact, non-matching keys stay, and no
 *    EXIST waits 50 ms or more (not held under sanitizers).
 * Content checks of reads racing upserts through the data path are in
 * python/tests/test_mc_ext.py (8 readers, 2 writers).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/common/mmc_meta_client.h"
#include "testutil.h"
#include "tu_mmc.h"
#include "util/util_time.h"
#include "util/util_tsan.h"

#define LEASE_TTL_MS 2000u
#define NRX 120000u
#define WAIT_MAX_MS 50.0
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

static char rpc_url[128], tmpdir[256], meta_conf[512];

/* mmc-meta on an ephemeral port with a short lease ttl (a config file: the ttl has no flag). */
static int meta_start(pid_t *pid)
{
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return -1;
    snprintf(meta_conf, sizeof(meta_conf), "%s/meta.conf", tmpdir);
    FILE *f = fopen(meta_conf, "w");
    if (f == NULL) return -1;
    fprintf(f, "ock.mmc.meta_service.config_store_url =\nock.mmc.meta_service.metrics_url =\n"
               "ock.mmc.log_level = error\nock.mmc.meta.lease_ttl_ms = %u\n", LEASE_TTL_MS);
    fclose(f);
    const char *const args[] = {"--config", meta_conf, "--meta-url", "tcp://127.0.0.1:0", NULL};
    tu_mmc_meta_t m = {.args = args};
    if (tu_mmc_meta_run(&m, pid) != 0) return -1;
    snprintf(rpc_url, sizeof(rpc_url), "%s", m.rpc);
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

/* One key put (flags, token 0: the client's); its status, *gva the space. */
static int32_t put1(mmc_meta_client_t *c, const char *key, uint64_t size, uint32_t flags, uint64_t token, uint64_t *gva)
{
    mmc_loc_t loc;
    int32_t st = 0, zero = 0;
    int32_t rc = mmc_meta_put_start_ex(c, 0, &opt1, flags, token, &key, &size, 1, &loc, NULL);
    if (rc != 0) return rc;
    if (loc.status != 0) return loc.status;
    if (gva) *gva = loc.rep[0].gva;
    rc = mmc_meta_put_end_ex(c, token, &key, &zero, 1, &st);
    return rc != 0 ? rc : st;
}

static int32_t get1(mmc_meta_client_t *c, const char *key, uint64_t *gva, uint64_t *lease)
{
    mmc_loc_t loc;
    uint64_t id = 0;
    int32_t rc = mmc_meta_get(c, UINT32_MAX, NULL, &key, 1, &loc, &id, NULL);
    if (rc != 0) return rc;
    if (gva) *gva = loc.rep[0].gva;
    if (lease) *lease = id;
    else if (id) {
        int32_t st;
        (void)mmc_meta_lease_release(c, &id, 1, &st);
    }
    return loc.status;
}

static int32_t status1(mmc_meta_client_t *c, int which, uint32_t flags, const char *key)
{
    int32_t st = 0, rc = which == 0 ? mmc_meta_exist_ex(c, flags, &key, 1, &st) : mmc_meta_remove_ex(c, flags, &key, 1, &st);
    return rc != 0 ? rc : st;
}

static uint64_t used_bytes(mmc_meta_client_t *c)
{
    mmc_stats_t st;
    mmc_seg_info_t *segs = NULL;
    uint32_t n = 0;
    if (mmc_meta_stats(c, &st, &segs, &n) != 0) return UINT64_MAX;
    free(segs);
    return st.media[MMC_MEDIA_DRAM].used;
}

/* ---------- upsert ---------- */

typedef struct upserter {
    mmc_meta_client_t *c;
    int id, rounds, errors;
    uint64_t last_gva, last_end_ms;
} upserter_t;

static void *upsert_main(void *arg)
{
    upserter_t *u = arg;
    for (int i = 0; i < u->rounds; i++) {
        uint64_t gva = 0, token = mmc_meta_token_new();
        int32_t rc = put1(u->c, "up/hot", 4096u * (1 + (uint64_t)(i + u->id) % 8), MMC_PF_UPSERT, token, &gva);
        if (rc != 0) {
            if (u->errors++ < 3) fprintf(stderr, "upserter %d: %d %s\n", u->id, rc, mmc_get_last_err_msg());
            continue;
        }
        u->last_gva = gva;
        u->last_end_ms = util_now_ms();
    }
    return NULL;
}

static void test_upsert(mmc_meta_client_t *a, mmc_meta_client_t *b)
{
    uint64_t g1 = 0, g2 = 0, seen = 0, lease = 0;
    uint64_t base = used_bytes(a);
    TU_CHECK(put1(a, "up/k", 65536, MMC_PF_UPSERT, mmc_meta_token_new(), &g1) == 0, "upsert of an absent key puts it");
    TU_CHECK(get1(b, "up/k", &seen, &lease) == 0 && seen == g1 && lease != 0, "reader leases the first value");
    /* The second value's space is written while readers still get the first. */
    const char *k = "up/k";
    uint64_t sz = 32768, tok = mmc_meta_token_new();
    mmc_loc_t loc;
    TU_CHECK(mmc_meta_put_start_ex(a, 0, &opt1, MMC_PF_UPSERT, tok, &k, &sz, 1, &loc, NULL) == 0 && loc.status == 0,
             "upsert PUT_START");
    g2 = loc.rep[0].gva;
    TU_CHECK(g2 != g1, "the new value gets its own space");
    TU_CHECK(get1(b, "up/k", &seen, NULL) == 0 && seen == g1, "before PUT_END a get still sees the old value");
    int32_t zero = 0, st = -1;
    TU_CHECK(mmc_meta_put_end_ex(a, tok, &k, &zero, 1, &st) == 0 && st == 0, "upsert PUT_END: %d", st);
    TU_CHECK(get1(b, "up/k", &seen, NULL) == 0 && seen == g2, "after PUT_END a get sees the new value");
    int32_t rst = -1;
    TU_CHECK(mmc_meta_lease_release(b, &lease, 1, &rst) == 0 && rst == 0,
             "the old value's reader is confirmed (its bytes were the key's): %d", rst);

    /* Concurrent upserts: 2 clients × 2 threads. */
    upserter_t u[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        u[i] = (upserter_t){.c = i % 2 ? b : a, .id = i, .rounds = 200};
        pthread_create(&t[i], NULL, upsert_main, &u[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    int errors = 0, last = 0;
    for (int i = 0; i < 4; i++) {
        errors += u[i].errors;
        if (u[i].last_end_ms > u[last].last_end_ms) last = i;
    }
    TU_CHECK(errors == 0, "800 concurrent upserts: %d failed", errors);
    /* The last to finish is the value (threads of one client share its link: their PUT_ENDs are ordered). */
    TU_CHECK(get1(a, "up/hot", &seen, NULL) == 0, "the hot key is readable");
    bool is_someones = false;
    for (int i = 0; i < 4; i++) is_someones |= seen == u[i].last_gva;
    TU_CHECK(is_someones, "the hot key's space is one upserter's last");
    (void)last;
    TU_CHECK(status1(a, 1, MMC_PF_FORCE, "up/hot") == 0 && status1(a, 1, MMC_PF_FORCE, "up/k") == 0, "removes");
    TU_CHECK(used_bytes(a) == base, "no space left behind by the upserts: %" PRIu64 " vs %" PRIu64, used_bytes(a),
             base);
}

/* ---------- leases from EXIST, force ---------- */

static void test_exist_lease(mmc_meta_client_t *a, mmc_meta_client_t *b)
{
    TU_CHECK(put1(a, "ls/k", 4096, 0, 0, NULL) == 0 && put1(a, "ls/other", 4096, 0, 0, NULL) == 0, "put");
    TU_CHECK(status1(b, 0, MMC_PF_LEASE, "ls/k") == 0, "exist with a lease");
    TU_CHECK(status1(a, 1, 0, "ls/k") == MMC_LEASE_NOT_EXPIRED, "a plain remove is refused while leased");
    uint64_t removed = 0, deferred = 0;
    TU_CHECK(mmc_meta_remove_all_ex(a, 0, &removed, &deferred) == 0 && removed == 1 && deferred == 1,
             "remove_all without force keeps the leased key: %" PRIu64 " %" PRIu64, removed, deferred);
    TU_CHECK(status1(a, 0, 0, "ls/k") == 0, "still there");
    usleep((LEASE_TTL_MS + 1200) * 1000u);
    TU_CHECK(status1(a, 1, 0, "ls/k") == 0, "after the ttl the plain remove works");
    TU_CHECK(put1(a, "ls/f", 4096, 0, 0, NULL) == 0 && status1(b, 0, MMC_PF_LEASE, "ls/f") == 0, "put, leased");
    TU_CHECK(status1(a, 1, MMC_PF_FORCE, "ls/f") == 0 && status1(a, 0, 0, "ls/f") == MMC_KEY_NOT_FOUND,
             "a forced remove goes at once");
}

/* ---------- pins ---------- */

static void test_pins(mmc_meta_client_t *a)
{
    TU_CHECK(put1(a, "pin/hard", 1 << 20, MMC_PF_HARD_PIN, 0, NULL) == 0, "hard pin");
    TU_CHECK(put1(a, "pin/soft", 1 << 20, MMC_PF_SOFT_PIN, 0, NULL) == 0, "soft pin");
    TU_CHECK(put1(a, "pin/plain", 1 << 20, 0, 0, NULL) == 0, "plain");
    int bad = 0;
    for (int i = 0; i < 200; i++) { /* 200 MiB through a 32 MiB segment */
        char key[32];
        snprintf(key, sizeof(key), "pin/churn/%d", i);
        if (put1(a, key, 1 << 20, 0, 0, NULL) != 0) bad++;
    }
    TU_CHECK(bad == 0, "churn puts: %d failed", bad);
    TU_CHECK(status1(a, 0, 0, "pin/plain") == MMC_KEY_NOT_FOUND, "the unpinned one was evicted");
    TU_CHECK(status1(a, 0, 0, "pin/hard") == 0 && status1(a, 0, 0, "pin/soft") == 0, "pinned ones stay");
}

/* ---------- regex remove ---------- */

typedef struct prober {
    mmc_meta_client_t *c;
    atomic_int stop;
    uint64_t calls, errors, max_ns;
} prober_t;

static void *probe_main(void *arg)
{
    prober_t *p = arg;
    const char *k = "rx/probe";
    while (!atomic_load(&p->stop)) {
        int32_t st;
        uint64_t t0 = util_now_ns();
        if (mmc_meta_exist(p->c, &k, 1, &st) != 0 || st != 0) p->errors++;
        uint64_t d = util_now_ns() - t0;
        if (d > p->max_ns) p->max_ns = d;
        p->calls++;
    }
    return NULL;
}

static void test_regex(mmc_meta_client_t *a, mmc_meta_client_t *pc)
{
    enum { BATCH = 8192 };
    char(*names)[32] = calloc(BATCH, sizeof(*names));
    const char **keys = calloc(BATCH, sizeof(*keys));
    uint64_t *sizes = calloc(BATCH, sizeof(*sizes));
    mmc_loc_t *locs = calloc(BATCH, sizeof(*locs));
    int32_t *res = calloc(BATCH, sizeof(*res)), *st = calloc(BATCH, sizeof(*st));
    int bad = names && keys && sizes && locs && res && st ? 0 : 1;
    uint32_t match = 0;
    for (uint32_t done = 0; done < NRX && !bad; done += BATCH) {
        uint32_t n = NRX - done < BATCH ? NRX - done : BATCH;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t x = done + i;
            /* every third key matches ^rx/del/[0-9]+$; the others differ in one place each */
            if (x % 3 == 0) snprintf(names[i], sizeof(names[i]), "rx/del/%u", x), match++;
            else if (x % 3 == 1) snprintf(names[i], sizeof(names[i]), "rx/del/%ux", x);
            else snprintf(names[i], sizeof(names[i]), "rx/keep/%u", x);
            keys[i] = names[i];
            sizes[i] = 64;
        }
        if (mmc_meta_put_start(a, 0, &opt1, keys, sizes, n, locs, NULL) != 0 || mmc_meta_put_end(a, keys, res, n, st) != 0)
            bad = 1;
    }
    TU_CHECK(!bad, "put %u keys", NRX);
    TU_CHECK(put1(a, "rx/probe", 64, 0, 0, NULL) == 0, "probe key");
    prober_t p = {.c = pc};
    pthread_t pt;
    pthread_create(&pt, NULL, probe_main, &p);
    char cursor[MMC_KEY_MAX + 1] = "";
    bool more = true;
    uint64_t total = 0, pages = 0, t0 = util_now_ms();
    while (more && !bad) {
        uint64_t rm = 0, df = 0;
        if (mmc_meta_remove_regex(a, 0, "^rx/del/[0-9]+$", cursor, 4096, &rm, &df, &more) != 0) bad = 1;
        total += rm;
        pages++;
    }
    uint64_t ms = util_now_ms() - t0;
    atomic_store(&p.stop, 1);
    pthread_join(pt, NULL);
    printf("regex remove: %" PRIu64 " of %u keys in %" PRIu64 " pages, %" PRIu64 " ms; EXIST meanwhile: %" PRIu64
           " calls, max %.2f ms\n", total, NRX, pages, ms, p.calls, (double)p.max_ns / 1e6);
    TU_CHECK(!bad && total == match, "regex removed %" PRIu64 ", expected %u", total, match);
    TU_CHECK(pages >= NRX / 4096, "paged: %" PRIu64 " pages", pages);
    TU_CHECK(p.errors == 0 && p.calls > 0, "EXIST answered during the regex remove");
    TU_CHECK(WAIT_BOUND_HOLDS((double)p.max_ns / 1e6), "EXIST waited %.1f ms during a regex remove",
             (double)p.max_ns / 1e6);
    TU_CHECK(status1(a, 0, 0, "rx/del/3") == MMC_KEY_NOT_FOUND && status1(a, 0, 0, "rx/del/4x") == 0 &&
                 status1(a, 0, 0, "rx/keep/5") == 0,
             "only matching keys went");
    uint64_t rm = 0, df = 0;
    char c2[MMC_KEY_MAX + 1] = "";
    TU_CHECK(mmc_meta_remove_regex(a, 0, "([", c2, 16, &rm, &df, &more) == MMC_INVALID_PARAM,
             "a pattern that does not compile is refused");
    free(names);
    free(keys);
    free(sizes);
    free(locs);
    free(res);
    free(st);
}

int main(void)
{
    pid_t meta = -1;
    if (meta_start(&meta) != 0) {
        TU_CHECK(0, "mmc-meta start");
        return tu_summary();
    }
    mmc_meta_client_t *a = client(), *b = client(), *pc = client();
    if (a == NULL || b == NULL || pc == NULL) goto out;
    TU_CHECK(mmc_meta_mount(a, 0, MMC_MEDIA_DRAM, 1ull << 44, 32ull << 20, NULL, NULL) == 0, "mount: %s",
             mmc_get_last_err_msg());
    test_upsert(a, b);
    test_exist_lease(a, b);
    test_pins(a);
    TU_CHECK(mmc_meta_unmount(a, 0, MMC_MEDIA_DRAM, NULL, NULL) == 0, "unmount");
    TU_CHECK(mmc_meta_mount(a, 0, MMC_MEDIA_DRAM, 1ull << 44, 8ull << 30, NULL, NULL) == 0, "mount a large one");
    test_regex(a, pc);
out:
    if (a) mmc_meta_client_close(a);
    if (b) mmc_meta_client_close(b);
    if (pc) mmc_meta_client_close(pc);
    tu_stop_pid(meta, 5000);
    return tu_summary();
}
