#!/usr/bin/env bash
# Bounded fuzzing of probe_reader::read_bytes with cargo-fuzz (libFuzzer).
#
#   FUZZ_SECONDS    how long libFuzzer runs (default 60)
#   FUZZ_SANITIZER  address (default) or none
#
# Only a stable toolchain is expected: RUSTC_BOOTSTRAP=1 lets it accept the
# -Z flags cargo-fuzz passes (-Zsanitizer=address among them). The corpus is
# seeded with freshly compiled <sys/sdt.h> binaries under fuzz/corpus/, which
# is not tracked. Crashes land in fuzz/artifacts/read_elf/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "ci/fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

corpus=fuzz/corpus/read_elf
mkdir -p "$corpus"
seed_dir=$(mktemp -d)
trap 'rm -rf "$seed_dir"' EXIT
cat >"$seed_dir/seed.c" <<'C'
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
unsigned short seed_fire_semaphore __attribute__((section(".probes"), used));
int main(int argc, char **argv)
{
    long big = argc * 7L;
    double ratio = argc / 3.0;
    DTRACE_PROBE4(seed, fire, argc, argv[0], big, ratio);
    return 0;
}
C
cat >"$seed_dir/nosem.c" <<'C'
#include <sys/sdt.h>
void seed_idle(int code) { STAP_PROBE1(seed, idle, code); STAP_PROBE(seed, empty); }
C
# Small seeds keep libFuzzer's default -max_len (the largest seed) modest.
cc -Os -o "$corpus/seed-executable" "$seed_dir/seed.c" "$seed_dir/nosem.c"
cc -Os -c -o "$corpus/seed-object.o" "$seed_dir/seed.c"
cc -Os -shared -fPIC -o "$corpus/seed-library.so" "$seed_dir/nosem.c"
strip -o "$corpus/seed-stripped" "$corpus/seed-executable"

sanitizer=${FUZZ_SANITIZER:-address}
seconds=${FUZZ_SECONDS:-60}
echo "ci/fuzz.sh: fuzzing read_elf for ${seconds}s (sanitizer: $sanitizer)"
RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" read_elf "$corpus" -- \
  -max_total_time="$seconds" -dict=fuzz/read_elf.dict -print_final_stats=1
