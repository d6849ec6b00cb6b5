# cpython-dtrace fire workload: a call tree (function__entry/return).
import gc
gc.disable()


def leaf(a, b):
    return a + b


def middle(x):
    y = leaf(x, 1)
    return leaf(y, 2)


def with_kwargs(**kw):
    return len(kw)


def with_star(*args, **kw):
    if not args:
        return 0
    return middle(args[0])


class FireShape:
    def __init__(self, n):
        self.n = n

    def area(self):
        return middle(self.n)


def main():
    middle(1)
    with_kwargs(a=1, b=2)
    with_star(*(3, 4), **{"k": 5})
    shape = FireShape(2)
    shape.area()
    sorted([3, 1, 2], key=lambda v: -v)
    return None


main()
