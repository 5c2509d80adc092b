"""memfabric_hybrid: Python bindings of libsmem (memfabric).

Top level: initialize/uninitialize, logging, the last error message, config
stores and the TransferEngine; submodules ``bm`` (pooled global memory) and
``shm`` (symmetric heap). Calls return the library's status codes (0 ok,
negative errors, see ``strerror``); factories (``bm.create``, ``shm.create``)
raise RuntimeError with the library's message. Wrong argument types or sizes
raise TypeError/ValueError. Every call that may block releases the GIL.
"""
from . import _memfabric
from ._memfabric import (  # noqa: F401
    TransferEngine,
    create_config_store,
    destroy_config_store,
    get_and_clear_last_err_msg,
    get_last_err_msg,
    initialize,
    set_conf_store_tls,
    set_extern_logger,
    set_log_level,
    strerror,
    uninitialize,
)
import enum as _enum

for _name in dir(_memfabric):
    if _name.startswith("SMEM_"):
        globals()[_name] = getattr(_memfabric, _name)


class TransferRole(_enum.IntEnum):
    SENDER = 0
    RECEIVER = 1
    BOTH = 2


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


from . import bm, shm  # noqa: E402,F401

__all__ = [
    "initialize", "uninitialize", "set_log_level", "set_extern_logger", "get_last_err_msg",
    "get_and_clear_last_err_msg", "strerror", "create_config_store", "destroy_config_store",
    "set_conf_store_tls", "TransferEngine", "TransferRole", "TlsConfig", "bm", "shm",
]
