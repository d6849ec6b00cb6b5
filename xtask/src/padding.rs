//! Code-layout controls: a build with `--pad-code BYTES` gets that many
//! bytes of machine code that never runs in two places of
//! `Python/ceval.c`:
//! - in the cold text (`.text.unlikely`), which GNU ld puts ahead of all
//!   hot code: BYTES rounded up to a multiple of 16, so that every hot
//!   function (aligned to 16) moves by exactly that much;
//! - at the start of the interpreter loop (`_PyEval_EvalFrameDefault`,
//!   2.7's `PyEval_EvalFrameEx`): its instruction handlers move once more,
//!   against the functions they call.
//!
//! Why: on the machines we measured, such inert shifts move single
//! wall-time benchmarks by up to 15 % (BENCHMARKS.md, "Code layout"), more
//! than the probes' semaphore tests cost. `cargo xtask bench --layouts N`
//! compares plain and patched builds at several paddings and averages, so
//! the probes' cost is not confused with one build's layout luck. (A pad
//! in the loop alone leaves the code before ceval.o where it was: 2.7's
//! float benchmark stayed 3-5 % slower in every such layout, and spread
//! from -2 % to +3 % once all code moved.)

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

/// The C statement inserted into the interpreter loop: a jump over `bytes`
/// bytes of trap instructions. It runs once per call of the interpreter
/// loop (one direct jump), in the padded plain and padded patched builds
/// alike.
pub fn statement(bytes: u16) -> String {
    format!(
        "    /* cpython-dtrace: code-layout control, {bytes} bytes that never run */\n\
         #if defined(__x86_64__) || defined(__i386__)\n\
         \x20   __asm__ volatile(\"jmp 1f\\n\\t.skip {bytes}, 0xcc\\n1:\");\n\
         #elif defined(__aarch64__)\n\
         \x20   __asm__ volatile(\"b 1f\\n\\t.skip {bytes}, 0\\n1:\");\n\
         #else\n\
         #  error \"--pad-code: no padding for this architecture\"\n\
         #endif\n"
    )
}

/// The top-level declaration appended to `Python/ceval.c`: `bytes`
/// rounded up to a multiple of 16 in a cold text section of its own, which
/// the linker places with the other `.text.unlikely` input ahead of
/// `.text`. (Not rounded, the slack before the next 16-byte boundary would
/// swallow some paddings whole.) ELF only: on Mach-O the loop padding is
/// the whole control.
pub fn shift(bytes: u16) -> String {
    let bytes = bytes.next_multiple_of(16);
    // `%progbits`: `@` starts a comment in AArch64 assembly.
    format!(
        "\n/* cpython-dtrace: code-layout control, {bytes} bytes that never run,\n\
         \x20  ahead of all hot code (the linker puts cold text first) */\n\
         #if defined(__ELF__)\n\
         __asm__(\".pushsection .text.unlikely.cpython_dtrace_pad,\\\"ax\\\",%progbits\\n\\t\"\n\
         \x20       \".skip {bytes}, 0\\n\\t.popsection\");\n\
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
                    "{}{}{}{}",
                    &text[..after],
                    statement(bytes),
                    &text[after..],
                    shift(bytes)
                ));
            }
            _ => bail!(
                "Python/ceval.c has the line `{}` {} times; --pad-code needs it once",
                marker.trim(),
                hits.len()
            ),
        }
    }
    bail!(
        "Python/ceval.c has none of the lines --pad-code inserts after ({}); \
         this release's interpreter loop needs a marker in xtask/src/padding.rs",
        MARKERS.map(str::trim).join(" | ")
    )
}

/// Pads the source tree `src` in place.
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
        assert_eq!(after, format!("    return 0;\n}}\n{}", shift(40)));
        assert!(statement(40).contains(".skip 40, 0xcc"));
        assert!(shift(40).contains(".pushsection .text.unlikely.cpython_dtrace_pad"));
        assert!(shift(40).contains(".skip 48, 0"), "rounded up to 16");
        assert!(shift(32).contains(".skip 32, 0"));
    }

    #[test]
    fn the_newest_marker_wins_and_partial_lines_do_not_count() {
        let c = "    tstate->frame = f;\n    entry_frame.owner = FRAME_OWNED_BY_CSTACK;\n";
        let out = pad_source(c, 8).unwrap();
        assert!(out.ends_with(&format!("CSTACK;\n{}{}", statement(8), shift(8))));
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
