//! `cargo xtask patch`: apply, check or reverse our patch series on a
//! CPython source tree, all or nothing (see `cpython_sources::series`).

use std::path::PathBuf;
use std::process::ExitCode;

use cpython_sources::series::{release_minor, Direction, Outcome, Series};

#[derive(clap::Args)]
pub struct Args {
    /// The release the tree holds, e.g. 3.13.5; picks patches/<X.Y>
    #[arg(long = "python", value_name = "X.Y.Z")]
    python: String,
    /// The unpacked CPython source tree to patch
    #[arg(long, value_name = "DIR")]
    source: PathBuf,
    /// Change nothing; say whether the series would apply (or reverse)
    #[arg(long)]
    check: bool,
    /// Remove the series instead, leaving the tree as it was before
    #[arg(long)]
    reverse: bool,
    /// The directory with `series` and the patches [default: <repo>/patches/<X.Y>]
    #[arg(long, value_name = "DIR")]
    series_dir: Option<PathBuf>,
    /// Accept a tree of another micro release of the same X.Y (e.g. a
    /// distribution's 3.13.7 for --python 3.13.5); hunks must still apply
    /// exactly, at most at an offset
    #[arg(long)]
    allow_other_micro: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(minor) = release_minor(&args.python) else {
        anyhow::bail!(
            "--python {}: give a full release such as 3.13.5",
            args.python
        );
    };
    let dir = args
        .series_dir
        .unwrap_or_else(|| crate::project_root().join("patches").join(minor));
    let series = Series::load(&dir)?;
    let found = series.check_tree_version(&args.source, &args.python, args.allow_other_micro)?;
    let direction = if args.reverse {
        Direction::Reverse
    } else {
        Direction::Apply
    };
    let tree = args.source.display();
    match series.run(&args.source, direction, args.check)? {
        Outcome::Changed {
            direction,
            patches,
            files,
            dry_run,
        } => {
            let verb = match (direction, dry_run) {
                (Direction::Apply, false) => "applied",
                (Direction::Apply, true) => "would apply",
                (Direction::Reverse, false) => "reversed",
                (Direction::Reverse, true) => "would reverse",
            };
            println!(
                "{verb} {} from {} to {tree} (CPython {found}); {}: {}",
                plural(patches, "patch"),
                dir.display(),
                plural(files.len(), "file"),
                files.join(" ")
            );
        }
        Outcome::AlreadyApplied { patches } => {
            let what = plural(patches, "patch");
            println!(
                "already applied: {what} from {} in {tree}; nothing changed",
                dir.display()
            );
        }
        Outcome::NotApplied { patches } => {
            let what = plural(patches, "patch");
            println!(
                "not applied: none of the {what} from {} in {tree}; nothing to reverse",
                dir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `1 patch`, `3 patches`.
fn plural(n: usize, word: &str) -> String {
    match (n, word.ends_with(['s', 'h'])) {
        (1, _) => format!("{n} {word}"),
        (_, true) => format!("{n} {word}es"),
        _ => format!("{n} {word}s"),
    }
}
