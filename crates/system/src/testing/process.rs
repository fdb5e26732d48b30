//! The one child-process harness: starts real programs (the `tasknet`
//! binary — `up`, `serve …`, `agent run` — or PostgreSQL's own tools) on
//! loopback, reads their output line by line, learns the address they
//! listen on, waits until gRPC health answers SERVING, measures their
//! memory from `/proc`, and stops them with SIGTERM (SIGKILL on timeout, and
//! always on drop, so a failing test or benchmark leaves nothing running).
//!
//! ```ignore
//! let mut up = Launch::new(tasknet).args(["up", "--listen", "127.0.0.1:0"]).spawn("up")?;
//! up.ready("tasknet is up on", "").await?;
//! // … use up.endpoint() …
//! up.terminate()?;
//! ```

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a process may take to print its address and answer SERVING.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a process may drain after SIGTERM before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How to run a program: its arguments, directory and environment. The
/// `TASKNET_CONFIG` and `TASKNET_AGENT_CONFIG` of the caller are never
/// passed on, so a developer's own configuration cannot leak into a test.
#[derive(Debug, Clone)]
pub struct Launch {
    program: PathBuf,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(String, String)>,
    env_remove: Vec<String>,
    merge_stderr: bool,
    run_as: Option<(u32, u32)>,
}

impl Launch {
    /// `program` with `RUST_LOG=warn` (or the caller's `RUST_LOG`).
    pub fn new(program: impl AsRef<Path>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            dir: None,
            env: vec![(
                "RUST_LOG".to_owned(),
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )],
            env_remove: vec![
                "TASKNET_CONFIG".to_owned(),
                "TASKNET_AGENT_CONFIG".to_owned(),
            ],
            merge_stderr: false,
            run_as: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// The working directory (relative paths in the arguments start there).
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    /// The log filter of a `tasknet` process.
    pub fn rust_log(self, filter: &str) -> Self {
        self.env("RUST_LOG", filter)
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env_remove.push(key.to_owned());
        self
    }

    /// Read stderr lines as well as stdout (for waiting on a log line);
    /// otherwise stderr goes to the caller's.
    pub fn merge_stderr(mut self) -> Self {
        self.merge_stderr = true;
        self
    }

    /// Run as this user and group (PostgreSQL refuses to run as root).
    pub fn run_as(mut self, uid: u32, gid: u32) -> Self {
        self.run_as = Some((uid, gid));
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).stdin(Stdio::null());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        for key in &self.env_remove {
            command.env_remove(key);
        }
        for (key, value) in &self.env {
            command.env(key, value);
        }
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn describe(&self) -> String {
        let args: Vec<_> = self.args.iter().map(|a| a.to_string_lossy()).collect();
        format!("{} {}", self.program.display(), args.join(" "))
    }

    /// Runs it to completion and collects its output.
    pub fn output(&self) -> anyhow::Result<Output> {
        self.command()
            .output()
            .with_context(|| format!("failed to run {}", self.describe()))
    }

    /// Runs it to completion: its stdout if it succeeded, else an error
    /// with both of its outputs.
    pub fn run(&self) -> anyhow::Result<String> {
        let output = self.output()?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!(
                "{} failed ({}):\n{stdout}\n{}",
                self.describe(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(stdout)
    }

    /// Starts it as a [`Process`] called `name` (in messages).
    pub fn spawn(&self, name: &str) -> anyhow::Result<Process> {
        let started = Instant::now();
        let mut command = self.command();
        command.stdout(Stdio::piped());
        command.stderr(if self.merge_stderr {
            Stdio::piped()
        } else {
            Stdio::inherit()
        });
        let mut child = command
            .spawn()
            .with_context(|| format!("failed to start {name}: {}", self.describe()))?;
        let (sender, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            forward(stdout, sender.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            forward(stderr, sender);
        }
        Ok(Process {
            name: name.to_owned(),
            child,
            lines: Mutex::new(Lines {
                receiver: lines,
                seen: Vec::new(),
            }),
            endpoint: None,
            started,
            ready_after: None,
        })
    }
}

/// Forwards a child's output lines to a channel, on a thread of its own so
/// a chatty process never blocks on a full pipe.
fn forward(reader: impl Read + Send + 'static, sender: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
}

/// The output lines of a process: those read so far, and the rest to come.
#[derive(Debug)]
struct Lines {
    receiver: mpsc::Receiver<String>,
    seen: Vec<String>,
}

/// A running child process; killed when dropped.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    lines: Mutex<Lines>,
    endpoint: Option<String>,
    started: Instant,
    ready_after: Option<Duration>,
}

impl Process {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first output line since the start that contains `marker`, if
    /// one comes in time (whatever was waited for before, so the order in
    /// which a process prints its lines does not matter).
    pub fn try_wait_for_line(&self, marker: &str, timeout: Duration) -> Option<String> {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(line) = lines.seen.iter().find(|line| line.contains(marker)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.receiver.recv_timeout(left).ok()?;
            lines.seen.push(line.clone());
            if line.contains(marker) {
                return Some(line);
            }
        }
    }

    /// The first output line containing `marker`, or an error once
    /// `timeout` has passed or the process has closed its output.
    pub fn wait_for_line(&self, marker: &str, timeout: Duration) -> anyhow::Result<String> {
        self.try_wait_for_line(marker, timeout)
            .with_context(|| format!("{}: no line with {marker:?}", self.name))
    }

    /// The `127.0.0.1:PORT` of the first line containing `marker` (what
    /// `tasknet up` and `tasknet serve` print once they listen).
    pub fn listening_address(&self, marker: &str) -> anyhow::Result<String> {
        let line = self.wait_for_line(marker, READY_TIMEOUT)?;
        address_in(&line).with_context(|| format!("{}: no address in {line:?}", self.name))
    }

    /// Learns its endpoint from the first line containing `marker`, then
    /// waits until gRPC health answers SERVING for `health_service` (""
    /// for the whole server).
    pub async fn ready(&mut self, marker: &str, health_service: &str) -> anyhow::Result<&str> {
        let address = self.listening_address(marker)?;
        let endpoint = format!("http://{address}");
        let deadline = Instant::now() + READY_TIMEOUT;
        while !serving(&endpoint, health_service).await {
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("{} exited with {status} while starting", self.name);
            }
            if Instant::now() > deadline {
                bail!("{} did not answer health SERVING in time", self.name);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.ready_after = Some(self.started.elapsed());
        Ok(self.endpoint.insert(endpoint))
    }

    /// `http://127.0.0.1:PORT`, once [`Process::ready`].
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_deref().unwrap_or_default()
    }

    /// From spawning to health SERVING, once [`Process::ready`].
    pub fn ready_after(&self) -> Duration {
        self.ready_after.unwrap_or_default()
    }

    /// When the process was spawned.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// A `/proc/PID/status` figure given in kB (`VmHWM`, the peak resident
    /// set size; `RssAnon`; `RssFile`), in bytes.
    pub fn status_bytes(&self, field: &str) -> anyhow::Result<u64> {
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("failed to read /proc/{pid}/status"))?;
        status_field(&status, field).with_context(|| format!("no {field} in /proc/{pid}/status"))
    }

    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        self.status_bytes("VmHWM")
    }

    /// The peak RSS and the current anonymous / file-backed split, for
    /// reports. SQLite databases are memory-mapped, and their mapped pages
    /// count in RSS though they are the kernel's page cache, shared and
    /// reclaimable; the split tells them from the process's own memory.
    pub fn memory_text(&self) -> anyhow::Result<String> {
        Ok(format!(
            "{} (now: {} anonymous, {} file-backed)",
            mib(self.peak_rss()?),
            mib(self.status_bytes("RssAnon")?),
            mib(self.status_bytes("RssFile")?)
        ))
    }

    /// SIGKILL: no clean-up, no flushing, as a power cut or the OOM killer.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`]; fails unless the
    /// process exits successfully within the limit.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        let pid = Pid::from_raw(i32::try_from(self.pid())?);
        // It may have exited meanwhile; the wait below tells.
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("{} exited with {status}", self.name);
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("{} did not stop on SIGTERM; killed", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `127.0.0.1:PORT` in a line.
pub fn address_in(line: &str) -> Option<String> {
    line.split_whitespace()
        .find(|word| word.starts_with("127.0.0.1:"))
        .map(|word| word.trim_end_matches([',', ')', '(']).to_owned())
}

/// Whether `endpoint` answers health SERVING for `service`.
pub async fn serving(endpoint: &str, service: &str) -> bool {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let Ok(channel) = tasknet_server::connect_lazy(endpoint) else {
        return false;
    };
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    let answer = tokio::time::timeout(
        Duration::from_secs(2),
        HealthClient::new(channel).check(request),
    )
    .await;
    matches!(answer, Ok(Ok(response)) if response.get_ref().status == ServingStatus::Serving as i32)
}

/// A `/proc/PID/status` field given in kB, in bytes.
fn status_field(status: &str, name: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?;
    let kilobytes: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// Peak resident set size (`VmHWM`) of this process, in bytes.
pub fn own_peak_rss() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status_field(&status, "VmHWM").context("no VmHWM in /proc/self/status")
}

/// Megabytes (MiB) with one decimal, for reports.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_bytes() {
        let status = "Name:\ttasknet\nVmPeak:\t  200 kB\nVmHWM:\t   1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(status_field(status, "VmHWM"), Some(1234 * 1024));
        assert_eq!(status_field(status, "VmRSS"), Some(1000 * 1024));
        assert_eq!(status_field("Name: x\n", "VmHWM"), None);
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        assert!(own_peak_rss().is_ok_and(|bytes| bytes > 0));
    }

    #[test]
    fn addresses_are_found_in_banners() {
        assert_eq!(
            address_in("tasknet is up on 127.0.0.1:4000 (organisation, …)").as_deref(),
            Some("127.0.0.1:4000")
        );
        assert_eq!(address_in("no address here"), None);
    }
}
