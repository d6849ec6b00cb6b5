# cpython-dtrace fire workload: generators and coroutines.
import gc
gc.disable()


def counter(n):
    i = 0
    while i < n:
        yield i
        i += 1


def consume():
    total = 0
    for v in counter(2):
        total += v
    return total


def closed_early():
    g = counter(5)
    next(g)
    g.close()


def catcher():
    try:
        yield 1
    except ValueError:
        yield 2


def thrown():
    g = catcher()
    next(g)
    g.throw(ValueError)
    g.close()


class FireSuspend:
    def __await__(self):
        yield "suspended"
        return 7


async def inner():
    return 1


async def outer():
    v = await inner()
    w = await FireSuspend()
    return v + w


def run_coroutine():
    c = outer()
    c.send(None)
    result = None
    try:
        c.send(None)
    except StopIteration as e:
        result = e.value
    return result


consume()
closed_early()
thrown()
run_coroutine()
