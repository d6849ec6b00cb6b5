//! Finds the `.note.stapsdt` sections of an ELF file and turns their notes
//! into [`Probe`]s: relocations for `.o` files, semaphore file offsets.

use std::collections::HashMap;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, Rel, Rela, SectionHeader, SectionTable, Sym};
use object::{Endianness, SectionIndex};

use crate::note::{self, Layout, RawProbe};
use crate::{args, Error, Probe};

const NOTE_SECTION: &[u8] = b".note.stapsdt";
const BASE_SECTION: &[u8] = b".stapsdt.base";

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
}

/// A relocation that fills one address field of a note in a `.o` file.
#[derive(Debug, Clone, Copy)]
struct Relocation {
    symbol_value: u64,
    /// `None` for REL sections, whose addend is the value stored in place.
    addend: Option<i64>,
    /// The section the symbol is defined in, if any.
    section: Option<SectionIndex>,
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
            });
        };
        let sym = symbols.symbol(index).map_err(malformed)?;
        Ok(Relocation {
            symbol_value: sym.st_value(self.endian).into(),
            addend,
            section: symbols
                .symbol_section(self.endian, sym, index)
                .map_err(malformed)?,
        })
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
