# Workload of probes/*/flow: a three-deep call chain under `top`, and calls
# outside it that a filter on `top` must hide.
def inner():
    return 1


def mid():
    return inner()


def top():
    mid()
    return inner()


def elsewhere():
    return 2


elsewhere()
top()
elsewhere()
