//! Paths of the workspace's binaries (built by `cargo build --workspace --bins --tests`, which
//! `scripts/test` runs before the tests).

use std::path::PathBuf;

/// The path of a binary of this workspace, in the profile directory the tests were built in.
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test binary>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile> directory");
    let bin = profile_dir.join(name);
    assert!(
        bin.exists(),
        "binary {} not found: run `cargo build --workspace --bins --tests` first (./scripts/test does)",
        bin.display()
    );
    bin
}
