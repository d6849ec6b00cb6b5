//! `cargo xtask bench`: what do the probes cost?
//!
//! Three interpreters of one release, built with the same flags, are
//! compared: plain (no DTrace: the baseline, what users run otherwise),
//! stock (upstream with `--with-dtrace`) and patched (ours).
//!
//! 1. Instructions: `valgrind --tool=callgrind` counts the instructions of
//!    `tests/bench/calls.py` and `tests/bench/alloc.py`, less those of
//!    `tests/bench/empty.py` (start-up and shutdown). Deterministic: the
//!    main figure.
//! 2. Wall time with the probes disabled: `tests/bench/suite.py` times its
//!    benchmarks in-process; the interpreters take turns run by run.
//! 3. Enabled cost: the time per `function__entry` firing with bpftrace
//!    counting them, next to counting the same calls with `sys.setprofile`
//!    and `sys.monitoring` (`tests/bench/enabled.py`).
//!
//! The results go to `<out>/BENCHMARKS.md` and `<out>/bench.json`, and the
//! Markdown is printed on stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use crate::layout::{Build, Patch, Selection};
use crate::logged::Clock;

#[derive(clap::Args)]
pub struct Args {
    /// The CPython release, e.g. 3.13.15 [default: the newest in versions.toml]
    #[arg(long = "python", value_name = "X.Y.Z")]
    python: Option<String>,
    /// Fewer runs and smaller workloads: checks the output, not the numbers
    #[arg(long)]
    quick: bool,
    /// Where BENCHMARKS.md and bench.json go [default: target/bench]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Parallel jobs for make when an interpreter must be built first
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
}

/// How much work each measurement does.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// The argument of calls.py and alloc.py (thousands of iterations).
    scale: u32,
    /// Interleaved runs of suite.py per interpreter.
    wall_runs: usize,
    /// Repetitions of each benchmark inside one run (the median is kept).
    wall_inner: u32,
    /// Function calls in enabled.py's timed region.
    enabled_calls: u64,
    /// Runs of each enabled.py mode (the median is kept).
    enabled_runs: usize,
}

const FULL: Sizes = Sizes {
    scale: 40,
    wall_runs: 15,
    wall_inner: 7,
    enabled_calls: 2_000_000,
    enabled_runs: 5,
};

const QUICK: Sizes = Sizes {
    scale: 2,
    wall_runs: 2,
    wall_inner: 1,
    enabled_calls: 100_000,
    enabled_runs: 1,
};

/// The three interpreters, in table order.
const KINDS: [(Patch, &str); 3] = [
    (Patch::Plain, "plain"),
    (Patch::Stock, "stock"),
    (Patch::Patched, "patched"),
];

struct Interp {
    label: &'static str,
    build: Build,
    python: PathBuf,
    info: Value,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::project_root();
    let clock = Clock::start();
    let sizes = if args.quick { QUICK } else { FULL };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target").join("bench"));
    let scripts = root.join("tests").join("bench");

    // Everything the measurements need, before spending minutes on builds.
    let valgrind = tool_version("valgrind", "--version").context(
        "valgrind is not installed; run `ci/install-deps.sh` (Debian: apt-get install valgrind)",
    )?;
    crate::fire::tracer_ready()?;
    let bpftrace = tool_version("bpftrace", "--version").unwrap_or_default();

    let mut interps = Vec::new();
    for (patch, label) in KINDS {
        let sel = Selection {
            python: args.python.clone(),
            stock: patch == Patch::Stock,
            plain: patch == Patch::Plain,
            ..Selection::default()
        };
        let build = sel.resolve(&root)?;
        ensure_built(&build, args.jobs, &clock)?;
        let python = build.python_path();
        let info = interpreter_info(&python)?;
        interps.push(Interp {
            label,
            build,
            python,
            info,
        });
    }
    let version = interps[0].build.release.version.clone();
    clock.say(format_args!(
        "bench: CPython {version}: {}",
        interps
            .iter()
            .map(|i| i.build.id())
            .collect::<Vec<_>>()
            .join(", ")
    ));

    let instructions = instructions(&interps, &scripts, sizes, &clock)?;
    let wall = wall(&interps, &scripts, sizes, &clock)?;
    let patched = &interps[2];
    let enabled = enabled(patched, &scripts, sizes, &clock)?;

    let report = json!({
        "schema": 1,
        "python": version,
        "quick": args.quick,
        "date": command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
        "machine": machine(&valgrind, &bpftrace),
        "interpreters": interps
            .iter()
            .map(|i| {
                (
                    i.label.to_string(),
                    json!({
                        "id": i.build.id(),
                        "python": i.python.display().to_string(),
                        "info": i.info,
                    }),
                )
            })
            .collect::<serde_json::Map<_, _>>(),
        "sizes": {
            "scale": sizes.scale,
            "wall_runs": sizes.wall_runs,
            "wall_inner": sizes.wall_inner,
            "enabled_calls": sizes.enabled_calls,
            "enabled_runs": sizes.enabled_runs,
        },
        "instructions": instructions,
        "wall": wall,
        "enabled": enabled,
    });
    let markdown = markdown(&report);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let md_path = out.join("BENCHMARKS.md");
    let json_path = out.join("bench.json");
    std::fs::write(&md_path, &markdown)
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    print!("{markdown}");
    clock.say(format_args!(
        "bench: done in {}; wrote {} and {}",
        crate::logged::duration(clock.elapsed()),
        md_path.display(),
        json_path.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Builds the interpreter unless it is up to date, by running this program's
/// own `build` task (a no-op taking well under a second when nothing changed).
/// Its stdout (the "python: …" lines) goes to our stderr, keeping stdout for
/// the tables.
fn ensure_built(build: &Build, jobs: Option<u32>, clock: &Clock) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the xtask executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("build");
    cmd.args(build.flags().split_whitespace());
    if let Some(jobs) = jobs {
        cmd.arg("--jobs").arg(jobs.to_string());
    }
    if !build.is_complete() {
        clock.say(format_args!(
            "bench: building {} first (several minutes)",
            build.id()
        ));
    }
    let output = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run `cargo xtask build`")?;
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    if !output.status.success() || !build.is_complete() {
        bail!(
            "`cargo xtask build{}` failed ({}); see above",
            build.flags(),
            output.status
        );
    }
    Ok(())
}

/// A command for the interpreter with a fixed environment: no user
/// variables, and a fixed hash seed so instruction counts repeat exactly.
fn python_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PYTHONHASHSEED", "0")
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd`, failing with its stderr when it fails; returns stdout.
fn stdout_of(mut cmd: Command, what: &str) -> anyhow::Result<String> {
    let output = cmd
        .output()
        .with_context(|| format!("{what}: cannot run {:?}", cmd.get_program()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        bail!(
            "{what} failed ({}):\n{}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// sys.version, the compiler and configure's arguments of an interpreter.
fn interpreter_info(python: &Path) -> anyhow::Result<Value> {
    let mut cmd = python_command(python);
    cmd.args([
        "-B",
        "-c",
        "import json, sys, sysconfig; v = sysconfig.get_config_var\n\
         print(json.dumps({'version': sys.version, 'cc': v('CC'), 'cflags': v('OPT'), \
         'config_args': v('CONFIG_ARGS')}))",
    ]);
    let text = stdout_of(cmd, &format!("{} -c 'import sys'", python.display()))?;
    serde_json::from_str(text.trim()).context("the interpreter printed no JSON")
}

fn tool_version(tool: &str, flag: &str) -> Option<String> {
    command_line(tool, &[flag])
}

/// The first line a command prints, if it runs and succeeds.
fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.lines().next().unwrap_or_default().trim().to_string())
}

fn machine(valgrind: &str, bpftrace: &str) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    json!({
        "cpu": cpu,
        "cores": cores,
        "os": os,
        "kernel": kernel,
        "arch": std::env::consts::ARCH,
        "valgrind": valgrind,
        "bpftrace": bpftrace,
    })
}

// ---- 1. instructions ----------------------------------------------------

/// One script counted by callgrind: `python -B tests/bench/<script>.py <args>`.
struct Counted {
    name: &'static str,
    script: &'static str,
    args: Vec<String>,
    /// Python function calls the script makes, when known exactly.
    calls: Option<u64>,
    /// The name of the entry whose count is subtracted.
    baseline: &'static str,
    /// Only a baseline for another entry: not reported on its own.
    hidden: bool,
}

impl Counted {
    fn command_line(&self) -> String {
        let mut line = format!("tests/bench/{}.py", self.script);
        for arg in &self.args {
            line.push(' ');
            line.push_str(arg);
        }
        line
    }
}

/// The empty script first (its count is the start-up reported), then the
/// workloads and the baselines they name.
fn counted(sizes: Sizes) -> Vec<Counted> {
    let scale = sizes.scale.to_string();
    let leaf_calls = sizes.enabled_calls / 10;
    vec![
        Counted {
            name: "start-up",
            script: "empty",
            args: vec![],
            calls: None,
            baseline: "start-up",
            hidden: true,
        },
        Counted {
            name: "calls",
            script: "calls",
            args: vec![scale.clone()],
            calls: None,
            baseline: "start-up",
            hidden: false,
        },
        Counted {
            name: "alloc",
            script: "alloc",
            args: vec![scale],
            calls: None,
            baseline: "start-up",
            hidden: false,
        },
        Counted {
            name: "leaf_calls",
            script: "enabled",
            args: vec!["none".into(), leaf_calls.to_string()],
            calls: Some(leaf_calls),
            // The same script making no calls: what is left is the calls.
            baseline: "leaf_calls_0",
            hidden: false,
        },
        Counted {
            name: "leaf_calls_0",
            script: "enabled",
            args: vec!["none".into(), "0".into()],
            calls: None,
            baseline: "start-up",
            hidden: true,
        },
    ]
}

/// Instructions callgrind counted for `python -B script args…`.
fn callgrind(python: &Path, script: &Path, args: &[String]) -> anyhow::Result<u64> {
    let mut cmd = python_command("valgrind");
    cmd.args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(python)
        .arg("-B")
        .arg(script)
        .args(args);
    let output = cmd
        .stdout(Stdio::null())
        .output()
        .context("cannot run valgrind")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "valgrind on {} {} failed ({}):\n{}",
            python.display(),
            script.display(),
            output.status,
            crate::logged::truncate(&stderr, 2000)
        );
    }
    parse_collected(&stderr).with_context(|| {
        format!(
            "no `Collected :` line in callgrind's output for {}",
            script.display()
        )
    })
}

/// `==123== Collected : 72086507` → 72086507.
fn parse_collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|line| {
        let rest = line.split("Collected :").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

fn instructions(
    interps: &[Interp],
    scripts: &Path,
    sizes: Sizes,
    clock: &Clock,
) -> anyhow::Result<Value> {
    let counted = counted(sizes);
    // Every (interpreter, script) pair, run as many at a time as there are
    // cores: the counts do not depend on the load.
    let mut jobs = Vec::new();
    for i in 0..interps.len() {
        for c in 0..counted.len() {
            jobs.push((i, c));
        }
    }
    clock.say(format_args!(
        "bench: counting instructions with callgrind ({} runs)",
        jobs.len()
    ));
    let results: Mutex<BTreeMap<(usize, usize), u64>> = Mutex::new(BTreeMap::new());
    let queue = Mutex::new(jobs.into_iter());
    let errors: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let job = queue.lock().expect("queue").next();
                let Some((i, c)) = job else { break };
                let script = scripts.join(format!("{}.py", counted[c].script));
                match callgrind(&interps[i].python, &script, &counted[c].args) {
                    Ok(n) => {
                        results.lock().expect("results").insert((i, c), n);
                    }
                    Err(e) => errors.lock().expect("errors").push(e),
                }
            });
        }
    });
    if let Some(err) = errors.into_inner().expect("errors").into_iter().next() {
        return Err(err);
    }
    let results = results.into_inner().expect("results");
    let count = |i: usize, c: usize| results.get(&(i, c)).copied().unwrap_or(0);

    let mut startup = serde_json::Map::new();
    for (i, interp) in interps.iter().enumerate() {
        startup.insert(interp.label.into(), json!(count(i, 0)));
    }
    let startup_ratios = ratios(interps, |i| count(i, 0) as f64);
    let mut workloads = Vec::new();
    for (c, w) in counted.iter().enumerate() {
        if w.hidden {
            continue;
        }
        let name = w.name;
        let b = counted
            .iter()
            .position(|c| c.name == w.baseline)
            .context("a baseline names no counted script")?;
        let base = &counted[b];
        let mut total = serde_json::Map::new();
        let mut workload = serde_json::Map::new();
        let net = |i: usize| count(i, c).saturating_sub(count(i, b));
        for (i, interp) in interps.iter().enumerate() {
            total.insert(interp.label.into(), json!(count(i, c)));
            workload.insert(interp.label.into(), json!(net(i)));
            if net(i) == 0 {
                bail!(
                    "{} counted no more instructions than {} on {}",
                    w.command_line(),
                    base.command_line(),
                    interp.build.id()
                );
            }
        }
        let r = ratios(interps, |i| net(i) as f64);
        clock.say(format_args!(
            "bench: {name}: {} instructions on plain; stock/plain {:.4}, patched/plain {:.4}",
            net(0),
            r["stock"].as_f64().unwrap_or(f64::NAN),
            r["patched"].as_f64().unwrap_or(f64::NAN)
        ));
        let mut entry = json!({
            "name": name,
            "command": w.command_line(),
            "baseline": base.command_line(),
            "total": total,
            "workload": workload,
            "ratio": r,
        });
        if let Some(calls) = w.calls {
            // Instructions per call more (or fewer) than plain.
            let mut per_call = serde_json::Map::new();
            for (i, interp) in interps.iter().enumerate().skip(1) {
                let extra = (net(i) as f64 - net(0) as f64) / calls as f64;
                per_call.insert(interp.label.into(), json!(extra));
            }
            entry["calls"] = json!(calls);
            entry["extra_per_call"] = Value::Object(per_call);
        }
        workloads.push(entry);
    }
    Ok(json!({
        "tool": "valgrind --tool=callgrind (Ir)",
        "scale": sizes.scale,
        "startup": startup,
        "startup_ratio": startup_ratios,
        "workloads": workloads,
    }))
}

/// `{"stock": x/plain, "patched": x/plain}` for a per-interpreter figure.
fn ratios(interps: &[Interp], figure: impl Fn(usize) -> f64) -> Value {
    let base = figure(0);
    let mut map = serde_json::Map::new();
    for (i, interp) in interps.iter().enumerate().skip(1) {
        map.insert(interp.label.into(), json!(figure(i) / base));
    }
    Value::Object(map)
}

// ---- 2. wall time -------------------------------------------------------

fn wall(interps: &[Interp], scripts: &Path, sizes: Sizes, clock: &Clock) -> anyhow::Result<Value> {
    let suite = scripts.join("suite.py");
    // times[interp][run] = {benchmark: seconds}
    let mut times: Vec<Vec<BTreeMap<String, f64>>> = vec![Vec::new(); interps.len()];
    let mut names: Vec<String> = Vec::new();
    clock.say(format_args!(
        "bench: wall time: {} interleaved runs of tests/bench/suite.py ({} repetitions each)",
        sizes.wall_runs, sizes.wall_inner
    ));
    for run in 0..sizes.wall_runs {
        // Rotate who goes first, so no interpreter always follows another.
        for k in 0..interps.len() {
            let i = (run + k) % interps.len();
            let mut cmd = python_command(&interps[i].python);
            cmd.arg("-B")
                .arg(&suite)
                .arg(sizes.wall_inner.to_string())
                .current_dir(scripts);
            let text = stdout_of(cmd, &format!("suite.py on {}", interps[i].build.id()))?;
            let line = text.lines().last().unwrap_or_default();
            let parsed: serde_json::Map<String, Value> = serde_json::from_str(line)
                .with_context(|| format!("suite.py printed no JSON object: {line:?}"))?;
            if names.is_empty() {
                names = parsed.keys().cloned().collect();
                // Keep suite.py's order (serde_json sorts keys): by position.
                let order: Vec<String> = line
                    .split('"')
                    .skip(1)
                    .step_by(2)
                    .map(String::from)
                    .filter(|k| parsed.contains_key(k))
                    .collect();
                if order.len() == names.len() {
                    names = order;
                }
            }
            let run_times = parsed
                .into_iter()
                .map(|(k, v)| (k, v.as_f64().unwrap_or(f64::NAN)))
                .collect();
            times[i].push(run_times);
        }
        clock.say(format_args!(
            "bench: wall run {}/{}",
            run + 1,
            sizes.wall_runs
        ));
    }

    let mut benchmarks = Vec::new();
    let mut log_sums = vec![0.0; interps.len()];
    for name in &names {
        let mut median_s = serde_json::Map::new();
        let mut ratio = serde_json::Map::new();
        for (i, interp) in interps.iter().enumerate() {
            let secs: Vec<f64> = times[i]
                .iter()
                .map(|r| r.get(name).copied().unwrap_or(f64::NAN))
                .collect();
            median_s.insert(interp.label.into(), json!(median(&secs)));
            if i == 0 {
                continue;
            }
            let per_run: Vec<f64> = times[i]
                .iter()
                .zip(&times[0])
                .map(|(r, base)| {
                    r.get(name).copied().unwrap_or(f64::NAN)
                        / base.get(name).copied().unwrap_or(f64::NAN)
                })
                .collect();
            let m = median(&per_run);
            log_sums[i] += m.ln();
            let min = per_run.iter().copied().fold(f64::INFINITY, f64::min);
            let max = per_run.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            ratio.insert(
                interp.label.into(),
                json!({ "median": m, "min": min, "max": max }),
            );
        }
        benchmarks.push(json!({ "name": name, "median_s": median_s, "ratio": ratio }));
    }
    let mut geomean = serde_json::Map::new();
    for (i, interp) in interps.iter().enumerate().skip(1) {
        geomean.insert(
            interp.label.into(),
            json!((log_sums[i] / names.len().max(1) as f64).exp()),
        );
    }
    Ok(json!({
        "script": "tests/bench/suite.py",
        "runs": sizes.wall_runs,
        "inner": sizes.wall_inner,
        "benchmarks": benchmarks,
        "geomean": geomean,
    }))
}

/// The median (the mean of the middle two for an even count); NaN if empty.
fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

// ---- 3. enabled cost ----------------------------------------------------

/// One run of enabled.py: (seconds, entries counted by the means itself).
fn enabled_run(
    interp: &Interp,
    script: &Path,
    mode: &str,
    calls: u64,
) -> anyhow::Result<(f64, u64)> {
    let mut cmd = python_command(&interp.python);
    cmd.arg("-B").arg(script).arg(mode).arg(calls.to_string());
    let text = stdout_of(cmd, &format!("enabled.py {mode}"))?;
    let v = last_json(&text).with_context(|| format!("enabled.py printed no JSON: {text:?}"))?;
    Ok((
        v["seconds"].as_f64().unwrap_or(f64::NAN),
        v["counted"].as_u64().unwrap_or(0),
    ))
}

/// enabled.py under `bpftrace -c`, counting function__entry: (seconds, firings).
fn bpftrace_run(interp: &Interp, script: &Path, calls: u64) -> anyhow::Result<(f64, u64)> {
    let python = interp.python.display().to_string();
    let script_text = script.display().to_string();
    // bpftrace splits -c on spaces and knows no quotes.
    if python.contains(' ') || script_text.contains(' ') {
        bail!(
            "bpftrace -c cannot run paths with spaces: {python} {script_text}; move the checkout"
        );
    }
    let target = interp
        .build
        .probe_target_in(&interp.build.install_dir())
        .display()
        .to_string();
    let program = format!("usdt:{target}:python:function__entry {{ @ = count(); }}");
    let mut cmd = python_command("bpftrace");
    cmd.arg("-e")
        .arg(program)
        .arg("-c")
        .arg(format!("{python} -B {script_text} none {calls}"));
    let text = stdout_of(cmd, "bpftrace on enabled.py")?;
    let v = last_json(&text)
        .with_context(|| format!("enabled.py under bpftrace printed no JSON: {text:?}"))?;
    let firings = text
        .lines()
        .find_map(|l| l.strip_prefix("@: "))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("bpftrace printed no `@: N` count: {text:?}"))?;
    Ok((v["seconds"].as_f64().unwrap_or(f64::NAN), firings))
}

fn last_json(text: &str) -> Option<Value> {
    text.lines()
        .rev()
        .filter(|l| l.starts_with('{'))
        .find_map(|l| serde_json::from_str(l).ok())
}

fn enabled(interp: &Interp, scripts: &Path, sizes: Sizes, clock: &Clock) -> anyhow::Result<Value> {
    let script = scripts.join("enabled.py");
    let calls = sizes.enabled_calls;
    clock.say(format_args!(
        "bench: enabled cost on {}: {calls} calls counted by bpftrace, sys.setprofile, sys.monitoring",
        interp.build.id()
    ));
    let modes = ["none", "bpftrace", "setprofile", "monitoring"];
    let mut secs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut counted: BTreeMap<&str, u64> = BTreeMap::new();
    for _ in 0..sizes.enabled_runs {
        for mode in modes {
            let (s, n) = match mode {
                "bpftrace" => bpftrace_run(interp, &script, calls)?,
                _ => enabled_run(interp, &script, mode, calls)?,
            };
            secs.entry(mode).or_default().push(s);
            counted.insert(mode, n);
        }
    }
    let base = median(&secs["none"]);
    let mut methods = Vec::new();
    for (mode, name) in [
        ("bpftrace", "bpftrace usdt function__entry, count()"),
        ("setprofile", "sys.setprofile (count 'call' events)"),
        ("monitoring", "sys.monitoring PY_START callback"),
    ] {
        let traced = median(&secs[mode]);
        let ns = (traced - base) / calls as f64 * 1e9;
        if mode != "bpftrace" && counted[mode] != calls {
            bail!("{name} counted {} entries, expected {calls}", counted[mode]);
        }
        if mode == "bpftrace" && counted[mode] < calls {
            bail!(
                "bpftrace counted {} function__entry firings, fewer than the {calls} calls made; \
                 are the probes working? (try `cargo xtask fire`)",
                counted[mode]
            );
        }
        methods.push(json!({
            "mode": mode,
            "name": name,
            "seconds": traced,
            "counted": counted[mode],
            "ns_per_event": ns,
            "slowdown": traced / base,
        }));
    }
    Ok(json!({
        "interpreter": interp.label,
        "script": "tests/bench/enabled.py",
        "calls": calls,
        "runs": sizes.enabled_runs,
        "untraced_seconds": base,
        "methods": methods,
    }))
}

// ---- report ---------------------------------------------------------------

/// `1.0123 (+1.2%)`.
fn ratio_cell(r: f64) -> String {
    format!("{r:.4} ({:+.1}%)", (r - 1.0) * 100.0)
}

/// `123,456,789`.
fn thousands(n: u64) -> String {
    let digits: Vec<char> = n.to_string().chars().collect();
    let groups: Vec<String> = digits
        .rchunks(3)
        .rev()
        .map(|g| g.iter().collect())
        .collect();
    groups.join(",")
}

fn markdown(r: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let mut md = String::new();
    let m = &r["machine"];
    let _ = writeln!(
        md,
        "# cpython-dtrace benchmarks: CPython {}\n",
        s(&r["python"])
    );
    let _ = writeln!(
        md,
        "{}; {} cores ({}), {}, Linux {}; {}; {}.{}\n",
        s(&r["date"]),
        m["cores"],
        s(&m["cpu"]),
        s(&m["os"]),
        s(&m["kernel"]),
        s(&m["valgrind"]),
        s(&m["bpftrace"]),
        if r["quick"].as_bool() == Some(true) {
            " **--quick run: too little work for the numbers to mean much.**"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "Interpreters (ratios are against plain, the baseline):\n"
    );
    for label in ["plain", "stock", "patched"] {
        let i = &r["interpreters"][label];
        let _ = writeln!(
            md,
            "- {label}: `{}` ({})",
            s(&i["id"]),
            s(&i["info"]["version"]).replace('\n', " ")
        );
    }

    let ins = &r["instructions"];
    let _ = writeln!(
        md,
        "\n## Instructions (callgrind, start-up subtracted)\n\n\
         Instructions executed by the workload, less those of its baseline (the \
         empty script: start-up and shutdown), scale {}. Deterministic: the \
         reliable figure.\n",
        ins["scale"]
    );
    let _ = writeln!(
        md,
        "| workload | plain | stock | patched | stock/plain | patched/plain |\n\
         |---|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        md,
        "| start-up (empty.py, not subtracted) | {} | {} | {} | {} | {} |",
        thousands(u(&ins["startup"]["plain"])),
        thousands(u(&ins["startup"]["stock"])),
        thousands(u(&ins["startup"]["patched"])),
        ratio_cell(f(&ins["startup_ratio"]["stock"])),
        ratio_cell(f(&ins["startup_ratio"]["patched"])),
    );
    for w in ins["workloads"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {} (`{}` − `{}`) | {} | {} | {} | {} | {} |",
            s(&w["name"]),
            s(&w["command"]),
            s(&w["baseline"]).trim_start_matches("tests/bench/"),
            thousands(u(&w["workload"]["plain"])),
            thousands(u(&w["workload"]["stock"])),
            thousands(u(&w["workload"]["patched"])),
            ratio_cell(f(&w["ratio"]["stock"])),
            ratio_cell(f(&w["ratio"]["patched"])),
        );
    }
    for w in ins["workloads"].as_array().into_iter().flatten() {
        if let Some(calls) = w["calls"].as_u64() {
            let _ = writeln!(
                md,
                "\n{}: {} calls of a one-line function; per call, stock executes \
                 {:+.2} and patched {:+.2} instructions compared with plain.",
                s(&w["name"]),
                thousands(calls),
                f(&w["extra_per_call"]["stock"]),
                f(&w["extra_per_call"]["patched"]),
            );
        }
    }

    let wall = &r["wall"];
    let _ = writeln!(
        md,
        "\n## Wall time, probes disabled\n\n\
         `tests/bench/suite.py`: each benchmark timed in-process, median of {} \
         repetitions; {} runs, the interpreters taking turns run by run. Ratio: \
         median of the per-run ratios, with their min–max. Noisy on a shared machine.\n",
        wall["inner"], wall["runs"]
    );
    let _ = writeln!(
        md,
        "| benchmark | plain (ms) | stock/plain | patched/plain | patched/plain min–max |\n\
         |---|---:|---:|---:|---:|"
    );
    for b in wall["benchmarks"].as_array().into_iter().flatten() {
        let p = &b["ratio"]["patched"];
        let _ = writeln!(
            md,
            "| {} | {:.2} | {} | {} | {:.3}–{:.3} |",
            s(&b["name"]),
            f(&b["median_s"]["plain"]) * 1e3,
            ratio_cell(f(&b["ratio"]["stock"]["median"])),
            ratio_cell(f(&p["median"])),
            f(&p["min"]),
            f(&p["max"]),
        );
    }
    let _ = writeln!(
        md,
        "| **geometric mean** | | {} | {} | |",
        ratio_cell(f(&wall["geomean"]["stock"])),
        ratio_cell(f(&wall["geomean"]["patched"])),
    );

    let en = &r["enabled"];
    let calls = u(&en["calls"]);
    let base = f(&en["untraced_seconds"]);
    let _ = writeln!(
        md,
        "\n## Enabled cost: counting every function entry ({})\n\n\
         `tests/bench/enabled.py`: {} calls of a one-line Python function, timed \
         in-process, median of {} runs. Per event = (traced − untraced) / calls.\n",
        s(&en["interpreter"]),
        thousands(calls),
        en["runs"]
    );
    let _ = writeln!(
        md,
        "| method | time (ms) | slowdown | entries counted | per event (ns) |\n\
         |---|---:|---:|---:|---:|\n\
         | untraced | {:.1} | 1.00× | – | – |",
        base * 1e3
    );
    for m in en["methods"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.2}× | {} | {:.0} |",
            s(&m["name"]),
            f(&m["seconds"]) * 1e3,
            f(&m["slowdown"]),
            thousands(u(&m["counted"])),
            f(&m["ns_per_event"]),
        );
    }
    let _ = writeln!(
        md,
        "\n(bpftrace counts every firing in the process, start-up included, \
         so its count exceeds the calls made. Only the patched build is traced: \
         upstream has had no function__entry probe since 3.12.)"
    );
    md
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callgrind_summary_is_parsed() {
        let stderr = "==1== Events    : Ir\n==1== Collected : 72086507\n==1== \n\
                      ==1== I   refs:      72,086,507\n";
        assert_eq!(parse_collected(stderr), Some(72086507));
        assert_eq!(parse_collected("nothing here"), None);
    }

    #[test]
    fn medians_and_cells() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(ratio_cell(1.0123), "1.0123 (+1.2%)");
        assert_eq!(ratio_cell(0.99), "0.9900 (-1.0%)");
        assert_eq!(thousands(72086507), "72,086,507");
        assert_eq!(thousands(999), "999");
    }
}
