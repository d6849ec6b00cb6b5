//! The project's own `provider.d` is the probe contract: check it says
//! exactly what the rest of the toolkit is built on.

use dprovider::{parse_file, BaseType, ProviderFile};
use std::path::PathBuf;

fn load(rel: &str) -> ProviderFile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    parse_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// `(C spelling, argument name)`.
type ArgSpec = (&'static str, &'static str);

/// (name, arguments, first version), in file order.
const CONTRACT: &[(&str, &[ArgSpec], (u32, u32))] = &[
    (
        "function__entry",
        &[
            ("const char *", "filename"),
            ("const char *", "funcname"),
            ("int", "lineno"),
        ],
        (2, 7),
    ),
    (
        "function__return",
        &[
            ("const char *", "filename"),
            ("const char *", "funcname"),
            ("int", "lineno"),
        ],
        (2, 7),
    ),
    (
        "line",
        &[
            ("const char *", "filename"),
            ("const char *", "funcname"),
            ("int", "lineno"),
        ],
        (2, 7),
    ),
    ("gc__start", &[("int", "generation")], (2, 7)),
    ("gc__done", &[("long", "collected")], (2, 7)),
    (
        "import__find__load__start",
        &[("const char *", "modulename")],
        (2, 7),
    ),
    (
        "import__find__load__done",
        &[("const char *", "modulename"), ("int", "found")],
        (2, 7),
    ),
    (
        "audit",
        &[("const char *", "event"), ("void *", "args")],
        (3, 8),
    ),
    (
        "instance__new__start",
        &[("const char *", "typename"), ("const char *", "module")],
        (2, 7),
    ),
    (
        "instance__new__done",
        &[
            ("const char *", "typename"),
            ("const char *", "module"),
            ("void *", "obj"),
        ],
        (2, 7),
    ),
    (
        "instance__delete__start",
        &[
            ("const char *", "typename"),
            ("const char *", "module"),
            ("void *", "obj"),
        ],
        (2, 7),
    ),
    (
        "instance__delete__done",
        &[("const char *", "typename"), ("const char *", "module")],
        (2, 7),
    ),
    ("gil__acquire__start", &[], (2, 7)),
    ("gil__acquire__done", &[], (2, 7)),
    ("gil__release", &[], (2, 7)),
    (
        "thread__start",
        &[("unsigned long", "ident"), ("unsigned long", "native_id")],
        (2, 7),
    ),
    (
        "thread__end",
        &[("unsigned long", "ident"), ("unsigned long", "native_id")],
        (2, 7),
    ),
    (
        "cfunction__entry",
        &[("const char *", "module"), ("const char *", "funcname")],
        (2, 7),
    ),
    (
        "cfunction__return",
        &[("const char *", "module"), ("const char *", "funcname")],
        (2, 7),
    ),
    (
        "exception__raise",
        &[
            ("const char *", "type"),
            ("const char *", "filename"),
            ("const char *", "funcname"),
            ("int", "lineno"),
        ],
        (2, 7),
    ),
    (
        "exception__handled",
        &[
            ("const char *", "type"),
            ("const char *", "filename"),
            ("const char *", "funcname"),
            ("int", "lineno"),
        ],
        (2, 7),
    ),
];

#[test]
fn provider_d_declares_the_contract() {
    let file = load("../../provider.d");
    assert_eq!(file.providers.len(), 1);
    let python = file.provider("python").expect("provider python");
    let names: Vec<&str> = python.probes.iter().map(|p| p.name.as_str()).collect();
    let want: Vec<&str> = CONTRACT.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(names, want);

    for (probe, (name, args, since)) in python.probes.iter().zip(CONTRACT) {
        let got: Vec<(String, Option<&str>)> = probe
            .args
            .iter()
            .map(|a| (a.ty.c_spelling(), a.name.as_deref()))
            .collect();
        let want: Vec<(String, Option<&str>)> = args
            .iter()
            .map(|(ty, n)| (ty.to_string(), Some(*n)))
            .collect();
        assert_eq!(got, want, "{name}");

        let doc = probe
            .doc
            .as_deref()
            .unwrap_or_else(|| panic!("{name} has no doc"));
        assert_eq!(probe.since(), Some(*since), "{name}: {doc}");
        for (_, arg) in *args {
            assert!(
                doc.contains(&format!("{arg}:")),
                "{name}: `{arg}` is not described"
            );
        }
    }
}

#[test]
fn provider_d_keeps_upstream_attributes() {
    let file = load("../../provider.d");
    let texts: Vec<&str> = file.pragmas.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "pragma D attributes Evolving/Evolving/Common provider python provider",
            "pragma D attributes Evolving/Evolving/Common provider python module",
            "pragma D attributes Evolving/Evolving/Common provider python function",
            "pragma D attributes Evolving/Evolving/Common provider python name",
            "pragma D attributes Evolving/Evolving/Common provider python args",
        ]
    );
}

/// Scripts written against upstream must keep working: every upstream probe
/// exists with the same leading argument types; only trailing ones are new.
#[test]
fn provider_d_is_a_superset_of_the_upstream_shape() {
    let ours = load("../../provider.d");
    let upstream = load("../../tests/fixtures/d/upstream_shape.d");
    let ours = ours.provider("python").expect("ours");
    for old in &upstream.provider("python").expect("upstream").probes {
        let new = ours
            .probe(&old.name)
            .unwrap_or_else(|| panic!("upstream probe {} is missing", old.name));
        assert!(new.args.len() >= old.args.len(), "{}", old.name);
        for (i, (a, b)) in old.args.iter().zip(&new.args).enumerate() {
            assert_eq!(a.ty, b.ty, "{} argument {i}", old.name);
        }
        // So far the only additions are object addresses (`void *obj`).
        for extra in &new.args[old.args.len()..] {
            assert_eq!(extra.ty.base, BaseType::Void, "{}", old.name);
            assert!(extra.ty.is_pointer(), "{}", old.name);
        }
    }
}
