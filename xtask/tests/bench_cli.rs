//! `cargo xtask bench --quick`: the output is well-formed (JSON with the
//! expected keys, positive finite ratios, Markdown with its tables). No
//! timing assertions: the quick run does too little work for that.
//!
//! Needs valgrind, bpftrace and root, builds the plain, stock and patched
//! interpreters if they are missing, and fetches pyperf and pyperformance
//! from PyPI (tests/bench/pypi.lock) unless target/bench/pypi has them.
//! Without the tools the test is skipped locally but fails in CI (`CI`
//! set), where they must be present.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The release the other CPython tests build, so the builds are shared.
const VERSION: &str = "3.13.15";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What is missing for the benchmarks, if anything.
fn missing() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !runs("valgrind") {
        missing.push("valgrind");
    }
    if !runs("bpftrace") {
        missing.push("bpftrace");
    }
    if !is_root() {
        missing.push("root");
    }
    missing
}

fn out_dir() -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn ratio(v: &Value, what: &str) -> f64 {
    let r = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"));
    assert!(
        r.is_finite() && r > 0.0,
        "{what}: not a positive finite ratio: {r}"
    );
    r
}

#[test]
fn quick_bench_writes_well_formed_json_and_markdown() {
    let missing = missing();
    if !missing.is_empty() {
        let msg = format!("bench needs {}", missing.join(", "));
        if std::env::var_os("CI").is_some() {
            panic!("{msg}; CI must provide them");
        }
        eprintln!("skipped: {msg}");
        return;
    }
    let out = out_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "--quick", "--python", VERSION, "--out"])
        .arg(&out)
        .output()
        .expect("run xtask bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "bench --quick failed ({}):\n{stderr}",
        output.status
    );

    let json_text = std::fs::read_to_string(out.join("bench.json")).expect("bench.json");
    let r: Value = serde_json::from_str(&json_text).expect("bench.json parses");
    assert_eq!(r["schema"], 2);
    assert_eq!(r["quick"], true);
    assert_eq!(r["python"], VERSION);
    assert_eq!(r["variant"], "static");
    for key in ["cpu", "cores", "kernel", "valgrind", "bpftrace"] {
        assert!(!r["machine"][key].is_null(), "machine.{key} missing");
    }
    assert_eq!(r["load_average"].as_array().map(Vec::len), Some(3));
    for label in ["plain", "stock", "patched"] {
        let i = &r["interpreters"][label];
        assert!(i["id"].is_string(), "interpreters.{label}.id");
        assert!(
            i["info"]["version"].is_string(),
            "interpreters.{label} version"
        );
        assert!(
            r["instructions"]["startup"][label].as_u64().unwrap_or(0) > 0,
            "start-up instructions of {label}"
        );
    }

    // Instructions: every workload, its ratios, the per-event figures and
    // the per-function differences (each naming a function).
    let workloads = r["instructions"]["workloads"]
        .as_array()
        .expect("workloads");
    let names: Vec<&str> = workloads
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(names, ["calls", "alloc", "leaf_calls", "instances"]);
    for w in workloads {
        for label in ["stock", "patched"] {
            ratio(
                &w["ratio"][label],
                &format!("instructions {} {label}", w["name"]),
            );
        }
        for f in w["functions"].as_array().expect("functions") {
            assert!(f["function"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
            assert!(f["plain"].is_i64() && f["patched"].is_i64(), "{f}");
        }
    }
    for w in &workloads[2..] {
        assert!(w["events"].as_u64().unwrap_or(0) > 0, "{w}");
        assert!(
            w["extra_per_event"]["patched"]
                .as_f64()
                .is_some_and(f64::is_finite),
            "{w}"
        );
    }

    // Wall time: pyperformance on 3.13, at least 10 benchmarks, each with
    // positive ratios and spreads; the geometric means.
    let wall = &r["wall"];
    assert_eq!(wall["suite"], "pyperformance");
    assert!(wall["versions"]["pyperf"].is_string());
    let benchmarks = wall["benchmarks"].as_array().expect("wall benchmarks");
    assert!(
        benchmarks.len() >= 10,
        "{} wall benchmarks",
        benchmarks.len()
    );
    for b in benchmarks {
        for label in ["stock", "patched", "patched_stock"] {
            for k in ["median", "q1", "q3", "min", "max"] {
                ratio(
                    &b["ratio"][label][k],
                    &format!("wall {} {label} {k}", b["name"]),
                );
            }
        }
        for label in ["plain", "stock", "patched"] {
            ratio(
                &b["median_s"][label],
                &format!("wall {} seconds", b["name"]),
            );
        }
    }
    for label in ["stock", "patched", "patched_stock"] {
        ratio(&wall["geomean"][label], "wall geomean");
        ratio(&wall["geomean_per_run"][label]["median"], "per-run geomean");
    }

    // Enabled cost: both probes, every method available on 3.13.
    let kinds = r["enabled"]["kinds"].as_array().expect("enabled kinds");
    let probes: Vec<&str> = kinds.iter().filter_map(|k| k["probe"].as_str()).collect();
    assert_eq!(probes, ["function__entry", "instance__new__done"]);
    for k in kinds {
        let n = k["n"].as_u64().expect("enabled n");
        let methods = k["methods"].as_array().expect("enabled methods");
        let modes: Vec<&str> = methods.iter().filter_map(|m| m["mode"].as_str()).collect();
        assert_eq!(modes, ["bpftrace", "setprofile", "monitoring"]);
        for m in methods {
            assert_eq!(m["available"], true, "{m}");
            assert!(m["counted"].as_u64().unwrap_or(0) >= n, "{m}");
            assert!(
                m["ns_per_event"].as_f64().is_some_and(f64::is_finite),
                "{m}"
            );
            ratio(&m["slowdown"], "enabled slowdown");
        }
    }

    let targets = r["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 3);
    for t in targets {
        assert!(t["met"].is_boolean(), "{t}");
    }

    let md = std::fs::read_to_string(out.join("BENCHMARKS.md")).expect("BENCHMARKS.md");
    assert_eq!(md, stdout, "the Markdown printed is the one written");
    for heading in [
        "## Targets (patched against plain)",
        "## Instructions (callgrind, start-up subtracted)",
        "### Where the instructions differ",
        "## Wall time, probes disabled",
        "## Enabled cost",
        "### function__entry",
        "### instance__new__done",
    ] {
        assert!(md.contains(heading), "no {heading:?} in:\n{md}");
    }
    for header in [
        "| workload | plain | stock | patched | stock/plain | patched/plain |",
        "| benchmark | plain | stock/plain [Q1, Q3] | patched/plain [Q1, Q3] |",
        "| method | time (ms) |",
        "| **geometric mean** |",
    ] {
        assert!(md.contains(header), "no table row {header:?} in:\n{md}");
    }
    // Every table row has as many cells as its header.
    let mut columns = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let cells = line.matches('|').count();
        match columns {
            None => columns = Some(cells),
            Some(c) => assert_eq!(cells, c, "a row with another column count: {line}"),
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn an_unknown_benchmark_name_is_refused_before_any_build() {
    let out = out_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "bench",
            "--only",
            "wall",
            "--python",
            VERSION,
            "--benchmark",
            "nbody,no_such_benchmark",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run xtask bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "accepted an unknown name:\n{stderr}"
    );
    assert!(
        stderr.contains("unknown --benchmark no_such_benchmark; the pyperformance suite has:"),
        "{stderr}"
    );
    assert!(!stderr.contains("build"), "started a build:\n{stderr}");
    assert!(!out.exists(), "wrote {}", out.display());
}
