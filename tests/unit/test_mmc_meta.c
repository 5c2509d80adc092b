/*
 * MetaService logic in-process, without sockets: requests are encoded with
 * the real codec, fed to meta_core_dispatch from fake links, and the answers
 * decoded with the client's decoders. Time is a test clock. After every step
 * meta_core_check verifies the cross-structure invariants (every allocated
 * byte belongs to exactly one replica, counters, lists).
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
    mmc_req_t r = {.type = type, .flags = flags, .n = 1, .keys = &k};
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

static int teardown(void **state)
{
    (void)state;
    meta_core_destroy(g_core);
    g_core = NULL;
    return 0;
}

/* ---------- tests ---------- */

static void test_two_phase_put_write_once(void **state)
{
    (void)state;
    core_new(10000, 30000);
    fake_link_t *a = link_open(), *b = link_open(), *c = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 1 * MiB, g_host_a), 0);
    assert_int_equal(mount(b, 1, MMC_MEDIA_DRAM, 1 * MiB, g_host_a), 0);
    assert_int_equal(mount(c, 2, MMC_MEDIA_DRAM, 1 * MiB, g_host_b), 0);
    assert_int_equal(mount(c, 2, MMC_MEDIA_DRAM, 1 * MiB, g_host_b), MMC_DUPLICATED_OBJECT);
    /* one link, one rank: other ranks, or ranks beyond any BM world, are refused (segments stay few) */
    assert_int_equal(mount(c, 3, MMC_MEDIA_DRAM, 1 * MiB, g_host_b), MMC_INVALID_PARAM);
    assert_int_equal(mount(c, 2, MMC_MEDIA_HBM, 1 * MiB, g_host_b), 0);
    {
        fake_link_t *e = link_open();
        assert_int_equal(mount(e, MMC_RANK_MAX, MMC_MEDIA_DRAM, 1 * MiB, g_host_b), MMC_INVALID_PARAM);
        for (uint32_t r = 100; r < 140; r++) (void)mount(e, r, MMC_MEDIA_DRAM, 4096, g_host_b);
        mmc_stats_t st2 = stats();
        assert_true(st2.segments <= 5); /* a, b, c's two and at most one of e's */
        link_close(e);
    }

    mmc_loc_t loc;
    assert_int_equal(put_start1(b, 1, "k1", 10000, 2, NULL, 0, &loc), 0);
    assert_int_equal(loc.state, MMC_STATE_WRITING);
    assert_int_equal(loc.nrep, 2);
    assert_int_equal(loc.rep[0].rank, 1); /* the writer's own segment first */
    assert_int_not_equal(loc.rep[1].rank, 1);
    /* Not readable before PUT_END. */
    assert_int_equal(get1(a, 0, "k1", NULL, NULL), MMC_UNMATCHED_STATE); /* the seed's lease code */
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "k1"), MMC_OBJECT_NOT_READY);
    /* A second put while WRITING: "exists", nothing changes. */
    uint64_t used = stats().media[MMC_MEDIA_DRAM].used;
    assert_int_equal(put_start1(a, 0, "k1", 5000, 1, NULL, 0, NULL), MMC_DUPLICATED_OBJECT);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, used);
    /* Only the writer may finish it; REMOVE of a WRITING key is refused. */
    assert_int_equal(put_end1(a, "k1", 0), MMC_UNMATCHED_STATE);
    assert_int_equal(keys1(a, MMC_MSG_REMOVE, "k1"), MMC_UNMATCHED_STATE);
    assert_int_equal(put_end1(b, "k1", 0), 0);
    assert_int_equal(put_end1(b, "k1", 0), MMC_UNMATCHED_STATE); /* already READY */
    assert_int_equal(put_end1(b, "nope", 0), MMC_KEY_NOT_FOUND);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "k1"), 0);
    uint64_t lease;
    assert_int_equal(get1(a, 0, "k1", &loc, &lease), 0);
    assert_int_equal(loc.size, 10000);
    assert_int_equal(loc.nrep, 2);
    assert_int_not_equal(lease, 0);
    /* Write-once after READY too. */
    assert_int_equal(put_start1(c, 2, "k1", 99, 1, NULL, 0, NULL), MMC_DUPLICATED_OBJECT);
    assert_int_equal(get1(a, 0, "k1", &loc, NULL), 0);
    assert_int_equal(loc.size, 10000);
    /* PUT_END with a failure result aborts and frees. */
    used = stats().media[MMC_MEDIA_DRAM].used;
    assert_int_equal(put_start1(a, 0, "k2", 3 * 4096, 1, NULL, 0, NULL), 0);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, used + 3 * 4096);
    assert_int_equal(put_end1(a, "k2", MMC_TIMEOUT), 0);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, used);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "k2"), MMC_KEY_NOT_FOUND);
    /* QUERY shows the info. */
    mmc_key_ref_t k = kref("k1");
    mmc_req_t q = {.type = MMC_MSG_QUERY, .n = 1, .keys = &k};
    assert_int_equal(call(a, &q), 0);
    assert_int_equal(mmc_resp_locs_decode(a->resp, a->resp_len, 1, NULL, NULL, &loc), 0);
    assert_int_equal(loc.status, 0);
    assert_int_equal(loc.state, MMC_STATE_READY);
    assert_int_equal(loc.size, 10000);
    assert_int_equal(loc.leases, 2);
    link_close(a);
    link_close(b);
    link_close(c);
    check();
}

static void test_replica_placement(void **state)
{
    (void)state;
    core_new(10000, 30000);
    fake_link_t *l[4];
    for (uint32_t i = 0; i < 4; i++) {
        l[i] = link_open();
        assert_int_equal(mount(l[i], i, MMC_MEDIA_DRAM, 256 * KiB, i < 2 ? g_host_a : g_host_b), 0);
    }
    mmc_loc_t loc;
    /* Many puts with 3 replicas: always on 3 distinct LocalServices. */
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof(key), "r3-%d", i);
        assert_int_equal(put_start1(l[i % 4], (uint32_t)(i % 4), key, 4096, 3, NULL, 0, &loc), 0);
        assert_int_equal(loc.nrep, 3);
        assert_int_equal(loc.rep[0].rank, (uint32_t)(i % 4));
        assert_true(loc.rep[0].rank != loc.rep[1].rank && loc.rep[1].rank != loc.rep[2].rank &&
                    loc.rep[0].rank != loc.rep[2].rank);
        for (int j = 0; j < 3; j++) assert_int_equal(loc.rep[j].medium, MMC_MEDIA_DRAM);
        assert_int_equal(put_end1(l[i % 4], key, 0), 0);
    }
    /* Preferred ids win over the writer's own segment, in the given order. */
    int32_t pref[] = {3, 1};
    assert_int_equal(put_start1(l[0], 0, "pref", 4096, 2, pref, 2, &loc), 0);
    assert_int_equal(loc.rep[0].rank, 3);
    assert_int_equal(loc.rep[1].rank, 1);
    /* Fewer preferred than replicas: filled from the others. */
    int32_t pref1[] = {2};
    assert_int_equal(put_start1(l[0], 0, "pref1", 4096, 3, pref1, 1, &loc), 0);
    assert_int_equal(loc.rep[0].rank, 2);
    assert_int_equal(loc.nrep, 3);
    /* More replicas than LocalServices, or bigger than any segment: never possible. */
    assert_int_equal(put_start1(l[0], 0, "five", 4096, 5, NULL, 0, NULL), MMC_EXCEEDS_CAPACITY);
    assert_int_equal(put_start1(l[0], 0, "huge", 256 * KiB + 1, 1, NULL, 0, NULL), MMC_EXCEEDS_CAPACITY);
    /* Medium without segments. */
    mmc_key_ref_t k = kref("hbm");
    uint64_t sz = 4096;
    mmc_req_t r = {.type = MMC_MSG_PUT_START, .rank = 0, .medium = MMC_MEDIA_HBM, .replicas = 1, .owner = l[0]->owner,
                   .n = 1, .keys = &k, .sizes = &sz};
    assert_int_equal(call(l[0], &r), 0);
    assert_int_equal(mmc_resp_locs_decode(l[0]->resp, l[0]->resp_len, 1, NULL, NULL, &loc), 0);
    assert_int_equal(loc.status, MMC_EXCEEDS_CAPACITY);
    /* "Any medium" falls back to DRAM. */
    r.medium = MMC_MEDIA_NONE;
    assert_int_equal(call(l[0], &r), 0);
    assert_int_equal(mmc_resp_locs_decode(l[0]->resp, l[0]->resp_len, 1, NULL, NULL, &loc), 0);
    assert_int_equal(loc.status, 0);
    assert_int_equal(loc.rep[0].medium, MMC_MEDIA_DRAM);

    /* GET orders same-host replicas first: a key on ranks 2 (host b) and 0 (host a), read from rank 1 (host a). */
    int32_t pref2[] = {2, 0};
    assert_int_equal(put_start1(l[2], 2, "near", 4096, 2, pref2, 2, &loc), 0);
    assert_int_equal(loc.rep[0].rank, 2);
    assert_int_equal(put_end1(l[2], "near", 0), 0);
    assert_int_equal(get1(l[1], 1, "near", &loc, NULL), 0);
    assert_int_equal(loc.rep[0].rank, 0);
    assert_int_equal(loc.rep[1].rank, 2);
    assert_int_equal(get1(l[3], 3, "near", &loc, NULL), 0); /* host b reader: rank 2 first */
    assert_int_equal(loc.rep[0].rank, 2);
    /* GVAs are the segment base plus a page-aligned offset. */
    assert_int_equal((loc.rep[0].gva - ((1ull << 40) + 2 * (1ull << 34) + (1ull << 33))) % 4096, 0);
    for (int i = 0; i < 4; i++) link_close(l[i]);
    check();
}

static void test_leases_and_remove(void **state)
{
    (void)state;
    core_new(5000, 30000);
    fake_link_t *a = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 1 * MiB, g_host_a), 0);
    assert_int_equal(put1(a, 0, "x", 64 * KiB, 1), 0);
    uint64_t used = stats().media[MMC_MEDIA_DRAM].used;
    uint64_t lease;
    assert_int_equal(get1(a, 0, "x", NULL, &lease), 0);
    /* Remove of a leased object: refused without force; forced, hidden at once, space kept until the lease
     * ends. */
    assert_int_equal(keys1(a, MMC_MSG_REMOVE, "x"), MMC_LEASE_NOT_EXPIRED);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "x"), 0);
    assert_int_equal(keys1f(a, MMC_MSG_REMOVE, "x", MMC_PF_FORCE), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "x"), MMC_KEY_NOT_FOUND);
    assert_int_equal(get1(a, 0, "x", NULL, NULL), MMC_KEY_NOT_FOUND);
    assert_int_equal(keys1(a, MMC_MSG_REMOVE, "x"), MMC_KEY_NOT_FOUND);
    assert_int_equal(stats().removing, 1);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, used);
    /* The key can be written again meanwhile. */
    assert_int_equal(put1(a, 0, "x", 4096, 1), 0);
    assert_int_equal(release1(a, lease), 0);
    assert_int_equal(release1(a, lease), MMC_LEASE_LOST); /* gone: nothing it could prove any more */
    assert_int_equal(stats().removing, 0);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, 4096);
    /* Leases expire after the TTL; an expired lease id is unknown. */
    assert_int_equal(get1(a, 0, "x", NULL, &lease), 0);
    assert_int_equal(stats().leases, 1);
    g_now += 4999;
    meta_core_tick(g_core);
    assert_int_equal(stats().leases, 1);
    g_now += 2;
    meta_core_tick(g_core);
    assert_int_equal(stats().leases, 0);
    assert_int_equal(release1(a, lease), MMC_LEASE_LOST);
    /* A forced remove waits for an expiring lease too. */
    assert_int_equal(get1(a, 0, "x", NULL, &lease), 0);
    assert_int_equal(keys1f(a, MMC_MSG_REMOVE, "x", MMC_PF_FORCE), 0);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, 4096);
    g_now += 6000;
    meta_core_tick(g_core);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, 0);
    assert_int_equal(stats().removing, 0);
    /* A reader's leases outlive its link: they end at their ttl (or by its release from another link). */
    fake_link_t *r = link_open();
    assert_int_equal(put1(a, 0, "y", 4096, 1), 0);
    assert_int_equal(get1(r, UINT32_MAX, "y", NULL, &lease), 0);
    assert_int_equal(stats().leases, 1);
    link_close(r);
    assert_int_equal(stats().leases, 1);
    g_now += 5001;
    meta_core_tick(g_core);
    assert_int_equal(stats().leases, 0);
    /* REMOVE_ALL: the leased one stays without force (counted as deferred); forced, it is deferred. */
    assert_int_equal(put1(a, 0, "z", 4096, 1), 0);
    assert_int_equal(get1(a, 0, "z", NULL, &lease), 0);
    mmc_req_t ra = {.type = MMC_MSG_REMOVE_ALL};
    assert_int_equal(call(a, &ra), 0);
    uint64_t removed, deferred;
    assert_int_equal(mmc_resp_remove_all_decode(a->resp, a->resp_len, &removed, &deferred, NULL, NULL), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(deferred, 1);
    assert_int_equal(stats().objects, 1);
    assert_int_equal(stats().removing, 0);
    ra.flags = MMC_PF_FORCE;
    assert_int_equal(call(a, &ra), 0);
    assert_int_equal(mmc_resp_remove_all_decode(a->resp, a->resp_len, &removed, &deferred, NULL, NULL), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(deferred, 1);
    assert_int_equal(stats().objects, 0);
    assert_int_equal(stats().removing, 1);
    link_close(a);
    check();
}

/* ---------- Mooncake compatibility: upsert, force, leasing queries, pins, regex ---------- */

static int32_t put_start_f(fake_link_t *l, const char *key, uint64_t size, uint32_t flags, uint64_t owner,
                           mmc_loc_t *loc)
{
    mmc_key_ref_t k = kref(key);
    mmc_req_t r = {.type = MMC_MSG_PUT_START, .rank = 0, .medium = MMC_MEDIA_DRAM, .replicas = 1, .flags = flags,
                   .owner = owner, .n = 1, .keys = &k, .sizes = &size};
    assert_int_equal(call(l, &r), 0);
    assert_int_equal(mmc_resp_locs_decode(l->resp, l->resp_len, 1, NULL, NULL, loc), 0);
    return loc->status;
}

static int32_t put_end_o(fake_link_t *l, const char *key, int32_t result, uint64_t owner)
{
    mmc_key_ref_t k = kref(key);
    mmc_req_t r = {.type = MMC_MSG_PUT_END, .owner = owner, .n = 1, .keys = &k, .results = &result};
    assert_int_equal(call(l, &r), 0);
    int32_t st;
    assert_int_equal(mmc_resp_status_decode(l->resp, l->resp_len, 1, &st), 0);
    return st;
}

static uint64_t gva_of(fake_link_t *l, const char *key)
{
    mmc_loc_t loc;
    uint64_t lease;
    assert_int_equal(get1(l, 0, key, &loc, &lease), 0);
    assert_int_equal(release1(l, lease), 0);
    return loc.rep[0].gva;
}

static void test_upsert_swaps_at_end(void **state)
{
    (void)state;
    core_new(5000, 30000);
    fake_link_t *a = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 1 * MiB, g_host_a), 0);
    /* A key that does not exist: an upsert is a put. */
    mmc_loc_t l1, l2, l3;
    assert_int_equal(put_start_f(a, "u", 64 * KiB, MMC_PF_UPSERT, 0x71, &l1), 0);
    assert_int_equal(put_end_o(a, "u", 0, 0x71), 0);
    uint64_t lease;
    mmc_loc_t got;
    assert_int_equal(get1(a, 0, "u", &got, &lease), 0);
    assert_int_equal(got.rep[0].gva, l1.rep[0].gva);
    /* An existing key: new space; readers see the old value until PUT_END swaps, in one step. */
    assert_int_equal(put_start_f(a, "u", 32 * KiB, MMC_PF_UPSERT, 0x72, &l2), 0);
    assert_int_not_equal(l2.rep[0].gva, l1.rep[0].gva);
    assert_int_equal(gva_of(a, "u"), l1.rep[0].gva);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "u"), 0);
    /* A plain put of it still answers "exists"; a second upsert by another token gets space of its own. */
    assert_int_equal(put_start_f(a, "u", 4096, 0, a->owner, &l3), MMC_DUPLICATED_OBJECT);
    assert_int_equal(put_start_f(a, "u", 16 * KiB, MMC_PF_UPSERT, 0x73, &l3), 0);
    assert_int_equal(put_end_o(a, "u", 0, 0x72), 0);
    mmc_loc_t now;
    assert_int_equal(get1(a, 0, "u", &now, NULL), 0);
    assert_int_equal(now.rep[0].gva, l2.rep[0].gva);
    assert_int_equal(now.size, 32 * KiB);
    assert_int_equal(stats().removing, 1); /* the first value: its reader still holds it */
    /* The reader's copy of the old value is proven: nothing it was reading went away. */
    assert_int_equal(release1(a, lease), 0);
    assert_int_equal(stats().removing, 0);
    /* The last to finish wins. */
    assert_int_equal(put_end_o(a, "u", 0, 0x73), 0);
    assert_int_equal(gva_of(a, "u"), l3.rep[0].gva);
    /* An aborted upsert leaves the value as it was; so does an upsert revoked at its deadline. */
    assert_int_equal(put_start_f(a, "u", 8 * KiB, MMC_PF_UPSERT, 0x74, &l1), 0);
    assert_int_equal(put_end_o(a, "u", MMC_TIMEOUT, 0x74), 0);
    assert_int_equal(gva_of(a, "u"), l3.rep[0].gva);
    assert_int_equal(put_start_f(a, "u", 8 * KiB, MMC_PF_UPSERT, 0x75, &l1), 0);
    g_now += 31000;
    meta_core_tick(g_core);
    assert_int_equal(put_end_o(a, "u", 0, 0x75), MMC_UNMATCHED_STATE);
    assert_int_equal(gva_of(a, "u"), l3.rep[0].gva);
    /* LIST shows the key once, never the upsert in flight. */
    assert_int_equal(put_start_f(a, "u", 8 * KiB, MMC_PF_UPSERT, 0x76, &l1), 0);
    mmc_list_item_t *items = NULL;
    uint32_t n = 0;
    bool more = true;
    mmc_key_ref_t none = {"", 0};
    assert_int_equal(meta_core_list(g_core, &none, &none, 16, &items, &n, &more), 0);
    assert_int_equal(n, 1);
    assert_int_equal(items[0].key.len, 1);
    free(items);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, 16 * KiB + 8 * KiB);
    /* An upsert racing the key's first put: whichever finishes last is the value. */
    mmc_loc_t lp, lu;
    assert_int_equal(put_start_f(a, "w", 4096, 0, a->owner, &lp), 0);
    assert_int_equal(put_start_f(a, "w", 8192, MMC_PF_UPSERT, 0x77, &lu), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "w"), MMC_OBJECT_NOT_READY);
    assert_int_equal(put_end_o(a, "w", 0, 0x77), 0);
    assert_int_equal(gva_of(a, "w"), lu.rep[0].gva);
    assert_int_equal(put_end1(a, "w", 0), 0); /* the first put, set aside, finishes last */
    assert_int_equal(gva_of(a, "w"), lp.rep[0].gva);
    assert_int_equal(stats().writing, 1);    /* only the "u" upsert above is still in flight */
    link_close(a);
    check();
}

static void test_query_lease_holds_off_eviction_and_remove(void **state)
{
    (void)state;
    core_new(5000, 30000);
    fake_link_t *a = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 256 * KiB, g_host_a), 0);
    assert_int_equal(put1(a, 0, "e", 64 * KiB, 1), 0);
    assert_int_equal(put1(a, 0, "q", 64 * KiB, 1), 0);
    /* Without the flag nothing is leased. */
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "e"), 0);
    assert_int_equal(stats().leases, 0);
    assert_int_equal(keys1f(a, MMC_MSG_EXIST, "e", MMC_PF_LEASE), 0);
    assert_int_equal(keys1f(a, MMC_MSG_EXIST, "nope", MMC_PF_LEASE), MMC_KEY_NOT_FOUND);
    mmc_key_ref_t k = kref("q");
    mmc_req_t r = {.type = MMC_MSG_QUERY, .flags = MMC_PF_LEASE, .n = 1, .keys = &k};
    assert_int_equal(call(a, &r), 0);
    mmc_loc_t loc;
    uint64_t qid = 0;
    uint32_t ttl = 0;
    assert_int_equal(mmc_resp_locs_decode(a->resp, a->resp_len, 1, &qid, &ttl, &loc), 0);
    assert_int_equal(loc.status, 0);
    assert_int_not_equal(qid, 0);
    assert_int_equal(ttl, 5000);
    assert_int_equal(stats().leases, 2);
    /* Leased: a plain remove is refused, eviction passes it over. */
    assert_int_equal(keys1(a, MMC_MSG_REMOVE, "e"), MMC_LEASE_NOT_EXPIRED);
    assert_int_equal(put1(a, 0, "big", 100 * KiB, 1), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "e"), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "q"), 0);
    /* Nobody can release such a lease; it expires at the ttl, then remove works. */
    assert_int_equal(release1(a, qid), MMC_LEASE_NOT_OWNER);
    g_now += 5001;
    meta_core_tick(g_core);
    assert_int_equal(stats().leases, 0);
    assert_int_equal(keys1(a, MMC_MSG_REMOVE, "e"), 0);
    link_close(a);
    check();
}

static void test_pins_and_eviction(void **state)
{
    (void)state;
    core_new(5000, 30000);
    fake_link_t *a = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 256 * KiB, g_host_a), 0);
    mmc_loc_t loc;
    assert_int_equal(put_start_f(a, "hard", 64 * KiB, MMC_PF_HARD_PIN, a->owner, &loc), 0);
    assert_int_equal(put_end1(a, "hard", 0), 0);
    assert_int_equal(put_start_f(a, "soft", 64 * KiB, MMC_PF_SOFT_PIN, a->owner, &loc), 0);
    assert_int_equal(put_end1(a, "soft", 0), 0);
    assert_int_equal(put1(a, 0, "plain", 64 * KiB, 1), 0);
    /* "plain" is the most recent, but the only unpinned one: it goes first. */
    assert_int_equal(put1(a, 0, "n1", 100 * KiB, 1), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "plain"), MMC_KEY_NOT_FOUND);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "soft"), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "hard"), 0);
    /* Then n1 (unpinned), then the soft pin when nothing else can go; the hard pin never. */
    assert_int_equal(put1(a, 0, "n2", 100 * KiB, 1), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "n1"), MMC_KEY_NOT_FOUND);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "soft"), 0);
    assert_int_equal(put1(a, 0, "n3", 180 * KiB, 1), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "soft"), MMC_KEY_NOT_FOUND);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "hard"), 0);
    /* Everything else goes first, then the put fails: the hard pin stays. */
    assert_int_equal(put1(a, 0, "n4", 200 * KiB, 1), MMC_NOT_ENOUGH_MEMORY);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "n3"), MMC_KEY_NOT_FOUND);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "hard"), 0);
    /* A soft pin past its ttl is unpinned: the older one goes, as LRU has it. */
    assert_int_equal(put_start_f(a, "soft2", 128 * KiB, MMC_PF_SOFT_PIN, a->owner, &loc), 0);
    assert_int_equal(put_end1(a, "soft2", 0), 0);
    assert_int_equal(put1(a, 0, "p2", 32 * KiB, 1), 0);
    g_now += 1800001;
    assert_int_equal(put1(a, 0, "n5", 100 * KiB, 1), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "soft2"), MMC_KEY_NOT_FOUND);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "p2"), 0);
    link_close(a);
    check();
}

static void test_remove_regex_pages(void **state)
{
    (void)state;
    core_new(5000, 30000);
    fake_link_t *a = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 1 * MiB, g_host_a), 0);
    const char *keys[] = {"k1", "k2", "k3", "k4", "k5", "kx", "other", "k10"};
    for (int i = 0; i < 8; i++) assert_int_equal(put1(a, 0, keys[i], 4096, 1), 0);
    uint64_t lease;
    assert_int_equal(get1(a, 0, "k3", NULL, &lease), 0);
    mmc_req_t r = {.type = MMC_MSG_REMOVE_ALL, .flags = MMC_PF_REGEX, .limit = 2};
    r.prefix = kref("^k[0-9]+$");
    char cur[MMC_KEY_MAX + 1] = "";
    uint64_t total = 0, kept = 0, pages = 0;
    bool more = true;
    while (more) {
        r.after = kref(cur);
        assert_int_equal(call(a, &r), 0);
        uint64_t rm, df;
        mmc_key_ref_t c;
        assert_int_equal(mmc_resp_remove_all_decode(a->resp, a->resp_len, &rm, &df, &more, &c), 0);
        memcpy(cur, c.p, c.len);
        cur[c.len] = '\0';
        total += rm;
        kept += df;
        pages++;
    }
    assert_int_equal(total, 5); /* k1 k2 k4 k5 k10; k3 is leased */
    assert_int_equal(kept, 1);
    assert_true(pages >= 4);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "k3"), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "kx"), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "other"), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "k10"), MMC_KEY_NOT_FOUND);
    /* A pattern that does not compile is the request's error. */
    r.prefix = kref("(");
    r.after = kref("");
    assert_int_equal(call(a, &r), MMC_INVALID_PARAM);
    link_close(a);
    check();
}

static void test_eviction_under_pressure(void **state)
{
    (void)state;
    core_new(10000, 30000);
    fake_link_t *a = link_open(), *b = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 1 * MiB, g_host_a), 0);
    assert_int_equal(mount(b, 1, MMC_MEDIA_DRAM, 1 * MiB, g_host_a), 0);
    /* A leased object must survive everything below. */
    assert_int_equal(put1(a, 0, "pinned", 64 * KiB, 2), 0);
    uint64_t lease;
    assert_int_equal(get1(a, 0, "pinned", NULL, &lease), 0);
    /* A WRITING object is never evicted either. */
    assert_int_equal(put_start1(b, 1, "inflight", 64 * KiB, 1, NULL, 0, NULL), 0);
    /* 2 MiB of pool, 600 × 2 replicas × 20 KiB = ~12× the pool: every put succeeds by evicting. */
    for (int i = 0; i < 600; i++) {
        char key[32];
        snprintf(key, sizeof(key), "obj-%d", i);
        assert_int_equal(put1(i % 2 ? b : a, (uint32_t)(i % 2), key, 20 * KiB - (uint64_t)(i % 7) * 1000, 2), 0);
        mmc_stats_t st = stats();
        assert_true(st.media[MMC_MEDIA_DRAM].used <= st.media[MMC_MEDIA_DRAM].total);
        if (i % 50 == 0) meta_core_tick(g_core);
    }
    mmc_stats_t st = stats();
    assert_true(st.evictions > 400);
    assert_int_equal(get1(a, 0, "pinned", NULL, NULL), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "inflight"), MMC_OBJECT_NOT_READY);
    /* LRU: the newest objects are there, the oldest are gone. */
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "obj-599"), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "obj-0"), MMC_KEY_NOT_FOUND);
    /* Reading an old object moves it to the LRU head: it outlives newer ones. */
    assert_int_equal(get1(a, 0, "obj-560", NULL, NULL), 0);
    for (int i = 600; i < 640; i++) {
        char key[32];
        snprintf(key, sizeof(key), "obj-%d", i);
        assert_int_equal(put1(a, 0, key, 20 * KiB, 2), 0);
    }
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "obj-560"), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, "obj-561"), MMC_KEY_NOT_FOUND);
    /* Background eviction: above the high watermark (90%) the tick brings it down to the low one (80%). */
    st = stats();
    assert_true(st.media[MMC_MEDIA_DRAM].used * 100 > st.media[MMC_MEDIA_DRAM].total * 90);
    meta_core_tick(g_core);
    st = stats();
    assert_true(st.media[MMC_MEDIA_DRAM].used * 100 <= st.media[MMC_MEDIA_DRAM].total * 80);
    assert_true(st.media[MMC_MEDIA_DRAM].used * 100 > st.media[MMC_MEDIA_DRAM].total * 70); /* not much below */
    assert_int_equal(get1(a, 0, "pinned", NULL, NULL), 0);
    /* When everything left is leased or in flight, a put that does not fit fails cleanly. */
    assert_int_equal(release1(a, lease), 0);
    link_close(a);
    link_close(b);
    check();
    meta_core_destroy(g_core);

    core_new(10000, 30000);
    fake_link_t *c = link_open();
    assert_int_equal(mount(c, 0, MMC_MEDIA_DRAM, 64 * KiB, NULL), 0);
    assert_int_equal(put1(c, 0, "a", 40 * KiB, 1), 0);
    assert_int_equal(get1(c, 0, "a", NULL, &lease), 0);
    assert_int_equal(put_start1(c, 0, "b", 40 * KiB, 1, NULL, 0, NULL), MMC_NOT_ENOUGH_MEMORY);
    assert_int_equal(release1(c, lease), 0);
    assert_int_equal(put_start1(c, 0, "b", 40 * KiB, 1, NULL, 0, NULL), 0); /* evicts "a" now */
    assert_int_equal(keys1(c, MMC_MSG_EXIST, "a"), MMC_KEY_NOT_FOUND);
    link_close(c);
    check();
}

/* A reader re-reading every key every 3 s keeps all of a full pool leased
 * (ttl 10 s): puts must still get room within one lease ttl, by retiring the
 * LRU tail's leased objects (hidden at once, freed when their leases end),
 * and a retired key's bytes are never handed out while a lease covers them. */
static void test_full_pool_of_leased(void **state)
{
    (void)state;
    core_new(10000, 30000);
    fake_link_t *w = link_open(), *r = link_open();
    assert_int_equal(mount(w, 0, MMC_MEDIA_DRAM, 256 * KiB, NULL), 0);
    char key[32];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(put1(w, 0, key, 64 * KiB, 1), 0);
    }
    int32_t rc = MMC_NOT_ENOUGH_MEMORY;
    int rounds = 0;
    uint32_t found_last = 0;
    for (; rounds < 8 && rc != MMC_OK; rounds++) {
        found_last = 0;
        for (int i = 0; i < 4; i++) { /* the reader: every key, a new lease each time */
            snprintf(key, sizeof(key), "k%d", i);
            int32_t g = get1(r, UINT32_MAX, key, NULL, NULL);
            assert_true(g == MMC_OK || g == MMC_KEY_NOT_FOUND);
            if (g == MMC_OK) found_last++;
        }
        rc = put_start1(w, 0, "new", 64 * KiB, 1, NULL, 0, NULL);
        assert_true(rc == MMC_OK || rc == MMC_NOT_ENOUGH_MEMORY);
        mmc_stats_t st = stats();
        assert_true(st.media[MMC_MEDIA_DRAM].used <= st.media[MMC_MEDIA_DRAM].total);
        g_now += 3000;
        meta_core_tick(g_core);
    }
    assert_int_equal(rc, MMC_OK);
    assert_true(rounds <= 5); /* the first refused put retired one key; its last lease ended within 10 s */
    assert_int_equal(found_last, 3);
    assert_int_equal(keys1(w, MMC_MSG_EXIST, "k0"), MMC_KEY_NOT_FOUND); /* the LRU tail went */
    assert_int_equal(keys1(w, MMC_MSG_EXIST, "k3"), 0);
    mmc_stats_t st = stats();
    assert_int_equal(st.removing, 0);
    assert_true(st.evictions >= 1);
    link_close(r);
    link_close(w);
    check();
}

/* evict_threshold_high = 100 turns eviction off: a full pool answers
 * MMC_NOT_ENOUGH_MEMORY and nothing is evicted, in the background or not. */
static void test_eviction_off(void **state)
{
    (void)state;
    meta_core_opts_t o;
    meta_core_opts_init(&o);
    o.clock = test_clock;
    o.evict_high = 100;
    o.evict_low = 80;
    assert_int_equal(meta_core_create(&o, &fl_ops, &g_core), 0);
    fake_link_t *a = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 1 * MiB, g_host_a), 0);
    int ok = 0, full = 0;
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        int32_t rc = put1(a, 0, key, 64 * KiB, 1);
        if (rc == 0) ok++;
        else if (rc == MMC_NOT_ENOUGH_MEMORY) full++;
        else fail_msg("put %s: %d", key, rc);
        meta_core_tick(g_core);
    }
    assert_int_equal(ok, 16); /* 1 MiB / 64 KiB */
    assert_int_equal(full, 24);
    mmc_stats_t st = stats();
    assert_int_equal(st.evictions, 0);
    for (int i = 0; i < 16; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(keys1(a, MMC_MSG_EXIST, key), 0); /* every value that was accepted is still there */
    }
    assert_int_equal(keys1(a, MMC_MSG_REMOVE, "k3"), 0);
    assert_int_equal(put1(a, 0, "again", 64 * KiB, 1), 0); /* room made by a remove is used */
    link_close(a);
    check();
}

static void test_abandoned_put(void **state)
{
    (void)state;
    core_new(10000, 2000);
    fake_link_t *m = link_open(), *w = link_open();
    assert_int_equal(mount(m, 0, MMC_MEDIA_DRAM, 1 * MiB, NULL), 0);
    /* Writer disconnects between PUT_START and PUT_END. */
    assert_int_equal(put_start1(w, UINT32_MAX, "lost", 100 * KiB, 1, NULL, 0, NULL), 0);
    assert_int_equal(stats().writing, 1);
    link_close(w);
    assert_int_equal(stats().writing, 0);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, 0);
    assert_int_equal(keys1(m, MMC_MSG_EXIST, "lost"), MMC_KEY_NOT_FOUND);
    assert_int_equal(stats().puts_revoked, 1);
    /* Writer never sends PUT_END: revoked after the put timeout. */
    w = link_open();
    assert_int_equal(put_start1(w, UINT32_MAX, "slow", 100 * KiB, 1, NULL, 0, NULL), 0);
    g_now += 1999;
    meta_core_tick(g_core);
    assert_int_equal(stats().writing, 1);
    g_now += 2;
    meta_core_tick(g_core);
    assert_int_equal(stats().writing, 0);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, 0);
    assert_int_equal(put_end1(w, "slow", 0), MMC_KEY_NOT_FOUND);
    /* The key is free for a new put. */
    assert_int_equal(put1(w, UINT32_MAX, "slow", 4096, 1), 0);
    link_close(w);
    link_close(m);
    check();
}

static void test_unmount_survivors(void **state)
{
    (void)state;
    core_new(10000, 30000);
    fake_link_t *l[3];
    for (uint32_t i = 0; i < 3; i++) {
        l[i] = link_open();
        assert_int_equal(mount(l[i], i, MMC_MEDIA_DRAM, 1 * MiB, NULL), 0);
    }
    int32_t p01[] = {0, 1}, p0[] = {0}, p2[] = {2}, p12[] = {1, 2};
    mmc_loc_t loc;
    assert_int_equal(put_start1(l[0], 0, "A", 8192, 2, p01, 2, NULL), 0);
    assert_int_equal(put_end1(l[0], "A", 0), 0);
    assert_int_equal(put_start1(l[0], 0, "B", 8192, 1, p0, 1, NULL), 0);
    assert_int_equal(put_end1(l[0], "B", 0), 0);
    assert_int_equal(put_start1(l[0], 0, "C", 8192, 1, p2, 1, NULL), 0);
    assert_int_equal(put_end1(l[0], "C", 0), 0);
    assert_int_equal(put_start1(l[0], 0, "D", 8192, 2, p12, 2, NULL), 0); /* WRITING, not on rank 0 */
    /* Leased object on rank 0 only: dropped from the table, freed when the lease ends. */
    assert_int_equal(put_start1(l[1], 1, "E", 8192, 1, p0, 1, NULL), 0);
    assert_int_equal(put_end1(l[1], "E", 0), 0);
    uint64_t lease;
    assert_int_equal(get1(l[1], 1, "E", NULL, &lease), 0);

    mmc_req_t um = {.type = MMC_MSG_UNMOUNT, .rank = 0, .medium = MMC_MEDIA_DRAM};
    assert_int_equal(call(l[1], &um), MMC_NOT_PERMITTED); /* another link's segment */
    assert_int_equal(call(l[0], &um), 0);
    uint32_t dropped, shrunk;
    assert_int_equal(mmc_resp_unmount_decode(l[0]->resp, l[0]->resp_len, &dropped, &shrunk), 0);
    assert_int_equal(dropped, 2); /* B and E */
    assert_int_equal(shrunk, 1);  /* A */
    assert_int_equal(get1(l[1], 1, "A", &loc, NULL), 0);
    assert_int_equal(loc.nrep, 1);
    assert_int_equal(loc.rep[0].rank, 1);
    assert_int_equal(get1(l[1], 1, "B", NULL, NULL), MMC_KEY_NOT_FOUND);
    assert_int_equal(get1(l[1], 1, "E", NULL, NULL), MMC_KEY_NOT_FOUND);
    assert_int_equal(get1(l[1], 1, "C", NULL, NULL), 0);
    assert_int_equal(stats().segments, 2);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].total, 2 * MiB);
    /* The zombie of E goes, nothing to free (its segment left); the release says the read is not proven. */
    assert_int_equal(release1(l[1], lease), MMC_LEASE_LOST);
    assert_int_equal(stats().removing, 0);
    /* Rank 1's LocalService dies: A has no replica left, D (WRITING) keeps one on rank 2. */
    link_close(l[1]);
    assert_int_equal(get1(l[2], 2, "A", NULL, NULL), MMC_KEY_NOT_FOUND);
    assert_int_equal(stats().segments, 1);
    assert_int_equal(put_end1(l[0], "D", 0), 0);
    assert_int_equal(get1(l[2], 2, "D", &loc, NULL), 0);
    assert_int_equal(loc.nrep, 1);
    assert_int_equal(loc.rep[0].rank, 2);
    /* The segment can be mounted again (LocalService restart) and used. */
    l[1] = link_open();
    assert_int_equal(mount(l[1], 1, MMC_MEDIA_DRAM, 1 * MiB, NULL), 0);
    assert_int_equal(put1(l[1], 1, "F", 4096, 2), 0);
    for (int i = 0; i < 3; i++) link_close(l[i]);
    assert_int_equal(stats().objects, 0);
    assert_int_equal(stats().segments, 0);
    check();
}

static void test_batch_and_key_limits(void **state)
{
    (void)state;
    core_new(10000, 30000);
    fake_link_t *a = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 256 * MiB, NULL), 0);
    /* 16,384 keys in one PUT_START, PUT_END, GET, EXIST, REMOVE round trip each. */
    uint32_t n = MMC_BATCH_MAX;
    char (*names)[16] = calloc(n + 1, 16);
    mmc_key_ref_t *k = calloc(n + 1, sizeof(*k));
    uint64_t *sizes = calloc(n + 1, sizeof(*sizes));
    int32_t *res = calloc(n + 1, sizeof(*res));
    mmc_loc_t *locs = calloc(n + 1, sizeof(*locs));
    for (uint32_t i = 0; i <= n; i++) {
        snprintf(names[i], 16, "b%u", i);
        k[i] = kref(names[i]);
        sizes[i] = 4096;
    }
    mmc_req_t r = {.type = MMC_MSG_PUT_START, .rank = 0, .medium = MMC_MEDIA_DRAM, .replicas = 1, .owner = a->owner,
                   .n = n, .keys = k, .sizes = sizes};
    assert_int_equal(call(a, &r), 0);
    assert_int_equal(mmc_resp_locs_decode(a->resp, a->resp_len, n, NULL, NULL, locs), 0);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(locs[i].status, 0);
    mmc_req_t e = {.type = MMC_MSG_PUT_END, .owner = a->owner, .n = n, .keys = k, .results = res};
    assert_int_equal(call(a, &e), 0);
    assert_int_equal(mmc_resp_status_decode(a->resp, a->resp_len, n, res), 0);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(res[i], 0);
    mmc_req_t g = {.type = MMC_MSG_GET, .rank = 0, .owner = a->owner, .n = n, .keys = k};
    assert_int_equal(call(a, &g), 0);
    uint64_t lease = 0;
    assert_int_equal(mmc_resp_locs_decode(a->resp, a->resp_len, n, &lease, NULL, locs), 0);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(locs[i].status, 0);
    assert_int_equal(release1(a, lease), 0);
    /* 16,385: the encoder refuses, and so does the MetaService for a hand-made body. */
    mmc_req_t x = {.type = MMC_MSG_EXIST, .n = n + 1, .keys = k};
    util_wbuf_t w;
    util_wbuf_init(&w);
    assert_int_equal(mmc_req_encode(&x, &w), MMC_INVALID_PARAM);
    util_wbuf_fini(&w);
    util_wbuf_init(&w);
    x.n = n;
    assert_int_equal(mmc_req_encode(&x, &w), 0);
    util_put_le32(w.p + 8, n + 1); /* patch the count (after the prologue and flags) and append one more key */
    util_wbuf_u16(&w, 1);
    util_wbuf_u8(&w, 'z');
    assert_int_equal(send_raw(a, MMC_MSG_EXIST, w.p, (uint32_t)w.len), MMC_INVALID_PARAM);
    char msg[256];
    mmc_resp_error_decode(a->resp, a->resp_len, msg, sizeof(msg));
    assert_non_null(strstr(msg, "16385"));
    util_wbuf_fini(&w);
    /* Key lengths: 256 fine, 0 and 257 refused. */
    char key[260];
    memset(key, 'q', sizeof(key));
    key[256] = '\0';
    assert_int_equal(put1(a, 0, key, 4096, 1), 0);
    assert_int_equal(keys1(a, MMC_MSG_EXIST, key), 0);
    for (uint32_t klen = 0; klen <= 257; klen += 257) {
        util_wbuf_init(&w);
        util_wbuf_u16(&w, MMC_PROTO_VERSION);
        util_wbuf_u16(&w, 0);
        util_wbuf_u32(&w, 0); /* flags */
        util_wbuf_u32(&w, 1);
        util_wbuf_u16(&w, (uint16_t)klen);
        util_wbuf_bytes(&w, key, klen);
        assert_int_equal(send_raw(a, MMC_MSG_EXIST, w.p, (uint32_t)w.len), MMC_INVALID_PARAM);
        util_wbuf_fini(&w);
        mmc_key_ref_t bad = {.p = key, .len = klen};
        mmc_req_t br = {.type = MMC_MSG_REMOVE, .n = 1, .keys = &bad};
        util_wbuf_init(&w);
        assert_int_equal(mmc_req_encode(&br, &w), MMC_INVALID_PARAM);
        util_wbuf_fini(&w);
    }
    /* Empty batch and replicas 0/9 refused. */
    mmc_req_t z = {.type = MMC_MSG_EXIST, .n = 0, .keys = k};
    util_wbuf_init(&w);
    assert_int_equal(mmc_req_encode(&z, &w), MMC_INVALID_PARAM);
    r.n = 1;
    r.replicas = 0;
    assert_int_equal(mmc_req_encode(&r, &w), MMC_INVALID_PARAM);
    r.replicas = 9;
    assert_int_equal(mmc_req_encode(&r, &w), MMC_INVALID_PARAM);
    util_wbuf_fini(&w);
    free(names);
    free(k);
    free(sizes);
    free(res);
    free(locs);
    link_close(a);
    check();
}

static void test_garbage_requests(void **state)
{
    (void)state;
    core_new(10000, 30000);
    fake_link_t *a = link_open();
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof(junk); i++) junk[i] = (uint8_t)(i * 37 + 11);
    /* Unknown type, short body, bad version, reserved bits, trailing bytes: an error answer, never a crash. */
    assert_int_equal(send_raw(a, 0x0399, junk, 8), MMC_PROTOCOL);
    assert_int_equal(send_raw(a, MMC_MSG_MOUNT, junk, 3), MMC_PROTOCOL);
    uint8_t hb[8] = {MMC_PROTO_VERSION + 1, 0, 0, 0, 1, 0, 0, 0};
    assert_int_equal(send_raw(a, MMC_MSG_HEARTBEAT, hb, 8), MMC_PROTOCOL); /* a newer version */
    hb[0] = MMC_PROTO_VERSION - 1;
    assert_int_equal(send_raw(a, MMC_MSG_HEARTBEAT, hb, 8), MMC_PROTOCOL); /* an older one (no owner tokens) */
    hb[0] = MMC_PROTO_VERSION;
    hb[2] = 1;
    assert_int_equal(send_raw(a, MMC_MSG_HEARTBEAT, hb, 8), MMC_PROTOCOL); /* reserved */
    hb[2] = 0;
    assert_int_equal(send_raw(a, MMC_MSG_HEARTBEAT, hb, 8), 0);
    uint8_t hb9[9] = {MMC_PROTO_VERSION, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(send_raw(a, MMC_MSG_HEARTBEAT, hb9, 9), MMC_PROTOCOL); /* trailing */
    for (uint16_t t = MMC_MSG_FIRST; t <= MMC_MSG_LAST; t++)
        for (uint32_t len = 0; len < sizeof(junk); len += 7) {
            int32_t st = send_raw(a, t, junk, len);
            assert_true(st == MMC_PROTOCOL || st == MMC_INVALID_PARAM);
        }
    /* A huge count in a short body is refused before any allocation. */
    uint8_t big[16] = {MMC_PROTO_VERSION, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x3f, 0, 0};
    assert_int_equal(send_raw(a, MMC_MSG_LEASE_RELEASE, big, 16), MMC_PROTOCOL);
    /* Owner token 0 is refused, by the encoder and by the MetaService. */
    uint64_t one = 1;
    mmc_req_t rel0 = {.type = MMC_MSG_LEASE_RELEASE, .owner = 0, .n = 1, .ids = &one};
    util_wbuf_t w0;
    util_wbuf_init(&w0);
    assert_int_equal(mmc_req_encode(&rel0, &w0), MMC_INVALID_PARAM);
    util_wbuf_fini(&w0);
    big[4] = 0;
    uint8_t rel0b[24];
    memcpy(rel0b, big, 12);
    util_put_le32(rel0b + 12, 1);
    util_put_le64(rel0b + 16, 1);
    assert_int_equal(send_raw(a, MMC_MSG_LEASE_RELEASE, rel0b, 24), MMC_INVALID_PARAM);
    /* The link still works. */
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 1 * MiB, NULL), 0);
    assert_int_equal(put1(a, 0, "ok", 100, 1), 0);
    /* LIST and STATS. */
    mmc_key_ref_t pre = kref("o");
    mmc_req_t l = {.type = MMC_MSG_LIST, .limit = 10, .prefix = pre};
    assert_int_equal(call(a, &l), 0);
    bool more;
    uint32_t n;
    mmc_list_item_t *items;
    assert_int_equal(mmc_resp_list_decode(a->resp, a->resp_len, &more, &n, &items), 0);
    assert_int_equal(n, 1);
    assert_false(more);
    assert_memory_equal(items[0].key.p, "ok", 2);
    assert_int_equal(items[0].size, 100);
    free(items);
    mmc_req_t s = {.type = MMC_MSG_STATS};
    assert_int_equal(call(a, &s), 0);
    mmc_stats_t st;
    mmc_seg_info_t *segs;
    assert_int_equal(mmc_resp_stats_decode(a->resp, a->resp_len, &st, &n, &segs), 0);
    assert_int_equal(n, 1);
    assert_int_equal(segs[0].used, 4096);
    assert_int_equal(st.objects, 1);
    assert_true(st.puts == 1);
    free(segs);
    util_wbuf_t m;
    util_wbuf_init(&m);
    meta_core_metrics(g_core, &m);
    util_wbuf_u8(&m, 0);
    assert_non_null(strstr((char *)m.p, "mmc_meta_requests_total{op=\"put_start\"} 1"));
    assert_non_null(strstr((char *)m.p, "mmc_meta_used_bytes{medium=\"dram\"} 4096"));
    assert_non_null(strstr((char *)m.p, "mmc_meta_bad_requests_total"));
    util_wbuf_fini(&m);
    link_close(a);
    check();
}

static void test_list_paging(void **state)
{
    (void)state;
    core_new(10000, 30000);
    fake_link_t *a = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 4 * MiB, NULL), 0);
    for (int i = 0; i < 25; i++) {
        char key[16];
        snprintf(key, sizeof(key), "p/%02d", i);
        assert_int_equal(put1(a, 0, key, 100, 1), 0);
    }
    assert_int_equal(put1(a, 0, "q", 100, 1), 0);
    char after[16] = "";
    int seen = 0;
    for (int page = 0; page < 10; page++) {
        mmc_req_t l = {.type = MMC_MSG_LIST, .limit = 10, .prefix = kref("p/"), .after = kref(after)};
        assert_int_equal(call(a, &l), 0);
        bool more;
        uint32_t n;
        mmc_list_item_t *items;
        assert_int_equal(mmc_resp_list_decode(a->resp, a->resp_len, &more, &n, &items), 0);
        for (uint32_t i = 0; i < n; i++) {
            char want[16];
            snprintf(want, sizeof(want), "p/%02d", seen++);
            assert_int_equal(items[i].key.len, strlen(want));
            assert_memory_equal(items[i].key.p, want, strlen(want));
        }
        if (n) snprintf(after, sizeof(after), "%.*s", (int)items[n - 1].key.len, items[n - 1].key.p);
        free(items);
        if (!more) break;
    }
    assert_int_equal(seen, 25);
    link_close(a);
}


/* ---------- leases belong to their holder (issue 16) ---------- */

static void test_lease_owner_and_ids(void **state)
{
    (void)state;
    core_new(5000, 30000);
    fake_link_t *a = link_open(), *r = link_open(), *x = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 64 * KiB, NULL), 0);
    assert_int_equal(put1(a, 0, "v", 40 * KiB, 1), 0);
    uint64_t lease;
    assert_int_equal(get1(r, UINT32_MAX, "v", NULL, &lease), 0);
    /* Another client cannot end it: refused, and it stays. */
    assert_int_equal(release1(x, lease), MMC_LEASE_NOT_OWNER);
    assert_int_equal(release1(a, lease), MMC_LEASE_NOT_OWNER);
    assert_int_equal(stats().leases, 1);
    /* So the space stays the reader's: a put that needs it cannot evict it. */
    assert_int_equal(put_start1(a, 0, "w", 40 * KiB, 1, NULL, 0, NULL), MMC_NOT_ENOUGH_MEMORY);
    /* The holder's release: held, intact. */
    assert_int_equal(release1(r, lease), MMC_OK);
    assert_int_equal(stats().leases, 0);
    assert_int_equal(put_start1(a, 0, "w", 40 * KiB, 1, NULL, 0, NULL), 0);
    assert_int_equal(put_end1(a, "w", 0), 0);
    /* Lease ids: non-zero, distinct, not a sequence anyone can guess. */
    uint64_t ids[64];
    for (int i = 0; i < 64; i++) {
        assert_int_equal(get1(r, UINT32_MAX, "w", NULL, &ids[i]), 0);
        assert_int_not_equal(ids[i], 0);
        for (int j = 0; j < i; j++) assert_int_not_equal(ids[i], ids[j]);
    }
    int steps_of_one = 0;
    for (int i = 1; i < 64; i++) steps_of_one += ids[i] == ids[i - 1] + 1;
    assert_true(steps_of_one < 4);
    for (int i = 0; i < 64; i++) assert_int_equal(release1(r, ids[i]), MMC_OK);
    /* A new MetaService instance does not know the old one's ids (nor hands them out again). */
    uint64_t old = ids[0];
    link_close(a);
    link_close(r);
    link_close(x);
    meta_core_destroy(g_core);
    core_new(5000, 30000);
    a = link_open();
    r = link_open_owner(0x5eed0000 + 1000); /* any token */
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 64 * KiB, NULL), 0);
    assert_int_equal(put1(a, 0, "w", 40 * KiB, 1), 0);
    assert_int_equal(get1(r, UINT32_MAX, "w", NULL, &lease), 0);
    assert_int_not_equal(lease, old);
    assert_int_equal(release1(r, old), MMC_LEASE_LOST);
    assert_int_equal(release1(r, lease), MMC_OK);
    link_close(a);
    link_close(r);
    check();
}

static void test_lease_outlives_link(void **state)
{
    (void)state;
    core_new(5000, 30000);
    fake_link_t *a = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 64 * KiB, NULL), 0);
    assert_int_equal(put1(a, 0, "v", 40 * KiB, 1), 0);
    /* Dropped for silence (a paused reader) or by EOF: the lease stays either way. */
    int32_t reasons[] = {SMEM_TIMEOUT, SMEM_PEER_GONE, SMEM_IO};
    for (int i = 0; i < 3; i++) {
        uint64_t token = 0xabc0 + (uint64_t)i, lease;
        fake_link_t *r = link_open_owner(token);
        assert_int_equal(get1(r, UINT32_MAX, "v", NULL, &lease), 0);
        link_close_reason(r, reasons[i]);
        assert_int_equal(stats().leases, 1);
        /* Churn cannot take the space meanwhile: remove defers, a put that needs it fails. */
        assert_int_equal(keys1f(a, MMC_MSG_REMOVE, "v", MMC_PF_FORCE), 0);
        assert_int_equal(put_start1(a, 0, "w", 40 * KiB, 1, NULL, 0, NULL), MMC_NOT_ENOUGH_MEMORY);
        g_now += 4000;
        meta_core_tick(g_core);
        /* The reader comes back on a new link with the same token: its lease was held throughout. */
        r = link_open_owner(token);
        assert_int_equal(release1(r, lease), MMC_OK);
        assert_int_equal(stats().removing, 0);
        assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, 0);
        link_close(r);
        assert_int_equal(put1(a, 0, "v", 40 * KiB, 1), 0);
    }
    link_close(a);
    check();
}

static void test_lease_expired_is_lost(void **state)
{
    (void)state;
    core_new(5000, 30000);
    fake_link_t *a = link_open(), *r = link_open();
    assert_int_equal(mount(a, 0, MMC_MEDIA_DRAM, 64 * KiB, NULL), 0);
    assert_int_equal(put1(a, 0, "v", 40 * KiB, 1), 0);
    uint64_t lease;
    /* Ended by the timer, then released: lost. */
    assert_int_equal(get1(r, UINT32_MAX, "v", NULL, &lease), 0);
    g_now += 5001;
    meta_core_tick(g_core);
    assert_int_equal(release1(r, lease), MMC_LEASE_LOST);
    /* Past its expiry but before the timer ran: lost as well, and ended. */
    assert_int_equal(get1(r, UINT32_MAX, "v", NULL, &lease), 0);
    g_now += 5000;
    assert_int_equal(release1(r, lease), MMC_LEASE_LOST);
    assert_int_equal(stats().leases, 0);
    /* Expired and the space reused by another key before the release: lost. */
    assert_int_equal(get1(r, UINT32_MAX, "v", NULL, &lease), 0);
    g_now += 5001;
    meta_core_tick(g_core);
    assert_int_equal(keys1(a, MMC_MSG_REMOVE, "v"), 0);
    assert_int_equal(put1(a, 0, "other", 40 * KiB, 1), 0);
    assert_int_equal(release1(r, lease), MMC_LEASE_LOST);
    /* Just inside the ttl: intact. */
    assert_int_equal(get1(r, UINT32_MAX, "other", NULL, &lease), 0);
    g_now += 4999;
    assert_int_equal(release1(r, lease), MMC_OK);
    link_close(a);
    link_close(r);
    check();
}

static void test_lease_replica_loss_is_lost(void **state)
{
    (void)state;
    core_new(10000, 30000);
    fake_link_t *l[3], *r = link_open();
    for (uint32_t i = 0; i < 3; i++) {
        l[i] = link_open();
        assert_int_equal(mount(l[i], i, MMC_MEDIA_DRAM, 1 * MiB, NULL), 0);
    }
    int32_t p01[] = {0, 1}, p2[] = {2};
    assert_int_equal(put_start1(l[0], 0, "two", 8192, 2, p01, 2, NULL), 0);
    assert_int_equal(put_end1(l[0], "two", 0), 0);
    assert_int_equal(put_start1(l[0], 0, "far", 8192, 1, p2, 1, NULL), 0);
    assert_int_equal(put_end1(l[0], "far", 0), 0);
    /* One lease over both keys, another over "far" alone. */
    mmc_key_ref_t k[2] = {kref("two"), kref("far")};
    mmc_req_t g = {.type = MMC_MSG_GET, .rank = UINT32_MAX, .owner = r->owner, .n = 2, .keys = k};
    assert_int_equal(call(r, &g), 0);
    mmc_loc_t locs[2];
    uint64_t both, far;
    assert_int_equal(mmc_resp_locs_decode(r->resp, r->resp_len, 2, &both, NULL, locs), 0);
    assert_int_equal(locs[0].status, 0);
    assert_int_equal(locs[1].status, 0);
    assert_int_equal(get1(r, UINT32_MAX, "far", NULL, &far), 0);
    /* Rank 1's LocalService dies and comes back with an empty heap: "two" keeps its rank 0 replica, but a
     * reader may have copied from rank 1, whose space is free for anyone now. */
    link_close(l[1]);
    l[1] = link_open();
    assert_int_equal(mount(l[1], 1, MMC_MEDIA_DRAM, 1 * MiB, NULL), 0);
    assert_int_equal(put1(l[1], 1, "reuse", 8192, 1), 0);
    assert_int_equal(release1(r, both), MMC_LEASE_LOST);
    assert_int_equal(release1(r, far), MMC_OK); /* untouched */
    /* UNMOUNT (a clean leave) under a lease, the object dropped with its last replica: lost too. */
    assert_int_equal(get1(r, UINT32_MAX, "far", NULL, &far), 0);
    mmc_req_t um = {.type = MMC_MSG_UNMOUNT, .rank = 2, .medium = MMC_MEDIA_DRAM};
    assert_int_equal(call(l[2], &um), 0);
    assert_int_equal(get1(r, UINT32_MAX, "far", NULL, NULL), MMC_KEY_NOT_FOUND);
    assert_int_equal(release1(r, far), MMC_LEASE_LOST);
    /* A lease taken after the loss is intact. */
    assert_int_equal(get1(r, UINT32_MAX, "two", NULL, &both), 0);
    assert_int_equal(release1(r, both), MMC_OK);
    for (int i = 0; i < 3; i++) link_close(l[i]);
    link_close(r);
    check();
}

static void test_writer_reconnects(void **state)
{
    (void)state;
    core_new(10000, 2000);
    fake_link_t *m = link_open();
    assert_int_equal(mount(m, 0, MMC_MEDIA_DRAM, 1 * MiB, NULL), 0);
    /* Its link dropped for silence (a paused writer): the put stays until its deadline, and the writer,
     * back on a new link with its token, finishes it. */
    fake_link_t *w = link_open_owner(0x77);
    assert_int_equal(put_start1(w, UINT32_MAX, "p", 100 * KiB, 1, NULL, 0, NULL), 0);
    link_close_reason(w, SMEM_TIMEOUT);
    assert_int_equal(stats().writing, 1);
    g_now += 1000;
    meta_core_tick(g_core);
    assert_int_equal(stats().writing, 1);
    w = link_open_owner(0x77);
    fake_link_t *other = link_open();
    assert_int_equal(put_end1(other, "p", 0), MMC_UNMATCHED_STATE); /* not its put */
    assert_int_equal(put_end1(w, "p", 0), 0);
    assert_int_equal(get1(m, 0, "p", NULL, NULL), 0);
    /* Dropped for silence and never back: revoked at the deadline. */
    assert_int_equal(put_start1(w, UINT32_MAX, "q", 100 * KiB, 1, NULL, 0, NULL), 0);
    link_close_reason(w, SMEM_TIMEOUT);
    g_now += 1999;
    meta_core_tick(g_core);
    assert_int_equal(stats().writing, 1);
    g_now += 2;
    meta_core_tick(g_core);
    assert_int_equal(stats().writing, 0);
    assert_int_equal(stats().media[MMC_MEDIA_DRAM].used, 100 * KiB);
    /* EOF or reset (the process is gone): revoked at once. */
    int32_t gone[] = {SMEM_PEER_GONE, SMEM_IO};
    for (int i = 0; i < 2; i++) {
        w = link_open_owner(0x77);
        assert_int_equal(put_start1(w, UINT32_MAX, "r", 100 * KiB, 1, NULL, 0, NULL), 0);
        link_close_reason(w, gone[i]);
        assert_int_equal(stats().writing, 0);
        assert_int_equal(keys1(m, MMC_MSG_EXIST, "r"), MMC_KEY_NOT_FOUND);
    }
    link_close(other);
    link_close(m);
    check();
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_two_phase_put_write_once, teardown),
        cmocka_unit_test_teardown(test_replica_placement, teardown),
        cmocka_unit_test_teardown(test_leases_and_remove, teardown),
        cmocka_unit_test_teardown(test_eviction_under_pressure, teardown),
        cmocka_unit_test_teardown(test_full_pool_of_leased, teardown),
        cmocka_unit_test_teardown(test_eviction_off, teardown),
        cmocka_unit_test_teardown(test_abandoned_put, teardown),
        cmocka_unit_test_teardown(test_unmount_survivors, teardown),
        cmocka_unit_test_teardown(test_batch_and_key_limits, teardown),
        cmocka_unit_test_teardown(test_garbage_requests, teardown),
        cmocka_unit_test_teardown(test_list_paging, teardown),
        cmocka_unit_test_teardown(test_lease_owner_and_ids, teardown),
        cmocka_unit_test_teardown(test_lease_outlives_link, teardown),
        cmocka_unit_test_teardown(test_lease_expired_is_lost, teardown),
        cmocka_unit_test_teardown(test_lease_replica_loss_is_lost, teardown),
        cmocka_unit_test_teardown(test_writer_reconnects, teardown),
        cmocka_unit_test_teardown(test_upsert_swaps_at_end, teardown),
        cmocka_unit_test_teardown(test_query_lease_holds_off_eviction_and_remove, teardown),
        cmocka_unit_test_teardown(test_pins_and_eviction, teardown),
        cmocka_unit_test_teardown(test_remove_regex_pages, teardown),
    };
    return TU_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
