# Workload of probes/*/leaks: `LeakyThing` instances are kept forever (5 x 50
# = 250 live at the end), `Transient` ones die at once (1000 created, none
# live at the end). Runs about 2.5 s so that interval reports see growth.
# It ends with os._exit(), as if the trace stopped while the program still
# ran: a normal exit would delete every instance during finalization.
import os
import sys
import time

kept = []


class LeakyThing:
    pass


class Transient:
    pass


def leak(n):
    for _ in range(n):
        kept.append(LeakyThing())


def churn(n):
    for _ in range(n):
        Transient()


for _ in range(5):
    leak(50)
    churn(200)
    time.sleep(0.5)

sys.stdout.flush()
os._exit(0)
