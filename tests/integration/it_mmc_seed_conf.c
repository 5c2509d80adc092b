/*
 * The seed system's shipped config files (tests/data/seed/mmc-meta.conf and
 * mmc-local.conf: the seed's keys and values, unchanged) against the real
 * daemons:
 *  - both load unchanged, every value as the seed means it (sizes, log level
 *    by name, rotation MB, the metrics URL without a scheme, empty values);
 *  - seed keys we have no use for are accepted and said at INFO; keys asking
 *    for what we cannot do say so (ubs_io, memory_pool_mode) or, for the
 *    protocol, load and are refused at start naming host_tcp;
 *  - the seed's defaults take its typical `dram.size = 10GB`;
 *  - mmc-meta runs from the unchanged file (its ports and log directory
 *    moved by flags), logging into <dir>/logs/mmc-meta.log;
 *  - a LocalService from the unchanged mmc-local.conf is refused for
 *    host_rdma, naming host_tcp;
 *  - a LocalService config filled with the seed's field names (bmIpPort,
 *    dataOpType, logFunc, ...) starts, and logFunc gets its lines;
 *  - mmc-local runs from the seed's file with only what cannot run here
 *    changed (host_tcp, TLS off, our ports), and a client process built from
 *    it puts and gets; its retry_milliseconds = 0 makes a call on a dead
 *    MetaService fail at once, not after its 60 s timeout.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memcache/mmc.h"
#include "memcache/mmc_client.h"
#include "memcache/mmc_service.h"
#include "testutil.h"
#include "tu_mmc.h"
#include "util/util_log.h"
#include "util/util_time.h"

static char tmpdir[256], meta_conf[600], local_conf[600];
static char rpc_url[128], store_url[128], metrics_url[128];

static bool slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) return false;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return true;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) return;
    fputs(text, f);
    fclose(f);
}

/* The line starting with `key = ` gets `value` (the rest of the file as it was). */
static bool set_key(char *text, size_t cap, const char *key, const char *value)
{
    char head[200];
    snprintf(head, sizeof(head), "\n%s = ", key);
    char *at = strstr(text, head);
    if (at == NULL) return false;
    char *eol = strchr(at + 1, '\n');
    size_t tail = eol ? strlen(eol) : 0;
    char rest[16384];
    if (tail >= sizeof(rest)) return false;
    memcpy(rest, eol ? eol : "", tail + 1);
    int n = snprintf(at, cap - (size_t)(at - text), "%s%s%s", head, value, rest);
    return n > 0 && (size_t)n < cap - (size_t)(at - text);
}

static void check_meta_values(void)
{
    mmc_meta_service_config_t m;
    mmc_meta_service_config_init(&m);
    int32_t rc = mmc_meta_service_config_load(meta_conf, &m);
    TU_CHECK(rc == MMC_OK, "the seed's mmc-meta.conf loads unchanged: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(strcmp(m.discoveryURL, "tcp://127.0.0.1:5000") == 0 && strcmp(m.configStoreURL, "tcp://127.0.0.1:6000") == 0,
             "meta URLs %s %s", m.discoveryURL, m.configStoreURL);
    TU_CHECK(strcmp(m.httpURL, "127.0.0.1:8000") == 0, "metrics URL as written: %s", m.httpURL);
    TU_CHECK(!m.haEnable && m.logLevel == UTIL_LOG_INFO && strcmp(m.logPath, "/var/log/memcache_hybrid") == 0,
             "ha %d level %d path %s", m.haEnable, m.logLevel, m.logPath);
    TU_CHECK(m.logRotationFileSize == 20 << 20 && m.logRotationFileCount == 50, "rotation: %d bytes, %d files",
             m.logRotationFileSize, m.logRotationFileCount);
    TU_CHECK(m.evictThresholdHigh == 70 && m.evictThresholdLow == 60, "evict %u/%u", m.evictThresholdHigh,
             m.evictThresholdLow);
    TU_CHECK(!m.accTlsConfig.tlsEnable && strcmp(m.accTlsConfig.certPath, "/opt/ock/security/certs/server.cert.pem") == 0 &&
                 strcmp(m.accTlsConfig.packagePath, "/opt/ock/security/libs/") == 0 &&
                 m.accTlsConfig.decrypterLibPath[0] == '\0',
             "RPC TLS block: %d %s", m.accTlsConfig.tlsEnable, m.accTlsConfig.certPath);
    TU_CHECK(!m.configStoreTlsConfig.tlsEnable &&
                 strcmp(m.configStoreTlsConfig.crlPath, "/opt/ock/security/certs/ca.crl.pem") == 0,
             "config store TLS block");
}

static void check_local_values(void)
{
    mmc_local_service_config_t l;
    mmc_local_service_config_init(&l);
    int32_t rc = mmc_local_service_config_load(local_conf, &l);
    TU_CHECK(rc == MMC_OK, "the seed's mmc-local.conf loads unchanged: %d %s", rc, mmc_get_last_err_msg());
    TU_CHECK(l.worldSize == 16 && l.protocol == MMC_PROTO_HOST_RDMA && l.logLevel == UTIL_LOG_INFO,
             "world %u protocol %u level %d", l.worldSize, l.protocol, l.logLevel);
    TU_CHECK(l.localDRAMSize == 128ull << 20 && l.localHBMSize == 0 && l.localMaxDRAMSize == 64ull << 30,
             "sizes %" PRIu64 " %" PRIu64 " (max %" PRIu64 ")", l.localDRAMSize, l.localHBMSize, l.localMaxDRAMSize);
    TU_CHECK(strcmp(l.bmIpPort, "tcp://127.0.0.1:6000") == 0 && strcmp(l.bmHcomUrl, "tcp://127.0.0.1:7000") == 0,
             "bmIpPort %s bmHcomUrl %s", l.bmIpPort, l.bmHcomUrl);
    TU_CHECK(l.retryMilliseconds == 0 && l.timeoutSeconds == 60 && l.readThreadPoolSize == 32 &&
                 l.writeThreadPoolSize == 4 && !l.aggregateIO,
             "client keys: retry %u timeout %u pools %u/%u aggregate %d", l.retryMilliseconds, l.timeoutSeconds,
             l.readThreadPoolSize, l.writeThreadPoolSize, l.aggregateIO);
    TU_CHECK(l.accTlsConfig.tlsEnable && l.configStoreTlsConfig.tlsEnable && l.hcomTlsConfig.tlsEnable &&
                 strcmp(l.hcomTlsConfig.keyPassPath, "/opt/ock/security/certs/client.passphrase") == 0,
             "three TLS blocks on");
    TU_CHECK(mmc_local_service_config_check(&l) == MMC_OK, "the loaded config passes the check: %s",
             mmc_get_last_err_msg());
}

/* One extra file: `body` over the defaults; returns the load's status. */
static int32_t load_local_text(const char *body)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/extra.conf", tmpdir);
    write_text(path, body);
    mmc_local_service_config_t l;
    mmc_local_service_config_init(&l);
    return mmc_local_service_config_load(path, &l);
}

static void check_keys(void)
{
    /* The seed's typical contribution under its defaults (max.dram.size 64 GB). */
    TU_CHECK(load_local_text("ock.mmc.local_service.dram.size = 10GB\n") == MMC_OK, "dram.size = 10GB with defaults: %s",
             mmc_get_last_err_msg());
    TU_CHECK(load_local_text("ock.mmc.local_service.dram.size = 2.5gb\nock.mmc.local_service.max.dram.size = 1TB\n") ==
                 MMC_OK,
             "sizes in the seed's spellings");
    tu_log_capture_start(UTIL_LOG_INFO);
    int old = util_log_level_get();
    util_log_level_set(UTIL_LOG_INFO);
    int32_t rc = load_local_text("ock.mmc.ubs_io.prefetch.enable = false\nock.mmc.tls.top.path = /opt/ock/security/\n");
    util_log_level_set(old);
    TU_CHECK(rc == MMC_OK, "seed keys we do not use are accepted: %s", mmc_get_last_err_msg());
    TU_CHECK(tu_log_count("accepted for compatibility with the seed and ignored") == 2,
             "each said at INFO (%zu lines)", tu_log_count("accepted for compatibility with the seed and ignored"));
    tu_log_capture_stop();
    TU_CHECK(load_local_text("ock.mmc.ubs_io.prefetch.enable = perhaps\n") == MMC_CONFIG, "an ignored key still parses");
    rc = load_local_text("ock.mmc.ubs_io.enable = true\n");
    TU_CHECK(rc == MMC_CONFIG && strstr(mmc_get_last_err_msg(), "extra.conf:1") != NULL &&
                 strstr(mmc_get_last_err_msg(), "UBS-IO") != NULL,
             "ubs_io.enable = true names the line and why: %s", mmc_get_last_err_msg());
    rc = load_local_text("ock.mmc.local_service.memory_pool_mode = expanded\n");
    TU_CHECK(rc == MMC_CONFIG && strstr(mmc_get_last_err_msg(), "standard") != NULL, "memory_pool_mode = expanded: %s",
             mmc_get_last_err_msg());
    TU_CHECK(load_local_text("ock.mmc.client.retry_milliseconds = 600000\n") == MMC_OK &&
                 load_local_text("ock.mmc.client.retry_milliseconds = 600001\n") == MMC_CONFIG,
             "retry_milliseconds in the seed's 0..600000");
    TU_CHECK(load_local_text("ock.mmc.local_service.protocol = device_sdma\n") == MMC_OK &&
                 load_local_text("ock.mmc.local_service.protocol = host_urma\n") == MMC_OK,
             "every seed protocol name loads");
}

static int start_meta(pid_t *pid)
{
    char logdir[400];
    snprintf(logdir, sizeof(logdir), "%s/seedlog", tmpdir);
    const char *args[] = {"--config", meta_conf, "--meta-url", "tcp://127.0.0.1:0", "--store-url", "tcp://127.0.0.1:0",
                          "--metrics-url", "127.0.0.1:0", "--log-path", logdir, NULL};
    tu_mmc_meta_t m = {.args = args};
    if (tu_mmc_meta_run(&m, pid) != 0) return -1;
    snprintf(rpc_url, sizeof(rpc_url), "%s", m.rpc);
    snprintf(store_url, sizeof(store_url), "%s", m.store);
    snprintf(metrics_url, sizeof(metrics_url), "%s", m.metrics);
    return 0;
}

static void check_meta_daemon(void)
{
    char path[600], text[16384];
    TU_CHECK(strncmp(metrics_url, "http://127.0.0.1:", 17) == 0, "HOST:PORT metrics URL served as HTTP: %s", metrics_url);
    snprintf(path, sizeof(path), "%s/seedlog/logs/mmc-meta.log", tmpdir);
    struct stat st;
    TU_CHECK(stat(path, &st) == 0, "log_path is a directory: %s exists", path);
    TU_CHECK(slurp(path, text, sizeof(text)) && strstr(text, "does not rotate") != NULL,
             "the rotation keys are said not applied, at INFO");
}

/* A LocalService from the unchanged file (its URLs pointed at our daemon): refused for host_rdma. */
static void check_rdma_refused(void)
{
    mmc_local_service_config_t l;
    mmc_local_service_config_init(&l);
    TU_CHECK(mmc_local_service_config_load(local_conf, &l) == MMC_OK, "load");
    snprintf(l.discoveryURL, sizeof(l.discoveryURL), "%s", rpc_url);
    snprintf(l.bmIpPort, sizeof(l.bmIpPort), "%s", store_url);
    mmc_local_service_t ls = mmcs_local_service_start(&l);
    const char *msg = mmc_get_last_err_msg();
    TU_CHECK(ls == NULL && strstr(msg, "host_rdma") != NULL && strstr(msg, "host_tcp") != NULL,
             "host_rdma refused at start naming host_tcp: '%s'", msg);
    if (ls != NULL) mmcs_local_service_stop(ls);
    strcpy(l.dataOpType, "device_sdma"); /* the seed's string field wins over the key */
    ls = mmcs_local_service_start(&l);
    msg = mmc_get_last_err_msg();
    TU_CHECK(ls == NULL && strstr(msg, "device_sdma") != NULL && strstr(msg, "host_tcp") != NULL,
             "dataOpType = device_sdma refused the same way: '%s'", msg);
    if (ls != NULL) mmcs_local_service_stop(ls);
}

static _Atomic int seed_log_lines;
static void seed_log(int level, const char *msg)
{
    (void)level;
    if (strstr(msg, "LocalService") != NULL) seed_log_lines++;
}

/* A LocalService config filled field by field the way seed code does (its names, sizeof copies). */
static void check_seed_struct(void)
{
    mmc_local_service_config_t c;
    mmc_local_service_config_init(&c);
    snprintf(c.discoveryURL, sizeof(c.discoveryURL), "%s", rpc_url);
    snprintf(c.bmIpPort, sizeof(c.bmIpPort), "%s", store_url);
    snprintf(c.bmHcomUrl, sizeof(c.bmHcomUrl), "%s", "");
    snprintf(c.dataOpType, sizeof(c.dataOpType), "%s", "host_tcp");
    snprintf(c.memoryPoolMode, sizeof(c.memoryPoolMode), "%s", "standard");
    c.deviceId = 0;
    c.rankId = 0;
    c.worldSize = 16;
    c.createId = 0;
    c.flags = 0;
    c.localDRAMSize = 32ull << 20;
    c.localMaxDRAMSize = 64ull << 30;
    c.localHBMSize = 0;
    c.localMaxHBMSize = 0;
    c.logLevel = UTIL_LOG_INFO;
    c.logFunc = seed_log;
    c.accTlsConfig.tlsEnable = c.hcomTlsConfig.tlsEnable = c.configStoreTlsConfig.tlsEnable = false;
    c.protocol = MMC_PROTO_HOST_RDMA; /* dataOpType, set, wins */
    mmc_local_service_t ls = mmcs_local_service_start(&c);
    TU_CHECK(ls != NULL, "a LocalService from the seed's field names starts: %s", mmc_get_last_err_msg());
    TU_CHECK(seed_log_lines > 0, "logFunc receives the LocalService's lines (%d)", seed_log_lines);
    if (ls != NULL) mmcs_local_service_stop(ls);
    util_log_sink_set(NULL);
    util_log_level_set(UTIL_LOG_OFF);
}

/* The seed's mmc-local.conf with only what cannot run here changed; dram: its contribution. */
static bool derived_conf(const char *path, const char *dram)
{
    char text[16384];
    if (!slurp(local_conf, text, sizeof(text))) return false;
    bool ok = set_key(text, sizeof(text), "ock.mmc.meta_service_url", rpc_url) &&
              set_key(text, sizeof(text), "ock.mmc.local_service.config_store_url", store_url) &&
              set_key(text, sizeof(text), "ock.mmc.local_service.protocol", "host_tcp") &&
              set_key(text, sizeof(text), "ock.mmc.local_service.hcom_url", "tcp://127.0.0.1:0") &&
              set_key(text, sizeof(text), "ock.mmc.tls.enable", "false") &&
              set_key(text, sizeof(text), "ock.mmc.config_store.tls.enable", "false") &&
              set_key(text, sizeof(text), "ock.mmc.local_service.hcom.tls.enable", "false") &&
              set_key(text, sizeof(text), "ock.mmc.local_service.dram.size", dram) &&
              set_key(text, sizeof(text), "ock.mmc.log_level", "error");
    if (ok) write_text(path, text);
    return ok;
}

static void check_data_path(pid_t meta)
{
    char ls_conf[600], cl_conf[600], line[256];
    snprintf(ls_conf, sizeof(ls_conf), "%s/local.conf", tmpdir);
    snprintf(cl_conf, sizeof(cl_conf), "%s/client.conf", tmpdir);
    TU_CHECK(derived_conf(ls_conf, "128MB") && derived_conf(cl_conf, "0"), "derived configs");
    char bin[600];
    snprintf(bin, sizeof(bin), "%s/mmc-local", tu_build_dir());
    char *argv[] = {bin, "--config", ls_conf, NULL};
    pid_t ls = -1;
    int out = -1;
    bool ready = tu_spawn(argv, &ls, &out) == 0 && tu_read_line(out, line, sizeof(line), 60000) >= 0 &&
                 strncmp(line, "mmc-local ready: rank", 21) == 0;
    TU_CHECK(ready, "mmc-local runs from the seed's file (host_tcp, TLS off): '%s'", ready ? line : "no ready line");
    if (!ready) goto stop_local;

    setenv("MMC_LOCAL_CONFIG_PATH", cl_conf, 1);
    int32_t rc = mmc_init(&(mmc_init_config){.deviceId = 0, .initBm = true});
    TU_CHECK(rc == MMC_OK, "mmc_init from the seed's file: %d %s", rc, mmc_get_last_err_msg());
    if (rc != MMC_OK) goto stop_local;
    static uint8_t in[64 << 10], back[64 << 10];
    for (size_t i = 0; i < sizeof(in); i++) in[i] = (uint8_t)(i * 131u + 7u);
    mmc_buffer b = {.addr = (uint64_t)(uintptr_t)in, .type = 1, .len = sizeof(in)};
    mmc_buffer g = {.addr = (uint64_t)(uintptr_t)back, .type = 1, .len = sizeof(back)};
    mmc_put_options opt = {.mediaType = MMC_MEDIA_DRAM, .policy = NATIVE_AFFINITY, .replicaNum = 1};
    for (unsigned i = 0; i < MAX_BLOB_COPIES; i++) opt.preferredLocalServiceIDs[i] = -1;
    rc = mmcc_put("seed-conf-key", &b, opt, 0);
    TU_CHECK(rc == MMC_OK, "put: %d %s", rc, mmc_get_last_err_msg());
    rc = mmcc_get("seed-conf-key", &g, 0);
    TU_CHECK(rc == MMC_OK && memcmp(in, back, sizeof(in)) == 0, "get returns the bytes: %d %s", rc,
             mmc_get_last_err_msg());

    /* retry_milliseconds = 0: with the MetaService gone a call fails at once (the timeout is 60 s). */
    kill(meta, SIGKILL);
    tu_wait_pid(meta, 5000, NULL);
    usleep(300 * 1000);
    uint64_t t0 = util_now_ms();
    rc = mmcc_exist("seed-conf-key", 0);
    uint64_t took = util_now_ms() - t0;
    TU_CHECK(rc != MMC_OK && took < 5000, "a call on a dead MetaService fails at once: %d after %" PRIu64 " ms (%s)", rc,
             took, mmc_get_last_err_msg());
    mmc_uninit();
stop_local:
    if (ls > 0) tu_stop_pid(ls, 10000);
    if (out >= 0) close(out);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    util_log_level_set(UTIL_LOG_OFF);
    const char *src = getenv("SMEM_SOURCE_DIR");
    if (src == NULL) src = "..";
    snprintf(meta_conf, sizeof(meta_conf), "%s/tests/data/seed/mmc-meta.conf", src);
    snprintf(local_conf, sizeof(local_conf), "%s/tests/data/seed/mmc-local.conf", src);
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    check_meta_values();
    check_local_values();
    check_keys();
    pid_t meta = -1;
    TU_CHECK(start_meta(&meta) == 0, "mmc-meta runs from the seed's mmc-meta.conf");
    if (meta > 0) {
        check_meta_daemon();
        check_rdma_refused();
        check_seed_struct();
        check_data_path(meta);
        tu_stop_pid(meta, 5000);
    }
    tu_rmdir_rf(tmpdir);
    return tu_summary();
}
