"""memcache_hybrid: Python bindings of libmmc (the memcache KV store).

    from memcache_hybrid import DistributedObjectStore, LocalConfig, MetaService
    store = DistributedObjectStore()
    store.setup(LocalConfig(meta_service_url="tcp://127.0.0.1:5000", dram_size=256 << 20))
    store.init(0)                       # starts this process's LocalService + client
    store.put("k", b"v")                # 0 ok, MMC_* < 0
    store.get("k")                      # b"v" (b"" when absent)
    store.close()

The calls take the seed's arguments, keywords and return shapes (pymmc.cpp):
single-key calls return the key's status (0 ok, negative MMC_* codes, see
``strerror``); batch calls return a list with each key's status, except
``put_batch`` and ``batch_remove_lease`` (one status, as the seed) and
``batch_alloc`` (one GVA per key, <= 0: failed). ``is_exist`` returns 1
(readable), 0 (absent or not yet readable) or a negative error. A direction
of the wrong kind is returned as the seed's code, not raised.
``init(device_id, init_bm=False)`` makes a client-only process (no BM of its
own): metadata calls work, calls that copy bytes return MMC_NOT_INITIALIZED.
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
    COPY_AUTO = 9  # put or get: each buffer's memory type from its address (CUDA's, else host)


# The seed's module constants for the directions (its tests import them), under both of its spellings.
L2G, G2L, G2H, H2G, AUTO = (int(d) for d in MmcDirect)
SMEMB_COPY_L2G, SMEMB_COPY_G2L, SMEMB_COPY_G2H, SMEMB_COPY_H2G, SMEMB_COPY_AUTO = L2G, G2L, G2H, H2G, AUTO


class KeyInfo:
    """Where a key's replicas are (get_key_info, batch_get_key_info), with the seed's methods.

    A key that is absent or not readable yet has size() 0 and empty lists, as the seed's; ``valid`` (its
    put has finished) and ``status`` (the query's status, e.g. MMC_KEY_NOT_FOUND) say which (ours)."""

    __slots__ = ("_size", "_locs", "_types", "_gvas", "valid", "status")

    def __init__(self, size=0, loc_list=(), type_list=(), gva_list=(), valid=False, status=0):
        self._size, self._locs, self._types, self._gvas = size, list(loc_list), list(type_list), list(gva_list)
        self.valid, self.status = valid, status

    def size(self):
        """Object size in bytes (0: absent or not readable)."""
        return self._size

    def loc_list(self):
        """LocalService id of each replica."""
        return list(self._locs)

    def type_list(self):
        """Medium of each replica (MMC_MEDIA_HBM 0, MMC_MEDIA_DRAM 1)."""
        return list(self._types)

    def gva_list(self):
        """Global address of each replica."""
        return list(self._gvas)

    def __str__(self):
        # The seed's text: "loc:0, type:1, gva:123, blobNum:1, size:10" (each list item followed by a comma).
        def items(v):
            return "".join(f"{x}," for x in v)
        return (f"loc:{items(self._locs)} type:{items(self._types)} gva:{items(self._gvas)} "
                f"blobNum:{len(self._locs)}, size:{self._size}")

    __repr__ = __str__


_memcache._set_key_info_class(KeyInfo)


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
    "strerror", "L2G", "G2L", "G2H", "H2G", "AUTO",
]
