//! The `-G` object: an ELF relocatable file that defines each probe's
//! semaphore, the 2-byte counter a tracer raises while attached.
//!
//! Same shape as SystemTap's `-G` stub: a writable, allocated `.probes`
//! section of zeroes, one 2-byte-aligned `unsigned short` per probe, each a
//! global but hidden symbol (every shared object keeps its own semaphores, as
//! the kernel's uprobe code finds them by file offset). An empty
//! `.note.GNU-stack` tells the linker this object needs no executable stack.

use std::path::Path;

use object::write::{Object, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, FileFlags, Object as _, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};

use crate::args::Width;
use crate::Error;

/// Which machine the object is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub architecture: Architecture,
    pub endian: Endianness,
    /// ELF `e_flags` and OS ABI, copied from an input object so the linker
    /// accepts the mix (ABI-carrying flags matter on e.g. RISC-V and MIPS).
    pub flags: FileFlags,
}

impl Target {
    /// The architecture of an existing object (the first `-G` input).
    pub fn of_object(path: &Path) -> Result<Target, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        let file = object::File::parse(&*bytes).map_err(|e| Error::BadObject {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if file.format() != BinaryFormat::Elf {
            return Err(Error::BadObject {
                path: path.display().to_string(),
                reason: format!("a {:?} file; -G writes ELF objects only", file.format()),
            });
        }
        Ok(Target {
            architecture: file.architecture(),
            endian: file.endianness(),
            flags: file.flags(),
        })
    }

    /// The machine this command runs on, or its 32-bit sibling with `-32`.
    pub fn host(width: Option<Width>) -> Result<Target, Error> {
        use Architecture::*;
        let arch = match (std::env::consts::ARCH, width) {
            ("x86_64", Some(Width::Bits32)) | ("x86", _) => I386,
            ("x86_64", _) => X86_64,
            ("aarch64", Some(Width::Bits32)) | ("arm", _) => Arm,
            ("aarch64", _) => Aarch64,
            ("riscv64", _) => Riscv64,
            ("powerpc64", _) => PowerPc64,
            ("s390x", _) => S390x,
            ("loongarch64", _) => LoongArch64,
            (other, _) => return Err(Error::UnknownHost(other.to_string())),
        };
        let endian = if cfg!(target_endian = "big") {
            Endianness::Big
        } else {
            Endianness::Little
        };
        Ok(Target {
            architecture: arch,
            endian,
            flags: FileFlags::None,
        })
    }
}

/// The bytes of an object defining `symbols` as zeroed semaphores in `.probes`.
pub fn object_bytes(symbols: &[String], target: Target) -> Result<Vec<u8>, Error> {
    let mut obj = Object::new(BinaryFormat::Elf, target.architecture, target.endian);
    obj.flags = target.flags;
    if !symbols.is_empty() {
        let probes = obj.add_section(Vec::new(), b".probes".to_vec(), SectionKind::Data);
        for name in symbols {
            let offset = obj.append_section_data(probes, &[0, 0], 2);
            obj.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value: offset,
                size: 2,
                kind: SymbolKind::Data,
                scope: SymbolScope::Linkage,
                weak: false,
                section: SymbolSection::Section(probes),
                flags: SymbolFlags::None,
            });
        }
    }
    obj.add_section(
        Vec::new(),
        b".note.GNU-stack".to_vec(),
        SectionKind::Elf(object::elf::SHT_PROGBITS),
    );
    obj.write().map_err(|e| Error::Write(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{ObjectSection, ObjectSymbol, SymbolSection as ReadSection};

    fn x86_64() -> Target {
        Target {
            architecture: Architecture::X86_64,
            endian: Endianness::Little,
            flags: FileFlags::None,
        }
    }

    #[test]
    fn every_semaphore_is_a_hidden_zeroed_short_in_probes() {
        let names = vec![
            "python_a_semaphore".to_string(),
            "python_b_semaphore".to_string(),
        ];
        let bytes = object_bytes(&names, x86_64()).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        assert_eq!(file.kind(), object::ObjectKind::Relocatable);
        let probes = file.section_by_name(".probes").unwrap();
        assert_eq!(probes.data().unwrap(), &[0, 0, 0, 0]);
        assert_eq!(probes.align(), 2);
        for (i, name) in names.iter().enumerate() {
            let sym = file.symbol_by_name(name).unwrap();
            assert_eq!(sym.address(), 2 * i as u64);
            assert_eq!(sym.size(), 2);
            assert!(sym.is_global());
            assert_eq!(sym.scope(), SymbolScope::Linkage, "hidden visibility");
            assert_eq!(sym.section(), ReadSection::Section(probes.index()));
        }
        assert!(file.section_by_name(".note.GNU-stack").is_some());
    }

    #[test]
    fn no_probes_means_no_probes_section() {
        let bytes = object_bytes(&[], x86_64()).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        assert!(file.section_by_name(".probes").is_none());
    }

    #[test]
    fn the_target_is_read_back_from_an_object() {
        let dir = std::env::temp_dir().join(format!("dtrace-cli-target-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.o");
        let arm = Target {
            architecture: Architecture::Aarch64,
            endian: Endianness::Little,
            flags: FileFlags::None,
        };
        std::fs::write(&path, object_bytes(&[], arm).unwrap()).unwrap();
        assert_eq!(
            Target::of_object(&path).unwrap().architecture,
            Architecture::Aarch64
        );
        std::fs::write(&path, b"not an object").unwrap();
        assert!(matches!(
            Target::of_object(&path),
            Err(Error::BadObject { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
