//! `cargo xtask header`: writes the provider header for provider.d in one of
//! the four styles sdt-header knows (see `sdt_header::Style`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sdt_header::{Options, Style};

#[derive(clap::Args)]
pub struct Args {
    /// The provider file [default: provider.d at the repository root]
    #[arg(short = 's', long = "source", value_name = "FILE.d")]
    source: Option<PathBuf>,
    /// sdt (SystemTap <sys/sdt.h> interface), sdt-inline (no <sys/sdt.h>),
    /// dtrace (illumos/FreeBSD) or macos [default: this host's dtrace style]
    #[arg(long, value_name = "STYLE", value_parser = parse_style)]
    style: Option<Style>,
    /// The architecture an sdt-inline header is for [default: this machine's]
    #[arg(long, value_name = "ARCH")]
    target: Option<String>,
    /// Where to write the header [default: standard output]
    #[arg(short = 'o', long = "output", value_name = "OUT.h")]
    output: Option<PathBuf>,
}

fn parse_style(s: &str) -> Result<Style, String> {
    s.parse().map_err(|e: sdt_header::Error| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = args
        .source
        .unwrap_or_else(|| crate::project_root().join("provider.d"));
    let file = dprovider::parse_file(&source)?;
    let style = args.style.unwrap_or_else(Style::host_default);
    let opts = Options {
        // Guarded like dtrace -h -o OUT does; on stdout there is no name to use.
        include_guard: args
            .output
            .as_ref()
            .map(|out| sdt_header::guard_for_file_name(&out.to_string_lossy())),
        target: args
            .target
            .unwrap_or_else(|| std::env::consts::ARCH.to_string()),
        ..Options::default()
    };
    let text = sdt_header::generate(&file, style, &opts)
        .with_context(|| format!("{}: --style {style}", source.display()))?;
    match &args.output {
        Some(out) => {
            std::fs::write(out, text).with_context(|| format!("{}: cannot write", out.display()))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
