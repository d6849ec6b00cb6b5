# cpython-dtrace fire workload: calls from Python code to functions and
# methods implemented in C, through the generic and the specialised call
# paths (the loop runs call_each often enough for the specialising
# interpreters to rewrite its calls), and calls that are not reported.
import gc
import math
import os
import time

gc.disable()

items = []
table = {"k": 1}


def call_each(append):
    len(items)
    time.sleep(0)
    os.getpid()
    items.append(1)
    table.get("k")
    math.floor(1.5)
    isinstance(items, list)
    append(2)
    sorted(items, reverse=True)
    max(*items)


def not_reported():
    list(map(len, ["a", "bc"]))
    int("7")


for _ in range(4):
    call_each(items.append)
not_reported()
