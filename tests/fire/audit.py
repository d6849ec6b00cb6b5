# cpython-dtrace fire workload: audit events.
import gc
gc.disable()
import sys

sys.audit("cpython_dtrace.test", 1)
sys.audit("cpython_dtrace.other", "a", 2)
