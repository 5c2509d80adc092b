/* gva fd passing: the wire decoders, and exporter/importer between two windows of one process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "gva/gva.h"
#include "gva/gva_proto.h"
#include "testutil.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "tu_cmocka.h"

#define MiB (1ull << 20)

#define assert_err_contains(s)                                                                 \
    do {                                                                                       \
        if (strstr(util_err_get(), (s)) == NULL) fail_msg("'%s' not in '%s'", (s), util_err_get()); \
    } while (0)

static void test_proto_req(void **state)
{
    (void)state;
    gva_proto_req_t in = {.kind = GVA_KIND_DEVICE, .from_rank = 7, .to_rank = 1023}, out;
    uint8_t b[GVA_PROTO_REQ_SIZE + 1];
    gva_proto_req_encode(&in, b);
    assert_memory_equal(b, "GVAQ", 4);
    assert_int_equal(gva_proto_req_decode(b, GVA_PROTO_REQ_SIZE, &out), SMEM_OK);
    assert_int_equal(out.kind, GVA_KIND_DEVICE);
    assert_int_equal(out.from_rank, 7);
    assert_int_equal(out.to_rank, 1023);
    assert_int_equal(gva_proto_req_decode(b, 8, &out), SMEM_PROTOCOL);
    assert_err_contains("truncated");
    assert_int_equal(gva_proto_req_decode(b, 0, &out), SMEM_PROTOCOL);
    assert_int_equal(gva_proto_req_decode(b, GVA_PROTO_REQ_SIZE + 1, &out), SMEM_PROTOCOL);
    b[0] ^= 1;
    assert_int_equal(gva_proto_req_decode(b, GVA_PROTO_REQ_SIZE, &out), SMEM_PROTOCOL);
    assert_err_contains("bad magic");
    b[0] ^= 1;
    b[4] = 2; /* version */
    assert_int_equal(gva_proto_req_decode(b, GVA_PROTO_REQ_SIZE, &out), SMEM_PROTOCOL);
    assert_err_contains("version 2");
    b[4] = 1;
    b[6] = 9; /* kind */
    assert_int_equal(gva_proto_req_decode(b, GVA_PROTO_REQ_SIZE, &out), SMEM_PROTOCOL);
    b[6] = 0;
    b[13] = 4; /* to_rank 1024 */
    assert_int_equal(gva_proto_req_decode(b, GVA_PROTO_REQ_SIZE, &out), SMEM_PROTOCOL);
}

static void test_proto_resp(void **state)
{
    (void)state;
    gva_proto_resp_t in = {.kind = GVA_KIND_HOST, .status = 0, .rank = 3, .size = 4 * MiB, .page_size = 4096,
                           .flags = 0, .host = {.boot_id = {9, 8, 7}, .netns_ino = 4026531833ull}};
    gva_proto_resp_t out;
    uint8_t b[GVA_PROTO_RESP_SIZE];
    gva_proto_resp_encode(&in, b);
    assert_int_equal(gva_proto_resp_decode(b, sizeof(b), &out), SMEM_OK);
    assert_int_equal(out.rank, 3);
    assert_int_equal(out.size, 4 * MiB);
    assert_true(gva_host_id_equal(&out.host, &in.host));
    assert_int_equal(gva_proto_resp_decode(b, sizeof(b) - 1, &out), SMEM_PROTOCOL);

    gva_proto_resp_t bad = in;
    bad.page_size = 4097;
    gva_proto_resp_encode(&bad, b);
    assert_int_equal(gva_proto_resp_decode(b, sizeof(b), &out), SMEM_PROTOCOL);
    assert_err_contains("page size 4097");
    bad = in;
    bad.size = 4096 * 3 + 1;
    gva_proto_resp_encode(&bad, b);
    assert_int_equal(gva_proto_resp_decode(b, sizeof(b), &out), SMEM_PROTOCOL);
    bad = in;
    bad.flags = 0x10;
    gva_proto_resp_encode(&bad, b);
    assert_int_equal(gva_proto_resp_decode(b, sizeof(b), &out), SMEM_PROTOCOL);
    bad = in;
    bad.status = 5;
    gva_proto_resp_encode(&bad, b);
    assert_int_equal(gva_proto_resp_decode(b, sizeof(b), &out), SMEM_PROTOCOL);
    /* An error reply needs no size; it decodes and carries the status. */
    bad = (gva_proto_resp_t){.kind = GVA_KIND_HOST, .status = SMEM_NOT_STARTED, .rank = 3};
    gva_proto_resp_encode(&bad, b);
    assert_int_equal(gva_proto_resp_decode(b, sizeof(b), &out), SMEM_OK);
    assert_int_equal(out.status, SMEM_NOT_STARTED);
    gva_proto_resp_encode(&in, b);
    b[36] = 1; /* reserved */
    assert_int_equal(gva_proto_resp_decode(b, sizeof(b), &out), SMEM_PROTOCOL);
}

static gva_window_t *window_with_seg(const char *ns, uint32_t rank, uint64_t local)
{
    gva_window_cfg_t cfg = {.kind = GVA_KIND_HOST, .world_max = 4, .local_rank = rank, .stride = 8 * MiB, .ns = ns};
    gva_window_t *w = NULL;
    assert_int_equal(gva_window_propose(&cfg, &w), SMEM_OK);
    if (local != 0) {
        gva_seg_t *seg = NULL;
        assert_int_equal(gva_seg_create(&gva_seg_host_ops, local, 0, &seg), SMEM_OK);
        assert_int_equal(gva_window_attach_local(w, seg), SMEM_OK);
    }
    return w;
}

/* Connect to the exporter of (ns, host, rank) and send raw bytes (n < 0: send nothing). */
static int raw_client(const char *ns, uint32_t rank, const void *bytes, ssize_t n)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int len = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "smem-gva/%s/host/%u.%016x", ns, rank, 0u);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    assert_int_equal(connect(s, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)),
                     0);
    if (n >= 0) assert_int_equal(send(s, bytes, (size_t)n, MSG_NOSIGNAL), n);
    return s;
}

static void test_export_import_in_process(void **state)
{
    (void)state;
    char ns[64];
    snprintf(ns, sizeof(ns), "test_gva_export.%d", (int)getpid());
    gva_window_t *w0 = window_with_seg(ns, 0, 4 * MiB);
    gva_window_t *w1 = window_with_seg(ns, 1, 2 * MiB);
    assert_int_equal(gva_export_start(w0, 0), SMEM_OK);
    assert_int_equal(gva_export_start(w0, 0), SMEM_REPEAT_CALL);
    gva_window_t *dup = window_with_seg(ns, 0, 2 * MiB); /* same name on this host */
    assert_int_equal(gva_export_start(dup, 0), SMEM_RESOURCE_IN_USE);
    assert_err_contains("smem-gva/");
    gva_window_destroy(dup);
    gva_window_t *bare = window_with_seg("bare", 2, 0);
    assert_int_equal(gva_export_start(bare, 0), SMEM_NOT_STARTED);
    gva_window_destroy(bare);

    /* Garbage first: the exporter drops it with a WARN and keeps serving. */
    int old = util_log_level_get();
    tu_log_capture_start(UTIL_LOG_WARN);
    close(raw_client(ns, 0, "hello, exporter", 15));
    uint8_t req[GVA_PROTO_REQ_SIZE];
    gva_proto_req_encode(&(gva_proto_req_t){.kind = GVA_KIND_HOST, .from_rank = 1, .to_rank = 0}, req);
    close(raw_client(ns, 0, req, 10));
    gva_proto_req_encode(&(gva_proto_req_t){.kind = GVA_KIND_HOST, .from_rank = 1, .to_rank = 3}, req);
    int s = raw_client(ns, 0, req, sizeof(req)); /* asks the wrong rank: error reply, no fd */
    uint8_t resp_buf[GVA_PROTO_RESP_SIZE];
    assert_int_equal(recv(s, resp_buf, sizeof(resp_buf), 0), (ssize_t)sizeof(resp_buf));
    gva_proto_resp_t resp;
    assert_int_equal(gva_proto_resp_decode(resp_buf, sizeof(resp_buf), &resp), SMEM_OK);
    assert_int_equal(resp.status, SMEM_INVALID_PARAM);
    close(s);

    assert_int_equal(gva_window_import_peer(w1, 0, 0, 5000), SMEM_OK);
    tu_log_capture_stop();
    util_log_level_set(old);
    assert_true(tu_log_contains("dropped 15 bytes"));
    assert_true(tu_log_contains("request of 10 bytes, expected 16 (truncated)"));
    assert_true(tu_log_contains("asked for the host window of rank 3"));

    /* One memory: written through w0's slot 0, read through w1's slot 0. */
    uint8_t *mine = (uint8_t *)(uintptr_t)gva_window_slot(w0, 0);
    uint8_t *theirs = (uint8_t *)(uintptr_t)gva_window_slot(w1, 0);
    for (size_t i = 0; i < 4 * MiB; i += 4096) mine[i] = (uint8_t)(i >> 12);
    for (size_t i = 0; i < 4 * MiB; i += 4096) assert_int_equal(theirs[i], (uint8_t)(i >> 12));
    gva_rank_info_t info;
    assert_int_equal(gva_window_rank_info(w1, 0, &info), SMEM_OK);
    assert_int_equal(info.state, GVA_RANK_MAPPED);
    assert_int_equal(info.size, 4 * MiB);
    gva_loc_t loc;
    assert_int_equal(gva_translate((uint64_t)(uintptr_t)theirs + 4 * MiB - 1, 1, &loc), SMEM_OK);
    assert_int_equal(gva_translate((uint64_t)(uintptr_t)theirs + 4 * MiB, 1, &loc), SMEM_OUT_OF_RANGE);

    assert_int_equal(gva_window_import_peer(w1, 0, 0, 1000), SMEM_DUPLICATED_OBJECT);
    assert_int_equal(gva_window_import_peer(w1, 1, 0, 1000), SMEM_INVALID_PARAM);
    uint64_t t0 = (uint64_t)time(NULL);
    assert_int_equal(gva_window_import_peer(w1, 3, 0, 200), SMEM_CONN_FAILED); /* nobody exports rank 3 */
    assert_err_contains("no exporter at @smem-gva/");
    assert_true((uint64_t)time(NULL) - t0 <= 2);

    /* After the exporter stops, a new import fails; existing mappings stay valid until unmapped. */
    gva_export_stop(w0);
    gva_export_stop(w0);
    assert_int_equal(gva_window_unmap_rank(w1, 0, 1000), SMEM_OK);
    assert_int_equal(gva_window_import_peer(w1, 0, 0, 100), SMEM_CONN_FAILED);
    assert_int_equal(mine[4096], 1);
    gva_window_destroy(w1);
    gva_window_destroy(w0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_req),
        cmocka_unit_test(test_proto_resp),
        cmocka_unit_test(test_export_import_in_process),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
