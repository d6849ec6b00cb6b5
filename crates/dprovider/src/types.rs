//! Folds C type-specifier words (`unsigned`, `long`, `const`, …) into a
//! `BaseType`. As in C, the words may come in any order (`long unsigned int`),
//! but each combination must name one real type.

use crate::ast::BaseType;

/// The fixed-width and pointer-sized typedefs D provider files may use.
fn typedef(word: &str) -> Option<BaseType> {
    let fixed = |bits, signed| Some(BaseType::Fixed { bits, signed });
    match word {
        "int8_t" => fixed(8, true),
        "int16_t" => fixed(16, true),
        "int32_t" => fixed(32, true),
        "int64_t" => fixed(64, true),
        "uint8_t" => fixed(8, false),
        "uint16_t" => fixed(16, false),
        "uint32_t" => fixed(32, false),
        "uint64_t" => fixed(64, false),
        "uintptr_t" => Some(BaseType::UintPtr),
        _ => None,
    }
}

/// Whether `word` can appear in a type's specifier list.
pub(crate) fn is_type_word(word: &str) -> bool {
    matches!(
        word,
        "const" | "signed" | "unsigned" | "void" | "char" | "short" | "int" | "long"
    ) || typedef(word).is_some()
}

#[derive(Debug, Default)]
pub(crate) struct TypeBuilder {
    words: Vec<String>,
    is_const: bool,
    signed: Option<bool>,
    voids: u8,
    chars: u8,
    shorts: u8,
    ints: u8,
    longs: u8,
    typedef: Option<BaseType>,
    typedefs: u8,
}

impl TypeBuilder {
    /// Adds one specifier word; the error text says why it does not fit.
    pub fn add(&mut self, word: &str) -> Result<(), String> {
        let before = self.words.join(" ");
        self.words.push(word.to_string());
        match word {
            "const" if self.is_const => return Err("duplicate `const`".into()),
            "const" => self.is_const = true,
            "signed" | "unsigned" => {
                let signed = word == "signed";
                match self.signed {
                    Some(s) if s == signed => return Err(format!("duplicate `{word}`")),
                    Some(_) => return Err("`signed` and `unsigned` cannot be combined".into()),
                    None => self.signed = Some(signed),
                }
            }
            "void" => self.voids = self.voids.saturating_add(1),
            "char" => self.chars = self.chars.saturating_add(1),
            "short" => self.shorts = self.shorts.saturating_add(1),
            "int" => self.ints = self.ints.saturating_add(1),
            "long" => self.longs = self.longs.saturating_add(1),
            other => {
                self.typedef = typedef(other);
                self.typedefs = self.typedefs.saturating_add(1);
            }
        }
        if self.is_valid() {
            Ok(())
        } else {
            Err(format!("`{word}` cannot follow `{before}` in a type"))
        }
    }

    fn is_valid(&self) -> bool {
        let others = |n: u8| {
            let total = u16::from(self.voids)
                + u16::from(self.chars)
                + u16::from(self.shorts)
                + u16::from(self.ints)
                + u16::from(self.longs)
                + u16::from(self.typedefs);
            total == u16::from(n)
        };
        if self.typedefs > 0 {
            // A typedef stands alone: `unsigned uint32_t` is not C.
            return self.typedefs == 1 && others(1) && self.signed.is_none();
        }
        if self.voids > 0 {
            return self.voids == 1 && others(1) && self.signed.is_none();
        }
        if self.chars > 0 {
            return self.chars == 1 && others(1);
        }
        if self.shorts > 0 {
            return self.shorts == 1 && self.longs == 0 && self.ints <= 1;
        }
        self.longs <= 2 && self.ints <= 1
    }

    /// The finished base type and constness, or `None` if no word named a
    /// type (only `const`, or nothing at all).
    pub fn finish(&self) -> Option<(BaseType, bool)> {
        let signed = self.signed != Some(false);
        let base = if let Some(t) = self.typedef {
            t
        } else if self.voids > 0 {
            BaseType::Void
        } else if self.chars > 0 {
            BaseType::Char {
                signed: self.signed,
            }
        } else if self.shorts > 0 {
            BaseType::Short { signed }
        } else if self.longs >= 2 {
            BaseType::LongLong { signed }
        } else if self.longs == 1 {
            BaseType::Long { signed }
        } else if self.ints > 0 || self.signed.is_some() {
            BaseType::Int { signed }
        } else {
            return None;
        };
        Some((base, self.is_const))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(words: &[&str]) -> Result<Option<(BaseType, bool)>, String> {
        let mut b = TypeBuilder::default();
        for w in words {
            b.add(w)?;
        }
        Ok(b.finish())
    }

    #[test]
    fn order_of_specifiers_does_not_matter() {
        let want = Some((BaseType::Long { signed: false }, true));
        assert_eq!(build(&["unsigned", "long", "int", "const"]), Ok(want));
        assert_eq!(build(&["int", "const", "long", "unsigned"]), Ok(want));
    }

    #[test]
    fn sign_alone_means_int() {
        assert_eq!(
            build(&["unsigned"]),
            Ok(Some((BaseType::Int { signed: false }, false)))
        );
        assert_eq!(
            build(&["signed"]),
            Ok(Some((BaseType::Int { signed: true }, false)))
        );
    }

    #[test]
    fn const_alone_is_not_a_type() {
        assert_eq!(build(&["const"]), Ok(None));
        assert_eq!(build(&[]), Ok(None));
    }

    #[test]
    fn bad_combinations_name_the_word() {
        assert_eq!(
            build(&["long", "char"]),
            Err("`char` cannot follow `long` in a type".into())
        );
        assert_eq!(
            build(&["long", "long", "long"]),
            Err("`long` cannot follow `long long` in a type".into())
        );
        assert_eq!(
            build(&["unsigned", "void"]),
            Err("`void` cannot follow `unsigned` in a type".into())
        );
        assert_eq!(
            build(&["signed", "uint32_t"]),
            Err("`uint32_t` cannot follow `signed` in a type".into())
        );
        assert_eq!(
            build(&["short", "long"]),
            Err("`long` cannot follow `short` in a type".into())
        );
        assert_eq!(
            build(&["int", "int"]),
            Err("`int` cannot follow `int` in a type".into())
        );
        assert_eq!(build(&["const", "const"]), Err("duplicate `const`".into()));
        assert_eq!(
            build(&["signed", "unsigned"]),
            Err("`signed` and `unsigned` cannot be combined".into())
        );
    }
}
