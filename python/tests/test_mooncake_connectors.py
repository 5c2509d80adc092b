"""The three engines' Mooncake Store call sequences, scripted from their connector code (the calls, in
order, with the arguments they pass), run through the opt-in import `from mooncake.store import ...`
against the real mmc-meta, each in its own process (one LocalService per process), data checked.

vLLM: its Mooncake store connector (worker: setup, register_buffer, batch_is_exist ->
batch_put_from_multi_buffers, backing off on NO_AVAILABLE_HANDLE; batch_get_into_multi_buffers).
SGLang: HiCache's Mooncake backend (setup with an 8th transfer-engine argument, a put/is_exist/get
warm-up, register_buffer, batch_is_exist -> batch_put_from, batch_get_into; the MLA multi-buffer forms;
remove_all to clear). LMCache: its mooncakestore remote connector (setup, ReplicateConfig with
preferred_segment = get_hostname(), register_buffer, is_exist, put_from(key, ptr, size, config),
put_parts(key, metadata, data), batch_get_into, batch_get_buffer, unregister_buffer, close)."""
import pytest

from conftest import run_py

PRELUDE = """
import ctypes, sys
import memcache_hybrid.mooncake
assert memcache_hybrid.mooncake.install()
from mooncake.store import MooncakeDistributedStore, ReplicateConfig
META, MASTER = sys.argv[1], sys.argv[2]
def buf(n, fill=None):
    b = (ctypes.c_char * n)()
    if fill is not None:
        ctypes.memset(b, fill, n)
    return b
A = ctypes.addressof
"""


def run_engine(meta, body):
    p = run_py(PRELUDE + body, args=(meta.store_url, meta.rpc_url[len("tcp://"):]), timeout=90)
    return p.stdout.strip().splitlines()[-1]


def test_vllm_store_connector(meta):
    body = """
store = MooncakeDistributedStore()
# MooncakeStoreConfig: metadata_server, global_segment_size, local_buffer_size, protocol, device_name, master
assert store.setup("127.0.0.1", META, 32 << 20, 16 << 20, "tcp", "", MASTER) == 0
# register_kv_caches: one region per layer (K and V halves), registered once
layers, blocks, blk = 2, 8, 4096
kv = [buf(2 * blocks * blk) for _ in range(layers)]
for region in kv:
    assert store.register_buffer(A(region), len(region)) == 0
for l, region in enumerate(kv):
    for b in range(blocks):
        ctypes.memset(A(region) + b * blk, 0x10 + 16 * l + b, blk)                 # K of block b
        ctypes.memset(A(region) + (blocks + b) * blk, 0x80 + 16 * l + b, blk)      # V of block b
def key(chunk):
    return f"vllm@model@tp0@{chunk:016x}"
def addrs_sizes(block_ids):
    addrs, sizes = [], []
    for b in block_ids:
        a, s = [], []
        for region in kv:
            a += [A(region) + b * blk, A(region) + (blocks + b) * blk]
            s += [blk, blk]
        addrs.append(a); sizes.append(s)
    return addrs, sizes
# sending thread: dedup with batch_is_exist, then put the missing blocks
keys = [key(i) for i in range(4)]
exists = store.batch_is_exist(keys)
assert exists == [0, 0, 0, 0]
missing = [i for i, e in enumerate(exists) if e != 1]
addrs, sizes = addrs_sizes([0, 1, 2, 3])
res = store.batch_put_from_multi_buffers([keys[i] for i in missing], [addrs[i] for i in missing],
                                         [sizes[i] for i in missing])
assert res == [0, 0, 0, 0], res
# a second request sharing the prefix: only the new chunk is written
keys2 = keys + [key(4)]
exists = store.batch_is_exist(keys2)
assert exists == [1, 1, 1, 1, 0]
a5, s5 = addrs_sizes([4])
assert store.batch_put_from_multi_buffers([key(4)], a5, s5) == [0]
# scheduler lookup: leading hits
hits = store.batch_is_exist([key(i) for i in range(7)])
assert next(i for i, e in enumerate(hits + [0]) if e != 1) == 5
# receiving thread: into other blocks (6, 7), rotated by tp_rank as the connector does
dst_ids = [6, 7]
da, ds = addrs_sizes(dst_ids)
got = store.batch_get_into_multi_buffers([key(2), key(1)], da, ds)
assert got == [4 * blk, 4 * blk], got
for region_i, region in enumerate(kv):
    raw = bytes(region)
    for dst, src in ((6, 2), (7, 1)):
        assert raw[dst * blk:(dst + 1) * blk] == bytes([0x10 + 16 * region_i + src]) * blk
        assert raw[(blocks + dst) * blk:(blocks + dst + 1) * blk] == bytes([0x80 + 16 * region_i + src]) * blk
# back-pressure: an object the pool cannot hold answers NO_AVAILABLE_HANDLE (-200), vLLM's back-off code
huge = buf(48 << 20)
codes = store.batch_put_from_multi_buffers([key(99)], [[A(huge)]], [[len(huge)]])
assert codes == [-200], codes
store.close()
print("vllm ok")
"""
    assert run_engine(meta, body) == "vllm ok"


def test_sglang_hicache_backend(meta):
    body = """
import uuid
store = MooncakeDistributedStore()
# MooncakeStore.__init__: setup(hostname, metadata, per-rank segment, local buffer, protocol, device,
# master, transfer_engine) -- SGLang passes an 8th argument (None when it has no engine to share)
assert store.setup("localhost", META, 32 << 20, 16 << 20, "tcp", "", MASTER, None) == 0
# warmup
wk = "sglang_mooncake_store_warmup_key" + uuid.uuid4().hex
wv = bytes(4 * 1024)
assert store.put(wk, wv) == 0
assert store.is_exist(wk) == 1
assert store.get(wk) == wv
# register_mem_pool_host: the host KV buffer
page, pages = 2048, 6
host = buf(2 * page * pages)
assert store.register_buffer(A(host), len(host)) == 0
for p in range(pages):
    ctypes.memset(A(host) + 2 * p * page, 0x30 + p, page)           # K of page p
    ctypes.memset(A(host) + (2 * p + 1) * page, 0x60 + p, page)     # V of page p
def kv_keys(hashes, rank=0):
    out = []
    for h in hashes:
        out += [f"{h}_{rank}_k", f"{h}_{rank}_v"]
    return out
def meta_of(page_ids):
    ptrs, sizes = [], []
    for p in page_ids:
        ptrs += [A(host) + 2 * p * page, A(host) + (2 * p + 1) * page]
        sizes += [page, page]
    return ptrs, sizes
# batch_set_v1: exist check, put the missing ones with batch_put_from
hashes = [f"h{i}" for i in range(3)]
key_strs = kv_keys(hashes)
ptrs, sizes = meta_of([0, 1, 2])
exist = store.batch_is_exist(key_strs)
set_idx = [i for i in range(len(key_strs)) if exist[i] != 1]
assert len(set_idx) == 6
put = store.batch_put_from([key_strs[i] for i in set_idx], [ptrs[i] for i in set_idx], [sizes[i] for i in set_idx])
assert put == [0] * 6, put
# batch_exists: leading pages present
q = kv_keys(hashes + ["h-missing"])
ex = store.batch_is_exist(q)
assert next(i for i, e in enumerate(ex) if e != 1) // 2 == 3
# batch_get_v1 into pages 3..5: every result > 0 (bytes read)
gptrs, gsizes = meta_of([3, 4, 5])
got = store.batch_get_into(key_strs, gptrs, gsizes)
assert got == [page] * 6, got
raw = bytes(host)
for dst, src in ((3, 0), (4, 1), (5, 2)):
    assert raw[2 * dst * page:(2 * dst + 1) * page] == bytes([0x30 + src]) * page
    assert raw[(2 * dst + 1) * page:(2 * dst + 2) * page] == bytes([0x60 + src]) * page
# MLA layout: one key per page over several buffers (layers), with a default ReplicateConfig
mla_keys = [f"m{i}_k" for i in range(2)]
mptrs = [[A(host) + 2 * p * page, A(host) + (2 * p + 1) * page] for p in (0, 1)]
msizes = [[page, page], [page, page]]
assert store.batch_put_from_multi_buffers(mla_keys, mptrs, msizes, ReplicateConfig()) == [0, 0]
dst = [[A(host) + 2 * p * page, A(host) + (2 * p + 1) * page] for p in (5, 4)]
assert store.batch_get_into_multi_buffers(mla_keys, dst, msizes) == [2 * page, 2 * page]
raw = bytes(host)
assert raw[10 * page:11 * page] == bytes([0x30]) * page and raw[9 * page:10 * page] == bytes([0x61]) * page
# clear(): remove_all, a count
n = store.remove_all()
# as Mooncake's RemoveAll, objects under a read lease (the exists and gets above granted them) stay
assert n >= 0, n
assert store.remove_all(force=True) >= 0 and store.batch_is_exist(key_strs) == [0] * 6
print("sglang ok")
"""
    assert run_engine(meta, body) == "sglang ok"


def test_lmcache_mooncakestore_connector(meta):
    body = """
store = MooncakeDistributedStore()
assert store.setup("localhost", META, 32 << 20, 16 << 20, "tcp", "", MASTER) == 0
rc = ReplicateConfig()
rc.replica_num = 1
rc.preferred_segment = store.get_hostname()               # prefer_local_alloc
# _register_cpu_buffer: the pinned CPU pool
pool = buf(1 << 20)
assert store.register_buffer(A(pool), len(pool)) == 0
chunk = 64 << 10
ctypes.memset(A(pool), 0x5A, chunk)
ctypes.memset(A(pool) + chunk, 0xA5, chunk)
assert not store.is_exist("lmcache@k0")
# put without chunk metadata: put_from(key, ptr, size, replica_config) -- the 4th argument is the config
store.put_from("lmcache@k0", A(pool), chunk, rc)
store.put_from("lmcache@k1", A(pool) + chunk, chunk, rc)
assert store.is_exist("lmcache@k0") and store.is_exist("lmcache@k1")
desc = store.get_replica_desc("lmcache@k0")
assert [d.segment_name for d in desc] == [store.get_hostname()]
# put with metadata: put_parts(key, 28-byte metadata, kv bytes)
md = bytes(range(28))
kv_bytes = bytes(pool)[:chunk]
store.put_parts("lmcache@meta0", md, kv_bytes)
# batched_get, zero-copy: batch_get_into -> bytes read per key (n_read <= 0 is a miss)
out = 2 * chunk
n = store.batch_get_into(["lmcache@k1", "lmcache@k0", "lmcache@none"], [A(pool) + out, A(pool) + out + chunk,
                         A(pool) + out + 2 * chunk], [chunk, chunk, chunk])
assert n == [chunk, chunk, -704], n
raw = bytes(pool)
assert raw[out:out + chunk] == b"\\xa5" * chunk and raw[out + chunk:out + 2 * chunk] == b"\\x5a" * chunk
# batched_get with remote metadata: batch_get_buffer, then the first 28 bytes are the metadata
bufs = store.batch_get_buffer(["lmcache@meta0", "lmcache@none"])
assert bufs[1] is None
view = memoryview(bufs[0])
assert bytes(view[:28]) == md and bytes(view[28:]) == kv_bytes and len(view) == 28 + chunk
# close: unregister, then close
assert store.unregister_buffer(A(pool)) == 0
store.close()
print("lmcache ok")
"""
    assert run_engine(meta, body) == "lmcache ok"
