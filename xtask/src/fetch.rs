//! `cargo xtask fetch`: get a verified CPython source tree and print its path.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use cpython_sources::download::Progress;
use cpython_sources::fetch::{self, Event, FetchOptions, Source};
use cpython_sources::versions::Table;

#[derive(clap::Args)]
pub struct Args {
    /// The CPython release, e.g. 3.13.5 (one of those in versions.toml)
    #[arg(long = "python", value_name = "VERSION")]
    python: String,
    /// `auto` (cache, then python.org, then Debian), `python.org`, `debian`,
    /// or the path of a release tarball or an unpacked tree
    #[arg(
        long,
        default_value = "auto",
        value_name = "auto|python.org|debian|PATH"
    )]
    from: String,
    /// Where verified tarballs are kept [default: $XDG_CACHE_HOME/cpython-dtrace or ~/.cache/cpython-dtrace]
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Where the tree is unpacked, as DIR/Python-X.Y.Z [default: <repo>/target/src]
    #[arg(long, value_name = "DIR")]
    dest: Option<PathBuf>,
    /// Use only the cache and local paths, never the network
    #[arg(long)]
    offline: bool,
    /// Seconds to wait for a server before calling it unreachable
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    connect_timeout: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::project_root();
    let table = Table::load(&root.join("versions.toml"))?;
    let release = table.get(&args.python)?;
    let cache_dir = match args.cache_dir {
        Some(dir) => dir,
        None => fetch::default_cache_dir().context(
            "no cache directory: neither XDG_CACHE_HOME nor HOME is set; pass --cache-dir",
        )?,
    };
    let dest_dir = args.dest.unwrap_or_else(|| root.join("target").join("src"));
    let source: Source = match args.from.parse() {
        Ok(source) => source,
        Err(never) => match never {},
    };

    let printer = Printer::new();
    let report = |event: Event<'_>| printer.show(event);
    let opts = FetchOptions {
        cache_dir,
        dest_dir,
        network: !args.offline,
        connect_timeout: Duration::from_secs(args.connect_timeout.max(1)),
        report: &report,
    };
    let fetched = fetch::fetch(release, &source, &opts);
    printer.end_progress();
    let fetched = fetched?;
    eprintln!("fetch: CPython {} from {}", release.version, fetched.from);
    println!("{}", fetched.tree.display());
    Ok(ExitCode::SUCCESS)
}

/// Shows notes and download progress on stderr: a self-overwriting line on
/// a terminal, a line per 10% otherwise (so logs stay short).
pub(crate) struct Printer {
    terminal: bool,
    line_open: Cell<bool>,
    last_tenth: Cell<Option<u64>>,
}

impl Printer {
    pub(crate) fn new() -> Printer {
        Printer {
            terminal: std::io::stderr().is_terminal(),
            line_open: Cell::new(false),
            last_tenth: Cell::new(None),
        }
    }

    pub(crate) fn show(&self, event: Event<'_>) {
        match event {
            Event::Note(line) => {
                self.end_progress();
                eprintln!("fetch: {line}");
            }
            Event::Progress(p) => self.progress(p),
        }
    }

    fn progress(&self, p: Progress) {
        let text = match (p.total, p.percent()) {
            (Some(total), Some(pct)) => format!("{} / {} ({pct}%)", mib(p.done), mib(total)),
            _ => mib(p.done),
        };
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r  {text}   ");
            let _ = err.flush();
            self.line_open.set(true);
        } else {
            let tenth = p.percent().map(|pct| pct / 10);
            if tenth != self.last_tenth.get() {
                self.last_tenth.set(tenth);
                let _ = writeln!(err, "  {text}");
            }
        }
    }

    pub(crate) fn end_progress(&self) {
        if self.line_open.replace(false) {
            eprintln!();
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Args {
        Cli::try_parse_from(std::iter::once("fetch").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn flags_parse_with_auto_as_the_default_source() {
        let args = parse(&["--python", "3.9.2"]);
        assert_eq!(args.from, "auto");
        assert!(!args.offline && args.cache_dir.is_none() && args.dest.is_none());
        let args = parse(&[
            "--python",
            "3.9.2",
            "--from",
            "debian",
            "--cache-dir",
            "/c",
            "--dest",
            "/d",
            "--offline",
        ]);
        assert_eq!(args.from, "debian");
        assert_eq!(args.cache_dir, Some(PathBuf::from("/c")));
        assert_eq!(args.dest, Some(PathBuf::from("/d")));
        assert!(args.offline);
        assert!(
            Cli::try_parse_from(["fetch"]).is_err(),
            "--python is required"
        );
    }

    #[test]
    fn unknown_version_names_the_supported_ones() {
        let err = run(parse(&["--python", "3.12.1"])).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "unknown version 3.12.1; supported: 2.7.18, 3.9.2, 3.11.2, 3.13.5, 3.13.15"
        );
    }

    #[test]
    fn a_local_tree_of_the_right_version_is_accepted_and_one_of_another_is_not() {
        let dir = std::env::temp_dir().join(format!("xtask-fetch-{}", std::process::id()));
        let tree = dir.join("tree");
        std::fs::create_dir_all(tree.join("Include")).unwrap();
        std::fs::write(
            tree.join("Include/patchlevel.h"),
            "#define PY_VERSION \"3.11.2\"\n",
        )
        .unwrap();
        let from = tree.to_str().unwrap();
        let cache = dir.join("cache");
        let cache = cache.to_str().unwrap();
        let ok = run(parse(&[
            "--python",
            "3.11.2",
            "--from",
            from,
            "--cache-dir",
            cache,
            "--offline",
        ]));
        let wrong = run(parse(&[
            "--python",
            "3.9.2",
            "--from",
            from,
            "--cache-dir",
            cache,
            "--offline",
        ]));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(ok.unwrap(), ExitCode::SUCCESS);
        let err = format!("{:#}", wrong.unwrap_err());
        assert!(err.contains("holds CPython 3.11.2, not 3.9.2"), "{err}");
    }
}
