#!/usr/bin/env python3
"""A KV-cache connector in the shape an inference engine uses memcache_hybrid.

The engine's KV cache for DeepSeek-R1 (MLA): per layer, a latent tensor and a RoPE tensor, each
holding num_blocks slots of 128 tokens (latent 128 x 512 fp16 = 128 KiB, RoPE 128 x 64 fp16 =
16 KiB). One key holds one block of one rank: its 61 x 2 = 122 pieces, gathered in layer order.

    PYTHONPATH=build/python python3 examples/python/kv_connector.py [--blocks 16] [--batch 8]

It starts a MetaService and a LocalService in this process (through the library; a deployment runs
mmc-meta and lets each engine's LocalService join it), registers the KV tensors, saves blocks
0..N-1 with batch_put_from_layers, loads them into the other slots N..2N-1 with
batch_get_into_layers, and checks every byte. Exit status 0 when everything matched.
"""
import argparse
import hashlib
import sys

import numpy as np

import memcache_hybrid as mc

LAYERS, TOKENS, LATENT, ROPE = 61, 128, 512, 64


class KVCache:
    """kv_latent[layer, block] and kv_rope[layer, block]: the engine's paged KV tensors."""

    def __init__(self, num_blocks):
        self.latent = np.zeros((LAYERS, num_blocks, TOKENS, LATENT), dtype=np.float16)
        self.rope = np.zeros((LAYERS, num_blocks, TOKENS, ROPE), dtype=np.float16)
        self.lat_bytes = TOKENS * LATENT * 2
        self.rope_bytes = TOKENS * ROPE * 2

    def block_pieces(self, slot):
        """The 122 (address, size) pieces of one block slot, in layer order."""
        addrs, sizes = [], []
        for layer in range(LAYERS):
            addrs.append(self.latent[layer, slot].ctypes.data)
            sizes.append(self.lat_bytes)
            addrs.append(self.rope[layer, slot].ctypes.data)
            sizes.append(self.rope_bytes)
        return addrs, sizes


def block_key(tokens, rank=0):
    """Prefix-cache key of a block: the hash of every token up to and including it."""
    return f"r1/rank{rank}/" + hashlib.sha256(np.asarray(tokens, dtype=np.int32).tobytes()).hexdigest()[:32]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blocks", type=int, default=16, help="blocks to save and load back")
    ap.add_argument("--batch", type=int, default=8, help="blocks per batch call")
    a = ap.parse_args()

    meta = mc.MetaService.start(mc.MetaConfig(meta_service_url="tcp://127.0.0.1:0",
                                              config_store_url="tcp://127.0.0.1:0", metrics_url="", log_level=3))
    pool = (a.blocks * LAYERS * (TOKENS * (LATENT + ROPE) * 2) * 5 // 4 + (64 << 20)) >> 21 << 21
    store = mc.DistributedObjectStore()
    rc = store.setup(mc.LocalConfig(meta_service_url=f"tcp://127.0.0.1:{meta.port(0)}",
                                    config_store_url=f"tcp://127.0.0.1:{meta.port(1)}",
                                    dram_size=pool, max_dram_size=pool, world_size=4))
    if rc != 0 or store.init(0) != 0:
        sys.exit(f"kv_connector: cannot start the LocalService: {mc.get_last_err_msg()}")
    try:
        kv = KVCache(2 * a.blocks)
        # what the model computed for the first N slots
        rng = np.random.default_rng(7)
        kv.latent[:, :a.blocks] = rng.standard_normal(kv.latent[:, :a.blocks].shape, dtype=np.float32)
        kv.rope[:, :a.blocks] = rng.standard_normal(kv.rope[:, :a.blocks].shape, dtype=np.float32)
        for t in (kv.latent, kv.rope):
            assert store.register_buffer(t.ctypes.data, t.nbytes) == 0, mc.get_last_err_msg()

        tokens = rng.integers(0, 129280, a.blocks * TOKENS)
        keys = [block_key(tokens[:(b + 1) * TOKENS]) for b in range(a.blocks)]
        block_bytes = LAYERS * (kv.lat_bytes + kv.rope_bytes)

        # save: slots 0..N-1 -> one key each (122 pieces gathered)
        for i in range(0, a.blocks, a.batch):
            ks = keys[i:i + a.batch]
            pieces = [kv.block_pieces(slot) for slot in range(i, i + len(ks))]
            res = store.batch_put_from_layers(ks, [p[0] for p in pieces], [p[1] for p in pieces])
            if any(res):
                sys.exit(f"kv_connector: put failed: {res} {mc.get_last_err_msg()}")
        hit = store.batch_is_exist(keys)
        assert hit == [1] * a.blocks, hit
        info = store.get_key_info(keys[0])
        print(f"saved {a.blocks} blocks of {block_bytes} bytes ({2 * LAYERS} pieces each); "
              f"{keys[0]} on LocalService {info.loc_list()}")

        # load: the same keys -> slots N..2N-1 (122 pieces scattered)
        for i in range(0, a.blocks, a.batch):
            ks = keys[i:i + a.batch]
            pieces = [kv.block_pieces(a.blocks + slot) for slot in range(i, i + len(ks))]
            res = store.batch_get_into_layers(ks, [p[0] for p in pieces], [p[1] for p in pieces])
            if any(res):
                sys.exit(f"kv_connector: get failed: {res} {mc.get_last_err_msg()}")

        same = (np.array_equal(kv.latent[:, :a.blocks].view(np.uint16), kv.latent[:, a.blocks:].view(np.uint16)) and
                np.array_equal(kv.rope[:, :a.blocks].view(np.uint16), kv.rope[:, a.blocks:].view(np.uint16)))
        print(f"loaded {a.blocks} blocks into slots {a.blocks}..{2 * a.blocks - 1}: "
              f"{'bytes match' if same else 'BYTES DIFFER'}")
        for t in (kv.latent, kv.rope):
            store.unregister_buffer(t.ctypes.data, t.nbytes)
        assert store.remove_batch(keys) == [0] * a.blocks
        return 0 if same else 1
    finally:
        store.close()
        meta.stop()


if __name__ == "__main__":
    sys.exit(main())
