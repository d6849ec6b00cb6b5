//! Truncated and corrupted input must give an error, never a panic, and the
//! error must point inside (or just past the end of) the input.

use dprovider::{parse, Pos};
use std::path::PathBuf;

fn repo_file(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn samples() -> Vec<String> {
    [
        "provider.d",
        "tests/fixtures/d/upstream_shape.d",
        "tests/fixtures/d/every_construct.d",
    ]
    .iter()
    .map(|f| repo_file(f))
    .collect()
}

/// The position just past the last character, the furthest an error can be.
fn end_pos(src: &str) -> Pos {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let line = 1 + src.matches('\n').count() as u32;
    let last_line = src.rsplit('\n').next().unwrap_or("");
    Pos {
        line,
        col: 1 + last_line.chars().count() as u32,
    }
}

#[track_caller]
fn check(src: &str) {
    if let Err(e) = parse(src) {
        assert!(e.pos.line >= 1 && e.pos.col >= 1, "{e} for {src:?}");
        assert!(e.pos <= end_pos(src), "{e} is past the end of {src:?}");
        assert!(!e.reason.is_empty());
    }
}

#[test]
fn samples_parse_whole() {
    for src in samples() {
        parse(&src).expect("sample parses");
    }
}

#[test]
fn every_prefix_is_handled() {
    for src in samples() {
        for (i, _) in src.char_indices() {
            check(&src[..i]);
        }
    }
}

#[test]
fn a_cut_inside_a_probe_is_an_error() {
    // Guard that `check` really sees errors: cutting mid-declaration must fail.
    let src = repo_file("tests/fixtures/d/upstream_shape.d");
    let cut = src.find("int);").expect("has an int argument");
    let err = parse(&src[..cut]).expect_err("truncated declaration");
    assert_eq!(err.pos, end_pos(&src[..cut]));
}

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_byte_mutations_never_panic() {
    // Bytes that matter to the grammar, plus arbitrary ones.
    const INTERESTING: &[u8] = b"{}();,*#/\n\r\t _-0aZ\xc3\xa9\xff\x00";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for src in samples() {
        for _ in 0..1500 {
            let mut bytes = src.as_bytes().to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                let byte = if rng.below(2) == 0 {
                    INTERESTING[rng.below(INTERESTING.len())]
                } else {
                    rng.next() as u8
                };
                match rng.below(3) {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, byte),
                }
            }
            check(&String::from_utf8_lossy(&bytes));
        }
    }
}
