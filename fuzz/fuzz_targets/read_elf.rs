//! Feeds arbitrary bytes to `probe_reader::read_bytes`. Besides "never
//! panics", every successful result must be sorted and its arguments must
//! print back to a string that parses to the same arguments.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(probes) = probe_reader::read_bytes(data) else {
        return;
    };
    let key = |p: &probe_reader::Probe| (p.provider.clone(), p.name.clone(), p.pc);
    assert!(probes.windows(2).all(|w| key(&w[0]) <= key(&w[1])));
    for probe in &probes {
        let printed: Vec<String> = probe.args.iter().map(ToString::to_string).collect();
        let reparsed = probe_reader::parse_args(&printed.join(" "));
        assert_eq!(reparsed.as_ref(), Ok(&probe.args));
    }
});
