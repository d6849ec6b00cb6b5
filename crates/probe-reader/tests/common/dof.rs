//! A DOF encoder written for the tests, field by field from the structure
//! definitions of illumos `<sys/dtrace.h>` (cited at each write), with no
//! code shared with the reader. It lays the DOF out the way libdtrace's
//! `dtrace_dof_create` does: `dof_hdr_t`, the `dof_sec_t` table right after
//! it, then each section's data at its alignment; one string table shared by
//! all providers, and per provider a `PROBES`, `PRARGS`, `PROFFS`,
//! `PRENOFFS` and `PROVIDER` section, plus `RELTAB` and `URELHDR` when a probe
//! address is relocated.

/// `dof_sec_t.dofs_type` values.
pub const STRTAB: u32 = 8;
pub const RELTAB: u32 = 10;
pub const URELHDR: u32 = 12;
pub const PROVIDER: u32 = 15;
pub const PROBES: u32 = 16;
pub const PRARGS: u32 = 17;
pub const PROFFS: u32 = 18;
pub const PRENOFFS: u32 = 26;
/// `dof_relodesc_t.dofr_type` values.
pub const RELO_SETX: u32 = 1;
pub const RELO_DOFREL: u32 = 2;

#[derive(Clone, Debug)]
pub struct ProbeSpec {
    /// As DTrace stores it: `function-entry`.
    pub name: &'static str,
    pub function: &'static str,
    /// `dofpr_addr`.
    pub addr: u64,
    pub offsets: Vec<u32>,
    pub enabled: Vec<u32>,
    pub native: Vec<&'static str>,
    /// Empty: the native types, mapped one to one.
    pub translated: Vec<&'static str>,
    pub mapping: Vec<u8>,
    /// A `DOF_RELO_*` relocation of `dofpr_addr` against a symbol.
    pub relocation: Option<(u32, &'static str)>,
}

impl ProbeSpec {
    pub fn new(name: &'static str, function: &'static str, addr: u64) -> Self {
        ProbeSpec {
            name,
            function,
            addr,
            offsets: Vec::new(),
            enabled: Vec::new(),
            native: Vec::new(),
            translated: Vec::new(),
            mapping: Vec::new(),
            relocation: None,
        }
    }

    pub fn offsets(mut self, offsets: &[u32]) -> Self {
        self.offsets = offsets.to_vec();
        self
    }

    pub fn enabled(mut self, enabled: &[u32]) -> Self {
        self.enabled = enabled.to_vec();
        self
    }

    pub fn args(mut self, native: &[&'static str]) -> Self {
        self.native = native.to_vec();
        self
    }

    pub fn translated(mut self, types: &[&'static str], mapping: &[u8]) -> Self {
        self.translated = types.to_vec();
        self.mapping = mapping.to_vec();
        self
    }

    pub fn relocated(mut self, kind: u32, symbol: &'static str) -> Self {
        self.relocation = Some((kind, symbol));
        self
    }
}

#[derive(Clone, Debug)]
pub struct ProviderSpec {
    pub name: &'static str,
    pub probes: Vec<ProbeSpec>,
}

#[derive(Clone, Debug)]
pub struct DofSpec {
    /// `DOF_ID_MODEL`: 1 ILP32, 2 LP64.
    pub model: u8,
    pub big_endian: bool,
    /// `DOF_ID_VERSION`.
    pub version: u8,
    pub providers: Vec<ProviderSpec>,
}

/// Where things landed, for tests that corrupt or relocate them.
#[derive(Clone, Debug)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    /// Per section: (dofs_type, offset of its dof_sec_t, offset of its data).
    pub sections: Vec<(u32, usize, usize)>,
    /// Offset of each probe's `dofpr_addr`, providers in order then probes.
    pub addr_fields: Vec<usize>,
}

impl Encoded {
    /// The data offset of the first section of type `kind`.
    pub fn data_of(&self, kind: u32) -> usize {
        self.sections.iter().find(|s| s.0 == kind).unwrap().2
    }

    /// The dof_sec_t offset of the first section of type `kind`.
    pub fn header_of(&self, kind: u32) -> usize {
        self.sections.iter().find(|s| s.0 == kind).unwrap().1
    }

    pub fn put_u16(&mut self, at: usize, value: u16, big: bool) {
        let b = if big {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        self.bytes[at..at + 2].copy_from_slice(&b);
    }

    pub fn put_u32(&mut self, at: usize, value: u32, big: bool) {
        let b = if big {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        self.bytes[at..at + 4].copy_from_slice(&b);
    }

    pub fn put_u64(&mut self, at: usize, value: u64, big: bool) {
        let b = if big {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        self.bytes[at..at + 8].copy_from_slice(&b);
    }
}

/// Bytes in the DOF's byte order.
struct Out {
    big: bool,
    bytes: Vec<u8>,
}

impl Out {
    fn new(big: bool) -> Self {
        Out {
            big,
            bytes: Vec::new(),
        }
    }
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    fn u16(&mut self, v: u16) {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend_from_slice(&b);
    }
    fn u64(&mut self, v: u64) {
        let b = if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend_from_slice(&b);
    }
}

/// A string table with a leading NUL, as `dof_add_string` builds it.
struct Strings(Vec<u8>);

impl Strings {
    fn add(&mut self, s: &str) -> u32 {
        let at = self.0.len() as u32;
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        at
    }
}

struct Sect {
    kind: u32,
    align: u32,
    entsize: u32,
    data: Vec<u8>,
}

impl DofSpec {
    pub fn new(model: u8, big_endian: bool) -> Self {
        DofSpec {
            model,
            big_endian,
            version: 2,
            providers: Vec::new(),
        }
    }

    pub fn provider(mut self, name: &'static str, probes: Vec<ProbeSpec>) -> Self {
        self.providers.push(ProviderSpec { name, probes });
        self
    }

    pub fn encode(&self) -> Encoded {
        let big = self.big_endian;
        let mut strings = Strings(vec![0]);
        let mut sects: Vec<Sect> = vec![Sect {
            kind: STRTAB,
            align: 1,
            entsize: 0,
            data: Vec::new(),
        }];
        // (section index of PROBES, probe index) for each addr field.
        let mut addr_fields = Vec::new();
        for provider in &self.providers {
            let name = strings.add(provider.name);
            let mut probes = Out::new(big);
            let mut args = Vec::new();
            let mut offs = Out::new(big);
            let mut enoffs = Out::new(big);
            let mut relocs = Out::new(big);
            let (mut noff, mut nenoff) = (0u32, 0u32);
            let probes_index = sects.len() as u32;
            for (k, p) in provider.probes.iter().enumerate() {
                let func = strings.add(p.function);
                let pname = strings.add(p.name);
                let nargv = strings.0.len() as u32;
                for t in &p.native {
                    strings.add(t);
                }
                let (xtypes, mapping): (Vec<&str>, Vec<u8>) = if p.translated.is_empty() {
                    (p.native.clone(), (0..p.native.len() as u8).collect())
                } else {
                    (p.translated.clone(), p.mapping.clone())
                };
                let xargv = strings.0.len() as u32;
                for t in &xtypes {
                    strings.add(t);
                }
                let argidx = args.len() as u32;
                args.extend_from_slice(&mapping);
                if let Some((kind, symbol)) = p.relocation {
                    // dof_relodesc_t: dofr_name, dofr_type, dofr_offset
                    // (of dofpr_addr within the PROBES section), dofr_data.
                    relocs.u32(strings.add(symbol));
                    relocs.u32(kind);
                    relocs.u64(k as u64 * 48);
                    relocs.u64(0);
                }
                addr_fields.push((probes_index, k));
                // dof_probe_t, 48 bytes.
                probes.u64(p.addr); // dofpr_addr
                probes.u32(func); // dofpr_func
                probes.u32(pname); // dofpr_name
                probes.u32(nargv); // dofpr_nargv
                probes.u32(xargv); // dofpr_xargv
                probes.u32(argidx); // dofpr_argidx
                probes.u32(noff); // dofpr_offidx
                probes.u8(p.native.len() as u8); // dofpr_nargc
                probes.u8(xtypes.len() as u8); // dofpr_xargc
                probes.u16(p.offsets.len() as u16); // dofpr_noffs
                probes.u32(if p.enabled.is_empty() { 0 } else { nenoff }); // dofpr_enoffidx
                probes.u16(p.enabled.len() as u16); // dofpr_nenoffs
                probes.u16(0); // dofpr_pad1
                probes.u32(0); // dofpr_pad2
                for &o in &p.offsets {
                    offs.u32(o);
                }
                for &o in &p.enabled {
                    enoffs.u32(o);
                }
                noff += p.offsets.len() as u32;
                nenoff += p.enabled.len() as u32;
            }
            if args.is_empty() {
                // libdtrace never writes an empty section.
                args.push(0);
            }
            let base = sects.len() as u32;
            sects.push(Sect {
                kind: PROBES,
                align: 8,
                entsize: 48,
                data: probes.bytes,
            });
            sects.push(Sect {
                kind: PRARGS,
                align: 1,
                entsize: 1,
                data: args,
            });
            sects.push(Sect {
                kind: PROFFS,
                align: 4,
                entsize: 4,
                data: offs.bytes,
            });
            sects.push(Sect {
                kind: PRENOFFS,
                align: 4,
                entsize: 4,
                data: enoffs.bytes,
            });
            // dof_provider_t: dofpv_strtab, dofpv_probes, dofpv_prargs,
            // dofpv_proffs, dofpv_name, five dof_attr_t, dofpv_prenoffs.
            let mut pv = Out::new(big);
            pv.u32(0);
            pv.u32(base);
            pv.u32(base + 1);
            pv.u32(base + 2);
            pv.u32(name);
            for _ in 0..5 {
                pv.u32(0x0101_0100);
            }
            pv.u32(base + 3);
            sects.push(Sect {
                kind: PROVIDER,
                align: 4,
                entsize: 0,
                data: pv.bytes,
            });
            if !relocs.bytes.is_empty() {
                let reltab = sects.len() as u32;
                sects.push(Sect {
                    kind: RELTAB,
                    align: 8,
                    entsize: 24,
                    data: relocs.bytes,
                });
                // dof_relohdr_t: dofr_strtab, dofr_relsec, dofr_tgtsec.
                let mut hdr = Out::new(big);
                hdr.u32(0);
                hdr.u32(reltab);
                hdr.u32(base);
                sects.push(Sect {
                    kind: URELHDR,
                    align: 4,
                    entsize: 0,
                    data: hdr.bytes,
                });
            }
        }
        sects[0].data = strings.0.clone();

        // dof_hdr_t is 64 bytes, each dof_sec_t 32.
        let secoff = 64usize;
        let mut at = secoff + 32 * sects.len();
        let mut placed = Vec::new();
        for s in &sects {
            at = at.next_multiple_of(s.align as usize);
            placed.push(at);
            at += s.data.len();
        }
        let filesz = at.next_multiple_of(8);
        let mut out = Out::new(big);
        // dofh_ident[16]: magic, DOF_ID_MODEL, DOF_ID_ENCODING,
        // DOF_ID_VERSION, DOF_ID_DIFVERS (2), DOF_ID_DIFIREG (8),
        // DOF_ID_DIFTREG (8), zero padding.
        out.bytes.extend_from_slice(b"\x7fDOF");
        out.u8(self.model);
        out.u8(if big { 2 } else { 1 });
        out.u8(self.version);
        out.u8(2);
        out.u8(8);
        out.u8(8);
        out.bytes.resize(16, 0);
        out.u32(0); // dofh_flags
        out.u32(64); // dofh_hdrsize
        out.u32(32); // dofh_secsize
        out.u32(sects.len() as u32); // dofh_secnum
        out.u64(secoff as u64); // dofh_secoff
        out.u64(filesz as u64); // dofh_loadsz
        out.u64(filesz as u64); // dofh_filesz
        out.u64(0); // dofh_pad
        let mut sections = Vec::new();
        for (s, &offset) in sects.iter().zip(&placed) {
            sections.push((s.kind, out.bytes.len(), offset));
            out.u32(s.kind); // dofs_type
            out.u32(s.align); // dofs_align
            out.u32(1); // dofs_flags: DOF_SECF_LOAD
            out.u32(s.entsize); // dofs_entsize
            out.u64(offset as u64); // dofs_offset
            out.u64(s.data.len() as u64); // dofs_size
        }
        for (s, &offset) in sects.iter().zip(&placed) {
            out.bytes.resize(offset, 0);
            out.bytes.extend_from_slice(&s.data);
        }
        out.bytes.resize(filesz, 0);
        let addr_fields = addr_fields
            .into_iter()
            .map(|(index, k)| placed[index as usize] + 48 * k)
            .collect();
        Encoded {
            bytes: out.bytes,
            sections,
            addr_fields,
        }
    }
}

/// The provider most tests use, in the shape `dtrace -G` gives CPython's:
/// two functions with `function-entry` sites, one with two sites and an
/// is-enabled test; `gc-done` with a `long`; `line` with a translated
/// argument list.
pub fn python_provider() -> Vec<ProbeSpec> {
    vec![
        ProbeSpec::new("function-entry", "_PyEval_EvalFrameDefault", 0x1000)
            .offsets(&[0x40, 0x1c4])
            .enabled(&[0x30])
            .args(&["char *", "char *", "int"]),
        ProbeSpec::new("function-entry", "gen_send_ex2", 0x2000)
            .offsets(&[0x18])
            .args(&["char *", "char *", "int"]),
        ProbeSpec::new("gc-done", "gc_collect_main", 0x3000)
            .offsets(&[0x99])
            .args(&["long"]),
        ProbeSpec::new("line", "_PyEval_EvalFrameDefault", 0x1000)
            .offsets(&[0x250])
            .args(&["char *", "char *", "int"])
            .translated(&["int", "string"], &[2, 0]),
    ]
}
