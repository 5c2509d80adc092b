#!/usr/bin/env bash
# Installs the Debian 12 packages memfabric needs to build, test and benchmark.
# Idempotent: does nothing when everything is present. Works as root or via sudo.
set -euo pipefail

PKGS=(build-essential cmake pkg-config libssl-dev openssl libcmocka-dev
      clang libclang-rt-14-dev iproute2 procps redis-server redis-tools iperf3 libhiredis-dev libmicrohttpd-dev libgnutls28-dev
      python3-dev python3-pytest python3-numpy python3-torch curl
      etcd-server etcd-client libcurl4-openssl-dev libcjson-dev libucx-dev ucx-utils prometheus memcached
      python3-matplotlib python3-venv python3-pip python3-setuptools dpkg-dev fakeroot)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
