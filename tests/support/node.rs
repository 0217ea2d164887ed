//! Node.js tooling the browser and Botium tests run: is it there, and in which version.

use std::process::{Command, Stdio};

/// The major version of `node` on PATH, if it runs.
pub fn node_major_version() -> Option<u32> {
    let output = Command::new("node").arg("--version").output().ok()?;
    let version = String::from_utf8(output.stdout).ok()?;
    version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Whether `command` runs and exits 0 (its output discarded).
pub fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
