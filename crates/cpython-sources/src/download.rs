//! Plain HTTPS download of one file, with throttled progress reports.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often progress is reported at most: often enough to look alive,
/// rarely enough not to flood a log.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server could not be reached at all (DNS, connect, TLS, timeout).
    #[error("{host} unreachable ({detail})")]
    Unreachable { host: String, detail: String },
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    /// The connection broke off while the body was being read.
    #[error("{url}: download interrupted ({detail}); run again to retry")]
    Interrupted { url: String, detail: String },
    #[error("{path}: cannot write ({source}); check the cache directory or pass --cache-dir")]
    Write { path: PathBuf, source: io::Error },
}

/// Bytes received so far and the size the server announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: Option<u64>,
}

impl Progress {
    pub fn percent(&self) -> Option<u64> {
        self.total
            .filter(|&t| t > 0)
            .map(|t| self.done.saturating_mul(100) / t)
    }
}

/// Downloads `url` into `to` (created or truncated), calling `progress`
/// at most every 250 ms and once at the end.
pub fn download(
    url: &str,
    to: &Path,
    connect_timeout: Duration,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, DownloadError> {
    let host = host_of(url).to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(connect_timeout))
        .timeout_resolve(Some(connect_timeout))
        // A server that accepts the connection but never answers is as
        // unreachable as one that refuses it.
        .timeout_recv_response(Some(connect_timeout.max(Duration::from_secs(30))))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|err| match err {
        ureq::Error::StatusCode(status) => DownloadError::Status {
            url: url.to_string(),
            status,
        },
        other => DownloadError::Unreachable {
            host: host.clone(),
            detail: other.to_string(),
        },
    })?;
    let body = response.into_body();
    let total = body.content_length();
    let mut reader = body.into_reader();
    let write_err = |source| DownloadError::Write {
        path: to.to_path_buf(),
        source,
    };
    let mut file = File::create(to).map_err(write_err)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    let mut last = Instant::now();
    progress(Progress { done, total });
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DownloadError::Interrupted {
                    url: url.to_string(),
                    detail: e.to_string(),
                })
            }
        };
        file.write_all(&buf[..n]).map_err(write_err)?;
        done += n as u64;
        if last.elapsed() >= PROGRESS_EVERY {
            last = Instant::now();
            progress(Progress { done, total });
        }
    }
    file.sync_all().map_err(write_err)?;
    progress(Progress { done, total });
    if let Some(total) = total.filter(|&t| t != done) {
        return Err(DownloadError::Interrupted {
            url: url.to_string(),
            detail: format!("got {done} of {total} bytes"),
        });
    }
    Ok(done)
}

/// The host part of an `https://host/...` URL, for messages.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or(rest);
    // "www.python.org" reads better as the name people know.
    host.strip_prefix("www.").unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_the_short_name() {
        assert_eq!(
            host_of("https://www.python.org/ftp/python/3.9.2/Python-3.9.2.tar.xz"),
            "python.org"
        );
        assert_eq!(host_of("http://127.0.0.1:9/x"), "127.0.0.1:9");
    }

    #[test]
    fn percent_needs_a_total() {
        let p = Progress {
            done: 50,
            total: Some(200),
        };
        assert_eq!(p.percent(), Some(25));
        let unknown = Progress {
            done: 50,
            total: None,
        };
        assert_eq!(unknown.percent(), None);
    }

    #[test]
    fn closed_port_is_unreachable_not_a_panic() {
        // Port 9 (discard) on loopback is closed on any sane test machine.
        let dir = std::env::temp_dir().join(format!("dl-test-{}", std::process::id()));
        let err = download(
            "http://127.0.0.1:9/nothing",
            &dir,
            Duration::from_secs(2),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, DownloadError::Unreachable { .. }), "{err}");
        assert!(!dir.exists());
    }
}
