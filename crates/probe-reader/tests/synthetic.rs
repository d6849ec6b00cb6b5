//! Hand-built ELF files for what the host compiler cannot produce: big-endian
//! and 32-bit targets, NOBITS semaphores, prelinked layouts, a semaphore only
//! a `PT_LOAD` segment covers, and relocatable objects with RELA and REL
//! relocations. The `.note.stapsdt` contents are encoded byte by byte here.

mod common;

use object::elf;
use object::write::elf::{FileHeader, ProgramHeader, SectionHeader, Writer};
use object::Endianness;
use probe_reader::{read_bytes, Probe};

/// Encodes one stapsdt note: header, `stapsdt\0`, three addresses, strings.
fn note(endian: Endianness, is_64: bool, fields: [u64; 3], strings: [&str; 3]) -> Vec<u8> {
    let word = |n: u32| match endian {
        Endianness::Big => n.to_be_bytes(),
        Endianness::Little => n.to_le_bytes(),
    };
    let mut desc = Vec::new();
    for field in fields {
        match (is_64, endian) {
            (true, Endianness::Big) => desc.extend_from_slice(&field.to_be_bytes()),
            (true, Endianness::Little) => desc.extend_from_slice(&field.to_le_bytes()),
            (false, _) => desc.extend_from_slice(&word(u32::try_from(field).unwrap())),
        }
    }
    for s in strings {
        desc.extend_from_slice(s.as_bytes());
        desc.push(0);
    }
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&word(8)); // namesz
    bytes.extend_from_slice(&word(u32::try_from(desc.len()).unwrap())); // descsz
    bytes.extend_from_slice(&word(3)); // NT_STAPSDT
    bytes.extend_from_slice(b"stapsdt\0");
    bytes.extend_from_slice(&desc);
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
    bytes
}

/// A note that is not a stapsdt probe, to be skipped.
fn gnu_note(endian: Endianness) -> Vec<u8> {
    let word = |n: u32| match endian {
        Endianness::Big => n.to_be_bytes(),
        Endianness::Little => n.to_le_bytes(),
    };
    [word(4), word(4), word(3), *b"GNU\0", [1, 2, 3, 4]].concat()
}

struct Section {
    name: &'static str,
    sh_type: u32,
    flags: u32,
    addr: u64,
    /// File contents; for NOBITS only the length counts.
    data: Vec<u8>,
    /// Whether it gets a section header (the bytes are written either way).
    listed: bool,
}

fn section(name: &'static str, sh_type: u32, flags: u32, addr: u64, data: Vec<u8>) -> Section {
    Section {
        name,
        sh_type,
        flags,
        addr,
        data,
        listed: true,
    }
}

/// Writes a linked (`ET_EXEC`) file with the given sections and one
/// `PT_LOAD` per `(section index, memsz)`. Returns the file and the file
/// offset of each section's bytes.
fn linked_file(
    endian: Endianness,
    is_64: bool,
    machine: u16,
    sections: &[Section],
    loads: &[(usize, u64)],
) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut w = Writer::new(endian, is_64, &mut out);
    w.reserve_file_header();
    w.reserve_program_headers(u32::try_from(loads.len()).unwrap());
    let names: Vec<_> = sections
        .iter()
        .map(|s| w.add_section_name(s.name.as_bytes()))
        .collect();
    w.reserve_null_section_index();
    for _ in sections.iter().filter(|s| s.listed) {
        w.reserve_section_index();
    }
    w.reserve_shstrtab_section_index();
    let offsets: Vec<u64> = sections
        .iter()
        .map(|s| {
            if s.sh_type == elf::SHT_NOBITS {
                w.reserved_len() as u64
            } else {
                w.reserve(s.data.len(), 4) as u64
            }
        })
        .collect();
    w.reserve_shstrtab();
    w.reserve_section_headers();

    w.write_file_header(&FileHeader {
        os_abi: 0,
        abi_version: 0,
        e_type: elf::ET_EXEC,
        e_machine: machine,
        e_entry: 0,
        e_flags: 0,
    })
    .unwrap();
    w.write_align_program_headers();
    for &(index, memsz) in loads {
        let s = &sections[index];
        w.write_program_header(&ProgramHeader {
            p_type: elf::PT_LOAD,
            p_flags: elf::PF_R | elf::PF_W,
            p_offset: offsets[index],
            p_vaddr: s.addr,
            p_paddr: s.addr,
            p_filesz: s.data.len() as u64,
            p_memsz: memsz,
            p_align: 4,
        });
    }
    for s in sections.iter().filter(|s| s.sh_type != elf::SHT_NOBITS) {
        w.write_align(4);
        w.write(&s.data);
    }
    w.write_shstrtab();
    w.write_null_section_header();
    for ((s, name), &offset) in sections.iter().zip(&names).zip(&offsets) {
        if !s.listed {
            continue;
        }
        w.write_section_header(&SectionHeader {
            name: Some(*name),
            sh_type: s.sh_type,
            sh_flags: s.flags.into(),
            sh_addr: s.addr,
            sh_offset: offset,
            sh_size: s.data.len() as u64,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: 4,
            sh_entsize: 0,
        });
    }
    w.write_shstrtab_section_header();
    assert_eq!(w.reserved_len(), w.len());
    (out, offsets)
}

const TEXT: u64 = 0x1000_0000;
const BASE: u64 = 0x1000_1000;
const PROBES: u64 = 0x1002_0000;
const BSS: u64 = 0x1002_0010;

/// The sections of a small linked file. `moved` shifts everything but the
/// notes, as prelink does.
fn layout(endian: Endianness, is_64: bool, moved: u64, args: &str) -> Vec<Section> {
    let notes = [
        gnu_note(endian),
        note(
            endian,
            is_64,
            [TEXT + 0x10, BASE, PROBES + 2],
            ["python", "function__entry", args],
        ),
        note(
            endian,
            is_64,
            [TEXT + 0x20, BASE, BSS],
            ["python", "gc__start", "-4@3"],
        ),
        note(
            endian,
            is_64,
            [TEXT + 0x30, BASE, 0],
            ["python", "line", ""],
        ),
        note(
            endian,
            is_64,
            [TEXT + 0x08, BASE, PROBES + 2],
            ["python", "function__entry", args],
        ),
    ]
    .concat();
    let alloc = elf::SHF_ALLOC;
    vec![
        section(
            ".text",
            elf::SHT_PROGBITS,
            alloc | elf::SHF_EXECINSTR,
            TEXT + moved,
            vec![0; 0x40],
        ),
        section(
            ".stapsdt.base",
            elf::SHT_PROGBITS,
            alloc,
            BASE + moved,
            vec![0],
        ),
        section(
            ".probes",
            elf::SHT_PROGBITS,
            alloc | elf::SHF_WRITE,
            PROBES + moved,
            vec![0x11, 0x22, 0xbe, 0xef],
        ),
        section(
            ".bss",
            elf::SHT_NOBITS,
            alloc | elf::SHF_WRITE,
            BSS + moved,
            vec![0; 0x10],
        ),
        section(".note.stapsdt", elf::SHT_NOTE, 0, 0, notes),
    ]
}

type Shape = Vec<(u8, bool, bool)>;

fn shape(probe: &Probe) -> Shape {
    probe
        .args
        .iter()
        .map(|a| (a.size, a.signed, a.float))
        .collect()
}

/// Reads a `layout()` file and checks every field against the values the
/// notes were written with.
fn check_layout(endian: Endianness, is_64: bool, machine: u16, args: &str, want_args: Shape) {
    let (file, offsets) = linked_file(endian, is_64, machine, &layout(endian, is_64, 0, args), &[]);
    let probes = read_bytes(&file).unwrap();
    let summary: Vec<_> = probes
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.pc,
                p.base,
                p.semaphore,
                p.semaphore_offset,
            )
        })
        .collect();
    let probes_offset = offsets[2];
    assert_eq!(
        summary,
        vec![
            (
                "function__entry",
                TEXT + 0x08,
                BASE,
                Some(PROBES + 2),
                Some(probes_offset + 2)
            ),
            (
                "function__entry",
                TEXT + 0x10,
                BASE,
                Some(PROBES + 2),
                Some(probes_offset + 2)
            ),
            // The semaphore is in .bss: an address but nothing in the file.
            ("gc__start", TEXT + 0x20, BASE, Some(BSS), None),
            ("line", TEXT + 0x30, BASE, None, None),
        ]
    );
    assert!(probes.iter().all(|p| p.provider == "python"));
    assert_eq!(&file[probes_offset as usize + 2..][..2], &[0xbe, 0xef]);
    assert_eq!(shape(&probes[0]), want_args);
    assert_eq!(probes[0].raw_args, args);
    assert_eq!(shape(&probes[2]), vec![(4, true, false)]);
    assert!(probes[3].args.is_empty());
}

#[test]
fn big_endian_64_bit_powerpc() {
    // PowerPC operands as sys/sdt.h prints them: registers are bare numbers.
    check_layout(
        Endianness::Big,
        true,
        elf::EM_PPC64,
        "8@3 -4@28(31) 8f@0",
        vec![(8, false, false), (4, true, false), (8, false, true)],
    );
}

#[test]
fn big_endian_32_bit_mips() {
    check_layout(
        Endianness::Big,
        false,
        elf::EM_MIPS,
        "4@$4 -4@16($sp)",
        vec![(4, false, false), (4, true, false)],
    );
}

#[test]
fn little_endian_32_bit_arm() {
    check_layout(
        Endianness::Little,
        false,
        elf::EM_ARM,
        "4@r0 -4@[sp, #4] -1@[r1]",
        vec![(4, false, false), (4, true, false), (1, true, false)],
    );
}

#[test]
fn little_endian_64_bit_aarch64_operands_with_spaces() {
    let (file, _) = linked_file(
        Endianness::Little,
        true,
        elf::EM_AARCH64,
        &layout(Endianness::Little, true, 0, "-4@[sp, 8] 8@x1 8f@d0"),
        &[],
    );
    let probes = read_bytes(&file).unwrap();
    let operands: Vec<&str> = probes[0].args.iter().map(|a| a.operand.as_str()).collect();
    assert_eq!(operands, vec!["[sp, 8]", "x1", "d0"]);
    assert_eq!(
        shape(&probes[0]),
        vec![(4, true, false), (8, false, false), (8, false, true)]
    );
}

#[test]
fn prelinked_file_keeps_stored_addresses_and_finds_the_moved_semaphore() {
    const MOVED: u64 = 0x5000;
    let (file, offsets) = linked_file(
        Endianness::Big,
        true,
        elf::EM_PPC64,
        &layout(Endianness::Big, true, MOVED, "8@3"),
        &[],
    );
    let probes = read_bytes(&file).unwrap();
    let entry = &probes[0];
    // Stored values are reported as they are…
    assert_eq!(
        (entry.pc, entry.base, entry.semaphore),
        (TEXT + 8, BASE, Some(PROBES + 2))
    );
    // …the adjustment is the caller's, given where .stapsdt.base really is…
    assert_eq!(entry.adjusted_pc(BASE + MOVED), TEXT + 8 + MOVED);
    assert_eq!(
        entry.adjusted_semaphore(BASE + MOVED),
        Some(PROBES + 2 + MOVED)
    );
    // …and the file offset follows the move (at PROBES + 2 there is nothing now).
    assert_eq!(entry.semaphore_offset, Some(offsets[2] + 2));
    // The .bss semaphore moved with .bss: still not in the file.
    assert_eq!(probes[2].semaphore_offset, None);
}

#[test]
fn semaphore_found_through_pt_load_when_no_section_covers_it() {
    let mut sections = layout(Endianness::Little, false, 0, "4@r0");
    // Drop .probes and .bss from the section table; one PT_LOAD maps the
    // 4 bytes of .probes with 0x20 bytes of memory, which spans the .bss
    // semaphore too.
    sections[2].listed = false;
    sections[3].listed = false;
    let (file, offsets) = linked_file(
        Endianness::Little,
        false,
        elf::EM_ARM,
        &sections,
        &[(2, 0x20)],
    );
    let probes = read_bytes(&file).unwrap();
    assert_eq!(probes[0].semaphore_offset, Some(offsets[2] + 2));
    assert_eq!(probes[2].name, "gc__start");
    assert_eq!(probes[2].semaphore, Some(BSS));
    assert_eq!(
        probes[2].semaphore_offset, None,
        "beyond p_filesz is not in the file"
    );
}

#[test]
fn file_without_section_headers_has_no_probes() {
    let (mut file, _) = linked_file(
        Endianness::Little,
        true,
        elf::EM_X86_64,
        &layout(Endianness::Little, true, 0, "8@%rax"),
        &[],
    );
    // e_shoff (8 bytes at 0x28), e_shnum (0x3c) and e_shstrndx (0x3e) cleared.
    file[0x28..0x30].fill(0);
    file[0x3c..0x40].fill(0);
    assert_eq!(read_bytes(&file).unwrap(), vec![]);
}

/// A relocatable object as the assembler leaves it: the note's address
/// fields are filled in by relocations against `.text`, `_.stapsdt.base` and
/// the semaphore symbols.
fn relocatable(
    arch: object::Architecture,
    endian: object::Endianness,
    is_64: bool,
) -> (Vec<u8>, u64) {
    use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
    use object::{
        RelocationEncoding, RelocationFlags, RelocationKind, SectionKind, SymbolFlags, SymbolKind,
        SymbolScope,
    };

    let mut obj = Object::new(object::BinaryFormat::Elf, arch, endian);
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, &[0; 0x40], 4);
    let base = obj.add_section(
        Vec::new(),
        b".stapsdt.base".to_vec(),
        SectionKind::ReadOnlyData,
    );
    obj.append_section_data(base, &[0], 1);
    let probes = obj.add_section(Vec::new(), b".probes".to_vec(), SectionKind::Data);
    obj.append_section_data(probes, &[0x11, 0x22, 0xbe, 0xef], 2);
    let bss = obj.add_section(Vec::new(), b".bss".to_vec(), SectionKind::UninitializedData);
    obj.append_section_bss(bss, 0x10, 4);
    let notes = obj.add_section(Vec::new(), b".note.stapsdt".to_vec(), SectionKind::Note);

    let mut symbol = |name: &str, section: SymbolSection, value: u64| {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value,
            size: 0,
            kind: SymbolKind::Data,
            scope: SymbolScope::Linkage,
            weak: false,
            section,
            flags: SymbolFlags::None,
        })
    };
    let text_sym = symbol("fx_code", SymbolSection::Section(text), 0);
    let base_sym = symbol("_.stapsdt.base", SymbolSection::Section(base), 0);
    let entry_sem = symbol(
        "python_function__entry_semaphore",
        SymbolSection::Section(probes),
        2,
    );
    let gc_sem = symbol("python_gc__start_semaphore", SymbolSection::Section(bss), 4);
    let extern_sem = symbol("python_line_semaphore", SymbolSection::Undefined, 0);

    // Stored fields are zero, as `as` leaves them with RELA; REL targets
    // get their addends written in place by `object`.
    let e = endian;
    let data = [
        note(e, is_64, [0; 3], ["python", "function__entry", "8@3"]),
        note(e, is_64, [0; 3], ["python", "gc__start", ""]),
        note(e, is_64, [0; 3], ["python", "line", ""]),
        note(e, is_64, [0; 3], ["python", "plain", ""]),
    ];
    let width: u64 = if is_64 { 8 } else { 4 };
    let mut note_offsets = Vec::new();
    let mut at = 0u64;
    for n in &data {
        note_offsets.push(at + 20); // 12-byte header + "stapsdt\0"
        at += n.len() as u64;
    }
    obj.append_section_data(notes, &data.concat(), 4);
    let size = u8::try_from(width * 8).unwrap();
    let mut reloc = |offset: u64, symbol, addend: i64| {
        obj.add_relocation(
            notes,
            Relocation {
                offset,
                symbol,
                addend,
                flags: RelocationFlags::Generic {
                    kind: RelocationKind::Absolute,
                    encoding: RelocationEncoding::Generic,
                    size,
                },
            },
        )
        .unwrap();
    };
    let sems = [
        Some((entry_sem, 0)),
        Some((gc_sem, 0)),
        Some((extern_sem, 6)),
        None,
    ];
    for (i, (&desc, sem)) in note_offsets.iter().zip(sems).enumerate() {
        reloc(desc, text_sym, 0x10 + 8 * i as i64);
        reloc(desc + width, base_sym, 0);
        if let Some((sym, addend)) = sem {
            reloc(desc + 2 * width, sym, addend);
        }
    }
    let file = obj.write().unwrap();
    // Find where .probes landed, independently of the reader.
    let parsed = object::File::parse(&*file).unwrap();
    let probes_offset = object::Object::section_by_name(&parsed, ".probes")
        .and_then(|s| object::ObjectSection::file_range(&s))
        .unwrap()
        .0;
    (file, probes_offset)
}

fn check_relocatable(arch: object::Architecture, endian: Endianness, is_64: bool) {
    let (file, probes_offset) = relocatable(arch, endian, is_64);
    let probes = read_bytes(&file).unwrap();
    let summary: Vec<_> = probes
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.pc,
                p.base,
                p.semaphore,
                p.semaphore_offset,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            // Semaphore at offset 2 of .probes: a section-relative address and
            // the file offset of those bytes.
            ("function__entry", 0x10, 0, Some(2), Some(probes_offset + 2)),
            ("gc__start", 0x18, 0, Some(4), None),
            // Undefined semaphore symbol: only the addend is known.
            ("line", 0x20, 0, Some(6), None),
            ("plain", 0x28, 0, None, None),
        ]
    );
    assert_eq!(&file[probes_offset as usize + 2..][..2], &[0xbe, 0xef]);
}

#[test]
fn relocatable_big_endian_64_bit_rela() {
    check_relocatable(object::Architecture::PowerPc64, Endianness::Big, true);
}

#[test]
fn relocatable_big_endian_32_bit_rel() {
    // MIPS o32 uses REL: addends live in the note bytes themselves.
    check_relocatable(object::Architecture::Mips, Endianness::Big, false);
}

#[test]
fn relocatable_little_endian_32_bit_rel() {
    check_relocatable(object::Architecture::I386, Endianness::Little, false);
}

#[test]
fn relocatable_object_agrees_with_readelf() {
    // readelf applies the relocations of .o files to the notes too.
    let dir = common::scratch_dir("synthetic-readelf");
    for (name, arch, endian, is_64) in [
        (
            "ppc64.o",
            object::Architecture::PowerPc64,
            Endianness::Big,
            true,
        ),
        (
            "i386.o",
            object::Architecture::I386,
            Endianness::Little,
            false,
        ),
    ] {
        let (file, _) = relocatable(arch, endian, is_64);
        let path = dir.join(name);
        std::fs::write(&path, &file).unwrap();
        let ours = read_bytes(&file).unwrap();
        let theirs = common::readelf_probes(&path);
        let ours: Vec<_> = ours
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.pc,
                    p.base,
                    p.semaphore.unwrap_or(0),
                    p.raw_args.clone(),
                )
            })
            .collect();
        let theirs: Vec<_> = theirs
            .into_iter()
            .map(|p| (p.name, p.location, p.base, p.semaphore, p.arguments))
            .collect();
        assert_eq!(ours, theirs, "{name}");
    }
}
