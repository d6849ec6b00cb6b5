//! Code-layout control: a build with `--pad-code BYTES` gets that many
//! bytes of machine code that never runs, appended to `Python/ceval.c` in
//! a cold text section of its own (`.text.unlikely.*`), which GNU ld puts
//! ahead of all hot code. Every hot function, aligned to 16 bytes, then
//! moves by exactly BYTES, a multiple of 16; nothing else changes.
//!
//! Why: on the machines we measured, such inert shifts move single
//! wall-time benchmarks by up to 15 % (BENCHMARKS.md, "Code layout"), more
//! than the probes' semaphore tests cost. `cargo xtask bench --layouts N`
//! compares plain and patched builds moved by 0, 16, 32, … bytes and
//! averages, so the probes' cost is not confused with one build's layout
//! luck. Moving all code by the same amount in plain and patched puts each
//! function, in both, at each 16-byte offset of its 64-byte cache line once
//! per four layouts. (The earlier control also padded the interpreter
//! loop; functions linked after it then moved by amounts that differed
//! between plain and patched, and in 3.11's regex_v8 the regular-expression
//! matcher landed on its one fast offset in two plain layouts and no
//! patched one.)

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use object::{Object as _, ObjectSymbol as _};

/// The step of `--pad-code`: functions are aligned to 16 bytes, so a
/// padding of another size would be rounded by the linker.
pub const STEP: u16 = 16;

/// `--pad-code`'s value parser: a positive multiple of [`STEP`].
pub fn parse_bytes(arg: &str) -> Result<u16, String> {
    let bytes: u16 = arg
        .parse()
        .map_err(|_| format!("`{arg}` is not a number of bytes (16, 32, 48, …)"))?;
    if bytes == 0 || !bytes.is_multiple_of(STEP) || bytes > 4096 {
        return Err(format!(
            "{bytes} is not a multiple of {STEP} from {STEP} to 4096: functions are aligned to \
             {STEP} bytes, so use 16, 32, 48, …"
        ));
    }
    Ok(bytes)
}

/// The top-level declaration appended to `Python/ceval.c`. ELF only: on
/// Mach-O the linker keeps the object files' order, and no section is
/// placed ahead of all hot code.
pub fn shift(bytes: u16) -> String {
    // `%progbits`: `@` starts a comment in AArch64 assembly.
    format!(
        "\n/* cpython-dtrace: code-layout control, {bytes} bytes that never run,\n\
         \x20  ahead of all hot code (the linker puts cold text first) */\n\
         #if defined(__ELF__)\n\
         __asm__(\".pushsection .text.unlikely.cpython_dtrace_pad,\\\"ax\\\",%progbits\\n\\t\"\n\
         \x20       \".skip {bytes}, 0\\n\\t.popsection\");\n\
         #else\n\
         #  error \"--pad-code: ELF targets only (no section goes ahead of all hot code here)\"\n\
         #endif\n"
    )
}

/// Pads the source tree `src` in place.
pub fn pad_tree(src: &Path, bytes: u16) -> anyhow::Result<()> {
    let path = src.join("Python").join("ceval.c");
    let mut text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.push_str(&shift(bytes));
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The share of the hot functions of `unpadded` that sit exactly `bytes`
/// later in `padded`: 1.0 when the padding moved all code as intended.
/// Functions are matched by name; names defined more than once (static
/// functions of several files) and the split-off cold parts (`.cold`) are
/// left out.
pub fn moved_share(unpadded: &Path, padded: &Path, bytes: u16) -> anyhow::Result<f64> {
    let before = hot_functions(unpadded)?;
    let after = hot_functions(padded)?;
    let (mut common, mut moved) = (0usize, 0usize);
    for (name, at) in &before {
        if let Some(now) = after.get(name) {
            common += 1;
            moved += usize::from(now.wrapping_sub(*at) == u64::from(bytes));
        }
    }
    if common == 0 {
        anyhow::bail!(
            "{} and {} share no function symbols; were they stripped?",
            unpadded.display(),
            padded.display()
        );
    }
    Ok(moved as f64 / common as f64)
}

/// Function name → address, for names defined once.
fn hot_functions(binary: &Path) -> anyhow::Result<HashMap<String, u64>> {
    let data =
        std::fs::read(binary).with_context(|| format!("cannot read {}", binary.display()))?;
    let file = object::File::parse(&*data)
        .with_context(|| format!("{} is not an object file we can read", binary.display()))?;
    let mut seen: HashMap<String, Option<u64>> = HashMap::new();
    for sym in file.symbols() {
        if sym.kind() != object::SymbolKind::Text || sym.size() == 0 {
            continue;
        }
        let Ok(name) = sym.name() else { continue };
        if name.contains(".cold") {
            continue;
        }
        seen.entry(name.to_string())
            .and_modify(|at| *at = None)
            .or_insert(Some(sym.address()));
    }
    Ok(seen
        .into_iter()
        .filter_map(|(name, at)| Some((name, at?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_padding_is_a_cold_section_of_exactly_the_bytes_asked() {
        let s = shift(48);
        assert!(s.contains(".pushsection .text.unlikely.cpython_dtrace_pad"));
        assert!(s.contains(".skip 48, 0"));
        assert!(s.contains("#  error"), "refused where it cannot work");
    }

    #[test]
    fn only_multiples_of_sixteen_are_accepted() {
        assert_eq!(parse_bytes("32"), Ok(32));
        for bad in ["0", "12", "4112", "x", "-16"] {
            let err = parse_bytes(bad).unwrap_err();
            assert!(err.contains("16, 32, 48"), "{bad}: {err}");
        }
    }

    #[test]
    fn padding_a_tree_appends_to_ceval_and_keeps_the_rest() {
        let dir = std::env::temp_dir().join(format!("xtask-pad-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("Python")).unwrap();
        let c = "int f(void)\n{\n    return 0;\n}\n";
        std::fs::write(dir.join("Python/ceval.c"), c).unwrap();
        pad_tree(&dir, 16).unwrap();
        let out = std::fs::read_to_string(dir.join("Python/ceval.c")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(out, format!("{c}{}", shift(16)));
    }

    #[test]
    fn a_binary_moved_by_the_padding_is_recognised() {
        // The test binary itself, against itself: nothing moved.
        let me = std::env::current_exe().unwrap();
        assert_eq!(moved_share(&me, &me, 16).unwrap(), 0.0);
        assert_eq!(moved_share(&me, &me, 0).unwrap(), 1.0);
        let err = moved_share(&me, Path::new("/nonexistent/python"), 16).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read /nonexistent/python"));
    }
}
