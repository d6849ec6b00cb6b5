//! `cargo xtask fire`: do the probes of a built interpreter fire, with the
//! right arguments, in the right order?
//!
//! Each workload `tests/fire/NAME.py` runs under bpftrace with
//! `tests/fire/trace.bt` (every probe, one TAB-separated event a line), and
//! the events are compared with `tests/fire/NAME.expected`, written by hand
//! from the probes' semantics. Then `tests/balance/workload.py` runs with only
//! the entry and return probes counted: the two counts must be equal.
//!
//! The normalisation (which events count, object addresses as `#1`, `#2`,
//! `*` matching anything) is specified in tests/fire/README.md.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::layout::{Build, Selection};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    sel: Selection,
    /// Run only these workloads (file stems in tests/fire), default all
    #[arg(long = "workload", value_name = "NAME")]
    workloads: Vec<String>,
    /// Skip the whole-run entry/return balance check
    #[arg(long)]
    no_balance: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::project_root();
    let build = args.sel.resolve(&root)?;
    if !build.is_complete() {
        bail!(
            "no build at {}; run `cargo xtask build{}` first",
            build.install_dir().display(),
            build.flags()
        );
    }
    tracer_ready()?;

    let fire_dir = root.join("tests").join("fire");
    let names = if args.workloads.is_empty() {
        workloads(&fire_dir)?
    } else {
        args.workloads.clone()
    };
    let mut failed = Vec::new();
    for name in &names {
        match run_workload(&build, &fire_dir, name)? {
            None => eprintln!("fire: {name}: ok"),
            Some(diff) => {
                eprintln!("fire: {name}: MISMATCH (- expected, + fired)\n{diff}");
                failed.push(name.clone());
            }
        }
    }
    if !args.no_balance {
        let (entries, returns) = balance(&build, &root.join("tests").join("balance"))?;
        if entries == returns && entries > 0 {
            eprintln!("fire: balance: {entries} entries = {returns} returns");
        } else {
            eprintln!("fire: balance: MISMATCH: {entries} entries, {returns} returns");
            failed.push("balance".into());
        }
    }
    if failed.is_empty() {
        eprintln!("fire: {} workloads match on {}", names.len(), build.id());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("fire: failed on {}: {}", build.id(), failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// The stems of every `tests/fire/*.py` that has a `.expected` beside it.
fn workloads(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "expected") && path.with_extension("py").is_file()
        {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                names.push(stem.to_string());
            }
        }
    }
    names.sort();
    if names.is_empty() {
        bail!(
            "no workloads in {}: expected NAME.py with NAME.expected",
            dir.display()
        );
    }
    Ok(names)
}

/// bpftrace present, root, tracefs mounted: each missing one is its own message.
pub(crate) fn tracer_ready() -> anyhow::Result<()> {
    let version = Command::new("bpftrace").arg("--version").output();
    if !version.is_ok_and(|o| o.status.success()) {
        bail!("bpftrace is not installed; run `ci/install-deps.sh` (Debian: apt-get install bpftrace)");
    }
    if !crate::verify::is_root() {
        bail!("bpftrace needs root to attach USDT probes; run as root (e.g. with sudo)");
    }
    let tracing = Path::new("/sys/kernel/tracing");
    let empty = std::fs::read_dir(tracing).map_or(true, |mut d| d.next().is_none());
    if empty {
        bail!("tracefs is not mounted; run `mount -t tracefs nodev /sys/kernel/tracing`");
    }
    Ok(())
}

/// Starts `script` in a waiting interpreter, attaches bpftrace to it by pid,
/// lets it run, and returns what the bpftrace script printed (also kept in
/// `target/fire/<build id>/<script stem>.trace`).
///
/// Why not `bpftrace -c`: for `--enable-shared` builds the probes live in
/// libpython, which is not loaded yet when bpftrace starts the command, and
/// bpftrace then cannot place them. Attaching to a running process works for
/// every variant, so every variant goes this way.
fn bpftrace(build: &Build, bt: &Path, script: &Path) -> anyhow::Result<String> {
    let python = build.python_path();
    let target = build.probe_target_in(&build.install_dir());
    let traces = crate::project_root()
        .join("target")
        .join("fire")
        .join(build.id());
    std::fs::create_dir_all(&traces)
        .with_context(|| format!("cannot create {}", traces.display()))?;
    let stem = script.file_stem().unwrap_or_default().to_string_lossy();
    let trace = traces.join(format!("{stem}.trace"));
    let _ = std::fs::remove_file(&trace);

    // The interpreter waits for a line on stdin, then runs the script as
    // __main__ (-B: no __pycache__ in tests/). Its own frames are in no
    // workload file, so the comparison never sees them.
    let mut workload = Command::new(&python)
        .arg("-B")
        .arg("-c")
        .arg(WAIT_THEN_RUN)
        .arg(script)
        .current_dir(script.parent().unwrap_or(Path::new(".")))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", python.display()))?;
    let result = trace_process(&mut workload, bt, &target, &trace);
    if result.is_err() {
        let _ = workload.kill();
    }
    let _ = workload.wait();
    result?;

    let printed = std::fs::read_to_string(&trace)
        .with_context(|| format!("bpftrace left no trace at {}", trace.display()))?;
    if printed
        .lines()
        .any(|l| l.starts_with("Lost ") && l.ends_with(" events"))
    {
        bail!(
            "bpftrace lost events on {} (see {}); the comparison would be meaningless",
            script.display(),
            trace.display()
        );
    }
    Ok(printed)
}

/// Run by the traced interpreter: wait for the go, then run argv[1] as __main__.
const WAIT_THEN_RUN: &str = "import runpy, sys\n\
sys.stdin.readline()\n\
sys.argv = sys.argv[1:]\n\
runpy.run_path(sys.argv[0], run_name='__main__')\n";

/// How long bpftrace may take to attach, and to finish after the workload.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(120);
const FINISH_TIMEOUT: Duration = Duration::from_secs(120);

fn trace_process(
    workload: &mut Child,
    bt: &Path,
    target: &Path,
    trace: &Path,
) -> anyhow::Result<()> {
    let mut tracer = Command::new("bpftrace")
        .env("BPFTRACE_STRLEN", "128")
        .arg("-p")
        .arg(workload.id().to_string())
        .arg(bt)
        .arg(target)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run bpftrace")?;
    // Read bpftrace's output as it comes (it flushes each line to a pipe,
    // unlike to an -o file): the scripts print `ready` from BEGIN, which runs
    // once every probe is attached and every semaphore raised.
    let stdout = tracer.stdout.take().context("no bpftrace stdout")?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "ready" {
                let _ = ready_tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let attached = ready_rx.recv_timeout(ATTACH_TIMEOUT).is_ok();
    if !attached {
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
    // bpftrace -p ends by itself (running END) once the process is gone.
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
    std::fs::write(trace, &printed).with_context(|| format!("cannot write {}", trace.display()))?;
    if !tracer_status.success() {
        bail!(
            "bpftrace failed ({tracer_status}): {}",
            stderr_of(&mut tracer)
        );
    }
    if !status.success() {
        bail!("the workload failed ({status}); run it by hand to see why");
    }
    Ok(())
}

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

/// `None` when the workload's events match its expectation, else a diff.
fn run_workload(build: &Build, dir: &Path, name: &str) -> anyhow::Result<Option<String>> {
    let script = dir.join(format!("{name}.py"));
    let expected_path = dir.join(format!("{name}.expected"));
    let expected_text = std::fs::read_to_string(&expected_path)
        .with_context(|| format!("cannot read {}", expected_path.display()))?;
    let expected = Expectation::parse(&expected_text)
        .with_context(|| format!("{}: bad expectation file", expected_path.display()))?;
    let own_files = python_files(dir)?;
    let output = bpftrace(build, &dir.join("trace.bt"), &script)?;
    let fired = select(&output, &expected.probes, &own_files);
    Ok(compare(&expected.events, &fired))
}

fn python_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "py") {
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                files.push(name.to_string());
            }
        }
    }
    Ok(files)
}

/// A parsed `.expected` file.
#[derive(Debug)]
struct Expectation {
    probes: Vec<String>,
    events: Vec<Vec<String>>,
}

impl Expectation {
    fn parse(text: &str) -> anyhow::Result<Expectation> {
        let mut probes = None;
        let mut events = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(list) = line.strip_prefix("# probes:") {
                probes = Some(list.split_whitespace().map(String::from).collect());
            } else if line.starts_with('#') || line.trim().is_empty() {
                continue;
            } else {
                let fields: Vec<String> = line.split('\t').map(String::from).collect();
                if fields.len() < 2 {
                    bail!("line {}: expected TAB-separated fields: {line:?}", i + 1);
                }
                events.push(fields);
            }
        }
        let probes = probes.context("no `# probes:` line naming the probes compared")?;
        Ok(Expectation { probes, events })
    }
}

/// The fired events the expectation speaks of, normalised by the rules of
/// tests/fire/README.md (which check.py there implements too).
fn select(output: &str, probes: &[String], own_files: &[String]) -> Vec<Vec<String>> {
    let mut selected = Vec::new();
    // Basenames of the active frames, innermost last, over every file: a
    // collection belongs to the workload when its innermost frame does.
    let mut frames: Vec<String> = Vec::new();
    let mut tokens: HashMap<String, usize> = HashMap::new();
    for line in output.lines() {
        let mut fields: Vec<String> = line.split('\t').map(String::from).collect();
        if fields.len() < 2 {
            continue; // bpftrace's own messages ("Attaching 12 probes...")
        }
        let probe = fields[0].clone();
        let keep = match probe.as_str() {
            "function__entry" | "function__return" | "line" => {
                fields[1] = basename(&fields[1]).to_string();
                if probe == "function__entry" {
                    frames.push(fields[1].clone());
                } else if probe == "function__return" {
                    frames.pop();
                }
                own_files.contains(&fields[1])
            }
            "gc__start" | "gc__done" => frames.last().is_some_and(|f| own_files.contains(f)),
            "import__find__load__start" | "import__find__load__done" => {
                fields[1].starts_with("fire_")
            }
            "audit" => fields[1].starts_with("cpython_dtrace."),
            _ if probe.starts_with("instance__") => fields[1].starts_with("Fire"),
            _ => false,
        };
        if !keep || !probes.iter().any(|p| p == &fields[0]) {
            continue;
        }
        if fields[0].starts_with("instance__") {
            if let Some(token) = fields.get_mut(3) {
                *token = if token == "obj0" {
                    "#?".to_string()
                } else {
                    let next = tokens.len() + 1;
                    format!("#{}", *tokens.entry(token.clone()).or_insert(next))
                };
            }
        }
        selected.push(fields);
    }
    selected
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `None` if `fired` matches `expected` (`*` matches any field), else a
/// line diff of the two with the first difference marked.
fn compare(expected: &[Vec<String>], fired: &[Vec<String>]) -> Option<String> {
    let matches = |e: &Vec<String>, f: &Vec<String>| {
        e.len() == f.len() && e.iter().zip(f).all(|(e, f)| e == "*" || e == f)
    };
    let first_difference =
        (0..expected.len().max(fired.len())).find(|&i| match (expected.get(i), fired.get(i)) {
            (Some(e), Some(f)) => !matches(e, f),
            _ => true,
        })?;
    let mut diff = String::new();
    let from = first_difference.saturating_sub(3);
    let to = (first_difference + 8).min(expected.len().max(fired.len()));
    let _ = writeln!(
        diff,
        "  first difference at event {}:",
        first_difference + 1
    );
    for i in from..to {
        let e = expected.get(i).map(|e| e.join(" "));
        let f = fired.get(i).map(|f| f.join(" "));
        match (e, f) {
            (Some(e), Some(f)) if i < first_difference => {
                let _ = writeln!(diff, "    {e}");
                let _ = f;
            }
            (e, f) => {
                if let Some(e) = e {
                    let _ = writeln!(diff, "  - {e}");
                }
                if let Some(f) = f {
                    let _ = writeln!(diff, "  + {f}");
                }
            }
        }
    }
    let _ = write!(
        diff,
        "  ({} expected events, {} fired)",
        expected.len(),
        fired.len()
    );
    Some(diff)
}

/// Entries and returns over the whole balance workload.
fn balance(build: &Build, dir: &Path) -> anyhow::Result<(u64, u64)> {
    let output = bpftrace(build, &dir.join("count.bt"), &dir.join("workload.py"))?;
    let count = |name: &str| -> anyhow::Result<u64> {
        let line = output
            .lines()
            .find(|l| l.starts_with(&format!("@{name}:")))
            .with_context(|| format!("bpftrace printed no @{name} count:\n{output}"))?;
        line.rsplit(' ')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .with_context(|| format!("bad count line {line:?}"))
    };
    Ok((count("entries")?, count("returns")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Vec<String> {
        s.split('\t').map(String::from).collect()
    }

    const OUTPUT: &str = "Attaching 12 probes...\n\
function__entry\t/usr/lib/python3.13/site.py\tmain\t1\n\
gc__start\t2\n\
import__find__load__start\tencodings\n\
function__return\t/usr/lib/python3.13/site.py\tmain\t9\n\
function__entry\t/x/tests/fire/w.py\t<module>\t1\n\
import__find__load__start\tfire_helper\n\
gc__start\t0\n\
function__entry\t/usr/lib/python3.13/json/__init__.py\tloads\t299\n\
gc__start\t1\n\
function__return\t/usr/lib/python3.13/json/__init__.py\tloads\t346\n\
audit\tcpython_dtrace.test\n\
audit\topen\n\
instance__new__done\tFireA\t__main__\tobj7\n\
instance__new__done\tOther\t__main__\tobj8\n\
instance__delete__start\tFireA\t__main__\tobj7\n\
instance__delete__start\tFireB\t?\tobj0\n\
function__return\t/x/tests/fire/w.py\t<module>\t3\n";

    fn all_probes() -> Vec<String> {
        [
            "function__entry",
            "function__return",
            "gc__start",
            "import__find__load__start",
            "audit",
            "instance__new__done",
            "instance__delete__start",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn normalisation_follows_the_readme_rules() {
        let got = select(OUTPUT, &all_probes(), &["w.py".to_string()]);
        let want = vec![
            ev("function__entry\tw.py\t<module>\t1"),
            ev("import__find__load__start\tfire_helper"),
            ev("gc__start\t0"),
            ev("audit\tcpython_dtrace.test"),
            ev("instance__new__done\tFireA\t__main__\t#1"),
            ev("instance__delete__start\tFireA\t__main__\t#1"),
            ev("instance__delete__start\tFireB\t?\t#?"),
            ev("function__return\tw.py\t<module>\t3"),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn only_listed_probes_are_kept() {
        let probes = vec!["import__find__load__start".to_string()];
        let got = select(OUTPUT, &probes, &["w.py".to_string()]);
        assert_eq!(got, vec![ev("import__find__load__start\tfire_helper")]);
    }

    #[test]
    fn star_matches_any_field_and_differences_are_shown() {
        let expected = vec![ev("gc__done\t*"), ev("gc__start\t0")];
        assert_eq!(
            compare(&expected, &[ev("gc__done\t5"), ev("gc__start\t0")]),
            None
        );
        let diff = compare(&expected, &[ev("gc__done\t5"), ev("gc__start\t1")]).expect("differs");
        assert!(diff.contains("first difference at event 2"), "{diff}");
        assert!(
            diff.contains("- gc__start 0") && diff.contains("+ gc__start 1"),
            "{diff}"
        );
        assert!(
            compare(&expected, &[ev("gc__done\t5")]).is_some(),
            "a missing event is a difference"
        );
    }

    #[test]
    fn expectation_needs_its_probes_line() {
        assert!(Expectation::parse("gc__start\t0\n").is_err());
        let e =
            Expectation::parse("# probes: gc__start\n# comment\ngc__start\t0\n").expect("parses");
        assert_eq!(e.probes, vec!["gc__start"]);
        assert_eq!(e.events, vec![ev("gc__start\t0")]);
    }
}
