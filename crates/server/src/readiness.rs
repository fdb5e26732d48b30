//! Health that tells the truth: each service registers checks of what it
//! needs to do its job (its database answering; reporting following the
//! change log), and the server reports the service NOT_SERVING under its
//! own name while one fails. The empty name (liveness) stays SERVING: a
//! restart would not bring the database back.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::Shutdown;

/// A check: `Err` names what is wrong.
pub type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The checks of the services a server runs, run every `interval`.
#[derive(Clone)]
pub struct Readiness {
    checks: Vec<(String, Check)>,
    interval: Duration,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            checks: Vec::new(),
            interval: Duration::from_secs(2),
        }
    }
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Readiness")
            .field("checks", &names)
            .field("interval", &self.interval)
            .finish()
    }
}

impl Readiness {
    /// Adds a check of the service named `service` (its fully qualified gRPC name).
    pub fn with(mut self, service: &str, check: Check) -> Self {
        self.checks.push((service.to_owned(), check));
        self
    }

    /// This server's checks and `other`'s (several services on one server).
    pub fn and(mut self, other: Readiness) -> Self {
        self.checks.extend(other.checks);
        self
    }

    /// Checks every `interval` (tests use a short one).
    pub fn every(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Runs the checks until shutdown, setting each service's status when it
    /// changes. After shutdown the server owns the statuses (NOT_SERVING).
    pub(crate) async fn watch(self, reporter: HealthReporter, shutdown: Shutdown) {
        if self.checks.is_empty() {
            return;
        }
        let mut names: Vec<&str> = self.checks.iter().map(|(name, _)| name.as_str()).collect();
        names.dedup();
        let mut serving: Vec<bool> = vec![true; names.len()];
        loop {
            for (index, name) in names.iter().enumerate() {
                let problem = self.first_problem(name).await;
                if shutdown.is_triggered() {
                    return;
                }
                let ok = problem.is_none();
                if ok != serving[index] {
                    serving[index] = ok;
                    let status = if ok {
                        tracing::info!(service = name, "can do its job again: SERVING");
                        ServingStatus::Serving
                    } else {
                        tracing::warn!(
                            service = name,
                            problem = problem.as_deref().unwrap_or(""),
                            "cannot do its job: NOT_SERVING"
                        );
                        ServingStatus::NotServing
                    };
                    reporter.set_service_status(*name, status).await;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                () = shutdown.wait() => return,
            }
        }
    }

    async fn first_problem(&self, service: &str) -> Option<String> {
        for (_, check) in self.checks.iter().filter(|(name, _)| name == service) {
            match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => {}
                Ok(Err(problem)) => return Some(problem),
                Err(_) => return Some(format!("a check took longer than {CHECK_TIMEOUT:?}")),
            }
        }
        None
    }
}
