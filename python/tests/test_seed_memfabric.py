"""memfabric_hybrid called the seed's way: its argument order, keywords, defaults and return shapes,
as the seed's examples and tests call it (their Ascend-only parts, torch_npu tensors and device
memory, replaced by host memory), against the real library, config stores and processes."""
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import memfabric_hybrid as mf
from memfabric_hybrid import bm, shm

from conftest import free_port, run_py

SOURCE_DIR = os.environ.get("SMEM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def run_ranks(code, nranks, *args, timeout=90):
    """code in nranks fresh interpreters, argv: rank, then args; every one must exit 0."""
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(r), *map(str, args)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(nranks)]
    outs = []
    for r, p in enumerate(procs):
        try:
            o, e = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, f"rank {r} failed ({p.returncode}):\n{o[-2000:]}\n{e[-3000:]}"
        outs.append(o)
    return outs


# ---------- module level ----------

def test_module_calls_with_the_seeds_keywords():
    assert mf.initialize(flags=0) == 0
    assert mf.set_log_level(level=3) == 0
    url = f"tcp://127.0.0.1:{free_port()}"
    assert mf.set_conf_store_tls(enable=False, tls_info="") == 0
    assert mf.create_config_store(store_url=url) == 0
    assert mf.create_config_store(url) == mf.SMEM_ERR_DUPLICATED_OBJECT
    assert mf.destroy_config_store(store_url=url) == 0
    for name in ("TransferEngine", "TransferOpcode", "create_config_store", "bm", "shm", "initialize",
                 "uninitialize", "set_log_level", "set_extern_logger", "get_last_err_msg", "set_conf_store_tls",
                 "set_conf_store_tls_key", "get_and_clear_last_err_msg", "get_include_path", "get_lib_path"):
        assert name in mf.__all__ and hasattr(mf, name), name


def test_include_and_lib_paths_build_a_c_program(tmp_path):
    inc, lib = mf.get_include_path(), mf.get_lib_path()
    assert os.path.isfile(os.path.join(inc, "smem", "host", "smem.h")), inc
    assert os.path.isfile(os.path.join(lib, "libsmem.so")), lib
    src = tmp_path / "t.c"
    src.write_text('#include "smem/host/smem.h"\n#include <stdio.h>\n'
                   'int main(void) { int rc = smem_init(0); printf("%d\\n", rc); smem_uninit(); return rc; }\n')
    exe = tmp_path / "t"
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=c11", f"-I{inc}", str(src), f"-L{lib}", "-lsmem", f"-Wl,-rpath,{lib}", "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True, timeout=30).stdout.strip() == "0"


def test_include_and_lib_paths_of_the_installed_package(tmp_path):
    build = os.environ.get("SMEM_BUILD_DIR")
    if not build:
        pytest.fail("SMEM_BUILD_DIR not set")
    subprocess.run(["cmake", "--install", build, "--component", "python", "--prefix", str(tmp_path / "prefix")],
                   check=True, capture_output=True, text=True,
                   env=dict(os.environ, DESTDIR=""))
    found = [r for r, dirs, _ in os.walk(tmp_path / "prefix") if "memfabric_hybrid" in dirs]
    assert found, "memfabric_hybrid was not installed"
    site = found[0]
    # from tmp_path: python -c puts the working directory first on sys.path
    p = subprocess.run([sys.executable, "-c", "import memfabric_hybrid as mf; print(mf.__file__); "
                        "print(mf.get_include_path()); print(mf.get_lib_path())"], capture_output=True, text=True,
                       cwd=tmp_path, env=dict(os.environ, PYTHONPATH=site), timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    pkg, inc, lib = p.stdout.split()
    pkg_dir = os.path.dirname(pkg)
    assert pkg_dir.startswith(str(tmp_path)), pkg
    assert inc == os.path.join(pkg_dir, "include") and os.path.isfile(os.path.join(inc, "smem", "host", "smem.h"))
    assert lib == os.path.join(pkg_dir, "lib") and os.path.isfile(os.path.join(lib, "libsmem.so"))


def test_set_conf_store_tls_key_with_a_python_decrypt_function(tmp_path):
    certs = tmp_path / "certs"
    subprocess.run(["sh", os.path.join(SOURCE_DIR, "scripts", "gen-test-certs.sh"), str(certs)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(certs / "server.key"), "-aes256", "-passout", "pass:server-secret",
                    "-out", str(certs / "server-enc.key")], check=True, capture_output=True)
    # Each case in its own process: the TLS settings are process-wide.
    code = """
        import sys, memfabric_hybrid as mf
        certs, port, mode = sys.argv[1], sys.argv[2], sys.argv[3]
        info = f"tlsCaPath:{certs}/ca.pem;tlsCert:{certs}/server.pem"
        assert mf.set_conf_store_tls(True, info) == 0
        pem = open(f"{certs}/server-enc.key").read()
        calls = []
        def undo(cipher):              # the "encrypted" password is the plain one reversed
            calls.append(cipher)
            if mode == "raise":
                raise ValueError("no key for you")
            return cipher[::-1] if mode == "good" else "wrong"
        assert mf.set_conf_store_tls_key(tls_pk=pem, tls_pk_pw="terces-revres", py_decrypt_func=undo) == 0
        rc = mf.create_config_store(f"tcp://127.0.0.1:{port}")
        print(rc, calls)
    """
    for mode in ("good", "bad", "raise"):
        p = run_py(code, args=(certs, free_port(), mode))
        rc, calls = p.stdout.split(" ", 1)
        assert "terces-revres" in calls, (mode, p.stdout, p.stderr[-2000:])
        if mode == "good":
            assert int(rc) == 0, p.stderr[-2000:]
        else:
            assert int(rc) < 0, (mode, p.stdout)
        if mode == "raise":
            assert "no key for you" in p.stderr
    with pytest.raises(TypeError):
        mf.set_conf_store_tls_key("pem", "pw", 42)


# ---------- BM ----------

# examples/memory_pool/01_basic/01_single_device_dram_pool.py as the seed ships it, with numpy arrays for
# its torch CPU tensors and HOST_TCP for DEVICE_RDMA (the device transport needs Ascend).
SEED_DRAM_POOL = """
    import sys
    import numpy as np
    import memfabric_hybrid as mf
    from memfabric_hybrid import bm

    ONE_MIB = 1 << 20
    COPY_BYTES = (4 * 1024, 64 * 1024, 1024 * 1024)
    STORE_URL = f"tcp://127.0.0.1:{sys.argv[2]}"
    WORLD_SIZE = 1
    DEVICE_ID = 0

    mf.set_log_level(1)
    assert mf.initialize() == 0, "mf.initialize failed"
    bm_inited = False
    try:
        cfg = bm.BmConfig()
        assert bm.initialize(STORE_URL, WORLD_SIZE, DEVICE_ID, cfg) == 0, "bm.initialize failed"
        bm_inited = True
        handle = bm.create2(id=0, local_dram_size=8 * ONE_MIB, max_dram_size=8 * ONE_MIB,
                            data_op_type=bm.BmDataOpType.HOST_TCP)
        assert handle.join() == 0, "join failed"
        host_gva = handle.peer_rank_ptr(0, bm.BmMemType.HOST)
        assert host_gva != 0, "peer_rank_ptr(HOST) returned 0"
        for n in COPY_BYTES:
            src = np.arange(n // 4, dtype=np.int32)
            dst = np.empty(n // 4, dtype=np.int32)
            assert handle.copy_data(src.ctypes.data, host_gva, n, bm.BmCopyType.H2G, 0) == 0, "copy_data H2G failed"
            assert handle.copy_data(host_gva, dst.ctypes.data, n, bm.BmCopyType.G2H, 0) == 0, "copy_data G2H failed"
            assert (dst == src).all(), "copy round-trip mismatch"
        assert handle.leave() == 0, "leave failed"
        assert mf.get_last_err_msg() == "", mf.get_last_err_msg()
        handle.destroy()
    finally:
        if bm_inited:
            bm.uninitialize(0)
        mf.uninitialize()
    print("01_single_device_dram_pool ok")
"""


def test_seed_example_single_device_dram_pool():
    out = run_ranks(SEED_DRAM_POOL, 1, free_port())
    assert out[0].strip().endswith("01_single_device_dram_pool ok")


def test_bm_seed_keywords_defaults_and_release_by_del():
    p = run_py("""
        import socket, warnings, pytest
        import numpy as np
        import memfabric_hybrid as mf
        from memfabric_hybrid import bm
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        assert bm.bm_rank_id() == 0xFFFFFFFF
        cfg = bm.BmConfig()
        cfg.operation_timeout = 30            # the seed's names, the same fields as ours
        cfg.start_store = True
        cfg.start_store_only = False
        cfg.auto_ranking = False
        cfg.rank_id = 0
        cfg.set_nic("tcp://127.0.0.1:0")
        assert (cfg.control_operation_timeout, cfg.start_config_store_server, cfg.hcom_url) == (30, True,
                                                                                              "tcp://127.0.0.1:0")
        assert bm.initialize(store_url=f"tcp://127.0.0.1:{port}", world_size=1, device_id=0, config=cfg) == 0
        assert bm.bm_rank_id() == 0 and bm.get_rank_id() == 0
        mem = bm.create(id=0, local_dram_size=8 << 20)        # local_hbm_size=0, SDMA, flags=0 by default
        assert mem.join(flags=0) == 0
        # mem_type defaults to DEVICE: there is no device pool here, so 0 (as the seed returns for none)
        assert mem.local_mem_size() == 0 and mem.peer_rank_ptr(peer_rank=0) == 0
        assert mem.local_mem_size(mem_type=bm.BmMemType.HOST) == 8 << 20
        g = mem.peer_rank_ptr(peer_rank=0, mem_type=bm.BmMemType.HOST)
        assert g != 0 and mem.get_rank_id_by_gva(gva=g + 5) == 0
        # gva_to_va: this rank's slot is mapped at its GVA here; outside it, or device memory: 0
        va = mem.gva_to_va(g + 64)
        assert va == g + 64 and mem.gva_to_va(gva=g, mem_type=bm.BmMemType.LOCAL_HOST) == g
        assert mem.gva_to_va(g + (8 << 20)) == 0 and mem.gva_to_va(g, bm.BmMemType.LOCAL_DEVICE) == 0
        import ctypes
        ctypes.memmove(va, b"via the va", 10)
        probe = bytearray(10)
        assert mem.copy_data(g + 64, probe, 10, bm.BmCopyType.G2H) == 0 and bytes(probe) == b"via the va"
        src = np.arange(1 << 16, dtype=np.uint8)
        out = np.zeros_like(src)
        assert mem.copy_data(src_ptr=src.ctypes.data, dst_ptr=g, size=src.nbytes, type=bm.BmCopyType.H2G) == 0
        assert mem.copy_data(src_ptr=g, dst_ptr=out.ctypes.data, size=out.nbytes, type=bm.BmCopyType.G2H,
                             flags=0, stream=0) == 0
        assert (out == src).all()
        # copy_data_batch(src_addrs, dst_addrs, sizes, count, type, flags)
        parts = [np.full(1000, i + 1, dtype=np.uint8) for i in range(3)]
        gvas = [g + (1 << 20) * (i + 1) for i in range(3)]
        assert mem.copy_data_batch([p.ctypes.data for p in parts], gvas, [1000] * 3, 3, bm.BmCopyType.H2G, 0) == 0
        back = [np.zeros(1000, dtype=np.uint8) for _ in range(3)]
        assert mem.copy_data_batch(src_addrs=gvas, dst_addrs=[b.ctypes.data for b in back], sizes=[1000] * 3,
                                   count=3, type=bm.BmCopyType.G2H, flags=0, stream=0) == 0
        assert all((a == b).all() for a, b in zip(parts, back))
        # a count that does not match the lists is the seed's status, not an exception
        assert mem.copy_data_batch(gvas, [b.ctypes.data for b in back], [1000] * 3, 2, bm.BmCopyType.G2H, 0) \\
            == mf.SMEM_ERR_INVALID_PARAM
        assert mem.copy_data_batch(gvas, [b.ctypes.data for b in back], [1000] * 3, 0, bm.BmCopyType.G2H, 0) \\
            == mf.SMEM_ERR_INVALID_PARAM
        # an ACL stream is Ascend's: refused with a message that says so
        with pytest.raises(ValueError, match="Ascend"):
            mem.copy_data(src.ctypes.data, g, 16, bm.BmCopyType.H2G, 0, 0x1234)
        assert mem.register(addr=src.ctypes.data, size=src.nbytes) == 0
        assert mem.unregister(addr=src.ctypes.data) == 0
        assert mem.wait() == 0
        assert type(mem._native_handle).__name__ == "PyCapsule"
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert mem.set_group_event_handler(lambda rank, event: None) is None
        assert w and issubclass(w[0].category, DeprecationWarning)
        assert mem.leave(flags=0) == 0
        # released by del, as the seed's destructor does: the id is free again
        del mem
        mem = bm.create(0, 8 << 20, 0, bm.BmDataOpType.SDMA, 0)
        assert mem.join() == 0
        # create2 with the seed's keywords; shm_fd backs the DRAM with a memfd
        import os
        fd = os.memfd_create("bm", 0)
        os.ftruncate(fd, 4 << 20)
        m2 = bm.create2(id=1, local_dram_size=4 << 20, max_dram_size=4 << 20, data_op_type=bm.BmDataOpType.HOST_SHM,
                        enable_56bits_gva=False, flags=0, shm_fd=fd, tag="", tag_op_info="")
        assert m2.join() == 0
        g2 = m2.peer_rank_ptr(0, bm.BmMemType.HOST)
        os.pwrite(fd, b"through the memfd", 0)
        got = bytearray(17)
        assert m2.copy_data(g2, got, 17, bm.BmCopyType.G2H) == 0 and bytes(got) == b"through the memfd"
        with pytest.raises(ValueError):
            bm.create2(2, 4 << 20, 4 << 20, tag="x" * 40)
        with pytest.raises(RuntimeError):
            bm.create2(0, 4 << 20, 4 << 20)     # id 0 is taken
        bm.uninitialize(flags=0)                 # destroys both BMs in C: their objects are closed
        assert mem.destroyed and m2.destroyed
        with pytest.raises(RuntimeError, match="closed"):
            mem.join()
        # a new pool with the same id; dropping the old object must not touch the new BM
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        assert bm.initialize(f"tcp://127.0.0.1:{port}", 1) == 0
        fresh = bm.create(0, 4 << 20)
        del mem, m2
        assert fresh.join() == 0 and fresh.local_mem_size(bm.BmMemType.HOST) == 4 << 20
        bm.uninitialize()
        print("ok")
    """)
    assert p.stdout.strip().endswith("ok")


def test_bm_config_seed_fields_reach_the_library():
    # operation_timeout is the control-plane timeout: 0 is outside its range, so init refuses it.
    p = run_py("""
        import socket
        import memfabric_hybrid as mf
        from memfabric_hybrid import bm
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        cfg = bm.BmConfig()
        cfg.operation_timeout = 0
        print(bm.initialize(f"tcp://127.0.0.1:{port}", 1, 0, cfg), mf.get_last_err_msg())
        cfg.operation_timeout = 5
        cfg.rank_id = -1                      # the seed's examples: "no rank" with auto ranking
        cfg.auto_ranking = True
        print(bm.initialize(f"tcp://127.0.0.1:{port}", 1, 0, cfg), cfg.rank_id)
    """)
    first, second = p.stdout.splitlines()
    assert int(first.split()[0]) == mf.SMEM_ERR_INVALID_PARAM and "controlOperationTimeout" in first
    assert second.split() == ["0", "65535"]


def test_bm_config_set_nic_is_the_data_plane_address():
    nic_port = free_port()
    p = run_py("""
        import socket, sys
        from memfabric_hybrid import bm
        store_port, nic_port = sys.argv[1], int(sys.argv[2])
        cfg = bm.BmConfig()
        cfg.set_nic(f"tcp://127.0.0.1:{nic_port}")
        assert bm.initialize(f"tcp://127.0.0.1:{store_port}", 1, 0, cfg) == 0
        mem = bm.create(0, 4 << 20, data_op_type=bm.BmDataOpType.HOST_TCP)
        assert mem.join() == 0
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", nic_port))
            print("free")
        except OSError:
            print("taken")                   # the BM's data plane listens there
        mem.destroy(); bm.uninitialize()
    """, args=(free_port(), nic_port))
    assert p.stdout.strip() == "taken"


# The BM part of example/bm/BmPython/smem_bm_example.py with host memory for its NPU tensors: every rank
# writes its pattern into the next rank's slot, a barrier, then checks what the previous rank wrote.
SEED_BM_EXAMPLE = """
    import sys
    import numpy as np
    import memfabric_hybrid as mf
    from memfabric_hybrid import bm, shm

    COPY_SIZE = 4096
    GVA_SIZE = 4 << 20

    def generate_host_tensor(seed):
        count = COPY_SIZE // 4
        t = np.empty([count], dtype=np.int32)
        base = seed
        for i in range(count):
            base = (base * 23 + 17) % 32767
            t[i] = -base if (i + seed) % 3 == 0 else base
        return t

    rank_id, rank_size, url = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    auto_ranking = sys.argv[4] == "1"
    assert mf.initialize() == 0
    config = bm.BmConfig()
    config.auto_ranking = auto_ranking
    config.rank_id = rank_id if not auto_ranking else -1
    config.init_timeout = config.create_timeout = config.operation_timeout = 30
    if len(sys.argv) > 5:
        config.set_nic(sys.argv[5])       # as the seed's examples: the same NIC URL for every rank of the host
    assert bm.initialize(store_url=url, world_size=rank_size, device_id=0, config=config) == 0
    config = shm.ShmConfig()
    config.start_store = not auto_ranking
    config.init_timeout = config.create_timeout = config.operation_timeout = 30
    assert shm.initialize(store_url=url, world_size=rank_size, rank_id=rank_id, device_id=0, config=config) == 0

    shm_handle = shm.create(id=0, rank_size=rank_size, rank_id=rank_id, local_mem_size=2 << 20)
    bm_handle = bm.create(id=0, local_dram_size=GVA_SIZE, local_hbm_size=0)
    assert bm_handle.join() == 0
    me = bm.bm_rank_id() if auto_ranking else rank_id
    shm_handle.barrier()
    remote = bm_handle.peer_rank_ptr(peer_rank=((me + 1) % rank_size), mem_type=bm.BmMemType.HOST)
    cpu_src_tensor = generate_host_tensor(me)
    assert bm_handle.copy_data(src_ptr=cpu_src_tensor.ctypes.data, dst_ptr=remote, size=COPY_SIZE,
                               type=bm.BmCopyType.H2G) == 0
    shm_handle.barrier()
    address = bm_handle.peer_rank_ptr(me, bm.BmMemType.HOST)
    cpu_dst_tensor = generate_host_tensor((me + rank_size - 1) % rank_size)
    assert bm_handle.copy_data(src_ptr=address, dst_ptr=cpu_src_tensor.ctypes.data, size=COPY_SIZE,
                               type=bm.BmCopyType.G2H) == 0
    assert (cpu_src_tensor == cpu_dst_tensor).all(), f"check G2H data failed for rank: {me}"
    del bm_handle
    shm_handle.barrier()
    print("rank", me, "ok", flush=True)
"""


@pytest.mark.parametrize("auto_ranking,shared_nic", [("0", False), ("1", False), ("0", True)])
def test_seed_bm_example_three_ranks(auto_ranking, shared_nic):
    url = f"tcp://127.0.0.1:{free_port()}"
    if auto_ranking == "1":
        # the example starts no store when ranks are automatic: one runs in this process
        assert mf.create_config_store(url) == 0
    # shared_nic: every rank gets the same set_nic URL (its port is where the ranks' data servers start)
    nic = (f"tcp://127.0.0.1:{free_port()}",) if shared_nic else ()
    try:
        outs = run_ranks(SEED_BM_EXAMPLE, 3, 3, url, auto_ranking, *nic)
        assert sorted(o.split()[1] for o in outs) == ["0", "1", "2"]
    finally:
        if auto_ranking == "1":
            mf.destroy_config_store(url)


# ---------- SHM ----------

SHM_SEED = """
    import sys
    import memfabric_hybrid as mf
    from memfabric_hybrid import shm
    rank, url = int(sys.argv[1]), sys.argv[2]
    cfg = shm.ShmConfig()
    assert (cfg.init_timeout, cfg.create_timeout, cfg.operation_timeout, cfg.start_store, cfg.flags) == \\
        (120, 120, 120, True, 0)
    cfg.init_timeout = cfg.create_timeout = cfg.operation_timeout = 20
    assert cfg.control_operation_timeout == 20        # our earlier name, the same field
    assert shm.initialize(store_url=url, world_size=2, rank_id=rank, device_id=0, config=cfg) == 0
    h = shm.create(id=0, rank_size=2, rank_id=rank, local_mem_size=2 << 20, data_op_type=shm.ShmDataOpType.MTE,
                   flags=0)
    assert h.local_rank == rank and h.rank_size == 2 and h.gva != 0
    assert h.query_support_data_operation() & shm.ShmDataOpType.MTE
    assert h.set_context(context=b"ctx-%d" % rank) == 0
    assert h.barrier() == 0
    assert h.all_gather(local_data=b"r%d" % rank) == b"r0r1"
    # the seed's shape: (remote_rank, reach_info) -> status
    assert h.topology_can_reach(remote_rank=1 - rank, reach_info=0) == 0
    assert h.topology_can_reach(5, 0) == mf.SMEM_ERR_INVALID_PARAM
    assert h.topology_can_reach(1 - rank) & shm.ShmDataOpType.MTE     # ours: the mask
    assert h.barrier() == 0
    # released by del: the id can be created again (collectively)
    del h
    h = shm.create(0, 2, rank, 2 << 20)
    assert h.barrier() == 0
    assert h.destroy(flags=0) == 0 and h.destroy() == 0
    kept = shm.create(1, 2, rank, 2 << 20)
    shm.uninitialize(flags=0)                    # destroys heap 1 in C: its object is closed
    try:
        kept.barrier()
        raise SystemExit("a heap destroyed by uninitialize still answered")
    except RuntimeError as e:
        assert "closed" in str(e)
    assert kept.destroy() == 0
    del kept
    print("shm", rank, "ok")
"""


def test_shm_seed_shapes_two_processes():
    url = f"tcp://127.0.0.1:{free_port()}"
    outs = run_ranks(SHM_SEED, 2, url)
    assert [o.split()[:3] for o in outs] == [["shm", "0", "ok"], ["shm", "1", "ok"]]


def test_shm_create_names():
    with pytest.raises(TypeError, match="local_mem_size"):
        shm.create(0, 1, 0)
    with pytest.raises(TypeError):
        shm.create(0, 1, 0, local_mem_size=2 << 20, symmetric_size=2 << 20)
    with pytest.raises(TypeError):
        shm.ShmConfig(no_such_field=1)
    assert shm.ShmConfig(start_config_store_server=False).start_store is False


# ---------- TransferEngine ----------

def test_transfer_enums():
    assert mf.TransferEngine.TransferOpcode is mf.TransferOpcode
    assert mf.TransferOpcode.Read == 0 and mf.TransferOpcode.Write == 1 and mf.TransferOpcode.READ == 0
    assert mf.TransferEngine.TransDataOpType.SDMA == 1 and mf.TransferEngine.TransDataOpType.DEVICE_RDMA == 8


# examples/transfer/perf_python/transfer_performance.py's flow with host buffers for its NPU tensors:
# rank 0 (Prefill) starts the store, both exchange addresses through SHM, Decode registers its memory,
# Prefill writes into it (sync, batch, and submitted on a stream), then both clean up as the example does.
TRANS_SEED = """
    import socket, sys, time
    import numpy as np
    import pytest
    import memfabric_hybrid as mf
    from memfabric_hybrid import TransferEngine, create_config_store, set_log_level, shm, initialize, uninitialize
    rank_id, store_url = int(sys.argv[1]), sys.argv[2]
    assert initialize(0) == 0
    set_log_level(2)
    if rank_id == 0:
        unique_id, role = "127.0.0.1:10000", "Prefill"
        assert create_config_store(store_url) == 0
    else:
        unique_id, role = "127.0.0.1:10001", "Decode"
        time.sleep(0.5)
    engine = TransferEngine()
    port = engine.get_rpc_port()
    assert 15000 <= port <= 25000
    s = socket.socket()
    with pytest.raises(OSError):           # the engine holds the port
        s.bind(("0.0.0.0", port))
    s.close()
    data_op_type = TransferEngine.TransDataOpType.SDMA
    assert engine.initialize(store_url, unique_id, role, 0, data_op_type) == 0, mf.get_last_err_msg()
    size = 1 << 20
    buf = np.zeros(size, dtype=np.uint8)
    addr = buf.ctypes.data
    shm_config = shm.ShmConfig()
    shm_config.start_store = False
    assert shm.initialize(store_url, 2, rank_id, 0, shm_config) == 0
    shm_handle = shm.create(0, 2, rank_id, 2 << 20, shm.ShmDataOpType.MTE, 0)
    shm_handle.barrier()
    gathered = shm_handle.all_gather(addr.to_bytes(8, byteorder="little", signed=False))
    peer_addr = int.from_bytes(gathered[8:16] if rank_id == 0 else gathered[0:8], byteorder="little")
    # both register, as the seed's example does (a Prefill engine's memory is tracked as its own, not exposed)
    assert engine.register_memory(buffer_addr=addr, capacity=size) == 0
    shm_handle.barrier()
    if rank_id == 0:
        dst = "127.0.0.1:10001"
        buf[:4096] = 7
        assert engine.transfer_sync_write(dest_session=dst, buffer=addr, peer_buffer=peer_addr, length=4096) == 0
        buf[4096:8192] = 8
        assert engine.batch_transfer_sync_write(dst, [addr + 4096 + 1024 * k for k in range(4)],
                                                [peer_addr + 4096 + 1024 * k for k in range(4)], [1024] * 4) == 0
        back = np.zeros(8192, dtype=np.uint8)
        assert engine.transfer_sync_read(dst, back.ctypes.data, peer_addr, 8192) == 0
        assert (back[:4096] == 7).all() and (back[4096:] == 8).all()
        # *_submit(..., stream): a stream of ours, then completed with transfer_wait(stream=...)
        st = engine.create_stream()
        buf[8192:12288] = 9
        assert engine.transfer_async_write_submit(dst, addr + 8192, peer_addr + 8192, 4096, st) == 0
        assert engine.transfer_wait(stream=st) == 0
        got = np.zeros(4096, dtype=np.uint8)
        assert engine.transfer_async_read_submit(dest_session=dst, buffer=got.ctypes.data,
                                                 peer_buffer=peer_addr + 8192, length=4096, stream=0) == 0
        assert engine.transfer_wait() == 0 and (got == 9).all()
        with pytest.raises(ValueError, match="Ascend"):   # an ACL stream
            engine.transfer_async_write_submit(dst, addr, peer_addr, 16, 0x7f0000001000)
        engine.destroy_stream(st)
    shm_handle.barrier()
    if rank_id == 1:
        assert (buf[:4096] == 7).all() and (buf[4096:8192] == 8).all() and (buf[8192:12288] == 9).all()
    assert engine.unregister_memory(buffer_addr=addr) == 0
    shm_handle.barrier()
    shm_handle.destroy()
    shm.uninitialize(0)
    engine.destroy()
    engine.unInitialize()
    print("trans", rank_id, "ok")
"""


def test_seed_transfer_performance_flow():
    url = f"tcp://127.0.0.1:{free_port()}"
    outs = run_ranks(TRANS_SEED, 2, url, timeout=120)
    assert [o.split()[:3] for o in outs] == [["trans", "0", "ok"], ["trans", "1", "ok"]]


def test_uninitialize_closes_every_engine():
    p = run_py("""
        import socket, pytest
        import memfabric_hybrid as mf
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        url = f"tcp://127.0.0.1:{port}"
        assert mf.create_config_store(url) == 0
        a, b = mf.TransferEngine(), mf.TransferEngine()
        assert a.initialize(url, "127.0.0.1:11000", "Decode", 0) == 0
        assert b.initialize(url, "127.0.0.1:11001", "Prefill", 0) == 0
        buf = bytearray(4096)
        assert a.register_memory(buf) == 0
        a.unInitialize()                      # smem_trans_uninit: both engines go
        for e in (a, b):
            with pytest.raises(RuntimeError, match="closed"):
                e.transfer_wait()
        a.destroy(); b.destroy()              # nothing left to do, no crash
        c = mf.TransferEngine()               # the library can be used again
        assert c.initialize(url, "127.0.0.1:11002", "both", 0) == 0
        assert c.register_memory(buf) == 0
        c.destroy()
        print("ok")
    """)
    assert p.stdout.strip() == "ok"


def test_mf_adapter_package():
    # example/trans/demo/test_transfer_engine.py's imports, from the seed's transfer-only package name
    p = run_py("""
        from mf_adapter import TransferEngine, create_config_store, set_log_level, set_conf_store_tls
        import memfabric_hybrid as mf
        assert TransferEngine is mf.TransferEngine
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        url = f"tcp://127.0.0.1:{port}"
        assert set_log_level(3) == 0 and set_conf_store_tls(False, "") == 0
        assert create_config_store(url) == 0
        e = TransferEngine()
        assert e.initialize(url, "127.0.0.1:12000", "Decode", 0) == 0
        e.destroy()
        print("ok")
    """)
    assert p.stdout.strip() == "ok"
