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

/// A bare LP64 little-endian DOF blob, written field by field from illumos
/// `<sys/dtrace.h>`: provider `fx` with `start(char *, long)` at
/// main+0x10 and main+0x20 plus an is-enabled test at main+0x8, and
/// `gc-done(int)` (`gc__done` in D) at main+0x30, main being at 0x401000.
fn dof_fixture() -> &'static Path {
    static DOF: OnceLock<PathBuf> = OnceLock::new();
    DOF.get_or_init(write_dof_fixture)
}

fn write_dof_fixture() -> PathBuf {
    fn u16s(out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn u32s(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64s(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    // String table: indices noted beside each string.
    let strtab = b"\0fx\0main\0start\0char *\0long\0gc-done\0int\0".to_vec();
    let (fx, main, start, char_p, gc_done, int) = (1, 4, 9, 15, 27, 35);
    // dof_probe_t (48 bytes): addr, func, name, nargv, xargv, argidx,
    // offidx, nargc, xargc, noffs, enoffidx, nenoffs, pad1, pad2.
    let probe = |out: &mut Vec<u8>, name, nargv, argidx, nargc: u8, offidx, noffs, nenoffs| {
        u64s(out, 0x40_1000);
        u32s(out, main);
        u32s(out, name);
        u32s(out, nargv);
        u32s(out, nargv);
        u32s(out, argidx);
        u32s(out, offidx);
        out.push(nargc);
        out.push(nargc);
        u16s(out, noffs);
        u32s(out, 0);
        u16s(out, nenoffs);
        u16s(out, 0);
        u32s(out, 0);
    };
    let mut probes = Vec::new();
    probe(&mut probes, start, char_p, 0, 2, 0, 2, 1);
    probe(&mut probes, gc_done, int, 2, 1, 2, 1, 0);
    let prargs = vec![0u8, 1, 0]; // identity maps: start's, then gc-done's
    let mut proffs = Vec::new();
    for off in [0x10u32, 0x20, 0x30] {
        u32s(&mut proffs, off);
    }
    let mut prenoffs = Vec::new();
    u32s(&mut prenoffs, 0x8);
    // dof_provider_t: strtab, probes, prargs, proffs, name, 5 attributes,
    // prenoffs (section indices as laid out below).
    let mut provider = Vec::new();
    for v in [0, 1, 2, 3, fx, 0, 0, 0, 0, 0, 4] {
        u32s(&mut provider, v);
    }
    // (dofs_type, dofs_align, dofs_entsize, data): STRTAB 8, PROBES 16,
    // PRARGS 17, PROFFS 18, PRENOFFS 26, PROVIDER 15.
    let sections: [(u32, u32, u32, &[u8]); 6] = [
        (8, 1, 0, &strtab),
        (16, 8, 48, &probes),
        (17, 1, 1, &prargs),
        (18, 4, 4, &proffs),
        (26, 4, 4, &prenoffs),
        (15, 4, 0, &provider),
    ];
    let mut at = 64 + 32 * sections.len();
    let mut offsets = Vec::new();
    for (_, align, _, data) in &sections {
        at = at.next_multiple_of(*align as usize);
        offsets.push(at);
        at += data.len();
    }
    let filesz = at.next_multiple_of(8) as u64;
    // dof_hdr_t: ident (magic, LP64, LSB, version 2, DIF version 2, 8
    // integer and 8 tuple registers), flags, hdrsize, secsize, secnum,
    // secoff, loadsz, filesz, pad.
    let mut dof = b"\x7fDOF\x02\x01\x02\x02\x08\x08\0\0\0\0\0\0".to_vec();
    for v in [0, 64, 32, sections.len() as u32] {
        u32s(&mut dof, v);
    }
    for v in [64, filesz, filesz, 0] {
        u64s(&mut dof, v);
    }
    // dof_sec_t: type, align, flags (DOF_SECF_LOAD), entsize, offset, size.
    for ((kind, align, entsize, data), offset) in sections.iter().zip(&offsets) {
        for v in [*kind, *align, 1, *entsize] {
            u32s(&mut dof, v);
        }
        u64s(&mut dof, *offset as u64);
        u64s(&mut dof, data.len() as u64);
    }
    for ((_, _, _, data), offset) in sections.iter().zip(&offsets) {
        dof.resize(*offset, 0);
        dof.extend_from_slice(data);
    }
    dof.resize(filesz as usize, 0);
    let file = dir().join("fx.dof");
    std::fs::write(&file, dof).unwrap();
    file
}

#[test]
fn lists_dof_probes_like_stapsdt_ones() {
    let file = dof_fixture();
    let out = xtask(&[path(file)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["PROVIDER", "NAME", "PC", "SEMAPHORE", "SEM_OFFSET", "ARGS"],
            vec!["fx", "gc__done", "0x401030", "-", "-", "int"],
            // The is-enabled test carries its probe's argument types.
            vec!["fx", "start", "0x401008", "is-enabled", "-", "char *, long"],
            vec!["fx", "start", "0x401010", "-", "-", "char *, long"],
            vec!["fx", "start", "0x401020", "-", "-", "char *, long"],
        ],
        "{stdout}"
    );
}

#[test]
fn dof_probes_in_json_and_against_a_provider_file() {
    let file = dof_fixture();
    let out = xtask(&["--json", path(file)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probes = json.as_array().unwrap();
    assert_eq!(probes.len(), 4);
    let start = &probes[2];
    assert_eq!(start["name"], "start");
    assert_eq!(start["origin"], "dof");
    assert_eq!(start["function"], "main");
    assert_eq!(start["is_enabled"], false);
    assert_eq!(probes[1]["is_enabled"], true);
    assert_eq!(start["pc"], 0x401010);
    assert_eq!(start["args"][0]["type"], "char *");
    assert_eq!(start["args"][0]["size"], 8);
    assert_eq!(start["args"][1]["size"], 8);
    assert_eq!(start["args"][1]["signed"], true);
    assert!(start["semaphore"].is_null());

    // The D spelling gc__done matches DOF's gc-done; sizes agree for LP64.
    let d = write_d(
        "dof.d",
        "provider fx {\n    probe start(char *, long);\n    probe gc__done(int);\n};\n",
    );
    let out = xtask(&["--expect", path(&d), path(file)]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout,
        "ok: 2 probes declared, 4 sites found; 0 problems, 0 notes\n"
    );

    let d = write_d(
        "dof-wrong.d",
        "provider fx {\n    probe start(char *, int);\n    probe gc__done(int, int);\n};\n",
    );
    let out = xtask(&["--expect", path(&d), path(file)]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("argument count of fx:gc__done"), "{stdout}");
    assert!(
        stdout.contains("note: argument 2 of fx:start at") && stdout.contains("is 8 bytes"),
        "{stdout}"
    );
}
