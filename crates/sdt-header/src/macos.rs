//! `--style macos`: the header Apple's `dtrace -h` writes, for ld64.
//!
//! Probe sites call `__dtrace_probe$python$function__entry$v1$<types>` and
//! `__dtrace_isenabled$python$function__entry$v1`; ld64 recognises those
//! names, patches the calls into no-ops and builds the DOF from them. Each
//! argument's D type name is hex-encoded into the probe symbol (lower-case
//! `%02x` per byte, `const` not part of it), and two `.reference`d symbols
//! carry the provider's stability and typedefs. The is-enabled site is wrapped
//! in a statement expression with an empty `asm` so the compiler keeps it in
//! place. Layout follows Apple's `dt_program.c` and `dt_ld.m`.

use dprovider::{CType, Probe, Provider, ProviderFile};

use crate::dtrace::{without_const, BANNER};
use crate::names::{arg_list, probe_macro, provider_macro};
use crate::{stability, Error, Options};

const DISABLED_TEST: &str = "!defined(DTRACE_PROBES_DISABLED) || !DTRACE_PROBES_DISABLED";

pub(crate) fn header(file: &ProviderFile, opts: &Options) -> Result<String, Error> {
    let mut out = String::new();
    if opts.dtrace_banner {
        out.push_str(BANNER);
    }
    if let Some(guard) = &opts.include_guard {
        out.push_str(&format!("#ifndef\t{guard}\n#define\t{guard}\n\n"));
    }
    out.push_str(&format!(
        "#if {DISABLED_TEST}\n#include <unistd.h>\n\n#endif /* {DISABLED_TEST} */\n\n"
    ));
    out.push_str("#ifdef\t__cplusplus\nextern \"C\" {\n#endif\n\n");
    for provider in &file.providers {
        out.push_str(&provider_section(file, provider)?);
    }
    out.push_str("\n#ifdef\t__cplusplus\n}\n#endif\n");
    if let Some(guard) = &opts.include_guard {
        out.push_str(&format!("\n#endif\t/* {guard} */\n"));
    }
    Ok(out)
}

fn provider_section(file: &ProviderFile, provider: &Provider) -> Result<String, Error> {
    let prov = &provider.name;
    let pm = provider_macro(prov);
    let stability = stability::encode(file, prov)?;
    // Only non-base types need a typedef record; every type a probe argument
    // can have here is a C base type or one DTrace predefines (int8_t …
    // uintptr_t), so the list after `v2` is always empty.
    let mut out = format!(
        "#define {pm}_STABILITY \"___dtrace_stability${prov}$v1${stability}\"\n\n\
         #define {pm}_TYPEDEFS \"___dtrace_typedefs${prov}$v2\"\n\n\
         #if {DISABLED_TEST}\n\n"
    );
    for probe in &provider.probes {
        out.push_str(&live_macros(prov, probe));
    }
    out.push_str("\n\n");
    for probe in &provider.probes {
        out.push_str(&prototypes(prov, probe));
    }
    out.push_str("\n#else\n\n");
    for probe in &provider.probes {
        let name = probe_macro(prov, probe);
        let args = arg_list(probe.args.len(), 0);
        out.push_str(&format!(
            "#define\t{name}({args}) \\\ndo {{ \\\n\t}} while (0)\n#define\t{name}_ENABLED() (0)\n"
        ));
    }
    out.push_str(&format!("\n#endif /* {DISABLED_TEST} */\n\n"));
    Ok(out)
}

/// `__dtrace_probe$python$function__entry$v1$63686172202a$…`.
pub(crate) fn probe_symbol(provider: &str, probe: &Probe) -> String {
    let mut symbol = format!("__dtrace_probe${provider}${}$v1", probe.name);
    for arg in &probe.args {
        symbol.push('$');
        symbol.push_str(&hex(&without_const(&arg.ty).c_spelling()));
    }
    symbol
}

pub(crate) fn isenabled_symbol(provider: &str, probe: &Probe) -> String {
    format!("__dtrace_isenabled${provider}${}$v1", probe.name)
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn live_macros(provider: &str, probe: &Probe) -> String {
    let name = probe_macro(provider, probe);
    let pm = provider_macro(provider);
    let args = arg_list(probe.args.len(), 0);
    format!(
        "#define\t{name}({args}) \\\n\
         do {{ \\\n\
         \t__asm__ volatile(\".reference \" {pm}_TYPEDEFS); \\\n\
         \t{fire}({args}); \\\n\
         \t__asm__ volatile(\".reference \" {pm}_STABILITY); \\\n\
         }} while (0)\n\
         #define\t{name}_ENABLED() \\\n\
         \t({{ int _r = {enabled}(); \\\n\
         \t\t__asm__ volatile(\"\"); \\\n\
         \t\t_r; }})\n",
        fire = probe_symbol(provider, probe),
        enabled = isenabled_symbol(provider, probe),
    )
}

fn prototypes(provider: &str, probe: &Probe) -> String {
    let params = if probe.args.is_empty() {
        "void".to_string()
    } else {
        probe
            .args
            .iter()
            .map(|arg| declared_type(&arg.ty))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "extern void {}({params});\nextern int {}(void);\n",
        probe_symbol(provider, probe),
        isenabled_symbol(provider, probe)
    )
}

/// Apple's writer prints D's (const-less) type name, and puts `const ` before
/// single-level pointers so callers may pass `const` data without a warning.
fn declared_type(ty: &CType) -> String {
    let plain = without_const(ty).c_spelling();
    if ty.pointers == 1 {
        format!("const {plain}")
    } else {
        plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use dprovider::BaseType;

    #[test]
    fn probe_symbols_hex_encode_the_const_less_type_names() {
        let file = fixture::two_probes();
        let entry = &file.providers[0].probes[0];
        // "char *" = 63 68 61 72 20 2a, "int" = 69 6e 74.
        assert_eq!(
            probe_symbol("python", entry),
            "__dtrace_probe$python$function__entry$v1$63686172202a$63686172202a$696e74"
        );
        let long = fixture::probe(
            "gc__done",
            &[fixture::scalar(BaseType::Long { signed: true })],
        );
        // "long" = 6c 6f 6e 67.
        assert_eq!(
            probe_symbol("python", &long),
            "__dtrace_probe$python$gc__done$v1$6c6f6e67"
        );
        let none = fixture::probe("tick", &[]);
        assert_eq!(
            probe_symbol("python", &none),
            "__dtrace_probe$python$tick$v1"
        );
    }

    #[test]
    fn declarations_add_const_to_single_pointers_only() {
        assert_eq!(declared_type(&fixture::void_ptr()), "const void *");
        assert_eq!(declared_type(&fixture::const_char_ptr()), "const char *");
        assert_eq!(declared_type(&fixture::int()), "int");
        let mut argv = fixture::const_char_ptr();
        argv.pointers = 2;
        assert_eq!(declared_type(&argv), "char **");
    }
}
