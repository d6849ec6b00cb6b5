#!/usr/sbin/dtrace -s
/*
 * gc.d: how often does the garbage collector run, how long does it take,
 * and what was the program doing when it started?  (The D version of
 * probes/bpftrace/gc.bt.)
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage:
 *   dtrace -s probes/dtrace/gc.d -p PID
 *   dtrace -s probes/dtrace/gc.d -c 'python3 script.py'
 *
 * One line per collection, when it ends:
 *   TID  GEN  TIME(us)  FOUND  RUNNING
 * GEN is the generation collected, TIME its duration, FOUND the number of
 * unreachable objects it found, RUNNING the innermost Python function when
 * it started, as FUNCTION (FILE:FIRSTLINE); `?` when no Python frame is
 * known (interpreter shutdown, or a function entered before dtrace
 * attached).  At the end: the collections per generation over the time
 * traced, the distribution of their durations, and the collections started
 * in each function.
 */

#pragma D option quiet

dtrace:::BEGIN
{
	printf("%-7s %3s %9s %6s  %s\n", "TID", "GEN", "TIME(us)", "FOUND",
	    "RUNNING");
	start = timestamp;
}

python$target:::function-entry
{
	self->depth++;
	self->file[self->depth] = arg0;
	self->func[self->depth] = arg1;
	self->first[self->depth] = arg2;
}

python$target:::function-return
/self->depth > 0/
{
	self->file[self->depth] = 0;
	self->func[self->depth] = 0;
	self->first[self->depth] = 0;
	self->depth--;
}

python$target:::gc-start
{
	self->gc_start = timestamp;
	self->gc_gen = arg0;
	self->gc_depth = self->depth;
}

python$target:::gc-done
/self->gc_start/
{
	this->us = (timestamp - self->gc_start) / 1000;
	@collections[self->gc_gen] = count();
	@us[self->gc_gen] = quantize(this->us);
}

python$target:::gc-done
/self->gc_start && self->gc_depth > 0/
{
	printf("%-7d %3d %9d %6d  %s (%s:%d)\n", tid, self->gc_gen, this->us,
	    arg0, copyinstr(self->func[self->gc_depth]),
	    copyinstr(self->file[self->gc_depth]), self->first[self->gc_depth]);
	@started_in[copyinstr(self->func[self->gc_depth]),
	    copyinstr(self->file[self->gc_depth]), self->gc_gen] = count();
}

python$target:::gc-done
/self->gc_start && self->gc_depth == 0/
{
	printf("%-7d %3d %9d %6d  ?\n", tid, self->gc_gen, this->us, arg0);
	@started_in["?", "?", self->gc_gen] = count();
}

python$target:::gc-done
/self->gc_start/
{
	self->gc_start = 0;
	self->gc_gen = 0;
	self->gc_depth = 0;
}

dtrace:::END
{
	printf("\n%d ms traced.  Collections per generation:\n",
	    (timestamp - start) / 1000000);
	printa("  gen %d: %@d\n", @collections);
	printf("\nMicroseconds per collection, by generation:\n");
	printa(@us);
	printf("\nCollections started in each function [FUNCTION, FILE, GEN]:\n");
	printa("  %-32s %-64s %d %@8d\n", @started_in);
}
