# Workload of the --pid test of who-calls: calls `target` through `caller`
# from a loop in module code until the file named by argv[1] exists (at
# most 60 s), so that a tracer attached meanwhile finds a frame entered
# before it attached: <module>, running the loop.
import os
import sys
import time


def target():
    return 42


def caller():
    return target()


stop = sys.argv[1]
deadline = time.monotonic() + 60
print("running", flush=True)
while not os.path.exists(stop) and time.monotonic() < deadline:
    caller()
    time.sleep(0.02)
