//! The report: the targets judged, and the Markdown written beside the JSON.

use std::fmt::Write as _;

use serde_json::{json, Value};

/// The project's targets for the disabled probes, against plain.
const GEOMEAN_LIMIT: f64 = 1.005;
/// A benchmark is over when even its lower quartile of per-run ratios is
/// more than 2 % slower: the slowdown is beyond its own noise.
const BENCHMARK_LIMIT: f64 = 1.02;
const CALLS_INSTRUCTIONS_LIMIT: f64 = 1.005;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The targets, judged on the patched interpreter.
pub fn targets(r: &Value) -> Value {
    let calls = r["instructions"]["workloads"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["name"] == "calls")
        .map_or(f64::NAN, |w| f(&w["ratio"]["patched"]));
    // With --layouts, the wall-time targets are judged on patched/plain
    // averaged over the code layouts, not on one layout's luck.
    let (key, over_layouts) = if r["wall"]["geomean"]["patched_layouts"].is_null() {
        ("patched", String::new())
    } else {
        (
            "patched_layouts",
            format!(", over {} code layouts", r["layouts"]),
        )
    };
    let geomean = f(&r["wall"]["geomean"][key]);
    let over: Vec<Value> = r["wall"]["benchmarks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| f(&b["ratio"][key]["q1"]) > BENCHMARK_LIMIT)
        .map(|b| b["name"].clone())
        .collect();
    let part_of_suite = r["wall"]["only"].is_array();
    // null: not measured in this run.
    let met = |part: &str, ok: bool| {
        if r[part].is_null() {
            Value::Null
        } else {
            json!(ok)
        }
    };
    json!([
        {
            "what": "instructions, calls workload, patched/plain",
            "limit": CALLS_INSTRUCTIONS_LIMIT,
            "value": calls,
            "met": met("instructions", calls <= CALLS_INSTRUCTIONS_LIMIT),
        },
        {
            "what": format!("wall time, geometric mean, patched/plain{over_layouts}"),
            "limit": GEOMEAN_LIMIT,
            "value": geomean,
            // The mean of a few chosen benchmarks says nothing of the suite's.
            "met": if part_of_suite { Value::Null } else { met("wall", geomean <= GEOMEAN_LIMIT) },
        },
        {
            "what": format!("wall time, benchmarks whose lower quartile of patched/plain{over_layouts} exceeds the limit"),
            "limit": BENCHMARK_LIMIT,
            "value": over,
            "met": met("wall", over.is_empty()),
        },
    ])
}

/// `1.0123 (+1.2%)`.
fn ratio_cell(r: f64) -> String {
    format!("{r:.4} ({:+.1}%)", (r - 1.0) * 100.0)
}

/// `+1.2%`.
fn pct(r: f64) -> String {
    format!("{:+.1}%", (r - 1.0) * 100.0)
}

/// `+0.3% [−0.4, +1.1]`: the median per-run ratio with its quartiles.
fn spread_cell(sp: &Value) -> String {
    format!(
        "{} [{:+.1}, {:+.1}]",
        pct(f(&sp["median"])),
        (f(&sp["q1"]) - 1.0) * 100.0,
        (f(&sp["q3"]) - 1.0) * 100.0
    )
}

/// Seconds with three significant digits and a unit: `184 ms`, `52.3 ns`.
fn time_cell(secs: f64) -> String {
    if !secs.is_finite() || secs <= 0.0 {
        return format!("{secs}");
    }
    let (value, unit) = [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")]
        .into_iter()
        .map(|(scale, unit)| (secs / scale, unit))
        .find(|(v, _)| *v >= 1.0)
        .unwrap_or((secs / 1e-9, "ns"));
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

/// `123,456,789` (and `-1,234`).
fn thousands(n: i64) -> String {
    let digits: Vec<char> = n.unsigned_abs().to_string().chars().collect();
    let groups: Vec<String> = digits
        .rchunks(3)
        .rev()
        .map(|g| g.iter().collect())
        .collect();
    format!("{}{}", if n < 0 { "-" } else { "" }, groups.join(","))
}

fn ut(v: &Value) -> String {
    thousands(u(v) as i64)
}

pub fn markdown(r: &Value) -> String {
    let mut md = String::new();
    let m = &r["machine"];
    let quick = r["quick"].as_bool() == Some(true);
    let _ = writeln!(
        md,
        "# cpython-dtrace benchmarks: CPython {} ({})\n",
        s(&r["python"]),
        s(&r["variant"])
    );
    let loads = |v: &Value| {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|x| format!("{:.2}", f(x)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        md,
        "{}; {} cores ({}), {}, Linux {}; {}; {}. Load average (1, 5, 15 min) {} \
         at the start, {} at the end.{}\n",
        s(&r["date"]),
        m["cores"],
        s(&m["cpu"]),
        s(&m["os"]),
        s(&m["kernel"]),
        s(&m["valgrind"]),
        s(&m["bpftrace"]),
        loads(&r["load_average"]),
        loads(&r["load_average_after"]),
        if quick {
            " **--quick run: too little work for the numbers to mean much.**"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "Interpreters (ratios are against plain, the baseline):\n"
    );
    // The three first, then the padded builds of --layouts.
    let mut labels = vec!["plain", "stock", "patched"];
    if let Some(m) = r["interpreters"].as_object() {
        labels.extend(m.keys().map(String::as_str).filter(|k| k.contains('+')));
    }
    for label in labels {
        let i = &r["interpreters"][label];
        let _ = writeln!(
            md,
            "- {label}: `{}` ({})",
            s(&i["id"]),
            s(&i["info"]["version"]).replace('\n', " ")
        );
    }
    if let Some(moves) = r["layout_moves"].as_object().filter(|m| !m.is_empty()) {
        let mut moves: Vec<(&String, &Value)> = moves.iter().collect();
        moves.sort_by_key(|(label, _)| layout_order(label));
        let list: Vec<String> = moves
            .iter()
            .map(|(label, share)| format!("{label} {:.1} %", f(share) * 100.0))
            .collect();
        let _ = writeln!(
            md,
            "\nHot functions that sit exactly the padding later than unpadded \
             (the layouts are the shifts they claim): {}.",
            list.join(", ")
        );
    }
    for w in r["warnings"].as_array().into_iter().flatten() {
        let _ = writeln!(md, "\n**Warning**: {}", s(w));
    }

    targets_md(&mut md, r, quick);
    for (key, section) in [
        ("instructions", instructions_md as fn(&mut String, &Value)),
        ("wall", wall_md),
        ("enabled", enabled_md),
    ] {
        if r[key].is_null() {
            let _ = writeln!(md, "\n(Not measured in this run: {key}; see --only.)");
        } else {
            section(&mut md, &r[key]);
        }
    }
    md
}

fn targets_md(md: &mut String, r: &Value, quick: bool) {
    let _ = writeln!(
        md,
        "\n## Targets (patched against plain)\n\n\
         Instructions on the calls workload ≤ {CALLS_INSTRUCTIONS_LIMIT}; wall-time \
         geometric mean ≤ {GEOMEAN_LIMIT}; no benchmark whose lower quartile of per-run \
         ratios is above {BENCHMARK_LIMIT} (slower by more than 2 % beyond its noise).{}\n",
        if quick {
            " Wall-time targets are not judged on a --quick run."
        } else {
            ""
        }
    );
    let _ = writeln!(md, "| target | value | met |\n|---|---:|---|");
    for t in r["targets"].as_array().into_iter().flatten() {
        let value = match &t["value"] {
            _ if t["met"].is_null() => "–".to_string(),
            Value::Array(names) if names.is_empty() => "none".to_string(),
            Value::Array(names) => names.iter().map(s).collect::<Vec<_>>().join(", "),
            v => format!("{:.4}", f(v)),
        };
        let wall = s(&t["what"]).starts_with("wall");
        let met = if t["met"].is_null() && wall && r["wall"]["only"].is_array() {
            "not judged (`--benchmark`: part of the suite)"
        } else if t["met"].is_null() {
            "not measured"
        } else if quick && wall {
            "not judged (--quick)"
        } else if t["met"].as_bool() == Some(true) {
            "yes"
        } else {
            "**no**"
        };
        let _ = writeln!(md, "| {} | {value} | {met} |", s(&t["what"]));
    }
}

fn instructions_md(md: &mut String, ins: &Value) {
    let _ = writeln!(
        md,
        "\n## Instructions (callgrind, start-up subtracted)\n\n\
         Instructions executed by the workload, less those of its baseline (the \
         empty script: start-up and shutdown; or the same script doing no work), \
         scale {}. Deterministic: the reliable figure.\n",
        ins["scale"]
    );
    let _ = writeln!(
        md,
        "| workload | plain | stock | patched | stock/plain | patched/plain |\n\
         |---|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        md,
        "| start-up (empty.py, not subtracted) | {} | {} | {} | {} | {} |",
        ut(&ins["startup"]["plain"]),
        ut(&ins["startup"]["stock"]),
        ut(&ins["startup"]["patched"]),
        ratio_cell(f(&ins["startup_ratio"]["stock"])),
        ratio_cell(f(&ins["startup_ratio"]["patched"])),
    );
    let workloads: Vec<&Value> = ins["workloads"].as_array().into_iter().flatten().collect();
    for w in &workloads {
        let _ = writeln!(
            md,
            "| {} (`{}` − `{}`) | {} | {} | {} | {} | {} |",
            s(&w["name"]),
            s(&w["command"]),
            s(&w["baseline"]).trim_start_matches("tests/bench/"),
            ut(&w["workload"]["plain"]),
            ut(&w["workload"]["stock"]),
            ut(&w["workload"]["patched"]),
            ratio_cell(f(&w["ratio"]["stock"])),
            ratio_cell(f(&w["ratio"]["patched"])),
        );
    }
    let mut per_event = Vec::new();
    for w in &workloads {
        if let Some(n) = w["events"].as_u64() {
            per_event.push(format!(
                "{}: per {} ({} of them), stock executes {:+.2} and patched {:+.2} \
                 instructions compared with plain.",
                s(&w["name"]),
                s(&w["event"]),
                thousands(n as i64),
                f(&w["extra_per_event"]["stock"]),
                f(&w["extra_per_event"]["patched"]),
            ));
        }
    }
    if !per_event.is_empty() {
        let _ = writeln!(md, "\n{}", per_event.join("\n"));
    }
    let _ = writeln!(
        md,
        "\n### Where the instructions differ\n\n\
         Per function (`callgrind_annotate`, self instructions, workload − baseline), \
         the functions whose counts differ most between patched and plain. Profiles: \
         `{}/<interpreter>.<workload>.out`; `callgrind_annotate --auto=yes FILE` \
         shows the lines.",
        s(&ins["profiles"])
    );
    for w in &workloads {
        let rows: Vec<&Value> = w["functions"].as_array().into_iter().flatten().collect();
        let _ = writeln!(md, "\n{}:\n", s(&w["name"]));
        if rows.is_empty() {
            let _ = writeln!(md, "(no function differs)");
            continue;
        }
        let _ = writeln!(
            md,
            "| function | plain | stock − plain | patched − plain |\n|---|---:|---:|---:|"
        );
        for row in rows {
            let plain = row["plain"].as_i64().unwrap_or(0);
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} |",
                s(&row["function"]),
                thousands(plain),
                thousands(row["stock"].as_i64().unwrap_or(0) - plain),
                thousands(row["patched"].as_i64().unwrap_or(0) - plain),
            );
        }
    }
}

fn wall_md(md: &mut String, wall: &Value) {
    let how = if wall["suite"] == "pyperformance" {
        let min_time = f(&wall["min_time"]);
        let loops = if min_time > 0.0 {
            format!("loops calibrated once on plain so that a value takes ≥ {min_time} s")
        } else {
            "one loop a value, not calibrated".to_string()
        };
        format!(
            "pyperformance {} benchmarks run by pyperf {} (`--worker`: one process per \
             benchmark per interpreter, warm-ups: {}, values: {}, {loops}; a benchmark's \
             time in a run is the median of its values)",
            s(&wall["versions"]["pyperformance"]),
            s(&wall["versions"]["pyperf"]),
            wall["warmups"],
            wall["values"],
        )
    } else {
        format!(
            "`{}`: each benchmark timed in-process after one warm-up call, median of \
             {} repetition(s)",
            s(&wall["script"]),
            wall["inner"]
        )
    };
    let _ = writeln!(
        md,
        "\n## Wall time, probes disabled\n\n\
         {how}. Runs: {}, the interpreters taking turns (who goes first rotates). \
         Plain: its median time{}. Ratio: the median of the per-run ratios to \
         plain, with their quartiles [Q1, Q3] and extremes. Noisy on a shared \
         machine.\n",
        wall["runs"],
        if wall["suite"] == "pyperformance" {
            " (per loop, as pyperf reports it)"
        } else {
            ""
        }
    );
    if let Some(only) = wall["only"].as_array() {
        let names: Vec<String> = only.iter().map(s).collect();
        let _ = writeln!(
            md,
            "Only part of the suite was run (`--benchmark {}`).\n",
            names.join(",")
        );
    }
    let _ = writeln!(
        md,
        "| benchmark | plain | stock/plain [Q1, Q3] | patched/plain [Q1, Q3] | patched/plain min–max | patched/stock [Q1, Q3] |\n\
         |---|---:|---:|---:|---:|---:|"
    );
    for b in wall["benchmarks"].as_array().into_iter().flatten() {
        let p = &b["ratio"]["patched"];
        let area = s(&b["area"]);
        let _ = writeln!(
            md,
            "| {}{} | {} | {} | {} | {:.3}–{:.3} | {} |",
            s(&b["name"]),
            if area.is_empty() {
                String::new()
            } else {
                format!(" ({area})")
            },
            time_cell(f(&b["median_s"]["plain"])),
            spread_cell(&b["ratio"]["stock"]),
            spread_cell(p),
            f(&p["min"]),
            f(&p["max"]),
            spread_cell(&b["ratio"]["patched_stock"]),
        );
    }
    let g = &wall["geomean_per_run"]["patched"];
    let _ = writeln!(
        md,
        "| **geometric mean** | | {} | {} | {:.3}–{:.3} | {} |",
        ratio_cell(f(&wall["geomean"]["stock"])),
        ratio_cell(f(&wall["geomean"]["patched"])),
        f(&g["min"]),
        f(&g["max"]),
        ratio_cell(f(&wall["geomean"]["patched_stock"])),
    );
    let _ = writeln!(
        md,
        "\n(Geometric mean of the medians; its min–max is that of the per-run \
         geometric means.)"
    );
    layouts_md(md, wall);
}

/// `plain+16` sorts by its kind, then by its padding as a number (not as
/// text, which would put +112 before +16).
fn layout_order(label: &str) -> (&str, u32) {
    let (kind, bytes) = label.split_once('+').unwrap_or((label, "0"));
    (kind, bytes.parse().unwrap_or(0))
}

/// With `--layouts`: patched/plain in each code layout, and averaged.
fn layouts_md(md: &mut String, wall: &Value) {
    let Some(first) = wall["benchmarks"].as_array().and_then(|b| b.first()) else {
        return;
    };
    if first["ratio"]["patched_layouts"].is_null() {
        return;
    }
    let mut padded: Vec<String> = first["ratio"]
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| k.starts_with("patched+"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    padded.sort_by(|a, b| layout_order(a).cmp(&layout_order(b)));
    let _ = writeln!(
        md,
        "\n### Over {} code layouts\n\n\
         Plain and patched built again with 16, 32, … bytes of never-run code \
         (`build --pad-code BYTES`) ahead of all hot code, which moves every \
         hot function by that much, as any change to the code before it does. \
         Each column: patched/plain of the \
         same padding, median [Q1, Q3]; the average is the geometric mean of the \
         layouts' ratios, run by run. The targets are judged on it.\n",
        padded.len() + 1
    );
    let head: String = padded
        .iter()
        .map(|k| format!(" {}/plain+{} |", k, k.trim_start_matches("patched+")))
        .collect();
    let _ = writeln!(
        md,
        "| benchmark | patched/plain |{head} average [Q1, Q3] |\n|---|---:|{}---:|",
        "---:|".repeat(padded.len())
    );
    let cells = |ratio: &Value| -> String {
        padded
            .iter()
            .map(|k| format!(" {} |", spread_cell(&ratio[k.as_str()])))
            .collect()
    };
    for b in wall["benchmarks"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {} | {} |{} {} |",
            s(&b["name"]),
            spread_cell(&b["ratio"]["patched"]),
            cells(&b["ratio"]),
            spread_cell(&b["ratio"]["patched_layouts"]),
        );
    }
    let geo: String = padded
        .iter()
        .map(|k| format!(" {} |", ratio_cell(f(&wall["geomean"][k.as_str()]))))
        .collect();
    let _ = writeln!(
        md,
        "| **geometric mean** | {} |{geo} {} |",
        ratio_cell(f(&wall["geomean"]["patched"])),
        ratio_cell(f(&wall["geomean"]["patched_layouts"])),
    );
}

fn enabled_md(md: &mut String, en: &Value) {
    let _ = writeln!(
        md,
        "\n## Enabled cost: counting events ({})\n\n\
         `{}`: N events timed in-process; runs: {} (medians kept). Per event = \
         (traced − untraced) / N. bpftrace attaches by pid before the workload \
         starts; the in-process means count the calls of one function (for \
         instances: the class's `__init__`).",
        s(&en["id"]),
        s(&en["script"]),
        en["runs"]
    );
    for k in en["kinds"].as_array().into_iter().flatten() {
        let n = u(&k["n"]);
        let base = f(&k["untraced_seconds"]);
        let _ = writeln!(
            md,
            "\n### {}: {} × {}\n\n\
             | method | time (ms) | slowdown | events counted | per event (ns) |\n\
             |---|---:|---:|---:|---:|\n\
             | untraced | {:.1} | 1.00× | – | – |",
            s(&k["probe"]),
            thousands(n as i64),
            s(&k["event"]),
            base * 1e3
        );
        for m in k["methods"].as_array().into_iter().flatten() {
            if m["available"].as_bool() != Some(true) {
                let _ = writeln!(md, "| {} | n/a ({}) | | | |", s(&m["name"]), s(&m["why"]));
                continue;
            }
            let _ = writeln!(
                md,
                "| {} | {:.1} | {:.2}× | {} | {:.0} |",
                s(&m["name"]),
                f(&m["seconds"]) * 1e3,
                f(&m["slowdown"]),
                ut(&m["counted"]),
                f(&m["ns_per_event"]),
            );
        }
    }
    let _ = writeln!(
        md,
        "\n(bpftrace counts every firing in the process, start-up included, \
         so its count exceeds the events of the timed region. Only the patched \
         build is traced: upstream has no probes in 2.7, its function__entry \
         fires only under a tracer in 3.11 and not at all in 3.12+, and its \
         instance probes never fire.)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(ratio_cell(1.0123), "1.0123 (+1.2%)");
        assert_eq!(ratio_cell(0.99), "0.9900 (-1.0%)");
        assert_eq!(thousands(72086507), "72,086,507");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(-1234), "-1,234");
        assert_eq!(time_cell(0.184359), "184 ms");
        assert_eq!(time_cell(0.0000000523), "52.3 ns");
        assert_eq!(time_cell(2.5), "2.50 s");
        assert_eq!(time_cell(0.000481), "481 µs");
        let sp = json!({"median": 1.003, "q1": 0.996, "q3": 1.011});
        assert_eq!(spread_cell(&sp), "+0.3% [-0.4, +1.1]");
    }

    #[test]
    fn layouts_are_listed_by_their_padding_as_a_number() {
        let mut labels = vec!["patched+112", "plain+16", "patched+16", "patched+96"];
        labels.sort_by(|a, b| layout_order(a).cmp(&layout_order(b)));
        assert_eq!(
            labels,
            ["patched+16", "patched+96", "patched+112", "plain+16"]
        );
        let cell = json!({"median": 1.0, "q1": 1.0, "q3": 1.0});
        let ratio = json!({"patched": cell, "patched+112": cell, "patched+16": cell,
                           "patched_layouts": cell});
        let wall = json!({"benchmarks": [{"name": "a", "ratio": ratio}], "geomean": {}});
        let mut md = String::new();
        layouts_md(&mut md, &wall);
        let head = md
            .lines()
            .find(|l| l.starts_with("| benchmark"))
            .unwrap_or_default();
        assert!(
            head.contains("patched+16/plain+16 | patched+112/plain+112 |"),
            "{md}"
        );
        assert!(md.contains("### Over 3 code layouts"), "{md}");
    }

    #[test]
    fn targets_are_judged_on_patched() {
        let r = json!({
            "instructions": {"workloads": [
                {"name": "calls", "ratio": {"patched": 1.004}},
                {"name": "alloc", "ratio": {"patched": 1.5}},
            ]},
            "wall": {
                "geomean": {"patched": 1.006},
                "benchmarks": [
                    {"name": "a", "ratio": {"patched": {"q1": 1.03}}},
                    {"name": "b", "ratio": {"patched": {"q1": 1.01}}},
                ],
            },
        });
        let t = targets(&r);
        let only_instructions = json!({"instructions": r["instructions"].clone()});
        let partial = targets(&only_instructions);
        assert_eq!(partial[0]["met"], true);
        assert!(partial[1]["met"].is_null() && partial[2]["met"].is_null());
        assert_eq!(t[0]["met"], true);
        assert_eq!(t[1]["met"], false);
        assert_eq!(t[2]["value"], json!(["a"]));
        assert_eq!(t[2]["met"], false);

        // With --layouts, the average over the layouts is judged.
        let r = json!({
            "layouts": 2,
            "wall": {
                "geomean": {"patched": 1.006, "patched_layouts": 1.001},
                "benchmarks": [
                    {"name": "a", "ratio": {"patched": {"q1": 1.03}, "patched_layouts": {"q1": 1.01}}},
                    {"name": "b", "ratio": {"patched": {"q1": 1.01}, "patched_layouts": {"q1": 1.025}}},
                ],
            },
        });
        let t = targets(&r);
        assert_eq!(t[1]["met"], true);
        assert_eq!(t[2]["value"], json!(["b"]));
        assert!(s(&t[2]["what"]).contains("over 2 code layouts"), "{t}");
    }

    #[test]
    fn a_part_of_the_suite_judges_its_benchmarks_but_not_the_mean() {
        let r = json!({
            "wall": {
                "only": ["a"],
                "geomean": {"patched": 0.9},
                "benchmarks": [{"name": "a", "ratio": {"patched": {"q1": 1.03}}}],
            },
        });
        let t = targets(&r);
        assert!(t[1]["met"].is_null(), "{t}");
        assert_eq!(t[2]["met"], false);
        let mut md = String::new();
        targets_md(
            &mut md,
            &json!({"wall": r["wall"].clone(), "targets": t}),
            false,
        );
        let row = |what: &str| md.lines().find(|l| l.contains(what)).unwrap_or_default();
        assert!(
            row("| wall time, geometric mean").contains("not judged (`--benchmark`"),
            "{md}"
        );
        assert!(
            row("| wall time, benchmarks whose").ends_with("| a | **no** |"),
            "{md}"
        );
    }
}
