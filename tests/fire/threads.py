# cpython-dtrace fire workload: threads started by Python, one ending
# normally, one by an uncaught exception. Each names a class after its own
# threading.get_ident() and threading.get_native_id(), so the expectation
# can show that thread__start reports the same numbers.
import gc
import threading

gc.disable()
threading.excepthook = lambda args: None


def work(fail):
    name = "FireThread_%d_%d" % (threading.get_ident(), threading.get_native_id())
    type(name, (object,), {})()
    if fail:
        raise RuntimeError("ends the thread")


for fail in (False, True):
    thread = threading.Thread(target=work, args=(fail,))
    thread.start()
    thread.join()
