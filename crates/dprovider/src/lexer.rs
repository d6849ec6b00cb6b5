//! Splits a `.d` file into tokens. Comments and `#pragma` lines never reach
//! the parser: comments are folded into the `doc` of the token they sit
//! directly above, pragmas are collected on the side.

use crate::ast::{Pos, Pragma};
use crate::parser::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    LBrace,
    RBrace,
    LParen,
    RParen,
    Semi,
    Comma,
    Star,
    /// A maximal run of non-space, non-punctuation characters. Whether it is a
    /// valid identifier is the parser's call, so it can name the bad word.
    Word(String),
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub pos: Pos,
    /// The comment block(s) directly above this token, markers stripped.
    pub doc: Option<String>,
}

impl Token {
    /// How the token is quoted in "found …" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            TokenKind::LBrace => "`{`".into(),
            TokenKind::RBrace => "`}`".into(),
            TokenKind::LParen => "`(`".into(),
            TokenKind::RParen => "`)`".into(),
            TokenKind::Semi => "`;`".into(),
            TokenKind::Comma => "`,`".into(),
            TokenKind::Star => "`*`".into(),
            TokenKind::Word(w) => format!("`{w}`"),
            TokenKind::Eof => "end of file".into(),
        }
    }

    pub fn word(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Word(w) => Some(w),
            _ => None,
        }
    }
}

enum CommentStyle {
    Block,
    Line,
}

struct Comment {
    style: CommentStyle,
    body: String,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    /// Byte offset of the next unread character.
    at: usize,
    pos: Pos,
    /// Nothing but whitespace so far on the current line (for `#`).
    line_is_blank: bool,
    /// The line on which the last token ended; a comment starting on that
    /// line trails the token instead of documenting the next one.
    last_token_line: u32,
    pending_docs: Vec<Comment>,
    pub pragmas: Vec<Pragma>,
}

fn is_punct(c: char) -> bool {
    matches!(c, '{' | '}' | '(' | ')' | ';' | ',' | '*')
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        // A UTF-8 byte-order mark is not part of the text.
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        Lexer {
            src,
            at: 0,
            pos: Pos { line: 1, col: 1 },
            line_is_blank: true,
            last_token_line: 0,
            pending_docs: Vec::new(),
            pragmas: Vec::new(),
        }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.at..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.pos.line = self.pos.line.saturating_add(1);
            self.pos.col = 1;
            self.line_is_blank = true;
        } else {
            self.pos.col = self.pos.col.saturating_add(1);
            if !c.is_whitespace() {
                self.line_is_blank = false;
            }
        }
        Some(c)
    }

    /// Consumes characters up to (not including) the next newline.
    fn take_line(&mut self) -> &'a str {
        let start = self.at;
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
        self.src.get(start..self.at).unwrap_or("")
    }

    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        loop {
            let Some(c) = self.peek() else {
                return Ok(self.token(TokenKind::Eof, self.pos));
            };
            let start = self.pos;
            if c.is_whitespace() {
                self.bump();
            } else if self.rest().starts_with("/*") {
                self.block_comment(start)?;
            } else if self.rest().starts_with("//") {
                self.bump();
                self.bump();
                let body = self.take_line().to_string();
                self.note_comment(start, CommentStyle::Line, body);
            } else if c == '#' {
                self.directive(start)?;
            } else if is_punct(c) {
                self.bump();
                let kind = match c {
                    '{' => TokenKind::LBrace,
                    '}' => TokenKind::RBrace,
                    '(' => TokenKind::LParen,
                    ')' => TokenKind::RParen,
                    ';' => TokenKind::Semi,
                    ',' => TokenKind::Comma,
                    _ => TokenKind::Star,
                };
                return Ok(self.token(kind, start));
            } else {
                let word = self.word();
                return Ok(self.token(TokenKind::Word(word), start));
            }
        }
    }

    fn word(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek() {
            let starts_comment = self.rest().starts_with("/*") || self.rest().starts_with("//");
            if c.is_whitespace() || is_punct(c) || starts_comment {
                break;
            }
            word.push(c);
            self.bump();
        }
        word
    }

    fn token(&mut self, kind: TokenKind, pos: Pos) -> Token {
        let doc = fold_doc(&std::mem::take(&mut self.pending_docs));
        self.last_token_line = self.pos.line;
        Token { kind, pos, doc }
    }

    fn block_comment(&mut self, start: Pos) -> Result<(), ParseError> {
        let body_start = self.at + 2;
        let Some(len) = self.rest().get(2..).and_then(|r| r.find("*/")) else {
            return Err(ParseError::new(start, "unterminated `/*` comment"));
        };
        let body = self.src.get(body_start..body_start + len).unwrap_or("");
        // Advance char by char so line/column stay right across the comment.
        let end = body_start + len + 2;
        while self.at < end {
            self.bump();
        }
        self.note_comment(start, CommentStyle::Block, body.to_string());
        Ok(())
    }

    fn note_comment(&mut self, start: Pos, style: CommentStyle, body: String) {
        if start.line != self.last_token_line {
            self.pending_docs.push(Comment { style, body });
        }
    }

    /// `#pragma …` is recorded; any other directive is an error, since we do
    /// not run a preprocessor and silently skipping `#include` would lie.
    fn directive(&mut self, start: Pos) -> Result<(), ParseError> {
        if !self.line_is_blank {
            return Err(ParseError::new(
                start,
                "`#` directives must start at the beginning of a line",
            ));
        }
        self.bump();
        let text = self.take_line().trim();
        let name: String = text
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name != "pragma" {
            let shown = if name.is_empty() {
                text.split_whitespace().next().unwrap_or("")
            } else {
                &name
            };
            return Err(ParseError::new(
                start,
                format!("unsupported preprocessor directive `#{shown}`; only #pragma is accepted"),
            ));
        }
        self.pragmas.push(Pragma {
            text: text.to_string(),
            pos: start,
        });
        // A pragma between a comment and a probe separates them.
        self.pending_docs.clear();
        Ok(())
    }
}

/// Turns the comments above a token into doc text: markers stripped, every
/// line trimmed, blank lines at either end of each comment dropped.
fn fold_doc(comments: &[Comment]) -> Option<String> {
    let mut doc: Vec<&str> = Vec::new();
    for comment in comments {
        let lines: Vec<&str> = comment
            .body
            .lines()
            .map(|line| {
                let line = line.trim();
                let line = match comment.style {
                    // ` * text` continuation lines and the extra `*` of `/**`.
                    CommentStyle::Block => line.strip_prefix('*').unwrap_or(line),
                    // `///` doc-style line comments.
                    CommentStyle::Line => line.trim_start_matches('/'),
                };
                line.trim()
            })
            .collect();
        let Some(first) = lines.iter().position(|l| !l.is_empty()) else {
            continue;
        };
        let last = lines.iter().rposition(|l| !l.is_empty()).unwrap_or(first);
        doc.extend(lines.get(first..=last).unwrap_or_default());
    }
    (!doc.is_empty()).then(|| doc.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().expect("lexes");
            if token.kind == TokenKind::Eof {
                return out;
            }
            out.push(token.kind);
        }
    }

    #[test]
    fn punctuation_and_words() {
        assert_eq!(
            kinds("probe a(char*x,int);}{"),
            vec![
                TokenKind::Word("probe".into()),
                TokenKind::Word("a".into()),
                TokenKind::LParen,
                TokenKind::Word("char".into()),
                TokenKind::Star,
                TokenKind::Word("x".into()),
                TokenKind::Comma,
                TokenKind::Word("int".into()),
                TokenKind::RParen,
                TokenKind::Semi,
                TokenKind::RBrace,
                TokenKind::LBrace,
            ]
        );
    }

    #[test]
    fn comment_directly_after_word_ends_it() {
        assert_eq!(
            kinds("a/*x*/b//y\nc"),
            vec![
                TokenKind::Word("a".into()),
                TokenKind::Word("b".into()),
                TokenKind::Word("c".into()),
            ]
        );
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let mut lexer = Lexer::new("/* é */ x\n\tyz");
        let x = lexer.next_token().expect("x");
        assert_eq!(x.pos, Pos { line: 1, col: 9 });
        let yz = lexer.next_token().expect("yz");
        assert_eq!(yz.pos, Pos { line: 2, col: 2 });
        let eof = lexer.next_token().expect("eof");
        assert_eq!(eof.pos, Pos { line: 2, col: 4 });
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let mut lexer = Lexer::new("\u{feff}x");
        assert_eq!(lexer.next_token().expect("x").pos, Pos { line: 1, col: 1 });
    }

    #[test]
    fn doc_folding_strips_markers() {
        let mut lexer = Lexer::new("/**\n * One.\n *   Two.  \n */\n// Three\n/// Four\nx");
        let x = lexer.next_token().expect("x");
        assert_eq!(x.doc.as_deref(), Some("One.\nTwo.\nThree\nFour"));
    }

    #[test]
    fn trailing_comment_is_not_doc_for_next_token() {
        let mut lexer = Lexer::new("a; // about a\nb");
        lexer.next_token().expect("a");
        lexer.next_token().expect(";");
        let b = lexer.next_token().expect("b");
        assert_eq!(b.doc, None);
    }

    #[test]
    fn empty_comment_is_no_doc() {
        let mut lexer = Lexer::new("/* */\n//\nx");
        assert_eq!(lexer.next_token().expect("x").doc, None);
    }
}
