//! `tasknet admin …`: issue, list and revoke credentials; the audit log
//! (`admin audit`) is in [`crate::audit_cli`].

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use tasknet_auth::principal::Role;
use tasknet_domain::timestamp_to_proto;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;

use crate::connect::{EndpointArgs, channel};
use crate::endpoints::Service;
use crate::output::{OutputFormat, role_label, show_time};
use crate::units::unit_id_today;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Credentials: issue, list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit log of every service: accepted changes and refused attempts.
    Audit(crate::audit_cli::AuditArgs),
    /// Create the first administrator and service credentials of a split
    /// deployment, once per database.
    Bootstrap(crate::admin_bootstrap::BootstrapArgs),
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

pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Token(TokenCommand::Create(args)) => create(args).await,
        AdminCommand::Token(TokenCommand::List(args)) => list(args).await,
        AdminCommand::Token(TokenCommand::Revoke(args)) => revoke(args).await,
        AdminCommand::Audit(args) => crate::audit_cli::run(args).await,
        AdminCommand::Bootstrap(args) => crate::admin_bootstrap::run(args).await,
    }
}

async fn create(args: TokenCreateArgs) -> anyhow::Result<()> {
    let mut client =
        OrganisationServiceClient::new(channel(&args.endpoint, Service::Organisation)?);
    let unit_id = match &args.unit {
        Some(unit) => unit_id_today(&mut client, unit).await?,
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
    let mut client =
        OrganisationServiceClient::new(channel(&args.endpoint, Service::Organisation)?);
    let unit_id = match &args.unit {
        Some(unit) => unit_id_today(&mut client, unit).await?,
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
    let mut client =
        OrganisationServiceClient::new(channel(&args.endpoint, Service::Organisation)?);
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
