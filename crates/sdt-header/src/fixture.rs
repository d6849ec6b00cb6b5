//! Hand-built providers for the unit tests, so they do not depend on the parser.

use dprovider::{Arg, BaseType, CType, Pos, Pragma, Probe, Provider, ProviderFile};

pub(crate) fn const_char_ptr() -> CType {
    CType {
        base: BaseType::Char { signed: None },
        is_const: true,
        pointers: 1,
    }
}

pub(crate) fn void_ptr() -> CType {
    CType {
        base: BaseType::Void,
        is_const: false,
        pointers: 1,
    }
}

pub(crate) fn scalar(base: BaseType) -> CType {
    CType {
        base,
        is_const: false,
        pointers: 0,
    }
}

pub(crate) fn int() -> CType {
    scalar(BaseType::Int { signed: true })
}

pub(crate) fn probe(name: &str, types: &[CType]) -> Probe {
    Probe {
        name: name.to_string(),
        args: types
            .iter()
            .map(|ty| Arg {
                ty: ty.clone(),
                name: None,
            })
            .collect(),
        pos: Pos::default(),
        doc: None,
    }
}

pub(crate) fn with_probe(probe: Probe) -> ProviderFile {
    ProviderFile {
        providers: vec![Provider {
            name: "python".to_string(),
            probes: vec![probe],
            pos: Pos::default(),
        }],
        pragmas: Vec::new(),
    }
}

/// `python` with `function__entry(const char *, const char *, int)` and
/// `audit(const char *, void *)`, and CPython's five Evolving/Evolving/Common
/// attribute pragmas.
pub(crate) fn two_probes() -> ProviderFile {
    let pragmas = ["provider", "module", "function", "name", "args"]
        .iter()
        .enumerate()
        .map(|(i, part)| Pragma {
            text: format!("pragma D attributes Evolving/Evolving/Common provider python {part}"),
            pos: Pos {
                line: 10 + i as u32,
                col: 1,
            },
        })
        .collect();
    ProviderFile {
        providers: vec![Provider {
            name: "python".to_string(),
            probes: vec![
                probe(
                    "function__entry",
                    &[const_char_ptr(), const_char_ptr(), int()],
                ),
                probe("audit", &[const_char_ptr(), void_ptr()]),
            ],
            pos: Pos::default(),
        }],
        pragmas,
    }
}
