#!/usr/bin/env bash
# The main job on the embedded default: installs packages, builds, and runs the
# control-plane benchmark against the standalone config store (smem-store) on
# loopback: barrier latency and GET/SET ops/s with 2, 8 and 32 client
# processes, plain and TLS 1.3 with mutual authentication. Extra arguments go
# to bench_ctrl (e.g. --procs 2,4 --no-tls).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "memfabric control plane: smem-store + N client processes on loopback"
exec build/bench_ctrl --store-bin build/smem-store --procs 2,8,32 --barriers 1000 --ops 10000 \
    --certs-script scripts/gen-test-certs.sh "$@"
