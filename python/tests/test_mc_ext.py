"""The Mooncake-compatible core calls (_memcache module functions, mc_ext.c) against the real mmc-meta:
upsert atomicity under concurrent readers, forced and regex removes with counts, exist / key info
that grant a read lease (vs eviction and remove), and pins honoured by eviction."""
import threading

import numpy as np
import pytest

import memcache_hybrid as mc
from memcache_hybrid import _memcache as ext

MiB = 1 << 20


def fill(tag, n, size=MiB):
    """Puts n unpinned objects of size bytes (enough to evict the 64 MB pool several times over)."""
    blob = np.full(size, 7, np.uint8)
    for i in range(n):
        assert ext.put_ex(f"{tag}/{i}", blob) == 0, mc.get_last_err_msg()


def test_upsert_replaces_in_place(store):
    a, b = b"a" * 5000, b"B" * 300
    assert store.get("up/one") == b""
    assert ext.upsert("up/one", a) == 0               # absent: a put
    assert store.get("up/one") == a
    assert store.put("up/one", b) == 0 and store.get("up/one") == a   # a plain put still writes once
    assert ext.upsert("up/one", b) == 0               # present: replaced, size too
    assert store.get("up/one") == b
    assert store.get_key_info("up/one").size() == 300
    src = np.arange(1000, dtype=np.uint32)
    assert ext.upsert("up/addr", src.ctypes.data, src.nbytes) == 0
    out = np.zeros_like(src)
    assert store.get_into("up/addr", out) == 0 and (out == src).all()
    keys = [f"up/b{i}" for i in range(4)]
    assert ext.batch_upsert(keys, [b"1", b"2", b"3", b"4"]) == [0] * 4
    assert ext.batch_upsert(keys, [b"x" * 10] * 4, None, mc.ReplicateConfig(1, [-1])) == [0] * 4
    assert store.get_batch(keys) == [b"x" * 10] * 4
    assert ext.batch_upsert([], []) == []
    parts = [b"head-", bytearray(b"middle-"), np.frombuffer(b"tail", np.uint8)]
    assert ext.upsert_layers("up/parts", parts) == 0
    assert store.get("up/parts") == b"head-middle-tail"
    assert ext.upsert_layers("up/parts", [b"x" * 3, b"y" * 2]) == 0
    assert store.get("up/parts") == b"xxxyy"
    assert ext.put_layers_ex("up/parts2", [b"a", b"b"], None, None, True) == 0 and store.get("up/parts2") == b"ab"
    assert ext.upsert("", b"x") == mc.MMC_INVALID_PARAM
    with pytest.raises(TypeError):
        ext.upsert("up/one")


def test_upsert_readers_see_old_or_new_never_a_mix(store):
    """8 readers read the key while 2 writers upsert whole values of four fills and sizes: every read
    succeeds and is exactly one of the values (each value opens with its fill byte and length, so a read
    into a buffer larger than the value tells which one it got)."""
    def value(i):
        n = 256 * 1024 + 4096 * i
        return (bytes([i + 1]) + n.to_bytes(8, "little")).ljust(n, bytes([i + 1]))

    vals = [value(i) for i in range(4)]
    assert ext.upsert("up/race", vals[0]) == 0
    stop = threading.Event()
    bad, reads = [], [0]

    def reader():
        buf = bytearray(len(vals[3]) + 4096)
        while not stop.is_set():
            reads[0] += 1
            if reads[0] % 3 == 0:   # the store's get (query, then a read of the bytes read) too
                v = store.get("up/race")
                if v not in vals:
                    bad.append(("get", len(v), v[:1], v[-1:], mc.get_last_err_msg()))
                continue
            got = ext.get_into_n("up/race", buf)
            if got < 0:
                bad.append(("get_into_n", got, mc.get_last_err_msg()))
                continue
            i, n = buf[0] - 1, int.from_bytes(buf[1:9], "little")
            if not 0 <= i < 4 or n != len(vals[i]) or got != n or bytes(buf[:n]) != vals[i]:
                bad.append(("mixed", i, n, got))

    def writer(w):
        for i in range(60):
            rc = ext.upsert("up/race", vals[(i + w) % 4])
            if rc != 0:
                bad.append(("upsert", rc, mc.get_last_err_msg()))

    readers = [threading.Thread(target=reader) for _ in range(8)]
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not bad, bad[:5]
    assert reads[0] > 50
    assert store.get("up/race") in vals
    bufs = [bytearray(len(vals[3])), bytearray(10)]
    got = ext.batch_get_into_n(["up/race", "up/none"], bufs)
    assert got[0] in [len(v) for v in vals] and got[1] == mc.MMC_KEY_NOT_FOUND
    assert ext.get_into_n("up/race", bytearray(10)) == mc.MMC_BUFFER_TOO_SMALL


def test_remove_force_and_leases(store):
    assert store.put("rm/a", b"x" * 100) == 0
    assert ext.remove_ex("rm/none") == mc.MMC_KEY_NOT_FOUND
    assert ext.exist_lease("rm/a") == 1 and ext.exist_lease("rm/none") == 0
    assert ext.remove_ex("rm/a") == mc.MMC_LEASE_NOT_EXPIRED == -3104
    assert store.remove("rm/a") == mc.MMC_LEASE_NOT_EXPIRED   # the store's remove too: no force
    assert store.get("rm/a") == b"x" * 100
    assert ext.remove_ex("rm/a", force=True) == 0
    assert store.is_exist("rm/a") == 0
    assert store.put_batch(["rm/b1", "rm/b2"], [b"1", b"2"]) == 0
    assert ext.batch_exist_lease(["rm/b1", "rm/none"]) == [1, 0]
    assert ext.batch_remove_ex(["rm/b1", "rm/b2", "rm/none"]) == [mc.MMC_LEASE_NOT_EXPIRED, 0, mc.MMC_KEY_NOT_FOUND]
    assert ext.batch_remove_ex(["rm/b1"], force=True) == [0]
    assert store.put("rm/ki", b"abc") == 0
    ki = ext.key_info_lease("rm/ki")
    assert ki.size() == 3 and len(ki.loc_list()) == 1
    assert ext.remove_ex("rm/ki") == mc.MMC_LEASE_NOT_EXPIRED
    infos = ext.batch_key_info_lease(["rm/ki", "rm/none"])
    assert infos[0].size() == 3 and infos[1].size() == 0
    assert ext.batch_key_info_lease([]) == []


def test_remove_by_regex_counts(store):
    keys = [f"rx/{i}" for i in range(10)] + ["rx/10", "rx/x", "other/rx/1"]
    assert store.put_batch(keys, [b"v"] * len(keys)) == 0
    assert ext.exist_lease("rx/3") == 1
    assert ext.remove_by_regex("^rx/[0-9]+$") == 10          # rx/3 is leased: kept without force
    assert store.batch_is_exist(["rx/3", "rx/x", "other/rx/1", "rx/10"]) == [1, 1, 1, 0]
    assert ext.remove_by_regex("^rx/[0-9]+$", force=True) == 1
    assert ext.remove_by_regex("rx/") == 2                    # unanchored: rx/x and other/rx/1
    assert ext.remove_by_regex("^nothing$") == 0
    assert ext.remove_by_regex("(") == mc.MMC_INVALID_PARAM  # does not compile
    assert "regex" in mc.get_last_err_msg()


def test_query_lease_holds_off_eviction(store):
    """exist_lease then a pool's worth of puts: the leased object is still there for the get."""
    val = np.random.default_rng(3).integers(0, 255, MiB, dtype=np.uint8)
    assert ext.put_ex("ev/keep", val) == 0
    assert ext.exist_lease("ev/keep") == 1
    fill("ev/churn", 100)
    assert store.is_exist("ev/churn/0") == 0                # eviction did run
    out = np.zeros_like(val)
    assert store.get_into("ev/keep", out) == 0 and (out == val).all()


def test_pins_honoured_by_eviction(store):
    hard = [f"pin/hard{i}" for i in range(4)]
    soft = [f"pin/soft{i}" for i in range(4)]
    blob = np.full(MiB, 9, np.uint8)
    assert ext.batch_put_ex(hard, [blob] * 4, None, None, False, True) == [0] * 4
    assert ext.batch_put_ex(soft, [blob] * 4, soft_pin=True) == [0] * 4
    assert ext.put_ex("pin/plain", blob) == 0
    fill("pin/churn", 100)
    assert store.is_exist("pin/plain") == 0
    assert store.batch_is_exist(hard + soft) == [1] * 8
    assert store.get("pin/hard0") == blob.tobytes()


def test_remove_all_counts(store):
    assert ext.remove_all_ex(force=True) >= 0
    assert store.put_batch(["ra/1", "ra/2", "ra/3"], [b"1", b"2", b"3"]) == 0
    assert ext.exist_lease("ra/2") == 1
    assert ext.remove_all_ex() == 2
    assert store.is_exist("ra/2") == 1
    assert ext.remove_all_ex(force=True) == 1
    assert store.is_exist("ra/2") == 0
    assert ext.remove_all_ex() == 0
