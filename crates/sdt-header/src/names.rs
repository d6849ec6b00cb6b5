//! The C names every style derives from provider and probe names.
//!
//! D writes `function__entry` in the file and means the probe `function-entry`;
//! the headers spell it three ways: `FUNCTION_ENTRY` in macros, `function__entry`
//! in symbols and SDT notes, and the provider as `PYTHON`/`python`.

use dprovider::Probe;

/// `python`, `function__entry` → `PYTHON_FUNCTION_ENTRY`, the macro every style
/// defines (SystemTap upper-cases the provider and folds `__` to `_`).
pub(crate) fn probe_macro(provider: &str, probe: &Probe) -> String {
    format!("{}_{}", provider_macro(provider), probe.macro_stem())
}

/// `python` → `PYTHON`. DTrace also maps `-` and `.` to `_`, which only matters
/// for provider names D itself would accept, but costs nothing to mirror.
pub(crate) fn provider_macro(provider: &str) -> String {
    upper_identifier(provider)
}

/// The `.probes` semaphore of a probe: `python_function__entry_semaphore`.
/// The name SystemTap's header and `-G` stub agree on, so objects built with
/// either link together.
pub fn semaphore_symbol(provider: &str, probe: &str) -> String {
    format!("{provider}_{probe}_semaphore")
}

/// The include guard `dtrace -h -o PATH` writes: `_` and the file's base name
/// upper-cased, with `-` and `.` turned into `_`
/// (`Include/pydtrace_probes.h` → `_PYDTRACE_PROBES_H`).
pub fn guard_for_file_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    format!("_{}", upper_identifier(base))
}

fn upper_identifier(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// `arg1, arg2, arg3` (SystemTap numbers from 1) or `arg0, arg1, arg2` (DTrace
/// numbers from 0).
pub(crate) fn arg_list(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|i| format!("arg{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_uses_the_base_name_only() {
        assert_eq!(
            guard_for_file_name("Include/pydtrace_probes.h"),
            "_PYDTRACE_PROBES_H"
        );
        assert_eq!(guard_for_file_name("my-probes.h"), "_MY_PROBES_H");
    }

    #[test]
    fn semaphores_keep_the_double_underscore() {
        assert_eq!(
            semaphore_symbol("python", "function__entry"),
            "python_function__entry_semaphore"
        );
    }

    #[test]
    fn arg_lists_number_from_the_given_start() {
        assert_eq!(arg_list(3, 1), "arg1, arg2, arg3");
        assert_eq!(arg_list(2, 0), "arg0, arg1");
        assert_eq!(arg_list(0, 0), "");
    }
}
