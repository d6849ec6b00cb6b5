#!/usr/sbin/dtrace -s
/*
 * leaks.d: which classes pile up instances?  Live instances per type
 * (created minus deleted), the types that grew the most over each interval,
 * and the oldest live objects with their addresses (the D version of
 * probes/bpftrace/leaks.bt).
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage:
 *   dtrace -s probes/dtrace/leaks.d -p PID [INTERVAL [TYPE]]
 *   dtrace -s probes/dtrace/leaks.d -c 'python3 script.py' [INTERVAL [TYPE]]
 * INTERVAL ($1): seconds between two growth reports (default 10).  TYPE
 * ($$2): follow the addresses of the instances of this type only (the
 * class's __name__); default: of every type (raise dynvarsize, e.g.
 * -x dynvarsize=64m, if dtrace reports dynamic variable drops).
 *
 * Every INTERVAL seconds: the 10 types that grew the most (created minus
 * deleted), the most last.  At the end: live instances per [MODULE, TYPE]
 * since tracing started (instances created before and deleted since count
 * -1 each), then the objects followed, [TYPE, ADDRESS], by creation time
 * in ms since tracing started, counting from 1; D cannot remove one entry
 * of an aggregation, so the objects deleted since show 0 and come first,
 * then the live ones, the oldest first.  When the traced program exits
 * normally its finalization deletes most instances: stop dtrace (Ctrl-C)
 * while it still runs, or read the growth reports.
 */

#pragma D option quiet
#pragma D option defaultargs

dtrace:::BEGIN
{
	every = $1 > 0 ? $1 : 10;
	all_types = $$2 == "" ? 1 : 0;
	start = timestamp;
	printf("Tracing instances of Python classes, growth every %d s... Ctrl-C to end.\n",
	    every);
}

python$target:::instance-new-done
{
	@live[copyinstr(arg1), copyinstr(arg0)] = sum(1);
	@growth[copyinstr(arg1), copyinstr(arg0)] = sum(1);
}

python$target:::instance-new-done
/all_types || copyinstr(arg0) == $$2/
{
	born[arg2] = (timestamp - start) / 1000000 + 1;
	@oldest[copyinstr(arg0), arg2] = sum(born[arg2]);
}

python$target:::instance-delete-start
{
	@live[copyinstr(arg1), copyinstr(arg0)] = sum(-1);
	@growth[copyinstr(arg1), copyinstr(arg0)] = sum(-1);
}

python$target:::instance-delete-start
/born[arg2]/
{
	@oldest[copyinstr(arg0), arg2] = sum(-born[arg2]);
	born[arg2] = 0;
}

profile:::tick-1sec
{
	ticks++;
}

profile:::tick-1sec
/ticks >= every/
{
	ticks = 0;
	printf("%Y  growth over the last %d s:\n", walltimestamp, every);
	trunc(@growth, 10);
	printa("  %-32s %-32s %@8d\n", @growth);
	trunc(@growth);
}

dtrace:::END
{
	printf("\nLive instances per [MODULE, TYPE], created minus deleted since tracing started:\n");
	printa("  %-32s %-32s %@8d\n", @live);
	printf("\nObjects followed [TYPE, ADDRESS]: created at MS (0: deleted since):\n");
	printa("  %-32s 0x%-16x %@8d\n", @oldest);
}
