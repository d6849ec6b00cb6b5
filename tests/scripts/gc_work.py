# Workload of probes/*/gc: explicit collections from known functions, and
# automatic ones while `churn` allocates reference cycles.
#   young: 2 collections of generation 0; full: 3 of generation 2, the
#   first of which finds the 10 cycles left by `garbage` (20 lists).
import gc
gc.disable()
gc.collect()  # no garbage left from before: the counts below are exact


def garbage():
    for _ in range(10):
        a = []
        b = [a]
        a.append(b)


def young():
    gc.collect(0)


def full():
    gc.collect(2)


def churn():
    gc.enable()
    for _ in range(20000):
        c = []
        c.append(c)
    gc.disable()


young()
young()
garbage()
full()
full()
full()
churn()
