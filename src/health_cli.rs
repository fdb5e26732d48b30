//! `tasknet health`: asks a server's gRPC health service whether a service
//! can do its job, and exits 0 only if it is SERVING — the check container
//! runtimes run (the image has no grpcurl).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tasknet_server::ClientOptions;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The server to ask.
    #[arg(
        long,
        env = "TASKNET_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    pub endpoint: String,
    /// The service to ask about (e.g. tasknet.v1.TaskService); empty asks
    /// about the server as a whole (liveness).
    #[arg(long, default_value = "")]
    pub service: String,
    /// How long to wait for an answer, in seconds.
    #[arg(long, default_value_t = 5)]
    pub timeout_secs: u64,
    /// The CA certificate of an https:// endpoint.
    #[arg(long, env = "TASKNET_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

pub async fn run(args: HealthArgs) -> anyhow::Result<()> {
    let tls = crate::connect::client_tls(args.ca_file.as_deref())?;
    let channel =
        tasknet_server::connect_lazy_with(&args.endpoint, &ClientOptions { token: None, tls })?;
    let mut client = HealthClient::new(channel);
    let asked = client.check(HealthCheckRequest {
        service: args.service.clone(),
    });
    let answer = tokio::time::timeout(Duration::from_secs(args.timeout_secs), asked)
        .await
        .with_context(|| format!("{} did not answer in time", args.endpoint))?
        .with_context(|| format!("health check of {} failed", args.endpoint))?;
    let status =
        ServingStatus::try_from(answer.into_inner().status).unwrap_or(ServingStatus::Unknown);
    let name = if args.service.is_empty() {
        "the server"
    } else {
        args.service.as_str()
    };
    println!("{name}: {}", status.as_str_name());
    anyhow::ensure!(status == ServingStatus::Serving, "{name} is not serving");
    Ok(())
}
