"""SHM: a symmetric heap with control-plane collectives (smem_shm.h).

    from memfabric_hybrid import shm
    shm.initialize(url, world_size, rank_id, device_id=0, config=shm.ShmConfig())
    heap = shm.create(0, rank_size, rank_id, 1 << 20)   # ShareMemory, RuntimeError on failure
    heap.barrier(); everyone = heap.all_gather(b"mine")
"""
import enum as _enum

from . import _memfabric
from ._memfabric import ShareMemory  # noqa: F401


class ShmDataOpType(_enum.IntFlag):
    MTE = 1 << 0
    SDMA = 1 << 1
    RDMA = 1 << 2


class ShmConfig:
    """smem_shm_config_t; defaults from smem_shm_config_init. Timeouts in seconds."""

    __slots__ = ("init_timeout", "create_timeout", "control_operation_timeout", "start_config_store_server", "flags")

    def __init__(self, **kwargs):
        for k, v in _memfabric.shm_config_defaults().items():
            setattr(self, k, v)
        for k, v in kwargs.items():
            if k not in self.__slots__:
                raise TypeError(f"ShmConfig has no field {k!r}")
            setattr(self, k, v)


def initialize(store_url, world_size, rank_id, device_id=0, config=None):
    """smem_shm_init -> int status."""
    return _memfabric.shm_initialize(store_url, world_size, rank_id, device_id, config)


def uninitialize(flags=0):
    _memfabric.shm_uninitialize(flags)


def query_support_data_operation():
    return _memfabric.shm_query_support_data_operation()


def create(id, rank_size, rank_id, symmetric_size, data_op_type=ShmDataOpType.MTE, flags=0):
    """Collective smem_shm_create -> ShareMemory; RuntimeError on failure."""
    return _memfabric.shm_create(id, rank_size, rank_id, symmetric_size, int(data_op_type), flags)
