//! Code-layout controls: a build with `--pad-eval-loop BYTES` gets that
//! many bytes of machine code that never runs at the start of the
//! interpreter loop (`_PyEval_EvalFrameDefault`, 2.7's `PyEval_EvalFrameEx`),
//! which moves every instruction handler after it.
//!
//! Why: on the machines we measured, such an inert shift moves single
//! wall-time benchmarks by up to 15 % (BENCHMARKS.md, "Code layout"), more
//! than the probes' semaphore tests cost. `cargo xtask bench --layouts N`
//! compares plain and patched builds at several paddings and averages, so
//! the probes' cost is not confused with one build's layout luck.

use std::path::Path;

use anyhow::{bail, Context as _};

/// A line of each release's `Python/ceval.c` early in the interpreter loop,
/// once its locals are set up, where a statement may go.
const MARKERS: [&str; 3] = [
    // 3.12 and later
    "    entry_frame.owner = FRAME_OWNED_BY_CSTACK;",
    // 3.11
    "    tstate->cframe = &cframe;",
    // 2.7 to 3.10
    "    tstate->frame = f;",
];

/// The C statement inserted: a jump over `bytes` bytes of trap
/// instructions. It runs once per call of the interpreter loop (one
/// direct jump), in the padded plain and padded patched builds alike.
pub fn statement(bytes: u16) -> String {
    format!(
        "    /* cpython-dtrace: code-layout control, {bytes} bytes that never run */\n\
         #if defined(__x86_64__) || defined(__i386__)\n\
         \x20   __asm__ volatile(\"jmp 1f\\n\\t.skip {bytes}, 0xcc\\n1:\");\n\
         #elif defined(__aarch64__)\n\
         \x20   __asm__ volatile(\"b 1f\\n\\t.skip {bytes}, 0\\n1:\");\n\
         #else\n\
         #  error \"--pad-eval-loop: no padding for this architecture\"\n\
         #endif\n"
    )
}

/// Inserts the padding into the text of `Python/ceval.c`.
pub fn pad_source(text: &str, bytes: u16) -> anyhow::Result<String> {
    for marker in MARKERS {
        let hits: Vec<usize> = text
            .match_indices(marker)
            .map(|(at, _)| at)
            .filter(|&at| {
                let end = at + marker.len();
                (at == 0 || text[..at].ends_with('\n')) && text[end..].starts_with('\n')
            })
            .collect();
        match hits.as_slice() {
            [] => continue,
            [at] => {
                let after = at + marker.len() + 1;
                return Ok(format!(
                    "{}{}{}",
                    &text[..after],
                    statement(bytes),
                    &text[after..]
                ));
            }
            _ => bail!(
                "Python/ceval.c has the line `{}` {} times; --pad-eval-loop needs it once",
                marker.trim(),
                hits.len()
            ),
        }
    }
    bail!(
        "Python/ceval.c has none of the lines --pad-eval-loop inserts after ({}); \
         this release's interpreter loop needs a marker in xtask/src/padding.rs",
        MARKERS.map(str::trim).join(" | ")
    )
}

/// Pads the interpreter loop of the source tree `src` in place.
pub fn pad_tree(src: &Path, bytes: u16) -> anyhow::Result<()> {
    let path = src.join("Python").join("ceval.c");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let padded = pad_source(&text, bytes)?;
    std::fs::write(&path, padded).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_padding_goes_after_the_marker_line() {
        let c = "int f(void)\n{\n    tstate->frame = f;\n    return 0;\n}\n";
        let out = pad_source(c, 40).unwrap();
        let (before, after) = out.split_once(&statement(40)).unwrap();
        assert_eq!(before, "int f(void)\n{\n    tstate->frame = f;\n");
        assert_eq!(after, "    return 0;\n}\n");
        assert!(statement(40).contains(".skip 40, 0xcc"));
    }

    #[test]
    fn the_newest_marker_wins_and_partial_lines_do_not_count() {
        let c = "    tstate->frame = f;\n    entry_frame.owner = FRAME_OWNED_BY_CSTACK;\n";
        let out = pad_source(c, 8).unwrap();
        assert!(out.ends_with(&format!("CSTACK;\n{}", statement(8))));
        // `tstate->frame = f;` inside a longer line is not the marker.
        let err = pad_source("    tstate->frame = f; /* x */\n", 8).unwrap_err();
        assert!(format!("{err}").contains("has none of the lines"));
    }

    #[test]
    fn a_repeated_marker_is_refused() {
        let c = "    tstate->frame = f;\n    tstate->frame = f;\n";
        let err = format!("{}", pad_source(c, 8).unwrap_err());
        assert!(err.contains("2 times"), "{err}");
    }
}
