//! Everything the parser must reject, each with the exact position of the
//! offending token and the reason it gives.

use dprovider::{parse, parse_file, FileError, Pos};
use std::path::PathBuf;

/// Asserts `src` fails at `line:col` with a reason containing `reason`, and
/// that the error displays as `line:col: reason`.
#[track_caller]
fn rejects(src: &str, line: u32, col: u32, reason: &str) {
    let err = match parse(src) {
        Ok(file) => panic!("expected {src:?} to be rejected, parsed as {file:?}"),
        Err(e) => e,
    };
    assert_eq!(err.pos, Pos { line, col }, "position for {src:?}: {err}");
    assert!(
        err.reason.contains(reason),
        "reason for {src:?}\n  got:  {}\n  want: …{reason}…",
        err.reason
    );
    assert_eq!(err.to_string(), format!("{line}:{col}: {}", err.reason));
    assert!(
        !err.reason.contains('\n'),
        "one-line reason: {:?}",
        err.reason
    );
}

/// Wraps an argument list: the list starts at column 22 of line 1.
fn with_args(args: &str) -> String {
    format!("provider p {{ probe a({args}); }};")
}

#[test]
fn unterminated_block_comment_points_at_its_start() {
    rejects(
        "provider p {\n  /* never closed\n  probe a();\n};",
        2,
        3,
        "unterminated `/*` comment",
    );
    // `/*/` does not close itself.
    rejects("/*/", 1, 1, "unterminated `/*` comment");
}

#[test]
fn missing_semicolon_after_closing_brace() {
    rejects(
        "provider p {\n    probe a();\n}\nprovider q {};",
        4,
        1,
        "expected `;` after `}` closing provider `p`, found `provider`",
    );
    rejects(
        "provider p {}",
        1,
        14,
        "expected `;` after `}` closing provider `p`, found end of file",
    );
}

#[test]
fn missing_semicolon_after_probe() {
    rejects(
        "provider p {\n    probe a(int)\n    probe b();\n};",
        3,
        5,
        "expected `;` after probe `a`, found `probe`",
    );
    rejects(
        "provider p { probe a() };",
        1,
        24,
        "expected `;` after probe `a`, found `}`",
    );
}

#[test]
fn argument_list_not_closed() {
    // The example from the error-format spec.
    rejects(
        "/* x */\nprovider python {\n\n    probe f(const char *a, int;\n};",
        4,
        31,
        "expected `,` or `)` after argument, found `;`",
    );
    rejects(
        "provider p { probe a(int",
        1,
        25,
        "expected `,` or `)` after argument, found end of file",
    );
}

#[test]
fn unknown_types_are_named() {
    rejects(&with_args("const foo_t *x"), 1, 28, "unknown type `foo_t`");
    rejects(
        &with_args("int a, size_t b"),
        1,
        29,
        "unknown type `size_t`",
    );
    rejects(&with_args("string s"), 1, 22, "unknown type `string`");
}

#[test]
fn missing_types() {
    rejects(
        &with_args("int,"),
        1,
        26,
        "expected an argument type, found `)`",
    );
    rejects(
        &with_args("const"),
        1,
        27,
        "expected an argument type, found `)`",
    );
    rejects(
        &with_args("*p"),
        1,
        22,
        "expected an argument type, found `*`",
    );
}

#[test]
fn void_misuse() {
    let alone = "`void` is only allowed alone, as `(void)`; use `void *` for a pointer argument";
    rejects(&with_args("void, int"), 1, 22, alone);
    rejects(&with_args("int, void"), 1, 27, alone);
    rejects(&with_args("void x"), 1, 22, alone);
    rejects(&with_args("const void"), 1, 22, alone);
    rejects(&with_args("void, void"), 1, 22, alone);
    rejects(
        &with_args("unsigned void"),
        1,
        31,
        "`void` cannot follow `unsigned` in a type",
    );
    rejects(
        &with_args("void void"),
        1,
        27,
        "`void` cannot follow `void` in a type",
    );
}

#[test]
fn invalid_specifier_combinations() {
    rejects(
        &with_args("long char c"),
        1,
        27,
        "`char` cannot follow `long` in a type",
    );
    rejects(
        &with_args("long long long x"),
        1,
        32,
        "`long` cannot follow `long long` in a type",
    );
    rejects(
        &with_args("short long"),
        1,
        28,
        "`long` cannot follow `short` in a type",
    );
    rejects(
        &with_args("unsigned uint32_t"),
        1,
        31,
        "`uint32_t` cannot follow `unsigned` in a type",
    );
    rejects(
        &with_args("signed unsigned"),
        1,
        29,
        "`signed` and `unsigned` cannot be combined",
    );
    rejects(&with_args("const int const"), 1, 32, "duplicate `const`");
}

#[test]
fn pointer_declarator_errors() {
    rejects(
        &with_args("char * const p"),
        1,
        29,
        "`const` after `*` (a const pointer) is not supported",
    );
    rejects(
        &with_args("char * int"),
        1,
        29,
        "expected argument name, `,` or `)` after `*`, found `int`",
    );
    let stars = "*".repeat(256);
    rejects(
        &with_args(&format!("char {stars}")),
        1,
        282,
        "too many `*` in argument type",
    );
}

#[test]
fn duplicate_argument_name() {
    rejects(
        &with_args("int a, long a"),
        1,
        34,
        "duplicate argument name `a`",
    );
}

#[test]
fn duplicate_probe_points_at_the_second_name() {
    rejects(
        "provider p {\n    probe a(int);\n    probe a();\n};",
        3,
        11,
        "duplicate probe `a` in provider `p` (first declared at 2:5)",
    );
}

#[test]
fn duplicate_provider_points_at_the_second_name() {
    rejects(
        "provider p {};\n\nprovider p {};",
        3,
        10,
        "duplicate provider `p` (first declared at 1:1)",
    );
}

#[test]
fn stray_tokens_at_top_level() {
    let want = "expected `provider` or `#pragma` at top level, found";
    rejects("provider p {};\nfoo", 2, 1, &format!("{want} `foo`"));
    rejects("provider p {};;", 1, 15, &format!("{want} `;`"));
    rejects("probe a();", 1, 1, &format!("{want} `probe`"));
    rejects("}", 1, 1, &format!("{want} `}}`"));
}

#[test]
fn unexpected_end_of_file_inside_provider() {
    rejects(
        "provider p {\n    probe a();\n",
        3,
        1,
        "unexpected end of file inside provider `p` (opened at 1:1); expected `probe` or `};`",
    );
    rejects(
        "provider p",
        1,
        11,
        "expected `{` after provider name `p`, found end of file",
    );
    rejects(
        "provider p { probe",
        1,
        19,
        "expected probe name after `probe`, found end of file",
    );
    rejects(
        "provider",
        1,
        9,
        "expected provider name after `provider`, found end of file",
    );
}

#[test]
fn junk_inside_provider_body() {
    rejects(
        "provider p { int x; };",
        1,
        14,
        "expected `probe` or `}` in provider `p`, found `int`",
    );
}

#[test]
fn missing_punctuation_around_names() {
    rejects(
        "provider {};",
        1,
        10,
        "expected provider name after `provider`, found `{`",
    );
    rejects(
        "provider p probe",
        1,
        12,
        "expected `{` after provider name `p`, found `probe`",
    );
    rejects(
        "provider p { probe a; };",
        1,
        21,
        "expected `(` after probe name `a`, found `;`",
    );
    rejects(
        "provider p { probe (int); };",
        1,
        20,
        "expected probe name after `probe`, found `(`",
    );
}

#[test]
fn only_pragma_directives_are_accepted() {
    rejects(
        "#include <sys/sdt.h>\nprovider p {};",
        1,
        1,
        "unsupported preprocessor directive `#include`; only #pragma is accepted",
    );
    rejects(
        "provider p {\n  #define X 1\n};",
        2,
        3,
        "unsupported preprocessor directive `#define`; only #pragma is accepted",
    );
    // A longer word that merely starts with "pragma" is not a pragma.
    rejects(
        "#pragmatic",
        1,
        1,
        "unsupported preprocessor directive `#pragmatic`",
    );
    rejects(
        "provider p {}; #pragma x",
        1,
        16,
        "`#` directives must start at the beginning of a line",
    );
}

#[test]
fn names_with_invalid_characters() {
    let rule =
        "names may contain only ASCII letters, digits and `_`, and may not start with a digit";
    rejects(
        "provider p { probe foo-bar(); };",
        1,
        20,
        &format!("invalid probe name `foo-bar`: {rule}"),
    );
    rejects("provider 9p {};", 1, 10, "invalid provider name `9p`");
    rejects(
        "provider p { probe fünf(); };",
        1,
        20,
        "invalid probe name `fünf`",
    );
    rejects(&with_args("int a.b"), 1, 26, "invalid argument name `a.b`");
    // A top-level word is reported as stray, not as a bad name.
    rejects("provider-x {};", 1, 1, "found `provider-x`");
}

#[test]
fn reserved_words_are_not_names() {
    rejects(
        "provider probe {};",
        1,
        10,
        "`probe` is a reserved word, not a valid provider name",
    );
    rejects(
        "provider p { probe int(); };",
        1,
        20,
        "`int` is a reserved word, not a valid probe name",
    );
    rejects(
        &with_args("int provider"),
        1,
        26,
        "`provider` is a reserved word, not a valid argument name",
    );
}

#[test]
fn first_error_in_file_order_wins() {
    // The unterminated comment comes later, so the missing `;` is reported.
    rejects(
        "provider p { probe a() }; /* unterminated",
        1,
        24,
        "expected `;` after probe `a`, found `}`",
    );
    // A duplicate is reported before a later syntax error in the same probe.
    rejects(
        "provider p { probe a(); probe a(foo_t); };",
        1,
        31,
        "duplicate probe `a`",
    );
}

#[test]
fn parse_file_reports_path_and_position() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/d/invalid/missing_semicolon_after_brace.d");
    let err = parse_file(&path).expect_err("fixture is invalid");
    let FileError::Parse { error, .. } = &err else {
        panic!("expected a parse error, got {err}");
    };
    // The pragma after the `}` is not a token, so the parser meets end of file.
    assert_eq!(error.pos, Pos { line: 6, col: 1 });
    assert_eq!(
        err.to_string(),
        format!(
            "{}:6:1: expected `;` after `}}` closing provider `python`, found end of file",
            path.display()
        )
    );

    let missing = path.with_file_name("does_not_exist.d");
    let err = parse_file(&missing).expect_err("missing file");
    assert!(matches!(err, FileError::Io { .. }), "{err}");
    assert!(err
        .to_string()
        .starts_with(&format!("{}: cannot read: ", missing.display())));
}
