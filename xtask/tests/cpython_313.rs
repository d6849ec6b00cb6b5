//! The 3.13 slice end to end: build the patched interpreter (static, shared,
//! free-threaded), verify its probe listing, and fire every probe under
//! bpftrace against hand-written expectations; then CPython's own tests on
//! the patched build must pass wherever they pass on the stock build.
//!
//! Builds are reused when nothing changed (`cargo xtask build` is a no-op
//! then), so only the first run on a machine pays for compiling CPython.
//! The tracer is required: without root or bpftrace these tests fail in CI
//! (`CI` set) and are skipped, saying why, elsewhere.

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::sync::Mutex;

/// One test at a time: builds share the fetched tree and two cores, and a
/// regression-test run must not overlap a trace of the same binary.
static SERIAL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const VERSION: &str = "3.13.15";

fn xtask(args: &[&str]) -> Output {
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

fn tracer_missing() -> Option<String> {
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
fn require_tracer() -> bool {
    match tracer_missing() {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the fire tests, but {why}; run ci/install-deps.sh as root")
        }
        Some(why) => {
            eprintln!("skipped: {why} (CI fails instead)");
            false
        }
    }
}

fn build(flags: &[&str]) {
    let mut args = vec!["build", "--python", VERSION];
    args.extend_from_slice(flags);
    let out = xtask(&args);
    assert!(out.status.success(), "build {flags:?} failed");
}

fn build_verify_fire(flags: &[&str]) {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    build(flags);
    let mut args = vec!["--python", VERSION];
    args.extend_from_slice(flags);
    let verify = xtask(&[&["verify"], args.as_slice()].concat());
    assert!(verify.status.success(), "verify {flags:?} failed");
    let fire = xtask(&[&["fire"], args.as_slice()].concat());
    assert!(fire.status.success(), "fire {flags:?} failed");
    let stderr = String::from_utf8_lossy(&fire.stderr);
    assert!(
        stderr.contains("workloads match"),
        "no summary line:\n{stderr}"
    );
    assert!(
        stderr.contains("fire: balance: "),
        "balance not checked:\n{stderr}"
    );
}

#[test]
fn static_build_verifies_and_fires() {
    build_verify_fire(&[]);
}

#[test]
fn shared_build_verifies_and_fires() {
    build_verify_fire(&["--shared"]);
}

#[test]
fn free_threaded_build_verifies_and_fires() {
    build_verify_fire(&["--free-threaded"]);
}

/// CPython's own tests that the patches could break.
const CPYTHON_TESTS: &[&str] = &[
    "test_dtrace",
    "test_gc",
    "test_sys",
    "test_sys_settrace",
    "test_monitoring",
    "test_generators",
    "test_threading",
];

/// Runs CPython's regression tests on one build; returns the failed ones.
fn failing_cpython_tests(flags: &[&str]) -> BTreeSet<String> {
    build(flags);
    // The layout `cargo xtask build` documents: target/cpython/<id>/bin/python3.
    let id = format!(
        "{VERSION}-linux{}",
        if flags.contains(&"--stock") {
            "-stock"
        } else {
            ""
        }
    );
    let install = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/cpython")
        .join(id)
        .join("bin/python3");
    let out = Command::new(&install)
        .args(["-m", "test", "-j2", "--timeout", "900"])
        .args(CPYTHON_TESTS)
        .output()
        .expect("run python -m test");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("{} -m test …:\n{}", install.display(), tail(&text, 40));
    let ran = text.contains("Total tests:") || text.contains("Tests result:");
    assert!(ran, "python -m test did not run:\n{}", tail(&text, 40));
    failed_names(&text)
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The names regrtest lists under "N test(s) failed:" (and re-run failures).
fn failed_names(text: &str) -> BTreeSet<String> {
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

#[test]
fn cpython_own_tests_pass_as_on_stock() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let stock = failing_cpython_tests(&["--stock"]);
    let patched = failing_cpython_tests(&[]);
    eprintln!("failing on stock: {stock:?}; failing on patched: {patched:?}");
    let new: Vec<&String> = patched.difference(&stock).collect();
    assert!(new.is_empty(), "fail on the patched build only: {new:?}");
}

#[test]
fn regrtest_failure_lists_are_read() {
    let text =
        "== Tests result: FAILURE ==\n\n2 tests failed:\n    test_gc test_sys\n\n5 tests OK.\n";
    let want: BTreeSet<String> = ["test_gc", "test_sys"].map(String::from).into();
    assert_eq!(failed_names(text), want);
    assert!(failed_names("== Tests result: SUCCESS ==\n\nAll 7 tests OK.\n").is_empty());
}
