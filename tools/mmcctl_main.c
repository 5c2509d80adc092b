/*
 * mmcctl: inspect and manage a running MetaService over its RPC.
 *
 *   mmcctl [--meta URL] [--timeout SECONDS] status | segments | keys [PREFIX] | get KEY | remove KEY
 *
 * Metadata only for now: `get` shows where a key lives (size, state,
 * replica GVAs), not its bytes; putting and reading values needs the
 * LocalService data path, which mmcctl will use once it exists.
 * Exit status: 0 success, 1 the operation failed (message on stderr), 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_meta_client.h"
#include "util/util_log.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mmcctl [--meta URL] [--timeout SECONDS] COMMAND\n"
            "  --meta URL        MetaService RPC URL (default $MMC_META_URL or tcp://127.0.0.1:5000)\n"
            "  --timeout S       connect and call timeout in seconds (default 5)\n"
            "commands:\n"
            "  status            counters, objects, capacity per medium\n"
            "  segments          mounted segments (rank, medium, GVA range, use)\n"
            "  keys [PREFIX]     keys (all pages), with size, state and replica count\n"
            "  get KEY           where KEY lives: size, state, leases, replica ranks and GVAs\n"
            "  remove KEY        remove KEY (space freed when its read leases end)\n"
            "Metadata only: putting and reading values needs the LocalService data path (not yet in mmcctl).\n");
}

static const char *const media_name[MMC_MEDIA_COUNT] = {"hbm", "dram"};
static const char *state_name(uint8_t s)
{
    return s == MMC_STATE_WRITING ? "WRITING" : s == MMC_STATE_READY ? "READY" : s == MMC_STATE_REMOVING ? "REMOVING" : "?";
}

static int fail(const char *what, int32_t rc)
{
    fprintf(stderr, "mmcctl: %s: %s (%d): %s\n", what, mmc_strerror(rc), rc, mmc_get_last_err_msg());
    return 1;
}

static int cmd_status(mmc_meta_client_t *c)
{
    mmc_stats_t st;
    mmc_seg_info_t *segs = NULL;
    uint32_t n = 0;
    int32_t rc = mmc_meta_stats(c, &st, &segs, &n);
    if (rc != MMC_OK) return fail("status", rc);
    free(segs);
    printf("instance   %016" PRIx64 "  uptime %" PRIu64 " s\n", st.instance, st.uptime_ms / 1000);
    printf("objects    %" PRIu64 " (writing %" PRIu64 ", removing %" PRIu64 "), leases %" PRIu64 "\n", st.objects,
           st.writing, st.removing, st.leases);
    printf("segments   %" PRIu64 ", links %" PRIu64 "\n", st.segments, st.links);
    printf("puts       %" PRIu64 " (%" PRIu64 " bytes), revoked %" PRIu64 "\n", st.puts, st.bytes_put, st.puts_revoked);
    printf("gets       %" PRIu64 " keys, %" PRIu64 " hits, %" PRIu64 " misses (%" PRIu64 " bytes)\n", st.gets,
           st.get_hits, st.get_misses, st.bytes_got);
    printf("removes    %" PRIu64 ", evictions %" PRIu64 "\n", st.removes, st.evictions);
    for (uint32_t m = 0; m < MMC_MEDIA_COUNT; m++) {
        const mmc_stats_media_t *md = &st.media[m];
        printf("%-10s %" PRIu64 " / %" PRIu64 " bytes used (%.1f%%), %" PRIu64 " objects, %" PRIu64 " evictions\n",
               media_name[m], md->used, md->total, md->total ? 100.0 * (double)md->used / (double)md->total : 0.0,
               md->objects, md->evictions);
    }
    return 0;
}

static int cmd_segments(mmc_meta_client_t *c)
{
    mmc_stats_t st;
    mmc_seg_info_t *segs = NULL;
    uint32_t n = 0;
    int32_t rc = mmc_meta_stats(c, &st, &segs, &n);
    if (rc != MMC_OK) return fail("segments", rc);
    printf("%-6s %-6s %-18s %-14s %-14s %-8s %s\n", "rank", "medium", "gva", "size", "used", "extents", "largest_free");
    for (uint32_t i = 0; i < n; i++)
        printf("%-6u %-6s 0x%016" PRIx64 " %-14" PRIu64 " %-14" PRIu64 " %-8" PRIu64 " %" PRIu64 "\n", segs[i].rank,
               media_name[segs[i].medium], segs[i].gva, segs[i].size, segs[i].used, segs[i].free_extents,
               segs[i].largest_free);
    free(segs);
    return 0;
}

static int cmd_keys(mmc_meta_client_t *c, const char *prefix)
{
    char after[MMC_KEY_MAX + 1] = "";
    uint64_t total = 0;
    for (;;) {
        mmc_meta_list_t *l = NULL;
        int32_t rc = mmc_meta_list(c, prefix, after, 1000, &l);
        if (rc != MMC_OK) return fail("keys", rc);
        for (uint32_t i = 0; i < l->n; i++)
            printf("%.*s\t%" PRIu64 "\t%s\t%u\n", (int)l->items[i].key.len, l->items[i].key.p, l->items[i].size,
                   state_name(l->items[i].state), l->items[i].nrep);
        total += l->n;
        bool more = l->more && l->n > 0;
        if (more)
            snprintf(after, sizeof(after), "%.*s", (int)l->items[l->n - 1].key.len, l->items[l->n - 1].key.p);
        mmc_meta_list_free(l);
        if (!more) break;
    }
    fprintf(stderr, "%" PRIu64 " keys\n", total);
    return 0;
}

static int cmd_get(mmc_meta_client_t *c, const char *key)
{
    mmc_loc_t loc;
    int32_t rc = mmc_meta_query(c, &key, 1, &loc);
    if (rc != MMC_OK) return fail("get", rc);
    if (loc.status != MMC_OK) return fail(key, loc.status);
    printf("key      %s\nsize     %" PRIu64 "\nstate    %s\nleases   %u\nreplicas %u\n", key, loc.size,
           state_name(loc.state), loc.leases, loc.nrep);
    for (uint32_t i = 0; i < loc.nrep; i++)
        printf("  rank %u %s gva 0x%016" PRIx64 "\n", loc.rep[i].rank,
               loc.rep[i].medium < MMC_MEDIA_COUNT ? media_name[loc.rep[i].medium] : "?", loc.rep[i].gva);
    return 0;
}

static int cmd_remove(mmc_meta_client_t *c, const char *key)
{
    int32_t st;
    int32_t rc = mmc_meta_remove(c, &key, 1, &st);
    if (rc != MMC_OK) return fail("remove", rc);
    if (st != MMC_OK) return fail(key, st);
    printf("removed %s\n", key);
    return 0;
}

int main(int argc, char **argv)
{
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    o.timeout_ms = 5000;
    const char *env = getenv("MMC_META_URL");
    if (env != NULL && env[0] != '\0') snprintf(o.url, sizeof(o.url), "%s", env);
    static const struct option longopts[] = {
        {"meta", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "+m:t:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm':
            if (strlen(optarg) >= sizeof(o.url)) {
                fprintf(stderr, "mmcctl: --meta URL too long\n");
                return 2;
            }
            snprintf(o.url, sizeof(o.url), "%s", optarg);
            break;
        case 't': {
            char *end = NULL;
            unsigned long s = strtoul(optarg, &end, 10);
            if (*end || s < 1 || s > 3600) {
                fprintf(stderr, "mmcctl: --timeout must be 1..3600 seconds, got '%s'\n", optarg);
                return 2;
            }
            o.timeout_ms = (uint32_t)s * 1000;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;
    bool known = (strcmp(cmd, "status") == 0 && nargs == 0) || (strcmp(cmd, "segments") == 0 && nargs == 0) ||
                 (strcmp(cmd, "keys") == 0 && nargs <= 1) || (strcmp(cmd, "get") == 0 && nargs == 1) ||
                 (strcmp(cmd, "remove") == 0 && nargs == 1);
    if (!known) {
        fprintf(stderr, "mmcctl: unknown command or wrong arguments: %s\n", cmd);
        usage(stderr);
        return 2;
    }
    util_log_level_set(UTIL_LOG_OFF); /* errors are reported once, by this tool */
    mmc_meta_client_t *c = NULL;
    int32_t rc = mmc_meta_client_connect(&o, &c);
    if (rc != MMC_OK) return fail("connect", rc);
    int ret;
    if (strcmp(cmd, "status") == 0) ret = cmd_status(c);
    else if (strcmp(cmd, "segments") == 0) ret = cmd_segments(c);
    else if (strcmp(cmd, "keys") == 0) ret = cmd_keys(c, nargs ? args[0] : "");
    else if (strcmp(cmd, "get") == 0) ret = cmd_get(c, args[0]);
    else ret = cmd_remove(c, args[0]);
    mmc_meta_client_close(c);
    return ret;
}
