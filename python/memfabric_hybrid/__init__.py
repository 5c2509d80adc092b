"""memfabric_hybrid: Python bindings of libsmem (memfabric), with the seed's names and shapes.

Top level: initialize/uninitialize, logging, the last error message, config
stores, the config store's TLS, the TransferEngine and where the C headers and
libraries are; submodules ``bm`` (pooled global memory) and ``shm``
(symmetric heap). Calls return the library's status codes (0 ok, negative
errors, see ``strerror``); factories (``bm.create``, ``shm.create``) raise
RuntimeError with the library's message. Wrong argument types or sizes raise
TypeError/ValueError. Every call that may block releases the GIL.
"""
import enum as _enum
import os as _os

from . import _memfabric
from ._memfabric import (  # noqa: F401
    create_config_store,
    destroy_config_store,
    get_and_clear_last_err_msg,
    get_last_err_msg,
    initialize,
    set_conf_store_tls,
    set_conf_store_tls_key,
    strerror,
    uninitialize,
)



def set_log_level(level):
    """smem_set_log_level -> int: 0 debug, 1 info, 2 warn, 3 error (4 off)."""
    return _memfabric.set_log_level(level)


def set_extern_logger(log_fn):
    """Route the library's log lines to log_fn(level: int, message: str); None: back to stderr. -> int"""
    return _memfabric.set_extern_logger(log_fn)


for _name in dir(_memfabric):
    if _name.startswith("SMEM_"):
        globals()[_name] = getattr(_memfabric, _name)


class TransferRole(_enum.IntEnum):
    """Ours; the seed names roles with the strings 'Prefill' (sender) and 'Decode' (receiver)."""
    SENDER = _memfabric.SMEM_TRANS_SENDER
    RECEIVER = _memfabric.SMEM_TRANS_RECEIVER
    BOTH = _memfabric.SMEM_TRANS_BOTH


class TransferOpcode(_enum.IntEnum):
    """The seed's (its code spells the members Read/Write, its documentation READ/WRITE: both work)."""
    Read = 0
    Write = 1
    READ = 0
    WRITE = 1


class TransDataOpType(_enum.IntEnum):
    """TransferEngine.initialize's data_op_type: the BM data operation bits the seed accepts there.
    SDMA moves host memory here; DEVICE_RDMA needs a device transport (initialize returns
    SMEM_ERR_UNSUPPORTED with the library's message)."""
    SDMA = 1 << 0
    DEVICE_RDMA = 1 << 3


class TransferEngine(_memfabric.TransferEngine):
    __doc__ = _memfabric.TransferEngine.__doc__
    __slots__ = ()
    TransferOpcode = TransferOpcode
    TransDataOpType = TransDataOpType


class TlsConfig:
    """TLS files for BmConfig.hcom_tls / BmConfig.store_tls (paths up to 255 bytes)."""

    __slots__ = ("tls_enable", "ca_path", "crl_path", "cert_path", "key_path", "key_pass_path",
                 "decrypter_lib_path")

    def __init__(self, tls_enable=False, ca_path="", crl_path="", cert_path="", key_path="",
                 key_pass_path="", decrypter_lib_path=""):
        self.tls_enable = tls_enable
        self.ca_path = ca_path
        self.crl_path = crl_path
        self.cert_path = cert_path
        self.key_path = key_path
        self.key_pass_path = key_pass_path
        self.decrypter_lib_path = decrypter_lib_path


_HERE = _os.path.dirname(_os.path.abspath(__file__))


def _package_or_build_dir(sub, attr):
    # Installed: the headers and libsmem.so are in the package (cmake --install ... --component python).
    # Build tree: the paths CMake wrote into _build_paths.py.
    p = _os.path.join(_HERE, sub)
    if _os.path.isdir(p):
        return p
    try:
        from . import _build_paths
    except ImportError:
        raise FileNotFoundError(f"memfabric_hybrid: no {sub}/ next to {_HERE} and no build-tree paths") from None
    return _os.path.abspath(getattr(_build_paths, attr))


def get_include_path():
    """The directory to give the C compiler (-I): it holds smem/host/smem.h and memcache/."""
    return _package_or_build_dir("include", "INCLUDE_DIR")


def get_lib_path():
    """The directory holding libsmem.so (and libmmc.so), for -L and the runtime search path."""
    return _package_or_build_dir("lib", "LIB_DIR")


from . import bm, shm  # noqa: E402,F401

__all__ = [
    "initialize", "uninitialize", "set_log_level", "set_extern_logger", "get_last_err_msg",
    "get_and_clear_last_err_msg", "strerror", "create_config_store", "destroy_config_store",
    "set_conf_store_tls", "set_conf_store_tls_key", "TransferEngine", "TransferOpcode", "TransDataOpType",
    "TransferRole", "TlsConfig", "bm", "shm", "get_include_path", "get_lib_path",
]
