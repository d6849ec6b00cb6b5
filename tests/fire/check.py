#!/usr/bin/env python3
"""Reference checker for the fire workloads (see README.md).

    check.py EXPECTED TRACE        compare a trace.bt output with an .expected
    check.py --normalize EXPECTED TRACE   print the normalized stream only
    check.py --balance TRACE       check function__entry/return balance

The rules implemented here are the ones README.md describes; the project's
Rust harness implements the same ones.  Python 3.6+, standard library only.
"""
import difflib
import os
import re
import sys

PROBES = {
    "function__entry", "function__return", "line",
    "gc__start", "gc__done",
    "import__find__load__start", "import__find__load__done",
    "audit",
    "instance__new__start", "instance__new__done",
    "instance__delete__start", "instance__delete__done",
    "gil__acquire__start", "gil__acquire__done", "gil__release",
    "thread__start", "thread__end",
    "cfunction__entry", "cfunction__return",
    "exception__raise", "exception__handled",
}
GIL_PROBES = ("gil__acquire__start", "gil__acquire__done", "gil__release")
GIL_NEXT = {None: "gil__acquire__start", "gil__release": "gil__acquire__start",
            "gil__acquire__start": "gil__acquire__done",
            "gil__acquire__done": "gil__release"}
FRAME_PROBES = ("function__entry", "function__return", "line")


def read_events(path):
    events = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            fields = raw.rstrip("\n").split("\t")
            if fields[0] in PROBES:
                events.append(fields)
    return events


def read_expected(path):
    probes, lines = None, []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if raw.startswith("# probes:"):
                probes = set(raw[len("# probes:"):].split())
            elif raw and not raw.startswith("#"):
                lines.append(raw)
    if probes is None:
        raise SystemExit("%s: no '# probes:' line" % path)
    return probes, lines


class Threads:
    """Thread idents as T<n> (new at each thread__start), kernel thread ids
    as N<n> (at first sight)."""

    def __init__(self):
        self.idents, self.started, self.tids = {}, 0, {}

    def ident(self, value, start):
        if start:
            self.started += 1
            self.idents[value] = "T%d" % self.started
            return self.idents[value]
        return self.idents.pop(value, "T?")

    def tid(self, value):
        return self.tids.setdefault(value, "N%d" % (len(self.tids) + 1))

    def in_name(self, name):
        return "_".join(self.idents.get(p, self.tids.get(p, p))
                        for p in name.split("_"))


def gil_summary(gil, threads):
    """One line per thread: ordered|disordered, waited|no-wait (>= 1 ms)."""
    lines = []
    for tid, (ordered, waited) in gil.items():
        lines.append("\t".join(["gil", threads.tid(tid),
                                 "ordered" if ordered else "disordered",
                                 "waited" if waited >= 1000000 else "no-wait"]))
    return lines


def normalize(events, workload_files, probes):
    out, stack, tokens = [], [], {}
    threads = Threads()
    gil, gil_last, gil_start = {}, {}, {}  # insertion-ordered (3.7+)
    gil_events = []
    for ev in events:
        probe = ev[0]
        keep = False
        if probe in FRAME_PROBES:
            base = os.path.basename(ev[1])
            if probe == "function__entry":
                stack.append(base)
            elif probe == "function__return" and stack:
                stack.pop()
            keep = base in workload_files
            ev = [probe, base] + ev[2:]
        elif probe.startswith("gc__") or probe.startswith("cfunction__"):
            keep = bool(stack) and stack[-1] in workload_files
        elif probe.startswith("exception__") and len(ev) > 2:
            ev = ev[:2] + [os.path.basename(ev[2])] + ev[3:]
            keep = ev[2] in workload_files
        elif probe.startswith("thread__") and len(ev) == 4:
            # tokens only for listed events: unlisted ones must not shift them
            if probe in probes:
                ev = [probe, threads.ident(ev[1], probe == "thread__start"),
                      threads.tid(ev[2]), threads.tid(ev[3])]
            keep = True
        elif probe in GIL_PROBES and len(ev) == 3:
            nsecs = int(ev[2]) if ev[2].isdigit() else 0
            gil_events.append((nsecs, ev[1], probe))  # thread: a token only in the summary
            continue  # summarised below, in time order
        elif probe.startswith("import__"):
            keep = ev[1].startswith("fire_")
        elif probe == "audit":
            keep = ev[1].startswith("cpython_dtrace.")
        elif probe.startswith("instance__"):
            ev = [probe, threads.in_name(ev[1])] + ev[2:]
            keep = ev[1].startswith("Fire")
        if not (keep and probe in probes):
            continue
        if probe.startswith("instance__") and len(ev) > 3:
            # obj<N> -> #<k>, numbered by first appearance in the stream
            tok = ev[3]
            if tok == "obj0":
                ev = ev[:3] + ["#?"]
            else:
                ev = ev[:3] + ["#%d" % tokens.setdefault(tok, len(tokens) + 1)]
        out.append("\t".join(ev))
    if any(p in probes for p in GIL_PROBES):
        # bpftrace prints each CPU's buffer as it reads it, so a thread that
        # moved between CPUs can have its events out of order: the
        # timestamps give the order back (a stable sort, for equal ones).
        for nsecs, thread, probe in sorted(gil_events, key=lambda e: e[0]):
            ordered, waited = gil.setdefault(thread, (True, 0))
            if probe != GIL_NEXT[gil_last.get(thread)]:
                ordered = False
            if probe == "gil__acquire__start":
                gil_start[thread] = nsecs
            elif probe == "gil__acquire__done" and thread in gil_start:
                waited += max(0, nsecs - gil_start.pop(thread))
            gil[thread] = (ordered, waited)
            gil_last[thread] = probe
        out.extend(gil_summary(gil, threads))
    return out


def matches(expected, actual):
    if len(expected) != len(actual):
        return False
    for e, a in zip(expected, actual):
        ef, af = e.split("\t"), a.split("\t")
        if len(ef) != len(af):
            return False
        if any(x != "*" and x != y for x, y in zip(ef, af)):
            return False
    return True


def balance(events):
    stack, entries, returns, errors = [], 0, 0, []
    for ev in events:
        if ev[0] == "function__entry":
            entries += 1
            stack.append((ev[1], ev[2]))
        elif ev[0] == "function__return":
            returns += 1
            if not stack:
                errors.append("return without entry: %s" % "\t".join(ev))
                continue
            top = stack.pop()
            if top != (ev[1], ev[2]):
                errors.append("return of %s:%s while %s:%s is innermost"
                              % (ev[1], ev[2], top[0], top[1]))
    print("function__entry: %d, function__return: %d" % (entries, returns))
    for e in errors[:20]:
        print(e)
    for f, n in stack[-20:]:
        print("never returned: %s:%s" % (f, n))
    return entries == returns and not errors and not stack


def main(argv):
    if len(argv) == 3 and argv[1] == "--balance":
        return 0 if balance(read_events(argv[2])) else 1
    only_print = len(argv) == 4 and argv[1] == "--normalize"
    if only_print:
        argv = argv[1:]
    if len(argv) != 3:
        print(__doc__)
        return 2
    expected_path, trace_path = argv[1], argv[2]
    probes, expected = read_expected(expected_path)
    directory = os.path.dirname(os.path.abspath(expected_path))
    directories = [directory]
    if re.match(r"^[0-9]+\.[0-9]+$", os.path.basename(directory)):
        # tests/fire/X.Y/: the workload may be the shared one of tests/fire
        directories.append(os.path.dirname(directory))
    workload_files = {f for d in directories for f in os.listdir(d)
                      if f.endswith(".py")}
    actual = normalize(read_events(trace_path), workload_files, probes)
    if only_print:
        print("\n".join(actual))
        return 0
    if matches(expected, actual):
        print("%s: OK (%d events)" % (os.path.basename(expected_path), len(actual)))
        return 0
    print("%s: MISMATCH" % os.path.basename(expected_path))
    sys.stdout.writelines(difflib.unified_diff(
        [l + "\n" for l in expected], [l + "\n" for l in actual],
        "expected", "actual"))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
