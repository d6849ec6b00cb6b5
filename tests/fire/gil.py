# cpython-dtrace fire workload: two threads contending for the GIL. Each
# spins in Python for 0.2 s; with a 1 ms switch interval they take turns,
# so each waits for the GIL many times while the other holds it.
import sys
import threading
import time

sys.setswitchinterval(0.001)


def spin(seconds):
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        n += 1
    return n


workers = [threading.Thread(target=spin, args=(0.2,)) for _ in range(2)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
