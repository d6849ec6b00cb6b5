# Workload of probes/*/calls: known call counts and one slow function.
#   leaf: 21 calls (7 x 3), middle: 7, slow: 2 (each sleeps 40 ms), main: 1.
import time


def leaf():
    return 1


def middle(n):
    for _ in range(n):
        leaf()


def slow():
    time.sleep(0.04)


def main():
    for _ in range(7):
        middle(3)
    for _ in range(2):
        slow()


main()
