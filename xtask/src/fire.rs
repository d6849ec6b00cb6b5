//! `cargo xtask fire`: do the probes of a built interpreter fire, with the
//! right arguments, in the right order?
//!
//! Each workload `tests/fire/NAME.py` runs under bpftrace with
//! `tests/fire/trace.bt` (every probe, one TAB-separated event a line), and
//! the events are compared with `tests/fire/NAME.expected`, written by hand
//! from the probes' semantics. Then `tests/balance/workload.py` runs with only
//! the entry and return probes counted: the two counts must be equal.
//!
//! Versions differ (line numbers the compiler gives, syntax 2.7 lacks):
//! `tests/fire/<X.Y>/` may replace a workload's expectation, or the workload
//! and its expectation, for CPython X.Y, and `# since: X.Y` in an expectation
//! leaves the workload out on older versions (see tests/fire/README.md).
//!
//! The normalisation (which events count, object addresses as `#1`, `#2`,
//! `*` matching anything) is specified in tests/fire/README.md.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _};

use crate::attach;
use crate::layout::{parse_version, Build, Selection};

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
    let fired = fire_build(&root, &build, &args.workloads, !args.no_balance, true)?;
    Ok(if fired.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The outcome of the fire tests on one build, for `matrix`'s table.
pub(crate) struct Fired {
    /// Workloads run (those applicable to the version), the balance
    /// check counted as one.
    pub ran: usize,
    /// The workloads that did not match, and "balance" if it failed.
    pub failed: Vec<String>,
    /// Every probe that fired at least once, whatever its arguments.
    pub probes: BTreeSet<String>,
}

/// Runs the workloads named (all if none) and the balance check on `build`;
/// prints one line per workload and, with `show_diffs`, each mismatch.
pub(crate) fn fire_build(
    root: &Path,
    build: &Build,
    only: &[String],
    check_balance: bool,
    show_diffs: bool,
) -> anyhow::Result<Fired> {
    if !build.is_complete() {
        bail!(
            "no build at {}; run `cargo xtask build{}` first",
            build.install_dir().display(),
            build.flags()
        );
    }
    tracer_ready()?;

    let fire_dir = root.join("tests").join("fire");
    let mut cases = workloads(&fire_dir, &build.minor_str())?;
    if let Some(unknown) = only.iter().find(|w| !cases.iter().any(|c| &c.name == *w)) {
        bail!(
            "no workload {unknown:?} for {} in {}; the workloads are: {}",
            build.minor_str(),
            fire_dir.display(),
            cases
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !only.is_empty() {
        cases.retain(|c| only.contains(&c.name));
    }
    let own_files = own_files(&fire_dir, &cases);
    let trace_bt = trace_script_for(build, &fire_dir.join("trace.bt"))?;
    let mut fired = Fired {
        ran: 0,
        failed: Vec::new(),
        probes: BTreeSet::new(),
    };
    for case in &cases {
        let expected = case.expectation()?;
        if let Some(since) = expected.since {
            if build.minor() < since {
                eprintln!(
                    "fire: {}: not applicable to {} (needs {}.{})",
                    case.name,
                    build.minor_str(),
                    since.0,
                    since.1
                );
                continue;
            }
        }
        fired.ran += 1;
        let output = bpftrace(build, &trace_bt, &case.script)?;
        fired.probes.extend(probe_names(&output));
        let events = select(&output, &expected.probes, &own_files);
        let mut wanted = expected.events.clone();
        if build.variant.free_threaded {
            // No GIL, no GIL events: any summary line fired is a mismatch.
            wanted.retain(|e| e[0] != "gil");
        }
        match compare(&wanted, &events) {
            None => eprintln!("fire: {}: ok", case.name),
            Some(diff) => {
                eprintln!(
                    "fire: {}: MISMATCH with {}{}",
                    case.name,
                    case.expected.display(),
                    if show_diffs {
                        format!(" (- expected, + fired)\n{diff}")
                    } else {
                        String::new()
                    }
                );
                fired.failed.push(case.name.clone());
            }
        }
    }
    if check_balance {
        fired.ran += 1;
        let (entries, returns) = balance(build, &root.join("tests").join("balance"))?;
        if entries == returns && entries > 0 {
            eprintln!("fire: balance: {entries} entries = {returns} returns");
        } else {
            eprintln!("fire: balance: MISMATCH: {entries} entries, {returns} returns");
            fired.failed.push("balance".into());
        }
    }
    if fired.failed.is_empty() {
        eprintln!("fire: {} checks pass on {}", fired.ran, build.id());
    } else {
        eprintln!(
            "fire: failed on {}: {}",
            build.id(),
            fired.failed.join(", ")
        );
    }
    Ok(fired)
}

/// trace.bt, or for a build that lacks some of its probes (upstream's) a
/// copy without them under target/fire/<id>/: bpftrace refuses a script
/// naming a probe that is not there.
fn trace_script_for(build: &Build, trace_bt: &Path) -> anyhow::Result<PathBuf> {
    let sites = crate::probes::read_all(&build.probe_binaries())?;
    let present: BTreeSet<&str> = sites.iter().map(|s| s.probe.name.as_str()).collect();
    let text = std::fs::read_to_string(trace_bt)
        .with_context(|| format!("cannot read {}", trace_bt.display()))?;
    let (kept, dropped) = without_absent_probes(&text, &present);
    if dropped.is_empty() {
        return Ok(trace_bt.to_path_buf());
    }
    eprintln!(
        "fire: {} has no {}; tracing the other probes",
        build.id(),
        dropped.join(", ")
    );
    let dir = crate::project_root()
        .join("target")
        .join("fire")
        .join(build.id());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("trace.bt");
    std::fs::write(&path, kept).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Drops from a bpftrace script each `usdt:$1:python:NAME` block (up to
/// its closing `}` line) whose NAME is not in `present`.
fn without_absent_probes(script: &str, present: &BTreeSet<&str>) -> (String, Vec<String>) {
    let mut kept = String::new();
    let mut dropped = Vec::new();
    let mut skipping = false;
    for line in script.lines() {
        if let Some(name) = line.trim().strip_prefix("usdt:$1:python:") {
            let name = name.split_whitespace().next().unwrap_or(name);
            skipping = !present.contains(name);
            if skipping {
                dropped.push(name.to_string());
            }
        }
        if !skipping {
            kept.push_str(line);
            kept.push('\n');
        } else if line.trim_end() == "}" {
            skipping = false;
        }
    }
    // `clear(@map)` of a map that only the dropped blocks used does not
    // compile ("Undefined map"): drop those lines too.
    let used_elsewhere = |map: &str| {
        kept.lines()
            .filter(|l| !l.trim().starts_with("clear("))
            .any(|l| l.contains(map))
    };
    let kept = kept
        .lines()
        .filter(|l| {
            let t = l.trim();
            match t.strip_prefix("clear(").and_then(|r| r.strip_suffix(");")) {
                Some(map) => used_elsewhere(map),
                None => true,
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    (kept, dropped)
}

/// The probe names of trace.bt's event lines (`NAME<TAB>…`).
fn probe_names(output: &str) -> impl Iterator<Item = String> + '_ {
    output
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(name, _)| name.to_string())
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
}

/// One workload as run on one CPython minor version.
#[derive(Debug)]
struct Case {
    name: String,
    script: PathBuf,
    expected: PathBuf,
}

impl Case {
    fn expectation(&self) -> anyhow::Result<Expectation> {
        let text = std::fs::read_to_string(&self.expected)
            .with_context(|| format!("cannot read {}", self.expected.display()))?;
        Expectation::parse(&text)
            .with_context(|| format!("{}: bad expectation file", self.expected.display()))
    }
}

/// The workloads for CPython `minor`: every `NAME.py` with a `NAME.expected`
/// in `dir` or in `dir/<minor>`, the version directory's files first.
fn workloads(dir: &Path, minor: &str) -> anyhow::Result<Vec<Case>> {
    let version_dir = dir.join(minor);
    let mut stems = BTreeMap::new();
    for d in [dir, version_dir.as_path()] {
        for stem in files_with_extension(d, "py")? {
            stems.insert(stem, ());
        }
    }
    let mut cases = Vec::new();
    for stem in stems.into_keys() {
        let pick = |ext: &str| {
            let own = version_dir.join(format!("{stem}.{ext}"));
            if own.is_file() {
                Some(own)
            } else {
                Some(dir.join(format!("{stem}.{ext}"))).filter(|p| p.is_file())
            }
        };
        let (Some(script), Some(expected)) = (pick("py"), pick("expected")) else {
            continue; // a helper module, not a workload
        };
        // A replaced workload needs its own expectation.
        if script.starts_with(&version_dir) && !expected.starts_with(&version_dir) {
            bail!(
                "{} replaces the workload for {minor} but has no {stem}.expected beside it; write one",
                script.display()
            );
        }
        cases.push(Case {
            name: stem,
            script,
            expected,
        });
    }
    if cases.is_empty() {
        bail!(
            "no workloads in {}: expected NAME.py with NAME.expected",
            dir.display()
        );
    }
    Ok(cases)
}

/// The stems of the files `*.EXT` of `dir`, none if `dir` does not exist.
fn files_with_extension(dir: &Path, ext: &str) -> anyhow::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut stems = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == ext) {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                stems.push(stem.to_string());
            }
        }
    }
    stems.sort();
    Ok(stems)
}

/// The basenames of the workload files, whose frames the comparison keeps:
/// every `.py` of `dir` (helpers included) and of the version directories
/// the workloads come from.
fn own_files(dir: &Path, cases: &[Case]) -> Vec<String> {
    let mut dirs: std::collections::BTreeSet<&Path> =
        cases.iter().filter_map(|c| c.script.parent()).collect();
    dirs.insert(dir);
    let mut files: Vec<String> = dirs
        .into_iter()
        .flat_map(|d| files_with_extension(d, "py").unwrap_or_default())
        .map(|stem| format!("{stem}.py"))
        .collect();
    files.sort();
    files.dedup();
    files
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

/// Runs `script` under the bpftrace script `bt` (see `attach`) and returns
/// what bpftrace printed, also kept in `target/fire/<build id>/<stem>.trace`.
fn bpftrace(build: &Build, bt: &Path, script: &Path) -> anyhow::Result<String> {
    let root = crate::project_root();
    let target = build.probe_target_in(&build.install_dir());
    let traces = root.join("target").join("fire").join(build.id());
    std::fs::create_dir_all(&traces)
        .with_context(|| format!("cannot create {}", traces.display()))?;
    let stem = script.file_stem().unwrap_or_default().to_string_lossy();
    let trace = traces.join(format!("{stem}.trace"));
    let _ = std::fs::remove_file(&trace);

    // Workloads of a version directory import helpers of tests/fire.
    let pythonpath = root.join("tests").join("fire").into_os_string();
    let workload = attach::Workload {
        main: attach::Main::Script(script),
        args: &[],
        cwd: script.parent().unwrap_or(Path::new(".")),
        env: &[("PYTHONPATH".into(), pythonpath)],
        show_output: false,
    };
    let printed = attach::trace(
        build,
        &[bt.as_os_str().to_owned(), target.into_os_string()],
        &workload,
        false,
    )?;
    std::fs::write(&trace, &printed)
        .with_context(|| format!("cannot write {}", trace.display()))?;
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

/// A parsed `.expected` file.
#[derive(Debug)]
struct Expectation {
    probes: Vec<String>,
    events: Vec<Vec<String>>,
    /// `# since: X.Y`: the first CPython version the workload applies to.
    since: Option<(u32, u32)>,
}

impl Expectation {
    fn parse(text: &str) -> anyhow::Result<Expectation> {
        let mut probes = None;
        let mut since = None;
        let mut events = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(list) = line.strip_prefix("# probes:") {
                probes = Some(list.split_whitespace().map(String::from).collect());
            } else if let Some(version) = line.strip_prefix("# since:") {
                let version = version.trim();
                let (x, y, _) = parse_version(version);
                if version.split('.').count() != 2 || (x, y) == (0, 0) {
                    bail!("line {}: `# since:` wants X.Y, e.g. 3.8: {line:?}", i + 1);
                }
                since = Some((x, y));
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
        Ok(Expectation {
            probes,
            since,
            events,
        })
    }
}

/// The fired events the expectation speaks of, normalised by the rules of
/// tests/fire/README.md (which check.py there implements too).
fn select(output: &str, probes: &[String], own_files: &[String]) -> Vec<Vec<String>> {
    let mut selected = Vec::new();
    // Basenames of the active frames, innermost last, over every file: a
    // collection or a C call belongs to the workload when its innermost
    // frame does.
    let mut frames: Vec<String> = Vec::new();
    let mut tokens: HashMap<String, usize> = HashMap::new();
    let mut threads = ThreadTokens::default();
    // (nsecs, thread, probe): summarised in time order after the loop.
    let mut gil_events: Vec<(u64, String, String)> = Vec::new();
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
            "gc__start" | "gc__done" | "cfunction__entry" | "cfunction__return" => {
                frames.last().is_some_and(|f| own_files.contains(f))
            }
            "import__find__load__start" | "import__find__load__done" => {
                fields[1].starts_with("fire_")
            }
            "audit" => fields[1].starts_with("cpython_dtrace."),
            "exception__raise" | "exception__handled" if fields.len() > 2 => {
                fields[2] = basename(&fields[2]).to_string();
                own_files.contains(&fields[2])
            }
            // Tokens are given only to listed events, so that unlisted
            // ones (the main thread's GIL events) do not shift them.
            "thread__start" | "thread__end" if fields.len() == 4 => {
                if probes.contains(&probe) {
                    let started = probe == "thread__start";
                    fields[1] = threads.ident(&fields[1], started);
                    fields[2] = threads.tid(&fields[2]);
                    fields[3] = threads.tid(&fields[3]);
                }
                true
            }
            "gil__acquire__start" | "gil__acquire__done" | "gil__release" if fields.len() == 3 => {
                let nsecs = fields[2].parse().unwrap_or(0);
                gil_events.push((nsecs, fields[1].clone(), probe.clone()));
                false // summarised below
            }
            _ if probe.starts_with("instance__") => {
                fields[1] = threads.in_name(&fields[1]);
                fields[1].starts_with("Fire")
            }
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
    if probes.iter().any(|p| p.starts_with("gil__")) {
        // bpftrace prints each CPU's buffer as it reads it: a thread that
        // moved to another CPU can have its events printed out of order.
        // Their timestamps (one monotonic clock) give the order back; the
        // sort is stable, for equal ones.
        gil_events.sort_by_key(|(nsecs, _, _)| *nsecs);
        let mut gil = GilSummary::default();
        for (nsecs, thread, probe) in &gil_events {
            gil.event(thread, probe, *nsecs);
        }
        selected.extend(gil.lines(&mut threads));
    }
    selected
}

/// Thread identities as tokens: each thread__start gives its ident a new
/// `T<n>` (idents are reused once a thread is joined); kernel thread ids
/// become `N<n>` at first sight.
#[derive(Default)]
struct ThreadTokens {
    idents: HashMap<String, String>,
    started: usize,
    tids: HashMap<String, String>,
}

impl ThreadTokens {
    fn ident(&mut self, value: &str, start: bool) -> String {
        if start {
            self.started += 1;
            let token = format!("T{}", self.started);
            self.idents.insert(value.to_string(), token.clone());
            token
        } else {
            self.idents.remove(value).unwrap_or_else(|| "T?".into())
        }
    }

    fn tid(&mut self, value: &str) -> String {
        let next = self.tids.len() + 1;
        self.tids
            .entry(value.to_string())
            .or_insert_with(|| format!("N{next}"))
            .clone()
    }

    /// `FireThread_<ident>_<native>` with the numbers of live threads
    /// replaced by their tokens.
    fn in_name(&self, name: &str) -> String {
        name.split('_')
            .map(|part| {
                self.idents
                    .get(part)
                    .or_else(|| self.tids.get(part))
                    .map_or(part, String::as_str)
            })
            .collect::<Vec<_>>()
            .join("_")
    }
}

/// The GIL events of each thread, reduced to what can be expected of them:
/// do they cycle acquire__start → acquire__done → release, and did the
/// thread wait for the GIL at least 1 ms in all.
#[derive(Default)]
struct GilSummary {
    threads: Vec<(String, GilThread)>,
}

#[derive(Default)]
struct GilThread {
    last: Option<String>,
    ordered: bool,
    wait_started: Option<u64>,
    waited_ns: u64,
}

impl GilSummary {
    /// One GIL event of the thread whose kernel id is `tid`.
    fn event(&mut self, tid: &str, probe: &str, nsecs: u64) {
        let index = match self.threads.iter().position(|(t, _)| t == tid) {
            Some(i) => i,
            None => {
                let state = GilThread {
                    ordered: true,
                    ..GilThread::default()
                };
                self.threads.push((tid.to_string(), state));
                self.threads.len() - 1
            }
        };
        let state = &mut self.threads[index].1;
        let expected = match state.last.as_deref() {
            None | Some("gil__release") => "gil__acquire__start",
            Some("gil__acquire__start") => "gil__acquire__done",
            Some(_) => "gil__release",
        };
        if probe != expected {
            state.ordered = false;
        }
        match probe {
            "gil__acquire__start" => state.wait_started = Some(nsecs),
            "gil__acquire__done" => {
                if let Some(start) = state.wait_started.take() {
                    state.waited_ns += nsecs.saturating_sub(start);
                }
            }
            _ => {}
        }
        state.last = Some(probe.to_string());
    }

    /// The summary lines, threads as their `N` tokens.
    fn lines(&self, tokens: &mut ThreadTokens) -> Vec<Vec<String>> {
        let line = |(tid, state): &(String, GilThread)| {
            vec![
                "gil".to_string(),
                tokens.tid(tid),
                if state.ordered {
                    "ordered"
                } else {
                    "disordered"
                }
                .to_string(),
                if state.waited_ns >= 1_000_000 {
                    "waited"
                } else {
                    "no-wait"
                }
                .to_string(),
            ]
        };
        self.threads.iter().map(line).collect()
    }
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
/// `dir/<X.Y>/workload.py` replaces `dir/workload.py` for CPython X.Y.
fn balance(build: &Build, dir: &Path) -> anyhow::Result<(u64, u64)> {
    let own = dir.join(build.minor_str()).join("workload.py");
    let script = if own.is_file() {
        own
    } else {
        dir.join("workload.py")
    };
    let output = bpftrace(build, &dir.join("count.bt"), &script)?;
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

    const THREADS_OUTPUT: &str = "gil__acquire__start\t100\t1000\n\
gil__acquire__done\t100\t1500\n\
thread__start\t777\t200\t200\n\
gil__acquire__start\t200\t2000\n\
gil__release\t100\t2100\n\
gil__acquire__done\t200\t5000000\n\
instance__new__start\tFireThread_777_200\t__main__\n\
gil__release\t200\t6000000\n\
gil__release\t200\t6000001\n\
thread__end\t777\t200\t200\n\
thread__start\t777\t300\t300\n\
thread__end\t777\t300\t300\n";

    fn thread_probes() -> Vec<String> {
        [
            "thread__start",
            "thread__end",
            "instance__new__start",
            "gil__acquire__start",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn threads_become_tokens_and_gil_events_a_summary_per_thread() {
        let got = select(THREADS_OUTPUT, &thread_probes(), &[]);
        let want = vec![
            ev("thread__start\tT1\tN1\tN1"),
            ev("instance__new__start\tFireThread_T1_N1\t__main__"),
            ev("thread__end\tT1\tN1\tN1"),
            // A reused ident is a new thread.
            ev("thread__start\tT2\tN2\tN2"),
            ev("thread__end\tT2\tN2\tN2"),
            // Summaries come last: the main thread, first seen here, is N3.
            ev("gil\tN3\tordered\tno-wait"),
            ev("gil\tN1\tdisordered\twaited"),
        ];
        assert_eq!(got, want);
        // Without the thread events listed, the GIL summary numbers the
        // threads in the order of their first GIL event.
        let gil_only = select(THREADS_OUTPUT, &["gil__release".to_string()], &[]);
        assert_eq!(
            gil_only,
            vec![
                ev("gil\tN1\tordered\tno-wait"),
                ev("gil\tN2\tdisordered\twaited")
            ]
        );
    }

    /// Thread 200's acquire__done printed before its acquire__start
    /// (another CPU's buffer read first): in time order it cycles properly.
    const MOVED_GIL_OUTPUT: &str = "gil__acquire__done\t200\t3000000\n\
gil__acquire__start\t100\t1000\n\
gil__acquire__start\t200\t1500\n\
gil__acquire__done\t100\t2000\n\
gil__release\t100\t2500\n\
gil__release\t200\t4000000\n";

    #[test]
    fn gil_events_are_summarised_in_the_order_of_their_timestamps() {
        let gil = ["gil__release".to_string()];
        assert_eq!(
            select(MOVED_GIL_OUTPUT, &gil, &[]),
            vec![
                ev("gil\tN1\tordered\tno-wait"),
                ev("gil\tN2\tordered\twaited")
            ]
        );
        // A release without an acquisition stays disordered in any order.
        let wrong = "gil__release\t100\t900\n\
gil__acquire__start\t100\t1000\n\
gil__acquire__done\t100\t2000\n";
        assert_eq!(
            select(wrong, &gil, &[]),
            vec![ev("gil\tN1\tdisordered\tno-wait")]
        );
    }

    const CALLS_OUTPUT: &str = "function__entry\t/x/w.py\tf\t1\n\
cfunction__entry\tbuiltins\tlen\n\
cfunction__return\tbuiltins\tlen\n\
exception__raise\tKeyError\t/x/w.py\tf\t3\n\
function__entry\t/lib/json.py\tloads\t9\n\
cfunction__entry\tbuiltins\tisinstance\n\
exception__raise\tValueError\t/lib/json.py\tloads\t12\n\
function__return\t/lib/json.py\tloads\t12\n\
exception__handled\tValueError\t/x/w.py\tf\t4\n";

    fn call_probes() -> Vec<String> {
        [
            "cfunction__entry",
            "cfunction__return",
            "exception__raise",
            "exception__handled",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn c_calls_and_exceptions_count_in_workload_code_only() {
        let got = select(CALLS_OUTPUT, &call_probes(), &["w.py".to_string()]);
        let want = vec![
            ev("cfunction__entry\tbuiltins\tlen"),
            ev("cfunction__return\tbuiltins\tlen"),
            ev("exception__raise\tKeyError\tw.py\tf\t3"),
            ev("exception__handled\tValueError\tw.py\tf\t4"),
        ];
        assert_eq!(got, want);
    }

    /// tests/fire/check.py (the reference the D runner uses) normalises
    /// like `select`.
    #[test]
    fn check_py_normalises_like_select() {
        let has_python = Command::new("python3")
            .arg("-c")
            .arg("pass")
            .status()
            .is_ok_and(|s| s.success());
        if !has_python {
            assert!(std::env::var_os("CI").is_none(), "CI needs python3");
            return;
        }
        let check_py = crate::project_root().join("tests/fire/check.py");
        let dir = scratch("check-py");
        std::fs::write(dir.join("w.py"), "pass\n").expect("write");
        let cases = [
            (OUTPUT, all_probes()),
            (THREADS_OUTPUT, thread_probes()),
            (CALLS_OUTPUT, call_probes()),
            (MOVED_GIL_OUTPUT, vec!["gil__release".to_string()]),
        ];
        for (i, (output, probes)) in cases.iter().enumerate() {
            let expected = dir.join(format!("case{i}.expected"));
            let trace = dir.join(format!("case{i}.trace"));
            std::fs::write(&expected, format!("# probes: {}\n", probes.join(" "))).expect("write");
            std::fs::write(&trace, output).expect("write");
            let out = Command::new("python3")
                .arg(&check_py)
                .arg("--normalize")
                .args([&expected, &trace])
                .output()
                .expect("run check.py");
            assert!(out.status.success(), "{out:?}");
            let from_py: Vec<Vec<String>> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(ev)
                .collect();
            let mut files = files_with_extension(&dir, "py").expect("list");
            files.iter_mut().for_each(|f| f.push_str(".py"));
            assert_eq!(from_py, select(output, probes, &files), "case {i}");
        }
        let _ = std::fs::remove_dir_all(&dir);
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

    #[test]
    fn since_is_read_and_must_be_a_minor_version() {
        let e = Expectation::parse("# probes: audit\n# since: 3.8\n").expect("parses");
        assert_eq!(e.since, Some((3, 8)));
        assert!(Expectation::parse("# probes: audit\n# since: 3.8.1\n").is_err());
        assert!(Expectation::parse("# probes: audit\n# since: soon\n").is_err());
    }

    /// A fresh directory under the system temp dir, removed by the caller.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-fire-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("2.7")).expect("create scratch dir");
        dir
    }

    fn touch(path: PathBuf) {
        std::fs::write(path, "# probes: line\n").expect("write");
    }

    #[test]
    fn a_version_directory_replaces_expectations_and_workloads() {
        let dir = scratch("versions");
        for f in ["a.py", "a.expected", "b.py", "b.expected", "helper.py"] {
            touch(dir.join(f));
        }
        touch(dir.join("2.7").join("a.expected"));
        touch(dir.join("2.7").join("b.py"));
        touch(dir.join("2.7").join("b.expected"));
        touch(dir.join("2.7").join("c.py"));
        touch(dir.join("2.7").join("c.expected"));

        let on_313 = workloads(&dir, "3.13").expect("3.13 workloads");
        let names: Vec<&str> = on_313.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"], "helper.py has no expectation");
        assert!(on_313
            .iter()
            .all(|c| c.script.parent() == Some(dir.as_path())));

        let on_27 = workloads(&dir, "2.7").expect("2.7 workloads");
        let picked: Vec<(String, String)> = on_27
            .iter()
            .map(|c| {
                let rel = |p: &Path| p.strip_prefix(&dir).map(|r| r.display().to_string());
                (
                    rel(&c.script).unwrap_or_default(),
                    rel(&c.expected).unwrap_or_default(),
                )
            })
            .collect();
        let want = [
            ("a.py", "2.7/a.expected"),
            ("2.7/b.py", "2.7/b.expected"),
            ("2.7/c.py", "2.7/c.expected"),
        ];
        assert_eq!(
            picked,
            want.map(|(s, e)| (s.to_string(), e.to_string())).to_vec()
        );
        let files = own_files(&dir, &on_27);
        assert!(files.contains(&"c.py".to_string()) && files.contains(&"helper.py".to_string()));

        // A replaced workload without its own expectation is an error.
        std::fs::remove_file(dir.join("2.7").join("b.expected")).expect("remove");
        let err = workloads(&dir, "2.7").expect_err("b.py has no expectation");
        assert!(
            format!("{err:#}").contains("no b.expected beside it"),
            "{err:#}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn blocks_of_absent_probes_are_dropped_whole() {
        let script = "BEGIN\n{\n\tprintf(\"ready\\n\");\n}\n\n\
usdt:$1:python:line\n{\n\tprintf(\"line\\n\");\n}\n\n\
usdt:$1:python:gc__start\n{\n\tprintf(\"gc\\n\");\n}\n\
usdt:$1:python:line\n{\n\t@seen = count();\n}\n\
END\n{\n\tclear(@seen);\n}\n";
        let present: BTreeSet<&str> = ["gc__start"].into_iter().collect();
        let (kept, dropped) = without_absent_probes(script, &present);
        assert_eq!(dropped, ["line", "line"]);
        assert!(!kept.contains("clear(@seen)"), "{kept}");
        assert!(kept.contains("usdt:$1:python:gc__start") && kept.contains("ready"));
        assert!(!kept.contains("line"), "{kept}");
        assert_eq!(kept.matches('{').count(), kept.matches('}').count());
    }
}
