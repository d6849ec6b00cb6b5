# cpython-dtrace benchmark: the empty script, whose cost (interpreter start-up
# and shutdown) is subtracted from the instruction counts of the workloads.
