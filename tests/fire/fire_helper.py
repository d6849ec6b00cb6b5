# cpython-dtrace fire workload helper: imported by importer.py.


def helper_value():
    return 42
