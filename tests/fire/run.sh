#!/bin/sh
# Run every fire workload under bpftrace and compare with its .expected.
# usage: tests/fire/run.sh PYTHON [PROBES]
#   PYTHON  the interpreter to test (a patched --with-dtrace build)
#   PROBES  the ELF file holding the probes (default: PYTHON; give the
#           libpython3.X.so of an --enable-shared build)
# Needs root, bpftrace and tracefs; exits non-zero if a workload differs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
python=$1
probes=${2:-$1}
out=${TMPDIR:-/tmp}/cpython-dtrace-fire.$$
mkdir -p "$out"
status=0
for expected in "$here"/*.expected; do
    name=$(basename "$expected" .expected)
    if [ "$probes" = "$python" ]; then
        BPFTRACE_STRLEN=128 bpftrace -o "$out/$name.trace" \
            -c "$python -B $here/$name.py" "$here/trace.bt" "$probes" \
            > "$out/$name.out" 2>&1
    else
        # probes in a shared library: bpftrace -c cannot resolve them
        python3 "$here/attach.py" "$python" "$probes" "$here/trace.bt" \
            "$out/$name.trace" "$here/$name.py" > "$out/$name.out" 2>&1
    fi
    python3 "$here/check.py" "$expected" "$out/$name.trace" || status=1
done
# With attach.py the frames that run the workload were entered before the
# tracer attached: the balance check needs a process traced from its start.
[ "$probes" = "$python" ] || { echo "traces kept in $out"; exit $status; }
for name in call_stack generators exceptions; do
    if python3 "$here/check.py" --balance "$out/$name.trace" > "$out/$name.balance"; then
        echo "$name: balanced ($(head -1 "$out/$name.balance"))"
    else
        echo "$name: function__entry/return unbalanced"
        cat "$out/$name.balance"
        status=1
    fi
done
echo "traces kept in $out"
exit $status
