//! `cargo xtask verify`: are the probes of a built interpreter the ones
//! provider.d promises?
//!
//! 1. The contract: every probe whose `@since` is at most the build's X.Y is
//!    there, with the declared number of arguments and, for LP64, their
//!    sizes and signedness; nothing else is. With `--stock` the same
//!    comparison only reports what upstream lacks.
//! 2. Two other readers agree with ours: `readelf -n` on every site
//!    (provider, name, argument string) and `bpftrace -l` on the names.
//! 3. A platform-neutral listing (no addresses, no site counts, which vary
//!    with the compiler) matches the committed `ci/expected/<X.Y>-<os>.json`,
//!    which is written by hand from provider.d so it checks the build
//!    instead of recording it.
//!
//! Every problem is listed, not just the first; any problem is exit 1.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use dprovider::{Probe as DeclaredProbe, Provider, ProviderFile};
use xshell::{cmd, Shell};

use crate::layout::{Build, Patch, Selection};
use crate::probes::{read_all, Site};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    sel: Selection,
    /// Write this build's listing to ci/expected/<X.Y>-<platform>.json
    /// instead of comparing with it (review the result against provider.d)
    #[arg(long)]
    update_expected: bool,
    /// Verify the install prefix DIR instead of the selected build's (testing)
    #[arg(long, value_name = "DIR", hide = true)]
    install_dir: Option<PathBuf>,
    /// Compare with FILE instead of ci/expected/… (testing)
    #[arg(long, value_name = "FILE", hide = true)]
    expected: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::project_root();
    let build = args.sel.resolve(&root)?;
    let overrides = Overrides {
        install_dir: args.install_dir,
        expected: args.expected,
        update_expected: args.update_expected,
    };
    let verified = verify_build(&root, &build, &overrides)?;
    Ok(if verified.problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What `verify` may be told besides the build (testing and recording).
#[derive(Default)]
pub(crate) struct Overrides {
    pub install_dir: Option<PathBuf>,
    pub expected: Option<PathBuf>,
    pub update_expected: bool,
}

/// The outcome of verifying one build, for `matrix`'s table.
pub(crate) struct Verified {
    /// Contract probes present with the right arguments.
    pub ok: usize,
    /// Contract probes promised for this version.
    pub wanted: usize,
    /// Problems found (0 for a stock build, whose gaps are notes).
    pub problems: usize,
    /// The names of the contract probes promised for this version.
    pub contract: std::collections::BTreeSet<String>,
}

/// Verifies `build`, printing every note and problem and a summary line.
pub(crate) fn verify_build(
    root: &Path,
    build: &Build,
    overrides: &Overrides,
) -> anyhow::Result<Verified> {
    let stock = match build.variant.patch {
        Patch::Patched => false,
        Patch::Stock => true,
        Patch::Plain => {
            bail!("a --plain build has no probes to verify; verify the patched build, or --stock")
        }
    };
    if stock && overrides.update_expected {
        bail!("--update-expected records the patched build's probes; drop --stock");
    }
    let install = overrides
        .install_dir
        .clone()
        .unwrap_or_else(|| build.install_dir());
    // An override is a hand-made prefix without a stamp; ours must be finished.
    let finished = overrides.install_dir.is_some() || build.is_complete();
    let binaries = build.probe_binaries_in(&install);
    if !finished || !binaries.iter().all(|b| b.is_file()) {
        bail!(
            "no build at {}; run `cargo xtask build{}` first",
            install.display(),
            build.flags()
        );
    }
    let sites = read_all(&binaries)?;
    let provider_d = root.join("provider.d");
    let contract = dprovider::parse_file(&provider_d).map_err(|e| anyhow::anyhow!("{e}"))?;

    let mut report = Report::default();
    let (ok, wanted) = check_contract(&contract, build, &sites, stock, &mut report);
    let readelf = cross_check_readelf(&binaries, &sites, &mut report);
    let bpftrace = cross_check_bpftrace(&binaries, &sites, &mut report);

    let expected_path = overrides
        .expected
        .clone()
        .unwrap_or_else(|| build.expected_listing(root));
    let shown = expected_path
        .strip_prefix(root)
        .unwrap_or(&expected_path)
        .display()
        .to_string();
    let actual = render_listing(&listing(&sites));
    let listing_word = if stock {
        "listing not compared (--stock)".to_owned()
    } else if overrides.update_expected {
        if let Some(dir) = expected_path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&expected_path, &actual)
            .with_context(|| format!("cannot write {}", expected_path.display()))?;
        format!("wrote {shown}; review it against provider.d before committing")
    } else if compare_listing(&expected_path, &shown, &actual, &mut report) {
        format!("listing matches {shown}")
    } else {
        format!("listing differs from {shown}")
    };

    for note in &report.notes {
        println!("{note}");
    }
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    let what = if stock {
        format!("upstream has {ok}/{wanted} contract probes")
    } else {
        format!("{ok}/{wanted} probes")
    };
    let summary = format!("{what}, {readelf}, {bpftrace}, {listing_word}");
    if report.problems.is_empty() {
        println!("verify: {summary}");
    } else {
        println!(
            "verify: FAILED with {} problem(s): {summary}",
            report.problems.len()
        );
    }
    Ok(Verified {
        ok,
        wanted,
        problems: report.problems.len(),
        contract: contract_probes(&contract, build.minor())
            .into_iter()
            .map(|(_, probe)| probe.name.clone())
            .collect(),
    })
}

#[derive(Default)]
struct Report {
    problems: Vec<String>,
    notes: Vec<String>,
}

/// The probes provider.d promises for CPython `minor` (`@since` ≤ it; a
/// probe without a tag is always promised).
pub(crate) fn contract_probes(
    file: &ProviderFile,
    minor: (u32, u32),
) -> Vec<(&Provider, &DeclaredProbe)> {
    file.providers
        .iter()
        .flat_map(|p| p.probes.iter().map(move |probe| (p, probe)))
        .filter(|(_, probe)| !matches!(probe.since(), Some(since) if since > minor))
        .collect()
}

/// A size with its sign, as in sdt notes: `-4` is a signed 4-byte value.
fn signed_size(size: u8, signed: bool) -> i32 {
    if signed {
        -i32::from(size)
    } else {
        i32::from(size)
    }
}

/// Checks the sites against the contract; returns (probes that are present
/// and right, probes promised). With `stock`, differences are notes.
fn check_contract(
    contract: &ProviderFile,
    build: &Build,
    sites: &[Site],
    stock: bool,
    report: &mut Report,
) -> (usize, usize) {
    let version = &build.release.version;
    let wanted = contract_probes(contract, build.minor());
    let mut problems = Vec::new();
    let mut ok = 0;
    for (provider, decl) in &wanted {
        let full = format!("{}:{}", provider.name, decl.name);
        let found: Vec<&Site> = sites
            .iter()
            .filter(|s| s.probe.provider == provider.name && s.probe.name == decl.name)
            .collect();
        if found.is_empty() {
            problems.push(format!(
                "{full} is missing (provider.d promises it for {version})"
            ));
            continue;
        }
        let before = problems.len();
        for site in found {
            let at = format!("{} pc {:#x}", file_name(&site.file), site.probe.pc);
            let declared: Vec<String> = decl.args.iter().map(|a| a.ty.c_spelling()).collect();
            if site.probe.args.len() != decl.args.len() {
                problems.push(format!(
                    "{full} at {at} has {} arguments, provider.d declares {} ({})",
                    site.probe.args.len(),
                    decl.args.len(),
                    declared.join(", ")
                ));
                continue;
            }
            for (i, (arg, decl_arg)) in site.probe.args.iter().zip(&decl.args).enumerate() {
                let want = signed_size(decl_arg.ty.size(site.model), decl_arg.ty.is_signed());
                let have = signed_size(arg.size, arg.signed && !arg.float);
                // A size of 0 is `void` itself, which no argument has.
                if want != 0 && have != want {
                    problems.push(format!(
                        "{full} at {at}: argument {} is {have} (`{}`), provider.d declares {} ({want})",
                        i + 1,
                        arg,
                        declared[i]
                    ));
                }
            }
        }
        if problems.len() == before {
            ok += 1;
        }
    }
    // Probes that should not be there, once per name.
    let wanted_names: BTreeSet<(&str, &str)> = wanted
        .iter()
        .map(|(p, d)| (p.name.as_str(), d.name.as_str()))
        .collect();
    let mut extra: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for site in sites {
        let key = (site.probe.provider.as_str(), site.probe.name.as_str());
        if !wanted_names.contains(&key) {
            *extra.entry(key).or_default() += 1;
        }
    }
    for ((provider, name), count) in extra {
        let why = match contract.provider(provider).and_then(|p| p.probe(name)) {
            Some(decl) => match decl.since() {
                Some((x, y)) => format!("provider.d has it only from {x}.{y}"),
                None => "provider.d does not promise it".to_owned(),
            },
            None => "provider.d does not declare it".to_owned(),
        };
        problems.push(format!(
            "{provider}:{name} is in the build ({count} site(s)) but {why}"
        ));
    }
    if stock {
        report.notes.extend(
            problems
                .into_iter()
                .map(|p| format!("upstream {version}: {p}")),
        );
    } else {
        report.problems.extend(problems);
    }
    (ok, wanted.len())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// One probe site as `readelf -n` and our reader both describe it.
type SiteKey = (String, String, String);

fn our_sites(sites: &[Site], file: &Path) -> Vec<SiteKey> {
    // readelf -n shows stapsdt notes only, not DTrace's DOF.
    let mut keys: Vec<SiteKey> = sites
        .iter()
        .filter(|s| s.file == file && s.probe.dtrace.is_none())
        .map(|s| {
            (
                s.probe.provider.clone(),
                s.probe.name.clone(),
                s.probe.raw_args.trim().to_owned(),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// Compares every site with `readelf -n --wide`; returns the summary word.
fn cross_check_readelf(binaries: &[PathBuf], sites: &[Site], report: &mut Report) -> String {
    let Ok(sh) = Shell::new() else {
        report
            .problems
            .push("cannot start a shell for readelf".to_owned());
        return "readelf did not run".to_owned();
    };
    let before = report.problems.len();
    for file in binaries {
        let output = match cmd!(sh, "readelf -n --wide {file}")
            .quiet()
            .ignore_stderr()
            .read()
        {
            Ok(text) => text,
            Err(e) => {
                report.problems.push(format!(
                    "readelf -n {} failed ({e}); install binutils",
                    file.display()
                ));
                continue;
            }
        };
        let theirs = parse_readelf(&output);
        let ours = our_sites(sites, file);
        if let Some(diff) = multiset_difference(&ours, &theirs) {
            report.problems.push(format!(
                "readelf disagrees with our reader on {}: {diff}",
                file.display()
            ));
        }
    }
    if report.problems.len() == before {
        "readelf agrees".to_owned()
    } else {
        "readelf disagrees".to_owned()
    }
}

/// The stapsdt notes in `readelf -n --wide` output.
fn parse_readelf(text: &str) -> Vec<SiteKey> {
    let mut keys = Vec::new();
    let mut current: Option<(String, String, String)> = None;
    for line in text.lines() {
        if let Some((_, provider)) = line.split_once("Provider: ") {
            keys.extend(current.take());
            current = Some((provider.trim().to_owned(), String::new(), String::new()));
        } else if let Some(cur) = current.as_mut() {
            let line = line.trim_start();
            if let Some(name) = line.strip_prefix("Name: ") {
                cur.1 = name.trim().to_owned();
            } else if let Some(args) = line.strip_prefix("Arguments:") {
                cur.2 = args.trim().to_owned();
            } else if !line.starts_with("Location: ") {
                // The end of this note: another note or section follows.
                keys.extend(current.take());
            }
        }
    }
    keys.extend(current);
    keys.sort();
    keys
}

/// `None` when both sorted lists hold the same items, else what differs.
fn multiset_difference(ours: &[SiteKey], theirs: &[SiteKey]) -> Option<String> {
    if ours == theirs {
        return None;
    }
    let count = |list: &[SiteKey]| {
        let mut m: BTreeMap<SiteKey, usize> = BTreeMap::new();
        for k in list {
            *m.entry(k.clone()).or_default() += 1;
        }
        m
    };
    let (a, b) = (count(ours), count(theirs));
    let mut parts = Vec::new();
    for key in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
        let (x, y) = (
            a.get(key).copied().unwrap_or(0),
            b.get(key).copied().unwrap_or(0),
        );
        if x != y {
            parts.push(format!(
                "{}:{} `{}` ours {x}, theirs {y}",
                key.0, key.1, key.2
            ));
        }
    }
    Some(parts.join("; "))
}

/// Compares the probe names with `bpftrace -l`; returns the summary word.
/// Without bpftrace or root the check is skipped: a warning, or a problem
/// when CI is set (CI must run every check).
fn cross_check_bpftrace(binaries: &[PathBuf], sites: &[Site], report: &mut Report) -> String {
    let unavailable = match crate::build::find_in_path("bpftrace") {
        None => Some("bpftrace is not installed (apt-get install bpftrace)"),
        Some(_) if !is_root() => Some("bpftrace needs root; run as root or with sudo"),
        Some(_) => None,
    };
    if let Some(why) = unavailable {
        let line = format!("bpftrace cross-check skipped: {why}");
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            report
                .problems
                .push(format!("{line} (CI is set, so this fails)"));
        } else {
            eprintln!("warning: {line}");
        }
        return "bpftrace skipped".to_owned();
    }
    let Ok(sh) = Shell::new() else {
        report
            .problems
            .push("cannot start a shell for bpftrace".to_owned());
        return "bpftrace did not run".to_owned();
    };
    let before = report.problems.len();
    for file in binaries {
        let pattern = format!("usdt:{}:*", file.display());
        let output = match cmd!(sh, "bpftrace -l {pattern}")
            .quiet()
            .ignore_stderr()
            .read()
        {
            Ok(text) => text,
            Err(e) => {
                report
                    .problems
                    .push(format!("bpftrace -l {pattern} failed ({e})"));
                continue;
            }
        };
        let theirs = parse_bpftrace(&output);
        // bpftrace lists stapsdt notes only, not DTrace's DOF.
        let ours: BTreeSet<String> = sites
            .iter()
            .filter(|s| &s.file == file && s.probe.dtrace.is_none())
            .map(|s| format!("{}:{}", s.probe.provider, s.probe.name))
            .collect();
        if ours != theirs {
            let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
                let v: Vec<&str> = a.difference(b).map(String::as_str).collect();
                if v.is_empty() {
                    "nothing".to_owned()
                } else {
                    v.join(", ")
                }
            };
            report.problems.push(format!(
                "bpftrace disagrees with our reader on {}: only bpftrace lists {}; only we list {}",
                file.display(),
                only(&theirs, &ours),
                only(&ours, &theirs)
            ));
        }
    }
    if report.problems.len() == before {
        "bpftrace agrees".to_owned()
    } else {
        "bpftrace disagrees".to_owned()
    }
}

/// `usdt:/path/to/file:provider:name` lines → `provider:name`.
fn parse_bpftrace(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("usdt:"))
        .filter_map(|l| {
            let mut parts = l.trim().rsplitn(3, ':');
            let name = parts.next()?;
            let provider = parts.next()?;
            Some(format!("{provider}:{name}"))
        })
        .collect()
}

/// Effective uid 0, from /proc (no libc binding needed for one number).
pub(crate) fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

/// One line of the platform-neutral listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Entry {
    provider: String,
    name: String,
    /// Sizes with sign, as in sdt notes: `[8, 8, -4]`.
    args: Vec<i32>,
    semaphore: bool,
}

fn listing(sites: &[Site]) -> BTreeSet<Entry> {
    sites
        .iter()
        .map(|s| Entry {
            provider: s.probe.provider.clone(),
            name: s.probe.name.clone(),
            args: s
                .probe
                .args
                .iter()
                .map(|a| signed_size(a.size, a.signed && !a.float))
                .collect(),
            semaphore: s.probe.semaphore.is_some(),
        })
        .collect()
}

/// Sorted JSON, one probe a line, so a drift diffs line by line.
fn render_listing(entries: &BTreeSet<Entry>) -> String {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let args: Vec<String> = e.args.iter().map(i32::to_string).collect();
            format!(
                "  {{\"provider\": {}, \"name\": {}, \"args\": [{}], \"semaphore\": {}}}",
                quote(&e.provider),
                quote(&e.name),
                args.join(", "),
                e.semaphore
            )
        })
        .collect();
    if lines.is_empty() {
        return "[]\n".to_owned();
    }
    format!("[\n{}\n]\n", lines.join(",\n"))
}

/// Compares the committed listing with this build's; a drift is a problem
/// carrying a unified-style diff. Returns whether they match.
fn compare_listing(path: &Path, shown: &str, actual: &str, report: &mut Report) -> bool {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            report.problems.push(format!(
                "cannot read {shown} ({e}); write it by hand from provider.d, or run with --update-expected and review it"
            ));
            return false;
        }
    };
    let expected: BTreeSet<Entry> = match serde_json::from_str::<Vec<Entry>>(&text) {
        Ok(entries) => entries.into_iter().collect(),
        Err(e) => {
            report.problems.push(format!(
                "{shown} is not a probe listing ({e}); fix it, or rewrite it with --update-expected"
            ));
            return false;
        }
    };
    let expected = render_listing(&expected);
    if expected == actual {
        return true;
    }
    let mut diff =
        format!("listing drift (- {shown}, + this build):\n--- {shown}\n+++ this build\n");
    for line in line_diff(&expected, actual) {
        let _ = writeln!(diff, "{line}");
    }
    report.problems.push(diff.trim_end().to_owned());
    false
}

/// A whole-file diff: every line prefixed with ` `, `-` or `+` (the
/// listings are a dozen lines, so no hunks are needed).
fn line_diff(old: &str, new: &str) -> Vec<String> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // lcs[i][j]: longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(format!(" {}", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("-{}", a[i]));
            i += 1;
        } else {
            out.push(format!("+{}", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readelf_output_is_parsed_per_note() {
        let text = "\
Displaying notes found in: .note.gnu.build-id
  Owner                Data size \tDescription
  GNU                  0x00000014\tNT_GNU_BUILD_ID (unique build ID bitstring)\t    Build ID: 3b7d
\n\
Displaying notes found in: .note.stapsdt
  Owner                Data size \tDescription
  stapsdt              0x0000003e\tNT_STAPSDT (SystemTap probe descriptors)\t    Provider: python
    Name: line
    Location: 0x0000000000001040, Base: 0x0000000000002004, Semaphore: 0x0000000000000000
    Arguments: 8@(%rsi) 8@(%rsi) -4@%edi
  stapsdt              0x00000027\tNT_STAPSDT (SystemTap probe descriptors)\t    Provider: python
    Name: noargs
    Location: 0x0000000000001045, Base: 0x0000000000002004, Semaphore: 0x0000000000000000
    Arguments: 
";
        let key = |p: &str, n: &str, a: &str| (p.to_owned(), n.to_owned(), a.to_owned());
        assert_eq!(
            parse_readelf(text),
            [
                key("python", "line", "8@(%rsi) 8@(%rsi) -4@%edi"),
                key("python", "noargs", "")
            ]
        );
    }

    #[test]
    fn bpftrace_lines_keep_provider_and_name() {
        let names = parse_bpftrace("usdt:/a:b/python3:python:gc__done\nusdt:/x:python:line\n");
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["python:gc__done", "python:line"]
        );
    }

    #[test]
    fn multisets_report_counts_that_differ() {
        let k = |n: &str| ("p".to_owned(), n.to_owned(), "8@%rax".to_owned());
        assert_eq!(multiset_difference(&[k("a")], &[k("a")]), None);
        assert_eq!(
            multiset_difference(&[k("a"), k("a")], &[k("a"), k("b")]).unwrap(),
            "p:a `8@%rax` ours 2, theirs 1; p:b `8@%rax` ours 0, theirs 1"
        );
    }

    #[test]
    fn diffs_mark_removed_and_added_lines() {
        assert_eq!(
            line_diff("a\nb\nc\n", "a\nx\nc\nd\n"),
            [" a", "-b", "+x", " c", "+d"]
        );
    }

    #[test]
    fn listings_render_sorted_one_probe_a_line_and_parse_back() {
        let e = |name: &str, args: &[i32]| Entry {
            provider: "python".into(),
            name: name.into(),
            args: args.to_vec(),
            semaphore: true,
        };
        let set: BTreeSet<Entry> = [e("line", &[8, 8, -4]), e("audit", &[8, 8])].into();
        let text = render_listing(&set);
        assert_eq!(
            text,
            "[\n  {\"provider\": \"python\", \"name\": \"audit\", \"args\": [8, 8], \"semaphore\": true},\n  {\"provider\": \"python\", \"name\": \"line\", \"args\": [8, 8, -4], \"semaphore\": true}\n]\n"
        );
        let back: Vec<Entry> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.into_iter().collect::<BTreeSet<_>>(), set);
        assert_eq!(render_listing(&BTreeSet::new()), "[]\n");
    }

    #[test]
    fn the_contract_for_an_older_release_leaves_out_later_probes() {
        let file = dprovider::parse_file(&crate::project_root().join("provider.d")).unwrap();
        let names = |minor| {
            contract_probes(&file, minor)
                .iter()
                .map(|(_, p)| p.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names((3, 13)).len(), 21);
        assert!(names((3, 13)).contains(&"audit".to_owned()));
        assert_eq!(names((2, 7)).len(), 20);
        assert!(!names((2, 7)).contains(&"audit".to_owned()));
    }
}
