//! Header equivalence: the program that fires every probe of provider.d
//! (tests/fixtures/c/fire_all.c), built against our `sdt` header, our
//! self-contained `sdt-inline` header and SystemTap's own `dtrace -h` output,
//! carries the same probes with the same argument sizes and signs — the ones
//! provider.d declares — and probe-reader reads each binary as readelf does.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use sdt_header::{Options, Style};
use support::*;

const SYSTEMTAP_DTRACE: &str = "/usr/bin/dtrace";
const SDT_H: &str = "/usr/include/x86_64-linux-gnu/sys/sdt.h";

fn toolchain_present() -> bool {
    prerequisite(have("gcc"), "gcc is not installed")
        && prerequisite(have("readelf"), "readelf (binutils) is not installed")
}

fn systemtap_present() -> bool {
    prerequisite(
        Path::new(SYSTEMTAP_DTRACE).exists() && Path::new(SDT_H).exists(),
        "SystemTap's dtrace and <sys/sdt.h> (systemtap-sdt-dev) are not installed",
    )
}

/// Writes our header in `style` as probes.h in `dir`, and a C file defining
/// the semaphores (what `dtrace -G` would otherwise provide).
fn write_ours(dir: &TempDir, style: Style) -> PathBuf {
    let file = provider();
    let text = sdt_header::generate(&file, style, &Options::default()).expect("generate");
    dir.write("probes.h", &text);
    dir.write("semaphores.c", &sdt_header::semaphores_c_source(&file))
}

/// Builds fire_all.c at `opt` into `dir/fire_all` and returns its path.
fn build_fire_all(dir: &TempDir, opt: &str, extra_objects: &[&str]) -> PathBuf {
    let src = c_fixture("fire_all.c");
    let mut args = vec![opt, src.to_str().expect("utf-8 path"), "-o", "fire_all"];
    args.extend_from_slice(extra_objects);
    gcc(dir.path(), &args);
    dir.join("fire_all")
}

fn build_ours(style: Style, opt: &str) -> Vec<probe_reader::Probe> {
    let dir = TempDir::new(&format!("equiv-{style}"));
    write_ours(&dir, style);
    let exe = build_fire_all(&dir, opt, &["semaphores.c"]);
    run(&mut Command::new(&exe));
    checked_probes(&exe)
}

fn build_systemtap(opt: &str) -> Vec<probe_reader::Probe> {
    let dir = TempDir::new("equiv-systemtap");
    let d = provider_d();
    run(Command::new(SYSTEMTAP_DTRACE)
        .current_dir(dir.path())
        .args(["-h", "-s"])
        .arg(&d)
        .args(["-o", "probes.h"]));
    // SystemTap's header declares the semaphores; its -G stub defines them.
    run(Command::new(SYSTEMTAP_DTRACE)
        .current_dir(dir.path())
        .args(["-G", "-s"])
        .arg(&d)
        .args(["-o", "stap_semaphores.o"]));
    let exe = build_fire_all(&dir, opt, &["stap_semaphores.o"]);
    run(&mut Command::new(&exe));
    checked_probes(&exe)
}

/// probe-reader's view of `file`, after checking it against readelf and that
/// every semaphore lies in `.probes`.
fn checked_probes(file: &Path) -> Vec<probe_reader::Probe> {
    let probes = assert_reader_matches_readelf(file);
    let (start, end) = section_range(file, ".probes").expect(".probes section");
    for p in &probes {
        let sem = p
            .semaphore
            .unwrap_or_else(|| panic!("{}: no semaphore", p.name));
        assert!(
            (start..end).contains(&sem),
            "{}: semaphore {sem:#x} outside .probes {start:#x}..{end:#x}",
            p.name
        );
    }
    probes
}

#[test]
fn sdt_inline_and_systemtap_headers_write_the_same_notes() {
    if !(toolchain_present() && systemtap_present()) {
        return;
    }
    let declared = declared_signature(&provider());
    for opt in ["-O0", "-O2"] {
        let sdt = signature(&build_ours(Style::Sdt, opt));
        let inline = signature(&build_ours(Style::SdtInline, opt));
        let systemtap = signature(&build_systemtap(opt));
        assert_eq!(sdt, systemtap, "{opt}: --style sdt vs SystemTap's header");
        assert_eq!(
            inline, systemtap,
            "{opt}: --style sdt-inline vs SystemTap's header"
        );

        // Every declared probe is there with the declared sizes and signs;
        // `line` twice, once per inlined copy of fire_all.c's helper.
        let mut distinct = systemtap.clone();
        distinct.dedup();
        assert_eq!(distinct, declared, "{opt}: probes differ from provider.d");
        let lines = systemtap
            .iter()
            .filter(|(_, name, _)| name == "line")
            .count();
        assert_eq!(lines, 2, "{opt}: sites of python:line");
    }
}

#[test]
fn inline_header_works_in_a_shared_library() {
    if !toolchain_present() {
        return;
    }
    let dir = TempDir::new("equiv-shared");
    write_ours(&dir, Style::SdtInline);
    let src = c_fixture("fire_all.c");
    gcc(
        dir.path(),
        &[
            "-O2",
            "-fPIC",
            "-shared",
            "-DFIRE_ALL_NO_MAIN",
            src.to_str().expect("utf-8 path"),
            "semaphores.c",
            "-o",
            "libfire.so",
        ],
    );
    let lib = dir.join("libfire.so");
    let probes = checked_probes(&lib);
    let mut distinct = signature(&probes);
    distinct.dedup();
    assert_eq!(distinct, declared_signature(&provider()));

    // The probes' addresses are inside the library's code, and all share
    // the one `.stapsdt.base` byte.
    let (text_start, text_end) = section_range(&lib, ".text").expect(".text");
    let (base, _) = section_range(&lib, ".stapsdt.base").expect(".stapsdt.base");
    for p in &probes {
        assert!(
            (text_start..text_end).contains(&p.pc),
            "{} at {:#x}",
            p.name,
            p.pc
        );
        assert_eq!(p.base, base, "{}: base", p.name);
    }

    // And a program linked against the library runs it.
    dir.write(
        "use_lib.c",
        "int fire_all(int);\nint main(void) { return fire_all(1); }\n",
    );
    gcc(
        dir.path(),
        &[
            "use_lib.c",
            "-L.",
            "-lfire",
            "-Wl,-rpath,$ORIGIN",
            "-o",
            "use_lib",
        ],
    );
    run(&mut Command::new(dir.join("use_lib")));
}

#[test]
fn headers_survive_cpythons_sed_rename() {
    if !toolchain_present() {
        return;
    }
    // CPython's C code only ever says PyDTrace_X / PyDTrace_X_ENABLED().
    let use_renamed = "#include \"probes.h\"\n\
        int main(int argc, char **argv) {\n\
        \x20   (void)argv;\n\
        \x20   if (PyDTrace_FUNCTION_ENTRY_ENABLED())\n\
        \x20       PyDTrace_FUNCTION_ENTRY(\"f.py\", \"f\", argc);\n\
        \x20   if (PyDTrace_GC_DONE_ENABLED())\n\
        \x20       PyDTrace_GC_DONE((long)argc);\n\
        \x20   return 0;\n\
        }\n";
    for style in [Style::Sdt, Style::SdtInline] {
        let dir = TempDir::new(&format!("sed-{style}"));
        write_ours(&dir, style);
        let header = std::fs::read_to_string(dir.join("probes.h")).expect("read header");
        dir.write("probes.h", &cpython_sed(&header));
        dir.write("use.c", use_renamed);
        gcc(dir.path(), &["-O2", "use.c", "semaphores.c", "-o", "use"]);
        let names: Vec<String> = assert_reader_matches_readelf(&dir.join("use"))
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["function__entry", "gc__done"], "{style}");
    }
}

/// The aarch64 branch of the self-contained header, through a cross compiler
/// when one is installed (Debian's gcc-aarch64-linux-gnu and
/// libc6-dev-arm64-cross): a shared library built with it carries the same
/// probes as one built with <sys/sdt.h> (which is the same text on every
/// architecture, so the host's copy serves). Optional even under CI, as
/// ci/install-deps.sh does not install the cross compiler.
#[test]
fn inline_header_matches_sdt_h_on_aarch64() {
    const CROSS: &str = "aarch64-linux-gnu-gcc";
    if !have(CROSS) {
        eprintln!("SKIPPED: {CROSS} is not installed (optional)");
        return;
    }
    if !(toolchain_present() && systemtap_present()) {
        return;
    }
    let build = |style: Style| {
        let dir = TempDir::new(&format!("aarch64-{style}"));
        write_ours(&dir, style);
        // <sys/sdt.h> lives in the host's multiarch include directory.
        std::fs::create_dir_all(dir.join("inc/sys")).expect("mkdir");
        for name in ["sdt.h", "sdt-config.h"] {
            let from = Path::new(SDT_H).with_file_name(name);
            std::fs::copy(from, dir.join("inc/sys").join(name)).expect("copy sdt.h");
        }
        let src = c_fixture("fire_all.c");
        run(Command::new(CROSS).current_dir(dir.path()).args([
            "-O2",
            "-fPIC",
            "-shared",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I.",
            "-Iinc",
            "-DFIRE_ALL_NO_MAIN",
            src.to_str().expect("utf-8 path"),
            "semaphores.c",
            "-o",
            "libfire.so",
        ]));
        signature(&checked_probes(&dir.join("libfire.so")))
    };
    let inline = build(Style::SdtInline);
    assert_eq!(inline, build(Style::Sdt));
    let mut distinct = inline;
    distinct.dedup();
    assert_eq!(distinct, declared_signature(&provider()));
}

/// Argument types provider.d does not use yet — plain, unsigned and
/// fixed-width integers, a double pointer — and a probe without arguments:
/// the self-contained header sizes and signs them as <sys/sdt.h> does.
#[test]
fn less_common_argument_types_match_sdt_h() {
    if !(toolchain_present() && systemtap_present()) {
        return;
    }
    let file = dprovider::parse(
        "provider edge {\n\
         \x20   probe tick();\n\
         \x20   probe mixed(char c, unsigned char uc, short s, unsigned long long ull,\n\
         \x20               int8_t i8, uint16_t u16, uintptr_t up, char **argv);\n\
         };\n",
    )
    .expect("parse edge provider");
    let program = "#include \"probes.h\"\n\
        int main(int argc, char **argv) {\n\
        \x20   char c = (char)argc; unsigned char uc = 200; short s = -3;\n\
        \x20   unsigned long long ull = 1ULL << 40; int8_t i8 = -1; uint16_t u16 = 9;\n\
        \x20   uintptr_t up = (uintptr_t)argv;\n\
        \x20   if (EDGE_TICK_ENABLED()) EDGE_TICK();\n\
        \x20   if (EDGE_MIXED_ENABLED()) EDGE_MIXED(c, uc, s, ull, i8, u16, up, argv);\n\
        \x20   return 0;\n\
        }\n";
    let build = |style: Style| {
        let dir = TempDir::new(&format!("edge-{style}"));
        let header = sdt_header::generate(&file, style, &Options::default()).expect("generate");
        // The self-contained header includes <stdint.h> for its casts; for
        // the sdt one (which never names the types) the program brings it.
        let header = match style {
            Style::Sdt => format!("#include <stdint.h>\n{header}"),
            _ => header,
        };
        dir.write("probes.h", &header);
        dir.write("semaphores.c", &sdt_header::semaphores_c_source(&file));
        dir.write("edge.c", program);
        gcc(dir.path(), &["-O2", "edge.c", "semaphores.c", "-o", "edge"]);
        signature(&checked_probes(&dir.join("edge")))
    };
    let inline = build(Style::SdtInline);
    assert_eq!(inline, build(Style::Sdt));
    let declared = declared_signature(&file);
    assert_eq!(inline, declared);
    let tick = declared
        .iter()
        .find(|(_, name, _)| name == "tick")
        .expect("tick");
    assert!(tick.2.is_empty());
}
