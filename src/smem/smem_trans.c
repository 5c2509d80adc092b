/*
 * Trans instances: init, create/destroy and registered memory (served to
 * peers through the transport's window TP_WINDOW_REG by absolute address).
 * The view of the other instances is in smem_trans_peer.c, transfers and
 * streams in smem_trans_io.c; the shared objects in smem_int.h.
 *
 * Store records (little-endian, versioned):
 *   smem/trans/inst/<id>          {u16 version, u16 role, u32 rank, u16 len, transport address}
 *   smem/trans/reg/<id>/<addr>    {u16 version, u16 0, u32 0, u64 addr, u64 size}   (<addr>: 16 hex digits)
 * The instance's rank in store group "smem_trans" makes it live: when its
 * store connection goes (exit, crash), the liveness key goes and peers
 * forget it. Peers watch "smem/trans/" and the liveness prefix FIRST, then
 * list the current records, so no change is missed; the watch callbacks only
 * update tables under peer_lock (no store or transport call from them).
 *
 * Locks (leaves, never nested): reg_lock (local regions, pins), peer_lock
 * (peers, their regions and endpoint references), g_trans.lock (the handle
 * table). No transport or store call is made under any of them.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "smem/host/smem_trans.h"
#include "smem/smem_trans_int.h"
#include "store/store_roster.h"
#include "util/util_buf.h"
#include "util/util_log.h"
#include "util/util_status.h"
#include "util/util_time.h"

#define SMEM_TRANS_MAX 64u

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool inited;
    sm_trans_obj_t *objs[SMEM_TRANS_MAX];
} g_trans = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ---------- config, init ---------- */

int32_t smem_trans_config_init(smem_trans_config_t *config)
{
    if (config == NULL) return util_err_set(SMEM_INVALID_PARAM, "smem_trans_config_init: config is NULL");
    memset(config, 0, sizeof(*config));
    config->role = SMEM_TRANS_BOTH;
    config->initTimeout = 120;
    config->deviceId = UINT32_MAX; /* as the seed: no device */
    config->flags = 0;
    config->dataOpType = SMEMB_DATA_OP_HOST_TCP;
    config->startConfigServer = false;
    return SMEM_OK;
}

static int32_t sm_trans_config_check(const smem_trans_config_t *c, const char *what)
{
    if ((unsigned)c->role >= SMEM_TRANS_BUTT || c->role == SMEM_TRANS_NONE)
        return util_err_set(SMEM_INVALID_PARAM, "%s: role %d %s (SMEM_TRANS_SENDER 1, SMEM_TRANS_RECEIVER 2, "
                                                "SMEM_TRANS_BOTH 3)",
                            what, (int)c->role, c->role == SMEM_TRANS_NONE ? "is SMEM_TRANS_NONE" : "unknown");
    if (c->flags != 0) return util_err_set(SMEM_INVALID_PARAM, "%s: flags 0x%x unknown (reserved, 0)", what, c->flags);
    if (c->initTimeout == 0) return util_err_set(SMEM_INVALID_PARAM, "%s: initTimeout is 0 (seconds, >= 1)", what);
    if (c->dataOpType & ~(uint32_t)(SMEMB_DATA_OP_HOST_TCP | SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_HOST_SHM))
        return util_err_set(SMEM_UNSUPPORTED, "%s: dataOpType 0x%x: this build moves host memory over tcp only "
                                              "(SMEMB_DATA_OP_HOST_TCP)",
                            what, c->dataOpType);
    return SMEM_OK;
}

int32_t smem_trans_init(const smem_trans_config_t *config)
{
    smem_trans_config_t d;
    if (config == NULL) {
        smem_trans_config_init(&d);
        config = &d;
    }
    int32_t rc = sm_trans_config_check(config, "smem_trans_init");
    if (rc != SMEM_OK) return rc;
    pthread_mutex_lock(&g_trans.lock);
    g_trans.inited = true;
    pthread_mutex_unlock(&g_trans.lock);
    return SMEM_OK;
}

/* ---------- handles ---------- */

static const sm_handles_t sm_trans_handles = {
    .lock = &g_trans.lock, .cv = &g_trans.cv, .objs = (void *const *)g_trans.objs, .n = SMEM_TRANS_MAX,
    .refs_off = offsetof(sm_trans_obj_t, refs), .kind = "Trans instance",
    .inited = &g_trans.inited, .uninit_code = SMEM_INVALID_PARAM /* the seed's code here */,
    .init_call = "smem_trans_init"};

sm_trans_obj_t *sm_trans_obj_get(const void *h, const char *what)
{
    return sm_handle_get(&sm_trans_handles, h, what);
}
void sm_trans_obj_put(sm_trans_obj_t *o) { sm_handle_put(&sm_trans_handles, o); }

int32_t sm_trans_may_initiate(const sm_trans_obj_t *o, const char *what)
{
    if (o->cfg.role == SMEM_TRANS_RECEIVER)
        return util_err_set(SMEM_UNSUPPORTED, "%s: instance %s has role RECEIVER, which initiates no transfers (use "
                                              "SENDER or BOTH)",
                            what, o->id);
    return SMEM_OK;
}

/* ---------- local regions and the server-side resolver ---------- */

/* Index of the first region with addr > a. */
static uint32_t sm_trans_upper_locked(const sm_trans_obj_t *o, uint64_t a)
{
    uint32_t lo = 0, hi = o->nregs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (o->regs[mid]->addr <= a) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int32_t sm_trans_resolve(void *arg, uint32_t window, uint64_t off, uint64_t len, tp_access_t acc,
                                  tp_mem_t *out)
{
    sm_trans_obj_t *o = arg;
    (void)acc;
    if (window != TP_WINDOW_REG)
        return util_err_set(SMEM_OBJECT_NOT_EXISTS, "Trans instance %s exposes registered memory (window %u) only, "
                                                    "not window %u",
                            o->id, TP_WINDOW_REG, window);
    if (o->cfg.role == SMEM_TRANS_SENDER)
        return util_err_set(SMEM_UNSUPPORTED, "Trans instance %s has role SENDER and exposes no memory", o->id);
    int32_t rc = SMEM_OK;
    pthread_mutex_lock(&o->reg_lock);
    uint32_t i = sm_trans_upper_locked(o, off);
    sm_trans_region_t *r = i > 0 ? o->regs[i - 1] : NULL;
    if (r == NULL || off - r->addr >= r->size || len > r->size - (off - r->addr)) {
        rc = util_err_set(SMEM_OUT_OF_RANGE, "0x%" PRIx64 " + %" PRIu64 " bytes is not inside memory instance %s "
                                             "registered",
                          off, len, o->id);
    } else {
        r->pins++;
        out->ptr = (void *)(uintptr_t)off;
        out->pin = (uint64_t)(uintptr_t)r;
    }
    pthread_mutex_unlock(&o->reg_lock);
    return rc;
}

static void sm_trans_release(void *arg, uint32_t window, const tp_mem_t *mem)
{
    sm_trans_obj_t *o = arg;
    (void)window;
    sm_trans_region_t *r = (sm_trans_region_t *)(uintptr_t)mem->pin;
    pthread_mutex_lock(&o->reg_lock);
    if (--r->pins == 0 && r->dead) pthread_cond_broadcast(&o->reg_cv);
    pthread_mutex_unlock(&o->reg_lock);
}

static void sm_trans_reg_key(const sm_trans_obj_t *o, uint64_t addr, char *key, size_t cap)
{
    snprintf(key, cap, SMEM_TRANS_PREFIX "reg/%s/%016" PRIx64, o->id, addr);
}

static bool sm_trans_publishes(const sm_trans_obj_t *o) { return o->cfg.role != SMEM_TRANS_SENDER; }

static int32_t sm_trans_reg_add(sm_trans_obj_t *o, uint64_t addr, uint64_t size, bool malloced)
{
    if (addr == 0 || size == 0 || size - 1 > UINT64_MAX - addr)
        return util_err_set(SMEM_INVALID_PARAM, "register 0x%" PRIx64 " + %" PRIu64 " bytes: NULL, empty or wrapping",
                            addr, size);
    pthread_mutex_lock(&o->reg_lock);
    uint32_t i = sm_trans_upper_locked(o, addr);
    const sm_trans_region_t *prev = i > 0 ? o->regs[i - 1] : NULL, *next = i < o->nregs ? o->regs[i] : NULL;
    int32_t rc = SMEM_OK;
    if (prev != NULL && prev->addr == addr && prev->size == size) {
        pthread_mutex_unlock(&o->reg_lock);
        return SMEM_REPEAT_CALL; /* same range again: the caller answers 0 */
    }
    if ((prev != NULL && addr - prev->addr < prev->size) || (next != NULL && next->addr - addr < size))
        rc = util_err_set(SMEM_ADDR_CONFLICT, "register 0x%" PRIx64 " + %" PRIu64 " bytes overlaps 0x%" PRIx64
                                              " + %" PRIu64 " bytes registered before",
                          addr, size, prev != NULL && addr - prev->addr < prev->size ? prev->addr : next->addr,
                          prev != NULL && addr - prev->addr < prev->size ? prev->size : next->size);
    sm_trans_region_t *r = NULL;
    if (rc == SMEM_OK && o->nregs == o->capregs) {
        uint32_t cap = o->capregs ? o->capregs * 2 : 16;
        sm_trans_region_t **v = realloc(o->regs, cap * sizeof(*v));
        if (v == NULL) rc = util_err_set(SMEM_MALLOC_FAILED, "register: out of memory");
        else {
            o->regs = v;
            o->capregs = cap;
        }
    }
    if (rc == SMEM_OK && (r = calloc(1, sizeof(*r))) == NULL) rc = util_err_set(SMEM_MALLOC_FAILED, "register: out of memory");
    if (rc == SMEM_OK) {
        *r = (sm_trans_region_t){.addr = addr, .size = size, .malloced = malloced};
        memmove(o->regs + i + 1, o->regs + i, (o->nregs - i) * sizeof(*o->regs));
        o->regs[i] = r;
        o->nregs++;
    }
    pthread_mutex_unlock(&o->reg_lock);
    return rc;
}

/* Take the region starting at addr out of the table, wait for its pins, hand it back (caller frees). */
static int32_t sm_trans_reg_take(sm_trans_obj_t *o, uint64_t addr, sm_trans_region_t **out)
{
    pthread_mutex_lock(&o->reg_lock);
    uint32_t i = sm_trans_upper_locked(o, addr);
    sm_trans_region_t *r = i > 0 ? o->regs[i - 1] : NULL;
    if (r == NULL || r->addr != addr) {
        pthread_mutex_unlock(&o->reg_lock);
        return util_err_set(SMEM_OBJECT_NOT_EXISTS, "no registered range of instance %s starts at 0x%" PRIx64, o->id,
                            addr);
    }
    memmove(o->regs + i - 1, o->regs + i, (o->nregs - i) * sizeof(*o->regs));
    o->nregs--;
    r->dead = true; /* no new pins: peers' requests fail from now on */
    while (r->pins > 0) pthread_cond_wait(&o->reg_cv, &o->reg_lock);
    pthread_mutex_unlock(&o->reg_lock);
    *out = r;
    return SMEM_OK;
}

/* Our instance record into v; its length. */
static uint32_t sm_trans_inst_rec(const sm_trans_obj_t *o, uint8_t *v, uint32_t cap)
{
    sm_trans_inst_rec_t r = {.role = (uint16_t)o->cfg.role, .rank = o->rank};
    snprintf(r.addr, sizeof(r.addr), "%s", o->tp_addr);
    return sm_trans_inst_encode(&r, v, cap);
}

static int32_t sm_trans_reg_publish(sm_trans_obj_t *o, uint64_t addr, uint64_t size)
{
    if (!sm_trans_publishes(o)) return SMEM_OK;
    uint8_t v[SMEM_TRANS_REG_SIZE];
    sm_trans_reg_encode(addr, size, v);
    char key[SMEM_TRANS_KEY_MAX];
    sm_trans_reg_key(o, addr, key, sizeof(key));
    return store_set(o->conn.client, key, v, sizeof(v));
}

static void sm_trans_reg_unpublish(sm_trans_obj_t *o, uint64_t addr)
{
    if (!sm_trans_publishes(o)) return;
    char key[SMEM_TRANS_KEY_MAX];
    sm_trans_reg_key(o, addr, key, sizeof(key));
    int32_t rc = store_delete(o->conn.client, key);
    if (rc != SMEM_OK && rc != SMEM_OBJECT_NOT_EXISTS)
        LOG_WARN("trans %s: unpublishing 0x%" PRIx64 ": %s (peers' requests to it fail anyway)", o->id, addr,
                 util_err_get());
}

static int32_t sm_trans_register_one(sm_trans_obj_t *o, uint64_t addr, uint64_t size, bool malloced)
{
    int32_t rc = sm_trans_reg_add(o, addr, size, malloced);
    if (rc == SMEM_REPEAT_CALL) return SMEM_OK;
    if (rc != SMEM_OK) return rc;
    rc = sm_trans_reg_publish(o, addr, size);
    if (rc != SMEM_OK) {
        char why[SMEM_TRANS_MSG_MAX];
        snprintf(why, sizeof(why), "%s", util_err_get());
        sm_trans_region_t *r = NULL;
        if (sm_trans_reg_take(o, addr, &r) == SMEM_OK) free(r);
        return util_err_set(rc, "register 0x%" PRIx64 ": publishing it in the store: %s", addr, why);
    }
    LOG_DEBUG("trans %s: registered 0x%" PRIx64 " + %" PRIu64 " bytes", o->id, addr, size);
    return SMEM_OK;
}

int32_t smem_trans_register_mem(smem_trans_t handle, void *address, size_t size, uint32_t flags)
{
    sm_trans_obj_t *o = sm_trans_obj_get(handle, "smem_trans_register_mem");
    if (o == NULL) return sm_handle_status();
    int32_t rc = flags != 0 ? util_err_set(SMEM_INVALID_PARAM, "smem_trans_register_mem: flags 0x%x unknown", flags)
                            : sm_trans_register_one(o, (uint64_t)(uintptr_t)address, size, false);
    sm_trans_obj_put(o);
    return rc;
}

static int32_t sm_trans_deregister_one(sm_trans_obj_t *o, uint64_t addr, bool want_malloced)
{
    sm_trans_region_t *r = NULL;
    if (want_malloced) { /* check before taking it out */
        pthread_mutex_lock(&o->reg_lock);
        uint32_t i = sm_trans_upper_locked(o, addr);
        bool ok = i > 0 && o->regs[i - 1]->addr == addr && o->regs[i - 1]->malloced;
        pthread_mutex_unlock(&o->reg_lock);
        if (!ok)
            return util_err_set(SMEM_INVALID_PARAM, "smem_trans_free: 0x%" PRIx64 " did not come from smem_trans_malloc "
                                                    "of instance %s",
                                addr, o->id);
    }
    int32_t rc = sm_trans_reg_take(o, addr, &r);
    if (rc != SMEM_OK) return rc;
    sm_trans_reg_unpublish(o, addr);
    if (r->malloced && want_malloced) munmap((void *)(uintptr_t)r->addr, r->size);
    LOG_DEBUG("trans %s: deregistered 0x%" PRIx64 " + %" PRIu64 " bytes", o->id, r->addr, r->size);
    free(r);
    return SMEM_OK;
}

int32_t smem_trans_batch_register_mem(smem_trans_t handle, void *addresses[], size_t sizes[], uint32_t count,
                                      uint32_t flags)
{
    sm_trans_obj_t *o = sm_trans_obj_get(handle, "smem_trans_batch_register_mem");
    if (o == NULL) return sm_handle_status();
    int32_t rc = SMEM_OK;
    uint32_t i = 0;
    if (addresses == NULL || sizes == NULL || count == 0 || count > SMEM_TRANS_BATCH_MAX)
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_trans_batch_register_mem: NULL arrays or count %u (1..%u)", count,
                          SMEM_TRANS_BATCH_MAX);
    else if (flags != 0)
        rc = util_err_set(SMEM_INVALID_PARAM, "smem_trans_batch_register_mem: flags 0x%x unknown", flags);
    bool *added = rc == SMEM_OK ? calloc(count, sizeof(*added)) : NULL;
    if (rc == SMEM_OK && added == NULL) rc = util_err_set(SMEM_MALLOC_FAILED, "out of memory");
    for (; rc == SMEM_OK && i < count; i++) {
        uint64_t a = (uint64_t)(uintptr_t)addresses[i];
        rc = sm_trans_reg_add(o, a, sizes[i], false);
        if (rc == SMEM_REPEAT_CALL) {
            rc = SMEM_OK;
            continue;
        }
        if (rc == SMEM_OK) {
            added[i] = true;
            rc = sm_trans_reg_publish(o, a, sizes[i]);
        }
        if (rc != SMEM_OK) {
            char why[SMEM_TRANS_MSG_MAX];
            snprintf(why, sizeof(why), "%s", util_err_get());
            rc = util_err_set(rc, "smem_trans_batch_register_mem: range %u of %u: %s (none of this call's ranges stay "
                                  "registered)",
                              i, count, why);
        }
    }
    if (rc != SMEM_OK && added != NULL) {
        char why[SMEM_TRANS_MSG_MAX];
        snprintf(why, sizeof(why), "%s", util_err_get());
        for (uint32_t k = 0; k < count; k++)
            if (added[k]) sm_trans_deregister_one(o, (uint64_t)(uintptr_t)addresses[k], false);
        util_err_set(rc, "%s", why);
    }
    free(added);
    sm_trans_obj_put(o);
    return rc;
}

int32_t smem_trans_deregister_mem(smem_trans_t handle, void *address)
{
    sm_trans_obj_t *o = sm_trans_obj_get(handle, "smem_trans_deregister_mem");
    if (o == NULL) return sm_handle_status();
    int32_t rc = address == NULL ? util_err_set(SMEM_INVALID_PARAM, "smem_trans_deregister_mem: address is NULL")
                                 : sm_trans_deregister_one(o, (uint64_t)(uintptr_t)address, false);
    sm_trans_obj_put(o);
    return rc;
}

void *smem_trans_malloc(smem_trans_t handle, size_t size)
{
    sm_trans_obj_t *o = sm_trans_obj_get(handle, "smem_trans_malloc");
    if (o == NULL) return NULL;
    void *p = NULL;
    long page = sysconf(_SC_PAGESIZE);
    size_t len = size == 0 || size > SIZE_MAX - (size_t)page ? 0 : (size + (size_t)page - 1) / (size_t)page * (size_t)page;
    if (len == 0) {
        util_err_set(SMEM_INVALID_PARAM, "smem_trans_malloc: size %zu", size);
    } else {
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            util_err_set(SMEM_MALLOC_FAILED, "smem_trans_malloc: %zu bytes: out of memory", size);
            p = NULL;
        } else if (sm_trans_register_one(o, (uint64_t)(uintptr_t)p, len, true) != SMEM_OK) {
            munmap(p, len);
            p = NULL;
        }
    }
    sm_trans_obj_put(o);
    return p;
}

int32_t smem_trans_set_peer_down_callback(smem_trans_t handle, smem_trans_peer_down_callback_t callback,
                                          void *userData)
{
    sm_trans_obj_t *o = sm_trans_obj_get(handle, "smem_trans_set_peer_down_callback");
    if (o == NULL) return sm_handle_status();
    pthread_mutex_lock(&o->peer_lock);
    o->down_cb = callback;
    o->down_arg = userData;
    pthread_mutex_unlock(&o->peer_lock);
    sm_trans_obj_put(o);
    return SMEM_OK;
}

int32_t smem_trans_free(smem_trans_t handle, void *address)
{
    sm_trans_obj_t *o = sm_trans_obj_get(handle, "smem_trans_free");
    if (o == NULL) return sm_handle_status();
    int32_t rc = address == NULL ? util_err_set(SMEM_INVALID_PARAM, "smem_trans_free: address is NULL")
                                 : sm_trans_deregister_one(o, (uint64_t)(uintptr_t)address, true);
    sm_trans_obj_put(o);
    return rc;
}

/* ---------- create / destroy ---------- */

static int32_t sm_trans_listen_url(const char *id, char *out, size_t cap)
{
    /* "IPv4:port" or "[IPv6]:port": listen on that IP (any port); anything else: the auto choice. */
    char url[128];
    snprintf(url, sizeof(url), "tcp://%s", id);
    net_addr_t a;
    if (net_addr_parse(url, &a) != SMEM_OK || (a.family != AF_INET && a.family != AF_INET6)) {
        util_err_clear();
        out[0] = '\0';
        return SMEM_OK;
    }
    const char *colon = strrchr(id, ':');
    snprintf(out, cap, "tcp://%.*s:0", (int)(colon - id), id);
    return SMEM_OK;
}

static void sm_trans_obj_free(sm_trans_obj_t *o)
{
    if (o->listen_id != 0) store_group_unlisten(o->conn.client, o->listen_id);
    o->listen_id = 0;
    store_roster_close(o->roster);
    o->roster = NULL;
    /* Wait for transfers holding endpoints and close them, then the iface. */
    if (o->cache != NULL) (void)tp_cache_detach(o->cache);
    tp_cache_destroy(o->cache);
    pthread_mutex_lock(&o->peer_lock);
    sm_trans_peer_t *peers = o->peers;
    o->peers = NULL;
    pthread_mutex_unlock(&o->peer_lock);
    sm_trans_peers_free(peers);
    tp_iface_close(o->iface); /* joins the server threads: no pin is held after this */
    for (uint32_t i = 0; i < o->nregs; i++) {
        if (o->regs[i]->malloced) munmap((void *)(uintptr_t)o->regs[i]->addr, o->regs[i]->size);
        free(o->regs[i]);
    }
    free(o->regs);
    if (o->conn.client != NULL) store_group_leave(o->conn.client, SMEM_TRANS_GROUP);
    sm_store_conn_close(&o->conn, o->url);
    pthread_mutex_destroy(&o->peer_lock);
    pthread_cond_destroy(&o->reg_cv);
    pthread_mutex_destroy(&o->reg_lock);
    free(o);
}

/* The store's Trans secret into o->secret: read it, or write a new one if there is none (the first
 * store_cas wins; the losers take the winner's). */
static int32_t sm_trans_secret(sm_trans_obj_t *o)
{
    uint8_t *cur = NULL;
    uint32_t cur_len = 0;
    int32_t rc = store_get(o->conn.client, SMEM_TRANS_SECRET_KEY, 0, &cur, &cur_len);
    if (rc == SMEM_OBJECT_NOT_EXISTS) {
        if (getrandom(o->secret, sizeof(o->secret), 0) != (ssize_t)sizeof(o->secret))
            return util_err_set(SMEM_ERROR, "no random bytes for the cluster secret: %s", strerror(errno));
        rc = store_cas(o->conn.client, SMEM_TRANS_SECRET_KEY, NULL, 0, o->secret, sizeof(o->secret), &cur, &cur_len);
        if (rc != SMEM_CAS_MISMATCH) return rc; /* ours is the secret (or the store failed) */
        rc = SMEM_OK;
    }
    if (rc == SMEM_OK && cur_len != SMEM_TRANS_SECRET_SIZE)
        rc = util_err_set(SMEM_PROTOCOL, "store key %s holds %u bytes, not a %u-byte cluster secret",
                          SMEM_TRANS_SECRET_KEY, cur_len, SMEM_TRANS_SECRET_SIZE);
    if (rc == SMEM_OK) memcpy(o->secret, cur, sizeof(o->secret));
    free(cur);
    return rc;
}

/* Our instance record; an existing one of a dead instance is replaced, a live one refused. */
static int32_t sm_trans_publish(sm_trans_obj_t *o)
{
    char key[SMEM_TRANS_KEY_MAX];
    snprintf(key, sizeof(key), SMEM_TRANS_PREFIX "inst/%s", o->id);
    uint8_t v[SMEM_TRANS_INST_FIXED + TP_ADDR_MAX];
    uint32_t vlen = sm_trans_inst_rec(o, v, sizeof(v));
    uint8_t *cur = NULL;
    uint32_t cur_len = 0;
    int32_t rc = store_cas(o->conn.client, key, NULL, 0, v, vlen, &cur, &cur_len);
    if (rc != SMEM_CAS_MISMATCH) return rc;
    bool alive = false;
    sm_trans_inst_rec_t prev;
    if (cur != NULL && sm_trans_inst_decode(cur, cur_len, &prev) == SMEM_OK) {
        char lkey[64];
        snprintf(lkey, sizeof(lkey), SMEM_TRANS_GROUP "/__live/%u", prev.rank);
        uint8_t *lv = NULL;
        uint32_t ll = 0;
        alive = prev.rank != o->rank && store_get(o->conn.client, lkey, 0, &lv, &ll) == SMEM_OK;
        free(lv);
    }
    free(cur);
    if (alive)
        return util_err_set(SMEM_DUPLICATED_OBJECT, "smem_trans_create: unique id '%s' is taken by a live instance",
                            o->id);
    /* A dead instance's leftovers: its regions, then our record over its one. */
    char prefix[SMEM_TRANS_KEY_MAX];
    snprintf(prefix, sizeof(prefix), SMEM_TRANS_PREFIX "reg/%s/", o->id);
    store_kvlist_t *l = NULL;
    if (store_list(o->conn.client, prefix, NULL, 0, 0, &l) == SMEM_OK) {
        for (uint32_t i = 0; i < l->count; i++) store_delete(o->conn.client, l->items[i].key);
        store_kvlist_free(l);
    }
    return store_set(o->conn.client, key, v, vlen);
}

/* Reconnect thread (store_group_cb_t): our rank came back (after a pause or a
 * store restart): publish our instance record and regions again, so peers
 * that dropped us (or a store that lost them) know us again. */
static void sm_trans_on_rank_event(void *arg, const store_group_event_t *ev)
{
    sm_trans_obj_t *o = arg;
    if (ev->rank != o->rank) return;
    if (!ev->regained) {
        LOG_ERROR("trans %s: rank %u of the Trans group was taken while this process was cut off from the store; "
                  "peers no longer see this instance (destroy and create it again)",
                  o->id, o->rank);
        return;
    }
    /* A restarted store lost the secret too: the survivors write back the one they hold (the first wins). */
    uint8_t *cur = NULL;
    uint32_t cur_len = 0;
    int32_t rc = store_cas(o->conn.client, SMEM_TRANS_SECRET_KEY, NULL, 0, o->secret, sizeof(o->secret), &cur, &cur_len);
    if (rc == SMEM_CAS_MISMATCH && (cur_len != sizeof(o->secret) || memcmp(cur, o->secret, cur_len) != 0))
        LOG_ERROR("trans %s: the store holds another cluster secret than this instance's: peers that joined after "
                  "the store restart cannot reach it (destroy and create it again)", o->id);
    free(cur);
    char key[SMEM_TRANS_KEY_MAX];
    snprintf(key, sizeof(key), SMEM_TRANS_PREFIX "inst/%s", o->id);
    uint8_t v[SMEM_TRANS_INST_FIXED + TP_ADDR_MAX];
    rc = store_set(o->conn.client, key, v, sm_trans_inst_rec(o, v, sizeof(v)));
    pthread_mutex_lock(&o->reg_lock);
    uint32_t n = o->nregs;
    uint64_t(*regs)[2] = n ? malloc(n * sizeof(*regs)) : NULL;
    for (uint32_t i = 0; regs != NULL && i < n; i++) {
        regs[i][0] = o->regs[i]->addr;
        regs[i][1] = o->regs[i]->size;
    }
    pthread_mutex_unlock(&o->reg_lock);
    for (uint32_t i = 0; rc == SMEM_OK && regs != NULL && i < n; i++) rc = sm_trans_reg_publish(o, regs[i][0], regs[i][1]);
    free(regs);
    if (rc != SMEM_OK)
        LOG_ERROR("trans %s: publishing our records again after the reconnect: %s", o->id, util_err_get());
    else
        LOG_WARN("trans %s: published again after the reconnect (%u regions)", o->id, n);
}

smem_trans_t smem_trans_create(const char *store_url, const char *unique_id, const smem_trans_config_t *config)
{
    smem_trans_config_t d;
    if (config == NULL) {
        smem_trans_config_init(&d);
        config = &d;
    }
    pthread_mutex_lock(&g_trans.lock);
    bool inited = g_trans.inited;
    pthread_mutex_unlock(&g_trans.lock);
    if (!inited) {
        util_err_set(SMEM_NOT_INITIALIZED, "smem_trans_create: call smem_trans_init first");
        return NULL;
    }
    if (store_url == NULL || store_url[0] == '\0' || strlen(store_url) >= 256) {
        util_err_set(SMEM_INVALID_PARAM, "smem_trans_create: store url is NULL, empty or too long");
        return NULL;
    }
    if (!sm_trans_id_ok(unique_id)) {
        util_err_set(SMEM_INVALID_PARAM, "smem_trans_create: unique id %s: 1..%u bytes without '/' (e.g. \"ip:port\")",
                     unique_id ? unique_id : "NULL", SMEM_TRANS_UNIQUE_ID_MAX);
        return NULL;
    }
    if (sm_trans_config_check(config, "smem_trans_create") != SMEM_OK) return NULL;
    sm_trans_obj_t *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        util_err_set(SMEM_MALLOC_FAILED, "smem_trans_create: out of memory");
        return NULL;
    }
    o->refs = 1;
    o->cfg = *config;
    snprintf(o->id, sizeof(o->id), "%s", unique_id);
    snprintf(o->url, sizeof(o->url), "%s", store_url);
    pthread_mutex_init(&o->reg_lock, NULL);
    pthread_cond_init(&o->reg_cv, NULL);
    pthread_mutex_init(&o->peer_lock, NULL);
    uint32_t ms = sm_timeout_ms(config->initTimeout);
    char why[SMEM_TRANS_MSG_MAX];
    char cname[96];
    snprintf(cname, sizeof(cname), "trans %s", unique_id);
    int32_t rc = tp_cache_create(cname, STORE_WORLD_MAX, &o->cache);
    if (rc == SMEM_OK) rc = sm_store_conn_open(store_url, config->startConfigServer, net_insecure_env(), ms, ms, &o->conn);
    if (rc == SMEM_OK) rc = store_group_join(o->conn.client, SMEM_TRANS_GROUP, STORE_WORLD_MAX, UINT32_MAX, &o->rank);
    /* Records are their instance's: only it writes them while it holds its rank (store_group_own). */
    if (rc == SMEM_OK) rc = store_group_own(o->conn.client, SMEM_TRANS_GROUP, SMEM_TRANS_PREFIX, STORE_OWN_CLAIM);
    if (rc == SMEM_OK) rc = sm_trans_secret(o);
    if (rc == SMEM_OK) {
        char listen[160], name[96];
        sm_trans_listen_url(unique_id, listen, sizeof(listen));
        snprintf(name, sizeof(name), "trans %s", unique_id);
        tp_iface_cfg_t c;
        tp_iface_cfg_init(&c);
        c.name = name;
        c.listen_url = listen;
        c.reach_url = store_url;
        c.resolver = (tp_resolver_t){.resolve = sm_trans_resolve, .release = sm_trans_release, .arg = o};
        c.timeout_ms = ms;
        c.cred = o->secret; /* peers prove they hold the store's Trans secret before any byte moves */
        c.cred_len = sizeof(o->secret);
        /* The secret is private when the store it came from was reached over TLS or loopback; else beyond
         * loopback only with the switch (Trans has no TLS of its own on the data channel). */
        net_tls_opts_t store_tls;
        sm_store_tls_opts_get(&store_tls);
        net_addr_t sa;
        c.cred_private = store_tls.enable || (net_addr_parse(store_url, &sa) == SMEM_OK && net_addr_is_local(&sa.ss));
        c.expose = (net_expose_t){.allow_insecure = net_insecure_env(),
                                  .what = "trans data server, whose cluster credential came from a config store "
                                          "reached without TLS",
                                  .tls_opt = "TLS on the config store link (smem_set_conf_store_tls)",
                                  .switch_opt = NET_INSECURE_ENV "=1"};
        const tp_ops_t *ops = tp_select(TP_CAP_REMOTE | TP_CAP_HOST_MEM, 0);
        rc = ops == NULL ? SMEM_UNSUPPORTED : tp_iface_open(ops, &c, &o->iface);
    }
    if (rc == SMEM_OK) rc = tp_iface_addr(o->iface, o->tp_addr, sizeof(o->tp_addr));
    if (rc == SMEM_OK) tp_cache_attach(o->cache, o->iface);
    /* Watches first, then our record, then the listing. */
    if (rc == SMEM_OK) rc = sm_trans_peers_open(o);
    bool published = rc == SMEM_OK;
    if (rc == SMEM_OK) rc = sm_trans_publish(o);
    if (rc == SMEM_OK) rc = store_group_listen(o->conn.client, SMEM_TRANS_GROUP, sm_trans_on_rank_event, o, &o->listen_id);
    if (rc == SMEM_OK) rc = sm_trans_peers_list(o);
    if (rc == SMEM_OK) {
        pthread_mutex_lock(&g_trans.lock);
        rc = util_err_set(SMEM_FULL, "smem_trans_create: %u instances already exist in this process", SMEM_TRANS_MAX);
        for (uint32_t i = 0; i < SMEM_TRANS_MAX; i++)
            if (g_trans.objs[i] == NULL) {
                g_trans.objs[i] = o;
                rc = SMEM_OK;
                util_err_clear();
                break;
            }
        pthread_mutex_unlock(&g_trans.lock);
    }
    if (rc != SMEM_OK) {
        snprintf(why, sizeof(why), "%s", util_err_get());
        char key[SMEM_TRANS_KEY_MAX];
        snprintf(key, sizeof(key), SMEM_TRANS_PREFIX "inst/%s", o->id);
        if (published && rc != SMEM_DUPLICATED_OBJECT) store_delete(o->conn.client, key);
        sm_trans_obj_free(o);
        util_err_set(rc, "smem_trans_create '%s' on %s: %s", unique_id, store_url, why);
        return NULL;
    }
    LOG_INFO("trans %s: created (role %d, data plane %s, store %s)", o->id, (int)o->cfg.role, o->tp_addr, store_url);
    return o;
}

static void sm_trans_obj_destroy(sm_trans_obj_t *o)
{
    sm_trans_obj_put(o); /* the table's reference */
    pthread_mutex_lock(&g_trans.lock);
    while (__atomic_load_n(&o->refs, __ATOMIC_ACQUIRE) != 0) pthread_cond_wait(&g_trans.cv, &g_trans.lock);
    pthread_mutex_unlock(&g_trans.lock);
    /* Unpublish: regions first, then the instance (peers forget it by watch). */
    for (uint32_t i = 0; i < o->nregs; i++) sm_trans_reg_unpublish(o, o->regs[i]->addr);
    char key[SMEM_TRANS_KEY_MAX];
    snprintf(key, sizeof(key), SMEM_TRANS_PREFIX "inst/%s", o->id);
    store_delete(o->conn.client, key);
    /* The store we serve is every instance's: stay until the others have gone (event-driven). */
    if (o->conn.owner) sm_store_owner_wait(o->conn.client, SMEM_TRANS_GROUP, o->rank, sm_timeout_ms(o->cfg.initTimeout));
    LOG_INFO("trans %s: destroyed", o->id);
    sm_trans_obj_free(o);
}

void smem_trans_destroy(smem_trans_t handle, uint32_t flags)
{
    (void)flags; /* reserved by the seed */
    sm_trans_obj_t *o = sm_trans_obj_get(handle, "smem_trans_destroy");
    if (o == NULL) return;
    bool mine = false;
    pthread_mutex_lock(&g_trans.lock);
    for (uint32_t i = 0; i < SMEM_TRANS_MAX; i++)
        if (g_trans.objs[i] == o) {
            g_trans.objs[i] = NULL;
            mine = true;
        }
    pthread_mutex_unlock(&g_trans.lock);
    sm_trans_obj_put(o);
    if (mine) sm_trans_obj_destroy(o);
}

void smem_trans_uninit(uint32_t flags)
{
    (void)flags;
    sm_trans_obj_t *objs[SMEM_TRANS_MAX];
    uint32_t n = 0;
    pthread_mutex_lock(&g_trans.lock);
    for (uint32_t i = 0; i < SMEM_TRANS_MAX; i++) {
        if (g_trans.objs[i] != NULL) objs[n++] = g_trans.objs[i];
        g_trans.objs[i] = NULL;
    }
    g_trans.inited = false;
    pthread_mutex_unlock(&g_trans.lock);
    for (uint32_t i = 0; i < n; i++) {
        LOG_WARN("trans %s: still exists at uninit; destroying it", objs[i]->id);
        sm_trans_obj_destroy(objs[i]);
    }
}
