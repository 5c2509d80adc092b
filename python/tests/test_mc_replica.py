"""Replica copy, move and clear through the _memcache module functions (what MooncakeDistributedStore's
create_copy_task / create_move_task / batch_replica_clear call): this process's LocalService and two
mmc-local daemons on the session's mmc-meta, bytes checked after every step, readers under a lease while
their replica is dropped, and 8 threads copying at once."""
import re
import signal
import threading

import pytest

import memcache_hybrid as mc
from memcache_hybrid import ReplicateConfig, _memcache as core

from conftest import Daemon, binary


def local_daemon(meta):
    d = Daemon([binary("mmc-local"), "--meta-url", meta.rpc_url, "--store-url", meta.store_url,
                "--dram-size", "32MB", "--max-dram-size", "64MB", "--world-size", "16"], "mmc-local ready")
    return d, int(re.search(r"rank (\d+)", d.ready).group(1))


@pytest.fixture(scope="module")
def two(store, meta):
    a, ra = local_daemon(meta)
    b, rb = local_daemon(meta)
    yield (a, ra), (b, rb)
    for d in (a, b):
        d.stop()


def value(n, seed):
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def test_copy_then_source_killed(store, meta):
    (a, ra), (b, rb) = local_daemon(meta), local_daemon(meta)
    try:
        v = value(3 << 20, 1)
        assert store.put("py/rep/copy", v, ReplicateConfig(1, [ra])) == 0
        assert store.get_key_info("py/rep/copy").loc_list() == [ra]
        assert core.replica_copy("py/rep/copy", [rb]) == 0
        assert sorted(store.get_key_info("py/rep/copy").loc_list()) == sorted([ra, rb])
        assert core.replica_copy("py/rep/copy", [rb]) == 0            # held already: skipped
        assert core.replica_copy("py/rep/copy", [999]) == mc.MMC_LINK_NOT_FOUND
        assert core.replica_copy("py/rep/absent", [rb]) == mc.MMC_KEY_NOT_FOUND
        a.stop(signal.SIGKILL)
        for _ in range(200):                                            # the MetaService notices the link drop
            if store.get_key_info("py/rep/copy").loc_list() == [rb]:
                break
            threading.Event().wait(0.05)
        assert store.get_key_info("py/rep/copy").loc_list() == [rb]
        assert store.get("py/rep/copy") == v                            # the copy's bytes, from b
        assert core.replica_copy("py/rep/copy", [ra]) == mc.MMC_LINK_NOT_FOUND   # the target is gone
    finally:
        a.stop()
        b.stop()


def test_move(store, two):
    (_, ra), (_, rb) = two
    v = value(1 << 20, 2)
    assert store.put("py/rep/move", v, ReplicateConfig(1, [ra])) == 0
    assert core.replica_move("py/rep/move", rb, ra) == mc.MMC_LINK_NOT_FOUND  # rb holds none
    assert core.replica_move("py/rep/move", ra, rb) == 0
    assert store.get_key_info("py/rep/move").loc_list() == [rb]
    assert store.get("py/rep/move") == v
    assert core.replica_move("py/rep/move", rb, rb) == mc.MMC_INVALID_PARAM
    with pytest.raises((TypeError, ValueError, OverflowError)):
        core.replica_move("py/rep/move", -1, rb)


def test_batch_replica_clear(store, two):
    (_, ra), (_, rb) = two
    me = store.get_local_service_id()
    keys = [f"py/rep/clear/{i}" for i in range(4)]
    for i, k in enumerate(keys):
        assert store.put(k, value(5000, i), ReplicateConfig(2, [ra, rb])) == 0
    assert core.batch_replica_clear(keys[:2], ra) == [0, 0]
    assert [store.get_key_info(k).loc_list() for k in keys[:2]] == [[rb], [rb]]
    assert store.get(keys[0]) == value(5000, 0)
    assert core.batch_replica_clear(keys[:1], ra) == [mc.MMC_LINK_NOT_FOUND]
    assert core.batch_replica_clear(keys[:1], rb) == [0]                # the last replica: the key goes
    assert store.is_exist(keys[0]) == 0
    assert core.batch_replica_clear(keys[2:] + ["py/rep/none"]) == [0, 0, mc.MMC_KEY_NOT_FOUND]
    assert store.batch_is_exist(keys[2:]) == [0, 0]
    assert core.batch_replica_clear([], me) == []
    with pytest.raises(TypeError):
        core.batch_replica_clear(5)


def test_clear_under_a_reader_lease(store, two):
    """A reader leased the key; its replica is cleared meanwhile: the bytes it copies are still the key's."""
    (_, ra), (_, rb) = two
    v = value(2 << 20, 9)
    assert store.put("py/rep/leased", v, ReplicateConfig(2, [ra, rb])) == 0
    assert store.batch_add_lease(["py/rep/leased"], 5000) == [0]
    ki = store.get_key_info("py/rep/leased")
    gva = ki.gva_list()[ki.loc_list().index(ra)]
    assert core.batch_replica_clear(["py/rep/leased"], ra) == [0]
    assert store.get_key_info("py/rep/leased").loc_list() == [rb]
    import numpy as np
    out = np.zeros(len(v), np.uint8)
    assert store.batch_copy([gva], [out], direction=mc.MmcDirect.COPY_G2H) == 0                          # the dropped replica, still intact
    assert out.tobytes() == v
    assert store.batch_remove_lease(["py/rep/leased"]) == 0
    assert store.get("py/rep/leased") == v


def test_copy_to_a_full_local_service(store, two):
    (_, ra), (_, rb) = two
    assert store.put("py/rep/fill", value(26 << 20, 3), ReplicateConfig(1, [rb])) == 0
    assert store.put("py/rep/big", value(8 << 20, 4), ReplicateConfig(1, [ra])) == 0
    assert core.replica_copy("py/rep/big", [rb]) == mc.MMC_NOT_ENOUGH_MEMORY
    assert store.get_key_info("py/rep/big").loc_list() == [ra]
    assert store.get("py/rep/big") == value(8 << 20, 4)
    assert store.remove_batch(["py/rep/fill", "py/rep/big"]) == [0, 0]


def test_eight_threads_copy(store, two):
    (_, ra), (_, rb) = two
    me = store.get_local_service_id()
    keys = [f"py/rep/thr/{i}" for i in range(32)]
    for i, k in enumerate(keys):
        assert store.put(k, value(64 << 10, i), ReplicateConfig(1, [me])) == 0
    errors = []

    def worker(t):
        for k in keys[t::8]:
            rc = core.replica_copy(k, [ra, rb])
            if rc != 0:
                errors.append((k, rc, mc.get_last_err_msg()))

    th = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    assert errors == []
    for i, k in enumerate(keys):
        assert sorted(store.get_key_info(k).loc_list()) == sorted([me, ra, rb])
        assert store.get(k) == value(64 << 10, i)
    assert core.batch_replica_clear(keys, -1) == [0] * len(keys)
