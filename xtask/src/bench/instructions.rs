//! Instructions: `valgrind --tool=callgrind` counts each script on each
//! interpreter; a workload's figure is its count less its baseline's (the
//! same interpreter's start-up and shutdown, or the same script doing no
//! work). Deterministic (fixed hash seed), so robust to the machine's load.
//!
//! The callgrind files are kept in `<out>/callgrind/`; `callgrind_annotate`
//! gives the instructions per function, and the functions whose
//! (workload − baseline) counts differ most between patched and plain are
//! reported: where to look when the ratio is off
//! (`callgrind_annotate --auto=yes FILE` then shows the lines).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use super::{python_command, Interp, Scripts, Sizes};
use crate::logged::Clock;

/// How many functions the per-function difference lists.
const TOP_FUNCTIONS: usize = 8;

/// One script counted by callgrind: `python -B <script>.py <args>`.
struct Counted {
    name: &'static str,
    script: &'static str,
    args: Vec<String>,
    /// Events (calls, instances) the workload makes, when known exactly.
    events: Option<(u64, &'static str)>,
    /// The name of the entry whose count is subtracted.
    baseline: &'static str,
    /// Only a baseline for another entry: not reported on its own.
    hidden: bool,
}

/// The empty script first (its count is the start-up reported), then the
/// workloads and the baselines they name.
fn counted(sizes: Sizes) -> Vec<Counted> {
    let scale = sizes.scale.to_string();
    let calls = sizes.enabled_calls / 10;
    let instances = sizes.enabled_instances / 10;
    let entry = |name, script, args: Vec<String>, events, baseline, hidden| Counted {
        name,
        script,
        args,
        events,
        baseline,
        hidden,
    };
    let enabled = |kind: &str, n: u64| vec![kind.to_string(), "none".into(), n.to_string()];
    vec![
        entry("start-up", "empty", vec![], None, "start-up", true),
        entry(
            "calls",
            "calls",
            vec![scale.clone()],
            None,
            "start-up",
            false,
        ),
        entry("alloc", "alloc", vec![scale], None, "start-up", false),
        // The same script doing nothing is the baseline: what is left is
        // the calls (instances) alone.
        entry(
            "leaf_calls",
            "enabled",
            enabled("calls", calls),
            Some((calls, "call")),
            "leaf_calls_0",
            false,
        ),
        entry(
            "leaf_calls_0",
            "enabled",
            enabled("calls", 0),
            None,
            "start-up",
            true,
        ),
        entry(
            "instances",
            "enabled",
            enabled("instances", instances),
            Some((instances, "instance")),
            "instances_0",
            false,
        ),
        entry(
            "instances_0",
            "enabled",
            enabled("instances", 0),
            None,
            "start-up",
            true,
        ),
    ]
}

fn command_line(scripts: &Scripts, c: &Counted) -> String {
    let mut line = scripts.shown(c.script);
    for arg in &c.args {
        line.push(' ');
        line.push_str(arg);
    }
    line
}

/// Instructions callgrind counted for `python -B script args…`, its
/// profile written to `profile`.
fn callgrind(python: &Path, script: &Path, args: &[String], profile: &Path) -> anyhow::Result<u64> {
    let mut cmd = python_command("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", profile.display()))
        .arg(python)
        .arg("-B")
        .arg(script)
        .args(args);
    let output = cmd
        .stdout(Stdio::null())
        .output()
        .context("cannot run valgrind")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "valgrind on {} {} failed ({}):\n{}",
            python.display(),
            script.display(),
            output.status,
            crate::logged::truncate(&stderr, 2000)
        );
    }
    parse_collected(&stderr).with_context(|| {
        format!(
            "no `Collected :` line in callgrind's output for {}",
            script.display()
        )
    })
}

/// `==123== Collected : 72086507` → 72086507.
fn parse_collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|line| {
        let rest = line.split("Collected :").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Instructions per function from `callgrind_annotate` output:
/// `FILE:FUNCTION` → Ir, with the build's source directory (any of
/// `strip`: callgrind_annotate shows it absolute, or relative to its
/// current directory) removed from file names so that builds compare, the
/// ` [object]` and recursion (`'2`) suffixes dropped.
fn parse_annotate(text: &str, strip: &[String]) -> BTreeMap<String, i64> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim_start();
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<i64>() else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(rest) = rest.strip_prefix('(').and_then(|r| r.split_once(')')) else {
            continue;
        };
        let mut name = rest.1.trim();
        if name == "PROGRAM TOTALS" || name.is_empty() {
            continue;
        }
        if name.ends_with(']') {
            if let Some(i) = name.rfind(" [") {
                name = &name[..i];
            }
        }
        let mut name = strip
            .iter()
            .find_map(|p| name.strip_prefix(p.as_str()))
            .unwrap_or(name)
            .to_string();
        if let Some(i) = name.rfind('\'') {
            if name[i + 1..].bytes().all(|b| b.is_ascii_digit()) && i + 1 < name.len() {
                name.truncate(i);
            }
        }
        *map.entry(name).or_insert(0) += count;
    }
    map
}

/// Instructions per function of a callgrind profile.
fn functions(profile: &Path, strip: &[String]) -> anyhow::Result<BTreeMap<String, i64>> {
    let output = std::process::Command::new("callgrind_annotate")
        .args(["--threshold=100", "--auto=no", "--inclusive=no"])
        .arg(profile)
        .output()
        .context("cannot run callgrind_annotate")?;
    if !output.status.success() {
        bail!(
            "callgrind_annotate {} failed ({})",
            profile.display(),
            output.status
        );
    }
    Ok(parse_annotate(
        &String::from_utf8_lossy(&output.stdout),
        strip,
    ))
}

/// `a − b`, per function.
fn minus(a: &BTreeMap<String, i64>, b: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    let mut out = a.clone();
    for (k, v) in b {
        *out.entry(k.clone()).or_insert(0) -= v;
    }
    out
}

/// The functions whose counts differ most between `other` and `base`
/// (largest |difference| first), with both counts.
fn top_differences(
    base: &BTreeMap<String, i64>,
    other: &BTreeMap<String, i64>,
    n: usize,
) -> Vec<(String, i64, i64)> {
    let mut keys: Vec<&String> = base.keys().chain(other.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut rows: Vec<(String, i64, i64)> = keys
        .into_iter()
        .map(|k| {
            let a = base.get(k).copied().unwrap_or(0);
            let b = other.get(k).copied().unwrap_or(0);
            (k.clone(), a, b)
        })
        .filter(|(_, a, b)| a != b)
        .collect();
    rows.sort_by_key(|(k, a, b)| (std::cmp::Reverse((b - a).abs()), k.clone()));
    rows.truncate(n);
    rows
}

pub fn measure(
    interps: &[Interp],
    scripts: &Scripts,
    sizes: Sizes,
    out: &Path,
    clock: &Clock,
) -> anyhow::Result<Value> {
    let counted = counted(sizes);
    let profiles = out.join("callgrind");
    std::fs::create_dir_all(&profiles)
        .with_context(|| format!("cannot create {}", profiles.display()))?;
    let profile = |i: usize, c: usize| -> PathBuf {
        profiles.join(format!("{}.{}.out", interps[i].label, counted[c].name))
    };
    // Every (interpreter, script) pair, run as many at a time as there are
    // cores: the counts do not depend on the load.
    let mut jobs = Vec::new();
    for i in 0..interps.len() {
        for c in 0..counted.len() {
            jobs.push((i, c));
        }
    }
    clock.say(format_args!(
        "bench: counting instructions with callgrind ({} runs)",
        jobs.len()
    ));
    let results: Mutex<BTreeMap<(usize, usize), u64>> = Mutex::new(BTreeMap::new());
    let queue = Mutex::new(jobs.into_iter());
    let errors: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let job = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                let Some((i, c)) = job else { break };
                let script = scripts.get(counted[c].script);
                match callgrind(
                    &interps[i].python,
                    &script,
                    &counted[c].args,
                    &profile(i, c),
                ) {
                    Ok(n) => {
                        if let Ok(mut r) = results.lock() {
                            r.insert((i, c), n);
                        }
                    }
                    Err(e) => {
                        if let Ok(mut errs) = errors.lock() {
                            errs.push(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(err) = errors.into_inner().unwrap_or_default().into_iter().next() {
        return Err(err);
    }
    let results = results.into_inner().unwrap_or_default();
    let count = |i: usize, c: usize| results.get(&(i, c)).copied().unwrap_or(0);

    let mut startup = serde_json::Map::new();
    for (i, interp) in interps.iter().enumerate() {
        startup.insert(interp.label.into(), json!(count(i, 0)));
    }
    let startup_ratios = ratios(interps, |i| count(i, 0) as f64);
    let mut workloads = Vec::new();
    for (c, w) in counted.iter().enumerate() {
        if w.hidden {
            continue;
        }
        let name = w.name;
        let b = counted
            .iter()
            .position(|c| c.name == w.baseline)
            .context("a baseline names no counted script")?;
        let mut total = serde_json::Map::new();
        let mut workload = serde_json::Map::new();
        let net = |i: usize| count(i, c).saturating_sub(count(i, b));
        for (i, interp) in interps.iter().enumerate() {
            total.insert(interp.label.into(), json!(count(i, c)));
            workload.insert(interp.label.into(), json!(net(i)));
            if net(i) == 0 {
                bail!(
                    "{} counted no more instructions than {} on {}",
                    command_line(scripts, w),
                    command_line(scripts, &counted[b]),
                    interp.build.id()
                );
            }
        }
        let r = ratios(interps, |i| net(i) as f64);
        clock.say(format_args!(
            "bench: {name}: {} instructions on plain; stock/plain {:.4}, patched/plain {:.4}",
            net(0),
            r["stock"].as_f64().unwrap_or(f64::NAN),
            r["patched"].as_f64().unwrap_or(f64::NAN)
        ));

        // Per function: (workload − baseline) of each interpreter.
        let mut per_function = Vec::new();
        for (i, interp) in interps.iter().enumerate() {
            let src = interp.build.src_dir();
            let mut strip = vec![format!("{}/", src.display())];
            if let Some(rel) = std::env::current_dir()
                .ok()
                .and_then(|cwd| src.strip_prefix(cwd).ok().map(Path::to_path_buf))
            {
                strip.push(format!("{}/", rel.display()));
            }
            let work = functions(&profile(i, c), &strip)?;
            let base = functions(&profile(i, b), &strip)?;
            per_function.push(minus(&work, &base));
        }
        let differences: Vec<Value> =
            top_differences(&per_function[0], &per_function[2], TOP_FUNCTIONS)
                .into_iter()
                .map(|(function, plain, patched)| {
                    let stock = per_function[1].get(&function).copied().unwrap_or(0);
                    json!({
                        "function": function,
                        "plain": plain,
                        "stock": stock,
                        "patched": patched,
                    })
                })
                .collect();

        let mut entry = json!({
            "name": name,
            "command": command_line(scripts, w),
            "baseline": command_line(scripts, &counted[b]),
            "total": total,
            "workload": workload,
            "ratio": r,
            "functions": differences,
        });
        if let Some((events, what)) = w.events {
            // Instructions per event more (or fewer) than plain.
            let mut per_event = serde_json::Map::new();
            for (i, interp) in interps.iter().enumerate().skip(1) {
                let extra = (net(i) as f64 - net(0) as f64) / events as f64;
                per_event.insert(interp.label.into(), json!(extra));
            }
            entry["events"] = json!(events);
            entry["event"] = json!(what);
            entry["extra_per_event"] = Value::Object(per_event);
        }
        workloads.push(entry);
    }
    Ok(json!({
        "tool": "valgrind --tool=callgrind (Ir)",
        "scale": sizes.scale,
        "profiles": profiles.display().to_string(),
        "startup": startup,
        "startup_ratio": startup_ratios,
        "workloads": workloads,
    }))
}

/// `{"stock": x/plain, "patched": x/plain}` for a per-interpreter figure.
fn ratios(interps: &[Interp], figure: impl Fn(usize) -> f64) -> Value {
    let base = figure(0);
    let mut map = serde_json::Map::new();
    for (i, interp) in interps.iter().enumerate().skip(1) {
        map.insert(interp.label.into(), json!(figure(i) / base));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callgrind_summary_is_parsed() {
        let stderr = "==1== Events    : Ir\n==1== Collected : 72086507\n==1== \n\
                      ==1== I   refs:      72,086,507\n";
        assert_eq!(parse_collected(stderr), Some(72086507));
        assert_eq!(parse_collected("nothing here"), None);
    }

    #[test]
    fn annotate_output_is_parsed_per_function() {
        // The shape of callgrind_annotate 3.19 (--auto=no).
        let text = "\
--------------------------------------------------------------------------------
Ir                  
--------------------------------------------------------------------------------
51,732,471 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                  file:function
--------------------------------------------------------------------------------
2,624,898 ( 5.07%)  /b/src/Objects/dictobject.c:unicodekeys_lookup_unicode [/i/bin/python3.13]
2,590,600 ( 5.01%)  /b/src/Python/generated_cases.c.h:_PyEval_EvalFrameDefault
1,347,294 ( 2.60%)  /b/src/Python/generated_cases.c.h:_PyEval_EvalFrameDefault'2
  636,727 ( 1.23%)  ./string/../sysdeps/x86_64/multiarch/memset.S:__memset_avx2 [/usr/lib/libc.so.6]
        1 ( 0.00%)  ???:0x0000000000188720 [???]
";
        let map = parse_annotate(text, &["/a/src/".into(), "/b/src/".into()]);
        assert_eq!(
            map["Python/generated_cases.c.h:_PyEval_EvalFrameDefault"],
            3_937_894
        );
        assert_eq!(
            map["Objects/dictobject.c:unicodekeys_lookup_unicode"],
            2_624_898
        );
        assert_eq!(
            map["./string/../sysdeps/x86_64/multiarch/memset.S:__memset_avx2"],
            636_727
        );
        assert_eq!(map["???:0x0000000000188720"], 1);
        assert!(!map.contains_key("PROGRAM TOTALS"));
        assert_eq!(map.len(), 4);
    }

    #[test]
    fn the_largest_differences_come_first() {
        let a: BTreeMap<String, i64> = [("f", 100), ("g", 50), ("h", 10)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let b: BTreeMap<String, i64> = [("f", 90), ("g", 80), ("i", 5)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let top = top_differences(&a, &b, 3);
        assert_eq!(
            top,
            [
                ("g".to_string(), 50, 80),
                ("f".to_string(), 100, 90),
                ("h".to_string(), 10, 0),
            ]
        );
        let d = minus(&a, &b);
        assert_eq!(d["g"], -30);
        assert_eq!(d["i"], -5);
    }
}
