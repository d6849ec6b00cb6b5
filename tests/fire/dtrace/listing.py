#!/usr/bin/env python3
"""Compare a `dtrace -l -v` listing of the python provider with ci/expected.

    listing.py EXPECTED.json LISTING.txt

LISTING.txt is the output of

    dtrace -l -v -n 'python$target:::' -c 'PYTHON -c pass'

(one line per probe site: ID PROVIDER MODULE FUNCTION NAME, then with -v an
"Argument Types" block with one `args[N]: TYPE` line per argument).
EXPECTED.json is a hand-written listing of ci/expected (the `name` and
`args` of each probe; argument sizes and semaphores are ELF/SystemTap facts
that DTrace does not show, so only the number of arguments is compared).

Both sides are reduced to the set of `NAME/ARGS` lines, with DTrace's
`function-entry` spelled as provider.d does (`function__entry`); any
difference is printed as a diff and exits 1. A probe whose sites disagree
on the number of arguments is an error too. Without -v (no argument types
at all) only the names are compared.

Not run here (no DTrace on Linux); run by the CI matrix. Python 3.6+,
standard library only.
"""
import difflib
import json
import re
import sys

PROBE = re.compile(r"^\s*(\d+)\s+(python\d+)\s+(\S+)\s+(.+?)\s+(\S+)\s*$")
ARG = re.compile(r"^\s*args\[(\d+)\]:")


def read_listing(path):
    """{name: set of argument counts}, and whether argument types were shown."""
    probes, current, typed = {}, None, False
    counts = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = PROBE.match(line)
            if m:
                if current is not None:
                    probes.setdefault(current, set()).add(counts.get(current, 0))
                current = m.group(5).replace("-", "__")
                counts[current] = 0
                continue
            if "Argument Types" in line:
                typed = True
            a = ARG.match(line)
            if a and current is not None:
                counts[current] = max(counts[current], int(a.group(1)) + 1)
    if current is not None:
        probes.setdefault(current, set()).add(counts.get(current, 0))
    return probes, typed


def main(argv):
    if len(argv) != 3:
        sys.stdout.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        expected = json.load(f)
    probes, typed = read_listing(argv[2])
    problems = []
    for name, arities in sorted(probes.items()):
        if len(arities) > 1:
            problems.append("%s: sites disagree on the number of arguments: %s"
                            % (name, sorted(arities)))

    def show(name, n):
        return "%s/%d" % (name, n) if typed else name

    want = sorted({show(p["name"], len(p["args"])) for p in expected
                   if p.get("provider", "python") == "python"})
    have = sorted({show(name, max(arities)) for name, arities in probes.items()})
    if want != have:
        problems.append("".join(difflib.unified_diff(
            [l + "\n" for l in want], [l + "\n" for l in have],
            argv[1], argv[2])).rstrip("\n"))
    if problems:
        print("listing: MISMATCH")
        for p in problems:
            print(p)
        return 1
    print("listing: OK (%d probes%s)" % (len(have), ", with argument counts" if typed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
