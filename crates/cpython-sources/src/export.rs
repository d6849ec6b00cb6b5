//! The series for packagers: as a quilt series (the patch files unchanged,
//! since they already carry DEP-3 headers, plus `series`), or as one
//! `git format-patch`-style mail a patch, which `git am` applies as commits.
//!
//! The output directory must be new, empty, or an earlier export: a marker
//! file lists what we wrote, and only those files are ever replaced or
//! removed, so user files in it survive.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::dep3::Dep3;
use crate::patch;
use crate::series::{Series, SeriesPatch};

/// Lists the files an export wrote, marking the directory as ours.
pub const MARKER: &str = ".cpython-dtrace-export";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `series` plus the patch files, for `quilt push -a` or debian/patches.
    Quilt,
    /// `NNNN-subject.patch` mails for `git am`.
    Git,
}

/// What was written.
#[derive(Debug)]
pub struct Exported {
    pub dir: PathBuf,
    /// Paths relative to `dir`, in series order (`series` last for quilt).
    pub files: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{dir}: not empty and not an earlier export (it has no {MARKER}); choose a new or empty directory")]
    NotOurs { dir: String },
    #[error("{path}: already exists and is not from an earlier export; move it away or choose another directory")]
    WouldOverwrite { path: String },
    #[error("{path}: not a directory; give -o a directory")]
    NotDir { path: String },
    #[error("{path}: cannot read ({source})")]
    Read { path: String, source: io::Error },
    #[error("{path}: cannot write ({source})")]
    Write { path: String, source: io::Error },
}

/// Writes `series` in `format` into `out`.
pub fn export(series: &Series, format: Format, out: &Path) -> Result<Exported, ExportError> {
    let files = match format {
        Format::Quilt => quilt_files(series),
        Format::Git => git_files(series),
    };
    let previous = previous_export(out)?;
    for (rel, _) in &files {
        let path = out.join(rel);
        if fs::symlink_metadata(&path).is_ok() && !previous.contains(rel) {
            return Err(ExportError::WouldOverwrite {
                path: path.display().to_string(),
            });
        }
    }
    let names: Vec<String> = files.iter().map(|(rel, _)| rel.clone()).collect();
    // Claim old and new names first, so an interrupted export is still ours.
    let mut claimed = previous.clone();
    claimed.extend(names.iter().filter(|n| !previous.contains(n)).cloned());
    write_marker(out, &claimed)?;
    for (rel, bytes) in &files {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
        }
        fs::write(&path, bytes).map_err(|e| write_error(&path, e))?;
    }
    for stale in previous.iter().filter(|p| !names.contains(p)) {
        let path = out.join(stale);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(write_error(&path, e)),
            _ => {}
        }
    }
    write_marker(out, &names)?;
    Ok(Exported {
        dir: out.to_path_buf(),
        files: names,
    })
}

fn write_error(path: &Path, source: io::Error) -> ExportError {
    ExportError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// The files an earlier export of ours wrote into `out` (creating `out` if
/// needed); refuses a directory with other content and no marker.
fn previous_export(out: &Path) -> Result<Vec<String>, ExportError> {
    let shown = || out.display().to_string();
    match fs::metadata(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(out).map_err(|e| write_error(out, e))?;
            return Ok(Vec::new());
        }
        Err(source) => {
            return Err(ExportError::Read {
                path: shown(),
                source,
            })
        }
        Ok(meta) if !meta.is_dir() => return Err(ExportError::NotDir { path: shown() }),
        Ok(_) => {}
    }
    let marker = out.join(MARKER);
    match fs::read_to_string(&marker) {
        // Only plain relative names: a hand-edited marker must not make us
        // touch files elsewhere.
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter(|l| patch::clean_path(l).is_ok_and(|c| c == *l))
            .map(String::from)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut entries = fs::read_dir(out).map_err(|source| ExportError::Read {
                path: shown(),
                source,
            })?;
            match entries.next() {
                None => Ok(Vec::new()),
                Some(_) => Err(ExportError::NotOurs { dir: shown() }),
            }
        }
        Err(source) => Err(ExportError::Read {
            path: marker.display().to_string(),
            source,
        }),
    }
}

fn write_marker(out: &Path, names: &[String]) -> Result<(), ExportError> {
    let mut text = String::from(
        "# Written by `cargo xtask export-patches`. A new export replaces or removes\n\
         # the files listed here, and nothing else in this directory.\n",
    );
    for name in names {
        text.push_str(name);
        text.push('\n');
    }
    let path = out.join(MARKER);
    fs::write(&path, text).map_err(|e| write_error(&path, e))
}

fn quilt_files(series: &Series) -> Vec<(String, Vec<u8>)> {
    let mut list = String::from("# Exported by `cargo xtask export-patches` (cpython-dtrace); apply with `quilt push -a`.\n");
    let mut files = Vec::new();
    for p in &series.patches {
        list.push_str(&p.name);
        list.push('\n');
        files.push((p.name.clone(), p.bytes.clone()));
    }
    files.push(("series".to_string(), list.into_bytes()));
    files
}

fn git_files(series: &Series) -> Vec<(String, Vec<u8>)> {
    let total = series.patches.len();
    series
        .patches
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                format!("{:04}-{}.patch", i + 1, slug(p.dep3.subject())),
                mail(p, i + 1, total),
            )
        })
        .collect()
}

/// One patch as `git format-patch` writes it: mail headers from the DEP-3
/// fields, the long description and the other fields as the message, then
/// the diff.
fn mail(p: &SeriesPatch, number: usize, total: usize) -> Vec<u8> {
    let h = &p.dep3;
    let prefix = if total == 1 {
        "[PATCH]".to_string()
    } else {
        format!("[PATCH {number}/{total}]")
    };
    let mut text = String::new();
    text.push_str("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n");
    text.push_str(&format!(
        "From: {} <{}>\n",
        mail_name(&h.author.name),
        h.author.email
    ));
    text.push_str(&format!("Date: {}\n", h.last_update.rfc2822()));
    text.push_str(&format!("Subject: {prefix} {}\n", encode_word(h.subject())));
    text.push_str("MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n");
    let body = h.body();
    if !body.is_empty() {
        for line in body.lines() {
            text.push_str(&guard_body_line(line));
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(&trailers(h));
    text.push_str("---\n");
    let mut bytes = text.into_bytes();
    let diff = &p.bytes[p.diff.start..];
    bytes.extend_from_slice(diff);
    if !diff.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(b"-- \ncpython-dtrace\n\n");
    bytes
}

/// The DEP-3 fields that the mail headers do not carry, as trailers.
fn trailers(h: &Dep3) -> String {
    let skip = ["Description", "Author", "Last-Update"];
    h.fields
        .iter()
        .filter(|(name, _)| !skip.iter().any(|s| s.eq_ignore_ascii_case(name)))
        .map(|(name, value)| {
            format!(
                "{name}: {}\n",
                value.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        })
        .collect()
}

/// `git am` ends the message at a line it takes for the start of a diff;
/// indent such lines so the whole description survives.
fn guard_body_line(line: &str) -> String {
    let breaks = line.starts_with("diff -")
        || line.starts_with("Index: ")
        || (line.starts_with("---") && (line[3..].trim().is_empty() || line[3..].starts_with(' ')));
    if breaks {
        format!(" {line}")
    } else {
        line.to_string()
    }
}

/// A display name as mail wants it: quoted when it has RFC 822 specials,
/// RFC 2047-encoded when it is not ASCII.
fn mail_name(name: &str) -> String {
    if !name.is_ascii() {
        return encode_word(name);
    }
    if name.contains([
        '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '.', '[', ']',
    ]) {
        return format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""));
    }
    name.to_string()
}

/// Non-ASCII text as one RFC 2047 `Q` encoded word; ASCII as it is.
fn encode_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::from("=?UTF-8?q?");
    for b in text.bytes() {
        match b {
            b' ' => out.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'*' | b'+' | b'-' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("={b:02X}")),
        }
    }
    out.push_str("?=");
    out
}

/// The file-name part `git format-patch` derives from a subject.
fn slug(subject: &str) -> String {
    let mut slug = String::new();
    let mut gap = false;
    for c in subject.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            if gap && !slug.is_empty() {
                slug.push('-');
            }
            gap = false;
            slug.push(c);
        } else {
            gap = true;
        }
    }
    slug.truncate(52);
    let slug = slug.trim_end_matches(['-', '.']).trim_start_matches('.');
    if slug.is_empty() {
        "patch".to_string()
    } else {
        slug.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_like_format_patch() {
        assert_eq!(
            slug("Add DTrace probes (USDT) to ceval.c"),
            "Add-DTrace-probes-USDT-to-ceval.c"
        );
        assert_eq!(slug("  ..."), "patch");
        assert_eq!(slug(&"x".repeat(80)).len(), 52);
    }

    #[test]
    fn mail_headers_are_encoded() {
        assert_eq!(mail_name("Jane Doe"), "Jane Doe");
        assert_eq!(mail_name("Doe, Jane"), "\"Doe, Jane\"");
        assert_eq!(mail_name("Łukasz"), "=?UTF-8?q?=C5=81ukasz?=");
        assert_eq!(encode_word("a é"), "=?UTF-8?q?a_=C3=A9?=");
    }

    #[test]
    fn body_lines_that_look_like_diffs_are_indented() {
        assert_eq!(guard_body_line("---"), " ---");
        assert_eq!(guard_body_line("--- a/x"), " --- a/x");
        assert_eq!(guard_body_line("diff -u"), " diff -u");
        assert_eq!(guard_body_line("----x"), "----x");
        assert_eq!(guard_body_line("plain"), "plain");
    }
}
