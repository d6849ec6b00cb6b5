# cpython-dtrace fire workload: frames left by an exception.
import gc
gc.disable()


def fail(n):
    if n > 0:
        raise ValueError(n)
    return n


def relay(n):
    return fail(n) + 1


def outer_catch():
    try:
        relay(1)
    except ValueError:
        pass
    return "caught"


def catch_here():
    try:
        fail(2)
    except ValueError:
        return "here"


class FireResource:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def with_block():
    with FireResource():
        fail(3)


outer_catch()
catch_here()
try:
    with_block()
except ValueError:
    pass
