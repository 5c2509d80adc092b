/*
 * The MetaService's replica tasks and clears (meta_replica.c) in-process, as
 * test_mmc_meta.c drives the core: real codec, fake links, a test clock, and
 * meta_core_check after every request (every heap byte belongs to one
 * replica, a task's targets or a dropped replica waiting for its readers;
 * lease counts add up with the tasks' references).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memcache/common/mmc_proto.h"
#include "memcache/meta/meta_core.h"
#include "memcache/mmc_def.h"
#include "util/util_buf.h"
#include "util/util_status.h"
#include "tu_cmocka.h"

#define KiB 1024ull
#define MiB (1024ull * 1024ull)

typedef struct fake_link {
    meta_peer_t *peer;
    uint64_t owner; /* the client token its requests carry */
    uint8_t *resp;
    uint32_t resp_len;
    int32_t status;
    int answers;
    bool closed;
} fake_link_t;

static uint64_t g_now = 1000000;
static meta_core_t *g_core;
static uint64_t g_req_id;

static uint64_t test_clock(void *arg)
{
    (void)arg;
    return g_now;
}

static int32_t fl_send(void *link, const net_frame_hdr_t *hdr, const void *body, uint32_t len)
{
    fake_link_t *l = link;
    assert_true(hdr->flags & NET_FLAG_RESPONSE);
    assert_int_equal(hdr->req_id, g_req_id);
    free(l->resp);
    l->resp = malloc(len ? len : 1);
    memcpy(l->resp, body, len);
    l->resp_len = len;
    l->status = hdr->status;
    l->answers++;
    return 0;
}

static void fl_close(void *link) { ((fake_link_t *)link)->closed = true; }

static const meta_core_ops_t fl_ops = {.send = fl_send, .close = fl_close};

static void core_new(uint32_t lease_ms, uint32_t put_ms)
{
    meta_core_opts_t o;
    meta_core_opts_init(&o);
    o.lease_ttl_ms = lease_ms;
    o.put_timeout_ms = put_ms;
    o.clock = test_clock;
    assert_int_equal(meta_core_create(&o, &fl_ops, &g_core), 0);
}

static uint64_t g_next_owner = 0x5eed0000;

/* A link of a client whose token is owner (a reconnect: a new link, the same token). */
static fake_link_t *link_open_owner(uint64_t owner)
{
    fake_link_t *l = calloc(1, sizeof(*l));
    l->peer = meta_core_peer_open(g_core, l, "test");
    l->owner = owner;
    assert_non_null(l->peer);
    return l;
}

static fake_link_t *link_open(void) { return link_open_owner(++g_next_owner); }

/* reason as net reports it: SMEM_PEER_GONE (EOF), SMEM_TIMEOUT (silent past the heartbeat timeout), ... */
static void link_close_reason(fake_link_t *l, int32_t reason)
{
    meta_core_peer_close(g_core, l->peer, reason);
    free(l->resp);
    free(l);
}

static void link_close(fake_link_t *l) { link_close_reason(l, SMEM_PEER_GONE); }

static void check(void) { assert_int_equal(meta_core_check(g_core), 0); }

/* Sends a raw body; returns the frame status. */
static int32_t send_raw(fake_link_t *l, uint16_t type, const void *body, uint32_t len)
{
    net_frame_hdr_t h = {.magic = NET_FRAME_MAGIC, .version = NET_FRAME_VERSION, .type = type, .body_len = len,
                         .req_id = ++g_req_id};
    int before = l->answers;
    meta_core_dispatch(g_core, l->peer, &h, body);
    assert_int_equal(l->answers, before + 1);
    check();
    return l->status;
}

static int32_t call(fake_link_t *l, const mmc_req_t *r)
{
    util_wbuf_t w;
    util_wbuf_init(&w);
    assert_int_equal(mmc_req_encode(r, &w), 0);
    int32_t st = send_raw(l, r->type, w.p, (uint32_t)w.len);
    util_wbuf_fini(&w);
    return st;
}

static uint8_t g_host_a[MMC_HOST_ID_SIZE] = {0xa}, g_host_b[MMC_HOST_ID_SIZE] = {0xb};

static int32_t mount(fake_link_t *l, uint32_t rank, uint16_t medium, uint64_t size, const uint8_t *host)
{
    mmc_req_t r = {.type = MMC_MSG_MOUNT, .rank = rank, .medium = medium, .gva = (1ull << 40) + rank * (1ull << 34) + medium * (1ull << 33), .size = size};
    if (host) memcpy(r.host, host, MMC_HOST_ID_SIZE);
    return call(l, &r);
}

static mmc_key_ref_t kref(const char *k) { return (mmc_key_ref_t){.p = k, .len = (uint32_t)strlen(k)}; }

/* PUT_START of one key; returns its per-key status, fills loc. */
static int32_t put_start1(fake_link_t *l, uint32_t rank, const char *key, uint64_t size, uint8_t replicas,
                          const int32_t *pref, uint8_t npref, mmc_loc_t *loc)
{
    mmc_key_ref_t k = kref(key);
    mmc_req_t r = {.type = MMC_MSG_PUT_START, .rank = rank, .medium = MMC_MEDIA_DRAM, .replicas = replicas,
                   .npref = npref, .owner = l->owner, .n = 1, .keys = &k, .sizes = &size};
    for (uint8_t i = 0; i < npref; i++) r.pref[i] = pref[i];
    assert_int_equal(call(l, &r), 0);
    mmc_loc_t tmp;
    assert_int_equal(mmc_resp_locs_decode(l->resp, l->resp_len, 1, NULL, NULL, loc ? loc : &tmp), 0);
    return (loc ? loc : &tmp)->status;
}

static int32_t put_end1(fake_link_t *l, const char *key, int32_t result)
{
    mmc_key_ref_t k = kref(key);
    mmc_req_t r = {.type = MMC_MSG_PUT_END, .owner = l->owner, .n = 1, .keys = &k, .results = &result};
    assert_int_equal(call(l, &r), 0);
    int32_t st;
    assert_int_equal(mmc_resp_status_decode(l->resp, l->resp_len, 1, &st), 0);
    return st;
}

static int32_t put1(fake_link_t *l, uint32_t rank, const char *key, uint64_t size, uint8_t replicas)
{
    int32_t rc = put_start1(l, rank, key, size, replicas, NULL, 0, NULL);
    if (rc != 0) return rc;
    return put_end1(l, key, 0);
}

static int32_t get1(fake_link_t *l, uint32_t rank, const char *key, mmc_loc_t *loc, uint64_t *lease)
{
    mmc_key_ref_t k = kref(key);
    mmc_req_t r = {.type = MMC_MSG_GET, .rank = rank, .owner = l->owner, .n = 1, .keys = &k};
    assert_int_equal(call(l, &r), 0);
    mmc_loc_t tmp;
    uint64_t lid = 0;
    assert_int_equal(mmc_resp_locs_decode(l->resp, l->resp_len, 1, &lid, NULL, loc ? loc : &tmp), 0);
    if (lease) *lease = lid;
    return (loc ? loc : &tmp)->status;
}

static int32_t keys1f(fake_link_t *l, uint16_t type, const char *key, uint32_t flags)
{
    mmc_key_ref_t k = kref(key);
    mmc_req_t r = {.type = type, .n = 1, .keys = &k, .flags = flags};
    assert_int_equal(call(l, &r), 0);
    int32_t st;
    assert_int_equal(mmc_resp_status_decode(l->resp, l->resp_len, 1, &st), 0);
    return st;
}

static int32_t keys1(fake_link_t *l, uint16_t type, const char *key) { return keys1f(l, type, key, 0); }

static int32_t release1(fake_link_t *l, uint64_t id)
{
    mmc_req_t r = {.type = MMC_MSG_LEASE_RELEASE, .owner = l->owner, .n = 1, .ids = &id};
    assert_int_equal(call(l, &r), 0);
    int32_t st;
    assert_int_equal(mmc_resp_status_decode(l->resp, l->resp_len, 1, &st), 0);
    return st;
}

static mmc_stats_t stats(void)
{
    mmc_stats_t st;
    meta_core_stats(g_core, &st);
    return st;
}

static uint64_t used(void) { return stats().media[MMC_MEDIA_DRAM].used; }

static fake_link_t *g_ls[3];

static int teardown(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 3; i++)
        if (g_ls[i] != NULL) {
            link_close(g_ls[i]);
            g_ls[i] = NULL;
        }
    meta_core_destroy(g_core);
    g_core = NULL;
    return 0;
}

static int32_t put_on(fake_link_t *l, const char *key, uint64_t size, const int32_t *on, uint8_t n)
{
    int32_t rc = put_start1(l, UINT32_MAX, key, size, n, on, n, NULL);
    return rc != 0 ? rc : put_end1(l, key, 0);
}

/* REPLICA_START; returns loc[0].status, fills locs[1 + ntgt] and *task. */
static int32_t start(fake_link_t *l, const char *key, uint32_t src, uint8_t mode, const int32_t *tgt, uint8_t n,
                     mmc_loc_t *locs, uint64_t *task)
{
    mmc_key_ref_t k = kref(key);
    mmc_req_t r = {.type = MMC_MSG_REPLICA_START, .owner = l->owner, .rank = src, .replicas = mode, .npref = n,
                   .n = 1, .keys = &k};
    for (uint8_t i = 0; i < n; i++) r.pref[i] = tgt[i];
    assert_int_equal(call(l, &r), 0);
    assert_int_equal(mmc_resp_locs_decode(l->resp, l->resp_len, 1u + n, task, NULL, locs), 0);
    return locs[0].status;
}

static int32_t end(fake_link_t *l, uint64_t task, int32_t result)
{
    mmc_req_t r = {.type = MMC_MSG_REPLICA_END, .owner = l->owner, .n = 1, .ids = &task, .results = &result};
    assert_int_equal(call(l, &r), 0);
    int32_t st;
    assert_int_equal(mmc_resp_status_decode(l->resp, l->resp_len, 1, &st), 0);
    return st;
}

static int32_t clear1(fake_link_t *l, uint32_t rank, const char *key)
{
    mmc_key_ref_t k = kref(key);
    mmc_req_t r = {.type = MMC_MSG_REPLICA_CLEAR, .rank = rank, .n = 1, .keys = &k};
    assert_int_equal(call(l, &r), 0);
    int32_t st;
    assert_int_equal(mmc_resp_status_decode(l->resp, l->resp_len, 1, &st), 0);
    return st;
}

static uint32_t nrep(fake_link_t *l, const char *key, uint32_t *ranks)
{
    mmc_key_ref_t k = kref(key);
    mmc_req_t r = {.type = MMC_MSG_QUERY, .n = 1, .keys = &k};
    assert_int_equal(call(l, &r), 0);
    mmc_loc_t loc;
    assert_int_equal(mmc_resp_locs_decode(l->resp, l->resp_len, 1, NULL, NULL, &loc), 0);
    for (uint32_t i = 0; ranks && i < loc.nrep; i++) ranks[i] = loc.rep[i].rank;
    return loc.status == 0 ? loc.nrep : 0;
}

static void cluster(void)
{
    core_new(1000, 3000);
    for (uint32_t i = 0; i < 3; i++) {
        g_ls[i] = link_open();
        assert_int_equal(mount(g_ls[i], i, MMC_MEDIA_DRAM, 1 * MiB, i ? g_host_b : g_host_a), 0);
    }
}

static const int32_t R0[] = {0}, R1[] = {1}, R2[] = {2}, R12[] = {1, 2}, R01[] = {0, 1};

static void test_copy_publish_skip_busy(void **state)
{
    (void)state;
    cluster();
    fake_link_t *c = link_open(), *other = link_open();
    mmc_loc_t locs[4];
    uint64_t task = 0;
    assert_int_equal(put_on(c, "k", 10 * KiB, R0, 1), 0);
    uint64_t one = used();
    assert_int_equal(start(c, "k", UINT32_MAX, MMC_REPLICA_MODE_COPY, R12, 2, locs, &task), 0);
    assert_int_not_equal(task, 0);
    assert_int_equal(locs[0].nrep, 1);
    assert_int_equal(locs[0].rep[0].rank, 0);
    assert_int_equal(locs[0].size, 10 * KiB);
    assert_int_equal(locs[1].status, 0);
    assert_int_equal(locs[1].rep[0].rank, 1);
    assert_int_equal(locs[2].rep[0].rank, 2);
    assert_int_equal(used(), 3 * one);                 /* allocated ... */
    assert_int_equal(nrep(c, "k", NULL), 1);           /* ... but not visible yet */
    assert_int_equal(keys1(c, MMC_MSG_REMOVE, "nope"), MMC_KEY_NOT_FOUND);
    assert_int_equal(clear1(c, 0, "k"), MMC_UNMATCHED_STATE); /* the copy reads it */
    uint64_t t1 = 1;
    assert_int_equal(start(c, "k", UINT32_MAX, MMC_REPLICA_MODE_COPY, R1, 1, locs, &t1), MMC_UNMATCHED_STATE);
    assert_int_equal(t1, 0);
    assert_int_equal(nrep(c, "k", NULL), 1);
    assert_int_equal(end(other, task, 0), MMC_LEASE_NOT_OWNER);
    assert_int_equal(end(c, task, 0), 0);
    uint32_t ranks[8];
    assert_int_equal(nrep(c, "k", ranks), 3);
    assert_int_equal(ranks[1] + ranks[2], 3);
    assert_int_equal(end(c, task, 0), MMC_LINK_NOT_FOUND); /* finished */
    /* every target holds it: nothing to copy, no task */
    assert_int_equal(start(c, "k", UINT32_MAX, MMC_REPLICA_MODE_COPY, R12, 2, locs, &task), 0);
    assert_int_equal(task, 0);
    assert_int_equal(locs[1].status, MMC_DUPLICATED_OBJECT);
    assert_int_equal(start(c, "nope", UINT32_MAX, MMC_REPLICA_MODE_COPY, R1, 1, locs, &task), MMC_KEY_NOT_FOUND);
    const int32_t R5[] = {5};
    assert_int_equal(start(c, "k", UINT32_MAX, MMC_REPLICA_MODE_COPY, R5, 1, locs, &task), MMC_LINK_NOT_FOUND);
    assert_int_equal(used(), 3 * one);
    link_close(other);
    link_close(c);
}

static void test_copy_abort_deadline_full(void **state)
{
    (void)state;
    cluster();
    fake_link_t *c = link_open();
    mmc_loc_t locs[4];
    uint64_t task;
    assert_int_equal(put_on(c, "k", 100 * KiB, R0, 1), 0);
    uint64_t one = used();
    assert_int_equal(start(c, "k", UINT32_MAX, MMC_REPLICA_MODE_COPY, R1, 1, locs, &task), 0);
    assert_int_equal(end(c, task, MMC_TIMEOUT), 0); /* the copy failed: aborted */
    assert_int_equal(used(), one);
    assert_int_equal(nrep(c, "k", NULL), 1);
    assert_int_equal(start(c, "k", UINT32_MAX, MMC_REPLICA_MODE_COPY, R1, 1, locs, &task), 0);
    g_now += 3001;
    meta_core_tick(g_core);
    check();
    assert_int_equal(used(), one);
    assert_int_equal(end(c, task, 0), MMC_LINK_NOT_FOUND);
    /* rank 2 full: its whole 1 MiB taken */
    assert_int_equal(put_on(c, "fill", 1 * MiB, R2, 1), 0);
    assert_int_equal(start(c, "k", UINT32_MAX, MMC_REPLICA_MODE_COPY, R12, 2, locs, &task), MMC_NOT_ENOUGH_MEMORY);
    assert_int_equal(locs[2].status, MMC_NOT_ENOUGH_MEMORY);
    assert_int_equal(used(), one + 1 * MiB); /* rank 1's allocation was undone too */
    assert_int_equal(put_on(c, "huge", 2 * MiB, R0, 1), MMC_EXCEEDS_CAPACITY);
    link_close(c);
}

static void test_copy_target_or_source_leaves(void **state)
{
    (void)state;
    cluster();
    fake_link_t *c = link_open();
    mmc_loc_t locs[4];
    uint64_t task;
    assert_int_equal(put_on(c, "k", 10 * KiB, R01, 2), 0);
    assert_int_equal(start(c, "k", 0, MMC_REPLICA_MODE_COPY, R2, 1, locs, &task), 0);
    assert_int_equal(locs[0].nrep, 1); /* the named source only */
    link_close(g_ls[2]);                /* the target leaves */
    g_ls[2] = NULL;
    check();
    assert_int_equal(end(c, task, 0), MMC_LEASE_LOST);
    assert_int_equal(nrep(c, "k", NULL), 2);
    g_ls[2] = link_open();
    assert_int_equal(mount(g_ls[2], 2, MMC_MEDIA_DRAM, 1 * MiB, g_host_b), 0);
    assert_int_equal(start(c, "k", 0, MMC_REPLICA_MODE_COPY, R2, 1, locs, &task), 0);
    link_close(g_ls[0]);                /* the source leaves */
    g_ls[0] = NULL;
    assert_int_equal(end(c, task, 0), MMC_LEASE_LOST);
    assert_int_equal(nrep(c, "k", NULL), 1);
    /* removed during the copy: it stays removed, the space comes back */
    assert_int_equal(start(c, "k", UINT32_MAX, MMC_REPLICA_MODE_COPY, R2, 1, locs, &task), 0);
    /* a copy holds its object like a read lease: a plain remove is refused, a forced one goes */
    assert_int_equal(keys1(c, MMC_MSG_REMOVE, "k"), MMC_LEASE_NOT_EXPIRED);
    assert_int_equal(keys1f(c, MMC_MSG_REMOVE, "k", MMC_PF_FORCE), 0);
    assert_int_equal(keys1(c, MMC_MSG_EXIST, "k"), MMC_KEY_NOT_FOUND);
    assert_int_equal(end(c, task, 0), MMC_KEY_NOT_FOUND);
    assert_int_equal(used(), 0);
    assert_int_equal(stats().objects, 0);
    link_close(c);
}

static void test_move_under_a_reader_lease(void **state)
{
    (void)state;
    cluster();
    fake_link_t *c = link_open(), *reader = link_open();
    mmc_loc_t locs[2], loc;
    uint64_t task, lease;
    assert_int_equal(put_on(c, "m", 64 * KiB, R0, 1), 0); /* one slot: the copy grows the object */
    uint64_t one = used();
    assert_int_equal(get1(reader, 0, "m", &loc, &lease), 0);
    assert_int_equal(start(c, "m", 0, MMC_REPLICA_MODE_MOVE, R1, 1, locs, &task), 0);
    assert_int_equal(end(c, task, 0), 0);
    uint32_t ranks[8];
    assert_int_equal(nrep(c, "m", ranks), 1);
    assert_int_equal(ranks[0], 1);
    assert_int_equal(used(), 2 * one);          /* the source waits for the reader */
    assert_int_equal(release1(reader, lease), 0); /* its read is proven: the bytes stayed */
    g_now += 1001;
    meta_core_tick(g_core);
    check();
    assert_int_equal(used(), one);
    /* a move to a target that holds it already: only the drop */
    assert_int_equal(start(c, "m", 1, MMC_REPLICA_MODE_COPY, R0, 1, locs, &task), 0);
    assert_int_equal(end(c, task, 0), 0);
    assert_int_equal(nrep(c, "m", NULL), 2);
    assert_int_equal(start(c, "m", 0, MMC_REPLICA_MODE_MOVE, R1, 1, locs, &task), 0);
    assert_int_equal(task, 0);
    assert_int_equal(nrep(c, "m", ranks), 1);
    assert_int_equal(ranks[0], 1);
    assert_int_equal(start(c, "m", 2, MMC_REPLICA_MODE_MOVE, R0, 1, locs, &task), MMC_LINK_NOT_FOUND);
    assert_int_equal(start(c, "m", 1, MMC_REPLICA_MODE_MOVE, R1, 1, locs, &task), MMC_INVALID_PARAM);
    link_close(reader);
    link_close(c);
}

static void test_grow_repoints_leases(void **state)
{
    (void)state;
    cluster();
    fake_link_t *c = link_open(), *reader = link_open();
    mmc_loc_t locs[3], loc;
    uint64_t task, lease;
    char key[40];
    for (int i = 0; i < 50; i++) { /* neighbours in the table and the index */
        snprintf(key, sizeof(key), "g/%02d", i);
        assert_int_equal(put_on(c, key, 1000, R0, 1), 0);
    }
    assert_int_equal(get1(reader, 0, "g/17", &loc, &lease), 0);
    assert_int_equal(start(c, "g/17", UINT32_MAX, MMC_REPLICA_MODE_COPY, R12, 2, locs, &task), 0);
    assert_int_equal(end(c, task, 0), 0);
    assert_int_equal(nrep(c, "g/17", NULL), 3);
    assert_int_equal(keys1(c, MMC_MSG_EXIST, "g/16"), 0);
    assert_int_equal(keys1(c, MMC_MSG_EXIST, "g/18"), 0);
    assert_int_equal(release1(reader, lease), 0);
    assert_int_equal(get1(reader, 2, "g/17", &loc, NULL), 0);
    assert_int_equal(loc.nrep, 3);
    assert_int_equal(keys1f(c, MMC_MSG_REMOVE, "g/17", MMC_PF_FORCE), 0); /* the last get's lease is held */
    link_close(reader);
    link_close(c);
}

static void test_clear(void **state)
{
    (void)state;
    cluster();
    fake_link_t *c = link_open(), *reader = link_open();
    mmc_loc_t loc;
    uint64_t lease;
    assert_int_equal(put_on(c, "c", 8 * KiB, R12, 2), 0);
    uint64_t two = used();
    assert_int_equal(get1(reader, 1, "c", &loc, &lease), 0);
    assert_int_equal(clear1(c, 1, "c"), 0);
    uint32_t ranks[8];
    assert_int_equal(nrep(c, "c", ranks), 1);
    assert_int_equal(ranks[0], 2);
    assert_int_equal(used(), two); /* rank 1's bytes wait for the reader */
    assert_int_equal(clear1(c, 1, "c"), MMC_LINK_NOT_FOUND);
    assert_int_equal(release1(reader, lease), 0);
    g_now += 1001;
    meta_core_tick(g_core);
    check();
    assert_int_equal(used(), two / 2);
    assert_int_equal(clear1(c, 2, "c"), 0); /* the last replica: the key goes */
    assert_int_equal(keys1(c, MMC_MSG_EXIST, "c"), MMC_KEY_NOT_FOUND);
    assert_int_equal(used(), 0);
    assert_int_equal(put_on(c, "c", 8 * KiB, R12, 2), 0);
    assert_int_equal(clear1(c, UINT32_MAX, "c"), 0);
    assert_int_equal(keys1(c, MMC_MSG_EXIST, "c"), MMC_KEY_NOT_FOUND);
    assert_int_equal(clear1(c, UINT32_MAX, "c"), MMC_KEY_NOT_FOUND);
    assert_int_equal(put_start1(c, UINT32_MAX, "w", 100, 1, NULL, 0, NULL), 0);
    assert_int_equal(clear1(c, UINT32_MAX, "w"), MMC_UNMATCHED_STATE); /* being written */
    assert_int_equal(put_end1(c, "w", 0), 0);
    assert_int_equal(put1(c, 0, "x", 100, 1), 0);
    link_close(reader);
    link_close(c);
}

static void test_codec(void **state)
{
    (void)state;
    util_wbuf_t w;
    mmc_key_ref_t k = kref("key");
    mmc_req_t r = {.type = MMC_MSG_REPLICA_START, .owner = 9, .rank = UINT32_MAX, .replicas = MMC_REPLICA_MODE_MOVE,
                   .npref = 2, .pref = {1, 2}, .n = 1, .keys = &k};
    util_wbuf_init(&w);
    assert_int_equal(mmc_req_encode(&r, &w), MMC_INVALID_PARAM); /* a move has one target */
    r.replicas = MMC_REPLICA_MODE_COPY;
    w.len = 0;
    assert_int_equal(mmc_req_encode(&r, &w), 0);
    mmc_req_t d;
    assert_int_equal(mmc_req_decode(MMC_MSG_REPLICA_START, w.p, w.len, &d), 0);
    assert_int_equal(d.npref, 2);
    assert_int_equal(d.pref[1], 2);
    assert_int_equal(d.rank, UINT32_MAX);
    assert_int_equal(d.keys[0].len, 3);
    mmc_req_fini(&d);
    assert_int_not_equal(mmc_req_decode(MMC_MSG_REPLICA_START, w.p, w.len - 1, &d), 0);
    r.replicas = 7;
    w.len = 0;
    assert_int_equal(mmc_req_encode(&r, &w), MMC_INVALID_PARAM);
    util_wbuf_fini(&w);
    assert_string_equal(mmc_msg_name(MMC_MSG_REPLICA_CLEAR), "REPLICA_CLEAR");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test_teardown(test_copy_publish_skip_busy, teardown),
        cmocka_unit_test_teardown(test_copy_abort_deadline_full, teardown),
        cmocka_unit_test_teardown(test_copy_target_or_source_leaves, teardown),
        cmocka_unit_test_teardown(test_move_under_a_reader_lease, teardown),
        cmocka_unit_test_teardown(test_grow_repoints_leases, teardown),
        cmocka_unit_test_teardown(test_clear, teardown),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
