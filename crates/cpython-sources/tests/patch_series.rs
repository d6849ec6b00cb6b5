//! The patch-series engine on real trees: all or nothing, idempotent,
//! reversible byte for byte, and refusing what it should refuse.

mod patch_fixture;

use std::fs;
use std::process::Command;

use cpython_sources::patch::{FileFailure, Mismatch};
use cpython_sources::series::{Direction, Outcome, Series, SeriesError, STAMP};
use patch_fixture::*;

/// A pristine 3.13.5 tree and the standard series, in one temp dir.
struct Setup {
    _tmp: TempDir,
    tree: std::path::PathBuf,
    series_dir: std::path::PathBuf,
}

fn setup(version: &str) -> Setup {
    let tmp = TempDir::new("series");
    let tree = tmp.join("Python-src");
    let series_dir = tmp.join("patches/3.13");
    fake_tree(&tree, version);
    standard_series(&series_dir);
    Setup {
        _tmp: tmp,
        tree,
        series_dir,
    }
}

fn load(s: &Setup) -> Series {
    Series::load(&s.series_dir).expect("series loads")
}

#[test]
fn applies_reapplies_and_reverses_exactly() {
    let s = setup("3.13.5");
    let series = load(&s);
    let pristine = snapshot(&s.tree, &[]);

    let outcome = series.run(&s.tree, Direction::Apply, false).unwrap();
    let Outcome::Changed {
        patches: 3,
        files,
        dry_run: false,
        ..
    } = outcome
    else {
        panic!("unexpected outcome {outcome:?}");
    };
    assert_eq!(files.len(), 6, "{files:?}");
    let patched = snapshot(&s.tree, &[]);
    let text = |rel: &str| String::from_utf8(fs::read(s.tree.join(rel)).unwrap()).unwrap();
    assert!(text("Python/ceval.c").contains("#include \"pydtrace.h\"\nint step_7"));
    assert!(text("Python/ceval.c").contains("PyDTrace_LINE(20)"));
    assert!(text("configure").contains("DTRACE=${DTRACE-dtrace}"));
    assert!(text("Makefile.pre.in").ends_with("ceval.c\n\nDTRACE_OBJS = Python/pydtrace.o\n"));
    // Modes: configure stays executable, the new script is executable.
    assert_eq!(
        patched["configure"],
        Entry::File(fs::read(s.tree.join("configure")).unwrap(), 0o755)
    );
    assert!(matches!(
        patched["Tools/dtrace/check.sh"],
        Entry::File(_, 0o755)
    ));
    assert!(matches!(
        patched["Misc/dtrace/python.stp"],
        Entry::File(_, 0o644)
    ));
    assert!(text(STAMP).contains("0002-ceval-line-probe.patch"));
    // No backup, reject or temporary files anywhere.
    assert!(patched
        .keys()
        .all(|k| !k.ends_with(".orig") && !k.ends_with(".rej") && !k.contains("tmp")));

    // Again: recognised, nothing touched.
    let again = series.run(&s.tree, Direction::Apply, false).unwrap();
    assert_eq!(again, Outcome::AlreadyApplied { patches: 3 });
    assert_eq!(snapshot(&s.tree, &[]), patched);

    // Reverse: byte- and mode-identical to pristine, new directories gone.
    let back = series.run(&s.tree, Direction::Reverse, false).unwrap();
    assert!(matches!(
        back,
        Outcome::Changed {
            direction: Direction::Reverse,
            patches: 3,
            ..
        }
    ));
    assert_eq!(snapshot(&s.tree, &[]), pristine);

    // Reversing a pristine tree does nothing.
    let none = series.run(&s.tree, Direction::Reverse, false).unwrap();
    assert_eq!(none, Outcome::NotApplied { patches: 3 });
    assert_eq!(snapshot(&s.tree, &[]), pristine);
}

#[test]
fn a_tree_patched_without_the_stamp_is_recognised() {
    // As after `quilt push -a`: patched, but no stamp of ours.
    let s = setup("3.13.5");
    let series = load(&s);
    series.run(&s.tree, Direction::Apply, false).unwrap();
    fs::remove_file(s.tree.join(STAMP)).unwrap();
    let patched = snapshot(&s.tree, &[]);
    assert_eq!(
        series.run(&s.tree, Direction::Apply, false).unwrap(),
        Outcome::AlreadyApplied { patches: 3 }
    );
    assert_eq!(snapshot(&s.tree, &[]), patched);
}

#[test]
fn check_changes_nothing() {
    let s = setup("3.13.5");
    let series = load(&s);
    let pristine = snapshot(&s.tree, &[]);
    let outcome = series.run(&s.tree, Direction::Apply, true).unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Changed {
                dry_run: true,
                patches: 3,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(snapshot(&s.tree, &[]), pristine);

    series.run(&s.tree, Direction::Apply, false).unwrap();
    let patched = snapshot(&s.tree, &[]);
    let outcome = series.run(&s.tree, Direction::Reverse, true).unwrap();
    assert!(matches!(
        outcome,
        Outcome::Changed {
            dry_run: true,
            direction: Direction::Reverse,
            ..
        }
    ));
    assert_eq!(snapshot(&s.tree, &[]), patched);
}

#[test]
fn failing_second_patch_leaves_the_tree_untouched() {
    let s = setup("3.13.5");
    let bad = patch2_with(&step(17), "int step_20(void) { return 2000; }");
    write(&s.series_dir.join(NAMES[1]), &bad, 0o644);
    let series = load(&s);
    let pristine = snapshot(&s.tree, &[]);
    let err = series.run(&s.tree, Direction::Apply, false).unwrap_err();
    let SeriesError::DoesNotApply { failure } = &err else {
        panic!("unexpected error {err}")
    };
    assert_eq!(
        (
            failure.number,
            failure.patch.as_str(),
            failure.file.as_str()
        ),
        (2, NAMES[1], "Python/ceval.c")
    );
    assert!(
        matches!(&failure.why, FileFailure::Hunk(h) if h.number == 2 && h.why == Mismatch::NoMatch)
    );
    let message = err.to_string();
    assert!(
        message.contains("patch 2/3 0002-ceval-line-probe.patch") && message.contains("hunk #2"),
        "{message}"
    );
    assert_eq!(
        snapshot(&s.tree, &[]),
        pristine,
        "patch 1 must not have been written"
    );
}

#[test]
fn a_patch_needing_fuzz_is_refused_though_gnu_patch_would_take_it() {
    let s = setup("3.13.5");
    let fuzzy = patch2_with("int step_17(void) { return 170; }", &step(20));
    write(&s.series_dir.join(NAMES[1]), &fuzzy, 0o644);

    // GNU patch at its default fuzz applies it, so this is a real fuzz case.
    let probe = TempDir::new("fuzz-probe");
    copy_tree(&s.tree, probe.path());
    let gnu = run_ok(
        Command::new("patch")
            .args(["-p1", "--dry-run", "-i"])
            .arg(s.series_dir.join(NAMES[1]))
            .current_dir(probe.path()),
    );
    assert!(String::from_utf8_lossy(&gnu.stdout).contains("fuzz 1"));

    let series = load(&s);
    let pristine = snapshot(&s.tree, &[]);
    let err = series.run(&s.tree, Direction::Apply, false).unwrap_err();
    let SeriesError::DoesNotApply { failure } = &err else {
        panic!("unexpected error {err}")
    };
    assert!(
        matches!(&failure.why, FileFailure::Hunk(h) if h.why == Mismatch::Fuzz(1)),
        "{err}"
    );
    assert!(err.to_string().contains("fuzz"), "{err}");
    assert_eq!(snapshot(&s.tree, &[]), pristine);
}

#[test]
fn a_partly_patched_tree_is_reported_and_left_alone() {
    let s = setup("3.13.5");
    let first = s.series_dir.parent().unwrap().join("first-only");
    write_series(&first, &[(NAMES[0], patch1())]);
    Series::load(&first)
        .unwrap()
        .run(&s.tree, Direction::Apply, false)
        .unwrap();
    fs::remove_file(s.tree.join(STAMP)).unwrap();
    let partial = snapshot(&s.tree, &[]);

    let series = load(&s);
    for direction in [Direction::Apply, Direction::Reverse] {
        let err = series.run(&s.tree, direction, false).unwrap_err();
        assert!(
            matches!(
                err,
                SeriesError::Partial {
                    applied: 1,
                    total: 3,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("1 of 3 patches") && err.to_string().contains(NAMES[0]),
            "{err}"
        );
        assert_eq!(snapshot(&s.tree, &[]), partial);
    }
}

#[test]
fn a_stamped_tree_changed_since_is_refused() {
    let s = setup("3.13.5");
    let series = load(&s);
    series.run(&s.tree, Direction::Apply, false).unwrap();
    write(&s.tree.join("Python/ceval.c"), "edited\n", 0o644);
    let edited = snapshot(&s.tree, &[]);
    for direction in [Direction::Apply, Direction::Reverse] {
        let err = series.run(&s.tree, direction, false).unwrap_err();
        assert!(matches!(err, SeriesError::Modified { .. }), "{err}");
        assert_eq!(snapshot(&s.tree, &[]), edited);
    }
}

#[test]
fn a_stamp_from_another_revision_is_refused() {
    let s = setup("3.13.5");
    load(&s).run(&s.tree, Direction::Apply, false).unwrap();
    // The series changes after the tree was patched.
    write(&s.series_dir.join(NAMES[2]), &(patch3() + "\n"), 0o644);
    let err = load(&s)
        .run(&s.tree, Direction::Reverse, false)
        .unwrap_err();
    assert!(matches!(err, SeriesError::OtherRevision { .. }), "{err}");
    assert!(err.to_string().contains(NAMES[2]), "{err}");
}

#[test]
fn trees_of_other_versions_are_refused_naming_the_version() {
    let s = setup("3.12.4");
    let err = load(&s)
        .check_tree_version(&s.tree, "3.13.5", false)
        .unwrap_err();
    assert!(
        matches!(&err, SeriesError::WrongVersion { found, .. } if found == "3.12.4"),
        "{err}"
    );
    assert!(err.to_string().contains("3.12.4"));
    // Not even with --allow-other-micro.
    assert!(load(&s)
        .check_tree_version(&s.tree, "3.13.5", true)
        .is_err());

    let s = setup("3.13.7");
    let err = load(&s)
        .check_tree_version(&s.tree, "3.13.5", false)
        .unwrap_err();
    assert!(
        err.to_string().contains("3.13.7") && err.to_string().contains("--allow-other-micro"),
        "{err}"
    );
    assert_eq!(
        load(&s)
            .check_tree_version(&s.tree, "3.13.5", true)
            .unwrap(),
        "3.13.7"
    );
    assert_eq!(
        load(&s)
            .check_tree_version(&s.tree, "3.13.7", false)
            .unwrap(),
        "3.13.7"
    );

    // --python must be a full release, and of the series' X.Y.
    assert!(matches!(
        load(&s).check_tree_version(&s.tree, "3.13", false),
        Err(SeriesError::BadPython { .. })
    ));
    assert!(matches!(
        load(&s).check_tree_version(&s.tree, "3.12.4", true),
        Err(SeriesError::SeriesForOtherMinor { .. })
    ));
}

#[test]
fn a_missing_dep3_field_is_refused_naming_patch_and_field() {
    let s = setup("3.13.5");
    let text = patch3().replace("Forwarded: not-needed\n", "");
    write(&s.series_dir.join(NAMES[2]), &text, 0o644);
    let err = Series::load(&s.series_dir).unwrap_err().to_string();
    assert!(
        err.contains(NAMES[2]) && err.contains("Forwarded:"),
        "{err}"
    );
}

#[test]
fn a_symlink_in_the_way_is_refused() {
    let s = setup("3.13.5");
    fs::remove_file(s.tree.join("configure")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", s.tree.join("configure")).unwrap();
    let err = load(&s).run(&s.tree, Direction::Apply, false).unwrap_err();
    assert!(matches!(err, SeriesError::Unsafe { .. }), "{err}");
}
