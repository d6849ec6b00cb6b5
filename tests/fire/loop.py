# cpython-dtrace fire workload: the line probe, loop back-edges included.
import gc
gc.disable()


def loops():
    total = 0
    for i in range(3):
        total += i
    n = 2
    while n > 0:
        n -= 1
    return total


loops()
