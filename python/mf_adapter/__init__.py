"""mf_adapter: the seed's transfer-only package name (its mk_transfer_adapter), over memfabric_hybrid.

The seed ships the TransferEngine also as this smaller package and recommends memfabric_hybrid;
programs that import it get the same objects as memfabric_hybrid's."""
from memfabric_hybrid import TransferEngine, TransferOpcode, TransDataOpType  # noqa: F401
from memfabric_hybrid import create_config_store, set_conf_store_tls, set_log_level  # noqa: F401

__all__ = ["TransferEngine", "set_log_level", "create_config_store", "set_conf_store_tls"]
