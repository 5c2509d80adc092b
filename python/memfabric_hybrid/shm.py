"""SHM: a symmetric heap with control-plane collectives (smem_shm.h), with the seed's names.

    from memfabric_hybrid import shm
    shm.initialize(url, world_size, rank_id, device_id, shm.ShmConfig())
    heap = shm.create(0, rank_size, rank_id, local_mem_size=2 << 20)   # ShareMemory, RuntimeError on failure
    heap.barrier(); everyone = heap.all_gather(b"mine")
    del heap                                                           # or heap.destroy()
"""
import enum as _enum

from . import _memfabric
from ._memfabric import ShareMemory  # noqa: F401


class ShmDataOpType(_enum.IntFlag):
    MTE = 1 << 0
    SDMA = 1 << 1
    RDMA = 1 << 2


# Our earlier attribute names, kept: the seed's are the fields.
_ALIASES = {
    "control_operation_timeout": "operation_timeout",
    "start_config_store_server": "start_store",
}


class ShmConfig:
    """smem_shm_config_t; defaults from smem_shm_config_init. Timeouts in seconds.

    Fields (the seed's): init_timeout, create_timeout, operation_timeout, start_store, flags.
    control_operation_timeout and start_config_store_server name the same fields."""

    __slots__ = ("init_timeout", "create_timeout", "operation_timeout", "start_store", "flags")

    def __init__(self, **kwargs):
        for k, v in _memfabric.shm_config_defaults().items():
            object.__setattr__(self, k, v)
        for k, v in kwargs.items():
            if _ALIASES.get(k, k) not in self.__slots__:
                raise TypeError(f"ShmConfig has no field {k!r}")
            setattr(self, k, v)

    def __setattr__(self, name, value):
        object.__setattr__(self, _ALIASES.get(name, name), value)

    def __getattr__(self, name):  # only reached for names that are not slots
        if name in _ALIASES:
            return getattr(self, _ALIASES[name])
        raise AttributeError(f"ShmConfig has no field {name!r}")

    def __repr__(self):
        return "ShmConfig(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


def initialize(store_url, world_size, rank_id, device_id=0, config=None):
    """smem_shm_init -> int status."""
    return _memfabric.shm_initialize(store_url, world_size, rank_id, device_id, config)


def uninitialize(flags=0):
    """smem_shm_uninit: destroys the heaps still alive (their ShareMemory objects are closed)."""
    _memfabric.shm_uninitialize(flags)


def query_support_data_operation():
    """Ours, at module level; ShareMemory.query_support_data_operation() is the seed's."""
    return _memfabric.shm_query_support_data_operation()


def create(id, rank_size, rank_id, local_mem_size=None, data_op_type=ShmDataOpType.MTE, flags=0, *,
           symmetric_size=None):
    """Collective smem_shm_create -> ShareMemory; RuntimeError on failure.

    local_mem_size: the bytes of each rank's region (the seed's name; symmetric_size is ours)."""
    if local_mem_size is None:
        local_mem_size = symmetric_size
    elif symmetric_size is not None:
        raise TypeError("give local_mem_size or symmetric_size, not both")
    if local_mem_size is None:
        raise TypeError("create() missing required argument 'local_mem_size'")
    return _memfabric.shm_create(id, rank_size, rank_id, local_mem_size, int(data_op_type), flags)
