# cpython-dtrace benchmark: the cost of counting events while enabled, by
# three means: a bpftrace probe (attached from outside: this script just
# runs), sys.setprofile, and sys.monitoring (3.12+). Also the workload of the
# per-call and per-instance instruction counts (MODE none). Valid Python 2.7
# and 3.x.
#
# Usage: python enabled.py KIND MODE N [OUT]
#   KIND: calls      N calls of a one-line Python function (bpftrace counts
#                    function__entry)
#         instances  N instances of a Python class created and freed
#                    (bpftrace counts instance__new__done)
#   MODE: none | setprofile | monitoring
#   OUT:  write the JSON result to this file instead of stdout
# Prints JSON: {"kind", "mode", "n", "seconds", "counted"}: `counted` is what
# the in-process means counted inside the timed region (0 for none).
import json
import sys

try:
    from time import perf_counter as clock
except ImportError:  # 2.7
    from timeit import default_timer as clock
try:
    range = xrange  # 2.7: a range that builds no list
except NameError:
    pass


def leaf(x):
    return x


class Obj(object):
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


def calls(n):
    # n calls of leaf(); the loop runs in this (already entered) frame.
    f = leaf
    for i in range(n):
        f(i)


def instances(n):
    # n instances of Obj, each freed as the next one replaces it: n
    # instance__new__done firings and n calls of Obj.__init__.
    cls = Obj
    for i in range(n):
        cls(i)


WORKLOADS = {"calls": (calls, leaf), "instances": (instances, Obj.__init__)}


def code_of(fn):
    fn = getattr(fn, "__func__", fn)  # 2.7 unbound method
    return fn.__code__


def timed(workload, n):
    start = clock()
    workload(n)
    return clock() - start


def main(argv):
    if len(argv) < 4 or argv[1] not in WORKLOADS:
        sys.exit("usage: enabled.py calls|instances none|setprofile|monitoring N [OUT]")
    kind, mode, n = argv[1], argv[2], int(argv[3])
    workload, counted_fn = WORKLOADS[kind]
    target = code_of(counted_fn)
    count = [0]

    if mode == "none":
        seconds = timed(workload, n)
    elif mode == "setprofile":
        # Every call and return reaches the profiler; it counts the entries
        # of the counted function only.
        def profiler(frame, event, arg):
            if event == "call" and frame.f_code is target:
                count[0] += 1

        start = clock()
        sys.setprofile(profiler)
        workload(n)
        sys.setprofile(None)
        seconds = clock() - start
    elif mode == "monitoring":
        mon = getattr(sys, "monitoring", None)
        if mon is None:
            sys.exit("sys.monitoring needs Python 3.12 or later")
        tool = mon.PROFILER_ID

        def on_start(code, offset):
            count[0] += 1

        mon.use_tool_id(tool, "cpython-dtrace-bench")
        mon.register_callback(tool, mon.events.PY_START, on_start)
        # Only the counted function's code is instrumented: the cheapest way
        # sys.monitoring offers to count its calls.
        start = clock()
        mon.set_local_events(tool, target, mon.events.PY_START)
        workload(n)
        mon.set_local_events(tool, target, 0)
        seconds = clock() - start
        mon.register_callback(tool, mon.events.PY_START, None)
        mon.free_tool_id(tool)
    else:
        sys.exit("unknown mode %r: none, setprofile or monitoring" % mode)

    result = json.dumps(
        {"kind": kind, "mode": mode, "n": n, "seconds": seconds, "counted": count[0]}
    )
    if len(argv) > 4:
        with open(argv[4], "w") as out:
            out.write(result + "\n")
    else:
        print(result)


if __name__ == "__main__":
    main(sys.argv)
