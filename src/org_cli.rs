//! `tasknet org …`: reorganisations and unit history. `reorganise` applies a
//! built-in reorganisation in the organisation service, then has the task
//! service pass the ended units' open tasks to their successors; run again,
//! it finds the reorganisation applied and only passes on what is left (tasks
//! reopened since). `lineage` shows a unit's predecessors and successors,
//! `unit` finds the unit with a code on a date (codes are reused); `contacts`
//! is in [`crate::org_contacts_cli`].

use std::collections::HashMap;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;

use crate::connect::{EndpointArgs, channel};
use crate::endpoints::Service;
use crate::output::{OutputFormat, render_table, show_date};
use crate::units::{Organisation, lookup, unit_id_on};

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Apply a reorganisation and pass the ended units' open tasks on.
    Reorganise(ReorganiseArgs),
    /// The reorganisations applied so far.
    Reorganisations(ListArgs),
    /// A unit's predecessors and successors, with dates.
    Lineage(LineageArgs),
    /// The unit that has a code on a date.
    Unit(UnitArgs),
    /// Unit contacts: the people a unit's notifications go to.
    #[command(subcommand)]
    Contacts(crate::org_contacts_cli::ContactsCommand),
}

#[derive(Debug, Args)]
pub struct ReorganiseArgs {
    /// A built-in reorganisation: `vn-provinces-2025` (63 provinces became
    /// 34 on 1 July 2025).
    #[arg(long)]
    pub reference: String,
    /// Check it against the stored units and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct LineageArgs {
    /// The unit: its id, or its code on --on.
    pub unit: String,
    /// The day the code is read on (YYYY-MM-DD; default today).
    #[arg(long)]
    pub on: Option<chrono::NaiveDate>,
    /// Follow predecessors of predecessors and successors of successors.
    #[arg(long)]
    pub transitive: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct UnitArgs {
    pub code: String,
    /// The day (YYYY-MM-DD): codes are reused, so a code names a unit only on a date.
    #[arg(long)]
    pub on: chrono::NaiveDate,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

pub async fn run(command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Reorganise(args) => reorganise(args).await,
        OrgCommand::Reorganisations(args) => reorganisations(args).await,
        OrgCommand::Lineage(args) => lineage(args).await,
        OrgCommand::Unit(args) => unit(args).await,
        OrgCommand::Contacts(command) => crate::org_contacts_cli::run(command).await,
    }
}

pub(crate) fn organisation(endpoint: &EndpointArgs) -> anyhow::Result<Organisation> {
    let channel = channel(endpoint, Service::Organisation)?;
    Ok(OrganisationServiceClient::new(channel))
}

/// What `reorganise` did (or, with `--dry-run`, would do), for JSON.
#[derive(Debug, Serialize)]
struct Reorganised {
    reorganisation_id: String,
    name: String,
    effective_date: String,
    /// False when it had been applied before this run (nothing applied now).
    applied_now: bool,
    /// True when it had been applied before this run (a repeat).
    applied_before: bool,
    /// When it was first applied, if before this run.
    applied_before_at: Option<String>,
    dry_run: bool,
    units_ended: i32,
    units_created: i32,
    /// Open tasks passed to the successors by this run (0 on a dry run).
    tasks_transferred: i64,
    /// Of the ended units' tasks, those this run found passed on before.
    tasks_transferred_before: i64,
    /// On a dry run: open tasks the units that end (or ended) still hold,
    /// which a real run would pass on.
    tasks_to_transfer: Option<i64>,
}

async fn reorganise(args: ReorganiseArgs) -> anyhow::Result<()> {
    let mut client = organisation(&args.endpoint)?;
    let request = v1::ApplyReferenceReorganisationRequest {
        name: args.reference.clone(),
        validate_only: args.dry_run,
    };
    let (response, applied_now) = match client.apply_reference_reorganisation(request).await {
        Ok(response) => (response.into_inner(), !args.dry_run),
        // Applied before: not an error for a repeat, real or dry. Say what is
        // in force and go on to the tasks, which is safe to repeat.
        Err(status) if status.code() == Code::AlreadyExists => {
            (existing(&mut client, &args.reference).await?, false)
        }
        Err(status) => return Err(status).context("the reorganisation was refused"),
    };
    let reorganisation = response.reorganisation.clone().unwrap_or_default();
    // ApplyReorganisation's answer to a dry run says so; `existing` does not.
    let applied_before = !applied_now && !response.validated_only;
    let applied_before_at = reorganisation
        .apply_time
        .as_ref()
        .filter(|_| applied_before)
        .map(show_time);
    let mut outcome = Reorganised {
        reorganisation_id: reorganisation.id.clone(),
        name: reorganisation.name.clone(),
        effective_date: show_date(reorganisation.effective_date.as_ref()),
        applied_now,
        applied_before,
        applied_before_at,
        dry_run: args.dry_run,
        units_ended: response.units_ended,
        units_created: response.units_created,
        tasks_transferred: 0,
        tasks_transferred_before: 0,
        tasks_to_transfer: None,
    };
    let channel = channel(&args.endpoint, Service::Task)?;
    let mut tasks = TaskServiceClient::new(channel);
    if args.dry_run {
        let ending: std::collections::BTreeSet<&str> = response
            .links
            .iter()
            .filter(|l| l.primary && !l.successor_unit_id.is_empty())
            .map(|l| l.predecessor_unit_id.as_str())
            .collect();
        outcome.tasks_to_transfer = Some(open_tasks_of(&mut tasks, &ending).await?);
    } else {
        let transfer = tasks
            .transfer_open_tasks(v1::TransferOpenTasksRequest {
                reorganisation_id: reorganisation.id.clone(),
            })
            .await
            .context("TransferOpenTasks failed (run the command again to retry)")?
            .into_inner();
        outcome.tasks_transferred = transfer.transferred;
        outcome.tasks_transferred_before = transfer.already_transferred;
    }
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        OutputFormat::Table => print!("{}", describe_outcome(&outcome)),
    }
    Ok(())
}

/// Open tasks the units `unit_ids` hold now (what a transfer would pass on).
async fn open_tasks_of(
    tasks: &mut TaskServiceClient<tasknet_server::TracedChannel>,
    unit_ids: &std::collections::BTreeSet<&str>,
) -> anyhow::Result<i64> {
    let mut count = 0;
    for unit_id in unit_ids {
        let mut page_token = String::new();
        loop {
            let page = tasks
                .list_tasks(v1::ListTasksRequest {
                    assignee_unit_id: (*unit_id).to_owned(),
                    status: v1::TaskStatus::Open as i32,
                    page_size: 1000,
                    page_token,
                    ..Default::default()
                })
                .await
                .context("ListTasks failed")?
                .into_inner();
            count += i64::try_from(page.tasks.len()).unwrap_or(i64::MAX);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
    }
    Ok(count)
}

fn show_time(time: &tasknet_proto::prost_types::Timestamp) -> String {
    chrono::DateTime::from_timestamp(time.seconds, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// An applied reorganisation, as ApplyReorganisation would have answered.
async fn existing(
    client: &mut Organisation,
    name: &str,
) -> anyhow::Result<v1::ApplyReorganisationResponse> {
    let found = client
        .get_reorganisation(v1::GetReorganisationRequest {
            reorganisation: name.to_owned(),
        })
        .await
        .context("GetReorganisation failed")?
        .into_inner();
    let reorganisation = found.reorganisation.unwrap_or_default();
    let ended = found
        .links
        .iter()
        .map(|l| &l.predecessor_unit_id)
        .collect::<std::collections::HashSet<_>>()
        .len();
    let created: usize = reorganisation
        .changes
        .iter()
        .map(|c| c.successors.len())
        .sum();
    Ok(v1::ApplyReorganisationResponse {
        reorganisation: Some(reorganisation),
        units_ended: i32::try_from(ended).unwrap_or(i32::MAX),
        units_created: i32::try_from(created).unwrap_or(i32::MAX),
        links: found.links,
        validated_only: false,
    })
}

/// What happened, in words that hold for every case: a first run, a repeat,
/// and either as a dry run. A repeat says "nothing applied" and counts only
/// what this run passed on, so the two lines never contradict each other.
fn describe_outcome(outcome: &Reorganised) -> String {
    let units = format!(
        "{} units end on the day before, {} new units begin",
        outcome.units_ended, outcome.units_created
    );
    let head = format!("{} (effective {})", outcome.name, outcome.effective_date);
    let first = if outcome.applied_now {
        format!("{head} applied: {units}.")
    } else if outcome.applied_before {
        let at = outcome
            .applied_before_at
            .as_deref()
            .map_or_else(String::new, |at| format!(" (on {at})"));
        format!("{head} was applied before{at}: nothing applied now. In force: {units}.")
    } else {
        format!("{head} checks out (dry run, nothing changed): {units}.")
    };
    let tasks = |n: i64| match n {
        1 => "1 open task".to_owned(),
        n => format!("{n} open tasks"),
    };
    // A dry run counts what a real run would pass on, in the same words.
    let second = match (outcome.tasks_to_transfer, outcome.tasks_transferred) {
        (Some(0), _) => {
            "No open tasks are left to pass on: none would be passed on (dry run).".to_owned()
        }
        (Some(n), _) => format!(
            "{} left to pass on: they would be passed to the successors (dry run).",
            tasks(n)
        ),
        (None, 0) => "No open tasks were left to pass on: none passed on now.".to_owned(),
        (None, n) => format!(
            "{} passed on now to the successors (recorded as REASSIGNED in the change log).",
            tasks(n)
        ),
    };
    format!("{first}\n{second}\n")
}

async fn reorganisations(args: ListArgs) -> anyhow::Result<()> {
    let response = organisation(&args.endpoint)?
        .list_reorganisations(v1::ListReorganisationsRequest {})
        .await
        .context("ListReorganisations failed")?
        .into_inner();
    #[derive(Serialize)]
    struct Row {
        id: String,
        name: String,
        effective_date: String,
        changes: usize,
        links: usize,
    }
    let rows: Vec<Row> = response
        .reorganisations
        .iter()
        .map(|r| Row {
            id: r.id.clone(),
            name: r.name.clone(),
            effective_date: show_date(r.effective_date.as_ref()),
            changes: r.changes.len(),
            links: response
                .links
                .iter()
                .filter(|l| l.reorganisation_id == r.id)
                .count(),
        })
        .collect();
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        OutputFormat::Table => {
            let mut lines = vec![
                ["Name", "Effective", "Changes", "Links", "Id"]
                    .map(str::to_owned)
                    .to_vec(),
            ];
            for row in &rows {
                lines.push(vec![
                    row.name.clone(),
                    row.effective_date.clone(),
                    row.changes.to_string(),
                    row.links.to_string(),
                    row.id.clone(),
                ]);
            }
            print!("{}", render_table(&lines));
        }
    }
    Ok(())
}

/// "52 Cục Thống kê Gia Lai (2025-07-01 – )".
fn describe(unit: &v1::Unit) -> String {
    format!(
        "{} {} ({} – {})",
        unit.code,
        unit.name_vi,
        show_date(unit.valid_from.as_ref()),
        show_date(unit.valid_to.as_ref())
    )
}

async fn lineage(args: LineageArgs) -> anyhow::Result<()> {
    let mut client = organisation(&args.endpoint)?;
    let on = args
        .on
        .unwrap_or_else(|| tasknet_domain::vietnam_date(chrono::Utc::now()));
    let id = unit_id_on(&mut client, &args.unit, on).await?;
    let response = client
        .get_lineage(v1::GetLineageRequest {
            unit_id: id,
            transitive: args.transitive,
        })
        .await
        .context("GetLineage failed")?
        .into_inner();
    let units: HashMap<String, v1::Unit> = all_units(&mut client).await?;
    let name = |id: &str| units.get(id).map_or_else(|| id.to_owned(), describe);
    #[derive(Serialize)]
    struct Link {
        direction: &'static str,
        kind: String,
        effective_date: String,
        predecessor: String,
        successor: String,
        primary: bool,
    }
    let link = |direction, l: &v1::LineageLink| Link {
        direction,
        kind: l
            .kind()
            .as_str_name()
            .trim_start_matches("LINEAGE_KIND_")
            .to_owned(),
        effective_date: show_date(l.effective_date.as_ref()),
        predecessor: name(&l.predecessor_unit_id),
        successor: if l.successor_unit_id.is_empty() {
            "(dissolved)".to_owned()
        } else {
            name(&l.successor_unit_id)
        },
        primary: l.primary,
    };
    let links: Vec<Link> = response
        .predecessors
        .iter()
        .map(|l| link("from", l))
        .chain(response.successors.iter().map(|l| link("to", l)))
        .collect();
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&links)?),
        OutputFormat::Table => {
            let unit = response.unit.unwrap_or_default();
            println!("{} [{}]", describe(&unit), unit.id);
            if links.is_empty() {
                println!("no predecessors or successors");
            }
            for l in &links {
                println!(
                    "  {} {}: {} -> {}",
                    l.effective_date, l.kind, l.predecessor, l.successor
                );
            }
        }
    }
    Ok(())
}

/// Every unit, past and present, by id.
pub(crate) async fn all_units(
    client: &mut Organisation,
) -> anyhow::Result<HashMap<String, v1::Unit>> {
    let mut units = HashMap::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_units(v1::ListUnitsRequest {
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .context("ListUnits failed")?
            .into_inner();
        units.extend(page.units.into_iter().map(|u| (u.id.clone(), u)));
        if page.next_page_token.is_empty() {
            return Ok(units);
        }
        page_token = page.next_page_token;
    }
}

async fn unit(args: UnitArgs) -> anyhow::Result<()> {
    let mut client = organisation(&args.endpoint)?;
    let unit = lookup(&mut client, &args.code, args.on).await?;
    match args.format {
        OutputFormat::Json => {
            #[derive(Serialize)]
            struct Unit<'a> {
                id: &'a str,
                code: &'a str,
                name_vi: &'a str,
                name_en: &'a str,
                region_code: &'a str,
                valid_from: String,
                valid_to: String,
            }
            let shown = Unit {
                id: &unit.id,
                code: &unit.code,
                name_vi: &unit.name_vi,
                name_en: &unit.name_en,
                region_code: &unit.region_code,
                valid_from: show_date(unit.valid_from.as_ref()),
                valid_to: show_date(unit.valid_to.as_ref()),
            };
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        OutputFormat::Table => println!("{} [{}]", describe(&unit), unit.id),
    }
    Ok(())
}
