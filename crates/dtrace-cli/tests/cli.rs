//! The `dtrace` command as CPython's build runs it: configure's `-G` probe,
//! the Makefile's `-h` and `-G` rules, and the errors for bad input.

#[path = "../../sdt-header/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
use support::*;

fn dtrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dtrace"))
}

fn dtrace_in(dir: &Path, args: &[&str]) -> Output {
    dtrace()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run dtrace")
}

fn toolchain_present() -> bool {
    prerequisite(have("gcc"), "gcc is not installed")
        && prerequisite(have("readelf"), "readelf (binutils) is not installed")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// configure.ac: `echo 'BEGIN{}' > conftest.d` and
/// `"$DTRACE" $DFLAGS -G -s conftest.d -o conftest.o` — success means "link
/// Python/pydtrace.o", and the Makefile rules below then run.
#[test]
fn configure_check_gets_an_object_to_link() {
    let dir = TempDir::new("cli-configure");
    dir.write("conftest.d", "BEGIN{}\n");
    let out = dtrace_in(dir.path(), &["-G", "-s", "conftest.d", "-o", "conftest.o"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(dir.join("conftest.o")).expect("conftest.o written");
    let file = object::File::parse(&*bytes).expect("an object file");
    assert_eq!(file.format(), object::BinaryFormat::Elf);
    assert_eq!(file.kind(), object::ObjectKind::Relocatable);
    assert!(
        file.section_by_name(".probes").is_none(),
        "no provider, no semaphores"
    );
    if toolchain_present() {
        // It links into a program like any object.
        dir.write("main.c", "int main(void) { return 0; }\n");
        gcc(dir.path(), &["main.c", "conftest.o", "-o", "main"]);
    }
}

/// Makefile.pre.in: `$(DTRACE) $(DFLAGS) -o $@ -h -s $<` for the header and
/// `$(DTRACE) $(DFLAGS) -o $@ -G -s $< $(DTRACE_DEPS)` for the object, then
/// everything linked. Done for both SDT styles, with compatibility options
/// mixed in as a DFLAGS would.
#[test]
fn cpython_make_rules_give_a_program_whose_semaphores_resolve() {
    if !toolchain_present() {
        return;
    }
    let provider_d = provider_d();
    let d = path_str(&provider_d);
    let fire_all = c_fixture("fire_all.c");
    for style in ["sdt", "sdt-inline"] {
        let dir = TempDir::new(&format!("cli-make-{style}"));
        let style_opt = format!("--style={style}");
        let dflags = [
            style_opt.as_str(),
            "-C",
            "-I/usr/include",
            "-x",
            "nolibs",
            "-64",
        ];

        let mut header_rule = dflags.to_vec();
        header_rule.extend(["-o", "probes.h", "-h", "-s", d]);
        expect_success(dtrace_in(dir.path(), &header_rule));
        let header = std::fs::read_to_string(dir.join("probes.h")).expect("probes.h");
        assert!(
            header.starts_with("#ifndef _PROBES_H\n"),
            "guard named after -o"
        );

        gcc(
            dir.path(),
            &["-O2", "-c", path_str(&fire_all), "-o", "fire_all.o"],
        );
        let mut object_rule = dflags.to_vec();
        object_rule.extend(["-o", "pydtrace.o", "-G", "-s", d, "fire_all.o"]);
        expect_success(dtrace_in(dir.path(), &object_rule));
        gcc(dir.path(), &["fire_all.o", "pydtrace.o", "-o", "fire_all"]);
        let exe = dir.join("fire_all");
        run(&mut Command::new(&exe));

        assert_semaphores_resolve(&exe, style);
    }
}

/// Each semaphore provider.d implies is a 2-byte hidden object in `.probes`
/// of the program, and every probe's note points at its own semaphore.
fn assert_semaphores_resolve(exe: &Path, style: &str) {
    let symbols = readelf_symbols(exe);
    let file = provider();
    for name in sdt_header::semaphore_symbols(&file) {
        let sym = symbols
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{style}: {name} not in the symbol table"));
        assert_eq!(
            (sym.size, sym.kind.as_str(), sym.vis.as_str()),
            (2, "OBJECT", "HIDDEN"),
            "{style}: {name}"
        );
        let (start, end) = section_range(exe, ".probes").expect(".probes");
        assert!(
            (start..end).contains(&sym.value),
            "{style}: {name} outside .probes"
        );
    }
    for probe in assert_reader_matches_readelf(exe) {
        let wanted = sdt_header::semaphore_symbol(&probe.provider, &probe.name);
        let sym = symbols
            .iter()
            .find(|s| s.name == wanted)
            .expect("semaphore symbol");
        assert_eq!(
            probe.semaphore,
            Some(sym.value),
            "{style}: {}'s semaphore",
            probe.name
        );
    }
}

struct ElfSymbol {
    name: String,
    value: u64,
    size: u64,
    kind: String,
    vis: String,
}

/// `readelf -s -W` rows: `Num: Value Size Type Bind Vis Ndx Name`.
fn readelf_symbols(file: &Path) -> Vec<ElfSymbol> {
    let out = run(Command::new("readelf").args(["-s", "-W"]).arg(file));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || !f[0].ends_with(':') {
                return None;
            }
            Some(ElfSymbol {
                name: f[7].to_string(),
                value: u64::from_str_radix(f[1], 16).ok()?,
                size: f[2].parse().ok()?,
                kind: f[3].to_string(),
                vis: f[5].to_string(),
            })
        })
        .collect()
}

fn expect_success(out: Output) {
    assert!(
        out.status.success(),
        "dtrace failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_object_is_for_the_first_input_objects_architecture() {
    let dir = TempDir::new("cli-arch");
    let mut arm = object::write::Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::Aarch64,
        object::Endianness::Little,
    );
    arm.add_section(Vec::new(), b".text".to_vec(), object::SectionKind::Text);
    std::fs::write(dir.join("arm.o"), arm.write().expect("write arm.o")).expect("save arm.o");
    let provider_d = provider_d();
    expect_success(dtrace_in(
        dir.path(),
        &["-G", "-s", path_str(&provider_d), "-o", "out.o", "arm.o"],
    ));
    let bytes = std::fs::read(dir.join("out.o")).expect("out.o");
    let file = object::File::parse(&*bytes).expect("object");
    assert_eq!(file.architecture(), object::Architecture::Aarch64);
    let probes = file.section_by_name(".probes").expect(".probes");
    let expected = sdt_header::semaphore_symbols(&provider());
    assert_eq!(probes.size(), 2 * expected.len() as u64);
    let defined: Vec<String> = file
        .symbols()
        .filter(|s| s.section_index() == Some(probes.index()))
        .filter_map(|s| s.name().ok().map(str::to_string))
        .collect();
    assert_eq!(defined, expected);
}

/// Every failure: exit status 2, nothing on stdout, one `dtrace: …` line.
fn assert_one_line_error(out: &Output, contains: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("dtrace: "), "{stderr}");
    assert!(stderr.contains(contains), "wanted {contains:?} in {stderr}");
}

#[test]
fn bad_input_is_one_line_and_exit_status_2() {
    let dir = TempDir::new("cli-errors");
    dir.write("bad.d", "provider python {\n    probe x(int;\n};\n");
    dir.write("conftest.d", "BEGIN{}\n");
    dir.write(
        "pragma.d",
        "provider python {\n    probe x(int);\n};\n#pragma D attributes Shaky/Evolving/Common provider python args\n",
    );
    let provider_d = provider_d();
    let d = path_str(&provider_d);
    let cases: [(&[&str], &str); 8] = [
        (
            &["-h", "--style", "macos", "-s", "pragma.d"],
            "pragma.d:4:1: unknown stability level `Shaky`",
        ),
        (&["-h", "-s", "missing.d"], "missing.d: cannot read"),
        (&["-h", "-s", "bad.d", "-o", "bad.h"], "bad.d:2:16: "),
        (&["-G", "-s", "bad.d", "-o", "bad.o"], "bad.d:2:16: "),
        (&["-h", "-Z", "-s", d], "unknown option -Z"),
        (
            &["-G", "-s", d, "-o", "x.o", "missing.o"],
            "missing.o: cannot read",
        ),
        (&["-h", "-s", "conftest.d"], "conftest.d:1:1: "),
        (
            &[
                "-h",
                "-s",
                d,
                "--style",
                "sdt-inline",
                "--target",
                "riscv64",
            ],
            "riscv64: self-contained",
        ),
    ];
    for (args, contains) in cases {
        assert_one_line_error(&dtrace_in(dir.path(), args), contains);
    }
    assert!(!dir.join("bad.h").exists() && !dir.join("bad.o").exists());
}

#[test]
fn default_output_names_and_help() {
    let dir = TempDir::new("cli-defaults");
    let provider_d = provider_d();
    expect_success(dtrace_in(dir.path(), &["-h", "-s", path_str(&provider_d)]));
    let header = std::fs::read_to_string(dir.join("provider.h")).expect("provider.h");
    assert!(header.contains("#define PYTHON_FUNCTION_ENTRY_ENABLED()"));
    expect_success(dtrace_in(dir.path(), &["-G", "-s", path_str(&provider_d)]));
    assert!(dir.join("provider.o").exists());

    let help = dtrace_in(dir.path(), &["--help"]);
    expect_success(help.clone());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("-h -s FILE.d") && text.contains("-G -s FILE.d"),
        "{text}"
    );
}
