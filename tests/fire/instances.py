# cpython-dtrace fire workload: instances of heap types.
import gc
gc.disable()

saved = None


class FirePoint:
    def __init__(self, x):
        self.x = x


class FirePhoenix:
    def __del__(self):
        global saved
        saved = self


def churn():
    a = FirePoint(1)
    b = FirePoint(2)
    del a
    return b


def ephemeral():
    class FireEphemeral:
        pass
    FireEphemeral.keep = FireEphemeral()


kept = churn()
kept = None
p = FirePhoenix()
del p
saved = None
ephemeral()
gc.collect()


def dropped():
    c = FirePoint(3)
    c = None
    FirePoint(4)


dropped()
