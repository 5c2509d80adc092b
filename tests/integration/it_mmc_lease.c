/*
 * A get never returns another key's bytes as valid (issue 16, item 1), with
 * real processes: smem-store, mmc-meta (short timeouts: heartbeat 1.5 s,
 * lease ttl 3 s), one mmc-local contributing a small pool, a churner that
 * keeps refilling the pool with other keys of the same size (so any space
 * that stops being protected is reused within ~100 ms), and readers (this
 * binary with --role reader) whose gets stall between the GET answer and
 * the copy (the client's test hook MMC_TEST_GET_STALL_MS; the lease id goes
 * to the file MMC_TEST_GET_LEASE_FILE names). Each reader round puts its own
 * key, gets it and sorts the outcome: ok (the key's bytes), failed cleanly
 * (an error status), wrong (status 0 with other bytes: the bug).
 *  (a) the driver, another client, releases the stalled reader's lease with
 *      its real id while the pool churns;
 *  (c) the reader is stopped (SIGSTOP) past the heartbeat timeout but inside
 *      the lease ttl, so the MetaService drops its link;
 *  (b) mmc-meta is killed and restarted during the stall; the LocalService
 *      mounts again with an empty heap and the churn reuses offset 0 onwards.
 * Every scenario must end with zero wrong; (a) and (c) must also keep some
 * leases (ok > 0), so a test that only ever fails cannot pass. Alongside,
 * the GVA-level leases (mmcc_batch_add_lease / remove_lease) must answer
 * MMC_LEASE_LOST for a lease past its ttl.
 * (a), (c) and (b) are scenarios (`it_mmc_lease --list`), each runnable alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/common/mmc_meta_client.h"
#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "testutil.h"
#include "tu_data.h"
#include "tu_mmc.h"
#include "tu_scen.h"
#include "util/util_time.h"

#define POOL "16MB"
#define STRIDE "32MB"
#define WORLD "32"
#define VLEN (256u << 10) /* 64 values fill the pool */
#define HB_TIMEOUT_MS 1500u
#define LEASE_TTL_MS 3000u
#define STOP_MS 2200u /* (c): past the heartbeat timeout, inside the lease ttl and the store keepalive (4 s) */

#define NA 5 /* readers × rounds per scenario */
#define RA 10
#define NC 10
#define RC 5
#define RB 6

static char tmpdir[256], cfg_path[512], meta_conf[512];
static char rpc_url[128], store_url[128];

/* ---------- values ---------- */

static mmc_buffer hbuf(void *p, uint64_t len) { return (mmc_buffer){.addr = (uint64_t)(uintptr_t)p, .type = 1, .len = len}; }

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---------- roles ---------- */

/* Puts keys of VLEN bytes, one every ~1 ms, until the stop file appears. Errors (MetaService down) are expected. */
static void role_churn(const char *stop)
{
    uint8_t *p = malloc(VLEN);
    uint64_t n = 0, failed = 0;
    while (!file_exists(stop)) {
        char key[64];
        snprintf(key, sizeof(key), "churn/%d/%" PRIu64, (int)getpid(), n++);
        tu_fill(p, tu_key_tag(key), 0, VLEN);
        mmc_buffer b = hbuf(p, VLEN);
        if (mmcc_put_opt(key, &b, NULL, 0) != 0) {
            failed++;
            usleep(5000);
        }
        usleep(1000);
    }
    fprintf(stderr, "churn: %" PRIu64 " puts, %" PRIu64 " failed\n", n, failed);
    free(p);
}

/* Rounds of put-own-key then stalled get; counts go to the file res. */
static void role_reader(const char *tag, int rounds, const char *res)
{
    const char *lease_file = getenv("MMC_TEST_GET_LEASE_FILE");
    uint8_t *in = malloc(VLEN), *out = malloc(VLEN);
    int ok = 0, failed = 0, wrong = 0, lost = 0, shown = 0;
    for (int r = 0; r < rounds; r++) {
        char key[64];
        snprintf(key, sizeof(key), "reader/%s/%d", tag, r);
        tu_fill(in, tu_key_tag(key), 0, VLEN);
        mmc_buffer b = hbuf(in, VLEN), o = hbuf(out, VLEN);
        int32_t rc = -1;
        for (uint64_t end = util_now_ms() + 15000; util_now_ms() < end;) { /* (b): the MetaService may be restarting */
            rc = mmcc_put_opt(key, &b, NULL, 0);
            if (rc == 0) break;
            usleep(50000);
        }
        TU_CHECK(rc == 0, "reader %s: put %s: %d %s", tag, key, rc, mmc_get_last_err_msg());
        memset(out, 0, VLEN);
        rc = mmcc_get(key, &o, 0);
        if (rc != 0) {
            failed++;
            lost += rc == MMC_LEASE_LOST;
            if (shown++ < 2) fprintf(stderr, "reader %s round %d: failed cleanly: %d %s\n", tag, r, rc, mmc_get_last_err_msg());
        } else if (tu_check(out, tu_key_tag(key), 0, VLEN, key)) {
            ok++;
        } else {
            wrong++;
            fprintf(stderr, "reader %s round %d: WRONG BYTES for %s with status 0\n", tag, r, key);
        }
        /* The driver removes the lease file when it is done with this round. */
        for (uint64_t end = util_now_ms() + 20000; lease_file && file_exists(lease_file) && util_now_ms() < end;)
            usleep(2000);
    }
    FILE *f = fopen(res, "w");
    if (f != NULL) {
        fprintf(f, "%d %d %d %d\n", ok, failed, wrong, lost);
        fclose(f);
    }
    free(in);
    free(out);
}

/* The GVA-level leases report a lost lease too: by the clock, and when the release is not confirmed. */
static void role_gva(void)
{
    const char *k[2] = {"gva/0", "gva/1"};
    uint8_t *p = malloc(VLEN);
    int32_t res[2];
    uint32_t granted = 0;
    for (int i = 0; i < 2; i++) {
        tu_fill(p, tu_key_tag(k[i]), 0, VLEN);
        mmc_buffer b = hbuf(p, VLEN);
        TU_CHECK(mmcc_put_opt(k[i], &b, NULL, 0) == 0, "gva: put %s", k[i]);
    }
    TU_CHECK(mmcc_batch_add_lease(k, 2, 60000, res, &granted) == 0 && res[0] == 0 && res[1] == 0 &&
                 granted == LEASE_TTL_MS, "gva: add_lease %d %d granted %u", res[0], res[1], granted);
    TU_CHECK(mmcc_batch_remove_lease(k, 2, res) == 0 && res[0] == 0 && res[1] == 0, "gva: remove_lease inside the ttl: %d %d",
             res[0], res[1]);
    /* One key removed in time (its lease still covers the other), the other after the ttl. */
    TU_CHECK(mmcc_batch_add_lease(k, 2, 60000, res, &granted) == 0 && res[0] == 0 && res[1] == 0, "gva: add_lease again");
    TU_CHECK(mmcc_batch_remove_lease(k, 1, res) == 0 && res[0] == 0, "gva: first key in time: %d", res[0]);
    usleep((LEASE_TTL_MS + 200) * 1000u);
    TU_CHECK(mmcc_batch_remove_lease(k + 1, 1, res) == 0 && res[0] == MMC_LEASE_LOST &&
                 strstr(mmc_get_last_err_msg(), "gva/1") != NULL,
             "gva: past the ttl: %d %s", res[0], mmc_get_last_err_msg());
    free(p);
}

static int role_main(const char *role, const char *a1, const char *a2, const char *a3)
{
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    int32_t rc = mmc_init(&ic);
    TU_CHECK(rc == 0, "mmc_init: %d %s", rc, mmc_get_last_err_msg());
    if (rc != 0) return tu_summary();
    /* Start together: a BM join waits for every member, so none may be stopped (c) while another joins. */
    const char *ready = getenv("IT_LEASE_READY"), *go = getenv("IT_LEASE_GO");
    if (ready != NULL) {
        FILE *f = fopen(ready, "w");
        if (f != NULL) fclose(f);
    }
    for (uint64_t end = util_now_ms() + 60000; go != NULL && !file_exists(go) && util_now_ms() < end;) usleep(5000);
    if (strcmp(role, "churn") == 0) role_churn(a1);
    else if (strcmp(role, "reader") == 0) role_reader(a1, atoi(a2), a3);
    else if (strcmp(role, "gva") == 0) role_gva();
    else TU_CHECK(0, "unknown role %s", role);
    mmc_uninit();
    return tu_summary();
}

/* ---------- processes ---------- */

/* Starts mmc-meta; url NULL: any port (rpc_url gets it), else that URL (a restart). */
static int meta_start(const char *url, pid_t *pid)
{
    const char *args[] = {"--config", meta_conf, "--meta-url", url ? url : "tcp://127.0.0.1:0", NULL};
    return tu_mmc_meta_start(args, pid, rpc_url, sizeof(rpc_url), NULL, 0);
}

static int local_start(pid_t *pid)
{
    return tu_mmc_local_start(rpc_url, store_url, POOL, STRIDE, WORLD, pid) < 0 ? -1 : 0;
}

/* This binary --role ROLE a1 a2 a3, with the test hook set when stall_ms > 0. After mmc_init the role
 * creates the file ready (if not NULL) and waits for the file go (if not NULL). */
static pid_t role_spawn(const char *role, const char *a1, const char *a2, const char *a3, uint32_t stall_ms,
                        const char *lease_file, const char *ready, const char *go)
{
    char ms[16];
    snprintf(ms, sizeof(ms), "%u", stall_ms);
    if (stall_ms > 0) {
        setenv("MMC_TEST_GET_STALL_MS", ms, 1);
        setenv("MMC_TEST_GET_LEASE_FILE", lease_file, 1);
    }
    if (ready != NULL) setenv("IT_LEASE_READY", ready, 1);
    if (go != NULL) setenv("IT_LEASE_GO", go, 1);
    const char *args[] = {role, a1, a2, a3, NULL};
    pid_t pid = tu_role_spawn(args);
    unsetenv("MMC_TEST_GET_STALL_MS");
    unsetenv("MMC_TEST_GET_LEASE_FILE");
    unsetenv("IT_LEASE_READY");
    unsetenv("IT_LEASE_GO");
    return pid;
}

/* Waits until every file of ready[0..n) exists (or its process ended); then creates go. */
static void start_together(char (*ready)[600], const pid_t *pids, int n, const char *go)
{
    for (uint64_t end = util_now_ms() + 30000; util_now_ms() < end; usleep(5000)) {
        int waiting = 0;
        for (int i = 0; i < n; i++) waiting += pids[i] > 0 && !file_exists(ready[i]) && kill(pids[i], 0) == 0;
        if (waiting == 0) break;
    }
    if (go != NULL) {
        FILE *f = fopen(go, "w");
        if (f != NULL) fclose(f);
    }
}

static bool pid_done(pid_t pid, bool *ok)
{
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r != pid) return false;
    *ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    return true;
}

static uint64_t read_lease(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long id = 0;
    if (f == NULL) return 0;
    if (fscanf(f, "%llu", &id) != 1) id = 0;
    fclose(f);
    return id;
}

typedef struct counts {
    int ok, failed, wrong, lost;
} counts_t;

static void counts_add(counts_t *c, const char *res)
{
    FILE *f = fopen(res, "r");
    counts_t x = {0};
    TU_CHECK(f != NULL && fscanf(f, "%d %d %d %d", &x.ok, &x.failed, &x.wrong, &x.lost) == 4, "results in %s", res);
    if (f != NULL) fclose(f);
    c->ok += x.ok;
    c->failed += x.failed;
    c->wrong += x.wrong;
    c->lost += x.lost;
}

/* ---------- scenarios ---------- */

typedef enum { SC_ATTACK, SC_PAUSE, SC_RESTART } scenario_t;

typedef struct reader {
    pid_t pid;
    bool done;
    char lease[600], res[600];
    uint64_t stopped_at;
} reader_t;

static counts_t run_scenario(scenario_t sc, int nreaders, int rounds, uint32_t stall_ms, pid_t *meta, int *handled,
                             int *refused)
{
    const char *name = sc == SC_ATTACK ? "a" : sc == SC_PAUSE ? "c" : "b";
    reader_t rd[NC];
    counts_t c = {0};
    mmc_meta_client_t *attacker = NULL;
    if (sc == SC_ATTACK) {
        mmc_meta_client_opts_t o;
        mmc_meta_client_opts_init(&o);
        snprintf(o.url, sizeof(o.url), "%s", rpc_url);
        o.timeout_ms = 5000;
        TU_CHECK(mmc_meta_client_connect(&o, &attacker) == MMC_OK, "attacker client: %s", mmc_get_last_err_msg());
    }
    char nr[16], go[600], ready[NC][600];
    pid_t pids[NC];
    snprintf(nr, sizeof(nr), "%d", rounds);
    snprintf(go, sizeof(go), "%s/go.%s", tmpdir, name);
    for (int i = 0; i < nreaders; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "%s%d", name, i);
        snprintf(rd[i].lease, sizeof(rd[i].lease), "%s/lease.%s", tmpdir, tag);
        snprintf(rd[i].res, sizeof(rd[i].res), "%s/res.%s", tmpdir, tag);
        snprintf(ready[i], sizeof(ready[i]), "%s/ready.%s", tmpdir, tag);
        rd[i].pid = pids[i] = role_spawn("reader", tag, nr, rd[i].res, stall_ms, rd[i].lease, ready[i], go);
        rd[i].done = rd[i].pid <= 0;
        rd[i].stopped_at = 0;
        TU_CHECK(rd[i].pid > 0, "spawn reader %s", tag);
    }
    start_together(ready, pids, nreaders, go);
    uint64_t end = util_now_ms() + 100000;
    for (int left = nreaders; left > 0 && util_now_ms() < end;) {
        left = 0;
        for (int i = 0; i < nreaders; i++) {
            reader_t *r = &rd[i];
            if (r->done) continue;
            bool ok = false;
            if (pid_done(r->pid, &ok)) {
                r->done = true;
                TU_CHECK(ok, "reader %s%d exits 0", name, i);
                continue;
            }
            left++;
            if (r->stopped_at != 0) { /* (c): resume it once its link is surely dropped */
                if (util_now_ms() - r->stopped_at >= STOP_MS) {
                    kill(r->pid, SIGCONT);
                    r->stopped_at = 0;
                    unlink(r->lease);
                }
                continue;
            }
            if (!file_exists(r->lease)) continue;
            uint64_t id = read_lease(r->lease);
            (*handled)++;
            if (sc == SC_ATTACK) {
                int32_t st = 0;
                int32_t rc = mmc_meta_lease_release(attacker, &id, 1, &st);
                if (rc == MMC_OK && st != MMC_OK) (*refused)++;
                unlink(r->lease);
            } else if (sc == SC_PAUSE) {
                kill(r->pid, SIGSTOP);
                r->stopped_at = util_now_ms();
            } else {
                /* (b): the MetaService dies with the lease; a new one knows nothing of it. */
                kill(*meta, SIGKILL);
                int st;
                tu_wait_pid(*meta, 5000, &st);
                *meta = -1;
                char url[128];
                snprintf(url, sizeof(url), "%s", rpc_url);
                TU_CHECK(meta_start(url, meta) == 0, "mmc-meta restarted on %s", url);
                unlink(r->lease);
            }
        }
        usleep(2000);
    }
    for (int i = 0; i < nreaders; i++) {
        if (!rd[i].done) {
            TU_CHECK(tu_role_wait(rd[i].pid, 1000, "reader"), "reader %s%d finished", name, i);
            continue;
        }
        counts_add(&c, rd[i].res);
    }
    mmc_meta_client_close(attacker);
    return c;
}

static pid_t meta = -1;

static void scen_release(void)
{
    int handled = 0, refused = 0;
    counts_t a = run_scenario(SC_ATTACK, NA, RA, 500, &meta, &handled, &refused);
    printf("lease (a) foreign release, %d rounds: ok %d, failed cleanly %d, wrong %d; %d of %d releases refused\n",
           NA * RA, a.ok, a.failed, a.wrong, refused, handled);
    TU_CHECK(a.wrong == 0, "(a): %d gets returned another key's bytes", a.wrong);
    TU_CHECK(refused == handled && handled > 0, "(a): %d of %d foreign releases refused", refused, handled);
    TU_CHECK(a.ok > 0, "(a): some reads kept their lease (%d ok)", a.ok);
}

static void scen_pause(void)
{
    int handled = 0, refused = 0;
    char gva_ready[1][600];
    snprintf(gva_ready[0], sizeof(gva_ready[0]), "%s/ready.gva", tmpdir);
    pid_t gva = role_spawn("gva", "-", "-", "-", 0, NULL, gva_ready[0], NULL); /* alongside (c): it mostly sleeps */
    start_together(gva_ready, &gva, 1, NULL);
    counts_t c = run_scenario(SC_PAUSE, NC, RC, 300, &meta, &handled, &refused);
    TU_CHECK(gva > 0 && tu_role_wait(gva, 30000, "gva"), "GVA-level leases report a lost lease");
    printf("lease (c) reader paused %u ms (heartbeat timeout %u, lease ttl %u), %d rounds (%d paused): ok %d, failed "
           "cleanly %d, wrong %d\n",
           STOP_MS, HB_TIMEOUT_MS, LEASE_TTL_MS, NC * RC, handled, c.ok, c.failed, c.wrong);
    TU_CHECK(c.wrong == 0, "(c): %d gets returned another key's bytes", c.wrong);
    TU_CHECK(c.ok > 0, "(c): some reads kept their lease across the link drop (%d ok)", c.ok);
}

static void scen_restart(void)
{
    int handled = 0, refused = 0;
    counts_t b = run_scenario(SC_RESTART, 1, RB, 1800, &meta, &handled, &refused);
    printf("lease (b) mmc-meta restarted during the copy, %d rounds (%d restarts): ok %d, failed cleanly %d "
           "(%d lease lost), wrong %d\n",
           RB, handled, b.ok, b.failed, b.lost, b.wrong);
    TU_CHECK(b.wrong == 0, "(b): %d gets returned another key's bytes", b.wrong);
    TU_CHECK(handled >= RB / 2, "(b): %d restarts", handled);
}

static const tu_scen_t scenarios[] = {
    {.name = "release", .run = scen_release, .what = "(a) another client releases a stalled reader's lease"},
    {.name = "pause", .run = scen_pause, .what = "(c) a reader SIGSTOPped past the heartbeat timeout; GVA leases"},
    {.name = "restart", .run = scen_restart, .what = "(b) mmc-meta killed and restarted during the copy"},
};

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--role") == 0) return role_main(argv[2], argv[3], argv[4], argv[5]);
    int rc = tu_scen_args(argc, argv, scenarios, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    if (rc >= 0) return rc;
    signal(SIGPIPE, SIG_IGN);
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    uint64_t t_start = util_now_ms();
    pid_t store = -1, ls = -1, churn = -1;
    /* The config store runs on its own, so restarting mmc-meta leaves BM membership alone. */
    const char *store_args[] = {"--log-level", "3", NULL}; /* errors only */
    if (tu_store_start(store_args, &store, store_url, sizeof(store_url)) != 0) {
        TU_CHECK(0, "smem-store start");
        goto out;
    }
    snprintf(meta_conf, sizeof(meta_conf), "%s/meta.conf", tmpdir);
    FILE *f = fopen(meta_conf, "w");
    fprintf(f, "ock.mmc.meta_service.config_store_url =\nock.mmc.meta_service.metrics_url =\n"
               "ock.mmc.log_level = error\nock.mmc.meta.lease_ttl_ms = %u\nock.mmc.meta.heartbeat_timeout_ms = %u\n",
            LEASE_TTL_MS, HB_TIMEOUT_MS);
    fclose(f);
    if (meta_start(NULL, &meta) != 0) {
        TU_CHECK(0, "mmc-meta start");
        goto out;
    }
    snprintf(cfg_path, sizeof(cfg_path), "%s/client.conf", tmpdir);
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = STRIDE, .world = WORLD, .timeout_s = 5};
    TU_CHECK(tu_mmc_client_conf(cfg_path, &cc) == 0, "client config");
    if (local_start(&ls) != 0) {
        TU_CHECK(0, "mmc-local start");
        goto out;
    }
    char stop[600];
    snprintf(stop, sizeof(stop), "%s/stop-churn", tmpdir);
    char churn_ready[1][600];
    snprintf(churn_ready[0], sizeof(churn_ready[0]), "%s/ready.churn", tmpdir);
    churn = role_spawn("churn", stop, "-", "-", 0, NULL, churn_ready[0], NULL);
    TU_CHECK(churn > 0, "churner");
    start_together(churn_ready, &churn, 1, NULL);
    usleep(300000);
    tu_scen_run();
    printf("it_mmc_lease: %.1f s\n", (double)(util_now_ms() - t_start) / 1000.0);

    f = fopen(stop, "w");
    if (f != NULL) fclose(f);
    TU_CHECK(tu_role_wait(churn, 15000, "churn"), "churner exits 0");
    churn = -1;
out:
    if (churn > 0) tu_stop_pid(churn, 5000);
    if (ls > 0) tu_stop_pid(ls, 5000);
    if (meta > 0) tu_stop_pid(meta, 5000);
    if (store > 0) tu_stop_pid(store, 5000);
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
