//! Placeholder: the real parser is being written (issue: [toolchain]).
use crate::ast::*;

/// A parse error: `line:col: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {reason}")]
pub struct ParseError {
    pub pos: Pos,
    pub reason: String,
}

pub fn parse(_src: &str) -> Result<ProviderFile, ParseError> {
    Err(ParseError {
        pos: Pos { line: 1, col: 1 },
        reason: "parser not written yet".into(),
    })
}
