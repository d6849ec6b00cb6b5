//! `cargo xtask probes` end to end: the real binary on compiled fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod support;

const FIXTURE_C: &str = r#"
#include <sys/sdt.h>

int main(int argc, char **argv)
{
    long big = argc * 1000L;
    DTRACE_PROBE3(fx, start, argc, argv[0], big);
    DTRACE_PROBE1(fx, done, argc);
    return 0;
}
"#;

const OTHER_C: &str = r#"
#include <sys/sdt.h>

void other(int code) { DTRACE_PROBE1(other, fired, code); }
"#;

/// This test binary's scratch directory.
fn dir() -> &'static Path {
    support::scratch_dir("probes-cli")
}

fn compile(name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let c = dir().join(format!("{name}.c"));
    std::fs::write(&c, source).unwrap();
    let out = dir().join(name);
    let status = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&c)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed for {name}");
    out
}

fn fixture() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| compile("fx", FIXTURE_C, &["-O2"]))
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("probes")
        .args(args)
        .output()
        .expect("run xtask")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write_d(name: &str, text: &str) -> PathBuf {
    let d = dir().join(name);
    std::fs::write(&d, text).unwrap();
    d
}

#[test]
fn non_elf_file_is_exit_2_with_one_line() {
    let source = dir().join("not-elf.txt");
    std::fs::write(&source, "hello\n").unwrap();
    let out = xtask(&[path(&source)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not an ELF file"), "{stderr}");
    assert!(stderr.contains("not-elf.txt"), "{stderr}");
}

#[test]
fn missing_file_is_exit_2_with_one_line() {
    let missing = dir().join("no-such-binary");
    let out = xtask(&[path(&missing)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no-such-binary"), "{stderr}");
}

#[test]
fn lists_the_probes_of_a_compiled_fixture() {
    let out = xtask(&[path(fixture())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    // done(int): no semaphore, one signed 4-byte argument.
    assert_eq!(
        (rows[0][0], rows[0][1], rows[0][3], rows[0][4]),
        ("fx", "done", "-", "-")
    );
    assert!(rows[0][5].starts_with("-4@"), "{stdout}");
    // start(int, char *, long)
    assert_eq!((rows[1][0], rows[1][1]), ("fx", "start"));
    let sizes: Vec<&str> = rows[1][5..]
        .iter()
        .map(|a| a.split('@').next().unwrap())
        .collect();
    assert_eq!(sizes, vec!["-4", "8", "-8"]);
}

#[test]
fn json_output_has_the_documented_shape() {
    let out = xtask(&["--json", path(fixture())]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probes = json.as_array().unwrap();
    assert_eq!(probes.len(), 2);
    let start = &probes[1];
    assert_eq!(start["provider"], "fx");
    assert_eq!(start["name"], "start");
    assert_eq!(start["file"], path(fixture()));
    assert!(start["pc"].as_u64().unwrap() > 0);
    assert!(start["base"].as_u64().unwrap() > 0);
    assert!(start["semaphore"].is_null());
    assert!(start["semaphore_offset"].is_null());
    assert_eq!(start["args"][1]["size"], 8);
    assert_eq!(start["args"][1]["signed"], false);
    assert_eq!(start["args"][2]["signed"], true);
    assert_eq!(start["args"][0]["float"], false);
    assert!(start["raw_args"].as_str().unwrap().starts_with("-4@"));
}

#[test]
fn several_binaries_are_merged() {
    let other = compile("libother.so", OTHER_C, &["-shared", "-fPIC"]);
    let out = xtask(&["--json", path(fixture()), path(&other)]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<(String, String)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["provider"].to_string(), p["file"].to_string()))
        .collect();
    let fx = format!("{:?}", path(fixture()));
    let lib = format!("{:?}", path(&other));
    assert_eq!(
        names,
        vec![
            ("\"fx\"".into(), fx.clone()),
            ("\"fx\"".into(), fx),
            ("\"other\"".into(), lib),
        ]
    );
}

#[test]
fn expect_names_a_missing_probe_and_exits_1() {
    let d = write_d(
        "extra.d",
        "provider fx {\n    probe start(int, char *, long);\n    probe done(int);\n    probe vanished(int);\n};\n",
    );
    let out = xtask(&["--expect", path(&d), path(fixture())]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let problems: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("note:")).collect();
    assert_eq!(problems.len(), 2, "{stdout}");
    assert!(
        problems[0].contains("missing probe fx:vanished"),
        "{stdout}"
    );
    assert!(problems[1].starts_with("FAILED"), "{stdout}");
}

#[test]
fn expect_lists_every_problem_and_notes_size_mismatches() {
    // done gets one argument too many, gone is missing, start's third
    // argument is long in the C code but int here (a note only).
    let d = write_d(
        "many.d",
        "provider fx {\n    probe start(int, char *, int);\n    probe done(int, int);\n    probe gone();\n};\n",
    );
    let out = xtask(&["--expect", path(&d), path(fixture())]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("argument count of fx:done"), "{stdout}");
    assert!(stdout.contains("missing probe fx:gone"), "{stdout}");
    assert!(stdout.contains("note: argument 3 of fx:start"), "{stdout}");
}

#[test]
fn expect_passes_when_everything_matches() {
    let d = write_d(
        "exact.d",
        "provider fx {\n    probe start(int, char *, long);\n    probe done(int);\n};\n",
    );
    let out = xtask(&["--expect", path(&d), path(fixture())]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("ok: 2 probes declared"), "{stdout}");
}
