/*
 * trace.d: the DTrace twin of tests/fire/trace.bt. It prints every probe of
 * the python provider, one event per line, fields separated by a TAB, in
 * exactly trace.bt's format (tests/fire/README.md), so the same .expected
 * files and the same normaliser (tests/fire/check.py) apply on FreeBSD,
 * illumos and macOS.
 *
 * Status: not run here (no DTrace on Linux); run by the CI matrix
 * (.github/workflows/dtrace-matrix.yml, jobs freebsd and omnios) through
 * tests/fire/dtrace/run.py, which runs for each workload, as root:
 *
 *   cd WORKLOAD_DIR && PYTHONPATH=tests/fire \
 *     dtrace -q -s tests/fire/dtrace/trace.d -o TRACE -c 'PYTHON -B WORKLOAD.py'
 *
 * -c makes dtrace start the process and enable the probes of that process
 * (python$target) before it runs main: the probes of the interpreter and,
 * for an --enable-shared build, of its libpython. dtrace splits -c on
 * blanks: no blanks in the paths.
 *
 * Probe names: D writes the double underscores of provider.d as dashes
 * (function__entry is python$target:::function-entry); each line prints the
 * provider.d name, as trace.bt does. Integer arguments are cast to their C
 * type (the raw argN of an int is a whole 64-bit register).
 *
 * Object addresses become a token "obj<N>" naming one lifetime of one
 * object: instance__new__done takes the next N for the address,
 * instance__delete__start prints it and forgets it ("obj0": the creation
 * of this object was not seen).
 */

#pragma D option quiet
/* Probes this build lacks (audit before 3.8) are not an error. */
#pragma D option zdefs
/* Order the output by time across CPUs: the workload's thread may move
   between CPUs, and each CPU has its own buffer. */
#pragma D option temporal
#pragma D option strsize=512
#pragma D option bufsize=16m
#pragma D option switchrate=100hz
#pragma D option dynvarsize=16m

int next_obj;

BEGIN
{
	printf("ready\n");
}

python$target:::function-entry
{
	printf("function__entry\t%s\t%s\t%d\n", copyinstr(arg0), copyinstr(arg1), (int)arg2);
}

python$target:::function-return
{
	printf("function__return\t%s\t%s\t%d\n", copyinstr(arg0), copyinstr(arg1), (int)arg2);
}

python$target:::line
{
	printf("line\t%s\t%s\t%d\n", copyinstr(arg0), copyinstr(arg1), (int)arg2);
}

python$target:::gc-start
{
	printf("gc__start\t%d\n", (int)arg0);
}

python$target:::gc-done
{
	printf("gc__done\t%d\n", (long)arg0);
}

python$target:::import-find-load-start
{
	printf("import__find__load__start\t%s\n", copyinstr(arg0));
}

python$target:::import-find-load-done
{
	printf("import__find__load__done\t%s\t%d\n", copyinstr(arg0), (int)arg1);
}

python$target:::audit
{
	printf("audit\t%s\n", copyinstr(arg0));
}

python$target:::instance-new-start
{
	printf("instance__new__start\t%s\t%s\n", copyinstr(arg0), copyinstr(arg1));
}

python$target:::instance-new-done
{
	next_obj = next_obj + 1;
	tok[arg2] = next_obj;
	printf("instance__new__done\t%s\t%s\tobj%d\n", copyinstr(arg0), copyinstr(arg1),
	    next_obj);
}

python$target:::instance-delete-start
{
	printf("instance__delete__start\t%s\t%s\tobj%d\n", copyinstr(arg0), copyinstr(arg1),
	    tok[arg2]);
	/* Assigning 0 frees a dynamic variable. */
	tok[arg2] = 0;
}

python$target:::instance-delete-done
{
	printf("instance__delete__done\t%s\t%s\n", copyinstr(arg0), copyinstr(arg1));
}

/* GIL and thread events carry the thread id (tid) of the thread that
 * fired them; the harness turns ids into tokens. */
python$target:::gil-acquire-start
{
	printf("gil__acquire__start\t%d\t%lld\n", tid, timestamp);
}

python$target:::gil-acquire-done
{
	printf("gil__acquire__done\t%d\t%lld\n", tid, timestamp);
}

python$target:::gil-release
{
	printf("gil__release\t%d\t%lld\n", tid, timestamp);
}

python$target:::thread-start
{
	printf("thread__start\t%lu\t%lu\t%d\n", arg0, arg1, tid);
}

python$target:::thread-end
{
	printf("thread__end\t%lu\t%lu\t%d\n", arg0, arg1, tid);
}

python$target:::cfunction-entry
{
	printf("cfunction__entry\t%s\t%s\n", copyinstr(arg0), copyinstr(arg1));
}

python$target:::cfunction-return
{
	printf("cfunction__return\t%s\t%s\n", copyinstr(arg0), copyinstr(arg1));
}

python$target:::exception-raise
{
	printf("exception__raise\t%s\t%s\t%s\t%d\n", copyinstr(arg0), copyinstr(arg1),
	    copyinstr(arg2), (int)arg3);
}

python$target:::exception-handled
{
	printf("exception__handled\t%s\t%s\t%s\t%d\n", copyinstr(arg0), copyinstr(arg1),
	    copyinstr(arg2), (int)arg3);
}
