//! Getting a verified CPython source tree: from the download cache,
//! python.org, Debian, or a local path; then checked and unpacked.
//!
//! A tarball's SHA-256 is always checked against versions.toml before
//! anything is unpacked. A cached or downloaded file that fails the check is
//! renamed to `*.bad-<unix time>` (kept for a look, never deleted) and the
//! fetch stops.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::debian::{self, DebianError};
use crate::download::{self, DownloadError, Progress};
use crate::extract::{self, ExtractError};
use crate::patchlevel::{tree_version, PatchlevelError};
use crate::versions::Release;

/// Where to get a release from, as `--from` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Source {
    /// The cache, then python.org, then Debian.
    #[default]
    Auto,
    PythonOrg,
    Debian,
    /// A local tarball or an already unpacked tree.
    Path(PathBuf),
}

impl FromStr for Source {
    type Err = std::convert::Infallible;

    /// `auto`, `python.org` or `debian`; anything else is a path.
    fn from_str(s: &str) -> Result<Source, Self::Err> {
        Ok(match s {
            "auto" => Source::Auto,
            "python.org" => Source::PythonOrg,
            "debian" => Source::Debian,
            path => Source::Path(PathBuf::from(path)),
        })
    }
}

/// Where the tree's bytes actually came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A verified tarball already in the download cache.
    Cache,
    PythonOrg,
    Debian {
        package: String,
        version: String,
    },
    LocalTarball,
    /// A local unpacked tree, used where it is.
    LocalTree,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Cache => f.write_str("the download cache"),
            Origin::PythonOrg => f.write_str("python.org"),
            Origin::Debian { package, version } => write!(f, "Debian {package} {version}"),
            Origin::LocalTarball => f.write_str("a local tarball"),
            Origin::LocalTree => f.write_str("a local tree"),
        }
    }
}

/// What fetch tells its caller while it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A line for the user: which source is used, and why.
    Note(&'a str),
    /// Download progress, at most a few times a second.
    Progress(Progress),
}

fn quiet(_: Event<'_>) {}

pub struct FetchOptions<'a> {
    /// Where verified tarballs are kept between runs.
    pub cache_dir: PathBuf,
    /// Where the tree is unpacked, as `<dest_dir>/Python-X.Y.Z`.
    pub dest_dir: PathBuf,
    /// When false, only the cache and local paths are used.
    pub network: bool,
    /// How long to wait for a server to answer before calling it
    /// unreachable.
    pub connect_timeout: Duration,
    pub report: &'a dyn Fn(Event<'_>),
}

impl FetchOptions<'static> {
    /// Network allowed, a 10 s connect timeout, no reports.
    pub fn new(cache_dir: PathBuf, dest_dir: PathBuf) -> FetchOptions<'static> {
        FetchOptions {
            cache_dir,
            dest_dir,
            network: true,
            connect_timeout: Duration::from_secs(10),
            report: &quiet,
        }
    }
}

impl FetchOptions<'_> {
    fn note(&self, line: &str) {
        (self.report)(Event::Note(line));
    }
}

/// A verified source tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub tree: PathBuf,
    /// The verified tarball it came from (none for a local tree).
    pub tarball: Option<PathBuf>,
    pub from: Origin,
    /// True when the tree was already there and nothing was unpacked.
    pub reused: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}; try `--from debian` or `--from PATH`")]
    Download(DownloadError),
    #[error(transparent)]
    Debian(#[from] DebianError),
    #[error("{python_org}; Debian failed too: {debian}")]
    NoSource { python_org: String, debian: String },
    #[error("{file}: SHA-256 is {actual} but versions.toml says {expected}; moved it aside to {moved_to} and unpacked nothing; fetch again, or check where the file came from")]
    HashMismatch {
        file: PathBuf,
        expected: String,
        actual: String,
        moved_to: PathBuf,
    },
    #[error("{file}: SHA-256 is {actual} but versions.toml says {expected} for CPython {version}; unpacked nothing; pass the genuine release tarball")]
    LocalHashMismatch {
        file: PathBuf,
        version: String,
        expected: String,
        actual: String,
    },
    #[error("{path} holds CPython {found}, not {wanted}; pass a {wanted} tree or tarball")]
    WrongLocalTree {
        path: PathBuf,
        found: String,
        wanted: String,
    },
    #[error(transparent)]
    NotATree(#[from] PatchlevelError),
    #[error("{0} does not exist; `--from` takes auto, python.org, debian, or the path of a CPython tarball or unpacked tree")]
    NoSuchPath(PathBuf),
    #[error("CPython {version} is not in the cache {cache} and network use is off; allow the network or pass `--from PATH`")]
    Offline { version: String, cache: PathBuf },
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error("cannot {action} {path} ({source}); check permissions or pass --cache-dir")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// Gets `release` from `source` and returns the verified, unpacked tree.
pub fn fetch(
    release: &Release,
    source: &Source,
    opts: &FetchOptions<'_>,
) -> Result<Fetched, Error> {
    let (tarball, from) = match source {
        Source::Path(path) => return from_path(release, path, opts),
        Source::Auto => match cached(release, opts)? {
            Some(path) => (path, Origin::Cache),
            None => from_network(release, opts)?,
        },
        Source::PythonOrg => match cached(release, opts)? {
            Some(path) => (path, Origin::Cache),
            None => {
                require_network(release, opts)?;
                (from_python_org(release, opts)?, Origin::PythonOrg)
            }
        },
        Source::Debian => match cached(release, opts)? {
            Some(path) => (path, Origin::Cache),
            None => {
                require_network(release, opts)?;
                from_debian(release, opts)?
            }
        },
    };
    unpack(release, tarball, from, opts)
}

/// The default download cache: `$XDG_CACHE_HOME/cpython-dtrace`, else
/// `~/.cache/cpython-dtrace`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let home = || {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|h| h.join(".cache"))
    };
    xdg.or_else(home).map(|base| base.join("cpython-dtrace"))
}

/// Lower-case hex SHA-256 of a file's contents.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn cache_path(release: &Release, opts: &FetchOptions<'_>) -> PathBuf {
    opts.cache_dir.join(release.tarball_name())
}

/// The cached tarball, if there is one and it is intact.
fn cached(release: &Release, opts: &FetchOptions<'_>) -> Result<Option<PathBuf>, Error> {
    let path = cache_path(release, opts);
    if !path.is_file() {
        return Ok(None);
    }
    verify_or_move_aside(release, &path, &path)?;
    opts.note(&format!(
        "using cached {} (sha256 verified)",
        path.display()
    ));
    Ok(Some(path))
}

fn require_network(release: &Release, opts: &FetchOptions<'_>) -> Result<(), Error> {
    if opts.network {
        Ok(())
    } else {
        Err(Error::Offline {
            version: release.version.clone(),
            cache: opts.cache_dir.clone(),
        })
    }
}

/// python.org, and Debian when python.org cannot be had.
fn from_network(release: &Release, opts: &FetchOptions<'_>) -> Result<(PathBuf, Origin), Error> {
    require_network(release, opts)?;
    let python_org = match from_python_org(release, opts) {
        Ok(path) => return Ok((path, Origin::PythonOrg)),
        Err(Error::Download(e)) => e,
        Err(other) => return Err(other),
    };
    opts.note(&format!("{python_org}; trying Debian"));
    from_debian(release, opts).map_err(|e| match e {
        Error::Debian(debian) => Error::NoSource {
            python_org: python_org.to_string(),
            debian: debian.to_string(),
        },
        other => other,
    })
}

fn from_python_org(release: &Release, opts: &FetchOptions<'_>) -> Result<PathBuf, Error> {
    let (part, done) = staging_paths(release, opts)?;
    opts.note(&format!("downloading {}", release.url));
    let mut progress = |p: Progress| (opts.report)(Event::Progress(p));
    if let Err(e) = download::download(&release.url, &part, opts.connect_timeout, &mut progress) {
        let _ = fs::remove_file(&part);
        return Err(Error::Download(e));
    }
    verify_or_move_aside(release, &part, &done)?;
    fs::rename(&part, &done).map_err(io_err("store", &done))?;
    Ok(done)
}

fn from_debian(release: &Release, opts: &FetchOptions<'_>) -> Result<(PathBuf, Origin), Error> {
    let (part, done) = staging_paths(release, opts)?;
    let note = |line: &str| opts.note(line);
    let apt_root = opts.cache_dir.join("debian-apt");
    let orig = debian::fetch_orig(release, &apt_root, &part, &note)?;
    verify_or_move_aside(release, &part, &done)?;
    fs::rename(&part, &done).map_err(io_err("store", &done))?;
    Ok((
        done,
        Origin::Debian {
            package: orig.package,
            version: orig.version,
        },
    ))
}

/// The `.part` file a download goes to, and the cache name it is renamed
/// to once verified; so a cached file is always a complete one.
fn staging_paths(release: &Release, opts: &FetchOptions<'_>) -> Result<(PathBuf, PathBuf), Error> {
    fs::create_dir_all(&opts.cache_dir).map_err(io_err("create", &opts.cache_dir))?;
    let done = cache_path(release, opts);
    let mut part = done.clone().into_os_string();
    part.push(".part");
    Ok((PathBuf::from(part), done))
}

/// Checks `file` against versions.toml; on a mismatch renames it to
/// `<named>.bad-<unix time>` and fails naming both hashes.
fn verify_or_move_aside(release: &Release, file: &Path, named: &Path) -> Result<(), Error> {
    let actual = sha256_file(file).map_err(io_err("read", file))?;
    if actual == release.sha256 {
        return Ok(());
    }
    let moved_to = aside_name(named);
    fs::rename(file, &moved_to).map_err(io_err("move aside", file))?;
    Err(Error::HashMismatch {
        file: named.to_path_buf(),
        expected: release.sha256.clone(),
        actual,
        moved_to,
    })
}

/// `<path>.bad-<unix time>`, with a counter if that is taken.
fn aside_name(path: &Path) -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{}.bad-{secs}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while fs::symlink_metadata(&candidate).is_ok() {
        candidate = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

/// `--from PATH`: a tree is checked and used in place, a tarball is checked
/// and unpacked; neither is ever changed.
fn from_path(release: &Release, path: &Path, opts: &FetchOptions<'_>) -> Result<Fetched, Error> {
    let meta = fs::metadata(path).map_err(|_| Error::NoSuchPath(path.to_path_buf()))?;
    if meta.is_dir() {
        let found = tree_version(path)?;
        if found != release.version {
            return Err(Error::WrongLocalTree {
                path: path.to_path_buf(),
                found,
                wanted: release.version.clone(),
            });
        }
        opts.note(&format!(
            "using the CPython {found} tree at {} as it is",
            path.display()
        ));
        return Ok(Fetched {
            tree: path.to_path_buf(),
            tarball: None,
            from: Origin::LocalTree,
            reused: true,
        });
    }
    let actual = sha256_file(path).map_err(io_err("read", path))?;
    if actual != release.sha256 {
        return Err(Error::LocalHashMismatch {
            file: path.to_path_buf(),
            version: release.version.clone(),
            expected: release.sha256.clone(),
            actual,
        });
    }
    opts.note(&format!("using {} (sha256 verified)", path.display()));
    unpack(release, path.to_path_buf(), Origin::LocalTarball, opts)
}

fn unpack(
    release: &Release,
    tarball: PathBuf,
    from: Origin,
    opts: &FetchOptions<'_>,
) -> Result<Fetched, Error> {
    let top = release.tree_name();
    let target = opts.dest_dir.join(&top);
    if !target.exists() {
        opts.note(&format!("unpacking into {}", target.display()));
    }
    let done = extract::extract(&tarball, &top, &release.version, &opts.dest_dir)?;
    if done.reused {
        opts.note(&format!(
            "reusing the existing CPython {} tree {}",
            release.version,
            done.tree.display()
        ));
    }
    Ok(Fetched {
        tree: done.tree,
        tarball: Some(tarball),
        from,
        reused: done.reused,
    })
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl Fn(io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_names_the_three_sources_and_takes_anything_else_as_a_path() {
        assert_eq!("auto".parse::<Source>().unwrap(), Source::Auto);
        assert_eq!("python.org".parse::<Source>().unwrap(), Source::PythonOrg);
        assert_eq!("debian".parse::<Source>().unwrap(), Source::Debian);
        assert_eq!(
            "./Python-3.9.2.tar.xz".parse::<Source>().unwrap(),
            Source::Path(PathBuf::from("./Python-3.9.2.tar.xz"))
        );
    }

    #[test]
    fn sha256_of_a_known_input() {
        let path = std::env::temp_dir().join(format!("sha-test-{}", std::process::id()));
        fs::write(&path, b"abc").unwrap();
        let hash = sha256_file(&path).unwrap();
        let _ = fs::remove_file(&path);
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn aside_name_never_reuses_a_taken_name() {
        let dir = std::env::temp_dir().join(format!("aside-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("Python-3.9.2.tar.xz");
        let first = aside_name(&file);
        fs::write(&first, b"x").unwrap();
        let second = aside_name(&file);
        let _ = fs::remove_dir_all(&dir);
        assert_ne!(first, second);
        assert!(first.to_string_lossy().contains(".bad-"));
    }
}
