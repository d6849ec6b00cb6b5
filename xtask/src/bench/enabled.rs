//! Enabled cost: the time per probe firing while bpftrace counts them, next
//! to the in-process means of counting the same events.
//!
//! `tests/bench/enabled.py KIND MODE N` times N events in-process:
//! - `calls`: N calls of a one-line function; bpftrace counts
//!   `function__entry`, `sys.setprofile` and `sys.monitoring` (PY_START on
//!   that function's code) count its calls;
//! - `instances`: N instances of a small Python class created and freed;
//!   bpftrace counts `instance__new__done`, the in-process means count the
//!   calls of the class's `__init__` (Python has no allocation hook).
//!
//! Per event = (traced − untraced) / N, medians of the runs. bpftrace
//! attaches by pid before the workload starts ([`crate::attach`]), which
//! works for shared builds too.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use super::{median, python_command, stdout_of, Interp, Scripts, Sizes};
use crate::logged::Clock;

struct Kind {
    kind: &'static str,
    probe: &'static str,
    event: &'static str,
}

const KINDS: [Kind; 2] = [
    Kind {
        kind: "calls",
        probe: "function__entry",
        event: "call of a one-line function",
    },
    Kind {
        kind: "instances",
        probe: "instance__new__done",
        event: "instance of a Python class created (and freed)",
    },
];

/// `(seconds, counted)` from enabled.py's JSON.
fn parse_result(text: &str) -> anyhow::Result<(f64, u64)> {
    let v =
        super::last_json(text).with_context(|| format!("enabled.py printed no JSON: {text:?}"))?;
    let secs = v["seconds"]
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .with_context(|| format!("enabled.py printed no seconds: {text:?}"))?;
    Ok((secs, v["counted"].as_u64().unwrap_or(0)))
}

/// One in-process run of enabled.py.
fn in_process(
    interp: &Interp,
    script: &Path,
    kind: &str,
    mode: &str,
    n: u64,
) -> anyhow::Result<(f64, u64)> {
    let mut cmd = python_command(&interp.python);
    cmd.arg("-B")
        .arg(script)
        .args([kind, mode])
        .arg(n.to_string());
    parse_result(&stdout_of(cmd, &format!("enabled.py {kind} {mode}"))?)
}

/// `@: 123` → 123: bpftrace's count map printed at exit.
fn parse_count(printed: &str) -> Option<u64> {
    printed
        .lines()
        .find_map(|l| l.strip_prefix("@: "))
        .and_then(|n| n.trim().parse().ok())
}

/// enabled.py with bpftrace attached counting `probe`: (seconds, firings).
fn under_bpftrace(
    interp: &Interp,
    script: &Path,
    kind: &Kind,
    n: u64,
    out: &Path,
) -> anyhow::Result<(f64, u64)> {
    let target = interp.build.probe_target_in(&interp.build.install_dir());
    let program = format!(
        "BEGIN {{ printf(\"ready\\n\"); }}\n\
         usdt:{}:python:{} {{ @ = count(); }}\n",
        target.display(),
        kind.probe
    );
    let result = out.join(format!("enabled-{}.json", kind.kind));
    let _ = std::fs::remove_file(&result);
    let args: Vec<OsString> = vec![
        kind.kind.into(),
        "none".into(),
        n.to_string().into(),
        result.clone().into_os_string(),
    ];
    let cwd = script.parent().unwrap_or(Path::new("."));
    let env = [("PYTHONHASHSEED".into(), "0".into())];
    let workload = crate::attach::Workload {
        main: crate::attach::Main::Script(script),
        args: &args,
        cwd,
        env: &env,
        show_output: false,
    };
    let printed = crate::attach::trace(
        &interp.build,
        &["-e".into(), program.into()],
        &workload,
        false,
    )
    .with_context(|| format!("bpftrace counting {} on {}", kind.probe, interp.build.id()))?;
    let text = std::fs::read_to_string(&result)
        .with_context(|| format!("enabled.py under bpftrace wrote no {}", result.display()))?;
    let _ = std::fs::remove_file(&result);
    let (secs, _) = parse_result(&text)?;
    let firings = parse_count(&printed)
        .with_context(|| format!("bpftrace printed no `@: N` count: {printed:?}"))?;
    Ok((secs, firings))
}

pub fn measure(
    interp: &Interp,
    scripts: &Scripts,
    sizes: Sizes,
    out: &Path,
    clock: &Clock,
) -> anyhow::Result<Value> {
    let script = scripts.get("enabled");
    let monitoring = interp.build.minor() >= (3, 12);
    let mut kinds = Vec::new();
    for kind in &KINDS {
        let n = match kind.kind {
            "calls" => sizes.enabled_calls,
            _ => sizes.enabled_instances,
        };
        clock.say(format_args!(
            "bench: enabled cost on {}: {n} {} counted by bpftrace ({}), sys.setprofile{}",
            interp.build.id(),
            kind.kind,
            kind.probe,
            if monitoring { ", sys.monitoring" } else { "" }
        ));
        let mut modes = vec!["none", "bpftrace", "setprofile"];
        if monitoring {
            modes.push("monitoring");
        }
        let mut secs: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        let mut counted = vec![0u64; modes.len()];
        for _ in 0..sizes.enabled_runs {
            for (m, mode) in modes.iter().enumerate() {
                let (s, c) = match *mode {
                    "bpftrace" => under_bpftrace(interp, &script, kind, n, out)?,
                    _ => in_process(interp, &script, kind.kind, mode, n)?,
                };
                secs[m].push(s);
                counted[m] = c;
            }
        }
        let base = median(&secs[0]);
        let mut methods = Vec::new();
        for (mode, name) in [
            ("bpftrace", format!("bpftrace usdt {}, count()", kind.probe)),
            (
                "setprofile",
                "sys.setprofile (counts the 'call' events of one function)".to_string(),
            ),
            (
                "monitoring",
                "sys.monitoring PY_START on one function's code".to_string(),
            ),
        ] {
            let Some(m) = modes.iter().position(|x| *x == mode) else {
                methods.push(json!({
                    "mode": mode,
                    "name": name,
                    "available": false,
                    "why": "sys.monitoring is new in 3.12",
                }));
                continue;
            };
            if mode == "bpftrace" && counted[m] < n {
                bail!(
                    "bpftrace counted {} {} firings, fewer than the {n} {} made; \
                     are the probes working? (try `cargo xtask fire`)",
                    counted[m],
                    kind.probe,
                    kind.kind
                );
            }
            if mode != "bpftrace" && counted[m] != n {
                bail!("{name} counted {} events, expected {n}", counted[m]);
            }
            let traced = median(&secs[m]);
            methods.push(json!({
                "mode": mode,
                "name": name,
                "available": true,
                "seconds": traced,
                "counted": counted[m],
                "ns_per_event": (traced - base) / n as f64 * 1e9,
                "slowdown": traced / base,
            }));
        }
        kinds.push(json!({
            "kind": kind.kind,
            "probe": kind.probe,
            "event": kind.event,
            "n": n,
            "untraced_seconds": base,
            "methods": methods,
        }));
    }
    Ok(json!({
        "interpreter": interp.label,
        "id": interp.build.id(),
        "script": scripts.shown("enabled"),
        "runs": sizes.enabled_runs,
        "kinds": kinds,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_counts_are_parsed() {
        let line = r#"{"kind": "calls", "mode": "none", "n": 5, "seconds": 0.5, "counted": 0}"#;
        assert_eq!(parse_result(line).expect("parses"), (0.5, 0));
        assert!(parse_result("{\"seconds\": -1}").is_err());
        assert!(parse_result("nothing").is_err());
        assert_eq!(parse_count("ready\n\n@: 2005936\n"), Some(2005936));
        assert_eq!(parse_count("ready\n"), None);
    }
}
