# cpython-dtrace fire workload: where exceptions are raised and caught.
import gc

gc.disable()


def inner():
    raise KeyError("inner")


def middle():
    return inner()


def outer():
    try:
        middle()
    except KeyError:
        return "caught two frames up"


def from_c():
    table = {}
    try:
        table["missing"]
    except LookupError:
        pass


def reraised():
    try:
        raise ValueError("first")
    except ValueError:
        raise


def caller():
    try:
        reraised()
    except ValueError:
        pass


outer()
from_c()
caller()
