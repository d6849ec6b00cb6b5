//! Damaged input: every prefix of real files, flipped bytes, absurd note
//! sizes. The reader must answer `Ok` or `Err`, never panic, and must not
//! accept a file that is cut short.

mod common;

use probe_reader::{read_bytes, Error};

/// File offset and size of `.note.stapsdt`, found with the `object` crate
/// rather than the code under test.
fn note_section(data: &[u8]) -> (usize, usize) {
    use object::{Object, ObjectSection};
    let file = object::File::parse(data).unwrap();
    let section = file.section_by_name(".note.stapsdt").unwrap();
    let (offset, size) = section.file_range().unwrap();
    (offset as usize, size as usize)
}

fn fixtures() -> Vec<Vec<u8>> {
    let f = common::native();
    [&f.executable, &f.shared_library, &f.object]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

#[test]
fn every_prefix_is_rejected() {
    for data in fixtures() {
        assert!(read_bytes(&data).is_ok());
        // The section header table is the last thing in these files, so no
        // strict prefix has a complete one.
        for len in 0..data.len() {
            assert!(
                read_bytes(&data[..len]).is_err(),
                "a {len}-byte prefix was accepted"
            );
        }
    }
}

#[test]
fn flipped_note_bytes_never_panic() {
    for data in fixtures() {
        let (offset, size) = note_section(&data);
        let mut copy = data.clone();
        let (mut ok, mut err) = (0, 0);
        for at in offset..offset + size {
            for mask in [0x01, 0x80, 0xff] {
                copy[at] ^= mask;
                match read_bytes(&copy) {
                    Ok(_) => ok += 1,
                    Err(_) => err += 1,
                }
                copy[at] = data[at];
            }
        }
        // Flipping a name byte still reads; flipping a size byte does not.
        assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
    }
}

#[test]
fn flipped_bytes_anywhere_never_panic() {
    let data = std::fs::read(&common::native().object).unwrap();
    let mut copy = data.clone();
    for (at, &original) in data.iter().enumerate() {
        copy[at] = original ^ 0xff;
        let _ = read_bytes(&copy);
        copy[at] = original;
    }
    // Random multi-byte damage from a fixed-seed xorshift generator.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let mut copy = data.clone();
        for _ in 0..1 + next() % 8 {
            let at = (next() % data.len() as u64) as usize;
            copy[at] = next() as u8;
        }
        let _ = read_bytes(&copy);
    }
}

#[test]
fn absurd_note_sizes_are_truncation_errors() {
    let data = std::fs::read(&common::native().executable).unwrap();
    let (offset, _) = note_section(&data);
    let want = format!("truncated .note.stapsdt note at offset {offset:#x}");
    // namesz is the first word of the first note, descsz the second (x86-64
    // is little-endian).
    for (field, value) in [
        (0, u32::MAX),
        (4, u32::MAX),
        (4, 0x8000_0000),
        (0, 0x7fff_fffc),
    ] {
        let mut copy = data.clone();
        copy[offset + field..offset + field + 4].copy_from_slice(&value.to_le_bytes());
        let err = read_bytes(&copy).unwrap_err();
        assert_eq!(err.to_string(), want, "field {field} = {value:#x}");
    }

    // A descriptor too small for three addresses.
    let mut copy = data.clone();
    copy[offset + 4..offset + 8].copy_from_slice(&16u32.to_le_bytes());
    assert!(matches!(
        read_bytes(&copy),
        Err(Error::ShortDescriptor { size: 16, .. })
    ));
}

#[test]
fn section_header_pointing_outside_the_file_is_malformed() {
    let data = std::fs::read(&common::native().object).unwrap();
    // e_shoff of an ELF64 header lives at 0x28.
    let mut copy = data.clone();
    copy[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(read_bytes(&copy), Err(Error::Malformed(_))));
}
