//! The table of supported CPython releases, read from `versions.toml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    #[error("{path}: cannot read ({source}); run from the repository root or pass its path")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}; fix the file")]
    Invalid { path: PathBuf, message: String },
    #[error("unknown version {version}; supported: {supported}")]
    Unknown { version: String, supported: String },
}

/// The Debian source package whose `.orig` tarball is the same file as the
/// upstream one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebianSource {
    /// Source package name, e.g. `python3.13`.
    pub package: String,
    /// The revision the hash was checked against, e.g. `3.13.5-2+deb13u5`.
    pub version: String,
}

/// One supported release.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// `X.Y.Z`, as in `Include/patchlevel.h`.
    pub version: String,
    /// The upstream tarball on python.org.
    pub url: String,
    /// Lower-case hex SHA-256 of that tarball.
    pub sha256: String,
    pub debian: DebianSource,
    /// The patch series directory, relative to the repository root.
    pub series: PathBuf,
}

impl Release {
    /// The tarball's file name, the last segment of its URL (e.g.
    /// `Python-2.7.18.tgz`); also its name in the download cache.
    pub fn tarball_name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or(&self.url)
    }

    /// The single top-level directory inside the tarball, `Python-X.Y.Z`,
    /// which is also the name of the unpacked tree.
    pub fn tree_name(&self) -> String {
        format!("Python-{}", self.version)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    release: Vec<Release>,
}

/// All supported releases, in file order.
#[derive(Debug, Clone)]
pub struct Table {
    releases: Vec<Release>,
}

impl Table {
    /// Reads and checks `versions.toml`.
    pub fn load(path: &Path) -> Result<Table, VersionsError> {
        let text = std::fs::read_to_string(path).map_err(|source| VersionsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Table::parse(&text).map_err(|message| VersionsError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses the text of a versions file; the error is a message without
    /// the file name.
    pub fn parse(text: &str) -> Result<Table, String> {
        let file: File = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        for (i, release) in file.release.iter().enumerate() {
            check_release(release)?;
            if file.release[..i]
                .iter()
                .any(|r| r.version == release.version)
            {
                return Err(format!("version {} is listed twice", release.version));
            }
        }
        Ok(Table {
            releases: file.release,
        })
    }

    pub fn releases(&self) -> &[Release] {
        &self.releases
    }

    /// The release for `version`, or an error listing the supported ones.
    pub fn get(&self, version: &str) -> Result<&Release, VersionsError> {
        self.releases
            .iter()
            .find(|r| r.version == version)
            .ok_or_else(|| VersionsError::Unknown {
                version: version.to_string(),
                supported: self
                    .releases
                    .iter()
                    .map(|r| r.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// The checks that keep a typo in the table from turning into a confusing
/// failure much later (a download of the wrong file, a bad cache name).
fn check_release(r: &Release) -> Result<(), String> {
    let v = &r.version;
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("version {v:?} is not of the form X.Y.Z"));
    }
    if !is_sha256_hex(&r.sha256) {
        return Err(format!(
            "{v}: sha256 must be 64 lower-case hex digits, got {:?}",
            r.sha256
        ));
    }
    let expected_dir = format!("https://www.python.org/ftp/python/{v}/");
    let name = r.url.strip_prefix(&expected_dir).unwrap_or("");
    if name != format!("Python-{v}.tar.xz") && name != format!("Python-{v}.tgz") {
        return Err(format!(
            "{v}: url must be {expected_dir}Python-{v}.tar.xz (or .tgz), got {:?}",
            r.url
        ));
    }
    let deb = &r.debian;
    if deb.package.is_empty() || deb.version.is_empty() {
        return Err(format!(
            "{v}: debian.package and debian.version are required"
        ));
    }
    // The upstream part of the Debian version must be this release.
    let upstream = deb
        .version
        .split_once(':')
        .map_or(&*deb.version, |(_, rest)| rest);
    let upstream = upstream.rsplit_once('-').map_or(upstream, |(u, _)| u);
    if upstream != v {
        return Err(format!(
            "{v}: debian.version {} is not a packaging of {v}",
            deb.version
        ));
    }
    if r.series.is_absolute() || r.series.as_os_str().is_empty() {
        return Err(format!(
            "{v}: series must be a path relative to the repository root"
        ));
    }
    Ok(())
}

pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
[[release]]
version = "3.13.5"
url = "https://www.python.org/ftp/python/3.13.5/Python-3.13.5.tar.xz"
sha256 = "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
debian = { package = "python3.13", version = "3.13.5-2+deb13u5" }
series = "patches/3.13"
"#;

    #[test]
    fn parses_and_finds_a_release() {
        let table = Table::parse(ONE).unwrap();
        let r = table.get("3.13.5").unwrap();
        assert_eq!(r.tarball_name(), "Python-3.13.5.tar.xz");
        assert_eq!(r.tree_name(), "Python-3.13.5");
        assert_eq!(r.debian.package, "python3.13");
    }

    #[test]
    fn unknown_version_lists_the_supported_ones() {
        let table = Table::parse(ONE).unwrap();
        let err = table.get("3.12.1").unwrap_err().to_string();
        assert_eq!(err, "unknown version 3.12.1; supported: 3.13.5");
    }

    #[test]
    fn rejects_a_bad_hash_a_foreign_url_and_a_mismatched_debian_version() {
        let bad_hash = ONE.replace("93e583f2", "93E583F2");
        assert!(Table::parse(&bad_hash).unwrap_err().contains("sha256"));
        let bad_url = ONE.replace("www.python.org/ftp/python", "example.org");
        assert!(Table::parse(&bad_url).unwrap_err().contains("url"));
        let bad_deb = ONE.replace("3.13.5-2+deb13u5", "3.13.4-1");
        assert!(Table::parse(&bad_deb)
            .unwrap_err()
            .contains("not a packaging"));
        let twice = format!("{ONE}{ONE}");
        assert!(Table::parse(&twice).unwrap_err().contains("twice"));
    }

    #[test]
    fn the_repository_table_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../versions.toml");
        let table = Table::load(&path).unwrap();
        let versions: Vec<&str> = table
            .releases()
            .iter()
            .map(|r| r.version.as_str())
            .collect();
        assert_eq!(versions, ["2.7.18", "3.9.2", "3.11.2", "3.13.5", "3.13.15"]);
        for r in table.releases() {
            let major_minor = r.version.rsplit_once('.').unwrap().0;
            assert_eq!(r.series, Path::new("patches").join(major_minor));
        }
    }
}
