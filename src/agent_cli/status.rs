//! `tasknet agent status`: the counts, ages, last error and push, and the
//! parked updates, as a table for a person or as JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tasknet_agent::{Agent, AgentStatus, FeedState, OutboxEntry};
use uuid::Uuid;

use super::StatusFormat;
use super::wait::describe_refusal;

#[derive(Serialize)]
struct StatusJson<'a> {
    #[serde(flatten)]
    status: &'a AgentStatus,
    /// The local copy of the office's tasks.
    tasks: &'a FeedState,
    parked_updates: Vec<ParkedJson>,
}

#[derive(Serialize)]
struct ParkedJson {
    update_id: Uuid,
    task_id: Uuid,
    kind: String,
    entered_at: DateTime<Utc>,
    refusal: Option<tasknet_agent::Refusal>,
}

pub async fn status(agent: &Agent, format: StatusFormat) -> anyhow::Result<()> {
    let status = agent.status().await?;
    let parked = agent.parked(20).await?;
    let feed = agent.feed_state().await?;
    match format {
        StatusFormat::Json => {
            let parked_updates = parked
                .iter()
                .map(|entry| ParkedJson {
                    update_id: entry.update_id,
                    task_id: entry.task_id,
                    kind: entry.kind.to_string(),
                    entered_at: entry.entered_at,
                    refusal: entry.refusal.clone(),
                })
                .collect();
            let json = StatusJson {
                status: &status,
                tasks: &feed,
                parked_updates,
            };
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        StatusFormat::Table => print_status(&status, &feed, &parked),
    }
    Ok(())
}

fn print_status(status: &AgentStatus, feed: &FeedState, parked: &[OutboxEntry]) {
    let when = |at: Option<DateTime<Utc>>| {
        at.map_or_else(
            || "never".to_owned(),
            |at| format!("{} ({} ago)", at.format("%Y-%m-%d %H:%M:%S UTC"), age(at)),
        )
    };
    println!("unit            {}", status.unit_id);
    println!("centre          {}", status.endpoint);
    println!("outbox          {}", status.outbox.display());
    println!(
        "pusher          {}",
        if status.pusher_running {
            "running"
        } else {
            "not running"
        }
    );
    println!(
        "pending         {} ({} held behind parked updates)",
        status.pending, status.held
    );
    println!("sent            {}", status.sent);
    println!("parked          {}", status.parked);
    if status.discarded > 0 {
        println!("discarded       {}", status.discarded);
    }
    println!(
        "oldest pending  {}",
        status
            .oldest_pending
            .map_or_else(|| "none".to_owned(), |at| when(Some(at)))
    );
    println!("last push       {}", when(status.last_push));
    match (&status.last_error, status.last_error_at) {
        (Some(error), at) => println!("last error      {error} ({})", when(at)),
        _ => println!("last error      none"),
    }
    println!(
        "tasks           {} in the local copy, up to change {} (last news {})",
        feed.tasks,
        feed.cursor,
        when(feed.last_change)
    );
    if let (Some(error), at) = (&feed.last_error, feed.last_error_at) {
        println!("tasks error     {error} ({})", when(at));
    }
    for entry in parked {
        println!("  parked {}", describe_refusal(entry));
        let effective_order = entry
            .refusal
            .as_ref()
            .is_some_and(|refusal| refusal.code == "FAILED_PRECONDITION");
        if effective_order {
            println!(
                "    the centre's history of the task, in the order the changes took effect, \
                 does not allow it: see `tasknet agent tasks`, then retry or discard it"
            );
        }
    }
}

fn age(at: DateTime<Utc>) -> String {
    let seconds = (Utc::now() - at).num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86400 => format!("{} h", seconds / 3600),
        _ => format!("{} days", seconds / 86400),
    }
}
