"""BM: the pooled global address space (smem_bm.h).

    from memfabric_hybrid import bm
    bm.initialize("tcp://127.0.0.1:6000", world_size=4, device_id=0, config=bm.BmConfig())
    mem = bm.create(0, 64 << 20, 0, bm.BmDataOpType.SDMA, 0)   # BigMemory, RuntimeError on failure
    mem.join()
    base = mem.peer_rank_ptr(bm.BmMemType.HOST, peer)
    mem.copy_data(src, dest, size, bm.BmCopyType.G2H)          # ints (addresses) or buffers
"""
import enum as _enum

from . import _memfabric
from ._memfabric import BigMemory  # noqa: F401


class BmMemType(_enum.IntEnum):
    LOCAL_DEVICE = 0
    LOCAL_HOST = 1
    DEVICE = 2
    HOST = 3


class BmCopyType(_enum.IntEnum):
    L2G = 0
    G2L = 1
    G2H = 2
    H2G = 3
    L2GH = 4
    GH2L = 5
    GH2H = 6
    H2GH = 7
    G2G = 8
    AUTO = 9


class BmDataOpType(_enum.IntFlag):
    SDMA = 1 << 0
    HOST_RDMA = 1 << 1
    HOST_TCP = 1 << 2
    DEVICE_RDMA = 1 << 3
    HOST_URMA = 1 << 4
    HOST_SHM = 1 << 5


ASYNC_COPY_FLAG = 1 << 0
COPY_EXTEND_FLAG = 1 << 1
CREATE_WITH_SHM = 1 << 8
CREATE_HUGETLB = 1 << 9


class BmConfig:
    """smem_bm_config_t; defaults from smem_bm_config_init. Timeouts in seconds."""

    __slots__ = tuple(_memfabric.bm_config_fields())  # the rows of src/smem/smem_bm_conf.c

    def __init__(self, **kwargs):
        for k, v in _memfabric.bm_config_defaults().items():  # TLS blocks: None (off)
            setattr(self, k, v)
        for k, v in kwargs.items():
            if k not in self.__slots__:
                raise TypeError(f"BmConfig has no field {k!r}")
            setattr(self, k, v)

    def __repr__(self):
        return "BmConfig(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


def initialize(store_url, world_size, device_id=0, config=None):
    """smem_bm_init -> int status (idempotent per process)."""
    return _memfabric.bm_initialize(store_url, world_size, device_id, config)


def uninitialize(flags=0):
    _memfabric.bm_uninitialize(flags)


def get_rank_id():
    """This process's rank (0xFFFFFFFF before initialize)."""
    return _memfabric.bm_get_rank_id()


def create(id, local_dram_size, local_hbm_size, data_op_type, flags=0, *, max_dram_size=0, max_hbm_size=0):
    """smem_bm_create2 -> BigMemory; RuntimeError (with get_last_err_msg's text) on failure."""
    return _memfabric.bm_create(id, local_dram_size, local_hbm_size, int(data_op_type), flags,
                                max_dram_size=max_dram_size, max_hbm_size=max_hbm_size)
