//! Reads DTrace provider definitions (`provider python { probe …; };`).
//!
//! Accepts every `Include/pydtrace.d` CPython has shipped, unchanged.

mod ast;
mod parser;

pub use ast::*;
pub use parser::{parse, ParseError};

/// Reads and parses a provider file; I/O errors are reported with the path.
pub fn parse_file(path: &std::path::Path) -> Result<ProviderFile, FileError> {
    let src = std::fs::read_to_string(path).map_err(|source| FileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&src).map_err(|error| FileError::Parse {
        path: path.display().to_string(),
        error,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{error}")]
    Parse { path: String, error: ParseError },
}
