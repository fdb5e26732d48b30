//! `tasknet` child processes for the fault tests, through the system
//! crate's process harness, logging errors only.

use std::path::Path;

pub use tasknet_system::testing::process::{Launch, Process as TasknetProcess};

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");

/// `tasknet` in `dir`.
pub fn tasknet(dir: &Path) -> Launch {
    Launch::new(BINARY).dir(dir).rust_log("error")
}

/// Runs a `tasknet` command to completion: (success, stdout, stderr).
pub fn run(args: &[&str], dir: &Path) -> (bool, String, String) {
    let output = tasknet(dir).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
