#!/usr/sbin/dtrace -s
/*
 * syscalls-by-python.d: which Python code makes the system calls, and how
 * long do they take?  Every system call of the traced program's Python
 * threads, counted per Python location (FILE, LINE, FUNCTION of the
 * innermost Python frame) and system call, with its time (the D version of
 * probes/bpftrace/syscalls-by-python.bt).
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage:
 *   dtrace -s probes/dtrace/syscalls-by-python.d -p PID [SYSCALL]
 *   dtrace -s probes/dtrace/syscalls-by-python.d -c 'python3 script.py' [SYSCALL]
 * SYSCALL ($$1): only this system call, by its name in the syscall
 * provider (e.g. `fsync`); default: all of them.
 *
 * At the end, per [FILE, LINE, FUNCTION, SYSCALL]: the number of calls and
 * their total time in microseconds, the most last, then the distribution
 * of the time per call per [FILE, FUNCTION, SYSCALL].  LINE is the line
 * the innermost Python frame was running: the line of the call that led to
 * the system call.  The script follows the Python stack of each thread
 * from function-entry/return and the line probe (which makes the traced
 * program slower while it runs), and counts a thread's system calls only
 * while it knows its innermost frame.
 */

#pragma D option quiet
#pragma D option defaultargs

dtrace:::BEGIN
{
	printf("Tracing system calls by Python location... Ctrl-C to end.\n");
	all_calls = $$1 == "" ? 1 : 0;
}

/* The stack, as in who-calls.d; depth 0 is the innermost frame entered
 * before attaching, known once it runs a line. */
python$target:::function-entry
{
	self->depth++;
	self->file[self->depth] = arg0;
	self->func[self->depth] = arg1;
	self->line[self->depth] = arg2;
}

python$target:::line
{
	self->line[self->depth] = arg2;
}

python$target:::line
/self->depth == 0/
{
	self->file[0] = arg0;
	self->func[0] = arg1;
}

python$target:::function-return
{
	self->file[self->depth] = 0;
	self->func[self->depth] = 0;
	self->line[self->depth] = 0;
}

python$target:::function-return
/self->depth > 0/
{
	self->depth--;
}

syscall:::entry
/pid == $target && self->file[self->depth] &&
 (all_calls || probefunc == $$1)/
{
	self->sc_start = timestamp;
}

syscall:::return
/self->sc_start/
{
	this->us = (timestamp - self->sc_start) / 1000;
	this->file = copyinstr(self->file[self->depth]);
	this->func = copyinstr(self->func[self->depth]);
	@calls[this->file, self->line[self->depth], this->func, probefunc] =
	    count();
	@total_us[this->file, self->line[self->depth], this->func, probefunc] =
	    sum(this->us);
	@us[this->file, this->func, probefunc] = quantize(this->us);
	self->sc_start = 0;
}

dtrace:::END
{
	printf("\nSystem calls per [FILE, LINE, FUNCTION, SYSCALL]: calls, total microseconds\n");
	printa("  %s:%d (%s) %s %@d %@d\n", @calls, @total_us);
	printf("\nMicroseconds per system call:\n");
	printa(@us);
}
