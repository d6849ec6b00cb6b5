//! The version of a CPython source tree, read from `Include/patchlevel.h`.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum PatchlevelError {
    // Not named `source`: the cause is in the message already, and anyhow's
    // `{:#}` would print it twice.
    #[error("{path}: cannot read ({error}); is this a CPython source tree?")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: no PY_VERSION line; is this a CPython source tree?")]
    NoVersion { path: String },
}

/// The release a source tree holds, e.g. `3.13.5`, as `PY_VERSION` says it
/// (a `+` suffix, which marks an unreleased checkout, is kept).
pub fn tree_version(tree: &Path) -> Result<String, PatchlevelError> {
    let path = tree.join("Include").join("patchlevel.h");
    let text = std::fs::read_to_string(&path).map_err(|error| PatchlevelError::Io {
        path: path.display().to_string(),
        error,
    })?;
    parse_py_version(&text).ok_or_else(|| PatchlevelError::NoVersion {
        path: path.display().to_string(),
    })
}

/// Finds `#define PY_VERSION "X.Y.Z"` in the text of patchlevel.h.
pub fn parse_py_version(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix('#')?.trim_start();
        let rest = rest.strip_prefix("define")?.trim_start();
        let rest = rest.strip_prefix("PY_VERSION")?;
        // Not PY_VERSION_HEX: the name must end here.
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let quoted = rest.trim();
        let inner = quoted.strip_prefix('"')?.split('"').next()?;
        Some(inner.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_py_version_not_hex() {
        let text = "#define PY_VERSION_HEX 0x030D05F0\n#define PY_VERSION      \t\"3.13.5\"\n";
        assert_eq!(parse_py_version(text).as_deref(), Some("3.13.5"));
    }

    #[test]
    fn missing_version_is_none() {
        assert_eq!(parse_py_version("#define PY_MAJOR_VERSION 3\n"), None);
    }
}
