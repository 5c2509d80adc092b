"""Mooncake Store's value types, enums and descriptors, as plain Python objects."""
import ctypes as _ctypes
import enum as _enum

from .. import ReplicateConfig as _MmcReplicateConfig


class SoftPinAction(_enum.IntEnum):
    PRESERVE = 0
    ENABLE = 1
    DISABLE = 2


class ReplicaType(_enum.IntEnum):
    MEMORY = 0
    DISK = 1
    LOCAL_DISK = 2
    NOF_SSD = 3
    ALL = 4


class ReplicaStatus(_enum.IntEnum):
    UNDEFINED = 0
    INITIALIZED = 1
    PROCESSING = 2
    COMPLETE = 3
    REMOVED = 4
    FAILED = 5


class TaskType(_enum.IntEnum):
    REPLICA_COPY = 0
    REPLICA_MOVE = 1


class TaskStatus(_enum.IntEnum):
    PENDING = 0
    PROCESSING = 1
    SUCCESS = 2
    FAILED = 3


class ReplicateConfig:
    """Mooncake's put options. Translated per call into our ReplicateConfig (replica count, preferred
    LocalServices) plus the pin flags of the core's put/upsert."""

    def __init__(self, replica_num=1, with_soft_pin=False, with_hard_pin=False, preferred_segment="",
                 preferred_segments=None, prefer_alloc_in_same_node=False, soft_pin_action=None,
                 soft_pin_ttl_ms=0):
        self.replica_num = replica_num
        self.with_soft_pin = with_soft_pin
        self.with_hard_pin = with_hard_pin
        self.preferred_segment = preferred_segment
        self.preferred_segments = list(preferred_segments or [])
        self.prefer_alloc_in_same_node = prefer_alloc_in_same_node
        self.soft_pin_action = soft_pin_action
        self.soft_pin_ttl_ms = soft_pin_ttl_ms

    def soft_pin(self):
        """Whether this put asks for a soft pin: soft_pin_action wins over with_soft_pin when set."""
        if self.soft_pin_action is not None and int(self.soft_pin_action) != SoftPinAction.PRESERVE:
            return int(self.soft_pin_action) == SoftPinAction.ENABLE
        return bool(self.with_soft_pin)

    def segments(self):
        names = [self.preferred_segment] if self.preferred_segment else []
        return names + [s for s in self.preferred_segments if s and s not in names]

    def to_mmc(self, resolve_segment):
        """Our ReplicateConfig; resolve_segment maps a segment name to a LocalService id (None: unknown)."""
        ids = []
        for name in self.segments():
            sid = resolve_segment(name)
            if sid is None:
                raise ValueError(f"unknown segment {name!r}")
            ids.append(sid)
        return _MmcReplicateConfig(replicaNum=int(self.replica_num), preferredLocalServiceIDs=ids)

    def __repr__(self):
        return (f"ReplicateConfig(replica_num={self.replica_num}, with_soft_pin={self.with_soft_pin}, "
                f"with_hard_pin={self.with_hard_pin}, preferred_segment={self.preferred_segment!r}, "
                f"preferred_segments={self.preferred_segments!r})")

    __str__ = __repr__


class BufferDescriptor:
    __slots__ = ("size", "buffer_address", "protocol", "transport_endpoint")

    def __init__(self, size=0, buffer_address=0, protocol="tcp", transport_endpoint=""):
        self.size, self.buffer_address = size, buffer_address
        self.protocol, self.transport_endpoint = protocol, transport_endpoint

    def __repr__(self):
        return (f"BufferDescriptor(size={self.size}, buffer_address={self.buffer_address:#x}, "
                f"protocol={self.protocol!r}, transport_endpoint={self.transport_endpoint!r})")


class MemoryDescriptor:
    __slots__ = ("buffer_descriptor",)

    def __init__(self, buffer_descriptor):
        self.buffer_descriptor = buffer_descriptor

    def __repr__(self):
        return f"MemoryDescriptor({self.buffer_descriptor!r})"


class ReplicaDescriptor:
    """One replica of a key: always a memory replica here (DRAM or device memory of a LocalService)."""

    __slots__ = ("status", "_memory", "segment_name", "local_service_id", "media")

    def __init__(self, memory, segment_name, local_service_id, media, status=ReplicaStatus.COMPLETE):
        self.status, self._memory = status, memory
        self.segment_name, self.local_service_id, self.media = segment_name, local_service_id, media

    def is_memory_replica(self):
        return True

    def is_disk_replica(self):
        return False

    def is_local_disk_replica(self):
        return False

    def get_memory_descriptor(self):
        return self._memory

    def get_disk_descriptor(self):
        raise RuntimeError("not a disk replica (this store has no disk tier)")

    def __repr__(self):
        return f"ReplicaDescriptor(segment={self.segment_name!r}, {self._memory!r}, status={self.status.name})"


class QueryTaskResponse:
    __slots__ = ("id", "type", "status", "message", "created_at_ms_epoch", "last_updated_at_ms_epoch",
                 "assigned_client", "key", "error_code")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def __repr__(self):
        return f"QueryTaskResponse(id={self.id}, type={self.type!r}, status={self.status!r}, message={self.message!r})"


class BufferHandle(bytearray):
    """An object's bytes (get_buffer): the buffer protocol, len(), ptr() and size() as Mooncake's.
    The memory is this object's own, freed with it."""

    def ptr(self):
        if not len(self):
            return 0
        return _ctypes.addressof((_ctypes.c_char * len(self)).from_buffer(self))

    def size(self):
        return len(self)
