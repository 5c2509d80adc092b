/*
 * The transport framework: object allocation around the ops tables, the
 * "unsupported" stubs and selection by capability.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/tp.h"
#include "util/util_status.h"

static const tp_ops_t *const tp_builtin[] = {
    &tp_tcp_ops,
};

void tp_iface_cfg_init(tp_iface_cfg_t *c) { memset(c, 0, sizeof(*c)); }

int32_t tp_no_iface_addr(tp_iface_t *iface, char *buf, size_t cap)
{
    (void)buf;
    (void)cap;
    return util_err_set(SMEM_UNSUPPORTED, "%s: transport %s publishes no address", iface->name, iface->ops->name);
}

int32_t tp_no_ep_connect(tp_ep_t *ep, const char *addr)
{
    return util_err_set(SMEM_UNSUPPORTED, "%s: transport %s cannot connect to %s", ep->iface->name, ep->ops->name,
                        addr);
}

int32_t tp_no_put(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n)
{
    (void)pieces;
    return util_err_set(SMEM_UNSUPPORTED, "%s: transport %s cannot put %zu pieces into window %u of %s",
                        ep->iface->name, ep->ops->name, n, window, ep->addr);
}

int32_t tp_no_get(tp_ep_t *ep, uint32_t window, const tp_piece_t *pieces, size_t n)
{
    (void)pieces;
    return util_err_set(SMEM_UNSUPPORTED, "%s: transport %s cannot get %zu pieces from window %u of %s",
                        ep->iface->name, ep->ops->name, n, window, ep->addr);
}

const tp_ops_t *tp_select(uint32_t need, uint64_t min_msg)
{
    for (size_t i = 0; i < sizeof(tp_builtin) / sizeof(tp_builtin[0]); i++) {
        const tp_caps_t *c = &tp_builtin[i]->caps;
        if ((c->flags & need) == need && c->max_msg >= min_msg) return tp_builtin[i];
    }
    util_err_set(SMEM_UNSUPPORTED, "no transport in this build has capabilities 0x%x with messages of %llu bytes",
                 need, (unsigned long long)min_msg);
    return NULL;
}

int32_t tp_iface_open(const tp_ops_t *ops, const tp_iface_cfg_t *cfg, tp_iface_t **out)
{
    if (ops == NULL || cfg == NULL || out == NULL || cfg->resolver.resolve == NULL || cfg->resolver.release == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "tp_iface_open: NULL ops, config, output or resolver callback");
    tp_iface_t *iface = calloc(1, ops->iface_size);
    if (iface == NULL) return util_err_set(SMEM_MALLOC_FAILED, "tp_iface_open: out of memory");
    iface->ops = ops;
    snprintf(iface->name, sizeof(iface->name), "%s", cfg->name ? cfg->name : ops->name);
    int32_t rc = ops->iface_open(iface, cfg);
    if (rc != SMEM_OK) {
        ops->iface_close(iface);
        free(iface);
        return rc;
    }
    *out = iface;
    return SMEM_OK;
}

void tp_iface_close(tp_iface_t *iface)
{
    if (iface == NULL) return;
    iface->ops->iface_close(iface);
    free(iface);
}

int32_t tp_ep_connect(tp_iface_t *iface, const char *addr, tp_ep_t **out)
{
    if (iface == NULL || addr == NULL || out == NULL)
        return util_err_set(SMEM_INVALID_PARAM, "tp_ep_connect: NULL iface, address or output");
    if (addr[0] == '\0' || strlen(addr) > TP_ADDR_MAX)
        return util_err_set(SMEM_INVALID_PARAM, "%s: peer address of %zu bytes (1..%u)", iface->name, strlen(addr),
                            TP_ADDR_MAX);
    tp_ep_t *ep = calloc(1, iface->ops->ep_size);
    if (ep == NULL) return util_err_set(SMEM_MALLOC_FAILED, "tp_ep_connect: out of memory");
    ep->ops = iface->ops;
    ep->iface = iface;
    snprintf(ep->addr, sizeof(ep->addr), "%s", addr);
    int32_t rc = ep->ops->ep_connect(ep, addr);
    if (rc != SMEM_OK) {
        ep->ops->ep_close(ep);
        free(ep);
        return rc;
    }
    *out = ep;
    return SMEM_OK;
}

void tp_ep_close(tp_ep_t *ep)
{
    if (ep == NULL) return;
    ep->ops->ep_close(ep);
    free(ep);
}
