//! Helpers for the tests that build C programs and read their probes back:
//! scratch directories, running gcc and other tools, `readelf -n` parsing,
//! and the skip-unless-CI rule for tools a machine may lack.
//!
//! Shared by sdt-header's and dtrace-cli's integration tests (the latter
//! include this file by path).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    // Both crates live at crates/NAME.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn provider_d() -> PathBuf {
    repo_root().join("provider.d")
}

pub fn c_fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/c").join(name)
}

pub fn provider() -> dprovider::ProviderFile {
    dprovider::parse_file(&provider_d()).unwrap_or_else(|e| panic!("{e}"))
}

/// A scratch directory, removed when dropped unless KEEP_TEST_DIRS is set.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("cpython-dtrace-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).expect("write scratch file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Whether `program` can be run at all.
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Whether a test that needs `what` may run. When it may not, the test is
/// skipped with the reason printed, except under CI (env `CI` set), where a
/// missing prerequisite is a failure: CI installs everything.
pub fn prerequisite(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but {what}");
    }
    eprintln!("SKIPPED: {what}");
    false
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Runs a command to completion; panics with its output if it fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command, killing it after `limit`. Returns its output either way.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let started = Instant::now();
    while child.try_wait().expect("wait for child").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect child output")
}

/// gcc with warnings as errors, in `dir` (so `#include "probes.h"` finds the
/// header the test wrote there).
pub fn gcc(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new("gcc");
    cmd.current_dir(dir)
        .args(["-Wall", "-Wextra", "-Werror", "-I."])
        .args(args);
    run(&mut cmd);
}

/// One probe as `readelf -n --wide` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadelfProbe {
    pub provider: String,
    pub name: String,
    pub location: u64,
    pub base: u64,
    pub semaphore: u64,
    pub arguments: String,
}

/// The stapsdt notes of `file`, parsed from binutils' `readelf -n --wide`
/// text: a `Provider: P` line end, then `Name:`, `Location: …, Base: …,
/// Semaphore: …` and `Arguments:` lines.
pub fn readelf_probes(file: &Path) -> Vec<ReadelfProbe> {
    let out = run(Command::new("readelf").args(["-n", "--wide"]).arg(file));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut probes = Vec::new();
    let mut current: Option<ReadelfProbe> = None;
    for line in text.lines() {
        if let Some((_, provider)) = line.split_once("Provider: ") {
            if let Some(done) = current.take() {
                probes.push(done);
            }
            current = Some(ReadelfProbe {
                provider: provider.trim().to_string(),
                name: String::new(),
                location: 0,
                base: 0,
                semaphore: 0,
                arguments: String::new(),
            });
            continue;
        }
        let Some(probe) = current.as_mut() else {
            continue;
        };
        let line = line.trim();
        if let Some(name) = line.strip_prefix("Name: ") {
            probe.name = name.to_string();
        } else if let Some(args) = line.strip_prefix("Arguments:") {
            probe.arguments = args.trim().to_string();
        } else if line.starts_with("Location: ") {
            for field in line.split(", ") {
                let (key, value) = field.split_once(": ").expect("KEY: VALUE");
                let value =
                    u64::from_str_radix(value.trim_start_matches("0x"), 16).expect("hex address");
                match key {
                    "Location" => probe.location = value,
                    "Base" => probe.base = value,
                    "Semaphore" => probe.semaphore = value,
                    other => panic!("unexpected readelf field {other}"),
                }
            }
        }
    }
    probes.extend(current);
    probes
}

/// What must match between builds: provider, name and each argument's size
/// and sign, per probe site, sorted.
pub type Signature = Vec<(String, String, Vec<(u8, bool)>)>;

pub fn signature(probes: &[probe_reader::Probe]) -> Signature {
    let mut sig: Signature = probes
        .iter()
        .map(|p| {
            (
                p.provider.clone(),
                p.name.clone(),
                p.args.iter().map(|a| (a.size, a.signed)).collect(),
            )
        })
        .collect();
    sig.sort();
    sig
}

/// The sizes and signs the provider file declares, one entry per probe.
pub fn declared_signature(file: &dprovider::ProviderFile) -> Signature {
    let mut sig: Signature = file
        .providers
        .iter()
        .flat_map(|prov| {
            prov.probes.iter().map(|probe| {
                (
                    prov.name.clone(),
                    probe.name.clone(),
                    probe
                        .args
                        .iter()
                        .map(|a| (a.ty.size(dprovider::DataModel::Lp64), a.ty.is_signed()))
                        .collect(),
                )
            })
        })
        .collect();
    sig.sort();
    sig
}

/// Checks that probe-reader and readelf describe `file`'s notes identically.
pub fn assert_reader_matches_readelf(file: &Path) -> Vec<probe_reader::Probe> {
    let mut ours =
        probe_reader::read_path(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut theirs = readelf_probes(file);
    // Compared site by site; the two need not list notes in the same order.
    ours.sort_by(|a, b| (a.pc, &a.name).cmp(&(b.pc, &b.name)));
    theirs.sort_by(|a, b| (a.location, &a.name).cmp(&(b.location, &b.name)));
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{}: number of notes",
        file.display()
    );
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(
            (
                &a.provider,
                &a.name,
                a.pc,
                a.base,
                a.semaphore.unwrap_or(0),
                &a.raw_args
            ),
            (
                &b.provider,
                &b.name,
                b.location,
                b.base,
                b.semaphore,
                &b.arguments
            ),
            "{}: probe-reader and readelf disagree",
            file.display()
        );
    }
    ours
}

/// `[start, end)` of the named section in a linked file, from `readelf -S -W`.
pub fn section_range(file: &Path, section: &str) -> Option<(u64, u64)> {
    let out = run(Command::new("readelf").args(["-S", "-W"]).arg(file));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|line| {
        // `[Nr] Name Type Address Off Size ...` once the `[ n]` is removed.
        let rest = line.trim_start().strip_prefix('[')?.split_once(']')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() != Some(&section) {
            return None;
        }
        let addr = u64::from_str_radix(fields.get(2)?, 16).ok()?;
        let size = u64::from_str_radix(fields.get(4)?, 16).ok()?;
        Some((addr, addr + size))
    })
}

/// CPython's Makefile step `sed 's/PYTHON_/PyDTrace_/'`: the first match on
/// each line only.
pub fn cpython_sed(header: &str) -> String {
    header
        .lines()
        .map(|line| line.replacen("PYTHON_", "PyDTrace_", 1) + "\n")
        .collect()
}
