"""Mooncake Store's status numbers (its ErrorCode values) and the translation from our MMC_* codes.

The Mooncake-compatible class returns these numbers, never MMC_* ones, so callers that test for
Mooncake's values (vLLM backs off on NO_AVAILABLE_HANDLE, -200) behave as they do on Mooncake."""
import enum as _enum

from .. import _memcache


class ErrorCode(_enum.IntEnum):
    OK = 0
    INTERNAL_ERROR = -1
    NOT_IMPLEMENTED = -2
    BUFFER_OVERFLOW = -10
    SEGMENT_NOT_FOUND = -101
    NO_AVAILABLE_HANDLE = -200
    INVALID_KEY = -400
    WRITE_FAIL = -500
    INVALID_PARAMS = -600
    ILLEGAL_CLIENT = -601
    INVALID_WRITE = -700
    INVALID_READ = -701
    REPLICA_IS_NOT_READY = -703
    OBJECT_NOT_FOUND = -704
    OBJECT_ALREADY_EXISTS = -705
    OBJECT_HAS_LEASE = -706
    LEASE_EXPIRED = -707
    REPLICA_NOT_FOUND = -710
    TRANSFER_FAIL = -800
    RPC_FAIL = -900
    UNAVAILABLE_IN_CURRENT_STATUS = -1010
    UNABLE_OFFLOAD = -1300
    TASK_NOT_FOUND = -1400
    SHUTTING_DOWN = -1600


E = ErrorCode

# One row per MMC_* status: the Mooncake code a Mooncake caller expects for the same condition.
_FROM_MMC = {
    "OK": E.OK,
    "ERROR": E.INTERNAL_ERROR,
    "INVALID_PARAM": E.INVALID_PARAMS,
    "MALLOC_FAILED": E.INTERNAL_ERROR,
    "TIMEOUT": E.RPC_FAIL,
    "DUPLICATED_OBJECT": E.OBJECT_ALREADY_EXISTS,
    "OBJECT_NOT_READY": E.REPLICA_IS_NOT_READY,
    "NOT_INITIALIZED": E.UNAVAILABLE_IN_CURRENT_STATUS,
    "EXCEEDS_CAPACITY": E.NO_AVAILABLE_HANDLE,
    "LINK_NOT_FOUND": E.SEGMENT_NOT_FOUND,
    "NOT_ENOUGH_MEMORY": E.NO_AVAILABLE_HANDLE,
    "NOT_CONNECTED": E.RPC_FAIL,
    "UNMATCHED_STATE": E.UNAVAILABLE_IN_CURRENT_STATUS,
    "KEY_NOT_FOUND": E.OBJECT_NOT_FOUND,
    "LEASE_NOT_EXPIRED": E.OBJECT_HAS_LEASE,
    "PROTOCOL": E.RPC_FAIL,
    "CONFIG": E.INVALID_PARAMS,
    "UNSUPPORTED": E.NOT_IMPLEMENTED,
    "BUFFER_TOO_SMALL": E.BUFFER_OVERFLOW,
    "LEASE_LOST": E.LEASE_EXPIRED,
    "LEASE_NOT_OWNER": E.OBJECT_HAS_LEASE,
    "NOT_PERMITTED": E.ILLEGAL_CLIENT,
}
_BY_VALUE = {getattr(_memcache, "MMC_" + n): int(c) for n, c in _FROM_MMC.items() if hasattr(_memcache, "MMC_" + n)}


def from_mmc(rc):
    """Mooncake's number for one of our statuses (0 and positive counts pass through)."""
    if rc >= 0:
        return rc
    return _BY_VALUE.get(rc, int(E.INTERNAL_ERROR))


def from_mmc_list(rcs):
    return [from_mmc(rc) for rc in rcs]
