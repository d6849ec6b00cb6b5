//! `cargo xtask probes BINARY… [--json | --expect provider.d]`
//!
//! Lists the USDT probes of one or more binaries, merged into one list sorted
//! by provider, name and pc; for CPython pass both `python` and
//! `libpython3.X.so` when the interpreter is built shared. SystemTap notes
//! (`.note.stapsdt`), DTrace DOF (ELF `.SUNW_dof`, Mach-O `__dof_*`, bare
//! DOF) and the probe calls of Mach-O objects are all read (see
//! `probe_reader`). DTrace sites show their argument types, `SYMBOL+0xOFF`
//! as PC when the function is not in the file (a `dtrace -G` object), and
//! `is-enabled` in the SEMAPHORE column for is-enabled tests.
//!
//! * Default: a table with one row per probe site.
//! * `--json`: an array with one object per probe site, in the same order:
//!
//!   ```json
//!   [{"file": "python", "provider": "python", "name": "function__entry",
//!     "pc": 4321, "base": 8192, "semaphore": 16400, "semaphore_offset": 12304,
//!     "args": [{"size": 8, "signed": false, "float": false, "operand": "%rbx"}],
//!     "raw_args": "8@%rbx"}]
//!   ```
//!
//!   Addresses and offsets are JSON numbers; `semaphore` and
//!   `semaphore_offset` are `null` when absent. `file` is the path as given.
//!   Also: `origin` (`stapsdt`, `elf-dof`, `macho-dof`, `macho-symbol`,
//!   `dof`), and for DTrace sites `function`, `relative_to` (or `null`),
//!   `is_enabled` and each argument's C `type` (`null` for stapsdt).
//!   The meaning of each field is that of `probe_reader::Probe`.
//! * `--expect provider.d`: compares the binaries with a provider file and
//!   lists every problem: probes declared but missing, and sites whose
//!   argument count differs from the declaration (exit code 1). Argument
//!   size or signedness differences and undeclared probes are printed as
//!   notes only, since they do not stop a tracer from attaching.
//!
//! Unreadable input, or input that is neither ELF, Mach-O nor DOF, is an
//! error (exit code 2).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use dprovider::DataModel;
use probe_reader::Probe;

#[derive(clap::Args)]
pub struct Args {
    /// ELF or Mach-O executables, libraries or objects, or DOF; their probes are merged
    #[arg(required = true, value_name = "BINARY")]
    binaries: Vec<PathBuf>,
    /// Print a JSON array instead of a table
    #[arg(long, conflicts_with = "expect")]
    json: bool,
    /// Check the probes against a provider file; exit 1 listing every problem
    #[arg(long, value_name = "PROVIDER.D")]
    expect: Option<PathBuf>,
}

/// A probe site and the file it was found in.
pub(crate) struct Site {
    pub(crate) file: PathBuf,
    pub(crate) model: DataModel,
    pub(crate) probe: Probe,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sites = read_all(&args.binaries)?;
    if let Some(provider_file) = &args.expect {
        let declared = dprovider::parse_file(provider_file)?;
        let report = check(&declared, &sites, provider_file, &args.binaries);
        print!("{}", report.text);
        return Ok(if report.failures == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&sites))?);
    } else {
        print!("{}", table(&sites, args.binaries.len() > 1));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn read_all(binaries: &[PathBuf]) -> anyhow::Result<Vec<Site>> {
    let mut sites = Vec::new();
    for path in binaries {
        let data =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let probes = probe_reader::read_bytes(&data).with_context(|| path.display().to_string())?;
        sites.extend(probes.into_iter().map(|probe| Site {
            file: path.clone(),
            model: match probe.model {
                probe_reader::DataModel::Ilp32 => DataModel::Ilp32,
                probe_reader::DataModel::Lp64 => DataModel::Lp64,
            },
            probe,
        }));
    }
    sites.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    Ok(sites)
}

fn sort_key(site: &Site) -> (&str, &str, u64, &Path) {
    let probe = &site.probe;
    (&probe.provider, &probe.name, probe.pc, &site.file)
}

fn hex(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:#x}"))
}

fn table(sites: &[Site], show_file: bool) -> String {
    if sites.is_empty() {
        return "no USDT probes found\n".to_owned();
    }
    let mut rows = vec![[
        "FILE",
        "PROVIDER",
        "NAME",
        "PC",
        "SEMAPHORE",
        "SEM_OFFSET",
        "ARGS",
    ]
    .map(String::from)];
    rows.extend(sites.iter().map(|s| {
        [
            s.file.display().to_string(),
            s.probe.provider.clone(),
            s.probe.name.clone(),
            s.probe.location(),
            if s.probe.is_enabled_site() {
                "is-enabled".to_owned()
            } else {
                hex(s.probe.semaphore)
            },
            hex(s.probe.semaphore_offset),
            s.probe.args_text(),
        ]
    }));
    let skip = usize::from(!show_file);
    let mut widths = [0usize; 7];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths).skip(skip) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[derive(serde::Serialize)]
struct JsonProbe<'a> {
    file: String,
    provider: &'a str,
    name: &'a str,
    pc: u64,
    base: u64,
    semaphore: Option<u64>,
    semaphore_offset: Option<u64>,
    args: Vec<JsonArg<'a>>,
    raw_args: &'a str,
    origin: String,
    function: Option<&'a str>,
    relative_to: Option<&'a str>,
    is_enabled: bool,
}

#[derive(serde::Serialize)]
struct JsonArg<'a> {
    size: u8,
    signed: bool,
    float: bool,
    operand: &'a str,
    #[serde(rename = "type")]
    ty: Option<&'a str>,
}

fn to_json(sites: &[Site]) -> Vec<JsonProbe<'_>> {
    sites
        .iter()
        .map(|s| JsonProbe {
            file: s.file.display().to_string(),
            provider: &s.probe.provider,
            name: &s.probe.name,
            pc: s.probe.pc,
            base: s.probe.base,
            semaphore: s.probe.semaphore,
            semaphore_offset: s.probe.semaphore_offset,
            args: s
                .probe
                .args
                .iter()
                .map(|a| JsonArg {
                    size: a.size,
                    signed: a.signed,
                    float: a.float,
                    operand: &a.operand,
                    ty: a.ty.as_deref(),
                })
                .collect(),
            raw_args: &s.probe.raw_args,
            origin: s.probe.origin.to_string(),
            function: s.probe.dtrace.as_ref().map(|d| d.function.as_str()),
            relative_to: s
                .probe
                .dtrace
                .as_ref()
                .and_then(|d| d.relative_to.as_deref()),
            is_enabled: s.probe.is_enabled_site(),
        })
        .collect()
}

/// The result of `--expect`: printable text and the number of real problems.
struct Report {
    text: String,
    failures: usize,
}

fn check(
    declared: &dprovider::ProviderFile,
    sites: &[Site],
    provider_file: &Path,
    binaries: &[PathBuf],
) -> Report {
    let d = provider_file.display();
    let searched: Vec<String> = binaries.iter().map(|b| b.display().to_string()).collect();
    let searched = searched.join(", ");
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut declared_count = 0;

    for provider in &declared.providers {
        for decl in &provider.probes {
            declared_count += 1;
            let full = format!("{}:{}", provider.name, decl.name);
            let found: Vec<&Site> = sites
                .iter()
                .filter(|s| s.probe.provider == provider.name && s.probe.name == decl.name)
                .collect();
            if found.is_empty() {
                problems.push(format!(
                    "missing probe {full}: declared in {d}, not in {searched}"
                ));
            }
            for site in found {
                let at = format!("{} pc {}", site.file.display(), site.probe.location());
                let (have, want) = (site.probe.args.len(), decl.args.len());
                if have != want {
                    problems.push(format!(
                        "argument count of {full} at {at}: {have} in the binary, {want} in {d}"
                    ));
                    continue;
                }
                for (i, (arg, decl_arg)) in site.probe.args.iter().zip(&decl.args).enumerate() {
                    let ty = decl_arg.ty.c_spelling();
                    let n = i + 1;
                    let size = decl_arg.ty.size(site.model);
                    if size != 0 && arg.size != size {
                        notes.push(format!(
                            "note: argument {n} of {full} at {at} is {} bytes, {d} declares {ty} ({size} bytes)",
                            arg.size
                        ));
                    }
                    if !arg.float && arg.signed != decl_arg.ty.is_signed() {
                        let sign = |signed| if signed { "signed" } else { "unsigned" };
                        notes.push(format!(
                            "note: argument {n} of {full} at {at} is {}, {d} declares {ty} ({})",
                            sign(arg.signed),
                            sign(decl_arg.ty.is_signed())
                        ));
                    }
                }
            }
        }
    }

    // Sites of a declared provider that the file does not declare.
    for site in sites {
        let Some(provider) = declared
            .providers
            .iter()
            .find(|p| p.name == site.probe.provider)
        else {
            continue;
        };
        if !provider.probes.iter().any(|p| p.name == site.probe.name) {
            notes.push(format!(
                "note: {}:{} at {} pc {} is not declared in {d}",
                site.probe.provider,
                site.probe.name,
                site.file.display(),
                site.probe.location()
            ));
        }
    }

    let mut text = String::new();
    for line in problems.iter().chain(&notes) {
        text.push_str(line);
        text.push('\n');
    }
    let _ = writeln!(
        text,
        "{}: {declared_count} probes declared, {} sites found; {} problems, {} notes",
        if problems.is_empty() { "ok" } else { "FAILED" },
        sites.len(),
        problems.len(),
        notes.len()
    );
    Report {
        text,
        failures: problems.len(),
    }
}
