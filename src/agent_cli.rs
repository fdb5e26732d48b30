//! `tasknet agent …`: the provincial office agent on the command line —
//! enter one update (checked against the local copy of the office's tasks
//! first), import a CSV file, run the pusher and the follower of the
//! office's tasks, list those tasks, read the status, and retry or discard a
//! parked update. Configuration: built-in defaults, then a
//! TOML file (`--config`), then flags and `TASKNET_AGENT_…` variables.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tasknet_agent::{
    Agent, AgentConfig, Forecast, ImportOptions, NewTask, PushSettings, SecretString, Update,
};
use tasknet_server::{Shutdown, shutdown_signal};
use uuid::Uuid;

mod metrics;
mod status;
mod tasks;
mod wait;

use status::status;
use tasks::{TasksArgs, list_tasks};
use wait::wait_for;

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub settings: AgentSettingsArgs,
    #[command(subcommand)]
    pub command: AgentCommand,
}

#[derive(Debug, Args)]
pub struct AgentSettingsArgs {
    /// The office's unit id (its provincial statistics office).
    #[arg(long = "unit", env = "TASKNET_AGENT_UNIT", global = true)]
    pub unit: Option<String>,
    /// The central task service (default http://127.0.0.1:50051).
    #[arg(long, env = "TASKNET_AGENT_ENDPOINT", global = true)]
    pub endpoint: Option<String>,
    /// Where the outbox lives (default ./tasknet-agent).
    #[arg(long, env = "TASKNET_AGENT_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Bearer token for the centre (prefer the variable: command lines are visible).
    #[arg(
        long,
        env = "TASKNET_AGENT_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
    /// The CA certificate (PEM) of an https:// centre.
    #[arg(long, env = "TASKNET_AGENT_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// A TOML file: unit_id, endpoint, data_dir, token, ca_file, and a [push] table.
    #[arg(long, env = "TASKNET_AGENT_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Enter one update: stored in the outbox at once, pushed by `run` (or now, with --wait).
    #[command(subcommand)]
    Submit(SubmitCommand),
    /// Import a CSV file of updates (see docs/agent.md): every row, or none.
    Import(ImportArgs),
    /// Push the outbox to the centre, and follow the office's tasks into the
    /// local copy, until stopped (SIGINT or SIGTERM).
    Run {
        /// Serve Prometheus metrics (outbox depth, oldest pending age) at
        /// http://ADDRESS/metrics.
        #[arg(long)]
        metrics_listen: Option<String>,
    },
    /// The office's tasks as last seen from the centre, its pending updates applied (offline).
    Tasks(TasksArgs),
    /// Pending, sent and parked counts, the oldest pending update, the last error and push.
    Status(AgentStatusArgs),
    /// Send a parked update again (after what the centre objected to was put right).
    Retry { update_id: Uuid },
    /// Give up on a parked update; its task's later updates go on without it.
    Discard { update_id: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum SubmitCommand {
    /// Create a task.
    Create(CreateArgs),
    /// Record a progress note.
    Note(NoteArgs),
    /// Change a task's deadline.
    Deadline(DeadlineArgs),
    /// Complete a task (on the date it takes effect).
    Complete(CompleteArgs),
    /// Reopen a completed task.
    Reopen(ReopenArgs),
}

/// When the update took effect, and whether to push it before returning.
#[derive(Debug, Args)]
pub struct WhenArgs {
    /// The date it took effect at the office (noon, Vietnam time); default now.
    #[arg(long, value_parser = parse_date)]
    pub on: Option<NaiveDate>,
    /// The instant it took effect (RFC 3339, e.g. 2024-06-28T16:30:00+07:00).
    #[arg(long, conflicts_with = "on")]
    pub at: Option<DateTime<chrono::FixedOffset>>,
    /// Store the update even though the local copy says the centre will refuse it.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Push to the centre before returning, and say what it answered.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait tries, in seconds (the update stays in the outbox either way).
    #[arg(long, default_value = "60")]
    pub wait_timeout: u64,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub title: String,
    #[arg(long, value_parser = parse_date)]
    pub deadline: NaiveDate,
    /// Default: the date it takes effect.
    #[arg(long, value_parser = parse_date)]
    pub assigned_date: Option<NaiveDate>,
    /// The assigning unit's id (default: this office).
    #[arg(long)]
    pub assigned_by: Option<Uuid>,
    /// The assignee unit's id (default: this office).
    #[arg(long)]
    pub assignee: Option<Uuid>,
    /// A plan the task belongs to (repeatable).
    #[arg(long = "plan")]
    pub plans: Vec<Uuid>,
    /// The office's own reference for the task, usable as --task later.
    #[arg(long = "ref")]
    pub reference: Option<String>,
    #[command(flatten)]
    pub when: WhenArgs,
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The task id, or the office's reference for it.
    #[arg(long)]
    pub task: String,
    #[arg(long)]
    pub text: String,
    #[command(flatten)]
    pub when: WhenArgs,
}

#[derive(Debug, Args)]
pub struct DeadlineArgs {
    #[arg(long)]
    pub task: String,
    #[arg(long, value_parser = parse_date)]
    pub deadline: NaiveDate,
    #[arg(long, default_value = "")]
    pub reason: String,
    #[command(flatten)]
    pub when: WhenArgs,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    #[arg(long)]
    pub task: String,
    #[arg(long, default_value = "")]
    pub note: String,
    #[command(flatten)]
    pub when: WhenArgs,
}

#[derive(Debug, Args)]
pub struct ReopenArgs {
    #[arg(long)]
    pub task: String,
    #[arg(long, default_value = "")]
    pub reason: String,
    #[command(flatten)]
    pub when: WhenArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// Import even if the same content was imported before.
    #[arg(long)]
    pub again: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct AgentStatusArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: StatusFormat,
}

fn parse_date(value: &str) -> Result<NaiveDate, String> {
    tasknet_agent::parse::date("date", value).map_err(|error| error.message)
}

/// The configuration file's shape (every key optional).
#[derive(Debug, Serialize, Deserialize)]
struct FileConfig {
    unit_id: Option<String>,
    endpoint: String,
    data_dir: PathBuf,
    token: Option<String>,
    ca_file: Option<PathBuf>,
    push: PushSettings,
}

impl Default for FileConfig {
    fn default() -> Self {
        Self {
            unit_id: None,
            endpoint: "http://127.0.0.1:50051".to_owned(),
            data_dir: PathBuf::from("tasknet-agent"),
            token: None,
            ca_file: None,
            push: PushSettings::default(),
        }
    }
}

#[derive(Debug, Default, Serialize)]
struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<PathBuf>,
}

fn load_config(args: AgentSettingsArgs) -> anyhow::Result<AgentConfig> {
    let mut figment = Figment::from(Serialized::defaults(FileConfig::default()));
    if let Some(file) = &args.config {
        anyhow::ensure!(
            file.is_file(),
            "configuration file {} not found",
            file.display()
        );
        figment = figment.merge(Toml::file(file));
    }
    let overrides = Overrides {
        unit_id: args.unit,
        endpoint: args.endpoint,
        data_dir: args.data_dir,
        token: args.token,
        ca_file: args.ca_file,
    };
    let file: FileConfig = figment
        .merge(Serialized::defaults(overrides))
        .extract()
        .context("invalid agent configuration")?;
    let unit_id = file.unit_id.context(
        "the agent's unit is required: --unit, TASKNET_AGENT_UNIT, or unit_id in the configuration file",
    )?;
    let mut config = AgentConfig::new(unit_id, file.endpoint, file.data_dir);
    config.token = file.token.filter(|t| !t.is_empty()).map(SecretString::from);
    config.ca_file = file.ca_file;
    config.push = file.push;
    Ok(config)
}

pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let config = load_config(args.settings)?;
    let agent = Agent::open(config)
        .await
        .context("failed to open the agent's outbox")?;
    let result = match args.command {
        AgentCommand::Submit(command) => submit(&agent, command).await,
        AgentCommand::Import(args) => import(&agent, args).await,
        AgentCommand::Run { metrics_listen } => run_daemon(&agent, metrics_listen.as_deref()).await,
        AgentCommand::Tasks(args) => list_tasks(&agent, &args).await,
        AgentCommand::Status(args) => status(&agent, args.format).await,
        AgentCommand::Retry { update_id } => {
            agent.retry_parked(update_id).await?;
            println!("update {update_id} is pending again; the pusher will send it");
            Ok(())
        }
        AgentCommand::Discard { update_id } => {
            agent.discard_parked(update_id).await?;
            println!("update {update_id} discarded; its task's later updates go on without it");
            Ok(())
        }
    };
    agent.close().await;
    result
}

async fn submit(agent: &Agent, command: SubmitCommand) -> anyhow::Result<()> {
    let (update, when) = match command {
        SubmitCommand::Create(args) => {
            let mut task = NewTask::new(args.title, args.deadline);
            task.assigned_date = args.assigned_date;
            task.assigning_unit_id = args.assigned_by;
            task.assignee_unit_id = args.assignee;
            task.plan_ids = args.plans;
            task.reference = args.reference;
            (Update::create(task), args.when)
        }
        SubmitCommand::Note(args) => (
            Update::note(agent.resolve_task(&args.task).await?, args.text),
            args.when,
        ),
        SubmitCommand::Deadline(args) => {
            let task = agent.resolve_task(&args.task).await?;
            (
                Update::deadline(task, args.deadline, args.reason),
                args.when,
            )
        }
        SubmitCommand::Complete(args) => (
            Update::complete(agent.resolve_task(&args.task).await?, args.note),
            args.when,
        ),
        SubmitCommand::Reopen(args) => (
            Update::reopen(agent.resolve_task(&args.task).await?, args.reason),
            args.when,
        ),
    };
    let update = match (when.on, when.at) {
        (Some(day), _) => update.effective_on(day),
        (None, Some(at)) => update.effective_at(at.with_timezone(&Utc)),
        (None, None) => update,
    };
    let (task_id, kind) = (update.task_id, update.change.kind());
    // An office clerk wants to hear at once that the centre will refuse an
    // update (a completion of a task completed already), not find it parked
    // later, holding the task's next updates: refused here unless --force.
    let forecast = agent.forecast(&update).await?;
    if let Forecast::Refuse(reason) = &forecast {
        anyhow::ensure!(
            when.force,
            "not stored: the centre will most likely refuse this {kind} of task {task_id}: \
             {reason}\n(the office's copy of its tasks says so; if the centre's copy differs, \
             add --force to store it anyway)"
        );
    }
    let update_id = agent.submit_from(update, "cli").await?;
    println!("stored {kind} of task {task_id} as update {update_id}");
    match forecast {
        Forecast::Accept(outcome) => println!("the centre will most likely accept it: {outcome}"),
        Forecast::Unknown(why) => println!("note: {why}"),
        Forecast::Refuse(reason) => {
            println!("stored with --force; the centre will most likely refuse it: {reason}");
        }
    }
    if when.wait.wait {
        wait_for(agent, &[update_id], &when.wait).await?;
    }
    Ok(())
}

async fn import(agent: &Agent, args: ImportArgs) -> anyhow::Result<()> {
    let options = ImportOptions {
        allow_repeat: args.again,
    };
    let report = match agent.import_csv(&args.file, options).await {
        Ok(report) => report,
        Err(tasknet_agent::Error::Import { file, rows }) => anyhow::bail!(row_errors(&file, &rows)),
        Err(error) => return Err(error.into()),
    };
    println!(
        "imported {} update(s) ({} new task(s)) from {}",
        report.rows, report.tasks_created, report.file
    );
    if args.wait.wait {
        wait_for(agent, &report.update_ids, &args.wait).await?;
    }
    Ok(())
}

/// Every bad row on a line of its own (at most 100 of them).
fn row_errors(file: &str, rows: &[tasknet_agent::RowError]) -> String {
    const SHOWN: usize = 100;
    let mut text = format!(
        "{file}: {} invalid row(s); nothing was imported",
        rows.len()
    );
    for row in rows.iter().take(SHOWN) {
        text.push_str(&format!("\n  {row}"));
    }
    if rows.len() > SHOWN {
        text.push_str(&format!("\n  … and {} more", rows.len() - SHOWN));
    }
    text
}

async fn run_daemon(agent: &Agent, metrics_listen: Option<&str>) -> anyhow::Result<()> {
    let config = agent.config();
    println!(
        "tasknet agent for unit {} pushing to and following {} (outbox {}); stop with Ctrl-C",
        config.unit_id,
        config.endpoint,
        agent.outbox_path().display()
    );
    let shutdown = Shutdown::new();
    let signal = {
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.trigger();
        }
    };
    tokio::spawn(signal);
    if let Some(addr) = metrics_listen {
        metrics::serve(agent.clone(), addr, shutdown.clone()).await?;
    }
    let report = agent.run(shutdown).await?;
    let feed = agent.feed_state().await?;
    println!(
        "stopped: {} acknowledged ({} duplicates), {} parked, {} retried, {} link failures; \
         {} tasks of the office in the local copy (up to change {})",
        report.acknowledged,
        report.duplicates,
        report.parked,
        report.retried,
        report.link_failures,
        feed.tasks,
        feed.cursor
    );
    Ok(())
}
