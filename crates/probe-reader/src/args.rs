//! The argument string of a stapsdt note, e.g. `-4@%edi 8@%r8 8f@%xmm0`.
//!
//! `sys/sdt.h` writes one `[-]SIZE[f]@OPERAND` per argument, separated by
//! single spaces: `-` marks a signed value, `f` a floating-point one, and
//! OPERAND is the assembler operand that holds the value at the probe site.
//!
//! DTrace records C types instead (`char *`); the reader derives the same
//! size, sign and floatness from them and keeps the type in [`Arg::ty`].

use std::fmt;

/// One probe argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arg {
    /// Size of the value in bytes.
    pub size: u8,
    /// The size was written with a leading `-`.
    pub signed: bool,
    /// The size was followed by `f` (a `float`/`double` argument).
    pub float: bool,
    /// Where the value lives, in the target's assembler syntax:
    /// `%rax`, `-4(%rbp)`, `$42`, or on aarch64 `[sp, 8]`. Empty for DTrace
    /// arguments, which are passed as function arguments.
    pub operand: String,
    /// The C type DTrace records (`dofpr_nargv`), e.g. `char *`; `None` for
    /// stapsdt arguments. `size` is then the type's size in the probe's data
    /// model, or 0 for a type the reader does not know (a `struct`, an
    /// unknown typedef).
    pub ty: Option<String>,
}

/// Prints the argument back in the note's own `[-]SIZE[f]@OPERAND` form, or
/// a DTrace argument as its C type.
impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ty) = &self.ty {
            return f.write_str(ty);
        }
        let sign = if self.signed { "-" } else { "" };
        let float = if self.float { "f" } else { "" };
        write!(f, "{sign}{}{float}@{}", self.size, self.operand)
    }
}

/// Why an argument string could not be split into arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("argument {0:?} does not start with SIZE@")]
    MissingSize(String),
    #[error("argument {0:?} has a size outside 1..=255")]
    BadSize(String),
    #[error("argument {0:?} has no operand")]
    EmptyOperand(String),
}

/// Splits a note's argument string into arguments.
///
/// A new argument starts at every space-separated token that begins with
/// `[-]DIGITS[f]@`; any other token continues the previous operand. That keeps
/// operands with a space inside, such as aarch64's `-4@[sp, 8]`, in one piece.
/// The empty string (a probe without arguments) gives no arguments.
pub fn parse_args(raw: &str) -> Result<Vec<Arg>, ArgError> {
    let mut args: Vec<Arg> = Vec::new();
    for token in raw.split_ascii_whitespace() {
        match parse_token(token)? {
            Some(arg) => args.push(arg),
            None => match args.last_mut() {
                Some(previous) => {
                    previous.operand.push(' ');
                    previous.operand.push_str(token);
                }
                None => return Err(ArgError::MissingSize(token.to_owned())),
            },
        }
    }
    Ok(args)
}

/// Reads `[-]DIGITS[f]@OPERAND`; `None` when the token has no such prefix.
fn parse_token(token: &str) -> Result<Option<Arg>, ArgError> {
    let Some((spec, operand)) = token.split_once('@') else {
        return Ok(None);
    };
    let (signed, spec) = match spec.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let (float, digits) = match spec.strip_suffix('f') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let size = match digits.parse::<u8>() {
        Ok(size) if size > 0 => size,
        _ => return Err(ArgError::BadSize(token.to_owned())),
    };
    if operand.is_empty() {
        return Err(ArgError::EmptyOperand(token.to_owned()));
    }
    Ok(Some(Arg {
        size,
        signed,
        float,
        operand: operand.to_owned(),
        ty: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(size: u8, signed: bool, float: bool, operand: &str) -> Arg {
        Arg {
            size,
            signed,
            float,
            operand: operand.to_owned(),
            ty: None,
        }
    }

    #[test]
    fn x86_64_arguments() {
        let args = parse_args("8@%rax -4@-4(%rbp) 8f@%xmm0 -2@$-7").unwrap();
        assert_eq!(
            args,
            vec![
                arg(8, false, false, "%rax"),
                arg(4, true, false, "-4(%rbp)"),
                arg(8, false, true, "%xmm0"),
                arg(2, true, false, "$-7"),
            ]
        );
    }

    #[test]
    fn aarch64_operand_with_a_space_stays_whole() {
        let args = parse_args("-4@[sp, 8] 8@x1 -8f@[x29, -16]").unwrap();
        assert_eq!(
            args,
            vec![
                arg(4, true, false, "[sp, 8]"),
                arg(8, false, false, "x1"),
                arg(8, true, true, "[x29, -16]"),
            ]
        );
    }

    #[test]
    fn at_sign_inside_operand_is_kept() {
        let args = parse_args("8@foo@GOTPCREL(%rip)").unwrap();
        assert_eq!(args, vec![arg(8, false, false, "foo@GOTPCREL(%rip)")]);
    }

    #[test]
    fn empty_string_means_no_arguments() {
        assert_eq!(parse_args("").unwrap(), vec![]);
        assert_eq!(parse_args("   ").unwrap(), vec![]);
    }

    #[test]
    fn display_round_trips() {
        let raw = "-4@%edi 8@%r8 8f@%rax -4@[sp, 8]";
        let shown: Vec<String> = parse_args(raw)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown.join(" "), raw);
    }

    #[test]
    fn malformed_arguments_are_errors() {
        assert_eq!(
            parse_args("%rax"),
            Err(ArgError::MissingSize("%rax".into()))
        );
        assert_eq!(
            parse_args("0@%rax"),
            Err(ArgError::BadSize("0@%rax".into()))
        );
        assert_eq!(
            parse_args("256@%rax"),
            Err(ArgError::BadSize("256@%rax".into()))
        );
        assert_eq!(
            parse_args("99999999999999999999@%rax"),
            Err(ArgError::BadSize("99999999999999999999@%rax".into()))
        );
        assert_eq!(parse_args("4@"), Err(ArgError::EmptyOperand("4@".into())));
        // `x@…` has no numeric size, so it is not an argument start.
        assert_eq!(
            parse_args("x@%rax"),
            Err(ArgError::MissingSize("x@%rax".into()))
        );
    }
}
