#!/usr/bin/env bash
# Bounded fuzzing of probe_reader with cargo-fuzz (libFuzzer), two targets:
#   read_elf  stapsdt notes in ELF files, seeded with compiled <sys/sdt.h>
#             binaries;
#   read_dof  DOF, bare and in ELF and Mach-O containers, seeded with the
#             fixtures of crates/probe-reader/tests/dof.rs.
#
#   FUZZ_SECONDS    total time for both targets, split evenly (default 60)
#   FUZZ_SANITIZER  address (default) or none
#
# Only a stable toolchain is expected: RUSTC_BOOTSTRAP=1 lets it accept the
# -Z flags cargo-fuzz passes (-Zsanitizer=address among them). The corpora
# live under fuzz/corpus/<target>/, which is not tracked. Crashes land in
# fuzz/artifacts/<target>/.
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

dof_corpus=fuzz/corpus/read_dof
mkdir -p "$dof_corpus"
PROBE_READER_FUZZ_SEEDS="$root/$dof_corpus" \
  cargo test --quiet -p probe-reader --test dof -- --ignored --exact write_fuzz_seeds >/dev/null

sanitizer=${FUZZ_SANITIZER:-address}
total=${FUZZ_SECONDS:-60}
seconds=$(( total / 2 > 0 ? total / 2 : 1 ))
for target in read_elf read_dof; do
  echo "ci/fuzz.sh: fuzzing $target for ${seconds}s (sanitizer: $sanitizer)"
  RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" "$target" \
    "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -dict="fuzz/$target.dict" -print_final_stats=1
done
