/* BM rank processes for integration drivers (see tu_bm.h). */
#include "tu_bm.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "util/util_time.h"

static smem_bm_t tu_h;
static uint32_t tu_me;

void tu_bm_config(smem_bm_config_t *c, uint32_t init_s, uint32_t ctrl_s)
{
    smem_bm_config_init(c);
    c->initTimeout = c->createTimeout = init_s;
    c->controlOperationTimeout = ctrl_s;
}

smem_bm_t tu_bm_up(const tu_bm_rank_t *r, const char *who, uint32_t *rank)
{
    int32_t rc = smem_bm_init(r->url, r->world, 0, r->cfg);
    TU_CHECK(rc == 0, "%s: smem_bm_init(%s): %d %s", who, r->url, rc, smem_get_last_err_msg());
    if (rc != 0) return NULL;
    tu_me = smem_bm_get_rank_id();
    if (rank != NULL) *rank = tu_me;
    bool ok = r->want_rank >= 0 ? tu_me == (uint32_t)r->want_rank : tu_me < r->world;
    TU_CHECK(ok, "%s: rank %u (want %d of %u)", who, tu_me, r->want_rank, r->world);
    if (!ok) return NULL;
    if (r->stride == 0) {
        tu_h = smem_bm_create(r->id, r->world, SMEMB_DATA_OP_SDMA, r->local, 0, 0);
    } else {
        smem_bm_create_option_t o;
        memset(&o, 0, sizeof(o));
        o.maxDramSize = r->stride;
        o.localDRAMSize = r->local;
        o.dataOpType = SMEMB_DATA_OP_SDMA | SMEMB_DATA_OP_HOST_TCP;
        o.dramShmFd = -1;
        tu_h = smem_bm_create2(r->id, &o);
    }
    TU_CHECK(tu_h != NULL, "rank %u: create: %s", tu_me, smem_get_last_err_msg());
    if (tu_h == NULL) return NULL;
    rc = smem_bm_join(tu_h, 0);
    TU_CHECK(rc == 0, "rank %u: join: %d %s", tu_me, rc, smem_get_last_err_msg());
    return rc == 0 ? tu_h : NULL;
}

smem_bm_t tu_bm_handle(void) { return tu_h; }

uint8_t *tu_slot(uint32_t r) { return smem_bm_ptr_by_mem_type(tu_h, SMEM_MEM_TYPE_HOST, (uint16_t)r); }

int32_t tu_copy(const void *src, void *dst, size_t n, smem_bm_copy_type t, uint32_t flags)
{
    smem_copy_params p = {.src = src, .dest = dst, .dataSize = n};
    return smem_bm_copy(tu_h, &p, t, flags);
}

int32_t tu_batch(const tu_piece_t pieces[TU_KV_PIECES], void **src, void **dst, smem_bm_copy_type t, uint32_t flags)
{
    uint64_t lens[TU_KV_PIECES];
    for (uint32_t i = 0; i < TU_KV_PIECES; i++) lens[i] = pieces[i].len;
    smem_batch_copy_params p = {.sources = src, .destinations = dst, .dataSizes = lens, .batchSize = TU_KV_PIECES};
    return smem_bm_copy_batch(tu_h, &p, t, flags);
}

bool tu_wait_visible(uint32_t r)
{
    uint64_t word, end = util_now_ms() + 20000;
    int32_t rc;
    do {
        rc = tu_copy(tu_slot(r), &word, sizeof(word), SMEMB_COPY_G2H, 0);
        if (rc == 0) return true;
        usleep(5000);
    } while (util_now_ms() < end);
    fprintf(stderr, "rank %u: rank %u never became visible: %d %s\n", tu_me, r, rc, smem_get_last_err_msg());
    return false;
}

bool tu_rcheck(const void *buf, uint32_t tag, uint64_t off0, uint64_t len)
{
    char who[32];
    snprintf(who, sizeof(who), "rank %u", tu_me);
    return tu_check(buf, tag, off0, len, who);
}

void tu_mail_write(const tu_mailbox_t *m, uint8_t *buf)
{
    static const smem_bm_copy_type types[] = {SMEMB_COPY_H2G, SMEMB_COPY_H2GH, SMEMB_COPY_AUTO};
    for (uint32_t p = 0; p < m->nranks; p++) {
        if (p == tu_me) continue;
        uint8_t *area = tu_slot(p) + m->off + tu_me * m->area;
        for (uint32_t k = 0; k < 3; k++) {
            tu_fill(buf, 100 + tu_me * 16 + p, k * m->part, m->part);
            int32_t rc = tu_copy(buf, area + k * m->part, m->part, types[k], 0);
            TU_CHECK(rc == 0, "rank %u: type %d into rank %u: %d %s", tu_me, types[k], p, rc, smem_get_last_err_msg());
        }
        /* G2G: from our own pattern region straight into the peer's slot. */
        int32_t rc = tu_copy(tu_slot(tu_me) + p * m->part, area + 3 * m->part, m->part, SMEMB_COPY_G2G, 0);
        TU_CHECK(rc == 0, "rank %u: G2G into rank %u: %d %s", tu_me, p, rc, smem_get_last_err_msg());
    }
}

void tu_mail_check(const tu_mailbox_t *m)
{
    for (uint32_t w = 0; w < m->nranks; w++) {
        if (w == tu_me) continue;
        const uint8_t *area = tu_slot(tu_me) + m->off + w * m->area;
        bool ok = true;
        for (uint32_t k = 0; k < 3; k++)
            ok = ok && tu_rcheck(area + k * m->part, 100 + w * 16 + tu_me, k * m->part, m->part);
        TU_CHECK(ok, "rank %u: mailbox from rank %u (H2G/H2GH/AUTO)", tu_me, w);
        TU_CHECK(tu_rcheck(area + 3 * m->part, w, tu_me * m->part, m->part), "rank %u: mailbox from rank %u (G2G)",
                 tu_me, w);
    }
}

void tu_async_from_all(uint8_t *buf, uint32_t nranks)
{
    const uint64_t mib = 1ull << 20;
    int32_t rc = 0;
    for (uint32_t p = 0; p < nranks; p++) {
        if (p == tu_me) continue;
        int32_t r = tu_copy(tu_slot(p) + p * 64 * 1024, buf + p * mib, mib, SMEMB_COPY_G2H, ASYNC_COPY_FLAG);
        if (r != 0 && rc == 0) rc = r;
    }
    int32_t w = smem_bm_wait(tu_h);
    TU_CHECK(rc == 0 && w == 0, "rank %u: async G2H from all: %d wait %d %s", tu_me, rc, w, smem_get_last_err_msg());
    for (uint32_t p = 0; p < nranks; p++)
        if (p != tu_me)
            TU_CHECK(tu_rcheck(buf + p * mib, p, p * 64 * 1024, mib), "rank %u: async data from rank %u", tu_me, p);
}

smem_trans_t tu_trans_up(const char *url, const char *id, smem_trans_role_t role, uint32_t init_s)
{
    smem_trans_config_t c;
    smem_trans_config_init(&c);
    c.role = role;
    c.initTimeout = init_s;
    int32_t rc = smem_trans_init(&c);
    TU_CHECK(rc == 0, "%s: smem_trans_init: %d %s", id, rc, smem_get_last_err_msg());
    smem_trans_t h = smem_trans_create(url, id, &c);
    TU_CHECK(h != NULL, "smem_trans_create(%s, %s): %s", url, id, smem_get_last_err_msg());
    return h;
}

store_client_t *tu_store_connect(const char *url)
{
    store_client_opts_t so;
    store_client_opts_init(&so);
    store_client_t *c = NULL;
    int32_t rc = store_client_connect(url, &so, &c);
    if (rc != 0) {
        fprintf(stderr, "store client to %s: %d\n", url, rc);
        return NULL;
    }
    return c;
}

bool tu_barrier(store_client_t *c, const char *name, uint32_t n, uint32_t me, int timeout_ms)
{
    int32_t rc = store_barrier(c, name, n, me, timeout_ms);
    TU_CHECK(rc == 0, "rank %u: barrier %s: %d", me, name, rc);
    return rc == 0;
}
