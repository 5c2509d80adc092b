#!/usr/bin/env bash
# The layer picture (docs/ARCHITECTURE.md, STYLE.md) as a check: a file under
# src/<layer> may include headers of its own layer and of the layers below,
# never of one above; public headers under include/ include only public
# headers (and system ones). Prints each violation; exits 1 if any.
# Usage: scripts/check-layers.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
layers=(util net store gva space transport xfer smem memcache)
declare -A level
for i in "${!layers[@]}"; do level[${layers[$i]}]=$i; done
bad=0
checked=0
while IFS= read -r f; do
    own=${f#src/}; own=${own%%/*}
    [ -n "${level[$own]+x}" ] || { echo "layer check: $f is in no known layer (src/{${layers[*]}})"; bad=1; continue; }
    checked=$((checked + 1))
    while IFS= read -r line; do
        inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/' <<<"$line")
        top=${inc%%/*}
        [ "$top" = "$inc" ] && continue                   # same-directory include
        [ -f "include/$inc" ] && continue                 # a public header: the API's description, any layer may use it
        [ -n "${level[$top]+x}" ] || continue
        if [ "${level[$top]}" -gt "${level[$own]}" ]; then
            echo "layer check: $f includes \"$inc\": $own must not depend on $top (above it)"
            bad=1
        fi
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
done < <(find src -name '*.[ch]' | sort)
while IFS= read -r f; do
    checked=$((checked + 1))
    while IFS= read -r line; do
        inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/' <<<"$line")
        if [ ! -f "include/$inc" ] && [ ! -f "$(dirname "$f")/$inc" ]; then
            echo "layer check: public header $f includes \"$inc\", which is not a public header"
            bad=1
        fi
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
done < <(find include -name '*.h' | sort)
if [ $bad -eq 0 ]; then echo "layer check: $checked files, no include points up the layer picture"; fi
exit $bad
