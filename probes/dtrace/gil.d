#!/usr/sbin/dtrace -s
/*
 * gil.d: which threads wait for the GIL, and how long does each hold it?
 * The global interpreter lock per thread: how often it took the GIL, how
 * long it waited for it and how long it held it (the D version of
 * probes/bpftrace/gil.bt).
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage:
 *   dtrace -s probes/dtrace/gil.d -p PID
 *   dtrace -s probes/dtrace/gil.d -c 'python3 script.py'
 *
 * One line per thread that took the GIL, when the thread exits (where the
 * proc provider reports an exiting thread: lwp-exit):
 *   TID  ACQUIRED  WAITED(us)  HELD(us)
 * ACQUIRED: how many times the thread took the GIL; WAITED: the total time
 * from gil-acquire-start to gil-acquire-done, blocked while another thread
 * held the GIL; HELD: the total time from gil-acquire-done to gil-release,
 * when it could run Python code (running, or waiting for a CPU).
 * At the end, the same for every thread seen (those that exited too), a
 * distribution of each wait and each hold in microseconds per thread, and
 * the totals: the time traced, how long the GIL was held (and which part
 * of the time traced that is), how long all threads waited for it.
 * A wait or hold under way when dtrace attached is not counted, the hold
 * under way at the end counts until then.  The interpreter releases the
 * GIL around blocking calls and when another thread asks for it (after
 * sys.getswitchinterval()); a lone thread that computes without blocking
 * holds it in one piece.  The totals assume one GIL per process.  A
 * free-threaded build fires no GIL probe (unless started with
 * PYTHON_GIL=1).
 */

#pragma D option quiet

dtrace:::BEGIN
{
	printf("%-8s %9s %12s %12s\n", "TID", "ACQUIRED", "WAITED(us)",
	    "HELD(us)");
	start = timestamp;
}

python$target:::gil-acquire-start
{
	self->wait_since = timestamp;
}

/*
 * The globals (all_*, holder) are written by the thread that takes or
 * drops the GIL, one at a time.
 */
python$target:::gil-acquire-done
/self->wait_since/
{
	this->ns = timestamp - self->wait_since;
	self->waited += this->ns;
	all_waited += this->ns;
	@waited[tid] = sum(this->ns);
	@wait_us[tid] = quantize(this->ns / 1000);
	self->wait_since = 0;
}

python$target:::gil-acquire-done
{
	self->held_since = timestamp;
	self->acquired++;
	all_acquired++;
	@acquired[tid] = count();
	holder = tid;
	holder_since = timestamp;
}

python$target:::gil-release
/self->held_since/
{
	this->ns = timestamp - self->held_since;
	self->held += this->ns;
	all_held += this->ns;
	@held[tid] = sum(this->ns);
	@hold_us[tid] = quantize(this->ns / 1000);
	self->held_since = 0;
	holder = holder == tid ? 0 : holder;
}

/* A thread that exits holding the GIL: its hold ends here. */
proc:::lwp-exit
/pid == $target && self->held_since/
{
	this->ns = timestamp - self->held_since;
	self->held += this->ns;
	all_held += this->ns;
	@held[tid] = sum(this->ns);
	@hold_us[tid] = quantize(this->ns / 1000);
	self->held_since = 0;
	holder = holder == tid ? 0 : holder;
}

proc:::lwp-exit
/pid == $target && self->acquired/
{
	printf("%-8d %9d %12d %12d\n", tid, self->acquired,
	    self->waited / 1000, self->held / 1000);
	self->acquired = 0;
	self->waited = 0;
	self->held = 0;
	self->wait_since = 0;
}

/* The hold under way at the end: its thread runs on. */
dtrace:::END
/holder != 0/
{
	this->ns = timestamp - holder_since;
	all_held += this->ns;
	@held[holder] = sum(this->ns);
}

dtrace:::END
{
	this->traced = timestamp - start;
	this->traced = this->traced > 0 ? this->traced : 1;
	normalize(@waited, 1000);
	normalize(@held, 1000);
	printf("\nEvery thread seen [TID]: GIL acquisitions, microseconds waited, held:\n");
	printa("%-8d %@9d %@12d %@12d\n", @acquired, @waited, @held);
	printf("\nMicroseconds per wait for the GIL [TID]:\n");
	printa(@wait_us);
	printf("\nMicroseconds per hold of the GIL [TID]:\n");
	printa(@hold_us);
	printf("\n%d ms traced: the GIL was taken %d times, held %d ms (%d%%); threads waited %d ms for it in all.\n",
	    this->traced / 1000000, all_acquired, all_held / 1000000,
	    all_held * 100 / this->traced, all_waited / 1000000);
}

dtrace:::END
/all_acquired == 0/
{
	printf("No GIL event: a free-threaded build, or no thread took the GIL since attaching.\n");
}
