#!/usr/bin/env python3
"""Python binding overhead on the DeepSeek-R1 KV block (/work/shared/workloads/README.md §1).

The same batch put/get of 128-token blocks (61 x (128 KiB + 16 KiB) = 122 discrete pieces,
8,784 KiB per key) from C (bench_kv --worker: mmcc_batch_put_layers / mmcc_batch_get_layers) and
from Python (memcache_hybrid: batch_put_from_layers / batch_get_into_layers with addresses), in the
same run, against the same pool: mmc-meta + 2 mmc-local on loopback. Each side has a writer and a
reader process (pure clients); rounds alternate C and Python. Every call is timed around the one
library call (Python: around the binding call, so argument conversion is included); the reader
checks a stamp and sample bytes of every block outside the timed call.

    PYTHONPATH=build/python python3 bench/bench_py_kv.py --bin-dir build [--batches 8,16,32] [--iters 64]
    ... --smoke   (ctest: batch 8, 4 iterations, small pool)

Output: a markdown table per direction: p50 / mean ms per batch, GB/s (10^9 B/s), Python/C ratio.
Exit status non-zero if a put or get fails or returns wrong bytes.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

LAYERS = 61
LAT = 128 << 10
ROPE = 16 << 10
NPIECE = 2 * LAYERS
BLOCK = LAYERS * (LAT + ROPE)


# ---------- Python worker (the same line protocol as bench_kv --worker) ----------

def pat(blk, piece, n):
    import numpy as np
    return ((blk * 31 + piece * 7 + np.arange(n, dtype=np.uint64) * 13) & 0xFF).astype(np.uint8)


class Block:
    """One block's 122 pieces at discrete addresses in one buffer, with gaps between pieces."""

    def __init__(self, idx, gap):
        import numpy as np
        span = LAYERS * (LAT + ROPE + 2 * gap)
        self.mem = np.zeros(span, dtype=np.uint8)
        self.views, self.addrs, self.sizes = [], [], []
        off = 0
        for _ in range(LAYERS):
            for size in (LAT, ROPE):
                v = self.mem[off:off + size]
                self.views.append(v)
                self.addrs.append(v.ctypes.data)
                self.sizes.append(size)
                off += size + gap
        for p, v in enumerate(self.views):
            v[:] = pat(idx, p, len(v))
        self.idx = idx

    def stamp(self, it):
        head = pat(self.idx, 0, 8)
        for i in range(8):
            self.views[0][i] = ((it >> (8 * i)) & 0xFF) ^ int(head[i])

    def check(self, it):
        head = pat(self.idx, 0, 8)
        for i in range(8):
            if self.views[0][i] != (((it >> (8 * i)) & 0xFF) ^ int(head[i])):
                return False
        for p in range(1, NPIECE):
            v = self.views[p]
            n = len(v)
            for at in (0, n // 3, n // 2, n - 1):
                if v[at] != (self.idx * 31 + p * 7 + at * 13) & 0xFF:
                    return False
        return True

    def clear_samples(self):
        self.views[0][:8] = 0
        for v in self.views[1:]:
            n = len(v)
            for at in (0, n // 3, n // 2, n - 1):
                v[at] ^= 0xFF


def worker_main():
    import memcache_hybrid as mc
    store = mc.DistributedObjectStore()
    if store.init(0) != 0:
        print(f"err init: {mc.get_last_err_msg()}", flush=True)
        return 1
    blocks = []
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        op, b, it0, n = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
        while len(blocks) < b:
            blocks.append(Block(len(blocks), 4096 * (len(blocks) + 1)))
        addrs = [blk.addrs for blk in blocks[:b]]
        sizes = [blk.sizes for blk in blocks[:b]]
        times, bad, why = [], 0, ""
        for it in range(it0, it0 + n):
            keys = [f"kv/b{b}/i{it}/k{j}" for j in range(b)]
            if op == "put":
                for blk in blocks[:b]:
                    blk.stamp(it)
            elif op == "get":
                for blk in blocks[:b]:
                    blk.clear_samples()
            t0 = time.perf_counter_ns()
            if op == "put":
                res = store.batch_put_from_layers(keys, addrs, sizes)
            elif op == "get":
                res = store.batch_get_into_layers(keys, addrs, sizes)
            else:
                res = store.remove_batch(keys)
            times.append(time.perf_counter_ns() - t0)
            for j, r in enumerate(res):
                wrong = op == "get" and r == 0 and not blocks[j].check(it)
                if r != 0 or wrong:
                    bad += 1
                    why = why or f"{op} {keys[j]}: {r}{' wrong bytes' if wrong else ''} {mc.get_last_err_msg()}"
        if bad:
            print(f"err {bad} failures, first: {why}", flush=True)
        else:
            print("ok " + " ".join(map(str, times)), flush=True)
    store.close()
    return 0


# ---------- driver ----------

class Proc:
    def __init__(self, argv, env=None, stdin=False):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, text=True, bufsize=1, env=env)

    def line(self):
        out = self.p.stdout.readline()
        if not out:
            raise RuntimeError(f"{self.p.args[0]} exited ({self.p.poll()})")
        return out.strip()

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        ans = self.line()
        if not ans.startswith("ok"):
            raise RuntimeError(f"{self.p.args[-1]}: {cmd}: {ans}")
        return [int(x) for x in ans.split()[1:]]

    def stop(self):
        if self.p.poll() is None:
            if self.p.stdin:
                try:
                    self.p.stdin.write("quit\n")
                    self.p.stdin.flush()
                    self.p.wait(timeout=10)
                    return
                except (BrokenPipeError, subprocess.TimeoutExpired):
                    pass
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()


def summarize(ns, b):
    ms = [x / 1e6 for x in ns]
    mean = statistics.mean(ms)
    return statistics.median(ms), mean, b * BLOCK / (mean / 1e3) / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bin-dir", default=os.environ.get("SMEM_BUILD_DIR", "build"))
    ap.add_argument("--batches", default="8,16,32")
    ap.add_argument("--iters", type=int, default=64, help="batches timed per size and direction and side")
    ap.add_argument("--pool-mb", type=int, default=2048)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    if a.worker:
        return worker_main()
    if a.smoke:
        a.batches, a.iters, a.pool_mb = "8", 4, 256
    batches = [int(x) for x in a.batches.split(",")]
    if max(batches) * BLOCK > a.pool_mb * (1 << 20) * 3 // 4:
        sys.exit(f"bench_py_kv: a batch of {max(batches)} blocks does not fit 75% of a {a.pool_mb} MiB pool")
    def binp(n):  # daemons at the top of the build tree, benchmarks under bench/
        for d in (a.bin_dir, os.path.join(a.bin_dir, "bench")):
            if os.access(os.path.join(d, n), os.X_OK):
                return os.path.join(d, n)
        return os.path.join(a.bin_dir, n)
    for n in ("mmc-meta", "mmc-local", "bench_kv"):
        if not os.access(binp(n), os.X_OK):
            sys.exit(f"bench_py_kv: {binp(n)} not found (build first; --bin-dir)")

    procs = []
    cfg = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    try:
        meta = Proc([binp("mmc-meta"), "--meta-url", "tcp://127.0.0.1:0", "--store-url", "tcp://127.0.0.1:0",
                     "--metrics-url", "", "--log-level", "error"])
        procs.append(meta)
        m = re.search(r"rpc (\S+) store (\S+)", meta.line())
        rpc, store = m.group(1), m.group(2)
        half = a.pool_mb // 2
        for _ in range(2):
            loc = Proc([binp("mmc-local"), "--meta-url", rpc, "--store-url", store, "--dram-size", f"{half}MB",
                        "--max-dram-size", f"{half}MB", "--world-size", "16"])
            procs.append(loc)
            if "ready" not in loc.line():
                raise RuntimeError("mmc-local did not start")
        cfg.write(f"ock.mmc.meta_service_url = {rpc}\nock.mmc.local_service.config_store_url = {store}\n"
                  f"ock.mmc.local_service.dram.size = 0\nock.mmc.local_service.max.dram.size = {half}MB\n"
                  "ock.mmc.local_service.world_size = 16\nock.mmc.client.timeout.seconds = 30\n")
        cfg.close()
        env = dict(os.environ, MMC_LOCAL_CONFIG_PATH=cfg.name)
        sides = {
            "C": [Proc([binp("bench_kv"), "--worker"], env, True) for _ in range(2)],
            "Python": [Proc([sys.executable, os.path.abspath(__file__), "--worker"], env, True) for _ in range(2)],
        }
        for w in sides["C"] + sides["Python"]:
            procs.append(w)
        print(f"mmc-meta + 2 mmc-local ({a.pool_mb} MiB pool) on loopback; writer and reader processes per side; "
              f"block {BLOCK} bytes in {NPIECE} pieces; {a.iters} batches timed per row"
              f"{' (smoke)' if a.smoke else ''}\n")
        rows = []
        for b in batches:
            per_round = max(1, (a.pool_mb * (1 << 20) * 3 // 4) // (b * BLOCK))
            res = {s: {"put": [], "get": []} for s in sides}
            it = 0
            # one untimed warm-up round per side maps the pool pages in its clients
            for s, (wr, rd) in sides.items():
                wr.ask(f"put {b} 1000000 {per_round}")
                rd.ask(f"get {b} 1000000 {per_round}")
                wr.ask(f"rm {b} 1000000 {per_round}")
            while len(res["C"]["put"]) < a.iters:
                n = min(per_round, a.iters - len(res["C"]["put"]))
                for s, (wr, rd) in sides.items():  # alternate sides round by round, same keys
                    res[s]["put"] += wr.ask(f"put {b} {it} {n}")
                    res[s]["get"] += rd.ask(f"get {b} {it} {n}")
                    wr.ask(f"rm {b} {it} {n}")
                it += n
            rows.append((b, res))
        for op, title in (("put", "batch_put_from_layers vs mmcc_batch_put_layers"),
                          ("get", "batch_get_into_layers vs mmcc_batch_get_layers")):
            print(f"### {op}: {title}\n")
            print("| batch | C p50 ms | C mean ms | C GB/s | Python p50 ms | Python mean ms | Python GB/s "
                  "| Python/C time (mean) |")
            print("|---:|---:|---:|---:|---:|---:|---:|---:|")
            for b, res in rows:
                c50, cmean, cgb = summarize(res["C"][op], b)
                p50, pmean, pgb = summarize(res["Python"][op], b)
                print(f"| {b} | {c50:.2f} | {cmean:.2f} | {cgb:.2f} | {p50:.2f} | {pmean:.2f} | {pgb:.2f} "
                      f"| {pmean / cmean:.3f} |")
            print()
        return 0
    finally:
        for p in reversed(procs):
            p.stop()
        os.unlink(cfg.name)


if __name__ == "__main__":
    sys.exit(main())
