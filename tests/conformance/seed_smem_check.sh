#!/usr/bin/env bash
# Builds and runs the seed smem conformance unit (seed_smem.c as C11, seed_smem.cpp as C++) the
# way a seed program is built: only -I<include>/smem/host, "smem.h" included by plain name,
# linked with -lmf_smem (the seed's library name; a link to our libsmem.so).
#   seed_smem_check.sh build   CC CXX SRC_DIR BUILD_DIR   headers of the source tree, libsmem.so of the build
#   seed_smem_check.sh install CC CXX SRC_DIR BUILD_DIR   `cmake --install --component smem_dev` into a
#                                                          scratch prefix, then headers and library from there
# An optional 6th argument: the build's -fsanitize flags (a sanitized library needs its runtime first).
# A mismatch with the seed's declarations is a compile error, so the test fails. Exit 77 (skipped)
# when the C++ compiler is missing for the C++ half.
set -euo pipefail
mode=$1 cc=$2 cxx=$3 src=$4 build=$5 san=${6:-}
here="$src/tests/conformance"
out=$(mktemp -d "${TMPDIR:-/tmp}/seed_smem.XXXXXX")
trap 'rm -rf "$out"' EXIT

case $mode in
build)
    inc="$src/include/smem/host"
    lib="$build"
    ;;
install)
    cmake --install "$build" --component smem_dev --prefix "$out/prefix" >/dev/null
    inc="$out/prefix/include/smem/host"
    so=$(find "$out/prefix" -name libmf_smem.so | head -1)
    [ -f "$inc/smem.h" ] || { echo "install: $inc/smem.h missing"; exit 1; }
    [ -n "$so" ] || { echo "install: no libmf_smem.so under the prefix"; exit 1; }
    lib=$(dirname "$so")
    [ -e "$lib/libsmem.so" ] || { echo "install: $lib/libsmem.so missing"; exit 1; }
    ;;
*)
    echo "usage: $0 build|install CC CXX SRC_DIR BUILD_DIR" >&2
    exit 2
    ;;
esac

warn=(-Wall -Wextra -Werror)
# shellcheck disable=SC2206 # the flags are words
[ -n "$san" ] && warn+=($san)
echo "C11:  $cc -std=c11 -I$inc seed_smem.c -lmf_smem"
"$cc" -std=c11 "${warn[@]}" -I"$inc" "$here/seed_smem.c" -L"$lib" -lmf_smem -Wl,-rpath,"$lib" -o "$out/seed_smem_c"
LD_LIBRARY_PATH="$lib" "$out/seed_smem_c"
echo "C11: compiled, linked and ran"

if [ -z "$cxx" ] || ! command -v "$cxx" >/dev/null 2>&1; then
    echo "no C++ compiler ($cxx): C++ half skipped"
    exit 77
fi
echo "C++:  $cxx -std=c++17 -I$inc seed_smem.cpp -lmf_smem"
"$cxx" -std=c++17 "${warn[@]}" -I"$inc" "$here/seed_smem.cpp" -L"$lib" -lmf_smem -Wl,-rpath,"$lib" -o "$out/seed_smem_cxx"
LD_LIBRARY_PATH="$lib" "$out/seed_smem_cxx"
echo "C++: compiled, linked and ran"
