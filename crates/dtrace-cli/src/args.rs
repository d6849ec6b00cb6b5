//! The `dtrace(1)` command line, getopt-style: `-h` means "header" here, so
//! help is `--help` only; short options group (`-qCh`) and take their value
//! attached or as the next word (`-oOUT`, `-o OUT`), in any order.

use std::path::PathBuf;

use sdt_header::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `-h`: write the provider header.
    Header,
    /// `-G`: write an object defining the probe semaphores.
    Object,
}

/// `-32` / `-64`: the ELF class of a `-G` object when no input object says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Bits32,
    Bits64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub mode: Mode,
    pub script: PathBuf,
    pub output: Option<PathBuf>,
    /// Objects after the options (`-G` only): the first one sets the architecture.
    pub objects: Vec<PathBuf>,
    pub style: Style,
    pub target: Option<String>,
    pub width: Option<Width>,
    pub quiet: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Command),
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

fn set_mode(new: Mode, mode: &mut Option<Mode>) -> Result<(), UsageError> {
    match *mode {
        Some(old) if old != new => Err(usage("-h and -G cannot be used together")),
        _ => {
            *mode = Some(new);
            Ok(())
        }
    }
}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Parsed, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut args = args.into_iter();
    let mut mode: Option<Mode> = None;
    let mut scripts: Vec<PathBuf> = Vec::new();
    let mut output = None;
    let mut objects = Vec::new();
    let mut style = None;
    let mut target = None;
    let mut width = None;
    let mut quiet = false;

    while let Some(arg) = args.next() {
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline_value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = |what: &str| {
                inline_value
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| usage(format!("--{name} needs {what}")))
            };
            match name {
                "help" => return Ok(Parsed::Help),
                "version" => return Ok(Parsed::Version),
                "style" => {
                    let v = value("a style (sdt, sdt-inline, dtrace or macos)")?;
                    style = Some(v.parse::<Style>().map_err(|e| usage(e.to_string()))?);
                }
                "target" => target = Some(value("an architecture")?),
                "" => objects.extend(args.by_ref().map(PathBuf::from)),
                _ => return Err(usage(format!("unknown option --{name}"))),
            }
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            objects.push(PathBuf::from(arg));
            continue;
        };
        match cluster {
            "32" => {
                width = Some(Width::Bits32);
                continue;
            }
            "64" => {
                width = Some(Width::Bits64);
                continue;
            }
            _ => {}
        }
        for (at, letter) in cluster.char_indices() {
            match letter {
                'h' => set_mode(Mode::Header, &mut mode)?,
                'G' => set_mode(Mode::Object, &mut mode)?,
                'q' => quiet = true,
                // Preprocessing is not done (see --help), so -C is a no-op.
                'C' | 'k' => {}
                'V' => return Ok(Parsed::Version),
                'o' | 's' | 'I' | 'x' | 'D' | 'U' => {
                    let attached = &cluster[at + letter.len_utf8()..];
                    let value = if attached.is_empty() {
                        args.next()
                            .ok_or_else(|| usage(format!("-{letter} needs an argument")))?
                    } else {
                        attached.to_string()
                    };
                    match letter {
                        'o' => output = Some(PathBuf::from(value)),
                        's' => scripts.push(PathBuf::from(value)),
                        _ => {} // -I, -x, -D, -U: accepted and ignored.
                    }
                    break;
                }
                other => return Err(usage(format!("unknown option -{other}"))),
            }
        }
    }

    let mode = mode.ok_or_else(|| usage("one of -h (header) or -G (object) is required"))?;
    let script = match scripts.len() {
        1 => scripts.remove(0),
        0 => return Err(usage("no provider file given; use -s FILE.d")),
        _ => return Err(usage("only one -s FILE.d is supported")),
    };
    if mode == Mode::Header && !objects.is_empty() {
        return Err(usage(format!(
            "unexpected argument {} (objects are only read with -G)",
            objects[0].display()
        )));
    }
    Ok(Parsed::Run(Command {
        mode,
        script,
        output,
        objects,
        style: style.unwrap_or_else(Style::host_default),
        target,
        width,
        quiet,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(words: &[&str]) -> Result<Command, UsageError> {
        match parse(words.iter().map(|w| w.to_string()))? {
            Parsed::Run(command) => Ok(command),
            other => Err(usage(format!("not a run: {other:?}"))),
        }
    }

    #[test]
    fn cpythons_header_rule() {
        // Makefile.pre.in: $(DTRACE) $(DFLAGS) -o $@ -h -s $<
        let c = run(&[
            "-o",
            "Include/pydtrace_probes.h",
            "-h",
            "-s",
            "Include/pydtrace.d",
        ])
        .unwrap();
        assert_eq!(c.mode, Mode::Header);
        assert_eq!(c.output, Some(PathBuf::from("Include/pydtrace_probes.h")));
        assert_eq!(c.script, PathBuf::from("Include/pydtrace.d"));
        assert!(c.objects.is_empty());
    }

    #[test]
    fn cpythons_object_rule_with_objects() {
        // $(DTRACE) $(DFLAGS) -o $@ -G -s $< $(DTRACE_DEPS)
        let c = run(&[
            "-o",
            "Python/pydtrace.o",
            "-G",
            "-s",
            "p.d",
            "Python/ceval.o",
            "Modules/gcmodule.o",
        ])
        .unwrap();
        assert_eq!(c.mode, Mode::Object);
        assert_eq!(
            c.objects,
            vec![
                PathBuf::from("Python/ceval.o"),
                PathBuf::from("Modules/gcmodule.o")
            ]
        );
    }

    #[test]
    fn attached_values_groups_and_ignored_options() {
        let c = run(&[
            "-qC",
            "-I/usr/include",
            "-x",
            "nolibs",
            "-64",
            "-Gs",
            "p.d",
            "-oout.o",
        ])
        .unwrap();
        assert_eq!(c.mode, Mode::Object);
        assert!(c.quiet);
        assert_eq!(c.width, Some(Width::Bits64));
        assert_eq!(c.script, PathBuf::from("p.d"));
        assert_eq!(c.output, Some(PathBuf::from("out.o")));
    }

    #[test]
    fn style_and_target_long_options() {
        let c = run(&[
            "-h",
            "--style=sdt-inline",
            "--target",
            "aarch64",
            "-s",
            "p.d",
        ])
        .unwrap();
        assert_eq!(c.style, Style::SdtInline);
        assert_eq!(c.target.as_deref(), Some("aarch64"));
    }

    #[test]
    fn mistakes_are_reported() {
        assert_eq!(
            run(&["-h", "-k", "-Z", "-s", "p.d"]).unwrap_err().0,
            "unknown option -Z"
        );
        assert_eq!(
            run(&["-s", "p.d"]).unwrap_err().0,
            "one of -h (header) or -G (object) is required"
        );
        assert_eq!(
            run(&["-h", "-G", "-s", "p.d"]).unwrap_err().0,
            "-h and -G cannot be used together"
        );
        assert_eq!(run(&["-h", "-s"]).unwrap_err().0, "-s needs an argument");
        assert_eq!(
            run(&["-h"]).unwrap_err().0,
            "no provider file given; use -s FILE.d"
        );
        assert!(run(&["-h", "--style", "solaris", "-s", "p.d"])
            .unwrap_err()
            .0
            .contains("unknown header style"));
        assert!(run(&["-h", "-s", "p.d", "x.o"]).is_err());
    }

    #[test]
    fn help_is_long_only() {
        assert_eq!(parse(["--help".to_string()]), Ok(Parsed::Help));
    }
}
