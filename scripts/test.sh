#!/usr/bin/env bash
# The whole test suite: installs packages, then builds and runs
#   1. the default build (RelWithDebInfo) with ctest: unit, integration, smoke benchmarks,
#      fuzz targets in replay mode;
#   2. the ASan+UBSan build with the same ctest suite;
#   3. the libFuzzer build (clang), each fuzz target for SMEM_FUZZ_SECONDS (default 15 s).
# Optional stage `tsan`: ThreadSanitizer over the unit and integration tests.
# Exits non-zero if any step fails. Usage: scripts/test.sh [default|asan|fuzz|tsan]...
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

jobs=$(nproc)
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(default asan fuzz)
fuzz_secs=${SMEM_FUZZ_SECONDS:-15}
status=0

# run_stage PRESET DIR CTEST_REGEX [EXTRA_CMAKE_ARGS...]: the flag sets live in CMakePresets.json only.
run_stage() {
    local name=$1 dir=$2 regex=$3; shift 3
    echo "=== $name: configure and build ($dir) ==="
    cmake --preset "$name" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs" >/dev/null
    echo "=== $name: ctest ==="
    if ! (cd "$dir" && ctest --output-on-failure -j1 --timeout 600 -R "$regex"); then
        echo "=== $name: FAILED ==="
        status=1
    fi
}

for s in "${stages[@]}"; do
    case "$s" in
    default) run_stage default build . ;;
    asan)
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        run_stage asan build-asan .
        unset ASAN_OPTIONS UBSAN_OPTIONS ;;
    fuzz)
        # Unit and integration tests already ran in the stages above; here only the fuzzers run.
        run_stage fuzz build-fuzz '^fuzz_' -DSMEM_FUZZ_SECONDS="$fuzz_secs" ;;
    tsan)
        # Optional (not in the default list): ThreadSanitizer over unit and integration tests.
        export TSAN_OPTIONS=halt_on_error=1
        run_stage tsan build-tsan '^(unit|it)\.'
        unset TSAN_OPTIONS ;;
    *) echo "unknown stage $s (default|asan|fuzz|tsan)" >&2; exit 2 ;;
    esac
done
exit $status
