# cpython-dtrace fire workload, Python 2.7 version of ../threads.py: two
# threads started by Python, one ending normally, one by an uncaught
# exception. 2.7 has no threading.get_native_id(): each thread names a
# class after its thread.get_ident() only. The threads are started with
# thread.start_new_thread (which threading.Thread uses too), because
# threading.Thread catches and prints a target's exception itself: the
# uncaught exception then reaches the thread's C code, which prints it
# to sys.stderr (quiet here). The main thread waits until the thread has
# started, then until thread._count(), which the thread's C code lowers
# after its last Python code, is 0: a thread has ended before the next
# one starts.
import gc
import sys
import thread
import time

gc.disable()


class Quiet(object):
    def write(self, text):
        pass


def work(fail, running):
    running.release()
    name = "FireThread_%d" % thread.get_ident()
    type(name, (object,), {})()
    if fail:
        raise RuntimeError("ends the thread")


def run(fail):
    running = thread.allocate_lock()
    running.acquire()
    thread.start_new_thread(work, (fail, running))
    running.acquire()
    while thread._count():
        time.sleep(0.001)


stderr, sys.stderr = sys.stderr, Quiet()
for fail in (False, True):
    run(fail)
sys.stderr = stderr
