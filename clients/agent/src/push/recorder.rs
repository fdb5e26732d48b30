//! Writes what the centre answered back to the outbox, off the pusher's
//! path: answers queue up while a transaction commits and go in the next
//! one, so 256 acknowledgements cost one fsync, not 256.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::outbox::{Outbox, Outcome};

/// Most answers per transaction.
const MAX_BATCH: usize = 1024;

enum Message {
    Outcome(Outcome),
    Error(i64, String),
    Flush(oneshot::Sender<()>),
}

/// The recorder task and the way to it.
pub struct Recorder {
    sender: mpsc::UnboundedSender<Message>,
    task: JoinHandle<()>,
}

impl Recorder {
    pub fn start(outbox: Outbox) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(outbox, receiver));
        Self { sender, task }
    }

    pub fn outcome(&self, outcome: Outcome) {
        // The task ends only when this handle is dropped.
        let _ = self.sender.send(Message::Outcome(outcome));
    }

    /// Remembers the latest failure, for `status`.
    pub fn error(&self, message: String) {
        let now = crate::outbox::micros(chrono::Utc::now());
        let _ = self.sender.send(Message::Error(now, message));
    }

    /// Waits until everything sent before is committed (or failed to be).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Writes what is queued and stops.
    pub async fn close(self) {
        drop(self.sender);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the outbox recorder panicked");
        }
    }
}

async fn run(outbox: Outbox, mut receiver: mpsc::UnboundedReceiver<Message>) {
    while let Some(first) = receiver.recv().await {
        let mut outcomes = Vec::new();
        let mut last_error = None;
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Outcome(outcome) => outcomes.push(outcome),
                Message::Error(at, text) => last_error = Some((at, text)),
                Message::Flush(done) => flushes.push(done),
            }
            if outcomes.len() < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !outcomes.is_empty() || last_error.is_some() {
            // On failure the rows stay pending and are sent again later,
            // which the centre acknowledges as duplicates: nothing is lost.
            if let Err(error) = outbox.record(&outcomes, last_error.as_ref()).await {
                tracing::error!(%error, cause = ?error, rows = outcomes.len(), "failed to record answers in the outbox");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
