//! What a CPython build is and where it lives, in one typed place shared by
//! `build`, `verify`, the fire tests and the benchmarks.
//!
//! ```text
//! target/cpython/<id>/                 the install (prefix), stamp written last
//! target/cpython/.build/<id>/src       a fresh copy of the pristine tree
//! target/cpython/.build/<id>/logs      configure.log, make.log, install.log
//! ```
//!
//! `<id>` is `<X.Y.Z>-<platform>` plus the variant's suffixes in a fixed
//! order: `-shared`, `-ft`, then `-stock` or `-plain`, then `-pad<N>`.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cpython_sources::versions::{Release, Table};

/// The name of the stamp file in an install dir; it exists only once a build
/// has finished (see `build`).
pub const STAMP: &str = ".cpython-dtrace-build";

/// Which source the interpreter is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patch {
    /// Our series applied, `--with-dtrace`: the product.
    Patched,
    /// Upstream as released, `--with-dtrace`: what users get today.
    Stock,
    /// Upstream without DTrace: the baseline for overhead figures.
    Plain,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    pub patch: Patch,
    /// `--enable-shared`: the probes live in libpython.
    pub shared: bool,
    /// `--disable-gil` (3.13 and later).
    pub free_threaded: bool,
    /// Bytes of never-run code added to the interpreter loop (0: none): a
    /// code-layout control for the benchmarks, see `padding`.
    pub pad: u16,
}

impl Variant {
    /// The id suffix, e.g. `-shared-ft-stock`; empty for the default.
    pub fn suffix(&self) -> String {
        let mut s = String::new();
        if self.shared {
            s.push_str("-shared");
        }
        if self.free_threaded {
            s.push_str("-ft");
        }
        match self.patch {
            Patch::Patched => {}
            Patch::Stock => s.push_str("-stock"),
            Patch::Plain => s.push_str("-plain"),
        }
        if self.pad > 0 {
            s.push_str(&format!("-pad{}", self.pad));
        }
        s
    }

    /// Whether configure gets `--with-dtrace`.
    pub fn with_dtrace(&self) -> bool {
        self.patch != Patch::Plain
    }
}

/// The operating system a build is for. Only the host's can be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    Linux,
    Freebsd,
    Macos,
    Illumos,
}

impl Platform {
    /// The platform this program runs on, if it is one we know.
    pub fn host() -> Option<Platform> {
        match std::env::consts::OS {
            "linux" => Some(Platform::Linux),
            "freebsd" => Some(Platform::Freebsd),
            "macos" => Some(Platform::Macos),
            "illumos" | "solaris" => Some(Platform::Illumos),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::Freebsd => "freebsd",
            Platform::Macos => "macos",
            Platform::Illumos => "illumos",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The flags that pick a build, shared by `build` and `verify`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Selection {
    /// The CPython release, e.g. 3.13.15 [default: the newest in versions.toml]
    #[arg(long = "python", value_name = "X.Y.Z")]
    pub python: Option<String>,
    /// Build libpython as a shared library (--enable-shared); probes live there
    #[arg(long)]
    pub shared: bool,
    /// The free-threaded interpreter (--disable-gil, 3.13 and later)
    #[arg(long)]
    pub free_threaded: bool,
    /// Upstream sources unpatched, with --with-dtrace (what upstream gives)
    #[arg(long, conflicts_with = "plain")]
    pub stock: bool,
    /// Upstream sources unpatched, without DTrace (the overhead baseline)
    #[arg(long)]
    pub plain: bool,
    /// Add BYTES (a multiple of 16) of code that never runs ahead of all
    /// hot code, which moves every hot function by BYTES: a code-layout
    /// control (what `bench --layouts` builds)
    #[arg(long, value_name = "BYTES", value_parser = crate::padding::parse_bytes)]
    pub pad_code: Option<u16>,
    /// The platform to build for [default: this host's]
    #[arg(long, value_enum, value_name = "PLATFORM")]
    pub platform: Option<Platform>,
}

impl Selection {
    /// Resolves the flags against versions.toml and the host.
    pub fn resolve(&self, root: &Path) -> anyhow::Result<Build> {
        let build = self.resolve_any_platform(root)?;
        crate::platform::check_host(build.platform, Platform::host())?;
        Ok(build)
    }

    /// Like `resolve`, for any platform on any host: `build --dry-run`.
    pub fn resolve_any_platform(&self, root: &Path) -> anyhow::Result<Build> {
        let table = Table::load(&root.join("versions.toml"))?;
        let release = match &self.python {
            Some(version) => table.get(version)?.clone(),
            None => newest(&table)
                .context("versions.toml lists no releases; add one")?
                .clone(),
        };
        let platform = match (self.platform, Platform::host()) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => anyhow::bail!(
                "{} is not a platform this project builds on; pass --platform linux|freebsd|macos|illumos with --dry-run",
                std::env::consts::OS
            ),
        };
        let patch = match (self.stock, self.plain) {
            (true, true) => anyhow::bail!("--stock and --plain exclude each other; pick one"),
            (true, false) => Patch::Stock,
            (false, true) => Patch::Plain,
            (false, false) => Patch::Patched,
        };
        let build = Build {
            release,
            variant: Variant {
                patch,
                shared: self.shared,
                free_threaded: self.free_threaded,
                pad: self.pad_code.unwrap_or(0),
            },
            platform,
            cpython_dir: root.join("target").join("cpython"),
        };
        if build.variant.free_threaded && build.minor() < (3, 13) {
            anyhow::bail!(
                "--free-threaded needs CPython 3.13 or later; {} has no --disable-gil",
                build.release.version
            );
        }
        Ok(build)
    }
}

/// The newest release, comparing versions numerically (3.13.15 > 3.13.5).
pub fn newest(table: &Table) -> Option<&Release> {
    table
        .releases()
        .iter()
        .max_by_key(|r| parse_version(&r.version))
}

/// `X.Y.Z` as numbers; parts that are not numbers count as 0 (versions.toml
/// is checked on load, so that does not happen there).
pub fn parse_version(version: &str) -> (u32, u32, u32) {
    let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// One CPython build: which release, which variant, for which platform.
#[derive(Clone, Debug)]
pub struct Build {
    pub release: Release,
    pub variant: Variant,
    pub platform: Platform,
    /// Where installs and build dirs live: `<repo>/target/cpython`.
    pub cpython_dir: PathBuf,
}

impl Build {
    /// `3.13.15-linux`, `3.13.15-linux-shared-ft-stock`, …
    pub fn id(&self) -> String {
        format!(
            "{}-{}{}",
            self.release.version,
            self.platform,
            self.variant.suffix()
        )
    }

    /// `(X, Y)` of the release.
    pub fn minor(&self) -> (u32, u32) {
        let (x, y, _) = parse_version(&self.release.version);
        (x, y)
    }

    /// `X.Y`, e.g. `3.13`.
    pub fn minor_str(&self) -> String {
        let (x, y) = self.minor();
        format!("{x}.{y}")
    }

    /// `X.Y` plus the ABI flags that name the binary and library: `3.13t`
    /// when free-threaded. (The `m` flag was gone by 3.8, and 2.7 never had it.)
    pub fn ldversion(&self) -> String {
        let t = if self.variant.free_threaded { "t" } else { "" };
        format!("{}{t}", self.minor_str())
    }

    /// The install prefix.
    pub fn install_dir(&self) -> PathBuf {
        self.cpython_dir.join(self.id())
    }

    /// Scratch space for this build: `src/` and `logs/`.
    pub fn build_dir(&self) -> PathBuf {
        self.cpython_dir.join(".build").join(self.id())
    }

    pub fn src_dir(&self) -> PathBuf {
        self.build_dir().join("src")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.build_dir().join("logs")
    }

    /// The stamp that marks a finished build.
    pub fn stamp_path(&self) -> PathBuf {
        self.install_dir().join(STAMP)
    }

    /// Whether a build finished here (an interrupted one has no stamp).
    pub fn is_complete(&self) -> bool {
        self.stamp_path().is_file()
    }

    /// The interpreter in the install dir.
    pub fn python_path(&self) -> PathBuf {
        self.python_in(&self.install_dir())
    }

    /// The interpreter under another install prefix. `make install` names
    /// it `python3` (a link to `python3.13`); free-threaded builds are
    /// `python3.13t`, which is the name that says what it is.
    pub fn python_in(&self, install: &Path) -> PathBuf {
        let name = if self.variant.free_threaded {
            format!("python{}", self.ldversion())
        } else {
            format!("python{}", self.minor().0)
        };
        install.join("bin").join(name)
    }

    /// The shared libpython (the real file, not its symlinks); only
    /// meaningful for shared builds.
    pub fn libpython_in(&self, install: &Path) -> PathBuf {
        install
            .join("lib")
            .join(format!("libpython{}.so.1.0", self.ldversion()))
    }

    /// The files whose probes make up the build: the interpreter, and for
    /// shared builds libpython, where the probe sites are.
    pub fn probe_binaries(&self) -> Vec<PathBuf> {
        self.probe_binaries_in(&self.install_dir())
    }

    pub fn probe_binaries_in(&self, install: &Path) -> Vec<PathBuf> {
        let mut files = vec![self.python_in(install)];
        if self.variant.shared {
            files.push(self.libpython_in(install));
        }
        files
    }

    /// The file tracers attach to: libpython for shared builds.
    pub fn probe_target_in(&self, install: &Path) -> PathBuf {
        if self.variant.shared {
            self.libpython_in(install)
        } else {
            self.python_in(install)
        }
    }

    /// The committed platform-neutral probe listing for this X.Y.
    pub fn expected_listing(&self, root: &Path) -> PathBuf {
        root.join("ci").join("expected").join(format!(
            "{}-{}.json",
            self.minor_str(),
            self.platform
        ))
    }

    /// The build flags that select this build again, for messages:
    /// ` --python 3.13.15 --shared --stock`.
    pub fn flags(&self) -> String {
        let mut s = format!(" --python {}", self.release.version);
        if self.variant.shared {
            s.push_str(" --shared");
        }
        if self.variant.free_threaded {
            s.push_str(" --free-threaded");
        }
        match self.variant.patch {
            Patch::Patched => {}
            Patch::Stock => s.push_str(" --stock"),
            Patch::Plain => s.push_str(" --plain"),
        }
        if self.variant.pad > 0 {
            s.push_str(&format!(" --pad-code {}", self.variant.pad));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        crate::project_root()
    }

    fn select(python: &str, f: impl FnOnce(&mut Selection)) -> anyhow::Result<Build> {
        let mut sel = Selection {
            python: Some(python.to_owned()),
            ..Selection::default()
        };
        f(&mut sel);
        sel.resolve(&root())
    }

    #[test]
    fn ids_combine_suffixes_in_a_fixed_order() {
        let b = select("3.13.15", |_| {}).unwrap();
        assert_eq!(b.id(), "3.13.15-linux");
        let b = select("3.13.15", |s| {
            s.stock = true;
            s.free_threaded = true;
            s.shared = true;
        })
        .unwrap();
        assert_eq!(b.id(), "3.13.15-linux-shared-ft-stock");
        let b = select("3.11.2", |s| s.plain = true).unwrap();
        assert_eq!(b.id(), "3.11.2-linux-plain");
        let b = select("3.11.2", |s| {
            s.plain = true;
            s.pad_code = Some(48);
        })
        .unwrap();
        assert_eq!(b.id(), "3.11.2-linux-plain-pad48");
        assert_eq!(b.flags(), " --python 3.11.2 --plain --pad-code 48");
        let b = select("3.11.2", |s| {
            s.plain = true;
        })
        .unwrap();
        assert_eq!(
            b.install_dir(),
            root().join("target/cpython/3.11.2-linux-plain")
        );
        assert_eq!(
            b.build_dir(),
            root().join("target/cpython/.build/3.11.2-linux-plain")
        );
    }

    #[test]
    fn interpreter_and_library_names_follow_make_install() {
        let b = select("3.13.15", |s| s.shared = true).unwrap();
        let dir = Path::new("/p");
        assert_eq!(b.python_in(dir), Path::new("/p/bin/python3"));
        assert_eq!(
            b.probe_binaries_in(dir),
            [
                PathBuf::from("/p/bin/python3"),
                PathBuf::from("/p/lib/libpython3.13.so.1.0")
            ]
        );
        assert_eq!(
            b.probe_target_in(dir),
            Path::new("/p/lib/libpython3.13.so.1.0")
        );
        let ft = select("3.13.5", |s| s.free_threaded = true).unwrap();
        assert_eq!(ft.python_in(dir), Path::new("/p/bin/python3.13t"));
        assert_eq!(ft.probe_binaries_in(dir).len(), 1);
        let old = select("2.7.18", |_| {}).unwrap();
        assert_eq!(old.python_in(dir), Path::new("/p/bin/python2"));
        assert_eq!(
            old.expected_listing(Path::new("/r")),
            Path::new("/r/ci/expected/2.7-linux.json")
        );
    }

    #[test]
    fn the_default_is_the_numerically_newest_release() {
        let b = Selection::default().resolve(&root()).unwrap();
        assert_eq!(b.release.version, "3.13.15");
        assert!(parse_version("3.13.5") < parse_version("3.13.15"));
    }

    #[test]
    fn refusals_say_what_to_do() {
        let err = |r: anyhow::Result<Build>| format!("{:#}", r.unwrap_err());
        assert_eq!(
            err(select("3.13.15", |s| s.platform = Some(Platform::Freebsd))),
            "building for freebsd needs a freebsd host (this is linux); `--dry-run` prints the plan on any host"
        );
        assert!(err(select("3.11.2", |s| s.free_threaded = true)).contains("3.13 or later"));
        assert!(err(select("3.12.0", |_| {})).contains("supported: 2.7.18"));
        assert!(err(select("3.13.15", |s| {
            s.stock = true;
            s.plain = true;
        }))
        .contains("--stock and --plain"));
    }
}
