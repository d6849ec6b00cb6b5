# Workload of probes/*/audit: an event raised from Python in `emit` (line 9),
# and an `open` event raised by the interpreter inside `opener` (line 13).
import os
import sys
import tempfile


def emit():
    sys.audit("cpython_dtrace.scripts", 1)


def opener(path):
    with open(path, "w") as f:
        f.write("x")


def main():
    path = os.path.join(tempfile.gettempdir(), "cpython-dtrace-audit-%d" % os.getpid())
    emit()
    opener(path)
    os.unlink(path)


main()
