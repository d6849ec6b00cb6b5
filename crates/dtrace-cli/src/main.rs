//! `dtrace`: the two `dtrace(1)` jobs a `--with-dtrace` CPython build needs,
//! `-h` (provider header) and `-G` (object defining the probe semaphores),
//! without SystemTap's Python script. Errors are one `dtrace: …` line and
//! exit status 2.

mod args;
mod semaphores;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use args::{Command, Mode, Parsed, UsageError};
use dprovider::ProviderFile;
use sdt_header::{Options, Style};
use semaphores::Target;

const HELP: &str = "\
Usage: dtrace -h -s FILE.d [-o OUT.h] [--style STYLE] [--target ARCH]
       dtrace -G -s FILE.d [-o OUT.o] [-32|-64] [OBJECT...]

Writes what a DTrace/SystemTap build of CPython needs from its provider file.

  -h              write the provider header (default OUT: FILE.h)
  -G              write an ELF object defining every probe's .probes
                  semaphore (default OUT: FILE.o); the architecture is the
                  first OBJECT's, else this machine's (-32 for its 32-bit
                  sibling). The OBJECTs are read, never changed. A file that
                  declares no provider (configure's `BEGIN{}` check) gives an
                  object without semaphores, so configure links this object.
  -s FILE.d       the provider file
  -o OUT          the output file
  --style STYLE   header style: sdt (SystemTap <sys/sdt.h> interface, the
                  default on Linux), sdt-inline (same macros, notes written
                  by inline assembly, no <sys/sdt.h>; x86_64 and aarch64),
                  dtrace (illumos/FreeBSD), macos (Apple, for ld64).
                  -G only serves the sdt styles.
  --target ARCH   architecture an sdt-inline header is for (default: this machine's)
  -q              no warnings
  -V, --version   print the version
  --help          this text

Accepted for compatibility and ignored: -C, -I DIR, -D NAME[=VAL], -U NAME
(provider files are read as written: no C preprocessing), -x OPT, -k.
-32/-64 only matter for -G without input objects.
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dtrace: {err}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Error> {
    let words = std::env::args_os()
        .skip(1)
        .map(|arg| {
            arg.into_string()
                .map_err(|bad| UsageError(format!("argument {bad:?} is not UTF-8")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match args::parse(words)? {
        Parsed::Help => print!("{HELP}"),
        Parsed::Version => println!("dtrace (cpython-dtrace {})", env!("CARGO_PKG_VERSION")),
        Parsed::Run(command) => match command.mode {
            Mode::Header => write_header(&command)?,
            Mode::Object => write_object(&command)?,
        },
    }
    Ok(())
}

fn write_header(command: &Command) -> Result<(), Error> {
    let file = dprovider::parse_file(&command.script)?;
    let output = output_path(command, "h");
    let opts = Options {
        include_guard: Some(sdt_header::guard_for_file_name(&output.to_string_lossy())),
        target: command
            .target
            .clone()
            .unwrap_or_else(|| std::env::consts::ARCH.to_string()),
        ..Options::default()
    };
    let path = command.script.display().to_string();
    let text =
        sdt_header::generate(&file, command.style, &opts).map_err(|source| match source {
            // Positions print as FILE:LINE:COL, like parse errors.
            sdt_header::Error::BadPragma { pos, reason } => Error::Located { path, pos, reason },
            source => Error::Header { path, source },
        })?;
    write(&output, text.as_bytes())
}

fn write_object(command: &Command) -> Result<(), Error> {
    if matches!(command.style, Style::Dtrace | Style::Macos) {
        return Err(Error::ForeignStyle(command.style));
    }
    let file = provider_or_empty(command)?;
    let target = match command.objects.first() {
        Some(first) => Target::of_object(first)?,
        None => Target::host(command.width)?,
    };
    // The rest are only checked to exist, so a typo fails here as in dtrace(1).
    for object in command.objects.iter().skip(1) {
        std::fs::metadata(object).map_err(|source| Error::Io {
            path: object.display().to_string(),
            source,
        })?;
    }
    let bytes = semaphores::object_bytes(&sdt_header::semaphore_symbols(&file), target)?;
    write(&output_path(command, "o"), &bytes)
}

/// The provider file for `-G`. CPython's configure decides whether to link a
/// `-G` object by running `dtrace -G` on a file holding just `BEGIN{}`; as with
/// SystemTap's dtrace, such a file (no `provider` anywhere) gives an object
/// with no semaphores, and configure then links the real one.
fn provider_or_empty(command: &Command) -> Result<ProviderFile, Error> {
    let path = &command.script;
    let src = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    match dprovider::parse(&src) {
        Ok(file) => Ok(file),
        Err(_) if !mentions_provider(&src) => {
            if !command.quiet {
                eprintln!(
                    "dtrace: warning: {} declares no provider; writing an object without semaphores",
                    path.display()
                );
            }
            Ok(ProviderFile::default())
        }
        Err(error) => Err(dprovider::FileError::Parse {
            path: path.display().to_string(),
            error,
        }
        .into()),
    }
}

fn mentions_provider(src: &str) -> bool {
    src.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| word == "provider")
}

/// `-o OUT`, else the script's base name with `.d` replaced by `.h`/`.o`, in
/// the current directory (what SystemTap's and illumos' dtrace do).
fn output_path(command: &Command, extension: &str) -> PathBuf {
    if let Some(out) = &command.output {
        return out.clone();
    }
    let base = command
        .script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "provider.d".to_string());
    let stem = base.strip_suffix(".d").unwrap_or(&base);
    PathBuf::from(format!("{stem}.{extension}"))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|source| Error::WriteFile {
        path: path.display().to_string(),
        source,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}; see dtrace --help")]
    Usage(#[from] UsageError),
    #[error("{0}")]
    Provider(#[from] dprovider::FileError),
    #[error("{path}: {source}")]
    Header {
        path: String,
        source: sdt_header::Error,
    },
    #[error("{path}:{pos}: {reason}")]
    Located {
        path: String,
        pos: dprovider::Pos,
        reason: String,
    },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    WriteFile {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a usable object: {reason}")]
    BadObject { path: String, reason: String },
    #[error("cannot build the object: {0}")]
    Write(String),
    #[error("no ELF machine known for this host's architecture {0}; pass an input object to take it from")]
    UnknownHost(String),
    #[error("-G defines SDT semaphores, which --style {0} headers do not use; link those with the platform's own dtrace -G")]
    ForeignStyle(Style),
}
