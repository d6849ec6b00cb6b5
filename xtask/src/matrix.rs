//! `cargo xtask matrix`: build, verify and fire every supported release in
//! one go, and sum it up as a table (release × variant → probes listed,
//! probes fired, fire checks passed), printed and written to
//! `target/matrix/summary.{md,json}`.
//!
//! Builds run one after the other (they already use every core), each
//! through `cargo xtask build` so its progress and log tail show as usual;
//! a build that is up to date costs nothing. A failure in one release is
//! recorded and the others still run.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use cpython_sources::versions::Table;
use serde::Serialize;

use crate::layout::{parse_version, Build, Selection};
use crate::logged::{self, Clock};

#[derive(clap::Args)]
pub struct Args {
    /// Only these releases [default: every release of versions.toml with a patch series]
    #[arg(long = "python", value_name = "X.Y.Z")]
    python: Vec<String>,
    /// Also build and measure upstream's own probes (--stock) beside ours
    #[arg(long)]
    stock: bool,
    /// Parallel jobs for make [default: the number of CPUs]
    #[arg(long, value_name = "N")]
    jobs: Option<u32>,
    /// Build and verify only; do not run the fire tests
    #[arg(long)]
    no_fire: bool,
}

/// One cell row of the table.
#[derive(Serialize)]
struct Row {
    release: String,
    variant: &'static str,
    built: bool,
    /// Contract probes listed with the right arguments, and promised.
    listed: Option<(usize, usize)>,
    /// Contract probes that fired in the fire workloads, and promised.
    fired: Option<(usize, usize)>,
    /// Fire checks (workloads + balance) that matched, and run.
    checks: Option<(usize, usize)>,
    /// Why the row is not all green, if it is not.
    problem: Option<String>,
}

impl Row {
    fn new(release: &str, variant: &'static str) -> Row {
        Row {
            release: release.to_owned(),
            variant,
            built: false,
            listed: None,
            fired: None,
            checks: None,
            problem: None,
        }
    }

    /// Our own builds must be complete; stock rows only inform.
    fn passed(&self) -> bool {
        let full = |cell: Option<(usize, usize)>| cell.is_some_and(|(a, b)| a == b);
        self.built
            && self.problem.is_none()
            && full(self.listed)
            && (self.fired.is_none() || full(self.fired))
            && (self.checks.is_none() || full(self.checks))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::project_root();
    let clock = Clock::start();
    let releases = releases(&root, &args.python)?;
    if !args.no_fire {
        crate::fire::tracer_ready().context(
            "the matrix fires every probe; fix that, or use --no-fire to build and verify only",
        )?;
    }

    let mut rows = Vec::new();
    for version in &releases {
        let mut variants = vec![("patched", false)];
        if args.stock {
            variants.push(("stock", true));
        }
        for (name, stock) in variants {
            clock.say(format_args!("matrix: CPython {version} {name}"));
            let sel = Selection {
                python: Some(version.clone()),
                stock,
                ..Selection::default()
            };
            let build = sel.resolve(&root)?;
            let mut row = Row::new(version, name);
            measure(&root, sel, &build, &args, &mut row);
            if let Some(problem) = &row.problem {
                eprintln!("matrix: {version} {name}: {problem}");
            }
            rows.push(row);
        }
    }

    let table = render(&rows);
    println!("\n{table}");
    let out = root.join("target").join("matrix");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(out.join("summary.md"), &table)
        .with_context(|| format!("cannot write {}", out.join("summary.md").display()))?;
    let json = serde_json::to_string_pretty(&rows)?;
    std::fs::write(out.join("summary.json"), json + "\n")
        .with_context(|| format!("cannot write {}", out.join("summary.json").display()))?;
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| r.variant == "patched" && !r.passed())
        .map(|r| r.release.clone())
        .collect();
    clock.say(format_args!(
        "matrix: {} release(s) in {}; table in {}",
        releases.len(),
        logged::duration(clock.elapsed()),
        out.join("summary.md").display()
    ));
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("matrix: FAILED on {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// The releases to run: those asked for, else every release with a series.
fn releases(root: &Path, asked: &[String]) -> anyhow::Result<Vec<String>> {
    let table = Table::load(&root.join("versions.toml"))?;
    if !asked.is_empty() {
        for version in asked {
            table.get(version)?;
        }
        return Ok(asked.to_vec());
    }
    let mut versions: Vec<String> = table
        .releases()
        .iter()
        .filter(|r| root.join(&r.series).join("series").is_file())
        .map(|r| r.version.clone())
        .collect();
    versions.sort_by_key(|v| parse_version(v));
    if versions.is_empty() {
        anyhow::bail!("no release in versions.toml has a patch series under patches/");
    }
    Ok(versions)
}

/// Builds, verifies and fires one build, filling `row`; errors become the
/// row's problem, so one broken release does not hide the others.
fn measure(root: &Path, sel: Selection, build: &Build, args: &Args, row: &mut Row) {
    if let Err(e) = run_build(sel, args) {
        row.problem = Some(format!("{e:#}"));
        return;
    }
    row.built = true;
    let contract = match crate::verify::verify_build(root, build, &Default::default()) {
        Ok(v) => {
            row.listed = Some((v.ok, v.wanted));
            if v.problems > 0 {
                row.problem = Some(format!("verify: {} problem(s)", v.problems));
            }
            v.contract
        }
        Err(e) => {
            row.problem = Some(format!("verify: {e:#}"));
            return;
        }
    };
    if args.no_fire {
        return;
    }
    let stock = build.variant.patch != crate::layout::Patch::Patched;
    // Upstream's probes are counted, not held to our expectations: the
    // balance check would only say again what the workloads show.
    match crate::fire::fire_build(root, build, &[], !stock, !stock) {
        Ok(fired) => {
            let wanted = row.listed.map_or(0, |(_, w)| w);
            let n = fired
                .probes
                .iter()
                .filter(|p| contract.contains(p.as_str()))
                .count();
            row.fired = Some((n, wanted));
            row.checks = Some((fired.ran - fired.failed.len(), fired.ran));
            if !fired.failed.is_empty() && row.problem.is_none() {
                row.problem = Some(format!("fire: {}", fired.failed.join(", ")));
            }
        }
        Err(e) => row.problem = Some(format!("fire: {e:#}")),
    }
}

/// `cargo xtask build` for one build, with its usual progress output.
fn run_build(sel: Selection, args: &Args) -> anyhow::Result<()> {
    let flags = sel.resolve(&crate::project_root())?.flags();
    let code = crate::build::run(crate::build::Args::defaults_for(sel, args.jobs))?;
    if code != ExitCode::SUCCESS {
        anyhow::bail!("`cargo xtask build{flags}` failed");
    }
    Ok(())
}

fn render(rows: &[Row]) -> String {
    let cell = |c: Option<(usize, usize)>| c.map_or("–".to_owned(), |(a, b)| format!("{a}/{b}"));
    let mut out = String::from(
        "| CPython | build | built | probes listed | probes fired | fire checks | result |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let result = if row.variant != "patched" {
            row.problem.clone().unwrap_or_else(|| "upstream".to_owned())
        } else if row.passed() {
            "ok".to_owned()
        } else {
            format!("FAILED: {}", row.problem.as_deref().unwrap_or("incomplete"))
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            row.release,
            row.variant,
            if row.built { "yes" } else { "no" },
            cell(row.listed),
            cell(row.fired),
            cell(row.checks),
            result.replace('|', "\\|").replace('\n', " ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patched_row_passes_only_when_every_cell_is_full() {
        let mut row = Row::new("3.13.15", "patched");
        assert!(!row.passed(), "not built");
        row.built = true;
        row.listed = Some((12, 12));
        row.fired = Some((12, 12));
        row.checks = Some((9, 9));
        assert!(row.passed());
        row.fired = Some((11, 12));
        assert!(!row.passed());
        row.fired = None; // --no-fire
        assert!(row.passed());
        row.listed = Some((11, 12));
        assert!(!row.passed());
    }

    #[test]
    fn the_table_has_one_line_per_row_and_marks_failures() {
        let mut ok = Row::new("2.7.18", "patched");
        ok.built = true;
        ok.listed = Some((11, 11));
        ok.fired = Some((11, 11));
        ok.checks = Some((8, 8));
        let mut bad = Row::new("3.11.2", "patched");
        bad.problem = Some("`cargo xtask build` failed | badly".to_owned());
        let table = render(&[ok, bad]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[2],
            "| 2.7.18 | patched | yes | 11/11 | 11/11 | 8/8 | ok |"
        );
        assert!(lines[3].starts_with("| 3.11.2 | patched | no | – | – | – | FAILED: "));
        assert!(lines[3].contains("failed \\| badly"), "{}", lines[3]);
    }
}
