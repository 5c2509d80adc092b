/*
 * The seed's C++ object-store API (ock::mmc::ObjectStore, KeyInfo,
 * ReplicateConfig), header-only over the C calls of mmc.h and mmc_client.h:
 * each method turns its vectors into the C arrays and its `direct` into an
 * mmc_buffer type, calls the one C function, and hands back its statuses.
 * Nothing is stored or decided here, so a program gets exactly the C API's
 * semantics (docs/API.md, "Seed compatibility: memcache C and C++").
 *
 * direct is an smem_bm_copy_type value: gets take G2H (2) / GH2H (6) for
 * host buffers and G2L (1) / GH2L (5) for device buffers; puts take H2G (3)
 * / H2GH (7) and L2G (0) / L2GH (4); AUTO (9) is host memory here (this build
 * has no device memory). Any other value is MMC_INVALID_PARAM, in every
 * result slot of a batch.
 *
 * Threads: as the C calls (any thread, between Init and TearDown). The store
 * object is a handle on the process-wide client: CreateObjectStore may be
 * called more than once, and every store drives the same client.
 */
#ifndef MMC_CPP_MMCACHE_H
#define MMC_CPP_MMCACHE_H

#include <cstddef>
#include <cstdint>
#include <iostream> /* the seed's header brings it; its programs rely on that */
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "../mmc.h"
#include "../mmc_client.h"

namespace ock {
namespace mmc {

/* Where a key's replicas are (GetKeyInfo): size 0 means no such key or an error. */
class KeyInfo {
public:
    KeyInfo(uint64_t size, uint32_t blobNum) : size_(size), blobNum_(blobNum) {}
    ~KeyInfo() = default;

    uint64_t Size() { return size_; }
    uint32_t GetBlobNum() { return blobNum_; }
    std::vector<int> &GetLocs() { return loc_; }
    std::vector<int> &GetTypes() { return type_; }
    std::vector<uint64_t> &GetGvas() { return gva_; }
    void AddType(int type) { type_.push_back(type); }
    void AddLoc(int loc) { loc_.push_back(loc); }
    void AddGva(uint64_t gva) { gva_.push_back(gva); }

    /* "loc:A,B, type:T,U, gva:G,H, blobNum:N, size:S", the seed's text. */
    std::string ToString() const
    {
        std::ostringstream out;
        out << "loc:";
        for (int v : loc_) out << v << ",";
        out << " type:";
        for (int v : type_) out << v << ",";
        out << " gva:";
        for (uint64_t v : gva_) out << v << ",";
        out << " blobNum:" << blobNum_ << ", size:" << size_;
        return out.str();
    }

    friend std::ostream &operator<<(std::ostream &os, const KeyInfo &info)
    {
        return os << "keyinfo{" << info.ToString() << "}";
    }

private:
    uint64_t size_{};
    uint32_t blobNum_{};
    std::vector<int> loc_{};
    std::vector<int> type_{};
    std::vector<uint64_t> gva_{};
};

/* Put placement: replicaNum 1..8; preferredLocalServiceIDs at most replicaNum
 * ids, placed first, in order. */
class ReplicateConfig {
public:
    uint16_t replicaNum{1u};
    std::vector<int32_t> preferredLocalServiceIDs;
};

class ObjectStore {
public:
    ObjectStore() = default;
    virtual ~ObjectStore() = 0;
    ObjectStore(const ObjectStore &) = delete;
    ObjectStore &operator=(const ObjectStore &) = delete;
    ObjectStore(ObjectStore &&) noexcept = default;
    ObjectStore &operator=(ObjectStore &&) noexcept = default;

    /* A store over this process's client; never null. */
    static std::shared_ptr<ObjectStore> CreateObjectStore();

    virtual int Setup(const local_config &config) = 0;                 /* mmc_setup */
    virtual int Init(const uint32_t deviceId, bool initBm = true) = 0; /* mmc_init */
    virtual int TearDown() = 0;                                        /* mmc_uninit; 0 */
    virtual int RegisterBuffer(void *buffer, size_t size) = 0;
    virtual int UnRegisterBuffer(void *buffer, size_t size) = 0;

    virtual int GetInto(const std::string &key, void *buffer, size_t size, const int32_t direct = 2) = 0;
    virtual std::vector<int> BatchGetInto(const std::vector<std::string> &keys, const std::vector<void *> &buffers,
                                          const std::vector<size_t> &sizes, const int32_t direct = 2) = 0;
    virtual int GetIntoLayers(const std::string &key, const std::vector<void *> &buffers,
                              const std::vector<size_t> &sizes, const int32_t direct = 2) = 0;
    virtual std::vector<int> BatchGetIntoLayers(const std::vector<std::string> &keys,
                                                const std::vector<std::vector<void *>> &buffers,
                                                const std::vector<std::vector<size_t>> &sizes,
                                                const int32_t direct = 2) = 0;
    virtual int PutFrom(const std::string &key, void *buffer, size_t size, const int32_t direct = 3,
                        const ReplicateConfig &replicateConfig = {}) = 0;
    virtual int GetLocalServiceId(uint32_t &localServiceId) = 0;
    virtual std::vector<int> BatchPutFrom(const std::vector<std::string> &keys, const std::vector<void *> &buffers,
                                          const std::vector<size_t> &sizes, const int32_t direct = 3,
                                          const ReplicateConfig &replicateConfig = {}) = 0;
    virtual int PutFromLayers(const std::string &key, const std::vector<void *> &buffers,
                              const std::vector<size_t> &sizes, const int32_t direct = 3,
                              const ReplicateConfig &replicateConfig = {}) = 0;
    virtual std::vector<int> BatchPutFromLayers(const std::vector<std::string> &keys,
                                                const std::vector<std::vector<void *>> &buffers,
                                                const std::vector<std::vector<size_t>> &sizes,
                                                const int32_t direct = 3,
                                                const ReplicateConfig &replicateConfig = {}) = 0;
    virtual int Remove(const std::string &key) = 0;
    virtual std::vector<int> BatchRemove(const std::vector<std::string> &keys) = 0;
    virtual int RemoveAll() = 0;
    /* 1 readable, 0 not found (or its put has not finished), < 0 the error. */
    virtual int IsExist(const std::string &key) = 0;
    virtual std::vector<int> BatchIsExist(const std::vector<std::string> &keys) = 0;
    virtual KeyInfo GetKeyInfo(const std::string &key) = 0;
    virtual std::vector<KeyInfo> BatchGetKeyInfo(const std::vector<std::string> &keys) = 0;
    /* GVA of each key's space (mmcc_batch_alloc), 0 where the key failed. */
    virtual std::vector<uintptr_t> BatchMalloc(const std::vector<std::string> &keys, const std::vector<size_t> &sizes,
                                               uint16_t media) = 0;
    virtual int BatchCopy(std::vector<void *> &gvas, std::vector<void *> &buffers, std::vector<size_t> &sizes,
                          const int32_t direct = 3) = 0;
};

inline ObjectStore::~ObjectStore() = default;

namespace detail {

/* mmc_buffer.type of a direct, or -1 when it is not one of the side's values. */
static inline int BufferType(int32_t direct, bool write)
{
    switch (direct) {
    case 3: case 7: return write ? 1 : -1;  /* H2G, H2GH */
    case 0: case 4: return write ? 0 : -1;  /* L2G, L2GH */
    case 2: case 6: return write ? -1 : 1;  /* G2H, GH2H */
    case 1: case 5: return write ? -1 : 0;  /* G2L, GH2L */
    case 9: return 1;                       /* AUTO: host (no device memory in this build) */
    default: return -1;
    }
}

static inline mmc_buffer Buffer(void *p, size_t size, int type)
{
    mmc_buffer b{};
    b.addr = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p));
    b.type = static_cast<uint32_t>(type);
    b.len = size;
    return b;
}

/* The C options of a ReplicateConfig; false when it does not fit. */
static inline bool Options(const ReplicateConfig &rc, mmc_put_options &opt)
{
    opt = mmc_put_options{};
    opt.mediaType = MMC_MEDIA_NONE;
    opt.policy = NATIVE_AFFINITY;
    opt.replicaNum = rc.replicaNum;
    for (int32_t &id : opt.preferredLocalServiceIDs) id = -1;
    if (rc.preferredLocalServiceIDs.size() > MAX_BLOB_COPIES ||
        rc.preferredLocalServiceIDs.size() > rc.replicaNum)
        return false;
    for (size_t i = 0; i < rc.preferredLocalServiceIDs.size(); i++)
        opt.preferredLocalServiceIDs[i] = rc.preferredLocalServiceIDs[i];
    return true;
}

static inline std::vector<const char *> Keys(const std::vector<std::string> &keys)
{
    std::vector<const char *> v;
    v.reserve(keys.size());
    for (const std::string &k : keys) v.push_back(k.c_str());
    return v;
}

/* One buffer list per key, as the layers calls take them; false on a shape mismatch. */
struct Layers {
    std::vector<std::vector<mmc_buffer>> bufs;
    std::vector<const mmc_buffer *> ptrs;
    std::vector<uint32_t> counts;

    bool Fill(const std::vector<std::vector<void *>> &buffers, const std::vector<std::vector<size_t>> &sizes, int type)
    {
        if (buffers.size() != sizes.size()) return false;
        bufs.resize(buffers.size());
        for (size_t i = 0; i < buffers.size(); i++) {
            if (buffers[i].size() != sizes[i].size() || buffers[i].size() > UINT32_MAX) return false;
            for (size_t j = 0; j < buffers[i].size(); j++) bufs[i].push_back(Buffer(buffers[i][j], sizes[i][j], type));
        }
        for (const std::vector<mmc_buffer> &b : bufs) {
            ptrs.push_back(b.data());
            counts.push_back(static_cast<uint32_t>(b.size()));
        }
        return true;
    }
};

class Store final : public ObjectStore {
public:
    int Setup(const local_config &config) override { return mmc_setup(&config); }

    int Init(const uint32_t deviceId, bool initBm = true) override
    {
        mmc_init_config c{};
        c.deviceId = deviceId;
        c.initBm = initBm;
        return mmc_init(&c);
    }

    int TearDown() override
    {
        mmc_uninit();
        return MMC_OK;
    }

    int RegisterBuffer(void *buffer, size_t size) override
    {
        return mmcc_register_buffer(reinterpret_cast<uintptr_t>(buffer), size);
    }

    int UnRegisterBuffer(void *buffer, size_t size) override
    {
        return mmcc_unregister_buffer(reinterpret_cast<uintptr_t>(buffer), size);
    }

    int GetInto(const std::string &key, void *buffer, size_t size, const int32_t direct = 2) override
    {
        int type = BufferType(direct, false);
        if (type < 0) return MMC_INVALID_PARAM;
        mmc_buffer b = Buffer(buffer, size, type);
        return mmcc_get(key.c_str(), &b, 0);
    }

    std::vector<int> BatchGetInto(const std::vector<std::string> &keys, const std::vector<void *> &buffers,
                                  const std::vector<size_t> &sizes, const int32_t direct = 2) override
    {
        std::vector<int> res(keys.size(), MMC_INVALID_PARAM);
        int type = BufferType(direct, false);
        if (type < 0 || buffers.size() != keys.size() || sizes.size() != keys.size() || keys.size() > UINT32_MAX)
            return res;
        std::vector<mmc_buffer> bufs;
        for (size_t i = 0; i < keys.size(); i++) bufs.push_back(Buffer(buffers[i], sizes[i], type));
        std::vector<const char *> k = Keys(keys);
        mmcc_batch_get(k.data(), static_cast<uint32_t>(k.size()), bufs.data(), 0, res.data());
        return res;
    }

    int GetIntoLayers(const std::string &key, const std::vector<void *> &buffers, const std::vector<size_t> &sizes,
                      const int32_t direct = 2) override
    {
        Layers l;
        int type = BufferType(direct, false);
        if (type < 0 || !l.Fill({buffers}, {sizes}, type)) return MMC_INVALID_PARAM;
        return mmcc_get_layers(key.c_str(), l.ptrs[0], l.counts[0], 0);
    }

    std::vector<int> BatchGetIntoLayers(const std::vector<std::string> &keys,
                                        const std::vector<std::vector<void *>> &buffers,
                                        const std::vector<std::vector<size_t>> &sizes,
                                        const int32_t direct = 2) override
    {
        std::vector<int> res(keys.size(), MMC_INVALID_PARAM);
        Layers l;
        int type = BufferType(direct, false);
        if (type < 0 || buffers.size() != keys.size() || !l.Fill(buffers, sizes, type) || keys.size() > UINT32_MAX)
            return res;
        std::vector<const char *> k = Keys(keys);
        mmcc_batch_get_layers(k.data(), static_cast<uint32_t>(k.size()), l.ptrs.data(), l.counts.data(), 0,
                              res.data());
        return res;
    }

    int PutFrom(const std::string &key, void *buffer, size_t size, const int32_t direct = 3,
                const ReplicateConfig &replicateConfig = {}) override
    {
        mmc_put_options opt;
        int type = BufferType(direct, true);
        if (type < 0 || !Options(replicateConfig, opt)) return MMC_INVALID_PARAM;
        mmc_buffer b = Buffer(buffer, size, type);
        return mmcc_put(key.c_str(), &b, opt, 0);
    }

    int GetLocalServiceId(uint32_t &localServiceId) override { return mmcc_local_service_id(&localServiceId); }

    std::vector<int> BatchPutFrom(const std::vector<std::string> &keys, const std::vector<void *> &buffers,
                                  const std::vector<size_t> &sizes, const int32_t direct = 3,
                                  const ReplicateConfig &replicateConfig = {}) override
    {
        std::vector<int> res(keys.size(), MMC_INVALID_PARAM);
        mmc_put_options opt;
        int type = BufferType(direct, true);
        if (type < 0 || !Options(replicateConfig, opt) || buffers.size() != keys.size() ||
            sizes.size() != keys.size() || keys.size() > UINT32_MAX)
            return res;
        std::vector<mmc_buffer> bufs;
        for (size_t i = 0; i < keys.size(); i++) bufs.push_back(Buffer(buffers[i], sizes[i], type));
        std::vector<const char *> k = Keys(keys);
        mmcc_batch_put(k.data(), static_cast<uint32_t>(k.size()), bufs.data(), opt, 0, res.data());
        return res;
    }

    int PutFromLayers(const std::string &key, const std::vector<void *> &buffers, const std::vector<size_t> &sizes,
                      const int32_t direct = 3, const ReplicateConfig &replicateConfig = {}) override
    {
        mmc_put_options opt;
        Layers l;
        int type = BufferType(direct, true);
        if (type < 0 || !Options(replicateConfig, opt) || !l.Fill({buffers}, {sizes}, type)) return MMC_INVALID_PARAM;
        return mmcc_put_layers(key.c_str(), l.ptrs[0], l.counts[0], &opt, 0);
    }

    std::vector<int> BatchPutFromLayers(const std::vector<std::string> &keys,
                                        const std::vector<std::vector<void *>> &buffers,
                                        const std::vector<std::vector<size_t>> &sizes, const int32_t direct = 3,
                                        const ReplicateConfig &replicateConfig = {}) override
    {
        std::vector<int> res(keys.size(), MMC_INVALID_PARAM);
        mmc_put_options opt;
        Layers l;
        int type = BufferType(direct, true);
        if (type < 0 || !Options(replicateConfig, opt) || buffers.size() != keys.size() ||
            !l.Fill(buffers, sizes, type) || keys.size() > UINT32_MAX)
            return res;
        std::vector<const char *> k = Keys(keys);
        mmcc_batch_put_layers(k.data(), static_cast<uint32_t>(k.size()), l.ptrs.data(), l.counts.data(), &opt, 0,
                              res.data());
        return res;
    }

    int Remove(const std::string &key) override { return mmcc_remove(key.c_str(), 0); }

    std::vector<int> BatchRemove(const std::vector<std::string> &keys) override
    {
        std::vector<int> res(keys.size(), MMC_INVALID_PARAM);
        if (keys.size() > UINT32_MAX) return res;
        std::vector<const char *> k = Keys(keys);
        mmcc_batch_remove(k.data(), static_cast<uint32_t>(k.size()), res.data(), 0);
        return res;
    }

    int RemoveAll() override { return mmcc_remove_all(0); }

    static int Existence(int32_t st)
    {
        if (st == MMC_OK) return 1;
        if (st == MMC_KEY_NOT_FOUND || st == MMC_OBJECT_NOT_READY) return 0;
        return st;
    }

    int IsExist(const std::string &key) override { return Existence(mmcc_exist(key.c_str(), 0)); }

    std::vector<int> BatchIsExist(const std::vector<std::string> &keys) override
    {
        std::vector<int> res(keys.size(), MMC_INVALID_PARAM);
        if (keys.size() > UINT32_MAX) return res;
        std::vector<const char *> k = Keys(keys);
        mmcc_batch_exist(k.data(), static_cast<uint32_t>(k.size()), res.data(), 0);
        for (int &r : res) r = Existence(r);
        return res;
    }

    static KeyInfo Info(int32_t st, const mmc_key_info &in)
    {
        if (st != MMC_OK) return KeyInfo(0, 0);
        KeyInfo out(in.size, in.numBlobs);
        for (uint32_t i = 0; i < in.numBlobs && i < MAX_BLOB_COPIES; i++) {
            out.AddLoc(static_cast<int>(in.ranks[i]));
            out.AddType(in.types[i]);
            out.AddGva(in.gvas[i]);
        }
        return out;
    }

    KeyInfo GetKeyInfo(const std::string &key) override
    {
        mmc_key_info in{};
        return Info(mmcc_get_key_info(key.c_str(), &in), in);
    }

    std::vector<KeyInfo> BatchGetKeyInfo(const std::vector<std::string> &keys) override
    {
        std::vector<KeyInfo> out;
        if (keys.empty() || keys.size() > UINT32_MAX) return out;
        std::vector<mmc_key_info> infos(keys.size());
        std::vector<int32_t> res(keys.size(), MMC_INVALID_PARAM);
        std::vector<const char *> k = Keys(keys);
        mmcc_batch_get_key_info(k.data(), static_cast<uint32_t>(k.size()), infos.data(), res.data());
        for (size_t i = 0; i < keys.size(); i++) out.push_back(Info(res[i], infos[i]));
        return out;
    }

    std::vector<uintptr_t> BatchMalloc(const std::vector<std::string> &keys, const std::vector<size_t> &sizes,
                                       uint16_t media) override
    {
        std::vector<uintptr_t> out(keys.size(), 0);
        if (keys.empty() || sizes.size() != keys.size() || keys.size() > UINT32_MAX) return out;
        std::vector<uint64_t> sz(sizes.begin(), sizes.end()), gvas(keys.size(), 0);
        std::vector<int32_t> res(keys.size(), MMC_INVALID_PARAM);
        std::vector<const char *> k = Keys(keys);
        mmcc_batch_alloc(k.data(), sz.data(), static_cast<uint32_t>(k.size()), media, gvas.data(), res.data());
        for (size_t i = 0; i < keys.size(); i++) out[i] = res[i] == MMC_OK ? static_cast<uintptr_t>(gvas[i]) : 0;
        return out;
    }

    int BatchCopy(std::vector<void *> &gvas, std::vector<void *> &buffers, std::vector<size_t> &sizes,
                  const int32_t direct = 3) override
    {
        /* AUTO cannot say which way a copy goes: refused */
        int wtype = direct == 9 ? -1 : BufferType(direct, true), rtype = direct == 9 ? -1 : BufferType(direct, false);
        bool write = wtype >= 0;
        int type = write ? wtype : rtype;
        if (type < 0 || buffers.size() != gvas.size() || sizes.size() != gvas.size() || gvas.size() > UINT32_MAX)
            return MMC_INVALID_PARAM;
        std::vector<uint64_t> g, sz(sizes.begin(), sizes.end());
        std::vector<mmc_buffer> bufs;
        for (size_t i = 0; i < gvas.size(); i++) {
            g.push_back(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(gvas[i])));
            bufs.push_back(Buffer(buffers[i], sizes[i], type));
        }
        return mmcc_batch_copy(g.data(), bufs.data(), sz.data(), static_cast<uint32_t>(g.size()),
                               write ? MMC_COPY_H2G : MMC_COPY_G2H);
    }
};

} // namespace detail

inline std::shared_ptr<ObjectStore> ObjectStore::CreateObjectStore() { return std::make_shared<detail::Store>(); }

} // namespace mmc
} // namespace ock

#endif
