//! A real tracer on our headers: bpftrace attaches to `python:function__entry`
//! of tests/fixtures/c/wait_and_fire.c, built against the `sdt` and the
//! `sdt-inline` header. The program only fires once the probe's semaphore is
//! raised, so this also proves bpftrace found and raised the semaphore our
//! notes point at, and read the arguments through our operand strings.
//!
//! Needs root and bpftrace; skipped (with the reason printed) without them,
//! except under CI (env `CI` set), where that is a failure.

mod support;

use std::process::Command;
use std::time::Duration;

use sdt_header::{Options, Style};
use support::*;

#[test]
fn bpftrace_reads_function_entry_arguments() {
    if !(prerequisite(have("gcc"), "gcc is not installed")
        && prerequisite(have("bpftrace"), "bpftrace is not installed")
        && prerequisite(is_root(), "bpftrace needs root to attach uprobes"))
    {
        return;
    }
    let file = provider();
    for style in [Style::Sdt, Style::SdtInline] {
        let dir = TempDir::new(&format!("bpftrace-{style}"));
        let header = sdt_header::generate(&file, style, &Options::default()).expect("generate");
        dir.write("probes.h", &header);
        dir.write("semaphores.c", &sdt_header::semaphores_c_source(&file));
        let src = c_fixture("wait_and_fire.c");
        gcc(
            dir.path(),
            &[
                "-O2",
                src.to_str().expect("utf-8 path"),
                "semaphores.c",
                "-o",
                "wait_and_fire",
            ],
        );
        let exe = dir.join("wait_and_fire");
        let exe = exe.to_str().expect("utf-8 path");
        let script = format!(
            "usdt:{exe}:python:function__entry {{ printf(\"fired %s|%s|%d\\n\", str(arg0), str(arg1), arg2); exit(); }}"
        );
        let out = run_with_timeout(
            Command::new("bpftrace").args(["-e", &script, "-c", exe]),
            Duration::from_secs(90),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.lines().any(|l| l == "fired file.py|func|42"),
            "{style}: bpftrace did not print the probe's arguments ({})\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
