//! Shutdown as a value: a future that resolves once the process should stop,
//! cloneable so every part of a process can wait on the same signal, and
//! the tracker of the tasks spawned on its behalf, so that they are all
//! awaited before the process exits (tokio-util's `CancellationToken` and
//! `TaskTracker`).

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A shared shutdown trigger. `trigger` once; every `wait` returns. Tasks
/// started with [`Shutdown::spawn`] are awaited by [`Shutdown::finished`].
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once `trigger` has been called (at once if it already was).
    pub async fn wait(&self) {
        self.token.cancelled().await;
    }

    /// The underlying token, for code that takes a `CancellationToken`.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Spawns a task that shutdown waits for: it should itself end soon
    /// after `wait` resolves.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Tasks spawned with [`Shutdown::spawn`] that have not finished.
    pub fn running_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Waits until every task spawned with [`Shutdown::spawn`] has finished,
    /// at most `limit`; `false` if some were still running then. Tasks can
    /// still be spawned while it waits (a stream opened during the drain).
    pub async fn finished(&self, limit: Duration) -> bool {
        // `wait` resolves only once the tracker is closed and empty; closing
        // does not refuse new spawns.
        self.tasks.close();
        let finished = tokio::time::timeout(limit, self.tasks.wait()).await.is_ok();
        if !finished {
            tracing::warn!(
                running = self.tasks.len(),
                ?limit,
                "tasks still running at shutdown; leaving them"
            );
        }
        finished
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes and Docker send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT, shutting down"),
        () = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spawned_tasks_are_awaited_after_the_trigger() {
        let shutdown = Shutdown::new();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let waiting = shutdown.clone();
        shutdown.spawn(async move {
            waiting.wait().await;
            let _ = sender.send("stopped");
        });
        assert_eq!(shutdown.running_tasks(), 1);
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        assert!(shutdown.is_triggered());
        assert!(shutdown.finished(Duration::from_secs(60)).await);
        assert_eq!(shutdown.running_tasks(), 0);
        assert_eq!(receiver.await.unwrap(), "stopped");
    }

    #[tokio::test]
    async fn a_task_that_does_not_stop_is_reported() {
        let shutdown = Shutdown::new();
        shutdown.spawn(std::future::pending::<()>());
        shutdown.trigger();
        assert!(!shutdown.finished(Duration::from_millis(10)).await);
        assert_eq!(shutdown.running_tasks(), 1);
    }
}
