/*
 * Regression: a call made on an idle link right after the keepalive PING went
 * out must not wait for the next timer tick. The loop once ran its timers
 * after the pass that flushes queued output, so the PING (and any request
 * queued behind it) sat unsent until epoll_wait returned a heartbeat later.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/store.h"
#include "util/util_status.h"
#include "util/util_time.h"
#include "tu_cmocka.h"

static void test_calls_after_ping_are_prompt(void **state)
{
    (void)state;
    store_server_opts_t so;
    store_server_opts_init(&so);
    store_server_t *s = NULL;
    assert_int_equal(store_server_start("tcp://127.0.0.1:0", &so, &s), SMEM_OK);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", store_server_port(s));
    store_client_opts_t co;
    store_client_opts_init(&co);
    co.rpc.heartbeat_ms = 200;
    store_client_t *c = NULL;
    assert_int_equal(store_client_connect(url, &co, &c), SMEM_OK);
    uint64_t worst = 0;
    /* Calls spaced past the heartbeat period: each one follows a PING. */
    for (int i = 0; i < 8; i++) {
        usleep(230 * 1000);
        uint64_t t0 = util_now_ns();
        assert_int_equal(store_set(c, "k", "v", 1), SMEM_OK);
        uint64_t us = (util_now_ns() - t0) / 1000;
        if (us > worst) worst = us;
    }
    printf("worst call after an idle heartbeat: %llu us\n", (unsigned long long)worst);
    /* The bug delayed such calls by up to a heartbeat period (200 ms). */
    assert_true(worst < 100 * 1000);
    store_client_close(c);
    store_server_stop(s);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_calls_after_ping_are_prompt)};
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
