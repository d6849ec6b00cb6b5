# Workload of probes/*/who-calls: `target` entered once through a
# three-deep call chain, and once directly from module code.
def target():
    return 42


def middle():
    return target()


def outer():
    return middle()


outer()
target()
