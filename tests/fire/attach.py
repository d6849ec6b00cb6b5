#!/usr/bin/env python3
"""Trace a workload of an --enable-shared interpreter with bpftrace -p.

    attach.py PYTHON PROBES TRACE_BT OUTPUT WORKLOAD.py

bpftrace 0.17 cannot resolve, with -c, the probes of a shared library that
the new process has not mapped yet.  So: start PYTHON on a launcher that
waits for a byte on stdin, attach `bpftrace -p` to it, wait until the
semaphores of every probe of TRACE_BT are set in the process (addresses
from `readelf -n PROBES`, values read from /proc/PID/mem), then let the
launcher run WORKLOAD.py as __main__ (runpy, with the workload's directory
first on sys.path, as `python WORKLOAD.py` would have it).  Root only.
"""
import os
import re
import subprocess
import sys
import time

LAUNCHER = (
    "import os, runpy, sys; sys.stdin.read(1); sys.argv[:] = sys.argv[1:]; "
    "sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0]))); "
    "runpy.run_path(sys.argv[0], run_name='__main__')")


def probe_semaphores(elf_file):
    output = subprocess.run(["readelf", "-n", elf_file],
                            stdout=subprocess.PIPE, universal_newlines=True,
                            check=True).stdout
    semaphores, name = {}, None
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("Name: "):
            name = line[len("Name: "):]
        match = re.search(r"Semaphore: (0x[0-9a-f]+)", line)
        if match and name:
            semaphores[name] = int(match.group(1), 16)
    return semaphores


def semaphores_set(pid, elf_file, addresses):
    elf_file = os.path.realpath(elf_file)
    try:
        base = None
        with open("/proc/%d/maps" % pid) as maps:
            for line in maps:
                fields = line.split()
                if (len(fields) > 5 and int(fields[2], 16) == 0 and
                        os.path.realpath(fields[5]) == elf_file):
                    base = int(fields[0].split("-")[0], 16)
                    break
        if base is None:
            return False
        with open("/proc/%d/mem" % pid, "rb") as mem:
            for address in addresses:
                mem.seek(base + address)
                if int.from_bytes(mem.read(2), sys.byteorder) == 0:
                    return False
    except (OSError, ValueError):
        return False
    return True


def main(python, probes, script, output, workload):
    with open(script) as f:
        used = set(re.findall(r"usdt:\$1:python:(\w+)", f.read()))
    addresses = [a for n, a in probe_semaphores(probes).items() if n in used]
    env = dict(os.environ, BPFTRACE_STRLEN="128")
    proc = subprocess.Popen([python, "-B", "-c", LAUNCHER, workload],
                            stdin=subprocess.PIPE)
    tracer = subprocess.Popen(["bpftrace", "-o", output, "-p", str(proc.pid),
                               script, probes], env=env)
    deadline = time.monotonic() + 60
    while not semaphores_set(proc.pid, probes, addresses):
        if tracer.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            tracer.wait()
            return 1
        time.sleep(0.05)
    proc.communicate(b"x")
    tracer.wait()
    return proc.returncode or tracer.returncode


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
