//! `cargo xtask ci-matrix [--check]`: the GitHub Actions workflow that runs
//! every platform × release of versions.toml where it can really run.
//!
//! Only Linux runs here, so everything the DTrace platforms need is checked
//! here as far as it can be (the plans of `platform`, the D fire tests'
//! format) and the rest is handed to this workflow:
//!
//! * `linux`: ubuntu-latest (x86_64) and ubuntu-24.04-arm (arm64) build,
//!   `verify` (contract, readelf, bpftrace -l, ci/expected) and fire the
//!   probes under bpftrace;
//! * `macos`: macos-latest builds (`dtrace -h`; ld64 makes the DOF) and
//!   verifies statically: hosted runners keep System Integrity Protection
//!   on, so nothing is traced there;
//! * `freebsd` and `omnios`: VMs (vmactions, pinned by tag) build, verify,
//!   list the probes with `dtrace -l -n 'python$target:::' -c …` and compare
//!   the listing with ci/expected (tests/fire/dtrace/listing.py), then run
//!   the fire tests in D (tests/fire/dtrace/run.py with trace.d) against the
//!   same `.expected` files bpftrace uses here;
//! * `workflow`: this file is what `cargo xtask ci-matrix` generates, and
//!   actionlint accepts it (ci/lint-workflows.sh).
//!
//! The file is generated, never edited: `--check` fails with a diff when
//! the committed one differs (a release added to versions.toml, a changed
//! recipe), and `cargo xtask ci-matrix` rewrites it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use cpython_sources::versions::{Release, Table};

use crate::layout::{parse_version, Platform};

/// Where the workflow lives, relative to the repository root.
pub const WORKFLOW: &str = ".github/workflows/dtrace-matrix.yml";

/// The FreeBSD release the VM runs, and the actions, pinned by tag.
const FREEBSD_RELEASE: &str = "14.3";
const FREEBSD_VM: &str = "vmactions/freebsd-vm@v1.2.7";
const OMNIOS_VM: &str = "vmactions/omnios-vm@v1.3.4";
const CHECKOUT: &str = "actions/checkout@v5";

#[derive(clap::Args)]
pub struct Args {
    /// Compare the committed workflow with the generated one and fail with
    /// a diff when they differ, instead of writing it
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::project_root();
    let generated = generate(&root)?;
    let path = workflow_path(&root);
    if args.check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == generated {
            eprintln!("ci-matrix: {WORKFLOW} is up to date");
            return Ok(ExitCode::SUCCESS);
        }
        eprint!("{}", diff(&committed, &generated, WORKFLOW));
        eprintln!("ci-matrix: {WORKFLOW} differs from what versions.toml and the recipes give; run `cargo xtask ci-matrix` and commit it");
        return Ok(ExitCode::FAILURE);
    }
    write(&path, &generated)?;
    eprintln!("ci-matrix: wrote {WORKFLOW}");
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The workflow for the releases of `root`/versions.toml.
pub fn generate(root: &Path) -> anyhow::Result<String> {
    let table = Table::load(&root.join("versions.toml"))?;
    Ok(workflow(table.releases()))
}

/// The job that runs a platform's builds.
pub fn job_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Linux => "linux",
        Platform::Macos => "macos",
        Platform::Freebsd => "freebsd",
        Platform::Illumos => "omnios",
    }
}

/// One release as the jobs need it.
struct Row {
    version: String,
    /// `X.Y`
    minor: String,
    /// The interpreter under the install prefix: `bin/python3`, `bin/python2`.
    python: &'static str,
}

fn rows(releases: &[Release]) -> Vec<Row> {
    releases
        .iter()
        .map(|r| {
            let (x, y, _) = parse_version(&r.version);
            Row {
                version: r.version.clone(),
                minor: format!("{x}.{y}"),
                python: if x == 2 { "bin/python2" } else { "bin/python3" },
            }
        })
        .collect()
}

/// The workflow text: deterministic for a given list of releases.
pub fn workflow(releases: &[Release]) -> String {
    let rows = rows(releases);
    let mut y = String::new();
    let w = &mut y;
    head(w);
    linux_job(w, &rows);
    macos_job(w, &rows);
    vm_job(w, &rows, Platform::Freebsd);
    vm_job(w, &rows, Platform::Illumos);
    workflow_job(w);
    y
}

fn line(w: &mut String, indent: usize, text: &str) {
    if text.is_empty() {
        w.push('\n');
    } else {
        let _ = writeln!(w, "{:indent$}{text}", "");
    }
}

fn lines(w: &mut String, indent: usize, text: &str) {
    for l in text.lines() {
        line(w, indent, l);
    }
}

fn head(w: &mut String) {
    lines(
        w,
        0,
        "\
# Generated by `cargo xtask ci-matrix` from versions.toml and the platform
# recipes (xtask/src/platform.rs, xtask/src/ci_matrix.rs): do not edit.
# `cargo xtask ci-matrix --check` fails when this file differs from what it
# generates; ci/lint-workflows.sh runs actionlint on it.
#
# Where each platform runs, and what is checked there:
#   linux    ubuntu-latest (x86_64), ubuntu-24.04-arm (arm64): build, verify
#            (provider.d, readelf, bpftrace -l, ci/expected), fire tests
#            under bpftrace.
#   macos    macos-latest: build (dtrace -h; ld64 makes the DOF), static
#            verification of the Mach-O DOF. Nothing is traced: hosted
#            runners keep System Integrity Protection on. 2.7.18 is
#            experimental there (it predates Apple silicon).
#   freebsd  FreeBSD VM: build (dtrace -h, -G), verify, the dtrace -l
#            listing against ci/expected, the fire tests in D.
#   omnios   OmniOS (illumos) VM: as freebsd.
name: dtrace-matrix

on:
  push:
    branches: [main]
  pull_request:
  workflow_dispatch:

permissions:
  contents: read

concurrency:
  group: dtrace-matrix-${{ github.ref }}
  cancel-in-progress: true

env:
  CARGO_TERM_COLOR: never

jobs:",
    );
}

fn linux_job(w: &mut String, rows: &[Row]) {
    line(w, 0, "");
    lines(
        w,
        2,
        "\
linux:
  name: linux ${{ matrix.arch }} ${{ matrix.python }}
  runs-on: ${{ matrix.runner }}
  timeout-minutes: 60
  strategy:
    fail-fast: false
    matrix:
      include:",
    );
    for (runner, arch) in [("ubuntu-latest", "x86_64"), ("ubuntu-24.04-arm", "arm64")] {
        for r in rows {
            line(
                w,
                8,
                &format!(
                    "- {{ runner: {runner}, arch: {arch}, python: \"{}\" }}",
                    r.version
                ),
            );
        }
    }
    lines(
        w,
        4,
        r#"steps:
  - uses: CHECKOUT
  - name: Install the build dependencies and bpftrace
    run: |
      sudo apt-get update -qq
      sudo apt-get install -y -qq --no-install-recommends \
        build-essential pkg-config xz-utils libssl-dev zlib1g-dev libffi-dev \
        libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev uuid-dev \
        libgdbm-dev libncurses-dev systemtap-sdt-dev binutils bpftrace
  - name: Mount tracefs
    run: |
      if [ -z "$(ls -A /sys/kernel/tracing 2>/dev/null)" ]; then
        sudo mount -t tracefs nodev /sys/kernel/tracing
      fi
  - name: Build
    run: cargo xtask build --platform linux --python ${{ matrix.python }}
  - name: Verify (provider.d, readelf -n, bpftrace -l, ci/expected)
    run: sudo -E env "PATH=$PATH" cargo xtask verify --platform linux --python ${{ matrix.python }}
  - name: Fire tests (bpftrace)
    run: sudo -E env "PATH=$PATH" cargo xtask fire --platform linux --python ${{ matrix.python }}
"#
        .replace("CHECKOUT", CHECKOUT)
        .as_str(),
    );
}

fn macos_job(w: &mut String, rows: &[Row]) {
    line(w, 0, "");
    lines(
        w,
        2,
        "\
macos:
  name: macos ${{ matrix.python }}
  runs-on: macos-latest
  timeout-minutes: 60
  # 2.7.18 predates Apple silicon (supported from 3.9.1): experimental.
  continue-on-error: ${{ matrix.experimental }}
  strategy:
    fail-fast: false
    matrix:
      include:",
    );
    for r in rows {
        line(
            w,
            8,
            &format!(
                "- {{ python: \"{}\", experimental: {} }}",
                r.version,
                r.minor == "2.7"
            ),
        );
    }
    lines(
        w,
        4,
        &"\
steps:
  - uses: CHECKOUT
  - name: Build (dtrace -h; ld64 makes the DOF)
    run: cargo xtask build --platform macos --python ${{ matrix.python }}
  - name: Verify statically (the DOF of the Mach-O file, ci/expected)
    run: cargo xtask verify --platform macos --python ${{ matrix.python }}
"
        .replace("CHECKOUT", CHECKOUT),
    );
}

fn vm_job(w: &mut String, rows: &[Row], platform: Platform) {
    line(w, 0, "");
    let job = job_name(platform);
    let (title, action, with, prepare, path) = match platform {
        Platform::Freebsd => (
            "a FreeBSD",
            FREEBSD_VM,
            format!("release: \"{FREEBSD_RELEASE}\"\n"),
            // fasttrap (user-space probes) comes with dtraceall; -n: no
            // error when the image has it loaded already.
            "pkg install -y rust python3\nkldload -n dtraceall\n",
            "",
        ),
        _ => (
            "an OmniOS",
            OMNIOS_VM,
            String::new(),
            // pkg exits 4 when there is nothing to do.
            "pkg install developer/build-essential ooce/developer/rust || [ $? -eq 4 ]\n",
            // GNU tools first; cargo lives in /opt/ooce/bin.
            "PATH=/usr/gnu/bin:/opt/ooce/bin:$PATH; export PATH\n",
        ),
    };
    let platform_name = platform.name();
    line(w, 2, &format!("{job}:"));
    line(w, 4, &format!("name: {job} ${{{{ matrix.python }}}}"));
    lines(
        w,
        4,
        "\
runs-on: ubuntu-latest
timeout-minutes: 120
strategy:
  fail-fast: false
  matrix:
    include:",
    );
    for r in rows {
        let id = format!("{}-{platform_name}", r.version);
        line(
            w,
            8,
            &format!(
                "- {{ python: \"{}\", minor: \"{}\", interpreter: target/cpython/{id}/{} }}",
                r.version, r.minor, r.python
            ),
        );
    }
    line(w, 4, "steps:");
    line(w, 6, &format!("- uses: {CHECKOUT}"));
    line(
        w,
        6,
        &format!("- name: Build, verify, list and fire in {title} VM"),
    );
    line(w, 8, &format!("uses: {action}"));
    line(w, 8, "with:");
    lines(w, 10, &with);
    line(w, 10, "usesh: true");
    line(w, 10, "prepare: |");
    lines(w, 12, prepare);
    line(w, 10, "run: |");
    // The build must succeed; every check after it runs, and the job
    // fails if any did.
    let run = format!(
        "\
set -e
{path}cargo xtask build --platform {platform_name} --python ${{{{ matrix.python }}}}
status=0
cargo xtask verify --platform {platform_name} --python ${{{{ matrix.python }}}} || status=1
dtrace -l -v -n 'python$target:::' -c \"${{{{ matrix.interpreter }}}} -c pass\" > target/dtrace-listing.txt || status=1
python3 tests/fire/dtrace/listing.py ci/expected/${{{{ matrix.minor }}}}-linux.json target/dtrace-listing.txt || status=1
python3 tests/fire/dtrace/run.py \"$PWD/${{{{ matrix.interpreter }}}}\" ${{{{ matrix.minor }}}} || status=1
exit $status
"
    );
    lines(w, 12, &run);
}

fn workflow_job(w: &mut String) {
    line(w, 0, "");
    lines(
        w,
        2,
        &"\
workflow:
  name: this workflow is generated and lints clean
  runs-on: ubuntu-latest
  timeout-minutes: 20
  steps:
    - uses: CHECKOUT
    - run: cargo xtask ci-matrix --check
    - run: bash ci/lint-workflows.sh
"
        .replace("CHECKOUT", CHECKOUT),
    );
}

/// A line diff (`-` committed, `+` generated) with a little context.
pub fn diff(old: &str, new: &str, name: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence table, from the ends.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 2;
    let near_change = |k: usize| {
        let lo = k.saturating_sub(CONTEXT);
        let hi = (k + CONTEXT + 1).min(ops.len());
        ops[lo..hi].iter().any(|(op, _)| *op != ' ')
    };
    let mut out = format!("--- {name} (committed)\n+++ {name} (generated)\n");
    let mut skipped = false;
    for (k, (op, text)) in ops.iter().enumerate() {
        if near_change(k) {
            if skipped {
                out.push_str("@@\n");
                skipped = false;
            }
            let _ = writeln!(out, "{op}{text}");
        } else {
            skipped = true;
        }
    }
    out
}

/// The committed workflow's path under a root.
pub fn workflow_path(root: &Path) -> PathBuf {
    root.join(WORKFLOW)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::process::Command;

    fn root() -> PathBuf {
        crate::project_root()
    }

    #[test]
    fn the_committed_workflow_is_the_generated_one() {
        let generated = generate(&root()).unwrap();
        let committed = std::fs::read_to_string(workflow_path(&root())).unwrap_or_default();
        assert!(
            committed == generated,
            "{}run `cargo xtask ci-matrix` and commit {WORKFLOW}",
            diff(&committed, &generated, WORKFLOW)
        );
    }

    #[test]
    fn every_platform_runs_every_release() {
        let table = Table::load(&root().join("versions.toml")).unwrap();
        let text = workflow(table.releases());
        for r in table.releases() {
            let v = &r.version;
            for needle in [
                format!("- {{ runner: ubuntu-latest, arch: x86_64, python: \"{v}\" }}"),
                format!("- {{ runner: ubuntu-24.04-arm, arch: arm64, python: \"{v}\" }}"),
                format!("interpreter: target/cpython/{v}-freebsd/"),
                format!("interpreter: target/cpython/{v}-illumos/"),
            ] {
                assert!(text.contains(&needle), "no {needle:?} in the workflow");
            }
            let mac = format!(
                "- {{ python: \"{v}\", experimental: {} }}",
                v.starts_with("2.")
            );
            assert!(text.contains(&mac), "no {mac:?}");
        }
        for p in [
            Platform::Linux,
            Platform::Macos,
            Platform::Freebsd,
            Platform::Illumos,
        ] {
            assert!(text.contains(&format!("\n  {}:\n", job_name(p))));
            assert!(text.contains(&format!("cargo xtask build --platform {p} ")));
        }
        // What the D platforms run, as the issue words it.
        assert!(text.contains("dtrace -l -v -n 'python$target:::' -c "));
        assert!(text.contains("python3 tests/fire/dtrace/run.py "));
        assert!(text.contains("kldload -n dtraceall"));
        assert!(text.contains("uses: vmactions/freebsd-vm@v1.2.7"));
        assert!(text.contains("uses: vmactions/omnios-vm@v1.3.4"));
        assert!(!text.contains('\t'), "YAML must not hold tabs");
    }

    #[test]
    fn the_diff_shows_what_changed_with_context() {
        let d = diff("a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nD\ne\nf\ng\nh\n", "x.yml");
        assert_eq!(
            d,
            "--- x.yml (committed)\n+++ x.yml (generated)\n@@\n b\n c\n-d\n+D\n e\n f\n g\n+h\n"
        );
        assert_eq!(
            diff("same\n", "same\n", "x"),
            "--- x (committed)\n+++ x (generated)\n"
        );
    }

    // -- the D twin of the fire tests --------------------------------------

    /// `probe → printf format` of a tracing script: each block that a line
    /// starting with `start` opens, its printf formats joined.
    fn formats(script: &str, start: &str, sep: &str) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in script.lines() {
            if let Some(name) = line.trim().strip_prefix(start) {
                current = Some(name.trim().replace(sep, "__"));
                continue;
            }
            // A clause may print its line with several printf calls.
            if let (Some(name), Some(at)) = (&current, line.find("printf(\"")) {
                let rest = &line[at + "printf(\"".len()..];
                let fmt = rest.split('"').next().unwrap_or("");
                out.entry(name.clone()).or_default().push_str(fmt);
            }
            if line.trim_end() == "}" {
                current = None;
            }
        }
        out
    }

    /// trace.d prints, for every probe trace.bt traces, the same line
    /// format; a probe added to one and not the other fails here.
    #[test]
    fn trace_d_prints_what_trace_bt_prints() {
        let fire = root().join("tests/fire");
        let bt = std::fs::read_to_string(fire.join("trace.bt")).unwrap();
        let d = std::fs::read_to_string(fire.join("dtrace/trace.d")).unwrap();
        let bt_formats = formats(&bt, "usdt:$1:python:", "__");
        let d_formats = formats(&d, "python$target:::", "-");
        assert!(bt_formats.len() >= 12, "{bt_formats:?}");
        assert_eq!(bt_formats, d_formats);
        assert!(d.contains("not run here (no DTrace on Linux); run by the CI matrix"));
    }

    fn python3() -> Option<&'static str> {
        let ok = Command::new("python3")
            .arg("-c")
            .arg("pass")
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some("python3")
        } else if std::env::var_os("CI").is_some() {
            panic!("CI must run the D runner's tests, but python3 is missing");
        } else {
            eprintln!("skipped: no python3");
            None
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-ci-matrix-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn put(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// run.py picks the same files as `cargo xtask fire` (a version
    /// directory's expectation or workload first, `# since:`), and compares
    /// with tests/fire/check.py's rules, the frames of every workload file
    /// of both directories kept.
    #[test]
    fn the_d_runner_picks_and_compares_like_fire() {
        let Some(py) = python3() else { return };
        let run_py = root().join("tests/fire/dtrace/run.py");
        let fire = scratch("fire");
        put(&fire, "a.py", "pass\n");
        put(
            &fire,
            "a.expected",
            "# probes: function__entry\nfunction__entry\ta.py\tf\t1\n",
        );
        put(&fire, "b.py", "pass\n");
        put(&fire, "b.expected", "# probes: line\n");
        put(
            &fire,
            "3.9/b.expected",
            "# probes: line\nline\tb.py\t<module>\t1\n",
        );
        put(&fire, "3.9/c.py", "pass\n");
        put(&fire, "3.9/c.expected", "# probes: function__entry function__return\nfunction__entry\tc.py\tg\t2\nfunction__return\thelper.py\th\t*\n");
        put(&fire, "d.py", "pass\n");
        put(&fire, "d.expected", "# since: 3.10\n# probes: audit\n");
        put(&fire, "helper.py", "pass\n");
        let out = Command::new(py)
            .arg(&run_py)
            .args(["--fire-dir"])
            .arg(&fire)
            .args(["--list", "3.9"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            text,
            "a\ta.py\ta.expected\n\
             b\tb.py\t3.9/b.expected\n\
             c\t3.9/c.py\t3.9/c.expected\n\
             d\td.py\td.expected\tskipped: since 3.10\n\
             frames of: a.py b.py c.py d.py helper.py\n"
        );
        // A DTrace trace of c, TAB-separated like trace.bt's, with noise.
        let trace = fire.join("c.trace");
        std::fs::write(
            &trace,
            "ready\nfunction__entry\t/x/lib/os.py\tf\t3\nfunction__entry\t/t/3.9/c.py\tg\t2\n\
             line\t/t/3.9/c.py\tg\t3\nfunction__return\t/t/helper.py\th\t7\nfunction__return\t/x/lib/os.py\tf\t4\n",
        )
        .unwrap();
        let compare = |name: &str, trace: &Path| {
            Command::new(py)
                .arg(&run_py)
                .arg("--fire-dir")
                .arg(&fire)
                .args(["--compare", "3.9", name])
                .arg(trace)
                .output()
                .unwrap()
        };
        let ok = compare("c", &trace);
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stdout)
        );
        // The same trace is wrong for a (another function entered).
        let bad = compare("a", &trace);
        assert_eq!(
            bad.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&bad.stdout)
        );
        assert!(String::from_utf8_lossy(&bad.stdout).contains("MISMATCH"));
        let _ = std::fs::remove_dir_all(&fire);
    }

    /// listing.py reduces `dtrace -l -v` to (probe, number of arguments)
    /// and compares with a ci/expected JSON listing.
    #[test]
    fn the_dtrace_listing_is_compared_with_ci_expected() {
        let Some(py) = python3() else { return };
        let listing_py = root().join("tests/fire/dtrace/listing.py");
        let dir = scratch("listing");
        put(
            &dir,
            "expected.json",
            r#"[
  {"provider": "python", "name": "function__entry", "args": [8, 8, -4], "semaphore": true},
  {"provider": "python", "name": "gc__start", "args": [-4], "semaphore": true}
]"#,
        );
        let probe = |id: u32, func: &str, name: &str, args: &[&str]| {
            let mut s = format!("{id:>5} python4242 python3 {func} {name}\n\n\tProbe Description Attributes\n\t\tIdentifier Names: Private\n\n\tArgument Types\n");
            if args.is_empty() {
                s.push_str("\t\tNone\n");
            }
            for (i, a) in args.iter().enumerate() {
                s.push_str(&format!("\t\targs[{i}]: {a}\n"));
            }
            s.push('\n');
            s
        };
        let header = "   ID   PROVIDER            MODULE                          FUNCTION NAME\n";
        let good = format!(
            "{header}{}{}{}",
            probe(
                101,
                "_PyEval_EvalFrameDefault",
                "function-entry",
                &["char *", "char *", "int"]
            ),
            probe(
                102,
                "dtrace_function_entry",
                "function-entry",
                &["char *", "char *", "int"]
            ),
            probe(103, "gc_collect_main", "gc-start", &["int"])
        );
        put(&dir, "good.txt", &good);
        let missing = format!(
            "{header}{}",
            probe(101, "f", "function-entry", &["char *", "char *", "int"])
        );
        put(&dir, "missing.txt", &missing);
        let arity = format!(
            "{header}{}{}",
            probe(101, "f", "function-entry", &["char *", "char *"]),
            probe(103, "g", "gc-start", &["int"])
        );
        put(&dir, "arity.txt", &arity);
        put(&dir, "empty.txt", header);
        let run = |listing: &str| {
            let out = Command::new(py)
                .arg(&listing_py)
                .arg(dir.join("expected.json"))
                .arg(dir.join(listing))
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        };
        let (code, text) = run("good.txt");
        assert_eq!(code, Some(0), "{text}");
        let (code, text) = run("missing.txt");
        assert_eq!(code, Some(1), "{text}");
        assert!(text.contains("-gc__start/1"), "{text}");
        let (code, text) = run("arity.txt");
        assert_eq!(code, Some(1), "{text}");
        assert!(text.contains("+function__entry/2"), "{text}");
        let (code, text) = run("empty.txt");
        assert_eq!(code, Some(1), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
