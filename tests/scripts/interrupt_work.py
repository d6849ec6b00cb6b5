# Workload of the Ctrl-C test of `cargo xtask trace`: calls tick() every
# 20 ms until it is interrupted (at most 60 s); prints "running" first.
import time


def tick():
    time.sleep(0.02)


print("running", flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    tick()
