//! Platform recipes: how a CPython with probes is built, and its probes
//! traced, on each platform `cargo xtask build --platform` knows.
//!
//! One [`Recipe`] per platform says what differs: compiler, make, the dtrace
//! that makes the header and (where the platform needs it) the `dtrace -G`
//! object, the flags that dtrace needs there, the run-path flags of shared
//! builds, the name of libpython, and how tracing is switched on. [`plan`]
//! combines a recipe with a [`Build`] (release × variant) into a [`Plan`]:
//! every step with its exact command line, the environment, the objects `-G`
//! must see and the files that result. `build` runs the plan on a host of that
//! platform; `--dry-run` prints [`Plan::render`] on any host.
//!
//! Paths in a plan are made of places ([`Var`]: `$REPO`, `$PREFIX`, `$SRC`,
//! …), so the rendering is the same on every host (the goldens in
//! `tests/golden/plans/` rely on it) and [`Plan::resolve`] turns them into the
//! real paths for a real build.
//!
//! # Platform facts the recipes rest on
//!
//! * **`dtrace -G` rewrites objects** (illumos, FreeBSD): it compiles the
//!   provider into DOF inside a new object, and rewrites in place the probe
//!   call sites (`__dtrace_python___*` calls) and is-enabled tests
//!   (`__dtraceenabled_python___*`) of the objects it is given. An object
//!   that fires a probe but is not given keeps an undefined
//!   `__dtrace_python___…` symbol and the link fails. CPython's
//!   `DTRACE_DEPS` has missed objects before: bpo-35520
//!   (python/cpython#11194, Solaris: "DTRACE_DEPS doesn't include all the
//!   necessary files") and bpo-37215 (Python/sysmodule.o, after the audit
//!   probe of bpo-36842). Our series put probes in more files
//!   (Objects/object.c, Objects/typeobject.c, 2.7's Objects/classobject.c),
//!   and upstream 3.13's list lacks Python/gc_free_threading.o, whose gc
//!   probes are the ones a `--disable-gil` build fires. So on these platforms
//!   the plan gives make the full list (`DTRACE_DEPS=…` on its command
//!   line), derived from the patched tree ([`probe_objects`]) and checked
//!   against the documented per-version list ([`documented_objects`]) by
//!   this module's tests.
//! * **illumos `-64`**: dtrace(1M): "The -32 and -64 options also determine
//!   the ELF file format (ELF32 or ELF64) produced by the -G option"; the
//!   objects are 64-bit (`gcc -m64`), so `DFLAGS=-64`. OmniOS builds its own
//!   python3.13 exactly so (omnios-build `build/python313/build.sh`:
//!   `export DFLAGS=-64`, `MAKE_ARGS=DFLAGS=-64`, `set_arch 64`), and
//!   PostgreSQL's install guide says the same for Solaris
//!   (`./configure CC='gcc -m64' --enable-dtrace DTRACEFLAGS='-64'`).
//!   OmniOS's build system uses GNU make (`MAKE=$GNUBIN/make`; illumos'
//!   own /usr/bin/make is not GNU make) and gcc (`CC=gcc`).
//! * **FreeBSD `-x nolibs`**: `dtrace -h`/`-G` would otherwise compile the
//!   D libraries of /usr/lib/dtrace, which need the kernel's types and so
//!   the dtrace modules loaded; the provider file needs none of them.
//!   FreeBSD builds its own USDT users with `DTRACEFLAGS ?= -C -x nolibs`
//!   (share/mk/sys.mk). The ports tree builds CPython with the base make
//!   (lang/python311: GNU_CONFIGURE, no USES=gmake) and the base clang.
//! * **macOS: no `-G`**. CPython's configure.ac: "On OS X, DTrace providers
//!   do not need to be explicitly compiled and linked into the binary.
//!   Correspondingly, dtrace(1) is missing the ELF generation flag '-G'";
//!   configure checks `-G` and leaves DTRACE_OBJS empty, and ld64 builds
//!   the DOF from the `__dtrace_probe$…` call sites when it links.
//!   Tracing needs System Integrity Protection to allow dtrace:
//!   `csrutil enable --without dtrace` (or `csrutil disable`) from Recovery;
//!   hosted CI runners cannot do that, so CI verifies macOS builds
//!   statically (the DOF in the Mach-O file).
//! * **Enabling tracing**: FreeBSD `kldload dtraceall` as root (dtrace
//!   itself and fasttrap, the provider of user-space probes; FreeBSD
//!   Handbook, DTrace chapter); illumos has DTrace in the kernel: root, or
//!   a user with the `dtrace_proc` and `dtrace_user` privileges; Linux:
//!   bpftrace as root with tracefs mounted.
//! * **Shared builds**: Linux and FreeBSD need `-Wl,-rpath,$PREFIX/lib` so
//!   the installed python finds its own libpython; on illumos configure
//!   already links python with `-Wl,-R,$(LIBDIR)` (configure.ac, SunOS
//!   BLDLIBRARY); on macOS libpython's install name is its absolute path
//!   (`-install_name $(prefix)/lib/…`), so nothing is needed. libpython is
//!   `libpythonX.Y.so.1.0` (SOVERSION 1.0), except 2.7 on FreeBSD, whose
//!   configure keeps the major only (`libpython2.7.so.1`), and macOS
//!   (`libpythonX.Y.dylib`).
//! * **2.7** has no DTrace support upstream: `--with-dtrace` comes from our
//!   series (patches/2.7/0001, which ships the regenerated configure).
//!   `make install`'s COMPILEALL_OPTS exists from 3.12 on (the 3.13 trees
//!   have it; 2.7.18, 3.9.2 and 3.11.2 do not).

#![allow(dead_code)] // until build.rs and main.rs use every item

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use cpython_sources::patch::{FileData, Overlay};
use cpython_sources::series::Series;

use crate::layout::{Build, Patch, Platform};

/// Which dtrace makes the header and the `-G` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DtraceTool {
    /// Ours (crates/dtrace-cli): SystemTap-style header and semaphores; Linux only.
    Ours,
    /// The platform's: SystemTap's `dtrace` from PATH on Linux,
    /// /usr/sbin/dtrace elsewhere.
    System,
}

/// A place a plan's paths are relative to, rendered as `$NAME`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    Repo,
    Build,
    Src,
    Prefix,
    Jobs,
    OurDtrace,
    SystemDtrace,
}

impl Var {
    pub fn name(self) -> &'static str {
        match self {
            Var::Repo => "$REPO",
            Var::Build => "$BUILD",
            Var::Src => "$SRC",
            Var::Prefix => "$PREFIX",
            Var::Jobs => "$JOBS",
            Var::OurDtrace => "$OUR_DTRACE",
            Var::SystemDtrace => "$SYSTEM_DTRACE",
        }
    }

    /// What the place is, for the rendering's legend.
    fn meaning(self, id: &str) -> String {
        match self {
            Var::Repo => "the repository root".to_owned(),
            Var::Build => format!("$REPO/target/cpython/.build/{id}"),
            Var::Src => "$BUILD/src".to_owned(),
            Var::Prefix => format!("$REPO/target/cpython/{id}"),
            Var::Jobs => "make's job count (--jobs; default: the number of CPUs)".to_owned(),
            Var::OurDtrace => {
                "our dtrace, as Cargo builds it (cargo build -p dtrace-cli)".to_owned()
            }
            Var::SystemDtrace => "SystemTap's dtrace, found on PATH (systemtap-sdt-dev)".to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var(Var),
}

/// One command-line word made of literal text and places.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word(Vec<Piece>);

impl Word {
    pub fn lit(s: impl Into<String>) -> Word {
        Word(vec![Piece::Lit(s.into())])
    }

    pub fn var(v: Var) -> Word {
        Word(vec![Piece::Var(v)])
    }

    fn and(mut self, s: impl Into<String>) -> Word {
        self.0.push(Piece::Lit(s.into()));
        self
    }

    fn and_var(mut self, v: Var) -> Word {
        self.0.push(Piece::Var(v));
        self
    }

    /// Appends another word's pieces.
    fn and_word(mut self, other: &Word) -> Word {
        self.0.extend(other.0.iter().cloned());
        self
    }

    fn vars(&self) -> impl Iterator<Item = Var> + '_ {
        self.0.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(*v),
            Piece::Lit(_) => None,
        })
    }

    /// The word with `$PLACE` names, quoted for a POSIX shell when needed
    /// (double quotes when it holds a place, so the place still expands).
    pub fn render(&self) -> String {
        let raw: String = self
            .0
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => s.clone(),
                Piece::Var(v) => v.name().to_owned(),
            })
            .collect();
        let lits: String = self
            .0
            .iter()
            .filter_map(|p| match p {
                Piece::Lit(s) => Some(s.as_str()),
                Piece::Var(_) => None,
            })
            .collect();
        let special = |c: char| c.is_whitespace() || "'\"\\|&;<>()*?[]#~`!{}$".contains(c);
        if raw.is_empty() {
            return "''".to_owned();
        }
        if !lits.chars().any(special) {
            return raw;
        }
        if self.vars().next().is_none() {
            return format!("'{}'", raw.replace('\'', r"'\''"));
        }
        let mut out = String::from("\"");
        for p in &self.0 {
            match p {
                Piece::Lit(s) => {
                    for c in s.chars() {
                        if "\"\\`$".contains(c) {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
                Piece::Var(v) => out.push_str(v.name()),
            }
        }
        out.push('"');
        out
    }

    /// The word with the real values of its places.
    pub fn resolve(&self, real: &Real) -> anyhow::Result<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Var(v) => out.push_str(&real.get(*v)?),
            }
        }
        Ok(out)
    }
}

/// The real values of the places, for a build that runs.
#[derive(Clone, Debug)]
pub struct Real {
    pub repo: PathBuf,
    pub build_dir: PathBuf,
    pub src: PathBuf,
    pub prefix: PathBuf,
    pub jobs: String,
    /// The dtrace binary: ours as Cargo built it, or SystemTap's from PATH
    /// (Linux only; other platforms name /usr/sbin/dtrace literally).
    pub dtrace: Option<PathBuf>,
}

impl Real {
    pub fn new(repo: &Path, build: &Build, jobs: String, dtrace: Option<PathBuf>) -> Real {
        Real {
            repo: repo.to_path_buf(),
            build_dir: build.build_dir(),
            src: build.src_dir(),
            prefix: build.install_dir(),
            jobs,
            dtrace,
        }
    }

    fn get(&self, v: Var) -> anyhow::Result<String> {
        let path = |p: &Path| p.display().to_string();
        Ok(match v {
            Var::Repo => path(&self.repo),
            Var::Build => path(&self.build_dir),
            Var::Src => path(&self.src),
            Var::Prefix => path(&self.prefix),
            Var::Jobs => self.jobs.clone(),
            Var::OurDtrace | Var::SystemDtrace => match &self.dtrace {
                Some(p) => path(p),
                None => bail!(
                    "the plan needs {} but no dtrace path was given; build our dtrace first (cargo build -p dtrace-cli)",
                    v.name()
                ),
            },
        })
    }
}

/// What `dtrace -G` is on a platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GStep {
    /// Linux (ours and SystemTap's): an object defining every probe's
    /// semaphore; the objects are only read, so DTRACE_DEPS may be short.
    Semaphores,
    /// illumos, FreeBSD: DOF plus the in-place rewrite of every object that
    /// fires a probe; DTRACE_DEPS must name them all.
    RewritesObjects,
    /// macOS: there is no -G; the linker makes the DOF.
    Linker,
}

/// How a shared build's python finds its libpython.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rpath {
    /// `LDFLAGS=-Wl,-rpath,$PREFIX/lib` (GNU ld, lld).
    Flag,
    /// configure adds `-Wl,-R,$(LIBDIR)` itself (illumos).
    ByConfigure,
    /// libpython's install name is absolute (macOS).
    InstallName,
}

/// Everything that differs between platforms.
#[derive(Debug)]
pub struct Recipe {
    pub platform: Platform,
    /// `CC=` for configure; `None`: configure's own choice.
    pub cc: Option<&'static str>,
    /// The compiler, for people.
    pub cc_about: &'static str,
    pub make: &'static str,
    pub make_about: &'static str,
    /// The `cp` that `cp -a` works with.
    pub cp: &'static str,
    /// The platform's dtrace, when it has a fixed path.
    pub dtrace: Option<&'static str>,
    pub dtrace_about: &'static str,
    /// `DFLAGS` for configure (and so for every dtrace the Makefile runs).
    pub dflags: &'static [&'static str],
    pub g_step: GStep,
    pub rpath: Rpath,
    /// Commands (as root) that make tracing possible.
    pub enable_tracing: &'static [&'static str],
    /// Notes that hold for every build on the platform.
    pub notes: &'static [&'static str],
}

pub const LINUX: Recipe = Recipe {
    platform: Platform::Linux,
    cc: None,
    cc_about: "cc (configure's choice: gcc)",
    make: "make",
    make_about: "make (GNU make)",
    cp: "cp",
    dtrace: None,
    dtrace_about: "ours (crates/dtrace-cli), or SystemTap's with --dtrace system",
    dflags: &[],
    g_step: GStep::Semaphores,
    rpath: Rpath::Flag,
    enable_tracing: &[
        "mount -t tracefs nodev /sys/kernel/tracing   # only when /sys/kernel/tracing is empty",
    ],
    notes: &[
        "probe sites are .note.stapsdt notes the compiler emits in every object; dtrace -G only defines the semaphores, so Makefile.pre.in's DTRACE_DEPS is enough",
        "tracers need root: bpftrace sets the semaphores of the process it starts (-c) or attaches to (-p)",
    ],
};

pub const FREEBSD: Recipe = Recipe {
    platform: Platform::Freebsd,
    cc: None,
    cc_about: "cc (configure's choice: the base system's clang)",
    make: "make",
    make_about: "make (the base system's; the ports tree builds CPython with it)",
    cp: "cp",
    dtrace: Some("/usr/sbin/dtrace"),
    dtrace_about: "the base system's",
    dflags: &["-x", "nolibs"],
    g_step: GStep::RewritesObjects,
    rpath: Rpath::Flag,
    enable_tracing: &["kldload dtraceall   # dtrace, and fasttrap for user-space probes"],
    notes: &[
        "-x nolibs: dtrace -h/-G then need none of /usr/lib/dtrace, whose D libraries need the kernel's types (the dtrace modules loaded); FreeBSD builds its own USDT users so (share/mk/sys.mk: DTRACEFLAGS ?= -C -x nolibs)",
        "dtrace -G rewrites the probe sites of the objects it is given and records them in Python/pydtrace.o: an object that fires a probe and is not given leaves an undefined __dtrace_python___* symbol (bpo-35520, bpo-37215)",
    ],
};

pub const ILLUMOS: Recipe = Recipe {
    platform: Platform::Illumos,
    cc: Some("gcc -m64"),
    cc_about: "gcc -m64 (64-bit objects, as OmniOS builds its python)",
    make: "gmake",
    make_about: "gmake (GNU make; /usr/bin/make is illumos make)",
    cp: "/usr/gnu/bin/cp",
    dtrace: Some("/usr/sbin/dtrace"),
    dtrace_about: "the system's",
    dflags: &["-64"],
    g_step: GStep::RewritesObjects,
    rpath: Rpath::ByConfigure,
    enable_tracing: &[
        "# DTrace is always in the kernel: run as root, or give the user dtrace_proc and dtrace_user",
    ],
    notes: &[
        "-64: -32/-64 choose the ELF class dtrace -G writes; the objects are 64-bit (gcc -m64), as in OmniOS's own python build (DFLAGS=-64)",
        "dtrace -G rewrites the probe sites of the objects it is given and records them in Python/pydtrace.o: an object that fires a probe and is not given leaves an undefined __dtrace_python___* symbol (bpo-35520, bpo-37215)",
        "illumos cp has no -a: the tree is copied with GNU cp (/usr/gnu/bin/cp)",
    ],
};

pub const MACOS: Recipe = Recipe {
    platform: Platform::Macos,
    cc: None,
    cc_about: "cc (configure's choice: Xcode's clang)",
    make: "make",
    make_about: "make (Xcode's GNU make)",
    cp: "cp",
    dtrace: Some("/usr/sbin/dtrace"),
    dtrace_about: "the system's; only -h is used",
    dflags: &[],
    g_step: GStep::Linker,
    rpath: Rpath::InstallName,
    enable_tracing: &[
        "# System Integrity Protection must allow dtrace: from Recovery, csrutil enable --without dtrace",
        "# then run dtrace with sudo; hosted CI runners cannot, so CI verifies the DOF statically",
    ],
    notes: &[
        "no dtrace -G: configure finds that dtrace has no -G and leaves DTRACE_OBJS empty; ld64 makes the DOF from the __dtrace_probe$ call sites as it links",
    ],
};

/// The recipe of a platform.
pub fn recipe(platform: Platform) -> &'static Recipe {
    match platform {
        Platform::Linux => &LINUX,
        Platform::Freebsd => &FREEBSD,
        Platform::Macos => &MACOS,
        Platform::Illumos => &ILLUMOS,
    }
}

/// Refuses to build for another platform than the host's, saying what works.
pub fn check_host(platform: Platform, host: Option<Platform>) -> anyhow::Result<()> {
    match host {
        Some(host) if host == platform => Ok(()),
        Some(host) => {
            let a = if platform == Platform::Illumos {
                "an"
            } else {
                "a"
            };
            bail!(
                "building for {platform} needs {a} {platform} host (this is {host}); `--dry-run` prints the plan on any host"
            )
        }
        None => bail!(
            "building on {} is not supported; `--dry-run --platform {platform}` prints the plan",
            std::env::consts::OS
        ),
    }
}

/// The phases of a build, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Fetch,
    Copy,
    Patch,
    Check,
    Dtrace,
    Configure,
    Make,
    Install,
    Stamp,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Fetch => "fetch",
            Phase::Copy => "copy",
            Phase::Patch => "patch",
            Phase::Check => "check",
            Phase::Dtrace => "dtrace",
            Phase::Configure => "configure",
            Phase::Make => "make",
            Phase::Install => "install",
            Phase::Stamp => "stamp",
        }
    }
}

/// One step of a plan.
#[derive(Clone, Debug)]
pub struct Step {
    pub phase: Phase,
    /// Done by xtask itself; `argv` is then the equivalent command.
    pub by_xtask: bool,
    /// The directory it runs in.
    pub cwd: Option<Var>,
    /// The command line; empty for a check with no command.
    pub argv: Vec<Word>,
    /// Its log, relative to `$BUILD/logs`.
    pub log: Option<&'static str>,
    /// What it does or yields, for people.
    pub about: Option<String>,
}

/// Where `-G`'s objects come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectsFrom {
    /// The per-version list of this module, checked against the patched
    /// trees by its tests.
    Documented,
    /// Scanned in the patched tree of this build.
    Tree,
}

/// The DTrace part of a plan.
#[derive(Clone, Debug)]
pub struct DtracePlan {
    /// The dtrace configure is given (as [`DTRACE_CACHE_VAR`]).
    pub tool: Word,
    pub tool_about: String,
    pub dflags: Vec<String>,
    /// The header command as the Makefile runs it.
    pub header: Vec<Word>,
    /// The environment the Makefile gives dtrace (3.13: CC, CFLAGS).
    pub make_env: Vec<Word>,
    pub g_step: GStep,
    /// The objects that fire probes.
    pub objects: Vec<String>,
    pub objects_from: ObjectsFrom,
    /// The Makefile's own DTRACE_DEPS.
    pub makefile_deps: Vec<String>,
    /// Whether make may get `DTRACE_DEPS=<objects>` on its command line
    /// (patched builds where -G rewrites objects; --stock stays upstream's).
    pub override_deps: bool,
}

impl DtracePlan {
    /// The objects that fire probes but are missing from the Makefile's list.
    pub fn missing_from_makefile(&self) -> Vec<&str> {
        self.objects
            .iter()
            .filter(|o| !self.makefile_deps.contains(o))
            .map(String::as_str)
            .collect()
    }

    /// `DTRACE_DEPS=…` for make's command line: for patched builds on
    /// platforms whose -G rewrites objects, when the Makefile's list lacks
    /// one that fires probes.
    fn deps_arg(&self) -> Option<Word> {
        (self.override_deps && !self.missing_from_makefile().is_empty())
            .then(|| Word::lit(format!("DTRACE_DEPS={}", self.objects.join(" "))))
    }

    /// The `dtrace -G` command as the Makefile runs it.
    pub fn g_command(&self) -> Vec<Word> {
        let mut argv = self.make_env.clone();
        argv.push(self.tool.clone());
        argv.extend(self.dflags.iter().map(Word::lit));
        for a in ["-o", "Python/pydtrace.o", "-G", "-s", "Include/pydtrace.d"] {
            argv.push(Word::lit(a));
        }
        argv.push(Word::lit("$(DTRACE_DEPS)"));
        argv
    }
}

/// The files a build leaves.
#[derive(Clone, Debug)]
pub struct Files {
    pub python: Word,
    /// The file whose probes tracers attach to (libpython for shared
    /// builds); none for --plain.
    pub probes: Option<Word>,
    pub logs: Word,
    pub stamp: Word,
}

/// How the probes of a finished build are listed and fired.
#[derive(Clone, Debug)]
pub struct Tracing {
    pub enable: Vec<String>,
    pub list: String,
    pub fire: String,
}

/// A build, worked out before anything runs.
#[derive(Clone, Debug)]
pub struct Plan {
    pub id: String,
    pub version: String,
    pub minor: (u32, u32),
    pub patch: Patch,
    pub shared: bool,
    pub free_threaded: bool,
    /// `--pad-code` (0: none).
    pub pad: u16,
    pub recipe: &'static Recipe,
    /// The patch series (relative to the repository), for patched builds.
    pub series: Option<String>,
    pub steps: Vec<Step>,
    pub configure: Vec<Word>,
    pub make: Vec<Word>,
    pub install: Vec<Word>,
    pub dtrace: Option<DtracePlan>,
    pub files: Files,
    /// How to list and fire the probes; none for --plain.
    pub tracing: Option<Tracing>,
    pub notes: Vec<String>,
}

/// What a plan takes besides the build.
#[derive(Clone, Debug)]
pub struct Options {
    pub tool: DtraceTool,
    /// The environment variables the recipe reads (today: LDFLAGS, which a
    /// shared build extends with its run path).
    pub env: BTreeMap<String, String>,
}

impl Options {
    /// Ours, and no environment: what `--dry-run` and the goldens show.
    pub fn dry_run() -> Options {
        Options {
            tool: DtraceTool::Ours,
            env: BTreeMap::new(),
        }
    }

    /// The dtrace tool given, and the environment of this process.
    pub fn from_env(tool: DtraceTool) -> Options {
        let env = ["LDFLAGS"]
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
            .collect();
        Options { tool, env }
    }
}

/// How configure is given its dtrace. Not `DTRACE=`: configure.ac empties
/// DTRACE before `AC_PATH_PROG([DTRACE], [dtrace])`, which then takes the
/// first dtrace on PATH (SystemTap's /usr/bin/dtrace on Linux) unless its
/// cache variable is set; 3.9 to 3.13's configure and our 2.7 one
/// (patches/2.7/0001) all honour the cache variable.
pub const DTRACE_CACHE_VAR: &str = "ac_cv_path_DTRACE";

/// The plan for `build` on its platform.
pub fn plan(build: &Build, opts: &Options) -> anyhow::Result<Plan> {
    let recipe = recipe(build.platform);
    let version = build.release.version.clone();
    let minor = build.minor();
    let v = build.variant;
    let series = (v.patch == Patch::Patched).then(|| build.release.series.display().to_string());
    let mut notes: Vec<String> = recipe.notes.iter().map(|s| (*s).to_owned()).collect();

    let dtrace = if v.with_dtrace() {
        Some(dtrace_plan(build, recipe, opts.tool)?)
    } else {
        None
    };

    // configure: the order build.rs has always used, so a Linux plan is
    // exactly its command line; recipes add CC= and DFLAGS=.
    let mut configure = vec![
        Word::lit("./configure"),
        Word::lit("--prefix=").and_var(Var::Prefix),
    ];
    if let Some(cc) = recipe.cc {
        configure.push(Word::lit(format!("CC={cc}")));
    }
    if let Some(d) = &dtrace {
        configure.push(Word::lit("--with-dtrace"));
        configure.push(Word::lit(format!("{DTRACE_CACHE_VAR}=")).and_word(&d.tool));
        if !d.dflags.is_empty() {
            configure.push(Word::lit(format!("DFLAGS={}", d.dflags.join(" "))));
        }
    }
    if v.shared {
        configure.push(Word::lit("--enable-shared"));
        if recipe.rpath == Rpath::Flag {
            let mut ldflags = Word::lit("LDFLAGS=");
            if let Some(flags) = opts.env.get("LDFLAGS").filter(|f| !f.trim().is_empty()) {
                ldflags = ldflags.and(format!("{flags} "));
            }
            configure.push(ldflags.and("-Wl,-rpath,").and_var(Var::Prefix).and("/lib"));
        }
    }
    if v.free_threaded {
        configure.push(Word::lit("--disable-gil"));
    }
    configure.push(Word::lit("--with-ensurepip=no"));

    let mut make = vec![
        Word::lit(recipe.make),
        Word::lit("-j"),
        Word::var(Var::Jobs),
    ];
    let mut install = vec![Word::lit(recipe.make), Word::lit("install")];
    if minor >= (3, 12) {
        install.push(Word::lit("COMPILEALL_OPTS=-j0"));
    }
    if let Some(arg) = dtrace.as_ref().and_then(DtracePlan::deps_arg) {
        make.push(arg.clone());
        install.push(arg);
    }

    let tree = build.release.tree_name();
    let mut steps = vec![
        Step {
            phase: Phase::Fetch,
            by_xtask: true,
            cwd: None,
            argv: words(&["cargo", "xtask", "fetch", "--python", &version]),
            log: None,
            about: Some(format!(
                "$REPO/target/src/{tree}, its SHA-256 checked before unpacking"
            )),
        },
        Step {
            phase: Phase::Copy,
            by_xtask: true,
            cwd: None,
            argv: vec![
                Word::lit(recipe.cp),
                Word::lit("-a"),
                Word::var(Var::Repo).and(format!("/target/src/{tree}")),
                Word::var(Var::Src),
            ],
            log: None,
            about: Some("a fresh copy; the fetched tree is never changed".to_owned()),
        },
    ];
    if let Some(series) = &series {
        steps.push(Step {
            phase: Phase::Patch,
            by_xtask: true,
            cwd: None,
            argv: vec![
                Word::lit("cargo"),
                Word::lit("xtask"),
                Word::lit("patch"),
                Word::lit("--python"),
                Word::lit(&version),
                Word::lit("--source"),
                Word::var(Var::Src),
            ],
            log: None,
            about: Some(format!("{series}/series, all or nothing, no fuzz")),
        });
        steps.push(Step {
            phase: Phase::Check,
            by_xtask: true,
            cwd: None,
            argv: Vec::new(),
            log: None,
            about: Some(format!(
                "Include/pydtrace.d declares exactly the probes of provider.d for {}.{}",
                minor.0, minor.1
            )),
        });
    }
    if build.variant.pad > 0 {
        steps.push(Step {
            phase: Phase::Patch,
            by_xtask: true,
            cwd: None,
            argv: Vec::new(),
            log: None,
            about: Some(format!(
                "Python/ceval.c: {} bytes of never-run code ahead of all hot code (a code-layout control)",
                build.variant.pad
            )),
        });
    }
    if dtrace
        .as_ref()
        .is_some_and(|d| d.tool == Word::var(Var::OurDtrace))
    {
        steps.push(Step {
            phase: Phase::Dtrace,
            by_xtask: true,
            cwd: None,
            argv: words(&["cargo", "build", "-p", "dtrace-cli"]),
            log: None,
            about: Some("-> $OUR_DTRACE".to_owned()),
        });
    }
    for (phase, argv, log) in [
        (Phase::Configure, &configure, "configure.log"),
        (Phase::Make, &make, "make.log"),
        (Phase::Install, &install, "install.log"),
    ] {
        steps.push(Step {
            phase,
            by_xtask: false,
            cwd: Some(Var::Src),
            argv: argv.clone(),
            log: Some(log),
            about: None,
        });
    }
    steps.push(Step {
        phase: Phase::Stamp,
        by_xtask: true,
        cwd: None,
        argv: Vec::new(),
        log: None,
        about: Some(format!(
            "$PREFIX/{}, written last: the inputs of this install",
            crate::layout::STAMP
        )),
    });

    let files = files(build);
    let tracing = v.with_dtrace().then(|| tracing(build, recipe, &files));
    if !v.with_dtrace() {
        notes.clear();
    }

    // Notes about this version and variant.
    if minor == (2, 7) {
        match v.patch {
            Patch::Patched => notes.push(
                "2.7 has no DTrace support upstream: --with-dtrace, DTRACE_HEADERS and DTRACE_OBJS come from our series (patches/2.7, with the regenerated configure)".to_owned(),
            ),
            Patch::Stock => notes.push(
                "upstream 2.7.18 has no --with-dtrace: configure ignores the option and the build has no probes".to_owned(),
            ),
            Patch::Plain => {}
        }
    }
    if let Some(d) = &dtrace {
        let missing = d.missing_from_makefile();
        if !missing.is_empty() && d.g_step == GStep::RewritesObjects {
            notes.push(if d.override_deps {
                format!(
                    "the Makefile's DTRACE_DEPS lacks objects that fire probes ({}): make gets the whole list on its command line",
                    missing.join(" ")
                )
            } else {
                format!(
                    "the Makefile's DTRACE_DEPS lacks objects that fire probes ({}): upstream's link is expected to fail here with undefined __dtrace_python___* symbols (--stock keeps upstream's Makefile)",
                    missing.join(" ")
                )
            });
        }
        if v.free_threaded && minor >= (3, 13) {
            notes.push(
                "--disable-gil: Python/gc_free_threading.o fires the gc probes instead of Python/gc.o".to_owned(),
            );
        }
    }
    if v.shared {
        notes.push(match recipe.rpath {
            Rpath::Flag => "--enable-shared: -Wl,-rpath,$PREFIX/lib lets the installed python find its own libpython".to_owned(),
            Rpath::ByConfigure => "--enable-shared: configure links python with -Wl,-R,$(LIBDIR) itself, so the installed python finds its own libpython".to_owned(),
            Rpath::InstallName => "--enable-shared: libpython's install name is its absolute path ($PREFIX/lib/...), so the installed python finds it".to_owned(),
        });
    }
    if build.platform == Platform::Macos && minor == (2, 7) {
        notes.push(
            "2.7.18 predates Apple silicon (supported from 3.9.1); the CI matrix runs it as experimental".to_owned(),
        );
    }

    Ok(Plan {
        id: build.id(),
        version,
        minor,
        patch: v.patch,
        shared: v.shared,
        free_threaded: v.free_threaded,
        pad: v.pad,
        recipe,
        series,
        steps,
        configure,
        make,
        install,
        dtrace,
        files,
        tracing,
        notes,
    })
}

/// What the Makefile puts before `$(DTRACE)`.
fn make_env(minor: (u32, u32)) -> Vec<Word> {
    if minor >= (3, 13) {
        words(&["CC=\"$(CC)\"", "CFLAGS=\"$(CFLAGS)\""])
    } else {
        Vec::new()
    }
}

fn words(ws: &[&str]) -> Vec<Word> {
    ws.iter().map(|w| Word::lit(*w)).collect()
}

fn dtrace_plan(build: &Build, recipe: &Recipe, tool: DtraceTool) -> anyhow::Result<DtracePlan> {
    let (tool, tool_about) = match (recipe.dtrace, tool) {
        (None, DtraceTool::Ours) => (
            Word::var(Var::OurDtrace),
            "ours, crates/dtrace-cli: a <sys/sdt.h> header and a semaphores object".to_owned(),
        ),
        (None, DtraceTool::System) => (
            Word::var(Var::SystemDtrace),
            "SystemTap's, from systemtap-sdt-dev".to_owned(),
        ),
        (Some(path), _) => (Word::lit(path), recipe.dtrace_about.to_owned()),
    };
    let dflags: Vec<String> = recipe.dflags.iter().map(|s| (*s).to_owned()).collect();
    // From 3.13 the Makefile runs dtrace with the compiler in its
    // environment (dtrace -C may run the C preprocessor).
    let mut header = make_env(build.minor());
    header.push(tool.clone());
    header.extend(dflags.iter().map(Word::lit));
    header.extend(words(&[
        "-o",
        "Include/pydtrace_probes.h",
        "-h",
        "-s",
        "Include/pydtrace.d",
    ]));
    let ft = build.variant.free_threaded;
    let minor = build.minor();
    let patch = build.variant.patch;
    let makefile_deps = makefile_deps(minor, patch)
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let objects = documented_objects(minor, patch, ft)
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    Ok(DtracePlan {
        tool,
        tool_about,
        dflags,
        make_env: make_env(minor),
        header,
        g_step: recipe.g_step,
        objects,
        objects_from: ObjectsFrom::Documented,
        makefile_deps,
        // Stock stays upstream's; Linux does not need the list.
        override_deps: recipe.g_step == GStep::RewritesObjects && patch == Patch::Patched,
    })
}

/// The objects that fire probes, per version and variant: what
/// [`probe_objects`] finds in the (patched, for `Patched`) tree, written
/// down so a plan needs no tree; the tests check both agree. Sorted.
pub fn documented_objects(
    minor: (u32, u32),
    patch: Patch,
    free_threaded: bool,
) -> &'static [&'static str] {
    match (patch, minor) {
        (Patch::Plain, _) => &[],
        // 2.7.18 has no probes at all upstream.
        (Patch::Stock, (2, _)) => &[],
        (Patch::Patched, (2, _)) => &[
            "Modules/gcmodule.o",
            "Modules/threadmodule.o",
            "Objects/classobject.o",
            "Objects/typeobject.o",
            "Python/ceval.o",
            "Python/import.o",
        ],
        (Patch::Stock, (3, 9..=11)) => &[
            "Modules/gcmodule.o",
            "Python/ceval.o",
            "Python/import.o",
            "Python/sysmodule.o",
        ],
        // The instance probes' semaphore tests are inline in
        // pycore_object.h (allocation) and the function/line polls in
        // pycore_ceval.h: every object including them has is-enabled sites.
        (Patch::Patched, (3, 9)) => &[
            "Modules/_functoolsmodule.o",
            "Modules/_io/bufferedio.o",
            "Modules/_io/bytesio.o",
            "Modules/_io/fileio.o",
            "Modules/_io/iobase.o",
            "Modules/_io/stringio.o",
            "Modules/_io/textio.o",
            "Modules/_threadmodule.o",
            "Modules/_weakref.o",
            "Modules/gcmodule.o",
            "Modules/itertoolsmodule.o",
            "Objects/bytearrayobject.o",
            "Objects/bytesobject.o",
            "Objects/call.o",
            "Objects/cellobject.o",
            "Objects/classobject.o",
            "Objects/descrobject.o",
            "Objects/dictobject.o",
            "Objects/enumobject.o",
            "Objects/exceptions.o",
            "Objects/frameobject.o",
            "Objects/funcobject.o",
            "Objects/genericaliasobject.o",
            "Objects/genobject.o",
            "Objects/iterobject.o",
            "Objects/listobject.o",
            "Objects/memoryobject.o",
            "Objects/methodobject.o",
            "Objects/object.o",
            "Objects/odictobject.o",
            "Objects/setobject.o",
            "Objects/sliceobject.o",
            "Objects/structseq.o",
            "Objects/tupleobject.o",
            "Objects/typeobject.o",
            "Objects/unicodeobject.o",
            "Objects/weakrefobject.o",
            "Python/bltinmodule.o",
            "Python/ceval.o",
            "Python/context.o",
            "Python/hamt.o",
            "Python/import.o",
            "Python/pylifecycle.o",
            "Python/pythonrun.o",
            "Python/sysmodule.o",
        ],
        (Patch::Patched, (3, 10..=11)) => &[
            "Modules/_abc.o",
            "Modules/_functoolsmodule.o",
            "Modules/_io/bufferedio.o",
            "Modules/_io/bytesio.o",
            "Modules/_io/fileio.o",
            "Modules/_io/iobase.o",
            "Modules/_io/stringio.o",
            "Modules/_io/textio.o",
            "Modules/_threadmodule.o",
            "Modules/_weakref.o",
            "Modules/gcmodule.o",
            "Modules/itertoolsmodule.o",
            "Modules/posixmodule.o",
            "Objects/abstract.o",
            "Objects/boolobject.o",
            "Objects/bytearrayobject.o",
            "Objects/bytesobject.o",
            "Objects/call.o",
            "Objects/cellobject.o",
            "Objects/classobject.o",
            "Objects/complexobject.o",
            "Objects/descrobject.o",
            "Objects/dictobject.o",
            "Objects/enumobject.o",
            "Objects/exceptions.o",
            "Objects/floatobject.o",
            "Objects/frameobject.o",
            "Objects/funcobject.o",
            "Objects/genericaliasobject.o",
            "Objects/genobject.o",
            "Objects/iterobject.o",
            "Objects/listobject.o",
            "Objects/longobject.o",
            "Objects/memoryobject.o",
            "Objects/methodobject.o",
            "Objects/moduleobject.o",
            "Objects/object.o",
            "Objects/odictobject.o",
            "Objects/setobject.o",
            "Objects/sliceobject.o",
            "Objects/structseq.o",
            "Objects/tupleobject.o",
            "Objects/typeobject.o",
            "Objects/unicodeobject.o",
            "Objects/unionobject.o",
            "Objects/weakrefobject.o",
            "Python/bltinmodule.o",
            "Python/ceval.o",
            "Python/context.o",
            "Python/frame.o",
            "Python/hamt.o",
            "Python/import.o",
            "Python/pylifecycle.o",
            "Python/pystate.o",
            "Python/pythonrun.o",
            "Python/specialize.o",
            "Python/sysmodule.o",
        ],
        (Patch::Stock, _) if free_threaded => &[
            "Python/ceval.o",
            "Python/gc_free_threading.o",
            "Python/import.o",
            "Python/sysmodule.o",
        ],
        (Patch::Stock, _) => &[
            "Python/ceval.o",
            "Python/gc.o",
            "Python/import.o",
            "Python/sysmodule.o",
        ],
        (Patch::Patched, _) if free_threaded => &[
            "Modules/_threadmodule.o",
            "Objects/object.o",
            "Objects/typeobject.o",
            "Python/ceval.o",
            "Python/ceval_gil.o",
            "Python/gc_free_threading.o",
            "Python/import.o",
            "Python/sysmodule.o",
        ],
        (Patch::Patched, _) => &[
            "Modules/_threadmodule.o",
            "Objects/object.o",
            "Objects/typeobject.o",
            "Python/ceval.o",
            "Python/ceval_gil.o",
            "Python/gc.o",
            "Python/import.o",
            "Python/sysmodule.o",
        ],
    }
}

/// `DTRACE_DEPS` as the (patched, for `Patched`) Makefile.pre.in has it,
/// sorted; the tests read it from the trees.
pub fn makefile_deps(minor: (u32, u32), patch: Patch) -> &'static [&'static str] {
    match (patch, minor) {
        (Patch::Plain, _) | (Patch::Stock, (2, _)) => &[],
        (Patch::Patched, (2, _)) => &[
            "Modules/gcmodule.o",
            "Modules/threadmodule.o",
            "Objects/classobject.o",
            "Objects/typeobject.o",
            "Python/ceval.o",
            "Python/import.o",
        ],
        (_, (3, 9..=11)) => &[
            "Modules/gcmodule.o",
            "Python/ceval.o",
            "Python/import.o",
            "Python/sysmodule.o",
        ],
        _ => &[
            "Python/ceval.o",
            "Python/gc.o",
            "Python/import.o",
            "Python/sysmodule.o",
        ],
    }
}

/// The shared library's file name, as configure names it per platform.
pub fn libpython_name(platform: Platform, minor: (u32, u32), ldversion: &str) -> String {
    match platform {
        Platform::Macos => format!("libpython{ldversion}.dylib"),
        // 2.7's configure cuts FreeBSD's SOVERSION to its major.
        Platform::Freebsd if minor == (2, 7) => format!("libpython{ldversion}.so.1"),
        _ => format!("libpython{ldversion}.so.1.0"),
    }
}

fn files(build: &Build) -> Files {
    let python = build.python_in(Path::new("")).display().to_string();
    let python = Word::var(Var::Prefix).and(format!("/{python}"));
    let probes = if !build.variant.with_dtrace() {
        None
    } else if build.variant.shared {
        Some(Word::var(Var::Prefix).and(format!(
            "/lib/{}",
            libpython_name(build.platform, build.minor(), &build.ldversion())
        )))
    } else {
        Some(python.clone())
    };
    Files {
        python,
        probes,
        logs: Word::var(Var::Build).and("/logs/"),
        stamp: Word::var(Var::Prefix).and(format!("/{}", crate::layout::STAMP)),
    }
}

fn tracing(build: &Build, recipe: &Recipe, files: &Files) -> Tracing {
    let enable = recipe
        .enable_tracing
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let python = files.python.render();
    let (x, y) = build.minor();
    match build.platform {
        Platform::Linux => Tracing {
            enable,
            list: format!(
                "cargo xtask verify{}   # readelf -n, bpftrace -l, ci/expected/{x}.{y}-linux.json",
                build.flags()
            ),
            fire: format!("cargo xtask fire{}   # as root: bpftrace", build.flags()),
        },
        Platform::Macos => Tracing {
            enable,
            list: format!(
                "cargo xtask verify --platform macos{}   # static: the DOF of the Mach-O file",
                build.flags()
            ),
            fire: format!("sudo python3 tests/fire/dtrace/run.py {python} {x}.{y}"),
        },
        Platform::Freebsd | Platform::Illumos => Tracing {
            enable,
            list: format!("dtrace -l -v -n 'python$target:::' -c \"{python} -c pass\""),
            fire: format!("python3 tests/fire/dtrace/run.py {python} {x}.{y}   # as root"),
        },
    }
}

impl Plan {
    /// The places the plan uses, in legend order.
    fn vars(&self) -> BTreeSet<Var> {
        let mut vars: BTreeSet<Var> = [Var::Repo, Var::Build, Var::Src, Var::Prefix].into();
        for step in &self.steps {
            vars.extend(step.argv.iter().flat_map(Word::vars));
        }
        vars
    }

    /// The configure arguments (without `./configure`) with real paths.
    pub fn configure_args(&self, real: &Real) -> anyhow::Result<Vec<String>> {
        resolve_all(&self.configure[1..], real)
    }

    /// make's program and arguments with real values.
    pub fn make_command(&self, real: &Real) -> anyhow::Result<Vec<String>> {
        resolve_all(&self.make, real)
    }

    /// `make install`'s program and arguments with real values.
    pub fn install_command(&self, real: &Real) -> anyhow::Result<Vec<String>> {
        resolve_all(&self.install, real)
    }

    /// Replaces the documented `-G` objects with those scanned in the real
    /// patched tree `src`. Returns a warning when they differ (the
    /// documented list in platform.rs is then out of date).
    pub fn use_objects_of_tree(&mut self, src: &Path) -> anyhow::Result<Option<String>> {
        let free_threaded = self.free_threaded;
        let id = self.id.clone();
        let Some(d) = self.dtrace.as_mut() else {
            return Ok(None);
        };
        let tree = DirTree(src.to_path_buf());
        let found = probe_objects(&tree, free_threaded)?;
        d.objects_from = ObjectsFrom::Tree;
        if let Some(makefile) = tree.read("Makefile.pre.in") {
            d.makefile_deps = makefile_dtrace_deps(&String::from_utf8_lossy(&makefile));
        }
        if found == d.objects {
            return Ok(None);
        }
        let warning = format!(
            "{id}: the objects that fire probes are {} in the tree, {} in platform.rs's documented list; using the tree's (update documented_objects)",
            found.join(" "),
            d.objects.join(" ")
        );
        d.objects = found;
        let arg = d.deps_arg();
        for argv in [&mut self.make, &mut self.install] {
            argv.retain(|w| {
                !w.render()
                    .trim_start_matches('\'')
                    .starts_with("DTRACE_DEPS=")
            });
            argv.extend(arg.clone());
        }
        for step in &mut self.steps {
            match step.phase {
                Phase::Make => step.argv = self.make.clone(),
                Phase::Install => step.argv = self.install.clone(),
                _ => {}
            }
        }
        Ok(Some(warning))
    }

    /// The plan as text: the same on every host (places, not paths).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(s.trim_end());
            out.push('\n');
        };
        let flags = self.flag_words();
        line(format!(
            "# cargo xtask build --platform {} --python {}{} --dry-run",
            self.recipe.platform, self.version, flags
        ));
        line("# Nothing is run. Paths are relative to these places:".to_owned());
        for v in self.vars() {
            line(format!("#   {:<14} {}", v.name(), v.meaning(&self.id)));
        }
        line(String::new());
        line(format!("build      {}", self.id));
        line(format!(
            "source     CPython {}, {}",
            self.version,
            self.source_about()
        ));
        line(format!("variant    {}", self.variant_about()));
        line(format!("compiler   {}", self.recipe.cc_about));
        line(format!("make       {}", self.recipe.make_about));
        line(
            "environment  inherited unchanged: every setting is a configure argument (kept in config.status)"
                .to_owned(),
        );
        line(String::new());
        line("steps".to_owned());
        for (i, step) in self.steps.iter().enumerate() {
            let who = if step.by_xtask { "[xtask] " } else { "" };
            let cmd = render_argv(&step.argv);
            let cmd = match step.cwd {
                Some(dir) if !cmd.is_empty() => format!("cd {} && {cmd}", dir.name()),
                _ => cmd,
            };
            match (&step.about, cmd.is_empty()) {
                (Some(about), true) => line(format!(
                    "  {:>2} {:<10} {who}{about}",
                    i + 1,
                    step.phase.name()
                )),
                (about, _) => {
                    line(format!(
                        "  {:>2} {:<10} {who}{cmd}",
                        i + 1,
                        step.phase.name()
                    ));
                    if let Some(about) = about {
                        line(format!("{:16}{about}", ""));
                    }
                }
            }
            if let Some(log) = step.log {
                line(format!("{:16}log: $BUILD/logs/{log}", ""));
            }
        }
        line(String::new());
        match &self.dtrace {
            None => line("dtrace     none: configured without --with-dtrace (--plain)".to_owned()),
            Some(d) => {
                line("dtrace".to_owned());
                line(format!(
                    "  tool     {}   ({})",
                    d.tool.render(),
                    d.tool_about
                ));
                if !d.dflags.is_empty() {
                    line(format!("  DFLAGS   {}", d.dflags.join(" ")));
                }
                line(format!("  header   make runs: {}", make_argv(&d.header)));
                if self.minor.0 >= 3 {
                    line(format!(
                        "{:11}then sed s/PYTHON_/PyDTrace_/ into the same file",
                        ""
                    ));
                }
                match d.g_step {
                    GStep::Linker => {
                        line("  -G       none: ld64 makes the DOF as it links; DTRACE_OBJS stays empty".to_owned());
                    }
                    GStep::Semaphores | GStep::RewritesObjects => {
                        line(format!(
                            "  -G       make runs: {}",
                            make_argv(&d.g_command())
                        ));
                        let what = if d.g_step == GStep::Semaphores {
                            "defines each probe's semaphore; the objects are only read"
                        } else {
                            "rewrites the probe sites of these objects in place, records them as DOF"
                        };
                        line(format!("{:11}{what}", ""));
                        let deps = if d.makefile_deps.is_empty() {
                            "(none)".to_owned()
                        } else {
                            d.makefile_deps.join(" ")
                        };
                        line(format!("  Makefile DTRACE_DEPS: {deps}"));
                    }
                }
                if d.g_step == GStep::RewritesObjects {
                    let from = match d.objects_from {
                        ObjectsFrom::Documented => "platform.rs, checked against the trees",
                        ObjectsFrom::Tree => "scanned in the patched tree",
                    };
                    line(format!("  objects that fire probes ({from}):"));
                    line(format!("{:11}{}", "", d.objects.join(" ")));
                    if d.deps_arg().is_some() {
                        line(format!("{:11}given to make as DTRACE_DEPS", ""));
                    }
                }
            }
        }
        line(String::new());
        line("files".to_owned());
        line(format!("  python   {}", self.files.python.render()));
        match &self.files.probes {
            Some(probes) => line(format!("  probes   {}", probes.render())),
            None => line("  probes   none (--plain)".to_owned()),
        }
        line(format!("  logs     {}", self.files.logs.render()));
        line(format!("  stamp    {}", self.files.stamp.render()));
        line(String::new());
        match &self.tracing {
            None => line("tracing    none: no probes (--plain)".to_owned()),
            Some(t) => {
                line("tracing (tests)".to_owned());
                for e in &t.enable {
                    line(format!("  enable   {e}"));
                }
                line(format!("  list     {}", t.list));
                line(format!("  fire     {}", t.fire));
                line(format!(
                    "  CI       .github/workflows/dtrace-matrix.yml, job {}",
                    crate::ci_matrix::job_name(self.recipe.platform)
                ));
            }
        }
        if !self.notes.is_empty() {
            line(String::new());
            line("notes".to_owned());
            for n in &self.notes {
                line(format!("  - {n}"));
            }
        }
        out
    }

    fn flag_words(&self) -> String {
        let mut s = String::new();
        if self.shared {
            s.push_str(" --shared");
        }
        if self.free_threaded {
            s.push_str(" --free-threaded");
        }
        match self.patch {
            Patch::Patched => {}
            Patch::Stock => s.push_str(" --stock"),
            Patch::Plain => s.push_str(" --plain"),
        }
        if self.pad > 0 {
            s.push_str(&format!(" --pad-code {}", self.pad));
        }
        s
    }

    fn source_about(&self) -> String {
        match (&self.patch, &self.series) {
            (Patch::Patched, Some(series)) => format!("patched ({series}/series)"),
            (Patch::Stock, _) => "upstream, unpatched, --with-dtrace (--stock)".to_owned(),
            _ => "upstream, unpatched, without DTrace (--plain)".to_owned(),
        }
    }

    fn variant_about(&self) -> String {
        let mut parts = vec![if self.shared {
            "shared libpython (--enable-shared)"
        } else {
            "static"
        }];
        if self.free_threaded {
            parts.push("free-threaded (--disable-gil)");
        }
        parts.join(", ")
    }
}

/// A command as a Makefile rule writes it: make splits the words, no quotes.
fn make_argv(argv: &[Word]) -> String {
    argv.iter()
        .map(|w| {
            w.0.iter()
                .map(|p| match p {
                    Piece::Lit(s) => s.clone(),
                    Piece::Var(v) => v.name().to_owned(),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn render_argv(argv: &[Word]) -> String {
    argv.iter().map(Word::render).collect::<Vec<_>>().join(" ")
}

fn resolve_all(ws: &[Word], real: &Real) -> anyhow::Result<Vec<String>> {
    ws.iter().map(|w| w.resolve(real)).collect()
}

// ---------------------------------------------------------------------------
// Which objects fire probes: a scan of the source tree.

/// A source tree to read files from by their path in the tree.
pub trait Tree {
    fn read(&self, path: &str) -> Option<Vec<u8>>;
}

/// A tree on disk.
pub struct DirTree(pub PathBuf);

impl Tree for DirTree {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        std::fs::read(self.0.join(path)).ok()
    }
}

/// A pristine tree with a patch series applied in memory.
pub struct PatchedTree {
    base: DirTree,
    changed: BTreeMap<String, Option<Vec<u8>>>,
}

impl PatchedTree {
    /// Applies `series` to what `dir` holds, without writing anything.
    pub fn new(dir: &Path, series: &Series) -> anyhow::Result<PatchedTree> {
        let base = DirTree(dir.to_path_buf());
        let mut snapshot = BTreeMap::new();
        for p in &series.patches {
            for f in &p.diff.files {
                for path in f.paths() {
                    if let Some(bytes) = base.read(path) {
                        snapshot.insert(
                            path.to_owned(),
                            FileData {
                                bytes,
                                mode: cpython_sources::patch::DEFAULT_MODE,
                            },
                        );
                    }
                }
            }
        }
        let mut overlay = Overlay::new(&snapshot);
        for p in &series.patches {
            for f in &p.diff.files {
                f.apply(&mut overlay).map_err(|(path, why)| {
                    anyhow::anyhow!(
                        "{}: {} does not apply to {path} in {}: {why:?}",
                        series.dir.display(),
                        p.name,
                        dir.display()
                    )
                })?;
            }
        }
        let changed = overlay
            .changes()
            .into_iter()
            .map(|(path, data)| (path, data.map(|d| d.bytes)))
            .collect();
        Ok(PatchedTree { base, changed })
    }
}

impl Tree for PatchedTree {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        match self.changed.get(path) {
            Some(state) => state.clone(),
            None => self.base.read(path),
        }
    }
}

/// The headers that define the probe macros rather than use them.
const PROBE_DEFINITIONS: [&str; 2] = ["pydtrace.h", "pydtrace_probes.h"];

/// Where `#include "X"` is looked for: the including file's directory,
/// then these (CPython's -I order).
const INCLUDE_DIRS: [&str; 3] = ["Include", "Include/internal", "Include/cpython"];

/// The objects of the interpreter whose sources fire a probe: every object
/// Makefile.pre.in names, and every module Modules/Setup* builds in (not
/// `*shared*`), whose `.c` file, or a header it includes with quotes, calls
/// a `PyDTrace_*` macro in code that a build of this variant compiles
/// (`#ifdef Py_GIL_DISABLED` is followed; other conditions count as
/// compiled). Sorted.
pub fn probe_objects(tree: &dyn Tree, free_threaded: bool) -> anyhow::Result<Vec<String>> {
    let makefile = tree
        .read("Makefile.pre.in")
        .context("no Makefile.pre.in: not a CPython source tree")?;
    let mut candidates: BTreeSet<String> = makefile_objects(&String::from_utf8_lossy(&makefile));
    for setup in [
        "Modules/Setup",
        "Modules/Setup.dist",
        "Modules/Setup.bootstrap.in",
    ] {
        if let Some(text) = tree.read(setup) {
            candidates.extend(setup_objects(&String::from_utf8_lossy(&text)));
        }
    }
    let mut scanner = Scanner {
        tree,
        free_threaded,
        memo: HashMap::new(),
    };
    let mut found = Vec::new();
    for object in candidates {
        let Some(stem) = object.strip_suffix(".o") else {
            continue;
        };
        let source = format!("{stem}.c");
        if scanner.uses_probes(&source) {
            found.push(object);
        }
    }
    Ok(found)
}

/// `DTRACE_DEPS` of a Makefile.pre.in, sorted.
pub fn makefile_dtrace_deps(makefile: &str) -> Vec<String> {
    let mut deps = BTreeSet::new();
    let mut inside = false;
    for line in makefile.lines() {
        let rest = if inside {
            line
        } else if let Some(rest) = line.trim_start().strip_prefix("DTRACE_DEPS") {
            match rest.trim_start().strip_prefix('=') {
                Some(rest) => rest,
                None => continue,
            }
        } else {
            continue;
        };
        let continued = rest.trim_end().ends_with('\\');
        deps.extend(
            rest.trim_end()
                .trim_end_matches('\\')
                .split_whitespace()
                .map(String::from),
        );
        inside = continued;
    }
    deps.into_iter().collect()
}

/// Every `dir/name.o` word of a Makefile.
fn makefile_objects(makefile: &str) -> BTreeSet<String> {
    makefile
        .split(|c: char| c.is_whitespace() || c == ':' || c == '=')
        .filter(|w| {
            w.ends_with(".o")
                && w.contains('/')
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c))
        })
        .map(String::from)
        .collect()
}

/// The objects of the modules a Setup file builds into the interpreter.
fn setup_objects(setup: &str) -> BTreeSet<String> {
    let mut objects = BTreeSet::new();
    let mut shared = false;
    for line in setup.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        match line {
            "*shared*" | "*disabled*" => shared = true,
            "*static*" => shared = false,
            _ if shared => {}
            _ => objects.extend(
                line.split_whitespace()
                    .skip(1)
                    .filter_map(|w| w.strip_suffix(".c"))
                    .filter(|w| {
                        w.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c))
                    })
                    .map(|w| format!("Modules/{w}.o")),
            ),
        }
    }
    objects
}

struct Scanner<'a> {
    tree: &'a dyn Tree,
    free_threaded: bool,
    /// path → fires probes (false while being scanned: include cycles).
    memo: HashMap<String, bool>,
}

impl Scanner<'_> {
    fn uses_probes(&mut self, path: &str) -> bool {
        if let Some(&known) = self.memo.get(path) {
            return known;
        }
        self.memo.insert(path.to_owned(), false);
        let Some(bytes) = self.tree.read(path) else {
            return false;
        };
        let text = strip_comments(&String::from_utf8_lossy(&bytes));
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let mut cond = Conditions::default();
        let mut includes = Vec::new();
        let mut fires = false;
        for line in logical_lines(&text) {
            let trimmed = line.trim_start();
            if let Some(directive) = trimmed.strip_prefix('#') {
                let directive = directive.trim_start();
                if cond.directive(directive, self.free_threaded) {
                    continue;
                }
                if !cond.live() {
                    continue;
                }
                if let Some(rest) = directive.strip_prefix("include") {
                    if let Some(name) = rest
                        .trim()
                        .strip_prefix('"')
                        .and_then(|r| r.split('"').next())
                    {
                        includes.push(name.to_owned());
                    }
                    continue;
                }
            }
            if cond.live() && has_probe_call(&line) {
                fires = true;
                break;
            }
        }
        if !fires {
            for name in includes {
                let base = name.rsplit('/').next().unwrap_or(&name);
                if PROBE_DEFINITIONS.contains(&base) {
                    continue;
                }
                let here = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                let found = std::iter::once(here)
                    .chain(INCLUDE_DIRS.iter().map(|d| format!("{d}/{name}")))
                    .find(|p| self.tree.read(p).is_some());
                if let Some(header) = found {
                    if self.uses_probes(&header) {
                        fires = true;
                        break;
                    }
                }
            }
        }
        self.memo.insert(path.to_owned(), fires);
        fires
    }
}

/// Whether a line calls a probe macro: `PyDTrace_NAME(` with NAME in
/// capitals (not `_PyDTrace_Helper(`, not `PyDTrace_*_ENABLED()` prose).
fn has_probe_call(line: &str) -> bool {
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(at) = line[from..].find("PyDTrace_") {
        let start = from + at;
        from = start + "PyDTrace_".len();
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let name_len = line[from..]
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        if name_len == 0 || !bytes[from].is_ascii_uppercase() {
            continue;
        }
        if line[from + name_len..].trim_start().starts_with('(') {
            return true;
        }
    }
    false
}

/// C source without its comments (string and character literals kept, so
/// that `"/*"` inside one does not start a comment); newlines kept.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                out.push(' ');
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' | '\'' => {
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if d == c || d == '\n' {
                        break;
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Lines with backslash continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(line);
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Three-valued truth of a preprocessor branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown,
}

/// The `#if` nesting: per level, whether this branch is compiled and
/// whether an earlier branch of the same `#if` was.
#[derive(Default)]
struct Conditions {
    stack: Vec<(Tri, Tri)>,
}

impl Conditions {
    fn live(&self) -> bool {
        self.stack.iter().all(|(branch, _)| *branch != Tri::No)
    }

    /// Follows a conditional directive; false for any other directive.
    fn directive(&mut self, d: &str, free_threaded: bool) -> bool {
        let word = d
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("");
        let rest = d[word.len()..].trim();
        match word {
            "ifdef" => self.open(known(rest, free_threaded)),
            "ifndef" => self.open(not(known(rest, free_threaded))),
            "if" => self.open(eval(rest, free_threaded)),
            "elif" => {
                if let Some((branch, taken)) = self.stack.last_mut() {
                    let earlier = or(*taken, *branch);
                    let now = match earlier {
                        Tri::Yes => Tri::No,
                        Tri::No => eval(rest, free_threaded),
                        Tri::Unknown => match eval(rest, free_threaded) {
                            Tri::No => Tri::No,
                            _ => Tri::Unknown,
                        },
                    };
                    *taken = earlier;
                    *branch = now;
                }
            }
            "else" => {
                if let Some((branch, taken)) = self.stack.last_mut() {
                    let earlier = or(*taken, *branch);
                    *taken = earlier;
                    *branch = not(earlier);
                }
            }
            "endif" => {
                self.stack.pop();
            }
            _ => return false,
        }
        true
    }

    fn open(&mut self, branch: Tri) {
        self.stack.push((branch, Tri::No));
    }
}

fn not(t: Tri) -> Tri {
    match t {
        Tri::Yes => Tri::No,
        Tri::No => Tri::Yes,
        Tri::Unknown => Tri::Unknown,
    }
}

fn or(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
        (Tri::No, Tri::No) => Tri::No,
        _ => Tri::Unknown,
    }
}

/// Whether macro `name` is defined in a build of this variant, if known.
fn known(name: &str, free_threaded: bool) -> Tri {
    match name.trim() {
        "Py_GIL_DISABLED" => {
            if free_threaded {
                Tri::Yes
            } else {
                Tri::No
            }
        }
        "WITH_DTRACE" => Tri::Yes,
        _ => Tri::Unknown,
    }
}

/// `#if` conditions of the forms `defined(M)`, `defined M`, `!defined(M)`;
/// anything else is unknown.
fn eval(cond: &str, free_threaded: bool) -> Tri {
    let cond = cond.trim();
    if let Some(inner) = cond.strip_prefix('!') {
        return not(eval(inner, free_threaded));
    }
    if let Some(rest) = cond.strip_prefix("defined") {
        let name = rest
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return known(name, free_threaded);
        }
    }
    Tri::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Selection, Variant};
    use cpython_sources::versions::Table;

    fn root() -> PathBuf {
        crate::project_root()
    }

    fn build_of(version: &str, platform: Platform, f: impl FnOnce(&mut Variant)) -> Build {
        let table = Table::load(&root().join("versions.toml")).unwrap();
        let mut variant = Variant {
            patch: Patch::Patched,
            shared: false,
            free_threaded: false,
            pad: 0,
        };
        f(&mut variant);
        Build {
            release: table.get(version).unwrap().clone(),
            variant,
            platform,
            cpython_dir: root().join("target").join("cpython"),
        }
    }

    const PLATFORMS: [Platform; 4] = [
        Platform::Linux,
        Platform::Freebsd,
        Platform::Macos,
        Platform::Illumos,
    ];

    /// The goldens: every platform × release of versions.toml (patched,
    /// static), and the variants whose plans differ most.
    fn golden_cases() -> Vec<(String, Build)> {
        let table = Table::load(&root().join("versions.toml")).unwrap();
        let mut names: Vec<String> = Vec::new();
        for platform in PLATFORMS {
            names.extend(
                table
                    .releases()
                    .iter()
                    .map(|r| format!("{platform}-{}", r.version)),
            );
            for extra in [
                "3.13.15-shared-ft",
                "3.13.15-ft-stock",
                "3.13.15-plain",
                "2.7.18-shared",
            ] {
                names.push(format!("{platform}-{extra}"));
            }
        }
        names
            .into_iter()
            .map(|name| {
                let mut parts = name.split('-');
                let platform = match parts.next() {
                    Some("linux") => Platform::Linux,
                    Some("freebsd") => Platform::Freebsd,
                    Some("macos") => Platform::Macos,
                    _ => Platform::Illumos,
                };
                let version = parts.next().unwrap().to_owned();
                let suffixes: Vec<&str> = parts.collect();
                let b = build_of(&version, platform, |v| {
                    for s in &suffixes {
                        match *s {
                            "shared" => v.shared = true,
                            "ft" => v.free_threaded = true,
                            "stock" => v.patch = Patch::Stock,
                            "plain" => v.patch = Patch::Plain,
                            other => panic!("unknown variant {other}"),
                        }
                    }
                });
                // Named like the build id: suffixes in layout's order.
                assert_eq!(name, format!("{platform}-{version}{}", b.variant.suffix()));
                (name.clone(), b)
            })
            .collect()
    }

    /// `UPDATE_GOLDENS=1 cargo test -p xtask platform::` rewrites them; the
    /// result is then reviewed by hand against the facts at the top of this
    /// file before it is committed.
    #[test]
    fn dry_run_plans_match_the_goldens() {
        let dir = root().join("tests/golden/plans");
        let update = std::env::var_os("UPDATE_GOLDENS").is_some();
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        for (name, build) in golden_cases() {
            let text = plan(&build, &Options::dry_run()).unwrap().render();
            let path = dir.join(format!("{name}.txt"));
            names.insert(format!("{name}.txt"));
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(want) if want == text => {}
                Ok(want) => problems.push(format!(
                    "{}: differs; first differing line: {:?} (golden) vs {:?} (now)",
                    path.display(),
                    want.lines()
                        .zip(text.lines())
                        .find(|(a, b)| a != b)
                        .map(|p| p.0),
                    want.lines()
                        .zip(text.lines())
                        .find(|(a, b)| a != b)
                        .map(|p| p.1),
                )),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        // No golden without a case (a renamed case leaves none behind).
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if !names.contains(&name) {
                problems.push(format!("{name}: no plan renders it; remove it"));
            }
        }
        assert!(
            problems.is_empty(),
            "{}\n(UPDATE_GOLDENS=1 rewrites them; review the diff by hand)",
            problems.join("\n")
        );
    }

    #[test]
    fn a_padded_build_says_so_in_its_plan_and_command() {
        let b = build_of("2.7.18", Platform::Linux, |v| {
            v.patch = Patch::Plain;
            v.pad = 48;
        });
        let text = plan(&b, &Options::dry_run()).unwrap().render();
        assert!(
            text.starts_with("# cargo xtask build --platform linux --python 2.7.18 --plain --pad-code 48 --dry-run\n"),
            "{text}"
        );
        assert!(text.contains("2.7.18-linux-plain-pad48"), "{text}");
        assert!(
            text.contains("[xtask] Python/ceval.c: 48 bytes of never-run code"),
            "{text}"
        );
        let unpadded = build_of("2.7.18", Platform::Linux, |v| v.patch = Patch::Plain);
        let text = plan(&unpadded, &Options::dry_run()).unwrap().render();
        assert!(!text.contains("pad"), "{text}");
    }

    #[test]
    fn linux_configure_is_exactly_what_build_rs_runs() {
        // build.rs's plan(): --prefix, --with-dtrace ac_cv_path_DTRACE=, --enable-shared
        // LDFLAGS=<env> -Wl,-rpath,<prefix>/lib, --disable-gil, --with-ensurepip=no.
        let b = build_of("3.13.15", Platform::Linux, |v| {
            v.shared = true;
            v.free_threaded = true;
        });
        let mut opts = Options::dry_run();
        opts.env.insert("LDFLAGS".into(), "-L/opt/x/lib".into());
        let p = plan(&b, &opts).unwrap();
        let real = Real {
            repo: PathBuf::from("/r"),
            build_dir: PathBuf::from("/r/b"),
            src: PathBuf::from("/r/b/src"),
            prefix: PathBuf::from("/r/p"),
            jobs: "2".into(),
            dtrace: Some(PathBuf::from("/t/dtrace")),
        };
        assert_eq!(
            p.configure_args(&real).unwrap(),
            [
                "--prefix=/r/p",
                "--with-dtrace",
                "ac_cv_path_DTRACE=/t/dtrace",
                "--enable-shared",
                "LDFLAGS=-L/opt/x/lib -Wl,-rpath,/r/p/lib",
                "--disable-gil",
                "--with-ensurepip=no",
            ]
        );
        assert_eq!(p.make_command(&real).unwrap(), ["make", "-j", "2"]);
        assert_eq!(
            p.install_command(&real).unwrap(),
            ["make", "install", "COMPILEALL_OPTS=-j0"]
        );
        let plain = plan(
            &build_of("3.9.2", Platform::Linux, |v| v.patch = Patch::Plain),
            &Options::dry_run(),
        )
        .unwrap();
        assert_eq!(
            plain.configure_args(&real).unwrap(),
            ["--prefix=/r/p", "--with-ensurepip=no"]
        );
        assert_eq!(plain.install_command(&real).unwrap(), ["make", "install"]);
        // Without a dtrace path, a plan that needs one says what to do.
        let err = p
            .configure_args(&Real {
                dtrace: None,
                ..real
            })
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("cargo build -p dtrace-cli"),
            "{err:#}"
        );
    }

    #[test]
    fn dtrace_platforms_give_make_every_object_that_fires_a_probe() {
        let real = Real {
            repo: PathBuf::from("/r"),
            build_dir: PathBuf::from("/r/b"),
            src: PathBuf::from("/r/b/src"),
            prefix: PathBuf::from("/r/p"),
            jobs: "3".into(),
            dtrace: None,
        };
        let p = plan(
            &build_of("3.11.2", Platform::Illumos, |_| {}),
            &Options::dry_run(),
        )
        .unwrap();
        let objects = documented_objects((3, 11), Patch::Patched, false);
        assert!(objects.contains(&"Objects/typeobject.o") && objects.len() > 6);
        let deps = format!("DTRACE_DEPS={}", objects.join(" "));
        let deps = deps.as_str();
        assert_eq!(p.make_command(&real).unwrap(), ["gmake", "-j", "3", deps]);
        assert_eq!(
            p.install_command(&real).unwrap(),
            ["gmake", "install", deps]
        );
        assert_eq!(
            p.configure_args(&real).unwrap(),
            [
                "--prefix=/r/p",
                "CC=gcc -m64",
                "--with-dtrace",
                "ac_cv_path_DTRACE=/usr/sbin/dtrace",
                "DFLAGS=-64",
                "--with-ensurepip=no",
            ]
        );
        let f = plan(
            &build_of("2.7.18", Platform::Freebsd, |v| v.shared = true),
            &Options::dry_run(),
        )
        .unwrap();
        assert_eq!(
            f.configure_args(&real).unwrap(),
            [
                "--prefix=/r/p",
                "--with-dtrace",
                "ac_cv_path_DTRACE=/usr/sbin/dtrace",
                "DFLAGS=-x nolibs",
                "--enable-shared",
                "LDFLAGS=-Wl,-rpath,/r/p/lib",
                "--with-ensurepip=no",
            ]
        );
        assert_eq!(
            f.files.probes.as_ref().unwrap().resolve(&real).unwrap(),
            "/r/p/lib/libpython2.7.so.1"
        );
        // Stock keeps upstream's Makefile, and says what it misses.
        let s = plan(
            &build_of("3.13.5", Platform::Freebsd, |v| {
                v.patch = Patch::Stock;
                v.free_threaded = true;
            }),
            &Options::dry_run(),
        )
        .unwrap();
        assert_eq!(s.make_command(&real).unwrap(), ["make", "-j", "3"]);
        assert_eq!(
            s.dtrace.as_ref().unwrap().missing_from_makefile(),
            ["Python/gc_free_threading.o"]
        );
        // macOS: no -G, so no list; libpython is a dylib found by install name.
        let m = plan(
            &build_of("3.13.15", Platform::Macos, |v| v.shared = true),
            &Options::dry_run(),
        )
        .unwrap();
        assert_eq!(m.make_command(&real).unwrap(), ["make", "-j", "3"]);
        assert_eq!(
            m.configure_args(&real).unwrap(),
            [
                "--prefix=/r/p",
                "--with-dtrace",
                "ac_cv_path_DTRACE=/usr/sbin/dtrace",
                "--enable-shared",
                "--with-ensurepip=no",
            ]
        );
        assert_eq!(
            m.files.probes.as_ref().unwrap().resolve(&real).unwrap(),
            "/r/p/lib/libpython3.13.dylib"
        );
    }

    #[test]
    fn a_foreign_host_is_refused_with_the_way_out() {
        assert!(check_host(Platform::Linux, Some(Platform::Linux)).is_ok());
        let err = check_host(Platform::Freebsd, Some(Platform::Linux)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "building for freebsd needs a freebsd host (this is linux); `--dry-run` prints the plan on any host"
        );
        let err = check_host(Platform::Illumos, Some(Platform::Macos)).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("building for illumos needs an illumos host (this is macos)"));
        assert!(check_host(Platform::Macos, None)
            .unwrap_err()
            .to_string()
            .contains("--dry-run --platform macos"));
    }

    #[test]
    fn words_render_quoted_for_a_shell_and_resolve_exactly() {
        assert_eq!(Word::lit("-j").render(), "-j");
        assert_eq!(Word::lit("DFLAGS=-x nolibs").render(), "'DFLAGS=-x nolibs'");
        assert_eq!(Word::lit("it's").render(), r"'it'\''s'");
        let w = Word::lit("LDFLAGS=-L/a b -Wl,-rpath,")
            .and_var(Var::Prefix)
            .and("/lib");
        assert_eq!(w.render(), "\"LDFLAGS=-L/a b -Wl,-rpath,$PREFIX/lib\"");
        let w = Word::lit("--prefix=").and_var(Var::Prefix);
        assert_eq!(w.render(), "--prefix=$PREFIX");
        assert_eq!(Word::lit("").render(), "''");
    }

    // -- the scan ---------------------------------------------------------

    struct MemTree(BTreeMap<&'static str, &'static str>);

    impl Tree for MemTree {
        fn read(&self, path: &str) -> Option<Vec<u8>> {
            self.0.get(path).map(|s| s.as_bytes().to_vec())
        }
    }

    #[test]
    fn the_scan_follows_includes_conditions_and_setup() {
        let tree = MemTree(BTreeMap::from([
            (
                "Makefile.pre.in",
                "OBJS= Python/a.o \\\n\tPython/b.o Python/c.o Objects/d.o Python/gone.o\nPython/e.o: $(srcdir)/Python/e.c\nDTRACE_DEPS = \\\n\tPython/a.o Python/c.o\n",
            ),
            ("Modules/Setup.bootstrap.in", "# comment\nposix posixmodule.c\n*shared*\nx xmod.c\n"),
            ("Modules/posixmodule.c", "#include \"Python.h\"\nvoid f(void) { PyDTrace_AUDIT(\"a\", 0); }\n"),
            ("Modules/xmod.c", "void f(void) { PyDTrace_LINE(1, 2, 3); }\n"),
            // A direct call, guarded as the free-threaded gc is.
            ("Python/a.c", "#ifdef Py_GIL_DISABLED\nstatic void g(void) { PyDTrace_GC_START(0); }\n#endif\n"),
            // Mentions only: a comment, a helper, prose.
            ("Python/b.c", "/* PyDTrace_LINE(x) */\n// PyDTrace_LINE(y)\nint x = _PyDTrace_Helper(1); const char *s = \"PyDTrace_*_ENABLED()\";\n"),
            // Through a local header, behind a condition we cannot judge.
            ("Python/c.c", "#if defined(HAVE_THING) && 1\n#include \"c_macros.h\"\n#endif\n"),
            ("Python/c_macros.h", "#define ENTRY() \\\n  if (PyDTrace_FUNCTION_ENTRY_ENABLED()) { \\\n    x(); }\n"),
            // Through Include/internal; the definitions themselves do not count.
            ("Objects/d.c", "#include \"pydtrace.h\"\n#include \"pycore_d.h\"\n"),
            ("Include/pydtrace.h", "static inline int PyDTrace_LINE_ENABLED(void) { return 0; }\n"),
            ("Include/internal/pycore_d.h", "#ifndef Py_GIL_DISABLED\n#  define D() PyDTrace_GC_DONE(0)\n#else\n#  define D()\n#endif\n"),
            ("Python/e.c", "#include \"e.h\"\n"),
            ("Python/e.h", "#include \"e.c\"\n"),
        ]));
        assert_eq!(
            probe_objects(&tree, false).unwrap(),
            ["Modules/posixmodule.o", "Objects/d.o", "Python/c.o"]
        );
        assert_eq!(
            probe_objects(&tree, true).unwrap(),
            ["Modules/posixmodule.o", "Python/a.o", "Python/c.o"]
        );
        let makefile = String::from_utf8(tree.read("Makefile.pre.in").unwrap()).unwrap();
        assert_eq!(
            makefile_dtrace_deps(&makefile),
            ["Python/a.o", "Python/c.o"]
        );
        assert!(has_probe_call("x = PyDTrace_LINE (a);"));
        assert!(!has_probe_call("PyDTrace_line(a)"));
        assert!(!has_probe_call("APyDTrace_LINE(a)"));
    }

    /// The documented lists are what the real trees say: each release's
    /// pristine tree (fetched like `cargo xtask fetch` does, into
    /// target/src) and, where versions.toml names a series that exists,
    /// that series applied in memory.
    #[test]
    fn documented_objects_match_the_real_trees() {
        use cpython_sources::fetch::{self, FetchOptions, Source};
        let root = root();
        let table = Table::load(&root.join("versions.toml")).unwrap();
        let mut problems = Vec::new();
        for r in table.releases() {
            let dest = root.join("target").join("src");
            let tree_dir = dest.join(r.tree_name());
            if !tree_dir.join("Makefile.pre.in").is_file() {
                let Some(cache) = fetch::default_cache_dir() else {
                    panic!("no cache directory: set HOME or XDG_CACHE_HOME");
                };
                fetch::fetch(r, &Source::Auto, &FetchOptions::new(cache, dest.clone()))
                    .unwrap_or_else(|e| {
                        panic!(
                            "cannot fetch {}: {e}; run cargo xtask fetch --python {}",
                            r.version, r.version
                        )
                    });
            }
            let (x, y, _) = crate::layout::parse_version(&r.version);
            let minor = (x, y);
            let pristine = DirTree(tree_dir.clone());
            let series_dir = root.join(&r.series);
            let patched = if series_dir.join("series").is_file() {
                let series = Series::load(&series_dir).unwrap();
                Some(PatchedTree::new(&tree_dir, &series).unwrap())
            } else {
                eprintln!(
                    "{}: no series at {} yet; only the stock lists are checked",
                    r.version,
                    series_dir.display()
                );
                None
            };
            let fts: &[bool] = if minor >= (3, 13) {
                &[false, true]
            } else {
                &[false]
            };
            let mut check = |what: String, tree: &dyn Tree, patch: Patch| {
                for &ft in fts {
                    let found = probe_objects(tree, ft).unwrap();
                    let want = documented_objects(minor, patch, ft);
                    if found != want {
                        problems.push(format!(
                            "{what} ft={ft}: the tree says {found:?}, documented_objects {want:?}"
                        ));
                    }
                }
                let makefile = String::from_utf8(tree.read("Makefile.pre.in").unwrap()).unwrap();
                let deps = makefile_dtrace_deps(&makefile);
                if deps != makefile_deps(minor, patch) {
                    problems.push(format!(
                        "{what}: Makefile.pre.in's DTRACE_DEPS is {deps:?}, makefile_deps {:?}",
                        makefile_deps(minor, patch)
                    ));
                }
            };
            check(format!("{} stock", r.version), &pristine, Patch::Stock);
            if let Some(patched) = &patched {
                check(format!("{} patched", r.version), patched, Patch::Patched);
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn objects_of_a_real_tree_replace_the_documented_ones() {
        // A tree on disk that fires probes from one extra file.
        let dir = std::env::temp_dir().join(format!("xtask-platform-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("Python")).unwrap();
        std::fs::write(
            dir.join("Makefile.pre.in"),
            "X= Python/ceval.o Python/new.o\n",
        )
        .unwrap();
        std::fs::write(dir.join("Python/ceval.c"), "PyDTrace_LINE(a, b, c);\n").unwrap();
        std::fs::write(dir.join("Python/new.c"), "PyDTrace_LINE(a, b, c);\n").unwrap();
        let mut p = plan(
            &build_of("3.13.15", Platform::Illumos, |_| {}),
            &Options::dry_run(),
        )
        .unwrap();
        let warning = p.use_objects_of_tree(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(warning.unwrap().contains("update documented_objects"));
        let last = p.make.last().unwrap().render();
        assert_eq!(last, "'DTRACE_DEPS=Python/ceval.o Python/new.o'");
        assert_eq!(p.install.last().unwrap().render(), last);
        let text = p.render();
        assert!(text.contains("(scanned in the patched tree)"), "{text}");
        assert!(text.contains(&format!("gmake -j $JOBS {last}\n")), "{text}");
        assert_eq!(
            p.make
                .iter()
                .filter(|w| w.render().contains("DTRACE_DEPS"))
                .count(),
            1
        );
    }

    #[test]
    fn selection_and_plan_agree_on_ids() {
        let sel = Selection {
            python: Some("3.9.2".into()),
            shared: true,
            ..Selection::default()
        };
        let b = sel.resolve(&root()).unwrap();
        let p = plan(&b, &Options::dry_run()).unwrap();
        assert_eq!(p.id, "3.9.2-linux-shared");
        assert_eq!(
            p.files.probes.unwrap().render(),
            "$PREFIX/lib/libpython3.9.so.1.0"
        );
    }
}
