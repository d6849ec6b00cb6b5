//! The DTrace Object Format (DOF) as far as USDT providers use it, decoded
//! from plain bytes so every container (ELF, Mach-O, bare) shares it.
//!
//! Layout (illumos `<sys/dtrace.h>`; every structure has fixed-size fields,
//! identical in ILP32 and LP64, in the byte order `DOF_ID_ENCODING` names):
//!
//! * `dof_hdr_t` (64 bytes): `dofh_ident[16]` (magic `\x7fDOF`, then
//!   `DOF_ID_MODEL`, `DOF_ID_ENCODING`, `DOF_ID_VERSION`, …), `dofh_flags`,
//!   `dofh_hdrsize`, `dofh_secsize`, `dofh_secnum` (u32 at 16, 20, 24, 28),
//!   `dofh_secoff`, `dofh_loadsz`, `dofh_filesz`, `dofh_pad` (u64 at 32…56).
//! * `dof_sec_t` (32 bytes): `dofs_type`, `dofs_align`, `dofs_flags`,
//!   `dofs_entsize` (u32), `dofs_offset`, `dofs_size` (u64).
//! * `dof_provider_t` (44 bytes; 40 in DOF version 1): section indices
//!   `dofpv_strtab`, `dofpv_probes`, `dofpv_prargs`, `dofpv_proffs`, the
//!   name's string index `dofpv_name`, five attribute words, then
//!   `dofpv_prenoffs` (is-enabled offsets, since version 2).
//! * `dof_probe_t` (48 bytes): `dofpr_addr` (u64), string indices
//!   `dofpr_func`, `dofpr_name`, `dofpr_nargv`, `dofpr_xargv`, then
//!   `dofpr_argidx`, `dofpr_offidx` (u32), `dofpr_nargc`, `dofpr_xargc` (u8),
//!   `dofpr_noffs` (u16), `dofpr_enoffidx` (u32), `dofpr_nenoffs` (u16), pad.
//! * `dof_relohdr_t` (12 bytes): `dofr_strtab`, `dofr_relsec`, `dofr_tgtsec`;
//!   `dof_relodesc_t` (24 bytes): `dofr_name`, `dofr_type` (u32),
//!   `dofr_offset`, `dofr_data` (u64).
//!
//! A probe's sites are `dofpr_addr` plus each of its `dofpr_noffs` offsets
//! (from the `PROFFS` table) and, as is-enabled sites, each of its
//! `dofpr_nenoffs` offsets from the `PRENOFFS` table. The checks follow the
//! ones DTrace makes before it accepts a provider: what DTrace would refuse is
//! an error here too.

use std::collections::HashMap;

use object::{Endian, Endianness};

use crate::{ctype, Arg, DataModel, DtraceSite, Origin, Probe};

pub(crate) const MAGIC: &[u8] = b"\x7fDOF";

const HDR_SIZE: usize = 64; // dof_hdr_t
const SEC_SIZE: u64 = 32; // dof_sec_t
const PROVIDER_V1_SIZE: usize = 40; // dof_provider_t up to dofpv_prenoffs
const PROVIDER_SIZE: usize = 44; // dof_provider_t
const PROBE_SIZE: u64 = 48; // dof_probe_t
const RELOHDR_SIZE: usize = 12; // dof_relohdr_t
const RELODESC_SIZE: u64 = 24; // dof_relodesc_t

// dof_sec_t.dofs_type
const SECT_STRTAB: u32 = 8;
const SECT_RELTAB: u32 = 10;
const SECT_URELHDR: u32 = 12;
const SECT_PROVIDER: u32 = 15;
const SECT_PROBES: u32 = 16;
const SECT_PRARGS: u32 = 17;
const SECT_PROFFS: u32 = 18;
const SECT_PRENOFFS: u32 = 26;
const SECF_LOAD: u32 = 1;
/// `DOF_SECT_NONE`: what `dofpv_prenoffs` holds when there is no table.
const SECT_NONE: u32 = 0;
const SECIDX_NONE: u32 = u32::MAX;

// dof_relodesc_t.dofr_type
const RELO_NONE: u32 = 0;
const RELO_SETX: u32 = 1;
const RELO_DOFREL: u32 = 2;

// Name length limits of <sys/dtrace.h>, terminating NUL included.
const PROVNAMELEN: usize = 64;
const FUNCNAMELEN: usize = 128;
const NAMELEN: usize = 64;
const ARGTYPELEN: usize = 128;

/// Caps what one read may allocate for probe data, whatever the counts in
/// the input multiply to: a real provider needs a few kilobytes per probe.
pub(crate) struct Budget {
    left: u64,
}

impl Budget {
    const LIMIT: u64 = 256 << 20;

    pub(crate) fn new() -> Self {
        Budget { left: Self::LIMIT }
    }

    pub(crate) fn charge(&mut self, bytes: u64) -> Result<(), String> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(format!(
                "its probes would take more than {} MiB to list; the counts in it are corrupt",
                Self::LIMIT >> 20
            )),
        }
    }
}

/// One decoded DOF blob.
pub(crate) struct Dof<'a> {
    pub model: DataModel,
    /// `DOF_ID_ENCODING`.
    pub encoding: Endianness,
    /// `dofh_filesz`: how many bytes the blob takes.
    pub len: usize,
    pub entries: Vec<Entry<'a>>,
}

/// One `dof_probe_t`: a probe in one function, with all its sites there.
pub(crate) struct Entry<'a> {
    pub provider: String,
    /// As stored: `function-entry`.
    pub name: String,
    pub function: String,
    /// `dofpr_addr` as stored.
    pub addr: u64,
    /// Where `dofpr_addr` is, from the start of the DOF.
    pub addr_offset: u64,
    /// The DOF's own relocation of `dofpr_addr` (`DOF_SECT_URELHDR`).
    pub relocation: Option<Relocation>,
    offsets: &'a [u8],
    enabled_offsets: &'a [u8],
    encoding: Endianness,
    pub native: Vec<String>,
    pub translated: Vec<String>,
    pub mapping: Vec<u8>,
}

/// `DOF_RELO_SETX` (add the load address) or `DOF_RELO_DOFREL` (add the
/// address of the relocated field itself) against a symbol.
#[derive(Debug, Clone)]
pub(crate) struct Relocation {
    pub symbol: String,
    pub pc_relative: bool,
}

/// What a probe's offsets count from.
pub(crate) enum Base {
    Address(u64),
    /// A symbol with no known address: sites are reported as offsets from it.
    Relative(String),
}

/// How the container wants addresses formed.
#[derive(Clone, Copy)]
pub(crate) struct Layout {
    /// Addresses wrap at the container's address width.
    pub mask: u64,
    /// Mach-O DOF counts sites from the DOF section with signed 32-bit offsets.
    pub signed_offsets: bool,
}

impl Layout {
    pub(crate) const WIDE: Layout = Layout {
        mask: u64::MAX,
        signed_offsets: false,
    };
}

/// Decodes the DOF blobs that follow each other in `data` (each 8-byte
/// aligned, as linkers concatenate `.SUNW_dof` sections). Reading stops at
/// the first error, which is the last item, or at bytes that are not DOF.
pub(crate) fn parse_all<'a>(
    data: &'a [u8],
    budget: &mut Budget,
) -> Vec<(usize, Result<Dof<'a>, String>)> {
    let mut found = Vec::new();
    let mut start = 0usize;
    loop {
        let parsed = parse(data.get(start..).unwrap_or_default(), budget);
        let len = parsed.as_ref().map(|dof| dof.len).ok();
        found.push((start, parsed));
        let Some(next) = len
            .and_then(|len| start.checked_add(len))
            .and_then(|end| end.checked_add(7))
            .map(|end| end & !7)
        else {
            break;
        };
        if !data.get(next..).is_some_and(|rest| rest.starts_with(MAGIC)) {
            break;
        }
        start = next;
    }
    found
}

/// Decodes one DOF blob that starts at `data[0]`.
pub(crate) fn parse<'a>(data: &'a [u8], budget: &mut Budget) -> Result<Dof<'a>, String> {
    if data.len() < HDR_SIZE {
        return Err(format!(
            "{} bytes are too few for the 64-byte DOF header (dof_hdr_t)",
            data.len()
        ));
    }
    if !data.starts_with(MAGIC) {
        return Err("no DOF magic \\x7fDOF at its start".to_owned());
    }
    let model = match data[4] {
        1 => DataModel::Ilp32,
        2 => DataModel::Lp64,
        other => {
            return Err(format!(
                "unknown data model {other} in DOF_ID_MODEL (1 is ILP32, 2 is LP64)"
            ))
        }
    };
    let encoding = match data[5] {
        1 => Endianness::Little,
        2 => Endianness::Big,
        other => {
            return Err(format!(
                "unknown encoding {other} in DOF_ID_ENCODING (1 is LSB, 2 is MSB)"
            ))
        }
    };
    let version = data[6];
    if !(1..=3).contains(&version) {
        return Err(format!(
            "unsupported DOF version {version} in DOF_ID_VERSION (1 to 3 are known)"
        ));
    }
    let whole = Bytes {
        data,
        endian: encoding,
    };
    let header = |at| whole.u32(at).unwrap_or(0);
    let (secsize, secnum) = (header(24), header(28));
    let secoff = whole.u64(32).unwrap_or(0);
    let filesz = whole.u64(48).unwrap_or(0);
    let len = match usize::try_from(filesz) {
        Ok(len) if len > data.len() => {
            return Err(format!(
                "truncated: dofh_filesz is {filesz:#x} bytes, only {:#x} are there",
                data.len()
            ))
        }
        Ok(len) if len >= HDR_SIZE => len,
        _ => {
            return Err(format!(
                "dofh_filesz {filesz:#x} is smaller than the DOF header"
            ))
        }
    };
    if u64::from(secsize) < SEC_SIZE {
        return Err(format!(
            "section header size {secsize} (dofh_secsize) is smaller than dof_sec_t (32 bytes)"
        ));
    }
    let table = u64::from(secnum) * u64::from(secsize);
    if !matches!(secoff.checked_add(table), Some(end) if end <= filesz) {
        return Err(format!(
            "its {secnum} section headers of {secsize} bytes at dofh_secoff {secoff:#x} run past its {filesz:#x} bytes"
        ));
    }
    let file = File {
        bytes: Bytes {
            data: &data[..len],
            endian: encoding,
        },
        version,
        secoff,
        secsize,
        secnum,
    };
    let relocations = file.relocations(budget)?;
    let mut entries = Vec::new();
    for index in 0..secnum {
        if file.section_type(index)? == SECT_PROVIDER {
            file.provider(index, &relocations, budget, &mut entries)?;
        }
    }
    Ok(Dof {
        model,
        encoding,
        len,
        entries,
    })
}

/// DTrace refuses DOF whose byte order is not the machine's; in a container,
/// that is the container's.
pub(crate) fn check_encoding(
    dof: &Dof<'_>,
    container: Endianness,
    what: &str,
) -> Result<(), String> {
    if dof.encoding == container {
        return Ok(());
    }
    let name = |e: Endianness| match e {
        Endianness::Little => "little-endian",
        Endianness::Big => "big-endian",
    };
    Err(format!(
        "DOF_ID_ENCODING says {} but the {what} is {}; DTrace would refuse it",
        name(dof.encoding),
        name(container)
    ))
}

/// Lists the sites of every probe of `dof`. `base` says where each entry's
/// offsets count from.
pub(crate) fn sites(
    dof: &Dof<'_>,
    origin: Origin,
    layout: Layout,
    budget: &mut Budget,
    mut base: impl FnMut(&Entry<'_>) -> Result<Base, String>,
) -> Result<Vec<Probe>, String> {
    let mut probes = Vec::new();
    for entry in &dof.entries {
        let count = (entry.offsets.len() + entry.enabled_offsets.len()) / 4;
        // Strings and argument records are copied into every site.
        let per_site = 256
            + entry.provider.len()
            + 3 * entry.name.len()
            + 2 * entry.function.len()
            + entry
                .native
                .iter()
                .chain(&entry.translated)
                .map(|t| 3 * t.len() + 96)
                .sum::<usize>();
        budget.charge((per_site as u64).saturating_mul(count as u64))?;
        let base = base(entry)?;
        let args: Vec<Arg> = entry
            .native
            .iter()
            .map(|ty| {
                let (size, signed, float) = ctype::classify(ty, dof.model);
                Arg {
                    size,
                    signed,
                    float,
                    operand: String::new(),
                    ty: Some(ty.clone()),
                }
            })
            .collect();
        let name = entry.name.replace('-', "__");
        let fired = entry.offsets.chunks_exact(4).map(|o| (o, false));
        let enabled = entry.enabled_offsets.chunks_exact(4).map(|o| (o, true));
        for (raw, is_enabled) in fired.chain(enabled) {
            let raw = entry
                .encoding
                .read_u32_bytes(raw.try_into().unwrap_or_default());
            let offset = if layout.signed_offsets {
                i64::from(raw as i32)
            } else {
                i64::from(raw)
            };
            let (pc, base_addr, relative_to) = match &base {
                Base::Address(addr) => (
                    addr.wrapping_add(offset as u64) & layout.mask,
                    addr & layout.mask,
                    None,
                ),
                Base::Relative(symbol) => (offset as u64 & layout.mask, 0, Some(symbol.clone())),
            };
            probes.push(Probe {
                provider: entry.provider.clone(),
                name: name.clone(),
                pc,
                base: base_addr,
                semaphore: None,
                semaphore_offset: None,
                args: args.clone(),
                raw_args: entry.native.join(", "),
                origin,
                model: dof.model,
                dtrace: Some(DtraceSite {
                    function: entry.function.clone(),
                    offset,
                    relative_to,
                    is_enabled,
                    dtrace_name: entry.name.clone(),
                    native_types: entry.native.clone(),
                    translated_types: entry.translated.clone(),
                    arg_map: entry.mapping.clone(),
                }),
            });
        }
    }
    Ok(probes)
}

/// Numbers in the DOF's byte order, out of range reads being `None`.
#[derive(Clone, Copy)]
struct Bytes<'a> {
    data: &'a [u8],
    endian: Endianness,
}

impl<'a> Bytes<'a> {
    fn get<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
        let start = usize::try_from(at).ok()?;
        self.data.get(start..start.checked_add(N)?)?.try_into().ok()
    }

    fn u8(&self, at: u64) -> Option<u8> {
        self.get::<1>(at).map(|[b]| b)
    }

    fn u16(&self, at: u64) -> Option<u16> {
        self.get(at).map(|b| self.endian.read_u16_bytes(b))
    }

    fn u32(&self, at: u64) -> Option<u32> {
        self.get(at).map(|b| self.endian.read_u32_bytes(b))
    }

    fn u64(&self, at: u64) -> Option<u64> {
        self.get(at).map(|b| self.endian.read_u64_bytes(b))
    }
}

/// A section's header fields and bytes.
#[derive(Clone, Copy)]
struct Section<'a> {
    index: u32,
    entsize: u32,
    /// `dofs_offset`: where the bytes start in the DOF.
    offset: u64,
    bytes: Bytes<'a>,
}

impl Section<'_> {
    fn len(&self) -> u64 {
        self.bytes.data.len() as u64
    }
}

struct File<'a> {
    /// The whole DOF, `dofh_filesz` long.
    bytes: Bytes<'a>,
    version: u8,
    secoff: u64,
    secsize: u32,
    secnum: u32,
}

fn type_name(kind: u32) -> String {
    match kind {
        SECT_STRTAB => "STRTAB".to_owned(),
        SECT_RELTAB => "RELTAB".to_owned(),
        SECT_URELHDR => "URELHDR".to_owned(),
        SECT_PROVIDER => "PROVIDER".to_owned(),
        SECT_PROBES => "PROBES".to_owned(),
        SECT_PRARGS => "PRARGS".to_owned(),
        SECT_PROFFS => "PROFFS".to_owned(),
        SECT_PRENOFFS => "PRENOFFS".to_owned(),
        other => format!("type {other}"),
    }
}

impl<'a> File<'a> {
    fn header_at(&self, index: u32) -> u64 {
        // In range: parse() checked that all dofh_secnum headers fit.
        self.secoff + u64::from(index) * u64::from(self.secsize)
    }

    fn section_type(&self, index: u32) -> Result<u32, String> {
        self.bytes
            .u32(self.header_at(index))
            .ok_or_else(|| format!("section header {index} is truncated"))
    }

    /// Section `index`, which `role` refers to; `want` is its required type
    /// (`None`: any).
    fn section(&self, index: u32, want: Option<u32>, role: &str) -> Result<Section<'a>, String> {
        if index >= self.secnum {
            return Err(format!(
                "{role} refers to section {index}, but there are {} sections",
                self.secnum
            ));
        }
        let at = self.header_at(index);
        let field = |delta: u64| self.bytes.u32(at + delta);
        let truncated = || format!("section header {index} is truncated");
        let kind = field(0).ok_or_else(truncated)?;
        let flags = field(8).ok_or_else(truncated)?;
        let entsize = field(12).ok_or_else(truncated)?;
        let offset = self.bytes.u64(at + 16).ok_or_else(truncated)?;
        let size = self.bytes.u64(at + 24).ok_or_else(truncated)?;
        if let Some(want) = want.filter(|&want| want != kind) {
            return Err(format!(
                "{role} refers to section {index}, a {} section, not {}",
                type_name(kind),
                type_name(want)
            ));
        }
        if flags & SECF_LOAD == 0 {
            return Err(format!(
                "{role} refers to section {index}, which is not loadable (DOF_SECF_LOAD)"
            ));
        }
        let data = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(start, size)| self.bytes.data.get(start..start.checked_add(size)?))
            .ok_or_else(|| {
                format!(
                    "section {index} (offset {offset:#x}, size {size:#x}) runs past the DOF's {:#x} bytes",
                    self.bytes.data.len()
                )
            })?;
        Ok(Section {
            index,
            entsize,
            offset,
            bytes: Bytes {
                data,
                endian: self.bytes.endian,
            },
        })
    }

    /// The `DOF_RELO_SETX`/`DOF_RELO_DOFREL` relocations of every
    /// `URELHDR` section, keyed by (target section, offset).
    fn relocations(&self, budget: &mut Budget) -> Result<HashMap<(u32, u64), Relocation>, String> {
        let mut found = HashMap::new();
        for index in 0..self.secnum {
            if self.section_type(index)? != SECT_URELHDR {
                continue;
            }
            let role = format!("relocation header (section {index})");
            let header = self.section(index, Some(SECT_URELHDR), &role)?;
            if header.bytes.data.len() < RELOHDR_SIZE {
                return Err(format!(
                    "{role} has {} bytes, dof_relohdr_t needs {RELOHDR_SIZE}",
                    header.len()
                ));
            }
            let word = |at| header.bytes.u32(at).unwrap_or(0);
            let strtab =
                self.section(word(0), Some(SECT_STRTAB), &format!("{role} (dofr_strtab)"))?;
            let table =
                self.section(word(4), Some(SECT_RELTAB), &format!("{role} (dofr_relsec)"))?;
            let target = self.section(word(8), None, &format!("{role} (dofr_tgtsec)"))?;
            if u64::from(table.entsize) < RELODESC_SIZE {
                return Err(format!(
                    "relocation table (section {}) has entry size {}, dof_relodesc_t needs {RELODESC_SIZE}",
                    table.index, table.entsize
                ));
            }
            let count = table.len() / u64::from(table.entsize);
            for k in 0..count {
                let at = k * u64::from(table.entsize);
                let name = table.bytes.u32(at).unwrap_or(0);
                let kind = table.bytes.u32(at + 4).unwrap_or(0);
                let offset = table.bytes.u64(at + 8).unwrap_or(0);
                let what = format!("relocation {k} of section {}", table.index);
                let pc_relative = match kind {
                    RELO_NONE => continue,
                    RELO_SETX => false,
                    RELO_DOFREL => true,
                    other => {
                        return Err(format!(
                            "{what} has unknown type {other} (DOF_RELO_*: 0 none, 1 setx, 2 dofrel)"
                        ))
                    }
                };
                if !matches!(offset.checked_add(8), Some(end) if end <= target.len()) {
                    return Err(format!(
                        "{what}: offset {offset:#x} is outside its {:#x}-byte target section {}",
                        target.len(),
                        target.index
                    ));
                }
                let symbol = string(
                    strtab.bytes.data,
                    name,
                    &format!("{what}: symbol"),
                    usize::MAX,
                )?;
                budget.charge(symbol.len() as u64 + 64)?;
                found.insert(
                    (target.index, offset),
                    Relocation {
                        symbol,
                        pc_relative,
                    },
                );
            }
        }
        Ok(found)
    }

    /// Decodes the provider in section `index` into `entries`.
    fn provider(
        &self,
        index: u32,
        relocations: &HashMap<(u32, u64), Relocation>,
        budget: &mut Budget,
        entries: &mut Vec<Entry<'a>>,
    ) -> Result<(), String> {
        let role = format!("provider (section {index})");
        let provider = self.section(index, Some(SECT_PROVIDER), &role)?;
        let needed = if self.version == 1 {
            PROVIDER_V1_SIZE
        } else {
            PROVIDER_SIZE
        };
        if provider.bytes.data.len() < needed {
            return Err(format!(
                "{role} has {} bytes, dof_provider_t needs {needed} in DOF version {}",
                provider.len(),
                self.version
            ));
        }
        let word = |at| provider.bytes.u32(at).unwrap_or(0);
        let link = |at, kind, field: &str| {
            self.section(word(at), Some(kind), &format!("{role} ({field})"))
        };
        let strtab = link(0, SECT_STRTAB, "dofpv_strtab")?;
        let probes = link(4, SECT_PROBES, "dofpv_probes")?;
        let args = link(8, SECT_PRARGS, "dofpv_prargs")?;
        let offsets = link(12, SECT_PROFFS, "dofpv_proffs")?;
        let enabled = match word(40) {
            _ if self.version == 1 => None,
            SECT_NONE | SECIDX_NONE => None,
            _ => Some(link(40, SECT_PRENOFFS, "dofpv_prenoffs")?),
        };
        let strings = strtab.bytes.data;
        let provider_name = string(
            strings,
            word(16),
            &format!("{role}: name (dofpv_name)"),
            PROVNAMELEN,
        )?;
        let role = format!("provider {provider_name}");

        if probes.entsize == 0 || u64::from(probes.entsize) < PROBE_SIZE {
            return Err(format!(
                "{role}: probe table (section {}) has entry size {}, dof_probe_t needs {PROBE_SIZE}",
                probes.index, probes.entsize
            ));
        }
        for table in std::iter::once(&offsets).chain(&enabled) {
            if table.entsize != 4 {
                return Err(format!(
                    "{role}: offset table (section {}) has entry size {}, DTrace requires 4",
                    table.index, table.entsize
                ));
            }
        }
        if args.entsize != 1 {
            return Err(format!(
                "{role}: argument map (section {}) has entry size {}, DTrace requires 1",
                args.index, args.entsize
            ));
        }

        let count = probes.len() / u64::from(probes.entsize);
        for j in 0..count {
            let at = j * u64::from(probes.entsize);
            let p = probes.bytes;
            let word = |delta| p.u32(at + delta).unwrap_or(0);
            let addr = p.u64(at).unwrap_or(0);
            let function = string(
                strings,
                word(8),
                &format!("{role}, probe {j}: function (dofpr_func)"),
                FUNCNAMELEN,
            )?;
            let name = string(
                strings,
                word(12),
                &format!("{role}, probe {j}: name (dofpr_name)"),
                NAMELEN,
            )?;
            let role = format!("{role}, probe {name} in {function}");
            let (nargv, xargv, argidx) = (word(16), word(20), word(24));
            let (offidx, enoffidx) = (word(28), word(36));
            let nargc = p.u8(at + 32).unwrap_or(0);
            let xargc = p.u8(at + 33).unwrap_or(0);
            let noffs = p.u16(at + 34).unwrap_or(0);
            let mut nenoffs = p.u16(at + 40).unwrap_or(0);

            let fired = table_slice(&offsets, offidx, noffs).ok_or_else(|| {
                format!(
                    "{role}: offsets {offidx}..+{noffs} (dofpr_offidx, dofpr_noffs) run past the {}-entry offset table",
                    offsets.len() / 4
                )
            })?;
            let enabled_offsets = match &enabled {
                _ if self.version == 1 => {
                    nenoffs = 0;
                    &[][..]
                }
                None if enoffidx != 0 || nenoffs != 0 => {
                    return Err(format!(
                        "{role}: {nenoffs} is-enabled offsets but the provider has no is-enabled offset table"
                    ))
                }
                None => &[][..],
                Some(table) => table_slice(table, enoffidx, nenoffs).ok_or_else(|| {
                    format!(
                        "{role}: is-enabled offsets {enoffidx}..+{nenoffs} (dofpr_enoffidx, dofpr_nenoffs) run past the {}-entry is-enabled offset table",
                        table.len() / 4
                    )
                })?,
            };
            if noffs == 0 && nenoffs == 0 {
                return Err(format!(
                    "{role} has no sites (dofpr_noffs and dofpr_nenoffs are 0)"
                ));
            }
            let mapping = usize::try_from(argidx)
                .ok()
                .and_then(|start| args.bytes.data.get(start..start.checked_add(usize::from(xargc))?))
                .ok_or_else(|| {
                    format!(
                        "{role}: argument map {argidx}..+{xargc} (dofpr_argidx, dofpr_xargc) runs past the {}-byte map",
                        args.len()
                    )
                })?;
            if let Some((k, &m)) = mapping.iter().enumerate().find(|(_, &m)| m > nargc) {
                return Err(format!(
                    "{role}: translated argument {k} maps to native argument {m}, but there are {nargc}"
                ));
            }
            let native = string_list(
                strings,
                nargv,
                nargc,
                &format!("{role}: native argument type"),
            )?;
            let translated = string_list(
                strings,
                xargv,
                xargc,
                &format!("{role}: translated argument type"),
            )?;
            let copied: usize = [&provider_name, &name, &function]
                .into_iter()
                .chain(&native)
                .chain(&translated)
                .map(|s| s.len() + 48)
                .sum();
            budget.charge(copied as u64 + 256)?;
            let addr_offset = probes.offset + at;
            entries.push(Entry {
                provider: provider_name.clone(),
                name,
                function,
                addr,
                addr_offset,
                relocation: relocations.get(&(probes.index, at)).cloned(),
                offsets: fired,
                enabled_offsets,
                encoding: self.bytes.endian,
                native,
                translated,
                mapping: mapping.to_vec(),
            });
        }
        Ok(())
    }
}

/// Entries `first..first + count` of a table of u32, as bytes.
fn table_slice<'a>(table: &Section<'a>, first: u32, count: u16) -> Option<&'a [u8]> {
    let start = usize::try_from(first).ok()?.checked_mul(4)?;
    let end = start.checked_add(usize::from(count) * 4)?;
    table.bytes.data.get(start..end)
}

/// The NUL-terminated string at `index` of a string table, shorter than
/// `limit` bytes with its NUL.
fn string(strtab: &[u8], index: u32, what: &str, limit: usize) -> Result<String, String> {
    raw_string(strtab, index, what, limit).map(|s| String::from_utf8_lossy(s).into_owned())
}

fn raw_string<'a>(
    strtab: &'a [u8],
    index: u32,
    what: &str,
    limit: usize,
) -> Result<&'a [u8], String> {
    let rest = usize::try_from(index)
        .ok()
        .and_then(|start| strtab.get(start..))
        .filter(|rest| !rest.is_empty())
        .ok_or_else(|| {
            format!(
                "{what} at string index {index:#x} is outside the {:#x}-byte string table",
                strtab.len()
            )
        })?;
    let end = rest.iter().position(|&b| b == 0).ok_or_else(|| {
        format!("{what} at string index {index:#x} runs off the string table unterminated")
    })?;
    if end >= limit {
        return Err(format!(
            "{what} at string index {index:#x} is {end} bytes long; DTrace allows {}",
            limit - 1
        ));
    }
    Ok(&rest[..end])
}

/// `count` strings stored one after the other from `index`.
fn string_list(strtab: &[u8], index: u32, count: u8, what: &str) -> Result<Vec<String>, String> {
    let mut list = Vec::with_capacity(usize::from(count));
    let mut at = index;
    for k in 0..count {
        let s = raw_string(strtab, at, &format!("{what} {k}"), ARGTYPELEN)?;
        list.push(String::from_utf8_lossy(s).into_owned());
        // The string and its NUL lie inside the table, so this cannot wrap.
        at = at.wrapping_add(s.len() as u32 + 1);
    }
    Ok(list)
}
