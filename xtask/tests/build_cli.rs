//! `cargo xtask build` and `cargo xtask verify`, the fast parts: refusals,
//! and verify on fake installs whose `bin/python3` is a small C program
//! with probes from our own `cargo xtask header`. Real CPython builds are
//! exercised by the fire tests; one test here reuses their default build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod support;

/// Every probe of provider.d, fired with the declared C types.
const FULL_C: &str = r#"
#include "probes.h"

#define SEM(name) unsigned short python_##name##_semaphore __attribute__((section(".probes")));
SEM(function__entry) SEM(function__return) SEM(line) SEM(gc__start) SEM(gc__done)
SEM(import__find__load__start) SEM(import__find__load__done) SEM(audit)
SEM(instance__new__start) SEM(instance__new__done) SEM(instance__delete__start)
SEM(instance__delete__done) SEM(gil__acquire__start) SEM(gil__acquire__done)
SEM(gil__release) SEM(thread__start) SEM(thread__end) SEM(cfunction__entry)
SEM(cfunction__return) SEM(exception__raise) SEM(exception__handled)

int main(int argc, char **argv)
{
    const char *file = argv[0];
    const char *func = "main";
    int lineno = argc;
    long collected = argc * 2L;
    void *obj = argv;
    PYTHON_FUNCTION_ENTRY(file, func, lineno);
    PYTHON_FUNCTION_RETURN(file, func, lineno);
    PYTHON_LINE(file, func, lineno);
    PYTHON_GC_START(lineno);
    PYTHON_GC_DONE(collected);
    PYTHON_IMPORT_FIND_LOAD_START(func);
    PYTHON_IMPORT_FIND_LOAD_DONE(func, lineno);
    PYTHON_AUDIT(func, obj);
    PYTHON_INSTANCE_NEW_START(func, file);
    PYTHON_INSTANCE_NEW_DONE(func, file, obj);
    PYTHON_INSTANCE_DELETE_START(func, file, obj);
    PYTHON_INSTANCE_DELETE_DONE(func, file);
    PYTHON_GIL_ACQUIRE_START();
    PYTHON_GIL_ACQUIRE_DONE();
    PYTHON_GIL_RELEASE();
    PYTHON_THREAD_START((unsigned long)argc, (unsigned long)lineno);
    PYTHON_THREAD_END((unsigned long)argc, (unsigned long)lineno);
    PYTHON_CFUNCTION_ENTRY(func, file);
    PYTHON_CFUNCTION_RETURN(func, file);
    PYTHON_EXCEPTION_RAISE(func, file, func, lineno);
    PYTHON_EXCEPTION_HANDLED(func, file, func, lineno);
    return 0;
}
"#;

/// This test binary's scratch directory.
fn dir() -> &'static Path {
    support::scratch_dir("build-cli")
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        // A skipped bpftrace check is a warning here, not a CI failure.
        .env_remove("CI")
        .output()
        .expect("run xtask")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit code 2 and a single `error: …` line; returns the message.
fn one_line_error(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{}{err}", stdout(out));
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    err.strip_prefix("error: ")
        .expect("error: prefix")
        .trim_end()
        .to_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Our sdt header for provider.d, written once.
fn header() -> &'static Path {
    static H: OnceLock<PathBuf> = OnceLock::new();
    H.get_or_init(|| {
        let h = dir().join("probes.h");
        let out = xtask(&["header", "--style", "sdt", "-o", path(&h)]);
        assert!(out.status.success(), "{}", stderr(&out));
        h
    })
}

/// A fake install prefix whose `bin/<names>` are `source` compiled.
fn fake_install(name: &str, source: &str, names: &[&str]) -> PathBuf {
    header();
    let c = dir().join(format!("{name}.c"));
    std::fs::write(&c, source).unwrap();
    let prefix = dir().join(name);
    let bin = prefix.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join(names[0]);
    let status = Command::new("cc")
        .args(["-O2", "-I", path(dir()), "-o", path(&exe), path(&c)])
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed for {name}");
    for other in &names[1..] {
        std::fs::copy(&exe, bin.join(other)).unwrap();
    }
    prefix
}

fn full_install() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| fake_install("full", FULL_C, &["python3", "python2"]))
}

/// What the bpftrace part of the summary says on this machine.
fn bpftrace_word() -> &'static str {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|id| id == "0"))
        .unwrap_or(false);
    let installed = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("bpftrace").is_file()));
    if root && installed {
        "bpftrace agrees"
    } else {
        "bpftrace skipped"
    }
}

#[test]
fn a_foreign_platform_is_refused() {
    let out = xtask(&["build", "--platform", "freebsd"]);
    assert_eq!(
        one_line_error(&out),
        "building for freebsd needs a freebsd host (this is linux); `--dry-run` prints the plan on any host"
    );
}

#[test]
fn an_unknown_version_is_refused_listing_the_supported_ones() {
    let out = xtask(&["build", "--python", "3.12.1"]);
    assert_eq!(
        one_line_error(&out),
        "unknown version 3.12.1; supported: 2.7.18, 3.9.2, 3.11.2, 3.13.5, 3.13.15"
    );
    let out = xtask(&["verify", "--python", "3.12.1"]);
    assert!(one_line_error(&out).starts_with("unknown version 3.12.1"));
}

#[test]
fn stock_and_plain_exclude_each_other() {
    let out = xtask(&["build", "--stock", "--plain"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("'--stock' cannot be used with '--plain'"),
        "{err}"
    );
}

#[test]
fn free_threading_needs_3_13() {
    let out = xtask(&["build", "--python", "3.11.2", "--free-threaded"]);
    assert!(
        one_line_error(&out).starts_with("--free-threaded needs CPython 3.13 or later"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_system_dtrace_says_what_to_install() {
    // Refused while planning, before anything is fetched or removed.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["build", "--stock", "--dtrace", "system"])
        .env("PATH", dir().join("empty-path"))
        .output()
        .expect("run xtask");
    assert_eq!(
        one_line_error(&out),
        "no system dtrace: install systemtap-sdt-dev, or use --dtrace ours"
    );
}

#[test]
fn verify_without_a_build_says_how_to_make_one() {
    let missing = dir().join("no-such-install");
    let out = xtask(&["verify", "--shared", "--install-dir", path(&missing)]);
    assert_eq!(
        one_line_error(&out),
        format!(
            "no build at {}; run `cargo xtask build --python 3.13.15 --shared` first",
            missing.display()
        )
    );
    let out = xtask(&["verify", "--plain"]);
    assert!(one_line_error(&out).starts_with("a --plain build has no probes"));
}

#[test]
fn a_faithful_fake_passes_every_check_against_the_committed_listing() {
    let out = xtask(&["verify", "--install-dir", path(full_install())]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        stdout(&out),
        format!(
            "verify: 21/21 probes, readelf agrees, {}, listing matches ci/expected/3.13-linux.json\n",
            bpftrace_word()
        )
    );
}

#[test]
fn update_expected_writes_the_committed_listing_byte_for_byte() {
    let written = dir().join("written.json");
    let out = xtask(&[
        "verify",
        "--install-dir",
        path(full_install()),
        "--expected",
        path(&written),
        "--update-expected",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/expected/3.13-linux.json");
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        std::fs::read_to_string(committed).unwrap()
    );
}

#[test]
fn a_missing_probe_a_wrong_arg_count_and_a_wrong_size_are_all_reported() {
    let broken = FULL_C
        .replace("    PYTHON_AUDIT(func, obj);\n", "")
        .replace(
            "PYTHON_GC_START(lineno);",
            "DTRACE_PROBE2(python, gc__start, lineno, lineno);",
        )
        .replace("PYTHON_GC_DONE(collected);", "PYTHON_GC_DONE(lineno);");
    assert_ne!(broken, FULL_C);
    let prefix = fake_install("broken", &broken, &["python3"]);
    let out = xtask(&["verify", "--install-dir", path(&prefix)]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("problem: python:audit is missing (provider.d promises it for 3.13.15)\n"),
        "{text}"
    );
    assert!(
        text.contains(" has 2 arguments, provider.d declares 1 (int)\n")
            && text.contains("problem: python:gc__start at python3 pc 0x"),
        "{text}"
    );
    assert!(
        text.contains(": argument 1 is -4 (`-4@")
            && text.contains("provider.d declares long (-8)\n"),
        "{text}"
    );
    // The listing drift names both sides of each changed line.
    assert!(
        text.contains("--- ci/expected/3.13-linux.json\n+++ this build\n"),
        "{text}"
    );
    assert!(
        text.contains("\n-  {\"provider\": \"python\", \"name\": \"audit\", \"args\": [8, 8], \"semaphore\": true},\n"),
        "{text}"
    );
    assert!(
        text.contains("\n+  {\"provider\": \"python\", \"name\": \"gc__start\", \"args\": [-4, -4], \"semaphore\": true},\n"),
        "{text}"
    );
    assert!(
        text.contains("\n+  {\"provider\": \"python\", \"name\": \"gc__done\", \"args\": [-4], \"semaphore\": true},\n"),
        "{text}"
    );
    let summary = text.lines().last().unwrap();
    assert!(
        summary.starts_with("verify: FAILED with 4 problem(s): 18/21 probes, readelf agrees, ")
            && summary.ends_with(", listing differs from ci/expected/3.13-linux.json"),
        "{summary}"
    );
}

#[test]
fn a_drift_from_the_expected_listing_alone_fails_with_a_diff() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/expected/3.13-linux.json");
    let text = std::fs::read_to_string(committed).unwrap();
    let old_line = r#""name": "line", "args": [8, 8, -4]"#;
    assert!(text.contains(old_line));
    let drifted = dir().join("drifted.json");
    std::fs::write(
        &drifted,
        text.replace(old_line, r#""name": "line", "args": [8, -4]"#),
    )
    .unwrap();
    let out = xtask(&[
        "verify",
        "--install-dir",
        path(full_install()),
        "--expected",
        path(&drifted),
    ]);
    // Paths inside the repository are shown relative to it.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let shown = drifted.strip_prefix(repo).unwrap_or(&drifted);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("+++ this build\n"), "{text}");
    assert!(
        text.contains("\n-  {\"provider\": \"python\", \"name\": \"line\", \"args\": [8, -4], \"semaphore\": true},\n+  {\"provider\": \"python\", \"name\": \"line\", \"args\": [8, 8, -4], \"semaphore\": true},\n"),
        "{text}"
    );
    assert!(text.ends_with(&format!(
        "verify: FAILED with 1 problem(s): 21/21 probes, readelf agrees, {}, listing differs from {}\n",
        bpftrace_word(),
        shown.display()
    )), "{text}");
}

#[test]
fn a_probe_newer_than_the_release_is_an_error() {
    // audit is @since 3.8; a 2.7 interpreter must not have it.
    let out = xtask(&[
        "verify",
        "--python",
        "2.7.18",
        "--install-dir",
        path(full_install()),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("problem: python:audit is in the build (1 site(s)) but provider.d has it only from 3.8\n"),
        "{text}"
    );
    assert!(text.contains(": 20/20 probes, "), "{text}");
    // The hand-written 2.7 listing has no audit either.
    assert!(
        text.contains("listing drift (- ci/expected/2.7-linux.json, + this build)")
            && text.contains("+  {\"provider\": \"python\", \"name\": \"audit\""),
        "{text}"
    );
}

/// Our dtrace as `cargo xtask build` finds it: Cargo's JSON messages name
/// the `dtrace` executable of crates/dtrace-cli (up to date: no rebuild).
fn our_dtrace() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .current_dir(repo)
        .args([
            "build",
            "--quiet",
            "-p",
            "dtrace-cli",
            "--message-format=json",
        ])
        .output()
        .expect("run cargo build -p dtrace-cli");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "dtrace")
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no dtrace executable")
}

/// The default build (`--dtrace ours`) runs our dtrace for `-h` and `-G`,
/// not the first dtrace on PATH (SystemTap's /usr/bin/dtrace). configure
/// empties DTRACE before AC_PATH_PROG looks for it, so `DTRACE=` on its
/// command line was silently ignored; `ac_cv_path_DTRACE=` is what it
/// honours. Reuses the fire tests' default 3.13.15 build (a no-op when it is
/// up to date), so CI builds nothing more.
#[test]
fn the_default_build_makes_its_probe_header_with_our_dtrace() {
    const VERSION: &str = "3.13.15";
    support::build(VERSION, &[]);
    let ours = our_dtrace();
    // The Makefile's DTRACE, as the install recorded it.
    let python = support::python_of(VERSION, "");
    let out = Command::new(&python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_config_var('DTRACE'))",
        ])
        .output()
        .expect("run the built python");
    assert!(out.status.success(), "{}", stderr(&out));
    let configured = stdout(&out).trim().to_owned();
    assert_eq!(
        Path::new(&configured),
        ours,
        "the build's Makefile runs {configured}, not our dtrace"
    );
    // The header make generated: ours says so in its banner; SystemTap's
    // says "Generated by the Systemtap dtrace wrapper".
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/cpython/.build")
        .join(format!("{VERSION}-linux"))
        .join("src");
    let makefile = std::fs::read_to_string(src.join("Makefile")).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build again: cargo xtask build --python {VERSION} --force",
            src.display()
        )
    });
    let dtrace_line = makefile
        .lines()
        .find_map(|l| l.strip_prefix("DTRACE="))
        .map(str::trim);
    assert_eq!(dtrace_line, Some(configured.as_str()));
    let header = std::fs::read_to_string(src.join("Include/pydtrace_probes.h")).unwrap();
    assert!(
        header.contains("Generated by cpython-dtrace"),
        "Include/pydtrace_probes.h is not our dtrace's:\n{}",
        header.lines().take(5).collect::<Vec<_>>().join("\n")
    );
}
