/*
 * mmcctl: inspect and manage a running memcache cluster.
 *
 *   mmcctl [--meta URL] [--timeout SECONDS] [--config FILE] [--store URL]
 *          status | segments | keys [PREFIX] | info KEY | get KEY [FILE|-] | put KEY FILE|- | remove KEY
 *
 * The metadata commands talk to the MetaService RPC only. `put` and `get KEY
 * FILE` move a value: they start a pure-client LocalService (a BM rank that
 * contributes no memory) configured from --config (default
 * $MMC_LOCAL_CONFIG_PATH, else the loopback defaults; its
 * ock.mmc.local_service.max.dram.size and world_size must match the
 * cluster's), with --meta and --store overriding the URLs. `get KEY` without
 * FILE shows where the key lives, as `info` does (kept for scripts that
 * used it before values could be read); `get KEY -` writes the value to stdout.
 * Exit status: 0 success, 1 the operation failed (message on stderr), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcache/common/mmc_meta_client.h"
#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "memcache/mmc_service.h"
#include "util/util_log.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mmcctl [--meta URL] [--timeout SECONDS] COMMAND\n"
            "  --meta URL        MetaService RPC URL (default $MMC_META_URL or tcp://127.0.0.1:5000)\n"
            "  --timeout S       connect and call timeout in seconds (default 5)\n"
            "  --config FILE     LocalService config for put/get (default $MMC_LOCAL_CONFIG_PATH, else defaults)\n"
            "  --store URL       config store for put/get (ock.mmc.local_service.config_store_url)\n"
            "commands:\n"
            "  status            counters, objects, capacity per medium\n"
            "  segments          mounted segments (rank, medium, GVA range, use)\n"
            "  keys [PREFIX]     keys (all pages), with size, state and replica count\n"
            "  info KEY          where KEY lives: size, state, leases, replica ranks and GVAs\n"
            "  get KEY           the same as info KEY\n"
            "  get KEY FILE|-    KEY's value into FILE (- = stdout)\n"
            "  put KEY FILE|-    FILE's bytes (- = stdin) as KEY's value (an existing key is left as it is)\n"
            "  remove KEY        remove KEY (space freed when its read leases end)\n");
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

/* Pages of MMC_PROTO_LIST_MAX keys, each after the last key of the one before (the cursor): the
 * MetaService seeks there in its key index, so every page costs the same and a key present for the
 * whole listing is printed exactly once, in byte order. */
static int cmd_keys(mmc_meta_client_t *c, const char *prefix)
{
    char after[MMC_KEY_MAX + 1] = "";
    uint64_t total = 0;
    for (;;) {
        mmc_meta_list_t *l = NULL;
        int32_t rc = mmc_meta_list(c, prefix, after, MMC_PROTO_LIST_MAX, &l);
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

/* ---------- values (pure-client LocalService) ---------- */

typedef struct ctl_data_opts {
    const char *config, *store, *meta;
    uint32_t timeout_s;
} ctl_data_opts_t;

static int data_up(const ctl_data_opts_t *d)
{
    mmc_local_config cfg;
    mmc_local_service_config_init(&cfg);
    const char *path = d->config ? d->config : getenv("MMC_LOCAL_CONFIG_PATH");
    if (path != NULL && path[0] != '\0' && mmc_local_service_config_load(path, &cfg) != MMC_OK)
        return fail("config", MMC_CONFIG);
    if (d->meta) snprintf(cfg.discoveryURL, sizeof(cfg.discoveryURL), "%s", d->meta);
    if (d->store) snprintf(cfg.bmIpPort, sizeof(cfg.bmIpPort), "%s", d->store);
    cfg.localDRAMSize = 0; /* a pure client: reads and writes, contributes nothing */
    cfg.timeoutSeconds = d->timeout_s;
    cfg.logLevel = UTIL_LOG_OFF;
    int32_t rc = mmc_setup_local_service(&cfg);
    if (rc == MMC_OK) rc = mmc_init(&(mmc_init_config){.device_id = 0, .init_bm = true});
    return rc == MMC_OK ? 0 : fail("joining the pool as a client", rc);
}

/* Reads all of f into a malloc'd buffer. */
static uint8_t *slurp(FILE *f, uint64_t *len)
{
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    while (b != NULL) {
        size_t k = fread(b + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
    }
    *len = n;
    return b;
}

static int cmd_put(const ctl_data_opts_t *d, const char *key, const char *file)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (f == NULL) {
        fprintf(stderr, "mmcctl: put: cannot open %s: %s\n", file, strerror(errno));
        return 1;
    }
    uint64_t len = 0;
    uint8_t *data = slurp(f, &len);
    bool err = ferror(f);
    if (f != stdin) fclose(f);
    if (data == NULL || err) {
        free(data);
        fprintf(stderr, "mmcctl: put: cannot read %s\n", file);
        return 1;
    }
    if (len == 0) {
        free(data);
        fprintf(stderr, "mmcctl: put: %s is empty (values are 1 byte or more)\n", file);
        return 1;
    }
    int ret = data_up(d);
    if (ret == 0) {
        mmc_buffer b = {.addr = (uint64_t)(uintptr_t)data, .type = 1, .len = len};
        int32_t rc = mmcc_put_opt(key, &b, NULL, 0);
        if (rc != MMC_OK) ret = fail(key, rc);
        else fprintf(stderr, "put %s: %" PRIu64 " bytes\n", key, len);
        mmc_uninit();
    }
    free(data);
    return ret;
}

static int cmd_get_value(const ctl_data_opts_t *d, const char *key, const char *file)
{
    int ret = data_up(d);
    if (ret != 0) return ret;
    mmc_data_info info;
    uint8_t *data = NULL;
    int32_t rc = mmcc_query(key, &info, 0);
    if (rc == MMC_OK && !info.valid) rc = MMC_OBJECT_NOT_READY;
    if (rc == MMC_OK) {
        data = malloc(info.size);
        mmc_buffer b = {.addr = (uint64_t)(uintptr_t)data, .type = 1, .len = info.size};
        rc = data == NULL ? MMC_MALLOC_FAILED : mmcc_get(key, &b, 0);
    }
    mmc_uninit();
    if (rc != MMC_OK) {
        free(data);
        return fail(key, rc);
    }
    FILE *f = strcmp(file, "-") == 0 ? stdout : fopen(file, "wb");
    if (f == NULL || fwrite(data, 1, info.size, f) != info.size || (f != stdout ? fclose(f) : fflush(f)) != 0) {
        fprintf(stderr, "mmcctl: get: cannot write %s: %s\n", file, strerror(errno));
        free(data);
        return 1;
    }
    if (f != stdout) fprintf(stderr, "got %s: %" PRIu64 " bytes into %s\n", key, info.size, file);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    ctl_data_opts_t dopt = {.timeout_s = 5};
    mmc_meta_client_opts_t o;
    mmc_meta_client_opts_init(&o);
    o.timeout_ms = 5000;
    const char *env = getenv("MMC_META_URL");
    if (env != NULL && env[0] != '\0') snprintf(o.url, sizeof(o.url), "%s", env);
    static const struct option longopts[] = {
        {"meta", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},
        {"store", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "+m:t:c:s:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm':
            if (strlen(optarg) >= sizeof(o.url)) {
                fprintf(stderr, "mmcctl: --meta URL too long\n");
                return 2;
            }
            snprintf(o.url, sizeof(o.url), "%s", optarg);
            dopt.meta = optarg;
            break;
        case 'c': dopt.config = optarg; break;
        case 's':
            if (strlen(optarg) >= MMC_URL_SIZE) {
                fprintf(stderr, "mmcctl: --store URL too long\n");
                return 2;
            }
            dopt.store = optarg;
            break;
        case 't': {
            char *end = NULL;
            unsigned long s = strtoul(optarg, &end, 10);
            if (*end || s < 1 || s > 3600) {
                fprintf(stderr, "mmcctl: --timeout must be 1..3600 seconds, got '%s'\n", optarg);
                return 2;
            }
            o.timeout_ms = (uint32_t)s * 1000;
            dopt.timeout_s = (uint32_t)s;
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
                 (strcmp(cmd, "keys") == 0 && nargs <= 1) || (strcmp(cmd, "get") == 0 && (nargs == 1 || nargs == 2)) ||
                 (strcmp(cmd, "info") == 0 && nargs == 1) || (strcmp(cmd, "put") == 0 && nargs == 2) ||
                 (strcmp(cmd, "remove") == 0 && nargs == 1);
    if (!known) {
        fprintf(stderr, "mmcctl: unknown command or wrong arguments: %s\n", cmd);
        usage(stderr);
        return 2;
    }
    util_log_level_set(UTIL_LOG_OFF); /* errors are reported once, by this tool */
    if (strcmp(cmd, "put") == 0) return cmd_put(&dopt, args[0], args[1]);
    if (strcmp(cmd, "get") == 0 && nargs == 2) return cmd_get_value(&dopt, args[0], args[1]);
    mmc_meta_client_t *c = NULL;
    int32_t rc = mmc_meta_client_connect(&o, &c);
    if (rc != MMC_OK) return fail("connect", rc);
    int ret;
    if (strcmp(cmd, "status") == 0) ret = cmd_status(c);
    else if (strcmp(cmd, "segments") == 0) ret = cmd_segments(c);
    else if (strcmp(cmd, "keys") == 0) ret = cmd_keys(c, nargs ? args[0] : "");
    else if (strcmp(cmd, "get") == 0 || strcmp(cmd, "info") == 0) ret = cmd_get(c, args[0]);
    else ret = cmd_remove(c, args[0]);
    mmc_meta_client_close(c);
    return ret;
}
