# cpython-dtrace fire workload: explicit garbage collections.
import gc
gc.disable()
gc.collect()


def start():
    gc.collect(0)
    gc.collect(1)
    gc.collect(2)
    cycle = []
    cycle.append(cycle)
    del cycle
    gc.collect(2)
    a = []
    b = [a]
    a.append(b)
    del a, b
    gc.collect(0)


start()
