//! Real fixtures: C code using `<sys/sdt.h>` compiled by the system `cc` into
//! an executable, a shared library and an object file, read back and
//! cross-checked field by field against `readelf -n --wide`.

mod common;

use std::path::Path;

use common::{readelf_probes, Fixtures};
use probe_reader::{read_bytes, read_path, Error, Probe};

/// (size, signed, float) of each argument.
type Shape = Vec<(u8, bool, bool)>;

/// What the C sources in `common` declare, written from their C types.
/// `word` is sizeof(long) == sizeof(void *) on the target.
fn expected(word: u8, with_done: bool) -> Vec<(&'static str, &'static str, Shape, bool)> {
    let mut probes = Vec::new();
    if with_done {
        // fx_done(int code): two sites, no semaphore.
        for _ in 0..2 {
            probes.push(("fx", "done", vec![(4, true, false)], false));
        }
    }
    // argc (int), name (const char *), big (long)
    probes.push((
        "fx",
        "start",
        vec![(4, true, false), (word, false, false), (word, true, false)],
        true,
    ));
    // unsigned char, int16_t, double, uint32_t, float: sys/sdt.h marks
    // floating-point values with `f` and never as signed.
    probes.push((
        "fx",
        "tick",
        vec![
            (1, false, false),
            (2, true, false),
            (8, false, true),
            (4, false, false),
            (4, false, true),
        ],
        true,
    ));
    if with_done {
        probes.push(("fx2", "idle", vec![], false));
    }
    probes
}

fn shape(probe: &Probe) -> Shape {
    probe
        .args
        .iter()
        .map(|a| (a.size, a.signed, a.float))
        .collect()
}

/// Checks one compiled file against the hand-written expectations and readelf.
fn check(path: &Path, word: u8, with_done: bool) -> Vec<Probe> {
    let probes = read_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let data = std::fs::read(path).unwrap();
    assert_eq!(
        read_bytes(&data).unwrap(),
        probes,
        "read_bytes and read_path differ"
    );

    let got: Vec<_> = probes
        .iter()
        .map(|p| {
            (
                p.provider.as_str(),
                p.name.as_str(),
                shape(p),
                p.semaphore.is_some(),
            )
        })
        .collect();
    assert_eq!(got, expected(word, with_done), "{}", path.display());

    let readelf = readelf_probes(path);
    assert_eq!(
        readelf.len(),
        probes.len(),
        "readelf sees a different number of probes"
    );
    for (ours, theirs) in probes.iter().zip(&readelf) {
        assert_eq!(ours.provider, theirs.provider);
        assert_eq!(ours.name, theirs.name);
        assert_eq!(
            ours.pc, theirs.location,
            "pc of {}:{}",
            ours.provider, ours.name
        );
        assert_eq!(
            ours.base, theirs.base,
            "base of {}:{}",
            ours.provider, ours.name
        );
        assert_eq!(
            ours.semaphore.unwrap_or(0),
            theirs.semaphore,
            "semaphore of {}:{}",
            ours.provider,
            ours.name
        );
        assert_eq!(ours.raw_args, theirs.arguments);
        let rendered: Vec<String> = ours.args.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered.join(" "),
            ours.raw_args,
            "args do not render back to raw_args"
        );
        assert_eq!(ours.adjusted_pc(ours.base), ours.pc);
    }

    // The semaphores were given initial values; their file offsets must hold them.
    for probe in &probes {
        let Some(offset) = probe.semaphore_offset else {
            assert!(
                probe.semaphore.is_none(),
                "{}: semaphore without file offset",
                probe.name
            );
            continue;
        };
        let at = usize::try_from(offset).unwrap();
        let value = u16::from_le_bytes([data[at], data[at + 1]]);
        let want = match probe.name.as_str() {
            "start" => 0xa1b2,
            "tick" => 0xc3d4,
            other => panic!("unexpected semaphore on {other}"),
        };
        assert_eq!(
            value, want,
            "semaphore of {} at file offset {offset:#x}",
            probe.name
        );
    }
    probes
}

fn check_variant(fixtures: &Fixtures, word: u8) {
    let exe = check(&fixtures.executable, word, true);
    let lib = check(&fixtures.shared_library, word, true);
    let obj = check(&fixtures.object, word, false);

    // Linked files: real addresses, and one `.stapsdt.base` for all notes.
    for file in [&exe, &lib] {
        assert!(file.iter().all(|p| p.pc != 0 && p.base != 0));
        assert!(file.iter().all(|p| p.base == file[0].base));
    }
    // Object file: section-relative values; the two semaphores are the first
    // two shorts of `.probes`, so offsets 0 and 2 (in either order).
    let mut semaphores: Vec<u64> = obj.iter().filter_map(|p| p.semaphore).collect();
    semaphores.sort();
    assert_eq!(semaphores, vec![0, 2]);
    assert!(obj.iter().all(|p| p.base == 0));
    assert!(obj.iter().all(|p| p.semaphore_offset.is_some()));
}

#[test]
fn native_executable_library_and_object() {
    let word = u8::try_from(std::mem::size_of::<usize>()).unwrap();
    check_variant(common::native(), word);
}

#[test]
fn m32_executable_library_and_object() {
    match common::m32() {
        Ok(fixtures) => check_variant(fixtures, 4),
        Err(why) => eprintln!("skipping the -m32 variant: {why}"),
    }
}

#[test]
fn errors_name_the_problem() {
    let dir = common::scratch_dir("errors");

    let missing = dir.join("no-such-file");
    let err = read_path(&missing).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err
        .to_string()
        .starts_with(&format!("cannot read {}: ", missing.display())));

    let source = dir.join("text.c");
    std::fs::write(&source, common::MAIN_C).unwrap();
    assert_eq!(
        read_path(&source).unwrap_err().to_string(),
        "not an ELF file, Mach-O file or DOF"
    );

    // Damaged headers of the other formats: each is recognised and its
    // damage described in its own terms. First a mach_header_64 claiming one
    // load command of 4 KiB (ncmds at 16, sizeofcmds at 20) in 64 bytes.
    let mut macho = vec![0xcf, 0xfa, 0xed, 0xfe];
    macho.resize(64, 0);
    macho[16] = 1;
    macho[21] = 0x10;
    let err = read_bytes(&macho).unwrap_err();
    assert!(matches!(err, Error::MalformedMachO(_)), "{err}");
    // A dof_hdr_t of zeros but its magic.
    let mut dof = b"\x7fDOF".to_vec();
    dof.resize(64, 0);
    assert_eq!(
        read_bytes(&dof).unwrap_err().to_string(),
        "malformed DOF in bare DOF at offset 0x0: unknown data model 0 in DOF_ID_MODEL (1 is ILP32, 2 is LP64)"
    );
    let mut fat = vec![0xca, 0xfe, 0xba, 0xbe];
    fat.resize(64, 0);
    assert!(read_bytes(&fat)
        .unwrap_err()
        .to_string()
        .contains("lipo -thin"));
    assert!(matches!(read_bytes(b""), Err(Error::NotElf)));
    assert!(matches!(
        read_bytes(b"\x7fELF\x03"),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn file_without_probes_is_empty() {
    let dir = common::scratch_dir("no-probes");
    let source = dir.join("plain.c");
    std::fs::write(&source, "int main(void) { return 0; }\n").unwrap();
    let exe = dir.join("plain");
    let status = std::process::Command::new("cc")
        .arg("-o")
        .arg(&exe)
        .arg(&source)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(read_path(&exe).unwrap(), vec![]);
}

/// Debian builds its python3 with SystemTap probes: a real-world cross-check
/// of every field, and of semaphore offsets against the section table as
/// the `object` crate reports it.
#[test]
fn system_python_agrees_with_readelf() {
    use object::{Object, ObjectSection};

    let path = Path::new("/usr/bin/python3");
    let readelf = if path.exists() {
        readelf_probes(path)
    } else {
        vec![]
    };
    if readelf.is_empty() {
        eprintln!(
            "skipping: {} is missing or has no .note.stapsdt probes",
            path.display()
        );
        return;
    }
    let data = std::fs::read(path).unwrap();
    let probes = read_bytes(&data).unwrap();
    let ours: Vec<_> = probes
        .iter()
        .map(|p| {
            (
                p.provider.clone(),
                p.name.clone(),
                p.pc,
                p.base,
                p.semaphore.unwrap_or(0),
                p.raw_args.clone(),
            )
        })
        .collect();
    let theirs: Vec<_> = readelf
        .into_iter()
        .map(|p| {
            (
                p.provider,
                p.name,
                p.location,
                p.base,
                p.semaphore,
                p.arguments,
            )
        })
        .collect();
    assert_eq!(ours, theirs);

    let file = object::File::parse(&*data).unwrap();
    for probe in &probes {
        let Some(addr) = probe.semaphore else {
            continue;
        };
        let section = file
            .sections()
            .find(|s| (s.address()..s.address() + s.size()).contains(&addr))
            .expect("a section holds the semaphore");
        let (start, _) = section
            .file_range()
            .expect("semaphore section has file data");
        assert_eq!(
            probe.semaphore_offset,
            Some(addr - section.address() + start),
            "{}",
            probe.name
        );
    }
}
