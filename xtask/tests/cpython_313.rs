//! The 3.13 slice end to end: build the patched interpreter (static, shared,
//! free-threaded), verify its probe listing, and fire every probe under
//! bpftrace against hand-written expectations; then CPython's own tests on
//! the patched build must pass wherever they pass on the stock build.
//!
//! Builds are reused when nothing changed (`cargo xtask build` is a no-op
//! then), so only the first run on a machine pays for compiling CPython.
//! The tracer is required: without root or bpftrace these tests fail in CI
//! (`CI` set) and are skipped, saying why, elsewhere.

mod support;

use std::sync::Mutex;

use support::{build, failed_names, require_tracer, xtask};

/// One test at a time: builds share the fetched tree and two cores, and a
/// regression-test run must not overlap a trace of the same binary.
static SERIAL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const VERSION: &str = "3.13.15";

fn build_verify_fire(flags: &[&str]) {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    build(VERSION, flags);
    let mut args = vec!["--python", VERSION];
    args.extend_from_slice(flags);
    let verify = xtask(&[&["verify"], args.as_slice()].concat());
    assert!(verify.status.success(), "verify {flags:?} failed");
    let fire = xtask(&[&["fire"], args.as_slice()].concat());
    assert!(fire.status.success(), "fire {flags:?} failed");
    let stderr = String::from_utf8_lossy(&fire.stderr);
    assert!(
        stderr.contains(" checks pass on "),
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
    // The exception and C-call probe sites sit on these paths.
    "test_exceptions",
    "test_call",
];

#[test]
fn cpython_own_tests_pass_as_on_stock() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    support::own_tests_pass_as_on_stock(VERSION, CPYTHON_TESTS);
}

#[test]
fn regrtest_failure_lists_are_read() {
    let text =
        "== Tests result: FAILURE ==\n\n2 tests failed:\n    test_gc test_sys\n\n5 tests OK.\n";
    let want: std::collections::BTreeSet<String> = ["test_gc", "test_sys"].map(String::from).into();
    assert_eq!(failed_names(text), want);
    assert!(failed_names("== Tests result: SUCCESS ==\n\nAll 7 tests OK.\n").is_empty());
}
