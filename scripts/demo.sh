#!/usr/bin/env bash
# The main job on the embedded default: installs packages, builds, starts a
# memcache cluster on this machine -- mmc-meta on its loopback defaults
# (RPC tcp://127.0.0.1:5000, config store :6000, metrics http://127.0.0.1:8000)
# and two mmc-local LocalServices contributing 1 GiB of DRAM each -- and runs
# the KV workload on it (bench_kv: the DeepSeek-R1 block latency test, writer
# and reader processes, batches of 8/16/32 blocks of 122 pieces, against
# memcpy and Redis 7 in the same run). Then the control-plane benchmark
# (smem-store, 2 and 8 client processes). Extra arguments go to bench_kv
# (e.g. --iters 128 --no-redis).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

logs=$(mktemp -d /tmp/memcache-demo.XXXXXX)
pids=()
cleanup() {
    # LocalServices first (they unmount from the MetaService), then the MetaService.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT

# wait_ready LOG PATTERN SECONDS: until the daemon's ready line is in LOG.
wait_ready() {
    local log=$1 pat=$2 secs=$3
    for ((t = 0; t < secs * 10; t++)); do
        grep -q "$pat" "$log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "demo: no '$pat' line within ${secs}s; log $log:" >&2
    cat "$log" >&2
    return 1
}

echo "== memcache cluster on this machine =="
build/mmc-meta >"$logs/meta.out" 2>"$logs/meta.log" &
pids+=($!)
wait_ready "$logs/meta.out" "mmc-meta ready" 10 || {
    echo "demo: mmc-meta did not start (is something else on 127.0.0.1:5000/6000/8000?)" >&2
    exit 1
}
cat "$logs/meta.out"
for i in 1 2; do
    build/mmc-local --dram-size 1GB >"$logs/local$i.out" 2>"$logs/local$i.log" &
    pids+=($!)
done
for i in 1 2; do
    wait_ready "$logs/local$i.out" "mmc-local ready" 60
    cat "$logs/local$i.out"
done
build/mmcctl segments
echo

echo "== KV workload: DeepSeek-R1 blocks through the layers API =="
build/bench/bench_kv --external --bin-dir build "$@"
echo
build/mmcctl status
cleanup
pids=()
echo

echo "== memfabric control plane: smem-store + N client processes on loopback =="
build/bench/bench_ctrl --store-bin build/smem-store --procs 2,8 --barriers 1000 --ops 10000 \
    --certs-script scripts/gen-test-certs.sh
echo
echo "logs: $logs"
