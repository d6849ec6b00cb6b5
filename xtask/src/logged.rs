//! Running a long command (configure, make) with its output in a log file
//! and a few lines of progress on stderr instead of thousands.
//!
//! ```text
//! [  12s] configure … (log: target/cpython/.build/<id>/logs/configure.log)
//! [  42s] configure: 30s, last: checking for --with-dtrace... yes
//! [  47s] configure done in 35s
//! ```
//!
//! On failure the log's last lines are printed and the error names the
//! phase and the log, so the cause is on screen without opening anything.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// How many log lines a failure shows.
const TAIL_LINES: usize = 25;
/// How much of a heartbeat's last log line is shown.
const HEARTBEAT_WIDTH: usize = 100;

/// Elapsed time since the whole task started, for the `[  12s]` prefix.
#[derive(Clone, Copy)]
pub struct Clock {
    start: Instant,
    heartbeat: Duration,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
            heartbeat: Duration::from_secs(30),
        }
    }

    /// The same clock with another heartbeat interval (tests use a short one).
    #[cfg(test)]
    pub fn with_heartbeat(self, heartbeat: Duration) -> Clock {
        Clock { heartbeat, ..self }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Prints `[  12s] message` on stderr.
    pub fn say(&self, message: impl std::fmt::Display) {
        eprintln!("[{:>4}s] {message}", self.elapsed().as_secs());
    }
}

/// `7s`, `2m05s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Runs `cmd` with stdout and stderr into `log` (created or truncated),
/// reporting progress as phase `name`. A non-zero exit is an error naming
/// the phase and the log, after the log's last lines are printed.
pub fn run(clock: &Clock, name: &str, mut cmd: Command, log: &Path) -> anyhow::Result<()> {
    let mut file =
        File::create(log).with_context(|| format!("cannot create log {}", log.display()))?;
    // The command line first, so the log says how to reproduce it.
    let _ = writeln!(file, "$ {cmd:?}");
    if let Some(dir) = cmd.get_current_dir() {
        let _ = writeln!(file, "# in {}", dir.display());
    }
    let stderr = file
        .try_clone()
        .with_context(|| format!("cannot write log {}", log.display()))?;
    clock.say(format_args!("{name} … (log: {})", log.display()));
    let started = Instant::now();
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("{name}: cannot run {program}; is it installed?"))?;
    let mut next_beat = started + clock.heartbeat;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("{name}: lost track of {program}"))?
        {
            break status;
        }
        if Instant::now() >= next_beat {
            next_beat += clock.heartbeat;
            let last = last_line(log).unwrap_or_default();
            clock.say(format_args!(
                "{name}: {}, last: {}",
                duration(started.elapsed()),
                truncate(&last, HEARTBEAT_WIDTH)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if status.success() {
        clock.say(format_args!(
            "{name} done in {}",
            duration(started.elapsed())
        ));
        return Ok(());
    }
    eprintln!("---- last {TAIL_LINES} lines of {} ----", log.display());
    for line in tail(log, TAIL_LINES).unwrap_or_default() {
        eprintln!("{line}");
    }
    eprintln!("----");
    anyhow::bail!(
        "{name} failed ({status}) after {}; full log: {}",
        duration(started.elapsed()),
        log.display()
    )
}

/// The last `n` lines of a file, reading only its end.
pub fn tail(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    // 256 bytes a line is plenty for compiler output; a longer line is cut.
    let want = (n as u64 + 1) * 256;
    let start = len.saturating_sub(want);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // probably a partial line
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines[skip..].iter().map(|l| l.to_string()).collect())
}

/// The last non-blank line of a file.
fn last_line(path: &Path) -> Option<String> {
    tail(path, 5)
        .ok()?
        .into_iter()
        .rev()
        .find(|l| !l.trim().is_empty())
}

/// At most `width` characters; a longer line keeps its start and its end
/// (for a compiler line, the end names the file) around a `…`.
pub fn truncate(line: &str, width: usize) -> String {
    let line = line.trim().replace('\t', " ");
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= width {
        return line;
    }
    let head = width.saturating_sub(1) / 3;
    let tail = width.saturating_sub(1) - head;
    let mut cut: String = chars[..head].iter().collect();
    cut.push('…');
    cut.extend(&chars[chars.len() - tail..]);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-logged-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn durations_and_truncation() {
        assert_eq!(duration(Duration::from_secs(7)), "7s");
        assert_eq!(duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(truncate("\tshort ", 10), "short");
        assert_eq!(truncate("abcdefghijkl", 5), "a…jkl");
        assert_eq!(
            truncate("gcc -c -O3 -o Objects/abstract.o Objects/abstract.c", 20),
            "gcc -c…ts/abstract.c"
        );
    }

    #[test]
    fn tail_returns_the_last_lines_of_a_long_file() {
        let path = tmp("long.log");
        let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(tail(&path, 2).unwrap(), ["line 4998", "line 4999"]);
        std::fs::write(&path, "only\n").unwrap();
        assert_eq!(tail(&path, 25).unwrap(), ["only"]);
        assert_eq!(last_line(&path).as_deref(), Some("only"));
    }

    #[test]
    fn output_goes_to_the_log_and_failure_names_phase_and_log() {
        let clock = Clock::start().with_heartbeat(Duration::from_millis(50));
        let log = tmp("ok.log");
        let mut ok = Command::new("sh");
        ok.args(["-c", "echo to-stdout; echo to-stderr >&2; sleep 0.3"]);
        run(&clock, "phase", ok, &log).unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("$ "), "{text}");
        assert!(text.contains("to-stdout\n") && text.contains("to-stderr\n"));

        let log = tmp("bad.log");
        let mut bad = Command::new("sh");
        bad.args(["-c", "echo it broke; exit 3"]);
        let err = format!("{:#}", run(&clock, "make", bad, &log).unwrap_err());
        assert!(err.starts_with("make failed (exit status: 3)"), "{err}");
        assert!(
            err.ends_with(&format!("full log: {}", log.display())),
            "{err}"
        );

        let missing = Command::new("/nonexistent/program");
        let err = format!("{:#}", run(&clock, "x", missing, &log).unwrap_err());
        assert!(err.contains("cannot run /nonexistent/program"), "{err}");
    }
}
