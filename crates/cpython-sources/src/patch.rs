//! Unified diffs — plain (`diff -u`) and git-style (`diff --git`, new and
//! deleted files, modes, renames, copies) — read as `patch -p1` reads them,
//! and applied to files held in memory.
//!
//! Application is exact, like GNU `patch -F0`: every context line must match,
//! but a hunk may sit at an offset from the line its header names. Hunks
//! with less context on one side are pinned to that end of the file, as GNU
//! patch pins them, so we put each hunk where `quilt push` would.

use std::collections::BTreeMap;
use std::fmt;

/// A file's bytes and permission bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileData {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// The mode of files created by a diff that does not name one (GNU patch
/// creates them 0666 less the usual umask).
pub const DEFAULT_MODE: u32 = 0o644;

/// What a file diff does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Modify,
    Create,
    Delete,
    Rename,
    Copy,
    /// A copy undone: the copy (`old_path`) is removed after checking that,
    /// with the hunks reversed, it equals its source (`new_path`).
    Uncopy,
}

/// The changes a patch makes to one file.
#[derive(Clone, Debug)]
pub struct FileDiff {
    pub op: Op,
    /// Path after `-p1`; `None` for `/dev/null`.
    pub old_path: Option<String>,
    pub new_path: Option<String>,
    pub old_mode: Option<u32>,
    pub new_mode: Option<u32>,
    pub hunks: Vec<Hunk>,
    /// Where this file's diff starts in the patch (1-based line).
    pub line: usize,
    git: bool,
}

/// One `@@` hunk.
#[derive(Clone, Debug)]
pub struct Hunk {
    /// 1-based number within its file, for messages.
    pub number: usize,
    /// 1-based line of the `@@` header in the patch.
    pub line: usize,
    /// 0-based index of the first old line the header names.
    pub old_start: usize,
    pub new_start: usize,
    /// Old and new lines, each with its `\n` unless the diff said
    /// "No newline at end of file".
    pub old: Vec<Vec<u8>>,
    pub new: Vec<Vec<u8>>,
    /// Unchanged lines before the first and after the last change.
    pub prefix: usize,
    pub suffix: usize,
}

/// A parsed patch file.
#[derive(Clone, Debug)]
pub struct Diff {
    pub files: Vec<FileDiff>,
    /// Byte offset where the first file's diff starts (what comes before is
    /// the header and free text).
    pub start: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Why one hunk did not apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HunkFailure {
    pub number: usize,
    pub patch_line: usize,
    /// 1-based line of the file the header expected it at.
    pub file_line: usize,
    pub why: Mismatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// Its context and removed lines are nowhere in the file.
    NoMatch,
    /// It would match only if this many context lines were ignored.
    Fuzz(usize),
    /// Its result is already there.
    AlreadyApplied,
}

impl fmt::Display for HunkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.why {
            Mismatch::NoMatch => "does not match the file".to_string(),
            Mismatch::Fuzz(n) => format!("would apply only with fuzz {n} (its context changed)"),
            Mismatch::AlreadyApplied => "is already applied".to_string(),
        };
        write!(
            f,
            "hunk #{} (patch line {}, file line {}) {what}",
            self.number, self.patch_line, self.file_line
        )
    }
}

/// Why a file diff did not apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileFailure {
    Missing,
    AlreadyExists,
    /// A deletion whose hunks leave something in the file.
    NotEmptied,
    /// An undone copy that no longer equals its source.
    CopyDiffers,
    Hunk(HunkFailure),
}

impl fmt::Display for FileFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("file not found"),
            Self::AlreadyExists => f.write_str("file to be created already exists"),
            Self::NotEmptied => {
                f.write_str("file to be deleted has lines the patch does not remove")
            }
            Self::CopyDiffers => f.write_str("copied file no longer equals its source"),
            Self::Hunk(h) => h.fmt(f),
        }
    }
}

/// Reads a patch file. Anything outside the file diffs (headers, free text,
/// `Index:` lines) is skipped, as `patch` skips it.
pub fn parse(text: &[u8]) -> Result<Diff, ParseError> {
    let mut p = Parser::new(text);
    let mut files = Vec::new();
    let mut start = None;
    while let Some(line) = p.get(p.i) {
        let plain =
            line.starts_with(b"--- ") && p.get(p.i + 1).is_some_and(|l| l.starts_with(b"+++ "));
        if line.starts_with(b"diff --git ") || plain {
            // A `diff -ruN …` line above a plain diff belongs to it.
            let first = match p.i.checked_sub(1) {
                Some(above) if plain && p.lines[above].starts_with(b"diff ") => above,
                _ => p.i,
            };
            start.get_or_insert(p.offsets[first]);
            files.push(if plain {
                p.plain_file()?
            } else {
                p.git_file()?
            });
        } else if start.is_some() && is_binary_marker(line) {
            return Err(
                p.error("binary diffs are not supported; keep binary files out of the series")
            );
        } else {
            p.i += 1;
        }
    }
    match start {
        Some(start) => Ok(Diff { files, start }),
        None => Err(ParseError {
            line: 1,
            message: "no diff found (expected `diff --git` or `---`/`+++` lines)".into(),
        }),
    }
}

fn is_binary_marker(line: &[u8]) -> bool {
    line.starts_with(b"GIT binary patch")
        || (line.starts_with(b"Binary files ") && line.ends_with(b" differ"))
}

struct Parser<'a> {
    lines: Vec<&'a [u8]>,
    offsets: Vec<usize>,
    i: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a [u8]) -> Self {
        let (mut lines, mut offsets, mut at) = (Vec::new(), Vec::new(), 0);
        for line in text.split(|&b| b == b'\n') {
            offsets.push(at);
            at += line.len() + 1;
            lines.push(line);
        }
        // `split` yields an empty piece after a final newline.
        if text.ends_with(b"\n") || text.is_empty() {
            lines.pop();
            offsets.pop();
        }
        Parser {
            lines,
            offsets,
            i: 0,
        }
    }

    fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.lines.get(i).copied()
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.i + 1,
            message: message.into(),
        }
    }

    fn plain_file(&mut self) -> Result<FileDiff, ParseError> {
        let line = self.i + 1;
        let old = self.header_path(4)?;
        self.i += 1;
        let new = self.header_path(4)?;
        self.i += 1;
        let hunks = self.hunks()?;
        if hunks.is_empty() {
            return Err(self.error("a `---`/`+++` pair without `@@` hunks"));
        }
        let op = match (&old, &new) {
            (None, None) => {
                return Err(ParseError {
                    line,
                    message: "both sides are /dev/null".into(),
                })
            }
            (None, Some(_)) => Op::Create,
            (Some(_), None) => Op::Delete,
            _ => Op::Modify,
        };
        Ok(FileDiff {
            op,
            old_path: old,
            new_path: new,
            old_mode: None,
            new_mode: None,
            hunks,
            line,
            git: false,
        })
    }

    /// The path on a `---`/`+++` line, after `-p1`; `None` for /dev/null or
    /// the epoch timestamp that `diff -N` gives absent files.
    fn header_path(&self, skip: usize) -> Result<Option<String>, ParseError> {
        let raw = self.get(self.i).unwrap_or_default();
        let rest = trim_cr(raw.get(skip..).unwrap_or_default());
        let (name, stamp) = if rest.starts_with(b"\"") {
            let (name, used) = unquote(rest).ok_or_else(|| self.error("bad quoted file name"))?;
            (name, rest.get(used..).unwrap_or_default())
        } else {
            let end = rest.iter().position(|&b| b == b'\t').unwrap_or(rest.len());
            let name = std::str::from_utf8(&rest[..end])
                .map_err(|_| self.error("file name is not UTF-8"))?;
            (name.trim_end().to_string(), &rest[end..])
        };
        if name == "/dev/null" || is_epoch(stamp) {
            return Ok(None);
        }
        strip1(&name).map(Some).map_err(|m| self.error(m))
    }

    fn git_file(&mut self) -> Result<FileDiff, ParseError> {
        let line = self.i + 1;
        let header = trim_cr(&self.lines[self.i][b"diff --git ".len()..]);
        let (mut old, mut new) = match git_header_names(header) {
            Some((a, b)) => (
                Some(strip1(&a).map_err(|m| self.error(m))?),
                Some(strip1(&b).map_err(|m| self.error(m))?),
            ),
            None => (None, None),
        };
        let (mut old_mode, mut new_mode, mut op) = (None, None, Op::Modify);
        self.i += 1;
        while let Some(raw) = self.get(self.i) {
            let l = trim_cr(raw);
            let text = |prefix: &[u8]| {
                l.strip_prefix(prefix)
                    .and_then(|v| std::str::from_utf8(v).ok())
            };
            if let Some(m) = text(b"old mode ") {
                old_mode = Some(self.mode(m)?);
            } else if let Some(m) = text(b"new mode ") {
                new_mode = Some(self.mode(m)?);
            } else if let Some(m) = text(b"deleted file mode ") {
                (op, old_mode) = (Op::Delete, Some(self.mode(m)?));
            } else if let Some(m) = text(b"new file mode ") {
                (op, new_mode) = (Op::Create, Some(self.mode(m)?));
            } else if let Some(p) = text(b"rename from ").or_else(|| text(b"copy from ")) {
                old = Some(self.git_path(p)?);
            } else if let Some(p) = text(b"rename to ") {
                (op, new) = (Op::Rename, Some(self.git_path(p)?));
            } else if let Some(p) = text(b"copy to ") {
                (op, new) = (Op::Copy, Some(self.git_path(p)?));
            } else if l.starts_with(b"similarity index ")
                || l.starts_with(b"dissimilarity index ")
                || l.starts_with(b"index ")
            {
            } else if is_binary_marker(l) {
                return Err(self
                    .error("binary diffs are not supported; keep binary files out of the series"));
            } else {
                break;
            }
            self.i += 1;
        }
        let mut hunks = Vec::new();
        let has_names = self.get(self.i).is_some_and(|l| l.starts_with(b"--- "))
            && self.get(self.i + 1).is_some_and(|l| l.starts_with(b"+++ "));
        if has_names {
            let a = self.header_path(4)?;
            self.i += 1;
            let b = self.header_path(4)?;
            self.i += 1;
            match (&a, &b) {
                (None, _) => op = Op::Create,
                (_, None) => op = Op::Delete,
                _ => {}
            }
            // Renames and copies keep the names their own lines gave.
            if !matches!(op, Op::Rename | Op::Copy) {
                (old, new) = (a.or(old), b.or(new));
            }
            hunks = self.hunks()?;
        }
        match op {
            Op::Create => old = None,
            Op::Delete => new = None,
            _ => {}
        }
        if (old.is_none() && new.is_none())
            || (op != Op::Create && old.is_none())
            || (op != Op::Delete && new.is_none())
        {
            return Err(ParseError {
                line,
                message: "cannot tell which file this git diff is for".into(),
            });
        }
        Ok(FileDiff {
            op,
            old_path: old,
            new_path: new,
            old_mode,
            new_mode,
            hunks,
            line,
            git: true,
        })
    }

    fn mode(&self, text: &str) -> Result<u32, ParseError> {
        let mode = u32::from_str_radix(text.trim(), 8)
            .map_err(|_| self.error(format!("bad file mode `{text}`")))?;
        match mode & 0o170_000 {
            0o100_000 | 0 => Ok(mode & 0o777),
            _ => Err(self.error("symlinks and submodules are not supported; the series may only change regular files")),
        }
    }

    /// `rename from`/`copy from` paths carry no `a/` prefix.
    fn git_path(&self, text: &str) -> Result<String, ParseError> {
        let name = if text.starts_with('"') {
            unquote(text.as_bytes())
                .map(|(n, _)| n)
                .ok_or_else(|| self.error("bad quoted file name"))?
        } else {
            text.to_string()
        };
        clean_path(&name).map_err(|m| self.error(m))
    }

    fn hunks(&mut self) -> Result<Vec<Hunk>, ParseError> {
        let mut hunks = Vec::new();
        while self.get(self.i).is_some_and(|l| l.starts_with(b"@@ ")) {
            hunks.push(self.hunk(hunks.len() + 1)?);
        }
        Ok(hunks)
    }

    fn hunk(&mut self, number: usize) -> Result<Hunk, ParseError> {
        let line = self.i + 1;
        let header = std::str::from_utf8(self.lines[self.i]).unwrap_or("");
        let ((a, b), (c, d)) = parse_range_header(header)
            .ok_or_else(|| self.error(format!("bad hunk header `{header}`")))?;
        if (b > 0 && a == 0) || (d > 0 && c == 0) {
            return Err(self.error("hunk header names line 0"));
        }
        self.i += 1;
        let (mut old, mut new, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
        let (mut old_left, mut new_left) = (b, d);
        loop {
            let raw = self.get(self.i);
            if raw.is_some_and(|l| l.starts_with(b"\\")) {
                // "\ No newline at end of file" ends the line before it.
                match kinds.last() {
                    Some(b' ') => {
                        chop_newline(&mut old);
                        chop_newline(&mut new);
                    }
                    Some(b'-') => chop_newline(&mut old),
                    Some(_) => chop_newline(&mut new),
                    None => return Err(self.error("`\\` line before any hunk line")),
                }
                self.i += 1;
                continue;
            }
            if old_left == 0 && new_left == 0 {
                break;
            }
            let Some(l) = raw else {
                return Err(
                    self.error(format!("hunk #{number} is cut short: the patch ends early"))
                );
            };
            // An empty line is an empty context line whose space was lost.
            let (kind, body) = l.split_first().map_or((b' ', l), |(k, rest)| (*k, rest));
            let ok = match kind {
                b' ' => old_left > 0 && new_left > 0,
                b'-' => old_left > 0,
                b'+' => new_left > 0,
                _ => false,
            };
            if !ok {
                return Err(self.error(format!(
                    "hunk #{number} has more or other lines than its header `{header}` says (hand-edited patch?)"
                )));
            }
            let mut content = body.to_vec();
            content.push(b'\n');
            if kind != b'+' {
                old.push(content.clone());
                old_left -= 1;
            }
            if kind != b'-' {
                new.push(content);
                new_left -= 1;
            }
            kinds.push(kind);
            self.i += 1;
        }
        let prefix = kinds.iter().take_while(|&&k| k == b' ').count();
        let suffix = kinds.iter().rev().take_while(|&&k| k == b' ').count();
        Ok(Hunk {
            number,
            line,
            old_start: if b == 0 { a } else { a - 1 },
            new_start: if d == 0 { c } else { c - 1 },
            old,
            new,
            prefix,
            suffix,
        })
    }
}

fn chop_newline(lines: &mut [Vec<u8>]) {
    if let Some(last) = lines.last_mut() {
        if last.last() == Some(&b'\n') {
            last.pop();
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `@@ -a[,b] +c[,d] @@…` → ((a, b), (c, d)); an omitted length is 1.
fn parse_range_header(header: &str) -> Option<((usize, usize), (usize, usize))> {
    let rest = header.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |r: &str| -> Option<(usize, usize)> {
        match r.split_once(',') {
            Some((s, n)) => Some((s.parse().ok()?, n.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    Some((range(old)?, range(new)?))
}

/// Whether a `diff` timestamp is the Unix epoch (in any time zone), which
/// `diff -N` writes for a file that does not exist.
fn is_epoch(stamp: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(stamp) else {
        return false;
    };
    let mut parts = s.split_whitespace();
    let (Some(date), Some(time), zone) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Some(date) = crate::dep3::parse_date(date) else {
        return false;
    };
    let hms: Vec<i64> = time
        .split('.')
        .next()
        .unwrap_or("")
        .split(':')
        .filter_map(|p| p.parse().ok())
        .collect();
    let [h, m, sec] = hms[..] else { return false };
    let zone = zone.unwrap_or("+0000");
    let (sign, digits) = zone.split_at(1.min(zone.len()));
    let Ok(hhmm) = digits.parse::<i64>() else {
        return false;
    };
    let offset = (hhmm / 100 * 3600 + hhmm % 100 * 60) * if sign == "-" { -1 } else { 1 };
    date.days_since_epoch() * 86_400 + h * 3600 + m * 60 + sec - offset == 0
}

/// The two names on a `diff --git a/X b/Y` line. Unquoted names are split
/// where both halves name the same file, so spaces in names survive.
fn git_header_names(rest: &[u8]) -> Option<(String, String)> {
    if rest.starts_with(b"\"") {
        let (a, used) = unquote(rest)?;
        let tail = rest.get(used..)?.strip_prefix(b" ")?;
        let b = if tail.starts_with(b"\"") {
            unquote(tail)?.0
        } else {
            String::from_utf8(tail.to_vec()).ok()?
        };
        return Some((a, b));
    }
    let s = std::str::from_utf8(rest).ok()?;
    let splits: Vec<usize> = s.match_indices(' ').map(|(i, _)| i).collect();
    let same = splits.iter().find(|&&i| {
        let (a, b) = (&s[..i], &s[i + 1..]);
        a.split_once('/').map(|x| x.1) == b.split_once('/').map(|x| x.1)
    });
    let i = *same.or(splits.first())?;
    Some((s[..i].to_string(), s[i + 1..].to_string()))
}

/// A C-style quoted name as git writes it; returns it and the bytes used.
fn unquote(s: &[u8]) -> Option<(String, usize)> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return String::from_utf8(out).ok().map(|n| (n, i + 1)),
            b'\\' => {
                let c = *s.get(i + 1)?;
                i += 2;
                out.push(match c {
                    b'a' => 7,
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 11,
                    b'0'..=b'7' => {
                        let digits = s.get(i - 1..i + 2)?;
                        i += 2;
                        let text = std::str::from_utf8(digits).ok()?;
                        u8::from_str_radix(text, 8).ok()?
                    }
                    other => other,
                });
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

/// Drops the first directory, as `patch -p1` does.
fn strip1(name: &str) -> Result<String, String> {
    match name.split_once('/') {
        Some((_, rest)) => clean_path(rest),
        None => Err(format!(
            "`{name}` has no directory for -p1 to strip; write it as a/{name}"
        )),
    }
}

/// A relative path inside the tree: `.` and empty parts dropped, `..` and
/// absolute paths refused so that no patch can reach outside the tree.
pub fn clean_path(name: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("`{name}` leaves the source tree (`..`)")),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("`{name}` names no file"));
    }
    Ok(parts.join("/"))
}

impl Hunk {
    /// The same hunk, undoing what it did.
    pub fn reversed(&self) -> Hunk {
        Hunk {
            old_start: self.new_start,
            new_start: self.old_start,
            old: self.new.clone(),
            new: self.old.clone(),
            ..self.clone()
        }
    }
}

impl FileDiff {
    /// The diff that undoes this one.
    pub fn reversed(&self) -> FileDiff {
        FileDiff {
            op: match self.op {
                Op::Create => Op::Delete,
                Op::Delete => Op::Create,
                Op::Copy => Op::Uncopy,
                Op::Uncopy => Op::Copy,
                op => op,
            },
            old_path: self.new_path.clone(),
            new_path: self.old_path.clone(),
            old_mode: self.new_mode,
            new_mode: self.old_mode,
            hunks: self.hunks.iter().map(Hunk::reversed).collect(),
            ..self.clone()
        }
    }

    /// Every path this diff may read or write.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.old_path
            .iter()
            .chain(&self.new_path)
            .map(String::as_str)
    }

    /// The path to name in messages.
    pub fn display_path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("?")
    }

    /// Applies this diff to `files`; on failure returns the path and why,
    /// leaving `files` as it was.
    pub fn apply(&self, files: &mut Overlay<'_>) -> Result<(), (String, FileFailure)> {
        let (old, new) = (
            self.old_path.as_deref().unwrap_or(""),
            self.new_path.as_deref().unwrap_or(""),
        );
        let fail = |path: &str, why: FileFailure| (path.to_string(), why);
        let hunks = |path: &str, bytes: &[u8]| {
            apply_hunks(bytes, &self.hunks).map_err(|h| fail(path, FileFailure::Hunk(h)))
        };
        let existing = |files: &Overlay<'_>, path: &str| {
            files
                .get(path)
                .cloned()
                .ok_or_else(|| fail(path, FileFailure::Missing))
        };
        match self.op {
            Op::Create => {
                if files.get(new).is_some() {
                    return Err(fail(new, FileFailure::AlreadyExists));
                }
                let bytes = hunks(new, b"")?;
                files.put(
                    new,
                    Some(FileData {
                        bytes,
                        mode: self.new_mode.unwrap_or(DEFAULT_MODE),
                    }),
                );
            }
            Op::Delete => {
                let current = existing(files, old)?;
                if !hunks(old, &current.bytes)?.is_empty() {
                    return Err(fail(old, FileFailure::NotEmptied));
                }
                files.put(old, None);
            }
            Op::Modify => {
                let path = self.target(files).to_string();
                // Like GNU patch, a plain diff from nothing (`@@ -0,0 …`)
                // creates its file even without /dev/null or an epoch date.
                let creates = !self.git && self.hunks.iter().all(|h| h.old.is_empty());
                let current = match files.get(&path) {
                    None if creates => FileData {
                        bytes: Vec::new(),
                        mode: DEFAULT_MODE,
                    },
                    _ => existing(files, &path)?,
                };
                let bytes = hunks(&path, &current.bytes)?;
                files.put(
                    &path,
                    Some(FileData {
                        bytes,
                        mode: self.new_mode.unwrap_or(current.mode),
                    }),
                );
            }
            Op::Rename | Op::Copy => {
                let current = existing(files, old)?;
                if files.get(new).is_some() {
                    return Err(fail(new, FileFailure::AlreadyExists));
                }
                let bytes = hunks(old, &current.bytes)?;
                files.put(
                    new,
                    Some(FileData {
                        bytes,
                        mode: self.new_mode.unwrap_or(current.mode),
                    }),
                );
                if self.op == Op::Rename {
                    files.put(old, None);
                }
            }
            Op::Uncopy => {
                let copy = existing(files, old)?;
                let source = existing(files, new)?;
                if hunks(old, &copy.bytes)? != source.bytes {
                    return Err(fail(old, FileFailure::CopyDiffers));
                }
                files.put(old, None);
            }
        }
        Ok(())
    }

    /// The file a modification patches. Git diffs name it; for plain diffs
    /// whose two names differ, GNU patch takes the name that exists, and of
    /// several the one with fewest parts, then shortest base name, then
    /// shortest name.
    fn target<'s>(&'s self, files: &Overlay<'_>) -> &'s str {
        let (old, new) = (
            self.old_path.as_deref().unwrap_or(""),
            self.new_path.as_deref().unwrap_or(""),
        );
        if self.git || old == new {
            return old;
        }
        let key = |p: &str| {
            (
                p.split('/').count(),
                p.rsplit('/').next().map_or(0, str::len),
                p.len(),
            )
        };
        match (files.get(old).is_some(), files.get(new).is_some()) {
            (true, true) if key(new) < key(old) => new,
            (false, true) => new,
            _ => old,
        }
    }
}

/// Files as a series sees them: a snapshot of the tree (only files that
/// exist) plus every change made so far.
pub struct Overlay<'a> {
    base: &'a BTreeMap<String, FileData>,
    changed: BTreeMap<String, Option<FileData>>,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a BTreeMap<String, FileData>) -> Self {
        Overlay {
            base,
            changed: BTreeMap::new(),
        }
    }

    pub fn get(&self, path: &str) -> Option<&FileData> {
        match self.changed.get(path) {
            Some(state) => state.as_ref(),
            None => self.base.get(path),
        }
    }

    fn put(&mut self, path: &str, data: Option<FileData>) {
        self.changed.insert(path.to_string(), data);
    }

    /// The files that now differ from the snapshot: new contents, or `None`
    /// for a file that is gone.
    pub fn changes(&self) -> Vec<(String, Option<FileData>)> {
        self.changed
            .iter()
            .filter(|(path, state)| self.base.get(*path) != state.as_ref())
            .map(|(path, state)| (path.clone(), state.clone()))
            .collect()
    }
}

/// Applies hunks in order to `content`, exactly (no fuzz); each hunk is
/// searched for nearest the line its header names, shifted by the offset at
/// which the previous hunk applied, never before the previous hunk's end.
pub fn apply_hunks(content: &[u8], hunks: &[Hunk]) -> Result<Vec<u8>, HunkFailure> {
    let lines = split_lines(content);
    let mut out = Vec::with_capacity(content.len());
    let (mut done, mut offset) = (0usize, 0isize);
    for hunk in hunks {
        let Some(at) = locate(&lines, hunk, done, offset) else {
            return Err(HunkFailure {
                number: hunk.number,
                patch_line: hunk.line,
                file_line: (hunk.old_start as isize + offset).max(0) as usize + 1,
                why: diagnose(&lines, hunk, done),
            });
        };
        for line in &lines[done..at] {
            out.extend_from_slice(line);
        }
        for line in &hunk.new {
            out.extend_from_slice(line);
        }
        done = at + hunk.old.len();
        offset = at as isize - hunk.old_start as isize;
    }
    for line in &lines[done..] {
        out.extend_from_slice(line);
    }
    Ok(out)
}

/// Lines with their `\n`; a last line without one is kept as it is.
fn split_lines(content: &[u8]) -> Vec<&[u8]> {
    content.split_inclusive(|&b| b == b'\n').collect()
}

fn matches_at(lines: &[&[u8]], pattern: &[Vec<u8>], at: usize) -> bool {
    lines.len() >= at + pattern.len()
        && pattern
            .iter()
            .zip(&lines[at..])
            .all(|(p, l)| p.as_slice() == *l)
}

/// Where the hunk's old lines are, following GNU patch's `locate_hunk` at
/// fuzz 0 (forward before backward at equal distance).
fn locate(lines: &[&[u8]], hunk: &Hunk, min: usize, offset: isize) -> Option<usize> {
    let max = lines.len().checked_sub(hunk.old.len())?;
    if min > max {
        return None;
    }
    let guess = (hunk.old_start as isize + offset).clamp(min as isize, max as isize) as usize;
    if hunk.old.is_empty() {
        return Some(guess);
    }
    // Short leading context means the hunk is at the start of the file;
    // short trailing context, at its end.
    let at_start = hunk.prefix < hunk.suffix && hunk.old_start == 0;
    let at_end = hunk.suffix < hunk.prefix;
    if at_start || at_end {
        let at = if at_start { 0 } else { max };
        return (at >= min && matches_at(lines, &hunk.old, at)).then_some(at);
    }
    let reach = (guess - min).max(max - guess);
    (0..=reach).find_map(|d| {
        if guess + d <= max && matches_at(lines, &hunk.old, guess + d) {
            Some(guess + d)
        } else if d > 0 && guess >= min + d && matches_at(lines, &hunk.old, guess - d) {
            Some(guess - d)
        } else {
            None
        }
    })
}

/// Why a hunk did not match, for the message: already applied, or close
/// enough that `patch` with its default fuzz would have taken it.
fn diagnose(lines: &[&[u8]], hunk: &Hunk, min: usize) -> Mismatch {
    let anywhere = |pattern: &[Vec<u8>]| {
        !pattern.is_empty() && (min..lines.len()).any(|at| matches_at(lines, pattern, at))
    };
    if hunk.new != hunk.old && anywhere(&hunk.new) {
        return Mismatch::AlreadyApplied;
    }
    for fuzz in 1..=2 {
        let (front, back) = (fuzz.min(hunk.prefix), fuzz.min(hunk.suffix));
        if front + back > 0
            && front + back < hunk.old.len()
            && anywhere(&hunk.old[front..hunk.old.len() - back])
        {
            return Mismatch::Fuzz(fuzz);
        }
    }
    Mismatch::NoMatch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> Vec<u8> {
        (1..=n)
            .map(|i| format!("line {i}\n"))
            .collect::<String>()
            .into_bytes()
    }

    fn apply_text(content: &[u8], patch: &str) -> Result<Vec<u8>, HunkFailure> {
        let diff = parse(patch.as_bytes()).unwrap();
        apply_hunks(content, &diff.files[0].hunks)
    }

    const MIDDLE: &str =
        "--- a/f\n+++ b/f\n@@ -4,6 +4,7 @@\n line 4\n line 5\n line 6\n+added\n line 7\n line 8\n line 9\n";

    #[test]
    fn applies_exactly_and_at_an_offset() {
        let out = apply_text(&numbered(12), MIDDLE).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("line 6\nadded\nline 7\n"));
        // Three extra lines at the top: found three lines further down.
        let mut shifted = b"x\ny\nz\n".to_vec();
        shifted.extend(numbered(12));
        let out = apply_text(&shifted, MIDDLE).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("x\ny\nz\nline 1\n"));
    }

    #[test]
    fn changed_context_is_fuzz_and_refused() {
        let content = String::from_utf8(numbered(12))
            .unwrap()
            .replace("line 4\n", "LINE 4\n");
        let err = apply_text(content.as_bytes(), MIDDLE).unwrap_err();
        assert_eq!(err.why, Mismatch::Fuzz(1));
        assert_eq!((err.number, err.file_line, err.patch_line), (1, 4, 3));
    }

    #[test]
    fn applied_hunk_is_recognised() {
        let once = apply_text(&numbered(12), MIDDLE).unwrap();
        assert_eq!(
            apply_text(&once, MIDDLE).unwrap_err().why,
            Mismatch::AlreadyApplied
        );
    }

    #[test]
    fn short_trailing_context_pins_to_the_end() {
        // Three lines before the change but two after: GNU patch takes this
        // as the end of the file, so it must not match in the middle.
        let patch = "--- a/f\n+++ b/f\n@@ -4,5 +4,6 @@\n line 4\n line 5\n line 6\n+added\n line 7\n line 8\n";
        assert!(apply_text(&numbered(12), patch).is_err());
        assert!(apply_text(&numbered(8), patch)
            .unwrap()
            .ends_with(b"line 6\nadded\nline 7\nline 8\n"));
    }

    #[test]
    fn short_leading_context_pins_to_the_start() {
        let patch = "--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@\n+top\n line 1\n line 2\n line 3\n";
        let mut content = b"new first\n".to_vec();
        content.extend(numbered(5));
        // GNU patch would not move this hunk away from line 1.
        assert!(apply_text(&content, patch).is_err());
        assert!(apply_text(&numbered(5), patch)
            .unwrap()
            .starts_with(b"top\nline 1\n"));
    }

    #[test]
    fn no_newline_at_end_of_file() {
        let patch = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n line 1\n-line 2\n\\ No newline at end of file\n+line 2\n";
        assert_eq!(
            apply_text(b"line 1\nline 2", patch).unwrap(),
            b"line 1\nline 2\n"
        );
        assert!(apply_text(b"line 1\nline 2\n", patch).is_err());
    }

    #[test]
    fn git_diff_with_new_file_modes_and_rename() {
        let patch = "Description: x\n\ndiff --git a/tools/run.sh b/tools/run.sh\nnew file mode 100755\nindex 0000000..1111111\n\
--- /dev/null\n+++ b/tools/run.sh\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+exit 0\n\
diff --git a/old name.c b/new name.c\nsimilarity index 100%\nrename from old name.c\nrename to new name.c\n\
diff --git a/configure b/configure\nold mode 100644\nnew mode 100755\n";
        let diff = parse(patch.as_bytes()).unwrap();
        assert_eq!(diff.start, "Description: x\n\n".len());
        let plain =
            parse(b"Author: x\ndiff -u a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n").unwrap();
        assert_eq!(plain.start, "Author: x\n".len());
        let ops: Vec<_> = diff
            .files
            .iter()
            .map(|f| (f.op, f.display_path().to_string()))
            .collect();
        assert_eq!(
            ops,
            [
                (Op::Create, "tools/run.sh".to_string()),
                (Op::Rename, "new name.c".to_string()),
                (Op::Modify, "configure".to_string())
            ]
        );
        let base = BTreeMap::from([
            (
                "old name.c".to_string(),
                FileData {
                    bytes: b"c\n".to_vec(),
                    mode: 0o644,
                },
            ),
            (
                "configure".to_string(),
                FileData {
                    bytes: b"#!/bin/sh\n".to_vec(),
                    mode: 0o644,
                },
            ),
        ]);
        let mut files = Overlay::new(&base);
        for f in &diff.files {
            f.apply(&mut files).unwrap();
        }
        assert_eq!(files.get("tools/run.sh").map(|f| f.mode), Some(0o755));
        assert_eq!(files.get("configure").map(|f| f.mode), Some(0o755));
        assert!(files.get("old name.c").is_none() && files.get("new name.c").is_some());
        for f in diff.files.iter().rev() {
            f.reversed().apply(&mut files).unwrap();
        }
        assert!(files.changes().is_empty());
    }

    #[test]
    fn plain_diff_from_nothing_creates_the_file() {
        let diff = parse(b"--- a/new.c\n+++ b/new.c\n@@ -0,0 +1 @@\n+int x;\n").unwrap();
        let base = BTreeMap::new();
        let mut files = Overlay::new(&base);
        diff.files[0].apply(&mut files).unwrap();
        assert_eq!(
            files.get("new.c").map(|f| f.bytes.as_slice()),
            Some(&b"int x;\n"[..])
        );
        // Reversed, it empties the file but keeps it, as GNU patch does
        // without -E.
        diff.files[0].reversed().apply(&mut files).unwrap();
        assert_eq!(files.get("new.c").map(|f| f.bytes.len()), Some(0));
    }

    #[test]
    fn epoch_timestamps_mean_absent_files() {
        assert!(is_epoch(b"\t1970-01-01 00:00:00.000000000 +0000"));
        assert!(is_epoch(b"\t1969-12-31 19:00:00 -0500"));
        assert!(!is_epoch(b"\t2024-01-01 00:00:00 +0000"));
        assert!(!is_epoch(b""));
    }

    #[test]
    fn unsafe_and_malformed_patches_are_refused() {
        assert!(parse(b"--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n").is_err());
        assert!(parse(b"--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n").is_err());
        assert!(parse(b"just text\n").is_err());
        assert!(parse(b"diff --git a/x b/x\nGIT binary patch\n").is_err());
        assert!(parse(b"diff --git a/l b/l\nnew file mode 120000\n").is_err());
    }

    #[test]
    fn quoted_names() {
        assert_eq!(
            unquote(br#""a/tab\there\303\251" rest"#),
            Some(("a/tab\there\u{e9}".to_string(), 21))
        );
        assert_eq!(
            git_header_names(b"a/x y.c b/x y.c"),
            Some(("a/x y.c".to_string(), "b/x y.c".to_string()))
        );
    }
}
