//! Recursive-descent parser for the provider subset of D:
//!
//! ```text
//! file     := provider*                      (pragmas are taken by the lexer)
//! provider := "provider" NAME "{" probe* "}" ";"
//! probe    := "probe" NAME "(" args ")" ";"
//! args     := ε | "void" | arg ("," arg)*
//! arg      := specifier+ "*"* NAME?
//! ```

use crate::ast::*;
use crate::lexer::{Lexer, Token, TokenKind};
use crate::types::TypeBuilder;

/// A parse error: `line:col: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {reason}")]
pub struct ParseError {
    pub pos: Pos,
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(pos: Pos, reason: impl Into<String>) -> Self {
        ParseError {
            pos,
            reason: reason.into(),
        }
    }
}

/// Parses the text of a `.d` provider file.
pub fn parse(src: &str) -> Result<ProviderFile, ParseError> {
    let mut parser = Parser::new(src)?;
    let mut providers: Vec<Provider> = Vec::new();
    loop {
        let token = parser.bump()?;
        match token.word() {
            None if token.kind == TokenKind::Eof => break,
            Some("provider") => {
                let provider = parser.provider(token.pos, &providers)?;
                providers.push(provider);
            }
            _ => {
                return Err(ParseError::new(
                    token.pos,
                    format!(
                        "expected `provider` or `#pragma` at top level, found {}",
                        token.describe()
                    ),
                ))
            }
        }
    }
    Ok(ProviderFile {
        providers,
        pragmas: parser.lexer.pragmas,
    })
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// One token of lookahead. Lexing lazily keeps errors in file order.
    next: Token,
}

/// Words that can never be a provider, probe or argument name.
fn is_reserved(word: &str) -> bool {
    matches!(word, "provider" | "probe") || crate::types::is_type_word(word)
}

fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, ParseError> {
        let mut lexer = Lexer::new(src);
        let next = lexer.next_token()?;
        Ok(Parser { lexer, next })
    }

    fn peek(&self) -> &Token {
        &self.next
    }

    fn bump(&mut self) -> Result<Token, ParseError> {
        let following = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.next, following))
    }

    /// Consumes the expected punctuation or fails with `expected <what>, found …`.
    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<Token, ParseError> {
        if self.peek().kind == kind {
            self.bump()
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &str) -> ParseError {
        ParseError::new(
            self.peek().pos,
            format!("expected {what}, found {}", self.peek().describe()),
        )
    }

    /// Consumes a name (provider, probe or argument); `what` is e.g. "probe name".
    fn name(&mut self, what: &str, context: &str) -> Result<(String, Pos), ParseError> {
        let Some(word) = self.peek().word() else {
            return Err(self.unexpected(&format!("{what} {context}")));
        };
        let pos = self.peek().pos;
        if !is_identifier(word) {
            return Err(ParseError::new(
                pos,
                format!(
                    "invalid {what} `{word}`: names may contain only ASCII letters, digits and `_`, and may not start with a digit"
                ),
            ));
        }
        if is_reserved(word) {
            return Err(ParseError::new(
                pos,
                format!("`{word}` is a reserved word, not a valid {what}"),
            ));
        }
        let word = word.to_string();
        self.bump()?;
        Ok((word, pos))
    }

    /// After the `provider` keyword at `pos`; `earlier` are the providers
    /// already declared, which this one must not repeat.
    fn provider(&mut self, pos: Pos, earlier: &[Provider]) -> Result<Provider, ParseError> {
        let (name, name_pos) = self.name("provider name", "after `provider`")?;
        if let Some(first) = earlier.iter().find(|p| p.name == name) {
            return Err(ParseError::new(
                name_pos,
                format!(
                    "duplicate provider `{name}` (first declared at {})",
                    first.pos
                ),
            ));
        }
        self.expect(
            TokenKind::LBrace,
            &format!("`{{` after provider name `{name}`"),
        )?;
        let mut probes: Vec<Probe> = Vec::new();
        loop {
            let token = self.bump()?;
            match (&token.kind, token.word()) {
                (TokenKind::RBrace, _) => break,
                (_, Some("probe")) => {
                    let probe = self.probe(token, &name, &probes)?;
                    probes.push(probe);
                }
                (TokenKind::Eof, _) => {
                    return Err(ParseError::new(
                        token.pos,
                        format!(
                            "unexpected end of file inside provider `{name}` (opened at {pos}); expected `probe` or `}};`"
                        ),
                    ))
                }
                _ => {
                    return Err(ParseError::new(
                        token.pos,
                        format!(
                            "expected `probe` or `}}` in provider `{name}`, found {}",
                            token.describe()
                        ),
                    ))
                }
            }
        }
        self.expect(
            TokenKind::Semi,
            &format!("`;` after `}}` closing provider `{name}`"),
        )?;
        Ok(Provider { name, probes, pos })
    }

    /// After the `probe` keyword token, inside `provider`, whose probes so
    /// far are `earlier`.
    fn probe(
        &mut self,
        keyword: Token,
        provider: &str,
        earlier: &[Probe],
    ) -> Result<Probe, ParseError> {
        let (name, name_pos) = self.name("probe name", "after `probe`")?;
        if let Some(first) = earlier.iter().find(|p| p.name == name) {
            return Err(ParseError::new(
                name_pos,
                format!(
                    "duplicate probe `{name}` in provider `{provider}` (first declared at {})",
                    first.pos
                ),
            ));
        }
        self.expect(TokenKind::LParen, &format!("`(` after probe name `{name}`"))?;
        let args = self.args()?;
        self.expect(TokenKind::Semi, &format!("`;` after probe `{name}`"))?;
        Ok(Probe {
            name,
            args,
            pos: keyword.pos,
            doc: keyword.doc,
        })
    }

    /// After `(`, through the closing `)`.
    fn args(&mut self) -> Result<Vec<Arg>, ParseError> {
        if self.peek().kind == TokenKind::RParen {
            self.bump()?;
            return Ok(Vec::new());
        }
        let mut args: Vec<(Arg, Pos)> = Vec::new();
        loop {
            let start = self.peek().pos;
            let (arg, name_pos) = self.arg()?;
            if let (Some(name), Some(name_pos)) = (&arg.name, name_pos) {
                if args.iter().any(|(a, _)| a.name.as_ref() == Some(name)) {
                    return Err(ParseError::new(
                        name_pos,
                        format!("duplicate argument name `{name}`"),
                    ));
                }
            }
            args.push((arg, start));
            let token = self.bump()?;
            match token.kind {
                TokenKind::Comma => {}
                TokenKind::RParen => break,
                _ => {
                    return Err(ParseError::new(
                        token.pos,
                        format!(
                            "expected `,` or `)` after argument, found {}",
                            token.describe()
                        ),
                    ))
                }
            }
        }
        // `(void)` is C for "no arguments"; anywhere else a bare `void` is a
        // value of no size, which no probe can pass.
        let is_bare_void = |a: &Arg| a.ty.base == BaseType::Void && a.ty.pointers == 0;
        if let [(only, _)] = args.as_slice() {
            if is_bare_void(only) && !only.ty.is_const && only.name.is_none() {
                return Ok(Vec::new());
            }
        }
        if let Some((_, pos)) = args.iter().find(|(a, _)| is_bare_void(a)) {
            return Err(ParseError::new(
                *pos,
                "`void` is only allowed alone, as `(void)`; use `void *` for a pointer argument",
            ));
        }
        Ok(args.into_iter().map(|(a, _)| a).collect())
    }

    /// One argument: type specifiers, pointer stars, optional name (and
    /// where the name is).
    fn arg(&mut self) -> Result<(Arg, Option<Pos>), ParseError> {
        let mut ty = TypeBuilder::default();
        while let Some(word) = self.peek().word() {
            if !crate::types::is_type_word(word) {
                break;
            }
            let word = word.to_string();
            ty.add(&word)
                .map_err(|e| ParseError::new(self.peek().pos, e))?;
            self.bump()?;
        }
        let Some((base, is_const)) = ty.finish() else {
            return Err(match self.peek().word() {
                Some(word) if is_identifier(word) => {
                    ParseError::new(self.peek().pos, format!("unknown type `{word}`"))
                }
                _ => self.unexpected("an argument type"),
            });
        };
        let mut pointers: u8 = 0;
        while self.peek().kind == TokenKind::Star {
            pointers = pointers
                .checked_add(1)
                .ok_or_else(|| ParseError::new(self.peek().pos, "too many `*` in argument type"))?;
            self.bump()?;
        }
        let name = match self.peek().word() {
            None => None,
            Some("const") => {
                return Err(ParseError::new(
                    self.peek().pos,
                    "`const` after `*` (a const pointer) is not supported; write `const` before the `*`",
                ))
            }
            // The loop above took every specifier, so this one follows a `*`.
            Some(word) if crate::types::is_type_word(word) => {
                return Err(self.unexpected("argument name, `,` or `)` after `*`"))
            }
            Some(_) => Some(self.name("argument name", "after the type")?),
        };
        let arg = Arg {
            ty: CType {
                base,
                is_const,
                pointers,
            },
            name: name.as_ref().map(|(n, _)| n.clone()),
        };
        Ok((arg, name.map(|(_, pos)| pos)))
    }
}
