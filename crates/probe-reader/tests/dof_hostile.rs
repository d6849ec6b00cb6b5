//! Damaged and hostile DOF: every prefix, flipped bytes in DOF and in its
//! containers, and each count, index and offset of `<sys/dtrace.h>`'s
//! structures pointed somewhere it must not. The reader answers `Ok` or a
//! one-line `Err` naming the problem, never panics, and never allocates
//! what the counts claim rather than what the input holds.

mod common;

use common::containers::{g_object, macho_image, macho_object};
use common::dof::{
    python_provider, DofSpec, Encoded, ProbeSpec, PRARGS, PRENOFFS, PROBES, PROFFS, PROVIDER,
    RELO_SETX, RELTAB, STRTAB,
};
use object::Endianness;
use probe_reader::{read_bytes, read_dof, Error};

fn python(big: bool) -> Encoded {
    DofSpec::new(2, big)
        .provider("python", python_provider())
        .encode()
}

/// The `reason` of the DOF error `read_dof` gives.
fn reason(bytes: &[u8]) -> String {
    match read_dof(bytes) {
        Err(Error::Dof { reason, .. }) => reason,
        other => panic!("expected a DOF error, got {other:?}"),
    }
}

/// Applies `damage` to a fresh little-endian (and big-endian) fixture and
/// checks the reason contains `want`.
fn check(want: &str, damage: impl Fn(&mut Encoded, bool)) {
    for big in [false, true] {
        let mut dof = python(big);
        damage(&mut dof, big);
        let why = reason(&dof.bytes);
        assert!(
            why.contains(want),
            "big endian {big}: {why:?} lacks {want:?}"
        );
        assert_eq!(why.lines().count(), 1);
    }
}

// Offsets of fields, from <sys/dtrace.h>.
const HDR_SECSIZE: usize = 24; // dof_hdr_t.dofh_secsize
const HDR_SECNUM: usize = 28; // dof_hdr_t.dofh_secnum
const HDR_SECOFF: usize = 32; // dof_hdr_t.dofh_secoff
const HDR_FILESZ: usize = 48; // dof_hdr_t.dofh_filesz
const SEC_FLAGS: usize = 8; // dof_sec_t.dofs_flags
const SEC_ENTSIZE: usize = 12; // dof_sec_t.dofs_entsize
const SEC_OFFSET: usize = 16; // dof_sec_t.dofs_offset
const SEC_SIZE: usize = 24; // dof_sec_t.dofs_size
const PV_PROBES: usize = 4; // dof_provider_t.dofpv_probes
const PV_PRENOFFS: usize = 40; // dof_provider_t.dofpv_prenoffs
const PR_NAME: usize = 12; // dof_probe_t.dofpr_name
const PR_OFFIDX: usize = 28; // dof_probe_t.dofpr_offidx
const PR_NARGC: usize = 32; // dof_probe_t.dofpr_nargc
const PR_NOFFS: usize = 34; // dof_probe_t.dofpr_noffs

#[test]
fn every_prefix_is_an_error() {
    for big in [false, true] {
        let dof = python(big);
        assert!(read_dof(&dof.bytes).is_ok());
        for len in 0..dof.bytes.len() {
            assert!(
                read_dof(&dof.bytes[..len]).is_err(),
                "a {len}-byte prefix was accepted"
            );
            let _ = read_bytes(&dof.bytes[..len]);
        }
    }
}

/// Flips every byte of `data` three ways, then damages it at random from a
/// fixed seed; returns how many reads succeeded and failed.
fn shake(data: &[u8], rounds: usize) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    let mut tally = |copy: &[u8]| match read_bytes(copy) {
        Ok(_) => ok += 1,
        Err(_) => err += 1,
    };
    let mut copy = data.to_vec();
    for at in 0..data.len() {
        for mask in [0x01, 0x80, 0xff] {
            copy[at] ^= mask;
            tally(&copy);
            copy[at] = data[at];
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..rounds {
        let mut copy = data.to_vec();
        for _ in 0..1 + next() % 8 {
            let at = (next() % data.len() as u64) as usize;
            copy[at] = next() as u8;
        }
        tally(&copy);
    }
    (ok, err)
}

#[test]
fn damaged_dof_never_panics() {
    for big in [false, true] {
        let (ok, err) = shake(&python(big).bytes, 5000);
        // Flipping a name or offset byte still reads; a count does not.
        assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
    }
}

#[test]
fn damaged_containers_never_panic() {
    let g = g_object(
        object::Architecture::X86_64,
        Endianness::Little,
        2,
        object::elf::R_X86_64_64,
        RELO_SETX,
    );
    let macho = macho_image(true, false, 0x4000, &python(true).bytes);
    let calls = macho_object(&[(0x5, "___dtrace_probe$p$n$v1$696e74")]);
    for file in [g, macho, calls] {
        assert!(read_bytes(&file).is_ok());
        let (ok, err) = shake(&file, 3000);
        assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
    }
}

#[test]
fn identification_bytes() {
    check("unknown data model 3 in DOF_ID_MODEL", |d, _| {
        d.bytes[4] = 3
    });
    check("unknown encoding 0 in DOF_ID_ENCODING", |d, _| {
        d.bytes[5] = 0
    });
    check("unsupported DOF version 9", |d, _| d.bytes[6] = 9);
    check("no DOF magic", |d, _| d.bytes[1] = b'E');
}

#[test]
fn header_sizes_and_counts() {
    check("section headers of 32 bytes", |d, big| {
        d.put_u32(HDR_SECNUM, u32::MAX, big)
    });
    check("run past", |d, big| {
        d.put_u64(HDR_SECOFF, u64::MAX - 8, big)
    });
    check(
        "truncated: dofh_filesz is 0xffffffffffffffff bytes",
        |d, big| d.put_u64(HDR_FILESZ, u64::MAX, big),
    );
    check("smaller than the DOF header", |d, big| {
        d.put_u64(HDR_FILESZ, 12, big)
    });
    check("smaller than dof_sec_t", |d, big| {
        d.put_u32(HDR_SECSIZE, 8, big)
    });
}

#[test]
fn section_headers() {
    check("section 2 (offset", |d, big| {
        // The PRARGS data moved past the end of the DOF.
        let at = d.header_of(PRARGS) + SEC_OFFSET;
        let len = d.bytes.len() as u64;
        d.put_u64(at, len, big);
    });
    check("runs past the DOF's", |d, big| {
        let at = d.header_of(PROFFS) + SEC_SIZE;
        d.put_u64(at, u64::MAX, big);
    });
    check("not loadable (DOF_SECF_LOAD)", |d, big| {
        let at = d.header_of(PROFFS) + SEC_FLAGS;
        d.put_u32(at, 0, big);
    });
    check("entry size 0, dof_probe_t needs 48", |d, big| {
        let at = d.header_of(PROBES) + SEC_ENTSIZE;
        d.put_u32(at, 0, big);
    });
    check("entry size 8, DTrace requires 4", |d, big| {
        let at = d.header_of(PRENOFFS) + SEC_ENTSIZE;
        d.put_u32(at, 8, big);
    });
    check("dof_provider_t needs 44", |d, big| {
        let at = d.header_of(PROVIDER) + SEC_SIZE;
        d.put_u64(at, 20, big);
    });
}

#[test]
fn provider_links() {
    check(
        "refers to section 99, but there are 6 sections",
        |d, big| {
            let at = d.data_of(PROVIDER) + PV_PROBES;
            d.put_u32(at, 99, big);
        },
    );
    check("a STRTAB section, not PROBES", |d, big| {
        let at = d.data_of(PROVIDER) + PV_PROBES;
        d.put_u32(at, 0, big);
    });
    // DOF_SECT_NONE: no is-enabled table, yet a probe has an is-enabled site.
    check(
        "1 is-enabled offsets but the provider has no is-enabled offset table",
        |d, big| {
            let at = d.data_of(PROVIDER) + PV_PRENOFFS;
            d.put_u32(at, 0, big);
        },
    );
}

#[test]
fn probe_counts_and_indices() {
    // The offset table holds 5 entries: 2 + 1 + 1 + 1.
    check(
        "offsets 0..+65535 (dofpr_offidx, dofpr_noffs) run past the 5-entry offset table",
        |d, big| {
            let at = d.addr_fields[0] + PR_NOFFS;
            d.put_u16(at, u16::MAX, big);
        },
    );
    check("offsets 4294967295..+2", |d, big| {
        let at = d.addr_fields[0] + PR_OFFIDX;
        d.put_u32(at, u32::MAX, big);
    });
    check(
        "has no sites (dofpr_noffs and dofpr_nenoffs are 0)",
        |d, big| {
            // gc-done, the third probe, has one offset and no is-enabled one.
            let at = d.addr_fields[2] + PR_NOFFS;
            d.put_u16(at, 0, big);
        },
    );
    check(
        "name (dofpr_name) at string index 0xfffffff0 is outside",
        |d, big| {
            let at = d.addr_fields[1] + PR_NAME;
            d.put_u32(at, 0xffff_fff0, big);
        },
    );
    check("native argument type", |d, _| {
        d.bytes[d.addr_fields[0] + PR_NARGC] = 255;
    });
    check("maps to native argument 9, but there are 3", |d, _| {
        // PRARGS: [0, 1, 2] twice for function-entry, [0] for gc-done, then
        // line's [2, 0].
        let at = d.data_of(PRARGS) + 7;
        assert_eq!(d.bytes[at], 2);
        d.bytes[at] = 9;
    });
    check("translated argument type 1 at string index", |d, big| {
        // One byte off the string table's dofs_size drops its last NUL,
        // which ends line's last translated type, "string".
        let at = d.header_of(STRTAB) + SEC_SIZE;
        let raw: [u8; 8] = d.bytes[at..at + 8].try_into().unwrap();
        let size = if big {
            u64::from_be_bytes(raw)
        } else {
            u64::from_le_bytes(raw)
        };
        let end = d.data_of(STRTAB) + size as usize;
        assert_eq!(&d.bytes[end - 7..end], b"string\0");
        d.put_u64(at, size - 1, big);
    });
    check("runs off the string table unterminated", |d, big| {
        let at = d.header_of(STRTAB) + SEC_SIZE;
        let raw: [u8; 8] = d.bytes[at..at + 8].try_into().unwrap();
        let size = if big {
            u64::from_be_bytes(raw)
        } else {
            u64::from_le_bytes(raw)
        };
        d.put_u64(at, size - 1, big);
    });
}

#[test]
fn overlong_names() {
    let long = "x".repeat(64);
    let long: &'static str = Box::leak(long.into_boxed_str());
    let dof = DofSpec::new(2, false)
        .provider("p", vec![ProbeSpec::new(long, "f", 0).offsets(&[1])])
        .encode();
    assert!(reason(&dof.bytes).contains("is 64 bytes long; DTrace allows 63"));
}

#[test]
fn relocations() {
    let relocated = || {
        DofSpec::new(2, false)
            .provider(
                "p",
                vec![ProbeSpec::new("n", "f", 0)
                    .offsets(&[1])
                    .relocated(RELO_SETX, "f")],
            )
            .encode()
    };
    let mut dof = relocated();
    // dof_relodesc_t: dofr_name, dofr_type at 4, dofr_offset at 8.
    let at = dof.data_of(RELTAB);
    dof.put_u32(at + 4, 7, false);
    assert!(reason(&dof.bytes).contains("unknown type 7 (DOF_RELO_*"));
    let mut dof = relocated();
    dof.put_u64(at + 8, 0x1000, false);
    assert!(reason(&dof.bytes).contains("offset 0x1000 is outside its 0x30-byte target section"));
}

#[test]
fn counts_multiplying_past_the_input_are_refused() {
    // 2000 probes that each claim the same 16384-entry range of offsets:
    // 32 million sites from a 400 KB DOF. The reader must refuse, not try.
    let mut probes = vec![ProbeSpec::new("big", "f", 0)
        .offsets(&vec![1; 16384])
        .args(&["char *", "char *", "int"])];
    for _ in 1..2000 {
        probes.push(
            ProbeSpec::new("big", "f", 0)
                .offsets(&[1])
                .args(&["char *", "char *", "int"]),
        );
    }
    let mut dof = DofSpec::new(2, false).provider("p", probes).encode();
    for k in 0..2000 {
        let at = dof.addr_fields[k];
        dof.put_u32(at + PR_OFFIDX, 0, false);
        dof.put_u16(at + PR_NOFFS, 16384, false);
    }
    let started = std::time::Instant::now();
    assert!(reason(&dof.bytes).contains("more than 256 MiB"));
    assert!(started.elapsed().as_secs() < 10);
}

#[test]
fn errors_name_the_container() {
    let mut bad = python(false);
    bad.bytes[6] = 9; // DOF_ID_VERSION
    let err = read_bytes(&bad.bytes).unwrap_err().to_string();
    assert_eq!(
        err,
        "malformed DOF in bare DOF at offset 0x0: unsupported DOF version 9 in DOF_ID_VERSION (1 to 3 are known)"
    );

    let macho = macho_image(false, true, 0x1_0000_4000, &bad.bytes);
    let err = read_bytes(&macho).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "malformed DOF in Mach-O section __TEXT,__dof_python: unsupported DOF version 9"
        ),
        "{err}"
    );

    let mut g = g_object(
        object::Architecture::X86_64,
        Endianness::Little,
        2,
        object::elf::R_X86_64_64,
        RELO_SETX,
    );
    let start = find_dof(&g);
    g[start + 6] = 9;
    let err = read_bytes(&g).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("malformed DOF in ELF section .SUNW_dof at file offset {start:#x}: unsupported DOF version 9 in DOF_ID_VERSION (1 to 3 are known)")
    );

    let calls = macho_object(&[(0x5, "___dtrace_probe$p$n$v1$7a7")]);
    assert_eq!(
        read_bytes(&calls).unwrap_err().to_string(),
        "malformed DTrace probe symbol ___dtrace_probe$p$n$v1$7a7 in Mach-O object: argument type \"7a7\" is not an even number of hex digits"
    );
    let calls = macho_object(&[(0x5, "___dtrace_probe$p$n$v2")]);
    assert!(read_bytes(&calls)
        .unwrap_err()
        .to_string()
        .contains("unknown encoding version v2"));

    // A load command running past the end of a Mach-O file.
    let mut cut = macho_image(false, true, 0x1_0000_4000, &python(false).bytes);
    cut.truncate(100);
    assert!(matches!(read_bytes(&cut), Err(Error::MalformedMachO(_))));
}

#[test]
fn dof_byte_order_must_match_its_container() {
    // A big-endian DOF in a little-endian Mach-O image, and the reverse in
    // a 32-bit big-endian one.
    let image = macho_image(false, true, 0x1_0000_4000, &python(true).bytes);
    assert_eq!(
        read_bytes(&image).unwrap_err().to_string(),
        "malformed DOF in Mach-O section __TEXT,__dof_python: DOF_ID_ENCODING says big-endian but the Mach-O file is little-endian; DTrace would refuse it"
    );
    let image = macho_image(true, false, 0x4000, &python(false).bytes);
    assert!(read_bytes(&image)
        .unwrap_err()
        .to_string()
        .contains("says little-endian but the Mach-O file is big-endian"));
}

/// Where the DOF starts in a file, found by its magic and model byte.
fn find_dof(file: &[u8]) -> usize {
    file.windows(5)
        .position(|w| w == b"\x7fDOF\x02")
        .expect("DOF in the file")
}
