//! Finding the AWS CLI, the independent client some tests check the sandbox with.

use std::path::{Path, PathBuf};

/// The AWS CLI: where `scripts/deps.sh --test` installs it, else the PATH's. `None` (the test is skipped, said
/// on stderr) only outside CI, where a missing CLI fails the test instead.
pub fn find() -> Option<PathBuf> {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/awscli/bin/aws");
    let found = if local.exists() {
        Some(local)
    } else {
        std::env::var_os("PATH")
            .and_then(|p| p.to_str().map(str::to_string))
            .and_then(|p| p.split(':').map(|d| Path::new(d).join("aws")).find(|p| p.exists()))
    };
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the AWS CLI is missing: scripts/deps.sh --test installs it"
        );
        eprintln!("skipped: no AWS CLI (scripts/deps.sh --test installs it into target/awscli)");
    }
    found
}
