/*
 * BM bad input, one process: rank 0 of a world of 2 with the store embedded
 * (startConfigStoreServer on a free loopback port). Every misuse gets a
 * specific status and a non-empty smem_get_last_err_msg(); nothing crashes
 * and nothing is copied by a rejected call.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "smem/host/smem_bm.h"
#include "tu_cmocka.h"
#include "tu_data.h"

#define MiB (1ull << 20)

static char g_url[64];

/* The call fails with `code` and leaves a message. */
#define EXPECT_ERR(expr, code)                                                   \
    do {                                                                         \
        smem_get_and_clear_last_err_msg();                                       \
        assert_int_equal((expr), (code));                                        \
        assert_true(strlen(smem_get_last_err_msg()) > 0);                        \
    } while (0)
/* A call returning a value (pointer, size) that signals failure and leaves a message with the code's text. */
#define EXPECT_FAIL_VAL(expr, bad)                                               \
    do {                                                                         \
        smem_get_and_clear_last_err_msg();                                       \
        assert_true((expr) == (bad));                                            \
        assert_true(strlen(smem_get_last_err_msg()) > 0);                        \
    } while (0)

static smem_bm_config_t cfg(void)
{
    smem_bm_config_t c;
    assert_int_equal(smem_bm_config_init(&c), 0);
    c.controlOperationTimeout = 10;
    c.createTimeout = 10;
    c.initTimeout = 10;
    return c;
}

static void test_before_init(void **state)
{
    (void)state;
    assert_int_equal(smem_bm_get_rank_id(), UINT32_MAX);
    EXPECT_FAIL_VAL(smem_bm_create(0, 1, SMEMB_DATA_OP_SDMA, 4 * MiB, 0, 0), NULL);
    EXPECT_ERR(smem_bm_config_init(NULL), SMEM_ERR_INVALID_PARAM);

    smem_bm_config_t c = cfg();
    assert_int_equal(c.initTimeout, 10);
    smem_bm_config_t d;
    smem_bm_config_init(&d);
    assert_int_equal(d.initTimeout, 120);
    assert_int_equal(d.createTimeout, 120);
    assert_int_equal(d.controlOperationTimeout, 120);
    assert_true(d.startConfigStoreServer && d.autoRanking && d.unifiedAddressSpace && d.dynamicWorldSize);
    assert_int_equal(d.rankId, 65535);

    EXPECT_ERR(smem_bm_init(NULL, 2, 0, &c), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(smem_bm_init(g_url, 0, 0, &c), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(smem_bm_init(g_url, 1025, 0, &c), SMEM_ERR_INVALID_PARAM);
    c.unifiedAddressSpace = false;
    EXPECT_ERR(smem_bm_init(g_url, 2, 0, &c), SMEM_ERR_UNSUPPORTED);
    c = cfg();
    c.autoRanking = false;
    c.rankId = 2;
    EXPECT_ERR(smem_bm_init(g_url, 2, 0, &c), SMEM_ERR_INVALID_PARAM);
    c = cfg();
    c.initTimeout = 0;
    EXPECT_ERR(smem_bm_init(g_url, 2, 0, &c), SMEM_ERR_INVALID_PARAM);
    assert_int_equal(smem_bm_get_rank_id(), UINT32_MAX);
}

static void test_init(void **state)
{
    (void)state;
    smem_bm_config_t c = cfg();
    assert_int_equal(smem_bm_init(g_url, 2, 0, &c), 0);
    assert_int_equal(smem_bm_get_rank_id(), 0);
    assert_int_equal(smem_bm_init(g_url, 2, 0, &c), 0); /* idempotent */
    EXPECT_ERR(smem_bm_init(g_url, 3, 0, &c), SMEM_ERR_REPEAT_CALL);
}

static void test_create_errors(void **state)
{
    (void)state;
    EXPECT_FAIL_VAL(smem_bm_create(64, 1, SMEMB_DATA_OP_SDMA, 4 * MiB, 0, 0), NULL);
    /* memberSize is ignored, as the seed ignores it (the object spans the world of smem_bm_init) */
    for (uint32_t member_size = 0; member_size <= 3; member_size += 3) {
        smem_bm_t hm = smem_bm_create(1, member_size, SMEMB_DATA_OP_SDMA, 4 * MiB, 0, 0);
        assert_non_null(hm);
        smem_bm_destroy(hm);
    }
    EXPECT_FAIL_VAL(smem_bm_create(1, 1, (smem_bm_data_op_type)0, 4 * MiB, 0, 0), NULL);
    EXPECT_FAIL_VAL(smem_bm_create(1, 1, (smem_bm_data_op_type)(1u << 7), 4 * MiB, 0, 0), NULL);
    smem_get_and_clear_last_err_msg();
    assert_null(smem_bm_create(1, 1, SMEMB_DATA_OP_HOST_URMA, 4 * MiB, 0, 0));
    assert_non_null(strstr(smem_get_last_err_msg(), "URMA"));
    EXPECT_FAIL_VAL(smem_bm_create(1, 1, SMEMB_DATA_OP_HOST_RDMA, 4 * MiB, 0, 0), NULL);
    EXPECT_FAIL_VAL(smem_bm_create(1, 1, SMEMB_DATA_OP_SDMA, 0, 0, 0), NULL);
    smem_get_and_clear_last_err_msg();
    assert_null(smem_bm_create(1, 1, SMEMB_DATA_OP_SDMA, 4 * MiB, 4 * MiB, 0));
    assert_non_null(strstr(smem_get_last_err_msg(), "CUDA"));
    EXPECT_FAIL_VAL(smem_bm_create(1, 1, SMEMB_DATA_OP_SDMA, 4ull << 40, 0, 0), NULL);  /* 4 TiB per rank */
    EXPECT_FAIL_VAL(smem_bm_create(1, 1, SMEMB_DATA_OP_SDMA, 4 * MiB, 0, 1u << 12), NULL); /* unknown flag */
    EXPECT_FAIL_VAL(smem_bm_create(1, 1, SMEMB_DATA_OP_SDMA, 4 * MiB, 0, SMEM_BM_CREATE_WITH_SHM), NULL);
    EXPECT_FAIL_VAL(smem_bm_create(1, 1, SMEMB_DATA_OP_SDMA, 4 * MiB, 0, 100), NULL); /* NUMA node 100 */
    EXPECT_FAIL_VAL(smem_bm_create2(1, NULL), NULL);

    smem_bm_create_option_t o;
    memset(&o, 0, sizeof(o));
    o.localDRAMSize = 8 * MiB;
    o.maxDramSize = 4 * MiB; /* local > max */
    o.dataOpType = SMEMB_DATA_OP_SDMA;
    o.dramShmFd = -1;
    EXPECT_FAIL_VAL(smem_bm_create2(1, &o), NULL);
    o.maxDramSize = 0;
    o.flags = SMEM_BM_CREATE_WITH_SHM; /* fd -1 */
    EXPECT_FAIL_VAL(smem_bm_create2(1, &o), NULL);
    int fd = memfd_create("badinput", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 * MiB), 0);
    o.dramShmFd = fd; /* 1 MiB backs less than 8 MiB */
    EXPECT_FAIL_VAL(smem_bm_create2(1, &o), NULL);
    close(fd);
}

/* Handles that are NULL or not live: every call refuses them. */
static void test_bad_handles(void **state)
{
    (void)state;
    int dummy;
    void *bogus = &dummy;
    smem_copy_params cp = {.src = &dummy, .dest = &dummy, .dataSize = 1};
    smem_batch_copy_params bp = {0};
    void *handles[] = {NULL, bogus};
    for (int i = 0; i < 2; i++) {
        void *h = handles[i];
        EXPECT_ERR(smem_bm_join(h, 0), SMEM_ERR_INVALID_PARAM);
        EXPECT_ERR(smem_bm_leave(h, 0), SMEM_ERR_INVALID_PARAM);
        EXPECT_ERR(smem_bm_copy(h, &cp, SMEMB_COPY_AUTO, 0), SMEM_ERR_INVALID_PARAM);
        EXPECT_ERR(smem_bm_copy_batch(h, &bp, SMEMB_COPY_AUTO, 0), SMEM_ERR_INVALID_PARAM);
        EXPECT_ERR(smem_bm_wait(h), SMEM_ERR_INVALID_PARAM);
        EXPECT_ERR(smem_bm_register_user_mem(h, 4096, 4096), SMEM_ERR_INVALID_PARAM);
        EXPECT_ERR(smem_bm_unregister_user_mem(h, 4096), SMEM_ERR_INVALID_PARAM);
        EXPECT_FAIL_VAL(smem_bm_get_local_mem_size_by_mem_type(h, SMEM_MEM_TYPE_HOST), 0);
        EXPECT_FAIL_VAL(smem_bm_ptr_by_mem_type(h, SMEM_MEM_TYPE_HOST, 0), NULL);
        EXPECT_FAIL_VAL(smem_bm_get_rank_id_by_gva(h, bogus), UINT32_MAX);
        smem_bm_destroy(h); /* no crash; a message */
        assert_true(strlen(smem_get_last_err_msg()) > 0);
    }
}

static uint8_t *g_local;

static int32_t copy1(smem_bm_t h, const void *src, void *dst, size_t n, smem_bm_copy_type t, uint32_t flags)
{
    smem_copy_params p = {.src = src, .dest = dst, .dataSize = n};
    return smem_bm_copy(h, &p, t, flags);
}

static void test_object(void **state)
{
    (void)state;
    smem_bm_create_option_t o;
    memset(&o, 0, sizeof(o));
    o.localDRAMSize = 4 * MiB;
    o.maxDramSize = 8 * MiB; /* a 4 MiB gap after our backed bytes */
    o.dataOpType = SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_HOST_TCP;
    o.dramShmFd = -1;
    smem_bm_t h = smem_bm_create2(1, &o);
    assert_non_null(h);
    EXPECT_FAIL_VAL(smem_bm_create(1, 1, SMEMB_DATA_OP_SDMA, 4 * MiB, 0, 0), NULL); /* duplicate id */

    EXPECT_ERR(smem_bm_join(h, 1), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(smem_bm_leave(h, 0), SMEM_ERR_NOT_STARTED);
    assert_int_equal(smem_bm_join(h, 0), 0);
    EXPECT_ERR(smem_bm_join(h, 0), SMEM_ERR_REPEAT_CALL);

    assert_int_equal(smem_bm_get_local_mem_size_by_mem_type(h, SMEM_MEM_TYPE_HOST), 4 * MiB);
    assert_int_equal(smem_bm_get_local_mem_size_by_mem_type(h, SMEM_MEM_TYPE_DEVICE), 0);
    EXPECT_FAIL_VAL(smem_bm_get_local_mem_size_by_mem_type(h, (smem_bm_mem_type)9), 0);
    uint8_t *base = smem_bm_ptr_by_mem_type(h, SMEM_MEM_TYPE_HOST, 0);
    uint8_t *peer = smem_bm_ptr_by_mem_type(h, SMEM_MEM_TYPE_HOST, 1);
    assert_non_null(base);
    assert_ptr_equal(peer, base + 8 * MiB);
    EXPECT_FAIL_VAL(smem_bm_ptr_by_mem_type(h, SMEM_MEM_TYPE_HOST, 2), NULL);
    EXPECT_FAIL_VAL(smem_bm_ptr_by_mem_type(h, SMEM_MEM_TYPE_DEVICE, 0), NULL);
    EXPECT_FAIL_VAL(smem_bm_ptr_by_mem_type(h, (smem_bm_mem_type)7, 0), NULL);
    assert_int_equal(smem_bm_get_rank_id_by_gva(h, base + 8 * MiB + 5), 1);
    assert_int_equal(smem_bm_get_rank_id_by_gva(h, base + 6 * MiB), 0); /* by stride, not local size */
    EXPECT_FAIL_VAL(smem_bm_get_rank_id_by_gva(h, base + 16 * MiB), UINT32_MAX);
    EXPECT_FAIL_VAL(smem_bm_get_rank_id_by_gva(h, g_local), UINT32_MAX);

    /* Sizes and addresses. */
    EXPECT_ERR(copy1(h, g_local, base, 0, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(copy1(h, NULL, base, 16, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(copy1(h, g_local, NULL, 16, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(smem_bm_copy(h, NULL, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(copy1(h, g_local, base + 4 * MiB - 10, 100, SMEMB_COPY_H2G, 0), SMEM_ERR_OUT_OF_RANGE);
    EXPECT_ERR(copy1(h, g_local, base + 5 * MiB, 16, SMEMB_COPY_H2G, 0), SMEM_ERR_OUT_OF_RANGE); /* slot gap */
    EXPECT_ERR(copy1(h, g_local, base + 4 * MiB, 1, SMEMB_COPY_H2G, 0), SMEM_ERR_OUT_OF_RANGE);
    EXPECT_ERR(copy1(h, base + 16 * MiB - 8, g_local, 8, SMEMB_COPY_G2H, 0), SMEM_ERR_PEER_GONE); /* rank 1 absent */
    assert_non_null(strstr(smem_get_last_err_msg(), "rank 1"));
    EXPECT_ERR(copy1(h, g_local, (void *)(uintptr_t)UINT64_MAX, 16, SMEMB_COPY_AUTO, 0), SMEM_ERR_OUT_OF_RANGE);
    /* A local range that runs into the pool. */
    EXPECT_ERR(copy1(h, base - 8, g_local, 16, SMEMB_COPY_AUTO, 0), SMEM_ERR_OUT_OF_RANGE);

    /* Types that do not match the addresses: the message names the side and the type that fits. */
    EXPECT_ERR(copy1(h, g_local, base, 16, SMEMB_COPY_G2H, 0), SMEM_ERR_INVALID_PARAM);
    assert_non_null(strstr(smem_get_last_err_msg(), "SMEMB_COPY_H2GH"));
    assert_non_null(strstr(smem_get_last_err_msg(), "source"));
    EXPECT_ERR(copy1(h, base, g_local, 16, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM);
    assert_non_null(strstr(smem_get_last_err_msg(), "SMEMB_COPY_GH2H"));
    EXPECT_ERR(copy1(h, base, base + 64, 16, SMEMB_COPY_GH2H, 0), SMEM_ERR_INVALID_PARAM);
    assert_non_null(strstr(smem_get_last_err_msg(), "destination"));
    EXPECT_ERR(copy1(h, g_local, base, 16, SMEMB_COPY_G2G, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(copy1(h, g_local, g_local + 64, 16, SMEMB_COPY_AUTO, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(copy1(h, g_local, g_local + 64, 16, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(copy1(h, g_local, base, 16, SMEMB_COPY_L2G, 0), SMEM_ERR_UNSUPPORTED);
    EXPECT_ERR(copy1(h, base, g_local, 16, SMEMB_COPY_GH2L, 0), SMEM_ERR_UNSUPPORTED);
    EXPECT_ERR(copy1(h, g_local, base, 16, (smem_bm_copy_type)10, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(copy1(h, g_local, base, 16, (smem_bm_copy_type)-1, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(copy1(h, g_local, base, 16, SMEMB_COPY_H2G, 1u << 5), SMEM_ERR_INVALID_PARAM);

    /* Good copies, sync and async, every host type. */
    for (int i = 0; i < 4096; i++) g_local[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(copy1(h, g_local, base + 100, 4096, SMEMB_COPY_H2G, 0), 0);
    assert_memory_equal(base + 100, g_local, 4096);
    assert_int_equal(copy1(h, base + 100, base + 3 * MiB, 4096, SMEMB_COPY_G2G, 0), 0);
    assert_int_equal(copy1(h, base + 3 * MiB, g_local + 8192, 4096, SMEMB_COPY_GH2H, ASYNC_COPY_FLAG), 0);
    assert_int_equal(smem_bm_wait(h), 0);
    assert_memory_equal(g_local + 8192, g_local, 4096);
    assert_int_equal(smem_bm_wait(h), 0); /* nothing pending */
    /* Async input errors come back at once; the wait after them is clean. */
    EXPECT_ERR(copy1(h, g_local, base + 4 * MiB, 16, SMEMB_COPY_H2G, ASYNC_COPY_FLAG), SMEM_ERR_OUT_OF_RANGE);
    assert_int_equal(smem_bm_wait(h), 0);

    /* Batches: bad arrays, bad sizes, and one bad triple in the middle stops all of them. */
    void *srcs[3] = {g_local, g_local + 16, g_local + 32};
    void *dsts[3] = {base + 2 * MiB, base + 4 * MiB + 8, base + 2 * MiB + 64};
    uint64_t lens[3] = {16, 16, 16};
    smem_batch_copy_params bp = {.sources = srcs, .destinations = dsts, .dataSizes = lens, .batchSize = 3};
    memset(base + 2 * MiB, 0xEE, 128);
    EXPECT_ERR(smem_bm_copy_batch(h, &bp, SMEMB_COPY_H2G, 0), SMEM_ERR_OUT_OF_RANGE);
    assert_non_null(strstr(smem_get_last_err_msg(), "copy 1 of 3"));
    for (int i = 0; i < 128; i++) assert_int_equal(base[2 * MiB + i], 0xEE); /* nothing copied */
    bp.batchSize = 0;
    EXPECT_ERR(smem_bm_copy_batch(h, &bp, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM);
    bp.batchSize = 3;
    bp.sources = NULL;
    EXPECT_ERR(smem_bm_copy_batch(h, &bp, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM);
    bp.sources = srcs;
    lens[1] = 0;
    dsts[1] = base + 1 * MiB;
    EXPECT_ERR(smem_bm_copy_batch(h, &bp, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM);
    lens[1] = 16;
    assert_int_equal(smem_bm_copy_batch(h, &bp, SMEMB_COPY_H2G, 0), 0);
    assert_memory_equal(base + 2 * MiB + 64, g_local + 32, 16);

    /* Registration. */
    uint64_t ua = (uint64_t)(uintptr_t)g_local;
    EXPECT_ERR(smem_bm_register_user_mem(h, 0, 4096), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(smem_bm_register_user_mem(h, ua, 0), SMEM_ERR_INVALID_PARAM);
    EXPECT_ERR(smem_bm_register_user_mem(h, (uint64_t)(uintptr_t)base, 4096), SMEM_ERR_INVALID_PARAM);
    assert_int_equal(smem_bm_register_user_mem(h, ua, 65536), 0);
    assert_int_equal(smem_bm_register_user_mem(h, ua, 65536), 0); /* same size: idempotent */
    EXPECT_ERR(smem_bm_register_user_mem(h, ua, 4096), SMEM_ERR_ADDR_CONFLICT);
    EXPECT_ERR(smem_bm_unregister_user_mem(h, ua + 4096), SMEM_ERR_OBJECT_NOT_EXISTS);
    assert_int_equal(smem_bm_unregister_user_mem(h, ua), 0);
    EXPECT_ERR(smem_bm_unregister_user_mem(h, ua), SMEM_ERR_OBJECT_NOT_EXISTS);

    /* After leave our own slot is gone too. */
    assert_int_equal(smem_bm_leave(h, 0), 0);
    EXPECT_ERR(copy1(h, g_local, base, 16, SMEMB_COPY_H2G, 0), SMEM_ERR_PEER_GONE);
    EXPECT_ERR(smem_bm_leave(h, 0), SMEM_ERR_NOT_STARTED);
    assert_int_equal(smem_bm_join(h, 0), 0); /* and back */
    assert_int_equal(copy1(h, g_local, base, 16, SMEMB_COPY_H2G, 0), 0);

    smem_bm_destroy(h);
    EXPECT_ERR(copy1(h, g_local, base, 16, SMEMB_COPY_H2G, 0), SMEM_ERR_INVALID_PARAM); /* destroyed */
    smem_bm_destroy(h);

    /* The id is free again, with another layout (the base record went with the last object). */
    h = smem_bm_create(1, 2, SMEMB_DATA_OP_SDMA, 2 * MiB, 0, 0);
    assert_non_null(h);
    smem_bm_destroy(h);
}

static void test_uninit(void **state)
{
    (void)state;
    smem_bm_uninit(0);
    assert_int_equal(smem_bm_get_rank_id(), UINT32_MAX);
    smem_bm_uninit(0); /* twice: no-op */
    EXPECT_FAIL_VAL(smem_bm_create(0, 1, SMEMB_DATA_OP_SDMA, 4 * MiB, 0, 0), NULL);
}

int main(int argc, char **argv)
{
    uint16_t port = tu_free_port();
    if (port == 0) return 1;
    snprintf(g_url, sizeof(g_url), "tcp://127.0.0.1:%u", port);
    g_local = aligned_alloc(4096, 1 * MiB);
    assert_non_null(g_local);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_init), cmocka_unit_test(test_init),   cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_bad_handles), cmocka_unit_test(test_object), cmocka_unit_test(test_uninit),
    };
    int rc = TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
    free(g_local);
    return rc;
}
