//! Feeds arbitrary bytes to `probe_reader::read_bytes`. Besides "never
//! panics", every successful result must be sorted and the arguments of each
//! stapsdt note must print back to a string that parses to the same
//! arguments (DTrace sites are checked by `read_dof`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(probes) = probe_reader::read_bytes(data) else {
        return;
    };
    let key = |p: &probe_reader::Probe| (p.provider.clone(), p.name.clone(), p.pc);
    assert!(probes.windows(2).all(|w| key(&w[0]) <= key(&w[1])));
    for probe in probes.iter().filter(|p| p.dtrace.is_none()) {
        let printed: Vec<String> = probe.args.iter().map(ToString::to_string).collect();
        let reparsed = probe_reader::parse_args(&printed.join(" "));
        assert_eq!(reparsed.as_ref(), Ok(&probe.args));
    }
});
