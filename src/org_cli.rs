//! `tasknet org …`: reorganisations and unit history. `reorganise` applies a
//! built-in reorganisation in the organisation service, then has the task
//! service pass the ended units' open tasks to their successors; run again,
//! it finds the reorganisation applied and only passes on what is left (tasks
//! reopened since). `lineage` shows a unit's predecessors and successors,
//! `unit` finds the unit with a code on a date (codes are reused).

use std::collections::HashMap;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;

use crate::connect::{EndpointArgs, channel};
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
    }
}

fn organisation(endpoint: &EndpointArgs) -> anyhow::Result<Organisation> {
    let channel =
        channel(endpoint).with_context(|| format!("cannot connect to {}", endpoint.endpoint))?;
    Ok(OrganisationServiceClient::new(channel))
}

/// What `reorganise` did, for JSON.
#[derive(Debug, Serialize)]
struct Reorganised {
    reorganisation_id: String,
    name: String,
    effective_date: String,
    /// False when it had been applied before this run.
    applied_now: bool,
    dry_run: bool,
    units_ended: i32,
    units_created: i32,
    tasks_transferred: i64,
}

async fn reorganise(args: ReorganiseArgs) -> anyhow::Result<()> {
    let mut client = organisation(&args.endpoint)?;
    let request = v1::ApplyReferenceReorganisationRequest {
        name: args.reference.clone(),
        validate_only: args.dry_run,
    };
    let (response, applied_now) = match client.apply_reference_reorganisation(request).await {
        Ok(response) => (response.into_inner(), true),
        // Applied before: say so (the service's message is clear), and go
        // on to pass on whatever tasks are left, which is safe to repeat.
        Err(status) if status.code() == Code::AlreadyExists && !args.dry_run => {
            eprintln!("note: {}", status.message());
            (existing(&mut client, &args.reference).await?, false)
        }
        Err(status) => return Err(status).context("the reorganisation was refused"),
    };
    let reorganisation = response.reorganisation.clone().unwrap_or_default();
    let mut outcome = Reorganised {
        reorganisation_id: reorganisation.id.clone(),
        name: reorganisation.name.clone(),
        effective_date: show_date(reorganisation.effective_date.as_ref()),
        applied_now,
        dry_run: args.dry_run,
        units_ended: response.units_ended,
        units_created: response.units_created,
        tasks_transferred: 0,
    };
    if !args.dry_run {
        let channel = channel(&args.endpoint)?;
        let transfer = TaskServiceClient::new(channel)
            .transfer_open_tasks(v1::TransferOpenTasksRequest {
                reorganisation_id: reorganisation.id.clone(),
            })
            .await
            .context("TransferOpenTasks failed (run the command again to retry)")?
            .into_inner();
        outcome.tasks_transferred = transfer.transferred;
    }
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
        OutputFormat::Table => print_reorganised(&outcome),
    }
    Ok(())
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

fn print_reorganised(outcome: &Reorganised) {
    let verb = match (outcome.dry_run, outcome.applied_now) {
        (true, _) => "checks out (nothing changed)",
        (false, true) => "applied",
        (false, false) => "was already applied",
    };
    println!(
        "{} (effective {}) {verb}: {} units end on the day before, {} new units begin.",
        outcome.name, outcome.effective_date, outcome.units_ended, outcome.units_created
    );
    if !outcome.dry_run {
        println!(
            "{} open tasks passed to the successors (recorded as REASSIGNED in the change log).",
            outcome.tasks_transferred
        );
    }
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

async fn all_units(client: &mut Organisation) -> anyhow::Result<HashMap<String, v1::Unit>> {
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
