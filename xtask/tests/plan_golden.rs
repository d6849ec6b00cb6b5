//! `cargo xtask build --platform P --python V --dry-run` prints the plan of
//! tests/golden/plans/<P>-<V>[-variant].txt, byte for byte, on this host
//! whatever P is; without `--dry-run` a foreign platform is refused with a
//! message that names `--dry-run`.
//!
//! The goldens were reviewed by hand against the platform facts cited in
//! xtask/src/platform.rs (its unit tests render the same plans directly).

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn xtask_clean_env(args: &[&str]) -> Output {
    // The plan of a shared build reads LDFLAGS; the goldens have none.
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env_remove("LDFLAGS")
        .output()
        .expect("run xtask")
}

/// `linux-3.13.15-shared-ft` → the build flags it stands for.
fn flags_of(stem: &str) -> Vec<String> {
    let mut parts = stem.split('-');
    let platform = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    let mut flags = vec![
        "build".to_owned(),
        "--platform".to_owned(),
        platform.to_owned(),
        "--python".to_owned(),
        version.to_owned(),
    ];
    for part in parts {
        flags.push(
            match part {
                "shared" => "--shared",
                "ft" => "--free-threaded",
                "stock" => "--stock",
                "plain" => "--plain",
                other => panic!("{stem}: unknown variant {other:?} in a golden's name"),
            }
            .to_owned(),
        );
    }
    flags.push("--dry-run".to_owned());
    flags
}

#[test]
fn every_golden_plan_is_what_dry_run_prints() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/plans");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/golden/plans exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    // Every platform × release of versions.toml has one.
    for platform in ["linux", "freebsd", "macos", "illumos"] {
        for version in ["2.7.18", "3.9.2", "3.11.2", "3.13.5", "3.13.15"] {
            let name = format!("{platform}-{version}.txt");
            assert!(names.contains(&name), "no golden {name}");
        }
    }
    let mut problems = Vec::new();
    for name in &names {
        let stem = name.trim_end_matches(".txt");
        let args = flags_of(stem);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = xtask_clean_env(&args);
        let want = std::fs::read_to_string(dir.join(name)).unwrap();
        let got = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            problems.push(format!(
                "cargo xtask {}: failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        } else if got != want {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .map_or_else(|| "(length)".to_owned(), |i| format!("line {}", i + 1));
            problems.push(format!(
                "cargo xtask {}: differs from {name} at {line}",
                args.join(" ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_foreign_platform_is_refused_without_dry_run() {
    let out = support::xtask(&["build", "--platform", "illumos", "--python", "3.13.15"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("building for illumos needs an illumos host (this is "),
        "{err}"
    );
    assert!(
        err.contains("`--dry-run` prints the plan on any host"),
        "{err}"
    );
    // Nothing was started: no build dir for that id.
    let build_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/cpython/.build/3.13.15-illumos");
    assert!(!build_dir.exists(), "{} was created", build_dir.display());
}
