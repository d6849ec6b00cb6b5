//! Size, signedness and floatness of the C type names DTrace records for
//! probe arguments (`char *`, `unsigned long`, `uint32_t`, D's `string`), so
//! DOF arguments can be compared with SystemTap's `[-]SIZE[f]` ones.

use crate::DataModel;

/// How a value of a C type is passed: size in bytes (0 when the reader does
/// not know the type, e.g. a `struct` by value or an unknown typedef), sign
/// and floatness. Pointers are unsigned words; plain `char` counts as signed,
/// as `<sys/sdt.h>` passes it on every target.
pub(crate) fn classify(ty: &str, model: DataModel) -> (u8, bool, bool) {
    let word = model.word_size();
    let spaced = ty.replace('*', " * ").replace('[', " [ ");
    let tokens: Vec<&str> = spaced.split_ascii_whitespace().collect();
    if tokens.iter().any(|t| *t == "*" || *t == "[") {
        return (word, false, false);
    }
    let words: Vec<&str> = tokens
        .into_iter()
        .filter(|t| !matches!(*t, "const" | "volatile" | "restrict"))
        .collect();
    let has = |w: &str| words.contains(&w);
    let longs = words.iter().filter(|w| **w == "long").count();
    let unsigned = has("unsigned");
    if has("struct") || has("union") {
        return (0, false, false);
    }
    if has("enum") {
        return (4, true, false);
    }
    if has("float") {
        return (4, false, true);
    }
    if has("double") {
        // `long double` differs between ABIs.
        return if longs > 0 {
            (0, false, true)
        } else {
            (8, false, true)
        };
    }
    if has("char") {
        return (1, !unsigned, false);
    }
    if has("short") {
        return (2, !unsigned, false);
    }
    match longs {
        0 => {}
        1 => return (word, !unsigned, false),
        _ => return (8, !unsigned, false),
    }
    if has("int") || has("signed") || unsigned {
        return (4, !unsigned, false);
    }
    match words.as_slice() {
        [name] => typedef(name, word),
        _ => (0, false, false),
    }
}

/// The typedefs DTrace knows without a header (its own and illumos' short
/// names), as (size, signed, float).
fn typedef(name: &str, word: u8) -> (u8, bool, bool) {
    let (size, signed) = match name {
        "_Bool" | "bool" | "uchar_t" | "uint8_t" | "u_char" => (1, false),
        "int8_t" => (1, true),
        "int16_t" => (2, true),
        "uint16_t" | "ushort_t" | "u_short" => (2, false),
        "int32_t" | "pid_t" | "id_t" | "boolean_t" => (4, true),
        "uint32_t" | "uint_t" | "u_int" | "uid_t" | "gid_t" | "zoneid_t" => (4, false),
        "int64_t" | "longlong_t" | "hrtime_t" => (8, true),
        "uint64_t" | "u_longlong_t" => (8, false),
        "intptr_t" | "ssize_t" | "ptrdiff_t" => (word, true),
        // D's `string` is passed as a `char *`.
        "uintptr_t" | "size_t" | "ulong_t" | "u_long" | "caddr_t" | "string" => (word, false),
        _ => (0, false),
    };
    (size, signed, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Shape = (u8, bool, bool);

    #[test]
    fn common_types_in_both_models() {
        let cases: &[(&str, Shape, Shape)] = &[
            ("char *", (4, false, false), (8, false, false)),
            ("const char *", (4, false, false), (8, false, false)),
            ("char**", (4, false, false), (8, false, false)),
            ("void *", (4, false, false), (8, false, false)),
            ("struct _object *", (4, false, false), (8, false, false)),
            ("int", (4, true, false), (4, true, false)),
            ("unsigned", (4, false, false), (4, false, false)),
            ("unsigned int", (4, false, false), (4, false, false)),
            ("long", (4, true, false), (8, true, false)),
            ("long int", (4, true, false), (8, true, false)),
            ("unsigned long", (4, false, false), (8, false, false)),
            ("long long", (8, true, false), (8, true, false)),
            (
                "unsigned long long int",
                (8, false, false),
                (8, false, false),
            ),
            ("short", (2, true, false), (2, true, false)),
            ("unsigned short", (2, false, false), (2, false, false)),
            ("char", (1, true, false), (1, true, false)),
            ("unsigned char", (1, false, false), (1, false, false)),
            ("signed char", (1, true, false), (1, true, false)),
            ("double", (8, false, true), (8, false, true)),
            ("float", (4, false, true), (4, false, true)),
            ("uint32_t", (4, false, false), (4, false, false)),
            ("int64_t", (8, true, false), (8, true, false)),
            ("uintptr_t", (4, false, false), (8, false, false)),
            ("size_t", (4, false, false), (8, false, false)),
            ("string", (4, false, false), (8, false, false)),
            ("enum color", (4, true, false), (4, true, false)),
        ];
        for (ty, ilp32, lp64) in cases {
            assert_eq!(classify(ty, DataModel::Ilp32), *ilp32, "{ty} ILP32");
            assert_eq!(classify(ty, DataModel::Lp64), *lp64, "{ty} LP64");
        }
    }

    #[test]
    fn unknown_types_have_size_zero() {
        for ty in ["struct timeval", "PyObject", "long double", "", "a b"] {
            assert_eq!(classify(ty, DataModel::Lp64).0, 0, "{ty}");
        }
    }
}
