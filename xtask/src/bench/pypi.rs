//! pyperf and pyperformance from PyPI, pinned in `tests/bench/pypi.lock`.
//!
//! The system pip downloads each wheel (`--no-deps --require-hashes`, so pip
//! checks the hash too) into `target/bench/pypi/`; we check its SHA-256
//! again and unpack it (a wheel is a zip) with the system Python's
//! `zipfile` into `target/bench/pypi/<wheel name>/`, marked complete by a
//! file holding the hash, written last. Nothing is installed into the
//! interpreters measured: they run with pyperf on `PYTHONPATH`. Once
//! unpacked, no network is needed again.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::logged::Clock;

/// The Python whose pip fetches the wheels (not one of those measured:
/// ours are built without pip).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
/// Marks a complete unpack; holds the wheel's SHA-256.
const MARKER: &str = ".cpython-dtrace-sha256";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lock {
    package: Vec<Package>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Package {
    name: String,
    version: String,
    file: String,
    sha256: String,
}

/// pyperf and pyperformance, unpacked.
pub struct Pyperf {
    /// Goes on PYTHONPATH: holds the `pyperf` package.
    pub pythonpath: PathBuf,
    /// `…/pyperformance/data-files/benchmarks`, holding `bm_*/run_benchmark.py`.
    pub benchmarks: PathBuf,
    /// `{"pyperf": "2.10.0", "pyperformance": "1.11.0"}`.
    pub versions: Value,
}

fn load_lock(path: &Path) -> anyhow::Result<Vec<Package>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lock: Lock = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid lock file", path.display()))?;
    for p in &lock.package {
        let hex = p.sha256.len() == 64 && p.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex || p.sha256.bytes().any(|b| b.is_ascii_uppercase()) {
            bail!(
                "{}: {}: sha256 must be 64 lower-case hex digits",
                path.display(),
                p.name
            );
        }
        if !p.file.ends_with(".whl") || p.file.contains('/') || p.file.contains("..") {
            bail!(
                "{}: {}: file must be a wheel's plain file name",
                path.display(),
                p.name
            );
        }
    }
    Ok(lock.package)
}

/// Fetches (once) and unpacks (once) the packages of the lock file.
pub fn prepare(root: &Path, clock: &Clock) -> anyhow::Result<Pyperf> {
    let lock_path = root.join("tests").join("bench").join("pypi.lock");
    let packages = load_lock(&lock_path)?;
    let cache = root.join("target").join("bench").join("pypi");
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create {}", cache.display()))?;
    let find = |name: &str| {
        packages
            .iter()
            .find(|p| p.name == name)
            .with_context(|| format!("{} pins no {name}", lock_path.display()))
    };
    let pyperf = find("pyperf")?;
    let pyperformance = find("pyperformance")?;
    let pyperf_dir = unpacked(&cache, pyperf, clock)?;
    let perf_dir = unpacked(&cache, pyperformance, clock)?;
    let benchmarks = perf_dir
        .join("pyperformance")
        .join("data-files")
        .join("benchmarks");
    if !pyperf_dir.join("pyperf").join("__init__.py").is_file() || !benchmarks.is_dir() {
        bail!(
            "{} or {} does not hold what a {} / {} wheel should; remove them and run again",
            pyperf_dir.display(),
            perf_dir.display(),
            pyperf.file,
            pyperformance.file
        );
    }
    Ok(Pyperf {
        pythonpath: pyperf_dir,
        benchmarks,
        versions: json!({ "pyperf": pyperf.version, "pyperformance": pyperformance.version }),
    })
}

/// The unpacked wheel, fetching and unpacking it first if needed.
fn unpacked(cache: &Path, p: &Package, clock: &Clock) -> anyhow::Result<PathBuf> {
    let dir = cache.join(p.file.trim_end_matches(".whl"));
    let marker = std::fs::read_to_string(dir.join(MARKER)).unwrap_or_default();
    if marker.trim() == p.sha256 {
        return Ok(dir);
    }
    let wheel = cache.join(&p.file);
    if !has_hash(&wheel, &p.sha256) {
        download(cache, p, clock)?;
    }
    if !has_hash(&wheel, &p.sha256) {
        let got = cpython_sources::fetch::sha256_file(&wheel)
            .unwrap_or_else(|e| format!("unreadable: {e}"));
        let _ = std::fs::remove_file(&wheel);
        bail!(
            "{} has SHA-256 {got}, not the {} that tests/bench/pypi.lock pins; removed it, \
             run again (or fix the lock file if the pin is wrong)",
            wheel.display(),
            p.sha256
        );
    }
    let tmp = cache.join(format!(".{}.tmp-{}", p.file, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let status = Command::new(SYSTEM_PYTHON)
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&tmp)
        .status()
        .with_context(|| format!("cannot run {SYSTEM_PYTHON} to unpack {}", wheel.display()))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        bail!(
            "{SYSTEM_PYTHON} -m zipfile -e {} failed ({status})",
            wheel.display()
        );
    }
    std::fs::write(tmp.join(MARKER), format!("{}\n", p.sha256))
        .with_context(|| format!("cannot write in {}", tmp.display()))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), dir.display()))?;
    clock.say(format_args!("bench: unpacked {} {}", p.name, p.version));
    Ok(dir)
}

fn has_hash(file: &Path, sha256: &str) -> bool {
    file.is_file() && cpython_sources::fetch::sha256_file(file).is_ok_and(|h| h == sha256)
}

/// `pip download` of exactly the pinned file: the hash is given to pip, so
/// pip itself refuses anything else.
fn download(cache: &Path, p: &Package, clock: &Clock) -> anyhow::Result<()> {
    clock.say(format_args!(
        "bench: fetching {}=={} from PyPI with the system pip",
        p.name, p.version
    ));
    let requirements = cache.join(format!(".{}.requirements.txt", p.name));
    std::fs::write(
        &requirements,
        format!("{}=={} --hash=sha256:{}\n", p.name, p.version, p.sha256),
    )
    .with_context(|| format!("cannot write {}", requirements.display()))?;
    let output = Command::new(SYSTEM_PYTHON)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--no-deps",
            "--only-binary=:all:",
            // The oldest interpreter the wheels are for, not the system's.
            "--python-version",
            "3.9",
            "--require-hashes",
            "--dest",
        ])
        .arg(cache)
        .arg("-r")
        .arg(&requirements)
        .output()
        .with_context(|| format!("cannot run {SYSTEM_PYTHON}"))?;
    let _ = std::fs::remove_file(&requirements);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        if stderr.contains("No module named pip") {
            bail!("the system Python has no pip; run `ci/install-deps.sh` (Debian: apt-get install python3-pip)");
        }
        bail!(
            "pip could not download {}=={} ({}): {last}; is PyPI reachable?",
            p.name,
            p.version,
            output.status
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-pypi-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn the_committed_lock_file_pins_both_packages() {
        let lock = crate::project_root()
            .join("tests")
            .join("bench")
            .join("pypi.lock");
        let packages = load_lock(&lock).expect("lock file loads");
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["pyperf", "pyperformance"]);
        for p in &packages {
            assert!(
                p.file.starts_with(&format!("{}-{}-", p.name, p.version)),
                "{p:?}"
            );
        }
    }

    #[test]
    fn bad_lock_files_are_refused() {
        let dir = scratch("lock");
        let path = dir.join("pypi.lock");
        let entry = |sha: &str, file: &str| {
            format!("[[package]]\nname = \"x\"\nversion = \"1\"\nfile = \"{file}\"\nsha256 = \"{sha}\"\n")
        };
        let good = "a".repeat(64);
        std::fs::write(&path, entry(&good, "x-1-py3-none-any.whl")).expect("write");
        assert!(load_lock(&path).is_ok());
        for (sha, file, why) in [
            ("abc", "x-1-py3-none-any.whl", "sha256"),
            (&"A".repeat(64)[..], "x-1-py3-none-any.whl", "sha256"),
            (&good[..], "../x-1-py3-none-any.whl", "file"),
            (&good[..], "x-1.tar.gz", "file"),
        ] {
            std::fs::write(&path, entry(sha, file)).expect("write");
            let err = load_lock(&path).expect_err(why);
            assert!(format!("{err:#}").contains(why), "{err:#}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_marked_unpack_is_reused_without_fetching() {
        let cache = scratch("cache");
        let p = Package {
            name: "x".into(),
            version: "1".into(),
            file: "x-1-py3-none-any.whl".into(),
            sha256: "b".repeat(64),
        };
        let dir = cache.join("x-1-py3-none-any");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join(MARKER), format!("{}\n", p.sha256)).expect("marker");
        let got = unpacked(&cache, &p, &Clock::start()).expect("reused");
        assert_eq!(got, dir);
        let _ = std::fs::remove_dir_all(&cache);
    }
}
