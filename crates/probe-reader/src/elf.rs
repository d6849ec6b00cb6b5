//! Finds the `.note.stapsdt` and `.SUNW_dof` sections of an ELF file and
//! turns their notes and DOF into [`Probe`]s: relocations for `.o` files,
//! semaphore file offsets, function addresses of DOF probes.

use std::collections::HashMap;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, Rel, Rela, SectionHeader, SectionTable, Sym};
use object::{Endianness, SectionIndex};

use crate::dof::{self, Base, Budget};
use crate::note::{self, Layout, RawProbe};
use crate::{args, DataModel, Error, Origin, Probe};

const NOTE_SECTION: &[u8] = b".note.stapsdt";
const BASE_SECTION: &[u8] = b".stapsdt.base";
const DOF_SECTION: &[u8] = b".SUNW_dof";
/// `SHT_SUNW_dof` of illumos `<sys/elf.h>`, which FreeBSD's `dtrace -G` uses
/// too (and GNU for `SHT_GNU_SFRAME`).
const SHT_SUNW_DOF: u32 = 0x6fff_fff4;

/// Lists the probes of one ELF file, unsorted.
pub(crate) fn read<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<Vec<Probe>, Error> {
    let header = Elf::parse(data).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let file = ElfFile::<Elf> {
        endian,
        data,
        sections: header.sections(endian, data).map_err(malformed)?,
        segments: header.program_headers(endian, data).map_err(malformed)?,
        layout: Layout {
            endian,
            addr_size: if header.is_class_64() { 8 } else { 4 },
        },
        relocatable: header.e_type(endian) == elf::ET_REL,
        is_mips64el: header.is_mips64el(endian),
        model: if header.is_class_64() {
            DataModel::Lp64
        } else {
            DataModel::Ilp32
        },
    };
    let base_addr = file.stapsdt_base_addr()?;

    let mut probes = Vec::new();
    for (index, section) in file.sections.enumerate() {
        let name = file
            .sections
            .section_name(endian, section)
            .map_err(malformed)?;
        if name != NOTE_SECTION || section.sh_type(endian) == elf::SHT_NOBITS {
            continue;
        }
        let bytes = section.data(endian, data).map_err(malformed)?;
        let align = if section.sh_addralign(endian).into() == 8 {
            8
        } else {
            4
        };
        let relocations = if file.relocatable {
            file.relocations_for(index)?
        } else {
            HashMap::new()
        };
        for raw in note::stapsdt_notes(bytes, section.sh_offset(endian).into(), align, file.layout)?
        {
            probes.push(file.probe(raw, &relocations, base_addr)?);
        }
    }
    file.read_dof(&mut probes)?;
    Ok(probes)
}

fn malformed(error: object::read::Error) -> Error {
    Error::Malformed(error.to_string())
}

struct ElfFile<'data, Elf: FileHeader<Endian = Endianness>> {
    endian: Endianness,
    data: &'data [u8],
    sections: SectionTable<'data, Elf>,
    segments: &'data [Elf::ProgramHeader],
    layout: Layout,
    relocatable: bool,
    is_mips64el: bool,
    model: DataModel,
}

/// A relocation that fills one address field of a note in a `.o` file.
#[derive(Debug, Clone)]
struct Relocation {
    symbol_value: u64,
    /// `None` for REL sections, whose addend is the value stored in place.
    addend: Option<i64>,
    /// The section the symbol is defined in, if any.
    section: Option<SectionIndex>,
    /// The symbol's name (empty without a symbol or a readable name).
    symbol_name: String,
    /// Whether the symbol is defined in this file (or there is no symbol).
    defined: bool,
}

/// An address field after relocation.
struct Field {
    value: u64,
    relocated_into: Option<Option<SectionIndex>>,
}

impl<'data, Elf: FileHeader<Endian = Endianness>> ElfFile<'data, Elf> {
    fn probe(
        &self,
        raw: RawProbe,
        relocations: &HashMap<u64, Relocation>,
        base_addr: Option<u64>,
    ) -> Result<Probe, Error> {
        let [pc, base, semaphore] = [0, 1, 2].map(|i| self.field(&raw, i, relocations));
        let semaphore_addr = match semaphore.relocated_into {
            Some(_) => Some(semaphore.value),
            None => Some(semaphore.value).filter(|&addr| addr != 0),
        };
        let semaphore_offset = match (semaphore_addr, semaphore.relocated_into) {
            (None, _) => None,
            (Some(offset), Some(section)) => self.section_file_offset(section, offset),
            // A `.o` file whose semaphore field was not relocated has no address
            // that a file offset could be computed from.
            (Some(_), None) if self.relocatable => None,
            (Some(addr), None) => {
                // Follow a prelink move of the whole file, see the crate docs.
                let delta = base_addr.map_or(0, |actual| actual.wrapping_sub(base.value));
                self.addr_file_offset(self.wrap(addr.wrapping_add(delta)))
            }
        };
        let args = args::parse_args(&raw.raw_args).map_err(|reason| Error::BadArguments {
            offset: raw.file_offset,
            reason,
        })?;
        Ok(Probe {
            provider: raw.provider,
            name: raw.name,
            pc: pc.value,
            base: base.value,
            semaphore: semaphore_addr,
            semaphore_offset,
            args,
            raw_args: raw.raw_args,
            origin: Origin::StapsdtNote,
            model: self.model,
            dtrace: None,
        })
    }

    /// Field `i` (pc, base, semaphore) of a note, relocated if a relocation
    /// targets it.
    fn field(&self, raw: &RawProbe, i: usize, relocations: &HashMap<u64, Relocation>) -> Field {
        let stored = raw.fields.get(i).copied().unwrap_or(0);
        let relocation = raw
            .field_offsets
            .get(i)
            .and_then(|offset| relocations.get(offset));
        match relocation {
            None => Field {
                value: stored,
                relocated_into: None,
            },
            Some(relocation) => {
                // Address arithmetic is modulo the address width, as in the linker.
                let addend = relocation.addend.map_or(stored, |addend| addend as u64);
                Field {
                    value: self.wrap(relocation.symbol_value.wrapping_add(addend)),
                    relocated_into: Some(relocation.section),
                }
            }
        }
    }

    fn wrap(&self, value: u64) -> u64 {
        if self.layout.addr_size == 4 {
            value & u64::from(u32::MAX)
        } else {
            value
        }
    }

    /// Where `.stapsdt.base` really is, to detect a prelink move.
    fn stapsdt_base_addr(&self) -> Result<Option<u64>, Error> {
        if self.relocatable {
            return Ok(None);
        }
        for section in self.sections.iter() {
            let name = self
                .sections
                .section_name(self.endian, section)
                .map_err(malformed)?;
            if name == BASE_SECTION && self.flags(section) & u64::from(elf::SHF_ALLOC) != 0 {
                return Ok(Some(section.sh_addr(self.endian).into()));
            }
        }
        Ok(None)
    }

    fn flags(&self, section: &Elf::SectionHeader) -> u64 {
        section.sh_flags(self.endian).into()
    }

    /// All relocations that apply to the section `target` of a `.o` file,
    /// keyed by the offset they patch.
    fn relocations_for(&self, target: SectionIndex) -> Result<HashMap<u64, Relocation>, Error> {
        let (endian, data) = (self.endian, self.data);
        let mut found = HashMap::new();
        for section in self.sections.iter() {
            if section.info_link(endian) != target {
                continue;
            }
            if let Some((rels, link)) = section.rel(endian, data).map_err(malformed)? {
                let symbols = self
                    .sections
                    .symbol_table_by_index(endian, data, link)
                    .map_err(malformed)?;
                for rel in rels {
                    let relocation = self.relocation(&symbols, rel.symbol(endian), None)?;
                    found.insert(rel.r_offset(endian).into(), relocation);
                }
            } else if let Some((relas, link)) = section.rela(endian, data).map_err(malformed)? {
                let symbols = self
                    .sections
                    .symbol_table_by_index(endian, data, link)
                    .map_err(malformed)?;
                for rela in relas {
                    let addend = Some(rela.r_addend(endian).into());
                    let symbol = rela.symbol(endian, self.is_mips64el);
                    found.insert(
                        rela.r_offset(endian).into(),
                        self.relocation(&symbols, symbol, addend)?,
                    );
                }
            }
        }
        Ok(found)
    }

    fn relocation(
        &self,
        symbols: &object::read::elf::SymbolTable<'data, Elf>,
        symbol: Option<object::SymbolIndex>,
        addend: Option<i64>,
    ) -> Result<Relocation, Error> {
        let Some(index) = symbol else {
            return Ok(Relocation {
                symbol_value: 0,
                addend,
                section: None,
                symbol_name: String::new(),
                defined: true,
            });
        };
        let sym = symbols.symbol(index).map_err(malformed)?;
        let name = sym.name(self.endian, symbols.strings()).unwrap_or_default();
        Ok(Relocation {
            symbol_value: sym.st_value(self.endian).into(),
            addend,
            section: symbols
                .symbol_section(self.endian, sym, index)
                .map_err(malformed)?,
            symbol_name: String::from_utf8_lossy(name).into_owned(),
            defined: !sym.is_undefined(self.endian),
        })
    }

    /// Appends the sites of the DOF in every `.SUNW_dof` section.
    fn read_dof(&self, probes: &mut Vec<Probe>) -> Result<(), Error> {
        let endian = self.endian;
        let mut budget = Budget::new();
        let mut symbols = None;
        for (index, section) in self.sections.enumerate() {
            let name = self
                .sections
                .section_name(endian, section)
                .map_err(malformed)?;
            let sh_type = section.sh_type(endian);
            if sh_type == elf::SHT_NOBITS || (sh_type != SHT_SUNW_DOF && name != DOF_SECTION) {
                continue;
            }
            let bytes = section.data(endian, self.data).map_err(malformed)?;
            // GNU reuses the type number for SHT_GNU_SFRAME (`.sframe`): a
            // section of another name must hold DOF to count.
            if name != DOF_SECTION && !bytes.starts_with(dof::MAGIC) {
                continue;
            }
            let file_offset: u64 = section.sh_offset(endian).into();
            let section_addr: u64 = section.sh_addr(endian).into();
            let relocations = if self.relocatable {
                self.relocations_for(index)?
            } else {
                HashMap::new()
            };
            let at = |start: usize| {
                format!(
                    "ELF section {} at file offset {:#x}",
                    String::from_utf8_lossy(name),
                    file_offset.wrapping_add(start as u64)
                )
            };
            let layout = dof::Layout {
                mask: self.wrap(u64::MAX),
                signed_offsets: false,
            };
            for (start, parsed) in dof::parse_all(bytes, &mut budget) {
                let parsed = parsed
                    .and_then(|dof| dof::check_encoding(&dof, endian, "ELF file").map(|()| dof))
                    .map_err(|reason| Error::Dof {
                        at: at(start),
                        reason,
                    })?;
                let field_base = start as u64;
                let sites = dof::sites(&parsed, Origin::ElfDof, layout, &mut budget, |entry| {
                    let field = field_base.wrapping_add(entry.addr_offset);
                    self.dof_base(entry, field, section_addr, &relocations, &mut symbols)
                })
                .map_err(|reason| Error::Dof {
                    at: at(start),
                    reason,
                })?;
                probes.extend(sites);
            }
        }
        Ok(())
    }

    /// Where the offsets of a DOF probe count from. `field` is the section
    /// offset of its `dofpr_addr`.
    ///
    /// * In a `.o` file the linker fills `dofpr_addr` through an ELF
    ///   relocation (`dtrace -G` emits one per probe, against the function):
    ///   a symbol defined here gives its section offset, an undefined one
    ///   leaves the sites relative to it. Without one, the DOF's own
    ///   relocation names the symbol.
    /// * In a linked file `dofpr_addr` holds the function's address, except
    ///   that `DOF_RELO_DOFREL` (FreeBSD) stores it relative to the field
    ///   itself, and a `DOF_RELO_SETX` field the linker left at 0 is looked up
    ///   by symbol name.
    fn dof_base(
        &self,
        entry: &dof::Entry<'_>,
        field: u64,
        section_addr: u64,
        relocations: &HashMap<u64, Relocation>,
        symbols: &mut Option<HashMap<Vec<u8>, u64>>,
    ) -> Result<Base, String> {
        if self.relocatable {
            // A 64-bit relocation covers the field; a 32-bit one on a
            // big-endian target covers its low half, 4 bytes in.
            let elf_relocation = relocations
                .get(&field)
                .or_else(|| relocations.get(&field.wrapping_add(4)));
            if let Some(relocation) = elf_relocation {
                if !relocation.defined {
                    return Ok(Base::Relative(relocation.symbol_name.clone()));
                }
                let addend = relocation.addend.map_or(entry.addr, |addend| addend as u64);
                return Ok(Base::Address(
                    self.wrap(relocation.symbol_value.wrapping_add(addend)),
                ));
            }
            return Ok(match &entry.relocation {
                Some(relocation) => match self.symbol_value(&relocation.symbol, symbols)? {
                    Some(value) => Base::Address(value),
                    None => Base::Relative(relocation.symbol.clone()),
                },
                None => Base::Address(entry.addr),
            });
        }
        Ok(match &entry.relocation {
            Some(relocation) if relocation.pc_relative => {
                Base::Address(self.wrap(entry.addr.wrapping_add(section_addr).wrapping_add(field)))
            }
            Some(relocation) if entry.addr == 0 => {
                match self.symbol_value(&relocation.symbol, symbols)? {
                    Some(value) => Base::Address(value),
                    None => Base::Relative(relocation.symbol.clone()),
                }
            }
            _ => Base::Address(entry.addr),
        })
    }

    /// The value of the defined symbol `name` in `.symtab` or `.dynsym`.
    fn symbol_value(
        &self,
        name: &str,
        symbols: &mut Option<HashMap<Vec<u8>, u64>>,
    ) -> Result<Option<u64>, String> {
        if symbols.is_none() {
            let mut found = HashMap::new();
            for kind in [elf::SHT_DYNSYM, elf::SHT_SYMTAB] {
                let table = self
                    .sections
                    .symbols(self.endian, self.data, kind)
                    .map_err(|e| format!("cannot read the ELF symbol table: {e}"))?;
                for sym in table.iter() {
                    if sym.is_undefined(self.endian) {
                        continue;
                    }
                    if let Ok(sym_name) = sym.name(self.endian, table.strings()) {
                        found.insert(sym_name.to_vec(), sym.st_value(self.endian).into());
                    }
                }
            }
            *symbols = Some(found);
        }
        Ok(symbols
            .as_ref()
            .and_then(|found| found.get(name.as_bytes()).copied()))
    }

    /// File offset of `offset` bytes into a section of a `.o` file.
    fn section_file_offset(&self, section: Option<SectionIndex>, offset: u64) -> Option<u64> {
        let header = self.sections.section(section?).ok()?;
        if header.sh_type(self.endian) == elf::SHT_NOBITS
            || offset >= header.sh_size(self.endian).into()
        {
            return None;
        }
        offset.checked_add(header.sh_offset(self.endian).into())
    }

    /// File offset of a virtual address of a linked file, from the section
    /// holding it or, failing that, the `PT_LOAD` segment.
    fn addr_file_offset(&self, addr: u64) -> Option<u64> {
        let endian = self.endian;
        for section in self.sections.iter() {
            let flags = self.flags(section);
            // `.tbss` overlaps the sections after it without occupying them.
            if flags & u64::from(elf::SHF_ALLOC) == 0 || flags & u64::from(elf::SHF_TLS) != 0 {
                continue;
            }
            let Some(within) = addr.checked_sub(section.sh_addr(endian).into()) else {
                continue;
            };
            if within < section.sh_size(endian).into() {
                if section.sh_type(endian) == elf::SHT_NOBITS {
                    return None;
                }
                return within.checked_add(section.sh_offset(endian).into());
            }
        }
        for segment in self.segments {
            if segment.p_type(endian) != elf::PT_LOAD {
                continue;
            }
            let Some(within) = addr.checked_sub(segment.p_vaddr(endian).into()) else {
                continue;
            };
            if within < segment.p_filesz(endian).into() {
                return within.checked_add(segment.p_offset(endian).into());
            }
            if within < segment.p_memsz(endian).into() {
                return None;
            }
        }
        None
    }
}
