"""The Python config classes hold exactly the rows of the C config tables (src/memcache/common/mmc_conf_table.c,
src/smem/smem_bm_conf.c, src/net/net_tls_conf.c), in table order, and their defaults are the rows' defaults."""
import re

import memcache_hybrid as mc
import memfabric_hybrid as mf
from memcache_hybrid import _memcache
from memfabric_hybrid import _memfabric, bm

UNITS = {"": 0, "KB": 10, "MB": 20, "GB": 30, "TB": 40}


def parsed(text, value):
    """A row's default text as the Python value the class holds."""
    if text is None:
        return value if value in (None, 0, "", False) else object()
    if isinstance(value, bool):
        return text == "true"
    if isinstance(value, int):
        m = re.fullmatch(r"(\d+)(|KB|MB|GB|TB)", text)
        if m:
            return int(m.group(1)) << UNITS[m.group(2)]
        return ["debug", "info", "warn", "error", "off"].index(text)   # a numeric enum: the log level
    return text


def check_class(cls_fields, rows, defaults):
    assert tuple(cls_fields) == tuple(r[0] for r in rows)
    for name, _key, default in rows:
        assert defaults[name] == parsed(default, defaults[name]), (name, default, defaults[name])


def test_local_config_is_the_table():
    rows = _memcache.config_table("local")
    check_class(mc.LocalConfig.__slots__, rows, mc.LocalConfig._defaults())
    assert {k for _, k, _ in rows if k} >= {"ock.mmc.local_service.dram.size", "ock.mmc.local_service.hcom.tls.enable"}


def test_meta_config_is_the_table():
    check_class(mc.MetaConfig.__slots__, _memcache.config_table("meta"), mc.MetaConfig._defaults())


def test_bm_config_is_the_table():
    c = bm.BmConfig()
    check_class(bm.BmConfig.__slots__, _memfabric.config_table("bm"), {k: getattr(c, k) for k in c.__slots__})


def test_tls_config_is_the_table():
    names = tuple(r[0] for r in _memcache.config_table("tls"))
    assert names == tuple(r[0] for r in _memfabric.config_table("tls"))
    assert mc.TlsConfig.__slots__ == names and mf.TlsConfig.__slots__ == names
