# Workload of probes/*/syscalls-by-python: `flush_log` is the only function
# calling os.fsync (5 times, from line 13); `write_log` writes (5 times,
# from line 9).
import os
import tempfile


def write_log(fd, i):
    os.write(fd, b"entry %d\n" % i)


def flush_log(fd):
    os.fsync(fd)


def main():
    fd, path = tempfile.mkstemp(prefix="cpython-dtrace-scripts-")
    try:
        for i in range(5):
            write_log(fd, i)
            flush_log(fd)
    finally:
        os.close(fd)
        os.unlink(path)


main()
