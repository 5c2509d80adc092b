/*
 * SHM across 4 processes on one host: the symmetric heap at the same address
 * everywhere (each rank writes its region, every rank reads every region by
 * dereferencing the GVA), barrier, all-gather ordered by rank, sub-groups,
 * extra context readable by every rank, reachability, atomic ids, global exit,
 * and bad input. Rank 0 starts the config store (startConfigStoreServer).
 */
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smem/host/smem_shm.h"
#include "testutil.h"
#include "util/util_time.h"

#define NRANKS 4
#define HEAP (4ull << 20)

static char url[64];

/* Written by the exit function (runs on a library thread). */
static volatile int exit_status = -1;
static sem_t exit_sem;
static void on_exit_fn(int status)
{
    exit_status = status;
    sem_post(&exit_sem);
}

static uint8_t pattern(uint32_t rank, uint64_t i) { return (uint8_t)(rank * 37u + i * 7u + (i >> 12)); }

static void bad_input(smem_shm_t h)
{
    void *gva = NULL;
    TU_CHECK(smem_shm_create(64, NRANKS, 0, HEAP, SMEMS_DATA_OP_MTE, 0, &gva) == NULL, "id 64 accepted");
    TU_CHECK(strlen(smem_get_last_err_msg()) > 0, "no message for id 64");
    TU_CHECK(smem_shm_create(2, NRANKS, 0, HEAP + 4096, SMEMS_DATA_OP_MTE, 0, &gva) == NULL, "odd size accepted");
    TU_CHECK(smem_shm_create(2, NRANKS, 1, HEAP, SMEMS_DATA_OP_MTE, 0, &gva) == NULL, "foreign rank accepted");
    TU_CHECK(smem_shm_create(2, NRANKS + 1, 0, HEAP, SMEMS_DATA_OP_MTE, 0, &gva) == NULL, "rank size > world");
    TU_CHECK(smem_shm_create(2, NRANKS, 0, HEAP, 0, 0, &gva) == NULL, "op type 0 accepted");
    TU_CHECK(smem_shm_create(1, NRANKS, 0, HEAP, SMEMS_DATA_OP_MTE, 0, &gva) == NULL, "duplicate id accepted");
    TU_CHECK(smem_shm_control_barrier(NULL) == SMEM_ERR_INVALID_PARAM, "NULL handle");
    int junk;
    TU_CHECK(smem_shm_control_barrier(&junk) == SMEM_ERR_INVALID_PARAM, "garbage handle");
    TU_CHECK(smem_shm_get_global_rank(NULL) == UINT32_MAX, "rank of NULL handle");
    static char big[SMEM_SHM_CONTEXT_MAX + 1];
    TU_CHECK(smem_shm_set_extra_context(h, big, sizeof(big)) == SMEM_ERR_INVALID_PARAM, "context > 64 KiB");
    TU_CHECK(smem_shm_set_extra_context(h, NULL, 4) == SMEM_ERR_INVALID_PARAM, "NULL context");
    char s[8], r[8 * NRANKS];
    TU_CHECK(smem_shm_control_allgather(h, s, 8, r, 8 * NRANKS - 1) == SMEM_ERR_INVALID_PARAM, "recv size mismatch");
    TU_CHECK(smem_shm_subgroup_barrier(h, "x", 2, 2) == SMEM_ERR_INVALID_PARAM, "subgroup rank >= size");
    TU_CHECK(smem_shm_subgroup_barrier(h, "", 2, 0) == SMEM_ERR_INVALID_PARAM, "empty subgroup key");
    uint32_t v, reach;
    TU_CHECK(smem_shm_atomic_alloc_value(h, 0, &v) == SMEM_ERR_INVALID_PARAM, "limit 0");
    TU_CHECK(smem_shm_atomic_alloc_value(h, 1025, &v) == SMEM_ERR_INVALID_PARAM, "limit 1025");
    TU_CHECK(smem_shm_topology_can_reach(h, NRANKS, &reach) == SMEM_ERR_INVALID_PARAM, "reach rank out of range");
    TU_CHECK(smem_shm_register_exit(h, NULL) == SMEM_ERR_INVALID_PARAM, "NULL exit function");
    TU_CHECK(smem_shm_init(url, NRANKS, 1, 0, NULL) == SMEM_ERR_REPEAT_CALL, "re-init with another rank");
}

static int child(uint32_t rank)
{
    sem_init(&exit_sem, 0, 0);
    smem_shm_config_t cfg;
    smem_shm_config_init(&cfg);
    cfg.shmInitTimeout = 30;
    cfg.shmCreateTimeout = 30;
    cfg.controlOperationTimeout = 30;
    int32_t rc = smem_shm_init(url, NRANKS, rank, 0, &cfg);
    TU_CHECK(rc == 0, "rank %u init: %d %s", rank, rc, smem_get_last_err_msg());
    if (rc != 0) return 1;
    TU_CHECK(smem_shm_init(url, NRANKS, rank, 0, &cfg) == 0, "idempotent init");
    void *gva = NULL;
    smem_shm_t h = smem_shm_create(1, NRANKS, rank, HEAP, SMEMS_DATA_OP_MTE, 0, &gva);
    TU_CHECK(h != NULL && gva != NULL, "rank %u create: %s", rank, smem_get_last_err_msg());
    if (h == NULL) return 1;
    TU_CHECK(smem_shm_get_global_rank(h) == rank && smem_shm_get_global_rank_size(h) == NRANKS, "rank/size");

    /* Same address everywhere. */
    uint64_t mine = (uint64_t)(uintptr_t)gva, all[NRANKS];
    TU_CHECK(smem_shm_control_allgather(h, (char *)&mine, sizeof(mine), (char *)all, sizeof(all)) == 0, "allgather gva");
    for (int r = 0; r < NRANKS; r++) TU_CHECK(all[r] == mine, "rank %d gva %llx != %llx", r, (unsigned long long)all[r],
                                              (unsigned long long)mine);

    /* Each rank writes its region; everyone reads every region through the pointer. */
    uint8_t *base = gva;
    for (uint64_t i = 0; i < HEAP; i++) base[rank * HEAP + i] = pattern(rank, i);
    TU_CHECK(smem_shm_control_barrier(h) == 0, "barrier after writes");
    for (uint32_t r = 0; r < NRANKS; r++) {
        uint64_t bad = 0;
        for (uint64_t i = 0; i < HEAP; i++) bad += base[r * HEAP + i] != pattern(r, i);
        TU_CHECK(bad == 0, "rank %u sees %llu wrong bytes in rank %u's region", rank, (unsigned long long)bad, r);
    }
    /* A store into a neighbour's region is seen by the neighbour (after everyone finished reading). */
    TU_CHECK(smem_shm_control_barrier(h) == 0, "barrier after reads");
    uint32_t next = (rank + 1) % NRANKS;
    base[next * HEAP + HEAP - 1] = (uint8_t)(0xA0 + rank);
    TU_CHECK(smem_shm_control_barrier(h) == 0, "barrier after cross writes");
    TU_CHECK(base[rank * HEAP + HEAP - 1] == (uint8_t)(0xA0 + (rank + NRANKS - 1) % NRANKS), "cross write not seen");

    /* Sub-groups {0,1} and {2,3}. */
    const char *key = rank < 2 ? "low" : "high";
    uint32_t sub_rank = rank % 2;
    TU_CHECK(smem_shm_subgroup_barrier(h, key, 2, sub_rank) == 0, "subgroup barrier: %s", smem_get_last_err_msg());
    uint32_t sv = rank * 10, sr[2] = {0};
    TU_CHECK(smem_shm_subgroup_allgather(h, key, 2, sub_rank, (char *)&sv, 4, (char *)sr, 8) == 0, "subgroup allgather");
    uint32_t lo = rank < 2 ? 0 : 2;
    TU_CHECK(sr[0] == lo * 10 && sr[1] == (lo + 1) * 10, "subgroup allgather order: %u %u", sr[0], sr[1]);

    /* Extra context: every rank's, read by every rank. */
    char ctx[32];
    snprintf(ctx, sizeof(ctx), "context of rank %u", rank);
    TU_CHECK(smem_shm_set_extra_context(h, ctx, (uint32_t)strlen(ctx) + 1) == 0, "set context");
    TU_CHECK(smem_shm_control_barrier(h) == 0, "barrier after context");
    for (uint32_t r = 0; r < NRANKS; r++) {
        char got[64], want[32];
        uint32_t n = 0;
        snprintf(want, sizeof(want), "context of rank %u", r);
        TU_CHECK(smem_shm_get_extra_context(h, r, got, sizeof(got), &n) == 0 && n == strlen(want) + 1 &&
                     strcmp(got, want) == 0, "context of rank %u", r);
    }

    /* Reachability: all on this host. */
    for (uint32_t r = 0; r < NRANKS; r++) {
        uint32_t mask = 0;
        TU_CHECK(smem_shm_topology_can_reach(h, r, &mask) == 0 && mask == (SMEMS_DATA_OP_MTE | SMEMS_DATA_OP_SDMA),
                 "reach %u: mask 0x%x", r, mask);
    }

    /* Atomic ids: four distinct values in [0, 4), then the pool is full. */
    uint32_t id = 99, ids[NRANKS];
    TU_CHECK(smem_shm_atomic_alloc_value(h, NRANKS, &id) == 0, "alloc value: %s", smem_get_last_err_msg());
    TU_CHECK(smem_shm_control_allgather(h, (char *)&id, 4, (char *)ids, sizeof(ids)) == 0, "allgather ids");
    uint32_t seen = 0;
    for (int r = 0; r < NRANKS; r++) seen |= ids[r] < NRANKS ? 1u << ids[r] : 0x100u;
    TU_CHECK(seen == (1u << NRANKS) - 1, "ids not a permutation of 0..3 (mask 0x%x)", seen);
    uint32_t extra;
    TU_CHECK(smem_shm_atomic_alloc_value(h, NRANKS, &extra) == SMEM_ERR_FULL, "alloc from a full pool");
    TU_CHECK(smem_shm_control_barrier(h) == 0, "barrier before release");
    TU_CHECK(smem_shm_atomic_release_value(h, id) == 0, "release value");

    if (rank == 0) bad_input(h);

    /* Global exit: rank 3 broadcasts, every rank's function runs with the status. */
    TU_CHECK(smem_shm_register_exit(h, on_exit_fn) == 0, "register exit");
    TU_CHECK(smem_shm_control_barrier(h) == 0, "barrier before exit");
    if (rank == 3) smem_shm_global_exit(h, 42);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    TU_CHECK(sem_timedwait(&exit_sem, &ts) == 0 && exit_status == 42, "exit function: status %d", exit_status);

    TU_CHECK(smem_shm_control_barrier(h) == 0, "final barrier");
    TU_CHECK(smem_shm_destroy(h, 0) == 0, "destroy");
    TU_CHECK(smem_shm_destroy(h, 0) != 0, "double destroy accepted");
    smem_shm_uninit(0);
    smem_uninit();
    return tu_failed == 0 ? 0 : 1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", 30000 + (int)(getpid() % 25000));
    int counts[2];
    int pfd[2];
    if (pipe(pfd) != 0) return 1;
    pid_t pids[NRANKS];
    for (uint32_t r = 0; r < NRANKS; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            close(pfd[0]);
            int rc = child(r);
            counts[0] = tu_passed;
            counts[1] = tu_failed;
            if (write(pfd[1], counts, sizeof(counts)) != sizeof(counts)) rc = 1;
            _exit(rc);
        }
    }
    close(pfd[1]);
    for (uint32_t r = 0; r < NRANKS; r++) {
        int st = 0;
        int waited = tu_wait_pid(pids[r], 120000, &st);
        if (waited != 0) kill(pids[r], SIGKILL);
        TU_CHECK(waited == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "rank %u exit status 0x%x", r, st);
    }
    while (read(pfd[0], counts, sizeof(counts)) == sizeof(counts)) {
        tu_passed += counts[0];
        tu_failed += counts[1];
    }
    return tu_summary();
}
