/*
 * Our memcache headers compile as C11 (-pedantic) and take the seed's C
 * call shapes: mmcc_put with the options by value, mmcc_batch_put with a
 * pointer where C++ passes a reference, the seed's and our field names of
 * mmc_init_config. Links against libmmc.so and makes calls that need no
 * daemon; exits non-zero on a wrong answer.
 */
#include <stdio.h>
#include <string.h>

#include "mmc.h"
#include "mmc_client.h"
#include "mmc_def.h"
#include "mmc_service.h"

_Static_assert(sizeof(mmc_put_options) == 44, "mmc_put_options has the seed's layout");
_Static_assert(sizeof(mmc_buffer) == 32, "mmc_buffer has the seed's layout");
_Static_assert(sizeof(mmc_init_config) == 8, "mmc_init_config has the seed's layout");
_Static_assert(MAX_BLOB_COPIES == 8 && MAX_BATCH_OP_COUNT == 16384 && TLS_PATH_MAX_LEN == 255,
               "the seed's limits");

static int failed;
#define CHECK(cond, what)                                                                                           \
    do {                                                                                                            \
        if (!(cond)) {                                                                                              \
            printf("FAIL %s\n", what);                                                                              \
            failed++;                                                                                               \
        }                                                                                                           \
    } while (0)

static void quiet(int level, const char *msg)
{
    (void)level;
    (void)msg;
}

int main(void)
{
    char data[8] = "c-form";
    mmc_buffer buf = {.addr = (uint64_t)(uintptr_t)data, .type = 1, .offset = 0, .len = sizeof(data)};
    mmc_put_options opt = {.mediaType = 1, .policy = NATIVE_AFFINITY, .replicaNum = 1};
    const char *keys[1] = {"k"};
    int32_t results[1] = {1};
    CHECK(mmcc_put("k", &buf, opt, 0) == MMC_NOT_INITIALIZED, "mmcc_put by value");
    CHECK(mmcc_put_opt("k", &buf, NULL, 0) == MMC_NOT_INITIALIZED, "mmcc_put_opt");
    CHECK(mmcc_batch_put(keys, 1, &buf, &opt, 0, results) == MMC_NOT_INITIALIZED, "mmcc_batch_put by pointer");
    mmc_data_info info[1];
    CHECK(mmcc_batch_query(keys, (size_t)1, info, 0) == MMC_NOT_INITIALIZED, "mmcc_batch_query");
    mmc_init_config seed_names = {.deviceId = 0, .initBm = false};
    mmc_init_config our_names = {.device_id = 3, .init_bm = true};
    CHECK(our_names.deviceId == 3 && our_names.initBm && !seed_names.init_bm, "mmc_init_config aliases");
    mmc_client_config_t cc = {.timeOut = 5};
    CHECK(cc.timeoutSeconds == 5, "mmc_client_config_t aliases");
    mmc_meta_service_t m = NULL;
    mmc_local_service_t l = NULL;
    mmc_client_t c = NULL;
    mmcs_meta_service_stop(m);
    mmcs_local_service_stop(l);
    (void)c;
    ExternalLog fn = quiet;
    CHECK(mmc_set_extern_logger(fn) == MMC_OK, "mmc_set_extern_logger");
    local_config lc;
    mmc_local_config_init(&lc);
    CHECK(strcmp(lc.protocol, "host_tcp") == 0 && lc.world_size == 256, "mmc_local_config_init");
    char small[10];
    size_t full = mmc_local_config_format(&lc, NULL, 0);
    CHECK(full > 100 && mmc_local_config_format(&lc, small, sizeof(small)) == full && strlen(small) == 9,
          "mmc_local_config_format: snprintf's contract (full length, cut and NUL-terminated)");
    strcpy(lc.dram_size, "not-a-size");
    CHECK(mmc_setup(&lc) == MMC_CONFIG && strstr(mmc_get_last_err_msg(), "local_config.dram_size") != NULL,
          "mmc_setup names the field");
    printf("%d failed\n", failed);
    return failed == 0 ? 0 : 1;
}
