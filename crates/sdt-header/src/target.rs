//! The architectures the self-contained SDT header writes notes for.

use crate::Error;

/// Both are LP64 with `.8byte` addresses, a plain `nop`, and gcc/clang print
/// `"nor"` operands in the syntax SDT consumers parse (`%rax`, `-8(%rbp)`,
/// `$5` / `x0`, `[sp, 8]`, `5`). 32-bit targets would need `.4byte` and, on
/// i386, the `%k` operand modifier; they are refused rather than half-done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// Accepts an arch name or a target triple: `x86_64`, `amd64`,
    /// `x86_64-unknown-linux-gnu`, `aarch64`, `arm64`, `aarch64-linux-gnu`, …
    pub fn parse(target: &str) -> Result<Arch, Error> {
        let arch = target.split('-').next().unwrap_or(target);
        match arch {
            "x86_64" | "amd64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            _ => Err(Error::UnsupportedTarget(target.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_and_triples() {
        assert_eq!(Arch::parse("x86_64"), Ok(Arch::X86_64));
        assert_eq!(Arch::parse("x86_64-unknown-linux-gnu"), Ok(Arch::X86_64));
        assert_eq!(Arch::parse("aarch64-linux-gnu"), Ok(Arch::Aarch64));
        assert_eq!(Arch::parse("arm64"), Ok(Arch::Aarch64));
    }

    #[test]
    fn refuses_other_architectures_with_the_way_out() {
        let err = Arch::parse("riscv64gc-unknown-linux-gnu").unwrap_err();
        assert_eq!(
            err.to_string(),
            "riscv64gc-unknown-linux-gnu: self-contained SDT notes are written for x86_64 \
             and aarch64 only; use --style sdt with <sys/sdt.h>"
        );
        assert!(Arch::parse("i686").is_err());
    }
}
