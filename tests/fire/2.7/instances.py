# cpython-dtrace fire workload (CPython 2.7): instances of classes defined
# in Python, new-style (heap types) and classic (old-style) alike.
import gc
gc.disable()

saved = None


class FirePoint(object):
    def __init__(self, x):
        self.x = x


class FireOldPoint:
    def __init__(self, x):
        self.x = x


# In Python 2, __del__ runs at every deallocation (there is no PEP 442):
# each phoenix resurrects itself once only.
class FirePhoenix(object):
    def __del__(self):
        global saved
        if not hasattr(self, "revived"):
            self.revived = True
            saved = self


class FireOldPhoenix:
    def __del__(self):
        global saved
        if not hasattr(self, "revived"):
            self.revived = True
            saved = self


def churn():
    a = FirePoint(1)
    b = FireOldPoint(2)
    del a
    return b


def ephemeral():
    class FireEphemeral(object):
        pass
    FireEphemeral.keep = FireEphemeral()


def old_ephemeral():
    class FireOldEphemeral:
        pass
    FireOldEphemeral.keep = FireOldEphemeral()


kept = churn()
kept = None
p = FirePhoenix()
del p
saved = None
p = FireOldPhoenix()
del p
saved = None
ephemeral()
gc.collect()
old_ephemeral()
gc.collect()
