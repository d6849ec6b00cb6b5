#!/usr/sbin/dtrace -s
/*
 * flow.d: what does the program do, call by call?  Every Python call and
 * return as it happens, indented by call depth, optionally only inside one
 * function or one file (the D version of probes/bpftrace/flow.bt).
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage:
 *   dtrace -s probes/dtrace/flow.d -p PID [FILTER]
 *   dtrace -s probes/dtrace/flow.d -c 'python3 script.py' [FILTER]
 * FILTER ($$1): a function name (co_name) or a file name exactly as
 * printed (co_filename); then only what happens inside a call of that
 * function (or of a function of that file) is shown, the call itself
 * included, indented from it.  Without FILTER every call is shown.
 *
 * One line per event:
 *   TID  TIME(us)  -> FUNCTION (FILE:FIRSTLINE)   a call or a resume;
 *   TID  TIME(us)  <- FUNCTION (FILE:LINE)        a return, yield, await or
 *                                                 exit by exception.
 * TIME is microseconds since tracing started.  With several CPUs, dtrace
 * may print the lines of different threads out of order; follow one TID.
 */

#pragma D option quiet
#pragma D option defaultargs
#pragma D option switchrate=10hz

dtrace:::BEGIN
{
	printf("%-7s %10s  %s\n", "TID", "TIME(us)", "CALL FLOW");
	start = timestamp;
	show_all = $$1 == "" ? 1 : 0;
}

python$target:::function-entry
{
	self->depth++;
}

python$target:::function-entry
/show_all && self->base == 0/
{
	self->base = 1;
}

python$target:::function-entry
/!show_all && self->base == 0 &&
 (copyinstr(arg1) == $$1 || copyinstr(arg0) == $$1)/
{
	self->base = self->depth;
}

python$target:::function-entry
/self->base > 0/
{
	printf("%-7d %10d  %*s-> %s (%s:%d)\n", tid, (timestamp - start) / 1000,
	    (self->depth - self->base) * 2, "", copyinstr(arg1),
	    copyinstr(arg0), arg2);
}

python$target:::function-return
/self->base > 0 && (self->depth >= self->base || show_all)/
{
	printf("%-7d %10d  %*s<- %s (%s:%d)\n", tid, (timestamp - start) / 1000,
	    self->depth > self->base ? (self->depth - self->base) * 2 : 0, "",
	    copyinstr(arg1), copyinstr(arg0), arg2);
}

python$target:::function-return
/!show_all && self->base > 0 && self->depth == self->base/
{
	self->base = 0;
}

python$target:::function-return
/self->depth > 0/
{
	self->depth--;
}
