//! `tasknet admin bootstrap`: creates a split deployment's first
//! administrator and service credentials, once per database, before the
//! services start (or from a one-shot container beside them).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tasknet_organisation::{Bootstrapped, OrganisationApp, OrganisationSettings};
use tasknet_server::Shutdown;

use tasknet_system::{Config, Overrides};

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The organisation service's database (postgres://… or sqlite://PATH),
    /// as the services are given it.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Where to write `admin.token` and `service.token` (mode 0600); the
    /// files must not exist yet.
    #[arg(long)]
    pub out: PathBuf,
    /// Succeed without writing anything when the database already has its
    /// credentials (for a one-shot container that runs at every start).
    #[arg(long)]
    pub exists_ok: bool,
    /// A TOML configuration file.
    #[arg(long, env = "TASKNET_CONFIG")]
    pub config: Option<PathBuf>,
}

pub async fn run(args: BootstrapArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        database_url: args.database_url,
        ..Overrides::default()
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    anyhow::ensure!(
        config.database_url.is_some(),
        "--database-url (or TASKNET_DATABASE_URL) is required: the credentials go into the \
         database the organisation service uses"
    );
    let app = OrganisationApp::open(
        &OrganisationSettings {
            database_url: config.database_url_for("organisation"),
            database: config.database_options("organisation"),
        },
        Shutdown::new(),
    )
    .await
    .context("failed to open the organisation database")?;
    let outcome = app.bootstrap(&args.out).await;
    app.closed().await;
    match outcome? {
        Bootstrapped::Created { admin, service } => {
            println!("administrator token: {}", admin.display());
            println!("service token:       {}", service.display());
            println!(
                "Store them as secrets now (see docs/operations.md): they are shown only here."
            );
            Ok(())
        }
        Bootstrapped::AlreadyDone if args.exists_ok => {
            println!("the database already has its bootstrap credentials; nothing written");
            Ok(())
        }
        Bootstrapped::AlreadyDone => anyhow::bail!(
            "the database already has an administrator credential: bootstrap runs once \
             (issue further credentials with `tasknet admin token create`)"
        ),
    }
}
