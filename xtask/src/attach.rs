//! Run a Python script of a built interpreter under a bpftrace script that
//! is attached before the first line of the workload runs.
//!
//! Why not `bpftrace -c`: for `--enable-shared` builds the probes live in
//! libpython, which is not loaded yet when bpftrace starts the command, and
//! bpftrace 0.17 then cannot place them; its `-c` also splits the command on
//! spaces. Attaching to a running process works for every variant, so every
//! variant goes this way: the interpreter starts on a tiny launcher that
//! says on stderr that it waits for a line on stdin, then bpftrace attaches
//! by pid (which also raises
//! the probes' semaphores in that process), and once the bpftrace script
//! prints its first line from `BEGIN` the launcher runs the workload.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::layout::Build;

/// What the traced interpreter runs, and how.
pub struct Workload<'a> {
    /// Run as `__main__`: a script, a module or a code string.
    pub main: Main<'a>,
    /// `sys.argv[1:]`.
    pub args: &'a [OsString],
    pub cwd: &'a Path,
    /// Added to the interpreter's environment.
    pub env: &'a [(OsString, OsString)],
    /// The workload's stdout goes to ours; otherwise it is discarded.
    pub show_output: bool,
}

/// The line the launchers write to stderr once they wait for the go: only
/// then does the tracer attach, so that none of the launcher's own start-up
/// (imports, the collection) is traced half-way. A macro, so that the
/// launchers' text and [`WAITING`] are one literal.
macro_rules! waiting_line {
    () => {
        "cpython-dtrace: waiting for the tracer"
    };
}
const WAITING: &str = waiting_line!();

/// The start of every launcher, valid Python 2.7 and 3.x: say so, then wait
/// for the go on stdin. Its own frame is code compiled from a string,
/// `<string>`, entered before bpftrace attaches. The collection first
/// empties generation 0, so that no automatic collection can start in a
/// workload before its own `gc.disable()` (2.7's start-up leaves the count
/// close to the threshold). pkgutil is what run_path imports on first use:
/// imported here, it stays out of the traces.
macro_rules! wait_for_go {
    () => {
        concat!(
            "import gc, pkgutil, runpy, sys\n",
            "gc.collect()\n",
            "sys.stderr.write('",
            waiting_line!(),
            "\\n')\n",
            "sys.stderr.flush()\n",
            "sys.stdin.readline()\n",
        )
    };
}

/// Runs argv[1] as `__main__`.
const WAIT_THEN_RUN: &str = concat!(
    wait_for_go!(),
    "sys.argv = sys.argv[1:]\n",
    "runpy.run_path(sys.argv[0], run_name='__main__')\n",
);

/// The launchers of `python -m MODULE ARGS…` and `python -c CODE ARGS…`: the
/// module runs as `__main__` with `sys.argv[0]` its file (runpy.run_module
/// with alter_sys, as `-m` does), or the code, compiled as `<string>`, in
/// the `__main__` namespace cleared of the launcher's names, with
/// `sys.argv[0] == '-c'`.
const WAIT_THEN_RUN_MODULE: &str = concat!(
    wait_for_go!(),
    "sys.argv = sys.argv[1:]\n",
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n",
);
const WAIT_THEN_RUN_CODE: &str = concat!(
    wait_for_go!(),
    "_code = compile(sys.argv.pop(1), '<string>', 'exec')\n",
    "del gc, pkgutil, runpy, sys\n",
    "exec(globals().pop('_code'))\n",
);

/// What the traced interpreter runs as `__main__`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Main<'a> {
    /// A script file: `python SCRIPT ARGS…`.
    Script(&'a Path),
    /// A module: `python -m MODULE ARGS…`.
    Module(&'a OsStr),
    /// A code string: `python -c CODE ARGS…`.
    Code(&'a OsStr),
}

impl Main<'_> {
    /// The interpreter's arguments before the workload's own: the launcher
    /// and what it runs.
    fn launcher_args(&self) -> [&OsStr; 3] {
        match *self {
            Main::Script(path) => ["-c".as_ref(), WAIT_THEN_RUN.as_ref(), path.as_os_str()],
            Main::Module(name) => ["-c".as_ref(), WAIT_THEN_RUN_MODULE.as_ref(), name],
            Main::Code(code) => ["-c".as_ref(), WAIT_THEN_RUN_CODE.as_ref(), code],
        }
    }
}

/// How long bpftrace may take to attach, and to finish after the workload.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(120);
const FINISH_TIMEOUT: Duration = Duration::from_secs(120);

/// Starts the interpreter of `build` waiting on stdin, runs `bpftrace -p PID
/// <bpftrace_args…>`, waits for the bpftrace script's first line of output
/// (its `BEGIN` must print one: BEGIN runs once every probe is attached),
/// lets the workload run, waits for bpftrace to end (it does when the
/// process exits), and returns everything bpftrace printed on stdout (also
/// echoed line by line when `echo`).
pub fn trace(
    build: &Build,
    bpftrace_args: &[OsString],
    workload: &Workload<'_>,
    echo: bool,
) -> anyhow::Result<String> {
    let python = build.python_path();
    // -B: no __pycache__ next to the workloads.
    let mut child = Command::new(&python)
        .arg("-B")
        .args(workload.main.launcher_args())
        .args(workload.args)
        .current_dir(workload.cwd)
        .envs(workload.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(if workload.show_output {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", python.display()))?;
    let result = wait_for_launcher(&mut child).and_then(|stderr| {
        let printed = trace_child(&mut child, bpftrace_args, echo);
        let _ = stderr.join();
        printed
    });
    if result.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    result
}

/// Waits until the launcher says it waits for the go (its [`WAITING`] line
/// on stderr); then passes the rest of its stderr on to ours, in a thread
/// that ends with the process.
fn wait_for_launcher(child: &mut Child) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let stderr = child
        .stderr
        .take()
        .context("no stderr of the interpreter")?;
    let (waiting_tx, waiting_rx) = mpsc::channel();
    let copier = std::thread::spawn(move || {
        let mut waiting = Some(waiting_tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line == WAITING {
                if let Some(tx) = waiting.take() {
                    let _ = tx.send(());
                }
                continue;
            }
            eprintln!("{line}");
        }
    });
    if waiting_rx.recv_timeout(ATTACH_TIMEOUT).is_err() {
        let status = child.try_wait().ok().flatten();
        bail!(
            "the interpreter did not start its launcher{}",
            status.map_or(String::new(), |s| format!(" (it exited: {s})"))
        );
    }
    Ok(copier)
}

fn trace_child(
    workload: &mut Child,
    bpftrace_args: &[OsString],
    echo: bool,
) -> anyhow::Result<String> {
    // A larger perf buffer than the default 64 pages per CPU: a workload
    // prints tens of thousands of events in bursts (C calls, GIL hand-offs).
    let mut tracer = Command::new("bpftrace")
        .env("BPFTRACE_STRLEN", "128")
        .env("BPFTRACE_PERF_RB_PAGES", "1024")
        .arg("-p")
        .arg(workload.id().to_string())
        .args(bpftrace_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run bpftrace")?;
    // Read bpftrace's output as it comes (it flushes each line to a pipe,
    // unlike to an -o file).
    let stdout = tracer.stdout.take().context("no bpftrace stdout")?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut ready = Some(ready_tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !line.starts_with("Attaching ") {
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
            }
            if echo {
                println!("{line}");
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    if ready_rx.recv_timeout(ATTACH_TIMEOUT).is_err() {
        let _ = tracer.kill();
        let _ = tracer.wait();
        bail!("bpftrace did not attach: {}", stderr_of(&mut tracer));
    }
    if let Some(mut stdin) = workload.stdin.take() {
        stdin
            .write_all(b"go\n")
            .context("cannot start the workload")?;
    }
    let status = workload.wait()?;
    let finished = Instant::now();
    let tracer_status = loop {
        if let Some(status) = tracer.try_wait()? {
            break status;
        }
        if finished.elapsed() > FINISH_TIMEOUT {
            let _ = tracer.kill();
            let _ = tracer.wait();
            bail!("bpftrace did not finish within {FINISH_TIMEOUT:?} after the workload ended");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let printed = reader.join().unwrap_or_default();
    if !tracer_status.success() {
        bail!(
            "bpftrace failed ({tracer_status}): {}",
            stderr_of(&mut tracer)
        );
    }
    if !status.success() {
        return Err(WorkloadFailed(status).into());
    }
    Ok(printed)
}

/// The error of a workload that exited with a failure (the tracer did not).
#[derive(Debug)]
pub struct WorkloadFailed(pub std::process::ExitStatus);

impl std::fmt::Display for WorkloadFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the workload failed ({}); run it by hand to see why",
            self.0
        )
    }
}

impl std::error::Error for WorkloadFailed {}

/// bpftrace's stderr on one line, without its harmless RLIMIT_MEMLOCK warning.
fn stderr_of(tracer: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut err) = tracer.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text.lines()
        .filter(|l| !l.contains("RLIMIT_MEMLOCK") && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}
