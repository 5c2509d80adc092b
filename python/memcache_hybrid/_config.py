"""memcache_hybrid config classes: TlsConfig, LocalConfig, MetaConfig (rows of the library's config tables)."""
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


class _Config:
    """A config class over one of the library's tables: _kind names the table ("local", "meta")."""

    _fields = ()
    _kind = None

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
            if isinstance(v, dict):
                v = TlsConfig(**v)
            object.__setattr__(self, k, v)

    def __init__(self, **kwargs):
        self._assign(self._defaults())
        for k, v in kwargs.items():
            setattr(self, k, v)

    def __setattr__(self, k, v):
        if k not in self._fields:
            raise AttributeError(f"{type(self).__name__} has no field {k!r} (fields: {', '.join(self._fields)})")
        object.__setattr__(self, k, v)

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields) + ")"


class LocalConfig(_Config):
    """LocalService config (mmc_local_service_config_t; one field per ock.mmc.* key of docs/CONFIG.md).

    Sizes in bytes; protocol 'host_shm' | 'host_tcp' | 'host_ucx' | 'device_ucx'; TLS blocks are
    TlsConfig or None (off). Defaults: mmc_local_service_config_init.
    """

    __slots__ = tuple(_memcache.local_config_fields())
    _fields = __slots__
    _kind = "local"  # check(): mmc_local_service_config_check


class MetaConfig(_Config):
    """MetaService config (mmc_meta_service_config_t). Defaults: loopback, see mmc_meta_service_config_init."""

    __slots__ = tuple(_memcache.meta_config_fields())
    _fields = __slots__
    _kind = "meta"  # check(): mmc_meta_service_config_check
