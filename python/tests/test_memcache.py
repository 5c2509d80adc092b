"""memcache_hybrid.DistributedObjectStore in this process against the real mmc-meta (and a second
LocalService, mmc-local, for replicas): every method, the return conventions, threads, bad input."""
import re
import threading

import numpy as np
import pytest

import memcache_hybrid as mc
from memcache_hybrid import KeyInfo, MmcDirect, ReplicateConfig

from conftest import Daemon, binary


def test_put_get_buffer_kinds(store):
    payloads = {
        "kinds/bytes": b"hello",
        "kinds/bytearray": bytearray(b"\x00\x01" * 1000),
        "kinds/memoryview": memoryview(b"abcdef")[1:4],
        "kinds/numpy": np.arange(5000, dtype=np.float32),
    }
    for k, v in payloads.items():
        assert store.put(k, v) == 0, mc.get_last_err_msg()
    for k, v in payloads.items():
        assert store.get(k) == bytes(memoryview(v).cast("B"))
    assert store.get("kinds/absent") == b""
    # written once: a second put succeeds without changing the value
    assert store.put("kinds/bytes", b"other") == 0
    assert store.get("kinds/bytes") == b"hello"
    assert store.put_batch(["kinds/b1", "kinds/b2"], [b"1", np.ones(3, np.uint8)]) == 0  # the seed: one status
    assert store.get_batch(["kinds/b1", "kinds/absent", "kinds/b2"]) == [b"1", b"", b"\x01\x01\x01"]
    assert store.get_batch([]) == [] and store.put_batch([], []) == 0


def test_exist_remove_conventions(store):
    assert store.put("conv/a", b"x") == 0
    assert store.is_exist("conv/a") == 1
    assert store.is_exist("conv/none") == 0
    assert store.batch_is_exist(["conv/a", "conv/none"]) == [1, 0]
    assert store.remove("conv/none") == mc.MMC_KEY_NOT_FOUND
    assert store.put("conv/b", b"y") == 0
    assert store.remove_batch(["conv/a", "conv/b", "conv/none"]) == [0, 0, mc.MMC_KEY_NOT_FOUND]
    assert store.batch_is_exist(["conv/a", "conv/b"]) == [0, 0]
    assert store.put("", b"x") == mc.MMC_INVALID_PARAM       # keys are 1..256 bytes
    assert store.put("k" * 257, b"x") == mc.MMC_INVALID_PARAM
    assert mc.get_last_err_msg() != ""
    assert mc.strerror(mc.MMC_KEY_NOT_FOUND)
    assert (mc.MMC_LEASE_LOST, mc.MMC_LEASE_NOT_OWNER) == (-3204, -3205)
    assert "lease" in mc.strerror(mc.MMC_LEASE_LOST)


def test_put_from_get_into(store):
    src = np.random.default_rng(1).integers(0, 255, 100_000, dtype=np.uint8)
    assert store.put_from("into/buf", src) == 0                              # buffer object
    assert store.put_from("into/addr", src.ctypes.data, src.nbytes, MmcDirect.COPY_H2G) == 0  # address + size
    out = np.zeros_like(src)
    assert store.get_into("into/buf", out) == 0 and (out == src).all()
    out2 = bytearray(200_000)                                                # larger: the head is written
    assert store.get_into("into/addr", out2) == 0 and bytes(out2[:100_000]) == src.tobytes()
    out3 = np.zeros(100_000, np.uint8)
    assert store.get_into("into/addr", out3.ctypes.data, out3.nbytes, MmcDirect.COPY_G2H) == 0
    assert (out3 == src).all()
    assert store.get_into("into/buf", bytearray(10)) == mc.MMC_BUFFER_TOO_SMALL
    assert store.get_into("into/none", bytearray(10)) == mc.MMC_KEY_NOT_FOUND
    # device memory needs CUDA in this build: an error code, not a crash
    assert store.put_from("into/dev", src.ctypes.data, 100, MmcDirect.COPY_L2G) < 0
    bufs = [np.full(1000, i, np.uint8) for i in range(4)]
    keys = [f"into/batch{i}" for i in range(4)]
    assert store.batch_put_from(keys, [b.ctypes.data for b in bufs], [1000] * 4) == [0] * 4
    outs = [np.zeros(1000, np.uint8) for _ in range(4)]
    assert store.batch_get_into(keys + ["into/none"], outs + [bytearray(4)]) == [0] * 4 + [mc.MMC_KEY_NOT_FOUND]
    assert all((o == i).all() for i, o in enumerate(outs))


def test_layers(store):
    layers = [np.full(4096 * (i % 2 + 1), i, np.uint8) for i in range(6)]
    assert store.put_from_layers("lay/one", layers) == 0
    assert store.get("lay/one") == b"".join(x.tobytes() for x in layers)
    back = [np.zeros_like(x) for x in layers]
    assert store.get_into_layers("lay/one", [b.ctypes.data for b in back], [b.nbytes for b in back]) == 0
    assert all((a == b).all() for a, b in zip(layers, back))
    # the layout must add up to the object's size
    assert store.get_into_layers("lay/one", back[:3]) == mc.MMC_BUFFER_TOO_SMALL
    assert store.get_into_layers("lay/one", back + [np.zeros(10, np.uint8)]) == mc.MMC_INVALID_PARAM
    keys = [f"lay/b{j}" for j in range(3)]
    blocks = [[np.full(1024, 10 * j + i, np.uint8) for i in range(5)] for j in range(3)]
    assert store.batch_put_from_layers(keys, blocks) == [0, 0, 0]
    outs = [[np.zeros(1024, np.uint8) for _ in range(5)] for _ in range(3)]
    addrs = [[o.ctypes.data for o in blk] for blk in outs]
    sizes = [[1024] * 5 for _ in outs]
    assert store.batch_get_into_layers(keys + ["lay/none"], addrs + [[np.zeros(8, np.uint8).ctypes.data]],
                                       sizes + [[8]]) == [0, 0, 0, mc.MMC_KEY_NOT_FOUND]
    for j in range(3):
        assert all((outs[j][i] == 10 * j + i).all() for i in range(5))


def test_key_info(store):
    assert store.put("info/a", b"x" * 1234) == 0
    me = store.get_local_service_id()
    assert me >= 0
    ki = store.get_key_info("info/a")
    assert isinstance(ki, KeyInfo)
    assert ki.size() == 1234 and ki.loc_list() == [me] and ki.type_list() == [mc.MMC_MEDIA_DRAM] and ki.valid
    assert len(ki.gva_list()) == 1 and ki.gva_list()[0] != 0 and ki.status == 0
    none = store.get_key_info("info/none")
    assert none.size() == 0 and none.loc_list() == [] and none.status == mc.MMC_KEY_NOT_FOUND
    both = store.batch_get_key_info(["info/a", "info/none"])
    assert [b.size() for b in both] == [1234, 0]


def test_register_buffer(store):
    buf = np.zeros(1 << 20, np.uint8)
    assert store.register_buffer(buf.ctypes.data, buf.nbytes) == 0
    assert store.register_buffer(buf.ctypes.data, buf.nbytes) == 0
    assert store.unregister_buffer(buf.ctypes.data, buf.nbytes) == 0
    assert store.register_buffer(buf) == 0 and store.unregister_buffer(buf) == 0


def test_gva_level(store):
    keys = ["gva/a", "gva/b"]
    data = [np.full(5000, 3, np.uint8), np.full(7000, 4, np.uint8)]
    gvas = store.batch_alloc(keys, [5000, 7000])          # the seed's shape: one GVA per key
    assert len(gvas) == 2 and all(g > 0 for g in gvas)
    assert store.is_exist("gva/a") == 0                 # not readable before write_finish
    assert store.batch_copy(gvas, data, direction=MmcDirect.COPY_H2G) == 0
    assert store.batch_write_finish(keys, [0, 0]) == [0, 0]
    assert store.get("gva/a") == data[0].tobytes() and store.get("gva/b") == data[1].tobytes()
    # an existing key is not allocated again
    assert store.batch_alloc(["gva/a"], [10]) == [mc.MMC_DUPLICATED_OBJECT]   # <= 0: failed
    # aborted put: space freed, key absent
    g3 = store.batch_alloc(["gva/abort"], [100])
    assert g3[0] > 0
    assert store.batch_write_finish(["gva/abort"], [-1]) == [0]
    assert store.is_exist("gva/abort") == 0
    # read through leases with the GVAs of key info
    assert store.batch_add_lease(keys, 5000) == [0, 0]
    infos = store.batch_get_key_info(keys)
    outs = [np.zeros(5000, np.uint8), np.zeros(7000, np.uint8)]
    assert store.batch_copy([i.gva_list()[0] for i in infos], outs, direction=MmcDirect.COPY_G2H) == 0
    assert (outs[0] == 3).all() and (outs[1] == 4).all()
    assert store.batch_remove_lease(keys) == 0            # the seed: one status
    assert store.batch_remove_lease(keys) == mc.MMC_LINK_NOT_FOUND
    # layers form of the copy
    lg = store.batch_alloc(["gva/layers"], [3000])
    assert lg[0] > 0
    parts = [np.full(1000, i, np.uint8) for i in range(3)]
    assert store.batch_copy_layers(lg, [parts]) == 0
    assert store.batch_write_finish(["gva/layers"], [0]) == [0]
    assert store.get("gva/layers") == b"".join(p.tobytes() for p in parts)


def test_replicas_on_a_second_local_service(store, meta):
    local = Daemon([binary("mmc-local"), "--meta-url", meta.rpc_url, "--store-url", meta.store_url,
                    "--dram-size", "64MB", "--max-dram-size", "64MB", "--world-size", "16"], "mmc-local ready")
    try:
        other = int(re.search(r"rank (\d+)", local.ready).group(1))
        me = store.get_local_service_id()
        assert other != me
        assert store.put("rep/two", b"r" * 4096, ReplicateConfig(replicaNum=2)) == 0
        ki = store.get_key_info("rep/two")
        assert sorted(ki.loc_list()) == sorted([me, other]) and ki.size() == 4096
        assert store.put("rep/there", b"t" * 100, ReplicateConfig(1, [other])) == 0
        assert store.get_key_info("rep/there").loc_list() == [other]
        assert store.get("rep/there") == b"t" * 100          # read from the other process's memory
        assert store.put_batch(["rep/b1", "rep/b2"], [b"1", b"2"], ReplicateConfig(1, [other])) == 0
        assert [k.loc_list() for k in store.batch_get_key_info(["rep/b1", "rep/b2"])] == [[other], [other]]
        # only two LocalServices: the header says MMC_NOT_ENOUGH_MEMORY, the service answers EXCEEDS_CAPACITY
        assert store.put("rep/three", b"x", ReplicateConfig(replicaNum=3)) in (mc.MMC_NOT_ENOUGH_MEMORY,
                                                                              mc.MMC_EXCEEDS_CAPACITY)
        assert store.is_exist("rep/three") == 0
        with pytest.raises(ValueError):
            store.put("rep/x", b"x", ReplicateConfig(replicaNum=9))
        with pytest.raises(ValueError):
            store.put("rep/x", b"x", ReplicateConfig(0))
        with pytest.raises(ValueError):
            store.put("rep/x", b"x", ReplicateConfig(1, list(range(9))))
    finally:
        assert local.stop() == 0


def test_eight_threads(store):
    errors = []

    def worker(t):
        rng = np.random.default_rng(t)
        for i in range(40):
            data = rng.integers(0, 255, int(rng.integers(1, 300_000)), dtype=np.uint8)
            key = f"thr/{t}/{i}"
            if store.put(key, data) != 0:
                errors.append(f"put {key}: {mc.get_last_err_msg()}")
                continue
            if store.get(key) != data.tobytes():
                errors.append(f"get {key}: wrong bytes")
            out = np.empty_like(data)
            if store.get_into(key, out) != 0 or not (out == data).all():
                errors.append(f"get_into {key}: wrong bytes")
            if i % 2 == 0 and store.remove(key) != 0:
                errors.append(f"remove {key}")
        keys = [f"thr/{t}/{i}" for i in range(40)]
        if store.batch_is_exist(keys) != [i % 2 for i in range(40)]:
            errors.append(f"thread {t}: batch_is_exist")

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors, errors[:5]


def _wait_stopped(pid, timeout=5.0):
    # SIGSTOP takes effect when each thread of the target next enters the kernel: until all are stopped, a
    # thread that was running may still answer one call (the test then saw the call return in 0.1 ms).
    import os, time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        states = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except FileNotFoundError:
                pass
        if states and all(st in ("T", "t") for st in states):
            return
        time.sleep(0.001)
    raise AssertionError(f"process {pid} did not stop within {timeout} s")


def test_gil_released_during_calls(store, meta):
    # With the MetaService frozen (SIGSTOP), a call blocks in C; this thread must still run Python
    # meanwhile (it is the one that thaws the MetaService). Were the GIL held, the call would
    # only end at its 10 s timeout, with an error, and this thread would see it finished.
    import os, signal, time
    assert store.put("gil/k", b"v") == 0
    result = {}

    def call():
        t0 = time.monotonic()
        result["rc"] = store.is_exist("gil/k")
        result["took"] = time.monotonic() - t0

    os.kill(meta.daemon.proc.pid, signal.SIGSTOP)
    _wait_stopped(meta.daemon.proc.pid)
    try:
        t = threading.Thread(target=call)
        t.start()
        time.sleep(0.5)
        spins = sum(1 for _ in range(100000))       # Python runs while the call is blocked
        blocked = t.is_alive()
    finally:
        os.kill(meta.daemon.proc.pid, signal.SIGCONT)
    t.join(timeout=30)
    assert spins == 100000 and blocked, "the call did not block in C, or held the GIL"
    assert result["rc"] == 1 and result["took"] < 5


def test_bad_input(store):
    with pytest.raises(TypeError):
        store.put(123, b"x")
    with pytest.raises(TypeError):
        store.put("k", 5)
    with pytest.raises(TypeError):
        store.put("k", "a str is not bytes")
    with pytest.raises(ValueError):
        store.put("k\0z", b"x")
    with pytest.raises(TypeError):
        store.put_from("k", 12345)                  # an address needs its size
    with pytest.raises(ValueError):
        store.put_from("k", bytearray(10), -1)
    with pytest.raises(ValueError):
        store.put_from("k", bytearray(10), 11)      # larger than the buffer
    with pytest.raises(TypeError):
        store.get_into("k", b"read-only")
    # a direction of the wrong kind is the seed's code, not an exception
    assert store.get_into("k", bytearray(4), direction=MmcDirect.COPY_H2G) == mc.MMC_ERROR
    assert store.put_from("k", bytearray(4), direction=7) == mc.MMC_ERROR
    with pytest.raises(TypeError):
        store.put_batch("not-a-list", [b"x"])
    with pytest.raises(ValueError):
        store.put_batch(["a", "b"], [b"x"])
    with pytest.raises(TypeError):
        store.batch_is_exist([1, 2])
    with pytest.raises(ValueError):
        store.batch_is_exist(["k"] * (mc.MMC_BATCH_MAX + 1))
    with pytest.raises(ValueError):
        store.batch_put_from_layers(["a", "b"], [[b"x"]])
    with pytest.raises(ValueError):
        store.batch_get_into_layers(["a"], [[1, 2]], [[1]])
    with pytest.raises(TypeError):
        store.get_key_info(None)
    with pytest.raises(TypeError):
        store.setup("not a config")
    with pytest.raises(ValueError):
        store.batch_write_finish(["a"], [0, 0])
    with pytest.raises(AttributeError):
        mc.LocalConfig(no_such=1)
    with pytest.raises(ValueError):
        store.setup(mc.LocalConfig(protocol="carrier-pigeon"))
    with pytest.raises(ValueError):
        store.setup(mc.LocalConfig(dram_size=-5))
