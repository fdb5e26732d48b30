//! `tasknet admin audit`: the audit logs of the three services, merged in
//! time order: accepted changes and refused attempts.

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
    /// At most this many records per service.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
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

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let channel = channel(&args.endpoint)?;
    let mut organisation = OrganisationServiceClient::new(channel.clone());
    let unit_id = match &args.unit {
        Some(unit) => unit_id_today(&mut organisation, unit).await?,
        None => String::new(),
    };
    let request = v1::ListAuditRecordsRequest {
        unit_id,
        since: args
            .since
            .as_deref()
            .map(parse_since)
            .transpose()?
            .map(timestamp_to_proto),
        outcome: 0,
        page_size: 1000,
        page_token: String::new(),
    };
    let mut rows = Vec::new();
    for service in ["organisation", "task", "reporting"] {
        let records = fetch_audit(&channel, service, &request, args.limit)
            .await
            .with_context(|| format!("ListAuditRecords of the {service} service failed"))?;
        rows.extend(records.into_iter().map(|record| audit_row(service, record)));
    }
    if args.rejected {
        rows.retain(|row| row.outcome != "ACCEPTED");
    }
    rows.sort_by_key(|row| row.time_us);
    print_audit(&rows, args.format)
}

/// One service's records, all pages up to `limit`.
async fn fetch_audit(
    channel: &TracedChannel,
    service: &str,
    request: &v1::ListAuditRecordsRequest,
    limit: usize,
) -> anyhow::Result<Vec<v1::AuditRecord>> {
    let mut records = Vec::new();
    let mut request = request.clone();
    while records.len() < limit {
        let page = match service {
            "organisation" => {
                OrganisationServiceClient::new(channel.clone())
                    .list_audit_records(request.clone())
                    .await
            }
            "task" => {
                TaskServiceClient::new(channel.clone())
                    .list_audit_records(request.clone())
                    .await
            }
            _ => {
                ReportingServiceClient::new(channel.clone())
                    .list_audit_records(request.clone())
                    .await
            }
        }?
        .into_inner();
        records.extend(page.records);
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    records.truncate(limit);
    Ok(records)
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

    #[test]
    fn since_a_day_means_from_midnight_in_vietnam() {
        let day = parse_since("2025-07-01").unwrap();
        assert_eq!(day.to_rfc3339(), "2025-06-30T17:00:00+00:00");
        let instant = parse_since("2025-07-01T08:30:00+07:00").unwrap();
        assert_eq!(instant.to_rfc3339(), "2025-07-01T01:30:00+00:00");
        assert!(parse_since("1 July").is_err());
    }
}
