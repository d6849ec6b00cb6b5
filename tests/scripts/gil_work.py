# Workload of probes/*/gil and probes/*/threads: threads with known GIL and
# CPU use. Each prints `THREAD NAME IDENT NATIVE_ID` when it starts.
#   Phase 1: "spinner" computes until it has used 0.3 s of CPU time while
#   "sleeper" sleeps 0.3 s (time.sleep releases the GIL): the spinner holds
#   the GIL, and a CPU, at least 0.3 s; the sleeper almost never.
#   Phase 2: "rival-1" and "rival-2" compute at the same time, until each
#   has used 0.2 s of CPU time: each waits for the GIL while the other
#   holds it.
# The main thread waits in join() meanwhile, without the GIL.
import os
import threading
import time


def hello(name):
    # One write(2) per line: threads printing at once cannot mix lines.
    line = "THREAD %s %d %d\n" % (name, threading.get_ident(),
                                   threading.get_native_id())
    os.write(1, line.encode())


def spin(name, seconds):
    hello(name)
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def sleep(name, seconds):
    hello(name)
    time.sleep(seconds)


def run(*threads):
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


run(threading.Thread(target=spin, args=("spinner", 0.3)),
    threading.Thread(target=sleep, args=("sleeper", 0.3)))
run(threading.Thread(target=spin, args=("rival-1", 0.2)),
    threading.Thread(target=spin, args=("rival-2", 0.2)))
