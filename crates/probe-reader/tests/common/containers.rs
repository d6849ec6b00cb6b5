//! Containers for DOF fixtures, written with the `object` crate: a
//! `dtrace -G` ELF object, a linked ELF file with a symbol table, a linked
//! Mach-O image built from `object`'s Mach-O structure definitions, and an
//! unlinked Mach-O object with probe calls.

use object::elf;
use object::write::elf::{FileHeader, SectionHeader, Sym, Writer};
use object::Endianness;

use super::dof::{python_provider, DofSpec};

/// A `dtrace -G` object: `.text` defining some of the functions, and
/// `.SUNW_dof` whose `dofpr_addr` fields are relocated against them, as
/// `dtrace -G` writes them (`dt_link.c`: one ELF relocation per probe).
/// `_PyEval_EvalFrameDefault` is defined at .text+0x100 and relocated;
/// `gen_send_ex2` is relocated but undefined; `gc_collect_main` (.text+0x300)
/// has only the DOF's own relocation, so the symbol table resolves it.
pub fn g_object(
    arch: object::Architecture,
    endian: Endianness,
    model: u8,
    r_type: u32,
    dof_relocation: u32,
) -> Vec<u8> {
    use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
    use object::{RelocationFlags, SectionKind, SymbolFlags, SymbolKind, SymbolScope};

    let mut probes = python_provider();
    for p in &mut probes {
        p.addr = 0;
        p.relocation = Some((dof_relocation, p.function));
    }
    let dof = DofSpec::new(model, endian == Endianness::Big)
        .provider("python", probes)
        .encode();

    let mut obj = Object::new(object::BinaryFormat::Elf, arch, endian);
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, &[0; 0x400], 16);
    let section = obj.add_section(Vec::new(), b".SUNW_dof".to_vec(), SectionKind::ReadOnlyData);
    obj.append_section_data(section, &dof.bytes, 8);
    let mut symbol = |name: &str, section, value| {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value,
            size: 0,
            kind: SymbolKind::Text,
            scope: SymbolScope::Linkage,
            weak: false,
            section,
            flags: SymbolFlags::None,
        })
    };
    let eval = symbol(
        "_PyEval_EvalFrameDefault",
        SymbolSection::Section(text),
        0x100,
    );
    let _gc = symbol("gc_collect_main", SymbolSection::Section(text), 0x300);
    let gen = symbol("gen_send_ex2", SymbolSection::Undefined, 0);
    // Probes 0 and 3 are in _PyEval_EvalFrameDefault, 1 in gen_send_ex2.
    for (k, target) in [(0, eval), (1, gen), (3, eval)] {
        obj.add_relocation(
            section,
            Relocation {
                offset: dof.addr_fields[k] as u64,
                symbol: target,
                addend: 0,
                flags: RelocationFlags::Elf { r_type },
            },
        )
        .unwrap();
    }
    obj.write().unwrap()
}

pub const TEXT_64: u64 = 0x40_1000;
pub const DOF_64: u64 = 0x40_2000;
pub const TEXT_32: u64 = 0x1000_1000;
pub const DOF_32: u64 = 0x1000_2000;

/// A linked ELF file: `.text`, a DOF section of type `SHT_SUNW_dof` named
/// `dof_name`, and a symbol table defining `symbols` in `.text`.
pub fn linked_elf(
    endian: Endianness,
    is_64: bool,
    e_type: u16,
    dof_name: &str,
    dof: &[u8],
    symbols: &[(&str, u64)],
) -> Vec<u8> {
    let (text_addr, dof_addr) = if is_64 {
        (TEXT_64, DOF_64)
    } else {
        (TEXT_32, DOF_32)
    };
    let mut out = Vec::new();
    let mut w = Writer::new(endian, is_64, &mut out);
    w.reserve_file_header();
    let text_name = w.add_section_name(b".text");
    let dof_section_name = w.add_section_name(dof_name.as_bytes());
    w.reserve_null_section_index();
    let text_index = w.reserve_section_index();
    let _dof_index = w.reserve_section_index();
    let names: Vec<_> = symbols
        .iter()
        .map(|(n, _)| w.add_string(n.as_bytes()))
        .collect();
    w.reserve_null_symbol_index();
    for _ in symbols {
        w.reserve_symbol_index(Some(text_index));
    }
    w.reserve_symtab_section_index();
    w.reserve_strtab_section_index();
    w.reserve_shstrtab_section_index();
    let text_offset = w.reserve(0x400, 16) as u64;
    let dof_offset = w.reserve(dof.len(), 8) as u64;
    w.reserve_symtab();
    w.reserve_strtab();
    w.reserve_shstrtab();
    w.reserve_section_headers();

    w.write_file_header(&FileHeader {
        os_abi: 0,
        abi_version: 0,
        e_type,
        e_machine: if is_64 { elf::EM_X86_64 } else { elf::EM_PPC },
        e_entry: text_addr,
        e_flags: 0,
    })
    .unwrap();
    w.write_align(16);
    w.write(&[0; 0x400]);
    w.write_align(8);
    w.write(dof);
    w.write_null_symbol();
    for (name, &(_, value)) in names.iter().zip(symbols) {
        w.write_symbol(&Sym {
            name: Some(*name),
            section: Some(text_index),
            st_info: (elf::STB_GLOBAL << 4) | elf::STT_FUNC,
            st_other: 0,
            st_shndx: 0,
            st_value: value,
            st_size: 0x10,
        });
    }
    w.write_strtab();
    w.write_shstrtab();
    w.write_null_section_header();
    w.write_section_header(&SectionHeader {
        name: Some(text_name),
        sh_type: elf::SHT_PROGBITS,
        sh_flags: u64::from(elf::SHF_ALLOC | elf::SHF_EXECINSTR),
        sh_addr: text_addr,
        sh_offset: text_offset,
        sh_size: 0x400,
        sh_link: 0,
        sh_info: 0,
        sh_addralign: 16,
        sh_entsize: 0,
    });
    w.write_section_header(&SectionHeader {
        name: Some(dof_section_name),
        sh_type: 0x6fff_fff4, // SHT_SUNW_dof
        sh_flags: u64::from(elf::SHF_ALLOC),
        sh_addr: dof_addr,
        sh_offset: dof_offset,
        sh_size: dof.len() as u64,
        sh_link: 0,
        sh_info: 0,
        sh_addralign: 8,
        sh_entsize: 0,
    });
    w.write_symtab_section_header(1);
    w.write_strtab_section_header();
    w.write_shstrtab_section_header();
    assert_eq!(w.reserved_len(), w.len());
    out
}

/// A linked Mach-O image (`MH_EXECUTE`) with one `__TEXT,__dof_python`
/// section at `dof_addr`, built from the `object` crate's definitions of
/// `mach_header(_64)`, `segment_command(_64)` and `section(_64)`.
pub fn macho_image(big: bool, is_64: bool, dof_addr: u64, dof: &[u8]) -> Vec<u8> {
    use object::macho;
    use object::pod::bytes_of;
    use object::{BigEndian, U32, U64};

    let e = if big {
        Endianness::Big
    } else {
        Endianness::Little
    };
    let u32_ = |v: u32| U32::new(e, v);
    let name16 = |s: &str| {
        let mut n = [0u8; 16];
        n[..s.len()].copy_from_slice(s.as_bytes());
        n
    };
    let data_offset = 0x200u32;
    let mut out = Vec::new();
    if is_64 {
        let header = macho::MachHeader64 {
            magic: U32::new(
                BigEndian,
                if big {
                    macho::MH_MAGIC_64
                } else {
                    macho::MH_CIGAM_64
                },
            ),
            cputype: u32_(if big {
                macho::CPU_TYPE_POWERPC64
            } else {
                macho::CPU_TYPE_X86_64
            }),
            cpusubtype: u32_(3),
            filetype: u32_(macho::MH_EXECUTE),
            ncmds: u32_(1),
            sizeofcmds: u32_(72 + 80),
            flags: u32_(0),
            reserved: u32_(0),
        };
        let segment = macho::SegmentCommand64 {
            cmd: u32_(macho::LC_SEGMENT_64),
            cmdsize: u32_(72 + 80),
            segname: name16("__TEXT"),
            vmaddr: U64::new(e, dof_addr & !0xfff),
            vmsize: U64::new(e, 0x2000),
            fileoff: U64::new(e, 0),
            filesize: U64::new(e, u64::from(data_offset) + dof.len() as u64),
            maxprot: u32_(5),
            initprot: u32_(5),
            nsects: u32_(1),
            flags: u32_(0),
        };
        let section = macho::Section64 {
            sectname: name16("__dof_python"),
            segname: name16("__TEXT"),
            addr: U64::new(e, dof_addr),
            size: U64::new(e, dof.len() as u64),
            offset: u32_(data_offset),
            align: u32_(3),
            reloff: u32_(0),
            nreloc: u32_(0),
            flags: u32_(0),
            reserved1: u32_(0),
            reserved2: u32_(0),
            reserved3: u32_(0),
        };
        out.extend_from_slice(bytes_of(&header));
        out.extend_from_slice(bytes_of(&segment));
        out.extend_from_slice(bytes_of(&section));
    } else {
        let header = macho::MachHeader32 {
            magic: U32::new(
                BigEndian,
                if big {
                    macho::MH_MAGIC
                } else {
                    macho::MH_CIGAM
                },
            ),
            cputype: u32_(if big {
                macho::CPU_TYPE_POWERPC
            } else {
                macho::CPU_TYPE_X86
            }),
            cpusubtype: u32_(0),
            filetype: u32_(macho::MH_EXECUTE),
            ncmds: u32_(1),
            sizeofcmds: u32_(56 + 68),
            flags: u32_(0),
        };
        let segment = macho::SegmentCommand32 {
            cmd: u32_(macho::LC_SEGMENT),
            cmdsize: u32_(56 + 68),
            segname: name16("__TEXT"),
            vmaddr: u32_(dof_addr as u32 & !0xfff),
            vmsize: u32_(0x2000),
            fileoff: u32_(0),
            filesize: u32_(data_offset + dof.len() as u32),
            maxprot: u32_(5),
            initprot: u32_(5),
            nsects: u32_(1),
            flags: u32_(0),
        };
        let section = macho::Section32 {
            sectname: name16("__dof_python"),
            segname: name16("__TEXT"),
            addr: u32_(dof_addr as u32),
            size: u32_(dof.len() as u32),
            offset: u32_(data_offset),
            align: u32_(3),
            reloff: u32_(0),
            nreloc: u32_(0),
            flags: u32_(0),
            reserved1: u32_(0),
            reserved2: u32_(0),
        };
        out.extend_from_slice(bytes_of(&header));
        out.extend_from_slice(bytes_of(&segment));
        out.extend_from_slice(bytes_of(&section));
    }
    out.resize(data_offset as usize, 0);
    out.extend_from_slice(dof);
    out
}

/// An unlinked x86-64 Mach-O object as clang leaves it for a `dtrace -h`
/// header: `_fx_run` at 0 and `_fx_done` at 0x20 in `__text`, and a call
/// relocated by `X86_64_RELOC_BRANCH` at each `(offset, symbol)` to that
/// undefined symbol.
pub fn macho_object(calls: &[(u64, &str)]) -> Vec<u8> {
    use object::write::{Mangling, Object, Relocation, StandardSection, Symbol, SymbolSection};
    use object::{RelocationFlags, SymbolFlags, SymbolKind, SymbolScope};

    let mut obj = Object::new(
        object::BinaryFormat::MachO,
        object::Architecture::X86_64,
        Endianness::Little,
    );
    obj.set_mangling(Mangling::None);
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, &[0x90; 0x40], 16);
    let symbol = |obj: &mut Object, name: &str, section, value| {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value,
            size: 0,
            kind: SymbolKind::Text,
            scope: SymbolScope::Linkage,
            weak: false,
            section,
            flags: SymbolFlags::None,
        })
    };
    symbol(&mut obj, "_fx_run", SymbolSection::Section(text), 0);
    symbol(&mut obj, "_fx_done", SymbolSection::Section(text), 0x20);
    for &(offset, name) in calls {
        let target = symbol(&mut obj, name, SymbolSection::Undefined, 0);
        obj.add_relocation(
            text,
            Relocation {
                offset,
                symbol: target,
                addend: 0,
                flags: RelocationFlags::MachO {
                    r_type: object::macho::X86_64_RELOC_BRANCH,
                    r_pcrel: true,
                    r_length: 2,
                },
            },
        )
        .unwrap();
    }
    obj.write().unwrap()
}
