//! The pusher: loads what is unsent from the outbox, pushes it to the
//! centre's `Ingest` in sessions, and after a failed connection or session
//! waits (exponential backoff with jitter) and starts over from the outbox,
//! which says exactly what is still unacknowledged.

pub(crate) mod connect;
mod recorder;
mod schedule;
mod session;
mod stats;

use std::time::{Duration, Instant};

use tasknet_proto::tonic::transport::Endpoint;
use tasknet_server::Shutdown;
use tasknet_server::backoff::Backoff;
use tokio::sync::Notify;

use crate::config::AgentConfig;
use crate::error::Result;
use crate::outbox::{Outbox, Outcome, now_us};
use connect::Credentials;
use recorder::Recorder;
use schedule::{Delays, Schedule};
use session::{SessionContext, SessionEnd};

pub use session::refused_for_good;
pub use stats::{PushReport, PushStats};

/// When a push stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// Only at shutdown: the agent's daemon (`tasknet agent run`).
    Shutdown,
    /// As soon as nothing is left that can be sent (or at shutdown).
    Drained,
}

/// One pusher over one outbox (the caller holds the pusher lock).
pub(crate) struct Pusher<'a> {
    pub outbox: &'a Outbox,
    pub config: &'a AgentConfig,
    pub endpoint: &'a Endpoint,
    pub credentials: &'a Credentials,
    pub wake: &'a Notify,
    pub stats: &'a PushStats,
}

impl Pusher<'_> {
    pub async fn run(&self, until: Until, shutdown: &Shutdown) -> Result<()> {
        let recorder = Recorder::start(self.outbox.clone());
        let result = self.cycle(until, shutdown, &recorder).await;
        recorder.close().await;
        result
    }

    async fn cycle(&self, until: Until, shutdown: &Shutdown, recorder: &Recorder) -> Result<()> {
        let settings = &self.config.push;
        let mut backoff = Backoff::new(settings.backoff_initial(), settings.backoff_max());
        // Retry delays of single updates, kept from one schedule to the next.
        let mut delays = Delays::new();
        while !shutdown.is_triggered() {
            // Reload only once every earlier answer is on disk.
            recorder.flush().await;
            let mut schedule = match self.load(recorder).await {
                Ok(schedule) => schedule,
                Err(error) if until == Until::Drained => return Err(error),
                Err(error) => {
                    tracing::error!(%error, cause = ?error, "cannot read the outbox");
                    pause(backoff.next_delay(), shutdown).await;
                    continue;
                }
            };
            schedule.restore(&delays, Instant::now());
            if schedule.is_empty() {
                if until == Until::Drained {
                    return Ok(());
                }
                self.idle(None, shutdown).await;
                continue;
            }
            if !schedule.has_ready(Instant::now()) {
                // All that is left waits out retry delays; new updates may come meanwhile.
                self.idle(schedule.next_due(), shutdown).await;
                delays = schedule.delays();
                continue;
            }
            let end = self
                .session(&mut schedule, recorder, shutdown, &mut backoff)
                .await;
            delays = schedule.delays();
            match end {
                SessionEnd::Drained | SessionEnd::Waiting => {}
                SessionEnd::Stopped => break,
                SessionEnd::Failed(reason) => {
                    let delay = backoff.next_delay();
                    self.link_failed(recorder, reason, delay, shutdown).await;
                }
            }
        }
        Ok(())
    }

    /// Connects and runs one session; a session that got anything
    /// acknowledged resets the backoff.
    async fn session(
        &self,
        schedule: &mut Schedule,
        recorder: &Recorder,
        shutdown: &Shutdown,
        backoff: &mut Backoff,
    ) -> SessionEnd {
        let settings = &self.config.push;
        let timeout = settings.connect_timeout();
        let client = match connect::connect(self.endpoint, self.credentials, timeout).await {
            Ok(client) => client,
            Err(reason) => return SessionEnd::Failed(reason),
        };
        let context = SessionContext {
            settings,
            recorder,
            stats: self.stats,
            shutdown,
        };
        let queued = schedule.remaining();
        let (end, acknowledged) = session::run(client, schedule, &context).await;
        if acknowledged > 0 {
            backoff.reset();
            let left = schedule.remaining();
            tracing::info!(acknowledged, queued, left, "pushed updates");
        }
        end
    }

    /// The schedule of unsent rows; rows that no longer decode are parked.
    async fn load(&self, recorder: &Recorder) -> Result<Schedule> {
        let rows = self
            .outbox
            .load_unsent(self.config.push.batch_rows.max(1))
            .await?;
        let (schedule, corrupt) = Schedule::load(rows);
        for row in corrupt {
            tracing::error!(seq = row.seq, update_id = %row.update_id, "outbox entry does not decode; parked");
            recorder.outcome(Outcome::Parked {
                seq: row.seq,
                at_us: now_us(),
                code: tasknet_proto::tonic::Code::DataLoss as i32,
                message: "the stored update does not decode; the outbox was damaged".to_owned(),
                field: String::new(),
            });
        }
        Ok(schedule)
    }

    /// Nothing to send now: wait for a submission in this process, a look
    /// at the outbox (other processes add to it too), the first retry
    /// delay to run out (`due`), or shutdown.
    async fn idle(&self, due: Option<Instant>, shutdown: &Shutdown) {
        let poll = Instant::now() + self.config.push.poll_interval();
        let until = due.map_or(poll, |due| due.min(poll));
        tokio::select! {
            () = self.wake.notified() => {}
            () = tokio::time::sleep_until(until.into()) => {}
            () = shutdown.wait() => {}
        }
    }

    async fn link_failed(
        &self,
        recorder: &Recorder,
        reason: String,
        delay: Duration,
        shutdown: &Shutdown,
    ) {
        tracing::warn!(%reason, ?delay, "cannot push now; retrying");
        self.stats.link_failed();
        recorder.error(reason);
        pause(delay, shutdown).await;
    }
}

async fn pause(delay: Duration, shutdown: &Shutdown) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = shutdown.wait() => {}
    }
}
