//! Provider stability from `#pragma D attributes`, as macOS encodes it in the
//! `___dtrace_stability$python$v1$…` symbol.
//!
//! A pragma reads `D attributes NAME/DATA/CLASS provider PROV PART` where PART is
//! `provider`, `module`, `function`, `name` or `args`. libdtrace starts every
//! part at Private/Private/Unknown (`_dtrace_prvattr`) and each pragma
//! overrides one part.

use dprovider::{Pragma, ProviderFile};

use crate::Error;

/// The stability levels in DTrace's numbering (`DTRACE_STABILITY_*`).
const LEVELS: [&str; 8] = [
    "internal", "private", "obsolete", "external", "unstable", "evolving", "stable", "standard",
];

/// The dependency classes in DTrace's numbering (`DTRACE_CLASS_*`).
const CLASSES: [&str; 6] = ["unknown", "cpu", "platform", "group", "isa", "common"];

/// The parts of a provider's attributes, in encoding order.
const PARTS: [&str; 5] = ["provider", "module", "function", "name", "args"];

/// Name stability, data stability, dependency class.
type Attribute = [u8; 3];

/// Private/Private/Unknown.
const DEFAULT: Attribute = [1, 1, 0];

/// `1_1_0_1_1_0_…`: the 15 numbers of the five parts, in hex, `_`-separated.
pub(crate) fn encode(file: &ProviderFile, provider: &str) -> Result<String, Error> {
    let mut parts = [DEFAULT; 5];
    for pragma in &file.pragmas {
        if let Some((part, attribute)) = parse(pragma, provider)? {
            parts[part] = attribute;
        }
    }
    Ok(parts
        .iter()
        .flatten()
        .map(|n| format!("{n:x}"))
        .collect::<Vec<_>>()
        .join("_"))
}

/// The part index and attribute an attributes pragma sets for `provider`;
/// `None` for other pragmas and other providers.
fn parse(pragma: &Pragma, provider: &str) -> Result<Option<(usize, Attribute)>, Error> {
    let words: Vec<&str> = pragma.text.split_whitespace().collect();
    if words.get(..3) != Some(&["pragma", "D", "attributes"][..]) {
        return Ok(None);
    }
    let bad = |reason: String| Error::BadPragma {
        pos: pragma.pos,
        reason,
    };
    let [_, _, _, spec, "provider", name, part] = words[..] else {
        return Err(bad(
            "expected `#pragma D attributes NAME/DATA/CLASS provider PROVIDER PART`".into(),
        ));
    };
    if name != provider {
        return Ok(None);
    }
    let part = PARTS.iter().position(|p| *p == part).ok_or_else(|| {
        bad(format!(
            "unknown attribute part `{part}` (expected one of {})",
            PARTS.join(", ")
        ))
    })?;
    let fields: Vec<&str> = spec.split('/').collect();
    let [name_level, data_level, class] = fields[..] else {
        return Err(bad(format!("`{spec}` is not NAME/DATA/CLASS")));
    };
    let level = |word: &str| {
        index_of(&LEVELS, word).ok_or_else(|| bad(format!("unknown stability level `{word}`")))
    };
    let class = index_of(&CLASSES, class)
        .ok_or_else(|| bad(format!("unknown dependency class `{class}`")))?;
    Ok(Some((
        part,
        [level(name_level)?, level(data_level)?, class],
    )))
}

/// Position of `word` in `table`, ignoring case as D does.
fn index_of(table: &[&str], word: &str) -> Option<u8> {
    let lower = word.to_ascii_lowercase();
    table
        .iter()
        .position(|w| *w == lower)
        .and_then(|i| u8::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use dprovider::Pos;

    fn pragma(text: &str) -> Pragma {
        Pragma {
            text: text.to_string(),
            pos: Pos { line: 7, col: 1 },
        }
    }

    #[test]
    fn evolving_common_everywhere_encodes_as_fives() {
        assert_eq!(
            encode(&fixture::two_probes(), "python").unwrap(),
            "5_5_5_5_5_5_5_5_5_5_5_5_5_5_5"
        );
    }

    #[test]
    fn parts_without_a_pragma_stay_private_private_unknown() {
        let mut file = fixture::two_probes();
        file.pragmas = vec![pragma(
            "pragma D attributes Unstable/Unstable/Common provider python name",
        )];
        assert_eq!(
            encode(&file, "python").unwrap(),
            "1_1_0_1_1_0_1_1_0_4_4_5_1_1_0"
        );
        assert_eq!(
            encode(&file, "other").unwrap(),
            "1_1_0_1_1_0_1_1_0_1_1_0_1_1_0"
        );
    }

    #[test]
    fn other_pragmas_are_ignored_and_bad_ones_located() {
        let mut file = fixture::two_probes();
        file.pragmas = vec![pragma("pragma D option quiet")];
        assert!(encode(&file, "python").is_ok());
        file.pragmas = vec![pragma(
            "pragma D attributes Shaky/Evolving/Common provider python args",
        )];
        assert_eq!(
            encode(&file, "python").unwrap_err().to_string(),
            "7:1: unknown stability level `Shaky`"
        );
    }
}
