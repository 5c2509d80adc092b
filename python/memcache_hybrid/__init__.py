"""memcache_hybrid: Python bindings of libmmc (the memcache KV store).

    from memcache_hybrid import DistributedObjectStore, LocalConfig, MetaService
    store = DistributedObjectStore()
    store.setup(LocalConfig(meta_service_url="tcp://127.0.0.1:5000", dram_size=256 << 20))
    store.init(0)                       # starts this process's LocalService + client
    store.put("k", b"v")                # 0 ok, MMC_* < 0
    store.get("k")                      # b"v" (b"" when absent)
    store.close()

Single-key calls return the key's status (0 ok, negative MMC_* codes, see
``strerror``); batch calls return a list with each key's status. ``is_exist``
returns 1 (readable), 0 (absent or not yet readable) or a negative error.
Buffers: anything with the buffer protocol (read or written in place) or an
int address with a size. Wrong types or sizes raise TypeError/ValueError.
Every call that may block releases the GIL; the last error message of the
calling thread is ``get_last_err_msg()``.
"""
import enum as _enum
import os as _os
import signal as _signal
import sys as _sys
import threading as _threading

from . import _memcache
from ._memcache import (  # noqa: F401
    DistributedObjectStore,
    KeyInfo,
    MetaServiceHandle,
    get_last_err_msg,
    set_extern_logger,
    set_log_level,
    strerror,
)
from ._config import LocalConfig, MetaConfig, TlsConfig  # noqa: F401

for _name in dir(_memcache):
    if _name.startswith("MMC_"):
        globals()[_name] = getattr(_memcache, _name)


class MmcDirect(_enum.IntEnum):
    """Copy directions of put_from/get_into (the seed's values): they say host or device memory."""

    COPY_L2G = 0  # device buffer -> pool (put)
    COPY_G2L = 1  # pool -> device buffer (get)
    COPY_G2H = 2  # pool -> host buffer (get)
    COPY_H2G = 3  # host buffer -> pool (put)


class ReplicateConfig:
    """Put options: replicaNum 1..8, preferredLocalServiceIDs (up to 8 LocalService ids, placed there first),
    mediaType (None: any medium, DRAM first; MMC_MEDIA_DRAM / MMC_MEDIA_HBM)."""

    __slots__ = ("replicaNum", "preferredLocalServiceIDs", "mediaType")

    def __init__(self, replicaNum=1, preferredLocalServiceIDs=None, mediaType=None):
        self.replicaNum = replicaNum
        self.preferredLocalServiceIDs = list(preferredLocalServiceIDs or [])
        self.mediaType = mediaType

    def __repr__(self):
        return (f"ReplicateConfig(replicaNum={self.replicaNum!r}, "
                f"preferredLocalServiceIDs={self.preferredLocalServiceIDs!r}, mediaType={self.mediaType!r})")


class MetaService:
    """The MetaService in this process.

    ``MetaService.main()`` runs one until SIGINT/SIGTERM (config: ``setup``'s, else the file named by
    MMC_META_CONFIG_PATH, else loopback defaults), like ``mmc-meta`` with no arguments.
    ``MetaService.start(config=None)`` starts one in the background and returns its handle (``stop()``).
    """

    _config = None

    @staticmethod
    def setup(config):
        """Keep config (a MetaConfig) for main()/start(); returns its check status (0 ok)."""
        if not isinstance(config, MetaConfig):
            raise TypeError(f"MetaService.setup needs a MetaConfig, not {type(config).__name__}")
        rc = config.check()
        if rc == 0:
            MetaService._config = config
        return rc

    @staticmethod
    def start(config=None):
        return _memcache.meta_start(config if config is not None else MetaService._config)

    @staticmethod
    def main():
        """Serve until SIGINT or SIGTERM; returns 0 after a clean stop."""
        if _threading.current_thread() is not _threading.main_thread():
            raise RuntimeError("MetaService.main() must run in the main thread (it handles SIGINT/SIGTERM)")
        stop = _threading.Event()
        old = {s: _signal.signal(s, lambda *_: stop.set()) for s in (_signal.SIGINT, _signal.SIGTERM)}
        try:
            h = MetaService.start()
            rpc, store, http = (h.port(i) for i in range(3))
            print(f"MetaService ready: pid {_os.getpid()} rpc port {rpc} store port {store or '-'} "
                  f"metrics port {http or '-'}", flush=True)
            while not stop.wait(0.2):
                pass
            h.stop()
        finally:
            for s, f in old.items():
                _signal.signal(s, f)
        print("MetaService stopped", file=_sys.stderr, flush=True)
        return 0


__all__ = [
    "DistributedObjectStore", "KeyInfo", "LocalConfig", "MetaConfig", "MetaService", "MetaServiceHandle",
    "MmcDirect", "ReplicateConfig", "TlsConfig", "get_last_err_msg", "set_extern_logger", "set_log_level",
    "strerror",
]
