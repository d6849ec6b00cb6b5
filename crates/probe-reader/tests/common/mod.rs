//! Shared by the integration tests: C fixtures compiled with the system `cc`
//! against `<sys/sdt.h>`, and `readelf -n --wide` output parsed for
//! cross-checking.
#![allow(dead_code)] // each test file uses a different part

pub mod containers;
pub mod dof;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Probes with semaphores. The semaphores get distinctive initial values so a
/// test can check that `semaphore_offset` really points at them in the file.
pub const WITH_SEMAPHORES_C: &str = r#"
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdint.h>

unsigned short fx_start_semaphore __attribute__((section(".probes"), used)) = 0xa1b2;
unsigned short fx_tick_semaphore __attribute__((section(".probes"), used)) = 0xc3d4;

int fx_run(int argc, const char *name)
{
    long big = argc * 1000L;
    unsigned char small = (unsigned char)argc;
    int16_t s16 = (int16_t)-argc;
    double ratio = argc / 3.0;
    float quarter = argc / 4.0f;
    int hits = 0;
    if (fx_start_semaphore)
        hits++;
    DTRACE_PROBE3(fx, start, argc, name, big);
    STAP_PROBE5(fx, tick, small, s16, ratio, (uint32_t)argc, quarter);
    return hits;
}
"#;

/// Probes without semaphores (sys/sdt.h wants all or none per file):
/// `fx:done` at two sites and an argument-less probe of a second provider.
pub const WITHOUT_SEMAPHORES_C: &str = r#"
#include <sys/sdt.h>

void fx_done(int code)
{
    STAP_PROBE1(fx, done, code);
    if (code > 5)
        STAP_PROBE1(fx, done, code + 1);
    STAP_PROBE(fx2, idle);
}
"#;

pub const MAIN_C: &str = r#"
int fx_run(int argc, const char *name);
void fx_done(int code);

int main(int argc, char **argv)
{
    int hits = fx_run(argc, argv[0]);
    fx_done(argc + hits);
    return 0;
}
"#;

/// The fixtures compiled for one target: `cc` (native) or `cc -m32`.
pub struct Fixtures {
    pub dir: PathBuf,
    pub executable: PathBuf,
    pub shared_library: PathBuf,
    /// `with_semaphores.c` alone, compiled with `-c`.
    pub object: PathBuf,
}

/// Builds (once per test process) the native fixtures.
pub fn native() -> &'static Fixtures {
    static NATIVE: OnceLock<Fixtures> = OnceLock::new();
    NATIVE.get_or_init(|| build("native", &[]).unwrap_or_else(|why| panic!("{why}")))
}

/// Builds the `-m32` fixtures, or says why that is impossible here.
pub fn m32() -> Result<&'static Fixtures, String> {
    static M32: OnceLock<Result<Fixtures, String>> = OnceLock::new();
    M32.get_or_init(|| {
        let dir = scratch_dir("m32-check");
        let probe = dir.join("probe.c");
        write(
            &probe,
            "#include <stdint.h>\n#include <sys/sdt.h>\nint main(void) { return 0; }\n",
        );
        cc(&["-m32", "-o"], &dir.join("probe"), &[&probe]).map_err(|why| {
            format!("gcc-multilib (32-bit libc headers and libgcc) is not installed: {why}")
        })?;
        build("m32", &["-m32"])
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn build(variant: &str, flags: &[&str]) -> Result<Fixtures, String> {
    let dir = scratch_dir(variant);
    let with = dir.join("with_semaphores.c");
    let without = dir.join("without_semaphores.c");
    let main = dir.join("main.c");
    write(&with, WITH_SEMAPHORES_C);
    write(&without, WITHOUT_SEMAPHORES_C);
    write(&main, MAIN_C);

    let fixtures = Fixtures {
        executable: dir.join("fx"),
        shared_library: dir.join("libfx.so"),
        object: dir.join("with_semaphores.o"),
        dir,
    };
    let with_flags = |extra: &[&'static str]| -> Vec<&str> {
        flags
            .iter()
            .copied()
            .chain(["-O2"])
            .chain(extra.iter().copied())
            .collect()
    };
    cc(
        &with_flags(&["-o"]),
        &fixtures.executable,
        &[&main, &with, &without],
    )?;
    cc(
        &with_flags(&["-shared", "-fPIC", "-o"]),
        &fixtures.shared_library,
        &[&with, &without],
    )?;
    cc(&with_flags(&["-c", "-o"]), &fixtures.object, &[&with])?;
    Ok(fixtures)
}

/// A fresh directory for this test process under Cargo's per-target tmpdir.
/// Directories left by earlier, finished test processes are removed.
pub fn scratch_dir(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probe-reader");
    std::fs::create_dir_all(&root).expect("create CARGO_TARGET_TMPDIR/probe-reader");
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let stale = entry
                .file_name()
                .to_str()
                .and_then(|n| n.split('-').next().map(str::to_owned))
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if stale {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn cc(flags: &[&str], output: &Path, inputs: &[&Path]) -> Result<(), String> {
    let out = Command::new("cc")
        .args(flags)
        .arg(output)
        .args(inputs)
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        // The first `error:` line says what is missing; the rest is context.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason = stderr
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or(stderr.trim());
        Err(format!("cc {} failed: {reason}", flags.join(" ")))
    }
}

/// One probe as `readelf -n --wide` prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReadelfProbe {
    pub provider: String,
    pub name: String,
    pub location: u64,
    pub base: u64,
    pub semaphore: u64,
    pub arguments: String,
}

/// Runs `readelf -n --wide` and collects its stapsdt probes, sorted like
/// `probe_reader` sorts (provider, name, location).
pub fn readelf_probes(path: &Path) -> Vec<ReadelfProbe> {
    let out = Command::new("readelf")
        .args(["-n", "--wide"])
        .arg(path)
        .output()
        .expect("run readelf");
    assert!(out.status.success(), "readelf failed on {}", path.display());
    let text = String::from_utf8(out.stdout).expect("readelf prints UTF-8");

    let mut probes = Vec::new();
    let mut current: Option<ReadelfProbe> = None;
    for line in text.lines() {
        if let Some((_, provider)) = line.split_once("Provider: ") {
            current = Some(ReadelfProbe {
                provider: provider.trim().to_owned(),
                name: String::new(),
                location: 0,
                base: 0,
                semaphore: 0,
                arguments: String::new(),
            });
        } else if let Some(probe) = current.as_mut() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix("Name: ") {
                probe.name = name.to_owned();
            } else if let Some(rest) = line.strip_prefix("Location: ") {
                let fields: Vec<&str> = rest.split(", ").collect();
                assert_eq!(fields.len(), 3, "unexpected readelf line {line:?}");
                probe.location = hex(fields[0]);
                probe.base = hex(fields[1].trim_start_matches("Base: "));
                probe.semaphore = hex(fields[2].trim_start_matches("Semaphore: "));
            } else if let Some(args) = line.strip_prefix("Arguments:") {
                probe.arguments = args.trim().to_owned();
                probes.extend(current.take());
            }
        }
    }
    probes.sort();
    probes
}

fn hex(text: &str) -> u64 {
    let digits = text.trim().trim_start_matches("0x");
    u64::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("bad hex {text:?}: {e}"))
}
