//! One push session: a few `Ingest` streams on one fresh connection, fed
//! from the schedule with a bounded window each, until the schedule is
//! empty, the link fails, or shutdown. Answers come back in order per
//! stream; each is matched to what was sent and recorded.

use std::collections::VecDeque;
use std::time::Instant;

use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};
use tasknet_proto::tonic::{Code, Status};
use tasknet_proto::v1;
use tasknet_proto::v1::ingest_response::Outcome as Wire;
use tasknet_server::Shutdown;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_stream::wrappers::ReceiverStream;

use super::connect::Client;
use super::recorder::Recorder;
use super::schedule::{Item, Schedule};
use super::stats::PushStats;
use crate::config::PushSettings;
use crate::outbox::{Outcome, now_us};
use tasknet_server::backoff;

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// Everything in the schedule was answered (acknowledged or parked).
    Drained,
    /// Nothing in flight, and what is left waits out retry delays: the
    /// caller waits (looking for new updates meanwhile) and starts afresh.
    Waiting,
    /// The link failed; unanswered updates went back to the schedule.
    Failed(String),
    /// Shutdown; in-flight updates were answered or went back.
    Stopped,
}

/// What a session needs besides the connection and the schedule.
pub struct SessionContext<'a> {
    pub settings: &'a PushSettings,
    pub recorder: &'a Recorder,
    pub stats: &'a PushStats,
    pub shutdown: &'a Shutdown,
}

/// Whether the centre refused an update for good (park it) rather than
/// failing to handle it now (retry it).
pub fn refused_for_good(code: i32) -> bool {
    matches!(
        Code::from_i32(code),
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented
    )
}

struct Sent {
    seq: i64,
    update_id: String,
    task_id: String,
}

/// One stream: where to send, and what awaits an answer, in order.
struct Lane {
    sender: mpsc::Sender<v1::IngestRequest>,
    in_flight: VecDeque<Sent>,
}

type Answers = SelectAll<BoxStream<'static, (usize, Option<Result<v1::IngestResponse, Status>>)>>;

struct Session<'a, 's> {
    lanes: Vec<Lane>,
    schedule: &'s mut Schedule,
    context: &'s SessionContext<'a>,
    /// When an answer last arrived (or work last started after a quiet spell).
    last_progress: Instant,
    acknowledged: u64,
}

/// Runs one session. `acknowledged` in the result tells the caller whether
/// the session got anywhere (to reset its backoff).
pub async fn run(
    client: Client,
    schedule: &mut Schedule,
    context: &SessionContext<'_>,
) -> (SessionEnd, u64) {
    let (lanes, answers) = match open(client, context.settings).await {
        Ok(opened) => opened,
        Err(reason) => return (SessionEnd::Failed(reason), 0),
    };
    let mut session = Session {
        lanes,
        schedule,
        context,
        last_progress: Instant::now(),
        acknowledged: 0,
    };
    let end = session.drive(answers).await;
    session.return_in_flight();
    (end, session.acknowledged)
}

/// Opens the streams. The call returns once the centre has answered with
/// its response headers, which it does before reading anything.
async fn open(client: Client, settings: &PushSettings) -> Result<(Vec<Lane>, Answers), String> {
    let window = settings.window.max(1);
    let mut lanes = Vec::new();
    let mut answers = SelectAll::new();
    for index in 0..settings.streams.max(1) {
        let (sender, receiver) = mpsc::channel(window);
        let mut client = client.clone();
        let call = client.ingest(ReceiverStream::new(receiver));
        let response = match tokio::time::timeout(settings.ack_timeout(), call).await {
            Ok(Ok(response)) => response.into_inner(),
            Ok(Err(status)) => return Err(describe(&status)),
            Err(_) => return Err("the centre did not open the ingest stream in time".to_owned()),
        };
        let tagged = response
            .map(move |answer| (index, Some(answer)))
            .chain(futures::stream::once(async move { (index, None) }));
        answers.push(tagged.boxed());
        lanes.push(Lane {
            sender,
            in_flight: VecDeque::new(),
        });
    }
    Ok((lanes, answers))
}

fn describe(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

impl Session<'_, '_> {
    async fn drive(&mut self, mut answers: Answers) -> SessionEnd {
        let ack_timeout = self.context.settings.ack_timeout();
        let mut stopping = false;
        loop {
            if !stopping && let Err(reason) = self.feed() {
                return SessionEnd::Failed(reason);
            }
            let in_flight = self.in_flight();
            if in_flight == 0 {
                if stopping {
                    return SessionEnd::Stopped;
                }
                if self.schedule.is_empty() {
                    return SessionEnd::Drained;
                }
                if !self.schedule.has_ready(Instant::now()) {
                    return SessionEnd::Waiting;
                }
            }
            let stalled_at = self.last_progress + ack_timeout;
            let due = self.schedule.next_due().filter(|_| !stopping);
            tokio::select! {
                answer = answers.next() => {
                    if let Err(reason) = self.answer(answer) {
                        return SessionEnd::Failed(reason);
                    }
                }
                () = tokio::time::sleep_until(stalled_at.into()), if in_flight > 0 => {
                    return SessionEnd::Failed(format!(
                        "no answer from the centre for {ack_timeout:?} with {in_flight} update(s) in flight"
                    ));
                }
                () = sleep_until_due(due), if due.is_some() => {}
                () = self.context.shutdown.wait(), if !stopping => {
                    // Stop sending; give what is in flight its time to be answered.
                    stopping = true;
                    self.last_progress = Instant::now();
                }
            }
        }
    }

    fn in_flight(&self) -> usize {
        self.lanes.iter().map(|lane| lane.in_flight.len()).sum()
    }

    /// Sends ready updates while some stream has room.
    fn feed(&mut self) -> Result<(), String> {
        let window = self.context.settings.window.max(1);
        let now = Instant::now();
        while let Some(lane) = self.roomiest_lane(window) {
            let Some(item) = self.schedule.next_ready(now) else {
                break;
            };
            if self.in_flight() == 0 {
                // The stall clock starts when there is something to answer.
                self.last_progress = now;
            }
            self.send(lane, item)?;
        }
        Ok(())
    }

    fn roomiest_lane(&self, window: usize) -> Option<usize> {
        self.lanes
            .iter()
            .enumerate()
            .filter(|(_, lane)| lane.in_flight.len() < window)
            .min_by_key(|(_, lane)| lane.in_flight.len())
            .map(|(index, _)| index)
    }

    fn send(&mut self, lane: usize, item: Item) -> Result<(), String> {
        let Item {
            seq,
            update_id,
            task_id,
            request,
        } = item;
        match self.lanes[lane].sender.try_send(request) {
            Ok(()) => {
                self.lanes[lane].in_flight.push_back(Sent {
                    seq,
                    update_id,
                    task_id,
                });
                Ok(())
            }
            // The window keeps the channel from filling; a full one is a bug
            // worth surviving: the update simply goes again later.
            Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => {
                self.schedule.returned(&task_id);
                Err("the ingest stream stopped taking updates".to_owned())
            }
        }
    }

    /// Handles one answer (or the end of a stream).
    fn answer(
        &mut self,
        answer: Option<(usize, Option<Result<v1::IngestResponse, Status>>)>,
    ) -> Result<(), String> {
        let Some((lane, answer)) = answer else {
            return Err("every ingest stream ended".to_owned());
        };
        let response = match answer {
            Some(Ok(response)) => response,
            Some(Err(status)) => {
                return Err(format!("ingest stream failed: {}", describe(&status)));
            }
            None => return Err("the centre ended an ingest stream".to_owned()),
        };
        self.last_progress = Instant::now();
        let Some(sent) = self.lanes[lane].in_flight.pop_front() else {
            return Err(format!(
                "the centre answered {} which was not sent",
                response.update_id
            ));
        };
        if response.update_id != sent.update_id {
            let reason = format!(
                "the centre answered {} where {} was due",
                response.update_id, sent.update_id
            );
            self.schedule.returned(&sent.task_id);
            return Err(reason);
        }
        self.settle(sent, response.outcome);
        Ok(())
    }

    /// Records an answer and moves the task on (or holds it, or delays it).
    fn settle(&mut self, sent: Sent, outcome: Option<Wire>) {
        let at_us = now_us();
        match outcome {
            Some(Wire::Ack(ack)) => {
                self.acknowledged += 1;
                self.context.stats.acknowledged(ack.duplicate);
                self.context.recorder.outcome(Outcome::Sent {
                    seq: sent.seq,
                    at_us,
                    version: ack.version,
                    cursor: ack.cursor,
                    duplicate: ack.duplicate,
                });
                self.schedule.acked(&sent.task_id);
            }
            Some(Wire::Error(error)) if refused_for_good(error.code) => {
                let held = self.schedule.parked(&sent.task_id);
                tracing::warn!(update_id = %sent.update_id, task_id = %sent.task_id, code = error.code,
                    message = %error.message, held, "the centre refused an update; parked");
                self.context.stats.parked();
                self.context.recorder.outcome(Outcome::Parked {
                    seq: sent.seq,
                    at_us,
                    code: error.code,
                    message: error.message,
                    field: error.field,
                });
            }
            other => {
                let message = match other {
                    Some(Wire::Error(error)) => {
                        format!("{:?}: {}", Code::from_i32(error.code), error.message)
                    }
                    _ => "the centre answered without an outcome".to_owned(),
                };
                self.retry_later(&sent, message);
            }
        }
    }

    /// A transient failure of one update: its task waits out a backoff.
    fn retry_later(&mut self, sent: &Sent, message: String) {
        let settings = self.context.settings;
        let failures = self.schedule.failed(&sent.task_id);
        let delay = backoff::delay(
            settings.backoff_initial(),
            settings.backoff_max(),
            failures.saturating_sub(1),
            rand::random(),
        );
        self.schedule
            .retry_at(&sent.task_id, Instant::now() + delay);
        tracing::debug!(update_id = %sent.update_id, %message, ?delay, "update failed for now; retrying");
        self.context.stats.retried();
        self.context
            .recorder
            .error(format!("update {}: {message}", sent.update_id));
    }

    /// After a failure or shutdown: whatever was unanswered goes again later.
    fn return_in_flight(&mut self) {
        for lane in &mut self.lanes {
            for sent in lane.in_flight.drain(..) {
                self.schedule.returned(&sent.task_id);
            }
        }
    }
}

async fn sleep_until_due(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
