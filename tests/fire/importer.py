# cpython-dtrace fire workload: import of a module from the same directory.
import gc
gc.disable()
import fire_helper

try:
    import fire_missing_module
except ImportError:
    pass

fire_helper.helper_value()
