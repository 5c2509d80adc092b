"""LocalConfig / MetaConfig the seed's way (its pymmc bindings' field names, sizes as text, log levels by name,
str()), the seed's shipped config files (tests/data/seed: its keys and values) loaded unchanged, and the real
MetaService and LocalService started from them."""
import os
import re

import pytest

import memcache_hybrid as mc

SEED = os.path.join(os.environ.get("SMEM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                    "tests", "data", "seed")

TLS = ("enable", "ca_path", "ca_crl_path", "cert_path", "key_path", "key_pass_path", "package_path", "decrypter_path")
# Every field of the seed's LocalConfig / MetaConfig bindings.
SEED_LOCAL = (["meta_service_url", "config_store_url", "log_level", "world_size", "protocol", "hcom_url", "dram_size",
               "hbm_size", "max_dram_size", "max_hbm_size", "client_retry_milliseconds", "client_timeout_seconds",
               "read_thread_pool_size", "write_thread_pool_size", "aggregate_io", "aggregate_num", "ubs_io_enable",
               "memory_pool_mode"] + [f"tls_{t}" for t in TLS] + [f"config_store_tls_{t}" for t in TLS]
              + [f"hcom_tls_{t}" for t in TLS if t != "package_path"])
SEED_META = (["meta_service_url", "config_store_url", "metrics_url", "ha_enable", "log_level", "log_path",
              "log_rotation_file_size", "log_rotation_file_count", "evict_threshold_high", "evict_threshold_low",
              "ubs_io_enable"] + [f"tls_{t}" for t in TLS] + [f"config_store_tls_{t}" for t in TLS])


def test_every_seed_field_is_there():
    c, m = mc.LocalConfig(), mc.MetaConfig()
    assert [f for f in SEED_LOCAL if not hasattr(c, f)] == []
    assert [f for f in SEED_META if not hasattr(m, f)] == []
    with pytest.raises(AttributeError):
        c.no_such_field = 1


def test_seed_defaults():
    c = mc.LocalConfig()
    assert (c.client_retry_milliseconds, c.client_timeout_seconds) == (0, 60)
    assert (c.read_thread_pool_size, c.write_thread_pool_size, c.aggregate_io, c.aggregate_num) == (32, 4, True, 122)
    assert (c.world_size, c.max_dram_size, c.dram_size, c.hbm_size) == (256, 64 << 30, 128 << 20, 0)
    assert (c.memory_pool_mode, c.ubs_io_enable, c.tls_enable, c.hcom_tls_enable) == ("standard", False, False, False)
    c.dram_size = "10GB"  # the seed's typical contribution fits the default 64 GB stride
    assert c.check() == 0, mc.get_last_err_msg()
    m = mc.MetaConfig()
    assert (m.log_rotation_file_size, m.log_rotation_file_count, m.ha_enable, m.ubs_io_enable) == (20, 50, False, False)
    assert m.log_level == "info" and m.metrics_url == "http://127.0.0.1:8000"


def test_sizes_as_text_or_int():
    c = mc.LocalConfig(dram_size="512MB", max_dram_size="2.5GB")
    assert (c.dram_size, c.max_dram_size) == (512 << 20, 5 << 29)
    c.hbm_size = "2048KB"
    c.max_hbm_size = 1 << 30
    assert (c.hbm_size, c.max_hbm_size) == (2 << 20, 1 << 30)
    c.dram_size = "134217728"
    assert c.dram_size == 128 << 20
    for bad in ("10 parsecs", "1.5", "GB", "-1GB"):
        with pytest.raises(ValueError):
            c.dram_size = bad


def test_log_levels_by_name():
    c = mc.LocalConfig(log_level="debug")
    assert c.log_level == "debug"
    c.log_level = 2
    assert c.log_level == "warn"
    m = mc.MetaConfig(log_level="ERROR")
    assert m.log_level == "error" and m.check() == 0
    with pytest.raises(ValueError):
        mc.MetaConfig(log_level="loud").check()


def test_str_prints_every_field():
    c = mc.LocalConfig(dram_size="1GB", protocol="host_rdma")
    text = c.str()
    assert str(c) == text and text.startswith("LocalConfig {\n") and text.endswith("\n}")
    lines = dict(re.findall(r"^  (\w+): (.*)$", text, re.M))
    assert set(lines) == set(mc.LocalConfig.__slots__) >= set(SEED_LOCAL)
    assert (lines["dram_size"], lines["max_dram_size"], lines["protocol"]) == ("1GB", "64GB", "host_rdma")
    assert (lines["aggregate_io"], lines["client_retry_milliseconds"]) == ("true", "0")
    m = mc.MetaConfig().str()
    assert m.startswith("MetaConfig {\n") and "\n  log_rotation_file_size: 20\n" in m and "\n  ha_enable: false\n" in m


def test_flat_tls_fields_and_the_block_are_one():
    c = mc.LocalConfig(tls_enable=True, tls_ca_path="/ca.pem", tls_ca_crl_path="/crl.pem")
    assert c.tls.ca_path == "/ca.pem" and c.tls.crl_path == "/crl.pem" and c.tls.tls_enable
    c.hcom_tls = mc.TlsConfig(cert_path="/node.pem", key_path="/node.key")
    assert c.hcom_tls_enable and c.hcom_tls_cert_path == "/node.pem" and c.hcom_tls_key_path == "/node.key"
    c.tls = None
    assert not c.tls_enable and c.tls is None
    c.retry_milliseconds = 250  # our earlier names stay
    assert c.client_retry_milliseconds == 250 and c.timeout_seconds == c.client_timeout_seconds


def test_the_seeds_files_load_unchanged():
    c = mc.LocalConfig.from_file(os.path.join(SEED, "mmc-local.conf"))
    assert (c.protocol, c.world_size, c.dram_size, c.hbm_size, c.log_level) == ("host_rdma", 16, 128 << 20, 0, "info")
    assert (c.client_retry_milliseconds, c.client_timeout_seconds, c.aggregate_io) == (0, 60, False)
    assert c.tls_enable and c.config_store_tls_enable and c.hcom_tls_enable
    assert c.tls_package_path == "/opt/ock/security/libs/" and c.tls_decrypter_path == ""
    assert c.hcom_url == "tcp://127.0.0.1:7000" and c.check() == 0
    m = mc.MetaConfig.from_file(os.path.join(SEED, "mmc-meta.conf"))
    assert (m.metrics_url, m.log_path, m.log_rotation_file_size, m.log_rotation_file_count) == (
        "127.0.0.1:8000", "/var/log/memcache_hybrid", 20, 50)
    assert (m.evict_threshold_high, m.evict_threshold_low, m.tls_enable) == (70, 60, False)


def test_what_we_cannot_do_says_so(tmp_path):
    bad = tmp_path / "ubs.conf"
    bad.write_text("ock.mmc.ubs_io.enable = true\n")
    with pytest.raises(ValueError, match=r"ubs\.conf:1: .*UBS-IO"):
        mc.MetaConfig.from_file(str(bad))
    assert mc.LocalConfig(memory_pool_mode="expanded").check() == mc.MMC_INVALID_PARAM
    assert "standard" in mc.get_last_err_msg()


def test_seed_files_against_the_daemons(tmp_path):
    m = mc.MetaConfig.from_file(os.path.join(SEED, "mmc-meta.conf"))
    m.meta_service_url, m.config_store_url, m.metrics_url = "tcp://127.0.0.1:0", "tcp://127.0.0.1:0", "127.0.0.1:0"
    m.log_path = str(tmp_path / "meta-logs")
    h = mc.MetaService.start(m)
    try:
        assert h.running and h.port(2) > 0  # the seed's HOST:PORT metrics URL is served
        assert (tmp_path / "meta-logs" / "logs" / "mmc-meta.log").exists()
        c = mc.LocalConfig.from_file(os.path.join(SEED, "mmc-local.conf"))
        c.meta_service_url = f"tcp://127.0.0.1:{h.port(0)}"
        c.config_store_url = f"tcp://127.0.0.1:{h.port(1)}"
        s = mc.DistributedObjectStore()
        assert s.setup(c) == 0
        rc = s.init(0)
        assert rc == mc.MMC_UNSUPPORTED, rc
        assert "host_rdma" in mc.get_last_err_msg() and "host_tcp" in mc.get_last_err_msg()
        # What cannot run here changed, the rest as the seed ships it.
        c.protocol, c.hcom_url, c.dram_size = "host_tcp", "tcp://127.0.0.1:0", "64MB"
        c.tls = c.config_store_tls = c.hcom_tls = None
        c.log_path = str(tmp_path / "local-logs")
        s = mc.DistributedObjectStore()
        assert s.setup(c) == 0
        assert s.init(0) == 0, mc.get_last_err_msg()
        try:
            assert s.put("seed/key", b"seed value") == 0, mc.get_last_err_msg()
            assert s.get("seed/key") == b"seed value"
            assert (tmp_path / "local-logs" / "logs" / "mmc-local.log").exists()
        finally:
            s.close()
    finally:
        h.stop()
