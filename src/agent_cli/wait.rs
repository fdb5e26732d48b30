//! `--wait`: push (or watch `tasknet agent run` push) until the updates are
//! answered or the time is up, then say what the centre answered.

use std::time::{Duration, Instant};

use tasknet_agent::{Agent, EntryState, OutboxEntry};
use tasknet_server::{Shutdown, shutdown_signal};
use uuid::Uuid;

use super::WaitArgs;

/// Pushes (or, if `tasknet agent run` is pushing, watches it) until the
/// updates are answered or the time is up; says what became of them.
pub async fn wait_for(agent: &Agent, update_ids: &[Uuid], wait: &WaitArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::new();
    let pushing = async {
        match agent.push_until_drained(shutdown.clone()).await {
            Err(tasknet_agent::Error::PusherBusy(_)) => {
                watch(agent, update_ids, &shutdown).await;
                Ok(())
            }
            other => other.map(|_| ()),
        }
    };
    tokio::pin!(pushing);
    let pushed = tokio::select! {
        pushed = &mut pushing => pushed,
        () = tokio::time::sleep(Duration::from_secs(wait.wait_timeout)) => {
            // Stop gracefully, so that every answer received is recorded.
            shutdown.trigger();
            pushing.await
        }
        () = shutdown_signal() => {
            shutdown.trigger();
            pushing.await
        }
    };
    pushed?;
    report(agent, update_ids).await
}

/// Until none of the updates is pending (another process pushes them).
async fn watch(agent: &Agent, update_ids: &[Uuid], shutdown: &Shutdown) {
    let started = Instant::now();
    while !shutdown.is_triggered() {
        let mut pending = false;
        for id in update_ids {
            pending |= matches!(agent.entry(*id).await, Ok(Some(entry)) if entry.state == EntryState::Pending);
        }
        if !pending {
            return;
        }
        let pause = if started.elapsed() < Duration::from_secs(5) {
            100
        } else {
            500
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(pause)) => {}
            () = shutdown.wait() => {}
        }
    }
}

async fn report(agent: &Agent, update_ids: &[Uuid]) -> anyhow::Result<()> {
    let mut unsent = 0;
    let mut parked = 0;
    for id in update_ids {
        let Some(entry) = agent.entry(*id).await? else {
            continue;
        };
        match entry.state {
            EntryState::Sent if update_ids.len() == 1 => {
                let ack = entry.ack.as_ref();
                println!(
                    "sent: the centre applied it{} (task version {}, change {})",
                    if ack.is_some_and(|a| a.duplicate) {
                        " before"
                    } else {
                        ""
                    },
                    ack.map_or(0, |a| a.version),
                    ack.map_or(0, |a| a.cursor),
                );
            }
            EntryState::Sent => {}
            EntryState::Parked | EntryState::Discarded => {
                parked += 1;
                println!("parked: {}", describe_refusal(&entry));
            }
            EntryState::Pending => unsent += 1,
        }
    }
    if update_ids.len() > 1 {
        let sent = update_ids.len() - unsent - parked;
        println!("sent {sent}, parked {parked}, still pending {unsent}");
    }
    if unsent > 0 {
        let status = agent.status().await?;
        let why = status
            .last_error
            .unwrap_or_else(|| "the centre has not answered yet".into());
        anyhow::bail!(
            "{unsent} update(s) not pushed yet ({why}); they stay in the outbox for `tasknet agent run`"
        );
    }
    anyhow::ensure!(
        parked == 0,
        "the centre refused {parked} update(s); see `tasknet agent status`"
    );
    Ok(())
}

pub fn describe_refusal(entry: &OutboxEntry) -> String {
    match &entry.refusal {
        Some(refusal) => format!(
            "{} {} of task {}: {} {}",
            entry.update_id, entry.kind, entry.task_id, refusal.code, refusal.message
        ),
        None => format!(
            "{} {} of task {}",
            entry.update_id, entry.kind, entry.task_id
        ),
    }
}
