# cpython-dtrace balance workload for CPython 2.7 (../workload.py uses
# asyncio and async def): every way a Python 2.7 frame can start and stop,
# many times over. With only function__entry and function__return
# attached, the number of entries must equal the number of returns for the
# whole run.
import json
import re
import thread
import threading
import time


def recurse(n):
    return 0 if n == 0 else 1 + recurse(n - 1)


def pipeline(n):
    squares = (i * i for i in range(n))
    evens = (s for s in squares if s % 2 == 0)
    return sum(evens)


def fail_deep(n):
    if n == 0:
        raise KeyError(n)
    return fail_deep(n - 1)


def catch_deep():
    try:
        fail_deep(5)
    except KeyError:
        return True


class Tracked(object):
    def __init__(self, v):
        self.v = v

    def __del__(self):
        self.v = None


class OldTracked:
    def __init__(self, v):
        self.v = v

    def __del__(self):
        self.v = None


def accumulator():
    total = 0
    try:
        while True:
            total += yield total
    finally:
        total = -1


def drive_coroutines():
    for _ in range(10):
        c = accumulator()
        next(c)
        for i in range(5):
            c.send(i)
        c.close()


def throwing_generators():
    for _ in range(10):
        g = pipeline_gen()
        next(g)
        try:
            g.throw(ValueError)
        except ValueError:
            pass
        pipeline_gen()          # never started, closed by its deallocation


def closing_generators():
    for _ in range(10):
        g = pipeline_gen()
        next(g)
        g.close()


def pipeline_gen():
    try:
        while True:
            yield 1
    finally:
        pass


def with_exit():
    class Quiet(object):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return True
    for i in range(10):
        with Quiet():
            raise ValueError(i)


def worker():
    for i in range(200):
        recurse(10)
        json.loads(json.dumps({"i": i, "l": [1, 2, 3]}))
        catch_deep()


def main():
    for _ in range(20):
        recurse(30)
        pipeline(50)
        catch_deep()
        Tracked(1)
        OldTracked(2)
        [x for x in map(lambda v: v + 1, range(10))]
        re.sub(r"(a)(b)?", lambda m: m.group(1), "abab" * 5)
        sorted(range(10), key=lambda v: -v)
    drive_coroutines()
    throwing_generators()
    closing_generators()
    with_exit()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # In 2.7, join() returns once the thread is marked stopped, before its
    # last frames (Thread.__bootstrap_inner, __bootstrap) have returned;
    # the interpreter may then exit with them still open: two entries
    # without returns.  thread._count() drops only after they returned.
    while thread._count():
        time.sleep(0.001)


main()
