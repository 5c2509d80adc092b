/*
 * Membership faults with real processes (issue: zombie member, restart):
 *  1. a LocalService SIGSTOPped past the config store keepalive and the
 *     MetaService heartbeat timeout, then resumed: a LocalService started
 *     during the pause joins with another rank (no collision with the
 *     paused one's rank or exporter socket); once resumed, the paused one
 *     reclaims its rank and is imported again, and puts with a replica on
 *     every LocalService succeed with the right bytes;
 *  2. mmc-meta SIGKILLed and restarted on the same ports: the survivors
 *     re-register their ranks and records before anyone new is admitted, a
 *     fresh client gets a rank no live member holds, puts and gets across
 *     every LocalService work, a new LocalService can join, and when it
 *     leaves again the older members keep working.
 * Each recovery time is measured and printed.
 */
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
#include "util/util_time.h"

#define LS_DRAM (64u << 20)
#define LS_STRIDE "128MB"
#define VAL (64u << 10)

static char tmpdir[256], meta_conf[600], cli_conf[600];
static char rpc_url[128], store_url[128];

/* ---------- roles (client processes: this binary with --role) ---------- */

static int32_t put_one(const char *key, uint8_t *buf, int replicas)
{
    mmc_put_options o = {.mediaType = MMC_MEDIA_DRAM, .replicaNum = (uint16_t)replicas};
    for (uint32_t i = 0; i < MMC_REPLICA_MAX; i++) o.preferredLocalServiceIDs[i] = -1;
    tu_fill(buf, tu_key_tag(key), 0, VAL);
    mmc_buffer b = {.addr = (uint64_t)(uintptr_t)buf, .type = 1, .len = VAL};
    return mmcc_put_opt(key, &b, &o, 0);
}

/* fill PREFIX COUNT:REPLICAS — put then read back; exit 0 only if every key made it with its own bytes. */
static int role_fill(const char *prefix, const char *spec)
{
    int count = 0, replicas = 1;
    if (sscanf(spec, "%d:%d", &count, &replicas) != 2) return 2;
    uint8_t *buf = malloc(VAL), *out = malloc(VAL);
    int put_fail = 0, get_fail = 0, wrong = 0;
    char key[128];
    for (int i = 0; i < count; i++) {
        snprintf(key, sizeof(key), "%s/%d", prefix, i);
        int32_t rc = put_one(key, buf, replicas);
        if (rc != 0) {
            if (put_fail++ < 3) fprintf(stderr, "put %s: %d %s\n", key, rc, mmc_get_last_err_msg());
        }
    }
    for (int i = 0; i < count; i++) {
        snprintf(key, sizeof(key), "%s/%d", prefix, i);
        memset(out, 0, VAL);
        mmc_buffer b = {.addr = (uint64_t)(uintptr_t)out, .type = 1, .len = VAL};
        int32_t rc = mmcc_get(key, &b, 0);
        if (rc != 0) {
            if (get_fail++ < 3) fprintf(stderr, "get %s: %d %s\n", key, rc, mmc_get_last_err_msg());
        } else if (!tu_check(out, tu_key_tag(key), 0, VAL, key)) {
            wrong++;
        }
    }
    printf("fill %s: %d keys x %d replicas: %d put failures, %d get failures, %d wrong values\n", prefix, count,
           replicas, put_fail, get_fail, wrong);
    free(buf);
    free(out);
    return put_fail == 0 && get_fail == 0 && wrong == 0 ? 0 : 1;
}

/* until PREFIX REPLICAS — put fresh keys until one with REPLICAS replicas succeeds (30 s). */
static int role_until(const char *prefix, const char *spec)
{
    int replicas = atoi(spec);
    uint8_t *buf = malloc(VAL);
    char key[128];
    uint64_t t0 = util_now_ms();
    int tries = 0;
    int32_t rc = -1;
    while (util_now_ms() - t0 < 30000) {
        snprintf(key, sizeof(key), "%s/probe%d", prefix, tries++);
        rc = put_one(key, buf, replicas);
        if (rc == 0) break;
        usleep(50000);
    }
    printf("until %s: first %d-replica put after %" PRIu64 " ms (%d tries, last rc %d)\n", prefix, replicas,
           util_now_ms() - t0, tries, rc);
    free(buf);
    return rc == 0 ? 0 : 1;
}

static int role_main(const char *role, const char *a1, const char *a2)
{
    mmc_init_config ic = {.device_id = 0, .init_bm = true};
    uint64_t t0 = util_now_ms();
    int32_t rc = mmc_init(&ic);
    if (rc != 0) {
        fprintf(stderr, "mmc_init: %d %s\n", rc, mmc_get_last_err_msg());
        return 1;
    }
    printf("role %s: mmc_init took %" PRIu64 " ms\n", role, util_now_ms() - t0);
    int st = 2;
    if (strcmp(role, "fill") == 0) st = role_fill(a1, a2);
    else if (strcmp(role, "until") == 0) st = role_until(a1, a2);
    mmc_uninit();
    fflush(stdout);
    return st;
}

static bool role_run(const char *role, const char *a1, const char *a2, int timeout_ms)
{
    const char *args[] = {role, a1, a2, NULL};
    return tu_role_run(args, timeout_ms);
}

/* ---------- daemons ---------- */

static int meta_start(pid_t *pid)
{
    const char *args[] = {"--config", meta_conf, NULL};
    return tu_mmc_meta_start(args, pid, rpc_url, sizeof(rpc_url), store_url, sizeof(store_url));
}

/* Starts mmc-local; returns its rank or -1 (with its error output on stderr). */
static int local_start(pid_t *pid)
{
    char dram[32];
    snprintf(dram, sizeof(dram), "%u", LS_DRAM);
    return tu_mmc_local_start(rpc_url, store_url, dram, LS_STRIDE, "64", pid);
}

static bool alive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) == 0; }

/* ---------- driver ---------- */

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--role") == 0) return role_main(argv[2], argv[3], argv[4]);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) return 1;
    uint16_t prpc = tu_free_port(), pstore = tu_free_port();
    while (pstore == prpc) pstore = tu_free_port();
    snprintf(meta_conf, sizeof(meta_conf), "%s/meta.conf", tmpdir);
    /* Fixed ports: a restarted MetaService comes back where the survivors look for it. */
    TU_CHECK(tu_mmc_meta_conf(meta_conf, prpc, pstore, "warn") == 0, "mmc-meta config");
    pid_t meta = -1, ls[4] = {-1, -1, -1, -1};
    int rank[4] = {-1, -1, -1, -1};
    if (meta_start(&meta) != 0) {
        TU_CHECK(0, "mmc-meta start");
        goto out;
    }
    snprintf(cli_conf, sizeof(cli_conf), "%s/client.conf", tmpdir);
    tu_mmc_client_t cc = {.rpc = rpc_url, .store = store_url, .max_dram = LS_STRIDE, .world = "64", .timeout_s = 5,
                          .log_level = "warn"};
    TU_CHECK(tu_mmc_client_conf(cli_conf, &cc) == 0, "client config");
    rank[0] = local_start(&ls[0]);
    rank[1] = local_start(&ls[1]);
    TU_CHECK(rank[0] >= 0 && rank[1] >= 0 && rank[0] != rank[1], "two LocalServices: ranks %d %d", rank[0], rank[1]);
    if (rank[0] < 0 || rank[1] < 0) goto out;
    TU_CHECK(role_run("fill", "a", "40:2", 60000), "puts with a replica on both LocalServices");

    /* 1. A zombie: LocalService 1 paused past the store keepalive (4 s) and
     * the MetaService heartbeat timeout (5 s). */
    kill(ls[1], SIGSTOP);
    usleep(6000 * 1000);
    uint64_t t0 = util_now_ms();
    rank[2] = local_start(&ls[2]);
    printf("a LocalService started while rank %d was paused: rank %d, in %" PRIu64 " ms\n", rank[1], rank[2],
           util_now_ms() - t0);
    TU_CHECK(rank[2] >= 0 && rank[2] != rank[0] && rank[2] != rank[1],
             "a joiner during the pause gets a free rank (%d; paused %d)", rank[2], rank[1]);
    kill(ls[1], SIGCONT);
    t0 = util_now_ms();
    TU_CHECK(role_run("until", "z", "3", 40000), "after the resume a put reaches all three LocalServices");
    printf("zombie: serving on all three LocalServices %" PRIu64 " ms after SIGCONT\n", util_now_ms() - t0);
    TU_CHECK(role_run("fill", "b", "100:3", 60000), "after the resume: 100 puts with 3 replicas, every byte right");
    TU_CHECK(alive(ls[1]), "the resumed LocalService still runs");

    /* 2. The MetaService (and its embedded config store) restarts. */
    kill(meta, SIGKILL);
    tu_wait_pid(meta, 5000, NULL);
    meta = -1;
    t0 = util_now_ms();
    if (meta_start(&meta) != 0) {
        TU_CHECK(0, "mmc-meta restart on the same ports");
        goto out;
    }
    printf("mmc-meta restarted in %" PRIu64 " ms\n", util_now_ms() - t0);
    /* A fresh client right away: it must wait for the survivors, then get a free rank. */
    TU_CHECK(role_run("until", "r", "3", 40000), "after the restart a fresh client's put reaches all three");
    printf("restart: serving on all three LocalServices %" PRIu64 " ms after mmc-meta was back\n", util_now_ms() - t0);
    TU_CHECK(role_run("fill", "c", "100:3", 60000), "after the restart: 100 puts with 3 replicas, every byte right");
    t0 = util_now_ms();
    rank[3] = local_start(&ls[3]);
    TU_CHECK(rank[3] >= 0 && rank[3] != rank[0] && rank[3] != rank[1] && rank[3] != rank[2],
             "a new LocalService after the restart gets a free rank (%d; others %d %d %d) in %" PRIu64 " ms", rank[3],
             rank[0], rank[1], rank[2], util_now_ms() - t0);
    TU_CHECK(role_run("fill", "d", "50:4", 60000), "50 puts with 4 replicas");
    if (ls[3] > 0) {
        TU_CHECK(tu_stop_pid(ls[3], 10000) == 0, "the new LocalService stops cleanly");
        ls[3] = -1;
    }
    TU_CHECK(role_run("fill", "e", "100:3", 60000), "after it left, the older three still serve every put and get");
    for (int i = 0; i < 3; i++) TU_CHECK(alive(ls[i]), "LocalService %d still runs", i);

    /* A LocalService that cannot join says why (the BM cleanup used to wipe the message). */
    char cmd[2048], outb[4096];
    snprintf(cmd, sizeof(cmd),
             "%s/mmc-local --meta-url %s --store-url %s --dram-size %u --max-dram-size 256MB --world-size 64 2>&1",
             tu_build_dir(), rpc_url, store_url, LS_DRAM);
    FILE *p = popen(cmd, "r");
    size_t got = p ? fread(outb, 1, sizeof(outb) - 1, p) : 0;
    outb[got] = '\0';
    int pst = p ? pclose(p) : -1;
    const char *why = strstr(outb, "cannot start: ");
    printf("a LocalService with another stride: %s", why ? why : outb);
    TU_CHECK(WIFEXITED(pst) && WEXITSTATUS(pst) != 0 && why != NULL && strlen(why) > strlen("cannot start: ") + 20,
             "a LocalService with another stride fails with a message: %s", outb);

out:
    for (int i = 3; i >= 0; i--)
        if (ls[i] > 0) {
            kill(ls[i], SIGCONT);
            tu_stop_pid(ls[i], 10000);
        }
    if (meta > 0) tu_stop_pid(meta, 10000);
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
