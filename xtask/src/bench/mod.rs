//! `cargo xtask bench`: what do the probes cost?
//!
//! Three interpreters of one release, built with the same flags, are
//! compared: plain (no DTrace: the baseline, what users run otherwise),
//! stock (upstream with `--with-dtrace`) and patched (ours).
//!
//! 1. Instructions ([`instructions`]): `valgrind --tool=callgrind` counts
//!    the instructions of `tests/bench/calls.py`, `alloc.py` and
//!    `enabled.py`, less those of a baseline script; `callgrind_annotate`
//!    then says which functions the differences are in. Deterministic: the
//!    main figure.
//! 2. Wall time with the probes disabled ([`wall`]): pyperformance's
//!    benchmarks run by pyperf (fetched from PyPI, pinned in
//!    `tests/bench/pypi.lock`, see [`pypi`]) on 3.9 and later, or our own
//!    `tests/bench/suite.py` (2.7, or `--suite own`); the interpreters take
//!    turns, run after run.
//! 3. Enabled cost ([`enabled`]): the time per `function__entry` and per
//!    `instance__new__done` firing with bpftrace counting them, next to
//!    `sys.setprofile` and `sys.monitoring` counting the same in-process.
//!
//! The results go to `<out>/BENCHMARKS.md` and `<out>/bench.json`
//! ([`report`]), and the Markdown is printed on stdout.
//!
//! Scripts: `tests/bench/<X.Y>/NAME.py` replaces `tests/bench/NAME.py` for
//! CPython X.Y (2.7 has its own `calls.py` and `alloc.py`).

mod enabled;
mod instructions;
mod pypi;
mod report;
mod wall;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use crate::layout::{Build, Patch, Selection};
use crate::logged::Clock;

#[derive(clap::Args)]
pub struct Args {
    /// The CPython release, e.g. 3.13.15 [default: the newest in versions.toml]
    #[arg(long = "python", value_name = "X.Y.Z")]
    python: Option<String>,
    /// Which build of each of the three: static (the default), shared
    /// (--enable-shared), ft (free-threaded, 3.13+) or shared-ft
    #[arg(long, value_enum, default_value = "static")]
    variant: VariantArg,
    /// The wall-time suite [default: pyperformance on 3.9+, own on 2.7]
    #[arg(long, value_enum)]
    suite: Option<SuiteArg>,
    /// Measure only these parts (comma-separated) [default: all three]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "PART")]
    only: Vec<Part>,
    /// Fewer runs and smaller workloads: checks the output, not the numbers
    #[arg(long)]
    quick: bool,
    /// Wall time over N code layouts: also builds plain and patched with
    /// N-1 paddings of never-run code (`build --pad-code`) and
    /// judges the wall-time targets on patched/plain averaged over them
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=(PADDED.len() as i64 + 1)))]
    layouts: u8,
    /// Time only these benchmarks of the wall-time suite (comma-separated,
    /// names as in the report): to look closer at one over more layouts or
    /// runs. The geometric-mean target is not judged on a part of the suite
    #[arg(long = "benchmark", value_delimiter = ',', value_name = "NAME")]
    benchmarks: Vec<String>,
    /// Interleaved wall-time runs [default: 12, or 1 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    runs: Option<u32>,
    /// Where BENCHMARKS.md, bench.json and the callgrind files go [default: target/bench]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Parallel jobs for make when an interpreter must be built first
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum VariantArg {
    Static,
    Shared,
    Ft,
    SharedFt,
}

/// The three measurements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// callgrind instruction counts (robust to the machine's load)
    Instructions,
    /// wall time with the probes disabled (needs a quiet machine)
    Wall,
    /// the enabled cost under bpftrace, sys.setprofile, sys.monitoring
    Enabled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SuiteArg {
    /// pyperformance's benchmarks run by pyperf (CPython 3.9 and later)
    Pyperformance,
    /// tests/bench/suite.py, timed in-process (every version)
    Own,
}

/// How much work each measurement does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    /// The argument of calls.py and alloc.py (thousands of iterations).
    pub scale: u32,
    /// Interleaved wall-time runs.
    pub wall_runs: usize,
    /// suite.py: repetitions of each benchmark inside one run (median kept).
    pub own_inner: u32,
    /// pyperf: values per worker (median kept) and warm-ups before them.
    pub pyperf_values: u32,
    pub pyperf_warmups: u32,
    /// pyperf: the loops of a value are calibrated (on plain, once) so that
    /// a value takes at least this long; 0: one loop, no calibration.
    pub pyperf_min_time: f64,
    /// Function calls and instances in enabled.py's timed region.
    pub enabled_calls: u64,
    pub enabled_instances: u64,
    /// Runs of each enabled.py mode (the median is kept).
    pub enabled_runs: usize,
}

const FULL: Sizes = Sizes {
    scale: 40,
    wall_runs: 12,
    own_inner: 7,
    pyperf_values: 3,
    pyperf_warmups: 1,
    pyperf_min_time: 0.1,
    enabled_calls: 2_000_000,
    enabled_instances: 1_000_000,
    enabled_runs: 5,
};

const QUICK: Sizes = Sizes {
    scale: 2,
    wall_runs: 1,
    own_inner: 1,
    pyperf_values: 1,
    pyperf_warmups: 0,
    pyperf_min_time: 0.0,
    enabled_calls: 100_000,
    enabled_instances: 50_000,
    enabled_runs: 1,
};

/// The three interpreters, in table order: plain first (the baseline).
const KINDS: [(Patch, &str); 3] = [
    (Patch::Plain, "plain"),
    (Patch::Stock, "stock"),
    (Patch::Patched, "patched"),
];

/// The extra code layouts of `--layouts`, in order: the padding in bytes
/// (`build --pad-code`), by which all hot code moves, and the labels of
/// plain and patched with it. The first three put every function, in plain
/// and patched alike, at each other 16-byte offset of its 64-byte line;
/// the next four do the same again, 64 bytes further.
const PADDED: [(u16, &str, &str); 7] = [
    (16, "plain+16", "patched+16"),
    (32, "plain+32", "patched+32"),
    (48, "plain+48", "patched+48"),
    (64, "plain+64", "patched+64"),
    (80, "plain+80", "patched+80"),
    (96, "plain+96", "patched+96"),
    (112, "plain+112", "patched+112"),
];

pub(crate) struct Interp {
    pub label: &'static str,
    pub build: Build,
    pub python: PathBuf,
    pub info: Value,
}

/// Where the scripts are, for one release.
pub(crate) struct Scripts {
    dir: PathBuf,
    minor: String,
}

impl Scripts {
    /// `tests/bench/<X.Y>/NAME.py` if it exists, else `tests/bench/NAME.py`.
    pub fn get(&self, name: &str) -> PathBuf {
        let file = format!("{name}.py");
        let own = self.dir.join(&self.minor).join(&file);
        if own.is_file() {
            own
        } else {
            self.dir.join(file)
        }
    }

    /// The path as shown in reports: `tests/bench/2.7/calls.py`.
    pub fn shown(&self, name: &str) -> String {
        let path = self.get(name);
        let rel = path.strip_prefix(&self.dir).unwrap_or(&path);
        format!("tests/bench/{}", rel.display())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::project_root();
    let clock = Clock::start();
    let mut sizes = if args.quick { QUICK } else { FULL };
    if let Some(runs) = args.runs {
        sizes.wall_runs = runs as usize;
    }
    // Absolute: the benchmarks run with other working directories.
    let out = match &args.out {
        Some(dir) => std::path::absolute(dir)
            .with_context(|| format!("cannot resolve --out {}", dir.display()))?,
        None => root.join("target").join("bench"),
    };

    let part = |p: Part| args.only.is_empty() || args.only.contains(&p);

    // Everything the measurements need, before spending minutes on builds.
    let valgrind = tool_version("valgrind", "--version").unwrap_or_default();
    if part(Part::Instructions) && valgrind.is_empty() {
        bail!(
            "valgrind is not installed; run `ci/install-deps.sh` (Debian: apt-get install valgrind)"
        );
    }
    // (Its --help and --version exit with status 255: only check it starts.)
    if part(Part::Instructions)
        && Command::new("callgrind_annotate")
            .arg("--help")
            .output()
            .is_err()
    {
        bail!("callgrind_annotate does not run; it comes with valgrind (and needs perl): run `ci/install-deps.sh`");
    }
    if part(Part::Enabled) {
        crate::fire::tracer_ready()?;
    }
    let bpftrace = tool_version("bpftrace", "--version").unwrap_or_default();

    let (shared, free_threaded) = match args.variant {
        VariantArg::Static => (false, false),
        VariantArg::Shared => (true, false),
        VariantArg::Ft => (false, true),
        VariantArg::SharedFt => (true, true),
    };
    let mut builds = Vec::new();
    for (patch, label) in KINDS {
        let sel = Selection {
            python: args.python.clone(),
            shared,
            free_threaded,
            stock: patch == Patch::Stock,
            plain: patch == Patch::Plain,
            ..Selection::default()
        };
        builds.push((label, sel.resolve(&root)?));
    }
    // Wall time over several layouts: plain and patched again, padded;
    // they follow the three, in pairs (plain, patched).
    if part(Part::Wall) {
        for (pad, plain_label, patched_label) in PADDED.iter().take(args.layouts as usize - 1) {
            for (plain, label) in [(true, plain_label), (false, patched_label)] {
                let sel = Selection {
                    python: args.python.clone(),
                    shared,
                    free_threaded,
                    plain,
                    pad_code: Some(*pad),
                    ..Selection::default()
                };
                builds.push((label, sel.resolve(&root)?));
            }
        }
    }
    let patched = &builds[2].1;
    let series = root.join(&patched.release.series);
    if !series.join("series").is_file() {
        bail!(
            "no patch series for {} at {} yet, so there is no patched interpreter to measure; \
             bench a release that has one (e.g. --python 3.13.15)",
            patched.minor_str(),
            series.display()
        );
    }
    let suite = match (args.suite, patched.minor() >= (3, 9)) {
        (Some(SuiteArg::Pyperformance), false) => bail!(
            "pyperf and pyperformance need CPython 3.9 or later; for {} use --suite own",
            patched.release.version
        ),
        (Some(suite), _) => suite,
        (None, true) => SuiteArg::Pyperformance,
        (None, false) => SuiteArg::Own,
    };
    if suite == SuiteArg::Pyperformance && part(Part::Wall) {
        wall::check_pyperformance_names(&args.benchmarks)?;
    }
    let pyperf = match suite {
        SuiteArg::Pyperformance if part(Part::Wall) => Some(pypi::prepare(&root, &clock)?),
        _ => None,
    };

    let mut interps = Vec::new();
    for (label, build) in builds {
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
    let scripts = Scripts {
        dir: root.join("tests").join("bench"),
        minor: interps[0].build.minor_str(),
    };
    clock.say(format_args!(
        "bench: CPython {version}: {}",
        interps
            .iter()
            .map(|i| i.build.id())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut warnings = flag_differences(&interps);
    let moved = layout_moves(&interps, &mut warnings);
    for w in &warnings {
        clock.say(format_args!("bench: warning: {w}"));
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;

    let load_before = load_average();
    // A part not measured is null in the JSON and left out of the Markdown.
    let mut instructions = Value::Null;
    if part(Part::Instructions) {
        instructions = instructions::measure(&interps[..3], &scripts, sizes, &out, &clock)?;
    }
    let mut wall = Value::Null;
    if part(Part::Wall) {
        wall = match &pyperf {
            Some(p) => wall::pyperformance(&interps, p, &args.benchmarks, sizes, &out, &clock)?,
            None => wall::own_suite(&interps, &scripts, &args.benchmarks, sizes, &clock)?,
        };
    }
    let mut enabled = Value::Null;
    if part(Part::Enabled) {
        enabled = enabled::measure(&interps[2], &scripts, sizes, &out, &clock)?;
    }

    let mut report = json!({
        "schema": 2,
        "python": version,
        "variant": format!("{:?}", args.variant).to_lowercase(),
        "layouts": if part(Part::Wall) { args.layouts } else { 1 },
        "quick": args.quick,
        "date": command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
        "load_average": load_before,
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
        "warnings": warnings,
        "layout_moves": moved,
        "sizes": {
            "scale": sizes.scale,
            "wall_runs": sizes.wall_runs,
            "own_inner": sizes.own_inner,
            "pyperf_values": sizes.pyperf_values,
            "pyperf_warmups": sizes.pyperf_warmups,
            "pyperf_min_time": sizes.pyperf_min_time,
            "enabled_calls": sizes.enabled_calls,
            "enabled_instances": sizes.enabled_instances,
            "enabled_runs": sizes.enabled_runs,
        },
        "instructions": instructions,
        "wall": wall,
        "enabled": enabled,
    });
    report["load_average_after"] = load_average();
    report["targets"] = report::targets(&report);
    let markdown = report::markdown(&report);
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
    // This executable, unless a `cargo build` replaced it meanwhile (then
    // /proc/self/exe names a deleted file): cargo runs the new one.
    let mut cmd = match std::env::current_exe() {
        Ok(exe) if exe.is_file() => Command::new(exe),
        _ => {
            let mut cargo =
                Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
            cargo
                .args(["run", "--quiet", "-p", "xtask", "--"])
                .current_dir(crate::project_root());
            cargo
        }
    };
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
pub(crate) fn python_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PYTHONHASHSEED", "0")
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd`, failing with its stderr when it fails; returns stdout.
pub(crate) fn stdout_of(mut cmd: Command, what: &str) -> anyhow::Result<String> {
    let output = cmd
        .output()
        .with_context(|| format!("{what}: cannot run {:?}", cmd.get_program()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let text = if stderr.trim().is_empty() {
            stdout
        } else {
            stderr
        };
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        bail!(
            "{what} failed ({}):\n{}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// sys.version, the compiler and configure's arguments of an interpreter.
/// (Valid Python 2.7 too.)
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

/// configure's arguments less those that differ by design between plain,
/// stock and patched: the prefix, `--with-dtrace` and its `DTRACE=`.
fn comparable_config_args(args: &str) -> String {
    args.split_whitespace()
        .map(|a| a.trim_matches('\''))
        .filter(|a| {
            !a.starts_with("--prefix=")
                && *a != "--with-dtrace"
                && !a.starts_with("DTRACE=")
                && !a.starts_with("ac_cv_path_DTRACE=")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What differs between the three builds beyond the DTrace switch: the
/// comparison assumes the same compiler and flags.
fn flag_differences(interps: &[Interp]) -> Vec<String> {
    let mut warnings = Vec::new();
    let base = &interps[0];
    for other in &interps[1..] {
        for key in ["cc", "cflags"] {
            if base.info[key] != other.info[key] {
                warnings.push(format!(
                    "{key} differs: {} has {}, {} has {}",
                    base.label, base.info[key], other.label, other.info[key]
                ));
            }
        }
        let a = comparable_config_args(base.info["config_args"].as_str().unwrap_or_default());
        let b = comparable_config_args(other.info["config_args"].as_str().unwrap_or_default());
        if a != b {
            warnings.push(format!(
                "configure arguments differ beyond --with-dtrace: {} has `{a}`, {} has `{b}`",
                base.label, other.label
            ));
        }
    }
    warnings
}

/// Checks that each padded interpreter of `--layouts` has its hot code
/// where the padding should have put it: per padded label, the share of
/// functions that sit exactly the padding later than in the unpadded build
/// of the same kind (plain or patched). A share well under 1 (a linker
/// that ignores the cold section's place) is a warning: those layouts would
/// not be the controlled shifts the report says.
fn layout_moves(interps: &[Interp], warnings: &mut Vec<String>) -> Value {
    let mut moves = serde_json::Map::new();
    for padded in interps.iter().skip(3) {
        let base = if padded.build.variant.patch == Patch::Plain {
            &interps[0]
        } else {
            &interps[2]
        };
        // The last probe binary holds the code: libpython when shared.
        let (Some(a), Some(b)) = (
            base.build.probe_binaries().pop(),
            padded.build.probe_binaries().pop(),
        ) else {
            continue;
        };
        let bytes = padded.build.variant.pad;
        match crate::padding::moved_share(&a, &b, bytes) {
            Ok(share) => {
                if share < 0.95 {
                    warnings.push(format!(
                        "{}: only {:.0} % of the functions moved by {bytes} bytes against {}",
                        padded.label,
                        share * 100.0,
                        base.label
                    ));
                }
                moves.insert(padded.label.to_string(), json!(share));
            }
            Err(e) => warnings.push(format!("{}: layout not checked: {e:#}", padded.label)),
        }
    }
    Value::Object(moves)
}

fn tool_version(tool: &str, flag: &str) -> Option<String> {
    command_line(tool, &[flag])
}

/// The first line a command prints, if it runs and succeeds.
pub(crate) fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.lines().next().unwrap_or_default().trim().to_string())
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`).
fn load_average() -> Value {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loads: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect();
    json!(loads)
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

/// The median (the mean of the middle two for an even count); NaN if empty.
pub(crate) fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// The q-quantile with linear interpolation between order statistics
/// (R's type 7, numpy's default); NaN if empty.
pub(crate) fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// `{"median", "q1", "q3", "min", "max"}` of some values.
pub(crate) fn spread(values: &[f64]) -> Value {
    json!({
        "median": median(values),
        "q1": quantile(values, 0.25),
        "q3": quantile(values, 0.75),
        "min": quantile(values, 0.0),
        "max": quantile(values, 1.0),
        "n": values.len(),
    })
}

/// The last line of `text` that parses as JSON.
pub(crate) fn last_json(text: &str) -> Option<Value> {
    text.lines()
        .rev()
        .filter(|l| l.starts_with('{') || l.starts_with('['))
        .find_map(|l| serde_json::from_str(l).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25), 2.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
        assert_eq!(quantile(&[7.0], 0.75), 7.0);
        let s = spread(&[1.0, 3.0, 2.0]);
        assert_eq!(s["min"], 1.0);
        assert_eq!(s["max"], 3.0);
        assert_eq!(s["n"], 3);
    }

    #[test]
    fn config_args_compare_without_the_dtrace_switch() {
        let stock = "'--prefix=/x/3.13.15-linux-stock' '--with-dtrace' \
                     'DTRACE=/w/target/debug/dtrace' '--with-ensurepip=no'";
        let plain = "'--prefix=/x/3.13.15-linux-plain' '--with-ensurepip=no'";
        assert_eq!(comparable_config_args(stock), comparable_config_args(plain));
        assert_ne!(
            comparable_config_args("'--enable-shared'"),
            comparable_config_args(plain)
        );
    }

    #[test]
    fn last_json_line() {
        assert_eq!(
            last_json("noise\n{\"a\": 1}\n[1, 2]\ntrailer\n"),
            Some(json!([1, 2]))
        );
        assert_eq!(last_json("nothing"), None);
    }
}
