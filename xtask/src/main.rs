//! `cargo xtask` — builds CPython with working DTrace/USDT probes and checks them.
//!
//! Every task is one module; this file only parses the command line and
//! turns errors into one line on stderr and exit code 2.

mod attach;
mod bench;
mod build;
mod ci_matrix;
mod export;
mod fetch;
mod fire;
mod header;
mod layout;
mod logged;
mod matrix;
mod padding;
mod patch;
mod platform;
mod probes;
mod test;
mod trace;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Build and verify CPython with DTrace/USDT probes"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Download (or take from Debian or a local path) a CPython source release and verify its SHA-256
    Fetch(fetch::Args),
    /// Apply (or check, or reverse) our probe patch series to a CPython source tree, all or nothing
    Patch(patch::Args),
    /// Export a patch series for packagers: a quilt series, or `git format-patch` mails for `git am`
    ExportPatches(export::Args),
    /// Generate the provider header (sdt, self-contained sdt, dtrace or macos style) from provider.d
    Header(header::Args),
    /// List the USDT probes in a binary, or check them against provider.d
    Probes(probes::Args),
    /// Build CPython (patched, --stock or --plain) with USDT probes into target/cpython/<id>
    Build(build::Args),
    /// Check a built interpreter's probes against provider.d, readelf, bpftrace and ci/expected
    Verify(verify::Args),
    /// Run the fire-test workloads under bpftrace against a build and compare with tests/fire/*.expected
    Fire(fire::Args),
    /// Measure the probes' cost: instructions, wall time and enabled cost against a plain build
    Bench(bench::Args),
    /// Build, verify and fire every supported release in one go, with a summary table
    Matrix(matrix::Args),
    /// Run a ready-made script of probes/ against a built interpreter or a running process
    Trace(trace::Args),
    /// Run the whole test suite: fmt, clippy, unit and tracer tests, bounded fuzzing
    Test(test::Args),
    /// Generate .github/workflows/dtrace-matrix.yml (or --check it) from versions.toml and the platform recipes
    CiMatrix(ci_matrix::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Fetch(args) => fetch::run(args),
        Task::Patch(args) => patch::run(args),
        Task::ExportPatches(args) => export::run(args),
        Task::Header(args) => header::run(args),
        Task::Probes(args) => probes::run(args),
        Task::Build(args) => build::run(args),
        Task::Verify(args) => verify::run(args),
        Task::Fire(args) => fire::run(args),
        Task::Test(args) => test::run(args),
        Task::Bench(args) => bench::run(args),
        Task::Matrix(args) => matrix::run(args),
        Task::Trace(args) => trace::run(args),
        Task::CiMatrix(args) => ci_matrix::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // One line: the chain of causes joined, so the fix stays visible.
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root, where provider.d, patches/ and versions.toml live.
pub fn project_root() -> PathBuf {
    let manifest = env!("CARGO_MANIFEST_DIR");
    PathBuf::from(manifest)
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(manifest))
}
