//! Walking the notes of a `.note.stapsdt` section and decoding stapsdt
//! descriptors, on plain bytes so it can be tested without an ELF file.
//!
//! A note is `namesz`, `descsz`, `type` (4 bytes each, file byte order), then
//! the name and the descriptor, each padded to the note alignment. A stapsdt
//! probe note has name `stapsdt`, type 3, and a descriptor of three addresses
//! (probe pc, link-time `.stapsdt.base`, semaphore; 4 bytes each on
//! ELFCLASS32, 8 on ELFCLASS64) followed by three NUL-terminated strings:
//! provider, name and arguments.

use object::{Endian, Endianness};

use crate::Error;

/// `NT_STAPSDT`, the note type of version-3 probe descriptors.
const NT_STAPSDT: u32 = 3;
const NOTE_HEADER_SIZE: usize = 12;

/// How to read numbers in this file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub endian: Endianness,
    /// 4 on ELFCLASS32, 8 on ELFCLASS64.
    pub addr_size: usize,
}

/// One stapsdt note, with its three addresses still raw.
#[derive(Debug)]
pub(crate) struct RawProbe {
    /// File offset of the note header, for error messages.
    pub file_offset: u64,
    /// Section offsets of the pc, base and semaphore fields, where
    /// relocations of a `.o` file apply.
    pub field_offsets: [u64; 3],
    /// The stored pc, base and semaphore.
    pub fields: [u64; 3],
    pub provider: String,
    pub name: String,
    pub raw_args: String,
}

/// Decodes every stapsdt note of a section; other notes are skipped.
///
/// `section_offset` is the section's file offset, used only in messages.
/// `align` is the note alignment (4, or 8 for sections that ask for it).
pub(crate) fn stapsdt_notes(
    section: &[u8],
    section_offset: u64,
    align: usize,
    layout: Layout,
) -> Result<Vec<RawProbe>, Error> {
    let mut probes = Vec::new();
    let mut pos = 0usize;
    while pos < section.len() {
        let file_offset = section_offset.saturating_add(pos as u64);
        let truncated = || Error::TruncatedNote {
            offset: file_offset,
        };
        let header = section.get(pos..).ok_or_else(truncated)?;
        let namesz = read_u32(header, 0, layout.endian).ok_or_else(truncated)?;
        let descsz = read_u32(header, 4, layout.endian).ok_or_else(truncated)?;
        let kind = read_u32(header, 8, layout.endian).ok_or_else(truncated)?;
        let name_start = pos.checked_add(NOTE_HEADER_SIZE).ok_or_else(truncated)?;
        let name_end = name_start
            .checked_add(to_usize(namesz).ok_or_else(truncated)?)
            .ok_or_else(truncated)?;
        let desc_start = align_up(name_end, align).ok_or_else(truncated)?;
        let desc_end = desc_start
            .checked_add(to_usize(descsz).ok_or_else(truncated)?)
            .ok_or_else(truncated)?;
        let name = section.get(name_start..name_end).ok_or_else(truncated)?;
        let desc = section.get(desc_start..desc_end).ok_or_else(truncated)?;
        if kind == NT_STAPSDT && trim_nul(name) == b"stapsdt" {
            probes.push(decode(desc, desc_start, file_offset, layout)?);
        }
        // The last note may end without padding.
        pos = align_up(desc_end, align).ok_or_else(truncated)?;
    }
    Ok(probes)
}

fn decode(
    desc: &[u8],
    desc_start: usize,
    file_offset: u64,
    layout: Layout,
) -> Result<RawProbe, Error> {
    let width = layout.addr_size;
    let short = || Error::ShortDescriptor {
        offset: file_offset,
        size: desc.len(),
    };
    let mut fields = [0u64; 3];
    let mut field_offsets = [0u64; 3];
    for (i, (field, field_offset)) in fields.iter_mut().zip(&mut field_offsets).enumerate() {
        let at = i.checked_mul(width).ok_or_else(short)?;
        *field = read_addr(desc, at, layout).ok_or_else(short)?;
        *field_offset = desc_start.checked_add(at).ok_or_else(short)? as u64;
    }
    let strings = desc.get(3 * width..).ok_or_else(short)?;
    let unterminated = || Error::UnterminatedName {
        offset: file_offset,
    };
    let (provider, rest) = split_nul(strings).ok_or_else(unterminated)?;
    let (name, rest) = split_nul(rest).ok_or_else(unterminated)?;
    // The argument string is the last field; tolerate a missing terminator.
    let raw_args = split_nul(rest).map_or(rest, |(args, _)| args);
    Ok(RawProbe {
        file_offset,
        field_offsets,
        fields,
        provider: lossy(provider),
        name: lossy(name),
        raw_args: lossy(raw_args),
    })
}

/// Reads an address-sized field in the file's byte order.
pub(crate) fn read_addr(bytes: &[u8], at: usize, layout: Layout) -> Option<u64> {
    if layout.addr_size == 8 {
        let raw = bytes.get(at..at.checked_add(8)?)?;
        Some(layout.endian.read_u64_bytes(raw.try_into().ok()?))
    } else {
        read_u32(bytes, at, layout.endian).map(u64::from)
    }
}

fn read_u32(bytes: &[u8], at: usize, endian: Endianness) -> Option<u32> {
    let raw = bytes.get(at..at.checked_add(4)?)?;
    Some(endian.read_u32_bytes(raw.try_into().ok()?))
}

fn to_usize(n: u32) -> Option<usize> {
    usize::try_from(n).ok()
}

fn align_up(n: usize, align: usize) -> Option<usize> {
    let mask = align.checked_sub(1)?;
    Some(n.checked_add(mask)? & !mask)
}

fn trim_nul(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\0").unwrap_or(bytes)
}

fn split_nul(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == 0)?;
    Some((bytes.get(..end)?, bytes.get(end + 1..)?))
}

/// Names are ASCII in practice; a damaged byte shows up as U+FFFD rather than
/// hiding every other probe of the file behind an error.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LE64: Layout = Layout {
        endian: Endianness::Little,
        addr_size: 8,
    };
    const BE32: Layout = Layout {
        endian: Endianness::Big,
        addr_size: 4,
    };

    // A note for provider `p`, probe `n`, args `4@%eax`, written out by hand
    // as little-endian ELF64: pc 0x1122, base 0x2000, semaphore 0x4010.
    fn le64_note() -> Vec<u8> {
        let mut bytes = vec![
            8, 0, 0, 0, // namesz: "stapsdt\0"
            35, 0, 0, 0, // descsz: 24 + "p\0" + "n\0" + "4@%eax\0"
            3, 0, 0, 0, // type 3
        ];
        bytes.extend_from_slice(b"stapsdt\0");
        bytes.extend_from_slice(&[0x22, 0x11, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[0x00, 0x20, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[0x10, 0x40, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(b"p\0n\x004@%eax\0");
        bytes.push(0); // pad 35 to 36
        bytes
    }

    #[test]
    fn decodes_a_hand_written_note() {
        let notes = stapsdt_notes(&le64_note(), 0x300, 4, LE64).unwrap();
        assert_eq!(notes.len(), 1);
        let note = &notes[0];
        assert_eq!(note.fields, [0x1122, 0x2000, 0x4010]);
        assert_eq!(note.field_offsets, [20, 28, 36]);
        assert_eq!(note.file_offset, 0x300);
        assert_eq!(
            (
                note.provider.as_str(),
                note.name.as_str(),
                note.raw_args.as_str()
            ),
            ("p", "n", "4@%eax")
        );
    }

    #[test]
    fn skips_other_notes() {
        let mut bytes = vec![4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0];
        bytes.extend_from_slice(b"GNU\0");
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        let first = bytes.len() as u64;
        bytes.extend(le64_note());
        let notes = stapsdt_notes(&bytes, 0, 4, LE64).unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].file_offset, first);
    }

    #[test]
    fn big_endian_32_bit_note() {
        let mut bytes = vec![0, 0, 0, 8, 0, 0, 0, 18, 0, 0, 0, 3];
        bytes.extend_from_slice(b"stapsdt\0");
        bytes.extend_from_slice(&[0x10, 0x00, 0x04, 0x00]); // pc
        bytes.extend_from_slice(&[0x10, 0x00, 0x08, 0x00]); // base
        bytes.extend_from_slice(&[0, 0, 0, 0]); // no semaphore
        bytes.extend_from_slice(b"a\0b\0\0\0"); // no arguments; 18 bytes
        bytes.extend_from_slice(&[0, 0]);
        let notes = stapsdt_notes(&bytes, 0, 4, BE32).unwrap();
        assert_eq!(notes[0].fields, [0x1000_0400, 0x1000_0800, 0]);
        assert_eq!(notes[0].raw_args, "");
        assert_eq!(notes[0].name, "b");
    }

    #[test]
    fn huge_sizes_are_truncation_errors() {
        for (at, value) in [
            (0, u32::MAX),
            (4, u32::MAX),
            (4, 0x7fff_fff0),
            (0, 0xffff_fff5),
        ] {
            let mut bytes = le64_note();
            bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            let err = stapsdt_notes(&bytes, 0x40, 4, LE64).unwrap_err();
            assert_eq!(
                err.to_string(),
                "truncated .note.stapsdt note at offset 0x40"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = le64_note();
        // 35 bytes of descriptor end at 55; only the last padding byte may go.
        for len in 1..55 {
            assert!(
                stapsdt_notes(&bytes[..len], 0, 4, LE64).is_err(),
                "prefix of {len} bytes was accepted"
            );
        }
        assert!(stapsdt_notes(&bytes[..55], 0, 4, LE64).is_ok());
    }

    #[test]
    fn short_descriptor_and_missing_names() {
        let mut short = vec![8, 0, 0, 0, 16, 0, 0, 0, 3, 0, 0, 0];
        short.extend_from_slice(b"stapsdt\0");
        short.extend_from_slice(&[0; 16]);
        assert!(matches!(
            stapsdt_notes(&short, 0, 4, LE64),
            Err(Error::ShortDescriptor {
                offset: 0,
                size: 16
            })
        ));

        let mut unterminated = vec![8, 0, 0, 0, 28, 0, 0, 0, 3, 0, 0, 0];
        unterminated.extend_from_slice(b"stapsdt\0");
        unterminated.extend_from_slice(&[0; 24]);
        unterminated.extend_from_slice(b"prov");
        assert!(matches!(
            stapsdt_notes(&unterminated, 0, 4, LE64),
            Err(Error::UnterminatedName { offset: 0 })
        ));
    }

    #[test]
    fn non_utf8_names_are_lossy() {
        let mut bytes = le64_note();
        // The provider byte `p` sits right after the three addresses.
        bytes[44] = 0xff;
        let notes = stapsdt_notes(&bytes, 0, 4, LE64).unwrap();
        assert_eq!(notes[0].provider, "\u{fffd}");
    }
}
