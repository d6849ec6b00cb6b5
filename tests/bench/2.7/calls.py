# cpython-dtrace benchmark workload (instruction counts), Python 2.7 version
# of ../calls.py: the same calls, with `c` an ordinary keyword argument
# (2.7 has no keyword-only arguments), new-style classes, and xrange for
# range (2.7's range builds a list).
# Usage: python calls.py [SCALE]   (SCALE: thousands of iterations, default 20)
import sys


def add(a, b):
    return a + b


def kw(a, b=2, c=3):
    return a + b + c


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class Point(object):
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm1(self):
        return abs(self.x) + abs(self.y)


def make_adder(k):
    def adder(v):
        return v + k

    return adder


def countdown(n):
    while n:
        yield n
        n -= 1


def main(scale):
    total = 0
    p = Point(1, -2)
    adder = make_adder(3)
    for i in xrange(scale * 1000):
        total += add(i, 1)
        total += kw(i, c=1)
        total += p.norm1()
        total += adder(i)
        if i % 100 == 0:
            total += fib(10)
            total += sum(countdown(20))
    return total


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
