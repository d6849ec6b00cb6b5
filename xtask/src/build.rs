//! `cargo xtask build`: fetch → copy → patch → configure → make → install a
//! CPython with USDT probes, into `target/cpython/<id>` (see `layout`).
//!
//! The pristine tree from `fetch` is never changed: each real build starts
//! from a fresh copy in `target/cpython/.build/<id>/src`. The install dir
//! gets a stamp, written last, listing a hash of every input; when a second
//! run finds the same inputs it stops at once ("up to date"), and a build
//! that was interrupted has no stamp, so the next one starts over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use cpython_sources::fetch::{self, FetchOptions, Source};
use cpython_sources::series::{self, Direction, Outcome, Series};
use xshell::{cmd, Shell};

use crate::layout::{Build, Patch, Selection, STAMP};
use crate::logged::{self, Clock};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    sel: Selection,
    /// Parallel jobs for make [default: the number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// The dtrace that generates the probe header and object: ours
    /// (crates/dtrace-cli) or system (SystemTap's, from PATH)
    #[arg(long, value_enum, default_value_t = DtraceTool::Ours)]
    dtrace: DtraceTool,
    /// Where the source comes from: auto, python.org, debian, or the path of
    /// a release tarball or unpacked tree
    #[arg(long, default_value = "auto", value_name = "SOURCE")]
    from: String,
    /// Build again even when nothing changed
    #[arg(long)]
    force: bool,
    /// Print the plan (commands, environment, files) and build nothing; any --platform, on any host
    #[arg(long)]
    dry_run: bool,
    /// Take the patch series from DIR instead of versions.toml's (testing)
    #[arg(long, value_name = "DIR", hide = true)]
    series_dir: Option<PathBuf>,
}

impl Args {
    /// The arguments of `cargo xtask build` with these flags and every
    /// default, for tasks that build on the way (`matrix`).
    pub(crate) fn defaults_for(sel: Selection, jobs: Option<u32>) -> Args {
        Args {
            sel,
            jobs,
            dtrace: DtraceTool::Ours,
            from: "auto".to_owned(),
            force: false,
            dry_run: false,
            series_dir: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DtraceTool {
    Ours,
    System,
}

/// Bumped when the recipe below changes in a way that needs a rebuild (a
/// change of configure's arguments already does: they are in the stamp).
const RECIPE: &str = "1";

/// Environment variables configure reads; a change to one changes the build.
const ENV_INPUTS: [&str; 6] = ["CC", "CFLAGS", "CPPFLAGS", "LDFLAGS", "LIBS", "CPP"];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::project_root();
    if args.dry_run {
        let build = args.sel.resolve_any_platform(&root)?;
        let tool = match args.dtrace {
            DtraceTool::Ours => crate::platform::DtraceTool::Ours,
            DtraceTool::System => crate::platform::DtraceTool::System,
        };
        let plan = crate::platform::plan(&build, &crate::platform::Options::from_env(tool))?;
        print!("{}", plan.render());
        return Ok(ExitCode::SUCCESS);
    }
    let clock = Clock::start();
    let build = args.sel.resolve(&root)?;
    let install = build.install_dir();
    let (plan, inputs) = plan(&root, &build, &args, &clock)?;

    let _lock = Lock::take(&build)?;
    let installed = build.probe_binaries().iter().all(|b| b.is_file());
    match read_stamp(&build.stamp_path()) {
        Some(old) if old == inputs && installed && !args.force => {
            clock.say(format_args!(
                "{} is up to date ({} matches); nothing to do",
                install.display(),
                STAMP
            ));
            print_result(&build);
            return Ok(ExitCode::SUCCESS);
        }
        Some(_) if args.force => clock.say("--force: building again"),
        Some(old) => clock.say(format_args!(
            "rebuilding {}: changed since the last build: {}",
            build.id(),
            changed_keys(&old, &inputs).join(", ")
        )),
        None if install.exists() || build.build_dir().exists() => clock.say(format_args!(
            "{} was not finished (interrupted?); starting over",
            build.id()
        )),
        None => {}
    }

    let tree = fetch_tree(&root, &build, &args.from, &clock)?;
    // Everything we are about to replace is ours: the id's install and
    // build dirs. The stamp goes first, so an interruption from here on
    // leaves no valid stamp behind.
    remove_owned(&build, &install)?;
    remove_owned(&build, &build.build_dir())?;
    let src = build.src_dir();
    let logs = build.logs_dir();
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;

    clock.say(format_args!("copy {} → {}", tree.display(), src.display()));
    let sh = Shell::new()?;
    cmd!(sh, "cp -a {tree} {src}")
        .quiet()
        .run()
        .with_context(|| format!("cannot copy {} to {}", tree.display(), src.display()))?;

    if let Some(series) = &plan.series {
        apply_series(&build, series, &src, &clock)?;
        let n = check_pydtrace(&root.join("provider.d"), &src, &build, series)?;
        clock.say(format_args!(
            "Include/pydtrace.d agrees with provider.d ({n} probes)"
        ));
    }
    if build.variant.pad > 0 {
        crate::padding::pad_tree(&src, build.variant.pad)?;
        clock.say(format_args!(
            "Python/ceval.c: {} bytes of never-run code added ahead of all hot code (--pad-code)",
            build.variant.pad
        ));
    }

    sh.change_dir(&src);
    let configure_args = &plan.configure;
    let configure = cmd!(sh, "./configure {configure_args...}");
    logged::run(
        &clock,
        "configure",
        configure.into(),
        &logs.join("configure.log"),
    )?;

    let jobs = args.jobs.map_or_else(default_jobs, |j| j.to_string());
    let make = cmd!(sh, "make -j {jobs}");
    logged::run(&clock, "make", make.into(), &logs.join("make.log"))?;

    let install_args = install_args(&src);
    let make_install = cmd!(sh, "make install {install_args...}");
    logged::run(
        &clock,
        "install",
        make_install.into(),
        &logs.join("install.log"),
    )?;

    for binary in build.probe_binaries() {
        if !binary.is_file() {
            bail!(
                "make install did not produce {}; see {}",
                binary.display(),
                logs.join("install.log").display()
            );
        }
    }
    write_stamp(&build.stamp_path(), &inputs)?;
    clock.say(format_args!(
        "built CPython {} ({}) in {}",
        build.release.version,
        build.id(),
        logged::duration(clock.elapsed())
    ));
    print_result(&build);
    Ok(ExitCode::SUCCESS)
}

/// What the build will do, worked out before anything is touched.
struct Plan {
    series: Option<Series>,
    configure: Vec<String>,
}

/// Every input, as `key → value` lines for the stamp, and the plan.
type Inputs = BTreeMap<String, String>;

fn plan(root: &Path, build: &Build, args: &Args, clock: &Clock) -> anyhow::Result<(Plan, Inputs)> {
    let mut inputs = Inputs::new();
    let mut put = |k: &str, v: String| {
        inputs.insert(k.to_owned(), v);
    };
    put("recipe", RECIPE.to_owned());
    put(
        "release",
        format!("{} {}", build.release.version, build.release.sha256),
    );
    // A local tree is not checked against the hash; its path at least
    // tells builds from different trees apart.
    if let Ok(Source::Path(path)) = args.from.parse::<Source>() {
        put("source", path.display().to_string());
    }
    put("platform", build.platform.to_string());
    let v = &build.variant;
    put(
        "variant",
        format!(
            "{:?} shared={} free_threaded={}",
            v.patch, v.shared, v.free_threaded
        ),
    );
    // Only when set, so that the stamps of unpadded builds stay valid; one
    // line, as the stamp has one line per input.
    if v.pad > 0 {
        let inserted = crate::padding::shift(v.pad);
        put(
            "pad",
            inserted.split_whitespace().collect::<Vec<_>>().join(" "),
        );
    }

    let series = match v.patch {
        Patch::Patched => {
            let dir = args
                .series_dir
                .clone()
                .unwrap_or_else(|| root.join(&build.release.series));
            if !dir.join("series").is_file() {
                bail!(
                    "no patch series for {} at {} yet; build upstream with --stock or --plain",
                    build.minor_str(),
                    dir.display()
                );
            }
            let series = Series::load(&dir)?;
            put("series", dir.display().to_string());
            for (i, p) in series.patches.iter().enumerate() {
                put(&format!("patch {:02} {}", i + 1, p.name), p.sha256.clone());
            }
            // Only the patched build checks its pydtrace.d against provider.d.
            put("provider.d", hash(&root.join("provider.d"))?);
            Some(series)
        }
        Patch::Stock | Patch::Plain => None,
    };

    let install = build.install_dir();
    let mut configure = vec![format!("--prefix={}", install.display())];
    if v.with_dtrace() {
        let dtrace = match args.dtrace {
            DtraceTool::Ours => {
                let path = our_dtrace(root, clock)?;
                put("dtrace", format!("ours {}", output_hash(&path, root)?));
                path
            }
            DtraceTool::System => {
                let path = find_in_path("dtrace")
                    .context("no system dtrace: install systemtap-sdt-dev, or use --dtrace ours")?;
                put(
                    "dtrace",
                    format!("system {} {}", path.display(), hash(&path)?),
                );
                path
            }
        };
        configure.push("--with-dtrace".to_owned());
        configure.push(format!(
            "{}={}",
            crate::platform::DTRACE_CACHE_VAR,
            dtrace.display()
        ));
    }
    if v.shared {
        configure.push("--enable-shared".to_owned());
        // So the installed python finds its own libpython, not the system's.
        let rpath = format!("-Wl,-rpath,{}", install.join("lib").display());
        let ldflags = match std::env::var("LDFLAGS") {
            Ok(flags) if !flags.trim().is_empty() => format!("{flags} {rpath}"),
            _ => rpath,
        };
        configure.push(format!("LDFLAGS={ldflags}"));
    }
    if v.free_threaded {
        configure.push("--disable-gil".to_owned());
    }
    // pip is not needed to trace; `python -m ensurepip` adds it later.
    configure.push("--with-ensurepip=no".to_owned());
    put("configure", configure.join(" "));
    for var in ENV_INPUTS {
        if let Some(value) = std::env::var_os(var) {
            put(&format!("env {var}"), value.to_string_lossy().into_owned());
        }
    }
    Ok((Plan { series, configure }, inputs))
}

/// Builds crates/dtrace-cli and returns its binary, wherever Cargo puts it
/// (CARGO_TARGET_DIR, build.target-dir): Cargo's JSON messages say.
fn our_dtrace(root: &Path, clock: &Clock) -> anyhow::Result<PathBuf> {
    clock.say("cargo build -p dtrace-cli");
    let sh = Shell::new()?;
    sh.change_dir(root);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let json = cmd!(
        sh,
        "{cargo} build --quiet -p dtrace-cli --message-format=json"
    )
    .quiet()
    .read()
    .context("cannot build our dtrace (cargo build -p dtrace-cli); see the errors above")?;
    for line in json.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "dtrace" {
            if let Some(exe) = msg["executable"].as_str() {
                return Ok(PathBuf::from(exe));
            }
        }
    }
    bail!("cargo build -p dtrace-cli reported no `dtrace` executable; check crates/dtrace-cli/Cargo.toml")
}

/// A program on PATH, like `command -v`.
pub(crate) fn find_in_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What our dtrace gives the build, rather than its binary (which changes
/// with every relink): the header (`-h`) and the semaphores object (`-G`)
/// it generates from provider.d, both deterministic.
fn output_hash(dtrace: &Path, root: &Path) -> anyhow::Result<String> {
    // Fixed file names: the header's include guard is made from its name.
    let dir = std::env::temp_dir().join(format!("cpython-dtrace-stamp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let header = dir.join("pydtrace_probes.h");
    let object = dir.join("pydtrace.o");
    let sh = Shell::new()?;
    let provider_d = root.join("provider.d");
    let run = |mode: &str, out: &Path| {
        cmd!(sh, "{dtrace} {mode} -s {provider_d} -o {out}")
            .quiet()
            .run()
            .with_context(|| {
                format!(
                    "{} {mode} failed on {}",
                    dtrace.display(),
                    provider_d.display()
                )
            })
    };
    let hashed = run("-h", &header)
        .and_then(|()| run("-G", &object))
        .and_then(|()| Ok(format!("{} {}", hash(&header)?, hash(&object)?)));
    let _ = std::fs::remove_dir_all(&dir);
    hashed
}

fn hash(path: &Path) -> anyhow::Result<String> {
    fetch::sha256_file(path).with_context(|| format!("cannot read {}", path.display()))
}

fn default_jobs() -> String {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .to_string()
}

/// `make install` options: byte-compile in parallel where the Makefile
/// allows it (3.x; 2.7's Makefile has no COMPILEALL_OPTS).
fn install_args(src: &Path) -> Vec<String> {
    let makefile = std::fs::read_to_string(src.join("Makefile")).unwrap_or_default();
    if makefile.contains("COMPILEALL_OPTS") {
        vec!["COMPILEALL_OPTS=-j0".to_owned()]
    } else {
        Vec::new()
    }
}

fn fetch_tree(root: &Path, build: &Build, from: &str, clock: &Clock) -> anyhow::Result<PathBuf> {
    clock.say(format_args!("fetch CPython {}", build.release.version));
    let cache_dir = fetch::default_cache_dir()
        .context("no cache directory: neither XDG_CACHE_HOME nor HOME is set; set one")?;
    let source: Source = match from.parse() {
        Ok(source) => source,
        Err(never) => match never {},
    };
    let printer = crate::fetch::Printer::new();
    let report = |event: fetch::Event<'_>| printer.show(event);
    let opts = FetchOptions {
        cache_dir,
        dest_dir: root.join("target").join("src"),
        network: true,
        connect_timeout: Duration::from_secs(10),
        report: &report,
    };
    let fetched = fetch::fetch(&build.release, &source, &opts);
    printer.end_progress();
    let tree = fetched?.tree;
    // A tree patched in place (`cargo xtask patch` on it) is not upstream.
    if tree.join(series::STAMP).exists() {
        bail!(
            "{} has been patched in place ({} exists); delete the tree and run `cargo xtask fetch --python {}` again",
            tree.display(),
            series::STAMP,
            build.release.version
        );
    }
    Ok(tree)
}

/// Keeps two builds of the same id from clobbering each other's dirs: a
/// file holding the builder's pid, removed when the build ends. A lock left
/// by a killed build (its pid is gone) is taken over.
struct Lock(PathBuf);

impl Lock {
    fn take(build: &Build) -> anyhow::Result<Lock> {
        let path = build
            .cpython_dir
            .join(".build")
            .join(format!("{}.lock", build.id()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        for _ in 0..2 {
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            match created {
                Ok(mut file) => {
                    use std::io::Write as _;
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(Lock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid = pid.trim();
                    if !pid.is_empty() && Path::new("/proc").join(pid).exists() {
                        bail!(
                            "another build of {} is running (pid {pid}); wait for it, or remove {} if it is gone",
                            build.id(),
                            path.display()
                        );
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()))
                }
            }
        }
        bail!(
            "cannot take the lock {}; remove it and try again",
            path.display()
        )
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes `dir` if it exists; refuses anything outside target/cpython.
fn remove_owned(build: &Build, dir: &Path) -> anyhow::Result<()> {
    if !dir.starts_with(&build.cpython_dir) || dir == build.cpython_dir {
        bail!(
            "refusing to remove {}: not a build dir under {}",
            dir.display(),
            build.cpython_dir.display()
        );
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", dir.display())),
    }
}

fn apply_series(build: &Build, series: &Series, src: &Path, clock: &Clock) -> anyhow::Result<()> {
    series.check_tree_version(src, &build.release.version, false)?;
    match series.run(src, Direction::Apply, false)? {
        Outcome::Changed { patches, files, .. } => {
            clock.say(format_args!(
                "patch: applied {patches} patch(es) from {} to {} file(s)",
                series.dir.display(),
                files.len()
            ));
            Ok(())
        }
        Outcome::AlreadyApplied { .. } | Outcome::NotApplied { .. } => bail!(
            "{}: the series in {} is already in the source tree; delete the tree and fetch again",
            src.display(),
            series.dir.display()
        ),
    }
}

/// Checks that the patched tree's `Include/pydtrace.d` declares exactly the
/// probes of provider.d for this version, with the same argument types; the
/// series must keep the two in sync. Returns the number of probes.
fn check_pydtrace(
    provider_d: &Path,
    src: &Path,
    build: &Build,
    series: &Series,
) -> anyhow::Result<usize> {
    let pydtrace_d = src.join("Include").join("pydtrace.d");
    let parse = |p: &Path| dprovider::parse_file(p).map_err(|e| anyhow::anyhow!("{e}"));
    let contract = parse(provider_d)?;
    let patched = parse(&pydtrace_d)?;
    let want = signatures(crate::verify::contract_probes(&contract, build.minor()).into_iter());
    let all = patched
        .providers
        .iter()
        .flat_map(|p| p.probes.iter().map(move |probe| (p, probe)));
    let have = signatures(all);
    let problems = signature_differences(&want, &have);
    if problems.is_empty() {
        return Ok(want.len());
    }
    bail!(
        "patched Include/pydtrace.d disagrees with provider.d for {}: {}; the series in {} must keep them in sync",
        build.minor_str(),
        problems.join("; "),
        series.dir.display()
    )
}

type Signatures = BTreeMap<String, Vec<String>>;

fn signatures<'a>(
    probes: impl Iterator<Item = (&'a dprovider::Provider, &'a dprovider::Probe)>,
) -> Signatures {
    probes
        .map(|(provider, probe)| {
            let types = probe.args.iter().map(|a| a.ty.c_spelling()).collect();
            (format!("{}:{}", provider.name, probe.name), types)
        })
        .collect()
}

fn signature_differences(want: &Signatures, have: &Signatures) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, types) in want {
        match have.get(name) {
            None => problems.push(format!("{name} is missing")),
            Some(got) if got != types => problems.push(format!(
                "{name} takes ({}), provider.d says ({})",
                got.join(", "),
                types.join(", ")
            )),
            Some(_) => {}
        }
    }
    for name in have.keys().filter(|n| !want.contains_key(*n)) {
        problems.push(format!("{name} is not in provider.d for this version"));
    }
    problems
}

fn read_stamp(path: &Path) -> Option<Inputs> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(" = "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// Written to a temporary name and renamed, so a stamp is never partial.
fn write_stamp(path: &Path, inputs: &Inputs) -> anyhow::Result<()> {
    let mut text = String::from(
        "# cpython-dtrace build stamp, written last by `cargo xtask build`: the inputs\n\
         # of this install. Delete it (or pass --force) to build again.\n",
    );
    for (k, v) in inputs {
        text.push_str(&format!("{k} = {v}\n"));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

fn changed_keys(old: &Inputs, new: &Inputs) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect()
}

/// The interpreter, and one bpftrace line to try the probes with.
fn print_result(build: &Build) {
    let install = build.install_dir();
    println!("python: {}", build.python_path().display());
    if build.variant.patch == Patch::Plain {
        println!("(--plain: built without DTrace, so there are no probes to trace)");
        return;
    }
    println!("try:    {}", bpftrace_command(build, &install));
}

/// A bpftrace command that prints the function entries (or, upstream, the
/// imports) of `python -m this`.
pub(crate) fn bpftrace_command(build: &Build, install: &Path) -> String {
    let target = build.probe_target_in(install);
    let python = build.python_in(install);
    // Upstream 3.12+ lost function__entry; its import probes still fire.
    let action = match build.variant.patch {
        Patch::Stock => "import__find__load__start { printf(\"%s\\n\", str(arg0)) }",
        Patch::Patched | Patch::Plain => {
            "function__entry { printf(\"%s %s:%d\\n\", str(arg1), str(arg0), arg2) }"
        }
    };
    let script = format!("'usdt:{}:python:{action}'", target.display());
    if build.variant.shared {
        // bpftrace before 0.20 (bcc's USDT code) finds a library's probes
        // only once the process has mapped it, which with -c it has not:
        // start python first and attach to its pid while it sleeps.
        return format!(
            "{} -c 'import time; time.sleep(2); import json' & sudo bpftrace -p $! -e {script}",
            python.display()
        );
    }
    // bpftrace splits -c on spaces and knows no quotes: no `python -c '…'`.
    format!(
        "sudo bpftrace -e {script} -c '{} -m this'",
        python.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigs(pairs: &[(&str, &[&str])]) -> Signatures {
        pairs
            .iter()
            .map(|(n, t)| (n.to_string(), t.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn pydtrace_differences_name_each_probe() {
        let want = sigs(&[
            ("python:a", &["int"]),
            ("python:b", &["const char *"]),
            ("python:c", &[]),
        ]);
        let have = sigs(&[
            ("python:a", &["int"]),
            ("python:b", &["const char *", "int"]),
            ("python:z", &[]),
        ]);
        assert_eq!(
            signature_differences(&want, &have),
            [
                "python:b takes (const char *, int), provider.d says (const char *)",
                "python:c is missing",
                "python:z is not in provider.d for this version",
            ]
        );
        assert!(signature_differences(&want, &want).is_empty());
    }

    #[test]
    fn stamps_round_trip_and_name_what_changed() {
        let dir = std::env::temp_dir().join(format!("xtask-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(STAMP);
        let mut inputs = Inputs::new();
        inputs.insert("release".into(), "3.13.15 abc".into());
        inputs.insert("configure".into(), "--prefix=/x = y --with-dtrace".into());
        write_stamp(&path, &inputs).unwrap();
        let read = read_stamp(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(read, inputs);
        let mut changed = inputs.clone();
        changed.insert("dtrace".into(), "ours 123".into());
        changed.insert("release".into(), "3.13.15 abd".into());
        assert_eq!(changed_keys(&inputs, &changed), ["dtrace", "release"]);
    }

    #[test]
    fn a_padded_plain_build_stamp_round_trips() {
        // Every input must be one line: a stamp that does not read back
        // as written rebuilds every time.
        let root = crate::project_root();
        let sel = Selection {
            python: Some("2.7.18".into()),
            plain: true,
            pad_code: Some(48),
            ..Selection::default()
        };
        let build = sel.resolve(&root).unwrap();
        let args = Args::defaults_for(sel, None);
        let (_, inputs) = plan(&root, &build, &args, &Clock::start()).unwrap();
        assert!(inputs["pad"].contains(".skip 48"), "{inputs:?}");
        assert!(inputs["pad"].contains(".text.unlikely"), "{inputs:?}");
        let dir = std::env::temp_dir().join(format!("xtask-pad-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(STAMP);
        write_stamp(&path, &inputs).unwrap();
        let read = read_stamp(&path);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(read.as_ref(), Some(&inputs));
    }

    #[test]
    fn the_bpftrace_command_attaches_to_libpython_for_shared_builds() {
        let select = |shared| {
            let sel = Selection {
                shared,
                ..Selection::default()
            };
            sel.resolve(&crate::project_root()).unwrap()
        };
        let script = "'usdt:/i/bin/python3:python:function__entry { printf(\"%s %s:%d\\n\", str(arg1), str(arg0), arg2) }'";
        assert_eq!(
            bpftrace_command(&select(false), Path::new("/i")),
            format!("sudo bpftrace -e {script} -c '/i/bin/python3 -m this'")
        );
        let cmd = bpftrace_command(&select(true), Path::new("/i"));
        assert_eq!(
            cmd,
            format!(
                "/i/bin/python3 -c 'import time; time.sleep(2); import json' & sudo bpftrace -p $! -e {}",
                script.replace("/i/bin/python3", "/i/lib/libpython3.13.so.1.0")
            )
        );
    }
}
