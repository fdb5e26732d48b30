//! Command-line arguments of `tasknet`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::connect::EndpointArgs;
use crate::output::OutputFormat;

/// The task network of a national statistics system.
#[derive(Debug, Parser)]
#[command(name = "tasknet", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the organisation, task, reporting and notification services in one process.
    Up(UpArgs),
    /// Run one service alone (services deploy as separate processes).
    Serve(ServeArgs),
    /// Query a running system's reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Demo data: load it into a running system.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Administration: credentials and the audit log.
    #[command(subcommand)]
    Admin(crate::admin_cli::AdminCommand),
    /// The provincial office agent: a durable local outbox pushed to the centre.
    Agent(crate::agent_cli::AgentArgs),
    /// Units over time: reorganisations, lineage, codes on a date.
    #[command(subcommand)]
    Org(crate::org_cli::OrgCommand),
    /// Notifications: the outbox, judging a day, webhook subscriptions.
    #[command(subcommand)]
    Notify(crate::notify_cli::NotifyCommand),
    /// Ask a server whether a service is SERVING (exit 0) or not (exit 1).
    Health(crate::health_cli::HealthArgs),
    /// Benchmarks: ingest, reports at scale, freshness, footprint (BENCHMARKS.md).
    #[command(subcommand)]
    Bench(tasknet_bench::BenchCommand),
}

impl Command {
    /// The name telemetry reports for this process.
    pub fn service_name(&self) -> &'static str {
        match self {
            Command::Up(_) => "tasknet",
            Command::Serve(args) => match args.service {
                ServiceKind::Organisation => "tasknet-organisation",
                ServiceKind::Task => "tasknet-task",
                ServiceKind::Reporting => "tasknet-reporting",
                ServiceKind::Notification => "tasknet-notification",
            },
            Command::Report(_)
            | Command::Demo(_)
            | Command::Admin(_)
            | Command::Org(_)
            | Command::Health(_)
            | Command::Notify(_) => "tasknet-cli",
            Command::Agent(_) => "tasknet-agent",
            Command::Bench(_) => "tasknet-bench",
        }
    }

    /// Whether the command prints its answer and exits (a query), rather than
    /// running for a while (servers, agents, loads, benchmarks).
    pub fn prints_and_exits(&self) -> bool {
        match self {
            Command::Report(_)
            | Command::Admin(_)
            | Command::Org(_)
            | Command::Health(_)
            | Command::Notify(_) => true,
            Command::Up(_)
            | Command::Serve(_)
            | Command::Demo(_)
            | Command::Agent(_)
            | Command::Bench(_) => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Address to listen on (all four services share it).
    #[arg(long)]
    pub listen: Option<String>,
    /// Directory for the SQLite databases.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Use this database instead of SQLite files (postgres://…); each service
    /// gets a schema of its own in it.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Load the reference units and the demo data set after starting.
    #[arg(long)]
    pub demo: bool,
    /// Which demo data set: the seed report's full half-years, or a small one.
    #[arg(long, value_enum, default_value = "seed")]
    pub demo_size: DemoSize,
    /// A TOML configuration file (its keys: docs/operations.md; `[notify]` in docs/notifications.md, `[scorecard]` in docs/scorecards.md).
    #[arg(long, env = "TASKNET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDRESS/metrics (off unless given).
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// Let pages from this origin (http://HOST:PORT) call the services
    /// (CORS); repeat for several. Not needed for the dashboard `up` serves.
    #[arg(long = "cors-allowed-origin", value_name = "ORIGIN")]
    pub cors_allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceKind {
    Organisation,
    Task,
    Reporting,
    Notification,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    pub service: ServiceKind,
    /// Address to listen on.
    #[arg(long)]
    pub listen: Option<String>,
    /// The service's database (sqlite://PATH or postgres://…).
    #[arg(long)]
    pub database_url: Option<String>,
    /// The task service, for reporting (http://HOST:PORT).
    #[arg(long)]
    pub task_endpoint: Option<String>,
    /// The organisation service, for task, reporting and notification (http://HOST:PORT).
    #[arg(long)]
    pub organisation_endpoint: Option<String>,
    /// The reporting service, for notification (http://HOST:PORT).
    #[arg(long)]
    pub reporting_endpoint: Option<String>,
    /// Bootstrap credentials: organisation writes `admin.token` and
    /// `service.token` here on first start; task and reporting read
    /// `service.token` from here (or set TASKNET_SERVICE_TOKEN).
    #[arg(long)]
    pub credentials_dir: Option<PathBuf>,
    /// A TOML configuration file.
    #[arg(long, env = "TASKNET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDRESS/metrics (off unless given).
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// Let pages from this origin (http://HOST:PORT) call the service
    /// (CORS); repeat for several.
    #[arg(long = "cors-allowed-origin", value_name = "ORIGIN")]
    pub cors_allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupByArg {
    None,
    Category,
    Region,
    Unit,
}

/// The structure of units figures are stated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BasisArg {
    /// The units in force on the as-of date; earlier units' figures are
    /// counted under their successors, in both periods.
    Current,
    /// The units as they were in each period.
    Historical,
}

impl BasisArg {
    pub fn to_proto(self) -> tasknet_proto::v1::ReportBasis {
        match self {
            BasisArg::Current => tasknet_proto::v1::ReportBasis::CurrentStructure,
            BasisArg::Historical => tasknet_proto::v1::ReportBasis::HistoricalStructure,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Tasks by status as of a date, against the same period a year earlier.
    Status(StatusArgs),
    /// Progress of plans (done / total) as of a date.
    Plans(PlansArgs),
    /// The review report's paragraphs and figures (text, JSON or SDMX-CSV).
    Summary(SummaryArgs),
    /// Unit scorecards and rankings within provincial offices and central units.
    Scorecard(crate::scorecard_cli::ScorecardArgs),
    /// Expected against actual completions, day by day, of a plan or a unit.
    Trajectory(crate::scorecard_cli::TrajectoryArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LanguageArg {
    Vi,
    En,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormatArg {
    Text,
    Json,
    SdmxCsv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoundingArg {
    /// Cut extra digits, as the source report does.
    Truncate,
    /// Round to nearest, ties to even.
    HalfEven,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    #[arg(long)]
    pub period: String,
    #[arg(long)]
    pub as_of: chrono::NaiveDate,
    #[arg(long, value_enum, default_value = "vi")]
    pub lang: LanguageArg,
    #[arg(long, value_enum, default_value = "text")]
    pub format: SummaryFormatArg,
    #[arg(long, value_enum, default_value = "truncate")]
    pub rounding: RoundingArg,
    /// What the text calls the task system.
    #[arg(long, default_value = "tasknet")]
    pub system_name: String,
    /// The structure of units the figures are stated on.
    #[arg(long, value_enum, default_value = "current")]
    pub basis: BasisArg,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// 2024-H1, 2024-Q3, 2024, 2024-06, or 2024-01-01..2024-03-31.
    #[arg(long)]
    pub period: String,
    /// The day whose end the state is judged at (YYYY-MM-DD).
    #[arg(long)]
    pub as_of: chrono::NaiveDate,
    #[arg(long = "by", value_enum, default_value = "none")]
    pub group_by: GroupByArg,
    /// The structure of units the figures are stated on.
    #[arg(long, value_enum, default_value = "current")]
    pub basis: BasisArg,
    /// How shares and changes are cut to two decimals (the table's footer
    /// and the JSON's `rounding` say which).
    #[arg(long, value_enum, default_value = "truncate")]
    pub rounding: RoundingArg,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanKindArg {
    KeyTasks,
    LegalDocuments,
    AnnualWorkPlan,
    Other,
}

#[derive(Debug, Args)]
pub struct PlansArgs {
    /// Plans whose period overlaps this one (with --kind; all kinds if omitted).
    #[arg(long)]
    pub period: Option<String>,
    #[arg(long, value_enum)]
    pub kind: Option<PlanKindArg>,
    /// One plan by id instead.
    #[arg(long, conflicts_with_all = ["period", "kind"])]
    pub plan_id: Option<String>,
    #[arg(long)]
    pub as_of: chrono::NaiveDate,
    /// How the done share is cut to two decimals.
    #[arg(long, value_enum, default_value = "truncate")]
    pub rounding: RoundingArg,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Load the reference units and the demo data set through the public gRPC API.
    Load(DemoLoadArgs),
}

#[derive(Debug, Args)]
pub struct DemoLoadArgs {
    #[arg(long, value_enum, default_value = "seed")]
    pub size: DemoSize,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoSize {
    /// H1 2023 and H1 2024 at the size of the seed report (~225,000 tasks),
    /// then H2 2024 to H2 2025 across the 2025 merger (~95,000 more).
    Seed,
    /// The same shape with a few thousand tasks (and ~5,000 after).
    Small,
}
