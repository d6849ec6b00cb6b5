#!/usr/sbin/dtrace -s
/*
 * calls.d: how often is each Python function called, and how long do the
 * calls take?  Call counts and a latency distribution per file:function
 * (the D version of probes/bpftrace/calls.bt).
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage:
 *   dtrace -s probes/dtrace/calls.d -p PID
 *   dtrace -s probes/dtrace/calls.d -c 'python3 script.py'
 * Runs until the process exits or Ctrl-C, then prints the calls (entries)
 * per FILE and FUNCTION, the most called last, and the distribution of the
 * wall-clock time per call in microseconds, callees included.  Generators
 * and coroutines count one call per resume.  Calls already running when
 * dtrace attached are not timed.
 */

#pragma D option quiet

dtrace:::BEGIN
{
	printf("Tracing Python calls... Ctrl-C to end.\n");
}

python$target:::function-entry
{
	@calls[copyinstr(arg0), copyinstr(arg1)] = count();
	self->depth++;
	self->start[self->depth] = timestamp;
}

python$target:::function-return
/self->depth > 0 && self->start[self->depth]/
{
	@us[copyinstr(arg0), copyinstr(arg1)] =
	    quantize((timestamp - self->start[self->depth]) / 1000);
}

python$target:::function-return
/self->depth > 0/
{
	self->start[self->depth] = 0;
	self->depth--;
}

dtrace:::END
{
	printf("\nCalls per file and function (the most called last):\n");
	printa("  %-64s %-32s %@10d\n", @calls);
	printf("\nMicroseconds per call, callees included:\n");
	printa(@us);
}
