"""Mooncake Store's Python surface on our store (opt-in drop-in).

    import memcache_hybrid.mooncake as mc
    mc.install()                                   # now `mooncake.store` is this package's store module
    from mooncake.store import MooncakeDistributedStore, ReplicateConfig
    s = MooncakeDistributedStore()
    s.setup("localhost", "tcp://127.0.0.1:6000", "512MB", "128MB", "tcp", "", "127.0.0.1:5000")

Nothing is installed by default: only install() puts ``mooncake`` and ``mooncake.store`` into
sys.modules, and uninstall() takes them out again. The class is also importable directly
(``from memcache_hybrid.mooncake import MooncakeDistributedStore``). docs/API.md, "Mooncake Store
compatibility", lists every method against Mooncake's.
"""
import sys as _sys
import types as _pytypes

from . import store  # noqa: F401
from ._codes import ErrorCode, from_mmc  # noqa: F401
from .store import (  # noqa: F401
    BufferDescriptor,
    BufferHandle,
    MemoryDescriptor,
    MooncakeDistributedStore,
    QueryTaskResponse,
    ReplicaDescriptor,
    ReplicaStatus,
    ReplicaType,
    ReplicateConfig,
    SoftPinAction,
    TaskStatus,
    TaskType,
    parse_size,
)

_saved = None


def install(replace=False):
    """Make ``import mooncake.store`` give this package's store module. A real ``mooncake`` already
    imported is left alone (returns False) unless replace=True; returns True when installed."""
    global _saved
    cur = _sys.modules.get("mooncake")
    if cur is not None and getattr(cur, "__memcache_shim__", False):
        return True
    if cur is not None and not replace:
        return False
    _saved = {n: _sys.modules.get(n) for n in ("mooncake", "mooncake.store")}
    shim = _pytypes.ModuleType("mooncake", "memcache_hybrid's Mooncake Store shim (memcache_hybrid.mooncake.install)")
    shim.__memcache_shim__ = True
    shim.__path__ = []
    shim.store = store
    _sys.modules["mooncake"] = shim
    _sys.modules["mooncake.store"] = store
    return True


def uninstall():
    """Undo install(): the modules that were there before (if any) come back."""
    global _saved
    cur = _sys.modules.get("mooncake")
    if cur is None or not getattr(cur, "__memcache_shim__", False):
        return False
    for n, m in (_saved or {}).items():
        if m is None:
            _sys.modules.pop(n, None)
        else:
            _sys.modules[n] = m
    _saved = None
    return True


__all__ = ["install", "uninstall", "store", "MooncakeDistributedStore", "ReplicateConfig", "ErrorCode",
           "SoftPinAction", "ReplicaType", "ReplicaStatus", "TaskType", "TaskStatus", "BufferDescriptor",
           "MemoryDescriptor", "ReplicaDescriptor", "QueryTaskResponse", "BufferHandle", "parse_size"]
