/* MetaService RPC client (see mmc_meta_client.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "memcache/common/mmc_err.h"
#include "memcache/common/mmc_meta_client.h"
#include "net/net.h"
#include "util/util_buf.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define MC_MOUNTS_MAX 16u

typedef struct mc_mount {
    uint32_t rank;
    uint16_t medium;
    uint64_t gva, size;
    uint8_t host[MMC_HOST_ID_SIZE];
} mc_mount_t;

struct mmc_meta_client {
    net_rpc_t *rpc;
    net_tls_t *tls;
    uint32_t timeout_ms;
    uint64_t owner;     /* random, non-zero, for the client's life: its leases and puts survive reconnects */
    pthread_mutex_t mu; /* mounts, prover */
    mc_mount_t mounts[MC_MOUNTS_MAX];
    uint32_t nmounts;
    mmc_meta_prove_fn_t prove;
    void *prove_arg;
};

void mmc_meta_client_opts_init(mmc_meta_client_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->url, sizeof(o->url), "tcp://127.0.0.1:5000");
    o->timeout_ms = 10000;
    o->retry_ms = 100;
    o->call_retry_ms = UINT32_MAX;
    o->heartbeat_ms = 1000;
}

void mmc_meta_client_opts_from_local(const mmc_local_service_config_t *cfg, mmc_meta_client_opts_t *o)
{
    mmc_meta_client_opts_init(o);
    snprintf(o->url, sizeof(o->url), "%s", cfg->discoveryURL);
    if (cfg->timeoutSeconds > 0)
        o->timeout_ms = cfg->timeoutSeconds > UINT32_MAX / 1000 ? UINT32_MAX : cfg->timeoutSeconds * 1000;
    o->call_retry_ms = cfg->retryMilliseconds;
    o->tls = cfg->accTlsConfig;
}

/* ---------- transport ---------- */

/* The owner token: unguessable by other clients, so only this one can release its leases. */
static uint64_t mc_owner_new(void)
{
    uint64_t v = 0;
    while (v == 0) {
        ssize_t n = getrandom(&v, sizeof(v), 0);
        if (n != (ssize_t)sizeof(v)) {
            if (n < 0 && errno == EINTR) continue;
            /* No kernel entropy (pre-3.17 kernel): a token other processes cannot see is still per client. */
            LOG_WARN("mmc meta client: getrandom failed (%s); the owner token falls back to the clock",
                     n < 0 ? strerror(errno) : "short read");
            v = util_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&v;
            v *= 0x9E3779B97F4A7C15ull;
        }
    }
    return v;
}

static int32_t mc_call_raw(net_rpc_t *rpc, uint32_t timeout_ms, const mmc_req_t *r, uint8_t **resp, uint32_t *len)
{
    util_wbuf_t w;
    int32_t status = 0;
    util_wbuf_init(&w);
    int32_t rc = mmc_req_encode(r, &w);
    if (rc != MMC_OK) {
        util_wbuf_fini(&w);
        return rc;
    }
    *resp = NULL;
    *len = 0;
    rc = net_rpc_call(rpc, r->type, w.p, (uint32_t)w.len, timeout_ms, &status, resp, len);
    util_wbuf_fini(&w);
    if (rc != 0) return mmc_status_from_smem(rc); /* net set the message (timeout, link lost) */
    if (status != 0) {
        char msg[MMC_PROTO_ERRMSG_MAX + 1];
        mmc_resp_error_decode(*resp, *len, msg, sizeof(msg));
        free(*resp);
        *resp = NULL;
        return util_err_set(status, "MetaService %s: %s", mmc_msg_name(r->type), msg[0] ? msg : mmc_strerror(status));
    }
    return MMC_OK;
}

static int32_t mc_call(mmc_meta_client_t *c, const mmc_req_t *r, uint8_t **resp, uint32_t *len)
{
    *resp = NULL;
    *len = 0;
    if (c == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc meta client: NULL client");
    return mc_call_raw(c->rpc, c->timeout_ms, r, resp, len);
}

/* Points r->keys at the C strings. *mem must be freed by the caller. */
static int32_t mc_keys(const char *const *keys, uint32_t n, mmc_req_t *r, void **mem)
{
    *mem = NULL;
    if (n == 0 || n > MMC_BATCH_MAX)
        return util_err_set(MMC_INVALID_PARAM, "mmc meta client: batch of %u keys, must be 1..%u", n, MMC_BATCH_MAX);
    if (keys == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc meta client: NULL key array");
    mmc_key_ref_t *k = calloc(n, sizeof(*k));
    if (k == NULL) return util_err_set(MMC_MALLOC_FAILED, "mmc meta client: out of memory for %u keys", n);
    for (uint32_t i = 0; i < n; i++) {
        if (keys[i] == NULL) {
            free(k);
            return util_err_set(MMC_INVALID_PARAM, "mmc meta client: key #%u is NULL", i);
        }
        k[i].p = keys[i];
        k[i].len = (uint32_t)strnlen(keys[i], MMC_KEY_MAX + 1);
    }
    r->keys = k;
    r->n = n;
    *mem = k;
    return MMC_OK;
}

/* r's proof of BM membership on this link (rpc): the link's challenge from a HEARTBEAT, then the prover. *rank:
 * the rank proven (UINT32_MAX and no proof without a prover). */
static int32_t mc_prove(mmc_meta_client_t *c, net_rpc_t *rpc, mmc_req_t *r, uint32_t *rank)
{
    pthread_mutex_lock(&c->mu);
    mmc_meta_prove_fn_t fn = c->prove;
    void *arg = c->prove_arg;
    pthread_mutex_unlock(&c->mu);
    *rank = UINT32_MAX;
    if (fn == NULL) return MMC_OK;
    mmc_req_t hb = {.type = MMC_MSG_HEARTBEAT, .rank = UINT32_MAX};
    uint8_t *resp, chal[8];
    uint32_t len;
    uint64_t challenge = 0;
    int32_t rc = mc_call_raw(rpc, c->timeout_ms, &hb, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_heartbeat_decode(resp, len, NULL, NULL, &challenge);
    free(resp);
    if (rc != MMC_OK) return rc;
    util_put_le64(chal, challenge);
    return fn(arg, chal, sizeof(chal), rank, r->proof);
}

static int32_t mc_mount_send(mmc_meta_client_t *c, net_rpc_t *rpc, const mc_mount_t *m, uint64_t *usable)
{
    mmc_req_t r = {.type = MMC_MSG_MOUNT, .rank = m->rank, .medium = m->medium, .gva = m->gva, .size = m->size};
    uint8_t *resp;
    uint32_t len, proven;
    memcpy(r.host, m->host, MMC_HOST_ID_SIZE);
    int32_t rc = mc_prove(c, rpc, &r, &proven);
    if (rc != MMC_OK) return rc;
    rc = mc_call_raw(rpc, c->timeout_ms, &r, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_mount_decode(resp, len, usable);
    free(resp);
    return rc;
}

/* After a reconnect the MetaService has none of our segments: mount them again. */
static int32_t mc_on_reconnect(net_rpc_t *rpc, void *arg)
{
    mmc_meta_client_t *c = arg;
    mc_mount_t m[MC_MOUNTS_MAX];
    pthread_mutex_lock(&c->mu);
    uint32_t n = c->nmounts;
    memcpy(m, c->mounts, n * sizeof(m[0]));
    pthread_mutex_unlock(&c->mu);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t usable;
        int32_t rc = mc_mount_send(c, rpc, &m[i], &usable);
        if (rc == MMC_NOT_CONNECTED || rc == MMC_TIMEOUT) return rc; /* retry the whole reconnect */
        if (rc != MMC_OK)
            LOG_ERROR("mmc meta client: re-mounting rank %u medium %u after reconnect failed: %s", m[i].rank,
                      m[i].medium, util_err_get());
        else
            LOG_INFO("mmc meta client: re-mounted rank %u medium %u after reconnect", m[i].rank, m[i].medium);
    }
    return 0;
}

int32_t mmc_meta_client_connect(const mmc_meta_client_opts_t *opts, mmc_meta_client_t **out)
{
    if (opts == NULL || out == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_client_connect: NULL argument");
    if (opts->url[0] == '\0' || opts->timeout_ms == 0)
        return util_err_set(MMC_INVALID_PARAM, "mmc_meta_client_connect: empty URL or zero timeout");
    mmc_meta_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL) return util_err_set(MMC_MALLOC_FAILED, "mmc_meta_client_connect: out of memory");
    pthread_mutex_init(&c->mu, NULL);
    c->timeout_ms = opts->timeout_ms;
    c->owner = mc_owner_new();
    int32_t rc;
    if (opts->tls.tlsEnable) {
        net_tls_opts_t t;
        net_tls_opts_init(&t);
        t.enable = true;
        snprintf(t.ca_path, sizeof(t.ca_path), "%s", opts->tls.caPath);
        snprintf(t.crl_path, sizeof(t.crl_path), "%s", opts->tls.crlPath);
        snprintf(t.cert_path, sizeof(t.cert_path), "%s", opts->tls.certPath);
        snprintf(t.key_path, sizeof(t.key_path), "%s", opts->tls.keyPath);
        snprintf(t.key_pass_path, sizeof(t.key_pass_path), "%s", opts->tls.keyPassPath);
        rc = net_tls_create(&t, false, &c->tls);
        if (rc != 0) {
            rc = mmc_status_from_smem(rc);
            goto free_client;
        }
    }
    net_rpc_opts_t ro;
    net_rpc_opts_init(&ro);
    ro.net.max_frame = MMC_PROTO_FRAME_MAX;
    ro.net.tls = c->tls;
    ro.connect_timeout_ms = opts->timeout_ms;
    /* The seed's retry_milliseconds: how long calls wait for a lost link (0: they fail at once); the
     * background redial goes on regardless. */
    ro.reconnect_timeout_ms = opts->call_retry_ms == UINT32_MAX ? opts->timeout_ms : opts->call_retry_ms;
    ro.backoff_init_ms = opts->retry_ms ? opts->retry_ms : 100;
    ro.backoff_max_ms = ro.backoff_init_ms > 2000 ? ro.backoff_init_ms : 2000;
    ro.heartbeat_ms = opts->heartbeat_ms;
    ro.on_reconnect = mc_on_reconnect;
    ro.arg = c;
    rc = net_rpc_create(opts->url, &ro, &c->rpc);
    if (rc != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", util_err_get());
        rc = util_err_set(rc == SMEM_INVALID_PARAM ? MMC_INVALID_PARAM : MMC_NOT_CONNECTED, "MetaService: %s", msg);
        goto destroy_tls;
    }
    *out = c;
    return MMC_OK;

destroy_tls:
    net_tls_destroy(c->tls);
free_client:
    pthread_mutex_destroy(&c->mu);
    free(c);
    return rc;
}

void mmc_meta_client_close(mmc_meta_client_t *c)
{
    if (c == NULL) return;
    net_rpc_destroy(c->rpc);
    net_tls_destroy(c->tls);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

bool mmc_meta_client_connected(const mmc_meta_client_t *c) { return c != NULL && net_rpc_connected(c->rpc); }

void mmc_meta_client_set_prover(mmc_meta_client_t *c, mmc_meta_prove_fn_t fn, void *arg)
{
    if (c == NULL) return;
    pthread_mutex_lock(&c->mu);
    c->prove = fn;
    c->prove_arg = arg;
    pthread_mutex_unlock(&c->mu);
}

/* ---------- membership ---------- */

int32_t mmc_meta_mount(mmc_meta_client_t *c, uint32_t rank, uint16_t medium, uint64_t gva, uint64_t size,
                       const uint8_t *host, uint64_t *usable)
{
    if (c == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_mount: NULL client");
    mc_mount_t m = {.rank = rank, .medium = medium, .gva = gva, .size = size};
    if (host != NULL) memcpy(m.host, host, MMC_HOST_ID_SIZE);
    pthread_mutex_lock(&c->mu);
    bool full = c->nmounts >= MC_MOUNTS_MAX;
    pthread_mutex_unlock(&c->mu);
    if (full) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_mount: at most %u segments per client", MC_MOUNTS_MAX);
    uint64_t u = 0;
    int32_t rc = mc_mount_send(c, c->rpc, &m, &u);
    if (rc != MMC_OK) return rc;
    pthread_mutex_lock(&c->mu);
    if (c->nmounts < MC_MOUNTS_MAX) c->mounts[c->nmounts++] = m;
    pthread_mutex_unlock(&c->mu);
    if (usable) *usable = u;
    return MMC_OK;
}

int32_t mmc_meta_unmount(mmc_meta_client_t *c, uint32_t rank, uint16_t medium, uint32_t *dropped, uint32_t *shrunk)
{
    mmc_req_t r = {.type = MMC_MSG_UNMOUNT, .rank = rank, .medium = medium};
    uint8_t *resp;
    uint32_t len;
    int32_t rc = mc_call(c, &r, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_unmount_decode(resp, len, dropped, shrunk);
    free(resp);
    if (rc == MMC_OK || rc == MMC_LINK_NOT_FOUND) {
        pthread_mutex_lock(&c->mu);
        for (uint32_t i = 0; i < c->nmounts; i++) {
            if (c->mounts[i].rank == rank && c->mounts[i].medium == medium) {
                c->mounts[i] = c->mounts[--c->nmounts];
                break;
            }
        }
        pthread_mutex_unlock(&c->mu);
    }
    return rc;
}

int32_t mmc_meta_heartbeat(mmc_meta_client_t *c, uint32_t rank, uint32_t *nseg, uint64_t *instance)
{
    mmc_req_t r = {.type = MMC_MSG_HEARTBEAT, .rank = rank};
    uint8_t *resp;
    uint32_t len;
    int32_t rc = mc_call(c, &r, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_heartbeat_decode(resp, len, nseg, instance, NULL);
    free(resp);
    return rc;
}

/* ---------- objects ---------- */

int32_t mmc_meta_put_start(mmc_meta_client_t *c, uint32_t rank, const mmc_put_options *opt, const char *const *keys,
                           const uint64_t *sizes, uint32_t n, mmc_loc_t *locs, uint32_t *put_timeout_ms)
{
    return mmc_meta_put_start_ex(c, rank, opt, 0, 0, keys, sizes, n, locs, put_timeout_ms);
}

uint64_t mmc_meta_token_new(void) { return mc_owner_new(); }

int32_t mmc_meta_put_start_ex(mmc_meta_client_t *c, uint32_t rank, const mmc_put_options *opt, uint32_t flags,
                              uint64_t owner, const char *const *keys, const uint64_t *sizes, uint32_t n,
                              mmc_loc_t *locs, uint32_t *put_timeout_ms)
{
    if (opt == NULL || sizes == NULL || locs == NULL)
        return util_err_set(MMC_INVALID_PARAM, "mmc_meta_put_start: NULL argument");
    if (c == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_put_start: NULL client");
    mmc_req_t r = {.type = MMC_MSG_PUT_START, .rank = rank, .medium = opt->mediaType, .flags = flags,
                   .owner = owner ? owner : c->owner};
    if (opt->replicaNum < 1 || opt->replicaNum > MMC_REPLICA_MAX)
        return util_err_set(MMC_INVALID_PARAM, "mmc_meta_put_start: replicaNum %u, must be 1..%u", opt->replicaNum,
                            MMC_REPLICA_MAX);
    r.replicas = (uint8_t)opt->replicaNum;
    for (uint32_t i = 0; i < MMC_REPLICA_MAX; i++)
        if (opt->preferredLocalServiceIDs[i] >= 0) r.pref[r.npref++] = opt->preferredLocalServiceIDs[i];
    void *mem;
    int32_t rc = mc_keys(keys, n, &r, &mem);
    if (rc != MMC_OK) return rc;
    r.sizes = (uint64_t *)(uintptr_t)sizes;
    uint8_t *resp;
    uint32_t len;
    rc = mc_call(c, &r, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_locs_decode(resp, len, n, NULL, put_timeout_ms, locs);
    free(resp);
    free(mem);
    return rc;
}

static int32_t mc_status_call(mmc_meta_client_t *c, mmc_req_t *r, const char *const *keys, uint32_t n, int32_t *st)
{
    void *mem = NULL;
    if (st == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc meta client: NULL status array");
    int32_t rc = keys ? mc_keys(keys, n, r, &mem) : MMC_OK;
    if (rc != MMC_OK) return rc;
    uint8_t *resp;
    uint32_t len;
    rc = mc_call(c, r, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_status_decode(resp, len, n, st);
    free(resp);
    free(mem);
    return rc;
}

/* A request over keys answered with one location per key (GET, QUERY). */
static int32_t mc_locs_call(mmc_meta_client_t *c, mmc_req_t *r, const char *const *keys, uint32_t n, mmc_loc_t *locs,
                            uint64_t *lease_id, uint32_t *ttl_ms)
{
    void *mem;
    int32_t rc = mc_keys(keys, n, r, &mem);
    if (rc != MMC_OK) return rc;
    uint8_t *resp;
    uint32_t len;
    rc = mc_call(c, r, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_locs_decode(resp, len, n, lease_id, ttl_ms, locs);
    free(resp);
    free(mem);
    return rc;
}

int32_t mmc_meta_put_end(mmc_meta_client_t *c, const char *const *keys, const int32_t *results, uint32_t n,
                         int32_t *st)
{
    return mmc_meta_put_end_ex(c, 0, keys, results, n, st);
}

int32_t mmc_meta_put_end_ex(mmc_meta_client_t *c, uint64_t owner, const char *const *keys, const int32_t *results,
                            uint32_t n, int32_t *st)
{
    if (results == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_put_end: NULL results");
    if (c == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_put_end: NULL client");
    mmc_req_t r = {.type = MMC_MSG_PUT_END, .owner = owner ? owner : c->owner, .results = (int32_t *)(uintptr_t)results};
    return mc_status_call(c, &r, keys, n, st);
}

int32_t mmc_meta_get(mmc_meta_client_t *c, uint32_t rank, const uint8_t *host, const char *const *keys, uint32_t n,
                     mmc_loc_t *locs, uint64_t *lease_id, uint32_t *ttl_ms)
{
    if (c == NULL || locs == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_get: NULL client or locations");
    mmc_req_t r = {.type = MMC_MSG_GET, .rank = rank, .owner = c->owner};
    if (host != NULL) memcpy(r.host, host, MMC_HOST_ID_SIZE);
    return mc_locs_call(c, &r, keys, n, locs, lease_id, ttl_ms);
}

int32_t mmc_meta_lease_release(mmc_meta_client_t *c, const uint64_t *ids, uint32_t n, int32_t *st)
{
    if (c == NULL || ids == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_lease_release: NULL client or ids");
    mmc_req_t r = {.type = MMC_MSG_LEASE_RELEASE, .owner = c->owner, .n = n, .ids = (uint64_t *)(uintptr_t)ids};
    int32_t rc = mc_status_call(c, &r, NULL, n, st);
    /* Sent on a link that was just lost (a reader paused past the heartbeat timeout finds its link dropped):
     * once more on the new one. Safe to repeat: a release the MetaService did handle answers MMC_LEASE_LOST the
     * second time, never a wrong MMC_OK. */
    if (rc == MMC_NOT_CONNECTED) rc = mc_status_call(c, &r, NULL, n, st);
    return rc;
}

int32_t mmc_meta_exist(mmc_meta_client_t *c, const char *const *keys, uint32_t n, int32_t *st)
{
    return mmc_meta_exist_ex(c, 0, keys, n, st);
}

int32_t mmc_meta_exist_ex(mmc_meta_client_t *c, uint32_t flags, const char *const *keys, uint32_t n, int32_t *st)
{
    mmc_req_t r = {.type = MMC_MSG_EXIST, .flags = flags};
    return mc_status_call(c, &r, keys, n, st);
}

int32_t mmc_meta_remove(mmc_meta_client_t *c, const char *const *keys, uint32_t n, int32_t *st)
{
    return mmc_meta_remove_ex(c, 0, keys, n, st);
}

int32_t mmc_meta_remove_ex(mmc_meta_client_t *c, uint32_t flags, const char *const *keys, uint32_t n, int32_t *st)
{
    mmc_req_t r = {.type = MMC_MSG_REMOVE, .flags = flags};
    return mc_status_call(c, &r, keys, n, st);
}

int32_t mmc_meta_query(mmc_meta_client_t *c, const char *const *keys, uint32_t n, mmc_loc_t *locs)
{
    return mmc_meta_query_ex(c, 0, keys, n, locs);
}

int32_t mmc_meta_query_ex(mmc_meta_client_t *c, uint32_t flags, const char *const *keys, uint32_t n, mmc_loc_t *locs)
{
    if (locs == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_query: NULL locations");
    mmc_req_t r = {.type = MMC_MSG_QUERY, .flags = flags};
    return mc_locs_call(c, &r, keys, n, locs, NULL, NULL);
}

static int32_t mc_remove_all_call(mmc_meta_client_t *c, mmc_req_t *r, uint64_t *removed, uint64_t *deferred,
                                  bool *more, char *cursor)
{
    uint8_t *resp;
    uint32_t len;
    mmc_key_ref_t cur = {"", 0};
    if (c == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_remove_all: NULL client");
    int32_t rc = mc_prove(c, c->rpc, r, &r->rank);
    if (rc != MMC_OK) return rc;
    rc = mc_call(c, r, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_remove_all_decode(resp, len, removed, deferred, more, &cur);
    if (rc == MMC_OK && cursor != NULL) {
        memcpy(cursor, cur.p, cur.len);
        cursor[cur.len] = '\0';
    }
    free(resp);
    return rc;
}

int32_t mmc_meta_remove_all(mmc_meta_client_t *c, uint64_t *removed, uint64_t *deferred)
{
    return mmc_meta_remove_all_ex(c, 0, removed, deferred);
}

int32_t mmc_meta_remove_all_ex(mmc_meta_client_t *c, uint32_t flags, uint64_t *removed, uint64_t *deferred)
{
    mmc_req_t r = {.type = MMC_MSG_REMOVE_ALL, .flags = flags & MMC_PF_FORCE};
    return mc_remove_all_call(c, &r, removed, deferred, NULL, NULL);
}

int32_t mmc_meta_remove_regex(mmc_meta_client_t *c, uint32_t flags, const char *pattern, char *cursor, uint32_t limit,
                              uint64_t *removed, uint64_t *deferred, bool *more)
{
    if (pattern == NULL || cursor == NULL || more == NULL)
        return util_err_set(MMC_INVALID_PARAM, "mmc_meta_remove_regex: NULL argument");
    mmc_req_t r = {.type = MMC_MSG_REMOVE_ALL, .flags = (flags & MMC_PF_FORCE) | MMC_PF_REGEX, .limit = limit};
    r.prefix.p = pattern;
    r.prefix.len = (uint32_t)strnlen(pattern, MMC_KEY_MAX + 1);
    r.after.p = cursor;
    r.after.len = (uint32_t)strnlen(cursor, MMC_KEY_MAX + 1);
    return mc_remove_all_call(c, &r, removed, deferred, more, cursor);
}

int32_t mmc_meta_list(mmc_meta_client_t *c, const char *prefix, const char *after, uint32_t limit,
                      mmc_meta_list_t **out)
{
    if (out == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_list: NULL output");
    mmc_req_t r = {.type = MMC_MSG_LIST, .limit = limit};
    r.prefix.p = prefix ? prefix : "";
    r.prefix.len = (uint32_t)strnlen(r.prefix.p, MMC_KEY_MAX + 1);
    r.after.p = after ? after : "";
    r.after.len = (uint32_t)strnlen(r.after.p, MMC_KEY_MAX + 1);
    mmc_meta_list_t *l = calloc(1, sizeof(*l));
    if (l == NULL) return util_err_set(MMC_MALLOC_FAILED, "mmc_meta_list: out of memory");
    uint32_t len;
    int32_t rc = mc_call(c, &r, &l->body, &len);
    if (rc == MMC_OK) rc = mmc_resp_list_decode(l->body, len, &l->more, &l->n, &l->items);
    if (rc != MMC_OK) {
        mmc_meta_list_free(l);
        return rc;
    }
    *out = l;
    return MMC_OK;
}

void mmc_meta_list_free(mmc_meta_list_t *l)
{
    if (l == NULL) return;
    free(l->items);
    free(l->body);
    free(l);
}

int32_t mmc_meta_stats(mmc_meta_client_t *c, mmc_stats_t *st, mmc_seg_info_t **segs, uint32_t *nseg)
{
    if (st == NULL || segs == NULL || nseg == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_stats: NULL output");
    mmc_req_t r = {.type = MMC_MSG_STATS};
    uint8_t *resp;
    uint32_t len;
    int32_t rc = mc_call(c, &r, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_stats_decode(resp, len, st, nseg, segs);
    free(resp);
    return rc;
}

/* ---------- replica tasks (REPLICA_START / REPLICA_END / REPLICA_CLEAR) ---------- */

int32_t mmc_meta_replica_start(mmc_meta_client_t *c, const char *key, uint32_t src, uint8_t mode,
                               const uint32_t *targets, uint32_t ntgt, mmc_loc_t *locs, uint64_t *task_id)
{
    if (c == NULL || locs == NULL || task_id == NULL || targets == NULL || ntgt == 0 || ntgt > MMC_REPLICA_MAX)
        return util_err_set(MMC_INVALID_PARAM, "mmc_meta_replica_start: NULL argument or %u targets (1..%u)", ntgt,
                            MMC_REPLICA_MAX);
    mmc_req_t r = {.type = MMC_MSG_REPLICA_START, .owner = c->owner, .rank = src, .replicas = mode,
                   .npref = (uint8_t)ntgt};
    for (uint32_t i = 0; i < ntgt; i++) r.pref[i] = targets[i] >= MMC_RANK_MAX ? -1 : (int32_t)targets[i];
    void *mem;
    int32_t rc = mc_keys(&key, 1, &r, &mem);
    if (rc != MMC_OK) return rc;
    uint8_t *resp;
    uint32_t len;
    rc = mc_call(c, &r, &resp, &len);
    if (rc == MMC_OK) rc = mmc_resp_locs_decode(resp, len, 1 + ntgt, task_id, NULL, locs);
    free(resp);
    free(mem);
    return rc;
}

int32_t mmc_meta_replica_end(mmc_meta_client_t *c, uint64_t task_id, int32_t result, int32_t *st)
{
    if (c == NULL) return util_err_set(MMC_INVALID_PARAM, "mmc_meta_replica_end: NULL client");
    mmc_req_t r = {.type = MMC_MSG_REPLICA_END, .owner = c->owner, .n = 1, .ids = &task_id, .results = &result};
    return mc_status_call(c, &r, NULL, 1, st);
}

int32_t mmc_meta_replica_clear(mmc_meta_client_t *c, uint32_t rank, const char *const *keys, uint32_t n, int32_t *st)
{
    mmc_req_t r = {.type = MMC_MSG_REPLICA_CLEAR, .rank = rank};
    return mc_status_call(c, &r, keys, n, st);
}
