//! A patch series — quilt's `series` file and the patches beside it — and
//! its application to a CPython source tree, all or nothing.
//!
//! Design: every file the series names is read into memory first; the whole
//! series is applied there (see [`crate::patch`]); only if every patch
//! applies are the results written back, each to a temporary name beside its
//! file and then renamed over it. So on any failure the tree is untouched.
//! Whether a tree is pristine, patched, or partly patched is decided by
//! trying the series forward and in reverse, so trees patched by quilt or by
//! hand are recognised too; the stamp file we leave only adds a record of
//! which patch revisions were applied.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::dep3::{self, Dep3, Dep3Error};
use crate::patch::{self, Diff, FileData, FileFailure, Overlay, ParseError};
use crate::patchlevel::{self, PatchlevelError};

/// The file, at the top of a patched tree, that records which patches (by
/// name and SHA-256) were applied.
pub const STAMP: &str = ".cpython-dtrace-patches";

/// A loaded, validated series.
#[derive(Debug)]
pub struct Series {
    pub dir: PathBuf,
    /// The `X.Y` the series is for, when its directory is named so.
    pub minor: Option<String>,
    pub patches: Vec<SeriesPatch>,
}

#[derive(Debug)]
pub struct SeriesPatch {
    /// The name as the `series` file gives it (relative to the directory).
    pub name: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub dep3: Dep3,
    pub diff: Diff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Apply,
    Reverse,
}

/// What [`Series::run`] did, or with `dry_run` would do.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The series was applied or reversed; `files` are the paths changed.
    Changed {
        direction: Direction,
        patches: usize,
        files: Vec<String>,
        dry_run: bool,
    },
    /// Applying: the tree already has the whole series; nothing done.
    AlreadyApplied { patches: usize },
    /// Reversing: the tree has none of the series; nothing done.
    NotApplied { patches: usize },
}

/// A patch that does not apply (or reverse), and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 1-based position in the series.
    pub number: usize,
    pub total: usize,
    pub patch: String,
    pub file: String,
    pub why: FileFailure,
    pub direction: Direction,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.direction {
            Direction::Apply => "apply",
            Direction::Reverse => "reverse",
        };
        write!(
            f,
            "patch {}/{} {} does not {verb}: {}: {}",
            self.number, self.total, self.patch, self.file, self.why
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("{path}: cannot read ({source})")]
    Read { path: String, source: io::Error },
    #[error(
        "{path}: not found; pass --series-dir with the directory that holds the `series` file"
    )]
    NoSeries { path: String },
    #[error("{path}:{line}: {message}")]
    SeriesLine {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: lists no patches; add the patch file names, one a line")]
    Empty { path: String },
    #[error("{path}: {error}")]
    Dep3 { path: String, error: Dep3Error },
    #[error("{path}: {error}; fix the patch file")]
    Parse { path: String, error: ParseError },
    #[error("--python {given}: give a full release such as 3.13.5")]
    BadPython { given: String },
    #[error("--python {python} does not match the series in {dir}, which is for {minor}; pick the series for {python} with --series-dir")]
    SeriesForOtherMinor {
        python: String,
        dir: String,
        minor: String,
    },
    /// The tree's version could not be read (the message says why).
    #[error("{0}")]
    Tree(String),
    #[error("{tree} holds CPython {found}, not {wanted}; {fix}")]
    WrongVersion {
        tree: String,
        found: String,
        wanted: String,
        fix: String,
    },
    #[error("{tree}: not a directory; point --source at an unpacked CPython source tree")]
    NoTree { tree: String },
    #[error("{path}: {message}; the series only changes regular files inside the tree")]
    Unsafe { path: String, message: &'static str },
    #[error("{failure}; nothing was changed — refresh the patch for this release, or start from a pristine tree")]
    DoesNotApply { failure: Box<Failure> },
    #[error("{tree} is partly patched: {applied} of {total} patches are in it ({names}); nothing was changed — start again from a pristine tree")]
    Partial {
        tree: String,
        applied: usize,
        total: usize,
        names: String,
    },
    #[error("{tree} is marked as patched ({STAMP}) but was changed since: {failure}; nothing was changed — start again from a pristine tree")]
    Modified { tree: String, failure: Box<Failure> },
    #[error("{tree} was patched with another revision of the series ({STAMP} records {detail}); reverse it with that series, or start again from a pristine tree")]
    OtherRevision { tree: String, detail: String },
    #[error("{path}: cannot write ({source}); {state}")]
    Write {
        path: String,
        source: io::Error,
        state: &'static str,
    },
}

impl Series {
    /// Reads `dir/series` and every patch it lists, checking each patch's
    /// DEP-3 header and diff.
    pub fn load(dir: &Path) -> Result<Series, SeriesError> {
        let series_path = dir.join("series");
        let text = match fs::read_to_string(&series_path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SeriesError::NoSeries {
                    path: series_path.display().to_string(),
                })
            }
            Err(source) => return Err(read_error(&series_path, source)),
        };
        let names = parse_series(&text, &series_path)?;
        let patches = names
            .into_iter()
            .map(|name| load_patch(dir, name))
            .collect::<Result<Vec<_>, _>>()?;
        let minor = dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| is_minor(n))
            .map(String::from);
        Ok(Series {
            dir: dir.to_path_buf(),
            minor,
            patches,
        })
    }

    /// Checks that `tree` holds release `python` (a full `X.Y.Z`) and that
    /// the series is for its `X.Y`; returns the tree's version. With
    /// `allow_other_micro`, any `X.Y.*` tree is accepted (packagers patch
    /// later micro releases; the hunks must still apply exactly).
    pub fn check_tree_version(
        &self,
        tree: &Path,
        python: &str,
        allow_other_micro: bool,
    ) -> Result<String, SeriesError> {
        let wanted_minor = release_minor(python).ok_or_else(|| SeriesError::BadPython {
            given: python.to_string(),
        })?;
        if let Some(minor) = self.minor.as_deref().filter(|m| *m != wanted_minor) {
            return Err(SeriesError::SeriesForOtherMinor {
                python: python.to_string(),
                dir: self.dir.display().to_string(),
                minor: minor.to_string(),
            });
        }
        // Kept as text: the cause is already in the message, once.
        let found = patchlevel::tree_version(tree)
            .map_err(|e: PatchlevelError| SeriesError::Tree(e.to_string()))?;
        let found_minor = release_minor(found.trim_end_matches('+'));
        if found == python || (allow_other_micro && found_minor == Some(wanted_minor)) {
            return Ok(found);
        }
        let fix = if found_minor == Some(wanted_minor) {
            format!("point --source at a {python} tree, or pass --allow-other-micro to patch this {wanted_minor}.x release")
        } else {
            format!("point --source at a {python} tree")
        };
        Err(SeriesError::WrongVersion {
            tree: tree.display().to_string(),
            found,
            wanted: python.to_string(),
            fix,
        })
    }

    /// Applies or reverses the whole series on `tree`, all or nothing. A
    /// tree that already has (or, reversing, lacks) the whole series is left
    /// alone and reported as such; with `dry_run` nothing is written.
    pub fn run(
        &self,
        tree: &Path,
        direction: Direction,
        dry_run: bool,
    ) -> Result<Outcome, SeriesError> {
        if !tree.is_dir() {
            return Err(SeriesError::NoTree {
                tree: tree.display().to_string(),
            });
        }
        let base = self.snapshot(tree)?;
        let tree_name = tree.display().to_string();
        let stamped = match base.get(STAMP) {
            None => false,
            Some(stamp) => {
                self.check_stamp(&stamp.bytes)
                    .map_err(|detail| SeriesError::OtherRevision {
                        tree: tree_name.clone(),
                        detail,
                    })?;
                true
            }
        };
        let patches = self.patches.len();
        let all = 0..patches;
        let done = match direction {
            Direction::Apply => Outcome::AlreadyApplied { patches },
            Direction::Reverse => Outcome::NotApplied { patches },
        };
        if stamped {
            // The stamp says the series is in: it must reverse cleanly.
            return match self.attempt(&base, Direction::Reverse, all) {
                Ok(files) if direction == Direction::Reverse => {
                    self.finish(tree, &base, &files, direction, dry_run, true)
                }
                Ok(_) => Ok(done),
                Err(failure) => Err(SeriesError::Modified {
                    tree: tree_name,
                    failure: Box::new(failure),
                }),
            };
        }
        let failure = match self.attempt(&base, direction, all.clone()) {
            Ok(files) => return self.finish(tree, &base, &files, direction, dry_run, false),
            Err(failure) => failure,
        };
        // Not the state we start from; maybe already the one we want.
        let other = match direction {
            Direction::Apply => Direction::Reverse,
            Direction::Reverse => Direction::Apply,
        };
        if self.attempt(&base, other, all).is_ok() {
            return Ok(done);
        }
        if let Some(applied) = self.partly_applied(&base) {
            let names: Vec<&str> = self.patches[..applied]
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            return Err(SeriesError::Partial {
                tree: tree_name,
                applied,
                total: patches,
                names: names.join(", "),
            });
        }
        Err(SeriesError::DoesNotApply {
            failure: Box::new(failure),
        })
    }

    /// Writes the result (unless `dry_run`), adding or removing the stamp.
    fn finish(
        &self,
        tree: &Path,
        base: &BTreeMap<String, FileData>,
        files: &Overlay<'_>,
        direction: Direction,
        dry_run: bool,
        stamped: bool,
    ) -> Result<Outcome, SeriesError> {
        let mut changes = files.changes();
        let changed = changes
            .iter()
            .map(|(p, _)| p.clone())
            .filter(|p| p != STAMP)
            .collect();
        if !dry_run {
            match direction {
                Direction::Apply => changes.push((STAMP.to_string(), Some(self.stamp()))),
                Direction::Reverse if stamped => changes.push((STAMP.to_string(), None)),
                Direction::Reverse => {}
            }
            commit(tree, base, &changes)?;
        }
        Ok(Outcome::Changed {
            direction,
            patches: self.patches.len(),
            files: changed,
            dry_run,
        })
    }

    /// Applies patches `range` (in reverse order when reversing) to an
    /// overlay of `base`.
    fn attempt<'a>(
        &self,
        base: &'a BTreeMap<String, FileData>,
        direction: Direction,
        range: std::ops::Range<usize>,
    ) -> Result<Overlay<'a>, Failure> {
        let mut files = Overlay::new(base);
        let order: Vec<usize> = match direction {
            Direction::Apply => range.collect(),
            Direction::Reverse => range.rev().collect(),
        };
        for i in order {
            let patch = &self.patches[i];
            let result = match direction {
                Direction::Apply => patch
                    .diff
                    .files
                    .iter()
                    .try_for_each(|f| f.apply(&mut files)),
                Direction::Reverse => patch
                    .diff
                    .files
                    .iter()
                    .rev()
                    .try_for_each(|f| f.reversed().apply(&mut files)),
            };
            result.map_err(|(file, why)| Failure {
                number: i + 1,
                total: self.patches.len(),
                patch: patch.name.clone(),
                file,
                why,
                direction,
            })?;
        }
        Ok(files)
    }

    /// `Some(k)` when the tree has exactly the first `k` patches (0 < k < n).
    fn partly_applied(&self, base: &BTreeMap<String, FileData>) -> Option<usize> {
        let n = self.patches.len();
        (1..n).rev().find(|&k| {
            self.attempt(base, Direction::Reverse, 0..k).is_ok()
                && self.attempt(base, Direction::Apply, k..n).is_ok()
        })
    }

    /// The current contents of every file the series names (and the
    /// stamp), refusing symlinks and anything else that is not a plain file.
    fn snapshot(&self, tree: &Path) -> Result<BTreeMap<String, FileData>, SeriesError> {
        let mut base = BTreeMap::new();
        let paths = self
            .patches
            .iter()
            .flat_map(|p| &p.diff.files)
            .flat_map(|f| f.paths());
        for path in paths.chain([STAMP]) {
            if !base.contains_key(path) {
                if let Some(data) = read_tree_file(tree, path)? {
                    base.insert(path.to_string(), data);
                }
            }
        }
        Ok(base)
    }

    /// The stamp recording this series: one `SHA-256  name` line a patch.
    fn stamp(&self) -> FileData {
        let mut text = String::from(
            "# Patches applied to this tree by `cargo xtask patch` (cpython-dtrace), in order.\n\
             # `cargo xtask patch --reverse` removes them and this file.\n",
        );
        for p in &self.patches {
            text.push_str(&format!("{}  {}\n", p.sha256, p.name));
        }
        FileData {
            bytes: text.into_bytes(),
            mode: patch::DEFAULT_MODE,
        }
    }

    /// Whether a stamp records exactly this series; if not, which patch
    /// differs.
    fn check_stamp(&self, stamp: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(stamp);
        let recorded: Vec<(&str, &str)> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_once("  ").unwrap_or((l, "")))
            .collect();
        for (i, p) in self.patches.iter().enumerate() {
            match recorded.get(i) {
                Some(&(sha, name)) if sha == p.sha256 && name == p.name => {}
                Some(&(_, name)) if name == p.name => return Err(format!("another {name}")),
                Some(&(_, name)) => return Err(format!("{name} where the series has {}", p.name)),
                None => return Err(format!("no {}", p.name)),
            }
        }
        match recorded.get(self.patches.len()) {
            Some((_, name)) => Err(format!("{name}, which the series lacks")),
            None => Ok(()),
        }
    }
}

fn read_error(path: &Path, source: io::Error) -> SeriesError {
    SeriesError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// The patch names in a quilt `series` file: one a line, `#` starts a
/// comment; quilt's per-patch options other than `-p1` are refused.
fn parse_series(text: &str, path: &Path) -> Result<Vec<String>, SeriesError> {
    let mut names: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = match raw.find(" #").or_else(|| raw.find("\t#")) {
            _ if raw.trim_start().starts_with('#') => "",
            Some(at) => &raw[..at],
            None => raw,
        };
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else { continue };
        let err = |message: String| SeriesError::SeriesLine {
            path: path.display().to_string(),
            line: i + 1,
            message,
        };
        if let Some(option) = words.find(|w| *w != "-p1") {
            return Err(err(format!(
                "option `{option}` is not supported; patches must apply with -p1"
            )));
        }
        let clean = patch::clean_path(name).map_err(err)?;
        if names.contains(&clean) {
            return Err(err(format!("{clean} is listed twice")));
        }
        names.push(clean);
    }
    if names.is_empty() {
        return Err(SeriesError::Empty {
            path: path.display().to_string(),
        });
    }
    Ok(names)
}

fn load_patch(dir: &Path, name: String) -> Result<SeriesPatch, SeriesError> {
    let path = dir.join(&name);
    let bytes = fs::read(&path).map_err(|e| read_error(&path, e))?;
    let shown = path.display().to_string();
    let dep3 = dep3::parse(&bytes).map_err(|error| SeriesError::Dep3 {
        path: shown.clone(),
        error,
    })?;
    let diff = patch::parse(&bytes).map_err(|error| SeriesError::Parse { path: shown, error })?;
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(SeriesPatch {
        name,
        bytes,
        sha256,
        dep3,
        diff,
    })
}

fn is_minor(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// The `X.Y` of a full release `X.Y.Z`, which may carry a pre-release
/// suffix (`3.14.0rc1`, `3.14.0a7`).
pub fn release_minor(version: &str) -> Option<&str> {
    let (minor, micro) = version.rsplit_once('.')?;
    let digits = micro.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = &micro[digits..];
    let pre = ["a", "b", "rc"].iter().any(|p| {
        suffix
            .strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    (is_minor(minor) && digits > 0 && (suffix.is_empty() || pre)).then_some(minor)
}

/// A file of the tree as it is now: `None` when absent; refuses symlinks
/// (on the way or at the end), directories and other non-files.
fn read_tree_file(tree: &Path, rel: &str) -> Result<Option<FileData>, SeriesError> {
    let mut path = tree.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_error(&path, e)),
        };
        let last = i + 1 == parts.len();
        let unsafe_ = |message| {
            Err(SeriesError::Unsafe {
                path: path.display().to_string(),
                message,
            })
        };
        if meta.file_type().is_symlink() {
            return unsafe_("is a symbolic link");
        }
        if !last && !meta.is_dir() {
            return unsafe_("is not a directory");
        }
        if last && !meta.is_file() {
            return unsafe_("is not a regular file");
        }
        if last {
            let bytes = fs::read(&path).map_err(|e| read_error(&path, e))?;
            let mode = meta.permissions().mode() & 0o7777;
            return Ok(Some(FileData { bytes, mode }));
        }
    }
    Ok(None)
}

/// Writes `changes` into `tree`: every new content first goes to a
/// temporary file beside its target; only when all are written are they
/// renamed into place and deleted files removed. A failure while writing
/// leaves the tree as it was; one while renaming is rolled back from `base`.
fn commit(
    tree: &Path,
    base: &BTreeMap<String, FileData>,
    changes: &[(String, Option<FileData>)],
) -> Result<(), SeriesError> {
    let mut staged = Staged::default();
    for (rel, data) in changes {
        let Some(data) = data else { continue };
        let target = tree.join(rel);
        if let Err((path, source)) = staged.stage(tree, &target, data) {
            staged.discard();
            return Err(SeriesError::Write {
                path,
                source,
                state: "nothing was changed",
            });
        }
    }
    let mut done: Vec<&str> = Vec::new();
    let removals = changes
        .iter()
        .filter(|(_, d)| d.is_none())
        .map(|(rel, _)| (rel, None));
    let renames = staged.temps.iter().map(|(tmp, rel)| (rel, Some(tmp)));
    for (rel, tmp) in renames.collect::<Vec<_>>().into_iter().chain(removals) {
        let target = tree.join(rel);
        let result = match tmp {
            Some(tmp) => fs::rename(tmp, &target),
            None => fs::remove_file(&target),
        };
        if let Err(source) = result {
            let restored = restore(tree, base, &done);
            staged.discard();
            let state = if restored {
                "nothing was changed (the files already written were put back)"
            } else {
                "the tree may be half-patched: start again from a pristine tree"
            };
            return Err(SeriesError::Write {
                path: target.display().to_string(),
                source,
                state,
            });
        }
        done.push(rel);
    }
    for (rel, data) in changes {
        if data.is_none() {
            prune_empty_dirs(tree, rel);
        }
    }
    Ok(())
}

/// Temporary files written so far and directories created for them.
#[derive(Default)]
struct Staged {
    temps: Vec<(PathBuf, String)>,
    dirs: Vec<PathBuf>,
}

impl Staged {
    fn stage(
        &mut self,
        tree: &Path,
        target: &Path,
        data: &FileData,
    ) -> Result<(), (String, io::Error)> {
        let parent = target.parent().unwrap_or(tree);
        // Create missing directories one by one, so they can be removed again.
        let mut missing: Vec<&Path> = parent.ancestors().take_while(|d| !d.exists()).collect();
        missing.reverse();
        for dir in missing {
            fs::create_dir(dir).map_err(|e| (dir.display().to_string(), e))?;
            self.dirs.push(dir.to_path_buf());
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let tmp = parent.join(format!(".{name}.cpython-dtrace-tmp"));
        let rel = target
            .strip_prefix(tree)
            .unwrap_or(target)
            .to_string_lossy()
            .into_owned();
        write_file(&tmp, data).map_err(|e| (tmp.display().to_string(), e))?;
        self.temps.push((tmp, rel));
        Ok(())
    }

    fn discard(&mut self) {
        for (tmp, _) in self.temps.drain(..) {
            let _ = fs::remove_file(tmp);
        }
        for dir in self.dirs.drain(..).rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn write_file(path: &Path, data: &FileData) -> io::Result<()> {
    fs::write(path, &data.bytes)?;
    fs::set_permissions(path, fs::Permissions::from_mode(data.mode))
}

/// Puts the files in `done` back as `base` has them; true if all went back.
fn restore(tree: &Path, base: &BTreeMap<String, FileData>, done: &[&str]) -> bool {
    done.iter().all(|rel| {
        let target = tree.join(rel);
        match base.get(*rel) {
            Some(data) => write_file(&target, data).is_ok(),
            None => fs::remove_file(&target).is_ok(),
        }
    })
}

/// Removes the directories a deleted file leaves empty (not the tree).
fn prune_empty_dirs(tree: &Path, rel: &str) {
    let target = tree.join(rel);
    for dir in target.ancestors().skip(1) {
        if dir == tree || !dir.starts_with(tree) || fs::remove_dir(dir).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_versions() {
        assert_eq!(release_minor("3.13.5"), Some("3.13"));
        assert_eq!(release_minor("3.14.0rc1"), Some("3.14"));
        assert_eq!(release_minor("3.14.0a7"), Some("3.14"));
        for bad in [
            "3.13", "3.13.", "3.13.x", "3.13.5+", "3.13.5rc", "v3.13.5", "3.13.5.1",
        ] {
            assert_eq!(release_minor(bad), None, "{bad}");
        }
    }

    #[test]
    fn series_file_syntax() {
        let path = Path::new("series");
        let text = "# comment\n0001-a.patch\n\n0002-b.patch -p1  # why\nsub/0003-c.patch\n";
        assert_eq!(
            parse_series(text, path).unwrap(),
            ["0001-a.patch", "0002-b.patch", "sub/0003-c.patch"]
        );
        assert!(parse_series("a.patch -p0\n", path).is_err());
        assert!(parse_series("a.patch\na.patch\n", path).is_err());
        assert!(parse_series("../a.patch\n", path).is_err());
        assert!(matches!(
            parse_series("# nothing\n", path),
            Err(SeriesError::Empty { .. })
        ));
    }
}
