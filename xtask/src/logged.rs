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
//! Interrupted (Ctrl-C, SIGTERM, SIGHUP), the command and everything it
//! started are stopped before we exit: a make left running would go on
//! writing into a tree the next build takes over.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
/// the phase and the log, after the log's last lines are printed; so is an
/// interruption, after the command's process group is stopped.
pub fn run(clock: &Clock, name: &str, cmd: Command, log: &Path) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut handlers = Vec::new();
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        handlers.push(
            signal_hook::flag::register(signal, stop.clone())
                .context("cannot install a signal handler")?,
        );
    }
    let result = run_until(clock, name, cmd, log, &stop);
    for handler in handlers {
        signal_hook::low_level::unregister(handler);
    }
    result
}

/// [`run`], stopping the command when `stop` becomes true.
fn run_until(
    clock: &Clock,
    name: &str,
    mut cmd: Command,
    log: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
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
    // A process group of its own, so that an interruption reaches make's
    // compilers too (the terminal's Ctrl-C is forwarded from our handler).
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .process_group(0)
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
        if stop.load(Ordering::SeqCst) {
            stop_group(&mut child);
            anyhow::bail!(
                "{name} interrupted after {}: stopped {program} and everything it started; \
                 the next build starts this step again (log: {})",
                duration(started.elapsed()),
                log.display()
            );
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

/// Sends SIGTERM to the child's process group, then SIGKILL if the group
/// has not ended within five seconds, and reaps the child. Returns once no
/// process of the group is left (or a second after SIGKILL).
fn stop_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    // kill(1): a negative pid is a process group.
    let signal_group = |signal: &str| {
        Command::new("kill")
            .args([signal, "--", &group])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    for (signal, wait) in [
        ("-TERM", Duration::from_secs(5)),
        ("-KILL", Duration::from_secs(1)),
    ] {
        signal_group(signal);
        let until = Instant::now() + wait;
        while Instant::now() < until {
            // The leader (make) may exit before what it started has: wait
            // until no process of the group is left (`kill -0` fails).
            if matches!(child.try_wait(), Ok(Some(_))) && !signal_group("-0") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = child.wait();
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

    #[test]
    fn an_interrupted_command_is_stopped_with_all_it_started() {
        let clock = Clock::start();
        let log = tmp("interrupted.log");
        let pidfile = tmp("grandchild.pid");
        let _ = std::fs::remove_file(&pidfile);
        // Like make: a shell that waits for a child of its own.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("sleep 60 & echo $! > {}; wait", pidfile.display()));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let pidfile2 = pidfile.clone();
        let setter = std::thread::spawn(move || {
            while !std::fs::read_to_string(&pidfile2).is_ok_and(|s| s.ends_with('\n')) {
                std::thread::sleep(Duration::from_millis(20));
            }
            flag.store(true, Ordering::SeqCst);
        });
        let started = Instant::now();
        let err = format!(
            "{:#}",
            run_until(&clock, "make", cmd, &log, &stop).unwrap_err()
        );
        setter.join().unwrap();
        assert!(err.starts_with("make interrupted after"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited for the sleep"
        );
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
        // Gone, or a zombie waiting for init to reap it: not running.
        assert!(
            stat.as_deref().map_or(true, |s| s.contains(") Z ")),
            "grandchild {} still runs: {stat:?}",
            pid.trim()
        );
    }
}
