# cpython-dtrace balance workload: every way a Python frame can start and stop,
# many times over. With only function__entry and function__return attached,
# the number of entries must equal the number of returns for the whole run.
import asyncio
import json
import re
import threading


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


class Tracked:
    def __init__(self, v):
        self.v = v

    def __del__(self):
        self.v = None


async def tick(i):
    await asyncio.sleep(0)
    return i


async def gather():
    return sum(await asyncio.gather(*(tick(i) for i in range(20))))


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


def worker():
    for i in range(200):
        recurse(10)
        json.loads(json.dumps({"i": i, "l": [1, 2, 3]}))


def main():
    for _ in range(20):
        recurse(30)
        pipeline(50)
        catch_deep()
        Tracked(1)
        [x for x in map(lambda v: v + 1, range(10))]
        re.sub(r"(a)(b)?", lambda m: m.group(1), "abab" * 5)
    closing_generators()
    asyncio.run(gather())
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


main()
