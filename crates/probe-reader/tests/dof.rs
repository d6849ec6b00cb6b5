//! DOF read from every container: bare, ELF `.SUNW_dof` in `dtrace -G`
//! objects and linked files, Mach-O `__dof_*` sections, and the probe calls
//! of Mach-O objects. The DOF comes from the test encoder in
//! `common/dof.rs` (written from `<sys/dtrace.h>`) or from oxidecomputer's
//! `dof` crate; the containers from the `object` crate's writers or from its
//! Mach-O structure definitions. Every expected address is computed here
//! from the layout the fixture was given.

mod common;

use common::containers::{
    g_object, linked_elf, macho_image, macho_object, DOF_32, DOF_64, TEXT_32, TEXT_64,
};
use common::dof::{python_provider, DofSpec, ProbeSpec, RELO_DOFREL, RELO_SETX};
use object::elf;
use object::Endianness;
use probe_reader::{read_bytes, read_dof, DataModel, Origin, Probe};

/// (name, pc, is-enabled, function, relative_to).
type Site = (String, u64, bool, String, Option<String>);

fn sites(probes: &[Probe]) -> Vec<Site> {
    probes
        .iter()
        .map(|p| {
            let d = p.dtrace.as_ref().expect("a DTrace site");
            (
                p.name.clone(),
                p.pc,
                d.is_enabled,
                d.function.clone(),
                d.relative_to.clone(),
            )
        })
        .collect()
}

fn site(name: &str, pc: u64, enabled: bool, function: &str) -> Site {
    (name.to_owned(), pc, enabled, function.to_owned(), None)
}

/// (size, signed, float) of each argument.
fn shape(probe: &Probe) -> Vec<(u8, bool, bool)> {
    probe
        .args
        .iter()
        .map(|a| (a.size, a.signed, a.float))
        .collect()
}

/// The sites of `python_provider()` when each function's offsets count from
/// `base(function)`, sorted as the reader documents: by name, pc, then
/// is-enabled sites last.
fn python_sites(base: impl Fn(&str) -> u64) -> Vec<Site> {
    let eval = base("_PyEval_EvalFrameDefault");
    let mut sites = vec![
        site(
            "function__entry",
            eval + 0x30,
            true,
            "_PyEval_EvalFrameDefault",
        ),
        site(
            "function__entry",
            eval + 0x40,
            false,
            "_PyEval_EvalFrameDefault",
        ),
        site(
            "function__entry",
            eval + 0x1c4,
            false,
            "_PyEval_EvalFrameDefault",
        ),
        site(
            "function__entry",
            base("gen_send_ex2") + 0x18,
            false,
            "gen_send_ex2",
        ),
        site(
            "gc__done",
            base("gc_collect_main") + 0x99,
            false,
            "gc_collect_main",
        ),
        site("line", eval + 0x250, false, "_PyEval_EvalFrameDefault"),
    ];
    sites.sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
    sites
}

/// The addresses `python_provider()` stores in `dofpr_addr`.
fn stored_address(function: &str) -> u64 {
    match function {
        "_PyEval_EvalFrameDefault" => 0x1000,
        "gen_send_ex2" => 0x2000,
        "gc_collect_main" => 0x3000,
        other => panic!("no function {other}"),
    }
}

/// Everything but the addresses: names, types, sizes in the data model.
fn check_python_details(probes: &[Probe], model: DataModel, origin: Origin) {
    let w = model.word_size();
    assert_eq!(probes.len(), 6);
    for p in probes {
        assert_eq!(p.provider, "python");
        assert_eq!(p.model, model);
        assert_eq!(p.origin, origin);
        assert_eq!((p.semaphore, p.semaphore_offset), (None, None));
    }
    let find = |name: &str, enabled: bool| {
        probes
            .iter()
            .find(|p| p.name == name && p.is_enabled_site() == enabled)
            .unwrap()
    };
    let entry = find("function__entry", false);
    let d = entry.dtrace.as_ref().unwrap();
    assert_eq!(d.dtrace_name, "function-entry");
    assert_eq!(d.native_types, ["char *", "char *", "int"]);
    assert_eq!(d.arg_map, [0, 1, 2]);
    assert_eq!(
        shape(entry),
        [(w, false, false), (w, false, false), (4, true, false)]
    );
    assert_eq!(entry.raw_args, "char *, char *, int");
    assert_eq!(entry.args_text(), "char *, char *, int");
    // The is-enabled site carries its probe's arguments.
    assert_eq!(shape(find("function__entry", true)), shape(entry));
    // gc-done(long): a word, signed.
    let gc = find("gc__done", false);
    assert_eq!(shape(gc), [(w, true, false)]);
    assert_eq!(gc.dtrace.as_ref().unwrap().dtrace_name, "gc-done");
    // line: natives as declared, translated types and their mapping kept.
    let line = find("line", false);
    let d = line.dtrace.as_ref().unwrap();
    assert_eq!(d.translated_types, ["int", "string"]);
    assert_eq!(d.arg_map, [2, 0]);
    assert_eq!(line.args.len(), 3);
}

#[test]
fn bare_dof_ilp32_and_lp64_in_both_byte_orders() {
    for (model, big) in [(2, false), (2, true), (1, false), (1, true)] {
        let dof = DofSpec::new(model, big)
            .provider("python", python_provider())
            .encode();
        let probes = read_bytes(&dof.bytes).unwrap();
        assert_eq!(probes, read_dof(&dof.bytes).unwrap());
        assert_eq!(
            sites(&probes),
            python_sites(stored_address),
            "model {model}, big endian {big}"
        );
        let want = if model == 1 {
            DataModel::Ilp32
        } else {
            DataModel::Lp64
        };
        check_python_details(&probes, want, Origin::Dof);
        assert_eq!(probes[1].base, 0x1000);
        assert_eq!(probes[1].dtrace.as_ref().unwrap().offset, 0x40);
        assert_eq!(probes[1].location(), "0x1040");
    }
}

#[test]
fn two_providers_and_dof_version_1() {
    let mut spec = DofSpec::new(2, false)
        .provider("python", python_provider())
        .provider(
            "other",
            vec![ProbeSpec::new("fired", "other_fn", 0x9000).offsets(&[4])],
        );
    let probes = read_dof(&spec.encode().bytes).unwrap();
    assert_eq!(probes.len(), 7);
    assert_eq!(
        (probes[0].provider.as_str(), probes[0].pc),
        ("other", 0x9004)
    );
    assert!(probes[0].args.is_empty());

    // Version 1 has no is-enabled offsets: DTrace ignores dofpv_prenoffs and
    // dofpr_nenoffs, so the is-enabled site disappears.
    spec.version = 1;
    let probes = read_dof(&spec.encode().bytes).unwrap();
    assert_eq!(probes.len(), 6);
    assert!(probes.iter().all(|p| !p.is_enabled_site()));
}

#[test]
fn concatenated_dof_blobs_are_all_read() {
    // A linker concatenates the .SUNW_dof sections of its inputs, each blob
    // 8-byte aligned (the encoder pads dofh_filesz to 8).
    let first = DofSpec::new(2, false)
        .provider("python", python_provider())
        .encode();
    let second = DofSpec::new(2, false)
        .provider(
            "other",
            vec![ProbeSpec::new("fired", "other_fn", 0x9000).offsets(&[4])],
        )
        .encode();
    assert_eq!(first.bytes.len() % 8, 0);
    let mut both = first.bytes.clone();
    both.extend_from_slice(&second.bytes);
    let probes = read_dof(&both).unwrap();
    assert_eq!(probes.len(), 7);
    assert_eq!(
        (probes[0].provider.as_str(), probes[0].pc),
        ("other", 0x9004)
    );
    assert_eq!(sites(&probes[1..]), python_sites(stored_address));

    // Damage in the second blob names its offset.
    both[first.bytes.len() + 6] = 9;
    let err = read_dof(&both).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "malformed DOF in bare DOF at offset {:#x}: unsupported DOF version 9",
            first.bytes.len()
        )),
        "{err}"
    );
}

#[test]
fn relocated_bare_dof_is_relative_to_the_symbol() {
    // `dtrace -G` leaves dofpr_addr 0 and relocates it against the function.
    let dof = DofSpec::new(2, false)
        .provider(
            "python",
            vec![
                ProbeSpec::new("gc-start", "gc_collect_main", 0)
                    .offsets(&[0x10])
                    .args(&["int"])
                    .relocated(RELO_SETX, "gc_collect_main"),
                ProbeSpec::new("gc-done", "gc_collect_main", 0)
                    .offsets(&[0x20])
                    .args(&["long"])
                    .relocated(RELO_DOFREL, "$dtrace1.gc_collect_main"),
            ],
        )
        .encode();
    let probes = read_dof(&dof.bytes).unwrap();
    let relative = |name: &str, pc, symbol: &str| {
        (
            name.to_owned(),
            pc,
            false,
            "gc_collect_main".to_owned(),
            Some(symbol.to_owned()),
        )
    };
    assert_eq!(
        sites(&probes),
        [
            relative("gc__done", 0x20, "$dtrace1.gc_collect_main"),
            relative("gc__start", 0x10, "gc_collect_main"),
        ]
    );
    assert_eq!(probes[1].location(), "gc_collect_main+0x10");
    assert_eq!(probes[1].base, 0);
}

#[test]
fn agrees_with_the_dof_crate() {
    use std::collections::BTreeMap;

    // oxidecomputer's encoder writes native byte order and LP64 by default.
    let probe =
        |name: &str, function: &str, address, offsets: &[u32], enabled: &[u32], args: &[&str]| {
            (
                name.to_owned(),
                dof::Probe {
                    name: name.to_owned(),
                    function: function.to_owned(),
                    address,
                    offsets: offsets.to_vec(),
                    enabled_offsets: enabled.to_vec(),
                    arguments: args.iter().map(|a| a.to_string()).collect(),
                },
            )
        };
    let python = dof::Provider {
        name: "python".to_owned(),
        probes: BTreeMap::from([
            probe(
                "function-entry",
                "eval",
                0x40_1000,
                &[0x10, 0x80],
                &[0x8],
                &["char *", "char *", "int"],
            ),
            probe("gc-done", "collect", 0x40_2000, &[0x44], &[], &["long"]),
        ]),
    };
    let section = dof::Section {
        providers: BTreeMap::from([("python".to_owned(), python)]),
        ..Default::default()
    };
    let bytes = dof::serialize_section(&section);
    let probes = read_bytes(&bytes).unwrap();
    assert_eq!(
        sites(&probes),
        [
            site("function__entry", 0x40_1008, true, "eval"),
            site("function__entry", 0x40_1010, false, "eval"),
            site("function__entry", 0x40_1080, false, "eval"),
            site("gc__done", 0x40_2044, false, "collect"),
        ]
    );
    let native = if cfg!(target_pointer_width = "64") {
        DataModel::Lp64
    } else {
        DataModel::Ilp32
    };
    let w = native.word_size();
    assert!(probes.iter().all(|p| p.model == native));
    assert_eq!(
        shape(&probes[1]),
        [(w, false, false), (w, false, false), (4, true, false)]
    );
    assert_eq!(shape(&probes[3]), [(w, true, false)]);
}

fn check_g_object(file: &[u8], model: DataModel) {
    let probes = read_bytes(file).unwrap();
    let mut want = python_sites(|function| match function {
        "_PyEval_EvalFrameDefault" => 0x100,
        "gc_collect_main" => 0x300,
        _ => 0,
    });
    // gen_send_ex2 is not in this object: its site is an offset from it,
    // which sorts first.
    assert_eq!(want[0].3, "gen_send_ex2");
    want[0].4 = Some("gen_send_ex2".to_owned());
    assert_eq!(sites(&probes), want);
    assert_eq!(probes[0].location(), "gen_send_ex2+0x18");
    check_python_details(&probes, model, Origin::ElfDof);
}

#[test]
fn dtrace_g_object_x86_64_illumos_style() {
    // illumos: R_AMD64_64 relocations, DOF_RELO_SETX.
    let file = g_object(
        object::Architecture::X86_64,
        Endianness::Little,
        2,
        elf::R_X86_64_64,
        RELO_SETX,
    );
    check_g_object(&file, DataModel::Lp64);
}

#[test]
fn dtrace_g_object_x86_64_freebsd_style() {
    // FreeBSD: R_X86_64_PC64 relocations, DOF_RELO_DOFREL.
    let file = g_object(
        object::Architecture::X86_64,
        Endianness::Little,
        2,
        elf::R_X86_64_PC64,
        RELO_DOFREL,
    );
    check_g_object(&file, DataModel::Lp64);
}

#[test]
fn dtrace_g_object_i386_rel() {
    // FreeBSD i386: R_386_PC32 in a REL section, the addend in place.
    let file = g_object(
        object::Architecture::I386,
        Endianness::Little,
        1,
        elf::R_386_PC32,
        RELO_DOFREL,
    );
    check_g_object(&file, DataModel::Ilp32);
}

#[test]
fn dtrace_g_object_big_endian_powerpc64() {
    let file = g_object(
        object::Architecture::PowerPc64,
        Endianness::Big,
        2,
        elf::R_PPC64_ADDR64,
        RELO_SETX,
    );
    check_g_object(&file, DataModel::Lp64);
}

/// A linked file's DOF after the linker and DTrace's own conventions:
/// `_PyEval_EvalFrameDefault` (`DOF_RELO_DOFREL`: stored relative to its own
/// field), `gen_send_ex2` (absolute), `gc_collect_main` (`DOF_RELO_SETX`
/// left 0, found by its symbol).
fn check_linked(endian: Endianness, is_64: bool, e_type: u16, dof_name: &str) {
    let (text, dof_addr, mask) = if is_64 {
        (TEXT_64, DOF_64, u64::MAX)
    } else {
        (TEXT_32, DOF_32, u64::from(u32::MAX))
    };
    let functions = [
        ("_PyEval_EvalFrameDefault", text + 0x100),
        ("gen_send_ex2", text + 0x200),
        ("gc_collect_main", text + 0x300),
    ];
    let address = |f: &str| functions.iter().find(|(n, _)| *n == f).unwrap().1;
    let mut probes = python_provider();
    for p in &mut probes {
        p.relocation = Some(match p.function {
            "gen_send_ex2" => (RELO_SETX, "gen_send_ex2"),
            "gc_collect_main" => (RELO_SETX, "gc_collect_main"),
            _ => (RELO_DOFREL, "_PyEval_EvalFrameDefault"),
        });
    }
    let big = endian == Endianness::Big;
    let mut dof = DofSpec::new(if is_64 { 2 } else { 1 }, big)
        .provider("python", probes.clone())
        .encode();
    for (p, field) in probes.iter().zip(dof.addr_fields.clone()) {
        let stored = match p.function {
            // S - P, as R_X86_64_PC64 (or the 32-bit R_PPC_REL32 into the
            // low half) leaves it.
            "_PyEval_EvalFrameDefault" => {
                address(p.function).wrapping_sub(dof_addr + field as u64) & mask
            }
            "gen_send_ex2" => address(p.function),
            _ => 0,
        };
        dof.put_u64(field, stored, big);
    }
    let file = linked_elf(endian, is_64, e_type, dof_name, &dof.bytes, &functions);
    let read = read_bytes(&file).unwrap();
    assert_eq!(sites(&read), python_sites(address));
    let model = if is_64 {
        DataModel::Lp64
    } else {
        DataModel::Ilp32
    };
    check_python_details(&read, model, Origin::ElfDof);
    assert_eq!(read[1].base, text + 0x100);
}

#[test]
fn linked_x86_64_executable() {
    check_linked(Endianness::Little, true, elf::ET_EXEC, ".SUNW_dof");
}

#[test]
fn linked_big_endian_32_bit_shared_library_found_by_section_type() {
    check_linked(Endianness::Big, false, elf::ET_DYN, ".dof_renamed");
}

/// ld64's DOF: every offset counts from the DOF section (and is negative,
/// the code lying below it); `dofpr_addr` is not used.
fn check_macho(big: bool, is_64: bool) {
    let (text, dof_addr) = if is_64 {
        (0x1_0000_0f00, 0x1_0000_4000)
    } else {
        (0x1f00, 0x4000)
    };
    let functions = [
        ("_PyEval_EvalFrameDefault", text),
        ("gen_send_ex2", text + 0x800),
        ("gc_collect_main", text + 0x1000),
    ];
    let address = |f: &str| functions.iter().find(|(n, _)| *n == f).unwrap().1;
    let mut probes = python_provider();
    for p in &mut probes {
        let base = address(p.function);
        let rebase = |o: &mut u32| *o = (base + u64::from(*o)).wrapping_sub(dof_addr) as u32;
        p.offsets.iter_mut().for_each(rebase);
        p.enabled.iter_mut().for_each(rebase);
        p.addr = 0;
    }
    let dof = DofSpec::new(if is_64 { 2 } else { 1 }, big)
        .provider("python", probes)
        .encode();
    let file = macho_image(big, is_64, dof_addr, &dof.bytes);
    let read = read_bytes(&file).unwrap();
    assert_eq!(sites(&read), python_sites(address));
    let model = if is_64 {
        DataModel::Lp64
    } else {
        DataModel::Ilp32
    };
    check_python_details(&read, model, Origin::MachODof);
    let d = read[1].dtrace.as_ref().unwrap();
    assert_eq!(d.offset, text as i64 + 0x40 - dof_addr as i64);
    assert_eq!(read[1].base, dof_addr);
}

#[test]
fn sframe_sections_of_the_same_type_are_not_dof() {
    // GNU's SHT_GNU_SFRAME has the number of SHT_SUNW_dof; `.sframe` holds
    // stack trace data (its magic is 0xdee2), not DOF.
    let sframe = [0xe2, 0xde, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let file = linked_elf(
        Endianness::Little,
        true,
        elf::ET_EXEC,
        ".sframe",
        &sframe,
        &[],
    );
    assert_eq!(read_bytes(&file).unwrap(), vec![]);
    // Named .SUNW_dof, the same bytes are damaged DOF.
    let file = linked_elf(
        Endianness::Little,
        true,
        elf::ET_EXEC,
        ".SUNW_dof",
        &sframe,
        &[],
    );
    assert!(read_bytes(&file)
        .unwrap_err()
        .to_string()
        .starts_with("malformed DOF in ELF section .SUNW_dof at file offset"));
}

#[test]
fn macho_64_bit_little_endian_image() {
    check_macho(false, true);
}

#[test]
fn macho_32_bit_big_endian_image() {
    check_macho(true, false);
}

/// Calls of `function-entry(char *, char *, int)`, its is-enabled test and
/// `gc-done(long)`, the types hex-encoded as `dtrace -h` does.
const MACHO_CALLS: [(u64, &str); 3] = [
    (0x5, "___dtrace_isenabled$python$function__entry$v1"),
    (
        0x11,
        "___dtrace_probe$python$function__entry$v1$63686172202a$63686172202a$696e74",
    ),
    (0x25, "___dtrace_probe$python$gc__done$v1$6c6f6e67"),
];

#[test]
fn macho_object_probe_calls() {
    let probes = read_bytes(&macho_object(&MACHO_CALLS)).unwrap();
    assert_eq!(
        sites(&probes),
        [
            site("function__entry", 0x5, true, "fx_run"),
            site("function__entry", 0x11, false, "fx_run"),
            site("gc__done", 0x25, false, "fx_done"),
        ]
    );
    assert!(probes.iter().all(|p| p.origin == Origin::MachOSymbol));
    assert!(probes.iter().all(|p| p.model == DataModel::Lp64));
    let entry = probes[1].dtrace.as_ref().unwrap();
    assert_eq!(entry.native_types, ["char *", "char *", "int"]);
    assert_eq!(entry.dtrace_name, "function-entry");
    assert_eq!(shape(&probes[0]), shape(&probes[1]));
    assert_eq!(
        shape(&probes[1]),
        [(8, false, false), (8, false, false), (4, true, false)]
    );
    assert_eq!(shape(&probes[2]), [(8, true, false)]);
    assert_eq!(probes[2].dtrace.as_ref().unwrap().offset, 5);
}

#[test]
fn elf_with_notes_and_dof_lists_both() {
    use object::write::Object;
    use object::SectionKind;

    // One stapsdt note, little-endian ELF64 (see note.rs): namesz 8, descsz
    // 24 + "python\0" + "gc__start\0" + "-4@%edi\0", type 3, "stapsdt\0",
    // pc 0x1234, base 0, semaphore 0, the strings, padding to 4.
    let mut note = Vec::new();
    for word in [8u32, 24 + 7 + 10 + 8, 3] {
        note.extend_from_slice(&word.to_le_bytes());
    }
    note.extend_from_slice(b"stapsdt\0");
    for field in [0x1234u64, 0, 0] {
        note.extend_from_slice(&field.to_le_bytes());
    }
    note.extend_from_slice(b"python\0gc__start\0-4@%edi\0");
    note.resize(note.len().next_multiple_of(4), 0);

    let mut obj = Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::X86_64,
        Endianness::Little,
    );
    let notes = obj.add_section(Vec::new(), b".note.stapsdt".to_vec(), SectionKind::Note);
    obj.append_section_data(notes, &note, 4);
    let dof = DofSpec::new(2, false)
        .provider("python", python_provider())
        .encode();
    let section = obj.add_section(Vec::new(), b".SUNW_dof".to_vec(), SectionKind::ReadOnlyData);
    obj.append_section_data(section, &dof.bytes, 8);
    let probes = read_bytes(&obj.write().unwrap()).unwrap();
    assert_eq!(probes.len(), 7);
    let (stapsdt, dtrace): (Vec<Probe>, Vec<Probe>) = probes
        .into_iter()
        .partition(|p| p.origin == Origin::StapsdtNote);
    assert_eq!(sites(&dtrace), python_sites(stored_address));
    assert_eq!(stapsdt.len(), 1);
    assert_eq!(
        (stapsdt[0].name.as_str(), stapsdt[0].pc),
        ("gc__start", 0x1234)
    );
    assert_eq!(stapsdt[0].args_text(), "-4@%edi");
    assert!(stapsdt[0].dtrace.is_none());
}

/// Writes fuzzing seeds for `fuzz/fuzz_targets/read_dof.rs`.
#[test]
#[ignore = "writes the read_dof fuzz seeds; ci/fuzz.sh runs it"]
fn write_fuzz_seeds() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("PROBE_READER_FUZZ_SEEDS").expect("set PROBE_READER_FUZZ_SEEDS"),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds = Vec::new();
    for (model, big) in [(2, false), (2, true), (1, false), (1, true)] {
        let dof = DofSpec::new(model, big)
            .provider("python", python_provider())
            .encode();
        seeds.push((format!("seed-dof-m{model}-be{}", u8::from(big)), dof.bytes));
    }
    let g = g_object(
        object::Architecture::X86_64,
        Endianness::Little,
        2,
        elf::R_X86_64_64,
        RELO_SETX,
    );
    seeds.push(("seed-elf-g-object".into(), g));
    let relocated = DofSpec::new(1, true)
        .provider(
            "p",
            vec![ProbeSpec::new("a-b", "f", 0)
                .offsets(&[1])
                .enabled(&[2])
                .args(&["long"])
                .relocated(RELO_DOFREL, "f")],
        )
        .encode();
    seeds.push(("seed-dof-relocated".into(), relocated.bytes.clone()));
    seeds.push((
        "seed-elf-linked".into(),
        linked_elf(
            Endianness::Big,
            false,
            elf::ET_DYN,
            ".SUNW_dof",
            &relocated.bytes,
            &[("f", TEXT_32)],
        ),
    ));
    seeds.push((
        "seed-macho-image".into(),
        macho_image(false, true, 0x1_0000_4000, &relocated.bytes),
    ));
    seeds.push(("seed-macho-object".into(), macho_object(&MACHO_CALLS)));
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn macho_probe_names_are_spelled_as_dtrace_registers_them() {
    // DTrace turns each `__` of the symbol's name into `-`; the D spelling
    // is that turned back. A stray `-` (no D identifier has one, but a
    // fuzzer found it) therefore reads as `__` too.
    let probes = read_bytes(&macho_object(&[(0x5, "___dtrace_probe$p$gc__-one$v1")])).unwrap();
    let d = probes[0].dtrace.as_ref().unwrap();
    assert_eq!(
        (probes[0].name.as_str(), d.dtrace_name.as_str()),
        ("gc____one", "gc--one")
    );
}
