#!/usr/sbin/dtrace -s
/*
 * imports.d: which imports make the program slow to start?  The time of
 * each import, nested as the imports are, in the layout of
 * `python -X importtime`, then every module by cumulative time, the
 * slowest first (the D version of probes/bpftrace/imports.bt).
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage:
 *   dtrace -s probes/dtrace/imports.d -p PID
 *   dtrace -s probes/dtrace/imports.d -c 'python3 script.py'
 *
 * One line per import that had to find and load a module, when it ends, so
 * a module's own imports come before it, one level deeper:
 *      SELF(us) |   CUMUL(us) | MODULE
 * CUMUL is the time from the start of finding the module to the end of its
 * loading, SELF the same without the imports nested in it; `(not found)`
 * marks an import that failed to find its module.
 */

#pragma D option quiet
#pragma D option aggsortrev

dtrace:::BEGIN
{
	printf("%12s | %12s | %s\n", "SELF(us)", "CUMUL(us)", "MODULE");
}

python$target:::import-find-load-start
{
	self->depth++;
	self->start[self->depth] = timestamp;
	self->nested[self->depth] = 0;
}

python$target:::import-find-load-done
/self->depth > 0/
{
	this->cumul = timestamp - self->start[self->depth];
	this->own = this->cumul - self->nested[self->depth];
	self->nested[self->depth - 1] += this->cumul;
	printf("%12d | %12d | %*s%s%s\n", this->own / 1000, this->cumul / 1000,
	    (self->depth - 1) * 2, "", copyinstr(arg0),
	    arg1 ? "" : "  (not found)");
	@cumul_us[copyinstr(arg0)] = max(this->cumul / 1000);
	self->start[self->depth] = 0;
	self->nested[self->depth] = 0;
	self->depth--;
}

dtrace:::END
{
	printf("\nCumulative microseconds per module, the slowest first:\n");
	printa("  %-48s %@12d\n", @cumul_us);
}
