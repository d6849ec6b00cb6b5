# cpython-dtrace fire workload, Python 2.7 version of ../gil.py: two threads
# contending for the GIL. 2.7 has no sys.setswitchinterval(): a thread
# running Python code releases the GIL and takes it again every
# sys.getcheckinterval() ticks (about one an instruction), here 10000.
# Each thread spins in Python for 0.2 s, so each waits for the GIL many
# times while the other holds it. The spinning runs step(), one line of
# 10000 instructions, so that a tracer attached to every probe (line
# events: one per line, and per loop iteration) keeps up with the
# interpreter.
import sys
import threading
import time

sys.setcheckinterval(10000)
exec("def step(n):\n    return n" + " + 1" * 5000 + "\n")


def spin(seconds):
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        n = step(n)
    return n


workers = [threading.Thread(target=spin, args=(0.2,)) for _ in range(2)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
