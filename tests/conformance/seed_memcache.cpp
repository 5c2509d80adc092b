/*
 * Conformance of our memcache headers with the seed's (Ascend/memcache
 * src/memcache/include: mmc.h, mmc_def.h, mmc_client.h, mmc_service.h,
 * cpp/mmcache.h), as a C++ program that includes them the seed's way
 * (-I include/memcache, "mmc_client.h") and then:
 *  - redeclares every seed C prototype with the seed's parameter types: a
 *    C function redeclared with other types does not compile;
 *  - checks every seed macro's value, every seed typedef, and every field of
 *    the seed's structs with its type; for the structs a seed program shares
 *    in memory with the library (buffers, options, infos, configs) the
 *    layout too, against a mirror written from the seed's header;
 *  - checks the C++ ObjectStore/KeyInfo/ReplicateConfig members' signatures;
 *  - links against libmmc.so and makes a few calls that need no daemon.
 * The mirrors and prototypes are written from the seed's headers read as
 * documentation. The three service config structs that another part of
 * this work renames (mmc_tls_config, mmc_meta_service_config_t,
 * mmc_local_service_config_t) are checked field by field only when
 * MMC_CONFORMANCE_SERVICE_CONFIGS is defined (ctest
 * conformance.seed_memcache_configs).
 */
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "mmc.h"
#include "mmc_client.h"
#include "mmc_def.h"
#include "mmc_service.h"
#include "cpp/mmcache.h"

/* ---------- the seed's prototypes, redeclared ---------- */
extern "C" {
int32_t mmc_setup(const local_config *config);
int32_t mmc_init(const mmc_init_config *config);
int32_t mmc_set_extern_logger(void (*func)(int level, const char *msg));
int32_t mmc_set_log_level(int level);
void mmc_uninit(void);

int32_t mmcc_init(mmc_client_config_t *config);
void mmcc_uninit(void);
int32_t mmcc_register_buffer(uint64_t addr, uint64_t size);
int32_t mmcc_unregister_buffer(uint64_t addr, uint64_t size);
int32_t mmcc_put(const char *key, mmc_buffer *buf, mmc_put_options options, uint32_t flags);
int32_t mmcc_local_service_id(uint32_t *localServiceId);
int32_t mmcc_get(const char *key, mmc_buffer *buf, uint32_t flags);
int32_t mmcc_query(const char *key, mmc_data_info *info, uint32_t flags);
int32_t mmcc_batch_query(const char **keys, size_t keys_count, mmc_data_info *info, uint32_t flags);
int32_t mmcc_remove(const char *key, uint32_t flags);
int32_t mmcc_batch_remove(const char **keys, uint32_t keys_count, int32_t *remove_results, uint32_t flags);
int32_t mmcc_exist(const char *key, uint32_t flags);
int32_t mmcc_batch_exist(const char **keys, uint32_t keys_count, int32_t *exist_results, uint32_t flags);
int32_t mmcc_batch_put(const char **keys, uint32_t keys_count, const mmc_buffer *bufs, mmc_put_options &options,
                       uint32_t flags, int *results);
int32_t mmcc_batch_get(const char **keys, uint32_t keys_count, mmc_buffer *bufs, uint32_t flags, int *results);

mmc_meta_service_t mmcs_meta_service_start(mmc_meta_service_config_t *config);
void mmcs_meta_service_stop(mmc_meta_service_t handle);
mmc_local_service_t mmcs_local_service_start(mmc_local_service_config_t *config);
void mmcs_local_service_stop(mmc_local_service_t handle);
}
/* mmc.h's C++ helpers */
mmc_meta_service_config_t create_default_meta_config();
std::string meta_config_to_string(const mmc_meta_service_config_t &config);
local_config create_default_local_config();
std::string local_config_to_string(const local_config &config);

/* ---------- macros and typedefs ---------- */
static_assert(DISCOVERY_URL_SIZE == 1024, "DISCOVERY_URL_SIZE");
static_assert(PATH_MAX_SIZE == 1024, "PATH_MAX_SIZE");
static_assert(PROTOCOL_SIZE == 64, "PROTOCOL_SIZE");
static_assert(MAX_BATCH_OP_COUNT == 16384, "MAX_BATCH_OP_COUNT");
static_assert(TLS_PATH_SIZE == 256, "TLS_PATH_SIZE");
static_assert(TLS_PATH_MAX_LEN == TLS_PATH_SIZE - 1, "TLS_PATH_MAX_LEN");
static_assert(MEM_POOL_MODE_SIZE == 64, "MEM_POOL_MODE_SIZE");
static_assert(MAX_BLOB_COPIES == 8, "MAX_BLOB_COPIES");
static_assert(std::is_same<mmc_meta_service_t, void *>::value, "mmc_meta_service_t");
static_assert(std::is_same<mmc_local_service_t, void *>::value, "mmc_local_service_t");
static_assert(std::is_same<mmc_client_t, void *>::value, "mmc_client_t");
static_assert(std::is_same<ExternalLog, void (*)(int, const char *)>::value, "ExternalLog");
static_assert(std::is_enum<affinity_policy>::value, "affinity_policy is an enum");
static_assert(std::is_same<std::underlying_type<affinity_policy>::type, int>::value, "affinity_policy : int");
static_assert(NATIVE_AFFINITY == 0, "NATIVE_AFFINITY");

/* A field of T named m with type U (the seed's). */
#define FIELD(T, m, U) static_assert(std::is_same<decltype(T::m), U>::value, #T "." #m " is " #U)
/* Same offset and size as in the mirror M (the seed's layout). */
#define SAME_AT(T, M, m) static_assert(offsetof(T, m) == offsetof(M, m), #T "." #m " offset")

/* ---------- mmc_def.h ---------- */
FIELD(mmc_buffer, addr, uint64_t);
FIELD(mmc_buffer, type, uint32_t);
FIELD(mmc_buffer, offset, uint64_t);
FIELD(mmc_buffer, len, uint64_t);

FIELD(mmc_put_options, mediaType, uint16_t);
FIELD(mmc_put_options, policy, affinity_policy);
FIELD(mmc_put_options, replicaNum, uint16_t);
FIELD(mmc_put_options, preferredLocalServiceIDs, int32_t[MAX_BLOB_COPIES]);

FIELD(mmc_data_info, size, uint64_t);
FIELD(mmc_data_info, prot, uint16_t);
FIELD(mmc_data_info, numBlobs, uint8_t);
FIELD(mmc_data_info, valid, bool);
FIELD(mmc_data_info, ranks, uint32_t[MAX_BLOB_COPIES]);
FIELD(mmc_data_info, types, uint16_t[MAX_BLOB_COPIES]);

FIELD(mmc_client_config_t, discoveryURL, char[DISCOVERY_URL_SIZE]);
FIELD(mmc_client_config_t, rankId, uint32_t);
FIELD(mmc_client_config_t, rpcRetryTimeOut, uint32_t);
FIELD(mmc_client_config_t, timeOut, uint32_t);
FIELD(mmc_client_config_t, readThreadPoolNum, uint32_t);
FIELD(mmc_client_config_t, writeThreadPoolNum, uint32_t);
FIELD(mmc_client_config_t, aggregateIO, bool);
FIELD(mmc_client_config_t, aggregateNum, int32_t);
FIELD(mmc_client_config_t, logLevel, int32_t);
FIELD(mmc_client_config_t, logFunc, ExternalLog);
FIELD(mmc_client_config_t, tlsConfig, mmc_tls_config);

namespace seed {
struct buffer {
    uint64_t addr;
    uint32_t type;
    uint64_t offset;
    uint64_t len;
};
struct put_options {
    uint16_t mediaType;
    int policy;
    uint16_t replicaNum;
    int32_t preferredLocalServiceIDs[8];
};
struct data_info {
    uint64_t size;
    uint16_t prot;
    uint8_t numBlobs;
    bool valid;
    uint32_t ranks[8];
    uint16_t types[8];
};
struct client_config {
    char discoveryURL[1024];
    uint32_t rankId;
    uint32_t rpcRetryTimeOut;
    uint32_t timeOut;
    uint32_t readThreadPoolNum;
    uint32_t writeThreadPoolNum;
    bool aggregateIO;
    int32_t aggregateNum;
    int32_t logLevel;
    void (*logFunc)(int, const char *);
    mmc_tls_config tlsConfig; /* the block itself is checked with the service configs */
};
struct init_config {
    uint32_t deviceId;
    bool initBm;
};
} // namespace seed

static_assert(sizeof(mmc_buffer) == sizeof(seed::buffer), "mmc_buffer size");
SAME_AT(mmc_buffer, seed::buffer, addr);
SAME_AT(mmc_buffer, seed::buffer, type);
SAME_AT(mmc_buffer, seed::buffer, offset);
SAME_AT(mmc_buffer, seed::buffer, len);
static_assert(sizeof(mmc_put_options) == sizeof(seed::put_options), "mmc_put_options size");
SAME_AT(mmc_put_options, seed::put_options, mediaType);
SAME_AT(mmc_put_options, seed::put_options, policy);
SAME_AT(mmc_put_options, seed::put_options, replicaNum);
SAME_AT(mmc_put_options, seed::put_options, preferredLocalServiceIDs);
static_assert(sizeof(mmc_data_info) == sizeof(seed::data_info), "mmc_data_info size");
SAME_AT(mmc_data_info, seed::data_info, size);
SAME_AT(mmc_data_info, seed::data_info, prot);
SAME_AT(mmc_data_info, seed::data_info, numBlobs);
SAME_AT(mmc_data_info, seed::data_info, valid);
SAME_AT(mmc_data_info, seed::data_info, ranks);
SAME_AT(mmc_data_info, seed::data_info, types);
static_assert(sizeof(mmc_client_config_t) == sizeof(seed::client_config), "mmc_client_config_t size");
SAME_AT(mmc_client_config_t, seed::client_config, discoveryURL);
SAME_AT(mmc_client_config_t, seed::client_config, rankId);
SAME_AT(mmc_client_config_t, seed::client_config, rpcRetryTimeOut);
SAME_AT(mmc_client_config_t, seed::client_config, timeOut);
SAME_AT(mmc_client_config_t, seed::client_config, readThreadPoolNum);
SAME_AT(mmc_client_config_t, seed::client_config, writeThreadPoolNum);
SAME_AT(mmc_client_config_t, seed::client_config, aggregateIO);
SAME_AT(mmc_client_config_t, seed::client_config, aggregateNum);
SAME_AT(mmc_client_config_t, seed::client_config, logLevel);
SAME_AT(mmc_client_config_t, seed::client_config, logFunc);
SAME_AT(mmc_client_config_t, seed::client_config, tlsConfig);

/* ---------- mmc.h ---------- */
FIELD(mmc_init_config, deviceId, uint32_t);
FIELD(mmc_init_config, initBm, bool);
static_assert(sizeof(mmc_init_config) == sizeof(seed::init_config), "mmc_init_config size");
SAME_AT(mmc_init_config, seed::init_config, deviceId);
SAME_AT(mmc_init_config, seed::init_config, initBm);

FIELD(local_config, config_path, char[PATH_MAX_SIZE]);
FIELD(local_config, meta_service_url, char[DISCOVERY_URL_SIZE]);
FIELD(local_config, config_store_url, char[DISCOVERY_URL_SIZE]);
FIELD(local_config, log_level, char[10]);
FIELD(local_config, world_size, uint32_t);
FIELD(local_config, protocol, char[PROTOCOL_SIZE]);
FIELD(local_config, hcom_url, char[DISCOVERY_URL_SIZE]);
FIELD(local_config, dram_size, char[64]);
FIELD(local_config, hbm_size, char[64]);
FIELD(local_config, max_dram_size, char[64]);
FIELD(local_config, max_hbm_size, char[64]);
FIELD(local_config, client_retry_milliseconds, uint32_t);
FIELD(local_config, client_timeout_seconds, uint32_t);
FIELD(local_config, read_thread_pool_size, uint32_t);
FIELD(local_config, write_thread_pool_size, uint32_t);
FIELD(local_config, aggregate_io, bool);
FIELD(local_config, aggregate_num, uint32_t);
FIELD(local_config, ubs_io_enable, bool);
FIELD(local_config, memory_pool_mode, char[MEM_POOL_MODE_SIZE]);
#define TLS_FIELDS(p)                                                                                               \
    FIELD(local_config, p##_enable, bool);                                                                          \
    FIELD(local_config, p##_ca_path, char[TLS_PATH_SIZE]);                                                          \
    FIELD(local_config, p##_ca_crl_path, char[TLS_PATH_SIZE]);                                                      \
    FIELD(local_config, p##_cert_path, char[TLS_PATH_SIZE]);                                                        \
    FIELD(local_config, p##_key_path, char[TLS_PATH_SIZE]);                                                         \
    FIELD(local_config, p##_key_pass_path, char[TLS_PATH_SIZE]);                                                    \
    FIELD(local_config, p##_decrypter_path, char[TLS_PATH_SIZE])
TLS_FIELDS(tls);
FIELD(local_config, tls_package_path, char[TLS_PATH_SIZE]);
TLS_FIELDS(config_store_tls);
FIELD(local_config, config_store_tls_package_path, char[TLS_PATH_SIZE]);
TLS_FIELDS(hcom_tls);

namespace seed {
#define TLS_MIRROR(p)                                                                                               \
    bool p##_enable;                                                                                                \
    char p##_ca_path[256], p##_ca_crl_path[256], p##_cert_path[256], p##_key_path[256], p##_key_pass_path[256]
struct local {
    char config_path[1024];
    char meta_service_url[1024];
    char config_store_url[1024];
    char log_level[10];
    uint32_t world_size;
    char protocol[64];
    char hcom_url[1024];
    char dram_size[64], hbm_size[64], max_dram_size[64], max_hbm_size[64];
    uint32_t client_retry_milliseconds, client_timeout_seconds, read_thread_pool_size, write_thread_pool_size;
    bool aggregate_io;
    uint32_t aggregate_num;
    bool ubs_io_enable;
    char memory_pool_mode[64];
    TLS_MIRROR(tls);
    char tls_package_path[256], tls_decrypter_path[256];
    TLS_MIRROR(config_store_tls);
    char config_store_tls_package_path[256], config_store_tls_decrypter_path[256];
    TLS_MIRROR(hcom_tls);
    char hcom_tls_decrypter_path[256];
};
} // namespace seed
static_assert(sizeof(local_config) == sizeof(seed::local), "local_config size");
SAME_AT(local_config, seed::local, world_size);
SAME_AT(local_config, seed::local, client_retry_milliseconds);
SAME_AT(local_config, seed::local, aggregate_num);
SAME_AT(local_config, seed::local, memory_pool_mode);
SAME_AT(local_config, seed::local, tls_enable);
SAME_AT(local_config, seed::local, config_store_tls_enable);
SAME_AT(local_config, seed::local, hcom_tls_enable);
SAME_AT(local_config, seed::local, hcom_tls_decrypter_path);

/* ---------- the service configs (another part of this work) ---------- */
#ifdef MMC_CONFORMANCE_SERVICE_CONFIGS
#define HAS(T, m) static_assert(sizeof(decltype(T::m)) > 0, #T "." #m)
HAS(mmc_tls_config, tlsEnable);
HAS(mmc_tls_config, caPath);
HAS(mmc_tls_config, crlPath);
HAS(mmc_tls_config, certPath);
HAS(mmc_tls_config, keyPath);
HAS(mmc_tls_config, keyPassPath);
HAS(mmc_tls_config, packagePath);
HAS(mmc_tls_config, decrypterLibPath);
HAS(mmc_meta_service_config_t, discoveryURL);
HAS(mmc_meta_service_config_t, configStoreURL);
HAS(mmc_meta_service_config_t, httpURL);
HAS(mmc_meta_service_config_t, haEnable);
HAS(mmc_meta_service_config_t, logLevel);
HAS(mmc_meta_service_config_t, logPath);
HAS(mmc_meta_service_config_t, logRotationFileSize);
HAS(mmc_meta_service_config_t, logRotationFileCount);
HAS(mmc_meta_service_config_t, evictThresholdHigh);
HAS(mmc_meta_service_config_t, evictThresholdLow);
HAS(mmc_meta_service_config_t, accTlsConfig);
HAS(mmc_meta_service_config_t, configStoreTlsConfig);
HAS(mmc_local_service_config_t, discoveryURL);
HAS(mmc_local_service_config_t, deviceId);
HAS(mmc_local_service_config_t, rankId);
HAS(mmc_local_service_config_t, worldSize);
HAS(mmc_local_service_config_t, bmIpPort);
HAS(mmc_local_service_config_t, bmHcomUrl);
HAS(mmc_local_service_config_t, createId);
HAS(mmc_local_service_config_t, dataOpType);
HAS(mmc_local_service_config_t, localDRAMSize);
HAS(mmc_local_service_config_t, localMaxDRAMSize);
HAS(mmc_local_service_config_t, localHBMSize);
HAS(mmc_local_service_config_t, localMaxHBMSize);
HAS(mmc_local_service_config_t, memoryPoolMode);
HAS(mmc_local_service_config_t, flags);
HAS(mmc_local_service_config_t, accTlsConfig);
HAS(mmc_local_service_config_t, logLevel);
HAS(mmc_local_service_config_t, logFunc);
HAS(mmc_local_service_config_t, hcomTlsConfig);
HAS(mmc_local_service_config_t, configStoreTlsConfig);
#endif

/* ---------- cpp/mmcache.h ---------- */
using ock::mmc::KeyInfo;
using ock::mmc::ObjectStore;
using ock::mmc::ReplicateConfig;
using Strs = std::vector<std::string>;
using Ptrs = std::vector<void *>;
using Sizes = std::vector<size_t>;
#define METHOD(C, m, sig) static_assert(std::is_same<decltype(&C::m), sig>::value, #C "::" #m)
static_assert(std::is_abstract<ObjectStore>::value, "ObjectStore is abstract");
static_assert(!std::is_copy_constructible<ObjectStore>::value, "ObjectStore is not copyable");
static_assert(std::is_same<decltype(ObjectStore::CreateObjectStore()), std::shared_ptr<ObjectStore>>::value,
              "CreateObjectStore");
METHOD(ObjectStore, Setup, int (ObjectStore::*)(const local_config &));
METHOD(ObjectStore, Init, int (ObjectStore::*)(uint32_t, bool));
METHOD(ObjectStore, TearDown, int (ObjectStore::*)());
METHOD(ObjectStore, RegisterBuffer, int (ObjectStore::*)(void *, size_t));
METHOD(ObjectStore, UnRegisterBuffer, int (ObjectStore::*)(void *, size_t));
METHOD(ObjectStore, GetInto, int (ObjectStore::*)(const std::string &, void *, size_t, int32_t));
METHOD(ObjectStore, BatchGetInto, std::vector<int> (ObjectStore::*)(const Strs &, const Ptrs &, const Sizes &, int32_t));
METHOD(ObjectStore, GetIntoLayers, int (ObjectStore::*)(const std::string &, const Ptrs &, const Sizes &, int32_t));
METHOD(ObjectStore, BatchGetIntoLayers,
       std::vector<int> (ObjectStore::*)(const Strs &, const std::vector<Ptrs> &, const std::vector<Sizes> &, int32_t));
METHOD(ObjectStore, PutFrom,
       int (ObjectStore::*)(const std::string &, void *, size_t, int32_t, const ReplicateConfig &));
METHOD(ObjectStore, GetLocalServiceId, int (ObjectStore::*)(uint32_t &));
METHOD(ObjectStore, BatchPutFrom,
       std::vector<int> (ObjectStore::*)(const Strs &, const Ptrs &, const Sizes &, int32_t, const ReplicateConfig &));
METHOD(ObjectStore, PutFromLayers,
       int (ObjectStore::*)(const std::string &, const Ptrs &, const Sizes &, int32_t, const ReplicateConfig &));
METHOD(ObjectStore, BatchPutFromLayers,
       std::vector<int> (ObjectStore::*)(const Strs &, const std::vector<Ptrs> &, const std::vector<Sizes> &, int32_t,
                                         const ReplicateConfig &));
METHOD(ObjectStore, Remove, int (ObjectStore::*)(const std::string &));
METHOD(ObjectStore, BatchRemove, std::vector<int> (ObjectStore::*)(const Strs &));
METHOD(ObjectStore, RemoveAll, int (ObjectStore::*)());
METHOD(ObjectStore, IsExist, int (ObjectStore::*)(const std::string &));
METHOD(ObjectStore, BatchIsExist, std::vector<int> (ObjectStore::*)(const Strs &));
METHOD(ObjectStore, GetKeyInfo, KeyInfo (ObjectStore::*)(const std::string &));
METHOD(ObjectStore, BatchGetKeyInfo, std::vector<KeyInfo> (ObjectStore::*)(const Strs &));
METHOD(ObjectStore, BatchMalloc, std::vector<uintptr_t> (ObjectStore::*)(const Strs &, const Sizes &, uint16_t));
METHOD(ObjectStore, BatchCopy, int (ObjectStore::*)(Ptrs &, Ptrs &, Sizes &, int32_t));
METHOD(KeyInfo, Size, uint64_t (KeyInfo::*)());
METHOD(KeyInfo, GetBlobNum, uint32_t (KeyInfo::*)());
METHOD(KeyInfo, GetLocs, std::vector<int> &(KeyInfo::*)());
METHOD(KeyInfo, GetTypes, std::vector<int> &(KeyInfo::*)());
METHOD(KeyInfo, GetGvas, std::vector<uint64_t> &(KeyInfo::*)());
METHOD(KeyInfo, AddType, void (KeyInfo::*)(int));
METHOD(KeyInfo, AddLoc, void (KeyInfo::*)(int));
METHOD(KeyInfo, AddGva, void (KeyInfo::*)(uint64_t));
METHOD(KeyInfo, ToString, std::string (KeyInfo::*)() const);
static_assert(std::is_constructible<KeyInfo, uint64_t, uint32_t>::value, "KeyInfo(size, blobNum)");
FIELD(ReplicateConfig, replicaNum, uint16_t);
FIELD(ReplicateConfig, preferredLocalServiceIDs, std::vector<int32_t>);

/* ---------- the calls, the seed's way, before any init ---------- */
static int failed;
#define CHECK(cond, what)                                                                                           \
    do {                                                                                                            \
        if (!(cond)) {                                                                                              \
            std::printf("FAIL %s\n", what);                                                                         \
            failed++;                                                                                               \
        }                                                                                                           \
    } while (0)

int main()
{
    char data[16] = "conformance";
    mmc_buffer buf{};
    buf.addr = reinterpret_cast<uintptr_t>(data);
    buf.type = 1;
    buf.len = sizeof(data);
    mmc_put_options opt{};
    opt.mediaType = 1;
    opt.policy = NATIVE_AFFINITY;
    opt.replicaNum = 1;
    const char *keys[1] = {"k"};
    int results[1] = {1};
    CHECK(mmcc_put("k", &buf, opt, 0) == MMC_NOT_INITIALIZED, "mmcc_put before init");
    CHECK(mmcc_batch_put(keys, 1, &buf, opt, 0, results) == MMC_NOT_INITIALIZED && results[0] == MMC_NOT_INITIALIZED,
          "mmcc_batch_put before init");
    mmc_data_info info[1];
    CHECK(mmcc_batch_query(keys, static_cast<size_t>(1), info, 0) == MMC_NOT_INITIALIZED, "mmcc_batch_query");
    mmc_client_config_t cc{};
    CHECK(mmcc_init(&cc) == MMC_NOT_INITIALIZED, "mmcc_init without a LocalService");
    mmcs_meta_service_stop(nullptr);
    mmcs_local_service_stop(nullptr);

    local_config lc = create_default_local_config();
    CHECK(std::strcmp(lc.meta_service_url, "tcp://127.0.0.1:5000") == 0, "create_default_local_config");
    CHECK(local_config_to_string(lc).find("ock.mmc.local_service.world_size = 256") != std::string::npos,
          "local_config_to_string");
    mmc_meta_service_config_t mc = create_default_meta_config();
    CHECK(meta_config_to_string(mc).find("ock.mmc.evict_threshold_high = 90") != std::string::npos,
          "meta_config_to_string");

    std::shared_ptr<ObjectStore> store = ObjectStore::CreateObjectStore();
    CHECK(store != nullptr, "CreateObjectStore");
    CHECK(store->PutFrom("k", data, sizeof(data)) == MMC_NOT_INITIALIZED, "PutFrom before Init");
    CHECK(store->GetInto("k", data, sizeof(data), 3) == MMC_INVALID_PARAM, "GetInto with a write direct");
    KeyInfo ki(5, 1);
    ki.AddLoc(2);
    ki.AddType(1);
    ki.AddGva(7);
    CHECK(ki.ToString() == "loc:2, type:1, gva:7, blobNum:1, size:5", "KeyInfo::ToString");
    std::printf("%d failed\n", failed);
    return failed == 0 ? 0 : 1;
}
