//! Our D parser reads CPython's own `Include/pydtrace.d`, unchanged, for
//! every release that ships one. The trees come from `cargo xtask fetch`
//! (cache, else Debian), exactly as a user would get them.

use std::path::PathBuf;
use std::process::Command;

use dprovider::{DataModel, ProviderFile};

fn fetch(version: &str) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["fetch", "--python", version])
        .output()
        .expect("run xtask fetch");
    assert!(
        out.status.success(),
        "fetch {version} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The provider every release from 3.8 on declares, written from CPython's
/// documentation of its static markers (Doc/howto/instrumentation.rst):
/// (name, [(C type, size, signed)]).
type Arg = (&'static str, u8, bool);
const UPSTREAM: &[(&str, &[Arg])] = &[
    (
        "function__entry",
        &[
            ("const char *", 8, false),
            ("const char *", 8, false),
            ("int", 4, true),
        ],
    ),
    (
        "function__return",
        &[
            ("const char *", 8, false),
            ("const char *", 8, false),
            ("int", 4, true),
        ],
    ),
    (
        "instance__new__start",
        &[("const char *", 8, false), ("const char *", 8, false)],
    ),
    (
        "instance__new__done",
        &[("const char *", 8, false), ("const char *", 8, false)],
    ),
    (
        "instance__delete__start",
        &[("const char *", 8, false), ("const char *", 8, false)],
    ),
    (
        "instance__delete__done",
        &[("const char *", 8, false), ("const char *", 8, false)],
    ),
    (
        "line",
        &[
            ("const char *", 8, false),
            ("const char *", 8, false),
            ("int", 4, true),
        ],
    ),
    ("gc__start", &[("int", 4, true)]),
    ("gc__done", &[("long", 8, true)]),
    ("import__find__load__start", &[("const char *", 8, false)]),
    (
        "import__find__load__done",
        &[("const char *", 8, false), ("int", 4, true)],
    ),
    ("audit", &[("const char *", 8, false), ("void *", 8, false)]),
];

fn check(version: &str) {
    let tree = fetch(version);
    let path = tree.join("Include").join("pydtrace.d");
    let file: ProviderFile = dprovider::parse_file(&path)
        .unwrap_or_else(|e| panic!("CPython {version}'s pydtrace.d did not parse: {e}"));
    let python = file.provider("python").expect("provider python");
    let names: Vec<&str> = python.probes.iter().map(|p| p.name.as_str()).collect();
    let expected: Vec<&str> = UPSTREAM.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected, "{version}: probe names and order");
    for (name, args) in UPSTREAM {
        let probe = python.probe(name).expect("probe present");
        let got: Vec<(String, u8, bool)> = probe
            .args
            .iter()
            .map(|a| {
                (
                    a.ty.c_spelling(),
                    a.ty.size(DataModel::Lp64),
                    a.ty.is_signed(),
                )
            })
            .collect();
        let want: Vec<(String, u8, bool)> = args
            .iter()
            .map(|(t, s, sign)| (t.to_string(), *s, *sign))
            .collect();
        assert_eq!(got, want, "{version}: arguments of {name}");
    }
    assert_eq!(
        file.pragmas.len(),
        5,
        "{version}: the five #pragma D attributes lines"
    );
}

#[test]
fn parses_cpython_3_9_pydtrace_d() {
    check("3.9.2");
}

#[test]
fn parses_cpython_3_11_pydtrace_d() {
    check("3.11.2");
}

#[test]
fn parses_cpython_3_13_pydtrace_d() {
    check("3.13.5");
    check("3.13.15");
}
