/*
 * provider.d: the probe contract of cpython-dtrace.
 *
 * This file is the single source of truth for the USDT probes a patched
 * CPython exposes. Every patch series under patches/ fires exactly these
 * probes, the generated pydtrace_probes.h header is produced from it, and
 * `cargo xtask verify` checks built interpreters against it: probe names,
 * argument order, C types and the first version a probe exists in.
 *
 * Names, argument order and C types match upstream CPython's
 * Include/pydtrace.d, so existing bcc, bpftrace, SystemTap and DTrace
 * scripts keep working. On top of upstream we add argument names and a
 * comment per probe; the comment directly above a probe is its
 * documentation, and its `@since X.Y` tag is the first CPython version in
 * which the event fires with our patches applied.
 *
 * Compatibility rule: never rename, reorder or retype an existing argument.
 * New information goes into new trailing arguments or new probes.
 */

provider python {
    /*
     * A Python frame starts executing, and again each time a generator or
     * coroutine frame resumes after a yield or await.
     *   filename: the code object's co_filename.
     *   funcname: the code object's co_name.
     *   lineno:   the code object's first line (co_firstlineno).
     * Every entry is matched by exactly one function__return.
     * @since 2.7
     */
    probe function__entry(const char *filename, const char *funcname, int lineno);

    /*
     * A Python frame stops executing: on return, when a generator or
     * coroutine suspends at yield/await, and when the frame is left by an
     * exception. Balances function__entry one to one.
     *   filename: the code object's co_filename.
     *   funcname: the code object's co_name.
     *   lineno:   the line being executed when the frame is left.
     * @since 2.7
     */
    probe function__return(const char *filename, const char *funcname, int lineno);

    /*
     * Execution reaches a new source line, including a jump backwards to a
     * line already run (the next loop iteration).
     *   filename: the code object's co_filename.
     *   funcname: the code object's co_name.
     *   lineno:   the line about to run.
     * @since 2.7
     */
    probe line(const char *filename, const char *funcname, int lineno);

    /*
     * A garbage collection starts.
     *   generation: the generation being collected.
     * @since 2.7
     */
    probe gc__start(int generation);

    /*
     * The garbage collection announced by gc__start has finished.
     *   collected: the number of unreachable objects found, that is the
     *              collected plus the uncollectable ones.
     * @since 2.7
     */
    probe gc__done(long collected);

    /*
     * The import system starts finding and loading a module.
     *   modulename: the fully qualified module name.
     * @since 2.7
     */
    probe import__find__load__start(const char *modulename);

    /*
     * Finding and loading the module announced by import__find__load__start
     * has ended.
     *   modulename: the fully qualified module name.
     *   found:      1 if the module was found and loaded, 0 otherwise.
     * @since 2.7
     */
    probe import__find__load__done(const char *modulename, int found);

    /*
     * An audit event is raised (sys.audit() in Python, PySys_Audit() in C).
     *   event: the event name, e.g. "open".
     *   args:  the event arguments, a PyObject* pointing to a tuple.
     * @since 3.8
     */
    probe audit(const char *event, void *args);

    /*
     * An instance of a heap type (a class defined in Python, or a C heap
     * type) is about to be allocated.
     *   typename: the type's name.
     *   module:   the type's __module__.
     * @since 2.7
     */
    probe instance__new__start(const char *typename, const char *module);

    /*
     * An instance of a heap type has been allocated and now exists.
     *   typename: the type's name.
     *   module:   the type's __module__.
     *   obj:      the address of the new object.
     * @since 2.7
     */
    probe instance__new__done(const char *typename, const char *module, void *obj);

    /*
     * Deallocation of an instance of a heap type is about to start.
     *   typename: the type's name.
     *   module:   the type's __module__.
     *   obj:      the address of the object being destroyed.
     * @since 2.7
     */
    probe instance__delete__start(const char *typename, const char *module, void *obj);

    /*
     * The memory of an instance of a heap type has been freed.
     *   typename: the type's name.
     *   module:   the type's __module__.
     * @since 2.7
     */
    probe instance__delete__done(const char *typename, const char *module);
    /*
     * The calling thread starts waiting for the GIL (global interpreter
     * lock): when it resumes Python after a blocking call, after the
     * interpreter asked it to drop the GIL for another thread, and when a
     * new thread first takes it.
     * Fired only while the GIL is enabled, so never in a free-threaded
     * (--disable-gil) build unless it is re-enabled (PYTHON_GIL=1).
     * @since 2.7
     */
    probe gil__acquire__start();

    /*
     * The calling thread, which fired gil__acquire__start, now holds the
     * GIL. The time between the two is the thread's wait for the GIL.
     * @since 2.7
     */
    probe gil__acquire__done();

    /*
     * The calling thread drops the GIL (before a blocking call, on a
     * switch request, at thread exit). The time since its
     * gil__acquire__done is how long it held the GIL.
     * @since 2.7
     */
    probe gil__release();

    /*
     * A thread created by Python (threading.Thread, _thread.start_new_thread)
     * starts, fired in the new thread before it runs any Python code.
     *   ident:     the thread's identifier, threading.get_ident().
     *   native_id: the operating system's thread id, threading.get_native_id()
     *              (the kernel tid on Linux, the tid the tracer reports).
     * @since 2.7
     */
    probe thread__start(unsigned long ident, unsigned long native_id);

    /*
     * A thread that fired thread__start finishes, normally or by an
     * uncaught exception; fired in that thread after its last Python code.
     *   ident:     as in thread__start.
     *   native_id: as in thread__start.
     * @since 2.7
     */
    probe thread__end(unsigned long ident, unsigned long native_id);

    /*
     * Python code calls a function or method implemented in C: a builtin
     * function (len, time.sleep, os.getpid, a C extension's function) or a
     * C method (list.append, dict.get), through any of the interpreter's
     * call paths, specialised ones included. Calls made by C code (map()
     * calling len) and calls of types or slot wrappers are not reported.
     *   module:   the function's module (__module__, e.g. "builtins",
     *             "time", "posix"), or for a method the name of its type
     *             ("list", "dict").
     *   funcname: the function's name, e.g. "append".
     * Every entry is matched by exactly one cfunction__return.
     * @since 2.7
     */
    probe cfunction__entry(const char *module, const char *funcname);

    /*
     * The C function announced by cfunction__entry has returned, with a
     * result or with an exception.
     *   module:   as in cfunction__entry.
     *   funcname: as in cfunction__entry.
     * @since 2.7
     */
    probe cfunction__return(const char *module, const char *funcname);

    /*
     * An exception starts propagating in Python code: a raise statement
     * runs, or a call made by Python code fails with an exception that no
     * Python frame has seen yet (raised in C, e.g. KeyError from d[k]).
     * Not fired again in each frame the exception passes through on its
     * way up, nor for a bare re-raise (`raise` in an except clause, the
     * end of a finally or with block).
     *   type:     the exception's type name, e.g. "KeyError".
     *   filename: the code object's co_filename.
     *   funcname: the code object's co_name.
     *   lineno:   the line being executed.
     * @since 2.7
     */
    probe exception__raise(const char *type, const char *filename, const char *funcname, int lineno);

    /*
     * The interpreter jumps to an exception handler in Python code: an
     * except clause (whether or not it then matches), a finally block or
     * the exit of a with block, in the frame where the exception arrived.
     * From 3.11 the compiler's own cleanup handlers (the end of an except
     * clause, comprehensions, await) are not reported; before 3.11 a few
     * share the block stack with the user's handlers and are reported too
     * (3.9: the cleanup of `except E as name`, the end of `async for`).
     *   type:     the exception's type name.
     *   filename: the code object's co_filename.
     *   funcname: the code object's co_name.
     *   lineno:   the line being executed when the exception arrived in
     *             this frame (the raise, or the call that failed).
     * @since 2.7
     */
    probe exception__handled(const char *type, const char *filename, const char *funcname, int lineno);
};

#pragma D attributes Evolving/Evolving/Common provider python provider
#pragma D attributes Evolving/Evolving/Common provider python module
#pragma D attributes Evolving/Evolving/Common provider python function
#pragma D attributes Evolving/Evolving/Common provider python name
#pragma D attributes Evolving/Evolving/Common provider python args
