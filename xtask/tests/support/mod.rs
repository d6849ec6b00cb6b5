//! Helpers shared by xtask's integration tests (a directory module, so
//! Cargo does not build it as a test of its own).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A scratch directory for this test process under Cargo's tmpdir, named
/// `<prefix>-<pid>`; directories left by earlier runs whose process is gone
/// are removed first. Each test binary gets its own (the static is per binary).
pub fn scratch_dir(prefix: &str) -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let tag = format!("{prefix}-");
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix(tag.as_str())
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = root.join(format!("{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        dir
    })
}
