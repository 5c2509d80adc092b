"""``mooncake.store`` on our store: ``MooncakeDistributedStore`` with Mooncake Store's Python surface.

A thin translation over memcache_hybrid.DistributedObjectStore and the core functions of _memcache:
argument shapes, names, return conventions (bytes read, per-key codes, counts) and Mooncake's
ErrorCode numbers. Storage semantics (leases, pins, upsert, eviction, replica copies) live in the
core. Segments: this process's LocalService is named by ``get_hostname()``; any LocalService may also
be named ``mmc-ls-<id>`` (its LocalService id). Thread rules: every method may be called from any
thread; the underlying calls release the GIL. See docs/API.md, "Mooncake Store compatibility".
"""
import concurrent.futures as _futures
import ctypes as _ctypes
import itertools as _itertools
import re as _re
import socket as _socket
import threading as _threading
import time as _time

from .. import DistributedObjectStore as _Store
from .. import KeyInfo as _KeyInfo
from .. import LocalConfig as _LocalConfig
from .. import MmcDirect as _Dir
from .. import _memcache
from ._codes import ErrorCode, from_mmc, from_mmc_list
from ._types import (  # noqa: F401
    BufferDescriptor,
    BufferHandle,
    MemoryDescriptor,
    QueryTaskResponse,
    ReplicaDescriptor,
    ReplicaStatus,
    ReplicaType,
    ReplicateConfig,
    SoftPinAction,
    TaskStatus,
    TaskType,
)

E = ErrorCode
_H2G, _G2H = int(_Dir.COPY_H2G), int(_Dir.COPY_G2H)
_SEG_PREFIX = "mmc-ls-"
_PROTOCOLS = {"tcp": "host_tcp", "rdma": "host_rdma", "shm": "host_shm"}
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
          "tib": 1 << 40}


def parse_size(v):
    """Bytes from an int or a size text ("512MB", "4 GiB", "1.5gb"); binary units, as Mooncake's."""
    if isinstance(v, bool):
        raise TypeError("size must be an int or a text such as '4GB'")
    if isinstance(v, int):
        if v < 0:
            raise ValueError("size must not be negative")
        return v
    if isinstance(v, float) and v >= 0:
        return int(v)
    m = _re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(v))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {v!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _url(addr, what):
    """A Mooncake 'host:port' address as one of our URLs (tcp://host:port); URLs pass through."""
    addr = str(addr).strip()
    if not addr:
        raise ValueError(f"{what}: empty address")
    if "://" in addr:
        return addr
    return "tcp://" + addr


_KEY_MAX = int(getattr(_memcache, "MMC_KEY_MAX", 256))
_BATCH_MAX = int(getattr(_memcache, "MMC_BATCH_MAX", 16384))


def _chunked(n, call):
    """call(lo, hi) over slices of at most MMC_BATCH_MAX items, results joined: a Mooncake batch of any
    length works, where our calls refuse one over the limit."""
    out = []
    for lo in range(0, n, _BATCH_MAX):
        out.extend(call(lo, min(n, lo + _BATCH_MAX)))
    return out


def _key_ok(key):
    """Whether the core takes this key (1..MMC_KEY_MAX UTF-8 bytes, no NUL); checked here so that a bad
    key is one key's INVALID_PARAMS, as Mooncake reports it, not an exception for the whole batch."""
    if not isinstance(key, str) or not key or "\x00" in key:
        return False
    try:
        return len(key.encode("utf-8")) <= _KEY_MAX
    except UnicodeEncodeError:
        return False


def _ptr_of(buf):
    """(address, size, keepalive) of a bytes-like value; read-only values are copied once."""
    mv = memoryview(buf).cast("B")
    n = mv.nbytes
    if n == 0:
        return 0, 0, None
    if not mv.readonly:
        c = (_ctypes.c_char * n).from_buffer(mv)
    else:
        c = (_ctypes.c_char * n).from_buffer_copy(mv)
    return _ctypes.addressof(c), n, c


def _gather(parts):
    """One contiguous copy of several bytes-like parts (put_parts, multi-buffer puts with pins)."""
    total = sum(memoryview(p).nbytes for p in parts)
    out = (_ctypes.c_char * max(total, 1))()
    off = 0
    for p in parts:
        mv = memoryview(p).cast("B")
        _ctypes.memmove(_ctypes.addressof(out) + off, bytes(mv) if mv.readonly else
                        (_ctypes.c_char * mv.nbytes).from_buffer(mv), mv.nbytes)
        off += mv.nbytes
    return _ctypes.addressof(out), total, out


class MooncakeDistributedStore:
    """Mooncake Store's client class on our store (see the module text)."""

    _TASK_WORKERS = 2

    def __init__(self):
        self._store = None
        self._hostname = ""
        self._client_only = False
        self._lock = _threading.Lock()
        self._registered = {}     # address -> size (unregister_buffer takes the address only)
        self._tasks = {}          # (hi, lo) -> QueryTaskResponse
        self._task_ids = _itertools.count(1)
        self._pool = None
        self._sessions = {}       # key -> gva of a put or get session

    # ---------- setup ----------
    def setup(self, local_hostname=None, metadata_server=None, global_segment_size=16 << 20,
              local_buffer_size=1 << 30, protocol="tcp", rdma_devices="", master_server_addr=None,
              *extra, **local_config):
        """Mooncake's setup: 7 positional arguments (more are accepted and ignored), or one dict with
        the same names (``device_name``/``master_server_address`` too). Starts this process's
        LocalService with global_segment_size bytes of DRAM; 0: a member that contributes no memory
        but reads and writes every peer (our dram_size 0). Keyword arguments beyond Mooncake's are LocalConfig fields (ours)."""
        if isinstance(local_hostname, dict):
            d = dict(local_hostname)
            local_hostname = d.pop("local_hostname", "localhost")
            metadata_server = d.pop("metadata_server", "")
            global_segment_size = d.pop("global_segment_size", 16 << 20)
            local_buffer_size = d.pop("local_buffer_size", 1 << 30)
            protocol = d.pop("protocol", "tcp")
            rdma_devices = d.pop("rdma_devices", d.pop("device_name", ""))
            master_server_addr = d.pop("master_server_addr", d.pop("master_server_address", None))
            local_config.update({k: v for k, v in d.items() if k in _LocalConfig.__dict__ or hasattr(_LocalConfig(), k)})
        if master_server_addr is None:
            raise TypeError("setup() needs master_server_addr (the MetaService, 'host:port')")
        # Mooncake's own keywords: the client HTTP server is not ours (metrics are mmc-meta's); SSD
        # offload and tenants need parts we do not have.
        local_config.pop("enable_client_http_server", None)
        local_config.pop("client_http_port", None)
        local_config.pop("ssd_offload_path", None)
        if local_config.pop("enable_ssd_offload", False):
            return int(E.NOT_IMPLEMENTED)
        if str(local_config.pop("tenant_id", "default") or "default") != "default":
            return int(E.NOT_IMPLEMENTED)
        try:
            seg = parse_size(global_segment_size)
            parse_size(local_buffer_size)
            proto = _PROTOCOLS.get(str(protocol).lower(), str(protocol))
            kw = dict(meta_service_url=_url(master_server_addr, "master_server_addr"), protocol=proto)
            ms = str(metadata_server or "")
            if ms.startswith(("tcp://", "unix://")):
                kw["config_store_url"] = ms
            # The segment is our dram_size; max_dram_size (the per-rank address stride, which every
            # LocalService of the cluster must share) stays the config default unless given.
            kw["dram_size"] = seg
            kw.update(local_config)
            cfg = _LocalConfig(**kw)
        except (TypeError, ValueError):
            return int(E.INVALID_PARAMS)
        return self._start(cfg, str(local_hostname or "localhost"), client_only=False)

    def setup_dummy(self, mem_pool_size, local_buffer_size, server_address, **local_config):
        """A client in a process that contributes no memory: metadata calls work, calls that copy
        bytes return UNAVAILABLE_IN_CURRENT_STATUS (our client-only mode, init(init_bm=False)).
        server_address: the MetaService ('host:port')."""
        try:
            parse_size(mem_pool_size)
            parse_size(local_buffer_size)
            cfg = _LocalConfig(meta_service_url=_url(server_address, "server_address"), **local_config)
        except (TypeError, ValueError):
            return int(E.INVALID_PARAMS)
        return self._start(cfg, _socket.gethostname(), client_only=True)

    def init_all(self, protocol, device_name, mount_segment_size=16 << 20, **local_config):
        """setup with our LocalConfig defaults (or MMC_LOCAL_CONFIG_PATH's file) for the addresses."""
        try:
            seg = parse_size(mount_segment_size)
            kw = dict(protocol=_PROTOCOLS.get(str(protocol).lower(), str(protocol)))
            kw["dram_size"] = seg
            kw.update(local_config)
            cfg = _LocalConfig(**kw)
        except (TypeError, ValueError):
            return int(E.INVALID_PARAMS)
        return self._start(cfg, _socket.gethostname(), client_only=False)

    def _start(self, cfg, hostname, client_only):
        with self._lock:
            if self._store is not None:
                return int(E.OK) if self._hostname == hostname else int(E.UNAVAILABLE_IN_CURRENT_STATUS)
            st = _Store()
            rc = st.setup(cfg)
            if rc == 0:
                rc = st.init(0, init_bm=not client_only)
            if rc != 0:
                st.close()
                return from_mmc(rc)
            self._store, self._hostname, self._client_only = st, hostname, client_only
            return 0

    def close(self):
        with self._lock:
            st, self._store = self._store, None
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        if st is not None:
            st.close()
        return 0

    def health_check(self):
        """0: set up and the MetaService answers; otherwise Mooncake's error number."""
        st = self._store
        if st is None:
            return int(E.UNAVAILABLE_IN_CURRENT_STATUS)
        rc = st.is_exist("__mooncake_health_check__")
        return 0 if rc >= 0 else from_mmc(rc)

    def get_hostname(self):
        """This process's segment name: the local_hostname given to setup."""
        return self._hostname

    def _st(self):
        st = self._store
        if st is None:
            raise RuntimeError("MooncakeDistributedStore is not set up (call setup first)")
        return st

    # ---------- segments and configs ----------
    def _own_id(self):
        sid = self._st().get_local_service_id()
        return sid if sid >= 0 else None

    def _resolve_segment(self, name):
        if isinstance(name, int):
            return name
        name = str(name)
        if name == self._hostname or name == self._hostname.split(":")[0]:
            return self._own_id()
        if name.startswith(_SEG_PREFIX) and name[len(_SEG_PREFIX):].isdigit():
            return int(name[len(_SEG_PREFIX):])
        return None

    def _segment_name(self, sid):
        return self._hostname if sid == self._own_id() else f"{_SEG_PREFIX}{sid}"

    def _cfg(self, config):
        """(our ReplicateConfig or None, soft_pin, hard_pin); ValueError for an unknown segment."""
        if config is None:
            return None, False, False
        if not isinstance(config, ReplicateConfig):
            raise TypeError(f"config must be a ReplicateConfig, not {type(config).__name__}")
        rc = config.to_mmc(self._resolve_segment)
        if config.prefer_alloc_in_same_node and not rc.preferredLocalServiceIDs and self._own_id() is not None:
            rc.preferredLocalServiceIDs = [self._own_id()]
        return rc, config.soft_pin(), bool(config.with_hard_pin)

    # ---------- put ----------
    def _put_addrs(self, keys, addrs, sizes, config, upsert=False):
        """The one put path: per-key Mooncake codes (a key beyond the limits: INVALID_PARAMS)."""
        try:
            rcfg, soft, hard = self._cfg(config)
        except (TypeError, ValueError):
            return [int(E.INVALID_PARAMS)] * len(keys)
        bad = [not _key_ok(k) or not isinstance(n, int) or n <= 0 for k, n in zip(keys, sizes)]
        if any(bad):
            ok = [i for i, b in enumerate(bad) if not b]
            res = [int(E.INVALID_PARAMS)] * len(keys)
            if ok:
                sub = self._put_addrs([keys[i] for i in ok], [addrs[i] for i in ok], [sizes[i] for i in ok],
                                      config, upsert)
                for i, rc in zip(ok, sub):
                    res[i] = rc
            return res
        if len(keys) > _BATCH_MAX:
            return _chunked(len(keys), lambda lo, hi: self._put_addrs(keys[lo:hi], addrs[lo:hi], sizes[lo:hi],
                                                                      config, upsert))
        fn = _memcache.batch_upsert if upsert else _memcache.batch_put_ex
        return from_mmc_list(fn(list(keys), list(addrs), list(sizes), rcfg, soft, hard))

    def put(self, key, value, config=None):
        a, n, keep = _ptr_of(value)
        return self._put_addrs([key], [a], [n], config)[0]

    def put_parts(self, key, *parts, config=None):
        a, n, keep = _gather(parts)
        return self._put_addrs([key], [a], [n], config)[0]

    def put_batch(self, keys, values, config=None):
        """0, or the first failing key's code (Mooncake's single status)."""
        if len(keys) != len(values):
            return int(E.INVALID_PARAMS)
        held = [_ptr_of(v) for v in values]
        rcs = self._put_addrs(keys, [h[0] for h in held], [h[1] for h in held], config)
        return next((rc for rc in rcs if rc != 0), 0)

    def put_from(self, key, buffer_ptr, size, config=None):
        return self._put_addrs([key], [buffer_ptr], [size], config)[0]

    def batch_put_from(self, keys, buffer_ptrs, sizes, config=None):
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [int(E.INVALID_PARAMS)] * len(keys)
        return self._put_addrs(keys, buffer_ptrs, sizes, config)

    def put_from_with_metadata(self, key, buffer_ptr, metadata_buffer_ptr, size, metadata_size, config=None):
        """One object: the metadata bytes followed by the data bytes (Mooncake's layout). As Mooncake's,
        prefer_alloc_in_same_node is refused here (INTERNAL_ERROR)."""
        if config is not None and getattr(config, "prefer_alloc_in_same_node", False):
            return int(E.INTERNAL_ERROR)
        return self.batch_put_from_multi_buffers([key], [[metadata_buffer_ptr, buffer_ptr]],
                                                 [[metadata_size, size]], config)[0]

    def batch_put_from_multi_buffers(self, keys, all_buffer_ptrs, all_sizes, config=None):
        """Each key's object is its buffers concatenated in order."""
        if not len(keys) == len(all_buffer_ptrs) == len(all_sizes):
            return [int(E.INVALID_PARAMS)] * len(keys)
        try:
            rcfg, soft, hard = self._cfg(config)
        except (TypeError, ValueError):
            return [int(E.INVALID_PARAMS)] * len(keys)
        if not soft and not hard:
            # Straight from the caller's buffers (no gathering copy): the layered put of our store.
            ok = [i for i, k in enumerate(keys) if _key_ok(k) and len(all_sizes[i]) == len(all_buffer_ptrs[i])
                  and all_sizes[i] and all(isinstance(n, int) and n > 0 for n in all_sizes[i])]
            res = [int(E.INVALID_PARAMS)] * len(keys)
            if ok:
                rcs = self._st().batch_put_from_layers([keys[i] for i in ok], [list(all_buffer_ptrs[i]) for i in ok],
                                                       [list(all_sizes[i]) for i in ok], _H2G, rcfg)
                for i, rc in zip(ok, rcs):
                    res[i] = from_mmc(rc)
            return res
        held = []
        for ptrs, sizes in zip(all_buffer_ptrs, all_sizes):
            held.append(_gather([(_ctypes.c_char * s).from_address(p) for p, s in zip(ptrs, sizes)]))
        return self._put_addrs(keys, [h[0] for h in held], [h[1] for h in held], config)

    # ---------- upsert ----------
    def upsert(self, key, value, config=None):
        a, n, keep = _ptr_of(value)
        return self._put_addrs([key], [a], [n], config, upsert=True)[0]

    def upsert_parts(self, key, *parts, config=None):
        a, n, keep = _gather(parts)
        return self._put_addrs([key], [a], [n], config, upsert=True)[0]

    def upsert_batch(self, keys, values, config=None):
        if len(keys) != len(values):
            return int(E.INVALID_PARAMS)
        held = [_ptr_of(v) for v in values]
        rcs = self._put_addrs(keys, [h[0] for h in held], [h[1] for h in held], config, upsert=True)
        return next((rc for rc in rcs if rc != 0), 0)

    def upsert_from(self, key, buffer_ptr, size, config=None):
        return self._put_addrs([key], [buffer_ptr], [size], config, upsert=True)[0]

    def batch_upsert_from(self, keys, buffer_ptrs, sizes, config=None):
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [int(E.INVALID_PARAMS)] * len(keys)
        return self._put_addrs(keys, buffer_ptrs, sizes, config, upsert=True)

    # ---------- get ----------
    def _infos(self, keys):
        """KeyInfo per key, each with a read lease (as Mooncake's query grants); a bad key: an empty KeyInfo
        whose status is MMC_INVALID_PARAM."""
        fn = _memcache.batch_key_info_lease
        ok = [i for i, k in enumerate(keys) if _key_ok(k)]
        sel = [keys[i] for i in ok]
        got = _chunked(len(sel), lambda lo, hi: list(fn(sel[lo:hi])))
        out = [_KeyInfo(status=_memcache.MMC_INVALID_PARAM) for _ in keys]
        for i, info in zip(ok, got):
            out[i] = info
        return out

    @staticmethod
    def _info_rc(info):
        """0 for a readable key, else Mooncake's code (absent: OBJECT_NOT_FOUND)."""
        if info.size() > 0 or getattr(info, "valid", False):
            return 0
        status = getattr(info, "status", 0)
        return from_mmc(status) if status < 0 else int(E.OBJECT_NOT_FOUND)

    def get(self, key):
        """The object's bytes; b"" when absent or on error."""
        return self.get_batch([key])[0]

    def get_batch(self, keys):
        st = self._st()
        return self._per_key(keys, lambda ks: st.get_batch(ks)) if all(_key_ok(k) for k in keys) else \
            [st.get(k) if _key_ok(k) else b"" for k in keys]

    def get_buffer(self, key):
        """A BufferHandle with the object's bytes, or None when absent."""
        return self.batch_get_buffer([key])[0]

    def batch_get_buffer(self, keys):
        if self._client_only:
            return [None] * len(keys)
        out = []
        for key, info in zip(keys, self._infos(keys)):
            if self._info_rc(info) != 0:
                out.append(None)
                continue
            h = BufferHandle(info.size())
            out.append(h if self._st().get_into(key, h) == 0 else None)
        return out

    def get_into(self, key, buffer_ptr, size):
        """Bytes read, or a negative Mooncake code."""
        return self.batch_get_into([key], [buffer_ptr], [size])[0]

    def batch_get_into(self, keys, buffer_ptrs, sizes):
        """Per key: bytes read, or a negative Mooncake code (a buffer smaller than the object:
        BUFFER_OVERFLOW; nothing is written then)."""
        if not len(keys) == len(buffer_ptrs) == len(sizes):
            return [int(E.INVALID_PARAMS)] * len(keys)
        res = [0] * len(keys)
        pending = []
        for i, info in enumerate(self._infos(keys)):
            rc = self._info_rc(info)
            if rc == 0 and info.size() > sizes[i]:
                rc = int(E.BUFFER_OVERFLOW)
            res[i] = rc if rc != 0 else info.size()
            if rc == 0:
                pending.append(i)
        if pending:
            rcs = self._st().batch_get_into([keys[i] for i in pending], [buffer_ptrs[i] for i in pending],
                                            [res[i] for i in pending], _G2H)
            for i, rc in zip(pending, rcs):
                if rc != 0:
                    res[i] = from_mmc(rc)
        return res

    def batch_get_into_multi_buffers(self, keys, all_buffer_ptrs, all_sizes, prefer_same_node=True):
        """Per key: bytes read into its buffers in order; the buffers may hold more than the object
        (the tail is left as it was); fewer bytes than the object: BUFFER_OVERFLOW."""
        if not len(keys) == len(all_buffer_ptrs) == len(all_sizes):
            return [int(E.INVALID_PARAMS)] * len(keys)
        res = [0] * len(keys)
        pending, ptrs, szs = [], [], []
        for i, info in enumerate(self._infos(keys)):
            rc = self._info_rc(info)
            if rc != 0:
                res[i] = rc
                continue
            left, p2, s2 = info.size(), [], []
            for p, s in zip(all_buffer_ptrs[i], all_sizes[i]):
                if left == 0:
                    break
                take = min(s, left)
                p2.append(p)
                s2.append(take)
                left -= take
            if left:
                res[i] = int(E.BUFFER_OVERFLOW)
                continue
            res[i] = info.size()
            pending.append(i)
            ptrs.append(p2)
            szs.append(s2)
        if pending:
            rcs = self._st().batch_get_into_layers([keys[i] for i in pending], ptrs, szs, _G2H)
            for i, rc in zip(pending, rcs):
                if rc != 0:
                    res[i] = from_mmc(rc)
        return res

    def _dst_ok(self, addr, n):
        """A destination range must fit the registered buffer it starts in (when registered)."""
        for base, size in self._registered.items():
            if base <= addr < base + size:
                return addr + n <= base + size
        return True

    def get_into_ranges(self, buffer_ptrs, all_keys, all_dst_offsets, all_src_offsets, all_sizes):
        """results[i][j][k]: bytes of fragment k of key j copied into buffer i, or a negative code."""
        n = len(buffer_ptrs)
        if not (len(all_keys) == len(all_dst_offsets) == len(all_src_offsets) == len(all_sizes) == n):
            return [[[int(E.INVALID_PARAMS)]] for _ in range(n)]
        uniq = sorted({k for ks in all_keys for k in ks})
        data = dict(zip(uniq, self.batch_get_buffer(uniq))) if uniq else {}
        out = []
        for i in range(n):
            per_key = []
            for j, key in enumerate(all_keys[i]):
                try:
                    dsts, srcs, lens = all_dst_offsets[i][j], all_src_offsets[i][j], all_sizes[i][j]
                except IndexError:
                    per_key.append([int(E.INVALID_PARAMS)])
                    continue
                if not len(dsts) == len(srcs) == len(lens):
                    per_key.append([int(E.INVALID_PARAMS)] * max(len(dsts), len(srcs), len(lens), 1))
                    continue
                obj = data.get(key)
                frags = []
                for d, s, ln in zip(dsts, srcs, lens):
                    if obj is None:
                        frags.append(int(E.OBJECT_NOT_FOUND))
                    elif s < 0 or d < 0 or ln < 0 or s + ln > len(obj) or not self._dst_ok(buffer_ptrs[i] + d, ln):
                        frags.append(int(E.INVALID_PARAMS))
                    else:
                        if ln:
                            _ctypes.memmove(buffer_ptrs[i] + d, obj.ptr() + s, ln)
                        frags.append(ln)
                per_key.append(frags)
            out.append(per_key)
        return out

    # ---------- put/get sessions (allocate, copy ranges, publish) ----------
    def batch_put_session_start(self, keys, sizes):
        """Allocates each object (not readable until batch_put_session_end): per-key codes."""
        gvas = self._st().batch_alloc(list(keys), list(sizes))
        out = []
        for k, g in zip(keys, gvas):
            if g > 0:
                self._sessions[("put", k)] = g
                out.append(0)
            else:
                out.append(from_mmc(g) if g < 0 else int(E.INTERNAL_ERROR))
        return out

    def _session_copy(self, kind, keys, all_buffers, all_sizes, all_offsets, direct):
        if not len(keys) == len(all_buffers) == len(all_sizes) == len(all_offsets):
            return [int(E.INVALID_PARAMS)] * len(keys)
        out = []
        for k, bufs, szs, offs in zip(keys, all_buffers, all_sizes, all_offsets):
            g = self._sessions.get((kind, k))
            if g is None:
                out.append(int(E.UNAVAILABLE_IN_CURRENT_STATUS))
                continue
            if not len(bufs) == len(szs) == len(offs):
                out.append(int(E.INVALID_PARAMS))
                continue
            rc = self._st().batch_copy([g + o for o in offs], list(bufs), list(szs), direct)
            out.append(sum(szs) if rc == 0 else from_mmc(rc))
        return out

    def batch_put_from_multi_buffer_ranges(self, keys, all_buffers, all_sizes, all_dst_offsets):
        """Per key: bytes written at the given offsets of its session's object, or a negative code."""
        return self._session_copy("put", keys, all_buffers, all_sizes, all_dst_offsets, _H2G)

    def _put_session_finish(self, keys, res):
        rcs = self._st().batch_write_finish(list(keys), [res] * len(keys))
        for k in keys:
            self._sessions.pop(("put", k), None)
        return from_mmc_list(rcs)

    def batch_put_session_end(self, keys):
        """Publishes the objects: per-key codes."""
        return self._put_session_finish(keys, 0)

    def batch_put_session_revoke(self, keys):
        """Drops the objects of unfinished sessions: per-key codes."""
        return self._put_session_finish(keys, -1)

    def batch_get_session_start(self, keys):
        """Takes a read lease on each key (the bytes cannot be evicted or removed until
        batch_get_session_end): per-key codes."""
        st = self._st()
        rcs = st.batch_add_lease(list(keys))
        out = []
        for k, rc, info in zip(keys, rcs, st.batch_get_key_info(list(keys))):
            if rc == 0 and info.gva_list():
                self._sessions[("get", k)] = info.gva_list()[0]
            out.append(from_mmc(rc) if rc != 0 else (0 if info.gva_list() else int(E.OBJECT_NOT_FOUND)))
        return out

    def batch_get_into_multi_buffer_ranges(self, keys, all_buffers, all_sizes, all_src_offsets):
        return self._session_copy("get", keys, all_buffers, all_sizes, all_src_offsets, _G2H)

    def batch_get_session_end(self, keys):
        """Releases the leases: 0, or the first failure."""
        for k in keys:
            self._sessions.pop(("get", k), None)
        return from_mmc(self._st().batch_remove_lease(list(keys)))

    # ---------- queries ----------
    def is_exist(self, key):
        """1 readable, 0 absent, negative: Mooncake's error code. Grants a read lease (core)."""
        return self.batch_is_exist([key])[0]

    def batch_is_exist(self, keys):
        fn = _memcache.batch_exist_lease
        return self._per_key(keys, lambda ks: [rc if rc >= 0 else from_mmc(rc) for rc in fn(ks)])

    @staticmethod
    def _per_key(keys, call):
        """call(valid keys) -> per-key results; keys beyond the limits get INVALID_PARAMS."""
        ok = [i for i, k in enumerate(keys) if _key_ok(k)]
        res = [int(E.INVALID_PARAMS)] * len(keys)
        sel = [keys[i] for i in ok]
        for i, rc in zip(ok, _chunked(len(sel), lambda lo, hi: call(sel[lo:hi]))):
            res[i] = rc
        return res

    def get_size(self, key):
        """Object size in bytes, or a negative Mooncake code (absent: OBJECT_NOT_FOUND)."""
        info = self._infos([key])[0]
        rc = self._info_rc(info)
        return info.size() if rc == 0 else rc

    def _descs(self, info):
        n = info.size()
        return [ReplicaDescriptor(MemoryDescriptor(BufferDescriptor(n, gva, "tcp", self._segment_name(loc))),
                                  self._segment_name(loc), loc, media)
                for loc, media, gva in zip(info.loc_list(), info.type_list(), info.gva_list())]

    def get_replica_desc(self, key):
        """The key's replicas (memory replicas); [] when absent. Grants a read lease (core)."""
        return self._descs(self._infos([key])[0])

    def batch_get_replica_desc(self, keys):
        """{key: [ReplicaDescriptor]} for the keys that have replicas."""
        out = {}
        for k, info in zip(keys, self._infos(keys)):
            d = self._descs(info)
            if d:
                out[k] = d
        return out

    # ---------- remove ----------
    def remove(self, key, force=False):
        return self.batch_remove([key], force)[0]

    def batch_remove(self, keys, force=False):
        """Per-key codes; a key under a read lease is refused (OBJECT_HAS_LEASE) unless force."""
        return self._per_key(keys, lambda ks: from_mmc_list(_memcache.batch_remove_ex(ks, bool(force))))

    def remove_by_regex(self, regex, force=False):
        """Number of objects removed, or a negative code."""
        try:
            _re.compile(regex)
        except (_re.error, TypeError):
            return int(E.INVALID_PARAMS)
        return from_mmc(_memcache.remove_by_regex(regex, bool(force)))

    def remove_all(self, force=False):
        """Number of objects removed, or a negative code."""
        return from_mmc(_memcache.remove_all_ex(bool(force)))

    # ---------- buffers ----------
    def register_buffer(self, buffer_ptr, size):
        rc = self._st().register_buffer(buffer_ptr, size)
        if rc == 0:
            self._registered[buffer_ptr] = size
        return from_mmc(rc)

    def unregister_buffer(self, buffer_ptr):
        size = self._registered.get(buffer_ptr)
        if size is None:
            return int(E.INVALID_PARAMS)
        rc = self._st().unregister_buffer(buffer_ptr, size)
        if rc == 0:
            del self._registered[buffer_ptr]
        return from_mmc(rc)

    # ---------- replicas and tasks ----------
    def batch_replica_clear(self, keys, segment_name=""):
        """Drops the keys' replicas on one segment ("" : every replica); returns the keys cleared."""
        sid = -1
        if segment_name:
            sid = self._resolve_segment(segment_name)
            if sid is None:
                return []
        rcs = _memcache.batch_replica_clear(list(keys), sid)
        return [k for k, rc in zip(keys, rcs) if rc == 0]

    def _submit(self, kind, key, run):
        with self._lock:
            if self._pool is None:
                self._pool = _futures.ThreadPoolExecutor(self._TASK_WORKERS, thread_name_prefix="mc-task")
            tid = (int(_time.time() * 1e6), next(self._task_ids))
            now = int(_time.time() * 1000)
            resp = QueryTaskResponse(id=tid, type=kind, status=TaskStatus.PENDING, message="", key=key,
                                     created_at_ms_epoch=now, last_updated_at_ms_epoch=now,
                                     assigned_client=self._hostname, error_code=0)
            self._tasks[tid] = resp

        def body():
            resp.status = TaskStatus.PROCESSING
            try:
                rc = run()
            except Exception as e:  # noqa: BLE001 - reported through the task, as Mooncake's
                rc, resp.message = int(E.INTERNAL_ERROR), str(e)
            resp.error_code = from_mmc(rc)
            resp.status = TaskStatus.SUCCESS if rc == 0 else TaskStatus.FAILED
            if rc != 0 and not resp.message:
                resp.message = _memcache.strerror(rc)
            resp.last_updated_at_ms_epoch = int(_time.time() * 1000)
        self._pool.submit(body)
        return tid, 0

    def create_copy_task(self, key, targets):
        """(task id, 0), or ((0, 0), code). The task adds a replica of key on each target segment."""
        ids = [self._resolve_segment(t) for t in targets]
        if not targets or None in ids:
            return (0, 0), int(E.INVALID_PARAMS)
        return self._submit(TaskType.REPLICA_COPY, key, lambda: _memcache.replica_copy(key, ids))

    def create_move_task(self, key, source, target):
        """(task id, 0), or ((0, 0), code). The task moves key's replica from source to target."""
        src, dst = self._resolve_segment(source), self._resolve_segment(target)
        if src is None or dst is None:
            return (0, 0), int(E.INVALID_PARAMS)
        return self._submit(TaskType.REPLICA_MOVE, key, lambda: _memcache.replica_move(key, src, dst))

    def query_task(self, task_id):
        """(QueryTaskResponse, 0), or (None, TASK_NOT_FOUND)."""
        resp = self._tasks.get(tuple(task_id) if not isinstance(task_id, tuple) else task_id)
        return (resp, 0) if resp is not None else (None, int(E.TASK_NOT_FOUND))

    # ---------- parts we do not have ----------
    def mount_segment(self, path, size, offset=0, protocol="tcp", location=""):
        """Not supported: our LocalService's pool is sized at setup (dram_size up to max_dram_size)."""
        return {"ret": int(E.NOT_IMPLEMENTED), "segment_ids": []}

    def unmount_segment(self, segment_ids):
        return int(E.NOT_IMPLEMENTED)

    def allocate_and_mount_segment(self, size, protocol="tcp", location=""):
        return {"ret": int(E.NOT_IMPLEMENTED), "segment_ids": [], "allocated_size": 0}

    def unmount_and_free_segment(self, segment_ids):
        return int(E.NOT_IMPLEMENTED)

    def alloc_from_mem_pool(self, size):
        """Not supported (no client-side buffer pool here): 0, Mooncake's failure value."""
        return 0

    # ---------- tensor API ----------
    # The tensor methods are engineer T's: python/memcache_hybrid/mooncake/_tensor.py, functions that
    # take the underlying DistributedObjectStore first. They are attached below by _attach_tensor_api.


_TENSOR_METHODS = (
    "put_tensor", "get_tensor", "batch_put_tensor", "batch_get_tensor", "pub_tensor", "batch_pub_tensor",
    "get_tensor_into", "batch_get_tensor_into", "put_tensor_from", "batch_put_tensor_from",
    "upsert_tensor", "batch_upsert_tensor", "upsert_pub_tensor", "batch_upsert_pub_tensor",
    "upsert_tensor_from", "batch_upsert_tensor_from",
    "put_tensor_with_tp", "get_tensor_with_tp", "batch_put_tensor_with_tp", "batch_get_tensor_with_tp",
    "pub_tensor_with_tp", "batch_pub_tensor_with_tp", "get_tensor_with_tp_into",
    "batch_get_tensor_with_tp_into", "put_tensor_with_tp_from", "batch_put_tensor_with_tp_from",
    "put_tensor_with_parallelism", "batch_put_tensor_with_parallelism", "get_tensor_with_parallelism",
    "batch_get_tensor_with_parallelism", "get_tensor_with_parallelism_into",
    "batch_get_tensor_with_parallelism_into", "upsert_tensor_with_parallelism",
    "batch_upsert_tensor_with_parallelism",
)


class _TensorView:
    """What the tensor functions see of a MooncakeDistributedStore: the underlying DistributedObjectStore's
    calls (statuses MMC_*, mapped to Mooncake's by translate_rc), with Mooncake's ReplicateConfig turned
    into ours and its pins applied on the way in, and the core's upsert."""

    translate_rc = staticmethod(from_mmc)

    def __init__(self, mc):
        self._mc = mc
        self._store = mc._st()

    def __getattr__(self, name):
        return getattr(self._store, name)

    def batch_put_from_layers(self, keys, buffer_ptrs, sizes, replicateConfig=None):
        rcfg, soft, hard = self._mc._cfg(replicateConfig)
        if not (soft or hard):
            return self._store.batch_put_from_layers(keys, buffer_ptrs, sizes, _H2G, rcfg)
        # pinned: the core's pinned put takes one buffer per key (header and data side by side)
        held = [_gather([(_ctypes.c_char * n).from_address(a) for a, n in zip(ps, ns)])
                for ps, ns in zip(buffer_ptrs, sizes)]
        return _memcache.batch_put_ex(list(keys), [h[0] for h in held], [h[1] for h in held], rcfg, soft, hard)

    def upsert(self, key, addr, size, config=None):
        rcfg, soft, hard = self._mc._cfg(config)
        return _memcache.upsert(key, addr, size, rcfg, soft, hard)


def _attach_tensor_api():
    from . import _tensor

    def make(name):
        fn = getattr(_tensor, name)

        def method(self, *args, **kwargs):
            return fn(_TensorView(self), *args, **kwargs)
        method.__name__ = name
        method.__doc__ = f"Mooncake's {name}: memcache_hybrid.mooncake._tensor.{name} on this store."
        return method
    for name in _TENSOR_METHODS:
        if hasattr(_tensor, name):  # the *_with_parallelism forms are not built (docs/API.md)
            setattr(MooncakeDistributedStore, name, make(name))


_attach_tensor_api()
