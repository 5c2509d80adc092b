"""memcache_hybrid called the seed's way (its pymmc.cpp binding, its Python tests, vLLM-Ascend's MemCache
backend), against the real mmc-meta: keywords, return shapes, KeyInfo methods and text, COPY_AUTO, wrong
directions as codes, the GVA flow, the UNMATCHED_STATE lease code and the client-only init(init_bm=False)."""
import numpy as np

import memcache_hybrid as mc
from memcache_hybrid import (  # the seed's test imports these names from the package
    AUTO,
    G2H,
    H2G,
    L2G,
    DistributedObjectStore,
    KeyInfo,
    ReplicateConfig,
)

from conftest import run_py

NUM_LAYERS = 4
BLOCK = 1024


def addr(a):
    return a.ctypes.data


def test_key_info_methods_and_text(store):
    assert store.put("seed/ki", b"k" * 300) == 0
    me = store.get_local_service_id()
    ki = store.get_key_info("seed/ki")
    assert isinstance(ki, KeyInfo)
    assert ki.size() == 300 and ki.loc_list() == [me] and ki.type_list() == [mc.MMC_MEDIA_DRAM]
    gva = ki.gva_list()[0]
    assert gva > 0
    assert str(ki) == f"loc:{me}, type:1, gva:{gva}, blobNum:1, size:300" and repr(ki) == str(ki)
    none = store.get_key_info("seed/ki-absent")
    assert none.size() == 0 and none.gva_list() == [] and str(none) == "loc: type: gva: blobNum:0, size:0"
    # vLLM-Ascend's reading of batch_get_key_info (with its query flag as second argument)
    infos = store.batch_get_key_info(["seed/ki", "seed/ki-absent"], 1)
    assert [i.gva_list()[0] if i.size() > 0 else 0 for i in infos] == [gva, 0]
    assert [i.size() for i in store.batch_get_key_info(keys=["seed/ki"])] == [300]


def test_seed_keywords(store):
    cfg = ReplicateConfig()
    cfg.replicaNum = 1
    assert store.put(key="seed/kw/put", buf=b"abc", replicateConfig=cfg) == 0
    assert store.put_batch(keys=["seed/kw/b1", "seed/kw/b2"], values=[b"1", b"22"], replicateConfig=cfg) == 0
    src = np.arange(256, dtype=np.uint8)
    assert store.put_from(key="seed/kw/from", buffer_ptr=addr(src), size=src.nbytes, direct=H2G,
                          replicateConfig=cfg) == 0
    out = np.zeros(256, np.uint8)
    assert store.get_into(key="seed/kw/from", buffer_ptr=addr(out), size=out.nbytes, direct=G2H) == 0
    assert (out == src).all()
    srcs = [np.full(64, i, np.uint8) for i in range(3)]
    keys = [f"seed/kw/bf{i}" for i in range(3)]
    assert store.batch_put_from(keys=keys, buffer_ptrs=[addr(a) for a in srcs], sizes=[64] * 3, direct=H2G,
                                replicateConfig=cfg) == [0] * 3
    outs = [np.zeros(64, np.uint8) for _ in range(3)]
    assert store.batch_get_into(keys=keys, buffer_ptrs=[addr(a) for a in outs], sizes=[64] * 3, direct=G2H) == [0] * 3
    assert all((o == i).all() for i, o in enumerate(outs))
    layers = [np.full(BLOCK, 7 + l, np.uint8) for l in range(NUM_LAYERS)]
    assert store.put_from_layers(key="seed/kw/layers", buffer_ptrs=[addr(a) for a in layers],
                                 sizes=[BLOCK] * NUM_LAYERS, direct=H2G, replicateConfig=cfg) == 0
    back = [np.zeros(BLOCK, np.uint8) for _ in range(NUM_LAYERS)]
    assert store.get_into_layers(key="seed/kw/layers", buffer_ptrs=[addr(a) for a in back],
                                 sizes=[BLOCK] * NUM_LAYERS, direct=G2H) == 0
    assert all((b == 7 + l).all() for l, b in enumerate(back))
    assert store.batch_is_exist(keys=keys + ["seed/kw/none"]) == [1, 1, 1, 0]
    assert store.is_exist(key="seed/kw/put") == 1
    assert store.get(key="seed/kw/b2") == b"22" and store.get_batch(keys=["seed/kw/b1"]) == [b"1"]
    assert store.remove_batch(keys=keys) == [0] * 3 and store.remove(key="seed/kw/put") == 0
    # our earlier keyword names still work
    assert store.put_from("seed/kw/old", src, direction=mc.MmcDirect.COPY_H2G, replicate_config=None) == 0
    # one status for put_batch: the first key's failure (three replicas on a one-LocalService pool)
    rc = store.put_batch(["seed/kw/r1", "seed/kw/r2"], [b"x", b"y"], ReplicateConfig(replicaNum=3))
    assert rc < 0 and store.is_exist("seed/kw/r1") == 0
    assert store.put_batch([], []) == 0


def test_copy_auto_infers_host_memory(store):
    src = np.arange(512, dtype=np.uint8)
    assert store.put_from("seed/auto/one", addr(src), src.nbytes, AUTO) == 0
    out = np.zeros(512, np.uint8)
    assert store.get_into("seed/auto/one", addr(out), out.nbytes, AUTO) == 0 and (out == src).all()
    layers = [[np.full(BLOCK, 10 * k + l, np.uint8) for l in range(NUM_LAYERS)] for k in range(2)]
    keys = ["seed/auto/l0", "seed/auto/l1"]
    sizes = [[BLOCK] * NUM_LAYERS] * 2
    assert store.batch_put_from_layers(keys, [[addr(a) for a in ls] for ls in layers], sizes, AUTO) == [0, 0]
    back = [[np.zeros(BLOCK, np.uint8) for _ in range(NUM_LAYERS)] for _ in range(2)]
    assert store.batch_get_into_layers(keys, [[addr(a) for a in ls] for ls in back], sizes, AUTO) == [0, 0]
    assert all((back[k][l] == 10 * k + l).all() for k in range(2) for l in range(NUM_LAYERS))
    one = [np.zeros(BLOCK, np.uint8) for _ in range(NUM_LAYERS)]
    assert store.get_into_layers("seed/auto/l1", [addr(a) for a in one], [BLOCK] * NUM_LAYERS, AUTO) == 0
    assert (one[3] == 13).all()
    assert store.batch_put_from(["seed/auto/b"], [addr(src)], [64], direct=mc.MmcDirect.COPY_AUTO) == [0]
    assert store.get("seed/auto/b") == src[:64].tobytes()


def test_wrong_direction_is_the_seeds_code(store):
    buf = np.zeros(64, np.uint8)
    p = addr(buf)
    assert store.put_from("seed/dir/a", p, 64, G2H) == mc.MMC_ERROR
    assert store.get_into("seed/dir/a", p, 64, H2G) == mc.MMC_ERROR
    assert store.batch_put_from(["seed/dir/a", "seed/dir/b"], [p, p], [64, 64], 1) == [mc.MMC_ERROR] * 2
    assert store.batch_get_into(["seed/dir/a"], [p], [64], 77) == [mc.MMC_ERROR]
    assert store.put_from_layers("seed/dir/a", [p], [64], G2H) == mc.MMC_INVALID_PARAM
    assert store.get_into_layers("seed/dir/a", [p], [64], L2G) == mc.MMC_INVALID_PARAM
    assert store.batch_put_from_layers(["seed/dir/a"], [[p]], [[64]], -5) == [mc.MMC_INVALID_PARAM]
    assert store.batch_get_into_layers(["seed/dir/a"], [[p]], [[64]], H2G) == [mc.MMC_INVALID_PARAM]
    assert store.batch_copy([1], [p], [64], AUTO) == mc.MMC_INVALID_PARAM
    assert store.is_exist("seed/dir/a") == 0          # nothing was written


def test_gva_flow_as_the_seeds_test(store):
    """The seed's batch_alloc -> batch_copy_layers -> batch_write_finish -> batch_add_lease -> read ->
    batch_remove_lease test, with host memory in place of NPU tensors."""
    keys = [f"seed/gva/layers-{i}" for i in range(2)]
    layer_sizes = [[BLOCK] * NUM_LAYERS for _ in keys]
    gvas = store.batch_alloc(keys, [NUM_LAYERS * BLOCK] * len(keys))
    assert isinstance(gvas, list) and all(g > 0 for g in gvas)
    src = [[np.full(BLOCK, (k + 1) * 10 + l, np.uint8) for l in range(NUM_LAYERS)] for k in range(len(keys))]
    assert store.batch_copy_layers(gva_ptrs=gvas, buffer_ptrs=[[addr(a) for a in ls] for ls in src],
                                   sizes=layer_sizes, direct=H2G) == 0
    # not readable before the finish: the lease says UNMATCHED_STATE, key info is empty, exist is 0
    assert store.batch_add_lease(keys=keys) == [mc.MMC_UNMATCHED_STATE] * 2
    assert store.get_key_info(keys[0]).size() == 0 and store.batch_is_exist(keys) == [0, 0]
    assert store.batch_write_finish(keys=keys, res=[0] * len(keys)) == [0] * len(keys)
    assert store.batch_add_lease(keys=keys) == [0] * len(keys)
    infos = store.batch_get_key_info(keys)
    assert [i.gva_list()[0] for i in infos] == gvas
    dst = [[np.zeros(BLOCK, np.uint8) for _ in range(NUM_LAYERS)] for _ in keys]
    assert store.batch_copy_layers(gva_ptrs=gvas, buffer_ptrs=[[addr(a) for a in ls] for ls in dst],
                                   sizes=layer_sizes, direct=G2H) == 0
    assert store.batch_remove_lease(keys=keys) == 0
    assert all((src[k][l] == dst[k][l]).all() for k in range(len(keys)) for l in range(NUM_LAYERS))
    # one buffer per GVA, the seed's keywords
    g1 = store.batch_alloc(keys=["seed/gva/one"], sizes=[4096], media=mc.MMC_MEDIA_DRAM)
    data = np.full(4096, 0x5A, np.uint8)
    assert store.batch_copy(gva_ptrs=g1, buffer_ptrs=[addr(data)], sizes=[4096], direct=H2G) == 0
    assert store.batch_write_finish(["seed/gva/one"], [0]) == [0]
    assert store.get("seed/gva/one") == data.tobytes()
    # a key that exists is not allocated again: <= 0 is a failure
    assert store.batch_alloc(["seed/gva/one"], [16])[0] <= 0
    assert store.batch_add_lease(["seed/gva/one"], 2000) == [0] and store.batch_remove_lease(["seed/gva/one"]) == 0
    assert store.batch_remove_lease(["seed/gva/one"]) == mc.MMC_LINK_NOT_FOUND   # no lease held any more
    store.remove_batch(keys)


def test_client_only_init(store, meta, tmp_path):
    """vLLM-Ascend's scheduler: init(device_id=0, init_bm=False), then metadata calls only."""
    keys = ["seed/co/a", "seed/co/b"]
    assert store.put_batch(keys, [b"a" * 100, b"b" * 200]) == 0
    gva_a = store.get_key_info("seed/co/a").gva_list()[0]
    cfg = tmp_path / "local.conf"
    cfg.write_text(meta.config_text())
    p = run_py(f"""
        import numpy as np
        import memcache_hybrid as mc
        from memfabric_hybrid import bm
        s = mc.DistributedObjectStore()
        assert s.init(device_id=0, init_bm=False) == 0, mc.get_last_err_msg()
        assert bm.get_rank_id() == 0xFFFFFFFF            # no BM of its own: smem_bm_init never ran
        keys = {keys!r}
        assert s.batch_is_exist(keys + ["seed/co/none"]) == [1, 1, 0]
        assert s.is_exist("seed/co/a") == 1
        infos = s.batch_get_key_info(keys)
        assert [i.size() for i in infos] == [100, 200] and infos[0].gva_list()[0] == {gva_a}
        assert s.batch_add_lease(keys) == [0, 0] and s.batch_remove_lease(keys) == 0
        g = s.batch_alloc(["seed/co/alloc"], [64])
        assert g[0] > 0, g
        assert s.batch_write_finish(["seed/co/alloc"], [-1]) == [0]     # aborted: never written
        assert s.remove("seed/co/b") == 0
        # data calls need a BM: a clear error, no crash
        buf = np.zeros(100, np.uint8)
        assert s.get_into("seed/co/a", buf.ctypes.data, 100) == mc.MMC_NOT_INITIALIZED
        assert "client-only" in mc.get_last_err_msg()
        assert s.put("seed/co/new", b"x") == mc.MMC_NOT_INITIALIZED
        assert s.get("seed/co/a") == b""
        assert s.register_buffer(buf.ctypes.data, 100) == mc.MMC_NOT_INITIALIZED
        assert s.get_local_service_id() == mc.MMC_NOT_INITIALIZED
        # remove_all is for members of the cluster: it proves a BM rank, which a client-only process has not
        assert s.remove_all() == mc.MMC_NOT_INITIALIZED and "rank" in mc.get_last_err_msg()
        assert s.close() == 0
        print("client-only ok")
    """, env={"MMC_LOCAL_CONFIG_PATH": str(cfg)})
    assert p.stdout.strip().endswith("client-only ok")
    assert store.is_exist("seed/co/b") == 0 and store.is_exist("seed/co/alloc") == 0
    assert store.is_exist("seed/co/new") == 0 and store.get("seed/co/a") == b"a" * 100


def test_store_object_is_the_seeds_class():
    assert DistributedObjectStore.__name__ == "DistributedObjectStore"
    cfg = ReplicateConfig()
    assert cfg.replicaNum == 1 and cfg.preferredLocalServiceIDs == []
    assert (L2G, mc.G2L, G2H, H2G, AUTO) == (0, 1, 2, 3, 9)
