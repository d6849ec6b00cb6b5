# cpython-dtrace fire workload (CPython 2.7): generators.
# generators.py of the parent directory drives coroutines (async/await,
# Python 3.5+); here a generator used as a coroutine through send() takes
# their place, and a generator that never started is closed.
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


def accumulator():
    total = 0
    while True:
        value = yield total
        total += value


def run_coroutine():
    c = accumulator()
    next(c)
    c.send(1)
    result = c.send(2)
    c.close()
    return result


def never_started():
    g = counter(3)
    g.close()
    return g


consume()
closed_early()
thrown()
run_coroutine()
never_started()
