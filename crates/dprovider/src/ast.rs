//! The parsed form of a D provider file. Shared by the header generator, the
//! `dtrace`-compatible command and `verify`, so it stays small and plain.

/// A 1-based position in the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Everything a `.d` file declares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderFile {
    pub providers: Vec<Provider>,
    /// `#pragma` lines, verbatim without the leading `#`, in file order.
    pub pragmas: Vec<Pragma>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pragma {
    /// The text after `#`, e.g. `pragma D attributes Evolving/Evolving/Common provider python provider`.
    pub text: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub probes: Vec<Probe>,
    /// Where the `provider` keyword is.
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The name as written in the file, e.g. `function__entry`. This is also the
    /// name in ELF notes and in `bpftrace -l` listings.
    pub name: String,
    pub args: Vec<Arg>,
    /// Where the `probe` keyword is.
    pub pos: Pos,
    /// The text of the comment block directly above the probe, if any, with the
    /// comment markers stripped (lines trimmed, joined with `\n`). A comment
    /// that starts on the line of the previous token trails that token and is
    /// not included. Carries the per-probe documentation and tags
    /// such as `@since 3.8`.
    pub doc: Option<String>,
}

impl ProviderFile {
    /// The provider declared under `name`, if any.
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }
}

impl Provider {
    /// The probe declared under `name` (as written, e.g. `function__entry`).
    pub fn probe(&self, name: &str) -> Option<&Probe> {
        self.probes.iter().find(|p| p.name == name)
    }
}

impl Probe {
    /// The `X.Y` of the first `@since X.Y` tag in the doc comment: the first
    /// CPython version in which this probe fires (a patch level, as in
    /// `3.8.1`, is ignored). `None` if there is no tag or it is not of that form.
    pub fn since(&self) -> Option<(u32, u32)> {
        let doc = self.doc.as_deref()?;
        let mut words = doc.split_whitespace();
        words.find(|w| *w == "@since")?;
        // Tolerate sentence punctuation after the version: `@since 3.8.`
        let version = words
            .next()?
            .trim_end_matches(|c: char| !c.is_ascii_digit());
        let mut parts = version.split('.');
        let number = |part: Option<&str>| -> Option<u32> {
            let part = part.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
            part.parse().ok()
        };
        Some((number(parts.next())?, number(parts.next())?))
    }

    /// The macro stem used by generated headers: `function__entry` → `FUNCTION_ENTRY`.
    pub fn macro_stem(&self) -> String {
        self.name.replace("__", "_").to_ascii_uppercase()
    }

    /// The name as DTrace prints it in `dtrace -l`: `function__entry` → `function-entry`.
    pub fn dashed_name(&self) -> String {
        self.name.replace("__", "-")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub ty: CType,
    /// The argument name, when the file gives one.
    pub name: Option<String>,
}

/// A C type as accepted in probe argument lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CType {
    pub base: BaseType,
    pub is_const: bool,
    /// Number of `*`. `const char *` has 1.
    pub pointers: u8,
}

/// The scalar types D provider files use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseType {
    Void,
    /// `char`; `signed` is `None` for plain `char`.
    Char {
        signed: Option<bool>,
    },
    Short {
        signed: bool,
    },
    Int {
        signed: bool,
    },
    Long {
        signed: bool,
    },
    LongLong {
        signed: bool,
    },
    /// `int8_t` … `uint64_t`: bits is 8, 16, 32 or 64.
    Fixed {
        bits: u8,
        signed: bool,
    },
    UintPtr,
}

/// The data model a size is asked for: Linux/BSD/illumos 64-bit are LP64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataModel {
    Ilp32,
    Lp64,
}

impl CType {
    /// The canonical C spelling, e.g. `const char *`, `unsigned long`, `void *`.
    pub fn c_spelling(&self) -> String {
        let mut s = String::new();
        if self.is_const {
            s.push_str("const ");
        }
        s.push_str(self.base.c_spelling());
        if self.pointers > 0 {
            s.push(' ');
            for _ in 0..self.pointers {
                s.push('*');
            }
        }
        s
    }

    pub fn is_pointer(&self) -> bool {
        self.pointers > 0
    }

    /// Size in bytes of a value of this type in the given data model.
    /// `void` (no pointer) has size 0.
    pub fn size(&self, model: DataModel) -> u8 {
        if self.pointers > 0 {
            return match model {
                DataModel::Ilp32 => 4,
                DataModel::Lp64 => 8,
            };
        }
        self.base.size(model)
    }

    /// Whether the value is signed (pointers are not).
    pub fn is_signed(&self) -> bool {
        self.pointers == 0 && self.base.is_signed()
    }
}

impl BaseType {
    pub fn c_spelling(&self) -> &'static str {
        use BaseType::*;
        match *self {
            Void => "void",
            Char { signed: None } => "char",
            Char { signed: Some(true) } => "signed char",
            Char {
                signed: Some(false),
            } => "unsigned char",
            Short { signed: true } => "short",
            Short { signed: false } => "unsigned short",
            Int { signed: true } => "int",
            Int { signed: false } => "unsigned int",
            Long { signed: true } => "long",
            Long { signed: false } => "unsigned long",
            LongLong { signed: true } => "long long",
            LongLong { signed: false } => "unsigned long long",
            Fixed {
                bits: 8,
                signed: true,
            } => "int8_t",
            Fixed {
                bits: 16,
                signed: true,
            } => "int16_t",
            Fixed {
                bits: 32,
                signed: true,
            } => "int32_t",
            Fixed {
                bits: _,
                signed: true,
            } => "int64_t",
            Fixed {
                bits: 8,
                signed: false,
            } => "uint8_t",
            Fixed {
                bits: 16,
                signed: false,
            } => "uint16_t",
            Fixed {
                bits: 32,
                signed: false,
            } => "uint32_t",
            Fixed {
                bits: _,
                signed: false,
            } => "uint64_t",
            UintPtr => "uintptr_t",
        }
    }

    pub fn size(&self, model: DataModel) -> u8 {
        use BaseType::*;
        let word = match model {
            DataModel::Ilp32 => 4,
            DataModel::Lp64 => 8,
        };
        match *self {
            Void => 0,
            Char { .. } => 1,
            Short { .. } => 2,
            Int { .. } => 4,
            Long { .. } | UintPtr => word,
            LongLong { .. } => 8,
            Fixed { bits, .. } => bits / 8,
        }
    }

    pub fn is_signed(&self) -> bool {
        use BaseType::*;
        match *self {
            Void | UintPtr => false,
            // Plain char is signed on x86 and unsigned on arm; probe arguments of
            // type char are passed as signed by SystemTap's sdt.h on every target.
            Char { signed } => signed.unwrap_or(true),
            Short { signed } | Int { signed } | Long { signed } | LongLong { signed } => signed,
            Fixed { signed, .. } => signed,
        }
    }
}
