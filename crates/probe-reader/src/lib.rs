//! Lists the USDT probes that SystemTap's `<sys/sdt.h>` (and DTrace-compatible
//! headers built on it) record in an ELF file's `.note.stapsdt` section.
//!
//! Works on executables, shared libraries and relocatable objects, ELFCLASS32
//! and ELFCLASS64, little and big endian. Only ELF is read: DOF and Mach-O
//! input is recognised and refused.
//!
//! # What the addresses mean
//!
//! * Linked files (executables, shared libraries): `pc`, `base` and
//!   `semaphore` are link-time virtual addresses exactly as stored in the
//!   note, the same numbers `readelf -n` prints. If the file was prelinked
//!   (moved after linking), the notes are not updated; the real address is
//!   `pc + (actual .stapsdt.base address - base)`, see [`Probe::adjusted_pc`].
//!   `semaphore_offset` already takes such a move into account.
//! * Relocatable objects (`.o`): the note's address fields are filled in by
//!   relocations, so the reader applies them the way `readelf -n` does: each
//!   value is the symbol value plus addend, which makes `pc` an offset into
//!   the probe's code section, `base` an offset into `.stapsdt.base` and
//!   `semaphore` an offset into the section holding the semaphore (usually
//!   `.probes`). A semaphore at offset 0 is therefore still `Some(0)`.
//!
//! # Damaged input
//!
//! Nothing here panics on bad input: every inconsistency is an [`Error`].
//! Provider and probe names that are not UTF-8 are converted lossily (bad
//! bytes become U+FFFD) so one damaged name does not hide the other probes.

mod args;
mod elf;
mod note;

use std::path::Path;

pub use args::{parse_args, Arg, ArgError};

/// One probe site. A probe used in several places has one `Probe` per site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Probe {
    pub provider: String,
    pub name: String,
    /// Address of the probe's `nop`, as stored (see the crate documentation).
    pub pc: u64,
    /// Link-time address of the `.stapsdt.base` section, as stored.
    pub base: u64,
    /// Address of the semaphore; `None` when the probe has none (stored as 0
    /// in a linked file; in a `.o` file, when no relocation fills the field).
    pub semaphore: Option<u64>,
    /// File offset of the semaphore, found through the section (or, lacking
    /// section headers for it, the `PT_LOAD` segment) that holds it. `None`
    /// when there is no semaphore or it lives in memory only (`.bss`).
    pub semaphore_offset: Option<u64>,
    /// `raw_args` split into arguments.
    pub args: Vec<Arg>,
    /// The argument string as stored, e.g. `-4@%edi 8@%rsi`.
    pub raw_args: String,
}

impl Probe {
    /// The probe's address after correcting for prelinking: pass the address
    /// `.stapsdt.base` really has (its section address in the file, or where it
    /// was loaded). Equal to `pc` when nothing moved.
    pub fn adjusted_pc(&self, stapsdt_base_addr: u64) -> u64 {
        self.pc
            .wrapping_add(stapsdt_base_addr.wrapping_sub(self.base))
    }

    /// The semaphore address corrected the same way as [`Probe::adjusted_pc`].
    pub fn adjusted_semaphore(&self, stapsdt_base_addr: u64) -> Option<u64> {
        let delta = stapsdt_base_addr.wrapping_sub(self.base);
        self.semaphore.map(|addr| addr.wrapping_add(delta))
    }
}

/// Why a file's probes could not be listed. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("not an ELF file")]
    NotElf,
    /// The input is a DOF or Mach-O file, which carry probes differently.
    #[error("not an ELF file (DOF/Mach-O reading is not supported yet)")]
    Unsupported,
    /// The ELF headers, section table or relocations are inconsistent.
    #[error("malformed ELF file: {0}")]
    Malformed(String),
    #[error("truncated .note.stapsdt note at offset {offset:#x}")]
    TruncatedNote { offset: u64 },
    #[error("descriptor of {size} bytes is too short for a probe in .note.stapsdt note at offset {offset:#x}")]
    ShortDescriptor { offset: u64, size: usize },
    #[error("unterminated provider or probe name in .note.stapsdt note at offset {offset:#x}")]
    UnterminatedName { offset: u64 },
    #[error("bad argument string in .note.stapsdt note at offset {offset:#x}: {reason}")]
    BadArguments { offset: u64, reason: ArgError },
}

/// Reads the file and lists its probes; see [`read_bytes`].
pub fn read_path(path: &Path) -> Result<Vec<Probe>, Error> {
    let data = std::fs::read(path).map_err(|error| Error::Io {
        path: path.display().to_string(),
        error,
    })?;
    read_bytes(&data)
}

/// Lists every probe of an ELF file, sorted by (provider, name, pc).
///
/// A file without a `.note.stapsdt` section (or without section headers)
/// has no probes: the result is empty, not an error.
pub fn read_bytes(data: &[u8]) -> Result<Vec<Probe>, Error> {
    let mut probes = match sniff(data) {
        Format::Elf32 => elf::read::<object::elf::FileHeader32<object::Endianness>>(data)?,
        Format::Elf64 => elf::read::<object::elf::FileHeader64<object::Endianness>>(data)?,
        Format::ElfBadClass => {
            return Err(Error::Malformed("unknown ELF class".into()));
        }
        Format::DofOrMachO => return Err(Error::Unsupported),
        Format::Unknown => return Err(Error::NotElf),
    };
    probes.sort_by(|a, b| (&a.provider, &a.name, a.pc).cmp(&(&b.provider, &b.name, b.pc)));
    Ok(probes)
}

enum Format {
    Elf32,
    Elf64,
    ElfBadClass,
    DofOrMachO,
    Unknown,
}

fn sniff(data: &[u8]) -> Format {
    const MACH_O_MAGICS: [[u8; 4]; 6] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
        // Universal ("fat") binaries, 32- and 64-bit headers.
        [0xca, 0xfe, 0xba, 0xbe],
        [0xca, 0xfe, 0xba, 0xbf],
    ];
    let Some(magic) = data.get(..4) else {
        return Format::Unknown;
    };
    if magic == b"\x7fELF" {
        // e_ident[EI_CLASS], the byte after the magic.
        return match data.get(4).copied() {
            Some(object::elf::ELFCLASS32) => Format::Elf32,
            Some(object::elf::ELFCLASS64) => Format::Elf64,
            _ => Format::ElfBadClass,
        };
    }
    if magic == b"\x7fDOF" || MACH_O_MAGICS.iter().any(|m| m == magic) {
        return Format::DofOrMachO;
    }
    Format::Unknown
}
