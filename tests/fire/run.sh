#!/bin/sh
# Run every fire workload under bpftrace and compare with its .expected,
# taking tests/fire/X.Y/'s files where the interpreter is CPython X.Y.
# usage: tests/fire/run.sh PYTHON [PROBES]
#   PYTHON  the interpreter to test (a patched --with-dtrace build)
#   PROBES  the ELF file holding the probes (default: PYTHON; give the
#           libpython3.X.so of an --enable-shared build)
# Needs root, bpftrace and tracefs; exits non-zero if a workload differs.
# CPython 3.8 and later: trace.bt names the audit probe, which 2.7 lacks
# (`cargo xtask fire` drops what a build lacks from the script).
set -u
here=$(cd "$(dirname "$0")" && pwd)
python=$1
probes=${2:-$1}
out=${TMPDIR:-/tmp}/cpython-dtrace-fire.$$
mkdir -p "$out"
minor=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') ||
    { echo "run.sh: cannot run $python; give the path of a built interpreter"; exit 2; }
# tests/fire/X.Y/ replaces a workload or its expectation for CPython X.Y
pick() {
    if [ -f "$here/$minor/$1" ]; then echo "$here/$minor/$1"
    elif [ -f "$here/$1" ]; then echo "$here/$1"; fi
}
status=0
for name in $(cd "$here" && ls *.py "$minor"/*.py 2>/dev/null |
              sed 's|.*/||; s|\.py$||' | sort -u); do
    script=$(pick "$name.py")
    expected=$(pick "$name.expected")
    [ -n "$expected" ] || continue # a helper module, not a workload
    case $script in "$here/$minor/"*)
        case $expected in "$here/$minor/"*) ;; *)
            echo "$name: $script replaces the workload for $minor but has no $name.expected beside it; write one"
            status=1
            continue ;;
        esac ;;
    esac
    since=$(sed -n 's/^# since: *//p' "$expected")
    if [ -n "$since" ] &&
       [ "$(printf '%s\n%s\n' "$since" "$minor" | sort -V | head -1)" != "$since" ]; then
        echo "$name: left out (since $since; this is $minor)"
        continue
    fi
    if [ "$probes" = "$python" ]; then
        BPFTRACE_STRLEN=128 bpftrace -o "$out/$name.trace" \
            -c "$python -B $script" "$here/trace.bt" "$probes" \
            > "$out/$name.out" 2>&1
    else
        # probes in a shared library: bpftrace -c cannot resolve them
        python3 "$here/attach.py" "$python" "$probes" "$here/trace.bt" \
            "$out/$name.trace" "$script" > "$out/$name.out" 2>&1
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
