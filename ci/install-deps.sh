#!/usr/bin/env bash
# Installs everything the build and the test suite need, from Debian's packages only.
# Idempotent: safe to run on a machine that already has them.
set -euo pipefail

packages=(
  # building CPython
  build-essential pkg-config xz-utils
  libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev libsqlite3-dev
  libreadline-dev uuid-dev libgdbm-dev libncurses-dev
  # probe toolchain cross-checks: SystemTap's dtrace -h and <sys/sdt.h>, readelf
  systemtap-sdt-dev binutils
  # tracers that consume the probes
  bpftrace gdb
  # aarch64 cross compiler: the self-contained header's aarch64 notes are checked
  # against <sys/sdt.h>. (Not gcc-multilib: Debian makes the two conflict.)
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  # packager tooling the export is checked against
  quilt git
  # fetching sources from Debian (apt-get source) and checking signatures
  dpkg-dev gpgv debian-archive-keyring ca-certificates
  # benchmarks: callgrind (and callgrind_annotate); the system pip fetches
  # pyperf and pyperformance from PyPI (tests/bench/pypi.lock)
  valgrind python3-pip
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci/install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpftrace attaches USDT probes through tracefs.
if [ -d /sys/kernel/tracing ] && [ -z "$(ls -A /sys/kernel/tracing 2>/dev/null)" ]; then
  mount -t tracefs nodev /sys/kernel/tracing || echo "ci/install-deps.sh: could not mount tracefs" >&2
fi
echo "ci/install-deps.sh: dependencies present"
