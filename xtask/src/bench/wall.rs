//! Wall time with the probes disabled: the interpreters take turns.
//!
//! pyperformance (3.9 and later): each benchmark's `run_benchmark.py` runs
//! as one pyperf worker process (`--worker`: no further processes, a fixed
//! number of loops, warm-ups and values); the time of a benchmark in one
//! run is the median of its values. A run goes through every benchmark,
//! and for each benchmark through the three interpreters, who goes first
//! rotating run by run. The loops are calibrated once, on plain, and used
//! for all three.
//!
//! Own suite (`tests/bench/suite.py`, 2.7 and `--suite own`): one process
//! per interpreter per run times every benchmark in-process.
//!
//! Either way a benchmark's ratio is the median of its per-run ratios
//! (interpreter / plain of the same run), shown with their quartiles and
//! extremes; the geometric mean is that of the medians, and its spread
//! that of the per-run geometric means.

use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use super::pypi::Pyperf;
use super::{median, python_command, spread, stdout_of, Interp, Scripts, Sizes};
use crate::logged::Clock;

/// One pyperformance benchmark: its pyperf name, the directory of its
/// `run_benchmark.py`, extra arguments, and what it exercises.
struct PyBench {
    name: &'static str,
    dir: &'static str,
    args: &'static [&'static str],
    area: &'static str,
}

const fn b(
    name: &'static str,
    dir: &'static str,
    args: &'static [&'static str],
    area: &'static str,
) -> PyBench {
    PyBench {
        name,
        dir,
        args,
        area,
    }
}

/// The pyperformance benchmarks run: none needs a third-party package, all
/// run on 3.9 to 3.13. Calls, generators, object churn, GC, float, regex
/// and JSON are each covered by at least one.
const PYPERFORMANCE: &[PyBench] = &[
    b("richards", "bm_richards", &[], "calls, methods"),
    b("deltablue", "bm_deltablue", &[], "calls, methods, objects"),
    b("hexiom", "bm_hexiom", &[], "calls, containers"),
    b("go", "bm_go", &[], "calls, objects"),
    b("chaos", "bm_chaos", &[], "calls, float, objects"),
    b("raytrace", "bm_raytrace", &[], "calls, float, objects"),
    b("generators", "bm_generators", &[], "generators"),
    b("coroutines", "bm_coroutines", &[], "coroutines"),
    b("nqueens", "bm_nqueens", &[], "generators, comprehensions"),
    b("deepcopy", "bm_deepcopy", &[], "object churn"),
    b(
        "pickle_pure_python",
        "bm_pickle",
        &["--pure-python", "pickle"],
        "object churn, calls",
    ),
    b("unpack_sequence", "bm_unpack_sequence", &[], "bytecode"),
    b("create_gc_cycles", "bm_gc_collect", &[], "GC"),
    b("float", "bm_float", &[], "float, instances"),
    b("nbody", "bm_nbody", &[], "float"),
    b("regex_v8", "bm_regex_v8", &[], "regex"),
    b("json_dumps", "bm_json_dumps", &[], "json"),
    b("json_loads", "bm_json_loads", &[], "json"),
];

/// Refuses `--benchmark` names that pyperformance's part of the suite does
/// not have, before any build.
pub fn check_pyperformance_names(names: &[String]) -> anyhow::Result<()> {
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| !PYPERFORMANCE.iter().any(|b| b.name == n.as_str()))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        bail!(
            "unknown --benchmark {}; the pyperformance suite has: {}",
            unknown.join(", "),
            PYPERFORMANCE
                .iter()
                .map(|b| b.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// The benchmarks to run: those named, in the suite's order, or all.
fn selected(names: &[String]) -> Vec<&'static PyBench> {
    PYPERFORMANCE
        .iter()
        .filter(|b| names.is_empty() || names.iter().any(|n| n == b.name))
        .collect()
}

/// The loops of a value are at most this many (pyperf's own limit is 2^32).
const MAX_LOOPS: u64 = 1 << 24;

/// One pyperf worker's result: seconds per (inner) loop of each value, and
/// the inner loops of the benchmark.
#[derive(Debug)]
struct WorkerResult {
    values: Vec<f64>,
    inner_loops: u64,
}

/// Parses the JSON file a pyperf worker wrote with `-o`, checking that it
/// holds one benchmark called `name`.
fn parse_worker(text: &str, name: &str) -> anyhow::Result<WorkerResult> {
    let v: Value = serde_json::from_str(text).context("pyperf wrote no JSON")?;
    let benchmarks = v["benchmarks"]
        .as_array()
        .context("pyperf JSON without `benchmarks`")?;
    if benchmarks.len() != 1 {
        bail!(
            "pyperf JSON holds {} benchmarks, expected only {name}",
            benchmarks.len()
        );
    }
    let bench = &benchmarks[0];
    // Metadata common to all benchmarks of a file sits at the top.
    let meta = |key: &str| {
        let own = &bench["metadata"][key];
        if own.is_null() {
            v["metadata"][key].clone()
        } else {
            own.clone()
        }
    };
    let got = meta("name");
    if got.as_str() != Some(name) {
        bail!("pyperf measured {got}, expected {name}");
    }
    let values: Vec<f64> = bench["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|run| run["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|x| x.as_f64())
        .collect();
    if values.is_empty() || values.iter().any(|x| !x.is_finite() || *x <= 0.0) {
        bail!("pyperf JSON for {name} has no usable values: {values:?}");
    }
    Ok(WorkerResult {
        values,
        inner_loops: meta("inner_loops").as_u64().unwrap_or(1).max(1),
    })
}

/// Runs one benchmark as a pyperf worker on one interpreter.
fn pyperf_worker(
    interp: &Interp,
    pyperf: &Pyperf,
    bench: &PyBench,
    loops: u64,
    warmups: u32,
    values: u32,
    tmp: &Path,
) -> anyhow::Result<WorkerResult> {
    let dir = pyperf.benchmarks.join(bench.dir);
    let output = tmp.join(format!("{}-{}.json", interp.label, bench.name));
    let _ = std::fs::remove_file(&output);
    let mut cmd = python_command(&interp.python);
    cmd.env("PYTHONPATH", &pyperf.pythonpath)
        .arg(dir.join("run_benchmark.py"))
        .args(["--worker", "--worker-task", "0", "--quiet"])
        .arg("--loops")
        .arg(loops.to_string())
        .arg("--warmups")
        .arg(warmups.to_string())
        .arg("--values")
        .arg(values.to_string())
        .arg("--output")
        .arg(&output)
        .args(bench.args)
        .current_dir(&dir);
    stdout_of(cmd, &format!("{} on {}", bench.name, interp.build.id()))?;
    let text = std::fs::read_to_string(&output)
        .with_context(|| format!("{} wrote no {}", bench.name, output.display()))?;
    let _ = std::fs::remove_file(&output);
    parse_worker(&text, bench.name)
}

/// The smallest power of two of loops that makes a value last `min_time`,
/// given the seconds one outer loop took.
fn calibrated_loops(one_loop: f64, min_time: f64) -> u64 {
    let mut loops = 1;
    while (loops as f64) * one_loop < min_time && loops < MAX_LOOPS {
        loops *= 2;
    }
    loops
}

/// Seconds per benchmark per run per interpreter: `secs[interp][bench][run]`.
struct Samples {
    names: Vec<String>,
    areas: Vec<String>,
    secs: Vec<Vec<Vec<f64>>>,
}

pub fn pyperformance(
    interps: &[Interp],
    pyperf: &Pyperf,
    only: &[String],
    sizes: Sizes,
    out: &Path,
    clock: &Clock,
) -> anyhow::Result<Value> {
    check_pyperformance_names(only)?;
    let benches = selected(only);
    let tmp = out.join("pyperf-tmp");
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;

    // Loops per value, calibrated on plain.
    let mut loops = Vec::new();
    if sizes.pyperf_min_time > 0.0 {
        clock.say(format_args!(
            "bench: calibrating the loops of {} pyperformance benchmarks on plain",
            benches.len()
        ));
    }
    for bench in &benches {
        if sizes.pyperf_min_time > 0.0 {
            let r = pyperf_worker(&interps[0], pyperf, bench, 1, 1, 1, &tmp)?;
            let one_loop = median(&r.values) * r.inner_loops as f64;
            loops.push(calibrated_loops(one_loop, sizes.pyperf_min_time));
        } else {
            loops.push(1);
        }
    }

    let n = interps.len();
    let mut secs = vec![vec![Vec::new(); benches.len()]; n];
    clock.say(format_args!(
        "bench: wall time: {} interleaved runs of {} pyperformance benchmarks \
         ({} warm-up + {} values per worker)",
        sizes.wall_runs,
        benches.len(),
        sizes.pyperf_warmups,
        sizes.pyperf_values
    ));
    for run in 0..sizes.wall_runs {
        for (b, bench) in benches.iter().enumerate() {
            // Rotate who goes first, so no interpreter always follows another.
            for k in 0..n {
                let i = (run + b + k) % n;
                let r = pyperf_worker(
                    &interps[i],
                    pyperf,
                    bench,
                    loops[b],
                    sizes.pyperf_warmups,
                    sizes.pyperf_values,
                    &tmp,
                )?;
                secs[i][b].push(median(&r.values));
            }
        }
        clock.say(format_args!(
            "bench: wall run {}/{}",
            run + 1,
            sizes.wall_runs
        ));
    }
    let _ = std::fs::remove_dir(&tmp);

    let samples = Samples {
        names: benches.iter().map(|b| b.name.to_string()).collect(),
        areas: benches.iter().map(|b| b.area.to_string()).collect(),
        secs,
    };
    let mut v = summarize(&labels(interps), &samples);
    v["suite"] = json!("pyperformance");
    v["versions"] = pyperf.versions.clone();
    v["runs"] = json!(sizes.wall_runs);
    v["warmups"] = json!(sizes.pyperf_warmups);
    v["values"] = json!(sizes.pyperf_values);
    v["min_time"] = json!(sizes.pyperf_min_time);
    if !only.is_empty() {
        v["only"] = json!(only);
    }
    if let Some(list) = v["benchmarks"].as_array_mut() {
        for (entry, (bench, loops)) in list.iter_mut().zip(benches.iter().zip(&loops)) {
            entry["loops"] = json!(loops);
            entry["script"] = json!(format!(
                "{}/run_benchmark.py{}",
                bench.dir,
                bench
                    .args
                    .iter()
                    .map(|a| format!(" {a}"))
                    .collect::<String>()
            ));
        }
    }
    Ok(v)
}

/// Parses suite.py's line: `[["name", seconds], …]`.
fn parse_suite(line: &str) -> anyhow::Result<Vec<(String, f64)>> {
    let v: Value = serde_json::from_str(line)
        .with_context(|| format!("suite.py printed no JSON list: {line:?}"))?;
    let pairs = v
        .as_array()
        .with_context(|| format!("suite.py printed no JSON list: {line:?}"))?;
    pairs
        .iter()
        .map(|p| match (p[0].as_str(), p[1].as_f64()) {
            (Some(name), Some(secs)) if secs.is_finite() && secs > 0.0 => {
                Ok((name.to_string(), secs))
            }
            _ => bail!("suite.py printed a bad entry {p} in {line:?}"),
        })
        .collect()
}

pub fn own_suite(
    interps: &[Interp],
    scripts: &Scripts,
    only: &[String],
    sizes: Sizes,
    clock: &Clock,
) -> anyhow::Result<Value> {
    let suite = scripts.get("suite");
    let n = interps.len();
    let mut names: Vec<String> = Vec::new();
    let mut secs: Vec<Vec<Vec<f64>>> = vec![Vec::new(); n];
    clock.say(format_args!(
        "bench: wall time: {} interleaved runs of {} ({} repetitions each)",
        sizes.wall_runs,
        scripts.shown("suite"),
        sizes.own_inner
    ));
    for run in 0..sizes.wall_runs {
        for k in 0..n {
            let i = (run + k) % n;
            let mut cmd = python_command(&interps[i].python);
            cmd.arg("-B")
                .arg(&suite)
                .arg(sizes.own_inner.to_string())
                .args(only)
                .current_dir(scripts.dir());
            let text = stdout_of(cmd, &format!("suite.py on {}", interps[i].build.id()))?;
            let pairs = parse_suite(text.lines().last().unwrap_or_default())?;
            let these: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
            if names.is_empty() {
                names = these;
                for s in secs.iter_mut() {
                    *s = vec![Vec::new(); names.len()];
                }
            } else if these != names {
                bail!("suite.py ran {these:?} on one interpreter and {names:?} on another");
            }
            for (b, (_, t)) in pairs.into_iter().enumerate() {
                secs[i][b].push(t);
            }
        }
        clock.say(format_args!(
            "bench: wall run {}/{}",
            run + 1,
            sizes.wall_runs
        ));
    }
    let samples = Samples {
        areas: vec![String::new(); names.len()],
        names,
        secs,
    };
    let mut v = summarize(&labels(interps), &samples);
    v["suite"] = json!("own");
    v["script"] = json!(scripts.shown("suite"));
    v["runs"] = json!(sizes.wall_runs);
    v["inner"] = json!(sizes.own_inner);
    if !only.is_empty() {
        v["only"] = json!(only);
    }
    Ok(v)
}

/// The ratios reported: a key and the (numerator, denominator) pairs of
/// interpreters it averages (geometric mean, run by run). The interpreters
/// are plain, stock, patched, then the padded (plain, patched) pairs of
/// `--layouts`: each padded patched/padded plain is reported under the
/// padded patched's label, and `patched_layouts` is patched/plain averaged
/// over every layout, the unpadded one included.
fn comparisons(labels: &[&'static str]) -> Vec<(&'static str, Vec<(usize, usize)>)> {
    let mut list = vec![
        ("stock", vec![(1, 0)]),
        ("patched", vec![(2, 0)]),
        ("patched_stock", vec![(2, 1)]),
    ];
    let padded: Vec<(usize, usize)> = (3..labels.len().saturating_sub(1))
        .step_by(2)
        .map(|plain| (plain + 1, plain))
        .collect();
    if !padded.is_empty() {
        for &(patched, plain) in &padded {
            list.push((labels[patched], vec![(patched, plain)]));
        }
        let mut all = vec![(2, 0)];
        all.extend(padded);
        list.push(("patched_layouts", all));
    }
    list
}

/// Per benchmark: each interpreter's median seconds, and the spread of the
/// per-run ratios of each comparison; the geometric means of the median
/// ratios, and the spread of the per-run geometric means.
fn summarize(labels: &[&'static str], s: &Samples) -> Value {
    let runs = s.secs[0].first().map_or(0, Vec::len);
    let comparisons = comparisons(labels);
    let mut benchmarks = Vec::new();
    // log_ratios[comparison][bench][run]
    let mut log_ratios = vec![vec![Vec::new(); s.names.len()]; comparisons.len()];
    let mut log_medians = vec![0.0; comparisons.len()];
    for (b, name) in s.names.iter().enumerate() {
        let mut median_s = serde_json::Map::new();
        for (i, label) in labels.iter().enumerate() {
            median_s.insert(label.to_string(), json!(median(&s.secs[i][b])));
        }
        let mut ratio = serde_json::Map::new();
        for (c, (key, pairs)) in comparisons.iter().enumerate() {
            let per_run: Vec<f64> = (0..runs)
                .map(|run| {
                    let logs: f64 = pairs
                        .iter()
                        .map(|&(num, den)| (s.secs[num][b][run] / s.secs[den][b][run]).ln())
                        .sum();
                    (logs / pairs.len() as f64).exp()
                })
                .collect();
            log_ratios[c][b] = per_run.iter().map(|r| r.ln()).collect();
            log_medians[c] += median(&per_run).ln();
            ratio.insert(key.to_string(), spread(&per_run));
        }
        benchmarks.push(json!({
            "name": name,
            "area": s.areas[b],
            "median_s": median_s,
            "ratio": ratio,
        }));
    }
    let nb = s.names.len().max(1) as f64;
    let mut geomean = serde_json::Map::new();
    let mut geomean_runs = serde_json::Map::new();
    for (c, (key, _)) in comparisons.iter().enumerate() {
        geomean.insert(key.to_string(), json!((log_medians[c] / nb).exp()));
        let per_run: Vec<f64> = (0..runs)
            .map(|run| {
                let sum: f64 = log_ratios[c].iter().map(|l| l[run]).sum();
                (sum / nb).exp()
            })
            .collect();
        geomean_runs.insert(key.to_string(), spread(&per_run));
    }
    json!({
        "benchmarks": benchmarks,
        "geomean": geomean,
        "geomean_per_run": geomean_runs,
    })
}

fn labels(interps: &[Interp]) -> Vec<&'static str> {
    interps.iter().map(|i| i.label).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_file_is_parsed() {
        // The shape pyperf 2.10 writes for one benchmark with --worker -o.
        let text = r#"{"benchmarks": [{"runs": [{"metadata": {"date": "x"},
            "warmups": [[1, 0.5]], "values": [0.25, 0.75, 0.5]}]}],
            "metadata": {"name": "json_loads", "inner_loops": 20, "loops": 1},
            "version": "1.0"}"#;
        let r = parse_worker(text, "json_loads").expect("parses");
        assert_eq!(r.values, [0.25, 0.75, 0.5]);
        assert_eq!(r.inner_loops, 20);
        let err = parse_worker(text, "richards").expect_err("another name");
        assert!(format!("{err:#}").contains("expected richards"), "{err:#}");
        let empty = text.replace("[0.25, 0.75, 0.5]", "[]");
        assert!(parse_worker(&empty, "json_loads").is_err());
        let two = r#"{"benchmarks": [{"runs": []}, {"runs": []}], "metadata": {}}"#;
        assert!(parse_worker(two, "x").is_err());
    }

    #[test]
    fn loops_double_until_a_value_is_long_enough() {
        assert_eq!(calibrated_loops(0.3, 0.1), 1);
        assert_eq!(calibrated_loops(0.03, 0.1), 4);
        assert_eq!(calibrated_loops(0.0, 0.1), MAX_LOOPS);
    }

    #[test]
    fn suite_output_keeps_its_order() {
        let pairs = parse_suite(r#"[["zeta", 0.5], ["alpha", 0.25]]"#).expect("parses");
        assert_eq!(
            pairs,
            [("zeta".to_string(), 0.5), ("alpha".to_string(), 0.25)]
        );
        assert!(parse_suite(r#"{"calls": 1.0}"#).is_err());
        assert!(parse_suite(r#"[["calls", 0.0]]"#).is_err());
    }

    #[test]
    fn ratios_are_medians_of_per_run_ratios() {
        // Two benchmarks, three runs; secs[interp][bench][run].
        let s = Samples {
            names: vec!["a".into(), "b".into()],
            areas: vec![String::new(); 2],
            secs: vec![
                vec![vec![1.0, 2.0, 4.0], vec![1.0, 1.0, 1.0]],
                vec![vec![1.0, 2.0, 4.0], vec![1.0, 1.0, 1.0]],
                vec![vec![1.1, 2.4, 4.0], vec![0.9, 0.9, 0.9]],
            ],
        };
        let v = summarize(&["plain", "stock", "patched"], &s);
        let a = &v["benchmarks"][0];
        assert_eq!(a["median_s"]["plain"], 2.0);
        let close = |x: &Value, want: f64| (x.as_f64().unwrap_or(f64::NAN) - want).abs() < 1e-12;
        // Per-run patched/plain of a: 1.1, 1.2, 1.0.
        assert!(close(&a["ratio"]["patched"]["median"], 1.1), "{a}");
        assert!(close(&a["ratio"]["patched"]["min"], 1.0), "{a}");
        assert!(close(&a["ratio"]["patched"]["max"], 1.2), "{a}");
        assert!(close(&a["ratio"]["patched"]["q1"], 1.05), "{a}");
        assert!(close(&a["ratio"]["stock"]["median"], 1.0), "{a}");
        assert!(close(&a["ratio"]["patched_stock"]["median"], 1.1), "{a}");
        // Geometric mean of the medians 1.1 and 0.9.
        assert!(
            close(&v["geomean"]["patched"], (1.1f64 * 0.9).sqrt()),
            "{v}"
        );
        // Per-run geometric means: sqrt(1.1*.9), sqrt(1.2*.9), sqrt(1.0*.9).
        assert!(
            close(
                &v["geomean_per_run"]["patched"]["max"],
                (1.2f64 * 0.9).sqrt()
            ),
            "{v}"
        );
    }

    #[test]
    fn patched_over_layouts_averages_each_layouts_ratio_run_by_run() {
        // One benchmark, two runs; plain, stock, patched, plain+pad, patched+pad.
        let s = Samples {
            names: vec!["a".into()],
            areas: vec![String::new()],
            secs: vec![
                vec![vec![1.0, 1.0]],
                vec![vec![1.0, 1.0]],
                vec![vec![1.2, 1.21]],
                vec![vec![2.0, 2.0]],
                vec![vec![1.5, 1.6]],
            ],
        };
        let labels = ["plain", "stock", "patched", "plain+40", "patched+40"];
        let v = summarize(&labels, &s);
        let a = &v["benchmarks"][0]["ratio"];
        let close = |x: &Value, want: f64| (x.as_f64().unwrap_or(f64::NAN) - want).abs() < 1e-12;
        // Unpadded patched/plain alone: 1.2, 1.21; padded: 0.75, 0.8.
        assert!(close(&a["patched"]["min"], 1.2), "{a}");
        assert!(close(&a["patched+40"]["max"], 0.8), "{a}");
        // Run 1: sqrt(1.2 × 0.75); run 2: sqrt(1.21 × 0.8).
        assert!(
            close(&a["patched_layouts"]["min"], (1.2f64 * 0.75).sqrt()),
            "{a}"
        );
        assert!(
            close(&a["patched_layouts"]["max"], (1.21f64 * 0.8).sqrt()),
            "{a}"
        );
        assert!(
            close(
                &v["geomean"]["patched_layouts"],
                a["patched_layouts"]["median"].as_f64().unwrap()
            ),
            "{v}"
        );
        // Without padded builds there is no such comparison.
        let three = Samples {
            secs: s.secs[..3].to_vec(),
            ..s
        };
        let v = summarize(&labels[..3], &three);
        assert!(v["benchmarks"][0]["ratio"]["patched_layouts"].is_null());
        assert!(v["benchmarks"][0]["ratio"]["patched+40"].is_null());
    }

    #[test]
    fn benchmarks_are_chosen_by_name_in_the_suites_order() {
        let all = selected(&[]);
        assert_eq!(all.len(), PYPERFORMANCE.len());
        let two = selected(&["nbody".to_string(), "richards".to_string()]);
        let names: Vec<&str> = two.iter().map(|b| b.name).collect();
        assert_eq!(names, ["richards", "nbody"]);
        assert!(check_pyperformance_names(&["nbody".to_string()]).is_ok());
        let err = check_pyperformance_names(&["nbody".to_string(), "nbdy".to_string()])
            .expect_err("an unknown name");
        let msg = err.to_string();
        assert!(msg.starts_with("unknown --benchmark nbdy;"), "{msg}");
        assert!(
            msg.contains("unpack_sequence") && !msg.contains('\n'),
            "{msg}"
        );
    }

    #[test]
    fn the_benchmarks_cover_every_area() {
        assert!(PYPERFORMANCE.len() >= 10);
        let areas: String = PYPERFORMANCE
            .iter()
            .map(|b| b.area)
            .collect::<Vec<_>>()
            .join(",");
        for area in [
            "calls",
            "generators",
            "object churn",
            "GC",
            "float",
            "regex",
            "json",
        ] {
            assert!(areas.contains(area), "no benchmark covers {area}");
        }
        let mut names: Vec<&str> = PYPERFORMANCE.iter().map(|b| b.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            PYPERFORMANCE.len(),
            "a benchmark is listed twice"
        );
    }
}
