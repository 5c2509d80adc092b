/*
 * 64 processes join one group with automatic ranks, check the ranks are
 * 0..63 without duplicates (all-gather of the ranks), then run 1,000
 * barriers and 100 all-gathers of 4 KiB each, every process checking every
 * byte it receives.
 *
 * The children are forked before the parent creates any thread (the
 * embedded server's loop); they block on a pipe until the parent sends the
 * server's port.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "testutil.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define NPROC 64u
#define NBARRIER 1000
#define NGATHER 100
#define GATHER_LEN 4096u
#define GROUP "itg"
#define DEADLINE_MS 110000

enum { CHILD_OK = 0, CHILD_CONNECT = 10, CHILD_JOIN, CHILD_RANKS, CHILD_BARRIER, CHILD_GATHER, CHILD_DATA };

static uint8_t pattern(uint32_t rank, int iter, uint32_t i)
{
    return (uint8_t)(rank * 131u + (uint32_t)iter * 17u + i * 7u + (i >> 8));
}

static int child_main(int port_fd)
{
    uint16_t port;
    if (read(port_fd, &port, sizeof(port)) != (ssize_t)sizeof(port)) return CHILD_CONNECT;
    close(port_fd);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);

    store_client_opts_t o;
    store_client_opts_init(&o);
    o.timeout_ms = 60000;
    store_client_t *c = NULL;
    if (store_client_connect(url, &o, &c) != 0) {
        fprintf(stderr, "child %d: connect: %s\n", getpid(), util_err_get());
        return CHILD_CONNECT;
    }
    int rc = CHILD_OK;
    uint32_t rank = UINT32_MAX;
    uint8_t *send = malloc(GATHER_LEN), *recv = malloc((size_t)GATHER_LEN * NPROC);
    uint32_t ranks[NPROC];

    if (store_group_join(c, GROUP, NPROC, UINT32_MAX, &rank) != 0) {
        fprintf(stderr, "child %d: join: %s\n", getpid(), util_err_get());
        rc = CHILD_JOIN;
        goto out;
    }
    /* Everyone's rank at the index of that rank: a duplicate or a gap shows. */
    if (store_allgather(c, "ranks", NPROC, rank, &rank, sizeof(rank), ranks, 60000) != 0) {
        fprintf(stderr, "rank %u: rank all-gather: %s\n", rank, util_err_get());
        rc = CHILD_RANKS;
        goto out;
    }
    for (uint32_t r = 0; r < NPROC; r++)
        if (ranks[r] != r) {
            fprintf(stderr, "rank %u: slot %u holds rank %u\n", rank, r, ranks[r]);
            rc = CHILD_RANKS;
            goto out;
        }
    for (int i = 0; i < NBARRIER; i++)
        if (store_barrier(c, "b", NPROC, rank, 60000) != 0) {
            fprintf(stderr, "rank %u: barrier %d: %s\n", rank, i, util_err_get());
            rc = CHILD_BARRIER;
            goto out;
        }
    for (int it = 0; it < NGATHER; it++) {
        for (uint32_t i = 0; i < GATHER_LEN; i++) send[i] = pattern(rank, it, i);
        memset(recv, 0xEE, (size_t)GATHER_LEN * NPROC);
        if (store_allgather(c, "ag", NPROC, rank, send, GATHER_LEN, recv, 60000) != 0) {
            fprintf(stderr, "rank %u: all-gather %d: %s\n", rank, it, util_err_get());
            rc = CHILD_GATHER;
            goto out;
        }
        for (uint32_t r = 0; r < NPROC; r++)
            for (uint32_t i = 0; i < GATHER_LEN; i++)
                if (recv[(size_t)r * GATHER_LEN + i] != pattern(r, it, i)) {
                    fprintf(stderr, "rank %u: all-gather %d: byte %u of rank %u is 0x%02x, want 0x%02x\n", rank, it,
                            i, r, recv[(size_t)r * GATHER_LEN + i], pattern(r, it, i));
                    rc = CHILD_DATA;
                    goto out;
                }
    }
    /* Nobody leaves before everyone is done reading. */
    if (store_barrier(c, "end", NPROC, rank, 60000) != 0) rc = CHILD_BARRIER;
out:
    free(send);
    free(recv);
    store_client_close(c);
    return rc;
}

int main(void)
{
    int pfd[2];
    pid_t pids[NPROC];

    if (pipe(pfd) != 0) {
        perror("pipe");
        return 1;
    }
    for (uint32_t i = 0; i < NPROC; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("fork");
            return 1;
        }
        if (pids[i] == 0) {
            close(pfd[1]);
            _exit(child_main(pfd[0]));
        }
    }
    close(pfd[0]);

    uint64_t t0 = util_now_ms();
    store_server_opts_t so;
    store_server_opts_init(&so);
    store_server_t *srv = NULL;
    int32_t rc = store_server_start("tcp://127.0.0.1:0", &so, &srv);
    TU_CHECK(rc == 0, "server start: %s", util_err_get());
    uint16_t port = rc == 0 ? store_server_port(srv) : 0;
    /* Two-byte writes to a pipe are atomic: each child reads one port. */
    for (uint32_t i = 0; i < NPROC; i++)
        if (write(pfd[1], &port, sizeof(port)) != (ssize_t)sizeof(port)) perror("write");
    close(pfd[1]);

    uint32_t done = 0;
    int status[NPROC];
    bool reaped[NPROC] = {false};
    while (done < NPROC && util_now_ms() - t0 < DEADLINE_MS) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p <= 0) {
            usleep(20000);
            continue;
        }
        for (uint32_t i = 0; i < NPROC; i++)
            if (pids[i] == p) {
                status[i] = st;
                reaped[i] = true;
                done++;
            }
    }
    uint64_t ms = util_now_ms() - t0;
    for (uint32_t i = 0; i < NPROC; i++) {
        if (!reaped[i]) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &status[i], 0);
            TU_CHECK(false, "child %u (pid %d) still running after %d ms", i, pids[i], DEADLINE_MS);
            continue;
        }
        TU_CHECK(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0, "child %u (pid %d) ended with status 0x%x", i,
                 pids[i], status[i]);
    }
    if (srv != NULL) {
        store_server_stats_t st;
        TU_CHECK(store_server_stats(srv, &st) == 0, "stats");
        /* Every barrier and all-gather instance was reclaimed. */
        TU_CHECK(st.collectives == 0, "%" PRIu64 " collectives left on the server", st.collectives);
        store_server_stop(srv);
    }
    printf("%u processes: join + rank all-gather + %d barriers + %d all-gathers of %u bytes in %" PRIu64 " ms\n",
           NPROC, NBARRIER, NGATHER, GATHER_LEN, ms);
    return tu_summary();
}
