//! `tasknet org contacts …`: the people a unit's notifications go to —
//! add, list (table, JSON or CSV), update and remove — through the
//! organisation service, which checks and audits every change. A unit is
//! given by id or by its code today; quiet hours are Vietnam local time.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use tasknet_proto::prost_types::FieldMask;
use tasknet_proto::v1::{self, ContactRole, Language};

use crate::connect::EndpointArgs;
use crate::output::{csv_text, render_table};
use crate::units::{Organisation, unit_id_today};

#[derive(Debug, Subcommand)]
pub enum ContactsCommand {
    /// Add a contact to a unit (with --id, repeating it changes nothing).
    Add(AddArgs),
    /// The contacts, by unit, role and name.
    List(ListArgs),
    /// Change a contact's name, address, role, language, quiet hours or opt-out.
    Update(UpdateArgs),
    /// Remove a contact: nothing more is sent to it.
    Remove(RemoveArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Follows the unit's tasks day to day (đầu mối): reminders and digests.
    FocalPoint,
    /// The head of the unit (thủ trưởng): escalations.
    Head,
}

impl RoleArg {
    fn role(self) -> ContactRole {
        match self {
            RoleArg::FocalPoint => ContactRole::FocalPoint,
            RoleArg::Head => ContactRole::Head,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LanguageArg {
    Vi,
    En,
}

impl LanguageArg {
    fn language(self) -> Language {
        match self {
            LanguageArg::Vi => Language::Vi,
            LanguageArg::En => Language::En,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContactsFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The unit: its id, or its code today (`01` for Hà Nội's office).
    #[arg(long)]
    pub unit: String,
    /// The person's name, as messages address them.
    #[arg(long)]
    pub name: String,
    /// One email address.
    #[arg(long)]
    pub email: String,
    #[arg(long, value_enum, default_value = "focal-point")]
    pub role: RoleArg,
    /// The language messages are written in.
    #[arg(long, value_enum, default_value = "vi")]
    pub language: LanguageArg,
    /// When nothing is delivered, Vietnam time: `22:00-06:00` (may wrap midnight).
    #[arg(long, value_parser = parse_quiet_hours)]
    pub quiet_hours: Option<v1::QuietHours>,
    /// The contact's id (a UUID); the service makes one when it is left out.
    #[arg(long)]
    pub id: Option<String>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this unit's contacts (id, or code today).
    #[arg(long)]
    pub unit: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ContactsFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The contact's id (as `org contacts list` shows it).
    pub id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    #[arg(long, value_enum)]
    pub language: Option<LanguageArg>,
    /// New quiet hours, Vietnam time: `22:00-06:00`.
    #[arg(long, value_parser = parse_quiet_hours, conflicts_with = "no_quiet_hours")]
    pub quiet_hours: Option<v1::QuietHours>,
    /// No quiet hours: deliver at any time.
    #[arg(long)]
    pub no_quiet_hours: bool,
    /// Send the contact nothing (it stays listed).
    #[arg(long, conflicts_with = "opt_in")]
    pub opt_out: bool,
    /// Send the contact its notifications again.
    #[arg(long)]
    pub opt_in: bool,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The contact's id (as `org contacts list` shows it).
    pub id: String,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

pub async fn run(command: ContactsCommand) -> anyhow::Result<()> {
    match command {
        ContactsCommand::Add(args) => add(args).await,
        ContactsCommand::List(args) => list(args).await,
        ContactsCommand::Update(args) => update(args).await,
        ContactsCommand::Remove(args) => remove(args).await,
    }
}

/// `22:00-06:00` as minutes after midnight.
fn parse_quiet_hours(value: &str) -> Result<v1::QuietHours, String> {
    let minute = |text: &str| -> Option<i32> {
        let (hours, minutes) = text.trim().split_once(':')?;
        let hours: i32 = hours.parse().ok()?;
        let minutes: i32 = minutes.parse().ok()?;
        ((0..24).contains(&hours) && (0..60).contains(&minutes) && text.trim().len() == 5)
            .then_some(hours * 60 + minutes)
    };
    let parsed = value
        .split_once('-')
        .and_then(|(start, end)| Some((minute(start)?, minute(end)?)));
    match parsed {
        Some((start_minute, end_minute)) => Ok(v1::QuietHours {
            start_minute,
            end_minute,
        }),
        None => Err(format!(
            "{value:?} is not a window like 22:00-06:00 (HH:MM-HH:MM, Vietnam time)"
        )),
    }
}

fn show_quiet_hours(quiet: Option<&v1::QuietHours>) -> String {
    let clock = |minute: i32| format!("{:02}:{:02}", minute / 60, minute % 60);
    quiet.map_or_else(String::new, |q| {
        format!("{}-{}", clock(q.start_minute), clock(q.end_minute))
    })
}

fn role_text(role: i32) -> &'static str {
    match ContactRole::try_from(role) {
        Ok(ContactRole::FocalPoint) => "focal-point",
        Ok(ContactRole::Head) => "head",
        _ => "unspecified",
    }
}

fn language_text(language: i32) -> &'static str {
    match Language::try_from(language) {
        Ok(Language::En) => "en",
        // Unspecified means Vietnamese (the contract says so).
        _ => "vi",
    }
}

/// "Nguyễn Văn An <an@example.invalid>, focal-point of 01 Cục Thống kê Hà Nội".
async fn describe(client: &mut Organisation, contact: &v1::UnitContact) -> String {
    let unit = client
        .get_unit(v1::GetUnitRequest {
            unit_id: contact.unit_id.clone(),
        })
        .await
        .ok()
        .and_then(|response| response.into_inner().unit)
        .map_or_else(
            || contact.unit_id.clone(),
            |u| format!("{} {}", u.code, u.name_vi),
        );
    format!(
        "{} <{}>, {} of {unit}",
        contact.name,
        contact.email,
        role_text(contact.role)
    )
}

async fn existing(client: &mut Organisation, id: &str) -> anyhow::Result<v1::UnitContact> {
    client
        .get_unit_contact(v1::GetUnitContactRequest {
            contact_id: id.to_owned(),
        })
        .await
        .context("GetUnitContact failed")?
        .into_inner()
        .contact
        .context("GetUnitContact answered without a contact")
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let mut client = crate::org_cli::organisation(&args.endpoint)?;
    let unit_id = unit_id_today(&mut client, &args.unit).await?;
    let contact_id = args.id.unwrap_or_default();
    // A repeat with a chosen id is acknowledged by the service; say so.
    let existed = !contact_id.is_empty()
        && client
            .get_unit_contact(v1::GetUnitContactRequest {
                contact_id: contact_id.clone(),
            })
            .await
            .is_ok();
    let contact = client
        .create_unit_contact(v1::CreateUnitContactRequest {
            contact_id,
            contact: Some(v1::UnitContact {
                unit_id,
                name: args.name,
                role: args.role.role() as i32,
                email: args.email,
                language: args.language.language() as i32,
                quiet_hours: args.quiet_hours,
                ..Default::default()
            }),
        })
        .await
        .context("CreateUnitContact failed")?
        .into_inner()
        .contact
        .context("CreateUnitContact answered without a contact")?;
    let described = describe(&mut client, &contact).await;
    if existed {
        println!(
            "contact {} was already there with the same content, nothing changed: {described}",
            contact.id
        );
    } else {
        println!("added contact {}: {described}", contact.id);
    }
    Ok(())
}

/// A contact as `list` prints it.
#[derive(Debug, Serialize)]
struct Row {
    id: String,
    unit_id: String,
    unit_code: String,
    unit_name: String,
    role: &'static str,
    name: String,
    email: String,
    language: &'static str,
    /// `22:00-06:00`, Vietnam time; empty for none.
    quiet_hours: String,
    opted_out: bool,
    version: i64,
}

const CSV_COLUMNS: [&str; 11] = [
    "id",
    "unit_id",
    "unit_code",
    "unit_name",
    "role",
    "name",
    "email",
    "language",
    "quiet_hours",
    "opted_out",
    "version",
];

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let mut client = crate::org_cli::organisation(&args.endpoint)?;
    let unit_id = match &args.unit {
        Some(unit) => unit_id_today(&mut client, unit).await?,
        None => String::new(),
    };
    let mut contacts = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_unit_contacts(v1::ListUnitContactsRequest {
                unit_id: unit_id.clone(),
                page_size: 1000,
                page_token,
            })
            .await
            .context("ListUnitContacts failed")?
            .into_inner();
        contacts.extend(page.contacts);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let units = crate::org_cli::all_units(&mut client).await?;
    let rows: Vec<Row> = contacts
        .iter()
        .map(|c| {
            let unit = units.get(&c.unit_id);
            Row {
                id: c.id.clone(),
                unit_id: c.unit_id.clone(),
                unit_code: unit.map(|u| u.code.clone()).unwrap_or_default(),
                unit_name: unit.map(|u| u.name_vi.clone()).unwrap_or_default(),
                role: role_text(c.role),
                name: c.name.clone(),
                email: c.email.clone(),
                language: language_text(c.language),
                quiet_hours: show_quiet_hours(c.quiet_hours.as_ref()),
                opted_out: c.opted_out,
                version: c.version,
            }
        })
        .collect();
    let text = match args.format {
        ContactsFormat::Json => serde_json::to_string_pretty(&rows)? + "\n",
        ContactsFormat::Csv => csv(&rows)?,
        ContactsFormat::Table => table(&rows),
    };
    // A reader that stops early (`| head`) is not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

fn csv(rows: &[Row]) -> anyhow::Result<String> {
    csv_text(&CSV_COLUMNS, |writer| {
        rows.iter().try_for_each(|row| writer.serialize(row))
    })
}

fn table(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "no contacts\n".to_owned();
    }
    let mut lines = vec![
        [
            "Unit",
            "Role",
            "Name",
            "Email",
            "Lang",
            "Quiet",
            "Opted out",
            "Id",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for row in rows {
        lines.push(vec![
            row.unit_code.clone(),
            row.role.to_owned(),
            row.name.clone(),
            row.email.clone(),
            row.language.to_owned(),
            row.quiet_hours.clone(),
            if row.opted_out { "yes" } else { "" }.to_owned(),
            row.id.clone(),
        ]);
    }
    render_table(&lines)
}

async fn update(args: UpdateArgs) -> anyhow::Result<()> {
    let mut patch = v1::UnitContact {
        id: args.id.clone(),
        ..Default::default()
    };
    let mut paths = Vec::new();
    if let Some(name) = args.name {
        patch.name = name;
        paths.push("name");
    }
    if let Some(email) = args.email {
        patch.email = email;
        paths.push("email");
    }
    if let Some(role) = args.role {
        patch.role = role.role() as i32;
        paths.push("role");
    }
    if let Some(language) = args.language {
        patch.language = language.language() as i32;
        paths.push("language");
    }
    if args.quiet_hours.is_some() || args.no_quiet_hours {
        patch.quiet_hours = args.quiet_hours;
        paths.push("quiet_hours");
    }
    if args.opt_out || args.opt_in {
        patch.opted_out = args.opt_out;
        paths.push("opted_out");
    }
    if paths.is_empty() {
        anyhow::bail!(
            "nothing to update: give --name, --email, --role, --language, --quiet-hours, \
             --no-quiet-hours, --opt-out or --opt-in"
        );
    }
    let mut client = crate::org_cli::organisation(&args.endpoint)?;
    let before = existing(&mut client, &args.id).await?;
    // Against the version just read: a change made in between is not overwritten.
    let contact = client
        .update_unit_contact(v1::UpdateUnitContactRequest {
            contact: Some(patch),
            update_mask: Some(FieldMask {
                paths: paths.into_iter().map(str::to_owned).collect(),
            }),
            expected_version: Some(before.version),
        })
        .await
        .context("UpdateUnitContact failed")?
        .into_inner()
        .contact
        .context("UpdateUnitContact answered without a contact")?;
    let described = describe(&mut client, &contact).await;
    let quiet = match show_quiet_hours(contact.quiet_hours.as_ref()) {
        none if none.is_empty() => "no quiet hours".to_owned(),
        window => format!("quiet {window}"),
    };
    let opted = if contact.opted_out { ", opted out" } else { "" };
    let state = format!(
        "{described} ({}, {quiet}{opted})",
        language_text(contact.language)
    );
    if contact.version == before.version {
        println!(
            "contact {} already so, nothing changed: {state}",
            contact.id
        );
    } else {
        println!(
            "updated contact {} to version {}: {state}",
            contact.id, contact.version
        );
    }
    Ok(())
}

async fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let mut client = crate::org_cli::organisation(&args.endpoint)?;
    let contact = existing(&mut client, &args.id).await?;
    let described = describe(&mut client, &contact).await;
    client
        .delete_unit_contact(v1::DeleteUnitContactRequest {
            contact_id: args.id,
        })
        .await
        .context("DeleteUnitContact failed")?;
    println!("removed contact {}: {described}", contact.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_its_header_even_when_empty_and_quotes_what_needs_it() {
        let header = CSV_COLUMNS.join(",") + "\n";
        assert_eq!(csv(&[]).unwrap(), header);
        let row = Row {
            id: "c1".into(),
            unit_id: "u1".into(),
            unit_code: "01".into(),
            unit_name: "Thống kê Hà Nội, trụ sở".into(),
            role: "head",
            name: "Nguyễn \"Văn\" A".into(),
            email: "a@example.invalid".into(),
            language: "vi",
            quiet_hours: String::new(),
            opted_out: false,
            version: 3,
        };
        assert_eq!(
            csv(&[row]).unwrap(),
            header
                + "c1,u1,01,\"Thống kê Hà Nội, trụ sở\",head,\"Nguyễn \"\"Văn\"\" A\",\
                   a@example.invalid,vi,,false,3\n"
        );
    }

    #[test]
    fn quiet_hours_read_and_print_as_clock_times() {
        let quiet = parse_quiet_hours("22:00-06:30").unwrap();
        assert_eq!((quiet.start_minute, quiet.end_minute), (1320, 390));
        assert_eq!(show_quiet_hours(Some(&quiet)), "22:00-06:30");
        assert_eq!(show_quiet_hours(None), "");
        for bad in [
            "22-06",
            "24:00-06:00",
            "22:60-06:00",
            "22:00",
            "2:00-6:00",
            "",
        ] {
            assert!(parse_quiet_hours(bad).is_err(), "{bad}");
        }
    }
}
