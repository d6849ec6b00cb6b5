//! Everything the parser must accept, with the resulting AST checked field by
//! field against values worked out by hand.

use dprovider::{parse, parse_file, Arg, BaseType, CType, Pos, Pragma, Probe, ProviderFile};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/d")
        .join(name)
}

fn parse_ok(src: &str) -> ProviderFile {
    match parse(src) {
        Ok(file) => file,
        Err(e) => panic!("expected {src:?} to parse, got {e}"),
    }
}

fn ty(base: BaseType, is_const: bool, pointers: u8) -> CType {
    CType {
        base,
        is_const,
        pointers,
    }
}

fn arg(ty: CType, name: Option<&str>) -> Arg {
    Arg {
        ty,
        name: name.map(str::to_string),
    }
}

const CONST_CHAR_P: CType = CType {
    base: BaseType::Char { signed: None },
    is_const: true,
    pointers: 1,
};
const INT: CType = CType {
    base: BaseType::Int { signed: true },
    is_const: false,
    pointers: 0,
};

/// The single probe of a one-probe provider.
fn only_probe(src: &str) -> Probe {
    let file = parse_ok(src);
    assert_eq!(file.providers.len(), 1);
    let probes = &file.providers[0].probes;
    assert_eq!(probes.len(), 1, "{probes:?}");
    probes[0].clone()
}

fn args_of(decl_args: &str) -> Vec<Arg> {
    only_probe(&format!("provider p {{ probe x({decl_args}); }};")).args
}

#[test]
fn upstream_shaped_fixture_has_the_twelve_probes() {
    let file = parse_file(&fixture("upstream_shape.d")).expect("fixture parses");
    assert_eq!(file.providers.len(), 1);
    let python = file.provider("python").expect("provider python");
    assert_eq!(python.pos, Pos { line: 3, col: 1 });
    let s = CONST_CHAR_P;
    let void_p = ty(BaseType::Void, false, 1);
    let long = ty(BaseType::Long { signed: true }, false, 0);
    let expected: Vec<(&str, Vec<CType>)> = vec![
        ("function__entry", vec![s.clone(), s.clone(), INT]),
        ("function__return", vec![s.clone(), s.clone(), INT]),
        ("instance__new__start", vec![s.clone(), s.clone()]),
        ("instance__new__done", vec![s.clone(), s.clone()]),
        ("instance__delete__start", vec![s.clone(), s.clone()]),
        ("instance__delete__done", vec![s.clone(), s.clone()]),
        ("line", vec![s.clone(), s.clone(), INT]),
        ("gc__start", vec![INT]),
        ("gc__done", vec![long]),
        ("import__find__load__start", vec![s.clone()]),
        ("import__find__load__done", vec![s.clone(), INT]),
        ("audit", vec![s.clone(), void_p]),
    ];
    assert_eq!(python.probes.len(), 12);
    for (i, (probe, (name, types))) in python.probes.iter().zip(&expected).enumerate() {
        assert_eq!(probe.name, *name);
        assert_eq!(
            probe.pos,
            Pos {
                line: 4 + i as u32,
                col: 5
            }
        );
        assert_eq!(probe.doc, None, "{name}");
        let got: Vec<CType> = probe.args.iter().map(|a| a.ty.clone()).collect();
        assert_eq!(&got, types, "{name}");
        assert!(probe.args.iter().all(|a| a.name.is_none()), "{name}");
    }
    let pragma_targets = ["provider", "module", "function", "name", "args"];
    assert_eq!(file.pragmas.len(), 5);
    for (i, (pragma, target)) in file.pragmas.iter().zip(pragma_targets).enumerate() {
        assert_eq!(
            pragma.text,
            format!("pragma D attributes Evolving/Evolving/Common provider python {target}")
        );
        assert_eq!(
            pragma.pos,
            Pos {
                line: 18 + i as u32,
                col: 1
            }
        );
    }
    let audit = python.probe("audit").expect("audit");
    assert_eq!(audit.args[1].ty.c_spelling(), "void *");
    assert_eq!(audit.macro_stem(), "AUDIT");
}

#[test]
fn every_construct_fixture() {
    let file = parse_file(&fixture("every_construct.d")).expect("fixture parses");
    assert_eq!(
        file.pragmas,
        vec![
            Pragma {
                text: "pragma D option quiet".into(),
                pos: Pos { line: 2, col: 1 },
            },
            Pragma {
                text: "pragma D attributes Evolving/Evolving/Common provider kitchen args".into(),
                pos: Pos { line: 33, col: 1 },
            },
        ]
    );
    let names: Vec<&str> = file.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["empty", "kitchen"]);
    assert!(file.provider("empty").expect("empty").probes.is_empty());

    let kitchen = file.provider("kitchen").expect("kitchen");
    let probe_names: Vec<&str> = kitchen.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        probe_names,
        [
            "documented",
            "stacked_docs",
            "integers",
            "fixed",
            "pointers",
            "mixed_names",
            "__leading__underscores",
            "after_trailing"
        ]
    );

    let documented = kitchen.probe("documented").expect("documented");
    assert_eq!(
        documented.doc.as_deref(),
        Some("Documented with a Javadoc-style block.\nIndented line.\n@since 3.12")
    );
    assert_eq!(documented.since(), Some((3, 12)));
    assert!(documented.args.is_empty());
    assert_eq!(documented.pos, Pos { line: 13, col: 5 });

    let stacked = kitchen.probe("stacked_docs").expect("stacked_docs");
    assert_eq!(
        stacked.doc.as_deref(),
        Some("Line comments\nand a doc-style line comment\nand a block, all joined")
    );
    assert_eq!(stacked.since(), None);

    let signed = |b: fn(bool) -> BaseType, s| ty(b(s), false, 0);
    let short = |s| BaseType::Short { signed: s };
    let int = |s| BaseType::Int { signed: s };
    let long = |s| BaseType::Long { signed: s };
    let longlong = |s| BaseType::LongLong { signed: s };
    let char_ = |s| ty(BaseType::Char { signed: s }, false, 0);
    let integers = &kitchen.probe("integers").expect("integers").args;
    let want = vec![
        arg(char_(None), Some("c")),
        arg(char_(Some(true)), Some("sc")),
        arg(char_(Some(false)), Some("uc")),
        arg(signed(short, true), Some("s")),
        arg(signed(short, true), Some("si")),
        arg(signed(short, false), Some("us")),
        arg(signed(int, true), Some("i")),
        arg(signed(int, false), Some("u")),
        arg(signed(long, true), Some("l")),
        arg(signed(long, true), Some("li")),
        arg(signed(long, false), Some("ul")),
        arg(signed(longlong, true), Some("ll")),
        arg(signed(longlong, false), Some("ull")),
        arg(signed(int, true), Some("si2")),
    ];
    assert_eq!(integers, &want);

    let fixed = |bits, signed| ty(BaseType::Fixed { bits, signed }, false, 0);
    let want = vec![
        arg(fixed(8, true), Some("a")),
        arg(fixed(16, true), Some("b")),
        arg(fixed(32, true), Some("c")),
        arg(fixed(64, true), Some("d")),
        arg(fixed(8, false), Some("e")),
        arg(fixed(16, false), Some("f")),
        arg(fixed(32, false), Some("g")),
        arg(fixed(64, false), Some("h")),
        arg(ty(BaseType::UintPtr, false, 0), Some("p")),
    ];
    assert_eq!(kitchen.probe("fixed").expect("fixed").args, want);

    let plain_char = BaseType::Char { signed: None };
    let want = vec![
        arg(ty(BaseType::Void, false, 1), None),
        arg(ty(BaseType::Void, true, 1), None),
        arg(ty(plain_char, false, 2), Some("argv")),
        arg(ty(plain_char, true, 1), Some("const_first")),
        arg(ty(plain_char, true, 1), Some("const_after")),
        arg(ty(BaseType::Int { signed: true }, false, 3), Some("deep")),
    ];
    assert_eq!(kitchen.probe("pointers").expect("pointers").args, want);

    let want = vec![
        arg(CONST_CHAR_P, Some("named")),
        arg(INT, None),
        arg(
            ty(BaseType::Long { signed: true }, false, 0),
            Some("unnamed_after_unnamed"),
        ),
    ];
    assert_eq!(kitchen.probe("mixed_names").expect("mixed").args, want);

    let underscores = kitchen
        .probe("__leading__underscores")
        .expect("underscores");
    assert!(underscores.args.is_empty());
    // The `// trailing comment` belongs to the line above, not to the next probe.
    assert_eq!(kitchen.probe("after_trailing").expect("after").doc, None);
}

#[test]
fn empty_input_and_comment_only_input_have_nothing() {
    assert_eq!(parse_ok(""), ProviderFile::default());
    assert_eq!(
        parse_ok("  \n/* only\n a comment */\n// and this\n"),
        ProviderFile::default()
    );
}

#[test]
fn empty_parens_and_void_mean_no_arguments() {
    assert_eq!(args_of(""), vec![]);
    assert_eq!(args_of("void"), vec![]);
    assert_eq!(args_of(" /* nothing */ void // really\n"), vec![]);
}

#[test]
fn const_before_and_after_the_base_type() {
    let want = vec![arg(CONST_CHAR_P, Some("f"))];
    assert_eq!(args_of("const char *f"), want);
    assert_eq!(args_of("char const *f"), want);
    assert_eq!(args_of("char const*f"), want);
}

#[test]
fn unsigned_alone_is_unsigned_int_and_order_is_free() {
    assert_eq!(
        args_of("unsigned, long unsigned int const x"),
        vec![
            arg(ty(BaseType::Int { signed: false }, false, 0), None),
            arg(ty(BaseType::Long { signed: false }, true, 0), Some("x")),
        ]
    );
}

#[test]
fn spelling_of_parsed_types() {
    let spellings: Vec<String> = args_of("char const *, unsigned, long int, short int, void **")
        .iter()
        .map(|a| a.ty.c_spelling())
        .collect();
    assert_eq!(
        spellings,
        ["const char *", "unsigned int", "long", "short", "void **"]
    );
}

#[test]
fn comments_allowed_wherever_whitespace_is() {
    let src = "/*a*/provider/*b*/p//c\n{/*d*/probe/*e*/x/*f*/(/*g*/int/*h*/*/*i*/n/*j*/,//k\nlong)/*l*/;/*m*/}/*n*/;/*o*/";
    let file = parse_ok(src);
    let probe = &file.providers[0].probes[0];
    assert_eq!(probe.name, "x");
    assert_eq!(
        probe.args,
        vec![
            arg(ty(BaseType::Int { signed: true }, false, 1), Some("n")),
            arg(ty(BaseType::Long { signed: true }, false, 0), None),
        ]
    );
    assert_eq!(probe.pos, Pos { line: 2, col: 7 });
    // Comments on the same line as a previous token are trailing, not docs.
    assert_eq!(probe.doc, None);
}

#[test]
fn doc_is_the_comment_directly_above_the_probe() {
    let src = "provider p {\n    /* Fires first.\n       @since 3.8 */\n\n    probe a();\n    probe b();\n};";
    let file = parse_ok(src);
    let p = &file.providers[0];
    assert_eq!(p.probes[0].doc.as_deref(), Some("Fires first.\n@since 3.8"));
    assert_eq!(p.probes[0].since(), Some((3, 8)));
    assert_eq!(p.probes[1].doc, None);
}

#[test]
fn comment_above_provider_is_not_a_probe_doc() {
    let probe = only_probe("/* about the provider */\nprovider p {\nprobe a();\n};");
    assert_eq!(probe.doc, None);
}

#[test]
fn pragma_between_comment_and_probe_cuts_the_doc() {
    let probe = only_probe("provider p {\n/* orphan */\n#pragma x\nprobe a();\n};");
    assert_eq!(probe.doc, None);
}

#[test]
fn pragmas_anywhere_at_line_start_are_kept_verbatim() {
    let file = parse_ok("  #pragma   D option  x  \nprovider p {\n\t#pragma inside\n};\n#pragma\n");
    assert_eq!(
        file.pragmas,
        vec![
            Pragma {
                text: "pragma   D option  x".into(),
                pos: Pos { line: 1, col: 3 },
            },
            Pragma {
                text: "pragma inside".into(),
                pos: Pos { line: 3, col: 2 },
            },
            Pragma {
                text: "pragma".into(),
                pos: Pos { line: 5, col: 1 },
            },
        ]
    );
}

#[test]
fn several_providers_and_lookups() {
    let file = parse_ok("provider a { probe x(); };\nprovider b { probe x(int); probe y(); };");
    assert_eq!(file.providers.len(), 2);
    let b = file.provider("b").expect("b");
    assert_eq!(b.pos, Pos { line: 2, col: 1 });
    assert_eq!(b.probe("x").expect("b.x").args, vec![arg(INT, None)]);
    assert_eq!(b.probe("y").expect("b.y").pos, Pos { line: 2, col: 28 });
    assert!(b.probe("z").is_none());
    assert!(file.provider("c").is_none());
    assert!(file
        .provider("a")
        .expect("a")
        .probe("x")
        .expect("a.x")
        .args
        .is_empty());
}

#[test]
fn crlf_line_endings() {
    let file = parse_ok("provider p {\r\n  // doc\r\n  probe a(int);\r\n};\r\n#pragma x\r\n");
    let probe = &file.providers[0].probes[0];
    assert_eq!(probe.doc.as_deref(), Some("doc"));
    assert_eq!(probe.pos, Pos { line: 3, col: 3 });
    assert_eq!(file.pragmas[0].text, "pragma x");
}

#[test]
fn since_tag_forms() {
    let probe = |doc: &str| Probe {
        name: "x".into(),
        args: vec![],
        pos: Pos::default(),
        doc: Some(doc.into()),
    };
    assert_eq!(probe("@since 2.7").since(), Some((2, 7)));
    assert_eq!(probe("Text.\n@since 3.13.").since(), Some((3, 13)));
    assert_eq!(probe("@since   3.8.1 and more").since(), Some((3, 8)));
    assert_eq!(probe("@since 3").since(), None);
    assert_eq!(probe("@since").since(), None);
    assert_eq!(probe("@since x.y").since(), None);
    assert_eq!(probe("@since +3.8").since(), None);
    assert_eq!(probe("mail@since 3.8").since(), None);
    assert_eq!(probe("no tag").since(), None);
    let undocumented = Probe {
        doc: None,
        ..probe("")
    };
    assert_eq!(undocumented.since(), None);
}
