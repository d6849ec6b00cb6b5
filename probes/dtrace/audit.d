#!/usr/sbin/dtrace -s
/*
 * audit.d: what security-relevant things is the program doing, and where?
 * A live stream of audit events (PEP 578), each with the Python code that
 * caused it (the D version of probes/bpftrace/audit.bt).
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage (CPython 3.8 or later):
 *   dtrace -s probes/dtrace/audit.d -p PID [EVENT]
 *   dtrace -s probes/dtrace/audit.d -c 'python3 script.py' [EVENT]
 * EVENT ($$1): only this event, by its exact name (e.g. `open`); default:
 * every event.
 *
 * One line per event:
 *   TID  TIME(us)  EVENT  FILE:LINE (FUNCTION)
 * TIME is microseconds since tracing started; FILE:LINE (FUNCTION) is the
 * line the innermost Python frame was running, `?` when unknown (no Python
 * frame running, or a frame entered before dtrace attached that has not
 * run a line since).  The event's arguments are not decoded.
 */

#pragma D option quiet
#pragma D option defaultargs
#pragma D option switchrate=10hz

dtrace:::BEGIN
{
	printf("%-7s %10s  %-24s %s\n", "TID", "TIME(us)", "EVENT", "RAISED AT");
	start = timestamp;
	all_events = $$1 == "" ? 1 : 0;
}

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

python$target:::audit
{
	this->show = all_events || copyinstr(arg0) == $$1;
}

python$target:::audit
/this->show && self->file[self->depth]/
{
	printf("%-7d %10d  %-24s %s:%d (%s)\n", tid, (timestamp - start) / 1000,
	    copyinstr(arg0), copyinstr(self->file[self->depth]),
	    self->line[self->depth], copyinstr(self->func[self->depth]));
}

python$target:::audit
/this->show && !self->file[self->depth]/
{
	printf("%-7d %10d  %-24s ?\n", tid, (timestamp - start) / 1000,
	    copyinstr(arg0));
}
