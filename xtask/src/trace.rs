//! `cargo xtask trace`: run a ready-made bpftrace script of `probes/bpftrace/`
//! against a built interpreter, or a running Python process.
//!
//! ```text
//! cargo xtask trace SCRIPT [PARAM…] -- script.py ARGS…   start script.py on a build and trace it
//! cargo xtask trace SCRIPT [PARAM…] -- -m MODULE ARGS…   the same with `python -m MODULE`
//! cargo xtask trace SCRIPT [PARAM…] -- -c CODE ARGS…     the same with `python -c CODE`
//! cargo xtask trace SCRIPT [PARAM…] --pid PID            attach to a running process
//! ```
//!
//! The scripts take the file holding the probes as `$1` and their own
//! parameters as `$2`…; this task fills `$1` in: the build's interpreter (or
//! its libpython for `--shared`), or, with `--pid`, the file of that process
//! that carries the python provider's notes (its libpython, else its
//! executable). It checks the prerequisites first (bpftrace, root, tracefs,
//! uprobes, the probes the script uses), each with its own message.
//!
//! A new process is started through `attach` (waiting on stdin until
//! bpftrace has attached, so nothing it runs is missed, and so that probes
//! in a shared libpython can be placed). Ctrl-C reaches bpftrace and the
//! interpreter from the terminal; this process only notes it (a handler, so
//! that it does not die and lose what bpftrace prints from `END`), passes
//! bpftrace's output on to the end, and exits with 130. With `--pid` this
//! process becomes bpftrace (exec), so Ctrl-C ends the trace the usual way
//! and the script prints its summary.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context as _};

use crate::attach::{self, Main, Workload};
use crate::layout::{Build, Selection};

#[derive(clap::Args)]
pub struct Args {
    /// The script: a name of probes/bpftrace (calls, flow, who-calls, gc,
    /// leaks, imports, syscalls-by-python, gil, threads, audit) or the path
    /// of a .bt file that takes the probes' file as $1
    script: String,
    /// The script's own parameters, its $2, $3… (see its header)
    #[arg(value_name = "PARAM")]
    params: Vec<String>,
    /// Attach to this running Python process (until it exits, or Ctrl-C)
    #[arg(long, value_name = "PID", conflicts_with = "command")]
    pid: Option<u32>,
    #[command(flatten)]
    sel: Selection,
    /// After `--`: what to start on the build, as after `python`: a script
    /// and its arguments, `-m MODULE ARGS`, or `-c CODE ARGS`
    #[arg(
        last = true,
        value_name = "SCRIPT.py ARGS | -m MODULE ARGS | -c CODE ARGS"
    )]
    command: Vec<OsString>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::project_root();
    let script = resolve_script(&root.join("probes").join("bpftrace"), &args.script)?;
    let needed = probes_used(
        &std::fs::read_to_string(&script)
            .with_context(|| format!("cannot read {}", script.display()))?,
    );
    match (args.pid, args.command.is_empty()) {
        (Some(pid), _) => {
            prerequisites()?;
            let target = process_probe_file(pid)?;
            check_probes(&target.in_namespace, &needed, &format!("process {pid}"))?;
            exec_bpftrace(pid, &script, &target.path, &args.params)
        }
        (None, false) => {
            let (main, py_args) = python_command(&args.command)?;
            let build = args.sel.resolve(&root)?;
            if !build.is_complete() {
                bail!(
                    "no build at {}; run `cargo xtask build{}` first",
                    build.install_dir().display(),
                    build.flags()
                );
            }
            prerequisites()?;
            let target = build.probe_target_in(&build.install_dir());
            check_probes(&target, &needed, &build.id())?;
            run_script(&build, &script, &target, &args.params, main, py_args)
        }
        (None, true) => bail!(
            "nothing to trace: give `--pid PID`, or a Python script to start after `--` \
             (cargo xtask trace {} -- script.py ARGS, or -- -m MODULE ARGS, or -- -c CODE ARGS)",
            args.script
        ),
    }
}

/// The path of a script: `NAME` of `dir` (`dir/NAME.bt`), or a file path.
fn resolve_script(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let as_path = Path::new(name);
    if name.ends_with(".bt") || name.contains('/') {
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        bail!("no bpftrace script at {name}");
    }
    let path = dir.join(format!("{name}.bt"));
    if path.is_file() {
        return Ok(path);
    }
    let known = script_names(dir);
    if known.is_empty() {
        bail!("no script `{name}`: {} has no .bt files", dir.display());
    }
    bail!("no script `{name}`; the scripts are: {}", known.join(", "))
}

/// The stems of the `.bt` files of `dir`, sorted.
fn script_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "bt") {
                path.file_stem().map(|s| s.to_string_lossy().into_owned())
            } else {
                None
            }
        })
        .collect();
    names.sort();
    names
}

/// The python probes a script attaches to (`usdt:$1:python:NAME`).
fn probes_used(text: &str) -> BTreeSet<String> {
    const PREFIX: &str = "usdt:$1:python:";
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        rest = &rest[at + PREFIX.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

/// bpftrace, root, tracefs (the shared check), then uprobes.
fn prerequisites() -> anyhow::Result<()> {
    crate::fire::tracer_ready()?;
    let uprobe_pmu = Path::new("/sys/bus/event_source/devices/uprobe");
    let uprobe_events = Path::new("/sys/kernel/tracing/uprobe_events");
    if !uprobe_pmu.exists() && !uprobe_events.exists() {
        bail!(
            "this kernel has no uprobes (CONFIG_UPROBE_EVENTS), which USDT probes need; \
             use a kernel built with them"
        );
    }
    Ok(())
}

/// Fails, naming what is missing, unless `file` has every probe of `needed`.
fn check_probes(file: &Path, needed: &BTreeSet<String>, what: &str) -> anyhow::Result<()> {
    let probes = probe_reader::read_path(file)
        .with_context(|| format!("cannot list the probes of {}", file.display()))?;
    let present: BTreeSet<&str> = probes
        .iter()
        .filter(|p| p.provider == "python")
        .map(|p| p.name.as_str())
        .collect();
    let missing: Vec<&str> = needed
        .iter()
        .map(String::as_str)
        .filter(|n| !present.contains(n))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} ({what}) lacks python probes this script needs: {}; \
             trace an interpreter built with our patches (`cargo xtask build`)",
            file.display(),
            missing.join(", ")
        );
    }
    Ok(())
}

/// The file of a running process that holds the python provider's probes:
/// `path` as the process sees it (for bpftrace), `in_namespace` the same
/// file seen from here (through /proc/PID/root, for reading its notes).
#[derive(Debug)]
struct ProbeFile {
    path: PathBuf,
    in_namespace: PathBuf,
}

fn process_probe_file(pid: u32) -> anyhow::Result<ProbeFile> {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    if !proc_dir.is_dir() {
        bail!("no process {pid}; check the pid (e.g. with `pgrep -a python`)");
    }
    let maps = std::fs::read_to_string(proc_dir.join("maps"))
        .with_context(|| format!("cannot read /proc/{pid}/maps (run as root)"))?;
    let exe = std::fs::read_link(proc_dir.join("exe"))
        .with_context(|| format!("cannot read /proc/{pid}/exe"))?;
    // A shared libpython carries the probes of a --enable-shared build;
    // otherwise they are in the executable.
    let mut candidates: Vec<PathBuf> = mapped_files(&maps)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libpython"))
        })
        .collect();
    candidates.push(exe);
    for path in candidates {
        let relative = path.strip_prefix("/").unwrap_or(&path);
        let in_namespace = proc_dir.join("root").join(relative);
        let has_python = probe_reader::read_path(&in_namespace)
            .map(|probes| probes.iter().any(|p| p.provider == "python"))
            .unwrap_or(false);
        if has_python {
            return Ok(ProbeFile { path, in_namespace });
        }
    }
    bail!(
        "process {pid} has no python USDT probes (neither its executable nor a libpython \
         it maps); it must run an interpreter built --with-dtrace, e.g. by `cargo xtask build`"
    )
}

/// The distinct files mapped in a `/proc/PID/maps` text, in order.
fn mapped_files(maps: &str) -> Vec<PathBuf> {
    let mut seen = BTreeSet::new();
    let mut files = Vec::new();
    for line in maps.lines() {
        // address perms offset dev inode [path]; the path may hold spaces.
        let mut fields = line.splitn(6, ' ');
        let path = fields.nth(5).map(str::trim_start).unwrap_or("");
        if !path.starts_with('/') || path.ends_with(" (deleted)") {
            continue;
        }
        if seen.insert(path.to_string()) {
            files.push(PathBuf::from(path));
        }
    }
    files
}

/// The bpftrace command line after `-p PID`: script, probes' file, params.
fn bpftrace_args(script: &Path, target: &Path, params: &[String]) -> Vec<OsString> {
    let mut args = vec![script.as_os_str().to_owned(), target.as_os_str().to_owned()];
    args.extend(params.iter().map(OsString::from));
    args
}

/// Becomes `bpftrace -p PID SCRIPT TARGET PARAMS…`.
fn exec_bpftrace(
    pid: u32,
    script: &Path,
    target: &Path,
    params: &[String],
) -> anyhow::Result<ExitCode> {
    use std::os::unix::process::CommandExt as _;
    let args = bpftrace_args(script, target, params);
    eprintln!(
        "trace: BPFTRACE_STRLEN=128 bpftrace -p {pid} {}",
        shown(&args)
    );
    let err = Command::new("bpftrace")
        .env("BPFTRACE_STRLEN", "128")
        .arg("-p")
        .arg(pid.to_string())
        .args(&args)
        .exec();
    Err(err).context("cannot run bpftrace")
}

/// What to run, from the arguments after `--` (as `python` takes them): a
/// script, `-m MODULE` (or `-mMODULE`), `-c CODE` (or `-cCODE`), and the
/// rest, its `sys.argv[1:]`.
fn python_command(command: &[OsString]) -> anyhow::Result<(Main<'_>, &[OsString])> {
    let Some((first, rest)) = command.split_first() else {
        bail!("nothing to run after `--`");
    };
    let text = first.to_string_lossy();
    if text == "-" {
        bail!("after `--`, a script from stdin (`-`) is not supported: give a file");
    }
    if !text.starts_with('-') {
        let path = Path::new(first);
        if !path.is_file() {
            bail!("no Python script at {}", path.display());
        }
        return Ok((Main::Script(path), rest));
    }
    for (option, what) in [("-m", "a module name"), ("-c", "the code to run")] {
        let Some(joined) = text.strip_prefix(option) else {
            continue;
        };
        let (value, rest) = if !joined.is_empty() {
            // `-mMODULE`: the value is the rest of the argument, as its
            // bytes (after the ASCII option).
            use std::os::unix::ffi::OsStrExt as _;
            let value = std::ffi::OsStr::from_bytes(&first.as_bytes()[option.len()..]);
            (value, rest)
        } else {
            match rest.split_first() {
                Some((value, rest)) => (value.as_os_str(), rest),
                None => bail!("`{option}` after `--` needs {what}"),
            }
        };
        return Ok(if option == "-m" {
            (Main::Module(value), rest)
        } else {
            (Main::Code(value), rest)
        });
    }
    bail!(
        "after `--` give a Python script and its arguments, `-m MODULE ARGS` or \
         `-c CODE ARGS`; other interpreter options ({text}) are not supported \
         (set PYTHON* environment variables instead, or write a small script)"
    )
}

/// Starts `main` on the build under the script; its output and the
/// script's go to our stdout. Ctrl-C (SIGINT, sent by the terminal to
/// bpftrace and the interpreter too) is noted, not obeyed: bpftrace prints
/// its `END` output, which we pass on, and we exit with 130 once it ended.
fn run_script(
    build: &Build,
    script: &Path,
    target: &Path,
    params: &[String],
    main: Main<'_>,
    py_args: &[OsString],
) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let args = bpftrace_args(script, target, params);
    let shown_main = match main {
        Main::Script(path) => path.display().to_string(),
        Main::Module(name) => format!("-m {}", name.to_string_lossy()),
        Main::Code(_) => "-c CODE".to_string(),
    };
    eprintln!(
        "trace: {} {shown_main} under BPFTRACE_STRLEN=128 bpftrace -p PID {}",
        build.python_path().display(),
        shown(&args)
    );
    let workload = Workload {
        main,
        args: py_args,
        cwd: &cwd,
        env: &[],
        show_output: true,
    };
    // A handler, not SIG_IGN: an ignored signal stays ignored in the
    // children, and the interpreter would not see Ctrl-C.
    let interrupted = Arc::new(AtomicBool::new(false));
    let handler = signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone())
        .context("cannot install a SIGINT handler")?;
    let result = attach::trace(build, &args, &workload, true);
    signal_hook::low_level::unregister(handler);
    if interrupted.load(Ordering::SeqCst) {
        // The workload died of the same Ctrl-C: not an error of its own.
        match result {
            Ok(_) => {}
            Err(e) if e.is::<attach::WorkloadFailed>() => {}
            Err(e) => eprintln!("trace: {e:#}"),
        }
        eprintln!("trace: interrupted (Ctrl-C)");
        return Ok(ExitCode::from(130));
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

fn shown(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_script_is_found_by_name() {
        let dir = crate::project_root().join("probes").join("bpftrace");
        let names = script_names(&dir);
        for name in [
            "audit",
            "calls",
            "flow",
            "gc",
            "gil",
            "imports",
            "leaks",
            "syscalls-by-python",
            "threads",
            "who-calls",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
            assert_eq!(
                resolve_script(&dir, name).unwrap(),
                dir.join(format!("{name}.bt"))
            );
        }
        let err = format!("{:#}", resolve_script(&dir, "nope").unwrap_err());
        assert!(
            err.contains("no script `nope`") && err.contains("who-calls"),
            "{err}"
        );
        let err = format!("{:#}", resolve_script(&dir, "/no/such.bt").unwrap_err());
        assert_eq!(err, "no bpftrace script at /no/such.bt");
    }

    #[test]
    fn the_probes_a_script_uses_are_read_from_its_text() {
        let text = "usdt:$1:python:function__entry\n{ }\n\
                    usdt:$1:python:line, usdt:$1:python:gc__start { }\n\
                    tracepoint:raw_syscalls:sys_enter { }\n\
                    usdt:$1:python:function__entry { }\n";
        let got: Vec<String> = probes_used(text).into_iter().collect();
        assert_eq!(got, ["function__entry", "gc__start", "line"]);
    }

    #[test]
    fn every_library_script_prints_a_header_and_takes_the_probes_as_1() {
        // attach::trace waits for the first line the script prints; every
        // script prints one in BEGIN, and attaches through $1 only.
        let dir = crate::project_root().join("probes").join("bpftrace");
        for name in script_names(&dir) {
            let text = std::fs::read_to_string(dir.join(format!("{name}.bt"))).unwrap();
            let begin = text.find("\nBEGIN\n{").expect("a BEGIN block");
            let block = &text[begin..];
            let end = block.find("\n}").expect("BEGIN ends");
            assert!(
                block[..end].contains("printf("),
                "{name}: BEGIN prints no header"
            );
            assert!(!probes_used(&text).is_empty(), "{name}: no python probe");
            assert!(
                !text.contains("usdt:/") && text.contains("Usage"),
                "{name}: probes' file not from $1, or no usage"
            );
        }
    }

    #[test]
    fn the_command_after_dashes_is_read_as_python_reads_it() {
        let os = |args: &[&str]| -> Vec<OsString> { args.iter().map(OsString::from).collect() };
        let this_file = concat!(env!("CARGO_MANIFEST_DIR"), "/src/trace.rs");
        let command = os(&[this_file, "a", "-m"]);
        let (main, rest) = python_command(&command).unwrap();
        assert_eq!(main, Main::Script(Path::new(this_file)));
        assert_eq!(rest, &os(&["a", "-m"])[..]);
        for command in [os(&["-m", "json.tool", "-h"]), os(&["-mjson.tool", "-h"])] {
            let (main, rest) = python_command(&command).unwrap();
            assert_eq!(main, Main::Module("json.tool".as_ref()));
            assert_eq!(rest, &os(&["-h"])[..]);
        }
        for command in [
            os(&["-c", "print(1)", "x", "y"]),
            os(&["-cprint(1)", "x", "y"]),
        ] {
            let (main, rest) = python_command(&command).unwrap();
            assert_eq!(main, Main::Code("print(1)".as_ref()));
            assert_eq!(rest, &os(&["x", "y"])[..]);
        }
        let err = |args: &[&str]| format!("{:#}", python_command(&os(args)).unwrap_err());
        assert_eq!(err(&["-m"]), "`-m` after `--` needs a module name");
        assert_eq!(err(&["-c"]), "`-c` after `--` needs the code to run");
        assert!(err(&["-X", "dev", "x.py"]).contains("(-X) are not supported"));
        assert!(err(&["-"]).contains("stdin"));
        assert_eq!(err(&["/no/such.py"]), "no Python script at /no/such.py");
    }

    #[test]
    fn mapped_files_are_distinct_paths() {
        let maps = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 123 /opt/py/bin/python3.13\n\
7f00-7f01 r-xp 00001000 08:01 456                        /opt/py/lib/libpython3.13.so.1.0\n\
7f01-7f02 r--p 00002000 08:01 456                        /opt/py/lib/libpython3.13.so.1.0\n\
7f02-7f03 rw-p 00000000 00:00 0 \n\
7f03-7f04 rw-p 00000000 00:00 0                          [heap]\n\
7f04-7f05 r--p 00000000 08:01 789                        /tmp/with space.so\n\
7f05-7f06 r--p 00000000 08:01 790                        /tmp/gone.so (deleted)\n";
        assert_eq!(
            mapped_files(maps),
            [
                PathBuf::from("/opt/py/bin/python3.13"),
                PathBuf::from("/opt/py/lib/libpython3.13.so.1.0"),
                PathBuf::from("/tmp/with space.so"),
            ]
        );
    }

    #[test]
    fn a_missing_process_is_named() {
        // Pids are below 2^22 on Linux: this one cannot exist.
        let err = format!("{:#}", process_probe_file(4_294_967).unwrap_err());
        assert!(err.starts_with("no process 4294967"), "{err}");
    }
}
