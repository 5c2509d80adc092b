/*
 * The seed's C++ ObjectStore (cpp/mmcache.h) driven the seed's way: a
 * client process of it_seed_mmc (which starts mmc-meta and an mmc-local
 * and passes their RPC and config store URLs). Every method of the store:
 * Setup, Init, the put/get forms (plain, batch, layers, batch layers),
 * exist, key info, local service id, buffers, remove, BatchMalloc and
 * BatchCopy, TearDown; bytes are compared after every read. Prints each
 * failure and "N failed"; exits 1 on any.
 */
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cpp/mmcache.h"

using ock::mmc::KeyInfo;
using ock::mmc::ObjectStore;
using ock::mmc::ReplicateConfig;

static int failed;
#define CHECK(cond, ...)                                                                                            \
    do {                                                                                                            \
        if (!(cond)) {                                                                                              \
            std::printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                        \
            std::printf(__VA_ARGS__);                                                                               \
            std::printf(" (%s)\n", mmc_get_last_err_msg());                                                         \
            failed++;                                                                                               \
        }                                                                                                           \
    } while (0)

static std::vector<uint8_t> pattern(size_t n, unsigned seed)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(seed * 31u + i * 13u + (i >> 9));
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::printf("usage: seed_mmc_cpp RPC_URL STORE_URL\n");
        return 2;
    }
    local_config cfg = create_default_local_config();
    std::snprintf(cfg.meta_service_url, sizeof(cfg.meta_service_url), "%s", argv[1]);
    std::snprintf(cfg.config_store_url, sizeof(cfg.config_store_url), "%s", argv[2]);
    std::snprintf(cfg.log_level, sizeof(cfg.log_level), "error");
    std::snprintf(cfg.dram_size, sizeof(cfg.dram_size), "0");
    std::snprintf(cfg.max_dram_size, sizeof(cfg.max_dram_size), "256MB");
    cfg.world_size = 64;
    cfg.client_timeout_seconds = 5;
    CHECK(local_config_to_string(cfg).find("ock.mmc.local_service.max.dram.size = 256MB") != std::string::npos,
          "local_config_to_string");

    std::shared_ptr<ObjectStore> store = ObjectStore::CreateObjectStore();
    CHECK(store->Setup(cfg) == 0, "Setup");
    CHECK(store->Init(0) == 0, "Init(deviceId) with initBm defaulted to true");
    uint32_t id = UINT32_MAX;
    CHECK(store->GetLocalServiceId(id) == 0 && id != UINT32_MAX, "GetLocalServiceId");

    /* plain */
    std::vector<uint8_t> a = pattern(200000, 1), out(200000, 0);
    CHECK(store->RegisterBuffer(out.data(), out.size()) == 0, "RegisterBuffer");
    CHECK(store->PutFrom("cpp/one", a.data(), a.size()) == 0, "PutFrom (direct H2G, one replica by default)");
    CHECK(store->GetInto("cpp/one", out.data(), out.size()) == 0 && out == a, "GetInto");
    CHECK(store->GetInto("cpp/one", out.data(), out.size(), 3) == MMC_INVALID_PARAM, "GetInto with a put direct");
    CHECK(store->IsExist("cpp/one") == 1 && store->IsExist("cpp/none") == 0, "IsExist");
    KeyInfo ki = store->GetKeyInfo("cpp/one");
    CHECK(ki.Size() == a.size() && ki.GetBlobNum() == 1 && ki.GetLocs().size() == 1 && ki.GetGvas()[0] != 0 &&
              ki.GetTypes()[0] == MMC_MEDIA_DRAM,
          "GetKeyInfo: %s", ki.ToString().c_str());
    CHECK(store->GetKeyInfo("cpp/none").Size() == 0, "GetKeyInfo of a missing key");
    ReplicateConfig two;
    two.replicaNum = 2;
    two.preferredLocalServiceIDs = {1, 2, 3};
    CHECK(store->PutFrom("cpp/bad", a.data(), a.size(), 3, two) == MMC_INVALID_PARAM,
          "more preferred ids than replicas");
    CHECK(store->UnRegisterBuffer(out.data(), out.size()) == 0, "UnRegisterBuffer");

    /* batch */
    std::vector<std::string> keys = {"cpp/b0", "cpp/b1", "cpp/b2"};
    std::vector<std::vector<uint8_t>> src, dst;
    std::vector<void *> sp, dp;
    std::vector<size_t> sizes;
    for (size_t i = 0; i < keys.size(); i++) {
        src.push_back(pattern(5000 * (i + 1), 10 + static_cast<unsigned>(i)));
        dst.push_back(std::vector<uint8_t>(src.back().size(), 0));
    }
    for (size_t i = 0; i < keys.size(); i++) {
        sp.push_back(src[i].data());
        dp.push_back(dst[i].data());
        sizes.push_back(src[i].size());
    }
    std::vector<int> r = store->BatchPutFrom(keys, sp, sizes);
    CHECK(r == std::vector<int>(3, 0), "BatchPutFrom");
    r = store->BatchGetInto(keys, dp, sizes);
    CHECK(r == std::vector<int>(3, 0) && dst == src, "BatchGetInto");
    std::vector<std::string> probe = {"cpp/b1", "cpp/none"};
    CHECK(store->BatchIsExist(probe) == (std::vector<int>{1, 0}), "BatchIsExist");
    std::vector<KeyInfo> infos = store->BatchGetKeyInfo(keys);
    CHECK(infos.size() == 3 && infos[2].Size() == src[2].size(), "BatchGetKeyInfo");
    CHECK(store->BatchGetInto(keys, dp, {1, 2}).at(0) == MMC_INVALID_PARAM, "sizes of another length: refused");

    /* layers: one key from three buffers, read back into three others */
    std::vector<uint8_t> l0 = pattern(3000, 20), l1 = pattern(7000, 21), l2 = pattern(100, 22);
    std::vector<uint8_t> o0(3000), o1(7000), o2(100);
    std::vector<void *> lin = {l0.data(), l1.data(), l2.data()}, lout = {o0.data(), o1.data(), o2.data()};
    std::vector<size_t> lsz = {3000, 7000, 100};
    CHECK(store->PutFromLayers("cpp/layers", lin, lsz) == 0, "PutFromLayers");
    CHECK(store->GetIntoLayers("cpp/layers", lout, lsz) == 0 && o0 == l0 && o1 == l1 && o2 == l2, "GetIntoLayers");
    std::vector<std::string> lkeys = {"cpp/bl0", "cpp/bl1"};
    std::vector<std::vector<void *>> bin = {lin, lin}, bout = {lout, lout};
    std::vector<std::vector<size_t>> bsz = {lsz, lsz};
    CHECK(store->BatchPutFromLayers(lkeys, bin, bsz) == std::vector<int>(2, 0), "BatchPutFromLayers");
    std::fill(o1.begin(), o1.end(), 0);
    CHECK(store->BatchGetIntoLayers(lkeys, bout, bsz) == std::vector<int>(2, 0) && o1 == l1, "BatchGetIntoLayers");

    /* GVA level: space for a key, a write copy into it and a read copy back */
    std::vector<uintptr_t> gvas = store->BatchMalloc({"cpp/gva"}, {4096}, MMC_MEDIA_DRAM);
    CHECK(gvas.size() == 1 && gvas[0] != 0, "BatchMalloc");
    if (gvas.size() == 1 && gvas[0] != 0) {
        std::vector<uint8_t> g = pattern(4096, 30), gb(4096, 0);
        std::vector<void *> gv = {reinterpret_cast<void *>(gvas[0])}, gw = {g.data()}, gr = {gb.data()};
        std::vector<size_t> gs = {4096};
        CHECK(store->BatchCopy(gv, gw, gs, 3) == 0, "BatchCopy host -> pool");
        CHECK(store->BatchCopy(gv, gr, gs, 2) == 0 && gb == g, "BatchCopy pool -> host");
        CHECK(store->BatchCopy(gv, gr, gs, 9) == MMC_INVALID_PARAM, "BatchCopy AUTO has no side");
    }

    /* removal */
    CHECK(store->Remove("cpp/one") == 0 && store->IsExist("cpp/one") == 0, "Remove");
    CHECK(store->BatchRemove(keys) == std::vector<int>(3, 0), "BatchRemove");
    CHECK(store->RemoveAll() == 0 && store->IsExist("cpp/layers") == 0, "RemoveAll");
    CHECK(store->TearDown() == 0, "TearDown");
    CHECK(store->PutFrom("cpp/after", a.data(), a.size()) == MMC_NOT_INITIALIZED, "after TearDown");
    std::printf("seed_mmc_cpp: %d failed\n", failed);
    return failed == 0 ? 0 : 1;
}
