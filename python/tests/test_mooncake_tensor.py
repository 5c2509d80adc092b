"""Mooncake's tensor calls (memcache_hybrid/mooncake/_tensor.py) on memcache_hybrid.DistributedObjectStore
against the real mmc-meta, called the way Mooncake documents them: layout, every dtype bit-exact,
odd shapes, batch/_into/_from/pub/upsert/tensor-parallel forms, safetensors files, no-torch error."""
import ctypes
import importlib
import importlib.util
import json
import os
import struct
import sys
import threading

import pytest

from conftest import run_py

pytestmark = pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")

torch = pytest.importorskip("torch", reason="python3-torch is not installed (scripts/setup.sh installs it)")

SRC = os.environ.get("SMEM_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
TENSOR_PY = os.path.join(SRC, "python", "memcache_hybrid", "mooncake", "_tensor.py")


def _load_tensor_module():
    try:
        return importlib.import_module("memcache_hybrid.mooncake._tensor")
    except ImportError:
        spec = importlib.util.spec_from_file_location("mc_tensor_under_test", TENSOR_PY)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod


T = _load_tensor_module()

# Every dtype this torch has that the layout carries (Mooncake's codes, then ours for complex).
MOONCAKE_CODES = {"float32": 0, "float64": 1, "int8": 2, "uint8": 3, "int16": 4, "uint16": 5, "int32": 6,
                  "uint32": 7, "int64": 8, "uint64": 9, "bool": 10, "float16": 11, "bfloat16": 12,
                  "float8_e4m3fn": 13, "float8_e5m2": 14}
OUR_CODES = {"complex32": 100, "complex64": 101, "complex128": 102}
DTYPES = [n for n in list(MOONCAKE_CODES) + list(OUR_CODES) if isinstance(getattr(torch, n, None), torch.dtype)]


def random_tensor(dtype, shape, seed=0):
    """Random bit patterns (NaN payloads, denormals, -0 included): bit-exactness, not value equality."""
    g = torch.Generator().manual_seed(seed)
    n = 1
    for d in shape:
        n *= d
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    size = torch.empty(0, dtype=dtype).element_size()
    raw = torch.randint(0, 256, (n * size,), dtype=torch.uint8, generator=g)
    return raw.view(dtype).reshape(shape)


def same_bits(a, b):
    assert a is not None and b is not None
    assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape), (a.dtype, b.dtype, a.shape, b.shape)
    a, b = a.contiguous().reshape(-1), b.contiguous().reshape(-1)
    return bytes(a.view(torch.uint8).numpy()) == bytes(b.view(torch.uint8).numpy()) if a.numel() else True


def mooncake_object(tensor, code):
    """The object Mooncake writes for a tensor, built from its layout, independently of _tensor.py."""
    t = tensor.contiguous()
    dims = list(t.shape) + [-1] * (4 - t.dim())
    data = bytes(t.reshape(-1).view(torch.uint8).numpy()) if t.numel() else b""
    return struct.pack("<ii4q", code, t.dim(), *dims) + data


def cbuf(size):
    buf = ctypes.create_string_buffer(size)
    return buf, ctypes.addressof(buf)


def test_layout_header_is_mooncakes(store):
    t = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    assert T.put_tensor(store, "mct/layout", t) == 0
    raw = store.get("mct/layout")
    assert len(raw) == 40 + 96
    assert raw == mooncake_object(t, 0)
    assert struct.unpack_from("<ii4q", raw) == (0, 3, 2, 3, 4, -1)


def test_reads_what_mooncake_writes(store):
    # An object as Mooncake's put_tensor lays it out (written here with the plain byte put).
    t = random_tensor(torch.int16, (5, 7), seed=3)
    assert store.put("mct/foreign", mooncake_object(t, 4)) == 0
    assert same_bits(T.get_tensor(store, "mct/foreign"), t)


@pytest.mark.parametrize("name", DTYPES)
def test_every_dtype_bit_exact(store, name):
    dtype = getattr(torch, name)
    t = random_tensor(dtype, (3, 5, 2), seed=len(name))
    key = f"mct/dtype/{name}"
    assert T.put_tensor(store, key, t) == 0
    back = T.get_tensor(store, key)
    assert same_bits(back, t)
    code = MOONCAKE_CODES.get(name, OUR_CODES.get(name))
    assert store.get(key)[:4] == struct.pack("<i", code)


def test_float8_and_unsigned_presence_is_reported():
    # torch 1.13 (Debian 12) has neither float8 nor uint16/32/64: the table names them, torch lacks them.
    for name in ("float8_e4m3fn", "float8_e5m2", "uint16", "uint32", "uint64"):
        assert name in T.DTYPE_CODES.values()
        assert (name in DTYPES) == isinstance(getattr(torch, name, None), torch.dtype)


@pytest.mark.parametrize("make", [
    lambda: random_tensor(torch.float32, (6, 4), 1).t(),                    # transposed
    lambda: random_tensor(torch.int64, (10, 9), 2)[::3, 1::2],              # strided slice
    lambda: random_tensor(torch.bfloat16, (4, 5, 6), 3).permute(2, 0, 1),  # permuted
    lambda: random_tensor(torch.float64, (8,), 4).expand(3, 8),             # stride 0
    lambda: torch.tensor(3.25, dtype=torch.float64),                        # 0-d
    lambda: torch.tensor(True),                                             # 0-d bool
    lambda: torch.empty(0, dtype=torch.float16),                            # empty
    lambda: torch.empty(3, 0, 2, dtype=torch.int32),                        # empty, 3 dims
    lambda: random_tensor(torch.uint8, (2, 2, 2, 2), 5),                    # 4 dims (the most)
    lambda: torch.randn(3, 2, dtype=torch.complex64).conj(),               # lazily conjugated view
], ids=["transposed", "strided", "permuted", "expanded", "0d", "0d-bool", "empty", "empty-3d", "4d", "conj"])
def test_shapes_and_strides(store, make):
    t = make()
    key = f"mct/shape/{tuple(t.shape)}/{t.dtype}/{t.stride()}/{t.is_conj()}"
    assert T.put_tensor(store, key, t) == 0
    back = T.get_tensor(store, key)
    t = t.resolve_conj()                      # the values the tensor shows, which are what is stored
    assert same_bits(back, t) and back.is_contiguous()
    assert store.get(key) == mooncake_object(t, T._code_of(t.dtype))


def test_refused_inputs(store):
    assert T.put_tensor(store, "mct/bad/5d", torch.zeros(1, 1, 1, 1, 1)) == T.INVALID_PARAMS
    assert T.put_tensor(store, "mct/bad/list", [1.0, 2.0]) == T.INVALID_PARAMS
    q = torch.quantize_per_tensor(torch.ones(4), 0.1, 0, torch.qint8)
    assert T.put_tensor(store, "mct/bad/quant", q) == T.INVALID_PARAMS
    # A tensor that is not in host memory (a CUDA tensor until the GPU pool exists; "meta" here).
    assert T.put_tensor(store, "mct/bad/dev", torch.empty(4, device="meta")) == T.UNAVAILABLE_IN_CURRENT_MODE
    assert store.is_exist("mct/bad/5d") == 0 and store.is_exist("mct/bad/dev") == 0
    assert T.get_tensor(store, "mct/bad/absent") is None
    assert store.put("mct/bad/short", b"0123456789") == 0
    assert T.get_tensor(store, "mct/bad/short") is None                   # shorter than a header
    assert store.put("mct/bad/hdr", struct.pack("<ii4q", 77, 1, 4, -1, -1, -1) + bytes(16)) == 0
    assert T.get_tensor(store, "mct/bad/hdr") is None                     # unknown dtype code
    assert store.put("mct/bad/trunc", struct.pack("<ii4q", 0, 1, 100, -1, -1, -1) + bytes(16)) == 0
    assert T.get_tensor(store, "mct/bad/trunc") is None                   # header says more than is there


def test_batch_put_get(store):
    ts = [random_tensor(torch.float32, (i + 1, 3), i) for i in range(4)]
    keys = [f"mct/batch/{i}" for i in range(4)]
    assert T.batch_put_tensor(store, keys, ts) == [0, 0, 0, 0]
    got = T.batch_get_tensor(store, keys + ["mct/batch/absent"])
    assert all(same_bits(g, t) for g, t in zip(got, ts)) and got[4] is None
    # per-key codes: an invalid tensor fails alone
    rcs = T.batch_put_tensor(store, ["mct/batch/ok", "mct/batch/bad"], [torch.ones(2), torch.zeros(1, 1, 1, 1, 1)])
    assert rcs == [0, T.INVALID_PARAMS]
    assert T.batch_put_tensor(store, ["a", "b"], [torch.ones(1)]) == [T.INVALID_PARAMS] * 2
    assert T.batch_put_tensor(store, [], []) == []


def test_pub_tensor_with_config(store):
    from memcache_hybrid import ReplicateConfig
    cfg = ReplicateConfig()
    cfg.replicaNum = 1
    t = random_tensor(torch.int32, (4, 4), 9)
    assert T.pub_tensor(store, "mct/pub/one", t, cfg) == 0
    assert T.batch_pub_tensor(store, ["mct/pub/b0", "mct/pub/b1"], [t, t + 1], cfg) == [0, 0]
    assert same_bits(T.get_tensor(store, "mct/pub/one"), t)
    assert same_bits(T.get_tensor(store, "mct/pub/b1"), t + 1)


def test_get_tensor_into_and_put_tensor_from(store):
    t = random_tensor(torch.float64, (16, 8), 11)
    assert T.put_tensor(store, "mct/into/a", t) == 0
    size = T.serialized_size(t)
    buf, ptr = cbuf(size)
    assert store.register_buffer(ptr, size) == 0
    got = T.get_tensor_into(store, "mct/into/a", ptr, size)
    assert same_bits(got, t)
    assert buf.raw == mooncake_object(t, 1)                                # the buffer holds header + data
    got.fill_(2.5)                                                         # the tensor views the buffer
    assert T.put_tensor_from(store, "mct/into/b", ptr, size) == 0
    assert torch.equal(T.get_tensor(store, "mct/into/b"), torch.full((16, 8), 2.5, dtype=torch.float64))
    small, sptr = cbuf(64)
    assert T.get_tensor_into(store, "mct/into/a", sptr, 64) is None       # buffer smaller than the object
    assert T.get_tensor_into(store, "mct/into/none", ptr, size) is None
    junk, jptr = cbuf(100)
    assert T.put_tensor_from(store, "mct/into/junk", jptr, 100) == T.INVALID_PARAMS  # not a tensor header
    assert T.put_tensor_from(store, "mct/into/tiny", jptr, 8) == T.INVALID_PARAMS
    assert store.is_exist("mct/into/junk") == 0
    # batch forms
    ts = [random_tensor(torch.int8, (5 + i,), i) for i in range(3)]
    keys = [f"mct/into/batch{i}" for i in range(3)]
    assert T.batch_put_tensor(store, keys, ts) == [0, 0, 0]
    bufs = [cbuf(T.serialized_size(x)) for x in ts]
    got = T.batch_get_tensor_into(store, keys + ["mct/into/none"], [p for _, p in bufs] + [ptr],
                                  [T.serialized_size(x) for x in ts] + [size])
    assert all(same_bits(g, x) for g, x in zip(got, ts)) and got[3] is None
    keys2 = [k + "/copy" for k in keys]
    assert T.batch_put_tensor_from(store, keys2, [p for _, p in bufs], [T.serialized_size(x) for x in ts]) == [0] * 3
    assert all(same_bits(T.get_tensor(store, k), x) for k, x in zip(keys2, ts))
    store.unregister_buffer(ptr, size)


def test_tensor_parallel_keys_and_shards(store):
    t = random_tensor(torch.float32, (6, 8), 21)
    assert T.put_tensor_with_tp(store, "mct/tp/w", t, tp_size=4, split_dim=1) == 0
    assert store.batch_is_exist([f"mct/tp/w_tp_{r}" for r in range(4)]) == [1, 1, 1, 1]
    assert store.is_exist("mct/tp/w") == 0
    shards = [T.get_tensor_with_tp(store, "mct/tp/w", tp_rank=r, tp_size=4, split_dim=1) for r in range(4)]
    for r, s in enumerate(shards):
        assert same_bits(s, t[:, 2 * r:2 * r + 2])
    assert same_bits(torch.cat(shards, dim=1), t)
    # uneven: torch.chunk sizes (10 rows into 4: 3, 3, 3, 1)
    u = random_tensor(torch.int64, (10, 2), 22)
    assert T.put_tensor_with_tp(store, "mct/tp/u", u, tp_size=4, split_dim=0) == 0
    assert [T.get_tensor_with_tp(store, "mct/tp/u", r, 4).shape[0] for r in range(4)] == [3, 3, 3, 1]
    # fewer chunks than ranks, bad dim
    assert T.put_tensor_with_tp(store, "mct/tp/few", torch.ones(2, 2), tp_size=4) == T.INVALID_PARAMS
    assert T.put_tensor_with_tp(store, "mct/tp/dim", torch.ones(2, 2), tp_size=2, split_dim=5) == T.INVALID_PARAMS
    # tp_size 1: the plain key
    assert T.put_tensor_with_tp(store, "mct/tp/plain", t) == 0 and same_bits(T.get_tensor(store, "mct/tp/plain"), t)
    assert same_bits(T.get_tensor_with_tp(store, "mct/tp/plain"), t)
    # batch, pub and _into forms
    bk = ["mct/tp/b0", "mct/tp/b1"]
    bt = [random_tensor(torch.float16, (4, 4), 30), random_tensor(torch.float16, (8, 2), 31)]
    assert T.batch_put_tensor_with_tp(store, bk, bt, tp_size=2, split_dim=0) == [0, 0]
    got = T.batch_get_tensor_with_tp(store, bk, tp_rank=1, tp_size=2)
    assert same_bits(got[0], bt[0][2:]) and same_bits(got[1], bt[1][4:])
    assert T.pub_tensor_with_tp(store, "mct/tp/pub", t, None, tp_size=2, split_dim=0) == 0
    assert T.batch_pub_tensor_with_tp(store, ["mct/tp/pb"], [t], None, tp_size=3, split_dim=0) == [0]
    assert same_bits(T.get_tensor_with_tp(store, "mct/tp/pb", 2, 3), t[4:])
    size = T.serialized_size(t[:3])
    buf, ptr = cbuf(size)
    assert same_bits(T.get_tensor_with_tp_into(store, "mct/tp/pub", ptr, size, tp_rank=1, tp_size=2), t[3:])
    sizes = [T.serialized_size(x[:x.shape[0] // 2]) for x in bt]
    bufs = [cbuf(n) for n in sizes]
    got = T.batch_get_tensor_with_tp_into(store, bk, [p for _, p in bufs], sizes, tp_rank=0, tp_size=2)
    assert same_bits(got[0], bt[0][:2]) and same_bits(got[1], bt[1][:4])


def _replace_upsert(store):
    """An upsert for the tests that the store lacks one: remove, then put (not atomic; the product's
    atomic upsert is the store's own, used when present)."""
    def upsert(key, addr, size, config=None):
        store.remove(key)
        return store.put_from(key, addr, size) if config is None else store.put_from(key, addr, size,
                                                                                      replicateConfig=config)
    return upsert


def test_upsert_forms(store):
    up = None if getattr(store, "upsert", None) is not None else _replace_upsert(store)  # None: the store's own
    t1, t2 = torch.ones(30, 30), random_tensor(torch.float32, (20, 20), 40)
    assert T.put_tensor(store, "mct/up/a", t1) == 0
    assert T.upsert_tensor(store, "mct/up/a", t2, upsert=up) == 0
    assert same_bits(T.get_tensor(store, "mct/up/a"), t2)
    assert T.upsert_tensor(store, "mct/up/new", t1.to(torch.int8), upsert=up) == 0
    assert same_bits(T.get_tensor(store, "mct/up/new"), t1.to(torch.int8))
    assert T.batch_upsert_tensor(store, ["mct/up/a", "mct/up/b"], [t1, t2.t()], upsert=up) == [0, 0]
    assert same_bits(T.get_tensor(store, "mct/up/a"), t1) and same_bits(T.get_tensor(store, "mct/up/b"), t2.t())
    assert T.upsert_pub_tensor(store, "mct/up/p", torch.tensor(7), None, upsert=up) == 0
    assert T.batch_upsert_pub_tensor(store, ["mct/up/p"], [torch.tensor(8)], None, upsert=up) == [0]
    assert T.get_tensor(store, "mct/up/p").item() == 8
    assert T.upsert_tensor(store, "mct/up/bad", torch.zeros(1, 1, 1, 1, 1), upsert=up) == T.INVALID_PARAMS
    # zero-copy form: get_tensor_into a buffer, change it in place, upsert the buffer back
    size = T.serialized_size(t1)
    buf, ptr = cbuf(size)
    got = T.get_tensor_into(store, "mct/up/a", ptr, size)
    got.fill_(42.0)
    assert T.upsert_tensor_from(store, "mct/up/a", ptr, size, upsert=up) == 0
    assert torch.equal(T.get_tensor(store, "mct/up/a"), torch.full((30, 30), 42.0))
    assert T.batch_upsert_tensor_from(store, ["mct/up/a", "mct/up/j"], [ptr, cbuf(64)[1]], [size, 64],
                                      upsert=up)[1] == T.INVALID_PARAMS


def test_upsert_without_store_upsert_is_refused(store):
    if getattr(store, "upsert", None) is not None:
        pytest.skip("this store has its own upsert")
    assert T.upsert_tensor(store, "mct/up/none", torch.ones(2)) == T.UNAVAILABLE_IN_CURRENT_MODE
    assert T.batch_upsert_tensor_from(store, ["x"], [1], [40]) == [T.UNAVAILABLE_IN_CURRENT_MODE]
    assert store.is_exist("mct/up/none") == 0


def _read_safetensors(path):
    """An independent reader of the format's spec, for checking what save wrote."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data)
    return json.loads(data[8:8 + n]), data[8 + n:], n


def test_safetensors_files(store, tmp_path):
    t = random_tensor(torch.bfloat16, (3, 4), 50)
    assert T.put_tensor(store, "mct/st/a", t) == 0
    path = str(tmp_path / "a.safetensors")
    assert T.save_tensor_to_safetensor(store, "mct/st/a", path) == 0
    header, body, n = _read_safetensors(path)
    assert n % 8 == 0
    ent = header["mct/st/a"]
    assert ent["dtype"] == "BF16" and ent["shape"] == [3, 4] and ent["data_offsets"] == [0, 24]
    assert body == bytes(t.reshape(-1).view(torch.uint8).numpy())
    back = T.load_tensor_from_safetensor(store, "mct/st/a2", path)
    assert same_bits(back, t) and same_bits(T.get_tensor(store, "mct/st/a2"), t)
    # tensor_name, default key = file name, missing key / file, non-local filesystem
    assert T.save_tensor_to_safetensor(store, "mct/st/a", str(tmp_path / "n.safetensors"), tensor_name="w") == 0
    assert "w" in _read_safetensors(str(tmp_path / "n.safetensors"))[0]
    assert same_bits(T.load_tensor_from_safetensor(store, None, str(tmp_path / "n.safetensors"), tensor_name="w"), t)
    assert same_bits(T.get_tensor(store, str(tmp_path / "n.safetensors")), t)
    assert T.save_tensor_to_safetensor(store, "mct/st/absent", str(tmp_path / "x.safetensors")) == T.FILE_NOT_FOUND
    assert T.load_tensor_from_safetensor(store, "mct/st/x", str(tmp_path / "missing.safetensors")) is None
    assert T.save_tensor_to_safetensor(store, "mct/st/a", "s3://bucket/a.safetensors") == T.INVALID_PARAMS
    # every dtype the format has, 0-d and empty, in one file through the pure helpers
    named = {n: random_tensor(getattr(torch, n), (2, 3), i) for i, n in enumerate(DTYPES) if n in T._ST_DTYPES}
    named["zero_d"] = torch.tensor(1.5)
    named["empty"] = torch.empty(0, 4, dtype=torch.int32)
    loaded = T.safetensors_loads(T.safetensors_dumps(named, metadata={"format": "pt"}))
    assert set(loaded) == set(named) and all(same_bits(loaded[k], v) for k, v in named.items())
    with pytest.raises(ValueError):
        T.safetensors_loads(b"\xff" * 16)
    with pytest.raises(ValueError):
        T.safetensors_dumps({"c": torch.zeros(2, dtype=torch.complex64)})


def test_torch_file_format(store, tmp_path):
    t = random_tensor(torch.int16, (4, 2), 60)
    assert T.put_tensor(store, "mct/pt/a", t) == 0
    path = str(tmp_path / "a.pt")
    assert T.save_tensor_to_file(store, "mct/pt/a", path) == 0
    assert same_bits(torch.load(path), t)
    assert same_bits(T.load_tensor_from_file(store, "mct/pt/b", path), t)
    assert same_bits(T.get_tensor(store, "mct/pt/b"), t)


def test_eight_threads(store):
    errors = []

    def worker(w):
        try:
            for i in range(20):
                t = random_tensor(torch.float32, (w + 1, i + 1), w * 100 + i)
                key = f"mct/thr/{w}/{i}"
                assert T.put_tensor(store, key, t) == 0
                assert same_bits(T.get_tensor(store, key), t)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors


def test_without_torch_names_the_package():
    p = run_py(f"""
        import sys, importlib.util
        sys.modules["torch"] = None          # as if python3-torch were not installed
        spec = importlib.util.spec_from_file_location("t", {TENSOR_PY!r})
        m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)   # importing needs no torch
        try:
            m.put_tensor(object(), "k", None)
        except ImportError as e:
            print("IMPORTERROR", e)
    """)
    assert "IMPORTERROR" in p.stdout and "python3-torch" in p.stdout


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
