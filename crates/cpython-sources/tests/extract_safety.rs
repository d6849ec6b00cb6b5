//! Unpacking refuses hostile tarballs without writing anything outside its
//! temporary directory, and is all-or-nothing.

#[path = "fetch_support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;

use cpython_sources::extract::{extract, temp_prefix, ExtractError};
use cpython_sources::fetch::{fetch, sha256_file, Error, FetchOptions, Source};
use support::{minimal_tree, names, scratch, tar_gz, write, Item};
use tar::EntryType;

const V: &str = "9.9.9";
const TOP: &str = "Python-9.9.9";

/// Unpacks `items` (after a valid minimal tree) into `base/dest` and
/// expects a refusal naming `entry`. Checks the destination and any
/// temporary directory are gone.
fn refused(base: &Path, mut items: Vec<Item>, entry: &str) -> String {
    let mut all = minimal_tree(V);
    all.append(&mut items);
    let tarball = base.join("evil.tar.gz");
    write(&tarball, &tar_gz(&all));
    let dest = base.join("dest");
    let err = extract(&tarball, TOP, V, &dest).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ExtractError::Unsafe { .. }), "{message}");
    assert!(message.contains(&format!("`{entry}`")), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(!dest.join(TOP).exists(), "destination must not exist");
    assert_eq!(
        names(&dest),
        Vec::<String>::new(),
        "no temporary directory left"
    );
    message
}

#[test]
fn refuses_a_parent_dir_component() {
    let base = scratch("dotdot");
    let name = format!("{TOP}/../../escape");
    let message = refused(&base, vec![Item::file(&name, b"pwned")], &name);
    assert!(message.contains(".."), "{message}");
    // Where a naive unpacker would have put it, relative to the temp dir,
    // the destination and the scratch base.
    for place in [
        base.join("escape"),
        base.join("dest/escape"),
        base.join("../escape"),
    ] {
        assert!(!place.exists(), "{} was written", place.display());
    }
}

#[test]
fn refuses_an_absolute_path() {
    let base = scratch("absolute");
    let target = std::env::temp_dir().join(format!("cpython-sources-abs-{}", std::process::id()));
    let _ = fs::remove_file(&target);
    let name = target.to_string_lossy().into_owned();
    let message = refused(&base, vec![Item::file(&name, b"pwned")], &name);
    assert!(message.contains("absolute"), "{message}");
    assert!(!target.exists(), "{} was written", target.display());
}

#[test]
fn refuses_a_symlink_out_and_the_file_through_it() {
    let base = scratch("symlink-out");
    let outside = base.join("outside");
    fs::create_dir(&outside).unwrap();
    let link = format!("{TOP}/Lib/link");
    let items = vec![
        Item::dir(&format!("{TOP}/Lib/")),
        // From <dest>/<temp>/Lib/link, three levels up is `base`.
        Item::symlink(&link, "../../../outside"),
        Item::file(&format!("{link}/pwned"), b"pwned"),
    ];
    let message = refused(&base, items, &link);
    assert!(message.contains("outside the tree"), "{message}");
    assert_eq!(names(&outside), Vec::<String>::new());
}

#[test]
fn refuses_an_absolute_symlink() {
    let base = scratch("symlink-abs");
    let outside = base.join("outside");
    fs::create_dir(&outside).unwrap();
    let link = format!("{TOP}/link");
    let items = vec![
        Item::symlink(&link, outside.to_str().unwrap()),
        Item::file(&format!("{link}/pwned"), b"pwned"),
    ];
    refused(&base, items, &link);
    assert_eq!(names(&outside), Vec::<String>::new());
}

#[test]
fn refuses_writing_through_an_inside_symlink_too() {
    // Even a link that stays inside is never written through: a later
    // entry could otherwise land wherever the link is re-pointed.
    let base = scratch("through-link");
    let items = vec![
        Item::dir(&format!("{TOP}/real/")),
        Item::symlink(&format!("{TOP}/alias"), "real"),
        Item::file(&format!("{TOP}/alias/file"), b"x"),
    ];
    let message = refused(&base, items, &format!("{TOP}/alias/file"));
    assert!(message.contains("through the symlink"), "{message}");
}

#[test]
fn refuses_a_symlink_that_escapes_only_through_a_later_one() {
    // `l -> s/u/..` looks harmless, and so does `s/u -> ..` on its own;
    // together `l` points above the tree. Only the final check sees it.
    let base = scratch("symlink-chain");
    let l = format!("{TOP}/l");
    let items = vec![
        Item::dir(&format!("{TOP}/s/")),
        Item::symlink(&l, "s/u/.."),
        Item::symlink(&format!("{TOP}/s/u"), ".."),
    ];
    let message = refused(&base, items, &l);
    assert!(message.contains("resolves outside"), "{message}");
}

#[test]
fn refuses_device_nodes_and_fifos() {
    for (kind, what) in [
        (EntryType::Char, "device node"),
        (EntryType::Block, "device node"),
        (EntryType::Fifo, "FIFO"),
    ] {
        let base = scratch("device");
        let name = format!("{TOP}/Lib/dev");
        let message = refused(&base, vec![Item::new(&name, kind, None, b"")], &name);
        assert!(message.contains(what), "{message}");
    }
}

#[test]
fn refuses_hard_links_out_of_the_tree() {
    let base = scratch("hardlink");
    let name = format!("{TOP}/passwd");
    let message = refused(&base, vec![Item::hardlink(&name, "/etc/passwd")], &name);
    assert!(message.contains("hard link"), "{message}");
    let name = format!("{TOP}/up");
    refused(
        &base,
        vec![Item::hardlink(&name, &format!("{TOP}/../x"))],
        &name,
    );
}

#[test]
fn refuses_entries_outside_the_top_directory() {
    let base = scratch("outside-top");
    refused(&base, vec![Item::file("Other/file", b"x")], "Other/file");
}

#[test]
fn unpacks_a_clean_tree_with_links_and_keeps_mtimes() {
    let base = scratch("clean");
    let mut items = minimal_tree(V);
    items.push(Item::symlink(
        &format!("{TOP}/Include/alias.h"),
        "patchlevel.h",
    ));
    items.push(Item::hardlink(
        &format!("{TOP}/README.copy"),
        &format!("{TOP}/README.rst"),
    ));
    let tarball = base.join("good.tar.gz");
    write(&tarball, &tar_gz(&items));
    let dest = base.join("dest");
    let done = extract(&tarball, TOP, V, &dest).unwrap();
    assert!(!done.reused);
    assert_eq!(done.tree, dest.join(TOP));
    assert_eq!(names(&dest), [TOP]);
    let tree = &done.tree;
    assert_eq!(
        fs::read_link(tree.join("Include/alias.h")).unwrap(),
        Path::new("patchlevel.h")
    );
    assert_eq!(
        fs::read(tree.join("README.copy")).unwrap(),
        b"This is Python.\n"
    );
    let mtime = fs::metadata(tree.join("README.rst"))
        .unwrap()
        .modified()
        .unwrap();
    let secs = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(secs, 1_700_000_000);

    // A second run finds it and unpacks nothing.
    fs::write(tree.join("marker"), b"kept").unwrap();
    let again = extract(&tarball, TOP, V, &dest).unwrap();
    assert!(again.reused);
    assert!(tree.join("marker").exists());
}

#[test]
fn unpacks_xz_too() {
    let base = scratch("xz");
    let gz = tar_gz(&minimal_tree(V));
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut tar).unwrap();
    let mut xz = Vec::new();
    std::io::Read::read_to_end(
        &mut liblzma::read::XzEncoder::new(tar.as_slice(), 6),
        &mut xz,
    )
    .unwrap();
    let tarball = base.join("good.tar.xz");
    write(&tarball, &xz);
    let done = extract(&tarball, TOP, V, &base.join("dest")).unwrap();
    assert!(done.tree.join("Include/patchlevel.h").is_file());
}

#[test]
fn a_tree_of_another_version_is_not_moved_into_place() {
    let base = scratch("wrong-version");
    let tarball = base.join("t.tar.gz");
    // Right top directory, but patchlevel.h says otherwise.
    let mut items = minimal_tree(V);
    items[2] = Item::file(
        &format!("{TOP}/Include/patchlevel.h"),
        support::patchlevel("9.9.8").as_bytes(),
    );
    write(&tarball, &tar_gz(&items));
    let dest = base.join("dest");
    let err = extract(&tarball, TOP, V, &dest).unwrap_err();
    assert!(matches!(err, ExtractError::WrongTree { .. }), "{err}");
    assert!(err.to_string().contains("9.9.8"), "{err}");
    assert_eq!(names(&dest), Vec::<String>::new());
}

#[test]
fn a_half_unpacked_temp_dir_is_ignored_and_cleaned() {
    let base = scratch("interrupted");
    let dest = base.join("dest");
    // What a run killed half-way leaves: a temp dir (of a process that no
    // longer exists) that even holds a plausible patchlevel.h.
    let dead = dest.join(format!("{}{}", temp_prefix(TOP), u32::MAX));
    fs::create_dir_all(dead.join("Include")).unwrap();
    fs::write(dead.join("Include/patchlevel.h"), support::patchlevel(V)).unwrap();
    fs::write(dead.join("half-written"), b"junk").unwrap();
    // One of a run that is still going (pid 1 always exists) is not ours
    // to remove.
    let live = dest.join(format!("{}1", temp_prefix(TOP)));
    fs::create_dir_all(&live).unwrap();

    let tarball = base.join("good.tar.gz");
    write(&tarball, &tar_gz(&minimal_tree(V)));
    let done = extract(&tarball, TOP, V, &dest).unwrap();
    assert!(!done.reused, "the leftover must not be trusted");
    assert!(!done.tree.join("half-written").exists());
    assert!(!dead.exists(), "stale temp dir must be cleaned");
    assert!(live.exists(), "a live run's temp dir must be left alone");
}

#[test]
fn a_half_tree_at_the_destination_is_not_trusted() {
    let base = scratch("half-tree");
    let dest = base.join("dest");
    fs::create_dir_all(dest.join(TOP).join("Lib")).unwrap();
    let tarball = base.join("good.tar.gz");
    write(&tarball, &tar_gz(&minimal_tree(V)));
    let err = extract(&tarball, TOP, V, &dest).unwrap_err();
    assert!(matches!(err, ExtractError::Occupied { .. }), "{err}");
    assert!(err.to_string().contains("remove it"), "{err}");
    assert_eq!(names(&dest.join(TOP)), ["Lib"], "left as it was");
}

#[test]
fn fetch_checks_the_hash_then_refuses_the_hostile_tarball() {
    let base = scratch("fetch-hostile");
    let outside = base.join("outside");
    fs::create_dir(&outside).unwrap();
    let mut items = minimal_tree(V);
    items.push(Item::symlink(&format!("{TOP}/x"), "../../../outside"));
    items.push(Item::file(&format!("{TOP}/x/pwned"), b"pwned"));
    let tarball = base.join("Python-9.9.9.tar.gz");
    write(&tarball, &tar_gz(&items));
    let hash = sha256_file(&tarball).unwrap();
    let release = support::release(
        V,
        "https://www.python.org/ftp/python/9.9.9/Python-9.9.9.tgz",
        &hash,
    );
    let mut opts = FetchOptions::new(base.join("cache"), base.join("dest"));
    opts.network = false;
    let err = fetch(&release, &Source::Path(tarball), &opts).unwrap_err();
    assert!(
        matches!(err, Error::Extract(ExtractError::Unsafe { .. })),
        "{err}"
    );
    assert_eq!(names(&base.join("dest")), Vec::<String>::new());
    assert_eq!(names(&outside), Vec::<String>::new());
}
