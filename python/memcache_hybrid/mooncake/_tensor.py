"""Mooncake's tensor calls over memcache_hybrid.DistributedObjectStore (docs/API.md, "Mooncake
compatibility: tensors").

Every function takes the underlying store as its first argument; the rest of its arguments, their
order, defaults and return conventions are those of the MooncakeDistributedStore method of the same
name, so that class only forwards. Storage stays in the C core: a tensor is one object written with
put_from_layers (header and data gathered by the core, no staging copy) and read with get_into.

Object layout (Mooncake's, so either store reads what the other wrote): a 40-byte header, then the
tensor's bytes in row-major (C-contiguous) order, native little-endian:

    offset  size  field
    0       4     int32 dtype    (the codes in DTYPE_CODES)
    4       4     int32 ndim     (0..4)
    8       32    int64 shape[4] (unused dimensions -1)

Return conventions (Mooncake's): puts return 0 or a negative code (batch: one per key); gets return a
tensor or None (batch: one per key). Codes from the store pass through the store's ``translate_rc``
(the Mooncake class's view maps ours to Mooncake's), else unchanged; codes raised here are Mooncake's
numbers below.
Tensors must be on the CPU: a CUDA tensor gets UNAVAILABLE_IN_CURRENT_MODE with a message (no GPU
pool yet). torch is imported on first use; without it the call raises ImportError naming Debian's
python3-torch.
"""
import ctypes
import json
import logging
import math
import os
import struct

_log = logging.getLogger("memcache_hybrid.mooncake")

# Mooncake's ErrorCode numbers used here (mooncake-store/include/types.h).
INVALID_PARAMS = -600
OBJECT_NOT_FOUND = -704
UNAVAILABLE_IN_CURRENT_MODE = -1011
FILE_NOT_FOUND = -1100
PERSISTENT_FAIL = -1503

# Mooncake's TensorDtype (mooncake-integration/integration_utils.h): code -> torch attribute name.
# 100+ are ours (complex dtypes Mooncake has no code for): Mooncake's reader refuses them.
DTYPE_CODES = {
    0: "float32", 1: "float64", 2: "int8", 3: "uint8", 4: "int16", 5: "uint16", 6: "int32", 7: "uint32",
    8: "int64", 9: "uint64", 10: "bool", 11: "float16", 12: "bfloat16", 13: "float8_e4m3fn", 14: "float8_e5m2",
    100: "complex32", 101: "complex64", 102: "complex128",
}
HEADER = struct.Struct("<ii4q")
HEADER_SIZE = HEADER.size  # 40, Mooncake's sizeof(TensorMetadata)
MAX_DIMS = 4


def translate_rc(rc):
    """Store status -> the caller's code space: identity for a plain DistributedObjectStore."""
    return rc


def _rc(store, rc):
    """rc in the store's caller's code space: a store that carries translate_rc (the Mooncake class's
    view: MMC_* -> Mooncake's ErrorCode) says how, else translate_rc."""
    return getattr(store, "translate_rc", translate_rc)(rc)


_torch_mod = None


def _torch():
    global _torch_mod
    if _torch_mod is None:
        try:
            import torch
        except ImportError as e:
            raise ImportError("the Mooncake tensor calls need PyTorch: install Debian's python3-torch "
                              "(apt-get install python3-torch)") from e
        _torch_mod = torch
    return _torch_mod


def _code_of(dtype):
    torch = _torch()
    for code, name in DTYPE_CODES.items():
        if getattr(torch, name, None) == dtype:
            return code
    return None


def _dtype_of(code):
    name = DTYPE_CODES.get(code)
    return getattr(_torch(), name, None) if name else None


def _itemsize(dtype):
    return _torch().empty(0, dtype=dtype).element_size()


def _fail(rc, fmt, *args):
    _log.error(fmt, *args)
    return rc


# ---------- layout ----------

def _check(tensor, key):
    """(header bytes, contiguous tensor) or a negative code; logs why."""
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        return _fail(INVALID_PARAMS, "tensor for %r is a %s, not a torch.Tensor", key, type(tensor).__name__)
    if tensor.device.type != "cpu":
        return _fail(UNAVAILABLE_IN_CURRENT_MODE, "tensor for %r is on %s: only CPU tensors are supported "
                     "until the GPU pool exists", key, tensor.device)
    if tensor.is_quantized or tensor.layout != torch.strided:
        return _fail(INVALID_PARAMS, "tensor for %r: quantized and sparse tensors are not supported", key)
    code = _code_of(tensor.dtype)
    if code is None:
        return _fail(INVALID_PARAMS, "tensor for %r: dtype %s has no code in Mooncake's layout", key, tensor.dtype)
    if tensor.dim() > MAX_DIMS:
        return _fail(INVALID_PARAMS, "tensor for %r has %d dimensions: the layout holds at most %d", key,
                     tensor.dim(), MAX_DIMS)
    shape = list(tensor.shape) + [-1] * (MAX_DIMS - tensor.dim())
    # resolve_conj/resolve_neg: a lazily conjugated or negated view keeps its bit in contiguous().
    return HEADER.pack(code, tensor.dim(), *shape), tensor.resolve_conj().resolve_neg().contiguous()


def _parse(raw, total, key):
    """(dtype, shape, data bytes) from the first bytes of an object of `total` bytes, or None."""
    if total < HEADER_SIZE:
        _log.error("object %r has %d bytes: too short for a tensor header", key, total)
        return None
    code, ndim, *dims = HEADER.unpack(bytes(raw[:HEADER_SIZE]))
    dtype = _dtype_of(code)
    if dtype is None or not 0 <= ndim <= MAX_DIMS or any(d < 0 for d in dims[:ndim]):
        _log.error("object %r: not a tensor header (dtype %d, ndim %d)", key, code, ndim)
        return None
    shape = tuple(dims[:ndim])
    nbytes = math.prod(shape) * _itemsize(dtype)
    if HEADER_SIZE + nbytes != total:
        _log.error("object %r: header says %d data bytes, the object has %d", key, nbytes, total - HEADER_SIZE)
        return None
    return dtype, shape, nbytes


def _view(u8, total, key):
    """The tensor in a uint8 tensor holding a whole object (shares its memory where aligned)."""
    parsed = _parse(u8[:HEADER_SIZE].numpy().tobytes() if total >= HEADER_SIZE else b"", total, key)
    if parsed is None:
        return None
    dtype, shape, nbytes = parsed
    data = u8[HEADER_SIZE:HEADER_SIZE + nbytes]
    itemsize = _itemsize(dtype)
    if HEADER_SIZE % itemsize:
        data = data.clone()  # view(dtype) needs the offset to be a multiple of the element size
    return data.view(dtype).reshape(shape)


def _user_bytes(ptr, size):
    """A uint8 tensor over caller memory (not owned: the caller keeps the buffer alive)."""
    torch = _torch()
    if size == 0:
        return torch.empty(0, dtype=torch.uint8)
    return torch.frombuffer((ctypes.c_char * size).from_address(ptr), dtype=torch.uint8)


def serialized_size(tensor):
    """Bytes the object for `tensor` takes (header + data): the buffer size for get_tensor_into."""
    return HEADER_SIZE + tensor.numel() * tensor.element_size()


# ---------- put ----------

def _put_many(store, keys, tensors, config):
    """Core of every tensor put: one batch_put_from_layers for the valid tensors."""
    keys, tensors = list(keys), list(tensors)
    if len(keys) != len(tensors) or not keys:
        if keys:
            _log.error("batch tensor put: %d keys but %d tensors", len(keys), len(tensors))
        return [INVALID_PARAMS] * len(keys)
    results = [0] * len(keys)
    idx, ks, ptrs, sizes, keep = [], [], [], [], []
    for i, (k, t) in enumerate(zip(keys, tensors)):
        c = _check(t, k)
        if isinstance(c, int):
            results[i] = c
            continue
        hdr, t = c
        hbuf = ctypes.create_string_buffer(hdr, HEADER_SIZE)
        keep += [hbuf, t]
        nbytes = t.numel() * t.element_size()
        p, s = [ctypes.addressof(hbuf)], [HEADER_SIZE]
        if nbytes:
            p.append(t.data_ptr())
            s.append(nbytes)
        idx.append(i)
        ks.append(k)
        ptrs.append(p)
        sizes.append(s)
    if ks:
        kw = {} if config is None else {"replicateConfig": config}
        for i, rc in zip(idx, store.batch_put_from_layers(ks, ptrs, sizes, **kw)):
            results[i] = _rc(store, rc)
    return results


def put_tensor(store, key, tensor):
    """put_tensor(key, tensor) -> int: store a CPU tensor (any strides) in Mooncake's layout; 0 or < 0."""
    return _put_many(store, [key], [tensor], None)[0]


def pub_tensor(store, key, tensor, config=None):
    """pub_tensor(key, tensor, config=ReplicateConfig()) -> int: put_tensor with a replication config."""
    return _put_many(store, [key], [tensor], config)[0]


def batch_put_tensor(store, keys, tensors_list):
    """batch_put_tensor(keys, tensors_list) -> [int]: one status per key."""
    return _put_many(store, keys, tensors_list, None)


def batch_pub_tensor(store, keys, tensors_list, config=None):
    """batch_pub_tensor(keys, tensors_list, config=ReplicateConfig()) -> [int]."""
    return _put_many(store, keys, tensors_list, config)


def _check_object(ptr, size, key):
    if not isinstance(ptr, int) or not isinstance(size, int) or size < HEADER_SIZE or ptr == 0:
        return _fail(INVALID_PARAMS, "tensor buffer for %r: need an address and at least %d bytes", key, HEADER_SIZE)
    if _parse(_user_bytes(ptr, HEADER_SIZE).numpy().tobytes(), size, key) is None:
        return INVALID_PARAMS
    return 0


def batch_put_tensor_from(store, keys, buffer_ptrs, sizes, config=None):
    """batch_put_tensor_from(keys, buffer_ptrs, sizes, config=None) -> [int]: each buffer already holds
    a serialized tensor (header + data, as get_tensor_into leaves it); checked, then stored as is."""
    if len(keys) != len(buffer_ptrs) or len(keys) != len(sizes):
        return [INVALID_PARAMS] * len(keys)
    results = [_check_object(p, s, k) for k, p, s in zip(keys, buffer_ptrs, sizes)]
    ok = [i for i, rc in enumerate(results) if rc == 0]
    if ok:
        kw = {} if config is None else {"replicateConfig": config}
        rcs = store.batch_put_from([keys[i] for i in ok], [buffer_ptrs[i] for i in ok], [sizes[i] for i in ok], **kw)
        for i, rc in zip(ok, rcs):
            results[i] = _rc(store, rc)
    return results


def put_tensor_from(store, key, buffer_ptr, size, config=None):
    """put_tensor_from(key, buffer_ptr, size, config=None) -> int: zero-copy put of a serialized tensor."""
    return batch_put_tensor_from(store, [key], [buffer_ptr], [size], config)[0]


# ---------- get ----------

def _sizes(store, keys):
    return [info.size() for info in store.batch_get_key_info(list(keys))]


def batch_get_tensor(store, keys):
    """batch_get_tensor(keys) -> [tensor | None]: None for a missing key or an object that is not a tensor."""
    torch = _torch()
    keys = list(keys)
    out = [None] * len(keys)
    pending = list(range(len(keys)))
    for _ in range(3):  # an upsert may grow an object between the size query and the read: ask again
        if not pending:
            break
        sizes = _sizes(store, [keys[i] for i in pending])
        want = [(i, s) for i, s in zip(pending, sizes) if s > 0]
        bufs = [torch.empty(s, dtype=torch.uint8) for _, s in want]
        rcs = store.batch_get_into([keys[i] for i, _ in want], [b.data_ptr() for b in bufs], [s for _, s in want]) \
            if want else []
        pending, changed = [], []
        for (i, s), b, rc in zip(want, bufs, rcs):
            if rc == 0:
                out[i] = _view(b, s, keys[i])
                if out[i] is None:
                    changed.append((i, s))
            elif rc == _buffer_too_small():
                pending.append(i)
        if changed:  # a header that does not match the size asked for: replaced in between, or not a tensor
            now = _sizes(store, [keys[i] for i, _ in changed])
            pending += [i for (i, s), n in zip(changed, now) if n != s]
    return out


def get_tensor(store, key):
    """get_tensor(key) -> tensor | None: a new CPU tensor with the stored dtype and shape."""
    return batch_get_tensor(store, [key])[0]


def _buffer_too_small():
    import memcache_hybrid
    return memcache_hybrid.MMC_BUFFER_TOO_SMALL


def batch_get_tensor_into(store, keys, buffer_ptrs, sizes):
    """batch_get_tensor_into(keys, buffer_ptrs, sizes) -> [tensor | None]: each object (header + data) is
    read into the caller's buffer; the tensor returned views that buffer (the caller keeps it alive)."""
    keys = list(keys)
    if len(keys) != len(buffer_ptrs) or len(keys) != len(sizes):
        _log.error("batch_get_tensor_into: %d keys, %d buffers, %d sizes", len(keys), len(buffer_ptrs), len(sizes))
        return [None] * len(keys)
    out = [None] * len(keys)
    have = _sizes(store, keys)
    want = [i for i in range(len(keys)) if have[i] > 0]
    for i in range(len(keys)):
        if have[i] > sizes[i]:
            _log.error("get_tensor_into %r: the object has %d bytes, the buffer %d", keys[i], have[i], sizes[i])
    want = [i for i in want if have[i] <= sizes[i]]
    if not want:
        return out
    rcs = store.batch_get_into([keys[i] for i in want], [buffer_ptrs[i] for i in want], [sizes[i] for i in want])
    for i, rc in zip(want, rcs):
        if rc == 0:
            out[i] = _view(_user_bytes(buffer_ptrs[i], have[i]), have[i], keys[i])
        else:
            _log.error("get_tensor_into %r: store status %d", keys[i], rc)
    return out


def get_tensor_into(store, key, buffer_ptr, size):
    """get_tensor_into(key, buffer_ptr, size) -> tensor | None (see batch_get_tensor_into)."""
    return batch_get_tensor_into(store, [key], [buffer_ptr], [size])[0]


# ---------- upsert ----------

def _upsert_fn(store, upsert):
    fn = upsert if upsert is not None else getattr(store, "upsert", None)
    if fn is None:
        _log.error("upsert is not available in this build of the store")
    return fn


def _upsert_many(store, keys, tensors, config, upsert):
    keys, tensors = list(keys), list(tensors)
    if len(keys) != len(tensors) or not keys:
        return [INVALID_PARAMS] * len(keys)
    fn = _upsert_fn(store, upsert)
    if fn is None:
        return [UNAVAILABLE_IN_CURRENT_MODE] * len(keys)
    torch = _torch()
    results = []
    for k, t in zip(keys, tensors):
        c = _check(t, k)
        if isinstance(c, int):
            results.append(c)
            continue
        hdr, t = c
        # upsert takes one buffer: header and data side by side (one staging copy).
        buf = torch.empty(HEADER_SIZE + t.numel() * t.element_size(), dtype=torch.uint8)
        buf[:HEADER_SIZE] = torch.frombuffer(bytearray(hdr), dtype=torch.uint8)
        if t.numel():
            buf[HEADER_SIZE:] = t.reshape(-1).view(torch.uint8)
        results.append(_rc(store, fn(k, buf.data_ptr(), buf.numel(), config)))
    return results


def upsert_tensor(store, key, tensor, upsert=None):
    """upsert_tensor(key, tensor) -> int: create or replace in place (readers see old or new, never a mix).
    `upsert(key, addr, size, replicate_config)` is the store's upsert; default: store.upsert."""
    return _upsert_many(store, [key], [tensor], None, upsert)[0]


def batch_upsert_tensor(store, keys, tensors_list, upsert=None):
    """batch_upsert_tensor(keys, tensors_list) -> [int]."""
    return _upsert_many(store, keys, tensors_list, None, upsert)


def upsert_pub_tensor(store, key, tensor, config=None, upsert=None):
    """upsert_pub_tensor(key, tensor, config=ReplicateConfig()) -> int."""
    return _upsert_many(store, [key], [tensor], config, upsert)[0]


def batch_upsert_pub_tensor(store, keys, tensors_list, config=None, upsert=None):
    """batch_upsert_pub_tensor(keys, tensors_list, config=ReplicateConfig()) -> [int]."""
    return _upsert_many(store, keys, tensors_list, config, upsert)


def batch_upsert_tensor_from(store, keys, buffer_ptrs, sizes, config=None, upsert=None):
    """batch_upsert_tensor_from(keys, buffer_ptrs, sizes) -> [int]: zero-copy upsert of serialized tensors."""
    if len(keys) != len(buffer_ptrs) or len(keys) != len(sizes):
        return [INVALID_PARAMS] * len(keys)
    fn = _upsert_fn(store, upsert)
    if fn is None:
        return [UNAVAILABLE_IN_CURRENT_MODE] * len(keys)
    results = []
    for k, p, s in zip(keys, buffer_ptrs, sizes):
        rc = _check_object(p, s, k)
        results.append(rc if rc else _rc(store, fn(k, p, s, config)))
    return results


def upsert_tensor_from(store, key, buffer_ptr, size, config=None, upsert=None):
    """upsert_tensor_from(key, buffer_ptr, size) -> int."""
    return batch_upsert_tensor_from(store, [key], [buffer_ptr], [size], config, upsert)[0]


# ---------- tensor parallel: Mooncake's key_tp_<rank> shards ----------

def tp_key(key, rank):
    """The key of shard `rank`: Mooncake's naming, base key + "_tp_" + rank."""
    return f"{key}_tp_{rank}"


def _chunks(tensor, tp_size, split_dim, key):
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        return _fail(INVALID_PARAMS, "tensor for %r is not a torch.Tensor", key)
    try:
        parts = tensor.chunk(tp_size, split_dim)
    except (RuntimeError, IndexError) as e:
        return _fail(INVALID_PARAMS, "tensor for %r: cannot split dim %s into %d: %s", key, split_dim, tp_size, e)
    if len(parts) != tp_size:
        return _fail(INVALID_PARAMS, "tensor for %r: dim %d of size %d gives %d chunks, not %d", key, split_dim,
                     tensor.shape[split_dim], len(parts), tp_size)
    return parts


def _put_tp(store, keys, tensors, config, tp_size, split_dim):
    if len(keys) != len(tensors) or not keys:
        return [INVALID_PARAMS] * len(keys)
    results = [0] * len(keys)
    shard_keys, shards, owner = [], [], []
    for i, (k, t) in enumerate(zip(keys, tensors)):
        parts = _chunks(t, tp_size, split_dim, k)
        if isinstance(parts, int):
            results[i] = parts
            continue
        for r, p in enumerate(parts):
            shard_keys.append(tp_key(k, r))
            shards.append(p)
            owner.append(i)
    if shard_keys:
        for i, rc in zip(owner, _put_many(store, shard_keys, shards, config)):
            if rc and not results[i]:
                results[i] = rc  # the first failing shard's code
    return results


def put_tensor_with_tp(store, key, tensor, tp_rank=0, tp_size=1, split_dim=0):
    """put_tensor_with_tp(key, tensor, tp_rank=0, tp_size=1, split_dim=0) -> int: split `tensor` into
    tp_size chunks along split_dim (torch.chunk) and store chunk r under key_tp_r; tp_size <= 1 is a
    plain put_tensor. As Mooncake, every rank's chunk is written (tp_rank is not used)."""
    if tp_size <= 1:
        return put_tensor(store, key, tensor)
    return _put_tp(store, [key], [tensor], None, tp_size, split_dim)[0]


def pub_tensor_with_tp(store, key, tensor, config=None, tp_rank=0, tp_size=1, split_dim=0):
    """pub_tensor_with_tp(key, tensor, config=ReplicateConfig(), tp_rank=0, tp_size=1, split_dim=0) -> int."""
    if tp_size <= 1:
        return pub_tensor(store, key, tensor, config)
    return _put_tp(store, [key], [tensor], config, tp_size, split_dim)[0]


def batch_put_tensor_with_tp(store, base_keys, tensors_list, tp_rank=0, tp_size=1, split_dim=0):
    """batch_put_tensor_with_tp(base_keys, tensors_list, tp_rank=0, tp_size=1, split_dim=0) -> [int]."""
    if tp_size <= 1:
        return batch_put_tensor(store, base_keys, tensors_list)
    return _put_tp(store, base_keys, tensors_list, None, tp_size, split_dim)


def batch_pub_tensor_with_tp(store, base_keys, tensors_list, config=None, tp_rank=0, tp_size=1, split_dim=0):
    """batch_pub_tensor_with_tp(base_keys, tensors_list, config=ReplicateConfig(), tp_rank=0, tp_size=1,
    split_dim=0) -> [int]."""
    if tp_size <= 1:
        return batch_pub_tensor(store, base_keys, tensors_list, config)
    return _put_tp(store, base_keys, tensors_list, config, tp_size, split_dim)


def get_tensor_with_tp(store, key, tp_rank=0, tp_size=1, split_dim=0):
    """get_tensor_with_tp(key, tp_rank=0, tp_size=1, split_dim=0) -> tensor | None: this rank's chunk."""
    return get_tensor(store, key if tp_size <= 1 else tp_key(key, tp_rank))


def batch_get_tensor_with_tp(store, base_keys, tp_rank=0, tp_size=1):
    """batch_get_tensor_with_tp(base_keys, tp_rank=0, tp_size=1) -> [tensor | None]."""
    return batch_get_tensor(store, base_keys if tp_size <= 1 else [tp_key(k, tp_rank) for k in base_keys])


def get_tensor_with_tp_into(store, key, buffer_ptr, size, tp_rank=0, tp_size=1, split_dim=0):
    """get_tensor_with_tp_into(key, buffer_ptr, size, tp_rank=0, tp_size=1, split_dim=0) -> tensor | None."""
    return get_tensor_into(store, key if tp_size <= 1 else tp_key(key, tp_rank), buffer_ptr, size)


def batch_get_tensor_with_tp_into(store, base_keys, buffer_ptrs, sizes, tp_rank=0, tp_size=1):
    """batch_get_tensor_with_tp_into(base_keys, buffer_ptrs, sizes, tp_rank=0, tp_size=1) -> [tensor | None]."""
    keys = base_keys if tp_size <= 1 else [tp_key(k, tp_rank) for k in base_keys]
    return batch_get_tensor_into(store, keys, buffer_ptrs, sizes)


# ---------- safetensors (written by the format's spec: u64 LE header length, JSON header, data) ----------

_ST_DTYPES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64", "int32": "I32",
    "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL", "uint16": "U16", "uint32": "U32", "uint64": "U64",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
}


def safetensors_dumps(tensors, metadata=None):
    """{name: tensor} -> bytes in the safetensors format (tensors in name order, header padded to 8)."""
    torch = _torch()
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name]
        code = next((s for n, s in _ST_DTYPES.items() if getattr(torch, n, None) == t.dtype), None)
        if code is None:
            raise ValueError(f"safetensors has no dtype for {t.dtype} ({name!r})")
        t = t.detach().to("cpu").contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def safetensors_loads(data):
    """bytes in the safetensors format -> {name: tensor} (CPU, own memory); ValueError when malformed."""
    torch = _torch()
    if len(data) < 8:
        raise ValueError("safetensors: shorter than its 8-byte header length")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > len(data) - 8:
        raise ValueError(f"safetensors: header length {n} exceeds the file ({len(data)} bytes)")
    header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    body = memoryview(data)[8 + n:]
    by_code = {s: getattr(torch, name) for name, s in _ST_DTYPES.items() if hasattr(torch, name)}
    out = {}
    for name, ent in header.items():
        if name == "__metadata__":
            continue
        dtype = by_code.get(ent.get("dtype"))
        if dtype is None:
            raise ValueError(f"safetensors: {name!r} has dtype {ent.get('dtype')!r}, not one torch has here")
        shape, (b, e) = [int(d) for d in ent["shape"]], ent["data_offsets"]
        nbytes = math.prod(shape) * _itemsize(dtype)
        if not 0 <= b <= e <= len(body) or e - b != nbytes:
            raise ValueError(f"safetensors: {name!r} offsets {b}..{e} do not fit shape {shape}")
        u8 = torch.frombuffer(bytearray(body[b:e]), dtype=torch.uint8) if nbytes else torch.empty(0, dtype=torch.uint8)
        out[name] = u8.view(dtype).reshape(shape)
    return out


def _local_path(file_name, filesystem, storage_options):
    """The local path, or raises ValueError: only the local filesystem is supported (no fsspec)."""
    path = os.fspath(file_name)
    if not path:
        raise ValueError("file_name must not be empty")
    fs = (filesystem or "auto").lower().replace("-", "_")
    if path.startswith("file://"):
        path = path[len("file://"):]
    elif "://" in path or fs not in ("auto", "file", "local", "localfs", "posix"):
        raise ValueError(f"only local files are supported (filesystem {filesystem!r}, path {path!r})")
    return path


def _format_of(format, path):
    f = (format or "auto").lower().replace("-", "_")
    if f == "auto":
        return "safetensors" if path.lower().endswith(".safetensors") else "torch"
    if f in ("safetensors", "safe_tensors"):
        return "safetensors"
    if f in ("torch", "pt", "pth", "standard", "standard_file"):
        return "torch"
    raise ValueError(f"unsupported file format {format!r}")


def save_tensor_to_file(store, key, file_name=None, format="auto", filesystem="auto", storage_options=None,
                        tensor_name=None):
    """save_tensor_to_file(key, file_name=None, format="auto", filesystem="auto", storage_options=None,
    tensor_name=None) -> int: write the tensor under `key` to a local file (file_name defaults to the key;
    format "safetensors", "torch" or "auto" by the name's suffix). 0, FILE_NOT_FOUND (no such key or
    directory), INVALID_PARAMS, PERSISTENT_FAIL (other I/O errors)."""
    name = key if file_name is None else file_name
    try:
        path = _local_path(name, filesystem, storage_options)
        fmt = _format_of(format, path)
        tensor = get_tensor(store, key)
        if tensor is None:
            return _fail(FILE_NOT_FOUND, "save_tensor_to_file: no tensor under %r", key)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with open(path, "wb") as f:
            if fmt == "torch":
                _torch().save(tensor, f)
            else:
                f.write(safetensors_dumps({key if tensor_name is None else tensor_name: tensor}))
        return 0
    except FileNotFoundError as e:
        return _fail(FILE_NOT_FOUND, "save_tensor_to_file %r: %s", key, e)
    except (TypeError, ValueError) as e:
        return _fail(INVALID_PARAMS, "save_tensor_to_file %r: %s", key, e)
    except OSError as e:
        return _fail(PERSISTENT_FAIL, "save_tensor_to_file %r: %s", key, e)


def load_tensor_from_file(store, key=None, file_name=None, format="auto", filesystem="auto", storage_options=None,
                          tensor_name=None, map_location=None, weights_only=True):
    """load_tensor_from_file(key=None, file_name=None, format="auto", ...) -> tensor | None: read a tensor
    from a local file and put it under `key` (default: the file name). A safetensors file's entry is
    tensor_name, else key, else its first. map_location other than the CPU is refused (no GPU pool)."""
    if file_name is None:
        _log.error("load_tensor_from_file: file_name is required")
        return None
    target = os.fspath(file_name) if key is None else key
    try:
        path = _local_path(file_name, filesystem, storage_options)
        fmt = _format_of(format, path)
        if fmt == "torch":
            with open(path, "rb") as f:
                tensor = _torch().load(f, map_location=map_location, weights_only=weights_only)
        else:
            with open(path, "rb") as f:
                entries = safetensors_loads(f.read())
            if not entries:
                raise ValueError("no tensors in the file")
            pick = tensor_name if tensor_name in entries else target if target in entries else next(iter(entries))
            tensor = entries[pick]
            if map_location is not None:
                tensor = tensor.to(map_location)
    except (OSError, ValueError, TypeError, RuntimeError) as e:
        _log.error("load_tensor_from_file %r: %s", file_name, e)
        return None
    rc = put_tensor(store, target, tensor)
    if rc != 0:
        _log.error("load_tensor_from_file: put of %r returned %d", target, rc)
        return None
    return tensor


def save_tensor_to_safetensor(store, key, file_name=None, filesystem="auto", storage_options=None, tensor_name=None):
    """save_tensor_to_safetensor(key, file_name=None, filesystem="auto", storage_options=None,
    tensor_name=None) -> int: save_tensor_to_file in the safetensors format."""
    return save_tensor_to_file(store, key, file_name, "safetensors", filesystem, storage_options, tensor_name)


def load_tensor_from_safetensor(store, key=None, file_name=None, filesystem="auto", storage_options=None,
                                tensor_name=None):
    """load_tensor_from_safetensor(key=None, file_name=None, filesystem="auto", storage_options=None,
    tensor_name=None) -> tensor | None: load_tensor_from_file in the safetensors format."""
    return load_tensor_from_file(store, key, file_name, "safetensors", filesystem, storage_options, tensor_name)
