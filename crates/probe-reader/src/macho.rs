//! Mach-O files (macOS). `dtrace -h` headers make each probe site a call to
//! an undefined function named after the probe:
//!
//! * `___dtrace_probe$PROVIDER$NAME$v1$TYPE…`, each TYPE the C type of an
//!   argument in hexadecimal ASCII (`char *` is `63686172202a`);
//! * `___dtrace_isenabled$PROVIDER$NAME$v1` for the is-enabled test.
//!
//! An object file keeps those calls as relocations. The linker turns them
//! into no-ops and describes them in DOF, one `__dof_<provider>` section per
//! provider, whose offsets count from the DOF section itself (the kernel takes
//! the DOF's address as every probe's base, ignoring `dofpr_addr`). Both are
//! read; a file has one or the other.

use std::collections::HashMap;

use object::read::macho::{LoadCommandIterator, MachHeader, Section as _, Segment as _};
use object::{
    Endianness, Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionIndex, SymbolSection,
};

use crate::dof::{self, Base, Budget};
use crate::{ctype, Arg, DataModel, DtraceSite, Error, Origin, Probe};

const DOF_SECTION_PREFIX: &[u8] = b"__dof_";
/// The C names; Mach-O symbols have one more leading `_`.
const PROBE_PREFIX: &[u8] = b"__dtrace_probe$";
const ISENABLED_PREFIX: &[u8] = b"__dtrace_isenabled$";

fn malformed(error: object::read::Error) -> Error {
    Error::MalformedMachO(error.to_string())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Lists the probe sites of a (thin) Mach-O file, unsorted.
pub(crate) fn read(data: &[u8]) -> Result<Vec<Probe>, Error> {
    // mach_header_64 has magic 0xfeedfacf, in either byte order.
    if data.get(..4) == Some(&[0xfe, 0xed, 0xfa, 0xcf])
        || data.get(..4) == Some(&[0xcf, 0xfa, 0xed, 0xfe])
    {
        validate::<object::macho::MachHeader64<Endianness>>(data)?;
    } else {
        validate::<object::macho::MachHeader32<Endianness>>(data)?;
    }
    let file = object::File::parse(data).map_err(malformed)?;
    let endian = if file.is_little_endian() {
        Endianness::Little
    } else {
        Endianness::Big
    };
    let mask = if file.is_64() {
        u64::MAX
    } else {
        u64::from(u32::MAX)
    };
    let mut budget = Budget::new();
    let mut probes = Vec::new();
    for section in file.sections() {
        let name = section.name_bytes().map_err(malformed)?;
        if !name.starts_with(DOF_SECTION_PREFIX) {
            continue;
        }
        let segment = section
            .segment_name_bytes()
            .map_err(malformed)?
            .unwrap_or_default();
        let bytes = section.data().map_err(malformed)?;
        let address = section.address();
        let at = |start: usize| {
            let within = if start == 0 {
                String::new()
            } else {
                format!(" at offset {start:#x}")
            };
            format!("Mach-O section {},{}{within}", lossy(segment), lossy(name))
        };
        let layout = dof::Layout {
            mask,
            signed_offsets: true,
        };
        for (start, parsed) in dof::parse_all(bytes, &mut budget) {
            let parsed = parsed
                .and_then(|dof| dof::check_encoding(&dof, endian, "Mach-O file").map(|()| dof))
                .map_err(|reason| Error::Dof {
                    at: at(start),
                    reason,
                })?;
            let dof_address = address.wrapping_add(start as u64);
            let sites = dof::sites(&parsed, Origin::MachODof, layout, &mut budget, |_| {
                Ok(Base::Address(dof_address))
            })
            .map_err(|reason| Error::Dof {
                at: at(start),
                reason,
            })?;
            probes.extend(sites);
        }
    }
    probe_calls(&file, mask, &mut budget, &mut probes)?;
    Ok(probes)
}

/// Checks the load commands, section tables, relocation tables, DOF section
/// data and symbol table that reading uses: `object`'s file-level API skips
/// what it cannot parse, which would hide damage as "no probes".
fn validate<Mach: MachHeader<Endian = Endianness>>(data: &[u8]) -> Result<(), Error> {
    let header = Mach::parse(data, 0).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let mut commands: LoadCommandIterator<'_, Endianness> =
        header.load_commands(endian, data, 0).map_err(malformed)?;
    while let Some(command) = commands.next().map_err(malformed)? {
        if let Some((segment, section_data)) =
            Mach::Segment::from_command(command).map_err(malformed)?
        {
            for section in segment.sections(endian, section_data).map_err(malformed)? {
                section.relocations(endian, data).map_err(malformed)?;
                if section.name().starts_with(DOF_SECTION_PREFIX) {
                    section.data(endian, data).map_err(|()| {
                        Error::MalformedMachO(
                            "a __dof_ section runs past the end of the file".into(),
                        )
                    })?;
                }
            }
        } else if let Some(symtab) = command.symtab().map_err(malformed)? {
            symtab.symbols::<Mach, _>(endian, data).map_err(malformed)?;
        }
    }
    Ok(())
}

/// A relocation against a `___dtrace_probe$` or `___dtrace_isenabled$`
/// symbol.
struct Call {
    provider: String,
    name: String,
    is_enabled: bool,
    /// `None` for is-enabled symbols, which carry no types.
    types: Option<Vec<String>>,
    pc: u64,
    function: String,
    offset: i64,
}

/// Appends the sites of an object file's probe calls.
fn probe_calls(
    file: &object::File<'_>,
    mask: u64,
    budget: &mut Budget,
    probes: &mut Vec<Probe>,
) -> Result<(), Error> {
    let model = if file.is_64() {
        DataModel::Lp64
    } else {
        DataModel::Ilp32
    };
    let functions = defined_symbols(file);
    let mut calls = Vec::new();
    for section in file.sections() {
        for (offset, relocation) in section.relocations() {
            let RelocationTarget::Symbol(index) = relocation.target() else {
                continue;
            };
            let symbol = file.symbol_by_index(index).map_err(malformed)?;
            let symbol_name = symbol.name_bytes().map_err(malformed)?;
            let Some(decoded) = decode_symbol(symbol_name)? else {
                continue;
            };
            let (provider, symbol_probe, types) = decoded;
            // DTrace registers the name with each `__` as `-`; the D spelling
            // is that turned back, as for DOF.
            let name = symbol_probe.replace("__", "-").replace('-', "__");
            let pc = section.address().wrapping_add(offset) & mask;
            let (function, start) = function_at(&functions, section.index(), pc)
                .unwrap_or((String::new(), section.address()));
            calls.push(Call {
                provider,
                name,
                is_enabled: types.is_none(),
                types,
                pc,
                function,
                offset: pc.wrapping_sub(start) as i64,
            });
        }
    }
    // An is-enabled test has the argument types of its probe.
    let mut types_of: HashMap<(String, String), Vec<String>> = HashMap::new();
    for call in &calls {
        if let Some(types) = &call.types {
            types_of
                .entry((call.provider.clone(), call.name.clone()))
                .or_insert_with(|| types.clone());
        }
    }
    for call in calls {
        let types = match call.types {
            Some(types) => types,
            None => types_of
                .get(&(call.provider.clone(), call.name.clone()))
                .cloned()
                .unwrap_or_default(),
        };
        let cost = 256
            + 3 * call.name.len()
            + call.provider.len()
            + call.function.len()
            + types.iter().map(|t| 4 * t.len() + 96).sum::<usize>();
        budget
            .charge(cost as u64)
            .map_err(|reason| Error::MalformedMachO(format!("probe calls: {reason}")))?;
        let args = types
            .iter()
            .map(|ty| {
                let (size, signed, float) = ctype::classify(ty, model);
                Arg {
                    size,
                    signed,
                    float,
                    operand: String::new(),
                    ty: Some(ty.clone()),
                }
            })
            .collect();
        let count = u8::try_from(types.len()).unwrap_or(u8::MAX);
        probes.push(Probe {
            provider: call.provider,
            dtrace: Some(DtraceSite {
                function: call.function,
                offset: call.offset,
                relative_to: None,
                is_enabled: call.is_enabled,
                dtrace_name: call.name.replace("__", "-"),
                native_types: types.clone(),
                translated_types: types.clone(),
                arg_map: (0..count).collect(),
            }),
            name: call.name,
            pc: call.pc,
            base: call.pc.wrapping_sub(call.offset as u64),
            semaphore: None,
            semaphore_offset: None,
            args,
            raw_args: types.join(", "),
            origin: Origin::MachOSymbol,
            model,
        });
    }
    Ok(())
}

/// (provider, name, argument types) of a probe symbol; the types are `None`
/// for an is-enabled symbol. `Ok(None)` for any other symbol.
#[allow(clippy::type_complexity)]
fn decode_symbol(symbol: &[u8]) -> Result<Option<(String, String, Option<Vec<String>>)>, Error> {
    let name = symbol.strip_prefix(b"_").unwrap_or(symbol);
    let is_enabled = name.starts_with(ISENABLED_PREFIX);
    if !is_enabled && !name.starts_with(PROBE_PREFIX) {
        return Ok(None);
    }
    let bad = |reason: String| Error::BadProbeSymbol {
        symbol: lossy(symbol),
        reason,
    };
    let fields: Vec<&[u8]> = name.split(|&b| b == b'$').collect();
    let [_, provider, probe, version, types @ ..] = fields.as_slice() else {
        return Err(bad("expected PREFIX$PROVIDER$NAME$VERSION".to_owned()));
    };
    if provider.is_empty() || probe.is_empty() {
        return Err(bad("empty provider or probe name".to_owned()));
    }
    if *version != b"v1" {
        return Err(bad(format!(
            "unknown encoding version {} (v1 is known)",
            lossy(version)
        )));
    }
    let types = if is_enabled {
        if !types.is_empty() {
            return Err(bad("an is-enabled symbol has no argument types".to_owned()));
        }
        None
    } else {
        let decoded: Result<Vec<String>, String> = types.iter().map(|t| unhex(t)).collect();
        Some(decoded.map_err(bad)?)
    };
    Ok(Some((lossy(provider), lossy(probe), types)))
}

/// Decodes an argument type written as two hex digits per byte.
fn unhex(text: &[u8]) -> Result<String, String> {
    if text.is_empty() || text.len() & 1 == 1 {
        return Err(format!(
            "argument type {:?} is not an even number of hex digits",
            lossy(text)
        ));
    }
    let digit = |b: u8| char::from(b).to_digit(16);
    let bytes: Option<Vec<u8>> = text
        .chunks_exact(2)
        .map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect();
    bytes
        .map(|b| lossy(&b))
        .ok_or_else(|| format!("argument type {:?} is not hexadecimal", lossy(text)))
}

/// The named symbols defined in each section, sorted by address.
fn defined_symbols(file: &object::File<'_>) -> HashMap<SectionIndex, Vec<(u64, String)>> {
    let mut found: HashMap<SectionIndex, Vec<(u64, String)>> = HashMap::new();
    for symbol in file.symbols() {
        let SymbolSection::Section(section) = symbol.section() else {
            continue;
        };
        let name = symbol.name_bytes().unwrap_or_default();
        if name.is_empty() || symbol.is_undefined() {
            continue;
        }
        // DTrace names functions without the leading `_` of C symbols.
        let name = name.strip_prefix(b"_").unwrap_or(name);
        found
            .entry(section)
            .or_default()
            .push((symbol.address(), lossy(name)));
    }
    for list in found.values_mut() {
        list.sort();
    }
    found
}

/// The symbol of `section` closest below `pc`, and its address.
fn function_at(
    functions: &HashMap<SectionIndex, Vec<(u64, String)>>,
    section: SectionIndex,
    pc: u64,
) -> Option<(String, u64)> {
    let list = functions.get(&section)?;
    let after = list.partition_point(|(address, _)| *address <= pc);
    let (address, name) = list.get(after.checked_sub(1)?)?;
    Some((name.clone(), *address))
}
