"""memcache_hybrid.mooncake.MooncakeDistributedStore, called as Mooncake Store's Python API documents it,
against the real mmc-meta (and mmc-local for a second LocalService): every method, its return values
and Mooncake's error numbers, the opt-in import, 8 threads, several processes.

Tests marked "core" need the core functions of _memcache that the Mooncake semantics rest on (leases
on exist, remove refused under a lease, upsert, counts, pins, replica copy/move); they fail, naming the
missing function, on a build without them."""
import ctypes
import re
import threading
import time

import pytest

import memcache_hybrid as mc
import memcache_hybrid.mooncake as mm
from memcache_hybrid import _memcache
from memcache_hybrid.mooncake import ErrorCode, MooncakeDistributedStore, ReplicateConfig, TaskStatus

from conftest import Daemon, binary, run_py

SEG = 64 << 20


def buf(data_or_size):
    if isinstance(data_or_size, int):
        return (ctypes.c_char * data_or_size)()
    return (ctypes.c_char * len(data_or_size)).from_buffer_copy(data_or_size)


def addr(b):
    return ctypes.addressof(b)


def need_core(*names):
    missing = [n for n in names if not hasattr(_memcache, n)]
    assert not missing, f"this build's _memcache lacks the core function(s) {missing}"


def master(meta):
    return meta.rpc_url[len("tcp://"):]


@pytest.fixture(scope="module")
def ms(meta):
    s = MooncakeDistributedStore()
    # Mooncake's 7 positional arguments: hostname, metadata server, segment, local buffer, protocol,
    # devices, master. Our config store is named in the metadata_server slot (a tcp:// URL).
    assert s.setup("localhost:17001", meta.store_url, SEG, 16 << 20, "tcp", "", master(meta)) == 0
    yield s
    assert s.close() == 0


def test_opt_in_is_not_default():
    code = """
        import sys, memcache_hybrid, memcache_hybrid.mooncake as mm
        assert "mooncake" not in sys.modules and "mooncake.store" not in sys.modules
        try:
            import mooncake.store
            raise SystemExit("mooncake importable without install()")
        except ImportError:
            pass
        assert mm.install() is True
        from mooncake.store import MooncakeDistributedStore, ReplicateConfig
        import mooncake
        assert MooncakeDistributedStore is mm.MooncakeDistributedStore and mooncake.store is mm.store
        assert mm.install() is True            # idempotent
        assert mm.uninstall() is True and "mooncake" not in sys.modules
        sys.modules["mooncake"] = type(sys)("mooncake")   # a real mooncake is left alone
        assert mm.install() is False and mm.install(replace=True) is True
        print("ok")
    """
    assert run_py(code).stdout.strip() == "ok"


def test_sizes_and_codes():
    assert mm.parse_size(4096) == 4096
    assert mm.parse_size("512MB") == 512 << 20 and mm.parse_size("4 GiB") == 4 << 30
    assert mm.parse_size("1.5gb") == 3 << 29 and mm.parse_size("16kb") == 16 << 10
    for bad in ("", "12XB", "-1", "MB"):
        with pytest.raises(ValueError):
            mm.parse_size(bad)
    # Mooncake's ErrorCode numbers, and ours translated to them
    assert (ErrorCode.NO_AVAILABLE_HANDLE, ErrorCode.OBJECT_NOT_FOUND, ErrorCode.INVALID_PARAMS) == (-200, -704, -600)
    assert mm.from_mmc(mc.MMC_NOT_ENOUGH_MEMORY) == -200 and mm.from_mmc(mc.MMC_EXCEEDS_CAPACITY) == -200
    assert mm.from_mmc(mc.MMC_KEY_NOT_FOUND) == -704 and mm.from_mmc(mc.MMC_DUPLICATED_OBJECT) == -705
    assert mm.from_mmc(mc.MMC_LEASE_NOT_EXPIRED) == -706 and mm.from_mmc(mc.MMC_UNSUPPORTED) == -2
    assert mm.from_mmc(12) == 12 and mm.from_mmc(-99999) == -1


def test_setup_forms_and_dummy(meta, ms):
    # dict form, size strings, host:port master; then a dummy (client-only) process reads its data
    code = f"""
        import ctypes
        from memcache_hybrid.mooncake import MooncakeDistributedStore
        s = MooncakeDistributedStore()
        assert s.setup({{"local_hostname": "dict-host", "metadata_server": "{meta.store_url}",
                        "global_segment_size": "32MB", "local_buffer_size": "16MB", "protocol": "tcp",
                        "device_name": "", "master_server_address": "{master(meta)}"}}) == 0
        assert s.get_hostname() == "dict-host" and s.health_check() == 0
        assert s.put("forms/dict", b"from-dict") == 0
        d = MooncakeDistributedStore()
        print(s.get("forms/dict").decode())
        s.close()
    """
    assert run_py(code).stdout.strip() == "from-dict"
    assert ms.put("forms/main", b"main") == 0
    code = f"""
        import ctypes
        from memcache_hybrid.mooncake import MooncakeDistributedStore
        d = MooncakeDistributedStore()
        assert d.setup_dummy(256 << 20, 64 << 20, "{master(meta)}", config_store_url="{meta.store_url}") == 0
        assert d.is_exist("forms/absent") == 0
        assert d.is_exist("forms/main") == 1
        assert d.get_size("forms/main") == 4
        assert d.put("forms/dummy", b"x") == -1010            # contributes no memory: no byte copies
        assert d.batch_get_buffer(["forms/absent"]) == [None]
        print("dummy-ok"); d.close()
    """
    assert run_py(code).stdout.strip() == "dummy-ok"
    s = MooncakeDistributedStore()
    assert s.setup("h", meta.store_url, "12XB", 0, "tcp", "", master(meta)) == ErrorCode.INVALID_PARAMS
    assert s.setup("h", "", 1 << 20, 0, "tcp", "", master(meta), None, enable_ssd_offload=True) == -2
    with pytest.raises(TypeError):
        s.setup("h", "")


def test_put_get_every_form(ms):
    assert ms.put("f/put", b"hello") == 0 and ms.get("f/put") == b"hello"
    assert ms.get("f/absent") == b""
    assert ms.put_batch(["f/b1", "f/b2"], [b"one", bytearray(b"two")]) == 0
    assert ms.get_batch(["f/b1", "f/absent", "f/b2"]) == [b"one", b"", b"two"]
    assert ms.put_parts("f/parts", b"ab", bytearray(b"cd"), memoryview(b"xef")[1:]) == 0
    assert ms.get("f/parts") == b"abcdef"
    src = buf(b"S" * 1000 + b"T" * 24)
    assert ms.register_buffer(addr(src), len(src)) == 0
    assert ms.put_from("f/from", addr(src), 1024) == 0
    assert ms.put_from("f/from-cfg", addr(src), 1024, ReplicateConfig()) == 0   # LMCache: 4th arg is config
    assert ms.batch_put_from(["f/bf1", "f/bf2"], [addr(src), addr(src) + 1000], [1000, 24]) == [0, 0]
    out = buf(2048)
    assert ms.get_into("f/from", addr(out), 2048) == 1024 and out.raw[:1024] == src.raw   # bytes read
    assert ms.get_into("f/absent", addr(out), 2048) == ErrorCode.OBJECT_NOT_FOUND
    assert ms.get_into("f/from", addr(out), 100) == ErrorCode.BUFFER_OVERFLOW
    o1, o2 = buf(1000), buf(24)
    assert ms.batch_get_into(["f/bf1", "f/bf2", "f/absent"], [addr(o1), addr(o2), addr(o1)],
                             [1000, 24, 1000]) == [1000, 24, -704]
    assert o1.raw == b"S" * 1000 and o2.raw == b"T" * 24
    h = ms.get_buffer("f/parts")
    assert bytes(h) == b"abcdef" and h.size() == 6 and len(h) == 6 and h.ptr() != 0
    assert bytes(memoryview(h)) == b"abcdef" and ms.get_buffer("f/absent") is None
    assert [None if b is None else bytes(b) for b in ms.batch_get_buffer(["f/put", "f/absent"])] == [b"hello", None]
    meta_b, data_b = buf(b"M" * 28), buf(b"D" * 100)
    assert ms.put_from_with_metadata("f/meta", addr(data_b), addr(meta_b), 100, 28) == 0
    assert ms.get("f/meta") == b"M" * 28 + b"D" * 100
    assert ms.get_size("f/meta") == 128 and ms.get_size("f/absent") == -704
    assert ms.unregister_buffer(addr(src)) == 0 and ms.unregister_buffer(addr(src)) == ErrorCode.INVALID_PARAMS


def test_multi_buffers(ms):
    a, b, c = buf(b"A" * 100), buf(b"B" * 50), buf(b"C" * 10)
    assert ms.batch_put_from_multi_buffers(["mb/1", "mb/2"], [[addr(a), addr(b)], [addr(c)]],
                                           [[100, 50], [10]]) == [0, 0]
    assert ms.get("mb/1") == b"A" * 100 + b"B" * 50
    # buffers may hold more than the object: the bytes read are the object's size
    d1, d2, d3 = buf(120), buf(120), buf(4)
    assert ms.batch_get_into_multi_buffers(["mb/1", "mb/2", "mb/none"], [[addr(d1), addr(d2)], [addr(d3), addr(d1)],
                                           [addr(d1)]], [[120, 120], [4, 120], [120]]) == [150, 10, -704]
    assert d3.raw == b"CCCC" and d1.raw[:6] == b"CCCCCC"
    # too little room: BUFFER_OVERFLOW, per key
    assert ms.batch_get_into_multi_buffers(["mb/1"], [[addr(d3)]], [[4]]) == [ErrorCode.BUFFER_OVERFLOW]


def test_get_into_ranges(ms):
    assert ms.put("rg/k1", bytes(range(40))) == 0 and ms.put("rg/k2", b"abcdefghij") == 0
    b0, b1 = buf(32), buf(32)
    assert ms.register_buffer(addr(b0), 32) == 0 and ms.register_buffer(addr(b1), 32) == 0
    res = ms.get_into_ranges([addr(b0), addr(b1)], [["rg/k1", "rg/k2"], ["rg/k2", "rg/none"]],
                             [[[0, 20], [8]], [[4], [0]]], [[[1, 30], [2]], [[0], [0]]], [[[4, 3], [5]], [[6], [1]]])
    assert res == [[[4, 3], [5]], [[6], [-704]]]
    assert b0.raw[0:4] == bytes([1, 2, 3, 4]) and b0.raw[20:23] == bytes([30, 31, 32]) and b0.raw[8:13] == b"cdefg"
    assert b1.raw[4:10] == b"abcdef"
    # a source range beyond the object, a destination beyond the registered buffer: INVALID_PARAMS
    assert ms.get_into_ranges([addr(b0)], [["rg/k2"]], [[[0, 30]]], [[[8, 0]]], [[[4, 4]]]) == [[[-600, -600]]]
    ms.unregister_buffer(addr(b0))
    ms.unregister_buffer(addr(b1))


def test_sessions(ms):
    keys = ["ss/0", "ss/1"]
    src = buf(bytes(range(64)))
    assert ms.batch_put_session_start(keys, [32, 32]) == [0, 0]
    assert ms.is_exist("ss/0") == 0                        # not readable before the end
    for layer in range(2):
        assert ms.batch_put_from_multi_buffer_ranges(keys, [[addr(src) + layer * 16], [addr(src) + 32 + layer * 16]],
                                                     [[16], [16]], [[layer * 16], [layer * 16]]) == [16, 16]
    assert ms.batch_put_session_end(keys) == [0, 0]
    assert ms.get("ss/0") == bytes(range(32)) and ms.get("ss/1") == bytes(range(32, 64))
    dst = buf(64)
    assert ms.batch_get_session_start(keys) == [0, 0]
    assert ms.batch_get_into_multi_buffer_ranges(keys, [[addr(dst) + 16], [addr(dst) + 32]], [[16], [32]],
                                                 [[16], [0]]) == [16, 32]
    assert ms.batch_get_session_end(keys) == 0
    assert dst.raw[16:32] == bytes(range(16, 32)) and dst.raw[32:] == bytes(range(32, 64))
    assert ms.batch_put_session_start(["ss/revoked"], [8]) == [0]
    assert ms.batch_put_session_revoke(["ss/revoked"]) == [0]
    assert ms.is_exist("ss/revoked") == 0
    assert ms.batch_put_from_multi_buffer_ranges(["ss/nosession"], [[addr(src)]], [[1]], [[0]]) == [-1010]


def test_exist_remove_desc(ms):
    assert ms.put("ex/a", b"x" * 10) == 0
    assert ms.is_exist("ex/a") == 1 and ms.is_exist("ex/none") == 0
    assert ms.batch_is_exist(["ex/a", "ex/none", "k" * 300]) == [1, 0, ErrorCode.INVALID_PARAMS]
    d = ms.get_replica_desc("ex/a")
    assert len(d) == 1 and d[0].is_memory_replica() and not d[0].is_disk_replica()
    bd = d[0].get_memory_descriptor().buffer_descriptor
    assert bd.size == 10 and bd.buffer_address != 0 and d[0].segment_name == ms.get_hostname()
    assert ms.get_replica_desc("ex/none") == []
    m = ms.batch_get_replica_desc(["ex/a", "ex/none"])
    assert list(m) == ["ex/a"] and m["ex/a"][0].status == mm.ReplicaStatus.COMPLETE
    assert ms.remove("ex/none") == -704
    assert ms.put("ex/b", b"y") == 0
    assert ms.batch_remove(["ex/b", "ex/none", ""], force=True) == [0, -704, -600]
    assert ms.remove("ex/a", force=True) == 0 and ms.is_exist("ex/a") == 0


def test_limits_are_per_key(ms):
    long_key = "L" * 300
    assert ms.put(long_key, b"x") == ErrorCode.INVALID_PARAMS
    assert ms.batch_put_from(["lim/ok", long_key], [addr(buf(b"1")), 0], [1, 1])[1] == ErrorCode.INVALID_PARAMS
    assert ms.put_batch(["lim/ok2", ""], [b"1", b"2"]) == ErrorCode.INVALID_PARAMS
    assert ms.get(long_key) == b"" and ms.get_size(long_key) == ErrorCode.INVALID_PARAMS


def test_batches_beyond_our_limit(ms):
    n = _memcache.MMC_BATCH_MAX + 5
    keys = [f"big/{i}" for i in range(n)]
    assert ms.batch_is_exist(keys) == [0] * n          # Mooncake takes any batch length; ours splits it
    assert ms.put_batch(keys[-3:], [b"a", b"b", b"c"]) == 0
    assert ms.batch_is_exist(keys)[-3:] == [1, 1, 1]
    # batch_is_exist granted read leases (as Mooncake's): only a forced remove takes them now
    assert ms.batch_remove(keys)[-3:] == [ErrorCode.OBJECT_HAS_LEASE] * 3
    assert ms.batch_remove(keys, force=True)[-3:] == [0, 0, 0]


def test_full_pool_code(ms):
    # An object no segment can hold: Mooncake's NO_AVAILABLE_HANDLE, the code vLLM backs off on.
    big = buf(SEG + (4 << 20))
    assert ms.put_from("full/huge", addr(big), len(big)) == ErrorCode.NO_AVAILABLE_HANDLE
    assert ms.batch_put_from_multi_buffers(["full/huge2"], [[addr(big)]], [[len(big)]]) == [-200]


def test_not_supported_and_misc(ms):
    r = ms.mount_segment("/dev/shm/x", 1 << 20)
    assert r == {"ret": -2, "segment_ids": []}
    assert ms.allocate_and_mount_segment(1 << 20)["ret"] == -2
    assert ms.unmount_segment(["x"]) == -2 and ms.unmount_and_free_segment(["x"]) == -2
    assert ms.alloc_from_mem_pool(4096) == 0
    assert ms.health_check() == 0 and ms.get_hostname() == "localhost:17001"
    assert ms.query_task((1, 2)) == (None, ErrorCode.TASK_NOT_FOUND)
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError):   # tensor calls without torch (or without the tensor module)
            ms.put_tensor("t", None)
    c = ReplicateConfig()
    assert (c.replica_num, c.with_soft_pin, c.with_hard_pin, c.preferred_segment) == (1, False, False, "")
    c.preferred_segment = "no-such-segment"
    assert ms.put("misc/badseg", b"x", c) == ErrorCode.INVALID_PARAMS


def test_eight_threads(ms):
    errors = []

    def worker(t):
        try:
            for i in range(40):
                k = f"thr/{t}/{i}"
                data = bytes([t]) * (100 + i)
                src = buf(data)
                assert ms.batch_put_from([k], [addr(src)], [len(data)]) == [0]
                dst = buf(1000)
                assert ms.batch_get_into([k], [addr(dst)], [1000]) == [len(data)]
                assert dst.raw[:len(data)] == data
                assert ms.is_exist(k) == 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    ts = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []


def test_processes(meta, ms):
    # Two more processes, each its own LocalService: each writes, everyone reads everyone's data.
    code = f"""
        import sys, ctypes
        from memcache_hybrid.mooncake import MooncakeDistributedStore
        me = sys.argv[1]
        s = MooncakeDistributedStore()
        assert s.setup("proc-" + me, "{meta.store_url}", 16 << 20, 0, "tcp", "", "{master(meta)}") == 0
        assert s.put("proc/" + me, me.encode() * 1000) == 0
        b = (ctypes.c_char * 5)()
        assert s.get_into("proc/main", ctypes.addressof(b), 5) == 5 and b.raw == b"main!"
        print("ok"); sys.stdout.flush()
        sys.stdin.readline()             # keep the LocalService (and its data) until the parent has read
        s.close()
    """
    assert ms.put("proc/main", b"main!") == 0
    from conftest import spawn_py
    kids = [spawn_py(code.replace("sys.argv[1]", repr(str(i)))) for i in range(2)]
    try:
        for k in kids:
            assert k.stdout.readline().strip() == "ok", k.stderr.read()
        for i in range(2):
            assert ms.get(f"proc/{i}") == str(i).encode() * 1000
    finally:
        for k in kids:
            k.stdin.write("\n")
            k.stdin.flush()
            k.wait(timeout=30)


# ---------- core semantics (K1/K2 functions of _memcache) ----------

def test_core_exist_lease_blocks_remove(ms):
    need_core("batch_exist_lease", "batch_remove_ex")
    assert ms.put("lease/a", b"v") == 0
    assert ms.is_exist("lease/a") == 1                    # grants a read lease
    assert ms.remove("lease/a") == ErrorCode.OBJECT_HAS_LEASE
    assert ms.get("lease/a") == b"v"
    assert ms.remove("lease/a", force=True) == 0


def test_core_remove_counts(ms):
    need_core("remove_by_regex", "remove_all_ex")
    for i in range(5):
        assert ms.put(f"rx/user_session_{i}", b"x") == 0
    assert ms.put("rx/keep", b"y") == 0
    assert ms.remove_by_regex("^rx/user_session_.*", force=True) == 5
    assert ms.remove_by_regex("(", force=True) == ErrorCode.INVALID_PARAMS
    assert ms.get("rx/keep") == b"y"
    n = ms.remove_all(force=True)
    assert n >= 1 and ms.get("rx/keep") == b""


def test_core_upsert_atomic(ms):
    need_core("upsert", "batch_upsert")
    old, new = b"O" * 65536, b"N" * 65536
    assert ms.upsert("up/k", old) == 0 and ms.get("up/k") == old
    stop, seen, bad = threading.Event(), set(), []

    def reader():
        dst = buf(65536)
        while not stop.is_set():
            n = ms.get_into("up/k", addr(dst), 65536)
            if n == 65536:
                v = dst.raw
                if v not in (old, new):
                    bad.append(v[:8])
                seen.add(v[:1])
    rs = [threading.Thread(target=reader) for _ in range(4)]
    for r in rs:
        r.start()
    for i in range(50):
        assert ms.upsert("up/k", new if i % 2 == 0 else old) == 0
    stop.set()
    for r in rs:
        r.join()
    assert bad == []
    assert ms.upsert_parts("up/p", b"a", b"b") == 0 and ms.upsert_parts("up/p", b"cd") == 0 and ms.get("up/p") == b"cd"
    assert ms.upsert_batch(["up/b1", "up/b2"], [b"1", b"2"]) == 0
    s = buf(b"xyz")
    assert ms.upsert_from("up/f", addr(s), 3) == 0 and ms.batch_upsert_from(["up/f"], [addr(s)], [2]) == [0]
    assert ms.get("up/f") == b"xy"


def test_core_pins(ms):
    need_core("batch_put_ex")
    c = ReplicateConfig()
    c.with_soft_pin = True
    assert ms.put("pin/soft", b"s", c) == 0
    c = ReplicateConfig(with_hard_pin=True)
    assert ms.put("pin/hard", b"h", c) == 0 and ms.get("pin/hard") == b"h"


def test_core_copy_move_tasks(meta, ms):
    need_core("replica_copy", "replica_move", "batch_replica_clear")
    local = Daemon([binary("mmc-local"), "--meta-url", meta.rpc_url, "--store-url", meta.store_url,
                    "--dram-size", "32MB"], "mmc-local ready")  # the default stride, as every member
    try:
        other = int(re.search(r"rank (\d+)", local.ready).group(1))
        target = f"mmc-ls-{other}"
        assert ms.put("task/k", b"q" * 5000) == 0
        tid, rc = ms.create_copy_task("task/k", [target])
        assert rc == 0 and tid != (0, 0)
        for _ in range(200):
            resp, rc = ms.query_task(tid)
            if resp.status in (TaskStatus.SUCCESS, TaskStatus.FAILED):
                break
            time.sleep(0.05)
        assert rc == 0 and resp.status == TaskStatus.SUCCESS, resp.message
        segs = sorted(d.segment_name for d in ms.get_replica_desc("task/k"))
        assert segs == sorted([ms.get_hostname(), target])
        assert ms.batch_replica_clear(["task/k"], ms.get_hostname()) == ["task/k"]
        assert [d.segment_name for d in ms.get_replica_desc("task/k")] == [target]
        assert ms.get("task/k") == b"q" * 5000                         # read from the other LocalService
        tid, rc = ms.create_move_task("task/k", target, ms.get_hostname())
        assert rc == 0
        for _ in range(200):
            resp, _ = ms.query_task(tid)
            if resp.status in (TaskStatus.SUCCESS, TaskStatus.FAILED):
                break
            time.sleep(0.05)
        assert resp.status == TaskStatus.SUCCESS, resp.message
        assert [d.segment_name for d in ms.get_replica_desc("task/k")] == [ms.get_hostname()]
        assert ms.get("task/k") == b"q" * 5000
        assert ms.create_copy_task("task/k", ["nowhere"]) == ((0, 0), ErrorCode.INVALID_PARAMS)
    finally:
        local.stop()


# Last: it leaves the whole pool under read leases (batch_is_exist grants them) for the lease TTL.
def test_core_lease_vs_eviction(ms):
    # is_exist's read lease keeps the object through eviction until the get
    need_core("batch_exist_lease")
    keep = buf(b"K" * (1 << 20))
    assert ms.put_from("evict/keep", addr(keep), len(keep)) == 0
    assert ms.is_exist("evict/keep") == 1
    filler = buf(1 << 20)
    for i in range(3 * (SEG >> 20)):                      # three pools' worth: eviction must run
        ms.put_from(f"evict/fill/{i}", addr(filler), len(filler))
    assert sum(ms.batch_is_exist([f"evict/fill/{i}" for i in range(3 * (SEG >> 20))])) < 3 * (SEG >> 20)
    out = buf(1 << 20)
    assert ms.get_into("evict/keep", addr(out), len(out)) == len(keep) and out.raw == keep.raw
