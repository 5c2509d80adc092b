/*
 * Fuzz target for what the SHM API reads back from the config store that
 * other processes wrote (smem_shm_rec.h): a rank's extra-context record
 * and the id pool's answer. First byte, bit 0:
 *  - 0, context: [u32 cap][u8 b][value]. The value goes to
 *    sm_shm_ctx_decode with a buffer of exactly cap bytes (cap taken
 *    modulo SMEM_SHM_CONTEXT_MAX + 2); with b bit 0 the value is repeated
 *    out to SMEM_SHM_CONTEXT_MAX + its own length, past the limit. A
 *    success copies the whole record, within the limits, and nothing else;
 *    a failure leaves buf and size untouched.
 *  - 1, id: [u32 value][u32 limit] to sm_shm_id_check.
 * Errors are SMEM_PROTOCOL or SMEM_INVALID_PARAM, always with a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smem/host/smem_shm_def.h"
#include "smem/smem_shm_rec.h"
#include "util/util_buf.h"
#include "util/util_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_shm_rec: %s\n", what);
    abort();
}

static uint8_t pattern[SMEM_SHM_CONTEXT_MAX + 2]; /* what buf holds before the call: 0xa5 bytes */

static void run_ctx(const uint8_t *d, size_t size)
{
    if (size < 5) return;
    uint32_t cap = util_get_le32(d) % (SMEM_SHM_CONTEXT_MAX + 2);
    uint8_t b = d[4];
    d += 5;
    size -= 5;
    size_t len = size;
    if ((b & 1) && size > 0) len = SMEM_SHM_CONTEXT_MAX + size;
    /* exact sizes, so ASan sees any access past the record or the buffer */
    uint8_t *val = malloc(len ? len : 1), *buf = malloc(cap ? cap : 1);
    if (val == NULL || buf == NULL) abort();
    for (size_t at = 0; at < len; at += size) memcpy(val + at, d, len - at < size ? len - at : size);
    if (pattern[0] != 0xa5) memset(pattern, 0xa5, sizeof(pattern));
    memcpy(buf, pattern, cap);
    uint32_t got = 0xdeadbeefu;
    util_err_clear();
    int32_t rc = sm_shm_ctx_decode(7, 3, len ? val : NULL, (uint32_t)len, buf, cap, &got);
    if (rc == SMEM_OK) {
        if (len == 0 || len > SMEM_SHM_CONTEXT_MAX || len > cap) fail("accepted a record outside the limits");
        if (got != len || memcmp(buf, val, len) != 0) fail("the copy is not the record");
        if (memcmp(buf + len, pattern, cap - len) != 0) fail("wrote past the record");
    } else {
        if (rc != SMEM_PROTOCOL && rc != SMEM_INVALID_PARAM) fail("unexpected status");
        if (util_err_get()[0] == '\0') fail("an error without a message");
        if (got != 0xdeadbeefu) fail("size written on failure");
        if (memcmp(buf, pattern, cap) != 0) fail("buffer written on failure");
        if (len >= 1 && len <= SMEM_SHM_CONTEXT_MAX && len <= cap) fail("rejected a good record");
    }
    free(val);
    free(buf);
}

static void run_id(const uint8_t *d, size_t size)
{
    if (size < 8) return;
    uint32_t value = util_get_le32(d), limit = util_get_le32(d + 4);
    util_err_clear();
    int32_t rc = sm_shm_id_check(7, value, limit);
    if ((rc == SMEM_OK) != (value < limit)) fail("id check disagrees with value < limit");
    if (rc != SMEM_OK && (rc != SMEM_PROTOCOL || util_err_get()[0] == '\0')) fail("bad id answer error");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1)
        run_id(data + 1, size - 1);
    else
        run_ctx(data + 1, size - 1);
    return 0;
}
