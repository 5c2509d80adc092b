"""memcache_hybrid config classes: TlsConfig, LocalConfig, MetaConfig (rows of the library's config tables).

The attributes are the seed's (its pymmc bindings): flattened TLS fields (tls_ca_path, config_store_tls_enable,
hcom_tls_cert_path, ...), client_retry_milliseconds / client_timeout_seconds, sizes as ints or text ("10GB"),
log levels and protocols by name. Our earlier forms stay: a whole TLS block as `tls=TlsConfig(...)` (or None),
and retry_milliseconds / timeout_seconds.
"""
import re

from . import _memcache


class TlsConfig:
    """One TLS block of LocalConfig/MetaConfig (tls, config_store_tls, hcom_tls)."""

    __slots__ = ("tls_enable", "ca_path", "crl_path", "cert_path", "key_path", "key_pass_path",
                 "decrypter_lib_path")

    def __init__(self, tls_enable=True, ca_path="", crl_path="", cert_path="", key_path="", key_pass_path="",
                 decrypter_lib_path=""):
        self.tls_enable = tls_enable
        self.ca_path = ca_path
        self.crl_path = crl_path
        self.cert_path = cert_path
        self.key_path = key_path
        self.key_pass_path = key_pass_path
        self.decrypter_lib_path = decrypter_lib_path


# TlsConfig attribute -> the flattened field's suffix (the block's file key with '.' as '_').
_TLS_FLAT = {"tls_enable": "enable", "ca_path": "ca_path", "crl_path": "ca_crl_path", "cert_path": "cert_path",
             "key_path": "key_path", "key_pass_path": "key_pass_path", "decrypter_lib_path": "decrypter_path"}


def _tls_block(prefix):
    """A property presenting the flattened fields `<prefix>_*` as one TlsConfig (None when not enabled)."""

    def get(self):
        if not getattr(self, f"{prefix}_enable"):
            return None
        return TlsConfig(**{a: getattr(self, f"{prefix}_{s}") for a, s in _TLS_FLAT.items()})

    def put(self, block):
        if block is None:
            block = TlsConfig(tls_enable=False)
        elif isinstance(block, dict):
            block = TlsConfig(**block)
        for a, s in _TLS_FLAT.items():
            setattr(self, f"{prefix}_{s}", getattr(block, a))

    return property(get, put, doc=f"the {prefix}_* fields as one TlsConfig, or None when {prefix}_enable is off")


_SIZE_UNITS = ((1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB"))
_SIZE_SHIFT = {"": 0, "B": 0, "K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20, "G": 30, "GB": 30,
               "GIB": 30, "T": 40, "TB": 40, "TIB": 40}
_SIZE_RE = re.compile(r"\s*(\d+)(?:\.(\d+))?\s*([A-Za-z]*)\s*")


def parse_size(text):
    """A size as the config files write it ("134217728", "2048KB", "200mb", "2.5GB", "1TB") -> bytes.

    The grammar of the library's loader (util_conf_parse_size): binary multiples, any case, a whole number of
    bytes. ValueError otherwise.
    """
    m = _SIZE_RE.fullmatch(text)
    shift = _SIZE_SHIFT.get(m.group(3).upper()) if m else None
    if shift is None:
        raise ValueError(f"{text!r} is not a size (134217728, 2048KB, 200MB, 2.5GB, 1TB)")
    frac = m.group(2) or ""
    num = int(m.group(1) + frac) << shift
    den = 10 ** len(frac)
    if num % den:
        raise ValueError(f"size {text!r} is not a whole number of bytes")
    return num // den


def _text(k, v):
    """A value as str() prints it: sizes in the file's units, booleans as true/false."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int) and k.endswith("_size") and not k.startswith("log_") and v:
        for unit, name in _SIZE_UNITS:
            if v % unit == 0:
                return f"{v // unit}{name}"
    return str(v)


class _Config:
    """A config class over one of the library's tables: _kind names the table ("local", "meta")."""

    _fields = ()
    _sizes = ()
    _kind = None
    _aliases = {}

    @classmethod
    def _call(cls, what, *args):
        return getattr(_memcache, f"{cls._kind}_config_{what}")(*args)

    @classmethod
    def _defaults(cls):
        return cls._call("defaults")

    @classmethod
    def from_file(cls, path):
        """Read a `key = value` file (ValueError naming the bad line)."""
        c = cls()
        c._assign(cls._call("load", path))
        return c

    def check(self):
        """The library's check -> int status (message: get_last_err_msg())."""
        return self._call("check", self)

    def _assign(self, values):
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __init__(self, **kwargs):
        self._assign(self._defaults())
        for k, v in kwargs.items():
            setattr(self, k, v)

    def __getattr__(self, k):  # only for names that are not slots: the earlier names
        if k in type(self)._aliases:
            return getattr(self, type(self)._aliases[k])
        raise AttributeError(f"{type(self).__name__} has no field {k!r}")

    def __setattr__(self, k, v):
        k = self._aliases.get(k, k)
        if isinstance(getattr(type(self), k, None), property):  # a TLS block: its setter writes the fields
            object.__setattr__(self, k, v)
            return
        if k not in self._fields:
            raise AttributeError(f"{type(self).__name__} has no field {k!r} (fields: {', '.join(self._fields)})")
        if k in self._sizes and isinstance(v, str):
            v = parse_size(v)
        object.__setattr__(self, k, self._call("value", k, v))  # the field's type checks; enums by name

    def str(self):
        """Every field, one per line, as the seed's str() prints them."""
        lines = "".join(f"  {k}: {_text(k, getattr(self, k))}\n" for k in self._fields)
        return f"{type(self).__name__} {{\n{lines}}}"

    __str__ = str

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields) + ")"


class LocalConfig(_Config):
    """LocalService config (mmc_local_service_config_t; one field per ock.mmc.* key of docs/CONFIG.md).

    Sizes in bytes (text such as "10GB" is accepted); protocol by name ('host_tcp', 'host_shm'; the seed's
    'host_rdma', 'device_sdma', ... load and are refused at start); log_level by name or 0..4.
    Defaults: mmc_local_service_config_init.
    """

    __slots__ = tuple(_memcache.local_config_fields())
    _fields = __slots__
    _sizes = frozenset(_memcache.config_sizes("local"))
    _kind = "local"  # check(): mmc_local_service_config_check
    _aliases = {"retry_milliseconds": "client_retry_milliseconds", "timeout_seconds": "client_timeout_seconds"}
    tls = _tls_block("tls")
    config_store_tls = _tls_block("config_store_tls")
    hcom_tls = _tls_block("hcom_tls")


class MetaConfig(_Config):
    """MetaService config (mmc_meta_service_config_t). Defaults: loopback, see mmc_meta_service_config_init."""

    __slots__ = tuple(_memcache.meta_config_fields())
    _fields = __slots__
    _sizes = frozenset(_memcache.config_sizes("meta"))
    _kind = "meta"  # check(): mmc_meta_service_config_check
    tls = _tls_block("tls")
    config_store_tls = _tls_block("config_store_tls")
