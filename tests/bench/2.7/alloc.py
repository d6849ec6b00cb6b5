# cpython-dtrace benchmark workload (instruction counts), Python 2.7 version
# of ../alloc.py: the same instances, of new-style classes (`object` as
# base), with super(Derived, self), and xrange for range (2.7's range
# builds a list).
# Usage: python alloc.py [SCALE]   (SCALE: thousands of iterations, default 20)
import sys


class Plain(object):
    def __init__(self, v):
        self.v = v


class Slotted(object):
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


class Base(object):
    def __init__(self, v):
        self.v = v


class Derived(Base):
    def __init__(self, v):
        super(Derived, self).__init__(v)
        self.w = v * 2


class Node(object):
    def __init__(self, parent):
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


def main(scale):
    total = 0
    for i in xrange(scale * 1000):
        total += Plain(i).v
        total += Slotted(i, 1).b
        total += Derived(i).w
        kept = [Plain(j) for j in range(4)]
        total += len(kept)
        if i % 50 == 0:
            root = Node(None)
            for _ in xrange(10):
                Node(root)  # a cycle: root <-> child
    return total


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
