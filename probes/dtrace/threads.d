#!/usr/sbin/dtrace -s
/*
 * threads.d: which Python threads run, how long does each live, and how
 * much CPU time does each use?  Every thread started by Python
 * (threading.Thread, _thread.start_new_thread), from the thread-start and
 * thread-end probes (the D version of probes/bpftrace/threads.bt).
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage:
 *   dtrace -s probes/dtrace/threads.d -p PID
 *   dtrace -s probes/dtrace/threads.d -c 'python3 script.py'
 *
 * A line when a thread starts and when it ends:
 *   TIME(ms)  EVENT  IDENT  NATIVE_ID  LIFETIME(us)  CPU(us)
 * TIME: since dtrace attached.  IDENT is threading.get_ident() of the
 * thread, NATIVE_ID threading.get_native_id().  EVENT is `start`, `end`
 * (thread-end: its function returned or raised), or `exit` (the thread
 * exited without thread-end, where the proc provider reports it: a daemon
 * thread when the interpreter exits, or os._exit()).  LIFETIME is the time
 * from thread-start to its end; CPU the part of it the thread spent on a
 * CPU (DTrace's vtimestamp, without the time of DTrace's own actions):
 * Python code, C code and system calls, not the time it slept, blocked or
 * waited for the GIL or for a CPU.  For the time each thread held the GIL,
 * see gil.d.  A thread started before dtrace attached ends with `?` for
 * both.  At the end: the threads started and ended, the total lifetime and
 * CPU time of those that ended, and every thread seen, 1 if it still runs.
 * The main thread is not a started thread: it has no line.
 */

#pragma D option quiet

dtrace:::BEGIN
{
	printf("%8s  %-5s  %-16s %-9s %12s %10s\n", "TIME(ms)", "EVENT",
	    "IDENT", "NATIVE_ID", "LIFETIME(us)", "CPU(us)");
	start = timestamp;
}

python$target:::thread-start
{
	self->born = timestamp;
	self->vborn = vtimestamp;
	self->ident = arg0;
	self->native = arg1;
	@threads["started"] = count();
	@running[arg0, arg1] = sum(1);
	printf("%8d  %-5s  %-16u %-9u %12s %10s\n",
	    (timestamp - start) / 1000000, "start", arg0, arg1, "", "");
}

/* Started before dtrace attached (this clause runs before the next). */
python$target:::thread-end
/!self->born/
{
	@threads["ended"] = count();
	printf("%8d  %-5s  %-16u %-9u %12s %10s\n",
	    (timestamp - start) / 1000000, "end", arg0, arg1, "?", "?");
}

python$target:::thread-end
/self->born/
{
	self->ending = 1;
}

proc:::lwp-exit
/pid == $target && self->born/
{
	self->ending = 2;
}

python$target:::thread-end,
proc:::lwp-exit
/self->born && self->ending/
{
	this->life = timestamp - self->born;
	this->cpu = vtimestamp - self->vborn;
	@threads["ended"] = count();
	@total_us["lifetime"] = sum(this->life);
	@total_us["cpu"] = sum(this->cpu);
	@running[self->ident, self->native] = sum(-1);
	printf("%8d  %-5s  %-16u %-9u %12d %10d\n",
	    (timestamp - start) / 1000000,
	    self->ending == 1 ? "end" : "exit", self->ident,
	    self->native, this->life / 1000, this->cpu / 1000);
	self->born = 0;
	self->vborn = 0;
	self->ident = 0;
	self->native = 0;
	self->ending = 0;
}

dtrace:::END
{
	normalize(@total_us, 1000);
	printf("\nThreads started and ended; lifetime and CPU microseconds of the ended ones, in all:\n");
	printa("  %-10s %@d\n", @threads);
	printa("  %-10s %@d\n", @total_us);
	printf("\nEvery thread seen [IDENT, NATIVE_ID]: 1 if it still runs, 0 if it ended:\n");
	printa("  %-20u %-10u %@d\n", @running);
}
