//! The `.orig` tarball of a Debian source package, fetched with apt under a
//! private configuration.
//!
//! apt is pointed at its own sources list, index directory and cache (all
//! under the fetch cache), so neither `/etc/apt` nor the system's apt state
//! is read for sources or written at all, and it works on a machine with no
//! `deb-src` lines configured.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::fetch::sha256_file;
use crate::versions::Release;

/// Debian's mirror network; only its source indexes and packages are used.
const MIRROR: &str = "http://deb.debian.org/debian";
const SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";
/// Every suite that may carry one of the supported releases. Old revisions
/// disappear as suites move on, so all of them are searched for the hash.
const SUITES: &[&str] = &["bullseye", "bookworm", "trixie", "forky", "sid"];
const SECURITY_SUITES: &[&str] = &["bullseye-security", "bookworm-security", "trixie-security"];
/// The archive keyring, when installed; apt checks the indexes against it.
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    #[error(
        "apt-get not found ({0}); `--from debian` needs a Debian-based host, try `--from PATH`"
    )]
    NoApt(io::Error),
    #[error(
        "apt-get update failed: {0}; check the network to deb.debian.org or try `--from PATH`"
    )]
    Update(String),
    #[error("Debian has no {package} source with the {version} tarball (sha256 {sha256}); versions seen: {seen}; try `--from python.org` or `--from PATH`")]
    NotFound {
        package: String,
        version: String,
        sha256: String,
        seen: String,
    },
    #[error("apt-get source {spec} failed: {detail}; try again or use `--from PATH`")]
    Source { spec: String, detail: String },
    #[error("{dsc}: {detail}; the download is unusable, try again")]
    Dsc { dsc: PathBuf, detail: String },
    #[error("cannot {action} {path} ({source}); check the cache directory or pass --cache-dir")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// A verified `.orig` tarball and the source package it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianOrig {
    pub path: PathBuf,
    pub package: String,
    pub version: String,
}

/// One source package version from `apt-cache showsrc`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceVersion {
    pub package: String,
    pub version: String,
    /// `(sha256, file name)` of every file the `.dsc` lists.
    pub files: Vec<(String, String)>,
}

impl SourceVersion {
    /// The `.orig` tarball listed with this hash, if any.
    fn orig_with(&self, sha256: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(hash, name)| hash == sha256 && is_orig_tarball(name))
            .map(|(_, name)| name.as_str())
    }
}

fn is_orig_tarball(name: &str) -> bool {
    name.contains(".orig.tar.") && !name.ends_with(".asc")
}

/// apt with its own configuration and state under `root`.
pub struct Apt {
    root: PathBuf,
}

impl Apt {
    pub fn new(root: &Path) -> Apt {
        Apt {
            root: root.to_path_buf(),
        }
    }

    /// The options that keep apt off the system configuration and state.
    fn options(&self) -> Vec<String> {
        let r = &self.root;
        let opts = [
            format!("Dir::Etc::SourceList={}", r.join("sources.list").display()),
            "Dir::Etc::SourceParts=/nonexistent".to_string(),
            format!("Dir::State::Lists={}", r.join("lists").display()),
            format!("Dir::Cache={}", r.join("cache").display()),
            "Dir::State::Status=/var/lib/dpkg/status".to_string(),
            "APT::Get::List-Cleanup=0".to_string(),
            "Acquire::Languages=none".to_string(),
            "Acquire::http::Timeout=30".to_string(),
        ];
        opts.into_iter()
            .flat_map(|o| ["-o".to_string(), o])
            .collect()
    }

    /// Writes the private sources list and creates apt's directories.
    fn prepare(&self) -> Result<(), DebianError> {
        for dir in [
            self.root.join("lists/partial"),
            self.root.join("cache/archives/partial"),
        ] {
            fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        }
        let signed_by = if Path::new(KEYRING).exists() {
            format!(" [signed-by={KEYRING}]")
        } else {
            String::new()
        };
        let mut list = String::new();
        for suite in SUITES {
            let _ = writeln!(list, "deb-src{signed_by} {MIRROR} {suite} main");
        }
        for suite in SECURITY_SUITES {
            let _ = writeln!(list, "deb-src{signed_by} {SECURITY_MIRROR} {suite} main");
        }
        let path = self.root.join("sources.list");
        fs::write(&path, list).map_err(io_err("write", &path))
    }

    fn run(&self, program: &str, args: &[&str], cwd: &Path) -> Result<Output, DebianError> {
        Command::new(program)
            .args(self.options())
            .args(args)
            .current_dir(cwd)
            .env("LC_ALL", "C")
            .output()
            .map_err(DebianError::NoApt)
    }

    /// Refreshes the source indexes. A suite that fails (say, one retired
    /// from the mirror) is only fatal if the package is then not found, so
    /// the complaint is returned rather than raised.
    pub fn update(&self) -> Result<Option<String>, DebianError> {
        self.prepare()?;
        let out = self.run("apt-get", &["-q", "update"], &self.root)?;
        if out.status.success() {
            Ok(None)
        } else {
            Ok(Some(apt_complaint(&out)))
        }
    }

    /// Every version of `package` the indexes know.
    pub fn versions(&self, package: &str) -> Result<Vec<SourceVersion>, DebianError> {
        let out = self.run(
            "apt-cache",
            &["showsrc", "--only-source", package],
            &self.root,
        )?;
        // apt-cache exits non-zero when it knows no such package; that is an
        // empty answer, not an error.
        Ok(parse_showsrc(&String::from_utf8_lossy(&out.stdout))
            .into_iter()
            .filter(|v| v.package == package)
            .collect())
    }

    /// Downloads the source package `package=version` into `dir`.
    pub fn download_source(
        &self,
        package: &str,
        version: &str,
        dir: &Path,
    ) -> Result<(), DebianError> {
        let spec = format!("{package}={version}");
        let out = self.run("apt-get", &["-q", "source", "--download-only", &spec], dir)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(DebianError::Source {
                spec,
                detail: apt_complaint(&out),
            })
        }
    }
}

/// Finds the source package version carrying `release`'s tarball, downloads
/// it with apt under `apt_root`, checks the `.orig` against the `.dsc` and
/// versions.toml, and moves it to `to`. `note` receives progress lines.
pub fn fetch_orig(
    release: &Release,
    apt_root: &Path,
    to: &Path,
    note: &dyn Fn(&str),
) -> Result<DebianOrig, DebianError> {
    let apt = Apt::new(apt_root);
    let package = &release.debian.package;
    note(&format!(
        "updating Debian source indexes in {} (private apt state; /etc/apt is not used)",
        apt_root.display()
    ));
    let update_problem = apt.update()?;
    let versions = apt.versions(package)?;
    let chosen = choose(&versions, &release.debian.version, &release.sha256).ok_or_else(|| {
        if let Some(problem) = &update_problem {
            return DebianError::Update(problem.clone());
        }
        DebianError::NotFound {
            package: package.clone(),
            version: release.version.clone(),
            sha256: release.sha256.clone(),
            seen: if versions.is_empty() {
                "none".to_string()
            } else {
                versions
                    .iter()
                    .map(|v| v.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }
    })?;
    if let Some(problem) = &update_problem {
        note(&format!(
            "apt-get update complained ({problem}); the indexes it did get suffice"
        ));
    }
    if chosen.version != release.debian.version {
        note(&format!(
            "Debian no longer has {package} {}; {} carries the same tarball",
            release.debian.version, chosen.version
        ));
    }
    note(&format!(
        "downloading Debian source {package} {}",
        chosen.version
    ));

    // A fresh work directory per run: apt-get source writes into the
    // current directory and must not see leftovers.
    remove_stale_work_dirs(apt_root);
    let work = apt_root.join(format!("work-{}", std::process::id()));
    if work.exists() {
        fs::remove_dir_all(&work).map_err(io_err("remove", &work))?;
    }
    fs::create_dir_all(&work).map_err(io_err("create", &work))?;
    let result = download_and_verify(&apt, chosen, &release.sha256, &work, to);
    let _ = fs::remove_dir_all(&work);
    result.map(|path| DebianOrig {
        path,
        package: package.clone(),
        version: chosen.version.clone(),
    })
}

/// Removes the work directories of runs that were killed mid-download.
fn remove_stale_work_dirs(apt_root: &Path) {
    let Ok(entries) = fs::read_dir(apt_root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("work-")) else {
            continue;
        };
        if !crate::extract::process_alive(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// The pinned version if it carries the tarball, else any that does.
fn choose<'a>(
    versions: &'a [SourceVersion],
    pinned: &str,
    sha256: &str,
) -> Option<&'a SourceVersion> {
    let carrying = |v: &&SourceVersion| v.orig_with(sha256).is_some();
    versions
        .iter()
        .filter(carrying)
        .find(|v| v.version == pinned)
        .or_else(|| versions.iter().find(carrying))
}

fn download_and_verify(
    apt: &Apt,
    chosen: &SourceVersion,
    sha256: &str,
    work: &Path,
    to: &Path,
) -> Result<PathBuf, DebianError> {
    apt.download_source(&chosen.package, &chosen.version, work)?;
    // The .dsc is named without the epoch.
    let bare = chosen
        .version
        .split_once(':')
        .map_or(&*chosen.version, |(_, v)| v);
    let dsc = work.join(format!("{}_{bare}.dsc", chosen.package));
    let dsc_text = fs::read_to_string(&dsc).map_err(|e| DebianError::Dsc {
        dsc: dsc.clone(),
        detail: format!("cannot read it ({e})"),
    })?;
    let listed = parse_checksums(&dsc_text);
    let (dsc_hash, orig_name) = listed
        .iter()
        .find(|(_, name)| is_orig_tarball(name))
        .ok_or_else(|| DebianError::Dsc {
            dsc: dsc.clone(),
            detail: "lists no .orig tarball".to_string(),
        })?;
    if dsc_hash != sha256 {
        return Err(DebianError::Dsc {
            dsc: dsc.clone(),
            detail: format!("its .orig tarball has sha256 {dsc_hash}, versions.toml says {sha256}"),
        });
    }
    let orig = work.join(orig_name);
    let actual = sha256_file(&orig).map_err(io_err("read", &orig))?;
    if actual != *dsc_hash {
        return Err(DebianError::Dsc {
            dsc,
            detail: format!("{orig_name} has sha256 {actual}, the .dsc says {dsc_hash}"),
        });
    }
    fs::rename(&orig, to)
        .or_else(|_| fs::copy(&orig, to).map(|_| ()))
        .map_err(io_err("store", to))?;
    Ok(to.to_path_buf())
}

/// Parses `apt-cache showsrc` output: one stanza per source version.
pub fn parse_showsrc(text: &str) -> Vec<SourceVersion> {
    text.split("\n\n")
        .filter_map(|stanza| {
            let field = |name: &str| {
                stanza.lines().find_map(|l| {
                    l.strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix(':'))
                        .map(|v| v.trim().to_string())
                })
            };
            Some(SourceVersion {
                package: field("Package")?,
                version: field("Version")?,
                files: parse_checksums(stanza),
            })
        })
        .collect()
}

/// The `(sha256, name)` pairs of a `Checksums-Sha256:` field, in a .dsc or
/// a Sources stanza.
pub fn parse_checksums(text: &str) -> Vec<(String, String)> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("Checksums-Sha256:"));
    lines.next();
    lines
        .take_while(|l| l.starts_with(' ') || l.starts_with('\t'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let hash = words.next()?;
            let _size = words.next()?;
            let name = words.next()?;
            Some((hash.to_string(), name.to_string()))
        })
        .collect()
}

/// apt's error lines (`E: …`), or its last line of output, as one line.
fn apt_complaint(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines())
        .filter(|l| l.starts_with("E: "))
        .collect();
    let text = if errors.is_empty() {
        stderr
            .lines()
            .chain(stdout.lines())
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .to_string()
    } else {
        errors.join(" ")
    };
    format!("{text} (exit {})", out.status)
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl Fn(io::Error) -> DebianError + 'a {
    move |source| DebianError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOWSRC: &str = "\
Package: python3.13
Binary: python3.13, idle-python3.13
Version: 3.13.5-2+deb13u5
Checksums-Sha256:
 93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640 22856016 python3.13_3.13.5.orig.tar.xz
 da6e013d98dcf8fc6696cdb2872b0051fc8fdeb632f73ef9f54d7b5a68647401 963 python3.13_3.13.5.orig.tar.xz.asc
 aaaa 299640 python3.13_3.13.5-2+deb13u5.debian.tar.xz
Package-List:
 python3.13 deb python optional arch=any

Package: python3.13
Version: 3.13.15-1
Checksums-Sha256:
 1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76 23160540 python3.13_3.13.15.orig.tar.xz

Package: python3.13
Version: 3.13.15-2
Checksums-Sha256:
 1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76 23160540 python3.13_3.13.15.orig.tar.xz
";

    #[test]
    fn parses_stanzas_and_their_files() {
        let versions = parse_showsrc(SHOWSRC);
        assert_eq!(versions.len(), 3);
        assert_eq!(versions[0].version, "3.13.5-2+deb13u5");
        assert_eq!(versions[0].files.len(), 3);
        assert_eq!(
            versions[0]
                .orig_with("93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"),
            Some("python3.13_3.13.5.orig.tar.xz")
        );
        // The signature's hash never counts as the tarball.
        assert_eq!(
            versions[0]
                .orig_with("da6e013d98dcf8fc6696cdb2872b0051fc8fdeb632f73ef9f54d7b5a68647401"),
            None
        );
    }

    #[test]
    fn prefers_the_pinned_version_then_any_with_the_same_tarball() {
        let versions = parse_showsrc(SHOWSRC);
        let hash = "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76";
        assert_eq!(
            choose(&versions, "3.13.15-2", hash).unwrap().version,
            "3.13.15-2"
        );
        assert_eq!(
            choose(&versions, "3.13.15-9", hash).unwrap().version,
            "3.13.15-1"
        );
        assert!(choose(&versions, "3.13.15-1", &"0".repeat(64)).is_none());
    }

    #[test]
    fn options_keep_apt_off_the_system_configuration() {
        let apt = Apt::new(Path::new("/x/apt"));
        let opts = apt.options().join(" ");
        assert!(opts.contains("Dir::Etc::SourceList=/x/apt/sources.list"));
        assert!(opts.contains("Dir::Etc::SourceParts=/nonexistent"));
        assert!(opts.contains("Dir::State::Lists=/x/apt/lists"));
        assert!(opts.contains("Dir::Cache=/x/apt/cache"));
    }
}
