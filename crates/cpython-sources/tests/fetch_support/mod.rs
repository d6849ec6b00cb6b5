//! Helpers shared by the fetch and extract tests: scratch directories,
//! hand-built tarballs (with raw headers, so hostile names can be written),
//! and directory snapshots to prove that nothing changed.

#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use cpython_sources::fetch::sha256_file;
use cpython_sources::versions::{DebianSource, Release};
use tar::{EntryType, Header};

/// A fresh, empty directory under cargo's per-target scratch space. The
/// first call in a test binary clears what its previous run left there.
pub fn scratch(name: &str) -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = ROOT.get_or_init(|| {
        // This module is compiled into each test binary; the first segment
        // of its path is that binary's name.
        let binary = module_path!().split("::").next().unwrap_or("tests");
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("cpython-sources")
            .join(binary);
        if root.exists() {
            fs::remove_dir_all(&root).unwrap();
        }
        root
    });
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = root.join(format!("{name}-{n}"));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of an `Include/patchlevel.h` for `version`.
pub fn patchlevel(version: &str) -> String {
    format!("#define PY_VERSION_HEX 0x0\n#define PY_VERSION \"{version}\"\n")
}

/// One tar entry, written exactly as given.
pub struct Item {
    pub name: String,
    pub kind: EntryType,
    pub link: Option<String>,
    pub data: Vec<u8>,
}

impl Item {
    pub fn dir(name: &str) -> Item {
        Item::new(name, EntryType::Directory, None, b"")
    }
    pub fn file(name: &str, data: &[u8]) -> Item {
        Item::new(name, EntryType::Regular, None, data)
    }
    pub fn symlink(name: &str, target: &str) -> Item {
        Item::new(name, EntryType::Symlink, Some(target), b"")
    }
    pub fn hardlink(name: &str, target: &str) -> Item {
        Item::new(name, EntryType::Link, Some(target), b"")
    }
    pub fn new(name: &str, kind: EntryType, link: Option<&str>, data: &[u8]) -> Item {
        Item {
            name: name.to_string(),
            kind,
            link: link.map(str::to_string),
            data: data.to_vec(),
        }
    }
}

/// The entries of a minimal, well-formed release tree for `version`.
pub fn minimal_tree(version: &str) -> Vec<Item> {
    let top = format!("Python-{version}");
    vec![
        Item::dir(&format!("{top}/")),
        Item::dir(&format!("{top}/Include/")),
        Item::file(
            &format!("{top}/Include/patchlevel.h"),
            patchlevel(version).as_bytes(),
        ),
        Item::file(&format!("{top}/README.rst"), b"This is Python.\n"),
    ]
}

/// A gzip-compressed tar of `items`. Names go straight into the header
/// bytes: the tar crate's path setters refuse `..` and absolute paths,
/// which is exactly what these tests need to write.
pub fn tar_gz(items: &[Item]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for item in items {
        let mut header = Header::new_gnu();
        let name = item.name.as_bytes();
        assert!(name.len() < 100, "test names must fit the header");
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_entry_type(item.kind);
        header.set_mode(if item.kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_mtime(1_700_000_000);
        header.set_size(item.data.len() as u64);
        if let Some(link) = &item.link {
            header.set_link_name_literal(link.as_bytes()).unwrap();
        }
        header.set_cksum();
        builder.append(&header, item.data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

pub fn write(path: &Path, bytes: &[u8]) {
    let mut f = fs::File::create(path).unwrap();
    f.write_all(bytes).unwrap();
}

/// A release entry for a made-up version served from `url`.
pub fn release(version: &str, url: &str, sha256: &str) -> Release {
    Release {
        version: version.to_string(),
        url: url.to_string(),
        sha256: sha256.to_string(),
        debian: DebianSource {
            package: "python-test".to_string(),
            version: format!("{version}-1"),
        },
        series: PathBuf::from("patches/test"),
    }
}

/// The repository's own table.
pub fn table() -> cpython_sources::versions::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../versions.toml");
    cpython_sources::versions::Table::load(&path).unwrap()
}

/// Every path under `root` with its type and content hash (or link
/// target), to compare a directory before and after.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap().to_path_buf();
        let meta = fs::symlink_metadata(&path).unwrap();
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            meta.permissions().mode()
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&path).unwrap();
            out.insert(rel, format!("link {mode:o} {}", target.display()));
        } else if kind.is_dir() {
            out.insert(rel, format!("dir {mode:o}"));
            walk(root, &path, out);
        } else {
            let hash = sha256_file(&path).unwrap();
            out.insert(rel, format!("file {mode:o} {hash}"));
        }
    }
}

/// Names in `dir` (empty if it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
