#!/usr/bin/env bash
# Symbol boundaries as a check: each shared library exports exactly the calls
# its public headers declare with its export macro, nothing else.
#   libsmem.so  <->  SMEM_API declarations in include/ (smem/host/smem_export.h)
#   libmmc.so   <->  MMC_API declarations in include/  (memcache/mmc_export.h)
# The libraries are built with hidden visibility (CMakeLists.txt), so a
# function is exported only when its public declaration carries the macro.
# Fails naming every defined dynamic symbol (`nm -D --defined-only`: text,
# data, whatever its type) that is not a public call of that library, every
# public call the library does not export, and every function declared in
# include/ without an export macro.
# Usage: scripts/check-exports.sh BUILD_DIR [SOURCE_DIR]
set -euo pipefail
build=${1:?usage: check-exports.sh BUILD_DIR [SOURCE_DIR]}
src=${2:-$(dirname "$0")/..}
command -v nm >/dev/null || { echo "exports check: nm (binutils) not found"; exit 1; }
[ -d "$src/include" ] || { echo "exports check: no include/ under $src"; exit 1; }

# The public headers without comments and preprocessor lines (with their
# continuations), so only C declarations are left.
strip_headers() {
    find "$src/include" -name '*.h' | sort | while IFS= read -r f; do
        awk -v file="${f#"$src"/}" '
            BEGIN { inc = 0; cont = 0 }
            {
                line = $0; out = ""
                if (cont) { cont = (line ~ /\\$/); next }
                while (line != "") {
                    if (inc) {
                        e = index(line, "*/")
                        if (e == 0) { line = ""; break }
                        line = substr(line, e + 2); inc = 0
                    } else {
                        s = index(line, "/*"); d = index(line, "//")
                        if (d > 0 && (s == 0 || d < s)) { out = out substr(line, 1, d - 1); line = ""; break }
                        if (s == 0) { out = out line; line = ""; break }
                        out = out substr(line, 1, s - 1) " "; line = substr(line, s + 2); inc = 1
                    }
                }
                if (out ~ /^[ \t]*#/) { cont = (out ~ /\\$/); next }
                print file "\t" out
            }' "$f"
    done
}
stripped=$(strip_headers)

# Names declared with one macro: the identifier right before the first '(' of
# each "MACRO ... name(" (declarations may span lines: joined per file first).
public_names() {
    local macro=$1
    awk -F'\t' '{ a[$1] = a[$1] " " $2 } END { for (f in a) print a[f] }' <<<"$stripped" |
        grep -oE "(^|[^A-Za-z0-9_])$macro[[:space:]][^;(]*\(" |
        sed -E 's/[[:space:]]*\($//; s/.*[^A-Za-z0-9_]//' | sort -u
}

bad=0
# A function declared at file scope without an export macro would be neither
# exported nor checked: name it.
while IFS=$'\t' read -r file line; do
    name=$(sed -E 's/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\(.*/\2/' <<<"$line")
    echo "exports check: $file declares $name without SMEM_API or MMC_API"
    bad=1
done < <(awk -F'\t' '$2 ~ /^[A-Za-z_][A-Za-z0-9_ \t*]*[ \t*][A-Za-z_][A-Za-z0-9_]*[ \t]*\(/ &&
                     $2 !~ /^(typedef|struct|enum|union|extern|static|SMEM_API|MMC_API)[^A-Za-z0-9_]/' <<<"$stripped")

summary=()
check_lib() {
    local lib=$1 macro=$2 path
    local want got
    want=$(public_names "$macro")
    path=$build/$lib
    [ -f "$path" ] || path=$(find "$build" -name "$lib" -not -path '*/CMakeFiles/*' -print -quit 2>/dev/null || true)
    if [ -z "$want" ]; then
        echo "exports check: no $macro declarations found in $src/include"
        bad=1
        return
    fi
    if [ -z "$path" ] || [ ! -f "$path" ]; then
        echo "exports check: $lib not found under $build (its $(wc -l <<<"$want") $macro calls cannot be checked)"
        bad=1
        return
    fi
    # Defined dynamic symbols of every type but A (version nodes), versions stripped.
    got=$(nm -D --defined-only "$path" | awk 'NF >= 3 && $2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u)
    local extra missing
    extra=$(comm -23 <(echo "$got") <(echo "$want") | sed '/^$/d')
    missing=$(comm -13 <(echo "$got") <(echo "$want") | sed '/^$/d')
    local n
    for n in $extra; do
        echo "exports check: $lib exports $n ($(nm -D --defined-only "$path" | awk -v n="$n" '{ s = $3; sub(/@.*/, "", s) } s == n { print $2; exit }')), which is not a $macro call of include/"
        bad=1
    done
    for n in $missing; do
        echo "exports check: $lib does not export $n, declared $macro in $(grep -rlE "$macro[[:space:]][^;(]*[^A-Za-z0-9_]$n[[:space:]]*\(" "$src/include" | sed "s|^$src/||" | head -1)"
        bad=1
    done
    summary+=("$lib $(sed '/^$/d' <<<"$got" | wc -l) symbols / $(wc -l <<<"$want") $macro calls")
}
check_lib libsmem.so SMEM_API
check_lib libmmc.so MMC_API

if [ $bad -eq 0 ]; then
    echo "exports check: $(IFS=';'; echo "${summary[*]}" | sed 's/;/, /g'), nothing else exported"
fi
exit $bad
