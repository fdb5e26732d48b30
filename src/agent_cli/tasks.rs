//! `tasknet agent tasks`: the office's tasks from the agent's local copy —
//! as the centre last told them, with the office's pending updates applied
//! and marked — filtered to the overdue or soon due, as a table, JSON or CSV.
//! Works offline: it reads the local database only.

use std::io::Write;

use chrono::{NaiveDate, TimeDelta, Utc};
use clap::{Args, ValueEnum};
use serde::Serialize;
use tasknet_agent::{Agent, FeedState, LocalTask};

use crate::output::{csv_text, render_table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TasksFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Only open tasks past their deadline (at the end of today, Vietnam time).
    #[arg(long)]
    pub overdue: bool,
    /// Only open tasks due from today to this many days ahead (`7d`, or `7`).
    #[arg(long, value_parser = parse_days)]
    pub due_within: Option<i64>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: TasksFormat,
}

fn parse_days(value: &str) -> Result<i64, String> {
    let days = value.strip_suffix('d').unwrap_or(value);
    match days.parse::<i64>() {
        Ok(days) if (0..=3660).contains(&days) => Ok(days),
        _ => Err(format!(
            "{value:?} is not a number of days (like 7d) from 0 to 3660"
        )),
    }
}

#[derive(Serialize)]
struct TasksJson<'a> {
    /// The local copy is as of this cursor of the centre's change log.
    cursor: i64,
    last_change: Option<chrono::DateTime<Utc>>,
    tasks: Vec<&'a LocalTask>,
}

pub async fn list_tasks(agent: &Agent, args: &TasksArgs) -> anyhow::Result<()> {
    let today = tasknet_domain::vietnam_date(Utc::now());
    let all = agent.tasks().await?;
    let feed = agent.feed_state().await?;
    let tasks: Vec<&LocalTask> = all
        .iter()
        .filter(|task| !args.overdue || (task.is_open() && task.deadline < today))
        .filter(|task| {
            args.due_within.is_none_or(|days| {
                task.is_open()
                    && task.deadline >= today
                    && task.deadline <= today + TimeDelta::days(days)
            })
        })
        .collect();
    let text = match args.format {
        TasksFormat::Json => {
            let json = TasksJson {
                cursor: feed.cursor,
                last_change: feed.last_change,
                tasks,
            };
            serde_json::to_string_pretty(&json)? + "\n"
        }
        TasksFormat::Csv => csv(&tasks)?,
        TasksFormat::Table => table(&tasks, &feed, today),
    };
    // A reader that stops early (`| head`) is not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

const COLUMNS: [&str; 10] = [
    "task",
    "ref",
    "title",
    "assigned",
    "deadline",
    "status",
    "completed_on",
    "class",
    "version",
    "pending",
];

fn row(task: &LocalTask) -> [String; 10] {
    [
        task.task_id.clone(),
        task.reference.clone().unwrap_or_default(),
        task.title.clone(),
        task.assigned_date.to_string(),
        task.deadline.to_string(),
        task.status.to_owned(),
        task.completed_on.map(|d| d.to_string()).unwrap_or_default(),
        task.class.to_owned(),
        task.version.to_string(),
        task.pending.to_string(),
    ]
}

fn table(tasks: &[&LocalTask], feed: &FeedState, today: NaiveDate) -> String {
    let since = feed.last_change.map_or_else(
        || "never: run `tasknet agent run` to fetch them".to_owned(),
        |at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    );
    let mut out = format!(
        "{} task(s) of this office, as of {today}; last news from the centre: {since}\n",
        tasks.len()
    );
    if let Some(error) = &feed.last_error {
        out.push_str(&format!(
            "(the last attempt to follow the centre failed: {error})\n"
        ));
    }
    if tasks.is_empty() {
        return out;
    }
    let mut lines = vec![
        [
            "task", "ref", "title", "deadline", "status", "class", "pending",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for task in tasks {
        let [
            id,
            reference,
            title,
            _,
            deadline,
            status,
            done,
            class,
            _,
            pending,
        ] = row(task);
        let status = if done.is_empty() {
            status
        } else {
            format!("{status} {done}")
        };
        let short: String = title.chars().take(40).collect();
        let pending = if task.pending > 0 {
            format!("{pending} pending")
        } else {
            String::new()
        };
        lines.push(vec![id, reference, short, deadline, status, class, pending]);
    }
    out.push_str(&render_table(&lines));
    for task in tasks {
        for conflict in &task.conflicts {
            out.push_str(&format!(
                "  task {}: the centre will most likely refuse {conflict}\n",
                task.task_id
            ));
        }
    }
    out
}

/// One header line, then one record per task.
fn csv(tasks: &[&LocalTask]) -> anyhow::Result<String> {
    csv_text(&COLUMNS, |writer| {
        tasks
            .iter()
            .try_for_each(|task| writer.write_record(row(task)))
    })
}
