//! `tasknet admin …`: issue, list and revoke credentials, and read the
//! audit logs of the three services; and how every client command finds
//! its credential (`--token`, `TASKNET_TOKEN`, `--token-file`, else the
//! administrator token `tasknet up` wrote in its data directory).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use tasknet_auth::Token;
use tasknet_auth::principal::{Role, role_name};
use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::{ClientOptions, ClientTls, TracedChannel};

use crate::cli::{EndpointArgs, OutputFormat};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Credentials: issue, list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit log of every service: accepted changes and refused attempts.
    Audit(AuditArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a credential and print its token (shown only once).
    Create(TokenCreateArgs),
    /// List credentials.
    List(TokenListArgs),
    /// Revoke a credential (takes effect everywhere within seconds).
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    OfficeAgent,
    UnitStaff,
    UnitLeadership,
    DashboardReader,
    Administrator,
    Service,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::OfficeAgent => Role::OfficeAgent,
            RoleArg::UnitStaff => Role::UnitStaff,
            RoleArg::UnitLeadership => Role::UnitLeadership,
            RoleArg::DashboardReader => Role::DashboardReader,
            RoleArg::Administrator => Role::Administrator,
            RoleArg::Service => Role::Service,
        }
    }
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The unit (id, or its code today: `01` for Hà Nội); required for
    /// office agents, unit staff and unit leadership.
    #[arg(long)]
    pub unit: Option<String>,
    /// Who or what holds it.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Expire after this many days (default: never).
    #[arg(long)]
    pub expires_in_days: Option<u32>,
    /// Print a dashboard sign-in link instead of the bare token: for the
    /// server at --endpoint, or at the address given (`--link http://HOST:PORT`).
    #[arg(long, value_name = "DASHBOARD", num_args = 0..=1, default_missing_value = "")]
    pub link: Option<String>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    /// Only this unit's credentials (id or code).
    #[arg(long)]
    pub unit: Option<String>,
    /// Include revoked credentials.
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The credential id (as `token list` shows it).
    pub credential_id: String,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

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

pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Token(TokenCommand::Create(args)) => create(args).await,
        AdminCommand::Token(TokenCommand::List(args)) => list(args).await,
        AdminCommand::Token(TokenCommand::Revoke(args)) => revoke(args).await,
        AdminCommand::Audit(args) => audit(args).await,
    }
}

/// The default credential file: the administrator token of `tasknet up`'s
/// data directory (`TASKNET_DATA_DIR`, else `./tasknet-data`).
pub fn default_token_file() -> PathBuf {
    let dir = std::env::var_os("TASKNET_DATA_DIR")
        .map_or_else(|| PathBuf::from("tasknet-data"), PathBuf::from);
    dir.join(crate::auth_setup::ADMIN_TOKEN_FILE)
}

/// The credential and TLS settings a client command sends.
pub fn client_options(args: &EndpointArgs) -> anyhow::Result<ClientOptions> {
    let token = match (&args.token, &args.token_file) {
        (Some(token), _) => Some(Token::new(token.clone())),
        (None, Some(path)) => Some(read_token(path)?),
        (None, None) => {
            let path = default_token_file();
            path.is_file().then(|| read_token(&path)).transpose()?
        }
    };
    let tls = match &args.ca_file {
        Some(path) => Some(ClientTls {
            ca_pem: Some(
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
            ),
            ..ClientTls::default()
        }),
        None => None,
    };
    Ok(ClientOptions { token, tls })
}

/// Client options sending the token in `path` (for `tasknet up --demo`).
pub fn client_options_from_file(path: &Path, config: &Config) -> anyhow::Result<ClientOptions> {
    Ok(ClientOptions {
        token: Some(read_token(path)?),
        tls: config.client_tls()?,
    })
}

fn read_token(path: &Path) -> anyhow::Result<Token> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the credential in {}", path.display()))?;
    Ok(Token::new(text))
}

/// A channel to `args`' endpoint with its credential.
pub fn channel(args: &EndpointArgs) -> anyhow::Result<TracedChannel> {
    tasknet_server::connect_lazy_with(&args.endpoint, &client_options(args)?)
}

/// A unit id from an id or a code valid today.
async fn resolve_unit(
    client: &mut OrganisationServiceClient<TracedChannel>,
    unit: &str,
) -> anyhow::Result<String> {
    if let Ok(id) = uuid::Uuid::parse_str(unit) {
        return Ok(id.hyphenated().to_string());
    }
    let today = tasknet_domain::vietnam_date(chrono::Utc::now());
    let units = client
        .list_units(v1::ListUnitsRequest {
            code: unit.to_owned(),
            as_of: Some(date_to_proto(today)),
            ..Default::default()
        })
        .await
        .context("ListUnits failed")?
        .into_inner()
        .units;
    match units.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => anyhow::bail!("no unit has the code {unit:?} today"),
        _ => anyhow::bail!("several units have the code {unit:?} today; give the unit id"),
    }
}

async fn create(args: TokenCreateArgs) -> anyhow::Result<()> {
    let mut client = OrganisationServiceClient::new(channel(&args.endpoint)?);
    let unit_id = match &args.unit {
        Some(unit) => resolve_unit(&mut client, unit).await?,
        None => String::new(),
    };
    let expire_time = args.expires_in_days.map(|days| {
        timestamp_to_proto(chrono::Utc::now() + chrono::TimeDelta::days(i64::from(days)))
    });
    let response = client
        .issue_credential(v1::IssueCredentialRequest {
            unit_id,
            role: args.role.role() as i32,
            label: args.label,
            expire_time,
        })
        .await
        .context("IssueCredential failed")?
        .into_inner();
    let credential = response.credential.unwrap_or_default();
    eprintln!(
        "issued credential {} ({}{}); the token is shown only now:",
        credential.id,
        role_label(credential.role),
        unit_suffix(&credential.unit_id)
    );
    match &args.link {
        Some(base) => {
            let base = if base.is_empty() {
                args.endpoint.endpoint.as_str()
            } else {
                base.as_str()
            };
            println!(
                "{}",
                crate::dashboard_link::sign_in_link(base, &response.token)
            );
        }
        None => println!("{}", response.token),
    }
    Ok(())
}

fn role_label(role: i32) -> &'static str {
    Role::try_from(role).map_or("unknown role", role_name)
}

fn unit_suffix(unit_id: &str) -> String {
    if unit_id.is_empty() {
        String::new()
    } else {
        format!(" of unit {unit_id}")
    }
}

#[derive(Serialize)]
struct CredentialRow {
    id: String,
    role: &'static str,
    unit_id: String,
    label: String,
    created: String,
    expires: String,
    revoked: String,
}

async fn list(args: TokenListArgs) -> anyhow::Result<()> {
    let mut client = OrganisationServiceClient::new(channel(&args.endpoint)?);
    let unit_id = match &args.unit {
        Some(unit) => resolve_unit(&mut client, unit).await?,
        None => String::new(),
    };
    let mut rows = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_credentials(v1::ListCredentialsRequest {
                unit_id: unit_id.clone(),
                include_revoked: args.all,
                page_size: 1000,
                page_token,
            })
            .await
            .context("ListCredentials failed")?
            .into_inner();
        rows.extend(page.credentials.iter().map(|c| CredentialRow {
            id: c.id.clone(),
            role: role_label(c.role),
            unit_id: c.unit_id.clone(),
            label: c.label.clone(),
            created: show_time(c.create_time.as_ref()),
            expires: show_time(c.expire_time.as_ref()),
            revoked: show_time(c.revoke_time.as_ref()),
        }));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<36}  {:<16}  {:<36}  {:<20}  {:<20}  label",
        "id", "role", "unit", "expires", "revoked"
    );
    for row in rows {
        println!(
            "{:<36}  {:<16}  {:<36}  {:<20}  {:<20}  {}",
            row.id, row.role, row.unit_id, row.expires, row.revoked, row.label
        );
    }
    Ok(())
}

async fn revoke(args: TokenRevokeArgs) -> anyhow::Result<()> {
    let mut client = OrganisationServiceClient::new(channel(&args.endpoint)?);
    let credential = client
        .revoke_credential(v1::RevokeCredentialRequest {
            credential_id: args.credential_id,
        })
        .await
        .context("RevokeCredential failed")?
        .into_inner()
        .credential
        .unwrap_or_default();
    println!(
        "revoked credential {} ({}{}) at {}",
        credential.id,
        role_label(credential.role),
        unit_suffix(&credential.unit_id),
        show_time(credential.revoke_time.as_ref())
    );
    Ok(())
}

fn show_time(time: Option<&tasknet_proto::prost_types::Timestamp>) -> String {
    time.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// `--since` as an instant: a day starts at midnight in Vietnam.
fn parse_since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(instant.to_utc());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("--since {text:?} is neither YYYY-MM-DD nor RFC 3339"))?;
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default() - chrono::TimeDelta::hours(7);
    Ok(midnight.and_utc())
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

async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let channel = channel(&args.endpoint)?;
    let mut organisation = OrganisationServiceClient::new(channel.clone());
    let unit_id = match &args.unit {
        Some(unit) => resolve_unit(&mut organisation, unit).await?,
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
