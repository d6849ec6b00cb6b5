# cpython-dtrace benchmark workload (instruction counts): many instances of
# Python classes created and freed, with and without __dict__, __slots__,
# inheritance and reference cycles (so the cyclic GC runs too).
# Usage: python alloc.py [SCALE]   (SCALE: thousands of iterations, default 20)
import sys


class Plain:
    def __init__(self, v):
        self.v = v


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


class Base:
    def __init__(self, v):
        self.v = v


class Derived(Base):
    def __init__(self, v):
        super().__init__(v)
        self.w = v * 2


class Node:
    def __init__(self, parent):
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


def main(scale):
    total = 0
    for i in range(scale * 1000):
        total += Plain(i).v
        total += Slotted(i, 1).b
        total += Derived(i).w
        kept = [Plain(j) for j in range(4)]
        total += len(kept)
        if i % 50 == 0:
            root = Node(None)
            for _ in range(10):
                Node(root)  # a cycle: root <-> child
    return total


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
