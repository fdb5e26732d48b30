//! A `tasknet serve …` child process for the reports benchmark: its output
//! lines, its endpoint, its peak RSS, and stopping it. (A stop-gap until the
//! bench crate's shared process module exists.)

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct Service {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
}

fn forward(reader: impl Read + Send + 'static, sender: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
}

impl Service {
    pub fn spawn(tasknet: &Path, name: &str, args: &[&str], dir: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new(tasknet)
            .args(args)
            .current_dir(dir)
            // The reporting service logs when its status index is loaded.
            .env("RUST_LOG", "warn,tasknet_reporting=info")
            .env_remove("TASKNET_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to start {name}"))?;
        let (sender, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            forward(stdout, sender.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            forward(stderr, sender);
        }
        Ok(Self {
            name: name.to_owned(),
            child,
            lines,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for an output line containing `marker`.
    pub fn wait_for(&self, marker: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(marker) => return Ok(line),
                Ok(line) if line.contains("ERROR") || line.starts_with("Error") => {
                    eprintln!("{}: {line}", self.name);
                }
                Ok(_) => {}
                Err(error) => bail!("{}: no line with {marker:?} ({error})", self.name),
            }
        }
    }

    /// The `http://127.0.0.1:PORT` it printed it listens on.
    pub fn endpoint(&self) -> anyhow::Result<String> {
        let line = self.wait_for("listening on", Duration::from_secs(60))?;
        let addr = line
            .split_whitespace()
            .find(|word| word.starts_with("127.0.0.1:"))
            .with_context(|| format!("no address in {line:?}"))?;
        Ok(format!("http://{}", addr.trim_end_matches([',', ')', '('])))
    }

    /// A `/proc/PID/status` figure in KiB: `VmHWM` (peak resident set
    /// size), `RssAnon` (heap now), `RssFile` (mapped files now).
    pub fn status_kib(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in /proc/PID/status"))
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 30 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
