//! `cargo xtask export-patches`: the series as a quilt series or as
//! `git am` mails, for packagers (see `cpython_sources::export`).

use std::path::PathBuf;
use std::process::ExitCode;

use cpython_sources::export::{export, Format};
use cpython_sources::series::{release_minor, Series};

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    /// The patch files as they are, plus `series`
    Quilt,
    /// One `git format-patch` style mail per patch, for `git am`
    Git,
}

#[derive(clap::Args)]
pub struct Args {
    /// The CPython minor version whose series to export, e.g. 3.13
    #[arg(long = "python", value_name = "X.Y")]
    python: String,
    /// The layout to write
    #[arg(long, value_enum)]
    format: FormatArg,
    /// Where to write; must be new, empty, or an earlier export
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,
    /// The directory with `series` and the patches [default: <repo>/patches/<X.Y>]
    #[arg(long, value_name = "DIR")]
    series_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // X.Y, or a full release whose X.Y we take.
    let minor = match release_minor(&args.python) {
        Some(minor) => minor.to_string(),
        None if is_minor(&args.python) => args.python.clone(),
        None => anyhow::bail!(
            "--python {}: give the minor version, such as 3.13",
            args.python
        ),
    };
    let dir = args
        .series_dir
        .unwrap_or_else(|| crate::project_root().join("patches").join(&minor));
    let series = Series::load(&dir)?;
    if let Some(other) = series.minor.as_deref().filter(|m| *m != minor) {
        anyhow::bail!(
            "--python {minor} does not match the series in {}, which is for {other}",
            dir.display()
        );
    }
    let format = match args.format {
        FormatArg::Quilt => Format::Quilt,
        FormatArg::Git => Format::Git,
    };
    let done = export(&series, format, &args.output)?;
    let out = done.dir.display();
    let how = match format {
        Format::Quilt => format!("QUILT_PATCHES={out} quilt push -a"),
        Format::Git => format!("git am {out}/*.patch"),
    };
    let count = series.patches.len();
    let noun = if count == 1 { "patch" } else { "patches" };
    println!(
        "exported {count} {noun} from {} to {out}; apply with `{how}`",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn is_minor(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}
