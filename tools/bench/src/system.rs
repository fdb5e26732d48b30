//! The services as separate OS processes (`tasknet serve organisation|task|reporting`)
//! on loopback ports, for the benchmarks: started on SQLite files in a data
//! directory or in a throw-away PostgreSQL database, waited for until each
//! answers health SERVING, measured (peak RSS from `/proc`), and stopped with
//! SIGTERM (then SIGKILL). Every process is killed when its handle is
//! dropped, so a failing benchmark leaves nothing running.
//!
//! ```ignore
//! let storage = Storage::postgres(url, "tasknet_bench_ingest").await?;
//! let system = System::start(tasknet, &storage, work_dir).await?;
//! let office = system.issue_credential(Role::OfficeAgent, &unit_id).await?;
//! // … push to system.task.endpoint() …
//! let rss = system.peak_rss();
//! system.stop().await?;
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tasknet_auth::Token;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_server::ClientOptions;
use tasknet_storage::scratch::ScratchDatabase;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a process may take to print its address and answer SERVING.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a process may drain after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the services keep their data.
pub enum Storage {
    /// A SQLite file per service in this directory.
    Sqlite(PathBuf),
    /// One PostgreSQL database (a schema per service), dropped with this value.
    Postgres(ScratchDatabase),
}

impl Storage {
    /// A fresh PostgreSQL database `name` on the server of `server_url`.
    pub async fn postgres(server_url: &str, name: &str) -> anyhow::Result<Self> {
        let database = ScratchDatabase::create(server_url, name)
            .await
            .with_context(|| format!("failed to create database {name} on {server_url}"))?;
        Ok(Self::Postgres(database))
    }

    /// The database URL of `service` ("organisation", "task", "reporting").
    pub fn url(&self, service: &str) -> String {
        match self {
            Storage::Sqlite(dir) => tasknet_storage::sqlite_url(&dir.join(format!("{service}.db"))),
            Storage::Postgres(database) => database.url().to_owned(),
        }
    }

    pub fn backend(&self) -> tasknet_storage::Backend {
        match self {
            Storage::Sqlite(_) => tasknet_storage::Backend::Sqlite,
            Storage::Postgres(_) => tasknet_storage::Backend::Postgres,
        }
    }

    /// "SQLite" or "PostgreSQL", for reports.
    pub fn label(&self) -> &'static str {
        match self.backend() {
            tasknet_storage::Backend::Sqlite => "SQLite",
            tasknet_storage::Backend::Postgres => "PostgreSQL",
        }
    }
}

/// One running `tasknet` process; killed when dropped.
pub struct ServiceProcess {
    name: String,
    child: Child,
    endpoint: String,
    started: Instant,
    ready_after: Duration,
}

impl ServiceProcess {
    /// Runs `tasknet ARGS` in `dir` and waits until it prints a line containing
    /// `marker` with its `127.0.0.1:PORT` address and then answers health
    /// SERVING for `health_service` ("" for the whole server). Other lines
    /// containing `also_wait_for` (if any) must appear before it counts as ready.
    pub async fn spawn(
        tasknet: &Path,
        name: &str,
        args: &[&str],
        dir: &Path,
        marker: &str,
        health_service: &str,
    ) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut child = Command::new(tasknet)
            .args(args)
            .current_dir(dir)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env_remove("TASKNET_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("failed to start {name}: {}", tasknet.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the child's stdout is not piped")?;
        let mut lines = forward_lines(stdout);
        let mut process = Self {
            name: name.to_owned(),
            child,
            endpoint: String::new(),
            started,
            ready_after: Duration::ZERO,
        };
        let line = process.wait_for_line(&mut lines, marker).await?;
        let address = line
            .split_whitespace()
            .find(|word| word.starts_with("127.0.0.1:"))
            .with_context(|| format!("{name}: no address in {line:?}"))?;
        process.endpoint = format!("http://{}", address.trim_end_matches([',', ')', '(']));
        process.wait_serving(health_service).await?;
        process.ready_after = started.elapsed();
        // Keep draining stdout, so a chatty process never blocks on a full pipe.
        tokio::spawn(async move { while lines.recv().await.is_some() {} });
        Ok(process)
    }

    async fn wait_for_line(
        &mut self,
        lines: &mut mpsc::UnboundedReceiver<String>,
        marker: &str,
    ) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, lines.recv()).await {
                Ok(Some(line)) if line.contains(marker) => return Ok(line),
                Ok(Some(_)) => {}
                Ok(None) => bail!(
                    "{} exited before printing {marker:?} ({:?})",
                    self.name,
                    self.child.try_wait().ok().flatten()
                ),
                Err(_) => bail!("{} did not print {marker:?} in time", self.name),
            }
        }
    }

    /// Polls gRPC health until `service` is SERVING.
    async fn wait_serving(&mut self, service: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if serving(&self.endpoint, service).await {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("{} exited with {status} while starting", self.name);
            }
            if Instant::now() > deadline {
                bail!("{} did not answer health SERVING in time", self.name);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// From spawning to health SERVING.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// When the process was spawned.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        let pid = self.pid().context("the process has exited")?;
        peak_rss(pid)
    }

    /// The peak RSS and the current anonymous / file-backed split, for reports.
    pub fn memory_text(&self) -> anyhow::Result<String> {
        let pid = self.pid().context("the process has exited")?;
        let (anon, file) = rss_split(pid)?;
        Ok(format!(
            "{} (now: {} anonymous, {} file-backed)",
            mib(peak_rss(pid)?),
            mib(anon),
            mib(file)
        ))
    }

    /// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`]; fails unless the
    /// process exits successfully within the limit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
            // It may have exited meanwhile; the wait below tells.
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("{} exited with {status}", self.name);
                }
                Ok(())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                bail!("{} did not stop on SIGTERM; killed", self.name)
            }
        }
    }
}

/// Forwards a child's stdout lines to a channel (closed when it exits).
fn forward_lines(stdout: tokio::process::ChildStdout) -> mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
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

/// Peak resident set size (`VmHWM` in `/proc/PID/status`) of `pid`, in bytes.
pub fn peak_rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("failed to read /proc/{pid}/status"))?;
    parse_vm_hwm(&status).with_context(|| format!("no VmHWM in /proc/{pid}/status"))
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status_field(status, "VmHWM:")
}

/// A `/proc/PID/status` field given in kB, in bytes.
fn status_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(name))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// The resident set now, split: (anonymous, file-backed) bytes. SQLite
/// databases are memory-mapped (`mmap_size`), and their mapped pages count
/// in RSS and VmHWM though they are the kernel's page cache, shared and
/// reclaimable; the split tells them from the process's own memory.
pub fn rss_split(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("failed to read /proc/{pid}/status"))?;
    let anon = status_field(&status, "RssAnon:").context("no RssAnon")?;
    let file = status_field(&status, "RssFile:").context("no RssFile")?;
    Ok((anon, file))
}

/// The three services, each its own `tasknet serve` process.
pub struct System {
    pub organisation: ServiceProcess,
    pub task: ServiceProcess,
    pub reporting: ServiceProcess,
    /// The administrator credential the organisation service created.
    pub admin: ClientOptions,
    /// Where `admin.token` and `service.token` are.
    pub credentials_dir: PathBuf,
}

impl System {
    /// Starts organisation, then task, then reporting on `storage`, with
    /// credentials in `work_dir/credentials`, and waits until each serves.
    pub async fn start(tasknet: &Path, storage: &Storage, work_dir: &Path) -> anyhow::Result<Self> {
        let serve = |service: &'static str, extra: Vec<String>| {
            let mut args: Vec<String> = ["serve", service, "--listen", "127.0.0.1:0"]
                .map(str::to_owned)
                .to_vec();
            args.extend(["--database-url".to_owned(), storage.url(service)]);
            args.extend(["--credentials-dir".to_owned(), "credentials".to_owned()]);
            args.extend(extra);
            args
        };
        let start = |service: &'static str, args: Vec<String>, health: &'static str| async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ServiceProcess::spawn(tasknet, service, &args, work_dir, "listening on", health).await
        };
        let organisation = start(
            "organisation",
            serve("organisation", vec![]),
            "tasknet.v1.OrganisationService",
        )
        .await?;
        let credentials_dir = work_dir.join("credentials");
        let admin = read_token(&credentials_dir.join("admin.token"))?;
        let org_flag = |mut extra: Vec<String>| {
            extra.extend([
                "--organisation-endpoint".to_owned(),
                organisation.endpoint().to_owned(),
            ]);
            extra
        };
        let task = start(
            "task",
            serve("task", org_flag(vec![])),
            "tasknet.v1.TaskService",
        )
        .await?;
        let reporting = start(
            "reporting",
            serve(
                "reporting",
                org_flag(vec![
                    "--task-endpoint".to_owned(),
                    task.endpoint().to_owned(),
                ]),
            ),
            "tasknet.v1.ReportingService",
        )
        .await?;
        Ok(Self {
            organisation,
            task,
            reporting,
            admin,
            credentials_dir,
        })
    }

    /// Loads the built-in reference units (headquarters, departments, the
    /// 63 provincial offices) and returns every unit.
    pub async fn load_units(&self) -> anyhow::Result<Vec<v1::Unit>> {
        tasknet_demo::load_units(self.organisation.endpoint(), &self.admin).await
    }

    /// A new credential of `role` for `unit_id`, as `tasknet admin token create` issues it.
    pub async fn issue_credential(
        &self,
        role: v1::Role,
        unit_id: &str,
        label: &str,
    ) -> anyhow::Result<ClientOptions> {
        issue_credential(
            self.organisation.endpoint(),
            &self.admin,
            role,
            unit_id,
            label,
        )
        .await
    }

    /// Each process's [`ServiceProcess::memory_text`]: `[(name, text)]`.
    pub fn memory_text(&self) -> anyhow::Result<Vec<(String, String)>> {
        [&self.organisation, &self.task, &self.reporting]
            .into_iter()
            .map(|process| Ok((process.name().to_owned(), process.memory_text()?)))
            .collect()
    }

    /// Peak RSS of each process: `[(name, bytes)]`.
    pub fn peak_rss(&self) -> anyhow::Result<Vec<(String, u64)>> {
        [&self.organisation, &self.task, &self.reporting]
            .into_iter()
            .map(|process| Ok((process.name().to_owned(), process.peak_rss()?)))
            .collect()
    }

    /// Stops reporting, task, then organisation (the reverse of their
    /// dependencies); fails if any did not exit cleanly.
    pub async fn stop(self) -> anyhow::Result<()> {
        let reporting = self.reporting.stop().await;
        let task = self.task.stop().await;
        let organisation = self.organisation.stop().await;
        reporting.and(task).and(organisation)
    }
}

/// Issues a credential through the organisation service at `endpoint`.
pub async fn issue_credential(
    endpoint: &str,
    admin: &ClientOptions,
    role: v1::Role,
    unit_id: &str,
    label: &str,
) -> anyhow::Result<ClientOptions> {
    let channel = tasknet_server::connect_lazy_with(endpoint, admin)?;
    let response = OrganisationServiceClient::new(channel)
        .issue_credential(v1::IssueCredentialRequest {
            unit_id: unit_id.to_owned(),
            role: role as i32,
            label: label.to_owned(),
            expire_time: None,
        })
        .await
        .with_context(|| format!("IssueCredential for unit {unit_id} failed"))?;
    Ok(ClientOptions::with_token(Token::new(
        response.into_inner().token,
    )))
}

/// A client carrying the token in `path` (as `admin.token` is written).
pub fn read_token(path: &Path) -> anyhow::Result<ClientOptions> {
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    Ok(ClientOptions::with_token(Token::new(token)))
}

/// Megabytes (MiB) with one decimal, for reports.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_bytes() {
        let status = "Name:\ttasknet\nVmPeak:\t  200 kB\nVmHWM:\t   1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(1234 * 1024));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        assert!(peak_rss(std::process::id()).is_ok_and(|bytes| bytes > 0));
    }
}
