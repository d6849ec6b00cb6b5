//! Differential test: on generated files, edits and drifted targets, our
//! hunk placement agrees with GNU `patch -F0` — same success or failure,
//! same result — so the trees we patch equal what `quilt push` makes.

mod patch_fixture;

use std::fs;
use std::process::Command;

use cpython_sources::patch;
use patch_fixture::TempDir;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as usize
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() % n.max(1)
    }
}

/// Lines from a small vocabulary, so that repeated lines make placement
/// ambiguous and the search order matters.
fn random_lines(rng: &mut Rng, n: usize) -> Vec<String> {
    (0..n).map(|_| format!("line {}", rng.below(12))).collect()
}

/// A few random insertions, deletions and replacements.
fn edit(rng: &mut Rng, lines: &[String], edits: usize, tag: &str) -> Vec<String> {
    let mut out = lines.to_vec();
    for e in 0..edits {
        // Often near the ends, where GNU patch pins hunks with short context.
        let at = match rng.below(4) {
            0 => rng.below(3).min(out.len()),
            1 => out.len() - rng.below(3).min(out.len()),
            _ => rng.below(out.len() + 1),
        };
        let last = at.min(out.len() - 1);
        match rng.below(3) {
            0 => out.insert(at, format!("{tag} inserted {e}")),
            1 if out.len() > 1 => {
                out.remove(last);
            }
            _ => out[last] = format!("{tag} replaced {e}"),
        }
    }
    out
}

fn text(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn hunk_placement_agrees_with_gnu_patch() {
    let tmp = TempDir::new("gnu-agree");
    let (mut both_ok, mut both_failed) = (0, 0);
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (size, edits, drift) = (40 + rng.below(80), 1 + rng.below(6), rng.below(4));
        let original = random_lines(&mut rng, size);
        let edited = edit(&mut rng, &original, edits, "new");
        // The target drifts from what the diff was made against.
        let target = edit(&mut rng, &original, drift, "drift");

        let dir = tmp.join(&format!("case{seed}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("old"), text(&original)).unwrap();
        fs::write(dir.join("new"), text(&edited)).unwrap();
        let diff = Command::new("diff")
            .args(["-u", "--label", "a/f", "--label", "b/f", "old", "new"])
            .current_dir(&dir)
            .output()
            .expect("run diff (diffutils)");
        if diff.stdout.is_empty() {
            continue;
        }
        fs::write(dir.join("p"), &diff.stdout).unwrap();
        fs::write(dir.join("f"), text(&target)).unwrap();

        let parsed = patch::parse(&diff.stdout).unwrap();
        let ours = patch::apply_hunks(text(&target).as_bytes(), &parsed.files[0].hunks);
        let gnu = Command::new("patch")
            .args([
                "-p1",
                "-F0",
                "-f",
                "-s",
                "--no-backup-if-mismatch",
                "-r",
                "-",
                "-i",
                "p",
            ])
            .current_dir(&dir)
            .output()
            .expect("run GNU patch");
        match (&ours, gnu.status.success()) {
            (Ok(bytes), true) => {
                assert_eq!(
                    String::from_utf8_lossy(bytes),
                    fs::read_to_string(dir.join("f")).unwrap(),
                    "seed {seed}: results differ"
                );
                // And undoing it: our reversed hunks against `patch -R`.
                let reversed: Vec<_> = parsed.files[0].hunks.iter().map(|h| h.reversed()).collect();
                let ours_back = patch::apply_hunks(bytes, &reversed);
                let gnu_back = Command::new("patch")
                    .args([
                        "-R",
                        "-p1",
                        "-F0",
                        "-f",
                        "-s",
                        "--no-backup-if-mismatch",
                        "-r",
                        "-",
                        "-i",
                        "p",
                    ])
                    .current_dir(&dir)
                    .output()
                    .expect("run GNU patch -R");
                assert!(
                    ours_back.is_ok() && gnu_back.status.success(),
                    "seed {seed}: reverse"
                );
                assert_eq!(
                    String::from_utf8_lossy(&ours_back.unwrap_or_default()),
                    fs::read_to_string(dir.join("f")).unwrap(),
                    "seed {seed}: reversed results differ"
                );
                both_ok += 1;
            }
            (Err(_), false) => both_failed += 1,
            (ours, _) => panic!(
                "seed {seed}: we say {:?}, GNU patch says {}\n{}",
                ours.as_ref().map(|_| "applies"),
                String::from_utf8_lossy(&gnu.stdout),
                String::from_utf8_lossy(&diff.stdout)
            ),
        }
    }
    // Both outcomes must have been exercised for the test to mean much.
    assert!(
        both_ok >= 10 && both_failed >= 5,
        "ok {both_ok}, failed {both_failed}"
    );
}
