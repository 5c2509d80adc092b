/*
 * Who may write what, at the store's core (no sockets): the four ownership
 * modes of store_group_own (rank-owned, claim-owned, the group's, written
 * once), the keys space and SHM register with them (a space's base record
 * and reference count, an SHM rank's context), and the recovery window of a
 * restarted store, which holds writes of keys under no registered prefix
 * until the survivors registered theirs. Every refusal answers
 * SMEM_NOT_PERMITTED and WARNs (each case starts a fresh core, so the
 * once-a-second WARN is the case's own).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "store/store_core.h"
#include "store/store_proto.h"
#include "util/util_buf.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"
#include "tu_cmocka.h"

#define NPEERS 4

/* A peer's link: the last answer it got, and the first statuses in order. */
typedef struct own_link {
    int answers;
    uint64_t req_id;
    int32_t status;
    int32_t statuses[16];
} own_link_t;

static int32_t link_send(void *link, const net_frame_hdr_t *hdr, const void *body, uint32_t len)
{
    (void)body;
    (void)len;
    own_link_t *l = link;
    if (hdr->flags != NET_FLAG_RESPONSE) return 0;
    if (l->answers < 16) l->statuses[l->answers] = hdr->status;
    l->answers++;
    l->req_id = hdr->req_id;
    l->status = hdr->status;
    return 0;
}

static void link_close(void *link) { (void)link; }

static const store_core_ops_t link_ops = {.send = link_send, .close = link_close};

/* WARN lines the store logged that name a refused write. */
static int g_warns;

static void warn_sink(int level, const char *msg)
{
    if (level == UTIL_LOG_WARN && strstr(msg, "refused a write") != NULL) g_warns++;
}

typedef struct own_fix {
    store_core_t *core;
    own_link_t links[NPEERS];
    store_peer_t *peers[NPEERS];
    uint64_t next_req;
} own_fix_t;

static own_fix_t *fix_open(uint32_t recovery_ms)
{
    own_fix_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(store_core_create(&link_ops, &f->core), 0);
    if (recovery_ms) store_core_set_recovery(f->core, recovery_ms, 0);
    for (int i = 0; i < NPEERS; i++) {
        f->peers[i] = store_core_peer_open(f->core, &f->links[i], "peer");
        assert_non_null(f->peers[i]);
    }
    g_warns = 0;
    return f;
}

static void fix_close(own_fix_t *f)
{
    for (int i = 0; i < NPEERS; i++)
        if (f->peers[i] != NULL) store_core_peer_close(f->core, f->peers[i], 0);
    store_core_destroy(f->core);
    free(f);
}

/* Send m from peer i; SMEM_OK.. the answer's status, or INT32_MIN when none came (held). */
static int32_t send_msg(own_fix_t *f, int i, const store_msg_t *m)
{
    util_wbuf_t w;
    util_wbuf_init(&w);
    assert_int_equal(store_msg_encode(m, &w), 0);
    net_frame_hdr_t h = {.type = m->type, .body_len = (uint32_t)w.len, .req_id = ++f->next_req};
    int before = f->links[i].answers;
    store_core_dispatch(f->core, f->peers[i], &h, w.p);
    util_wbuf_fini(&w);
    if (f->links[i].answers == before) return INT32_MIN;
    assert_int_equal(f->links[i].req_id, h.req_id);
    return f->links[i].status;
}

static int32_t join(own_fix_t *f, int i, const char *group, uint32_t rank, uint64_t token, bool reclaim)
{
    store_msg_t m = {.type = STORE_MSG_GROUP_JOIN, .key = group, .key_len = (uint32_t)strlen(group),
                     .world_size = 8, .rank = rank, .token = token, .flags = reclaim ? STORE_JOIN_F_RECLAIM : 0};
    return send_msg(f, i, &m);
}

static int32_t own(own_fix_t *f, int i, const char *group, const char *prefix, uint8_t mode)
{
    store_msg_t m = {.type = STORE_MSG_GROUP_OWN, .key = group, .key_len = (uint32_t)strlen(group), .after = prefix,
                     .after_len = (uint32_t)strlen(prefix), .flags = mode};
    return send_msg(f, i, &m);
}

static int32_t set(own_fix_t *f, int i, const char *key, const char *val)
{
    store_msg_t m = {.type = STORE_MSG_SET, .key = key, .key_len = (uint32_t)strlen(key), .val = (const uint8_t *)val,
                     .val_len = (uint32_t)strlen(val)};
    return send_msg(f, i, &m);
}

/* CAS from cmp (NULL: absent) to val. */
static int32_t cas(own_fix_t *f, int i, const char *key, const char *cmp, const char *val)
{
    store_msg_t m = {.type = STORE_MSG_CAS, .key = key, .key_len = (uint32_t)strlen(key), .val = (const uint8_t *)val,
                     .val_len = (uint32_t)strlen(val), .cmp = (const uint8_t *)cmp, .cmp_len = cmp ? (uint32_t)strlen(cmp) : 0,
                     .cmp_present = cmp != NULL};
    return send_msg(f, i, &m);
}

static int32_t del(own_fix_t *f, int i, const char *key)
{
    store_msg_t m = {.type = STORE_MSG_DELETE, .key = key, .key_len = (uint32_t)strlen(key)};
    return send_msg(f, i, &m);
}

static int32_t add(own_fix_t *f, int i, const char *key, int64_t d)
{
    store_msg_t m = {.type = STORE_MSG_ADD, .key = key, .key_len = (uint32_t)strlen(key), .i64 = d};
    return send_msg(f, i, &m);
}

static int32_t append(own_fix_t *f, int i, const char *key, const char *val)
{
    store_msg_t m = {.type = STORE_MSG_APPEND, .key = key, .key_len = (uint32_t)strlen(key),
                     .val = (const uint8_t *)val, .val_len = (uint32_t)strlen(val)};
    return send_msg(f, i, &m);
}

static void peer_reopen(own_fix_t *f, int i)
{
    store_core_peer_close(f->core, f->peers[i], 0);
    f->links[i] = (own_link_t){0};
    f->peers[i] = store_core_peer_open(f->core, &f->links[i], "peer");
    assert_non_null(f->peers[i]);
}

/* Refused, and the store WARNed (once a second: the first refusal of a case logs it). */
#define REFUSED(call)                                                \
    do {                                                             \
        assert_int_equal((call), SMEM_NOT_PERMITTED);                \
        assert_true(g_warns >= 1);                                   \
    } while (0)

/* Peers 0 and 1 hold ranks 0 and 1 of "g"; peer 3 holds nothing. */
static own_fix_t *fix_group(uint32_t recovery_ms)
{
    own_fix_t *f = fix_open(recovery_ms);
    assert_int_equal(join(f, 0, "g", 0, 100, recovery_ms != 0), 0);
    assert_int_equal(join(f, 1, "g", 1, 101, recovery_ms != 0), 0);
    return f;
}

/* ---------- the modes ---------- */

static void test_rank_mode(void **state)
{
    (void)state;
    own_fix_t *f = fix_group(0);
    assert_int_equal(own(f, 3, "g", "g/rec/", STORE_OWN_RANK), SMEM_NOT_PERMITTED); /* no rank: may not register */
    assert_int_equal(own(f, 0, "g", "g/rec/", STORE_OWN_RANK), 0);
    assert_int_equal(own(f, 1, "g", "g/rec/", STORE_OWN_RANK), 0);                     /* the same again: a no-op */
    assert_int_equal(own(f, 1, "g", "g/rec/", STORE_OWN_CLAIM), SMEM_DUPLICATED_OBJECT); /* another mode */
    assert_int_equal(own(f, 1, "g", "g/re", STORE_OWN_GROUP), SMEM_DUPLICATED_OBJECT);   /* overlapping */
    assert_int_equal(set(f, 0, "g/rec/0", "mine"), 0);
    assert_int_equal(g_warns, 0);
    REFUSED(set(f, 1, "g/rec/0", "yours")); /* another rank */
    REFUSED(set(f, 3, "g/rec/0", "x"));     /* no rank */
    REFUSED(del(f, 3, "g/rec/0"));
    REFUSED(set(f, 0, "g/rec/x", "x"));         /* not a rank */
    REFUSED(set(f, 0, "g/rec/00", "x"));        /* not canonical */
    REFUSED(cas(f, 1, "g/rec/0", "mine", "")); /* a tombstone, but its writer still holds rank 0 */
    /* rank 0's holder goes: the others may tombstone its record, and nothing else */
    peer_reopen(f, 0);
    REFUSED(set(f, 1, "g/rec/0", "taken"));
    REFUSED(cas(f, 3, "g/rec/0", "mine", "")); /* a tombstone needs a rank of the group */
    assert_int_equal(cas(f, 1, "g/rec/0", "mine", ""), 0);
    /* a new holder of rank 0 writes its own record */
    assert_int_equal(join(f, 0, "g", 0, 200, false), 0);
    assert_int_equal(set(f, 0, "g/rec/0", "new"), 0);
    fix_close(f);
}

static void test_claim_mode(void **state)
{
    (void)state;
    own_fix_t *f = fix_group(0);
    assert_int_equal(own(f, 0, "g", "g/c/", STORE_OWN_CLAIM), 0);
    assert_int_equal(set(f, 0, "g/c/k", "a"), 0);
    assert_int_equal(append(f, 0, "g/c/k", "b"), 0);
    assert_int_equal(g_warns, 0);
    REFUSED(set(f, 1, "g/c/k", "b"));
    REFUSED(del(f, 1, "g/c/k"));
    REFUSED(add(f, 3, "g/c/n", 1)); /* no rank: not even a new key */
    assert_int_equal(set(f, 1, "g/c/other", "1"), 0); /* a key of its own */
    REFUSED(set(f, 0, "g/c/other", "0"));
    /* the creator goes and a newcomer takes its rank with another token: it does not inherit the key,
     * but as a member of the group it may take over what nobody holds */
    peer_reopen(f, 0);
    assert_int_equal(join(f, 0, "g", 0, 300, false), 0);
    assert_int_equal(set(f, 1, "g/c/k", "taken"), 0);
    REFUSED(set(f, 0, "g/c/k", "back"));
    assert_int_equal(del(f, 1, "g/c/k"), 0);
    fix_close(f);
}

/* A space's reference count: every member adds to it, nobody else. */
static void test_group_mode(void **state)
{
    (void)state;
    own_fix_t *f = fix_group(0);
    assert_int_equal(own(f, 0, "g", "smem/bm/0/host/refs", STORE_OWN_GROUP), 0);
    assert_int_equal(add(f, 0, "smem/bm/0/host/refs", 1), 0);
    assert_int_equal(add(f, 1, "smem/bm/0/host/refs", 1), 0);
    assert_int_equal(add(f, 1, "smem/bm/0/host/refs", -1), 0);
    assert_int_equal(g_warns, 0);
    REFUSED(add(f, 3, "smem/bm/0/host/refs", -1));
    REFUSED(set(f, 3, "smem/bm/0/host/refs", "0"));
    REFUSED(del(f, 3, "smem/bm/0/host/refs"));
    fix_close(f);
}

/* A space's base record: a member creates it; its bytes never change; members may delete it. */
static void test_once_mode(void **state)
{
    (void)state;
    own_fix_t *f = fix_group(0);
    const char *key = "smem/bm/0/host/base";
    assert_int_equal(own(f, 0, "g", key, STORE_OWN_ONCE), 0);
    assert_int_equal(cas(f, 0, key, NULL, "layout+secret"), 0);
    assert_int_equal(cas(f, 1, key, NULL, "mine"), SMEM_CAS_MISMATCH); /* the lost race, not a refusal */
    assert_int_equal(set(f, 1, key, "layout+secret"), 0);              /* the same bytes: a re-publish */
    assert_int_equal(cas(f, 1, key, "layout+secret", "layout+secret"), 0);
    assert_int_equal(g_warns, 0);
    /* a member changes the bytes: refused, by every write */
    REFUSED(set(f, 1, key, "other layout"));
    REFUSED(cas(f, 0, key, "layout+secret", "other layout"));
    REFUSED(cas(f, 1, key, "layout+secret", "")); /* a tombstone changes them too */
    REFUSED(append(f, 0, key, "x"));
    /* the last one out deletes it */
    assert_int_equal(del(f, 1, key), 0);
    fix_close(f);
}

/* A non-member: neither creates it, nor writes the same bytes, nor deletes it. */
static void test_once_nonmember(void **state)
{
    (void)state;
    own_fix_t *f = fix_group(0);
    const char *key = "smem/bm/0/host/base";
    assert_int_equal(own(f, 0, "g", key, STORE_OWN_ONCE), 0);
    REFUSED(cas(f, 3, key, NULL, "forged"));
    assert_int_equal(cas(f, 0, key, NULL, "layout+secret"), 0);
    REFUSED(set(f, 3, key, "layout+secret"));
    REFUSED(del(f, 3, key));
    fix_close(f);
}

/* What space and SHM register: a non-member overwrites or deletes nothing of theirs. */
static void test_space_and_shm_keys(void **state)
{
    (void)state;
    own_fix_t *f = fix_open(0);
    assert_int_equal(join(f, 0, "smem_shm", 0, 10, false), 0);
    assert_int_equal(join(f, 1, "smem_shm", 1, 11, false), 0);
    assert_int_equal(own(f, 0, "smem_shm", "smem/shm/3/ctx/", STORE_OWN_RANK), 0);
    assert_int_equal(own(f, 0, "smem_shm", "smem/shm/3/member/", STORE_OWN_RANK), 0);
    assert_int_equal(own(f, 0, "smem_shm", "smem/shm/3/base", STORE_OWN_ONCE), 0);
    assert_int_equal(own(f, 0, "smem_shm", "smem/shm/3/refs", STORE_OWN_GROUP), 0);
    assert_int_equal(add(f, 0, "smem/shm/3/refs", 1), 0);
    assert_int_equal(cas(f, 0, "smem/shm/3/base", NULL, "base"), 0);
    assert_int_equal(set(f, 0, "smem/shm/3/ctx/0", "ctx0"), 0);
    assert_int_equal(set(f, 1, "smem/shm/3/ctx/1", "ctx1"), 0);
    assert_int_equal(g_warns, 0);
    REFUSED(set(f, 3, "smem/shm/3/base", "forged"));
    REFUSED(del(f, 3, "smem/shm/3/base"));
    REFUSED(set(f, 3, "smem/shm/3/ctx/1", "forged"));
    REFUSED(del(f, 3, "smem/shm/3/ctx/1"));
    REFUSED(set(f, 0, "smem/shm/3/ctx/1", "forged")); /* another rank's context */
    REFUSED(add(f, 3, "smem/shm/3/refs", -1));
    fix_close(f);
}

/* ---------- the recovery window ---------- */

static void window_end(own_fix_t *f) { store_core_tick(f->core, util_now_ms() + 60000); }

/* A restarted store: a connection that reclaimed nothing writes a member's record before its member
 * re-registered it. The write waits for the window, then meets the registration and is refused. */
static void test_window_holds_writes(void **state)
{
    (void)state;
    own_fix_t *f = fix_open(60000);
    /* the attacker first, before any survivor is back */
    assert_int_equal(set(f, 3, "g/rec/0", "forged"), INT32_MIN);
    assert_int_equal(set(f, 3, "smem/bm/0/host/base", "forged"), INT32_MIN);
    assert_int_equal(set(f, 3, "plain", "v"), INT32_MIN);
    assert_int_equal(join(f, 2, "g", UINT32_MAX, 102, false), INT32_MIN); /* a newcomer waits too */
    /* the survivors reclaim and register again; their writes pass at once */
    assert_int_equal(join(f, 0, "g", 0, 100, true), 0);
    assert_int_equal(own(f, 0, "g", "g/rec/", STORE_OWN_RANK), 0);
    assert_int_equal(own(f, 0, "g", "smem/bm/0/host/base", STORE_OWN_ONCE), 0);
    assert_int_equal(set(f, 0, "g/rec/0", "mine"), 0);
    assert_int_equal(cas(f, 0, "smem/bm/0/host/base", NULL, "base"), 0);
    /* under a registered prefix now: checked at once, also during the window (peer 1 has nothing held) */
    REFUSED(set(f, 1, "g/rec/0", "again"));
    g_warns = 0;
    int before = f->links[3].answers;
    window_end(f);
    /* the three held writes are answered in order: refused, refused, done */
    assert_int_equal(f->links[3].answers, before + 3);
    assert_int_equal(f->links[3].status, 0); /* "plain", the last */
    assert_true(g_warns >= 1);
    assert_int_equal(f->links[2].status, 0); /* the newcomer's join */
    /* the records are the members' */
    REFUSED(set(f, 3, "g/rec/0", "x"));
    REFUSED(del(f, 3, "smem/bm/0/host/base"));
    assert_int_equal(cas(f, 0, "smem/bm/0/host/base", "base", "base"), 0);
    fix_close(f);
}

/* A connection's requests stay in order: behind a held write, a read of the same key and a write to a
 * registered key wait too, and are answered after it (read-your-writes holds across the window). */
static void test_window_keeps_order(void **state)
{
    (void)state;
    own_fix_t *f = fix_open(60000);
    assert_int_equal(join(f, 0, "g", 0, 100, true), 0);
    assert_int_equal(own(f, 0, "g", "g/rec/", STORE_OWN_RANK), 0);
    assert_int_equal(set(f, 0, "plain", "1"), INT32_MIN); /* held */
    store_msg_t g = {.type = STORE_MSG_GET, .key = "plain", .key_len = 5};
    assert_int_equal(send_msg(f, 0, &g), INT32_MIN);     /* behind it, not answered "absent" */
    assert_int_equal(set(f, 0, "g/rec/0", "mine"), INT32_MIN); /* registered, but behind the held ones */
    assert_int_equal(set(f, 1, "other", "x"), INT32_MIN); /* another connection: its own queue */
    window_end(f);
    assert_int_equal(f->links[0].answers, 2 + 3);        /* join, own, then the three in order */
    assert_int_equal(f->links[0].statuses[2], 0);        /* SET plain */
    assert_int_equal(f->links[0].statuses[3], 0);        /* the GET found it (absent would be an error) */
    assert_int_equal(f->links[0].statuses[4], 0);        /* the record write */
    assert_int_equal(send_msg(f, 0, &g), 0);             /* and the key is there */
    fix_close(f);
}

/* Each held write answered on its own: the first two refused with the WARN. */
static void test_window_answers(void **state)
{
    (void)state;
    own_fix_t *f = fix_open(60000);
    assert_int_equal(set(f, 3, "g/rec/1", "forged"), INT32_MIN);
    assert_int_equal(join(f, 1, "g", 1, 101, true), 0);
    assert_int_equal(own(f, 1, "g", "g/rec/", STORE_OWN_RANK), 0);
    assert_int_equal(g_warns, 0);
    window_end(f);
    assert_int_equal(f->links[3].answers, 1);
    assert_int_equal(f->links[3].status, SMEM_NOT_PERMITTED);
    assert_int_equal(g_warns, 1);
    /* after the window, unregistered keys are written at once again */
    assert_int_equal(set(f, 3, "plain", "v"), 0);
    /* a held write of a connection that closed is dropped with it */
    fix_close(f);
    f = fix_open(60000);
    assert_int_equal(set(f, 3, "plain", "v"), INT32_MIN);
    peer_reopen(f, 3);
    window_end(f);
    assert_int_equal(f->links[3].answers, 0);
    store_server_stats_t st;
    store_core_stats(f->core, &st);
    assert_int_equal(st.keys, 0);
    fix_close(f);
}

static int group_setup(void **state)
{
    (void)state;
    util_log_sink_set(warn_sink);
    util_log_level_set(UTIL_LOG_WARN);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    util_log_sink_set(NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_mode),           cmocka_unit_test(test_claim_mode),
        cmocka_unit_test(test_group_mode),          cmocka_unit_test(test_once_mode),
        cmocka_unit_test(test_once_nonmember),
        cmocka_unit_test(test_space_and_shm_keys),  cmocka_unit_test(test_window_holds_writes),
        cmocka_unit_test(test_window_keeps_order), cmocka_unit_test(test_window_answers),
    };
    return TU_RUN_TESTS(argc, argv, tests, group_setup, group_teardown);
}
