#!/usr/bin/env python3
"""Run the fire workloads under DTrace and compare with their expectations.

    run.py [--dtrace PATH] [--out DIR] [--workload NAME]... PYTHON X.Y
    run.py --list X.Y
    run.py --compare X.Y NAME TRACE

The DTrace twin of `cargo xtask fire` (which uses bpftrace): for each
workload of tests/fire for CPython X.Y it runs, as root,

    dtrace -q -s tests/fire/dtrace/trace.d -o TRACE -c 'PYTHON -B WORKLOAD.py'

in the workload's directory with tests/fire on PYTHONPATH, and compares
TRACE with the expectation using the rules of tests/fire/check.py (imported,
not copied). Then it checks that function__entry and function__return
balance over call_stack, generators and exceptions (check.py --balance).

The files are picked as `cargo xtask fire` picks them (tests/fire/README.md):
tests/fire/X.Y/NAME.expected replaces NAME.expected, tests/fire/X.Y/NAME.py
replaces the workload, and `# since: X.Y` leaves a workload out on older
versions. The frames kept are those of every .py of tests/fire and of
tests/fire/X.Y.

--list prints what would run; --compare checks a saved TRACE again.
Not run here (no DTrace on Linux); run by the CI matrix. Python 3.6+,
standard library only. Exit status: 0 all match, 1 a mismatch, 2 an error.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIRE = os.path.dirname(HERE)
sys.path.insert(0, FIRE)
import check  # noqa: E402  (tests/fire/check.py: the reference rules)

BALANCED = ("call_stack", "generators", "exceptions")


def py_files(directory):
    try:
        return sorted(f for f in os.listdir(directory) if f.endswith(".py"))
    except FileNotFoundError:
        return []


def parse_minor(text):
    parts = text.strip().split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise SystemExit("run.py: %r is not X.Y" % text)
    return int(parts[0]), int(parts[1])


def since_of(expected):
    with open(expected, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# since:"):
                return parse_minor(line[len("# since:"):])
    return None


def cases(fire_dir, minor):
    """[(name, script, expected, since)] as `cargo xtask fire` picks them."""
    version_dir = os.path.join(fire_dir, minor)
    stems = sorted({f[:-3] for f in py_files(fire_dir) + py_files(version_dir)})
    out = []
    for stem in stems:
        def pick(ext):
            own = os.path.join(version_dir, stem + ext)
            if os.path.isfile(own):
                return own
            base = os.path.join(fire_dir, stem + ext)
            return base if os.path.isfile(base) else None
        script, expected = pick(".py"), pick(".expected")
        if script is None or expected is None:
            continue  # a helper module, not a workload
        if script.startswith(version_dir + os.sep) and not expected.startswith(version_dir + os.sep):
            raise SystemExit("run.py: %s replaces the workload for %s but has no %s.expected beside it"
                             % (script, minor, stem))
        out.append((stem, script, expected, since_of(expected)))
    if not out:
        raise SystemExit("run.py: no workloads in %s" % fire_dir)
    return out


def frame_files(fire_dir, minor):
    """The workload files whose frames the comparison keeps."""
    return set(py_files(fire_dir)) | set(py_files(os.path.join(fire_dir, minor)))


def compare(expected, trace, files):
    """(ok, report) for one trace, by check.py's rules."""
    probes, want = check.read_expected(expected)
    got = check.normalize(check.read_events(trace), files, probes)
    name = os.path.basename(expected)
    if check.matches(want, got):
        return True, "%s: OK (%d events)\n" % (name, len(got))
    import difflib
    diff = "".join(difflib.unified_diff([l + "\n" for l in want], [l + "\n" for l in got],
                                        "expected", "actual"))
    return False, "%s: MISMATCH\n%s" % (name, diff)


def trace_one(dtrace, python, script, fire_dir, trace_path):
    """Runs one workload under dtrace; returns an error text or None."""
    if os.path.exists(trace_path):
        os.remove(trace_path)  # dtrace -o appends
    for path in (python, script):
        if any(c.isspace() for c in path):
            return "dtrace -c splits on blanks; %r has one" % path
    env = dict(os.environ)
    env["PYTHONPATH"] = fire_dir
    cmd = [dtrace, "-q", "-s", os.path.join(HERE, "trace.d"), "-o", trace_path,
           "-c", "%s -B %s" % (python, script)]
    try:
        done = subprocess.run(cmd, cwd=os.path.dirname(script), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s: %s" % (" ".join(cmd), e)
    if done.returncode != 0:
        return "%s exited %d:\n%s" % (" ".join(cmd), done.returncode, done.stderr)
    if "drops on CPU" in done.stderr or "dynamic variable drops" in done.stderr:
        return "dtrace dropped events, the comparison would be meaningless:\n" + done.stderr
    if not os.path.isfile(trace_path):
        return "dtrace wrote no %s:\n%s" % (trace_path, done.stderr)
    return None


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dtrace", default="/usr/sbin/dtrace")
    p.add_argument("--out", help="where the traces go (default: target/fire-dtrace/X.Y)")
    p.add_argument("--workload", action="append", default=[])
    p.add_argument("--fire-dir", default=FIRE, help=argparse.SUPPRESS)
    p.add_argument("--list", metavar="X.Y")
    p.add_argument("--compare", nargs=3, metavar=("X.Y", "NAME", "TRACE"))
    p.add_argument("args", nargs="*", metavar="PYTHON X.Y")
    a = p.parse_args(argv[1:])
    fire_dir = os.path.abspath(a.fire_dir)

    if a.list:
        minor = a.list
        have = parse_minor(minor)
        for name, script, expected, since in cases(fire_dir, minor):
            row = [name, os.path.relpath(script, fire_dir), os.path.relpath(expected, fire_dir)]
            if since and have < since:
                row.append("skipped: since %d.%d" % since)
            print("\t".join(row))
        print("frames of: " + " ".join(sorted(frame_files(fire_dir, minor))))
        return 0

    if a.compare:
        minor, name, trace = a.compare
        parse_minor(minor)
        found = [c for c in cases(fire_dir, minor) if c[0] == name]
        if not found:
            raise SystemExit("run.py: no workload %r for %s" % (name, minor))
        ok, report = compare(found[0][2], trace, frame_files(fire_dir, minor))
        sys.stdout.write(report)
        return 0 if ok else 1

    if len(a.args) != 2:
        p.print_usage()
        return 2
    python, minor = os.path.abspath(a.args[0]), a.args[1]
    have = parse_minor(minor)
    out = os.path.abspath(a.out or os.path.join(FIRE, "..", "..", "target", "fire-dtrace", minor))
    os.makedirs(out, exist_ok=True)
    todo = cases(fire_dir, minor)
    unknown = [w for w in a.workload if w not in [c[0] for c in todo]]
    if unknown:
        raise SystemExit("run.py: no workload %s for %s" % (", ".join(unknown), minor))
    files = frame_files(fire_dir, minor)
    status, traced = 0, {}
    for name, script, expected, since in todo:
        if a.workload and name not in a.workload:
            continue
        if since and have < since:
            print("%s: not applicable to %s (needs %d.%d)" % (name, minor, since[0], since[1]))
            continue
        trace = os.path.join(out, name + ".trace")
        error = trace_one(a.dtrace, python, script, fire_dir, trace)
        if error:
            print("%s: ERROR %s" % (name, error))
            status = 1
            continue
        traced[name] = trace
        ok, report = compare(expected, trace, files)
        sys.stdout.write(report)
        if not ok:
            status = 1
    for name in BALANCED:
        if name not in traced:
            continue
        if check.balance(check.read_events(traced[name])):
            print("%s: balanced" % name)
        else:
            print("%s: function__entry/return unbalanced" % name)
            status = 1
    print("traces kept in %s" % out)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
