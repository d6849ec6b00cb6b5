//! Lists the USDT probes recorded in a binary, whichever way it records them:
//!
//! * SystemTap's `<sys/sdt.h>` (and DTrace-compatible headers built on it):
//!   `.note.stapsdt` notes of an ELF file (Linux);
//! * DTrace Object Format (DOF) in an ELF `.SUNW_dof` section (illumos,
//!   FreeBSD, Oracle Linux): executables, shared libraries and the objects
//!   `dtrace -G` writes, whose probe addresses are relative to functions;
//! * DOF in a Mach-O `__dof_<provider>` section of a linked image, and the
//!   `___dtrace_probe$…` / `___dtrace_isenabled$…` calls of a Mach-O object
//!   that is not linked yet (macOS);
//! * a bare DOF blob (a file that starts with `\x7fDOF`).
//!
//! [`read_bytes`] finds out which by itself; [`Probe::origin`] tells.
//! ELFCLASS32 and ELFCLASS64, 32- and 64-bit Mach-O, ILP32 and LP64 DOF, little
//! and big endian are all read.
//!
//! # What the addresses mean
//!
//! * Linked ELF files (executables, shared libraries): `pc`, `base` and
//!   `semaphore` are link-time virtual addresses exactly as stored in the
//!   note, the same numbers `readelf -n` prints. If the file was prelinked
//!   (moved after linking), the notes are not updated; the real address is
//!   `pc + (actual .stapsdt.base address - base)`, see [`Probe::adjusted_pc`].
//!   `semaphore_offset` already takes such a move into account.
//! * Relocatable ELF objects (`.o`): the note's address fields are filled in by
//!   relocations, so the reader applies them the way `readelf -n` does: each
//!   value is the symbol value plus addend, which makes `pc` an offset into
//!   the probe's code section, `base` an offset into `.stapsdt.base` and
//!   `semaphore` an offset into the section holding the semaphore (usually
//!   `.probes`). A semaphore at offset 0 is therefore still `Some(0)`.
//! * DTrace sites (see [`DtraceSite`]): `pc` is `base` plus the site's offset.
//!   `base` is the address of the function the site is in (ELF DOF:
//!   `dofpr_addr` after the relocations DTrace itself applies) or of the DOF
//!   section (Mach-O, whose DOF counts offsets from itself). In a relocatable
//!   object, addresses are section offsets as above; when the function is not
//!   defined in the object (the usual `dtrace -G` output, linked later with
//!   the code) no address exists: [`DtraceSite::relative_to`] names the
//!   symbol and `pc` is the offset from it.
//!
//! # Damaged input
//!
//! Nothing here panics on bad input: every inconsistency is an [`Error`], and
//! counts read from the input never size an allocation beyond what the input
//! itself can back. Provider and probe names that are not UTF-8 are converted
//! lossily (bad bytes become U+FFFD) so one damaged name does not hide the
//! other probes.

mod args;
mod ctype;
mod dof;
mod elf;
mod macho;
mod note;

use std::fmt;
use std::path::Path;

pub use args::{parse_args, Arg, ArgError};

/// One probe site. A probe used in several places has one `Probe` per site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Probe {
    pub provider: String,
    /// The probe name as the provider's D file declares it and SystemTap
    /// notes store it: `function__entry`. DTrace shows each `__` as `-`
    /// (`function-entry`, kept in [`DtraceSite::dtrace_name`]); DOF stores that
    /// form and the reader turns it back, so names compare across formats.
    pub name: String,
    /// Address of the probe site (see the crate documentation).
    pub pc: u64,
    /// stapsdt: link-time address of the `.stapsdt.base` section, as stored.
    /// DTrace sites: the address `pc` counts from (function or DOF section);
    /// 0 when [`DtraceSite::relative_to`] is set.
    pub base: u64,
    /// Address of the semaphore; `None` when the probe has none (stored as 0
    /// in a linked file; in a `.o` file, when no relocation fills the field).
    /// DTrace sites have none: they use is-enabled sites instead.
    pub semaphore: Option<u64>,
    /// File offset of the semaphore, found through the section (or, lacking
    /// section headers for it, the `PT_LOAD` segment) that holds it. `None`
    /// when there is no semaphore or it lives in memory only (`.bss`).
    pub semaphore_offset: Option<u64>,
    /// The arguments: `raw_args` split (stapsdt), or one per native argument
    /// type with its size and signedness in [`Probe::model`] (DTrace, see
    /// [`Arg::ty`]).
    pub args: Vec<Arg>,
    /// The argument string as stored, e.g. `-4@%edi 8@%rsi`; for DTrace sites
    /// the native argument types, joined by `, `.
    pub raw_args: String,
    /// Where the probe was found.
    pub origin: Origin,
    /// Sizes of `long` and pointers in the traced code: the ELF class for
    /// stapsdt notes, `DOF_ID_MODEL` for DOF, the Mach-O header otherwise.
    pub model: DataModel,
    /// What DTrace records besides: function, offset, is-enabled, types.
    /// `None` for stapsdt notes.
    pub dtrace: Option<DtraceSite>,
}

/// How a probe site was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A `.note.stapsdt` note of an ELF file.
    StapsdtNote,
    /// DOF in an ELF `.SUNW_dof` section.
    ElfDof,
    /// DOF in a Mach-O `__dof_*` section.
    MachODof,
    /// A call to a `___dtrace_probe$…` or `___dtrace_isenabled$…` symbol in a
    /// Mach-O object that the linker has not turned into DOF yet.
    MachOSymbol,
    /// A bare DOF blob.
    Dof,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::StapsdtNote => "stapsdt",
            Origin::ElfDof => "elf-dof",
            Origin::MachODof => "macho-dof",
            Origin::MachOSymbol => "macho-symbol",
            Origin::Dof => "dof",
        })
    }
}

/// C data model of the traced code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataModel {
    /// `int`, `long` and pointers are 4 bytes.
    Ilp32,
    /// `long` and pointers are 8 bytes.
    Lp64,
}

impl DataModel {
    /// Size of `long` and of pointers.
    pub fn word_size(self) -> u8 {
        match self {
            DataModel::Ilp32 => 4,
            DataModel::Lp64 => 8,
        }
    }
}

/// What DTrace records about a site beyond its address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DtraceSite {
    /// The function the site is in (`dofpr_func`; for Mach-O objects the
    /// symbol before the call, without the leading `_`, as DTrace names it).
    /// Empty when unknown.
    pub function: String,
    /// The site's offset as recorded: from the function's start (ELF DOF,
    /// Mach-O objects) or from the DOF section (Mach-O DOF, where it is
    /// usually negative).
    pub offset: i64,
    /// `Some(symbol)` when the address is unknown because the function is not
    /// defined in this file (a `dtrace -G` object): `pc` is then the offset
    /// from that symbol.
    pub relative_to: Option<String>,
    /// An is-enabled site (the `*_ENABLED()` test DTrace patches to return
    /// 1), not a site where the probe fires. It carries the probe's argument
    /// types like the probe's other sites.
    pub is_enabled: bool,
    /// The probe name as DTrace shows it: `function-entry`.
    pub dtrace_name: String,
    /// Native argument types (`dofpr_nargv`), e.g. `char *`.
    pub native_types: Vec<String>,
    /// Translated argument types (`dofpr_xargv`), what D's `args[]` sees.
    pub translated_types: Vec<String>,
    /// For each translated argument, the native argument it comes from.
    pub arg_map: Vec<u8>,
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

    /// Whether this is a DTrace is-enabled site.
    pub fn is_enabled_site(&self) -> bool {
        self.dtrace.as_ref().is_some_and(|d| d.is_enabled)
    }

    /// `pc` for printing: `0x4011d6`, or `symbol+0x1c` for a site whose
    /// function is not defined in the file.
    pub fn location(&self) -> String {
        match self.dtrace.as_ref().and_then(|d| d.relative_to.as_deref()) {
            Some(symbol) => format!("{symbol}+{:#x}", self.pc),
            None => format!("{:#x}", self.pc),
        }
    }

    /// The arguments for printing: the note's `SIZE@OPERAND` list, or the
    /// DTrace types separated by `, `.
    pub fn args_text(&self) -> String {
        let args: Vec<String> = self.args.iter().map(ToString::to_string).collect();
        args.join(if self.dtrace.is_some() { ", " } else { " " })
    }
}

/// Why a file's probes could not be listed. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// Neither ELF, Mach-O nor DOF.
    #[error("not an ELF file, Mach-O file or DOF")]
    NotElf,
    /// A universal ("fat") Mach-O file holds one image per architecture.
    #[error("universal (fat) Mach-O file: extract one architecture first (lipo -thin ARCH)")]
    Unsupported,
    /// The ELF headers, section table or relocations are inconsistent.
    #[error("malformed ELF file: {0}")]
    Malformed(String),
    /// The Mach-O headers, load commands or symbols are inconsistent.
    #[error("malformed Mach-O file: {0}")]
    MalformedMachO(String),
    #[error("truncated .note.stapsdt note at offset {offset:#x}")]
    TruncatedNote { offset: u64 },
    #[error("descriptor of {size} bytes is too short for a probe in .note.stapsdt note at offset {offset:#x}")]
    ShortDescriptor { offset: u64, size: usize },
    #[error("unterminated provider or probe name in .note.stapsdt note at offset {offset:#x}")]
    UnterminatedName { offset: u64 },
    #[error("bad argument string in .note.stapsdt note at offset {offset:#x}: {reason}")]
    BadArguments { offset: u64, reason: ArgError },
    /// DOF that DTrace would refuse, or that cannot be read. `at` says which
    /// container and section it came from.
    #[error("malformed DOF in {at}: {reason}")]
    Dof { at: String, reason: String },
    /// A Mach-O `___dtrace_probe$…` symbol that does not decode.
    #[error("malformed DTrace probe symbol {symbol} in Mach-O object: {reason}")]
    BadProbeSymbol { symbol: String, reason: String },
}

/// Reads the file and lists its probes; see [`read_bytes`].
pub fn read_path(path: &Path) -> Result<Vec<Probe>, Error> {
    let data = std::fs::read(path).map_err(|error| Error::Io {
        path: path.display().to_string(),
        error,
    })?;
    read_bytes(&data)
}

/// Lists every probe site of an ELF file, Mach-O file or bare DOF, sorted by
/// (provider, name, pc), then is-enabled sites after the others.
///
/// A file without probes (no `.note.stapsdt`, `.SUNW_dof` or `__dof_*`
/// section, or no section headers) gives an empty list, not an error.
pub fn read_bytes(data: &[u8]) -> Result<Vec<Probe>, Error> {
    let mut probes = match sniff(data) {
        Container::Elf32 => elf::read::<object::elf::FileHeader32<object::Endianness>>(data)?,
        Container::Elf64 => elf::read::<object::elf::FileHeader64<object::Endianness>>(data)?,
        Container::ElfBadClass => {
            return Err(Error::Malformed("unknown ELF class".into()));
        }
        Container::MachO => macho::read(data)?,
        Container::MachOFat => return Err(Error::Unsupported),
        Container::Dof => return read_dof(data),
        Container::Unknown => return Err(Error::NotElf),
    };
    sort(&mut probes);
    Ok(probes)
}

/// Lists the probe sites of a bare DOF blob (as `dtrace -G` builds it before
/// wrapping it in an ELF object, or as dumped from a `.SUNW_dof` section).
///
/// With no container to say where the DOF is loaded, it is taken to be at
/// address 0: `pc` is `dofpr_addr` plus the offset, where a `DOF_RELO_DOFREL`
/// address counts from its own field. A probe whose `dofpr_addr` is still 0
/// while DTrace relocates it through a symbol is reported relative to that
/// symbol. Several DOF blobs one after the other (8-byte aligned) are read in
/// turn.
pub fn read_dof(data: &[u8]) -> Result<Vec<Probe>, Error> {
    let mut probes = Vec::new();
    let mut budget = dof::Budget::new();
    for (start, parsed) in dof::parse_all(data, &mut budget) {
        let at = || format!("bare DOF at offset {start:#x}");
        let parsed = parsed.map_err(|reason| Error::Dof { at: at(), reason })?;
        let sites = dof::sites(
            &parsed,
            Origin::Dof,
            dof::Layout::WIDE,
            &mut budget,
            |entry| {
                Ok(match &entry.relocation {
                    Some(relocation) if entry.addr == 0 => {
                        dof::Base::Relative(relocation.symbol.clone())
                    }
                    Some(relocation) if relocation.pc_relative => dof::Base::Address(
                        entry.addr.wrapping_add(start as u64 + entry.addr_offset),
                    ),
                    _ => dof::Base::Address(entry.addr),
                })
            },
        )
        .map_err(|reason| Error::Dof { at: at(), reason })?;
        probes.extend(sites);
    }
    sort(&mut probes);
    Ok(probes)
}

fn sort(probes: &mut [Probe]) {
    probes.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
}

fn sort_key(p: &Probe) -> (&str, &str, u64, bool, Option<&str>) {
    (
        &p.provider,
        &p.name,
        p.pc,
        p.is_enabled_site(),
        p.dtrace.as_ref().map(|d| d.function.as_str()),
    )
}

enum Container {
    Elf32,
    Elf64,
    ElfBadClass,
    MachO,
    MachOFat,
    Dof,
    Unknown,
}

fn sniff(data: &[u8]) -> Container {
    const MACH_O_MAGICS: [[u8; 4]; 4] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    // Universal ("fat") binaries, 32- and 64-bit headers.
    const FAT_MAGICS: [[u8; 4]; 2] = [[0xca, 0xfe, 0xba, 0xbe], [0xca, 0xfe, 0xba, 0xbf]];
    let Some(magic) = data.get(..4) else {
        return Container::Unknown;
    };
    if magic == b"\x7fELF" {
        // e_ident[EI_CLASS], the byte after the magic.
        return match data.get(4).copied() {
            Some(object::elf::ELFCLASS32) => Container::Elf32,
            Some(object::elf::ELFCLASS64) => Container::Elf64,
            _ => Container::ElfBadClass,
        };
    }
    if magic == dof::MAGIC {
        return Container::Dof;
    }
    if MACH_O_MAGICS.iter().any(|m| m == magic) {
        return Container::MachO;
    }
    if FAT_MAGICS.iter().any(|m| m == magic) {
        return Container::MachOFat;
    }
    Container::Unknown
}
