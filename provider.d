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
};

#pragma D attributes Evolving/Evolving/Common provider python provider
#pragma D attributes Evolving/Evolving/Common provider python module
#pragma D attributes Evolving/Evolving/Common provider python function
#pragma D attributes Evolving/Evolving/Common provider python name
#pragma D attributes Evolving/Evolving/Common provider python args
