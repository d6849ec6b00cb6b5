//! `--from debian` for real: apt under a private configuration fetches the
//! `.orig` tarballs of 3.13.15 and 2.7.18 from Debian's mirror on a machine
//! with no deb-src lines, `/etc/apt` stays byte-identical, and the second
//! fetch is served from the cache with the network forbidden.
//!
//! This needs apt-get and the network to deb.debian.org (as CI has); it
//! downloads about 45 MB of source indexes and 40 MB of tarballs, once per
//! test run. Set CPYTHON_SOURCES_SKIP_DEBIAN=1 to skip it elsewhere.

#[path = "fetch_support/mod.rs"]
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use cpython_sources::fetch::{
    fetch, sha256_file, Error, Event, FetchOptions, Fetched, Origin, Source,
};
use cpython_sources::patchlevel::tree_version;
use support::{names, scratch, snapshot};

const VERSIONS: [&str; 2] = ["3.13.15", "2.7.18"];

fn skipped() -> bool {
    let skip = std::env::var_os("CPYTHON_SOURCES_SKIP_DEBIAN").is_some_and(|v| v == "1");
    if skip {
        eprintln!("skipped: CPYTHON_SOURCES_SKIP_DEBIAN=1");
    }
    skip
}

/// What one run of the Debian fetches saw; shared by the tests here so the
/// tarballs are downloaded once.
struct Run {
    cache: PathBuf,
    first: Vec<(Fetched, Vec<String>)>,
    etc_apt_unchanged: Result<(), String>,
    second: Vec<(Fetched, Vec<String>, Duration)>,
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let base = scratch("debian");
        let cache = base.join("cache");
        let table = support::table();
        // What a run killed mid-download leaves behind; it must be cleaned.
        let stale = cache.join("debian-apt").join(format!("work-{}", u32::MAX));
        fs::create_dir_all(&stale).unwrap();
        fs::write(stale.join("python3.13_3.13.15.orig.tar.xz"), b"partial").unwrap();
        let etc_before = snapshot(Path::new("/etc/apt"));

        let mut first = Vec::new();
        for version in VERSIONS {
            let notes = Mutex::new(Vec::new());
            let report = |e: Event<'_>| {
                if let Event::Note(n) = e {
                    eprintln!("{n}");
                    notes.lock().unwrap().push(n.to_string());
                }
            };
            let mut opts = FetchOptions::new(cache.clone(), base.join("dest1"));
            opts.report = &report;
            let got = fetch(table.get(version).unwrap(), &Source::Debian, &opts)
                .unwrap_or_else(|e| panic!("--from debian {version}: {e}"));
            first.push((got, notes.into_inner().unwrap()));
        }
        let etc_after = snapshot(Path::new("/etc/apt"));
        let etc_apt_unchanged = if etc_before == etc_after {
            Ok(())
        } else {
            Err(format!(
                "/etc/apt changed:\nbefore {etc_before:#?}\nafter {etc_after:#?}"
            ))
        };

        let mut second = Vec::new();
        for version in VERSIONS {
            let notes = Mutex::new(Vec::new());
            let report = |e: Event<'_>| {
                if let Event::Note(n) = e {
                    notes.lock().unwrap().push(n.to_string());
                }
            };
            let mut opts = FetchOptions::new(cache.clone(), base.join("dest2"));
            opts.network = false; // any attempt to reach apt or a server fails
            opts.report = &report;
            let start = Instant::now();
            let got = fetch(table.get(version).unwrap(), &Source::Debian, &opts)
                .unwrap_or_else(|e| panic!("second --from debian {version}: {e}"));
            second.push((got, notes.into_inner().unwrap(), start.elapsed()));
        }
        Run {
            cache,
            first,
            etc_apt_unchanged,
            second,
        }
    })
}

#[test]
fn debian_fetch_uses_private_apt_and_leaves_etc_apt_alone() {
    if skipped() {
        return;
    }
    let run = run();
    let table = support::table();
    for (version, (got, notes)) in VERSIONS.iter().zip(&run.first) {
        let release = table.get(version).unwrap();
        let Origin::Debian { package, .. } = &got.from else {
            panic!("{version} came from {}", got.from);
        };
        assert_eq!(package, &release.debian.package);
        assert_eq!(tree_version(&got.tree).unwrap(), *version);
        let tarball = got.tarball.as_ref().unwrap();
        assert_eq!(tarball, &run.cache.join(release.tarball_name()));
        assert_eq!(sha256_file(tarball).unwrap(), release.sha256);
        assert!(
            notes.iter().any(|n| n.contains("/etc/apt is not used")),
            "{notes:?}"
        );
    }
    run.etc_apt_unchanged.clone().unwrap();
    // apt's private state lives in the cache; work directories, ours and
    // the stale one planted before, are gone.
    let apt = run.cache.join("debian-apt");
    assert!(apt.join("sources.list").is_file());
    assert!(
        names(&apt).iter().all(|n| !n.starts_with("work-")),
        "{:?}",
        names(&apt)
    );
}

#[test]
fn second_debian_fetch_comes_from_the_cache_without_network() {
    if skipped() {
        return;
    }
    for (got, notes, took) in &run().second {
        assert_eq!(got.from, Origin::Cache, "{notes:?}");
        assert!(
            !got.reused,
            "a fresh destination is unpacked from the cache"
        );
        assert!(
            notes.iter().any(|n| n.starts_with("using cached")),
            "{notes:?}"
        );
        assert!(!notes.iter().any(|n| n.contains("Debian")), "{notes:?}");
        // Hash and unpack only; generous for a loaded debug build.
        assert!(*took < Duration::from_secs(120), "took {took:?}");
    }
}

#[test]
fn a_real_tarball_with_one_flipped_byte_is_moved_aside_before_unpacking() {
    if skipped() {
        return;
    }
    let table = support::table();
    let release = table.get("3.13.15").unwrap();
    let good = run().cache.join(release.tarball_name());
    let mut bytes = fs::read(&good).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;

    let base = scratch("flipped");
    let cache = base.join("cache");
    fs::create_dir_all(&cache).unwrap();
    let planted = cache.join(release.tarball_name());
    fs::write(&planted, &bytes).unwrap();
    let bad_hash = sha256_file(&planted).unwrap();

    let mut opts = FetchOptions::new(cache.clone(), base.join("dest"));
    opts.network = false;
    let err = fetch(release, &Source::Auto, &opts).unwrap_err();
    let message = err.to_string();
    let Error::HashMismatch { moved_to, .. } = &err else {
        panic!("expected a hash mismatch, got {message}");
    };
    assert!(message.contains(&release.sha256), "{message}");
    assert!(message.contains(&bad_hash), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert!(!planted.exists(), "moved away from its cache name");
    assert_eq!(fs::read(moved_to).unwrap(), bytes, "kept, not deleted");
    assert!(
        moved_to
            .file_name()
            .unwrap()
            .to_string_lossy()
            .contains(".bad-"),
        "{}",
        moved_to.display()
    );
    assert!(!base.join("dest").exists(), "nothing unpacked");

    // The same bytes given as a path are refused too, and left in place.
    let local = base.join("copy.tar.xz");
    fs::write(&local, &bytes).unwrap();
    let err = fetch(release, &Source::Path(local.clone()), &opts).unwrap_err();
    assert!(matches!(err, Error::LocalHashMismatch { .. }), "{err}");
    assert_eq!(fs::read(&local).unwrap(), bytes);
    assert!(!base.join("dest").exists(), "nothing unpacked");
}
