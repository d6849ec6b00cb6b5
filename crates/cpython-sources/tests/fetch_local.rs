//! Fetching without Debian: local trees and tarballs, the python.org path
//! against a loopback server, and python.org being unreachable.

#[path = "fetch_support/mod.rs"]
mod support;

use std::cell::RefCell;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use cpython_sources::download::Progress;
use cpython_sources::fetch::{fetch, sha256_file, Error, Event, FetchOptions, Origin, Source};
use support::{minimal_tree, names, patchlevel, scratch, snapshot, tar_gz, write};

/// Serves `body` to each of `requests` connections on loopback, and
/// returns the URL of `name` on it.
fn serve(body: Vec<u8>, name: &str, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            // Read the request head up to the blank line.
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://127.0.0.1:{port}/{name}")
}

#[test]
fn downloads_verifies_caches_and_then_reuses_the_cache() {
    let base = scratch("download");
    let body = tar_gz(&minimal_tree("9.9.9"));
    let hash = sha256_file(&{
        let p = base.join("expected.tar.gz");
        write(&p, &body);
        p
    })
    .unwrap();
    let url = serve(body.clone(), "Python-9.9.9.tgz", 1);
    let release = support::release("9.9.9", &url, &hash);
    let cache = base.join("cache");

    let progress = RefCell::new(Vec::<Progress>::new());
    let notes = RefCell::new(Vec::<String>::new());
    let report = |e: Event<'_>| match e {
        Event::Progress(p) => progress.borrow_mut().push(p),
        Event::Note(n) => notes.borrow_mut().push(n.to_string()),
    };
    let mut opts = FetchOptions::new(cache.clone(), base.join("dest1"));
    opts.report = &report;
    let got = fetch(&release, &Source::PythonOrg, &opts).unwrap();
    assert_eq!(got.from, Origin::PythonOrg);
    assert_eq!(got.tree, base.join("dest1/Python-9.9.9"));
    assert_eq!(got.tarball, Some(cache.join("Python-9.9.9.tgz")));
    assert_eq!(fs::read(cache.join("Python-9.9.9.tgz")).unwrap(), body);
    assert_eq!(names(&cache), ["Python-9.9.9.tgz"], "no .part left");
    let last = *progress.borrow().last().expect("progress was reported");
    assert_eq!(last.done, body.len() as u64);
    assert_eq!(last.total, Some(body.len() as u64));
    assert_eq!(last.percent(), Some(100));

    // The server is gone now (it answered once): the cache must serve.
    notes.borrow_mut().clear();
    let mut offline = FetchOptions::new(cache.clone(), base.join("dest2"));
    offline.network = false;
    offline.report = &report;
    let again = fetch(&release, &Source::Auto, &offline).unwrap();
    assert_eq!(again.from, Origin::Cache);
    assert!(
        notes.borrow().iter().any(|n| n.starts_with("using cached")),
        "{notes:?}"
    );
    assert!(again.tree.join("Include/patchlevel.h").is_file());
}

#[test]
fn a_download_with_the_wrong_hash_is_moved_aside_and_nothing_unpacked() {
    let base = scratch("download-bad");
    let body = tar_gz(&minimal_tree("9.9.9"));
    let url = serve(body.clone(), "Python-9.9.9.tgz", 1);
    let wrong = "0".repeat(64);
    let release = support::release("9.9.9", &url, &wrong);
    let cache = base.join("cache");
    let opts = FetchOptions::new(cache.clone(), base.join("dest"));
    let err = fetch(&release, &Source::PythonOrg, &opts).unwrap_err();
    let Error::HashMismatch {
        actual, moved_to, ..
    } = &err
    else {
        panic!("expected a hash mismatch, got {err}");
    };
    let message = err.to_string();
    assert!(
        message.contains(&wrong) && message.contains(actual.as_str()),
        "{message}"
    );
    assert_eq!(fs::read(moved_to).unwrap(), body, "kept, not deleted");
    let cached = names(&cache);
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].starts_with("Python-9.9.9.tgz.bad-"), "{cached:?}");
    assert_eq!(names(&base.join("dest")), Vec::<String>::new());
}

#[test]
fn python_org_unreachable_is_one_line_with_the_fix() {
    // This machine has no route to python.org. Where it does, the download
    // must instead succeed and verify, which is checked too.
    let base = scratch("unreachable");
    let table = support::table();
    let release = table.get("3.13.5").unwrap();
    let mut opts = FetchOptions::new(base.join("cache"), base.join("dest"));
    opts.connect_timeout = Duration::from_secs(10);
    let start = Instant::now();
    match fetch(release, &Source::PythonOrg, &opts) {
        Err(err) => {
            let message = err.to_string();
            assert!(message.starts_with("python.org unreachable ("), "{message}");
            assert!(
                message.ends_with("try `--from debian` or `--from PATH`"),
                "{message}"
            );
            assert!(!message.contains('\n'), "{message}");
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "bounded by the timeout"
            );
            assert_eq!(
                names(&base.join("cache")),
                Vec::<String>::new(),
                "no .part left"
            );
        }
        Ok(got) => assert_eq!(got.from, Origin::PythonOrg),
    }
}

#[test]
fn unreachable_server_message_names_the_host() {
    let base = scratch("closed-port");
    let release = support::release(
        "9.9.9",
        "http://127.0.0.1:9/Python-9.9.9.tgz",
        &"0".repeat(64),
    );
    let opts = FetchOptions::new(base.join("cache"), base.join("dest"));
    let err = fetch(&release, &Source::PythonOrg, &opts).unwrap_err();
    assert!(
        err.to_string().starts_with("127.0.0.1:9 unreachable ("),
        "{err}"
    );
}

#[test]
fn a_local_tree_of_the_wrong_version_is_refused_with_the_version_found() {
    let base = scratch("tree-wrong");
    let tree = base.join("Python-3.13.4");
    fs::create_dir_all(tree.join("Include")).unwrap();
    fs::write(tree.join("Include/patchlevel.h"), patchlevel("3.13.4")).unwrap();
    let before = snapshot(&base);
    let table = support::table();
    let opts = FetchOptions::new(base.join("cache"), base.join("dest"));
    let err = fetch(
        table.get("3.13.5").unwrap(),
        &Source::Path(tree.clone()),
        &opts,
    )
    .unwrap_err();
    assert!(matches!(err, Error::WrongLocalTree { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("holds CPython 3.13.4, not 3.13.5"),
        "{message}"
    );
    assert_eq!(snapshot(&base), before, "nothing created or changed");
}

#[test]
fn a_local_tree_of_the_right_version_is_used_in_place_untouched() {
    let base = scratch("tree-right");
    let tree = base.join("python3.13-3.13.5");
    fs::create_dir_all(tree.join("Include")).unwrap();
    fs::write(tree.join("Include/patchlevel.h"), patchlevel("3.13.5")).unwrap();
    fs::write(tree.join("configure"), b"#!/bin/sh\n").unwrap();
    let before = snapshot(&base);
    let table = support::table();
    let opts = FetchOptions::new(base.join("cache"), base.join("dest"));
    let got = fetch(
        table.get("3.13.5").unwrap(),
        &Source::Path(tree.clone()),
        &opts,
    )
    .unwrap();
    assert_eq!(got.from, Origin::LocalTree);
    assert_eq!(got.tree, tree);
    assert_eq!(got.tarball, None);
    assert_eq!(snapshot(&base), before);
}

#[test]
fn a_directory_that_is_not_a_cpython_tree_is_refused() {
    let base = scratch("not-a-tree");
    let table = support::table();
    let opts = FetchOptions::new(base.join("cache"), base.join("dest"));
    let err = fetch(
        table.get("3.9.2").unwrap(),
        &Source::Path(base.clone()),
        &opts,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("is this a CPython source tree?"),
        "{err}"
    );
}

#[test]
fn a_local_tarball_with_the_wrong_hash_is_refused_and_left_alone() {
    let base = scratch("local-bad");
    let tarball = base.join("Python-3.9.2.tar.xz");
    write(&tarball, &tar_gz(&minimal_tree("3.9.2")));
    let before = snapshot(&base);
    let table = support::table();
    let release = table.get("3.9.2").unwrap();
    let opts = FetchOptions::new(base.join("cache"), base.join("dest"));
    let err = fetch(release, &Source::Path(tarball), &opts).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::LocalHashMismatch { .. }), "{message}");
    assert!(message.contains(&release.sha256), "{message}");
    assert_eq!(
        snapshot(&base),
        before,
        "the user's file stays, nothing unpacked"
    );
}

#[test]
fn offline_without_a_cached_copy_says_so() {
    let base = scratch("offline");
    let table = support::table();
    let mut opts = FetchOptions::new(base.join("cache"), base.join("dest"));
    opts.network = false;
    for source in [Source::Auto, Source::PythonOrg, Source::Debian] {
        let err = fetch(table.get("3.11.2").unwrap(), &source, &opts).unwrap_err();
        assert!(matches!(err, Error::Offline { .. }), "{err}");
    }
}

#[test]
fn a_missing_path_is_explained() {
    let base = scratch("missing");
    let table = support::table();
    let opts = FetchOptions::new(base.join("cache"), base.join("dest"));
    let missing = base.join("nope.tar.xz");
    let err = fetch(table.get("3.11.2").unwrap(), &Source::Path(missing), &opts).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}
