/*
 * Chaos, bounded (about a minute): writer and reader processes with content
 * checks run against mmc-meta and three LocalServices while the driver
 *   - SIGSTOPs a LocalService past the config store keepalive and the
 *     MetaService heartbeat timeout, then resumes it (twice, two services),
 *   - SIGKILLs a LocalService and starts a replacement,
 *   - SIGKILLs mmc-meta and restarts it on the same ports.
 * It must show: zero wrong bytes (a get that succeeds returns the key's own
 * bytes), no call past its bound (client timeout 3 s; a put or get is at
 * most two MetaService round trips plus its copies), and after each fault
 * the cluster serving again (a run of successful puts) within a bounded
 * time, which is printed per fault.
 * Each fault is a scenario (`it_mmc_chaos --list`); `it_mmc_chaos NAME...`
 * injects only those, at their usual times into the same minute of load, and
 * the analysis judges the faults injected.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "testutil.h"
#include "tu_data.h"
#include "tu_mmc.h"
#include "tu_scen.h"
#include "util/util_time.h"

#define LS_DRAM (64u << 20)
#define LS_STRIDE "128MB"
#define VAL (32u << 10)
#define RUN_S 58
#define CALL_BOUND_MS 10000u   /* 3 s client timeout: two round trips and the copies, with margin */
#define RECOVERY_BOUND_MS 20000u
#define STREAK 20              /* consecutive successful puts that count as "serving again" */
#define NWRITERS 2
#define NREADERS 2

static char tmpdir[256], meta_conf[600], cli_conf[600];
static char rpc_url[128], store_url[128];

/* ---------- roles ---------- */

/* writer LOG ID: put w<ID>/<seq> (2 replicas) for RUN_S seconds; one line per put: t_ms rc dur_ms;
 * the number of keys written so far goes into LOG.progress for the readers. */
static int role_writer(const char *log, int id)
{
    FILE *f = fopen(log, "w");
    char ppath[700];
    snprintf(ppath, sizeof(ppath), "%s.progress", log);
    int pfd = open(ppath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (f == NULL || pfd < 0) return 2;
    uint8_t *buf = malloc(VAL);
    mmc_put_options o = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = 2};
    for (uint32_t i = 0; i < MMC_REPLICA_MAX; i++) o.preferredLocalServiceIDs[i] = -1;
    uint64_t end = util_now_ms() + RUN_S * 1000ull;
    char key[64];
    for (uint32_t seq = 0; util_now_ms() < end; seq++) {
        snprintf(key, sizeof(key), "w%d/%u", id, seq);
        tu_fill(buf, tu_key_tag(key), 0, VAL);
        mmc_buffer b = {.addr = (uint64_t)(uintptr_t)buf, .type = 1, .len = VAL};
        uint64_t t0 = util_now_ms();
        int32_t rc = mmcc_put_opt(key, &b, &o, 0);
        uint64_t t1 = util_now_ms();
        fprintf(f, "%" PRIu64 " %d %" PRIu64 "\n", t0, rc, t1 - t0);
        uint32_t done = seq + 1;
        if (pwrite(pfd, &done, sizeof(done), 0) != (ssize_t)sizeof(done)) break;
        if (rc != 0) usleep(20000);
    }
    fclose(f);
    close(pfd);
    free(buf);
    return 0;
}

/* reader LOG ID: get random keys the writers wrote; lines: t_ms rc dur_ms wrong(0/1). */
static int role_reader(const char *log, int id)
{
    FILE *f = fopen(log, "w");
    if (f == NULL) return 2;
    uint8_t *buf = malloc(VAL);
    uint64_t end = util_now_ms() + RUN_S * 1000ull;
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(id + 1);
    char key[64], ppath[700];
    while (util_now_ms() < end) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int w = (int)(x % NWRITERS);
        snprintf(ppath, sizeof(ppath), "%s/writer%d.log.progress", tmpdir, w);
        uint32_t done = 0;
        int pfd = open(ppath, O_RDONLY);
        if (pfd >= 0) {
            if (pread(pfd, &done, sizeof(done), 0) != (ssize_t)sizeof(done)) done = 0;
            close(pfd);
        }
        if (done == 0) {
            usleep(20000);
            continue;
        }
        /* mostly recent keys (the pool holds them), sometimes any */
        uint32_t seq = (x >> 20) % 4 == 0 ? (uint32_t)((x >> 24) % done)
                                           : done - 1 - (uint32_t)((x >> 24) % (done < 200 ? done : 200));
        snprintf(key, sizeof(key), "w%d/%u", w, seq);
        memset(buf, 0, VAL);
        mmc_buffer b = {.addr = (uint64_t)(uintptr_t)buf, .type = 1, .len = VAL};
        uint64_t t0 = util_now_ms();
        int32_t rc = mmcc_get(key, &b, 0);
        uint64_t t1 = util_now_ms();
        int wrong = rc == 0 && !tu_check(buf, tu_key_tag(key), 0, VAL, key);
        fprintf(f, "%" PRIu64 " %d %" PRIu64 " %d\n", t0, rc, t1 - t0, wrong);
        if (rc != 0 && rc != MMC_KEY_NOT_FOUND) usleep(20000);
    }
    fclose(f);
    free(buf);
    return 0;
}

static int role_main(const char *role, const char *a1, const char *a2)
{
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    int32_t rc = mmc_init(&ic);
    if (rc != 0) {
        fprintf(stderr, "mmc_init: %d %s\n", rc, mmc_get_last_err_msg());
        return 1;
    }
    int st = strcmp(role, "writer") == 0 ? role_writer(a1, atoi(a2)) : role_reader(a1, atoi(a2));
    mmc_uninit();
    return st;
}

/* ---------- daemons ---------- */

static int meta_start(pid_t *pid)
{
    const char *args[] = {"--config", meta_conf, NULL};
    return tu_mmc_meta_start(args, pid, rpc_url, sizeof(rpc_url), store_url, sizeof(store_url));
}

static int local_start(pid_t *pid)
{
    char dram[32];
    snprintf(dram, sizeof(dram), "%u", LS_DRAM);
    return tu_mmc_local_start(rpc_url, store_url, dram, LS_STRIDE, "64", pid);
}

/* ---------- analysis ---------- */

typedef struct fault {
    const char *what;
    uint64_t from_ms; /* when it began */
    uint64_t at_ms;   /* when it ended (resume, replacement up, restart done) */
} fault_t;

typedef struct op {
    uint64_t t, dur;
    int rc;
} op_t;

static op_t *load_ops(const char *path, uint32_t *n, uint64_t *wrong, bool reader)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) return NULL;
    uint32_t cap = 1024;
    op_t *v = malloc(cap * sizeof(*v));
    *n = 0;
    unsigned long long t, d;
    int rc, w = 0;
    while ((reader ? fscanf(f, "%llu %d %llu %d", &t, &rc, &d, &w) == 4 : fscanf(f, "%llu %d %llu", &t, &rc, &d) == 3)) {
        if (*n == cap) v = realloc(v, (cap *= 2) * sizeof(*v));
        v[(*n)++] = (op_t){.t = t, .dur = d, .rc = rc};
        if (w) (*wrong)++;
    }
    fclose(f);
    return v;
}

/* First time after `from` at which STREAK consecutive puts of one writer succeeded (their first one). */
static uint64_t serving_again(const op_t *v, uint32_t n, uint64_t from)
{
    uint32_t run = 0;
    uint64_t start = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (v[i].t < from) continue;
        if (v[i].rc == 0) {
            if (run++ == 0) start = v[i].t;
            if (run >= STREAK) return start;
        } else {
            run = 0;
        }
    }
    return UINT64_MAX;
}

/* ---------- the faults (scenarios) ---------- */

static pid_t meta = -1, ls[4] = {-1, -1, -1, -1};
static fault_t faults[8];
static int nf;
static uint64_t t0; /* when the load started */

/* Sleeps until s seconds after t0. */
static void at_s(int s)
{
    int64_t left = (int64_t)s * 1000 - (int64_t)(util_now_ms() - t0);
    if (left > 0) usleep((useconds_t)(left * 1000));
}

static void pause_ls(int i, int from_s, int to_s)
{
    at_s(from_s);
    uint64_t began = util_now_ms();
    kill(ls[i], SIGSTOP);
    at_s(to_s);
    kill(ls[i], SIGCONT);
    faults[nf++] = (fault_t){i == 1 ? "LocalService 1 SIGSTOPped 6 s, resumed" : "LocalService 0 SIGSTOPped 6 s, resumed",
                             began, util_now_ms()};
}

static void scen_pause1(void) { pause_ls(1, 5, 11); }

static void scen_kill2(void)
{
    at_s(18);
    uint64_t began = util_now_ms();
    kill(ls[2], SIGKILL);
    tu_wait_pid(ls[2], 2000, NULL);
    ls[2] = -1;
    TU_CHECK(local_start(&ls[3]) >= 0, "a replacement LocalService starts");
    faults[nf++] = (fault_t){"LocalService 2 SIGKILLed, replacement started", began, util_now_ms()};
}

static void scen_meta(void)
{
    at_s(28);
    uint64_t began = util_now_ms();
    kill(meta, SIGKILL);
    tu_wait_pid(meta, 5000, NULL);
    meta = -1;
    TU_CHECK(meta_start(&meta) == 0, "mmc-meta restarts on the same ports");
    faults[nf++] = (fault_t){"mmc-meta SIGKILLed, restarted", began, util_now_ms()};
}

static void scen_pause0(void) { pause_ls(0, 40, 46); }

static const tu_scen_t scenarios[] = {
    {.name = "pause_ls1", .run = scen_pause1, .what = "at 5 s: LocalService 1 SIGSTOPped 6 s, resumed"},
    {.name = "kill_ls2", .run = scen_kill2, .what = "at 18 s: LocalService 2 SIGKILLed, a replacement started"},
    {.name = "restart_meta", .run = scen_meta, .what = "at 28 s: mmc-meta SIGKILLed, restarted on the same ports"},
    {.name = "pause_ls0", .run = scen_pause0, .what = "at 40 s: LocalService 0 SIGSTOPped 6 s, resumed"},
};

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--role") == 0) {
        snprintf(tmpdir, sizeof(tmpdir), "%s", getenv("CHAOS_DIR") ? getenv("CHAOS_DIR") : "/tmp");
        return role_main(argv[2], argv[3], argv[4]);
    }
    int rc = tu_scen_args(argc, argv, scenarios, (int)(sizeof(scenarios) / sizeof(scenarios[0])));
    if (rc >= 0) return rc;
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    setenv("CHAOS_DIR", tmpdir, 1);
    uint16_t prpc = tu_free_port(), pstore = tu_free_port();
    while (pstore == prpc) pstore = tu_free_port();
    snprintf(meta_conf, sizeof(meta_conf), "%s/meta.conf", tmpdir);
    TU_CHECK(tu_mmc_meta_conf(meta_conf, prpc, pstore, "error") == 0, "mmc-meta config");
    pid_t roles[NWRITERS + NREADERS];
    for (int i = 0; i < NWRITERS + NREADERS; i++) roles[i] = -1;
    if (meta_start(&meta) != 0) {
        TU_CHECK(0, "mmc-meta start");
        goto out;
    }
    snprintf(cli_conf, sizeof(cli_conf), "%s/client.conf", tmpdir);
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = LS_STRIDE, .world = "64", .timeout_s = 3,
                          .log_level = "error"};
    TU_CHECK(tu_mmc_client_conf(cli_conf, &cc) == 0, "client config");
    for (int i = 0; i < 3; i++) TU_CHECK(local_start(&ls[i]) >= 0, "LocalService %d starts", i);
    if (ls[0] < 0 || ls[1] < 0 || ls[2] < 0) goto out;
    for (int i = 0; i < NWRITERS + NREADERS; i++) {
        char log[600], id[8];
        bool w = i < NWRITERS;
        snprintf(log, sizeof(log), "%s/%s%d.log", tmpdir, w ? "writer" : "reader", w ? i : i - NWRITERS);
        snprintf(id, sizeof(id), "%d", w ? i : i - NWRITERS);
        const char *args[] = {w ? "writer" : "reader", log, id, NULL};
        roles[i] = tu_role_spawn(args);
        TU_CHECK(roles[i] > 0, "role %d", i);
    }
    t0 = util_now_ms();
    tu_scen_run(); /* the faults chosen, each at its time */
    for (int i = 0; i < NWRITERS + NREADERS; i++) {
        int st = 0;
        bool done = tu_wait_pid(roles[i], (RUN_S + 30) * 1000, &st) == 0;
        TU_CHECK(done && WIFEXITED(st) && WEXITSTATUS(st) == 0, "role %d finished (status %d)", i, st);
        if (!done) kill(roles[i], SIGKILL);
        roles[i] = -1;
    }

    /* Analysis. */
    uint64_t wrong = 0, max_dur = 0, puts = 0, puts_ok = 0, gets = 0, gets_ok = 0, not_found = 0;
    op_t *w[NWRITERS] = {0};
    uint32_t wn[NWRITERS] = {0};
    for (int i = 0; i < NWRITERS + NREADERS; i++) {
        char log[600];
        bool isw = i < NWRITERS;
        snprintf(log, sizeof(log), "%s/%s%d.log", tmpdir, isw ? "writer" : "reader", isw ? i : i - NWRITERS);
        uint32_t n = 0;
        op_t *v = load_ops(log, &n, &wrong, !isw);
        TU_CHECK(v != NULL && n > 0, "%s has operations", log);
        for (uint32_t j = 0; v && j < n; j++) {
            if (v[j].dur > max_dur) max_dur = v[j].dur;
            if (isw) {
                puts++;
                puts_ok += v[j].rc == 0;
            } else {
                gets++;
                gets_ok += v[j].rc == 0;
                not_found += v[j].rc == MMC_KEY_NOT_FOUND;
            }
        }
        if (isw) {
            w[i] = v;
            wn[i] = n;
        } else {
            free(v);
        }
    }
    printf("chaos: %" PRIu64 " puts (%" PRIu64 " ok), %" PRIu64 " gets (%" PRIu64 " ok, %" PRIu64
           " not found), %" PRIu64 " wrong values, longest call %" PRIu64 " ms\n",
           puts, puts_ok, gets, gets_ok, not_found, wrong, max_dur);
    TU_CHECK(wrong == 0, "no get returned bytes that were not its key's (%" PRIu64 " did)", wrong);
    TU_CHECK(max_dur <= CALL_BOUND_MS, "no call past its bound (%" PRIu64 " ms > %u)", max_dur, CALL_BOUND_MS);
    TU_CHECK(gets_ok > 0 && puts_ok > 0, "work got done");
    for (int i = 0; i < nf; i++) {
        uint64_t worst = 0, failed = 0, first_fail = UINT64_MAX, last_fail = 0;
        uint64_t until = i + 1 < nf ? faults[i + 1].from_ms : UINT64_MAX;
        for (int j = 0; j < NWRITERS; j++) {
            uint64_t s = w[j] ? serving_again(w[j], wn[j], faults[i].at_ms) : UINT64_MAX;
            uint64_t d = s == UINT64_MAX ? UINT64_MAX : s - faults[i].at_ms;
            if (d > worst) worst = d;
            for (uint32_t q = 0; w[j] && q < wn[j]; q++) {
                if (w[j][q].t < faults[i].from_ms || w[j][q].t >= until || w[j][q].rc == 0) continue;
                failed++;
                if (w[j][q].t < first_fail) first_fail = w[j][q].t;
                if (w[j][q].t + w[j][q].dur > last_fail) last_fail = w[j][q].t + w[j][q].dur;
            }
        }
        if (worst == UINT64_MAX)
            printf("fault '%s': never served again\n", faults[i].what);
        else
            printf("fault '%s' (%" PRIu64 " ms): %" PRIu64 " failed puts over %" PRIu64
                   " ms; serving again (%d puts in a row) %" PRIu64 " ms after it ended\n",
                   faults[i].what, faults[i].at_ms - faults[i].from_ms, failed,
                   failed ? last_fail - first_fail : 0, STREAK, worst);
        TU_CHECK(worst <= RECOVERY_BOUND_MS, "serving again within %u ms after '%s'", RECOVERY_BOUND_MS,
                 faults[i].what);
    }
    for (int j = 0; j < NWRITERS; j++) free(w[j]);

out:
    for (int i = 0; i < NWRITERS + NREADERS; i++)
        if (roles[i] > 0) {
            kill(roles[i], SIGKILL);
            tu_wait_pid(roles[i], 2000, NULL);
        }
    for (int i = 3; i >= 0; i--)
        if (ls[i] > 0) {
            kill(ls[i], SIGCONT);
            tu_stop_pid(ls[i], 10000);
        }
    if (meta > 0) tu_stop_pid(meta, 10000);
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
