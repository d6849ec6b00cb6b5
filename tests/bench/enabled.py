# cpython-dtrace benchmark: the cost of counting function entries while
# enabled, by three means: a bpftrace probe on function__entry (attached from
# outside; this script just runs), sys.setprofile, and sys.monitoring PY_START.
#
# Usage: python enabled.py MODE CALLS [wait]
#   MODE: none | setprofile | monitoring
#   wait: read one line from stdin first (a tracer attaches meanwhile)
# Prints JSON: {"mode", "calls", "seconds", "counted"}; `calls` is the number
# of Python function entries inside the timed region.
import json
import sys
import time


def leaf(x):
    return x


def workload(n):
    # n calls of leaf(); the loop itself runs in this (already entered) frame.
    f = leaf
    for i in range(n):
        f(i)


def main():
    mode, calls = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3] == "wait":
        sys.stdin.readline()
    counted = 0

    if mode == "setprofile":

        def profiler(frame, event, arg):
            nonlocal counted
            if event == "call":
                counted += 1

        start = time.perf_counter()
        sys.setprofile(profiler)
        workload(calls)
        sys.setprofile(None)
        seconds = time.perf_counter() - start
        counted -= 1  # workload() itself
    elif mode == "monitoring":
        mon = sys.monitoring
        tool = mon.PROFILER_ID

        def on_start(code, offset):
            nonlocal counted
            counted += 1

        mon.use_tool_id(tool, "cpython-dtrace-bench")
        mon.register_callback(tool, mon.events.PY_START, on_start)
        start = time.perf_counter()
        mon.set_events(tool, mon.events.PY_START)
        workload(calls)
        mon.set_events(tool, 0)
        seconds = time.perf_counter() - start
        mon.register_callback(tool, mon.events.PY_START, None)
        mon.free_tool_id(tool)
        counted -= 1  # workload() itself
    elif mode == "none":
        start = time.perf_counter()
        workload(calls)
        seconds = time.perf_counter() - start
    else:
        sys.exit(f"unknown mode {mode!r}: none, setprofile or monitoring")
    print(json.dumps({"mode": mode, "calls": calls, "seconds": seconds, "counted": counted}))


if __name__ == "__main__":
    main()
