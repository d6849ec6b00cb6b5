# cpython-dtrace wall-clock benchmark suite: small, self-contained benchmarks
# (no pyperf), each a fixed amount of work timed in-process. Valid Python 2.7
# and 3.x: `cargo xtask bench` runs it on 2.7, which pyperf and pyperformance
# do not support (and on 3.x with --suite own). `coroutines` needs 3.7+.
#
# Usage: python suite.py INNER [NAME ...]
#   Runs every benchmark (or those named) INNER times, after one warm-up
#   call, and prints one line of JSON: [["name", median seconds], ...], in
#   the order run.
#   `cargo xtask bench` runs this once per interpreter per run, interleaved.
import gc
import json
import re
import sys

try:
    from time import perf_counter as clock
except ImportError:  # 2.7
    from timeit import default_timer as clock
try:
    range = xrange  # 2.7: a range that builds no list
except NameError:
    pass

BENCHMARKS = []  # (name, function), in order


def bench(fn):
    BENCHMARKS.append((fn.__name__[len("bm_") :], fn))
    return fn


# -- calls: plain, keyword, method and closure calls ------------------------


def _f(a, b):
    return a + b


def _g(a, b=1, c=2):
    return _f(a, b) + c


class _C(object):
    def m(self, x):
        return x + 1


@bench
def bm_calls():
    c = _C()
    t = 0
    for i in range(60000):
        t += _f(i, 1) + _g(i, c=3) + c.m(i)
    return t


# -- generators: nested pipelines and explicit next() -----------------------


def _gen(n):
    for i in range(n):
        yield i


@bench
def bm_generators():
    t = 0
    for _ in range(150):
        t += sum(x * 2 for x in _gen(500) if x & 1)
        g = _gen(200)
        for _ in range(100):
            t += next(g)
    return t


# -- object churn: instances created and freed -------------------------------


class _Obj(object):
    def __init__(self, v):
        self.v = v
        self.w = None


class _Slot(object):
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


@bench
def bm_object_churn():
    t = 0
    for i in range(50000):
        o = _Obj(i)
        s = _Slot(i, o)
        t += s.a + o.v
    return t


# -- gc: reference cycles and explicit collections ---------------------------


class _Node(object):
    def __init__(self, parent=None):
        self.parent = parent
        self.kids = []
        if parent is not None:
            parent.kids.append(self)


@bench
def bm_gc():
    n = 0
    for _ in range(10):
        root = _Node()
        for _ in range(500):
            _Node(root)
        del root
        n += gc.collect()
    return n


# -- float: arithmetic in a tight loop ---------------------------------------


@bench
def bm_float():
    import math

    t = 0.0
    for i in range(1, 100000):
        x = i * 0.5
        t += math.sin(x) * math.cos(x) + math.sqrt(x) / (x + 1.0)
    return t


# -- regex: compile-cached search, sub and findall ----------------------------

_TEXT = " ".join(
    "user%d@example%d.org id=%d score=%d" % (i, i % 7, i, i * 37 % 101) for i in range(400)
)
_EMAIL = re.compile(r"(\w+)@(\w+)\.org")


@bench
def bm_regex():
    t = 0
    for _ in range(20):
        t += len(_EMAIL.findall(_TEXT))
        t += len(re.sub(r"score=(\d+)", lambda m: m.group(1), _TEXT))
        t += sum(1 for _ in re.finditer(r"id=\d+", _TEXT))
    return t


# -- json: dumps and loads of a nested document -------------------------------

_DOC = {
    "items": [
        {"id": i, "name": "item%d" % i, "tags": ["a", "b", "c"], "price": i * 1.25, "ok": i % 2 == 0}
        for i in range(200)
    ],
    "meta": {"count": 200, "source": "bench"},
}


@bench
def bm_json():
    t = 0
    for _ in range(40):
        s = json.dumps(_DOC)
        t += len(json.loads(s)["items"])
        t += len(json.dumps(_DOC, indent=1, sort_keys=True))
    return t


# -- unpack_sequence: tuple and list unpacking --------------------------------


@bench
def bm_unpack_sequence():
    tup = tuple(range(10))
    lst = list(range(10))
    t = 0
    for _ in range(100000):
        a, b, c, d, e, f, g, h, i, j = tup
        k, l, m, n, o, p, q, r, s, u = lst
        t += a + j + k + u
    return t


# -- richards: an operating-system-like scheduler of task objects ------------


class _Packet(object):
    def __init__(self, link, ident, kind):
        self.link = link
        self.ident = ident
        self.kind = kind
        self.datum = 0


class _Task(object):
    def __init__(self, ident, prio, sched):
        self.ident = ident
        self.prio = prio
        self.sched = sched
        self.queue = []
        self.count = 0

    def post(self, packet):
        self.queue.append(packet)

    def run(self):
        if not self.queue:
            return None
        packet = self.queue.pop(0)
        self.count += 1
        packet.datum = (packet.datum + self.prio) % 256
        dest = (self.ident + packet.kind) % len(self.sched.tasks)
        return dest, packet


class _Scheduler(object):
    def __init__(self, n):
        self.tasks = [_Task(i, i * 3 + 1, self) for i in range(n)]

    def schedule(self, steps):
        moved = 0
        for step in range(steps):
            task = self.tasks[step % len(self.tasks)]
            result = task.run()
            if result is not None:
                dest, packet = result
                self.tasks[dest].post(packet)
                moved += 1
        return moved


@bench
def bm_richards():
    s = _Scheduler(10)
    for i in range(40):
        s.tasks[i % 10].post(_Packet(None, i, i % 3 + 1))
    return s.schedule(60000)


# -- nbody: floating-point simulation with lists -----------------------------


def _bodies():
    return [
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], 39.47],
        [[4.84, -1.16, -0.10], [0.606, 2.81, -0.02], 0.037],
        [[8.34, 4.12, -0.40], [-1.01, 1.82, 0.008], 0.011],
        [[12.89, -15.11, -0.22], [1.08, 0.868, -0.01], 0.0017],
        [[15.37, -25.91, 0.17], [0.979, 0.594, -0.034], 0.002],
    ]


@bench
def bm_nbody():
    bodies = _bodies()
    pairs = [(bodies[i], bodies[j]) for i in range(5) for j in range(i + 1, 5)]
    dt = 0.01
    for _ in range(4000):
        for ([x1, y1, z1], v1, m1), ([x2, y2, z2], v2, m2) in pairs:
            dx, dy, dz = x1 - x2, y1 - y2, z1 - z2
            mag = dt * ((dx * dx + dy * dy + dz * dz) ** -1.5)
            b1, b2 = m1 * mag, m2 * mag
            v1[0] -= dx * b2
            v1[1] -= dy * b2
            v1[2] -= dz * b2
            v2[0] += dx * b1
            v2[1] += dy * b1
            v2[2] += dz * b1
        for r, [vx, vy, vz], _m in bodies:
            r[0] += dt * vx
            r[1] += dt * vy
            r[2] += dt * vz
    return bodies[0][0][0]


# -- coroutines: await chains, driven by hand and by an event loop (3.7+) ----

# Compiled from a string: `async def` is a syntax error in 2.7.
_COROUTINES = """
import asyncio


async def _leaf(i):
    return i


async def _mid(i):
    return await _leaf(i) + await _leaf(i + 1)


async def _top(n):
    t = 0
    for i in range(n):
        t += await _mid(i)
    await asyncio.sleep(0)
    return t


def bm_coroutines():
    def drive(coro):
        # Drive a coroutine without an event loop: pure await overhead.
        try:
            while True:
                coro.send(None)
        except StopIteration as stop:
            return stop.value

    t = 0
    for _ in range(5):
        t += drive(_top(8000))
    t += asyncio.run(_top(2000))
    return t
"""

if sys.version_info >= (3, 7):  # asyncio.run
    _namespace = {}
    exec(compile(_COROUTINES, __file__, "exec"), _namespace)
    bench(_namespace["bm_coroutines"])


def _median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def main(argv):
    inner = int(argv[1]) if len(argv) > 1 else 5
    known = [name for name, _ in BENCHMARKS]
    names = argv[2:] or known
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit("unknown benchmark(s): %s; known: %s" % (", ".join(unknown), ", ".join(known)))
    functions = dict(BENCHMARKS)
    parts = []
    for name in names:
        fn = functions[name]
        fn()  # warm-up: caches, specialisation
        times = []
        for _ in range(inner):
            t0 = clock()
            fn()
            times.append(clock() - t0)
        parts.append([name, _median(times)])
    print(json.dumps(parts))


if __name__ == "__main__":
    main(sys.argv)
