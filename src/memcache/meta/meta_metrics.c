/* Prometheus text exposition (format 0.0.4) of the core's counters. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "memcache/meta/meta_int.h"

static const char *const media_label[MMC_MEDIA_COUNT] = {"hbm", "dram"};

static void wprintf_(util_wbuf_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wprintf_(util_wbuf_t *w, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) util_wbuf_bytes(w, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void counter(util_wbuf_t *w, const char *name, const char *help, uint64_t v)
{
    wprintf_(w, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

static void gauge(util_wbuf_t *w, const char *name, const char *help, uint64_t v)
{
    wprintf_(w, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

static void lowercase(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
    dst[i] = '\0';
}

void meta_core_metrics(const meta_core_t *c, util_wbuf_t *w)
{
    mmc_stats_t st;
    meta_core_stats(c, &st);

    wprintf_(w, "# HELP mmc_meta_requests_total RPC requests handled, by message type\n"
                "# TYPE mmc_meta_requests_total counter\n");
    for (uint32_t i = 0; i < MMC_MSG_COUNT; i++) {
        char op[32];
        lowercase(op, mmc_msg_name((uint16_t)(MMC_MSG_FIRST + i)), sizeof(op));
        wprintf_(w, "mmc_meta_requests_total{op=\"%s\"} %llu\n", op, (unsigned long long)c->ops_stats[i].calls);
    }
    wprintf_(w, "# HELP mmc_meta_request_errors_total RPC requests answered with a non-zero status\n"
                "# TYPE mmc_meta_request_errors_total counter\n");
    for (uint32_t i = 0; i < MMC_MSG_COUNT; i++) {
        char op[32];
        lowercase(op, mmc_msg_name((uint16_t)(MMC_MSG_FIRST + i)), sizeof(op));
        wprintf_(w, "mmc_meta_request_errors_total{op=\"%s\"} %llu\n", op, (unsigned long long)c->ops_stats[i].errors);
    }
    wprintf_(w, "# HELP mmc_meta_request_keys_total keys carried by batch requests\n"
                "# TYPE mmc_meta_request_keys_total counter\n");
    for (uint32_t i = 0; i < MMC_MSG_COUNT; i++) {
        char op[32];
        lowercase(op, mmc_msg_name((uint16_t)(MMC_MSG_FIRST + i)), sizeof(op));
        wprintf_(w, "mmc_meta_request_keys_total{op=\"%s\"} %llu\n", op, (unsigned long long)c->ops_stats[i].keys);
    }
    wprintf_(w, "# HELP mmc_meta_request_seconds time to handle one request in the MetaService\n"
                "# TYPE mmc_meta_request_seconds histogram\n");
    for (uint32_t i = 0; i < MMC_MSG_COUNT; i++) {
        const meta_op_stats_t *s = &c->ops_stats[i];
        char op[32];
        uint64_t cum = 0;
        lowercase(op, mmc_msg_name((uint16_t)(MMC_MSG_FIRST + i)), sizeof(op));
        for (uint32_t b = 0; b < META_LAT_BUCKETS; b++) {
            cum += s->lat_bucket[b];
            if (b == META_LAT_BUCKETS - 1)
                wprintf_(w, "mmc_meta_request_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n", op, (unsigned long long)cum);
            else
                wprintf_(w, "mmc_meta_request_seconds_bucket{op=\"%s\",le=\"%g\"} %llu\n", op,
                         meta_lat_bounds_us[b] / 1e6, (unsigned long long)cum);
        }
        wprintf_(w, "mmc_meta_request_seconds_sum{op=\"%s\"} %.9f\n", op, (double)s->lat_sum_ns / 1e9);
        wprintf_(w, "mmc_meta_request_seconds_count{op=\"%s\"} %llu\n", op, (unsigned long long)s->calls);
    }
    counter(w, "mmc_meta_bad_requests_total", "requests that failed to decode", c->bad_requests);
    counter(w, "mmc_meta_puts_total", "puts published (PUT_END success)", st.puts);
    counter(w, "mmc_meta_puts_revoked_total", "puts aborted, timed out or lost with their writer", st.puts_revoked);
    counter(w, "mmc_meta_gets_total", "keys looked up by GET", st.gets);
    counter(w, "mmc_meta_get_hits_total", "GET keys found READY", st.get_hits);
    counter(w, "mmc_meta_get_misses_total", "GET keys absent or not ready", st.get_misses);
    counter(w, "mmc_meta_removes_total", "objects removed by REMOVE/REMOVE_ALL", st.removes);
    counter(w, "mmc_meta_leases_lost_total", "LEASE_RELEASE answered lease lost (expired, unknown, replica lost)",
            c->leases_lost);
    counter(w, "mmc_meta_leases_refused_total", "LEASE_RELEASE refused: the lease is another client's",
            c->leases_refused);
    counter(w, "mmc_meta_put_bytes_total", "bytes of published objects", st.bytes_put);
    counter(w, "mmc_meta_get_bytes_total", "bytes of objects handed out by GET", st.bytes_got);
    gauge(w, "mmc_meta_objects", "objects in the table (READY and WRITING)", st.objects);
    gauge(w, "mmc_meta_objects_writing", "puts between PUT_START and PUT_END", st.writing);
    gauge(w, "mmc_meta_objects_removing", "removed objects waiting for their leases to end", st.removing);
    gauge(w, "mmc_meta_leases", "live read leases", st.leases);
    gauge(w, "mmc_meta_segments", "mounted segments", st.segments);
    gauge(w, "mmc_meta_links", "open client connections", st.links);
    gauge(w, "mmc_meta_uptime_seconds", "seconds since start", st.uptime_ms / 1000);

    static const struct {
        const char *name, *help, *type;
        size_t off;
    } per_medium[] = {
        {"mmc_meta_capacity_bytes", "mounted bytes per medium", "gauge", offsetof(mmc_stats_media_t, total)},
        {"mmc_meta_used_bytes", "allocated bytes per medium", "gauge", offsetof(mmc_stats_media_t, used)},
        {"mmc_meta_ready_objects", "READY objects per medium", "gauge", offsetof(mmc_stats_media_t, objects)},
        {"mmc_meta_evictions_total", "objects evicted per medium", "counter", offsetof(mmc_stats_media_t, evictions)},
    };
    for (size_t k = 0; k < sizeof(per_medium) / sizeof(per_medium[0]); k++) {
        wprintf_(w, "# HELP %s %s\n# TYPE %s %s\n", per_medium[k].name, per_medium[k].help, per_medium[k].name,
                 per_medium[k].type);
        for (uint32_t m = 0; m < MMC_MEDIA_COUNT; m++) {
            uint64_t v;
            memcpy(&v, (const char *)&st.media[m] + per_medium[k].off, sizeof(v));
            wprintf_(w, "%s{medium=\"%s\"} %llu\n", per_medium[k].name, media_label[m], (unsigned long long)v);
        }
    }
}
