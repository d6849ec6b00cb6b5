#!/usr/sbin/dtrace -s
/*
 * who-calls.d: where in the program is this function called from?  Prints
 * the Python stack each time a function of the given name is entered,
 * innermost frame first, one frame a line as FILE:LINE (FUNCTION) (the D
 * version of probes/bpftrace/who-calls.bt).
 *
 * NOT RUN HERE: written for the dtrace of illumos, FreeBSD and macOS; this
 * project's Linux CI does not run it (checked later in a DTrace CI matrix).
 *
 * Usage:
 *   dtrace -s probes/dtrace/who-calls.d -p PID FUNCTION
 *   dtrace -s probes/dtrace/who-calls.d -c 'python3 script.py' FUNCTION
 * FUNCTION ($$1) is the function's name (co_name, e.g. `dumps`); every
 * function of that name matches, and the first frame printed says which
 * file it is in.
 *
 * Output, for each call:
 *   TID 1234: dumps
 *       /usr/lib/python3.13/json/__init__.py:183 (dumps)   its first line
 *       /srv/app/report.py:41 (render)                     the calling line
 *       ...
 * The script keeps a stack of its own per thread, from function-entry and
 * function-return, and the line probe for the current line of each frame
 * (which makes the traced program slower while it runs); it knows only the
 * frames entered since dtrace attached.  With -p, the frames entered
 * before are not shown, with two exceptions: once the innermost of them
 * runs a line again (its loops report lines as soon as dtrace is
 * attached), it is shown last as
 *       FILE:LINE (FUNCTION)  [entered before attaching]
 * and once one of them has run a line or returned, the stack ends with
 *       ...  [older frames entered before attaching]
 * With -c every frame is seen.  D has no loops: one clause prints one
 * frame, and stacks are cut after 32 frames (`... [N more frames]`).
 */

#pragma D option quiet

dtrace:::BEGIN
{
	printf("Tracing calls of %s... Ctrl-C to end.\n", $$1);
}

/* The stack: file and function (pointers to the probes' strings, valid
 * while the frame runs) and line, per thread and depth; depth 0 is the
 * innermost frame entered before attaching, known from its lines. */
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
	self->outer = 1;
}

python$target:::function-return
{
	self->file[self->depth] = 0;
	self->func[self->depth] = 0;
	self->line[self->depth] = 0;
}

python$target:::function-return
/self->depth == 0/
{
	self->outer = 1;
}

python$target:::function-return
/self->depth > 0/
{
	self->depth--;
}

python$target:::function-entry
/copyinstr(arg1) == $$1/
{
	printf("TID %d: %s\n", tid, $$1);
	self->i = self->depth;
}

/* 32 times the same clause: one frame each. */
python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/self->i > 0/
{
	printf("    %s:%d (%s)\n", copyinstr(self->file[self->i]),
	    self->line[self->i], copyinstr(self->func[self->i]));
	self->i--;
}

python$target:::function-entry
/copyinstr(arg1) == $$1 && self->i > 0/
{
	printf("    ...  [%d more frames]\n", self->i);
	self->i = 0;
}

python$target:::function-entry
/copyinstr(arg1) == $$1 && self->file[0]/
{
	printf("    %s:%d (%s)  [entered before attaching]\n",
	    copyinstr(self->file[0]), self->line[0],
	    copyinstr(self->func[0]));
}

python$target:::function-entry
/copyinstr(arg1) == $$1 && self->outer/
{
	printf("    ...  [older frames entered before attaching]\n");
}

python$target:::function-entry
/copyinstr(arg1) == $$1/
{
	printf("\n");
}
