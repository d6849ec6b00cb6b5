//! Safe, all-or-nothing unpacking of a release tarball.
//!
//! Entries are checked one by one before anything is written: no absolute
//! paths, no `..`, nothing outside the single `Python-X.Y.Z/` directory, no
//! device nodes, no writing through a symlink, and no link whose target
//! resolves outside the tree. Everything goes into a temporary directory
//! beside the destination, which is renamed into place only once the whole
//! tree is there and `Include/patchlevel.h` names the expected release. So
//! the final path either holds a complete tree or does not exist; what an
//! interrupted run leaves behind is a temporary directory that the next run
//! removes.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use tar::EntryType;

use crate::patchlevel::tree_version;

/// More symlink hops than this while resolving a target means a loop.
const MAX_SYMLINK_HOPS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("refusing to unpack {tarball}: entry `{entry}` {reason}; this is not a clean CPython release tarball, fetch it again from a trusted source")]
    Unsafe {
        tarball: PathBuf,
        entry: String,
        reason: String,
    },
    #[error("{tarball}: cannot unpack ({detail}); the file is damaged or not a .tar.gz/.tar.xz, delete it and fetch again")]
    Format { tarball: PathBuf, detail: String },
    #[error(
        "{tarball} unpacked to a tree that is not CPython {wanted} ({detail}); check the tarball"
    )]
    WrongTree {
        tarball: PathBuf,
        wanted: String,
        detail: String,
    },
    #[error("{path} exists but is not a complete CPython {wanted} tree ({detail}); remove it or choose another --dest")]
    Occupied {
        path: PathBuf,
        wanted: String,
        detail: String,
    },
    #[error("cannot {action} {path} ({source}); check permissions and free space")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// Where a tree ended up and whether it was already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub tree: PathBuf,
    /// True when a matching tree was already at the destination.
    pub reused: bool,
}

/// Unpacks `tarball` (whose entries all live under `top`, e.g.
/// `Python-3.13.5/`) to `dest_dir/top`, or reuses a tree already there
/// whose `patchlevel.h` says `version`.
pub fn extract(
    tarball: &Path,
    top: &str,
    version: &str,
    dest_dir: &Path,
) -> Result<Extracted, ExtractError> {
    let tree = dest_dir.join(top);
    if fs::symlink_metadata(&tree).is_ok() {
        return match tree_version(&tree) {
            Ok(found) if found == version => Ok(Extracted { tree, reused: true }),
            Ok(found) => Err(ExtractError::Occupied {
                path: tree,
                wanted: version.to_string(),
                detail: format!("it holds {found}"),
            }),
            Err(e) => Err(ExtractError::Occupied {
                path: tree,
                wanted: version.to_string(),
                detail: e.to_string(),
            }),
        };
    }
    fs::create_dir_all(dest_dir).map_err(io_err("create", dest_dir))?;
    remove_stale_temps(dest_dir, top);

    let temp = dest_dir.join(format!("{}{}", temp_prefix(top), std::process::id()));
    if fs::symlink_metadata(&temp).is_ok() {
        fs::remove_dir_all(&temp).map_err(io_err("remove", &temp))?;
    }
    fs::create_dir(&temp).map_err(io_err("create", &temp))?;
    let result = unpack(tarball, top, &temp).and_then(|()| {
        match tree_version(&temp) {
            Ok(found) if found == version => Ok(()),
            Ok(found) => Err(format!("its patchlevel.h says {found}")),
            Err(e) => Err(e.to_string()),
        }
        .map_err(|detail| ExtractError::WrongTree {
            tarball: tarball.to_path_buf(),
            wanted: version.to_string(),
            detail,
        })
    });
    if let Err(e) = result {
        // Best effort: a leftover is removed by the next run anyway.
        let _ = fs::remove_dir_all(&temp);
        return Err(e);
    }
    if let Err(source) = fs::rename(&temp, &tree) {
        let _ = fs::remove_dir_all(&temp);
        return Err(ExtractError::Io {
            action: "move the unpacked tree to",
            path: tree,
            source,
        });
    }
    Ok(Extracted {
        tree,
        reused: false,
    })
}

/// The name prefix of the temporary directory for `top`; the owning
/// process id follows it.
pub fn temp_prefix(top: &str) -> String {
    format!(".{top}.partial-")
}

/// Removes temporary directories of earlier runs that died half-way. One
/// whose process is still alive (a parallel run) is left alone.
fn remove_stale_temps(dest_dir: &Path, top: &str) {
    let prefix = temp_prefix(top);
    let Ok(entries) = fs::read_dir(dest_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        if pid != std::process::id().to_string() && process_alive(pid) {
            continue;
        }
        let _ = fs::remove_dir_all(entry.path());
    }
}

/// Whether a process with this id runs; where that cannot be told (no
/// /proc), the directory counts as stale. A killed process can linger as a
/// zombie for a moment; that is dead too.
pub(crate) fn process_alive(pid: &str) -> bool {
    let proc_root = Path::new("/proc");
    if !proc_root.join("self").exists() {
        return false;
    }
    match fs::read_to_string(proc_root.join(pid).join("stat")) {
        // The state letter follows the command name, which is in
        // parentheses and may itself contain spaces or parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Opens a tarball with the decompressor its magic bytes call for.
fn open_decompressed(tarball: &Path) -> Result<Box<dyn Read>, ExtractError> {
    let mut file = File::open(tarball).map_err(io_err("open", tarball))?;
    let mut magic = [0u8; 6];
    let n = read_up_to(&mut file, &mut magic).map_err(io_err("read", tarball))?;
    let file = File::open(tarball).map_err(io_err("open", tarball))?;
    let reader = io::BufReader::new(file);
    match &magic[..n] {
        [0x1f, 0x8b, ..] => Ok(Box::new(flate2::read::MultiGzDecoder::new(reader))),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => Ok(Box::new(
            liblzma::read::XzDecoder::new_multi_decoder(reader),
        )),
        _ => Err(ExtractError::Format {
            tarball: tarball.to_path_buf(),
            detail: "neither gzip nor xz data".to_string(),
        }),
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Unpacks every entry under `top/` into `root`, checking each first.
fn unpack(tarball: &Path, top: &str, root: &Path) -> Result<(), ExtractError> {
    let format_err = |e: io::Error| ExtractError::Format {
        tarball: tarball.to_path_buf(),
        detail: e.to_string(),
    };
    let mut archive = tar::Archive::new(open_decompressed(tarball)?);
    let mut symlinks = Vec::new();
    for entry in archive.entries().map_err(format_err)? {
        let mut entry = entry.map_err(format_err)?;
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            continue; // pax metadata for the whole archive, not a file
        }
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let refuse = |reason: &str| ExtractError::Unsafe {
            tarball: tarball.to_path_buf(),
            entry: raw_name.clone(),
            reason: reason.to_string(),
        };
        let path = entry.path().map_err(format_err)?.into_owned();
        let rel = inside_top(&path, top).map_err(|r| refuse(&r))?;
        let Some(rel) = rel else {
            continue; // the top directory itself
        };
        let target = root.join(&rel);
        match kind {
            EntryType::Directory => {
                make_dirs(root, &rel).map_err(|r| refuse(&r))?;
            }
            EntryType::Regular | EntryType::Continuous => {
                prepare_leaf(root, &rel).map_err(|r| refuse(&r))?;
                let header = entry.header();
                let mode = header.mode().unwrap_or(0o644);
                let mtime = header.mtime().ok();
                write_file(&mut entry, &target, mode, mtime).map_err(|e| match e {
                    WriteError::Read(e) => format_err(e),
                    WriteError::Write(e) => ExtractError::Io {
                        action: "write",
                        path: target.clone(),
                        source: e,
                    },
                })?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(format_err)?
                    .ok_or_else(|| refuse("is a symlink without a target"))?
                    .into_owned();
                check_symlink_lexically(&rel, &link).map_err(|r| refuse(&r))?;
                prepare_leaf(root, &rel).map_err(|r| refuse(&r))?;
                make_symlink(&link, &target).map_err(io_err("create symlink", &target))?;
                symlinks.push((raw_name.clone(), rel));
            }
            EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(format_err)?
                    .ok_or_else(|| refuse("is a hard link without a target"))?
                    .into_owned();
                let source_rel = inside_top(&link, top)
                    .map_err(|r| refuse(&format!("is a hard link to {}: {r}", link.display())))?
                    .ok_or_else(|| refuse("is a hard link to the top directory"))?;
                check_no_symlink_on_the_way(root, &source_rel)
                    .and_then(|()| match fs::symlink_metadata(root.join(&source_rel)) {
                        Ok(m) if m.file_type().is_file() => Ok(()),
                        _ => Err(format!(
                            "is a hard link to {}, which is not a regular file unpacked before it",
                            link.display()
                        )),
                    })
                    .map_err(|r| refuse(&r))?;
                prepare_leaf(root, &rel).map_err(|r| refuse(&r))?;
                fs::hard_link(root.join(&source_rel), &target)
                    .map_err(io_err("create hard link", &target))?;
            }
            EntryType::Char | EntryType::Block => return Err(refuse("is a device node")),
            EntryType::Fifo => return Err(refuse("is a FIFO")),
            other => return Err(refuse(&format!("has an unsupported type ({other:?})"))),
        }
    }
    // A symlink that looked harmless when it was made can point outside
    // through links unpacked after it; check them all against the final tree.
    for (name, rel) in symlinks {
        if resolve_inside(root, &rel).is_none() {
            return Err(ExtractError::Unsafe {
                tarball: tarball.to_path_buf(),
                entry: name,
                reason: "is a symlink that resolves outside the tree".to_string(),
            });
        }
    }
    Ok(())
}

/// The path of an entry relative to `top/`, `None` for `top` itself, or
/// the reason it is refused.
fn inside_top(path: &Path, top: &str) -> Result<Option<PathBuf>, String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err("has an absolute path".to_string())
            }
            Component::ParentDir => return Err("has a `..` component".to_string()),
            Component::CurDir => {}
            Component::Normal(part) => parts.push(part),
        }
    }
    let mut parts = parts.into_iter();
    match parts.next() {
        Some(first) if first == top => {}
        _ => return Err(format!("is outside the top-level directory {top}/")),
    }
    let rel: PathBuf = parts.collect();
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

/// Creates `rel` and its parents under `root` as real directories; an
/// existing symlink or file on the way is refused, so nothing is ever
/// created through a link.
fn make_dirs(root: &Path, rel: &Path) -> Result<(), String> {
    let mut path = root.to_path_buf();
    for part in rel.components() {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "would be written through the symlink {}",
                    path.strip_prefix(root).unwrap_or(&path).display()
                ))
            }
            Ok(_) => {
                return Err(format!(
                    "needs {} to be a directory, but it is a file",
                    path.strip_prefix(root).unwrap_or(&path).display()
                ))
            }
            Err(_) => fs::create_dir(&path).map_err(|e| format!("cannot be created ({e})"))?,
        }
    }
    Ok(())
}

/// Makes the parents of a file-like entry and clears the way for it: an
/// earlier file or symlink of the same name is replaced, a directory is not.
fn prepare_leaf(root: &Path, rel: &Path) -> Result<(), String> {
    if let Some(parent) = rel.parent() {
        make_dirs(root, parent)?;
    }
    let path = root.join(rel);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_dir() => Err("would replace a directory".to_string()),
        // remove_file on a symlink removes the link, never its target.
        Ok(_) => fs::remove_file(&path).map_err(|e| format!("cannot replace it ({e})")),
        Err(_) => Ok(()),
    }
}

/// Checks that every directory on the way to `rel` is a real directory.
fn check_no_symlink_on_the_way(root: &Path, rel: &Path) -> Result<(), String> {
    let mut path = root.to_path_buf();
    if let Some(parent) = rel.parent() {
        for part in parent.components() {
            path.push(part);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_dir() => {}
                _ => return Err(format!("goes through {}, not a directory", path.display())),
            }
        }
    }
    Ok(())
}

/// The first check of a symlink: absolute targets, and relative ones that
/// climb above the tree as written, are refused outright.
fn check_symlink_lexically(rel: &Path, link: &Path) -> Result<(), String> {
    let mut depth = rel.components().count().saturating_sub(1);
    for component in link.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(format!(
                    "is a symlink to the absolute path {}",
                    link.display()
                ))
            }
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    format!("is a symlink to {}, outside the tree", link.display())
                })?;
            }
            Component::Normal(_) => depth += 1,
        }
    }
    Ok(())
}

/// Resolves the symlink at `rel` within `root`, following symlinks on the
/// way as the kernel would; `None` when it leaves the tree or loops.
/// Components that do not exist are taken as plain names.
fn resolve_inside(root: &Path, rel: &Path) -> Option<Vec<OsString>> {
    let mut current: Vec<OsString> = Vec::new();
    let mut pending: VecDeque<OsString> = rel
        .components()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match Path::new(&part).components().next() {
            Some(Component::RootDir | Component::Prefix(_)) => return None,
            Some(Component::ParentDir) => {
                current.pop()?;
                continue;
            }
            Some(Component::Normal(_)) => {}
            _ => continue,
        }
        current.push(part);
        let here: PathBuf = root.join(current.iter().collect::<PathBuf>());
        let is_link = fs::symlink_metadata(&here)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if is_link {
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return None;
            }
            let target = fs::read_link(&here).ok()?;
            current.pop();
            for c in target.components().rev() {
                pending.push_front(c.as_os_str().to_os_string());
            }
        }
    }
    Some(current)
}

enum WriteError {
    Read(io::Error),
    Write(io::Error),
}

fn write_file(
    entry: &mut impl Read,
    path: &Path,
    mode: u32,
    mtime: Option<u64>,
) -> Result<(), WriteError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // No set-id bits; the owner may always write, since the tree is
        // patched after unpacking.
        options.mode((mode & 0o777) | 0o600);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(WriteError::Write)?;
    copy(entry, &mut file)?;
    // Keep upstream timestamps, or make would think generated files are
    // older than their sources and try to regenerate them.
    if let Some(secs) = mtime {
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        file.set_modified(when).map_err(WriteError::Write)?;
    }
    Ok(())
}

fn copy(from: &mut impl Read, to: &mut File) -> Result<(), WriteError> {
    use std::io::Write;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(WriteError::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(WriteError::Write)?;
    }
}

#[cfg(unix)]
fn make_symlink(link: &Path, at: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(link, at)
}

#[cfg(not(unix))]
fn make_symlink(_link: &Path, _at: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symlinks in release tarballs need a Unix host",
    ))
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl Fn(io::Error) -> ExtractError + 'a {
    move |source| ExtractError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_must_stay_under_the_top_directory() {
        let top = "Python-3.13.5";
        assert_eq!(
            inside_top(Path::new("Python-3.13.5/Include/x.h"), top).unwrap(),
            Some(PathBuf::from("Include/x.h"))
        );
        assert_eq!(
            inside_top(Path::new("./Python-3.13.5/"), top).unwrap(),
            None
        );
        assert!(inside_top(Path::new("/etc/passwd"), top)
            .unwrap_err()
            .contains("absolute"));
        assert!(inside_top(Path::new("Python-3.13.5/../x"), top)
            .unwrap_err()
            .contains(".."));
        assert!(inside_top(Path::new("Other/x"), top)
            .unwrap_err()
            .contains("outside"));
    }

    #[test]
    fn lexical_symlink_check_counts_depth() {
        assert!(check_symlink_lexically(Path::new("a/b/link"), Path::new("../c")).is_ok());
        assert!(check_symlink_lexically(Path::new("a/b/link"), Path::new("../../c")).is_ok());
        assert!(check_symlink_lexically(Path::new("a/b/link"), Path::new("../../../c")).is_err());
        assert!(check_symlink_lexically(Path::new("link"), Path::new("/etc")).is_err());
    }
}
