"""memfabric_hybrid against the real library: common calls, BM, SHM and the TransferEngine,
in this process and across processes."""
import threading

import numpy as np
import pytest

import memfabric_hybrid as mf
from memfabric_hybrid import bm, shm

from conftest import free_port, run_py, spawn_py


# ---------- common ----------

def test_common_calls():
    assert mf.initialize() == 0
    assert mf.initialize(1) == mf.SMEM_ERR_INVALID_PARAM
    assert "flags" in mf.get_last_err_msg()
    assert "flags" in mf.get_and_clear_last_err_msg()
    assert mf.get_last_err_msg() == ""
    assert mf.set_log_level(9) == mf.SMEM_ERR_INVALID_PARAM
    assert mf.set_log_level(3) == 0
    assert isinstance(mf.strerror(mf.SMEM_ERR_TIMEOUT), str) and mf.strerror(mf.SMEM_ERR_TIMEOUT)
    url = f"tcp://127.0.0.1:{free_port()}"
    assert mf.create_config_store(url) == 0
    assert mf.create_config_store(url) == mf.SMEM_ERR_DUPLICATED_OBJECT
    assert mf.destroy_config_store(url) == 0
    assert mf.destroy_config_store(url) == mf.SMEM_ERR_OBJECT_NOT_EXISTS
    assert mf.create_config_store("nonsense") < 0
    assert mf.get_last_err_msg() != ""
    with pytest.raises(TypeError):
        mf.create_config_store(5)
    with pytest.raises(ValueError):
        mf.create_config_store("tcp://127.0.0.1:1\0")
    with pytest.raises(TypeError):
        mf.set_log_level("debug")
    with pytest.raises(TypeError):
        mf.set_extern_logger(42)


def test_extern_logger_from_library_threads():
    seen = []
    main = threading.get_ident()
    lock = threading.Lock()

    def logger(level, msg):
        with lock:
            seen.append((level, msg, threading.get_ident()))

    assert mf.set_extern_logger(logger) == 0
    assert mf.set_log_level(0) == 0
    try:
        url = f"tcp://127.0.0.1:{free_port()}"
        assert mf.create_config_store(url) == 0
        te = mf.TransferEngine()  # connects to the store: its loop threads log
        assert te.initialize(url, "127.0.0.1:7001", "both", 0) == 0
        te.destroy()
        assert mf.destroy_config_store(url) == 0
    finally:
        mf.set_log_level(3)
        assert mf.set_extern_logger(None) == 0
    assert seen, "no log line reached the Python logger"
    assert all(isinstance(lv, int) and 0 <= lv <= 3 and isinstance(m, str) for lv, m, _ in seen)
    assert any(t != main for _, _, t in seen), "no line came from a library thread"
    assert any("listening" in m for _, m, _ in seen)


def test_logger_exception_and_exit_do_not_hang():
    # A raising logger is reported, not fatal; the interpreter exits cleanly with library threads
    # still logging (the hook is switched off at exit, before finalisation).
    p = run_py("""
        import memfabric_hybrid as mf
        from memfabric_hybrid import bm
        n = [0]
        def logger(level, msg):
            n[0] += 1
            if n[0] == 1:
                raise RuntimeError("logger failure on purpose")
        mf.set_extern_logger(logger)
        mf.set_log_level(0)
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        assert bm.initialize(f"tcp://127.0.0.1:{port}", 1, 0, bm.BmConfig()) == 0
        mem = bm.create(0, 4 << 20, 0, bm.BmDataOpType.SDMA)
        assert mem.join() == 0
        print("lines", n[0], flush=True)
        # no leave/destroy/uninit: exit with everything running
    """, timeout=60)
    assert "logger failure on purpose" in p.stderr
    assert int(p.stdout.split()[-1]) > 1


# ---------- BM, one process ----------

@pytest.fixture(scope="module")
def big():
    url = f"tcp://127.0.0.1:{free_port()}"
    cfg = bm.BmConfig(init_timeout=10, create_timeout=10)
    assert bm.initialize(url, 1, 0, cfg) == 0
    assert bm.initialize(url, 1, 0, cfg) == 0  # idempotent
    mem = bm.create(0, 16 << 20, 0, bm.BmDataOpType.SDMA, 0)
    assert mem.join() == 0
    yield mem
    mem.leave()
    mem.destroy()
    bm.uninitialize()


def test_bm_config_and_enums():
    c = bm.BmConfig()
    assert c.init_timeout == 120 and c.auto_ranking is True and c.rank_id == 65535
    with pytest.raises(TypeError):
        bm.BmConfig(no_such_field=1)
    assert bm.BmCopyType.AUTO == 9 and bm.BmMemType.HOST == 3 and bm.BmDataOpType.HOST_TCP == 4


def test_bm_create_errors(big):
    with pytest.raises(RuntimeError, match="already exists"):
        bm.create(0, 1 << 20, 0, bm.BmDataOpType.SDMA)
    with pytest.raises(ValueError):
        bm.create(1, -1, 0, bm.BmDataOpType.SDMA)
    with pytest.raises(TypeError):
        bm.create(1, "1MB", 0, bm.BmDataOpType.SDMA)


def test_bm_addresses(big):
    assert bm.get_rank_id() == 0
    assert big.local_mem_size(bm.BmMemType.HOST) == 16 << 20
    base = big.peer_rank_ptr(0, bm.BmMemType.HOST)
    assert base != 0
    assert big.get_rank_id_by_gva(base + 100) == 0
    assert big.get_rank_id_by_gva(8) == 0xFFFFFFFF
    with pytest.raises(ValueError):
        big.local_mem_size(7)


def test_bm_copy_buffers_and_addresses(big):
    g = big.peer_rank_ptr(0, bm.BmMemType.HOST)
    src = np.arange(1 << 16, dtype=np.uint8)
    assert big.copy_data(src, g, src.nbytes, bm.BmCopyType.H2G) == 0
    dst = bytearray(src.nbytes)
    assert big.copy_data(g, dst, len(dst), bm.BmCopyType.G2H) == 0
    assert bytes(dst) == src.tobytes()
    # addresses on both sides
    out = np.zeros(4096, dtype=np.uint8)
    assert big.copy_data(g, out.ctypes.data, 4096, bm.BmCopyType.AUTO) == 0
    assert (out == src[:4096]).all()
    # batch: three pieces to three places, then back
    pieces = [np.full(1000 + i, i + 1, dtype=np.uint8) for i in range(3)]
    gvas = [g + (1 << 20) * (i + 1) for i in range(3)]
    assert big.copy_data_batch(pieces, gvas, [p.nbytes for p in pieces], bm.BmCopyType.H2G) == 0
    back = [np.zeros(p.nbytes, dtype=np.uint8) for p in pieces]
    assert big.copy_data_batch(gvas, back, [p.nbytes for p in pieces], bm.BmCopyType.G2H) == 0
    assert all((a == b).all() for a, b in zip(pieces, back))
    # async + wait
    buf = bytearray(b"z" * 8192)
    assert big.copy_data(buf, g + (8 << 20), 8192, bm.BmCopyType.H2G, bm.ASYNC_COPY_FLAG) == 0
    assert big.wait() == 0
    chk = bytearray(8192)
    assert big.copy_data(g + (8 << 20), chk, 8192, bm.BmCopyType.G2H) == 0 and chk == buf
    # out of the window: an error code, no crash
    assert big.copy_data(src, g + (64 << 20), 4096, bm.BmCopyType.H2G) < 0
    assert mf.get_last_err_msg()


def test_bm_bad_input(big):
    g = big.peer_rank_ptr(0, bm.BmMemType.HOST)
    with pytest.raises(ValueError):  # size larger than the buffer
        big.copy_data(bytearray(10), g, 100, bm.BmCopyType.H2G)
    with pytest.raises(TypeError):  # destination not writable
        big.copy_data(g, b"readonly", 8, bm.BmCopyType.G2H)
    with pytest.raises(ValueError):
        big.copy_data(g, bytearray(8), -1, bm.BmCopyType.G2H)
    with pytest.raises(TypeError):
        big.copy_data("a", g, 1, bm.BmCopyType.H2G)
    with pytest.raises(ValueError):
        big.copy_data(g, bytearray(8), 8, 42)
    with pytest.raises(ValueError):  # non-contiguous
        big.copy_data(np.zeros((4, 4))[:, 1], g, 4, bm.BmCopyType.H2G)
    with pytest.raises(ValueError):
        big.copy_data_batch([bytearray(4)], [g, g], [4], bm.BmCopyType.H2G)


def test_bm_register(big):
    buf = np.zeros(1 << 20, dtype=np.uint8)
    assert big.register(buf.ctypes.data, buf.nbytes) == 0
    assert big.register(buf.ctypes.data, buf.nbytes) == 0  # idempotent
    assert big.unregister(buf.ctypes.data) == 0
    assert big.unregister(buf.ctypes.data) < 0
    assert big.register(buf) == 0 and big.unregister(buf) == 0


def test_bm_destroy_twice():
    p = run_py("""
        import socket, pytest
        from memfabric_hybrid import bm
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        assert bm.initialize(f"tcp://127.0.0.1:{port}", 1) == 0
        m = bm.create(3, 2 << 20, 0, bm.BmDataOpType.SDMA)
        assert m.join() == 0 and m.leave() == 0
        m.destroy(); m.destroy()
        assert m.destroyed
        for call in (lambda: m.join(), lambda: m.wait(), lambda: m.local_mem_size(3)):
            with pytest.raises(RuntimeError, match="closed"):
                call()
        bm.uninitialize(); bm.uninitialize()
        print("ok")
    """)
    assert p.stdout.strip() == "ok"


def test_bm_threads_copy_concurrently(big):
    g = big.peer_rank_ptr(0, bm.BmMemType.HOST)
    errors = []

    def worker(i):
        data = np.full(256 << 10, i, dtype=np.uint8)
        out = np.empty_like(data)
        for _ in range(20):
            if big.copy_data(data, g + i * (1 << 20), data.nbytes, bm.BmCopyType.H2G) != 0:
                errors.append(mf.get_last_err_msg())
            if big.copy_data(g + i * (1 << 20), out, out.nbytes, bm.BmCopyType.G2H) != 0 or not (out == i).all():
                errors.append(f"thread {i}: wrong bytes")
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors


# ---------- BM and SHM across processes ----------

BM_RANK = """
    import sys, time
    import numpy as np
    from memfabric_hybrid import bm
    url, world = sys.argv[1], int(sys.argv[2])
    assert bm.initialize(url, world, 0, bm.BmConfig(init_timeout=20, create_timeout=20)) == 0
    mem = bm.create(0, 4 << 20, 0, bm.BmDataOpType.SDMA)
    assert mem.join() == 0
    me = bm.get_rank_id()
    mine = np.full(4096, me + 1, dtype=np.uint8)
    assert mem.copy_data(mine, mem.peer_rank_ptr(me, bm.BmMemType.HOST), 4096, bm.BmCopyType.H2G) == 0
    for peer in range(world):
        out = np.zeros(4096, dtype=np.uint8)
        end = time.time() + 20
        while time.time() < end:
            # the peer may not have joined yet: an error code until it has
            rc = mem.copy_data(mem.peer_rank_ptr(peer, bm.BmMemType.HOST), out, 4096, bm.BmCopyType.G2H)
            if rc == 0 and (out == peer + 1).all():
                break
            time.sleep(0.02)
        assert (out == peer + 1).all(), f"rank {me}: peer {peer} slot not seen"
        assert mem.get_rank_id_by_gva(mem.peer_rank_ptr(peer, bm.BmMemType.HOST)) == peer
    print("rank", me, "ok", flush=True)
    time.sleep(1.0)  # peers still read our slot
    mem.leave(); mem.destroy(); bm.uninitialize()
"""


def test_bm_three_processes():
    import subprocess, sys, textwrap
    url = f"tcp://127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(BM_RANK), url, "3"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (o, e) in zip(procs, outs):
        assert p.returncode == 0, e[-2000:]
    assert sorted(o.split()[1] for o, _ in outs) == ["0", "1", "2"]


SHM_RANK = """
    import sys
    import numpy as np
    from memfabric_hybrid import shm
    url, rank = sys.argv[1], int(sys.argv[2])
    assert shm.initialize(url, 2, rank, 0, shm.ShmConfig(init_timeout=20, create_timeout=20)) == 0
    assert shm.query_support_data_operation() & shm.ShmDataOpType.MTE
    h = shm.create(0, 2, rank, 2 << 20)
    assert h.local_rank == rank and h.rank_size == 2 and h.gva != 0 and h.symmetric_size == 2 << 20
    assert h.set_context(b"ctx-%d" % rank) == 0
    assert h.barrier() == 0
    assert h.get_context(1 - rank) == b"ctx-%d" % (1 - rank)
    got = h.all_gather(b"r%d" % rank)
    assert got == b"r0r1", got
    assert isinstance(h.topology_can_reach(1 - rank), int)
    try:
        h.all_gather(b"")
        raise SystemExit("empty all_gather accepted")
    except ValueError:
        pass
    assert h.barrier() == 0
    assert h.destroy() == 0 and h.destroy() == 0
    shm.uninitialize()
    print("shm", rank, "ok")
"""


def test_shm_two_processes():
    import subprocess, sys, textwrap
    url = f"tcp://127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(SHM_RANK), url, str(r)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    for p in procs:
        o, e = p.communicate(timeout=60)
        assert p.returncode == 0, e[-2000:]
        assert o.startswith("shm")


# ---------- TransferEngine across processes ----------

RECEIVER = """
    import sys
    import numpy as np
    import memfabric_hybrid as mf
    url = sys.stdin.readline().strip()
    te = mf.TransferEngine()
    assert te.initialize(url, "127.0.0.1:9100", mf.TransferRole.BOTH, 0) == 0, mf.get_last_err_msg()
    region = np.zeros(1 << 20, dtype=np.uint8)
    region[:4096] = 7
    assert te.register_memory(region.ctypes.data, region.nbytes) == 0
    print(region.ctypes.data, flush=True)
    sys.stdin.readline()                       # the sender is done
    print(int(region[4096:8192].sum()), int(region[65536:65536 + 300].sum()), flush=True)
    assert te.unregister_memory(region.ctypes.data) == 0
    sys.stdin.readline()
    te.destroy()
"""


def test_transfer_engine_two_processes():
    url = f"tcp://127.0.0.1:{free_port()}"
    assert mf.create_config_store(url) == 0
    rx = spawn_py(RECEIVER)
    try:
        rx.stdin.write(url + "\n")
        rx.stdin.flush()
        line = rx.stdout.readline()
        assert line.strip().isdigit(), rx.stderr.read()
        remote = int(line)
        te = mf.TransferEngine()
        assert te.initialize(url, "127.0.0.1:9101", "sender") == 0, mf.get_last_err_msg()
        assert te.session_id == "127.0.0.1:9101"
        buf = np.zeros(4096, dtype=np.uint8)
        assert te.transfer_sync_read("127.0.0.1:9100", buf, remote, 4096) == 0
        assert (buf == 7).all()
        one = np.ones(4096, dtype=np.uint8)
        assert te.transfer_sync_write("127.0.0.1:9100", one, remote + 4096, 4096) == 0
        pieces = [np.full(100, 1, dtype=np.uint8) for _ in range(3)]
        assert te.batch_transfer_sync_write("127.0.0.1:9100", pieces, [remote + 65536 + 100 * i for i in range(3)],
                                            [100] * 3) == 0
        back = [np.zeros(100, dtype=np.uint8) for _ in range(3)]
        assert te.batch_transfer_sync_read("127.0.0.1:9100", back, [remote + 65536 + 100 * i for i in range(3)],
                                           [100] * 3) == 0
        assert all((b == 1).all() for b in back)
        # async forms + wait
        a = np.zeros(4096, dtype=np.uint8)
        assert te.transfer_async_read_submit("127.0.0.1:9100", a.ctypes.data, remote, 4096) == 0
        assert te.batch_transfer_async_read_submit("127.0.0.1:9100", [a[:10]], [remote], [10]) == 0
        assert te.transfer_wait(10000) == 0 and (a == 7).all()
        assert te.transfer_async_write_submit("127.0.0.1:9100", one, remote + 4096, 4096) == 0
        assert te.batch_transfer_async_write_submit("127.0.0.1:9100", [one], [remote + 4096], [4096]) == 0
        assert te.transfer_wait() == 0
        # errors are codes; bad input raises
        assert te.transfer_sync_read("127.0.0.1:9100", buf, remote + (2 << 20), 4096) < 0
        assert te.transfer_sync_read("nobody:1", buf, remote, 4096) < 0
        with pytest.raises(ValueError):
            te.transfer_sync_read("127.0.0.1:9100", buf, remote, 8192)  # larger than the local buffer
        with pytest.raises(TypeError):
            te.transfer_sync_read("127.0.0.1:9100", b"ro", remote, 2)  # read into bytes
        with pytest.raises(ValueError):
            te.batch_transfer_sync_write("127.0.0.1:9100", [one], [remote, remote], [1])
        rx.stdin.write("done\n")
        rx.stdin.flush()
        assert rx.stdout.readline().split() == ["4096", "300"]
        rx.stdin.write("exit\n")
        rx.stdin.flush()
        assert rx.wait(timeout=30) == 0, rx.stderr.read()
        te.destroy()
        te.destroy()
        with pytest.raises(RuntimeError):
            te.transfer_wait()
        local = np.zeros(16, dtype=np.uint8)
        fresh = mf.TransferEngine()
        with pytest.raises(RuntimeError, match="not initialised"):
            fresh.register_memory(local)
    finally:
        if rx.poll() is None:
            rx.kill()
        mf.destroy_config_store(url)


def _status_list(header, macro):
    """(NAME, value) of every X(NAME, value, "...") entry of the list macro in a public header."""
    import os
    import re
    root = os.environ.get("SMEM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    text = open(os.path.join(root, "include", header)).read()
    body = text[text.index("#define " + macro):]
    body = body[:body.index("\n\n")]
    return [(n, int(v)) for n, v in re.findall(r"X\((\w+),\s*(-?\d+),", body)]


def test_every_status_code_is_a_constant():
    codes = _status_list("smem/host/smem_status.h", "SMEM_STATUS_LIST")
    assert len(codes) >= 25
    assert mf.SMEM_SUCCESS == 0
    for name, value in codes:
        assert getattr(mf, "SMEM_ERR_" + name) == value, name


def test_every_memcache_status_code_is_a_constant():
    import memcache_hybrid as mc
    codes = _status_list("memcache/mmc_def.h", "MMC_STATUS_LIST")
    assert ("LEASE_LOST", -3204) in codes
    for name, value in codes:
        assert getattr(mc, "MMC_" + name) == value, name
