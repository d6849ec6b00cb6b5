//! `cargo xtask bench --quick`: the output is well-formed (JSON with the
//! expected keys, positive finite ratios, Markdown with its tables). No
//! timing assertions: the quick run does too little work for that.
//!
//! Needs valgrind, bpftrace and root, and builds the plain, stock and
//! patched interpreters if they are missing. Without the tools the test is
//! skipped locally but fails in CI (`CI` set), where they must be present.

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
    assert_eq!(r["schema"], 1);
    assert_eq!(r["quick"], true);
    assert_eq!(r["python"], VERSION);
    for key in ["cpu", "cores", "kernel", "valgrind", "bpftrace"] {
        assert!(!r["machine"][key].is_null(), "machine.{key} missing");
    }
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

    let workloads = r["instructions"]["workloads"]
        .as_array()
        .expect("workloads");
    let names: Vec<&str> = workloads
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert_eq!(names, ["calls", "alloc", "leaf_calls"]);
    for w in workloads {
        for label in ["stock", "patched"] {
            ratio(
                &w["ratio"][label],
                &format!("instructions {} {label}", w["name"]),
            );
        }
    }

    let benchmarks = r["wall"]["benchmarks"].as_array().expect("wall benchmarks");
    assert!(
        benchmarks.len() >= 10,
        "{} wall benchmarks",
        benchmarks.len()
    );
    for b in benchmarks {
        for label in ["stock", "patched"] {
            for k in ["median", "min", "max"] {
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
    for label in ["stock", "patched"] {
        ratio(&r["wall"]["geomean"][label], "wall geomean");
    }

    let methods = r["enabled"]["methods"].as_array().expect("enabled methods");
    let modes: Vec<&str> = methods.iter().filter_map(|m| m["mode"].as_str()).collect();
    assert_eq!(modes, ["bpftrace", "setprofile", "monitoring"]);
    let calls = r["enabled"]["calls"].as_u64().expect("enabled calls");
    for m in methods {
        assert!(m["counted"].as_u64().unwrap_or(0) >= calls, "{m}");
        assert!(
            m["ns_per_event"].as_f64().is_some_and(f64::is_finite),
            "{m}"
        );
        ratio(&m["slowdown"], "enabled slowdown");
    }

    let md = std::fs::read_to_string(out.join("BENCHMARKS.md")).expect("BENCHMARKS.md");
    assert_eq!(md, stdout, "the Markdown printed is the one written");
    for heading in [
        "## Instructions (callgrind, start-up subtracted)",
        "## Wall time, probes disabled",
        "## Enabled cost",
    ] {
        assert!(md.contains(heading), "no {heading:?} in:\n{md}");
    }
    for header in [
        "| workload | plain | stock | patched | stock/plain | patched/plain |",
        "| benchmark | plain (ms) | stock/plain | patched/plain |",
        "| method | time (ms) |",
        "| **geometric mean** |",
    ] {
        assert!(md.contains(header), "no table row {header:?} in:\n{md}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
