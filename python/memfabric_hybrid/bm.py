"""BM: the pooled global address space (smem_bm.h), with the seed's names, argument order and defaults.

    from memfabric_hybrid import bm
    bm.initialize("tcp://127.0.0.1:6000", world_size=4, device_id=0, config=bm.BmConfig())
    mem = bm.create(0, 64 << 20)                     # BigMemory (RuntimeError on failure); SDMA by default
    mem.join()
    base = mem.peer_rank_ptr(peer, bm.BmMemType.HOST)
    mem.copy_data(src_ptr, dst_ptr, size, bm.BmCopyType.G2H)   # ints (addresses) or buffers
    del mem                                          # or mem.destroy()
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
    DEVICE_URMA = 1 << 6  # the seed's; needs Ascend: create fails with the library's message
    DEVICE_UBOE = 1 << 7  # likewise


class BmGroupEvent(_enum.IntEnum):
    """The seed's join/leave event names (BigMemory.set_group_event_handler is deprecated there)."""
    JOIN_EVENT = 0
    LEAVE_EVENT = 1


ASYNC_COPY_FLAG = 1 << 0
COPY_EXTEND_FLAG = 1 << 1
CREATE_WITH_SHM = 1 << 8
CREATE_HUGETLB = 1 << 9

# The seed's attribute names of smem_bm_config_t, where ours (the rows of src/smem/smem_bm_conf.c)
# spell them out: both work.
_ALIASES = {
    "operation_timeout": "control_operation_timeout",
    "start_store": "start_config_store_server",
    "start_store_only": "start_config_store_only",
}


class BmConfig:
    """smem_bm_config_t; defaults from smem_bm_config_init. Timeouts in seconds.

    Seed names: init_timeout, create_timeout, operation_timeout, start_store, start_store_only,
    dynamic_world_size, unified_address_space, auto_ranking, rank_id, flags, set_nic(nic).
    Ours as well: control_operation_timeout, start_config_store_server, start_config_store_only,
    hcom_url, hcom_tls, store_tls (TlsConfig or None).
    """

    __slots__ = tuple(_memfabric.bm_config_fields())  # the rows of src/smem/smem_bm_conf.c

    def __init__(self, **kwargs):
        for k, v in _memfabric.bm_config_defaults().items():  # TLS blocks: None (off)
            object.__setattr__(self, k, v)
        for k, v in kwargs.items():
            if _ALIASES.get(k, k) not in self.__slots__:
                raise TypeError(f"BmConfig has no field {k!r}")
            setattr(self, k, v)

    def __setattr__(self, name, value):
        name = _ALIASES.get(name, name)
        if name == "rank_id" and value == -1:
            value = 0xFFFF  # the seed's examples write -1 for "no rank" (auto ranking)
        object.__setattr__(self, name, value)

    def __getattr__(self, name):  # only reached for names that are not slots
        if name in _ALIASES:
            return getattr(self, _ALIASES[name])
        raise AttributeError(f"BmConfig has no field {name!r}")

    def set_nic(self, nic):
        """The data-plane address (the seed's hcomUrl), e.g. 'tcp://10.0.0.1:18888'."""
        if not isinstance(nic, str):
            raise TypeError(f"nic must be a str, not {type(nic).__name__}")
        self.hcom_url = nic

    def __repr__(self):
        return "BmConfig(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


def initialize(store_url, world_size, device_id=0, config=None):
    """smem_bm_init -> int status (idempotent per process)."""
    return _memfabric.bm_initialize(store_url, world_size, device_id, config)


def uninitialize(flags=0):
    """smem_bm_uninit: destroys the BMs still alive (their BigMemory objects are closed)."""
    _memfabric.bm_uninitialize(flags)


def bm_rank_id():
    """This process's rank (0xFFFFFFFF before initialize), the seed's name."""
    return _memfabric.bm_get_rank_id()


get_rank_id = bm_rank_id  # ours


def create(id, local_dram_size, local_hbm_size=0, data_op_type=BmDataOpType.SDMA, flags=0, *, max_dram_size=0,
           max_hbm_size=0):
    """smem_bm_create2 -> BigMemory; RuntimeError (with get_last_err_msg's text) on failure."""
    return _memfabric.bm_create(id, local_dram_size, local_hbm_size, int(data_op_type), flags,
                                max_dram_size=max_dram_size, max_hbm_size=max_hbm_size)


def create2(id, local_dram_size, max_dram_size, local_hbm_size=0, max_hbm_size=0, data_op_type=BmDataOpType.SDMA,
            enable_56bits_gva=False, flags=0, shm_fd=-1, tag="", tag_op_info=""):
    """smem_bm_create2 with the seed's arguments -> BigMemory; RuntimeError on failure.

    shm_fd >= 0 backs local DRAM with that memfd (sets CREATE_WITH_SHM). enable_56bits_gva is accepted
    and has no effect here (no 48-bit device window to widen: docs/API.md)."""
    return _memfabric.bm_create2(id, local_dram_size, max_dram_size, local_hbm_size, max_hbm_size,
                                 int(data_op_type), bool(enable_56bits_gva), flags, shm_fd, tag, tag_op_info)
