//! Feeds arbitrary bytes to `probe_reader::read_bytes`, seeded with DOF: bare
//! blobs, `dtrace -G` ELF objects, linked ELF and Mach-O images and Mach-O
//! objects with probe calls. Besides "never panics", every successful
//! result must be sorted, and each DTrace site must be self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A bare DOF blob goes through its own entry point too.
    if data.starts_with(b"\x7fDOF") {
        let _ = probe_reader::read_dof(data);
    }
    let Ok(probes) = probe_reader::read_bytes(data) else {
        return;
    };
    let key = |p: &probe_reader::Probe| (p.provider.clone(), p.name.clone(), p.pc);
    assert!(probes.windows(2).all(|w| key(&w[0]) <= key(&w[1])));
    for probe in &probes {
        let Some(site) = &probe.dtrace else {
            continue;
        };
        // One argument per native type, each keeping its type.
        assert_eq!(probe.args.len(), site.native_types.len());
        for (arg, ty) in probe.args.iter().zip(&site.native_types) {
            assert_eq!(arg.ty.as_deref(), Some(ty.as_str()));
            assert_eq!(arg.to_string(), *ty);
        }
        assert_eq!(site.arg_map.len(), site.translated_types.len());
        // DTrace's spelling maps back to the D one.
        assert_eq!(site.dtrace_name.replace('-', "__"), probe.name);
        if site.relative_to.is_some() {
            assert_eq!(probe.base, 0);
        }
    }
});
