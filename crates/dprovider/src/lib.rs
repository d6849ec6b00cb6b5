//! Reads DTrace provider definitions (`provider python { probe …; };`).
//!
//! Accepts every `Include/pydtrace.d` CPython has shipped, unchanged, and the
//! project's own `provider.d`, whose per-probe comments become [`Probe::doc`]
//! (with the `@since X.Y` tag read by [`Probe::since`]). Errors carry a
//! 1-based `line:col` and say what was expected.

mod ast;
mod lexer;
mod parser;
mod types;

pub use ast::*;
pub use parser::{parse, ParseError};

/// Reads and parses a provider file; I/O errors are reported with the path.
pub fn parse_file(path: &std::path::Path) -> Result<ProviderFile, FileError> {
    let src = std::fs::read_to_string(path).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        error: source,
    })?;
    parse(&src).map_err(|error| FileError::Parse {
        path: path.display().to_string(),
        error,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    // Not named `source`: the cause is already in the message, and error
    // chains (anyhow's `{:#}`) would print it a second time.
    #[error("{path}: cannot read: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}:{error}")]
    Parse { path: String, error: ParseError },
}
