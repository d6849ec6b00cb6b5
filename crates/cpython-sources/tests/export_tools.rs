//! The exports, checked with the packagers' own tools: Debian's quilt
//! applies the quilt export, `git am` the git export, and both give the
//! tree our own engine gives.

mod patch_fixture;

use std::fs;
use std::path::Path;
use std::process::Command;

use cpython_sources::export::{export, ExportError, Format, MARKER};
use cpython_sources::series::{Direction, Series, STAMP};
use patch_fixture::*;

/// A pristine tree, the standard series, and the tree our engine patched.
struct Setup {
    tmp: TempDir,
    series: Series,
}

impl Setup {
    fn new() -> Setup {
        let tmp = TempDir::new("export");
        fake_tree(&tmp.join("pristine"), "3.13.5");
        standard_series(&tmp.join("patches/3.13"));
        copy_tree(&tmp.join("pristine"), &tmp.join("ours"));
        let series = Series::load(&tmp.join("patches/3.13")).unwrap();
        series
            .run(&tmp.join("ours"), Direction::Apply, false)
            .unwrap();
        Setup { tmp, series }
    }

    fn ours(&self) -> std::collections::BTreeMap<String, Entry> {
        snapshot(&self.tmp.join("ours"), &[STAMP])
    }
}

#[test]
fn quilt_push_applies_the_quilt_export_like_we_do() {
    let s = Setup::new();
    let out = s.tmp.join("quilt-out");
    let done = export(&s.series, Format::Quilt, &out).unwrap();
    assert_eq!(done.files, [NAMES[0], NAMES[1], NAMES[2], "series"]);
    // The patch files are copied unchanged.
    for name in NAMES {
        assert_eq!(
            fs::read(out.join(name)).unwrap(),
            fs::read(s.tmp.join("patches/3.13").join(name)).unwrap()
        );
    }

    let tree = s.tmp.join("by-quilt");
    copy_tree(&s.tmp.join("pristine"), &tree);
    run_ok(
        Command::new("quilt")
            .args(["--quiltrc=-", "push", "-a"])
            .env("QUILT_PATCHES", &out)
            .current_dir(&tree),
    );
    assert_eq!(snapshot(&tree, &[".pc"]), s.ours());

    // And our engine sees quilt's result as already patched.
    let again = s.series.run(&tree, Direction::Apply, false).unwrap();
    assert_eq!(
        again,
        cpython_sources::series::Outcome::AlreadyApplied { patches: 3 }
    );
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    cmd
}

#[test]
fn git_am_applies_the_git_export_like_we_do() {
    let s = Setup::new();
    let out = s.tmp.join("git-out");
    let done = export(&s.series, Format::Git, &out).unwrap();
    assert_eq!(
        done.files,
        [
            "0001-Add-with-dtrace-to-configure.patch",
            "0002-Fire-the-line-probe-in-ceval.patch",
            "0003-Ship-the-SystemTap-tapset-and-a-checker.patch"
        ]
    );

    let tree = s.tmp.join("by-git");
    copy_tree(&s.tmp.join("pristine"), &tree);
    run_ok(git(&tree).args(["init", "-q", "-b", "main"]));
    run_ok(git(&tree).args(["config", "user.name", "Test Packager"]));
    run_ok(git(&tree).args(["config", "user.email", "packager@example.org"]));
    run_ok(git(&tree).args(["add", "-A"]));
    run_ok(git(&tree).args(["commit", "-q", "-m", "pristine 3.13.5"]));
    run_ok(
        git(&tree)
            .arg("am")
            .args(done.files.iter().map(|f| out.join(f))),
    );
    assert_eq!(snapshot(&tree, &[".git"]), s.ours());

    // Commits carry the DEP-3 metadata.
    let log = run_ok(git(&tree).args([
        "log",
        "--reverse",
        "--format=%an|%ae|%ad|%s",
        "--date=short",
        "-3",
    ]));
    let log = String::from_utf8(log.stdout).unwrap();
    let first = log.lines().next().unwrap_or("");
    assert_eq!(
        first,
        "Łukasz Tester|lukasz@example.org|2025-06-03|Add --with-dtrace to configure"
    );
    let body = run_ok(git(&tree).args(["log", "-1", "--format=%b", "HEAD~2"]));
    let body = String::from_utf8(body.stdout).unwrap();
    assert!(
        body.contains("Why: the probes need it.\n\nSecond paragraph."),
        "{body}"
    );
    assert!(
        body.contains("Origin: vendor, https://example.org/cpython-dtrace"),
        "{body}"
    );
}

#[test]
fn the_output_directory_must_be_ours_or_empty() {
    let s = Setup::new();
    // A foreign non-empty directory is refused and left alone.
    let foreign = s.tmp.join("foreign");
    write(&foreign.join("notes.txt"), "mine\n", 0o644);
    let err = export(&s.series, Format::Quilt, &foreign).unwrap_err();
    assert!(matches!(err, ExportError::NotOurs { .. }), "{err}");
    assert_eq!(snapshot(&foreign, &[]).len(), 1);

    // A previous export is replaced; user files beside it survive; files of
    // the old export that the new one lacks are removed.
    let out = s.tmp.join("out");
    export(&s.series, Format::Quilt, &out).unwrap();
    write(&out.join("README.packager"), "keep me\n", 0o644);
    export(&s.series, Format::Git, &out).unwrap();
    let names: Vec<String> = snapshot(&out, &[]).into_keys().collect();
    assert!(names.contains(&"README.packager".to_string()));
    assert!(names.contains(&"0001-Add-with-dtrace-to-configure.patch".to_string()));
    assert!(
        !names.contains(&"series".to_string()) && !names.contains(&NAMES[0].to_string()),
        "{names:?}"
    );
    assert!(names.contains(&MARKER.to_string()));

    // A user file where the export would write is not overwritten.
    let clash = s.tmp.join("clash");
    export(&s.series, Format::Git, &clash).unwrap();
    write(&clash.join("series"), "user series\n", 0o644);
    let err = export(&s.series, Format::Quilt, &clash).unwrap_err();
    assert!(matches!(err, ExportError::WouldOverwrite { .. }), "{err}");
    assert_eq!(
        fs::read_to_string(clash.join("series")).unwrap(),
        "user series\n"
    );
}
