//! `tasknet admin audit`: the audit logs of the three services, merged,
//! newest first, a page at a time: accepted changes and refused attempts.
//! When older records exist it says so, with the command for the next page.

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use tasknet_domain::date::vietnam_start_of_day;
use tasknet_domain::timestamp_to_proto;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::TracedChannel;

use crate::connect::{EndpointArgs, channel};
use crate::output::{OutputFormat, role_label, show_time};
use crate::units::unit_id_today;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Records whose caller or subject is this unit (id or code).
    #[arg(long)]
    pub unit: Option<String>,
    /// Records from this day (YYYY-MM-DD, Vietnam time) or instant (RFC 3339) on.
    #[arg(long)]
    pub since: Option<String>,
    /// Only refused attempts.
    #[arg(long)]
    pub rejected: bool,
    /// Records per page (at most 1000), newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// The page after the one that printed this token.
    #[arg(long)]
    pub page_token: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

/// `--since` as an instant: a day starts at midnight in Vietnam.
fn parse_since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(instant.to_utc());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("--since {text:?} is neither YYYY-MM-DD nor RFC 3339"))?;
    Ok(vietnam_start_of_day(day))
}

#[derive(Serialize)]
struct AuditRow {
    service: &'static str,
    time: String,
    outcome: String,
    rpc: String,
    credential_id: String,
    role: &'static str,
    unit_id: String,
    peer: String,
    target: String,
    subject_unit_id: String,
    before: String,
    after: String,
    message: String,
    suppressed: i64,
    #[serde(skip)]
    time_us: i64,
}

const SERVICES: [&str; 3] = ["organisation", "task", "reporting"];

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=1000).contains(&args.limit),
        "--limit must be between 1 and 1000"
    );
    let channel = channel(&args.endpoint)?;
    let mut organisation = OrganisationServiceClient::new(channel.clone());
    let unit_id = match &args.unit {
        Some(unit) => unit_id_today(&mut organisation, unit).await?,
        None => String::new(),
    };
    let cursors = PageCursors::parse(args.page_token.as_deref().unwrap_or_default())?;
    let request = v1::ListAuditRecordsRequest {
        unit_id,
        since: args
            .since
            .as_deref()
            .map(parse_since)
            .transpose()?
            .map(timestamp_to_proto),
        outcome: 0,
        page_size: i32::try_from(args.limit).unwrap_or(1000),
        page_token: String::new(),
        newest_first: true,
    };
    let mut pages = Vec::new();
    for (service, cursor) in SERVICES.into_iter().zip(&cursors.0) {
        let Some(token) = cursor else {
            continue; // this service had no older records
        };
        let request = v1::ListAuditRecordsRequest {
            page_token: token.clone(),
            ..request.clone()
        };
        let page = fetch_page(&channel, service, request)
            .await
            .with_context(|| format!("ListAuditRecords of the {service} service failed"))?;
        pages.push((service, token.clone(), page));
    }
    let (mut rows, next) = merge_newest_first(pages, args.limit);
    if args.rejected {
        rows.retain(|row| row.outcome != "ACCEPTED");
    }
    print_audit(&rows, args.format)?;
    if let Some(next) = next {
        eprintln!(
            "older records exist: add --page-token {next} for the next {} (newest first)",
            args.limit
        );
    }
    Ok(())
}

/// Where each service's next page starts: `Some("")` at its newest record,
/// `Some(token)` before a record, `None` when it has no older records. The
/// command-line token joins the three with `.` (`-` for `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PageCursors([Option<String>; 3]);

impl PageCursors {
    fn parse(text: &str) -> anyhow::Result<Self> {
        if text.is_empty() {
            return Ok(Self([
                Some(String::new()),
                Some(String::new()),
                Some(String::new()),
            ]));
        }
        let parts: Vec<&str> = text.split('.').collect();
        let [organisation, task, reporting] = parts[..] else {
            anyhow::bail!("--page-token {text:?} is not a token tasknet admin audit printed");
        };
        let cursor = |part: &str| (part != "-").then(|| part.to_owned());
        Ok(Self([
            cursor(organisation),
            cursor(task),
            cursor(reporting),
        ]))
    }

    fn render(&self) -> Option<String> {
        if self.0.iter().all(Option::is_none) {
            return None;
        }
        let parts: Vec<&str> = self.0.iter().map(|c| c.as_deref().unwrap_or("-")).collect();
        Some(parts.join("."))
    }
}

/// The newest `limit` records of the services' pages (each newest first,
/// fetched from `token`), and the token of the page after them, if any
/// record is left: a service continues before the oldest of its records
/// shown, or where it was if none was shown.
fn merge_newest_first(
    pages: Vec<(&'static str, String, v1::ListAuditRecordsResponse)>,
    limit: usize,
) -> (Vec<AuditRow>, Option<String>) {
    let mut cursors = PageCursors([None, None, None]);
    let mut rows: Vec<(usize, i64, AuditRow)> = Vec::new();
    let mut more = [false; 3];
    for (service, token, page) in pages {
        let index = SERVICES.iter().position(|s| *s == service).unwrap_or(0);
        more[index] = !page.next_page_token.is_empty();
        cursors.0[index] = Some(token);
        for record in page.records {
            let id = record.id;
            rows.push((index, id, audit_row(service, record)));
        }
    }
    rows.sort_by(|a, b| b.2.time_us.cmp(&a.2.time_us).then(b.1.cmp(&a.1)));
    let left = rows.split_off(rows.len().min(limit));
    for (index, cursor) in cursors.0.iter_mut().enumerate() {
        let shown = rows
            .iter()
            .filter(|row| row.0 == index)
            .map(|row| row.1)
            .min();
        let unshown = left.iter().any(|row| row.0 == index);
        *cursor = match (cursor.take(), shown) {
            (None, _) => None,
            (Some(_), Some(oldest)) if unshown || more[index] => Some(format!("b{oldest}")),
            (Some(_), Some(_)) => None,
            (Some(token), None) if unshown || more[index] => Some(token),
            (Some(_), None) => None,
        };
    }
    (
        rows.into_iter().map(|row| row.2).collect(),
        cursors.render(),
    )
}

/// One page of one service's records, newest first.
async fn fetch_page(
    channel: &TracedChannel,
    service: &str,
    request: v1::ListAuditRecordsRequest,
) -> anyhow::Result<v1::ListAuditRecordsResponse> {
    let page = match service {
        "organisation" => {
            OrganisationServiceClient::new(channel.clone())
                .list_audit_records(request)
                .await
        }
        "task" => {
            TaskServiceClient::new(channel.clone())
                .list_audit_records(request)
                .await
        }
        _ => {
            ReportingServiceClient::new(channel.clone())
                .list_audit_records(request)
                .await
        }
    }?;
    Ok(page.into_inner())
}

fn audit_row(service: &'static str, record: v1::AuditRecord) -> AuditRow {
    let time = record.time.unwrap_or_default();
    AuditRow {
        service,
        time: show_time(Some(&time)),
        time_us: time.seconds * 1_000_000 + i64::from(time.nanos / 1000),
        outcome: v1::AuditOutcome::try_from(record.outcome)
            .map(|o| {
                o.as_str_name()
                    .trim_start_matches("AUDIT_OUTCOME_")
                    .to_owned()
            })
            .unwrap_or_default(),
        rpc: record.rpc,
        credential_id: record.credential_id,
        role: role_label(record.role),
        unit_id: record.unit_id,
        peer: record.peer,
        target: record.target,
        subject_unit_id: record.subject_unit_id,
        before: record.before,
        after: record.after,
        message: record.message,
        suppressed: record.suppressed,
    }
}

fn print_audit(rows: &[AuditRow], format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    println!(
        "{:<20}  {:<15}  {:<16}  {:<40}  {:<44}  detail",
        "time", "outcome", "role", "rpc", "target"
    );
    for row in rows {
        let detail = if row.outcome == "ACCEPTED" {
            &row.after
        } else {
            &row.message
        };
        let rpc = row.rpc.rsplit('/').next().unwrap_or_default();
        println!(
            "{:<20}  {:<15}  {:<16}  {:<40}  {:<44}  {}",
            row.time,
            row.outcome,
            row.role,
            format!("{}/{rpc}", row.service),
            row.target,
            detail
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i64, seconds: i64) -> v1::AuditRecord {
        v1::AuditRecord {
            id,
            time: Some(tasknet_proto::prost_types::Timestamp { seconds, nanos: 0 }),
            ..Default::default()
        }
    }

    fn page(records: Vec<v1::AuditRecord>, more: bool) -> v1::ListAuditRecordsResponse {
        let next_page_token = if more { "b1".to_owned() } else { String::new() };
        v1::ListAuditRecordsResponse {
            records,
            next_page_token,
        }
    }

    #[test]
    fn pages_merge_newest_first_and_say_where_the_next_begins() {
        let pages = vec![
            (
                "organisation",
                String::new(),
                page(vec![record(9, 90), record(8, 10)], false),
            ),
            (
                "task",
                String::new(),
                page(vec![record(5, 80), record(4, 70)], true),
            ),
            ("reporting", String::new(), page(vec![], false)),
        ];
        let (rows, next) = merge_newest_first(pages, 3);
        let times: Vec<i64> = rows.iter().map(|row| row.time_us / 1_000_000).collect();
        assert_eq!(times, [90, 80, 70]);
        // Organisation resumes before its record 9, task before 4, reporting is done.
        assert_eq!(next.as_deref(), Some("b9.b4.-"));
        let cursors = PageCursors::parse("b9.b4.-").unwrap();
        assert_eq!(cursors.0, [Some("b9".into()), Some("b4".into()), None]);
        // All shown and nothing more: no next page.
        let pages = vec![(
            "organisation",
            "b9".to_owned(),
            page(vec![record(8, 10)], false),
        )];
        assert_eq!(merge_newest_first(pages, 3).1, None);
        assert!(PageCursors::parse("b1.b2").is_err());
    }

    #[test]
    fn since_a_day_means_from_midnight_in_vietnam() {
        let day = parse_since("2025-07-01").unwrap();
        assert_eq!(day.to_rfc3339(), "2025-06-30T17:00:00+00:00");
        let instant = parse_since("2025-07-01T08:30:00+07:00").unwrap();
        assert_eq!(instant.to_rfc3339(), "2025-07-01T01:30:00+00:00");
        assert!(parse_since("1 July").is_err());
    }
}
