//! A `tasknet` child process for the fault tests: started with its stdout
//! read line by line, SIGKILLed or SIGTERMed on demand, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");

pub struct TasknetProcess {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl TasknetProcess {
    pub fn spawn(name: &str, args: &[&str], dir: &Path) -> Self {
        let mut child = Command::new(BINARY)
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "error")
            .env_remove("TASKNET_CONFIG")
            .env_remove("TASKNET_AGENT_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    /// The first stdout line containing `marker`, if one comes in time.
    pub fn try_wait_for_line(&self, marker: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(marker) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    pub fn wait_for_line(&self, marker: &str) -> String {
        self.try_wait_for_line(marker, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("{}: no line with {marker:?}", self.name))
    }

    /// The `127.0.0.1:PORT` of a "listening on" line.
    pub fn listening_address(&self) -> String {
        address_in(&self.wait_for_line("listening on"))
    }

    /// SIGKILL: no clean-up, no flushing, as a power cut or the OOM killer.
    pub fn kill_hard(mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// SIGTERM, and a clean exit within 30 s.
    pub fn terminate(mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop on SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TasknetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `127.0.0.1:PORT` in a line.
pub fn address_in(line: &str) -> String {
    line.split_whitespace()
        .find(|word| word.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches([',', ')'])
        .to_owned()
}

/// Runs a `tasknet` command to completion: (success, stdout, stderr).
pub fn run(args: &[&str], dir: &Path) -> (bool, String, String) {
    let output = Command::new(BINARY)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "error")
        .env_remove("TASKNET_AGENT_CONFIG")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
