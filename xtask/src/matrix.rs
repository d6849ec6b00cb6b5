//! `cargo xtask matrix`: build, verify and fire every supported release.
//! (Being written for the [matrix] issue.)

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`cargo xtask matrix` is not implemented yet")
}
