"""memcache_hybrid across processes: a store written here and read in another process, the
LocalService from MMC_LOCAL_CONFIG_PATH, close/double close, and MetaService run from Python."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import memcache_hybrid as mc

from conftest import Daemon, free_port, run_py


def test_reader_in_another_process(store, meta, tmp_path):
    keys = [f"xproc/{i}" for i in range(6)]
    blocks = [[np.full(2048, 16 * i + l, np.uint8) for l in range(4)] for i in range(6)]
    assert store.batch_put_from_layers(keys, blocks) == [0] * 6
    cfg = tmp_path / "local.conf"
    cfg.write_text(meta.config_text(dram="0"))   # a pure client: no memory of its own
    p = run_py("""
        import sys
        import numpy as np
        import memcache_hybrid as mc
        s = mc.DistributedObjectStore()
        assert s.init(0) == 0, mc.get_last_err_msg()     # config from MMC_LOCAL_CONFIG_PATH
        keys = [f"xproc/{i}" for i in range(6)]
        assert s.batch_is_exist(keys) == [1] * 6
        outs = [[np.zeros(2048, np.uint8) for _ in range(4)] for _ in keys]
        assert s.batch_get_into_layers(keys, outs) == [0] * 6
        for i, blk in enumerate(outs):
            for l, piece in enumerate(blk):
                assert (piece == 16 * i + l).all(), (i, l)
        assert s.get("xproc/0") == b"".join(bytes([l]) * 2048 for l in range(4))
        # and the other way round
        assert s.put("xproc/from-child", b"child bytes") == 0
        assert s.close() == 0
        print("reader ok")
    """, env={"MMC_LOCAL_CONFIG_PATH": str(cfg)})
    assert p.stdout.strip() == "reader ok"
    # the child contributes no memory: its object lives in ours and outlives it
    assert store.get("xproc/from-child") == b"child bytes"


def test_close_twice_and_use_after_close(meta, tmp_path):
    cfg = tmp_path / "local.conf"
    cfg.write_text(meta.config_text())
    p = run_py("""
        import pytest
        import memcache_hybrid as mc
        s = mc.DistributedObjectStore()
        assert s.put("nope", b"x") == mc.MMC_NOT_INITIALIZED      # before init: an error code
        assert s.get("nope") == b""
        assert s.is_exist("nope") == mc.MMC_NOT_INITIALIZED
        assert s.init(0) == 0 and s.init(0) == 0                  # init twice: no change
        assert s.put("closing/a", b"x") == 0
        assert s.close() == 0 and s.close() == 0 and s.closed
        for call in (lambda: s.put("a", b"x"), lambda: s.get("a"), lambda: s.get_batch(["a"]),
                     lambda: s.remove_all(), lambda: s.get_local_service_id(), lambda: s.init(0)):
            with pytest.raises(RuntimeError, match="closed"):
                call()
        t = mc.DistributedObjectStore()                           # a new one after close
        assert t.remove("closing/a") == mc.MMC_NOT_INITIALIZED
        print("ok")
    """, env={"MMC_LOCAL_CONFIG_PATH": str(cfg)})
    assert p.stdout.strip() == "ok"


def test_bad_config_file(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("ock.mmc.meta_service_url = tcp://127.0.0.1:1\nock.mmc.no_such_key = 1\n")
    with pytest.raises(ValueError, match=r"bad.conf:2"):
        mc.LocalConfig.from_file(str(bad))
    with pytest.raises(ValueError, match=r"bad.conf:2"):
        mc.MetaConfig.from_file(str(bad))
    good = tmp_path / "good.conf"
    good.write_text("ock.mmc.local_service.dram.size = 2.5GB\nock.mmc.local_service.max.dram.size = 4GB\n")
    c = mc.LocalConfig.from_file(str(good))
    assert c.dram_size == int(2.5 * (1 << 30)) and c.check() == 0
    assert mc.MetaConfig(evict_threshold_low=95, evict_threshold_high=90).check() == mc.MMC_INVALID_PARAM
    assert mc.get_last_err_msg()


def test_meta_service_in_process(tmp_path):
    h = mc.MetaService.start(mc.MetaConfig(meta_service_url="tcp://127.0.0.1:0", config_store_url="tcp://127.0.0.1:0",
                                           metrics_url="", log_level=3))
    try:
        assert h.running and h.port(0) > 0 and h.port(1) > 0 and h.port(2) == 0
        cfg = tmp_path / "local.conf"
        cfg.write_text(f"ock.mmc.meta_service_url = tcp://127.0.0.1:{h.port(0)}\n"
                       f"ock.mmc.local_service.config_store_url = tcp://127.0.0.1:{h.port(1)}\n"
                       "ock.mmc.local_service.dram.size = 32MB\nock.mmc.local_service.max.dram.size = 32MB\n")
        p = run_py("""
            import memcache_hybrid as mc
            s = mc.DistributedObjectStore()
            assert s.init(0) == 0, mc.get_last_err_msg()
            assert s.put("k", b"v") == 0 and s.get("k") == b"v"
            s.close()
            print("ok")
        """, env={"MMC_LOCAL_CONFIG_PATH": str(cfg)})
        assert p.stdout.strip() == "ok"
    finally:
        h.stop()
        h.stop()
    assert not h.running
    with pytest.raises(TypeError):
        mc.MetaService.setup("config")


MAIN = "from memcache_hybrid import MetaService; raise SystemExit(MetaService.main())"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_meta_service_main_until_signal(tmp_path, sig):
    rpc, st = free_port(), free_port()
    conf = tmp_path / "meta.conf"
    conf.write_text(f"ock.mmc.meta_service_url = tcp://127.0.0.1:{rpc}\n"
                    f"ock.mmc.meta_service.config_store_url = tcp://127.0.0.1:{st}\n"
                    "ock.mmc.meta_service.metrics_url = \nock.mmc.log_level = 3\n")
    env = dict(os.environ, MMC_META_CONFIG_PATH=str(conf))
    d = Daemon([sys.executable, "-c", MAIN], "MetaService ready", env=env)
    assert f"rpc port {rpc}" in d.ready
    try:
        lc = tmp_path / "local.conf"
        lc.write_text(f"ock.mmc.meta_service_url = tcp://127.0.0.1:{rpc}\n"
                      f"ock.mmc.local_service.config_store_url = tcp://127.0.0.1:{st}\n"
                      "ock.mmc.local_service.dram.size = 16MB\nock.mmc.local_service.max.dram.size = 16MB\n")
        p = run_py("""
            import memcache_hybrid as mc
            s = mc.DistributedObjectStore()
            assert s.init(0) == 0, mc.get_last_err_msg()
            assert s.put("m", b"main") == 0 and s.get("m") == b"main"
            s.close()
        """, env={"MMC_LOCAL_CONFIG_PATH": str(lc)})
    finally:
        rc = d.stop(sig)
    assert rc == 0, d.proc.stderr.read()


def test_meta_service_main_with_setup():
    rpc = free_port()
    code = f"""
        import memcache_hybrid as mc
        assert mc.MetaService.setup(mc.MetaConfig(meta_service_url="tcp://127.0.0.1:{rpc}",
                                                  config_store_url="", metrics_url="")) == 0
        raise SystemExit(mc.MetaService.main())
    """
    d = Daemon([sys.executable, "-c", textwrap.dedent(code)], "MetaService ready")
    assert f"rpc port {rpc}" in d.ready and "store port -" in d.ready
    assert d.stop() == 0
    bad = subprocess.run([sys.executable, "-c", MAIN], capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, MMC_META_CONFIG_PATH="/nonexistent/meta.conf"))
    assert bad.returncode != 0 and "MMC_META_CONFIG_PATH" in bad.stderr
