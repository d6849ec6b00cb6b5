//! Helpers shared by xtask's integration tests (a directory module, so
//! Cargo does not build it as a test of its own). Each test file uses only
//! some of them.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Runs `cargo xtask ARGS…` (this build of it) and echoes its output.
pub fn xtask(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run xtask");
    eprintln!(
        "$ cargo xtask {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Why bpftrace cannot attach here, if it cannot.
pub fn tracer_missing() -> Option<String> {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")
                .map(|ids| ids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        return Some("not root".into());
    }
    let bpftrace = Command::new("bpftrace").arg("--version").output();
    if !bpftrace.is_ok_and(|o| o.status.success()) {
        return Some("bpftrace not installed".into());
    }
    None
}

/// Skips (outside CI) when the tracer cannot run; panics in CI.
pub fn require_tracer() -> bool {
    match tracer_missing() {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the tracer tests, but {why}; run ci/install-deps.sh as root")
        }
        Some(why) => {
            eprintln!("skipped: {why} (CI fails instead)");
            false
        }
    }
}

/// `cargo xtask build --python VERSION FLAGS…`, which must succeed (a no-op
/// when the build is up to date).
pub fn build(version: &str, flags: &[&str]) {
    let mut args = vec!["build", "--python", version];
    args.extend_from_slice(flags);
    let out = xtask(&args);
    assert!(out.status.success(), "build {version} {flags:?} failed");
}

/// The interpreter of a build, by the layout `cargo xtask build` documents:
/// `target/cpython/<X.Y.Z>-linux<suffix>/bin/python2|python3`.
pub fn python_of(version: &str, suffix: &str) -> PathBuf {
    let major = if version.starts_with("2.") {
        "python2"
    } else {
        "python3"
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/cpython")
        .join(format!("{version}-linux{suffix}"))
        .join("bin")
        .join(major)
}

/// Builds VERSION with FLAGS and runs CPython's own regression `tests` on
/// it; returns the names of those that failed.
pub fn failing_cpython_tests(version: &str, flags: &[&str], tests: &[&str]) -> BTreeSet<String> {
    build(version, flags);
    let suffix = if flags.contains(&"--stock") {
        "-stock"
    } else {
        ""
    };
    let python = python_of(version, suffix);
    // 2.7 has no `python -m test`; its runner is test.regrtest.
    let runner: &[&str] = if version.starts_with("2.") {
        &["-m", "test.regrtest", "-j2"]
    } else {
        &["-m", "test", "-j2", "--timeout", "900"]
    };
    let out = Command::new(&python)
        .args(runner)
        .args(tests)
        .output()
        .expect("run the regression tests");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "{} {} …:\n{}",
        python.display(),
        runner.join(" "),
        tail(&text, 40)
    );
    let ran = text.contains("Total tests:")
        || text.contains("Tests result:")
        || text.contains(" OK.")
        || text.contains(" failed:");
    assert!(
        ran,
        "the regression tests did not run:\n{}",
        tail(&text, 40)
    );
    failed_names(&text)
}

/// CPython's own `tests` must not fail on the patched build of VERSION
/// where they pass on its stock build. The stock build is made only when
/// the patched one has failures to compare (it usually has none).
pub fn own_tests_pass_as_on_stock(version: &str, tests: &[&str]) {
    let patched = failing_cpython_tests(version, &[], tests);
    if patched.is_empty() {
        eprintln!("{version}: {} pass on the patched build", tests.join(" "));
        return;
    }
    let stock = failing_cpython_tests(version, &["--stock"], tests);
    eprintln!("{version}: failing on stock: {stock:?}; on patched: {patched:?}");
    let new: Vec<&String> = patched.difference(&stock).collect();
    assert!(new.is_empty(), "{version}: fail on patched only: {new:?}");
}

pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The names regrtest lists under "N test(s) failed:" (and re-run failures).
pub fn failed_names(text: &str) -> BTreeSet<String> {
    let mut failed = BTreeSet::new();
    let mut in_list = false;
    for line in text.lines() {
        let t = line.trim();
        if t.ends_with("failed:") || t.ends_with("failed again:") {
            in_list = true;
            continue;
        }
        if in_list {
            if t.is_empty() || !t.starts_with("test_") {
                in_list = t.is_empty() && failed.is_empty();
                continue;
            }
            failed.extend(t.split_whitespace().map(String::from));
        }
    }
    failed
}

/// A scratch directory for this test process under Cargo's tmpdir, named
/// `<prefix>-<pid>`; directories left by earlier runs whose process is gone
/// are removed first. Each test binary gets its own (the static is per binary).
pub fn scratch_dir(prefix: &str) -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let tag = format!("{prefix}-");
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix(tag.as_str())
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = root.join(format!("{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        dir
    })
}
