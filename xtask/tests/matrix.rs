//! The version matrix end to end: `cargo xtask matrix` builds, verifies and
//! fires the patched interpreter of every supported release, and CPython's
//! own tests pass on each patched build wherever they pass on its stock one.
//!
//! Builds are reused when nothing changed, so only the first run on a
//! machine pays for compiling. The tracer is required: without root or
//! bpftrace these tests fail in CI (`CI` set) and are skipped elsewhere.

mod support;

use std::sync::Mutex;

use support::{require_tracer, xtask};

/// One test at a time: builds share two cores, and a regression-test run
/// must not overlap a trace of the same binary.
static SERIAL: Mutex<()> = Mutex::new(());

/// Every release of versions.toml: the matrix must list each, all green.
const RELEASES: [&str; 5] = ["2.7.18", "3.9.2", "3.11.2", "3.13.5", "3.13.15"];

#[test]
fn every_release_builds_verifies_and_fires() {
    if !require_tracer() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let out = xtask(&["matrix"]);
    assert!(out.status.success(), "cargo xtask matrix failed");
    let summary =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/matrix/summary.json");
    let text = std::fs::read_to_string(&summary).expect("matrix writes summary.json");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).expect("summary.json parses");
    for release in RELEASES {
        let row = rows
            .iter()
            .find(|r| r["release"] == release && r["variant"] == "patched")
            .unwrap_or_else(|| panic!("no row for {release} in {text}"));
        assert_eq!(row["built"], true, "{release}: {row}");
        let full = |cell: &serde_json::Value| {
            cell[0].as_u64().is_some_and(|n| n > 0) && cell[0] == cell[1]
        };
        // 2.7 has no audit hooks: 20 probes; every later release: 21.
        let promised = if release.starts_with("2.") { 20 } else { 21 };
        assert_eq!(row["listed"][1], promised, "{release}: {row}");
        assert!(
            full(&row["listed"]),
            "{release}: not every probe listed: {row}"
        );
        assert!(
            full(&row["fired"]),
            "{release}: not every probe fired: {row}"
        );
        assert!(full(&row["checks"]), "{release}: fire checks failed: {row}");
    }
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| CPython | build | built | probes listed |"),
        "no summary table:\n{table}"
    );
}

/// CPython's own tests that the patches could break, per version (2.7 has
/// no test_dtrace).
fn own_tests(version: &str) -> Vec<&'static str> {
    let mut tests = vec![
        "test_gc",
        "test_sys",
        "test_sys_settrace",
        "test_generators",
        "test_threading",
        "test_exceptions",
    ];
    if !version.starts_with("2.") {
        tests.push("test_dtrace");
    }
    tests
}

fn own_tests_pass_as_on_stock(version: &str) {
    if !require_tracer() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    support::own_tests_pass_as_on_stock(version, &own_tests(version));
}

#[test]
fn own_tests_2_7() {
    own_tests_pass_as_on_stock("2.7.18");
}

#[test]
fn own_tests_3_9() {
    own_tests_pass_as_on_stock("3.9.2");
}

#[test]
fn own_tests_3_11() {
    own_tests_pass_as_on_stock("3.11.2");
}
