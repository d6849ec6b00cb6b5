//! `cargo xtask trace`: run a script of `probes/` against a built
//! interpreter or a running process. (Being written for the [scripts] issue.)

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`cargo xtask trace` is not implemented yet")
}
