//! `cargo xtask patch` and `cargo xtask export-patches` end to end: the
//! real binary on a fake CPython tree and a series written here.

#[path = "../../crates/cpython-sources/tests/patch_fixture/mod.rs"]
mod patch_fixture;

use std::path::Path;
use std::process::{Command, Output};

use patch_fixture::*;

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("run xtask")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts exit code 2 and a single `error: …` line on stderr; returns it.
fn one_line_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        stdout(out)
    );
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn patch_args<'a>(tree: &'a Path, series: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "patch",
        "--python",
        "3.13.5",
        "--source",
        tree.to_str().unwrap(),
    ];
    args.extend(["--series-dir", series.to_str().unwrap()]);
    args.extend(extra);
    args
}

#[test]
fn applies_then_reports_already_applied_then_reverses() {
    let tmp = TempDir::new("cli-apply");
    let (tree, series) = (tmp.join("tree"), tmp.join("3.13"));
    fake_tree(&tree, "3.13.5");
    standard_series(&series);
    let pristine = snapshot(&tree, &[]);

    let check = xtask(&patch_args(&tree, &series, &["--check"]));
    assert!(
        check.status.success() && stdout(&check).starts_with("would apply 3 patches"),
        "{}",
        stdout(&check)
    );
    assert_eq!(snapshot(&tree, &[]), pristine);

    let first = xtask(&patch_args(&tree, &series, &[]));
    assert!(
        first.status.success() && stdout(&first).starts_with("applied 3 patches"),
        "{first:?}"
    );
    let patched = snapshot(&tree, &[]);
    assert_ne!(patched, pristine);

    let again = xtask(&patch_args(&tree, &series, &[]));
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).starts_with("already applied: 3 patches"),
        "{}",
        stdout(&again)
    );
    assert_eq!(snapshot(&tree, &[]), patched);

    let back = xtask(&patch_args(&tree, &series, &["--reverse"]));
    assert!(
        back.status.success() && stdout(&back).starts_with("reversed 3 patches"),
        "{back:?}"
    );
    assert_eq!(snapshot(&tree, &[]), pristine);
}

#[test]
fn a_series_for_another_minor_version_is_refused() {
    let tmp = TempDir::new("cli-minor");
    let series = tmp.join("3.13");
    standard_series(&series);
    let tree = tmp.join("tree");
    fake_tree(&tree, "3.11.2");
    let pristine = snapshot(&tree, &[]);
    let err = one_line_error(&xtask(&[
        "patch",
        "--python",
        "3.11.2",
        "--source",
        tree.to_str().unwrap(),
        "--series-dir",
        series.to_str().unwrap(),
    ]));
    assert!(
        err.contains("3.11.2") && err.contains("which is for 3.13"),
        "{err}"
    );
    assert_eq!(snapshot(&tree, &[]), pristine);
}

#[test]
fn failures_are_one_line_and_exit_2() {
    let tmp = TempDir::new("cli-fail");
    let series = tmp.join("3.13");
    standard_series(&series);

    let old = tmp.join("old");
    fake_tree(&old, "3.12.4");
    let err = one_line_error(&xtask(&patch_args(&old, &series, &[])));
    assert!(err.contains("3.12.4"), "{err}");

    let tree = tmp.join("tree");
    fake_tree(&tree, "3.13.5");
    let bad = tmp.join("bad/3.13");
    let broken = patch2_with(&step(17), "int step_20(void) { return 2000; }");
    write_series(
        &bad,
        &[
            (NAMES[0], patch1()),
            (NAMES[1], broken),
            (NAMES[2], patch3()),
        ],
    );
    let pristine = snapshot(&tree, &[]);
    let err = one_line_error(&xtask(&patch_args(&tree, &bad, &[])));
    assert!(
        err.contains("patch 2/3") && err.contains("Python/ceval.c") && err.contains("hunk #2"),
        "{err}"
    );
    assert_eq!(snapshot(&tree, &[]), pristine);

    let err = one_line_error(&xtask(&[
        "patch",
        "--python",
        "3.13",
        "--source",
        tree.to_str().unwrap(),
    ]));
    assert!(err.contains("3.13.5"), "{err}");
}

#[test]
fn export_patches_writes_and_refuses_foreign_directories() {
    let tmp = TempDir::new("cli-export");
    let series = tmp.join("3.13");
    standard_series(&series);
    let out = tmp.join("out");
    let s = series.to_str().unwrap();
    let o = out.to_str().unwrap();

    let done = xtask(&[
        "export-patches",
        "--python",
        "3.13",
        "--format",
        "quilt",
        "-o",
        o,
        "--series-dir",
        s,
    ]);
    assert!(
        done.status.success() && stdout(&done).contains("quilt push -a"),
        "{done:?}"
    );
    assert!(out.join("series").is_file() && out.join(NAMES[2]).is_file());

    let done = xtask(&[
        "export-patches",
        "--python",
        "3.13",
        "--format",
        "git",
        "-o",
        o,
        "--series-dir",
        s,
    ]);
    assert!(
        done.status.success() && stdout(&done).contains("git am"),
        "{done:?}"
    );

    let foreign = tmp.join("foreign");
    write(&foreign.join("mine.txt"), "x\n", 0o644);
    let f = foreign.to_str().unwrap();
    let err = one_line_error(&xtask(&[
        "export-patches",
        "--python",
        "3.13",
        "--format",
        "git",
        "-o",
        f,
        "--series-dir",
        s,
    ]));
    assert!(err.contains("not empty"), "{err}");
}
