//! `cargo xtask test`: the whole test suite, in the order CI runs it.
//!
//! Lints first (cheap, and a failure there makes the rest moot), then every
//! crate's tests (which include the tracer tests: bpftrace, readelf, gdb), then
//! a bounded fuzzing run of the probe reader.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use xshell::{cmd, Shell};

use crate::project_root;

#[derive(clap::Args)]
pub struct Args {
    /// Skip `cargo fmt --check` and `cargo clippy`
    #[arg(long)]
    no_lint: bool,
    /// Skip the bounded fuzzing run
    #[arg(long)]
    no_fuzz: bool,
    /// Seconds of fuzzing for each fuzz target
    #[arg(long, default_value_t = 60)]
    fuzz_seconds: u32,
    /// Extra arguments passed to `cargo test` (e.g. a test name filter)
    #[arg(last = true)]
    cargo_test_args: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    let started = Instant::now();

    if !args.no_lint {
        phase("cargo fmt --check", started);
        cmd!(sh, "cargo fmt --all -- --check")
            .run()
            .context("formatting differs; run `cargo fmt --all`")?;
        phase("cargo clippy -D warnings", started);
        cmd!(
            sh,
            "cargo clippy --workspace --all-targets --quiet -- -D warnings"
        )
        .run()
        .context("clippy found problems (see above)")?;
        phase("actionlint (ci/lint-workflows.sh)", started);
        cmd!(sh, "bash ci/lint-workflows.sh")
            .run()
            .context("the CI workflow does not lint clean (see above)")?;
    }

    phase("cargo test --workspace", started);
    let extra = &args.cargo_test_args;
    cmd!(sh, "cargo test --workspace -- {extra...}")
        .run()
        .context("tests failed (see above)")?;

    if !args.no_fuzz {
        phase("bounded fuzzing (ci/fuzz.sh)", started);
        let seconds = args.fuzz_seconds.to_string();
        cmd!(sh, "bash ci/fuzz.sh")
            .env("FUZZ_SECONDS", seconds)
            .run()
            .context("fuzzing found a crash or could not run (see above)")?;
    }

    eprintln!("xtask test: all passed in {:.0?}", started.elapsed());
    Ok(ExitCode::SUCCESS)
}

fn phase(name: &str, started: Instant) {
    eprintln!("==> [{:>5.0}s] {name}", started.elapsed().as_secs_f64());
}
