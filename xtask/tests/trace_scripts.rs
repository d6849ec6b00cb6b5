//! The library scripts of `probes/bpftrace/`, each run through `cargo xtask
//! trace` against the patched 3.13 interpreter on a workload of
//! `tests/scripts/` whose answers are known, written by hand from the
//! workload (the comment at the top of each says what it does).
//!
//! The build is reused (`cargo xtask build` is a no-op when up to date).
//! The tracer is required: without root or bpftrace these tests fail in CI
//! (`CI` set) and are skipped, saying why, elsewhere.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use support::require_tracer;

const VERSION: &str = "3.13.15";

/// One trace at a time: they share two cores, and a build must not run
/// twice at once.
static SERIAL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn workloads() -> PathBuf {
    root().join("tests").join("scripts")
}

fn show(what: &str, out: &Output) {
    eprintln!(
        "$ {what}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn build(flags: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["build", "--python", VERSION])
        .args(flags)
        .output()
        .expect("run xtask build");
    if !out.status.success() {
        show("cargo xtask build", &out);
        panic!("build {flags:?} failed");
    }
}

/// `cargo xtask trace SCRIPT PARAMS… --python 3.13.15 -- WORKLOAD.py` from
/// tests/scripts (the workloads import each other from there); returns what
/// the script printed.
fn trace(script: &str, params: &[&str], workload: &str) -> String {
    trace_command(script, params, &[workload])
}

/// The same with any command after `--`: a script and its arguments, `-m
/// MODULE`, `-c CODE`. Returns all the output: the script's and the
/// workload's.
fn trace_command(script: &str, params: &[&str], command: &[&str]) -> String {
    build(&[]);
    let what = format!(
        "cargo xtask trace {script} {} -- {}",
        params.join(" "),
        command.join(" ")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("trace")
        .arg(script)
        .args(params)
        .args(["--python", VERSION, "--"])
        .args(command)
        .current_dir(workloads())
        .output()
        .expect("run xtask trace");
    show(&what, &out);
    assert!(out.status.success(), "{what} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of the map entry printed as `KEY: VALUE`.
fn entry<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(": ")))
}

/// The non-empty buckets of the histogram printed as `KEY:` then
/// `[LO, HI)  COUNT |@@@|` lines: (LO, COUNT).
fn histogram(out: &str, key: &str) -> Vec<(u64, u64)> {
    let header = format!("{key}:");
    let mut lines = out.lines().skip_while(|l| l.trim_end() != header);
    assert!(lines.next().is_some(), "no histogram {key} in:\n{out}");
    lines
        .take_while(|l| l.starts_with('['))
        .filter_map(|l| {
            // `[LO, HI)` or `[N]`, then the count.
            let close = l.find([')', ']'])?;
            let low = l[1..close].split(',').next()?.trim();
            let count = l[close + 1..].split_whitespace().next()?.parse().ok()?;
            let (digits, scale) = match low.as_bytes().last()? {
                b'K' => (&low[..low.len() - 1], 1 << 10),
                b'M' => (&low[..low.len() - 1], 1 << 20),
                b'G' => (&low[..low.len() - 1], 1 << 30),
                _ => (low, 1),
            };
            let lo: u64 = digits.parse().ok()?;
            Some((lo * scale, count))
        })
        .filter(|&(_, count)| count > 0)
        .collect()
}

#[test]
fn histograms_are_parsed() {
    let out = "@us[a, b]: \n[0]    1 |@|\n[2, 4)  0 | |\n[32K, 64K)   2 |@@|\n\n@x: 3\n";
    assert_eq!(histogram(out, "@us[a, b]"), [(0, 1), (32 << 10, 2)]);
    assert_eq!(entry(out, "@x"), Some("3"));
}

#[test]
fn calls_counts_calls_and_times_them() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace("calls", &[], "calls_work.py");
    for (function, calls) in [
        ("<module>", "1"),
        ("main", "1"),
        ("middle", "7"),
        ("leaf", "21"),
        ("slow", "2"),
    ] {
        let key = format!("@calls[calls_work.py, {function}]");
        assert_eq!(entry(&out, &key), Some(calls), "{key}");
    }
    // Each call of `slow` sleeps 40 ms: both in the [32K, 64K) us bucket or
    // above (a loaded machine may oversleep, never undersleep).
    let slow = histogram(&out, "@us[calls_work.py, slow]");
    assert_eq!(slow.iter().map(|&(_, n)| n).sum::<u64>(), 2, "{slow:?}");
    assert!(slow.iter().all(|&(lo, _)| lo >= 32 << 10), "{slow:?}");
    // `leaf` does nothing: 21 calls, all far below a millisecond.
    let leaf = histogram(&out, "@us[calls_work.py, leaf]");
    assert_eq!(leaf.iter().map(|&(_, n)| n).sum::<u64>(), 21, "{leaf:?}");
    assert!(leaf.iter().all(|&(lo, _)| lo < 1024), "{leaf:?}");
}

/// The flow lines without their TID and TIME columns, indentation kept.
fn flow_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let rest = l.trim_start();
            let (tid, rest) = rest.split_once(' ')?;
            tid.parse::<u64>().ok()?;
            let rest = rest.trim_start();
            let (time, rest) = rest.split_once(' ')?;
            time.parse::<u64>().ok()?;
            // Two spaces separate TIME from the (indented) event.
            Some(rest.strip_prefix(' ')?.to_string())
        })
        .collect()
}

#[test]
fn flow_shows_the_calls_inside_the_filtered_function_indented() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace("flow", &["top"], "flow_work.py");
    // top (line 11) calls mid (7), which calls inner (3) and returns its
    // result (line 8); then top calls inner again and returns at line 13.
    // The calls of `elsewhere`, outside top, are not shown.
    let expected = [
        "-> top (flow_work.py:11)",
        "  -> mid (flow_work.py:7)",
        "    -> inner (flow_work.py:3)",
        "    <- inner (flow_work.py:4)",
        "  <- mid (flow_work.py:8)",
        "  -> inner (flow_work.py:3)",
        "  <- inner (flow_work.py:4)",
        "<- top (flow_work.py:13)",
    ];
    assert_eq!(flow_lines(&out), expected, "{out}");
}

/// The stacks printed by who-calls: the frame lines after each `TID N:`.
fn stacks(out: &str) -> Vec<Vec<String>> {
    let mut all: Vec<Vec<String>> = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in out.lines() {
        if line.starts_with("TID ") {
            all.extend(current.take());
            current = Some(Vec::new());
        } else if let Some(stack) = current.as_mut() {
            if line.trim().is_empty() {
                all.extend(current.take());
            } else {
                stack.push(line.trim().to_string());
            }
        }
    }
    all.extend(current);
    all
}

#[test]
fn who_calls_prints_the_python_stack_innermost_first() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace("who-calls", &["target"], "who_calls_work.py");
    let stacks = stacks(&out);
    assert_eq!(stacks.len(), 2, "two calls of target:\n{out}");
    // Module code line 15 calls outer (line 12 calls middle), middle line 8
    // calls target, whose first line is 3. Below <module>: runpy's frames,
    // which run the workload.
    assert_eq!(
        stacks[0][..4],
        [
            "who_calls_work.py:3 (target)",
            "who_calls_work.py:8 (middle)",
            "who_calls_work.py:12 (outer)",
            "who_calls_work.py:15 (<module>)",
        ],
        "{out}"
    );
    assert!(
        stacks[0][4..]
            .iter()
            .all(|f| f.starts_with("<frozen runpy>:")),
        "{out}"
    );
    assert_eq!(
        stacks[1][..2],
        [
            "who_calls_work.py:3 (target)",
            "who_calls_work.py:16 (<module>)",
        ],
        "{out}"
    );
}

#[test]
fn who_calls_on_a_running_process_marks_the_frames_entered_before() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    // The shared build: --pid must find the probes in the libpython that
    // the process maps.
    build(&["--shared"]);
    let python = root()
        .join("target")
        .join("cpython")
        .join(format!("{VERSION}-linux-shared"))
        .join("bin")
        .join("python3");
    let stop = support::scratch_dir("trace-scripts").join("stop");
    let _ = std::fs::remove_file(&stop);
    let script = workloads().join("who_calls_pid.py");
    let mut process = Command::new(&python)
        .arg("-B")
        .arg(&script)
        .arg(&stop)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the workload");
    let mut running = String::new();
    let mut stdout = BufReader::new(process.stdout.take().expect("stdout"));
    stdout.read_line(&mut running).expect("workload output");
    assert_eq!(running, "running\n");

    let mut tracer = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["trace", "who-calls", "target", "--pid"])
        .arg(process.id().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run xtask trace --pid");
    // Let three calls be traced, then let the workload end (and with it
    // bpftrace).
    let mut out = String::new();
    let mut lines = BufReader::new(tracer.stdout.take().expect("stdout")).lines();
    let mut seen = 0;
    for line in lines.by_ref() {
        let line = line.expect("xtask output");
        seen += usize::from(line.starts_with("TID "));
        out.push_str(&line);
        out.push('\n');
        if seen == 3 {
            break;
        }
    }
    std::fs::write(&stop, "").expect("create the stop file");
    for line in lines {
        out.push_str(&line.expect("xtask output"));
        out.push('\n');
    }
    let status = tracer.wait().expect("xtask trace ends");
    let _ = process.wait();
    eprintln!("$ cargo xtask trace who-calls target --pid PID\n{out}");
    assert!(status.success(), "xtask trace --pid failed");
    // The loop of module code (entered before bpftrace attached) calls
    // caller at line 22, which calls target at line 15; target's first line
    // is 10. The loop's back-edge reports line 22 of <module>, so it shows
    // as the frame entered before attaching, and the older ones (runpy's
    // none here, the interpreter's own) as `...`.
    let file = script.display().to_string();
    let expected = [
        format!("{file}:10 (target)"),
        format!("{file}:15 (caller)"),
        format!("{file}:22 (<module>)  [entered before attaching]"),
        "...  [older frames entered before attaching]".to_string(),
    ];
    let stacks = stacks(&out);
    assert!(stacks.len() >= 3, "{out}");
    assert_eq!(stacks[stacks.len() - 1], expected, "{out}");
}

/// The per-collection lines of gc.bt: (GEN, FOUND, RUNNING) of those that
/// started in a function of `file`.
fn collections(out: &str, file: &str) -> Vec<(u32, u64, String)> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let _tid: u64 = f.next()?.parse().ok()?;
            let gen = f.next()?.parse().ok()?;
            let _us: u64 = f.next()?.parse().ok()?;
            let found = f.next()?.parse().ok()?;
            let running = f.collect::<Vec<_>>().join(" ");
            running
                .contains(&format!("({file}:"))
                .then_some((gen, found, running))
        })
        .collect()
}

#[test]
fn gc_reports_each_collection_with_the_function_running() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace("gc", &[], "gc_work.py");
    let seen = collections(&out, "gc_work.py");
    assert!(seen.len() > 6, "{out}");
    // Module code (line 1) cleans up first: whatever it finds.
    assert_eq!(
        (seen[0].0, seen[0].2.as_str()),
        (2, "<module> (gc_work.py:1)")
    );
    // Then young (first line 17) twice, full (21) three times; the first
    // full collection finds the 10 two-list cycles `garbage` left.
    let young = "young (gc_work.py:17)".to_string();
    let full = "full (gc_work.py:21)".to_string();
    assert_eq!(
        seen[1..6],
        [
            (0, 0, young.clone()),
            (0, 0, young),
            (2, 20, full.clone()),
            (2, 0, full.clone()),
            (2, 0, full),
        ],
        "{out}"
    );
    // Then automatic collections of the young generations while `churn`
    // (first line 25) allocates self-referencing lists.
    for (gen, found, running) in &seen[6..] {
        assert_eq!(running, "churn (gc_work.py:25)", "{out}");
        assert!(*gen < 2 && *found > 0, "{out}");
    }
    assert_eq!(entry(&out, "@started_in[young, gc_work.py, 0]"), Some("2"));
    assert_eq!(entry(&out, "@started_in[full, gc_work.py, 2]"), Some("3"));
    assert!(out.contains("\n  gen 2: "), "no frequency summary:\n{out}");
    assert!(!histogram(&out, "@us[2]").is_empty(), "{out}");
}

#[test]
fn leaks_finds_the_type_that_leaks() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    // A growth report every second; the workload runs 2.5 s.
    let out = trace("leaks", &["1"], "leaks_work.py");
    assert_eq!(entry(&out, "@live[__main__, LeakyThing]"), Some("250"));
    assert_eq!(entry(&out, "@live[__main__, Transient]"), Some("0"));
    // Each report lists the 10 most grown types, the most last: LeakyThing
    // (100 a second) in every report that sees the workload run.
    let reports: Vec<&str> = out.split("growth over the last 1 s:\n").skip(1).collect();
    assert!(reports.len() >= 2, "{out}");
    for report in &reports[..2] {
        let last = report
            .lines()
            .take_while(|l| l.starts_with("@growth["))
            .last();
        let top = last.and_then(|l| l.split(']').next());
        assert_eq!(top, Some("@growth[__main__, LeakyThing"), "{out}");
    }
    // Every live LeakyThing has its address, oldest first; no Transient.
    let oldest: Vec<(&str, u64)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("@oldest["))
        .filter_map(|l| {
            let (key, ms) = l.split_once("]: ")?;
            Some((key, ms.parse().ok()?))
        })
        .collect();
    let leaky: Vec<&(&str, u64)> = oldest
        .iter()
        .filter(|(k, _)| k.starts_with("LeakyThing, 0x"))
        .collect();
    assert_eq!(leaky.len(), 250, "{out}");
    assert!(!oldest.iter().any(|(k, _)| k.starts_with("Transient,")));
    assert!(oldest.windows(2).all(|w| w[0].1 <= w[1].1), "oldest first");
}

/// (SELF, CUMUL, indentation, MODULE) of each import line.
fn imports(out: &str) -> Vec<(u64, u64, usize, String)> {
    out.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, " | ");
            let own = parts.next()?.trim().parse().ok()?;
            let cumul = parts.next()?.trim().parse().ok()?;
            let module = parts.next()?;
            let name = module.trim_start();
            Some((own, cumul, module.len() - name.len(), name.to_string()))
        })
        .collect()
}

#[test]
fn imports_times_nested_imports_and_names_the_slowest() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace("imports", &[], "imports_work.py");
    let lines = imports(&out);
    let find = |name: &str| {
        lines
            .iter()
            .position(|l| l.3 == name)
            .unwrap_or_else(|| panic!("no import of {name}:\n{out}"))
    };
    let (inner, outer) = (find("scripts_inner"), find("scripts_outer"));
    let (fast, slow) = (find("scripts_fastmod"), find("scripts_slowmod"));
    // scripts_inner (100 ms) ends first, one level under scripts_outer.
    assert_eq!(inner + 1, outer, "{out}");
    assert_eq!(lines[inner].2, lines[outer].2 + 2, "{out}");
    assert!(lines[inner].1 >= 100_000, "{out}");
    // scripts_outer: 50 ms of its own, plus scripts_inner.
    let (own, cumul) = (lines[outer].0, lines[outer].1);
    assert!(own >= 50_000 && cumul >= 150_000, "{out}");
    assert!(cumul.abs_diff(own + lines[inner].1) <= 2, "{out}");
    assert!(lines[fast].1 < 50_000, "{out}");
    assert!(lines[slow].1 >= 300_000, "{out}");
    let slowest = entry(&out, "@slowest").expect("a slowest import");
    assert!(slowest.starts_with("(scripts_slowmod, "), "{out}");
    let last = out
        .lines()
        .rfind(|l| l.starts_with("@cumul_us["))
        .and_then(|l| l.split(']').next());
    assert_eq!(last, Some("@cumul_us[scripts_slowmod"), "{out}");
}

#[test]
fn syscalls_by_python_names_the_function_that_calls_fsync() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace("syscalls-by-python", &[], "syscalls_work.py");
    // os.fsync is called 5 times, from line 13 of flush_log only; os.write 5
    // times from line 9 of write_log.
    let calls = |syscall: &str| -> Vec<&str> {
        out.lines()
            .filter(|l| l.starts_with("@calls[") && l.contains(&format!(", {syscall}]: ")))
            .collect()
    };
    let fsync = calls("fsync");
    assert_eq!(fsync.len(), 1, "{out}");
    assert!(
        fsync[0].starts_with("@calls[syscalls_work.py, 13, flush_log, fsync]: count 5,"),
        "{out}"
    );
    assert!(
        calls("write")
            .iter()
            .any(|l| l.starts_with("@calls[syscalls_work.py, 9, write_log, write]: count 5,")),
        "{out}"
    );
    assert!(
        !histogram(&out, "@us[syscalls_work.py, flush_log, fsync]").is_empty(),
        "{out}"
    );
}

#[test]
fn audit_streams_events_with_their_python_line() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace("audit", &[], "audit_work.py");
    let events: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let _tid: u64 = f.next()?.parse().ok()?;
            let _us: u64 = f.next()?.parse().ok()?;
            let event = f.next()?.to_string();
            Some((event, f.collect::<Vec<_>>().join(" ")))
        })
        .filter(|(_, at)| at.starts_with("audit_work.py:"))
        .collect();
    let pair = |e: &str, at: &str| (e.to_string(), at.to_string());
    // sys.audit() in emit (line 9), open() in opener (line 13), os.unlink
    // (event os.remove) in main (line 21), in this order; the import
    // statements of module code (lines 3-5) come first.
    let ours: Vec<(String, String)> = events.into_iter().filter(|(e, _)| e != "import").collect();
    assert_eq!(
        ours,
        [
            pair("cpython_dtrace.scripts", "audit_work.py:9 (emit)"),
            pair("open", "audit_work.py:13 (opener)"),
            pair("os.remove", "audit_work.py:21 (main)"),
        ],
        "{out}"
    );
}

/// The threads gil_work.py announces: NAME -> (IDENT, NATIVE_ID).
fn announced_threads(out: &str) -> std::collections::BTreeMap<String, (u64, u64)> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.strip_prefix("THREAD ")?.split_whitespace();
            let name = f.next()?.to_string();
            Some((name, (f.next()?.parse().ok()?, f.next()?.parse().ok()?)))
        })
        .collect()
}

#[test]
fn gil_shows_who_holds_the_gil_and_who_waits() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace("gil", &[], "gil_work.py");
    let threads = announced_threads(&out);
    assert_eq!(threads.len(), 4, "{out}");
    // The line of each thread as it exits: TID ACQUIRED WAITED(us) HELD(us).
    let lines: std::collections::BTreeMap<u64, (u64, u64, u64)> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .map(|w| w.parse().ok())
                .collect::<Option<_>>()?;
            (f.len() == 4).then(|| (f[0], (f[1], f[2], f[3])))
        })
        .collect();
    let of = |name: &str| {
        let tid = threads[name].1;
        *lines
            .get(&tid)
            .unwrap_or_else(|| panic!("no line for {name} (TID {tid}):\n{out}"))
    };
    // The spinner uses 0.3 s of CPU time running Python code, which needs
    // the GIL; the sleeper holds it only to start, to call sleep and to end.
    let (spinner, sleeper) = (of("spinner"), of("sleeper"));
    assert!(
        spinner.2 >= 280_000,
        "spinner held {} us:\n{out}",
        spinner.2
    );
    assert!(sleeper.2 < 50_000, "sleeper held {} us:\n{out}", sleeper.2);
    // It takes the GIL at least twice: when it starts, after its sleep.
    assert!(sleeper.0 >= 2, "{out}");
    // The rivals, 0.2 s of CPU time each at the same time, take turns: each
    // waits while the other holds the GIL (a switch interval, 5 ms, at a
    // time), for most of the other's 0.2 s.
    for name in ["rival-1", "rival-2"] {
        let (acquired, waited, held) = of(name);
        assert!(held >= 180_000, "{name} held {held} us:\n{out}");
        assert!(waited >= 10_000, "{name} waited {waited} us:\n{out}");
        assert!(
            acquired >= 3,
            "{name} took the GIL {acquired} times:\n{out}"
        );
    }
    // Every thread ended before the end report; its histograms remain.
    assert!(out.contains("Threads still running [TID]"), "{out}");
    assert!(out.contains("\n  none\n"), "{out}");
    let spinner_tid = threads["spinner"].1;
    let holds = histogram(&out, &format!("@hold_us[{spinner_tid}]"));
    assert!(!holds.is_empty(), "{out}");
    let total = out
        .lines()
        .find(|l| l.contains(" ms traced: the GIL was taken "))
        .unwrap_or_else(|| panic!("no totals:\n{out}"));
    assert!(!out.contains("No GIL event"), "{out}");
    // Held, at least: the spinner's 0.3 s and the rivals' 0.2 s each.
    let held_ms: u64 = total
        .split("held ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{total}"));
    assert!(held_ms >= 660, "{total}");
}

/// EVENT, IDENT, NATIVE_ID and, at the end, (LIFETIME, CPU) of a line of
/// threads.bt.
type ThreadEvent = (String, u64, u64, Option<(u64, u64)>);

#[test]
fn threads_reports_each_python_thread_with_its_cpu_time() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace("threads", &[], "gil_work.py");
    let threads = announced_threads(&out);
    assert_eq!(threads.len(), 4, "{out}");
    // TIME EVENT IDENT NATIVE_ID [LIFETIME CPU] lines.
    let events: Vec<ThreadEvent> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first()?.parse::<u64>().ok()?;
            let times = match f.len() {
                4 => None,
                6 => Some((f[4].parse().ok()?, f[5].parse().ok()?)),
                _ => return None,
            };
            Some((
                f[1].to_string(),
                f[2].parse().ok()?,
                f[3].parse().ok()?,
                times,
            ))
        })
        .collect();
    // Each thread starts and ends once, with the ident and native id it
    // printed itself; the phases run one after the other.
    let order = |event: &str| -> Vec<(u64, u64)> {
        events
            .iter()
            .filter(|e| e.0 == event)
            .map(|e| (e.1, e.2))
            .collect()
    };
    let ids = |names: &[&str]| -> std::collections::BTreeSet<(u64, u64)> {
        names.iter().map(|n| threads[*n]).collect()
    };
    let starts = order("start");
    let ends = order("end");
    assert_eq!(starts.len(), 4, "{out}");
    assert_eq!(ends.len(), 4, "{out}");
    assert_eq!(
        starts[..2]
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        ids(&["spinner", "sleeper"]),
        "{out}"
    );
    assert_eq!(
        starts[2..]
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        ids(&["rival-1", "rival-2"]),
        "{out}"
    );
    assert_eq!(
        ends.iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        ids(&["spinner", "sleeper", "rival-1", "rival-2"]),
        "{out}"
    );
    assert!(!events.iter().any(|e| e.0 == "exit"), "{out}");
    let times = |name: &str| {
        let id = threads[name];
        events
            .iter()
            .find(|e| e.0 == "end" && (e.1, e.2) == id)
            .and_then(|e| e.3)
            .unwrap_or_else(|| panic!("no end of {name}:\n{out}"))
    };
    // (LIFETIME, CPU) in us: the spinners use their CPU time (0.3 s, 0.2 s)
    // and live at least as long; the sleeper lives 0.3 s almost off CPU.
    let (life, cpu) = times("spinner");
    assert!(
        cpu >= 280_000 && life >= cpu,
        "spinner {life} {cpu}:\n{out}"
    );
    for name in ["rival-1", "rival-2"] {
        let (life, cpu) = times(name);
        assert!(cpu >= 180_000 && life >= cpu, "{name} {life} {cpu}:\n{out}");
    }
    let (life, cpu) = times("sleeper");
    assert!(
        life >= 300_000 && cpu < 50_000,
        "sleeper {life} {cpu}:\n{out}"
    );
    assert_eq!(entry(&out, "@threads[started]"), Some("4"), "{out}");
    assert_eq!(entry(&out, "@threads[ended]"), Some("4"), "{out}");
    let total_cpu: u64 = entry(&out, "@total_us[cpu]")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no total CPU:\n{out}"));
    assert!(total_cpu >= 660_000, "{out}");
}

#[test]
fn ctrl_c_ends_the_trace_with_the_scripts_end_output() {
    use std::os::unix::process::CommandExt as _;
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    build(&[]);
    // As a terminal does: SIGINT to the whole process group (xtask, the
    // interpreter, bpftrace), here a group of its own.
    let mut xtask = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "trace",
            "calls",
            "--python",
            VERSION,
            "--",
            "interrupt_work.py",
        ])
        .current_dir(workloads())
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xtask trace");
    let mut lines = BufReader::new(xtask.stdout.take().expect("stdout")).lines();
    let mut out = String::new();
    for line in lines.by_ref() {
        let line = line.expect("xtask output");
        out.push_str(&line);
        out.push('\n');
        if line == "running" {
            break;
        }
    }
    // Some ticks (20 ms each), then Ctrl-C.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let group = format!("-{}", xtask.id());
    let kill = Command::new("kill")
        .args(["-s", "INT", "--", &group])
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -s INT -- {group}");
    for line in lines {
        out.push_str(&line.expect("xtask output"));
        out.push('\n');
    }
    let result = xtask.wait_with_output().expect("xtask ends");
    let err = String::from_utf8_lossy(&result.stderr);
    eprintln!("$ cargo xtask trace calls -- interrupt_work.py, then Ctrl-C\n{out}{err}");
    // bpftrace's END output came through: the calls counted until then.
    let ticks: u64 = entry(&out, "@calls[interrupt_work.py, tick]")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no END output:\n{out}"));
    assert!(ticks >= 1, "{out}");
    assert!(out.contains("Microseconds per call"), "{out}");
    assert_eq!(result.status.code(), Some(130), "{err}");
    assert!(err.contains("trace: interrupted (Ctrl-C)"), "{err}");
    assert!(!err.contains("the workload failed"), "{err}");
}

#[test]
fn a_module_is_traced_with_dash_m() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let out = trace_command("calls", &[], &["-m", "calls_work"]);
    // As `python -m calls_work` from tests/scripts: the module is found on
    // sys.path (the current directory), so its file name is absolute, and
    // runs as __main__ once: the counts of calls_work.py.
    let file = workloads().join("calls_work.py");
    for (function, calls) in [
        ("<module>", "1"),
        ("main", "1"),
        ("middle", "7"),
        ("leaf", "21"),
    ] {
        let key = format!("@calls[{}, {function}]", file.display());
        assert_eq!(entry(&out, &key), Some(calls), "{key}:\n{out}");
    }
}

#[test]
fn code_is_traced_with_dash_c() {
    if !require_tracer() {
        return;
    }
    let _serial = one_at_a_time();
    let code = "import sys\n\
                def f():\n    return 1\n\
                for _ in range(3):\n    f()\n\
                print('argv', sys.argv, __name__)\n";
    let out = trace_command("calls", &[], &["-c", code, "one", "two"]);
    // As `python -c CODE one two`: the code is `<string>`, run once as
    // __main__, and calls f three times.
    assert_eq!(
        entry(&out, "@calls[<string>, <module>]"),
        Some("1"),
        "{out}"
    );
    assert_eq!(entry(&out, "@calls[<string>, f]"), Some("3"), "{out}");
    assert!(
        out.lines()
            .any(|l| l == "argv ['-c', 'one', 'two'] __main__"),
        "{out}"
    );
}
