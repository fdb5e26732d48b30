//! How every client command reaches a running system: the endpoint and the
//! credential it sends (`--token`, `TASKNET_TOKEN`, `--token-file`, else the
//! administrator token `tasknet up` wrote in its data directory), and the
//! channel built from them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use tasknet_auth::Token;
use tasknet_server::{ClientOptions, ClientTls, TracedChannel};

use tasknet_system::Config;
use tasknet_system::credentials::ADMIN_TOKEN_FILE;

use crate::endpoints::Service;

/// Where a client command finds the services.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// The server to query (`tasknet up` serves everything on one address;
    /// a split deployment's services have their own, below).
    #[arg(
        long,
        env = "TASKNET_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    pub endpoint: String,
    /// The credential to send (default: the administrator token that
    /// `tasknet up` wrote to tasknet-data/admin.token, if there is one).
    #[arg(long, env = "TASKNET_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the credential to send.
    #[arg(long, env = "TASKNET_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The CA certificate of an https:// endpoint.
    #[arg(long, env = "TASKNET_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Per-service addresses of a split deployment (each defaults to --endpoint).
    #[command(flatten)]
    pub services: crate::endpoints::ServiceEndpoints,
}

/// The default credential file: the administrator token of `tasknet up`'s
/// data directory (`TASKNET_DATA_DIR`, else `./tasknet-data`).
pub fn default_token_file() -> PathBuf {
    let dir = std::env::var_os("TASKNET_DATA_DIR")
        .map_or_else(|| PathBuf::from("tasknet-data"), PathBuf::from);
    dir.join(ADMIN_TOKEN_FILE)
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
    let tls = client_tls(args.ca_file.as_deref())?;
    Ok(ClientOptions { token, tls })
}

/// TLS trusting the CA certificate in `ca_file`, when one is given.
pub fn client_tls(ca_file: Option<&Path>) -> anyhow::Result<Option<ClientTls>> {
    ca_file
        .map(|path| {
            let ca_pem =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok(ClientTls {
                ca_pem: Some(ca_pem),
                ..ClientTls::default()
            })
        })
        .transpose()
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

/// A channel to `service` at `args`' endpoints with its credential.
pub fn channel(args: &EndpointArgs, service: Service) -> anyhow::Result<TracedChannel> {
    let endpoint = args.of(service);
    tasknet_server::connect_lazy_with(endpoint, &client_options(args)?)
        .with_context(|| format!("cannot connect to {endpoint}"))
}
